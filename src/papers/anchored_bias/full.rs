//! Full scale of arXiv 2405.03205: GPT-2 small on the repository's `IOI.json` (bundled in
//! `datasets/anchored-bias-ioi/`, MIT, sha256-checked on load) and on IOI questions from the
//! project's own [`IoiMcqGen`] (gold position balanced).
//!
//! Prompts and positions follow the official `demos/mitigate_mlp.ipynb`: the sentence is fed
//! verbatim with BOS in front (`to_tokens(prepend_bos=True)`), everything is read at the last
//! position (the ":" of "Answer:", whose next token is the answer), and the answers are " A",
//! " B", … tokenized without BOS; each must be one token. Then the notebook's steps:
//! 1. the MLP logit lens per layer, `ln_final(mlp_out[-1])·W_U + b_U` at " A" minus at gold;
//! 2. per layer, the 10 neurons with the largest |post| × ‖W_out[i]‖, each one's contribution
//!    `W_U[:, t] · ln_final(post_i·W_out[i] + b_out) + b_U[t]` to " A" and to gold, flagged when
//!    A − gold > 4;
//! 3. the first flagged neuron of a layer edited, `W_out[i] ← W_out[i] − 1·W_U[:, A] +
//!    8·W_U[:, gold]`, and "does the edited model's top-1 token equal gold?" checked on the
//!    same prompt (the repository's test), layer by layer from the last, restoring each time.
//!
//! Beyond the repository (which runs item 0 only): the same on all 45 items, and a held-out test
//! the repository does not have: neurons flagged on one third of the items are edited together
//! and accuracy is measured on the other two thirds and on the synthetic items, next to the same
//! edit on random neurons of the same layers. The attention swap (paper, details unverified:
//! no code released) trades the answer position's attention on the " A" letter and on the gold
//! letter at the heads that attend most from the answer position to " A".

mod report;
pub use report::{report_lines, report_tables};

use std::collections::BTreeMap;
use std::path::Path;

use candle_core::{DType, Tensor, D};

use super::{random_neurons, NeuronScore, PAPER_ALPHA1, PAPER_ALPHA2, PAPER_TOP_NEURONS};
use crate::data::mcq::{IoiMcqGen, TextMcq, MCQ_LETTERS};
use crate::hooks::{HookPoint, HookSpec};
use crate::interp::{edit_value_vectors, logit_diff, swap_attention, ProcessedGpt2};
use crate::model::{Gpt2, NormMode};
use crate::tokenizer::Gpt2Tokenizer;
use crate::{Error, Result};

/// sha256 of `gpt2_small_data/IOI.json` at commit 203ece453f3cc2124e40b4d957e052f5e092c114.
pub const IOI_JSON_SHA256: &str = "416b8e722188d46e552bf7aaaa416f24e0c2d55593c6e7fba774c25959bdc366";
/// The folder under `datasets/` with the bundled `IOI.json` and its licence.
pub const IOI_DIR: &str = "anchored-bias-ioi";
/// `mitigate_mlp.ipynb`'s `gap_threshold`: a neuron is flagged when its A − gold logit
/// contribution exceeds this.
pub const PAPER_FLAG_GAP: f64 = 4.0;
/// Rows per forward (items of equal token length are batched together).
const BATCH: usize = 16;

#[derive(serde::Deserialize)]
struct Record {
    sentence: String,
    label: String,
}

/// Parses `IOI.json`'s layout: a JSON array of `{"sentence": …, "label": "B"}`. A row that is not
/// such an object, or whose sentence does not parse ([`TextMcq::parse`]), is an
/// [`Error::McqItem`] naming its index.
pub fn parse_ioi_json(text: &str) -> Result<Vec<TextMcq>> {
    let rows: Vec<serde_json::Value> = serde_json::from_str(text).map_err(|e| Error::Data(format!("IOI.json: not a JSON array: {e}")))?;
    rows.into_iter()
        .enumerate()
        .map(|(i, v)| {
            let r: Record = serde_json::from_value(v).map_err(|e| Error::McqItem { index: i, msg: format!("not a {{\"sentence\", \"label\"}} object: {e}") })?;
            TextMcq::parse(i, &r.sentence, &r.label)
        })
        .collect()
}

