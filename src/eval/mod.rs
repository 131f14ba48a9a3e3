//! Language-model evaluation for training experiments: per-token surprisal (bits), per-sentence
//! perplexity with padding handled exactly, geometric means, marker surprisal, evaluation at
//! training checkpoints and side-by-side runs — and the Mission: Impossible protocol built on
//! them ([`impossible`]).
//!
//! | file | holds |
//! |---|---|
//! | [`surprisal`] | [`token_surprisals`], [`sentence_perplexities`], [`geometric_mean`], [`MarkerSurprisals`] |
//! | [`impossible`] | [`perturb_languages`], [`shared_vocab`], [`train_language`], [`fit_with_checkpoints`], [`parallel_map`] |

pub mod impossible;
pub mod leakage;
pub mod surprisal;

pub use impossible::{babylm_language_data, evaluate_language, evaluate_model, fit_with_checkpoints, gpt2_vocab_with_markers, parallel_map, perturb_languages, shared_vocab, train_language, CheckpointEval, LanguageData, LanguageRun, RunConfig};
pub use surprisal::{geometric_mean, marker_pairs, mean_ci95, sentence_perplexities, token_surprisals, MarkerPair, MarkerSurprisals};
pub mod fewshot;
pub use fewshot::{argmin, balanced_pool, demonstrations, evaluate_fewshot, summed_losses, truncate_left, Example, FewShotConfig, FewShotResult, Verbalizer};
