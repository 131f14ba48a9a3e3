//! Committed artefacts: multi-seed runs too heavy for a notebook's ci budget, written once by
//! the library and checked every time they are read.
//!
//! The convention, one for every paper: `gpt2lab::papers::<slug>` has a function that runs one
//! seed and returns its [`SeedMetrics`]; `cargo run --example artefact -- <slug>`
//! runs every seed and writes `datasets/<slug>/runs.json` (plus any small files the paper
//! needs, f16/bf16 weights included) and `datasets/<slug>/manifest.json`: the command, the
//! seeds, the git revision, the library version and the sha256 of every file. Reading goes
//! through [`Artefact::load`], which checks every hash (a mismatch is [`Error::Artefact`]).
//! The notebook re-runs one seed live, compares it with the artefact's row
//! ([`Artefact::check_live`]) and then asserts its claims on every row.
//!
//! sha256 comes from the `sha2` crate (RustCrypto), not hand-written.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::weights::write_atomic;
use crate::{Error, Result};

/// The manifest's file name inside an artefact directory.
pub const MANIFEST: &str = "manifest.json";
/// The per-seed metrics' file name.
pub const RUNS: &str = "runs.json";

/// What made an artefact, and the hash of every file in it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub slug: String,
    /// The command that wrote it, runnable from the repository root.
    pub command: String,
    pub seeds: Vec<u64>,
    /// `git rev-parse HEAD` of the tree that wrote it (`-dirty` when it had uncommitted changes).
    pub git_revision: String,
    /// `CARGO_PKG_VERSION` of gpt2lab.
    pub library_version: String,
    /// Seconds since the Unix epoch, UTC.
    pub created_unix: u64,
    /// File name → sha256 (lower-case hex).
    pub files: BTreeMap<String, String>,
    /// Anything a reader should know (machine, wall time, settings).
    #[serde(default)]
    pub notes: String,
}

/// One run's metrics: named scalars and named curves (`(x, y)` points, e.g. loss per step).
/// `group` tells rows of one seed apart when a seed has several runs (e.g. one per language).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SeedMetrics {
    pub seed: u64,
    #[serde(default)]
    pub group: String,
    pub values: BTreeMap<String, f64>,
    #[serde(default)]
    pub curves: BTreeMap<String, Vec<(f64, f64)>>,
}

impl SeedMetrics {
    pub fn new(seed: u64, group: impl Into<String>) -> SeedMetrics {
        SeedMetrics { seed, group: group.into(), ..Default::default() }
    }

    /// Adds a named value (builder style).
    pub fn value(mut self, name: &str, v: f64) -> SeedMetrics {
        self.values.insert(name.into(), v);
        self
    }

    /// Adds a named curve (builder style).
    pub fn curve(mut self, name: &str, points: Vec<(f64, f64)>) -> SeedMetrics {
        self.curves.insert(name.into(), points);
        self
    }

    /// The value `name`, or an error listing the names there are.
    pub fn get(&self, name: &str) -> Result<f64> {
        self.values.get(name).copied().ok_or_else(|| {
            Error::Msg(format!("seed {} {:?} has no value {name:?}; it has {:?}", self.seed, self.group, self.values.keys().collect::<Vec<_>>()))
        })
    }

    fn check_finite(&self) -> Result<()> {
        let bad = self.values.iter().find(|(_, v)| !v.is_finite()).map(|(k, _)| k.clone()).or_else(|| {
            self.curves.iter().find(|(_, c)| c.iter().any(|(x, y)| !x.is_finite() || !y.is_finite())).map(|(k, _)| k.clone())
        });
        match bad {
            Some(k) => Err(Error::Msg(format!("seed {} {:?}: {k} is not finite; an artefact stores finite numbers only", self.seed, self.group))),
            None => Ok(()),
        }
    }
}

/// How a live run compares with the artefact's row for the same seed.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    pub seed: u64,
    pub group: String,
    /// Numbers compared (values and curve points).
    pub n: usize,
    /// Largest `|live − stored| / max(|stored|, 1e-12)`.
    pub max_rel: f64,
    /// Where that was.
    pub worst: String,
    /// Names present on one side only, or curves of different lengths.
    pub mismatched: Vec<String>,
}

impl Comparison {
    /// True when the same numbers are present and each is within `rel_tol` (relative).
    pub fn within(&self, rel_tol: f64) -> bool {
        self.mismatched.is_empty() && self.max_rel <= rel_tol
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "seed {}{}: {} numbers, max relative difference {:.2e}", self.seed, if self.group.is_empty() { String::new() } else { format!(" {}", self.group) }, self.n, self.max_rel)?;
        if !self.worst.is_empty() {
            write!(f, " at {}", self.worst)?;
        }
        if !self.mismatched.is_empty() {
            write!(f, "; not in both: {}", self.mismatched.join(", "))?;
        }
        Ok(())
    }
}

