//! Counted FLOPs and measured time of a training step: full fine-tuning against adapters.
//!
//! Matmul FLOPs only (2 per multiply-add; LayerNorm, softmax, GELU and the optimizer are
//! lower order), for a batch of `batch` sequences of `seq` tokens:
//!
//! - forward: per token and layer 2·(C·3C + C·C + 2·C·M) for the projections, 2·2·T·C for
//!   attention scores and mixing (every key counted, as the dense masked kernel computes
//!   them), and 2·C·V for the tied unembedding;
//! - backward, full fine-tuning: twice the forward (input gradients + weight gradients);
//! - backward, frozen base: the input gradients only (one forward's worth), since no base
//!   weight needs a gradient, plus what the adapter costs.
//!
//! The adapter's own cost depends on where it is applied. This library forms W₀ + ΔW in
//! weight space ([`super::adapter`]): per adapted d_in×d_out matrix and step, 2·r·d_in·d_out
//! to form ΔW, and in backward the full weight gradient of that matrix (2·tokens·d_in·d_out)
//! followed by 2·2·r·d_in·d_out for the factors' gradients. Hugging Face PEFT applies LoRA to
//! activations instead: 2·tokens·r·(d_in + d_out) forward and twice that backward. Both are
//! counted ([`AdapterPath`]) so a table can show which one a measurement corresponds to.

use std::time::Instant;

use candle_core::Tensor;
use serde::Serialize;

use super::Adapter;
use crate::model::Gpt2Config;
use crate::train::Trainer;
use crate::{Error, Result};

/// Where an adapter's low-rank update is applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum AdapterPath {
    /// W₀ + ΔW formed per step (this library).
    WeightSpace,
    /// x·W₀ + (x·Aᵀ)·Bᵀ·s (Hugging Face PEFT, loralib).
    ActivationSpace,
}

/// Counted FLOPs of one training step.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct StepFlops {
    pub forward: f64,
    pub backward: f64,
}

impl StepFlops {
    pub fn total(&self) -> f64 {
        self.forward + self.backward
    }
}

/// Forward matmul FLOPs of the base model for `batch` × `seq` tokens.
pub fn forward_flops(cfg: &Gpt2Config, batch: usize, seq: usize) -> f64 {
    let (c, m, v) = (cfg.n_embd as f64, cfg.d_mlp() as f64, cfg.vocab_size as f64);
    let tokens = (batch * seq) as f64;
    let per_layer = 2.0 * (c * 3.0 * c + c * c + 2.0 * c * m) + 2.0 * 2.0 * seq as f64 * c;
    tokens * (cfg.n_layer as f64 * per_layer + 2.0 * c * v)
}

/// A full fine-tuning step.
pub fn full_finetune_flops(cfg: &Gpt2Config, batch: usize, seq: usize) -> StepFlops {
    let f = forward_flops(cfg, batch, seq);
    StepFlops { forward: f, backward: 2.0 * f }
}

/// An adapter step: frozen base plus rank-`r` updates of the `(d_in, d_out)` matrices.
pub fn adapter_flops(cfg: &Gpt2Config, batch: usize, seq: usize, r: usize, matrices: &[(usize, usize)], path: AdapterPath) -> StepFlops {
    let f = forward_flops(cfg, batch, seq);
    let tokens = (batch * seq) as f64;
    let r = r as f64;
    let (mut fwd, mut bwd) = (0.0, 0.0);
    for &(i, o) in matrices {
        let (i, o) = (i as f64, o as f64);
        match path {
            AdapterPath::WeightSpace => {
                fwd += 2.0 * r * i * o;
                bwd += 2.0 * tokens * i * o + 2.0 * 2.0 * r * i * o;
            }
            AdapterPath::ActivationSpace => {
                fwd += 2.0 * tokens * r * (i + o);
                bwd += 2.0 * 2.0 * tokens * r * (i + o);
            }
        }
    }
    StepFlops { forward: f + fwd, backward: f + bwd }
}

/// Median wall time (seconds) of `steps` training steps on one fixed batch, after one warm-up
/// step; with `adapter`, each step includes rebuilding its weights. (The steps do update the
/// trainer's parameters.)
pub fn time_steps(tr: &mut Trainer, adapter: Option<&Adapter>, batch: &(Tensor, Tensor), steps: usize) -> Result<f64> {
    if steps == 0 {
        return Err(Error::EmptyInput("time_steps needs at least one step".into()));
    }
    let micro = [batch.clone()];
    let step = |tr: &mut Trainer| -> Result<()> {
        match adapter {
            Some(a) => a.train_step(tr, &micro).map(|_| ()),
            None => tr.train_step(&micro).map(|_| ()),
        }
    };
    step(tr)?;
    let mut t = Vec::with_capacity(steps);
    for _ in 0..steps {
        let t0 = Instant::now();
        step(tr)?;
        t.push(t0.elapsed().as_secs_f64());
    }
    t.sort_by(|a, b| a.total_cmp(b));
    Ok(t[t.len() / 2])
}
