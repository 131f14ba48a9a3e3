//! The logit lens (nostalgebraist 2020): decode the residual stream after every layer with the
//! final LayerNorm and the unembedding.

use candle_core::{Tensor, D};

use crate::hooks::ActivationCache;
use crate::model::{ops, Gpt2};
use crate::Result;

/// For each residual snapshot (`accumulated_resid`: before every block and after the last),
/// the log-probability of `target` at position `pos` of batch row 0: `(labels, log-probs)`.
/// Needs every `hook_resid_pre` and the last `hook_resid_post` in the cache.
pub fn logit_lens(model: &Gpt2, cache: &ActivationCache, pos: usize, target: u32) -> Result<(Vec<String>, Vec<f32>)> {
    let (stack, labels) = cache.accumulated_resid(false)?; // (L+1, B, T, C)
    let at = stack.narrow(1, 0, 1)?.narrow(2, pos, 1)?.squeeze(2)?.squeeze(1)?; // (L+1, C)
    let lp = ops::log_softmax_last(&model.unembed(&at)?)?; // (L+1, V)
    let idx = Tensor::full(target, (lp.dim(0)?, 1), lp.device())?;
    let v: Vec<f32> = lp.gather(&idx, D::Minus1)?.squeeze(1)?.to_vec1()?;
    Ok((labels, v))
}