/// Reads and parses an `IOI.json`, first checking its sha256 when `sha256` is given (a
/// mismatch is an [`Error::Artefact`]: the file is not the one the notebook was written for).
pub fn load_ioi_json_from(path: &Path, sha256: Option<&str>) -> Result<Vec<TextMcq>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if let Some(want) = sha256 {
        let got = crate::papers::artefact::sha256_hex(&bytes);
        if got != want {
            return Err(Error::Artefact { path: path.into(), msg: format!("sha256 {got}, expected {want} (the repository's IOI.json at commit 203ece4)") });
        }
    }
    let text = String::from_utf8(bytes).map_err(|e| Error::Data(format!("{}: not UTF-8: {e}", path.display())))?;
    parse_ioi_json(&text)
}

/// The bundled `IOI.json` (45 items, gold B), hash-checked.
pub fn load_ioi_json() -> Result<Vec<TextMcq>> {
    load_ioi_json_from(&crate::tokenizer::datasets_dir().join(IOI_DIR).join("IOI.json"), Some(IOI_JSON_SHA256))
}

/// An item in GPT-2's BPE, BOS first, with the tokens the method reads.
#[derive(Clone, Debug, PartialEq)]
pub struct BpeMcq {
    pub item: TextMcq,
    /// `<|endoftext|>` then the prompt's tokens.
    pub ids: Vec<u32>,
    /// The answer tokens " A", " B", … (one per option).
    pub letters: Vec<u32>,
    /// Position in `ids` of each option's letter in the choices (the anchor is `letter_pos[0]`).
    pub letter_pos: Vec<usize>,
    /// Position in `ids` of each option's first token.
    pub option_pos: Vec<usize>,
}

impl BpeMcq {
    /// The position whose next token is the answer (the official code's `[-1]`).
    pub fn answer_pos(&self) -> usize {
        self.ids.len() - 1
    }
    pub fn gold(&self) -> usize {
        self.item.gold
    }
    pub fn gold_token(&self) -> u32 {
        self.letters[self.item.gold]
    }
    /// " A".
    pub fn anchor_token(&self) -> u32 {
        self.letters[0]
    }
}

/// The id of the answer token `" {letter}"`; an [`Error::McqItem`] (item `index`) when it is
/// not exactly one token.
pub fn answer_token(tok: &Gpt2Tokenizer, letter: &str, index: usize) -> Result<u32> {
    let ids = tok.encode(&format!(" {letter}"))?;
    match ids.as_slice() {
        [t] => Ok(*t),
        _ => Err(Error::McqItem { index, msg: format!("the answer \" {letter}\" is {} tokens ({ids:?}), not one", ids.len()) }),
    }
}

/// Encodes items with GPT-2's BPE and finds their letter and option tokens. Item `i` of
/// `items` is index `i` in errors: an answer letter that is not one token, or a choice letter
/// that the prompt's encoding does not carry as that same token, is an [`Error::McqItem`].
pub fn encode_items(tok: &Gpt2Tokenizer, items: &[TextMcq]) -> Result<Vec<BpeMcq>> {
    items
        .iter()
        .enumerate()
        .map(|(i, it)| {
            let enc = tok.encode_with_offsets(&it.text)?;
            let at = |byte: usize| enc.iter().position(|(_, (s, e))| *s <= byte && byte < *e);
            let n = it.options.len();
            let letters: Vec<u32> = MCQ_LETTERS[..n].iter().map(|l| answer_token(tok, l, i)).collect::<Result<_>>()?;
            let (mut letter_pos, mut option_pos) = (vec![], vec![]);
            for k in 0..n {
                let j = at(it.letter_at[k]).filter(|&j| enc[j].0 == letters[k]).ok_or_else(|| Error::McqItem {
                    index: i,
                    msg: format!("the choice letter {} is not the single token \" {}\" in the prompt's encoding", MCQ_LETTERS[k], MCQ_LETTERS[k]),
                })?;
                letter_pos.push(j + 1);
                let o = at(it.option_at[k]).ok_or_else(|| Error::McqItem { index: i, msg: format!("option {:?} has no token", it.options[k]) })?;
                option_pos.push(o + 1);
            }
            let mut ids = vec![tok.bos_token_id()];
            ids.extend(enc.iter().map(|(t, _)| *t));
            Ok(BpeMcq { item: it.clone(), ids, letters, letter_pos, option_pos })
        })
        .collect()
}

