//! HFTP (Hierarchical Frequency Tagging Probe; arXiv 2510.13255, NeurIPS 2025) at ci scale: a
//! tiny GPT-2 trained on `[Adj N] [V N]` streams, probed trained and at its random init on the
//! structured stream, its control-B and random words; and the full-scale path (GPT-2 small, an
//! English lexicon through the GPT-2 tokenizer).
//!
//! The method lives in [`crate::interp::frequency_tagging`] and the stimuli in
//! [`crate::data::tagging`]; this module fixes the set-up a notebook and the artefact
//! (`cargo run --release --example artefact -- hftp`) share, so a live seed and a stored row are
//! the same computation.

use candle_core::Device;

use super::artefact::{ArtefactWriter, SeedMetrics};
use crate::data::tagging::{Condition, Lexicon, TaggingStreams, SENTENCE_LEN};
use crate::interp::frequency_tagging::{
    hftp, mean_spectrum, median_finite, word_activations, HftpConfig, LayerTagging,
};
use crate::model::Gpt2;
use crate::runtime::parallel_map;
use crate::tokenizer::Gpt2Tokenizer;
use crate::train::{train_tiny_lm, TinyLmConfig};
use crate::Result;

pub const SLUG: &str = "hftp";
pub const SEEDS: [u64; 3] = [0, 1, 2];
/// The hook the repository reads in GPT-2: the output of `mlp.c_fc`, before the GELU.
pub const HOOK: &str = "mlp.hook_pre";
/// Words per class of the ci lexicon.
pub const PER_CLASS: usize = 30;
/// Conditions probed, in order.
pub const CONDITIONS: [Condition; 3] = [
    Condition::Structured,
    Condition::ControlB,
    Condition::RandomWords,
];

/// Stream sizes.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    /// The fixed sentence set (paper: 50).
    pub n_set: usize,
    /// Sentences per trial (paper: all 50, one stream).
    pub trial_sentences: usize,
    /// Trials averaged into one series (paper: 10 shuffles).
    pub n_trials: usize,
}

impl Sizes {
    /// ci: 50 sentences, trials of 30 (120 words, within the tiny context of 128), 10 trials.
    pub fn ci() -> Sizes {
        Sizes {
            n_set: 50,
            trial_sentences: 30,
            n_trials: 10,
        }
    }
    /// The paper's: 50 sentences, one 200-word stream per shuffle, 10 shuffles.
    pub fn paper() -> Sizes {
        Sizes {
            n_set: 50,
            trial_sentences: 50,
            n_trials: 10,
        }
    }
}

/// A lexicon with each word's tokens and the BOS token.
#[derive(Clone, Debug)]
pub struct Stimuli {
    pub lexicon: Lexicon,
    pub word_tokens: Vec<Vec<u32>>,
    pub bos: u32,
}

impl Stimuli {
    /// ci: the synthetic lexicon, one token per word, `<|endoftext|>` = 0.
    pub fn ci() -> Result<Stimuli> {
        let lexicon = Lexicon::synthetic(PER_CLASS)?;
        let word_tokens = (0..lexicon.len())
            .map(|w| lexicon.token_ids(&[w]))
            .collect();
        Ok(Stimuli {
            lexicon,
            word_tokens,
            bos: 0,
        })
    }
    /// Full scale: [`Lexicon::english`] through a GPT-2 tokenizer, each word with its leading
    /// space (as inside running text); a word may take several tokens (averaged per word).
    pub fn english(tok: &Gpt2Tokenizer) -> Result<Stimuli> {
        let lexicon = Lexicon::english();
        let word_tokens = lexicon
            .words()
            .iter()
            .map(|w| tok.encode(&format!(" {w}")))
            .collect::<Result<_>>()?;
        Ok(Stimuli {
            lexicon,
            word_tokens,
            bos: tok.bos_token_id(),
        })
    }
}

/// The tiny model of ci scale: 2 layers, d_model 64, 4 heads, context 128; 300 steps of 16 × 128 at a peak lr of
/// 1.5e-2. Slower schedules can stop on a plateau where only the phrase level is learnt: seed 1
/// with 200 steps of 32 at 3e-3, or 300 of 16 at 6e-3, ended at 3.76 nats (the floor is
/// ln 30 ≈ 3.40: every word is uniform within its class).
pub fn ci_lm_config() -> TinyLmConfig {
    TinyLmConfig {
        n_embd: 64,
        n_layer: 2,
        n_head: 4,
        ctx: 128,
        steps: 300,
        batch_size: 16,
        lr: 1.5e-2,
    }
}

