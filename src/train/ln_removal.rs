//! LayerNorm removal by fine-tuning (Heimersheim 2024; "Transformers Don't Need LayerNorm at
//! Inference Time", arXiv 2507.02559, official code submarat/removing-layer-norm).
//!
//! Sites are replaced one at a time by a FakeLN whose σ is frozen at the average real scale
//! measured just before, in the official order: every layer's ln2 (pre-MLP), then ln1 as seen
//! by queries/keys, then ln1 as seen by values, then the final LN — with a few fine-tuning steps
//! between removals so the model adapts. (The paper's special per-position σ for BOS/EOT
//! tokens is not modelled: our ci corpora do not give those positions outlier norms.)

use candle_core::{DType, Tensor, D};

use super::trainer::Trainer;
use crate::hooks::{HookPoint, HookSpec};
use crate::model::{Gpt2, LnTarget, NormMode};
use crate::Result;

/// When each site is removed: `(step, site)` in increasing step order.
#[derive(Clone, Debug, PartialEq)]
pub struct LnRemovalSchedule {
    pub events: Vec<(usize, LnTarget)>,
}

impl LnRemovalSchedule {
    /// The official order starting at `start`, with `gap_*` steps between removals of the same
    /// kind (the paper's GPT-2-small config: start 20, gaps 2, 2 and 3).
    pub fn sequential(n_layer: usize, start: usize, gap_ln2: usize, gap_ln1_qk: usize, gap_ln1_v: usize) -> Self {
        let mut events = vec![];
        let mut step = start;
        for (gap, make) in [
            (gap_ln2, LnTarget::Ln2 as fn(usize) -> LnTarget),
            (gap_ln1_qk, LnTarget::Ln1Qk as fn(usize) -> LnTarget),
            (gap_ln1_v, LnTarget::Ln1V as fn(usize) -> LnTarget),
        ] {
            for i in 0..n_layer {
                events.push((step, make(i)));
                step += gap.max(1);
            }
        }
        // the final LN comes one ln1-v gap after the last value LN
        events.push((step, LnTarget::Final));
        LnRemovalSchedule { events }
    }

    /// The step of the last removal.
    pub fn end_step(&self) -> usize {
        self.events.last().map(|e| e.0).unwrap_or(0)
    }

    /// Registers the schedule on `trainer`: after step `s` completes, every site scheduled at
    /// `s` gets σ = its average real scale on `calib` (token ids `(B, T)`) and is frozen.
    ///
    /// A checkpoint at any step keeps the sites removed so far with their σ; after
    /// `Trainer::resume`, attach the same schedule again and the later removals happen at their
    /// steps, exactly as in an uninterrupted run.
    pub fn attach(self, trainer: &mut Trainer, calib: Tensor) {
        let events = self.events;
        trainer.add_callback(move |tr, stats| {
            for (_, target) in events.iter().filter(|(s, _)| *s == stats.step) {
                let sigma = average_scale(&tr.model()?, &calib, *target)?;
                tr.params.model.set_norm_mode(*target, NormMode::Fake { sigma })?;
            }
            Ok(())
        });
    }
}

/// The average real LayerNorm scale sqrt(var + eps) of a site's input over all positions of
/// `ids` — the σ a FakeLN freezes.
pub fn average_scale(model: &Gpt2, ids: &Tensor, target: LnTarget) -> Result<f64> {
    let point = match target {
        LnTarget::Ln1Qk(i) | LnTarget::Ln1V(i) => HookPoint::ResidPre(i),
        LnTarget::Ln2(i) => HookPoint::ResidMid(i),
        LnTarget::Final => HookPoint::ResidPost(model.cfg.n_layer - 1),
    };
    let run = model.run(ids, &HookSpec::new().capture(point))?;
    let x = run.cache.get(point)?.to_dtype(DType::F64)?;
    let xc = x.broadcast_sub(&x.mean_keepdim(D::Minus1)?)?;
    let scale = (xc.sqr()?.mean_keepdim(D::Minus1)? + model.cfg.layer_norm_epsilon)?.sqrt()?;
    Ok(scale.mean_all()?.to_scalar::<f64>()?)
}

/// Replaces every site at once by a FakeLN with its average scale on `calib` (the no-fine-tune
/// baseline the paper's sequential schedule is compared against).
pub fn remove_all_at_once(model: &Gpt2, calib: &Tensor) -> Result<Gpt2> {
    let mut m = model.clone();
    let targets: Vec<LnTarget> = m.norm_modes().into_iter().map(|(t, _)| t).collect();
    let sigmas = targets.iter().map(|t| average_scale(model, calib, *t)).collect::<Result<Vec<_>>>()?;
    for (t, s) in targets.into_iter().zip(sigmas) {
        m.set_norm_mode(t, NormMode::Fake { sigma: s })?;
    }
    Ok(m)
}
