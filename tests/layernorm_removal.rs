//! Norm variants, the removal schedule, DLA vs direct effect, entropy-neuron ablation, and
//! the LN-free checkpoint convention.

mod common;
use common::*;

use std::collections::HashMap;

use candle_core::{Device, Tensor};
use gpt2lab::hooks::HookSpec;
use gpt2lab::interp::*;
use gpt2lab::model::{Gpt2, Gpt2Config, LnTarget, NormMode};
use gpt2lab::train::*;

/// A random model whose LayerNorm weights and biases are not the trivial 1/0.
fn model(seed: u64) -> Gpt2 {
    let m = Gpt2::random(Gpt2Config::tiny(61, 32, 32, 2, 4), seed, &Device::Cpu).unwrap();
    let mut k = 0u32;
    m.map_tensors(|name, t| {
        k += 1;
        if name.contains("ln_") {
            let n = t.elem_count();
            let noise: Vec<f32> = (0..n).map(|i| (((i as u32).wrapping_mul(2654435761u32).wrapping_add(k * 97)) % 1000) as f32 / 2500.0 - 0.2).collect();
            Ok((t + Tensor::from_vec(noise, n, &Device::Cpu).unwrap()).unwrap())
        } else {
            Ok(t.clone())
        }
    })
    .unwrap()
}

fn ids() -> Tensor {
    let v: Vec<u32> = (0..3 * 12).map(|i| (i * 17 + 5) % 61).collect();
    Tensor::from_vec(v, (3, 12), &Device::Cpu).unwrap()
}

fn ln_free(m: &Gpt2) -> Gpt2 {
    remove_all_at_once(m, &ids()).unwrap()
}

#[test]
fn schedule_follows_the_official_order() {
    let s = LnRemovalSchedule::sequential(2, 20, 2, 2, 3);
    use LnTarget::*;
    assert_eq!(s.events, vec![(20, Ln2(0)), (22, Ln2(1)), (24, Ln1Qk(0)), (26, Ln1Qk(1)), (28, Ln1V(0)), (31, Ln1V(1)), (34, Final)]);
    assert_eq!(s.end_step(), 34);
}

#[test]
fn fake_ln_at_the_true_scale_matches_layernorm_and_is_linear() {
    let m = model(1);
    let x = ids();
    let real = m.forward(&x).unwrap();
    let fake = ln_free(&m);
    assert!(fake.norm_modes().iter().all(|(_, m)| matches!(m, NormMode::Fake { .. })));
    let approx = fake.forward(&x).unwrap();
    // averaged σ: close to but not equal to the real network
    let d = max_abs_diff(&real, &approx);
    assert!(d > 1e-4, "fake LN should differ somewhat: {d}");
    // identity everywhere is a different network again
    let mut id = m.clone();
    id.set_all_norm_modes(NormMode::Identity);
    assert!(max_abs_diff(&id.forward(&x).unwrap(), &real) > 1e-3);
}

#[test]
fn qk_and_v_inputs_are_removed_separately() {
    let m = model(2);
    let x = ids();
    let sigma = average_scale(&m, &x, LnTarget::Ln1Qk(0)).unwrap();
    let mut qk = m.clone();
    qk.set_norm_mode(LnTarget::Ln1Qk(0), NormMode::Fake { sigma }).unwrap();
    let mut both = qk.clone();
    both.set_norm_mode(LnTarget::Ln1V(0), NormMode::Fake { sigma }).unwrap();
    let (a, b, c) = (m.forward(&x).unwrap(), qk.forward(&x).unwrap(), both.forward(&x).unwrap());
    assert!(max_abs_diff(&a, &b) > 1e-5 && max_abs_diff(&b, &c) > 1e-5);
    assert_eq!(qk.norm_modes()[1], (LnTarget::Ln1V(0), NormMode::LayerNorm));
}

