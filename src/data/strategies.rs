//! Tokenization strategies for a multilingual model, each a [`BpeTokenizer`] trained by the
//! `tokenizers` crate's trainer with one option changed (mGPT trained small models to choose
//! its tokenizer; these are the candidates of our ci study, not the paper's confirmed list):
//!
//! | strategy | what changes |
//! |---|---|
//! | [`Strategy::PooledBpe`] | byte-level BPE on the pooled corpus (languages in their natural shares) |
//! | [`Strategy::BalancedBpe`] | the same, trained on a corpus resampled so language `l` has share ∝ `p_l^α` (α ≈ 0.3, as XLM/mT5) |
//! | [`Strategy::Bytes`] | no merges: the 256 bytes and `<|endoftext|>` |
//! | [`Strategy::DigitSplitBpe`] | every digit its own pre-token (`Digits(individual_digits)` before the byte-level split) |
//! | [`Strategy::CaseMarkedBpe`] | every upper-case letter written as [`CASE_MARKER`] + its lower case before BPE (reversible) |
//!
//! The language model always trains on the same pooled text; only the tokenizer changes.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::{BpeConfig, BpeTokenizer, PreTokenization, TextTokenizer, TokenDataset};
use crate::{Error, Result};

/// The marker written before a lower-cased capital.
pub const CASE_MARKER: char = '↑';

/// A candidate tokenization strategy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Strategy {
    PooledBpe,
    BalancedBpe,
    Bytes,
    DigitSplitBpe,
    CaseMarkedBpe,
}

impl Strategy {
    pub const ALL: [Strategy; 5] = [
        Strategy::PooledBpe,
        Strategy::BalancedBpe,
        Strategy::Bytes,
        Strategy::DigitSplitBpe,
        Strategy::CaseMarkedBpe,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Strategy::PooledBpe => "pooled BPE",
            Strategy::BalancedBpe => "balanced BPE",
            Strategy::Bytes => "bytes",
            Strategy::DigitSplitBpe => "BPE + digit split",
            Strategy::CaseMarkedBpe => "BPE + case markers",
        }
    }
}

impl std::fmt::Display for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `text` with every upper-case letter `C` written `↑c`. Errors on text that already holds the
/// marker (the mapping would not be reversible).
pub fn mark_case(text: &str) -> Result<String> {
    if text.contains(CASE_MARKER) {
        return Err(Error::Tokenizer(format!("text already contains the case marker {CASE_MARKER:?}")));
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        let mut low = c.to_lowercase();
        // only letters whose lower case is one character that maps back are marked
        match (low.next(), low.next()) {
            (Some(l), None) if l != c && l.to_uppercase().eq(std::iter::once(c)) => {
                out.push(CASE_MARKER);
                out.push(l);
            }
            _ => out.push(c),
        }
    }
    Ok(out)
}

