//! Full scale: GPT-2 small with the authors' released attention SAEs
//! (`ckkissane/attn-saes-gpt2-small-all-layers`). That repo is not in SAELens' folder format:
//! each layer is `{run}.pt` (a torch state dict: `W_enc` (d_in, d_sae), `b_enc`, `W_dec`
//! (d_sae, d_in), `b_dec`) beside `{run}_cfg.json` (their training config: `act_size`,
//! `dict_size`, `act_name` = `blocks.{l}.attn.hook_z`, `l1_coeff`, …). Their encoder subtracts
//! `b_dec` before encoding and reads the heads concatenated, which is SAELens' standard SAE with
//! `apply_b_dec_to_input` on a hook_z point, so [`load_kissane_sae`] builds a [`Sae`].

use std::path::Path;

use candle_core::Device;
use serde_json::Value;

use super::analysis::{induction_analysis_on, ioi_ablation, ioi_batch, repeated_tokens, InductionAnalysis};
use crate::data::ioi::ioi_prompts;
use crate::interp::sae::{Sae, SaeConfig};
use crate::model::Gpt2;
use crate::papers::SeedMetrics;
use crate::tokenizer::Gpt2Tokenizer;
use crate::{Error, Result};

pub const HUB_REPO: &str = "ckkissane/attn-saes-gpt2-small-all-layers";
/// The released run of every GPT-2 small layer (file stem; `.pt` and `_cfg.json`), as the
/// authors' README and notebooks list them.
pub const RUNS: [&str; 12] = [
    "gpt2-small_L0_Hcat_z_lr1.20e-03_l11.80e+00_ds24576_bs4096_dc1.00e-06_rsanthropic_rie25000_nr4_v9",
    "gpt2-small_L1_Hcat_z_lr1.20e-03_l18.00e-01_ds24576_bs4096_dc1.00e-06_rsanthropic_rie25000_nr4_v5",
    "gpt2-small_L2_Hcat_z_lr1.20e-03_l11.00e+00_ds24576_bs4096_dc1.00e-06_rsanthropic_rie25000_nr4_v4",
    "gpt2-small_L3_Hcat_z_lr1.20e-03_l19.00e-01_ds24576_bs4096_dc1.00e-06_rsanthropic_rie25000_nr4_v9",
    "gpt2-small_L4_Hcat_z_lr1.20e-03_l11.10e+00_ds24576_bs4096_dc1.00e-06_rsanthropic_rie25000_nr4_v7",
    "gpt2-small_L5_Hcat_z_lr1.20e-03_l11.00e+00_ds49152_bs4096_dc1.00e-06_rsanthropic_rie25000_nr4_v9",
    "gpt2-small_L6_Hcat_z_lr1.20e-03_l11.10e+00_ds24576_bs4096_dc1.00e-06_rsanthropic_rie25000_nr4_v9",
    "gpt2-small_L7_Hcat_z_lr1.20e-03_l11.10e+00_ds49152_bs4096_dc1.00e-06_rsanthropic_rie25000_nr4_v9",
    "gpt2-small_L8_Hcat_z_lr1.20e-03_l11.30e+00_ds24576_bs4096_dc1.00e-05_rsanthropic_rie25000_nr4_v6",
    "gpt2-small_L9_Hcat_z_lr1.20e-03_l11.20e+00_ds24576_bs4096_dc1.00e-06_rsanthropic_rie25000_nr4_v9",
    "gpt2-small_L10_Hcat_z_lr1.20e-03_l11.30e+00_ds24576_bs4096_dc1.00e-05_rsanthropic_rie25000_nr4_v9",
    "gpt2-small_L11_Hcat_z_lr1.20e-03_l13.00e+00_ds24576_bs4096_dc3.16e-06_rsanthropic_rie25000_nr4_v9",
];
/// The layer of the paper's IOI and induction deep dives, and its two induction heads
/// (long-prefix 5.1, short-prefix 5.5).
pub const LAYER: usize = 5;
pub const HEADS: [usize; 2] = [1, 5];

