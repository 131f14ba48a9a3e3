//! AdamW's update as one in-place pass over (θ, g, m, v), for f32 parameters on the CPU and,
//! with the `cuda` feature, on CUDA (one kernel per parameter, `model/cuda/kernels.cu`).
//!
//! Why hand-written: written with tensor ops, one AdamW step is fourteen elementwise ops per
//! parameter, each allocating a fresh buffer the size of the parameter. On GPT-2 124M that is
//! ~14 passes over 0.5 GB buffers, ~18 GB of memory traffic and ~7 GB of fresh pages per
//! step, where the update itself needs to read θ, g, m, v once and write θ, m, v once. No kept
//! crate fuses an optimizer step over candle storages; candle's `InplaceOp2` gives access to
//! θ's storage, and the moments live here as plain `Vec<f32>` (they never enter a graph).
//!
//! The arithmetic replays the tensor-op path operation by operation, in f32, with the same
//! constants (candle's `t * s` is `affine(s, 0)`, i.e. `x * (s as f32) + 0`; `t / s` is
//! `affine(1/s, 0)`), so the fused step is bit-identical to the unfused one (tested in
//! `optim.rs`), which `tests/optim.rs` checks against PyTorch's AdamW.

use candle_core::{CpuStorage, DType, Device, InplaceOp2, Layout, Tensor};
use rayon::prelude::*;
use std::sync::Mutex;

use crate::{Error, Result};

/// One step's constants, rounded to f32 exactly as candle's `affine` rounds its f64 scalars.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Coeffs {
    b1: f32,
    one_minus_b1: f32,
    b2: f32,
    one_minus_b2: f32,
    /// `1 − lr·wd`, or None when the parameter does not decay (the tensor path skips the op).
    decay: Option<f32>,
    inv_bc1: f32,
    inv_bc2: f32,
    eps: f32,
    lr: f32,
}

impl Coeffs {
    pub(crate) fn new(
        beta1: f64,
        beta2: f64,
        eps: f64,
        lr: f64,
        wd: f64,
        bc1: f64,
        bc2: f64,
    ) -> Self {
        Coeffs {
            b1: beta1 as f32,
            one_minus_b1: (1.0 - beta1) as f32,
            b2: beta2 as f32,
            one_minus_b2: (1.0 - beta2) as f32,
            decay: (wd != 0.0).then(|| (1.0 - lr * wd) as f32),
            inv_bc1: (1.0 / bc1) as f32,
            inv_bc2: (1.0 / bc2) as f32,
            eps: eps as f32,
            lr: lr as f32,
        }
    }
}

/// The update on matching slices, element by element in the tensor path's order.
fn update(c: &Coeffs, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
    for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        *m = (*m * c.b1 + 0.0) + (g * c.one_minus_b1 + 0.0);
        *v = (*v * c.b2 + 0.0) + ((g * g) * c.one_minus_b2 + 0.0);
        let theta = match c.decay {
            Some(d) => *p * d + 0.0,
            None => *p,
        };
        let denom = (*v * c.inv_bc2 + 0.0).sqrt() * 1.0 + c.eps;
        let step = (*m * c.inv_bc1 + 0.0) / denom;
        *p = theta - (step * c.lr + 0.0);
    }
}

/// Below this many elements the update stays on the calling thread.
const PAR_MIN: usize = 1 << 15;

/// [`update`] split into one contiguous block per thread of the current rayon pool (the
/// `Trainer` steps inside candle's pool, `runtime::with_cpu_pool`).
fn update_par(c: &Coeffs, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
    let threads = rayon::current_num_threads().max(1);
    if threads == 1 || p.len() < PAR_MIN {
        return update(c, p, g, m, v);
    }
    let chunk = p.len().div_ceil(threads);
    p.par_chunks_mut(chunk)
        .zip(g.par_chunks(chunk))
        .zip(m.par_chunks_mut(chunk))
        .zip(v.par_chunks_mut(chunk))
        .for_each(|(((p, g), m), v)| update(c, p, g, m, v));
}

/// The in-place op on θ's storage; the moments ride along behind a lock because candle hands
/// the op `&self`.
struct Op<'a> {
    c: Coeffs,
    moments: Mutex<(&'a mut [f32], &'a mut [f32])>,
}

impl InplaceOp2 for Op<'_> {
    fn name(&self) -> &'static str {
        "fused-adamw"
    }
    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<()> {
        let (CpuStorage::F32(p), CpuStorage::F32(g)) = (s1, s2) else {
            candle_core::bail!("fused-adamw: f32 parameters and gradients only")
        };
        let (Some((p0, p1)), Some((g0, g1))) = (l1.contiguous_offsets(), l2.contiguous_offsets())
        else {
            candle_core::bail!("fused-adamw: contiguous parameters and gradients only")
        };
        let mut guard = self
            .moments
            .lock()
            .map_err(|_| candle_core::Error::Msg("fused-adamw: poisoned moments".into()))?;
        let (m, v) = &mut *guard;
        if p1 - p0 != m.len() || g1 - g0 != m.len() || v.len() != m.len() {
            candle_core::bail!(
                "fused-adamw: {} parameters, {} gradients, {}/{} moments",
                p1 - p0,
                g1 - g0,
                m.len(),
                v.len()
            )
        }
        update_par(&self.c, &mut p[p0..p1], &g[g0..g1], m, v);
        Ok(())
    }
}

