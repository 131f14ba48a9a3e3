//! [`Chart`]: line, scatter and bar charts (drawn with plotters' SVG backend) and heatmaps
//! (hand-written SVG with a hover tooltip per cell and a colour bar), all as inline SVG.
//!
//! ```
//! use gpt2lab::display::Chart;
//! let c = Chart::lines("Loss")
//!     .series("train", &[(0.0, 3.2), (1.0, 2.1), (2.0, 1.7)])
//!     .series_y("val", &[3.3, 2.4, 2.0])
//!     .x_label("step")
//!     .y_label("loss")
//!     .log_y();
//! let svg = c.to_svg();
//! assert!(svg.contains("train") && svg.contains("val"));
//! ```

use std::fmt;
use std::ops::Range;

use candle_core::{DType, Tensor};
use plotters::coord::ranged1d::{AsRangedCoord, SegmentValue, ValueFormatter};
use plotters::prelude::*;

use super::color::{Norm, PALETTE};
use super::{escape_html, format_float, ColorScale, ToHtml};
use crate::{Error, Result};

const FONT: &str = "sans-serif";

/// plotters writes `font-size = size / 1.24`; this asks for `px` pixels.
fn px(px: f64) -> f64 {
    px * 1.24
}

#[derive(Clone, Debug)]
struct Series {
    name: String,
    points: Vec<(f64, f64)>,
}

#[derive(Clone, Debug)]
enum Kind {
    Lines(Vec<Series>),
    Scatter(Vec<Series>),
    Bars { labels: Vec<String>, values: Vec<f32>, errors: Option<Vec<f32>> },
    Heatmap { data: Vec<Vec<f32>>, rows: Vec<String>, cols: Vec<String> },
}

/// A chart rendered to inline SVG (default 640×400 px; see [`Chart::size`]).
///
/// | constructor | then |
/// |---|---|
/// | [`Chart::lines`]`(title)` | [`series`](Chart::series)`(name, &[(x, y)])`, [`series_y`](Chart::series_y)`(name, &ys)` |
/// | [`Chart::scatter`]`(title)` | the same |
/// | [`Chart::bars`]`(&labels, &values, Some(&errors))?` | |
/// | [`Chart::heatmap`]`(rows_of_values, &row_labels, &col_labels)?` | [`color_scale`](Chart::color_scale), [`value_range`](Chart::value_range) |
/// | [`Chart::from_tensor_heatmap`]`(&tensor_2d, &row_labels, &col_labels)?` | |
///
/// Common builders: [`title`](Chart::title), [`x_label`](Chart::x_label),
/// [`y_label`](Chart::y_label), [`log_y`](Chart::log_y), [`size`](Chart::size).
/// Series colours follow [`PALETTE`]; a legend appears when a series has a name.
#[derive(Clone)]
pub struct Chart {
    kind: Kind,
    title: String,
    x_label: String,
    y_label: String,
    width: u32,
    height: u32,
    log_y: bool,
    scale: Option<ColorScale>,
    range: Option<(f32, f32)>,
}

super::debug_as_display!(Chart);

impl Chart {
    fn with_kind(kind: Kind, title: &str) -> Chart {
        Chart {
            kind,
            title: title.to_string(),
            x_label: String::new(),
            y_label: String::new(),
            width: 640,
            height: 400,
            log_y: false,
            scale: None,
            range: None,
        }
    }

    /// A line chart; add series with [`Chart::series`] / [`Chart::series_y`].
    pub fn lines(title: &str) -> Chart {
        Chart::with_kind(Kind::Lines(Vec::new()), title)
    }

    /// A scatter plot; add series with [`Chart::series`].
    pub fn scatter(title: &str) -> Chart {
        Chart::with_kind(Kind::Scatter(Vec::new()), title)
    }

