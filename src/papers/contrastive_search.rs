//! Contrastive search (Su & Collier, "Contrastive Search Is What You Need For Neural Text
//! Generation", TMLR 2023, arXiv 2210.14140): the per-seed pipeline of notebook 06 and its
//! committed artefact (`datasets/contrastive-search/`).
//!
//! One seed = one ci generator: a 2-layer, d=64 GPT-2 whose initialisation, training stories and
//! batch order all follow the seed ([`train_generator`]). The prefixes, the evaluator (the
//! shipped default model) and the sampling seeds are fixed, so seeds differ by the model alone.
//! For each seed [`run_seed`] decodes the prefixes with the paper's decoders ([`decode_methods`]:
//! greedy, beam 4, top-k 50, nucleus 0.95 × 3 runs, contrastive k = 5, α = 0.6), scores them
//! ([`score_run`]: rep-n, diversity, coherence under the evaluator) and returns a
//! [`SeedMetrics`] ([`seed_metrics`]). The notebook runs the same calls for seed 7 live, so its
//! numbers equal the artefact's row for seed 7 ([`crate::papers::Artefact::check_live`]).
//!
//! [`write_artefact`] also stores the α sweep per seed (`sweep.json`): the notebook shows it
//! without decoding it live.
//!
//! At full scale the same functions run on pretrained GPT-2s; a "seed" there is one of three
//! disjoint shards of the prefixes (or of the isotropy texts), see [`shard`].

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::data::{StoryGen, TokenDataset};
use crate::generate::{BeamConfig, ContrastiveConfig, GenerateConfig};
use crate::hooks::HookSpec;
use crate::metrics::{coherence_batch, mean_length, Counting, IsotropyAccumulator, Repetition};
use crate::model::{Gpt2, Gpt2Config};
use crate::notebook::{over_seeds, Scale};
use crate::papers::{ArtefactWriter, SeedMetrics};
use crate::tokenizer::Gpt2Tokenizer;
use crate::train::{AdamW, AdamWConfig, LrSchedule, TrainConfig, Trainer};
use crate::Result;

/// The artefact's directory name under `datasets/`.
pub const SLUG: &str = "contrastive-search";
/// The command that writes the artefact.
pub const COMMAND: &str = "cargo run --example artefact -- contrastive-search";
/// Generator seeds of the artefact; the notebook re-runs the first live.
pub const SEEDS: [u64; 3] = [7, 1, 2];
/// The decoders of the paper's open-ended generation table, in its order.
pub const METHODS: [&str; 5] = ["greedy", "beam", "top-k", "nucleus", "contrastive"];
/// Contrastive search with α = 0 (k = 5): greedy in disguise, the negative control.
pub const ALPHA0: &str = "contrastive α=0";
/// The models of the paper's isotropy table (repository README) and their isotropy.
pub const PAPER_ISOTROPY: [(&str, f64); 4] = [("gpt2", 0.10), ("gpt2-medium", 0.25), ("gpt2-large", 0.70), ("gpt2-xl", 0.72)];
/// The repository's stored results for gpt2-large on WebText: (method, diversity %, coherence
/// under OPT-2.7B).
pub const PAPER_OPEN_ENDED: [(&str, f64, f64); 5] =
    [("greedy", 5.38, -0.58), ("beam", 4.04, -0.46), ("top-k", 91.33, -2.35), ("nucleus", 93.61, -2.88), ("contrastive", 92.54, -1.52)];

