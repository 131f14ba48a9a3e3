//! Conda, column-normalised Adam (Wang et al. 2025, arXiv 2509.24218): Adam's second moment
//! taken in the singular basis of the momentum. Follows the official `conda_torch/conda.py` and
//! `projector.py` (`proj_type = "std"`), per hidden matrix `W` in `nn.Linear` layout `[r, c]`:
//!
//! ```text
//! m ← β1 m + (1 − β1) g
//! every `update_proj_gap` steps (step counted from 0): U, S, Vh = svd(m) (float32 there, f64 here);
//!     P = Vh if r ≥ c (right)  else  U (left)
//! g̃ = g Pᵀ, m̃ = m Pᵀ           (right)    g̃ = Pᵀ g, m̃ = Pᵀ m   (left)
//! v ← β2 v + (1 − β2) g̃²        (in the projected coordinates)
//! n = m̃ / (√v + ε);  u = scale · n P   (right)  or  scale · P n  (left)
//! W ← W − lr·√(1−β2ᵗ)/(1−β1ᵗ) · u;   then   W ← W − lr·wd·W
//! ```
//!
//! Since P is square and orthogonal, each column (right) of g̃ is g's component along one
//! singular direction of m: v normalises per direction — "column-wise" after the rotation.
//! With P = I it is Adam (ε outside the bias correction, as the HF-style code has it) times
//! `scale`; other parameters (embeddings, biases, LayerNorms, or whatever `matrices` leaves
//! out) get that Adam without `scale`, in the same optimizer, as the official param groups do.
//! Singular vectors are defined up to sign and the result does not depend on the signs (v is
//! in squares, u flips twice); the order is descending, as `torch.linalg.svd`'s.

use std::collections::HashMap;

use candle_core::backprop::GradStore;
use candle_core::Tensor;
use nalgebra::linalg::SVD;
use serde::{Deserialize, Serialize};

use super::groups::{to_linear, GroupCache, ParamGroups, Select};
use super::optim::Optimizer;
use super::params::Param;
use super::spectrum::{from_dmatrix, to_dmatrix};
use crate::{Error, Result};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CondaConfig {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    /// Factor on the projected-back update (0.25 in the official GPT-2 configs).
    pub scale: f64,
    /// Steps between SVDs of the momentum (2000 for GPT-2 125M).
    pub update_proj_gap: usize,
    pub correct_bias: bool,
    /// Which parameters take the projected update.
    pub matrices: Select,
    /// Test hook: use P = I instead of the SVD (Conda's special case "= Adam × scale").
    pub identity_projector: bool,
}

impl Default for CondaConfig {
    /// The official GPT-2 125M recipe (`train_gpt2_125m_conda.py`).
    fn default() -> Self {
        CondaConfig {
            lr: 6e-3,
            beta1: 0.9,
            beta2: 0.99,
            eps: 1e-8,
            weight_decay: 0.01,
            scale: 0.25,
            update_proj_gap: 2000,
            correct_bias: true,
            matrices: Select::HiddenMatrices,
            identity_projector: false,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Right,
    Left,
}

struct State {
    step: usize,
    m: Tensor,
    v: Tensor,
    projector: Option<(Tensor, Side)>,
}

pub struct Conda {
    pub cfg: CondaConfig,
    state: HashMap<String, State>,
    groups: Option<ParamGroups>,
    group_cache: GroupCache,
    svds: usize,
}

/// The square orthogonal factor of `m` (Linear layout) that Conda projects with.
fn orthogonal_factor(m: &Tensor) -> Result<(Tensor, Side)> {
    let (r, c) = m.dims2()?;
    let d = to_dmatrix(m)?;
    if d.iter().any(|x| !x.is_finite()) {
        return Err(Error::NonFiniteOutput("Conda: momentum holds NaN/inf, no SVD".into()));
    }
    let svd = SVD::new(d, r < c, r >= c);
    if r >= c {
        let vt = svd.v_t.ok_or_else(|| Error::Msg("SVD did not return Vᵀ".into()))?;
        Ok((from_dmatrix(&vt, m)?, Side::Right))
    } else {
        let u = svd.u.ok_or_else(|| Error::Msg("SVD did not return U".into()))?;
        Ok((from_dmatrix(&u, m)?, Side::Left))
    }
}

fn project(x: &Tensor, p: &Tensor, side: Side) -> Result<Tensor> {
    Ok(match side {
        Side::Right => x.matmul(&p.t()?.contiguous()?)?,
        Side::Left => p.t()?.contiguous()?.matmul(x)?,
    })
}

fn project_back(x: &Tensor, p: &Tensor, side: Side) -> Result<Tensor> {
    Ok(match side {
        Side::Right => x.matmul(p)?,
        Side::Left => p.matmul(x)?,
    })
}

impl Conda {
    pub fn new(cfg: CondaConfig) -> Result<Self> {
        let bad = |f: &'static str, m: String| {
            Err(Error::ConfigField {
                path: "CondaConfig".into(),
                field: f,
                msg: m,
            })
        };
        if !(0.0..1.0).contains(&cfg.beta1) {
            return bad("beta1", format!("= {} is not in [0, 1)", cfg.beta1));
        }
        if !(0.0..1.0).contains(&cfg.beta2) {
            return bad("beta2", format!("= {} is not in [0, 1)", cfg.beta2));
        }
        if cfg.update_proj_gap == 0 {
            return bad("update_proj_gap", "must be ≥ 1".into());
        }
        Ok(Conda {
            cfg,
            state: HashMap::new(),
            groups: None,
            group_cache: GroupCache::default(),
            svds: 0,
        })
    }
    pub fn with_groups(cfg: CondaConfig, groups: ParamGroups) -> Result<Self> {
        Ok(Conda {
            groups: Some(groups),
            ..Self::new(cfg)?
        })
    }
    /// SVDs taken so far (all matrices).
    pub fn svd_count(&self) -> usize {
        self.svds
    }
}

impl Optimizer for Conda {
    fn name(&self) -> &'static str {
        "conda"
    }

