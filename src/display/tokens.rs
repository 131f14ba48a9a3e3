//! [`TokenView`]: text as its tokens, each coloured by a value (loss, attribution, activation…),
//! with the value in each token's hover text and a colour legend.
//!
//! ```
//! use gpt2lab::display::{ColorScale, TokenView};
//! let toks = ["The", " cat", " sat", "\n"];
//! let v = TokenView::new(&toks, &[0.1, 2.5, -1.0, 0.0])?.value_name("logit diff");
//! assert!(v.to_string().contains("·cat"));
//! assert!(TokenView::new(&toks, &[1.0]).is_err());
//! # Ok::<(), gpt2lab::Error>(())
//! ```

use std::fmt;

use super::color::Norm;
use super::{escape_html, format_float, visible_token, ColorScale, ToHtml};
use crate::{Error, Result};

/// Tokens coloured by one value each. The scale defaults to diverging ([`ColorScale::RdBu`],
/// centred on 0) when values have both signs, sequential ([`ColorScale::Blues`]) otherwise.
#[derive(Clone)]
pub struct TokenView {
    tokens: Vec<String>,
    values: Vec<f32>,
    scale: Option<ColorScale>,
    range: Option<(f32, f32)>,
    title: String,
    value_name: String,
    legend: bool,
}

super::debug_as_display!(TokenView);

impl TokenView {
    /// One value per token; errors if the lengths differ.
    pub fn new(tokens: &[impl AsRef<str>], values: &[f32]) -> Result<TokenView> {
        if tokens.len() != values.len() {
            return Err(Error::Shape(format!("TokenView: {} tokens but {} values", tokens.len(), values.len())));
        }
        Ok(TokenView {
            tokens: tokens.iter().map(|t| t.as_ref().to_string()).collect(),
            values: values.to_vec(),
            scale: None,
            range: None,
            title: String::new(),
            value_name: "value".into(),
            legend: true,
        })
    }

    pub fn title(mut self, title: &str) -> TokenView {
        self.title = title.to_string();
        self
    }

    /// What the value is, shown in hover text and the legend (default "value").
    pub fn value_name(mut self, name: &str) -> TokenView {
        self.value_name = name.to_string();
        self
    }

    pub fn color_scale(mut self, scale: ColorScale) -> TokenView {
        self.scale = Some(scale);
        self
    }

    /// The value range mapped onto the colour scale (default: fitted to the data; symmetric
    /// around 0 for a diverging scale).
    pub fn value_range(mut self, lo: f32, hi: f32) -> TokenView {
        self.range = Some((lo, hi));
        self
    }

    /// Show the colour legend (default true).
    pub fn legend(mut self, show: bool) -> TokenView {
        self.legend = show;
        self
    }

    /// evcxr hook: renders the view when this is a cell's value.
    pub fn evcxr_display(&self) {
        super::show(self);
    }

    fn scale_norm(&self) -> (ColorScale, Norm) {
        let scale = self.scale.unwrap_or_else(|| {
            let neg = self.values.iter().any(|&v| v < 0.0);
            let pos = self.values.iter().any(|&v| v > 0.0);
            if neg && pos {
                ColorScale::RdBu
            } else {
                ColorScale::Blues
            }
        });
        let norm = match self.range {
            Some((lo, hi)) if hi > lo => Norm { lo, hi },
            _ => {
                let n = Norm::fit(&self.values, scale);
                // a sequential scale over non-negative data starts at 0
                if !scale.is_diverging() && n.lo > 0.0 {
                    Norm { lo: 0.0, hi: n.hi }
                } else {
                    n
                }
            }
        };
        (scale, norm)
    }
}

impl ToHtml for TokenView {
    fn to_html(&self) -> String {
        let (scale, norm) = self.scale_norm();
        let mut h = String::from("<div class=\"g2l-tokens\" style=\"font-family:sans-serif;font-size:13px;max-width:900px\">");
        if !self.title.is_empty() {
            h.push_str(&format!("<div style=\"font-weight:600;margin-bottom:4px\">{}</div>", escape_html(&self.title)));
        }
        h.push_str("<div style=\"font-family:monospace;font-size:14px;line-height:1.9;white-space:pre-wrap;word-break:break-word\">");
        let name = escape_html(&self.value_name);
        for (i, (t, &v)) in self.tokens.iter().zip(&self.values).enumerate() {
            let tt = norm.t(v);
            let tip = format!("[{i}] {}\n{name}: {}", escape_html(&visible_token(t)), format_float(v as f64, 4));
            // shown text: spaces kept (white-space:pre), newlines as ↵ then a real break
            let mut shown = escape_html(&t.replace('\r', "␍").replace('\t', "→").replace('\n', "↵"));
            if t.is_empty() {
                shown = "∅".into();
            }
            h.push_str(&format!(
                "<span title=\"{tip}\" style=\"background:{};color:{};border-radius:3px;padding:2px 0;margin-right:1px;box-shadow:inset 0 0 0 1px rgba(0,0,0,.07)\">{shown}</span>",
                scale.css(tt),
                scale.text_css(tt)
            ));
            if t.contains('\n') {
                h.push('\n');
            }
        }
        h.push_str("</div>");
        if self.legend {
            h.push_str(&format!(
                "<div style=\"display:flex;align-items:center;gap:6px;margin-top:6px;font-size:11px;color:#555\">\
                 <span>{name}</span><span>{}</span>\
                 <span style=\"display:inline-block;width:160px;height:10px;border:1px solid #bbb;background:{}\"></span>\
                 <span>{}</span></div>",
                format_float(norm.lo as f64, 3),
                scale.css_gradient(),
                format_float(norm.hi as f64, 3)
            ));
        }
        h.push_str("</div>");
        h
    }
}

impl fmt::Display for TokenView {
    /// One line per token: index, visible token, value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.title.is_empty() {
            writeln!(f, "{}", self.title)?;
        }
        let toks: Vec<String> = self.tokens.iter().map(|t| visible_token(t)).collect();
        let w = toks.iter().map(|t| t.chars().count()).max().unwrap_or(0).max(5);
        let iw = self.tokens.len().saturating_sub(1).to_string().len();
        write!(f, "{:>iw$}  {:<w$}  {}", "#", "token", self.value_name)?;
        for (i, (t, v)) in toks.iter().zip(&self.values).enumerate() {
            let pad = " ".repeat(w - t.chars().count());
            write!(f, "\n{i:>iw$}  {t}{pad}  {}", format_float(*v as f64, 4))?;
        }
        Ok(())
    }
}
