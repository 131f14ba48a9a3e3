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
//! # Claims
//!
//! A notebook states what it expects with [`claim`] (and [`claim_close`], [`claim_lt`]):
//! each prints `✓ claim: ...` so a reader sees what was checked, and panics with the claim
//! and its evidence when it does not hold, which fails the cell under the runner.
//!
//! ```
//! use gpt2lab::notebook::{claim, claim_close};
//! claim("probabilities sum to one", (0.25f32 + 0.75 - 1.0).abs() < 1e-6, "sum = 1.0");
//! claim_close("mean", 0.5001, 0.5, 1e-3);
//! ```
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

/// Checks a claim the notebook makes: prints `✓ claim: {name} ({detail})` when `holds`,
/// and panics with `claim failed: {name} ({detail})` otherwise.
///
/// ```should_panic
/// gpt2lab::notebook::claim("loss goes down", 3.1 < 2.0, "start 2.0, end 3.1");
/// ```
#[track_caller]
pub fn claim(name: &str, holds: bool, detail: impl fmt::Display) {
    let detail = detail.to_string();
    let detail = if detail.is_empty() { String::new() } else { format!(" ({detail})") };
    if holds {
        println!("✓ claim: {name}{detail}");
    } else {
        panic!("✗ claim failed: {name}{detail}");
    }
}

/// Claims `|got - want| <= tol`.
#[track_caller]
pub fn claim_close(name: &str, got: f64, want: f64, tol: f64) {
    let diff = (got - want).abs();
    claim(name, diff <= tol && got.is_finite(), format_args!("got {got:.6}, want {want:.6} ± {tol:e}, |diff| = {diff:.3e}"));
}

/// Claims `a < b`.
#[track_caller]
pub fn claim_lt(name: &str, a: f64, b: f64) {
    claim(name, a < b, format_args!("{a:.6} < {b:.6}"));
}

/// True when the headless runner started this kernel (`GPT2LAB_RUNNER=1`).
pub fn under_runner() -> bool {
    matches!(std::env::var(RUNNER_ENV).as_deref(), Ok("1") | Ok("true") | Ok("yes"))
}

/// Called once by the gpt2lab kernel's prelude (`kernelspec/gpt2lab/evcxr/prelude.rs`).
/// Under the runner it installs the failure hooks ([`install_runner_hooks`]); otherwise it
/// does nothing.
pub fn kernel_init() {
    if under_runner() {
        if let Err(e) = install_runner_hooks() {
            eprintln!("gpt2lab: could not install the runner hooks: {e}");
        }
    }
}

/// Prints [`ARMED_MARKER`] when the runner hooks are installed in this process (the runner
/// runs this first and refuses to go on without it), or a line saying they are not.
pub fn runner_armed() {
    if hooks_installed() {
        println!("{ARMED_MARKER} pid={}", std::process::id());
    } else {
        println!("gpt2lab runner hooks are NOT installed (GPT2LAB_RUNNER={:?})", std::env::var(RUNNER_ENV).ok());
    }
}

// The flag lives in the process environment because each evcxr cell is its own shared
// library with its own copy of this crate's statics; the environment is process-wide.
const INSTALLED_ENV: &str = "GPT2LAB_RUNNER_HOOKS_PID";

fn hooks_installed() -> bool {
    std::env::var(INSTALLED_ENV).ok().as_deref() == Some(&std::process::id().to_string())
}

/// Makes panics and `?` errors fatal to this process, with a marker line on stdout first.
///
/// Installs a panic hook that prints `GPT2LAB_RUNNER_FAILURE: panic ...` and aborts, and
/// (on Unix) routes this process's stdout through a pipe watched by a thread that forwards
/// everything unchanged and aborts after evcxr's `EVCXR_ERROR_OCCURRED` line (a `?` error)
/// or a failure marker. Idempotent per process. Only for the headless runner: an interactive
/// user wants a panic to leave the kernel alive.
pub fn install_runner_hooks() -> std::io::Result<()> {
    if hooks_installed() {
        return Ok(());
    }
    #[cfg(unix)]
    let watcher = watch::start()?;
    #[cfg(not(unix))]
    let watcher = false;
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        prev(info);
        let msg = if let Some(s) = info.payload().downcast_ref::<&str>() {
            s.to_string()
        } else if let Some(s) = info.payload().downcast_ref::<String>() {
            s.clone()
        } else {
            "<non-string panic payload>".to_string()
        };
        let loc = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        let line = format!("{FAILURE_MARKER} panic: {}{loc}", msg.replace('\n', " | "));
        eprintln!("{line}");
        println!("{line}");
        use std::io::Write;
        let _ = std::io::stdout().flush();
        if watcher {
            // The watcher forwards the marker line and aborts; give it a moment.
            std::thread::sleep(std::time::Duration::from_secs(5));
        }
        std::process::abort();
    }));
    // SAFETY (edition 2021: safe): set once, from the thread running the prelude cell.
    std::env::set_var(INSTALLED_ENV, std::process::id().to_string());
    Ok(())
}