/// Every size and setting of the notebook, per scale.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Prefixes decoded (official: the first 1000 WebText test documents).
    pub n_prefixes: usize,
    /// Prompt tokens after the BOS token (official: 40).
    pub prefix_len: usize,
    /// Tokens generated (official: 200); ci fills the 128-token context.
    pub new_tokens: usize,
    /// Stop at `<|endoftext|>` (official) or decode through story ends (ci).
    pub stop_at_eos: bool,
    /// Prefixes decoded (and scored) together.
    pub batch: usize,
    /// Texts for isotropy (official: ≤ 2000 WIT texts of ≤ 256 tokens).
    pub n_iso_texts: usize,
    pub iso_max_len: usize,
    /// ci only: training steps of the generator.
    pub gen_steps: usize,
    pub beam_width: usize,
    pub top_k: usize,
    pub top_p: f64,
    pub nucleus_runs: usize,
    /// Contrastive search's k and α (the paper's open-ended setting: 5, 0.6).
    pub cs_k: usize,
    pub cs_alpha: f64,
    /// The α sweep (the brief's grid).
    pub sweep_k: Vec<usize>,
    pub sweep_alpha: Vec<f64>,
    /// Stories of the prefixes (ci) and the top-k sampling seed.
    pub data_seed: u64,
    /// Stories of the isotropy texts (ci).
    pub iso_seed: u64,
}

impl Settings {
    pub fn new(scale: Scale) -> Settings {
        Settings {
            n_prefixes: scale.pick(50, 1000),
            prefix_len: scale.pick(8, 40),
            new_tokens: scale.pick(119, 200),
            stop_at_eos: scale.pick(false, true),
            batch: scale.pick(50, 16),
            n_iso_texts: scale.pick(100, 2000),
            iso_max_len: scale.pick(128, 256),
            gen_steps: 150,
            beam_width: 4,
            top_k: 50,
            top_p: 0.95,
            nucleus_runs: 3,
            cs_k: 5,
            cs_alpha: 0.6,
            sweep_k: vec![4, 5],
            sweep_alpha: vec![0.0, 0.2, 0.4, 0.6, 0.8],
            data_seed: 101,
            iso_seed: 555,
        }
    }

    /// The stop tokens every decoder uses.
    pub fn stops(&self, eos: u32) -> Vec<u32> {
        if self.stop_at_eos {
            vec![eos]
        } else {
            vec![]
        }
    }
}

/// BOS + the first `prefix_len` tokens of each document longer than that, at most `n` of them.
pub fn prompts(tok: &Gpt2Tokenizer, documents: &[String], prefix_len: usize, n: usize) -> Vec<Vec<u32>> {
    documents
        .iter()
        .filter_map(|d| tok.ids(d, true).ok().filter(|ids| ids.len() > prefix_len + 1).map(|ids| ids[..prefix_len + 1].to_vec()))
        .take(n)
        .collect()
}

/// The ci prefixes: synthetic stories of `data_seed`.
pub fn ci_documents(s: &Settings) -> Vec<String> {
    StoryGen::new(s.data_seed).texts(2 * s.n_prefixes)
}

/// Texts for isotropy, tokenised without BOS and truncated to `iso_max_len` (the official
/// script's convention for GPT-2).
pub fn isotropy_texts(tok: &Gpt2Tokenizer, documents: &[String], s: &Settings) -> Result<Vec<Vec<u32>>> {
    documents
        .iter()
        .take(s.n_iso_texts)
        .map(|d| {
            tok.ids(d, false).map(|mut v| {
                v.truncate(s.iso_max_len);
                v
            })
        })
        .collect()
}

/// The ci isotropy texts: held-out stories of `iso_seed`.
pub fn ci_isotropy_documents(s: &Settings) -> Vec<String> {
    StoryGen::new(s.iso_seed).texts(s.n_iso_texts)
}

