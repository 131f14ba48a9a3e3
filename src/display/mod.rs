//! Notebook display: every result type renders itself in evcxr (HTML/SVG) and as text.
//!
//! | type | what it shows |
//! |---|---|
//! | [`Table`] | a polars `DataFrame` (or rows, top-k, per-layer values) as an HTML table |
//! | [`Chart`] | line / scatter / bar (with error bars) charts and heatmaps, as inline SVG |
//! | [`AttentionView`] | an attention pattern `[heads, q, k]` with a head selector and hover text |
//! | [`TokenView`] | tokens coloured by a value per token |
//! | [`Panel`] | several of the above (and headings, text) composed into **one** output |
//! | [`Html`], [`Svg`] | raw markup |
//! | [`Progress`] | a progress line for long loops (terminal and notebook aware) |
//!
//! Every type implements [`std::fmt::Display`] as plain text for a terminal, [`ToHtml`] for
//! composition, and has an inherent `evcxr_display(&self)` so that it renders as rich output
//! when it is the value of a notebook cell. Everything is offline: inline CSS, inline SVG, no
//! JavaScript at all (the attention head selector is pure CSS), no CDN.
//!
//! # How evcxr shows a value (checked against evcxr_jupyter 0.22 and its source)
//!
//! evcxr rewrites a cell's **last expression** `e` into `(e).evcxr_display();`. If that does
//! not compile, for *any* reason, it falls back to sending `format!("{:?}", &(e))` as
//! `text/plain` (or reports a compile error). Measured consequences:
//!
//! 1. `evcxr_display` is found by method syntax, so it is an **inherent**
//!    `pub fn evcxr_display(&self)` on each concrete type here: a trait method only works when
//!    the trait is in the cell's scope.
//! 2. **Do not move a variable from an earlier cell in the last expression.** rustc's
//!    "use of moved value" error points at the last line too, so evcxr switches that line to
//!    its `Debug` fallback (`T(df)` showed plain text) or fails (`f(df)` with `f` taking the
//!    value: compile error). Borrow instead (`Table::new(&df)`: all constructors here take
//!    references), or bind first: `let t = Table::new(df); t` renders.
//! 3. **The first `?` of a session, on the last line, shows plain text**: evcxr turns on
//!    `?` support by reacting to the compile error, and the same reaction picks the fallback.
//!    Later cells render (`Table::from_rows(..)?` is fine once `?` has been used), and
//!    `let t = Table::from_rows(..)?; t` always renders. A bare `Result` never renders: end
//!    with `?`.
//! 4. evcxr keeps **one output per MIME type per cell**: a second HTML output in the same
//!    cell replaced the first. To show several results, compose them with [`Panel`].
//! 5. The payload is framed as `EVCXR_BEGIN_CONTENT <mime>` … `EVCXR_END_CONTENT` lines on
//!    stdout; [`write_mime_bundle`] writes it. Each type sends `text/plain` and `text/html`
//!    (both reach the front end, which shows the HTML). As a safety net for rules 2 and 3,
//!    every type's `Debug` prints its plain-text form.
//! 6. stderr reaches the notebook line by line (a partial line waits for its `\n`), which
//!    is why [`Progress`] prints whole lines under evcxr (`EVCXR_IS_RUNTIME=1` is set there).
//!
//! ```
//! use gpt2lab::display::{Panel, Table, TokenView};
//! let toks = vec!["Hello".to_string(), " world".to_string()];
//! let panel = Panel::new()
//!     .heading("Next-token prediction")
//!     .add(Table::top_k(&toks, &[0.7, 0.2])?)
//!     .add(TokenView::new(&toks, &[0.1, -0.4])?);
//! assert!(panel.to_string().contains("world"));
//! // in a notebook, `panel` as the cell's last line renders both parts as one output
//! # Ok::<(), gpt2lab::Error>(())
//! ```

use std::io::{self, Write};

mod attention;
mod chart;
mod color;
mod panel;
mod progress;
mod table;
mod tokens;

pub use attention::AttentionView;
pub use chart::Chart;
pub use color::{palette_css, ColorScale, PALETTE};
pub use panel::{PanelLayout, Panel};
pub use progress::{Progress, ProgressIter, ProgressMode};
pub use table::{Col, Table};
pub use tokens::TokenView;

/// Anything that renders as an HTML fragment (and as plain text through `Display`), so that
/// [`Panel`] can compose it.
pub trait ToHtml: std::fmt::Display {
    /// A self-contained HTML fragment (inline styles, no external resources).
    fn to_html(&self) -> String;

    /// A complete standalone HTML page around [`ToHtml::to_html`].
    fn to_page(&self) -> String {
        page(&self.to_html())
    }

