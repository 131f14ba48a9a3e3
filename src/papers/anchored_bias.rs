//! Anchored Answers: Unravelling Positional Bias in GPT-2's Multiple-Choice Questions (Li &
//! Gao, Findings of ACL 2025, arXiv 2405.03205) at ci scale: a tiny GPT-2 trained on
//! multiple-choice prompts whose gold is "A" with probability 0.7 (a *constructed* prior),
//! the bias located with the logit lens on MLP layers, neuron value vectors and heads, and
//! removed by the paper's value-vector edit and attention swap.
//!
//! The method lives in [`crate::interp::weight_processing`] (TransformerLens' processing, which
//! the paper's notebook loads GPT-2 with) and [`crate::interp::circuits`] (value vectors, DLA,
//! the edit, the attention swap); the prompts in [`crate::data::mcq`]. The full scale (GPT-2
//! small on the repository's `IOI.json` and synthetic IOI questions) is [`full`].

use candle_core::{DType, Device, Tensor};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::data::{GoldPolicy, McqGen, McqItem, TokenDataset};
use crate::hooks::{HookPoint, HookSpec};
use crate::interp::{cross_entropy_per_token, edit_value_vectors, swap_attention, ProcessedGpt2};
use crate::model::{Gpt2, Gpt2Config};
use crate::train::{AdamW, AdamWConfig, LrSchedule, TrainConfig, Trainer};
use crate::{Error, Result};

pub mod full;

pub const SLUG: &str = "anchored-bias";
/// The paper's edit (`mitigate_mlp.ipynb`): `W_out[i] ← W_out[i] − α1·W_U[A] + α2·W_U[gold]`.
pub const PAPER_ALPHA1: f64 = 1.0;
pub const PAPER_ALPHA2: f64 = 8.0;
/// Neurons scored per layer (|post-activation| × ‖W_out[i]‖), as in the paper's notebook.
pub const PAPER_TOP_NEURONS: usize = 10;
/// The paper flags a neuron when its value vector's logit contribution A − gold exceeds 4
/// (GPT-2 small's logit scale). A tiny model's logits are on another scale, so we flag a
/// top-scored neuron when its contribution is positive and at least this fraction of the
/// largest one in the layer.
pub const FLAG_FRACTION: f64 = 0.25;

/// The ci set-up: world, model and training sizes.
#[derive(Clone, Debug)]
pub struct Setup {
    pub n_options: usize,
    /// Zipf exponent of the fruits in the training items (held-out items draw them uniformly).
    pub zipf: f64,
    /// P(gold = "A") in the training prompts (the constructed prior).
    pub p_first: f64,
    pub train_items: usize,
    pub steps: usize,
    pub batch: usize,
    pub lr: f64,
    pub n_embd: usize,
    pub n_layer: usize,
    pub n_head: usize,
    /// Held-out prompts per gold position.
    pub eval_items: usize,
}

impl Setup {
    pub fn ci() -> Setup {
        Setup { n_options: 3, zipf: 4.0, p_first: 0.7, train_items: 4000, steps: 300, batch: 32, lr: 5e-3, n_embd: 64, n_layer: 2, n_head: 4, eval_items: 150 }
    }
}

/// A trained model with its world.
#[derive(Clone, Debug)]
pub struct Trained {
    pub seed: u64,
    pub model: Gpt2,
    pub mcq: McqGen,
}

