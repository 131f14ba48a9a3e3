//! Five synthetic "languages" from one latent grammar, for multilingual tokenizer and model
//! studies (mGPT's "five small models to choose the tokenizer", at ci scale).
//!
//! Every sentence is drawn from MiniEnglish ([`Pcfg::english_small`]) and rendered in one of:
//!
//! | code | language | how it differs |
//! |---|---|---|
//! | `lat` | Latin-script, analytic | a relexification ([`Relexifier`]): own stems, function words apart |
//! | `agg` | agglutinative | another lexicon; determiners and prepositions are stacked as suffixes on the next noun, name or pronoun (`in the dogs` → `bafoulkain`) |
//! | `cyr` | other script | `lat` transliterated into Cyrillic (2 UTF-8 bytes a letter) |
//! | `num` | numeral-heavy | another lexicon; every determiner is a count (`1`, or 2–999 for plurals) and every sentence ends with a year |
//! | `low` | low-resource | another lexicon, 5% of the documents |
//!
//! Documents are either running text (a few sentences) or, with probability `class_share`, a
//! **classification block**: lines `sentence → label`, where the label says whether the
//! sentence has a past-tense verb (`pa`) or only present ones (`ne`) (transliterated in `cyr`). These make
//! k-shot classification learnable in pretraining, as instruction-like data does at scale.
//!
//! ```
//! use gpt2lab::data::MultilingualGen;
//! let g = MultilingualGen::standard();
//! let c = g.corpus(50, 0);
//! assert_eq!(c.docs.len(), 50);
//! assert!(c.docs.iter().any(|d| d.lang == 2 && d.text.chars().any(|ch| ('а'..='я').contains(&ch))));
//! ```

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::pcfg::bilingual::join_words;
use super::{Pcfg, Pos, Relexifier, Sentence, Tense};
use crate::{Error, Result};

/// How a language renders a sentence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LangKind {
    Analytic,
    Agglutinative,
    /// The first analytic language in Cyrillic.
    Transliterated,
    Numeral,
}

/// One language: its code, rendering, lexicon seed and share of the documents.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LangSpec {
    pub code: String,
    pub name: String,
    pub kind: LangKind,
    pub lexicon_seed: u64,
    pub share: f64,
}

/// The arrow between a sentence and its label in classification blocks.
pub const ARROW: &str = " →";
/// Label words (Latin script): past, present.
pub const LABELS: [&str; 2] = ["pa", "ne"];

/// A sentence of one language with its label (0: a past-tense verb, 1: present only).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassItem {
    pub lang: usize,
    pub text: String,
    pub label: usize,
}

/// A document and its language (index into the generator's languages).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Doc {
    pub lang: usize,
    pub text: String,
    /// A classification block rather than running text.
    pub block: bool,
}

/// A generated corpus.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MultilingualCorpus {
    pub docs: Vec<Doc>,
}

impl MultilingualCorpus {
    /// The texts of every document.
    pub fn texts(&self) -> Vec<String> {
        self.docs.iter().map(|d| d.text.clone()).collect()
    }
    /// The texts of language `lang`'s documents.
    pub fn texts_of(&self, lang: usize) -> Vec<String> {
        self.docs.iter().filter(|d| d.lang == lang).map(|d| d.text.clone()).collect()
    }
    /// Documents per language (`n` languages).
    pub fn counts(&self, n: usize) -> Vec<usize> {
        let mut c = vec![0; n];
        for d in &self.docs {
            if d.lang < n {
                c[d.lang] += 1;
            }
        }
        c
    }
}

/// The generator: the grammar, the languages and their lexicons.
#[derive(Clone)]
pub struct MultilingualGen {
    pub langs: Vec<LangSpec>,
    relex: Vec<Relexifier>,
    grammar: Pcfg,
    /// Share of documents that are classification blocks.
    pub class_share: f64,
    /// Sentences per running-text document and lines per classification block.
    pub sentences_per_doc: usize,
}

