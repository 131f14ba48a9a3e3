//! Statistics of a model's next-token distributions: cross-entropy, entropy, expected
//! calibration error, Jensen–Shannon divergence between two models.

use candle_core::{DType, Tensor, D};

use crate::model::ops::log_softmax_last;
use crate::Result;

/// Entropy (nats) of the softmax of `logits` `(…, V)`: shape `(…)`.
pub fn entropy(logits: &Tensor) -> Result<Tensor> {
    let lp = log_softmax_last(&logits.to_dtype(DType::F32)?)?;
    Ok((lp.exp()? * &lp)?.sum(D::Minus1)?.neg()?)
}

/// Mean of a tensor as f64.
pub fn mean(t: &Tensor) -> Result<f64> {
    Ok(t.to_dtype(DType::F64)?.mean_all()?.to_scalar::<f64>()?)
}

/// Per-token cross-entropy (nats) of `logits` `(B, T, V)` against `targets` `(B, T)`: `(B, T)`.
pub fn cross_entropy_per_token(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    // targets sliced from a batch (ids.narrow(1, 1, T − 1)) are strided; gather needs contiguous ids
    let lp = log_softmax_last(&logits.to_dtype(DType::F32)?)?;
    Ok(lp.gather(&targets.to_dtype(DType::U32)?.contiguous()?.unsqueeze(D::Minus1)?, D::Minus1)?.squeeze(D::Minus1)?.neg()?)
}

/// Expected calibration error of the top-1 prediction, `n_bins` equal-width confidence bins:
/// Σ_b (n_b / N)·|accuracy_b − confidence_b|.
pub fn expected_calibration_error(logits: &Tensor, targets: &Tensor, n_bins: usize) -> Result<f64> {
    if n_bins == 0 {
        return Err(crate::Error::EmptyInput("expected_calibration_error needs n_bins >= 1".into()));
    }
    let v = logits.dim(D::Minus1)?;
    let probs = crate::model::ops::softmax_last(&logits.to_dtype(DType::F32)?)?.reshape(((), v))?;
    let conf: Vec<f32> = probs.max(D::Minus1)?.to_vec1()?;
    let pred: Vec<u32> = probs.argmax(D::Minus1)?.to_vec1()?;
    let tgt: Vec<u32> = targets.flatten_all()?.to_dtype(DType::U32)?.to_vec1()?;
    let mut bins = vec![(0usize, 0f64, 0f64); n_bins.max(1)];
    for ((c, p), t) in conf.iter().zip(&pred).zip(&tgt) {
        let i = ((*c as f64 * n_bins as f64) as usize).min(n_bins - 1);
        bins[i].0 += 1;
        bins[i].1 += (p == t) as u8 as f64;
        bins[i].2 += *c as f64;
    }
    let n = conf.len().max(1) as f64;
    Ok(bins.iter().filter(|b| b.0 > 0).map(|(k, acc, c)| (*k as f64 / n) * (acc / *k as f64 - c / *k as f64).abs()).sum())
}

/// Mean Jensen–Shannon divergence (nats) between the next-token distributions of two logits
/// tensors of the same shape `(…, V)`.
pub fn js_divergence(logits_p: &Tensor, logits_q: &Tensor) -> Result<f64> {
    let lp = log_softmax_last(&logits_p.to_dtype(DType::F32)?)?;
    let lq = log_softmax_last(&logits_q.to_dtype(DType::F32)?)?;
    let (p, q) = (lp.exp()?, lq.exp()?);
    let m = ((&p + &q)? * 0.5)?;
    let lm = m.clamp(1e-30, 1.0)?.log()?;
    let kl_pm = (&p * (&lp - &lm)?)?.sum(D::Minus1)?;
    let kl_qm = (&q * (&lq - &lm)?)?.sum(D::Minus1)?;
    mean(&((kl_pm + kl_qm)? * 0.5)?)
}
