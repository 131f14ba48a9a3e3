//! Fused CPU kernels with hand-written backward passes: GELU (tanh form), softmax over the
//! last dim, and LayerNorm. Each replaces 6–10 candle ops (and their autograd nodes) on the
//! hot path of training; candle 0.11's own fused softmax/LayerNorm have no backward at all.
//! f32 and f64; tests compare them with the composite ops and with finite differences. With
//! the `cuda` feature each op also has a `cuda_fwd` (f32 and bf16, `cuda_kernels.rs`), which
//! `tests/cuda.rs` checks against these on a GPU.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};

const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
const GELU_C: f64 = 0.044_715;

pub(super) fn slice<'a, T>(v: &'a [T], l: &Layout) -> Result<&'a [T]> {
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&v[a..b]),
        None => candle_core::bail!("fused kernel needs a contiguous input"),
    }
}

macro_rules! per_dtype {
    ($s:expr, $l:expr, |$x:ident| $body:expr) => {
        match $s {
            CpuStorage::F32(v) => {
                let $x = slice(v, $l)?;
                CpuStorage::F32($body)
            }
            CpuStorage::F64(v) => {
                let $x = slice(v, $l)?;
                CpuStorage::F64($body)
            }
            _ => candle_core::bail!("fused kernel: unsupported dtype (f32 and f64 only)"),
        }
    };
}

pub(super) use per_dtype;

macro_rules! per_dtype2 {
    ($s1:expr, $l1:expr, $s2:expr, $l2:expr, |$a:ident, $b:ident| $body:expr) => {
        match ($s1, $s2) {
            (CpuStorage::F32(v1), CpuStorage::F32(v2)) => {
                let ($a, $b) = (slice(v1, $l1)?, slice(v2, $l2)?);
                CpuStorage::F32($body)
            }
            (CpuStorage::F64(v1), CpuStorage::F64(v2)) => {
                let ($a, $b) = (slice(v1, $l1)?, slice(v2, $l2)?);
                CpuStorage::F64($body)
            }
            _ => candle_core::bail!("fused kernel: mismatched or unsupported dtypes"),
        }
    };
}

macro_rules! per_dtype3 {
    ($s1:expr, $l1:expr, $s2:expr, $l2:expr, $s3:expr, $l3:expr, |$a:ident, $b:ident, $c:ident| $body:expr) => {
        match ($s1, $s2, $s3) {
            (CpuStorage::F32(v1), CpuStorage::F32(v2), CpuStorage::F32(v3)) => {
                let ($a, $b, $c) = (slice(v1, $l1)?, slice(v2, $l2)?, slice(v3, $l3)?);
                CpuStorage::F32($body)
            }
            (CpuStorage::F64(v1), CpuStorage::F64(v2), CpuStorage::F64(v3)) => {
                let ($a, $b, $c) = (slice(v1, $l1)?, slice(v2, $l2)?, slice(v3, $l3)?);
                CpuStorage::F64($body)
            }
            _ => candle_core::bail!("fused kernel: mismatched or unsupported dtypes"),
        }
    };
}

/// Float arithmetic shared by the f32 and f64 kernels.
pub(super) trait Fl: Copy + Send + Sync + std::ops::Add<Output = Self> + std::ops::Sub<Output = Self> + std::ops::Mul<Output = Self> + std::ops::Div<Output = Self> + PartialOrd {
    fn c(v: f64) -> Self;
    fn f64(self) -> f64;
    fn exp(self) -> Self;
    fn sqrt(self) -> Self;
}
impl Fl for f32 {
    fn c(v: f64) -> Self {
        v as f32
    }
    fn f64(self) -> f64 {
        self as f64
    }
    fn exp(self) -> Self {
        exp_f32(self)
    }
    fn sqrt(self) -> Self {
        f32::sqrt(self)
    }
}
impl Fl for f64 {
    fn c(v: f64) -> Self {
        v
    }
    fn f64(self) -> f64 {
        self
    }
    fn exp(self) -> Self {
        f64::exp(self)
    }
    fn sqrt(self) -> Self {
        f64::sqrt(self)
    }
}

