//! The "impossible languages" of Kallini et al. 2024, *Mission: Impossible Language Models*
//! (official code: `jkallini/mission-impossible-language-models`, `utils.py` and
//! `data/perturb.py`), applied exactly to annotated sentences.
//!
//! Every language is the repository's triple **perturb / affect / filter**:
//! - *perturb* turns one sentence into GPT-2 token ids (markers included);
//! - *affect* says whether the perturbation changed the sentence (all sentences for the shuffle
//!   and reverse families; only sentences with a 3rd-person present finite verb for hop);
//! - *filter* says whether an affected sentence is kept (shuffle: 2–350 tokens; reverse: all;
//!   hop: every marker completed its 4 word hops, checked on the WordHop placement).
//!
//! and [`Perturber::process`] mirrors `data/perturb.py::process_line`: sentences with at most
//! one non-marker token are dropped, affected ones are kept when the filter passes, unaffected
//! ones are kept as they are. A training corpus is unaffected + affected sentences (each followed
//! by `<|endoftext|>` when packed, as `training/babylm_dataset.py` does); the test sets of the
//! perplexity and surprisal experiments use the affected sentences only.
//!
//! | family | language | what it does (per sentence) |
//! |---|---|---|
//! | shuffle | [`Language::NoShuffle`] | the GPT-2 tokens of the text, unchanged |
//! | | [`Language::NondeterministicShuffle`] | a fresh random permutation (one generator, seed 0, across the corpus) |
//! | | [`Language::DeterministicShuffle`]`(s)` | the permutation drawn by a generator freshly seeded with `s`: a function of the length only |
//! | | [`Language::LocalShuffle`]`(w)` | windows of `w` tokens, each permuted by a generator freshly seeded with 0 |
//! | | [`Language::EvenOddShuffle`] | tokens at even indices, then those at odd indices |
//! | reverse | [`Language::NoReverse`] | the marker 🅁 inserted at a random index `i ∈ 0..=n` (one generator, seed 21) |
//! | | [`Language::PartialReverse`] | the same, then the tokens after 🅁 reversed |
//! | | [`Language::FullReverse`] | the same, then the whole sequence (🅁 included) reversed |
//! | hop | [`Language::NoHop`] | every 3rd-person present verb lemmatised, 🅂 (singular) / 🄿 (plural) right after it |
//! | | [`Language::TokenHop`] | … the marker after the 4th GPT-2 token following the verb |
//! | | [`Language::WordHop`] | … the marker after the 4th word following the verb (punctuation and clitics skipped) |
//!
//! Details kept from the repository, on purpose:
//! - hop sentences are rebuilt from their words joined by single spaces (`" ".join(words)`),
//!   so punctuation carries a space (`walk to the park .`); clitics (`n't`, `'s`, ...) are glued
//!   to the word before. Shuffle and reverse languages tokenize the sentence text itself;
//! - markers are added tokens that swallow the space before them, so they never change the
//!   tokens around them;
//! - verbs are processed right to left, so when two verbs are close the earlier one's hop
//!   counts the later one's marker (as a word for WordHop, as a token for TokenHop). The hop
//!   filter excludes every sentence where that could change a placement;
//! - the generators are numpy's: [`NumpyRng`] is `numpy.random.default_rng(seed)` (SeedSequence
//!   and PCG64) with `Generator.shuffle` and `Generator.choice(n)` drawn exactly as numpy draws
//!   them, seeded per language as the repository does (nondeterministic shuffle 0, reverse 21,
//!   local shuffle 0 per window, deterministic shuffle 21/57/84). Same tokens in, same
//!   permutations and marker positions out as the repository's `perturb.py`.
//!
//! Marker ids follow the repository's hop tokenizer (🅂 = 50257, 🄿 = 50258); 🅁 is 50259 here
//! so that the three can share one vocabulary (the repository's separate reverse tokenizer
//! numbers it 50257; remap it when loading a released reverse model).
//!
//! ```
//! use gpt2lab::data::perturb::{shuffle_even_odd, shuffle_deterministic, reverse_at, Reversal, MARKER_REV_ID};
//! assert_eq!(shuffle_even_odd(&[0, 1, 2, 3, 4]), vec![0, 2, 4, 1, 3]);
//! assert_eq!(shuffle_deterministic(&[7, 8, 9], 21).len(), 3);
//! assert_eq!(reverse_at(&[1, 2, 3, 4], 1, Reversal::Partial), vec![1, MARKER_REV_ID, 4, 3, 2]);
//! ```

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::pcfg::{Number, Person, Pos, Sentence, Tense, VerbInfo, Word};
use crate::tokenizer::Gpt2Tokenizer;
use crate::{Error, Result};

/// The singular hop marker (`MARKER_HOP_SING` in the repository).
pub const MARKER_HOP_SING: &str = "🅂";
/// The plural hop marker (`MARKER_HOP_PLUR`).
pub const MARKER_HOP_PLUR: &str = "🄿";
/// The reversal marker (`MARKER_REV`).
pub const MARKER_REV: &str = "🅁";
/// GPT-2 id of 🅂: the first token added to GPT-2's 50257 (as in the repository's hop tokenizer).
pub const MARKER_SING_ID: u32 = 50257;
/// GPT-2 id of 🄿.
pub const MARKER_PLUR_ID: u32 = 50258;
/// GPT-2 id of 🅁 (50257 in the repository's own reverse tokenizer; see the module notes).
pub const MARKER_REV_ID: u32 = 50259;
/// Every marker id, for a vocabulary's specials.
pub const MARKER_IDS: [u32; 3] = [MARKER_SING_ID, MARKER_PLUR_ID, MARKER_REV_ID];
/// How far TokenHop and WordHop move the marker.
pub const HOPS: usize = 4;
/// The filter of the shuffle family keeps sentences of `SHUFFLE_MIN_TOKENS..=SHUFFLE_MAX_TOKENS`.
pub const SHUFFLE_MIN_TOKENS: usize = 2;
pub const SHUFFLE_MAX_TOKENS: usize = 350;
/// The repository's `PART_TOKENS`: clitics, glued to the word before and not counted as words.
pub const CLITICS: [&str; 6] = ["n't", "'ll", "'s", "'re", "'ve", "'m"];
/// Seed of the one generator behind [`Language::NondeterministicShuffle`].
pub const NONDETERMINISTIC_SEED: u64 = 0;
/// Seed of the one generator that places the reversal marker.
pub const REVERSE_SEED: u64 = 21;
/// Seed of the per-window generator of [`Language::LocalShuffle`].
pub const LOCAL_SHUFFLE_SEED: u64 = 0;

