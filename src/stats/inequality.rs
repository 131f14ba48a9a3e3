//! Inequality of a distribution over categories: the Gini coefficient and the Lorenz curve
//! (how concentrated the predicted jobs of a group are, in Kirk et al. 2021).

use crate::{Error, Result};

fn check(values: &[f64]) -> Result<f64> {
    if values.is_empty() {
        return Err(Error::EmptyGroup("Gini/Lorenz of no values".into()));
    }
    if values.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
        return Err(Error::Data("Gini/Lorenz need finite, non-negative values".into()));
    }
    let total: f64 = values.iter().sum();
    if total <= 0.0 {
        return Err(Error::EmptyGroup("Gini/Lorenz of values that are all 0".into()));
    }
    Ok(total)
}

/// The Gini coefficient of non-negative values (counts or shares over n categories):
/// G = Σᵢ (2i − n − 1) x₍ᵢ₎ / (n Σ x), values sorted ascending, i from 1. 0 for equal values,
/// (n − 1)/n when one category holds everything. Equal to the mean absolute difference over
/// twice the mean, Σᵢⱼ |xᵢ − xⱼ| / (2 n² x̄).
pub fn gini(values: &[f64]) -> Result<f64> {
    let total = check(values)?;
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len() as f64;
    let s: f64 = v.iter().enumerate().map(|(i, x)| (2.0 * (i as f64 + 1.0) - n - 1.0) * x).sum();
    Ok(s / (n * total))
}

/// The Lorenz curve: points (k/n, share held by the k smallest), from (0, 0) to (1, 1).
pub fn lorenz_curve(values: &[f64]) -> Result<Vec<(f64, f64)>> {
    let total = check(values)?;
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len() as f64;
    let mut out = vec![(0.0, 0.0)];
    let mut cum = 0.0;
    for (i, x) in v.iter().enumerate() {
        cum += x;
        out.push(((i + 1) as f64 / n, cum / total));
    }
    Ok(out)
}
