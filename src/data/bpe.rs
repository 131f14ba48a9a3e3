//! Byte-level BPE trained on a corpus, as GPT-2's tokenizer is (and as Hugging Face's
//! `train_new_from_iterator` retrains it for a new language): the `tokenizers` crate's own
//! [`BpeTrainer`](tokenizers::models::bpe::BpeTrainer) over GPT-2's byte-level pre-tokenizer,
//! with the 256-symbol byte alphabet always in the vocabulary and `<|endoftext|>` as id 0.
//! Saved and loaded as a Hugging Face `tokenizer.json`.
//!
//! Used by WECHSEL (a target-language tokenizer of the source model's vocabulary size) and by
//! the multilingual tokenizer studies. `tests/wechsel.rs` checks the trained vocabulary and
//! merges against the Python `tokenizers` trainer on the same corpus
//! (`scripts/make_wechsel_fixtures.py`).
//!
//! ```
//! use gpt2lab::data::BpeTokenizer;
//! let texts: Vec<String> = (0..50).map(|i| format!("the cat sat on the mat {i}")).collect();
//! let tok = BpeTokenizer::train(&texts, 270).unwrap();
//! assert_eq!(tok.vocab_size(), 270);
//! let ids = tok.encode("the cat sat").unwrap();
//! assert_eq!(tok.decode(&ids).unwrap(), "the cat sat");
//! ```

use std::path::Path;

use tokenizers::models::bpe::{BpeTrainerBuilder, BPE};
use tokenizers::models::TrainerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::AddedToken;

use super::TokenDataset;
use crate::{Error, Result};

/// The end-of-text token every trained tokenizer has (id 0), as GPT-2's.
pub const EOT: &str = "<|endoftext|>";

/// How to train: the vocabulary size (byte alphabet and special tokens included) and the
/// fewest occurrences a pair needs to be merged (Hugging Face's `min_frequency`).
#[derive(Clone, Debug, PartialEq)]
pub struct BpeConfig {
    pub vocab_size: usize,
    pub min_frequency: u64,
    /// Special tokens, added first (ids 0, 1, ...). `<|endoftext|>` should be among them.
    pub special_tokens: Vec<String>,
}

impl BpeConfig {
    /// `vocab_size` tokens, pairs merged from 2 occurrences on, `<|endoftext|>` as the one special.
    pub fn new(vocab_size: usize) -> Self {
        BpeConfig {
            vocab_size,
            min_frequency: 2,
            special_tokens: vec![EOT.to_string()],
        }
    }
}

/// Pre-tokenization before the byte-level split (default: GPT-2's byte-level split alone).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PreTokenization {
    /// Every digit is its own pre-token, so numbers are spelt digit by digit.
    pub split_digits: bool,
}

/// A byte-level BPE tokenizer (a `tokenizers::Tokenizer`) with its end-of-text id.
#[derive(Clone)]
pub struct BpeTokenizer {
    inner: tokenizers::Tokenizer,
    eot: Option<u32>,
}

fn tk(e: impl std::fmt::Display) -> Error {
    Error::Tokenizer(e.to_string())
}

impl BpeTokenizer {
    /// Trains a `vocab_size` byte-level BPE on `texts` ([`BpeConfig::new`]).
    pub fn train(texts: &[String], vocab_size: usize) -> Result<Self> {
        Self::train_with(texts, &BpeConfig::new(vocab_size))
    }

    /// Trains with `cfg`. Typed errors: an empty corpus ([`Error::EmptyInput`]), a vocabulary
    /// smaller than the byte alphabet plus specials, and one larger than the corpus can make
    /// ([`Error::VocabTooLarge`]: BPE ran out of pairs seen `min_frequency` times).
    pub fn train_with(texts: &[String], cfg: &BpeConfig) -> Result<Self> {
        Self::train_with_options(texts, cfg, &PreTokenization::default())
    }

