//! Benchmark workloads 1 (prefill) and 3 (124M training step) on one device, gpt2lab's side
//! of `scripts/gpu_bench.py`, which runs PyTorch beside it on the same checkpoint and the
//! same token ids and writes the table (README, Benchmarks, GPU).
//!
//! ```text
//! gpu_bench save DIR                         # random GPT-2 124M (seed 0) in HF layout
//! gpu_bench run --ckpt DIR --out FILE.jsonl [--device cuda|cpu] [--quick] [--dump DIR]
//!                [--only prefill:f32:8x128,train:bf16:4x128] [--reps N] [--warm N] [--breakdown]
//! gpu_bench probe --op NAME --b B --t T [--device cuda|cpu]   # one op of the forward, synchronised
//! gpu_bench ops [--b B --t T] [--device cuda|cpu]             # per-op times of a training step's parts
//! ```
//!
//! `scripts/gpu_bench.py` runs each configuration in its own process (`--only`): a CUDA
//! fault poisons the process's context, and one bad configuration should not take the others.
//!
//! Precisions, as PyTorch users run them: `f32` (cuBLAS in full f32, TF32 off), `tf32`
//! (f32 tensors, TF32 tensor-core matmuls), `bf16`: inference on bf16 weights; training as
//! `torch.autocast` does it, f32 master weights and optimizer state, each step's forward on a
//! bf16 cast of them (the cast is differentiable, so the gradients land on the f32 weights),
//! the loss in f32 arithmetic (on the bf16 logits, with no f32 copy of them). Timing: the
//! device is synchronised before and after each rep (one forward, or one whole optimizer step including the loss read-back), median of the reps
//! after warm-up; the same protocol as the Python side. One JSON line per measurement; a
//! failing configuration prints an `error` line and the run goes on.
//!
//! Build for the GPU with `scripts/cuda_check.sh --device` (the flags that make a binary that
//! runs on another machine's GPU).

use std::io::Write;
use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use gpt2lab::model::Gpt2;
use gpt2lab::train::{clip_grad_norm, AdamW, AdamWConfig, Optimizer, TrainableGpt2};

type Res<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Token ids both sides generate: position-dependent, deterministic, covering the vocabulary.
fn ids(b: usize, t: usize, salt: usize, vocab: usize, dev: &Device) -> Res<Tensor> {
    let v: Vec<u32> = (0..b * t).map(|i| ((i / t * 1_000_003 + (i % t) * 7919 + salt * 104_729 + 17) % vocab) as u32).collect();
    Ok(Tensor::from_vec(v, (b, t), dev)?)
}

fn set_tf32(on: bool) {
    #[cfg(feature = "cuda")]
    candle_core::cuda_backend::set_gemm_reduced_precision_f32(on);
    #[cfg(not(feature = "cuda"))]
    let _ = on;
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { 0.5 * (v[n / 2 - 1] + v[n / 2]) }
}

struct Out {
    file: std::fs::File,
}
impl Out {
    fn line(&mut self, v: serde_json::Value) -> Res<()> {
        println!("{v}");
        writeln!(self.file, "{v}")?;
        self.file.flush()?;
        Ok(())
    }
}

fn prefill(model: &Gpt2, dev: &Device, prec: &str, b: usize, t: usize, reps: usize, dump: Option<&str>) -> Res<serde_json::Value> {
    set_tf32(prec == "tf32");
    let m = if prec == "bf16" { model.to_dtype(DType::BF16)? } else { model.clone() };
    let x = ids(b, t, 0, model.config().vocab_size, dev)?;
    for _ in 0..3 {
        m.forward(&x)?;
    }
    dev.synchronize()?;
    let mut ms = vec![];
    let mut logits = None;
    for _ in 0..reps {
        dev.synchronize()?;
        let t0 = Instant::now();
        let l = m.forward(&x)?;
        dev.synchronize()?;
        ms.push(t0.elapsed().as_secs_f64() * 1e3);
        logits = Some(l);
    }
    if let (Some(dir), Some(l)) = (dump, logits) {
        // the last position's logits, in f32, for the numerics column
        let last = l.narrow(1, t - 1, 1)?.squeeze(1)?.to_dtype(DType::F32)?.to_device(&Device::Cpu)?;
        candle_core::safetensors::save(&[("logits", last)].into_iter().collect(), format!("{dir}/rust_prefill_{prec}_{b}x{t}.safetensors"))?;
    }
    Ok(serde_json::json!({"side": "gpt2lab", "workload": "prefill", "prec": prec, "b": b, "t": t, "ms": median(ms.clone()), "reps": ms}))
}

