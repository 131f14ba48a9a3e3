//! Sparse autoencoders against SAELens (scripts/make_sae_fixtures.py): its saved folders load,
//! encode/decode and the hook_z reshaping match, the training loss terms and the projected
//! decoder gradient match, the geometric median matches scipy's; then behaviour: splicing with
//! the error term is exact, training recovers a planted dictionary, resampling revives dead
//! features, DFA sums to the pre-activation, bad input is a typed error.

mod common;

use std::collections::HashMap;
use std::path::PathBuf;

use candle_core::{DType, Device, Tensor, D};
use common::max_abs_diff;
use gpt2lab::hooks::HookSpec;
use gpt2lab::interp::sae::*;
use gpt2lab::model::{Gpt2, Gpt2Config};
use gpt2lab::Error;
use rand::{rngs::StdRng, Rng, SeedableRng};

fn dir(case: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sae").join(case)
}

fn reference() -> HashMap<String, Tensor> {
    candle_core::safetensors::load(dir("ref.safetensors"), &Device::Cpu).expect("fixture (scripts/make_sae_fixtures.py)")
}

fn scalar(t: &Tensor) -> f64 {
    t.flatten_all().unwrap().to_dtype(DType::F64).unwrap().to_vec1::<f64>().unwrap()[0]
}

#[test]
fn saelens_folders_load_and_encode_decode_as_saelens() {
    let r = reference();
    let sae = Sae::load(dir("standard")).unwrap();
    assert_eq!((sae.cfg.d_in, sae.cfg.d_sae), (6, 10));
    assert_eq!(sae.cfg.hook_name, "blocks.0.hook_resid_pre");
    assert!(sae.cfg.apply_b_dec_to_input && !sae.cfg.reshape_hook_z);
    let (out, f) = sae.forward(&r["x"]).unwrap();
    assert!(max_abs_diff(&f, &r["feature_acts"]) < 1e-5);
    assert!(max_abs_diff(&out, &r["sae_out"]) < 1e-5);

    let z = Sae::load(dir("hook_z")).unwrap();
    assert!(z.cfg.reshape_hook_z);
    assert!(max_abs_diff(&z.features(&r["z"]).unwrap(), &r["z_feats"]) < 1e-5);
    let (rows, dims) = z.flatten(&r["z"]).unwrap();
    let (rec, _) = z.forward(&rows).unwrap();
    assert!(max_abs_diff(&rec.reshape(dims).unwrap(), &r["z_out"]) < 1e-5, "hook_z reshaping differs from SAELens'");
}

#[test]
fn training_loss_and_projected_decoder_gradient_match_saelens() {
    let r = reference();
    let sae = Sae::load(dir("standard")).unwrap();
    let (mse, l1, _, _) = sae_loss(&sae, &r["x"], 0.5).unwrap();
    assert!((scalar(&mse) - scalar(&r["mse_loss"])).abs() < 1e-4 * scalar(&r["mse_loss"]).max(1.0));
    assert!((scalar(&l1) - scalar(&r["l1_loss"])).abs() < 1e-4 * scalar(&r["l1_loss"]).max(1.0));

    sae.w_dec.set(&r["w_dec_unit"]).unwrap();
    let (_, _, total, _) = sae_loss(&sae, &r["x"], 0.5).unwrap();
    assert!((scalar(&total) - scalar(&r["unit_total_loss"])).abs() < 1e-4 * scalar(&r["unit_total_loss"]).max(1.0));
    let grads = total.backward().unwrap();
    let g = project_decoder_grad(sae.w_dec.as_tensor(), grads.get(sae.w_dec.as_tensor()).unwrap()).unwrap();
    assert!(max_abs_diff(&g, &r["grad_w_dec_projected"]) < 1e-5);
    // the projected gradient is orthogonal to every row
    let dots = (&g * sae.w_dec.as_tensor()).unwrap().sum(D::Minus1).unwrap().abs().unwrap().max(0).unwrap();
    assert!(dots.to_scalar::<f32>().unwrap() < 1e-5);
}

