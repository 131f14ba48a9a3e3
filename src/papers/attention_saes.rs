//! Attention-output SAEs (Kissane, Krzyzanowski, Bloom, Conmy, Nanda 2024, "Interpreting
//! Attention Layer Outputs with Sparse Autoencoders", arXiv 2406.17759): an SAE on `hook_z`
//! (every head's output before W_O, concatenated) of one layer, its reconstruction quality
//! (L0, CE loss recovered against zero-ablating the layer), features attributed to heads by
//! their decoder-weight norms, direct feature attribution (DFA) by source position, an
//! induction feature, and IOI feature ablation at S2.
//!
//! **ci.** A 2-layer attention-only GPT-2 (4 heads of 16, d_model 64) trained from scratch on a
//! mixture of two synthetic tasks ([`training_batch`]): sequences of random tokens in which one
//! random-length segment recurs at a random offset, and IOI sentences ([`crate::data::ioi`]).
//! Layer 0 is local ([`Setup::window0`]: each query sees itself and the 2 tokens before it,
//! GPT-Neo's local attention); layer 1 is global. Why: with a global layer 0 the model never
//! formed an induction head (1,500–10,000 steps, lr 1e-3–1e-2, batch 32–128, IOI share 0–0.5,
//! position-embedding init ×10, segments repeated twice or with a gap, ctx 32 and 64: the top
//! layer-1 induction score stayed ≤ 0.06, uniform ≈ 0.06). On rows whose period is 6–12 it
//! copies by position instead (layer-0 heads attending 6–12 tokens back), which lowers the
//! training loss but makes it predict *against* the repeat on a period-15 probe (second-copy
//! loss 7.1 against 4.3 on the first, 4,000 steps, IOI share 0.2). A local layer 0 cannot reach
//! those offsets, so the copy has to be done by composition: previous-token heads in layer 0
//! and induction heads in layer 1, which then form on every seed. SAEs (8× = 512 features, 3 L1 coefficients) on layer 1's
//! `hook_z` (d_in 64), trained with the library's unit-norm recipe ([`crate::interp::sae`]);
//! one more on layer 0 for the IOI ablation at S2 (in a 2-layer model, layer 1's output at S2
//! reaches no later layer, so the S2 signal the final position reads is written by layer 0).
//! The negative control is the same pipeline on the untrained model.
//!
//! **Full** ([`full`]): GPT-2 small with the authors' released SAEs
//! (`ckkissane/attn-saes-gpt2-small-all-layers`, a torch state dict and a `_cfg.json` per layer,
//! read by [`full::load_kissane_sae`]).

pub mod analysis;
pub mod full;

use std::time::Instant;

use candle_core::{Device, Tensor};
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::artefact::{ArtefactWriter, SeedMetrics};
use crate::data::ioi::{ioi_prompt, IoiVocab};
use crate::hooks::HookPoint;
use crate::interp::sae::{collect_activations, ce_loss_recovered, sae_metrics, train_sae, BDecInit, Sae, SaeConfig, SaeTrainConfig};
use crate::model::{Gpt2, Gpt2Config, MlpKind};
use crate::train::{AdamW, AdamWConfig, LrSchedule, TrainConfig, Trainer};
use crate::{Error, Result};

pub use analysis::*;

pub const SLUG: &str = "attention-saes";
pub const SEEDS: [u64; 3] = [0, 1, 2];
/// The BOS/separator token of the ci vocabulary.
pub const BOS: u32 = 0;

