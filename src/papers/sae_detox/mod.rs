//! Breaking Bad Tokens: Detoxification of LLMs Using Sparse Autoencoders (Goyal et al., EMNLP
//! 2025, arXiv 2505.14536), at ci scale on the two-register world
//! ([`crate::data::toxic_register`]).
//!
//! One seed: a tiny GPT-2 trained on the world; residual-stream SAEs at the middle of the
//! network (`blocks.1.hook_resid_pre`, the output of block 0 before block 1 reads it, as the
//! paper's figure places the intervention) at two widths; the feature whose activation
//! correlates most with the toxic register (point-biserial over labelled positions) selected in
//! each; then continuations sampled from toxic and neutral prompts with `−α·d_f` added at every
//! position, at three tiers α = {2, 5, 10} × the feature's typical activation (the mean of its
//! non-zero activations on toxic positions). Compared at the
//! same α (equal norm): the mean-difference direction of the raw activations (the non-SAE
//! baseline), the wide SAE's top feature, the wide SAE's union of its top feature per toxic
//! flavour, and two controls: a random unit direction and a random live feature.
//!
//! Our choices (the paper's text beyond its abstract was not read, its code at
//! github.com/CrowdDynamicsLab/SAE-Detoxification was not reachable): the layer, the selection
//! rule, the tier multipliers, additive steering at every position, the lexicon scorer, the
//! counting task as benchmark proxy, every size.

pub mod eval;
pub mod full;

use std::time::Instant;

use candle_core::{Device, Tensor};
use rand::{rngs::StdRng, Rng, SeedableRng};

pub use eval::{evaluate, perplexity_under, task_accuracy, ArmEval, EvalSet, Scorer};

use super::SeedMetrics;
use crate::data::toxic_register::{Register, ToxicRegisterWorld};
use crate::generate::GenerateConfig;
use crate::hooks::{HookPoint, HookSpec};
use crate::interp::sae::{collect_activations, decoder_direction, feature_label_scores, mean_difference, random_direction, sae_metrics, steer_spec, train_sae, typical_activation, unit, FeatureScore, Sae, SaeConfig, SaeMetrics, SaeTrainConfig, SteeringTiers};
use crate::model::Gpt2;
use crate::train::{train_tiny_lm, TinyLmConfig};
use crate::{Error, Result};

pub const SLUG: &str = "sae-detox";
pub const SEEDS: [u64; 3] = [0, 1, 2];
/// The three tiers (ours): α = multiplier × the selected feature's typical activation.
pub const TIER_NAMES: [&str; 3] = ["low", "mid", "high"];
pub const TIER_MULTIPLIERS: [f64; 3] = [2.0, 5.0, 10.0];
/// SAE widths, as multiples of d_model (narrow, wide).
pub const WIDTHS: [usize; 2] = [4, 16];
/// The arms steered at every tier.
pub const ARMS: [&str; 6] = ["SAE 4×", "SAE 16×", "SAE 16× union", "mean difference", "random direction", "random feature"];
/// The unsteered arm's name.
pub const NONE: &str = "none";

/// The ci set-up.
#[derive(Clone, Debug)]
pub struct CiSettings {
    pub docs: usize,
    pub doc_len: usize,
    pub lm: TinyLmConfig,
    /// The SAEs read `blocks.{layer}.hook_resid_pre`.
    pub layer: usize,
    /// Training documents whose activations train the SAEs.
    pub sae_docs: usize,
    pub sae: SaeTrainConfig,
    /// Labelled documents per register for feature selection.
    pub label_docs: usize,
    /// Prompts per register (toxic prompts: half flavour A, half B).
    pub n_prompts: usize,
    pub prompt_len: usize,
    pub new_tokens: usize,
    pub temperature: f64,
    pub n_heldout: usize,
    pub n_task: usize,
    /// α of each tier as a multiple of the narrow top feature's typical activation.
    pub tier_multipliers: Vec<f64>,
}

impl Default for CiSettings {
    fn default() -> Self {
        CiSettings {
            docs: 3000,
            doc_len: 32,
            lm: TinyLmConfig { n_embd: 64, n_layer: 2, n_head: 4, ctx: 32, steps: 500, batch_size: 32, lr: 3e-3 },
            layer: 1,
            sae_docs: 600,
            sae: SaeTrainConfig { steps: 1500, batch_size: 128, lr: 2e-3, l1_coefficient: 1.0, ..Default::default() },
            label_docs: 80,
            n_prompts: 48,
            prompt_len: 10,
            new_tokens: 16,
            temperature: 1.0,
            n_heldout: 48,
            n_task: 64,
            tier_multipliers: TIER_MULTIPLIERS.to_vec(),
        }
    }
}