fn train(model: &Gpt2, dev: &Device, prec: &str, b: usize, t: usize, steps: usize, warm: usize, breakdown: bool) -> Res<serde_json::Value> {
    set_tf32(prec == "tf32");
    let tg = TrainableGpt2::new(model)?;
    let mut opt = AdamW::new(AdamWConfig { lr: 1e-3, ..AdamWConfig::default() });
    let vocab = model.config().vocab_size;
    let (mut ms, mut losses) = (vec![], vec![]);
    // --breakdown: the device synchronised after the forward + loss and after the backward too,
    // so each step also reports (forward, backward, clip + optimizer) milliseconds
    let mut parts: Vec<[f64; 3]> = vec![];
    let lap = |t: &mut Instant| -> Res<f64> {
        if breakdown {
            dev.synchronize()?;
        }
        let now = Instant::now();
        let dt = (now - *t).as_secs_f64() * 1e3;
        *t = now;
        Ok(dt)
    };
    for step in 0..warm + steps {
        let seq = ids(b, t + 1, step, vocab, dev)?;
        let (x, y) = (seq.narrow(1, 0, t)?, seq.narrow(1, 1, t)?.contiguous()?);
        dev.synchronize()?;
        let t0 = Instant::now();
        let m = if prec == "bf16" { tg.model.map_tensors(|_, w| Ok(w.to_dtype(DType::BF16)?))? } else { tg.model.clone() };
        // the training loss (`Gpt2::lm_loss`): on CUDA the loss kernel reads the padded
        // unembedding's (B·T, Vp) output in place; in bf16 it reads the bf16 logits and
        // computes in f32 (PyTorch's `logits.float()` then cross-entropy, without the copy)
        let loss = m.lm_loss(&x, &y)?;
        let mut tl = t0;
        let f_ms = lap(&mut tl)?;
        let mut grads = loss.backward()?;
        let b_ms = lap(&mut tl)?;
        clip_grad_norm(&tg.params, &mut grads, 1.0)?;
        opt.step(&tg.params, &grads)?;
        let l = loss.to_dtype(DType::F32)?.to_scalar::<f32>()?;
        dev.synchronize()?;
        let o_ms = lap(&mut tl)?;
        if step >= warm {
            ms.push(t0.elapsed().as_secs_f64() * 1e3);
            parts.push([f_ms, b_ms, o_ms]);
        }
        losses.push(l);
    }
    let mut v = serde_json::json!({"side": "gpt2lab", "workload": "train", "prec": prec, "b": b, "t": t, "ms": median(ms.clone()), "reps": ms, "losses": losses});
    if breakdown {
        let part = |i: usize| median(parts.iter().map(|p| p[i]).collect());
        v["breakdown_ms"] = serde_json::json!({"forward_and_loss": part(0), "backward": part(1), "clip_and_adamw": part(2)});
    }
    Ok(v)
}