    /// A bar chart with optional symmetric error bars (± `errors[i]`).
    ///
    /// ```
    /// use gpt2lab::display::Chart;
    /// let c = Chart::bars(&["L0", "L1"], &[0.3, -0.1], Some(&[0.05, 0.02]))?.title("Effect");
    /// assert!(c.to_svg().contains("L1"));
    /// assert!(Chart::bars(&["a"], &[1.0, 2.0], None).is_err());
    /// # Ok::<(), gpt2lab::Error>(())
    /// ```
    pub fn bars(labels: &[impl AsRef<str>], values: &[f32], errors: Option<&[f32]>) -> Result<Chart> {
        if labels.len() != values.len() {
            return Err(Error::Shape(format!("bars: {} labels but {} values", labels.len(), values.len())));
        }
        if let Some(e) = errors {
            if e.len() != values.len() {
                return Err(Error::Shape(format!("bars: {} values but {} errors", values.len(), e.len())));
            }
        }
        let kind = Kind::Bars {
            labels: labels.iter().map(|l| l.as_ref().to_string()).collect(),
            values: values.to_vec(),
            errors: errors.map(|e| e.to_vec()),
        };
        Ok(Chart::with_kind(kind, ""))
    }

    /// A heatmap of `matrix[row][col]` with a colour bar. Labels may be empty (indices are
    /// used); otherwise they must match the matrix. The scale is diverging ([`ColorScale::RdBu`],
    /// centred on 0) when the data has both signs, else sequential ([`ColorScale::Viridis`]).
    ///
    /// ```
    /// use gpt2lab::display::Chart;
    /// let m = vec![vec![0.1, 0.9], vec![0.5, 0.2], vec![0.0, 1.0]];
    /// let c = Chart::heatmap(m, &[], &["h0".into(), "h1".into()])?.title("layer × head");
    /// assert_eq!(c.to_svg().matches("class=\"cell\"").count(), 6);
    /// # Ok::<(), gpt2lab::Error>(())
    /// ```
    pub fn heatmap(matrix: Vec<Vec<f32>>, row_labels: &[String], col_labels: &[String]) -> Result<Chart> {
        let rows = matrix.len();
        let cols = matrix.first().map_or(0, |r| r.len());
        if rows == 0 || cols == 0 {
            return Err(Error::EmptyInput("heatmap matrix has no cells".into()));
        }
        if let Some(i) = matrix.iter().position(|r| r.len() != cols) {
            return Err(Error::Shape(format!("heatmap row {i} has {} values, row 0 has {cols}", matrix[i].len())));
        }
        let labels = |given: &[String], n: usize, what: &str| -> Result<Vec<String>> {
            match given.len() {
                0 => Ok((0..n).map(|i| i.to_string()).collect()),
                len if len == n => Ok(given.to_vec()),
                len => Err(Error::Shape(format!("heatmap has {n} {what}s but {len} {what} labels"))),
            }
        };
        let kind = Kind::Heatmap { rows: labels(row_labels, rows, "row")?, cols: labels(col_labels, cols, "column")?, data: matrix };
        Ok(Chart::with_kind(kind, ""))
    }

    /// [`Chart::heatmap`] of a 2-D tensor (any float or integer dtype, any device).
    ///
    /// ```
    /// use candle_core::{Device, Tensor};
    /// use gpt2lab::display::Chart;
    /// let t = Tensor::arange(0f32, 6., &Device::Cpu)?.reshape((2, 3))?;
    /// assert!(Chart::from_tensor_heatmap(&t, &[], &[]).is_ok());
    /// assert!(Chart::from_tensor_heatmap(&t.flatten_all()?, &[], &[]).is_err());
    /// # Ok::<(), gpt2lab::Error>(())
    /// ```
    pub fn from_tensor_heatmap(t: &Tensor, row_labels: &[String], col_labels: &[String]) -> Result<Chart> {
        if t.rank() != 2 {
            return Err(Error::Shape(format!("heatmap needs a 2-D tensor, got shape {:?}", t.dims())));
        }
        let m = t.to_dtype(DType::F32)?.to_vec2::<f32>()?;
        Chart::heatmap(m, row_labels, col_labels)
    }

