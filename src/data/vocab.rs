//! [`CompactVocab`]: maps the GPT-2 ids a corpus actually uses onto dense ids `0..n` and back, so
//! a tiny model trained on GPT-2 tokens carries a few-hundred-row embedding instead of 50257 rows.
//!
//! Dense id layout: first the reserved specials in the order given (e.g. `<|endoftext|>` = 50256
//! at dense 0, whether or not the corpus uses it), then `<unk>` when enabled, then the corpus ids in
//! ascending GPT-2 order. With `max_size`, only the most frequent corpus ids are kept (ties broken
//! by the smaller GPT-2 id), so the layout is a pure function of the corpus and the options.
//!
//! ```
//! use gpt2lab::data::CompactVocab;
//! let v = CompactVocab::builder().special(50256).fit(&[464, 3797, 464, 50256]);
//! assert_eq!(v.len(), 3);
//! assert_eq!(v.encode(&[50256, 464, 3797]).unwrap(), vec![0, 1, 2]);
//! assert_eq!(v.decode(&[2, 1]).unwrap(), vec![3797, 464]);
//! assert!(v.encode(&[11]).is_err()); // unknown id, no <unk>
//! ```

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A dense remapping of GPT-2 (or any) token ids. Build it with [`CompactVocab::fit`] or
/// [`CompactVocab::builder`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CompactVocab {
    /// Reserved original ids, at dense ids `0..specials.len()`.
    specials: Vec<u32>,
    /// When set, unknown ids encode to the `<unk>` dense id, which decodes to this original id.
    unk_decodes_to: Option<u32>,
    /// Dense id → original id, for every dense id except `<unk>` (which is skipped in the layout:
    /// `originals[i]` is dense `i` below the unk slot and dense `i + 1` above it).
    originals: Vec<u32>,
    #[serde(skip)]
    index: HashMap<u32, u32>,
}

impl PartialEq for CompactVocab {
    fn eq(&self, o: &Self) -> bool {
        self.specials == o.specials && self.unk_decodes_to == o.unk_decodes_to && self.originals == o.originals
    }
}

/// Options for [`CompactVocab`]; finish with [`CompactVocabBuilder::fit`].
#[derive(Clone, Debug, Default)]
pub struct CompactVocabBuilder {
    specials: Vec<u32>,
    unk_decodes_to: Option<u32>,
    max_size: Option<usize>,
}

impl CompactVocabBuilder {
    /// Reserves `id` at the next dense id (call in the order wanted; EOS first is customary).
    pub fn special(mut self, id: u32) -> Self {
        if !self.specials.contains(&id) {
            self.specials.push(id);
        }
        self
    }
    /// Unknown ids encode to a `<unk>` dense id (placed right after the specials) instead of
    /// erroring; decoding `<unk>` gives the original id `decodes_to` (e.g. a "?" token).
    pub fn unk(mut self, decodes_to: u32) -> Self {
        self.unk_decodes_to = Some(decodes_to);
        self
    }
    /// Keep at most `n` dense ids in total (specials and `<unk>` included): the most frequent
    /// corpus ids win. Dropped ids are unknown (enable `<unk>` to map them instead of erroring).
    pub fn max_size(mut self, n: usize) -> Self {
        self.max_size = Some(n);
        self
    }
    /// Builds the vocabulary from the ids of a corpus.
    pub fn fit(self, ids: &[u32]) -> CompactVocab {
        self.fit_many(std::iter::once(ids))
    }
    /// Builds the vocabulary from several token sequences (documents).
    pub fn fit_many<'a>(self, docs: impl IntoIterator<Item = &'a [u32]>) -> CompactVocab {
        let mut counts: HashMap<u32, u64> = HashMap::new();
        for d in docs {
            for &id in d {
                *counts.entry(id).or_default() += 1;
            }
        }
        for s in &self.specials {
            counts.remove(s);
        }
        let mut ids: Vec<(u32, u64)> = counts.into_iter().collect();
        if let Some(max) = self.max_size {
            let room = max.saturating_sub(self.specials.len() + self.unk_decodes_to.is_some() as usize);
            ids.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            ids.truncate(room);
        }
        let mut corpus: Vec<u32> = ids.into_iter().map(|(id, _)| id).collect();
        corpus.sort_unstable();
        let mut originals = self.specials.clone();
        originals.extend(corpus);
        let mut v = CompactVocab { specials: self.specials, unk_decodes_to: self.unk_decodes_to, originals, index: HashMap::new() };
        v.reindex();
        v
    }
}

