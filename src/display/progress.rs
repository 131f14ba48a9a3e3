//! [`Progress`]: a dependency-free progress line for long loops.
//!
//! In a terminal it redraws one line on stderr (`\r`, at most 10 times a second) with count,
//! rate and ETA. Inside evcxr (whose runtime process has `EVCXR_IS_RUNTIME` set) stderr is
//! forwarded line by line, so carriage returns would pile up: there it prints a compact line
//! every 10% instead (or every 5 s when the total is unknown).
//!
//! ```
//! use gpt2lab::display::Progress;
//! let mut p = Progress::new(1000).label("eval").quiet(); // quiet: no output (for doctests)
//! for _ in 0..1000 {
//!     p.inc(1);
//! }
//! p.finish();
//! // or wrap an iterator:
//! let total: u64 = Progress::wrap(0..100u64, "sum").quiet_iter().sum();
//! assert_eq!(total, 4950);
//! ```

use std::io::Write;
use std::time::{Duration, Instant};

/// How progress is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// Redraw one line with `\r`.
    Terminal,
    /// Print a new line at every `every_pct` percent (or every 5 s without a total).
    Notebook,
    /// Print nothing.
    Quiet,
}

/// A progress counter that reports to stderr (or any writer).
pub struct Progress {
    total: Option<u64>,
    count: u64,
    label: String,
    message: String,
    start: Instant,
    last_draw: Option<Instant>,
    mode: ProgressMode,
    every_pct: u64,
    last_bucket: u64,
    out: Box<dyn Write + Send>,
    finished: bool,
}

impl Progress {
    /// A counter to `total` steps, printing to stderr in the mode the environment suggests
    /// ([`Progress::in_notebook`]).
    pub fn new(total: usize) -> Progress {
        Self::build(Some(total as u64))
    }

    /// A counter without a known total (no percentage or ETA).
    pub fn unbounded() -> Progress {
        Self::build(None)
    }

    fn build(total: Option<u64>) -> Progress {
        Progress {
            total,
            count: 0,
            label: String::new(),
            message: String::new(),
            start: Instant::now(),
            last_draw: None,
            mode: if Self::in_notebook() { ProgressMode::Notebook } else { ProgressMode::Terminal },
            every_pct: 10,
            last_bucket: 0,
            out: Box::new(std::io::stderr()),
            finished: false,
        }
    }

    /// Whether we run inside evcxr's runtime process (the `EVCXR_IS_RUNTIME` variable is set).
    pub fn in_notebook() -> bool {
        std::env::var_os("EVCXR_IS_RUNTIME").is_some()
    }

    /// Wraps an iterator; its length hint (if exact) is the total.
    pub fn wrap<I: IntoIterator>(iter: I, label: &str) -> ProgressIter<I::IntoIter> {
        let iter = iter.into_iter();
        let (lo, hi) = iter.size_hint();
        let p = if hi == Some(lo) { Progress::new(lo) } else { Progress::unbounded() };
        ProgressIter { iter, progress: p.label(label) }
    }

    /// A name printed before the counts.
    pub fn label(mut self, label: &str) -> Progress {
        self.label = label.to_string();
        self
    }

    /// Overrides the detected mode.
    pub fn mode(mut self, mode: ProgressMode) -> Progress {
        self.mode = mode;
        self
    }

    /// No output at all.
    pub fn quiet(self) -> Progress {
        self.mode(ProgressMode::Quiet)
    }

    /// In notebook mode, print every `pct` percent (default 10).
    pub fn every_pct(mut self, pct: u64) -> Progress {
        self.every_pct = pct.clamp(1, 100);
        self
    }

    /// Writes to `out` instead of stderr (for tests or logs).
    pub fn to_writer(mut self, out: impl Write + Send + 'static) -> Progress {
        self.out = Box::new(out);
        self
    }

    /// A short status shown after the counts (e.g. the current loss).
    pub fn set_message(&mut self, msg: impl Into<String>) {
        self.message = msg.into();
    }

    /// Advances by `n` steps.
    pub fn inc(&mut self, n: u64) {
        self.count += n;
        self.maybe_draw();
    }

