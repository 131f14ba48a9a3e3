//! Per-paper entry points and their committed artefacts.
//!
//! One convention for every paper notebook (`../shared/notebook-standard.md`, section 2):
//! when a paper's multi-seed runs do not fit a notebook's ci budget, `papers::<slug>` holds a
//! function that runs one seed and returns its [`SeedMetrics`], and
//! `cargo run --example artefact -- <slug>` runs every seed and writes
//! `datasets/<slug>/` through [`ArtefactWriter`] (manifest with command, seeds, git revision,
//! library version and sha256 of every file). The notebook loads it with [`Artefact::load`]
//! (hashes checked), re-runs one seed live, checks it against the stored row
//! ([`Artefact::check_live`]) and asserts its claims on every row. `tests/artefacts.rs` checks
//! every committed manifest.

pub mod anchored_bias;
pub mod artefact;
pub mod conda;
pub mod bias_out_of_the_box;
pub mod contrastive_search;
pub mod layernorm_removal;
pub mod mission_impossible;
pub mod wechsel;
pub mod optim_bench;
pub mod pii_leakage;
pub mod sophia;
pub mod tinystories;

/// The fewest seeds a committed artefact holds (the standard: every claim over at least 3).
pub const MIN_ARTEFACT_SEEDS: usize = crate::notebook::MIN_SEEDS;

pub use artefact::{compare, Artefact, ArtefactWriter, Comparison, Manifest, SeedMetrics};
pub mod mgpt;
pub mod nola;
pub mod hftp;
pub mod hut;
pub mod gedi;
pub mod tom_next_token;
pub mod one_layer_knowledge;
pub mod sae_detox;
pub mod attention_saes;
