//! Mission: Impossible Language Models (Kallini et al., ACL 2024) at ci scale: the suite of
//! languages, the per-run metrics, and the committed artefact of three seeds
//! (`cargo run --example artefact -- mission-impossible`).
//!
//! The method itself lives in [`crate::data::perturb`] (the languages) and
//! [`crate::eval::impossible`] (training and the two measurements); this module fixes the ci
//! set-up the notebook and the artefact share, so a live run and a stored row are the same
//! computation.

use candle_core::Device;

use super::artefact::{ArtefactWriter, SeedMetrics};
use crate::data::perturb::Language::{self, *};
use crate::data::{CompactVocab, Pcfg};
use crate::eval::impossible::{parallel_map, perturb_languages, shared_vocab, train_language, LanguageData, LanguageRun, RunConfig};
use crate::model::{Gpt2Config, PositionEmbedding};
use crate::{Error, Result};

pub const SLUG: &str = "mission-impossible";
/// The paper's seeds (`SEEDS` in the repository's training scripts).
pub const SEEDS: [u64; 3] = [21, 57, 84];

/// Every language trained at ci scale, with positional encodings: the three families with their
/// possible controls (NoShuffle, NoReverse, NoHop) and the informative impossible languages.
pub const LANGUAGES: [Language; 11] = [
    NoShuffle,
    NondeterministicShuffle,
    DeterministicShuffle(21),
    LocalShuffle(3),
    EvenOddShuffle,
    NoReverse,
    PartialReverse,
    FullReverse,
    NoHop,
    TokenHop,
    WordHop,
];
/// Languages also trained without positional encodings (the paper's ablation, *Shuffle family).
pub const NO_POSITION_LANGUAGES: [Language; 3] = [NoShuffle, DeterministicShuffle(21), LocalShuffle(3)];

/// Sizes of the ci set-up.
pub const TRAIN_SENTENCES: usize = 20_000;
pub const TEST_SENTENCES: usize = 4_000;
pub const MAX_TEST: usize = 400;
pub const CTX: usize = 64;

/// One training run of the suite: a language, with or without positions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunKey {
    pub language: Language,
    pub positions: bool,
}

impl RunKey {
    /// The artefact's `group`: the language's name, `+ " (no positions)"` without them.
    pub fn group(&self) -> String {
        if self.positions {
            self.language.name()
        } else {
            format!("{} (no positions)", self.language.name())
        }
    }
}

/// Every run of one seed: the 11 languages with positions, then the no-position ablation.
pub fn all_runs() -> Vec<RunKey> {
    LANGUAGES
        .iter()
        .map(|&language| RunKey { language, positions: true })
        .chain(NO_POSITION_LANGUAGES.iter().map(|&language| RunKey { language, positions: false }))
        .collect()
}

/// The ci data: MiniEnglish sentences (seeds 1 and 2 for train and test) perturbed into every
/// language of [`LANGUAGES`], and one vocabulary shared by all of them (so every model has the
/// same size, whichever subset is trained).
pub fn ci_data() -> Result<(Vec<LanguageData>, CompactVocab)> {
    let g = Pcfg::english_small();
    let data = perturb_languages(&LANGUAGES, &g.generate(TRAIN_SENTENCES, 1), &g.generate(TEST_SENTENCES, 2), MAX_TEST, CTX)?;
    let vocab = shared_vocab(&data);
    Ok((data, vocab))
}

/// The ci training set-up: GPT-2 with 3 layers, d_model 64, 4 heads, context 64; AdamW,
/// linear warmup then linear decay (the paper's shape), 300 steps of 16 × 64 tokens,
/// evaluations every 50 steps.
pub fn ci_run_config(seed: u64, positions: bool) -> RunConfig {
    let mut model = Gpt2Config::tiny(0, CTX, 64, 3, 4); // vocab size set from the data
    if !positions {
        model.position_embedding = PositionEmbedding::None;
    }
    RunConfig {
        model,
        steps: 300,
        batch_size: 16,
        grad_accum: 1,
        lr: 3e-3,
        warmup: 30,
        weight_decay: 0.1, // paper: 6e-4, warmup 300 of 3,000 steps
        checkpoints: (1..=6).map(|k| 50 * k).collect(),
        eval_batch: 64,
        seed,
        save_dir: None,
    }
}

/// Trains one run of the ci suite on CPU.
pub fn train(key: RunKey, seed: u64, data: &[LanguageData], vocab: &CompactVocab) -> Result<LanguageRun> {
    let d = data.iter().find(|d| d.language == key.language).ok_or_else(|| Error::Msg(format!("{} is not in the prepared data", key.language)))?;
    train_language(d, vocab, &ci_run_config(seed, key.positions), &Device::Cpu)
}

/// A run's metrics as the artefact stores them: final perplexity (and, for the hop family,
/// marker and no-marker surprisal in bits), and the curves over checkpoints.
pub fn metrics(key: RunKey, run: &LanguageRun) -> SeedMetrics {
    let last = run.last();
    let mut m = SeedMetrics::new(run.seed, key.group()).value("final_perplexity", last.perplexity).curve("perplexity", run.perplexity_curve());
    if let (Some(ms), Some(ns)) = (last.marker_surprisal, last.no_marker_surprisal) {
        let (mc, nc) = run.surprisal_curves();
        m = m.value("marker_surprisal", ms).value("no_marker_surprisal", ns).curve("marker_surprisal", mc).curve("no_marker_surprisal", nc);
    }
    m
}

/// Runs the whole suite for every seed of [`SEEDS`] (`threads` runs at a time) and writes
/// `datasets/mission-impossible/`.
pub fn write_artefact(threads: usize) -> Result<String> {
    let t0 = std::time::Instant::now();
    let (data, vocab) = ci_data()?;
    let jobs: Vec<(u64, RunKey)> = SEEDS.iter().flat_map(|&s| all_runs().into_iter().map(move |k| (s, k))).collect();
    let n = jobs.len();
    let rows = parallel_map(jobs, threads, |(seed, key)| train(key, seed, &data, &vocab).map(|r| metrics(key, &r)));
    let rows = rows.into_iter().collect::<Result<Vec<_>>>()?;
    let mut w = ArtefactWriter::new(SLUG, "cargo run --example artefact -- mission-impossible", &SEEDS)?;
    w.write_runs(&rows)?;
    let notes = format!("{n} runs ({} per seed), {threads} at a time, {:.0} s on this machine's CPU", n / SEEDS.len(), t0.elapsed().as_secs_f64());
    w = w.notes(notes.clone());
    w.finish()?;
    Ok(notes)
}

/// The hub repository of the authors' released GPT-2 small for a language
/// (`mission-impossible-lms/<upload name>-gpt2`, `-no-pos` without positional encodings; the
/// `main` branch holds step 3000, `checkpoint-N` revisions the others, per the model cards).
pub fn released_repo(language: Language, positions: bool) -> String {
    format!("mission-impossible-lms/{}-gpt2{}", language.upload_name(), if positions { "" } else { "-no-pos" })
}

/// Loads the authors' released final checkpoint (needs the network once, or the hub cache).
/// The no-position models ship custom modelling code; here they load as GPT-2 with
/// [`PositionEmbedding::None`] (unverified against that code: the checkpoints cannot be
/// downloaded on this project's machines).
pub fn released_checkpoint(language: Language, positions: bool) -> Result<crate::model::Gpt2> {
    let mut m = crate::model::Gpt2::from_pretrained(&released_repo(language, positions))?;
    if !positions {
        m.cfg.position_embedding = PositionEmbedding::None;
    }
    Ok(m)
}
