//! TransformerLens' weight processing (`HookedTransformer.from_pretrained`'s defaults, now
//! `TransformerBridge.enable_compatibility_mode()`): `fold_ln`, `center_writing_weights`,
//! `center_unembed`, `fold_value_biases`. The result computes the same function, logits shifted
//! by a per-position constant (softmax-invariant), in a basis where per-component reading is
//! clean: every LayerNorm is a bare normalisation (γ = 1, β = 0, its affine map folded into the
//! weights that read it), everything written into the residual stream has mean zero over
//! `d_model`, the unembedding has mean zero over the vocabulary, and value biases live in the
//! attention output bias (they are constant because a pattern row sums to 1).
//!
//! The tied GPT-2 unembedding stops being tied once `ln_final` is folded into it, so the result
//! is a [`ProcessedGpt2`]: a [`Gpt2`] whose embedding is the centred `W_E` plus its own
//! `W_U (C, V)` and `b_U (V)`. Every hook and intervention of the inner model still works.
//!
//! Checked against TransformerLens 4.3 on a random HF checkpoint (`tests/weight_processing.rs`,
//! fixture by `scripts/make_weight_processing_fixture.py`).

use candle_core::{DType, Tensor, D};

use crate::hooks::{HookPoint, HookSpec, Ln};
use crate::model::{Gpt2, NormMode};
use crate::{Error, Result};

/// Which steps to apply (all on: TransformerLens' defaults).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessOptions {
    pub fold_ln: bool,
    pub center_writing_weights: bool,
    pub center_unembed: bool,
    pub fold_value_biases: bool,
}

impl Default for ProcessOptions {
    fn default() -> Self {
        ProcessOptions {
            fold_ln: true,
            center_writing_weights: true,
            center_unembed: true,
            fold_value_biases: true,
        }
    }
}

/// A GPT-2 after weight processing: the inner model (folded norms, centred writing weights and
/// embeddings) and an untied unembedding `logits = LN(x) @ w_u + b_u`.
#[derive(Clone, Debug)]
pub struct ProcessedGpt2 {
    pub model: Gpt2,
    /// `(C, V)`
    pub w_u: Tensor,
    /// `(V,)`
    pub b_u: Tensor,
    pub options: ProcessOptions,
}

/// `x - mean(x, dim)` (kept dims).
fn center(x: &Tensor, dim: usize) -> Result<Tensor> {
    Ok(x.broadcast_sub(&x.mean_keepdim(dim)?)?)
}

/// Folds a LayerNorm's γ, β into the Conv1D `(C_in, N)` weight and bias that read it; with
/// `center`, also removes each column's mean over the input dimension (exact: the normalised
/// input has mean zero).
fn fold_into(
    gamma: &Tensor,
    beta: &Tensor,
    w: &Tensor,
    b: &Tensor,
    center_in: bool,
) -> Result<(Tensor, Tensor)> {
    let b2 = (b + beta.unsqueeze(0)?.matmul(w)?.squeeze(0)?)?;
    let mut w2 = w.broadcast_mul(&gamma.unsqueeze(1)?)?;
    if center_in {
        w2 = center(&w2, 0)?;
    }
    Ok((w2, b2))
}

/// Applies TransformerLens' weight processing to `model` (every norm must be a real
/// LayerNorm: a FakeLN or identity site is an `Error::Unsupported`). TransformerLens' order:
/// fold_ln, center_writing_weights, center_unembed, fold_value_biases.
pub fn process_weights(model: &Gpt2, opts: ProcessOptions) -> Result<ProcessedGpt2> {
    if let Some((site, mode)) = model
        .norm_modes()
        .into_iter()
        .find(|(_, m)| !matches!(m, NormMode::LayerNorm))
    {
        return Err(Error::Unsupported(format!(
            "weight processing needs real LayerNorms; {site} is {mode:?}"
        )));
    }
    let dt = model.dtype();
    let mut m = model.to_dtype(DType::F32)?.detached()?;
    let c = m.cfg.n_embd;
    let mut w_u = m.wte.t()?.contiguous()?; // (C, V)
    let mut b_u = Tensor::zeros(m.cfg.vocab_size, DType::F32, m.device())?;
    if opts.fold_ln {
        for b in m.blocks.iter_mut() {
            let (w, bias) = fold_into(
                &b.ln_1.weight,
                &b.ln_1.bias,
                &b.attn.c_attn_w,
                &b.attn.c_attn_b,
                true,
            )?;
            (b.attn.c_attn_w, b.attn.c_attn_b) = (w, bias);
            if let Some(mlp) = &mut b.mlp {
                let (w, bias) = fold_into(&b.ln_2.weight, &b.ln_2.bias, &mlp.c_fc_w, &mlp.c_fc_b, true)?;
                (mlp.c_fc_w, mlp.c_fc_b) = (w, bias);
            }
            for ln in [&mut b.ln_1, &mut b.ln_2] {
                ln.weight = ln.weight.ones_like()?;
                ln.bias = ln.bias.zeros_like()?;
            }
        }
        let (w, bias) = fold_into(&m.ln_f.weight, &m.ln_f.bias, &w_u, &b_u, true)?;
        (w_u, b_u) = (w, bias);
        m.ln_f.weight = m.ln_f.weight.ones_like()?;
        m.ln_f.bias = m.ln_f.bias.zeros_like()?;
    }
    if opts.center_writing_weights {
        // every write into the residual stream loses its component along the all-ones
        // direction, which every reader's LayerNorm removes anyway
        m.wte = center(&m.wte, 1)?;
        m.wpe = center(&m.wpe, 1)?;
        for b in m.blocks.iter_mut() {
            b.attn.c_proj_w = center(&b.attn.c_proj_w, 1)?;
            b.attn.c_proj_b = center(&b.attn.c_proj_b, 0)?;
            if let Some(mlp) = &mut b.mlp {
                mlp.c_proj_w = center(&mlp.c_proj_w, 1)?;
                mlp.c_proj_b = center(&mlp.c_proj_b, 0)?;
            }
        }
    }
    if opts.center_unembed {
        w_u = center(&w_u, 1)?;
        b_u = center(&b_u, 0)?;
    }
    if opts.fold_value_biases {
        for b in m.blocks.iter_mut() {
            let b_v = b.attn.c_attn_b.narrow(0, 2 * c, c)?; // (C,) = all heads' b_V
            let extra = b_v.unsqueeze(0)?.matmul(&b.attn.c_proj_w)?.squeeze(0)?; // Σ_h b_V[h] W_O[h]
            b.attn.c_proj_b = (&b.attn.c_proj_b + extra)?;
            let qk = b.attn.c_attn_b.narrow(0, 0, 2 * c)?;
            b.attn.c_attn_b = Tensor::cat(&[&qk, &b_v.zeros_like()?], 0)?;
        }
    }
    let m = m.to_dtype(dt)?;
    Ok(ProcessedGpt2 {
        model: m,
        w_u: w_u.to_dtype(dt)?,
        b_u: b_u.to_dtype(dt)?,
        options: opts,
    })
}

