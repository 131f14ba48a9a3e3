//! [`AttentionView`]: an attention pattern `[heads, q, k]` as heatmaps with token labels,
//! hover text per cell (`q_token → k_token: value`) and a head selector — pure HTML + CSS
//! (radio buttons), no JavaScript, no CDN, so it works offline and in untrusted outputs.
//!
//! ```
//! use candle_core::{Device, Tensor};
//! use gpt2lab::display::AttentionView;
//! let tokens: Vec<String> = ["The", " cat", " sat"].iter().map(|s| s.to_string()).collect();
//! // two heads, causal: row q attends to keys 0..=q
//! let p = Tensor::new(&[[[1f32, 0., 0.], [0.5, 0.5, 0.], [0.2, 0.3, 0.5]],
//!                       [[1f32, 0., 0.], [0.9, 0.1, 0.], [0.8, 0.1, 0.1]]], &Device::Cpu)?;
//! let view = AttentionView::new(&p, &tokens)?.title("Layer 0");
//! assert!(view.to_string().contains("2 heads"));
//! assert!(AttentionView::new(&p, &tokens[..2]).is_err());   // 3 keys but 2 tokens
//! # Ok::<(), gpt2lab::Error>(())
//! ```

use std::fmt;

use candle_core::{DType, Tensor};

use super::color::Norm;
use super::{chart::color_bar, escape_html, format_float, visible_token, ColorScale, ToHtml};
use crate::{Error, Result};

/// Most cells rendered (heads × q × k) before [`AttentionView::new`] refuses: beyond this the
/// HTML gets too large for a notebook. Slice the tensor to fewer heads or tokens.
pub const MAX_CELLS: usize = 1_500_000;

#[derive(Clone)]
pub struct AttentionView {
    /// `[head][q][k]`
    pattern: Vec<Vec<Vec<f32>>>,
    q_tokens: Vec<String>,
    k_tokens: Vec<String>,
    head_labels: Vec<String>,
    title: String,
    grid: bool,
    vmax: Option<f32>,
}

super::debug_as_display!(AttentionView);

impl AttentionView {
    /// From a tensor of shape `[heads, q, k]`, `[q, k]` or `[1, heads, q, k]` and the `k`
    /// tokens attended to. When `q < k` (e.g. the last positions of a longer context), the
    /// queries are the last `q` tokens. Errors on any other shape.
    pub fn new(pattern: &Tensor, tokens: &[impl AsRef<str>]) -> Result<AttentionView> {
        let dims = pattern.dims().to_vec();
        let p = match dims.as_slice() {
            [_, _] => pattern.unsqueeze(0)?,
            [_, _, _] => pattern.clone(),
            [1, _, _, _] => pattern.squeeze(0)?,
            _ => {
                return Err(Error::Shape(format!(
                    "attention pattern must be [heads, q, k], [q, k] or [1, heads, q, k]; got {dims:?}"
                )))
            }
        };
        let (h, q, k) = p.dims3()?;
        let cells = h * q * k;
        if cells > MAX_CELLS {
            return Err(Error::Shape(format!(
                "attention pattern {dims:?} has {cells} cells, more than the {MAX_CELLS} this view renders; \
                 slice to fewer heads or tokens"
            )));
        }
        let v = p.to_dtype(DType::F32)?.to_vec3::<f32>()?;
        Self::from_vecs(v, tokens)
    }

    /// From nested vectors `[head][q][k]` (all heads the same shape).
    pub fn from_vecs(pattern: Vec<Vec<Vec<f32>>>, tokens: &[impl AsRef<str>]) -> Result<AttentionView> {
        let h = pattern.len();
        let q = pattern.first().map_or(0, |m| m.len());
        let k = pattern.first().and_then(|m| m.first()).map_or(0, |r| r.len());
        if h == 0 || q == 0 || k == 0 {
            return Err(Error::EmptyInput("attention pattern has no cells".into()));
        }
        if pattern.iter().any(|m| m.len() != q || m.iter().any(|r| r.len() != k)) {
            return Err(Error::Shape("attention pattern heads/rows differ in length".into()));
        }
        if tokens.len() != k {
            return Err(Error::Shape(format!("attention pattern has {k} keys but {} tokens were given", tokens.len())));
        }
        if q > k {
            return Err(Error::Shape(format!("attention pattern has {q} queries but only {k} keys")));
        }
        let k_tokens: Vec<String> = tokens.iter().map(|t| t.as_ref().to_string()).collect();
        let q_tokens = k_tokens[k - q..].to_vec();
        Ok(AttentionView {
            pattern,
            q_tokens,
            k_tokens,
            head_labels: (0..h).map(|i| format!("H{i}")).collect(),
            title: String::new(),
            grid: false,
            vmax: None,
        })
    }

    pub fn title(mut self, title: &str) -> AttentionView {
        self.title = title.to_string();
        self
    }

