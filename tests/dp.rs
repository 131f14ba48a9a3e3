//! DP-SGD: the RDP accountant against Opacus on a grid (`scripts/make_dp_fixtures.py`),
//! per-example clipping against the batch gradient, the noise's scale, typed errors.

use candle_core::{Device, Tensor};
use gpt2lab::data::TokenDataset;
use gpt2lab::model::{Gpt2, Gpt2Config};
use gpt2lab::train::dp::{clipped_grad_sum, DpConfig, DpTrainer};
use gpt2lab::train::rdp::{default_orders, epsilon};
use gpt2lab::train::*;

#[test]
fn epsilon_matches_opacus_on_the_grid() {
    let p = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dp/rdp_grid.json");
    let j: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    let orders: Vec<f64> = j["orders"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(orders, default_orders());
    let grid = j["grid"].as_array().unwrap();
    assert_eq!(grid.len(), 150);
    for r in grid {
        let (q, s, steps, delta) = (r["q"].as_f64().unwrap(), r["sigma"].as_f64().unwrap(), r["steps"].as_u64().unwrap() as usize, r["delta"].as_f64().unwrap());
        let (want, alpha) = (r["epsilon"].as_f64().unwrap(), r["alpha"].as_f64().unwrap());
        let (got, a) = epsilon(q, s, steps, delta, &orders).unwrap();
        assert!((got - want).abs() <= 1e-6 * want.abs().max(1.0), "q {q} σ {s} steps {steps} δ {delta}: ε {got} vs Opacus {want}");
        assert_eq!(a, alpha, "optimal order at q {q} σ {s} steps {steps} δ {delta}");
    }
}

fn data() -> TokenDataset {
    let ids: Vec<u32> = (0..40 * 9).map(|i| ((i * 7 + i / 3) % 30) as u32).collect();
    TokenDataset::new(ids, 8).unwrap()
}

#[test]
fn unclipped_noiseless_sum_is_the_batch_gradient() {
    let model = Gpt2::random(Gpt2Config::tiny(30, 8, 16, 2, 2), 3, &Device::Cpu).unwrap();
    let tr = TrainableGpt2::new(&model).unwrap();
    let (x, y) = data().batch(&[0, 3, 5, 7]).unwrap();
    let (sum, norms) = clipped_grad_sum(&tr, &x, &y, 1e9).unwrap();
    assert_eq!(norms.len(), 4);
    let batch = tr.loss(&x, &y).unwrap().backward().unwrap();
    for p in &tr.params {
        let a = (sum.get(p.var.as_tensor()).unwrap() / 4.0).unwrap();
        let b = batch.get(p.var.as_tensor()).unwrap();
        let d = (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap();
        assert!(d < 1e-6, "{}: {d}", p.name);
    }
    // clipped to C = 0.01: the sum of 4 clipped gradients has norm ≤ 4·C
    let (sum, norms) = clipped_grad_sum(&tr, &x, &y, 0.01).unwrap();
    assert!(norms.iter().all(|&n| n > 0.01));
    let sq: f32 = tr.params.iter().map(|p| sum.get(p.var.as_tensor()).unwrap().sqr().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap()).sum();
    assert!(sq.sqrt() <= 0.04 + 1e-6, "{}", sq.sqrt());
}

#[test]
fn noise_has_the_accounted_scale() {
    // lr = 1 SGD from the same weights: two steps differing only in the noise seed differ by
    // noise/expected_batch, whose per-coordinate std is √2·σ·C/(qN)
    let model = Gpt2::random(Gpt2Config::tiny(30, 8, 16, 2, 2), 4, &Device::Cpu).unwrap();
    let d = data();
    let cfg = DpConfig { max_grad_norm: 1.0, noise_multiplier: 2.0, sample_rate: 0.25, delta: 1e-5, target_epsilon: None };
    let step = |seed: u64| {
        let t = Trainer::new(&model, Box::new(Sgd::new(1.0, 0.0, 0.0)), TrainConfig { schedule: LrSchedule::Constant { lr: 1.0 }, progress: false, ..Default::default() }).unwrap();
        let mut dp = DpTrainer::new(t, cfg.clone(), seed);
        dp.step(&d).unwrap();
        dp.trainer.params.param("h.0.mlp.c_fc.weight").unwrap().var.as_tensor().flatten_all().unwrap().to_vec1::<f32>().unwrap()
    };
    let (a, b) = (step(1), step(2));
    let diffs: Vec<f64> = a.iter().zip(&b).map(|(x, y)| (x - y) as f64).collect();
    let mean = diffs.iter().sum::<f64>() / diffs.len() as f64;
    let sd = (diffs.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / diffs.len() as f64).sqrt();
    // different Poisson batches too: the clipped parts differ by at most 2·(batch)·C/qN in norm,
    // small against the noise over 1024 coordinates
    let want = 2f64.sqrt() * 2.0 * 1.0 / (0.25 * d.len() as f64);
    assert!((sd / want - 1.0).abs() < 0.1, "sd {sd} vs {want}");
}

#[test]
fn privacy_settings_are_typed_errors() {
    let bad = DpConfig { max_grad_norm: 1.0, noise_multiplier: 0.0, sample_rate: 0.01, delta: 1e-5, target_epsilon: Some(8.0) };
    assert!(matches!(bad.validate(100), Err(gpt2lab::Error::Privacy(_))));
    let short = DpConfig { noise_multiplier: 0.3, ..bad.clone() };
    assert!(matches!(short.validate(10_000), Err(gpt2lab::Error::Privacy(m)) if m.contains("> target")));
    let ok = DpConfig::for_target(8.0, 0.01, 1000, 1e-5, 1.0).unwrap();
    assert!(ok.validate(1000).is_ok() && ok.validate(5000).is_err());
    assert!(matches!(DpConfig { max_grad_norm: 0.0, ..ok }.validate(10), Err(gpt2lab::Error::Privacy(_))));
    let _ = Tensor::new(&[0f32], &Device::Cpu).unwrap();
}
