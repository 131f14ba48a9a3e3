//! Rényi-DP accountant for the Poisson-subsampled Gaussian mechanism (DP-SGD), following
//! Mironov, Talwar & Zhang 2019 (arXiv 1908.10530, Section 3.3) as Opacus implements it
//! (`opacus/accountants/analysis/rdp.py`): RDP of one step at order α from log A_α (a finite
//! binomial sum for integer α, two erfc-weighted series for fractional α), times the number of
//! steps, converted to (ε, δ) by Balle et al. 2020 (Theorem 21):
//! ε = min_α RDP(α) − (ln δ + ln α)/(α − 1) + ln((α − 1)/α).
//! `tests/dp.rs` checks ε against Opacus on a grid of (q, σ, steps, δ).

use crate::{Error, Result};

/// Opacus's default orders: 1.1, 1.2, …, 10.9, then 12, …, 63.
pub fn default_orders() -> Vec<f64> {
    (1..100).map(|x| 1.0 + x as f64 / 10.0).chain((12..64).map(|x| x as f64)).collect()
}

fn log_add(x: f64, y: f64) -> f64 {
    let (a, b) = (x.min(y), x.max(y));
    if a == f64::NEG_INFINITY {
        return b;
    }
    (a - b).exp().ln_1p() + b
}

fn log_sub(x: f64, y: f64) -> f64 {
    if y == f64::NEG_INFINITY {
        return x;
    }
    if x <= y {
        // Opacus raises for x < y; equal means 0
        return f64::NEG_INFINITY;
    }
    let d = (x - y).exp_m1();
    if d.is_infinite() {
        x
    } else {
        d.ln() + y
    }
}