/// Compares a live run with a stored one, number by number.
pub fn compare(live: &SeedMetrics, stored: &SeedMetrics) -> Comparison {
    let mut c = Comparison { seed: live.seed, group: live.group.clone(), n: 0, max_rel: 0.0, worst: String::new(), mismatched: vec![] };
    let mut see = |name: String, a: f64, b: f64| {
        let rel = if a == b { 0.0 } else { (a - b).abs() / b.abs().max(1e-12) };
        c.n += 1;
        if !(rel <= c.max_rel) {
            c.max_rel = if rel.is_nan() { f64::INFINITY } else { rel };
            c.worst = format!("{name} (live {a}, stored {b})");
        }
    };
    let mut mismatched = vec![];
    for (k, &b) in &stored.values {
        match live.values.get(k) {
            Some(&a) => see(k.clone(), a, b),
            None => mismatched.push(k.clone()),
        }
    }
    for (k, sb) in &stored.curves {
        match live.curves.get(k) {
            Some(sa) if sa.len() == sb.len() => {
                for (i, (pa, pb)) in sa.iter().zip(sb).enumerate() {
                    see(format!("{k}[{i}].x"), pa.0, pb.0);
                    see(format!("{k}[{i}].y"), pa.1, pb.1);
                }
            }
            _ => mismatched.push(k.clone()),
        }
    }
    mismatched.extend(live.values.keys().filter(|k| !stored.values.contains_key(*k)).cloned());
    mismatched.extend(live.curves.keys().filter(|k| !stored.curves.contains_key(*k)).cloned());
    c.mismatched = mismatched;
    c
}

/// sha256 of a file, lower-case hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::Io { path: path.into(), source: e })?;
    Ok(sha256_hex(&bytes))
}

/// sha256 of bytes, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Where a paper's artefact lives: `datasets/<slug>/` (`GPT2LAB_DATASETS` overrides
/// `datasets/`).
pub fn artefact_dir(slug: &str) -> PathBuf {
    crate::tokenizer::datasets_dir().join(slug)
}

/// A loaded, hash-checked artefact.
#[derive(Clone, Debug)]
pub struct Artefact {
    pub dir: PathBuf,
    pub manifest: Manifest,
}

impl Artefact {
    /// Loads `datasets/<slug>/` and checks every file's hash.
    pub fn load(slug: &str) -> Result<Artefact> {
        Artefact::load_dir(artefact_dir(slug))
    }

