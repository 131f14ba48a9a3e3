//! Beam search on the KV cache, with the Hugging Face conventions: `num_beams` running
//! hypotheses per prompt, a length penalty (a finished hypothesis scores
//! `sum log p / len^length_penalty`, `len` = its generated tokens, the EOS token included, as
//! in `transformers` ≥ 4.48), a no-repeat n-gram ban over prompt + generation, EOS handling and
//! the "heuristic" early stop. Returns every kept hypothesis, best first.
//!
//! One forward per step for all prompts and beams together: the cache rows are re-ordered and
//! duplicated with [`crate::model::KvCache::select_rows`] as beams branch.
//!
//! ```
//! use gpt2lab::generate::{beam_search_fn, BeamConfig};
//! // a 3-token "model" whose next-token distribution depends on the last token only
//! let table = |seq: &[u32]| -> Vec<f32> {
//!     match seq.last() {
//!         Some(0) => vec![f32::NEG_INFINITY, 0.6f32.ln(), 0.4f32.ln()], // 0 -> 1 (0.6) or 2 (0.4)
//!         Some(1) => vec![0.5f32.ln(), 0.5f32.ln(), f32::NEG_INFINITY], // 1 -> a coin flip
//!         _ => vec![f32::NEG_INFINITY, f32::NEG_INFINITY, 0.0],        // 2 -> 2 surely
//!     }
//! };
//! // greedy takes 1 (0.6) then 0.5: p = 0.3; beam 2 finds 2 then 2: p = 0.4
//! let out = beam_search_fn(&[0], &BeamConfig::new(2, 2).length_penalty(0.0), table).unwrap();
//! assert_eq!(out.best().tokens, vec![2, 2]);
//! assert!((out.best().sum_logprobs - 0.4f64.ln()).abs() < 1e-6);
//! ```

use candle_core::Tensor;

use crate::hooks::HookSpec;
use crate::model::{ForwardOpts, Gpt2, KvCache, Run};
use crate::{Error, Result};

/// Everything that controls one beam search.
#[derive(Clone, Debug, PartialEq)]
pub struct BeamConfig {
    /// Beam width: hypotheses kept per prompt (1 is greedy decoding).
    pub num_beams: usize,
    pub max_new_tokens: usize,
    /// Exponent α of the length normalisation `score = sum log p / len^α` (HF default 1.0;
    /// 0 ranks by total log-probability; > 0 favours longer sequences).
    pub length_penalty: f64,
    /// Forbid any n-gram of this size from occurring twice in prompt + generation (HF's
    /// `no_repeat_ngram_size`); 0 is off.
    pub no_repeat_ngram_size: usize,
    /// A hypothesis that emits this token is finished (the token is kept).
    pub eos_token_id: Option<u32>,
    /// Stop a prompt as soon as `num_beams` hypotheses are finished (HF `early_stopping=True`);
    /// otherwise stop when no running beam can still beat the worst finished one at the
    /// current length (HF's default heuristic).
    pub early_stopping: bool,
}

impl BeamConfig {
    /// Width `num_beams`, length penalty 1.0 (HF default), no n-gram ban, no EOS.
    pub fn new(num_beams: usize, max_new_tokens: usize) -> Self {
        BeamConfig { num_beams, max_new_tokens, length_penalty: 1.0, no_repeat_ngram_size: 0, eos_token_id: None, early_stopping: false }
    }
    pub fn length_penalty(mut self, alpha: f64) -> Self {
        self.length_penalty = alpha;
        self
    }
    pub fn no_repeat_ngram_size(mut self, n: usize) -> Self {
        self.no_repeat_ngram_size = n;
        self
    }
    pub fn eos(mut self, token: u32) -> Self {
        self.eos_token_id = Some(token);
        self
    }
    pub fn early_stopping(mut self, on: bool) -> Self {
        self.early_stopping = on;
        self
    }

    fn check(&self) -> Result<()> {
        if self.num_beams == 0 {
            return Err(Error::Msg("beam search needs num_beams >= 1".into()));
        }
        if self.max_new_tokens == 0 {
            return Err(Error::Msg("beam search needs max_new_tokens >= 1".into()));
        }
        Ok(())
    }

    /// `sum_logprobs / len^length_penalty`.
    pub fn normalise(&self, sum_logprobs: f64, len: usize) -> f64 {
        sum_logprobs / (len.max(1) as f64).powf(self.length_penalty)
    }
}

