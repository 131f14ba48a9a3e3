//! Every committed artefact (`datasets/*/manifest.json`) is complete and its files match their
//! hashes; the notebooks that read them would fail on a mismatch, this finds it first.

use std::path::PathBuf;

use gpt2lab::papers::{Artefact, MIN_ARTEFACT_SEEDS};

fn datasets() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("datasets")
}

#[test]
fn every_committed_manifest_checks_out() {
    let mut n = 0;
    for entry in std::fs::read_dir(datasets()).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.join("manifest.json").exists() {
            continue;
        }
        let a = Artefact::load_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let slug = dir.file_name().unwrap().to_string_lossy().to_string();
        assert_eq!(a.manifest.slug, slug, "{}: the manifest's slug names another directory", dir.display());
        assert!(a.manifest.seeds.len() >= MIN_ARTEFACT_SEEDS, "{slug}: {} seeds; the standard asks for at least {MIN_ARTEFACT_SEEDS}", a.manifest.seeds.len());
        assert!(a.manifest.command.contains(&slug), "{slug}: the command {:?} does not name the artefact", a.manifest.command);
        assert!(!a.manifest.git_revision.ends_with("-dirty") && a.manifest.git_revision != "unknown", "{slug}: made from an uncommitted tree ({})", a.manifest.git_revision);
        let runs = a.runs().unwrap();
        assert!(runs.iter().all(|r| a.manifest.seeds.contains(&r.seed)), "{slug}: a run's seed is not in the manifest");
        // every file in the directory is covered by the manifest (nothing unchecked rides along)
        for f in std::fs::read_dir(&dir).unwrap() {
            let name = f.unwrap().file_name().to_string_lossy().to_string();
            assert!(name == "manifest.json" || name == "README.md" || a.manifest.files.contains_key(&name), "{slug}: {name} is not in the manifest");
        }
        n += 1;
    }
    println!("{n} artefact(s) checked");
}
