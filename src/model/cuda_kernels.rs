//! Launchers for gpt2lab's fused CUDA kernels (`cuda/kernels.cu`, compiled to PTX by
//! `build.rs`): the `cuda_fwd` halves of the custom ops in `kernels.rs`, `xent.rs` and
//! `train/fused_adamw.rs`. Each takes candle CUDA storages with their layouts (contiguous,
//! f32 or bf16; the callers check) and returns a fresh storage.
//!
//! Hand-written because candle 0.11's CUDA backend has no fused op with a backward: on the
//! GPU every LayerNorm, softmax, GELU and cross-entropy of a training step ran as 6–14
//! element-wise kernels and their gradients as as many again (README, GPU section).

use candle_core::backend::BackendStorage;
use candle_core::cuda_backend::cudarc::driver::{CudaSlice, CudaView, DeviceRepr, LaunchConfig, PushKernelArg};
use candle_core::cuda_backend::{CudaDType, CudaDevice, WrapErr};
use candle_core::{CudaStorage, DType, Layout, Result};

const PTX: &str = include_str!(concat!(env!("OUT_DIR"), "/gpt2lab_kernels.ptx"));
const MODULE: &str = "gpt2lab_kernels";

/// Storage element types the kernels have entry points for (`name_f32`, `name_bf16`).
pub(crate) trait El: DeviceRepr + CudaDType + Copy + 'static {
    const SUFFIX: &'static str;
}
impl El for f32 {
    const SUFFIX: &'static str = "f32";
}
impl El for half::bf16 {
    const SUFFIX: &'static str = "bf16";
}

/// Whether the kernels take this dtype.
pub(crate) fn supported(d: DType) -> bool {
    matches!(d, DType::F32 | DType::BF16)
}

/// Calls `$body` with `$T` the element type of `$dtype` (f32 or bf16).
macro_rules! with_el {
    ($dtype:expr, |$T:ident| $body:expr) => {
        match $dtype {
            candle_core::DType::F32 => {
                type $T = f32;
                $body
            }
            candle_core::DType::BF16 => {
                type $T = half::bf16;
                $body
            }
            d => candle_core::bail!("gpt2lab CUDA kernel: unsupported dtype {d:?} (f32 and bf16 only)"),
        }
    };
}

/// Launches entry point `$name` (a String) with locals `$arg…` (each pushed by reference).
macro_rules! launch {
    ($dev:expr, $name:expr, $cfg:expr; $($arg:ident),* $(,)?) => {{
        let f = $dev.get_or_load_custom_func(&$name, MODULE, PTX)?;
        let mut b = f.builder();
        $( b.arg(&$arg); )*
        // SAFETY: the arguments match the kernel's parameter list in kernels.cu, and every
        // buffer holds the elements the kernel indexes (checked by the callers' shapes).
        unsafe { b.launch($cfg) }.w()?;
    }};
}

fn name<T: El>(root: &str) -> String {
    format!("{root}_{}", T::SUFFIX)
}

/// The contiguous span of `s` that `l` addresses.
pub(crate) fn view<'a, T: DeviceRepr + CudaDType>(s: &'a CudaStorage, l: &Layout) -> Result<CudaView<'a, T>> {
    let Some((a, b)) = l.contiguous_offsets() else {
        candle_core::bail!("gpt2lab CUDA kernel: needs a contiguous input")
    };
    Ok(T::as_cuda_slice(s)?.slice(a..b))
}

fn alloc<T: El>(dev: &CudaDevice, n: usize) -> Result<CudaSlice<T>> {
    // SAFETY: every element is written by the kernel that follows.
    unsafe { dev.alloc::<T>(n.max(1)) }
}

fn wrap<T: El>(s: CudaSlice<T>, dev: &CudaDevice) -> CudaStorage {
    T::wrap_cuda_slice(s, dev.clone())
}

/// Grid-stride element-wise launch.
fn flat(n: usize) -> LaunchConfig {
    let blocks = n.div_ceil(256).clamp(1, 1 << 16) as u32;
    LaunchConfig { grid_dim: (blocks, 1, 1), block_dim: (256, 1, 1), shared_mem_bytes: 0 }
}

