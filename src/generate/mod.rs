//! Text generation on the KV cache: greedy, temperature, top-k, top-p, repetition penalty,
//! stop tokens, batches (left-padded), a seed, a per-step callback, hooks active throughout;
//! and log-prob scoring of a continuation.

pub mod beam;
pub mod contrastive;
mod sampler;

pub use beam::{banned_ngram_tokens, beam_search_fn, BeamConfig, BeamOutput, Hypothesis};
pub use contrastive::{contrastive_score, degeneration_penalty, select_candidate, ContrastiveConfig, ContrastiveOutput, ContrastiveStep};
pub use sampler::{argmax, SamplingConfig};

use candle_core::{Device, Tensor, D};
use rand::{rngs::StdRng, SeedableRng};

use crate::hooks::{ActivationCache, HookSpec};
use crate::model::{ForwardOpts, Gpt2, KvCache};
use crate::{Error, Result};

/// Everything that controls one generation.
#[derive(Clone, Debug)]
pub struct GenerateConfig {
    pub max_new_tokens: usize,
    pub sampling: SamplingConfig,
    /// Generation of a row ends after it emits one of these (the stop token is kept).
    pub stop_tokens: Vec<u32>,
    pub seed: u64,
}

impl GenerateConfig {
    /// Argmax decoding.
    pub fn greedy(max_new_tokens: usize) -> Self {
        GenerateConfig { max_new_tokens, sampling: SamplingConfig::default(), stop_tokens: vec![], seed: 0 }
    }
    /// Sampling at `temperature` with a seed.
    pub fn sample(max_new_tokens: usize, temperature: f64, seed: u64) -> Self {
        GenerateConfig { max_new_tokens, sampling: SamplingConfig { temperature, ..Default::default() }, stop_tokens: vec![], seed }
    }
    pub fn top_k(mut self, k: usize) -> Self {
        self.sampling.top_k = Some(k);
        self
    }
    pub fn top_p(mut self, p: f64) -> Self {
        self.sampling.top_p = Some(p);
        self
    }
    pub fn repetition_penalty(mut self, r: f64) -> Self {
        self.sampling.repetition_penalty = r;
        self
    }
    pub fn stop_at(mut self, tokens: &[u32]) -> Self {
        self.stop_tokens = tokens.to_vec();
        self
    }
}

/// What the per-step callback sees.
pub struct Step<'a> {
    pub step: usize,
    /// The token each row chose at this step (finished rows repeat their stop token).
    pub tokens: &'a [u32],
    /// The activations the HookSpec captured during this step's forward.
    pub cache: &'a ActivationCache,
}

impl Gpt2 {
    /// Generates from one prompt; returns only the new tokens.
    pub fn generate(&self, prompt: &[u32], cfg: &GenerateConfig) -> Result<Vec<u32>> {
        Ok(self.generate_batch(&[prompt.to_vec()], cfg, &HookSpec::new(), None)?.remove(0))
    }

    /// Generates from several prompts at once (left-padded), with hooks active at every step
    /// and an optional callback per step (return `false` to stop early). Returns each row's
    /// new tokens, up to and including its stop token.
    pub fn generate_batch(
        &self,
        prompts: &[Vec<u32>],
        cfg: &GenerateConfig,
        spec: &HookSpec,
        mut on_step: Option<&mut dyn FnMut(&Step) -> bool>,
    ) -> Result<Vec<Vec<u32>>> {
        if prompts.is_empty() || prompts.iter().any(|p| p.is_empty()) {
            return Err(Error::EmptyInput("generation needs non-empty prompts".into()));
        }
        let b = prompts.len();
        let t = prompts.iter().map(Vec::len).max().unwrap_or(0);
        if t + cfg.max_new_tokens > self.cfg.n_positions {
            return Err(Error::PromptTooLong { len: t + cfg.max_new_tokens, n_ctx: self.cfg.n_positions });
        }
        let (mut ids, mut mask) = (vec![], vec![]);
        for p in prompts {
            let pad = t - p.len();
            ids.extend(std::iter::repeat_n(0u32, pad).chain(p.iter().copied()));
            mask.extend(std::iter::repeat_n(0u32, pad).chain(std::iter::repeat_n(1, p.len())));
        }
        let dev = Device::Cpu;
        let ids_t = Tensor::from_vec(ids, (b, t), &dev)?;
        let mask_t = Tensor::from_vec(mask, (b, t), &dev)?;
        let padded = prompts.iter().any(|p| p.len() < t);
        let mut kv = KvCache::new(self.cfg.n_layer);
        let opts = ForwardOpts { attention_mask: padded.then_some(&mask_t), last_only: true };
        let mut run = self.run_with(&ids_t, spec, opts, Some(&mut kv))?;
        let mut rng = StdRng::seed_from_u64(cfg.seed);
        let mut seen: Vec<Vec<u32>> = prompts.to_vec();
        let mut out: Vec<Vec<u32>> = vec![vec![]; b];
        let mut done = vec![false; b];
        for step in 0..cfg.max_new_tokens {
            let logits = run.logits.squeeze(1)?.to_vec2::<f32>()?; // (B, V)
            let mut chosen = Vec::with_capacity(b);
            for (r, mut row) in logits.into_iter().enumerate() {
                if done[r] {
                    chosen.push(*out[r].last().expect("a finished row has its stop token"));
                    continue;
                }
                cfg.sampling.penalise(&mut row, &seen[r]);
                let tok = cfg.sampling.choose(&row, &mut rng);
                seen[r].push(tok);
                out[r].push(tok);
                done[r] = cfg.stop_tokens.contains(&tok);
                chosen.push(tok);
            }
            let keep_going = match on_step.as_mut() {
                Some(f) => f(&Step { step, tokens: &chosen, cache: &run.cache }),
                None => true,
            };
            if !keep_going || done.iter().all(|&d| d) || step + 1 == cfg.max_new_tokens {
                break;
            }
            let next = Tensor::from_vec(chosen, (b, 1), &dev)?;
            run = self.run_with(&next, spec, ForwardOpts { attention_mask: None, last_only: true }, Some(&mut kv))?;
        }
        Ok(out)
    }

    /// Log-probabilities of each `continuation` token given `prompt` (one forward).
    /// Their sum is the continuation's log-likelihood.
    pub fn score_continuation(&self, prompt: &[u32], continuation: &[u32]) -> Result<Vec<f32>> {
        if prompt.is_empty() || continuation.is_empty() {
            return Err(Error::EmptyInput("scoring needs a non-empty prompt and continuation".into()));
        }
        let all: Vec<u32> = prompt.iter().chain(continuation).copied().collect();
        let n = all.len();
        let logits = self.forward(&Tensor::from_vec(all.clone(), (1, n), &Device::Cpu)?)?.squeeze(0)?; // (T, V)
        let lp = crate::model::ops::log_softmax_last(&logits.narrow(0, prompt.len() - 1, continuation.len())?)?;
        let tgt = Tensor::from_vec(continuation.to_vec(), (continuation.len(), 1), &Device::Cpu)?;
        Ok(lp.gather(&tgt, D::Minus1)?.squeeze(1)?.to_vec1::<f32>()?)
    }
}
pub mod gedi;
