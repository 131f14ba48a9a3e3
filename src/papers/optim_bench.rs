//! The optimizer bench shared by the Sophia (10) and Conda (19) notebooks: one tiny GPT-2, one
//! corpus, identical data order and seeds for every optimizer, so curves differ only by the
//! optimizer. Each optimizer gets its paper's hyper-parameters except the learning rate, which is
//! tuned per optimizer on a small grid (seed 0) before the seeds are run.
//!
//! Corpus: MiniEnglish ([`Pcfg::english_small`]) at the word level (one token per word or
//! punctuation mark, `<eos>` between sentences). Model: GPT-2 with d 64, 4 layers, 4 heads,
//! context 64. Schedule: linear warmup 30 steps, cosine to 0.05 × peak (Sophia's paper text),
//! gradient clipping 1.0, as both papers' GPT-2 recipes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::artefact::SeedMetrics;
use crate::data::{Pcfg, TokenDataset};
use crate::model::{Gpt2, Gpt2Config};
use crate::train::spectrum::{update_spectra, UpdateSpectrum};
use crate::train::*;
use crate::{Error, Result};

/// Word-level MiniEnglish, split into train and validation.
pub struct BenchData {
    pub train: TokenDataset,
    pub val: TokenDataset,
    pub vocab: Vec<String>,
    /// Entropy of the training unigram distribution (nats/token): the loss of a model that
    /// ignores context.
    pub unigram_entropy: f64,
}

pub const CTX: usize = 64;
/// SophiaG's ρ at ci scale. The official 0.05 (GPT-2 small, 491,520 tokens per step) leaves
/// almost every coordinate clipped at 1,024 tokens per step (win_rate ≤ 0.03 over a 200-step
/// run, measured on this bench; the README advises keeping it within 0.1–0.5): the
/// sampled-label gradient's square shrinks with the batch as 1/B while the momentum's noise
/// shrinks only as 1/√B. ρ = 1 puts win_rate in that range here (0.1–0.3 after the first 50
/// steps, same measurement); `papers::sophia` keeps a ρ = 0.05 run as the control.
pub const SOPHIA_RHO: f64 = 1.0;

/// `n_train` / `n_val` sentences (generator seeds 1 and 2).
pub fn bench_data(n_train: usize, n_val: usize) -> Result<BenchData> {
    let g = Pcfg::english_small();
    let (tr, va) = (g.generate(n_train, 1), g.generate(n_val, 2));
    let mut index: BTreeMap<String, u32> = BTreeMap::new();
    let mut vocab = vec!["<eos>".to_string(), "<unk>".to_string()];
    for s in &tr {
        for w in s.texts() {
            if !index.contains_key(w) {
                index.insert(w.to_string(), vocab.len() as u32);
                vocab.push(w.to_string());
            }
        }
    }
    let encode = |ss: &[crate::data::Sentence]| -> Vec<u32> {
        ss.iter()
            .flat_map(|s| s.texts().into_iter().map(|w| index.get(w).copied().unwrap_or(1)).chain(std::iter::once(0)))
            .collect()
    };
    let (a, b) = (encode(&tr), encode(&va));
    let mut counts = vec![0f64; vocab.len()];
    for &t in &a {
        counts[t as usize] += 1.0;
    }
    let n = a.len() as f64;
    let unigram_entropy = -counts.iter().filter(|&&c| c > 0.0).map(|c| (c / n) * (c / n).ln()).sum::<f64>();
    Ok(BenchData {
        train: TokenDataset::new(a, CTX)?,
        val: TokenDataset::new(b, CTX)?,
        vocab,
        unigram_entropy,
    })
}

/// The optimizers of the bench.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OptKind {
    AdamW,
    SophiaG,
    Muon,
    Conda,
}

impl OptKind {
    pub fn name(self) -> &'static str {
        match self {
            OptKind::AdamW => "AdamW",
            OptKind::SophiaG => "SophiaG",
            OptKind::Muon => "Muon",
            OptKind::Conda => "Conda",
        }
    }
}

/// One run's set-up.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BenchConfig {
    pub kind: OptKind,
    pub lr: f64,
    pub seed: u64,
    pub steps: usize,
    pub batch_size: usize,
    pub warmup: usize,
    pub eval_every: usize,
    /// Conda's projector refresh (the paper's 2000 is one refresh in a short run).
    pub update_proj_gap: usize,
    /// SophiaG's ρ (the official 0.05 is for 491,520 tokens per step; see [`SOPHIA_RHO`]).
    pub rho: f64,
    /// Steps at which the update matrices' spectra are probed (before → after that step).
    pub probe_steps: Vec<usize>,
    pub model: Gpt2Config,
}

