//! A pre-LN transformer block: x + attn(ln1(x)), then + mlp(ln2(·)).

use candle_core::Tensor;

use super::{attention::Attention, mlp::Mlp, norm::LayerNorm};
use crate::hooks::{HookCtx, HookPoint};
use crate::Result;

#[derive(Clone, Debug)]
pub struct Block {
    pub ln_1: LayerNorm,
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
        let attn_out = self.attn.forward(&ln1, mask, kv, hooks)?;
        let attn_out = hooks.hook(AttnOut(l), attn_out)?;
        let resid_mid = hooks.hook(ResidMid(l), (resid_pre + attn_out)?)?;
        let ln2 = self.ln_2.forward(&resid_mid, hooks)?;
        let mlp_out = self.mlp.forward(&ln2, hooks)?;
        let mlp_out = hooks.hook(MlpOut(l), mlp_out)?;
        hooks.hook(ResidPost(l), (resid_mid + mlp_out)?)
    }
}
