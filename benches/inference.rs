//! The gpt2lab side of the side-by-side benchmark suite (`scripts/bench.sh`).
//!
//! Two modes:
//! - `cargo bench --bench inference -- --serve`: a worker that reads one JSON command per line
//!   on stdin and answers one JSON line on stdout. `scripts/bench_reference.py` drives it and
//!   an identical Python worker (transformers / TransformerLens / PyTorch) alternately, so both
//!   sides run the same workload on the same checkpoint, interleaved, rep by rep. Timings are
//!   taken inside the worker around the library call only.
//! - `cargo bench --bench inference` (no `--serve`): a quick gpt2lab-only smoke run that prints
//!   a few medians (no reference; use `scripts/bench.sh` for the table).
//!
//! Commands (`op`), each answered with `{"ok": true, ...}` or `{"ok": false, "error": ...}`:
//! `load {dir}`, `set_ids {key, ids: [[u32]]}`, `prefill {key, dump?: {path, stride}}`,
//! `decode {key, n, check?: path}`, `train_init {dir}`, `train_step {x, y}`,
//! `cache {key, dump?}`, `hook {key, hook}`, `patch_setup {clean, corrupt, hook, a, b}`,
//! `patch_sweep {dump?, method?: loop|sweep|attribution}`, `sae_init {acts, init, l1, lr}`,
//! `sae_loss {rows}`, `sae_train {steps, batch, seed}`, `peak {}`, `rss {}`, `quit`.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::time::Instant;

use candle_core::{CpuStorage, Device, Storage, Tensor};
use gpt2lab::generate::GenerateConfig;
use gpt2lab::hooks::{HookSpec, Intervention};
use gpt2lab::interp::patching;
use gpt2lab::interp::sae::{sae_loss, train_sae, BDecInit, Sae, SaeConfig, SaeTrainConfig};
use gpt2lab::model::{ForwardOpts, Gpt2, KvCache};
use gpt2lab::train::{
    AdamW, AdamWConfig, Conda, CondaConfig, LrSchedule, Muon, MuonConfig, Optimizer, ParamGroups, SophiaConfig, SophiaG,
    TrainConfig, Trainer,
};
use serde_json::{json, Value};

type R<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

#[derive(Default)]
struct Worker {
    model: Option<Gpt2>,
    ids: HashMap<String, Tensor>,
    trainer: Option<Trainer>,
    /// patch sweep state: corrupted ids, clean activations per layer, hook kind, metric tokens, clean ids
    patch: Option<(Tensor, Vec<Tensor>, String, u32, u32, Tensor)>,
    /// SAE workload: the SAE, the cached activations (N, d_in), l1 coefficient, lr
    sae: Option<(Sae, Tensor, f64, f64)>,
}

fn secs(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

fn get_str<'a>(v: &'a Value, k: &str) -> R<&'a str> {
    v.get(k).and_then(Value::as_str).ok_or_else(|| format!("missing string field `{k}`").into())
}

fn get_usize(v: &Value, k: &str) -> R<usize> {
    v.get(k).and_then(Value::as_u64).map(|x| x as usize).ok_or_else(|| format!("missing integer field `{k}`").into())
}

/// The optimizer a `train_init` asks for (`optimizer`: adamw | sophiag | muon | conda, default
/// adamw), with the settings of the optimizer bench (`papers::optim_bench`) and `periodic` = k,
/// SophiaG's steps between curvature passes and Conda's between SVDs (default 10). The Python
/// worker builds the same optimizers from `scripts/make_optim_fixtures.py`'s transcriptions.
fn optimizer(cmd: &Value, lr: f64) -> R<Box<dyn Optimizer>> {
    let k = cmd.get("periodic").and_then(Value::as_u64).unwrap_or(10) as usize;
    let tokens = cmd.get("tokens").and_then(Value::as_u64).unwrap_or(1) as usize;
    Ok(match cmd.get("optimizer").and_then(Value::as_str).unwrap_or("adamw") {
        // GPT2LAB_BENCH_UNFUSED=1: AdamW on the tensor-op path, for A/B runs of the fused step.
        "adamw" if std::env::var_os("GPT2LAB_BENCH_UNFUSED").is_some() => Box::new(AdamW::new(AdamWConfig { lr, ..AdamWConfig::default() }).unfused()),
        "adamw" => Box::new(AdamW::new(AdamWConfig { lr, ..AdamWConfig::default() })),
        "sophiag" => Box::new(SophiaG::with_groups(
            SophiaConfig { lr, tokens_per_step: tokens, hessian_every: k, ..SophiaConfig::default() },
            ParamGroups::decay_split(0.2),
        )?),
        "muon" => Box::new(Muon::new(MuonConfig { lr, ..MuonConfig::default() })?),
        "conda" => Box::new(Conda::new(CondaConfig { lr, update_proj_gap: k, ..CondaConfig::default() })?),
        o => return Err(format!("unknown optimizer `{o}` (adamw, sophiag, muon, conda)").into()),
    })
}