/// One block per row of `n`: enough threads for the row, a multiple of 32, at most 1024.
fn per_row(rows: usize, n: usize) -> LaunchConfig {
    let threads = (n.div_ceil(32) * 32).clamp(32, if n >= 4096 { 1024 } else { 256 }) as u32;
    LaunchConfig { grid_dim: (rows as u32, 1, 1), block_dim: (threads, 1, 1), shared_mem_bytes: 0 }
}

/// Rows up to this long run one warp per row, held in registers (`*_warp` kernels).
const WARP_ROW_MAX: usize = 1024;

/// One warp per row, four rows per block.
fn warp_rows(rows: usize) -> LaunchConfig {
    LaunchConfig { grid_dim: (rows.div_ceil(4) as u32, 1, 1), block_dim: (128, 1, 1), shared_mem_bytes: 0 }
}

fn i32_of(v: usize, what: &str) -> Result<i32> {
    i32::try_from(v).map_err(|_| candle_core::Error::Msg(format!("gpt2lab CUDA kernel: {what} {v} exceeds i32")))
}

fn last_dim(l: &Layout) -> Result<(usize, usize)> {
    let n = *l.dims().last().ok_or_else(|| candle_core::Error::Msg("gpt2lab CUDA kernel: rank-0 input".into()))?;
    Ok((l.shape().elem_count() / n.max(1), n))
}

pub(crate) fn gelu_fwd(s: &CudaStorage, l: &Layout) -> Result<CudaStorage> {
    let dev = s.device();
    with_el!(s.dtype(), |T| {
        let x = view::<T>(s, l)?;
        let n = l.shape().elem_count();
        let y = alloc::<T>(dev, n)?;
        launch!(dev, name::<T>("gelu_fwd"), flat(n); x, y, n);
        Ok(wrap(y, dev))
    })
}

pub(crate) fn gelu_bwd(xs: &CudaStorage, xl: &Layout, gs: &CudaStorage, gl: &Layout) -> Result<CudaStorage> {
    let dev = xs.device();
    with_el!(xs.dtype(), |T| {
        let (x, g) = (view::<T>(xs, xl)?, view::<T>(gs, gl)?);
        let n = xl.shape().elem_count();
        let d = alloc::<T>(dev, n)?;
        launch!(dev, name::<T>("gelu_bwd"), flat(n); x, g, d, n);
        Ok(wrap(d, dev))
    })
}

pub(crate) fn softmax_fwd(s: &CudaStorage, l: &Layout) -> Result<CudaStorage> {
    let dev = s.device();
    let (rows, n) = last_dim(l)?;
    with_el!(s.dtype(), |T| {
        let x = view::<T>(s, l)?;
        let y = alloc::<T>(dev, rows * n)?;
        let ni = i32_of(n, "row length")?;
        if n <= WARP_ROW_MAX {
            let ri = i32_of(rows, "rows")?;
            launch!(dev, name::<T>("softmax_fwd_warp"), warp_rows(rows); x, y, ri, ni);
        } else {
            launch!(dev, name::<T>("softmax_fwd"), per_row(rows, n); x, y, ni);
        }
        Ok(wrap(y, dev))
    })
}

pub(crate) fn softmax_bwd(ys: &CudaStorage, yl: &Layout, gs: &CudaStorage, gl: &Layout) -> Result<CudaStorage> {
    let dev = ys.device();
    let (rows, n) = last_dim(yl)?;
    with_el!(ys.dtype(), |T| {
        let (y, g) = (view::<T>(ys, yl)?, view::<T>(gs, gl)?);
        let d = alloc::<T>(dev, rows * n)?;
        let ni = i32_of(n, "row length")?;
        if n <= WARP_ROW_MAX {
            let ri = i32_of(rows, "rows")?;
            launch!(dev, name::<T>("softmax_bwd_warp"), warp_rows(rows); y, g, d, ri, ni);
        } else {
            launch!(dev, name::<T>("softmax_bwd"), per_row(rows, n); y, g, d, ni);
        }
        Ok(wrap(d, dev))
    })
}

