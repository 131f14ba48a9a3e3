//! SophiaG, Muon and Conda against the official PyTorch code on a fixed tensor sequence
//! (`scripts/make_optim_fixtures.py` → `tests/fixtures/optim/optim_ref.safetensors`), Conda's
//! special cases, AdamW's PyTorch parity through parameter groups, and SophiaG's curvature pass
//! inside the Trainer.

mod common;
use common::*;

use std::collections::HashMap;

use candle_core::backprop::GradStore;
use candle_core::{Device, Tensor, Var};
use gpt2lab::model::{Gpt2, Gpt2Config};
use gpt2lab::train::*;

const NAMES: [&str; 5] = ["h.0.mlp.c_fc.weight", "h.0.mlp.c_proj.weight", "h.0.attn.c_proj.weight", "h.0.ln_1.weight", "wte.weight"];
const N: usize = 9;
const K: usize = 3;

fn fixture_tensors() -> HashMap<String, Tensor> {
    let p = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/optim/optim_ref.safetensors");
    candle_core::safetensors::load(p, &Device::Cpu).unwrap()
}

/// Parameters in the library's layout (Conv1D weights transposed from the fixture's Linear).
fn params(r: &HashMap<String, Tensor>) -> Vec<Param> {
    NAMES.iter().map(|n| Param { name: n.to_string(), var: Var::from_tensor(&to_linear(n, &r[&format!("init.{n}")]).unwrap()).unwrap(), decay: decays(n) }).collect()
}

fn grads(r: &HashMap<String, Tensor>, ps: &[Param], key: &str) -> GradStore {
    let mut g = GradStore::default();
    for p in ps {
        g.insert(p.var.as_tensor(), to_linear(&p.name, &r[&format!("{key}.{}", p.name)]).unwrap());
    }
    g
}

fn check_step(r: &HashMap<String, Tensor>, ps: &[Param], tag: &str, i: usize, tol: f32) {
    for p in ps {
        let got = to_linear(&p.name, p.var.as_tensor()).unwrap();
        let want = &r[&format!("{tag}.{i}.{}", p.name)];
        let d = max_abs_diff(&got, want);
        assert!(d < tol, "{tag} step {i} {}: max |Δ| = {d}", p.name);
    }
}

fn run(opt: &mut dyn Optimizer, tag: &str, base_lr: f64, tol: f32, mut after: impl FnMut(&mut dyn Optimizer, &[Param], usize)) {
    let r = fixture_tensors();
    let ps = params(&r);
    let lrs: Vec<f32> = r["lr"].to_vec1().unwrap();
    for i in 0..N {
        opt.set_learning_rate(base_lr * lrs[i] as f64);
        opt.step(&ps, &grads(&r, &ps, &format!("grad.{i}"))).unwrap();
        after(opt, &ps, i);
        check_step(&r, &ps, tag, i, tol);
    }
}

#[test]
fn sophiag_matches_the_official_update() {
    let r = fixture_tensors();
    let want_win: Vec<f32> = r["sophia.win_rate"].to_vec1().unwrap();
    let cfg = SophiaConfig { lr: 0.05, beta1: 0.965, beta2: 0.99, rho: 0.05, weight_decay: 0.2, tokens_per_step: 256, hessian_every: K };
    let mut o = SophiaG::new(cfg).unwrap();
    let mut wins = vec![];
    run(&mut o, "sophia", 0.05, 1e-5, |o, ps, i| {
        assert_eq!(o.wants_curvature(), i % K == K - 1, "step {i}");
        if o.wants_curvature() {
            o.update_curvature(ps, &grads(&r, ps, &format!("hess.{i}"))).unwrap();
            wins.push(o.diagnostics().iter().find(|d| d.0 == "win_rate").unwrap().1);
        }
    });
    assert_eq!(wins.len(), want_win.len());
    for (a, b) in wins.iter().zip(&want_win) {
        assert!((a - *b as f64).abs() < 1e-6, "win_rate {a} vs {b}");
    }
    // the fixture exercises both branches: some coordinates clipped, some not
    assert!(want_win.iter().all(|&w| w > 0.05 && w < 0.95));
}

#[test]
fn sophiag_groups_give_the_same_update_as_the_decay_flag() {
    let r = fixture_tensors();
    let cfg = SophiaConfig { lr: 0.05, beta1: 0.965, beta2: 0.99, rho: 0.05, weight_decay: 0.2, tokens_per_step: 256, hessian_every: K };
    let mut o = SophiaG::with_groups(cfg, ParamGroups::decay_split(0.2)).unwrap();
    run(&mut o, "sophia", 0.05, 1e-5, |o, ps, i| {
        if o.wants_curvature() {
            o.update_curvature(ps, &grads(&r, ps, &format!("hess.{i}"))).unwrap();
        }
    });
}

