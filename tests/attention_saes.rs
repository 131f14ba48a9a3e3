//! Attention-output SAEs (notebook 29): the released-SAE loader against a fixture in the
//! authors' layout (scripts/make_attention_saes_fixture.py: a torch state dict + `_cfg.json`,
//! reference outputs of their forward), DFA by source position summing to the pre-activation,
//! decoder-norm head fractions on a hand-made SAE, the IOI generator's layout, the ci pieces,
//! and the full path on a random-weight GPT-2-layout checkpoint.

use std::path::PathBuf;

use candle_core::{Device, Tensor};
use gpt2lab::data::ioi::ioi_prompts;
use gpt2lab::hooks::{HookPoint, HookSpec};
use gpt2lab::interp::sae::{decoder_head_fractions, dfa_by_source, Sae, SaeConfig};
use gpt2lab::model::{Gpt2, Gpt2Config};
use gpt2lab::papers::attention_saes::{self as ats, full};
use gpt2lab::Error;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/attention_saes")
}

const STEM: &str = "gpt2-small_L1_Hcat_z_lr1.20e-03_l11.00e+00_ds16_bs4096_dc1.00e-06_rsanthropic_rie25000_nr4_v9";

fn close(a: &[f32], b: &[f64], tol: f64) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (*x as f64 - y).abs() < tol)
}