/// Positions 0, stride, 2·stride, … and the last one (what a dump keeps of long logits).
fn dump_positions(t: usize, stride: usize) -> Vec<u32> {
    let mut p: Vec<u32> = (0..t).step_by(stride.max(1)).map(|x| x as u32).collect();
    if *p.last().unwrap() as usize != t - 1 {
        p.push((t - 1) as u32);
    }
    p
}

fn save(path: &str, tensors: Vec<(&str, Tensor)>) -> R<()> {
    let map: HashMap<String, Tensor> = tensors.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    candle_core::safetensors::save(&map, path)?;
    Ok(())
}

/// Logits (B, T, V) restricted to the dump positions (dim 1).
fn strided(logits: &Tensor, stride: usize) -> R<Tensor> {
    let t = logits.dim(1)?;
    if stride <= 1 {
        return Ok(logits.clone());
    }
    let p = dump_positions(t, stride);
    let n = p.len();
    Ok(logits.index_select(&Tensor::from_vec(p, n, &Device::Cpu)?, 1)?)
}

/// (bytes as their shapes say, bytes of the distinct buffers the tensors keep alive).
fn tensor_bytes<'a>(ts: impl Iterator<Item = &'a Tensor>) -> (usize, usize) {
    let mut logical = 0;
    let mut seen = HashMap::new();
    for t in ts {
        logical += t.elem_count() * t.dtype().size_in_bytes();
        let (s, _) = t.storage_and_layout();
        if let Storage::Cpu(c) = &*s {
            let (ptr, n) = match c {
                CpuStorage::F32(v) => (v.as_ptr() as usize, v.len() * 4),
                CpuStorage::F64(v) => (v.as_ptr() as usize, v.len() * 8),
                CpuStorage::U32(v) => (v.as_ptr() as usize, v.len() * 4),
                _ => (0, 0),
            };
            seen.insert(ptr, n);
        }
    }
    (logical, seen.values().sum())
}

/// (VmRSS, VmHWM) in bytes, from /proc/self/status.
fn rss() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        s.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

impl Worker {
    /// Times the forward's matmuls in isolation for `rows` positions (profiling aid):
    /// GFLOP/s of each, median of 5.
    fn probe(&self, rows: usize) -> R<Value> {
        let m = self.model()?;
        let b0 = &m.blocks[0];
        let mlp0 = b0.mlp()?;
        let c = m.cfg.n_embd;
        let x = Tensor::randn(0f32, 1.0, (rows, c), &Device::Cpu)?;
        let h = Tensor::randn(0f32, 1.0, (rows, 4 * c), &Device::Cpu)?;
        let wte_t = m.wte.t()?.contiguous()?;
        let mut out = serde_json::Map::new();
        let mut time = |name: &str, flops: f64, f: &dyn Fn() -> candle_core::Result<Tensor>| -> R<()> {
            f()?;
            let mut ts = vec![];
            for _ in 0..5 {
                let t0 = Instant::now();
                std::hint::black_box(f()?);
                ts.push(secs(t0));
            }
            let med = median(ts);
            out.insert(name.into(), json!({ "ms": med * 1e3, "gflops": flops / med / 1e9 }));
            Ok(())
        };
        let r = rows as f64;
        let cf = c as f64;
        let v = m.cfg.vocab_size as f64;
        gpt2lab::runtime::with_cpu_pool(|| -> R<()> {
            time("c_attn", 2.0 * r * cf * 3.0 * cf, &|| x.matmul(&b0.attn.c_attn_w))?;
            time("attn_c_proj", 2.0 * r * cf * cf, &|| x.matmul(&b0.attn.c_proj_w))?;
            time("c_fc", 2.0 * r * cf * 4.0 * cf, &|| x.matmul(&mlp0.c_fc_w))?;
            time("mlp_c_proj", 2.0 * r * cf * 4.0 * cf, &|| h.matmul(&mlp0.c_proj_w))?;
            time("unembed_wte_t_view", 2.0 * r * cf * v, &|| x.matmul(&m.wte.t()?))?;
            time("unembed_wte_t_contig", 2.0 * r * cf * v, &|| x.matmul(&wte_t))?;
            time("unembed_wte_lhs", 2.0 * r * cf * v, &|| m.wte.matmul(&x.t()?))?;
            time("unembed_wte_lhs_T", 2.0 * r * cf * v, &|| m.wte.matmul(&x.t()?)?.t()?.contiguous())?;
            Ok(())
        })?;
        Ok(Value::Object(out))
    }

