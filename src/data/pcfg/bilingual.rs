//! A second synthetic language with MiniEnglish's meaning and its own words: a lexicon mapping
//! ("relexification") over the [`Pcfg`](super::Pcfg) generator, so that cross-lingual transfer
//! (WECHSEL) has shared latent structure to transfer, and a bilingual dictionary between the two.
//!
//! The target language ("Lang B") differs from English in the ways a real language pair does:
//! - **its own lexicon**: every lemma gets a seeded pseudo-word stem (`dog` → `bafo`);
//! - **its own morphology**: plural nouns take `-ul`; verbs take `-ar` (present, 3rd person
//!   singular), `-an` (other present) or `-eki` (past), so irregular English forms become regular;
//! - **many-to-one** words: `a`/`an`, `he`/`she`, `him`/`her`, `who`/`which` each share one word;
//! - **one-to-many**: `the` is `lo` before animate nouns (people, animals) and `ka` otherwise,
//!   like grammatical gender;
//! - **word order**: adjectives follow their noun (`the red ball` → `ka bolu tesi`).
//!
//! Sentences are translated one by one, so a corpus of B is the translation of a *different*
//! MiniEnglish sample than the A corpus it is compared with (nothing is parallel).
//!
//! ```
//! use gpt2lab::data::{Pcfg, Relexifier};
//! let g = Pcfg::english_small();
//! let lx = Relexifier::new(7);
//! let s = &g.generate(1, 3)[0];
//! let b = lx.translate(s);
//! assert!(b.ends_with('.') && b != s.to_text());
//! ```

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::lexicon::*;
use super::{capitalize, Number, Person, Pos, Sentence, Tense, Word};
use crate::{Error, Result};

/// Plural noun suffix of Lang B.
pub const PLURAL: &str = "ul";
/// Verb suffixes of Lang B: present 3rd person singular, other present, past.
pub const PRESENT_3SG: &str = "ar";
pub const PRESENT: &str = "an";
pub const PAST: &str = "eki";
/// `the` before animate and inanimate nouns.
pub const THE_ANIMATE: &str = "lo";
pub const THE_INANIMATE: &str = "ka";

/// The MiniEnglish → Lang B mapping.
#[derive(Clone, Debug)]
pub struct Relexifier {
    /// lemma key (`n:dog`, `v:walk`, `red`, `Anna`) → Lang B stem or word
    stems: HashMap<String, String>,
    /// noun form (singular or plural) → (singular, semantic class)
    nouns: HashMap<String, (String, u8)>,
    /// Adjectives follow their noun (default true).
    pub adjective_after_noun: bool,
}

const CONS: &[&str] = &[
    "b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "sh",
];
const VOWELS: &[&str] = &["a", "e", "i", "o", "u"];

fn syllable(rng: &mut StdRng, coda: bool) -> String {
    let mut s = format!(
        "{}{}",
        CONS[rng.random_range(0..CONS.len())],
        VOWELS[rng.random_range(0..VOWELS.len())]
    );
    if coda && rng.random_bool(0.3) {
        s.push_str(["n", "r", "l", "s"][rng.random_range(0..4)]);
    }
    s
}

