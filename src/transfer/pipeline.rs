//! WECHSEL end to end, the same code at every scale: a source model and tokenizer, source and
//! target text, a bilingual dictionary → a target tokenizer (trained here, the source's vocabulary
//! size unless told otherwise), word vectors for both languages, the alignment, the new
//! embeddings and the model with its vocabulary swapped.

use super::wechsel::{
    embedding_matrix, random_embeddings, swap_vocabulary, Wechsel, WechselConfig, WechselInit,
};
use super::word_vectors::{PpmiConfig, WordVectors};
use crate::data::{BilingualDictionary, BpeConfig, BpeTokenizer};
use crate::model::Gpt2;
use crate::Result;

/// Everything [`transfer_model`] needs besides the model and the data.
#[derive(Clone, Debug)]
pub struct TransferConfig {
    /// Target vocabulary size (None: the source tokenizer's, as the paper).
    pub target_vocab: Option<usize>,
    pub min_frequency: u64,
    pub vectors: PpmiConfig,
    pub wechsel: WechselConfig,
}

impl Default for TransferConfig {
    fn default() -> Self {
        TransferConfig {
            target_vocab: None,
            min_frequency: 2,
            vectors: PpmiConfig::default(),
            wechsel: WechselConfig::default(),
        }
    }
}

/// What [`transfer_model`] made.
#[derive(Clone)]
pub struct Transfer {
    /// The source model with WECHSEL embeddings for the target tokenizer.
    pub model: Gpt2,
    pub target_tok: BpeTokenizer,
    pub source_vectors: WordVectors,
    pub target_vectors: WordVectors,
    pub method: Wechsel,
    pub init: WechselInit,
}

impl Transfer {
    /// The baseline "only the embeddings are new": the source body with random embeddings of the
    /// source matrix's per-dimension mean and std (seeded).
    pub fn random_embedding_model(&self, source: &Gpt2, seed: u64) -> Result<Gpt2> {
        let e = random_embeddings(
            &embedding_matrix(source)?,
            self.target_tok.vocab_size(),
            seed,
        )?;
        swap_vocabulary(source, &e, self.target_tok.eot_id())
    }

    /// WECHSEL again with another dictionary (e.g. a shuffled one: the negative control), the
    /// tokenizer and word vectors reused.
    pub fn with_dictionary(
        &self,
        source: &Gpt2,
        source_tok: &BpeTokenizer,
        dict: &BilingualDictionary,
        cfg: &WechselConfig,
    ) -> Result<(Gpt2, Wechsel)> {
        let method = Wechsel::new(
            source_tok,
            &self.target_tok,
            &self.source_vectors,
            &self.target_vectors,
            dict,
        )?;
        let init = method.apply(
            source_tok,
            &self.target_tok,
            &embedding_matrix(source)?,
            cfg,
        )?;
        Ok((
            swap_vocabulary(source, &init.embeddings, self.target_tok.eot_id())?,
            method,
        ))
    }
}

/// WECHSEL's steps 1–5 (the paper's section 3): train the target tokenizer, word vectors for both
/// languages (PPMI + SVD here; fastText in the paper), align them with `dict`, map every target
/// token from its nearest source tokens, and swap the model's vocabulary.
pub fn transfer_model(
    source: &Gpt2,
    source_tok: &BpeTokenizer,
    source_docs: &[String],
    target_docs: &[String],
    dict: &BilingualDictionary,
    cfg: &TransferConfig,
) -> Result<Transfer> {
    let vocab = cfg.target_vocab.unwrap_or(source_tok.vocab_size());
    let target_tok = BpeTokenizer::train_with(
        target_docs,
        &BpeConfig {
            min_frequency: cfg.min_frequency,
            ..BpeConfig::new(vocab)
        },
    )?;
    let source_vectors = WordVectors::ppmi_svd(source_docs, &cfg.vectors)?;
    let target_vectors = WordVectors::ppmi_svd(target_docs, &cfg.vectors)?;
    let method = Wechsel::new(
        source_tok,
        &target_tok,
        &source_vectors,
        &target_vectors,
        dict,
    )?;
    let init = method.apply(
        source_tok,
        &target_tok,
        &embedding_matrix(source)?,
        &cfg.wechsel,
    )?;
    let model = swap_vocabulary(source, &init.embeddings, target_tok.eot_id())?;
    Ok(Transfer {
        model,
        target_tok,
        source_vectors,
        target_vectors,
        method,
        init,
    })
}

/// Top-1 word translation accuracy of an alignment: for each pair `(s, t)` of `dict` whose words
/// both have vectors, whether the target word nearest to `s`'s aligned vector is one of `s`'s
/// translations in `dict`. Returns (accuracy, pairs tested); chance is about 1 / target words.
pub fn translation_accuracy(
    source: &WordVectors,
    target: &WordVectors,
    align: &nalgebra::DMatrix<f64>,
    dict: &BilingualDictionary,
) -> (f64, usize) {
    let mut by_source: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for (s, t) in &dict.pairs {
        by_source.entry(s.as_str()).or_default().push(t.as_str());
    }
    let (mut hit, mut n) = (0usize, 0usize);
    for (s, ts) in by_source {
        let Some(v) = source.get(s) else { continue };
        if !ts.iter().any(|t| target.id(t).is_some()) {
            continue;
        }
        let mapped = (v.transpose() * align).transpose();
        let best = target.nearest(&mapped, 1);
        n += 1;
        if best.first().is_some_and(|(w, _)| ts.contains(&w.as_str())) {
            hit += 1;
        }
    }
    (if n == 0 { 0.0 } else { hit as f64 / n as f64 }, n)
}
