//! gpt2lab: a notebook-native laboratory for GPT-2 research, on candle.
//!
//! The flow a notebook follows: text ─[`tokenizer`]─▶ ids ─▶ [`model::Gpt2::run`] with a
//! [`hooks::HookSpec`] ─▶ logits + [`hooks::ActivationCache`] ─▶ analysis and [`display`].

pub mod data;
pub mod display;
pub mod error;
pub mod eval;
pub mod generate;
pub mod hooks;
pub mod interp;
pub mod metrics;
pub mod model;
pub mod notebook;
pub mod papers;
pub mod peft;
pub mod prelude;
pub mod runtime;
pub mod stats;
pub mod tokenizer;
pub mod train;
pub mod transfer;

pub use error::{Error, Result};
