//! Parameter-efficient fine-tuning: adapters on the projections of a loaded GPT-2.
//!
//! | file | holds |
//! |---|---|
//! | [`site`] | the adaptable projections by name, target matching (PEFT's `target_modules` rule) |
//! | [`adapter`] | [`Adapter`]: LoRA and NOLA factors, merge/unmerge, trainable counts, a [`crate::train::Trainer`] over the factors |
//! | [`io`] | save/load just the adapter in PEFT's `adapter_config.json` + `adapter_model.safetensors` layout |
//! | [`hut`] | HUT's update W₀ ⊙ (1 + s·B·A) (arXiv 2409.13501), its FLOP count, a LoRA-only loader |
//! | [`cost`] | counted FLOPs and measured step time, full fine-tuning vs adapters |
//! | [`svd`] | the ΔW spectrum: what fine-tuning changed, as singular values |

pub mod adapter;
pub mod cost;
pub mod hut;
pub mod io;
pub mod site;
pub mod svd;

pub use adapter::{Adapter, AdapterConfig, Factors, Method, SiteAdapter, SplitMix64};
pub use hut::{hut_delta, hut_flops, site_w0};
pub use cost::{adapter_flops, forward_flops, full_finetune_flops, time_steps, AdapterPath, StepFlops};
pub use site::{all_sites, resolve_targets, valid_targets, Proj, Site, Slice};
pub use svd::{singular_values, weight_delta, DeltaSpectrum};
