//! One-layer knowledge acquisition and extraction (Xu & Chen, "Filtering with Self-Attention and
//! Storing with MLP: One-Layer Transformers Can Provably Acquire and Extract Knowledge",
//! arXiv 2508.00901): a one-layer transformer pre-trained on bios ([`crate::data::facts`])
//! stores the facts, QA fine-tuning on half of the subjects makes it answer for the other half,
//! LoRA fine-tuning does about as well, full fine-tuning's ΔW is low-rank, and an attention-only
//! model (`mlp = none`) neither stores nor extracts.
//!
//! The paper is a theory paper; its text was not reachable from this workspace, so the data
//! design, sizes, learning rates and margins here are ours (see the notebook), following the
//! abstract-level claims in the brief. The QA loss covers the whole QA line (the library's
//! loss has no mask): the question tokens are the same for every arm, so the comparison is fair.

use candle_core::{Device, Tensor};
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::artefact::{ArtefactWriter, SeedMetrics};
use crate::data::facts::{Fact, FactWorld, FactsConfig, Qa};
use crate::hooks::{HookSpec, Intervention};
use crate::model::{Gpt2, Gpt2Config, MlpKind};
use crate::peft::{Adapter, AdapterConfig, DeltaSpectrum};
use crate::train::{AdamW, AdamWConfig, LrSchedule, TrainConfig, Trainer};
use crate::{Error, Result};

pub const SLUG: &str = "one-layer-knowledge";
pub const SEEDS: [u64; 3] = [0, 1, 2];
/// The projections fine-tuned (LoRA targets; full fine-tuning trains every parameter).
pub const TARGETS: [&str; 3] = ["c_attn", "c_proj", "c_fc"];
/// The weight matrices whose ΔW spectrum is measured.
pub const MATRICES: [&str; 4] = ["h.0.attn.c_attn.weight", "h.0.attn.c_proj.weight", "h.0.mlp.c_fc.weight", "h.0.mlp.c_proj.weight"];

/// Sizes and schedule of one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Setup {
    pub n_embd: usize,
    pub n_head: usize,
    pub pt_steps: usize,
    pub pt_batch: usize,
    pub pt_lr: f64,
    pub ft_steps: usize,
    pub ft_batch: usize,
    pub ft_lr_full: f64,
    pub ft_lr_lora: f64,
    /// The world: [`FactsConfig::full`] when set, else [`FactsConfig::ci`].
    pub full_world: bool,
}

impl Setup {
    /// The one-layer model at GPT-2 small's width (768, 12 heads) for [`FactsConfig::full`].
    pub fn full() -> Setup {
        Setup {
            n_embd: 768,
            n_head: 12,
            pt_steps: 20000,
            pt_batch: 64,
            pt_lr: 1e-3,
            ft_steps: 2000,
            ft_batch: 64,
            ft_lr_full: 3e-4,
            ft_lr_lora: 3e-3,
            full_world: true,
        }
    }
    /// The world of `seed` for this setup.
    pub fn world(&self, seed: u64) -> Result<FactWorld> {
        FactWorld::new(if self.full_world { FactsConfig::full(seed) } else { FactsConfig::ci(seed) })
    }
    pub fn ci() -> Setup {
        Setup {
            n_embd: 64,
            n_head: 4,
            pt_steps: 1000,
            pt_batch: 32,
            pt_lr: 1e-2,
            ft_steps: 300,
            ft_batch: 32,
            ft_lr_full: 1e-2,
            ft_lr_lora: 3e-2,
            full_world: false,
        }
    }
}

/// The one-layer model for a world: d = `n_embd`, one block, with or without the MLP.
pub fn model_config(world: &FactWorld, setup: &Setup, mlp: bool) -> Gpt2Config {
    let mut c = Gpt2Config::tiny(world.vocab_size(), 32, setup.n_embd, 1, setup.n_head);
    c.mlp = if mlp { MlpKind::Standard } else { MlpKind::None };
    c
}

