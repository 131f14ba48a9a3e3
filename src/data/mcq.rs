//! Multiple-choice prompts with the gold answer's position under control (anchored bias,
//! arXiv 2405.03205).
//!
//! One item, word-level, fixed length for a given number of options:
//!
//! ```text
//! question : which one is a fruit ? choices : A hat B plum C dog answer : B
//! ```
//!
//! The gold option is the one fruit; the others are drawn from non-fruit words. [`GoldPolicy`]
//! says where the gold goes: `Biased` puts it at "A" with probability `p_first` (the
//! constructed prior a tiny model is trained on), `Balanced` cycles through the positions,
//! `Fixed` always uses one. Fruits are drawn with Zipf-like weights `1 / rank^zipf`
//! ([`McqGen::with_zipf`]; 0 = uniform): a model trained on such items knows the frequent
//! fruits well and the rare ones poorly, so held-out items (uniform fruits) mix confident and
//! uncertain answers — where a positional prior shows.
//!
//! (The paper's own data, `IOI.json`, are IOI sentences with names as options. A tiny model
//! trained for a minute does not learn to bind a name to its letter, measured here: it answers
//! with the prior alone; a per-token category is learnable in that budget.)
//!
//! Seeded: the same seed gives the same items.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::text_tokenizers::{TextTokenizer, WordTokenizer, WordTokenizerConfig};
use crate::{Error, Result};

/// Gold answers, most frequent first under a Zipf draw.
pub const MCQ_FRUITS: [&str; 12] = ["apple", "pear", "plum", "grape", "lemon", "mango", "peach", "cherry", "melon", "kiwi", "lime", "fig"];
/// Distractors.
pub const MCQ_OTHERS: [&str; 24] = [
    "hat", "dog", "car", "book", "cat", "ball", "cup", "shoe", "tree", "boat", "lamp", "desk", "bird", "rock", "door", "pen", "fish", "bed", "coat", "drum", "key", "bus", "sock",
    "kite",
];
/// Option labels, in order (the paper's " A", " B", …).
pub const MCQ_LETTERS: [&str; 4] = ["A", "B", "C", "D"];
const FRAME: [&str; 9] = ["question", ":", "which", "one", "is", "a", "fruit", "?", "choices"];

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
    /// The options in order (A, B, …).
    pub options: Vec<String>,
    /// Index of the gold option.
    pub gold: usize,
    /// Positions in `prompt` of each option's letter and of its word.
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

/// The generator: a fixed number of options (2–4), fruit frequencies, and a word tokenizer
/// over the whole world.
#[derive(Clone, Debug)]
pub struct McqGen {
    pub n_options: usize,
    /// Fruit `r` (0-based rank) is drawn with weight `1 / (r + 1)^zipf`.
    pub zipf: f64,
    tokenizer: WordTokenizer,
}

impl McqGen {
    pub fn new(n_options: usize) -> Result<Self> {
        if !(2..=4).contains(&n_options) {
            return Err(Error::Data(format!("McqGen: n_options must be 2, 3 or 4 (got {n_options})")));
        }
        // every word of the world once: the vocabulary does not depend on the sampled items
        let all: Vec<&str> = FRAME.iter().chain(&["answer"]).chain(&MCQ_FRUITS).chain(&MCQ_OTHERS).chain(&MCQ_LETTERS).copied().collect();
        let tokenizer = WordTokenizer::fit(&all.join(" "), &WordTokenizerConfig { lowercase: false, min_count: 1, max_words: None });
        Ok(McqGen { n_options, zipf: 0.0, tokenizer })
    }

    /// The same world with fruits drawn with weights `1 / rank^zipf` (0: uniform).
    pub fn with_zipf(mut self, zipf: f64) -> Result<Self> {
        if !(0.0..=10.0).contains(&zipf) {
            return Err(Error::Data(format!("McqGen: zipf must be in [0, 10] (got {zipf})")));
        }
        self.zipf = zipf;
        Ok(self)
    }

    pub fn tokenizer(&self) -> &WordTokenizer {
        &self.tokenizer
    }

