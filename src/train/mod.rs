//! Training: differentiable GPT-2 parameters, optimizers, schedules, the `Trainer` loop,
//! metrics and atomic, resumable checkpoints.

mod checkpoint;
pub mod ln_removal;
pub mod metrics;
pub mod optim;
pub mod params;
pub mod schedule;
pub mod tiny;
pub mod trainer;

pub use ln_removal::{average_scale, remove_all_at_once, LnRemovalSchedule};
pub use metrics::{MetricRow, Metrics};
pub use optim::{clip_grad_norm, grad_norm, AdamW, AdamWConfig, Optimizer, Sgd};
pub use params::{decays, lm_loss, Param, TrainableGpt2};
pub use schedule::LrSchedule;
pub use trainer::{evaluate, Callback, StepStats, TrainConfig, Trainer};
pub use tiny::{train_tiny_lm, TinyLmConfig};
