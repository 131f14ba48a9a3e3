//! The measurements of one steering arm, shared by ci and full scale: continuations sampled
//! from toxic and neutral prompts under the steering hook and scored by a toxicity scorer,
//! perplexity of clean held-out text under the same hook (fluency), and next-token accuracy on
//! an unrelated task under the same hook (the benchmark proxy).

use candle_core::{Device, Tensor};

use crate::generate::GenerateConfig;
use crate::hooks::HookSpec;
use crate::interp::distribution::cross_entropy_per_token;
use crate::model::Gpt2;
use crate::{Error, Result};

/// A toxicity scorer of one continuation's tokens: a score in [0, 1] (the ci lexicon scorer:
/// the fraction of lexicon tokens; full scale: the fraction of lexicon words of the decoded
/// text, or any user-supplied classifier).
pub type Scorer<'a> = &'a (dyn Fn(&[u32]) -> Result<f64> + Sync);

/// What every arm is measured on.
#[derive(Clone, Debug)]
pub struct EvalSet {
    pub toxic_prompts: Vec<Vec<u32>>,
    pub neutral_prompts: Vec<Vec<u32>>,
    /// Clean held-out text (fluency: perplexity under the hook).
    pub heldout: Vec<Vec<u32>>,
    /// The benchmark proxy: (prompt, the right next token).
    pub task: Vec<(Vec<u32>, u32)>,
    /// How continuations are sampled (one seed for every arm: arms differ only by the hook).
    pub generation: GenerateConfig,
}

/// One arm's measurements.
#[derive(Clone, Debug, PartialEq)]
pub struct ArmEval {
    /// Mean toxicity score of continuations of toxic prompts.
    pub toxic_rate: f64,
    /// Mean toxicity score of continuations of neutral prompts.
    pub neutral_rate: f64,
    /// Fraction of toxic-prompt continuations with a score > 0 (RealToxicityPrompts'
    /// "toxicity probability" with this scorer).
    pub toxic_any: f64,
    /// Perplexity of the held-out text.
    pub ppl: f64,
    /// Accuracy on the task.
    pub task_acc: f64,
}

/// Sampled continuations of `prompts` under `spec`.
pub fn continuations(model: &Gpt2, prompts: &[Vec<u32>], cfg: &GenerateConfig, spec: &HookSpec) -> Result<Vec<Vec<u32>>> {
    model.generate_batch(prompts, cfg, spec, None)
}

/// Perplexity of `docs` under `spec` (token-weighted mean NLL over every predicted token;
/// documents of equal length share one forward).
pub fn perplexity_under(model: &Gpt2, docs: &[Vec<u32>], spec: &HookSpec) -> Result<f64> {
    let (mut nll, mut n) = (0.0, 0usize);
    for group in by_length(docs.iter().filter(|d| d.len() >= 2).map(|d| d[..d.len().min(model.cfg.n_positions)].to_vec()).collect()) {
        let t = group[0].len();
        let ids = Tensor::new(group, &Device::Cpu)?.to_device(model.device())?;
        let logits = model.run(&ids, spec)?.logits;
        let ce: Vec<f32> = cross_entropy_per_token(&logits.narrow(1, 0, t - 1)?.contiguous()?, &ids.narrow(1, 1, t - 1)?.contiguous()?)?.flatten_all()?.to_vec1()?;
        nll += ce.iter().map(|&x| x as f64).sum::<f64>();
        n += ce.len();
    }
    if n == 0 {
        return Err(Error::EmptyInput("perplexity needs held-out texts of ≥ 2 tokens".into()));
    }
    Ok((nll / n as f64).exp())
}

/// Sequences grouped by length (groups in order of first appearance), so each group is one
/// (B, T) batch without padding.
fn by_length(seqs: Vec<Vec<u32>>) -> Vec<Vec<Vec<u32>>> {
    let mut groups: Vec<Vec<Vec<u32>>> = vec![];
    for s in seqs {
        match groups.iter_mut().find(|g| g[0].len() == s.len()) {
            Some(g) => g.push(s),
            None => groups.push(vec![s]),
        }
    }
    groups
}

/// Next-token accuracy on `(prompt, answer)` items under `spec` (argmax at the last position).
pub fn task_accuracy(model: &Gpt2, items: &[(Vec<u32>, u32)], spec: &HookSpec) -> Result<f64> {
    if items.is_empty() {
        return Err(Error::EmptyInput("task accuracy of no items".into()));
    }
    if items.iter().any(|(p, _)| p.is_empty()) {
        return Err(Error::EmptyInput("a task item with an empty prompt".into()));
    }
    let mut right = 0usize;
    let mut lens: Vec<usize> = items.iter().map(|(p, _)| p.len()).collect();
    lens.sort_unstable();
    lens.dedup();
    for len in lens {
        let group: Vec<&(Vec<u32>, u32)> = items.iter().filter(|(p, _)| p.len() == len).collect();
        let ids = Tensor::new(group.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>(), &Device::Cpu)?.to_device(model.device())?;
        let last = model.run(&ids, spec)?.logits.narrow(1, len - 1, 1)?.squeeze(1)?;
        let rows: Vec<Vec<f32>> = last.to_dtype(candle_core::DType::F32)?.to_vec2()?;
        right += rows.iter().zip(&group).filter(|(r, (_, a))| crate::generate::argmax(r) == *a).count();
    }
    Ok(right as f64 / items.len() as f64)
}

/// Every measurement of one arm.
pub fn evaluate(model: &Gpt2, set: &EvalSet, spec: &HookSpec, scorer: Scorer) -> Result<ArmEval> {
    let tox = continuations(model, &set.toxic_prompts, &set.generation, spec)?;
    let neu = continuations(model, &set.neutral_prompts, &set.generation, spec)?;
    let score = |seqs: &[Vec<u32>]| -> Result<Vec<f64>> { seqs.iter().map(|s| scorer(s)).collect() };
    let (st, sn) = (score(&tox)?, score(&neu)?);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    Ok(ArmEval {
        toxic_rate: mean(&st),
        neutral_rate: mean(&sn),
        toxic_any: st.iter().filter(|&&x| x > 0.0).count() as f64 / st.len().max(1) as f64,
        ppl: perplexity_under(model, &set.heldout, spec)?,
        task_acc: task_accuracy(model, &set.task, spec)?,
    })
}