fn dla_and_de(m: &Gpt2) -> (Tensor, Tensor) {
    let x = ids();
    let run = m.run(&x, &HookSpec::capture_all()).unwrap();
    // targets: the model's own top prediction at each position
    let targets = run.logits.argmax(candle_core::D::Minus1).unwrap();
    let (comps, labels) = head_and_mlp_components(m, &run.cache).unwrap();
    assert_eq!(labels.len(), 2 * (4 + 1));
    let dla = direct_logit_attribution(m, &run.cache, &comps, &targets).unwrap();
    let de = direct_effect(m, &final_resid(m, &run.cache).unwrap(), &comps, &targets).unwrap();
    (dla, de)
}

#[test]
fn dla_equals_direct_effect_exactly_without_layernorm_only() {
    let m = model(3);
    let (dla, de) = dla_and_de(&ln_free(&m));
    let worst = max_abs_diff(&dla, &de);
    assert!(worst < 1e-4, "LN-free: |DLA − DE| = {worst}");
    let (dla, de) = dla_and_de(&m);
    let err = nmae(&dla, &de).unwrap();
    assert!(err.iter().cloned().fold(0.0, f64::max) > 0.01, "with LayerNorm, DLA ≠ DE: {err:?}");
}

#[test]
fn dla_of_everything_sums_to_the_logit() {
    // embeddings + biases + heads + MLPs = the residual; their DLA sums to logit − β·W_U term
    let m = model(4);
    let run = m.run(&ids(), &HookSpec::capture_all()).unwrap();
    let (parts, _) = run.cache.decompose_resid().unwrap();
    let targets = run.logits.argmax(candle_core::D::Minus1).unwrap();
    let dla = direct_logit_attribution(&m, &run.cache, &parts, &targets).unwrap().sum(0).unwrap();
    let beta = target_logits(&m, &Tensor::zeros((3, 12, 32), candle_core::DType::F32, &Device::Cpu).unwrap(), &targets).unwrap();
    // with zero input, LN output is β (centred zero / scale), so this is β·W_U[t]
    let logit = run.logits.gather(&targets.unsqueeze(2).unwrap(), 2).unwrap().squeeze(2).unwrap();
    assert!(max_abs_diff(&(dla + beta).unwrap(), &logit) < 1e-3);
}

#[test]
fn entropy_neuron_effect_has_no_ln_part_without_layernorm() {
    let m = model(5);
    let null = unembed_null_space(&m, 4).unwrap();
    assert_eq!(null.dims(), &[32, 4]);
    // the basis is orthonormal
    let g = null.t().unwrap().matmul(&null).unwrap();
    assert!(max_abs_diff(&g, &Tensor::eye(4, candle_core::DType::F32, &Device::Cpu).unwrap()) < 1e-4);
    let scores = entropy_neuron_scores(&m, 1, &null).unwrap();
    assert_eq!(scores.len(), 128);
    assert!(scores.windows(2).all(|w| w[0].1 >= w[1].1));
    let top = scores[0].0;
    let with_ln = neuron_ablation_entropy(&m, &ids(), 1, top).unwrap();
    assert!(with_ln.ln_mediated.abs() > 1e-6, "{with_ln:?}");
    assert!((with_ln.total - with_ln.direct - with_ln.ln_mediated).abs() < 1e-12);
    let free = neuron_ablation_entropy(&ln_free(&m), &ids(), 1, top).unwrap();
    assert!(free.ln_mediated.abs() < 1e-6, "{free:?}");
    assert!(free.total.abs() > 0.0);
}

#[test]
fn ln_free_checkpoints_use_the_released_convention() {
    let free = ln_free(&model(6));
    let dir = scratch("ln_free_ckpt");
    free.save_pretrained(&dir).unwrap();
    let cfg = Gpt2Config::from_file(dir.join("config.json")).unwrap();
    assert_eq!(cfg.layer_norm_epsilon, 1e12);
    let back = Gpt2::from_dir(&dir).unwrap();
    assert!(back.norm_modes().iter().all(|(_, m)| *m == NormMode::Fake { sigma: 1e6 }));
    let x = ids();
    let d = max_abs_diff(&free.forward(&x).unwrap(), &back.forward(&x).unwrap());
    assert!(d < 1e-4, "{d}");
    // a half-removed model cannot be expressed in HF GPT-2
    let mut half = model(6);
    half.set_norm_mode(LnTarget::Ln2(0), NormMode::Fake { sigma: 2.0 }).unwrap();
    assert!(half.save_pretrained(scratch("half")).is_err());
}