    /// Writes [`ToHtml::to_page`] to `path`, for viewing outside a notebook.
    fn save_html(&self, path: impl AsRef<std::path::Path>) -> crate::Result<()>
    where
        Self: Sized,
    {
        let path = path.as_ref();
        std::fs::write(path, self.to_page()).map_err(|e| crate::Error::io(path, e))
    }
}

impl<T: ToHtml + ?Sized> ToHtml for Box<T> {
    fn to_html(&self) -> String {
        (**self).to_html()
    }
}

/// Wraps an HTML fragment into a standalone page.
pub fn page(body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>gpt2lab</title></head>\n\
         <body style=\"font-family:sans-serif;margin:16px;background:#fff;color:#111\">\n{body}\n</body></html>\n"
    )
}

const END: &str = "EVCXR_END_CONTENT";
const PANIC: &str = "EVCXR_PANIC_NOTIFICATION";

/// Writes one evcxr rich-output message per `(mime, content)` pair:
///
/// ```text
/// EVCXR_BEGIN_CONTENT text/html
/// <div>…</div>
/// EVCXR_END_CONTENT
/// ```
///
/// evcxr reads the content line by line until a line equal to `EVCXR_END_CONTENT`, so a
/// content line that would equal one of its control lines gets a trailing space. Pass several
/// pairs to send alternatives (e.g. `text/html` and `text/plain`); evcxr keeps the last one
/// per MIME type.
///
/// ```
/// let mut out = Vec::new();
/// gpt2lab::display::write_mime_bundle(&mut out, &[("text/plain", "hi")]).unwrap();
/// assert_eq!(String::from_utf8(out).unwrap(), "EVCXR_BEGIN_CONTENT text/plain\nhi\nEVCXR_END_CONTENT\n");
/// ```
pub fn write_mime_bundle(w: &mut impl Write, items: &[(&str, &str)]) -> io::Result<()> {
    for (mime, content) in items {
        writeln!(w, "EVCXR_BEGIN_CONTENT {mime}")?;
        for line in content.trim_end_matches('\n').split('\n') {
            let line = line.trim_end_matches('\r');
            if line == END || line == PANIC {
                writeln!(w, "{line} ")?;
            } else {
                writeln!(w, "{line}")?;
            }
        }
        writeln!(w, "{END}")?;
    }
    w.flush()
}

/// Writes `item` as an evcxr bundle: its plain text (`text/plain`) and its HTML (`text/html`).
/// Front ends show the richest type they support.
pub fn write_display(w: &mut impl Write, item: &(impl ToHtml + ?Sized)) -> io::Result<()> {
    write_mime_bundle(w, &[("text/plain", &item.to_string()), ("text/html", &item.to_html())])
}

/// Sends `item` to the notebook via stdout ([`write_display`]). This is what every type's
/// `evcxr_display` calls; call it yourself to show something before a cell ends (but only
/// the last HTML output of a cell is kept).
pub fn show(item: &(impl ToHtml + ?Sized)) {
    let stdout = io::stdout();
    let mut lock = stdout.lock();
    // A closed stdout has nowhere to report to; ignore.
    let _ = write_display(&mut lock, item);
}