fn spec(code: &str, name: &str, kind: LangKind, lexicon_seed: u64, share: f64) -> LangSpec {
    LangSpec {
        code: code.into(),
        name: name.into(),
        kind,
        lexicon_seed,
        share,
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Latin → Cyrillic, letter by letter (`sh` → `ш`); case is kept, other characters pass.
pub fn to_cyrillic(text: &str) -> String {
    let map = |c: char| -> Option<char> {
        Some(match c {
            'a' => 'а',
            'b' => 'б',
            'c' => 'ц',
            'd' => 'д',
            'e' => 'е',
            'f' => 'ф',
            'g' => 'г',
            'h' => 'х',
            'i' => 'и',
            'j' => 'й',
            'k' => 'к',
            'l' => 'л',
            'm' => 'м',
            'n' => 'н',
            'o' => 'о',
            'p' => 'п',
            'q' => 'к',
            'r' => 'р',
            's' => 'с',
            't' => 'т',
            'u' => 'у',
            'v' => 'в',
            'w' => 'в',
            'x' => 'х',
            'y' => 'ы',
            'z' => 'з',
            _ => return None,
        })
    };
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() * 2);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let lower = c.to_ascii_lowercase();
        let upper = c.is_ascii_uppercase();
        let (m, step) = if lower == 's' && chars.get(i + 1).is_some_and(|n| n.to_ascii_lowercase() == 'h') {
            (Some('ш'), 2)
        } else {
            (map(lower), 1)
        };
        match m {
            Some(m) if upper => out.extend(m.to_uppercase()),
            Some(m) => out.push(m),
            None => out.push(c),
        }
        i += step;
    }
    out
}

impl MultilingualGen {
    /// The five languages of the module docs, shares 35/25/15/20/5%, 30% of the documents
    /// classification blocks, 3 sentences (lines) a document.
    pub fn standard() -> Self {
        Self::new(
            vec![
                spec("lat", "Latin-script analytic", LangKind::Analytic, 101, 0.35),
                spec("agg", "agglutinative", LangKind::Agglutinative, 202, 0.25),
                spec("cyr", "Cyrillic (lat transliterated)", LangKind::Transliterated, 101, 0.15),
                spec("num", "numeral-heavy", LangKind::Numeral, 404, 0.20),
                spec("low", "low-resource", LangKind::Analytic, 505, 0.05),
            ],
            0.3,
        )
        .expect("the standard languages are valid")
    }

    /// A generator over `langs`. Typed errors: no language, a share that is not positive and
    /// finite, a `class_share` outside [0, 1].
    pub fn new(langs: Vec<LangSpec>, class_share: f64) -> Result<Self> {
        if langs.is_empty() {
            return Err(Error::EmptyInput("a multilingual generator needs at least one language".into()));
        }
        if let Some(l) = langs.iter().find(|l| !(l.share.is_finite() && l.share > 0.0)) {
            return Err(Error::Data(format!(
                "language {} has share {}; shares must be positive",
                l.code, l.share
            )));
        }
        if !(0.0..=1.0).contains(&class_share) {
            return Err(Error::Data(format!("class_share {class_share} is outside [0, 1]")));
        }
        let relex = langs.iter().map(|l| Relexifier::new(l.lexicon_seed)).collect();
        Ok(MultilingualGen {
            langs,
            relex,
            grammar: Pcfg::english_small(),
            class_share,
            sentences_per_doc: 3,
        })
    }

    pub fn n_langs(&self) -> usize {
        self.langs.len()
    }

    /// The language's index by code.
    pub fn lang_index(&self, code: &str) -> Result<usize> {
        self.langs
            .iter()
            .position(|l| l.code == code)
            .ok_or_else(|| Error::Data(format!("no language `{code}`")))
    }

    /// The two label words in language `lang`.
    pub fn label_words(&self, lang: usize) -> [String; 2] {
        LABELS.map(|w| match self.langs[lang].kind {
            LangKind::Transliterated => to_cyrillic(w),
            _ => w.to_string(),
        })
    }

    /// The label of a sentence: 0 when one of its verbs is in the past tense, 1 when all are
    /// present; None without a verb.
    pub fn label(s: &Sentence) -> Option<usize> {
        let mut verbs = s.verbs().peekable();
        verbs.peek()?;
        Some(if verbs.any(|(_, v)| v.tense == Tense::Past) { 0 } else { 1 })
    }

    /// The words' parts of speech in the relexified order (adjectives after their noun).
    fn ordered_pos(&self, lang: usize, s: &Sentence) -> Vec<Pos> {
        let ws = &s.words;
        let mut out = Vec::with_capacity(ws.len());
        let mut i = 0;
        while i < ws.len() {
            if self.relex[lang].adjective_after_noun && ws[i].pos == Pos::Adj && ws.get(i + 1).is_some_and(|n| n.pos == Pos::Noun) {
                out.extend([Pos::Noun, Pos::Adj]);
                i += 2;
            } else {
                out.push(ws[i].pos);
                i += 1;
            }
        }
        out
    }

