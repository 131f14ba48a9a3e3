//! `HookPoint`: every named activation of the GPT-2 forward, typed, with TransformerLens names.
//!
//! | name | shape |
//! |---|---|
//! | `hook_embed`, `hook_pos_embed` | `[batch, pos, d_model]` |
//! | `blocks.{i}.hook_resid_pre / mid / post` | `[batch, pos, d_model]` |
//! | `blocks.{i}.ln1.hook_scale`, `ln2.…`, `ln_final.hook_scale` | `[batch, pos, 1]` (sqrt(var + eps)) |
//! | `blocks.{i}.ln1.hook_normalized`, `ln2.…`, `ln_final.…` | `[batch, pos, d_model]` (before γ, β) |
//! | `blocks.{i}.attn.hook_q / k / v / z` | `[batch, pos, head, d_head]` |
//! | `blocks.{i}.attn.hook_attn_scores / hook_pattern` | `[batch, head, q_pos, k_pos]` |
//! | `blocks.{i}.hook_attn_out`, `blocks.{i}.hook_mlp_out` | `[batch, pos, d_model]` |
//! | `blocks.{i}.mlp.hook_pre / hook_post` | `[batch, pos, d_mlp]` |
//!
//! With the KV cache, `pos`/`q_pos` are the new positions only and `k_pos` spans the cache.
//! Masked attention scores hold a large negative number (not -inf) so padded rows stay finite.

use std::fmt;
use std::str::FromStr;

use crate::{Error, Result};

/// Which LayerNorm of the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ln {
    Ln1(usize),
    Ln2(usize),
    Final,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HookPoint {
    Embed,
    PosEmbed,
    ResidPre(usize),
    /// sqrt(var + eps) of a LayerNorm input
    LnScale(Ln),
    /// (x - mean) / scale, before the affine weight and bias
    LnNormalized(Ln),
    Q(usize),
    K(usize),
    V(usize),
    AttnScores(usize),
    Pattern(usize),
    Z(usize),
    AttnOut(usize),
    ResidMid(usize),
    MlpPre(usize),
    MlpPost(usize),
    MlpOut(usize),
    ResidPost(usize),
}

impl HookPoint {
    /// The block this point belongs to (None for embeddings and the final LN).
    pub fn layer(&self) -> Option<usize> {
        use HookPoint::*;
        match *self {
            Embed | PosEmbed => None,
            LnScale(ln) | LnNormalized(ln) => match ln {
                Ln::Ln1(i) | Ln::Ln2(i) => Some(i),
                Ln::Final => None,
            },
            ResidPre(i) | Q(i) | K(i) | V(i) | AttnScores(i) | Pattern(i) | Z(i) | AttnOut(i) | ResidMid(i)
            | MlpPre(i) | MlpPost(i) | MlpOut(i) | ResidPost(i) => Some(i),
        }
    }

    /// The TransformerLens-style name of the point without the layer (`hook_resid_pre`,
    /// `attn.hook_pattern`, `ln1.hook_scale`, ...): useful as a filter key.
    pub fn kind(&self) -> String {
        let s = self.to_string();
        match self.layer() {
            Some(i) => s.trim_start_matches(&format!("blocks.{i}.")).to_string(),
            None => s,
        }
    }

    /// All hook points of a model with `n_layer` blocks, in forward order.
    pub fn all(n_layer: usize) -> Vec<HookPoint> {
        use HookPoint::*;
        let mut v = vec![Embed, PosEmbed];
        for i in 0..n_layer {
            v.extend([
                ResidPre(i),
                LnScale(Ln::Ln1(i)),
                LnNormalized(Ln::Ln1(i)),
                Q(i),
                K(i),
                V(i),
                AttnScores(i),
                Pattern(i),
                Z(i),
                AttnOut(i),
                ResidMid(i),
                LnScale(Ln::Ln2(i)),
                LnNormalized(Ln::Ln2(i)),
                MlpPre(i),
                MlpPost(i),
                MlpOut(i),
                ResidPost(i),
            ]);
        }
        v.extend([LnScale(Ln::Final), LnNormalized(Ln::Final)]);
        v
    }

    /// Parses a TransformerLens name, checking the layer against `n_layer`.
    pub fn parse_for(name: &str, n_layer: usize) -> Result<HookPoint> {
        let p: HookPoint = name.parse()?;
        match p.layer() {
            Some(i) if i >= n_layer => Err(Error::UnknownHook {
                name: name.into(),
                near: vec![format!("layer {i} does not exist: the model has {n_layer} blocks (0..{})", n_layer.saturating_sub(1))],
            }),
            _ => Ok(p),
        }
    }
}

const BLOCK_KINDS: &[&str] = &[
    "hook_resid_pre",
    "ln1.hook_scale",
    "ln1.hook_normalized",
    "attn.hook_q",
    "attn.hook_k",
    "attn.hook_v",
    "attn.hook_attn_scores",
    "attn.hook_pattern",
    "attn.hook_z",
    "hook_attn_out",
    "hook_resid_mid",
    "ln2.hook_scale",
    "ln2.hook_normalized",
    "mlp.hook_pre",
    "mlp.hook_post",
    "hook_mlp_out",
    "hook_resid_post",
];
const TOP_NAMES: &[&str] = &["hook_embed", "hook_pos_embed", "ln_final.hook_scale", "ln_final.hook_normalized"];