/// The ci generator of `seed`: a 2-layer, d=64 GPT-2 trained for `gen_steps` on 3000 stories
/// of seed 777 + `seed` (other stories than the evaluator's, 1234, and the prefixes', 101).
/// Returns the model and its final training loss (nats/token).
pub fn train_generator(tok: &Gpt2Tokenizer, seed: u64, s: &Settings) -> Result<(Gpt2, f64)> {
    let eos = tok.bos_token_id();
    let docs: Vec<Vec<u32>> = StoryGen::new(777 + seed).texts(3000).iter().map(|t| tok.encode(t)).collect::<Result<_>>()?;
    let data = TokenDataset::from_documents(&docs, Some(eos), 128)?;
    let cfg = Gpt2Config { bos_token_id: Some(eos), eos_token_id: Some(eos), ..Gpt2Config::tiny(tok.vocab_size(), 128, 64, 2, 4) };
    let lr = 3e-3;
    let tcfg = TrainConfig {
        steps: s.gen_steps,
        batch_size: 16,
        clip: Some(1.0),
        schedule: LrSchedule::Cosine { lr, warmup: 30, total: s.gen_steps, min_lr: lr / 10.0 },
        log_every: 10,
        seed,
        progress: false,
        ..Default::default()
    };
    let init = Gpt2::random(cfg, seed, &candle_core::Device::Cpu)?;
    let mut trainer = Trainer::new(&init, Box::new(AdamW::new(AdamWConfig { lr, weight_decay: 0.1, ..Default::default() })), tcfg)?;
    let m = trainer.fit(&data, None)?;
    Ok((trainer.model()?, m.last_train_loss().unwrap_or(f64::NAN)))
}

/// A decoder of the paper's comparison.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Decoder {
    Greedy,
    Beam { width: usize },
    TopK { k: usize, seed: u64 },
    Nucleus { p: f64, seed: u64 },
    Contrastive { k: usize, alpha: f64 },
}

/// Decodes every prompt with `decoder`, `s.batch` prompts per batch; returns the new tokens.
pub fn decode(generator: &Gpt2, prompts: &[Vec<u32>], decoder: Decoder, s: &Settings, eos: u32) -> Result<Vec<Vec<u32>>> {
    let stops = s.stops(eos);
    let n = s.new_tokens;
    let mut out = Vec::with_capacity(prompts.len());
    for p in prompts.chunks(s.batch.max(1)) {
        let o = match decoder {
            Decoder::Greedy => generator.generate_batch(p, &GenerateConfig::greedy(n).stop_at(&stops), &HookSpec::new(), None)?,
            Decoder::Beam { width } => {
                let c = BeamConfig::new(width, n);
                let c = if s.stop_at_eos { c.eos(eos) } else { c };
                generator.beam_search_batch(p, &c)?.into_iter().map(|o| o.tokens().to_vec()).collect()
            }
            Decoder::TopK { k, seed } => generator.generate_batch(p, &GenerateConfig::sample(n, 1.0, seed).top_k(k).stop_at(&stops), &HookSpec::new(), None)?,
            Decoder::Nucleus { p: top_p, seed } => generator.generate_batch(p, &GenerateConfig::sample(n, 1.0, seed).top_p(top_p).stop_at(&stops), &HookSpec::new(), None)?,
            Decoder::Contrastive { k, alpha } => generator.contrastive_search_batch(p, &ContrastiveConfig::new(k, alpha, n).stop_at(&stops))?,
        };
        out.extend(o);
    }
    Ok(out)
}

/// One decoding run: the method's name and each prompt's continuation.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    pub method: String,
    pub outputs: Vec<Vec<u32>>,
    pub seconds: f64,
}

