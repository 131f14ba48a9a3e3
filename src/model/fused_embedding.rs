//! `w[ids]` (an embedding lookup) with gpt2lab's own backward on CUDA.
//!
//! Why: candle's `index_select` backward is `index_add`, whose CUDA kernel runs one thread per
//! column over every position in turn: 3.5 ms for GPT-2 124M's wte (and again for wpe) at
//! B = 8, T = 1024 on an H200, 6% of a bf16 training step's kernel time (Nsight Compute,
//! README GPU section). `embed_bwd` in `cuda/kernels.cu` sums each id's rows in one block,
//! in position order (deterministic, as the CPU's index_add). Elsewhere (CPU, no gradient
//! tracked, other dtypes) this is `index_select` itself.

use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};

/// The node: the lookup already computed (detached) as `y`; the backward needs only the ids.
#[cfg_attr(not(feature = "cuda"), allow(dead_code))] // read by the CUDA forward and backward
struct Embedding {
    y: Tensor,
    rows: usize,
}

impl CustomOp2 for Embedding {
    fn name(&self) -> &'static str {
        "gpt2lab-embedding"
    }
    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
        candle_core::bail!("gpt2lab embedding: the fused op runs on CUDA only")
    }
    #[cfg(feature = "cuda")]
    fn cuda_fwd(&self, _: &candle_core::CudaStorage, _: &Layout, _: &candle_core::CudaStorage, _: &Layout) -> Result<(candle_core::CudaStorage, Shape)> {
        let (s, l) = self.y.storage_and_layout();
        match &*s {
            candle_core::Storage::Cuda(cs) => Ok((candle_core::backend::BackendStorage::try_clone(cs, l)?, l.shape().clone())),
            _ => candle_core::bail!("gpt2lab embedding: the lookup is not on the GPU"),
        }
    }
    fn bwd(&self, _w: &Tensor, ids: &Tensor, _res: &Tensor, dy: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        #[cfg(feature = "cuda")]
        {
            let dy = dy.contiguous()?;
            let ids = ids.contiguous()?;
            let (gs, gl) = dy.storage_and_layout();
            let (is, il) = ids.storage_and_layout();
            let (candle_core::Storage::Cuda(g), candle_core::Storage::Cuda(i)) = (&*gs, &*is) else { candle_core::bail!("gpt2lab embedding: backward off the GPU") };
            let dw = super::cuda_kernels::embed_bwd(i, il, g, gl, self.rows)?;
            let c = gl.dims()[gl.dims().len() - 1];
            let dw = Tensor::from_storage(candle_core::Storage::Cuda(dw), (self.rows, c), candle_core::op::BackpropOp::none(), false);
            Ok((Some(dw), None))
        }
        #[cfg(not(feature = "cuda"))]
        {
            let _ = (ids, dy);
            candle_core::bail!("gpt2lab embedding: built without CUDA")
        }
    }
}

/// Rows `ids` (1-D, u32) of `w` (V, C): `(n, C)`.
pub fn lookup(w: &Tensor, ids: &Tensor) -> Result<Tensor> {
    let y = w.index_select(ids, 0)?;
    if !w.device().is_cuda() || !w.track_op() || !super::kernels::usable(w) || ids.dtype() != candle_core::DType::U32 || w.rank() != 2 {
        return Ok(y);
    }
    let rows = w.dim(0)?;
    w.apply_op2(ids, Embedding { y: y.detach(), rows })
}
