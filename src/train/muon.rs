//! Muon (MomentUm Orthogonalized by Newton–Schulz; K. Jordan et al. 2024): SGD-momentum whose
//! update for each hidden weight matrix is replaced by an approximately orthogonal matrix,
//! computed with a quintic Newton–Schulz iteration (matmuls only). The other parameters
//! (embeddings, biases, LayerNorms) get AdamW inside the same optimizer.
//!
//! Two variants of the official code, both checked against a PyTorch run
//! (`scripts/make_optim_fixtures.py`):
//! - [`MuonVariant::KellerJordan`]: `KellerJordan/Muon` `muon_update`: EMA momentum
//!   `buf ← β buf + (1−β) g`, Nesterov `u = (1−β) g + β buf`, `u ← NS5(u)·√max(1, rows/cols)`,
//!   `θ ← θ(1 − lr·wd) − lr·u`.
//! - [`MuonVariant::Moonlight`]: the baseline of the Conda paper (`conda_torch/muon_moonlight.py`):
//!   `buf ← μ buf + g`, Nesterov `u = g + μ buf`, `θ ← θ(1 − lr·wd) − lr·0.2·√max(A, B)·NS5(u)`,
//!   so the update's RMS matches AdamW's and AdamW's learning rate carries over.
//!
//! Shapes are taken in `nn.Linear` layout `[out, in]` as the official code sees them (GPT-2's
//! Conv1D weights are transposed first, [`super::groups::to_linear`]). Newton–Schulz runs in
//! float32 here; the official code runs it in bfloat16 on the GPU (so the fixtures are made
//! with the official algorithm in float32).
//!
//! The non-matrix AdamW follows `muon_moonlight.py`'s backup: `m, v` by lerp,
//! `θ ← θ(1 − lr·wd) − lr·√(1−β2ᵗ)/(1−β1ᵗ) · m/(√v + ε)` (ε outside the bias correction).

use std::collections::HashMap;

use candle_core::backprop::GradStore;
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

use super::groups::{to_linear, GroupCache, ParamGroups, Select};
use super::optim::Optimizer;
use super::params::Param;
use crate::{Error, Result};

/// The quintic coefficients of the official `zeropower_via_newtonschulz5`.
pub const NS_COEFFS: (f64, f64, f64) = (3.4445, -4.7750, 2.0315);

