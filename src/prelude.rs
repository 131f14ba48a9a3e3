//! Everything a notebook cell usually needs, in one `use`.
//!
//! The gpt2lab kernel runs `use gpt2lab::prelude::*;` at start, so a notebook can write
//! `Gpt2::random(..)`, `Tensor`, `Table`, `Chart`, `Scale::from_env()` and `claim(..)` directly.
//!
//! ```
//! use gpt2lab::prelude::*;
//! let scale = Scale::parse("ci").unwrap();
//! let cfg = Gpt2Config::tiny(64, 16, 32, scale.pick(1, 12), 4);
//! let model = Gpt2::random(cfg, 0, &Device::Cpu).unwrap();
//! let run = model.run_with_cache(&Tensor::new(&[1u32, 2, 3], &Device::Cpu).unwrap()).unwrap();
//! assert_eq!(run.logits.dims(), &[1, 3, 64]);
//! ```
//!
//! Also re-exported: the `candle` (candle-core), `candle_nn` and `polars` crates, so a cell
//! can reach the rest of them (`candle::Var`, `polars::prelude::*`) with the exact versions
//! gpt2lab is built with.

pub use candle_core::{DType, Device, IndexOp, Module, Tensor, D};
pub use candle_core as candle;
pub use candle_nn;
pub use polars;
pub use polars::df;
pub use polars::prelude::DataFrame;

pub use crate::display::*;
pub use crate::generate::{GenerateConfig, SamplingConfig};
pub use crate::hooks::{ActivationCache, HookPoint, HookSpec, Intervention};
pub use crate::model::{Gpt2, Gpt2Config, Run};
pub use crate::notebook::{check, check_close, claim, claim_close, claim_lt, mean_range, over_seeds, Claim, Scale, SEEDS};
pub use crate::tokenizer::Gpt2Tokenizer;
pub use crate::Error;
