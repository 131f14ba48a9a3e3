// gpt2lab's fused CUDA kernels: the GPU twins of the CPU kernels in `kernels.rs`, `xent.rs`
// and `train/fused_adamw.rs` (GELU tanh form, softmax, masked softmax, LayerNorm, column sums,
// bias add, cross-entropy, AdamW), each with what its backward needs. candle 0.11's CUDA
// backend has fused softmax/LayerNorm without a backward and nothing else fused, so training
// on the GPU ran every one of these as 6–14 element-wise kernels, each allocating and
// re-reading its operand (README, GPU section). Compiled to PTX by build.rs (nvcc, feature
// `cuda`) and loaded once per device by `cuda_kernels.rs`.
//
// Every kernel computes in f32 and reads/writes f32 or bf16 storage (`_f32` / `_bf16`
// entry points): bf16 tensors get f32 statistics, as PyTorch's autocast keeps LayerNorm,
// softmax and the loss in f32. bf16 conversion is written out (round to nearest even) so the
// file needs no CUDA header.

#include <stdint.h>

typedef unsigned short bf16_t;

__device__ __forceinline__ float ld(const float* p, size_t i) { return p[i]; }
__device__ __forceinline__ float ld(const bf16_t* p, size_t i) { return __uint_as_float(((unsigned)p[i]) << 16); }
__device__ __forceinline__ void st(float* p, size_t i, float v) { p[i] = v; }
__device__ __forceinline__ void st(bf16_t* p, size_t i, float v) {
    unsigned u = __float_as_uint(v);
    if ((u & 0x7fffffffu) > 0x7f800000u) { p[i] = (bf16_t)((u >> 16) | 0x40u); return; }  // NaN stays NaN
    u += 0x7fffu + ((u >> 16) & 1u);
    p[i] = (bf16_t)(u >> 16);
}

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Block-wide reductions (blockDim.x a multiple of 32); every thread gets the result.
struct SumOp {
    static __device__ __forceinline__ float id() { return 0.f; }
    static __device__ __forceinline__ float warp(float v) { return warp_sum(v); }
};
struct MaxOp {
    static __device__ __forceinline__ float id() { return -INFINITY; }
    static __device__ __forceinline__ float warp(float v) { return warp_max(v); }
};
template <typename Op>
__device__ float block_reduce(float v) {
    __shared__ float sh[32];
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = Op::warp(v);
    if (lane == 0) sh[w] = v;
    __syncthreads();
    if (w == 0) {
        float t = lane < nw ? sh[lane] : Op::id();
        t = Op::warp(t);
        if (lane == 0) sh[0] = t;
    }
    __syncthreads();
    float r = sh[0];
    __syncthreads();  // sh is reused by the next call
    return r;
}
__device__ __forceinline__ float block_sum(float v) { return block_reduce<SumOp>(v); }
__device__ __forceinline__ float block_max(float v) { return block_reduce<MaxOp>(v); }

#define SQRT_2_OVER_PI 0.7978845608028654f
#define GELU_C 0.044715f

// ---- GELU, tanh form (HF gelu_new) --------------------------------------------------------
template <typename T>
__device__ void gelu_fwd(const T* x, T* y, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float v = ld(x, i);
        float t = tanhf(SQRT_2_OVER_PI * (v + GELU_C * v * v * v));
        st(y, i, 0.5f * v * (1.f + t));
    }
}
template <typename T>
__device__ void gelu_bwd(const T* x, const T* g, T* d, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float v = ld(x, i);
        float t = tanhf(SQRT_2_OVER_PI * (v + GELU_C * v * v * v));
        float dy = 0.5f * (1.f + t) + 0.5f * v * (1.f - t * t) * SQRT_2_OVER_PI * (1.f + 3.f * GELU_C * v * v);
        st(d, i, ld(g, i) * dy);
    }
}