/// Escapes `&`, `<`, `>`, `"` and `'` for HTML text and attribute values.
///
/// ```
/// assert_eq!(gpt2lab::display::escape_html(r#"<a href="x">&</a>"#),
///            "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;");
/// ```
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A token made readable: spaces become `·`, newlines `↵`, tabs `→`, carriage returns `␍`,
/// other control characters `\u{..}`; the empty token is `∅`. (Not escaped for HTML.)
///
/// ```
/// assert_eq!(gpt2lab::display::visible_token(" the\n"), "·the↵");
/// ```
pub fn visible_token(s: &str) -> String {
    if s.is_empty() {
        return "∅".to_string();
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            ' ' => out.push('·'),
            '\n' => out.push('↵'),
            '\t' => out.push('→'),
            '\r' => out.push('␍'),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Formats a float with at most `sig` significant digits: fixed notation for magnitudes in
/// `[1e-4, 1e6)`, scientific otherwise; trailing zeros are dropped (an integral value keeps
/// one decimal, so floats still read as floats).
///
/// ```
/// use gpt2lab::display::format_float;
/// assert_eq!(format_float(0.123456, 4), "0.1235");
/// assert_eq!(format_float(0.0871, 4), "0.0871");
/// assert_eq!(format_float(1234.5678, 4), "1235");
/// assert_eq!(format_float(12.0, 4), "12.0");
/// assert_eq!(format_float(2.5e-7, 3), "2.5e-7");
/// assert_eq!(format_float(0.0, 4), "0");
/// ```
pub fn format_float(x: f64, sig: usize) -> String {
    let sig = sig.max(1);
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return "0".into();
    }
    let mag = x.abs().log10().floor() as i32;
    if (-4..6).contains(&mag) {
        let decimals = (sig as i32 - 1 - mag).max(0) as usize;
        let s = format!("{x:.decimals$}");
        // rounding may have produced e.g. "-0.000"
        if s.trim_start_matches('-').chars().all(|c| c == '0' || c == '.') {
            return "0".into();
        }
        if s.contains('.') {
            let t = s.trim_end_matches('0');
            return if t.ends_with('.') { format!("{t}0") } else { t.to_string() };
        }
        s
    } else {
        let s = format!("{:.*e}", sig - 1, x);
        match s.split_once('e') {
            Some((m, e)) if m.contains('.') => format!("{}e{e}", m.trim_end_matches('0').trim_end_matches('.')),
            _ => s,
        }
    }
}

/// Raw HTML, displayed as is.
///
/// ```
/// use gpt2lab::display::{Html, ToHtml};
/// let h = Html::new("<b>bold</b>");
/// assert_eq!(h.to_html(), "<b>bold</b>");
/// assert_eq!(h.to_string(), "bold");           // plain text drops the tags
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Html(pub String);

impl Html {
    pub fn new(html: impl Into<String>) -> Self {
        Html(html.into())
    }

    /// evcxr hook: renders the HTML when this is a cell's value.
    pub fn evcxr_display(&self) {
        show(self);
    }
}

impl ToHtml for Html {
    fn to_html(&self) -> String {
        self.0.clone()
    }
}

impl std::fmt::Display for Html {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&strip_tags(&self.0))
    }
}

impl std::fmt::Debug for Html {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// An SVG document or fragment, displayed inline.
///
/// ```
/// use gpt2lab::display::{Svg, ToHtml};
/// let s = Svg::new(r#"<?xml version="1.0"?><svg width="10" height="10"></svg>"#);
/// assert!(s.to_html().starts_with("<svg"));   // the XML prolog is dropped for inlining
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Svg(pub String);

impl Svg {
    pub fn new(svg: impl Into<String>) -> Self {
        Svg(svg.into())
    }

    /// evcxr hook: renders the SVG when this is a cell's value.
    pub fn evcxr_display(&self) {
        show(self);
    }
}

impl ToHtml for Svg {
    fn to_html(&self) -> String {
        let s = self.0.trim_start();
        let s = if s.starts_with("<?xml") { s.find("?>").map_or(s, |i| s[i + 2..].trim_start()) } else { s };
        s.to_string()
    }
}

impl std::fmt::Display for Svg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<svg: {} bytes>", self.0.len())
    }
}

impl std::fmt::Debug for Svg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// Crude tag stripper for the plain-text form of raw HTML.
fn strip_tags(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}

/// A short id unique within this process and unlikely to collide across kernel restarts
/// (outputs of several sessions can share one notebook page).
pub(crate) fn unique_id(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let salt = (std::process::id() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ t as u64;
    format!("{prefix}{:x}{n:x}", salt & 0xffff_ffff)
}

/// Shared by the `Debug` impls: print the plain-text form.
macro_rules! debug_as_display {
    ($($t:ty),*) => {$(
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(self, f)
            }
        }
    )*};
}
pub(crate) use debug_as_display;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_lines_are_defused() {
        let mut out = Vec::new();
        write_mime_bundle(&mut out, &[("text/plain", "a\nEVCXR_END_CONTENT\nb\n")]).unwrap();
        let s = String::from_utf8(out).unwrap();
        assert_eq!(s, "EVCXR_BEGIN_CONTENT text/plain\na\nEVCXR_END_CONTENT \nb\nEVCXR_END_CONTENT\n");
    }

    #[test]
    fn float_formatting() {
        assert_eq!(format_float(-0.00001, 3), "-1e-5");
        assert_eq!(format_float(12.0, 4), "12.0");
        assert_eq!(format_float(1.5, 4), "1.5");
        assert_eq!(format_float(-2.0e7, 4), "-2e7");
        assert_eq!(format_float(f64::NAN, 4), "NaN");
        assert_eq!(format_float(-0.00004, 1), "-4e-5");
        assert_eq!(format_float(3e6, 2), "3e6");
        assert_eq!(format_float(3.25e6, 3), "3.25e6");
    }

    #[test]
    fn strip() {
        assert_eq!(strip_tags("<p>a &lt; b</p>"), "a < b");
    }
}