    fn model(&self) -> R<&Gpt2> {
        self.model.as_ref().ok_or_else(|| "no model loaded (send `load` first)".into())
    }

    fn ids(&self, v: &Value, k: &str) -> R<&Tensor> {
        let key = get_str(v, k)?;
        self.ids.get(key).ok_or_else(|| format!("unknown ids key `{key}`").into())
    }

    fn handle(&mut self, cmd: &Value) -> R<Value> {
        let op = get_str(cmd, "op")?;
        match op {
            "load" => {
                let t0 = Instant::now();
                self.model = Some(Gpt2::from_dir(get_str(cmd, "dir")?)?);
                Ok(json!({ "secs": secs(t0) }))
            }
            "set_ids" => {
                let rows: Vec<Vec<u32>> = serde_json::from_value(cmd["ids"].clone())?;
                let (b, t) = (rows.len(), rows[0].len());
                let flat: Vec<u32> = rows.into_iter().flatten().collect();
                self.ids.insert(get_str(cmd, "key")?.to_string(), Tensor::from_vec(flat, (b, t), &Device::Cpu)?);
                Ok(json!({}))
            }
            "prefill" => {
                let (m, ids) = (self.model()?, self.ids(cmd, "key")?);
                let t0 = Instant::now();
                let logits = m.forward(ids)?;
                let dt = secs(t0);
                if let Some(d) = cmd.get("dump").filter(|d| !d.is_null()) {
                    save(get_str(d, "path")?, vec![("logits", strided(&logits, get_usize(d, "stride")?)?)])?;
                }
                Ok(json!({ "secs": dt }))
            }
            "decode" => {
                let (m, ids) = (self.model()?, self.ids(cmd, "key")?);
                let n = get_usize(cmd, "n")?;
                let prompt: Vec<u32> = ids.flatten_all()?.to_vec1()?;
                let t0 = Instant::now();
                let out = m.generate(&prompt, &GenerateConfig::greedy(n))?;
                let dt = secs(t0);
                let mut reply = json!({ "secs": dt, "ids": out });
                if let Some(path) = cmd.get("check").and_then(Value::as_str) {
                    // The same decode step by step through the KV cache, keeping each step's
                    // logits for the numerics check (not timed).
                    let mut kv = KvCache::new(m.cfg.n_layer);
                    let opts = ForwardOpts { attention_mask: None, last_only: true };
                    let mut x = ids.clone();
                    let (mut steps, mut toks) = (vec![], vec![]);
                    for _ in 0..n {
                        let l = m.run_with(&x, &HookSpec::new(), opts, Some(&mut kv))?.logits.squeeze(1)?; // (1, V)
                        let tok = gpt2lab::generate::argmax(&l.squeeze(0)?.to_vec1::<f32>()?);
                        steps.push(l);
                        toks.push(tok);
                        x = Tensor::new(&[[tok]], &Device::Cpu)?;
                    }
                    save(path, vec![("logits", Tensor::cat(&steps, 0)?)])?;
                    reply["manual_ids"] = json!(toks);
                }
                Ok(reply)
            }
            "train_init" => {
                let model = Gpt2::from_dir(get_str(cmd, "dir")?)?;
                let lr = cmd.get("lr").and_then(Value::as_f64).unwrap_or(1e-3);
                let tc = TrainConfig { schedule: LrSchedule::Constant { lr }, clip: Some(1.0), progress: false, ..Default::default() };
                let opt = optimizer(cmd, lr)?;
                if let Some(d) = cmd.get("dump").filter(|d| !d.is_null()) {
                    let logits = model.forward(self.ids(d, "key")?)?;
                    save(get_str(d, "path")?, vec![("logits", logits)])?;
                }
                self.trainer = Some(Trainer::new(&model, opt, tc)?);
                self.model = None;
                Ok(json!({}))
            }
            "train_step" => {
                let (x, y) = (self.ids(cmd, "x")?.clone(), self.ids(cmd, "y")?.clone());
                let tr = self.trainer.as_mut().ok_or("no trainer (send `train_init` first)")?;
                let t0 = Instant::now();
                let st = tr.train_step(&[(x, y)])?;
                Ok(json!({ "secs": secs(t0), "loss": st.loss, "grad_norm": st.grad_norm }))
            }
            "cache" => {
                let (m, ids) = (self.model()?, self.ids(cmd, "key")?);
                let t0 = Instant::now();
                let run = m.run_with_cache(ids)?;
                let dt = secs(t0);
                let (logical, distinct) = tensor_bytes(run.cache.iter().map(|(_, t)| t));
                if let Some(d) = cmd.get("dump").filter(|d| !d.is_null()) {
                    let pick = |n: &str| -> R<Tensor> { Ok(run.cache.get(n)?.clone()) };
                    save(
                        get_str(d, "path")?,
                        vec![
                            ("logits", run.logits.clone()),
                            ("blocks.5.hook_resid_pre", pick("blocks.5.hook_resid_pre")?),
                            ("blocks.5.attn.hook_pattern", pick("blocks.5.attn.hook_pattern")?),
                            ("blocks.11.mlp.hook_post", pick("blocks.11.mlp.hook_post")?),
                        ],
                    )?;
                }
                Ok(json!({ "secs": dt, "entries": run.cache.len(), "logical_bytes": logical, "distinct_bytes": distinct }))
            }
            "hook" => {
                let (m, ids) = (self.model()?, self.ids(cmd, "key")?);
                let spec = HookSpec::new().capture(get_str(cmd, "hook")?);
                let t0 = Instant::now();
                let run = m.run(ids, &spec)?;
                let dt = secs(t0);
                Ok(json!({ "secs": dt, "entries": run.cache.len() }))
            }
            "patch_setup" => {
                let m = self.model()?;
                let (clean, corrupt) = (self.ids(cmd, "clean")?.clone(), self.ids(cmd, "corrupt")?.clone());
                let kind = get_str(cmd, "hook")?.to_string(); // e.g. "hook_resid_pre"
                let names: Vec<String> = (0..m.cfg.n_layer).map(|l| format!("blocks.{l}.{kind}")).collect();
                let names2 = names.clone();
                let spec = HookSpec::new().capture_filter(move |p| names2.contains(&p.to_string()));
                let run = m.run(&clean, &spec)?;
                let acts = names.iter().map(|n| Ok(run.cache.get(n)?.clone())).collect::<R<Vec<_>>>()?;
                self.patch = Some((corrupt, acts, kind, get_usize(cmd, "a")? as u32, get_usize(cmd, "b")? as u32, clean));
                Ok(json!({}))
            }
            "patch_sweep" => {
                let m = self.model()?;
                let (corrupt, acts, kind, a, b, clean) = self.patch.as_ref().ok_or("no patch set-up")?;
                let t = corrupt.dim(1)?;
                let (a, b) = (*a as usize, *b as usize);
                // method: "loop" (one hooked forward per cell, as TransformerLens), "sweep"
                // (interp::activation_patching: resumed, batched) or "attribution"
                let method = cmd.get("method").and_then(Value::as_str).unwrap_or("loop");
                let site = match kind.as_str() {
                    "hook_resid_pre" => patching::PatchSite::ResidPre,
                    "hook_attn_out" => patching::PatchSite::AttnOut,
                    "hook_mlp_out" => patching::PatchSite::MlpOut,
                    k => return Err(format!("no patch site for {k}").into()),
                };
                let lm = patching::LogitDiff::new(a as u32, b as u32);
                let t0 = Instant::now();
                let metric: Vec<f32> = match method {
                    "loop" => {
                        let mut metric = vec![0f32; acts.len() * t];
                        for (l, src) in acts.iter().enumerate() {
                            let point = format!("blocks.{l}.{kind}");
                            for p in 0..t {
                                let spec = HookSpec::new().intervene(point.as_str(), Intervention::PatchPositions { source: src.clone(), positions: vec![p] });
                                let logits = m.run(corrupt, &spec)?.logits; // (1, T, V)
                                let last = logits.get(0)?.get(t - 1)?;
                                let (la, lb) = (last.get(a)?.to_scalar::<f32>()?, last.get(b)?.to_scalar::<f32>()?);
                                metric[l * t + p] = la - lb;
                            }
                        }
                        metric
                    }
                    "sweep" => patching::activation_patching(m, clean, corrupt, site, lm)?.values.concat(),
                    "attribution" => patching::attribution_patching(m, clean, corrupt, site, lm)?.values.concat(),
                    other => return Err(format!("unknown patch method {other}").into()),
                };
                let dt = secs(t0);
                if let Some(d) = cmd.get("dump").filter(|d| !d.is_null()) {
                    save(get_str(d, "path")?, vec![("metric", Tensor::from_vec(metric, (acts.len(), t), &Device::Cpu)?)])?;
                }
                Ok(json!({ "secs": dt, "forwards": acts.len() * t }))
            }
            "sae_init" => {
                // the driver's activations and initial weights (SAELens' names and layout)
                let acts = candle_core::safetensors::load(get_str(cmd, "acts")?, &Device::Cpu)?.remove("acts").ok_or("no `acts` tensor")?;
                let mut w = candle_core::safetensors::load(get_str(cmd, "init")?, &Device::Cpu)?;
                let mut take = |k: &str| w.remove(k).ok_or_else(|| format!("no `{k}` in the init file"));
                let (w_enc, b_enc, w_dec, b_dec) = (take("W_enc")?, take("b_enc")?, take("W_dec")?, take("b_dec")?);
                let cfg = SaeConfig::new("blocks.0.hook_resid_pre", w_enc.dim(0)?, w_enc.dim(1)?)?;
                let sae = Sae::from_tensors(cfg, w_enc, b_enc, w_dec, b_dec)?;
                let l1 = cmd.get("l1").and_then(Value::as_f64).unwrap_or(5.0);
                let lr = cmd.get("lr").and_then(Value::as_f64).unwrap_or(5e-5);
                self.sae = Some((sae, acts, l1, lr));
                Ok(json!({}))
            }
            "sae_loss" => {
                // numerics: the training loss terms on the first `rows` activations
                let (sae, acts, l1, _) = self.sae.as_ref().ok_or("no SAE (send `sae_init` first)")?;
                let x = acts.narrow(0, 0, get_usize(cmd, "rows")?)?;
                let (mse, l1p, _, _) = sae_loss(sae, &x, *l1)?;
                Ok(json!({ "mse": mse.to_scalar::<f32>()?, "l1": l1p.to_scalar::<f32>()? }))
            }
            "sae_train" => {
                // `steps` steps of the library's trainer (shuffled batches, firing counts, the
                // loss read back every step), b_dec and decoder left as they are: SAELens 6's
                // standard recipe (decoder-norm-weighted L1, no unit-norm projection)
                let (sae, acts, l1, lr) = self.sae.as_mut().ok_or("no SAE (send `sae_init` first)")?;
                let cfg = SaeTrainConfig {
                    steps: get_usize(cmd, "steps")?,
                    batch_size: get_usize(cmd, "batch")?,
                    lr: *lr,
                    l1_coefficient: *l1,
                    unit_norm_decoder: false,
                    b_dec_init: BDecInit::Zero,
                    resample_at: vec![],
                    dead_window: 1,
                    seed: cmd.get("seed").and_then(Value::as_u64).unwrap_or(0),
                };
                let t0 = Instant::now();
                let rep = train_sae(sae, acts, &cfg, None)?;
                let dt = secs(t0);
                let (m, p) = rep.losses.last().map(|l| (l.1, l.2)).unwrap_or((f64::NAN, f64::NAN));
                Ok(json!({ "secs": dt, "mse": m, "l1": p }))
            }
            "probe" => self.probe(get_usize(cmd, "rows")?),
            "peak" => Ok(peak::measure()),
            "rss" => {
                let (r, h) = rss();
                Ok(json!({ "rss": r, "hwm": h }))
            }
            "threads" => Ok(json!({
                "rayon": candle_core::utils::get_num_threads(),
                "candle_num_threads": std::env::var("CANDLE_NUM_THREADS").ok(),
            })),
            other => Err(format!("unknown op `{other}`").into()),
        }
    }
}