/// Sizes and schedules of one ci run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Setup {
    pub n_embd: usize,
    pub n_head: usize,
    pub n_layer: usize,
    /// Training context (every training row is `ctx` tokens).
    pub ctx: usize,
    /// First id of the random tokens (ids below are BOS and the IOI words), and the vocabulary.
    pub rand_lo: u32,
    pub vocab_size: usize,
    pub steps: usize,
    pub batch: usize,
    pub lr: f64,
    /// Fraction of training rows that are IOI sentences (the rest: repeated random segments).
    pub ioi_share: f64,
    /// The position embeddings' initial scale relative to GPT-2's init (std 0.02).
    pub pos_init_scale: f64,
    /// Layer 0's attention window (each query sees itself and the `w − 1` tokens before it;
    /// `None`: global like the other layers). Shorter than the rows' shortest period, so that
    /// layer 0 cannot copy by position and the copy needs an induction head (module docs).
    pub window0: Option<usize>,
    /// The SAE's layer (`blocks.{l}.attn.hook_z`).
    pub sae_layer: usize,
    /// d_sae = mult × d_in.
    pub dict_mult: usize,
    /// The L1 sweep and the coefficient the claims use (one of the sweep).
    pub l1s: Vec<f64>,
    pub chosen_l1: f64,
    pub sae_steps: usize,
    pub sae_batch: usize,
    pub sae_lr: f64,
    /// Training rows whose activations the SAEs train on.
    pub act_rows: usize,
    /// Held-out rows for the metrics.
    pub eval_rows: usize,
    /// Length of the repeated segment in the induction probes (BOS + seg + seg).
    pub probe_len: usize,
    pub probe_batch: usize,
    pub ioi_prompts: usize,
    /// Features ablated at S2.
    pub ioi_top_k: usize,
}

impl Setup {
    pub fn ci() -> Setup {
        Setup {
            n_embd: 64,
            n_head: 4,
            n_layer: 2,
            ctx: 32,
            rand_lo: 64,
            vocab_size: 128,
            steps: 4000,
            batch: 32,
            lr: 3e-3,
            ioi_share: 0.5,
            pos_init_scale: 1.0,
            window0: Some(3),
            sae_layer: 1,
            dict_mult: 8,
            l1s: vec![0.5, 1.5, 5.0],
            chosen_l1: 5.0,
            sae_steps: 1000,
            sae_batch: 1024,
            sae_lr: 1e-3,
            act_rows: 6400,
            eval_rows: 256,
            probe_len: 15,
            probe_batch: 64,
            ioi_prompts: 200,
            ioi_top_k: 3,
        }
    }

    pub fn d_head(&self) -> usize {
        self.n_embd / self.n_head
    }

    /// The model: GPT-2 blocks without MLPs.
    pub fn model_config(&self) -> Gpt2Config {
        let mut c = Gpt2Config::tiny(self.vocab_size, self.ctx, self.n_embd, self.n_layer, self.n_head);
        c.mlp = MlpKind::None;
        c.bos_token_id = Some(BOS);
        c.eos_token_id = Some(BOS);
        if let Some(w) = self.window0 {
            c.attention_windows = (0..self.n_layer).map(|l| if l == 0 { Some(w) } else { None }).collect();
        }
        c
    }

    /// The IOI words' ids (1 ..) in this vocabulary; errors if they overlap the random tokens.
    pub fn ioi_vocab(&self) -> Result<IoiVocab> {
        let v = IoiVocab::new(1);
        if 1 + v.len() as u32 > self.rand_lo || self.rand_lo as usize >= self.vocab_size {
            return Err(Error::Msg(format!("IOI words (1..{}) overlap the random tokens ({}..{})", 1 + v.len(), self.rand_lo, self.vocab_size)));
        }
        Ok(v)
    }

    pub fn sae_config(&self, layer: usize) -> Result<SaeConfig> {
        SaeConfig::new(&HookPoint::Z(layer).to_string(), self.n_embd, self.dict_mult * self.n_embd)
    }

    pub fn sae_train_config(&self, l1: f64, seed: u64) -> SaeTrainConfig {
        SaeTrainConfig {
            steps: self.sae_steps,
            batch_size: self.sae_batch,
            lr: self.sae_lr,
            l1_coefficient: l1,
            unit_norm_decoder: true,
            b_dec_init: BDecInit::GeometricMedian,
            resample_at: vec![self.sae_steps / 4, self.sae_steps / 2],
            dead_window: self.sae_steps / 8,
            seed,
        }
    }
}

