//! Normalisation layers. GPT-2 uses pre-LN LayerNorm with affine weight and bias; LayerNorm
//! removal (Heimersheim 2024; arXiv 2507.02559) swaps each one for a "FakeLN" with a frozen
//! scale, or for nothing. The variant is data on the layer, so the block code has no branches.

use candle_core::{Tensor, D};

use super::ops;
use crate::hooks::{HookCtx, HookPoint, Ln};
use crate::Result;

/// How a LayerNorm normalises.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NormMode {
    /// (x − mean) / sqrt(var + eps) ⊙ γ + β
    LayerNorm,
    /// FakeLN: (x − mean) / σ ⊙ γ + β with a frozen σ (e.g. the average real scale). Linear in x.
    Fake { sigma: f64 },
    /// No normalisation and no affine map: the input passes through.
    Identity,
}

#[derive(Clone, Debug)]
pub struct LayerNorm {
    pub weight: Tensor, // (C,)
    pub bias: Tensor,   // (C,)
    pub eps: f64,
    pub which: Ln,
    pub mode: NormMode,
}

impl LayerNorm {
    pub fn forward(&self, x: &Tensor, hooks: &mut HookCtx) -> Result<Tensor> {
        self.forward_as(x, self.mode, Some(hooks))
    }

    /// Normalises `x` (…, C) in `mode`; with `hooks`, fires this LN's scale/normalized hooks.
    pub fn forward_as(&self, x: &Tensor, mode: NormMode, hooks: Option<&mut HookCtx>) -> Result<Tensor> {
        let (ps, pn) = (HookPoint::LnScale(self.which), HookPoint::LnNormalized(self.which));
        let hooked = hooks.as_ref().is_some_and(|h| h.wants(ps) || h.wants(pn));
        let (xc, scale) = match mode {
            NormMode::LayerNorm if !hooked => return Ok(ops::layer_norm(x, &self.weight, &self.bias, self.eps)?),
            NormMode::LayerNorm => ops::layer_norm_parts(x, self.eps)?,
            NormMode::Fake { sigma } => {
                let xc = x.broadcast_sub(&x.mean_keepdim(D::Minus1)?)?;
                let scale = Tensor::full(sigma, x.dims()[..x.rank() - 1].to_vec(), x.device())?.to_dtype(x.dtype())?.unsqueeze(D::Minus1)?;
                (xc, scale)
            }
            NormMode::Identity => {
                let ones = Tensor::ones(x.dims()[..x.rank() - 1].to_vec(), x.dtype(), x.device())?.unsqueeze(D::Minus1)?;
                let Some(h) = hooks else { return Ok(x.clone()) };
                h.hook(ps, ones)?;
                return h.hook(pn, x.clone());
            }
        };
        match hooks {
            Some(h) if hooked => {
                let scale = h.hook(ps, scale)?; // (B, T, 1): an edited scale (e.g. frozen) takes effect
                let n = h.hook(pn, xc.broadcast_div(&scale)?)?; // (B, T, C)
                Ok(n.broadcast_mul(&self.weight)?.broadcast_add(&self.bias)?)
            }
            _ => Ok(xc.broadcast_div(&scale)?.broadcast_mul(&self.weight)?.broadcast_add(&self.bias)?),
        }
    }
}

/// Checkpoints with `layer_norm_epsilon ≥ 1e6` are LayerNorm-free in the released convention
/// (arXiv 2507.02559: eps = 1e12 with γ scaled by 1e6): sqrt(var + eps) is then sqrt(eps) to
/// ~1e-12 relative, so we load those LNs as exactly linear FakeLNs with σ = sqrt(eps).
pub const LN_FREE_EPS: f64 = 1e6;

pub(crate) fn default_mode(cfg: &super::Gpt2Config) -> NormMode {
    if cfg.layer_norm_epsilon >= LN_FREE_EPS {
        NormMode::Fake { sigma: cfg.layer_norm_epsilon.sqrt() }
    } else {
        NormMode::LayerNorm
    }
}

/// One normalisation site, as LayerNorm removal schedules them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LnTarget {
    /// ln_1 as seen by queries and keys
    Ln1Qk(usize),
    /// ln_1 as seen by values
    Ln1V(usize),
    Ln2(usize),
    Final,
}

impl std::fmt::Display for LnTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LnTarget::Ln1Qk(i) => write!(f, "blocks.{i}.ln1(qk)"),
            LnTarget::Ln1V(i) => write!(f, "blocks.{i}.ln1(v)"),
            LnTarget::Ln2(i) => write!(f, "blocks.{i}.ln2"),
            LnTarget::Final => write!(f, "ln_final"),
        }
    }
}
