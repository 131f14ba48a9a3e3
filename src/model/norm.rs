//! Normalisation layers. GPT-2 uses pre-LN LayerNorm with affine weight and bias.

use candle_core::Tensor;

use super::ops;
use crate::hooks::{HookCtx, HookPoint, Ln};
use crate::Result;

#[derive(Clone, Debug)]
pub struct LayerNorm {
    pub weight: Tensor, // (C,)
    pub bias: Tensor,   // (C,)
    pub eps: f64,
    pub which: Ln,
}

impl LayerNorm {
    pub fn forward(&self, x: &Tensor, hooks: &mut HookCtx) -> Result<Tensor> {
        let (ps, pn) = (HookPoint::LnScale(self.which), HookPoint::LnNormalized(self.which));
        if !hooks.wants(ps) && !hooks.wants(pn) {
            return Ok(ops::layer_norm(x, &self.weight, &self.bias, self.eps)?);
        }
        let (xc, scale) = ops::layer_norm_parts(x, self.eps)?;
        let scale = hooks.hook(ps, scale)?; // (B, T, 1): an edited scale (e.g. frozen) takes effect
        let n = hooks.hook(pn, xc.broadcast_div(&scale)?)?; // (B, T, C)
        Ok(n.broadcast_mul(&self.weight)?.broadcast_add(&self.bias)?)
    }
}