/// Trains a tiny GPT-2 on biased MCQs (seed: init, items, data order).
pub fn train_biased(setup: &Setup, seed: u64) -> Result<Trained> {
    let gen = McqGen::new(setup.n_options)?.with_zipf(setup.zipf)?;
    let items = gen.generate(setup.train_items, GoldPolicy::Biased { p_first: setup.p_first }, 1000 + seed)?;
    let docs = gen.documents(&items)?;
    let t = gen.prompt_len();
    // one block per prompt + answer: x = the prompt, y = shifted, the last target the letter
    let data = TokenDataset::from_documents(&docs, None, t)?;
    let cfg = Gpt2Config::tiny(gen.tokenizer().words().len(), t + 2, setup.n_embd, setup.n_layer, setup.n_head);
    let model = Gpt2::random(cfg, seed, &Device::Cpu)?;
    let tcfg = TrainConfig {
        steps: setup.steps,
        batch_size: setup.batch,
        clip: Some(1.0),
        schedule: LrSchedule::Cosine { lr: setup.lr, warmup: 20, total: setup.steps, min_lr: setup.lr / 10.0 },
        log_every: 50,
        seed,
        progress: false,
        ..Default::default()
    };
    let opt = AdamW::new(AdamWConfig { lr: setup.lr, weight_decay: 0.01, ..Default::default() });
    let mut tr = Trainer::new(&model, Box::new(opt), tcfg)?;
    tr.fit(&data, None)?;
    // held-out items draw fruits uniformly
    Ok(Trained { seed, model: tr.model()?.detached()?, mcq: McqGen::new(setup.n_options)? })
}

/// Held-out prompts as tensors.
#[derive(Clone, Debug)]
pub struct McqBatch {
    pub items: Vec<McqItem>,
    /// `(n, T)` u32
    pub ids: Tensor,
    /// gold letter ids
    pub gold: Vec<u32>,
}

pub fn batch(gen: &McqGen, items: Vec<McqItem>) -> Result<McqBatch> {
    let (ids, gold) = gen.encode_prompts(&items)?;
    let n = items.len();
    let ids = Tensor::from_vec(ids, (n, gen.prompt_len()), &Device::Cpu)?;
    Ok(McqBatch { items, ids, gold })
}

/// Held-out prompts with the gold at `position` (seeded apart from the training items).
pub fn held_out(gen: &McqGen, n: usize, position: usize, seed: u64) -> Result<McqBatch> {
    batch(gen, gen.generate(n, GoldPolicy::Fixed(position), 50_000 + 97 * seed + position as u64)?)
}

/// How a model answers a batch: the letters' logits at the answer position.
#[derive(Clone, Debug, PartialEq)]
pub struct Answers {
    /// argmax over the option letters == gold
    pub accuracy: f64,
    /// fraction answering "A"
    pub picks_a: f64,
    /// mean P(gold) with the softmax over the option letters
    pub p_gold: f64,
    /// mean logit(A) − logit(gold)
    pub a_minus_gold: f64,
}

/// Answers of `p` on `b`, with `spec`'s interventions active.
pub fn answers(p: &ProcessedGpt2, gen: &McqGen, b: &McqBatch, spec: &HookSpec) -> Result<Answers> {
    let letters = gen.letter_ids();
    let pos = gen.prompt_len() - 1;
    let logits = p.run(&b.ids, spec)?.logits.narrow(1, pos, 1)?.squeeze(1)?.to_dtype(DType::F32)?;
    let rows: Vec<Vec<f32>> = logits.to_vec2()?;
    let n = rows.len() as f64;
    let (mut acc, mut pa, mut pg, mut diff) = (0.0, 0.0, 0.0, 0.0);
    for (r, &g) in rows.iter().zip(&b.gold) {
        let l: Vec<f32> = letters.iter().map(|&t| r[t as usize]).collect();
        let best = (0..l.len()).max_by(|&i, &j| l[i].total_cmp(&l[j])).unwrap_or(0);
        let gi = letters.iter().position(|&t| t == g).ok_or_else(|| Error::Data("gold is not an option letter".into()))?;
        acc += (best == gi) as u8 as f64;
        pa += (best == 0) as u8 as f64;
        let m = l.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        let z: f32 = l.iter().map(|x| (x - m).exp()).sum();
        pg += ((l[gi] - m).exp() / z) as f64;
        diff += (l[0] - l[gi]) as f64;
    }
    Ok(Answers { accuracy: acc / n, picks_a: pa / n, p_gold: pg / n, a_minus_gold: diff / n })
}

