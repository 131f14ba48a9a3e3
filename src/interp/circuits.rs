//! Neuron and head views on a weight-processed model ([`ProcessedGpt2`]), as TransformerLens
//! users write them: a neuron's value vector unembedded (its top tokens), per-head OV and QK
//! circuits, direct logit attribution (DLA) per head and per neuron, the logit difference, the
//! value-vector edit of arXiv 2405.03205 and an attention-pattern overwrite as an intervention.
//!
//! In the processed basis the final LayerNorm has no affine map and `W_U` is centred, so a
//! component `c` at a position contributes `(c / s) · W_U[:, t]` to token `t`'s logit, with `s`
//! the final LayerNorm's scale on the clean run (exact up to the LN's dependence on `c`; the
//! sum over all components plus the biases is the logit).

use candle_core::{DType, Tensor, D};

use super::weight_processing::ProcessedGpt2;
use crate::hooks::{ActivationCache, HookPoint, HookSpec, Intervention, Ln};
use crate::model::Gpt2;
use crate::{Error, Result};

fn layer_check(p: &ProcessedGpt2, layer: usize) -> Result<()> {
    let n = p.model.cfg.n_layer;
    if layer >= n {
        return Err(Error::Shape(format!(
            "layer {layer}: the model has {n} layers"
        )));
    }
    Ok(())
}

fn neuron_check(p: &ProcessedGpt2, layer: usize, neuron: usize) -> Result<()> {
    layer_check(p, layer)?;
    let m = p.model.cfg.d_mlp();
    if neuron >= m {
        return Err(Error::Shape(format!(
            "neuron {neuron}: layer {layer} has {m} neurons"
        )));
    }
    Ok(())
}

fn head_check(p: &ProcessedGpt2, layer: usize, head: usize) -> Result<()> {
    layer_check(p, layer)?;
    let h = p.model.cfg.n_head;
    if head >= h {
        return Err(Error::Shape(format!(
            "head {head}: the model has {h} heads per layer"
        )));
    }
    Ok(())
}

/// Neuron `neuron`'s value vector: row `neuron` of layer `layer`'s `W_out`, `(C,)`.
pub fn neuron_value_vector(p: &ProcessedGpt2, layer: usize, neuron: usize) -> Result<Tensor> {
    neuron_check(p, layer, neuron)?;
    Ok(p.model.blocks[layer].mlp()?.c_proj_w.get(neuron)?)
}

/// The value vector unembedded: `W_out[neuron] · W_U`, `(V,)`.
pub fn neuron_logits(p: &ProcessedGpt2, layer: usize, neuron: usize) -> Result<Tensor> {
    let v = neuron_value_vector(p, layer, neuron)?;
    Ok(v.unsqueeze(0)?.matmul(&p.w_u)?.squeeze(0)?)
}

/// The `k` tokens the value vector promotes most: `(token, logit)`, largest first.
pub fn neuron_top_tokens(
    p: &ProcessedGpt2,
    layer: usize,
    neuron: usize,
    k: usize,
) -> Result<Vec<(u32, f32)>> {
    top_k(&neuron_logits(p, layer, neuron)?, k)
}

/// The `k` largest entries of a `(V,)` vector, largest first (NaN last).
pub fn top_k(v: &Tensor, k: usize) -> Result<Vec<(u32, f32)>> {
    let vals: Vec<f32> = v.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
    let mut idx: Vec<u32> = (0..vals.len() as u32).collect();
    idx.sort_by(|&a, &b| {
        vals[b as usize]
            .partial_cmp(&vals[a as usize])
            .unwrap_or(std::cmp::Ordering::Less)
    });
    Ok(idx
        .into_iter()
        .take(k)
        .map(|i| (i, vals[i as usize]))
        .collect())
}

/// Head `head`'s weights in TransformerLens' layout: `(W_Q, W_K, W_V)` each `(C, dh)`, `W_O`
/// `(dh, C)`.
pub fn head_weights(
    p: &ProcessedGpt2,
    layer: usize,
    head: usize,
) -> Result<(Tensor, Tensor, Tensor, Tensor)> {
    head_check(p, layer, head)?;
    let a = &p.model.blocks[layer].attn;
    let c = p.model.cfg.n_embd;
    let dh = p.model.cfg.d_head();
    let col = |which: usize| a.c_attn_w.narrow(1, which * c + head * dh, dh);
    Ok((
        col(0)?,
        col(1)?,
        col(2)?,
        a.c_proj_w.narrow(0, head * dh, dh)?,
    ))
}

/// The OV circuit `W_V W_O`, `(C, C)`: what the head writes for each direction it reads.
pub fn ov_matrix(p: &ProcessedGpt2, layer: usize, head: usize) -> Result<Tensor> {
    let (_, _, v, o) = head_weights(p, layer, head)?;
    Ok(v.matmul(&o)?)
}

