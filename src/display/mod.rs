//! Notebook display: every result type renders itself in evcxr (HTML/SVG) and as text.