/// Mean next-token cross-entropy (nats) of `p` on full biased-distribution documents.
pub fn held_out_ce(p: &ProcessedGpt2, gen: &McqGen, p_first: f64, n: usize, seed: u64) -> Result<f64> {
    let docs = gen.documents(&gen.generate(n, GoldPolicy::Biased { p_first }, 90_000 + seed)?)?;
    let t = docs[0].len();
    let flat: Vec<u32> = docs.concat();
    let all = Tensor::from_vec(flat, (n, t), &Device::Cpu)?;
    let (x, y) = (all.narrow(1, 0, t - 1)?.contiguous()?, all.narrow(1, 1, t - 1)?.contiguous()?);
    Ok(cross_entropy_per_token(&p.forward(&x)?, &y)?.mean_all()?.to_dtype(DType::F64)?.to_scalar::<f64>()?)
}

/// The MLP logit lens per layer (the paper's step 1): mean over `b` of
/// `unembed(mlp_out[answer])` at A minus at gold, each MLP output through the final LN alone.
pub fn mlp_lens(p: &ProcessedGpt2, gen: &McqGen, b: &McqBatch) -> Result<Vec<f64>> {
    let pos = gen.prompt_len() - 1;
    let a = gen.letter_ids()[0];
    let run = p.run(&b.ids, &HookSpec::new().capture_filter(|h| matches!(h, HookPoint::MlpOut(_))))?;
    let mut out = vec![];
    for l in 0..p.model.cfg.n_layer {
        let x = run.cache.get(HookPoint::MlpOut(l))?.narrow(1, pos, 1)?.squeeze(1)?;
        let lg: Vec<Vec<f32>> = p.unembed(&x)?.to_dtype(DType::F32)?.to_vec2()?;
        let m = lg.iter().zip(&b.gold).map(|(r, &g)| (r[a as usize] - r[g as usize]) as f64).sum::<f64>() / lg.len() as f64;
        out.push(m);
    }
    Ok(out)
}

/// One neuron of the paper's scan.
#[derive(Clone, Debug, PartialEq)]
pub struct NeuronScore {
    pub layer: usize,
    pub neuron: usize,
    /// mean |post-activation| at the answer position × ‖W_out[i]‖
    pub score: f64,
    /// value vector's logit contribution A − gold: `W_out[i] · (W_U[A] − W_U[gold])`
    pub a_minus_gold: f64,
    pub flagged: bool,
}

/// The paper's neuron scan in `layer` on prompts whose gold letter is `gold` (step 2): the top
/// [`PAPER_TOP_NEURONS`] by score, each flagged when its value vector favours A over gold by
/// at least [`FLAG_FRACTION`] of the layer's largest such contribution.
pub fn neuron_scan(p: &ProcessedGpt2, gen: &McqGen, b: &McqBatch, layer: usize, gold: u32) -> Result<Vec<NeuronScore>> {
    let pos = gen.prompt_len() - 1;
    let a = gen.letter_ids()[0];
    let run = p.run(&b.ids, &HookSpec::new().capture(HookPoint::MlpPost(layer)))?;
    let post = run.cache.get(HookPoint::MlpPost(layer))?.narrow(1, pos, 1)?.squeeze(1)?.abs()?.mean(0)?; // (M,)
    let w_out = &p.model.blocks[layer].mlp()?.c_proj_w; // (M, C)
    let norms: Vec<f32> = w_out.sqr()?.sum(1)?.sqrt()?.to_vec1()?;
    let post: Vec<f32> = post.to_vec1()?;
    let dir = (p.unembed_direction(a)? - p.unembed_direction(gold)?)?;
    let contrib: Vec<f32> = w_out.matmul(&dir.unsqueeze(1)?)?.squeeze(1)?.to_vec1()?;
    let mut idx: Vec<usize> = (0..post.len()).collect();
    idx.sort_by(|&i, &j| (post[j] * norms[j]).total_cmp(&(post[i] * norms[i])));
    idx.truncate(PAPER_TOP_NEURONS);
    let max = idx.iter().map(|&i| contrib[i] as f64).fold(0.0, f64::max);
    Ok(idx
        .into_iter()
        .map(|i| {
            let c = contrib[i] as f64;
            NeuronScore { layer, neuron: i, score: (post[i] * norms[i]) as f64, a_minus_gold: c, flagged: max > 0.0 && c >= FLAG_FRACTION * max }
        })
        .collect())
}

