//! Times the activation-patching sweep three ways on a random GPT-2 small (124M shape, T=16,
//! resid_pre, 12 layers × 16 positions): the hooked loop (one full forward per cell, as
//! TransformerLens), `interp::activation_patching` (resumed, batched, last position only) and
//! `interp::attribution_patching`; medians of 3 alternating reps, and the largest |Δ| between
//! the loop and the sweep.
//!
//!     cargo run --release --example patch_speed
use candle_core::{Device, Tensor};
use gpt2lab::interp::{activation_patching, activation_patching_naive, attribution_patching, LogitDiff, PatchSite};
use gpt2lab::model::{Gpt2, Gpt2Config};
use std::time::Instant;

fn main() -> gpt2lab::Result<()> {
    let m = Gpt2::random(Gpt2Config::gpt2(), 0, &Device::Cpu)?;
    let clean: Vec<u32> = (0..16).map(|i| (i * 997 + 13) % 50257).collect();
    let mut corrupt = clean.clone();
    corrupt[10] = 4242;
    let (c, k) = (Tensor::new(clean.as_slice(), &Device::Cpu)?, Tensor::new(corrupt.as_slice(), &Device::Cpu)?);
    let metric = LogitDiff::new(clean[10], 4242);
    let (mut tl, mut ts, mut ta) = (vec![], vec![], vec![]);
    let (mut d, mut r) = (0f32, 0f32);
    for _ in 0..3 {
        let t = Instant::now();
        let a = activation_patching_naive(&m, &c, &k, PatchSite::ResidPre, metric)?;
        tl.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let b = activation_patching(&m, &c, &k, PatchSite::ResidPre, metric)?;
        ts.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let g = attribution_patching(&m, &c, &k, PatchSite::ResidPre, metric)?;
        ta.push(t.elapsed().as_secs_f64());
        d = a.max_abs_diff(&b)?;
        r = g.correlation(&b)?;
    }
    let med = |v: &mut Vec<f64>| { v.sort_by(|a, b| a.partial_cmp(b).unwrap()); v[v.len() / 2] };
    let (l, s, a) = (med(&mut tl), med(&mut ts), med(&mut ta));
    println!("hooked loop {:.0} ms | sweep {:.0} ms ({:.2}x of the loop) | attribution {:.0} ms ({:.2}x) | max|Δ| loop vs sweep {d:.1e} | r(attribution, activation) {r:.3}", l * 1e3, s * 1e3, s / l, a * 1e3, a / l);
    Ok(())
}