fn muon_cfg(variant: MuonVariant) -> MuonConfig {
    MuonConfig { lr: 0.02, momentum: 0.95, nesterov: true, ns_steps: 5, weight_decay: 0.1, variant, matrices: Select::HiddenMatrices, adam_betas: (0.9, 0.95), adam_eps: 1e-8, adam_lr_ratio: 1.0 }
}

#[test]
fn muon_keller_jordan_matches_the_official_update() {
    let mut o = Muon::new(muon_cfg(MuonVariant::KellerJordan)).unwrap();
    run(&mut o, "muon_kj", 0.02, 2e-5, |_, _, _| {});
}

#[test]
fn muon_moonlight_matches_the_official_update() {
    let mut o = Muon::new(muon_cfg(MuonVariant::Moonlight)).unwrap();
    run(&mut o, "muon_moonlight", 0.02, 2e-5, |_, _, _| {});
}

fn conda_cfg() -> CondaConfig {
    CondaConfig { lr: 0.01, beta1: 0.9, beta2: 0.99, eps: 1e-8, weight_decay: 0.01, scale: 0.25, update_proj_gap: K, correct_bias: true, matrices: Select::HiddenMatrices, identity_projector: false }
}

#[test]
fn conda_matches_the_official_update() {
    let mut o = Conda::new(conda_cfg()).unwrap();
    run(&mut o, "conda", 0.01, 2e-5, |_, _, _| {});
    // 3 hidden matrices, refreshed at steps 0, 3, 6
    assert_eq!(o.svd_count(), 9);
}

#[test]
fn conda_with_the_identity_projector_is_adam_times_scale() {
    let r = fixture_tensors();
    let (a, b) = (params(&r), params(&r));
    let mut id = Conda::new(CondaConfig { identity_projector: true, weight_decay: 0.0, ..conda_cfg() }).unwrap();
    // the same Adam on every parameter: `matrices` that take nothing
    let mut adam = Conda::new(CondaConfig { matrices: Select::NameContains(vec!["<none>".into()]), weight_decay: 0.0, ..conda_cfg() }).unwrap();
    for i in 0..N {
        id.step(&a, &grads(&r, &a, &format!("grad.{i}"))).unwrap();
        adam.step(&b, &grads(&r, &b, &format!("grad.{i}"))).unwrap();
    }
    for ((pa, pb), n) in a.iter().zip(&b).zip(NAMES) {
        let init = to_linear(n, &r[&format!("init.{n}")]).unwrap();
        let da = (pa.var.as_tensor() - &init).unwrap();
        let db = (pb.var.as_tensor() - &init).unwrap();
        let want = if is_conv1d_weight(n) { (db * 0.25).unwrap() } else { db };
        assert!(max_abs_diff(&da, &want) < 1e-6, "{n}");
    }
}

#[test]
fn condas_first_step_is_lr_scale_sign_u_times_vh() {
    // step 1: m = (1−β1)g, P from svd(m); g̃ = U S (right case), v = (1−β2) g̃², so
    // m̃/(√v + ε) ≈ (1−β1)/√(1−β2) · sign(U S) = … · sign(U); with the bias corrections the
    // update is lr · scale · sign(U) Vh (up to ε), an independent SVD away.
    let g = Tensor::randn(0f32, 1.0, (10, 4), &Device::Cpu).unwrap(); // Linear layout, rows ≥ cols
    let name = "h.0.mlp.c_fc.weight";
    let p = Param { name: name.into(), var: Var::from_tensor(&to_linear(name, &Tensor::zeros((10, 4), candle_core::DType::F32, &Device::Cpu).unwrap()).unwrap()).unwrap(), decay: true };
    let mut o = Conda::new(CondaConfig { weight_decay: 0.0, ..conda_cfg() }).unwrap();
    let mut gs = GradStore::default();
    gs.insert(p.var.as_tensor(), to_linear(name, &g).unwrap());
    o.step(std::slice::from_ref(&p), &gs).unwrap();
    let got = to_linear(name, p.var.as_tensor()).unwrap();
    let m = gpt2lab::train::spectrum::to_dmatrix(&g).unwrap();
    let svd = nalgebra::linalg::SVD::new(m, true, true);
    let (u, vt) = (svd.u.unwrap(), svd.v_t.unwrap());
    let want = u.map(|x| x.signum()) * vt * (-0.01 * 0.25);
    let want = gpt2lab::train::spectrum::from_dmatrix(&want, &g).unwrap();
    assert!(max_abs_diff(&got, &want) < 1e-5, "{got} vs {want}");
}

