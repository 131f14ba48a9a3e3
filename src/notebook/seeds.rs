//! Runs over seeds: the standard evaluates every claim over at least three seeds (model init
//! and data order), computed in the run or read from a committed artefact
//! ([`crate::papers::artefact`]).

use crate::Result;

/// The seeds a notebook uses unless the paper names its own (Mission: Impossible: 21, 57, 84).
pub const SEEDS: [u64; 3] = [0, 1, 2];

/// Runs `f(seed)` for every seed, `threads` at a time (scoped threads; results in seed order;
/// the first error is returned). Independent tiny-model runs use two cores better side by side
/// than one run's parallel kernels do; pass `threads = 1` where one run already fills the
/// machine or memory is tight.
///
/// ```
/// let squares = gpt2lab::notebook::over_seeds(&[1, 2, 3], 2, |s| Ok(s * s)).unwrap();
/// assert_eq!(squares, vec![1, 4, 9]);
/// ```
pub fn over_seeds<T: Send>(seeds: &[u64], threads: usize, f: impl Fn(u64) -> Result<T> + Sync) -> Result<Vec<T>> {
    crate::runtime::parallel_map(seeds.to_vec(), threads, f).into_iter().collect()
}
