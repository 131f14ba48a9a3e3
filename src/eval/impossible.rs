//! The Mission: Impossible protocol end to end: perturb a corpus into each language, train one
//! GPT-2 per language from scratch, and evaluate it at checkpoints — Experiment 1 (geometric mean
//! of per-sentence perplexities on the language's affected test sentences) and Experiment 2
//! (surprisal of the first hop marker vs the same position with the marker deleted).
//!
//! Scale is the caller's: the ci notebook feeds MiniEnglish sentences and a tiny model; at full
//! scale the same functions take BabyLM ([`crate::data::perturb::read_babylm_lines`] for the
//! shuffle and reverse families, [`crate::data::perturb::read_stanza_json`] for hop) and
//! GPT-2 small, with checkpoints written to disk.

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::Device;
use serde::{Deserialize, Serialize};

use super::surprisal::{geometric_mean, marker_pairs, sentence_perplexities, MarkerPair, MarkerSurprisals};
use crate::data::perturb::{read_babylm_lines, read_stanza_json, Family, Language, PerturbedCorpus, Perturber, MARKER_IDS};
use crate::data::{CompactVocab, Sentence, TokenDataset};
use crate::model::{Gpt2, Gpt2Config};
use crate::tokenizer::{Gpt2Tokenizer, ENDOFTEXT};
use crate::train::{AdamW, AdamWConfig, LrSchedule, TrainConfig, Trainer};
pub use crate::runtime::parallel_map;
use crate::{Error, Result};

/// One language's data, in GPT-2 ids (markers as [`MARKER_IDS`]).
#[derive(Clone, Debug)]
pub struct LanguageData {
    pub language: Language,
    /// The perturbed training corpus.
    pub train: PerturbedCorpus,
    /// Affected, filtered test sentences (the evaluation sets of Experiments 1 and 2).
    pub test: Vec<Vec<u32>>,
}

/// Perturbs `train` and `test` sentences into each language (a fresh [`Perturber`] for each
/// split, as the repository runs `perturb.py` once per split). Test sets keep the first
/// `max_test` affected sentences of at most `max_len` tokens.
pub fn perturb_languages(languages: &[Language], train: &[Sentence], test: &[Sentence], max_test: usize, max_len: usize) -> Result<Vec<LanguageData>> {
    let tok = Gpt2Tokenizer::gpt2()?;
    languages
        .iter()
        .map(|&language| {
            let train = Perturber::with_tokenizer(language, tok.clone()).corpus(train)?;
            let test_c = Perturber::with_tokenizer(language, tok.clone()).corpus(test)?;
            let test = test_c.affected.into_iter().filter(|s| s.len() <= max_len).take(max_test).collect();
            Ok(LanguageData { language, train, test })
        })
        .collect()
}

/// One compact vocabulary for all languages: `<|endoftext|>` at dense 0, the markers 🅂 🄿 🅁 at
/// 1, 2, 3, then every GPT-2 id the corpora use. A shared vocabulary keeps the models the same
/// size and the perplexities comparable.
pub fn shared_vocab(data: &[LanguageData]) -> CompactVocab {
    let mut b = CompactVocab::builder().special(ENDOFTEXT);
    for m in MARKER_IDS {
        b = b.special(m);
    }
    b.fit_many(data.iter().flat_map(|d| d.train.unaffected.iter().chain(&d.train.affected).chain(&d.test)).map(|s| s.as_slice()))
}

/// GPT-2's whole vocabulary plus the three markers (50260 ids; `<|endoftext|>` and the markers
/// first), for full-scale runs that keep every GPT-2 token as the paper does.
pub fn gpt2_vocab_with_markers() -> CompactVocab {
    let mut b = CompactVocab::builder().special(ENDOFTEXT);
    for m in MARKER_IDS {
        b = b.special(m);
    }
    let all: Vec<u32> = (0..ENDOFTEXT).collect();
    b.fit(&all)
}