/// A row of `len` tokens: BOS, 0–8 random tokens, then a random segment of 6–12 tokens
/// repeated until the row is full; returns the row, the segment's start and its length. The
/// start and the period vary from row to row, so no single positional offset copies; a global
/// layer 0 still copies by a mixture of offsets 6–12 back, which the local layer 0 of
/// [`Setup::window0`] rules out (module docs), leaving induction: find the earlier occurrence
/// of the current token, predict what followed it.
pub fn repeat_row(setup: &Setup, len: usize, rng: &mut StdRng) -> (Vec<u32>, usize, usize) {
    let mut row: Vec<u32> = (0..len).map(|_| rng.random_range(setup.rand_lo..setup.vocab_size as u32)).collect();
    row[0] = BOS;
    let start = 1 + rng.random_range(0..=8.min(len / 4));
    let l = rng.random_range(6..=12.min((len - start) / 2).max(6));
    for i in start + l..len {
        row[i] = row[i - l];
    }
    (row, start, l)
}

/// A row of `len` tokens of IOI sentences, each `BOS prompt answer`, packed and cut.
pub fn ioi_row(vocab: &IoiVocab, len: usize, rng: &mut StdRng) -> Result<Vec<u32>> {
    let mut row = vec![];
    while row.len() < len {
        let abba = rng.random_bool(0.5);
        let p = ioi_prompt(rng, abba);
        row.push(BOS);
        row.extend(vocab.ids(&p)?);
        row.push(vocab.id(&p.io)?);
    }
    row.truncate(len);
    Ok(row)
}

/// One training batch: (x, y) of `setup.batch` rows of `ctx` tokens, IOI rows with probability
/// `ioi_share`, else [`repeat_row`]s.
pub fn training_batch(setup: &Setup, vocab: &IoiVocab, n: usize, rng: &mut StdRng) -> Result<(Tensor, Tensor)> {
    let t = setup.ctx;
    let (mut x, mut y) = (Vec::with_capacity(n * t), Vec::with_capacity(n * t));
    for _ in 0..n {
        let row = if rng.random_bool(setup.ioi_share) { ioi_row(vocab, t + 1, rng)? } else { repeat_row(setup, t + 1, rng).0 };
        x.extend_from_slice(&row[..t]);
        y.extend_from_slice(&row[1..]);
    }
    Ok((Tensor::from_vec(x, (n, t), &Device::Cpu)?, Tensor::from_vec(y, (n, t), &Device::Cpu)?))
}

/// Trains the ci model from `seed` (init, data); returns it with its (step, loss) curve.
pub fn train_model(setup: &Setup, seed: u64) -> Result<(Gpt2, Vec<(f64, f64)>)> {
    let vocab = setup.ioi_vocab()?;
    let mut init = Gpt2::random(setup.model_config(), seed, &Device::Cpu)?;
    if setup.pos_init_scale != 1.0 {
        init.wpe = (init.wpe * setup.pos_init_scale)?;
    }
    let cfg = TrainConfig {
        steps: setup.steps,
        batch_size: setup.batch,
        clip: Some(1.0),
        seed,
        progress: false,
        schedule: LrSchedule::Cosine { lr: setup.lr, warmup: setup.steps / 20, total: setup.steps, min_lr: setup.lr / 10.0 },
        ..Default::default()
    };
    let opt = AdamW::new(AdamWConfig { lr: setup.lr, weight_decay: 0.0, ..Default::default() });
    let mut tr = Trainer::new(&init, Box::new(opt), cfg)?;
    let mut rng = StdRng::seed_from_u64(seed ^ 0xA77E);
    let mut curve = vec![];
    for step in 0..setup.steps {
        let st = tr.train_step(&[training_batch(setup, &vocab, setup.batch, &mut rng)?])?;
        if step % 100 == 0 || step + 1 == setup.steps {
            curve.push((step as f64, st.loss));
        }
    }
    Ok((tr.model()?, curve))
}

