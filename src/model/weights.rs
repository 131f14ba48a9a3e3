//! Loading and saving HF-layout checkpoints: safetensors (single or sharded), keys with or
//! without the `transformer.` prefix, Conv1D `[in, out]` layout (kept as is), buffers ignored,
//! f16/bf16 upcast to f32. Every failure is a typed error naming the file or tensor.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use rand::{rngs::StdRng, Rng, SeedableRng};

use super::config::Gpt2Config;
use super::gpt2::Gpt2;
use crate::{Error, Result};

/// The canonical parameter names and shapes a config needs.
pub fn expected_shapes(cfg: &Gpt2Config) -> Vec<(String, Vec<usize>)> {
    let (c, m, v, p) = (cfg.n_embd, cfg.d_mlp(), cfg.vocab_size, cfg.n_positions);
    let mut out = vec![("wte.weight".to_string(), vec![v, c]), ("wpe.weight".to_string(), vec![p, c])];
    for i in 0..cfg.n_layer {
        let n = |s: &str| format!("h.{i}.{s}");
        out.extend([
            (n("ln_1.weight"), vec![c]),
            (n("ln_1.bias"), vec![c]),
            (n("attn.c_attn.weight"), vec![c, 3 * c]),
            (n("attn.c_attn.bias"), vec![3 * c]),
            (n("attn.c_proj.weight"), vec![c, c]),
            (n("attn.c_proj.bias"), vec![c]),
        ]);
        if cfg.has_mlp() {
            out.extend([
                (n("ln_2.weight"), vec![c]),
                (n("ln_2.bias"), vec![c]),
                (n("mlp.c_fc.weight"), vec![c, m]),
                (n("mlp.c_fc.bias"), vec![m]),
                (n("mlp.c_proj.weight"), vec![m, c]),
                (n("mlp.c_proj.bias"), vec![c]),
            ]);
        }
    }
    out.push(("ln_f.weight".into(), vec![c]));
    out.push(("ln_f.bias".into(), vec![c]));
    out
}

/// Checks every needed tensor is present with the right shape, and that the checkpoint has
/// no blocks beyond the config's `n_layer` (a config that contradicts the weights).
pub fn check_tensors(cfg: &Gpt2Config, tensors: &HashMap<String, Tensor>) -> Result<()> {
    for (name, shape) in expected_shapes(cfg) {
        let t = tensors.get(&name).ok_or_else(|| Error::MissingTensor { name: name.clone(), tried: format!("{name} or transformer.{name}") })?;
        if t.dims() != shape.as_slice() {
            return Err(Error::TensorShape { name, expected: shape, got: t.dims().to_vec() });
        }
    }
    let extra_layer = tensors
        .keys()
        .filter_map(|k| k.strip_prefix("h.").and_then(|r| r.split('.').next()).and_then(|n| n.parse::<usize>().ok()))
        .find(|&i| i >= cfg.n_layer);
    if let Some(i) = extra_layer {
        return Err(Error::Config { path: "<config>".into(), msg: format!("the checkpoint has block h.{i} but the config says n_layer = {}", cfg.n_layer) });
    }
    Ok(())
}

/// Maps a checkpoint key to its canonical name; None for keys that are not parameters
/// (causal-mask buffers, the tied `lm_head.weight`).
fn canonical(key: &str) -> Option<&str> {
    let k = key.strip_prefix("transformer.").unwrap_or(key);
    if k == "lm_head.weight" || k.ends_with(".attn.bias") || k.ends_with(".attn.masked_bias") {
        return None;
    }
    Some(k)
}

