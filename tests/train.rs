//! Gradients that are right and a training loop that is reproducible:
//! every parameter gets a gradient, finite differences agree (f64), AdamW matches PyTorch step
//! for step, accumulation equals a big batch, NaNs are caught, checkpoints resume exactly.

mod common;
use common::*;

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};
use gpt2lab::data::TokenDataset;
use gpt2lab::model::{Gpt2, Gpt2Config};
use gpt2lab::train::*;
use gpt2lab::Error;

fn tiny(seed: u64) -> Gpt2 {
    Gpt2::random(Gpt2Config::tiny(50, 16, 16, 2, 2), seed, &Device::Cpu).unwrap()
}

fn batch(b: usize, t: usize, seed: u32) -> (Tensor, Tensor) {
    let ids: Vec<u32> = (0..b * (t + 1)).map(|i| (i as u32 * 7 + seed * 13 + (i as u32 / 3)) % 50).collect();
    let rows: Vec<Vec<u32>> = ids.chunks(t + 1).map(|c| c.to_vec()).collect();
    let x: Vec<u32> = rows.iter().flat_map(|r| r[..t].to_vec()).collect();
    let y: Vec<u32> = rows.iter().flat_map(|r| r[1..].to_vec()).collect();
    (Tensor::from_vec(x, (b, t), &Device::Cpu).unwrap(), Tensor::from_vec(y, (b, t), &Device::Cpu).unwrap())
}

#[test]
fn every_parameter_gets_a_finite_nonzero_gradient() {
    let tr = TrainableGpt2::new(&tiny(1)).unwrap();
    let (x, y) = batch(4, 12, 0);
    let grads = tr.loss(&x, &y).unwrap().backward().unwrap();
    assert_eq!(tr.params.len(), 2 + 2 * 12 + 2);
    for p in &tr.params {
        let g = grads.get(p.var.as_tensor()).unwrap_or_else(|| panic!("no gradient for {}", p.name));
        let s = g.sqr().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(s.is_finite() && s > 0.0, "{}: |g|² = {s}", p.name);
    }
}

#[test]
fn gradients_match_finite_differences_in_f64() {
    let model = tiny(2).to_dtype(DType::F64).unwrap();
    let (x, y) = batch(2, 6, 1);
    let tr = TrainableGpt2::new(&model).unwrap();
    let grads = tr.loss(&x, &y).unwrap().backward().unwrap();
    let loss_with = |name: &str, idx: usize, delta: f64| -> f64 {
        let mut map: HashMap<String, Tensor> = model.named_tensors().into_iter().collect();
        let t = &map[name];
        let mut v: Vec<f64> = t.flatten_all().unwrap().to_vec1().unwrap();
        v[idx] += delta;
        let nt = Tensor::from_vec(v, t.shape(), &Device::Cpu).unwrap();
        map.insert(name.to_string(), nt);
        let m = Gpt2::from_tensors(model.cfg.clone(), &map).unwrap();
        lm_loss(&m, &x, &y).unwrap().to_scalar::<f64>().unwrap()
    };
    let h = 1e-5;
    let mut checked = 0;
    for name in ["wte.weight", "wpe.weight", "h.0.ln_1.weight", "h.0.ln_1.bias", "h.0.attn.c_attn.weight", "h.0.attn.c_attn.bias", "h.1.attn.c_proj.weight", "h.1.mlp.c_fc.weight", "h.1.mlp.c_fc.bias", "h.1.mlp.c_proj.weight", "h.1.ln_2.weight", "ln_f.weight", "ln_f.bias"] {
        let p = tr.param(name).unwrap();
        let g: Vec<f64> = grads.get(p.var.as_tensor()).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        for idx in [0, g.len() / 3, g.len() - 1] {
            let num = (loss_with(name, idx, h) - loss_with(name, idx, -h)) / (2.0 * h);
            let err = (num - g[idx]).abs() / (num.abs() + g[idx].abs()).max(1e-6);
            assert!(err < 1e-5 || (num - g[idx]).abs() < 1e-9, "{name}[{idx}]: analytic {} vs numeric {num}", g[idx]);
            checked += 1;
        }
    }
    assert_eq!(checked, 39);
}

