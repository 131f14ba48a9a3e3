//! The headless notebook runner (`scripts/run_notebooks.py`) must fail on every kind of failing
//! cell, naming the notebook and the cell — plain nbconvert passes a notebook whose cell
//! panicked or returned an error with `?`. Runs the deliberately broken notebooks in
//! `tests/notebooks_runner/` through the real gpt2lab kernel.
//!
//! Needs the set-up (`scripts/setup.sh`: venv, evcxr_jupyter, kernelspec). Without it these
//! tests say so and pass, unless `CI` or `GPT2LAB_REQUIRE_NOTEBOOKS` is set, where a missing
//! set-up is a failure.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// The tests that start kernels take turns: each runs two notebooks at once, and two such
/// tests side by side would ask for four build slots, two of them cold (a full build of the
/// dependencies each) — the launcher only seeds a new slot from an idle one.
static KERNELS: Mutex<()> = Mutex::new(());

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn gpt2lab_home() -> PathBuf {
    match std::env::var_os("GPT2LAB_HOME") {
        Some(h) if !h.is_empty() => PathBuf::from(h),
        _ => PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/gpt2lab"),
    }
}

fn required() -> bool {
    ["CI", "GPT2LAB_REQUIRE_NOTEBOOKS"].iter().any(|v| std::env::var(v).is_ok_and(|s| !s.is_empty() && s != "0" && s != "false"))
}

/// The venv's python, or None (after saying why) when the set-up is absent and not required.
fn venv_python(need_kernel: bool) -> Option<PathBuf> {
    let py = gpt2lab_home().join("venv/bin/python");
    let mut missing = vec![];
    if !py.exists() {
        missing.push(format!("{} (the venv)", py.display()));
    }
    if need_kernel && py.exists() {
        // ask Jupyter itself: honours JUPYTER_DATA_DIR / JUPYTER_PATH as the runner will
        let found = Command::new(&py)
            .args(["-c", "from jupyter_client.kernelspec import KernelSpecManager as K; print(K().find_kernel_specs().get('gpt2lab', ''))"])
            .output()
            .is_ok_and(|o| o.status.success() && !String::from_utf8_lossy(&o.stdout).trim().is_empty());
        if !found {
            missing.push("the gpt2lab kernelspec".into());
        }
    }
    if missing.is_empty() {
        return Some(py);
    }
    let msg = format!("notebook set-up missing: {}; run scripts/setup.sh", missing.join(", "));
    if required() {
        panic!("{msg}");
    }
    eprintln!("SKIPPED: {msg}");
    None
}

fn runner(py: &Path) -> Command {
    let mut c = Command::new(py);
    c.arg(repo().join("scripts/run_notebooks.py")).current_dir(repo());
    c
}