    /// Token ids of the option letters A, B, … (as many as options).
    pub fn letter_ids(&self) -> Vec<u32> {
        MCQ_LETTERS[..self.n_options].iter().map(|l| self.tokenizer.id_of(l).expect("letters are in the vocabulary")).collect()
    }

    /// Tokens per prompt (same for every item).
    pub fn prompt_len(&self) -> usize {
        FRAME.len() + 1 + 2 * self.n_options + 2
    }

    fn fruit(&self, rng: &mut StdRng) -> &'static str {
        let w: Vec<f64> = (0..MCQ_FRUITS.len()).map(|r| 1.0 / ((r + 1) as f64).powf(self.zipf)).collect();
        let mut u = rng.random::<f64>() * w.iter().sum::<f64>();
        for (r, x) in w.iter().enumerate() {
            if u < *x {
                return MCQ_FRUITS[r];
            }
            u -= x;
        }
        MCQ_FRUITS[MCQ_FRUITS.len() - 1]
    }

    /// `n` items, gold placed by `policy`, seeded.
    pub fn generate(&self, n: usize, policy: GoldPolicy, seed: u64) -> Result<Vec<McqItem>> {
        match policy {
            GoldPolicy::Fixed(k) if k >= self.n_options => return Err(Error::Data(format!("McqGen: gold position {k} with {} options", self.n_options))),
            GoldPolicy::Biased { p_first } if !(0.0..=1.0).contains(&p_first) => return Err(Error::Data(format!("McqGen: p_first must be in [0, 1] (got {p_first})"))),
            _ => {}
        }
        let mut rng = StdRng::seed_from_u64(seed);
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
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
            let mut others = MCQ_OTHERS.to_vec();
            others.shuffle(&mut rng);
            let mut options: Vec<&str> = others[..self.n_options - 1].to_vec();
            options.insert(gold, self.fruit(&mut rng));
            let mut prompt: Vec<String> = FRAME.iter().map(|s| s.to_string()).collect();
            prompt.push(":".into());
            let (mut letter_pos, mut option_pos) = (vec![], vec![]);
            for (k, w) in options.iter().enumerate() {
                letter_pos.push(prompt.len());
                prompt.push(MCQ_LETTERS[k].to_string());
                option_pos.push(prompt.len());
                prompt.push(w.to_string());
            }
            prompt.push("answer".into());
            prompt.push(":".into());
            out.push(McqItem { prompt, options: options.iter().map(|s| s.to_string()).collect(), gold, letter_pos, option_pos });
        }
        Ok(out)
    }

    /// Token ids of prompts `(n, prompt_len)` row-major, and the gold letters' ids.
    pub fn encode_prompts(&self, items: &[McqItem]) -> Result<(Vec<u32>, Vec<u32>)> {
        let letters = self.letter_ids();
        let mut ids = Vec::with_capacity(items.len() * self.prompt_len());
        for it in items {
            let t = self.tokenizer.encode(&it.prompt_text())?;
            if t.len() != self.prompt_len() || it.options.len() != self.n_options || it.gold >= self.n_options {
                return Err(Error::Data(format!("McqGen: an item of {} tokens and {} options, expected {} and {}", t.len(), it.options.len(), self.prompt_len(), self.n_options)));
            }
            ids.extend(t);
        }
        Ok((ids, items.iter().map(|it| letters[it.gold]).collect()))
    }

    /// Training documents: each item's prompt and gold letter, as ids.
    pub fn documents(&self, items: &[McqItem]) -> Result<Vec<Vec<u32>>> {
        items.iter().map(|it| self.tokenizer.encode(&it.full_text())).collect()
    }
}

/// A multiple-choice prompt in the text layout of the paper's `IOI.json`:
///
/// ```text
/// Question: Then, Stephen and Samantha had a lot of fun at the station. Stephen gave a necklace to? Answer Choices: A: Stephen B: Samantha Answer:
/// ```
///
/// with the byte offsets of each option letter and option text in `text`, so a BPE encoding
/// can find their tokens (the anchor " A" and the gold letter, for the attention swap).
#[derive(Clone, Debug, PartialEq)]
pub struct TextMcq {
    pub text: String,
    pub options: Vec<String>,
    /// Index of the gold option (0 = "A").
    pub gold: usize,
    /// Byte offset in `text` of each option's letter ("A" of "A: Stephen").
    pub letter_at: Vec<usize>,
    /// Byte offset in `text` of each option's text.
    pub option_at: Vec<usize>,
}