/// One operation of the f32 inference forward at a (B, T) shape on random data, synchronised,
/// for bisecting a device fault op by op (each probe in its own process).
fn probe(args: &[String]) -> Res<()> {
    let dev = device(args)?;
    let b: usize = arg(args, "--b").ok_or("--b")?.parse()?;
    let t: usize = arg(args, "--t").ok_or("--t")?.parse()?;
    let op = arg(args, "--op").ok_or("--op")?;
    let (c, h, v) = (768usize, 12usize, 50257usize);
    let r = |shape: &[usize]| Tensor::randn(0f32, 1.0, shape, &dev);
    let out = match op {
        "ids_max" => ids(b, t, 0, v, &dev)?.flatten_all()?.max(0)?.to_dtype(DType::F32)?,
        "embed" => r(&[v, c])?.index_select(&ids(b, t, 0, v, &dev)?.flatten_all()?, 0)?,
        "layer_norm" => candle_nn::ops::layer_norm(&r(&[b, t, c])?, &r(&[c])?, &r(&[c])?, 1e-5)?,
        "conv1d" => gpt2lab::model::ops::conv1d(&r(&[b, t, c])?, &r(&[c, 3 * c])?, &r(&[3 * c])?)?,
        "qk" => r(&[b, h, t, 64])?.matmul(&r(&[b, h, t, 64])?.t()?)?,
        "mask_add" => r(&[b, h, t, t])?.broadcast_add(&r(&[1, 1, t, t])?)?,
        "softmax" => candle_nn::ops::softmax_last_dim(&r(&[b, h, t, t])?)?,
        "pv" => r(&[b, h, t, t])?.matmul(&r(&[b, h, t, 64])?)?,
        "gelu" => r(&[b, t, 4 * c])?.gelu()?,
        "unembed" => r(&[b * t, c])?.matmul(&r(&[v, c])?.t()?)?,
        "model" => {
            let m = Gpt2::random(gpt2lab::model::Gpt2Config::gpt2(), 0, &dev)?;
            m.forward(&ids(b, t, 0, v, &dev)?)?
        }
        _ => return Err(format!("unknown probe op {op}").into()),
    };
    dev.synchronize()?;
    let s = out.to_dtype(DType::F64)?.sqr()?.sum_all()?.to_scalar::<f64>()?;
    println!("{}", serde_json::json!({"probe": op, "b": b, "t": t, "ok": true, "sumsq": s}));
    Ok(())
}

/// `--device cuda|cpu` (default cuda).
fn device(args: &[String]) -> Res<Device> {
    Ok(match arg(args, "--device").unwrap_or("cuda") {
        "cpu" => Device::Cpu,
        _ => Device::new_cuda(0)?,
    })
}