impl Relexifier {
    /// The mapping with stems drawn from a generator seeded by `seed`.
    pub fn new(seed: u64) -> Self {
        let mut nouns = HashMap::new();
        for &(sg, pl, class) in NOUNS {
            nouns.insert(sg.to_string(), (sg.to_string(), class));
            nouns.insert(pl.to_string(), (sg.to_string(), class));
        }
        // function words: one syllable; content words: two or three
        let mut function: BTreeSet<String> = BTreeSet::new();
        for &(d, _, _) in DETS {
            if d != "the" && d != "an" {
                function.insert(d.to_string());
            }
        }
        for &(p, _) in NP_PREPS.iter().chain(VP_PREPS) {
            function.insert(p.to_string());
        }
        for &(p, ..) in PRONOUNS {
            function.insert(pron_key(&p.to_lowercase()));
        }
        for &c in CONJS {
            function.insert(c.to_string());
        }
        function.insert("that".into());
        function.insert("who".into());
        let mut content: BTreeSet<String> = BTreeSet::new();
        for &(sg, _, _) in NOUNS {
            content.insert(format!("n:{sg}"));
        }
        for v in VERBS {
            content.insert(format!("v:{}", v.base));
        }
        for &(a, _) in ADJS {
            content.insert(a.to_string());
        }
        for &(a, _) in ADVS {
            content.insert(a.to_string());
        }
        let mut rng = StdRng::seed_from_u64(seed);
        let mut used: HashSet<String> = [THE_ANIMATE, THE_INANIMATE]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut stems = HashMap::new();
        let mut fresh = |rng: &mut StdRng, n_syll: usize| loop {
            let w: String = (0..n_syll)
                .map(|i| syllable(rng, i + 1 == n_syll))
                .collect();
            if used.insert(w.clone()) {
                return w;
            }
        };
        for k in &function {
            let w = fresh(&mut rng, 1);
            stems.insert(k.clone(), w);
        }
        for k in &content {
            let n = if rng.random_bool(0.7) { 2 } else { 3 };
            let w = fresh(&mut rng, n);
            stems.insert(k.clone(), w);
        }
        for &name in NAMES {
            let w = fresh(&mut rng, 2);
            stems.insert(name.to_string(), capitalize(&w));
        }
        Relexifier {
            stems,
            nouns,
            adjective_after_noun: true,
        }
    }