    /// Names for the heads (default `H0`, `H1`, …); ignored if the count differs.
    pub fn head_labels(mut self, labels: &[impl AsRef<str>]) -> AttentionView {
        if labels.len() == self.pattern.len() {
            self.head_labels = labels.iter().map(|l| l.as_ref().to_string()).collect();
        }
        self
    }

    /// Show all heads side by side as small multiples instead of one head with a selector.
    pub fn small_multiples(mut self) -> AttentionView {
        self.grid = true;
        self
    }

    /// The value drawn darkest (default 1.0 for probabilities; the data's maximum if larger).
    pub fn max_value(mut self, vmax: f32) -> AttentionView {
        self.vmax = Some(vmax);
        self
    }

    pub fn n_heads(&self) -> usize {
        self.pattern.len()
    }

    /// evcxr hook: renders the view when this is a cell's value.
    pub fn evcxr_display(&self) {
        super::show(self);
    }

    fn scale_norm(&self) -> (ColorScale, Norm) {
        let all = || self.pattern.iter().flatten().flatten();
        if all().any(|&v| v < 0.0) {
            let n = Norm::fit(all(), ColorScale::RdBu);
            return (ColorScale::RdBu, self.vmax.map_or(n, |m| Norm { lo: -m.abs(), hi: m.abs() }));
        }
        let max = all().copied().filter(|v| v.is_finite()).fold(0.0f32, f32::max);
        let hi = self.vmax.unwrap_or(if max > 1.0 { max } else { 1.0 });
        (ColorScale::Blues, Norm { lo: 0.0, hi: if hi > 0.0 { hi } else { 1.0 } })
    }

    /// One head as an SVG heatmap: queries down, keys across.
    fn head_svg(&self, head: usize, cell: f64, labels: bool, scale: ColorScale, norm: Norm) -> String {
        let m = &self.pattern[head];
        let (q, k) = (m.len(), m[0].len());
        let vis = |t: &str| {
            let v = visible_token(t);
            if v.chars().count() > 16 {
                format!("{}…", v.chars().take(15).collect::<String>())
            } else {
                v
            }
        };
        let maxlen = |ts: &[String]| ts.iter().map(|t| vis(t).chars().count()).max().unwrap_or(1) as f64;
        let (left, bottom) =
            if labels { (maxlen(&self.q_tokens) * 6.6 + 10.0, maxlen(&self.k_tokens) * 6.6 + 10.0) } else { (2.0, 2.0) };
        let top = if labels { 4.0 } else { 16.0 };
        let right = if labels { 70.0 } else { 2.0 };
        let (gw, gh) = (cell * k as f64, cell * q as f64);
        let (w, h) = (left + gw + right, top + gh.max(if labels { 120.0 } else { 0.0 }) + bottom);
        let mut s = String::with_capacity(q * k * 110 + 2048);
        s.push_str(&format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.0} {h:.0}" style="max-width:100%;height:auto" font-family="sans-serif" font-size="11">"#
        ));
        // opaque background: labels stay readable under a dark notebook theme
        s.push_str(&format!(r##"<rect width="{w:.0}" height="{h:.0}" fill="#fff"/>"##));
        s.push_str(&format!(
            r##"<rect x="{left:.1}" y="{top:.1}" width="{gw:.1}" height="{gh:.1}" fill="#fff" stroke="#ccc" stroke-width="0.5"/>"##
        ));
        if !labels {
            s.push_str(&format!(
                r#"<text x="{:.1}" y="12" text-anchor="middle" font-size="12" font-weight="600">{}</text>"#,
                left + gw / 2.0,
                escape_html(&self.head_labels[head])
            ));
        }
        let offset = k - q;
        for (i, row) in m.iter().enumerate() {
            for (j, &v) in row.iter().enumerate() {
                if v == 0.0 {
                    continue; // masked (causal) or exactly zero: leave the white background
                }
                s.push_str(&format!(
                    r#"<rect x="{:.1}" y="{:.1}" width="{:.2}" height="{:.2}" fill="{}"><title>{} [{}] {} → [{}] {}: {}</title></rect>"#,
                    left + j as f64 * cell,
                    top + i as f64 * cell,
                    cell + 0.02,
                    cell + 0.02,
                    scale.css(norm.t(v)),
                    escape_html(&self.head_labels[head]),
                    i + offset,
                    escape_html(&visible_token(&self.q_tokens[i])),
                    j,
                    escape_html(&visible_token(&self.k_tokens[j])),
                    format_float(v as f64, 3)
                ));
            }
        }
        if labels {
            for (i, t) in self.q_tokens.iter().enumerate() {
                s.push_str(&format!(
                    r#"<text x="{:.1}" y="{:.1}" text-anchor="end" dominant-baseline="central" xml:space="preserve">{}</text>"#,
                    left - 4.0,
                    top + (i as f64 + 0.5) * cell,
                    escape_html(&vis(t))
                ));
            }
            for (j, t) in self.k_tokens.iter().enumerate() {
                let (x, y) = (left + (j as f64 + 0.5) * cell, top + gh + 4.0);
                s.push_str(&format!(
                    r#"<text x="{x:.1}" y="{y:.1}" transform="rotate(-90 {x:.1} {y:.1})" text-anchor="end" dominant-baseline="central" xml:space="preserve">{}</text>"#,
                    escape_html(&vis(t))
                ));
            }
            s.push_str(&color_bar(scale, norm, left + gw + 14.0, top, gh.max(120.0)));
        }
        s.push_str("</svg>");
        s
    }
}

