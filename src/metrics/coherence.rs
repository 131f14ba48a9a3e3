//! Coherence (Su & Collier 2023, §5.1; official `open_ended_generation/english/compute_coherence.py`):
//! the mean log-probability of a generated continuation given its prefix, under a separate
//! scoring language model. The paper's scorer is OPT-2.7B (the repository also stores
//! OPT-125M and OPT-13B results); it tokenises the prefix with a BOS in front and the
//! continuation separately, averages log p over the continuation's tokens, and averages that
//! over the texts, skipping empty continuations. Higher (closer to 0) is more coherent.
//!
//! Any [`Gpt2`] can score here; at ci scale that is a tiny model, a weak proxy.

use candle_core::{DType, Tensor, D};

use crate::model::ops::log_softmax_last;
use crate::model::Gpt2;
use crate::tokenizer::Gpt2Tokenizer;
use crate::{Error, Result};

/// Mean log p(continuation token | prefix, earlier continuation tokens) under `scorer`.
/// `prefix` should start with the BOS token, as the official evaluator's does.
pub fn coherence(scorer: &Gpt2, prefix: &[u32], continuation: &[u32]) -> Result<f64> {
    Ok(coherence_batch(scorer, &[(prefix.to_vec(), continuation.to_vec())], 1)?[0])
}

/// [`coherence`] of many (prefix, continuation) pairs, `batch_size` sequences per forward.
/// Rows are right-padded: under causal attention padding after a sequence changes nothing
/// before it, so the scores equal one-by-one scoring.
pub fn coherence_batch(scorer: &Gpt2, pairs: &[(Vec<u32>, Vec<u32>)], batch_size: usize) -> Result<Vec<f64>> {
    let mut out = Vec::with_capacity(pairs.len());
    for chunk in pairs.chunks(batch_size.max(1)) {
        if let Some((p, c)) = chunk.iter().find(|(p, c)| p.is_empty() || c.is_empty()) {
            return Err(Error::EmptyInput(format!("coherence needs a non-empty prefix and continuation (got {} and {} tokens)", p.len(), c.len())));
        }
        let t = chunk.iter().map(|(p, c)| p.len() + c.len()).max().unwrap_or(0);
        let (mut ids, mut next) = (Vec::with_capacity(chunk.len() * t), Vec::with_capacity(chunk.len() * t));
        for (p, c) in chunk {
            let row: Vec<u32> = p.iter().chain(c).copied().chain(std::iter::repeat_n(0, t - p.len() - c.len())).collect();
            next.extend(row[1..].iter().copied().chain([0]));
            ids.extend(row);
        }
        let dev = scorer.device();
        let b = chunk.len();
        let logits = scorer.forward(&Tensor::from_vec(ids, (b, t), dev)?)?; // (B, T, V)
        let lp = log_softmax_last(&logits.to_dtype(DType::F32)?)?;
        let picked: Vec<Vec<f32>> = lp.gather(&Tensor::from_vec(next, (b, t, 1), dev)?, D::Minus1)?.squeeze(2)?.to_vec2()?;
        for ((p, c), row) in chunk.iter().zip(picked) {
            // position i predicts token i + 1: the continuation is predicted from p.len() − 1 on
            let s: f64 = row[p.len() - 1..p.len() - 1 + c.len()].iter().map(|&x| x as f64).sum();
            out.push(s / c.len() as f64);
        }
    }
    Ok(out)
}

/// A scoring model with its tokenizer, scoring texts as the official evaluator does.
#[derive(Clone)]
pub struct CoherenceEvaluator {
    pub model: Gpt2,
    pub tokenizer: Gpt2Tokenizer,
}

impl CoherenceEvaluator {
    pub fn new(model: Gpt2, tokenizer: Gpt2Tokenizer) -> Self {
        CoherenceEvaluator { model, tokenizer }
    }

    /// The coherence of one (prefix, continuation) pair of texts; `None` when the
    /// continuation has no word (the official script skips those).
    pub fn score(&self, prefix: &str, continuation: &str) -> Result<Option<f64>> {
        if continuation.split_whitespace().next().is_none() {
            return Ok(None);
        }
        let p = self.tokenizer.ids(prefix, true)?;
        let c = self.tokenizer.encode(continuation)?;
        if c.is_empty() {
            return Ok(None);
        }
        Ok(Some(coherence(&self.model, &p, &c)?))
    }

    /// The mean coherence over pairs (empty continuations skipped; NaN if all are).
    pub fn score_corpus<P: AsRef<str>, C: AsRef<str>>(&self, pairs: &[(P, C)]) -> Result<f64> {
        let mut v = vec![];
        for (p, c) in pairs {
            if let Some(s) = self.score(p.as_ref(), c.as_ref())? {
                v.push(s);
            }
        }
        Ok(if v.is_empty() { f64::NAN } else { v.iter().sum::<f64>() / v.len() as f64 })
    }
}