/// The paper's decoders with its settings, in [`METHODS`] order (nucleus: `nucleus_runs` runs of
/// seeds 1000, 1001, …; top-k: seed `data_seed`), plus contrastive search with α = 0 and the
/// same k ([`ALPHA0`]) when `with_alpha0`.
pub fn decode_methods(generator: &Gpt2, prompts: &[Vec<u32>], s: &Settings, eos: u32, with_alpha0: bool) -> Result<Vec<Decoded>> {
    let mut plan: Vec<(&str, Decoder)> = vec![
        ("greedy", Decoder::Greedy),
        ("beam", Decoder::Beam { width: s.beam_width }),
        ("top-k", Decoder::TopK { k: s.top_k, seed: s.data_seed }),
    ];
    for r in 0..s.nucleus_runs {
        plan.push(("nucleus", Decoder::Nucleus { p: s.top_p, seed: 1000 + r as u64 }));
    }
    plan.push(("contrastive", Decoder::Contrastive { k: s.cs_k, alpha: s.cs_alpha }));
    if with_alpha0 {
        plan.push((ALPHA0, Decoder::Contrastive { k: s.cs_k, alpha: 0.0 }));
    }
    plan.into_iter()
        .map(|(name, d)| {
            let t = Instant::now();
            let outputs = decode(generator, prompts, d, s, eos)?;
            Ok(Decoded { method: name.into(), outputs, seconds: t.elapsed().as_secs_f64() })
        })
        .collect()
}

/// A continuation as text: story/document boundaries (`<|endoftext|>`) become line breaks.
pub fn continuation_text(tok: &Gpt2Tokenizer, ids: &[u32], eos: u32) -> Result<String> {
    Ok(ids.split(|&t| t == eos).map(|s| tok.decode(s)).collect::<Result<Vec<_>>>()?.join("\n"))
}

/// One decoding run, scored per continuation: its text and its coherence under the evaluator
/// (`None` for an empty continuation, which the official script skips).
#[derive(Clone, Debug, PartialEq)]
pub struct ScoredRun {
    pub method: String,
    pub texts: Vec<String>,
    pub coherence: Vec<Option<f64>>,
}

/// The metrics of a set of continuations: rep-n and diversity (SimCTG counting, as the paper's
/// script), mean coherence, mean length in words.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scores {
    pub rep: Repetition,
    pub coherence: f64,
    pub length: f64,
}

/// Scores a run: coherence = mean log p of the continuation given BOS + prefix under `evaluator`
/// (`batch` sequences per forward).
pub fn score_run(run: &Decoded, prompts: &[Vec<u32>], tok: &Gpt2Tokenizer, evaluator: &Gpt2, eos: u32, batch: usize) -> Result<ScoredRun> {
    let texts: Vec<String> = run.outputs.iter().map(|o| continuation_text(tok, o, eos)).collect::<Result<_>>()?;
    let pairs: Vec<(Vec<u32>, Vec<u32>)> = prompts.iter().zip(&run.outputs).filter(|(_, o)| !o.is_empty()).map(|(p, o)| (p.clone(), o.clone())).collect();
    let mut coh = coherence_batch(evaluator, &pairs, batch)?.into_iter();
    let coherence = run.outputs.iter().map(|o| if o.is_empty() { None } else { coh.next() }).collect();
    Ok(ScoredRun { method: run.method.clone(), texts, coherence })
}

impl ScoredRun {
    /// The metrics over the continuations `idx` (all when `None`).
    pub fn scores(&self, idx: Option<&[usize]>) -> Scores {
        let all: Vec<usize>;
        let idx = match idx {
            Some(i) => i,
            None => {
                all = (0..self.texts.len()).collect();
                &all
            }
        };
        let texts: Vec<&str> = idx.iter().map(|&i| self.texts[i].as_str()).collect();
        let coh: Vec<f64> = idx.iter().filter_map(|&i| self.coherence[i]).collect();
        Scores { rep: Repetition::measure(&texts, Counting::SimCtg), coherence: coh.iter().sum::<f64>() / coh.len().max(1) as f64, length: mean_length(&texts) }
    }
}