/// Indices of `items` in batches of equal token length (at most [`BATCH`] rows), in a fixed
/// order.
fn groups(items: &[&BpeMcq]) -> Vec<Vec<usize>> {
    let mut by_len: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, it) in items.iter().enumerate() {
        by_len.entry(it.ids.len()).or_default().push(i);
    }
    by_len.into_values().flat_map(|v| v.chunks(BATCH).map(<[usize]>::to_vec).collect::<Vec<_>>()).collect()
}

fn ids_tensor(p: &ProcessedGpt2, rows: &[&BpeMcq]) -> Result<Tensor> {
    let t = rows[0].ids.len();
    let flat: Vec<u32> = rows.iter().flat_map(|r| r.ids.iter().copied()).collect();
    Ok(Tensor::from_vec(flat, (rows.len(), t), p.model.device())?)
}

/// Logits of `tokens[b]` from residual vectors `x (B, C)`: the final (bare) LayerNorm, then
/// `W_U[:, t] + b_U[t]` — [`ProcessedGpt2::unembed`] read at one token per row.
fn token_logits(p: &ProcessedGpt2, x: &Tensor, tokens: &[u32]) -> Result<Vec<f64>> {
    let xn = p.model.ln_f.forward_as(&x.contiguous()?, NormMode::LayerNorm, None)?;
    let idx = Tensor::new(tokens, p.model.device())?;
    let dirs = p.w_u.t()?.contiguous()?.index_select(&idx, 0)?; // (B, C)
    let b = p.b_u.index_select(&idx, 0)?;
    let v = ((xn * dirs)?.sum(D::Minus1)? + b)?;
    Ok(v.to_dtype(DType::F64)?.to_vec1()?)
}

/// One item's answer at the answer position (softmax over the whole vocabulary, as the
/// repository's `prediction_compare`).
#[derive(Clone, Debug, PartialEq)]
pub struct ItemAnswer {
    pub gold: usize,
    pub p_a: f64,
    pub p_gold: f64,
    /// logit(" A") − logit(gold)
    pub a_minus_gold: f64,
    /// argmax over the option letters
    pub pick: usize,
    /// top-1 token over the vocabulary is the gold letter (the repository's success test)
    pub top1_is_gold: bool,
}

/// Answers of `p` on `items` (in their order), with `spec(rows)`'s hooks on each batch.
pub fn answer_items(p: &ProcessedGpt2, items: &[&BpeMcq], spec: &dyn Fn(&[&BpeMcq]) -> Result<HookSpec>) -> Result<Vec<ItemAnswer>> {
    let mut out: Vec<Option<ItemAnswer>> = vec![None; items.len()];
    for g in groups(items) {
        let rows: Vec<&BpeMcq> = g.iter().map(|&i| items[i]).collect();
        let logits = p.run(&ids_tensor(p, &rows)?, &spec(&rows)?)?.logits;
        let pos = rows[0].answer_pos();
        let a: Vec<u32> = rows.iter().map(|r| r.anchor_token()).collect();
        let gold: Vec<u32> = rows.iter().map(|r| r.gold_token()).collect();
        let diff = logit_diff(&logits, pos, &a, &gold)?;
        let last = logits.narrow(1, pos, 1)?.squeeze(1)?.to_dtype(DType::F32)?.contiguous()?;
        let probs: Vec<Vec<f32>> = candle_nn::ops::softmax_last_dim(&last)?.to_vec2()?;
        for ((k, r), pr) in rows.iter().enumerate().zip(&probs) {
            let top1 = (0..pr.len()).max_by(|&i, &j| pr[i].total_cmp(&pr[j])).unwrap_or(0) as u32;
            let pick = (0..r.letters.len()).max_by(|&i, &j| pr[r.letters[i] as usize].total_cmp(&pr[r.letters[j] as usize])).unwrap_or(0);
            out[g[k]] = Some(ItemAnswer {
                gold: r.gold(),
                p_a: pr[r.anchor_token() as usize] as f64,
                p_gold: pr[r.gold_token() as usize] as f64,
                a_minus_gold: diff[k] as f64,
                pick,
                top1_is_gold: top1 == r.gold_token(),
            });
        }
    }
    Ok(out.into_iter().flatten().collect())
}

