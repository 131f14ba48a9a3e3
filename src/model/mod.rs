//! The GPT-2 model: config, components (one file each), weights I/O, KV cache.

pub mod attention;
pub mod block;
pub mod config;
pub mod default;
pub mod gemv;
pub mod gpt2;
pub mod gpt_neo;
pub mod kernels;
pub mod fused_attention;
pub mod fused_embedding;
#[cfg(feature = "cuda")]
pub(crate) mod cuda_kernels;
pub mod hub;
pub mod kv_cache;
pub mod mlp;
pub mod norm;
pub mod partial;
pub mod ops;
pub mod position;
pub mod weights;
pub mod xent;

pub use config::{Activation, Gpt2Config};
pub use position::PositionEmbedding;
pub use norm::{LnTarget, NormMode};
pub use gpt2::{ForwardOpts, Gpt2, Run};
pub use partial::Entry;
pub use default::{default_model_dir, load_default};
pub use kv_cache::KvCache;
pub use weights::LoadOptions;
pub use hub::HubSource;
pub use config::MlpKind;