/// e^x for f32 in straight-line arithmetic that vectorises (glibc's `expf` is a call per
/// element): Cody–Waite reduction x = n·ln2 + r, |r| ≤ ln2/2, Cephes' degree-6 polynomial for
/// e^r, and 2^n through the exponent bits. Relative error ≤ 2 ulp against `f32::exp`
/// (tested); 0 below −87.3 (where expf goes subnormal), never +∞ (clamped at 88.3).
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    const ROUND: f32 = 12_582_912.0; // 1.5·2^23: adding it rounds to an integer
    let xc = x.clamp(-87.3, 88.3);
    let n = (xc * std::f32::consts::LOG2_E + ROUND) - ROUND;
    let r = xc - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 5.000_000_1e-1;
    let er = p * r * r + r + 1.0;
    let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
    if x < -87.3 {
        0.0
    } else {
        er * scale
    }
}

/// Sums in 8 independent lanes: a single running float sum is one long dependency chain
/// (~4 cycles per element) that the compiler may not reorder; 8 lanes vectorise.
/// (LayerNorm's backward spent ~7% of a tiny-model training step in chained sums.)
#[inline(always)]
pub(super) fn lanes<T: Fl>(n: usize, f: impl Fn(usize) -> T) -> T {
    let zero = T::c(0.0);
    let mut acc = [zero; 8];
    let full = n / 8 * 8;
    let mut i = 0;
    while i < full {
        for (j, a) in acc.iter_mut().enumerate() {
            *a = *a + f(i + j);
        }
        i += 8;
    }
    let mut tail = zero;
    for k in full..n {
        tail = tail + f(k);
    }
    combine_lanes(acc, tail)
}

/// The one order in which [`lanes`] and [`lanes_of`] add their 8 lanes and tail: both must
/// round the same way.
#[inline(always)]
fn combine_lanes<T: Fl>(acc: [T; 8], tail: T) -> T {
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// `lanes(xs.len(), |i| f(xs[i]))`, the same sum bit for bit (same lanes, same order), over
/// blocks without the index's bounds checks, so that `f` vectorises (a 124M training step
/// spent ~6% in the cross-entropy's scalar `exp` sums before).
#[inline(always)]
pub(super) fn lanes_of<T: Copy, U: Fl>(xs: &[T], f: impl Fn(T) -> U) -> U {
    let zero = U::c(0.0);
    let mut acc = [zero; 8];
    // `f` over 64 elements into a buffer first: a plain map loop is what the loop vectoriser
    // takes (an 8-wide body with `exp` inlined was left scalar), then the buffer's 8-chunks
    // go into the lanes in order.
    let mut buf = [zero; 64];
    let mut blocks = xs.chunks_exact(64);
    for b in &mut blocks {
        for (o, &x) in buf.iter_mut().zip(b) {
            *o = f(x);
        }
        for c in buf.chunks_exact(8) {
            for (a, &y) in acc.iter_mut().zip(c) {
                *a = *a + y;
            }
        }
    }
    let mut chunks = blocks.remainder().chunks_exact(8);
    for c in &mut chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a = *a + f(x);
        }
    }
    let mut tail = zero;
    for &x in chunks.remainder() {
        tail = tail + f(x);
    }
    combine_lanes(acc, tail)
}

/// Below this many output elements a kernel stays on the calling thread (a rayon split costs
/// a few microseconds).
const PAR_MIN: usize = 1 << 15;

/// Runs `f(first_row, block)` over `out`, cut into one block of whole `n`-wide rows per
/// thread of the current rayon pool (inside `runtime::with_cpu_pool`, candle's pool, whose
/// matmuls use every core; these kernels did not, and ran on one of two cores).
pub(super) fn par_rows<T: Send>(out: &mut [T], n: usize, f: impl Fn(usize, &mut [T]) + Sync) {
    par_rows_min(out, n, PAR_MIN, f)
}

