//! Interpretability routines: direct logit attribution and direct effects, entropy neurons,
//! statistics of next-token distributions, the logit lens.

pub mod attribution;
pub mod distribution;
pub mod entropy_neurons;
pub mod logit_lens;
pub mod patching;

pub use attribution::{direct_effect, direct_logit_attribution, final_resid, head_and_mlp_components, head_results, nmae, target_logits};
pub use distribution::{cross_entropy_per_token, entropy, expected_calibration_error, js_divergence};
pub use entropy_neurons::{entropy_neuron_scores, neuron_ablation_entropy, unembed_null_space, EntropyEffect};
pub use logit_lens::logit_lens;
pub use patching::{activation_patching, activation_patching_naive, attribution_patching, LogitDiff, PatchGrid, PatchSite};
