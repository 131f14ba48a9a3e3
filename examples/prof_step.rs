use std::time::Instant;
use candle_core::{Device, Tensor};
use gpt2lab::model::{Gpt2, Gpt2Config};
use gpt2lab::train::*;

fn main() {
    let _ = Gpt2::random(Gpt2Config::tiny(8, 8, 8, 1, 1), 0, &Device::Cpu); // runtime::init
    if std::env::var("CTX").is_ok() { return Device::Cpu.with_context(inner); }
    inner()
}

fn inner() {
    let cfg = Gpt2Config::tiny(512, 128, 128, 4, 4);
    let model = Gpt2::random(cfg, 0, &Device::Cpu).unwrap();
    let (b, t) = (16, 64);
    let ids: Vec<u32> = (0..b * t).map(|i| (i * 7 % 512) as u32).collect();
    let x = Tensor::from_vec(ids.clone(), (b, t), &Device::Cpu).unwrap();
    let y = x.clone();
    let tr = TrainableGpt2::new(&model).unwrap();
    for _ in 0..2 { let _ = tr.loss(&x, &y).unwrap().backward().unwrap(); }
    let t0 = Instant::now();
    for _ in 0..3 { let _ = model.forward(&x).unwrap(); }
    println!("forward no-grad: {:.1} ms", t0.elapsed().as_secs_f64() * 1e3 / 3.0);
    let t0 = Instant::now();
    let mut l = None;
    for _ in 0..3 { l = Some(tr.loss(&x, &y).unwrap()); }
    println!("forward tracked+loss: {:.1} ms", t0.elapsed().as_secs_f64() * 1e3 / 3.0);
    let l = l.unwrap();
    let t0 = Instant::now();
    let g = l.backward().unwrap();
    println!("backward: {:.1} ms", t0.elapsed().as_secs_f64() * 1e3);
    let mut opt = AdamW::new(AdamWConfig::default());
    let t0 = Instant::now();
    for _ in 0..3 { opt.step(&tr.params, &g).unwrap(); }
    println!("adamw: {:.1} ms", t0.elapsed().as_secs_f64() * 1e3 / 3.0);
}