#[test]
fn geometric_median_matches_scipy() {
    let r = reference();
    let m = geometric_median(&r["points"], 1000, 1e-20).unwrap();
    let want = r["geometric_median"].to_dtype(DType::F32).unwrap();
    assert!(max_abs_diff(&m, &want) < 2e-3, "Weiszfeld vs scipy: {}", max_abs_diff(&m, &want));
    // and it is not the mean (the fixture has outliers)
    assert!(max_abs_diff(&r["points"].mean(0).unwrap(), &want) > 0.5);
}

#[test]
fn save_load_roundtrip_in_saelens_format() {
    let sae = Sae::load(dir("hook_z")).unwrap();
    let out = common::scratch("sae-roundtrip");
    sae.save(&out).unwrap();
    let back = Sae::load(&out).unwrap();
    assert_eq!(back.cfg, sae.cfg);
    assert_eq!(max_abs_diff(back.w_enc.as_tensor(), sae.w_enc.as_tensor()), 0.0);
    let cfg: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("cfg.json")).unwrap()).unwrap();
    assert_eq!(cfg["architecture"], "standard");
    assert_eq!(cfg["reshape_activations"], "hook_z");
    assert_eq!(cfg["metadata"]["hook_name"], "blocks.0.attn.hook_z");
    // the older flat layout (hook_point at top level, no architecture) loads too
    let old = r#"{"d_in": 6, "d_sae": 10, "hook_point": "blocks.3.hook_resid_pre", "hook_point_layer": 3}"#;
    let c = SaeConfig::from_json(old, "old.json").unwrap();
    assert_eq!((c.hook_name.as_str(), c.apply_b_dec_to_input, c.reshape_hook_z), ("blocks.3.hook_resid_pre", true, false));
}

fn tiny_model() -> Gpt2 {
    Gpt2::random(Gpt2Config::tiny(50, 16, 16, 2, 2), 3, &Device::Cpu).unwrap()
}

#[test]
fn splice_with_error_term_is_exact_and_edits_move_only_what_they_touch() {
    let m = tiny_model();
    let ids = Tensor::new(&[[1u32, 5, 7, 9, 11, 2], [4, 4, 8, 15, 16, 23]], &Device::Cpu).unwrap();
    let clean = m.forward(&ids).unwrap();
    for hook in ["blocks.1.hook_resid_pre", "blocks.0.attn.hook_z"] {
        let sae = Sae::new(SaeConfig::new(hook, 16, 32).unwrap(), Some(1.0), 7).unwrap();
        let exact = m.run(&ids, &HookSpec::new().intervene(hook, sae.splice(true))).unwrap().logits;
        assert!(max_abs_diff(&exact, &clean) < 1e-4, "{hook}: splice with the error term moved the logits");
        let lossy = m.run(&ids, &HookSpec::new().intervene(hook, sae.splice(false))).unwrap().logits;
        assert!(max_abs_diff(&lossy, &clean) > 1e-3, "{hook}: a random SAE reconstructs exactly?");
        // ablating a feature that never fires changes nothing; one that fires does
        let acts = collect_activations(&m, &sae.cfg, std::slice::from_ref(&ids)).unwrap();
        let fired: Vec<f32> = sae.encode(&acts).unwrap().sum(0).unwrap().to_vec1().unwrap();
        let on = fired.iter().position(|c| *c > 0.0).unwrap();
        let moved = m.run(&ids, &HookSpec::new().intervene(hook, sae.ablate_features(&[on]).unwrap())).unwrap().logits;
        assert!(max_abs_diff(&moved, &clean) > 1e-5);
        if let Some(off) = fired.iter().position(|c| *c == 0.0) {
            let same = m.run(&ids, &HookSpec::new().intervene(hook, sae.ablate_features(&[off]).unwrap())).unwrap().logits;
            assert!(max_abs_diff(&same, &clean) < 1e-4);
        }
    }
}