/// Full scale: one language's data from a BabyLM copy laid out as the repository expects
/// (`<dir>/babylm_<train_set>/` and `<dir>/babylm_test/`). The shuffle and reverse families read
/// the raw `*.train` / `*.test` lines; the hop family needs the Stanza-tagged `*_dep.json` files
/// that the repository's `data/tag.py` writes beside them (there is no tagger in Rust). Test sets
/// keep the first `max_test` affected sentences of at most `max_len` tokens.
pub fn babylm_language_data(language: Language, dir: &Path, train_set: &str, max_test: usize, max_len: usize) -> Result<LanguageData> {
    let tok = Gpt2Tokenizer::gpt2()?;
    let train_dir = dir.join(format!("babylm_{train_set}"));
    let test_dir = dir.join("babylm_test");
    let (train, test) = if language.family() == Family::Hop {
        let tagged = |d: &Path| -> Result<Vec<Sentence>> {
            let mut files: Vec<PathBuf> = std::fs::read_dir(d)
                .map_err(|e| Error::io(d, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.to_string_lossy().ends_with("_dep.json"))
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(Error::EmptyInput(format!(
                    "{language} needs Stanza-tagged BabyLM: no *_dep.json in {} (run the repository's data/tag.py first)",
                    d.display()
                )));
            }
            let mut out = Vec::new();
            for f in files {
                out.extend(read_stanza_json(&f)?.into_iter().map(|(_, s)| s));
            }
            Ok(out)
        };
        (Perturber::with_tokenizer(language, tok.clone()).corpus(&tagged(&train_dir)?)?, Perturber::with_tokenizer(language, tok).corpus(&tagged(&test_dir)?)?)
    } else {
        let train_lines = read_babylm_lines(&train_dir, ".train")?;
        let test_lines = read_babylm_lines(&test_dir, ".test")?;
        (Perturber::with_tokenizer(language, tok.clone()).corpus_from_texts(&train_lines)?, Perturber::with_tokenizer(language, tok).corpus_from_texts(&test_lines)?)
    };
    let test = test.affected.into_iter().filter(|s| s.len() <= max_len).take(max_test).collect();
    Ok(LanguageData { language, train, test })
}

/// Training and evaluation settings for one language run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunConfig {
    /// The architecture (`vocab_size` is set from the vocabulary).
    pub model: Gpt2Config,
    pub steps: usize,
    /// Sequences of `model.n_positions` tokens per micro-batch.
    pub batch_size: usize,
    /// Micro-batches per optimizer step (the paper's 512 sequences: e.g. 8 × 64 on one GPU).
    pub grad_accum: usize,
    /// Peak learning rate, reached by linear warmup from 0 over `warmup` steps, then linear decay
    /// to 0 at `steps` (the paper: 6e-4, 300 of 3000 steps).
    pub lr: f64,
    pub warmup: usize,
    pub weight_decay: f64,
    /// Steps at which to evaluate (and save, with `save_dir`).
    pub checkpoints: Vec<usize>,
    pub eval_batch: usize,
    /// Model initialisation and batch order.
    pub seed: u64,
    /// Write `save_dir/<upload name>_seed<seed>/checkpoint-<step>/` at every checkpoint.
    pub save_dir: Option<PathBuf>,
}

impl RunConfig {
    /// The paper's setting: GPT-2 small, ctx 1024, 512 sequences per step (2^19 tokens, as
    /// 8 × 64 accumulated micro-batches), 3000 steps, warmup 300 to 6e-4 then linear decay, weight
    /// decay 0.1, checkpoints every 100 steps.
    pub fn paper(seed: u64, save_dir: Option<PathBuf>) -> Self {
        // the paper's models (mistral's GPT-2 small config) scale attention by the inverse layer
        // index and compute it upcast; gpt2lab always computes attention in f32
        let model = Gpt2Config { scale_attn_by_inverse_layer_idx: true, reorder_and_upcast_attn: true, ..Gpt2Config::gpt2() };
        RunConfig {
            model,
            steps: 3000,
            batch_size: 8,
            grad_accum: 64,
            lr: 6e-4,
            warmup: 300,
            weight_decay: 0.1,
            checkpoints: (1..=30).map(|i| i * 100).collect(),
            eval_batch: 8,
            seed,
            save_dir,
        }
    }
}