impl BenchConfig {
    /// The ci set-up: 300 steps of 16 × 64 tokens.
    pub fn ci(kind: OptKind, lr: f64, seed: u64, vocab_size: usize) -> Self {
        BenchConfig {
            kind,
            lr,
            seed,
            steps: 300,
            batch_size: 16,
            warmup: 30,
            eval_every: 25,
            update_proj_gap: 25,
            rho: SOPHIA_RHO,
            probe_steps: vec![],
            model: Gpt2Config::tiny(vocab_size, CTX, 64, 4, 4),
        }
    }

    /// The optimizer with its paper's hyper-parameters at peak learning rate `lr`.
    pub fn optimizer(&self) -> Result<Box<dyn Optimizer>> {
        let tokens = self.batch_size * self.model.n_positions;
        Ok(match self.kind {
            // nanoGPT / both papers' AdamW baseline: betas (0.9, 0.95), wd 0.1 on Linear weights
            OptKind::AdamW => Box::new(AdamW::with_groups(
                AdamWConfig {
                    lr: self.lr,
                    beta1: 0.9,
                    beta2: 0.95,
                    eps: 1e-8,
                    weight_decay: 0.1,
                    decay_all: false,
                },
                ParamGroups::decay_split(0.1),
            )),
            // Sophia's official GPT-2 small config: betas (0.965, 0.99), ρ 0.05, wd 0.2, k 10
            OptKind::SophiaG => Box::new(SophiaG::with_groups(
                SophiaConfig {
                    lr: self.lr,
                    beta1: 0.965,
                    beta2: 0.99,
                    rho: self.rho,
                    weight_decay: 0.2,
                    tokens_per_step: tokens,
                    hessian_every: 10,
                },
                ParamGroups::decay_split(0.2),
            )?),
            // the Conda repo's Muon baseline (Moonlight scaling, wd 0.1 everywhere)
            OptKind::Muon => Box::new(Muon::new(MuonConfig { lr: self.lr, ..MuonConfig::default() })?),
            // Conda's GPT-2 125M config: betas (0.9, 0.99), wd 0.01, scale 0.25
            OptKind::Conda => Box::new(Conda::new(CondaConfig {
                lr: self.lr,
                update_proj_gap: self.update_proj_gap,
                ..CondaConfig::default()
            })?),
        })
    }
}

/// What one run measured.
#[derive(Clone, Debug)]
pub struct BenchRun {
    pub cfg: BenchConfig,
    /// (step, train loss) every step.
    pub train_loss: Vec<(f64, f64)>,
    /// (step, validation loss) every `eval_every` steps and at the end.
    pub val_loss: Vec<(f64, f64)>,
    /// (step, win_rate) after each curvature pass (SophiaG only).
    pub win_rate: Vec<(f64, f64)>,
    /// (step, seconds since the start) every step.
    pub wall: Vec<(f64, f64)>,
    /// Update spectra at each probe step, per hidden matrix.
    pub spectra: Vec<(usize, Vec<UpdateSpectrum>)>,
}

impl BenchRun {
    pub fn final_val(&self) -> f64 {
        self.val_loss.last().map(|p| p.1).unwrap_or(f64::NAN)
    }
    /// The first step at which the validation loss is ≤ `target` (None if never).
    pub fn steps_to(&self, target: f64) -> Option<f64> {
        self.val_loss.iter().find(|p| p.1 <= target).map(|p| p.0)
    }
    /// Mean stable rank of the hidden matrices' updates at probe step `step`.
    pub fn mean_stable_rank(&self, step: usize) -> Option<f64> {
        let (_, s) = self.spectra.iter().find(|(k, _)| *k == step)?;
        Some(s.iter().map(|x| x.stable_rank).sum::<f64>() / s.len().max(1) as f64)
    }
    /// The run as an artefact row (`group` = optimizer name and lr).
    pub fn metrics(&self) -> SeedMetrics {
        let mut m = SeedMetrics::new(self.cfg.seed, group(self.cfg.kind, self.cfg.lr))
            .value("final_val_loss", self.final_val())
            .value("final_train_loss", self.train_loss.last().map(|p| p.1).unwrap_or(f64::NAN))
            .curve("val_loss", self.val_loss.clone())
            .curve("train_loss", self.train_loss.iter().copied().filter(|p| (p.0 as usize) % 10 == 0).collect());
        if !self.win_rate.is_empty() {
            m = m.curve("win_rate", self.win_rate.clone());
        }
        for (step, s) in &self.spectra {
            m = m.value(&format!("stable_rank@{step}"), s.iter().map(|x| x.stable_rank).sum::<f64>() / s.len().max(1) as f64);
            for x in s {
                m = m.curve(&format!("spectrum@{step}:{}", x.name), x.normalised.iter().enumerate().map(|(i, v)| (i as f64, *v)).collect());
            }
        }
        m
    }
}

/// An artefact row's group name.
pub fn group(kind: OptKind, lr: f64) -> String {
    format!("{} lr={lr:e}", kind.name())
}