/// No hooks.
pub fn no_hooks(_: &[&BpeMcq]) -> Result<HookSpec> {
    Ok(HookSpec::new())
}

/// Means over a set of answers.
#[derive(Clone, Debug, PartialEq)]
pub struct AnswerSummary {
    pub n: usize,
    /// argmax over the option letters == gold
    pub accuracy: f64,
    /// top-1 over the vocabulary == gold letter
    pub top1_gold: f64,
    /// argmax over the option letters == " A"
    pub picks_a: f64,
    /// P(" A") > P(gold) (0 when gold is A)
    pub a_over_gold: f64,
    pub p_a: f64,
    pub p_gold: f64,
}

/// The summary of the answers `keep` selects (`None` when it selects none).
pub fn summarise(a: &[ItemAnswer], keep: impl Fn(&ItemAnswer) -> bool) -> Option<AnswerSummary> {
    let s: Vec<&ItemAnswer> = a.iter().filter(|x| keep(x)).collect();
    if s.is_empty() {
        return None;
    }
    let n = s.len() as f64;
    let mean = |f: &dyn Fn(&ItemAnswer) -> f64| s.iter().map(|x| f(x)).sum::<f64>() / n;
    Some(AnswerSummary {
        n: s.len(),
        accuracy: mean(&|x| (x.pick == x.gold) as u8 as f64),
        top1_gold: mean(&|x| x.top1_is_gold as u8 as f64),
        picks_a: mean(&|x| (x.pick == 0) as u8 as f64),
        a_over_gold: mean(&|x| (x.p_a > x.p_gold) as u8 as f64),
        p_a: mean(&|x| x.p_a),
        p_gold: mean(&|x| x.p_gold),
    })
}

/// The MLP logit lens (step 1) per item and layer: `[item][layer]` of A − gold.
pub fn mlp_lens_items(p: &ProcessedGpt2, items: &[&BpeMcq]) -> Result<Vec<Vec<f64>>> {
    let n_layer = p.model.cfg.n_layer;
    let mut out = vec![vec![]; items.len()];
    for g in groups(items) {
        let rows: Vec<&BpeMcq> = g.iter().map(|&i| items[i]).collect();
        let run = p.run(&ids_tensor(p, &rows)?, &HookSpec::new().capture_filter(|h| matches!(h, HookPoint::MlpOut(_))))?;
        let pos = rows[0].answer_pos();
        let a: Vec<u32> = rows.iter().map(|r| r.anchor_token()).collect();
        let gold: Vec<u32> = rows.iter().map(|r| r.gold_token()).collect();
        for l in 0..n_layer {
            let x = run.cache.get(HookPoint::MlpOut(l))?.narrow(1, pos, 1)?.squeeze(1)?;
            let (la, lg) = (token_logits(p, &x, &a)?, token_logits(p, &x, &gold)?);
            for (k, &i) in g.iter().enumerate() {
                out[i].push(la[k] - lg[k]);
            }
        }
    }
    Ok(out)
}

/// Mean over items, per layer.
pub fn mean_per_layer(per_item: &[Vec<f64>]) -> Vec<f64> {
    let n = per_item.len().max(1) as f64;
    let layers = per_item.first().map_or(0, Vec::len);
    (0..layers).map(|l| per_item.iter().map(|r| r[l]).sum::<f64>() / n).collect()
}