    fn stem(&self, key: &str) -> Result<&str> {
        self.stems
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| Error::Data(format!("Lang B has no word for `{key}`")))
    }

    /// A word's Lang B form (`the_class`: the semantic class of the noun a `the` determines).
    fn word(&self, w: &Word, the_class: Option<u8>) -> Result<String> {
        let lower = w.text.to_lowercase();
        Ok(match w.pos {
            Pos::Punct => w.text.clone(),
            Pos::Name => self.stem(&w.text)?.to_string(),
            Pos::Noun => {
                let (sg, _) = self
                    .nouns
                    .get(&lower)
                    .ok_or_else(|| Error::Data(format!("unknown noun `{lower}`")))?;
                let stem = self.stem(&format!("n:{sg}"))?;
                if w.number == Some(Number::Plural) {
                    format!("{stem}{PLURAL}")
                } else {
                    stem.to_string()
                }
            }
            Pos::Verb => {
                let v = w
                    .verb
                    .as_ref()
                    .ok_or_else(|| Error::Data(format!("verb `{}` without annotation", w.text)))?;
                let stem = self.stem(&format!("v:{}", v.lemma))?;
                let suffix = match (v.tense, v.person, v.number) {
                    (Tense::Past, _, _) => PAST,
                    (Tense::Present, Person::Third, Number::Singular) => PRESENT_3SG,
                    _ => PRESENT,
                };
                format!("{stem}{suffix}")
            }
            Pos::Det if lower == "the" => (if the_class.is_some_and(|c| c & ANIMATE != 0) {
                THE_ANIMATE
            } else {
                THE_INANIMATE
            })
            .to_string(),
            Pos::Det if lower == "an" => self.stem("a")?.to_string(),
            Pos::Pronoun => self.stem(&pron_key(&lower))?.to_string(),
            Pos::Rel => self.stem("who")?.to_string(),
            _ => self.stem(&lower)?.to_string(),
        })
    }

    /// The sentence's Lang B words (punctuation as separate items), in Lang B's order.
    pub fn translate_words(&self, s: &Sentence) -> Result<Vec<String>> {
        let ws = &s.words;
        let mut out = Vec::with_capacity(ws.len());
        let mut i = 0;
        while i < ws.len() {
            let the_class = if ws[i].pos == Pos::Det {
                ws[i + 1..]
                    .iter()
                    .find(|w| w.pos == Pos::Noun)
                    .and_then(|n| self.nouns.get(&n.text.to_lowercase()))
                    .map(|n| n.1)
            } else {
                None
            };
            if self.adjective_after_noun
                && ws[i].pos == Pos::Adj
                && ws.get(i + 1).is_some_and(|n| n.pos == Pos::Noun)
            {
                out.push(self.word(&ws[i + 1], None)?);
                out.push(self.word(&ws[i], None)?);
                i += 2;
                continue;
            }
            out.push(self.word(&ws[i], the_class)?);
            i += 1;
        }
        if let Some(first) = out.first_mut() {
            *first = capitalize(first);
        }
        Ok(out)
    }

    /// The sentence in Lang B: words joined by spaces, punctuation attached.
    pub fn translate(&self, s: &Sentence) -> String {
        // every word of the grammar has a Lang B form, so this cannot fail on generated sentences
        self.translate_words(s)
            .map(|w| join_words(&w))
            .unwrap_or_default()
    }

    /// Every sentence translated.
    pub fn corpus(&self, sentences: &[Sentence]) -> Vec<String> {
        sentences.iter().map(|s| self.translate(s)).collect()
    }

    /// Every (English form, Lang B form) pair the mapping makes, sorted: the gold dictionary.
    pub fn gold_pairs(&self) -> Vec<(String, String)> {
        let mut set: BTreeSet<(String, String)> = BTreeSet::new();
        let mut add = |a: &str, b: String| {
            set.insert((a.to_string(), b));
        };
        for &(sg, pl, _) in NOUNS {
            let s = &self.stems[&format!("n:{sg}")];
            add(sg, s.clone());
            add(pl, format!("{s}{PLURAL}"));
        }
        for v in VERBS {
            let s = &self.stems[&format!("v:{}", v.base)];
            add(v.base, format!("{s}{PRESENT}"));
            add(v.s3, format!("{s}{PRESENT_3SG}"));
            add(v.past, format!("{s}{PAST}"));
        }
        for &(a, _) in ADJS {
            add(a, self.stems[a].clone());
        }
        for &(a, _) in ADVS {
            add(a, self.stems[a].clone());
        }
        for &(p, _) in NP_PREPS.iter().chain(VP_PREPS) {
            add(p, self.stems[p].clone());
        }
        for &c in CONJS.iter().chain(&["that"]) {
            add(c, self.stems[c].clone());
        }
        for &(d, _, _) in DETS {
            match d {
                "the" => {
                    add(d, THE_ANIMATE.into());
                    add(d, THE_INANIMATE.into());
                }
                "an" => add(d, self.stems["a"].clone()),
                _ => add(d, self.stems[d].clone()),
            }
        }
        add("an", self.stems["a"].clone());
        for &(p, ..) in PRONOUNS {
            add(p, self.stems[&pron_key(&p.to_lowercase())].clone());
        }
        for r in ["who", "which"] {
            add(r, self.stems["who"].clone());
        }
        for &n in NAMES {
            add(n, self.stems[n].clone());
        }
        set.into_iter().collect()
    }

    /// A dictionary holding a random `coverage` fraction of the gold pairs plus `noise` × that
    /// many wrong pairs (an English word with a random Lang B word), as scraped dictionaries are
    /// incomplete and noisy (the WECHSEL brief: about 60% coverage, 10% noise).
    pub fn dictionary(&self, coverage: f64, noise: f64, seed: u64) -> Result<BilingualDictionary> {
        if !(0.0..=1.0).contains(&coverage) || !(0.0..=10.0).contains(&noise) {
            return Err(Error::Data(format!(
                "dictionary: coverage {coverage} must be in [0, 1] and noise {noise} in [0, 10]"
            )));
        }
        let gold = self.gold_pairs();
        let mut rng = StdRng::seed_from_u64(seed);
        let mut idx: Vec<usize> = (0..gold.len()).collect();
        idx.shuffle(&mut rng);
        let n = (coverage * gold.len() as f64).round() as usize;
        let mut pairs: Vec<(String, String)> = idx[..n].iter().map(|&i| gold[i].clone()).collect();
        let n_noise = (noise * n as f64).round() as usize;
        for _ in 0..n_noise {
            let a = &gold[rng.random_range(0..gold.len())].0;
            let b = &gold[rng.random_range(0..gold.len())].1;
            pairs.push((a.clone(), b.clone()));
        }
        pairs.shuffle(&mut rng);
        BilingualDictionary::new(pairs)
    }
}

