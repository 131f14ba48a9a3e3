//! Training an SAE on cached activations, with the recipe of Anthropic's "Towards
//! Monosemanticity" that the attention-output-SAE and SAE-detoxification papers used (and
//! SAELens up to v3): loss = Σ_d (x̂ − x)² (mean over rows) + λ·Σ_j f_j‖W_dec,j‖ (mean over
//! rows; SAELens' weighted L1), decoder rows kept unit-norm (the gradient's component along
//! each row removed before the step, rows renormalised after it), `b_dec` initialised at the
//! geometric median of the activations (Weiszfeld, as SAELens' `compute_geometric_median`),
//! and dead features resampled (inputs drawn ∝ their squared reconstruction loss; decoder row =
//! the normalised input, encoder column = it × 0.2 × the mean alive encoder norm, encoder bias
//! 0, the optimizer's moments of those rows zeroed). Updates go through the crate's
//! [`Optimizer`]s (Adam by default: AdamW with no decay, betas 0.9/0.999).
//!
//! Metrics as SAELens reports them: L0, dead fraction, explained variance
//! `1 − Σ(x − x̂)² / Σ(x − x̄)²` per row, averaged, and CE loss recovered
//! `(CE_zero − CE_splice) / (CE_zero − CE_clean)` (with zero-ablation as the floor).
//! Parity of the loss, the projection and the geometric median with the references:
//! `tests/sae.rs`.

use std::collections::HashMap;

use candle_core::{backprop::GradStore, Device, Tensor, D};
use rand::{rngs::StdRng, Rng, SeedableRng};

use super::model::Sae;
use crate::hooks::{HookSpec, Intervention};
use crate::interp::distribution::{cross_entropy_per_token, mean};
use crate::model::Gpt2;
use crate::train::{AdamW, AdamWConfig, Optimizer, Param};
use crate::{Error, Result};

/// How `b_dec` starts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BDecInit {
    Zero,
    Mean,
    GeometricMedian,
}

#[derive(Clone, Debug)]
pub struct SaeTrainConfig {
    pub steps: usize,
    pub batch_size: usize,
    pub lr: f64,
    /// λ of the sparsity penalty.
    pub l1_coefficient: f64,
    /// Project the decoder gradient and renormalise its rows (the unit-norm recipe).
    pub unit_norm_decoder: bool,
    pub b_dec_init: BDecInit,
    /// Resample dead features at these steps (Anthropic: 25k, 50k, 75k, 100k of 200k).
    pub resample_at: Vec<usize>,
    /// A feature is dead if it never fired in the last `dead_window` steps before a resample.
    pub dead_window: usize,
    pub seed: u64,
}

impl Default for SaeTrainConfig {
    fn default() -> Self {
        SaeTrainConfig {
            steps: 1000,
            batch_size: 256,
            lr: 1e-3,
            l1_coefficient: 1e-3,
            unit_norm_decoder: true,
            b_dec_init: BDecInit::GeometricMedian,
            resample_at: vec![],
            dead_window: 200,
            seed: 0,
        }
    }
}

/// What a training run measured.
#[derive(Clone, Debug, Default)]
pub struct SaeTrainReport {
    /// (step, mse, l1 penalty) per step.
    pub losses: Vec<(usize, f64, f64)>,
    /// (step, features resampled).
    pub resampled: Vec<(usize, usize)>,
}

/// The per-batch losses: (mse, l1 penalty, total) as 0-d tensors, and the features.
pub fn sae_loss(sae: &Sae, x: &Tensor, l1_coefficient: f64) -> Result<(Tensor, Tensor, Tensor, Tensor)> {
    let (x_hat, f) = sae.forward(x)?;
    let mse = (x_hat - x)?.sqr()?.sum(D::Minus1)?.mean_all()?;
    let weighted = f.broadcast_mul(&sae.decoder_norms()?.unsqueeze(0)?)?;
    let l1 = (weighted.abs()?.sum(D::Minus1)?.mean_all()? * l1_coefficient)?;
    let total = (&mse + &l1)?;
    Ok((mse, l1, total, f))
}