/// HFTP settings at ci scale: 200 permutations (paper: 1,000), FDR 0.05 (the paper's 95th
/// percentile, corrected).
pub fn ci_hftp(seed: u64) -> HftpConfig {
    HftpConfig {
        n_perm: 200,
        ..HftpConfig::paper(seed)
    }
}

/// Trains the ci model of `seed` on 2,000 fresh structured streams of 32 sentences (data from
/// `seed + 1000`, so the probe's sentence set is not the training text).
pub fn train(seed: u64) -> Result<(Gpt2, f64)> {
    train_with(seed, &ci_lm_config())
}

/// [`train`] with another size or schedule.
pub fn train_with(seed: u64, cfg: &TinyLmConfig) -> Result<(Gpt2, f64)> {
    let st = Stimuli::ci()?;
    let mut g = TaggingStreams::new(st.lexicon.clone(), seed + 1000)?;
    let docs = g.training_docs(2000, 32);
    train_tiny_lm(&docs, st.lexicon.vocab_size(), st.bos, cfg, seed)
}

/// The same architecture at its random init (the seed's init).
pub fn untrained(seed: u64) -> Result<Gpt2> {
    let st = Stimuli::ci()?;
    Gpt2::random(
        ci_lm_config().model_config(st.lexicon.vocab_size(), st.bos),
        seed,
        &Device::Cpu,
    )
}

/// One probe: a condition, raw or with each word's mean response removed, every layer.
#[derive(Clone, Debug)]
pub struct Probe {
    pub condition: Condition,
    pub residual: bool,
    pub layers: Vec<LayerTagging>,
}

impl Probe {
    /// `"structured/raw"`, `"control-B/residual"`, ...
    pub fn key(&self) -> String {
        format!(
            "{}/{}",
            self.condition.name(),
            if self.residual { "residual" } else { "raw" }
        )
    }
    /// Fraction of all units (every layer) tagged at the sentence rate (`sentence`) or the phrase rate.
    pub fn tagged(&self, sentence: bool) -> f64 {
        let n: usize = self.layers.iter().map(|l| l.n_units()).sum();
        self.layers
            .iter()
            .map(|l| l.tagged(sentence) * l.n_units() as f64)
            .sum::<f64>()
            / n.max(1) as f64
    }
    /// Median peak SNR over all units at one rate.
    pub fn median_snr(&self, sentence: bool) -> f64 {
        let all: Vec<f64> = self
            .layers
            .iter()
            .flat_map(|l| l.snr(sentence).to_vec())
            .collect();
        median_finite(&all)
    }
}

/// Draws the trials of every condition (sentence set and orders from `seed`): word indices.
pub fn trials(
    stimuli: &Stimuli,
    sizes: Sizes,
    seed: u64,
) -> Result<Vec<(Condition, Vec<Vec<usize>>)>> {
    let mut g = TaggingStreams::new(stimuli.lexicon.clone(), seed)?;
    let set = g.sentence_set(sizes.n_set);
    CONDITIONS
        .iter()
        .map(|&c| Ok((c, g.trials(&set, sizes.n_trials, sizes.trial_sentences, c)?)))
        .collect()
}

/// HFTP of `model` on every condition, raw and lexical-residual.
pub fn probe(
    model: &Gpt2,
    stimuli: &Stimuli,
    sizes: Sizes,
    cfg: &HftpConfig,
) -> Result<Vec<Probe>> {
    let mut out = vec![];
    for (condition, words) in trials(stimuli, sizes, cfg.seed)? {
        let toks: Vec<Vec<Vec<u32>>> = words
            .iter()
            .map(|t| t.iter().map(|&w| stimuli.word_tokens[w].clone()).collect())
            .collect();
        let acts = word_activations(model, &toks, Some(stimuli.bos), HOOK)?;
        out.push(Probe {
            condition,
            residual: false,
            layers: hftp(&acts, cfg)?,
        });
        out.push(Probe {
            condition,
            residual: true,
            layers: hftp(&acts.lexical_residual(&words)?, cfg)?,
        });
    }
    Ok(out)
}