    /// Trains with `cfg` and a pre-tokenization choice: with `split_digits`, the `tokenizers`
    /// crate's `Digits(individual_digits = true)` pre-tokenizer runs before the byte-level one,
    /// so no merge ever joins two digits (the digit-splitting strategy of multilingual
    /// tokenizer studies; Python: `pre_tokenizers.Sequence([Digits(True), ByteLevel(False)])`).
    /// Same typed errors as [`BpeTokenizer::train_with`].
    pub fn train_with_options(texts: &[String], cfg: &BpeConfig, pre: &PreTokenization) -> Result<Self> {
        if texts.iter().all(|t| t.trim().is_empty()) {
            return Err(Error::EmptyInput("BPE training corpus has no text".into()));
        }
        let floor = 256 + cfg.special_tokens.len();
        if cfg.vocab_size < floor {
            return Err(Error::Tokenizer(format!("a byte-level BPE vocabulary holds the 256 bytes and {} special tokens: vocab_size {} < {floor}", cfg.special_tokens.len(), cfg.vocab_size)));
        }
        let mut inner = tokenizers::Tokenizer::new(BPE::default());
        let byte_level = ByteLevel::default().add_prefix_space(false);
        if pre.split_digits {
            inner.with_pre_tokenizer(Some(PreTokenizerWrapper::Sequence(Sequence::new(vec![
                PreTokenizerWrapper::Digits(Digits::new(true)),
                PreTokenizerWrapper::ByteLevel(byte_level),
            ]))));
        } else {
            inner.with_pre_tokenizer(Some(byte_level));
        }
        inner.with_decoder(Some(ByteLevel::default()));
        let specials: Vec<AddedToken> = cfg
            .special_tokens
            .iter()
            .map(|s| AddedToken::from(s.clone(), true))
            .collect();
        let trainer = BpeTrainerBuilder::new()
            .vocab_size(cfg.vocab_size)
            .min_frequency(cfg.min_frequency)
            .show_progress(false)
            .special_tokens(specials)
            .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
            .build();
        let mut trainer: TrainerWrapper = trainer.into();
        inner.train(&mut trainer, texts.iter()).map_err(tk)?;
        let got = inner.get_vocab_size(true);
        if got < cfg.vocab_size {
            return Err(Error::VocabTooLarge {
                requested: cfg.vocab_size,
                supported: got,
            });
        }
        let eot = inner.token_to_id(EOT);
        Ok(BpeTokenizer { inner, eot })
    }

    /// Wraps any `tokenizers` tokenizer (GPT-2's: `Gpt2Tokenizer::gpt2()?.inner().clone()`).
    pub fn from_tokenizer(inner: tokenizers::Tokenizer) -> Self {
        let eot = inner.token_to_id(EOT);
        BpeTokenizer { inner, eot }
    }

