//! The `Optimizer` trait and the reference optimizers (AdamW, SGD with momentum).
//! Paper optimizers (Sophia, Conda, Muon, ...) implement the same trait.

use std::collections::HashMap;

use candle_core::backprop::GradStore;
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

use super::groups::{GroupCache, ParamGroups};
use super::params::Param;
use crate::{Error, Result};

/// Reads back per-parameter pairs of state tensors saved as `{name}.{first}` and
/// `{name}.{second}` (AdamW's moments, Sophia's momentum and Hessian, ...): `(name, first,
/// second)` for every `first` entry; one without its partner is an error.
pub(crate) fn state_pairs(state: &HashMap<String, Tensor>, first: &str, second: &str) -> Result<Vec<(String, Tensor, Tensor)>> {
    let mut out = vec![];
    for (k, a) in state {
        if let Some(n) = k.strip_suffix(&format!(".{first}")) {
            let b = state.get(&format!("{n}.{second}")).ok_or_else(|| Error::Msg(format!("optimizer state has {k} but no {n}.{second}")))?;
            out.push((n.to_string(), a.clone(), b.clone()));
        }
    }
    Ok(out)
}

pub trait Optimizer: Send {
    /// Short name for logs and checkpoints ("adamw", "sgd").
    fn name(&self) -> &'static str;
    /// Updates every param that has a gradient in `grads`.
    fn step(&mut self, params: &[Param], grads: &GradStore) -> Result<()>;
    fn learning_rate(&self) -> f64;
    fn set_learning_rate(&mut self, lr: f64);
    /// Optimizer state as named tensors (for checkpoints), plus the step count.
    fn state(&self) -> (usize, Vec<(String, Tensor)>);
    fn load_state(&mut self, step: usize, state: &HashMap<String, Tensor>) -> Result<()>;
    /// Optimizers that precondition with a curvature estimate (SophiaG) return true after a
    /// step that should be followed by a curvature pass: the `Trainer` then backpropagates the
    /// loss on labels sampled from the model ([`super::curvature`]) and hands those gradients
    /// to [`Optimizer::update_curvature`].
    fn wants_curvature(&self) -> bool {
        false
    }
    fn update_curvature(&mut self, _params: &[Param], _grads: &GradStore) -> Result<()> {
        Ok(())
    }
    /// Optimizer-internal metrics (SophiaG's `win_rate`, Hessian norm), name and value.
    fn diagnostics(&self) -> Vec<(String, f64)> {
        vec![]
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdamWConfig {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    /// Decay every parameter (PyTorch's default single group) instead of only the params
    /// marked `decay` (biases, LayerNorms and embeddings excluded).
    pub decay_all: bool,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1, decay_all: false }
    }
}

/// AdamW (Loshchilov & Hutter), in PyTorch's exact update order: decoupled decay
/// `p ← p·(1 − lr·wd)`, then `p ← p − lr·m̂/(√v̂ + eps)` with bias-corrected moments.
pub struct AdamW {
    pub cfg: AdamWConfig,
    t: usize,
    moments: HashMap<String, (Tensor, Tensor)>,
    /// Per-group weight decay and lr scale (None: `cfg.weight_decay` on the `decay` params).
    groups: Option<ParamGroups>,
    group_cache: GroupCache,
}

impl AdamW {
    pub fn new(cfg: AdamWConfig) -> Self {
        AdamW { cfg, t: 0, moments: HashMap::new(), groups: None, group_cache: GroupCache::default() }
    }
    /// AdamW with parameter groups: each group's weight decay replaces `cfg.weight_decay`
    /// (and `decay_all`), its learning rate is `lr · lr_scale`.
    pub fn with_groups(cfg: AdamWConfig, groups: ParamGroups) -> Self {
        AdamW { groups: Some(groups), ..Self::new(cfg) }
    }
}

impl Optimizer for AdamW {
    fn name(&self) -> &'static str {
        "adamw"
    }

    fn step(&mut self, params: &[Param], grads: &GradStore) -> Result<()> {
        self.t += 1;
        let c = &self.cfg;
        let (bc1, bc2) = (1.0 - c.beta1.powi(self.t as i32), 1.0 - c.beta2.powi(self.t as i32));
        for p in params {
            // Gradients carry the autograd history of the backward pass; detach them so the
            // moments (kept across steps) do not chain every step's graph together.
            let Some(g) = grads.get(p.var.as_tensor()).map(|g| g.detach()) else { continue };
            let g = &g;
            let (m, v) = match self.moments.get(&p.name) {
                Some((m, v)) => (m.clone(), v.clone()),
                None => (g.zeros_like()?, g.zeros_like()?),
            };
            let m = ((m * c.beta1)? + (g * (1.0 - c.beta1))?)?;
            let v = ((v * c.beta2)? + (g.sqr()? * (1.0 - c.beta2))?)?;
            let default_wd = if c.decay_all || p.decay { c.weight_decay } else { 0.0 };
            let (wd, lr_scale) = self.group_cache.settings(self.groups.as_ref(), params, p, default_wd)?;
            let lr = c.lr * lr_scale;
            let mut theta = p.var.as_tensor().detach();
            if wd != 0.0 {
                theta = (theta * (1.0 - lr * wd))?;
            }
            let denom = ((v.clone() / bc2)?.sqrt()? + c.eps)?;
            let update = ((m.clone() / bc1)? / denom)?;
            p.var.set(&(theta - (update * lr)?)?)?;
            self.moments.insert(p.name.clone(), (m, v));
        }
        Ok(())
    }

    fn learning_rate(&self) -> f64 {
        self.cfg.lr
    }
    fn set_learning_rate(&mut self, lr: f64) {
        self.cfg.lr = lr;
    }

    fn state(&self) -> (usize, Vec<(String, Tensor)>) {
        let mut v = vec![];
        for (n, (m, s)) in &self.moments {
            v.push((format!("{n}.exp_avg"), m.clone()));
            v.push((format!("{n}.exp_avg_sq"), s.clone()));
        }
        v.sort_by(|a, b| a.0.cmp(&b.0));
        (self.t, v)
    }

    fn load_state(&mut self, step: usize, state: &HashMap<String, Tensor>) -> Result<()> {
        self.t = step;
        self.moments = state_pairs(state, "exp_avg", "exp_avg_sq")?.into_iter().map(|(n, m, s)| (n, (m, s))).collect();
        Ok(())
    }
}