/// f32, contiguous, one shape, on one device: what both fused steps need of (θ, g).
fn f32_pair(p: &Tensor, g: &Tensor) -> bool {
    p.device().same_device(g.device())
        && p.dtype() == DType::F32
        && g.dtype() == DType::F32
        && p.is_contiguous()
        && g.is_contiguous()
        && p.dims() == g.dims()
}

/// Whether the fused step applies: f32, CPU, contiguous parameter and gradient of one shape.
pub(crate) fn eligible(p: &Tensor, g: &Tensor) -> bool {
    matches!(p.device(), Device::Cpu) && f32_pair(p, g)
}

/// Updates `p` (a `Var`'s tensor) in place and the moments `m`, `v` (one value per element).
pub(crate) fn step(c: Coeffs, p: &Tensor, g: &Tensor, m: &mut [f32], v: &mut [f32]) -> Result<()> {
    if !eligible(p, g) {
        return Err(Error::Msg(format!("fused AdamW needs contiguous f32 CPU tensors of one shape, got {:?} {:?} and {:?} {:?}", p.dtype(), p.dims(), g.dtype(), g.dims())));
    }
    let op = Op {
        c,
        moments: Mutex::new((m, v)),
    };
    p.inplace_op2(g, &op)?;
    Ok(())
}

/// Whether the fused CUDA step applies: f32, one CUDA device, contiguous, one shape.
#[cfg(feature = "cuda")]
pub(crate) fn eligible_cuda(p: &Tensor, g: &Tensor) -> bool {
    p.device().is_cuda() && f32_pair(p, g)
}
#[cfg(not(feature = "cuda"))]
pub(crate) fn eligible_cuda(_: &Tensor, _: &Tensor) -> bool {
    false
}

/// The CUDA step: θ in place; `m`, `v` are f32 device tensors of θ's size that only the
/// optimizer holds (it copies them out for checkpoints), updated in place by the same kernel.
#[cfg(feature = "cuda")]
struct CudaOp<'a> {
    c: Coeffs,
    m: &'a Tensor,
    v: &'a Tensor,
}

#[cfg(feature = "cuda")]
impl InplaceOp2 for CudaOp<'_> {
    fn name(&self) -> &'static str {
        "fused-adamw"
    }
    fn cpu_fwd(&self, _: &mut CpuStorage, _: &Layout, _: &CpuStorage, _: &Layout) -> candle_core::Result<()> {
        candle_core::bail!("fused-adamw: the CUDA op got CPU tensors")
    }
    fn cuda_fwd(&self, s1: &mut candle_core::CudaStorage, l1: &Layout, s2: &candle_core::CudaStorage, l2: &Layout) -> candle_core::Result<()> {
        use candle_core::cuda_backend::CudaDType;
        let (ms, _) = self.m.storage_and_layout();
        let (vs, _) = self.v.storage_and_layout();
        let (candle_core::Storage::Cuda(ms), candle_core::Storage::Cuda(vs)) = (&*ms, &*vs) else {
            candle_core::bail!("fused-adamw: moments must live on the parameter's GPU")
        };
        let c = &self.c;
        let k = [c.b1, c.one_minus_b1, c.b2, c.one_minus_b2, c.decay.unwrap_or(1.0), c.inv_bc1, c.inv_bc2, c.eps, c.lr];
        crate::model::cuda_kernels::adamw(s1, l1, s2, l2, f32::as_cuda_slice(ms)?, f32::as_cuda_slice(vs)?, k, c.decay.is_some())
    }
}

/// Updates `p` in place on its GPU, and the moments `m`, `v` (contiguous f32 tensors of p's
/// shape, on its device, not shared with anything else) in place too.
#[cfg(feature = "cuda")]
pub(crate) fn step_cuda(c: Coeffs, p: &Tensor, g: &Tensor, m: &Tensor, v: &Tensor) -> Result<()> {
    let ok = |t: &Tensor| f32_pair(p, t) && t.layout().start_offset() == 0;
    if !eligible_cuda(p, g) || !ok(m) || !ok(v) {
        return Err(Error::Msg(format!("fused AdamW (CUDA) needs contiguous f32 tensors of one shape on one GPU, got {:?} {:?}", p.dtype(), p.dims())));
    }
    p.inplace_op2(g, &CudaOp { c, m, v })?;
    Ok(())
}
#[cfg(not(feature = "cuda"))]
pub(crate) fn step_cuda(_: Coeffs, _: &Tensor, _: &Tensor, _: &Tensor, _: &Tensor) -> Result<()> {
    Err(Error::Msg("fused AdamW on CUDA needs the `cuda` feature".into()))
}