/// The repository's neuron scan (step 2) of one item in `layer`, from the post-activations
/// `post (M,)` at the answer position: the top [`PAPER_TOP_NEURONS`] by |post| × ‖W_out[i]‖,
/// each with `W_U·ln_final(post_i·W_out[i] + b_out) + b_U` at A minus at gold, flagged above
/// [`PAPER_FLAG_GAP`]. Sorted by score, largest first.
pub fn neuron_scan_official(p: &ProcessedGpt2, post: &Tensor, layer: usize, a: u32, gold: u32) -> Result<Vec<NeuronScore>> {
    let mlp = p.model.blocks.get(layer).ok_or_else(|| Error::Shape(format!("layer {layer} of {}", p.model.cfg.n_layer)))?.mlp()?;
    let (w_out, b_out) = (&mlp.c_proj_w, &mlp.c_proj_b);
    let norms: Vec<f32> = w_out.to_dtype(DType::F32)?.sqr()?.sum(1)?.sqrt()?.to_vec1()?;
    let post = post.contiguous()?;
    let post_v: Vec<f32> = post.to_dtype(DType::F32)?.to_vec1()?;
    if post_v.len() != norms.len() {
        return Err(Error::Shape(format!("neuron scan: {} activations for {} neurons", post_v.len(), norms.len())));
    }
    let score = |i: usize| post_v[i].abs() * norms[i];
    let mut idx: Vec<usize> = (0..post_v.len()).collect();
    idx.sort_by(|&i, &j| score(j).total_cmp(&score(i)));
    idx.truncate(PAPER_TOP_NEURONS);
    let sel = Tensor::new(idx.iter().map(|&i| i as u32).collect::<Vec<_>>(), p.model.device())?;
    let coef = post.index_select(&sel, 0)?.unsqueeze(1)?; // (k, 1)
    let v = w_out.index_select(&sel, 0)?.broadcast_mul(&coef)?.broadcast_add(b_out)?; // (k, C)
    let k = idx.len();
    let (la, lg) = (token_logits(p, &v, &vec![a; k])?, token_logits(p, &v, &vec![gold; k])?);
    Ok(idx
        .iter()
        .enumerate()
        .map(|(r, &i)| {
            let d = la[r] - lg[r];
            NeuronScore { layer, neuron: i, score: score(i) as f64, a_minus_gold: d, flagged: d > PAPER_FLAG_GAP }
        })
        .collect())
}

/// The scan of every item in every layer: `[item][layer]`.
pub fn scan_items(p: &ProcessedGpt2, items: &[&BpeMcq]) -> Result<Vec<Vec<Vec<NeuronScore>>>> {
    let n_layer = p.model.cfg.n_layer;
    let mut out = vec![vec![]; items.len()];
    for g in groups(items) {
        let rows: Vec<&BpeMcq> = g.iter().map(|&i| items[i]).collect();
        let run = p.run(&ids_tensor(p, &rows)?, &HookSpec::new().capture_filter(|h| matches!(h, HookPoint::MlpPost(_))))?;
        let pos = rows[0].answer_pos();
        for l in 0..n_layer {
            let post = run.cache.get(HookPoint::MlpPost(l))?.narrow(1, pos, 1)?.squeeze(1)?; // (B, M)
            for (k, &i) in g.iter().enumerate() {
                out[i].push(neuron_scan_official(p, &post.get(k)?, l, rows[k].anchor_token(), rows[k].gold_token())?);
            }
        }
    }
    Ok(out)
}

/// One layer of the repository's per-item loop: its first flagged neuron edited alone.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerFix {
    pub layer: usize,
    pub neuron: usize,
    /// the neuron's A − gold contribution before the edit
    pub a_minus_gold: f64,
    /// after the edit, the top-1 token is the gold letter
    pub fixed: bool,
    pub p_gold_after: f64,
}

/// The repository's loop on each item (`mitigate_mlp.ipynb`'s last cell): layers from the
/// last to the first; where the scan flags a neuron, the first flagged one is edited with
/// α1 = 1, α2 = 8 on a copy (the original stays: the repository's restore) and the prompt is
/// re-answered. `scans` from [`scan_items`] on the same items.
pub fn official_fixes(p: &ProcessedGpt2, items: &[&BpeMcq], scans: &[Vec<Vec<NeuronScore>>]) -> Result<Vec<Vec<LayerFix>>> {
    let mut out = vec![];
    for (it, scan) in items.iter().zip(scans) {
        let mut fixes = vec![];
        for layer_scan in scan.iter().rev() {
            let Some(s) = layer_scan.iter().find(|s| s.flagged) else { continue };
            let edited = edit_value_vectors(p, s.layer, &[s.neuron], it.anchor_token(), PAPER_ALPHA1, it.gold_token(), PAPER_ALPHA2)?;
            let ans = &answer_items(&edited, &[*it], &no_hooks)?[0];
            fixes.push(LayerFix { layer: s.layer, neuron: s.neuron, a_minus_gold: s.a_minus_gold, fixed: ans.top1_is_gold, p_gold_after: ans.p_gold });
        }
        out.push(fixes);
    }
    Ok(out)
}

