//! Hugging Face hub loading through the `hf-hub` crate (its cache, `HF_HOME`, and offline mode:
//! `HF_HUB_OFFLINE=1` reads only the local cache).

use std::path::{Path, PathBuf};

use candle_core::Device;

use super::gpt2::Gpt2;
use super::config::Gpt2Config;
use super::weights::load_safetensors;
use crate::{Error, Result};

/// Where a hub model came from: what was asked for and the commit it resolved to. Keep it
/// with results (it serialises) to say exactly which weights produced them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HubSource {
    pub repo_id: String,
    /// The requested revision: a branch, a tag or a commit hash.
    pub revision: String,
    /// The commit the files came from (their cache snapshot), when it can be told.
    pub commit: Option<String>,
}

/// The commit of a file in the hub cache: its snapshot folder (`.../snapshots/<commit>/file`).
pub fn snapshot_commit(path: &Path) -> Option<String> {
    let mut it = path.ancestors();
    while let Some(p) = it.next() {
        if let Some(parent) = p.parent() {
            if parent.file_name().is_some_and(|n| n == "snapshots") {
                return p.file_name().and_then(|n| n.to_str()).map(String::from);
            }
        }
    }
    None
}

/// The local paths of `files` from a hub model repo at its `main` revision.
pub fn hub_files(repo_id: &str, files: &[&str]) -> Result<Vec<PathBuf>> {
    hub_files_at(repo_id, "main", files)
}

/// The local paths of `files` from a hub model repo at `revision` (branch, tag or commit),
/// downloaded or already cached.
#[cfg(feature = "hub")]
pub fn hub_files_at(repo_id: &str, revision: &str, files: &[&str]) -> Result<Vec<PathBuf>> {
    use hf_hub::{Repo, RepoType};
    // the revision becomes part of cache paths (refs/<rev>, snapshots/<rev>)
    if revision.is_empty() || !Path::new(revision).components().all(|c| matches!(c, std::path::Component::Normal(_))) {
        return Err(Error::Hub(format!("{repo_id}: invalid revision `{revision}`")));
    }
    let repo = Repo::with_revision(repo_id.to_string(), RepoType::Model, revision.to_string());
    let offline = std::env::var("HF_HUB_OFFLINE").map(|v| v == "1" || v.eq_ignore_ascii_case("true")).unwrap_or(false);
    if offline {
        let cache = hf_hub::Cache::from_env();
        // a commit hash has no refs/ entry: its snapshot folder is looked up directly
        let snapshot = cache.path().join(repo.folder_name()).join("snapshots").join(revision);
        let cached = cache.repo(repo.clone());
        return files
            .iter()
            .map(|f| {
                cached
                    .get(f)
                    .or_else(|| Some(snapshot.join(f)).filter(|p| p.exists()))
                    .ok_or_else(|| Error::Hub(format!("{repo_id}/{f} (revision {revision}) is not in the local hub cache and HF_HUB_OFFLINE is set")))
            })
            .collect();
    }
    let api = hf_hub::api::sync::ApiBuilder::from_env().with_progress(false).build().map_err(|e| Error::Hub(e.to_string()))?;
    let api_repo = api.repo(repo);
    files.iter().map(|f| api_repo.get(f).map_err(|e| Error::Hub(format!("{repo_id}/{f} (revision {revision}): {e}")))).collect()
}

#[cfg(not(feature = "hub"))]
pub fn hub_files_at(repo_id: &str, _revision: &str, _files: &[&str]) -> Result<Vec<PathBuf>> {
    Err(Error::Hub(format!("cannot fetch {repo_id}: gpt2lab was built without the `hub` feature")))
}

impl Gpt2 {
    /// Loads a GPT-2 from the hub by id (`"gpt2"`, `"openai-community/gpt2-xl"`, any
    /// GPT-2-architecture repo with safetensors weights), on the CPU, at `main`.
    pub fn from_pretrained(repo_id: &str) -> Result<Self> {
        Self::from_pretrained_on(repo_id, &Device::Cpu)
    }

    pub fn from_pretrained_on(repo_id: &str, device: &Device) -> Result<Self> {
        Ok(Self::from_pretrained_at(repo_id, "main", device)?.0)
    }

    /// Loads a GPT-2 from the hub at a pinned `revision` (branch, tag or commit hash) and says
    /// which commit it came from. NaN/inf weights are refused, as in `from_dir`.
    pub fn from_pretrained_at(repo_id: &str, revision: &str, device: &Device) -> Result<(Self, HubSource)> {
        let cfg_path = hub_files_at(repo_id, revision, &["config.json"])?.remove(0);
        let cfg = Gpt2Config::from_file(&cfg_path)?;
        let files = match hub_files_at(repo_id, revision, &["model.safetensors"]) {
            Ok(f) => f,
            Err(single) => {
                // sharded repos have an index instead; when neither is there, both reasons
                // are reported (a network failure must not read as "no index")
                let index = match hub_files_at(repo_id, revision, &["model.safetensors.index.json"]) {
                    Ok(mut v) => v.remove(0),
                    Err(index) => return Err(Error::Hub(format!("no weights: {}; and no shard index: {}", strip_hub(single), strip_hub(index)))),
                };
                let dir = index.parent().map(|p| p.to_path_buf()).unwrap_or_default();
                let shards: Vec<String> = super::weights::weight_files(&dir)?
                    .iter()
                    .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(String::from))
                    .collect();
                hub_files_at(repo_id, revision, &shards.iter().map(String::as_str).collect::<Vec<_>>())?
            }
        };
        let model = Gpt2::from_tensors(cfg, &load_safetensors(&files, device)?)?;
        super::weights::check_finite(&model)?;
        let source = HubSource { repo_id: repo_id.to_string(), revision: revision.to_string(), commit: snapshot_commit(&cfg_path) };
        Ok((model, source))
    }
}

/// The message of a hub error without its "hub: " prefix, for joining two of them.
fn strip_hub(e: Error) -> String {
    match e {
        Error::Hub(m) => m,
        e => e.to_string(),
    }
}