impl CiSettings {
    pub fn hook(&self) -> Result<HookPoint> {
        format!("blocks.{}.hook_resid_pre", self.layer).parse()
    }
}

/// An SAE and what selection found in it.
#[derive(Clone)]
pub struct SaeSide {
    pub width: usize,
    pub sae: Sae,
    pub metrics: SaeMetrics,
    /// Features by point-biserial correlation with the toxic register, best first (top 8).
    pub top: Vec<FeatureScore>,
    /// The top feature's typical activation (mean where it fires on toxic positions).
    pub typical: f64,
    /// The top feature's flavour selectivity |m_A − m_B| / (m_A + m_B) (0: fires alike on both
    /// toxic flavours; 1: on one only).
    pub selectivity: f64,
    /// The best feature for flavour A and for flavour B (each against the neutral register).
    pub flavour_top: [usize; 2],
}

/// One seed's run.
#[derive(Clone)]
pub struct DetoxRun {
    pub seed: u64,
    pub model: Gpt2,
    pub lm_loss: f64,
    pub hook: HookPoint,
    pub narrow: SaeSide,
    pub wide: SaeSide,
    pub tiers: SteeringTiers,
    /// Cosine of the mean-difference direction with the narrow top feature's decoder row.
    pub meandiff_cos: f64,
    /// The random live feature of the narrow SAE steered as a control.
    pub random_feature: usize,
    pub eval_set: EvalSet,
    /// The unsteered model.
    pub none: ArmEval,
    /// Per arm of [`ARMS`], one evaluation per tier.
    pub arms: Vec<(String, Vec<ArmEval>)>,
    /// Fraction of prompts whose continuation under the hook at α = 0 equals the unhooked one.
    pub alpha0_exact: f64,
    /// Max |(x̂ + (x − x̂)) − x| at the hook, and max |Δlogit| with the error-term splice.
    pub splice_act_err: f64,
    pub splice_logit_err: f64,
    pub seconds: f64,
}

impl DetoxRun {
    pub fn arm(&self, name: &str) -> Result<&[ArmEval]> {
        self.arms.iter().find(|a| a.0 == name).map(|a| a.1.as_slice()).ok_or_else(|| Error::Msg(format!("no arm `{name}` (arms: {ARMS:?})")))
    }
    /// Did the planted toxic feature split? The wide SAE's top feature is flavour-specific
    /// (selectivity > 0.5) while the narrow one's is not, and the wide SAE's best features for
    /// the two flavours differ.
    pub fn split(&self) -> bool {
        self.wide.selectivity > 0.5 && self.narrow.selectivity <= 0.5 && self.wide.flavour_top[0] != self.wide.flavour_top[1]
    }
}

/// Rows of activations at `point` for `docs`, one batch of equal-length documents.
fn acts_of(model: &Gpt2, cfg: &SaeConfig, docs: &[Vec<u32>]) -> Result<Tensor> {
    let batches: Vec<Tensor> = docs.chunks(64).map(|c| Tensor::new(c.to_vec(), &Device::Cpu).map_err(Error::from)).collect::<Result<_>>()?;
    collect_activations(model, cfg, &batches)
}

/// Per-flavour mean activations and the best feature per flavour.
fn flavour_stats(f: &Tensor, reg: &[Register]) -> Result<(Vec<f64>, Vec<f64>, [usize; 2])> {
    let rows: Vec<Vec<f32>> = f.to_vec2()?;
    let d = rows.first().map(Vec::len).unwrap_or(0);
    let mean_of = |want: Register| -> Vec<f64> {
        let mut s = vec![0f64; d];
        let mut n = 0usize;
        for (r, &g) in rows.iter().zip(reg) {
            if g == want {
                n += 1;
                for (j, x) in r.iter().enumerate() {
                    s[j] += *x as f64;
                }
            }
        }
        s.iter().map(|x| x / n.max(1) as f64).collect()
    };
    let (ma, mb) = (mean_of(Register::ToxicA), mean_of(Register::ToxicB));
    let mut best = [0usize; 2];
    for (k, fl) in [Register::ToxicA, Register::ToxicB].into_iter().enumerate() {
        let idx: Vec<u32> = reg.iter().enumerate().filter(|(_, &g)| g == fl || g == Register::Neutral).map(|(i, _)| i as u32).collect();
        let lab: Vec<bool> = idx.iter().map(|&i| reg[i as usize] == fl).collect();
        let sub = f.index_select(&Tensor::new(idx.as_slice(), &Device::Cpu)?, 0)?;
        best[k] = feature_label_scores(&sub, &lab)?[0].feature;
    }
    Ok((ma, mb, best))
}