/// The marker before the options and the text after them, as in `IOI.json`.
pub const CHOICES_MARKER: &str = "Answer Choices:";
pub const ANSWER_MARKER: &str = "Answer:";

impl TextMcq {
    /// Parses one prompt and its gold `label` ("A", "B", …): the choices follow the last
    /// `Answer Choices:`, are labelled `A:`, `B:`, … in order (at most 4), and the prompt ends
    /// with `Answer:`. `index` names the item in the error.
    pub fn parse(index: usize, text: &str, label: &str) -> Result<TextMcq> {
        let bad = |msg: String| Error::McqItem { index, msg };
        let trimmed = text.trim_end();
        let Some(end) = trimmed.strip_suffix(ANSWER_MARKER).map(str::len) else {
            return Err(bad(format!("the prompt does not end with {ANSWER_MARKER:?}")));
        };
        let Some(start) = trimmed[..end].rfind(CHOICES_MARKER).map(|i| i + CHOICES_MARKER.len()) else {
            return Err(bad(format!("no {CHOICES_MARKER:?} before the final {ANSWER_MARKER:?}")));
        };
        // the choices region, split at whitespace; a word "X:" with X the next letter opens an option
        let region = &trimmed[start..end];
        let mut words: Vec<(usize, &str)> = vec![];
        let mut i = 0;
        for w in region.split_whitespace() {
            let at = region[i..].find(w).map(|k| k + i).unwrap_or(i);
            words.push((start + at, w));
            i = at + w.len();
        }
        let (mut options, mut letter_at, mut option_at): (Vec<String>, Vec<usize>, Vec<usize>) = (vec![], vec![], vec![]);
        let mut spans: Vec<(usize, usize)> = vec![]; // option text span in `text`
        for (at, w) in words {
            let next = MCQ_LETTERS.get(options.len()).map(|l| format!("{l}:"));
            if next.as_deref() == Some(w) {
                letter_at.push(at);
                options.push(String::new());
                spans.push((at + w.len(), at + w.len()));
            } else if !spans.is_empty() {
                let opened = option_at.len() < spans.len();
                let span = spans.last_mut().expect("not empty");
                if opened {
                    option_at.push(at);
                    span.0 = at;
                }
                span.1 = at + w.len();
            } else {
                return Err(bad(format!("the choices start with {w:?}, not \"A:\"")));
            }
        }
        if options.len() < 2 {
            return Err(bad(format!("{} option(s) after {CHOICES_MARKER:?}; need at least 2 labelled A:, B:", options.len())));
        }
        if option_at.len() != options.len() {
            return Err(bad("an option letter with no text after it".into()));
        }
        for (o, (a, b)) in options.iter_mut().zip(&spans) {
            *o = trimmed[*a..*b].to_string();
        }
        let gold = MCQ_LETTERS[..options.len()]
            .iter()
            .position(|l| *l == label.trim())
            .ok_or_else(|| bad(format!("label {label:?} is not one of the letters {:?}", &MCQ_LETTERS[..options.len()])))?;
        Ok(TextMcq { text: text.to_string(), options, gold, letter_at, option_at })
    }

    pub fn gold_letter(&self) -> &'static str {
        MCQ_LETTERS[self.gold]
    }
}

/// IOI-style multiple-choice questions in `IOI.json`'s layout, the project's own generator:
/// "Question: {IOI sentence with subject S and indirect object IO} {S} gave … to? Answer
/// Choices: A: … B: … Answer:". The gold is IO; the subject S is the other option the sentence
/// names, further options (up to 4) are names the sentence does not mention. Gold positions
/// cycle through A, B, … (balanced), unlike `IOI.json`, whose gold is always B with S at A.
#[derive(Clone, Debug)]
pub struct IoiMcqGen {
    pub n_options: usize,
}