/// Removes from the W_dec gradient its component along each (unit) decoder row:
/// `g_j ← g_j − (g_j·w_j) w_j`, so the step moves rows along the unit sphere.
pub fn project_decoder_grad(w_dec: &Tensor, grad: &Tensor) -> Result<Tensor> {
    let par = (grad * w_dec)?.sum_keepdim(D::Minus1)?; // (d_sae, 1)
    Ok((grad - w_dec.broadcast_mul(&par)?)?)
}

/// The geometric median of the rows of `points` (N, d) by Weiszfeld iterations from the mean,
/// as SAELens' `compute_geometric_median` (eps 1e-6 on the distances, ≤ `maxiter` iterations,
/// stop when the objective improves by ≤ ftol·objective).
pub fn geometric_median(points: &Tensor, maxiter: usize, ftol: f64) -> Result<Tensor> {
    let (n, d) = points.dims2().map_err(|_| Error::Shape(format!("geometric median needs (N, d) points, got {:?}", points.dims())))?;
    if n == 0 {
        return Err(Error::EmptyInput("geometric median of no points".into()));
    }
    let p: Vec<Vec<f64>> = points.to_dtype(candle_core::DType::F64)?.to_vec2()?;
    let avg = |w: &[f64]| -> Vec<f64> {
        let s: f64 = w.iter().sum();
        let mut m = vec![0.0; d];
        for (row, wi) in p.iter().zip(w) {
            for (mj, x) in m.iter_mut().zip(row) {
                *mj += x * wi / s;
            }
        }
        m
    };
    let dist = |m: &[f64]| -> Vec<f64> { p.iter().map(|r| r.iter().zip(m).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt()).collect() };
    let ones = vec![1.0; n];
    let mut median = avg(&ones);
    let mut obj: f64 = dist(&median).iter().sum();
    let mut w = ones.clone();
    for _ in 0..maxiter {
        let prev = obj;
        w = dist(&median).iter().map(|x| 1.0 / x.max(1e-6)).collect();
        median = avg(&w);
        obj = dist(&median).iter().sum();
        if (prev - obj).abs() <= ftol * obj {
            break;
        }
    }
    let median = avg(&w);
    Ok(Tensor::from_vec(median.into_iter().map(|x| x as f32).collect::<Vec<_>>(), d, &Device::Cpu)?)
}

fn params(sae: &Sae) -> Vec<Param> {
    let p = |name: &str, v: &candle_core::Var| Param { name: name.into(), var: v.clone(), decay: false };
    vec![p("W_enc", &sae.w_enc), p("b_enc", &sae.b_enc), p("W_dec", &sae.w_dec), p("b_dec", &sae.b_dec)]
}

/// Adam as the SAE papers ran it (no weight decay, betas 0.9/0.999).
pub fn default_optimizer(lr: f64) -> Box<dyn Optimizer> {
    Box::new(AdamW::new(AdamWConfig { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0, decay_all: false }))
}

fn renormalise(sae: &Sae) -> Result<()> {
    let w = sae.w_dec.as_tensor();
    let n = sae.decoder_norms()?.clamp(1e-12, f64::INFINITY)?.unsqueeze(1)?;
    sae.w_dec.set(&w.broadcast_div(&n)?)?;
    Ok(())
}

/// Trains `sae` on `acts` (N, d_in) rows, in shuffled mini-batches (seeded), with `opt` (None:
/// [`default_optimizer`]).
pub fn train_sae(sae: &mut Sae, acts: &Tensor, cfg: &SaeTrainConfig, opt: Option<Box<dyn Optimizer>>) -> Result<SaeTrainReport> {
    // In candle's pool, as the Trainer's steps (the SAE's constructors applied runtime.rs's CPU
    // settings, which a process holding only cached activations would otherwise lack). At
    // GPT-2-small width (768 x 6144, B = 4096, idle 2-vCPU Xeon) a step takes 1.87 s with or
    // without those settings (examples/sae_step_prof.rs); under load, perf showed ~37% of a
    // step zeroing fresh pages without the malloc settings.
    crate::runtime::with_cpu_pool(|| train_sae_inner(sae, acts, cfg, opt))
}

