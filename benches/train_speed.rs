//! Training throughput of gpt2lab on the tiny (~0.9M) and optionally the 124M shape.
//! `cargo bench --bench train_speed` (add `-- --124m` for GPT-2 small; slow on 2 cores).
//! Prints tokens/s; the PyTorch side-by-side lives in `scripts/bench_reference.py`.

use std::time::Instant;

use candle_core::{Device, Tensor};
use gpt2lab::model::{Gpt2, Gpt2Config};
use gpt2lab::train::{AdamW, AdamWConfig, LrSchedule, TrainConfig, Trainer};

fn batch(b: usize, t: usize, vocab: usize, seed: usize) -> (Tensor, Tensor) {
    let n = b * (t + 1);
    let ids: Vec<u32> = (0..n).map(|i| ((i * 2654435761 + seed * 97) % vocab) as u32).collect();
    let x: Vec<u32> = ids.chunks(t + 1).flat_map(|c| c[..t].to_vec()).collect();
    let y: Vec<u32> = ids.chunks(t + 1).flat_map(|c| c[1..].to_vec()).collect();
    (Tensor::from_vec(x, (b, t), &Device::Cpu).unwrap(), Tensor::from_vec(y, (b, t), &Device::Cpu).unwrap())
}

fn run(name: &str, cfg: Gpt2Config, b: usize, t: usize, steps: usize) {
    let model = Gpt2::random(cfg.clone(), 0, &Device::Cpu).unwrap();
    let tc = TrainConfig { schedule: LrSchedule::Constant { lr: 1e-3 }, progress: false, ..Default::default() };
    let mut tr = Trainer::new(&model, Box::new(AdamW::new(AdamWConfig::default())), tc).unwrap();
    let batches: Vec<_> = (0..steps + 2).map(|s| batch(b, t, cfg.vocab_size, s)).collect();
    for bt in &batches[..2] {
        tr.train_step(&[bt.clone()]).unwrap(); // warm-up
    }
    let mut times = vec![];
    for bt in &batches[2..] {
        let t0 = Instant::now();
        tr.train_step(&[bt.clone()]).unwrap();
        times.push(t0.elapsed().as_secs_f64());
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let med = times[times.len() / 2];
    println!(
        "{name:<10} params {:>10}  B={b} T={t}  median step {:>8.1} ms  {:>9.0} tokens/s",
        cfg.n_params(),
        med * 1e3,
        (b * t) as f64 / med
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    println!("threads: {}", candle_core::utils::get_num_threads());
    // ~0.9M parameters: the ci-scale shape
    // `--steps N` for profiling runs (`perf record`), default 20
    let steps = args.iter().position(|a| a == "--steps").and_then(|i| args.get(i + 1)).and_then(|s| s.parse().ok()).unwrap_or(20);
    run("tiny-0.9M", Gpt2Config::tiny(512, 128, 128, 4, 4), 16, 64, steps);
    if args.iter().any(|a| a == "--124m") {
        run("gpt2-124M", Gpt2Config::gpt2(), 4, 128, 5);
    }
}
