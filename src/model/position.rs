//! How token positions enter the residual stream: GPT-2's learned position embeddings, or none
//! (the "no positional encoding" GPT-2s of Kallini et al. 2024, whose only position signal is
//! the causal mask).

use candle_core::Tensor;
use serde::{Deserialize, Serialize};

use crate::hooks::{HookCtx, HookPoint};
use crate::Result;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PositionEmbedding {
    /// `wpe[pos]` is added to each token embedding (GPT-2).
    #[default]
    Learned,
    /// Nothing is added; `wpe` is kept (unused, so checkpoints keep GPT-2's layout) and
    /// `hook_pos_embed` does not fire.
    None,
}

impl PositionEmbedding {
    pub fn is_learned(&self) -> bool {
        *self == PositionEmbedding::Learned
    }

    /// The residual stream's start: token embeddings `(B, T, C)` plus, for `Learned`, the rows
    /// of `wpe` at `pos` `(B, T)` through `hook_pos_embed`.
    pub(crate) fn embed(self, tok: Tensor, wpe: &Tensor, pos: &Tensor, hooks: &mut HookCtx) -> Result<Tensor> {
        match self {
            PositionEmbedding::Learned => {
                let (b, t, c) = tok.dims3()?;
                let pe = super::fused_embedding::lookup(wpe, &pos.flatten_all()?)?.reshape((b, t, c))?; // (B, T, C)
                let pe = hooks.hook(HookPoint::PosEmbed, pe)?;
                Ok((tok + pe)?)
            }
            PositionEmbedding::None => Ok(tok),
        }
    }
}