impl ToHtml for AttentionView {
    fn to_html(&self) -> String {
        let id = super::unique_id("g2la");
        let (scale, norm) = self.scale_norm();
        let (q, k) = (self.q_tokens.len(), self.k_tokens.len());
        let mut h = format!("<div class=\"g2l-att\" id=\"{id}\" style=\"font-family:sans-serif;font-size:13px\">");
        let title = if self.title.is_empty() { "Attention".to_string() } else { escape_html(&self.title) };
        h.push_str(&format!(
            "<div style=\"font-weight:600;margin-bottom:4px\">{title} <span style=\"font-weight:normal;color:#888;font-size:11px\">\
             {} head{} · {q} queries ↓ × {k} keys → · hover a cell for its value</span></div>",
            self.n_heads(),
            if self.n_heads() == 1 { "" } else { "s" }
        ));
        if self.grid {
            let cell = (180.0 / k as f64).clamp(2.0, 12.0);
            h.push_str("<div style=\"display:flex;flex-wrap:wrap;gap:8px\">");
            for head in 0..self.n_heads() {
                h.push_str(&format!("<div>{}</div>", self.head_svg(head, cell, false, scale, norm)));
            }
            h.push_str("</div>");
        } else {
            let cell = (560.0 / k as f64).clamp(12.0, 30.0);
            let mut css = format!(
                "<style>#{id} input.sel{{position:absolute;opacity:0;width:0;height:0}}\
                 #{id} .tabs label{{display:inline-block;padding:1px 7px;margin:0 3px 3px 0;border:1px solid #bbb;border-radius:3px;cursor:pointer;font-size:12px;background:#f6f6f6;color:#333}}\
                 #{id} .head{{display:none}}"
            );
            for head in 0..self.n_heads() {
                css.push_str(&format!(
                    "#{id}-{head}:checked~.tabs label[for=\"{id}-{head}\"]{{background:#1f77b4;color:#fff;border-color:#1f77b4}}\
                     #{id}-{head}:checked~.heads .h{head}{{display:block}}"
                ));
            }
            css.push_str("</style>");
            h.push_str(&css);
            for head in 0..self.n_heads() {
                h.push_str(&format!(
                    "<input class=\"sel\" type=\"radio\" name=\"{id}\" id=\"{id}-{head}\"{}>",
                    if head == 0 { " checked" } else { "" }
                ));
            }
            h.push_str("<div class=\"tabs\">");
            if self.n_heads() > 1 {
                for (head, label) in self.head_labels.iter().enumerate() {
                    h.push_str(&format!("<label for=\"{id}-{head}\">{}</label>", escape_html(label)));
                }
            }
            h.push_str("</div><div class=\"heads\">");
            for head in 0..self.n_heads() {
                h.push_str(&format!("<div class=\"head h{head}\">{}</div>", self.head_svg(head, cell, true, scale, norm)));
            }
            h.push_str("</div>");
        }
        h.push_str("</div>");
        h
    }
}

impl fmt::Display for AttentionView {
    /// A summary and, for short sequences, each head's most-attended key per query.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (q, k) = (self.q_tokens.len(), self.k_tokens.len());
        let title = if self.title.is_empty() { String::new() } else { format!(" \"{}\"", self.title) };
        write!(f, "attention{title}: {} heads × {q} queries × {k} keys", self.n_heads())?;
        let toks: Vec<String> = self.k_tokens.iter().map(|t| visible_token(t)).collect();
        write!(f, "\ntokens: {}", toks.join(" | "))?;
        if q <= 16 {
            let offset = k - q;
            for (head, m) in self.pattern.iter().enumerate() {
                let argmax: Vec<String> = m
                    .iter()
                    .enumerate()
                    .map(|(i, row)| {
                        let (j, v) = row
                            .iter()
                            .enumerate()
                            .fold((0, f32::NEG_INFINITY), |best, (j, &v)| if v > best.1 { (j, v) } else { best });
                        format!("{}→{} {}", i + offset, j, format_float(v as f64, 2))
                    })
                    .collect();
                write!(f, "\n  {}: {}", self.head_labels[head], argmax.join(", "))?;
            }
        }
        Ok(())
    }
}
