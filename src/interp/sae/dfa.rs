//! Direct feature attribution (DFA) for SAEs on concatenated head outputs (`hook_z`), as in
//! Kissane et al. 2024 ("Interpreting Attention Layer Outputs with Sparse Autoencoders"): the
//! encoder is linear before its ReLU, so a feature's pre-activation splits exactly over heads,
//!
//! ```text
//! pre_j = Σ_h (z_h − b_dec,h) · W_enc[h·d_head .. (h+1)·d_head, j]  +  b_enc,j
//! ```
//!
//! and DFA_h is the h-th term: which heads wrote the feature. (`b_dec` is subtracted only when
//! the SAE applies it to its input.)

use candle_core::Tensor;

use super::model::Sae;
use crate::{Error, Result};

/// Per-head contributions to `feature`'s pre-activation, `(B, T, H)`, from `z` `(B, T, H, d_head)`
/// (the hook_z activation). Summed over heads plus `b_enc[feature]` they give the
/// pre-activation exactly.
pub fn direct_feature_attribution(sae: &Sae, z: &Tensor, feature: usize) -> Result<Tensor> {
    if !sae.cfg.reshape_hook_z {
        return Err(Error::Unsupported(format!("DFA splits a hook_z SAE over heads; this SAE reads {}", sae.cfg.hook_name)));
    }
    let (b, t, h, dh) = z.dims4().map_err(|_| Error::Shape(format!("DFA needs z as (B, T, H, d_head), got {:?}", z.dims())))?;
    if h * dh != sae.cfg.d_in {
        return Err(Error::Shape(format!("z has {h}×{dh} per position, the SAE reads {}", sae.cfg.d_in)));
    }
    if feature >= sae.cfg.d_sae {
        return Err(Error::Shape(format!("feature {feature} out of range (d_sae = {})", sae.cfg.d_sae)));
    }
    let mut zc = z.to_dtype(candle_core::DType::F32)?;
    if sae.cfg.apply_b_dec_to_input {
        zc = zc.broadcast_sub(&sae.b_dec.as_tensor().reshape((h, dh))?)?;
    }
    let w = sae.w_enc.as_tensor().narrow(1, feature, 1)?.reshape((h, dh))?; // (H, d_head)
    Ok(zc.broadcast_mul(&w)?.sum(3)?.reshape((b, t, h))?)
}
