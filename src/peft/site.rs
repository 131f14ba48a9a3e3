//! Where an adapter can sit: the Conv1D projections of a GPT-2 block, by name.
//!
//! Every block has four projections (`attn.c_attn`, `attn.c_proj`, `mlp.c_fc`, `mlp.c_proj`);
//! the fused `c_attn` also offers its q, k and v output columns as `attn.c_attn.q|k|v` (the
//! LoRA/NOLA papers adapt W_q and W_v only). A site's full name is `h.{layer}.{module}`; a
//! target selects every site whose name equals it or ends with `.{target}`, as Hugging Face
//! PEFT's `target_modules` do (`c_proj` selects both `attn.c_proj` and `mlp.c_proj`).

use serde::{Deserialize, Serialize};

use crate::model::{Gpt2, Gpt2Config};
use crate::{Error, Result};

/// One of a block's four Conv1D projections.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Proj {
    CAttn,
    AttnProj,
    Fc,
    MlpProj,
}

impl Proj {
    pub const ALL: [Proj; 4] = [Proj::CAttn, Proj::AttnProj, Proj::Fc, Proj::MlpProj];
    /// The HF module name inside a block.
    pub fn module(self) -> &'static str {
        match self {
            Proj::CAttn => "attn.c_attn",
            Proj::AttnProj => "attn.c_proj",
            Proj::Fc => "mlp.c_fc",
            Proj::MlpProj => "mlp.c_proj",
        }
    }
    /// (d_in, d_out) of the whole projection.
    pub fn dims(self, cfg: &Gpt2Config) -> (usize, usize) {
        let (c, m) = (cfg.n_embd, cfg.d_mlp());
        match self {
            Proj::CAttn => (c, 3 * c),
            Proj::AttnProj => (c, c),
            Proj::Fc => (c, m),
            Proj::MlpProj => (m, c),
        }
    }
}

/// The output columns of a projection an adapter changes: all of them, or q, k or v of `c_attn`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Slice {
    All,
    Q,
    K,
    V,
}

/// One adaptable matrix: a layer's projection (or a q/k/v slice of `c_attn`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Site {
    pub layer: usize,
    pub proj: Proj,
    pub slice: Slice,
}

impl Site {
    /// `h.0.attn.c_attn`, `h.0.attn.c_attn.q`, ...
    pub fn name(&self) -> String {
        let s = match self.slice {
            Slice::All => "",
            Slice::Q => ".q",
            Slice::K => ".k",
            Slice::V => ".v",
        };
        format!("h.{}.{}{s}", self.layer, self.proj.module())
    }
    /// The name of the whole projection's weight in the checkpoint (`h.0.attn.c_attn.weight`).
    pub fn weight_name(&self) -> String {
        format!("h.{}.{}.weight", self.layer, self.proj.module())
    }
    /// (d_in, d_out) of the matrix the adapter changes (a slice: n_embd output columns).
    pub fn dims(&self, cfg: &Gpt2Config) -> (usize, usize) {
        let (i, o) = self.proj.dims(cfg);
        match self.slice {
            Slice::All => (i, o),
            _ => (i, cfg.n_embd),
        }
    }
    /// First output column of the slice inside the whole projection.
    pub fn col_offset(&self, cfg: &Gpt2Config) -> usize {
        match self.slice {
            Slice::All | Slice::Q => 0,
            Slice::K => cfg.n_embd,
            Slice::V => 2 * cfg.n_embd,
        }
    }
}

/// Every site of a model with this config, in layer order.
pub fn all_sites(cfg: &Gpt2Config) -> Vec<Site> {
    let mut v = vec![];
    for layer in 0..cfg.n_layer {
        for proj in Proj::ALL {
            if !cfg.has_mlp() && matches!(proj, Proj::Fc | Proj::MlpProj) {
                continue; // attention-only blocks (mlp = none) have no MLP projections
            }
            v.push(Site { layer, proj, slice: Slice::All });
            if proj == Proj::CAttn {
                for slice in [Slice::Q, Slice::K, Slice::V] {
                    v.push(Site { layer, proj, slice });
                }
            }
        }
    }
    v
}