fn train_sae_inner(sae: &mut Sae, acts: &Tensor, cfg: &SaeTrainConfig, opt: Option<Box<dyn Optimizer>>) -> Result<SaeTrainReport> {
    let (n, d) = acts.dims2().map_err(|_| Error::Shape(format!("SAE training needs (N, d_in) activations, got {:?}", acts.dims())))?;
    if d != sae.cfg.d_in {
        return Err(Error::Shape(format!("activations have {d} columns, the SAE reads {}", sae.cfg.d_in)));
    }
    if n == 0 || cfg.batch_size == 0 || cfg.steps == 0 {
        return Err(Error::EmptyInput(format!("SAE training with {n} rows, batch {}, {} steps", cfg.batch_size, cfg.steps)));
    }
    let acts = acts.to_dtype(candle_core::DType::F32)?;
    let mut opt = opt.unwrap_or_else(|| default_optimizer(cfg.lr));
    opt.set_learning_rate(cfg.lr);
    match cfg.b_dec_init {
        BDecInit::Zero => {}
        BDecInit::Mean => sae.b_dec.set(&acts.mean(0)?)?,
        BDecInit::GeometricMedian => sae.b_dec.set(&geometric_median(&acts, 100, 1e-20)?)?,
    }
    if cfg.unit_norm_decoder {
        renormalise(sae)?;
    }
    let ps = params(sae);
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let mut order: Vec<u32> = (0..n as u32).collect();
    let mut cursor = n;
    let mut last_fired = vec![0usize; sae.cfg.d_sae];
    let mut report = SaeTrainReport::default();
    for step in 0..cfg.steps {
        if cfg.resample_at.contains(&step) && step > 0 {
            let dead: Vec<usize> = (0..sae.cfg.d_sae).filter(|&j| step - last_fired[j] >= cfg.dead_window.min(step)).collect();
            let k = resample(sae, &acts, &dead, opt.as_mut(), &mut rng)?;
            report.resampled.push((step, k));
            for &j in &dead {
                last_fired[j] = step;
            }
        }
        let mut idx = Vec::with_capacity(cfg.batch_size);
        while idx.len() < cfg.batch_size {
            if cursor == n {
                shuffle(&mut order, &mut rng);
                cursor = 0;
            }
            idx.push(order[cursor]);
            cursor += 1;
        }
        let x = acts.index_select(&Tensor::new(idx.as_slice(), &Device::Cpu)?, 0)?;
        let (mse, l1, total, f) = sae_loss(sae, &x, cfg.l1_coefficient)?;
        let (mse_v, l1_v) = (mse.to_scalar::<f32>()? as f64, l1.to_scalar::<f32>()? as f64);
        if !(mse_v + l1_v).is_finite() {
            return Err(Error::NonFinite { step, what: format!("SAE loss (mse {mse_v}, l1 {l1_v})") });
        }
        let fired: Vec<f32> = f.gt(0.0)?.to_dtype(candle_core::DType::F32)?.sum(0)?.to_vec1()?;
        for (j, c) in fired.iter().enumerate() {
            if *c > 0.0 {
                last_fired[j] = step;
            }
        }
        let mut grads: GradStore = total.backward()?;
        if cfg.unit_norm_decoder {
            if let Some(g) = grads.get(sae.w_dec.as_tensor()) {
                let g = project_decoder_grad(sae.w_dec.as_tensor(), g)?;
                grads.insert(sae.w_dec.as_tensor(), g);
            }
        }
        opt.step(&ps, &grads)?;
        if cfg.unit_norm_decoder {
            renormalise(sae)?;
        }
        report.losses.push((step, mse_v, l1_v));
    }
    Ok(report)
}

/// Fisher–Yates from the back, one `random_range` per position: the batch order the tests'
/// planted-dictionary recovery was calibrated on (rand's `SliceRandom::shuffle` draws
/// differently, and with its order two of the twelve directions end at cosine 0.87–0.90).
fn shuffle(v: &mut [u32], rng: &mut StdRng) {
    for i in (1..v.len()).rev() {
        let j = rng.random_range(0..=i);
        v.swap(i, j);
    }
}