/// The inverse of [`mark_case`].
pub fn unmark_case(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut up = false;
    for c in text.chars() {
        if c == CASE_MARKER {
            up = true;
        } else if up {
            out.extend(c.to_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Temperature-smoothed language shares: `q_l = p_l^α / Σ p^α` with `p_l` the documents'
/// shares (α = 1: natural shares; α = 0: uniform). Typed errors: no documents, α outside [0, 1].
pub fn temperature_shares(counts: &[usize], alpha: f64) -> Result<Vec<f64>> {
    let total: usize = counts.iter().sum();
    if total == 0 {
        return Err(Error::EmptyInput("no documents to take shares of".into()));
    }
    if !(0.0..=1.0).contains(&alpha) {
        return Err(Error::Data(format!("sampling temperature exponent α = {alpha} is outside [0, 1]")));
    }
    let w: Vec<f64> = counts
        .iter()
        .map(|&c| if c == 0 { 0.0 } else { (c as f64 / total as f64).powf(alpha) })
        .collect();
    let z: f64 = w.iter().sum();
    Ok(w.iter().map(|x| x / z).collect())
}

/// A corpus of as many documents as `by_lang` holds in all, resampled (with replacement, seeded)
/// so that language `l` makes up [`temperature_shares`]`(α)` of it.
pub fn temperature_sample(by_lang: &[Vec<String>], alpha: f64, seed: u64) -> Result<Vec<String>> {
    let counts: Vec<usize> = by_lang.iter().map(|d| d.len()).collect();
    let q = temperature_shares(&counts, alpha)?;
    let total: usize = counts.iter().sum();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(total);
    for (docs, share) in by_lang.iter().zip(q) {
        let n = (share * total as f64).round() as usize;
        for _ in 0..if docs.is_empty() { 0 } else { n } {
            out.push(docs[rng.random_range(0..docs.len())].clone());
        }
    }
    Ok(out)
}

/// What a strategy needs besides the corpus.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StrategyConfig {
    /// Vocabulary size of the BPE strategies (bytes always have 257).
    pub vocab_size: usize,
    /// Exponent of the balanced strategy's sampling.
    pub alpha: f64,
    /// Seed of the balanced strategy's resampling.
    pub seed: u64,
}

impl Default for StrategyConfig {
    fn default() -> Self {
        StrategyConfig {
            vocab_size: 1024,
            alpha: 0.3,
            seed: 0,
        }
    }
}

/// A trained tokenizer of one strategy: a byte-level BPE plus, for case markers, the reversible
/// text transform around it.
#[derive(Clone)]
pub struct StrategyTokenizer {
    pub strategy: Strategy,
    pub bpe: BpeTokenizer,
}

impl StrategyTokenizer {
    /// Trains `strategy` on documents grouped by language (`by_lang[l]`: language `l`'s texts).
    pub fn train(strategy: Strategy, by_lang: &[Vec<String>], cfg: &StrategyConfig) -> Result<Self> {
        let pooled: Vec<String> = by_lang.iter().flatten().cloned().collect();
        let bpe_cfg = BpeConfig::new(cfg.vocab_size);
        let bpe = match strategy {
            Strategy::PooledBpe => BpeTokenizer::train_with(&pooled, &bpe_cfg)?,
            Strategy::BalancedBpe => BpeTokenizer::train_with(&temperature_sample(by_lang, cfg.alpha, cfg.seed)?, &bpe_cfg)?,
            Strategy::Bytes => BpeTokenizer::train_with(&pooled, &BpeConfig::new(257))?,
            Strategy::DigitSplitBpe => BpeTokenizer::train_with_options(&pooled, &bpe_cfg, &PreTokenization { split_digits: true })?,
            Strategy::CaseMarkedBpe => {
                let marked = pooled.iter().map(|t| mark_case(t)).collect::<Result<Vec<_>>>()?;
                BpeTokenizer::train_with(&marked, &bpe_cfg)?
            }
        };
        Ok(StrategyTokenizer { strategy, bpe })
    }

    fn prepare<'a>(&self, text: &'a str) -> Result<std::borrow::Cow<'a, str>> {
        Ok(if self.strategy == Strategy::CaseMarkedBpe {
            mark_case(text)?.into()
        } else {
            text.into()
        })
    }

    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        self.bpe.encode(&self.prepare(text)?)
    }

    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        let t = self.bpe.decode(ids)?;
        Ok(if self.strategy == Strategy::CaseMarkedBpe {
            unmark_case(&t)
        } else {
            t
        })
    }

    pub fn vocab_size(&self) -> usize {
        self.bpe.vocab_size()
    }

    /// Tokens of each document.
    pub fn token_counts(&self, docs: &[String]) -> Result<Vec<usize>> {
        docs.iter().map(|d| Ok(self.encode(d)?.len())).collect()
    }

    /// Documents joined by `<|endoftext|>` (one before each) and packed into blocks.
    pub fn dataset(&self, docs: &[String], block_size: usize) -> Result<TokenDataset> {
        TokenDataset::new(self.stream(docs)?, block_size)
    }

    /// The token stream of [`StrategyTokenizer::dataset`], unpacked.
    pub fn stream(&self, docs: &[String]) -> Result<Vec<u32>> {
        let eot = self
            .bpe
            .eot_id()
            .ok_or_else(|| Error::Tokenizer("the tokenizer has no <|endoftext|>".into()))?;
        let mut s = vec![];
        for d in docs {
            s.push(eot);
            s.extend(self.encode(d)?);
        }
        Ok(s)
    }
}

