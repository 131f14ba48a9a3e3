//! Small text tokenizers for tiny models: [`CharTokenizer`] and [`WordTokenizer`], behind the
//! shared [`TextTokenizer`] trait (which GPT-2's BPE, [`crate::tokenizer::Gpt2Tokenizer`], also
//! implements). Both are fitted on a text, deterministic (ids depend only on the text and the
//! options) and save/load as JSON.
//!
//! ```
//! use gpt2lab::data::{CharTokenizer, TextTokenizer, WordTokenizer, WordTokenizerConfig};
//! let c = CharTokenizer::fit("hello world");
//! assert_eq!(c.decode(&c.encode("hold").unwrap()).unwrap(), "hold");
//! let w = WordTokenizer::fit("The cat sat. The dog ran!", &WordTokenizerConfig::default());
//! let ids = w.encode("the dog sat.").unwrap();
//! assert_eq!(w.decode(&ids).unwrap(), "the dog sat.");
//! assert_eq!(w.encode("the zebra").unwrap()[1], w.unk_id()); // unknown word
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::tokenizer::Gpt2Tokenizer;
use crate::{Error, Result};

/// What a tokenizer does with a symbol it has no id for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum OnUnknown {
    /// Encoding fails with an error naming the symbol.
    #[default]
    Error,
    /// The symbol is dropped.
    Skip,
    /// The symbol encodes to the `<unk>` id.
    Unk,
}

/// What every text tokenizer offers: text ⇄ ids and the embedding size a model needs.
pub trait TextTokenizer {
    fn encode(&self, text: &str) -> Result<Vec<u32>>;
    fn decode(&self, ids: &[u32]) -> Result<String>;
    fn vocab_size(&self) -> usize;
}

impl TextTokenizer for Gpt2Tokenizer {
    fn encode(&self, text: &str) -> Result<Vec<u32>> {
        Gpt2Tokenizer::encode(self, text)
    }
    fn decode(&self, ids: &[u32]) -> Result<String> {
        Gpt2Tokenizer::decode(self, ids)
    }
    fn vocab_size(&self) -> usize {
        Gpt2Tokenizer::vocab_size(self)
    }
}

fn json_err(what: &str, e: serde_json::Error) -> Error {
    Error::Msg(format!("{what}: {e}"))
}
fn write_json(path: &Path, s: String) -> Result<()> {
    std::fs::write(path, s).map_err(|e| Error::io(path, e))
}
fn read_json(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

// ---------------------------------------------------------------------------------------------

/// One id per character seen in the fitting text, in code-point order. With
/// [`OnUnknown::Unk`], id 0 is `<unk>`, decoded as `unk_char` (default U+FFFD).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CharTokenizer {
    chars: Vec<char>,
    on_unknown: OnUnknown,
    unk_char: char,
    #[serde(skip)]
    index: HashMap<char, u32>,
}

impl CharTokenizer {
    /// The characters of `text`; unknown characters are errors.
    pub fn fit(text: &str) -> Self {
        Self::fit_with(text, OnUnknown::Error)
    }
    /// The characters of `text`, with the given unknown-character policy.
    pub fn fit_with(text: &str, on_unknown: OnUnknown) -> Self {
        let mut chars: Vec<char> = text.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        let mut t = CharTokenizer { chars, on_unknown, unk_char: '\u{FFFD}', index: HashMap::new() };
        t.reindex();
        t
    }
    /// Sets the character `<unk>` decodes to.
    pub fn with_unk_char(mut self, c: char) -> Self {
        self.unk_char = c;
        self
    }
    fn offset(&self) -> u32 {
        (self.on_unknown == OnUnknown::Unk) as u32
    }
    fn reindex(&mut self) {
        let off = self.offset();
        self.index = self.chars.iter().enumerate().map(|(i, &c)| (c, i as u32 + off)).collect();
    }
    /// The `<unk>` id, when the policy is [`OnUnknown::Unk`].
    pub fn unk_id(&self) -> Option<u32> {
        (self.on_unknown == OnUnknown::Unk).then_some(0)
    }
    /// The known characters, in id order (after `<unk>`).
    pub fn chars(&self) -> &[char] {
        &self.chars
    }
    pub fn id_of(&self, c: char) -> Option<u32> {
        self.index.get(&c).copied()
    }

    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| json_err("CharTokenizer to JSON", e))
    }
    pub fn from_json(s: &str) -> Result<Self> {
        let mut t: CharTokenizer = serde_json::from_str(s).map_err(|e| json_err("CharTokenizer from JSON", e))?;
        t.reindex();
        Ok(t)
    }
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        write_json(path.as_ref(), self.to_json()?)
    }
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_json(&read_json(path.as_ref())?)
    }
}

