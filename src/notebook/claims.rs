//! Claims and checks, and the ledger that records them.
//!
//! A [`check`] is a sanity identity; a [`Claim`] is a statement of the paper, evaluated per
//! seed, with the paper's threshold and, where cheap, negative controls (the same predicate on
//! the baseline, which must fail there). Both print what they checked, fail the cell when they
//! do not hold (a panic, which the runner turns into a failed cell), and append a
//! [`LedgerEntry`] to the file named by `GPT2LAB_LEDGER` when it is set.

use std::fmt;
use std::io::Write;

use serde::{Deserialize, Serialize};

use crate::display::{format_float, Table};

/// The environment variable naming the ledger file (JSON lines) the runner reads.
pub const LEDGER_ENV: &str = "GPT2LAB_LEDGER";
/// The fewest seeds a [`Claim`] is evaluated over.
pub const MIN_SEEDS: usize = 3;

/// What one `claim`/`check` recorded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// `"claim"` (a statement of the paper) or `"check"` (a sanity identity).
    pub kind: String,
    pub text: String,
    /// The threshold and where it comes from (the paper's figure/table), if given.
    pub threshold: Option<String>,
    /// One entry per seed (empty for a single-run claim or a check).
    pub seeds: Vec<u64>,
    /// The measured value per seed (`None` where it was not finite).
    pub values: Vec<Option<f64>>,
    /// Whether the predicate held, per seed.
    pub holds: Vec<bool>,
    /// Negative controls: the predicate on a baseline, which must not hold.
    pub controls: Vec<ControlEntry>,
    pub detail: String,
    pub pass: bool,
}

/// One negative control of a [`Claim`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ControlEntry {
    pub name: String,
    pub value: Option<f64>,
    /// Whether the claim's predicate held on the control (it must not).
    pub holds: bool,
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

fn fmt_value(v: f64) -> String {
    format_float(v, 4)
}

/// Appends `entry` to the ledger named by `GPT2LAB_LEDGER` (no-op when unset). A ledger that
/// cannot be written is reported on stderr: the cell's own result still stands.
pub fn record(entry: &LedgerEntry) {
    let Some(path) = ledger_path() else { return };
    let line = match serde_json::to_string(entry) {
        Ok(l) => l,
        Err(e) => return eprintln!("gpt2lab: ledger entry not serialisable: {e}"),
    };
    let res = std::fs::OpenOptions::new().create(true).append(true).open(&path).and_then(|mut f| writeln!(f, "{line}"));
    if let Err(e) = res {
        eprintln!("gpt2lab: could not append to the claims ledger {}: {e}", std::path::Path::new(&path).display());
    }
}

#[cfg(not(test))]
fn ledger_path() -> Option<std::ffi::OsString> {
    std::env::var_os(LEDGER_ENV)
}

// Unit tests run in parallel threads of one process: a test that reads the ledger back sets
// its path for its own thread, so other tests' claims and checks do not land in it.
#[cfg(test)]
thread_local! {
    static TEST_LEDGER: std::cell::RefCell<Option<std::ffi::OsString>> = const { std::cell::RefCell::new(None) };
}

#[cfg(test)]
fn ledger_path() -> Option<std::ffi::OsString> {
    TEST_LEDGER.with(|p| p.borrow().clone())
}

fn single(kind: &str, text: &str, holds: bool, detail: String) {
    let shown = if detail.is_empty() { String::new() } else { format!(" ({detail})") };
    record(&LedgerEntry {
        kind: kind.into(),
        text: text.into(),
        threshold: None,
        seeds: vec![],
        values: vec![],
        holds: vec![holds],
        controls: vec![],
        detail,
        pass: holds,
    });
    if holds {
        println!("✓ {kind}: {text}{shown}");
    } else {
        panic!("✗ {kind} failed: {text}{shown}");
    }
}

/// A sanity check (identity, shape, bound that holds by construction): prints
/// `✓ check: {text} ({detail})`, panics with `✗ check failed: ...` otherwise.
///
/// ```should_panic
/// gpt2lab::notebook::check("α = 0 equals greedy", false, "3 of 50 continuations differ");
/// ```
#[track_caller]
pub fn check(text: &str, holds: bool, detail: impl fmt::Display) {
    single("check", text, holds, detail.to_string());
}