/// Machine limits measured from Rust: FMA throughput (AVX2 and AVX-512 register loops, one
/// thread per core) and memory read bandwidth (2 threads summing a 1 GiB buffer).
mod peak {
    use serde_json::{json, Value};
    use std::time::Instant;

    #[cfg(target_arch = "x86_64")]
    use std::arch::x86_64::*;

    const CHAINS: usize = 12;

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn fma_avx2(iters: usize) -> f32 {
        let mut acc = [_mm256_set1_ps(1.0); CHAINS];
        let (a, b) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
        for _ in 0..iters {
            for x in acc.iter_mut() {
                *x = _mm256_fmadd_ps(*x, a, b);
            }
        }
        let mut s = [0f32; 8];
        let mut t = acc[0];
        for x in &acc[1..] {
            t = _mm256_add_ps(t, *x);
        }
        _mm256_storeu_ps(s.as_mut_ptr(), t);
        s.iter().sum()
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn fma_avx512(iters: usize) -> f32 {
        let mut acc = [_mm512_set1_ps(1.0); 2 * CHAINS];
        let (a, b) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(1e-7));
        for _ in 0..iters {
            for x in acc.iter_mut() {
                *x = _mm512_fmadd_ps(*x, a, b);
            }
        }
        let mut t = acc[0];
        for x in &acc[1..] {
            t = _mm512_add_ps(t, *x);
        }
        _mm512_reduce_add_ps(t)
    }

