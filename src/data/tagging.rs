//! Frequency-tagging stimuli (HFTP, arXiv 2510.13255): four-word sentences `[Adj N] [V N]` —
//! two two-word phrases — concatenated into isochronous word streams, so that with one word per
//! sample the word, phrase and sentence levels repeat at fixed rates (4, 2 and 1 "Hz" at the
//! paper's 0.25 s per word).
//!
//! Three conditions, as in the paper's design:
//! - [`Condition::Structured`]: sentences in shuffled order, the hierarchy intact;
//! - [`Condition::ControlB`]: the same sentences with their words shuffled *within* each
//!   sentence so that no originally adjacent pair stays adjacent (the paper's control-B);
//! - [`Condition::RandomWords`]: words drawn from the whole lexicon with no structure at all.
//!
//! The ci lexicon is synthetic (disjoint word classes, one token per word); [`Lexicon::english`]
//! is a small real-word lexicon of our own for GPT-2 at full scale (the repository's corpus CSV
//! carries no licence and is not bundled).

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::{Error, Result};

/// Words per sentence: `Adj N V N`.
pub const SENTENCE_LEN: usize = 4;

/// A word's syntactic class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WordClass {
    Adj,
    Noun,
    Verb,
}

/// The class at each position of a sentence.
pub const TEMPLATE: [WordClass; SENTENCE_LEN] = [
    WordClass::Adj,
    WordClass::Noun,
    WordClass::Verb,
    WordClass::Noun,
];

/// Which stream a trial is drawn from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Condition {
    Structured,
    ControlB,
    RandomWords,
}

impl Condition {
    pub fn name(&self) -> &'static str {
        match self {
            Condition::Structured => "structured",
            Condition::ControlB => "control-B",
            Condition::RandomWords => "random words",
        }
    }
}

/// Words of each class. A word's id is its index in [`Lexicon::words`] (adjectives, then nouns,
/// then verbs); [`Lexicon::token_ids`] is offset by one so that id 0 is free for `<|endoftext|>`.
#[derive(Clone, Debug)]
pub struct Lexicon {
    pub adjs: Vec<String>,
    pub nouns: Vec<String>,
    pub verbs: Vec<String>,
}

impl Lexicon {
    /// A synthetic lexicon of `per_class` words per class (`adj0`, `noun0`, `verb0`, ...).
    pub fn synthetic(per_class: usize) -> Result<Lexicon> {
        if per_class < 2 {
            return Err(Error::Data(format!(
                "a tagging lexicon needs at least 2 words per class, got {per_class}"
            )));
        }
        let mk = |p: &str| (0..per_class).map(|i| format!("{p}{i}")).collect();
        Ok(Lexicon {
            adjs: mk("adj"),
            nouns: mk("noun"),
            verbs: mk("verb"),
        })
    }

    /// A small English lexicon of our own (24 per class, most of them one GPT-2 token with a
    /// leading space, some two or three) for the full-scale stream.
    pub fn english() -> Lexicon {
        let s = |w: &str| w.split_whitespace().map(String::from).collect::<Vec<_>>();
        Lexicon {
            adjs: s("fat old young small big red cold warm dark bright quiet loud brave calm wild tired happy angry clever gentle proud shy grumpy fearless"),
            nouns: s("rat cat dog boy girl king queen bird fish horse man woman child farmer doctor sailor baker wolf fox bear teacher student hedgehog walrus"),
            verbs: s("sensed saw heard liked hated found chased helped fed called kissed pushed pulled followed watched carried loved feared met taught thanked warned tickled scolded"),
        }
    }

    fn check(&self) -> Result<()> {
        for (c, v) in [
            ("adjective", &self.adjs),
            ("noun", &self.nouns),
            ("verb", &self.verbs),
        ] {
            if v.len() < 2 {
                return Err(Error::Data(format!(
                    "a tagging lexicon needs at least 2 words per class, got {} {c}s",
                    v.len()
                )));
            }
        }
        Ok(())
    }

    pub fn words(&self) -> Vec<&str> {
        self.adjs
            .iter()
            .chain(&self.nouns)
            .chain(&self.verbs)
            .map(String::as_str)
            .collect()
    }
    pub fn len(&self) -> usize {
        self.adjs.len() + self.nouns.len() + self.verbs.len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Vocabulary size of the one-token-per-word encoding: the words plus `<|endoftext|>` (id 0).
    pub fn vocab_size(&self) -> usize {
        self.len() + 1
    }
    fn class_range(&self, c: WordClass) -> (usize, usize) {
        let (a, n) = (self.adjs.len(), self.nouns.len());
        match c {
            WordClass::Adj => (0, a),
            WordClass::Noun => (a, a + n),
            WordClass::Verb => (a + n, self.len()),
        }
    }
    /// The class of word index `w`.
    pub fn class_of(&self, w: usize) -> WordClass {
        if w < self.adjs.len() {
            WordClass::Adj
        } else if w < self.adjs.len() + self.nouns.len() {
            WordClass::Noun
        } else {
            WordClass::Verb
        }
    }
    /// Word indices as tokens of the one-token-per-word encoding (`<|endoftext|>` is 0).
    pub fn token_ids(&self, words: &[usize]) -> Vec<u32> {
        words.iter().map(|&w| w as u32 + 1).collect()
    }
    /// The words as text, separated by spaces.
    pub fn text(&self, words: &[usize]) -> String {
        let all = self.words();
        words.iter().map(|&w| all[w]).collect::<Vec<_>>().join(" ")
    }
}

/// Draws sentences and streams from a lexicon; seeded, so the same seed gives the same streams.
pub struct TaggingStreams {
    pub lexicon: Lexicon,
    rng: StdRng,
}

impl TaggingStreams {
    pub fn new(lexicon: Lexicon, seed: u64) -> Result<TaggingStreams> {
        lexicon.check()?;
        Ok(TaggingStreams {
            lexicon,
            rng: StdRng::seed_from_u64(seed),
        })
    }