/// Next-token batch of whole bios of random subjects.
fn bio_batch(world: &FactWorld, n: usize, rng: &mut StdRng) -> Result<(Tensor, Tensor)> {
    let t = world.bio_len();
    let (mut x, mut y) = (Vec::with_capacity(n * (t - 1)), Vec::with_capacity(n * (t - 1)));
    for _ in 0..n {
        let b = world.bio(rng.random_range(0..world.cfg.n_subjects), rng);
        x.extend_from_slice(&b[..t - 1]);
        y.extend_from_slice(&b[1..]);
    }
    Ok((Tensor::from_vec(x, (n, t - 1), &Device::Cpu)?, Tensor::from_vec(y, (n, t - 1), &Device::Cpu)?))
}

/// Pre-trains a fresh one-layer model on bios; returns it with its (step, loss) curve.
pub fn pretrain(world: &FactWorld, setup: &Setup, mlp: bool, seed: u64) -> Result<(Gpt2, Vec<(f64, f64)>)> {
    let model = Gpt2::random(model_config(world, setup, mlp), seed, &Device::Cpu)?;
    let steps = setup.pt_steps;
    let cfg = TrainConfig {
        steps,
        batch_size: setup.pt_batch,
        clip: Some(1.0),
        seed,
        progress: false,
        schedule: LrSchedule::Cosine {
            lr: setup.pt_lr,
            warmup: steps / 20,
            total: steps,
            min_lr: setup.pt_lr / 10.0,
        },
        ..Default::default()
    };
    let mut tr = Trainer::new(
        &model,
        Box::new(AdamW::new(AdamWConfig {
            lr: setup.pt_lr,
            weight_decay: 0.0,
            ..Default::default()
        })),
        cfg,
    )?;
    let mut rng = StdRng::seed_from_u64(seed ^ 0xB105);
    let mut curve = vec![];
    for step in 0..steps {
        let st = tr.train_step(&[bio_batch(world, setup.pt_batch, &mut rng)?])?;
        if step % 50 == 0 || step + 1 == steps {
            curve.push((st.step as f64, st.loss));
        }
    }
    Ok((tr.model()?, curve))
}

/// Argmax next token after each prompt (all prompts the same length).
fn predict(model: &Gpt2, prompts: &[Vec<u32>], spec: &HookSpec) -> Result<Vec<u32>> {
    let t = prompts.first().map(|p| p.len()).ok_or_else(|| Error::EmptyInput("no prompts".into()))?;
    if prompts.iter().any(|p| p.len() != t) {
        return Err(Error::Shape("prompts of different lengths".into()));
    }
    let ids = Tensor::from_vec(prompts.concat(), (prompts.len(), t), &Device::Cpu)?;
    let logits = model.run(&ids, spec)?.logits.narrow(1, t - 1, 1)?.squeeze(1)?; // (B, V)
    Ok(logits.argmax(1)?.to_vec1::<u32>()?)
}

/// Exact match of the statement-format probe `first last t(r, 0)` over `facts`.
pub fn recall(model: &Gpt2, world: &FactWorld, facts: &[Fact], spec: &HookSpec) -> Result<f64> {
    let prompts: Vec<Vec<u32>> = facts.iter().map(|&f| world.statement_prompt(f, 0)).collect();
    let pred = predict(model, &prompts, spec)?;
    Ok(pred.iter().zip(facts).filter(|(p, f)| **p == f.object).count() as f64 / facts.len() as f64)
}

