//! `ActivationCache`: the activations a run captured, by hook point, with the
//! TransformerLens helpers for residual-stream analysis.

use std::collections::BTreeMap;

use candle_core::{Tensor, D};

use super::{HookPoint, Ln};
use crate::{Error, Result};

#[derive(Clone, Default, Debug)]
pub struct ActivationCache {
    acts: BTreeMap<HookPoint, Tensor>,
}

impl ActivationCache {
    pub fn insert(&mut self, p: HookPoint, t: Tensor) {
        self.acts.insert(p, t);
    }

    /// The activation at a TransformerLens name (`"blocks.0.attn.hook_pattern"`) or `HookPoint`.
    pub fn get(&self, name: impl super::IntoHookPoint) -> Result<&Tensor> {
        let p = name.into_hook_point()?;
        self.acts.get(&p).ok_or_else(|| Error::Hook {
            hook: p.to_string(),
            msg: format!("not in the cache (captured: {} points; add it to the HookSpec)", self.acts.len()),
        })
    }

    pub fn contains(&self, p: HookPoint) -> bool {
        self.acts.contains_key(&p)
    }
    pub fn len(&self) -> usize {
        self.acts.len()
    }
    pub fn is_empty(&self) -> bool {
        self.acts.is_empty()
    }
    /// Hook points held, in forward order.
    pub fn points(&self) -> impl Iterator<Item = &HookPoint> {
        self.acts.keys()
    }
    pub fn iter(&self) -> impl Iterator<Item = (&HookPoint, &Tensor)> {
        self.acts.iter()
    }
    /// Total bytes held.
    pub fn nbytes(&self) -> usize {
        self.acts.values().map(|t| t.elem_count() * t.dtype().size_in_bytes()).sum()
    }
    /// Drops autograd history (for caches kept across training steps).
    pub fn detach(&self) -> ActivationCache {
        ActivationCache { acts: self.acts.iter().map(|(k, v)| (*k, v.detach())).collect() }
    }

    fn n_layer(&self) -> usize {
        self.acts.keys().filter_map(|p| p.layer()).max().map(|m| m + 1).unwrap_or(0)
    }

    /// Stacks `blocks.{i}.{kind}` over every layer: `[n_layer, ...]`.
    /// `kind` is e.g. `"hook_resid_post"` or `"attn.hook_pattern"`.
    pub fn stack(&self, kind: &str) -> Result<Tensor> {
        let n = self.n_layer();
        let ts = (0..n)
            .map(|i| self.get(format!("blocks.{i}.{kind}")).cloned())
            .collect::<Result<Vec<_>>>()?;
        if ts.is_empty() {
            return Err(Error::Hook { hook: kind.into(), msg: "no layers captured".into() });
        }
        Ok(Tensor::stack(&ts, 0)?)
    }

    /// The residual stream before each block and after the last: `[n_layer + 1, batch, pos, d_model]`,
    /// labels `blocks.0.hook_resid_pre`, …, `final_post`. With `incl_mid`, adds each `resid_mid`.
    /// Needs `hook_resid_pre` of every layer and the last `hook_resid_post` captured.
    pub fn accumulated_resid(&self, incl_mid: bool) -> Result<(Tensor, Vec<String>)> {
        let n = self.n_layer();
        let (mut ts, mut labels) = (vec![], vec![]);
        for i in 0..n {
            ts.push(self.get(HookPoint::ResidPre(i))?.clone());
            labels.push(format!("{i}_pre"));
            if incl_mid {
                ts.push(self.get(HookPoint::ResidMid(i))?.clone());
                labels.push(format!("{i}_mid"));
            }
        }
        ts.push(self.get(HookPoint::ResidPost(n.saturating_sub(1)))?.clone());
        labels.push("final_post".into());
        Ok((Tensor::stack(&ts, 0)?, labels))
    }

    /// The residual stream split into what wrote it: `embed`, `pos_embed`, then each
    /// layer's `attn_out` and `mlp_out`: `[2 + 2·n_layer, batch, pos, d_model]`. The parts sum
    /// to the final `hook_resid_post`.
    pub fn decompose_resid(&self) -> Result<(Tensor, Vec<String>)> {
        let n = self.n_layer();
        let mut ts = vec![self.get(HookPoint::Embed)?.clone(), self.get(HookPoint::PosEmbed)?.clone()];
        let mut labels = vec!["embed".to_string(), "pos_embed".to_string()];
        for i in 0..n {
            ts.push(self.get(HookPoint::AttnOut(i))?.clone());
            labels.push(format!("{i}_attn_out"));
            ts.push(self.get(HookPoint::MlpOut(i))?.clone());
            labels.push(format!("{i}_mlp_out"));
        }
        Ok((Tensor::stack(&ts, 0)?, labels))
    }

    /// Applies the final LayerNorm's cached scale to a stack of residual components
    /// `[components, batch, pos, d_model]`: centres each and divides by
    /// `ln_final.hook_scale` (`[batch, pos, 1]`), as TransformerLens' `apply_ln_to_stack`.
    /// The LN's weight and bias are not applied (see `Gpt2::unembed_normalized`).
    pub fn apply_ln_to_stack(&self, stack: &Tensor) -> Result<Tensor> {
        let scale = self.get(HookPoint::LnScale(Ln::Final))?;
        let centred = stack.broadcast_sub(&stack.mean_keepdim(D::Minus1)?)?;
        Ok(centred.broadcast_div(scale)?)
    }
}