impl TextTokenizer for CharTokenizer {
    fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let mut out = Vec::with_capacity(text.len());
        for c in text.chars() {
            match (self.index.get(&c), self.on_unknown) {
                (Some(&id), _) => out.push(id),
                (None, OnUnknown::Skip) => {}
                (None, OnUnknown::Unk) => out.push(0),
                (None, OnUnknown::Error) => return Err(Error::Tokenizer(format!("character {c:?} is not in the CharTokenizer vocabulary"))),
            }
        }
        Ok(out)
    }
    fn decode(&self, ids: &[u32]) -> Result<String> {
        let off = self.offset();
        ids.iter()
            .map(|&id| {
                if off == 1 && id == 0 {
                    Ok(self.unk_char)
                } else {
                    // here id >= off (off is 0, or 1 with id != 0)
                    self.chars.get((id - off) as usize).copied().ok_or(Error::TokenOutOfRange { id, vocab: self.vocab_size() })
                }
            })
            .collect()
    }
    fn vocab_size(&self) -> usize {
        self.chars.len() + self.offset() as usize
    }
}

// ---------------------------------------------------------------------------------------------

/// Options for [`WordTokenizer::fit`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WordTokenizerConfig {
    /// Lowercase text before splitting (at fit and at encode).
    pub lowercase: bool,
    /// Words seen fewer times are left out of the vocabulary (they encode to `<unk>`).
    pub min_count: usize,
    /// Keep at most this many words (specials not counted), the most frequent first.
    pub max_words: Option<usize>,
}

impl Default for WordTokenizerConfig {
    fn default() -> Self {
        WordTokenizerConfig { lowercase: true, min_count: 1, max_words: None }
    }
}

/// A word-level tokenizer. Text is split on whitespace, then into words (runs of letters and
/// digits, with inner apostrophes kept: "don't") and single punctuation characters. Ids: 0 is
/// `<eos>`, 1 is `<unk>`, then the words by descending count (ties alphabetical). The literal
/// strings `<eos>` and `<unk>` in a text, between spaces, encode to their ids.
///
/// Decoding joins words with single spaces, with no space before closing punctuation
/// (`. , ; : ! ? ) ]` and `'`-led pieces) nor after `( [`; `<eos>` decodes as a newline.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WordTokenizer {
    config: WordTokenizerConfig,
    /// Id → word, specials included.
    words: Vec<String>,
    #[serde(skip)]
    index: HashMap<String, u32>,
}

impl WordTokenizer {
    pub const EOS: &'static str = "<eos>";
    pub const UNK: &'static str = "<unk>";

    /// Fits the vocabulary on `text`.
    pub fn fit(text: &str, config: &WordTokenizerConfig) -> Self {
        Self::fit_many(std::iter::once(text), config)
    }