/// [`par_rows`] with its own size threshold (for kernels whose work is not ~ their output).
pub(super) fn par_rows_min<T: Send>(out: &mut [T], n: usize, min: usize, f: impl Fn(usize, &mut [T]) + Sync) {
    let n = n.max(1);
    let rows = out.len() / n;
    let threads = rayon::current_num_threads().min(rows).max(1);
    if threads == 1 || out.len() < min {
        f(0, out);
        return;
    }
    let per = rows.div_ceil(threads);
    rayon::scope(|s| {
        for (i, block) in out.chunks_mut(per * n).enumerate() {
            let f = &f;
            s.spawn(move |_| f(i * per, block));
        }
    });
}

/// A zeroed output of `len` elements filled by `f(first_row, block)` in parallel row blocks.
fn fill_rows<T: Fl>(len: usize, n: usize, f: impl Fn(usize, &mut [T]) + Sync) -> Vec<T> {
    let mut out = vec![T::c(0.0); len];
    par_rows(&mut out, n, f);
    out
}

/// tanh through one exp: 1 − 2/(e^{2u} + 1) (saturates correctly at ±∞).
#[inline]
fn tanh<T: Fl>(u: T) -> T {
    T::c(1.0) - T::c(2.0) / ((u + u).exp() + T::c(1.0))
}

fn gelu_fwd<T: Fl>(x: &[T]) -> Vec<T> {
    let (k, c, h) = (T::c(SQRT_2_OVER_PI), T::c(GELU_C), T::c(0.5));
    fill_rows(x.len(), 1, |r0, o| {
        for (d, &x) in o.iter_mut().zip(&x[r0..]) {
            *d = h * x * (T::c(1.0) + tanh(k * (x + c * x * x * x)));
        }
    })
}

fn gelu_bwd<T: Fl>(x: &[T], g: &[T]) -> Vec<T> {
    let (k, c, h, one) = (T::c(SQRT_2_OVER_PI), T::c(GELU_C), T::c(0.5), T::c(1.0));
    fill_rows(x.len(), 1, |r0, o| {
        for ((d, &x), &g) in o.iter_mut().zip(&x[r0..]).zip(&g[r0..]) {
            let t = tanh(k * (x + c * x * x * x));
            *d = g * (h * (one + t) + h * x * (one - t * t) * k * (one + T::c(3.0) * c * x * x));
        }
    })
}

/// The largest element of a non-empty row under `>` (NaNs skipped unless the first element is one), in 8 lanes:
/// a single running max is a dependency chain the compiler may not split. Same value as the
/// serial fold (a max is exact; only which of +0/−0 wins a tie can differ, and every caller
/// subtracts it, where the two are the same).
pub(super) fn row_max<T: Fl>(row: &[T]) -> T {
    let mut m = [row[0]; 8];
    let mut chunks = row.chunks_exact(8);
    for c in &mut chunks {
        for (m, &v) in m.iter_mut().zip(c) {
            if v > *m {
                *m = v;
            }
        }
    }
    m.iter().chain(chunks.remainder()).copied().fold(row[0], |m, v| if v > m { v } else { m })
}

/// `d ← softmax(d)` for one non-empty row: shifted by the max, summed in lanes. The one
/// softmax row of the fused kernels (softmax, masked softmax, decode attention).
pub(super) fn softmax_in_place<T: Fl>(d: &mut [T]) {
    let max = row_max(d);
    d.iter_mut().for_each(|v| *v = (*v - max).exp());
    let inv = T::c(1.0) / lanes_of(d, |x| x);
    d.iter_mut().for_each(|v| *v = *v * inv);
}

fn softmax_fwd<T: Fl>(x: &[T], n: usize) -> Vec<T> {
    fill_rows(x.len(), n, |r0, o| {
        for (row, d) in x[r0 * n..].chunks(n).zip(o.chunks_mut(n)) {
            d.copy_from_slice(row);
            softmax_in_place(d);
        }
    })
}

fn softmax_bwd<T: Fl>(y: &[T], g: &[T], n: usize) -> Vec<T> {
    fill_rows(y.len(), n, |r0, o| {
        for ((yr, gr), d) in y[r0 * n..].chunks(n).zip(g[r0 * n..].chunks(n)).zip(o.chunks_mut(n)) {
            let dot = lanes(n, |i| yr[i] * gr[i]);
            for ((d, &y), &g) in d.iter_mut().zip(yr).zip(gr) {
                *d = y * (g - dot);
            }
        }
    })
}

