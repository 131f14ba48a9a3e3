//! Process-level CPU set-up, applied once when the first model is built.
//!
//! Measured on a 2-core machine (tiny-model training step, `examples/prof_step.rs`):
//! - candle 0.11 runs element-wise ops on a spinning "barrier pool" *and* matmuls on a rayon
//!   pool; with both at full width on few cores they fight, and a training step was ~2.4x
//!   slower than with the barrier pool at one thread. So `CANDLE_NUM_THREADS` defaults to 1
//!   (set it yourself to override; matmuls still use every core through rayon).
//! - a quarter of the step went to page faults: glibc returns every large freed buffer to
//!   the kernel and faults it back in on the next allocation. Raising the mmap and trim
//!   thresholds keeps those buffers in the process (10–15% faster steps).
//! - those thresholds only govern glibc's main arena. Candle runs a forward/backward on its
//!   rayon pool's threads, which get their own arenas, and a thread arena serves any
//!   request above its 64 MiB heap size with a fresh mmap, unmapped again on free: the 124M
//!   model's logits, embedding gradient and AdamW moments (100–150 MiB each) were faulted in
//!   anew every step. One arena (`M_ARENA_MAX` = 1) puts every thread on the main heap:
//!   GPT-2 124M training step (B=4, T=128, AdamW) 5.27 s → 2.94 s, measured by
//!   `scripts/bench.sh` workers interleaved on 2 cores (`GPT2LAB_NO_MALLOPT=1` disables all
//!   three settings).

use std::sync::Once;

static INIT: Once = Once::new();

/// Applies the CPU settings above (idempotent; called by model constructors).
pub fn init() {
    INIT.call_once(|| {
        if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
            std::env::set_var("CANDLE_NUM_THREADS", "1");
        }
        if std::env::var_os("GPT2LAB_NO_MALLOPT").is_none() {
            tune_malloc();
        }
    });
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_malloc() {
    // SAFETY: mallopt only changes allocator parameters; it is safe to call at any time.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_malloc() {}

/// Runs `f` inside candle's CPU thread pool (keeps its workers warm across the many short
/// parallel sections of a forward/backward pass).
pub fn with_cpu_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    candle_core::Device::Cpu.with_context(f)
}

/// [`with_cpu_pool`] for work on `device`: inside the pool on the CPU, on the calling thread
/// anywhere else. On CUDA, candle's `Device::new_cuda` issues every kernel, copy and free on
/// the *calling thread's* default stream (`CU_STREAM_PER_THREAD`). Work hopped onto a pool
/// thread lands on another stream than the buffers it reads, frees and reuses, with nothing
/// ordering the two: on an H200 (2026-12-04) that corrupted memory in every forward of
/// ≥ 1,024 rows (an illegal address in cuBLAS's sgemm for the unembedding, run from a rayon
/// worker; token ids overwritten; training losses stuck at ln V); with this, the same runs
/// match PyTorch (README, Benchmarks, GPU).
pub fn with_pool_for<R: Send>(device: &candle_core::Device, f: impl FnOnce() -> R + Send) -> R {
    if device.is_cpu() {
        with_cpu_pool(f)
    } else {
        f()
    }
}

/// Runs `f` on every item with `threads` worker threads (scoped; results in input order).
/// Independent training runs on a small CPU: two runs side by side use two cores better than
/// one run's parallel kernels do.
pub fn parallel_map<I: Send, O: Send>(items: Vec<I>, threads: usize, f: impl Fn(I) -> O + Sync) -> Vec<O> {
    let n = items.len();
    let queue = std::sync::Mutex::new(items.into_iter().enumerate().collect::<Vec<_>>().into_iter());
    let results = std::sync::Mutex::new((0..n).map(|_| None).collect::<Vec<Option<O>>>());
    std::thread::scope(|s| {
        for _ in 0..threads.max(1).min(n.max(1)) {
            s.spawn(|| loop {
                let next = queue.lock().expect("queue lock").next();
                let Some((i, item)) = next else { break };
                let out = f(item);
                results.lock().expect("results lock")[i] = Some(out);
            });
        }
    });
    results.into_inner().expect("results lock").into_iter().map(|o| o.expect("every item ran")).collect()
}
