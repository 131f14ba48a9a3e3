//! GeDi-guided decoding (Krause et al. 2020, arXiv 2009.06367): a base LM and a class-conditional
//! LM (the guide, a "generative discriminator") stepped in lockstep, each on its own KV cache.
//!
//! Followed (not copied) from the official `salesforce/GeDi` repository (BSD-3),
//! `modeling_utils.py::_generate_no_beam_search`, the `gedi_model` branch:
//! - the guide sees `[code] + cond + text` for the desired and the undesired class code, both
//!   rows in **one** batched forward;
//! - it keeps, per class, the running log-likelihood of every token after the code (`logits_r`);
//!   for every candidate next token v, the class logit is
//!   `s · (running + log p(v | code, …)) / (n + 1) + b_c` (length-normalised, times the learned
//!   logit scale s, plus an optional bias), and Bayes' rule over the two classes gives
//!   `log P(desired | x, v)` for the whole vocabulary at once;
//! - next-token scores = `log_softmax(base logits) + ω · log P(desired | …)`;
//! - filtering: tokens sorted by class probability (ascending), cumulative probability of the
//!   *combined* distribution; a token is removed (−10⁴) while that cumulative sum is below
//!   `filter_p` and its class probability is below `target_p`;
//! - then the scores are shifted so their maximum is `rep_penalty_scale` and the repository's
//!   repetition penalty divides the score of every earlier token once *per occurrence*
//!   (the prompt included with `penalize_cond`), re-shifting when the maximum was penalised;
//! - greedy argmax.
//!
//! With ω = 0, `filter_p` = 0 and no repetition penalty the scores are the base LM's
//! log-probabilities, so the output is the base greedy decoder's (tested token for token).

use std::collections::BTreeMap;
use std::time::Instant;

use candle_core::{Device, Tensor};

use crate::hooks::HookSpec;
use crate::model::{ops, ForwardOpts, Gpt2, KvCache};
use crate::{Error, Result};

/// A class-conditional LM used as a generative discriminator.
#[derive(Clone, Debug)]
pub struct GediGuide {
    pub model: Gpt2,
    /// The learned logit scale s (1 at initialisation in the repository).
    pub logit_scale: f64,
    /// Per-class bias on the class logits (`--outbias`; zero when not trained).
    pub bias: [f64; 2],
    /// Control-code token ids: `[desired, undesired]` ("true"/"false" in topic mode).
    pub codes: [u32; 2],
}

/// The settings of one guided decoding.
#[derive(Clone, Debug, PartialEq)]
pub struct GediConfig {
    pub max_new_tokens: usize,
    /// ω, the repository's `disc_weight`.
    pub omega: f64,
    /// 1 − ρ in the paper; 0 turns filtering off.
    pub filter_p: f64,
    /// τ: tokens at least this likely to be in the desired class are never filtered.
    pub target_p: f64,
    /// The repository's repetition penalty (1.0 is off).
    pub repetition_penalty: f64,
    /// Scores are shifted to this maximum before the penalty (`rep_penalty_scale`; 0 switches
    /// to the CTRL/HF rule: positive scores divided, negative multiplied).
    pub rep_penalty_scale: f64,
    /// Penalise repeats of prompt tokens too (`--penalize_cond`).
    pub penalize_cond: bool,
    /// Keep the first prompt's `log P(desired | …)` over the vocabulary at every step.
    pub trace: bool,
}

impl GediConfig {
    /// `scripts/run_generation.sh`: ω = 30, filter_p = target_p = 0.8, repetition penalty 1.2
    /// at scale 10, `--penalize_cond`, greedy.
    pub fn paper(max_new_tokens: usize) -> Self {
        GediConfig {
            max_new_tokens,
            omega: 30.0,
            filter_p: 0.8,
            target_p: 0.8,
            repetition_penalty: 1.2,
            rep_penalty_scale: 10.0,
            penalize_cond: true,
            trace: false,
        }
    }
    /// No guidance at all: ω = 0, no filter, no penalty (the base greedy decoder).
    pub fn unguided(max_new_tokens: usize) -> Self {
        GediConfig {
            max_new_tokens,
            omega: 0.0,
            filter_p: 0.0,
            target_p: 1.0,
            repetition_penalty: 1.0,
            rep_penalty_scale: 10.0,
            penalize_cond: true,
            trace: false,
        }
    }
    pub fn omega(mut self, omega: f64) -> Self {
        self.omega = omega;
        self
    }
    /// Records [`GediOutput::trace`].
    pub fn trace(mut self) -> Self {
        self.trace = true;
        self
    }
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::GuidedDecoding(m));
        if !self.omega.is_finite() || self.omega < 0.0 {
            return bad(format!("ω must be finite and ≥ 0, got {}", self.omega));
        }
        if !(0.0..=1.0).contains(&self.filter_p) {
            return bad(format!("filter_p must lie in [0, 1], got {}", self.filter_p));
        }
        if !(self.target_p > 0.0 && self.target_p <= 1.0) {
            return bad(format!("target_p must lie in (0, 1], got {}", self.target_p));
        }
        if !self.repetition_penalty.is_finite() || self.repetition_penalty <= 0.0 {
            return bad(format!("repetition_penalty must be finite and > 0, got {}", self.repetition_penalty));
        }
        if !self.rep_penalty_scale.is_finite() || self.rep_penalty_scale < 0.0 {
            return bad(format!("rep_penalty_scale must be finite and ≥ 0, got {}", self.rep_penalty_scale));
        }
        if self.max_new_tokens == 0 {
            return Err(Error::EmptyInput("guided decoding needs max_new_tokens > 0".into()));
        }
        Ok(())
    }
}

