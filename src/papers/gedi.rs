//! GeDi: Generative Discriminator Guided Sequence Generation (Krause et al. 2020, arXiv
//! 2009.06367), at ci scale on the synthetic topic world ([`crate::data::topics`]).
//!
//! One seed: a tiny base LM trained on the unlabelled corpus, a tiny class-conditional LM (the
//! guide) trained with GeDi's loss ([`crate::train::cclm`]) on the repository's topic-mode
//! examples ("true" + own topic + text, "false" + another topic + text), then greedy
//! continuations of neutral prompts towards each of the four topics by: the base LM, the base
//! LM with a topic keyword in the prompt, the CC-LM alone, and GeDi at ω ∈ [`OMEGAS`]. Every
//! decoding uses the repository's repetition penalty (1.2 at scale 10, prompt included).

use std::collections::HashSet;
use std::path::Path;
use std::time::Instant;

use candle_core::Device;
use rand::{rngs::StdRng, Rng, SeedableRng};

use super::SeedMetrics;
use crate::data::topics::{TopicDoc, TopicWorld, TOPICS};
use crate::generate::gedi::{gedi_generate, GediConfig, GediGuide};
use crate::generate::GenerateConfig;
use crate::hooks::HookSpec;
use crate::model::{weights, Gpt2};
use crate::tokenizer::Gpt2Tokenizer;
use crate::train::cclm::{train_cclm, CclmExample};
use crate::train::{train_tiny_lm, TinyLmConfig};
use crate::{Error, Result};

pub const SLUG: &str = "gedi";
pub const SEEDS: [u64; 3] = [0, 1, 2];
/// The ω grid (the repository's `disc_weight` is 30).
pub const OMEGAS: [f64; 4] = [0.0, 5.0, 15.0, 30.0];
/// GeDi's λ (`gen_weight` in `run_training.sh`).
pub const LAMBDA: f64 = 0.8;
/// Held-out documents the guide is scored on as a classifier (a corpus seed the training
/// corpus never uses).
/// The negative-control arm: GeDi at the repository's settings (ω = 30) with the untrained guide.
pub const UNTRAINED_ARM: &str = "GeDi ω = 30, untrained guide";
pub const HELD_OUT_DOCS: usize = 200;
/// One keyword per topic for the keyword-prompt baseline (the topic's first noun).
pub const KEYWORDS: [&str; 4] = ["team", "lab", "market", "nation"];

/// The ci set-up.
#[derive(Clone, Debug, PartialEq)]
pub struct CiSettings {
    /// Documents in the corpus (each gives the base LM one document and the guide two examples).
    pub docs: usize,
    pub doc_len: usize,
    pub base: TinyLmConfig,
    pub guide: TinyLmConfig,
    pub n_prompts: usize,
    pub prompt_len: usize,
    pub new_tokens: usize,
}

impl Default for CiSettings {
    fn default() -> Self {
        let m = TinyLmConfig {
            n_embd: 48,
            n_layer: 2,
            n_head: 4,
            ctx: 32,
            steps: 400,
            batch_size: 32,
            lr: 3e-3,
        };
        // The guide needs ~800 steps: its class loss sits on a plateau at ln 2 for the first
        // 300–400 steps (it learns the codes' language model before the code × topic
        // interaction that separates the classes; measured held-out L_disc 0.68 after 400
        // steps, 0.18 after 700, 0.006 after 1500).
        CiSettings {
            docs: 3000,
            doc_len: 24,
            base: m.clone(),
            guide: TinyLmConfig { steps: 800, ..m },
            n_prompts: 12,
            prompt_len: 4,
            new_tokens: 18,
        }
    }
}

/// The repository's topic-mode examples: every document once with its own topic code
/// (label 0, "true") and once with a uniformly drawn other topic's code (label 1, "false").
pub fn cclm_examples(world: &TopicWorld, docs: &[TopicDoc], seed: u64) -> Result<Vec<CclmExample>> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x6ED1);
    let mut out = Vec::with_capacity(2 * docs.len());
    for d in docs {
        let other = (d.topic + 1 + rng.random_range(0..TOPICS.len() - 1)) % TOPICS.len();
        for (t, label) in [(d.topic, 0), (other, 1)] {
            out.push(CclmExample {
                tokens: [vec![world.topic_code(t)?], d.tokens.clone()].concat(),
                label,
            });
        }
    }
    Ok(out)
}