    /// Adds a named series of `(x, y)` points (lines and scatter charts; ignored otherwise).
    /// Non-finite points are skipped when drawing.
    pub fn series(mut self, name: &str, points: &[(f64, f64)]) -> Chart {
        let s = Series { name: name.to_string(), points: points.to_vec() };
        match &mut self.kind {
            Kind::Lines(v) | Kind::Scatter(v) => v.push(s),
            _ => {}
        }
        self
    }

    /// Adds a series with `x = 0, 1, 2, …` (e.g. a value per layer or per step).
    pub fn series_y(self, name: &str, ys: &[f32]) -> Chart {
        let pts: Vec<(f64, f64)> = ys.iter().enumerate().map(|(i, &y)| (i as f64, y as f64)).collect();
        self.series(name, &pts)
    }

    pub fn title(mut self, title: &str) -> Chart {
        self.title = title.to_string();
        self
    }

    pub fn x_label(mut self, label: &str) -> Chart {
        self.x_label = label.to_string();
        self
    }

    pub fn y_label(mut self, label: &str) -> Chart {
        self.y_label = label.to_string();
        self
    }

    /// Logarithmic y axis (lines and scatter); non-positive values are skipped.
    pub fn log_y(mut self) -> Chart {
        self.log_y = true;
        self
    }

    /// Size in pixels (default 640×400). For heatmaps this is the box the grid is fitted
    /// into; cells stay between 12 and 40 px when the matrix is small enough to label.
    pub fn size(mut self, width: u32, height: u32) -> Chart {
        self.width = width.max(120);
        self.height = height.max(100);
        self
    }

    /// Heatmap colour scale (default: RdBu for signed data, Viridis otherwise).
    pub fn color_scale(mut self, scale: ColorScale) -> Chart {
        self.scale = Some(scale);
        self
    }

    /// Heatmap value range mapped onto the colour scale (default: the data's range).
    pub fn value_range(mut self, lo: f32, hi: f32) -> Chart {
        self.range = Some((lo, hi));
        self
    }

    /// The chart as an SVG document (an error message drawn as SVG if plotting failed).
    pub fn to_svg(&self) -> String {
        let r = match &self.kind {
            Kind::Lines(s) => self.render_xy(s, false),
            Kind::Scatter(s) => self.render_xy(s, true),
            Kind::Bars { labels, values, errors } => self.render_bars(labels, values, errors.as_deref()),
            Kind::Heatmap { data, rows, cols } => Ok(self.render_heatmap(data, rows, cols)),
        };
        r.unwrap_or_else(|e| {
            format!(
                r##"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="40"><text x="8" y="24" font-family="sans-serif" font-size="13" fill="#b00">chart error: {}</text></svg>"##,
                self.width,
                escape_html(&e.to_string())
            )
        })
    }

    /// Writes [`Chart::to_svg`] to `path`.
    pub fn save_svg(&self, path: impl AsRef<std::path::Path>) -> Result<()> {
        let path = path.as_ref();
        std::fs::write(path, self.to_svg()).map_err(|e| Error::io(path, e))
    }

    /// evcxr hook: renders the chart when this is a cell's value.
    pub fn evcxr_display(&self) {
        super::show(self);
    }

    fn render_xy(&self, series: &[Series], scatter: bool) -> Result<String> {
        let finite = |p: &&(f64, f64)| p.0.is_finite() && p.1.is_finite() && (!self.log_y || p.1 > 0.0);
        let pts = || series.iter().flat_map(|s| s.points.iter().filter(finite));
        let (x, y) = (span(pts().map(|p| p.0)), span(pts().map(|p| p.1)));
        let x = pad(x, 0.02, false);
        if self.log_y {
            let y = pad(y, 0.05, true);
            self.draw_xy(series, scatter, x, (y.start..y.end).log_scale())
        } else {
            self.draw_xy(series, scatter, x, pad(y, 0.05, false))
        }
    }