/// The metrics of `method`, averaged over its runs (nucleus: 3), over continuations `idx`.
pub fn method_scores(runs: &[ScoredRun], method: &str, idx: Option<&[usize]>) -> Option<Scores> {
    let scored: Vec<Scores> = runs.iter().filter(|r| r.method == method).map(|r| r.scores(idx)).collect();
    if scored.is_empty() {
        return None;
    }
    let n = scored.len() as f64;
    let mean = |f: &dyn Fn(&Scores) -> f64| scored.iter().map(f).sum::<f64>() / n;
    let rep = Repetition { rep_2: mean(&|s| s.rep.rep_2), rep_3: mean(&|s| s.rep.rep_3), rep_4: mean(&|s| s.rep.rep_4), diversity: mean(&|s| s.rep.diversity) };
    Some(Scores { rep, coherence: mean(&|s| s.coherence), length: mean(&|s| s.length) })
}

/// The name of a value in [`seed_metrics`]: `"{metric}/{method}"`.
pub fn key(metric: &str, method: &str) -> String {
    format!("{metric}/{method}")
}

/// A run's [`SeedMetrics`]: for every method decoded (and [`ALPHA0`] when present) its
/// `rep_2`, `rep_3`, `rep_4`, `diversity`, `coherence` and `length` (keys from [`key`]), plus
/// `extra` values (e.g. `isotropy/generator`, `train_loss`).
pub fn seed_metrics(seed: u64, group: &str, runs: &[ScoredRun], idx: Option<&[usize]>, extra: &[(&str, f64)]) -> SeedMetrics {
    let mut m = SeedMetrics::new(seed, group);
    let mut names: Vec<String> = vec![];
    for r in runs {
        if !names.contains(&r.method) {
            names.push(r.method.clone());
        }
    }
    for name in &names {
        let s = method_scores(runs, name, idx).expect("a method that was run");
        for (metric, v) in [("rep_2", s.rep.rep_2), ("rep_3", s.rep.rep_3), ("rep_4", s.rep.rep_4), ("diversity", s.rep.diversity), ("coherence", s.coherence), ("length", s.length)] {
            m = m.value(&key(metric, name), v);
        }
    }
    for (k, v) in extra {
        m = m.value(k, *v);
    }
    m
}

/// The continuations of shard `i` of `n` (every n-th prompt from `i`): at full scale, where
/// pretrained models have no seed, the three "seeds" of a claim are three disjoint shards of
/// the prefixes (or of the isotropy texts).
pub fn shard(len: usize, i: usize, n: usize) -> Vec<usize> {
    (i..len).step_by(n.max(1)).collect()
}

/// Isotropy of `model` on each of `n` disjoint shards of `texts` (pooled within a shard, as
/// the official script pools a corpus).
pub fn isotropy_by_shard(model: &Gpt2, texts: &[Vec<u32>], n: usize) -> Result<Vec<f64>> {
    let mut acc = vec![IsotropyAccumulator::new(); n.max(1)];
    for (i, ids) in texts.iter().enumerate().filter(|(_, t)| t.len() >= 2) {
        acc[i % n.max(1)].add(&crate::metrics::last_hidden_states(model, ids)?)?;
    }
    Ok(acc.iter().map(IsotropyAccumulator::isotropy).collect())
}

/// The paper's diversity (fraction) and coherence of `method` ([`PAPER_OPEN_ENDED`]).
pub fn paper(method: &str) -> Option<(f64, f64)> {
    PAPER_OPEN_ENDED.iter().find(|r| r.0 == method).map(|r| (r.1 / 100.0, r.2))
}

/// diversity(`method`) − the larger diversity of greedy and beam search: how much less
/// `method` repeats itself than maximisation decoding.
pub fn diversity_gap(r: &SeedMetrics, method: &str) -> Result<f64> {
    Ok(r.get(&key("diversity", method))? - r.get(&key("diversity", "greedy"))?.max(r.get(&key("diversity", "beam"))?))
}

/// coherence(`method`) − coherence(nucleus): how much more coherent than nucleus sampling.
pub fn coherence_gap(r: &SeedMetrics, method: &str) -> Result<f64> {
    Ok(r.get(&key("coherence", method))? - r.get(&key("coherence", "nucleus"))?)
}

