//! GPT-2's byte-level BPE (through the `tokenizers` crate), from the vocab/merges shipped in
//! `datasets/gpt2-tokenizer/`. BOS is never added silently: every call that builds model input
//! takes an explicit `prepend_bos`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{Device, Tensor};
use tokenizers::models::bpe::BPE;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;

use crate::data::CompactVocab;
use crate::{Error, Result};

/// GPT-2's `<|endoftext|>`, used as BOS and EOS.
pub const ENDOFTEXT: u32 = 50256;

/// The folder with gpt2lab's shipped data (`GPT2LAB_DATASETS` overrides it).
pub fn datasets_dir() -> PathBuf {
    std::env::var_os("GPT2LAB_DATASETS").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/datasets")))
}

/// GPT-2's BPE, optionally followed by a compact vocabulary remap (the GPT-2 ids a small
/// model was trained on ⇄ its dense ids), so tiny models keep a small embedding while users
/// keep typing text.
#[derive(Clone)]
pub struct Gpt2Tokenizer {
    inner: tokenizers::Tokenizer,
    bos: u32,
    compact: Option<Arc<CompactVocab>>,
}

fn tk_err(e: impl std::fmt::Display) -> Error {
    Error::Tokenizer(e.to_string())
}

impl Gpt2Tokenizer {
    /// The GPT-2 tokenizer from the files shipped in `datasets/gpt2-tokenizer/`.
    pub fn gpt2() -> Result<Self> {
        let dir = datasets_dir().join("gpt2-tokenizer");
        Self::from_files(dir.join("vocab.json"), dir.join("merges.txt"))
    }

    /// From a GPT-2 `vocab.json` (= `encoder.json`) and `merges.txt` (= `vocab.bpe`).
    pub fn from_files(vocab: impl AsRef<Path>, merges: impl AsRef<Path>) -> Result<Self> {
        let (v, m) = (vocab.as_ref(), merges.as_ref());
        for p in [v, m] {
            if !p.exists() {
                return Err(Error::io(p, std::io::Error::new(std::io::ErrorKind::NotFound, "tokenizer file missing")));
            }
        }
        let bpe = BPE::from_file(&v.to_string_lossy(), &m.to_string_lossy()).build().map_err(tk_err)?;
        let mut inner = tokenizers::Tokenizer::new(bpe);
        inner.with_pre_tokenizer(Some(ByteLevel::default().add_prefix_space(false)));
        inner.with_decoder(Some(ByteLevel::default()));
        Ok(Gpt2Tokenizer { inner, bos: ENDOFTEXT, compact: None })
    }

    /// From a Hugging Face `tokenizer.json`.
    pub fn from_tokenizer_json(path: impl AsRef<Path>) -> Result<Self> {
        let inner = tokenizers::Tokenizer::from_file(path.as_ref()).map_err(tk_err)?;
        Ok(Gpt2Tokenizer { inner, bos: ENDOFTEXT, compact: None })
    }

    /// The same tokenizer, then `vocab`'s remap: ids are dense ids of `vocab`. BOS becomes
    /// the dense id of `<|endoftext|>` (which `vocab` must hold as a special or a token).
    pub fn with_compact_vocab(mut self, vocab: CompactVocab) -> Result<Self> {
        let bos = vocab.get(ENDOFTEXT).ok_or_else(|| Error::Tokenizer("the compact vocabulary has no <|endoftext|> entry".into()))?;
        self.bos = bos;
        self.compact = Some(Arc::new(vocab));
        Ok(self)
    }

    pub fn compact_vocab(&self) -> Option<&CompactVocab> {
        self.compact.as_deref()
    }

    pub fn vocab_size(&self) -> usize {
        match &self.compact {
            Some(v) => v.len(),
            None => self.inner.get_vocab_size(true),
        }
    }
    pub fn bos_token_id(&self) -> u32 {
        self.bos
    }