fn sae_side(width: usize, sae: Sae, train_acts: &Tensor, lab_acts: &Tensor, labels: &[bool], reg: &[Register]) -> Result<SaeSide> {
    let metrics = sae_metrics(&sae, train_acts)?;
    let f = sae.encode(lab_acts)?;
    let scores = feature_label_scores(&f, labels)?;
    let top_f = scores[0].feature;
    let typical = typical_activation(&f, labels, top_f)?;
    let (ma, mb, flavour_top) = flavour_stats(&f, reg)?;
    let selectivity = (ma[top_f] - mb[top_f]).abs() / (ma[top_f] + mb[top_f]).max(1e-12);
    Ok(SaeSide { width, sae, metrics, top: scores.into_iter().take(8).collect(), typical, selectivity, flavour_top })
}

/// The prompts, held-out text and task of one seed.
pub fn eval_set(world: &ToxicRegisterWorld, s: &CiSettings, seed: u64) -> Result<EvalSet> {
    let half = s.n_prompts / 2;
    let mut toxic = world.docs_of(Register::ToxicA, half, s.prompt_len, seed ^ 0xA11);
    toxic.extend(world.docs_of(Register::ToxicB, s.n_prompts - half, s.prompt_len, seed ^ 0xB22));
    Ok(EvalSet {
        toxic_prompts: toxic,
        neutral_prompts: world.docs_of(Register::Neutral, s.n_prompts, s.prompt_len, seed ^ 0xC33),
        heldout: world.docs_of(Register::Neutral, s.n_heldout, s.doc_len, seed ^ 0xD44),
        task: world.counting_items(s.n_task, seed ^ 0xE55)?,
        generation: GenerateConfig::sample(s.new_tokens, s.temperature, seed ^ 0xF66),
    })
}

