//! HUT, the Hadamard Updated Transformation (Zhang, Zhou, Chen 2024, arXiv 2409.13501): the
//! adapted weight is a transformation of the frozen one, W' = U(W₀), built from W₀ and two
//! low-rank matrices with a Hadamard (element-wise) product.
//!
//! **The form followed here** (the paper's equations could not be read in this project; its
//! abstract and third-party summaries say "updates the original weight matrix using the
//! Hadamard transformation with two low-rank matrices", W_new = U(W₀)):
//!
//! W' = W₀ ⊙ (1 + s·B·A),  i.e.  ΔW = s·W₀ ⊙ (B·A),
//!
//! with A `(r, d_in)` Kaiming-uniform (bound 1/√d_in, LoRA's), B `(d_out, r)` zero, and
//! s = α/r, so W' = W₀ at initialisation, every entry of W' stays proportional to its own
//! entry of W₀ (the paper's "correlation between the original and updated parameters"), and
//! the trainable count is LoRA's, r·(d_in + d_out) per matrix. Where the paper may differ: the
//! exact parametrisation of the transformation (e.g. W₀ ⊙ (B·A) with B·A ≈ 1 at
//! initialisation is the same family: 1 + s·B·A is a rank-(r+1) multiplier), the
//! initialisation and the scale.
//!
//! **Cost.** ΔW is formed in weight space (as every adapter of this library): per adapted
//! `d_in × d_out` matrix and step, 2·r·d_in·d_out FLOPs for B·A and d_in·d_out for the
//! Hadamard product forward; backward the weight gradient G of the matrix
//! (2·tokens·d_in·d_out), d_in·d_out for s·W₀ ⊙ G and 2·2·r·d_in·d_out for the factors'
//! gradients ([`hut_flops`]). Unlike LoRA, HUT cannot be applied to activations for free:
//! (W₀ ⊙ B·A)·x = Σₖ bₖ ⊙ (W₀·(aₖ ⊙ x)) costs r products with W₀ per token. After
//! [`super::Adapter::merge`] inference is exactly the base model's cost.

use std::path::Path;

use candle_core::{DType, Tensor};

use super::adapter::{Adapter, Method};
use super::cost::{adapter_flops, AdapterPath, StepFlops};
use super::site::{proj_weight, Site};
use crate::model::{Gpt2, Gpt2Config};
use crate::{Error, Result};

/// The frozen W₀ of a site in the Conv1D layout `[d_in, d_out]` (its output columns for a
/// q/k/v slice), f32, detached and contiguous: what HUT's update multiplies.
pub fn site_w0(base: &Gpt2, site: &Site) -> Result<Tensor> {
    let (d_in, d_out) = site.dims(&base.cfg);
    let w = proj_weight(base, site.layer, site.proj)?;
    let w = w.narrow(1, site.col_offset(&base.cfg), d_out)?;
    if w.dims() != [d_in, d_out] {
        return Err(Error::Shape(format!(
            "{}: weight slice {:?}, expected [{d_in}, {d_out}]",
            site.name(),
            w.dims()
        )));
    }
    Ok(w.to_dtype(DType::F32)?.contiguous()?.detach())
}

/// HUT's ΔW in the Conv1D layout `[d_in, d_out]`: s·W₀ ⊙ (Aᵀ·Bᵀ), graph-connected to A and B
/// (A `(r, d_in)`, B `(d_out, r)`, W₀ `[d_in, d_out]`).
pub fn hut_delta(w0: &Tensor, a: &Tensor, b: &Tensor, scale: f64) -> Result<Tensor> {
    let (r, d_in) = a.dims2()?;
    let (d_out, rb) = b.dims2()?;
    if rb != r || w0.dims() != [d_in, d_out] {
        return Err(Error::Shape(format!("HUT: A {:?}, B {:?} and W₀ {:?} do not fit (need (r, d_in), (d_out, r), [d_in, d_out])", a.dims(), b.dims(), w0.dims())));
    }
    Ok((w0.mul(&a.t()?.matmul(&b.t()?)?)? * scale)?)
}

/// Counted FLOPs of a HUT training step: a frozen base plus rank-`r` HUT updates of the
/// `(d_in, d_out)` matrices, the update formed in weight space (module doc). Matmuls at 2 FLOPs
/// per multiply-add as in [`super::cost`]; the two Hadamard products at 1 per element.
pub fn hut_flops(
    cfg: &Gpt2Config,
    batch: usize,
    seq: usize,
    r: usize,
    matrices: &[(usize, usize)],
) -> StepFlops {
    let mut f = adapter_flops(cfg, batch, seq, r, matrices, AdapterPath::WeightSpace);
    for &(i, o) in matrices {
        f.forward += (i * o) as f64;
        f.backward += (i * o) as f64;
    }
    f
}

impl Adapter {
    /// Loads a LoRA adapter only (what Hugging Face PEFT can read too): a saved HUT or NOLA
    /// adapter is refused with [`Error::Unsupported`] naming its `peft_type`, instead of
    /// being read as something it is not.
    pub fn load_lora(base: &Gpt2, dir: impl AsRef<Path>) -> Result<Adapter> {
        let cfg = Adapter::read_config(dir.as_ref())?;
        let kind = match cfg.method {
            Method::Lora => return Adapter::load(base, dir),
            Method::Nola { .. } => "NOLA",
            Method::Hut => "HUT",
        };
        Err(Error::Unsupported(format!(
            "{}: peft_type {kind:?} is not a LoRA adapter (this loader, like Hugging Face PEFT, reads LoRA only; use Adapter::load)",
            dir.as_ref().display()
        )))
    }
}
