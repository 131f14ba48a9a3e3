//! A small English PCFG ("MiniEnglish") whose sentences carry gold annotations: part of speech for
//! every word; number and person for nouns, names and pronouns; and for every verb its lemma,
//! tense, number, person and the index of its subject's head word. That is what the Mission:
//! Impossible perturbations need without a tagger: the hop rules find the 3rd-person present verbs
//! ([`VerbInfo::is_third_person_present`]), lemmatise them ([`VerbInfo::lemma`]) and place a
//! singular/plural marker ([`VerbInfo::number`]) a fixed number of words (skipping
//! [`Pos::Punct`]) or tokens after them; shuffles and reversals only need the word sequence.
//!
//! ## Grammar
//!
//! ```text
//! S       → Clause "."                                      (1 − p_coord)
//!         | Clause ","? Conj Clause "."                      (p_coord; Conj ∈ and, but, so, because)
//! Clause  → NP[n,p,subj] VP[n,p]                            subject–verb agreement on number/person
//! NP[n]   → Pronoun[n]                                      (p_pronoun; case by position)
//!         | Name                                            (p_name; singular)
//!         | Det[n] (Adj) N[n] (PP) (RC[n])                  (a/an by the next word's first letter)
//!         | (Adj) N[pl] (PP) (RC[pl])                       (bare plurals, p_bare_plural)
//! PP      → P NP[obj]
//! RC[n]   → who|which VP[n]                                 (who for people and animals)
//! VP[n]   → V[n] (Adv)                                      intransitive
//!         | V[n] NP[obj] (Adv)                              transitive
//!         | V[n] PP (Adv)                                   motion / location
//!         | V[n] "that" Clause                              sentential complement
//! ```
//!
//! Verb forms: present tense is the `-s` form for a 3rd-person singular subject and the base form
//! otherwise (`I`, `you`, `we` and plurals); past tense has one form for all. `you` agrees like a
//! plural and is annotated [`Number::Plural`].
//!
//! Recursion (a PP's NP, a relative clause, a `that` clause) goes one level deeper; nothing
//! recurses at `max_depth`. Nouns, names and pronouns have a semantic class (person, animal, thing,
//! food, place) and the generator respects selectional restrictions (people `think that ...`,
//! animals and people `eat` food, places do not `run`), so a tiny LM has structure to learn beyond
//! syntax. [`Pcfg::is_grammatical`] checks syntax, agreement, subcategorisation and a/an, but not the
//! selectional restrictions.
//!
//! The lexicon has 114 nouns, 72 verbs (`grow` has two entries: people grow food, anything
//! grows), 38 adjectives, 20 names and ~60 function words: about 565
//! word forms ([`Pcfg::vocabulary`]).
//!
//! ```
//! use gpt2lab::data::Pcfg;
//! let g = Pcfg::english_small();
//! let s = &g.generate(3, 7)[0];
//! assert!(g.is_grammatical(&s.to_text()));
//! for (_, v) in s.verbs() {
//!     assert!(v.subject < s.len());
//! }
//! ```

use std::collections::{BTreeSet, HashMap};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

pub mod bilingual;
mod lexicon;
mod parse;

use lexicon::*;
use parse::Lex;

/// Part of speech. [`Pos::upos`] gives the Universal Dependencies tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Pos {
    Det,
    Adj,
    Noun,
    Name,
    Pronoun,
    Verb,
    Prep,
    Adv,
    /// The complementizer `that`.
    Comp,
    /// The relative pronouns `who` / `which`.
    Rel,
    /// `and`, `but`, `so`, `because`.
    Conj,
    /// `,` and `.`.
    Punct,
}