/// The marker string of a marker id, `None` for other ids.
pub fn marker_str(id: u32) -> Option<&'static str> {
    match id {
        MARKER_SING_ID => Some(MARKER_HOP_SING),
        MARKER_PLUR_ID => Some(MARKER_HOP_PLUR),
        MARKER_REV_ID => Some(MARKER_REV),
        _ => None,
    }
}

/// Whether `id` is one of the three markers.
pub fn is_marker(id: u32) -> bool {
    MARKER_IDS.contains(&id)
}

/// The hop marker for a verb's number.
pub fn hop_marker_id(n: Number) -> u32 {
    match n {
        Number::Singular => MARKER_SING_ID,
        Number::Plural => MARKER_PLUR_ID,
    }
}

fn is_clitic(text: &str) -> bool {
    CLITICS.contains(&text)
}

/// The repository's punctuation test: every character is ASCII punctuation.
fn is_punct_text(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_punctuation())
}

// ------------------------------------------------------------------------------------------------
// numpy's default_rng

/// `numpy.random.default_rng(seed)`, bit for bit: a PCG64 (XSL-RR 128/64) generator seeded
/// through numpy's `SeedSequence`, with the two draws the repository makes — `shuffle` (numpy's
/// Fisher–Yates from the last index down, `random_interval` masked rejection) and `choice(n)`
/// (`integers(0, n)`, Lemire's bounded method). Checked against numpy 2.4 in `tests/perturb.rs`.
///
/// ```
/// use gpt2lab::data::perturb::NumpyRng;
/// let mut t = vec![0, 1, 2];
/// NumpyRng::new(0).shuffle(&mut t); // numpy: default_rng(0).shuffle([0, 1, 2]) -> [2, 0, 1]
/// assert_eq!(t, vec![2, 0, 1]);
/// ```
#[derive(Clone, Debug)]
pub struct NumpyRng {
    state: u128,
    inc: u128,
    /// PCG64's `next_uint32` hands out both halves of one 64-bit output.
    buffered: Option<u32>,
}

const PCG_MULT: u128 = 0x2360_ED05_1FC6_5DA4_4385_DF64_9FCC_F645;

/// numpy's `SeedSequence(seed).generate_state(4, np.uint64)`.
pub fn seed_sequence_state(seed: u64) -> [u64; 4] {
    const INIT_A: u32 = 0x43b0_d7e5;
    const MULT_A: u32 = 0x931e_8875;
    const INIT_B: u32 = 0x8b51_f9dd;
    const MULT_B: u32 = 0x58f3_8ded;
    const MIX_MULT_L: u32 = 0xca01_f9dd;
    const MIX_MULT_R: u32 = 0x4973_f715;
    const XSHIFT: u32 = 16;
    let entropy: Vec<u32> = if seed == 0 { vec![0] } else { (0..2).map(|k| (seed >> (32 * k)) as u32).take(if seed >> 32 == 0 { 1 } else { 2 }).collect() };
    let mut hash_const = INIT_A;
    let mut hashmix = |value: u32| -> u32 {
        let mut v = value ^ hash_const;
        hash_const = hash_const.wrapping_mul(MULT_A);
        v = v.wrapping_mul(hash_const);
        v ^ (v >> XSHIFT)
    };
    let mix = |x: u32, y: u32| -> u32 {
        let r = MIX_MULT_L.wrapping_mul(x).wrapping_sub(MIX_MULT_R.wrapping_mul(y));
        r ^ (r >> XSHIFT)
    };
    let mut pool = [0u32; 4];
    for (i, slot) in pool.iter_mut().enumerate() {
        *slot = hashmix(entropy.get(i).copied().unwrap_or(0));
    }
    for src in 0..4 {
        for dst in 0..4 {
            if src != dst {
                let h = hashmix(pool[src]);
                pool[dst] = mix(pool[dst], h);
            }
        }
    }
    for &e in entropy.iter().skip(4) {
        for slot in pool.iter_mut() {
            let h = hashmix(e);
            *slot = mix(*slot, h);
        }
    }
    let mut hc = INIT_B;
    let mut words = [0u32; 8];
    for (i, w) in words.iter_mut().enumerate() {
        let mut v = pool[i % 4] ^ hc;
        hc = hc.wrapping_mul(MULT_B);
        v = v.wrapping_mul(hc);
        *w = v ^ (v >> XSHIFT);
    }
    [0, 1, 2, 3].map(|k| words[2 * k] as u64 | (words[2 * k + 1] as u64) << 32)
}

impl NumpyRng {
    /// `numpy.random.default_rng(seed)`.
    pub fn new(seed: u64) -> Self {
        let s = seed_sequence_state(seed);
        let init_state = (s[0] as u128) << 64 | s[1] as u128;
        let init_seq = (s[2] as u128) << 64 | s[3] as u128;
        let mut r = NumpyRng { state: 0, inc: (init_seq << 1) | 1, buffered: None };
        r.step();
        r.state = r.state.wrapping_add(init_state);
        r.step();
        r
    }