    /// Best GFLOP/s over 5 tries of `threads` threads each running `f(iters)`.
    fn flops(threads: usize, iters: usize, flops_per_iter: f64, f: fn(usize) -> f32) -> f64 {
        let mut best = 0f64;
        for _ in 0..5 {
            let t0 = Instant::now();
            let s: f32 = std::thread::scope(|sc| {
                let hs: Vec<_> = (0..threads).map(|_| sc.spawn(move || f(iters))).collect();
                hs.into_iter().map(|h| h.join().unwrap()).sum()
            });
            std::hint::black_box(s);
            best = best.max(threads as f64 * iters as f64 * flops_per_iter / t0.elapsed().as_secs_f64() / 1e9);
        }
        best
    }

    /// Read bandwidth in GB/s: `threads` threads each summing their part of a 1 GiB buffer.
    fn read_bw(threads: usize) -> f64 {
        let n = 256 << 20; // f32s = 1 GiB
        let buf: Vec<f32> = (0..n).map(|i| (i % 7) as f32).collect();
        let mut best = 0f64;
        for _ in 0..5 {
            let t0 = Instant::now();
            let s: f32 = std::thread::scope(|sc| {
                let hs: Vec<_> = buf
                    .chunks(n / threads)
                    .map(|c| {
                        sc.spawn(move || {
                            // 16 independent partial sums: the loop vectorises and is load-bound
                            let mut acc = [0f32; 16];
                            for ch in c.chunks_exact(16) {
                                for i in 0..16 {
                                    acc[i] += ch[i];
                                }
                            }
                            acc.iter().sum::<f32>()
                        })
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap()).sum()
            });
            std::hint::black_box(s);
            best = best.max((n * 4) as f64 / t0.elapsed().as_secs_f64() / 1e9);
        }
        best
    }

    pub fn measure() -> Value {
        let threads = candle_core::utils::get_num_threads();
        #[cfg(target_arch = "x86_64")]
        {
            let iters = 200_000_000 / CHAINS;
            let avx2 = if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                Some(flops(threads, iters, (CHAINS * 8 * 2) as f64, |i| unsafe { fma_avx2(i) }))
            } else {
                None
            };
            let avx512 = if is_x86_feature_detected!("avx512f") {
                Some(flops(threads, iters / 2, (2 * CHAINS * 16 * 2) as f64, |i| unsafe { fma_avx512(i) }))
            } else {
                None
            };
            json!({ "threads": threads, "fma_avx2_gflops": avx2, "fma_avx512_gflops": avx512, "read_gbs": read_bw(threads) })
        }
        #[cfg(not(target_arch = "x86_64"))]
        json!({ "threads": threads, "read_gbs": read_bw(threads) })
    }
}