/// ln erfc(x), accurate to ~1e-7 relative for every x (Numerical Recipes' erfcc, kept in log
/// form so the far tail does not underflow).
pub fn log_erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -1.265_512_23
        + t * (1.000_023_68 + t * (0.374_091_96 + t * (0.096_784_18 + t * (-0.186_288_06 + t * (0.278_868_07 + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let log_pos = t.ln() - z * z + poly; // ln erfc(|x|)
    if x >= 0.0 {
        log_pos
    } else {
        (2.0 - log_pos.exp()).ln()
    }
}

/// The generalised binomial coefficient C(α, i), any real α.
fn binom(alpha: f64, i: usize) -> f64 {
    (0..i).fold(1.0, |c, k| c * (alpha - k as f64) / (k + 1) as f64)
}

fn log_a_int(q: f64, sigma: f64, alpha: usize) -> f64 {
    let mut log_a = f64::NEG_INFINITY;
    for i in 0..=alpha {
        let log_coef = binom(alpha as f64, i).ln() + i as f64 * q.ln() + (alpha - i) as f64 * (1.0 - q).ln();
        let s = log_coef + (i * i - i) as f64 / (2.0 * sigma * sigma);
        log_a = log_add(log_a, s);
    }
    log_a
}

fn log_a_frac(q: f64, sigma: f64, alpha: f64) -> f64 {
    let (mut log_a0, mut log_a1) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    let z0 = sigma * sigma * (1.0 / q - 1.0).ln() + 0.5;
    let mut i = 0usize;
    loop {
        let coef = binom(alpha, i);
        let log_coef = coef.abs().ln();
        let fi = i as f64;
        let j = alpha - fi;
        let log_t0 = log_coef + fi * q.ln() + j * (1.0 - q).ln();
        let log_t1 = log_coef + j * q.ln() + fi * (1.0 - q).ln();
        let log_e0 = 0.5f64.ln() + log_erfc((fi - z0) / (2f64.sqrt() * sigma));
        let log_e1 = 0.5f64.ln() + log_erfc((z0 - j) / (2f64.sqrt() * sigma));
        let log_s0 = log_t0 + (fi * fi - fi) / (2.0 * sigma * sigma) + log_e0;
        let log_s1 = log_t1 + (j * j - j) / (2.0 * sigma * sigma) + log_e1;
        if coef > 0.0 {
            log_a0 = log_add(log_a0, log_s0);
            log_a1 = log_add(log_a1, log_s1);
        } else {
            log_a0 = log_sub(log_a0, log_s0);
            log_a1 = log_sub(log_a1, log_s1);
        }
        i += 1;
        if log_s0.max(log_s1) < -30.0 || i > 10_000 {
            break;
        }
    }
    log_add(log_a0, log_a1)
}

/// RDP of one step of the sampled Gaussian mechanism at order `alpha` (sampling rate `q`,
/// noise multiplier `sigma`); +∞ when σ = 0.
pub fn rdp_step(q: f64, sigma: f64, alpha: f64) -> f64 {
    if q == 0.0 {
        return 0.0;
    }
    if sigma == 0.0 {
        return f64::INFINITY;
    }
    if q == 1.0 {
        return alpha / (2.0 * sigma * sigma);
    }
    if alpha.is_infinite() {
        return f64::INFINITY;
    }
    let log_a = if alpha.fract() == 0.0 { log_a_int(q, sigma, alpha as usize) } else { log_a_frac(q, sigma, alpha) };
    log_a / (alpha - 1.0)
}

fn validate(q: f64, sigma: f64, delta: f64) -> Result<()> {
    if !(q > 0.0 && q <= 1.0) {
        return Err(Error::Privacy(format!("sampling rate q = {q} must be in (0, 1]")));
    }
    if !(sigma >= 0.0 && sigma.is_finite()) {
        return Err(Error::Privacy(format!("noise multiplier σ = {sigma} must be finite and ≥ 0")));
    }
    if !(delta > 0.0 && delta < 1.0) {
        return Err(Error::Privacy(format!("δ = {delta} must be in (0, 1)")));
    }
    Ok(())
}

/// (ε, optimal order) after `steps` steps at δ, over `orders` (Opacus's `get_privacy_spent`).
/// ε = +∞ when σ = 0 (no privacy).
pub fn epsilon(q: f64, sigma: f64, steps: usize, delta: f64, orders: &[f64]) -> Result<(f64, f64)> {
    validate(q, sigma, delta)?;
    if orders.is_empty() || orders.iter().any(|&a| !(a > 1.0)) {
        return Err(Error::Privacy("RDP orders must be > 1 (and at least one)".into()));
    }
    let mut best = (f64::INFINITY, f64::NAN);
    for &a in orders {
        let rdp = rdp_step(q, sigma, a) * steps as f64;
        let eps = rdp - (delta.ln() + a.ln()) / (a - 1.0) + ((a - 1.0) / a).ln();
        if eps < best.0 {
            best = (eps, a);
        }
    }
    Ok(best)
}

/// The smallest noise multiplier (to `tol`) whose ε after `steps` steps at δ is at most
/// `target_eps`, by bisection on σ (ε falls as σ grows). Errors when no σ ≤ 1e4 reaches it.
pub fn noise_for_epsilon(target_eps: f64, q: f64, steps: usize, delta: f64, tol: f64) -> Result<f64> {
    validate(q, 1.0, delta)?;
    if !(target_eps > 0.0 && target_eps.is_finite()) {
        return Err(Error::Privacy(format!("target ε = {target_eps} must be finite and > 0")));
    }
    let orders = default_orders();
    let eps_at = |s: f64| epsilon(q, s, steps, delta, &orders).map(|e| e.0);
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    while eps_at(hi)? > target_eps {
        hi *= 2.0;
        if hi > 1e4 {
            return Err(Error::Privacy(format!("no noise multiplier ≤ 1e4 reaches ε = {target_eps}")));
        }
    }
    while hi - lo > tol {
        let mid = 0.5 * (lo + hi);
        if eps_at(mid)? > target_eps {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_erfc_matches_known_values() {
        // erfc(0) = 1, erfc(1) = 0.157299207050285, erfc(-1) = 1.842700792949715, erfc(5) = 1.5374597944280e-12
        for (x, v) in [(0.0, 1.0), (1.0, 0.157_299_207_050_285), (-1.0, 1.842_700_792_949_715), (5.0, 1.537_459_794_428e-12)] {
            assert!((log_erfc(x) - f64::ln(v)).abs() < 2e-7, "{x}");
        }
        assert!(log_erfc(40.0).is_finite(), "no underflow in the tail");
    }

    #[test]
    fn full_batch_is_the_gaussian_mechanism() {
        // q = 1: RDP(α) = α / (2σ²) exactly
        assert!((rdp_step(1.0, 2.0, 3.5) - 3.5 / 8.0).abs() < 1e-15);
        // integer and fractional paths agree near an integer order
        let (a, b) = (rdp_step(0.01, 1.1, 4.0), rdp_step(0.01, 1.1, 4.000_001));
        assert!((a - b).abs() / a < 1e-4, "{a} vs {b}");
    }

    #[test]
    fn bad_settings_are_typed_errors() {
        let o = default_orders();
        assert!(matches!(epsilon(0.0, 1.0, 10, 1e-5, &o), Err(Error::Privacy(_))));
        assert!(matches!(epsilon(0.01, 1.0, 10, 1.5, &o), Err(Error::Privacy(_))));
        assert_eq!(epsilon(0.01, 0.0, 10, 1e-5, &o).unwrap().0, f64::INFINITY);
        assert!(matches!(noise_for_epsilon(0.0, 0.01, 10, 1e-5, 1e-3), Err(Error::Privacy(_))));
        let s = noise_for_epsilon(8.0, 0.01, 1000, 1e-5, 1e-4).unwrap();
        let e = epsilon(0.01, s, 1000, 1e-5, &o).unwrap().0;
        assert!(e <= 8.0 && e > 7.9, "σ = {s} gives ε = {e}");
    }
}