#[test]
fn runner_fails_on_every_kind_of_broken_cell() {
    let Some(py) = venv_python(true) else { return };
    let _turn = KERNELS.lock().unwrap_or_else(|e| e.into_inner());
    let dir = repo().join("tests/notebooks_runner");
    let mut notebooks: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ipynb"))
        .collect();
    notebooks.sort();
    assert!(notebooks.len() >= 6, "expected the broken notebooks in {}", dir.display());
    let out = repo().join("target/notebook-runner-test");
    let summary = out.join("summary-test.json");
    let _ = std::fs::remove_file(&summary);
    let output = runner(&py)
        .args(&notebooks)
        .args(["--no-html", "--jobs", "2", "--timeout", "40", "--out"])
        .arg(&out)
        .arg("--summary")
        .arg(&summary)
        .output()
        .expect("run the runner");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let log = format!("--- runner stdout ---\n{stdout}\n--- runner stderr ---\n{stderr}");
    assert_eq!(output.status.code(), Some(1), "the runner must exit 1 when a notebook fails\n{log}");

    let results: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap_or_else(|e| panic!("no summary ({e})\n{log}"))).unwrap();
    assert_eq!(results.len(), notebooks.len(), "{log}");
    for r in &results {
        let name = Path::new(r["notebook"].as_str().unwrap()).file_stem().unwrap().to_str().unwrap().to_string();
        let status = r["status"].as_str().unwrap();
        let reason = r["reason"].as_str().unwrap_or("");
        if name.starts_with("ok_") {
            assert_eq!(status, "pass", "{name} must pass, got: {reason}\n{log}");
            continue;
        }
        assert_eq!(status, "FAIL", "{name} must fail\n{log}");
        assert_eq!(r["cell"].as_u64(), Some(1), "{name}: the failing cell is cell 1, got {:?} ({reason})\n{log}", r["cell"]);
        let id = r["cell_id"].as_str().unwrap_or("");
        assert_eq!(id, format!("{}-1", name.replace('_', "-")), "{name}: cell id\n{log}");
        // the report names the notebook and the cell
        assert!(stderr.contains(&format!("{name}.ipynb cell 1")), "{name}: not named in the failure list\n{log}");
        let expect: &[&str] = match name.as_str() {
            "fail_compile" => &["compile error", "mismatched types"],
            "fail_panic_in_library" => &["panic", "huge"],
            "fail_question_mark" => &["`?`"],
            "fail_assert" => &["panic", "arithmetic is broken: 2"],
            "fail_timeout" => &["timed out"],
            other => panic!("no expectation for {other}"),
        };
        for e in expect {
            assert!(reason.contains(e), "{name}: reason {reason:?} should mention {e:?}\n{log}");
        }
        // execution stopped at the failing cell
        let executed: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join(format!("{name}.ipynb"))).unwrap()).unwrap();
        let after = &executed["cells"][2]["outputs"];
        assert!(after.as_array().is_none_or(|a| a.is_empty()), "{name}: cell 2 ran after the failure: {after}");
    }
    assert!(stdout.contains("1 passed, 5 failed"), "closing count\n{log}");
}

#[test]
fn committed_notebooks_are_clean() {
    let Some(py) = venv_python(false) else { return };
    let mut c = runner(&py);
    c.arg("--check-clean");
    for dir in ["notebooks", "tests/notebooks_runner"] {
        for e in std::fs::read_dir(repo().join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|e| e == "ipynb") {
                c.arg(p);
            }
        }
    }
    let out = c.output().unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

#[test]
fn check_clean_catches_outputs_and_missing_ids_and_clean_fixes_them() {
    let Some(py) = venv_python(false) else { return };
    let dir = repo().join("target/notebook-clean-test");
    std::fs::create_dir_all(&dir).unwrap();
    let nb = dir.join("dirty.ipynb");
    // nbformat 4.4: no cell ids; an output and an execution count
    std::fs::write(
        &nb,
        r#"{"cells": [{"cell_type": "code", "execution_count": 3, "metadata": {}, "outputs": [{"name": "stdout", "output_type": "stream", "text": "hi\n"}], "source": "println!(\"hi\");"}],
 "metadata": {"kernelspec": {"name": "gpt2lab", "display_name": "gpt2lab (Rust)", "language": "rust"}}, "nbformat": 4, "nbformat_minor": 4}"#,
    )
    .unwrap();
    let check = |py: &Path| runner(py).arg("--check-clean").arg(&nb).output().unwrap();
    let out = check(&py);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("has outputs") && err.contains("cell ids"), "{err}");
    assert!(runner(&py).arg("--clean").arg(&nb).status().unwrap().success());
    let first = std::fs::read_to_string(&nb).unwrap();
    assert!(check(&py).status.success(), "{}", String::from_utf8_lossy(&check(&py).stderr));
    // ids are stable: cleaning again changes nothing
    assert!(runner(&py).arg("--clean").arg(&nb).status().unwrap().success());
    assert_eq!(std::fs::read_to_string(&nb).unwrap(), first);
}

