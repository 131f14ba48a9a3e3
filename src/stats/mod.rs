//! Statistics for evaluating generations: logistic regression with Wald and likelihood-ratio
//! tests and McFadden's pseudo-R² ([`logistic`]), Gini coefficients and Lorenz curves
//! ([`inequality`]), percentile bootstrap intervals ([`bootstrap`]). Distributions come from
//! statrs, the linear algebra from nalgebra; every function is checked against
//! statsmodels/scipy/numpy on fixed data (`scripts/make_stats_fixtures.py`, `tests/stats.rs`).

pub mod bootstrap;
pub mod inequality;
pub mod logistic;

pub use bootstrap::{bootstrap_ci, mean, quantile, ConfidenceInterval};
pub use inequality::{gini, lorenz_curve};
pub use logistic::{fit_logit, lr_test, normal_two_sided_p, DesignBuilder, LogitData, LogitFit, LogitOptions, LrTest, Term};