impl fmt::Display for HookPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use HookPoint::*;
        let ln = |ln: Ln, what: &str| match ln {
            Ln::Ln1(i) => format!("blocks.{i}.ln1.{what}"),
            Ln::Ln2(i) => format!("blocks.{i}.ln2.{what}"),
            Ln::Final => format!("ln_final.{what}"),
        };
        let s = match *self {
            Embed => "hook_embed".to_string(),
            PosEmbed => "hook_pos_embed".to_string(),
            ResidPre(i) => format!("blocks.{i}.hook_resid_pre"),
            LnScale(l) => ln(l, "hook_scale"),
            LnNormalized(l) => ln(l, "hook_normalized"),
            Q(i) => format!("blocks.{i}.attn.hook_q"),
            K(i) => format!("blocks.{i}.attn.hook_k"),
            V(i) => format!("blocks.{i}.attn.hook_v"),
            AttnScores(i) => format!("blocks.{i}.attn.hook_attn_scores"),
            Pattern(i) => format!("blocks.{i}.attn.hook_pattern"),
            Z(i) => format!("blocks.{i}.attn.hook_z"),
            AttnOut(i) => format!("blocks.{i}.hook_attn_out"),
            ResidMid(i) => format!("blocks.{i}.hook_resid_mid"),
            MlpPre(i) => format!("blocks.{i}.mlp.hook_pre"),
            MlpPost(i) => format!("blocks.{i}.mlp.hook_post"),
            MlpOut(i) => format!("blocks.{i}.hook_mlp_out"),
            ResidPost(i) => format!("blocks.{i}.hook_resid_post"),
        };
        f.write_str(&s)
    }
}

fn parse_block_kind(i: usize, kind: &str) -> Option<HookPoint> {
    use HookPoint::*;
    Some(match kind {
        "hook_resid_pre" => ResidPre(i),
        "ln1.hook_scale" => LnScale(Ln::Ln1(i)),
        "ln1.hook_normalized" => LnNormalized(Ln::Ln1(i)),
        "attn.hook_q" => Q(i),
        "attn.hook_k" => K(i),
        "attn.hook_v" => V(i),
        "attn.hook_attn_scores" => AttnScores(i),
        "attn.hook_pattern" => Pattern(i),
        "attn.hook_z" => Z(i),
        "hook_attn_out" => AttnOut(i),
        "hook_resid_mid" => ResidMid(i),
        "ln2.hook_scale" => LnScale(Ln::Ln2(i)),
        "ln2.hook_normalized" => LnNormalized(Ln::Ln2(i)),
        "mlp.hook_pre" => MlpPre(i),
        "mlp.hook_post" => MlpPost(i),
        "hook_mlp_out" => MlpOut(i),
        "hook_resid_post" => ResidPost(i),
        _ => return None,
    })
}

/// Levenshtein distance, for "did you mean" suggestions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + (ca != *cb) as usize).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn near_matches(name: &str) -> Vec<String> {
    // Compare against the names with the same layer number, so "blocks.3.attn.hook_patern"
    // suggests "blocks.3.attn.hook_pattern".
    let layer = name.strip_prefix("blocks.").and_then(|r| r.split('.').next()).and_then(|s| s.parse::<usize>().ok());
    let mut cands: Vec<String> = TOP_NAMES.iter().map(|s| s.to_string()).collect();
    let i = layer.unwrap_or(0);
    cands.extend(BLOCK_KINDS.iter().map(|k| format!("blocks.{i}.{k}")));
    let mut scored: Vec<(usize, String)> = cands.into_iter().map(|c| (edit_distance(name, &c), c)).collect();
    scored.sort();
    let best = scored.first().map(|s| s.0).unwrap_or(0);
    scored.into_iter().filter(|(d, _)| *d <= best + 2 && *d <= name.len().max(4) / 2 + 2).take(3).map(|s| s.1).collect()
}

impl FromStr for HookPoint {
    type Err = Error;
    fn from_str(name: &str) -> Result<Self> {
        use HookPoint::*;
        let parsed = match name {
            "hook_embed" => Some(Embed),
            "hook_pos_embed" => Some(PosEmbed),
            "ln_final.hook_scale" => Some(LnScale(Ln::Final)),
            "ln_final.hook_normalized" => Some(LnNormalized(Ln::Final)),
            _ => name.strip_prefix("blocks.").and_then(|rest| {
                let (num, kind) = rest.split_once('.')?;
                parse_block_kind(num.parse().ok()?, kind)
            }),
        };
        parsed.ok_or_else(|| Error::UnknownHook { name: name.into(), near: near_matches(name) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_name() {
        for p in HookPoint::all(3) {
            let s = p.to_string();
            assert_eq!(s.parse::<HookPoint>().unwrap(), p, "{s}");
        }
        assert_eq!(HookPoint::all(3).len(), 2 + 3 * 17 + 2);
    }

    #[test]
    fn unknown_names_suggest_near_matches() {
        let err = "blocks.3.attn.hook_patern".parse::<HookPoint>().unwrap_err().to_string();
        assert!(err.contains("blocks.3.attn.hook_pattern"), "{err}");
        let err = "hook_embd".parse::<HookPoint>().unwrap_err().to_string();
        assert!(err.contains("`hook_embed`"), "{err}");
        assert!(HookPoint::parse_for("blocks.7.hook_resid_pre", 2).is_err());
    }

    #[test]
    fn kind_strips_layer() {
        assert_eq!(HookPoint::Pattern(4).kind(), "attn.hook_pattern");
        assert_eq!(HookPoint::LnScale(Ln::Final).kind(), "ln_final.hook_scale");
    }
}