    fn step(&mut self) {
        self.state = self.state.wrapping_mul(PCG_MULT).wrapping_add(self.inc);
    }

    /// One raw 64-bit output (`PCG64.random_raw()`).
    pub fn next_u64(&mut self) -> u64 {
        self.step();
        let (hi, lo) = ((self.state >> 64) as u64, self.state as u64);
        (hi ^ lo).rotate_right((hi >> 58) as u32)
    }

    /// numpy's `next_uint32`: the low half of a fresh output, then its high half.
    pub fn next_u32(&mut self) -> u32 {
        if let Some(u) = self.buffered.take() {
            return u;
        }
        let x = self.next_u64();
        self.buffered = Some((x >> 32) as u32);
        x as u32
    }

    /// numpy's `random_interval(max)`: uniform in `0..=max` by masked rejection.
    pub fn interval(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        let mask = u64::MAX >> max.leading_zeros();
        if max <= u32::MAX as u64 {
            loop {
                let v = self.next_u32() as u64 & mask;
                if v <= max {
                    return v;
                }
            }
        }
        loop {
            let v = self.next_u64() & mask;
            if v <= max {
                return v;
            }
        }
    }

    /// `Generator.shuffle(x)` for a list: for `i` from the last index down to 1, swap `x[i]` with
    /// `x[interval(i)]`.
    pub fn shuffle<T>(&mut self, xs: &mut [T]) {
        for i in (1..xs.len()).rev() {
            let j = self.interval(i as u64) as usize;
            xs.swap(i, j);
        }
    }

    /// `Generator.choice(n)` = `integers(0, n)`: uniform in `0..n` (Lemire's method; no draw when
    /// `n == 1`). Panics when `n == 0`, as numpy raises.
    pub fn choice(&mut self, n: u64) -> u64 {
        assert!(n > 0, "choice: n must be positive");
        let rng = n - 1;
        if rng == 0 {
            return 0;
        }
        if rng <= u32::MAX as u64 {
            if rng == u32::MAX as u64 {
                return self.next_u32() as u64;
            }
            let excl = rng + 1;
            let mut m = self.next_u32() as u64 * excl;
            if (m as u32 as u64) < excl {
                let threshold = (u32::MAX as u64 - rng) % excl;
                while (m as u32 as u64) < threshold {
                    m = self.next_u32() as u64 * excl;
                }
            }
            return m >> 32;
        }
        if rng == u64::MAX {
            return self.next_u64();
        }
        let excl = rng as u128 + 1;
        let mut m = self.next_u64() as u128 * excl;
        if (m as u64 as u128) < excl {
            let threshold = ((u64::MAX - rng) as u128) % excl;
            while (m as u64 as u128) < threshold {
                m = self.next_u64() as u128 * excl;
            }
        }
        (m >> 64) as u64
    }
}

// ------------------------------------------------------------------------------------------------
// Languages

/// The three classes of the paper's Figure 1 / Table 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Family {
    Shuffle,
    Reverse,
    Hop,
}

impl Family {
    pub fn name(self) -> &'static str {
        match self {
            Family::Shuffle => "*Shuffle",
            Family::Reverse => "*Reverse",
            Family::Hop => "*Hop",
        }
    }
}

/// One impossible (or control) language of the paper.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Language {
    /// The English control of the shuffle family.
    NoShuffle,
    /// A fresh permutation for every sentence.
    NondeterministicShuffle,
    /// One permutation per sentence length, drawn with this seed (the paper uses 21, 57, 84).
    DeterministicShuffle(u64),
    /// Permutations inside consecutive windows of this many tokens (the paper: 3, 5, 10).
    LocalShuffle(usize),
    /// Even-index tokens, then odd-index tokens.
    EvenOddShuffle,
    /// The English control of the reverse family (marker inserted, nothing reversed).
    NoReverse,
    /// Tokens after the marker reversed.
    PartialReverse,
    /// The whole marked sequence reversed.
    FullReverse,
    /// The English control of the hop family: the marker right after the verb.
    NoHop,
    /// The marker 4 tokens after the verb.
    TokenHop,
    /// The marker 4 words after the verb.
    WordHop,
}

impl Language {
    /// The 15 languages of the paper, in its order.
    pub const PAPER: [Language; 15] = [
        Language::NoShuffle,
        Language::NondeterministicShuffle,
        Language::DeterministicShuffle(21),
        Language::DeterministicShuffle(57),
        Language::DeterministicShuffle(84),
        Language::LocalShuffle(3),
        Language::LocalShuffle(5),
        Language::LocalShuffle(10),
        Language::EvenOddShuffle,
        Language::NoReverse,
        Language::PartialReverse,
        Language::FullReverse,
        Language::NoHop,
        Language::TokenHop,
        Language::WordHop,
    ];

    pub fn family(self) -> Family {
        use Language::*;
        match self {
            NoShuffle | NondeterministicShuffle | DeterministicShuffle(_) | LocalShuffle(_) | EvenOddShuffle => Family::Shuffle,
            NoReverse | PartialReverse | FullReverse => Family::Reverse,
            NoHop | TokenHop | WordHop => Family::Hop,
        }
    }

    /// The family's English control (NoShuffle, NoReverse, NoHop).
    pub fn is_control(self) -> bool {
        matches!(self, Language::NoShuffle | Language::NoReverse | Language::NoHop)
    }

    /// The paper's name: `NoShuffle`, `DeterministicShuffle(s=21)`, `LocalShuffle(w=3)`, ...
    pub fn name(self) -> String {
        match self {
            Language::DeterministicShuffle(s) => format!("DeterministicShuffle(s={s})"),
            Language::LocalShuffle(w) => format!("LocalShuffle(w={w})"),
            other => format!("{other:?}"),
        }
    }

