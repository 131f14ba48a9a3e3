//! Class-conditional LM training with GeDi's combined loss (Krause et al. 2020, §3.1).
//!
//! Followed (not copied) from `salesforce/GeDi` `train_GeDi.py` (BSD-3): every example is fed
//! twice, once after each class code (`[code_c] + tokens`, both in one batch); each row's
//! next-token NLL over the tokens after the code is averaged over its length; the class logits
//! are `−(length-normalised NLL under each code) × s` with a learned scalar s (`--logit_scale`,
//! initialised to 1); `L_disc` is the cross-entropy of those logits against the label,
//! `L_gen` the length-normalised NLL under the example's own code, and the loss is
//! `(1 − λ)·L_disc + λ·L_gen` (`disc_weight` 1 − λ, `gen_weight` λ = 0.8 in `run_training.sh`).

use candle_core::{DType, Device, Tensor, Var, D};
use rand::{rngs::StdRng, Rng, SeedableRng};

use super::{clip_grad_norm, AdamW, AdamWConfig, LrSchedule, Optimizer, Param, TinyLmConfig, TrainableGpt2};
use crate::model::{ops, Gpt2};
use crate::{Error, Result};

/// One labelled example: `tokens` (the condition, e.g. a topic code, then the text) and its
/// class: 0 for the first code (desired, "true"), 1 for the second ("false").
#[derive(Clone, Debug, PartialEq)]
pub struct CclmExample {
    pub tokens: Vec<u32>,
    pub label: usize,
}

/// The parts of one batch's loss.
#[derive(Clone, Debug)]
pub struct CclmLoss {
    /// `(1 − λ)·L_disc + λ·L_gen`, differentiable.
    pub total: Tensor,
    pub disc: f64,
    pub gen: f64,
    /// Per example: the length-normalised NLL under each code, `[code 0, code 1]`.
    pub nll: Vec<[f64; 2]>,
}

/// GeDi's loss on a batch of equal-length examples; `logit_scale` is a scalar tensor (a `Var`
/// when it is trained).
pub fn cclm_loss(model: &Gpt2, logit_scale: &Tensor, codes: [u32; 2], batch: &[CclmExample], lambda: f64) -> Result<CclmLoss> {
    if batch.is_empty() || batch[0].tokens.is_empty() {
        return Err(Error::EmptyInput("the CC-LM loss needs a non-empty batch of non-empty examples".into()));
    }
    if !(0.0..=1.0).contains(&lambda) {
        return Err(Error::Msg(format!("λ must lie in [0, 1], got {lambda}")));
    }
    let (b, l) = (batch.len(), batch[0].tokens.len());
    if let Some(e) = batch.iter().find(|e| e.tokens.len() != l || e.label > 1) {
        return Err(Error::Shape(format!(
            "CC-LM examples must all have {l} tokens and a label 0 or 1; got {} tokens, label {}",
            e.tokens.len(),
            e.label
        )));
    }
    let dev = Device::Cpu;
    let mut ids = Vec::with_capacity(2 * b * (l + 1));
    for &c in &codes {
        for e in batch {
            ids.push(c);
            ids.extend_from_slice(&e.tokens);
        }
    }
    let ids = Tensor::from_vec(ids, (2 * b, l + 1), &dev)?;
    let (x, y) = (ids.narrow(1, 0, l)?, ids.narrow(1, 1, l)?);
    let lp = ops::log_softmax_last(&model.forward(&x)?)?; // (2B, L, V)
    let tok_lp = lp.gather(&y.contiguous()?.unsqueeze(2)?, D::Minus1)?.squeeze(2)?; // (2B, L)
    let nll = tok_lp.mean(1)?.neg()?; // (2B,)
    let per_class = Tensor::stack(&[nll.narrow(0, 0, b)?, nll.narrow(0, b, b)?], 1)?; // (B, 2)
    let class_logits = per_class.neg()?.broadcast_mul(&logit_scale.reshape((1, 1))?)?;
    let labels = Tensor::from_vec(batch.iter().map(|e| e.label as u32).collect::<Vec<_>>(), b, &dev)?;
    let disc = ops::cross_entropy(&class_logits, &labels)?;
    let onehot: Vec<f32> = batch.iter().flat_map(|e| if e.label == 0 { [1.0, 0.0] } else { [0.0, 1.0] }).collect();
    let gen = (per_class.clone() * Tensor::from_vec(onehot, (b, 2), &dev)?)?.sum_all()?.affine(1.0 / b as f64, 0.0)?;
    let total = (disc.affine(1.0 - lambda, 0.0)? + gen.affine(lambda, 0.0)?)?;
    let nll = per_class.to_dtype(DType::F64)?.to_vec2::<f64>()?.into_iter().map(|r| [r[0], r[1]]).collect();
    Ok(CclmLoss {
        disc: disc.to_dtype(DType::F64)?.to_scalar()?,
        gen: gen.to_dtype(DType::F64)?.to_scalar()?,
        total,
        nll,
    })
}

