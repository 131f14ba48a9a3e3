//! DP-SGD (Abadi et al. 2016) as Opacus runs it: Poisson-sampled batches, each example's
//! gradient clipped to L2 norm C, Gaussian noise N(0, σ²C²) added to the sum, divided by the
//! expected batch size q·N, then the usual optimizer step; privacy accounted by the RDP
//! accountant ([`super::rdp`]). Per-example gradients are computed by microbatches of one
//! example (one backward each): simple and exact, at the cost of B backward passes per step.

use candle_core::backprop::GradStore;
use candle_core::{DType, Tensor};
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::params::{lm_loss, TrainableGpt2};
use super::rdp;
use super::trainer::{StepStats, Trainer};
use crate::data::TokenDataset;
use crate::{Error, Result};

/// A standard normal draw by Box–Muller (the crate has `rand` but not `rand_distr`).
fn normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(1e-300);
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DpConfig {
    /// C: every example's gradient is clipped to this L2 norm (the paper: 1.0).
    pub max_grad_norm: f64,
    /// σ: noise standard deviation in units of C.
    pub noise_multiplier: f64,
    /// q: each example joins a step's batch independently with this probability.
    pub sample_rate: f64,
    pub delta: f64,
    /// The ε the run must stay within (checked before training; None: just account).
    pub target_epsilon: Option<f64>,
}

impl DpConfig {
    /// σ for `target_epsilon` over `steps` steps at `sample_rate` and `delta` (bisection on the
    /// RDP accountant).
    pub fn for_target(target_epsilon: f64, sample_rate: f64, steps: usize, delta: f64, max_grad_norm: f64) -> Result<Self> {
        let s = rdp::noise_for_epsilon(target_epsilon, sample_rate, steps, delta, 1e-4)?;
        Ok(DpConfig {
            max_grad_norm,
            noise_multiplier: s,
            sample_rate,
            delta,
            target_epsilon: Some(target_epsilon),
        })
    }

    pub fn validate(&self, steps: usize) -> Result<()> {
        if !(self.max_grad_norm > 0.0 && self.max_grad_norm.is_finite()) {
            return Err(Error::Privacy(format!("clipping norm C = {} must be finite and > 0", self.max_grad_norm)));
        }
        if let Some(t) = self.target_epsilon {
            if self.noise_multiplier == 0.0 {
                return Err(Error::Privacy(format!("σ = 0 adds no noise, so no finite ε (target ε = {t}) can hold")));
            }
            let (e, _) = rdp::epsilon(self.sample_rate, self.noise_multiplier, steps, self.delta, &rdp::default_orders())?;
            if e > t * (1.0 + 1e-9) {
                return Err(Error::Privacy(format!(
                    "σ = {} over {steps} steps at q = {} gives ε = {e:.3} > target {t}",
                    self.noise_multiplier, self.sample_rate
                )));
            }
        } else {
            rdp::epsilon(self.sample_rate, self.noise_multiplier.max(0.0), steps.max(1), self.delta, &rdp::default_orders())?;
        }
        Ok(())
    }
}

/// Σᵢ clip(∇ℓᵢ, C) over the rows of `x`/`y` (`(B, T)`), one backward per row, and the
/// per-example norms before clipping.
pub fn clipped_grad_sum(params: &TrainableGpt2, x: &Tensor, y: &Tensor, max_grad_norm: f64) -> Result<(GradStore, Vec<f64>)> {
    let b = x.dim(0)?;
    let mut sum = GradStore::default();
    for p in &params.params {
        sum.insert(p.var.as_tensor(), p.var.as_tensor().zeros_like()?);
    }
    let mut norms = Vec::with_capacity(b);
    for i in 0..b {
        let g = lm_loss(&params.model, &x.narrow(0, i, 1)?, &y.narrow(0, i, 1)?)?.backward()?;
        let mut sq = 0f64;
        for p in &params.params {
            if let Some(gi) = g.get(p.var.as_tensor()) {
                sq += gi.sqr()?.sum_all()?.to_dtype(DType::F64)?.to_scalar::<f64>()?;
            }
        }
        let norm = sq.sqrt();
        if !norm.is_finite() {
            return Err(Error::NonFinite {
                step: 0,
                what: format!("per-example gradient norm of example {i} = {norm}"),
            });
        }
        norms.push(norm);
        // Opacus: clip factor min(1, C / (‖g‖ + 1e-6))
        let factor = (max_grad_norm / (norm + 1e-6)).min(1.0);
        for p in &params.params {
            if let Some(gi) = g.get(p.var.as_tensor()) {
                let t = p.var.as_tensor();
                let acc = (sum.get(t).expect("initialised") + (gi.detach() * factor)?)?;
                sum.insert(t, acc);
            }
        }
    }
    Ok((sum, norms))
}

