//! Finding and steering concept features: feature–label correlation over labelled positions
//! (mean difference and point-biserial correlation), the mean-difference steering vector of the
//! raw activations (the non-SAE baseline), a feature's typical activation, and steering "tiers"
//! whose strength is a multiple of that typical activation.
//!
//! The point-biserial correlation of a feature f with a binary label y over N positions is
//! Pearson's r between f and y:
//!
//! ```text
//! r_pb = (M₁ − M₀) / s · √(n₁ n₀ / N²)        s: the population standard deviation of f
//! ```
//!
//! (0 for a feature that never varies). Steering adds `−α·d` at every position of the hook,
//! `d` a unit direction (an SAE decoder row, or the normalised mean difference), during the
//! whole generation (prompt and new tokens).

use candle_core::{DType, Device, Tensor};
use rand::{rngs::StdRng, Rng, SeedableRng};

use super::model::Sae;
use crate::hooks::{HookPoint, HookSpec, Intervention};
use crate::{Error, Result};

/// One feature's association with the label.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureScore {
    pub feature: usize,
    /// Mean activation where the label is 1 minus where it is 0.
    pub mean_diff: f64,
    /// Point-biserial correlation with the label.
    pub r_pb: f64,
    /// Mean activation where the label is 1.
    pub mean_pos: f64,
    /// Mean activation where the label is 0.
    pub mean_neg: f64,
}

fn check_rows(acts: &Tensor, labels: &[bool]) -> Result<(usize, usize)> {
    let (n, d) = acts.dims2().map_err(|_| Error::Shape(format!("feature scores need (N, d) activations, got {:?}", acts.dims())))?;
    if n != labels.len() {
        return Err(Error::Shape(format!("{n} activation rows but {} labels", labels.len())));
    }
    let pos = labels.iter().filter(|&&l| l).count();
    if pos == 0 || pos == n {
        return Err(Error::EmptyInput(format!("feature–label correlation needs both labels ({pos} positive of {n})")));
    }
    Ok((n, d))
}

/// Mean difference and point-biserial correlation of every column of `acts` (N, d_sae) with
/// `labels`, sorted by `r_pb`, highest first.
pub fn feature_label_scores(acts: &Tensor, labels: &[bool]) -> Result<Vec<FeatureScore>> {
    let (n, d) = check_rows(acts, labels)?;
    let rows: Vec<Vec<f32>> = acts.to_dtype(DType::F32)?.to_vec2()?;
    let n1 = labels.iter().filter(|&&l| l).count() as f64;
    let n0 = n as f64 - n1;
    let (mut s1, mut s0, mut sq) = (vec![0f64; d], vec![0f64; d], vec![0f64; d]);
    for (row, &l) in rows.iter().zip(labels) {
        for (j, &x) in row.iter().enumerate() {
            let x = x as f64;
            if l {
                s1[j] += x;
            } else {
                s0[j] += x;
            }
            sq[j] += x * x;
        }
    }
    let nf = n as f64;
    let mut out: Vec<FeatureScore> = (0..d)
        .map(|j| {
            let (m1, m0) = (s1[j] / n1, s0[j] / n0);
            let mean = (s1[j] + s0[j]) / nf;
            let var = (sq[j] / nf - mean * mean).max(0.0);
            let r = if var > 1e-20 { (m1 - m0) / var.sqrt() * (n1 * n0 / (nf * nf)).sqrt() } else { 0.0 };
            FeatureScore { feature: j, mean_diff: m1 - m0, r_pb: r, mean_pos: m1, mean_neg: m0 }
        })
        .collect();
    out.sort_by(|a, b| b.r_pb.total_cmp(&a.r_pb).then(a.feature.cmp(&b.feature)));
    Ok(out)
}

/// The mean-difference direction of raw activations: mean over label-1 rows minus mean over
/// label-0 rows, (d). The non-SAE steering baseline (difference-in-means / ActAdd-style).
pub fn mean_difference(acts: &Tensor, labels: &[bool]) -> Result<Tensor> {
    check_rows(acts, labels)?;
    let mask: Vec<f32> = labels.iter().map(|&l| if l { 1.0 } else { 0.0 }).collect();
    let m = Tensor::from_vec(mask, (labels.len(), 1), acts.device())?;
    let acts = acts.to_dtype(DType::F32)?;
    let pos = (acts.broadcast_mul(&m)?.sum(0)? / m.sum_all()?.to_scalar::<f32>()? as f64)?;
    let inv = m.affine(-1.0, 1.0)?;
    let neg = (acts.broadcast_mul(&inv)?.sum(0)? / inv.sum_all()?.to_scalar::<f32>()? as f64)?;
    Ok((pos - neg)?)
}

