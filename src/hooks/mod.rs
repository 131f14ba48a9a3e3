//! Hook points, hook specs (capture + interventions as data) and the activation cache.

mod cache;
mod point;
mod spec;

pub use cache::ActivationCache;
pub use point::{HookPoint, Ln};
pub use spec::{HookCtx, HookFn, HookSpec, Intervention, IntoHookPoint};