/// The guide as a classifier on held-out documents.
#[derive(Clone, Debug, PartialEq)]
pub struct GuideEval {
    /// GeDi's L_disc (class cross-entropy, the guide's logit scale and bias) on the held-out
    /// topic-mode examples; chance is ln 2.
    pub disc_loss: f64,
    /// Fraction of those examples whose own code has the lower length-normalised NLL.
    pub pair_acc: f64,
    /// Mean over examples of NLL(wrong code) − NLL(right code), nats per token (before the
    /// logit scale).
    pub margin: f64,
    /// 4-way topic accuracy: argmax over topic codes of log P(true | topic, text).
    pub topic_acc: f64,
}

/// Scores `guide` on held-out `docs` (equal lengths): L_disc, pairwise and 4-way accuracy.
pub fn eval_guide(world: &TopicWorld, guide: &GediGuide, docs: &[TopicDoc], seed: u64) -> Result<GuideEval> {
    if docs.is_empty() {
        return Err(Error::EmptyInput("eval_guide needs held-out documents".into()));
    }
    let ex = cclm_examples(world, docs, seed)?;
    let scale = candle_core::Tensor::new(&[guide.logit_scale as f32], &Device::Cpu)?;
    let nll_of = |ex: &[CclmExample]| -> Result<Vec<[f64; 2]>> {
        let mut out = vec![];
        for chunk in ex.chunks(64) {
            out.extend(crate::train::cclm::cclm_loss(&guide.model, &scale, guide.codes, chunk, LAMBDA)?.nll);
        }
        Ok(out)
    };
    let class_lp = |nll: &[f64; 2], label: usize| -> f64 {
        let a = [-guide.logit_scale * nll[0] + guide.bias[0], -guide.logit_scale * nll[1] + guide.bias[1]];
        let m = a[0].max(a[1]);
        a[label] - (m + ((a[0] - m).exp() + (a[1] - m).exp()).ln())
    };
    let nll = nll_of(&ex)?;
    let n = ex.len() as f64;
    let disc_loss = -ex.iter().zip(&nll).map(|(e, r)| class_lp(r, e.label)).sum::<f64>() / n;
    let pair_acc = ex.iter().zip(&nll).filter(|(e, r)| r[e.label] < r[1 - e.label]).count() as f64 / n;
    let margin = ex.iter().zip(&nll).map(|(e, r)| r[1 - e.label] - r[e.label]).sum::<f64>() / n;
    // every document after every topic code, label unused: log P(true | topic k, text)
    let mut per_topic = vec![];
    for k in 0..TOPICS.len() {
        let code = world.topic_code(k)?;
        let ek: Vec<CclmExample> = docs.iter().map(|d| CclmExample { tokens: [vec![code], d.tokens.clone()].concat(), label: 0 }).collect();
        per_topic.push(nll_of(&ek)?.iter().map(|r| class_lp(r, 0)).collect::<Vec<f64>>());
    }
    let right = (0..docs.len())
        .filter(|&i| (0..TOPICS.len()).max_by(|&a, &b| per_topic[a][i].total_cmp(&per_topic[b][i])) == Some(docs[i].topic))
        .count();
    Ok(GuideEval {
        disc_loss,
        pair_acc,
        margin,
        topic_acc: right as f64 / docs.len() as f64,
    })
}

/// The two models of one seed.
#[derive(Clone, Debug)]
pub struct Models {
    pub base: Gpt2,
    pub guide: GediGuide,
    /// The guide's architecture at its random initialisation (logit scale 1): the negative
    /// control for guided decoding.
    pub untrained: GediGuide,
    pub base_loss: f64,
    /// (step, total, L_disc, L_gen) of the guide's training.
    pub guide_curve: Vec<(usize, f64, f64, f64)>,
    /// The trained and the untrained guide as classifiers on held-out documents.
    pub guide_eval: GuideEval,
    pub untrained_eval: GuideEval,
}

