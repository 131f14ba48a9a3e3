//! Indirect-object-identification (IOI) prompts from templates, as in Wang et al. 2022 and the
//! ARENA exercises: "When Mary and John went to the store, John gave a drink to" → " Mary".
//! One name occurs once (the indirect object, IO), the other twice (the subject: S1, then S2);
//! the answer is the IO. Half the prompts are ABBA (IO first), half BABA.
//!
//! A prompt is a list of words with the positions of IO, S1, S2 and the end; [`IoiVocab`] maps
//! the words to a tiny model's ids (ci scale), and [`IoiPrompt::gpt2_ids`] to GPT-2's (each word
//! with its leading space must be one GPT-2 token, checked, so the positions stay word positions).

use rand::{rngs::StdRng, Rng, SeedableRng};

use crate::tokenizer::Gpt2Tokenizer;
use crate::{Error, Result};

/// Names that are one GPT-2 token each with a leading space (ARENA's IOI name list, first 20).
pub const NAMES: [&str; 20] = [
    "Mary", "John", "Tom", "James", "Dan", "Sid", "Martin", "Amy", "Alex", "Paul", "Kate", "Anna", "Ben", "Lisa", "Jack", "Sarah", "Mark", "Laura", "David", "Emma",
];
pub const PLACES: [&str; 6] = ["store", "park", "school", "garden", "office", "station"];
pub const OBJECTS: [&str; 6] = ["drink", "book", "ball", "ring", "bag", "kiss"];
/// The templates: `{A}`, `{B}` the two names in order of first mention, `{S}` the repeated
/// subject, `{P}` a place, `{O}` an object. Every template has the same number of words, so a
/// batch of prompts shares its IO/S1/S2/end positions per template.
pub const TEMPLATES: [&str; 2] = [
    "When {A} and {B} went to the {P} , {S} gave a {O} to",
    "Then {A} and {B} met at the {P} . {S} gave a {O} to",
];

/// One IOI prompt: its words (without the answer) and where the names are.
#[derive(Clone, Debug, PartialEq)]
pub struct IoiPrompt {
    pub words: Vec<String>,
    pub io: String,
    pub s: String,
    /// Word positions of the IO, the first and the second subject mention, and the last word.
    pub io_pos: usize,
    pub s1_pos: usize,
    pub s2_pos: usize,
    pub end_pos: usize,
    pub template: usize,
}

impl IoiPrompt {
    /// The prompt in GPT-2 ids (BOS first when `bos`; then positions shift by one).
    pub fn gpt2_ids(&self, tok: &Gpt2Tokenizer, bos: bool) -> Result<Vec<u32>> {
        let mut out = if bos { vec![tok.bos_token_id()] } else { vec![] };
        for (i, w) in self.words.iter().enumerate() {
            let text = if i == 0 && !bos { w.clone() } else { format!(" {w}") };
            let ids = tok.encode(&text)?;
            if ids.len() != 1 {
                return Err(Error::Msg(format!("IOI word {text:?} is {} GPT-2 tokens, not one", ids.len())));
            }
            out.push(ids[0]);
        }
        Ok(out)
    }

    /// The GPT-2 ids of " IO" and " S".
    pub fn gpt2_answer_ids(&self, tok: &Gpt2Tokenizer) -> Result<(u32, u32)> {
        let one = |w: &str| -> Result<u32> {
            let ids = tok.encode(&format!(" {w}"))?;
            if ids.len() != 1 {
                return Err(Error::Msg(format!("IOI name {w:?} is {} GPT-2 tokens", ids.len())));
            }
            Ok(ids[0])
        };
        Ok((one(&self.io)?, one(&self.s)?))
    }
}

/// `n` prompts, seeded: template, names, place and object drawn uniformly; ABBA and BABA
/// alternate (prompt `i` is ABBA when `i` is even).
pub fn ioi_prompts(n: usize, seed: u64) -> Vec<IoiPrompt> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n).map(|i| ioi_prompt(&mut rng, i % 2 == 0)).collect()
}

