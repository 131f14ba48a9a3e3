//! Multiple-choice prompts built on indirect-object-identification (IOI) sentences, with the
//! gold answer's position under control (anchored bias, arXiv 2405.03205).
//!
//! One item, word-level, fixed length for a given number of options:
//!
//! ```text
//! question : then Mary and John went to the park . Mary gave a ball to ? choices : A : John B : Mary C : Anna answer : A
//! ```
//!
//! The gold option is the indirect object (the name not repeated); the other options are the
//! subject and a distractor name. [`GoldPolicy`] says where the gold goes: `Biased` puts it at
//! "A" with probability `p_first` (the constructed prior a tiny model is trained on), `Balanced`
//! cycles through the positions, `Fixed` always uses one. Seeded: the same seed gives the same
//! items.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::text_tokenizers::{TextTokenizer, WordTokenizer, WordTokenizerConfig};
use crate::{Error, Result};

pub const MCQ_NAMES: [&str; 20] = [
    "Mary", "John", "Anna", "Tom", "Lucy", "Sam", "Kate", "Ben", "Emma", "Jack", "Lily", "Max",
    "Rose", "Dan", "Jane", "Paul", "Nora", "Leo", "Ruth", "Carl",
];
pub const MCQ_PLACES: [&str; 8] = [
    "park", "store", "school", "beach", "station", "garden", "market", "lake",
];
pub const MCQ_OBJECTS: [&str; 8] = [
    "ball", "book", "ring", "cake", "hat", "kite", "drink", "toy",
];
/// Option labels, in order (the paper's " A", " B", …).
pub const MCQ_LETTERS: [&str; 4] = ["A", "B", "C", "D"];
const FRAME: [&str; 13] = [
    "question", ":", "then", "and", "went", "to", "the", ".", "gave", "a", "?", "choices", "answer",
];

/// Where the gold option goes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum GoldPolicy {
    /// Gold at "A" with probability `p_first`, otherwise uniformly at one of the others.
    Biased { p_first: f64 },
    /// Item `i` has its gold at position `i mod n_options`.
    Balanced,
    /// Always at this position.
    Fixed(usize),
}

/// One multiple-choice item.
#[derive(Clone, Debug, PartialEq)]
pub struct McqItem {
    /// The prompt's words, up to and including the final `:` after "answer".
    pub prompt: Vec<String>,
    /// The option names in order (A, B, …).
    pub options: Vec<String>,
    /// Index of the gold option.
    pub gold: usize,
    /// Positions in `prompt` of each option's letter and of its name.
    pub letter_pos: Vec<usize>,
    pub option_pos: Vec<usize>,
}

impl McqItem {
    /// The gold letter ("A", "B", …).
    pub fn gold_letter(&self) -> &'static str {
        MCQ_LETTERS[self.gold]
    }
    /// The prompt followed by the gold letter (a training document).
    pub fn full_text(&self) -> String {
        format!("{} {}", self.prompt.join(" "), self.gold_letter())
    }
    pub fn prompt_text(&self) -> String {
        self.prompt.join(" ")
    }
    /// The position whose next token is the answer (the last prompt position).
    pub fn answer_pos(&self) -> usize {
        self.prompt.len() - 1
    }
}

/// The generator: a fixed number of options (2–4) and a word tokenizer over the whole world.
#[derive(Clone, Debug)]
pub struct McqGen {
    pub n_options: usize,
    tokenizer: WordTokenizer,
}

impl McqGen {
    pub fn new(n_options: usize) -> Result<Self> {
        if !(2..=4).contains(&n_options) {
            return Err(Error::Data(format!(
                "McqGen: n_options must be 2, 3 or 4 (got {n_options})"
            )));
        }
        // every word of the world once: the vocabulary does not depend on the sampled items
        let all: Vec<&str> = FRAME
            .iter()
            .chain(&MCQ_NAMES)
            .chain(&MCQ_PLACES)
            .chain(&MCQ_OBJECTS)
            .chain(&MCQ_LETTERS)
            .copied()
            .collect();
        let tokenizer = WordTokenizer::fit(
            &all.join(" "),
            &WordTokenizerConfig {
                lowercase: false,
                min_count: 1,
                max_words: None,
            },
        );
        Ok(McqGen {
            n_options,
            tokenizer,
        })
    }

    pub fn tokenizer(&self) -> &WordTokenizer {
        &self.tokenizer
    }

    /// Token ids of the option letters A, B, … (as many as options).
    pub fn letter_ids(&self) -> Vec<u32> {
        MCQ_LETTERS[..self.n_options]
            .iter()
            .map(|l| {
                self.tokenizer
                    .id_of(l)
                    .expect("letters are in the vocabulary")
            })
            .collect()
    }

    /// Tokens per prompt (same for every item).
    pub fn prompt_len(&self) -> usize {
        19 + 3 * self.n_options + 2
    }