/// One evaluation point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointEval {
    pub step: usize,
    /// Training tokens seen.
    pub tokens: usize,
    /// Experiment 1: geometric mean of the test sentences' perplexities.
    pub perplexity: f64,
    /// Experiment 2 (hop languages): mean surprisal (bits) of the first marker.
    pub marker_surprisal: Option<f64>,
    /// … and of the token at its index once the marker is deleted.
    pub no_marker_surprisal: Option<f64>,
    /// Wall time since the run started.
    pub elapsed_s: f64,
}

impl CheckpointEval {
    /// `no_marker − marker` (bits).
    pub fn surprisal_difference(&self) -> Option<f64> {
        Some(self.no_marker_surprisal? - self.marker_surprisal?)
    }
}

/// One trained language.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LanguageRun {
    pub language: Language,
    pub seed: u64,
    pub curve: Vec<CheckpointEval>,
    pub n_params: usize,
    pub train_tokens: usize,
    pub test_sentences: usize,
    pub train_seconds: f64,
}

impl LanguageRun {
    /// The last evaluation. `train_language` refuses an empty checkpoint list, so only a run
    /// built or deserialised by hand can have none: it gets an all-NaN row at step 0.
    pub fn last(&self) -> &CheckpointEval {
        static NONE: CheckpointEval = CheckpointEval { step: 0, tokens: 0, perplexity: f64::NAN, marker_surprisal: None, no_marker_surprisal: None, elapsed_s: 0.0 };
        self.curve.last().unwrap_or(&NONE)
    }
    /// `(step, perplexity)` points.
    pub fn perplexity_curve(&self) -> Vec<(f64, f64)> {
        self.curve.iter().map(|c| (c.step as f64, c.perplexity)).collect()
    }
    /// `(step, marker surprisal)`, `(step, no-marker surprisal)` points (hop languages).
    #[allow(clippy::type_complexity)]
    pub fn surprisal_curves(&self) -> (Vec<(f64, f64)>, Vec<(f64, f64)>) {
        let m = self.curve.iter().filter_map(|c| Some((c.step as f64, c.marker_surprisal?))).collect();
        let n = self.curve.iter().filter_map(|c| Some((c.step as f64, c.no_marker_surprisal?))).collect();
        (m, n)
    }
}

/// Trains `trainer` to each step in `checkpoints` (ascending) on `train`, calling `eval` with the
/// step and a snapshot of the model at each, and saving a resumable checkpoint to
/// `save_dir/checkpoint-<step>` when given.
pub fn fit_with_checkpoints<R>(
    trainer: &mut Trainer,
    train: &TokenDataset,
    checkpoints: &[usize],
    save_dir: Option<&Path>,
    mut eval: impl FnMut(usize, &Trainer, &Gpt2) -> Result<R>,
) -> Result<Vec<(usize, R)>> {
    let mut cps = checkpoints.to_vec();
    cps.sort_unstable();
    cps.dedup();
    let total = trainer.cfg.steps;
    let mut out = Vec::with_capacity(cps.len());
    for c in cps {
        trainer.cfg.steps = c;
        trainer.fit(train, None)?;
        if let Some(dir) = save_dir {
            trainer.save_checkpoint(dir.join(format!("checkpoint-{c}")))?;
        }
        let model = trainer.model()?;
        out.push((c, eval(c, trainer, &model)?));
    }
    trainer.cfg.steps = total.max(trainer.step);
    Ok(out)
}

/// The paper's two measurements of one model: the geometric-mean sentence perplexity on `test`
/// (Experiment 1) and, when `pairs` is not empty, the mean surprisal in bits of the first
/// marker and of the token in its place once it is deleted (Experiment 2).
pub fn evaluate_model(model: &Gpt2, test: &[Vec<u32>], pairs: &[MarkerPair], eval_batch: usize) -> Result<(f64, Option<f64>, Option<f64>)> {
    let ppl = geometric_mean(&sentence_perplexities(model, test, eval_batch)?);
    if pairs.is_empty() {
        return Ok((ppl, None, None));
    }
    let s = MarkerSurprisals::compute(model, pairs, eval_batch)?;
    Ok((ppl, Some(s.marker_mean().0), Some(s.no_marker_mean().0)))
}