/// Checks `|got - want| <= tol` (and that `got` is finite).
#[track_caller]
pub fn check_close(text: &str, got: f64, want: f64, tol: f64) {
    let (holds, detail) = close(got, want, tol);
    check(text, holds, detail);
}

/// Whether `got` is finite and within `tol` of `want`, and the evidence line.
fn close(got: f64, want: f64, tol: f64) -> (bool, String) {
    let diff = (got - want).abs();
    (diff <= tol && got.is_finite(), format!("got {got:.6}, want {want:.6} ± {tol:e}, |diff| = {diff:.3e}"))
}

/// A claim from a single run. Paper notebooks state their claims with [`Claim`] over seeds;
/// this form is for notebooks that are not reproductions (the tour) and for quick work.
///
/// ```should_panic
/// gpt2lab::notebook::claim("loss goes down", 3.1 < 2.0, "start 2.0, end 3.1");
/// ```
#[track_caller]
pub fn claim(text: &str, holds: bool, detail: impl fmt::Display) {
    single("claim", text, holds, detail.to_string());
}

/// A single-run claim that `|got - want| <= tol`.
#[track_caller]
pub fn claim_close(text: &str, got: f64, want: f64, tol: f64) {
    let (holds, detail) = close(got, want, tol);
    claim(text, holds, detail);
}

/// A single-run claim that `a < b`.
#[track_caller]
pub fn claim_lt(text: &str, a: f64, b: f64) {
    claim(text, a < b, format_args!("{a:.6} < {b:.6}"));
}

