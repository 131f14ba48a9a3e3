//! candle's CUDA backend (`--features cuda`, `scripts/cuda_check.sh --test`): the model on the
//! GPU gives the CPU's logits and hook captures, generation agrees, and training steps run
//! there through the composite ops (the fused kernels are CPU-only) and track the CPU's
//! losses. Without a GPU the tests say so and pass, unless `CI` or `GPT2LAB_REQUIRE_CUDA=1` is set.
#![cfg(feature = "cuda")]

mod common;
use common::max_abs_diff;

use candle_core::{DType, Device, Tensor};
use gpt2lab::hooks::HookSpec;
use gpt2lab::model::{ForwardOpts, Gpt2, Gpt2Config};
use gpt2lab::train::{AdamW, AdamWConfig, LrSchedule, TrainConfig, Trainer};

fn gpu() -> Option<Device> {
    match Device::new_cuda(0) {
        Ok(d) => Some(d),
        Err(e) => {
            common::missing_prerequisite("GPT2LAB_REQUIRE_CUDA", &format!("no CUDA device ({e})"));
            None
        }
    }
}

fn ids(dev: &Device) -> Tensor {
    let v: Vec<u32> = (0..2 * 40).map(|i| (i * 37 % 97) as u32).collect();
    Tensor::from_vec(v, (2, 40), dev).unwrap()
}

#[test]
fn gpu_forward_matches_cpu() {
    let Some(gpu) = gpu() else { return };
    let cpu_model = Gpt2::random(Gpt2Config::tiny(97, 64, 64, 3, 4), 1, &Device::Cpu).unwrap();
    let gpu_model = cpu_model.to_device(&gpu).unwrap();
    let a = cpu_model.forward(&ids(&Device::Cpu)).unwrap();
    let b = gpu_model.forward(&ids(&gpu)).unwrap().to_device(&Device::Cpu).unwrap();
    let d = max_abs_diff(&a.to_dtype(DType::F64).unwrap(), &b.to_dtype(DType::F64).unwrap());
    assert!(d < 1e-4, "max |Δlogits| {d}");
    // hook captures come back from the GPU too
    let spec = HookSpec::new().capture("blocks.1.attn.hook_pattern");
    let run = gpu_model.run_with(&ids(&gpu), &spec, ForwardOpts::default(), None).unwrap();
    let p = run.cache.get("blocks.1.attn.hook_pattern").unwrap().to_device(&Device::Cpu).unwrap();
    let rows = p.sum_keepdim(3).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert!(rows.iter().all(|s| (s - 1.0).abs() < 1e-4));
}

#[test]
fn gpu_training_tracks_cpu() {
    let Some(gpu) = gpu() else { return };
    let model = Gpt2::random(Gpt2Config::tiny(97, 64, 64, 2, 4), 2, &Device::Cpu).unwrap();
    let tc = TrainConfig { schedule: LrSchedule::Constant { lr: 1e-3 }, progress: false, ..Default::default() };
    let mut losses = vec![];
    for dev in [Device::Cpu, gpu] {
        let m = model.to_device(&dev).unwrap();
        let mut tr = Trainer::new(&m, Box::new(AdamW::new(AdamWConfig::default())), tc.clone()).unwrap();
        let x = ids(&dev);
        let y = Tensor::cat(&[&x.narrow(1, 1, 39).unwrap(), &x.narrow(1, 0, 1).unwrap()], 1).unwrap();
        let l: Vec<f64> = (0..5).map(|_| tr.train_step(&[(x.clone(), y.clone())]).unwrap().loss).collect();
        losses.push(l);
    }
    for (c, g) in losses[0].iter().zip(&losses[1]) {
        assert!((c - g).abs() < 1e-3, "cpu {:?} vs gpu {:?}", losses[0], losses[1]);
    }
    assert!(losses[1][4] < losses[1][0], "the GPU run learns: {:?}", losses[1]);
}

/// GPT-2 124M's shapes at 1,024 rows (B = 8, T = 128). On the H200 of 2026-12-04 (candle 0.11.1,
/// cudarc 0.19 on CUDA 13.0) every forward of ≥ 1,024 rows faulted (illegal address inside
/// cuBLAS's sgemm under compute-sanitizer, or a device-side assert in `index_select` on the
/// next forward) while 512 rows ran and matched PyTorch, and 8 × 1,024-row training steps gave
/// wrong losses without an error (README, Benchmarks, GPU). The cause: forwards ran on a rayon
/// worker's per-thread CUDA stream (`runtime::with_pool_for` fixed it; this test then passed on
/// the H200). It pins the case: the GPU forward's logits against the CPU's, twice (a buffer
/// corrupted by the first shows in the second), at the shape that failed.
#[test]
fn gpu_forward_matches_cpu_at_gpt2_shapes_1024_rows() {
    let Some(gpu) = gpu() else { return };
    let cpu_model = Gpt2::random(Gpt2Config::gpt2(), 3, &Device::Cpu).unwrap();
    let gpu_model = cpu_model.to_device(&gpu).unwrap();
    let v: Vec<u32> = (0..8 * 128).map(|i| ((i * 7919 + 17) % 50257) as u32).collect();
    let ids_cpu = Tensor::from_vec(v, (8, 128), &Device::Cpu).unwrap();
    let a = cpu_model.forward(&ids_cpu).unwrap();
    let last = |t: &Tensor| t.narrow(1, 127, 1).unwrap().to_device(&Device::Cpu).unwrap().to_dtype(DType::F64).unwrap();
    for rep in 0..2 {
        let b = gpu_model.forward(&ids_cpu.to_device(&gpu).unwrap()).unwrap();
        let d = max_abs_diff(&last(&a), &last(&b));
        assert!(d < 1e-3, "forward {rep}: max |Δlogits| at the last position {d}");
    }
}