fn arg<'a>(args: &'a [String], k: &str) -> Option<&'a str> {
    args.iter().position(|a| a == k).and_then(|i| args.get(i + 1)).map(|s| s.as_str())
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(|s| s.as_str()) {
        Some("save") => {
            let dir = args.get(1).ok_or("save DIR")?;
            Gpt2::random(gpt2lab::model::Gpt2Config::gpt2(), 0, &Device::Cpu)?.save_pretrained(dir)?;
            Ok(())
        }
        Some("run") => {
            let ckpt = arg(&args, "--ckpt").ok_or("--ckpt DIR")?;
            let out = arg(&args, "--out").ok_or("--out FILE")?;
            let quick = args.iter().any(|a| a == "--quick");
            let dump = arg(&args, "--dump");
            let dev = device(&args)?;
            let breakdown = args.iter().any(|a| a == "--breakdown");
            let model = Gpt2::from_dir_on(ckpt, &dev)?;
            let mut out = Out { file: std::fs::File::create(out)? };
            let precs = ["f32", "tf32", "bf16"];
            let prefill_shapes: &[(usize, usize)] = if quick { &[(1, 16)] } else { &[(1, 128), (8, 128), (1, 1024), (8, 1024)] };
            let train_shapes: &[(usize, usize)] = if quick { &[(2, 16)] } else { &[(4, 128), (8, 1024)] };
            let (mut reps, mut steps, mut warm) = if quick { (2, 2, 1) } else { (10, 10, 3) };
            if let Some(r) = arg(&args, "--reps") {
                (reps, steps) = (r.parse()?, r.parse()?);
            }
            if let Some(w) = arg(&args, "--warm") {
                warm = w.parse()?;
            }
            let only: Option<Vec<&str>> = arg(&args, "--only").map(|s| s.split(',').collect());
            let wanted = |w: &str, p: &str, b: usize, t: usize| only.as_ref().is_none_or(|o| o.contains(&format!("{w}:{p}:{b}x{t}").as_str()));
            for &(b, t) in prefill_shapes {
                for p in precs {
                    if !wanted("prefill", p, b, t) {
                        continue;
                    }
                    let d = if b == 1 { dump } else { None };
                    let v = prefill(&model, &dev, p, b, t, reps, d).unwrap_or_else(|e| serde_json::json!({"side": "gpt2lab", "workload": "prefill", "prec": p, "b": b, "t": t, "error": e.to_string()}));
                    out.line(v)?;
                }
            }
            for &(b, t) in train_shapes {
                for p in precs {
                    if !wanted("train", p, b, t) {
                        continue;
                    }
                    let v = train(&model, &dev, p, b, t, steps, warm, breakdown).unwrap_or_else(|e| serde_json::json!({"side": "gpt2lab", "workload": "train", "prec": p, "b": b, "t": t, "error": e.to_string()}));
                    out.line(v)?;
                }
            }
            Ok(())
        }
        Some("probe") => probe(&args),
        Some("ops") => ops(&args),
        _ => Err("usage: gpu_bench save DIR | gpu_bench run --ckpt DIR --out FILE [--device cuda|cpu] [--quick] [--dump DIR] \
                  [--only W:P:BxT,..] [--reps N] [--warm N] [--breakdown] | gpu_bench probe --op NAME --b B --t T [--device cuda|cpu] \
                  | gpu_bench ops [--b B --t T] [--device cuda|cpu]"
            .into()),
    }
}

/// Median ms of `f` over 5 synchronised reps after 2 warm-ups.
fn time_it(dev: &Device, f: &mut dyn FnMut() -> Res<()>) -> Res<f64> {
    let mut ms = vec![];
    for i in 0..7 {
        dev.synchronize()?;
        let t0 = Instant::now();
        f()?;
        dev.synchronize()?;
        if i >= 2 {
            ms.push(t0.elapsed().as_secs_f64() * 1e3);
        }
    }
    Ok(median(ms))
}