/// Trains the LM and both SAEs, selects features and evaluates every arm at every tier.
pub fn run_seed(s: &CiSettings, seed: u64) -> Result<DetoxRun> {
    let t0 = Instant::now();
    let world = ToxicRegisterWorld::default();
    let docs = world.corpus(s.docs, s.doc_len, seed)?;
    let plain: Vec<Vec<u32>> = docs.iter().map(|d| d.tokens.clone()).collect();
    let (model, lm_loss) = train_tiny_lm(&plain, world.vocab_size(), world.eos(), &s.lm, seed)?;
    let hook = s.hook()?;
    let d = model.cfg.n_embd;
    let base_cfg = SaeConfig::new(&hook.to_string(), d, d)?;
    let train_acts = acts_of(&model, &base_cfg, &plain[..s.sae_docs.min(plain.len())])?;
    // labelled positions: fresh documents of each register, every position labelled by register
    let mut lab_docs = vec![];
    let mut reg = vec![];
    for (k, r) in [Register::Neutral, Register::ToxicA, Register::ToxicB].into_iter().enumerate() {
        let n = if r == Register::Neutral { 2 * s.label_docs } else { s.label_docs };
        for dd in world.docs_of(r, n, s.doc_len, seed ^ (0x1AB + k as u64)) {
            lab_docs.push(dd);
            reg.extend(std::iter::repeat_n(r, s.doc_len));
        }
    }
    let lab_acts = acts_of(&model, &base_cfg, &lab_docs)?;
    let labels: Vec<bool> = reg.iter().map(|r| r.is_toxic()).collect();
    let mut sides = vec![];
    for (i, &w) in WIDTHS.iter().enumerate() {
        let cfg = SaeConfig::new(&hook.to_string(), d, w * d)?;
        let mut sae = Sae::new(cfg, Some(1.0), seed * 100 + i as u64)?;
        train_sae(&mut sae, &train_acts, &SaeTrainConfig { seed: seed * 100 + i as u64, ..s.sae.clone() }, None)?;
        sides.push(sae_side(w, sae, &train_acts, &lab_acts, &labels, &reg)?);
    }
    let wide = sides.pop().expect("two widths");
    let narrow = sides.pop().expect("two widths");
    let tiers = SteeringTiers::new(&TIER_NAMES, &s.tier_multipliers, narrow.typical)?;
    let md = unit(&mean_difference(&lab_acts, &labels)?)?;
    let narrow_dir = decoder_direction(&narrow.sae, &[narrow.top[0].feature])?;
    let meandiff_cos = crate::interp::sae::cosine(&md, &narrow_dir)?;
    // a random live feature of the narrow SAE outside its top 8
    let fired: Vec<f32> = narrow.sae.encode(&lab_acts)?.gt(0.0)?.to_dtype(candle_core::DType::F32)?.sum(0)?.to_vec1()?;
    let pool: Vec<usize> = (0..fired.len()).filter(|&j| fired[j] > 0.0 && !narrow.top.iter().any(|t| t.feature == j)).collect();
    if pool.is_empty() {
        return Err(Error::Msg("no live feature outside the top 8 to serve as the random-feature control".into()));
    }
    let random_feature = pool[StdRng::seed_from_u64(seed ^ 0x5EED).random_range(0..pool.len())];
    let mut union = wide.flavour_top.to_vec();
    union.dedup();
    let dirs: Vec<(String, Tensor)> = vec![
        (ARMS[0].into(), narrow_dir.clone()),
        (ARMS[1].into(), decoder_direction(&wide.sae, &[wide.top[0].feature])?),
        (ARMS[2].into(), decoder_direction(&wide.sae, &union)?),
        (ARMS[3].into(), md),
        (ARMS[4].into(), random_direction(d, seed ^ 0xD1CE)?),
        (ARMS[5].into(), decoder_direction(&narrow.sae, &[random_feature])?),
    ];
    let set = eval_set(&world, s, seed)?;
    let scorer_w = world.scorer();
    let scorer = move |t: &[u32]| -> Result<f64> { Ok(scorer_w.count_tokens(t) as f64 / t.len().max(1) as f64) };
    let none = evaluate(&model, &set, &HookSpec::new(), &scorer)?;
    let mut arms = vec![];
    for (name, dir) in &dirs {
        let evals = tiers.alphas().iter().map(|&a| evaluate(&model, &set, &steer_spec(hook, dir, a)?, &scorer)).collect::<Result<Vec<_>>>()?;
        arms.push((name.clone(), evals));
    }
    // checks: α = 0 under the hook is the unhooked generation; the error-term splice is exact
    let plainspec = HookSpec::new();
    let mut exact = 0usize;
    let prompts: Vec<Vec<u32>> = set.toxic_prompts.iter().chain(&set.neutral_prompts).cloned().collect();
    let a = model.generate_batch(&prompts, &set.generation, &plainspec, None)?;
    let b = model.generate_batch(&prompts, &set.generation, &steer_spec(hook, &narrow_dir, 0.0)?, None)?;
    exact += a.iter().zip(&b).filter(|(x, y)| x == y).count();
    let (splice_act_err, splice_logit_err) = splice_errors(&model, &narrow.sae, &lab_docs[..8.min(lab_docs.len())])?;
    Ok(DetoxRun {
        seed,
        model,
        lm_loss,
        hook,
        narrow,
        wide,
        tiers,
        meandiff_cos,
        random_feature,
        eval_set: set,
        none,
        arms,
        alpha0_exact: exact as f64 / prompts.len() as f64,
        splice_act_err,
        splice_logit_err,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// (max |x̂ + (x − x̂) − x| at the SAE's hook, max |Δlogit| of the error-term splice) on `docs`.
pub fn splice_errors(model: &Gpt2, sae: &Sae, docs: &[Vec<u32>]) -> Result<(f64, f64)> {
    if docs.is_empty() {
        return Err(Error::EmptyInput("splice check on no documents".into()));
    }
    let point = sae.cfg.hook_point()?;
    let ids = Tensor::new(docs.to_vec(), &Device::Cpu)?;
    let run = model.run(&ids, &HookSpec::new().capture(point))?;
    let x = run.cache.get(&point.to_string())?.clone();
    let spliced = sae.splice(true).apply(point, &x)?;
    let act = (&spliced - &x)?.abs()?.max_all()?.to_scalar::<f32>()? as f64;
    let logits = model.run(&ids, &HookSpec::new().intervene(point, sae.splice(true)))?.logits;
    let lg = (&logits - &run.logits)?.abs()?.max_all()?.to_scalar::<f32>()? as f64;
    Ok((act, lg))
}

pub(crate) fn arm_values(m: SeedMetrics, key: &str, e: &ArmEval) -> SeedMetrics {
    m.value(&format!("{key}:toxic_rate"), e.toxic_rate)
        .value(&format!("{key}:neutral_rate"), e.neutral_rate)
        .value(&format!("{key}:toxic_any"), e.toxic_any)
        .value(&format!("{key}:ppl"), e.ppl)
        .value(&format!("{key}:task_acc"), e.task_acc)
}

/// The run's metrics (group `detox`): per arm and tier `<arm>:<tier>:<measure>`, the unsteered
/// `none:<measure>`, the SAEs' quality and selection, the exactness checks.
pub fn metrics(r: &DetoxRun) -> SeedMetrics {
    let mut m = SeedMetrics::new(r.seed, "detox")
        .value("lm_loss", r.lm_loss)
        .value("alpha0_exact", r.alpha0_exact)
        .value("splice_act_err", r.splice_act_err)
        .value("splice_logit_err", r.splice_logit_err)
        .value("typical", r.tiers.typical)
        .value("meandiff_cos", r.meandiff_cos)
        .value("split", if r.split() { 1.0 } else { 0.0 });
    for side in [&r.narrow, &r.wide] {
        let k = format!("sae{}x", side.width);
        m = m
            .value(&format!("{k}:l0"), side.metrics.l0)
            .value(&format!("{k}:explained_variance"), side.metrics.explained_variance)
            .value(&format!("{k}:dead_fraction"), side.metrics.dead_fraction)
            .value(&format!("{k}:top_feature"), side.top[0].feature as f64)
            .value(&format!("{k}:top_r_pb"), side.top[0].r_pb)
            .value(&format!("{k}:second_r_pb"), side.top.get(1).map(|t| t.r_pb).unwrap_or(0.0))
            .value(&format!("{k}:typical"), side.typical)
            .value(&format!("{k}:selectivity"), side.selectivity);
    }
    m = arm_values(m, NONE, &r.none);
    for (name, evals) in &r.arms {
        for (tier, e) in TIER_NAMES.iter().zip(evals) {
            m = arm_values(m, &format!("{name}:{tier}"), e);
        }
    }
    m
}

/// A measure of an arm per tier from stored metrics, with the unsteered value first:
/// `[none, low, mid, high]`.
pub fn curve(m: &SeedMetrics, arm: &str, measure: &str) -> Result<Vec<f64>> {
    let mut v = vec![m.get(&format!("{NONE}:{measure}"))?];
    for t in TIER_NAMES {
        v.push(m.get(&format!("{arm}:{t}:{measure}"))?);
    }
    Ok(v)
}

/// Writes `datasets/sae-detox/`: one row per seed of [`SEEDS`], `threads` seeds at a time.
pub fn write_artefact(threads: usize) -> Result<String> {
    let t0 = Instant::now();
    let s = CiSettings::default();
    let mut rows = vec![];
    for r in crate::runtime::parallel_map(SEEDS.to_vec(), threads, |seed| run_seed(&s, seed)) {
        rows.push(metrics(&r?));
    }
    let mut w = super::ArtefactWriter::new(SLUG, "cargo run --release --example artefact -- sae-detox", &SEEDS)?;
    w.write_runs(&rows)?;
    let notes = format!(
        "{} seeds × (a {}-layer d{} GPT-2, {} steps on {} documents of {} tokens; SAEs {:?}× d_model on {} at {} steps; {} arms × {} tiers × ({} toxic + {} neutral prompts × {} sampled tokens, {} held-out docs, {} counting items)), {threads} at a time, {:.0} s on this machine's CPU",
        SEEDS.len(),
        s.lm.n_layer,
        s.lm.n_embd,
        s.lm.steps,
        s.docs,
        s.doc_len,
        WIDTHS,
        s.hook()?,
        s.sae.steps,
        ARMS.len(),
        TIER_NAMES.len(),
        s.n_prompts,
        s.n_prompts,
        s.new_tokens,
        s.n_heldout,
        s.n_task,
        t0.elapsed().as_secs_f64()
    );
    w = w.notes(notes.clone());
    w.finish()?;
    Ok(notes)
}
