//! `TrainableGpt2`: a GPT-2 whose parameters are candle `Var`s, with freezing.

use std::collections::HashSet;

use candle_core::{Tensor, Var};

use crate::model::Gpt2;
use crate::Result;

/// One trainable parameter.
#[derive(Clone, Debug)]
pub struct Param {
    /// Canonical HF name (`h.0.attn.c_attn.weight`).
    pub name: String,
    pub var: Var,
    /// In the weight-decay group (GPT-2 convention: only the Conv1D weight matrices; no decay
    /// on biases, LayerNorms and embeddings).
    pub decay: bool,
}

/// The default decay rule: matrices of the blocks only.
pub fn decays(name: &str) -> bool {
    name.starts_with("h.") && name.ends_with(".weight") && !name.contains(".ln_")
}

/// A model prepared for training: trainable parameters are `Var`s and the model's tensors
/// are those Vars, so `loss.backward()` reaches them. Frozen parameters are constants.
pub struct TrainableGpt2 {
    pub model: Gpt2,
    pub params: Vec<Param>,
    frozen: HashSet<String>,
}

impl TrainableGpt2 {
    /// Every parameter trainable.
    pub fn new(model: &Gpt2) -> Result<Self> {
        Self::with_frozen(model, |_| false)
    }

    /// Parameters whose name satisfies `frozen` are not trained.
    pub fn with_frozen(model: &Gpt2, frozen: impl Fn(&str) -> bool) -> Result<Self> {
        let mut params = vec![];
        let mut frozen_set = HashSet::new();
        // map_tensors keeps the model's structure (norm modes etc.); only tensors change
        let model = model.map_tensors(|name, t| {
            if frozen(name) {
                frozen_set.insert(name.to_string());
                Ok(t.detach())
            } else {
                let var = Var::from_tensor(&t.detach())?;
                let out = var.as_tensor().clone();
                params.push(Param { decay: decays(name), name: name.to_string(), var });
                Ok(out)
            }
        })?;
        Ok(TrainableGpt2 { model, params, frozen: frozen_set })
    }

    /// Freezes more parameters (by name predicate), keeping current values.
    pub fn freeze(&mut self, pred: impl Fn(&str) -> bool) -> Result<()> {
        let already = self.frozen.clone();
        let model = self.model.detached()?;
        *self = Self::with_frozen(&model, |n| already.contains(n) || pred(n))?;
        Ok(())
    }

    pub fn n_params(&self) -> usize {
        self.model.named_tensors().iter().map(|(_, t)| t.elem_count()).sum()
    }
    pub fn n_trainable(&self) -> usize {
        self.params.iter().map(|p| p.var.elem_count()).sum()
    }
    pub fn frozen(&self) -> impl Iterator<Item = &String> {
        self.frozen.iter()
    }

    /// Mean next-token cross-entropy of `x` `(B, T)` against targets `y` `(B, T)`.
    pub fn loss(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        lm_loss(&self.model, x, y)
    }

    /// A detached copy of the current model, for evaluation, generation or saving.
    pub fn snapshot(&self) -> Result<Gpt2> {
        self.model.detached()
    }

    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.name == name)
    }
}

/// Mean next-token cross-entropy of a model's logits on `x` against `y`, both `(B, T)`.
pub fn lm_loss(model: &Gpt2, x: &Tensor, y: &Tensor) -> Result<Tensor> {
    model.lm_loss(x, y)
}
