//! Causal multi-head self-attention, GPT-2 style (fused `c_attn` Conv1D for q, k, v).

use candle_core::Tensor;

use super::ops;
use crate::hooks::{HookCtx, HookPoint};
use crate::{Error, Result};

#[derive(Clone, Debug)]
pub struct Attention {
    pub c_attn_w: Tensor, // (C, 3C)  HF Conv1D layout [in, out]
    pub c_attn_b: Tensor, // (3C,)
    pub c_proj_w: Tensor, // (C, C)
    pub c_proj_b: Tensor, // (C,)
    pub n_head: usize,
    pub layer: usize,
    /// 1/sqrt(d_head) (if scale_attn_weights) × 1/(layer+1) (if scale_attn_by_inverse_layer_idx)
    pub scale: f64,
    /// Sliding window (GPT-Neo's local layers): a query sees only the last `window` positions.
    pub window: Option<usize>,
}

/// Query block of the long-prompt attention path (prompts of at least two blocks use it).
const Q_BLOCK: usize = 128;

impl Attention {
    /// `x` (B, T, C); `x_v` a different input for the values (LayerNorm removal), else `x`; `mask` additive (B|1, 1, T, Tk) or None when every key is visible;
    /// `kv` this layer's cached (k, v), each (B, H, Tpast, dh), extended in place.
    pub fn forward(&self, x: &Tensor, x_v: Option<&Tensor>, mask: Option<&Tensor>, kv: Option<&mut Option<(Tensor, Tensor)>>, hooks: &mut HookCtx) -> Result<Tensor> {
        use HookPoint::*;
        let l = self.layer;
        let (b, t, c) = x.dims3()?;
        let (h, dh) = (self.n_head, c / self.n_head);
        let qkv = ops::conv1d(x, &self.c_attn_w, &self.c_attn_b)?; // (B, T, 3C)
        // On CUDA, q, k and v go straight from their columns of qkv to (B, H, T, dh) in one
        // kernel each (and z back), unless a hook wants them in the (B, T, H, dh) layout.
        let heads = x_v.is_none() && super::fused_attention::heads_usable(&qkv) && ![Q(l), K(l), V(l), Z(l)].into_iter().any(|p| hooks.wants(p));
        if heads {
            let split = |i: usize, scale: f64| -> Result<Tensor> {
                super::fused_attention::split_heads(&qkv.narrow(2, i * c, c)?, h, scale)?.ok_or_else(|| Error::Shape("heads split: not applicable".into()))
            };
            let (q, k, v) = (split(0, self.scale)?, split(1, 1.0)?, split(2, 1.0)?); // (B, H, T, dh)
            let z = self.attend_all(q, k, v, mask, kv, t, hooks)?; // (B, H, T, dh)
            let z = super::fused_attention::merge_heads(&z)?.ok_or_else(|| Error::Shape("heads merge: not applicable".into()))?; // (B, T, C)
            return Ok(ops::conv1d(&z, &self.c_proj_w, &self.c_proj_b)?);
        }
        let q = hooks.hook(Q(l), qkv.narrow(2, 0, c)?.reshape((b, t, h, dh))?)?; // (B, T, H, dh)
        let k = hooks.hook(K(l), qkv.narrow(2, c, c)?.reshape((b, t, h, dh))?)?;
        let v = match x_v {
            None => qkv.narrow(2, 2 * c, c)?,
            Some(xv) => ops::conv1d(xv, &self.c_attn_w.narrow(1, 2 * c, c)?, &self.c_attn_b.narrow(0, 2 * c, c)?)?,
        };
        let v = hooks.hook(V(l), v.reshape((b, t, h, dh))?)?;
        // The scale goes on q (the transposing copy does it; exact for power-of-two scales such
        // as 1/8 at d_head 64) rather than on the T×Tk scores. The cache keeps k and v in the
        // (B, H, T, dh) layout the matmuls use, so a decoding step copies the past once (cat)
        // instead of also transposing all of it.
        let q = q.transpose(1, 2)?.affine(self.scale, 0.0)?; // (B, H, T, dh), contiguous
        let k = k.transpose(1, 2)?.contiguous()?; // (B, H, T, dh)
        let v = v.transpose(1, 2)?.contiguous()?;
        let z = self.attend_all(q, k, v, mask, kv, t, hooks)?;
        let z = hooks.hook(Z(l), z.transpose(1, 2)?)?; // (B, T, H, dh)
        let z = z.contiguous()?.reshape((b, t, c))?;
        Ok(ops::conv1d(&z, &self.c_proj_w, &self.c_proj_b)?) // (B, T, C)
    }