/// One prompt from `rng` (ABBA when `abba`: the IO is named first).
pub fn ioi_prompt(rng: &mut StdRng, abba: bool) -> IoiPrompt {
    let template = rng.random_range(0..TEMPLATES.len());
    let io = NAMES[rng.random_range(0..NAMES.len())];
    let mut s = NAMES[rng.random_range(0..NAMES.len() - 1)];
    if s == io {
        s = NAMES[NAMES.len() - 1];
    }
    let (a, b) = if abba { (io, s) } else { (s, io) };
    let p = PLACES[rng.random_range(0..PLACES.len())];
    let o = OBJECTS[rng.random_range(0..OBJECTS.len())];
    let mut words = vec![];
    let (mut io_pos, mut s1_pos, mut s2_pos) = (0, 0, 0);
    for (i, w) in TEMPLATES[template].split(' ').enumerate() {
        let word = match w {
            "{A}" => a,
            "{B}" => b,
            "{S}" => s,
            "{P}" => p,
            "{O}" => o,
            w => w,
        };
        match w {
            "{A}" | "{B}" if word == io => io_pos = i,
            "{A}" | "{B}" => s1_pos = i,
            "{S}" => s2_pos = i,
            _ => {}
        }
        words.push(word.to_string());
    }
    let end_pos = words.len() - 1;
    IoiPrompt { words, io: io.into(), s: s.into(), io_pos, s1_pos, s2_pos, end_pos, template }
}

/// Every word the templates can produce, in a fixed order (template words, names, places,
/// objects): a tiny model's word vocabulary.
pub fn ioi_words() -> Vec<String> {
    let mut out: Vec<String> = vec![];
    for t in TEMPLATES {
        for w in t.split(' ') {
            if !w.starts_with('{') && !out.iter().any(|x| x == w) {
                out.push(w.into());
            }
        }
    }
    for w in NAMES.iter().chain(&PLACES).chain(&OBJECTS) {
        out.push(w.to_string());
    }
    out
}

/// Word ⇄ id for a tiny model: id `offset + i` for word `i` of [`ioi_words`].
#[derive(Clone, Debug)]
pub struct IoiVocab {
    pub words: Vec<String>,
    pub offset: u32,
}

impl IoiVocab {
    pub fn new(offset: u32) -> IoiVocab {
        IoiVocab { words: ioi_words(), offset }
    }
    pub fn len(&self) -> usize {
        self.words.len()
    }
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }
    pub fn id(&self, word: &str) -> Result<u32> {
        self.words
            .iter()
            .position(|w| w == word)
            .map(|i| self.offset + i as u32)
            .ok_or_else(|| Error::Msg(format!("word {word:?} is not in the IOI vocabulary")))
    }
    pub fn ids(&self, p: &IoiPrompt) -> Result<Vec<u32>> {
        p.words.iter().map(|w| self.id(w)).collect()
    }
    pub fn word(&self, id: u32) -> Option<&str> {
        id.checked_sub(self.offset).and_then(|i| self.words.get(i as usize)).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_have_one_io_and_a_repeated_subject() {
        for p in ioi_prompts(200, 3) {
            assert_eq!(p.words[p.io_pos], p.io);
            assert_eq!(p.words[p.s1_pos], p.s);
            assert_eq!(p.words[p.s2_pos], p.s);
            assert_ne!(p.io, p.s);
            assert_eq!(p.words.iter().filter(|w| **w == p.io).count(), 1);
            assert_eq!(p.words.iter().filter(|w| **w == p.s).count(), 2);
            assert!(p.s1_pos < p.s2_pos && p.s2_pos < p.end_pos && p.words[p.end_pos] == "to");
        }
        let ps = ioi_prompts(4, 1);
        assert!(ps[0].io_pos < ps[0].s1_pos && ps[1].io_pos > ps[1].s1_pos, "ABBA then BABA");
        assert_eq!(ioi_prompts(10, 7), ioi_prompts(10, 7));
    }

    #[test]
    fn vocab_round_trips() {
        let v = IoiVocab::new(5);
        for p in ioi_prompts(20, 0) {
            let ids = v.ids(&p).unwrap();
            let back: Vec<&str> = ids.iter().map(|&i| v.word(i).unwrap()).collect();
            assert_eq!(back, p.words.iter().map(String::as_str).collect::<Vec<_>>());
        }
        assert!(v.id("Zebra").is_err());
        assert_eq!(v.word(4), None);
    }
}
