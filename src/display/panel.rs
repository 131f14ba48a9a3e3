//! [`Panel`]: several display items composed into **one** notebook output (evcxr keeps only
//! one HTML output per cell, so this is how a cell shows a table *and* a chart).
//!
//! ```
//! use gpt2lab::display::{Chart, Panel, Table};
//! let p = Panel::new()
//!     .title("Run 3")
//!     .text("Loss **falls** fast; see `train`.")
//!     .add(Chart::lines("loss").series_y("train", &[3.0, 2.0, 1.5]))
//!     .add(Table::per_layer("norm", &[1.0, 1.2]))
//!     .grid(2);
//! let html = gpt2lab::display::ToHtml::to_html(&p);
//! assert!(html.find("<svg").unwrap() < html.find("<table").unwrap());
//! ```

use std::fmt;

use super::{escape_html, ToHtml};

/// How a [`Panel`] arranges its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PanelLayout {
    /// One item under another (default).
    Column,
    /// A grid with this many columns; headings and text span the full width.
    Grid(usize),
    /// Side by side, wrapping when the page is too narrow.
    Row,
}

enum Item {
    Heading(String, u8),
    Text(String),
    Part(Box<dyn ToHtml>),
}

/// An ordered list of headings, text and display items rendered as one HTML fragment.
pub struct Panel {
    title: Option<String>,
    items: Vec<Item>,
    layout: PanelLayout,
}

super::debug_as_display!(Panel);

impl Default for Panel {
    fn default() -> Self {
        Panel::new()
    }
}

impl Panel {
    pub fn new() -> Panel {
        Panel { title: None, items: Vec::new(), layout: PanelLayout::Column }
    }

    /// A title shown above everything (spans the full width in a grid).
    pub fn title(mut self, title: &str) -> Panel {
        self.title = Some(title.to_string());
        self
    }

    /// A section heading (level 3).
    pub fn heading(mut self, text: &str) -> Panel {
        self.items.push(Item::Heading(text.to_string(), 3));
        self
    }

    /// Markdown-ish text: blank-line separated paragraphs, `# ` / `## ` headings, `- ` bullets,
    /// `**bold**`, `*italic*` and `` `code` ``. Everything else is escaped.
    pub fn text(mut self, text: &str) -> Panel {
        self.items.push(Item::Text(text.to_string()));
        self
    }

    /// Any display item: [`Table`](super::Table), [`Chart`](super::Chart),
    /// [`AttentionView`](super::AttentionView), [`TokenView`](super::TokenView),
    /// [`Html`](super::Html), [`Svg`](super::Svg), or a nested `Panel`.
    #[allow(clippy::should_implement_trait)]
    pub fn add(mut self, item: impl ToHtml + 'static) -> Panel {
        self.items.push(Item::Part(Box::new(item)));
        self
    }

    /// Adds an item in place (for loops).
    pub fn push(&mut self, item: impl ToHtml + 'static) -> &mut Panel {
        self.items.push(Item::Part(Box::new(item)));
        self
    }

    /// Adds a heading in place.
    pub fn push_heading(&mut self, text: &str) -> &mut Panel {
        self.items.push(Item::Heading(text.to_string(), 3));
        self
    }

    /// Adds text in place.
    pub fn push_text(&mut self, text: &str) -> &mut Panel {
        self.items.push(Item::Text(text.to_string()));
        self
    }

    pub fn layout(mut self, layout: PanelLayout) -> Panel {
        self.layout = layout;
        self
    }

    /// Shorthand for `layout(PanelLayout::Grid(columns))`.
    pub fn grid(self, columns: usize) -> Panel {
        self.layout(PanelLayout::Grid(columns.max(1)))
    }

