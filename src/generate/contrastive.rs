//! Contrastive search (Su et al., "A Contrastive Framework for Neural Text Generation",
//! NeurIPS 2022; Su & Collier, "Contrastive Search Is What You Need For Neural Text
//! Generation", TMLR 2023).
//!
//! At each step the `k` most likely next tokens V⁽ᵏ⁾ are the candidates, and the chosen token is
//!
//! ```text
//! x_t = argmax_{v ∈ V⁽ᵏ⁾}  (1 − α) · p(v | x_<t)  −  α · max_{1≤j≤t−1} cos(h_v, h_{x_j})
//!                          └─ model confidence ─┘     └──── degeneration penalty ────┘
//! ```
//!
//! where `h` is the model's last hidden state (GPT-2: the output of the final LayerNorm,
//! γ and β applied — Hugging Face's `hidden_states[-1]`) and `h_v` is the state the model
//! produces when `v` is appended. The previous states `h_{x_j}` cover the whole context,
//! prompt included. As in the reference implementations, the k candidates are scored in
//! one batched forward step: the KV cache rows are duplicated k times
//! ([`crate::model::KvCache::select_rows`]), each copy is extended by one candidate, and the winner's row
//! is kept — its logits are the next step's distribution, so there is one forward per token.
//!
//! α = 0 (or k = 1) is greedy decoding; candidates are ranked by logit, so ties resolve as
//! `argmax` does (lowest id).

use candle_core::{DType, Tensor, D};

use super::beam::prefill;
use crate::hooks::{HookCtx, HookPoint, HookSpec};
use crate::model::{ForwardOpts, Gpt2};
use crate::{Error, Result};

/// Everything that controls one contrastive search.
#[derive(Clone, Debug, PartialEq)]
pub struct ContrastiveConfig {
    /// k: how many of the most likely tokens are candidates (the paper: 4–10; HF `top_k`).
    pub top_k: usize,
    /// α: weight of the degeneration penalty (HF `penalty_alpha`); 0 is greedy.
    pub alpha: f64,
    pub max_new_tokens: usize,
    /// A row stops after emitting one of these (the token is kept).
    pub stop_tokens: Vec<u32>,
}

impl ContrastiveConfig {
    /// k candidates, penalty weight α.
    pub fn new(top_k: usize, alpha: f64, max_new_tokens: usize) -> Self {
        ContrastiveConfig { top_k, alpha, max_new_tokens, stop_tokens: vec![] }
    }
    pub fn stop_at(mut self, tokens: &[u32]) -> Self {
        self.stop_tokens = tokens.to_vec();
        self
    }
    fn check(&self) -> Result<()> {
        if self.top_k == 0 {
            return Err(Error::Msg("contrastive search needs top_k >= 1".into()));
        }
        if !(0.0..=1.0).contains(&self.alpha) {
            return Err(Error::Msg(format!("contrastive search needs 0 <= alpha <= 1, got {}", self.alpha)));
        }
        if self.max_new_tokens == 0 {
            return Err(Error::Msg("contrastive search needs max_new_tokens >= 1".into()));
        }
        Ok(())
    }
}

/// One decision of one row, for inspection ([`Gpt2::contrastive_search_traced`]).
#[derive(Clone, Debug, PartialEq)]
pub struct ContrastiveStep {
    pub step: usize,
    pub row: usize,
    /// The k candidates, most likely first.
    pub candidates: Vec<u32>,
    /// p(v | x_<t) of each candidate.
    pub model_confidence: Vec<f32>,
    /// max_j cos(h_v, h_{x_j}) of each candidate.
    pub degeneration_penalty: Vec<f32>,
    /// (1 − α)·confidence − α·penalty.
    pub score: Vec<f32>,
    /// Index into `candidates` of the chosen token.
    pub chosen: usize,
}

/// The output of a traced search: new tokens per row, and every decision of every
/// unfinished row in step order.
#[derive(Clone, Debug, PartialEq)]
pub struct ContrastiveOutput {
    pub tokens: Vec<Vec<u32>>,
    pub steps: Vec<ContrastiveStep>,
}

/// The contrastive objective of one candidate: `(1 − α)·confidence − α·penalty`.
pub fn contrastive_score(model_confidence: f32, degeneration_penalty: f32, alpha: f64) -> f32 {
    ((1.0 - alpha) * model_confidence as f64 - alpha * degeneration_penalty as f64) as f32
}

/// The degeneration penalty of a candidate representation: its largest cosine similarity
/// with any of the context representations (`-inf` for an empty context).
pub fn degeneration_penalty(context: &[Vec<f32>], candidate: &[f32]) -> f32 {
    let norm = |v: &[f32]| v.iter().map(|x| (*x as f64) * (*x as f64)).sum::<f64>().sqrt().max(1e-12);
    let nc = norm(candidate);
    context
        .iter()
        .map(|h| (h.iter().zip(candidate).map(|(a, b)| *a as f64 * *b as f64).sum::<f64>() / (norm(h) * nc)) as f32)
        .fold(f32::NEG_INFINITY, f32::max)
}

