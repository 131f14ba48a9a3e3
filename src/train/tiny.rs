//! One call that trains a tiny GPT-2 from scratch on token documents: what the synthetic-world
//! paper notebooks (occupations, theory-of-mind stories, topic corpora) need at ci scale.

use candle_core::Device;
use serde::{Deserialize, Serialize};

use super::{AdamW, AdamWConfig, LrSchedule, TrainConfig, Trainer};
use crate::data::TokenDataset;
use crate::model::{Gpt2, Gpt2Config};
use crate::Result;

/// Size and schedule of a tiny from-scratch run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TinyLmConfig {
    pub n_embd: usize,
    pub n_layer: usize,
    pub n_head: usize,
    /// Context (and training block) length.
    pub ctx: usize,
    pub steps: usize,
    pub batch_size: usize,
    /// Peak learning rate (cosine to a tenth, 10% warmup).
    pub lr: f64,
}

impl Default for TinyLmConfig {
    fn default() -> Self {
        TinyLmConfig {
            n_embd: 48,
            n_layer: 2,
            n_head: 4,
            ctx: 32,
            steps: 300,
            batch_size: 32,
            lr: 3e-3,
        }
    }
}

impl TinyLmConfig {
    /// The model's config for a vocabulary of `vocab_size` with `eos` as BOS/EOS.
    pub fn model_config(&self, vocab_size: usize, eos: u32) -> Gpt2Config {
        Gpt2Config {
            bos_token_id: Some(eos),
            eos_token_id: Some(eos),
            ..Gpt2Config::tiny(vocab_size, self.ctx, self.n_embd, self.n_layer, self.n_head)
        }
    }
}

/// Trains a tiny GPT-2 (init and batch order from `seed`) on `docs` packed with `eos` between
/// documents; returns it with its final training loss (nats/token).
pub fn train_tiny_lm(docs: &[Vec<u32>], vocab_size: usize, eos: u32, cfg: &TinyLmConfig, seed: u64) -> Result<(Gpt2, f64)> {
    let data = TokenDataset::from_documents(docs, Some(eos), cfg.ctx)?;
    let mut trainer = tiny_lm_trainer(vocab_size, eos, cfg, seed, None)?;
    let m = trainer.fit(&data, None)?;
    Ok((trainer.model()?, m.last_train_loss().unwrap_or(f64::NAN)))
}

/// The trainer [`train_tiny_lm`] runs: `cfg`'s model at `seed`'s init, AdamW (weight decay 0.1),
/// clip 1.0, cosine from `cfg.lr` to a tenth after 10% warmup, batch order from `seed`, the loss
/// logged every 10 steps. `stop_after` ends the run early on the same schedule (the first steps
/// of the same trajectory).
pub fn tiny_lm_trainer(vocab_size: usize, eos: u32, cfg: &TinyLmConfig, seed: u64, stop_after: Option<usize>) -> Result<Trainer> {
    let init = Gpt2::random(cfg.model_config(vocab_size, eos), seed, &Device::Cpu)?;
    let tcfg = TrainConfig {
        steps: stop_after.unwrap_or(cfg.steps).min(cfg.steps),
        batch_size: cfg.batch_size,
        clip: Some(1.0),
        schedule: LrSchedule::Cosine {
            lr: cfg.lr,
            warmup: cfg.steps / 10,
            total: cfg.steps,
            min_lr: cfg.lr / 10.0,
        },
        log_every: 10,
        seed,
        progress: false,
        ..Default::default()
    };
    Trainer::new(&init, Box::new(AdamW::new(AdamWConfig { lr: cfg.lr, weight_decay: 0.1, ..Default::default() })), tcfg)
}
