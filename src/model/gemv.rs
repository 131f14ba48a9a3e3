//! Decoding kernels (f32, CPU, no gradient): `x (m, k) @ w (k, n)` for a few rows of `x`
//! (m = batch size, one token each), and one-token attention over the KV cache.
//!
//! A decode step is memory-bound: it reads every weight once. candle hands m = 1 to `gemm`,
//! whose AVX-512 kernels (`x86-v4`) made decoding ~27% slower than its AVX2 ones while making
//! prefill and training 20–35% faster; these kernels stream each weight matrix once instead.
//! Two weight layouts: row-major `(k, n)` (Conv1D `[in, out]`) as a sum of scaled rows, each
//! thread taking a contiguous range of rows into its own partial sum (added in a fixed order,
//! so results are reproducible for a given thread count), and the transposed view of a
//! row-major `(n, k)` (the tied unembedding `wteᵀ`) as dot products, threads taking ranges
//! of output columns.

use candle_core::{CpuStorage, CustomOp2, DType, Layout, Result, Shape, Tensor};

use super::kernels::{lanes, par_rows_min};

/// At most this many rows of `x` take this path (beyond, gemm's blocking wins).
pub const MAX_ROWS: usize = 4;

/// Row-major `w` (k, n): adds `x[r, i] · w[i, :]` to `out[r, :]` for rows `i0..i1` of `w`, so
/// each thread reads one contiguous stretch of `w` in order (the prefetcher's best case; a
/// split by output columns made each thread read k short strided runs instead).
#[inline(always)]
fn axpy_rows(x: &[f32], m: usize, k: usize, w: &[f32], n: usize, i0: usize, i1: usize, out: &mut [f32]) {
    for i in i0..i1 {
        let wr = &w[i * n..(i + 1) * n];
        for (r, o) in out.chunks_mut(n).enumerate().take(m) {
            let a = x[r * k + i];
            for (o, &v) in o.iter_mut().zip(wr) {
                *o += a * v;
            }
        }
    }
}

/// `a · b` in 32 independent lanes: enough accumulators to hide the add latency of a wide
/// vector unit (8 lanes = one AVX2 register = one dependent add per 8 floats, ~28 GB/s a core).
#[inline(always)]
fn dot32(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 32];
    let full = a.len() / 32 * 32;
    for (ca, cb) in a[..full].chunks_exact(32).zip(b[..full].chunks_exact(32)) {
        for l in 0..32 {
            acc[l] += ca[l] * cb[l];
        }
    }
    let tail: f32 = a[full..].iter().zip(&b[full..]).map(|(x, y)| x * y).sum();
    lanes(32, |l| acc[l]) + tail
}

/// Dot products `y[jj] = t[j0 + jj, :] · x` for a row-major `t` (n, k).
#[inline(always)]
fn dot_block(x: &[f32], k: usize, t: &[f32], j0: usize, out: &mut [f32]) {
    for (jj, yv) in out.iter_mut().enumerate() {
        *yv = dot32(&t[(j0 + jj) * k..(j0 + jj + 1) * k], &x[..k]);
    }
}

/// The loops above compiled for the best vector unit this CPU has (runtime check), so the
/// kernel streams at memory speed whatever `target-cpu` the crate was built for: built for
/// baseline x86-64 (SSE2) it decoded ~60% slower than gemm's AVX2 path.
macro_rules! multiversion {
    ($name:ident, $inner:ident, ($($a:ident: $t:ty),*)) => {
        fn $name($($a: $t),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx2,fma")]
                unsafe fn v4($($a: $t),*) { $inner($($a),*) }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn v3($($a: $t),*) { $inner($($a),*) }
                if std::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU has the features v4 is compiled for (checked above).
                    return unsafe { v4($($a),*) };
                }
                if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                    // SAFETY: as above, for v3.
                    return unsafe { v3($($a),*) };
                }
            }
            $inner($($a),*)
        }
    };
}
multiversion!(axpy_fast, axpy_rows, (x: &[f32], m: usize, k: usize, w: &[f32], n: usize, i0: usize, i1: usize, out: &mut [f32]));
multiversion!(dot_fast, dot_block, (x: &[f32], k: usize, t: &[f32], j0: usize, out: &mut [f32]));

struct SmallM;

impl CustomOp2 for SmallM {
    fn name(&self) -> &'static str {
        "gpt2lab-small-m-matmul"
    }
    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (CpuStorage::F32(xs), CpuStorage::F32(ws)) = (s1, s2) else { candle_core::bail!("small-m matmul: f32 only") };
        let (&[m, k], &[k2, n]) = (l1.dims(), l2.dims()) else { candle_core::bail!("small-m matmul: 2-D operands") };
        if k != k2 {
            candle_core::bail!("small-m matmul: ({m}, {k}) @ ({k2}, {n})");
        }
        let x = super::kernels::slice(xs, l1)?;
        let mut out = vec![0f32; m * n];
        let o = l2.start_offset();
        // split over the pool's threads, unless the whole product is small
        let min = if k * n >= 1 << 15 { 0 } else { usize::MAX };
        if l2.is_contiguous() {
            let w = &ws[o..o + k * n];
            let threads = if min == 0 { rayon::current_num_threads().clamp(1, k) } else { 1 };
            if threads == 1 {
                axpy_fast(x, m, k, w, n, 0, k, &mut out);
            } else {
                // contiguous row ranges of w per thread, partial sums added at the end
                let per = k.div_ceil(threads);
                let mut parts = vec![vec![0f32; m * n]; threads];
                rayon::scope(|sc| {
                    for (t, part) in parts.iter_mut().enumerate() {
                        sc.spawn(move |_| axpy_fast(x, m, k, w, n, (t * per).min(k), ((t + 1) * per).min(k), part));
                    }
                });
                for part in &parts {
                    for (y, &p) in out.iter_mut().zip(part) {
                        *y += p;
                    }
                }
            }
        } else if l2.stride() == [1, k] {
            // w = tᵀ for a row-major t (n, k): y[r, j] = t[j, :] · x[r, :]
            let t = &ws[o..o + n * k];
            for (r, y) in out.chunks_mut(n).enumerate() {
                let xr = &x[r * k..(r + 1) * k];
                par_rows_min(y, 64, min, |u0, blk| dot_fast(xr, k, t, u0 * 64, blk));
            }
        } else {
            candle_core::bail!("small-m matmul: weight layout {:?} not handled", l2.stride());
        }
        Ok((CpuStorage::F32(out), Shape::from((m, n))))
    }
}

