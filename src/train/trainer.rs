//! `Trainer`: the training loop a notebook drives in a few lines.
//!
//! ```ignore
//! let mut tr = Trainer::new(&model, Box::new(AdamW::new(AdamWConfig { lr: 3e-3, ..Default::default() })), TrainConfig {
//!     steps: 300, batch_size: 16, schedule: LrSchedule::Cosine { lr: 3e-3, warmup: 20, total: 300, min_lr: 3e-4 },
//!     ..Default::default() })?;
//! let metrics = tr.fit(&train, Some(&val))?;   // renders as a loss chart + table
//! let model = tr.model()?;                      // the trained Gpt2
//! ```

use std::time::Instant;

use candle_core::backprop::GradStore;
use candle_core::Tensor;
use rand::{rngs::StdRng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::metrics::{MetricRow, Metrics};
use super::optim::{clip_grad_norm, grad_norm, Optimizer};
use super::params::{lm_loss, TrainableGpt2};
use super::schedule::LrSchedule;
use crate::data::TokenDataset;
use crate::display::Progress;
use crate::model::Gpt2;
use crate::{Error, Result};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainConfig {
    pub steps: usize,
    /// Sequences per micro-batch.
    pub batch_size: usize,
    /// Micro-batches per optimizer step (the loss is averaged over them).
    pub grad_accum: usize,
    /// Global gradient-norm clip (None: no clipping).
    pub clip: Option<f64>,
    pub schedule: LrSchedule,
    /// Evaluate on the validation set every this many steps (and at the end).
    pub eval_every: Option<usize>,
    /// Validation batches per evaluation (None: the whole set).
    pub eval_batches: Option<usize>,
    /// Record the training loss every this many steps.
    pub log_every: usize,
    /// Batches are drawn from a generator seeded with (seed, step), so a resumed run sees
    /// the same batches as an uninterrupted one.
    pub seed: u64,
    /// Print progress (terminal and notebook).
    pub progress: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            steps: 100,
            batch_size: 16,
            grad_accum: 1,
            clip: Some(1.0),
            schedule: LrSchedule::Constant { lr: 1e-3 },
            eval_every: None,
            eval_batches: Some(20),
            log_every: 1,
            seed: 0,
            progress: true,
        }
    }
}

/// What one optimizer step did.
#[derive(Clone, Debug)]
pub struct StepStats {
    pub step: usize,
    pub loss: f64,
    pub grad_norm: f64,
    pub lr: f64,
    pub tokens: usize,
}

/// Called after every optimizer step with the trainer (to read or change the model, e.g. a
/// LayerNorm-removal schedule) and the step's stats.
pub type Callback = Box<dyn FnMut(&mut Trainer, &StepStats) -> Result<()> + Send>;

pub struct Trainer {
    pub params: TrainableGpt2,
    pub opt: Box<dyn Optimizer>,
    pub cfg: TrainConfig,
    /// Optimizer steps taken so far.
    pub step: usize,
    pub metrics: Metrics,
    callbacks: Vec<Callback>,
    tokens_seen: usize,
}

impl Trainer {
    pub fn new(model: &Gpt2, opt: Box<dyn Optimizer>, cfg: TrainConfig) -> Result<Self> {
        // `cfg` is a pub field: it may have been edited since the model was built
        model.cfg.validate()?;
        Ok(Self::from_trainable(TrainableGpt2::new(model)?, opt, cfg))
    }

    /// With some parameters already frozen (PEFT, probes).
    pub fn from_trainable(params: TrainableGpt2, opt: Box<dyn Optimizer>, cfg: TrainConfig) -> Self {
        Trainer { params, opt, cfg, step: 0, metrics: Metrics::default(), callbacks: vec![], tokens_seen: 0 }
    }

    pub fn add_callback(&mut self, f: impl FnMut(&mut Trainer, &StepStats) -> Result<()> + Send + 'static) {
        self.callbacks.push(Box::new(f));
    }

    pub fn tokens_seen(&self) -> usize {
        self.tokens_seen
    }
    pub(crate) fn set_tokens_seen(&mut self, n: usize) {
        self.tokens_seen = n;
    }

    /// The current model, detached from the autograd graph.
    pub fn model(&self) -> Result<Gpt2> {
        self.params.snapshot()
    }

    /// One optimizer step over micro-batches `(x, y)`: mean loss, backward, NaN/inf check,
    /// clipping, learning rate from the schedule, update.
    pub fn train_step(&mut self, micro: &[(Tensor, Tensor)]) -> Result<StepStats> {
        let device = self.params.model.device().clone();
        crate::runtime::with_pool_for(&device, || self.train_step_inner(micro))
    }