/// The paper's edit on the flagged neurons of a scan (all in one layer): A → `gold`.
pub fn edit_flagged(p: &ProcessedGpt2, scan: &[NeuronScore], a: u32, gold: u32, alpha1: f64, alpha2: f64) -> Result<ProcessedGpt2> {
    let Some(layer) = scan.first().map(|s| s.layer) else { return Ok(p.clone()) };
    let neurons: Vec<usize> = scan.iter().filter(|s| s.flagged).map(|s| s.neuron).collect();
    edit_value_vectors(p, layer, &neurons, a, alpha1, gold, alpha2)
}

/// The negative control: `k` random neurons of a layer (seeded), none of them in `exclude`.
pub fn random_neurons(p: &ProcessedGpt2, k: usize, exclude: &[usize], seed: u64) -> Vec<usize> {
    let mut all: Vec<usize> = (0..p.model.cfg.d_mlp()).filter(|i| !exclude.contains(i)).collect();
    all.shuffle(&mut StdRng::seed_from_u64(seed));
    all.truncate(k);
    all
}

/// Attention from the answer position to the A option (its letter and its name), mean over
/// `b`, per `(layer, head)`: the heads that carry the anchor.
pub fn anchor_attention(p: &ProcessedGpt2, gen: &McqGen, b: &McqBatch) -> Result<Vec<(usize, usize, f64)>> {
    let pos = gen.prompt_len() - 1;
    let it = &b.items[0];
    let keys = [it.letter_pos[0], it.option_pos[0]];
    let run = p.run(&b.ids, &HookSpec::new().capture_filter(|h| matches!(h, HookPoint::Pattern(_))))?;
    let mut out = vec![];
    for l in 0..p.model.cfg.n_layer {
        let pat = run.cache.get(HookPoint::Pattern(l))?.narrow(2, pos, 1)?.squeeze(2)?; // (B, H, Tk)
        for h in 0..p.model.cfg.n_head {
            let row = pat.narrow(1, h, 1)?.squeeze(1)?; // (B, Tk)
            let mut s = 0.0;
            for &k in &keys {
                s += row.narrow(1, k, 1)?.mean_all()?.to_dtype(DType::F64)?.to_scalar::<f64>()?;
            }
            out.push((l, h, s));
        }
    }
    Ok(out)
}

/// The attention recalibration: at `heads` of `layer`, the answer position's weights on the A
/// option and on the gold option trade places (letters and names both).
pub fn swap_spec(gen: &McqGen, b: &McqBatch, layer: usize, heads: &[usize]) -> Result<HookSpec> {
    let pos = gen.prompt_len() - 1;
    let point = HookPoint::Pattern(layer);
    let mut spec = HookSpec::new();
    for which in 0..2 {
        let swaps: Vec<(usize, usize)> = b
            .items
            .iter()
            .map(|it| {
                let keys = if which == 0 { &it.letter_pos } else { &it.option_pos };
                (keys[0], keys[it.gold])
            })
            .collect();
        spec = spec.intervene(point, swap_attention(heads.to_vec(), pos, swaps));
    }
    Ok(spec)
}

/// Everything one seed's notebook row needs: the bias before, where it sits, and what the
/// edits do on held-out prompts (located on one set of gold = "B" prompts, tested on another).
#[derive(Clone, Debug)]
pub struct SeedRun {
    pub seed: u64,
    pub trained: Trained,
    pub processed: ProcessedGpt2,
    /// Held-out accuracy per gold position before any edit.
    pub before: Vec<Answers>,
    /// MLP logit lens (A − gold) per layer, on the locating prompts.
    pub lens: Vec<f64>,
    /// The layer edited: the one whose MLP output favours A most.
    pub layer: usize,
    pub scan: Vec<NeuronScore>,
    /// Value-vector contributions A − gold of the flagged neurons after the paper's edit.
    pub contributions_after: Vec<f64>,
    /// After the paper's edit (α1 = 1, α2 = 8), per gold position.
    pub after: Vec<Answers>,
    /// After the same edit on as many random neurons of the layer, per gold position.
    pub random: Vec<Answers>,
    /// After the gentler edit α2 = 1, per gold position.
    pub gentle: Vec<Answers>,
    /// Held-out CE (nats/token, full documents): before, paper edit, random edit, gentle edit.
    pub ce: [f64; 4],
    /// The heads attending most from the answer position to the A option (layer, head, weight).
    pub anchor_heads: Vec<(usize, usize, f64)>,
    /// On held-out gold = "B" prompts with the top anchor head's A/gold attention swapped.
    pub swapped: Answers,
}