/// A trained class-conditional LM.
#[derive(Clone, Debug)]
pub struct Cclm {
    pub model: Gpt2,
    pub logit_scale: f64,
    /// (step, total loss, L_disc, L_gen) every 10 steps.
    pub curve: Vec<(usize, f64, f64, f64)>,
}

/// Trains a tiny GPT-2 from scratch (init and batches from `seed`) as a CC-LM on `examples`
/// with GeDi's loss at `lambda`, AdamW, a cosine schedule (10% warmup), clipping at 1; the
/// logit scale is trained with the model (no weight decay on it).
pub fn train_cclm(examples: &[CclmExample], vocab_size: usize, eos: u32, codes: [u32; 2], cfg: &TinyLmConfig, lambda: f64, seed: u64) -> Result<Cclm> {
    if examples.is_empty() {
        return Err(Error::EmptyInput("train_cclm needs examples".into()));
    }
    let l = examples[0].tokens.len();
    if l + 1 > cfg.ctx + 1 || l > cfg.ctx {
        return Err(Error::PromptTooLong { len: l + 1, n_ctx: cfg.ctx });
    }
    let init = Gpt2::random(cfg.model_config(vocab_size, eos), seed, &Device::Cpu)?;
    let tr = TrainableGpt2::new(&init)?;
    let scale = Var::from_tensor(&Tensor::ones(1, DType::F32, &Device::Cpu)?)?;
    let mut params = tr.params.clone();
    params.push(Param {
        name: "logit_scale".into(),
        var: scale.clone(),
        decay: false,
    });
    let mut opt = AdamW::new(AdamWConfig {
        lr: cfg.lr,
        weight_decay: 0.1,
        ..Default::default()
    });
    let sched = LrSchedule::Cosine {
        lr: cfg.lr,
        warmup: cfg.steps / 10,
        total: cfg.steps,
        min_lr: cfg.lr / 10.0,
    };
    let mut rng = StdRng::seed_from_u64(seed ^ 0xC0DE);
    let mut curve = vec![];
    crate::runtime::with_cpu_pool(|| -> Result<()> {
        for step in 0..cfg.steps {
            let batch: Vec<CclmExample> = (0..cfg.batch_size).map(|_| examples[rng.random_range(0..examples.len())].clone()).collect();
            let loss = cclm_loss(&tr.model, scale.as_tensor(), codes, &batch, lambda)?;
            let total = loss.total.to_dtype(DType::F64)?.to_scalar::<f64>()?;
            if !total.is_finite() {
                return Err(Error::NonFinite {
                    step,
                    what: format!("CC-LM loss = {total}"),
                });
            }
            let mut grads = loss.total.backward()?;
            clip_grad_norm(&params, &mut grads, 1.0)?;
            opt.set_learning_rate(sched.at(step));
            opt.step(&params, &grads)?;
            if step % 10 == 0 || step + 1 == cfg.steps {
                curve.push((step, total, loss.disc, loss.gen));
            }
        }
        Ok(())
    })?;
    let s = scale.as_tensor().to_dtype(DType::F64)?.to_vec1::<f64>()?[0];
    Ok(Cclm {
        model: tr.snapshot()?,
        logit_scale: s,
        curve,
    })
}
