//! Entropy ("confidence") neurons (Stolfo et al. 2024; Gurnee et al. 2024): last-layer MLP
//! neurons that write into the unembedding's null-ish space and so change the final
//! LayerNorm scale (hence the entropy) without changing which token wins. We score candidates,
//! ablate one, and split its entropy effect into a direct part (logits at the clean LN scale)
//! and an LN-mediated part (through the final LN's scale). Without LayerNorm the second part
//! is exactly zero.

use candle_core::{DType, Tensor, D};

use super::distribution::{entropy, mean};
use crate::hooks::{HookPoint, HookSpec, Intervention, Ln};
use crate::model::Gpt2;
use crate::{Error, Result};

/// An orthonormal basis `(C, k)` of the `k` directions of d_model in which the unembedding
/// W_U (V × C) is weakest: the right singular vectors with the smallest singular values.
pub fn unembed_null_space(model: &Gpt2, k: usize) -> Result<Tensor> {
    let c = model.cfg.n_embd;
    if k == 0 || k > c {
        return Err(Error::Shape(format!("k = {k} must be in 1..={c}")));
    }
    let w = model.wte.to_dtype(DType::F64)?; // (V, C)
    let gram: Vec<Vec<f64>> = w.t()?.matmul(&w)?.to_vec2()?; // (C, C)
    let m = nalgebra::DMatrix::from_fn(c, c, |i, j| gram[i][j]);
    let eig = nalgebra::SymmetricEigen::new(m);
    let mut order: Vec<usize> = (0..c).collect();
    order.sort_by(|&a, &b| eig.eigenvalues[a].total_cmp(&eig.eigenvalues[b]));
    let mut basis = vec![0f64; c * k];
    for (j, &col) in order.iter().take(k).enumerate() {
        for i in 0..c {
            basis[i * k + j] = eig.eigenvectors[(i, col)];
        }
    }
    Ok(Tensor::from_vec(basis, (c, k), model.device())?.to_dtype(model.dtype())?)
}

/// Candidate score of each neuron of `layer`'s MLP: ‖w_out‖ × (fraction of ‖w_out‖² in the
/// null space basis), highest first: `(neuron, score, norm, fraction)`.
pub fn entropy_neuron_scores(model: &Gpt2, layer: usize, null_space: &Tensor) -> Result<Vec<(usize, f64, f64, f64)>> {
    let w_out = &model.blocks.get(layer).ok_or_else(|| Error::Shape(format!("no layer {layer}")))?.mlp()?.c_proj_w; // (M, C)
    let w = w_out.to_dtype(DType::F64)?;
    let norms2: Vec<f64> = w.sqr()?.sum(D::Minus1)?.to_vec1()?;
    let proj2: Vec<f64> = w.matmul(&null_space.to_dtype(DType::F64)?)?.sqr()?.sum(D::Minus1)?.to_vec1()?;
    let mut v: Vec<(usize, f64, f64, f64)> = norms2
        .iter()
        .zip(&proj2)
        .enumerate()
        .map(|(i, (n2, p2))| {
            let frac = p2 / n2.max(1e-30);
            (i, n2.sqrt() * frac, n2.sqrt(), frac)
        })
        .collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1));
    Ok(v)
}

/// How ablating one neuron changes the mean next-token entropy.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EntropyEffect {
    pub neuron: usize,
    /// entropy(ablated) − entropy(clean), mean over batch and positions (nats)
    pub total: f64,
    /// the part through the logits with the final LN scale frozen at its clean value
    pub direct: f64,
    /// the part through the final LN scale: total − direct
    pub ln_mediated: f64,
}

/// Zero-ablates `neuron` of `layer`'s MLP on `ids` and splits the entropy change.
pub fn neuron_ablation_entropy(model: &Gpt2, ids: &Tensor, layer: usize, neuron: usize) -> Result<EntropyEffect> {
    let last = model.cfg.n_layer - 1;
    let spec = HookSpec::new().capture(HookPoint::ResidPost(last)).capture(HookPoint::LnScale(Ln::Final));
    let clean = model.run(ids, &spec)?;
    let d_mlp = model.cfg.d_mlp();
    if neuron >= d_mlp {
        return Err(Error::Shape(format!("neuron {neuron} out of range (d_mlp = {d_mlp})")));
    }
    let mut mask = vec![1f32; d_mlp];
    mask[neuron] = 0.0;
    let mask = Tensor::from_vec(mask, d_mlp, model.device())?.to_dtype(model.dtype())?;
    let ablate = Intervention::custom(move |x, _| x.broadcast_mul(&mask));
    let abl = model.run(ids, &spec.clone().intervene(HookPoint::MlpPost(layer), ablate))?;
    let h_clean = mean(&entropy(&clean.logits)?)?;
    let h_abl = mean(&entropy(&abl.logits)?)?;
    // the ablated residual through the final norm at the CLEAN scale
    let r = abl.cache.get(HookPoint::ResidPost(last))?;
    let scale = clean.cache.get(HookPoint::LnScale(Ln::Final))?;
    let xc = r.broadcast_sub(&r.mean_keepdim(D::Minus1)?)?;
    let normed = xc.broadcast_div(scale)?.broadcast_mul(&model.ln_f.weight)?.broadcast_add(&model.ln_f.bias)?;
    let normed = if model.ln_f.mode == crate::model::NormMode::Identity { r.clone() } else { normed };
    let h_direct = mean(&entropy(&model.unembed_normalized(&normed)?)?)?;
    let (total, direct) = (h_abl - h_clean, h_direct - h_clean);
    Ok(EntropyEffect { neuron, total, direct, ln_mediated: total - direct })
}
