//! candle's CUDA backend (`--features cuda`, `scripts/cuda_check.sh --test`): the model on the
//! GPU gives the CPU's logits and hook captures, gpt2lab's fused CUDA kernels give the CPU
//! kernels' values and gradients (f32, and bf16 within its precision), and training steps
//! (fused AdamW on the device) track the CPU's losses. Without a GPU the tests say so and pass, unless `CI` or `GPT2LAB_REQUIRE_CUDA=1` is set.
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

/// Values and input gradients of `sum(f(inputs) ⊙ r)` on `dev`, inputs given on the CPU.
fn value_and_grads(dev: &Device, dtype: DType, inputs: &[Tensor], f: &dyn Fn(&[Tensor]) -> Tensor) -> (Tensor, Vec<Tensor>) {
    let vars: Vec<candle_core::Var> = inputs.iter().map(|t| candle_core::Var::from_tensor(&t.to_dtype(dtype).unwrap().to_device(dev).unwrap()).unwrap()).collect();
    let ts: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
    let y = f(&ts);
    // the same weights on every device: a fixed pattern in [-1, 1)
    let n = y.elem_count();
    let r = Tensor::from_vec((0..n).map(|i| ((i * 7919 % 1000) as f32) / 500.0 - 1.0).collect::<Vec<_>>(), y.shape(), &Device::Cpu).unwrap();
    let obj = (y.to_dtype(DType::F32).unwrap() * r.to_device(dev).unwrap()).unwrap().sum_all().unwrap();
    let g = obj.backward().unwrap();
    let grads = vars.iter().map(|v| g.get(v.as_tensor()).expect("gradient reaches every input").to_device(&Device::Cpu).unwrap().to_dtype(DType::F32).unwrap()).collect();
    (y.to_device(&Device::Cpu).unwrap().to_dtype(DType::F32).unwrap(), grads)
}

