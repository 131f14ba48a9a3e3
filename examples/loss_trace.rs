//! Prints a short training run's losses and gradient norms bit-exactly (hex f64), for checking
//! that a change meant to preserve numerics does: run it on both builds and diff the output.
//! `cargo run --release --example loss_trace [-- --124m]`
use candle_core::{Device, Tensor};
use gpt2lab::model::{Gpt2, Gpt2Config};
use gpt2lab::train::{AdamW, AdamWConfig, LrSchedule, TrainConfig, Trainer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let big = std::env::args().any(|a| a == "--124m");
    let (cfg, b, t, steps) = if big { (Gpt2Config::gpt2(), 2, 64, 3) } else { (Gpt2Config::tiny(512, 128, 128, 4, 4), 16, 64, 20) };
    let model = Gpt2::random(cfg.clone(), 0, &Device::Cpu)?;
    let tc = TrainConfig { schedule: LrSchedule::Constant { lr: 1e-3 }, progress: false, clip: Some(1.0), ..Default::default() };
    let mut tr = Trainer::new(&model, Box::new(AdamW::new(AdamWConfig::default())), tc)?;
    for s in 0..steps {
        let v: Vec<u32> = (0..b * (t + 1)).map(|i| ((i * 7919 + s * 104_729 + 17) % cfg.vocab_size) as u32).collect();
        let seq = Tensor::from_vec(v, (b, t + 1), &Device::Cpu)?;
        let (x, y) = (seq.narrow(1, 0, t)?, seq.narrow(1, 1, t)?.contiguous()?);
        let st = tr.train_step(&[(x, y)])?;
        println!("step {s}: loss {:#x} grad norm {:#x} ({:.6})", st.loss.to_bits(), st.grad_norm.to_bits(), st.loss);
    }
    Ok(())
}
