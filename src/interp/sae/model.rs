//! A ReLU sparse autoencoder on one hook point, in SAELens' "standard" architecture and file
//! format, so a user can load the SAEs people share on the hub beside GPT-2 and save their own
//! in the same shape:
//!
//! ```text
//! x̃ = x − b_dec·[apply_b_dec_to_input]          x: (N, d_in)  (hook_z: (…, H, d_head) flattened)
//! f = ReLU(x̃ W_enc + b_enc)                      W_enc: (d_in, d_sae)      f: (N, d_sae)
//! x̂ = f W_dec + b_dec                            W_dec: (d_sae, d_in)
//! ```
//!
//! Files: `cfg.json` (SAELens 6 keys: `d_in`, `d_sae`, `apply_b_dec_to_input`,
//! `normalize_activations`, `reshape_activations`, `metadata.hook_name`, `architecture`; older
//! files with `hook_name`/`hook_point` at top level load too) and `sae_weights.safetensors`
//! (`W_enc`, `b_enc`, `W_dec`, `b_dec`). Parity with SAELens itself: `tests/sae.rs` against
//! `scripts/make_sae_fixtures.py`.
//!
//! Splicing into a forward pass is an [`Intervention`] (interventions are data): with the error
//! term `x − x̂(x)` added back, the model's logits are exactly the original ones and only what a
//! feature edit changes moves (SAELens' `use_error_term`).

use std::path::Path;
use std::sync::Arc;

use candle_core::{DType, Device, Tensor, Var, D};
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::{json, Value};

use crate::hooks::{HookPoint, Intervention};
use crate::model::weights::{read_safetensors_raw, safetensors_bytes, write_atomic};
use crate::{Error, Result};

/// What an SAE is and where it reads.
#[derive(Clone, Debug, PartialEq)]
pub struct SaeConfig {
    pub d_in: usize,
    pub d_sae: usize,
    /// The TransformerLens hook name it was trained on (`blocks.0.attn.hook_z`).
    pub hook_name: String,
    /// Subtract `b_dec` before encoding (SAELens' default, the "pre-encoder bias").
    pub apply_b_dec_to_input: bool,
    /// `hook_z` SAEs read the heads concatenated: `(…, H, d_head)` → `(…, H·d_head)`.
    pub reshape_hook_z: bool,
}