/// What a guided decoding produced.
#[derive(Clone, Debug)]
pub struct GediOutput {
    /// New tokens per prompt, in the prompts' order.
    pub tokens: Vec<Vec<u32>>,
    /// The guide's log P(desired | prompt + output) after the last token, per prompt.
    pub final_logp_desired: Vec<f64>,
    /// Forward calls of each model (one per step per prompt-length group).
    pub base_forwards: usize,
    pub guide_forwards: usize,
    /// Rows of the base and the guide in their largest forward (the guide's is 2× the base's:
    /// both class codes in one batch).
    pub base_rows: usize,
    pub guide_rows: usize,
    pub seconds: f64,
    /// With [`GediConfig::trace`]: the first prompt's `log P(desired | prefix, v)` for every v,
    /// one row per step.
    pub trace: Vec<Vec<f64>>,
}

/// `log P(desired | x, v)` for every candidate v (Bayes' rule over the two class codes):
/// `lp_pos`/`lp_neg` are the guide's next-token log-probabilities under each code,
/// `run_pos`/`run_neg` the running log-likelihoods of the `n` tokens scored so far.
pub fn class_logp_desired(lp_pos: &[f32], lp_neg: &[f32], run_pos: f64, run_neg: f64, n: usize, scale: f64, bias: [f64; 2]) -> Vec<f64> {
    let len = (n + 1) as f64;
    lp_pos
        .iter()
        .zip(lp_neg)
        .map(|(&p, &q)| {
            let a = scale * (run_pos + p as f64) / len + bias[0];
            let c = scale * (run_neg + q as f64) / len + bias[1];
            log_sigmoid(a - c)
        })
        .collect()
}

/// log σ(d), stable for either sign.
fn log_sigmoid(d: f64) -> f64 {
    if d >= 0.0 {
        -(-d).exp().ln_1p()
    } else {
        d - d.exp().ln_1p()
    }
}

fn log_softmax(x: &[f32]) -> Vec<f64> {
    let m = x.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
    let lse = x.iter().map(|&v| (v as f64 - m).exp()).sum::<f64>().ln() + m;
    x.iter().map(|&v| v as f64 - lse).collect()
}

/// The repository's filter, in place on the combined scores.
fn filter(scores: &mut [f64], logp_d: &[f64], filter_p: f64, target_p: f64) {
    if filter_p <= 0.0 {
        return;
    }
    let m = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let z: f64 = scores.iter().map(|s| (s - m).exp()).sum();
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| logp_d[a].total_cmp(&logp_d[b]));
    let (mut cum, lt) = (0.0, target_p.ln());
    let mut remove = vec![];
    for &i in &idx {
        cum += (scores[i] - m).exp() / z;
        if cum < filter_p && logp_d[i] < lt {
            remove.push(i);
        }
    }
    for i in remove {
        scores[i] -= 10_000.0;
    }
}

/// Shift to `scale` then the repository's repetition penalty, per occurrence in `seen`.
fn penalise(scores: &mut [f64], seen: &[u32], penalty: f64, scale: f64) {
    let shift = |s: &mut [f64]| {
        let m = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        s.iter_mut().for_each(|x| *x = *x - m + scale);
    };
    shift(scores);
    if penalty == 1.0 {
        return;
    }
    for &t in seen {
        let Some(x) = scores.get_mut(t as usize) else { continue };
        if scale > 0.0 {
            let was_max = *x == scale;
            *x /= penalty;
            if was_max {
                shift(scores);
            }
        } else if *x < 0.0 {
            *x *= penalty;
        } else {
            *x /= penalty;
        }
    }
}

