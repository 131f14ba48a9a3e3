//! Fused mean cross-entropy over rows of logits, with its backward: one pass per row for
//! the loss (max, log-sum-exp, pick) and one for the gradient `(softmax − onehot)·g/N`.
//! The composite form (`ops::reference::cross_entropy`) is nine candle ops, each of which
//! allocates an (N, V) tensor forward and again backward; at the ci scale the logits are the
//! largest activation of a training step. CPU (f32, f64) and CUDA (f32, bf16,
//! `cuda_kernels.rs`); tests compare both forms.

use candle_core::{CpuStorage, CustomOp2, CustomOp3, DType, Layout, Result, Shape, Tensor};

use super::kernels::{lanes_of, par_rows, per_dtype, row_max, slice, Fl};

/// Row `r`'s target as an index, or an error naming it.
fn target(t: &[u32], r: usize, v: usize) -> Result<usize> {
    let y = t[r] as usize;
    if y >= v {
        candle_core::bail!("cross-entropy: target {y} at row {r} is out of range for {v} classes");
    }
    Ok(y)
}

/// Per-row max and log-sum-exp (shifted by the max), in f64.
fn row_lse<T: Fl>(row: &[T]) -> (T, f64) {
    let max = row_max(row);
    let sum: f64 = lanes_of(row, |x| (x - max).exp().f64());
    (max, sum.ln())
}

fn xent_fwd<T: Fl>(x: &[T], t: &[u32], v: usize) -> Result<Vec<T>> {
    let n = x.len() / v;
    for r in 0..n {
        target(t, r, v)?;
    }
    // per-row losses in parallel, then one sum
    let mut losses = vec![0f64; n];
    par_rows(&mut losses, 1, |r0, o| {
        for (i, l) in o.iter_mut().enumerate() {
            let row = &x[(r0 + i) * v..(r0 + i + 1) * v];
            let (max, lse) = row_lse(row);
            *l = lse - (row[t[r0 + i] as usize] - max).f64();
        }
    });
    Ok(vec![T::c(losses.iter().sum::<f64>() / n as f64)])
}

fn xent_bwd<T: Fl>(x: &[T], t: &[u32], v: usize, scale: f64) -> Result<Vec<T>> {
    for r in 0..x.len() / v {
        target(t, r, v)?;
    }
    let mut out = vec![T::c(0.0); x.len()];
    par_rows(&mut out, v, |r0, o| {
        for (i, d) in o.chunks_mut(v).enumerate() {
            let row = &x[(r0 + i) * v..(r0 + i + 1) * v];
            let (max, lse) = row_lse(row);
            let shift = max + T::c(lse); // log Z
            let s = T::c(scale);
            for (d, &z) in d.iter_mut().zip(row) {
                *d = (z - shift).exp() * s;
            }
            let y = t[r0 + i] as usize;
            d[y] = d[y] - s;
        }
    });
    Ok(out)
}

/// The class count V of logits (N, V) with targets (N,), or an error naming the mismatch.
fn classes(l1: &Layout, l2: &Layout) -> Result<usize> {
    let &[n, v] = l1.dims() else { candle_core::bail!("cross-entropy: logits must be (N, V), got {:?}", l1.dims()) };
    if l2.dims() != [n] {
        candle_core::bail!("cross-entropy: targets {:?} do not match logits {:?}", l2.dims(), l1.dims());
    }
    Ok(v)
}

fn rows_and_targets<'a>(l1: &Layout, s2: &'a CpuStorage, l2: &Layout) -> Result<(usize, &'a [u32])> {
    let v = classes(l1, l2)?;
    let CpuStorage::U32(t) = s2 else { candle_core::bail!("cross-entropy: targets must be u32") };
    Ok((v, slice(t, l2)?))
}

struct CrossEntropy;
/// Backward: (logits, targets, upstream gradient (a scalar)); the scale `g/N` is formed where
/// the gradient lives, so the GPU path needs no device-to-host copy (a synchronisation).
struct CrossEntropyBwd;

impl CustomOp2 for CrossEntropy {
    fn name(&self) -> &'static str {
        "gpt2lab-cross-entropy"
    }
    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (v, t) = rows_and_targets(l1, s2, l2)?;
        Ok((per_dtype!(s1, l1, |x| xent_fwd(x, t, v)?), Shape::from(())))
    }
    fn bwd(&self, logits: &Tensor, targets: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let g = grad.to_dtype(logits.dtype())?.contiguous()?;
        Ok((Some(logits.apply_op3_no_bwd(targets, &g, &CrossEntropyBwd)?), None))
    }
}

impl CustomOp3 for CrossEntropyBwd {
    fn name(&self) -> &'static str {
        "gpt2lab-cross-entropy-bwd"
    }
    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout, s3: &CpuStorage, l3: &Layout) -> Result<(CpuStorage, Shape)> {
        let (v, t) = rows_and_targets(l1, s2, l2)?;
        let g = match s3 {
            CpuStorage::F32(g) => slice(g, l3)?[0] as f64,
            CpuStorage::F64(g) => slice(g, l3)?[0],
            _ => candle_core::bail!("cross-entropy backward: f32 or f64 gradient"),
        };
        let scale = g / (l1.dims()[0].max(1)) as f64;
        Ok((per_dtype!(s1, l1, |x| xent_bwd(x, t, v, scale)?), l1.shape().clone()))
    }
}