/// Per-row mean and 1/sqrt(var + eps).
fn ln_stats<T: Fl>(row: &[T], eps: f64) -> (T, T) {
    let n = T::c(row.len() as f64);
    let mean = lanes_of(row, |x| x) / n;
    let var = lanes_of(row, |x| (x - mean) * (x - mean)) / n;
    (mean, T::c(1.0) / (var + T::c(eps)).sqrt())
}

fn ln_fwd<T: Fl>(x: &[T], w: &[T], b: &[T], eps: f64) -> Vec<T> {
    let n = w.len();
    fill_rows(x.len(), n, |r0, o| {
        for (row, d) in x[r0 * n..].chunks(n).zip(o.chunks_mut(n)) {
            let (mean, rstd) = ln_stats(row, eps);
            for (i, d) in d.iter_mut().enumerate() {
                *d = (row[i] - mean) * rstd * w[i] + b[i];
            }
        }
    })
}

/// Returns `rows + 1` rows of width C: dx, then dw = Σ_rows g·x̂ (accumulated row by row,
/// which vectorises, per thread block, then summed; views of one buffer, no copies).
fn ln_bwd<T: Fl>(x: &[T], w: &[T], g: &[T], eps: f64) -> Vec<T> {
    let n = w.len();
    let nf = T::c(n as f64);
    let mut out = vec![T::c(0.0); x.len() + n];
    let (dx, dw) = out.split_at_mut(x.len());
    let partial = std::sync::Mutex::new(Vec::<Vec<T>>::new());
    par_rows(dx, n, |r0, o| {
        let mut acc = vec![T::c(0.0); n];
        let mut xhat = vec![T::c(0.0); n];
        for ((row, gr), d) in x[r0 * n..].chunks(n).zip(g[r0 * n..].chunks(n)).zip(o.chunks_mut(n)) {
            let (mean, rstd) = ln_stats(row, eps);
            for i in 0..n {
                xhat[i] = (row[i] - mean) * rstd;
            }
            let s1 = lanes(n, |i| gr[i] * w[i]);
            let s2 = lanes(n, |i| gr[i] * w[i] * xhat[i]);
            let (m1, m2) = (s1 / nf, s2 / nf);
            for i in 0..n {
                d[i] = rstd * (gr[i] * w[i] - m1 - xhat[i] * m2);
                acc[i] = acc[i] + gr[i] * xhat[i];
            }
        }
        partial.lock().expect("no panics while held").push(acc);
    });
    for p in partial.into_inner().expect("no panics while held") {
        for (a, v) in dw.iter_mut().zip(p) {
            *a = *a + v;
        }
    }
    out
}

struct GeluNew;
struct GeluNewBwd;
struct Softmax;
struct SoftmaxBwd;
struct LayerNormOp(f64);
struct LayerNormBwd(f64);

impl CustomOp1 for GeluNew {
    fn name(&self) -> &'static str {
        "gpt2lab-gelu-new"
    }
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        Ok((per_dtype!(s, l, |x| gelu_fwd(x)), l.shape().clone()))
    }
    #[cfg(feature = "cuda")]
    fn cuda_fwd(&self, s: &candle_core::CudaStorage, l: &Layout) -> Result<(candle_core::CudaStorage, Shape)> {
        Ok((super::cuda_kernels::gelu_fwd(s, l)?, l.shape().clone()))
    }
    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(arg.apply_op2_no_bwd(&grad.contiguous()?, &GeluNewBwd)?))
    }
}

impl CustomOp2 for GeluNewBwd {
    fn name(&self) -> &'static str {
        "gpt2lab-gelu-new-bwd"
    }
    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        Ok((per_dtype2!(s1, l1, s2, l2, |x, g| gelu_bwd(x, g)), l1.shape().clone()))
    }
    #[cfg(feature = "cuda")]
    fn cuda_fwd(&self, s1: &candle_core::CudaStorage, l1: &Layout, s2: &candle_core::CudaStorage, l2: &Layout) -> Result<(candle_core::CudaStorage, Shape)> {
        Ok((super::cuda_kernels::gelu_bwd(s1, l1, s2, l2)?, l1.shape().clone()))
    }
}