/// Every fused kernel on the GPU (f32 and bf16) against the CPU kernels, forward and backward.
#[test]
fn gpu_fused_kernels_match_cpu() {
    use gpt2lab::model::{fused_attention, fused_embedding, kernels, ops, xent};
    let Some(gpu) = gpu() else { return };
    let rnd = |shape: &[usize], s: f32| (Tensor::randn(0f32, 1f32, shape, &Device::Cpu).unwrap() * s as f64).unwrap();
    // causal (1, 1, T, T) and a per-batch mask whose batch 1 hides query 0's own key (a padding row)
    let t = 40;
    let causal: Vec<f32> = (0..t * t).map(|i| if i % t > i / t { -1e9 } else { 0.0 }).collect();
    let causal = Tensor::from_vec(causal.clone(), (1, 1, t, t), &Device::Cpu).unwrap();
    let mut pad: Vec<f32> = causal.flatten_all().unwrap().to_vec1().unwrap();
    pad.extend(pad.clone());
    for k in 0..t {
        pad[t * t + k] = -1e9;
    }
    let pad = Tensor::from_vec(pad, (2, 1, t, t), &Device::Cpu).unwrap();
    // rows longer than a warp's 1,024 take the block-per-row kernels: query q sees keys ≤ 1097 + q
    let wide: Vec<f32> = (0..3 * 1100).map(|i| if i % 1100 > 1097 + i / 1100 { -1e9 } else { 0.0 }).collect();
    let wide = Tensor::from_vec(wide, (1, 1, 3, 1100), &Device::Cpu).unwrap();
    // ids with repeats (and rows 45..50 never looked up: zero gradient)
    let emb_ids = Tensor::from_vec((0..300u32).map(|i| i * 7 % 45).collect::<Vec<_>>(), 300, &Device::Cpu).unwrap();
    let targets: Vec<u32> = (0..37).map(|i| (i * 131 % 1000) as u32).collect();
    let targets = Tensor::from_vec(targets, 37, &Device::Cpu).unwrap();
    type Case<'a> = (&'a str, Vec<Tensor>, Box<dyn Fn(&[Tensor]) -> Tensor + 'a>);
    let cases: Vec<Case> = vec![
        ("softmax 300", vec![rnd(&[4, 7, 300], 3.0)], Box::new(|x| ops::softmax_last(&x[0]).unwrap())),
        ("softmax 5000", vec![rnd(&[3, 5000], 3.0)], Box::new(|x| ops::softmax_last(&x[0]).unwrap())),
        ("layer norm 768", vec![rnd(&[6, 33, 768], 2.0), rnd(&[768], 1.0), rnd(&[768], 1.0)], Box::new(|x| ops::layer_norm(&x[0], &x[1], &x[2], 1e-5).unwrap())),
        ("layer norm, 600 rows", vec![rnd(&[4, 150, 96], 2.0), rnd(&[96], 1.0), rnd(&[96], 1.0)], Box::new(|x| ops::layer_norm(&x[0], &x[1], &x[2], 1e-5).unwrap())),
        ("gelu", vec![rnd(&[1000, 3], 3.0)], Box::new(|x| kernels::gelu_new(&x[0]).unwrap().unwrap())),
        ("bias add", vec![rnd(&[700, 70], 1.0), rnd(&[70], 1.0)], Box::new(|x| kernels::bias_add(&x[0], &x[1]).unwrap().unwrap())),
        ("masked softmax, causal", vec![rnd(&[2, 3, t, t], 3.0)], Box::new(|x| kernels::masked_softmax_last(&x[0], &causal.to_device(x[0].device()).unwrap().to_dtype(x[0].dtype()).unwrap()).unwrap().unwrap())),
        ("masked softmax, padding", vec![rnd(&[2, 3, t, t], 3.0)], Box::new(|x| kernels::masked_softmax_last(&x[0], &pad.to_device(x[0].device()).unwrap().to_dtype(x[0].dtype()).unwrap()).unwrap().unwrap())),
        ("masked softmax, 1100 keys", vec![rnd(&[1, 2, 3, 1100], 3.0)], Box::new(|x| kernels::masked_softmax_last(&x[0], &wide.to_device(x[0].device()).unwrap().to_dtype(x[0].dtype()).unwrap()).unwrap().unwrap())),
        ("softmax 1024", vec![rnd(&[5, 1024], 3.0)], Box::new(|x| ops::softmax_last(&x[0]).unwrap())),
        ("softmax 1", vec![rnd(&[9, 1], 3.0)], Box::new(|x| ops::softmax_last(&x[0]).unwrap())),
        ("embedding, 300 ids of 50 rows", vec![rnd(&[50, 64], 1.0)], Box::new(|x| fused_embedding::lookup(&x[0], &emb_ids.to_device(x[0].device()).unwrap()).unwrap())),
        ("embedding, width 1000", vec![rnd(&[50, 1000], 1.0)], Box::new(|x| fused_embedding::lookup(&x[0], &emb_ids.to_device(x[0].device()).unwrap()).unwrap())),
        ("split heads of a column slice", vec![rnd(&[2, 5, 72], 1.0)], Box::new(|x| {
            let s = x[0].narrow(2, 24, 24).unwrap();
            fused_attention::split_heads(&s, 4, 0.125).unwrap().unwrap_or_else(|| s.reshape((2, 5, 4, 6)).unwrap().transpose(1, 2).unwrap().affine(0.125, 0.0).unwrap())
        })),
        ("split heads, one position", vec![rnd(&[3, 1, 72], 1.0)], Box::new(|x| {
            let s = x[0].narrow(2, 48, 24).unwrap();
            fused_attention::split_heads(&s, 4, 1.0).unwrap().unwrap_or_else(|| s.reshape((3, 1, 4, 6)).unwrap().transpose(1, 2).unwrap().contiguous().unwrap())
        })),
        ("merge heads", vec![rnd(&[2, 4, 5, 6], 1.0)], Box::new(|x| fused_attention::merge_heads(&x[0]).unwrap().unwrap_or_else(|| x[0].transpose(1, 2).unwrap().contiguous().unwrap().reshape((2, 5, 24)).unwrap()))),
        ("cross-entropy over 1000 of 1024 columns", vec![rnd(&[37, 1024], 3.0)], Box::new(|x| {
            let t = targets.to_device(x[0].device()).unwrap();
            let l = xent::cross_entropy_padded(&x[0], 1000, &t).unwrap().unwrap_or_else(|| ops::cross_entropy(&x[0].narrow(1, 0, 1000).unwrap(), &t).unwrap());
            l.reshape(1).unwrap()
        })),
        ("cross-entropy", vec![rnd(&[37, 1000], 3.0)], Box::new(|x| ops::cross_entropy(&x[0], &targets.to_device(x[0].device()).unwrap()).unwrap().reshape(1).unwrap())),
    ];
    for (what, inputs, f) in &cases {
        let (y_cpu, g_cpu) = value_and_grads(&Device::Cpu, DType::F32, inputs, f.as_ref());
        for (dtype, tol) in [(DType::F32, 1e-4f32), (DType::BF16, 6e-2)] {
            let (y, g) = value_and_grads(&gpu, dtype, inputs, f.as_ref());
            let scale = |t: &Tensor| t.abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap().max(1.0);
            let d = max_abs_diff(&y_cpu, &y);
            assert!(d <= tol * scale(&y_cpu), "{what} {dtype:?}: max |Δ| {d} in the values");
            for (i, (a, b)) in g_cpu.iter().zip(&g).enumerate() {
                let d = max_abs_diff(a, b);
                assert!(d <= tol * scale(a), "{what} {dtype:?}: max |Δ| {d} in the gradient of input {i} (max {})", scale(a));
            }
        }
    }
}