#[test]
fn adamw_matches_pytorch_step_for_step() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/train");
    let r = candle_core::safetensors::load(dir.join("train_ref.safetensors"), &Device::Cpu).unwrap();
    let model = Gpt2::from_dir(fixture("prefixed")).unwrap();
    let (x, y) = (ids_u32(&r["x"]), ids_u32(&r["y"]));
    let cfg = AdamWConfig { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1, decay_all: true };
    let tcfg = TrainConfig { clip: None, schedule: LrSchedule::Constant { lr: 1e-2 }, progress: false, ..Default::default() };
    let mut tr = Trainer::new(&model, Box::new(AdamW::new(cfg)), tcfg).unwrap();
    // step-0 gradients
    let grads = tr.params.loss(&x, &y).unwrap().backward().unwrap();
    for p in &tr.params.params {
        let want = &r[&format!("grads_step0.transformer.{}", p.name)];
        let d = max_abs_diff(grads.get(p.var.as_tensor()).unwrap(), want);
        assert!(d < 1e-5, "grad {}: {d}", p.name);
    }
    let want_losses: Vec<f32> = r["losses"].to_vec1().unwrap();
    for (i, want) in want_losses.iter().enumerate() {
        let s = tr.train_step(&[(x.clone(), y.clone())]).unwrap();
        assert!((s.loss - *want as f64).abs() < 1e-4, "step {i}: loss {} vs {want}", s.loss);
    }
    let m = tr.model().unwrap();
    for (name, t) in m.named_tensors() {
        let want = &r[&format!("final.transformer.{name}")];
        let mut diff = (t.clone() - want).unwrap().abs().unwrap();
        if name.ends_with("attn.c_attn.bias") {
            // the key bias has a mathematically zero gradient: f32 noise/eps makes it arbitrary
            // in both implementations (see the fixture README); compare q and v thirds only
            let c = 32;
            diff = Tensor::cat(&[diff.narrow(0, 0, c).unwrap(), diff.narrow(0, 2 * c, c).unwrap()], 0).unwrap();
        }
        let d = diff.flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap();
        assert!(d < 1e-3, "param {name} after 5 steps: {d}");
    }
}

#[test]
fn gradient_accumulation_equals_one_big_batch() {
    let (x, y) = batch(4, 8, 3);
    let cfg = TrainConfig { schedule: LrSchedule::Constant { lr: 1e-2 }, clip: Some(0.5), progress: false, ..Default::default() };
    let mut big = Trainer::new(&tiny(4), Box::new(AdamW::new(AdamWConfig::default())), cfg.clone()).unwrap();
    let mut acc = Trainer::new(&tiny(4), Box::new(AdamW::new(AdamWConfig::default())), cfg).unwrap();
    let a = big.train_step(&[(x.clone(), y.clone())]).unwrap();
    let halves = [(x.narrow(0, 0, 2).unwrap(), y.narrow(0, 0, 2).unwrap()), (x.narrow(0, 2, 2).unwrap(), y.narrow(0, 2, 2).unwrap())];
    let b = acc.train_step(&halves).unwrap();
    assert!((a.loss - b.loss).abs() < 1e-5 && (a.grad_norm - b.grad_norm).abs() < 1e-5);
    for ((n, t1), (_, t2)) in big.model().unwrap().named_tensors().iter().zip(acc.model().unwrap().named_tensors().iter()) {
        assert!(max_abs_diff(t1, t2) < 1e-5, "{n}");
    }
}

#[test]
fn sgd_matches_the_update_rule() {
    let model = tiny(5);
    let (x, y) = batch(2, 8, 2);
    let tr0 = TrainableGpt2::new(&model).unwrap();
    let grads = tr0.loss(&x, &y).unwrap().backward().unwrap();
    let cfg = TrainConfig { schedule: LrSchedule::Constant { lr: 0.1 }, clip: None, progress: false, ..Default::default() };
    let mut tr = Trainer::new(&model, Box::new(Sgd::new(0.1, 0.9, 0.0)), cfg).unwrap();
    tr.train_step(&[(x, y)]).unwrap();
    let after = tr.model().unwrap();
    for (p, (n, t)) in tr0.params.iter().zip(after.named_tensors()) {
        let want = (p.var.as_tensor() - (grads.get(p.var.as_tensor()).unwrap() * 0.1).unwrap()).unwrap();
        assert!(max_abs_diff(&t, &want) < 1e-6, "{n}");
    }
}

#[test]
fn non_finite_loss_is_an_error_naming_the_step_and_parameter() {
    let model = tiny(6);
    let mut map: HashMap<String, Tensor> = model.named_tensors().into_iter().collect();
    let bias = &map["h.0.mlp.c_fc.bias"];
    let mut v: Vec<f32> = bias.to_vec1().unwrap();
    v[3] = f32::NAN;
    map.insert("h.0.mlp.c_fc.bias".into(), Tensor::from_vec(v, bias.shape(), &Device::Cpu).unwrap());
    let bad = Gpt2::from_tensors(model.cfg.clone(), &map).unwrap();
    let mut tr = Trainer::new(&bad, Box::new(AdamW::new(AdamWConfig::default())), TrainConfig { progress: false, ..Default::default() }).unwrap();
    let e = tr.train_step(&[batch(2, 8, 0)]).unwrap_err();
    match e {
        Error::NonFinite { step, what } => {
            assert_eq!(step, 0);
            assert!(what.contains("h.0.mlp.c_fc.bias"), "{what}");
        }
        e => panic!("wrong error {e}"),
    }
}

