//! Exploring Next Token Prediction in Theory of Mind Tasks: GPT-2 vs LLaMA-2 (arXiv 2504.15604)
//! at ci scale: a tiny GPT-2 trained on generated Sally–Anne stories ([`crate::data::tom`]),
//! its next-token distributions on the paper's cloze questions at the paper's temperatures
//! (0.01, 0.5, 1, 1.5, 2, as in its code) and under top-k, with infills of 0/1/4/16/64 neutral
//! sentences; and the full-scale path (GPT-2 small with its tokenizer, the same prompts,
//! the paper's 1024-token skip policy).
//!
//! The distributions are [`NextTokenDist`] (the sampler's own temperature/top-k transform). The
//! paper's scoring appends the argmax, so its chosen token does not depend on T; we report the
//! greedy view and the sampled view (the probability that one draw from softmax(z/T) is the
//! belief-consistent location: the exact expectation of the brief's 20-sample accuracy).
//!
//! Artefact: `cargo run --release --example artefact -- tom-next-token` (3 seeds × a model
//! trained on the tracker's answers and its untrained init).

use candle_core::{Device, Tensor};

use super::artefact::{ArtefactWriter, SeedMetrics};
use crate::data::text_tokenizers::{TextTokenizer, WordTokenizer, WordTokenizerConfig};
use crate::data::tom::{vocabulary_text, BeliefKind, Order, TomConfig, TomPrompt, TomWorld};
use crate::data::TokenDataset;
use crate::interp::next_token::NextTokenDist;
use crate::model::Gpt2;
use crate::runtime::parallel_map;
use crate::train::{tiny_lm_trainer, TinyLmConfig};
use crate::{Error, Result};

pub const SLUG: &str = "tom-next-token";
pub const SEEDS: [u64; 3] = [0, 1, 2];
/// The temperatures of the official code (`gpt2_model_prediction.py`; the abstract lists four, without 1.5).
pub const TEMPERATURES: [f64; 5] = [0.01, 0.5, 1.0, 1.5, 2.0];
/// The paper's infill levels (sentences added to a story).
pub const INFILL_LEVELS: [usize; 5] = [0, 1, 4, 16, 64];
/// Infill levels seen in training (few: longer stories are held out).
pub const TRAIN_INFILLS: [usize; 2] = [0, 1];
/// Top-k values shown (besides no top-k).
pub const TOP_KS: [usize; 3] = [1, 2, 5];
pub const TRAIN_STORIES: usize = 8000;
/// Held-out stories per seed; each is asked one question per order at every infill level.
pub const EVAL_STORIES: usize = 60;

/// The artefact's groups: the trained model, its untrained init (the control), and the trained
/// run's loss curve over its first [`LIVE_STEPS`] steps (what a notebook re-runs live).
pub const GROUPS: [&str; 3] = ["trained", "untrained", "trained-prefix"];
/// Steps of the training run a notebook re-trains live (the same schedule, stopped early).
pub const LIVE_STEPS: usize = 300;

/// The ci word tokenizer, fitted on every word the generator can write (lower-cased).
pub fn tokenizer() -> WordTokenizer {
    WordTokenizer::fit(&vocabulary_text(), &WordTokenizerConfig::default())
}

/// The ci model and schedule: 2 layers, d_model 64, 4 heads, context 128; 1,500 steps of
/// 16 × 128 tokens at a peak lr of 1e-2 (cosine to a tenth, 10% warmup). Measured on seed 0: at
/// 400 and 500 steps (lr 1e-2 and 3e-3) the model had not yet learnt to copy a location from the
/// story (every container ≈ 1/8 at "in the"); at 1,500 it had.
pub fn ci_lm_config() -> TinyLmConfig {
    TinyLmConfig {
        n_embd: 64,
        n_layer: 2,
        n_head: 4,
        ctx: 128,
        steps: 1500,
        batch_size: 16,
        lr: 1e-2,
    }
}