/// `(seed, f(row))` for every row.
pub fn per_row(rows: &[SeedMetrics], f: impl Fn(&SeedMetrics) -> Result<f64>) -> Result<Vec<(u64, f64)>> {
    rows.iter().map(|r| Ok((r.seed, f(r)?))).collect()
}

/// Mean and sample standard deviation (0 for one value).
pub fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len().max(1) as f64;
    let m = xs.iter().sum::<f64>() / n;
    let var = if xs.len() > 1 { xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    (m, var.sqrt())
}

/// "mean ± sd" of `f` over the rows, `digits` decimals.
pub fn mean_sd_text(rows: &[SeedMetrics], digits: usize, f: impl Fn(&SeedMetrics) -> Result<f64>) -> Result<String> {
    let xs: Vec<f64> = per_row(rows, f)?.into_iter().map(|p| p.1).collect();
    let (m, sd) = mean_sd(&xs);
    Ok(format!("{m:.digits$} ± {sd:.digits$}"))
}

/// The α sweep of one generator: per k, (α, diversity) and (α, coherence) of contrastive search.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sweep {
    pub seed: u64,
    /// (k, points (α, diversity), points (α, coherence)).
    pub curves: Vec<(usize, Vec<(f64, f64)>, Vec<(f64, f64)>)>,
}

/// Decodes and scores the α × k grid of `s` with `generator`.
pub fn alpha_sweep(seed: u64, generator: &Gpt2, prompts: &[Vec<u32>], tok: &Gpt2Tokenizer, evaluator: &Gpt2, s: &Settings) -> Result<Sweep> {
    let eos = tok.bos_token_id();
    let mut sweep = Sweep { seed, curves: vec![] };
    for &k in &s.sweep_k {
        let (mut div, mut coh) = (vec![], vec![]);
        for &a in &s.sweep_alpha {
            let out = Decoded { method: format!("k={k} α={a}"), outputs: decode(generator, prompts, Decoder::Contrastive { k, alpha: a }, s, eos)?, seconds: 0.0 };
            let sc = score_run(&out, prompts, tok, evaluator, eos, s.batch)?.scores(None);
            div.push((a, sc.rep.diversity));
            coh.push((a, sc.coherence));
        }
        sweep.curves.push((k, div, coh));
    }
    Ok(sweep)
}

/// Everything one ci seed produces.
pub struct SeedRun {
    pub metrics: SeedMetrics,
    pub sweep: Option<Sweep>,
}

/// The ci pipeline for one generator seed, exactly as the notebook runs it for seed 7: train the
/// generator, measure its isotropy on the held-out stories, decode the prefixes with every
/// method (and α = 0), score them under the shipped default model. With `sweep`, also the α grid.
pub fn run_seed(seed: u64, sweep: bool) -> Result<SeedRun> {
    let s = Settings::new(Scale::Ci);
    let (evaluator, tok) = crate::model::load_default()?;
    let eos = tok.bos_token_id();
    let prompts = prompts(&tok, &ci_documents(&s), s.prefix_len, s.n_prefixes);
    let (generator, loss) = train_generator(&tok, seed, &s)?;
    let iso = crate::metrics::model_isotropy(&generator, &isotropy_texts(&tok, &ci_isotropy_documents(&s), &s)?)?;
    let decoded = decode_methods(&generator, &prompts, &s, eos, true)?;
    let scored: Vec<ScoredRun> = decoded.iter().map(|d| score_run(d, &prompts, &tok, &evaluator, eos, s.batch)).collect::<Result<_>>()?;
    let metrics = seed_metrics(seed, "", &scored, None, &[("isotropy/generator", iso), ("train_loss", loss)]);
    let sweep = if sweep { Some(alpha_sweep(seed, &generator, &prompts, &tok, &evaluator, &s)?) } else { None };
    Ok(SeedRun { metrics, sweep })
}