// ---- softmax over rows of n (one block per row) -----------------------------------------
template <typename T>
__device__ void softmax_fwd(const T* x, T* y, int n) {
    const T* r = x + (size_t)blockIdx.x * n;
    T* o = y + (size_t)blockIdx.x * n;
    float m = -INFINITY;
    for (int i = threadIdx.x; i < n; i += blockDim.x) m = fmaxf(m, ld(r, i));
    m = block_max(m);
    float s = 0.f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) s += __expf(ld(r, i) - m);
    float inv = 1.f / block_sum(s);
    for (int i = threadIdx.x; i < n; i += blockDim.x) st(o, i, __expf(ld(r, i) - m) * inv);
}

// dx = y ⊙ (g − Σ y g), per row
template <typename T>
__device__ void softmax_bwd(const T* y, const T* g, T* d, int n) {
    size_t off = (size_t)blockIdx.x * n;
    float s = 0.f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) s += ld(y, off + i) * ld(g, off + i);
    s = block_sum(s);
    for (int i = threadIdx.x; i < n; i += blockDim.x) st(d, off + i, ld(y, off + i) * (ld(g, off + i) - s));
}

// softmax(scores + mask) over rows of tk; scores (B, H, T, Tk), mask (MB, 1, T, Tk) with MB 1
// or B. Hidden keys (mask ≤ hidden) get exactly 0; a row with no visible key is the plain
// softmax of scores + mask (as the composite form computes it).
template <typename T>
__device__ void masked_softmax_fwd(const T* x, const T* mask, T* y, int h, int t, int tk, int mb, float hidden) {
    size_t r = blockIdx.x;
    int bi = (int)(r / ((size_t)h * t)), qi = (int)(r % t);
    const T* xr = x + r * tk;
    const T* mr = mask + ((size_t)(mb == 1 ? 0 : bi) * t + qi) * tk;
    T* o = y + r * tk;
    float m = -INFINITY;
    for (int i = threadIdx.x; i < tk; i += blockDim.x) {
        float mv = ld(mr, i);
        if (mv > hidden) m = fmaxf(m, ld(xr, i) + mv);
    }
    m = block_max(m);
    bool none = (m == -INFINITY);
    if (none) {
        for (int i = threadIdx.x; i < tk; i += blockDim.x) m = fmaxf(m, ld(xr, i) + ld(mr, i));
        m = block_max(m);
    }
    float s = 0.f;
    for (int i = threadIdx.x; i < tk; i += blockDim.x) {
        float mv = ld(mr, i);
        if (none || mv > hidden) s += __expf(ld(xr, i) + mv - m);
    }
    float inv = 1.f / block_sum(s);
    for (int i = threadIdx.x; i < tk; i += blockDim.x) {
        float mv = ld(mr, i);
        st(o, i, (none || mv > hidden) ? __expf(ld(xr, i) + mv - m) * inv : 0.f);
    }
}

// ---- the same three, one warp per row, for rows of at most 1024 (attention at T ≤ 1024) ----
// The row lives in registers (32 values a lane), so it is read once and written once, with
// no block-wide barrier; one block per row left most of a block's threads idle at short rows
// and synchronised four times a row (Nsight Compute on the H200: masked softmax 0.46 ms at
// B = 8, H = 12, T = 1024 bf16, about 6× its memory time).
#define WROW 32
template <typename T>
__device__ void softmax_fwd_warp(const T* x, T* y, int rows, int n) {
    int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5), lane = threadIdx.x & 31;
    if (row >= rows) return;
    size_t off = (size_t)row * n;
    float v[WROW];
    float m = -INFINITY;
#pragma unroll
    for (int j = 0; j < WROW; j++) {
        int i = lane + 32 * j;
        v[j] = i < n ? ld(x, off + i) : -INFINITY;
        m = fmaxf(m, v[j]);
    }
    m = warp_max(m);
    float s = 0.f;
#pragma unroll
    for (int j = 0; j < WROW; j++) {
        v[j] = (lane + 32 * j) < n ? __expf(v[j] - m) : 0.f;
        s += v[j];
    }
    float inv = 1.f / warp_sum(s);
