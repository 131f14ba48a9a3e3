//! DP-SGD's cost against plain SGD on the same tiny GPT-2 and data: per-example gradients by
//! microbatches of one (B backward passes per step) vs one batched backward.
//!
//!     cargo run --release --example dp_cost [steps]
use std::time::Instant;

use gpt2lab::data::TokenDataset;
use gpt2lab::model::{Gpt2, Gpt2Config};
use gpt2lab::train::dp::{DpConfig, DpTrainer};
use gpt2lab::train::*;

fn main() -> gpt2lab::Result<()> {
    let steps: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(20);
    let ids: Vec<u32> = (0..256 * 65).map(|i| ((i * 7 + i / 3 + i / 11) % 200) as u32).collect();
    let data = TokenDataset::new(ids, 64)?;
    let model = Gpt2::random(Gpt2Config::tiny(200, 64, 64, 4, 4), 0, &candle_core::Device::Cpu)?;
    let q = 16.0 / data.len() as f64; // expected batch 16, as the plain run's
    let tcfg = TrainConfig { steps, batch_size: 16, clip: None, schedule: LrSchedule::Constant { lr: 0.1 }, progress: false, ..Default::default() };
    let mut plain = Trainer::new(&model, Box::new(Sgd::new(0.1, 0.0, 0.0)), tcfg.clone())?;
    let t = Instant::now();
    plain.fit(&data, None)?;
    let plain_s = t.elapsed().as_secs_f64() / steps as f64;
    let dp_cfg = DpConfig::for_target(8.0, q, steps, 1e-5, 1.0)?;
    let mut dp = DpTrainer::new(Trainer::new(&model, Box::new(Sgd::new(0.1, 0.0, 0.0)), tcfg)?, dp_cfg.clone(), 0);
    let t = Instant::now();
    let stats = dp.fit(&data, steps)?;
    let dp_s = t.elapsed().as_secs_f64() / steps as f64;
    let mean_b = stats.iter().map(|s| s.batch_size as f64).sum::<f64>() / steps as f64;
    println!("{steps} steps, batch 16 × 64 tokens (DP: Poisson, q = {q:.4}, mean batch {mean_b:.1}), σ = {:.3} for ε = {:.3} at δ = 1e-5", dp_cfg.noise_multiplier, dp.epsilon()?.0);
    println!("plain SGD {:.1} ms/step, DP-SGD {:.1} ms/step: {:.1}× slower", plain_s * 1e3, dp_s * 1e3, dp_s / plain_s);
    Ok(())
}
