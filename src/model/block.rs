//! A pre-LN transformer block: x + attn(ln1(x)), then + mlp(ln2(·)).

use candle_core::Tensor;

use super::{attention::Attention, mlp::Mlp, norm::LayerNorm, norm::NormMode};
use crate::hooks::{HookCtx, HookPoint};
use crate::Result;

#[derive(Clone, Debug)]
pub struct Block {
    /// The attention input LN (for queries and keys, and values unless `ln_1_v_mode` is set).
    pub ln_1: LayerNorm,
    /// When set, values read `ln_1` (same γ, β) in this mode instead: LayerNorm removal fakes
    /// the Q/K and V inputs at different times.
    pub ln_1_v_mode: Option<NormMode>,
    pub attn: Attention,
    pub ln_2: LayerNorm,
    pub mlp: Mlp,
    pub layer: usize,
}

impl Block {
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
        let ln2 = self.ln_2.forward(&resid_mid, hooks)?;
        let mlp_out = self.mlp.forward(&ln2, hooks)?;
        let mlp_out = hooks.hook(MlpOut(l), mlp_out)?;
        hooks.hook(ResidPost(l), (resid_mid + mlp_out)?)
    }
}