/// `softmax(scores + mask)` for scores (B, H, T, Tk) and mask (MB, 1, T, Tk) (shapes checked
/// by the caller), hidden keys (mask ≤ `hidden`) exactly 0.
#[allow(clippy::too_many_arguments)]
pub(crate) fn masked_softmax(xs: &CudaStorage, xl: &Layout, ms: &CudaStorage, ml: &Layout, h: usize, t: usize, tk: usize, mb: usize, hidden: f32) -> Result<CudaStorage> {
    let dev = xs.device();
    let rows = xl.shape().elem_count() / tk.max(1);
    with_el!(xs.dtype(), |T| {
        let (x, m) = (view::<T>(xs, xl)?, view::<T>(ms, ml)?);
        let y = alloc::<T>(dev, rows * tk)?;
        let (h, t, tki, mb) = (i32_of(h, "heads")?, i32_of(t, "queries")?, i32_of(tk, "keys")?, i32_of(mb, "mask batch")?);
        if tk <= WARP_ROW_MAX {
            let ri = i32_of(rows, "rows")?;
            launch!(dev, name::<T>("masked_softmax_fwd_warp"), warp_rows(rows); x, m, y, ri, h, t, tki, mb, hidden);
        } else {
            launch!(dev, name::<T>("masked_softmax_fwd"), per_row(rows, tk); x, m, y, h, t, tki, mb, hidden);
        }
        Ok(wrap(y, dev))
    })
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn ln_fwd(xs: &CudaStorage, xl: &Layout, ws: &CudaStorage, wl: &Layout, bs: &CudaStorage, bl: &Layout, eps: f64) -> Result<CudaStorage> {
    let dev = xs.device();
    let (rows, c) = last_dim(xl)?;
    with_el!(xs.dtype(), |T| {
        let (x, w, b) = (view::<T>(xs, xl)?, view::<T>(ws, wl)?, view::<T>(bs, bl)?);
        let y = alloc::<T>(dev, rows * c)?;
        let (ri, ci, eps) = (i32_of(rows, "rows")?, i32_of(c, "width")?, eps as f32);
        launch!(dev, name::<T>("ln_fwd"), warp_rows(rows); x, w, b, y, ri, ci, eps);
        Ok(wrap(y, dev))
    })
}

/// Rows per column-sum chunk (each chunk's partial sums are added in chunk order).
const CHUNK: usize = 256;

fn col_cfg(rows: usize, c: usize) -> LaunchConfig {
    LaunchConfig { grid_dim: (c.div_ceil(32) as u32, rows.div_ceil(CHUNK).max(1) as u32, 1), block_dim: (32, 8, 1), shared_mem_bytes: 0 }
}

/// LayerNorm's backward: `rows + 1` rows of width C, dx then dw (the layout of the CPU op).
#[allow(clippy::too_many_arguments)]
pub(crate) fn ln_bwd(xs: &CudaStorage, xl: &Layout, ws: &CudaStorage, wl: &Layout, gs: &CudaStorage, gl: &Layout, eps: f64) -> Result<CudaStorage> {
    let dev = xs.device();
    let (rows, c) = last_dim(xl)?;
    with_el!(xs.dtype(), |T| {
        let (x, w, g) = (view::<T>(xs, xl)?, view::<T>(ws, wl)?, view::<T>(gs, gl)?);
        let out = alloc::<T>(dev, (rows + 1) * c)?;
        let stats = alloc::<f32>(dev, 2 * rows)?;
        let chunks = rows.div_ceil(CHUNK).max(1);
        let part = alloc::<f32>(dev, chunks * c)?;
        let (ri, ci, eps, chunk, nch) = (i32_of(rows, "rows")?, i32_of(c, "width")?, eps as f32, CHUNK as i32, chunks as i32);
        launch!(dev, name::<T>("ln_bwd_dx"), warp_rows(rows); x, w, g, out, stats, ri, ci, eps);
        launch!(dev, name::<T>("ln_dw_partial"), col_cfg(rows, c); x, g, stats, part, ri, ci, chunk);
        let dw = out.slice(rows * c..);
        launch!(dev, name::<T>("col_finish"), flat(c); part, dw, nch, ci);
        Ok(wrap(out, dev))
    })
}

/// `(…, n)` → `(n,)`, summed over every leading dim in a fixed order.
pub(crate) fn col_sum(xs: &CudaStorage, xl: &Layout) -> Result<CudaStorage> {
    let dev = xs.device();
    let (rows, c) = last_dim(xl)?;
    with_el!(xs.dtype(), |T| {
        let x = view::<T>(xs, xl)?;
        let out = alloc::<T>(dev, c)?;
        let chunks = rows.div_ceil(CHUNK).max(1);
        let part = alloc::<f32>(dev, chunks * c)?;
        let (ri, ci, chunk, nch) = (i32_of(rows, "rows")?, i32_of(c, "width")?, CHUNK as i32, chunks as i32);
        launch!(dev, name::<T>("col_partial"), col_cfg(rows, c); x, part, ri, ci, chunk);
        launch!(dev, name::<T>("col_finish"), flat(c); part, out, nch, ci);
        Ok(wrap(out, dev))
    })
}

pub(crate) fn bias_add(xs: &CudaStorage, xl: &Layout, bs: &CudaStorage, bl: &Layout) -> Result<CudaStorage> {
    let dev = xs.device();
    let (_, c) = last_dim(xl)?;
    with_el!(xs.dtype(), |T| {
        let (x, b) = (view::<T>(xs, xl)?, view::<T>(bs, bl)?);
        let n = xl.shape().elem_count();
        let y = alloc::<T>(dev, n)?;
        let ci = i32_of(c, "width")?;
        launch!(dev, name::<T>("bias_add"), flat(n); x, b, y, n, ci);
        Ok(wrap(y, dev))
    })
}

/// Cross-entropy of logits (N, W) (f32 or bf16, f32 arithmetic) over their first `v` ≤ W
/// columns (the rest padding) against u32 targets (N,): an f32 storage of N + 1 values, the
/// mean loss then each row's log-sum-exp (what the backward needs to make the gradient in one
/// pass). An out-of-range target makes the loss NaN (a kernel cannot return an error).
pub(crate) fn xent_fwd(xs: &CudaStorage, xl: &Layout, ts: &CudaStorage, tl: &Layout, v: usize) -> Result<CudaStorage> {
    let dev = xs.device();
    let (rows, w) = last_dim(xl)?;
    if v > w {
        candle_core::bail!("cross-entropy: {v} classes in rows of {w}");
    }
    let t = view::<u32>(ts, tl)?;
    let loss = alloc::<f32>(dev, rows)?;
    let out = alloc::<f32>(dev, rows + 1)?;
    let (vi, wi, ri) = (i32_of(v, "classes")?, i32_of(w, "row width")?, i32_of(rows, "rows")?);
    with_el!(xs.dtype(), |T| {
        let x = view::<T>(xs, xl)?;
        launch!(dev, name::<T>("xent_fwd"), per_row(rows, v); x, t, loss, out, vi, wi);
    });
    let one = LaunchConfig { grid_dim: (1, 1, 1), block_dim: (1024, 1, 1), shared_mem_bytes: 0 };
    launch!(dev, "xent_mean_f32".to_string(), one; loss, out, ri);
    Ok(wrap(out, dev))
}

/// The cross-entropy's gradient in the logits, `(softmax − onehot) · g / N`, in the logits'
/// dtype, zero in the padding columns past `v`; `gl` is f32 `[g, lse_0, …, lse_{N−1}]` (the
/// upstream gradient and the forward's log-sum-exps).
#[allow(clippy::too_many_arguments)]
pub(crate) fn xent_bwd(xs: &CudaStorage, xl: &Layout, ts: &CudaStorage, tl: &Layout, gs: &CudaStorage, gl: &Layout, v: usize) -> Result<CudaStorage> {
    let dev = xs.device();
    let (rows, w) = last_dim(xl)?;
    let t = view::<u32>(ts, tl)?;
    let g = view::<f32>(gs, gl)?;
    if g.len() != rows + 1 {
        candle_core::bail!("cross-entropy backward: {} gradient/lse values for {rows} rows", g.len());
    }
    with_el!(xs.dtype(), |T| {
        let x = view::<T>(xs, xl)?;
        let d = alloc::<T>(dev, rows * w)?;
        let (vi, wi, inv_n) = (i32_of(v.min(w), "classes")?, i32_of(w, "row width")?, 1.0f32 / rows.max(1) as f32);
        launch!(dev, name::<T>("xent_bwd"), per_row(rows, w); x, t, g, d, vi, wi, inv_n);
        Ok(wrap(d, dev))
    })
}

/// AdamW in place: θ (`ps` at `pl`) and the moments `m`, `v` (whole f32 buffers of θ's
/// size, owned by the optimizer) updated in one pass; `k` = (β1, 1−β1, β2, 1−β2, 1−lr·wd,
/// 1/bc1, 1/bc2, eps, lr), the decay factor applied when `decay`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn adamw(ps: &mut CudaStorage, pl: &Layout, gs: &CudaStorage, gl: &Layout, m: &CudaSlice<f32>, v: &CudaSlice<f32>, k: [f32; 9], decay: bool) -> Result<()> {
    let dev = ps.device().clone();
    let n = pl.shape().elem_count();
    if m.len() < n || v.len() < n {
        candle_core::bail!("fused AdamW (CUDA): {n} parameters but {}/{} moments", m.len(), v.len());
    }
    let g = view::<f32>(gs, gl)?;
    let Some((a, b)) = pl.contiguous_offsets() else { candle_core::bail!("fused AdamW (CUDA): contiguous parameters only") };
    let mut p = f32::as_cuda_slice_mut(ps)?.slice_mut(a..b);
    let [b1, omb1, b2, omb2, dec, ibc1, ibc2, eps, lr] = k;
    let dflag: i32 = decay.into();
    let f = dev.get_or_load_custom_func("adamw_f32", MODULE, PTX)?;
    let mut bld = f.builder();
    bld.arg(&mut p);
    bld.arg(&g);
    bld.arg(m);
    bld.arg(v);
    bld.arg(&n);
    for x in [&b1, &omb1, &b2, &omb2] {
        bld.arg(x);
    }
    bld.arg(&dflag);
    for x in [&dec, &ibc1, &ibc2, &eps, &lr] {
        bld.arg(x);
    }
    // SAFETY: matches adamw_f32's parameters; m and v hold at least n elements (checked).
    unsafe { bld.launch(flat(n)) }.w()?;
    Ok(())
}

