//! The embedded default model: a small GPT-2 shipped in `datasets/default-model/` (HF layout
//! plus the compact-vocabulary map its tokenizer needs), trained by
//! `cargo run --release --example train_default_model`. See its model card (README.md there).

use std::path::{Path, PathBuf};

use super::gpt2::Gpt2;
use crate::data::CompactVocab;
use crate::tokenizer::{datasets_dir, Gpt2Tokenizer};
use crate::Result;

/// Where the default model lives.
pub fn default_model_dir() -> PathBuf {
    datasets_dir().join("default-model")
}

impl Gpt2 {
    /// The shipped default model (no network).
    pub fn default_model() -> Result<Gpt2> {
        Gpt2::from_dir(default_model_dir())
    }
}

impl Gpt2Tokenizer {
    /// The tokenizer of a checkpoint directory: GPT-2 BPE, then the compact vocabulary in
    /// `vocab_map.json` when the directory has one.
    pub fn for_checkpoint(dir: impl AsRef<Path>) -> Result<Gpt2Tokenizer> {
        let tok = Gpt2Tokenizer::gpt2()?;
        let map = dir.as_ref().join("vocab_map.json");
        if map.exists() {
            return tok.with_compact_vocab(CompactVocab::load(map)?);
        }
        Ok(tok)
    }

    /// The default model's tokenizer.
    pub fn for_default_model() -> Result<Gpt2Tokenizer> {
        Self::for_checkpoint(default_model_dir())
    }
}

/// The default model with its tokenizer.
pub fn load_default() -> Result<(Gpt2, Gpt2Tokenizer)> {
    Ok((Gpt2::default_model()?, Gpt2Tokenizer::for_default_model()?))
}