    fn draw_xy<Y>(&self, series: &[Series], scatter: bool, x: Range<f64>, y: Y) -> Result<String>
    where
        Y: AsRangedCoord<Value = f64>,
        Y::CoordDescType: ValueFormatter<f64>,
    {
        let mut buf = String::new();
        {
            let root = SVGBackend::with_string(&mut buf, (self.width, self.height)).into_drawing_area();
            root.fill(&WHITE).map_err(plot_err)?;
            let mut builder = ChartBuilder::on(&root);
            builder.margin(14).x_label_area_size(if self.x_label.is_empty() { 28 } else { 44 }).y_label_area_size(
                if self.y_label.is_empty() { 52 } else { 68 },
            );
            if !self.title.is_empty() {
                builder.caption(&self.title, (FONT, px(16.0)));
            }
            let mut chart = builder.build_cartesian_2d(x, y).map_err(plot_err)?;
            let mut mesh = chart.configure_mesh();
            mesh.light_line_style(RGBColor(246, 246, 246))
                .bold_line_style(RGBColor(222, 222, 222))
                .max_light_lines(4)
                .label_style((FONT, px(12.0)))
                .axis_desc_style((FONT, px(13.0)))
                .x_labels(8)
                .y_labels(8)
                .x_label_formatter(&tick)
                .y_label_formatter(&tick);
            if !self.x_label.is_empty() {
                mesh.x_desc(self.x_label.as_str());
            }
            if !self.y_label.is_empty() {
                mesh.y_desc(self.y_label.as_str());
            }
            mesh.draw().map_err(plot_err)?;
            let log_y = self.log_y;
            let ok = move |p: &&(f64, f64)| p.0.is_finite() && p.1.is_finite() && (!log_y || p.1 > 0.0);
            for (i, s) in series.iter().enumerate() {
                let (r, g, b) = PALETTE[i % PALETTE.len()];
                let color = RGBColor(r, g, b);
                let anno = if scatter {
                    chart
                        .draw_series(s.points.iter().filter(ok).map(|&p| Circle::new(p, 3, color.filled())))
                        .map_err(plot_err)?
                } else {
                    chart
                        .draw_series(LineSeries::new(s.points.iter().filter(ok).copied(), color.stroke_width(2)))
                        .map_err(plot_err)?
                };
                if !s.name.is_empty() {
                    // legend swatches are rectangles, so each line series is exactly one <polyline>
                    anno.label(s.name.as_str())
                        .legend(move |(x, y)| Rectangle::new([(x, y - 4), (x + 16, y + 4)], color.filled()));
                }
            }
            if series.iter().any(|s| !s.name.is_empty()) {
                chart
                    .configure_series_labels()
                    .position(SeriesLabelPosition::UpperRight)
                    .background_style(WHITE.mix(0.85))
                    .border_style(RGBColor(190, 190, 190))
                    .label_font((FONT, px(12.0)))
                    .draw()
                    .map_err(plot_err)?;
            }
            root.present().map_err(plot_err)?;
        }
        Ok(buf)
    }