    fn train_step_inner(&mut self, micro: &[(Tensor, Tensor)]) -> Result<StepStats> {
        if micro.is_empty() {
            return Err(Error::EmptyInput("train_step needs at least one batch".into()));
        }
        let n = micro.len() as f64;
        let mut total: Option<GradStore> = None;
        let mut loss_sum = 0.0;
        let mut tokens = 0;
        for (x, y) in micro {
            let loss = (lm_loss(&self.params.model, x, y)? / n)?;
            let l = loss.to_dtype(candle_core::DType::F64)?.to_scalar::<f64>()?;
            if !l.is_finite() {
                let culprit = self.first_nonfinite_param()?.map(|n| format!(" (parameter `{n}` holds non-finite values)")).unwrap_or_default();
                return Err(Error::NonFinite { step: self.step, what: format!("loss = {l}{culprit}") });
            }
            loss_sum += l;
            tokens += x.elem_count();
            let g = loss.backward()?;
            total = Some(match total {
                None => g,
                Some(mut acc) => {
                    for p in &self.params.params {
                        let t = p.var.as_tensor();
                        if let Some(gi) = g.get(t) {
                            let sum = match acc.get(t) {
                                Some(a) => (a + gi)?,
                                None => gi.clone(),
                            };
                            acc.insert(t, sum);
                        }
                    }
                    acc
                }
            });
        }
        let mut grads = total.expect("at least one micro-batch");
        let norm = match self.cfg.clip {
            Some(c) => clip_grad_norm(&self.params.params, &mut grads, c)?,
            None => grad_norm(&self.params.params, &grads)?,
        };
        if !norm.is_finite() {
            let bad = self.first_nonfinite_grad(&grads)?;
            return Err(Error::NonFinite { step: self.step, what: format!("gradient of `{bad}` (global norm {norm})") });
        }
        let lr = self.cfg.schedule.at(self.step);
        self.opt.set_learning_rate(lr);
        self.opt.step(&self.params.params, &grads)?;
        if self.opt.wants_curvature() {
            // SophiaG's Gauss–Newton–Bartlett pass: gradients on labels sampled from the model
            let seed = (self.cfg.seed ^ 0x5EED_C0DE).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ self.step as u64;
            let (hg, _) = super::curvature::sampled_label_grads(&self.params, micro, seed, self.cfg.clip)?;
            self.opt.update_curvature(&self.params.params, &hg)?;
        }
        self.step += 1;
        self.tokens_seen += tokens;
        Ok(StepStats { step: self.step, loss: loss_sum, grad_norm: norm, lr, tokens: self.tokens_seen })
    }

    fn first_nonfinite_param(&self) -> Result<Option<String>> {
        for (name, t) in self.params.model.named_tensors() {
            let s = t.sum_all()?.to_dtype(candle_core::DType::F64)?.to_scalar::<f64>()?;
            if !s.is_finite() {
                return Ok(Some(name));
            }
        }
        Ok(None)
    }

    fn first_nonfinite_grad(&self, grads: &GradStore) -> Result<String> {
        for p in &self.params.params {
            if let Some(g) = grads.get(p.var.as_tensor()) {
                let s = g.sqr()?.sum_all()?.to_dtype(candle_core::DType::F64)?.to_scalar::<f64>()?;
                if !s.is_finite() {
                    return Ok(p.name.clone());
                }
            }
        }
        Ok("<unknown>".into())
    }

    /// Mean loss over a dataset's blocks in order (no gradients).
    pub fn evaluate(&self, data: &TokenDataset) -> Result<f64> {
        evaluate(&self.model()?, data, self.cfg.batch_size, self.cfg.eval_batches)
    }

    /// Trains for `cfg.steps` steps in total (continuing from `self.step`) on random windows of
    /// `train`, evaluating on `val`. Returns the metrics so far.
    pub fn fit(&mut self, train: &TokenDataset, val: Option<&TokenDataset>) -> Result<Metrics> {
        let t = train.block_size();
        let start = Instant::now();
        let mut prog = Progress::new(self.cfg.steps.saturating_sub(self.step)).label("train");
        if !self.cfg.progress {
            prog = prog.quiet();
        }
        while self.step < self.cfg.steps {
            let mut micro = Vec::with_capacity(self.cfg.grad_accum);
            let mut rng = StdRng::seed_from_u64(self.cfg.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ self.step as u64);
            for _ in 0..self.cfg.grad_accum.max(1) {
                micro.push(train.random_batch(&mut rng, self.cfg.batch_size, t)?);
            }
            let stats = self.train_step(&micro)?;
            let is_last = self.step == self.cfg.steps;
            let eval_now = val.is_some() && (is_last || self.cfg.eval_every.is_some_and(|e| e > 0 && self.step % e == 0));
            let val_loss = match (eval_now, val) {
                (true, Some(v)) => Some(self.evaluate(v)?),
                _ => None,
            };
            if self.step % self.cfg.log_every.max(1) == 0 || val_loss.is_some() || is_last {
                self.metrics.rows.push(MetricRow {
                    step: stats.step,
                    lr: stats.lr,
                    train_loss: stats.loss,
                    val_loss,
                    grad_norm: stats.grad_norm,
                    tokens: stats.tokens,
                    elapsed_s: start.elapsed().as_secs_f64(),
                });
            }
            prog.set_message(format!("loss {:.3}{}", stats.loss, val_loss.map(|v| format!(" val {v:.3}")).unwrap_or_default()));
            prog.inc(1);
            let mut cbs = std::mem::take(&mut self.callbacks);
            let res = cbs.iter_mut().try_for_each(|cb| cb(self, &stats));
            self.callbacks = cbs;
            res?;
        }
        prog.finish();
        Ok(self.metrics.clone())
    }
}

/// Mean next-token loss of `model` over `data`'s blocks, in order, `batch_size` blocks at a
/// time, at most `max_batches` batches.
pub fn evaluate(model: &Gpt2, data: &TokenDataset, batch_size: usize, max_batches: Option<usize>) -> Result<f64> {
    let (mut sum, mut n) = (0.0, 0usize);
    for (i, batch) in data.eval_batches(batch_size)?.enumerate() {
        if max_batches.is_some_and(|m| i >= m) {
            break;
        }
        let (x, y) = batch?;
        let rows = x.dim(0)?;
        let l = lm_loss(model, &x, &y)?.to_dtype(candle_core::DType::F64)?.to_scalar::<f64>()?;
        sum += l * rows as f64;
        n += rows;
    }
    if n == 0 {
        return Err(Error::EmptyInput("evaluation dataset has no blocks".into()));
    }
    Ok(sum / n as f64)
}
