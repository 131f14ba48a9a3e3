//! `Gpt2Config`: the Hugging Face `config.json` of a GPT-2, with presets.
//!
//! Field names are HF's (`n_embd`, `n_layer`, ...), so a hub `config.json` deserialises as is;
//! fields we do not read are ignored. Only fields that change the math are kept.

use serde::{Deserialize, Serialize};
use std::path::Path;

use super::position::PositionEmbedding;
use crate::{Error, Result};

/// The MLP non-linearity. GPT-2 uses the tanh approximation ("gelu_new"); some
/// derivatives use the exact erf form ("gelu").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Activation {
    /// tanh approximation, HF names: gelu_new, gelu_pytorch_tanh, gelu_fast
    #[serde(rename = "gelu_new", alias = "gelu_pytorch_tanh", alias = "gelu_fast")]
    GeluNew,
    /// exact erf GELU, HF name: gelu
    #[serde(rename = "gelu")]
    Gelu,
    #[serde(rename = "relu")]
    Relu,
}

/// Whether each block has an MLP. `None` makes an attention-only model (no `ln_2`, no MLP
/// weights), the ablation of the one-layer knowledge paper. Not an HF field: written only when
/// `none`, so every GPT-2 config and checkpoint reads as `Standard`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MlpKind {
    #[default]
    Standard,
    None,
}

impl MlpKind {
    pub fn is_standard(&self) -> bool {
        *self == MlpKind::Standard
    }
}

