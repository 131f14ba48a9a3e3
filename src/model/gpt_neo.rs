//! GPT-Neo checkpoints (EleutherAI; the TinyStories models of Eldan & Li 2023) loaded as a
//! [`Gpt2`]: same blocks, hooks and tools, with three differences handled here.
//!
//! GPT-Neo is GPT-2 with (1) separate `q_proj`/`k_proj`/`v_proj` `nn.Linear`s without bias
//! (here fused into GPT-2's `c_attn` Conv1D layout with a zero bias) and `nn.Linear` layouts
//! elsewhere (transposed into Conv1D's `[in, out]`), (2) no 1/√d_head scaling of the attention
//! scores (`scale_attn_weights = false`), and (3) layers alternating between global attention
//! and local attention over the last `window_size` positions (`Gpt2Config::attention_windows`).
//! The conversion is tested against transformers' `GPTNeoForCausalLM` on random checkpoints
//! (`tests/gpt_neo.rs`, fixtures by `scripts/make_neo_fixtures.py`).
//!
//! Saving: [`Gpt2::save_pretrained`] writes gpt2lab's GPT-2 layout with `attention_windows`,
//! which `Gpt2::from_dir` reads back; transformers' GPT-2 class would ignore the windows.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use serde::Deserialize;

use super::config::{Activation, Gpt2Config};
use super::gpt2::Gpt2;
use super::position::PositionEmbedding;
use super::weights::{check_finite, load_safetensors, weight_files};
use crate::{Error, Result};

/// The fields of a GPT-Neo `config.json` that change the math.
#[derive(Clone, Debug, Deserialize)]
pub struct GptNeoConfig {
    pub vocab_size: usize,
    pub max_position_embeddings: usize,
    pub hidden_size: usize,
    pub num_layers: usize,
    pub num_heads: usize,
    #[serde(default)]
    pub intermediate_size: Option<usize>,
    pub window_size: usize,
    /// `[[["global", "local"], 12]]`: a pattern and how many times it repeats.
    pub attention_types: Vec<(Vec<String>, usize)>,
    #[serde(default = "gelu_new")]
    pub activation_function: Activation,
    #[serde(default = "eps")]
    pub layer_norm_epsilon: f64,
    #[serde(default)]
    pub bos_token_id: Option<u32>,
    #[serde(default)]
    pub eos_token_id: Option<u32>,
}

fn gelu_new() -> Activation {
    Activation::GeluNew
}
fn eps() -> f64 {
    1e-5
}

impl GptNeoConfig {
    pub fn from_file(path: &Path) -> Result<Self> {
        let s = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        serde_json::from_str(&s).map_err(|e| Error::Config { path: path.display().to_string(), msg: e.to_string() })
    }

    /// The per-layer attention kinds, expanded (`"global"` / `"local"`).
    pub fn layer_kinds(&self) -> Vec<String> {
        self.attention_types.iter().flat_map(|(pattern, n)| (0..*n).flat_map(move |_| pattern.iter().cloned())).collect()
    }

    /// The equivalent [`Gpt2Config`]: no score scaling, windows on the local layers.
    pub fn to_gpt2(&self) -> Result<Gpt2Config> {
        let bad = |field: &'static str, msg: String| Error::ConfigField { path: "<gpt-neo config>".into(), field, msg };
        let kinds = self.layer_kinds();
        if kinds.len() != self.num_layers {
            return Err(bad("attention_types", format!("expands to {} layers, num_layers is {}", kinds.len(), self.num_layers)));
        }
        let windows = kinds
            .iter()
            .map(|k| match k.as_str() {
                "global" => Ok(None),
                "local" => Ok(Some(self.window_size)),
                other => Err(bad("attention_types", format!("unknown attention type `{other}` (global, local)"))),
            })
            .collect::<Result<Vec<_>>>()?;
        let cfg = Gpt2Config {
            vocab_size: self.vocab_size,
            n_positions: self.max_position_embeddings,
            n_embd: self.hidden_size,
            n_layer: self.num_layers,
            n_head: self.num_heads,
            n_inner: self.intermediate_size,
            activation_function: self.activation_function,
            layer_norm_epsilon: self.layer_norm_epsilon,
            scale_attn_weights: false,
            scale_attn_by_inverse_layer_idx: false,
            reorder_and_upcast_attn: false,
            tie_word_embeddings: true,
            bos_token_id: self.bos_token_id,
            eos_token_id: self.eos_token_id,
            position_embedding: PositionEmbedding::Learned,
            attention_windows: windows,
            mlp: Default::default(),
        };
        cfg.validate()?;
        Ok(cfg)
    }
}

/// Is this `config.json` a GPT-Neo's (`"model_type": "gpt_neo"`)?
pub fn is_gpt_neo(config_json: &Path) -> bool {
    std::fs::read_to_string(config_json)
        .ok()
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
        .and_then(|v| v.get("model_type").and_then(|m| m.as_str()).map(|m| m == "gpt_neo"))
        .unwrap_or(false)
}

