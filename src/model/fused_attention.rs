//! `softmax(q kᵀ + mask) v` as one autograd node, for training on CUDA; and the heads'
//! split and merge around it as one CUDA pass each.
//!
//! Why: candle's autograd keeps every intermediate of the attention (scores, pattern) as a
//! graph node, and its backward accumulates each node's gradient into a fresh zero tensor
//! (`zeros_like` + `add`): on GPT-2 124M at B = 8, T = 1024 that is two extra passes over
//! (B, H, T, T) tensors per layer, measured at 1.5 ms each in bf16 on an H200
//! (`gpu_bench ops`, README GPU section), about a fifth of a layer's step. As one node, only
//! q, k and v receive (small) gradients; the backward is the composite form written out:
//! dV = Pᵀ dZ, dP = dZ Vᵀ, dS = P ⊙ (dP − Σ P dP), dQ = dS K, dK = dSᵀ Q, with P the
//! pattern kept from the forward (as the composite graph keeps it). Off CUDA, or when the
//! scores or pattern are hooked, the composite path runs (CPU numerics unchanged).

use candle_core::{CpuStorage, CustomOp1, CustomOp3, Layout, Result, Shape, Storage, Tensor};

/// The node: the forward already computed (detached) z and its pattern p; the op's forward
/// hands back z, its backward uses p.
struct FusedAttention {
    z: Tensor,
    p: Tensor,
}

impl CustomOp3 for FusedAttention {
    fn name(&self) -> &'static str {
        "gpt2lab-fused-attention"
    }
    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout, _: &CpuStorage, _: &Layout, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
        let (s, l) = self.z.storage_and_layout();
        match &*s {
            Storage::Cpu(cs) => Ok((candle_core::backend::BackendStorage::try_clone(cs, l)?, l.shape().clone())),
            _ => candle_core::bail!("fused attention: z is not on the CPU"),
        }
    }
    #[cfg(feature = "cuda")]
    fn cuda_fwd(&self, _: &candle_core::CudaStorage, _: &Layout, _: &candle_core::CudaStorage, _: &Layout, _: &candle_core::CudaStorage, _: &Layout) -> Result<(candle_core::CudaStorage, Shape)> {
        let (s, l) = self.z.storage_and_layout();
        match &*s {
            Storage::Cuda(cs) => Ok((candle_core::backend::BackendStorage::try_clone(cs, l)?, l.shape().clone())),
            _ => candle_core::bail!("fused attention: z is not on the GPU"),
        }
    }
    fn bwd(&self, q: &Tensor, k: &Tensor, v: &Tensor, _res: &Tensor, dz: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (q, k, v, dz) = (q.detach(), k.detach(), v.detach(), dz.detach().contiguous()?);
        let p = &self.p;
        let dv = p.t()?.matmul(&dz)?; // (B, H, Tk, dh)
        let dp = dz.matmul(&v.t()?)?; // (B, H, T, Tk)
        let ds = super::kernels::softmax_backward(p, &dp)?;
        let dq = ds.matmul(&k)?; // (B, H, T, dh)
        let dk = ds.t()?.matmul(&q)?; // (B, H, Tk, dh)
        Ok((Some(dq), Some(dk), Some(dv)))
    }
}

/// `softmax(q kᵀ + mask) v` for q (B, H, T, dh), k and v (B, H, Tk, dh) and an additive
/// mask (B|1, 1, T, Tk), as one autograd node; None where it does not apply (not CUDA, no
/// gradient tracked, or a dtype without the fused kernels): the caller runs the composite path.
pub fn attention(q: &Tensor, k: &Tensor, v: &Tensor, mask: &Tensor) -> Result<Option<Tensor>> {
    let tracked = q.track_op() || k.track_op() || v.track_op();
    if !q.device().is_cuda() || !tracked || !super::kernels::usable(q) {
        return Ok(None);
    }
    let (qd, kd, vd) = (q.detach(), k.detach(), v.detach());
    let scores = qd.matmul(&kd.t()?)?; // (B, H, T, Tk)
    let Some(p) = super::kernels::masked_softmax_last(&scores, mask)? else { return Ok(None) };
    let z = p.matmul(&vd)?; // (B, H, T, dh)
    Ok(Some(q.apply_op3(k, v, FusedAttention { z, p })?))
}

/// `(B, T, H·dh)` (rows at any stride) → `(B, H, T, dh)` contiguous, times `scale`; its
/// backward is [`MergeHeads`]. CUDA only (`cuda_kernels::heads_split`).
#[cfg_attr(not(feature = "cuda"), allow(dead_code))] // `h` is read by the CUDA forward
struct SplitHeads {
    h: usize,
    scale: f64,
}

/// `(B, H, T, dh)` → `(B, T, H·dh)` contiguous, times `scale`; its backward is [`SplitHeads`].
struct MergeHeads {
    scale: f64,
}

impl CustomOp1 for SplitHeads {
    fn name(&self) -> &'static str {
        "gpt2lab-split-heads"
    }
    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
        candle_core::bail!("gpt2lab split heads: CUDA only")
    }
    #[cfg(feature = "cuda")]
    fn cuda_fwd(&self, s: &candle_core::CudaStorage, l: &Layout) -> Result<(candle_core::CudaStorage, Shape)> {
        let (b, t, c) = l.shape().dims3()?;
        Ok((super::cuda_kernels::heads_split(s, l, self.h, self.scale as f32)?, Shape::from((b, self.h, t, c / self.h))))
    }
    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad.contiguous()?.apply_op1_no_bwd(&MergeHeads { scale: self.scale })?))
    }
}

impl CustomOp1 for MergeHeads {
    fn name(&self) -> &'static str {
        "gpt2lab-merge-heads"
    }
    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
        candle_core::bail!("gpt2lab merge heads: CUDA only")
    }
    #[cfg(feature = "cuda")]
    fn cuda_fwd(&self, s: &candle_core::CudaStorage, l: &Layout) -> Result<(candle_core::CudaStorage, Shape)> {
        let (b, h, t, dh) = l.shape().dims4()?;
        Ok((super::cuda_kernels::heads_merge(s, l, self.scale as f32)?, Shape::from((b, t, h * dh))))
    }
    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad.contiguous()?.apply_op1_no_bwd(&SplitHeads { h: arg.dim(1)?, scale: self.scale })?))
    }
}

/// Whether the heads kernels take `x` (CUDA, f32/bf16).
pub fn heads_usable(x: &Tensor) -> bool {
    x.device().is_cuda() && super::kernels::usable(x)
}

/// `x (B, T, H·dh)` → `(B, H, T, dh)` contiguous × `scale` in one CUDA pass (x may be a
/// column slice, e.g. q of the fused qkv projection); None where [`heads_usable`] is false.
pub fn split_heads(x: &Tensor, h: usize, scale: f64) -> Result<Option<Tensor>> {
    if !heads_usable(x) {
        return Ok(None);
    }
    Ok(Some(x.apply_op1(SplitHeads { h, scale })?))
}

/// `z (B, H, T, dh)` → `(B, T, H·dh)` contiguous in one CUDA pass; None where
/// [`heads_usable`] is false.
pub fn merge_heads(z: &Tensor) -> Result<Option<Tensor>> {
    if !heads_usable(z) {
        return Ok(None);
    }
    Ok(Some(z.contiguous()?.apply_op1(MergeHeads { scale: 1.0 })?))
}
