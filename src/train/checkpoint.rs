//! Training checkpoints: the model in HF layout (loads in transformers and `Gpt2::from_dir`),
//! the optimizer state and the trainer state, written atomically as one directory (see
//! `save_checkpoint` for how a crash at any point leaves a complete checkpoint).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::Device;
use serde::{Deserialize, Serialize};

use super::metrics::Metrics;
use super::optim::Optimizer;
use super::params::TrainableGpt2;
use super::trainer::{TrainConfig, Trainer};
use crate::model::weights::{check_finite, read_safetensors_raw, safetensors_bytes, write_atomic};
use crate::model::{Gpt2, Gpt2Config, LnTarget, NormMode};
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
    /// Every norm site's mode, when any differs from the config's default (a LayerNorm-removal
    /// run): the schedule's state, σ included. The model is then also saved exactly as it
    /// trains, in `gpt2lab_model.safetensors` (the HF layout cannot express a partly removed
    /// model, and rescales the γ of a fully removed one away from its optimizer moments).
    #[serde(default)]
    norm_modes: Vec<(SavedSite, SavedMode)>,
    #[serde(default)]
    model_config: Option<Gpt2Config>,
    /// The metrics' floats as bit patterns, one `[lr, train_loss, val_loss, grad_norm,
    /// elapsed_s]` per row (val_loss: NaN bits when absent): serde_json's default float parser
    /// can be an ulp off, and a resumed run must report exactly the losses it had.
    #[serde(default)]
    metrics_bits: Vec<[u64; 5]>,
}

fn metrics_bits(m: &Metrics) -> Vec<[u64; 5]> {
    m.rows.iter().map(|r| [r.lr, r.train_loss, r.val_loss.unwrap_or(f64::NAN), r.grad_norm, r.elapsed_s].map(f64::to_bits)).collect()
}

/// `m` with its floats replaced by `bits` (when they describe the same rows).
fn exact_metrics(mut m: Metrics, bits: &[[u64; 5]]) -> Metrics {
    if bits.len() == m.rows.len() {
        for (r, b) in m.rows.iter_mut().zip(bits) {
            let [lr, train, val, grad, elapsed] = b.map(f64::from_bits);
            (r.lr, r.train_loss, r.grad_norm, r.elapsed_s) = (lr, train, grad, elapsed);
            r.val_loss = r.val_loss.map(|_| val);
        }
    }
    m
}

/// `LnTarget` as saved.
#[derive(Serialize, Deserialize)]
enum SavedSite {
    Ln1Qk(usize),
    Ln1V(usize),
    Ln2(usize),
    Final,
}

/// `NormMode` as saved.
#[derive(Serialize, Deserialize)]
enum SavedMode {
    LayerNorm,
    Fake { sigma: f64 },
    Identity,
}

impl From<LnTarget> for SavedSite {
    fn from(t: LnTarget) -> Self {
        match t {
            LnTarget::Ln1Qk(i) => SavedSite::Ln1Qk(i),
            LnTarget::Ln1V(i) => SavedSite::Ln1V(i),
            LnTarget::Ln2(i) => SavedSite::Ln2(i),
            LnTarget::Final => SavedSite::Final,
        }
    }
}

impl From<&SavedSite> for LnTarget {
    fn from(t: &SavedSite) -> Self {
        match *t {
            SavedSite::Ln1Qk(i) => LnTarget::Ln1Qk(i),
            SavedSite::Ln1V(i) => LnTarget::Ln1V(i),
            SavedSite::Ln2(i) => LnTarget::Ln2(i),
            SavedSite::Final => LnTarget::Final,
        }
    }
}

impl From<NormMode> for SavedMode {
    fn from(m: NormMode) -> Self {
        match m {
            NormMode::LayerNorm => SavedMode::LayerNorm,
            NormMode::Fake { sigma } => SavedMode::Fake { sigma },
            NormMode::Identity => SavedMode::Identity,
        }
    }
}

impl From<&SavedMode> for NormMode {
    fn from(m: &SavedMode) -> Self {
        match *m {
            SavedMode::LayerNorm => NormMode::LayerNorm,
            SavedMode::Fake { sigma } => NormMode::Fake { sigma },
            SavedMode::Identity => NormMode::Identity,
        }
    }
}

/// The file holding the model exactly as it trains when its norms are modified.
const RAW_MODEL: &str = "gpt2lab_model.safetensors";

/// `.{name}.{tag}-{pid}` beside `dir`: where a save builds the new checkpoint (`tmp`) and,
/// when the platform cannot swap two directories in one step, parks the old one (`old`).
fn sibling(dir: &Path, tag: &str) -> PathBuf {
    dir.with_file_name(format!(".{}.{tag}-{}", dir_name(dir), std::process::id()))
}