/// One candidate sequence of a beam search.
#[derive(Clone, Debug, PartialEq)]
pub struct Hypothesis {
    /// The generated tokens (prompt excluded), ending with the EOS token when `finished`.
    pub tokens: Vec<u32>,
    /// Sum of the log-probabilities of `tokens` (after the n-gram ban; not renormalised).
    pub sum_logprobs: f64,
    /// `sum_logprobs / len^length_penalty`: what hypotheses are ranked by.
    pub score: f64,
    /// Ended with the EOS token (otherwise it ran to `max_new_tokens` or was cut at the end).
    pub finished: bool,
}

/// The result for one prompt: the kept hypotheses (at most `num_beams`), best score first.
#[derive(Clone, Debug, PartialEq)]
pub struct BeamOutput {
    pub hypotheses: Vec<Hypothesis>,
}

impl BeamOutput {
    /// The highest-scoring hypothesis. A search always returns at least one (when no token
    /// can be generated at all it is the empty, unfinished one).
    pub fn best(&self) -> &Hypothesis {
        &self.hypotheses[0]
    }
    /// The best hypothesis' tokens.
    pub fn tokens(&self) -> &[u32] {
        &self.best().tokens
    }
}

/// The tokens that `no_repeat_ngram_size = n` forbids after `seq`: every token that would
/// complete an n-gram already present in `seq` (HF `NoRepeatNGramLogitsProcessor`).
pub fn banned_ngram_tokens(seq: &[u32], n: usize) -> Vec<u32> {
    if n == 0 || seq.len() + 1 < n {
        return vec![];
    }
    let prefix = &seq[seq.len() + 1 - n..]; // the last n-1 tokens
    let mut banned: Vec<u32> = seq.windows(n).filter(|w| &w[..n - 1] == prefix).map(|w| w[n - 1]).collect();
    banned.sort_unstable();
    banned.dedup();
    banned
}

/// Log-softmax of one row of logits, in f64.
pub(crate) fn log_softmax(logits: &[f32]) -> Vec<f64> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    if !max.is_finite() {
        return vec![f64::NEG_INFINITY; logits.len()];
    }
    let lse = logits.iter().map(|&l| (l as f64 - max).exp()).sum::<f64>().ln() + max;
    logits.iter().map(|&l| l as f64 - lse).collect()
}

/// Indices of the `k` largest finite values, largest first, lower index first on ties.
pub(crate) fn top_k_indices(v: &[f64], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..v.len()).filter(|&i| v[i] > f64::NEG_INFINITY).collect();
    let cmp = |a: &usize, b: &usize| v[*b].total_cmp(&v[*a]).then(a.cmp(b));
    if idx.len() > k {
        idx.select_nth_unstable_by(k, cmp);
        idx.truncate(k);
    }
    idx.sort_unstable_by(cmp);
    idx
}

/// Where the next-token logits of the running beams come from.
trait Backend {
    /// Keep the rows `parents` (indices into the current rows, repeats allowed), append
    /// `tokens[i]` to new row `i`, and return each new row's next-token logits.
    fn advance(&mut self, parents: &[usize], tokens: &[u32]) -> Result<Vec<Vec<f32>>>;
}

struct Running {
    tokens: Vec<u32>,
    sum: f64,
}

struct PromptState {
    prompt: Vec<u32>,
    running: Vec<Running>,
    finished: Vec<Hypothesis>,
    done: bool,
}

impl PromptState {
    fn keep_best(&mut self, n: usize) {
        self.finished.sort_by(|a, b| b.score.total_cmp(&a.score));
        self.finished.truncate(n);
    }
}

