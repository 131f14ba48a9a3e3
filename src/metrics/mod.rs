//! Evaluation metrics for generated text and for representations.
//!
//! - [`generation`]: rep-n, diversity (SimCTG / Su & Collier 2023), distinct-n, length.
//! - [`isotropy`]: self-similarity and isotropy of a model's token representations.
//! - [`coherence`]: mean log-probability of a continuation given its prefix under a scoring
//!   model (the coherence score of Su & Collier 2023).

pub mod coherence;
pub mod generation;
pub mod isotropy;
pub mod text;

pub use coherence::{coherence, coherence_batch, CoherenceEvaluator};
pub use generation::{diversity, mean_length, rep_n, rep_n_tokens, rep_n_with, Counting, Repetition};
pub use isotropy::{cosine_similarity_matrix, isotropy, last_hidden_states, model_isotropy, self_similarity, IsotropyAccumulator};
pub mod multilingual;
pub use multilingual::{bits_per_byte, fertility, language_bpb, stream_bits, tokenizer_fertility, word_count, Bpb};
