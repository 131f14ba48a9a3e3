//! Peak RSS and step time of a few GPT-2 124M training steps (B=4, T=128, AdamW, clip 1.0),
//! fused AdamW or (`unfused` argument) the tensor-op path; one configuration per process so
//! VmHWM is that configuration's. `cargo run --release --example train_rss [unfused]`.
use candle_core::{Device, Tensor};
use gpt2lab::model::{Gpt2, Gpt2Config};
use gpt2lab::train::*;
use std::time::Instant;

fn vm(key: &str) -> String {
    std::fs::read_to_string("/proc/self/status").unwrap().lines().find(|l| l.starts_with(key)).unwrap_or("").to_string()
}

fn main() {
    let unfused = std::env::args().any(|a| a == "unfused");
    let model = Gpt2::random(Gpt2Config::gpt2(), 0, &Device::Cpu).unwrap();
    let opt = AdamW::new(AdamWConfig { lr: 1e-4, ..Default::default() });
    let opt: Box<dyn Optimizer> = if unfused { Box::new(opt.unfused()) } else { Box::new(opt) };
    let mut tr = Trainer::new(&model, opt, TrainConfig { clip: Some(1.0), progress: false, ..Default::default() }).unwrap();
    let ids: Vec<u32> = (0..4 * 129).map(|i| (i * 7919 % 50257) as u32).collect();
    let all = Tensor::from_vec(ids, (4, 129), &Device::Cpu).unwrap();
    let batch = [(all.narrow(1, 0, 128).unwrap(), all.narrow(1, 1, 128).unwrap())];
    let mut times = vec![];
    for _ in 0..6 {
        let t0 = Instant::now();
        let s = tr.train_step(&batch).unwrap();
        times.push(t0.elapsed().as_secs_f64() * 1e3);
        println!("loss {:.4}", s.loss);
    }
    println!("{} step ms {:?}; {} ; {}", if unfused { "unfused" } else { "fused" }, times.iter().map(|t| t.round()).collect::<Vec<_>>(), vm("VmHWM"), vm("VmRSS"));
}