/// Single-token (with a leading space) first names for [`IoiMcqGen`].
pub const IOI_NAMES: [&str; 24] = [
    "John", "Mary", "Tom", "James", "Sarah", "David", "Anna", "Paul", "Laura", "Mark", "Emma", "Peter", "Kate", "Michael", "Lisa", "Daniel", "Jane", "Steve", "Alice", "Chris",
    "Rachel", "Kevin", "Linda", "Brian",
];
pub const IOI_PLACES: [&str; 10] = ["store", "park", "school", "station", "hospital", "garden", "restaurant", "office", "library", "beach"];
pub const IOI_OBJECTS: [&str; 10] = ["book", "drink", "snack", "necklace", "ring", "kiss", "bone", "basketball", "computer", "flower"];
/// `{S}`, `{IO}`, `{P}` (place), `{O}` (object); each ends where the question mark goes.
pub const IOI_TEMPLATES: [&str; 6] = [
    "Then, {S} and {IO} went to the {P}. {S} gave a {O} to",
    "When {S} and {IO} got a {O} at the {P}, {S} decided to give it to",
    "After the lunch, {S} and {IO} went to the {P}. {S} gave a {O} to",
    "While {S} and {IO} were working at the {P}, {S} gave a {O} to",
    "Friends {S} and {IO} found a {O} at the {P}. {S} gave it to",
    "Afterwards, {S} and {IO} had a long talk at the {P}, and {S} handed a {O} to",
];

impl IoiMcqGen {
    pub fn new(n_options: usize) -> Result<Self> {
        if !(2..=4).contains(&n_options) {
            return Err(Error::Data(format!("IoiMcqGen: n_options must be 2, 3 or 4 (got {n_options})")));
        }
        Ok(IoiMcqGen { n_options })
    }

    /// `n` items with gold at position `i mod n_options` (balanced), seeded.
    pub fn generate(&self, n: usize, seed: u64) -> Result<Vec<TextMcq>> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let gold = i % self.n_options;
            let mut names = IOI_NAMES.to_vec();
            names.shuffle(&mut rng);
            let (s, io) = (names[0], names[1]);
            let t = IOI_TEMPLATES[rng.random_range(0..IOI_TEMPLATES.len())];
            let sentence = t
                .replace("{IO}", io)
                .replace("{S}", s)
                .replace("{P}", IOI_PLACES[rng.random_range(0..IOI_PLACES.len())])
                .replace("{O}", IOI_OBJECTS[rng.random_range(0..IOI_OBJECTS.len())]);
            // the other options in order S, then the distractors (IOI.json has S at A), the gold inserted at its position
            let mut rest: Vec<&str> = vec![s];
            rest.extend(&names[2..self.n_options]);
            let mut options: Vec<&str> = rest;
            options.insert(gold, io);
            let choices: Vec<String> = options.iter().enumerate().map(|(k, o)| format!("{}: {o}", MCQ_LETTERS[k])).collect();
            let text = format!("Question: {sentence}? {CHOICES_MARKER} {} {ANSWER_MARKER}", choices.join(" "));
            let item = TextMcq::parse(i, &text, MCQ_LETTERS[gold])?;
            debug_assert_eq!(item.options, options);
            out.push(item);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_have_fixed_layout_and_one_fruit() {
        let g = McqGen::new(3).unwrap();
        let items = g.generate(200, GoldPolicy::Balanced, 3).unwrap();
        for (i, it) in items.iter().enumerate() {
            assert_eq!(it.prompt.len(), g.prompt_len());
            assert_eq!(it.gold, i % 3);
            let fruits: Vec<usize> = (0..3).filter(|&k| MCQ_FRUITS.contains(&it.options[k].as_str())).collect();
            assert_eq!(fruits, vec![it.gold], "{}", it.full_text());
            for k in 0..3 {
                assert_eq!(it.prompt[it.letter_pos[k]], MCQ_LETTERS[k]);
                assert_eq!(it.prompt[it.option_pos[k]], it.options[k]);
            }
        }
        let (ids, gold) = g.encode_prompts(&items).unwrap();
        assert_eq!(ids.len(), 200 * g.prompt_len());
        assert!(!ids.contains(&g.tokenizer().unk_id()));
        assert_eq!(gold[1], g.letter_ids()[1]);
    }