    fn render_bars(&self, labels: &[String], values: &[f32], errors: Option<&[f32]>) -> Result<String> {
        let n = labels.len();
        if n == 0 {
            return Err(Error::EmptyInput("bar chart has no bars".into()));
        }
        let err = |i: usize| errors.map_or(0.0, |e| e[i].abs() as f64);
        let lo_hi = values.iter().enumerate().filter(|(_, v)| v.is_finite()).flat_map(|(i, &v)| {
            let v = v as f64;
            [v - err(i), v + err(i)]
        });
        let y = span(lo_hi.chain([0.0]));
        let y = pad(y, 0.08, false);
        let y = if y.start > 0.0 { 0.0..y.end } else { y };
        let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
        let per_bar = (self.width as f64 - 90.0) / n as f64;
        let rotate = longest as f64 * 7.0 > per_bar;
        let x_area = if rotate { (longest as u32 * 7).clamp(30, 140) + 10 } else { 30 } + if self.x_label.is_empty() { 0 } else { 18 };
        let mut buf = String::new();
        {
            let root = SVGBackend::with_string(&mut buf, (self.width, self.height)).into_drawing_area();
            root.fill(&WHITE).map_err(plot_err)?;
            let mut builder = ChartBuilder::on(&root);
            builder.margin(14).x_label_area_size(x_area).y_label_area_size(if self.y_label.is_empty() { 52 } else { 68 });
            if !self.title.is_empty() {
                builder.caption(&self.title, (FONT, px(16.0)));
            }
            // an integer range is inclusive in plotters: 0..n-1 gives n segments
            let mut chart = builder.build_cartesian_2d((0..n - 1).into_segmented(), y).map_err(plot_err)?;
            let fmt = |v: &SegmentValue<usize>| match v {
                SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            };
            let label_style = if rotate {
                (FONT, px(12.0)).into_font().transform(FontTransform::Rotate90).into_text_style(&root)
            } else {
                (FONT, px(12.0)).into_text_style(&root)
            };
            let mut mesh = chart.configure_mesh();
            mesh.disable_x_mesh()
                .light_line_style(RGBColor(240, 240, 240))
                .bold_line_style(RGBColor(220, 220, 220))
                .max_light_lines(4)
                .x_labels(n.min(60))
                .y_label_formatter(&tick)
                .x_label_formatter(&fmt)
                .x_label_style(label_style)
                .y_label_style((FONT, px(12.0)))
                .axis_desc_style((FONT, px(13.0)));
            if !self.x_label.is_empty() {
                mesh.x_desc(self.x_label.as_str());
            }
            if !self.y_label.is_empty() {
                mesh.y_desc(self.y_label.as_str());
            }
            mesh.draw().map_err(plot_err)?;
            let (r, g, b) = PALETTE[0];
            let margin = ((per_bar * 0.15) as u32).clamp(1, 20);
            chart
                .draw_series(
                    Histogram::vertical(&chart)
                        .style(RGBColor(r, g, b).mix(0.85).filled())
                        .margin(margin)
                        .data(values.iter().enumerate().filter(|(_, v)| v.is_finite()).map(|(i, &v)| (i, v as f64))),
                )
                .map_err(plot_err)?;
            if errors.is_some() {
                let style = RGBColor(40, 40, 40).stroke_width(1);
                let shown = || values.iter().enumerate().filter(|(_, v)| v.is_finite()).map(|(i, &v)| (i, v as f64));
                let whiskers = shown().map(|(i, v)| {
                    PathElement::new(vec![(SegmentValue::CenterOf(i), v - err(i)), (SegmentValue::CenterOf(i), v + err(i))], style)
                });
                chart.draw_series(whiskers).map_err(plot_err)?;
                let caps = shown().flat_map(|(i, v)| [v - err(i), v + err(i)].map(|y| (i, y))).map(|(i, y)| {
                    EmptyElement::at((SegmentValue::CenterOf(i), y)) + PathElement::new(vec![(-5, 0), (5, 0)], style)
                });
                chart.draw_series(caps).map_err(plot_err)?;
            }
            root.present().map_err(plot_err)?;
        }
        Ok(buf)
    }