/// Training documents: `n` stories of the ci world (seed `seed + 1000`), each with 0 or 1
/// infill, then one question of every order in a random order, each followed by its answer
/// from the tracker (three answers per story: the location tokens are rare in the text, and
/// learning to copy them needs the supervision).
pub fn training_docs(seed: u64, n: usize, tok: &dyn TextTokenizer) -> Result<Vec<Vec<u32>>> {
    let mut w = TomWorld::new(TomConfig::ci(), seed + 1000)?;
    let mut docs = Vec::with_capacity(n);
    for _ in 0..n {
        let s = w.story();
        let k = TRAIN_INFILLS[w.below(TRAIN_INFILLS.len())];
        let s = s.with_infills(k, w.next_seed());
        let mut orders = Order::ALL.to_vec();
        for i in (1..orders.len()).rev() {
            orders.swap(i, w.below(i + 1));
        }
        let mut text = s.text()?;
        for order in orders {
            let q = w.question(&s, order)?;
            let p = TomPrompt::new(&s, q)?;
            text.push_str(&format!(" {} {}.", s.question_text(q)?, p.consistent));
        }
        docs.push(tok.encode(&text)?);
    }
    Ok(docs)
}

/// Trains the ci model of `seed` (init and batch order from it, data from `seed + 1000`) with
/// [`ci_lm_config`]'s schedule, stopping after `stop_after` steps when given (the same
/// trajectory's first steps); returns the model and its training-loss curve (every 10 steps).
pub fn train(seed: u64, stop_after: Option<usize>) -> Result<(Gpt2, Vec<(f64, f64)>)> {
    let tok = tokenizer();
    let cfg = ci_lm_config();
    let docs = training_docs(seed, TRAIN_STORIES, &tok)?;
    let data = TokenDataset::from_documents(&docs, Some(tok.eos_id()), cfg.ctx)?;
    let mut trainer = tiny_lm_trainer(tok.vocab_size(), tok.eos_id(), &cfg, seed, stop_after)?;
    let m = trainer.fit(&data, None)?;
    Ok((trainer.model()?, m.train_curve()))
}

/// The prefix row a notebook checks live: the loss curve up to [`LIVE_STEPS`].
pub fn prefix_metrics(seed: u64, curve: &[(f64, f64)]) -> SeedMetrics {
    SeedMetrics::new(seed, "trained-prefix").curve(
        "train_loss",
        curve
            .iter()
            .copied()
            .filter(|p| p.0 <= LIVE_STEPS as f64)
            .collect(),
    )
}

/// The same architecture at the seed's random init.
pub fn untrained(seed: u64) -> Result<Gpt2> {
    let tok = tokenizer();
    Gpt2::random(
        ci_lm_config().model_config(tok.vocab_size(), tok.eos_id()),
        seed,
        &Device::Cpu,
    )
}

/// Held-out prompts: `n_stories` stories of `world` (seed `seed + 1_000_000`, disjoint from
/// training streams), each at every infill level of `levels`, one question per order (the same
/// question at every level, so levels differ only by their infills).
pub fn eval_prompts(
    seed: u64,
    world: TomConfig,
    n_stories: usize,
    levels: &[usize],
) -> Result<Vec<TomPrompt>> {
    let mut w = TomWorld::new(world, seed + 1_000_000)?;
    let mut out = vec![];
    for _ in 0..n_stories {
        let s = w.story();
        let qs: Vec<_> = Order::ALL
            .iter()
            .map(|&o| w.question(&s, o))
            .collect::<Result<_>>()?;
        let infill_seed = w.next_seed();
        for &k in levels {
            let sk = s.with_infills(k, infill_seed);
            for &q in &qs {
                out.push(TomPrompt::new(&sk, q)?);
            }
        }
    }
    Ok(out)
}

/// One prompt's next-token logits (None when the prompt does not fit the model's context: the
/// paper skips GPT-2 prompts over 1024 tokens and counts them).
#[derive(Clone, Debug)]
pub struct Scored {
    pub order: Order,
    pub kind: BeliefKind,
    pub infills: usize,
    /// First token of " <consistent container>" and of the inconsistent one.
    pub consistent: u32,
    pub inconsistent: u32,
    pub n_tokens: usize,
    pub logits: Option<Vec<f32>>,
}