/// Trains the base LM and the guide (corpus, inits and batches from `seed`).
pub fn train_models(world: &TopicWorld, s: &CiSettings, seed: u64) -> Result<Models> {
    let docs = world.corpus(s.docs, s.doc_len, seed)?;
    let plain: Vec<Vec<u32>> = docs.iter().map(|d| d.tokens.clone()).collect();
    let (base, base_loss) = train_tiny_lm(&plain, world.vocab_size(), world.eos(), &s.base, seed)?;
    let ex = cclm_examples(world, &docs, seed)?;
    let codes = world.class_codes();
    let g = train_cclm(&ex, world.vocab_size(), world.eos(), codes, &s.guide, LAMBDA, seed + 1000)?;
    let guide = GediGuide {
        model: g.model,
        logit_scale: g.logit_scale,
        bias: [0.0; 2],
        codes,
    };
    // the same init train_cclm starts from (its seed), untouched
    let untrained = GediGuide {
        model: Gpt2::random(s.guide.model_config(world.vocab_size(), world.eos()), seed + 1000, &Device::Cpu)?,
        logit_scale: 1.0,
        ..guide.clone()
    };
    let held_out = world.corpus(HELD_OUT_DOCS, s.doc_len, seed ^ 0x4E1D_0000)?;
    Ok(Models {
        base,
        guide_eval: eval_guide(world, &guide, &held_out, seed)?,
        untrained_eval: eval_guide(world, &untrained, &held_out, seed)?,
        guide,
        untrained,
        base_loss,
        guide_curve: g.curve,
    })
}

/// Neutral-ish prompts: the first `prompt_len` tokens of a fresh document, topics cycling, so
/// every target topic is the prompt's own topic for a quarter of the prompts.
pub fn prompts(world: &TopicWorld, s: &CiSettings, seed: u64) -> Vec<(Vec<u32>, usize)> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x9207);
    (0..s.n_prompts)
        .map(|i| (world.document(i % TOPICS.len(), s.prompt_len, &mut rng), i % TOPICS.len()))
        .collect()
}

/// One decoding mode's outputs and scores.
#[derive(Clone, Debug)]
pub struct ModeResult {
    pub name: String,
    /// Per (target, prompt), targets outer.
    pub outputs: Vec<Vec<u32>>,
    pub targets: Vec<usize>,
    pub oracle_acc: f64,
    pub guide_acc: f64,
    pub base_ppl: f64,
    pub distinct2: f64,
    pub seconds: f64,
}

/// Distinct-2 over token sequences: unique bigrams / all bigrams.
pub fn distinct2(seqs: &[Vec<u32>]) -> f64 {
    let all: Vec<(u32, u32)> = seqs.iter().flat_map(|s| s.windows(2).map(|w| (w[0], w[1]))).collect();
    if all.is_empty() {
        return 0.0;
    }
    all.iter().collect::<HashSet<_>>().len() as f64 / all.len() as f64
}

/// Scores a mode's outputs: oracle topic accuracy, the guide as a 4-way topic classifier
/// (argmax over topic codes of log P(true | topic + text)), perplexity under the base LM given
/// the neutral prompt, distinct-2.
pub fn score_mode(world: &TopicWorld, m: &Models, prompts: &[(Vec<u32>, usize)], name: &str, outputs: Vec<Vec<u32>>, targets: Vec<usize>, seconds: f64) -> Result<ModeResult> {
    let n = outputs.len() as f64;
    let oracle_acc = outputs.iter().zip(&targets).filter(|(o, &t)| world.oracle_topic(o) == Some(t)).count() as f64 / n;
    let mut right = 0usize;
    let (mut nll, mut toks) = (0.0, 0usize);
    for (j, (o, &t)) in outputs.iter().zip(&targets).enumerate() {
        let lps: Vec<f64> = (0..TOPICS.len()).map(|k| m.guide.class_logp(&[world.topic_code(k)?], o)).collect::<Result<_>>()?;
        let best = (0..lps.len()).max_by(|&a, &b| lps[a].total_cmp(&lps[b])).unwrap_or(0);
        right += usize::from(best == t);
        let prompt = &prompts[j % prompts.len()].0;
        nll -= m.base.score_continuation(prompt, o)?.iter().map(|&x| x as f64).sum::<f64>();
        toks += o.len();
    }
    Ok(ModeResult {
        name: name.into(),
        oracle_acc,
        guide_acc: right as f64 / n,
        base_ppl: (nll / toks as f64).exp(),
        distinct2: distinct2(&outputs),
        targets,
        outputs,
        seconds,
    })
}