/// One seed: train, locate, edit, measure.
pub fn run_seed(setup: &Setup, seed: u64) -> Result<SeedRun> {
    let trained = train_biased(setup, seed)?;
    let gen = trained.mcq.clone();
    let p = trained.model.processed()?;
    let none = HookSpec::new();
    let n = setup.n_options;
    let tests: Vec<McqBatch> = (0..n).map(|g| held_out(&gen, setup.eval_items, g, seed)).collect::<Result<_>>()?;
    let all = |m: &ProcessedGpt2| -> Result<Vec<Answers>> { tests.iter().map(|b| answers(m, &gen, b, &none)).collect() };
    let before = all(&p)?;
    // locate on other gold = "B" prompts (the paper's IOI.json has gold B throughout)
    let locate = held_out(&gen, setup.eval_items, 1, seed + 7919)?;
    let (a, b) = (gen.letter_ids()[0], gen.letter_ids()[1]);
    let lens = mlp_lens(&p, &gen, &locate)?;
    let layer = (0..lens.len()).max_by(|&i, &j| lens[i].total_cmp(&lens[j])).unwrap_or(0);
    let scan = neuron_scan(&p, &gen, &locate, layer, b)?;
    let flagged: Vec<usize> = scan.iter().filter(|s| s.flagged).map(|s| s.neuron).collect();
    let edited = edit_flagged(&p, &scan, a, b, PAPER_ALPHA1, PAPER_ALPHA2)?;
    let dir = (edited.unembed_direction(a)? - edited.unembed_direction(b)?)?;
    let mut contributions_after = vec![];
    for &i in &flagged {
        let v = crate::interp::neuron_value_vector(&edited, layer, i)?;
        contributions_after.push((v * &dir)?.sum_all()?.to_dtype(DType::F64)?.to_scalar::<f64>()?);
    }
    let all_scanned: Vec<usize> = scan.iter().map(|s| s.neuron).collect();
    let rand = random_neurons(&p, flagged.len(), &all_scanned, seed);
    let random_edit = edit_value_vectors(&p, layer, &rand, a, PAPER_ALPHA1, b, PAPER_ALPHA2)?;
    let gentle_edit = edit_flagged(&p, &scan, a, b, PAPER_ALPHA1, 1.0)?;
    let ce = [
        held_out_ce(&p, &gen, setup.p_first, 200, seed)?,
        held_out_ce(&edited, &gen, setup.p_first, 200, seed)?,
        held_out_ce(&random_edit, &gen, setup.p_first, 200, seed)?,
        held_out_ce(&gentle_edit, &gen, setup.p_first, 200, seed)?,
    ];
    // heads that look at option A from the answer position, on prompts whose gold is not A
    let mut anchor_heads = anchor_attention(&p, &gen, &locate)?;
    anchor_heads.sort_by(|x, y| y.2.total_cmp(&x.2));
    let (hl, hh, _) = anchor_heads[0];
    let swapped = answers(&p, &gen, &tests[1], &swap_spec(&gen, &tests[1], hl, &[hh])?)?;
    Ok(SeedRun {
        seed,
        before,
        lens,
        layer,
        scan,
        contributions_after,
        after: all(&edited)?,
        random: all(&random_edit)?,
        gentle: all(&gentle_edit)?,
        ce,
        anchor_heads,
        swapped,
        trained,
        processed: p,
    })
}

/// Mean accuracy over the gold positions other than A.
pub fn accuracy_not_a(a: &[Answers]) -> f64 {
    a[1..].iter().map(|x| x.accuracy).sum::<f64>() / (a.len() - 1).max(1) as f64
}
