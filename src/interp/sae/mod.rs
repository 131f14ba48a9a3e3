//! Sparse autoencoders on any hook point: SAELens' standard ReLU SAE and file format
//! ([`model`]), trained with the unit-norm-decoder recipe of the SAE papers ([`train`]),
//! spliced into forward passes and generation as interventions, with direct feature
//! attribution through the heads for attention-output SAEs ([`dfa`]).

pub mod dfa;
pub mod model;
pub mod select;
pub mod train;

pub use dfa::{decoder_head_fractions, dfa_by_source, direct_feature_attribution};
pub use model::{Sae, SaeConfig};
pub use select::{cosine, decoder_direction, feature_label_scores, mean_difference, random_direction, steer_spec, typical_activation, unit, FeatureScore, SteeringTiers};
pub use train::{ce_loss_recovered, collect_activations, default_optimizer, geometric_median, project_decoder_grad, sae_loss, sae_metrics, train_sae, BDecInit, SaeMetrics, SaeTrainConfig, SaeTrainReport};