    fn render_heatmap(&self, data: &[Vec<f32>], rows: &[String], cols: &[String]) -> String {
        let (nr, nc) = (data.len(), data[0].len());
        let scale = self.scale.unwrap_or_else(|| {
            let (mut neg, mut pos) = (false, false);
            for &v in data.iter().flatten() {
                neg |= v < 0.0;
                pos |= v > 0.0;
            }
            if neg && pos {
                ColorScale::RdBu
            } else {
                ColorScale::Viridis
            }
        });
        let norm = match self.range {
            Some((lo, hi)) if hi > lo => Norm { lo, hi },
            _ => Norm::fit(data.iter().flatten(), scale),
        };
        let layout = HeatLayout::new(self, rows, cols);
        let mut s = String::with_capacity(nr * nc * 90 + 4096);
        s.push_str(&format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="{FONT}" font-size="11">"#,
            w = layout.width,
            h = layout.height
        ));
        s.push_str(&format!(r##"<rect width="{}" height="{}" fill="#fff"/>"##, layout.width, layout.height));
        if !self.title.is_empty() {
            s.push_str(&format!(
                r#"<text x="{}" y="20" text-anchor="middle" font-size="15" font-weight="600">{}</text>"#,
                layout.left + layout.cw * nc as f64 / 2.0,
                escape_html(&self.title)
            ));
        }
        let (xl, yl) = (escape_html(&self.x_label), escape_html(&self.y_label));
        for (i, row) in data.iter().enumerate() {
            for (j, &v) in row.iter().enumerate() {
                let tip = if xl.is_empty() && yl.is_empty() {
                    format!("{}, {}: {}", escape_html(&rows[i]), escape_html(&cols[j]), format_float(v as f64, 4))
                } else {
                    format!("{yl} {}, {xl} {}: {}", escape_html(&rows[i]), escape_html(&cols[j]), format_float(v as f64, 4))
                };
                s.push_str(&format!(
                    r#"<rect class="cell" x="{:.2}" y="{:.2}" width="{:.2}" height="{:.2}" fill="{}"><title>{}</title></rect>"#,
                    layout.left + j as f64 * layout.cw,
                    layout.top + i as f64 * layout.ch,
                    layout.cw + 0.02,
                    layout.ch + 0.02,
                    scale.css(norm.t(v)),
                    tip
                ));
            }
        }
        s.push_str(&layout.axis_labels(rows, cols, &xl, &yl));
        s.push_str(&color_bar(scale, norm, layout.left + layout.cw * nc as f64 + 18.0, layout.top, (layout.ch * nr as f64).max(120.0)));
        s.push_str("</svg>");
        s
    }
}

/// Geometry of a heatmap: margins, cell size, which labels to draw.
struct HeatLayout {
    left: f64,
    top: f64,
    cw: f64,
    ch: f64,
    row_step: usize,
    col_step: usize,
    width: f64,
    height: f64,
}

const CHAR_W: f64 = 6.3; // approx. width of an 11px sans-serif character

impl HeatLayout {
    fn new(c: &Chart, rows: &[String], cols: &[String]) -> HeatLayout {
        let (nr, nc) = (rows.len(), cols.len());
        let label_w = |ls: &[String]| (ls.iter().map(|l| l.chars().count()).max().unwrap_or(1) as f64 * CHAR_W).min(150.0) + 8.0;
        let left = label_w(rows) + if c.y_label.is_empty() { 4.0 } else { 20.0 };
        let top = if c.title.is_empty() { 10.0 } else { 32.0 };
        let bottom = label_w(cols) + if c.x_label.is_empty() { 4.0 } else { 20.0 };
        let right = 80.0;
        let fit_w = (c.width as f64 - left - right) / nc as f64;
        let fit_h = (c.height as f64 - top - bottom) / nr as f64;
        let min_cell = |n: usize| if n <= 64 { 12.0 } else { 1.0 };
        let mut cw = fit_w.clamp(min_cell(nc), 40.0);
        let mut ch = fit_h.clamp(min_cell(nr), 40.0);
        if cw.max(ch) / cw.min(ch) < 3.0 {
            let sq = cw.min(ch);
            cw = sq;
            ch = sq;
        }
        let step = |cell: f64| ((12.0 / cell).ceil() as usize).max(1);
        let grid_h = (ch * nr as f64).max(120.0);
        HeatLayout {
            left,
            top,
            cw,
            ch,
            row_step: step(ch),
            col_step: step(cw),
            width: left + cw * nc as f64 + right,
            height: top + grid_h + bottom,
        }
    }