    /// `s` in language `lang` (numerals drawn from `rng`).
    pub fn render(&self, lang: usize, s: &Sentence, rng: &mut StdRng) -> Result<String> {
        let spec = self
            .langs
            .get(lang)
            .ok_or_else(|| Error::Data(format!("language index {lang} of {}", self.langs.len())))?;
        let words = self.relex[lang].translate_words(s)?;
        let pos = self.ordered_pos(lang, s);
        if pos.len() != words.len() {
            return Err(Error::Data(format!("{} words for {} parts of speech", words.len(), pos.len())));
        }
        Ok(match spec.kind {
            LangKind::Analytic => join_words(&words),
            LangKind::Transliterated => to_cyrillic(&join_words(&words)),
            LangKind::Agglutinative => {
                let mut out: Vec<String> = vec![];
                let mut pending: Vec<String> = vec![];
                for (w, p) in words.iter().zip(&pos) {
                    match p {
                        Pos::Det | Pos::Prep => pending.push(w.to_lowercase()),
                        Pos::Noun | Pos::Name | Pos::Pronoun => {
                            let host = if out.is_empty() && *p != Pos::Name {
                                w.to_lowercase()
                            } else {
                                w.clone()
                            };
                            // suffixes stack outwards: the nearest function word first
                            out.push(pending.drain(..).rev().fold(host, |acc, f| acc + &f));
                        }
                        _ => {
                            out.append(&mut pending);
                            out.push(w.clone());
                        }
                    }
                }
                out.append(&mut pending);
                if let Some(f) = out.first_mut() {
                    *f = capitalize(f);
                }
                join_words(&out)
            }
            LangKind::Numeral => {
                let mut out: Vec<String> = vec![];
                for (i, (w, p)) in words.iter().zip(&pos).enumerate() {
                    if *p == Pos::Det {
                        let plural = words[i + 1..]
                            .iter()
                            .zip(&pos[i + 1..])
                            .find(|(_, q)| **q == Pos::Noun)
                            .is_some_and(|(n, _)| n.ends_with(super::pcfg::bilingual::PLURAL));
                        out.push(if plural {
                            rng.random_range(2..1000).to_string()
                        } else {
                            "1".into()
                        });
                    } else {
                        out.push(w.clone());
                    }
                }
                let year = rng.random_range(1000..2100).to_string();
                match out.last() {
                    Some(l) if l == "." => {
                        let n = out.len();
                        out.insert(n - 1, year);
                    }
                    _ => out.push(year),
                }
                join_words(&out)
            }
        })
    }

    fn pick_lang(&self, rng: &mut StdRng) -> usize {
        let total: f64 = self.langs.iter().map(|l| l.share).sum();
        let mut u = rng.random::<f64>() * total;
        for (i, l) in self.langs.iter().enumerate() {
            u -= l.share;
            if u < 0.0 {
                return i;
            }
        }
        self.langs.len() - 1
    }

    /// A sentence with a verb.
    fn labelled_sentence(&self, rng: &mut StdRng) -> (Sentence, usize) {
        loop {
            let s = self.grammar.sentence(rng);
            if let Some(l) = Self::label(&s) {
                return (s, l);
            }
        }
    }

    /// One classification line: `sentence → label`.
    pub fn class_line(&self, lang: usize, text: &str, label: usize) -> String {
        format!("{text}{ARROW} {}", self.label_words(lang)[label])
    }

    /// `n` documents, seeded: each picks a language by share, then is running text or (with
    /// probability `class_share`) a classification block.
    pub fn corpus(&self, n: usize, seed: u64) -> MultilingualCorpus {
        let mut rng = StdRng::seed_from_u64(seed);
        let docs = (0..n)
            .map(|_| {
                let lang = self.pick_lang(&mut rng);
                self.doc(lang, &mut rng)
            })
            .collect();
        MultilingualCorpus { docs }
    }

    /// `n` documents of language `lang` only (running text and blocks as in [`Self::corpus`]).
    pub fn corpus_in(&self, lang: usize, n: usize, seed: u64) -> Result<MultilingualCorpus> {
        if lang >= self.langs.len() {
            return Err(Error::Data(format!("language index {lang} of {}", self.langs.len())));
        }
        let mut rng = StdRng::seed_from_u64(seed);
        Ok(MultilingualCorpus {
            docs: (0..n).map(|_| self.doc(lang, &mut rng)).collect(),
        })
    }