impl CompactVocab {
    /// The ids used by `ids`, no specials, unknown ids are errors.
    pub fn fit(ids: &[u32]) -> Self {
        Self::builder().fit(ids)
    }
    pub fn builder() -> CompactVocabBuilder {
        CompactVocabBuilder::default()
    }

    fn unk_slot(&self) -> usize {
        self.specials.len()
    }

    fn reindex(&mut self) {
        let has_unk = self.unk_decodes_to.is_some() as usize;
        self.index = self.originals.iter().enumerate().map(|(i, &o)| (o, (i + if i >= self.unk_slot() { has_unk } else { 0 }) as u32)).collect();
    }

    /// Number of dense ids (the embedding rows a model needs).
    pub fn len(&self) -> usize {
        self.originals.len() + self.unk_decodes_to.is_some() as usize
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The reserved original ids, in dense order `0..`.
    pub fn specials(&self) -> &[u32] {
        &self.specials
    }
    /// The dense id of `<unk>`, when enabled.
    pub fn unk_id(&self) -> Option<u32> {
        self.unk_decodes_to.map(|_| self.unk_slot() as u32)
    }
    /// Whether `original` has its own dense id.
    pub fn contains(&self, original: u32) -> bool {
        self.index.contains_key(&original)
    }
    /// The dense id of one original id (`None` when unknown, even with `<unk>` enabled).
    pub fn get(&self, original: u32) -> Option<u32> {
        self.index.get(&original).copied()
    }
    /// The original id of one dense id (`<unk>` gives its `decodes_to`).
    pub fn original(&self, dense: u32) -> Option<u32> {
        let d = dense as usize;
        match self.unk_decodes_to {
            Some(u) if d == self.unk_slot() => Some(u),
            Some(_) if d > self.unk_slot() => self.originals.get(d - 1).copied(),
            _ => self.originals.get(d).copied(),
        }
    }
    /// Dense id → original id for every dense id, in order (`<unk>` as its `decodes_to`).
    pub fn originals(&self) -> Vec<u32> {
        (0..self.len() as u32).filter_map(|d| self.original(d)).collect()
    }

    /// Original ids → dense ids. An id outside the vocabulary is an error, or `<unk>` when enabled.
    pub fn encode(&self, ids: &[u32]) -> Result<Vec<u32>> {
        let unk = self.unk_id();
        ids.iter()
            .map(|&id| {
                self.get(id).or(unk).ok_or_else(|| Error::Tokenizer(format!("token id {id} is not in the compact vocabulary ({} ids, no <unk>)", self.len())))
            })
            .collect()
    }

    /// Dense ids → original ids; a dense id `>= len()` is an error.
    pub fn decode(&self, dense: &[u32]) -> Result<Vec<u32>> {
        dense.iter().map(|&d| self.original(d).ok_or(Error::TokenOutOfRange { id: d, vocab: self.len() })).collect()
    }

    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| Error::Msg(format!("CompactVocab to JSON: {e}")))
    }
    pub fn from_json(s: &str) -> Result<Self> {
        let mut v: CompactVocab = serde_json::from_str(s).map_err(|e| Error::Msg(format!("CompactVocab from JSON: {e}")))?;
        v.reindex();
        if v.index.len() != v.originals.len() {
            return Err(Error::Msg("CompactVocab from JSON: duplicate original ids".into()));
        }
        Ok(v)
    }
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let p = path.as_ref();
        std::fs::write(p, self.to_json()?).map_err(|e| Error::io(p, e))
    }
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let p = path.as_ref();
        Self::from_json(&std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?)
    }
}
