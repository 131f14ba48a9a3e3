//! GPT-Neo (the TinyStories models' architecture) loaded as a `Gpt2`: parity with transformers'
//! `GPTNeoForCausalLM` (eager attention) on random checkpoints made by
//! scripts/make_neo_fixtures.py — logits, every hidden state, every attention pattern (the local
//! layers' window included: it is shorter than the prompt), greedy generation on the KV cache
//! (past the window), a batched sweep and a save/load round trip.

mod common;
use common::*;

use std::collections::HashMap;
use std::path::PathBuf;

use candle_core::{Device, Tensor};
use gpt2lab::interp::{activation_patching, activation_patching_naive, LogitDiff, PatchSite};
use gpt2lab::model::Gpt2;
use gpt2lab::Error;

const TOL: f32 = 1e-4;

fn neo_fixture(case: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gpt_neo").join(case)
}

fn neo_expected(case: &str) -> HashMap<String, Tensor> {
    candle_core::safetensors::load(neo_fixture(case).join("expected.safetensors"), &Device::Cpu).expect("fixture")
}

fn check_case(case: &str) {
    // from_dir recognises model_type gpt_neo
    let model = Gpt2::from_dir(neo_fixture(case)).unwrap_or_else(|e| panic!("{case}: {e}"));
    assert!(model.cfg.attention_windows.iter().any(|w| w.is_some()), "{case}: no local layer");
    check_against_transformers(case, &model, &neo_expected(case), TOL);
}

#[test]
fn tiny_global_local_matches_transformers() {
    check_case("tiny");
}

#[test]
fn local_first_with_gelu_and_explicit_mlp_width_matches_transformers() {
    check_case("local_first");
}

#[test]
fn the_window_changes_the_output_so_the_fixture_tests_it() {
    // Negative control: the same weights with every layer global give different logits.
    let model = Gpt2::from_dir(neo_fixture("tiny")).unwrap();
    let exp = neo_expected("tiny");
    let mut cfg = model.cfg.clone();
    cfg.attention_windows = vec![];
    let global = Gpt2::from_tensors(cfg, &model.named_tensors().into_iter().collect()).unwrap();
    let d = max_abs_diff(&global.forward(&ids_u32(&exp["input_ids"])).unwrap(), &exp["logits"]);
    assert!(d > 1e-2, "windows made no difference ({d})");
}

#[test]
fn save_and_reload_keeps_the_windows_and_the_logits() {
    let model = Gpt2::from_dir(neo_fixture("tiny")).unwrap();
    let dir = scratch("gpt_neo_roundtrip");
    model.save_pretrained(&dir).unwrap();
    let back = Gpt2::from_dir(&dir).unwrap();
    assert_eq!(back.cfg.attention_windows, model.cfg.attention_windows);
    let ids = ids_u32(&neo_expected("tiny")["input_ids"]);
    assert!(max_abs_diff(&back.forward(&ids).unwrap(), &model.forward(&ids).unwrap()) < 1e-6);
}

#[test]
fn the_patching_sweep_resumes_correctly_through_local_layers() {
    let model = Gpt2::from_dir(neo_fixture("tiny")).unwrap();
    let ids: Vec<u32> = ids_u32(&neo_expected("tiny")["input_ids"]).get(0).unwrap().to_vec1().unwrap();
    let mut corrupt = ids.clone();
    corrupt[2] = (corrupt[2] + 1) % 500;
    let (c, k) = (Tensor::new(ids.as_slice(), &Device::Cpu).unwrap(), Tensor::new(corrupt.as_slice(), &Device::Cpu).unwrap());
    let m = LogitDiff::new(ids[2], corrupt[2]);
    for site in [PatchSite::ResidPre, PatchSite::MlpOut] {
        let d = activation_patching(&model, &c, &k, site, m).unwrap().max_abs_diff(&activation_patching_naive(&model, &c, &k, site, m).unwrap()).unwrap();
        assert!(d < 1e-4, "{site:?}: {d}");
    }
}

#[test]
fn a_config_whose_layer_pattern_disagrees_with_num_layers_is_a_typed_error() {
    let dir = scratch("gpt_neo_bad_config");
    for f in ["model.safetensors", "config.json"] {
        std::fs::copy(neo_fixture("tiny").join(f), dir.join(f)).unwrap();
    }
    let cfg = std::fs::read_to_string(dir.join("config.json")).unwrap().replace("\"num_layers\": 2", "\"num_layers\": 3");
    std::fs::write(dir.join("config.json"), cfg).unwrap();
    match Gpt2::from_dir(&dir) {
        Err(Error::ConfigField { field: "attention_types", .. }) => {}
        other => panic!("expected a config error, got {:?}", other.map(|_| ())),
    }
}
