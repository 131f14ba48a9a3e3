//! Hugging Face hub loading through the `hf-hub` crate (its cache, `HF_HOME`, and offline mode:
//! `HF_HUB_OFFLINE=1` reads only the local cache).

use std::path::PathBuf;

use candle_core::Device;

use super::gpt2::Gpt2;
use super::config::Gpt2Config;
use super::weights::load_safetensors;
use crate::{Error, Result};

/// The local paths of `files` from a hub model repo (downloaded or already cached).
#[cfg(feature = "hub")]
pub fn hub_files(repo_id: &str, files: &[&str]) -> Result<Vec<PathBuf>> {
    let offline = std::env::var("HF_HUB_OFFLINE").map(|v| v == "1" || v.eq_ignore_ascii_case("true")).unwrap_or(false);
    if offline {
        let cache = hf_hub::Cache::from_env().model(repo_id.to_string());
        return files
            .iter()
            .map(|f| cache.get(f).ok_or_else(|| Error::Hub(format!("{repo_id}/{f} is not in the local hub cache and HF_HUB_OFFLINE is set"))))
            .collect();
    }
    let api = hf_hub::api::sync::ApiBuilder::from_env().with_progress(false).build().map_err(|e| Error::Hub(e.to_string()))?;
    let repo = api.model(repo_id.to_string());
    files.iter().map(|f| repo.get(f).map_err(|e| Error::Hub(format!("{repo_id}/{f}: {e}")))).collect()
}

#[cfg(not(feature = "hub"))]
pub fn hub_files(repo_id: &str, _files: &[&str]) -> Result<Vec<PathBuf>> {
    Err(Error::Hub(format!("cannot fetch {repo_id}: gpt2lab was built without the `hub` feature")))
}

impl Gpt2 {
    /// Loads a GPT-2 from the hub by id (`"gpt2"`, `"openai-community/gpt2-xl"`, any
    /// GPT-2-architecture repo with safetensors weights), on the CPU.
    pub fn from_pretrained(repo_id: &str) -> Result<Self> {
        Self::from_pretrained_on(repo_id, &Device::Cpu)
    }

    pub fn from_pretrained_on(repo_id: &str, device: &Device) -> Result<Self> {
        let cfg_path = hub_files(repo_id, &["config.json"])?.remove(0);
        let cfg = Gpt2Config::from_file(&cfg_path)?;
        let files = match hub_files(repo_id, &["model.safetensors"]) {
            Ok(f) => f,
            Err(_) => {
                let index = hub_files(repo_id, &["model.safetensors.index.json"])?.remove(0);
                let dir = index.parent().map(|p| p.to_path_buf()).unwrap_or_default();
                let shards: Vec<String> = super::weights::weight_files(&dir)?
                    .iter()
                    .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(String::from))
                    .collect();
                hub_files(repo_id, &shards.iter().map(String::as_str).collect::<Vec<_>>())?
            }
        };
        Gpt2::from_tensors(cfg, &load_safetensors(&files, device)?)
    }
}