#pragma unroll
    for (int j = 0; j < WROW; j++) {
        int i = lane + 32 * j;
        if (i < n) st(y, off + i, v[j] * inv);
    }
}

template <typename T>
__device__ void softmax_bwd_warp(const T* y, const T* g, T* d, int rows, int n) {
    int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5), lane = threadIdx.x & 31;
    if (row >= rows) return;
    size_t off = (size_t)row * n;
    float yv[WROW], gv[WROW];
    float s = 0.f;
#pragma unroll
    for (int j = 0; j < WROW; j++) {
        int i = lane + 32 * j;
        yv[j] = i < n ? ld(y, off + i) : 0.f;
        gv[j] = i < n ? ld(g, off + i) : 0.f;
        s += yv[j] * gv[j];
    }
    s = warp_sum(s);
#pragma unroll
    for (int j = 0; j < WROW; j++) {
        int i = lane + 32 * j;
        if (i < n) st(d, off + i, yv[j] * (gv[j] - s));
    }
}

template <typename T>
__device__ void masked_softmax_fwd_warp(const T* x, const T* mask, T* y, int rows, int h, int t, int tk, int mb, float hidden) {
    int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5), lane = threadIdx.x & 31;
    if (row >= rows) return;
    size_t r = row;
    int bi = (int)(r / ((size_t)h * t)), qi = (int)(r % t);
    const T* xr = x + r * tk;
    const T* mr = mask + ((size_t)(mb == 1 ? 0 : bi) * t + qi) * tk;
    T* o = y + r * tk;
    float v[WROW];
    unsigned shown = 0;  // bit j: key lane + 32 j is visible
    float m = -INFINITY;
#pragma unroll
    for (int j = 0; j < WROW; j++) {
        int i = lane + 32 * j;
        v[j] = -INFINITY;
        if (i < tk) {
            float mv = ld(mr, i);
            v[j] = ld(xr, i) + mv;
            if (mv > hidden) { shown |= 1u << j; m = fmaxf(m, v[j]); }
        }
    }
    m = warp_max(m);
    bool none = (m == -INFINITY);
    if (none) {  // no visible key in the row: the plain softmax of scores + mask
#pragma unroll
        for (int j = 0; j < WROW; j++) m = fmaxf(m, v[j]);
        m = warp_max(m);
        shown = 0xffffffffu;
    }
    float s = 0.f;
#pragma unroll
    for (int j = 0; j < WROW; j++) {
        v[j] = ((lane + 32 * j) < tk && ((shown >> j) & 1u)) ? __expf(v[j] - m) : 0.f;
        s += v[j];
    }
    float inv = 1.f / warp_sum(s);
#pragma unroll
    for (int j = 0; j < WROW; j++) {
        int i = lane + 32 * j;
        if (i < tk) st(o, i, v[j] * inv);
    }
}

// ---- Σ x² of one tensor, one f32 partial per block (the gradient norm; deterministic) -----
template <typename T>
__device__ void sumsq_partial(const T* x, size_t n, float* part) {
    float s = 0.f;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float v = ld(x, i);
        s += v * v;
    }
    s = block_sum(s);
    if (threadIdx.x == 0) part[blockIdx.x] = s;
}