#[test]
fn released_sae_layout_loads_and_matches_the_authors_forward() {
    let sae = full::load_kissane_sae(fixture(), STEM).unwrap();
    assert_eq!((sae.cfg.d_in, sae.cfg.d_sae), (8, 16));
    assert_eq!(sae.cfg.hook_name, "blocks.1.attn.hook_z");
    assert!(sae.cfg.reshape_hook_z && sae.cfg.apply_b_dec_to_input);
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixture().join("reference.json")).unwrap()).unwrap();
    let rows = |k: &str| -> Vec<Vec<f64>> { serde_json::from_value(r[k].clone()).unwrap() };
    let x = rows("x");
    let xt = Tensor::new(x.iter().map(|r| r.iter().map(|v| *v as f32).collect::<Vec<_>>()).collect::<Vec<_>>(), &Device::Cpu).unwrap();
    let (rec, f) = sae.forward(&xt).unwrap();
    let (f, rec): (Vec<Vec<f32>>, Vec<Vec<f32>>) = (f.to_vec2().unwrap(), rec.to_vec2().unwrap());
    for i in 0..x.len() {
        assert!(close(&f[i], &rows("acts")[i], 1e-4), "features of row {i}");
        assert!(close(&rec[i], &rows("x_reconstruct")[i], 1e-4), "reconstruction of row {i}");
    }
    // typed errors: a missing run, a config without the size keys
    assert!(matches!(full::load_kissane_sae(fixture(), "nope"), Err(Error::Io { .. })));
    assert!(full::kissane_config(r#"{"act_name": "blocks.1.attn.hook_z"}"#, "x").is_err());
    assert!(matches!(full::kissane_config(r#"{"act_name": "blocks.1.hook_resid_pre", "act_size": 8, "dict_size": 4}"#, "x"), Err(Error::Unsupported(_))));
    assert_eq!(full::kissane_config(r#"{"site": "z", "layer": 3, "act_size": 8, "dict_size": 4}"#, "x").unwrap().hook_name, "blocks.3.attn.hook_z");
}

#[test]
fn decoder_head_fractions_by_hand() {
    // 2 heads of 2: feature 0 lives on head 1 only; feature 1 has norms 3 and 4 → 3/7, 4/7
    let cfg = SaeConfig::new("blocks.0.attn.hook_z", 4, 2).unwrap();
    let w_dec = Tensor::new(&[[0f32, 0., 1., 0.], [3., 0., 0., 4.]], &Device::Cpu).unwrap();
    let sae = Sae::from_tensors(cfg, w_dec.t().unwrap().contiguous().unwrap(), Tensor::zeros(2, candle_core::DType::F32, &Device::Cpu).unwrap(), w_dec, Tensor::zeros(4, candle_core::DType::F32, &Device::Cpu).unwrap()).unwrap();
    let fr: Vec<Vec<f32>> = decoder_head_fractions(&sae, 2).unwrap().to_vec2().unwrap();
    assert!(close(&fr[0], &[0.0, 1.0], 1e-6));
    assert!(close(&fr[1], &[3.0 / 7.0, 4.0 / 7.0], 1e-6));
    assert!(decoder_head_fractions(&sae, 3).is_err());
}

#[test]
fn dfa_by_source_sums_to_the_pre_activation() {
    let model = Gpt2::random(Gpt2Config::tiny(40, 16, 16, 2, 4), 1, &Device::Cpu).unwrap();
    let cfg = SaeConfig::new("blocks.1.attn.hook_z", 16, 32).unwrap();
    let sae = Sae::new(cfg, Some(1.0), 3).unwrap();
    sae.b_dec.set(&Tensor::arange(0f32, 16., &Device::Cpu).unwrap().affine(0.01, -0.05).unwrap()).unwrap();
    sae.b_enc.set(&Tensor::arange(0f32, 32., &Device::Cpu).unwrap().affine(-0.01, 0.1).unwrap()).unwrap();
    let ids = Tensor::arange(0u32, 24, &Device::Cpu).unwrap().reshape((2, 12)).unwrap();
    let spec = HookSpec::new().capture(HookPoint::Z(1)).capture(HookPoint::V(1)).capture(HookPoint::Pattern(1));
    let run = model.run(&ids, &spec).unwrap();
    let z = run.cache.get("blocks.1.attn.hook_z").unwrap();
    let pre = sae.encode_pre(&sae.flatten(z).unwrap().0).unwrap().reshape((2, 12, 32)).unwrap();
    for feature in [0, 7, 31] {
        let d = dfa_by_source(&sae, run.cache.get("blocks.1.attn.hook_v").unwrap(), run.cache.get("blocks.1.attn.hook_pattern").unwrap(), feature).unwrap();
        assert_eq!(d.dims(), &[2, 12, 12]);
        let w = sae.w_enc.as_tensor().narrow(1, feature, 1).unwrap().squeeze(1).unwrap();
        let bias = sae.b_enc.as_tensor().get(feature).unwrap().to_scalar::<f32>().unwrap() - (sae.b_dec.as_tensor() * &w).unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap();
        let got: Vec<f32> = d.sum(2).unwrap().affine(1.0, bias as f64).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        let want: Vec<f32> = pre.narrow(2, feature, 1).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        let err = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(err < 1e-4, "feature {feature}: {err}");
        // causal: no contribution from later sources
        let v: Vec<Vec<Vec<f32>>> = d.to_vec3().unwrap();
        assert!(v.iter().all(|b| (0..12).all(|q| (q + 1..12).all(|s| b[q][s] == 0.0))));
    }
    let pat = run.cache.get("blocks.1.attn.hook_pattern").unwrap();
    assert!(dfa_by_source(&sae, pat, pat, 0).is_err());
    assert!(dfa_by_source(&sae, run.cache.get("blocks.1.attn.hook_v").unwrap(), run.cache.get("blocks.1.attn.hook_pattern").unwrap(), 99).is_err());
}

#[test]
fn feature_ablation_at_one_position_moves_only_that_position() {
    let model = Gpt2::random(Gpt2Config::tiny(40, 16, 16, 2, 4), 2, &Device::Cpu).unwrap();
    let sae = Sae::new(SaeConfig::new("blocks.0.attn.hook_z", 16, 32).unwrap(), Some(1.0), 0).unwrap();
    let ids = Tensor::arange(0u32, 20, &Device::Cpu).unwrap().reshape((2, 10)).unwrap();
    let spec = |i| HookSpec::new().capture(HookPoint::Z(0)).intervene(HookPoint::Z(0), i);
    let clean = model.run(&ids, &HookSpec::new().capture(HookPoint::Z(0))).unwrap().cache.get("blocks.0.attn.hook_z").unwrap().clone();
    let all: Vec<usize> = (0..32).collect();
    let out = model.run(&ids, &spec(ats::ablate_features_at(&sae, &all, 4, 10).unwrap())).unwrap().cache.get("blocks.0.attn.hook_z").unwrap().clone();
    let diff: Vec<Vec<f32>> = (out - clean).unwrap().abs().unwrap().sum(3).unwrap().sum(2).unwrap().to_vec2().unwrap();
    for row in &diff {
        for (t, d) in row.iter().enumerate() {
            assert_eq!(*d > 1e-6, t == 4, "position {t}: {d}");
        }
    }
    assert!(ats::ablate_features_at(&sae, &[0], 10, 10).is_err());
    assert!(ats::ablate_features_at(&sae, &[32], 0, 10).is_err());
}

#[test]
fn ci_data_and_probes_have_the_promised_layout() {
    let setup = ats::Setup::ci();
    let vocab = setup.ioi_vocab().unwrap();
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
    for _ in 0..50 {
        let (row, start, l) = ats::repeat_row(&setup, 33, &mut rng);
        assert_eq!(row[0], ats::BOS);
        assert!((start + l..33).all(|i| row[i] == row[i - l]));
        assert!(row[1..].iter().all(|&t| t >= setup.rand_lo && (t as usize) < setup.vocab_size));
    }
    let (x, y) = ats::training_batch(&setup, &vocab, 8, &mut rng).unwrap();
    assert_eq!(x.dims(), &[8, setup.ctx]);
    assert_eq!(x.narrow(1, 1, setup.ctx - 1).unwrap().to_vec2::<u32>().unwrap(), y.narrow(1, 0, setup.ctx - 1).unwrap().to_vec2::<u32>().unwrap());
    let p = ats::repeated_tokens(3, 5, 10, 20, 0, 1).unwrap().to_vec2::<u32>().unwrap();
    assert!(p.iter().all(|r| r.len() == 11 && r[0] == 0 && r[1..6] == r[6..11]));
    assert!(ats::repeated_tokens(3, 1, 10, 20, 0, 1).is_err());
    // layer 0 of the ci model is local, its window shorter than the rows' shortest period (6):
    // no layer-0 query sees the key one period back, so copying by position is ruled out there
    let w = setup.window0.unwrap();
    assert!(w < 6);
    let model = ats::untrained_model(&setup, 0).unwrap();
    let ids = Tensor::from_vec(ats::repeat_row(&setup, setup.ctx, &mut rng).0, (1, setup.ctx), &Device::Cpu).unwrap();
    let run = model.run(&ids, &HookSpec::new().capture(HookPoint::Pattern(0)).capture(HookPoint::Pattern(1))).unwrap();
    let p0: Vec<Vec<Vec<f32>>> = run.cache.get("blocks.0.attn.hook_pattern").unwrap().squeeze(0).unwrap().to_vec3().unwrap();
    assert!(p0.iter().all(|h| (0..setup.ctx).all(|q| (0..=q).all(|k| (h[q][k] > 0.0) == (q - k < w)))));
    let p1: Vec<Vec<Vec<f32>>> = run.cache.get("blocks.1.attn.hook_pattern").unwrap().squeeze(0).unwrap().to_vec3().unwrap();
    assert!(p1.iter().all(|h| (0..setup.ctx).all(|q| (0..=q).all(|k| h[q][k] > 0.0))));
    // every IOI prompt of a batch shares the S2 and end positions (both templates)
    let ps = ioi_prompts(40, 2);
    assert!(ps.iter().all(|q| q.s2_pos == ps[0].s2_pos && q.end_pos == ps[0].end_pos));
}

#[test]
fn full_path_on_a_random_gpt2_layout_checkpoint() {
    let dir = std::env::temp_dir().join(format!("gpt2lab-ats-full-{}", std::process::id()));
    Gpt2::random(Gpt2Config::tiny(50257, 64, 16, 2, 4), 0, &Device::Cpu).unwrap().save_pretrained(dir.join("gpt2")).unwrap();
    let model = Gpt2::from_dir(dir.join("gpt2")).unwrap();
    let tok = gpt2lab::tokenizer::Gpt2Tokenizer::gpt2().unwrap();
    // every IOI word is one GPT-2 token, as the full path needs
    for p in ioi_prompts(40, 0) {
        assert_eq!(p.gpt2_ids(&tok, true).unwrap().len(), p.words.len() + 1);
        p.gpt2_answer_ids(&tok).unwrap();
    }
    // a released-layout SAE on layer 1 of this checkpoint (d_in 16 = 4 heads × 4)
    let sae = Sae::new(SaeConfig::new("blocks.1.attn.hook_z", 16, 32).unwrap(), Some(1.0), 0).unwrap();
    let (row, ind) = full::full_analysis(&model, &sae, &tok, 8, 4, 6, 2, 0).unwrap();
    assert_eq!(ind.scores.len(), 4);
    for k in ["induction_score_top", "dfa_peak_fraction", "ioi_logit_diff", "ioi_logit_diff_top_ablated", "ioi_logit_diff_random_ablated"] {
        assert!(row.get(k).unwrap().is_finite(), "{k}");
    }
    assert_eq!(full::RUNS.len(), 12);
    assert!(full::RUNS[full::LAYER].contains("_L5_"));
    let _ = std::fs::remove_dir_all(&dir);
}
