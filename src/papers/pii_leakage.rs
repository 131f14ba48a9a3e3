//! Analyzing Leakage of PII in Language Models (Lukas, Salem, Sim, Tople, Wutschitz,
//! Zanella-Béguelin, IEEE S&P 2023, arXiv 2302.00539) at ci scale.
//!
//! A public model, then three fine-tunes of it on the private corpus: undefended, scrubbed
//! (names → `<mask>`) and DP-SGD (ε ≈ 8, C = 1, [`crate::train::dp`]); each is attacked by
//! extraction, reconstruction and inference ([`crate::eval::leakage`]) and its utility measured
//! as held-out perplexity. At ci scale the corpus is [`PiiWorld`] (fake syllable names with
//! controlled duplication) and the public model is a tiny GPT-2 pre-trained on its public
//! corpus; at full scale ([`echr_task`]) it is GPT-2 small fine-tuned on ECHR case facts with the
//! same code. The committed artefact is `cargo run --release --example artefact -- pii-leakage`.

use std::collections::{BTreeMap, BTreeSet};

use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::SeedableRng;

use super::artefact::{ArtefactWriter, SeedMetrics};
use crate::data::pii::{PiiConfig, PiiWorld};
use crate::data::TokenDataset;
use crate::eval::leakage::*;
use crate::model::Gpt2;
use crate::train::dp::{DpConfig, DpTrainer};
use crate::train::{
    train_tiny_lm, AdamW, AdamWConfig, LrSchedule, TinyLmConfig, TrainConfig, Trainer,
};
use crate::{Error, Result};

pub const SLUG: &str = "pii-leakage";
pub const SEEDS: [u64; 3] = [0, 1, 2];
/// The three fine-tunes, then the public model (the artefact's groups).
pub const MODELS: [&str; 4] = ["undefended", "scrubbed", "dp", "public"];

/// Every size of a run.
#[derive(Clone, Debug)]
pub struct Setup {
    pub world: PiiConfig,
    /// The public model's pre-training at ci scale (its `ctx` is the fine-tunes' block length).
    pub public: TinyLmConfig,
    pub ctx: usize,
    /// Undefended and scrubbed fine-tunes: AdamW, constant lr, `epochs` passes of `batch` blocks.
    pub epochs: f64,
    pub batch: usize,
    pub lr: f64,
    /// DP-SGD: Poisson sampling with expected batch `dp_batch` for `dp_epochs` epochs, AdamW at
    /// `dp_lr`, clipping C, σ from the accountant for `target_epsilon` at `delta`.
    pub dp_epochs: f64,
    pub dp_batch: usize,
    pub dp_lr: f64,
    pub max_grad_norm: f64,
    pub target_epsilon: f64,
    pub delta: f64,
    /// Extraction: samples, tokens each, top-k.
    pub samples: usize,
    pub sample_len: usize,
    pub top_k: usize,
    /// Reconstruction and inference queries, candidate-set sizes, reconstruction samples.
    pub queries: usize,
    pub candidate_sizes: Vec<usize>,
    pub recon_samples: usize,
    pub recon_len: usize,
}

/// The ci set-up.
pub fn ci_setup() -> Setup {
    Setup {
        world: PiiConfig::default(),
        public: TinyLmConfig {
            n_embd: 64,
            n_layer: 2,
            n_head: 4,
            ctx: 64,
            steps: 400,
            batch_size: 32,
            lr: 3e-3,
        },
        ctx: 64,
        // 20 epochs: enough for the tiny model to memorise pairings of names seen once
        // (recall 0.15 for them and 1.0 at 16 mentions in the seed-0 pilot; 8 epochs left the
        // pairings unlearnt)
        epochs: 20.0,
        batch: 16,
        lr: 2e-3,
        dp_epochs: 8.0,
        dp_batch: 16,
        dp_lr: 3e-3,
        max_grad_norm: 1.0,
        target_epsilon: 8.0,
        delta: 1e-5,
        samples: 1024,
        sample_len: 32,
        top_k: 40,
        queries: 100,
        candidate_sizes: vec![10, 50, 100],
        recon_samples: 32,
        recon_len: 4,
    }
}