    /// The key in the repository's `PERTURBATIONS` (`shuffle_control`, `hop_words4`, ...).
    pub fn repo_key(self) -> String {
        use Language::*;
        match self {
            NoShuffle => "shuffle_control".into(),
            NondeterministicShuffle => "shuffle_nondeterministic".into(),
            DeterministicShuffle(s) => format!("shuffle_deterministic{s}"),
            LocalShuffle(w) => format!("shuffle_local{w}"),
            EvenOddShuffle => "shuffle_even_odd".into(),
            NoReverse => "reverse_control".into(),
            PartialReverse => "reverse_partial".into(),
            FullReverse => "reverse_full".into(),
            NoHop => "hop_control".into(),
            TokenHop => format!("hop_tokens{HOPS}"),
            WordHop => format!("hop_words{HOPS}"),
        }
    }

    /// The repository's `model_upload_name` (`no-shuffle`, `word-hop`, ...), the name of the
    /// released checkpoints.
    pub fn upload_name(self) -> String {
        use Language::*;
        match self {
            NoShuffle => "no-shuffle".into(),
            NondeterministicShuffle => "nondeterministic-shuffle".into(),
            DeterministicShuffle(s) => format!("deterministic-shuffle-s{s}"),
            LocalShuffle(w) => format!("local-shuffle-w{w}"),
            EvenOddShuffle => "even-odd-shuffle".into(),
            NoReverse => "no-reverse".into(),
            PartialReverse => "partial-reverse".into(),
            FullReverse => "full-reverse".into(),
            NoHop => "no-hop".into(),
            TokenHop => "token-hop".into(),
            WordHop => "word-hop".into(),
        }
    }

    /// The repository's plot colour for the language.
    pub fn color(self) -> &'static str {
        use Language::*;
        match self {
            NoShuffle | NoReverse | NoHop => "#606060",
            NondeterministicShuffle => "#E8384F",
            DeterministicShuffle(57) => "#8db000",
            DeterministicShuffle(84) => "#62BB35",
            DeterministicShuffle(_) => "#FFB000",
            LocalShuffle(5) => "#4178BC",
            LocalShuffle(10) => "#AA71FF",
            LocalShuffle(_) => "#208EA3",
            EvenOddShuffle => "#E37CFF",
            PartialReverse => "#E5A836",
            FullReverse => "#A348A6",
            TokenHop => "#fa8128",
            WordHop => "#03a0ff",
        }
    }

    /// The marker ids the language uses.
    pub fn marker_ids(self) -> &'static [u32] {
        match self.family() {
            Family::Shuffle => &[],
            Family::Reverse => &[MARKER_REV_ID],
            Family::Hop => &[MARKER_SING_ID, MARKER_PLUR_ID],
        }
    }

    /// Parses [`Language::name`], [`Language::repo_key`] or [`Language::upload_name`].
    pub fn parse(s: &str) -> Result<Language> {
        let s = s.trim();
        let mut all: Vec<Language> = Language::PAPER.to_vec();
        // any seed / window written out
        if let Some(n) = s.strip_prefix("shuffle_deterministic").or_else(|| s.strip_prefix("deterministic-shuffle-s")) {
            if let Ok(v) = n.parse() {
                all.push(Language::DeterministicShuffle(v));
            }
        }
        if let Some(n) = s.strip_prefix("shuffle_local").or_else(|| s.strip_prefix("local-shuffle-w")) {
            if let Ok(v) = n.parse() {
                all.push(Language::LocalShuffle(v));
            }
        }
        all.into_iter()
            .find(|l| l.name().eq_ignore_ascii_case(s) || l.repo_key() == s || l.upload_name() == s)
            .ok_or_else(|| Error::Msg(format!("unknown impossible language {s:?}; e.g. NoShuffle, shuffle_local3, word-hop")))
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

// ------------------------------------------------------------------------------------------------
// Token-level perturbations (shuffle and reverse families)

/// `tokens` permuted by a generator freshly seeded with `seed`: the permutation depends only on
/// the length, so equal-length sentences are permuted the same way.
pub fn shuffle_deterministic(tokens: &[u32], seed: u64) -> Vec<u32> {
    let mut t = tokens.to_vec();
    NumpyRng::new(seed).shuffle(&mut t);
    t
}

/// `tokens` permuted by `rng`, which advances (a different permutation every call).
pub fn shuffle_nondeterministic(tokens: &[u32], rng: &mut NumpyRng) -> Vec<u32> {
    let mut t = tokens.to_vec();
    rng.shuffle(&mut t);
    t
}

/// Consecutive windows of `window` tokens (the last one possibly shorter), each permuted by a
/// generator freshly seeded with `seed`. Tokens never leave their window.
pub fn shuffle_local(tokens: &[u32], seed: u64, window: usize) -> Vec<u32> {
    let window = window.max(1);
    tokens.chunks(window).flat_map(|w| shuffle_deterministic(w, seed)).collect()
}

/// The tokens at even indices, then those at odd indices.
pub fn shuffle_even_odd(tokens: &[u32]) -> Vec<u32> {
    tokens.iter().step_by(2).chain(tokens.iter().skip(1).step_by(2)).copied().collect()
}

/// What the reverse family does after inserting the marker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Reversal {
    /// NoReverse: nothing.
    None,
    /// PartialReverse: the tokens after the marker.
    Partial,
    /// FullReverse: the whole sequence, marker included.
    Full,
}

