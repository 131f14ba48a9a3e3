//! k-shot classification by language-model scoring, as mGPT evaluates XNLI, PAWS-X, XCOPA,
//! XWinograd and Amazon reviews (`evaluation/classification/evaluate/mgpt_classification.py` of
//! `ai-forever/mgpt`, re-implemented here from its description):
//!
//! 1. each label is **verbalised into a full text** (XNLI: `premise, right? Yes, hypothesis`);
//! 2. k demonstrations are drawn without replacement from a label-balanced pool of verbalised
//!    validation examples (each with its gold label's text), joined with `"\n"`, and a `"\n"`
//!    ends them; the candidate follows;
//! 3. a prompt longer than the context keeps its last tokens (left truncation), and the partial
//!    first line that truncation leaves is dropped;
//! 4. the score of a candidate is the **sum** of the per-token LM losses of its text, and the
//!    prediction is the **argmin** over labels.
//!
//! The official code sums the losses over the whole prompt; demonstrations and the shared part
//! of the candidate are the same for every label, so (without truncation) this is the sum over
//! the continuation plus a constant, and the argmin is the same.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::data::TextTokenizer;
use crate::eval::token_surprisals;
use crate::model::Gpt2;
use crate::{Error, Result};

/// A classification example: one text (or a pair, for NLI and paraphrase) and its gold label.
#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    pub text: String,
    pub text_b: Option<String>,
    pub label: usize,
}

impl Example {
    pub fn single(text: impl Into<String>, label: usize) -> Self {
        Example {
            text: text.into(),
            text_b: None,
            label,
        }
    }
    pub fn pair(a: impl Into<String>, b: impl Into<String>, label: usize) -> Self {
        Example {
            text: a.into(),
            text_b: Some(b.into()),
            label,
        }
    }
}

/// How a label becomes text.
#[derive(Clone, Debug, PartialEq)]
pub enum Verbalizer {
    /// `text + sep + " " + labels[l]` (our synthetic task: `sentence → pa`).
    Suffix { sep: String, labels: Vec<String> },
    /// XNLI: `premise (final "." → ","), question? answer, hypothesis`.
    Xnli { question: String, answers: Vec<String> },
    /// PAWS-X: `sentence1 (final "." → ","), question + answer sentence2`.
    PawsX { question: String, answers: Vec<String> },
}

/// Detokenisation the official prompts apply after joining.
fn tidy(s: &str) -> String {
    s.replace(" .", ".").replace(" ,", ",").replace(" '", "'").replace(" n't", "n't")
}

fn comma_end(s: &str) -> String {
    let s = s.trim();
    match s.strip_suffix('.') {
        Some(h) => format!("{h},"),
        None => s.to_string(),
    }
}

impl Verbalizer {
    /// XNLI in English: `right?` with `Yes` / `Also` / `No` for entailment / neutral / contradiction.
    pub fn xnli_en() -> Self {
        Verbalizer::Xnli {
            question: "right".into(),
            answers: vec!["Yes".into(), "Also".into(), "No".into()],
        }
    }
    /// PAWS-X in English: `right? ` with `No,` / `Yes,` for labels 0 (not a paraphrase) / 1.
    pub fn pawsx_en() -> Self {
        Verbalizer::PawsX {
            question: "right? ".into(),
            answers: vec!["No,".into(), "Yes,".into()],
        }
    }

    pub fn n_labels(&self) -> usize {
        match self {
            Verbalizer::Suffix { labels, .. } => labels.len(),
            Verbalizer::Xnli { answers, .. } | Verbalizer::PawsX { answers, .. } => answers.len(),
        }
    }

    /// `ex` verbalised with label `label`. Typed errors: a label out of range, a pair task
    /// without its second text.
    pub fn verbalize(&self, ex: &Example, label: usize) -> Result<String> {
        if label >= self.n_labels() {
            return Err(Error::Data(format!("label {label} of a {}-label task", self.n_labels())));
        }
        let second = || {
            ex.text_b
                .as_deref()
                .ok_or_else(|| Error::Data("a sentence-pair task needs text_b".into()))
        };
        Ok(match self {
            Verbalizer::Suffix { sep, labels } => format!("{}{sep} {}", ex.text, labels[label]),
            Verbalizer::Xnli { question, answers } => {
                tidy(&format!("{} {question}? {}, {}", comma_end(&ex.text), answers[label], second()?))
            }
            Verbalizer::PawsX { question, answers } => tidy(&format!("{} {question}{} {}", comma_end(&ex.text), answers[label], second()?)),
        })
    }
}

