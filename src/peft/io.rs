//! Saving and loading just the adapter, in Hugging Face PEFT's layout: a directory with
//! `adapter_config.json` and `adapter_model.safetensors`, tensors named
//! `base_model.model.transformer.h.{i}.{module}.lora_A.weight` `(r, d_in)` and `.lora_B.weight`
//! `(d_out, r)`. A LoRA adapter on whole projections is exactly PEFT's (`PeftModel.from_pretrained`
//! loads it, and adapters PEFT saved load here). q/k/v slices (`c_attn.q`) and NOLA use the
//! same layout with names PEFT does not know (`...c_attn.q.lora_A.weight`,
//! `...nola_coef_A`; `peft_type: "NOLA"` with `num_basis` and `basis_seed`): NOLA saves only
//! its coefficients, and the basis is regenerated from the seed when loading.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use candle_core::{Tensor, Var};
use serde_json::{json, Value};

use super::adapter::{Adapter, AdapterConfig, Factors, Method, SiteAdapter};
use super::site::resolve_targets;
use crate::model::weights::{read_safetensors_raw, safetensors_bytes, write_atomic};
use crate::model::Gpt2;
use crate::{Error, Result};

pub const CONFIG_FILE: &str = "adapter_config.json";
pub const WEIGHTS_FILE: &str = "adapter_model.safetensors";
const PREFIX: &str = "base_model.model.transformer.";

