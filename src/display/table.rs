//! [`Table`]: a polars `DataFrame` as an HTML table (and aligned plain text).
//!
//! ```
//! use gpt2lab::display::{Col, Table};
//! let t = Table::from_columns(vec![
//!     ("layer", Col::from(vec![0usize, 1, 2])),
//!     ("loss", Col::from(vec![3.25f32, 2.5, 2.125])),
//! ])?
//! .title("Loss by layer");
//! assert!(t.to_string().contains("2.125"));
//! # Ok::<(), gpt2lab::Error>(())
//! ```

use std::borrow::Borrow;
use std::fmt;

use polars::prelude::{AnyValue, Column, DataFrame, DataType};

use super::{escape_html, format_float, visible_token, ToHtml};
use crate::{Error, Result};

/// A column of values for [`Table::from_columns`]; built with `Col::from(vec)` from vectors or
/// slices of `f32`, `f64`, `i32`, `i64`, `u32`, `usize`, `String` or `&str`.
#[derive(Debug, Clone, PartialEq)]
pub enum Col {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I64(Vec<i64>),
    U64(Vec<u64>),
    Str(Vec<String>),
}

impl Col {
    pub fn len(&self) -> usize {
        match self {
            Col::F32(v) => v.len(),
            Col::F64(v) => v.len(),
            Col::I64(v) => v.len(),
            Col::U64(v) => v.len(),
            Col::Str(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn into_column(self, name: &str) -> Column {
        match self {
            Col::F32(v) => Column::new(name.into(), v),
            Col::F64(v) => Column::new(name.into(), v),
            Col::I64(v) => Column::new(name.into(), v),
            Col::U64(v) => Column::new(name.into(), v),
            Col::Str(v) => Column::new(name.into(), v),
        }
    }
}

macro_rules! col_from {
    ($variant:ident, $target:ty; $($src:ty),*) => {$(
        impl From<Vec<$src>> for Col {
            fn from(v: Vec<$src>) -> Col { Col::$variant(v.into_iter().map(|x| x as $target).collect()) }
        }
        impl From<&[$src]> for Col {
            fn from(v: &[$src]) -> Col { Col::$variant(v.iter().map(|&x| x as $target).collect()) }
        }
        impl<const N: usize> From<[$src; N]> for Col {
            fn from(v: [$src; N]) -> Col { Col::$variant(v.iter().map(|&x| x as $target).collect()) }
        }
    )*};
}
col_from!(F32, f32; f32);
col_from!(F64, f64; f64);
col_from!(I64, i64; i64, i32);
col_from!(U64, u64; u64, u32, usize);

impl From<Vec<String>> for Col {
    fn from(v: Vec<String>) -> Col {
        Col::Str(v)
    }
}
impl From<&[String]> for Col {
    fn from(v: &[String]) -> Col {
        Col::Str(v.to_vec())
    }
}
impl From<Vec<&str>> for Col {
    fn from(v: Vec<&str>) -> Col {
        Col::Str(v.into_iter().map(String::from).collect())
    }
}
impl From<&[&str]> for Col {
    fn from(v: &[&str]) -> Col {
        Col::Str(v.iter().map(|s| s.to_string()).collect())
    }
}

/// A `DataFrame` rendered as a table: big frames show their first and last rows with a
/// "… N more rows …" line; floats get `sig` significant digits (default 4).
///
/// | constructor | columns |
/// |---|---|
/// | [`Table::new`]`(&df)` | the frame's |
/// | [`Table::from_columns`]`(vec![("a", Col::from(..)), ..])` | given |
/// | [`Table::from_rows`]`(&["a","b"], rows)` | strings; numeric-looking columns become numbers |
/// | [`Table::top_k`]`(&tokens, &probs)` | rank, token, prob |
/// | [`Table::top_k_logits`]`(&tokens, &probs, &logits)` | rank, token, prob, logit |
/// | [`Table::per_layer`]`("loss", &values)` | layer, loss |
///
/// Builders: [`title`](Table::title), [`max_rows`](Table::max_rows),
/// [`dtypes`](Table::dtypes), [`sig_digits`](Table::sig_digits), [`bars`](Table::bars).
#[derive(Clone)]
pub struct Table {
    df: DataFrame,
    title: Option<String>,
    max_rows: usize,
    show_dtypes: bool,
    sig: usize,
    bars: Vec<String>,
}

super::debug_as_display!(Table);

impl Table {
    /// Wraps a frame. Takes `&df` (a cheap clone: polars columns are reference-counted) or `df`;
    /// borrowing keeps `Table::new(&df)` displayable as a notebook cell's last line.
    pub fn new(df: impl Borrow<DataFrame>) -> Table {
        Table { df: df.borrow().clone(), title: None, max_rows: 20, show_dtypes: false, sig: 4, bars: Vec::new() }
    }

    /// A table from named columns of equal length.
    ///
    /// ```
    /// use gpt2lab::display::{Col, Table};
    /// let t = Table::from_columns(vec![("x", Col::from([1.0f32, 2.0])), ("y", Col::from(vec!["a", "b"]))])?;
    /// assert_eq!(t.dataframe().shape(), (2, 2));
    /// assert!(Table::from_columns(vec![("x", Col::from([1.0f32])), ("y", Col::from([1i64, 2]))]).is_err());
    /// # Ok::<(), gpt2lab::Error>(())
    /// ```
    pub fn from_columns(cols: Vec<(&str, Col)>) -> Result<Table> {
        if let Some((_, first)) = cols.first() {
            let n = first.len();
            if let Some((name, c)) = cols.iter().find(|(_, c)| c.len() != n) {
                return Err(Error::Shape(format!(
                    "table column `{name}` has {} values, column `{}` has {n}",
                    c.len(),
                    cols[0].0
                )));
            }
        }
        let columns: Vec<Column> = cols.into_iter().map(|(name, c)| c.into_column(name)).collect();
        let df = DataFrame::new_infer_height(columns).map_err(|e| Error::Msg(format!("building table: {e}")))?;
        Ok(Table::new(df))
    }

    /// A table from string rows. Columns whose cells all parse as integers (or all as numbers)
    /// become numeric, so they are right-aligned and formatted; an empty cell is a null.
    ///
    /// ```
    /// use gpt2lab::display::Table;
    /// let rows = vec![vec!["a".to_string(), "1.5".to_string()], vec!["b".into(), "2".into()]];
    /// let t = Table::from_rows(&["name", "score"], rows)?;
    /// assert_eq!(t.dataframe().column("score").unwrap().dtype(), &polars::prelude::DataType::Float64);
    /// # Ok::<(), gpt2lab::Error>(())
    /// ```
    pub fn from_rows(headers: &[impl AsRef<str>], rows: Vec<Vec<String>>) -> Result<Table> {
        let w = headers.len();
        if let Some((i, r)) = rows.iter().enumerate().find(|(_, r)| r.len() != w) {
            return Err(Error::Shape(format!("table row {i} has {} cells, the header has {w}", r.len())));
        }
        let mut columns = Vec::with_capacity(w);
        for (j, h) in headers.iter().enumerate() {
            let cells: Vec<&str> = rows.iter().map(|r| r[j].as_str()).collect();
            let name = h.as_ref();
            let filled = || cells.iter().filter(|c| !c.trim().is_empty());
            let column = if cells.is_empty() || filled().next().is_none() {
                Column::new(name.into(), cells.iter().map(|c| c.to_string()).collect::<Vec<_>>())
            } else if filled().all(|c| c.trim().parse::<i64>().is_ok()) {
                let v: Vec<Option<i64>> = cells.iter().map(|c| c.trim().parse().ok()).collect();
                Column::new(name.into(), v)
            } else if filled().all(|c| c.trim().parse::<f64>().is_ok()) {
                let v: Vec<Option<f64>> = cells.iter().map(|c| c.trim().parse().ok()).collect();
                Column::new(name.into(), v)
            } else {
                Column::new(name.into(), cells.iter().map(|c| c.to_string()).collect::<Vec<_>>())
            };
            columns.push(column);
        }
        let df = DataFrame::new(rows.len(), columns).map_err(|e| Error::Msg(format!("building table: {e}")))?;
        Ok(Table::new(df))
    }

    /// The top-k next tokens: `rank` (from 1), `token` (whitespace made visible: `·` for a
    /// space, `↵` for a newline) and `prob`, with probability bars.
    ///
    /// ```
    /// use gpt2lab::display::Table;
    /// let t = Table::top_k(&[" the", "\n"], &[0.5, 0.25])?;
    /// assert!(t.to_string().contains("·the"));
    /// # Ok::<(), gpt2lab::Error>(())
    /// ```
    pub fn top_k(tokens: &[impl AsRef<str>], probs: &[f32]) -> Result<Table> {
        Self::top_k_impl(tokens, probs, None)
    }

    /// [`Table::top_k`] with a `logit` column.
    pub fn top_k_logits(tokens: &[impl AsRef<str>], probs: &[f32], logits: &[f32]) -> Result<Table> {
        Self::top_k_impl(tokens, probs, Some(logits))
    }

    fn top_k_impl(tokens: &[impl AsRef<str>], probs: &[f32], logits: Option<&[f32]>) -> Result<Table> {
        if tokens.len() != probs.len() {
            return Err(Error::Shape(format!("top_k: {} tokens but {} probabilities", tokens.len(), probs.len())));
        }
        let mut cols = vec![
            ("rank", Col::from((1..=tokens.len()).collect::<Vec<usize>>())),
            ("token", Col::Str(tokens.iter().map(|t| visible_token(t.as_ref())).collect())),
            ("prob", Col::from(probs)),
        ];
        if let Some(l) = logits {
            if l.len() != tokens.len() {
                return Err(Error::Shape(format!("top_k: {} tokens but {} logits", tokens.len(), l.len())));
            }
            cols.push(("logit", Col::from(l)));
        }
        Ok(Self::from_columns(cols)?.bars("prob").max_rows(50))
    }

    /// One value per layer: columns `layer` (from 0) and `name`, with bars.
    ///
    /// ```
    /// use gpt2lab::display::Table;
    /// let t = Table::per_layer("logit diff", &[0.1, 0.4, 2.0]);
    /// assert_eq!(t.dataframe().get_column_names(), ["layer", "logit diff"]);
    /// ```
    pub fn per_layer(name: &str, values: &[f32]) -> Table {
        let layers: Vec<usize> = (0..values.len()).collect();
        let cols = vec![("layer", Col::from(layers)), (name, Col::from(values))];
        // equal lengths by construction
        Self::from_columns(cols).expect("per_layer columns have equal length").bars(name).max_rows(100)
    }

    /// A caption above the table.
    pub fn title(mut self, title: impl Into<String>) -> Table {
        self.title = Some(title.into());
        self
    }

    /// Frames taller than `n` show their first and last `n/2` rows (default 20).
    pub fn max_rows(mut self, n: usize) -> Table {
        self.max_rows = n.max(2);
        self
    }

    /// Show a row with each column's dtype under the header.
    pub fn dtypes(mut self, show: bool) -> Table {
        self.show_dtypes = show;
        self
    }

    /// Significant digits for floats (default 4).
    pub fn sig_digits(mut self, sig: usize) -> Table {
        self.sig = sig.max(1);
        self
    }

    /// Draw in-cell bars (proportional to |value| / max |value|) in numeric column `column`.
    pub fn bars(mut self, column: &str) -> Table {
        self.bars.push(column.to_string());
        self
    }

    /// The wrapped frame.
    pub fn dataframe(&self) -> &DataFrame {
        &self.df
    }

    /// evcxr hook: renders the table when this is a cell's value.
    pub fn evcxr_display(&self) {
        super::show(self);
    }

    /// Row indices to show, with `None` marking the gap.
    fn shown_rows(&self) -> Vec<Option<usize>> {
        let n = self.df.height();
        if n <= self.max_rows {
            return (0..n).map(Some).collect();
        }
        let head = self.max_rows.div_ceil(2);
        let tail = self.max_rows / 2;
        (0..head).map(Some).chain(std::iter::once(None)).chain((n - tail..n).map(Some)).collect()
    }

    fn cell(&self, col: &Column, row: usize) -> String {
        match col.get(row) {
            Ok(av) => format_any(&av, col.dtype(), self.sig),
            Err(_) => "?".into(),
        }
    }

    fn shape_line(&self) -> String {
        let (h, w) = self.df.shape();
        format!("{h} row{} × {w} column{}", if h == 1 { "" } else { "s" }, if w == 1 { "" } else { "s" })
    }
}

fn is_numeric(dt: &DataType) -> bool {
    dt.is_primitive_numeric()
}

fn format_any(av: &AnyValue<'_>, dt: &DataType, sig: usize) -> String {
    if av.is_null() {
        return "null".into();
    }
    if let Some(s) = av.get_str() {
        return s.to_string();
    }
    if dt.is_float() {
        if let Some(x) = av.extract::<f64>() {
            return format_float(x, sig);
        }
    }
    av.to_string()
}

fn max_abs(col: &Column) -> f64 {
    (0..col.len())
        .filter_map(|i| col.get(i).ok().and_then(|v| v.extract::<f64>()))
        .filter(|x| x.is_finite())
        .fold(0.0, |m, x| m.max(x.abs()))
}

const TABLE_CSS: &str = "<style>\
.g2l-table table{border-collapse:collapse;font-size:13px;font-family:sans-serif;margin:2px 0}\
.g2l-table th{text-align:left;border-bottom:2px solid #888;padding:3px 10px;font-weight:600}\
.g2l-table td{padding:2px 10px;border-bottom:1px solid rgba(128,128,128,.25);white-space:pre;vertical-align:top}\
.g2l-table td.n{text-align:right;font-variant-numeric:tabular-nums;font-family:monospace}\
.g2l-table tr.dt td{color:#888;font-size:11px;font-style:italic;border-bottom:1px solid #aaa}\
.g2l-table tr.gap td{text-align:center;color:#888;font-style:italic;background:rgba(128,128,128,.1)}\
.g2l-table tbody tr:hover td{background-color:rgba(31,119,180,.1)}\
.g2l-table caption{caption-side:top;text-align:left;font-weight:600;padding:2px 0 4px}\
.g2l-table .shape{color:#888;font-size:11px;margin-top:2px}\
</style>";

impl ToHtml for Table {
    fn to_html(&self) -> String {
        let cols = self.df.columns();
        let mut h = String::from("<div class=\"g2l-table\">");
        h.push_str(TABLE_CSS);
        h.push_str("<table>");
        if let Some(t) = &self.title {
            h.push_str(&format!("<caption>{}</caption>", escape_html(t)));
        }
        h.push_str("<thead><tr>");
        for c in cols {
            let align = if is_numeric(c.dtype()) { " style=\"text-align:right\"" } else { "" };
            h.push_str(&format!("<th{align}>{}</th>", escape_html(c.name())));
        }
        h.push_str("</tr>");
        if self.show_dtypes {
            h.push_str("<tr class=\"dt\">");
            for c in cols {
                h.push_str(&format!("<td>{}</td>", escape_html(&c.dtype().to_string())));
            }
            h.push_str("</tr>");
        }
        h.push_str("</thead><tbody>");
        let bar_max: Vec<Option<f64>> = cols
            .iter()
            .map(|c| {
                (self.bars.iter().any(|b| b == c.name().as_str()) && is_numeric(c.dtype()))
                    .then(|| max_abs(c))
                    .filter(|m| *m > 0.0)
            })
            .collect();
        let hidden = self.df.height().saturating_sub(self.max_rows);
        for r in self.shown_rows() {
            match r {
                None => h.push_str(&format!(
                    "<tr class=\"gap\"><td colspan=\"{}\">… {hidden} more rows …</td></tr>",
                    cols.len().max(1)
                )),
                Some(r) => {
                    h.push_str("<tr>");
                    for (c, bmax) in cols.iter().zip(&bar_max) {
                        let text = escape_html(&self.cell(c, r));
                        if !is_numeric(c.dtype()) {
                            h.push_str(&format!("<td>{text}</td>"));
                            continue;
                        }
                        let style = match (bmax, c.get(r).ok().and_then(|v| v.extract::<f64>())) {
                            (Some(m), Some(x)) if x.is_finite() => {
                                let pct = (x.abs() / m * 100.0).clamp(0.0, 100.0);
                                let col = if x < 0.0 { "rgba(214,39,40,.22)" } else { "rgba(31,119,180,.22)" };
                                format!(
                                    " style=\"background:linear-gradient(to right,{col} {pct:.1}%,transparent {pct:.1}%)\""
                                )
                            }
                            _ => String::new(),
                        };
                        h.push_str(&format!("<td class=\"n\"{style}>{text}</td>"));
                    }
                    h.push_str("</tr>");
                }
            }
        }
        h.push_str("</tbody></table>");
        h.push_str(&format!("<div class=\"shape\">{}</div></div>", self.shape_line()));
        h
    }
}

impl fmt::Display for Table {
    /// Aligned plain text with the same truncation as the HTML.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cols = self.df.columns();
        let clean = |s: String| s.replace('\n', "↵").replace('\t', "→");
        let headers: Vec<String> = cols.iter().map(|c| clean(c.name().to_string())).collect();
        let dtypes: Vec<String> = cols.iter().map(|c| c.dtype().to_string()).collect();
        let rows: Vec<Option<Vec<String>>> = self
            .shown_rows()
            .into_iter()
            .map(|r| r.map(|r| cols.iter().map(|c| clean(self.cell(c, r))).collect()))
            .collect();
        let width = |s: &str| s.chars().count();
        let mut widths: Vec<usize> = headers.iter().map(|h| width(h)).collect();
        for (j, w) in widths.iter_mut().enumerate() {
            if self.show_dtypes {
                *w = (*w).max(width(&dtypes[j]));
            }
            for r in rows.iter().flatten() {
                *w = (*w).max(width(&r[j]));
            }
        }
        let numeric: Vec<bool> = cols.iter().map(|c| is_numeric(c.dtype())).collect();
        let line = |f: &mut fmt::Formatter<'_>, cells: &[String]| -> fmt::Result {
            let parts: Vec<String> = cells
                .iter()
                .enumerate()
                .map(|(j, s)| {
                    let pad = " ".repeat(widths[j] - width(s));
                    if numeric[j] {
                        format!("{pad}{s}")
                    } else {
                        format!("{s}{pad}")
                    }
                })
                .collect();
            writeln!(f, "{}", parts.join("  ").trim_end())
        };
        if let Some(t) = &self.title {
            writeln!(f, "{t}")?;
        }
        line(f, &headers)?;
        if self.show_dtypes {
            line(f, &dtypes)?;
        }
        let total: usize = widths.iter().sum::<usize>() + 2 * widths.len().saturating_sub(1);
        writeln!(f, "{}", "─".repeat(total.max(1)))?;
        let hidden = self.df.height().saturating_sub(self.max_rows);
        for r in &rows {
            match r {
                Some(cells) => line(f, cells)?,
                None => writeln!(f, "… {hidden} more rows …")?,
            }
        }
        write!(f, "{}", self.shape_line())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_rows_split() {
        let t = Table::per_layer("v", &[0.0; 30]).max_rows(6);
        let r = t.shown_rows();
        assert_eq!(r, vec![Some(0), Some(1), Some(2), None, Some(27), Some(28), Some(29)]);
    }

    #[test]
    fn from_rows_infers_types_and_rejects_ragged() {
        let t = Table::from_rows(&["a", "b", "c"], vec![
            vec!["1".into(), "x".into(), "0.5".into()],
            vec!["2".into(), "y".into(), "".into()],
        ])
        .unwrap();
        let df = t.dataframe();
        assert_eq!(df.column("a").unwrap().dtype(), &DataType::Int64);
        assert_eq!(df.column("b").unwrap().dtype(), &DataType::String);
        assert_eq!(df.column("c").unwrap().dtype(), &DataType::Float64);
        assert!(t.to_string().contains("null"));
        assert!(Table::from_rows(&["a"], vec![vec!["1".into(), "2".into()]]).is_err());
    }

    #[test]
    fn text_alignment() {
        let t = Table::per_layer("x", &[1.0, 10.5]);
        let s = t.to_string();
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[0], "layer     x");
        assert_eq!(lines[2], "    0   1.0");
        assert_eq!(lines[3], "    1  10.5");
    }
}