impl Pos {
    /// The Universal Dependencies UPOS tag (as Stanza would give it).
    pub fn upos(self) -> &'static str {
        match self {
            Pos::Det => "DET",
            Pos::Adj => "ADJ",
            Pos::Noun => "NOUN",
            Pos::Name => "PROPN",
            Pos::Pronoun | Pos::Rel => "PRON",
            Pos::Verb => "VERB",
            Pos::Prep => "ADP",
            Pos::Adv => "ADV",
            Pos::Comp => "SCONJ",
            Pos::Conj => "CCONJ",
            Pos::Punct => "PUNCT",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Number {
    Singular,
    Plural,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Person {
    First,
    Second,
    Third,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Tense {
    Present,
    Past,
}

/// What a verb carries. Every verb here is finite.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerbInfo {
    /// The base form: `walk` for `walks` / `walked`.
    pub lemma: String,
    pub tense: Tense,
    /// The subject's number (what present-tense agreement follows).
    pub number: Number,
    /// The subject's person.
    pub person: Person,
    /// Index (into [`Sentence::words`]) of the subject's head word: noun, name or pronoun.
    pub subject: usize,
}

impl VerbInfo {
    /// Person=3, Tense=Pres: the verbs Mission: Impossible's hop languages mark.
    pub fn is_third_person_present(&self) -> bool {
        self.person == Person::Third && self.tense == Tense::Present
    }
}

/// One word with its annotations.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Word {
    /// The surface form, as it appears in [`Sentence::to_text`] (sentence-initial capital included).
    pub text: String,
    pub pos: Pos,
    /// For nouns, names, pronouns, number-marked determiners and verbs.
    pub number: Option<Number>,
    /// For nouns, names, pronouns and verbs.
    pub person: Option<Person>,
    /// For verbs (always present on them).
    pub verb: Option<VerbInfo>,
}

impl Word {
    fn new(text: &str, pos: Pos) -> Self {
        Word { text: text.to_string(), pos, number: None, person: None, verb: None }
    }
}

/// An annotated sentence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sentence {
    pub words: Vec<Word>,
}

impl Sentence {
    pub fn len(&self) -> usize {
        self.words.len()
    }
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }
    /// Words joined by single spaces, punctuation attached to the word before.
    pub fn to_text(&self) -> String {
        self.surface_forms().concat()
    }
    /// Each word as it appears in [`Sentence::to_text`], with its leading space: the
    /// concatenation is the text, and tokenizing each piece with GPT-2's BPE gives the same
    /// tokens as tokenizing the text (GPT-2 pre-tokenizes at spaces), so token ↔ word alignment
    /// for TokenHop is exact.
    pub fn surface_forms(&self) -> Vec<String> {
        self.words.iter().enumerate().map(|(i, w)| if i == 0 || w.pos == Pos::Punct { w.text.clone() } else { format!(" {}", w.text) }).collect()
    }
    /// The verbs, with their word index.
    pub fn verbs(&self) -> impl Iterator<Item = (usize, &VerbInfo)> {
        self.words.iter().enumerate().filter_map(|(i, w)| w.verb.as_ref().map(|v| (i, v)))
    }
    /// The words' surface forms.
    pub fn texts(&self) -> Vec<&str> {
        self.words.iter().map(|w| w.text.as_str()).collect()
    }
}

// ------------------------------------------------------------------------------------------------
// The grammar

/// The MiniEnglish PCFG: rule probabilities (public, to tweak) and the lexicon.
#[derive(Clone, Debug)]
pub struct Pcfg {
    /// Embedding depth at which PPs, relative clauses and `that` clauses stop (default 2).
    pub max_depth: usize,
    /// A clause is in the past tense.
    pub p_past: f64,
    /// A sentence is two coordinated clauses.
    pub p_coord: f64,
    /// An NP is a pronoun / a name (otherwise a noun phrase).
    pub p_pronoun: f64,
    pub p_name: f64,
    /// A noun phrase is plural, and a plural one has no determiner.
    pub p_plural: f64,
    pub p_bare_plural: f64,
    /// A noun phrase has an adjective / a PP / a relative clause (PP and RC halve per depth level).
    pub p_adj: f64,
    pub p_pp: f64,
    pub p_rel: f64,
    /// A VP ends with an adverb.
    pub p_adv: f64,
    /// Weights of the VP frames: intransitive, transitive, PP, `that` clause.
    pub frame_weights: [f64; 4],
    lookup: HashMap<String, Vec<Lex>>,
}

impl Default for Pcfg {
    fn default() -> Self {
        Self::english_small()
    }
}

/// What the generator knows about a noun phrase it built.
#[derive(Clone, Copy)]
struct NpInfo {
    head: usize,
    number: Number,
    person: Person,
    class: u8,
}

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

fn pick_weighted<T: Copy>(rng: &mut StdRng, items: &[(T, f64)]) -> T {
    let total: f64 = items.iter().map(|x| x.1).sum();
    let mut u = rng.random::<f64>() * total;
    for &(x, w) in items {
        if u < w {
            return x;
        }
        u -= w;
    }
    items[items.len() - 1].0
}

pub(super) fn starts_with_vowel(s: &str) -> bool {
    s.chars().next().is_some_and(|c| "aeiouAEIOU".contains(c))
}

pub(super) fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

