//! Parity with Hugging Face transformers (eager attention) on random-weight HF checkpoints
//! made by scripts/make_fixtures.py: logits, every hidden state, every attention pattern,
//! greedy generation, left-padded batches.

mod common;
use common::*;

use candle_core::Tensor;
use gpt2lab::hooks::HookSpec;
use gpt2lab::model::{ForwardOpts, Gpt2};

const TOL: f32 = 1e-4;
const CASES: &[&str] = &["prefixed", "bare", "erf_invidx", "f16", "sharded", "noscale"];

fn check_case(case: &str) {
    let model = Gpt2::from_dir(fixture(case)).unwrap_or_else(|e| panic!("{case}: {e}"));
    check_against_transformers(case, &model, &expected(case), TOL);
}

#[test]
fn prefixed_keys() {
    check_case("prefixed");
}
#[test]
fn bare_keys() {
    check_case("bare");
}
#[test]
fn erf_gelu_inverse_layer_idx_n_inner() {
    check_case("erf_invidx");
}
#[test]
fn f16_weights_upcast() {
    check_case("f16");
}
#[test]
fn sharded_checkpoint() {
    check_case("sharded");
}
#[test]
fn unscaled_attention_reorder_upcast() {
    check_case("noscale");
}

#[test]
fn all_cases_present() {
    for c in CASES {
        assert!(fixture(c).join("config.json").exists(), "missing fixture {c}");
    }
}

#[test]
fn left_padded_batch_matches_hf() {
    let model = Gpt2::from_dir(fixture("prefixed")).unwrap();
    let exp = expected("prefixed");
    let ids = ids_u32(&exp["padded_input_ids"]);
    let mask = &exp["padded_attention_mask"];
    let run = model.run_with(&ids, &HookSpec::new(), ForwardOpts { attention_mask: Some(mask), last_only: false }, None).unwrap();
    let want = &exp["padded_logits"];
    // compare only real (unpadded) positions
    let m: Vec<Vec<i64>> = mask.to_vec2().unwrap();
    for (r, row) in m.iter().enumerate() {
        for (p, &v) in row.iter().enumerate() {
            if v == 1 {
                let a = run.logits.get(r).unwrap().get(p).unwrap();
                let b = want.get(r).unwrap().get(p).unwrap();
                let d = max_abs_diff(&a, &b);
                assert!(d < TOL, "row {r} pos {p}: {d}");
            }
        }
    }
}

#[test]
fn save_pretrained_round_trips() {
    let model = Gpt2::from_dir(fixture("bare")).unwrap();
    let dir = scratch("save_round_trip");
    model.save_pretrained(&dir).unwrap();
    let again = Gpt2::from_dir(&dir).unwrap();
    let ids = Tensor::new(&[[1u32, 5, 9, 300]], &candle_core::Device::Cpu).unwrap();
    assert_eq!(max_abs_diff(&model.forward(&ids).unwrap(), &again.forward(&ids).unwrap()), 0.0);
    // written HF-style: prefixed keys, format metadata, no temp files left behind
    let raw = std::fs::read(dir.join("model.safetensors")).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&raw).unwrap();
    assert_eq!(meta.metadata().as_ref().unwrap().get("format").map(String::as_str), Some("pt"));
    assert!(meta.tensors().keys().all(|k| k.starts_with("transformer.")));
    let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().filter_map(|e| e.ok()).filter(|e| e.file_name().to_string_lossy().contains(".tmp")).collect();
    assert!(leftovers.is_empty());
}