/// The first token of `word` after a space (the location's first token, as the paper compares
/// first tokens).
pub fn answer_token(tok: &dyn TextTokenizer, word: &str) -> Result<u32> {
    tok.encode(&format!(" {word}"))?
        .first()
        .copied()
        .ok_or_else(|| Error::Tokenizer(format!("{word:?} encodes to no token")))
}

/// Runs `model` on every prompt (with `bos` first when given), batched by length, and keeps the
/// logits at the last position.
pub fn score(
    model: &Gpt2,
    tok: &dyn TextTokenizer,
    bos: Option<u32>,
    prompts: &[TomPrompt],
    batch: usize,
) -> Result<Vec<Scored>> {
    if prompts.is_empty() {
        return Err(Error::EmptyInput("no ToM prompts to score".into()));
    }
    let n_ctx = model.cfg.n_positions;
    let mut out = Vec::with_capacity(prompts.len());
    let mut ids = Vec::with_capacity(prompts.len());
    for p in prompts {
        let (c, i) = (
            answer_token(tok, p.consistent)?,
            answer_token(tok, p.inconsistent)?,
        );
        if c == i {
            return Err(Error::Tokenizer(format!(
                "{:?} and {:?} share their first token {c}",
                p.consistent, p.inconsistent
            )));
        }
        let mut t: Vec<u32> = bos.into_iter().collect();
        t.extend(tok.encode(&p.text)?);
        out.push(Scored {
            order: p.order,
            kind: p.kind,
            infills: p.infills,
            consistent: c,
            inconsistent: i,
            n_tokens: t.len(),
            logits: None,
        });
        ids.push(t);
    }
    // equal lengths together: no padding needed, and a causal model's last row is exact
    let mut order: Vec<usize> = (0..ids.len()).filter(|&i| ids[i].len() <= n_ctx).collect();
    order.sort_by_key(|&i| (ids[i].len(), i));
    for group in order.chunk_by(|&a, &b| ids[a].len() == ids[b].len()) {
        for chunk in group.chunks(batch.max(1)) {
            let t = ids[chunk[0]].len();
            let flat: Vec<u32> = chunk.iter().flat_map(|&i| ids[i].iter().copied()).collect();
            let x = Tensor::from_vec(flat, (chunk.len(), t), &Device::Cpu)?;
            let logits = model
                .forward(&x)?
                .narrow(1, t - 1, 1)?
                .squeeze(1)?
                .to_dtype(candle_core::DType::F32)?
                .to_vec2::<f32>()?;
            for (&i, row) in chunk.iter().zip(logits) {
                out[i].logits = Some(row);
            }
        }
    }
    Ok(out)
}

/// Which scored prompts a summary covers (`None`: all).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Select {
    pub order: Option<Order>,
    pub kind: Option<BeliefKind>,
    pub infills: Option<usize>,
}

impl Select {
    pub fn order(o: Order) -> Select {
        Select {
            order: Some(o),
            ..Default::default()
        }
    }
    pub fn kind(mut self, k: BeliefKind) -> Select {
        self.kind = Some(k);
        self
    }
    pub fn infills(mut self, k: usize) -> Select {
        self.infills = Some(k);
        self
    }
    fn keeps(&self, s: &Scored) -> bool {
        self.order.is_none_or(|o| o == s.order)
            && self.kind.is_none_or(|k| k == s.kind)
            && self.infills.is_none_or(|k| k == s.infills)
    }
}

/// Means over the selected (not skipped) prompts at one temperature and top-k.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub skipped: usize,
    /// Probability of the belief-consistent location (= the expected accuracy of one sample).
    pub p_consistent: f64,
    pub p_inconsistent: f64,
    /// Share of prompts whose argmax is the consistent location (the paper's chosen token).
    pub greedy_acc: f64,
    pub p_top1: f64,
    pub entropy: f64,
}