/// Speed and structure of the decoders, measured in the run.
#[derive(Clone, Debug, Default)]
pub struct Timing {
    /// Plain greedy decoding of the base (`Gpt2::generate_batch`), tokens per second.
    pub plain_tok_s: f64,
    /// GeDi (ω = 30), tokens per second.
    pub gedi_tok_s: f64,
    /// The "discriminator re-scores every candidate" baseline, tokens per second (one prompt).
    pub rescore_tok_s: f64,
}

/// One seed's run.
#[derive(Clone, Debug)]
pub struct GediRun {
    pub seed: u64,
    pub models: Models,
    pub modes: Vec<ModeResult>,
    /// Fraction of (prompt, target) rows where unguided GeDi decoding equals `Gpt2::generate`.
    pub omega0_exact: f64,
    /// Max |decoder posterior − brute-force re-scoring| over the vocabulary, first 3 steps.
    pub posterior_err: f64,
    /// Guide forward calls per base forward call, and guide rows per base row (ω = 30).
    pub guide_calls_per_base_call: f64,
    pub guide_rows_per_base_row: f64,
    pub timing: Timing,
}

/// Decodes every mode for every target topic and scores them.
pub fn run_with_models(world: &TopicWorld, s: &CiSettings, m: Models, seed: u64) -> Result<GediRun> {
    let ps = prompts(world, s, seed);
    let plain: Vec<Vec<u32>> = ps.iter().map(|p| p.0.clone()).collect();
    let paper = GediConfig::paper(s.new_tokens);
    let no_guide = GediConfig {
        omega: 0.0,
        filter_p: 0.0,
        ..paper.clone()
    };
    let codes = world.class_codes();
    let mut modes = vec![];
    let mut timing = Timing::default();
    let (mut exact, mut rows) = (0usize, 0usize);
    let (mut calls, mut rows_ratio) = (0.0, 0.0);
    let mut posterior_err: f64 = 0.0;
    enum Arm {
        Base,
        Keyword,
        Cclm,
        Gedi(f64),
        Untrained,
    }
    let mut arms: Vec<(String, Arm)> = vec![
        ("base LM".into(), Arm::Base),
        ("base LM + topic keyword".into(), Arm::Keyword),
        ("CC-LM alone".into(), Arm::Cclm),
    ];
    arms.extend(OMEGAS.iter().map(|&w| (format!("GeDi ω = {w}"), Arm::Gedi(w))));
    arms.push((UNTRAINED_ARM.into(), Arm::Untrained));
    for (name, arm) in &arms {
        let (mut outs, mut targets, mut secs) = (vec![], vec![], 0.0);
        for t in 0..TOPICS.len() {
            let cond = [world.topic_code(t)?];
            let o = match arm {
                Arm::Base => gedi_generate(&m.base, &m.guide, &plain, &cond, &no_guide)?,
                Arm::Keyword => {
                    let k = world.id(KEYWORDS[t])?;
                    let kp: Vec<Vec<u32>> = plain.iter().map(|p| [vec![k], p.clone()].concat()).collect();
                    gedi_generate(&m.base, &m.guide, &kp, &cond, &no_guide)?
                }
                Arm::Cclm => {
                    let cp: Vec<Vec<u32>> = plain.iter().map(|p| [vec![codes[0]], cond.to_vec(), p.clone()].concat()).collect();
                    gedi_generate(&m.guide.model, &m.guide, &cp, &cond, &no_guide)?
                }
                Arm::Gedi(w) => gedi_generate(&m.base, &m.guide, &plain, &cond, &paper.clone().omega(*w))?,
                Arm::Untrained => gedi_generate(&m.base, &m.untrained, &plain, &cond, &paper)?,
            };
            outs.extend(o.tokens);
            targets.extend(std::iter::repeat_n(t, plain.len()));
            secs += o.seconds;
        }
        if name == "GeDi ω = 30" {
            timing.gedi_tok_s = outs.len() as f64 * s.new_tokens as f64 / secs;
        }
        modes.push(score_mode(world, &m, &ps, name, outs, targets, secs)?);
    }
    // structure and exactness checks, every target topic
    let plain_cfg = GenerateConfig::greedy(s.new_tokens).repetition_penalty(paper.repetition_penalty);
    let mut plain_secs = 0.0;
    for t in 0..TOPICS.len() {
        let cond = [world.topic_code(t)?];
        let t0 = Instant::now();
        let _ = m.base.generate_batch(&plain, &plain_cfg, &HookSpec::new(), None)?;
        plain_secs += t0.elapsed().as_secs_f64();
        let reference = m.base.generate_batch(&plain, &GenerateConfig::greedy(s.new_tokens), &HookSpec::new(), None)?;
        let un = gedi_generate(&m.base, &m.guide, &plain, &cond, &GediConfig::unguided(s.new_tokens))?;
        exact += un.tokens.iter().zip(&reference).filter(|(a, b)| a == b).count();
        rows += plain.len();
        let g = gedi_generate(&m.base, &m.guide, &plain, &cond, &paper.clone().trace())?;
        calls += g.guide_forwards as f64 / g.base_forwards as f64 / TOPICS.len() as f64;
        rows_ratio += g.guide_rows as f64 / g.base_rows as f64 / TOPICS.len() as f64;
        if t == 0 {
            for (k, lpd) in g.trace.iter().take(3).enumerate() {
                let prefix = [plain[0].clone(), g.tokens[0][..k].to_vec()].concat();
                let t1 = Instant::now();
                let brute = m.guide.rescore_all(&cond, &prefix)?;
                if k == 0 {
                    timing.rescore_tok_s = 1.0 / t1.elapsed().as_secs_f64();
                }
                posterior_err = lpd.iter().zip(&brute).map(|(a, b)| (a - b).abs()).fold(posterior_err, f64::max);
            }
        }
    }
    timing.plain_tok_s = (TOPICS.len() * plain.len() * s.new_tokens) as f64 / plain_secs;
    Ok(GediRun {
        seed,
        models: m,
        modes,
        omega0_exact: exact as f64 / rows as f64,
        posterior_err,
        guide_calls_per_base_call: calls,
        guide_rows_per_base_row: rows_ratio,
        timing,
    })
}

