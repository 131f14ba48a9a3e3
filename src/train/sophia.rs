//! SophiaG (Liu, Li, Hall, Liang, Ma, ICLR 2024): a clipped, diagonally preconditioned
//! update whose preconditioner is a moving average of Gauss–Newton–Bartlett Hessian-diagonal
//! estimates, refreshed every `k` steps by a pass with labels sampled from the model
//! ([`super::curvature`]).
//!
//! Follows the official `sophia.py` (`_single_tensor_sophiag`) step for step, per parameter:
//!
//! ```text
//! θ ← θ (1 − lr·wd)                                  decoupled decay, first
//! m ← β1 m + (1 − β1) g
//! θ ← θ − lr · sign(m) · min(|m| / (ρ·B·h + 1e-15), 1)
//! ```
//!
//! and `update_hessian`: `h ← β2 h + (1 − β2) ĝ ⊙ ĝ`, with ĝ the sampled-label gradient. `B`
//! is the number of tokens per step (`total_bs · block_size` in `train_sophiag.py`). Before the
//! first curvature pass h = 0, so every coordinate is clipped (a sign step of size lr), as in
//! the official code. `win_rate` is the fraction of coordinates *not* clipped,
//! |m| < ρ·B·h, measured after each curvature update as `train_sophiag.py` logs it.

use std::collections::HashMap;

use candle_core::backprop::GradStore;
use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};

use super::groups::{GroupCache, ParamGroups};
use super::optim::Optimizer;
use super::params::Param;
use crate::{Error, Result};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SophiaConfig {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    /// ρ: the clipping scale (0.05 for GPT-2 small in the official config).
    pub rho: f64,
    /// Decoupled weight decay of the `decay` params (ignored when groups are given).
    pub weight_decay: f64,
    /// B in ρ·B·h: tokens per optimizer step (480 × 1024 in the official GPT-2 runs).
    pub tokens_per_step: usize,
    /// k: a curvature pass after every k-th step (10 in the official runs).
    pub hessian_every: usize,
}

impl Default for SophiaConfig {
    /// The official GPT-2 small SophiaG recipe (`config/train_gpt2_small_sophiag.py`).
    fn default() -> Self {
        SophiaConfig {
            lr: 6e-4,
            beta1: 0.965,
            beta2: 0.99,
            rho: 0.05,
            weight_decay: 0.2,
            tokens_per_step: 480 * 1024,
            hessian_every: 10,
        }
    }
}

impl SophiaConfig {
    fn validate(&self) -> Result<()> {
        let bad = |f: &'static str, m: String| {
            Err(Error::ConfigField {
                path: "SophiaConfig".into(),
                field: f,
                msg: m,
            })
        };
        if !(0.0..1.0).contains(&self.beta1) {
            return bad("beta1", format!("= {} is not in [0, 1)", self.beta1));
        }
        if !(0.0..1.0).contains(&self.beta2) {
            return bad("beta2", format!("= {} is not in [0, 1)", self.beta2));
        }
        if !(self.rho >= 0.0 && self.rho.is_finite()) {
            return bad("rho", format!("= {} must be finite and ≥ 0", self.rho));
        }
        if self.hessian_every == 0 {
            return bad("hessian_every", "must be ≥ 1".into());
        }
        if self.tokens_per_step == 0 {
            return bad("tokens_per_step", "must be ≥ 1".into());
        }
        Ok(())
    }
}

pub struct SophiaG {
    pub cfg: SophiaConfig,
    t: usize,
    /// name → (exp_avg m, hessian h)
    state: HashMap<String, (Tensor, Tensor)>,
    groups: Option<ParamGroups>,
    group_cache: GroupCache,
    win_rate: Option<f64>,
    hessian_norm: Option<f64>,
    curvature_updates: usize,
}

impl SophiaG {
    pub fn new(cfg: SophiaConfig) -> Result<Self> {
        cfg.validate()?;
        Ok(SophiaG {
            cfg,
            t: 0,
            state: HashMap::new(),
            groups: None,
            group_cache: GroupCache::default(),
            win_rate: None,
            hessian_norm: None,
            curvature_updates: 0,
        })
    }
    /// With parameter groups (each group's weight decay and lr scale).
    pub fn with_groups(cfg: SophiaConfig, groups: ParamGroups) -> Result<Self> {
        Ok(SophiaG {
            groups: Some(groups),
            ..Self::new(cfg)?
        })
    }
    /// The fraction of coordinates not clipped at the last curvature update.
    pub fn win_rate(&self) -> Option<f64> {
        self.win_rate
    }
    /// Σ‖h‖₁ over parameters at the last curvature update.
    pub fn hessian_norm(&self) -> Option<f64> {
        self.hessian_norm
    }
    pub fn curvature_updates(&self) -> usize {
        self.curvature_updates
    }
    /// The current moving averages (m, h) of a parameter.
    pub fn moments(&self, name: &str) -> Option<&(Tensor, Tensor)> {
        self.state.get(name)
    }