/// A neuron flagged on several locating items: `(layer, neuron, items flagged on)`.
pub type Flagged = (usize, usize, usize);

/// The neurons flagged on at least `min_share` of the items' scans (all layers), most often
/// flagged first; when none reaches it, the most often flagged one (if any was).
pub fn select_neurons(scans: &[Vec<Vec<NeuronScore>>], min_share: f64) -> Vec<Flagged> {
    let mut count: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    for s in scans.iter().flatten().flatten().filter(|s| s.flagged) {
        *count.entry((s.layer, s.neuron)).or_default() += 1;
    }
    let mut all: Vec<Flagged> = count.into_iter().map(|((l, n), c)| (l, n, c)).collect();
    all.sort_by(|x, y| y.2.cmp(&x.2).then((x.0, x.1).cmp(&(y.0, y.1))));
    let need = (min_share * scans.len() as f64).ceil().max(1.0) as usize;
    let kept: Vec<Flagged> = all.iter().copied().filter(|f| f.2 >= need).collect();
    if kept.is_empty() {
        all.into_iter().take(1).collect()
    } else {
        kept
    }
}

/// The paper's edit on several `(layer, neuron)`s at once, `from` → `to`.
pub fn edit_neurons(p: &ProcessedGpt2, neurons: &[(usize, usize)], from: u32, to: u32, alpha1: f64, alpha2: f64) -> Result<ProcessedGpt2> {
    let mut by_layer: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for &(l, n) in neurons {
        by_layer.entry(l).or_default().push(n);
    }
    let mut out = p.clone();
    for (l, ns) in by_layer {
        out = edit_value_vectors(&out, l, &ns, from, alpha1, to, alpha2)?;
    }
    Ok(out)
}

/// The negative control: as many random neurons per layer as `chosen` has there, none of
/// them among `scanned` (every neuron a locating scan scored), seeded.
pub fn control_neurons(p: &ProcessedGpt2, chosen: &[(usize, usize)], scanned: &[(usize, usize)], seed: u64) -> Vec<(usize, usize)> {
    let mut per: BTreeMap<usize, usize> = BTreeMap::new();
    for &(l, _) in chosen {
        *per.entry(l).or_default() += 1;
    }
    per.into_iter()
        .flat_map(|(l, k)| {
            let excl: Vec<usize> = scanned.iter().filter(|s| s.0 == l).map(|s| s.1).collect();
            random_neurons(p, k, &excl, seed + l as u64).into_iter().map(move |n| (l, n))
        })
        .collect()
}

/// Mean attention from the answer position to the " A" letter per `(layer, head)`, largest
/// first: the heads that carry the anchor.
pub fn anchor_heads(p: &ProcessedGpt2, items: &[&BpeMcq]) -> Result<Vec<(usize, usize, f64)>> {
    let (nl, nh) = (p.model.cfg.n_layer, p.model.cfg.n_head);
    let mut sum = vec![0.0; nl * nh];
    for g in groups(items) {
        let rows: Vec<&BpeMcq> = g.iter().map(|&i| items[i]).collect();
        let run = p.run(&ids_tensor(p, &rows)?, &HookSpec::new().capture_filter(|h| matches!(h, HookPoint::Pattern(_))))?;
        let pos = rows[0].answer_pos();
        for l in 0..nl {
            let pat: Vec<Vec<Vec<f32>>> = run.cache.get(HookPoint::Pattern(l))?.narrow(2, pos, 1)?.squeeze(2)?.to_dtype(DType::F32)?.to_vec3()?; // (B, H, Tk)
            for (k, r) in rows.iter().enumerate() {
                for h in 0..nh {
                    sum[l * nh + h] += pat[k][h][r.letter_pos[0]] as f64;
                }
            }
        }
    }
    let n = items.len().max(1) as f64;
    let mut out: Vec<(usize, usize, f64)> = (0..nl * nh).map(|i| (i / nh, i % nh, sum[i] / n)).collect();
    out.sort_by(|x, y| y.2.total_cmp(&x.2));
    Ok(out)
}

