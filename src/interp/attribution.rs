//! Direct logit attribution (DLA) and the exact direct effect by ablation.
//!
//! DLA of a component `c` (anything written into the residual stream) to token `t` at a
//! position is `((c − mean c) / s) · (γ ⊙ W_U[t])`, with `s` the final LayerNorm scale cached on
//! the clean run (TransformerLens' `apply_ln_to_stack`). The direct effect (DE) is what removing
//! `c` from the final residual does to the logit, with the LayerNorm recomputed:
//! `logit(LN(r)) − logit(LN(r − c))`. When the final norm is linear (LayerNorm removed, a
//! FakeLN with fixed σ), DE = DLA exactly; with a real LayerNorm they differ.

use candle_core::{DType, Tensor, D};

use crate::hooks::{ActivationCache, HookPoint};
use crate::model::{Gpt2, NormMode};
use crate::{Error, Result};

/// Each head's output written into the residual stream at layer `layer`: `(B, T, H, C)`,
/// `z[b, t, h, :] @ W_O[h]` (TransformerLens' `hook_result`; the c_proj bias is not a head's).
/// Needs `blocks.{layer}.attn.hook_z` in the cache.
pub fn head_results(model: &Gpt2, cache: &ActivationCache, layer: usize) -> Result<Tensor> {
    let z = cache.get(HookPoint::Z(layer))?; // (B, T, H, dh)
    let (b, t, h, dh) = z.dims4()?;
    let c = model.cfg.n_embd;
    let w = model.blocks.get(layer).ok_or_else(|| Error::Shape(format!("no layer {layer}")))?.attn.c_proj_w.reshape((h, dh, c))?; // (H, dh, C)
    // (H, B·T, dh) @ (H, dh, C) → (H, B·T, C)
    let zh = z.permute((2, 0, 1, 3))?.contiguous()?.reshape((h, b * t, dh))?;
    let out = zh.matmul(&w)?.reshape((h, b, t, c))?.permute((1, 2, 0, 3))?.contiguous()?;
    Ok(out)
}

/// The logits of `targets` only: `LN_f(x) · W_U[target]` for x `(…, C)`, targets `(…)`.
pub fn target_logits(model: &Gpt2, x: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let normed = model.ln_f.forward_as(x, model.ln_f.mode, None)?;
    let w = model.wte.index_select(&targets.flatten_all()?.to_dtype(DType::U32)?, 0)?.reshape(normed.shape())?;
    Ok((normed * w)?.sum(D::Minus1)?)
}

/// DLA of each component `(N, B, T, C)` to the target token at each position: `(N, B, T)`.
/// Uses the clean run's final LayerNorm scale from `cache` (`ln_final.hook_scale`).
pub fn direct_logit_attribution(model: &Gpt2, cache: &ActivationCache, components: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let scaled = match model.ln_f.mode {
        NormMode::Identity => components.clone(),
        _ => cache.apply_ln_to_stack(components)?,
    };
    let gamma = match model.ln_f.mode {
        NormMode::Identity => model.ln_f.weight.ones_like()?,
        _ => model.ln_f.weight.clone(),
    };
    let (b, t) = targets.dims2()?;
    let c = model.cfg.n_embd;
    let wu = model.wte.index_select(&targets.flatten_all()?.to_dtype(DType::U32)?, 0)?.reshape((b, t, c))?; // (B, T, C)
    let dir = wu.broadcast_mul(&gamma)?; // γ ⊙ W_U[t]
    Ok(scaled.broadcast_mul(&dir)?.sum(D::Minus1)?)
}

/// The exact direct effect of each component `(N, B, T, C)` given the final residual stream
/// `resid_final` `(B, T, C)`: `logit(LN(r)) − logit(LN(r − c))`, shape `(N, B, T)`.
pub fn direct_effect(model: &Gpt2, resid_final: &Tensor, components: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let full = target_logits(model, resid_final, targets)?; // (B, T)
    let n = components.dim(0)?;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let without = (resid_final - components.get(i)?)?;
        out.push((&full - target_logits(model, &without, targets)?)?);
    }
    Ok(Tensor::stack(&out, 0)?)
}

/// Normalised mean absolute error per component: mean|DLA − DE| / mean|DE| over batch and
/// positions, for `(N, B, T)` inputs.
pub fn nmae(dla: &Tensor, de: &Tensor) -> Result<Vec<f64>> {
    let diff = (dla - de)?.abs()?.flatten_from(1)?.mean(1)?;
    let scale = de.abs()?.flatten_from(1)?.mean(1)?;
    let d: Vec<f64> = diff.to_dtype(DType::F64)?.to_vec1()?;
    let s: Vec<f64> = scale.to_dtype(DType::F64)?.to_vec1()?;
    Ok(d.iter().zip(&s).map(|(a, b)| a / b.max(1e-12)).collect())
}

/// Every head's output plus each MLP's, stacked `(n_layer·(n_head + 1), B, T, C)`, with labels
/// `L{l}H{h}` and `L{l}MLP`. Needs hook_z and hook_mlp_out of every layer.
pub fn head_and_mlp_components(model: &Gpt2, cache: &ActivationCache) -> Result<(Tensor, Vec<String>)> {
    let (mut parts, mut labels) = (vec![], vec![]);
    for l in 0..model.cfg.n_layer {
        let r = head_results(model, cache, l)?; // (B, T, H, C)
        for h in 0..model.cfg.n_head {
            parts.push(r.narrow(2, h, 1)?.squeeze(2)?);
            labels.push(format!("L{l}H{h}"));
        }
        parts.push(cache.get(HookPoint::MlpOut(l))?.clone());
        labels.push(format!("L{l}MLP"));
    }
    Ok((Tensor::stack(&parts, 0)?, labels))
}

/// The final residual stream of a cache (`blocks.{last}.hook_resid_post`).
pub fn final_resid(model: &Gpt2, cache: &ActivationCache) -> Result<Tensor> {
    Ok(cache.get(HookPoint::ResidPost(model.cfg.n_layer - 1))?.clone())
}