impl TextTokenizer for StrategyTokenizer {
    fn encode(&self, text: &str) -> Result<Vec<u32>> {
        StrategyTokenizer::encode(self, text)
    }
    fn decode(&self, ids: &[u32]) -> Result<String> {
        StrategyTokenizer::decode(self, ids)
    }
    fn vocab_size(&self) -> usize {
        StrategyTokenizer::vocab_size(self)
    }
}

impl TextTokenizer for BpeTokenizer {
    fn encode(&self, text: &str) -> Result<Vec<u32>> {
        BpeTokenizer::encode(self, text)
    }
    fn decode(&self, ids: &[u32]) -> Result<String> {
        BpeTokenizer::decode(self, ids)
    }
    fn vocab_size(&self) -> usize {
        BpeTokenizer::vocab_size(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_markers_round_trip() {
        let t = "Anna saw Ÿves and ÉLAN, ß stays.";
        let m = mark_case(t).unwrap();
        assert_eq!(m, "↑anna saw ↑ÿves and ↑é↑l↑a↑n, ß stays.");
        assert_eq!(unmark_case(&m), t);
        assert!(mark_case(&m).is_err());
    }

    #[test]
    fn temperature_shares_by_hand() {
        // p = (0.8, 0.2); α = 0.5: √0.8 / (√0.8 + √0.2) = 2/3
        let q = temperature_shares(&[80, 20], 0.5).unwrap();
        assert!((q[0] - 2.0 / 3.0).abs() < 1e-12 && (q[1] - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(temperature_shares(&[3, 1], 1.0).unwrap(), vec![0.75, 0.25]);
        assert_eq!(temperature_shares(&[3, 1], 0.0).unwrap(), vec![0.5, 0.5]);
        assert!(temperature_shares(&[0, 0], 0.3).is_err());
        assert!(temperature_shares(&[1], 1.5).is_err());
        let by: Vec<Vec<String>> = vec![vec!["a".into(); 80], vec!["b".into(); 20]];
        let s = temperature_sample(&by, 0.5, 0).unwrap();
        assert_eq!(s.iter().filter(|x| *x == "b").count(), 33);
    }

    #[test]
    fn strategies_change_what_they_say() {
        let by: Vec<Vec<String>> = vec![(0..300)
            .map(|i| format!("Bafo saw {} dogs in {}.", i * 7 % 100, 1900 + i))
            .collect()];
        let cfg = StrategyConfig {
            vocab_size: 300,
            ..Default::default()
        };
        let bytes = StrategyTokenizer::train(Strategy::Bytes, &by, &cfg).unwrap();
        assert_eq!(bytes.vocab_size(), 257);
        assert_eq!(bytes.encode("Zé 1").unwrap().len(), 5);
        let pooled = StrategyTokenizer::train(Strategy::PooledBpe, &by, &cfg).unwrap();
        // digits never merge, so this corpus supports fewer tokens
        assert!(matches!(
            StrategyTokenizer::train(Strategy::DigitSplitBpe, &by, &cfg),
            Err(Error::VocabTooLarge { .. })
        ));
        let digits = StrategyTokenizer::train(
            Strategy::DigitSplitBpe,
            &by,
            &StrategyConfig {
                vocab_size: 265,
                ..cfg.clone()
            },
        )
        .unwrap();
        assert!(pooled.encode(" 1917").unwrap().len() < 4);
        assert_eq!(digits.encode(" 1917").unwrap().len(), 5); // " " and four digits
        let cased = StrategyTokenizer::train(Strategy::CaseMarkedBpe, &by, &cfg).unwrap();
        let ids = cased.encode("Bafo saw bafo").unwrap();
        assert_eq!(cased.decode(&ids).unwrap(), "Bafo saw bafo");
        assert!(cased.bpe.decode(&ids).unwrap().starts_with("↑bafo"));
    }
}