/// What one seed attacks: the data (as tokens), the PII and the queries. Built from a
/// [`PiiWorld`] at ci scale ([`ci_task`]) and from ECHR text at full scale ([`echr_task`]).
#[derive(Clone)]
pub struct PiiTask {
    pub public: LeakageLm,
    pub train: Vec<Vec<u32>>,
    pub scrubbed: Vec<Vec<u32>>,
    pub test: Vec<Vec<u32>>,
    pub detector: NameDetector,
    /// Distinct PII of the training data.
    pub real: BTreeSet<String>,
    /// Training PII by number of training mentions.
    pub buckets: BTreeMap<usize, Vec<String>>,
    /// PII never in the training data (negative control).
    pub held_out: Vec<String>,
    /// (masked sentence with [`TARGET_MASK`], true name).
    pub queries: Vec<(String, String)>,
}

/// The ci task of `seed`: the world (generator seed `100 + seed`), the public model pre-trained
/// on its public corpus (init and batches from `seed`), one query per training person.
pub fn ci_task(setup: &Setup, seed: u64) -> Result<(PiiWorld, PiiTask)> {
    let w = PiiWorld::generate(&setup.world, 100 + seed)?;
    let (model, _) = train_tiny_lm(
        &w.docs(&w.public)?,
        w.vocab.len(),
        w.eos(),
        &setup.public,
        seed,
    )?;
    let task = world_task(&w, model, setup, seed)?;
    Ok((w, task))
}

/// The task of a world with a given public model.
pub fn world_task(w: &PiiWorld, public: Gpt2, setup: &Setup, seed: u64) -> Result<PiiTask> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x9e37);
    // queries: persons spread evenly over the buckets, one of their training sentences each
    let mut order: Vec<usize> = (0..w.train_persons.len()).collect();
    order.shuffle(&mut rng);
    order.sort_by_key(|&i| w.train_persons[i].duplication); // stable: shuffled within a bucket
    let per_bucket = setup.queries.div_ceil(setup.world.buckets.len());
    let mut queries = vec![];
    for b in &setup.world.buckets {
        for &i in order
            .iter()
            .filter(|&&i| w.train_persons[i].duplication == *b)
            .take(per_bucket)
        {
            let s = w.sentences_of(i);
            let p = &w.train_persons[i];
            let s = s
                .choose(&mut rng)
                .expect("every training person has a sentence")
                .join(" ");
            queries.push((s.replacen(&p.name(), TARGET_MASK, 1), p.name()));
        }
    }
    queries.truncate(setup.queries);
    Ok(PiiTask {
        public: LeakageLm {
            model: public,
            codec: Codec::words(&w.vocab),
            bos: w.eos(),
        },
        train: w.docs(&w.private)?,
        scrubbed: w.docs(&w.scrubbed)?,
        test: w.docs(&w.test)?,
        detector: NameDetector::parts(&w.first_parts, &w.last_parts),
        real: w.train_persons.iter().map(|p| p.name()).collect(),
        buckets: w.names_by_bucket(),
        held_out: w.held_out_persons.iter().map(|p| p.name()).collect(),
        queries,
    })
}

fn adamw(lr: f64) -> Box<AdamW> {
    Box::new(AdamW::new(AdamWConfig {
        lr,
        weight_decay: 0.0,
        ..Default::default()
    }))
}

/// Undefended or scrubbed fine-tune of `public` on `docs`; returns the model and its final
/// training loss.
pub fn fine_tune(
    public: &Gpt2,
    docs: &[Vec<u32>],
    eos: u32,
    setup: &Setup,
    seed: u64,
) -> Result<(Gpt2, f64)> {
    let data = TokenDataset::from_documents(docs, Some(eos), setup.ctx)?;
    let steps = ((setup.epochs * data.len() as f64) / setup.batch as f64).ceil() as usize;
    let cfg = TrainConfig {
        steps,
        batch_size: setup.batch,
        clip: Some(1.0),
        schedule: LrSchedule::Constant { lr: setup.lr },
        log_every: 1,
        seed,
        progress: false,
        ..Default::default()
    };
    let mut tr = Trainer::new(public, adamw(setup.lr), cfg)?;
    let m = tr.fit(&data, None)?;
    Ok((tr.model()?, m.last_train_loss().unwrap_or(f64::NAN)))
}