fn dir_name(dir: &Path) -> &str {
    dir.file_name().and_then(|n| n.to_str()).unwrap_or("checkpoint")
}

/// Leftovers of earlier saves of `dir` that crashed: `(tag, pid, path)` for every
/// `.{name}.tmp-<pid>` and `.{name}.old-<pid>` beside it.
fn leftovers(dir: &Path) -> Vec<(String, String, PathBuf)> {
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let prefix = format!(".{}.", dir_name(dir));
    let Ok(entries) = std::fs::read_dir(parent) else { return vec![] };
    let mut out = vec![];
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(&prefix) else { continue };
        if let Some((tag, pid)) = rest.split_once('-') {
            if (tag == "tmp" || tag == "old") && !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) {
                out.push((tag.to_string(), pid.to_string(), e.path()));
            }
        }
    }
    out.sort();
    out
}

/// After a crash between the two renames of the fallback switch, `dir` is missing while its
/// parked old version and the complete new one (written and synced before the old was moved)
/// lie beside it: the new one is moved into place.
fn recover(dir: &Path) -> Result<()> {
    if dir.exists() {
        return Ok(());
    }
    let found = leftovers(dir);
    if let Some((_, pid, old)) = found.iter().find(|(t, _, _)| t == "old") {
        let src = found.iter().find(|(t, p, _)| t == "tmp" && p == pid).map_or(old, |(_, _, p)| p);
        std::fs::rename(src, dir).map_err(|e| Error::io(dir, e))?;
        sync_parent(dir)?;
    }
    Ok(())
}

/// fsyncs a directory, so that the renames and creations inside it are durable.
fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir).and_then(|f| f.sync_all()).map_err(|e| Error::io(dir, e))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

fn sync_parent(dir: &Path) -> Result<()> {
    match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => sync_dir(p),
        _ => sync_dir(Path::new(".")),
    }
}

/// Swaps two existing directories in one atomic step (Linux `renameat2(RENAME_EXCHANGE)`).
/// `Ok(false)` where the platform or file system cannot.
fn exchange(a: &Path, b: &Path) -> Result<bool> {
    if std::env::var_os("GPT2LAB_CHECKPOINT_NO_EXCHANGE").is_some() {
        return Ok(false); // test hook: exercise the fallback switch
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::ffi::OsStrExt;
        let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_bytes()).map_err(|_| Error::Msg(format!("path {} holds a NUL byte", p.display())));
        let (ca, cb) = (c(a)?, c(b)?);
        // SAFETY: two valid NUL-terminated paths relative to the working directory.
        let r = unsafe { libc::renameat2(libc::AT_FDCWD, ca.as_ptr(), libc::AT_FDCWD, cb.as_ptr(), libc::RENAME_EXCHANGE) };
        if r == 0 {
            return Ok(true);
        }
        let err = std::io::Error::last_os_error();
        if matches!(err.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOSYS) | Some(libc::ENOTSUP)) {
            return Ok(false);
        }
        Err(Error::io(b, err))
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        let _ = (a, b);
        Ok(false)
    }
}