// ---- embedding backward: dw[id] = Σ_{j : ids[j] = id} g[j], in ascending j (deterministic) ----
// One block per position i; the block of an id's first position sums that id's rows, the
// others return. dw is zero beforehand. candle's index_add ran one thread per column over all
// positions in turn: 3.5 ms for GPT-2's wte at 8 × 1024 positions on an H200 (Nsight Compute).
#define EMB_COLS 8  // columns a thread keeps (C ≤ 8 × blockDim.x)
template <typename T>
__device__ void embed_bwd(const uint32_t* ids, const T* g, T* dw, int n, int c, int v) {
    __shared__ unsigned hits[32];
    int i = blockIdx.x, lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    uint32_t id = ids[i];
    if (id >= (uint32_t)v) return;  // the forward's lookup rejects these; never write outside dw
    int earlier = 0;
    for (int j = threadIdx.x; j < i && !earlier; j += blockDim.x) earlier = ids[j] == id;
    if (__syncthreads_or(earlier)) return;
    float acc[EMB_COLS];
#pragma unroll
    for (int k = 0; k < EMB_COLS; k++) acc[k] = 0.f;
    for (int j0 = i; j0 < n; j0 += blockDim.x) {
        int j = j0 + threadIdx.x;
        unsigned m = __ballot_sync(0xffffffffu, j < n && ids[j] == id);
        if (lane == 0) hits[w] = m;
        __syncthreads();
        for (int ww = 0; ww < nw; ww++) {
            unsigned mm = hits[ww];
            while (mm) {
                int b = __ffs(mm) - 1;
                mm &= mm - 1;
                size_t row = (size_t)(j0 + ww * 32 + b) * c;
#pragma unroll
                for (int k = 0; k < EMB_COLS; k++) {
                    int col = threadIdx.x + k * blockDim.x;
                    if (col < c) acc[k] += ld(g, row + col);
                }
            }
        }
        __syncthreads();
    }
#pragma unroll
    for (int k = 0; k < EMB_COLS; k++) {
        int col = threadIdx.x + k * blockDim.x;
        if (col < c) st(dw, (size_t)id * c + col, acc[k]);
    }
}

// ---- attention heads: (B, T, H·dh) rows ⇄ (B, H, T, dh), times a scale -------------------
// split: y (B, H, T, dh) contiguous from rows of H·dh at stride rs (q, k or v inside the
// fused (B, T, 3C) projection); merge: y (B, T, H·dh) contiguous from z (B, H, T, dh). Each is
// the other's backward. candle did each as a reshape copy and a strided 4-D copy (Nsight
// Compute on the H200: 64 µs per (8, 1024, 768) bf16 tensor, 10 a layer in a training step).
// One block per (b, t) row, threads over its H·dh columns: 32-bit index arithmetic, reads
// and writes in dh-long runs.
template <typename T>
__device__ void heads_split(const T* x, T* y, int t, int h, int dh, size_t rs, float scale) {
    size_t row = blockIdx.x;
    size_t bi = row / t, ti = row % t;
    const T* xr = x + row * rs;
    int c = h * dh;
    for (int col = threadIdx.x; col < c; col += blockDim.x) {
        int hi = col / dh, d = col - hi * dh;
        st(y, ((bi * h + hi) * t + ti) * dh + d, ld(xr, col) * scale);
    }
}
template <typename T>
__device__ void heads_merge(const T* z, T* y, int t, int h, int dh, float scale) {
    size_t row = blockIdx.x;
    size_t bi = row / t, ti = row % t;
    int c = h * dh;
    for (int col = threadIdx.x; col < c; col += blockDim.x) {
        int hi = col / dh, d = col - hi * dh;
        st(y, row * c + col, ld(z, ((bi * h + hi) * t + ti) * dh + d) * scale);
    }
}

// ---- LayerNorm (one warp per row) ---------------------------------------------------------
// A row's mean and 1/std (two passes over the row, as the CPU kernel), in every lane.
template <typename T>
__device__ __forceinline__ void ln_stats(const T* x, size_t off, int c, float eps, int lane, float& mean, float& rstd) {
    float s = 0.f;
    for (int i = lane; i < c; i += 32) s += ld(x, off + i);
    mean = warp_sum(s) / c;
    float v = 0.f;
    for (int i = lane; i < c; i += 32) { float d = ld(x, off + i) - mean; v += d * d; }
    rstd = rsqrtf(warp_sum(v) / c + eps);
}

template <typename T>
__device__ void ln_fwd(const T* x, const T* w, const T* b, T* y, int rows, int c, float eps) {
    int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5), lane = threadIdx.x & 31;
    if (row >= rows) return;
    size_t off = (size_t)row * c;
    float mean, rstd;
    ln_stats(x, off, c, eps, lane, mean, rstd);
    for (int i = lane; i < c; i += 32) st(y, off + i, (ld(x, off + i) - mean) * rstd * ld(w, i) + ld(b, i));
}