/// Trains both models and runs every mode.
pub fn run_seed(s: &CiSettings, seed: u64) -> Result<GediRun> {
    let world = TopicWorld::default();
    let m = train_models(&world, s, seed)?;
    run_with_models(&world, s, m, seed)
}

/// The deterministic metrics (group `quality`): per mode `<mode>:oracle_acc`, `:guide_acc`,
/// `:base_ppl`, `:distinct2`, plus the exactness checks and the training results.
pub fn metrics(run: &GediRun) -> SeedMetrics {
    let last = run.models.guide_curve.last().copied().unwrap_or((0, f64::NAN, f64::NAN, f64::NAN));
    let mut m = SeedMetrics::new(run.seed, "quality")
        .value("omega0_exact", run.omega0_exact)
        .value("posterior_max_abs_err", run.posterior_err)
        .value("guide_calls_per_base_call", run.guide_calls_per_base_call)
        .value("guide_rows_per_base_row", run.guide_rows_per_base_row)
        .value("base_train_loss", run.models.base_loss)
        .value("guide_loss", last.1)
        .value("guide_disc_loss", last.2)
        .value("guide_gen_loss", last.3)
        .value("logit_scale", run.models.guide.logit_scale);
    for (who, e) in [("guide", &run.models.guide_eval), ("untrained", &run.models.untrained_eval)] {
        m = m
            .value(&format!("{who}_heldout_disc_loss"), e.disc_loss)
            .value(&format!("{who}_heldout_pair_acc"), e.pair_acc)
            .value(&format!("{who}_heldout_margin"), e.margin)
            .value(&format!("{who}_heldout_topic_acc"), e.topic_acc);
    }
    for r in &run.modes {
        m = m
            .value(&format!("{}:oracle_acc", r.name), r.oracle_acc)
            .value(&format!("{}:guide_acc", r.name), r.guide_acc)
            .value(&format!("{}:base_ppl", r.name), r.base_ppl)
            .value(&format!("{}:distinct2", r.name), r.distinct2);
    }
    m.curve("guide_disc_loss", run.models.guide_curve.iter().map(|c| (c.0 as f64, c.2)).collect())
        .curve("guide_gen_loss", run.models.guide_curve.iter().map(|c| (c.0 as f64, c.3)).collect())
}