    /// One `Adj N V N` sentence (word indices), words uniform within their class.
    pub fn sentence(&mut self) -> [usize; SENTENCE_LEN] {
        let mut s = [0; SENTENCE_LEN];
        for (slot, c) in s.iter_mut().zip(TEMPLATE) {
            let (lo, hi) = self.lexicon.class_range(c);
            *slot = self.rng.random_range(lo..hi);
        }
        s
    }

    /// `n` distinct-where-possible sentences: the paper's fixed sentence set.
    pub fn sentence_set(&mut self, n: usize) -> Vec<[usize; SENTENCE_LEN]> {
        let mut out: Vec<[usize; SENTENCE_LEN]> = Vec::with_capacity(n);
        let mut tries = 0;
        while out.len() < n {
            let s = self.sentence();
            tries += 1;
            if !out.contains(&s) || tries > 100 * n {
                out.push(s);
            }
        }
        out
    }

    /// A control-B order of one sentence: a permutation of its four words in which no pair that
    /// was adjacent (in that order) stays adjacent, drawn uniformly among such permutations.
    pub fn control_b(&mut self, s: &[usize; SENTENCE_LEN]) -> [usize; SENTENCE_LEN] {
        let perms = control_b_permutations();
        let p = perms[self.rng.random_range(0..perms.len())];
        [s[p[0]], s[p[1]], s[p[2]], s[p[3]]]
    }

    /// One trial: `n_sentences` sentences of `set` in a fresh shuffled order (with replacement
    /// when `n_sentences` exceeds the set), in the given condition; word indices.
    pub fn trial(
        &mut self,
        set: &[[usize; SENTENCE_LEN]],
        n_sentences: usize,
        condition: Condition,
    ) -> Result<Vec<usize>> {
        if set.is_empty() || n_sentences == 0 {
            return Err(Error::EmptyInput(
                "a trial needs at least one sentence".into(),
            ));
        }
        let mut order: Vec<usize> = Vec::with_capacity(n_sentences);
        while order.len() < n_sentences {
            let mut idx: Vec<usize> = (0..set.len()).collect();
            idx.shuffle(&mut self.rng);
            order.extend(idx.into_iter().take(n_sentences - order.len()));
        }
        let mut words = Vec::with_capacity(n_sentences * SENTENCE_LEN);
        for i in order {
            match condition {
                Condition::Structured => words.extend(set[i]),
                Condition::ControlB => {
                    let s = self.control_b(&set[i]);
                    words.extend(s)
                }
                Condition::RandomWords => {
                    for _ in 0..SENTENCE_LEN {
                        words.push(self.rng.random_range(0..self.lexicon.len()));
                    }
                }
            }
        }
        Ok(words)
    }

    /// `n` trials of `n_sentences` sentences each.
    pub fn trials(
        &mut self,
        set: &[[usize; SENTENCE_LEN]],
        n: usize,
        n_sentences: usize,
        condition: Condition,
    ) -> Result<Vec<Vec<usize>>> {
        (0..n)
            .map(|_| self.trial(set, n_sentences, condition))
            .collect()
    }

    /// Training documents for a tiny model: `n_docs` streams of `n_sentences` fresh random
    /// sentences each (structured), as one-token-per-word ids.
    pub fn training_docs(&mut self, n_docs: usize, n_sentences: usize) -> Vec<Vec<u32>> {
        (0..n_docs)
            .map(|_| {
                let w: Vec<usize> = (0..n_sentences).flat_map(|_| self.sentence()).collect();
                self.lexicon.token_ids(&w)
            })
            .collect()
    }
}

/// Every permutation `p` of 0..4 (the sentence reordered as `s[p[0]], s[p[1]], ...`) that keeps
/// none of the ordered adjacent pairs (0,1), (1,2), (2,3) adjacent in that order.
pub fn control_b_permutations() -> Vec<[usize; SENTENCE_LEN]> {
    let mut out = vec![];
    for a in 0..4 {
        for b in 0..4 {
            for c in 0..4 {
                for d in 0..4 {
                    let p = [a, b, c, d];
                    let distinct = (0..4).all(|i| (i + 1..4).all(|j| p[i] != p[j]));
                    if distinct && p.windows(2).all(|w| w[1] != w[0] + 1) {
                        out.push(p);
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_follow_the_template_and_control_b_breaks_every_pair() {
        let mut g = TaggingStreams::new(Lexicon::synthetic(5).unwrap(), 3).unwrap();
        let set = g.sentence_set(20);
        for s in &set {
            for (i, &w) in s.iter().enumerate() {
                assert_eq!(g.lexicon.class_of(w), TEMPLATE[i]);
            }
        }
        // 11 of the 24 permutations of 4 keep no ordered adjacent pair (OEIS A000255(3))
        assert_eq!(control_b_permutations().len(), 11);
        let t = g.trial(&set, 20, Condition::ControlB).unwrap();
        let orig: Vec<usize> = g.trial(&set, 20, Condition::Structured).unwrap();
        assert_eq!(t.len(), 80);
        assert_eq!(orig.len(), 80);
        for chunk in t.chunks(4) {
            let s = set.iter().find(|s| {
                let mut a = s.to_vec();
                let mut b = chunk.to_vec();
                a.sort();
                b.sort();
                a == b
            });
            assert!(s.is_some());
        }
        assert!(matches!(
            g.trial(&set, 0, Condition::Structured),
            Err(Error::EmptyInput(_))
        ));
        assert!(Lexicon::synthetic(1).is_err());
    }
}
