//! Numeric building blocks that stay differentiable.
//!
//! candle 0.11's fused `softmax_last_dim` and `layer_norm` have no backward pass: gradients
//! silently stop at them. We use candle's kernels only when no gradient is tracked
//! (`!x.track_op()`), our own fused kernels with backward (`kernels.rs`; on CUDA
//! `cuda_kernels.rs`) when training on the CPU or a GPU, and the composite [`reference`] form
//! elsewhere (other devices and dtypes). Tests check every path against
//! Hugging Face, against each other and against finite differences.

use candle_core::{DType, Result, Tensor, D};

/// Softmax over the last dim (candle's fused kernel without autograd, our fused kernel with
/// backward when tracking, the composite form for devices and dtypes without it).
pub fn softmax_last(x: &Tensor) -> Result<Tensor> {
    // candle's fused kernel panics on a last dim of 0 (zero-sized chunks) and indexes out of
    // range on rank 0; the softmax over no values is no values
    match x.dims().last() {
        None => candle_core::bail!("softmax over the last dim of a rank-0 tensor"),
        Some(0) => return Ok(x.clone()),
        Some(_) => {}
    }
    if !x.track_op() && x.dtype() == DType::F32 {
        return candle_nn::ops::softmax_last_dim(&x.contiguous()?);
    }
    if let Some(y) = super::kernels::softmax_last(x)? {
        return Ok(y);
    }
    // Shift-invariance makes the max a constant for the gradient: detached inside.
    reference::softmax_last(x)
}

/// Log-softmax over the last dim (differentiable).
pub fn log_softmax_last(x: &Tensor) -> Result<Tensor> {
    let max = x.max_keepdim(D::Minus1)?.detach();
    let shifted = x.broadcast_sub(&max)?;
    let lse = shifted.exp()?.sum_keepdim(D::Minus1)?.log()?;
    shifted.broadcast_sub(&lse)
}

/// Mean cross-entropy of `logits` `(N, V)` against `targets` `(N,)` u32 (differentiable):
/// the fused kernel (`xent.rs`) on the CPU and CUDA, the composite form elsewhere.
pub fn cross_entropy(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    if let Some(l) = super::xent::cross_entropy(logits, targets)? {
        return Ok(l);
    }
    reference::cross_entropy(logits, targets)
}

/// LayerNorm parts: returns `(centred, scale)` with `scale = sqrt(var + eps)` `(…, 1)`;
/// the normalised input is `centred / scale`.
pub fn layer_norm_parts(x: &Tensor, eps: f64) -> Result<(Tensor, Tensor)> {
    let xc = x.broadcast_sub(&x.mean_keepdim(D::Minus1)?)?;
    let scale = (xc.sqr()?.mean_keepdim(D::Minus1)? + eps)?.sqrt()?;
    Ok((xc, scale))
}

/// LayerNorm with affine weight and bias.
pub fn layer_norm(x: &Tensor, w: &Tensor, b: &Tensor, eps: f64) -> Result<Tensor> {
    if !x.track_op() && !w.track_op() && !b.track_op() && x.dtype() == DType::F32 {
        return candle_nn::ops::layer_norm(&x.contiguous()?, w, b, eps as f32);
    }
    if let Some(y) = super::kernels::layer_norm(x, w, b, eps)? {
        return Ok(y);
    }
    reference::layer_norm(x, w, b, eps)
}

/// `x @ w + b` for HF `Conv1D` weights stored `[in, out]`; `x` is `(…, in)`.
pub fn conv1d(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
    let dims = x.dims().to_vec();
    let (inp, out) = w.dims2()?;
    if inp == 0 {
        candle_core::bail!("conv1d: the weight has no input rows");
    }
    let rows = x.elem_count() / inp;
    // One 2-D matmul over all positions: cheaper than a broadcast batched matmul (and a
    // weight-streaming kernel when decoding, gemv.rs).
    let y = super::gemv::matmul(&x.reshape((rows, inp))?, w)?;
    // When training, the fused bias add (its gradient a fast column sum; candle's reduction
    // over rows is strided); otherwise candle's broadcast add.
    let fused = if y.track_op() || b.track_op() { super::kernels::bias_add(&y, b)? } else { None };
    let y = match fused {
        Some(y) => y,
        None => y.broadcast_add(b)?,
    };
    let mut od = dims;
    // a rank-0 input reshapes to (1, 1) when the weight is (1, out): an error, not a panic
    *od.last_mut().ok_or_else(|| candle_core::Error::Msg("conv1d needs an input of rank >= 1".into()))? = out;
    y.reshape(od)
}

/// Composite (op-by-op) forms, kept as the reference the fused kernels are tested against
/// and as the path on devices without them.
pub mod reference {
    use super::*;

    pub fn softmax_last(x: &Tensor) -> Result<Tensor> {
        let max = x.max_keepdim(D::Minus1)?.detach();
        let e = x.broadcast_sub(&max)?.exp()?;
        e.broadcast_div(&e.sum_keepdim(D::Minus1)?)
    }

    pub fn layer_norm(x: &Tensor, w: &Tensor, b: &Tensor, eps: f64) -> Result<Tensor> {
        let (xc, scale) = layer_norm_parts(x, eps)?;
        xc.broadcast_div(&scale)?.broadcast_mul(w)?.broadcast_add(b)
    }

    pub fn cross_entropy(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
        let lp = log_softmax_last(logits)?;
        let picked = lp.gather(&targets.unsqueeze(1)?, 1)?;
        picked.neg()?.mean_all()
    }

    pub fn gelu_new(x: &Tensor) -> Result<Tensor> {
        x.gelu()
    }
}