// dx = rstd (g w − mean(g w) − x̂ mean(g w x̂)); also writes each row's (mean, rstd) to `stats`
// for the dw column sums (ln_dw_partial).
template <typename T>
__device__ void ln_bwd_dx(const T* x, const T* w, const T* g, T* dx, float* stats, int rows, int c, float eps) {
    int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5), lane = threadIdx.x & 31;
    if (row >= rows) return;
    size_t off = (size_t)row * c;
    float mean, rstd;
    ln_stats(x, off, c, eps, lane, mean, rstd);
    float s1 = 0.f, s2 = 0.f;
    for (int i = lane; i < c; i += 32) {
        float gw = ld(g, off + i) * ld(w, i);
        s1 += gw;
        s2 += gw * (ld(x, off + i) - mean) * rstd;
    }
    float m1 = warp_sum(s1) / c, m2 = warp_sum(s2) / c;
    for (int i = lane; i < c; i += 32) {
        float xh = (ld(x, off + i) - mean) * rstd;
        st(dx, off + i, rstd * (ld(g, off + i) * ld(w, i) - m1 - xh * m2));
    }
    if (lane == 0) { stats[2 * row] = mean; stats[2 * row + 1] = rstd; }
}

// ---- column sums over rows, deterministic: per-chunk partials, then one ordered sum ------
// Grid (ceil(c / 32), chunks); block (32, 8): 8 row-strided threads per column of the chunk.
template <typename T>
__device__ void col_partial(const T* x, float* part, int rows, int c, int chunk) {
    __shared__ float sh[8][33];
    int col = blockIdx.x * 32 + threadIdx.x, r0 = blockIdx.y * chunk, r1 = min(rows, r0 + chunk);
    float s = 0.f;
    if (col < c)
        for (int r = r0 + threadIdx.y; r < r1; r += 8) s += ld(x, (size_t)r * c + col);
    sh[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && col < c) {
        float t = 0.f;
        for (int k = 0; k < 8; k++) t += sh[k][threadIdx.x];
        part[(size_t)blockIdx.y * c + col] = t;
    }
}

// the same with the summand g·x̂ of LayerNorm's dw
template <typename T>
__device__ void ln_dw_partial(const T* x, const T* g, const float* stats, float* part, int rows, int c, int chunk) {
    __shared__ float sh[8][33];
    int col = blockIdx.x * 32 + threadIdx.x, r0 = blockIdx.y * chunk, r1 = min(rows, r0 + chunk);
    float s = 0.f;
    if (col < c)
        for (int r = r0 + threadIdx.y; r < r1; r += 8) {
            size_t i = (size_t)r * c + col;
            s += ld(g, i) * (ld(x, i) - stats[2 * r]) * stats[2 * r + 1];
        }
    sh[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && col < c) {
        float t = 0.f;
        for (int k = 0; k < 8; k++) t += sh[k][threadIdx.x];
        part[(size_t)blockIdx.y * c + col] = t;
    }
}

template <typename T>
__device__ void col_finish(const float* part, T* out, int chunks, int c) {
    int col = blockIdx.x * blockDim.x + threadIdx.x;
    if (col >= c) return;
    float s = 0.f;
    for (int k = 0; k < chunks; k++) s += part[(size_t)k * c + col];
    st(out, col, s);
}

// ---- bias add ------------------------------------------------------------------------------
template <typename T>
__device__ void bias_add(const T* x, const T* b, T* y, size_t n, int c) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        st(y, i, ld(x, i) + ld(b, i % c));
}