/// The attention recalibration for a batch: at each `(layer, head)`, the answer position's
/// weights on the " A" letter and on the gold letter trade places (a no-op where gold is A).
pub fn swap_spec_items(rows: &[&BpeMcq], heads: &[(usize, usize)]) -> Result<HookSpec> {
    let pos = rows.first().map(|r| r.answer_pos()).ok_or_else(|| Error::EmptyInput("no rows to swap".into()))?;
    let mut by_layer: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for &(l, h) in heads {
        by_layer.entry(l).or_default().push(h);
    }
    let swaps: Vec<(usize, usize)> = rows.iter().map(|r| (r.letter_pos[0], r.letter_pos[r.gold()])).collect();
    Ok(by_layer.into_iter().fold(HookSpec::new(), |s, (l, hs)| s.intervene(HookPoint::Pattern(l), swap_attention(hs, pos, swaps.clone()))))
}

/// The sizes of a full run.
#[derive(Clone, Debug, PartialEq)]
pub struct FullSetup {
    /// `IOI.json` items with index ≡ 0 mod this locate the neurons and heads; the rest are
    /// held out.
    pub locate_every: usize,
    /// Synthetic items ([`IoiMcqGen`], balanced gold).
    pub synthetic_items: usize,
    pub n_options: usize,
    pub synthetic_seed: u64,
    /// A neuron is edited when flagged on at least this share of the locating items.
    pub min_share: f64,
    /// Heads whose attention is swapped.
    pub swap_heads: usize,
    pub control_seed: u64,
}

impl FullSetup {
    pub fn paper() -> FullSetup {
        FullSetup { locate_every: 3, synthetic_items: 120, n_options: 2, synthetic_seed: 0, min_share: 0.5, swap_heads: 3, control_seed: 0 }
    }
}

/// Everything the notebook's full section shows.
#[derive(Clone, Debug)]
pub struct FullRun {
    pub processed: ProcessedGpt2,
    pub ioi: Vec<BpeMcq>,
    pub synthetic: Vec<BpeMcq>,
    /// indices into `ioi`
    pub locate: Vec<usize>,
    pub held_out: Vec<usize>,
    /// per `ioi` item
    pub before_ioi: Vec<ItemAnswer>,
    pub before_synthetic: Vec<ItemAnswer>,
    /// `[item][layer]` A − gold, on every `ioi` item
    pub lens_ioi: Vec<Vec<f64>>,
    /// on the synthetic items whose gold is not A
    pub lens_synthetic: Vec<Vec<f64>>,
    /// `[item][layer]` scans of every `ioi` item
    pub scans: Vec<Vec<Vec<NeuronScore>>>,
    /// the repository's per-item loop on every `ioi` item
    pub fixes: Vec<Vec<LayerFix>>,
    /// flagged on the locating items and edited (" A" → " B")
    pub selected: Vec<Flagged>,
    pub control: Vec<(usize, usize)>,
    /// on the held-out `ioi` items (in `held_out` order)
    pub after_ioi: Vec<ItemAnswer>,
    pub control_ioi: Vec<ItemAnswer>,
    pub after_synthetic: Vec<ItemAnswer>,
    pub control_synthetic: Vec<ItemAnswer>,
    /// the swapped heads `(layer, head, attention on " A")`, located on the locating items
    pub heads: Vec<(usize, usize, f64)>,
    pub swapped_ioi: Vec<ItemAnswer>,
    pub swapped_synthetic: Vec<ItemAnswer>,
}