/// The CUDA form: the forward returns f32 `[mean, lse_0, …, lse_{N−1}]` (N + 1 values) so the
/// backward makes the gradient in one pass over the logits; f32 arithmetic on f32 or bf16
/// logits (as autocast computes the loss in f32), the gradient in the logits' dtype.
/// `classes`: how many leading columns of each row are logits (the rest is padding, e.g.
/// the unembedding padded to a multiple of 64; its gradient is zero).
#[cfg(feature = "cuda")]
struct CrossEntropyGpu {
    classes: usize,
}
#[cfg(feature = "cuda")]
struct CrossEntropyGpuBwd {
    classes: usize,
}

#[cfg(feature = "cuda")]
impl CustomOp2 for CrossEntropyGpu {
    fn name(&self) -> &'static str {
        "gpt2lab-cross-entropy-gpu"
    }
    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
        candle_core::bail!("cross-entropy: the CUDA op got CPU tensors")
    }
    fn cuda_fwd(&self, s1: &candle_core::CudaStorage, l1: &Layout, s2: &candle_core::CudaStorage, l2: &Layout) -> Result<(candle_core::CudaStorage, Shape)> {
        classes(l1, l2)?;
        Ok((super::cuda_kernels::xent_fwd(s1, l1, s2, l2, self.classes)?, Shape::from(l1.dims()[0] + 1)))
    }
    fn bwd(&self, logits: &Tensor, targets: &Tensor, res: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let n = logits.dim(0)?;
        let gl = Tensor::cat(&[&grad.narrow(0, 0, 1)?.to_dtype(DType::F32)?, &res.narrow(0, 1, n)?], 0)?;
        Ok((Some(logits.apply_op3_no_bwd(targets, &gl, &CrossEntropyGpuBwd { classes: self.classes })?), None))
    }
}

#[cfg(feature = "cuda")]
impl CustomOp3 for CrossEntropyGpuBwd {
    fn name(&self) -> &'static str {
        "gpt2lab-cross-entropy-gpu-bwd"
    }
    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout, _: &CpuStorage, _: &Layout, _: &CpuStorage, _: &Layout) -> Result<(CpuStorage, Shape)> {
        candle_core::bail!("cross-entropy backward: the CUDA op got CPU tensors")
    }
    fn cuda_fwd(&self, s1: &candle_core::CudaStorage, l1: &Layout, s2: &candle_core::CudaStorage, l2: &Layout, s3: &candle_core::CudaStorage, l3: &Layout) -> Result<(candle_core::CudaStorage, Shape)> {
        classes(l1, l2)?;
        Ok((super::cuda_kernels::xent_bwd(s1, l1, s2, l2, s3, l3, self.classes)?, l1.shape().clone()))
    }
}

/// The CUDA loss over the first `classes` columns of `logits` (N, W): the mean from the op's
/// `[mean, lse_0, …]` output.
#[cfg(feature = "cuda")]
fn gpu_loss(logits: &Tensor, classes: usize, targets: &Tensor) -> Result<Tensor> {
    let out = logits.contiguous()?.apply_op2(&targets.contiguous()?, CrossEntropyGpu { classes })?; // (N + 1,) f32
    out.narrow(0, 0, 1)?.reshape(())
}

/// Mean cross-entropy of `logits` (N, V) against `targets` (N,) u32, differentiable in the
/// logits; None for devices and dtypes without the kernel (the caller uses the composite form).
/// On CUDA the loss is f32 whatever the logits' dtype, and an out-of-range target gives a NaN
/// loss rather than an error (a kernel cannot return one); the CPU path names the row.
pub fn cross_entropy(logits: &Tensor, targets: &Tensor) -> Result<Option<Tensor>> {
    if !super::kernels::usable(logits) || targets.dtype() != DType::U32 || !targets.device().same_device(logits.device()) {
        return Ok(None);
    }
    #[cfg(feature = "cuda")]
    if logits.device().is_cuda() {
        return Ok(Some(gpu_loss(logits, logits.dim(1)?, targets)?));
    }
    // apply_op2 records the op only when the logits track a gradient
    Ok(Some(logits.contiguous()?.apply_op2(&targets.contiguous()?, CrossEntropy)?))
}

/// Mean cross-entropy over the first `classes` columns of `padded` (N, W ≥ classes) against
/// `targets` (N,) u32, the other columns padding (zero gradient): the training loss straight
/// from the padded unembedding's output (`Gpt2::lm_loss`), without copying the (N, V) logits
/// out of it and the gradient back into it (Nsight Compute on an H200: 4.4 ms of a 124M bf16
/// step at B = 8, T = 1024). CUDA only; None elsewhere.
pub fn cross_entropy_padded(padded: &Tensor, classes: usize, targets: &Tensor) -> Result<Option<Tensor>> {
    if !padded.device().is_cuda() || !super::kernels::usable(padded) || targets.dtype() != DType::U32 || padded.rank() != 2 || classes == 0 || classes > padded.dim(1)? {
        return Ok(None);
    }
    #[cfg(feature = "cuda")]
    {
        return Ok(Some(gpu_loss(padded, classes, targets)?));
    }
    #[allow(unreachable_code)]
    Ok(None)
}