/// What one DP step did.
#[derive(Clone, Debug)]
pub struct DpStepStats {
    pub step: StepStats,
    pub batch_size: usize,
    /// Fraction of the batch's examples whose gradient was clipped.
    pub clipped_fraction: f64,
}

/// DP-SGD around a [`Trainer`]: its model, optimizer and schedule; DP's sampling, clipping,
/// noise and accounting.
pub struct DpTrainer {
    pub trainer: Trainer,
    pub cfg: DpConfig,
    rng: StdRng,
}

impl DpTrainer {
    pub fn new(trainer: Trainer, cfg: DpConfig, seed: u64) -> Self {
        DpTrainer {
            trainer,
            cfg,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// (ε, optimal order) spent so far at the configured δ.
    pub fn epsilon(&self) -> Result<(f64, f64)> {
        rdp::epsilon(self.cfg.sample_rate, self.cfg.noise_multiplier, self.trainer.step.max(1), self.cfg.delta, &rdp::default_orders())
    }

    /// One step on a Poisson sample of `data`'s blocks.
    pub fn step(&mut self, data: &TokenDataset) -> Result<DpStepStats> {
        let n = data.len();
        if n == 0 {
            return Err(Error::EmptyInput("DP-SGD needs a non-empty dataset".into()));
        }
        let picked: Vec<usize> = (0..n).filter(|_| self.rng.random::<f64>() < self.cfg.sample_rate).collect();
        let c = self.cfg.max_grad_norm;
        let params = &self.trainer.params;
        let (mut sum, norms, loss) = if picked.is_empty() {
            let mut z = GradStore::default();
            for p in &params.params {
                z.insert(p.var.as_tensor(), p.var.as_tensor().zeros_like()?);
            }
            (z, vec![], f64::NAN)
        } else {
            let (x, y) = data.batch(&picked)?;
            let loss = lm_loss(&params.model, &x, &y)?.to_dtype(DType::F64)?.to_scalar::<f64>()?;
            let (s, norms) = clipped_grad_sum(params, &x, &y, c)?;
            (s, norms, loss)
        };
        // noise N(0, σ²C²) per coordinate, then divide by the expected batch size q·N
        let expected = self.cfg.sample_rate * n as f64;
        let std = self.cfg.noise_multiplier * c;
        for p in &params.params {
            let t = p.var.as_tensor();
            let g = sum.get(t).expect("initialised").clone();
            let noise: Vec<f32> = (0..g.elem_count()).map(|_| (normal(&mut self.rng) * std) as f32).collect();
            let noise = Tensor::from_vec(noise, g.shape(), g.device())?.to_dtype(g.dtype())?;
            sum.insert(t, ((g + noise)? / expected)?);
        }
        let lr = self.trainer.cfg.schedule.at(self.trainer.step);
        self.trainer.opt.set_learning_rate(lr);
        self.trainer.opt.step(&self.trainer.params.params, &sum)?;
        self.trainer.step += 1;
        let tokens = picked.len() * data.block_size();
        let seen = self.trainer.tokens_seen() + tokens;
        self.trainer.set_tokens_seen(seen);
        let clipped = norms.iter().filter(|&&g| g > c).count() as f64 / norms.len().max(1) as f64;
        Ok(DpStepStats {
            step: StepStats {
                step: self.trainer.step,
                loss,
                grad_norm: f64::NAN,
                lr,
                tokens: seen,
            },
            batch_size: picked.len(),
            clipped_fraction: clipped,
        })
    }

    /// `steps` DP steps (validating the privacy target for that many steps first).
    pub fn fit(&mut self, data: &TokenDataset, steps: usize) -> Result<Vec<DpStepStats>> {
        self.cfg.validate(self.trainer.step + steps)?;
        let device = self.trainer.params.model.device().clone();
        crate::runtime::with_pool_for(&device, || (0..steps).map(|_| self.step(data)).collect())
    }
}