/// `n` held-out rows of the training mixture (x only), seeded, in batches of ≤ 256.
pub fn mixture_rows(setup: &Setup, n: usize, seed: u64) -> Result<Vec<Tensor>> {
    let vocab = setup.ioi_vocab()?;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = vec![];
    let mut left = n;
    while left > 0 {
        let k = left.min(256);
        out.push(training_batch(setup, &vocab, k, &mut rng)?.0);
        left -= k;
    }
    Ok(out)
}

/// An SAE on `layer`'s hook_z trained on `acts`; returns it, its report and the training
/// throughput in activation rows (tokens) per second.
pub fn train_attn_sae(setup: &Setup, layer: usize, acts: &Tensor, l1: f64, seed: u64) -> Result<(Sae, crate::interp::sae::SaeTrainReport, f64)> {
    let mut sae = Sae::new(setup.sae_config(layer)?, Some(1.0), seed)?;
    let t0 = Instant::now();
    let rep = train_sae(&mut sae, acts, &setup.sae_train_config(l1, seed), None)?; // in candle's pool (train_sae enters it)
    let tps = (setup.sae_steps * setup.sae_batch) as f64 / t0.elapsed().as_secs_f64();
    Ok((sae, rep, tps))
}

/// The reconstruction metrics of `sae` on held-out rows: L0, dead fraction, explained
/// variance, MSE, and CE (clean, spliced, zero-ablated, recovered).
pub fn quality(model: &Gpt2, sae: &Sae, eval: &[Tensor]) -> Result<SeedMetrics> {
    let acts = collect_activations(model, &sae.cfg, eval)?;
    let m = sae_metrics(sae, &acts)?;
    let ids = Tensor::cat(eval, 0)?;
    let (clean, spliced, zero, rec) = ce_loss_recovered(model, sae, &ids)?;
    Ok(SeedMetrics::new(0, "")
        .value("l0", m.l0)
        .value("dead_fraction", m.dead_fraction)
        .value("explained_variance", m.explained_variance)
        .value("mse", m.mse)
        .value("ce_clean", clean)
        .value("ce_spliced", spliced)
        .value("ce_zero_ablated", zero)
        .value("ce_recovered", rec))
}

fn with_group(m: SeedMetrics, seed: u64, group: &str) -> SeedMetrics {
    SeedMetrics { seed, group: group.into(), ..m }
}

fn merge(mut a: SeedMetrics, b: SeedMetrics, prefix: &str) -> SeedMetrics {
    for (k, v) in b.values {
        a.values.insert(format!("{prefix}{k}"), v);
    }
    a
}

/// The group of the chosen L1 on the trained model: what the notebook re-runs live.
pub const MAIN_GROUP: &str = "main";
/// The same pipeline on the untrained model.
pub const CONTROL_GROUP: &str = "untrained";
pub const IOI_GROUP: &str = "ioi";

/// The sweep's group name for an L1 coefficient.
pub fn l1_group(l1: f64) -> String {
    format!("l1={l1:e}")
}

/// The group of the trained model's training metrics (not re-run live: the notebook loads the
/// stored weights).
pub const MODEL_GROUP: &str = "model";

/// A model's chosen-L1 SAE on layer `setup.sae_layer`: SAE quality and the induction analysis
/// (group [`MAIN_GROUP`], or [`CONTROL_GROUP`] for the untrained model). Returns the row, the
/// SAE, the training activations and the SAE throughput (tokens/s, not stored: it depends on
/// the machine).
pub fn analyse(setup: &Setup, model: &Gpt2, seed: u64, group: &str) -> Result<(SeedMetrics, Sae, Tensor, f64)> {
    let acts = collect_activations(model, &setup.sae_config(setup.sae_layer)?, &mixture_rows(setup, setup.act_rows, seed ^ 0xAC75)?)?;
    let (sae, _, tps) = train_attn_sae(setup, setup.sae_layer, &acts, setup.chosen_l1, seed)?;
    let eval = mixture_rows(setup, setup.eval_rows, 10_000 + seed)?;
    let q = quality(model, &sae, &eval)?;
    let ind = induction_analysis(model, &sae, setup, 20_000 + seed)?;
    Ok((merge(with_group(q, seed, group), ind.metrics(), ""), sae, acts, tps))
}