/// `zeropower_via_newtonschulz5`: X ← G/(‖G‖_F + 1e-7) (transposed so rows ≤ cols), then
/// `steps` times A = XXᵀ, B = bA + cA², X ← aX + BX. The result is ≈ U S' Vᵀ with S' roughly
/// in [0.7, 1.2] (not exactly 1: the coefficients trade convergence for slope at zero).
pub fn newton_schulz5(g: &Tensor, steps: usize) -> Result<Tensor> {
    let (r, c) = g.dims2().map_err(|_| Error::Shape(format!("Newton–Schulz needs a matrix, got {:?}", g.dims())))?;
    let (a, b, cc) = NS_COEFFS;
    let mut x = if r > c { g.t()?.contiguous()? } else { g.clone() };
    let norm = x.sqr()?.sum_all()?.sqrt()?;
    x = x.broadcast_div(&(norm + 1e-7)?)?;
    for _ in 0..steps {
        let xt = x.t()?.contiguous()?;
        let am = x.matmul(&xt)?;
        let bm = ((&am * b)? + (am.matmul(&am)? * cc)?)?;
        x = ((&x * a)? + bm.matmul(&x)?)?;
    }
    Ok(if r > c { x.t()?.contiguous()? } else { x })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MuonVariant {
    KellerJordan,
    Moonlight,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MuonConfig {
    pub lr: f64,
    pub momentum: f64,
    pub nesterov: bool,
    pub ns_steps: usize,
    /// Decoupled weight decay (every parameter, as both official versions do; groups override).
    pub weight_decay: f64,
    pub variant: MuonVariant,
    /// Which parameters take the Muon update (the rest get AdamW).
    pub matrices: Select,
    pub adam_betas: (f64, f64),
    pub adam_eps: f64,
    /// The AdamW parameters' learning rate is `lr · adam_lr_ratio` (1 for Moonlight, whose
    /// scaling makes one lr fit both).
    pub adam_lr_ratio: f64,
}

impl Default for MuonConfig {
    /// The Conda repository's GPT-2 125M Muon baseline (`train_gpt2_125m_muon.py`).
    fn default() -> Self {
        MuonConfig {
            lr: 6e-4,
            momentum: 0.95,
            nesterov: true,
            ns_steps: 5,
            weight_decay: 0.1,
            variant: MuonVariant::Moonlight,
            matrices: Select::HiddenMatrices,
            adam_betas: (0.9, 0.95),
            adam_eps: 1e-8,
            adam_lr_ratio: 1.0,
        }
    }
}

pub struct Muon {
    pub cfg: MuonConfig,
    t: usize,
    momentum: HashMap<String, Tensor>,
    adam: HashMap<String, (Tensor, Tensor)>,
    groups: Option<ParamGroups>,
    group_cache: GroupCache,
}

impl Muon {
    pub fn new(cfg: MuonConfig) -> Result<Self> {
        if !(0.0..1.0).contains(&cfg.momentum) {
            return Err(Error::ConfigField {
                path: "MuonConfig".into(),
                field: "momentum",
                msg: format!("= {} is not in [0, 1)", cfg.momentum),
            });
        }
        Ok(Muon {
            cfg,
            t: 0,
            momentum: HashMap::new(),
            adam: HashMap::new(),
            groups: None,
            group_cache: GroupCache::default(),
        })
    }
    pub fn with_groups(cfg: MuonConfig, groups: ParamGroups) -> Result<Self> {
        Ok(Muon {
            groups: Some(groups),
            ..Self::new(cfg)?
        })
    }

    /// The orthogonalised, scaled update direction of a Linear-layout momentum input.
    fn matrix_update(&self, u: &Tensor) -> Result<(Tensor, f64)> {
        let (rows, cols) = u.dims2()?;
        let o = newton_schulz5(u, self.cfg.ns_steps)?;
        Ok(match self.cfg.variant {
            MuonVariant::KellerJordan => ((o * (rows as f64 / cols as f64).max(1.0).sqrt())?, 1.0),
            MuonVariant::Moonlight => (o, 0.2 * (rows.max(cols) as f64).sqrt()),
        })
    }
}

impl Optimizer for Muon {
    fn name(&self) -> &'static str {
        "muon"
    }

    fn step(&mut self, params: &[Param], grads: &GradStore) -> Result<()> {
        self.t += 1;
        let t = self.t as i32;
        for p in params {
            let Some(g) = grads.get(p.var.as_tensor()).map(|g| g.detach()) else { continue };
            let (wd, lr_scale) = self.group_cache.settings(self.groups.as_ref(), params, p, self.cfg.weight_decay)?;
            let lr = self.cfg.lr * lr_scale;
            let theta = p.var.as_tensor().detach();
            if self.cfg.matrices.matches(&p.name, g.rank()) && g.rank() == 2 {
                let g = to_linear(&p.name, &g)?;
                let mu = self.cfg.momentum;
                let buf = self.momentum.get(&p.name).cloned().unwrap_or(g.zeros_like()?);
                let (buf, u) = match self.cfg.variant {
                    MuonVariant::KellerJordan => {
                        let buf = ((buf * mu)? + (&g * (1.0 - mu))?)?;
                        let u = if self.cfg.nesterov { ((&g * (1.0 - mu))? + (&buf * mu)?)? } else { buf.clone() };
                        (buf, u)
                    }
                    MuonVariant::Moonlight => {
                        let buf = ((buf * mu)? + &g)?;
                        let u = if self.cfg.nesterov { (&g + (&buf * mu)?)? } else { buf.clone() };
                        (buf, u)
                    }
                };
                let (o, ratio) = self.matrix_update(&u)?;
                let o = to_linear(&p.name, &o)?;
                let theta = (theta * (1.0 - lr * wd))?;
                p.var.set(&(theta - (o * (lr * ratio))?)?)?;
                self.momentum.insert(p.name.clone(), buf);
            } else {
                let (b1, b2) = self.cfg.adam_betas;
                let lr = lr * self.cfg.adam_lr_ratio;
                let (m, v) = self.adam.get(&p.name).cloned().unwrap_or((g.zeros_like()?, g.zeros_like()?));
                let m = ((m * b1)? + (&g * (1.0 - b1))?)?;
                let v = ((v * b2)? + (g.sqr()? * (1.0 - b2))?)?;
                let dir = (&m / (v.sqrt()? + self.cfg.adam_eps)?)?;
                let step_size = lr * (1.0 - b2.powi(t)).sqrt() / (1.0 - b1.powi(t));
                let theta = (theta * (1.0 - lr * wd))?;
                p.var.set(&(theta - (dir * step_size)?)?)?;
                self.adam.insert(p.name.clone(), (m, v));
            }
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
        let mut v: Vec<(String, Tensor)> = self.momentum.iter().map(|(n, b)| (format!("{n}.momentum_buffer"), b.clone())).collect();
        for (n, (m, s)) in &self.adam {
            v.push((format!("{n}.moment1"), m.clone()));
            v.push((format!("{n}.moment2"), s.clone()));
        }
        v.sort_by(|a, b| a.0.cmp(&b.0));
        (self.t, v)
    }
    fn load_state(&mut self, step: usize, state: &HashMap<String, Tensor>) -> Result<()> {
        self.t = step;
        self.momentum = state.iter().filter_map(|(k, t)| k.strip_suffix(".momentum_buffer").map(|n| (n.to_string(), t.clone()))).collect();
        self.adam = super::optim::state_pairs(state, "moment1", "moment2")?.into_iter().map(|(n, m, s)| (n, (m, s))).collect();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::spectrum::singular_values;
    use candle_core::{DType, Device};

    /// G = Q1 diag(s) Q2ᵀ with s log-spaced from 1 to 1/cond and random orthogonal Q1, Q2.
    fn conditioned(r: usize, c: usize, cond: f64, seed: u64) -> Tensor {
        use nalgebra::DMatrix;
        use rand::{rngs::StdRng, Rng, SeedableRng};
        let mut rng = StdRng::seed_from_u64(seed);
        let mut rand_orth = |n: usize| DMatrix::<f64>::from_fn(n, n, |_, _| rng.random::<f64>() - 0.5).qr().q();
        let k = r.min(c);
        let s = DMatrix::<f64>::from_fn(r, c, |i, j| if i == j { cond.powf(-(i as f64) / (k - 1) as f64) } else { 0.0 });
        let g = rand_orth(r) * s * rand_orth(c).transpose();
        crate::train::spectrum::from_dmatrix(&g, &Tensor::zeros(1, DType::F32, &Device::Cpu).unwrap()).unwrap()
    }

    #[test]
    fn newton_schulz_singular_values_are_near_one() {
        for (r, c) in [(24, 16), (16, 40), (32, 32)] {
            let g = conditioned(r, c, 100.0, (r * c) as u64);
            let s_in = singular_values(&g).unwrap();
            assert!((s_in[0] / s_in[s_in.len() - 1] - 100.0).abs() < 1e-3, "{s_in:?}");
            let s = singular_values(&newton_schulz5(&g, 5).unwrap()).unwrap();
            // the official docstring: S'ii ~ Uniform(0.5, 1.5), not exactly 1
            assert!(s.iter().all(|&x| (0.5..=1.5).contains(&x)), "{r}x{c}: {s:?}");
            // five steps are not enough for σ/σ_max = 1e-3 (the slope at 0 is 3.4445 per step)
            let s = singular_values(&newton_schulz5(&conditioned(r, c, 1e4, 1), 5).unwrap()).unwrap();
            assert!(s[s.len() - 1] < 0.5, "{s:?}");
        }
        assert!(newton_schulz5(&Tensor::zeros(4, DType::F32, &Device::Cpu).unwrap(), 5).is_err());
    }
}