#[test]
fn dfa_sums_to_the_pre_activation() {
    let r = reference();
    let sae = Sae::load(dir("hook_z")).unwrap();
    let (rows, _) = sae.flatten(&r["z"]).unwrap();
    let pre = sae.encode_pre(&rows).unwrap().reshape((2, 3, 10)).unwrap();
    for j in [0, 4, 9] {
        let dfa = direct_feature_attribution(&sae, &r["z"], j).unwrap(); // (2, 3, 2)
        let b = sae.b_enc.as_tensor().get(j).unwrap().to_scalar::<f32>().unwrap() as f64;
        let sum = (dfa.sum(2).unwrap() + b).unwrap();
        assert!(max_abs_diff(&sum, &pre.narrow(2, j, 1).unwrap().squeeze(2).unwrap()) < 1e-5);
    }
    assert!(matches!(direct_feature_attribution(&Sae::load(dir("standard")).unwrap(), &r["z"], 0), Err(Error::Unsupported(_))));
}

/// x = Σ_k c_k d_k with 12 planted unit directions in 16 dims, each active with p = 0.08.
fn planted(n: usize, seed: u64) -> (Tensor, Tensor) {
    let mut rng = StdRng::seed_from_u64(seed);
    let (d, k) = (16, 12);
    let mut dirs = vec![0f32; k * d];
    for row in dirs.chunks_mut(d) {
        row.iter_mut().for_each(|x| *x = rng.random_range(-1.0..1.0));
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        row.iter_mut().for_each(|x| *x /= norm);
    }
    let mut xs = vec![0f32; n * d];
    for row in xs.chunks_mut(d) {
        for j in 0..k {
            if rng.random_bool(0.08) {
                let c: f32 = rng.random_range(0.5..2.0);
                for (x, v) in row.iter_mut().zip(&dirs[j * d..(j + 1) * d]) {
                    *x += c * v;
                }
            }
        }
    }
    let dev = Device::Cpu;
    (Tensor::from_vec(xs, (n, d), &dev).unwrap(), Tensor::from_vec(dirs, (k, d), &dev).unwrap())
}

#[test]
fn training_recovers_a_planted_dictionary_and_keeps_decoder_rows_unit() {
    let (x, truth) = planted(3000, 1);
    let mut sae = Sae::new(SaeConfig::new("blocks.0.hook_resid_pre", 16, 24).unwrap(), Some(1.0), 2).unwrap();
    let before = sae_metrics(&sae, &x).unwrap();
    let cfg = SaeTrainConfig { steps: 1500, batch_size: 64, lr: 3e-3, l1_coefficient: 3e-2, ..Default::default() };
    let rep = train_sae(&mut sae, &x, &cfg, None).unwrap();
    assert_eq!(rep.losses.len(), 1500);
    let after = sae_metrics(&sae, &x).unwrap();
    assert!(after.explained_variance > 0.9 && after.explained_variance > before.explained_variance, "{before:?} → {after:?}");
    let norms: Vec<f32> = sae.decoder_norms().unwrap().to_vec1().unwrap();
    assert!(norms.iter().all(|n| (n - 1.0).abs() < 1e-4));
    // every planted direction has a decoder row at cosine > 0.9
    let cos: Vec<Vec<f32>> = truth.matmul(&sae.w_dec.as_tensor().t().unwrap()).unwrap().to_vec2().unwrap();
    let best: Vec<f32> = cos.iter().map(|r| r.iter().cloned().fold(f32::MIN, f32::max)).collect();
    assert!(best.iter().all(|c| *c > 0.9), "best cosines {best:?}");
    // a fixed seed gives the same SAE
    let mut again = Sae::new(SaeConfig::new("blocks.0.hook_resid_pre", 16, 24).unwrap(), Some(1.0), 2).unwrap();
    train_sae(&mut again, &x, &SaeTrainConfig { steps: 20, ..cfg.clone() }, None).unwrap();
    let mut third = Sae::new(SaeConfig::new("blocks.0.hook_resid_pre", 16, 24).unwrap(), Some(1.0), 2).unwrap();
    train_sae(&mut third, &x, &SaeTrainConfig { steps: 20, ..cfg }, None).unwrap();
    assert_eq!(max_abs_diff(again.w_dec.as_tensor(), third.w_dec.as_tensor()), 0.0);
}