/// SGD with optional momentum and (coupled, L2) weight decay, as `torch.optim.SGD`.
pub struct Sgd {
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    t: usize,
    buf: HashMap<String, Tensor>,
}

impl Sgd {
    pub fn new(lr: f64, momentum: f64, weight_decay: f64) -> Self {
        Sgd { lr, momentum, weight_decay, t: 0, buf: HashMap::new() }
    }
}

impl Optimizer for Sgd {
    fn name(&self) -> &'static str {
        "sgd"
    }

    fn step(&mut self, params: &[Param], grads: &GradStore) -> Result<()> {
        self.t += 1;
        for p in params {
            let Some(g) = grads.get(p.var.as_tensor()).map(|g| g.detach()) else { continue };
            let g = &g;
            let theta = p.var.as_tensor().detach();
            let mut d = if self.weight_decay != 0.0 && p.decay { (g + (&theta * self.weight_decay)?)? } else { g.clone() };
            if self.momentum != 0.0 {
                d = match self.buf.get(&p.name) {
                    Some(b) => ((b * self.momentum)? + d)?,
                    None => d,
                };
                self.buf.insert(p.name.clone(), d.clone());
            }
            p.var.set(&(theta - (d * self.lr)?)?)?;
        }
        Ok(())
    }

    fn learning_rate(&self) -> f64 {
        self.lr
    }
    fn set_learning_rate(&mut self, lr: f64) {
        self.lr = lr;
    }
    fn state(&self) -> (usize, Vec<(String, Tensor)>) {
        let mut v: Vec<_> = self.buf.iter().map(|(n, b)| (format!("{n}.momentum_buffer"), b.clone())).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        (self.t, v)
    }
    fn load_state(&mut self, step: usize, state: &HashMap<String, Tensor>) -> Result<()> {
        self.t = step;
        self.buf = state.iter().filter_map(|(k, t)| k.strip_suffix(".momentum_buffer").map(|n| (n.to_string(), t.clone()))).collect();
        Ok(())
    }
}

/// The global L2 norm of the gradients of `params`.
pub fn grad_norm(params: &[Param], grads: &GradStore) -> Result<f64> {
    let mut sq = 0f64;
    for p in params {
        if let Some(g) = grads.get(p.var.as_tensor()) {
            sq += g.sqr()?.sum_all()?.to_dtype(candle_core::DType::F64)?.to_scalar::<f64>()?;
        }
    }
    Ok(sq.sqrt())
}

/// Scales gradients so their global norm is at most `max_norm` (torch's clip_grad_norm_).
/// Returns the norm before clipping.
pub fn clip_grad_norm(params: &[Param], grads: &mut GradStore, max_norm: f64) -> Result<f64> {
    let norm = grad_norm(params, grads)?;
    let coef = max_norm / (norm + 1e-6);
    if coef < 1.0 {
        for p in params {
            if let Some(g) = grads.get(p.var.as_tensor()) {
                let scaled = (g * coef)?;
                grads.insert(p.var.as_tensor(), scaled);
            }
        }
    }
    Ok(norm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn state_pairs_reads_back_every_pair_and_refuses_a_missing_partner() {
        let t = |v: f32| Tensor::new(&[v], &Device::Cpu).unwrap();
        let mut state: HashMap<String, Tensor> =
            [("w.exp_avg", 1.0), ("w.exp_avg_sq", 2.0), ("b.exp_avg", 3.0), ("b.exp_avg_sq", 4.0)].into_iter().map(|(k, v)| (k.to_string(), t(v))).collect();
        let mut pairs = state_pairs(&state, "exp_avg", "exp_avg_sq").unwrap();
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let got: Vec<(String, f32, f32)> = pairs.iter().map(|(n, a, b)| (n.clone(), a.to_vec1::<f32>().unwrap()[0], b.to_vec1::<f32>().unwrap()[0])).collect();
        assert_eq!(got, vec![("b".to_string(), 3.0, 4.0), ("w".to_string(), 1.0, 2.0)]);
        state.remove("b.exp_avg_sq");
        assert!(state_pairs(&state, "exp_avg", "exp_avg_sq").is_err());
    }
}