/// Anthropic's resampling of `dead` features; returns how many were resampled.
fn resample(sae: &Sae, acts: &Tensor, dead: &[usize], opt: &mut dyn Optimizer, rng: &mut StdRng) -> Result<usize> {
    if dead.is_empty() {
        return Ok(0);
    }
    let n = acts.dim(0)?.min(4096);
    let x = acts.narrow(0, 0, n)?;
    let (x_hat, _) = sae.forward(&x)?;
    let loss: Vec<f32> = (x_hat - &x)?.sqr()?.sum(D::Minus1)?.to_vec1()?;
    let weights: Vec<f64> = loss.iter().map(|l| (*l as f64).powi(2)).collect();
    let total: f64 = weights.iter().sum();
    if !(total > 0.0) {
        return Ok(0); // perfect reconstruction: nothing to aim the new features at
    }
    let alive: Vec<usize> = (0..sae.cfg.d_sae).filter(|j| !dead.contains(j)).collect();
    let enc_norms: Vec<f32> = sae.w_enc.as_tensor().sqr()?.sum(0)?.sqrt()?.to_vec1()?;
    let mean_alive = if alive.is_empty() { 1.0 } else { alive.iter().map(|&j| enc_norms[j] as f64).sum::<f64>() / alive.len() as f64 };
    let mut w_dec: Vec<Vec<f32>> = sae.w_dec.as_tensor().to_vec2()?;
    let mut w_enc: Vec<Vec<f32>> = sae.w_enc.as_tensor().to_vec2()?; // (d_in, d_sae)
    let mut b_enc: Vec<f32> = sae.b_enc.as_tensor().to_vec1()?;
    let rows: Vec<Vec<f32>> = x.to_vec2()?;
    for &j in dead {
        let mut u = rng.random_range(0.0..total);
        let mut i = 0;
        while i + 1 < weights.len() && u >= weights[i] {
            u -= weights[i];
            i += 1;
        }
        let norm = rows[i].iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt().max(1e-12);
        for (k, v) in rows[i].iter().enumerate() {
            let unit = *v as f64 / norm;
            w_dec[j][k] = unit as f32;
            w_enc[k][j] = (unit * 0.2 * mean_alive) as f32;
        }
        b_enc[j] = 0.0;
    }
    let dev = Device::Cpu;
    sae.w_dec.set(&Tensor::new(w_dec, &dev)?)?;
    sae.w_enc.set(&Tensor::new(w_enc, &dev)?)?;
    sae.b_enc.set(&Tensor::new(b_enc, &dev)?)?;
    // zero the optimizer's moments of the resampled rows/columns (any optimizer whose state
    // tensors are shaped like the parameters)
    let (t, state) = opt.state();
    let mut fresh = HashMap::new();
    for (name, s) in state {
        let z = match name.split('.').next() {
            Some("W_dec") => zero_index(&s, 0, dead)?,
            Some("W_enc") | Some("b_enc") => zero_index(&s, s.rank() - 1, dead)?,
            _ => s,
        };
        fresh.insert(name, z);
    }
    opt.load_state(t, &fresh)?;
    Ok(dead.len())
}

fn zero_index(t: &Tensor, dim: usize, idx: &[usize]) -> Result<Tensor> {
    let len = t.dim(dim)?;
    let mut m = vec![1f32; len];
    for &i in idx {
        m[i] = 0.0;
    }
    let mut shape = vec![1usize; t.rank()];
    shape[dim] = len;
    Ok(t.broadcast_mul(&Tensor::from_vec(m, shape, t.device())?.to_dtype(t.dtype())?)?)
}