/// The search itself, over any backend. `logits` holds one row per running beam of each
/// unfinished prompt, in prompt order (initially one row per prompt).
fn search(prompts: &[Vec<u32>], cfg: &BeamConfig, mut logits: Vec<Vec<f32>>, backend: &mut dyn Backend) -> Result<Vec<BeamOutput>> {
    cfg.check()?;
    let nb = cfg.num_beams;
    let mut states: Vec<PromptState> =
        prompts.iter().map(|p| PromptState { prompt: p.clone(), running: vec![Running { tokens: vec![], sum: 0.0 }], finished: vec![], done: false }).collect();
    for step in 0..cfg.max_new_tokens {
        let gen_len = step + 1;
        let last_step = gen_len == cfg.max_new_tokens;
        let (mut parents, mut next_tokens) = (vec![], vec![]);
        let mut row = 0;
        for st in states.iter_mut().filter(|s| !s.done) {
            // candidates (score, beam, token) from every running beam of this prompt
            let mut cands: Vec<(f64, usize, u32)> = vec![];
            for (j, beam) in st.running.iter().enumerate() {
                let row_logits = &logits[row + j];
                // NaN or +inf has no log-softmax; -inf is a masked token and fine
                if let Some(x) = row_logits.iter().find(|x| x.is_nan() || **x == f32::INFINITY) {
                    return Err(Error::NonFiniteOutput(format!("beam search step {step}: a next-token logit is {x}")));
                }
                let mut lp = log_softmax(row_logits);
                if cfg.no_repeat_ngram_size > 0 {
                    let seq: Vec<u32> = st.prompt.iter().chain(&beam.tokens).copied().collect();
                    for t in banned_ngram_tokens(&seq, cfg.no_repeat_ngram_size) {
                        if let Some(x) = lp.get_mut(t as usize) {
                            *x = f64::NEG_INFINITY;
                        }
                    }
                }
                // any of the prompt's global top 2·nb is in its own beam's top 2·nb
                for t in top_k_indices(&lp, 2 * nb) {
                    cands.push((beam.sum + lp[t], j, t as u32));
                }
            }
            let row_base = row;
            row += st.running.len();
            cands.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
            cands.truncate(2 * nb);
            let mut next: Vec<(Running, usize)> = vec![];
            for (rank, &(score, j, t)) in cands.iter().enumerate() {
                let mut tokens = st.running[j].tokens.clone();
                tokens.push(t);
                if Some(t) == cfg.eos_token_id {
                    // only an EOS among the top num_beams candidates finishes a hypothesis
                    if rank < nb {
                        st.finished.push(Hypothesis { score: cfg.normalise(score, tokens.len()), tokens, sum_logprobs: score, finished: true });
                    }
                    continue;
                }
                next.push((Running { tokens, sum: score }, j));
                if next.len() == nb {
                    break;
                }
            }
            st.keep_best(nb);
            if next.is_empty() && st.finished.is_empty() {
                // Every continuation is banned (or -inf) and nothing has finished: the running
                // beams cannot grow, so they are the result (cut short, `finished: false`);
                // dropping them would leave no hypothesis at all.
                for r in st.running.drain(..) {
                    let score = cfg.normalise(r.sum, r.tokens.len());
                    st.finished.push(Hypothesis { tokens: r.tokens, sum_logprobs: r.sum, score, finished: false });
                }
                st.keep_best(nb);
            }
            let done = match next.first() {
                None => true, // every continuation banned, or only EOS left
                Some((best, _)) => {
                    let worst = st.finished.last().map(|w| w.score);
                    st.finished.len() >= nb && (cfg.early_stopping || worst.is_some_and(|w| w >= cfg.normalise(best.sum, gen_len)))
                }
            };
            if done {
                st.done = true;
                st.running.clear();
                continue;
            }
            st.running.clear();
            for (r, j) in next {
                parents.push(row_base + j);
                next_tokens.push(*r.tokens.last().expect("a running beam has a token"));
                st.running.push(r);
            }
            if last_step {
                // out of budget: the running beams compete with the finished ones
                for r in st.running.drain(..) {
                    let score = cfg.normalise(r.sum, r.tokens.len());
                    st.finished.push(Hypothesis { tokens: r.tokens, sum_logprobs: r.sum, score, finished: false });
                }
                st.keep_best(nb);
                st.done = true;
            }
        }
        if last_step || parents.is_empty() {
            break;
        }
        logits = backend.advance(&parents, &next_tokens)?;
    }
    Ok(states
        .into_iter()
        .map(|mut st| {
            for r in st.running.drain(..) {
                let score = cfg.normalise(r.sum, r.tokens.len());
                st.finished.push(Hypothesis { tokens: r.tokens, sum_logprobs: r.sum, score, finished: false });
            }
            st.keep_best(cfg.num_beams);
            BeamOutput { hypotheses: st.finished }
        })
        .collect())
}

/// Left-pads the prompts, runs them through the model (logits of the last position only)
/// and returns the run and the filled cache. Shared by beam and contrastive search.
pub(crate) fn prefill(model: &Gpt2, prompts: &[Vec<u32>], spec: &HookSpec, max_new_tokens: usize) -> Result<(Run, KvCache)> {
    if prompts.is_empty() || prompts.iter().any(|p| p.is_empty()) {
        return Err(Error::EmptyInput("decoding needs non-empty prompts".into()));
    }
    let b = prompts.len();
    let t = prompts.iter().map(Vec::len).max().unwrap_or(0);
    if t + max_new_tokens > model.cfg.n_positions {
        return Err(Error::PromptTooLong { len: t + max_new_tokens, n_ctx: model.cfg.n_positions });
    }
    let (mut ids, mut mask) = (vec![], vec![]);
    for p in prompts {
        let pad = t - p.len();
        ids.extend(std::iter::repeat_n(0u32, pad).chain(p.iter().copied()));
        mask.extend(std::iter::repeat_n(0u32, pad).chain(std::iter::repeat_n(1, p.len())));
    }
    let dev = model.device().clone();
    let ids_t = Tensor::from_vec(ids, (b, t), &dev)?;
    let mask_t = Tensor::from_vec(mask, (b, t), &dev)?;
    let padded = prompts.iter().any(|p| p.len() < t);
    let mut kv = KvCache::new(model.cfg.n_layer);
    let opts = ForwardOpts { attention_mask: padded.then_some(&mask_t), last_only: true };
    let run = model.run_with(&ids_t, spec, opts, Some(&mut kv))?;
    Ok((run, kv))
}