/// The parts of a 124M training step one by one, at the step's shapes, in f32 and bf16 (a
/// poor man's profile where no profiler is installed): matmuls, the fused kernels forward and
/// backward, candle's gradient accumulation, the embedding's backward, casts, and whole
/// training steps of 1 and 12 layers (their difference is the blocks' share).
fn ops(args: &[String]) -> Res<()> {
    use candle_core::Var;
    use gpt2lab::model::{kernels, ops as mops};
    let dev = device(args)?;
    let b: usize = arg(args, "--b").map(|s| s.parse()).transpose()?.unwrap_or(8);
    let t: usize = arg(args, "--t").map(|s| s.parse()).transpose()?.unwrap_or(1024);
    let (c, h, v, n) = (768usize, 12usize, 50257usize, b * t);
    for dt in [DType::F32, DType::BF16] {
        let r = |shape: &[usize]| -> Res<Tensor> { Ok(Tensor::randn(0f32, 1.0, shape, &dev)?.to_dtype(dt)?) };
        let row = |name: &str, f: &mut dyn FnMut() -> Res<()>| -> Res<()> {
            let ms = time_it(&dev, f)?;
            println!("{}", serde_json::json!({"op": name, "dtype": format!("{dt:?}"), "b": b, "t": t, "ms": ms}));
            Ok(())
        };
        let (x, w, bias) = (r(&[n, c])?, r(&[c, 3 * c])?, r(&[3 * c])?);
        row("matmul x(N,768)@(768,2304)", &mut || Ok(drop(x.matmul(&w)?)))?;
        let (q, k) = (r(&[b, h, t, 64])?, r(&[b, h, t, 64])?);
        row("attn q@k^T", &mut || Ok(drop(q.matmul(&k.t()?)?)))?;
        let scores = r(&[b, h, t, t])?;
        let mask: Vec<f32> = (0..t * t).map(|i| if i % t > i / t { -1e9 } else { 0.0 }).collect();
        let mask = Tensor::from_vec(mask, (1, 1, t, t), &dev)?.to_dtype(dt)?;
        row("attn pattern@v", &mut || Ok(drop(scores.matmul(&q)?)))?;
        row("masked softmax fwd", &mut || Ok(drop(kernels::masked_softmax_last(&scores, &mask)?.ok_or("no kernel")?)))?;
        let sv = Var::from_tensor(&scores)?;
        row("masked softmax fwd+bwd", &mut || Ok(drop(kernels::masked_softmax_last(sv.as_tensor(), &mask)?.ok_or("no kernel")?.sum_all()?.backward()?)))?;
        row("scores zeros_like + add (grad accumulation)", &mut || Ok(drop((scores.zeros_like()? + &scores)?)))?;
        row("scores sum_all fwd+bwd (baseline of the above)", &mut || Ok(drop(sv.as_tensor().sum_all()?.backward()?)))?;
        let xv = Var::from_tensor(&r(&[b, t, c])?)?;
        let (lw, lb) = (r(&[c])?, r(&[c])?);
        row("layer norm fwd+bwd", &mut || Ok(drop(mops::layer_norm(xv.as_tensor(), &lw, &lb, 1e-5)?.sum_all()?.backward()?)))?;
        let hv = Var::from_tensor(&r(&[b, t, 4 * c])?)?;
        row("gelu fwd+bwd (N,3072)", &mut || Ok(drop(kernels::gelu_new(hv.as_tensor())?.ok_or("no kernel")?.sum_all()?.backward()?)))?;
        let yv = Var::from_tensor(&r(&[n, 3 * c])?)?;
        row("bias add fwd+bwd (N,2304)", &mut || Ok(drop(kernels::bias_add(yv.as_tensor(), &bias)?.ok_or("no kernel")?.sum_all()?.backward()?)))?;
        row("conv1d fwd+bwd (N,768)->(N,2304)", &mut || {
            let wv = Var::from_tensor(&w)?;
            Ok(drop(mops::conv1d(xv.as_tensor(), wv.as_tensor(), &bias)?.sum_all()?.backward()?))
        })?;
        let idv = ids(b, t, 0, v, &dev)?.flatten_all()?;
        let wte = Var::from_tensor(&r(&[v, c])?)?;
        row("embedding fwd+bwd (index_select / index_add)", &mut || Ok(drop(wte.as_tensor().index_select(&idv, 0)?.sum_all()?.backward()?)))?;
        row("unembedding x@wte^T (N,50257)", &mut || Ok(drop(x.matmul(&wte.as_tensor().t()?)?)))?;
        let logits = Tensor::randn(0f32, 1.0, (n, v), &dev)?;
        row("logits cast f32->dtype", &mut || Ok(drop(logits.to_dtype(dt)?)))?;
        let lv = Var::from_tensor(&logits)?;
        row("cross-entropy f32 fwd+bwd", &mut || Ok(drop(mops::cross_entropy(lv.as_tensor(), &idv)?.backward()?)))?;
    }
    // whole steps: the blocks' share is the difference
    for (layers, prec) in [(1usize, "bf16"), (12, "bf16"), (1, "f32"), (12, "f32")] {
        let cfg = gpt2lab::model::Gpt2Config { n_layer: layers, ..gpt2lab::model::Gpt2Config::gpt2() };
        let m = Gpt2::random(cfg, 0, &dev)?;
        let res = train(&m, &dev, prec, b, t, 5, 2, true)?;
        println!("{}", serde_json::json!({"op": format!("train step, {layers} layer(s)"), "dtype": prec, "b": b, "t": t, "ms": res["ms"], "breakdown_ms": res["breakdown_ms"]}));
    }
    Ok(())
}