#[test]
fn resampling_revives_dead_features() {
    let (x, _) = planted(2000, 4);
    let mut sae = Sae::new(SaeConfig::new("blocks.0.hook_resid_pre", 16, 16).unwrap(), Some(1.0), 5).unwrap();
    // kill half the features: a bias no input overcomes
    let mut b = vec![0f32; 16];
    b[..8].iter_mut().for_each(|v| *v = -100.0);
    let cfg = SaeTrainConfig { steps: 120, batch_size: 64, lr: 1e-3, l1_coefficient: 1e-2, b_dec_init: BDecInit::Mean, resample_at: vec![100], dead_window: 50, ..Default::default() };
    let mut sae_no = sae.clone();
    sae.b_enc.set(&Tensor::new(b.as_slice(), &Device::Cpu).unwrap()).unwrap();
    let rep = train_sae(&mut sae, &x, &cfg, None).unwrap();
    assert_eq!(rep.resampled, vec![(100, 8)], "{:?}", rep.resampled);
    assert!(sae_metrics(&sae, &x).unwrap().dead_fraction < 0.5);
    // without resampling they stay dead
    sae_no.b_enc = candle_core::Var::new(b.as_slice(), &Device::Cpu).unwrap();
    let rep = train_sae(&mut sae_no, &x, &SaeTrainConfig { resample_at: vec![], ..cfg }, None).unwrap();
    assert!(rep.resampled.is_empty());
    assert!(sae_metrics(&sae_no, &x).unwrap().dead_fraction >= 0.5);
}

#[test]
fn ce_loss_recovered_is_the_share_of_the_zero_ablation_gap_closed() {
    let m = tiny_model();
    let ids = Tensor::new(&[[1u32, 5, 7, 9, 11, 2, 3, 4]], &Device::Cpu).unwrap();
    let sae = Sae::new(SaeConfig::new("blocks.1.hook_mlp_out", 16, 32).unwrap(), Some(1.0), 1).unwrap();
    let (clean, spliced, zero, rec) = ce_loss_recovered(&m, &sae, &ids).unwrap();
    assert!(clean.is_finite() && spliced.is_finite() && zero.is_finite() && rec.is_finite());
    assert!((rec - (zero - spliced) / (zero - clean)).abs() < 1e-12);
}