pub fn summarise(
    scores: &[Scored],
    sel: Select,
    temperature: f64,
    top_k: Option<usize>,
) -> Result<Summary> {
    let mut s = Summary {
        n: 0,
        skipped: 0,
        p_consistent: 0.0,
        p_inconsistent: 0.0,
        greedy_acc: 0.0,
        p_top1: 0.0,
        entropy: 0.0,
    };
    for x in scores.iter().filter(|x| sel.keeps(x)) {
        let Some(l) = &x.logits else {
            s.skipped += 1;
            continue;
        };
        let d = NextTokenDist::new(l, temperature, top_k)?;
        let (top, p) = d.top1();
        s.n += 1;
        s.p_consistent += d.prob(x.consistent);
        s.p_inconsistent += d.prob(x.inconsistent);
        s.greedy_acc += (top == x.consistent) as u8 as f64;
        s.p_top1 += p;
        s.entropy += d.entropy();
    }
    if s.n == 0 {
        return Err(Error::EmptyInput(format!(
            "no scored prompt matches {sel:?} ({} skipped)",
            s.skipped
        )));
    }
    let n = s.n as f64;
    for v in [
        &mut s.p_consistent,
        &mut s.p_inconsistent,
        &mut s.greedy_acc,
        &mut s.p_top1,
        &mut s.entropy,
    ] {
        *v /= n;
    }
    Ok(s)
}

/// Exact checks over every scored prompt: the argmax is the same at every temperature, and the
/// top-1 probability never rises with T. Returns (argmax-invariant count, monotone count, n).
pub fn temperature_identities(scores: &[Scored]) -> Result<(usize, usize, usize)> {
    let (mut inv, mut mono, mut n) = (0, 0, 0);
    for l in scores.iter().filter_map(|s| s.logits.as_ref()) {
        let tops: Vec<(u32, f64)> = TEMPERATURES
            .iter()
            .map(|&t| NextTokenDist::new(l, t, None).map(|d| d.top1()))
            .collect::<Result<_>>()?;
        let greedy = crate::generate::argmax(l);
        n += 1;
        inv += tops.iter().all(|t| t.0 == greedy) as usize;
        mono += tops.windows(2).all(|w| w[1].1 <= w[0].1) as usize;
    }
    Ok((inv, mono, n))
}

/// Short keys for the artefact.
pub fn kind_key(k: BeliefKind) -> &'static str {
    match k {
        BeliefKind::State => "state",
        BeliefKind::TrueBelief => "tb",
        BeliefKind::FalseBelief => "fb",
    }
}

/// A model's scores as an artefact row.
pub fn metrics(
    seed: u64,
    group: &str,
    scores: &[Scored],
    final_loss: Option<f64>,
) -> Result<SeedMetrics> {
    let mut m = SeedMetrics::new(seed, group);
    if let Some(l) = final_loss {
        m = m.value("final_loss", l);
    }
    for &k in &INFILL_LEVELS {
        let skipped = scores
            .iter()
            .filter(|s| s.infills == k && s.logits.is_none())
            .count();
        m = m.value(&format!("skipped/k{k}"), skipped as f64);
        if skipped < scores.iter().filter(|s| s.infills == k).count() {
            let all = summarise(scores, Select::default().infills(k), 0.0, None)?;
            m = m.value(&format!("greedy_acc/all/k{k}"), all.greedy_acc);
            for o in Order::ALL {
                m = m.value(
                    &format!("greedy_acc/{}/k{k}", o.name()),
                    summarise(scores, Select::order(o).infills(k), 0.0, None)?.greedy_acc,
                );
            }
        }
    }
    for &t in &TEMPERATURES {
        let all = summarise(scores, Select::default().infills(0), t, None)?;
        m = m
            .value(&format!("sampled_acc/all/T{t}"), all.p_consistent)
            .value(&format!("p_top1/T{t}"), all.p_top1)
            .value(&format!("entropy/T{t}"), all.entropy);
        for o in Order::ALL {
            let kinds: &[BeliefKind] = if o == Order::Zero {
                &[BeliefKind::State]
            } else {
                &[BeliefKind::FalseBelief, BeliefKind::TrueBelief]
            };
            m = m.value(
                &format!("sampled_acc/{}/T{t}", o.name()),
                summarise(scores, Select::order(o).infills(0), t, None)?.p_consistent,
            );
            for &kd in kinds {
                let s = summarise(scores, Select::order(o).kind(kd).infills(0), t, None)?;
                m = m
                    .value(
                        &format!("p_cons/{}/{}/T{t}", o.name(), kind_key(kd)),
                        s.p_consistent,
                    )
                    .value(
                        &format!("p_incons/{}/{}/T{t}", o.name(), kind_key(kd)),
                        s.p_inconsistent,
                    );
            }
        }
    }
    for &k in &TOP_KS {
        for o in [Order::First, Order::Second] {
            let s = summarise(
                scores,
                Select::order(o).kind(BeliefKind::FalseBelief).infills(0),
                1.0,
                Some(k),
            )?;
            m = m
                .value(&format!("p_cons/{}/fb/T1/top{k}", o.name()), s.p_consistent)
                .value(
                    &format!("p_incons/{}/fb/T1/top{k}", o.name()),
                    s.p_inconsistent,
                );
        }
    }
    Ok(m)
}