impl Pcfg {
    /// The grammar documented at the top of this module, with its default probabilities.
    pub fn english_small() -> Self {
        Pcfg {
            max_depth: 2,
            p_past: 0.35,
            p_coord: 0.12,
            p_pronoun: 0.15,
            p_name: 0.12,
            p_plural: 0.45,
            p_bare_plural: 0.12,
            p_adj: 0.35,
            p_pp: 0.18,
            p_rel: 0.12,
            p_adv: 0.15,
            frame_weights: [0.25, 0.5, 0.15, 0.10],
            lookup: parse::build_lookup(),
        }
    }

    /// `n` sentences from a generator seeded by `seed`.
    pub fn generate(&self, n: usize, seed: u64) -> Vec<Sentence> {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..n).map(|_| self.sentence(&mut rng)).collect()
    }

    /// One sentence drawn with `rng`.
    pub fn sentence(&self, rng: &mut StdRng) -> Sentence {
        let mut g = Gen { p: self, rng, words: Vec::new() };
        g.clause(0);
        if g.rng.random_bool(self.p_coord) {
            let conj = *pick(g.rng, CONJS);
            if conj != "because" {
                g.words.push(Word::new(",", Pos::Punct));
            }
            g.words.push(Word::new(conj, Pos::Conj));
            g.clause(0);
        }
        g.words.push(Word::new(".", Pos::Punct));
        let mut words = g.words;
        for i in 0..words.len().saturating_sub(1) {
            if words[i].text == "a" && starts_with_vowel(&words[i + 1].text) {
                words[i].text = "an".into();
            }
        }
        words[0].text = capitalize(&words[0].text);
        Sentence { words }
    }

    /// All sentences' texts, one per line.
    pub fn corpus_text(sentences: &[Sentence]) -> String {
        sentences.iter().map(|s| s.to_text() + "\n").collect()
    }

    /// Every word form the grammar can produce (sentence-initial capitals aside), sorted.
    pub fn vocabulary(&self) -> Vec<String> {
        let set: BTreeSet<String> = self.lookup.keys().cloned().collect();
        set.into_iter().collect()
    }

    /// Whether `text` (one sentence, as [`Sentence::to_text`] writes it) is in the grammar's
    /// language: syntax, subject–verb agreement, subcategorisation, adverb conditions and a/an.
    /// Selectional restrictions are not checked.
    pub fn is_grammatical(&self, text: &str) -> bool {
        parse::recognize(&self.lookup, text)
    }
}

// ------------------------------------------------------------------------------------------------
// Generation

struct Gen<'a> {
    p: &'a Pcfg,
    rng: &'a mut StdRng,
    words: Vec<Word>,
}

