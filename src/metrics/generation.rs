//! Repetition and diversity of generated text, as in SimCTG's
//! `measure_repetition_and_diversity` (used by Su & Collier 2023):
//!
//! - **rep-n** = 1 − (unique n-grams / total n-grams), with unique n-grams counted within each
//!   text and both counts summed over the texts (so an n-gram shared by two texts is not a
//!   repetition). Tokens are whitespace-separated words.
//! - **diversity** = Π_{n=2}^{4} (1 − rep-n).
//!
//! SimCTG's n-gram loop (`while end_idx < len(token_list)`) skips the last n-gram of every
//! text; [`Counting::SimCtg`] reproduces that exactly (for comparisons with the paper's
//! numbers), [`Counting::All`] counts every n-gram.
//!
//! ```
//! use gpt2lab::metrics::{diversity, rep_n};
//! // "a b a b a": bigrams ab ba ab ba → 2 unique of 4 → rep-2 = 0.5
//! assert_eq!(rep_n(&["a b a b a"], 2), 0.5);
//! assert_eq!(diversity(&["the cat sat on the mat"]), 1.0);
//! ```

use std::collections::HashSet;
use std::hash::Hash;

/// Which n-grams of a text are counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Counting {
    /// Every n-gram (a text of L tokens has L − n + 1).
    #[default]
    All,
    /// SimCTG's loop: every n-gram but the last (L − n of them).
    SimCtg,
}

/// (unique, total) n-grams of one sequence.
fn ngram_counts<T: Eq + Hash>(seq: &[T], n: usize, counting: Counting) -> (usize, usize) {
    if n == 0 || seq.len() < n {
        return (0, 0);
    }
    let total = match counting {
        Counting::All => seq.len() - n + 1,
        Counting::SimCtg => seq.len() - n,
    };
    let unique: HashSet<&[T]> = seq.windows(n).take(total).collect();
    (unique.len(), total)
}

fn rep_from<T: Eq + Hash>(seqs: impl Iterator<Item = Vec<T>>, n: usize, counting: Counting) -> f64 {
    let (mut u, mut t) = (0, 0);
    for s in seqs {
        let (a, b) = ngram_counts(&s, n, counting);
        u += a;
        t += b;
    }
    if t == 0 {
        0.0 // nothing to repeat
    } else {
        1.0 - u as f64 / t as f64
    }
}

fn words(text: &str) -> Vec<&str> {
    text.split_whitespace().collect()
}

/// rep-n over whitespace words, with the given n-gram [`Counting`]. 0 when the texts have
/// no n-gram at all.
pub fn rep_n_with<S: AsRef<str>>(texts: &[S], n: usize, counting: Counting) -> f64 {
    rep_from(texts.iter().map(|t| words(t.as_ref())), n, counting)
}

/// rep-n over whitespace words, every n-gram counted.
pub fn rep_n<S: AsRef<str>>(texts: &[S], n: usize) -> f64 {
    rep_n_with(texts, n, Counting::All)
}

/// rep-n over token-id sequences (every n-gram counted).
pub fn rep_n_tokens(seqs: &[Vec<u32>], n: usize) -> f64 {
    rep_from(seqs.iter().cloned(), n, Counting::All)
}

/// diversity = (1 − rep-2)(1 − rep-3)(1 − rep-4), every n-gram counted.
pub fn diversity<S: AsRef<str>>(texts: &[S]) -> f64 {
    (2..=4).map(|n| 1.0 - rep_n(texts, n)).product()
}

/// Mean number of whitespace words per text (the paper's "generation length").
pub fn mean_length<S: AsRef<str>>(texts: &[S]) -> f64 {
    if texts.is_empty() {
        return 0.0;
    }
    texts.iter().map(|t| words(t.as_ref()).len()).sum::<usize>() as f64 / texts.len() as f64
}

/// rep-2, rep-3, rep-4 and diversity of a set of texts (fractions, not percentages).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Repetition {
    pub rep_2: f64,
    pub rep_3: f64,
    pub rep_4: f64,
    pub diversity: f64,
}

impl Repetition {
    /// SimCTG's `measure_repetition_and_diversity` (without its rounding), with the given
    /// n-gram counting.
    pub fn measure<S: AsRef<str>>(texts: &[S], counting: Counting) -> Repetition {
        let r = |n| rep_n_with(texts, n, counting);
        let (rep_2, rep_3, rep_4) = (r(2), r(3), r(4));
        Repetition { rep_2, rep_3, rep_4, diversity: (1.0 - rep_2) * (1.0 - rep_3) * (1.0 - rep_4) }
    }
}
