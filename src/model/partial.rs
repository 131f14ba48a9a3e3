//! Resuming a forward pass from the residual stream part-way through the model
//! (TransformerLens' `start_at_layer`).
//!
//! Why: a patched run agrees with the run it patches everywhere before the patched point, so a
//! patching sweep only needs the layers from that point on, and it only reads the last
//! position's logits. `Gpt2::resume` is that partial forward; `interp::patching` batches it.

use candle_core::{DType, Tensor};

use super::gpt2::{Gpt2, MASK_VALUE};
use crate::hooks::{HookCtx, HookSpec};
use crate::{Error, Result};

/// Where in the residual stream a resumed forward starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entry {
    /// The residual stream entering block `l` (`blocks.{l}.hook_resid_pre`); `l = n_layer`
    /// means after the last block (only the final LayerNorm and the unembedding are left).
    ResidPre(usize),
    /// Between block `l`'s attention and its MLP (`blocks.{l}.hook_resid_mid`).
    ResidMid(usize),
}

impl Gpt2 {
    /// Logits from residual-stream activations `(B, T, C)` at `entry`, running only the rest
    /// of the model (no hooks, no padding: every row is a full causal sequence starting at
    /// position 0). With `last_only`, logits `(B, 1, V)` for the last position only.
    pub fn resume(&self, entry: Entry, resid: &Tensor, last_only: bool) -> Result<Tensor> {
        crate::runtime::with_pool_for(self.device(), || self.resume_inner(entry, resid, last_only))
    }

    fn resume_inner(&self, entry: Entry, resid: &Tensor, last_only: bool) -> Result<Tensor> {
        let n = self.cfg.n_layer;
        let (_, t, c) = resid.dims3().map_err(|_| {
            Error::Shape(format!(
                "resume needs a residual stream (B, T, C), got {:?}",
                resid.dims()
            ))
        })?;
        if c != self.cfg.n_embd {
            return Err(Error::Shape(format!(
                "resume: residual width {c}, the model's n_embd is {}",
                self.cfg.n_embd
            )));
        }
        if t == 0 || t > self.cfg.n_positions {
            return Err(Error::PromptTooLong {
                len: t,
                n_ctx: self.cfg.n_positions,
            });
        }
        let (first, mid) = match entry {
            Entry::ResidPre(l) if l <= n => (l, false),
            Entry::ResidMid(l) if l < n => (l, true),
            _ => {
                return Err(Error::Shape(format!(
                    "resume from {entry:?}: the model has {n} blocks"
                )))
            }
        };
        let mask = causal_mask(t, self.dtype(), self.device())?; // (1, 1, T, T) or None
        let spec = HookSpec::new();
        let mut hooks = HookCtx::new(&spec);
        let mut x = resid.clone(); // (B, T, C)
        if mid {
            // the second half of block `first` (Block::forward after resid_mid)
            let b = &self.blocks[first];
            if let Some(mlp) = &b.mlp {
                let mlp_out = mlp.forward(&b.ln_2.forward(&x, &mut hooks)?, &mut hooks)?;
                x = (x + mlp_out)?;
            }
        }
        let start = if mid { first + 1 } else { first };
        for blk in &self.blocks[start..] {
            x = blk.forward(x, mask.as_ref(), None, &mut hooks)?;
        }
        if last_only {
            x = x.narrow(1, t - 1, 1)?;
        }
        let x = self.ln_f.forward(&x, &mut hooks)?;
        self.unembed_normalized(&x)
    }
}

/// The additive causal mask `(1, 1, T, T)` the blocks take (None for one position).
fn causal_mask(t: usize, dtype: DType, device: &candle_core::Device) -> Result<Option<Tensor>> {
    if t == 1 {
        return Ok(None);
    }
    let m: Vec<f32> = (0..t)
        .flat_map(|q| (0..t).map(move |k| if k <= q { 0.0 } else { MASK_VALUE }))
        .collect();
    Ok(Some(
        Tensor::from_vec(m, (1, 1, t, t), device)?.to_dtype(dtype)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hooks::HookPoint;
    use crate::model::Gpt2Config;

    fn tiny() -> Gpt2 {
        Gpt2::random(
            Gpt2Config::tiny(50, 16, 16, 3, 2),
            3,
            &candle_core::Device::Cpu,
        )
        .unwrap()
    }

    #[test]
    fn resuming_from_any_entry_gives_the_full_forward_logits() {
        let m = tiny();
        let ids = Tensor::new(&[[1u32, 7, 3, 9, 4, 2]], &candle_core::Device::Cpu).unwrap();
        let run = m.run_with_cache(&ids).unwrap();
        let full = run.logits;
        for l in 0..=3 {
            let (entry, act) = if l < 3 {
                (
                    Entry::ResidPre(l),
                    run.cache.get(HookPoint::ResidPre(l)).unwrap().clone(),
                )
            } else {
                (
                    Entry::ResidPre(3),
                    run.cache.get(HookPoint::ResidPost(2)).unwrap().clone(),
                )
            };
            let got = m.resume(entry, &act, false).unwrap();
            let d = (got - &full)
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert!(d < 1e-5, "{entry:?}: max |Δ| {d}");
            if l < 3 {
                let mid = run.cache.get(HookPoint::ResidMid(l)).unwrap().clone();
                let got = m.resume(Entry::ResidMid(l), &mid, true).unwrap(); // (1, 1, V)
                let d = (got.squeeze(1).unwrap()
                    - full.get(0).unwrap().get(5).unwrap().unsqueeze(0).unwrap())
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
                assert!(d < 1e-5, "ResidMid({l}) last only: max |Δ| {d}");
            }
        }
    }

    #[test]
    fn resume_refuses_bad_entries_and_shapes() {
        let m = tiny();
        let x = Tensor::zeros((1, 4, 16), DType::F32, &candle_core::Device::Cpu).unwrap();
        assert!(m.resume(Entry::ResidPre(4), &x, false).is_err());
        assert!(m.resume(Entry::ResidMid(3), &x, false).is_err());
        let wrong = Tensor::zeros((1, 4, 8), DType::F32, &candle_core::Device::Cpu).unwrap();
        assert!(matches!(
            m.resume(Entry::ResidPre(0), &wrong, false),
            Err(Error::Shape(_))
        ));
        let long = Tensor::zeros((1, 17, 16), DType::F32, &candle_core::Device::Cpu).unwrap();
        assert!(matches!(
            m.resume(Entry::ResidPre(0), &long, false),
            Err(Error::PromptTooLong { .. })
        ));
    }
}