/// Reads one released SAE: `{stem}.pt` and `{stem}_cfg.json` in `dir`.
pub fn load_kissane_sae(dir: impl AsRef<Path>, stem: &str) -> Result<Sae> {
    let dir = dir.as_ref();
    let cfg_path = dir.join(format!("{stem}_cfg.json"));
    let text = std::fs::read_to_string(&cfg_path).map_err(|e| Error::io(&cfg_path, e))?;
    let cfg = kissane_config(&text, &cfg_path.display().to_string())?;
    let pt = dir.join(format!("{stem}.pt"));
    if !pt.exists() {
        return Err(Error::io(&pt, std::io::Error::new(std::io::ErrorKind::NotFound, "no such file")));
    }
    let tensors = candle_core::pickle::read_all(&pt).map_err(|e| Error::Config { path: pt.display().to_string(), msg: format!("not a torch state dict: {e}") })?;
    let get = |n: &str| {
        let i = tensors.iter().position(|(k, _)| k == n).ok_or_else(|| Error::MissingTensor { name: n.into(), tried: pt.display().to_string() })?;
        Ok::<_, Error>(tensors[i].1.to_device(&Device::Cpu)?)
    };
    let (we, be, wd, bd) = (get("W_enc")?, get("b_enc")?, get("W_dec")?, get("b_dec")?);
    Sae::from_tensors(cfg, we, be, wd, bd)
}

/// Their `_cfg.json` as an [`SaeConfig`] (hook_z, b_dec subtracted before encoding).
pub fn kissane_config(text: &str, path: &str) -> Result<SaeConfig> {
    let v: Value = serde_json::from_str(text).map_err(|e| Error::Config { path: path.into(), msg: e.to_string() })?;
    let int = |k: &str| v.get(k).and_then(Value::as_u64).map(|x| x as usize).ok_or_else(|| Error::Config { path: path.into(), msg: format!("missing integer `{k}`") });
    let hook = match v.get("act_name").and_then(Value::as_str) {
        Some(h) => h.to_string(),
        None => match (v.get("site").and_then(Value::as_str), v.get("layer").and_then(Value::as_u64)) {
            (Some("z"), Some(l)) => format!("blocks.{l}.attn.hook_z"),
            _ => return Err(Error::Config { path: path.into(), msg: "no `act_name` (nor `site` = z and `layer`)".into() }),
        },
    };
    let cfg = SaeConfig::new(&hook, int("act_size")?, int("dict_size")?)?;
    if !cfg.reshape_hook_z {
        return Err(Error::Unsupported(format!("{path}: {hook} is not a hook_z SAE")));
    }
    Ok(cfg)
}

/// Downloads (once; then the hub cache) and reads layer `layer`'s released SAE.
pub fn kissane_sae_from_hub(layer: usize) -> Result<Sae> {
    let stem = RUNS.get(layer).ok_or_else(|| Error::Shape(format!("layer {layer}: GPT-2 small has 12")))?;
    let files = [format!("{stem}.pt"), format!("{stem}_cfg.json")];
    let refs: Vec<&str> = files.iter().map(String::as_str).collect();
    let paths = crate::model::hub::hub_files(HUB_REPO, &refs)?;
    let dir = paths[0].parent().ok_or_else(|| Error::Hub(format!("{HUB_REPO}: no parent folder")))?;
    load_kissane_sae(dir, stem)
}

/// The full-scale analyses on a GPT-2-vocabulary model with an SAE on one layer's hook_z:
/// the induction analysis on repeated random tokens (`probe_len` tokens, ids 1000–10000) and
/// IOI feature ablation at S2 (`n_prompts` ARENA-style prompts, top `k` features). Returns the
/// row (IOI metrics prefixed `ioi_`) and the induction analysis (per-head scores, fractions).
pub fn full_analysis(model: &Gpt2, sae: &Sae, tok: &Gpt2Tokenizer, probe_len: usize, probe_batch: usize, n_prompts: usize, k: usize, seed: u64) -> Result<(SeedMetrics, InductionAnalysis)> {
    let bos = tok.bos_token_id();
    let ids = repeated_tokens(probe_batch, probe_len, 1000, 10_000.min(model.config().vocab_size as u32), bos, seed)?;
    let ind = induction_analysis_on(model, sae, &ids, probe_len)?;
    let prompts = ioi_prompts(n_prompts, 30_000 + seed);
    let batch = ioi_batch(&prompts, 1, |p| {
        let (io, s) = p.gpt2_answer_ids(tok)?;
        Ok((p.gpt2_ids(tok, true)?, io, s))
    })?;
    let (ioi, _) = ioi_ablation(model, sae, &batch, k, seed)?;
    let mut row = ind.metrics();
    row.seed = seed;
    row.group = "full".into();
    for (name, v) in ioi.values {
        row.values.insert(format!("ioi_{name}"), v);
    }
    Ok((row, ind))
}
