//! Percentile bootstrap confidence intervals (Efron & Tibshirani 1993, ch. 13), seeded.

use rand::{rngs::StdRng, Rng, SeedableRng};

use crate::{Error, Result};

/// A confidence interval around a point estimate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ConfidenceInterval {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
    /// The coverage asked for, e.g. 0.95.
    pub level: f64,
}

impl ConfidenceInterval {
    pub fn contains(&self, v: f64) -> bool {
        self.low <= v && v <= self.high
    }
}

impl std::fmt::Display for ConfidenceInterval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.4} [{:.4}, {:.4}]", self.estimate, self.low, self.high)
    }
}

/// The q-quantile of `values` with linear interpolation between order statistics (numpy's
/// default `method="linear"`).
pub fn quantile(values: &[f64], q: f64) -> Result<f64> {
    if values.is_empty() || !(0.0..=1.0).contains(&q) || values.iter().any(|v| v.is_nan()) {
        return Err(Error::Data(format!("quantile {q} of {} values (need 0 ≤ q ≤ 1, values, no NaN)", values.len())));
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let h = q * (v.len() - 1) as f64;
    let (lo, frac) = (h.floor() as usize, h - h.floor());
    Ok(if lo + 1 < v.len() { v[lo] + frac * (v[lo + 1] - v[lo]) } else { v[lo] })
}

/// Percentile bootstrap: `resamples` samples of `data` with replacement (seeded), the
/// statistic on each, and the (1−level)/2 and (1+level)/2 quantiles of those values.
pub fn bootstrap_ci(data: &[f64], statistic: &dyn Fn(&[f64]) -> f64, resamples: usize, level: f64, seed: u64) -> Result<ConfidenceInterval> {
    if data.is_empty() {
        return Err(Error::EmptyGroup("bootstrap of no observations".into()));
    }
    if resamples < 2 || !(0.0 < level && level < 1.0) {
        return Err(Error::Data(format!(
            "bootstrap needs ≥ 2 resamples and 0 < level < 1 (got {resamples}, {level})"
        )));
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut sample = vec![0.0; data.len()];
    let mut stats = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        for s in sample.iter_mut() {
            *s = data[rng.random_range(0..data.len())];
        }
        stats.push(statistic(&sample));
    }
    let alpha = (1.0 - level) / 2.0;
    Ok(ConfidenceInterval {
        estimate: statistic(data),
        low: quantile(&stats, alpha)?,
        high: quantile(&stats, 1.0 - alpha)?,
        level,
    })
}

/// The arithmetic mean (0 for no values).
pub fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}