/// Inserts 🅁 at index `i` (`0..=tokens.len()`) and applies `kind`.
///
/// # Panics
/// When `i > tokens.len()`.
pub fn reverse_at(tokens: &[u32], i: usize, kind: Reversal) -> Vec<u32> {
    let mut t = tokens.to_vec();
    t.insert(i, MARKER_REV_ID);
    match kind {
        Reversal::None => {}
        Reversal::Partial => t[i + 1..].reverse(),
        Reversal::Full => t.reverse(),
    }
    t
}

/// [`reverse_at`] at an index drawn uniformly from `0..=tokens.len()` by `rng`
/// (`rng.choice(len(tokens) + 1)`).
pub fn reverse(tokens: &[u32], rng: &mut NumpyRng, kind: Reversal) -> Vec<u32> {
    let i = rng.choice(tokens.len() as u64 + 1) as usize;
    reverse_at(tokens, i, kind)
}

// ------------------------------------------------------------------------------------------------
// Hop perturbations (word level, then tokens)

/// One element of a hop sentence: a word (verbs already lemmatised), punctuation, a clitic or a
/// marker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HopPiece {
    Word(String),
    Punct(String),
    /// `n't`, `'s`, ...: glued to the word before, not counted as a word.
    Clitic(String),
    Marker(Number),
}

impl HopPiece {
    fn of_word(w: &Word) -> HopPiece {
        if w.pos == Pos::Punct || is_punct_text(&w.text) {
            HopPiece::Punct(w.text.clone())
        } else if is_clitic(&w.text) {
            HopPiece::Clitic(w.text.clone())
        } else {
            HopPiece::Word(w.text.clone())
        }
    }
    /// Has an alphanumeric character (Python's `any(c.isalnum())`; markers do not).
    fn is_alnum(&self) -> bool {
        match self {
            HopPiece::Word(t) | HopPiece::Punct(t) | HopPiece::Clitic(t) => t.chars().any(|c| c.is_alphanumeric()),
            HopPiece::Marker(_) => false,
        }
    }
    /// Skipped without counting by the word hop: punctuation and clitics.
    fn is_skipped(&self) -> bool {
        matches!(self, HopPiece::Punct(_) | HopPiece::Clitic(_))
    }
    /// The text this piece contributes (markers as their glyph).
    pub fn text(&self) -> &str {
        match self {
            HopPiece::Word(t) | HopPiece::Punct(t) | HopPiece::Clitic(t) => t,
            HopPiece::Marker(Number::Singular) => MARKER_HOP_SING,
            HopPiece::Marker(Number::Plural) => MARKER_HOP_PLUR,
        }
    }
}

/// Whether the hop family marks this word: a 3rd-person present finite verb
/// (`__affect_hop_word`: Person=3, Tense=Pres, VerbForm=Fin, Number present).
pub fn is_hop_verb(w: &Word) -> bool {
    w.verb.as_ref().is_some_and(VerbInfo::is_third_person_present)
}

/// The hop family's *affect* function: the sentence has a verb to mark.
pub fn affect_hop(s: &Sentence) -> bool {
    s.words.iter().any(is_hop_verb)
}

/// The sentence as hop pieces with every marked verb replaced by its lemma, and for each marked
/// verb its piece index and number, left to right.
fn lemmatised(s: &Sentence) -> (Vec<HopPiece>, Vec<(usize, Number)>) {
    let mut pieces = Vec::with_capacity(s.len() + 2);
    let mut verbs = Vec::new();
    for w in &s.words {
        match w.verb.as_ref().filter(|v| v.is_third_person_present()) {
            Some(v) => {
                verbs.push((pieces.len(), v.number));
                pieces.push(HopPiece::Word(v.lemma.clone()));
            }
            None => pieces.push(HopPiece::of_word(w)),
        }
    }
    (pieces, verbs)
}

/// The WordHop placement (`__perturb_hop_words_complete_hops`): every marked verb lemmatised and
/// its marker put after the `hops`-th word that follows it, punctuation and clitics not
/// counted, verbs processed right to left. With `hops = 4` the marker of `walks` in
/// `he walks to the big house .` lands after `house`.
///
/// Returns the pieces and whether every marker completed its hops (the hop family's *filter*;
/// false when the sentence has no marked verb).
pub fn hop_words(s: &Sentence, hops: usize) -> (Vec<HopPiece>, bool) {
    let (mut seq, verbs) = lemmatised(s);
    let mut all_complete = !verbs.is_empty();
    for &(v, number) in verbs.iter().rev() {
        let last = seq.len() - 1;
        let alnum_after = |seq: &[HopPiece], p: usize| seq[p + 1..].iter().any(HopPiece::is_alnum);
        // Walk right from the verb itself, counting words (the verb counts as the first).
        let (mut pos, mut skipped) = (v, 0);
        while skipped < hops && pos < last {
            if !alnum_after(&seq, pos) {
                break;
            }
            if !seq[pos].is_skipped() {
                skipped += 1;
            }
            pos += 1;
        }
        // Never land on punctuation or a clitic while words follow.
        if alnum_after(&seq, pos) {
            while pos != last && seq[pos].is_skipped() {
                pos += 1;
            }
        }
        // Keep a clitic with its word.
        if pos != last && matches!(seq[pos + 1], HopPiece::Clitic(_)) {
            pos += 1;
        }
        all_complete &= skipped == hops;
        seq.insert(pos + 1, HopPiece::Marker(number));
    }
    (seq, all_complete)
}

/// The hop family's *filter*: every marker of [`hop_words`]`(s, HOPS)` completes its hops.
pub fn filter_hop(s: &Sentence) -> bool {
    hop_words(s, HOPS).1
}

/// The space-joined text of hop pieces (`" ".join(merge_part_tokens(words))`), markers as glyphs.
pub fn hop_text(pieces: &[HopPiece]) -> String {
    let mut out = String::new();
    for (i, p) in pieces.iter().enumerate() {
        if i > 0 && !matches!(p, HopPiece::Clitic(_)) {
            out.push(' ');
        }
        out.push_str(p.text());
    }
    out
}