/// Test hook: with `GPT2LAB_CRASH_AT=<point>` the process SIGKILLs itself at that point of a
/// save (tests/checkpoint_crash.rs checks that every crash leaves a loadable checkpoint).
/// Points, in order: begin, model_written, optimizer_written, state_written, old_moved (the
/// fallback switch only), switched, cleaned.
fn crash_point(point: &str) {
    #[cfg(unix)]
    if std::env::var("GPT2LAB_CRASH_AT").is_ok_and(|p| p == point) {
        // SAFETY: plain syscalls on our own process.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
    #[cfg(not(unix))]
    let _ = point;
}

impl Trainer {
    /// Writes `dir/` = `config.json` + `model.safetensors` (HF layout), `optimizer.safetensors`,
    /// `trainer_state.json`.
    ///
    /// Crash-safe: the new checkpoint is written beside `dir` (every file and the directory
    /// fsynced), then swapped with the old one in one atomic `renameat2(RENAME_EXCHANGE)` (or
    /// renamed into place on a first save), and the parent directory fsynced; a crash at any
    /// point leaves the old checkpoint or the new one, complete. Where the exchange is not
    /// available the switch is two renames, and a crash between them is repaired by the next
    /// `save_checkpoint` or `resume` of `dir`. Leftovers of crashed saves are removed by the
    /// next save. One process saves a given `dir` at a time.
    pub fn save_checkpoint(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        recover(dir)?;
        for (_, _, p) in leftovers(dir) {
            std::fs::remove_dir_all(&p).map_err(|e| Error::io(&p, e))?;
        }
        crash_point("begin");
        let tmp = sibling(dir, "tmp");
        let model = self.model()?;
        let default = crate::model::norm::default_mode(&model.cfg);
        let modes = model.norm_modes();
        let custom = modes.iter().any(|(_, m)| *m != default);
        if custom {
            std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
            write_atomic(&tmp.join(RAW_MODEL), &safetensors_bytes(&model.named_tensors())?)?;
            // the HF export too, where HF GPT-2 can express the model (not mid-schedule)
            match model.save_pretrained(&tmp) {
                Ok(()) | Err(Error::Unsupported(_)) => {}
                Err(e) => return Err(e),
            }
        } else {
            model.save_pretrained(&tmp)?;
        }
        crash_point("model_written");
        let (opt_step, state) = self.opt.state();
        write_atomic(&tmp.join("optimizer.safetensors"), &safetensors_bytes(&state)?)?;
        crash_point("optimizer_written");
        let ts = TrainerState {
            step: self.step,
            optimizer: self.opt.name().into(),
            optimizer_step: opt_step,
            tokens_seen: self.tokens_seen(),
            config: self.cfg.clone(),
            metrics: self.metrics.clone(),
            frozen: self.params.frozen().cloned().collect(),
            norm_modes: if custom { modes.into_iter().map(|(t, m)| (t.into(), m.into())).collect() } else { vec![] },
            model_config: custom.then(|| model.cfg.clone()),
            metrics_bits: metrics_bits(&self.metrics),
        };
        let json = serde_json::to_string_pretty(&ts).map_err(|e| Error::Msg(e.to_string()))?;
        write_atomic(&tmp.join("trainer_state.json"), json.as_bytes())?;
        sync_dir(&tmp)?;
        crash_point("state_written");
        // what is left to delete once the new checkpoint is in place
        let mut trash = None;
        if !dir.exists() {
            std::fs::rename(&tmp, dir).map_err(|e| Error::io(dir, e))?;
        } else if exchange(&tmp, dir)? {
            trash = Some(tmp); // now holds the old checkpoint
        } else {
            let old = sibling(dir, "old");
            std::fs::rename(dir, &old).map_err(|e| Error::io(dir, e))?;
            crash_point("old_moved");
            std::fs::rename(&tmp, dir).map_err(|e| Error::io(dir, e))?;
            trash = Some(old);
        }
        sync_parent(dir)?;
        crash_point("switched");
        if let Some(t) = trash {
            std::fs::remove_dir_all(&t).map_err(|e| Error::io(&t, e))?;
        }
        crash_point("cleaned");
        Ok(())
    }

    /// Restores a trainer from `save_checkpoint`'s directory. `opt` must be the same kind of
    /// optimizer (its hyper-parameters are taken as given; its state is loaded).
    pub fn resume(dir: impl AsRef<Path>, mut opt: Box<dyn Optimizer>) -> Result<Trainer> {
        let dir = dir.as_ref();
        recover(dir)?;
        let state_path = dir.join("trainer_state.json");
        let text = std::fs::read_to_string(&state_path).map_err(|e| Error::io(&state_path, e))?;
        let ts: TrainerState = serde_json::from_str(&text).map_err(|e| Error::Config { path: state_path.display().to_string(), msg: e.to_string() })?;
        if ts.optimizer != opt.name() {
            return Err(Error::Msg(format!("checkpoint was trained with `{}`, resuming with `{}`", ts.optimizer, opt.name())));
        }
        let model = if ts.norm_modes.is_empty() {
            Gpt2::from_dir(dir)?
        } else {
            let cfg = ts.model_config.clone().ok_or_else(|| Error::Config { path: state_path.display().to_string(), msg: "norm_modes without model_config".into() })?;
            let raw = read_safetensors_raw(&dir.join(RAW_MODEL), &Device::Cpu)?;
            let mut m = Gpt2::from_tensors(cfg, &raw)?;
            for (site, mode) in &ts.norm_modes {
                m.set_norm_mode(site.into(), mode.into())?;
            }
            check_finite(&m)?;
            m
        };
        let frozen = ts.frozen.clone();
        let params = TrainableGpt2::with_frozen(&model, |n| frozen.iter().any(|f| f == n))?;
        let state: HashMap<_, _> = read_safetensors_raw(&dir.join("optimizer.safetensors"), &Device::Cpu)?;
        opt.load_state(ts.optimizer_step, &state)?;
        let mut tr = Trainer::from_trainable(params, opt, ts.config);
        tr.step = ts.step;
        tr.metrics = exact_metrics(ts.metrics, &ts.metrics_bits);
        tr.set_tokens_seen(ts.tokens_seen);
        Ok(tr)
    }
}
