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

/// DFA by source position: how much each source position `s` contributed, through every head's
/// attention, to `feature`'s pre-activation at each query position `q`, `(B, Tq, Tk)`:
///
/// ```text
/// DFA[q, s] = Σ_h pattern[h, q, s] · (v_h(s) · W_enc[h-block, feature])
/// ```
///
/// from `v` `(B, T, H, d_head)` (`hook_v`) and `pattern` `(B, H, Tq, Tk)` (`hook_pattern`) of the
/// SAE's layer. Since z_h(q) = Σ_s pattern[h, q, s] v_h(s), the sum over sources plus
/// `b_enc[feature] − b_dec · W_enc[:, feature]` (the last only when the SAE subtracts b_dec)
/// is the pre-activation exactly.
pub fn dfa_by_source(sae: &Sae, v: &Tensor, pattern: &Tensor, feature: usize) -> Result<Tensor> {
    let (b, t, h, dh) = v.dims4().map_err(|_| Error::Shape(format!("DFA by source needs v as (B, T, H, d_head), got {:?}", v.dims())))?;
    let (pb, ph, _tq, tk) = pattern.dims4().map_err(|_| Error::Shape(format!("DFA by source needs the pattern as (B, H, Tq, Tk), got {:?}", pattern.dims())))?;
    if (pb, ph, tk) != (b, h, t) {
        return Err(Error::Shape(format!("v {:?} and pattern {:?} disagree", v.dims(), pattern.dims())));
    }
    if !sae.cfg.reshape_hook_z || h * dh != sae.cfg.d_in {
        return Err(Error::Shape(format!("the SAE on {} reads {} inputs; v gives {h}×{dh} heads", sae.cfg.hook_name, sae.cfg.d_in)));
    }
    if feature >= sae.cfg.d_sae {
        return Err(Error::Shape(format!("feature {feature} out of range (d_sae = {})", sae.cfg.d_sae)));
    }
    let w = sae.w_enc.as_tensor().narrow(1, feature, 1)?.reshape((h, dh))?;
    let vw = v.to_dtype(candle_core::DType::F32)?.broadcast_mul(&w)?.sum(3)?; // (B, T, H)
    let vw = vw.permute((0, 2, 1))?.unsqueeze(2)?; // (B, H, 1, Tk)
    Ok(pattern.to_dtype(candle_core::DType::F32)?.broadcast_mul(&vw)?.sum(1)?) // (B, Tq, Tk)
}

/// Per-head share of each feature's decoder weight, `(d_sae, H)`: the norm of the feature's
/// decoder row restricted to head h's block, over the sum of those norms (the paper's
/// attribution of a feature to heads by decoder weights). Rows sum to 1.
pub fn decoder_head_fractions(sae: &Sae, n_heads: usize) -> Result<Tensor> {
    if n_heads == 0 || !sae.cfg.reshape_hook_z || sae.cfg.d_in % n_heads != 0 {
        return Err(Error::Shape(format!("the SAE on {} ({} inputs) does not split into {n_heads} heads", sae.cfg.hook_name, sae.cfg.d_in)));
    }
    let n = sae.w_dec.as_tensor().reshape((sae.cfg.d_sae, n_heads, sae.cfg.d_in / n_heads))?.sqr()?.sum(2)?.sqrt()?;
    let total = n.sum_keepdim(1)?.clamp(1e-12, f64::INFINITY)?;
    Ok(n.broadcast_div(&total)?)
}