    /// Sets the absolute position.
    pub fn set(&mut self, count: u64) {
        self.count = count;
        self.maybe_draw();
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Prints the final line (idempotent; also called on drop).
    pub fn finish(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        match self.mode {
            ProgressMode::Quiet => {}
            ProgressMode::Terminal => {
                let line = self.line();
                let _ = write!(self.out, "\r{line}\x1b[K\n");
            }
            ProgressMode::Notebook => {
                let line = self.line();
                let _ = writeln!(self.out, "{line} done");
            }
        }
        let _ = self.out.flush();
    }

    fn maybe_draw(&mut self) {
        let now = Instant::now();
        match self.mode {
            ProgressMode::Quiet => {}
            ProgressMode::Terminal => {
                if self.last_draw.is_none_or(|t| now - t >= Duration::from_millis(100)) {
                    self.last_draw = Some(now);
                    let line = self.line();
                    let _ = write!(self.out, "\r{line}\x1b[K");
                    let _ = self.out.flush();
                }
            }
            ProgressMode::Notebook => {
                let due = match self.total {
                    Some(t) if t > 0 => {
                        let bucket = (self.count.min(t) * 100 / t) / self.every_pct;
                        let due = bucket > self.last_bucket && self.count < t;
                        if due {
                            self.last_bucket = bucket;
                        }
                        due
                    }
                    _ => self.last_draw.is_none_or(|t| now - t >= Duration::from_secs(5)),
                };
                if due {
                    self.last_draw = Some(now);
                    let line = self.line();
                    let _ = writeln!(self.out, "{line}");
                    let _ = self.out.flush();
                }
            }
        }
    }

    /// `label  [#####.....]  42% 420/1000  1.2k it/s  ETA 0:05  message`
    pub fn line(&self) -> String {
        let secs = self.start.elapsed().as_secs_f64();
        let rate = if secs > 0.0 { self.count as f64 / secs } else { 0.0 };
        let mut parts: Vec<String> = Vec::new();
        if !self.label.is_empty() {
            parts.push(self.label.clone());
        }
        match self.total {
            Some(t) => {
                let frac = if t == 0 { 1.0 } else { (self.count as f64 / t as f64).min(1.0) };
                let filled = (frac * 20.0).round() as usize;
                parts.push(format!("[{}{}]", "#".repeat(filled), ".".repeat(20 - filled)));
                parts.push(format!("{:>3.0}% {}/{}", frac * 100.0, self.count, t));
            }
            None => parts.push(format!("{}", self.count)),
        }
        parts.push(format!("{} it/s", human(rate)));
        match self.total {
            Some(t) if self.count < t && rate > 0.0 => {
                parts.push(format!("ETA {}", clock((t - self.count) as f64 / rate)));
            }
            _ => parts.push(format!("in {}", clock(secs))),
        }
        if !self.message.is_empty() {
            parts.push(self.message.clone());
        }
        parts.join("  ")
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// An iterator that advances a [`Progress`] per item and finishes it at the end.
pub struct ProgressIter<I> {
    iter: I,
    progress: Progress,
}

impl<I> ProgressIter<I> {
    /// No output (for tests).
    pub fn quiet_iter(mut self) -> ProgressIter<I> {
        self.progress.mode = ProgressMode::Quiet;
        self
    }

    /// The progress counter, e.g. to `set_message` inside the loop.
    pub fn progress(&mut self) -> &mut Progress {
        &mut self.progress
    }
}

impl<I: Iterator> Iterator for ProgressIter<I> {
    type Item = I::Item;

    fn next(&mut self) -> Option<I::Item> {
        match self.iter.next() {
            Some(x) => {
                self.progress.inc(1);
                Some(x)
            }
            None => {
                self.progress.finish();
                None
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.iter.size_hint()
    }
}

fn human(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.1}M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1}k", x / 1e3)
    } else if x >= 10.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

fn clock(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_and_human() {
        assert_eq!(clock(5.0), "0:05");
        assert_eq!(clock(3725.0), "1:02:05");
        assert_eq!(human(1234.0), "1.2k");
        assert_eq!(human(2.5), "2.50");
    }
}
