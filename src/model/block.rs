//! A pre-LN transformer block: x + attn(ln1(x)), then + mlp(ln2(·)) (skipped in an
//! attention-only block, config `mlp = none`).

use candle_core::Tensor;

use super::{attention::Attention, mlp::Mlp, norm::LayerNorm, norm::NormMode};
use crate::hooks::{HookCtx, HookPoint};
use crate::{Error, Result};

#[derive(Clone, Debug)]
pub struct Block {
    /// The attention input LN (for queries and keys, and values unless `ln_1_v_mode` is set).
    pub ln_1: LayerNorm,
    /// When set, values read `ln_1` (same γ, β) in this mode instead: LayerNorm removal fakes
    /// the Q/K and V inputs at different times.
    pub ln_1_v_mode: Option<NormMode>,
    pub attn: Attention,
    /// The MLP input LN; in an attention-only block (`mlp` is `None`) an identity placeholder
    /// that no forward reads and that is not a parameter (not saved, not trained).
    pub ln_2: LayerNorm,
    /// `None` in an attention-only block (config `mlp = none`): no MLP weights exist.
    pub mlp: Option<Mlp>,
    pub layer: usize,
}

impl Block {
    /// The MLP, or a typed error naming the block when the model is attention-only.
    pub fn mlp(&self) -> Result<&Mlp> {
        self.mlp.as_ref().ok_or_else(|| no_mlp(self.layer))
    }
    pub fn mlp_mut(&mut self) -> Result<&mut Mlp> {
        let l = self.layer;
        self.mlp.as_mut().ok_or_else(|| no_mlp(l))
    }

    pub fn forward(&self, x: Tensor, mask: Option<&Tensor>, kv: Option<&mut Option<(Tensor, Tensor)>>, hooks: &mut HookCtx) -> Result<Tensor> {
        use HookPoint::*;
        let l = self.layer;
        let resid_pre = hooks.hook(ResidPre(l), x)?; // (B, T, C)
        let ln1 = self.ln_1.forward(&resid_pre, hooks)?;
        let ln1_v = match self.ln_1_v_mode {
            Some(mode) if mode != self.ln_1.mode => Some(self.ln_1.forward_as(&resid_pre, mode, None)?),
            _ => None,
        };
        let attn_out = self.attn.forward(&ln1, ln1_v.as_ref(), mask, kv, hooks)?;
        let attn_out = hooks.hook(AttnOut(l), attn_out)?;
        let resid_mid = hooks.hook(ResidMid(l), (resid_pre + attn_out)?)?;
        let Some(mlp) = &self.mlp else {
            // attention-only: resid_post = resid_mid, and no ln_2/MLP hook points fire
            return hooks.hook(ResidPost(l), resid_mid);
        };
        let ln2 = self.ln_2.forward(&resid_mid, hooks)?;
        let mlp_out = mlp.forward(&ln2, hooks)?;
        let mlp_out = hooks.hook(MlpOut(l), mlp_out)?;
        hooks.hook(ResidPost(l), (resid_mid + mlp_out)?)
    }
}

/// The error for asking an attention-only block for its MLP.
pub fn no_mlp(layer: usize) -> Error {
    Error::Unsupported(format!("block {layer} has no MLP: the model is attention-only (config mlp = none)"))
}