/// Σ x² over every element of `ts` (f32 or bf16, on one CUDA device), for the global gradient
/// norm: one kernel per tensor writes a fixed number of per-block partials into one buffer,
/// which comes back in one copy and is summed in f64 in a fixed order (deterministic). candle's
/// `sqr().sum_all()` ran one single-block reduction per tensor (Nsight Compute on the H200:
/// 12 ms a GPT-2 124M step, 11% of its kernel time).
pub(crate) fn sum_squares(ts: &[candle_core::Tensor]) -> Result<f64> {
    let Some(first) = ts.first() else { return Ok(0.0) };
    let candle_core::Device::Cuda(dev) = first.device() else { candle_core::bail!("sum_squares: tensors not on a CUDA device") };
    const THREADS: usize = 256;
    let blocks: Vec<usize> = ts.iter().map(|t| t.elem_count().div_ceil(THREADS * 16).clamp(1, 1024)).collect();
    let mut part = alloc::<f32>(dev, blocks.iter().sum())?;
    let mut off = 0;
    for (t, &nb) in ts.iter().zip(&blocks) {
        let t = t.contiguous()?;
        let (st, l) = t.storage_and_layout();
        let candle_core::Storage::Cuda(cs) = &*st else { candle_core::bail!("sum_squares: tensors on several devices") };
        let n = l.shape().elem_count();
        with_el!(t.dtype(), |T| {
            let x = view::<T>(cs, l)?;
            let mut p = part.slice_mut(off..off + nb);
            let f = dev.get_or_load_custom_func(&name::<T>("sumsq_partial"), MODULE, PTX)?;
            let mut b = f.builder();
            b.arg(&x);
            b.arg(&n);
            b.arg(&mut p);
            let cfg = LaunchConfig { grid_dim: (nb as u32, 1, 1), block_dim: (THREADS as u32, 1, 1), shared_mem_bytes: 0 };
            // SAFETY: matches sumsq_partial's parameters; `p` holds the grid's nb partials.
            unsafe { b.launch(cfg) }.w()?;
        });
        off += nb;
    }
    let host = dev.clone_dtoh(&part)?;
    Ok(host.iter().map(|&v| v as f64).sum())
}