impl SaeConfig {
    /// A config for `d_sae` features on `hook_name` with `d_in` inputs (hook_z: `H·d_head`).
    pub fn new(hook_name: &str, d_in: usize, d_sae: usize) -> Result<Self> {
        let point: HookPoint = hook_name.parse()?;
        let cfg = SaeConfig {
            d_in,
            d_sae,
            hook_name: point.to_string(),
            apply_b_dec_to_input: true,
            reshape_hook_z: matches!(point, HookPoint::Z(_)),
        };
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<()> {
        let bad = |field: &'static str, msg: String| Err(Error::ConfigField { path: "SaeConfig".into(), field, msg });
        if self.d_in == 0 {
            return bad("d_in", "must be ≥ 1".into());
        }
        if self.d_sae == 0 {
            return bad("d_sae", "must be ≥ 1".into());
        }
        self.hook_name.parse::<HookPoint>()?;
        Ok(())
    }

    /// The hook point it reads.
    pub fn hook_point(&self) -> Result<HookPoint> {
        self.hook_name.parse()
    }

    /// Reads SAELens' `cfg.json` (version 6 or the older flat layout).
    pub fn from_json(text: &str, path: &str) -> Result<Self> {
        let v: Value = serde_json::from_str(text).map_err(|e| Error::Config { path: path.into(), msg: e.to_string() })?;
        let err = |msg: String| Error::Config { path: path.into(), msg };
        let arch = v.get("architecture").and_then(Value::as_str).unwrap_or("standard");
        if arch != "standard" {
            return Err(Error::Unsupported(format!("{path}: SAE architecture `{arch}` (gpt2lab reads SAELens' `standard` ReLU SAEs)")));
        }
        let int = |k: &str| v.get(k).and_then(Value::as_u64).map(|x| x as usize).ok_or_else(|| err(format!("missing integer `{k}`")));
        let norm = v.get("normalize_activations").and_then(Value::as_str).unwrap_or("none");
        if norm != "none" {
            return Err(Error::Unsupported(format!(
                "{path}: normalize_activations = `{norm}` (fold the scaling factor into the weights first, as SAELens' \
                 fold_activation_norm_scaling_factor does)"
            )));
        }
        let hook = v
            .get("metadata")
            .and_then(|m| m.get("hook_name"))
            .or_else(|| v.get("hook_name"))
            .or_else(|| v.get("hook_point"))
            .and_then(Value::as_str)
            .ok_or_else(|| err("no hook name (`metadata.hook_name`, `hook_name` or `hook_point`)".into()))?;
        let point: HookPoint = hook.parse()?;
        let reshape = match v.get("reshape_activations").and_then(Value::as_str) {
            Some("hook_z") => true,
            Some("none") => false,
            Some(o) => return Err(Error::Unsupported(format!("{path}: reshape_activations = `{o}`"))),
            None => matches!(point, HookPoint::Z(_)), // older files: hook_z SAEs always read concatenated heads
        };
        let cfg = SaeConfig {
            d_in: int("d_in")?,
            d_sae: int("d_sae")?,
            hook_name: point.to_string(),
            apply_b_dec_to_input: v.get("apply_b_dec_to_input").and_then(Value::as_bool).unwrap_or(true),
            reshape_hook_z: reshape,
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// SAELens 6's `cfg.json` for this config.
    pub fn to_json(&self) -> String {
        let layer = self.hook_point().ok().and_then(|p| p.layer());
        let v = json!({
            "architecture": "standard",
            "d_in": self.d_in,
            "d_sae": self.d_sae,
            "dtype": "float32",
            "device": "cpu",
            "apply_b_dec_to_input": self.apply_b_dec_to_input,
            "normalize_activations": "none",
            "reshape_activations": if self.reshape_hook_z { "hook_z" } else { "none" },
            "metadata": { "hook_name": self.hook_name, "hook_layer": layer, "model_name": "gpt2lab" },
        });
        serde_json::to_string_pretty(&v).expect("json")
    }
}

/// A standard ReLU SAE; its parameters are `Var`s so the same object trains and runs.
#[derive(Clone)]
pub struct Sae {
    pub cfg: SaeConfig,
    pub w_enc: Var, // (d_in, d_sae)
    pub b_enc: Var, // (d_sae)
    pub w_dec: Var, // (d_sae, d_in)
    pub b_dec: Var, // (d_in)
}

impl Sae {
    /// SAELens' initialisation: W_dec (d_sae, d_in) Kaiming-uniform as `nn.init.kaiming_uniform_`
    /// draws it (fan_in = d_in, gain √2: U(±√(6/d_in))), each row rescaled to `decoder_norm`
    /// when given (SAELens' `decoder_init_norm`, 0.1 by default in training; 1 for the unit-norm
    /// recipe), W_enc = W_decᵀ, biases zero. Seeded: the same seed gives the same SAE.
    pub fn new(cfg: SaeConfig, decoder_norm: Option<f64>, seed: u64) -> Result<Self> {
        cfg.validate()?;
        // an SAE is often built and trained with no model in the process (cached activations):
        // the CPU settings that model constructors apply matter as much here (runtime.rs)
        crate::runtime::init();
        let mut rng = StdRng::seed_from_u64(seed);
        let bound = (6.0 / cfg.d_in as f64).sqrt();
        let mut w: Vec<f32> = (0..cfg.d_sae * cfg.d_in).map(|_| rng.random_range(-bound..bound) as f32).collect();
        if let Some(n) = decoder_norm {
            for row in w.chunks_mut(cfg.d_in) {
                let norm = row.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt().max(1e-12);
                row.iter_mut().for_each(|x| *x = (*x as f64 / norm * n) as f32);
            }
        }
        let dev = Device::Cpu;
        let w_dec = Tensor::from_vec(w, (cfg.d_sae, cfg.d_in), &dev)?;
        Ok(Sae {
            w_enc: Var::from_tensor(&w_dec.t()?.contiguous()?)?,
            b_enc: Var::zeros(cfg.d_sae, DType::F32, &dev)?,
            w_dec: Var::from_tensor(&w_dec)?,
            b_dec: Var::zeros(cfg.d_in, DType::F32, &dev)?,
            cfg,
        })
    }

    /// An SAE from its four tensors (shapes checked).
    pub fn from_tensors(cfg: SaeConfig, w_enc: Tensor, b_enc: Tensor, w_dec: Tensor, b_dec: Tensor) -> Result<Self> {
        cfg.validate()?;
        crate::runtime::init();
        let check = |name: &str, t: &Tensor, want: Vec<usize>| -> Result<Var> {
            if t.dims() != want.as_slice() {
                return Err(Error::TensorShape { name: name.into(), expected: want, got: t.dims().to_vec() });
            }
            Ok(Var::from_tensor(&t.to_dtype(DType::F32)?.to_device(&Device::Cpu)?)?)
        };
        Ok(Sae {
            w_enc: check("W_enc", &w_enc, vec![cfg.d_in, cfg.d_sae])?,
            b_enc: check("b_enc", &b_enc, vec![cfg.d_sae])?,
            w_dec: check("W_dec", &w_dec, vec![cfg.d_sae, cfg.d_in])?,
            b_dec: check("b_dec", &b_dec, vec![cfg.d_in])?,
            cfg,
        })
    }

    /// Loads a folder in SAELens' format (`cfg.json` + `sae_weights.safetensors`).
    pub fn load(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let cfg_path = dir.join("cfg.json");
        let text = std::fs::read_to_string(&cfg_path).map_err(|e| Error::io(&cfg_path, e))?;
        let cfg = SaeConfig::from_json(&text, &cfg_path.display().to_string())?;
        let mut t = read_safetensors_raw(&dir.join("sae_weights.safetensors"), &Device::Cpu)?;
        let mut take = |n: &str| {
            t.remove(n).ok_or_else(|| Error::MissingTensor { name: n.into(), tried: "sae_weights.safetensors".into() })
        };
        let (we, be, wd, bd) = (take("W_enc")?, take("b_enc")?, take("W_dec")?, take("b_dec")?);
        Self::from_tensors(cfg, we, be, wd, bd)
    }

    /// Loads `folder` (e.g. `blocks.8.hook_resid_pre`) of a hub repo holding SAELens-format SAEs
    /// (e.g. `jbloom/GPT2-Small-SAEs-Reformatted`). Needs the network once (then the hub cache).
    pub fn from_hub(repo_id: &str, folder: &str) -> Result<Self> {
        let files = [format!("{folder}/cfg.json"), format!("{folder}/sae_weights.safetensors")];
        let refs: Vec<&str> = files.iter().map(String::as_str).collect();
        let paths = crate::model::hub::hub_files(repo_id, &refs)?;
        let dir = paths[0].parent().ok_or_else(|| Error::Hub(format!("{repo_id}/{folder}: no parent folder")))?;
        Self::load(dir)
    }

    /// Saves in SAELens' format, each file written atomically.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let named = vec![
            ("W_enc".to_string(), self.w_enc.as_tensor().clone()),
            ("b_enc".to_string(), self.b_enc.as_tensor().clone()),
            ("W_dec".to_string(), self.w_dec.as_tensor().clone()),
            ("b_dec".to_string(), self.b_dec.as_tensor().clone()),
        ];
        write_atomic(&dir.join("sae_weights.safetensors"), &safetensors_bytes(&named)?)?;
        write_atomic(&dir.join("cfg.json"), self.cfg.to_json().as_bytes())
    }

    /// The hook activation as the SAE's (N, d_in) rows, and the shape to restore.
    pub fn flatten(&self, x: &Tensor) -> Result<(Tensor, Vec<usize>)> {
        let dims = x.dims().to_vec();
        let d = if self.cfg.reshape_hook_z && dims.len() >= 2 { dims[dims.len() - 2] * dims[dims.len() - 1] } else { *dims.last().unwrap_or(&0) };
        if d != self.cfg.d_in {
            return Err(Error::Shape(format!(
                "SAE on {} reads {} inputs per row, the activation {:?} gives {d}",
                self.cfg.hook_name, self.cfg.d_in, dims
            )));
        }
        Ok((x.reshape(((x.elem_count() / d).max(1), d))?.to_dtype(DType::F32)?, dims))
    }

    /// Feature activations f = ReLU((x − b_dec) W_enc + b_enc) of (N, d_in) rows.
    pub fn encode(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.encode_pre(x)?.relu()?)
    }