    fn step(&mut self, params: &[Param], grads: &GradStore) -> Result<()> {
        let c = self.cfg.clone();
        for p in params {
            let Some(g) = grads.get(p.var.as_tensor()).map(|g| g.detach()) else { continue };
            let (wd, lr_scale) = self.group_cache.settings(self.groups.as_ref(), params, p, c.weight_decay)?;
            let lr = c.lr * lr_scale;
            let projected = c.matrices.matches(&p.name, g.rank()) && g.rank() == 2;
            let g = if projected { to_linear(&p.name, &g)? } else { g };
            let st = match self.state.remove(&p.name) {
                Some(s) => s,
                None => State {
                    step: 0,
                    m: g.zeros_like()?,
                    v: g.zeros_like()?,
                    projector: None,
                },
            };
            let State { mut step, m, v, mut projector } = st;
            let m = ((m * c.beta1)? + (&g * (1.0 - c.beta1))?)?;
            let (gp, mp) = if projected {
                if projector.is_none() || step % c.update_proj_gap == 0 {
                    projector = Some(if c.identity_projector {
                        let (r, cc) = g.dims2()?;
                        let n = r.min(cc);
                        (Tensor::eye(n, g.dtype(), g.device())?, if r >= cc { Side::Right } else { Side::Left })
                    } else {
                        self.svds += 1;
                        orthogonal_factor(&m)?
                    });
                }
                let (pm, side) = projector.as_ref().expect("set above");
                (project(&g, pm, *side)?, project(&m, pm, *side)?)
            } else {
                (g.clone(), m.clone())
            };
            let v = ((v * c.beta2)? + (gp.sqr()? * (1.0 - c.beta2))?)?;
            step += 1;
            let mut step_size = lr;
            if c.correct_bias {
                step_size *= (1.0 - c.beta2.powi(step as i32)).sqrt() / (1.0 - c.beta1.powi(step as i32));
            }
            let mut n = (mp / (v.sqrt()? + c.eps)?)?;
            if let (true, Some((pm, side))) = (projected, projector.as_ref()) {
                n = (project_back(&n, pm, *side)? * c.scale)?;
                n = to_linear(&p.name, &n)?;
            }
            let mut theta = (p.var.as_tensor().detach() - (n * step_size)?)?;
            if wd > 0.0 {
                theta = (&theta - (&theta * (lr * wd))?)?;
            }
            p.var.set(&theta)?;
            self.state.insert(p.name.clone(), State { step, m, v, projector });
        }
        Ok(())
    }

    fn learning_rate(&self) -> f64 {
        self.cfg.lr
    }
    fn set_learning_rate(&mut self, lr: f64) {
        self.cfg.lr = lr;
    }
    /// Moments only: the projector is recomputed from the momentum on the first step after a
    /// resume (a resumed run differs from an uninterrupted one until the next refresh).
    fn state(&self) -> (usize, Vec<(String, Tensor)>) {
        let mut v = vec![];
        let mut t = 0;
        for (n, s) in &self.state {
            t = t.max(s.step);
            v.push((format!("{n}.exp_avg"), s.m.clone()));
            v.push((format!("{n}.exp_avg_sq"), s.v.clone()));
        }
        v.sort_by(|a, b| a.0.cmp(&b.0));
        (t, v)
    }
    fn load_state(&mut self, step: usize, state: &HashMap<String, Tensor>) -> Result<()> {
        self.state = super::optim::state_pairs(state, "exp_avg", "exp_avg_sq")?
            .into_iter()
            .map(|(n, m, v)| (n, State { step, m, v, projector: None }))
            .collect();
        Ok(())
    }
}