/// The label-balanced pool: the first `m` examples of every label, `m` the rarest label's count.
/// Typed error when a label has no example.
pub fn balanced_pool(pool: &[Example], n_labels: usize) -> Result<Vec<Example>> {
    let m = (0..n_labels)
        .map(|l| pool.iter().filter(|e| e.label == l).count())
        .min()
        .unwrap_or(0);
    if m == 0 {
        return Err(Error::EmptyGroup(format!(
            "a demonstration pool needs every one of {n_labels} labels"
        )));
    }
    let mut out = vec![];
    for l in 0..n_labels {
        out.extend(pool.iter().filter(|e| e.label == l).take(m).cloned());
    }
    Ok(out)
}

/// The demonstration prefix: `k` examples of `pool` drawn without replacement (seeded), each
/// verbalised with its gold label, joined by `"\n"` with a final `"\n"`; empty for k = 0. Typed
/// error when `k` exceeds the pool.
pub fn demonstrations(verbalizer: &Verbalizer, pool: &[Example], k: usize, rng: &mut StdRng) -> Result<String> {
    if k == 0 {
        return Ok(String::new());
    }
    if k > pool.len() {
        return Err(Error::Data(format!("{k} demonstrations asked from a pool of {}", pool.len())));
    }
    let mut idx: Vec<usize> = (0..pool.len()).collect();
    idx.shuffle(rng);
    let lines = idx[..k]
        .iter()
        .map(|&i| verbalizer.verbalize(&pool[i], pool[i].label))
        .collect::<Result<Vec<_>>>()?;
    Ok(lines.join("\n") + "\n")
}

/// Tokens of `text`, left-truncated to `max_tokens`: when it is longer, its last `max_tokens`
/// tokens are decoded, the (partial) first line is dropped and the rest re-encoded. Typed error
/// ([`Error::PromptTooLong`]) when no line break is left to cut at or the rest is still too long
/// (the candidate alone does not fit).
pub fn truncate_left(tok: &dyn TextTokenizer, text: &str, max_tokens: usize) -> Result<Vec<u32>> {
    let ids = tok.encode(text)?;
    if ids.len() <= max_tokens {
        return Ok(ids);
    }
    let tail = tok.decode(&ids[ids.len() - max_tokens..])?;
    let rest = match tail.split_once('\n') {
        Some((_, r)) => r,
        None => {
            return Err(Error::PromptTooLong {
                len: ids.len(),
                n_ctx: max_tokens,
            })
        }
    };
    let ids2 = tok.encode(rest)?;
    if ids2.len() > max_tokens || ids2.is_empty() {
        return Err(Error::PromptTooLong {
            len: ids.len(),
            n_ctx: max_tokens,
        });
    }
    Ok(ids2)
}

/// The score of each token sequence: the sum of its per-token LM losses (nats), every token but
/// the first (which has no context) predicted.
pub fn summed_losses(model: &Gpt2, seqs: &[Vec<u32>], batch_size: usize) -> Result<Vec<f64>> {
    let s = token_surprisals(model, seqs, batch_size)?;
    Ok(s.iter()
        .map(|w| w.iter().skip(1).map(|&b| b as f64).sum::<f64>() * std::f64::consts::LN_2)
        .collect())
}

/// The index of the smallest score (the first on ties). Typed error on no score or a NaN.
pub fn argmin(scores: &[f64]) -> Result<usize> {
    if scores.is_empty() || scores.iter().any(|s| s.is_nan()) {
        return Err(Error::Data(format!("argmin of {scores:?}")));
    }
    Ok((0..scores.len()).fold(0, |b, i| if scores[i] < scores[b] { i } else { b }))
}

/// One k-shot evaluation's set-up.
#[derive(Clone, Debug, PartialEq)]
pub struct FewShotConfig {
    pub k: usize,
    /// Prompts are left-truncated to this many tokens (the official 512; the model's context at
    /// ci scale).
    pub max_tokens: usize,
    pub seed: u64,
    pub batch_size: usize,
}

/// The outcome of a k-shot evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct FewShotResult {
    pub accuracy: f64,
    pub predictions: Vec<usize>,
    /// `scores[i][l]`: summed loss of example `i` verbalised with label `l`.
    pub scores: Vec<Vec<f64>>,
    /// Prompts that truncation shortened.
    pub truncated: usize,
}