    /// Loads a Hugging Face `tokenizer.json`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let p = path.as_ref();
        if !p.exists() {
            return Err(Error::io(
                p,
                std::io::Error::new(std::io::ErrorKind::NotFound, "tokenizer.json missing"),
            ));
        }
        Ok(Self::from_tokenizer(
            tokenizers::Tokenizer::from_file(p).map_err(tk)?,
        ))
    }

    /// Writes `tokenizer.json` (atomically).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::model::weights::write_atomic(path.as_ref(), self.to_json()?.as_bytes())
    }

    /// The `tokenizer.json` text.
    pub fn to_json(&self) -> Result<String> {
        self.inner.to_string(true).map_err(tk)
    }

    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }

    /// Tokens in the vocabulary, specials included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The id of `<|endoftext|>`, if the vocabulary has it.
    pub fn eot_id(&self) -> Option<u32> {
        self.eot
    }

    /// The special tokens' ids (added tokens marked special), ascending.
    pub fn special_ids(&self) -> Vec<u32> {
        let mut v: Vec<u32> = self
            .inner
            .get_added_tokens_decoder()
            .iter()
            .filter(|(_, t)| t.special)
            .map(|(&id, _)| id)
            .collect();
        v.sort_unstable();
        v
    }

    /// The token's byte-level string (`Ġcat` for " cat").
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// The token's text (bytes decoded; lossy for a token that ends inside a UTF-8 character).
    pub fn token_text(&self, id: u32) -> Result<String> {
        if id as usize >= self.vocab_size() {
            return Err(Error::TokenOutOfRange {
                id,
                vocab: self.vocab_size(),
            });
        }
        self.inner.decode(&[id], false).map_err(tk)
    }

    /// Token ids of `text` (special-token strings in the text are recognised).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        Ok(self
            .inner
            .encode(text, false)
            .map_err(tk)?
            .get_ids()
            .to_vec())
    }

    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        let v = self.vocab_size();
        if let Some(&id) = ids.iter().find(|&&id| id as usize >= v) {
            return Err(Error::TokenOutOfRange { id, vocab: v });
        }
        self.inner.decode(ids, false).map_err(tk)
    }

    /// The merges in training order (`"a b"` strings), empty for a non-BPE model.
    pub fn merges(&self) -> Result<Vec<String>> {
        let v: serde_json::Value = serde_json::from_str(&self.to_json()?)
            .map_err(|e| Error::Tokenizer(format!("tokenizer.json: {e}")))?;
        Ok(v["model"]["merges"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|m| match m {
                        serde_json::Value::Array(p) => p
                            .iter()
                            .filter_map(|x| x.as_str())
                            .collect::<Vec<_>>()
                            .join(" "),
                        other => other.as_str().unwrap_or_default().to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Documents tokenized and joined by `<|endoftext|>` (one before each document, as GPT-2's
    /// training data), packed into blocks of `block_size` (+1) tokens.
    pub fn dataset(&self, docs: &[String], block_size: usize) -> Result<TokenDataset> {
        let eot = self.eot.ok_or_else(|| {
            Error::Tokenizer(format!("the tokenizer has no {EOT} to separate documents"))
        })?;
        let mut stream = Vec::new();
        for d in docs {
            stream.push(eot);
            stream.extend(self.encode(d)?);
        }
        TokenDataset::new(stream, block_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus() -> Vec<String> {
        (0..200)
            .map(|i| {
                format!(
                    "the dog {} the cat near the {} river.",
                    ["sees", "likes", "finds"][i % 3],
                    ["old", "big", "wet", "blue"][i % 4]
                )
            })
            .collect()
    }

    #[test]
    fn trains_the_requested_size_and_round_trips() {
        let tok = BpeTokenizer::train(&corpus(), 300).unwrap();
        assert_eq!(tok.vocab_size(), 300);
        assert_eq!(tok.eot_id(), Some(0));
        assert_eq!(tok.special_ids(), vec![0]);
        let text = "the big dog likes the wet cat.";
        let ids = tok.encode(text).unwrap();
        assert_eq!(tok.decode(&ids).unwrap(), text);
        // frequent words became single tokens, so the text takes fewer tokens than bytes
        assert!(ids.len() < text.len() / 2, "{} tokens", ids.len());
        assert_eq!(tok.merges().unwrap().len(), 300 - 257);
        // unseen bytes still encode (the byte alphabet is always there)
        assert_eq!(
            tok.decode(&tok.encode("Zürich ✓").unwrap()).unwrap(),
            "Zürich ✓"
        );
    }

    #[test]
    fn saves_and_loads_tokenizer_json() {
        let tok = BpeTokenizer::train(&corpus(), 280).unwrap();
        let dir = std::env::temp_dir().join(format!("gpt2lab-bpe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("tokenizer.json");
        tok.save(&p).unwrap();
        let back = BpeTokenizer::load(&p).unwrap();
        assert_eq!(back.vocab_size(), 280);
        assert_eq!(
            back.encode("the cat near the river.").unwrap(),
            tok.encode("the cat near the river.").unwrap()
        );
        assert_eq!(back.merges().unwrap(), tok.merges().unwrap());
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn bad_input_is_typed() {
        assert!(matches!(
            BpeTokenizer::train(&[], 300),
            Err(Error::EmptyInput(_))
        ));
        assert!(matches!(
            BpeTokenizer::train(&["  ".to_string()], 300),
            Err(Error::EmptyInput(_))
        ));
        assert!(matches!(
            BpeTokenizer::train(&corpus(), 100),
            Err(Error::Tokenizer(_))
        ));
        // a corpus of a few words cannot make 5,000 tokens
        match BpeTokenizer::train(&corpus(), 5000) {
            Err(Error::VocabTooLarge {
                requested: 5000,
                supported,
            }) => assert!(supported < 5000 && supported > 257),
            other => panic!(
                "expected VocabTooLarge, got {:?}",
                other.map(|t| t.vocab_size())
            ),
        }
        let tok = BpeTokenizer::train(&corpus(), 280).unwrap();
        assert!(matches!(
            tok.decode(&[9999]),
            Err(Error::TokenOutOfRange { .. })
        ));
        assert!(matches!(
            BpeTokenizer::load("/nonexistent/tokenizer.json"),
            Err(Error::Io { .. })
        ));
    }
}