    /// Shorthand for `layout(PanelLayout::Row)`.
    pub fn row(self) -> Panel {
        self.layout(PanelLayout::Row)
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// evcxr hook: renders the whole panel as one output when this is a cell's value.
    pub fn evcxr_display(&self) {
        super::show(self);
    }
}

impl ToHtml for Panel {
    fn to_html(&self) -> String {
        let container = match self.layout {
            PanelLayout::Column => "display:flex;flex-direction:column;align-items:flex-start;gap:10px".to_string(),
            PanelLayout::Row => "display:flex;flex-wrap:wrap;align-items:flex-start;gap:14px".to_string(),
            PanelLayout::Grid(n) => format!("display:grid;grid-template-columns:repeat({n},minmax(0,1fr));align-items:start;gap:12px 18px"),
        };
        let full = if matches!(self.layout, PanelLayout::Grid(_)) { "grid-column:1/-1;" } else { "" };
        let full_row = if matches!(self.layout, PanelLayout::Row) { "flex-basis:100%;" } else { "" };
        let mut h = format!("<div class=\"g2l-panel\" style=\"font-family:sans-serif;{container}\">");
        if let Some(t) = &self.title {
            h.push_str(&format!(
                "<div style=\"{full}{full_row}font-size:18px;font-weight:700;border-bottom:1px solid #ccc;padding-bottom:3px;width:100%\">{}</div>",
                escape_html(t)
            ));
        }
        for item in &self.items {
            match item {
                Item::Heading(t, level) => h.push_str(&format!(
                    "<h{level} style=\"{full}{full_row}margin:6px 0 0 0\">{}</h{level}>",
                    escape_html(t)
                )),
                Item::Text(t) => {
                    h.push_str(&format!("<div style=\"{full}{full_row}max-width:900px;line-height:1.45\">{}</div>", markdown(t)))
                }
                Item::Part(p) => h.push_str(&format!("<div style=\"min-width:0;max-width:100%;overflow-x:auto\">{}</div>", p.to_html())),
            }
        }
        h.push_str("</div>");
        h
    }
}

impl fmt::Display for Panel {
    /// Each part's plain text, separated by blank lines.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        if let Some(t) = &self.title {
            parts.push(format!("{t}\n{}", "═".repeat(t.chars().count())));
        }
        for item in &self.items {
            parts.push(match item {
                Item::Heading(t, _) => format!("{t}\n{}", "─".repeat(t.chars().count())),
                Item::Text(t) => t.clone(),
                Item::Part(p) => p.to_string(),
            });
        }
        write!(f, "{}", parts.join("\n\n"))
    }
}

/// A tiny markdown subset to HTML (escaping everything first).
fn markdown(src: &str) -> String {
    let mut out = String::new();
    let mut para: Vec<String> = Vec::new();
    let mut list: Vec<String> = Vec::new();
    let flush_para = |para: &mut Vec<String>, out: &mut String| {
        if !para.is_empty() {
            out.push_str(&format!("<p style=\"margin:4px 0\">{}</p>", para.join(" ")));
            para.clear();
        }
    };
    let flush_list = |list: &mut Vec<String>, out: &mut String| {
        if !list.is_empty() {
            out.push_str("<ul style=\"margin:4px 0;padding-left:22px\">");
            for li in list.drain(..) {
                out.push_str(&format!("<li>{li}</li>"));
            }
            out.push_str("</ul>");
        }
    };
    for line in src.lines() {
        let t = line.trim();
        if t.is_empty() {
            flush_para(&mut para, &mut out);
            flush_list(&mut list, &mut out);
        } else if let Some((level, rest)) = heading(t) {
            flush_para(&mut para, &mut out);
            flush_list(&mut list, &mut out);
            out.push_str(&format!("<h{level} style=\"margin:6px 0 2px\">{}</h{level}>", inline(rest)));
        } else if let Some(rest) = t.strip_prefix("- ").or_else(|| t.strip_prefix("* ")) {
            flush_para(&mut para, &mut out);
            list.push(inline(rest));
        } else {
            flush_list(&mut list, &mut out);
            para.push(inline(t));
        }
    }
    flush_para(&mut para, &mut out);
    flush_list(&mut list, &mut out);
    out
}

fn heading(line: &str) -> Option<(usize, &str)> {
    let hashes = line.chars().take_while(|&c| c == '#').count();
    if (1..=4).contains(&hashes) && line[hashes..].starts_with(' ') {
        Some((hashes + 1, line[hashes..].trim())) // "# " is h2: the panel title is the top level
    } else {
        None
    }
}

/// `**bold**`, `*italic*`, `` `code` `` on escaped text.
fn inline(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('`') {
            if let Some(end) = r.find('`') {
                out.push_str(&format!(
                    "<code style=\"background:#f0f0f0;padding:0 3px;border-radius:3px\">{}</code>",
                    escape_html(&r[..end])
                ));
                rest = &r[end + 1..];
                continue;
            }
        }
        if let Some(r) = rest.strip_prefix("**") {
            if let Some(end) = r.find("**") {
                out.push_str(&format!("<b>{}</b>", inline(&r[..end])));
                rest = &r[end + 2..];
                continue;
            }
        }
        if let Some(r) = rest.strip_prefix('*') {
            if let Some(end) = r.find('*').filter(|&e| e > 0) {
                out.push_str(&format!("<i>{}</i>", inline(&r[..end])));
                rest = &r[end + 1..];
                continue;
            }
        }
        let c = rest.chars().next().unwrap_or_default();
        out.push_str(&escape_html(&c.to_string()));
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_subset() {
        let h = markdown("# Title\nsome **bold** and `a<b` text\n\n- one\n- *two*");
        assert_eq!(
            h,
            "<h2 style=\"margin:6px 0 2px\">Title</h2><p style=\"margin:4px 0\">some <b>bold</b> and \
             <code style=\"background:#f0f0f0;padding:0 3px;border-radius:3px\">a&lt;b</code> text</p>\
             <ul style=\"margin:4px 0;padding-left:22px\"><li>one</li><li><i>two</i></li></ul>"
        );
        assert_eq!(inline("2 * 3 <4>"), "2 * 3 &lt;4&gt;");
    }
}