#[test]
fn paired_sources_must_match_their_notebooks() {
    let Some(py) = venv_python(false) else { return };
    let dir = repo().join("target/notebook-pair-test/notebooks");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let nb = dir.join("00-tour.ipynb");
    std::fs::copy(repo().join("notebooks/00-tour.ipynb"), &nb).unwrap();
    let src = dir.join("src/00-tour.rs");
    std::fs::copy(repo().join("notebooks/src/00-tour.rs"), &src).unwrap();
    let check = || runner(&py).arg("--check-clean").arg(&nb).output().unwrap();
    assert!(check().status.success(), "a fresh copy of a committed pair is in sync: {}", String::from_utf8_lossy(&check().stderr));
    // an edit of the readable source that the notebook does not have is drift, which CI fails
    let text = std::fs::read_to_string(&src).unwrap().replace("let scale = Scale::from_env();", "let scale = Scale::from_env(); // edited");
    std::fs::write(&src, text).unwrap();
    let out = check();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("differ") && err.contains("--sync"), "{err}");
    // --sync carries the newer side over and the pair is clean again
    assert!(runner(&py).arg("--sync").arg(&nb).status().unwrap().success());
    assert!(check().status.success(), "{}", String::from_utf8_lossy(&check().stderr));
    assert!(std::fs::read_to_string(&nb).unwrap().contains("// edited"));
    // a notebook in notebooks/ must be paired at all
    std::fs::remove_file(&src).unwrap();
    let out = check();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("missing"));
}

fn write_notebook(path: &Path, cells: &[&str]) {
    let cells: Vec<serde_json::Value> = cells
        .iter()
        .enumerate()
        .map(|(i, src)| serde_json::json!({"cell_type": "code", "execution_count": null, "id": format!("c{i}"), "metadata": {}, "outputs": [], "source": src}))
        .collect();
    let nb = serde_json::json!({"cells": cells, "metadata": {"kernelspec": {"name": "gpt2lab", "display_name": "gpt2lab (Rust)", "language": "rust"}}, "nbformat": 4, "nbformat_minor": 5});
    std::fs::write(path, serde_json::to_string_pretty(&nb).unwrap()).unwrap();
}

/// The claims ledger: the runner records every claim and check, writes claims.json/claims.md,
/// prints a line per notebook, and fails a paper notebook whose claims are single-run or carry
/// no negative control.
#[test]
fn runner_writes_the_claims_ledger_and_enforces_the_standard() {
    let Some(py) = venv_python(true) else { return };
    let _turn = KERNELS.lock().unwrap_or_else(|e| e.into_inner());
    let dir = repo().join("target/notebook-ledger-test");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("98-ledger-good.ipynb");
    write_notebook(
        &good,
        &[
            "check(\"an identity\", 2 + 2 == 4, \"\");",
            "let t = Claim::new(\"the method beats its baseline\").threshold(\"> 1 (paper, Table 1)\")\n    .per_seed(&[(0, 1.5), (1, 1.25), (2, 2.0)], |v| v > 1.0)\n    .control(\"baseline\", 0.5, false)\n    .verify();\nt",
        ],
    );
    let weak = dir.join("99-ledger-weak.ipynb");
    write_notebook(&weak, &["claim(\"a single-run claim\", true, \"one seed\");"]);
    let out_dir = dir.join("out");
    let output = runner(&py).args([&good, &weak]).args(["--no-html", "--jobs", "2", "--timeout", "60", "--out"]).arg(&out_dir).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let log = format!("--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}");
    assert_eq!(output.status.code(), Some(1), "the weak notebook fails\n{log}");
    assert!(stdout.contains("ledger 98-ledger-good: 1 claims (seeds per claim 3), 1 checks, 1 negative controls"), "{log}");
    assert!(stderr.contains("99-ledger-weak") && stderr.contains("fewer than 3 seeds") && stderr.contains("negative control"), "{log}");
    let claims: Vec<serde_json::Value> = serde_json::from_str(&std::fs::read_to_string(out_dir.join("claims.json")).unwrap()).unwrap();
    let good_claim = claims.iter().find(|c| c["text"] == "the method beats its baseline").expect("the claim is in the ledger");
    assert_eq!(good_claim["seeds"], serde_json::json!([0, 1, 2]));
    assert_eq!(good_claim["controls"][0]["holds"], serde_json::json!(false));
    assert_eq!(good_claim["pass"], serde_json::json!(true));
    assert!(claims.iter().any(|c| c["kind"] == "check" && c["text"] == "an identity"));
    let md = std::fs::read_to_string(out_dir.join("claims.md")).unwrap();
    assert!(md.contains("| 98-ledger-good.ipynb | claim | the method beats its baseline | > 1 (paper, Table 1) | 0, 1, 2 |"), "{md}");
}