    /// The pre-activations (x − b_dec) W_enc + b_enc.
    pub fn encode_pre(&self, x: &Tensor) -> Result<Tensor> {
        let x = if self.cfg.apply_b_dec_to_input { x.broadcast_sub(self.b_dec.as_tensor())? } else { x.clone() };
        Ok(x.matmul(self.w_enc.as_tensor())?.broadcast_add(self.b_enc.as_tensor())?)
    }

    /// Reconstruction x̂ = f W_dec + b_dec.
    pub fn decode(&self, f: &Tensor) -> Result<Tensor> {
        Ok(f.matmul(self.w_dec.as_tensor())?.broadcast_add(self.b_dec.as_tensor())?)
    }

    /// (x̂, f) of (N, d_in) rows.
    pub fn forward(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let f = self.encode(x)?;
        Ok((self.decode(&f)?, f))
    }

    /// Feature activations of a hook activation of any shape the SAE reads: `(…, d_sae)` with the
    /// hook's leading dims (hook_z: without the head dims).
    pub fn features(&self, act: &Tensor) -> Result<Tensor> {
        let (x, dims) = self.flatten(act)?;
        let keep = if self.cfg.reshape_hook_z { dims.len() - 2 } else { dims.len() - 1 };
        let mut shape = dims[..keep].to_vec();
        shape.push(self.cfg.d_sae);
        Ok(self.encode(&x)?.reshape(shape)?)
    }