/// `x (m, k) @ w (k, n)`: [`small_m_matmul`] where it applies (decoding), else candle's matmul.
pub fn matmul(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    match small_m_matmul(x, w)? {
        Some(y) => Ok(y),
        None => x.matmul(w),
    }
}

/// `x (m, k) @ w (k, n)` through [`SmallM`] when it applies (CPU, f32, no gradient tracked,
/// m ≤ [`MAX_ROWS`], `w` row-major or the transpose of a row-major matrix); else None.
pub fn small_m_matmul(x: &Tensor, w: &Tensor) -> Result<Option<Tensor>> {
    let ok = x.device().is_cpu()
        && x.dtype() == DType::F32
        && w.dtype() == DType::F32
        && !x.track_op()
        && !w.track_op()
        && x.rank() == 2
        && w.rank() == 2
        && x.dim(0)? <= MAX_ROWS
        && (w.is_contiguous() || w.t()?.is_contiguous());
    if !ok {
        return Ok(None);
    }
    Ok(Some(x.contiguous()?.apply_op2_no_bwd(w, &SmallM)?))
}

/// One decoding step of attention: `softmax(q·kᵀ) v` for q (B, H, 1, dh) (already scaled),
/// k and v (B, H, Tk, dh), every key visible (no mask), f32. One pass per head, heads split
/// over the pool; replaces two batched m = 1 matmuls (gemm's slow path with `x86-v4`) and a
/// softmax.
struct DecodeAttention;

#[inline(always)]
fn decode_head(q: &[f32], k: &[f32], v: &[f32], dh: usize, scores: &mut [f32], z: &mut [f32]) {
    for (j, s) in scores.iter_mut().enumerate() {
        let kr = &k[j * dh..(j + 1) * dh];
        *s = lanes(dh, |i| q[i] * kr[i]);
    }
    super::kernels::softmax_in_place(scores);
    z.iter_mut().for_each(|x| *x = 0.0);
    for (j, &p) in scores.iter().enumerate() {
        let vr = &v[j * dh..(j + 1) * dh];
        for (x, &vv) in z.iter_mut().zip(vr) {
            *x += p * vv;
        }
    }
}

#[inline(always)]
fn decode_heads(q: &[f32], k: &[f32], v: &[f32], dh: usize, tk: usize, h0: usize, out: &mut [f32]) {
    let mut scores = vec![0f32; tk];
    for (i, z) in out.chunks_mut(dh).enumerate() {
        let h = h0 + i;
        decode_head(&q[h * dh..(h + 1) * dh], &k[h * tk * dh..(h + 1) * tk * dh], &v[h * tk * dh..(h + 1) * tk * dh], dh, &mut scores, z);
    }
}
multiversion!(decode_heads_fast, decode_heads, (q: &[f32], k: &[f32], v: &[f32], dh: usize, tk: usize, h0: usize, out: &mut [f32]));

impl candle_core::CustomOp3 for DecodeAttention {
    fn name(&self) -> &'static str {
        "gpt2lab-decode-attention"
    }
    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout, s3: &CpuStorage, l3: &Layout) -> Result<(CpuStorage, Shape)> {
        let (CpuStorage::F32(qs), CpuStorage::F32(ks), CpuStorage::F32(vs)) = (s1, s2, s3) else { candle_core::bail!("decode attention: f32 only") };
        let (&[b, h, 1, dh], &[kb, kh, tk, kd]) = (l1.dims(), l2.dims()) else { candle_core::bail!("decode attention: q {:?}, k {:?}", l1.dims(), l2.dims()) };
        if (kb, kh, kd) != (b, h, dh) || l3.dims() != l2.dims() {
            candle_core::bail!("decode attention: q {:?}, k {:?}, v {:?}", l1.dims(), l2.dims(), l3.dims());
        }
        let (q, k, v) = (super::kernels::slice(qs, l1)?, super::kernels::slice(ks, l2)?, super::kernels::slice(vs, l3)?);
        let mut out = vec![0f32; b * h * dh];
        let min = if b * h * tk * dh >= 1 << 15 { 0 } else { usize::MAX };
        par_rows_min(&mut out, dh, min, |h0, blk| decode_heads_fast(q, k, v, dh, tk, h0, blk));
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

/// Attention output (B, H, 1, dh) of a one-token decoding step with every key visible, through
/// [`DecodeAttention`]; None unless CPU, f32, untracked and contiguous-able.
pub fn decode_attention(q: &Tensor, k: &Tensor, v: &Tensor) -> Result<Option<Tensor>> {
    let ok = q.device().is_cpu()
        && [q, k, v].iter().all(|t| t.dtype() == DType::F32 && !t.track_op() && t.rank() == 4)
        && q.dim(2)? == 1;
    if !ok {
        return Ok(None);
    }
    Ok(Some(q.contiguous()?.apply_op3_no_bwd(&k.contiguous()?, &v.contiguous()?, &DecodeAttention)?))
}
