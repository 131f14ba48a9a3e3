//! Parameter groups selected by name predicates, each with its own optimizer settings
//! (PyTorch's `param_groups`): weight decay vs none, hidden matrices vs vectors, embeddings.
//!
//! Groups are ordered and the first whose selector matches a parameter's name (and shape)
//! takes it. A group that takes no parameter, or a parameter that no group takes, is an
//! [`Error::EmptyParamGroup`] / [`Error::UngroupedParam`]: a misspelt selector silently
//! training everything with the wrong settings is the failure this guards against.

use std::collections::HashMap;

use candle_core::Tensor;
use serde::{Deserialize, Serialize};

use super::params::{decays, Param};
use crate::{Error, Result};

/// Which parameters a group takes (by HF name, and rank where it says so).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Select {
    /// Every parameter.
    All,
    /// GPT-2's decay convention ([`decays`]): the blocks' weight matrices (nanoGPT's
    /// "weights of Linear modules"; embeddings, LayerNorms and biases excluded).
    Decay,
    /// Everything [`Select::Decay`] does not take.
    NoDecay,
    /// Hidden weight matrices of attention and MLP (the modules Conda and Muon apply to in the
    /// official GPT-2 scripts: Linear weights whose module name contains `attn` or `mlp`).
    HiddenMatrices,
    /// Every rank-2 parameter (embeddings included).
    Matrices,
    /// Every parameter of rank < 2 (biases, LayerNorm gains).
    Vectors,
    /// Token and position embeddings (`wte`, `wpe`).
    Embeddings,
    /// Names containing any of these substrings.
    NameContains(Vec<String>),
}

impl Select {
    pub fn matches(&self, name: &str, rank: usize) -> bool {
        match self {
            Select::All => true,
            Select::Decay => decays(name),
            Select::NoDecay => !decays(name),
            Select::HiddenMatrices => rank == 2 && is_conv1d_weight(name),
            Select::Matrices => rank == 2,
            Select::Vectors => rank < 2,
            Select::Embeddings => name.starts_with("wte.") || name.starts_with("wpe."),
            Select::NameContains(parts) => parts.iter().any(|p| name.contains(p.as_str())),
        }
    }
}

/// The weight of a GPT-2 Conv1D (attention `c_attn`/`c_proj`, MLP `c_fc`/`c_proj`), stored
/// `[in, out]`: the transpose of the `nn.Linear` `[out, in]` layout the official optimizer code
/// sees. Shape-dependent rules (Newton–Schulz's orientation, Conda's left/right projector,
/// Muon's √(rows/cols)) are applied in the Linear layout, see [`to_linear`].
pub fn is_conv1d_weight(name: &str) -> bool {
    name.starts_with("h.") && name.ends_with(".weight") && (name.contains(".attn.") || name.contains(".mlp."))
}

/// A parameter (or its gradient) in `nn.Linear` layout `[out, in]`: transposed for Conv1D
/// weights, unchanged otherwise. Its own inverse.
pub fn to_linear(name: &str, t: &Tensor) -> Result<Tensor> {
    if is_conv1d_weight(name) && t.rank() == 2 {
        Ok(t.t()?.contiguous()?)
    } else {
        Ok(t.clone())
    }
}

/// One group: a selector and the settings its parameters get.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParamGroup {
    pub name: String,
    pub select: Select,
    /// Decoupled weight decay of this group.
    pub weight_decay: f64,
    /// The group's learning rate is the schedule's times this.
    pub lr_scale: f64,
}

impl ParamGroup {
    pub fn new(name: &str, select: Select, weight_decay: f64) -> Self {
        ParamGroup {
            name: name.into(),
            select,
            weight_decay,
            lr_scale: 1.0,
        }
    }
    pub fn lr_scale(mut self, s: f64) -> Self {
        self.lr_scale = s;
        self
    }
}

/// Ordered parameter groups; the first match wins.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ParamGroups {
    pub groups: Vec<ParamGroup>,
}

impl ParamGroups {
    pub fn new(groups: Vec<ParamGroup>) -> Self {
        ParamGroups { groups }
    }
    /// One group holding everything (PyTorch's default `model.parameters()`).
    pub fn single(weight_decay: f64) -> Self {
        Self::new(vec![ParamGroup::new("all", Select::All, weight_decay)])
    }
    /// nanoGPT's `configure_optimizers`: decay on the blocks' weight matrices, none elsewhere.
    pub fn decay_split(weight_decay: f64) -> Self {
        Self::new(vec![ParamGroup::new("decay", Select::Decay, weight_decay), ParamGroup::new("no_decay", Select::NoDecay, 0.0)])
    }

