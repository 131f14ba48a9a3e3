//! `x (m, k) @ w (k, n)` for a few rows of `x` (greedy decoding: m = batch size, one token
//! each), f32 on the CPU, no gradient. A decode step is memory-bound: it reads every weight
//! once. candle hands m = 1 to `gemm`, whose AVX-512 kernels (`x86-v4`) made decoding ~27%
//! slower than its AVX2 ones did while making prefill and training 20–35% faster; this
//! streams the weights once, split over the rayon pool by output columns, instead.
//! Two weight layouts: row-major `(k, n)` (Conv1D `[in, out]`) as a sum of scaled rows, and
//! the transposed view of a row-major `(n, k)` (the tied unembedding `wteᵀ`) as dot products.

use candle_core::{CpuStorage, CustomOp2, DType, Layout, Result, Shape, Tensor};

use super::kernels::{lanes, par_rows_min};

/// At most this many rows of `x` take this path (beyond, gemm's blocking wins).
pub const MAX_ROWS: usize = 4;
/// Output columns per block of the row-major path: the accumulators stay in L1.
const COLS: usize = 512;

/// Row-major `w` (k, n): `y[r, j] = Σ_i x[r, i] · w[i, j]`, for columns `j0..j0 + out.len()`.
#[inline(always)]
fn axpy_block(x: &[f32], k: usize, w: &[f32], n: usize, j0: usize, out: &mut [f32]) {
    for (c0, blk) in (j0..j0 + out.len()).step_by(COLS).zip(out.chunks_mut(COLS)) {
        for (i, &a) in x[..k].iter().enumerate() {
            let wr = &w[i * n + c0..i * n + c0 + blk.len()];
            for (o, &v) in blk.iter_mut().zip(wr) {
                *o += a * v;
            }
        }
    }
}

/// Dot products `y[jj] = t[j0 + jj, :] · x` for a row-major `t` (n, k).
#[inline(always)]
fn dot_block(x: &[f32], k: usize, t: &[f32], j0: usize, out: &mut [f32]) {
    for (jj, yv) in out.iter_mut().enumerate() {
        let tr = &t[(j0 + jj) * k..(j0 + jj + 1) * k];
        *yv = lanes(k, |i| tr[i] * x[i]);
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
multiversion!(axpy_fast, axpy_block, (x: &[f32], k: usize, w: &[f32], n: usize, j0: usize, out: &mut [f32]));
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
        // split over threads in 64-column units, unless the whole product is small
        let min = if k * n >= 1 << 15 { 0 } else { usize::MAX };
        if l2.is_contiguous() {
            let w = &ws[o..o + k * n];
            for (r, y) in out.chunks_mut(n).enumerate() {
                let xr = &x[r * k..(r + 1) * k];
                par_rows_min(y, 64, min, |u0, blk| axpy_fast(xr, k, w, n, u0 * 64, blk));
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