/// The safetensors files of a checkpoint directory: `model.safetensors`, or the shards
/// listed by `model.safetensors.index.json`.
pub fn weight_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let single = dir.join("model.safetensors");
    if single.exists() {
        return Ok(vec![single]);
    }
    let index = dir.join("model.safetensors.index.json");
    if index.exists() {
        let text = std::fs::read_to_string(&index).map_err(|e| Error::io(&index, e))?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| Error::Safetensors { path: index.clone(), msg: e.to_string() })?;
        let map = v.get("weight_map").and_then(|m| m.as_object()).ok_or_else(|| Error::Safetensors { path: index.clone(), msg: "no weight_map".into() })?;
        let mut files: Vec<String> = map.values().filter_map(|f| f.as_str().map(String::from)).collect();
        files.sort();
        files.dedup();
        // a shard is a plain file name under `dir`: `..`, absolute paths or prefixes would
        // read files outside the model directory
        if let Some(bad) = files.iter().find(|f| f.is_empty() || !Path::new(f).components().all(|c| matches!(c, std::path::Component::Normal(_)))) {
            return Err(Error::Safetensors { path: index.clone(), msg: format!("shard name `{bad}` is not a relative path inside the model directory") });
        }
        return Ok(files.into_iter().map(|f| dir.join(f)).collect());
    }
    if dir.join("pytorch_model.bin").exists() {
        return Err(Error::Unsupported(format!("{} has only pytorch_model.bin; convert it to safetensors", dir.display())));
    }
    Err(Error::io(single, std::io::Error::new(std::io::ErrorKind::NotFound, "no model.safetensors or model.safetensors.index.json")))
}

/// Reads safetensors files into canonical-named f32 tensors on `device`.
pub fn load_safetensors(files: &[PathBuf], device: &Device) -> Result<HashMap<String, Tensor>> {
    let mut out = HashMap::new();
    for path in files {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| Error::Safetensors { path: path.clone(), msg: e.to_string() })?;
        for (key, view) in st.tensors() {
            let Some(name) = canonical(&key) else { continue };
            if !matches!(view.dtype(), safetensors::Dtype::F32 | safetensors::Dtype::F16 | safetensors::Dtype::BF16 | safetensors::Dtype::F64) {
                continue; // integer/bool buffers are never parameters
            }
            let t = tensor_from_view(&view, device).map_err(|e| Error::Safetensors { path: path.clone(), msg: format!("tensor {key}: {e}") })?;
            out.insert(name.to_string(), t);
        }
    }
    Ok(out)
}

fn tensor_from_view(view: &safetensors::tensor::TensorView, device: &Device) -> candle_core::Result<Tensor> {
    use safetensors::Dtype as S;
    let shape = view.shape().to_vec();
    let data = view.data();
    let t = match view.dtype() {
        S::F32 => Tensor::from_raw_buffer(data, DType::F32, &shape, device)?,
        S::F16 => Tensor::from_raw_buffer(data, DType::F16, &shape, device)?.to_dtype(DType::F32)?,
        S::BF16 => Tensor::from_raw_buffer(data, DType::BF16, &shape, device)?.to_dtype(DType::F32)?,
        S::F64 => Tensor::from_raw_buffer(data, DType::F64, &shape, device)?.to_dtype(DType::F32)?,
        d => candle_core::bail!("unsupported parameter dtype {d:?}"),
    };
    Ok(t)
}

/// Writes bytes to `path` atomically: a temporary file in the same directory, fsync, rename,
/// fsync of the directory (without it the rename itself may not survive a power loss).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let tmp = dir.join(format!(".{}.tmp{}", path.file_name().and_then(|n| n.to_str()).unwrap_or("file"), std::process::id()));
    let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    f.write_all(bytes).and_then(|_| f.sync_all()).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
    #[cfg(unix)]
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| Error::io(dir, e))?;
    Ok(())
}

/// Serialises named tensors as safetensors bytes with `{"format": "pt"}` metadata (transformers
/// refuses files without it).
pub fn safetensors_bytes(tensors: &[(String, Tensor)]) -> Result<Vec<u8>> {
    let mut contig = Vec::with_capacity(tensors.len());
    for (n, t) in tensors {
        contig.push((n.clone(), t.to_device(&Device::Cpu)?.contiguous()?));
    }
    let meta = HashMap::from([("format".to_string(), "pt".to_string())]);
    safetensors::tensor::serialize(contig, Some(meta)).map_err(|e| Error::Msg(format!("safetensors serialise: {e}")))
}

