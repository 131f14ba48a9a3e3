//! The analyses of the paper on any model with an attention SAE: induction heads and the
//! induction feature (decoder-norm attribution to heads, DFA by source position), and IOI
//! feature ablation at S2. The ci pipeline and the full path (GPT-2 small with the released
//! SAEs) call the same functions.

use std::sync::Arc;

use candle_core::{DType, Device, Tensor};
use rand::{rngs::StdRng, Rng, SeedableRng};

use super::{Setup, BOS};
use crate::data::ioi::{ioi_prompts, IoiPrompt};
use crate::hooks::{HookPoint, HookSpec, Intervention};
use crate::interp::distribution::cross_entropy_per_token;
use crate::interp::logit_diff;
use crate::interp::sae::{collect_activations, decoder_head_fractions, dfa_by_source, Sae};
use crate::model::Gpt2;
use crate::papers::SeedMetrics;
use crate::{Error, Result};

/// The induction score from which a head counts as an induction head (ours: uniform attention
/// over the ≤ 31 keys of the ci probes scores ≈ 0.06, a head that only attends to the token
/// after the previous occurrence scores 1).
pub const INDUCTION_HEAD_SCORE: f64 = 0.4;

/// Repeated-token probes: `batch` rows `BOS seg seg`, seg `len` tokens in `[lo, hi)`, seeded.
pub fn repeated_tokens(batch: usize, len: usize, lo: u32, hi: u32, bos: u32, seed: u64) -> Result<Tensor> {
    if len < 2 || batch == 0 || hi <= lo {
        return Err(Error::EmptyInput(format!("repeated-token probes need len ≥ 2, batch ≥ 1, a token range; got {len}, {batch}, [{lo}, {hi})")));
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut ids = Vec::with_capacity(batch * (2 * len + 1));
    for _ in 0..batch {
        let seg: Vec<u32> = (0..len).map(|_| rng.random_range(lo..hi)).collect();
        ids.push(bos);
        ids.extend_from_slice(&seg);
        ids.extend_from_slice(&seg);
    }
    Ok(Tensor::from_vec(ids, (batch, 2 * len + 1), &Device::Cpu)?)
}

/// What the induction analysis found on one model and SAE.
#[derive(Clone, Debug)]
pub struct InductionAnalysis {
    /// Induction score of every head of the SAE's layer: mean attention from each position q of
    /// the second copy to q − len + 1 (the token after q's previous occurrence).
    pub scores: Vec<f64>,
    pub top_head: usize,
    /// Mean next-token loss on the first copy's tokens and on the second copy's.
    pub loss_first: f64,
    pub loss_second: f64,
    /// The induction feature: the largest mean activation on the second copy minus the first.
    pub feature: usize,
    pub act_second: f64,
    pub act_first: f64,
    /// Its decoder-norm fractions over the layer's heads.
    pub head_fractions: Vec<f64>,
    pub feature_top_head: usize,
    /// Over second-copy positions where the feature fires: the fraction whose largest
    /// DFA-by-source term is at q − len + 1.
    pub dfa_peak_fraction: f64,
    /// Mean over those positions of the DFA share at q − len + 1 (of the positive terms' sum).
    pub dfa_peak_share: f64,
    /// Share of live features whose top head by decoder norm is `top_head` (a random feature's
    /// chance of "matching").
    pub live_on_top_head: f64,
}

impl InductionAnalysis {
    /// The row the artefact stores (seed and group set by the caller).
    pub fn metrics(&self) -> SeedMetrics {
        SeedMetrics::new(0, "")
            .value("induction_score_top", self.scores[self.top_head])
            .value("induction_head", self.top_head as f64)
            .value("repeat_loss_first", self.loss_first)
            .value("repeat_loss_second", self.loss_second)
            .value("feature", self.feature as f64)
            .value("feature_act_second", self.act_second)
            .value("feature_act_first", self.act_first)
            .value("feature_top_head", self.feature_top_head as f64)
            .value("feature_fraction_on_induction_head", self.head_fractions[self.top_head])
            .value("feature_top_head_share", self.head_fractions[self.feature_top_head])
            .value("feature_top_head_score", self.scores[self.feature_top_head])
            .value("n_induction_heads", self.scores.iter().filter(|&&x| x >= INDUCTION_HEAD_SCORE).count() as f64)
            .value("feature_fraction_on_induction_heads", self.scores.iter().zip(&self.head_fractions).filter(|(s, _)| **s >= INDUCTION_HEAD_SCORE).map(|(_, f)| f).sum::<f64>())
            .value("dfa_peak_fraction", self.dfa_peak_fraction)
            .value("dfa_peak_share", self.dfa_peak_share)
            .value("live_on_induction_head", self.live_on_top_head)
    }
}

fn argmax(v: &[f64]) -> usize {
    v.iter().enumerate().fold((0, f64::NEG_INFINITY), |b, (i, &x)| if x > b.1 { (i, x) } else { b }).0
}

/// The induction analysis of `sae` (on `blocks.{l}.attn.hook_z`) on repeated-token probes.
pub fn induction_analysis_on(model: &Gpt2, sae: &Sae, ids: &Tensor, len: usize) -> Result<InductionAnalysis> {
    let layer = match sae.cfg.hook_point()? {
        HookPoint::Z(l) => l,
        p => return Err(Error::Unsupported(format!("the induction analysis reads a hook_z SAE, not {p}"))),
    };
    let (b, t) = ids.dims2()?;
    if t != 2 * len + 1 {
        return Err(Error::Shape(format!("probes of {t} tokens, expected BOS + 2 × {len}")));
    }
    let h = model.config().n_head;
    let spec = HookSpec::new().capture(HookPoint::Pattern(layer)).capture(HookPoint::V(layer)).capture(HookPoint::Z(layer));
    let run = model.run(ids, &spec)?;
    let pattern = run.cache.get(&HookPoint::Pattern(layer).to_string())?.to_dtype(DType::F32)?; // (B, H, T, T)
    let pv: Vec<f32> = pattern.flatten_all()?.to_vec1()?;
    let second = len + 1..t; // positions of the second copy
    let prev = |q: usize| q - len + 1; // the token after q's earlier occurrence
    let scores: Vec<f64> = (0..h)
        .map(|hd| {
            let mut s = 0.0;
            for bi in 0..b {
                for q in second.clone() {
                    s += pv[((bi * h + hd) * t + q) * t + prev(q)] as f64;
                }
            }
            s / (b * len) as f64
        })
        .collect();
    let top_head = argmax(&scores);
    // next-token loss on each copy: predicting tokens 2..=len (first copy) and len+2..t (second)
    let ce: Vec<Vec<f32>> = cross_entropy_per_token(&run.logits.narrow(1, 0, t - 1)?.contiguous()?, &ids.narrow(1, 1, t - 1)?.contiguous()?)?.to_dtype(DType::F32)?.to_vec2()?;
    let mean_over = |r: std::ops::Range<usize>| ce.iter().map(|row| r.clone().map(|i| row[i] as f64).sum::<f64>()).sum::<f64>() / (b * r.len()) as f64;
    let (loss_first, loss_second) = (mean_over(1..len), mean_over(len + 1..t - 1));
    // the induction feature
    let z = run.cache.get(&HookPoint::Z(layer).to_string())?;
    let f = sae.features(&z)?.to_dtype(DType::F32)?; // (B, T, d_sae)
    let a2 = f.narrow(1, len + 1, len)?.mean(1)?.mean(0)?.to_vec1::<f32>()?;
    let a1 = f.narrow(1, 1, len)?.mean(1)?.mean(0)?.to_vec1::<f32>()?;
    let diff: Vec<f64> = a2.iter().zip(&a1).map(|(x, y)| (*x - *y) as f64).collect();
    let feature = argmax(&diff);
    let fr: Vec<Vec<f32>> = decoder_head_fractions(sae, h)?.to_vec2()?;
    let head_fractions: Vec<f64> = fr[feature].iter().map(|x| *x as f64).collect();
    let feature_top_head = argmax(&head_fractions);
    // DFA by source position at second-copy positions where the feature fires
    let v = run.cache.get(&HookPoint::V(layer).to_string())?;
    let dfa: Vec<f32> = dfa_by_source(sae, &v, &pattern, feature)?.flatten_all()?.to_vec1()?; // (B, T, T)
    let fv: Vec<f32> = f.narrow(2, feature, 1)?.flatten_all()?.to_vec1()?; // (B, T)
    let (mut hits, mut n, mut share) = (0usize, 0usize, 0.0);
    for bi in 0..b {
        for q in second.clone() {
            if fv[bi * t + q] <= 0.0 {
                continue;
            }
            let row = &dfa[(bi * t + q) * t..(bi * t + q + 1) * t];
            let best = (0..=q).max_by(|&i, &j| row[i].total_cmp(&row[j])).unwrap_or(0);
            hits += (best == prev(q)) as usize;
            let pos: f64 = row[..=q].iter().filter(|x| **x > 0.0).map(|x| *x as f64).sum();
            share += if pos > 0.0 { row[prev(q)].max(0.0) as f64 / pos } else { 0.0 };
            n += 1;
        }
    }
    // live features (fire on the probes) whose top head is the induction head
    let fired: Vec<f32> = f.gt(0.0)?.to_dtype(DType::F32)?.sum(1)?.sum(0)?.to_vec1()?;
    let live: Vec<usize> = (0..fired.len()).filter(|&j| fired[j] > 0.0).collect();
    let on_top = live.iter().filter(|&&j| argmax(&fr[j].iter().map(|x| *x as f64).collect::<Vec<_>>()) == top_head).count();
    Ok(InductionAnalysis {
        scores,
        top_head,
        loss_first,
        loss_second,
        feature,
        act_second: a2[feature] as f64,
        act_first: a1[feature] as f64,
        head_fractions,
        feature_top_head,
        dfa_peak_fraction: if n == 0 { 0.0 } else { hits as f64 / n as f64 },
        dfa_peak_share: if n == 0 { 0.0 } else { share / n as f64 },
        live_on_top_head: if live.is_empty() { 0.0 } else { on_top as f64 / live.len() as f64 },
    })
}

/// [`induction_analysis_on`] with the ci probes (random tokens, BOS first), seeded.
pub fn induction_analysis(model: &Gpt2, sae: &Sae, setup: &Setup, seed: u64) -> Result<InductionAnalysis> {
    let ids = repeated_tokens(setup.probe_batch, setup.probe_len, setup.rand_lo, setup.vocab_size as u32, BOS, seed)?;
    induction_analysis_on(model, sae, &ids, setup.probe_len)
}

/// Zero-ablates `features` at sequence position `pos` only (error term kept), for inputs of
/// `t` positions: the paper's feature ablation at S2.
pub fn ablate_features_at(sae: &Sae, features: &[usize], pos: usize, t: usize) -> Result<Intervention> {
    if pos >= t {
        return Err(Error::Shape(format!("position {pos} of {t}")));
    }
    let d = sae.cfg.d_sae;
    let mut m = vec![1f32; t * d];
    for &f in features {
        if f >= d {
            return Err(Error::Shape(format!("feature {f} out of range (d_sae = {d})")));
        }
        m[pos * d + f] = 0.0;
    }
    let mask = Tensor::from_vec(m, (1, t, d), &Device::Cpu)?;
    Ok(sae.splice_with(
        true,
        Some(Arc::new(move |f: &Tensor| {
            let (n, d) = f.dims2()?;
            f.reshape((n / t, t, d))?.broadcast_mul(&mask)?.reshape((n, d))
        })),
    ))
}

/// IOI prompts in ids with the answer ids: (ids (B, T), io, s, s2 position, end position).
pub type IoiBatch = (Tensor, Vec<u32>, Vec<u32>, usize, usize);

/// Builds an [`IoiBatch`] from prompts with `encode` (which must keep word positions; `shift`
/// is the number of tokens before the first word, e.g. 1 for a BOS).
pub fn ioi_batch(prompts: &[IoiPrompt], shift: usize, encode: impl Fn(&IoiPrompt) -> Result<(Vec<u32>, u32, u32)>) -> Result<IoiBatch> {
    let first = prompts.first().ok_or_else(|| Error::EmptyInput("no IOI prompts".into()))?;
    let (s2, end) = (first.s2_pos + shift, first.end_pos + shift);
    let (mut ids, mut io, mut s) = (vec![], vec![], vec![]);
    let mut t = 0;
    for p in prompts {
        if p.s2_pos + shift != s2 || p.end_pos + shift != end {
            return Err(Error::Shape("IOI prompts of different layouts in one batch".into()));
        }
        let (x, a, b) = encode(p)?;
        t = x.len();
        ids.extend(x);
        io.push(a);
        s.push(b);
    }
    Ok((Tensor::from_vec(ids, (prompts.len(), t), &Device::Cpu)?, io, s, s2, end))
}

/// Mean IO − S logit difference at the end position and the share of prompts where it is > 0.
pub fn ioi_logit_diff(model: &Gpt2, batch: &IoiBatch, spec: &HookSpec) -> Result<(f64, f64)> {
    let (ids, io, s, _, end) = batch;
    let ld = logit_diff(&model.run(ids, spec)?.logits, *end, io, s)?;
    let n = ld.len() as f64;
    Ok((ld.iter().map(|x| *x as f64).sum::<f64>() / n, ld.iter().filter(|x| **x > 0.0).count() as f64 / n))
}

/// IOI feature ablation: the `k` features of `sae` with the largest mean activation at S2 are
/// zero-ablated there (error term on); also `k` random live features (the control) and the
/// whole hook at S2 (zero-ablation). Returns the logit differences and the features.
pub fn ioi_ablation(model: &Gpt2, sae: &Sae, batch: &IoiBatch, k: usize, seed: u64) -> Result<(SeedMetrics, Vec<usize>)> {
    let (ids, _, _, s2, _) = batch;
    let point = sae.cfg.hook_point()?;
    let t = ids.dim(1)?;
    let run = model.run(ids, &HookSpec::new().capture(point))?;
    let f = sae.features(run.cache.get(&point.to_string())?)?.narrow(1, *s2, 1)?.squeeze(1)?; // (B, d_sae)
    let mean: Vec<f32> = f.mean(0)?.to_vec1()?;
    let mut order: Vec<usize> = (0..mean.len()).collect();
    order.sort_by(|&a, &b| mean[b].total_cmp(&mean[a]));
    let top: Vec<usize> = order.iter().copied().take(k).collect();
    let live: Vec<usize> = order.iter().copied().skip(k).filter(|&j| mean[j] > 0.0).collect();
    let mut rng = StdRng::seed_from_u64(seed);
    let random: Vec<usize> = (0..k.min(live.len())).map(|_| live[rng.random_range(0..live.len())]).collect();
    let (clean, acc) = ioi_logit_diff(model, batch, &HookSpec::new())?;
    let (ablated, _) = ioi_logit_diff(model, batch, &HookSpec::new().intervene(point, ablate_features_at(sae, &top, *s2, t)?))?;
    let (ctrl, _) = ioi_logit_diff(model, batch, &HookSpec::new().intervene(point, ablate_features_at(sae, &random, *s2, t)?))?;
    let all: Vec<usize> = (0..sae.cfg.d_sae).collect();
    let (zero, _) = ioi_logit_diff(model, batch, &HookSpec::new().intervene(point, ablate_features_at(sae, &all, *s2, t)?))?;
    let m = SeedMetrics::new(0, "")
        .value("logit_diff", clean)
        .value("accuracy", acc)
        .value("logit_diff_top_ablated", ablated)
        .value("logit_diff_random_ablated", ctrl)
        .value("logit_diff_all_features_ablated", zero)
        .value("top_mean_act", top.iter().map(|&j| mean[j] as f64).sum::<f64>() / k.max(1) as f64);
    Ok((m, top))
}

/// The ci IOI analysis: prompts in the ci vocabulary, an SAE on layer 0's hook_z (chosen L1)
/// trained on the mixture, [`ioi_ablation`] at S2.
pub fn ioi_analysis(model: &Gpt2, setup: &Setup, seed: u64) -> Result<SeedMetrics> {
    let vocab = setup.ioi_vocab()?;
    let prompts = ioi_prompts(setup.ioi_prompts, 30_000 + seed);
    let batch = ioi_batch(&prompts, 1, |p| {
        let mut x = vec![BOS];
        x.extend(vocab.ids(p)?);
        Ok((x, vocab.id(&p.io)?, vocab.id(&p.s)?))
    })?;
    let acts = collect_activations(model, &setup.sae_config(0)?, &super::mixture_rows(setup, setup.act_rows, seed ^ 0xAC75)?)?;
    let (sae, _, _) = super::train_attn_sae(setup, 0, &acts, setup.chosen_l1, seed)?;
    Ok(ioi_ablation(model, &sae, &batch, setup.ioi_top_k, seed)?.0)
}