    #[test]
    fn biased_policy_and_zipf_frequencies() {
        let g = McqGen::new(4).unwrap().with_zipf(1.5).unwrap();
        let items = g.generate(4000, GoldPolicy::Biased { p_first: 0.7 }, 1).unwrap();
        let at_a = items.iter().filter(|i| i.gold == 0).count() as f64 / 4000.0;
        assert!((at_a - 0.7).abs() < 0.03, "{at_a}");
        assert!(items.iter().any(|i| i.gold == 3));
        let count = |f: &str| items.iter().filter(|i| i.options[i.gold] == f).count() as f64;
        // weights 1 and 1/12^1.5 ≈ 0.024
        assert!(count("apple") > 20.0 * count("fig").max(1.0), "{} {}", count("apple"), count("fig"));
        assert_eq!(g.generate(5, GoldPolicy::Biased { p_first: 0.7 }, 1).unwrap(), items[..5].to_vec());
    }

    #[test]
    fn text_mcq_parses_the_ioi_json_layout() {
        let t = "Question: Then, Stephen and Samantha had a lot of fun at the station. Stephen gave a necklace to? Answer Choices: A: Stephen B: Samantha Answer:";
        let it = TextMcq::parse(0, t, "B").unwrap();
        assert_eq!(it.options, ["Stephen", "Samantha"]);
        assert_eq!(it.gold, 1);
        assert_eq!(&t[it.letter_at[0]..it.letter_at[0] + 2], "A:");
        assert_eq!(&t[it.letter_at[1]..it.letter_at[1] + 2], "B:");
        assert_eq!(&t[it.option_at[1]..it.option_at[1] + 8], "Samantha");
        // multi-word options keep their words
        let it = TextMcq::parse(0, "Question: who? Answer Choices: A: New York B: Paris C: Old Town Answer:", "C").unwrap();
        assert_eq!(it.options, ["New York", "Paris", "Old Town"]);
        for (text, label) in [
            ("Question: who? Answer Choices: A: x B: y", "A"),           // no final Answer:
            ("Question: who? A: x B: y Answer:", "A"),                   // no choices marker
            ("Question: who? Answer Choices: B: x A: y Answer:", "A"),   // letters out of order
            ("Question: who? Answer Choices: A: x Answer:", "A"),        // one option
            ("Question: who? Answer Choices: A: x B: Answer:", "A"),     // empty option
            ("Question: who? Answer Choices: A: x B: y Answer:", "C"),   // label not an option
        ] {
            assert!(matches!(TextMcq::parse(7, text, label), Err(Error::McqItem { index: 7, .. })), "{text}");
        }
    }

    #[test]
    fn ioi_generator_is_balanced_and_reparses() {
        let g = IoiMcqGen::new(3).unwrap();
        let items = g.generate(30, 4).unwrap();
        for (i, it) in items.iter().enumerate() {
            assert_eq!(it.gold, i % 3);
            assert_eq!(it.options.len(), 3);
            assert!(it.text.starts_with("Question: ") && it.text.ends_with(" Answer:"));
            // the gold (IO) is named in the sentence once, the subject twice, distractors never
            let sentence = &it.text[..it.text.find(CHOICES_MARKER).unwrap()];
            let count = |n: &str| sentence.matches(&format!("{n} ")).count() + sentence.matches(&format!("{n},")).count() + sentence.matches(&format!("{n}.")).count();
            assert_eq!(count(&it.options[it.gold]), 1, "{}", it.text);
            assert_eq!((0..3).filter(|&k| k != it.gold).map(|k| count(&it.options[k])).collect::<Vec<_>>().iter().filter(|&&c| c == 2).count(), 1, "{}", it.text);
        }
        assert_eq!(g.generate(30, 4).unwrap(), items);
        assert!(IoiMcqGen::new(1).is_err() && IoiMcqGen::new(5).is_err());
    }

    #[test]
    fn bad_settings_are_errors() {
        assert!(McqGen::new(5).is_err());
        let g = McqGen::new(2).unwrap();
        assert!(g.generate(3, GoldPolicy::Fixed(2), 0).is_err());
        assert!(g.generate(3, GoldPolicy::Biased { p_first: 1.5 }, 0).is_err());
        assert!(g.clone().with_zipf(-1.0).is_err());
    }
}