#[test]
fn removal_schedule_runs_inside_the_trainer() {
    let m = model(7);
    let stream: Vec<u32> = (0..4000u32).map(|i| (i * i + 7 * i) % 59).collect();
    let data = gpt2lab::data::TokenDataset::new(stream, 16).unwrap();
    let sched = LnRemovalSchedule::sequential(2, 3, 1, 1, 1);
    let end = sched.end_step();
    let cfg = TrainConfig { steps: end + 3, batch_size: 4, schedule: LrSchedule::Constant { lr: 1e-3 }, progress: false, ..Default::default() };
    let mut tr = Trainer::new(&m, Box::new(AdamW::new(AdamWConfig::default())), cfg).unwrap();
    sched.attach(&mut tr, ids());
    tr.fit(&data, None).unwrap();
    let modes = tr.model().unwrap().norm_modes();
    assert!(modes.iter().all(|(_, m)| matches!(m, NormMode::Fake { .. })), "{modes:?}");
    let sigmas: HashMap<String, f64> = modes.iter().map(|(t, m)| (t.to_string(), if let NormMode::Fake { sigma } = m { *sigma } else { 0.0 })).collect();
    assert!(sigmas.values().all(|s| s.is_finite() && *s > 0.0));
}

#[test]
fn removal_runs_checkpoint_and_resume_at_every_step_of_the_schedule() {
    let stream: Vec<u32> = (0..4000u32).map(|i| (i * i + 7 * i) % 59).collect();
    let data = gpt2lab::data::TokenDataset::new(stream, 16).unwrap();
    // 2 layers: ln2 at 2, 3; ln1(qk) at 4, 5; ln1(v) at 6, 7; final at 8
    let sched = LnRemovalSchedule::sequential(2, 2, 1, 1, 1);
    let total = sched.end_step() + 2;
    let cfg = TrainConfig { steps: total, batch_size: 4, schedule: LrSchedule::Constant { lr: 1e-3 }, progress: false, ..Default::default() };
    let start = |steps: usize| {
        let mut tr = Trainer::new(&model(8), Box::new(AdamW::new(AdamWConfig::default())), TrainConfig { steps, ..cfg.clone() }).unwrap();
        sched.clone().attach(&mut tr, ids());
        tr
    };
    let mut straight = start(total);
    straight.fit(&data, None).unwrap();
    let want: Vec<f64> = straight.metrics.rows.iter().map(|r| r.train_loss).collect();
    let want_modes = straight.model().unwrap().norm_modes();
    for at in 1..total {
        let mut first = start(at);
        first.fit(&data, None).unwrap();
        let dir = scratch(&format!("ln_removal_resume_{at}")).join("ckpt");
        first.save_checkpoint(&dir).unwrap_or_else(|e| panic!("save at step {at}: {e}"));
        let mut resumed = Trainer::resume(&dir, Box::new(AdamW::new(AdamWConfig::default()))).unwrap_or_else(|e| panic!("resume at step {at}: {e}"));
        assert_eq!(resumed.model().unwrap().norm_modes(), first.model().unwrap().norm_modes(), "step {at}: the removed sites and their σ");
        sched.clone().attach(&mut resumed, ids());
        resumed.cfg.steps = total;
        resumed.fit(&data, None).unwrap();
        let got: Vec<f64> = resumed.metrics.rows.iter().map(|r| r.train_loss).collect();
        assert_eq!(got, want, "resumed at step {at}");
        assert_eq!(resumed.model().unwrap().norm_modes(), want_modes, "step {at}");
    }
    // the end of the schedule saves too, even where q/k and v got different σ (which HF
    // GPT-2's one ln_1 cannot express)
    let dir = scratch("ln_removal_resume_end").join("ckpt");
    straight.save_checkpoint(&dir).unwrap();
    let back = Trainer::resume(&dir, Box::new(AdamW::new(AdamWConfig::default()))).unwrap();
    assert_eq!((back.step, back.model().unwrap().norm_modes()), (total, want_modes));
}
