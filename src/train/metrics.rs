//! Training metrics: one row per logged step, as a polars DataFrame, a table and a loss chart.

use serde::{Deserialize, Serialize};

use crate::display::{Chart, Col, Panel, Table};
use crate::Result;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricRow {
    pub step: usize,
    pub lr: f64,
    pub train_loss: f64,
    pub val_loss: Option<f64>,
    pub grad_norm: f64,
    /// Training tokens seen so far.
    pub tokens: usize,
    pub elapsed_s: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub rows: Vec<MetricRow>,
}

impl Metrics {
    pub fn last_train_loss(&self) -> Option<f64> {
        self.rows.last().map(|r| r.train_loss)
    }
    pub fn last_val_loss(&self) -> Option<f64> {
        self.rows.iter().rev().find_map(|r| r.val_loss)
    }
    /// (step, loss) points of the training loss.
    pub fn train_curve(&self) -> Vec<(f64, f64)> {
        self.rows.iter().map(|r| (r.step as f64, r.train_loss)).collect()
    }
    pub fn val_curve(&self) -> Vec<(f64, f64)> {
        self.rows.iter().filter_map(|r| r.val_loss.map(|v| (r.step as f64, v))).collect()
    }
    /// Training throughput over the whole run.
    pub fn tokens_per_second(&self) -> Option<f64> {
        self.rows.last().filter(|r| r.elapsed_s > 0.0).map(|r| r.tokens as f64 / r.elapsed_s)
    }

    /// The rows as a polars DataFrame (missing validation losses are NaN).
    pub fn to_dataframe(&self) -> Result<polars::prelude::DataFrame> {
        Ok(self.table()?.dataframe().clone())
    }

    pub fn table(&self) -> Result<Table> {
        let r = &self.rows;
        Table::from_columns(vec![
            ("step", Col::U64(r.iter().map(|r| r.step as u64).collect())),
            ("lr", Col::F64(r.iter().map(|r| r.lr).collect())),
            ("train_loss", Col::F64(r.iter().map(|r| r.train_loss).collect())),
            ("val_loss", Col::F64(r.iter().map(|r| r.val_loss.unwrap_or(f64::NAN)).collect())),
            ("grad_norm", Col::F64(r.iter().map(|r| r.grad_norm).collect())),
            ("tokens", Col::U64(r.iter().map(|r| r.tokens as u64).collect())),
            ("elapsed_s", Col::F64(r.iter().map(|r| r.elapsed_s).collect())),
        ])
    }

    /// Loss over steps (train and, where measured, validation).
    pub fn loss_chart(&self) -> Chart {
        let mut c = Chart::lines("loss").x_label("step").y_label("cross-entropy (nats)").series("train", &self.train_curve());
        let v = self.val_curve();
        if !v.is_empty() {
            c = c.series("validation", &v);
        }
        c
    }

    /// A panel with the loss chart and the last rows of the table.
    pub fn panel(&self) -> Panel {
        let mut p = Panel::new().add(self.loss_chart());
        if let Ok(t) = self.table() {
            p = p.add(t.max_rows(10));
        }
        p
    }

    pub fn evcxr_display(&self) {
        self.panel().evcxr_display()
    }
}

impl std::fmt::Display for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.table() {
            Ok(t) => write!(f, "{t}"),
            Err(e) => write!(f, "<metrics: {e}>"),
        }
    }
}