    fn axis_labels(&self, rows: &[String], cols: &[String], xl: &str, yl: &str) -> String {
        let mut s = String::new();
        let clip = |l: &str| {
            let l: String = l.chars().map(|c| if c.is_control() { '↵' } else { c }).collect();
            if l.chars().count() > 24 {
                format!("{}…", l.chars().take(23).collect::<String>())
            } else {
                l
            }
        };
        for (i, r) in rows.iter().enumerate().step_by(self.row_step) {
            s.push_str(&format!(
                r#"<text x="{:.1}" y="{:.1}" text-anchor="end" dominant-baseline="central" xml:space="preserve">{}</text>"#,
                self.left - 4.0,
                self.top + (i as f64 + 0.5) * self.ch,
                escape_html(&clip(r))
            ));
        }
        let grid_bottom = self.top + self.ch * rows.len() as f64;
        for (j, c) in cols.iter().enumerate().step_by(self.col_step) {
            let x = self.left + (j as f64 + 0.5) * self.cw;
            let y = grid_bottom + 4.0;
            s.push_str(&format!(
                r#"<text x="{x:.1}" y="{y:.1}" transform="rotate(-90 {x:.1} {y:.1})" text-anchor="end" dominant-baseline="central" xml:space="preserve">{}</text>"#,
                escape_html(&clip(c))
            ));
        }
        if !xl.is_empty() {
            s.push_str(&format!(
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="13">{xl}</text>"#,
                self.left + self.cw * cols.len() as f64 / 2.0,
                self.height - 6.0
            ));
        }
        if !yl.is_empty() {
            let (x, y) = (14.0, self.top + self.ch * rows.len() as f64 / 2.0);
            s.push_str(&format!(
                r#"<text x="{x}" y="{y:.1}" transform="rotate(-90 {x} {y:.1})" text-anchor="middle" font-size="13">{yl}</text>"#
            ));
        }
        s
    }
}

/// A vertical colour bar with min / mid / max ticks.
pub(crate) fn color_bar(scale: ColorScale, norm: Norm, x: f64, y: f64, h: f64) -> String {
    let id = super::unique_id("g2lcb");
    let mut s = format!(
        r##"<defs><linearGradient id="{id}" x1="0" y1="1" x2="0" y2="0">{}</linearGradient></defs><rect x="{x:.1}" y="{y:.1}" width="14" height="{h:.1}" fill="url(#{id})" stroke="#999" stroke-width="0.5"/>"##,
        scale.svg_stops()
    );
    for (frac, v) in [(0.0, norm.lo), (0.5, (norm.lo + norm.hi) / 2.0), (1.0, norm.hi)] {
        let ty = y + h * (1.0 - frac);
        s.push_str(&format!(
            r##"<line x1="{:.1}" x2="{:.1}" y1="{ty:.1}" y2="{ty:.1}" stroke="#555"/><text x="{:.1}" y="{ty:.1}" dominant-baseline="central">{}</text>"##,
            x + 14.0,
            x + 18.0,
            x + 21.0,
            format_float(v as f64, 3)
        ));
    }
    s
}

/// Axis tick labels: integers without a fraction, others with 3 significant digits.
fn tick(v: &f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e6 {
        format!("{v:.0}")
    } else {
        format_float(*v, 3)
    }
}

/// (min, max) of the finite values, as a range; `0..1` if there are none.
fn span(values: impl Iterator<Item = f64>) -> Range<f64> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return 0.0..1.0;
    }
    lo..hi
}

/// Widens a range by `frac` of its span on each side (multiplicatively for a log axis).
fn pad(r: Range<f64>, frac: f64, log: bool) -> Range<f64> {
    if log {
        // whole decades: plotters labels a log axis only at powers of ten
        let _ = frac;
        let lo = r.start.max(f64::MIN_POSITIVE).log10().floor();
        let mut hi = r.end.max(f64::MIN_POSITIVE).log10().ceil();
        if hi <= lo {
            hi = lo + 1.0;
        }
        return 10f64.powf(lo)..10f64.powf(hi);
    }
    let d = r.end - r.start;
    if d <= 0.0 {
        let m = if r.start == 0.0 { 1.0 } else { r.start.abs() * 0.1 };
        return r.start - m..r.end + m;
    }
    r.start - d * frac..r.end + d * frac
}

fn plot_err<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> Error {
    Error::Msg(format!("chart: {e}"))
}

