//! With the `cuda` feature: compiles `src/model/cuda/kernels.cu` to PTX with nvcc (the
//! toolkit candle's own kernels already need; `scripts/cuda_check.sh` provides one), embedded
//! by `src/model/cuda_kernels.rs`. Without it: nothing.
use std::{env, path::PathBuf, process::Command};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/model/cuda/kernels.cu");
    println!("cargo:rerun-if-env-changed=CUDA_COMPUTE_CAP");
    println!("cargo:rerun-if-env-changed=NVCC");
    if env::var_os("CARGO_FEATURE_CUDA").is_none() {
        return;
    }
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("gpt2lab_kernels.ptx");
    let nvcc = env::var("NVCC").unwrap_or_else(|_| "nvcc".into());
    // PTX for the oldest architecture asked for; the driver JIT-compiles it for newer GPUs.
    let cap = env::var("CUDA_COMPUTE_CAP").unwrap_or_else(|_| "80".into());
    let cap: String = cap.chars().filter(|c| c.is_ascii_digit()).collect();
    let status = Command::new(&nvcc)
        .args(["--ptx", "-O3", "-std=c++17", &format!("-arch=compute_{cap}"), "-o"])
        .arg(&out)
        .arg("src/model/cuda/kernels.cu")
        .status()
        .unwrap_or_else(|e| panic!("gpt2lab's CUDA kernels need nvcc ({nvcc}): {e}; scripts/cuda_check.sh provides one"));
    assert!(status.success(), "nvcc failed on src/model/cuda/kernels.cu ({status})");
}
