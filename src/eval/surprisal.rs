//! Per-token surprisal, per-sentence perplexity and marker surprisal, as the Mission: Impossible
//! evaluation scripts compute them (`utils.compute_surprisals`, `perplexities/perplexities.py`,
//! `hop_surprisal/hop_surprisal.py`).
//!
//! Sentences are scored on their own, with no BOS token: the first token has no surprisal and
//! a sentence of `n` tokens has `n - 1` scored positions. Batches are right-padded; under a causal
//! mask a real token never sees the padding after it, so no attention mask is needed and padded
//! positions are simply not read (the repository's padding mask, exactly).

use candle_core::{DType, Device, Tensor, D};

use crate::model::{ops, Gpt2};
use crate::{Error, Result};

/// `1 / ln 2`: nats → bits.
const BITS_PER_NAT: f64 = std::f64::consts::LOG2_E;

/// Surprisal in **bits** of every token given the tokens before it in its own sequence:
/// `s[i][t] = -log2 p(seq_i[t] | seq_i[..t])` for `t >= 1`, and `s[i][0] = NaN` (no context), so
/// indices line up with the sequence (as the repository's `[None] + surprisals`).
///
/// Sequences are sorted by length and scored `batch_size` at a time. Errors on an empty
/// sequence or one longer than the model's context, and on a NaN log-probability (a diverged
/// model), so that no average downstream silently skips it.
pub fn token_surprisals(model: &Gpt2, seqs: &[Vec<u32>], batch_size: usize) -> Result<Vec<Vec<f32>>> {
    let n_ctx = model.cfg.n_positions;
    if let Some((i, s)) = seqs.iter().enumerate().find(|(_, s)| s.is_empty() || s.len() > n_ctx) {
        return Err(Error::Shape(format!("sequence {i} has {} tokens; scoring needs 1..={n_ctx}", s.len())));
    }
    let mut order: Vec<usize> = (0..seqs.len()).collect();
    order.sort_by_key(|&i| seqs[i].len());
    let mut out: Vec<Vec<f32>> = vec![Vec::new(); seqs.len()];
    for chunk in order.chunks(batch_size.max(1)) {
        let t = chunk.iter().map(|&i| seqs[i].len()).max().unwrap_or(1);
        if t < 2 {
            for &i in chunk {
                out[i] = vec![f32::NAN; seqs[i].len()];
            }
            continue;
        }
        let b = chunk.len();
        let mut ids = Vec::with_capacity(b * t);
        for &i in chunk {
            ids.extend_from_slice(&seqs[i]);
            ids.extend(std::iter::repeat_n(0u32, t - seqs[i].len()));
        }
        let ids = Tensor::from_vec(ids, (b, t), &Device::Cpu)?.to_device(model.device())?;
        let logits = model.forward(&ids)?.narrow(1, 0, t - 1)?.to_dtype(DType::F32)?; // (B, T-1, V)
        let lp = ops::log_softmax_last(&logits)?.contiguous()?;
        let targets = ids.narrow(1, 1, t - 1)?.contiguous()?.unsqueeze(D::Minus1)?; // (B, T-1, 1)
        let got: Vec<Vec<f32>> = lp.gather(&targets, D::Minus1)?.squeeze(D::Minus1)?.to_device(&Device::Cpu)?.to_vec2()?;
        for (row, &i) in got.into_iter().zip(chunk) {
            let n = seqs[i].len();
            // NaN here is a diverged model: averaging would skip it and report a finite
            // perplexity, so it is an error (the NaN at index 0 only means "no context")
            if let Some(t) = row[..n - 1].iter().position(|l| l.is_nan()) {
                return Err(Error::NonFiniteOutput(format!("sequence {i}: the log-probability of token {} is NaN", t + 1)));
            }
            let mut s = Vec::with_capacity(n);
            s.push(f32::NAN);
            s.extend(row[..n - 1].iter().map(|&l| (-(l as f64) * BITS_PER_NAT) as f32));
            out[i] = s;
        }
    }
    Ok(out)
}

/// Per-sentence perplexity (`perplexities.py::get_perplexities`): `exp` of the mean next-token
/// loss (nats) over a sentence's scored positions. Sequences longer than the context are cut to
/// it first (the repository's `seq[:MAX_SEQ_LEN]`); a 1-token sequence gives NaN.
pub fn sentence_perplexities(model: &Gpt2, seqs: &[Vec<u32>], batch_size: usize) -> Result<Vec<f64>> {
    let n_ctx = model.cfg.n_positions;
    let cut: Vec<Vec<u32>> = seqs.iter().map(|s| s[..s.len().min(n_ctx)].to_vec()).collect();
    let s = token_surprisals(model, &cut, batch_size)?;
    Ok(s.iter()
        .map(|row| {
            if row.len() < 2 {
                return f64::NAN;
            }
            let bits: f64 = row[1..].iter().map(|&b| b as f64).sum();
            (bits / BITS_PER_NAT / (row.len() - 1) as f64).exp()
        })
        .collect())
}