/// Pronoun forms that share a Lang B word: `he`/`she` and `him`/`her`.
fn pron_key(lower: &str) -> String {
    match lower {
        "she" => "he".into(),
        "her" => "him".into(),
        other => other.into(),
    }
}

/// Words joined by single spaces, `.` and `,` attached to the word before.
pub fn join_words(words: &[String]) -> String {
    let mut s = String::new();
    for (i, w) in words.iter().enumerate() {
        if i > 0 && w != "." && w != "," {
            s.push(' ');
        }
        s.push_str(w);
    }
    s
}

/// Source → target word pairs, as WECHSEL's `dicts/` files (one `source<TAB>target` a line).
#[derive(Clone, Debug, PartialEq)]
pub struct BilingualDictionary {
    pub pairs: Vec<(String, String)>,
}

impl BilingualDictionary {
    /// Errors on an empty list or an empty word.
    pub fn new(pairs: Vec<(String, String)>) -> Result<Self> {
        if pairs.is_empty() {
            return Err(Error::EmptyInput(
                "bilingual dictionary has no pairs".into(),
            ));
        }
        if let Some(p) = pairs
            .iter()
            .find(|(a, b)| a.trim().is_empty() || b.trim().is_empty())
        {
            return Err(Error::Data(format!(
                "bilingual dictionary: empty word in pair {p:?}"
            )));
        }
        Ok(BilingualDictionary { pairs })
    }

    /// Parses the WECHSEL format: `source<TAB>target` per line (or two whitespace-separated
    /// words), blank lines skipped; any other line is an error naming its number.
    pub fn parse(text: &str) -> Result<Self> {
        let mut pairs = vec![];
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let parts: Vec<&str> = if line.contains('\t') {
                line.split('\t').map(str::trim).collect()
            } else {
                line.split_whitespace().collect()
            };
            match parts.as_slice() {
                [a, b] if !a.is_empty() && !b.is_empty() => {
                    pairs.push((a.to_string(), b.to_string()))
                }
                _ => {
                    return Err(Error::Data(format!(
                        "bilingual dictionary line {}: expected `source<TAB>target`, got {line:?}",
                        i + 1
                    )))
                }
            }
        }
        Self::new(pairs)
    }

    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let p = path.as_ref();
        Self::parse(&std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?)
    }

    pub fn to_tsv(&self) -> String {
        self.pairs
            .iter()
            .map(|(a, b)| format!("{a}\t{b}\n"))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.pairs.len()
    }
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The same words with the targets permuted at random: a dictionary that aligns nothing (the
    /// negative control of an alignment).
    pub fn shuffled(&self, seed: u64) -> Self {
        let mut targets: Vec<String> = self.pairs.iter().map(|p| p.1.clone()).collect();
        targets.shuffle(&mut StdRng::seed_from_u64(seed));
        BilingualDictionary {
            pairs: self
                .pairs
                .iter()
                .zip(targets)
                .map(|(p, t)| (p.0.clone(), t))
                .collect(),
        }
    }

    /// Splits by source word (all pairs of a word on one side): `(kept, held_out)`, about
    /// `held_out` of the source words held out.
    pub fn split(&self, held_out: f64, seed: u64) -> Result<(Self, Self)> {
        let mut words: Vec<&String> = self
            .pairs
            .iter()
            .map(|p| &p.0)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        words.shuffle(&mut StdRng::seed_from_u64(seed));
        let n = (held_out * words.len() as f64).round() as usize;
        let out: HashSet<&String> = words[..n.min(words.len())].iter().copied().collect();
        let (b, a): (Vec<_>, Vec<_>) = self.pairs.iter().cloned().partition(|p| out.contains(&p.0));
        Ok((Self::new(a)?, Self::new(b)?))
    }
}

#[cfg(test)]
mod tests {
    use super::super::Pcfg;
    use super::*;

