#![allow(dead_code)]
use std::collections::HashMap;
use std::path::PathBuf;

use candle_core::{Device, Tensor};

pub fn fixture(case: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hf").join(case)
}

pub fn expected(case: &str) -> HashMap<String, Tensor> {
    candle_core::safetensors::load(fixture(case).join("expected.safetensors"), &Device::Cpu).expect("fixture")
}

pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims(), "shape mismatch");
    let a = a.to_dtype(candle_core::DType::F32).unwrap();
    let b = b.to_dtype(candle_core::DType::F32).unwrap();
    (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap()
}

pub fn ids_u32(t: &Tensor) -> Tensor {
    t.to_dtype(candle_core::DType::U32).unwrap()
}

/// A scratch directory under target/ (removed first).
pub fn scratch(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-scratch").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Whether a missing prerequisite (a data package, a GPU) fails the test instead of skipping
/// it: under `CI`, or with `var=1` (as `GPT2LAB_REQUIRE_NOTEBOOKS` for the notebook set-up).
pub fn prerequisite_required(var: &str) -> bool {
    ["CI", var].iter().any(|v| std::env::var(v).is_ok_and(|s| !s.is_empty() && s != "0" && s != "false"))
}

/// Reports a missing prerequisite: a panic where it is required, else a visible `SKIPPED`
/// line (the caller then returns).
pub fn missing_prerequisite(var: &str, msg: &str) {
    if prerequisite_required(var) {
        panic!("{msg} (a failure under CI or {var}=1)");
    }
    eprintln!("SKIPPED: {msg}");
}