#[test]
fn frozen_parameters_do_not_move() {
    let model = tiny(7);
    let params = TrainableGpt2::with_frozen(&model, |n| !n.contains(".ln_")).unwrap();
    assert_eq!(params.n_trainable(), 2 * 2 * 2 * 16);
    assert_eq!(params.n_params(), model.cfg.n_params());
    let cfg = TrainConfig { schedule: LrSchedule::Constant { lr: 1e-2 }, progress: false, ..Default::default() };
    let mut tr = Trainer::from_trainable(params, Box::new(AdamW::new(AdamWConfig::default())), cfg);
    tr.train_step(&[batch(2, 8, 1)]).unwrap();
    let after = tr.model().unwrap();
    for ((n, a), (_, b)) in model.named_tensors().iter().zip(after.named_tensors().iter()) {
        let d = max_abs_diff(a, b);
        if n.contains(".ln_") {
            assert!(d > 0.0, "{n} should train");
        } else {
            assert_eq!(d, 0.0, "{n} is frozen");
        }
    }
}

fn dataset() -> TokenDataset {
    let stream: Vec<u32> = (0..3000u32).map(|i| (i * i + 3 * i) % 47 % 50).collect();
    TokenDataset::new(stream, 12).unwrap()
}

#[test]
fn fit_learns_and_is_reproducible() {
    let (train, val) = dataset().split(0.1, 0).unwrap();
    let cfg = TrainConfig {
        steps: 40,
        batch_size: 8,
        schedule: LrSchedule::Cosine { lr: 1e-2, warmup: 5, total: 40, min_lr: 1e-3 },
        eval_every: Some(20),
        progress: false,
        seed: 11,
        ..Default::default()
    };
    let run = |seed: u64| {
        let mut tr = Trainer::new(&tiny(8), Box::new(AdamW::new(AdamWConfig::default())), TrainConfig { seed, ..cfg.clone() }).unwrap();
        tr.fit(&train, Some(&val)).unwrap()
    };
    let a = run(11);
    let b = run(11);
    assert_eq!(a.rows.iter().map(|r| r.train_loss).collect::<Vec<_>>(), b.rows.iter().map(|r| r.train_loss).collect::<Vec<_>>());
    let first = a.rows[0].train_loss;
    let last_val = a.last_val_loss().unwrap();
    assert!(last_val < first - 0.5, "val loss {last_val} should fall well below the initial {first}");
    assert_eq!(a.val_curve().len(), 2);
    let c = run(12);
    assert_ne!(a.rows[5].train_loss, c.rows[5].train_loss, "another seed draws other batches");
    let df = a.to_dataframe().unwrap();
    assert_eq!(df.height(), 40);
}

#[test]
fn checkpoints_resume_the_same_trajectory() {
    let data = dataset();
    let cfg = TrainConfig { steps: 8, batch_size: 4, schedule: LrSchedule::Cosine { lr: 1e-2, warmup: 2, total: 8, min_lr: 1e-3 }, progress: false, seed: 3, ..Default::default() };
    let mut straight = Trainer::new(&tiny(9), Box::new(AdamW::new(AdamWConfig::default())), cfg.clone()).unwrap();
    straight.fit(&data, None).unwrap();

    let mut first = Trainer::new(&tiny(9), Box::new(AdamW::new(AdamWConfig::default())), TrainConfig { steps: 4, ..cfg.clone() }).unwrap();
    first.fit(&data, None).unwrap();
    let dir = scratch("ckpt").join("run");
    first.save_checkpoint(&dir).unwrap();
    first.save_checkpoint(&dir).unwrap(); // overwriting an existing checkpoint works
    let mut resumed = Trainer::resume(&dir, Box::new(AdamW::new(AdamWConfig::default()))).unwrap();
    assert_eq!(resumed.step, 4);
    resumed.cfg.steps = 8;
    resumed.fit(&data, None).unwrap();
    let (a, b) = (straight.model().unwrap(), resumed.model().unwrap());
    for ((n, x), (_, y)) in a.named_tensors().iter().zip(b.named_tensors().iter()) {
        assert!(max_abs_diff(x, y) < 1e-6, "{n} diverged after resume");
    }
    let la: Vec<f64> = straight.metrics.rows.iter().map(|r| r.train_loss).collect();
    let lb: Vec<f64> = resumed.metrics.rows.iter().map(|r| r.train_loss).collect();
    assert_eq!(la.len(), lb.len());
    assert!(la.iter().zip(&lb).all(|(p, q)| (p - q).abs() < 1e-6));
    // the model part loads as a plain HF checkpoint
    assert!(Gpt2::from_dir(&dir).is_ok());
    assert!(matches!(Trainer::resume(&dir, Box::new(Sgd::new(0.1, 0.0, 0.0))), Err(Error::Msg(_))));
}

#[test]
fn optimizer_state_does_not_keep_autograd_history() {
    // Regression: AdamW moments built from un-detached gradients chained every step's graph
    // together (memory grew by the whole activation set per step).
    let mut tr = Trainer::new(&tiny(10), Box::new(AdamW::new(AdamWConfig::default())), TrainConfig { progress: false, ..Default::default() }).unwrap();
    tr.train_step(&[batch(2, 8, 0)]).unwrap();
    tr.train_step(&[batch(2, 8, 1)]).unwrap();
    let (_, state) = tr.opt.state();
    assert!(!state.is_empty());
    for (n, t) in state {
        assert!(!t.track_op(), "{n} keeps an autograd graph");
    }
}