/// `v / ‖v‖` (typed error for a zero vector).
pub fn unit(v: &Tensor) -> Result<Tensor> {
    let n = v.sqr()?.sum_all()?.sqrt()?.to_scalar::<f32>()? as f64;
    if !(n > 1e-12) {
        return Err(Error::Msg("cannot normalise a zero direction".into()));
    }
    Ok((v / n)?)
}

/// A random unit direction of dimension `d` (Gaussian, seeded): the equal-norm control.
pub fn random_direction(d: usize, seed: u64) -> Result<Tensor> {
    let mut rng = StdRng::seed_from_u64(seed);
    // Box–Muller: two uniforms per normal draw
    let v: Vec<f32> = (0..d)
        .map(|_| {
            let (u1, u2): (f64, f64) = (rng.random::<f64>().max(1e-300), rng.random());
            ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
        })
        .collect();
    unit(&Tensor::from_vec(v, d, &Device::Cpu)?)
}

/// A feature's typical activation: its mean over the rows where it fires and the label is 1
/// (0 when it never fires there).
pub fn typical_activation(feature_acts: &Tensor, labels: &[bool], feature: usize) -> Result<f64> {
    let (_, d) = check_rows(feature_acts, labels)?;
    if feature >= d {
        return Err(Error::Shape(format!("feature {feature} out of range (d_sae = {d})")));
    }
    let col: Vec<f32> = feature_acts.narrow(1, feature, 1)?.squeeze(1)?.to_dtype(DType::F32)?.to_vec1()?;
    let on: Vec<f64> = col.iter().zip(labels).filter(|(x, &l)| l && **x > 0.0).map(|(x, _)| *x as f64).collect();
    Ok(if on.is_empty() { 0.0 } else { on.iter().sum::<f64>() / on.len() as f64 })
}

/// Steering tiers: strengths α_k = multiplier_k × the feature's typical activation.
#[derive(Clone, Debug, PartialEq)]
pub struct SteeringTiers {
    pub names: Vec<String>,
    pub multipliers: Vec<f64>,
    pub typical: f64,
}

impl SteeringTiers {
    /// Tiers named `names` at `multipliers` × `typical` (equal lengths, multipliers ≥ 0).
    pub fn new(names: &[&str], multipliers: &[f64], typical: f64) -> Result<Self> {
        if names.len() != multipliers.len() || names.is_empty() {
            return Err(Error::Msg(format!("{} tier names for {} multipliers", names.len(), multipliers.len())));
        }
        if multipliers.iter().any(|m| !(m.is_finite() && *m >= 0.0)) || !typical.is_finite() {
            return Err(Error::Msg(format!("tier multipliers {multipliers:?} and typical activation {typical} must be finite, ≥ 0")));
        }
        Ok(SteeringTiers { names: names.iter().map(|s| s.to_string()).collect(), multipliers: multipliers.to_vec(), typical })
    }
    /// The α of every tier.
    pub fn alphas(&self) -> Vec<f64> {
        self.multipliers.iter().map(|m| m * self.typical).collect()
    }
}

/// The steering hook: `−α·direction` added at every position of `point`.
pub fn steer_spec(point: HookPoint, direction: &Tensor, alpha: f64) -> Result<HookSpec> {
    Ok(HookSpec::new().intervene(point, Intervention::Add((direction * -alpha)?)))
}

/// The unit decoder direction of a feature set: the normalised sum of their (unit) decoder rows
/// (one feature: its row).
pub fn decoder_direction(sae: &Sae, features: &[usize]) -> Result<Tensor> {
    if features.is_empty() {
        return Err(Error::EmptyInput("no features to steer".into()));
    }
    let mut v: Option<Tensor> = None;
    for &f in features {
        if f >= sae.cfg.d_sae {
            return Err(Error::Shape(format!("feature {f} out of range (d_sae = {})", sae.cfg.d_sae)));
        }
        let row = unit(&sae.w_dec.as_tensor().get(f)?)?;
        v = Some(match v {
            Some(acc) => (acc + row)?,
            None => row,
        });
    }
    unit(&v.expect("features is non-empty"))
}

/// Cosine similarity of two vectors.
pub fn cosine(a: &Tensor, b: &Tensor) -> Result<f64> {
    let a = a.to_dtype(DType::F32)?.flatten_all()?;
    let b = b.to_dtype(DType::F32)?.flatten_all()?;
    let dot = (&a * &b)?.sum_all()?.to_scalar::<f32>()? as f64;
    let na = a.sqr()?.sum_all()?.sqrt()?.to_scalar::<f32>()? as f64;
    let nb = b.sqr()?.sum_all()?.sqrt()?.to_scalar::<f32>()? as f64;
    Ok(dot / (na * nb).max(1e-12))
}