impl Gen<'_> {
    fn can_recurse(&self, depth: usize) -> bool {
        depth < self.p.max_depth
    }
    /// Probability `p` halved per depth level.
    fn decayed(&self, p: f64, depth: usize) -> f64 {
        p / (1u32 << depth.min(16)) as f64
    }

    fn clause(&mut self, depth: usize) {
        let subj = self.np(depth, Case::Subj, ANY);
        self.vp(depth, subj);
    }

    /// A noun phrase whose referent's class intersects `mask`.
    fn np(&mut self, depth: usize, case: Case, mask: u8) -> NpInfo {
        let u: f64 = self.rng.random();
        if u < self.p.p_pronoun {
            let cands: Vec<_> = PRONOUNS.iter().filter(|p| (p.3 == case || p.3 == Case::Both) && p.4 & mask != 0).collect();
            if !cands.is_empty() {
                let &&(w, number, person, _, class) = pick(self.rng, &cands);
                let mut word = Word::new(w, Pos::Pronoun);
                word.number = Some(number);
                word.person = Some(person);
                self.words.push(word);
                return NpInfo { head: self.words.len() - 1, number, person, class: class & mask };
            }
        } else if u < self.p.p_pronoun + self.p.p_name && mask & PERSON != 0 {
            let mut word = Word::new(pick::<&str>(self.rng, NAMES), Pos::Name);
            word.number = Some(Number::Singular);
            word.person = Some(Person::Third);
            self.words.push(word);
            return NpInfo { head: self.words.len() - 1, number: Number::Singular, person: Person::Third, class: PERSON };
        }
        self.noun_phrase(depth, case, mask)
    }

    /// `Det (Adj) N (PP) (RC)` or a bare plural.
    fn noun_phrase(&mut self, depth: usize, case: Case, mask: u8) -> NpInfo {
        let weights = if case == Case::Subj { SUBJ_CLASS_W } else { OBJ_CLASS_W };
        let classes: Vec<(u8, f64)> = weights.iter().copied().filter(|(c, _)| c & mask != 0).collect();
        let class = pick_weighted(self.rng, &classes);
        let nouns: Vec<_> = NOUNS.iter().filter(|n| n.2 == class).collect();
        let &&(sg, pl, _) = pick(self.rng, &nouns);
        let number = if self.rng.random_bool(self.p.p_plural) { Number::Plural } else { Number::Singular };
        let bare = number == Number::Plural && self.rng.random_bool(self.p.p_bare_plural);
        if !bare {
            let dets: Vec<(&str, f64)> =
                DETS.iter().filter(|d| d.1 == DetNum::Any || (d.1 == DetNum::Sg) == (number == Number::Singular)).map(|d| (d.0, d.2)).collect();
            let d = pick_weighted(self.rng, &dets);
            let mut w = Word::new(d, Pos::Det);
            if DETS.iter().any(|x| x.0 == d && x.1 != DetNum::Any) {
                w.number = Some(number);
            }
            self.words.push(w);
        }
        if self.rng.random_bool(self.p.p_adj) {
            let adjs: Vec<_> = ADJS.iter().filter(|a| a.1 & class != 0).collect();
            self.words.push(Word::new(pick(self.rng, &adjs).0, Pos::Adj));
        }
        let mut noun = Word::new(if number == Number::Singular { sg } else { pl }, Pos::Noun);
        noun.number = Some(number);
        noun.person = Some(Person::Third);
        self.words.push(noun);
        let info = NpInfo { head: self.words.len() - 1, number, person: Person::Third, class };
        if self.can_recurse(depth) && self.rng.random_bool(self.decayed(self.p.p_pp, depth)) {
            let &(prep, pmask) = pick(self.rng, NP_PREPS);
            self.words.push(Word::new(prep, Pos::Prep));
            self.np(depth + 1, Case::Obj, pmask);
        }
        if self.can_recurse(depth) && self.rng.random_bool(self.decayed(self.p.p_rel, depth)) {
            self.words.push(Word::new(if class & ANIMATE != 0 { "who" } else { "which" }, Pos::Rel));
            self.vp(depth + 1, info);
        }
        info
    }

    fn vp(&mut self, depth: usize, subj: NpInfo) {
        let tense = if self.rng.random_bool(self.p.p_past) { Tense::Past } else { Tense::Present };
        let ok = |v: &VerbEntry| v.subj & subj.class != 0;
        let frames: [Vec<usize>; 4] = [
            (0..VERBS.len()).filter(|&i| ok(&VERBS[i]) && VERBS[i].intr).collect(),
            (0..VERBS.len()).filter(|&i| ok(&VERBS[i]) && VERBS[i].obj != 0).collect(),
            (0..VERBS.len()).filter(|&i| ok(&VERBS[i]) && VERBS[i].pp).collect(),
            if self.can_recurse(depth) { (0..VERBS.len()).filter(|&i| ok(&VERBS[i]) && VERBS[i].comp).collect() } else { vec![] },
        ];
        let choices: Vec<(usize, f64)> = (0..4).filter(|&f| !frames[f].is_empty()).map(|f| (f, self.p.frame_weights[f])).collect();
        let frame = pick_weighted(self.rng, &choices);
        let vi = *pick(self.rng, &frames[frame]);
        let entry = &VERBS[vi];
        let third_sg = subj.person == Person::Third && subj.number == Number::Singular;
        let form = match tense {
            Tense::Past => entry.past,
            Tense::Present if third_sg => entry.s3,
            Tense::Present => entry.base,
        };
        let mut w = Word::new(form, Pos::Verb);
        w.number = Some(subj.number);
        w.person = Some(subj.person);
        w.verb = Some(VerbInfo { lemma: entry.base.to_string(), tense, number: subj.number, person: subj.person, subject: subj.head });
        self.words.push(w);
        match frame {
            1 => {
                self.np(depth, Case::Obj, entry.obj);
            }
            2 => {
                let preps: Vec<_> = VP_PREPS.iter().collect();
                let &&(prep, pmask) = pick(self.rng, &preps);
                self.words.push(Word::new(prep, Pos::Prep));
                self.np(depth + 1, Case::Obj, pmask);
            }
            3 => {
                self.words.push(Word::new("that", Pos::Comp));
                self.clause(depth + 1);
                return; // no adverb after an embedded clause (it would be ambiguous)
            }
            _ => {}
        }
        if self.rng.random_bool(self.p.p_adv) {
            let advs: Vec<&str> = ADVS
                .iter()
                .filter(|a| match a.1 {
                    AdvCond::Always => true,
                    AdvCond::Past => tense == Tense::Past,
                    AdvCond::Plural => subj.number == Number::Plural,
                })
                .map(|a| a.0)
                .collect();
            self.words.push(Word::new(pick::<&str>(self.rng, &advs), Pos::Adv));
        }
    }
}