/// The index of the best candidate under the contrastive objective (the first on ties).
pub fn select_candidate(model_confidence: &[f32], degeneration_penalty: &[f32], alpha: f64) -> usize {
    let mut best = 0;
    let mut best_score = f32::NEG_INFINITY;
    for (i, (&c, &p)) in model_confidence.iter().zip(degeneration_penalty).enumerate() {
        let s = contrastive_score(c, p, alpha);
        if s > best_score {
            best = i;
            best_score = s;
        }
    }
    best
}

/// The model's last hidden state from the last block's residual output: the model's own final
/// norm (LayerNorm with γ and β, or whatever norm mode it runs), i.e. what the unembedding
/// reads, L2-normalised over the last dim.
fn unit_last_hidden(model: &Gpt2, resid_post: &Tensor) -> Result<Tensor> {
    let h = model.ln_f.forward(resid_post, &mut HookCtx::new(&HookSpec::new()))?;
    let h = h.to_dtype(DType::F32)?;
    let norm = h.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?.clamp(1e-12, f64::INFINITY)?;
    Ok(h.broadcast_div(&norm)?)
}

/// Top-k candidates of one row of logits by logit (ties: lower id) and their probabilities.
fn candidates(logits: &[f32], k: usize) -> (Vec<u32>, Vec<f32>) {
    let mut idx: Vec<usize> = (0..logits.len()).collect();
    let cmp = |a: &usize, b: &usize| logits[*b].total_cmp(&logits[*a]).then(a.cmp(b));
    let k = k.min(logits.len());
    if idx.len() > k {
        idx.select_nth_unstable_by(k, cmp);
        idx.truncate(k);
    }
    idx.sort_unstable_by(cmp);
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let z: f64 = logits.iter().map(|&l| (l as f64 - max).exp()).sum();
    let probs = idx.iter().map(|&i| ((logits[i] as f64 - max).exp() / z) as f32).collect();
    (idx.into_iter().map(|i| i as u32).collect(), probs)
}

impl Gpt2 {
    /// Contrastive search from one prompt; returns the new tokens.
    pub fn contrastive_search(&self, prompt: &[u32], cfg: &ContrastiveConfig) -> Result<Vec<u32>> {
        Ok(self.contrastive_search_batch(&[prompt.to_vec()], cfg)?.remove(0))
    }

    /// Contrastive search from several prompts at once (left-padded; one forward of
    /// `prompts × k` rows per step). Returns each row's new tokens, up to and including
    /// its stop token.
    pub fn contrastive_search_batch(&self, prompts: &[Vec<u32>], cfg: &ContrastiveConfig) -> Result<Vec<Vec<u32>>> {
        Ok(self.contrastive_inner(prompts, cfg, false)?.tokens)
    }

    /// Like [`Gpt2::contrastive_search_batch`], also recording every candidate's model
    /// confidence, degeneration penalty and score.
    pub fn contrastive_search_traced(&self, prompts: &[Vec<u32>], cfg: &ContrastiveConfig) -> Result<ContrastiveOutput> {
        self.contrastive_inner(prompts, cfg, true)
    }

