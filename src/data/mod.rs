//! Data for training and probing: token datasets, vocabulary compaction, small text tokenizers,
//! synthetic corpora (a PCFG with gold annotations, TinyStories-like stories) and offline real
//! English (the King James Bible from Debian's `bible-kjv-text`).
//!
//! Everything random here is seeded: the same seed gives the same output, on every machine.
//!
//! | file | holds |
//! |---|---|
//! | [`dataset`] | [`TokenDataset`]: packed blocks, seeded batches, splits, random windows |
//! | [`vocab`] | [`CompactVocab`]: GPT-2 ids ⇄ dense ids for tiny embeddings |
//! | [`text_tokenizers`] | [`CharTokenizer`], [`WordTokenizer`], the [`TextTokenizer`] trait |
//! | [`pcfg`] | [`Pcfg`]: a small English grammar whose words carry POS / number / tense / lemma |
//! | [`stories`] | [`StoryGen`]: short children's stories with characters, objects and probes |
//! | [`corpus`] | [`kjv_text`] and friends; notes on hub datasets at full scale |

pub mod bpe;
pub mod corpus;
pub mod dataset;
pub mod e2e;
pub mod mcq;
pub mod multilingual;
pub mod strategies;
pub mod occupations;
pub mod pcfg;
pub mod pii;
pub mod perturb;
pub mod stories;
pub mod text_tokenizers;
pub mod vocab;

pub use corpus::{
    hub_dataset_files, kjv_available, kjv_path, kjv_raw, kjv_text, kjv_verses, parquet_text_column, read_documents, KjvVerse, KJV_BOOKS, KJV_DATA_PATH,
    KJV_PACKAGE,
};
pub use bpe::{BpeConfig, BpeTokenizer};
pub use dataset::{Batches, TokenDataset};
pub use pcfg::bilingual::{BilingualDictionary, Relexifier};
pub use occupations::{Cell, OccupationWorld, GENDERS};
pub use perturb::{Family, Language, PerturbedCorpus, Perturber};
pub use pcfg::{Number, Pcfg, Person, Pos, Sentence, Tense, VerbInfo, Word};
pub use stories::{Character, Probe, ProbeKind, Role, Story, StoryArc, StoryGen, StoryObject};
pub use text_tokenizers::{CharTokenizer, OnUnknown, TextTokenizer, WordTokenizer, WordTokenizerConfig};
pub use vocab::{CompactVocab, CompactVocabBuilder};
pub use mcq::{GoldPolicy, McqGen, McqItem};
pub use bpe::PreTokenization;
pub use multilingual::{ClassItem, Doc, LangKind, LangSpec, MultilingualCorpus, MultilingualGen};
pub use strategies::{mark_case, temperature_sample, temperature_shares, unmark_case, Strategy, StrategyConfig, StrategyTokenizer};
pub mod tagging;
pub mod topics;
pub mod toxic_register;
pub mod tom;
pub mod facts;
pub use facts::{Fact, FactWorld, FactsConfig, Qa};
pub mod ioi;