    fn clip_scale(&self) -> f64 {
        self.cfg.rho * self.cfg.tokens_per_step as f64
    }
}

fn scalar(t: &Tensor) -> Result<f64> {
    Ok(t.to_dtype(DType::F64)?.to_scalar::<f64>()?)
}

impl Optimizer for SophiaG {
    fn name(&self) -> &'static str {
        "sophiag"
    }

    fn step(&mut self, params: &[Param], grads: &GradStore) -> Result<()> {
        self.t += 1;
        let (b1, rb) = (self.cfg.beta1, self.clip_scale());
        for p in params {
            let Some(g) = grads.get(p.var.as_tensor()).map(|g| g.detach()) else { continue };
            let default_wd = if p.decay { self.cfg.weight_decay } else { 0.0 };
            let (wd, lr_scale) = self.group_cache.settings(self.groups.as_ref(), params, p, default_wd)?;
            let lr = self.cfg.lr * lr_scale;
            let (m, h) = match self.state.get(&p.name) {
                Some((m, h)) => (m.clone(), h.clone()),
                None => (g.zeros_like()?, g.zeros_like()?),
            };
            let mut theta = p.var.as_tensor().detach();
            if wd != 0.0 {
                theta = (theta * (1.0 - lr * wd))?;
            }
            let m = ((m * b1)? + (&g * (1.0 - b1))?)?;
            // sign(m)·min(|m|/d, 1) with d = ρ·B·h + 1e-15
            let d = ((&h * rb)? + 1e-15)?;
            let ratio = (m.abs()? / d)?.minimum(1.0)?;
            let update = (m.sign()? * ratio)?;
            p.var.set(&(theta - (update * lr)?)?)?;
            self.state.insert(p.name.clone(), (m, h));
        }
        Ok(())
    }

    fn wants_curvature(&self) -> bool {
        self.t > 0 && self.t % self.cfg.hessian_every == 0
    }

    fn update_curvature(&mut self, params: &[Param], grads: &GradStore) -> Result<()> {
        let (b2, rb) = (self.cfg.beta2, self.clip_scale());
        // check everything first so a bad estimate leaves the state untouched
        for p in params {
            if let Some(g) = grads.get(p.var.as_tensor()) {
                if !scalar(&g.sqr()?.sum_all()?)?.is_finite() {
                    return Err(Error::NonFiniteCurvature { param: p.name.clone() });
                }
            }
        }
        let (mut effective, mut total, mut l1) = (0f64, 0f64, 0f64);
        for p in params {
            let Some(g) = grads.get(p.var.as_tensor()).map(|g| g.detach()) else { continue };
            let (m, h) = match self.state.get(&p.name) {
                Some((m, h)) => (m.clone(), h.clone()),
                None => (g.zeros_like()?, g.zeros_like()?),
            };
            let h = ((h * b2)? + (g.sqr()? * (1.0 - b2))?)?;
            effective += scalar(&m.abs()?.lt(&(&h * rb)?)?.to_dtype(DType::F64)?.sum_all()?)?;
            total += m.elem_count() as f64;
            l1 += scalar(&h.abs()?.sum_all()?)?;
            self.state.insert(p.name.clone(), (m, h));
        }
        self.win_rate = Some(if total > 0.0 { effective / total } else { 0.0 });
        self.hessian_norm = Some(l1);
        self.curvature_updates += 1;
        Ok(())
    }

    fn diagnostics(&self) -> Vec<(String, f64)> {
        let mut v = vec![];
        if let Some(w) = self.win_rate {
            v.push(("win_rate".into(), w));
        }
        if let Some(h) = self.hessian_norm {
            v.push(("hessian_norm".into(), h));
        }
        v
    }

    fn learning_rate(&self) -> f64 {
        self.cfg.lr
    }
    fn set_learning_rate(&mut self, lr: f64) {
        self.cfg.lr = lr;
    }

    fn state(&self) -> (usize, Vec<(String, Tensor)>) {
        let mut v = vec![];
        for (n, (m, h)) in &self.state {
            v.push((format!("{n}.exp_avg"), m.clone()));
            v.push((format!("{n}.hessian"), h.clone()));
        }
        v.sort_by(|a, b| a.0.cmp(&b.0));
        (self.t, v)
    }

    fn load_state(&mut self, step: usize, state: &HashMap<String, Tensor>) -> Result<()> {
        self.t = step;
        self.state = super::optim::state_pairs(state, "exp_avg", "hessian")?.into_iter().map(|(n, m, h)| (n, (m, h))).collect();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn param(name: &str, v: &[f32], decay: bool) -> Param {
        Param {
            name: name.into(),
            var: Var::from_tensor(&Tensor::new(v, &Device::Cpu).unwrap()).unwrap(),
            decay,
        }
    }
    fn grads(p: &Param, g: &[f32]) -> GradStore {
        let mut s = GradStore::default();
        s.insert(p.var.as_tensor(), Tensor::new(g, &Device::Cpu).unwrap());
        s
    }

    #[test]
    fn unclipped_update_is_m_over_rho_b_h_and_clipped_is_lr() {
        // β1 = 0 makes m = g; h set by one curvature pass with β2 = 0 → h = ĝ²
        let cfg = SophiaConfig {
            lr: 0.1,
            beta1: 0.0,
            beta2: 0.0,
            rho: 0.5,
            weight_decay: 0.0,
            tokens_per_step: 4,
            hessian_every: 1,
        };
        let mut o = SophiaG::new(cfg).unwrap();
        let p = param("x", &[0.0, 0.0], false);
        o.step(&[p.clone()], &grads(&p, &[0.0, 0.0])).unwrap();
        o.update_curvature(&[p.clone()], &grads(&p, &[1.0, 0.1])).unwrap(); // h = [1, 0.01], ρB h = [2, 0.02]
        o.step(&[p.clone()], &grads(&p, &[0.5, -3.0])).unwrap();
        let x: Vec<f32> = p.var.as_tensor().to_vec1().unwrap();
        // coordinate 0: |m| = 0.5 < 2 → −lr·m/(ρBh) = −0.1·0.25; coordinate 1: clipped → +lr
        assert!((x[0] - (-0.025)).abs() < 1e-7, "{x:?}");
        assert!((x[1] - 0.1).abs() < 1e-7, "{x:?}");
    }

    #[test]
    fn weight_decay_only_on_decayed_params() {
        let cfg = SophiaConfig {
            lr: 0.1,
            weight_decay: 0.5,
            ..Default::default()
        };
        let mut o = SophiaG::new(cfg).unwrap();
        let (a, b) = (param("a", &[2.0], true), param("b", &[2.0], false));
        let mut s = grads(&a, &[0.0]);
        s.insert(b.var.as_tensor(), Tensor::new(&[0.0f32], &Device::Cpu).unwrap());
        o.step(&[a.clone(), b.clone()], &s).unwrap();
        assert!((a.var.as_tensor().to_vec1::<f32>().unwrap()[0] - 2.0 * 0.95).abs() < 1e-6);
        assert_eq!(b.var.as_tensor().to_vec1::<f32>().unwrap()[0], 2.0);
    }

    #[test]
    fn nan_curvature_and_bad_config_are_typed_errors() {
        let mut o = SophiaG::new(SophiaConfig::default()).unwrap();
        let p = param("w", &[1.0, 2.0], true);
        assert!(matches!(o.update_curvature(&[p.clone()], &grads(&p, &[f32::NAN, 1.0])), Err(Error::NonFiniteCurvature { param }) if param == "w"));
        assert!(o.moments("w").is_none(), "a rejected estimate leaves no state");
        assert!(matches!(
            SophiaG::new(SophiaConfig {
                hessian_every: 0,
                ..Default::default()
            }),
            Err(Error::ConfigField { field: "hessian_every", .. })
        ));
        assert!(matches!(
            SophiaG::new(SophiaConfig { beta2: 1.0, ..Default::default() }),
            Err(Error::ConfigField { field: "beta2", .. })
        ));
    }

    #[test]
    fn asks_for_curvature_every_k_steps() {
        let mut o = SophiaG::new(SophiaConfig {
            hessian_every: 3,
            ..Default::default()
        })
        .unwrap();
        let p = param("w", &[1.0], true);
        let mut asked = vec![];
        for _ in 0..7 {
            o.step(&[p.clone()], &grads(&p, &[0.1])).unwrap();
            asked.push(o.wants_curvature());
        }
        assert_eq!(asked, [false, false, true, false, false, true, false]);
    }
}