/// GPT-Neo tensors (canonical names, no `transformer.` prefix) → GPT-2's names and layouts.
pub fn convert_tensors(cfg: &Gpt2Config, hf: &HashMap<String, Tensor>) -> Result<HashMap<String, Tensor>> {
    let get = |n: &str| hf.get(n).cloned().ok_or_else(|| Error::Shape(format!("GPT-Neo checkpoint has no tensor `{n}`")));
    let c = cfg.n_embd;
    let mut out = HashMap::new();
    for n in ["wte.weight", "wpe.weight", "ln_f.weight", "ln_f.bias"] {
        out.insert(n.to_string(), get(n)?);
    }
    for i in 0..cfg.n_layer {
        let p = |s: &str| format!("h.{i}.{s}");
        for n in ["ln_1.weight", "ln_1.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.bias", "mlp.c_proj.bias"] {
            out.insert(p(n), get(&p(n))?);
        }
        // nn.Linear weights are [out, in]; Conv1D's are [in, out]
        let lin = |n: &str| -> Result<Tensor> { Ok(get(&p(n))?.t()?.contiguous()?) };
        let qkv = Tensor::cat(&[lin("attn.attention.q_proj.weight")?, lin("attn.attention.k_proj.weight")?, lin("attn.attention.v_proj.weight")?], 1)?; // (C, 3C)
        let dev = qkv.device().clone();
        out.insert(p("attn.c_attn.weight"), qkv);
        out.insert(p("attn.c_attn.bias"), Tensor::zeros(3 * c, candle_core::DType::F32, &dev)?);
        out.insert(p("attn.c_proj.weight"), lin("attn.attention.out_proj.weight")?);
        out.insert(p("attn.c_proj.bias"), get(&p("attn.attention.out_proj.bias"))?);
        out.insert(p("mlp.c_fc.weight"), lin("mlp.c_fc.weight")?);
        out.insert(p("mlp.c_proj.weight"), lin("mlp.c_proj.weight")?);
    }
    Ok(out)
}

impl Gpt2 {
    /// Loads a GPT-Neo checkpoint directory (`config.json` with `model_type: gpt_neo` +
    /// safetensors). [`Gpt2::from_dir`] calls this for GPT-Neo directories.
    pub fn from_gpt_neo_dir(dir: impl AsRef<Path>, device: &Device) -> Result<Self> {
        let dir = dir.as_ref();
        let neo = GptNeoConfig::from_file(&dir.join("config.json"))?;
        Self::from_gpt_neo_files(&neo, &weight_files(dir)?, device)
    }

    /// Loads a GPT-Neo from the hub (e.g. `roneneldan/TinyStories-33M`) at `revision`; needs
    /// `model.safetensors` in the repository (a `pytorch_model.bin`-only repository is an error
    /// that says so).
    #[cfg(feature = "hub")]
    pub fn from_pretrained_gpt_neo(repo_id: &str, revision: &str, device: &Device) -> Result<Self> {
        let cfg_path = super::hub::hub_files_at(repo_id, revision, &["config.json"])?.remove(0);
        let neo = GptNeoConfig::from_file(&cfg_path)?;
        let files = super::hub::hub_files_at(repo_id, revision, &["model.safetensors"])
            .map_err(|e| Error::Hub(format!("{repo_id}: no model.safetensors at {revision} ({e}); GPT-Neo repositories with only pytorch_model.bin need converting (transformers: save_pretrained(safe_serialization=True))")))?;
        Self::from_gpt_neo_files(&neo, &files, device)
    }

    /// A GPT-Neo from its config and safetensors files (NaN/inf weights refused).
    pub fn from_gpt_neo_files(neo: &GptNeoConfig, files: &[std::path::PathBuf], device: &Device) -> Result<Self> {
        let model = Self::from_gpt_neo_unchecked(neo, files, device)?;
        check_finite(&model)?;
        Ok(model)
    }

    pub(crate) fn from_gpt_neo_unchecked(neo: &GptNeoConfig, files: &[std::path::PathBuf], device: &Device) -> Result<Self> {
        let cfg = neo.to_gpt2()?;
        let tensors = convert_tensors(&cfg, &load_safetensors(files, device)?)?;
        Gpt2::from_tensors(cfg, &tensors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn neo(types: serde_json::Value, layers: usize) -> GptNeoConfig {
        serde_json::from_value(serde_json::json!({
            "vocab_size": 10, "max_position_embeddings": 8, "hidden_size": 8, "num_layers": layers,
            "num_heads": 2, "window_size": 3, "attention_types": types
        }))
        .unwrap()
    }

    #[test]
    fn attention_types_expand_to_per_layer_windows() {
        let c = neo(serde_json::json!([[["global", "local"], 2]]), 4).to_gpt2().unwrap();
        assert_eq!(c.attention_windows, vec![None, Some(3), None, Some(3)]);
        assert!(!c.scale_attn_weights);
    }

    #[test]
    fn inconsistent_configs_are_typed_errors() {
        assert!(matches!(neo(serde_json::json!([[["global", "local"], 2]]), 3).to_gpt2(), Err(Error::ConfigField { field: "attention_types", .. })));
        assert!(matches!(neo(serde_json::json!([[["sparse"], 2]]), 2).to_gpt2(), Err(Error::ConfigField { field: "attention_types", .. })));
    }
}
