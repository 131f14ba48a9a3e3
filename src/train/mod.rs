//! Training: differentiable GPT-2 parameters, optimizers, schedules, the `Trainer` loop,
//! metrics and atomic, resumable checkpoints.

mod checkpoint;
pub mod conda;
pub mod curvature;
pub mod dp;
pub mod groups;
pub mod sophia;
pub mod spectrum;
pub mod ln_removal;
pub mod metrics;
pub mod muon;
pub mod optim;
mod fused_adamw;
pub mod params;
pub mod rdp;
pub mod schedule;
pub mod tiny;
pub mod trainer;

pub use ln_removal::{average_scale, remove_all_at_once, LnRemovalSchedule};
pub use metrics::{MetricRow, Metrics};
pub use optim::{clip_grad_norm, grad_norm, AdamW, AdamWConfig, Optimizer, Sgd};
pub use params::{decays, lm_loss, Param, TrainableGpt2};
pub use schedule::LrSchedule;
pub use trainer::{evaluate, Callback, StepStats, TrainConfig, Trainer};
pub use groups::{is_conv1d_weight, to_linear, ParamGroup, ParamGroups, Select};
pub use sophia::{SophiaConfig, SophiaG};
pub use conda::{Conda, CondaConfig};
pub use muon::{newton_schulz5, Muon, MuonConfig, MuonVariant};
pub use tiny::{tiny_lm_trainer, train_tiny_lm, TinyLmConfig};
pub mod cclm;