/// A spec that replaces the hook `point` (`blocks.0.hook_mlp_out` or `blocks.0.hook_attn_out`)
/// at every position by its mean over the statement probes of `facts` (mean-ablation).
pub fn mean_ablation(model: &Gpt2, world: &FactWorld, facts: &[Fact], point: &str) -> Result<HookSpec> {
    let prompts: Vec<Vec<u32>> = facts.iter().map(|&f| world.statement_prompt(f, 0)).collect();
    let ids = Tensor::from_vec(prompts.concat(), (prompts.len(), 3), &Device::Cpu)?;
    let run = model.run(&ids, &HookSpec::new().capture(point))?;
    let mean = run.cache.get(point)?.mean(0)?; // (T, C): per position
    Ok(HookSpec::new().intervene(point, Intervention::custom(move |x, _| mean.unsqueeze(0)?.broadcast_as(x.shape())?.contiguous())))
}

/// QA exact match, and the fraction of answers that are an object of the asked relation
/// (a wrong answer of the right type is a hallucinated fact, not a format failure).
pub fn qa_accuracy(model: &Gpt2, world: &FactWorld, qa: &[Qa]) -> Result<(f64, f64)> {
    let prompts: Vec<Vec<u32>> = qa.iter().map(|q| q.question.clone()).collect();
    let pred = predict(model, &prompts, &HookSpec::new())?;
    let n = qa.len() as f64;
    let exact = pred.iter().zip(qa).filter(|(p, q)| **p == q.answer).count() as f64 / n;
    let typed = pred.iter().zip(qa).filter(|(p, q)| world.objects_of(q.fact.relation).contains(p)).count() as f64 / n;
    Ok((exact, typed))
}

/// How a model is fine-tuned on QA.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Arm {
    Full,
    Lora { r: usize },
}

impl Arm {
    pub fn label(&self) -> String {
        match self {
            Arm::Full => "full".into(),
            Arm::Lora { r } => format!("lora_r{r}"),
        }
    }
}

/// A fine-tuned model, its trainable-parameter count and, for LoRA, each site's ΔW.
pub struct Finetuned {
    pub model: Gpt2,
    pub n_trainable: usize,
    pub final_loss: f64,
}

/// QA fine-tuning of `base` on `qa` (x = question, y = the question shifted + the answer).
pub fn finetune(base: &Gpt2, qa: &[Qa], setup: &Setup, arm: &Arm, seed: u64) -> Result<Finetuned> {
    if qa.is_empty() {
        return Err(Error::EmptyInput("no fine-tuning QA pairs".into()));
    }
    let steps = setup.ft_steps;
    let lr = match arm {
        Arm::Full => setup.ft_lr_full,
        Arm::Lora { .. } => setup.ft_lr_lora,
    };
    let cfg = TrainConfig {
        steps,
        batch_size: setup.ft_batch,
        clip: Some(1.0),
        seed,
        progress: false,
        schedule: LrSchedule::Linear {
            lr,
            warmup: steps / 10,
            total: steps,
            final_lr: 0.0,
        },
        ..Default::default()
    };
    let opt = Box::new(AdamW::new(AdamWConfig {
        lr,
        weight_decay: 0.0,
        ..Default::default()
    }));
    let adapter = match arm {
        Arm::Full => None,
        Arm::Lora { r } => Some(Adapter::new(base, &AdapterConfig::lora(*r, 2.0 * *r as f64, &TARGETS), seed)?),
    };
    let mut tr = match &adapter {
        Some(a) => a.trainer(opt, cfg)?,
        None => Trainer::new(base, opt, cfg)?,
    };
    let n_trainable = tr.params.n_trainable();
    let mut rng = StdRng::seed_from_u64(seed ^ 0x0A);
    let t = qa[0].question.len();
    let mut final_loss = f64::NAN;
    for _ in 0..steps {
        let (mut x, mut y) = (vec![], vec![]);
        for _ in 0..setup.ft_batch {
            let q = &qa[rng.random_range(0..qa.len())];
            x.extend_from_slice(&q.question);
            y.extend_from_slice(&q.question[1..]);
            y.push(q.answer);
        }
        let b = (Tensor::from_vec(x, (setup.ft_batch, t), &Device::Cpu)?, Tensor::from_vec(y, (setup.ft_batch, t), &Device::Cpu)?);
        let st = match &adapter {
            Some(a) => a.train_step(&mut tr, &[b])?,
            None => tr.train_step(&[b])?,
        };
        final_loss = st.loss;
    }
    let model = match &adapter {
        Some(a) => a.model()?,
        None => tr.model()?,
    };
    Ok(Finetuned { model, n_trainable, final_loss })
}