/// The gradient of an embedding lookup `w[ids]`: `(v, c)` rows, row `id` the sum of the
/// rows of `g` (n, c) whose id it is (in position order), zero for ids absent from the batch.
/// Ids ≥ v are the caller's to reject (the forward's lookup already did).
pub(crate) fn embed_bwd(is: &CudaStorage, il: &Layout, gs: &CudaStorage, gl: &Layout, v: usize) -> Result<CudaStorage> {
    let dev = gs.device();
    let (n, c) = last_dim(gl)?;
    if il.shape().elem_count() != n {
        candle_core::bail!("embedding backward: {} ids for {n} gradient rows", il.shape().elem_count());
    }
    const THREADS: usize = 256;
    if c > 8 * THREADS {
        candle_core::bail!("embedding backward: width {c} over the kernel's {}", 8 * THREADS);
    }
    let ids = view::<u32>(is, il)?;
    with_el!(gs.dtype(), |T| {
        let g = view::<T>(gs, gl)?;
        let dw = dev.alloc_zeros::<T>((v * c).max(1))?;
        let (ni, ci, vi) = (i32_of(n, "positions")?, i32_of(c, "width")?, i32_of(v, "rows")?);
        let cfg = LaunchConfig { grid_dim: (n.max(1) as u32, 1, 1), block_dim: (THREADS as u32, 1, 1), shared_mem_bytes: 0 };
        if n > 0 {
            launch!(dev, name::<T>("embed_bwd"), cfg; ids, g, dw, ni, ci, vi);
        }
        Ok(wrap(dw, dev))
    })
}

