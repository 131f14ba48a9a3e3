//! Colour scales and the categorical palette shared by every display type.
//!
//! ```
//! use gpt2lab::display::ColorScale;
//! let s = ColorScale::RdBu;                  // diverging: blue < 0 < red
//! assert_eq!(s.css(0.5), "#f7f7f7");          // the midpoint is near-white
//! assert_eq!(ColorScale::Blues.css(0.0), "#f7fbff");
//! ```

/// Categorical palette (Tableau 10): series `i` uses `PALETTE[i % 10]`.
pub const PALETTE: [(u8, u8, u8); 10] = [
    (0x1f, 0x77, 0xb4),
    (0xff, 0x7f, 0x0e),
    (0x2c, 0xa0, 0x2c),
    (0xd6, 0x27, 0x28),
    (0x94, 0x67, 0xbd),
    (0x8c, 0x56, 0x4b),
    (0xe3, 0x77, 0xc2),
    (0x7f, 0x7f, 0x7f),
    (0xbc, 0xbd, 0x22),
    (0x17, 0xbe, 0xcf),
];

/// The palette colour for series `i`, as a CSS hex string.
pub fn palette_css(i: usize) -> String {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    hex(r, g, b)
}

/// A continuous colour scale over `t ∈ [0, 1]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorScale {
    /// Sequential white → dark blue; good for probabilities and attention.
    Blues,
    /// Sequential perceptual (viridis); good for dense matrices.
    Viridis,
    /// Diverging blue → white → red (0.5 is white); good for signed values.
    RdBu,
}

const BLUES: [(u8, u8, u8); 5] =
    [(0xf7, 0xfb, 0xff), (0xc6, 0xdb, 0xef), (0x6b, 0xae, 0xd6), (0x21, 0x71, 0xb5), (0x08, 0x30, 0x6b)];
const VIRIDIS: [(u8, u8, u8); 6] = [
    (0x44, 0x01, 0x54),
    (0x41, 0x44, 0x87),
    (0x2a, 0x78, 0x8e),
    (0x22, 0xa8, 0x84),
    (0x7a, 0xd1, 0x51),
    (0xfd, 0xe7, 0x25),
];
const RDBU: [(u8, u8, u8); 5] =
    [(0x21, 0x66, 0xac), (0x92, 0xc5, 0xde), (0xf7, 0xf7, 0xf7), (0xf4, 0xa5, 0x82), (0xb2, 0x18, 0x2b)];

impl ColorScale {
    fn stops(self) -> &'static [(u8, u8, u8)] {
        match self {
            ColorScale::Blues => &BLUES,
            ColorScale::Viridis => &VIRIDIS,
            ColorScale::RdBu => &RDBU,
        }
    }

    /// Whether the scale is diverging (centred on zero).
    pub fn is_diverging(self) -> bool {
        matches!(self, ColorScale::RdBu)
    }

    /// The colour at `t` (clamped to [0, 1]; NaN maps to mid-grey).
    pub fn rgb(self, t: f32) -> (u8, u8, u8) {
        if t.is_nan() {
            return (0x99, 0x99, 0x99);
        }
        let stops = self.stops();
        let t = t.clamp(0.0, 1.0) * (stops.len() - 1) as f32;
        let i = (t.floor() as usize).min(stops.len() - 2);
        let f = t - i as f32;
        let (a, b) = (stops[i], stops[i + 1]);
        let mix = |x: u8, y: u8| (x as f32 + (y as f32 - x as f32) * f).round() as u8;
        (mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
    }

    /// The colour at `t` as a CSS hex string.
    pub fn css(self, t: f32) -> String {
        let (r, g, b) = self.rgb(t);
        hex(r, g, b)
    }

    /// A text colour (black or white) readable on the colour at `t`.
    pub fn text_css(self, t: f32) -> &'static str {
        let (r, g, b) = self.rgb(t);
        let lum = 0.299 * r as f32 + 0.587 * g as f32 + 0.114 * b as f32;
        if lum < 140.0 {
            "#fff"
        } else {
            "#111"
        }
    }

    /// SVG `<stop>` elements for a gradient of this scale, bottom (0) to top (1)
    /// when used with a gradient running from y=1 to y=0.
    pub(crate) fn svg_stops(self) -> String {
        let stops = self.stops();
        let n = stops.len() - 1;
        stops
            .iter()
            .enumerate()
            .map(|(i, &(r, g, b))| {
                format!(r#"<stop offset="{:.3}" stop-color="{}"/>"#, i as f32 / n as f32, hex(r, g, b))
            })
            .collect()
    }

    /// A CSS `linear-gradient(to right, …)` of this scale.
    pub(crate) fn css_gradient(self) -> String {
        let stops: Vec<String> = self.stops().iter().map(|&(r, g, b)| hex(r, g, b)).collect();
        format!("linear-gradient(to right, {})", stops.join(", "))
    }
}

/// Maps values to `t ∈ [0, 1]` for a [`ColorScale`]: linear over `[lo, hi]`, or, for a
/// diverging scale, symmetric around zero so that 0 is the scale's midpoint.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Norm {
    pub lo: f32,
    pub hi: f32,
}

impl Norm {
    /// The range covering the finite values; symmetric `[-m, m]` for a diverging scale.
    pub fn fit<'a>(values: impl IntoIterator<Item = &'a f32>, scale: ColorScale) -> Norm {
        let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
        for &v in values {
            if v.is_finite() {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
        if !lo.is_finite() {
            return Norm { lo: 0.0, hi: 1.0 };
        }
        if scale.is_diverging() {
            let m = lo.abs().max(hi.abs());
            let m = if m > 0.0 { m } else { 1.0 };
            return Norm { lo: -m, hi: m };
        }
        if hi <= lo {
            hi = lo + 1.0;
        }
        Norm { lo, hi }
    }

    pub fn t(&self, v: f32) -> f32 {
        if !v.is_finite() {
            return f32::NAN;
        }
        ((v - self.lo) / (self.hi - self.lo)).clamp(0.0, 1.0)
    }
}

pub(crate) fn hex(r: u8, g: u8, b: u8) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_and_midpoint() {
        assert_eq!(ColorScale::Blues.css(0.0), "#f7fbff");
        assert_eq!(ColorScale::Blues.css(1.0), "#08306b");
        assert_eq!(ColorScale::RdBu.css(0.5), "#f7f7f7");
        assert_eq!(ColorScale::Viridis.css(2.0), "#fde725");
    }

    #[test]
    fn diverging_norm_is_symmetric() {
        let n = Norm::fit(&[-1.0, 3.0], ColorScale::RdBu);
        assert_eq!((n.lo, n.hi), (-3.0, 3.0));
        assert_eq!(n.t(0.0), 0.5);
        let s = Norm::fit(&[2.0, 2.0], ColorScale::Blues);
        assert!(s.hi > s.lo);
    }
}