/// The fused kernels also run where no gradient is tracked (inference on bf16 weights).
#[test]
fn gpu_bf16_forward_tracks_cpu() {
    let Some(gpu) = gpu() else { return };
    let cpu_model = Gpt2::random(Gpt2Config::tiny(97, 64, 64, 3, 4), 1, &Device::Cpu).unwrap();
    let gpu_model = cpu_model.to_device(&gpu).unwrap().to_dtype(DType::BF16).unwrap();
    let a = cpu_model.forward(&ids(&Device::Cpu)).unwrap();
    let b = gpu_model.forward(&ids(&gpu)).unwrap().to_device(&Device::Cpu).unwrap();
    let d = max_abs_diff(&a, &b);
    assert!(d < 0.1, "max |Δlogits| bf16 vs f32 {d}");
}

/// The global gradient norm from the GPU's partial-sum kernel (f32 and bf16 gradients, sizes
/// around a block's multiple) against Σ g² in f64 on the host.
#[test]
fn gpu_grad_norm_matches_cpu() {
    use candle_core::Var;
    use gpt2lab::train::{grad_norm, Param};
    let Some(gpu) = gpu() else { return };
    let sizes = [1usize, 255, 256, 4097, 70_000, 1_000_003];
    for dtype in [DType::F32, DType::BF16] {
        let params: Vec<Param> = sizes.iter().enumerate().map(|(i, &n)| Param { name: format!("p{i}"), var: Var::zeros(n, dtype, &gpu).unwrap(), decay: false }).collect();
        let mut obj = Tensor::zeros((), DType::F32, &gpu).unwrap();
        let mut want = 0f64;
        for (i, p) in params.iter().enumerate() {
            let n = sizes[i];
            let r: Vec<f32> = (0..n).map(|j| ((j * 7919 + i * 13) % 1000) as f32 / 250.0 - 2.0).collect();
            let r = Tensor::from_vec(r, n, &Device::Cpu).unwrap().to_dtype(dtype).unwrap(); // the gradient of p
            want += r.to_dtype(DType::F64).unwrap().sqr().unwrap().sum_all().unwrap().to_scalar::<f64>().unwrap();
            let term = (p.var.as_tensor() * r.to_device(&gpu).unwrap()).unwrap().to_dtype(DType::F32).unwrap().sum_all().unwrap();
            obj = (obj + term).unwrap();
        }
        let got = grad_norm(&params, &obj.backward().unwrap()).unwrap();
        let want = want.sqrt();
        assert!((got - want).abs() / want < 1e-5, "{dtype:?}: gpu {got} vs f64 {want}");
    }
}