/// The GPT-2 text segments of hop pieces, as `" ".join(merge_part_tokens(words))` tokenizes
/// them: a word with the clitics after it glued on (`don't` is one segment, tokenized ` don` `'t`),
/// a leading space except at the start, markers as their ids (added tokens that swallow the
/// space before them). Also returns the segment of each piece.
fn segments(pieces: &[HopPiece]) -> (Vec<std::result::Result<String, u32>>, Vec<usize>) {
    let mut segs: Vec<std::result::Result<String, u32>> = Vec::with_capacity(pieces.len());
    let mut of_piece = Vec::with_capacity(pieces.len());
    for (i, p) in pieces.iter().enumerate() {
        match p {
            HopPiece::Marker(n) => segs.push(Err(hop_marker_id(*n))),
            HopPiece::Clitic(t) => match segs.last_mut() {
                Some(Ok(prev)) => prev.push_str(t),
                _ => segs.push(Ok(t.clone())),
            },
            other if i == 0 => segs.push(Ok(other.text().to_string())),
            other => segs.push(Ok(format!(" {}", other.text()))),
        }
        of_piece.push(segs.len() - 1);
    }
    (segs, of_piece)
}

/// The TokenHop placement (`__perturb_hop_tokens`): the sentence with its marked verbs
/// lemmatised, tokenized as space-joined words, and each verb's marker inserted after the
/// `hops`-th token that follows the verb (and a clitic glued to it), verbs right to left (a
/// marker past the end goes at the end). `hops = 0` is NoHop. `encode` tokenizes one text piece.
pub fn hop_tokens(s: &Sentence, hops: usize, mut encode: impl FnMut(&str) -> Result<Vec<u32>>) -> Result<Vec<u32>> {
    let (pieces, verbs) = lemmatised(s);
    let (segs, of_piece) = segments(&pieces);
    let mut tokens: Vec<u32> = Vec::new();
    // seg_end[k]: the token index just past segment k
    let mut seg_end = Vec::with_capacity(segs.len());
    for seg in segs {
        match seg {
            Ok(text) => tokens.extend(encode(&text)?),
            Err(id) => tokens.push(id),
        }
        seg_end.push(tokens.len());
    }
    // A clitic right after the verb is in the verb's segment (`lemma + new_sent[0]` in the
    // repository), so the hop starts after it.
    let ends: Vec<(usize, usize, Number)> = verbs.iter().map(|&(v, n)| (v, seg_end[of_piece[v]], n)).collect();
    for &(_, end, number) in ends.iter().rev() {
        let at = (end + hops).min(tokens.len());
        tokens.insert(at, hop_marker_id(number));
    }
    Ok(tokens)
}

// ------------------------------------------------------------------------------------------------
// The perturber: the triple, a tokenizer and the languages' generators

/// One sentence after [`Perturber::process`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Processed {
    /// GPT-2 ids, markers included.
    pub tokens: Vec<u32>,
    /// Whether the perturbation applies to the sentence (the *affect* function).
    pub affected: bool,
}

/// A perturbed corpus, split as the repository writes it.
#[derive(Clone, Debug, Default)]
pub struct PerturbedCorpus {
    pub language: Option<Language>,
    /// Affected sentences that passed the filter (the test sets use these).
    pub affected: Vec<Vec<u32>>,
    /// Sentences the perturbation leaves alone (kept in training sets).
    pub unaffected: Vec<Vec<u32>>,
    /// Sentences dropped by the filter or for having at most one non-marker token.
    pub dropped: usize,
}

impl PerturbedCorpus {
    /// The training documents: unaffected sentences, then affected ones (the repository's
    /// order; pack them with `<|endoftext|>` after each, e.g. [`super::TokenDataset::from_documents`]).
    pub fn train_documents(&self) -> Vec<Vec<u32>> {
        self.unaffected.iter().chain(&self.affected).cloned().collect()
    }
    /// Tokens in all kept sentences (no separators).
    pub fn n_tokens(&self) -> usize {
        self.unaffected.iter().chain(&self.affected).map(Vec::len).sum()
    }
    pub fn n_sentences(&self) -> usize {
        self.unaffected.len() + self.affected.len()
    }
}

/// One language's perturb / affect / filter with the GPT-2 tokenizer and the language's
/// generator state (the repository binds one `default_rng` per language, so two perturbers of
/// the same language built fresh give the same corpus).
///
/// ```no_run
/// use gpt2lab::data::{Pcfg, perturb::{Language, Perturber}};
/// let sentences = Pcfg::english_small().generate(1000, 0);
/// let mut p = Perturber::new(Language::WordHop).unwrap();
/// let corpus = p.corpus(&sentences).unwrap();
/// println!("{} affected, {} unaffected, {} dropped", corpus.affected.len(), corpus.unaffected.len(), corpus.dropped);
/// ```
pub struct Perturber {
    language: Language,
    tok: Gpt2Tokenizer,
    rng: NumpyRng,
    cache: HashMap<String, Vec<u32>>,
}

impl Perturber {
    /// With GPT-2's tokenizer shipped in `datasets/`.
    pub fn new(language: Language) -> Result<Self> {
        Ok(Self::with_tokenizer(language, Gpt2Tokenizer::gpt2()?))
    }

    /// With a given tokenizer (it must give raw GPT-2 ids, no compact vocabulary).
    pub fn with_tokenizer(language: Language, tok: Gpt2Tokenizer) -> Self {
        let seed = match language {
            Language::NondeterministicShuffle => NONDETERMINISTIC_SEED,
            _ => REVERSE_SEED,
        };
        Perturber { language, tok, rng: NumpyRng::new(seed), cache: HashMap::new() }
    }