    fn doc(&self, lang: usize, rng: &mut StdRng) -> Doc {
        let block = rng.random_bool(self.class_share);
        let mut parts = vec![];
        for _ in 0..self.sentences_per_doc {
            let (s, label) = self.labelled_sentence(rng);
            // every generated sentence renders (the relexifier covers the whole grammar)
            let text = self.render(lang, &s, rng).unwrap_or_default();
            parts.push(if block { self.class_line(lang, &text, label) } else { text });
        }
        Doc {
            lang,
            text: parts.join(if block { "\n" } else { " " }),
            block,
        }
    }

    /// `n` labelled sentences of language `lang`, half of each label, in a seeded order.
    pub fn class_items(&self, lang: usize, n: usize, seed: u64) -> Result<Vec<ClassItem>> {
        self.class_items_within(lang, n, seed, usize::MAX)
    }

    /// [`Self::class_items`] with sentences of at most `max_bytes` UTF-8 bytes (so that a
    /// candidate fits a small model's context even byte by byte). Typed error for `max_bytes`
    /// below 16 (almost no sentence is that short).
    pub fn class_items_within(&self, lang: usize, n: usize, seed: u64, max_bytes: usize) -> Result<Vec<ClassItem>> {
        if max_bytes < 16 {
            return Err(Error::Data(format!("no sentence fits in {max_bytes} bytes")));
        }
        if lang >= self.langs.len() {
            return Err(Error::Data(format!("language index {lang} of {}", self.langs.len())));
        }
        let mut rng = StdRng::seed_from_u64(seed);
        let mut need = [n / 2, n - n / 2];
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let (s, label) = self.labelled_sentence(&mut rng);
            if need[label] == 0 {
                continue;
            }
            let text = self.render(lang, &s, &mut rng)?;
            if text.len() > max_bytes {
                continue;
            }
            need[label] -= 1;
            out.push(ClassItem { lang, text, label });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_differ_as_designed() {
        let g = MultilingualGen::standard();
        let mut rng = StdRng::seed_from_u64(1);
        let s = g.grammar.generate(1, 5).remove(0);
        let lat = g.render(0, &s, &mut rng).unwrap();
        let cyr = g.render(2, &s, &mut rng).unwrap();
        assert_eq!(cyr, to_cyrillic(&lat));
        assert!(!cyr.chars().any(|c| c.is_ascii_alphabetic()), "{cyr}");
        let num = g.render(3, &s, &mut rng).unwrap();
        assert!(num.chars().filter(|c| c.is_ascii_digit()).count() >= 4, "{num}");
        // the agglutinative rendering has fewer, longer words than the analytic one
        let agg = g.render(1, &s, &mut rng).unwrap();
        let dets = s.words.iter().filter(|w| matches!(w.pos, Pos::Det | Pos::Prep)).count();
        assert_eq!(
            agg.split_whitespace().count() + dets,
            lat.split_whitespace().count(),
            "{agg} / {lat}"
        );
        assert_eq!(to_cyrillic("Shi bo-ra."), "Ши бо-ра.");
    }

    #[test]
    fn corpus_shares_blocks_and_items() {
        let g = MultilingualGen::standard();
        let c = g.corpus(2000, 3);
        assert_eq!(c, g.corpus(2000, 3));
        let counts = c.counts(5);
        assert!((counts[4] as f64 / 2000.0 - 0.05).abs() < 0.02, "{counts:?}");
        assert!((counts[0] as f64 / 2000.0 - 0.35).abs() < 0.04, "{counts:?}");
        let blocks: Vec<&Doc> = c.docs.iter().filter(|d| d.block).collect();
        assert!((blocks.len() as f64 / 2000.0 - 0.3).abs() < 0.04);
        let b = blocks.iter().find(|d| d.lang == 2).unwrap();
        assert!(b.text.lines().all(|l| l.ends_with(" → па") || l.ends_with(" → не")), "{}", b.text);
        let items = g.class_items(1, 11, 0).unwrap();
        assert_eq!(items.iter().filter(|i| i.label == 0).count(), 5);
        assert!(g.class_items(9, 2, 0).is_err());
        assert!(g.class_items_within(0, 20, 0, 60).unwrap().iter().all(|i| i.text.len() <= 60));
        assert!(g.class_items_within(0, 2, 0, 3).is_err());
        assert!(MultilingualGen::new(vec![], 0.1).is_err());
        assert!(MultilingualGen::new(vec![spec("x", "x", LangKind::Analytic, 1, 0.0)], 0.1).is_err());
    }
}
