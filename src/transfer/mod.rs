//! Cross-lingual transfer of a trained model to a new language and tokenizer: static word
//! vectors (PPMI + SVD, a stand-in for fastText), orthogonal Procrustes, and WECHSEL's
//! initialisation of new subword embeddings (Minixhofer et al., NAACL 2022), with the
//! vocabulary swap that gives a model new embedding rows and keeps its transformer body.
//!
//! | file | holds |
//! |---|---|
//! | [`word_vectors`] | [`WordVectors`]: PPMI + randomised SVD word vectors, cosine top-k |
//! | [`procrustes`] | [`orthogonal_procrustes`] (scipy's `orthogonal_procrustes`) |
//! | [`pipeline`] | [`transfer_model`]: tokenizer, vectors, alignment, mapping and swap in one call |
//! | [`wechsel`] | subword embeddings, dictionary alignment, the top-k / temperature mapping, [`swap_vocabulary`] |
//!
//! Tokenizer training is [`crate::data::BpeTokenizer`]; the synthetic language pair and its
//! dictionaries are [`crate::data::Relexifier`] and [`crate::data::BilingualDictionary`].

pub mod pipeline;
pub mod procrustes;
pub mod wechsel;
pub mod word_vectors;

pub use pipeline::{transfer_model, translation_accuracy, Transfer, TransferConfig};
pub use procrustes::{known_rotation_error, orthogonal_procrustes};
pub use wechsel::{
    align, embedding_matrix, random_embeddings, shared_specials, subword_embeddings,
    swap_vocabulary, target_embeddings, Alignment, Neighbour, SubwordEmbeddings, Wechsel,
    WechselConfig, WechselInit,
};
pub use word_vectors::{cosine_rows, split_words, top_k, PpmiConfig, WordVectors};