/// The target names a user can write for layer 0 (the same exist for every layer):
/// listed in errors.
pub fn valid_targets(cfg: &Gpt2Config) -> Vec<String> {
    let mut v: Vec<String> = all_sites(cfg).iter().filter(|s| s.layer == 0).map(|s| s.name()).collect();
    v.extend(["c_attn", "c_attn.q", "c_attn.k", "c_attn.v", "c_proj", "c_fc", "attn.c_proj", "mlp.c_proj"].iter().map(|s| s.to_string()));
    v
}

fn matches(site_name: &str, target: &str) -> bool {
    site_name == target || site_name.ends_with(&format!(".{target}"))
}

/// The sites selected by `targets`: each target must select at least one site, and one
/// projection cannot be adapted both whole and by slice.
pub fn resolve_targets(cfg: &Gpt2Config, targets: &[String]) -> Result<Vec<Site>> {
    if targets.is_empty() {
        return Err(Error::AdapterTarget { target: "<none>".into(), valid: valid_targets(cfg) });
    }
    let all = all_sites(cfg);
    let mut out: Vec<Site> = vec![];
    for t in targets {
        let hit: Vec<Site> = all.iter().filter(|s| matches(&s.name(), t)).copied().collect();
        if hit.is_empty() {
            return Err(Error::AdapterTarget { target: t.clone(), valid: valid_targets(cfg) });
        }
        for s in hit {
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    out.sort();
    for s in &out {
        if s.slice != Slice::All && out.iter().any(|o| o.layer == s.layer && o.proj == s.proj && o.slice == Slice::All) {
            return Err(Error::AdapterConfig(format!("targets adapt {} both whole and by its slice {}", Site { slice: Slice::All, ..*s }.name(), s.name())));
        }
    }
    Ok(out)
}

/// The current weight of a site's whole projection (Conv1D layout `[in, out]`).
pub fn proj_weight(model: &Gpt2, layer: usize, proj: Proj) -> Result<&candle_core::Tensor> {
    let b = model.blocks.get(layer).ok_or_else(|| Error::Shape(format!("layer {layer}: the model has {} blocks", model.blocks.len())))?;
    Ok(match proj {
        Proj::CAttn => &b.attn.c_attn_w,
        Proj::AttnProj => &b.attn.c_proj_w,
        Proj::Fc => &b.mlp()?.c_fc_w,
        Proj::MlpProj => &b.mlp()?.c_proj_w,
    })
}

/// Mutable access to a projection's weight.
pub fn proj_weight_mut(model: &mut Gpt2, layer: usize, proj: Proj) -> Result<&mut candle_core::Tensor> {
    let n = model.blocks.len();
    let b = model.blocks.get_mut(layer).ok_or_else(|| Error::Shape(format!("layer {layer}: the model has {n} blocks")))?;
    Ok(match proj {
        Proj::CAttn => &mut b.attn.c_attn_w,
        Proj::AttnProj => &mut b.attn.c_proj_w,
        Proj::Fc => &mut b.mlp_mut()?.c_fc_w,
        Proj::MlpProj => &mut b.mlp_mut()?.c_proj_w,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_select_by_suffix_and_list_valid_names() {
        let cfg = Gpt2Config::tiny(10, 8, 8, 2, 2);
        let s = resolve_targets(&cfg, &["c_attn.q".into(), "c_attn.v".into()]).unwrap();
        assert_eq!(s.iter().map(|s| s.name()).collect::<Vec<_>>(), ["h.0.attn.c_attn.q", "h.0.attn.c_attn.v", "h.1.attn.c_attn.q", "h.1.attn.c_attn.v"]);
        assert_eq!(resolve_targets(&cfg, &["c_proj".into()]).unwrap().len(), 4);
        assert_eq!(resolve_targets(&cfg, &["h.1.mlp.c_fc".into()]).unwrap().len(), 1);
        match resolve_targets(&cfg, &["q_proj".into()]) {
            Err(Error::AdapterTarget { target, valid }) => {
                assert_eq!(target, "q_proj");
                assert!(valid.contains(&"c_attn".to_string()) && valid.contains(&"h.0.mlp.c_fc".to_string()));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(resolve_targets(&cfg, &["c_attn".into(), "c_attn.q".into()]), Err(Error::AdapterConfig(_))));
    }
}