    #[test]
    fn translation_follows_the_rules() {
        let g = Pcfg::english_small();
        let lx = Relexifier::new(1);
        let gold: HashMap<String, Vec<String>> =
            lx.gold_pairs()
                .into_iter()
                .fold(HashMap::new(), |mut m, (a, b)| {
                    m.entry(a).or_default().push(b);
                    m
                });
        for s in g.generate(300, 4) {
            let b = lx.translate_words(&s).unwrap();
            // same number of words: the mapping is word for word, only reordered
            assert_eq!(b.len(), s.len());
            // every word's translation is in the gold dictionary
            let lower: Vec<String> = b.iter().map(|t| t.to_lowercase()).collect();
            for w in s
                .words
                .iter()
                .filter(|w| w.pos != Pos::Punct && w.pos != Pos::Name)
            {
                let forms = gold
                    .get(&w.text)
                    .or_else(|| gold.get(&w.text.to_lowercase()))
                    .unwrap_or_else(|| panic!("`{}` not in the gold pairs", w.text));
                assert!(
                    lower.iter().any(|t| forms.contains(t)),
                    "{} → {:?} not in {:?}",
                    w.text,
                    forms,
                    b
                );
            }
        }
        // hand-checked pieces
        let s = g
            .generate(2000, 5)
            .into_iter()
            .find(|s| {
                s.words.iter().any(|w| w.text == "the") && s.words.iter().any(|w| w.pos == Pos::Adj)
            })
            .unwrap();
        let b = lx.translate_words(&s).unwrap();
        assert!(b
            .iter()
            .any(|w| w == THE_ANIMATE || w == THE_INANIMATE || w == "Lo" || w == "Ka"));
        let s = g
            .generate(2000, 6)
            .into_iter()
            .find(|s| {
                (1..s.len()).any(|i| s.words[i - 1].pos == Pos::Adj && s.words[i].pos == Pos::Noun)
            })
            .unwrap();
        let b = lx.translate_words(&s).unwrap();
        let i = (1..s.len())
            .find(|&i| s.words[i - 1].pos == Pos::Adj && s.words[i].pos == Pos::Noun)
            .unwrap();
        // the adjective now follows its noun
        assert_eq!(b[i - 1].to_lowercase(), lx.word(&s.words[i], None).unwrap());
        assert_eq!(b[i], lx.word(&s.words[i - 1], None).unwrap());
    }

    #[test]
    fn many_to_one_and_one_to_many() {
        let lx = Relexifier::new(3);
        let gold = lx.gold_pairs();
        let t = |a: &str| {
            gold.iter()
                .filter(|p| p.0 == a)
                .map(|p| p.1.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(t("a"), t("an"));
        assert_eq!(t("he"), t("she"));
        assert_eq!(t("who"), t("which"));
        assert_eq!(t("the").len(), 2);
        assert_eq!(t("dogs"), vec![format!("{}{PLURAL}", t("dog")[0])]);
        // irregular English plural, regular Lang B plural
        assert_eq!(t("mice"), vec![format!("{}{PLURAL}", t("mouse")[0])]);
        // different seeds, different words
        assert_ne!(Relexifier::new(4).gold_pairs(), gold);
        assert_eq!(Relexifier::new(3).gold_pairs(), gold);
    }

    #[test]
    fn dictionaries() {
        let lx = Relexifier::new(1);
        let n = lx.gold_pairs().len();
        let d = lx.dictionary(0.6, 0.1, 0).unwrap();
        let clean = (0.6 * n as f64).round() as usize;
        assert_eq!(d.len(), clean + (0.1 * clean as f64).round() as usize);
        let back = BilingualDictionary::parse(&d.to_tsv()).unwrap();
        assert_eq!(back, d);
        let (a, b) = d.split(0.2, 1).unwrap();
        assert_eq!(a.len() + b.len(), d.len());
        assert!(a.pairs.iter().all(|p| !b.pairs.iter().any(|q| q.0 == p.0)));
        let s = d.shuffled(2);
        assert_eq!(s.len(), d.len());
        assert!(
            s.pairs
                .iter()
                .zip(&d.pairs)
                .filter(|(x, y)| x.1 != y.1)
                .count()
                > d.len() / 2
        );
        assert!(matches!(
            BilingualDictionary::parse(""),
            Err(Error::EmptyInput(_))
        ));
        assert!(
            matches!(BilingualDictionary::parse("dog\tbafo\nonly-one-word\n"), Err(Error::Data(m)) if m.contains("line 2"))
        );
        assert!(lx.dictionary(1.5, 0.0, 0).is_err());
    }
}
