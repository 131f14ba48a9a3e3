//! The position-wise MLP: Conv1D up, GELU, Conv1D down.

use candle_core::Tensor;

use super::config::Activation;
use super::ops;
use crate::hooks::{HookCtx, HookPoint};
use crate::Result;

#[derive(Clone, Debug)]
pub struct Mlp {
    pub c_fc_w: Tensor,   // (C, M)
    pub c_fc_b: Tensor,   // (M,)
    pub c_proj_w: Tensor, // (M, C)
    pub c_proj_b: Tensor, // (C,)
    pub act: Activation,
    pub layer: usize,
}

pub fn activate(x: &Tensor, act: Activation) -> candle_core::Result<Tensor> {
    match act {
        // candle's `gelu` is the tanh approximation ("gelu_new"); `gelu_erf` is exact.
        Activation::GeluNew => match super::kernels::gelu_new(x)? {
            Some(y) => Ok(y),
            None => x.gelu(),
        },
        Activation::Gelu => x.gelu_erf(),
        Activation::Relu => x.relu(),
    }
}

impl Mlp {
    pub fn forward(&self, x: &Tensor, hooks: &mut HookCtx) -> Result<Tensor> {
        let pre = hooks.hook(HookPoint::MlpPre(self.layer), ops::conv1d(x, &self.c_fc_w, &self.c_fc_b)?)?; // (B, T, M)
        let post = hooks.hook(HookPoint::MlpPost(self.layer), activate(&pre, self.act)?)?; // (B, T, M)
        Ok(ops::conv1d(&post, &self.c_proj_w, &self.c_proj_b)?) // (B, T, C)
    }
}