impl CustomOp1 for Softmax {
    fn name(&self) -> &'static str {
        "gpt2lab-softmax"
    }
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let n = *l.dims().last().expect("rank >= 1");
        Ok((per_dtype!(s, l, |x| softmax_fwd(x, n)), l.shape().clone()))
    }
    #[cfg(feature = "cuda")]
    fn cuda_fwd(&self, s: &candle_core::CudaStorage, l: &Layout) -> Result<(candle_core::CudaStorage, Shape)> {
        Ok((super::cuda_kernels::softmax_fwd(s, l)?, l.shape().clone()))
    }
    fn bwd(&self, _arg: &Tensor, res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(res.apply_op2_no_bwd(&grad.contiguous()?, &SoftmaxBwd)?))
    }
}

impl CustomOp2 for SoftmaxBwd {
    fn name(&self) -> &'static str {
        "gpt2lab-softmax-bwd"
    }
    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let n = *l1.dims().last().expect("rank >= 1");
        Ok((per_dtype2!(s1, l1, s2, l2, |y, g| softmax_bwd(y, g, n)), l1.shape().clone()))
    }
    #[cfg(feature = "cuda")]
    fn cuda_fwd(&self, s1: &candle_core::CudaStorage, l1: &Layout, s2: &candle_core::CudaStorage, l2: &Layout) -> Result<(candle_core::CudaStorage, Shape)> {
        Ok((super::cuda_kernels::softmax_bwd(s1, l1, s2, l2)?, l1.shape().clone()))
    }
}

impl CustomOp3 for LayerNormOp {
    fn name(&self) -> &'static str {
        "gpt2lab-layernorm"
    }
    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout, s3: &CpuStorage, l3: &Layout) -> Result<(CpuStorage, Shape)> {
        Ok((per_dtype3!(s1, l1, s2, l2, s3, l3, |x, w, b| ln_fwd(x, w, b, self.0)), l1.shape().clone()))
    }
    #[cfg(feature = "cuda")]
    fn cuda_fwd(&self, s1: &candle_core::CudaStorage, l1: &Layout, s2: &candle_core::CudaStorage, l2: &Layout, s3: &candle_core::CudaStorage, l3: &Layout) -> Result<(candle_core::CudaStorage, Shape)> {
        Ok((super::cuda_kernels::ln_fwd(s1, l1, s2, l2, s3, l3, self.0)?, l1.shape().clone()))
    }
    fn bwd(&self, x: &Tensor, w: &Tensor, _b: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let c = w.elem_count();
        let rows = x.elem_count() / c;
        let g = grad.contiguous()?;
        let both = x.apply_op3_no_bwd(w, &g, &LayerNormBwd(self.0))?; // (rows + 1, C)
        let dx = both.narrow(0, 0, rows)?.reshape(x.shape())?;
        let dw = both.narrow(0, rows, 1)?.reshape(c)?;
        let db = col_sum(&g)?;
        Ok((Some(dx), Some(dw), Some(db)))
    }
}

impl CustomOp3 for LayerNormBwd {
    fn name(&self) -> &'static str {
        "gpt2lab-layernorm-bwd"
    }
    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout, s3: &CpuStorage, l3: &Layout) -> Result<(CpuStorage, Shape)> {
        let c = *l1.dims().last().expect("rank >= 1");
        let rows = l1.shape().elem_count() / c.max(1);
        Ok((per_dtype3!(s1, l1, s2, l2, s3, l3, |x, w, g| ln_bwd(x, w, g, self.0)), Shape::from((rows + 1, c))))
    }
    #[cfg(feature = "cuda")]
    fn cuda_fwd(&self, s1: &candle_core::CudaStorage, l1: &Layout, s2: &candle_core::CudaStorage, l2: &Layout, s3: &candle_core::CudaStorage, l3: &Layout) -> Result<(candle_core::CudaStorage, Shape)> {
        let c = *l1.dims().last().expect("rank >= 1");
        let rows = l1.shape().elem_count() / c.max(1);
        Ok((super::cuda_kernels::ln_bwd(s1, l1, s2, l2, s3, l3, self.0)?, Shape::from((rows + 1, c))))
    }
}