impl Adapter {
    /// Writes `adapter_config.json` + `adapter_model.safetensors` into `dir` (created).
    pub fn save(&self, dir: impl AsRef<Path>, base_model_name_or_path: &str) -> Result<()> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let c = &self.cfg;
        let mut cfg = json!({
            "base_model_name_or_path": base_model_name_or_path,
            "bias": "none",
            "fan_in_fan_out": true,
            "inference_mode": true,
            "init_lora_weights": true,
            "lora_alpha": c.alpha,
            "lora_dropout": c.dropout,
            "modules_to_save": null,
            "layers_to_transform": null,
            "layers_pattern": null,
            "r": c.r,
            "rank_pattern": {},
            "alpha_pattern": {},
            "target_modules": c.targets,
            "task_type": "CAUSAL_LM",
            "use_dora": false,
            "use_rslora": false,
            "revision": null,
            "peft_type": "LORA",
        });
        if let Method::Nola { num_basis, basis_seed } = c.method {
            cfg["peft_type"] = "NOLA".into();
            cfg["num_basis"] = num_basis.into();
            cfg["basis_seed"] = basis_seed.into();
        }
        if c.method == Method::Hut {
            // no PEFT format exists for HUT: PEFT's layout with its own type and tensor names
            cfg["peft_type"] = "HUT".into();
        }
        let text = serde_json::to_string_pretty(&cfg).map_err(|e| Error::Msg(e.to_string()))?;
        write_atomic(&dir.join(CONFIG_FILE), text.as_bytes())?;
        let mut tensors = vec![];
        for s in self.sites() {
            let n = format!("{PREFIX}{}", s.site.name());
            match &s.factors {
                Factors::Lora { a, b } => {
                    tensors.push((format!("{n}.lora_A.weight"), a.as_tensor().detach()));
                    tensors.push((format!("{n}.lora_B.weight"), b.as_tensor().detach()));
                }
                Factors::Nola { coef_a, coef_b, .. } => {
                    tensors.push((format!("{n}.nola_coef_A"), coef_a.as_tensor().detach()));
                    tensors.push((format!("{n}.nola_coef_B"), coef_b.as_tensor().detach()));
                }
                Factors::Hut { a, b, .. } => {
                    tensors.push((format!("{n}.hut_A.weight"), a.as_tensor().detach()));
                    tensors.push((format!("{n}.hut_B.weight"), b.as_tensor().detach()));
                }
            }
        }
        write_atomic(&dir.join(WEIGHTS_FILE), &safetensors_bytes(&tensors)?)
    }

    /// Reads the adapter config of a directory (PEFT's fields; NOLA's extra ones).
    pub fn read_config(dir: impl AsRef<Path>) -> Result<AdapterConfig> {
        let path = dir.as_ref().join(CONFIG_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let bad = |msg: String| Error::Config { path: path.display().to_string(), msg };
        let v: Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        let peft_type = v["peft_type"].as_str().unwrap_or("");
        let r = v["r"].as_u64().ok_or_else(|| bad("`r` missing or not an integer".into()))? as usize;
        let alpha = v["lora_alpha"].as_f64().ok_or_else(|| bad("`lora_alpha` missing".into()))?;
        let dropout = v["lora_dropout"].as_f64().unwrap_or(0.0);
        let targets: Vec<String> = match &v["target_modules"] {
            Value::Array(a) => a.iter().map(|t| t.as_str().map(String::from).ok_or_else(|| bad("`target_modules` holds a non-string".into()))).collect::<Result<_>>()?,
            Value::String(s) => return Err(Error::Unsupported(format!("target_modules as a regular expression ({s:?}); list the module names"))),
            _ => return Err(bad("`target_modules` missing".into())),
        };
        for (field, ok) in [
            ("use_dora", !v["use_dora"].as_bool().unwrap_or(false)),
            ("use_rslora", !v["use_rslora"].as_bool().unwrap_or(false)),
            ("bias", matches!(v["bias"].as_str(), None | Some("none"))),
            ("rank_pattern", v["rank_pattern"].as_object().is_none_or(|o| o.is_empty())),
            ("alpha_pattern", v["alpha_pattern"].as_object().is_none_or(|o| o.is_empty())),
            ("layers_to_transform", v["layers_to_transform"].is_null()),
            ("modules_to_save", v["modules_to_save"].is_null()),
        ] {
            if !ok {
                return Err(Error::Unsupported(format!("PEFT adapter option `{field}` = {}", v[field])));
            }
        }
        let method = match peft_type {
            "LORA" => Method::Lora,
            "NOLA" => Method::Nola {
                num_basis: v["num_basis"].as_u64().ok_or_else(|| bad("NOLA adapter without `num_basis`".into()))? as usize,
                basis_seed: v["basis_seed"].as_u64().ok_or_else(|| bad("NOLA adapter without `basis_seed`".into()))?,
            },
            "HUT" => Method::Hut,
            other => return Err(Error::Unsupported(format!("peft_type {other:?} (gpt2lab loads LORA and NOLA)"))),
        };
        let cfg = AdapterConfig { method, r, alpha, targets, dropout };
        cfg.validate()?;
        Ok(cfg)
    }

    /// Loads an adapter saved by [`Adapter::save`] or by Hugging Face PEFT onto `base`.
    /// Every tensor must be there with the shape the config and the model imply: an adapter
    /// for another architecture or of another rank is [`Error::AdapterMismatch`].
    pub fn load(base: &Gpt2, dir: impl AsRef<Path>) -> Result<Adapter> {
        let dir = dir.as_ref();
        let cfg = Self::read_config(dir)?;
        let sites = resolve_targets(&base.cfg, &cfg.targets)?;
        let raw = read_safetensors_raw(&dir.join(WEIGHTS_FILE), base.device())?;
        // PEFT writes `base_model.model.transformer.h...`; accept a model saved without `transformer.`
        let mut tensors: HashMap<String, Tensor> = HashMap::new();
        for (k, t) in raw {
            let short = k.strip_prefix(PREFIX).or_else(|| k.strip_prefix("base_model.model.")).unwrap_or(&k).to_string();
            tensors.insert(short, t.to_dtype(candle_core::DType::F32)?);
        }
        let mut used = BTreeMap::new();
        let mut take = |name: String, shape: &[usize]| -> Result<Tensor> {
            let t = tensors.get(&name).ok_or_else(|| Error::AdapterMismatch(format!("tensor `{name}` missing (the config targets {:?}; the file has {} tensors)", cfg.targets, tensors.len())))?;
            if t.dims() != shape {
                return Err(Error::AdapterMismatch(format!("tensor `{name}` has shape {:?}, this model and r = {} need {shape:?} (an adapter for another architecture or rank?)", t.dims(), cfg.r)));
            }
            used.insert(name, ());
            Ok(t.clone())
        };
        let mut out = vec![];
        for site in sites {
            let (d_in, d_out) = site.dims(&base.cfg);
            let n = site.name();
            let factors = match cfg.method {
                Method::Lora => Factors::Lora {
                    a: Var::from_tensor(&take(format!("{n}.lora_A.weight"), &[cfg.r, d_in])?)?,
                    b: Var::from_tensor(&take(format!("{n}.lora_B.weight"), &[d_out, cfg.r])?)?,
                },
                Method::Nola { num_basis, basis_seed } => {
                    // A₀ is regenerated from the basis seed, exactly as Adapter::new draws it
                    let fresh = Adapter::new(base, &AdapterConfig { targets: vec![n.clone()], ..cfg.clone() }, basis_seed)?;
                    let a0 = match &fresh.sites()[0].factors {
                        Factors::Nola { a0, .. } => a0.clone(),
                        _ => unreachable!("a NOLA config builds NOLA factors"),
                    };
                    Factors::Nola {
                        coef_a: Var::from_tensor(&take(format!("{n}.nola_coef_A"), &[num_basis])?)?,
                        coef_b: Var::from_tensor(&take(format!("{n}.nola_coef_B"), &[num_basis])?)?,
                        a0,
                        basis: None,
                    }
                }
                // W₀ is the base's own weight (HUT's update multiplies it)
                Method::Hut => Factors::Hut {
                    a: Var::from_tensor(&take(format!("{n}.hut_A.weight"), &[cfg.r, d_in])?)?,
                    b: Var::from_tensor(&take(format!("{n}.hut_B.weight"), &[d_out, cfg.r])?)?,
                    w0: super::hut::site_w0(base, &site)?,
                },
            };
            out.push(SiteAdapter { site, d_in, d_out, factors });
        }
        if let Some(extra) = tensors.keys().find(|k| !used.contains_key(*k)) {
            return Err(Error::AdapterMismatch(format!("tensor `{extra}` matches no targeted projection of this model")));
        }
        Adapter::from_parts(base, &cfg, out)
    }
}