    /// The splice as an intervention on the SAE's hook: the activation replaced by its
    /// reconstruction after `edit` (a function of the (N, d_sae) features), plus the error term
    /// `x − x̂(x)` when `with_error` (then an identity edit leaves the forward pass exact).
    pub fn splice_with(&self, with_error: bool, edit: Option<Arc<dyn Fn(&Tensor) -> candle_core::Result<Tensor> + Send + Sync>>) -> Intervention {
        let sae = self.detached();
        Intervention::custom(move |x: &Tensor, _p| {
            let go = || -> Result<Tensor> {
                let (rows, dims) = sae.flatten(x)?;
                let f = sae.encode(&rows)?;
                let f_edit = match &edit {
                    Some(e) => e(&f)?,
                    None => f.clone(),
                };
                let mut out = sae.decode(&f_edit)?;
                if with_error {
                    out = (out + (&rows - sae.decode(&f)?)?)?;
                }
                Ok(out.reshape(dims)?.to_dtype(x.dtype())?)
            };
            go().map_err(|e| candle_core::Error::Msg(e.to_string()))
        })
    }

    /// The plain splice (reconstruction in place of the activation; exact with the error term).
    pub fn splice(&self, with_error: bool) -> Intervention {
        self.splice_with(with_error, None)
    }

    /// Zero-ablates `features` (error term kept, so only those features' contribution moves).
    pub fn ablate_features(&self, features: &[usize]) -> Result<Intervention> {
        let mask = self.feature_mask(features, 0.0, 1.0)?;
        Ok(self.splice_with(true, Some(Arc::new(move |f: &Tensor| f.broadcast_mul(&mask)))))
    }

    /// Sets `feature` to `value` at every position (error term kept): the feature-clamping
    /// intervention of SAE steering work. Adding a fixed multiple of its decoder direction
    /// instead is [`Sae::steering_vector`].
    pub fn clamp_feature(&self, feature: usize, value: f64) -> Result<Intervention> {
        let keep = self.feature_mask(&[feature], 0.0, 1.0)?;
        let set = self.feature_mask(&[feature], value, 0.0)?;
        Ok(self.splice_with(true, Some(Arc::new(move |f: &Tensor| f.broadcast_mul(&keep)?.broadcast_add(&set)))))
    }

    /// `scale · W_dec[feature]` as an `Add` intervention on the hook (a steering vector; for
    /// hook_z SAEs shaped `(H, d_head)`).
    pub fn steering_vector(&self, feature: usize, scale: f64, n_heads: Option<usize>) -> Result<Intervention> {
        self.check_feature(feature)?;
        let mut v = (self.w_dec.as_tensor().get(feature)? * scale)?;
        if self.cfg.reshape_hook_z {
            let h = n_heads.ok_or_else(|| Error::Shape("a hook_z SAE's steering vector needs n_heads".into()))?;
            if h == 0 || self.cfg.d_in % h != 0 {
                return Err(Error::Shape(format!("d_in {} is not a multiple of n_heads {h}", self.cfg.d_in)));
            }
            v = v.reshape((h, self.cfg.d_in / h))?;
        }
        Ok(Intervention::Add(v))
    }

    fn check_feature(&self, f: usize) -> Result<()> {
        if f >= self.cfg.d_sae {
            return Err(Error::Shape(format!("feature {f} out of range (d_sae = {})", self.cfg.d_sae)));
        }
        Ok(())
    }

    /// A (d_sae) vector: `on` at `features`, `off` elsewhere.
    fn feature_mask(&self, features: &[usize], on: f64, off: f64) -> Result<Tensor> {
        let mut m = vec![off as f32; self.cfg.d_sae];
        for &f in features {
            self.check_feature(f)?;
            m[f] = on as f32;
        }
        Ok(Tensor::from_vec(m, self.cfg.d_sae, &Device::Cpu)?)
    }

    /// A copy whose tensors are plain (no gradient tracking): what a splice closure keeps.
    pub fn detached(&self) -> Sae {
        let d = |v: &Var| Var::from_tensor(&v.as_tensor().detach()).expect("copy of a var");
        Sae { cfg: self.cfg.clone(), w_enc: d(&self.w_enc), b_enc: d(&self.b_enc), w_dec: d(&self.w_dec), b_dec: d(&self.b_dec) }
    }

    /// Norms of the decoder rows, (d_sae).
    pub fn decoder_norms(&self) -> Result<Tensor> {
        Ok(self.w_dec.as_tensor().sqr()?.sum(D::Minus1)?.sqrt()?)
    }
}
