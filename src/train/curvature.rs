//! The curvature pass SophiaG's Gauss–Newton–Bartlett estimator needs: the gradient of the
//! loss on labels *sampled from the model's own distribution* (not the data's labels).
//!
//! For a softmax output, E_ŷ[ĝ ĝᵀ] with ĝ = ∇ CE(f(x), ŷ), ŷ ~ softmax(f(x)), is the
//! Gauss–Newton matrix; its diagonal is estimated by ĝ ⊙ ĝ (Liu et al. 2024, Alg. 2). The
//! official training loop (`train_sophiag.py`) samples ŷ with `Categorical(logits=..)`; here it
//! is the Gumbel-max trick, argmax(logits − log(−log U)), which draws from the same softmax.

use candle_core::backprop::GradStore;
use candle_core::{DType, Tensor};
use rand::{rngs::StdRng, Rng, SeedableRng};

use super::optim::{clip_grad_norm, grad_norm};
use super::params::TrainableGpt2;
use crate::model::ops;
use crate::{Error, Result};

/// Labels drawn from softmax(`logits`) along the last axis by Gumbel-max, one per row;
/// `logits` `(.., V)`, result `(..)` u32. Deterministic in `seed`.
pub fn sample_labels(logits: &Tensor, seed: u64) -> Result<Tensor> {
    let logits = logits.detach().to_dtype(DType::F32)?;
    let n = logits.elem_count();
    if n == 0 {
        return Err(Error::EmptyInput("sample_labels: empty logits".into()));
    }
    let mut rng = StdRng::seed_from_u64(seed);
    // U in (0, 1): the open interval keeps log(−log U) finite
    let gumbel: Vec<f32> = (0..n)
        .map(|_| {
            let u: f64 = rng.random::<f64>().clamp(1e-12, 1.0 - 1e-12);
            (-(-u.ln()).ln()) as f32
        })
        .collect();
    let g = Tensor::from_vec(gumbel, logits.shape(), logits.device())?;
    let last = logits.rank() - 1;
    Ok((logits + g)?.argmax(last)?)
}

/// Gradients of the mean cross-entropy against labels sampled from the model, over the
/// micro-batches' inputs (averaged as the training loss is), clipped to `clip` like the
/// official loop does before `update_hessian`. Returns the gradients and their norm before
/// clipping.
pub fn sampled_label_grads(params: &TrainableGpt2, micro: &[(Tensor, Tensor)], seed: u64, clip: Option<f64>) -> Result<(GradStore, f64)> {
    if micro.is_empty() {
        return Err(Error::EmptyInput("curvature pass needs at least one batch".into()));
    }
    let n = micro.len() as f64;
    let mut total: Option<GradStore> = None;
    for (i, (x, _)) in micro.iter().enumerate() {
        let logits = params.model.forward(x)?; // (B, T, V)
        let (b, t, v) = logits.dims3()?;
        let flat = logits.reshape((b * t, v))?;
        let y_hat = sample_labels(&flat, seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(i as u64))?;
        let loss = (ops::cross_entropy(&flat, &y_hat)? / n)?;
        let g = loss.backward()?;
        total = Some(match total {
            None => g,
            Some(mut acc) => {
                for p in &params.params {
                    let t = p.var.as_tensor();
                    if let Some(gi) = g.get(t) {
                        let sum = match acc.get(t) {
                            Some(a) => (a + gi)?,
                            None => gi.clone(),
                        };
                        acc.insert(t, sum);
                    }
                }
                acc
            }
        });
    }
    let mut grads = total.expect("at least one micro-batch");
    let norm = match clip {
        Some(c) => clip_grad_norm(&params.params, &mut grads, c)?,
        None => grad_norm(&params.params, &grads)?,
    };
    Ok((grads, norm))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn gumbel_max_draws_from_the_softmax() {
        // 4000 rows of the same 3-way distribution: empirical frequencies ≈ softmax
        let logits = Tensor::new(&[[0.0f32, 1.0, -1.0]], &Device::Cpu).unwrap().repeat((4000, 1)).unwrap();
        let y: Vec<u32> = sample_labels(&logits, 7).unwrap().to_vec1().unwrap();
        let z: f64 = [0.0f64, 1.0, -1.0].iter().map(|l| l.exp()).sum();
        for (k, l) in [0.0f64, 1.0, -1.0].iter().enumerate() {
            let p = l.exp() / z;
            let f = y.iter().filter(|&&v| v == k as u32).count() as f64 / 4000.0;
            // 4 binomial standard deviations
            assert!((f - p).abs() < 4.0 * (p * (1.0 - p) / 4000.0).sqrt(), "class {k}: {f} vs {p}");
        }
        assert_eq!(sample_labels(&logits, 7).unwrap().to_vec1::<u32>().unwrap(), y, "same seed, same labels");
    }
}
