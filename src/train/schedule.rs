//! Learning-rate schedules: warmup then constant, linear decay, or cosine to a floor.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum LrSchedule {
    Constant { lr: f64 },
    /// Linear warmup from 0 over `warmup` steps, then constant.
    WarmupConstant { lr: f64, warmup: usize },
    /// Linear warmup, then linear decay to `final_lr` at `total` steps.
    Linear { lr: f64, warmup: usize, total: usize, final_lr: f64 },
    /// Linear warmup, then cosine decay to `min_lr` at `total` steps (nanoGPT's schedule).
    Cosine { lr: f64, warmup: usize, total: usize, min_lr: f64 },
}

impl LrSchedule {
    /// The learning rate at `step` (0-based).
    pub fn at(&self, step: usize) -> f64 {
        let warm = |lr: f64, warmup: usize| if warmup > 0 && step < warmup { Some(lr * (step + 1) as f64 / warmup as f64) } else { None };
        match *self {
            LrSchedule::Constant { lr } => lr,
            LrSchedule::WarmupConstant { lr, warmup } => warm(lr, warmup).unwrap_or(lr),
            LrSchedule::Linear { lr, warmup, total, final_lr } => warm(lr, warmup).unwrap_or_else(|| {
                if step >= total {
                    return final_lr;
                }
                let frac = (step - warmup) as f64 / (total - warmup).max(1) as f64;
                lr + (final_lr - lr) * frac
            }),
            LrSchedule::Cosine { lr, warmup, total, min_lr } => warm(lr, warmup).unwrap_or_else(|| {
                if step >= total {
                    return min_lr;
                }
                let frac = (step - warmup) as f64 / (total - warmup).max(1) as f64;
                min_lr + 0.5 * (1.0 + (std::f64::consts::PI * frac).cos()) * (lr - min_lr)
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_warms_up_peaks_and_ends_at_floor() {
        let s = LrSchedule::Cosine { lr: 1.0, warmup: 10, total: 110, min_lr: 0.1 };
        assert!((s.at(0) - 0.1).abs() < 1e-12);
        assert!((s.at(9) - 1.0).abs() < 1e-12);
        assert!((s.at(10) - 1.0).abs() < 1e-12);
        assert!((s.at(60) - 0.55).abs() < 1e-12);
        assert!((s.at(110) - 0.1).abs() < 1e-12);
        assert!((1..200).all(|i| i < 10 || s.at(i) <= s.at(i - 1) + 1e-12));
    }

    #[test]
    fn linear_and_constant() {
        let s = LrSchedule::Linear { lr: 1.0, warmup: 0, total: 10, final_lr: 0.0 };
        assert!((s.at(5) - 0.5).abs() < 1e-12);
        assert_eq!(s.at(20), 0.0);
        assert_eq!(LrSchedule::WarmupConstant { lr: 2.0, warmup: 4 }.at(1), 1.0);
        assert_eq!(LrSchedule::Constant { lr: 3.0 }.at(99), 3.0);
    }
}