    /// Loads an artefact directory and checks every file's hash against its manifest.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<Artefact> {
        let dir = dir.as_ref().to_path_buf();
        let mpath = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&mpath).map_err(|e| Error::Artefact {
            path: mpath.clone(),
            msg: format!("cannot read the manifest ({e}); the artefact is written by `cargo run --example artefact -- <slug>`"),
        })?;
        let manifest: Manifest = serde_json::from_str(&text).map_err(|e| Error::Artefact { path: mpath.clone(), msg: format!("not a valid manifest: {e}") })?;
        let a = Artefact { dir, manifest };
        a.verify()?;
        Ok(a)
    }

    /// Checks that every file of the manifest is there with its hash, and that the manifest
    /// is complete (seeds, command, revision, the runs file).
    pub fn verify(&self) -> Result<()> {
        let m = &self.manifest;
        let bad = |msg: String| Error::Artefact { path: self.dir.join(MANIFEST), msg };
        if m.command.trim().is_empty() || m.git_revision.trim().is_empty() || m.library_version.trim().is_empty() {
            return Err(bad("the manifest must name the command, git revision and library version that made it".into()));
        }
        if m.seeds.is_empty() {
            return Err(bad("the manifest lists no seeds".into()));
        }
        if !m.files.contains_key(RUNS) {
            return Err(bad(format!("the manifest does not list {RUNS}")));
        }
        for (name, want) in &m.files {
            if name.contains("..") || Path::new(name).is_absolute() {
                return Err(bad(format!("file name {name:?} leaves the artefact directory")));
            }
            let path = self.dir.join(name);
            let got = sha256_file(&path).map_err(|e| Error::Artefact { path: path.clone(), msg: format!("listed in the manifest but unreadable: {e}") })?;
            if &got != want {
                return Err(Error::Artefact { path, msg: format!("sha256 {got} does not match the manifest's {want}: the file changed after the artefact was written; rewrite it with `{}`", m.command) });
            }
        }
        Ok(())
    }

    /// A file of the artefact, parsed as JSON (its hash was checked at load).
    pub fn read_json<T: DeserializeOwned>(&self, name: &str) -> Result<T> {
        if !self.manifest.files.contains_key(name) {
            return Err(Error::Artefact { path: self.dir.join(name), msg: "not listed in the manifest".into() });
        }
        let path = self.dir.join(name);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::Io { path: path.clone(), source: e })?;
        serde_json::from_str(&text).map_err(|e| Error::Artefact { path, msg: format!("not the expected JSON: {e}") })
    }

    /// Every stored run.
    pub fn runs(&self) -> Result<Vec<SeedMetrics>> {
        let runs: Vec<SeedMetrics> = self.read_json(RUNS)?;
        for s in &self.manifest.seeds {
            if !runs.iter().any(|r| r.seed == *s) {
                return Err(Error::Artefact { path: self.dir.join(RUNS), msg: format!("no run for seed {s}, which the manifest lists") });
            }
        }
        Ok(runs)
    }

    /// The stored run for `seed` (and `group`, "" when a seed has one run).
    pub fn run(&self, seed: u64, group: &str) -> Result<SeedMetrics> {
        self.runs()?.into_iter().find(|r| r.seed == seed && r.group == group).ok_or_else(|| Error::Artefact {
            path: self.dir.join(RUNS),
            msg: format!("no run for seed {seed} group {group:?}"),
        })
    }

    /// Compares a live run with the stored row of the same seed and group, and records the
    /// result as a [`check`](crate::notebook::check): the artefact is shown to come from this
    /// code. Fails the cell when a number differs by more than `rel_tol` (relative).
    #[track_caller]
    pub fn check_live(&self, live: &SeedMetrics, rel_tol: f64) -> Result<Comparison> {
        let stored = self.run(live.seed, &live.group)?;
        let c = compare(live, &stored);
        crate::notebook::check(
            &format!("the live run reproduces the artefact's row (seed {}{}, relative tolerance {rel_tol:e})", live.seed, if live.group.is_empty() { String::new() } else { format!(", {}", live.group) }),
            c.within(rel_tol),
            &c,
        );
        Ok(c)
    }
}

/// Writes an artefact: files first (each atomically), the manifest last.
pub struct ArtefactWriter {
    dir: PathBuf,
    manifest: Manifest,
}

impl ArtefactWriter {
    /// An artefact for `slug` in `datasets/<slug>/`.
    pub fn new(slug: &str, command: &str, seeds: &[u64]) -> Result<ArtefactWriter> {
        ArtefactWriter::at(artefact_dir(slug), slug, command, seeds)
    }

    /// An artefact in `dir`.
    pub fn at(dir: impl AsRef<Path>, slug: &str, command: &str, seeds: &[u64]) -> Result<ArtefactWriter> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| Error::Io { path: dir.clone(), source: e })?;
        let created_unix = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        Ok(ArtefactWriter {
            dir,
            manifest: Manifest {
                slug: slug.into(),
                command: command.into(),
                seeds: seeds.to_vec(),
                git_revision: git_revision(),
                library_version: env!("CARGO_PKG_VERSION").into(),
                created_unix,
                files: BTreeMap::new(),
                notes: String::new(),
            },
        })
    }

    pub fn notes(mut self, notes: impl Into<String>) -> ArtefactWriter {
        self.manifest.notes = notes.into();
        self
    }

    /// Writes bytes as `name` (atomically: a temporary file, then a rename) and records its hash.
    pub fn write_bytes(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        if name == MANIFEST || name.contains('/') || name.contains("..") {
            return Err(Error::Artefact { path: self.dir.join(name), msg: "an artefact file name is a plain name other than the manifest's".into() });
        }
        write_atomic(&self.dir.join(name), bytes)?;
        self.manifest.files.insert(name.into(), sha256_hex(bytes));
        Ok(())
    }

    /// Writes a value as pretty JSON.
    pub fn write_json<T: Serialize>(&mut self, name: &str, value: &T) -> Result<()> {
        let text = serde_json::to_string_pretty(value).map_err(|e| Error::Msg(format!("serialising {name}: {e}")))?;
        self.write_bytes(name, format!("{text}\n").as_bytes())
    }

    /// Writes the runs (every value finite, every manifest seed present).
    pub fn write_runs(&mut self, runs: &[SeedMetrics]) -> Result<()> {
        for r in runs {
            r.check_finite()?;
        }
        for s in &self.manifest.seeds {
            if !runs.iter().any(|r| r.seed == *s) {
                return Err(Error::Msg(format!("no run for seed {s}")));
            }
        }
        self.write_json(RUNS, &runs)
    }

    /// Writes the manifest; the artefact is complete only after this.
    pub fn finish(self) -> Result<Manifest> {
        if !self.manifest.files.contains_key(RUNS) {
            return Err(Error::Msg(format!("write {RUNS} (write_runs) before finishing the artefact")));
        }
        let text = serde_json::to_string_pretty(&self.manifest).map_err(|e| Error::Msg(e.to_string()))?;
        write_atomic(&self.dir.join(MANIFEST), format!("{text}\n").as_bytes())?;
        Ok(self.manifest)
    }
}