/// Geometric mean (the paper's summary of per-sentence perplexities); NaNs are skipped.
pub fn geometric_mean(xs: &[f64]) -> f64 {
    let v: Vec<f64> = xs.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    (v.iter().map(|x| x.ln()).sum::<f64>() / v.len() as f64).exp()
}

/// Mean and the half-width of a normal 95% confidence interval (1.96 standard errors).
pub fn mean_ci95(xs: &[f64]) -> (f64, f64) {
    let v: Vec<f64> = xs.iter().copied().filter(|x| !x.is_nan()).collect();
    let n = v.len() as f64;
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let m = v.iter().sum::<f64>() / n;
    if v.len() < 2 {
        return (m, f64::NAN);
    }
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
    (m, 1.96 * (var / n).sqrt())
}

/// One test item of the hop surprisal experiment: the sequence with its first marker, the same
/// sequence with that marker deleted, and the marker's index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarkerPair {
    pub with_marker: Vec<u32>,
    pub without_marker: Vec<u32>,
    pub index: usize,
}

/// `hop_surprisal.py`'s test items: `eos` (when given) appended to every sequence, the first
/// token in `markers` found, and a copy made without it. Sequences with no marker, or with the
/// marker first (nothing to condition on), are skipped.
pub fn marker_pairs(seqs: &[Vec<u32>], markers: &[u32], eos: Option<u32>) -> Vec<MarkerPair> {
    seqs.iter()
        .filter_map(|s| {
            let mut with_marker = s.clone();
            with_marker.extend(eos);
            let index = with_marker.iter().position(|t| markers.contains(t)).filter(|&i| i > 0)?;
            let mut without_marker = with_marker.clone();
            without_marker.remove(index);
            (index < without_marker.len()).then_some(MarkerPair { with_marker, without_marker, index })
        })
        .collect()
}

/// Surprisal (bits) of the first marker, and of the token at the same index once the marker is
/// deleted, per test item. The paper's Experiment 2 plots both means over checkpoints and their
/// difference `no_marker − marker`: large when a model expects the marker where it is.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MarkerSurprisals {
    pub marker: Vec<f64>,
    pub no_marker: Vec<f64>,
}

impl MarkerSurprisals {
    /// Scores `pairs` with `model`.
    pub fn compute(model: &Gpt2, pairs: &[MarkerPair], batch_size: usize) -> Result<Self> {
        let with: Vec<Vec<u32>> = pairs.iter().map(|p| p.with_marker.clone()).collect();
        let without: Vec<Vec<u32>> = pairs.iter().map(|p| p.without_marker.clone()).collect();
        if let Some((i, p)) = pairs.iter().enumerate().find(|(_, p)| p.index == 0 || p.index >= p.with_marker.len() || p.index >= p.without_marker.len()) {
            return Err(Error::Shape(format!("marker pair {i}: index {} must be in 1..{}", p.index, p.with_marker.len().min(p.without_marker.len()))));
        }
        let sw = token_surprisals(model, &with, batch_size)?;
        let so = token_surprisals(model, &without, batch_size)?;
        Ok(MarkerSurprisals {
            marker: pairs.iter().zip(&sw).map(|(p, s)| s[p.index] as f64).collect(),
            no_marker: pairs.iter().zip(&so).map(|(p, s)| s[p.index] as f64).collect(),
        })
    }
    pub fn len(&self) -> usize {
        self.marker.len()
    }
    pub fn is_empty(&self) -> bool {
        self.marker.is_empty()
    }
    /// Mean marker surprisal (bits) and its 95% half-width.
    pub fn marker_mean(&self) -> (f64, f64) {
        mean_ci95(&self.marker)
    }
    /// Mean no-marker surprisal (bits) and its 95% half-width.
    pub fn no_marker_mean(&self) -> (f64, f64) {
        mean_ci95(&self.no_marker)
    }
    /// Mean of `no_marker − marker` per item (bits) and its 95% half-width.
    pub fn difference_mean(&self) -> (f64, f64) {
        let d: Vec<f64> = self.no_marker.iter().zip(&self.marker).map(|(n, m)| n - m).collect();
        mean_ci95(&d)
    }
}