/// The model behind a beam search: the KV cache, re-ordered each step.
struct KvBackend<'a> {
    model: &'a Gpt2,
    kv: KvCache,
}

impl Backend for KvBackend<'_> {
    fn advance(&mut self, parents: &[usize], tokens: &[u32]) -> Result<Vec<Vec<f32>>> {
        self.kv.select_rows(parents)?;
        let ids = Tensor::from_vec(tokens.to_vec(), (tokens.len(), 1), self.model.device())?;
        let run = self.model.run_with(&ids, &HookSpec::new(), ForwardOpts { attention_mask: None, last_only: true }, Some(&mut self.kv))?;
        Ok(run.logits.squeeze(1)?.to_dtype(candle_core::DType::F32)?.to_vec2::<f32>()?)
    }
}

/// A backend from a function of the whole sequence (prompt + generated) to next-token logits.
struct FnBackend<F: FnMut(&[u32]) -> Vec<f32>> {
    f: F,
    rows: Vec<Vec<u32>>,
}

impl<F: FnMut(&[u32]) -> Vec<f32>> Backend for FnBackend<F> {
    fn advance(&mut self, parents: &[usize], tokens: &[u32]) -> Result<Vec<Vec<f32>>> {
        self.rows = parents.iter().zip(tokens).map(|(&p, &t)| self.rows[p].iter().copied().chain([t]).collect()).collect();
        Ok(self.rows.iter().map(|r| (self.f)(r)).collect())
    }
}

/// Beam search with next-token logits (or log-probabilities) from any function of the
/// sequence so far (prompt + generated): for hand-checked examples and non-neural scorers.
pub fn beam_search_fn(prompt: &[u32], cfg: &BeamConfig, mut next_logits: impl FnMut(&[u32]) -> Vec<f32>) -> Result<BeamOutput> {
    let first = vec![next_logits(prompt)];
    let mut backend = FnBackend { f: next_logits, rows: vec![prompt.to_vec()] };
    Ok(search(&[prompt.to_vec()], cfg, first, &mut backend)?.remove(0))
}

impl Gpt2 {
    /// Beam search from one prompt.
    pub fn beam_search(&self, prompt: &[u32], cfg: &BeamConfig) -> Result<BeamOutput> {
        Ok(self.beam_search_batch(&[prompt.to_vec()], cfg)?.remove(0))
    }

    /// Beam search from several prompts at once (left-padded; one forward per step for all
    /// prompts × beams; a prompt's rows leave the batch when it is done).
    pub fn beam_search_batch(&self, prompts: &[Vec<u32>], cfg: &BeamConfig) -> Result<Vec<BeamOutput>> {
        cfg.check()?;
        let (run, kv) = prefill(self, prompts, &HookSpec::new(), cfg.max_new_tokens)?;
        let logits = run.logits.squeeze(1)?.to_dtype(candle_core::DType::F32)?.to_vec2::<f32>()?;
        let mut backend = KvBackend { model: self, kv };
        search(prompts, cfg, logits, &mut backend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banned_tokens_follow_hf() {
        // bigrams of [1 2 3 1]: (1,2) (2,3) (3,1); last token 1 → 2 is banned
        assert_eq!(banned_ngram_tokens(&[1, 2, 3, 1], 2), vec![2]);
        assert_eq!(banned_ngram_tokens(&[1, 2, 3, 1, 2], 3), vec![3]);
        assert_eq!(banned_ngram_tokens(&[1, 2], 3), Vec::<u32>::new());
        assert_eq!(banned_ngram_tokens(&[5, 5], 2), vec![5]);
        assert_eq!(banned_ngram_tokens(&[1, 2, 3], 0), Vec::<u32>::new());
    }

    #[test]
    fn top_k_breaks_ties_by_index() {
        let v = [1.0, 3.0, 3.0, f64::NEG_INFINITY, 2.0];
        assert_eq!(top_k_indices(&v, 3), vec![1, 2, 4]);
        assert_eq!(top_k_indices(&v, 10), vec![1, 2, 4, 0]);
    }
}