/// k-shot accuracy of `model` on `test`, demonstrations from the label-balanced `pool` (one draw
/// per test example, shared by its candidates), scored by summed loss, predicted by argmin.
pub fn evaluate_fewshot(
    model: &Gpt2,
    tok: &dyn TextTokenizer,
    verbalizer: &Verbalizer,
    test: &[Example],
    pool: &[Example],
    cfg: &FewShotConfig,
) -> Result<FewShotResult> {
    if test.is_empty() {
        return Err(Error::EmptyInput("no test examples".into()));
    }
    let max = cfg.max_tokens.min(model.cfg.n_positions);
    let n_labels = verbalizer.n_labels();
    let pool = if cfg.k > 0 { balanced_pool(pool, n_labels)? } else { vec![] };
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let mut seqs = Vec::with_capacity(test.len() * n_labels);
    let mut truncated = 0;
    for ex in test {
        let demos = demonstrations(verbalizer, &pool, cfg.k, &mut rng)?;
        for l in 0..n_labels {
            let text = demos.clone() + &verbalizer.verbalize(ex, l)?;
            let ids = truncate_left(tok, &text, max)?;
            truncated += (ids.len() < tok.encode(&text)?.len()) as usize;
            seqs.push(ids);
        }
    }
    let flat = summed_losses(model, &seqs, cfg.batch_size)?;
    let scores: Vec<Vec<f64>> = flat.chunks(n_labels).map(|c| c.to_vec()).collect();
    let predictions = scores.iter().map(|s| argmin(s)).collect::<Result<Vec<_>>>()?;
    let correct = predictions.iter().zip(test).filter(|(p, e)| **p == e.label).count();
    Ok(FewShotResult {
        accuracy: correct as f64 / test.len() as f64,
        predictions,
        scores,
        truncated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbalizers_as_the_official_prompts() {
        let ex = Example::pair("The cat sat .", "A cat was sitting .", 0);
        assert_eq!(
            Verbalizer::xnli_en().verbalize(&ex, 0).unwrap(),
            "The cat sat, right? Yes, A cat was sitting."
        );
        assert_eq!(
            Verbalizer::pawsx_en().verbalize(&ex, 1).unwrap(),
            "The cat sat, right? Yes, A cat was sitting."
        );
        let v = Verbalizer::Suffix {
            sep: " →".into(),
            labels: vec!["pa".into(), "ne".into()],
        };
        assert_eq!(v.verbalize(&Example::single("Bo.", 1), 1).unwrap(), "Bo. → ne");
        assert!(v.verbalize(&Example::single("Bo.", 1), 2).is_err());
        assert!(Verbalizer::xnli_en().verbalize(&Example::single("x", 0), 0).is_err());
    }

    #[test]
    fn demonstrations_are_balanced_and_joined() {
        let pool: Vec<Example> = (0..10).map(|i| Example::single(format!("s{i}"), (i < 7) as usize)).collect();
        let b = balanced_pool(&pool, 2).unwrap();
        assert_eq!(b.len(), 6);
        assert_eq!(b.iter().filter(|e| e.label == 0).count(), 3);
        assert!(balanced_pool(&pool, 3).is_err());
        let v = Verbalizer::Suffix {
            sep: ":".into(),
            labels: vec!["no".into(), "yes".into()],
        };
        let mut rng = StdRng::seed_from_u64(0);
        let d = demonstrations(&v, &b, 4, &mut rng).unwrap();
        assert_eq!(d.lines().count(), 4);
        assert!(d.ends_with('\n'));
        for line in d.lines() {
            let i: usize = line[1..2].parse().unwrap();
            assert_eq!(line, v.verbalize(&pool[i], pool[i].label).unwrap());
        }
        assert_eq!(demonstrations(&v, &b, 0, &mut rng).unwrap(), "");
        assert!(demonstrations(&v, &b, 7, &mut rng).is_err());
        assert_eq!(argmin(&[3.0, 1.0, 1.0, 2.0]).unwrap(), 1);
        assert!(argmin(&[]).is_err() && argmin(&[1.0, f64::NAN]).is_err());
    }

    #[test]
    fn left_truncation_drops_the_partial_line() {
        let tok = crate::data::CharTokenizer::fit("abcdefgh\n:");
        let text = "abcd\nefg\nh:a";
        assert_eq!(truncate_left(&tok, text, 20).unwrap().len(), text.len());
        // the last 6 characters are "fg\nh:a": "fg" is a partial demonstration and goes
        let ids = truncate_left(&tok, text, 6).unwrap();
        assert_eq!(tok.decode(&ids).unwrap(), "h:a");
        assert!(matches!(truncate_left(&tok, text, 2), Err(Error::PromptTooLong { .. })));
    }
}