#[cfg(unix)]
mod watch {
    //! stdout → pipe → watcher thread → the original stdout.
    use std::fs::File;
    use std::io::{self, Read, Write};
    use std::os::fd::{FromRawFd, RawFd};
    use std::time::Duration;

    use super::FAILURE_MARKER;

    const EVCXR_ERROR: &str = "EVCXR_ERROR_OCCURRED";
    const EVCXR_PANIC: &str = "EVCXR_PANIC_NOTIFICATION";

    extern "C" {
        fn pipe(fds: *mut i32) -> i32;
        fn dup(fd: i32) -> i32;
        fn dup2(old: i32, new: i32) -> i32;
    }

    fn check(r: i32) -> io::Result<i32> {
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(r)
        }
    }

    /// Returns true once the watcher runs.
    pub(super) fn start() -> io::Result<bool> {
        io::stdout().flush()?;
        let mut fds = [0i32; 2];
        // SAFETY: plain POSIX calls on fds this process owns.
        let (real_out, read_end): (RawFd, RawFd) = unsafe {
            check(pipe(fds.as_mut_ptr()))?;
            let real = check(dup(1))?;
            check(dup2(fds[1], 1))?;
            // fd 1 now holds the write end; the original write end is not needed.
            drop(File::from_raw_fd(fds[1]));
            (real, fds[0])
        };
        std::thread::Builder::new().name("gpt2lab-runner-watch".into()).spawn(move || {
            // SAFETY: both fds were created above and are owned by this thread from now on.
            let mut input = unsafe { File::from_raw_fd(read_end) };
            let mut out = unsafe { File::from_raw_fd(real_out) };
            let mut buf = [0u8; 8192];
            let mut line: Vec<u8> = Vec::new();
            loop {
                let n = match input.read(&mut buf) {
                    Ok(0) => return,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => return,
                };
                // Scan before forwarding: after a fatal line nothing more may reach evcxr, in
                // particular not the runtime's "execution complete" line that often shares the
                // same read, or evcxr would finish this cell and blame the next one.
                for (i, &b) in buf[..n].iter().enumerate() {
                    if b != b'\n' {
                        line.push(b);
                        continue;
                    }
                    let text = String::from_utf8_lossy(&line).trim_end().to_string();
                    line.clear();
                    let reason = if text == EVCXR_ERROR {
                        Some("a `?` in this cell returned an error (its message is printed above / on stderr)")
                    } else if text == EVCXR_PANIC {
                        Some("the cell panicked")
                    } else if text.starts_with(FAILURE_MARKER) {
                        Some("")
                    } else {
                        None
                    };
                    if let Some(reason) = reason {
                        let _ = out.write_all(&buf[..=i]);
                        if !reason.is_empty() {
                            let msg = format!("{FAILURE_MARKER} {reason}\n");
                            let _ = out.write_all(msg.as_bytes());
                            eprint!("{msg}");
                        }
                        let _ = out.flush();
                        // let stderr (forwarded by evcxr on its own thread) drain first
                        std::thread::sleep(Duration::from_millis(200));
                        std::process::abort();
                    }
                }
                let _ = out.write_all(&buf[..n]);
                let _ = out.flush();
            }
        })?;
        Ok(true)
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

    #[test]
    fn claims() {
        claim("true holds", true, "");
        claim_close("close", 1.0, 1.0005, 1e-3);
        claim_lt("less", 1.0, 2.0);
        let r = std::panic::catch_unwind(|| claim_close("far", 1.0, 2.0, 0.1));
        let msg = *r.unwrap_err().downcast::<String>().unwrap();
        assert!(msg.contains("claim failed: far") && msg.contains("got 1.0"), "{msg}");
        let r = std::panic::catch_unwind(|| claim_close("nan", f64::NAN, 2.0, 0.1));
        assert!(r.is_err());
    }
}