/// One block per (b, t) row of `c` columns.
fn heads_cfg(rows: usize, c: usize) -> LaunchConfig {
    LaunchConfig { grid_dim: (rows as u32, 1, 1), block_dim: ((c.div_ceil(32) * 32).clamp(32, 256) as u32, 1, 1), shared_mem_bytes: 0 }
}

/// Attention heads out of rows: `x` (B, T, H·dh) with rows at any stride (a column slice of
/// a wider tensor: q, k or v of the fused projection) → (B, H, T, dh) contiguous, times `scale`.
pub(crate) fn heads_split(xs: &CudaStorage, xl: &Layout, h: usize, scale: f32) -> Result<CudaStorage> {
    let dev = xs.device();
    let (&[b, t, c], &[s0, s1, s2]) = (xl.dims(), xl.stride()) else { candle_core::bail!("heads split: needs (B, T, C), got {:?}", xl.dims()) };
    if s2 != 1 || (b > 1 && t > 1 && s0 != t * s1) || h == 0 || c % h != 0 {
        candle_core::bail!("heads split: rows of contiguous columns at one stride, C divisible by H (dims {:?}, strides {:?}, H {h})", xl.dims(), xl.stride());
    }
    let n = b * t * c;
    with_el!(xs.dtype(), |T| {
        let x = T::as_cuda_slice(xs)?.slice(xl.start_offset()..);
        let y = alloc::<T>(dev, n)?;
        let (ti, hi, dhi, rs) = (i32_of(t, "positions")?, i32_of(h, "heads")?, i32_of(c / h, "head width")?, if t > 1 { s1 } else { s0 });
        if n > 0 {
            launch!(dev, name::<T>("heads_split"), heads_cfg(b * t, c); x, y, ti, hi, dhi, rs, scale);
        }
        Ok(wrap(y, dev))
    })
}

/// `z` (B, H, T, dh) contiguous → (B, T, H·dh) contiguous, times `scale`.
pub(crate) fn heads_merge(zs: &CudaStorage, zl: &Layout, scale: f32) -> Result<CudaStorage> {
    let dev = zs.device();
    let &[b, h, t, dh] = zl.dims() else { candle_core::bail!("heads merge: needs (B, H, T, dh), got {:?}", zl.dims()) };
    let n = b * h * t * dh;
    with_el!(zs.dtype(), |T| {
        let z = view::<T>(zs, zl)?;
        let y = alloc::<T>(dev, n)?;
        let (ti, hi, dhi) = (i32_of(t, "positions")?, i32_of(h, "heads")?, i32_of(dh, "head width")?);
        if n > 0 {
            launch!(dev, name::<T>("heads_merge"), heads_cfg(b * t, h * dh); z, y, ti, hi, dhi, scale);
        }
        Ok(wrap(y, dev))
    })
}