// ---- cross-entropy over rows of v (one block per row) -------------------------------------
// Forward, one pass per row (online max and sum): out[1 + r] = log-sum-exp of row r (f32,
// kept for the backward), loss[r] = lse − z_y; an out-of-range target gives NaN (no error
// can leave a kernel; the CPU path names the row). xent_mean then writes out[0], the mean.
// Rows are `stride` apart and hold `v` classes; columns v..stride are padding (the padded unembedding).
template <typename T>
__device__ void xent_fwd(const T* x, const uint32_t* tgt, float* loss, float* out, int v, int stride) {
    const T* r = x + (size_t)blockIdx.x * stride;
    float m = -INFINITY, s = 0.f;
    for (int i = threadIdx.x; i < v; i += blockDim.x) {
        float z = ld(r, i);
        if (z > m) { s = s * __expf(m - z) + 1.f; m = z; } else if (m != -INFINITY) { s += __expf(z - m); }
    }
    float bm = block_max(m);
    s = (m == -INFINITY) ? 0.f : s * __expf(m - bm);
    s = block_sum(s);
    if (threadIdx.x == 0) {
        float lse = bm + logf(s);
        uint32_t y = tgt[blockIdx.x];
        out[1 + blockIdx.x] = lse;
        loss[blockIdx.x] = y < (uint32_t)v ? lse - ld(r, y) : __int_as_float(0x7fc00000);
    }
}

__device__ void xent_mean(const float* loss, float* out, int n) {
    float s = 0.f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) s += loss[i];
    s = block_sum(s);
    if (threadIdx.x == 0) out[0] = s / n;
}

// Backward, one pass: d = (exp(z − lse) − onehot) · g / N, with gl = [g, lse_0, lse_1, …];
// zero in the padding columns.
template <typename T>
__device__ void xent_bwd(const T* x, const uint32_t* tgt, const float* gl, T* d, int v, int stride, float inv_n) {
    size_t off = (size_t)blockIdx.x * stride;
    float scale = gl[0] * inv_n, lse = gl[1 + blockIdx.x];
    uint32_t y = tgt[blockIdx.x];
    for (int i = threadIdx.x; i < stride; i += blockDim.x)
        st(d, off + i, i < v ? __expf(ld(x, off + i) - lse) * scale - ((uint32_t)i == y ? scale : 0.f) : 0.f);
}

extern "C" __global__ void xent_mean_f32(const float* loss, float* out, int n) { xent_mean(loss, out, n); }

// ---- AdamW, in place on θ (f32 parameters and moments), the CPU fused step's arithmetic ----
__device__ void adamw(float* p, const float* g, float* m, float* v, size_t n, float b1, float omb1, float b2, float omb2,
                      int decay, float dec, float inv_bc1, float inv_bc2, float eps, float lr) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float gi = g[i];
        float mi = m[i] * b1 + gi * omb1;
        float vi = v[i] * b2 + (gi * gi) * omb2;
        m[i] = mi;
        v[i] = vi;
        float th = decay ? p[i] * dec : p[i];
        float step = (mi * inv_bc1) / (sqrtf(vi * inv_bc2) + eps);
        p[i] = th - step * lr;
    }
}

extern "C" __global__ void adamw_f32(float* p, const float* g, float* m, float* v, size_t n, float b1, float omb1, float b2,
                                     float omb2, int decay, float dec, float inv_bc1, float inv_bc2, float eps, float lr) {
    adamw(p, g, m, v, n, b1, omb1, b2, omb2, decay, dec, inv_bc1, inv_bc2, eps, lr);
}