/// The wall-clock measurements (group `timing`; machine-dependent, never compared live).
pub fn timing_metrics(run: &GediRun) -> SeedMetrics {
    SeedMetrics::new(run.seed, "timing")
        .value("plain_tok_s", run.timing.plain_tok_s)
        .value("gedi_tok_s", run.timing.gedi_tok_s)
        .value("rescore_tok_s", run.timing.rescore_tok_s)
}

/// Writes `datasets/gedi/`: both rows for every seed of [`SEEDS`], `threads` seeds at a time.
pub fn write_artefact(threads: usize) -> Result<String> {
    let t0 = Instant::now();
    let s = CiSettings::default();
    let mut rows = vec![];
    for r in crate::runtime::parallel_map(SEEDS.to_vec(), threads, |seed| run_seed(&s, seed)) {
        let r = r?;
        rows.push(metrics(&r));
        rows.push(timing_metrics(&r));
    }
    let mut w = super::ArtefactWriter::new(SLUG, "cargo run --release --example artefact -- gedi --threads 1", &SEEDS)?;
    w.write_runs(&rows)?;
    let notes = format!(
        "{} seeds × (a {}-layer d={} base LM ({} steps) and CC-LM guide ({} steps), {} documents of {} tokens; {} prompts × 4 topics × {} new tokens per mode), {threads} seeds at a time, {:.0} s on this machine's CPU",
        SEEDS.len(),
        s.base.n_layer,
        s.base.n_embd,
        s.base.steps,
        s.guide.steps,
        s.docs,
        s.doc_len,
        s.n_prompts,
        s.new_tokens,
        t0.elapsed().as_secs_f64()
    );
    w = w.notes(notes.clone());
    w.finish()?;
    Ok(notes)
}

/// A guide from an HF-layout checkpoint directory (`config.json` + safetensors, e.g. the
/// Salesforce topic GeDi converted to safetensors): its `logit_scale` and `bias` tensors are
/// read when present (1 and 0 otherwise); `codes` are the class-code ids.
pub fn load_guide(dir: impl AsRef<Path>, codes: [u32; 2]) -> Result<GediGuide> {
    let dir = dir.as_ref();
    let model = Gpt2::from_dir(dir)?;
    let t = weights::load_safetensors(&weights::weight_files(dir)?, &Device::Cpu)?;
    let flat = |name: &str| -> Result<Option<Vec<f64>>> {
        match t.get(name) {
            Some(x) => Ok(Some(x.flatten_all()?.to_dtype(candle_core::DType::F64)?.to_vec1::<f64>()?)),
            None => Ok(None),
        }
    };
    let logit_scale = flat("logit_scale")?.and_then(|v| v.first().copied()).unwrap_or(1.0);
    let bias = match flat("bias")? {
        Some(v) if v.len() == 2 => [v[0], v[1]],
        Some(v) => return Err(Error::GuideMismatch(format!("the guide's `bias` has {} values, GeDi's two-class head needs 2", v.len()))),
        None => [0.0; 2],
    };
    Ok(GediGuide { model, logit_scale, bias, codes })
}

/// Full scale, the repository's topic mode: GPT-2 (`base`) guided towards `topic` by a GPT-2
/// GeDi (`guide`) with codes "true"/"false" and the topic word as secondary code, GPT-2's
/// tokenizer; returns the decoded continuations.
pub fn full_scale_generate(base: &Gpt2, guide_dir: impl AsRef<Path>, tok: &Gpt2Tokenizer, topic: &str, prompts: &[&str], cfg: &GediConfig) -> Result<Vec<String>> {
    let first = |w: &str| -> Result<u32> { tok.encode(w)?.first().copied().ok_or_else(|| Error::EmptyInput(format!("`{w}` encodes to no token"))) };
    let guide = load_guide(guide_dir, [first("true")?, first("false")?])?;
    let cond = tok.encode(topic)?;
    let ids: Vec<Vec<u32>> = prompts.iter().map(|p| tok.encode(p)).collect::<Result<_>>()?;
    let out = gedi_generate(base, &guide, &ids, &cond, cfg)?;
    out.tokens.iter().map(|t| tok.decode(t)).collect()
}