/// `mean [min, max] (n)` of per-seed values, for "paper vs ours" tables (`digits` significant
/// digits).
///
/// ```
/// assert_eq!(gpt2lab::notebook::mean_range(&[1.5, 2.0, 3.25], 3), "2.25 [1.5, 3.25] (n = 3)");
/// ```
pub fn mean_range(values: &[f64], digits: usize) -> String {
    if values.is_empty() {
        return "–".into();
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let (lo, hi) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    format!("{} [{}, {}] (n = {})", format_float(mean, digits), format_float(lo, digits), format_float(hi, digits), values.len())
}

/// A statement of the paper, evaluated per seed, with negative controls.
///
/// Build it with the per-seed values and whether the predicate held for each
/// ([`Claim::seed`], [`Claim::per_seed`]), add controls ([`Claim::control`]), then
/// [`Claim::verify`]: it passes when there are at least [`MIN_SEEDS`] seeds, the predicate
/// held for every one, and failed on every control.
#[derive(Clone, Debug)]
#[must_use = "a claim is only checked by .verify()"]
pub struct Claim {
    entry: LedgerEntry,
    notes: Vec<String>,
    unit: String,
    min_seeds: usize,
}

impl Claim {
    pub fn new(text: &str) -> Claim {
        Claim {
            entry: LedgerEntry {
                kind: "claim".into(),
                text: text.into(),
                threshold: None,
                seeds: vec![],
                values: vec![],
                holds: vec![],
                controls: vec![],
                detail: String::new(),
                pass: false,
            },
            notes: vec![],
            unit: "value".into(),
            min_seeds: MIN_SEEDS,
        }
    }

    /// Lowers the number of seeds required (default [`MIN_SEEDS`]) — only for full-scale
    /// evaluations of a paper's released models, one per condition. The runner's ledger check
    /// at ci scale still asks for [`MIN_SEEDS`].
    pub fn min_seeds(mut self, n: usize) -> Claim {
        self.min_seeds = n.max(1);
        self
    }

    /// The threshold and its source, e.g. `"≤ 3 × 2.23% (paper, Table 1: +0.0671 CE)"`.
    pub fn threshold(mut self, t: impl Into<String>) -> Claim {
        self.entry.threshold = Some(t.into());
        self
    }

    /// What the per-seed value is (the table's column header), e.g. `"relative CE increase"`.
    pub fn value_name(mut self, name: impl Into<String>) -> Claim {
        self.unit = name.into();
        self
    }

    /// One seed's value and whether the claim's predicate held for it.
    pub fn seed(self, seed: u64, value: f64, holds: bool) -> Claim {
        self.seed_note(seed, value, holds, "")
    }

    /// [`Claim::seed`] with a note shown in the table (the numbers behind the value).
    pub fn seed_note(mut self, seed: u64, value: f64, holds: bool, note: impl Into<String>) -> Claim {
        self.entry.seeds.push(seed);
        self.entry.values.push(finite(value));
        self.entry.holds.push(holds && !value.is_nan());
        self.notes.push(note.into());
        self
    }

    /// Every `(seed, value)` with the predicate applied to the value.
    pub fn per_seed(mut self, values: &[(u64, f64)], pred: impl Fn(f64) -> bool) -> Claim {
        for &(s, v) in values {
            self = self.seed(s, v, pred(v));
        }
        self
    }

    /// A negative control: `holds` says whether the claim's predicate held on the baseline
    /// named `name` (its value `value`); the claim fails if it did.
    pub fn control(mut self, name: impl Into<String>, value: f64, holds: bool) -> Claim {
        self.entry.controls.push(ControlEntry { name: name.into(), value: finite(value), holds });
        self
    }

    /// Adds text to the ledger's detail column (e.g. the spread over seeds).
    pub fn detail(mut self, d: impl Into<String>) -> Claim {
        self.entry.detail = d.into();
        self
    }

    /// Evaluates the claim without printing, recording or panicking.
    pub fn outcome(&self) -> (bool, String) {
        let e = &self.entry;
        let n = e.seeds.len();
        let held = e.holds.iter().filter(|&&h| h).count();
        let mut why = vec![];
        if n < self.min_seeds {
            why.push(format!("only {n} seed(s); a claim needs at least {}", self.min_seeds));
        }
        if held < n {
            let failed: Vec<String> = e.seeds.iter().zip(&e.holds).filter(|(_, h)| !**h).map(|(s, _)| s.to_string()).collect();
            why.push(format!("failed for seed(s) {}", failed.join(", ")));
        }
        for c in e.controls.iter().filter(|c| c.holds) {
            why.push(format!("the negative control \"{}\" passes too ({}), so the claim does not tell the method from its baseline", c.name, c.value.map(fmt_value).unwrap_or("NaN".into())));
        }
        let vals: Vec<f64> = e.values.iter().flatten().copied().collect();
        let mut summary = format!("{held}/{n} seeds");
        if !vals.is_empty() {
            let (lo, hi) = vals.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
            summary += &format!(", {} {} … {}", self.unit, fmt_value(lo), fmt_value(hi));
        }
        if let Some(t) = &e.threshold {
            summary += &format!("; threshold {t}");
        }
        for c in &e.controls {
            let v = c.value.map(fmt_value).unwrap_or("NaN".into());
            summary += &format!("; control \"{}\" {v}: {}", c.name, if c.holds { "PASSES (it must not)" } else { "fails, as it should" });
        }
        if !why.is_empty() {
            summary += &format!(" — {}", why.join("; "));
        }
        (why.is_empty(), summary)
    }

    /// Prints `✓ claim: ...`, records the claim in the ledger and returns its per-seed table;
    /// panics (failing the cell) when it does not hold.
    #[track_caller]
    pub fn verify(mut self) -> Table {
        let (pass, summary) = self.outcome();
        self.entry.pass = pass;
        if self.entry.detail.is_empty() {
            self.entry.detail = summary.clone();
        }
        record(&self.entry);
        if !pass {
            panic!("✗ claim failed: {} ({summary})", self.entry.text);
        }
        println!("✓ claim: {} ({summary})", self.entry.text);
        self.table()
    }

    /// The per-seed table: one row per seed, then one per control.
    pub fn table(&self) -> Table {
        let e = &self.entry;
        let mut rows = vec![];
        for (i, s) in e.seeds.iter().enumerate() {
            let v = e.values[i].map(fmt_value).unwrap_or("NaN".into());
            rows.push(vec![format!("seed {s}"), v, if e.holds[i] { "✓ holds" } else { "✗ fails" }.into(), self.notes[i].clone()]);
        }
        for c in &e.controls {
            let v = c.value.map(fmt_value).unwrap_or("NaN".into());
            rows.push(vec![format!("control: {}", c.name), v, if c.holds { "✗ holds (must not)" } else { "✓ fails" }.into(), String::new()]);
        }
        let title = match &e.threshold {
            Some(t) => format!("{} — {t}", e.text),
            None => e.text.clone(),
        };
        let headers = ["run", self.unit.as_str(), "predicate", "note"];
        // from_rows only fails on ragged rows, which cannot happen here
        Table::from_rows(&headers, rows).map(|t| t.title(title)).unwrap_or_else(|_| Table::per_layer(&e.text, &[]))
    }

    /// The ledger entry as it stands.
    pub fn entry(&self) -> &LedgerEntry {
        &self.entry
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn panics(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
        let r = std::panic::catch_unwind(f);
        match r {
            Ok(()) => panic!("expected a panic"),
            Err(e) => e.downcast::<String>().map(|s| *s).unwrap_or_default(),
        }
    }

    #[test]
    fn checks_and_single_claims() {
        check("true holds", true, "");
        check_close("close", 1.0, 1.0005, 1e-3);
        claim_lt("less", 1.0, 2.0);
        let msg = panics(|| claim_close("far", 1.0, 2.0, 0.1));
        assert!(msg.contains("claim failed: far") && msg.contains("got 1.0"), "{msg}");
        let msg = panics(|| check_close("nan", f64::NAN, 2.0, 0.1));
        assert!(msg.contains("check failed: nan"), "{msg}");
    }

    #[test]
    fn seeded_claims_need_three_seeds_every_seed_and_failing_controls() {
        let ok = Claim::new("gap small").threshold("≤ 0.1 (paper)").per_seed(&[(0, 0.01), (1, 0.02), (2, 0.05)], |v| v <= 0.1);
        assert!(ok.outcome().0, "{}", ok.outcome().1);
        let t = ok.clone().control("no method", 0.5, false).verify();
        let text = t.to_string();
        assert!(text.contains("seed 2") && text.contains("control: no method") && text.contains("✓ fails"), "{text}");

        let two = Claim::new("two seeds").per_seed(&[(0, 0.01), (1, 0.02)], |v| v <= 0.1);
        assert!(!two.outcome().0 && two.outcome().1.contains("at least 3"));
        let one_bad = Claim::new("one bad").per_seed(&[(0, 0.01), (1, 0.2), (2, 0.02)], |v| v <= 0.1);
        let (pass, why) = one_bad.outcome();
        assert!(!pass && why.contains("seed(s) 1"), "{why}");
        let control_passes = ok.clone().control("baseline", 0.05, true);
        let msg = panics(move || drop(control_passes.verify()));
        assert!(msg.contains("negative control \"baseline\" passes too"), "{msg}");
        let nan = Claim::new("nan").per_seed(&[(0, f64::NAN), (1, 0.0), (2, 0.0)], |v| !(v > 1.0));
        assert!(!nan.outcome().0, "a NaN value never holds");
    }

    #[test]
    fn ledger_lines_round_trip() {
        let dir = std::env::temp_dir().join(format!("gpt2lab-ledger-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ledger.jsonl");
        let _ = std::fs::remove_file(&path);
        TEST_LEDGER.with(|p| *p.borrow_mut() = Some(path.clone().into_os_string()));
        check("recorded check", true, "d");
        Claim::new("recorded claim").per_seed(&[(21, 1.0), (57, 2.0), (84, f64::INFINITY)], |v| v > 0.5).control("c", 0.1, false).verify();
        let _ = std::panic::catch_unwind(|| claim("recorded failure", false, ""));
        TEST_LEDGER.with(|p| *p.borrow_mut() = None);
        let lines: Vec<LedgerEntry> = std::fs::read_to_string(&path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 3);
        assert_eq!((lines[0].kind.as_str(), lines[0].pass), ("check", true));
        assert_eq!(lines[1].seeds, vec![21, 57, 84]);
        assert_eq!(lines[1].values, vec![Some(1.0), Some(2.0), None]);
        assert_eq!(lines[1].controls[0].name, "c");
        assert!(lines[1].pass);
        assert_eq!((lines[2].text.as_str(), lines[2].pass), ("recorded failure", false));
        std::fs::remove_dir_all(&dir).ok();
    }
}