    pub fn language(&self) -> Language {
        self.language
    }

    /// GPT-2 ids of a text piece, memoised (the PCFG has a few hundred word forms).
    fn encode_piece(&mut self, piece: &str) -> Result<Vec<u32>> {
        if let Some(t) = self.cache.get(piece) {
            return Ok(t.clone());
        }
        let t = self.tok.encode(piece)?;
        self.cache.insert(piece.to_string(), t.clone());
        Ok(t)
    }

    /// GPT-2 ids of a sentence's text ([`Sentence::to_text`]), word by word: GPT-2 splits text at
    /// spaces before BPE, so this equals encoding the text in one go.
    pub fn sentence_tokens(&mut self, s: &Sentence) -> Result<Vec<u32>> {
        let mut out = Vec::with_capacity(s.len() + 4);
        for piece in s.surface_forms() {
            out.extend(self.encode_piece(&piece)?);
        }
        Ok(out)
    }

    /// The language's *perturb* function on a sentence. Advances the language's generator for
    /// NondeterministicShuffle and the reverse family, like the repository.
    pub fn perturb(&mut self, s: &Sentence) -> Result<Vec<u32>> {
        match self.language {
            Language::NoHop => hop_tokens(s, 0, |p| self.encode_piece(p)),
            Language::TokenHop => hop_tokens(s, HOPS, |p| self.encode_piece(p)),
            Language::WordHop => {
                let (pieces, _) = hop_words(s, HOPS);
                let mut out = Vec::new();
                for p in segments(&pieces).0 {
                    match p {
                        Ok(text) => out.extend(self.encode_piece(&text)?),
                        Err(id) => out.push(id),
                    }
                }
                Ok(out)
            }
            _ => {
                let tokens = self.sentence_tokens(s)?;
                self.perturb_tokens(&tokens)
            }
        }
    }

    /// The shuffle and reverse families act on the GPT-2 tokens of the text: this is their
    /// *perturb* on tokens (an error for the hop family, which needs the annotated words).
    pub fn perturb_tokens(&mut self, tokens: &[u32]) -> Result<Vec<u32>> {
        Ok(match self.language {
            Language::NoShuffle => tokens.to_vec(),
            Language::NondeterministicShuffle => shuffle_nondeterministic(tokens, &mut self.rng),
            Language::DeterministicShuffle(seed) => shuffle_deterministic(tokens, seed),
            Language::LocalShuffle(w) => shuffle_local(tokens, LOCAL_SHUFFLE_SEED, w),
            Language::EvenOddShuffle => shuffle_even_odd(tokens),
            Language::NoReverse => reverse(tokens, &mut self.rng, Reversal::None),
            Language::PartialReverse => reverse(tokens, &mut self.rng, Reversal::Partial),
            Language::FullReverse => reverse(tokens, &mut self.rng, Reversal::Full),
            l @ (Language::NoHop | Language::TokenHop | Language::WordHop) => {
                return Err(Error::Msg(format!("{l} needs annotated words (verbs, number): use Perturber::perturb on a Sentence")))
            }
        })
    }

    /// The *perturb* of the shuffle and reverse families on raw text (full scale: BabyLM lines).
    pub fn perturb_text(&mut self, text: &str) -> Result<Vec<u32>> {
        let tokens = self.tok.encode(text)?;
        self.perturb_tokens(&tokens)
    }

    /// The language's *affect* function.
    pub fn affect(&self, s: &Sentence) -> bool {
        match self.language.family() {
            Family::Shuffle | Family::Reverse => true,
            Family::Hop => affect_hop(s),
        }
    }

    /// The language's *filter* function (meaningful for affected sentences).
    pub fn filter(&mut self, s: &Sentence) -> Result<bool> {
        Ok(match self.language.family() {
            Family::Shuffle => {
                let n = self.sentence_tokens(s)?.len();
                (SHUFFLE_MIN_TOKENS..=SHUFFLE_MAX_TOKENS).contains(&n)
            }
            Family::Reverse => true,
            Family::Hop => filter_hop(s),
        })
    }

    /// `process_line` for one sentence: perturb (always, so generators advance as in the
    /// repository), drop it with at most one non-marker token, then keep it when unaffected or
    /// when affected and the filter passes. `None`: dropped.
    pub fn process(&mut self, s: &Sentence) -> Result<Option<Processed>> {
        let tokens = self.perturb(s)?;
        if tokens.iter().filter(|&&t| !is_marker(t)).count() <= 1 {
            return Ok(None);
        }
        let affected = self.affect(s);
        if affected && !self.filter(s)? {
            return Ok(None);
        }
        Ok(Some(Processed { tokens, affected }))
    }

    /// Every sentence through [`Perturber::process`].
    pub fn corpus(&mut self, sentences: &[Sentence]) -> Result<PerturbedCorpus> {
        let mut c = PerturbedCorpus { language: Some(self.language), ..Default::default() };
        for s in sentences {
            match self.process(s)? {
                Some(p) if p.affected => c.affected.push(p.tokens),
                Some(p) => c.unaffected.push(p.tokens),
                None => c.dropped += 1,
            }
        }
        Ok(c)
    }

    /// Raw text lines (full scale, shuffle and reverse families only) through the same steps:
    /// every line is affected; the shuffle filter keeps 2–350 tokens.
    pub fn corpus_from_texts<S: AsRef<str>>(&mut self, lines: &[S]) -> Result<PerturbedCorpus> {
        let mut c = PerturbedCorpus { language: Some(self.language), ..Default::default() };
        for line in lines {
            let text = line.as_ref();
            let n = self.tok.encode(text)?.len();
            let tokens = self.perturb_text(text)?;
            let keep = tokens.iter().filter(|&&t| !is_marker(t)).count() > 1
                && (self.language.family() != Family::Shuffle || (SHUFFLE_MIN_TOKENS..=SHUFFLE_MAX_TOKENS).contains(&n));
            if keep {
                c.affected.push(tokens);
            } else {
                c.dropped += 1;
            }
        }
        Ok(c)
    }