/// One seed: the trained model's and the untrained init's rows (and the scores behind them),
/// and the trained run's prefix row.
pub fn run(seed: u64) -> Result<Vec<(SeedMetrics, Vec<Scored>)>> {
    let tok = tokenizer();
    let prompts = eval_prompts(seed, TomConfig::ci(), EVAL_STORIES, &INFILL_LEVELS)?;
    let (model, curve) = train(seed, None)?;
    let trained = score(&model, &tok, Some(tok.eos_id()), &prompts, 64)?;
    let last = curve.last().map(|p| p.1);
    let t = metrics(seed, "trained", &trained, last)?.curve("train_loss", curve.clone());
    let init = score(&untrained(seed)?, &tok, Some(tok.eos_id()), &prompts, 64)?;
    let u = metrics(seed, "untrained", &init, None)?;
    Ok(vec![
        (t, trained),
        (u, init),
        (prefix_metrics(seed, &curve), vec![]),
    ])
}

/// The untrained init's row and scores (cheap: a notebook re-runs it live).
pub fn run_untrained(seed: u64) -> Result<(SeedMetrics, Vec<Scored>)> {
    let tok = tokenizer();
    let prompts = eval_prompts(seed, TomConfig::ci(), EVAL_STORIES, &INFILL_LEVELS)?;
    let init = score(&untrained(seed)?, &tok, Some(tok.eos_id()), &prompts, 64)?;
    Ok((metrics(seed, "untrained", &init, None)?, init))
}

/// Every seed, `threads` at a time, into `datasets/tom-next-token/`.
pub fn write_artefact(threads: usize) -> Result<String> {
    let t0 = std::time::Instant::now();
    let rows = parallel_map(SEEDS.to_vec(), threads, |s| {
        run(s).map(|r| r.into_iter().map(|x| x.0).collect::<Vec<_>>())
    });
    let rows: Vec<SeedMetrics> = rows
        .into_iter()
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect();
    let mut w = ArtefactWriter::new(
        SLUG,
        "cargo run --release --example artefact -- tom-next-token",
        &SEEDS,
    )?;
    w.write_runs(&rows)?;
    let notes = format!("seeds {SEEDS:?}: a trained model ({} steps) and its untrained init each, {threads} seeds at a time, {:.0} s on this machine's CPU", ci_lm_config().steps, t0.elapsed().as_secs_f64());
    w = w.notes(notes.clone());
    w.finish()?;
    Ok(notes)
}

/// Full scale: GPT-2 small (`gpt2` from the hub, or any GPT-2-layout model) with GPT-2's
/// tokenizer on the same generated prompts, no BOS (as the paper's code), prompts over the
/// model's context skipped and counted.
pub fn full_scale_scores(
    model: &Gpt2,
    tok: &crate::tokenizer::Gpt2Tokenizer,
    seed: u64,
    n_stories: usize,
) -> Result<Vec<Scored>> {
    let prompts = eval_prompts(seed, TomConfig::ci(), n_stories, &INFILL_LEVELS)?;
    score(model, tok, None, &prompts, 8)
}
