//! A/B of one AdamW step on GPT-2 124M's parameters: the fused in-place update against the
//! tensor-op path (same numbers, bit for bit). `cargo run --release --example adamw_ab`.
use candle_core::{Device, Tensor};
use gpt2lab::model::{Gpt2, Gpt2Config};
use gpt2lab::train::*;
use std::time::Instant;

fn main() {
    let model = Gpt2::random(Gpt2Config::gpt2(), 0, &Device::Cpu).unwrap();
    let tr = TrainableGpt2::new(&model).unwrap();
    let x = Tensor::from_vec((0..16u32).collect::<Vec<_>>(), (1, 16), &Device::Cpu).unwrap();
    let g = tr.loss(&x, &x).unwrap().backward().unwrap();
    let mut fused = AdamW::new(AdamWConfig::default());
    let mut plain = AdamW::new(AdamWConfig::default()).unfused();
    let (mut a, mut b) = (vec![], vec![]);
    gpt2lab::runtime::with_cpu_pool(|| {
        for rep in 0..7 {
            let t0 = Instant::now();
            fused.step(&tr.params, &g).unwrap();
            let ta = t0.elapsed().as_secs_f64() * 1e3;
            let t0 = Instant::now();
            plain.step(&tr.params, &g).unwrap();
            let tb = t0.elapsed().as_secs_f64() * 1e3;
            println!("rep {rep}: fused {ta:.1} ms, tensor ops {tb:.1} ms");
            if rep >= 2 {
                a.push(ta);
                b.push(tb);
            }
        }
    });
    let med = |v: &mut Vec<f64>| {
        v.sort_by(|x, y| x.partial_cmp(y).unwrap());
        v[v.len() / 2]
    };
    println!(
        "median of 5 after 2 warm-up: fused {:.1} ms, tensor ops {:.1} ms",
        med(&mut a),
        med(&mut b)
    );
}