/// The spectrum of ΔW = after − before for each of [`MATRICES`] present in both models.
pub fn delta_spectra(before: &Gpt2, after: &Gpt2) -> Result<Vec<DeltaSpectrum>> {
    let names: Vec<String> = before.named_tensors().into_iter().map(|(n, _)| n).collect();
    MATRICES
        .iter()
        .filter(|m| names.iter().any(|n| n == *m))
        .map(|m| DeltaSpectrum::of(m, &crate::peft::weight_delta(before, after, m)?))
        .collect()
}

/// The control spectrum: a seeded Gaussian matrix of the same shape as `like`.
pub fn random_spectrum(name: &str, like: &Tensor, seed: u64) -> Result<DeltaSpectrum> {
    let (r, c) = like.dims2()?;
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5BD);
    let data: Vec<f32> = (0..r * c).map(|_| crate::model::weights::normal(&mut rng) as f32).collect();
    DeltaSpectrum::of(name, &Tensor::from_vec(data, (r, c), &Device::Cpu)?)
}

/// Energy-weighted top-k energy over several ΔWs: Σ_m top_k(m)·‖ΔW_m‖² / Σ_m ‖ΔW_m‖².
pub fn pooled_top_energy(spectra: &[DeltaSpectrum], k: usize) -> f64 {
    let norm2 = |s: &DeltaSpectrum| s.singular_values.iter().map(|x| x * x).sum::<f64>();
    let tot: f64 = spectra.iter().map(norm2).sum();
    if tot == 0.0 {
        return 0.0;
    }
    spectra.iter().map(|s| s.top_energy(k) * norm2(s)).sum::<f64>() / tot
}

/// Artefact groups: one row per seed each.
pub const G_MLP: &str = "pretrain attn+mlp";
pub const G_ATTN: &str = "pretrain attn-only";
pub const G_FT: &str = "finetune";

/// Pre-trains one architecture for `seed` and measures it: the row of group [`G_MLP`] or
/// [`G_ATTN`] (what the notebook re-runs live for seed 0), and the model.
pub fn pretrain_row(seed: u64, setup: &Setup, mlp: bool) -> Result<(Gpt2, SeedMetrics)> {
    let world = setup.world(seed)?;
    let facts = world.all_facts();
    let (base, curve) = pretrain(&world, setup, mlp, seed)?;
    let mut row = SeedMetrics::new(seed, if mlp { G_MLP } else { G_ATTN });
    row = row.value("params", base.cfg.n_params() as f64);
    row = row.value("pt_loss", curve.last().map(|c| c.1).unwrap_or(f64::NAN)).curve("pt_loss", curve);
    row = row.value("recall", recall(&base, &world, &facts, &HookSpec::new())?);
    row = row.value("qa_base", qa_accuracy(&base, &world, &world.heldout_qa())?.0);
    if mlp {
        for (name, point) in [("recall_ablate_mlp", "blocks.0.hook_mlp_out"), ("recall_ablate_attn", "blocks.0.hook_attn_out")] {
            let spec = mean_ablation(&base, &world, &facts, point)?;
            row = row.value(name, recall(&base, &world, &facts, &spec)?);
        }
        // what pre-training wrote into the weights, and a Gaussian matrix: the rank controls
        let init = Gpt2::random(base.cfg.clone(), seed, &Device::Cpu)?;
        row = row.value("pretrain_dw_top1", pooled_top_energy(&delta_spectra(&init, &base)?, 1));
        let named = base.named_tensors();
        let rnd: Vec<DeltaSpectrum> = MATRICES
            .iter()
            .map(|m| {
                let t = named.iter().find(|(n, _)| n == m).map(|(_, t)| t).ok_or_else(|| Error::Shape(format!("no {m}")))?;
                random_spectrum(m, t, seed)
            })
            .collect::<Result<_>>()?;
        row = row.value("random_top1", pooled_top_energy(&rnd, 1));
    }
    Ok((base, row))
}