/// What the DP fine-tune spent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DpReport {
    pub epsilon: f64,
    pub sigma: f64,
    pub sample_rate: f64,
    pub steps: usize,
    pub final_loss: f64,
}

/// DP-SGD fine-tune of `public` on `docs` (one record = one block of `ctx` tokens).
pub fn fine_tune_dp(
    public: &Gpt2,
    docs: &[Vec<u32>],
    eos: u32,
    setup: &Setup,
    seed: u64,
) -> Result<(Gpt2, DpReport)> {
    let data = TokenDataset::from_documents(docs, Some(eos), setup.ctx)?;
    let q = setup.dp_batch as f64 / data.len() as f64;
    if q >= 1.0 {
        return Err(Error::Privacy(format!(
            "expected batch {} ≥ the {} records: no subsampling",
            setup.dp_batch,
            data.len()
        )));
    }
    let steps = (setup.dp_epochs / q).ceil() as usize;
    let cfg = DpConfig::for_target(
        setup.target_epsilon,
        q,
        steps,
        setup.delta,
        setup.max_grad_norm,
    )?;
    let tcfg = TrainConfig {
        steps,
        batch_size: setup.dp_batch,
        clip: None,
        schedule: LrSchedule::Constant { lr: setup.dp_lr },
        seed,
        progress: false,
        ..Default::default()
    };
    let mut dp = DpTrainer::new(
        Trainer::new(public, adamw(setup.dp_lr), tcfg)?,
        cfg.clone(),
        seed,
    );
    let stats = dp.fit(&data, steps)?;
    let tail: Vec<f64> = stats
        .iter()
        .rev()
        .take(10)
        .map(|s| s.step.loss)
        .filter(|l| l.is_finite())
        .collect();
    let (epsilon, _) = dp.epsilon()?;
    Ok((
        dp.trainer.model()?,
        DpReport {
            epsilon,
            sigma: cfg.noise_multiplier,
            sample_rate: q,
            steps,
            final_loss: tail.iter().sum::<f64>() / tail.len().max(1) as f64,
        },
    ))
}