/// Reads one safetensors file as it is (names untouched, dtypes kept).
pub fn read_safetensors_raw(path: &Path, device: &Device) -> Result<HashMap<String, Tensor>> {
    candle_core::safetensors::load(path, device).map_err(|e| Error::Safetensors { path: path.into(), msg: e.to_string() })
}

/// How [`Gpt2::from_dir_with`] loads a checkpoint.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    pub device: Device,
    /// Refuse parameters holding NaN or infinity (on by default: a diverged checkpoint would
    /// otherwise load silently and only show up as NaN logits far downstream).
    pub check_finite: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions { device: Device::Cpu, check_finite: true }
    }
}

impl LoadOptions {
    pub fn on(device: &Device) -> Self {
        LoadOptions { device: device.clone(), ..Self::default() }
    }
    /// No NaN/inf check: for inspecting a broken checkpoint on purpose.
    pub fn unchecked() -> Self {
        LoadOptions { check_finite: false, ..Self::default() }
    }
}

/// How many entries of `t` are NaN or infinite.
fn non_finite_count(t: &Tensor) -> Result<usize> {
    if t.dtype() == DType::F32 {
        let (storage, layout) = t.storage_and_layout();
        if let (candle_core::Storage::Cpu(cpu), Some((a, b))) = (&*storage, layout.contiguous_offsets()) {
            return Ok(cpu.as_slice::<f32>()?[a..b].iter().filter(|x| !x.is_finite()).count());
        }
    }
    // elsewhere (a GPU): x - x is 0 for finite x and NaN otherwise, so one reduction decides
    let s = (t - t)?.sum_all()?.to_dtype(DType::F64)?.to_scalar::<f64>()?;
    if s == 0.0 {
        return Ok(0);
    }
    let v = t.flatten_all()?.to_dtype(DType::F32)?.to_device(&Device::Cpu)?.to_vec1::<f32>()?;
    Ok(v.iter().filter(|x| !x.is_finite()).count())
}

/// Errors with the first parameter (in `named_tensors` order) that holds NaN or infinity.
pub fn check_finite(model: &Gpt2) -> Result<()> {
    for (name, t) in model.named_tensors() {
        let count = non_finite_count(&t)?;
        if count > 0 {
            return Err(Error::NonFiniteTensor { name, count });
        }
    }
    Ok(())
}

impl Gpt2 {
    /// Loads an HF-layout checkpoint directory (`config.json` + safetensors) on the CPU,
    /// refusing NaN/inf parameters ([`LoadOptions::unchecked`] to load them anyway).
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self> {
        Self::from_dir_with(dir, &LoadOptions::default())
    }

    pub fn from_dir_on(dir: impl AsRef<Path>, device: &Device) -> Result<Self> {
        Self::from_dir_with(dir, &LoadOptions::on(device))
    }

    pub fn from_dir_with(dir: impl AsRef<Path>, opts: &LoadOptions) -> Result<Self> {
        let dir = dir.as_ref();
        let model = if super::gpt_neo::is_gpt_neo(&dir.join("config.json")) {
            let neo = super::gpt_neo::GptNeoConfig::from_file(&dir.join("config.json"))?;
            Gpt2::from_gpt_neo_unchecked(&neo, &weight_files(dir)?, &opts.device)?
        } else {
            let cfg = Gpt2Config::from_file(dir.join("config.json"))?;
            let tensors = load_safetensors(&weight_files(dir)?, &opts.device)?;
            Gpt2::from_tensors(cfg, &tensors)?
        };
        if opts.check_finite {
            check_finite(&model)?;
        }
        Ok(model)
    }