/// Trains one run on CPU; deterministic in `cfg.seed` (model init and batch order).
pub fn run(data: &BenchData, cfg: &BenchConfig) -> Result<BenchRun> {
    if cfg.steps == 0 {
        return Err(Error::EmptyInput("a bench run needs at least one step".into()));
    }
    let model = Gpt2::random(cfg.model.clone(), cfg.seed, &Device::Cpu)?;
    let tcfg = TrainConfig {
        steps: cfg.steps,
        batch_size: cfg.batch_size,
        grad_accum: 1,
        clip: Some(1.0),
        schedule: LrSchedule::Cosine {
            lr: cfg.lr,
            warmup: cfg.warmup,
            total: cfg.steps,
            min_lr: 0.05 * cfg.lr,
        },
        eval_every: Some(cfg.eval_every),
        eval_batches: Some(8),
        log_every: 1,
        seed: cfg.seed,
        progress: false,
    };
    let mut tr = Trainer::new(&model, cfg.optimizer()?, tcfg)?;
    let win: Arc<Mutex<Vec<(f64, f64)>>> = Arc::default();
    let wall: Arc<Mutex<Vec<(f64, f64)>>> = Arc::default();
    let (w2, c2) = (win.clone(), wall.clone());
    let t0 = Instant::now();
    tr.add_callback(move |t, s| {
        c2.lock().expect("wall log").push((s.step as f64, t0.elapsed().as_secs_f64()));
        // a fresh win_rate after each curvature pass (SophiaG asks for one every 10 steps)
        if t.opt.wants_curvature() {
            if let Some((_, w)) = t.opt.diagnostics().into_iter().find(|d| d.0 == "win_rate") {
                w2.lock().expect("win-rate log").push((s.step as f64, w));
            }
        }
        Ok(())
    });
    let mut spectra = vec![];
    let mut stops: Vec<usize> = cfg.probe_steps.iter().copied().filter(|&s| s >= 1 && s <= cfg.steps).collect();
    stops.sort();
    for &probe in &stops {
        // probe stops evaluate too (is_last): extra validation points, the same training
        tr.cfg.steps = probe - 1;
        tr.fit(&data.train, Some(&data.val))?;
        let before: Vec<(String, Tensor)> = tr
            .params
            .params
            .iter()
            .map(|p| (p.name.clone(), p.var.as_tensor().copy().map(|t| t.detach()).unwrap_or_else(|_| p.var.as_tensor().detach())))
            .collect();
        tr.cfg.steps = probe;
        tr.fit(&data.train, Some(&data.val))?;
        let after: Vec<(String, Tensor)> = tr
            .params
            .params
            .iter()
            .map(|p| (p.name.clone(), p.var.as_tensor().copy().map(|t| t.detach()).unwrap_or_else(|_| p.var.as_tensor().detach())))
            .collect();
        spectra.push((probe, update_spectra(&before, &after, |n, r| Select::HiddenMatrices.matches(n, r))?));
    }
    tr.cfg.steps = cfg.steps;
    let m = tr.fit(&data.train, Some(&data.val))?;
    let wall = wall.lock().expect("wall log").clone();
    let val_loss: Vec<(f64, f64)> = m.rows.iter().filter_map(|r| r.val_loss.map(|v| (r.step as f64, v))).collect();
    let train_loss = m.rows.iter().map(|r| (r.step as f64, r.train_loss)).collect();
    let win_rate = win.lock().expect("win-rate log").clone();
    Ok(BenchRun {
        cfg: cfg.clone(),
        train_loss,
        val_loss,
        win_rate,
        wall,
        spectra,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_deterministic_and_probe_update_spectra() {
        let d = bench_data(300, 50).unwrap();
        assert!(d.unigram_entropy > 1.0 && d.unigram_entropy < (d.vocab.len() as f64).ln());
        let mut c = BenchConfig::ci(OptKind::Muon, 3e-3, 5, d.vocab.len());
        (c.steps, c.warmup, c.eval_every, c.batch_size, c.probe_steps) = (4, 1, 2, 2, vec![3]);
        c.model = Gpt2Config::tiny(d.vocab.len(), CTX, 16, 1, 2);
        let a = run(&d, &c).unwrap();
        let b = run(&d, &c).unwrap();
        assert_eq!(a.val_loss, b.val_loss);
        assert_eq!(a.train_loss.len(), 4);
        let (_, s) = &a.spectra[0];
        assert_eq!(s.len(), 4, "4 hidden matrices in one block");
        // Muon's update is orthogonalised: stable rank far above a rank-1-ish Adam update's
        assert!(s.iter().all(|x| x.stable_rank > 3.0), "{:?}", s.iter().map(|x| x.stable_rank).collect::<Vec<_>>());
        c.steps = 0;
        assert!(run(&d, &c).is_err());
    }
}
