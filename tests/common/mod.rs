#![allow(dead_code)]
use std::collections::HashMap;
use std::path::PathBuf;

use candle_core::{Device, Tensor};

pub fn fixture(case: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hf")
        .join(case)
}

pub fn expected(case: &str) -> HashMap<String, Tensor> {
    candle_core::safetensors::load(fixture(case).join("expected.safetensors"), &Device::Cpu)
        .expect("fixture")
}

pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims(), "shape mismatch");
    let a = a.to_dtype(candle_core::DType::F32).unwrap();
    let b = b.to_dtype(candle_core::DType::F32).unwrap();
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

pub fn ids_u32(t: &Tensor) -> Tensor {
    t.to_dtype(candle_core::DType::U32).unwrap()
}

/// A scratch directory under target/ (removed first).
pub fn scratch(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/test-scratch")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Whether a missing prerequisite (a data package, a GPU) fails the test instead of skipping
/// it: under `CI`, or with `var=1` (as `GPT2LAB_REQUIRE_NOTEBOOKS` for the notebook set-up).
pub fn prerequisite_required(var: &str) -> bool {
    ["CI", var]
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|s| !s.is_empty() && s != "0" && s != "false"))
}

/// Reports a missing prerequisite: a panic where it is required, else a visible `SKIPPED`
/// line (the caller then returns).
pub fn missing_prerequisite(var: &str, msg: &str) {
    if prerequisite_required(var) {
        panic!("{msg} (a failure under CI or {var}=1)");
    }
    eprintln!("SKIPPED: {msg}");
}

/// Parity of a loaded model with transformers' outputs saved in `expected.safetensors`
/// (scripts/make_fixtures.py, scripts/make_neo_fixtures.py): plain and hooked logits, every
/// hidden state and attention pattern, the final hidden state (after ln_f), greedy generation.
pub fn check_against_transformers(
    case: &str,
    model: &gpt2lab::model::Gpt2,
    exp: &HashMap<String, Tensor>,
    tol: f32,
) {
    use gpt2lab::generate::GenerateConfig;
    use gpt2lab::hooks::{HookPoint, Ln};
    let ids = ids_u32(&exp["input_ids"]);

    // plain forward (fused kernels)
    let logits = model.forward(&ids).unwrap();
    let d = max_abs_diff(&logits, &exp["logits"]);
    assert!(d < tol, "{case}: logits differ by {d}");

    // forward with every hook captured (composite LayerNorm path)
    let run = model.run_with_cache(&ids).unwrap();
    let d = max_abs_diff(&run.logits, &exp["logits"]);
    assert!(d < tol, "{case}: hooked logits differ by {d}");
    let hs = &exp["hidden_states"];
    let n = model.cfg.n_layer;
    for i in 0..n {
        let d = max_abs_diff(
            run.cache.get(HookPoint::ResidPre(i)).unwrap(),
            &hs.get(i).unwrap(),
        );
        assert!(d < tol, "{case}: hidden state {i} differs by {d}");
        let d = max_abs_diff(
            run.cache.get(HookPoint::Pattern(i)).unwrap(),
            &exp["attentions"].get(i).unwrap(),
        );
        assert!(d < tol, "{case}: attention pattern {i} differs by {d}");
    }
    // HF's last hidden state is after ln_f
    let normed = run.cache.get(HookPoint::LnNormalized(Ln::Final)).unwrap();
    let last = normed
        .broadcast_mul(&model.ln_f.weight)
        .unwrap()
        .broadcast_add(&model.ln_f.bias)
        .unwrap();
    let d = max_abs_diff(&last, &hs.get(n).unwrap());
    assert!(d < tol, "{case}: final hidden state differs by {d}");

    // greedy generation, token for token
    let prompt: Vec<u32> = ids_u32(&exp["greedy_prompt"])
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let want: Vec<u32> = ids_u32(&exp["greedy_tokens"])
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let got = model
        .generate(&prompt, &GenerateConfig::greedy(want.len() - prompt.len()))
        .unwrap();
    assert_eq!(
        &got[..],
        &want[prompt.len()..],
        "{case}: greedy generation differs"
    );
}