impl ToHtml for Chart {
    fn to_html(&self) -> String {
        let svg = self.to_svg();
        let svg = svg.trim_start();
        let svg = if svg.starts_with("<?xml") { svg.find("?>").map_or(svg, |i| &svg[i + 2..]) } else { svg };
        // scale down (never up) to fit narrow containers such as a Panel grid cell
        let svg = svg.replacen("<svg ", "<svg style=\"max-width:100%;height:auto\" ", 1);
        format!("<div class=\"g2l-chart\" style=\"max-width:100%\">{svg}</div>")
    }
}

impl fmt::Display for Chart {
    /// A plain-text summary (bars are listed in full).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let title = if self.title.is_empty() { String::new() } else { format!(" \"{}\"", self.title) };
        match &self.kind {
            Kind::Lines(series) | Kind::Scatter(series) => {
                let what = if matches!(self.kind, Kind::Lines(_)) { "line chart" } else { "scatter plot" };
                write!(f, "{what}{title}: {} series", series.len())?;
                for s in series {
                    let y = span(s.points.iter().map(|p| p.1));
                    write!(
                        f,
                        "\n  {}: {} points, y in [{}, {}]",
                        if s.name.is_empty() { "(unnamed)" } else { &s.name },
                        s.points.len(),
                        format_float(y.start, 4),
                        format_float(y.end, 4)
                    )?;
                }
                Ok(())
            }
            Kind::Bars { labels, values, errors } => {
                write!(f, "bar chart{title}")?;
                let w = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
                for (i, (l, v)) in labels.iter().zip(values).enumerate() {
                    let pad = " ".repeat(w - l.chars().count());
                    write!(f, "\n  {l}{pad}  {}", format_float(*v as f64, 4))?;
                    if let Some(e) = errors {
                        write!(f, " ± {}", format_float(e[i] as f64, 3))?;
                    }
                }
                Ok(())
            }
            Kind::Heatmap { data, rows, cols } => {
                let r = span(data.iter().flatten().map(|&v| v as f64));
                write!(
                    f,
                    "heatmap{title}: {} × {}, values in [{}, {}]",
                    rows.len(),
                    cols.len(),
                    format_float(r.start, 4),
                    format_float(r.end, 4)
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pad_handles_degenerate_ranges() {
        assert_eq!(pad(2.0..2.0, 0.1, false), 1.8..2.2);
        assert_eq!(pad(0.0..0.0, 0.1, false), -1.0..1.0);
        assert_eq!(pad(10.0..10.0, 0.1, true), 10.0..100.0);
        assert_eq!(pad(1.2..5.4, 0.1, true), 1.0..10.0);
        let l = pad(0.002..30.0, 0.1, true);
        assert!((l.start - 0.001).abs() < 1e-12 && (l.end - 100.0).abs() < 1e-9);
    }

    #[test]
    fn empty_and_nan_series_still_render() {
        let svg = Chart::lines("empty").to_svg();
        assert!(svg.contains("<svg"));
        let svg = Chart::lines("nan").series("a", &[(0.0, f64::NAN), (1.0, 1.0)]).to_svg();
        assert!(svg.contains("<svg") && !svg.contains("chart error"));
    }

    #[test]
    fn single_bar_and_ticks() {
        let svg = Chart::bars(&["only"], &[2.0], Some(&[0.5])).unwrap().to_svg();
        assert!(!svg.contains("chart error") && svg.contains("only"), "{svg}");
        assert!(Chart::bars(&[] as &[&str], &[], None).unwrap().to_svg().contains("chart error"));
        assert_eq!(tick(&50.0), "50");
        assert_eq!(tick(&0.30000000000000004), "0.3");
    }

    #[test]
    fn heatmap_label_mismatch_is_an_error() {
        assert!(Chart::heatmap(vec![vec![1.0; 3]; 2], &["a".into()], &[]).is_err());
        assert!(Chart::heatmap(vec![vec![1.0; 3], vec![1.0; 2]], &[], &[]).is_err());
        assert!(Chart::heatmap(vec![], &[], &[]).is_err());
    }
}