/// The QK circuit `W_Q W_Kᵀ`, `(C, C)` (unscaled): the bilinear form of query and key inputs.
pub fn qk_matrix(p: &ProcessedGpt2, layer: usize, head: usize) -> Result<Tensor> {
    let (q, k, _, _) = head_weights(p, layer, head)?;
    Ok(q.matmul(&k.t()?)?)
}

/// The full OV circuit on token embeddings: row `i` is what attending to token `tokens[i]`
/// (its embedding, through the bare LayerNorm's centring only) adds to every logit,
/// `W_E[tokens] W_V W_O W_U`, `(n, V)`.
pub fn ov_circuit_tokens(
    p: &ProcessedGpt2,
    layer: usize,
    head: usize,
    tokens: &[u32],
) -> Result<Tensor> {
    let ids = Tensor::new(tokens, p.model.device())?;
    let e = p.model.wte.index_select(&ids, 0)?;
    Ok(e.matmul(&ov_matrix(p, layer, head)?)?.matmul(&p.w_u)?)
}

/// The final LayerNorm's scale at `pos` of every batch row, `(B, 1)` (needs `ln_final.hook_scale`).
fn final_scale(cache: &ActivationCache, pos: usize) -> Result<Tensor> {
    Ok(cache
        .get(HookPoint::LnScale(Ln::Final))?
        .narrow(1, pos, 1)?
        .squeeze(1)?)
}

/// The unembedding directions of `tokens` (one per batch row), `(B, C)`.
fn directions(p: &ProcessedGpt2, tokens: &[u32]) -> Result<Tensor> {
    let v = p.w_u.dim(1)?;
    if let Some(&t) = tokens.iter().find(|&&t| t as usize >= v) {
        return Err(Error::TokenOutOfRange { id: t, vocab: v });
    }
    Ok(p.w_u
        .t()?
        .contiguous()?
        .index_select(&Tensor::new(tokens, p.model.device())?, 0)?)
}

/// DLA of every head of `layer` at position `pos` to `tokens[b]` (one token per batch row):
/// `(B, H)`. Needs `hook_z` of the layer and `ln_final.hook_scale` in the cache.
pub fn head_dla(
    p: &ProcessedGpt2,
    cache: &ActivationCache,
    layer: usize,
    pos: usize,
    tokens: &[u32],
) -> Result<Tensor> {
    layer_check(p, layer)?;
    let r = super::attribution::head_results(&p.model, cache, layer)?; // (B, T, H, C)
    let r = r.narrow(1, pos, 1)?.squeeze(1)?; // (B, H, C)
    let s = final_scale(cache, pos)?; // (B, 1)
    let d = directions(p, tokens)?.unsqueeze(1)?; // (B, 1, C)
    Ok(r.broadcast_mul(&d)?.sum(D::Minus1)?.broadcast_div(&s)?)
}

/// DLA of every neuron of `layer` at `pos` to `tokens[b]`: `post[b, pos, i] · (W_out[i] ·
/// W_U[:, t]) / s`, `(B, M)`. Needs `mlp.hook_post` and `ln_final.hook_scale`.
pub fn neuron_dla(
    p: &ProcessedGpt2,
    cache: &ActivationCache,
    layer: usize,
    pos: usize,
    tokens: &[u32],
) -> Result<Tensor> {
    layer_check(p, layer)?;
    let post = cache
        .get(HookPoint::MlpPost(layer))?
        .narrow(1, pos, 1)?
        .squeeze(1)?; // (B, M)
    let d = directions(p, tokens)?; // (B, C)
    let w_out = &p.model.blocks[layer].mlp()?.c_proj_w; // (M, C)
    let per = d.matmul(&w_out.t()?)?; // (B, M): W_out[i] · W_U[:, t_b]
    let s = final_scale(cache, pos)?;
    Ok((post * per)?.broadcast_div(&s)?)
}

/// Logit of `a[b]` minus logit of `b[b]` at `pos` of every row of `logits` `(B, T, V)`.
pub fn logit_diff(logits: &Tensor, pos: usize, a: &[u32], b: &[u32]) -> Result<Vec<f32>> {
    let (bs, t, v) = logits.dims3()?;
    if a.len() != bs || b.len() != bs {
        return Err(Error::Shape(format!(
            "logit_diff: {bs} rows but {} and {} tokens",
            a.len(),
            b.len()
        )));
    }
    if pos >= t {
        return Err(Error::Shape(format!("logit_diff: position {pos} of {t}")));
    }
    if let Some(&x) = a.iter().chain(b).find(|&&x| x as usize >= v) {
        return Err(Error::TokenOutOfRange { id: x, vocab: v });
    }
    let rows: Vec<Vec<f32>> = logits
        .narrow(1, pos, 1)?
        .squeeze(1)?
        .to_dtype(DType::F32)?
        .to_vec2()?;
    Ok(rows
        .iter()
        .enumerate()
        .map(|(i, r)| r[a[i] as usize] - r[b[i] as usize])
        .collect())
}