fn default_eps() -> f64 {
    1e-5
}
fn default_true() -> bool {
    true
}
fn default_activation() -> Activation {
    Activation::GeluNew
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gpt2Config {
    pub vocab_size: usize,
    /// Context length (learned position embeddings).
    pub n_positions: usize,
    pub n_embd: usize,
    pub n_layer: usize,
    pub n_head: usize,
    /// MLP width; `None` means 4 * n_embd (HF convention).
    #[serde(default)]
    pub n_inner: Option<usize>,
    #[serde(default = "default_activation")]
    pub activation_function: Activation,
    #[serde(default = "default_eps")]
    pub layer_norm_epsilon: f64,
    /// Divide attention scores by sqrt(d_head).
    #[serde(default = "default_true")]
    pub scale_attn_weights: bool,
    /// Also divide scores by (layer_idx + 1) (used by some GPT-2 derivatives).
    #[serde(default)]
    pub scale_attn_by_inverse_layer_idx: bool,
    /// HF upcasts attention to f32 under this flag; gpt2lab always computes attention in
    /// f32, so it is accepted and changes nothing.
    #[serde(default)]
    pub reorder_and_upcast_attn: bool,
    #[serde(default = "default_true")]
    pub tie_word_embeddings: bool,
    #[serde(default)]
    pub bos_token_id: Option<u32>,
    #[serde(default)]
    pub eos_token_id: Option<u32>,
    /// Learned position embeddings (GPT-2) or none (not an HF field; written only when not
    /// `learned`).
    #[serde(default, skip_serializing_if = "PositionEmbedding::is_learned")]
    pub position_embedding: PositionEmbedding,
    /// Sliding-window attention per layer: `Some(w)` lets each query see only the last `w`
    /// positions (itself included), GPT-Neo's "local" layers; empty (GPT-2) = every layer
    /// global. Not an HF GPT-2 field: written only when set (`model::gpt_neo` fills it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attention_windows: Vec<Option<usize>>,
    /// `none`: attention-only blocks (see [`MlpKind`]).
    #[serde(default, skip_serializing_if = "MlpKind::is_standard")]
    pub mlp: MlpKind,
}

impl Gpt2Config {
    fn preset(n_embd: usize, n_layer: usize, n_head: usize) -> Self {
        Gpt2Config {
            vocab_size: 50257,
            n_positions: 1024,
            n_embd,
            n_layer,
            n_head,
            n_inner: None,
            activation_function: Activation::GeluNew,
            layer_norm_epsilon: 1e-5,
            scale_attn_weights: true,
            scale_attn_by_inverse_layer_idx: false,
            reorder_and_upcast_attn: false,
            tie_word_embeddings: true,
            bos_token_id: Some(50256),
            eos_token_id: Some(50256),
            position_embedding: PositionEmbedding::Learned,
            attention_windows: vec![],
            mlp: MlpKind::Standard,
        }
    }
    /// GPT-2 small, 124M.
    pub fn gpt2() -> Self {
        Self::preset(768, 12, 12)
    }
    /// 355M.
    pub fn gpt2_medium() -> Self {
        Self::preset(1024, 24, 16)
    }
    /// 774M.
    pub fn gpt2_large() -> Self {
        Self::preset(1280, 36, 20)
    }
    /// 1.5B.
    pub fn gpt2_xl() -> Self {
        Self::preset(1600, 48, 25)
    }
    /// distilgpt2, 82M.
    pub fn distilgpt2() -> Self {
        Self::preset(768, 6, 12)
    }
    /// A tiny GPT-2 for tests and `ci`-scale notebooks.
    pub fn tiny(vocab_size: usize, n_positions: usize, n_embd: usize, n_layer: usize, n_head: usize) -> Self {
        Gpt2Config { vocab_size, n_positions, bos_token_id: None, eos_token_id: None, ..Self::preset(n_embd, n_layer, n_head) }
    }
    /// Preset by hub id ("gpt2", "gpt2-medium", "openai-community/gpt2-large", ...).
    pub fn by_name(name: &str) -> Option<Self> {
        let short = name.rsplit('/').next().unwrap_or(name);
        match short {
            "gpt2" => Some(Self::gpt2()),
            "gpt2-medium" => Some(Self::gpt2_medium()),
            "gpt2-large" => Some(Self::gpt2_large()),
            "gpt2-xl" => Some(Self::gpt2_xl()),
            "distilgpt2" => Some(Self::distilgpt2()),
            _ => None,
        }
    }

    pub fn d_head(&self) -> usize {
        self.n_embd / self.n_head
    }
    /// True when blocks have an MLP (`mlp` is not `none`).
    pub fn has_mlp(&self) -> bool {
        self.mlp.is_standard()
    }
    pub fn d_mlp(&self) -> usize {
        self.n_inner.unwrap_or(self.n_embd.saturating_mul(4)) // saturating: validate() runs on any input
    }

    /// Largest parameter count `validate` accepts (2^36 ≈ 69 B parameters, 275 GB in f32):
    /// a bound so that absurd sizes are an error before any size arithmetic can overflow or a
    /// random init tries to allocate them.
    pub const MAX_PARAMS: u128 = 1 << 36;

    /// Checks every field makes a GPT-2; the error names the first bad field. Called where a
    /// model is built or a config file is read, not by the constructors, so a placeholder such
    /// as `tiny(0, ..)` (vocabulary filled in later from data) can be built and edited.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &'static str, msg: String| Err(Error::ConfigField { path: "<config>".into(), field, msg });
        if !self.attention_windows.is_empty() && self.attention_windows.len() != self.n_layer {
            return bad("attention_windows", format!("gives {} layers, the model has n_layer = {}", self.attention_windows.len(), self.n_layer));
        }
        if self.attention_windows.contains(&Some(0)) {
            return bad("attention_windows", "a window must be at least 1 (got 0)".into());
        }
        for (field, v) in [("vocab_size", self.vocab_size), ("n_positions", self.n_positions), ("n_embd", self.n_embd), ("n_layer", self.n_layer), ("n_head", self.n_head)] {
            if v == 0 {
                return bad(field, "must be at least 1 (got 0)".into());
            }
        }
        if self.n_inner == Some(0) {
            return bad("n_inner", "must be at least 1 or null (got 0)".into());
        }
        if self.n_embd % self.n_head != 0 {
            return bad("n_head", format!("{} does not divide n_embd {}", self.n_head, self.n_embd));
        }
        // token ids are u32
        if self.vocab_size as u128 > u32::MAX as u128 + 1 {
            return bad("vocab_size", format!("{} exceeds the u32 token-id range", self.vocab_size));
        }
        if !(self.layer_norm_epsilon.is_finite() && self.layer_norm_epsilon > 0.0) {
            return bad("layer_norm_epsilon", format!("must be finite and positive (got {})", self.layer_norm_epsilon));
        }
        // bos/eos ids outside the vocabulary are not rejected: HF's tiny test models (vocab
        // 1000, ids 50256) have them, and an id that never occurs only never matches.
        for (field, v) in [("n_positions", self.n_positions), ("n_embd", self.n_embd), ("n_layer", self.n_layer), ("n_inner", self.d_mlp())] {
            if v > 1 << 32 {
                return bad(field, format!("{v} is beyond any trainable size"));
            }
        }
        // every size < 2^33 here, so these u128 products cannot overflow
        let (c, m, v, p, l) = (self.n_embd as u128, self.d_mlp() as u128, self.vocab_size as u128, self.n_positions as u128, self.n_layer as u128);
        let per_mlp = if self.has_mlp() { 2 * c + 2 * c * m + m + c } else { 0 }; // ln_2 + c_fc + c_proj
        let n = v * c + p * c + l * (4 * c * c + 6 * c + per_mlp) + 2 * c;
        if n > Self::MAX_PARAMS {
            return bad("vocab_size, n_positions, n_embd, n_layer, n_inner", format!("give {n} parameters, more than the {} gpt2lab accepts", Self::MAX_PARAMS));
        }
        if !self.tie_word_embeddings {
            return Err(Error::Unsupported("untied lm_head (tie_word_embeddings=false)".into()));
        }
        Ok(())
    }

    pub fn from_json_str(s: &str) -> Result<Self> {
        let cfg: Self = serde_json::from_str(s).map_err(|e| Error::Config { path: "<string>".into(), msg: e.to_string() })?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let s = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let cfg: Self = serde_json::from_str(&s).map_err(|e| Error::Config { path: path.display().to_string(), msg: e.to_string() })?;
        cfg.validate().map_err(|e| match e {
            Error::Config { msg, .. } => Error::Config { path: path.display().to_string(), msg },
            Error::ConfigField { field, msg, .. } => Error::ConfigField { path: path.display().to_string(), field, msg },
            e => e,
        })?;
        Ok(cfg)
    }

    /// Layer `l`'s attention window (`None`: global).
    pub fn attention_window(&self, l: usize) -> Option<usize> {
        self.attention_windows.get(l).copied().flatten()
    }

    /// HF-compatible `config.json` text (adds `model_type` and `architectures`).
    pub fn to_hf_json(&self) -> String {
        let mut v = serde_json::to_value(self).expect("config serialises");
        let m = v.as_object_mut().expect("object");
        m.insert("model_type".into(), "gpt2".into());
        m.insert("architectures".into(), serde_json::json!(["GPT2LMHeadModel"]));
        m.insert("n_ctx".into(), self.n_positions.into());
        if self.n_inner.is_none() {
            m.insert("n_inner".into(), serde_json::Value::Null);
        }
        serde_json::to_string_pretty(&v).expect("json")
    }

    /// Parameter count (tied embeddings counted once).
    pub fn n_params(&self) -> usize {
        let (c, m) = (self.n_embd, self.d_mlp());
        let mlp = if self.has_mlp() { 2 * c + (c * m + m) + (m * c + c) } else { 0 }; // ln_2 + c_fc + c_proj
        let block = 2 * c + (c * 3 * c + 3 * c) + (c * c + c) + mlp;
        self.vocab_size * c + self.n_positions * c + self.n_layer * block + 2 * c
    }
}