    /// `n` items, gold placed by `policy`, seeded.
    pub fn generate(&self, n: usize, policy: GoldPolicy, seed: u64) -> Result<Vec<McqItem>> {
        if let GoldPolicy::Fixed(k) = policy {
            if k >= self.n_options {
                return Err(Error::Data(format!(
                    "McqGen: gold position {k} with {} options",
                    self.n_options
                )));
            }
        }
        if let GoldPolicy::Biased { p_first } = policy {
            if !(0.0..=1.0).contains(&p_first) {
                return Err(Error::Data(format!(
                    "McqGen: p_first must be in [0, 1] (got {p_first})"
                )));
            }
        }
        let mut rng = StdRng::seed_from_u64(seed);
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let mut pool = MCQ_NAMES.to_vec();
            pool.shuffle(&mut rng);
            let names: Vec<&str> = pool[..3].to_vec();
            let (subj, io, other) = (names[0], names[1], names[2]);
            let place = MCQ_PLACES[rng.random_range(0..MCQ_PLACES.len())];
            let obj = MCQ_OBJECTS[rng.random_range(0..MCQ_OBJECTS.len())];
            let (first, second) = if rng.random_bool(0.5) {
                (subj, io)
            } else {
                (io, subj)
            };
            let gold = match policy {
                GoldPolicy::Fixed(k) => k,
                GoldPolicy::Balanced => i % self.n_options,
                GoldPolicy::Biased { p_first } => {
                    if rng.random_bool(p_first) {
                        0
                    } else {
                        rng.random_range(1..self.n_options)
                    }
                }
            };
            // the other options: the subject, then distractors, shuffled around the gold
            let mut rest: Vec<&str> = vec![subj, other];
            let mut extra = MCQ_NAMES
                .iter()
                .copied()
                .filter(|n| !names.contains(n))
                .collect::<Vec<_>>();
            extra.shuffle(&mut rng);
            rest.extend(extra.into_iter().take(self.n_options.saturating_sub(3)));
            rest.truncate(self.n_options - 1);
            rest.shuffle(&mut rng);
            rest.insert(gold, io);
            let mut prompt: Vec<String> = "question : then".split(' ').map(String::from).collect();
            prompt.extend(
                [
                    first, "and", second, "went", "to", "the", place, ".", subj, "gave", "a", obj,
                    "to", "?", "choices", ":",
                ]
                .iter()
                .map(|s| s.to_string()),
            );
            let (mut letter_pos, mut option_pos) = (vec![], vec![]);
            for (k, name) in rest.iter().enumerate() {
                letter_pos.push(prompt.len());
                prompt.push(MCQ_LETTERS[k].to_string());
                prompt.push(":".into());
                option_pos.push(prompt.len());
                prompt.push(name.to_string());
            }
            prompt.push("answer".into());
            prompt.push(":".into());
            out.push(McqItem {
                prompt,
                options: rest.iter().map(|s| s.to_string()).collect(),
                gold,
                letter_pos,
                option_pos,
            });
        }
        Ok(out)
    }

    /// Token ids of prompts `(n, prompt_len)` row-major, and the gold letters' ids.
    pub fn encode_prompts(&self, items: &[McqItem]) -> Result<(Vec<u32>, Vec<u32>)> {
        let letters = self.letter_ids();
        let mut ids = Vec::with_capacity(items.len() * self.prompt_len());
        for it in items {
            let t = self.tokenizer.encode(&it.prompt_text())?;
            if t.len() != self.prompt_len() || it.options.len() != self.n_options {
                return Err(Error::Data(format!(
                    "McqGen: an item of {} tokens and {} options, expected {} and {}",
                    t.len(),
                    it.options.len(),
                    self.prompt_len(),
                    self.n_options
                )));
            }
            ids.extend(t);
        }
        Ok((ids, items.iter().map(|it| letters[it.gold]).collect()))
    }

    /// Training documents: each item's prompt and gold letter, as ids.
    pub fn documents(&self, items: &[McqItem]) -> Result<Vec<Vec<u32>>> {
        items
            .iter()
            .map(|it| self.tokenizer.encode(&it.full_text()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_have_fixed_layout_and_gold_is_the_indirect_object() {
        let g = McqGen::new(3).unwrap();
        let items = g.generate(200, GoldPolicy::Balanced, 3).unwrap();
        for (i, it) in items.iter().enumerate() {
            assert_eq!(it.prompt.len(), g.prompt_len());
            assert_eq!(it.gold, i % 3);
            let (a, b, subj) = (&it.prompt[3], &it.prompt[5], &it.prompt[11]);
            let io = if a == subj { b } else { a };
            assert_eq!(&it.options[it.gold], io, "{}", it.full_text());
            for k in 0..3 {
                assert_eq!(it.prompt[it.letter_pos[k]], MCQ_LETTERS[k]);
                assert_eq!(it.prompt[it.option_pos[k]], it.options[k]);
            }
            assert!(it.options.contains(subj));
        }
        let (ids, gold) = g.encode_prompts(&items).unwrap();
        assert_eq!(ids.len(), 200 * g.prompt_len());
        assert!(!ids.contains(&g.tokenizer().unk_id()));
        assert_eq!(gold[1], g.letter_ids()[1]);
    }

    #[test]
    fn biased_policy_puts_about_p_first_at_a() {
        let g = McqGen::new(4).unwrap();
        let items = g
            .generate(4000, GoldPolicy::Biased { p_first: 0.7 }, 1)
            .unwrap();
        let at_a = items.iter().filter(|i| i.gold == 0).count() as f64 / 4000.0;
        assert!((at_a - 0.7).abs() < 0.03, "{at_a}");
        assert!(items.iter().any(|i| i.gold == 3));
        assert_eq!(
            g.generate(5, GoldPolicy::Biased { p_first: 0.7 }, 1)
                .unwrap(),
            items[..5].to_vec()
        );
    }

    #[test]
    fn bad_settings_are_errors() {
        assert!(McqGen::new(5).is_err());
        let g = McqGen::new(2).unwrap();
        assert!(g.generate(3, GoldPolicy::Fixed(2), 0).is_err());
        assert!(g
            .generate(3, GoldPolicy::Biased { p_first: 1.5 }, 0)
            .is_err());
    }
}