    /// Attention over q, k, v (B, H, ·, dh) (q scaled), extending the KV cache `kv`: z (B, H, T, dh).
    #[allow(clippy::too_many_arguments)]
    fn attend_all(&self, q: Tensor, k: Tensor, v: Tensor, mask: Option<&Tensor>, kv: Option<&mut Option<(Tensor, Tensor)>>, t: usize, hooks: &mut HookCtx) -> Result<Tensor> {
        use HookPoint::*;
        let l = self.layer;
        let (k, v) = match kv {
            Some(slot) => {
                let kv_full = match slot.take() {
                    Some((pk, pv)) => (Tensor::cat(&[&pk, &k], 2)?, Tensor::cat(&[&pv, &v], 2)?),
                    None => (k, v),
                };
                *slot = Some(kv_full.clone());
                kv_full
            }
            None => (k, v),
        }; // (B, H, Tk, dh)
        // A local layer hides the keys `window` or more positions back: one more additive mask,
        // merged by minimum so entries stay exactly 0 or MASK_VALUE (what the fused softmax reads).
        let banded;
        let mask = match self.window {
            Some(w) if k.dim(2)? > w => {
                let band = band_mask(t, k.dim(2)?, w, q.dtype(), q.device())?; // (1, 1, T, Tk)
                banded = match mask {
                    Some(m) => m.broadcast_minimum(&band)?,
                    None => band,
                };
                Some(&banded)
            }
            _ => mask,
        };
        let unhooked = !hooks.wants(AttnScores(l)) && !hooks.wants(Pattern(l));
        let z = match mask {
            // Long prompts without gradients: query blocks against only the keys they can see
            // (the mask is always causal), about half the attention work at T = 1024.
            // (Not with padding queries: their fully hidden rows average every key, as before.)
            Some(m) if unhooked && t >= 2 * Q_BLOCK && !q.track_op() && !k.track_op() && !v.track_op() && !super::kernels::has_hidden_query(m)? => {
                let past = k.dim(2)? - t;
                let mut zs = vec![];
                for q0 in (0..t).step_by(Q_BLOCK) {
                    let n = Q_BLOCK.min(t - q0);
                    let kend = past + q0 + n;
                    let (qb, kb, vb) = (q.narrow(2, q0, n)?, k.narrow(2, 0, kend)?, v.narrow(2, 0, kend)?);
                    zs.push(self.attend(&qb, &kb, &vb, Some(&m.narrow(2, q0, n)?.narrow(3, 0, kend)?), hooks)?); // (B, H, n, dh)
                }
                Tensor::cat(&zs, 2)?
            }
            // a decoding step (one query, every key visible): one fused pass per head
            None if t == 1 && unhooked && !q.track_op() => match super::gemv::decode_attention(&q, &k, &v)? {
                Some(z) => z,
                None => self.attend(&q, &k, &v, None, hooks)?,
            },
            _ => self.attend(&q, &k, &v, mask, hooks)?,
        };
        Ok(z)
    }

    /// `softmax(q kᵀ + mask) v` with the scores and pattern hook points; q, k, v (B, H, ·, dh).
    fn attend(&self, q: &Tensor, k: &Tensor, v: &Tensor, mask: Option<&Tensor>, hooks: &mut HookCtx) -> Result<Tensor> {
        use HookPoint::*;
        let l = self.layer;
        // Training on CUDA, unhooked: one autograd node for the whole attention (fused_attention.rs)
        if let Some(m) = mask {
            if !hooks.wants(AttnScores(l)) && !hooks.wants(Pattern(l)) {
                if let Some(z) = super::fused_attention::attention(q, k, v, m)? {
                    return Ok(z);
                }
            }
        }
        let scores = q.matmul(&k.t()?)?; // (B, H, T, Tk)
        // Unless the masked scores are hooked, mask and softmax are one pass that skips the
        // hidden keys (kernels::masked_softmax_last; with a backward for training).
        let fused = match mask {
            Some(m) if !hooks.wants(AttnScores(l)) => super::kernels::masked_softmax_last(&scores, m)?,
            _ => None,
        };
        let pattern = match fused {
            Some(p) => p,
            None => {
                let scores = match mask {
                    Some(m) => scores.broadcast_add(m)?,
                    None => scores,
                };
                ops::softmax_last(&hooks.hook(AttnScores(l), scores)?)?
            }
        };
        let pattern = hooks.hook(Pattern(l), pattern)?; // (B, H, T, Tk)
        Ok(pattern.matmul(v)?)
    }
}

/// `(1, 1, T, Tk)`: 0 where query `past + i` may see key `j` by distance (`past + i − j < w`),
/// `MASK_VALUE` further back (causality is the other mask's job).
fn band_mask(t: usize, tk: usize, w: usize, dtype: candle_core::DType, device: &candle_core::Device) -> Result<Tensor> {
    let past = tk - t;
    let hidden = super::gpt2::MASK_VALUE;
    let m: Vec<f32> = (0..t).flat_map(|i| (0..tk).map(move |j| if past + i >= j + w { hidden } else { 0.0 })).collect();
    Ok(Tensor::from_vec(m, (1, 1, t, tk), device)?.to_dtype(dtype)?)
}
