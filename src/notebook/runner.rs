//! The hooks that let the headless runner (`scripts/run_notebooks.py`) see every failing cell
//! (see the module doc of [`crate::notebook`]).

use super::{ARMED_MARKER, FAILURE_MARKER, RUNNER_ENV};

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