fn serve() -> R<()> {
    let mut w = Worker::default();
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let cmd: Value = serde_json::from_str(&line)?;
        if cmd.get("op").and_then(Value::as_str) == Some("quit") {
            break;
        }
        let mut reply = match w.handle(&cmd) {
            Ok(v) => v,
            Err(e) => json!({ "ok": false, "error": e.to_string() }),
        };
        if reply.get("ok").is_none() {
            reply["ok"] = json!(true);
        }
        writeln!(out, "{reply}")?;
        out.flush()?;
    }
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// gpt2lab alone, a few workloads, no reference: a smoke run of this file's code paths.
fn smoke() -> R<()> {
    let home = std::env::var("GPT2LAB_HOME").unwrap_or_else(|_| format!("{}/.cache/gpt2lab", std::env::var("HOME").unwrap_or_default()));
    let dir = std::env::var("GPT2LAB_BENCH_CKPT").unwrap_or_else(|_| format!("{home}/bench/gpt2-124m-random"));
    let mut w = Worker::default();
    if std::path::Path::new(&dir).join("model.safetensors").exists() {
        w.handle(&json!({"op": "load", "dir": dir}))?;
        println!("checkpoint {dir}");
    } else {
        println!("no checkpoint at {dir} (scripts/make_bench_checkpoint.py makes it): using Gpt2::random");
        w.model = Some(Gpt2::random(gpt2lab::model::Gpt2Config::gpt2(), 0, &Device::Cpu)?);
    }
    println!("threads: rayon {}, CANDLE_NUM_THREADS {:?}", candle_core::utils::get_num_threads(), std::env::var("CANDLE_NUM_THREADS").ok());
    let ids = |t: usize| json!([(0..t).map(|i| (i * 7919 + 13) % 50257).collect::<Vec<_>>()]);
    w.handle(&json!({"op": "set_ids", "key": "p128", "ids": ids(128)}))?;
    w.handle(&json!({"op": "set_ids", "key": "p32", "ids": ids(32)}))?;
    let mut report = |name: &str, cmd: Value| -> R<()> {
        w.handle(&cmd)?;
        let times = (0..5).map(|_| Ok(w.handle(&cmd)?["secs"].as_f64().unwrap_or(f64::NAN))).collect::<R<Vec<_>>>()?;
        println!("{name:<28} median {:>9.1} ms", median(times) * 1e3);
        Ok(())
    };
    report("prefill B=1 T=128", json!({"op": "prefill", "key": "p128"}))?;
    report("decode 32+32 greedy", json!({"op": "decode", "key": "p32", "n": 32}))?;
    report("run_with_cache B=1 T=128", json!({"op": "cache", "key": "p128"}))?;
    report("one hook B=1 T=128", json!({"op": "hook", "key": "p128", "hook": "blocks.6.hook_resid_post"}))?;
    let p = w.handle(&json!({"op": "peak"}))?;
    println!("peak: {p}");
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    gpt2lab::runtime::init();
    let res = if args.iter().any(|a| a == "--serve") { serve() } else { smoke() };
    if let Err(e) = res {
        eprintln!("inference bench: {e}");
        std::process::exit(1);
    }
}