    /// The group index of every parameter, by name; errors on an empty group or an
    /// ungrouped parameter.
    pub fn assign(&self, params: &[Param]) -> Result<HashMap<String, usize>> {
        if self.groups.is_empty() {
            return Err(Error::EmptyParamGroup { group: "<no groups given>".into() });
        }
        let mut out = HashMap::new();
        let mut counts = vec![0usize; self.groups.len()];
        for p in params {
            let rank = p.var.rank();
            let Some(i) = self.groups.iter().position(|g| g.select.matches(&p.name, rank)) else {
                return Err(Error::UngroupedParam {
                    param: p.name.clone(),
                    groups: self.groups.iter().map(|g| g.name.clone()).collect(),
                });
            };
            counts[i] += 1;
            out.insert(p.name.clone(), i);
        }
        if let Some(i) = counts.iter().position(|&c| c == 0) {
            return Err(Error::EmptyParamGroup { group: self.groups[i].name.clone() });
        }
        Ok(out)
    }

    /// A table of the assignment (group, parameters, elements), for notebooks.
    pub fn summary(&self, params: &[Param]) -> Result<Vec<(String, usize, usize, f64, f64)>> {
        let a = self.assign(params)?;
        Ok(self
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let ps: Vec<&Param> = params.iter().filter(|p| a[&p.name] == i).collect();
                (g.name.clone(), ps.len(), ps.iter().map(|p| p.var.elem_count()).sum(), g.weight_decay, g.lr_scale)
            })
            .collect())
    }
}

/// Resolves groups lazily on the first step (the optimizer sees its parameters only then).
#[derive(Clone, Debug, Default)]
pub(crate) struct GroupCache {
    map: Option<HashMap<String, usize>>,
}

impl GroupCache {
    /// (weight decay, lr scale) of `p`; `default` when no groups were given.
    pub(crate) fn settings(&mut self, groups: Option<&ParamGroups>, params: &[Param], p: &Param, default_wd: f64) -> Result<(f64, f64)> {
        let Some(groups) = groups else { return Ok((default_wd, 1.0)) };
        if self.map.as_ref().is_none_or(|m| !m.contains_key(&p.name)) {
            self.map = Some(groups.assign(params)?);
        }
        let g = &groups.groups[self.map.as_ref().expect("just assigned")[&p.name]];
        Ok((g.weight_decay, g.lr_scale))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Gpt2, Gpt2Config};
    use crate::train::TrainableGpt2;

    fn params() -> Vec<Param> {
        let m = Gpt2::random(Gpt2Config::tiny(20, 8, 8, 2, 2), 0, &candle_core::Device::Cpu).unwrap();
        TrainableGpt2::new(&m).unwrap().params
    }

    #[test]
    fn decay_split_is_nanogpt_grouping() {
        let ps = params();
        let a = ParamGroups::decay_split(0.1).assign(&ps).unwrap();
        assert_eq!(a["h.0.attn.c_attn.weight"], 0);
        assert_eq!(a["h.1.mlp.c_proj.weight"], 0);
        for n in ["wte.weight", "wpe.weight", "h.0.ln_1.weight", "h.0.attn.c_attn.bias", "ln_f.bias"] {
            assert_eq!(a[n], 1, "{n}");
        }
        // 4 Conv1D matrices per block
        assert_eq!(a.values().filter(|&&g| g == 0).count(), 8);
    }

    #[test]
    fn hidden_matrices_exclude_embeddings_and_vectors() {
        let ps = params();
        let sel = Select::HiddenMatrices;
        let hidden: Vec<&str> = ps.iter().filter(|p| sel.matches(&p.name, p.var.rank())).map(|p| p.name.as_str()).collect();
        assert_eq!(hidden.len(), 8);
        assert!(!hidden.contains(&"wte.weight"));
        assert!(Select::Embeddings.matches("wpe.weight", 2) && !Select::Embeddings.matches("h.0.mlp.c_fc.weight", 2));
        assert!(Select::Vectors.matches("h.0.ln_1.bias", 1) && !Select::Vectors.matches("wte.weight", 2));
    }

    #[test]
    fn empty_and_ungrouped_are_typed_errors() {
        let ps = params();
        let g = ParamGroups::new(vec![ParamGroup::new("typo", Select::NameContains(vec!["atn".into()]), 0.1), ParamGroup::new("rest", Select::All, 0.0)]);
        assert!(matches!(g.assign(&ps), Err(Error::EmptyParamGroup { group }) if group == "typo"));
        let g = ParamGroups::new(vec![ParamGroup::new("mats", Select::Matrices, 0.1)]);
        assert!(matches!(g.assign(&ps), Err(Error::UngroupedParam { .. })));
        assert!(matches!(ParamGroups::default().assign(&ps), Err(Error::EmptyParamGroup { .. })));
    }

    #[test]
    fn linear_layout_transposes_conv1d_only() {
        let t = Tensor::arange(0f32, 6., &candle_core::Device::Cpu).unwrap().reshape((2, 3)).unwrap();
        assert_eq!(to_linear("h.0.mlp.c_fc.weight", &t).unwrap().dims(), &[3, 2]);
        assert_eq!(to_linear("wte.weight", &t).unwrap().dims(), &[2, 3]);
    }
}