    /// Token ids of `text` (no BOS).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let ids = self.inner.encode(text, false).map_err(tk_err)?.get_ids().to_vec();
        match &self.compact {
            Some(v) => v.encode(&ids),
            None => Ok(ids),
        }
    }

    /// Token ids with their byte offsets `(start, end)` into `text`, for labelling spans.
    pub fn encode_with_offsets(&self, text: &str) -> Result<Vec<(u32, (usize, usize))>> {
        let enc = self.inner.encode(text, false).map_err(tk_err)?;
        let ids = match &self.compact {
            Some(v) => v.encode(enc.get_ids())?,
            None => enc.get_ids().to_vec(),
        };
        Ok(ids.into_iter().zip(enc.get_offsets().iter().copied()).collect())
    }

    /// Ids with BOS (`<|endoftext|>`) in front when `prepend_bos`.
    pub fn ids(&self, text: &str, prepend_bos: bool) -> Result<Vec<u32>> {
        let mut ids = if prepend_bos { vec![self.bos] } else { vec![] };
        ids.extend(self.encode(text)?);
        if ids.is_empty() {
            return Err(Error::EmptyInput("text encodes to no tokens".into()));
        }
        Ok(ids)
    }

    /// A `(1, T)` u32 tensor of the text's tokens, TransformerLens' `to_tokens`.
    pub fn to_tokens(&self, text: &str, prepend_bos: bool) -> Result<Tensor> {
        let ids = self.ids(text, prepend_bos)?;
        let n = ids.len();
        Ok(Tensor::from_vec(ids, (1, n), &Device::Cpu)?)
    }

    /// A right- or left-padded batch `(B, T)` with its attention mask `(B, T)` (1 = real).
    pub fn to_tokens_batch(&self, texts: &[&str], prepend_bos: bool, left_pad: bool) -> Result<(Tensor, Tensor)> {
        let rows = texts.iter().map(|t| self.ids(t, prepend_bos)).collect::<Result<Vec<_>>>()?;
        if rows.is_empty() {
            return Err(Error::EmptyInput("no texts".into()));
        }
        let t = rows.iter().map(Vec::len).max().unwrap_or(0);
        let (mut ids, mut mask) = (Vec::with_capacity(rows.len() * t), Vec::with_capacity(rows.len() * t));
        for r in &rows {
            let pad = t - r.len();
            let (p_ids, p_mask) = (std::iter::repeat_n(self.bos, pad), std::iter::repeat_n(0u32, pad));
            if left_pad {
                ids.extend(p_ids.chain(r.iter().copied()));
                mask.extend(p_mask.chain(std::iter::repeat_n(1, r.len())));
            } else {
                ids.extend(r.iter().copied().chain(p_ids));
                mask.extend(std::iter::repeat_n(1, r.len()).chain(p_mask));
            }
        }
        let b = rows.len();
        Ok((Tensor::from_vec(ids, (b, t), &Device::Cpu)?, Tensor::from_vec(mask, (b, t), &Device::Cpu)?))
    }

    /// Each token of the text as the string it decodes to (TransformerLens' `to_str_tokens`).
    pub fn to_str_tokens(&self, text: &str, prepend_bos: bool) -> Result<Vec<String>> {
        self.ids_to_str_tokens(&self.ids(text, prepend_bos)?)
    }

    /// Each id as its own decoded string (a token that is part of a multi-byte character
    /// shows as U+FFFD).
    pub fn ids_to_str_tokens(&self, ids: &[u32]) -> Result<Vec<String>> {
        ids.iter().map(|&i| self.decode(&[i])).collect()
    }

    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        if let Some(&bad) = ids.iter().find(|&&i| i as usize >= self.vocab_size()) {
            return Err(Error::TokenOutOfRange { id: bad, vocab: self.vocab_size() });
        }
        match &self.compact {
            Some(v) => self.inner.decode(&v.decode(ids)?, false).map_err(tk_err),
            None => self.inner.decode(ids, false).map_err(tk_err),
        }
    }

    /// The id of one token string (`"Ġthe"`-style BPE symbols), if it is in the vocabulary.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        let id = self.inner.token_to_id(token)?;
        match &self.compact {
            Some(v) => v.get(id),
            None => Some(id),
        }
    }

    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }
}