    fn contrastive_inner(&self, prompts: &[Vec<u32>], cfg: &ContrastiveConfig, trace: bool) -> Result<ContrastiveOutput> {
        cfg.check()?;
        let k = cfg.top_k.min(self.cfg.vocab_size);
        let last = HookPoint::ResidPost(self.cfg.n_layer - 1);
        let spec = HookSpec::new().capture(last);
        let (run, mut kv) = prefill(self, prompts, &spec, cfg.max_new_tokens)?;
        let b = prompts.len();
        let dev = self.device().clone();
        // context representations (B, S, C), unit length; padded positions masked out of the max
        let mut context = unit_last_hidden(self, run.cache.get(last)?)?;
        let t = context.dim(1)?;
        let mut valid: Vec<Vec<f32>> = prompts.iter().map(|p| (0..t).map(|i| if i >= t - p.len() { 0.0 } else { f32::NEG_INFINITY }).collect()).collect();
        let mut logits: Vec<Vec<f32>> = run.logits.squeeze(1)?.to_dtype(DType::F32)?.to_vec2()?;
        let mut out: Vec<Vec<u32>> = vec![vec![]; b];
        let mut done = vec![false; b];
        let mut steps = vec![];
        for step in 0..cfg.max_new_tokens {
            // 1. candidates and their model confidence
            let (mut cand, mut conf) = (Vec::with_capacity(b * k), Vec::with_capacity(b));
            for (r, row) in logits.iter().enumerate() {
                if done[r] {
                    let stop = *out[r].last().expect("a finished row has its stop token");
                    cand.extend(std::iter::repeat_n(stop, k));
                    conf.push(vec![0.0; k]);
                } else {
                    let (c, p) = candidates(row, k);
                    cand.extend(c);
                    conf.push(p);
                }
            }
            // 2. one batched step: each row's cache copied k times, one candidate per copy
            let dup: Vec<usize> = (0..b).flat_map(|r| std::iter::repeat_n(r, k)).collect();
            kv.select_rows(&dup)?;
            let ids = Tensor::from_vec(cand.clone(), (b * k, 1), &dev)?;
            let run = self.run_with(&ids, &spec, ForwardOpts { attention_mask: None, last_only: true }, Some(&mut kv))?;
            let h = unit_last_hidden(self, run.cache.get(last)?)?.reshape((b, k, self.cfg.n_embd))?; // (B, k, C)
            // 3. degeneration penalty: max cosine with every real context position
            let mask = Tensor::from_vec(valid.iter().flatten().copied().collect::<Vec<f32>>(), (b, 1, context.dim(1)?), &dev)?;
            let cos = h.matmul(&context.transpose(1, 2)?.contiguous()?)?.broadcast_add(&mask)?; // (B, k, S)
            let penalty: Vec<Vec<f32>> = cos.max(D::Minus1)?.to_vec2()?;
            // 4. choose, keep the winner's cache row, logits and representation
            let mut keep = Vec::with_capacity(b);
            for r in 0..b {
                let sel = if done[r] { 0 } else { select_candidate(&conf[r], &penalty[r], cfg.alpha) };
                keep.push(r * k + sel);
                if done[r] {
                    continue;
                }
                let tok = cand[r * k + sel];
                if trace {
                    let score = conf[r].iter().zip(&penalty[r]).map(|(&c, &p)| contrastive_score(c, p, cfg.alpha)).collect();
                    steps.push(ContrastiveStep {
                        step,
                        row: r,
                        candidates: cand[r * k..(r + 1) * k].to_vec(),
                        model_confidence: conf[r].clone(),
                        degeneration_penalty: penalty[r].clone(),
                        score,
                        chosen: sel,
                    });
                }
                out[r].push(tok);
                done[r] = cfg.stop_tokens.contains(&tok);
            }
            if done.iter().all(|&d| d) || step + 1 == cfg.max_new_tokens {
                break;
            }
            kv.select_rows(&keep)?;
            let keep_t = Tensor::from_vec(keep.iter().map(|&i| i as u32).collect::<Vec<_>>(), b, &dev)?;
            logits = run.logits.squeeze(1)?.index_select(&keep_t, 0)?.to_dtype(DType::F32)?.to_vec2()?;
            let chosen_h = h.reshape((b * k, self.cfg.n_embd))?.index_select(&keep_t, 0)?.unsqueeze(1)?; // (B, 1, C)
            context = Tensor::cat(&[&context, &chosen_h], 1)?;
            valid.iter_mut().for_each(|v| v.push(0.0));
        }
        Ok(ContrastiveOutput { tokens: out, steps })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objective_by_hand() {
        // two candidates: confident but repetitive vs less confident and new
        let conf = [0.6f32, 0.3];
        let pen = [0.9f32, 0.1];
        assert_eq!(select_candidate(&conf, &pen, 0.0), 0);
        // α = 0.5: 0.5·0.6 − 0.5·0.9 = −0.15 < 0.5·0.3 − 0.5·0.1 = 0.10
        assert_eq!(select_candidate(&conf, &pen, 0.5), 1);
        assert!((contrastive_score(0.6, 0.9, 0.5) + 0.15).abs() < 1e-6);
        // ties keep the first (most likely) candidate
        assert_eq!(select_candidate(&[0.5, 0.5], &[0.2, 0.2], 0.3), 0);
    }

    #[test]
    fn penalty_is_max_cosine() {
        let ctx = vec![vec![1.0f32, 0.0], vec![0.0, 2.0], vec![-1.0, -1.0]];
        assert!((degeneration_penalty(&ctx, &[3.0, 0.0]) - 1.0).abs() < 1e-6);
        // (1,1)/√2 against (1,0) and (0,1): cos = 1/√2
        assert!((degeneration_penalty(&ctx, &[1.0, 1.0]) - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
        assert_eq!(degeneration_penalty(&[], &[1.0, 0.0]), f32::NEG_INFINITY);
    }

    #[test]
    fn candidates_rank_by_logit() {
        let (c, p) = candidates(&[0.0, 2.0, 1.0, 2.0], 3);
        assert_eq!(c, vec![1, 3, 2]);
        assert!((p[0] - p[1]).abs() < 1e-7 && p[0] > p[2]);
        let z = 1.0 + 2.0 * 2f32.exp() + 1f32.exp();
        assert!((p[2] - 1f32.exp() / z).abs() < 1e-6);
    }
}