fn argmax(v: &[f64]) -> u32 {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[best] {
            best = i;
        }
    }
    best as u32
}

/// Checks that `guide` can steer `base`: same vocabulary, codes in range, distinct.
pub fn check_guide(base: &Gpt2, guide: &GediGuide) -> Result<()> {
    let (vb, vg) = (base.config().vocab_size, guide.model.config().vocab_size);
    if vb != vg {
        return Err(Error::GuideMismatch(format!(
            "the base model's vocabulary has {vb} tokens, the guide's {vg}: both must share one tokenizer"
        )));
    }
    if guide.codes.iter().any(|&c| c as usize >= vg) || guide.codes[0] == guide.codes[1] {
        return Err(Error::GuideMismatch(format!("class codes {:?} must be two distinct ids below {vg}", guide.codes)));
    }
    if !guide.logit_scale.is_finite() || guide.bias.iter().any(|b| !b.is_finite()) {
        return Err(Error::GuideMismatch("the guide's logit scale and bias must be finite".into()));
    }
    Ok(())
}

/// GeDi-guided greedy decoding of every prompt towards the guide's desired code, with `cond`
/// (e.g. a topic code) after the class code in the guide's input. Prompts of equal length are
/// decoded in one batch; each length group is one batch.
pub fn gedi_generate(base: &Gpt2, guide: &GediGuide, prompts: &[Vec<u32>], cond: &[u32], cfg: &GediConfig) -> Result<GediOutput> {
    cfg.validate()?;
    check_guide(base, guide)?;
    if prompts.is_empty() || prompts.iter().any(|p| p.is_empty()) {
        return Err(Error::EmptyInput("guided decoding needs non-empty prompts".into()));
    }
    let v = base.config().vocab_size;
    if let Some(&t) = prompts.iter().flatten().chain(cond).find(|&&t| t as usize >= v) {
        return Err(Error::TokenOutOfRange { id: t, vocab: v });
    }
    let longest = prompts.iter().map(Vec::len).max().unwrap_or(0);
    for (len, n_ctx) in [
        (longest + cfg.max_new_tokens, base.config().n_positions),
        (1 + cond.len() + longest + cfg.max_new_tokens, guide.model.config().n_positions),
    ] {
        if len > n_ctx {
            return Err(Error::PromptTooLong { len, n_ctx });
        }
    }
    let t0 = Instant::now();
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, p) in prompts.iter().enumerate() {
        groups.entry(p.len()).or_default().push(i);
    }
    let mut out = GediOutput {
        tokens: vec![vec![]; prompts.len()],
        final_logp_desired: vec![0.0; prompts.len()],
        base_forwards: 0,
        guide_forwards: 0,
        base_rows: 0,
        guide_rows: 0,
        seconds: 0.0,
        trace: vec![],
    };
    for idx in groups.values() {
        let group: Vec<Vec<u32>> = idx.iter().map(|&i| prompts[i].clone()).collect();
        let rows = decode_group(base, guide, &group, cond, cfg, cfg.trace && idx[0] == 0, &mut out)?;
        for (&i, (toks, lp)) in idx.iter().zip(rows) {
            out.tokens[i] = toks;
            out.final_logp_desired[i] = lp;
        }
    }
    out.seconds = t0.elapsed().as_secs_f64();
    Ok(out)
}