/// Activations of `point` for every sequence of `batches` ((B, T) ids), as (N, d_in) rows the
/// SAE reads (hook_z: heads concatenated).
pub fn collect_activations(model: &Gpt2, sae_cfg: &super::model::SaeConfig, batches: &[Tensor]) -> Result<Tensor> {
    if batches.is_empty() {
        return Err(Error::EmptyInput("no token batches to collect activations from".into()));
    }
    let point = sae_cfg.hook_point()?;
    let spec = HookSpec::new().capture(point);
    let mut rows = vec![];
    for ids in batches {
        let run = model.run(ids, &spec)?;
        let a = run.cache.get(&point.to_string())?;
        let d = a.dims();
        let width = if sae_cfg.reshape_hook_z { d[d.len() - 2] * d[d.len() - 1] } else { d[d.len() - 1] };
        if width != sae_cfg.d_in {
            return Err(Error::Shape(format!("{point} gives rows of {width}, the SAE reads {}", sae_cfg.d_in)));
        }
        rows.push(a.reshape((a.elem_count() / width, width))?);
    }
    Ok(Tensor::cat(&rows, 0)?)
}

/// Reconstruction quality of `sae` on (N, d_in) rows.
#[derive(Clone, Debug, PartialEq)]
pub struct SaeMetrics {
    /// Mean number of active features per row.
    pub l0: f64,
    /// Fraction of features that never fire on these rows.
    pub dead_fraction: f64,
    /// Mean over rows of 1 − ‖x − x̂‖² / ‖x − x̄‖².
    pub explained_variance: f64,
    pub mse: f64,
}

pub fn sae_metrics(sae: &Sae, acts: &Tensor) -> Result<SaeMetrics> {
    let (n, _) = acts.dims2()?;
    if n == 0 {
        return Err(Error::EmptyInput("SAE metrics on no rows".into()));
    }
    let (x_hat, f) = sae.forward(acts)?;
    let active = f.gt(0.0)?.to_dtype(candle_core::DType::F32)?;
    let l0 = active.sum(D::Minus1)?.mean_all()?.to_scalar::<f32>()? as f64;
    let fired: Vec<f32> = active.sum(0)?.to_vec1()?;
    let dead = fired.iter().filter(|c| **c == 0.0).count() as f64 / fired.len() as f64;
    let resid: Vec<f32> = (&x_hat - acts)?.sqr()?.sum(D::Minus1)?.to_vec1()?;
    let total: Vec<f32> = acts.broadcast_sub(&acts.mean_keepdim(0)?)?.sqr()?.sum(D::Minus1)?.to_vec1()?;
    let ev = resid.iter().zip(&total).map(|(r, t)| 1.0 - *r as f64 / (*t as f64).max(1e-12)).sum::<f64>() / n as f64;
    let mse = resid.iter().map(|r| *r as f64).sum::<f64>() / n as f64;
    Ok(SaeMetrics { l0, dead_fraction: dead, explained_variance: ev, mse })
}

/// Next-token cross-entropy of `ids` (B, T) with `spec` active (mean over predicted tokens).
fn lm_ce(model: &Gpt2, ids: &Tensor, spec: &HookSpec) -> Result<f64> {
    let logits = model.run(ids, spec)?.logits;
    let t = logits.dim(1)?;
    if t < 2 {
        return Err(Error::EmptyInput("CE needs sequences of ≥ 2 tokens".into()));
    }
    mean(&cross_entropy_per_token(&logits.narrow(1, 0, t - 1)?, &ids.narrow(1, 1, t - 1)?)?)
}

/// (CE clean, CE with the SAE spliced (no error term), CE with the hook zero-ablated, fraction
/// of CE recovered) on `ids`.
pub fn ce_loss_recovered(model: &Gpt2, sae: &Sae, ids: &Tensor) -> Result<(f64, f64, f64, f64)> {
    let point = sae.cfg.hook_point()?;
    let clean = lm_ce(model, ids, &HookSpec::new())?;
    let spliced = lm_ce(model, ids, &HookSpec::new().intervene(point, sae.splice(false)))?;
    let zero = lm_ce(model, ids, &HookSpec::new().intervene(point, Intervention::Zero))?;
    let rec = if (zero - clean).abs() < 1e-12 { f64::NAN } else { (zero - spliced) / (zero - clean) };
    Ok((clean, spliced, zero, rec))
}
