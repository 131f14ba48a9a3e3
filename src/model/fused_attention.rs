//! `softmax(q kᵀ + mask) v` as one autograd node, for training on CUDA.
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

use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Storage, Tensor};

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