/// Sum over every leading dim of `(…, n)` rows: accumulates whole rows, which vectorises,
/// where candle's reduction over dim 0 walks each column with a stride (it was ~14% of a
/// tiny-model training step, in the bias and LayerNorm gradients).
fn col_sum_fwd<T: Fl>(x: &[T], n: usize) -> Vec<T> {
    let mut acc = vec![T::c(0.0); n];
    for row in x.chunks(n) {
        for (a, &v) in acc.iter_mut().zip(row) {
            *a = *a + v;
        }
    }
    acc
}

fn bias_add_fwd<T: Fl>(x: &[T], b: &[T]) -> Vec<T> {
    let n = b.len();
    fill_rows(x.len(), n, |r0, o| {
        for (row, d) in x[r0 * n..].chunks(n).zip(o.chunks_mut(n)) {
            for ((d, &v), &c) in d.iter_mut().zip(row).zip(b) {
                *d = v + c;
            }
        }
    })
}

struct ColSum;
struct BiasAdd;

impl CustomOp1 for ColSum {
    fn name(&self) -> &'static str {
        "gpt2lab-col-sum"
    }
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let n = *l.dims().last().expect("rank >= 1");
        Ok((per_dtype!(s, l, |x| col_sum_fwd(x, n)), Shape::from(n)))
    }
    #[cfg(feature = "cuda")]
    fn cuda_fwd(&self, s: &candle_core::CudaStorage, l: &Layout) -> Result<(candle_core::CudaStorage, Shape)> {
        let n = *l.dims().last().expect("rank >= 1");
        Ok((super::cuda_kernels::col_sum(s, l)?, Shape::from(n)))
    }
}

impl CustomOp2 for BiasAdd {
    fn name(&self) -> &'static str {
        "gpt2lab-bias-add"
    }
    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        Ok((per_dtype2!(s1, l1, s2, l2, |x, b| bias_add_fwd(x, b)), l1.shape().clone()))
    }
    #[cfg(feature = "cuda")]
    fn cuda_fwd(&self, s1: &candle_core::CudaStorage, l1: &Layout, s2: &candle_core::CudaStorage, l2: &Layout) -> Result<(candle_core::CudaStorage, Shape)> {
        Ok((super::cuda_kernels::bias_add(s1, l1, s2, l2)?, l1.shape().clone()))
    }
    fn bwd(&self, _x: &Tensor, _b: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        Ok((Some(grad.clone()), Some(col_sum(grad)?)))
    }
}

/// The softmax backward `y ⊙ (g − Σ y g)` over the last dim, untracked, for hand-written
/// backward passes on tensors the fused kernels take (`usable`; the kernel errors otherwise).
pub(super) fn softmax_backward(y: &Tensor, g: &Tensor) -> Result<Tensor> {
    y.contiguous()?.apply_op2_no_bwd(&g.contiguous()?, &SoftmaxBwd)
}

/// `(…, n)` → `(n,)`: the sum over every leading dim (no backward; used inside backward passes).
fn col_sum(x: &Tensor) -> Result<Tensor> {
    if !usable(x) {
        let n = *x.dims().last().expect("rank >= 1");
        return x.reshape(((), n))?.sum(0);
    }
    x.contiguous()?.apply_op1_no_bwd(&ColSum)
}

/// `x (…, n) + b (n,)`, differentiable, with the bias gradient as a row-accumulating column
/// sum; None when the kernel does not apply.
pub fn bias_add(x: &Tensor, b: &Tensor) -> Result<Option<Tensor>> {
    if !usable(x) || x.dtype() != b.dtype() || b.rank() != 1 || x.dims().last() != Some(&b.dim(0)?) {
        return Ok(None);
    }
    Ok(Some(x.contiguous()?.apply_op2(&b.contiguous()?, BiasAdd)?))
}

/// Whether the fused kernels take `x`: f32/f64 on the CPU; f32/bf16 on CUDA (`cuda_kernels.rs`).
pub(super) fn usable(x: &Tensor) -> bool {
    match x.device() {
        candle_core::Device::Cpu => matches!(x.dtype(), candle_core::DType::F32 | candle_core::DType::F64),
        #[cfg(feature = "cuda")]
        candle_core::Device::Cuda(_) => super::cuda_kernels::supported(x.dtype()),
        _ => false,
    }
}