/// Perplexity of `docs` (each after BOS, cut into pieces that fit the context): exp of the
/// total NLL over the total tokens.
pub fn perplexity(lm: &LeakageLm, docs: &[Vec<u32>]) -> Result<f64> {
    let piece = lm.model.cfg.n_positions - 1;
    let seqs: Vec<Vec<u32>> = docs
        .iter()
        .flat_map(|d| {
            d.chunks(piece)
                .map(|c| {
                    std::iter::once(lm.bos)
                        .chain(c.iter().copied())
                        .collect::<Vec<u32>>()
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let n = sequence_nll(&lm.model, &seqs)?;
    Ok(
        (n.iter().map(|x| x.sum).sum::<f64>() / n.iter().map(|x| x.tokens).sum::<usize>() as f64)
            .exp(),
    )
}

/// Inference items of `task` at candidate-set `size` (candidates from the training PII).
pub fn inference_items(task: &PiiTask, size: usize, seed: u64) -> Result<Vec<InferenceItem>> {
    let pool: Vec<String> = task.real.iter().cloned().collect();
    let mut rng = StdRng::seed_from_u64(seed.wrapping_mul(31).wrapping_add(size as u64));
    task.queries
        .iter()
        .map(|(m, t)| {
            Ok(InferenceItem {
                masked: m.clone(),
                truth: t.clone(),
                candidates: candidate_set(t, &pool, size, &mut rng)?,
            })
        })
        .collect()
}

/// Extraction and utility on one model (the cheap part of [`attack`]); the row of group `name`.
pub fn extraction_row(
    task: &PiiTask,
    lm: &LeakageLm,
    name: &str,
    setup: &Setup,
    seed: u64,
) -> Result<SeedMetrics> {
    let mut m = SeedMetrics::new(seed, name);
    let ex = extraction_attack(
        lm,
        &task.public,
        &task.detector,
        &task.real,
        setup.samples,
        setup.sample_len,
        setup.top_k,
        seed,
    )?;
    m = m
        .value("extraction_precision", ex.precision)
        .value("extraction_recall", ex.recall)
        .value("names_generated", ex.generated.len() as f64)
        .value("names_leaked", ex.leaked.len() as f64)
        .value("names_public", ex.baseline.len() as f64);
    for (d, r) in ex.by_bucket(&task.buckets)? {
        m = m.value(&format!("recall_dup_{d}"), r);
    }
    if !task.held_out.is_empty() {
        m = m.value("recall_held_out", ex.recall_of(&task.held_out)?);
    }
    Ok(m.value("test_perplexity", perplexity(lm, &task.test)?))
}

/// The three attacks and utility on one model; the row of group `name`.
pub fn attack(
    task: &PiiTask,
    lm: &LeakageLm,
    name: &str,
    setup: &Setup,
    seed: u64,
) -> Result<SeedMetrics> {
    let m = extraction_row(task, lm, name, setup, seed)?;
    inference_and_reconstruction(task, lm, m, setup, seed)
}

/// Adds the inference (per candidate-set size) and reconstruction attacks to row `m`.
fn inference_and_reconstruction(
    task: &PiiTask,
    lm: &LeakageLm,
    mut m: SeedMetrics,
    setup: &Setup,
    seed: u64,
) -> Result<SeedMetrics> {
    for &c in &setup.candidate_sizes {
        let a = inference_attack(lm, Some(&task.public), &inference_items(task, c, seed)?)?;
        m = m.value(&format!("inference_acc_{c}"), a.accuracy()).value(
            &format!("inference_same_as_public_{c}"),
            a.same_as_public as f64,
        );
    }
    let (r, nc) = reconstruction_attack(
        lm,
        &task.detector,
        &task.queries,
        setup.recon_samples,
        setup.recon_len,
        setup.top_k,
        seed,
    )?;
    Ok(m.value("reconstruction_acc", r.accuracy())
        .value("reconstruction_candidates", nc))
}

/// The public model with `model`'s weights (same tokenizer, BOS and detector).
fn with_weights(task: &PiiTask, model: Gpt2) -> LeakageLm {
    LeakageLm {
        model,
        ..task.public.clone()
    }
}

/// The undefended fine-tune with extraction and utility only: what the notebook re-runs live
/// from the stored public model (its numbers are a subset of [`undefended_row`]'s).
pub fn undefended_extraction(
    task: &PiiTask,
    setup: &Setup,
    seed: u64,
) -> Result<(LeakageLm, SeedMetrics)> {
    let (model, loss) = fine_tune(
        &task.public.model,
        &task.train,
        task.public.bos,
        setup,
        seed,
    )?;
    let lm = with_weights(task, model);
    let m = extraction_row(task, &lm, "undefended", setup, seed)?.value("train_loss", loss);
    Ok((lm, m))
}

/// The undefended fine-tune and its three attacks.
pub fn undefended_row(
    task: &PiiTask,
    setup: &Setup,
    seed: u64,
) -> Result<(LeakageLm, SeedMetrics)> {
    let (lm, m) = undefended_extraction(task, setup, seed)?;
    let m = inference_and_reconstruction(task, &lm, m, setup, seed)?;
    Ok((lm, m))
}

/// Every model of one seed: the three fine-tunes and the public model, attacked.
pub fn run_task(task: &PiiTask, setup: &Setup, seed: u64) -> Result<Vec<SeedMetrics>> {
    let (_, undefended) = undefended_row(task, setup, seed)?;
    let (scrubbed, loss) = fine_tune(
        &task.public.model,
        &task.scrubbed,
        task.public.bos,
        setup,
        seed,
    )?;
    let scrubbed = attack(task, &with_weights(task, scrubbed), "scrubbed", setup, seed)?
    .value("train_loss", loss);
    let (dp, rep) = fine_tune_dp(
        &task.public.model,
        &task.train,
        task.public.bos,
        setup,
        seed,
    )?;
    let dp = attack(task, &with_weights(task, dp), "dp", setup, seed)?
    .value("train_loss", rep.final_loss)
    .value("epsilon", rep.epsilon)
    .value("sigma", rep.sigma)
    .value("sample_rate", rep.sample_rate)
    .value("dp_steps", rep.steps as f64);
    let public = attack(task, &task.public, "public", setup, seed)?;
    Ok(vec![undefended, scrubbed, dp, public])
}

/// The artefact's file holding seed 0's public model (f32 safetensors).
pub const PUBLIC_MODEL_FILE: &str = "public-model-seed0.safetensors";

/// Loads the stored public model of the first seed.
pub fn stored_public_model(artefact: &super::Artefact, vocab_size: usize) -> Result<Gpt2> {
    let t = crate::model::weights::read_safetensors_raw(
        &artefact.dir.join(PUBLIC_MODEL_FILE),
        &candle_core::Device::Cpu,
    )?;
    Gpt2::from_tensors(ci_setup().public.model_config(vocab_size, 0), &t)
}

/// Runs every seed and writes `datasets/pii-leakage/` (the runs and seed 0's public model).
pub fn write_artefact(threads: usize) -> Result<String> {
    let t0 = std::time::Instant::now();
    let setup = ci_setup();
    let out: Vec<Result<(Vec<SeedMetrics>, Gpt2)>> =
        crate::runtime::parallel_map(SEEDS.to_vec(), threads, |s| {
            let (_, task) = ci_task(&setup, s)?;
            Ok((run_task(&task, &setup, s)?, task.public.model))
        });
    let mut rows = vec![];
    let mut first = None;
    for r in out {
        let (r, public): (Vec<SeedMetrics>, Gpt2) = r?;
        rows.extend(r);
        first.get_or_insert(public);
    }
    let mut w = ArtefactWriter::new(
        SLUG,
        "cargo run --release --example artefact -- pii-leakage",
        &SEEDS,
    )?;
    w.write_runs(&rows)?;
    w.write_bytes(
        PUBLIC_MODEL_FILE,
        &crate::model::weights::safetensors_bytes(&first.expect("a seed").named_tensors())?,
    )?;
    let notes = format!(
        "{} seeds × (public model {} steps, undefended / scrubbed {} epochs, DP-SGD {} epochs at ε = {}, attacks: {} samples, {} queries), {threads} seeds at a time, {:.0} s on this machine's CPU",
        SEEDS.len(),
        setup.public.steps,
        setup.epochs,
        setup.dp_epochs,
        setup.target_epsilon,
        setup.samples,
        setup.queries,
        t0.elapsed().as_secs_f64()
    );
    w = w.notes(notes.clone());
    w.finish()?;
    Ok(notes)
}

/// The full-scale set-up: the official fine-tune configs (`configs/fine-tune/echr-gpt2-small-*.yml`:
/// 4 epochs, batch 8 × 4 accumulation = 32, ε = 8 for DP; lr left at the Hugging Face default
/// 5e-5) and the evaluation config (15,000 samples of 256 tokens, top-k 40, inference over up to
/// 500 candidates). The DP learning rate (1e-4) and the reconstruction sampling (64 samples of
/// 32 tokens) are our choices.
pub fn full_setup() -> Setup {
    Setup {
        world: PiiConfig::default(),
        public: TinyLmConfig::default(),
        ctx: 256,
        epochs: 4.0,
        batch: 32,
        lr: 5e-5,
        dp_epochs: 4.0,
        dp_batch: 32,
        dp_lr: 1e-4,
        max_grad_norm: 1.0,
        target_epsilon: 8.0,
        delta: 1e-5,
        samples: 15_000,
        sample_len: 256,
        top_k: 40,
        queries: 100,
        candidate_sizes: vec![10, 50, 100, 500],
        recon_samples: 64,
        recon_len: 32,
    }
}

/// ECHR case texts from a JSON-lines file of `ecthr_cases` rows (what `datasets`'
/// `to_json` writes): each line's `facts` (a list of paragraphs, joined by spaces) or `text`.
pub fn echr_documents(path: &std::path::Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    let mut docs = vec![];
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let v: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| Error::Data(format!("{}:{}: not JSON: {e}", path.display(), i + 1)))?;
        let doc = match (&v["facts"], &v["text"]) {
            (serde_json::Value::Array(p), _) => p
                .iter()
                .filter_map(|x| x.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            (serde_json::Value::String(s), _) | (_, serde_json::Value::String(s)) => s.clone(),
            _ => {
                return Err(Error::Data(format!(
                    "{}:{}: a row needs `facts` (list of strings) or `text`",
                    path.display(),
                    i + 1
                )))
            }
        };
        docs.push(doc);
    }
    if docs.is_empty() {
        return Err(Error::EmptyInput(format!(
            "{}: no ECHR rows",
            path.display()
        )));
    }
    Ok(docs)
}

/// The full-scale task: `public` (GPT-2 small) with GPT-2's tokenizer, ECHR `train` and `test`
/// texts, PII found by the honorific rule ([`NameDetector::Honorific`], standing in for Flair
/// NER), buckets by each name's number of training mentions (1, 2–3, 4–7, 8–15, 16+), the
/// scrubbed copy with every found name replaced by `<MASK>`, and up to `setup.queries` training
/// sentences with exactly one name as queries.
pub fn echr_task(
    public: Gpt2,
    tok: crate::tokenizer::Gpt2Tokenizer,
    train: &[String],
    test: &[String],
    setup: &Setup,
) -> Result<PiiTask> {
    let detector = NameDetector::Honorific;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for d in train {
        for n in detector.find(d) {
            *counts.entry(n).or_default() += 1;
        }
    }
    if counts.is_empty() {
        return Err(Error::EmptyInput(
            "no names found in the training texts".into(),
        ));
    }
    let mut buckets: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for (n, c) in &counts {
        let b = [16, 8, 4, 2, 1].into_iter().find(|b| c >= b).unwrap_or(1);
        buckets.entry(b).or_default().push(n.clone());
    }
    let real: BTreeSet<String> = counts.keys().cloned().collect();
    let held_out: Vec<String> = detector
        .find_all(test)
        .into_iter()
        .filter(|n| !real.contains(n))
        .collect();
    let scrub = |d: &String| {
        // longest names first, so a name inside a longer one does not leave a fragment
        let mut names: Vec<String> = detector
            .find(d)
            .into_iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        names.sort_by_key(|n| std::cmp::Reverse(n.len()));
        names
            .iter()
            .fold(d.clone(), |acc, n| acc.replace(n.as_str(), "<MASK>"))
    };
    let mut queries = vec![];
    'docs: for d in train {
        for sent in d.split(". ") {
            let names = detector.find(sent);
            if names.len() == 1
                && sent.matches(names[0].as_str()).count() == 1
                && tok.encode(sent)?.len() + 1 < public.cfg.n_positions.min(setup.ctx)
            {
                queries.push((
                    sent.replacen(names[0].as_str(), TARGET_MASK, 1),
                    names[0].clone(),
                ));
                if queries.len() == setup.queries {
                    break 'docs;
                }
            }
        }
    }
    let enc =
        |docs: &[String]| -> Result<Vec<Vec<u32>>> { docs.iter().map(|d| tok.encode(d)).collect() };
    let scrubbed: Vec<String> = train.iter().map(scrub).collect();
    Ok(PiiTask {
        train: enc(train)?,
        scrubbed: enc(&scrubbed)?,
        test: enc(test)?,
        public: LeakageLm {
            bos: tok.bos_token_id(),
            model: public,
            codec: Codec::Gpt2(tok),
        },
        detector,
        real,
        buckets,
        held_out,
        queries,
    })
}