/// `git rev-parse HEAD` of the crate's checkout, `-dirty` when tracked files differ from it,
/// `unknown` outside a git checkout.
pub fn git_revision() -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    let git = |args: &[&str]| std::process::Command::new("git").arg("-C").arg(root).args(args).output().ok().filter(|o| o.status.success());
    match git(&["rev-parse", "HEAD"]) {
        Some(o) => {
            let rev = String::from_utf8_lossy(&o.stdout).trim().to_string();
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).map(|o| !o.stdout.is_empty()).unwrap_or(false);
            if dirty {
                format!("{rev}-dirty")
            } else {
                rev
            }
        }
        None => "unknown".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("gpt2lab-artefact-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn runs() -> Vec<SeedMetrics> {
        (0..3).map(|s| SeedMetrics::new(s, "").value("ce", 1.0 + s as f64).curve("loss", vec![(0.0, 5.0), (10.0, 2.0 + s as f64)])).collect()
    }

    #[test]
    fn write_load_and_tamper() {
        let dir = tmp("rt");
        let mut w = ArtefactWriter::at(&dir, "demo", "cargo run --example artefact -- demo", &[0, 1, 2]).unwrap();
        w.write_runs(&runs()).unwrap();
        w.write_bytes("extra.bin", &[1, 2, 3]).unwrap();
        let m = w.finish().unwrap();
        assert_eq!(m.files["extra.bin"], sha256_hex(&[1, 2, 3]));
        let a = Artefact::load_dir(&dir).unwrap();
        assert_eq!(a.runs().unwrap(), runs());
        let live = runs()[1].clone();
        assert!(a.check_live(&live, 0.0).unwrap().within(0.0));
        // a changed byte is a typed error naming the file
        std::fs::write(dir.join("extra.bin"), [1, 2, 4]).unwrap();
        match Artefact::load_dir(&dir) {
            Err(Error::Artefact { path, msg }) => assert!(path.ends_with("extra.bin") && msg.contains("does not match"), "{msg}"),
            other => panic!("expected a hash mismatch, got {other:?}"),
        }
        std::fs::remove_file(dir.join("extra.bin")).unwrap();
        assert!(matches!(Artefact::load_dir(&dir), Err(Error::Artefact { .. })));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn writer_refuses_incomplete_or_non_finite_runs() {
        let dir = tmp("bad");
        let mut w = ArtefactWriter::at(&dir, "demo", "cmd", &[0, 1, 2, 3]).unwrap();
        assert!(w.write_runs(&runs()).is_err(), "seed 3 is missing");
        let mut w = ArtefactWriter::at(&dir, "demo", "cmd", &[0]).unwrap();
        assert!(w.write_runs(&[SeedMetrics::new(0, "").value("x", f64::NAN)]).is_err());
        assert!(w.write_bytes("../escape", b"x").is_err());
        assert!(ArtefactWriter::at(&dir, "demo", "cmd", &[0]).unwrap().finish().is_err(), "no runs file");
        assert!(matches!(Artefact::load_dir(dir.join("nowhere")), Err(Error::Artefact { .. })));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn comparison_finds_the_worst_number_and_missing_names() {
        let a = runs()[2].clone();
        let mut b = a.clone();
        b.values.insert("ce".into(), 3.003);
        let c = compare(&b, &a);
        assert!((c.max_rel - 0.001).abs() < 1e-9 && c.worst.starts_with("ce"), "{c}");
        assert!(c.within(2e-3) && !c.within(1e-4));
        b.values.insert("new".into(), 1.0);
        b.curves.get_mut("loss").unwrap().pop();
        let c = compare(&b, &a);
        assert_eq!(c.mismatched, vec!["loss".to_string(), "new".to_string()]);
        assert!(!c.within(1.0));
        let mut n = a.clone();
        n.values.insert("ce".into(), f64::NAN);
        assert!(!compare(&n, &a).within(1e9), "NaN never matches");
    }
}