#[test]
fn adamw_through_one_group_keeps_pytorch_parity() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/train");
    let r = candle_core::safetensors::load(dir.join("train_ref.safetensors"), &Device::Cpu).unwrap();
    let model = Gpt2::from_dir(fixture("prefixed")).unwrap();
    let (x, y) = (ids_u32(&r["x"]), ids_u32(&r["y"]));
    // decay_all: false — the group, not the flag, decays every parameter
    let cfg = AdamWConfig { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.0, decay_all: false };
    let tcfg = TrainConfig { clip: None, schedule: LrSchedule::Constant { lr: 1e-2 }, progress: false, ..Default::default() };
    let mut tr = Trainer::new(&model, Box::new(AdamW::with_groups(cfg, ParamGroups::single(0.1))), tcfg).unwrap();
    let want_losses: Vec<f32> = r["losses"].to_vec1().unwrap();
    for (i, want) in want_losses.iter().enumerate() {
        let s = tr.train_step(&[(x.clone(), y.clone())]).unwrap();
        assert!((s.loss - *want as f64).abs() < 1e-4, "step {i}: loss {} vs {want}", s.loss);
    }
    for (name, t) in tr.model().unwrap().named_tensors() {
        if name.ends_with("attn.c_attn.bias") {
            continue; // key bias: zero gradient, f32 noise (see tests/train.rs)
        }
        let d = max_abs_diff(&t, &r[&format!("final.transformer.{name}")]);
        assert!(d < 1e-3, "param {name} after 5 steps: {d}");
    }
}

#[test]
fn empty_group_is_a_typed_error_at_the_first_step() {
    let model = Gpt2::random(Gpt2Config::tiny(30, 8, 16, 2, 2), 1, &Device::Cpu).unwrap();
    let groups = ParamGroups::new(vec![ParamGroup::new("emb", Select::NameContains(vec!["wtee".into()]), 0.0), ParamGroup::new("rest", Select::All, 0.1)]);
    let tcfg = TrainConfig { progress: false, ..Default::default() };
    let mut tr = Trainer::new(&model, Box::new(AdamW::with_groups(AdamWConfig::default(), groups)), tcfg).unwrap();
    let x = Tensor::new(&[[1u32, 2, 3, 4]], &Device::Cpu).unwrap();
    let err = tr.train_step(&[(x.clone(), x)]).unwrap_err();
    assert!(matches!(err, gpt2lab::Error::EmptyParamGroup { ref group } if group == "emb"), "{err}");
}

#[test]
fn sophia_in_the_trainer_runs_its_curvature_pass_every_k_steps() {
    let model = Gpt2::random(Gpt2Config::tiny(30, 8, 16, 2, 2), 1, &Device::Cpu).unwrap();
    let cfg = SophiaConfig { lr: 1e-2, tokens_per_step: 2 * 8, hessian_every: 4, ..Default::default() };
    let data: Vec<u32> = (0..400u32).map(|i| (i * 7 + i / 5) % 30).collect();
    let x = Tensor::from_vec(data[..16].to_vec(), (2, 8), &Device::Cpu).unwrap();
    let y = Tensor::from_vec(data[1..17].to_vec(), (2, 8), &Device::Cpu).unwrap();
    let run = || {
        let tcfg = TrainConfig { progress: false, seed: 3, ..Default::default() };
        let mut tr = Trainer::new(&model, Box::new(SophiaG::new(cfg.clone()).unwrap()), tcfg).unwrap();
        let mut seen = vec![];
        let mut losses = vec![];
        for _ in 0..9 {
            losses.push(tr.train_step(&[(x.clone(), y.clone())]).unwrap().loss);
            seen.push(tr.opt.diagnostics());
        }
        (seen, losses)
    };
    let (seen, losses) = run();
    assert!(seen[..3].iter().all(|d| d.is_empty()), "no curvature before step 4");
    let w = |d: &Vec<(String, f64)>| d.iter().find(|x| x.0 == "win_rate").map(|x| x.1).unwrap();
    assert!(seen[3..].iter().all(|d| (0.0..=1.0).contains(&w(d))));
    assert!(w(&seen[7]) != w(&seen[6]), "a second estimate after step 8");
    assert!(losses[8] < losses[0], "{losses:?}");
    // sampled labels are seeded: the same run gives the same numbers
    assert_eq!(run().1, losses);
}
