//! Training checkpoints: the model in HF layout (loads in transformers and `Gpt2::from_dir`),
//! the optimizer state and the trainer state, written atomically as one directory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::Device;
use serde::{Deserialize, Serialize};

use super::metrics::Metrics;
use super::optim::Optimizer;
use super::params::TrainableGpt2;
use super::trainer::{TrainConfig, Trainer};
use crate::model::weights::{read_safetensors_raw, safetensors_bytes, write_atomic};
use crate::model::Gpt2;
use crate::{Error, Result};

#[derive(Serialize, Deserialize)]
struct TrainerState {
    step: usize,
    optimizer: String,
    optimizer_step: usize,
    tokens_seen: usize,
    config: TrainConfig,
    metrics: Metrics,
    frozen: Vec<String>,
}

fn sibling(dir: &Path, tag: &str) -> PathBuf {
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("checkpoint");
    dir.with_file_name(format!(".{name}.{tag}-{}", std::process::id()))
}

impl Trainer {
    /// Writes `dir/` = `config.json` + `model.safetensors` (HF layout), `optimizer.safetensors`,
    /// `trainer_state.json`. The directory is built beside `dir` and renamed into place, so a
    /// crash leaves either the old checkpoint or the new one, never a mix.
    pub fn save_checkpoint(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        let tmp = sibling(dir, "tmp");
        let _ = std::fs::remove_dir_all(&tmp);
        self.model()?.save_pretrained(&tmp)?;
        let (opt_step, state) = self.opt.state();
        write_atomic(&tmp.join("optimizer.safetensors"), &safetensors_bytes(&state)?)?;
        let ts = TrainerState {
            step: self.step,
            optimizer: self.opt.name().into(),
            optimizer_step: opt_step,
            tokens_seen: self.tokens_seen(),
            config: self.cfg.clone(),
            metrics: self.metrics.clone(),
            frozen: self.params.frozen().cloned().collect(),
        };
        let json = serde_json::to_string_pretty(&ts).map_err(|e| Error::Msg(e.to_string()))?;
        write_atomic(&tmp.join("trainer_state.json"), json.as_bytes())?;
        let old = sibling(dir, "old");
        if dir.exists() {
            std::fs::rename(dir, &old).map_err(|e| Error::io(dir, e))?;
        }
        std::fs::rename(&tmp, dir).map_err(|e| Error::io(dir, e))?;
        let _ = std::fs::remove_dir_all(&old);
        Ok(())
    }

    /// Restores a trainer from `save_checkpoint`'s directory. `opt` must be the same kind of
    /// optimizer (its hyper-parameters are taken as given; its state is loaded).
    pub fn resume(dir: impl AsRef<Path>, mut opt: Box<dyn Optimizer>) -> Result<Trainer> {
        let dir = dir.as_ref();
        let state_path = dir.join("trainer_state.json");
        let text = std::fs::read_to_string(&state_path).map_err(|e| Error::io(&state_path, e))?;
        let ts: TrainerState = serde_json::from_str(&text).map_err(|e| Error::Config { path: state_path.display().to_string(), msg: e.to_string() })?;
        if ts.optimizer != opt.name() {
            return Err(Error::Msg(format!("checkpoint was trained with `{}`, resuming with `{}`", ts.optimizer, opt.name())));
        }
        let model = Gpt2::from_dir(dir)?;
        let frozen = ts.frozen.clone();
        let params = TrainableGpt2::with_frozen(&model, |n| frozen.iter().any(|f| f == n))?;
        let state: HashMap<_, _> = read_safetensors_raw(&dir.join("optimizer.safetensors"), &Device::Cpu)?;
        opt.load_state(ts.optimizer_step, &state)?;
        let mut tr = Trainer::from_trainable(params, opt, ts.config);
        tr.step = ts.step;
        tr.metrics = ts.metrics;
        tr.set_tokens_seen(ts.tokens_seen);
        Ok(tr)
    }
}