/// The edit of arXiv 2405.03205 (`mitigate_mlp.ipynb`): every listed neuron's value vector
/// becomes `W_out[i] − α1·W_U[:, from] + α2·W_U[:, to]`. Returns an edited copy (the original is
/// the snapshot to restore).
pub fn edit_value_vectors(
    p: &ProcessedGpt2,
    layer: usize,
    neurons: &[usize],
    from: u32,
    alpha1: f64,
    to: u32,
    alpha2: f64,
) -> Result<ProcessedGpt2> {
    for &n in neurons {
        neuron_check(p, layer, n)?;
    }
    let delta = ((p.unembed_direction(to)? * alpha2)? - (p.unembed_direction(from)? * alpha1)?)?; // (C,)
    let m = p.model.cfg.d_mlp();
    let mut mask = vec![0f32; m];
    for &n in neurons {
        mask[n] = 1.0;
    }
    let mask = Tensor::from_vec(mask, (m, 1), p.model.device())?.to_dtype(delta.dtype())?;
    let mut out = p.clone();
    let w = out.model.blocks[layer].mlp()?.c_proj_w.clone();
    out.model.blocks[layer].mlp_mut()?.c_proj_w = (w + mask.broadcast_mul(&delta.unsqueeze(0)?)?)?;
    Ok(out)
}

/// An attention-pattern overwrite for `blocks.{l}.attn.hook_pattern` `(B, H, T, Tk)`: for the
/// listed heads, at query position `query` of row `b`, the weights on keys `swaps[b].0` and
/// `swaps[b].1` trade places (the paper's recalibration: the anchor " A" and the gold option
/// swap attention). Rows sum to 1 before and after.
pub fn swap_attention(heads: Vec<usize>, query: usize, swaps: Vec<(usize, usize)>) -> Intervention {
    Intervention::custom(move |x, _| {
        let (b, h, t, tk) = x.dims4()?;
        if swaps.len() != b {
            candle_core::bail!("swap_attention: {} swaps for a batch of {b}", swaps.len());
        }
        if query >= t
            || heads.iter().any(|&hh| hh >= h)
            || swaps.iter().any(|&(i, j)| i >= tk || j >= tk)
        {
            candle_core::bail!(
                "swap_attention: query {query}, heads {heads:?} or keys out of range for {:?}",
                x.dims()
            );
        }
        let mut v: Vec<f32> = x.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
        for (bi, &(i, j)) in swaps.iter().enumerate() {
            for &hh in &heads {
                let row = ((bi * h + hh) * t + query) * tk;
                v.swap(row + i, row + j);
            }
        }
        Tensor::from_vec(v, x.dims(), x.device())?.to_dtype(x.dtype())
    })
}

/// TransformerLens' induction score of every head, `(n_layer, n_head)`: on `batch` sequences of
/// `len` random tokens (ids in `[lo, hi)`, seeded) repeated once, the mean attention from each
/// position of the second copy to the token after that position's earlier occurrence (offset
/// `len − 1` back). An induction head scores near 1; a head attending uniformly scores ~1/T.
pub fn induction_scores(model: &Gpt2, len: usize, batch: usize, lo: u32, hi: u32, seed: u64) -> Result<Tensor> {
    use rand::{rngs::StdRng, Rng, SeedableRng};
    if len < 2 || batch == 0 || hi <= lo {
        return Err(Error::EmptyInput(format!("induction score needs len ≥ 2, batch ≥ 1 and a token range, got len {len}, batch {batch}, [{lo}, {hi})")));
    }
    let n_ctx = model.config().n_positions;
    if 2 * len > n_ctx {
        return Err(Error::PromptTooLong { len: 2 * len, n_ctx });
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut ids = Vec::with_capacity(batch * 2 * len);
    for _ in 0..batch {
        let r: Vec<u32> = (0..len).map(|_| rng.random_range(lo..hi)).collect();
        ids.extend_from_slice(&r);
        ids.extend_from_slice(&r);
    }
    let ids = Tensor::from_vec(ids, (batch, 2 * len), &candle_core::Device::Cpu)?;
    let (l, h) = (model.config().n_layer, model.config().n_head);
    let spec = (0..l).fold(HookSpec::new(), |s, i| s.capture(HookPoint::Pattern(i)));
    let run = model.run(&ids, &spec)?;
    let mut rows = Vec::with_capacity(l);
    for i in 0..l {
        let p = run.cache.get(&HookPoint::Pattern(i).to_string())?; // (B, H, T, T)
        let t = 2 * len;
        let flat: Vec<f32> = p.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
        let mut row = vec![0f32; h];
        for (hd, r) in row.iter_mut().enumerate() {
            let mut s = 0.0;
            for b in 0..batch {
                for q in len..t {
                    s += flat[((b * h + hd) * t + q) * t + (q - len + 1)];
                }
            }
            *r = s / (batch * len) as f32;
        }
        rows.push(row);
    }
    Ok(Tensor::new(rows, &candle_core::Device::Cpu)?)
}
