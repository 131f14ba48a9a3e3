//! gpt2lab: a notebook-native laboratory for GPT-2 research, on candle.
//!
//! The flow a notebook follows: text ─[`tokenizer`]─▶ ids ─▶ [`model::Gpt2::run`] with a
//! [`hooks::HookSpec`] ─▶ logits + [`hooks::ActivationCache`] ─▶ analysis and [`display`].

pub mod display;
pub mod error;

pub use error::{Error, Result};