impl Gpt2 {
    /// TransformerLens' default weight processing ([`process_weights`] with every step on).
    pub fn processed(&self) -> Result<ProcessedGpt2> {
        process_weights(self, ProcessOptions::default())
    }
}

/// What a forward of a [`ProcessedGpt2`] gives back: its logits and the inner run's cache.
pub type ProcessedRun = crate::model::Run;

impl ProcessedGpt2 {
    /// Logits from the final LayerNorm's output `(…, C)`: `x @ W_U + b_U`.
    pub fn unembed_normalized(&self, x: &Tensor) -> Result<Tensor> {
        let dims = x.dims().to_vec();
        let c = self.w_u.dim(0)?;
        if dims.last() != Some(&c) {
            return Err(Error::Shape(format!(
                "unembed: input {dims:?} must end in d_model = {c}"
            )));
        }
        let rows = x.elem_count() / c;
        let y = x
            .reshape((rows, c))?
            .matmul(&self.w_u)?
            .broadcast_add(&self.b_u)?;
        let mut od = dims;
        *od.last_mut().expect("rank >= 1") = self.w_u.dim(1)?;
        Ok(y.reshape(od)?)
    }

    /// Logits from a residual-stream tensor `(…, C)`: the final (bare) LayerNorm, then the
    /// unembedding — the logit lens in the processed basis.
    pub fn unembed(&self, resid: &Tensor) -> Result<Tensor> {
        let x = self
            .model
            .ln_f
            .forward_as(resid, NormMode::LayerNorm, None)?;
        self.unembed_normalized(&x)
    }

    /// A forward with hooks: the inner model runs `spec` (captures and interventions), and the
    /// logits come from this model's unembedding of `ln_final.hook_normalized`.
    pub fn run(&self, ids: &Tensor, spec: &HookSpec) -> Result<ProcessedRun> {
        let point = HookPoint::LnNormalized(Ln::Final);
        let mut run = self.model.run(ids, &spec.clone().capture(point))?;
        // γ, β are 1 and 0 once folded; without fold_ln they still apply
        let ln = &self.model.ln_f;
        let x = run
            .cache
            .get(point)?
            .broadcast_mul(&ln.weight)?
            .broadcast_add(&ln.bias)?;
        run.logits = self.unembed_normalized(&x)?;
        Ok(run)
    }

    /// Logits `(B, T, V)` without hooks.
    pub fn forward(&self, ids: &Tensor) -> Result<Tensor> {
        Ok(self.run(ids, &HookSpec::new())?.logits)
    }

    /// Logits and every activation.
    pub fn run_with_cache(&self, ids: &Tensor) -> Result<ProcessedRun> {
        self.run(ids, &HookSpec::capture_all())
    }

    /// Column `t` of `W_U`: the direction token `t`'s logit reads (`(C,)`).
    pub fn unembed_direction(&self, token: u32) -> Result<Tensor> {
        let v = self.w_u.dim(1)?;
        if token as usize >= v {
            return Err(Error::TokenOutOfRange {
                id: token,
                vocab: v,
            });
        }
        Ok(self.w_u.narrow(1, token as usize, 1)?.squeeze(1)?)
    }
}

/// Max |a − b| over all elements, after removing each row's mean over the last axis from both
/// (logits compared up to the softmax-invariant shift).
pub fn max_abs_diff_up_to_shift(a: &Tensor, b: &Tensor) -> Result<f64> {
    if a.dims() != b.dims() {
        return Err(Error::Shape(format!(
            "compare {:?} with {:?}",
            a.dims(),
            b.dims()
        )));
    }
    let ca = a.broadcast_sub(&a.mean_keepdim(D::Minus1)?)?;
    let cb = b.broadcast_sub(&b.mean_keepdim(D::Minus1)?)?;
    Ok((ca - cb)?
        .abs()?
        .flatten_all()?
        .max(0)?
        .to_dtype(DType::F64)?
        .to_scalar::<f64>()?)
}