    /// Writes `config.json` and `model.safetensors` (keys with the `transformer.` prefix, as
    /// `GPT2LMHeadModel.save_pretrained`), each atomically, so transformers loads it.
    ///
    /// A LayerNorm-free model (every site a FakeLN) is written in the released LN-free
    /// convention: `layer_norm_epsilon = 1e12` and each γ scaled by 1e6/σ, which transformers
    /// runs as is and `from_dir` loads back as exact FakeLNs.
    pub fn save_pretrained(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        let (cfg, model) = self.hf_exportable()?;
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let named: Vec<(String, Tensor)> = model.named_tensors().into_iter().map(|(n, t)| (format!("transformer.{n}"), t)).collect();
        write_atomic(&dir.join("model.safetensors"), &safetensors_bytes(&named)?)?;
        write_atomic(&dir.join("config.json"), cfg.to_hf_json().as_bytes())
    }

    /// The config and weights that express this model's norm modes in plain HF GPT-2.
    fn hf_exportable(&self) -> Result<(Gpt2Config, Gpt2)> {
        use super::norm::{LnTarget, NormMode};
        let modes = self.norm_modes();
        if modes.iter().all(|(_, m)| *m == NormMode::LayerNorm) {
            return Ok((self.cfg.clone(), self.clone()));
        }
        let sigma_of = |t: LnTarget| modes.iter().find(|(x, _)| *x == t).map(|(_, m)| *m);
        if let Some((t, m)) = modes.iter().find(|(_, m)| !matches!(m, NormMode::Fake { .. })) {
            return Err(Error::Unsupported(format!("saving a model whose norms are partly removed in HF layout: {t} is {m:?} (HF GPT-2 has one eps for all LayerNorms)")));
        }
        const K: f64 = 1e6;
        let mut cfg = self.cfg.clone();
        cfg.layer_norm_epsilon = K * K;
        let model = self.map_tensors(|name, t| {
            let target = if name == "ln_f.weight" {
                Some(LnTarget::Final)
            } else if let Some(i) = name.strip_prefix("h.").and_then(|r| r.split('.').next()).and_then(|i| i.parse::<usize>().ok()) {
                if name.ends_with("ln_1.weight") {
                    if sigma_of(LnTarget::Ln1Qk(i)) != sigma_of(LnTarget::Ln1V(i)) {
                        return Err(Error::Unsupported(format!("block {i}: queries/keys and values use different FakeLN scales; HF GPT-2 has one ln_1")));
                    }
                    Some(LnTarget::Ln1Qk(i))
                } else if name.ends_with("ln_2.weight") {
                    Some(LnTarget::Ln2(i))
                } else {
                    None
                }
            } else {
                None
            };
            match target.and_then(sigma_of) {
                Some(NormMode::Fake { sigma }) => Ok((t * (K / sigma))?),
                _ => Ok(t.clone()),
            }
        })?;
        Ok((cfg, model))
    }

    /// A freshly initialised model (GPT-2's init: N(0, 0.02), residual projections scaled by
    /// 1/sqrt(2·n_layer), zero biases, unit LayerNorms), the same for the same seed.
    pub fn random(cfg: Gpt2Config, seed: u64, device: &Device) -> Result<Self> {
        cfg.validate()?;
        let mut rng = StdRng::seed_from_u64(seed);
        let resid_std = 0.02 / (2.0 * cfg.n_layer as f64).sqrt();
        let mut tensors = HashMap::new();
        for (name, shape) in expected_shapes(&cfg) {
            let n: usize = shape.iter().product();
            let data: Vec<f32> = if name.ends_with("ln_1.weight") || name.ends_with("ln_2.weight") || name == "ln_f.weight" {
                vec![1.0; n]
            } else if name.ends_with(".bias") {
                vec![0.0; n]
            } else {
                let std = if name.ends_with("c_proj.weight") { resid_std } else { 0.02 };
                (0..n).map(|_| (normal(&mut rng) * std) as f32).collect()
            };
            tensors.insert(name, Tensor::from_vec(data, shape, device)?);
        }
        Gpt2::from_tensors(cfg, &tensors)
    }
}

/// A standard normal sample (Box-Muller), so seeded init needs no extra crate.
pub(crate) fn normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}
