//! One SAE training configuration, timed step by step: the profiling harness behind benchmark
//! workload 6's 124M-width row (`perf record` this; README, Benchmarks).
//!
//! `cargo run --release --example sae_step_prof -- [D_IN D_SAE BATCH STEPS]` (default 768 6144 4096 4)

use std::time::Instant;

use candle_core::{Device, Tensor};
use gpt2lab::interp::sae::{train_sae, BDecInit, Sae, SaeConfig, SaeTrainConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<usize> = std::env::args().skip(1).map(|s| s.parse()).collect::<Result<_, _>>()?;
    let (d, f, b, steps) = match a.as_slice() {
        [d, f, b, s] => (*d, *f, *b, *s),
        _ => (768, 6144, 4096, 4),
    };
    let acts = Tensor::randn(0f32, 1.0, (b * 8, d), &Device::Cpu)?;
    let mut sae = Sae::new(SaeConfig::new("blocks.0.hook_resid_pre", d, f)?, Some(0.1), 0)?;
    let cfg = SaeTrainConfig {
        steps: 1,
        batch_size: b,
        lr: 5e-5,
        l1_coefficient: 5.0,
        unit_norm_decoder: false,
        b_dec_init: BDecInit::Zero,
        resample_at: vec![],
        dead_window: 1,
        seed: 0,
    };
    for s in 0..steps {
        let t0 = Instant::now();
        train_sae(&mut sae, &acts, &SaeTrainConfig { seed: s as u64, ..cfg.clone() }, None)?;
        let dt = t0.elapsed().as_secs_f64();
        let flops = 6.0 * 2.0 * (b * d * f) as f64;
        println!("step {s}: {:.3} s ({:.1} GFLOP/s over the 6 matmuls)", dt, flops / dt / 1e9);
    }
    Ok(())
}