/// A model's probes as an artefact row: per probe, the tagged fractions and median SNRs at both
/// rates, and per-layer tagged fractions as curves (x = layer).
pub fn metrics(seed: u64, group: &str, probes: &[Probe], final_loss: Option<f64>) -> SeedMetrics {
    let mut m = SeedMetrics::new(seed, group);
    if let Some(l) = final_loss {
        m = m.value("final_loss", l);
    }
    for p in probes {
        let k = p.key();
        for (rate, s) in [("sentence", true), ("phrase", false)] {
            m = m
                .value(&format!("{k}/{rate}_tagged"), p.tagged(s))
                .value(&format!("{k}/{rate}_snr"), p.median_snr(s));
            m = m.curve(
                &format!("{k}/{rate}_by_layer"),
                p.layers
                    .iter()
                    .map(|l| (l.layer as f64, l.tagged(s)))
                    .collect(),
            );
        }
    }
    m
}

/// One seed at ci scale: the trained model's row (`"trained"`) and its init's (`"untrained"`).
pub fn run_seed(seed: u64) -> Result<Vec<SeedMetrics>> {
    Ok(run_seed_models(seed)?.0)
}

/// [`run_seed`], also returning the trained model and its random init (for further displays).
pub fn run_seed_models(seed: u64) -> Result<(Vec<SeedMetrics>, Gpt2, Gpt2)> {
    let st = Stimuli::ci()?;
    let cfg = ci_hftp(seed);
    let (model, loss) = train(seed)?;
    let init_model = untrained(seed)?;
    let trained = probe(&model, &st, Sizes::ci(), &cfg)?;
    let init = probe(&init_model, &st, Sizes::ci(), &cfg)?;
    Ok((
        vec![
            metrics(seed, "trained", &trained, Some(loss)),
            metrics(seed, "untrained", &init, None),
        ],
        model,
        init_model,
    ))
}

/// Runs every seed of [`SEEDS`] (`threads` at a time) and writes `datasets/hftp/`.
pub fn write_artefact(threads: usize) -> Result<String> {
    let t0 = std::time::Instant::now();
    let rows = parallel_map(SEEDS.to_vec(), threads, run_seed)
        .into_iter()
        .collect::<Result<Vec<_>>>()?;
    let rows: Vec<SeedMetrics> = rows.into_iter().flatten().collect();
    let mut w = ArtefactWriter::new(
        SLUG,
        "cargo run --release --example artefact -- hftp",
        &SEEDS,
    )?;
    w.write_runs(&rows)?;
    let notes = format!(
        "{} seeds × (trained, untrained), {threads} at a time, {:.0} s on this machine's CPU",
        SEEDS.len(),
        t0.elapsed().as_secs_f64()
    );
    w = w.notes(notes.clone());
    w.finish()?;
    Ok(notes)
}

/// Full scale: GPT-2 small from the hub (`"gpt2"`) or a local HF-layout directory, and its tokenizer.
pub fn full_model(repo_or_dir: &str) -> Result<Gpt2> {
    let p = std::path::Path::new(repo_or_dir);
    if p.is_dir() {
        Gpt2::from_dir(p)
    } else {
        Gpt2::from_pretrained(repo_or_dir)
    }
}

/// Full scale: HFTP of a GPT-2 on the English stream at the paper's sizes (1,000 permutations).
pub fn full_probe(
    model: &Gpt2,
    tok: &Gpt2Tokenizer,
    sizes: Sizes,
    seed: u64,
) -> Result<Vec<Probe>> {
    probe(
        model,
        &Stimuli::english(tok)?,
        sizes,
        &HftpConfig::paper(seed),
    )
}

/// Words per trial of `sizes` (the series length).
pub fn words_per_trial(sizes: Sizes) -> usize {
    sizes.trial_sentences * SENTENCE_LEN
}

/// A condition and its mean relative amplitude spectrum, `(Hz, amplitude)` per bin.
pub type ConditionSpectrum = (Condition, Vec<(f64, f64)>);

/// The mean relative amplitude spectrum of `layer` (raw activations) in every condition.
pub fn spectra(
    model: &Gpt2,
    stimuli: &Stimuli,
    sizes: Sizes,
    seed: u64,
    layer: usize,
) -> Result<Vec<ConditionSpectrum>> {
    let mut out = vec![];
    for (condition, words) in trials(stimuli, sizes, seed)? {
        let toks: Vec<Vec<Vec<u32>>> = words
            .iter()
            .map(|t| t.iter().map(|&w| stimuli.word_tokens[w].clone()).collect())
            .collect();
        let acts = word_activations(model, &toks, Some(stimuli.bos), HOOK)?;
        out.push((
            condition,
            mean_spectrum(
                &acts,
                layer,
                crate::interp::frequency_tagging::Rates::paper().sample_hz,
            )?,
        ));
    }
    Ok(out)
}
