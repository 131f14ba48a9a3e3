//! Interpretability routines: direct logit attribution and direct effects, entropy neurons,
//! statistics of next-token distributions, the logit lens.

pub mod attribution;
pub mod circuits;
pub mod distribution;
pub mod entropy_neurons;
pub mod logit_lens;
pub mod patching;
pub mod sae;
pub mod weight_processing;

pub use attribution::{direct_effect, direct_logit_attribution, final_resid, head_and_mlp_components, head_results, nmae, target_logits};
pub use distribution::{cross_entropy_per_token, entropy, expected_calibration_error, js_divergence};
pub use entropy_neurons::{entropy_neuron_scores, neuron_ablation_entropy, unembed_null_space, EntropyEffect};
pub use logit_lens::logit_lens;
pub use patching::{activation_patching, activation_patching_naive, attribution_patching, LogitDiff, PatchGrid, PatchSite};
pub use circuits::{edit_value_vectors, head_dla, induction_scores, head_weights, logit_diff, neuron_dla, neuron_logits, neuron_top_tokens, neuron_value_vector, ov_circuit_tokens, ov_matrix, qk_matrix, swap_attention, top_k};
pub use weight_processing::{max_abs_diff_up_to_shift, process_weights, ProcessOptions, ProcessedGpt2};
pub mod frequency_tagging;
pub mod next_token;