impl FullRun {
    pub fn held_out_before(&self) -> Vec<ItemAnswer> {
        self.held_out.iter().map(|&i| self.before_ioi[i].clone()).collect()
    }
    /// Items of the repository's loop fixed by some single-layer edit.
    pub fn fixed_items(&self) -> usize {
        self.fixes.iter().filter(|f| f.iter().any(|x| x.fixed)).count()
    }
}

/// The full pipeline on `model` (GPT-2 small at full scale) with GPT-2's tokenizer.
pub fn run_full(model: &Gpt2, tok: &Gpt2Tokenizer, ioi: &[TextMcq], setup: &FullSetup) -> Result<FullRun> {
    if setup.locate_every < 2 {
        return Err(Error::Data(format!("locate_every must be at least 2 (got {}): some items must be held out", setup.locate_every)));
    }
    let p = model.processed()?;
    let ioi = encode_items(tok, ioi)?;
    let synthetic = encode_items(tok, &IoiMcqGen::new(setup.n_options)?.generate(setup.synthetic_items, setup.synthetic_seed)?)?;
    let (locate, held_out): (Vec<usize>, Vec<usize>) = (0..ioi.len()).partition(|i| i % setup.locate_every == 0);
    let all_ioi: Vec<&BpeMcq> = ioi.iter().collect();
    let all_syn: Vec<&BpeMcq> = synthetic.iter().collect();
    let loc: Vec<&BpeMcq> = locate.iter().map(|&i| &ioi[i]).collect();
    let held: Vec<&BpeMcq> = held_out.iter().map(|&i| &ioi[i]).collect();
    let before_ioi = answer_items(&p, &all_ioi, &no_hooks)?;
    let before_synthetic = answer_items(&p, &all_syn, &no_hooks)?;
    let lens_ioi = mlp_lens_items(&p, &all_ioi)?;
    let not_a: Vec<&BpeMcq> = synthetic.iter().filter(|s| s.gold() != 0).collect();
    let lens_synthetic = mlp_lens_items(&p, &not_a)?;
    let scans = scan_items(&p, &all_ioi)?;
    let fixes = official_fixes(&p, &all_ioi, &scans)?;
    // one edit for the data set: located on the locating third, " A" → " B" (IOI.json's gold)
    let loc_scans: Vec<Vec<Vec<NeuronScore>>> = locate.iter().map(|&i| scans[i].clone()).collect();
    let selected = select_neurons(&loc_scans, setup.min_share);
    let chosen: Vec<(usize, usize)> = selected.iter().map(|f| (f.0, f.1)).collect();
    let scanned: Vec<(usize, usize)> = loc_scans.iter().flatten().flatten().map(|s| (s.layer, s.neuron)).collect();
    let control = control_neurons(&p, &chosen, &scanned, setup.control_seed);
    let (a, b) = (answer_token(tok, MCQ_LETTERS[0], 0)?, answer_token(tok, MCQ_LETTERS[1], 0)?);
    let edited = edit_neurons(&p, &chosen, a, b, PAPER_ALPHA1, PAPER_ALPHA2)?;
    let ctrl = edit_neurons(&p, &control, a, b, PAPER_ALPHA1, PAPER_ALPHA2)?;
    let mut heads = anchor_heads(&p, &loc)?;
    heads.truncate(setup.swap_heads);
    let hs: Vec<(usize, usize)> = heads.iter().map(|h| (h.0, h.1)).collect();
    let swap = |rows: &[&BpeMcq]| swap_spec_items(rows, &hs);
    Ok(FullRun {
        after_ioi: answer_items(&edited, &held, &no_hooks)?,
        control_ioi: answer_items(&ctrl, &held, &no_hooks)?,
        after_synthetic: answer_items(&edited, &all_syn, &no_hooks)?,
        control_synthetic: answer_items(&ctrl, &all_syn, &no_hooks)?,
        swapped_ioi: answer_items(&p, &held, &swap)?,
        swapped_synthetic: answer_items(&p, &all_syn, &swap)?,
        processed: p,
        ioi,
        synthetic,
        locate,
        held_out,
        before_ioi,
        before_synthetic,
        lens_ioi,
        lens_synthetic,
        scans,
        fixes,
        selected,
        control,
        heads,
    })
}