    /// Readable tokens: each id decoded, markers as their glyphs.
    pub fn str_tokens(&self, ids: &[u32]) -> Result<Vec<String>> {
        str_tokens(&self.tok, ids)
    }
}

/// Each GPT-2 id as its text, markers as their glyphs (`tok` must give raw GPT-2 ids).
pub fn str_tokens(tok: &Gpt2Tokenizer, ids: &[u32]) -> Result<Vec<String>> {
    ids.iter().map(|&i| marker_str(i).map(|m| Ok(m.to_string())).unwrap_or_else(|| tok.decode(&[i]))).collect()
}

/// GPT-2 ids decoded to text, markers as glyphs (with the space a marker swallowed).
pub fn decode_with_markers(tok: &Gpt2Tokenizer, ids: &[u32]) -> Result<String> {
    let mut out = String::new();
    let mut run = Vec::new();
    for &i in ids {
        match marker_str(i) {
            Some(m) => {
                out.push_str(&tok.decode(&run)?);
                run.clear();
                out.push(' ');
                out.push_str(m);
            }
            None => run.push(i),
        }
    }
    out.push_str(&tok.decode(&run)?);
    Ok(out)
}

// ------------------------------------------------------------------------------------------------
// Full scale: BabyLM text and Stanza-tagged sentences

/// The non-empty lines of every file in `dir` whose name ends with `ext` (BabyLM's `*.train`,
/// `*.dev`, `*.test`), files in name order. BabyLM is not bundled (mixed licences): download it
/// yourself. The repository splits lines into sentences with Stanza; lines are used as they are
/// here, which only matters for the shuffle filter's length bound.
pub fn read_babylm_lines(dir: impl AsRef<Path>, ext: &str) -> Result<Vec<String>> {
    let dir = dir.as_ref();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(ext)))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Error::EmptyInput(format!("no *{ext} files in {}", dir.display())));
    }
    let mut lines = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|e| Error::io(&f, e))?;
        lines.extend(text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from));
    }
    Ok(lines)
}

/// Sentences of the repository's Stanza-tagged JSON (`data/tag.py` output, `*_dep.json`: a list
/// of lines, each with `sent_annotations`, each with `sent_text` and `word_annotations` holding
/// `text`, `lemma`, `upos`, `feats`), as `(sent_text, Sentence)`. Only what the perturbations
/// read is kept: a word gets [`VerbInfo`] when its features are Person=3, Tense=Pres,
/// VerbForm=Fin with a Number (the words the hop family marks); other verbs keep `verb: None`.
/// This is how Hop runs at full scale: tag BabyLM with the repository's Python script first.
pub fn read_stanza_json(path: impl AsRef<Path>) -> Result<Vec<(String, Sentence)>> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let data: serde_json::Value = serde_json::from_str(&text).map_err(|e| Error::Config { path: path.display().to_string(), msg: e.to_string() })?;
    let bad = |what: &str| Error::Config { path: path.display().to_string(), msg: format!("expected {what}") };
    let mut out = Vec::new();
    for line in data.as_array().ok_or_else(|| bad("a JSON list of lines"))? {
        let sents = line.get("sent_annotations").and_then(|v| v.as_array()).ok_or_else(|| bad("`sent_annotations` lists"))?;
        for s in sents {
            let sent_text = s.get("sent_text").and_then(|v| v.as_str()).unwrap_or_default().to_string();
            let words = s.get("word_annotations").and_then(|v| v.as_array()).ok_or_else(|| bad("`word_annotations` lists"))?;
            let mut ws = Vec::with_capacity(words.len());
            for w in words {
                let get = |k: &str| w.get(k).and_then(|v| v.as_str()).unwrap_or_default();
                let feats: HashMap<&str, &str> = get("feats").split('|').filter_map(|f| f.split_once('=')).collect();
                let number = match feats.get("Number") {
                    Some(&"Sing") => Some(Number::Singular),
                    Some(&"Plur") => Some(Number::Plural),
                    _ => None,
                };
                let person = match feats.get("Person") {
                    Some(&"1") => Some(Person::First),
                    Some(&"2") => Some(Person::Second),
                    Some(&"3") => Some(Person::Third),
                    _ => None,
                };
                let pos = match get("upos") {
                    "DET" => Pos::Det,
                    "ADJ" => Pos::Adj,
                    "NOUN" => Pos::Noun,
                    "PROPN" => Pos::Name,
                    "PRON" => Pos::Pronoun,
                    "VERB" | "AUX" => Pos::Verb,
                    "ADP" => Pos::Prep,
                    "ADV" => Pos::Adv,
                    "SCONJ" => Pos::Comp,
                    "CCONJ" => Pos::Conj,
                    "PUNCT" => Pos::Punct,
                    _ => Pos::Adv,
                };
                let text = get("text").to_string();
                let lemma = w.get("lemma").and_then(|v| v.as_str()).unwrap_or(&text).to_string();
                let marked = person == Some(Person::Third) && feats.get("Tense") == Some(&"Pres") && feats.get("VerbForm") == Some(&"Fin");
                let verb = match (marked, number) {
                    (true, Some(n)) => Some(VerbInfo { lemma, tense: Tense::Present, number: n, person: Person::Third, subject: 0 }),
                    _ => None,
                };
                ws.push(Word { text, pos, number, person, verb });
            }
            out.push((sent_text, Sentence { words: ws }));
        }
    }
    Ok(out)
}