/// The untrained model of `seed` (the negative control's model).
pub fn untrained_model(setup: &Setup, seed: u64) -> Result<Gpt2> {
    Gpt2::random(setup.model_config(), seed, &Device::Cpu)
}

/// Every row of one seed and the trained model: [`MODEL_GROUP`], [`MAIN_GROUP`], the L1 sweep,
/// the IOI ablation and the untrained control.
pub fn run_seed(setup: &Setup, seed: u64) -> Result<(Vec<SeedMetrics>, Gpt2)> {
    let (model, curve) = train_model(setup, seed)?;
    let mut rows = vec![SeedMetrics::new(seed, MODEL_GROUP).value("final_train_loss", curve.last().map(|c| c.1).unwrap_or(f64::NAN)).curve("train_loss", curve)];
    let (main, _, acts, _) = analyse(setup, &model, seed, MAIN_GROUP)?;
    let eval = mixture_rows(setup, setup.eval_rows, 10_000 + seed)?;
    for &l1 in &setup.l1s {
        let q = if l1 == setup.chosen_l1 {
            main.clone()
        } else {
            let (sae, _, _) = train_attn_sae(setup, setup.sae_layer, &acts, l1, seed)?;
            quality(&model, &sae, &eval)?
        };
        let mut row = SeedMetrics::new(seed, l1_group(l1)).value("l1", l1);
        for k in ["l0", "dead_fraction", "explained_variance", "mse", "ce_recovered"] {
            row = row.value(k, q.get(k)?);
        }
        rows.push(row);
    }
    rows.push(main);
    rows.push(with_group(ioi_analysis(&model, setup, seed)?, seed, IOI_GROUP));
    rows.push(analyse(setup, &untrained_model(setup, seed)?, seed, CONTROL_GROUP)?.0);
    Ok((rows, model))
}

/// The stored weights of seed `seed`'s trained model.
pub fn model_file(seed: u64) -> String {
    format!("model_seed{seed}.safetensors")
}

/// Loads seed `seed`'s trained model from the artefact (hash-checked by [`super::Artefact::load`]).
pub fn load_model(a: &super::Artefact, setup: &Setup, seed: u64) -> Result<Gpt2> {
    let t = crate::model::weights::read_safetensors_raw(&a.dir.join(model_file(seed)), &Device::Cpu)?;
    Gpt2::from_tensors(setup.model_config(), &t.into_iter().collect())
}

/// Runs every seed, writes `datasets/attention-saes/` (runs, setup, the three models).
pub fn write_artefact(threads: usize) -> Result<String> {
    let t0 = Instant::now();
    let setup = Setup::ci();
    let out = crate::runtime::parallel_map(SEEDS.to_vec(), threads, |s| run_seed(&setup, s));
    let mut w = ArtefactWriter::new(SLUG, "cargo run --release --example artefact -- attention-saes", &SEEDS)?;
    let mut rows = vec![];
    for (r, &seed) in out.into_iter().zip(&SEEDS) {
        let (r, model) = r?;
        rows.extend(r);
        w.write_bytes(&model_file(seed), &crate::model::weights::safetensors_bytes(&model.named_tensors())?)?;
    }
    w.write_runs(&rows)?;
    w.write_json("setup.json", &setup)?;
    let notes = format!(
        "3 seeds × (a model of {} steps, {} SAEs on layer {} hook_z, one on layer 0, the untrained control), {threads} at a time, {:.0} s on this machine's CPU",
        setup.steps,
        setup.l1s.len(),
        setup.sae_layer,
        t0.elapsed().as_secs_f64()
    );
    w = w.notes(notes.clone());
    w.finish()?;
    Ok(notes)
}