/// Fine-tunes both pre-trained models of a seed on QA (attn+MLP: full, LoRA r 1 and 4;
/// attention-only: full) and measures held-out extraction and the ΔW spectra.
pub fn finetune_row(seed: u64, setup: &Setup, mlp_base: &Gpt2, attn_base: &Gpt2) -> Result<SeedMetrics> {
    let world = setup.world(seed)?;
    let (ft_qa, test_qa) = (world.finetune_qa(), world.heldout_qa());
    let mut row = SeedMetrics::new(seed, G_FT);
    let runs: [(&str, &Gpt2, Arm); 4] = [
        ("mlp", mlp_base, Arm::Full),
        ("mlp", mlp_base, Arm::Lora { r: 1 }),
        ("mlp", mlp_base, Arm::Lora { r: 4 }),
        ("attn_only", attn_base, Arm::Full),
    ];
    for (tag, base, arm) in runs {
        let ft = finetune(base, &ft_qa, setup, &arm, seed)?;
        let key = format!("{tag}_{}", arm.label());
        let (exact, typed) = qa_accuracy(&ft.model, &world, &test_qa)?;
        row = row.value(&format!("{key}_qa"), exact).value(&format!("{key}_qa_typed"), typed);
        row = row.value(&format!("{key}_qa_train"), qa_accuracy(&ft.model, &world, &ft_qa)?.0);
        row = row.value(&format!("{key}_trainable"), ft.n_trainable as f64).value(&format!("{key}_ft_loss"), ft.final_loss);
        if tag == "mlp" && arm == Arm::Full {
            let sp = delta_spectra(base, &ft.model)?;
            row = row.value("full_dw_top1", pooled_top_energy(&sp, 1)).value("full_dw_top4", pooled_top_energy(&sp, 4));
            for s in &sp {
                row = row
                    .value(&format!("full_dw_top1:{}", s.name), s.top_energy(1))
                    .value(&format!("full_dw_rank90:{}", s.name), s.rank_at(0.9) as f64);
            }
        }
    }
    Ok(row)
}

/// Everything one seed measures: the rows of [`G_MLP`], [`G_ATTN`] and [`G_FT`].
pub fn run_seed(seed: u64, setup: &Setup) -> Result<Vec<SeedMetrics>> {
    let (mlp_base, r1) = pretrain_row(seed, setup, true)?;
    let (attn_base, r2) = pretrain_row(seed, setup, false)?;
    let r3 = finetune_row(seed, setup, &mlp_base, &attn_base)?;
    Ok(vec![r1, r2, r3])
}

/// Every seed, written to `datasets/one-layer-knowledge/`.
pub fn write_artefact(threads: usize) -> Result<String> {
    let t0 = std::time::Instant::now();
    let setup = Setup::ci();
    let rows = crate::runtime::parallel_map(SEEDS.to_vec(), threads, |s| run_seed(s, &setup));
    let rows: Vec<SeedMetrics> = rows.into_iter().collect::<Result<Vec<_>>>()?.into_iter().flatten().collect();
    let mut w = ArtefactWriter::new(SLUG, "cargo run --release --example artefact -- one-layer-knowledge", &SEEDS)?;
    w.write_runs(&rows)?;
    w.write_json("setup.json", &setup)?;
    let notes = format!(
        "seeds 0/1/2 of run_seed at Setup::ci(), {threads} at a time, {:.0} s in all on this machine's CPU",
        t0.elapsed().as_secs_f64()
    );
    w = w.notes(notes.clone());
    w.finish()?;
    Ok(notes)
}
