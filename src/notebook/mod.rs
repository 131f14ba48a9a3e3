//! Notebook support: the run [`Scale`], claims that print what they check, and the hooks that
//! let the headless runner (`scripts/run_notebooks.py`) see every failing cell.
//!
//! # Scale
//!
//! One [`Scale`] value decides every size in a notebook, in one cell near the top:
//!
//! ```
//! use gpt2lab::notebook::Scale;
//! let scale = Scale::parse("ci").unwrap();
//! let n_layer = scale.pick(2, 12);
//! let steps = scale.pick(50, 5_000);
//! assert_eq!((n_layer, steps), (2, 50));
//! assert!(Scale::parse("huge").unwrap_err().to_string().contains("ci, full"));
//! ```
//!
//! `GPT2LAB_SCALE=ci` (the default) means tiny models and offline data, minutes on 2 cores;
//! `GPT2LAB_SCALE=full` means real GPT-2 and paper-sized runs.
//!
//! # Claims, checks, seeds and the ledger
//!
//! The reproduction standard (`../shared/notebook-standard.md`) tells two kinds of assertion
//! apart, and so does this module ([`claims`]):
//!
//! - [`check`] (and [`check_close`]): a sanity identity — a shape, "probabilities sum to 1",
//!   "α = 0 equals greedy". It prints `✓ check: ...`.
//! - [`Claim`]: a statement of the *paper* that the run tests, evaluated per seed (at least
//!   [`MIN_SEEDS`]), with the paper's threshold written next to it and, where cheap, a negative
//!   control: the same predicate on the baseline, which must *not* hold there.
//!   [`Claim::verify`] prints one line, fails the cell when a seed fails or a control passes,
//!   and returns the per-seed table to display.
//!
//! ```
//! use gpt2lab::notebook::{check, Claim};
//! check("probabilities sum to one", (0.25f32 + 0.75 - 1.0).abs() < 1e-6, "sum = 1.0");
//! let gaps = [(0u64, 0.031), (1, 0.027), (2, 0.035)];
//! let table = Claim::new("the LN-free model costs at most 3× the paper's relative CE increase")
//!     .threshold("≤ 0.067 (3 × 2.23%, paper: +0.0671 CE on OWT)")
//!     .per_seed(&gaps, |g| g <= 0.067)
//!     .control("all LNs faked at once, no fine-tuning", 0.41, 0.41 <= 0.067)
//!     .verify();
//! assert!(table.to_string().contains("seed"));
//! ```
//!
//! Every claim and check is also appended to the **claims ledger** when the runner asks for
//! one (`GPT2LAB_LEDGER=path`, one JSON object per line); the runner gathers the ledgers into
//! `target/notebooks/claims.{json,md}`. [`over_seeds`] runs a function once per seed, several
//! seeds at once when asked.
//!
//! # Why the runner needs hooks
//!
//! evcxr (0.22) runs a cell inside `catch_unwind`: a panic only prints to stderr and the cell
//! still "succeeds"; an error returned with `?` is printed to stderr (which reaches Jupyter
//! asynchronously, often after the cell has finished) and the cell succeeds too. Only compile
//! errors fail a cell. Under the runner (`GPT2LAB_RUNNER=1`), [`kernel_init`] — called by the
//! gpt2lab kernel's prelude — makes both fatal: a panic hook prints a marker line and aborts
//! the kernel's worker process, and a watcher on the worker's stdout sees evcxr's own
//! "error occurred" line and does the same. evcxr then answers the cell with an error
//! ("Subprocess terminated ..."), so nbclient stops on that cell and the runner names it.
//! Outside the runner nothing changes.

use std::fmt;
use std::str::FromStr;

use crate::{Error, Result};

pub mod claims;
mod runner;
mod seeds;

pub use claims::{check, check_close, claim, claim_close, claim_lt, mean_range, Claim, LedgerEntry, LEDGER_ENV, MIN_SEEDS};
pub use runner::{install_runner_hooks, kernel_init, runner_armed, under_runner};
pub use seeds::{over_seeds, SEEDS};

/// The environment variable that selects the [`Scale`].
pub const SCALE_ENV: &str = "GPT2LAB_SCALE";
/// Set to `1` by the headless runner; makes panics and `?` errors fatal to the kernel.
pub const RUNNER_ENV: &str = "GPT2LAB_RUNNER";
/// Every line the runner hooks print starts with this.
pub const FAILURE_MARKER: &str = "GPT2LAB_RUNNER_FAILURE:";
/// Printed by [`runner_armed`] when the hooks are installed in this process.
pub const ARMED_MARKER: &str = "GPT2LAB_RUNNER_ARMED";

/// How big a notebook's models, data and loops are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Scale {
    /// Tiny models, synthetic or shipped data: minutes on 2 CPU cores (the default).
    #[default]
    Ci,
    /// Real GPT-2 from the hub and paper-sized data: a user's machine or a GPU.
    Full,
}

impl Scale {
    /// All scales, in order.
    pub const ALL: [Scale; 2] = [Scale::Ci, Scale::Full];

    /// The scale named by `GPT2LAB_SCALE` (default `ci`).
    ///
    /// # Panics
    /// On an unknown value, with a message listing the valid ones: a notebook cannot go on
    /// without knowing its sizes, and the panic fails the cell where it is called.
    pub fn from_env() -> Scale {
        match Scale::try_from_env() {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        }
    }

    /// Like [`Scale::from_env`], returning the error instead of panicking.
    pub fn try_from_env() -> Result<Scale> {
        match std::env::var(SCALE_ENV) {
            Ok(v) if !v.trim().is_empty() => {
                Scale::parse(&v).map_err(|_| Error::Msg(format!("{SCALE_ENV}={v:?} is not a scale; valid values: {}", Scale::names())))
            }
            _ => Ok(Scale::Ci),
        }
    }

    /// Parses `ci` or `full` (case-insensitive, surrounding spaces ignored).
    pub fn parse(s: &str) -> Result<Scale> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ci" => Ok(Scale::Ci),
            "full" => Ok(Scale::Full),
            other => Err(Error::Msg(format!("unknown scale {other:?}; valid values: {}", Scale::names()))),
        }
    }

    /// `"ci"` or `"full"`.
    pub fn name(self) -> &'static str {
        match self {
            Scale::Ci => "ci",
            Scale::Full => "full",
        }
    }

    fn names() -> String {
        Scale::ALL.iter().map(|s| s.name()).collect::<Vec<_>>().join(", ")
    }

    /// `ci` at ci scale, `full` at full scale.
    pub fn pick<T>(self, ci: T, full: T) -> T {
        match self {
            Scale::Ci => ci,
            Scale::Full => full,
        }
    }

    pub fn is_ci(self) -> bool {
        self == Scale::Ci
    }

    pub fn is_full(self) -> bool {
        self == Scale::Full
    }
}

impl fmt::Display for Scale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scale {
    type Err = Error;
    fn from_str(s: &str) -> Result<Scale> {
        Scale::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_pick() {
        assert_eq!(Scale::parse(" FULL ").unwrap(), Scale::Full);
        assert_eq!("ci".parse::<Scale>().unwrap(), Scale::Ci);
        assert_eq!(Scale::Full.pick(1, 2), 2);
        assert_eq!(Scale::default(), Scale::Ci);
        assert_eq!(Scale::Full.to_string(), "full");
        let e = Scale::parse("medium").unwrap_err().to_string();
        assert!(e.contains("medium") && e.contains("ci, full"), "{e}");
    }
}