/// GELU, tanh form (HF "gelu_new"), differentiable; None when the kernel does not apply.
pub fn gelu_new(x: &Tensor) -> Result<Option<Tensor>> {
    if !usable(x) {
        return Ok(None);
    }
    Ok(Some(x.contiguous()?.apply_op1(GeluNew)?))
}

/// Softmax over the last dim, differentiable.
pub fn softmax_last(x: &Tensor) -> Result<Option<Tensor>> {
    if !usable(x) {
        return Ok(None);
    }
    Ok(Some(x.contiguous()?.apply_op1(Softmax)?))
}

/// LayerNorm over the last dim with affine weight and bias, differentiable in all three.
pub fn layer_norm(x: &Tensor, w: &Tensor, b: &Tensor, eps: f64) -> Result<Option<Tensor>> {
    if !usable(x) || x.dtype() != w.dtype() || x.dtype() != b.dtype() {
        return Ok(None);
    }
    Ok(Some(x.contiguous()?.apply_op3(&w.contiguous()?, &b.contiguous()?, LayerNormOp(eps))?))
}

/// Additive-mask entries at or below this are hidden keys (the model writes `MASK_VALUE`, -1e9).
const HIDDEN: f32 = super::gpt2::MASK_VALUE / 2.0;

/// One row of [`masked_softmax_last`]: `dst = softmax(src + mask)`, hidden keys exactly 0.
fn masked_softmax_row(src: &[f32], mask: &[f32], dst: &mut [f32]) {
    // the max over visible keys, in 8 lanes (one running max is a dependency chain), with
    // selects rather than a short-circuit branch, so that the loop vectorises
    let mut lane_max = [f32::NEG_INFINITY; 8];
    let take = |mx: &mut f32, s: f32, m: f32| {
        let v = if m > HIDDEN { s + m } else { f32::NEG_INFINITY };
        *mx = if v > *mx { v } else { *mx };
    };
    let (sc, mc) = (src.chunks_exact(8), mask.chunks_exact(8));
    let (sr, mr) = (sc.remainder(), mc.remainder());
    for (sc, mc) in sc.zip(mc) {
        for ((mx, &s), &m) in lane_max.iter_mut().zip(sc).zip(mc) {
            take(mx, s, m);
        }
    }
    for ((mx, &s), &m) in lane_max.iter_mut().zip(sr).zip(mr) {
        take(mx, s, m);
    }
    let max = lane_max.into_iter().fold(f32::NEG_INFINITY, |a, v| if v > a { v } else { a });
    if max == f32::NEG_INFINITY {
        // no visible key (a padding query): the additive form, as the composite path computes it
        for ((d, &s), &m) in dst.iter_mut().zip(src).zip(mask) {
            *d = s + m;
        }
        softmax_in_place(dst);
        return;
    }
    for ((d, &s), &m) in dst.iter_mut().zip(src).zip(mask) {
        *d = if m > HIDDEN { exp_f32(s + m - max) } else { 0.0 };
    }
    let inv = 1.0 / lanes_of(dst, |x: f32| x);
    dst.iter_mut().for_each(|d| *d *= inv);
}

/// (B, H, T, Tk, MB) of scores (B, H, T, Tk) and an additive mask (MB, 1, T, Tk), MB ∈ {1, B}.
fn masked_dims(l1: &Layout, l2: &Layout) -> Result<(usize, usize, usize, usize, usize)> {
    let (&[b, h, t, tk], &[mb, 1, mt, mtk]) = (l1.dims(), l2.dims()) else {
        candle_core::bail!("masked softmax: scores {:?} and mask {:?} must be (B, H, T, Tk) and (B|1, 1, T, Tk)", l1.dims(), l2.dims())
    };
    if (mb != 1 && mb != b) || mt != t || mtk != tk {
        candle_core::bail!("masked softmax: mask {:?} does not fit scores {:?}", l2.dims(), l1.dims());
    }
    Ok((b, h, t, tk, mb))
}