fn decode_group(base: &Gpt2, guide: &GediGuide, prompts: &[Vec<u32>], cond: &[u32], cfg: &GediConfig, trace: bool, out: &mut GediOutput) -> Result<Vec<(Vec<u32>, f64)>> {
    let dev = Device::Cpu;
    let (b, t) = (prompts.len(), prompts[0].len());
    let spec = HookSpec::new();
    let mut kv = KvCache::new(base.config().n_layer);
    let ids = Tensor::from_vec(prompts.concat(), (b, t), &dev)?;
    let mut run = base.run_with(
        &ids,
        &spec,
        ForwardOpts {
            attention_mask: None,
            last_only: true,
        },
        Some(&mut kv),
    )?;
    // guide rows: desired code for every prompt, then the undesired code for every prompt
    let n = 1 + cond.len() + t;
    let mut gids = Vec::with_capacity(2 * b * n);
    for &code in &guide.codes {
        for p in prompts {
            gids.push(code);
            gids.extend_from_slice(cond);
            gids.extend_from_slice(p);
        }
    }
    let mut gkv = KvCache::new(guide.model.config().n_layer);
    let gt = Tensor::from_vec(gids.clone(), (2 * b, n), &dev)?;
    let glp = ops::log_softmax_last(
        &guide
            .model
            .run_with(
                &gt,
                &spec,
                ForwardOpts {
                    attention_mask: None,
                    last_only: false,
                },
                Some(&mut gkv),
            )?
            .logits,
    )?
    .to_vec3::<f32>()?;
    out.base_forwards += 1;
    out.guide_forwards += 1;
    out.base_rows = out.base_rows.max(b);
    out.guide_rows = out.guide_rows.max(2 * b);
    // running log-likelihood of every token after the class code, per row
    let mut run_ll: Vec<f64> = (0..2 * b).map(|r| (0..n - 1).map(|j| glp[r][j][gids[r * n + j + 1] as usize] as f64).sum()).collect();
    let mut next_lp: Vec<Vec<f32>> = glp.into_iter().map(|mut r| r.pop().unwrap_or_default()).collect();
    let mut scored = n - 1;
    let mut seen: Vec<Vec<u32>> = prompts.iter().map(|p| if cfg.penalize_cond { p.clone() } else { vec![] }).collect();
    let mut res: Vec<(Vec<u32>, f64)> = vec![(vec![], 0.0); b];
    for step in 0..cfg.max_new_tokens {
        let logits = run.logits.squeeze(1)?.to_vec2::<f32>()?;
        let mut chosen = Vec::with_capacity(b);
        for (i, row) in logits.iter().enumerate() {
            let lpd = class_logp_desired(&next_lp[i], &next_lp[b + i], run_ll[i], run_ll[b + i], scored, guide.logit_scale, guide.bias);
            if trace && i == 0 {
                out.trace.push(lpd.clone());
            }
            let mut s: Vec<f64> = log_softmax(row).iter().zip(&lpd).map(|(l, d)| l + cfg.omega * d).collect();
            filter(&mut s, &lpd, cfg.filter_p, cfg.target_p);
            penalise(&mut s, &seen[i], cfg.repetition_penalty, cfg.rep_penalty_scale);
            let tok = argmax(&s);
            run_ll[i] += next_lp[i][tok as usize] as f64;
            run_ll[b + i] += next_lp[b + i][tok as usize] as f64;
            res[i].0.push(tok);
            res[i].1 = lpd[tok as usize];
            seen[i].push(tok);
            chosen.push(tok);
        }
        scored += 1;
        if step + 1 == cfg.max_new_tokens {
            break;
        }
        let next = Tensor::from_vec(chosen.clone(), (b, 1), &dev)?;
        run = base.run_with(
            &next,
            &spec,
            ForwardOpts {
                attention_mask: None,
                last_only: true,
            },
            Some(&mut kv),
        )?;
        let gnext = Tensor::from_vec([chosen.clone(), chosen].concat(), (2 * b, 1), &dev)?;
        let gl = guide
            .model
            .run_with(
                &gnext,
                &spec,
                ForwardOpts {
                    attention_mask: None,
                    last_only: true,
                },
                Some(&mut gkv),
            )?
            .logits;
        next_lp = ops::log_softmax_last(&gl.squeeze(1)?)?.to_vec2::<f32>()?;
        out.base_forwards += 1;
        out.guide_forwards += 1;
    }
    Ok(res)
}

impl GediGuide {
    /// log P(desired | cond + text) by the guide as a classifier: each code's length-normalised
    /// log-likelihood of `cond + text` (one full forward per code, no cache), Bayes' rule.
    pub fn class_logp(&self, cond: &[u32], text: &[u32]) -> Result<f64> {
        let seq: Vec<u32> = cond.iter().chain(text).copied().collect();
        if seq.is_empty() {
            return Err(Error::EmptyInput("the guide classifies a non-empty cond + text".into()));
        }
        let ll = |code: u32| -> Result<f64> { Ok(self.model.score_continuation(&[code], &seq)?.iter().map(|&x| x as f64).sum::<f64>() / seq.len() as f64) };
        let a = self.logit_scale * ll(self.codes[0])? + self.bias[0];
        let c = self.logit_scale * ll(self.codes[1])? + self.bias[1];
        Ok(log_sigmoid(a - c))
    }

    /// The "discriminator re-scores every candidate" baseline: `log P(desired | prefix, v)` for
    /// every v in the vocabulary by [`GediGuide::class_logp`] on `prefix + [v]`: 2·V full forwards
    /// where GeDi needs one batched incremental forward. `prefix` is the prompt plus the tokens
    /// generated so far.
    pub fn rescore_all(&self, cond: &[u32], prefix: &[u32]) -> Result<Vec<f64>> {
        let v = self.model.config().vocab_size as u32;
        (0..v).map(|tok| self.class_logp(cond, &[prefix, &[tok]].concat())).collect()
    }
}