// ---- entry points --------------------------------------------------------------------------
#define ENTRY(S, T)                                                                                                       \
    extern "C" __global__ void gelu_fwd_##S(const T* x, T* y, size_t n) { gelu_fwd(x, y, n); }                           \
    extern "C" __global__ void gelu_bwd_##S(const T* x, const T* g, T* d, size_t n) { gelu_bwd(x, g, d, n); }            \
    extern "C" __global__ void softmax_fwd_##S(const T* x, T* y, int n) { softmax_fwd(x, y, n); }                        \
    extern "C" __global__ void softmax_bwd_##S(const T* y, const T* g, T* d, int n) { softmax_bwd(y, g, d, n); }         \
    extern "C" __global__ void masked_softmax_fwd_##S(const T* x, const T* mask, T* y, int h, int t, int tk, int mb,      \
                                                      float hidden) {                                                    \
        masked_softmax_fwd(x, mask, y, h, t, tk, mb, hidden);                                                            \
    }                                                                                                                    \
    extern "C" __global__ void softmax_fwd_warp_##S(const T* x, T* y, int rows, int n) { softmax_fwd_warp(x, y, rows, n); } \
    extern "C" __global__ void softmax_bwd_warp_##S(const T* y, const T* g, T* d, int rows, int n) {                     \
        softmax_bwd_warp(y, g, d, rows, n);                                                                              \
    }                                                                                                                    \
    extern "C" __global__ void masked_softmax_fwd_warp_##S(const T* x, const T* mask, T* y, int rows, int h, int t,      \
                                                           int tk, int mb, float hidden) {                               \
        masked_softmax_fwd_warp(x, mask, y, rows, h, t, tk, mb, hidden);                                                 \
    }                                                                                                                    \
    extern "C" __global__ void sumsq_partial_##S(const T* x, size_t n, float* part) { sumsq_partial(x, n, part); }       \
    extern "C" __global__ void embed_bwd_##S(const uint32_t* ids, const T* g, T* dw, int n, int c, int v) {            \
        embed_bwd(ids, g, dw, n, c, v);                                                                                   \
    }                                                                                                                    \
    extern "C" __global__ void heads_split_##S(const T* x, T* y, int t, int h, int dh, size_t rs, float sc) {           \
        heads_split(x, y, t, h, dh, rs, sc);                                                                             \
    }                                                                                                                    \
    extern "C" __global__ void heads_merge_##S(const T* z, T* y, int t, int h, int dh, float sc) {                       \
        heads_merge(z, y, t, h, dh, sc);                                                                                 \
    }                                                                                                                    \
    extern "C" __global__ void ln_fwd_##S(const T* x, const T* w, const T* b, T* y, int rows, int c, float eps) {        \
        ln_fwd(x, w, b, y, rows, c, eps);                                                                                \
    }                                                                                                                    \
    extern "C" __global__ void ln_bwd_dx_##S(const T* x, const T* w, const T* g, T* dx, float* stats, int rows, int c,   \
                                             float eps) {                                                                \
        ln_bwd_dx(x, w, g, dx, stats, rows, c, eps);                                                                     \
    }                                                                                                                    \
    extern "C" __global__ void col_partial_##S(const T* x, float* part, int rows, int c, int chunk) {                    \
        col_partial(x, part, rows, c, chunk);                                                                            \
    }                                                                                                                    \
    extern "C" __global__ void ln_dw_partial_##S(const T* x, const T* g, const float* stats, float* part, int rows,      \
                                                 int c, int chunk) {                                                     \
        ln_dw_partial(x, g, stats, part, rows, c, chunk);                                                                \
    }                                                                                                                    \
    extern "C" __global__ void col_finish_##S(const float* part, T* out, int chunks, int c) {                            \
        col_finish(part, out, chunks, c);                                                                                \
    }                                                                                                                    \
    extern "C" __global__ void bias_add_##S(const T* x, const T* b, T* y, size_t n, int c) { bias_add(x, b, y, n, c); }  \
    extern "C" __global__ void xent_fwd_##S(const T* x, const uint32_t* t, float* loss, float* out, int v, int ld) {     \
        xent_fwd(x, t, loss, out, v, ld);                                                                                \
    }                                                                                                                    \
    extern "C" __global__ void xent_bwd_##S(const T* x, const uint32_t* t, const float* gl, T* d, int v, int ld,        \
                                            float inv_n) {                                                               \
        xent_bwd(x, t, gl, d, v, ld, inv_n);                                                                             \
    }

ENTRY(f32, float)
ENTRY(bf16, bf16_t)