/// Softmax over the last dim of `scores + mask`, with its backward in `scores` (see
/// [`masked_softmax_last`]).
struct MaskedSoftmax;

impl CustomOp2 for MaskedSoftmax {
    fn name(&self) -> &'static str {
        "gpt2lab-masked-softmax"
    }
    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (x, m) = match (s1, s2) {
            (CpuStorage::F32(a), CpuStorage::F32(b)) => (slice(a, l1)?, slice(b, l2)?),
            _ => candle_core::bail!("masked softmax: f32 only"),
        };
        let (_, h, t, tk, mb) = masked_dims(l1, l2)?;
        let mut out = vec![0f32; x.len()];
        // rows r .. r + n of the flattened (B·H·T, Tk) scores
        par_rows(&mut out, tk, |r0: usize, dst: &mut [f32]| {
            for (i, d) in dst.chunks_mut(tk).enumerate() {
                let r = r0 + i;
                let (bi, qi) = (r / (h * t), r % t);
                let mrow = (if mb == 1 { 0 } else { bi }) * t + qi;
                masked_softmax_row(&x[r * tk..(r + 1) * tk], &m[mrow * tk..(mrow + 1) * tk], d);
            }
        });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
    #[cfg(feature = "cuda")]
    fn cuda_fwd(&self, s1: &candle_core::CudaStorage, l1: &Layout, s2: &candle_core::CudaStorage, l2: &Layout) -> Result<(candle_core::CudaStorage, Shape)> {
        let (_, h, t, tk, mb) = masked_dims(l1, l2)?;
        Ok((super::cuda_kernels::masked_softmax(s1, l1, s2, l2, h, t, tk, mb, HIDDEN)?, l1.shape().clone()))
    }
    /// The softmax backward on the pattern: hidden keys have pattern 0, hence gradient 0, as
    /// in the composite form; the mask is a constant.
    fn bwd(&self, _scores: &Tensor, _mask: &Tensor, res: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        Ok((Some(res.apply_op2_no_bwd(&grad.contiguous()?, &SoftmaxBwd)?), None))
    }
}

/// Differentiable in `scores` (None unless f32 on the CPU or f32/bf16 on CUDA; the mask is a constant): the attention
/// pattern `softmax(scores + mask)` for `scores` (B, H, T, Tk) and an additive `mask`
/// (B|1, 1, T, Tk) of 0 (visible) and `MASK_VALUE` (hidden), without materialising the sum.
/// Hidden keys get exactly 0 with no exp: glibc's expf takes its slow underflow path (errno)
/// for the ~-1e9 arguments of the additive form, ~12% of a T=1024 forward. Equal to the
/// composite form up to summation order; a row with no visible key (a padding query) is
/// computed the composite way (uniform).
pub fn masked_softmax_last(scores: &Tensor, mask: &Tensor) -> Result<Option<Tensor>> {
    let f32_cpu = scores.device().is_cpu() && scores.dtype() == candle_core::DType::F32;
    let gpu = scores.device().is_cuda() && usable(scores);
    if mask.track_op() || !(f32_cpu || gpu) || mask.dtype() != scores.dtype() || !mask.device().same_device(scores.device()) {
        return Ok(None);
    }
    // apply_op2 records the op only when `scores` tracks a gradient
    Ok(Some(scores.contiguous()?.apply_op2(&mask.contiguous()?, MaskedSoftmax)?))
}

/// True when some query of an additive mask (B|1, 1, T, Tk) cannot see its own key, i.e. is a
/// padding position (whose row is fully hidden). Conservatively true off the CPU.
pub fn has_hidden_query(mask: &Tensor) -> Result<bool> {
    let (&[mb, _, t, tk], layout) = (mask.dims(), mask.layout()) else {
        return Ok(true);
    };
    let (storage, _) = mask.storage_and_layout();
    let (candle_core::Storage::Cpu(CpuStorage::F32(v)), Some((o, _))) = (&*storage, layout.contiguous_offsets()) else {
        return Ok(true);
    };
    let past = tk - t;
    Ok((0..mb).any(|b| (0..t).any(|q| v[o + (b * t + q) * tk + past + q] <= HIDDEN)))
}

#[cfg(test)]
mod lanes_tests;