#[test]
fn bad_input_is_a_typed_error() {
    let sae = Sae::load(dir("standard")).unwrap();
    let wrong = Tensor::zeros((3, 7), DType::F32, &Device::Cpu).unwrap();
    assert!(matches!(sae.forward(&wrong).map(|_| ()).and(sae.flatten(&wrong).map(|_| ())), Err(_)));
    assert!(matches!(sae.flatten(&wrong), Err(Error::Shape(_))));
    assert!(matches!(sae.ablate_features(&[10]), Err(Error::Shape(_))));
    assert!(matches!(SaeConfig::new("blocks.0.hook_resdi_pre", 6, 10), Err(Error::UnknownHook { .. })));
    assert!(matches!(SaeConfig::new("blocks.0.hook_resid_pre", 6, 0), Err(Error::ConfigField { field: "d_sae", .. })));
    let jump = r#"{"architecture": "jumprelu", "d_in": 6, "d_sae": 10, "metadata": {"hook_name": "blocks.0.hook_resid_pre"}}"#;
    assert!(matches!(SaeConfig::from_json(jump, "j.json"), Err(Error::Unsupported(_))));
    let norm = r#"{"d_in": 6, "d_sae": 10, "hook_name": "blocks.0.hook_resid_pre", "normalize_activations": "layer_norm"}"#;
    assert!(matches!(SaeConfig::from_json(norm, "n.json"), Err(Error::Unsupported(_))));
    let bad = Sae::from_tensors(sae.cfg.clone(), Tensor::zeros((6, 9), DType::F32, &Device::Cpu).unwrap(), sae.b_enc.as_tensor().clone(), sae.w_dec.as_tensor().clone(), sae.b_dec.as_tensor().clone());
    assert!(matches!(bad, Err(Error::TensorShape { .. })));
    let mut s = sae.clone();
    assert!(matches!(train_sae(&mut s, &wrong, &SaeTrainConfig::default(), None), Err(Error::Shape(_))));
    let empty = Tensor::zeros((0, 6), DType::F32, &Device::Cpu).unwrap();
    assert!(matches!(train_sae(&mut s, &empty, &SaeTrainConfig::default(), None), Err(Error::EmptyInput(_))));
    assert!(matches!(geometric_median(&empty, 10, 1e-9), Err(Error::EmptyInput(_))));
    let missing = common::scratch("sae-missing");
    std::fs::copy(dir("standard").join("cfg.json"), missing.join("cfg.json")).unwrap();
    candle_core::safetensors::save(&HashMap::from([("W_enc".to_string(), sae.w_enc.as_tensor().clone())]), missing.join("sae_weights.safetensors")).unwrap();
    assert!(matches!(Sae::load(&missing), Err(Error::MissingTensor { .. })));
}

#[test]
fn full_scale_hub_sae_is_a_typed_error_offline() {
    // the full-scale path (SAELens-format SAEs on the hub, e.g. jbloom/GPT2-Small-SAEs-Reformatted)
    // is real code; here, offline, it must fail with a hub error rather than panic or fake
    std::env::set_var("HF_HUB_OFFLINE", "1");
    let r = Sae::from_hub("jbloom/GPT2-Small-SAEs-Reformatted", "blocks.8.hook_resid_pre");
    assert!(matches!(r, Err(Error::Hub(_))), "{:?}", r.err());
}

#[test]
fn induction_score_of_uniform_attention_is_its_closed_form() {
    // zero query/key weights and biases: every head attends uniformly over the causal prefix,
    // so the score is the mean over second-copy positions q of 1/(q + 1), exactly
    let m = tiny_model();
    let c = m.config().n_embd;
    let flat = m
        .map_tensors(|name, t| {
            if name.ends_with("attn.c_attn.weight") || name.ends_with("attn.c_attn.bias") {
                let keep = Tensor::cat(&[Tensor::zeros(2 * c, DType::F32, &Device::Cpu)?, Tensor::ones(c, DType::F32, &Device::Cpu)?], 0)?;
                return Ok(t.broadcast_mul(&keep)?); // stored as (C, 3C) / (3C): q | k | v columns
            }
            Ok(t.clone())
        })
        .unwrap();
    let len = 6;
    let s = gpt2lab::interp::induction_scores(&flat, len, 3, 0, 50, 1).unwrap();
    let want: f32 = (len..2 * len).map(|q| 1.0 / (q as f32 + 1.0)).sum::<f32>() / len as f32;
    let got: Vec<Vec<f32>> = s.to_vec2().unwrap();
    assert_eq!((got.len(), got[0].len()), (2, 2));
    assert!(got.iter().flatten().all(|v| (v - want).abs() < 1e-5), "{got:?} vs {want}");
    assert!(matches!(gpt2lab::interp::induction_scores(&flat, 9, 1, 0, 50, 1), Err(Error::PromptTooLong { .. })));
    assert!(matches!(gpt2lab::interp::induction_scores(&flat, 1, 1, 0, 50, 1), Err(Error::EmptyInput(_))));
}