/// Evaluates a trained model (e.g. a released checkpoint) on a language's test sentences, with
/// the same measurements as the training runs (`vocab` maps the data's ids to the model's).
pub fn evaluate_language(model: &Gpt2, data: &LanguageData, vocab: &CompactVocab, eval_batch: usize) -> Result<(f64, Option<f64>, Option<f64>)> {
    let test = data.test.iter().map(|s| vocab.encode(s)).collect::<Result<Vec<_>>>()?;
    if test.is_empty() {
        return Err(Error::EmptyInput(format!("{}: no test sentences", data.language)));
    }
    let eos = vocab.get(ENDOFTEXT).ok_or_else(|| Error::Tokenizer("the vocabulary has no <|endoftext|>".into()))?;
    let markers = vocab.encode(&MARKER_IDS[..2])?;
    let pairs: Vec<MarkerPair> = if data.language.family() == Family::Hop { marker_pairs(&test, &markers, Some(eos)) } else { vec![] };
    evaluate_model(model, &test, &pairs, eval_batch)
}

/// Trains one model on one language (data in dense ids of `vocab`) and evaluates it at the
/// checkpoints: Experiment 1 on every language, Experiment 2 on the hop family.
pub fn train_language(data: &LanguageData, vocab: &CompactVocab, cfg: &RunConfig, device: &Device) -> Result<LanguageRun> {
    let t0 = Instant::now();
    if cfg.checkpoints.is_empty() {
        return Err(Error::EmptyInput(format!("{}: no checkpoints to evaluate at", data.language)));
    }
    let enc = |s: &Vec<u32>| vocab.encode(s);
    let train_docs = data.train.train_documents().iter().map(enc).collect::<Result<Vec<_>>>()?;
    let test = data.test.iter().map(enc).collect::<Result<Vec<_>>>()?;
    if test.is_empty() {
        return Err(Error::EmptyInput(format!("{}: no test sentences", data.language)));
    }
    let eos = vocab.get(ENDOFTEXT).ok_or_else(|| Error::Tokenizer("the vocabulary has no <|endoftext|>".into()))?;
    let markers = vocab.encode(&MARKER_IDS[..2])?;
    let pairs: Vec<MarkerPair> = if data.language.family() == Family::Hop { marker_pairs(&test, &markers, Some(eos)) } else { vec![] };

    let mut mcfg = cfg.model.clone();
    mcfg.vocab_size = vocab.len();
    let ctx = mcfg.n_positions;
    let ds = TokenDataset::from_documents(&train_docs, Some(eos), ctx)?.with_device(device.clone());
    let model = Gpt2::random(mcfg.clone(), cfg.seed, device)?;
    let opt = AdamW::new(AdamWConfig { lr: cfg.lr, weight_decay: cfg.weight_decay, ..Default::default() });
    let tcfg = TrainConfig {
        steps: cfg.steps,
        batch_size: cfg.batch_size,
        grad_accum: cfg.grad_accum.max(1),
        schedule: LrSchedule::Linear { lr: cfg.lr, warmup: cfg.warmup, total: cfg.steps, final_lr: 0.0 },
        log_every: cfg.steps.max(1),
        seed: cfg.seed,
        progress: false,
        ..Default::default()
    };
    let mut tr = Trainer::new(&model, Box::new(opt), tcfg)?;
    let save = cfg.save_dir.as_ref().map(|d| d.join(format!("{}_seed{}", data.language.upload_name(), cfg.seed)));
    let mut evals = fit_with_checkpoints(&mut tr, &ds, &cfg.checkpoints, save.as_deref(), |step, tr, m| {
        let (ppl, ms, ns) = evaluate_model(m, &test, &pairs, cfg.eval_batch)?;
        Ok(CheckpointEval { step, tokens: tr.tokens_seen(), perplexity: ppl, marker_surprisal: ms, no_marker_surprisal: ns, elapsed_s: t0.elapsed().as_secs_f64() })
    })?;
    Ok(LanguageRun {
        language: data.language,
        seed: cfg.seed,
        curve: evals.drain(..).map(|(_, e)| e).collect(),
        n_params: mcfg.n_params(),
        train_tokens: tr.tokens_seen(),
        test_sentences: test.len(),
        train_seconds: t0.elapsed().as_secs_f64(),
    })
}