/// Runs every seed of [`SEEDS`] (`threads` at a time) with the α sweep and writes
/// `datasets/contrastive-search/`: `runs.json` (one [`SeedMetrics`] per seed), `sweep.json`
/// (one [`Sweep`] per seed) and `settings.json`. Returns the manifest's notes.
pub fn write_artefact(threads: usize) -> Result<String> {
    let t0 = Instant::now();
    let runs = over_seeds(&SEEDS, threads, |seed| run_seed(seed, true))?;
    let wall = t0.elapsed().as_secs_f64();
    let notes = format!(
        "ci settings (settings.json); {} seeds, {threads} at a time, {wall:.0} s wall on {} CPU threads; sweep.json: the α × k grid per seed",
        SEEDS.len(),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );
    let mut w = ArtefactWriter::new(SLUG, COMMAND, &SEEDS)?.notes(notes.clone());
    w.write_runs(&runs.iter().map(|r| r.metrics.clone()).collect::<Vec<_>>())?;
    w.write_json("sweep.json", &runs.iter().filter_map(|r| r.sweep.clone()).collect::<Vec<_>>())?;
    w.write_json("settings.json", &Settings::new(Scale::Ci))?;
    w.finish()?;
    Ok(notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_and_summaries() {
        let r = SeedMetrics::new(0, "")
            .value(&key("diversity", "greedy"), 0.1)
            .value(&key("diversity", "beam"), 0.2)
            .value(&key("diversity", "contrastive"), 0.9)
            .value(&key("coherence", "contrastive"), -2.0)
            .value(&key("coherence", "nucleus"), -3.5);
        assert!((diversity_gap(&r, "contrastive").unwrap() - 0.7).abs() < 1e-12);
        assert!((coherence_gap(&r, "contrastive").unwrap() - 1.5).abs() < 1e-12);
        assert!(diversity_gap(&r, "top-k").is_err());
        let (m, sd) = mean_sd(&[1.0, 2.0, 3.0]);
        assert!((m - 2.0).abs() < 1e-12 && (sd - 1.0).abs() < 1e-12);
        assert_eq!(mean_sd_text(&[r.clone(), r], 2, |r| r.get(&key("diversity", "beam"))).unwrap(), "0.20 ± 0.00");
        let (div, coh) = paper("contrastive").unwrap();
        assert!((div - 0.9254).abs() < 1e-12 && coh == -1.52);
        assert!(paper("typical").is_none());
    }

    #[test]
    fn shards_are_disjoint_and_cover() {
        let mut all: Vec<usize> = (0..3).flat_map(|i| shard(10, i, 3)).collect();
        all.sort();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        assert_eq!(shard(10, 1, 3), vec![1, 4, 7]);
    }

    #[test]
    fn scores_average_runs_and_skip_empty_coherence() {
        let a = ScoredRun { method: "m".into(), texts: vec!["a b a b a b".into(), "c d e f".into()], coherence: vec![Some(-1.0), None] };
        let b = ScoredRun { method: "m".into(), texts: vec!["a b c d".into(), "c d e f".into()], coherence: vec![Some(-3.0), Some(-2.0)] };
        let s = method_scores(&[a.clone(), b], "m", None).unwrap();
        // SimCTG counting skips each text's last n-gram. a: ab ba ab ba | cd de → 4 unique of 6,
        // rep-2 = 1/3; b: ab bc | cd de → 0; the mean over the two runs is 1/6
        assert!((s.rep.rep_2 - 1.0 / 6.0).abs() < 1e-12, "{s:?}");
        assert!((s.coherence - (-1.0 + -2.5) / 2.0).abs() < 1e-12);
        let m = seed_metrics(3, "", &[a], Some(&[1]), &[("x", 1.0)]);
        assert_eq!(m.get(&key("rep_2", "m")).unwrap(), 0.0);
        assert_eq!(m.get(&key("coherence", "m")).unwrap(), 0.0, "no scored continuation: the mean of nothing is 0/1");
        assert_eq!(m.get("x").unwrap(), 1.0);
        assert!(method_scores(&[], "m", None).is_none());
    }

    /// The full-scale path (stop at EOS, beam with EOS, prefix shards as rows) on a random
    /// model: what the notebook runs with gpt2-large, minus the download.
    #[test]
    fn full_scale_pipeline_runs_on_a_random_model() {
        let s = Settings { n_prefixes: 6, new_tokens: 5, batch: 4, nucleus_runs: 2, top_k: 5, ..Settings::new(Scale::Full) };
        assert!(s.stop_at_eos && s.prefix_len == 40);
        let eos = 0u32;
        let model = Gpt2::random(Gpt2Config::tiny(32, 64, 16, 1, 2), 3, &candle_core::Device::Cpu).unwrap();
        let prompts: Vec<Vec<u32>> = (0..s.n_prefixes as u32).map(|i| vec![eos, 1 + i, 2 + i, 3]).collect();
        let decoded = decode_methods(&model, &prompts, &s, eos, true).unwrap();
        let names: Vec<&str> = decoded.iter().map(|d| d.method.as_str()).collect();
        assert_eq!(names, vec!["greedy", "beam", "top-k", "nucleus", "nucleus", "contrastive", ALPHA0]);
        for d in &decoded {
            assert_eq!(d.outputs.len(), prompts.len());
            // stops at EOS (kept) or after new_tokens
            assert!(d.outputs.iter().all(|o| o.len() <= s.new_tokens && o.iter().position(|&t| t == eos).is_none_or(|i| i + 1 == o.len())), "{}: {:?}", d.method, d.outputs);
        }
        assert_eq!(decoded[0].outputs, decoded[6].outputs, "α = 0 is greedy");
        // a scorer with a GPT-2-like vocabulary: the decoded ids are words of this fake tokenizer
        let scored: Vec<ScoredRun> = decoded
            .iter()
            .map(|d| {
                let texts = d.outputs.iter().map(|o| o.iter().map(|t| format!("w{t}")).collect::<Vec<_>>().join(" ")).collect();
                let pairs: Vec<(Vec<u32>, Vec<u32>)> = prompts.iter().zip(&d.outputs).filter(|(_, o)| !o.is_empty()).map(|(p, o)| (p.clone(), o.clone())).collect();
                let mut coh = coherence_batch(&model, &pairs, s.batch).unwrap().into_iter();
                ScoredRun { method: d.method.clone(), texts, coherence: d.outputs.iter().map(|o| if o.is_empty() { None } else { coh.next() }).collect() }
            })
            .collect();
        let rows: Vec<SeedMetrics> = (0..3).map(|i| seed_metrics(i as u64, "prefix shard", &scored, Some(&shard(prompts.len(), i, 3)), &[])).collect();
        for r in &rows {
            assert_eq!(r.values.len(), 6 * 6, "six metrics of six methods");
            assert!(diversity_gap(r, "contrastive").unwrap().is_finite() && coherence_gap(r, "top-k").unwrap().is_finite());
        }
        let iso = isotropy_by_shard(&model, &prompts, 3).unwrap();
        assert!(iso.iter().all(|v| (0.0..=2.0).contains(v)), "{iso:?}");
    }

    #[test]
    fn isotropy_by_shard_pools_like_the_accumulator() {
        let model = Gpt2::random(Gpt2Config::tiny(32, 16, 16, 1, 2), 0, &candle_core::Device::Cpu).unwrap();
        let texts: Vec<Vec<u32>> = (0..4u32).map(|i| (0..6).map(|j| (i * 7 + j) % 32).collect()).collect();
        let by = isotropy_by_shard(&model, &texts, 2).unwrap();
        let one = crate::metrics::model_isotropy(&model, &[texts[0].clone(), texts[2].clone()]).unwrap();
        assert!((by[0] - one).abs() < 1e-12);
    }
}