    /// Fits the vocabulary on several texts.
    pub fn fit_many<'a>(texts: impl IntoIterator<Item = &'a str>, config: &WordTokenizerConfig) -> Self {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for t in texts {
            for w in split_words(t, config.lowercase) {
                if w != Self::EOS && w != Self::UNK {
                    *counts.entry(w).or_default() += 1;
                }
            }
        }
        let mut ranked: Vec<(String, usize)> = counts.into_iter().filter(|(_, c)| *c >= config.min_count.max(1)).collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        if let Some(m) = config.max_words {
            ranked.truncate(m);
        }
        let mut words = vec![Self::EOS.to_string(), Self::UNK.to_string()];
        words.extend(ranked.into_iter().map(|(w, _)| w));
        let mut t = WordTokenizer { config: config.clone(), words, index: HashMap::new() };
        t.reindex();
        t
    }

    fn reindex(&mut self) {
        self.index = self.words.iter().enumerate().map(|(i, w)| (w.clone(), i as u32)).collect();
    }

    pub fn eos_id(&self) -> u32 {
        0
    }
    pub fn unk_id(&self) -> u32 {
        1
    }
    pub fn config(&self) -> &WordTokenizerConfig {
        &self.config
    }
    /// Id → word, `<eos>` and `<unk>` first.
    pub fn words(&self) -> &[String] {
        &self.words
    }
    pub fn id_of(&self, word: &str) -> Option<u32> {
        self.index.get(word).copied()
    }
    /// The words `text` splits into (after lowercasing when configured), before vocabulary lookup.
    pub fn split(&self, text: &str) -> Vec<String> {
        split_words(text, self.config.lowercase)
    }

    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| json_err("WordTokenizer to JSON", e))
    }
    pub fn from_json(s: &str) -> Result<Self> {
        let mut t: WordTokenizer = serde_json::from_str(s).map_err(|e| json_err("WordTokenizer from JSON", e))?;
        if t.words.len() < 2 || t.words[0] != Self::EOS || t.words[1] != Self::UNK {
            return Err(Error::Msg("WordTokenizer from JSON: the vocabulary must start with <eos>, <unk>".into()));
        }
        t.reindex();
        Ok(t)
    }
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        write_json(path.as_ref(), self.to_json()?)
    }
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_json(&read_json(path.as_ref())?)
    }
}

impl TextTokenizer for WordTokenizer {
    /// Unknown words encode to `<unk>`.
    fn encode(&self, text: &str) -> Result<Vec<u32>> {
        Ok(self.split(text).iter().map(|w| self.index.get(w).copied().unwrap_or(1)).collect())
    }
    fn decode(&self, ids: &[u32]) -> Result<String> {
        let mut out = String::new();
        let mut glue_next = true; // no space before the first word, after "(" or a newline
        for &id in ids {
            let w = self.words.get(id as usize).ok_or(Error::TokenOutOfRange { id, vocab: self.words.len() })?;
            if id == 0 {
                out.push('\n');
                glue_next = true;
                continue;
            }
            let closing = matches!(w.as_str(), "." | "," | ";" | ":" | "!" | "?" | ")" | "]" | "%") || w.starts_with('\'');
            if !glue_next && !closing {
                out.push(' ');
            }
            out.push_str(w);
            glue_next = matches!(w.as_str(), "(" | "[");
        }
        Ok(out)
    }
    fn vocab_size(&self) -> usize {
        self.words.len()
    }
}

/// Splits text on whitespace, then into words and single punctuation characters. A whitespace
/// piece that is exactly `<eos>` or `<unk>` stays whole.
fn split_words(text: &str, lowercase: bool) -> Vec<String> {
    let text = if lowercase { text.to_lowercase() } else { text.to_string() };
    let mut out = Vec::new();
    for piece in text.split_whitespace() {
        if piece == WordTokenizer::EOS || piece == WordTokenizer::UNK {
            out.push(piece.to_string());
            continue;
        }
        let cs: Vec<char> = piece.chars().collect();
        let mut cur = String::new();
        for (i, &c) in cs.iter().enumerate() {
            let inner_apostrophe = (c == '\'' || c == '’') && i > 0 && cs[i - 1].is_alphanumeric() && cs.get(i + 1).is_some_and(|n| n.is_alphanumeric());
            if c.is_alphanumeric() || inner_apostrophe {
                cur.push(c);
            } else {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                out.push(c.to_string());
            }
        }
        if !cur.is_empty() {
            out.push(cur);
        }
    }
    out
}
