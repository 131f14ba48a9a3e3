//! Recognition: a backtracking parser for the MiniEnglish grammar that returns every position a
//! constituent can end at, checking agreement, subcategorisation, adverb conditions and a/an.

use std::collections::{BTreeSet, HashMap};

use super::lexicon::*;
use super::{capitalize, starts_with_vowel, Number, Person};

/// A lexicon entry, for parsing.
#[derive(Clone, Copy, Debug)]
pub(super) enum Lex {
    Det(DetNum),
    Noun(Number, u8),
    Name,
    Pron(Number, Person, Case),
    Verb(usize, Form),
    Adj,
    Prep,
    Adv(AdvCond),
    Comp,
    Rel(bool),
    Conj,
    Comma,
    Period,
}

/// Which of a verb's three forms a word is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Form {
    Base,
    S3,
    Past,
}

pub(super) fn build_lookup() -> HashMap<String, Vec<Lex>> {
    let mut m: HashMap<String, Vec<Lex>> = HashMap::new();
    let mut add = |w: &str, l: Lex| m.entry(w.to_string()).or_default().push(l);
    for &(sg, pl, c) in NOUNS {
        add(sg, Lex::Noun(Number::Singular, c));
        add(pl, Lex::Noun(Number::Plural, c));
    }
    for (i, v) in VERBS.iter().enumerate() {
        add(v.base, Lex::Verb(i, Form::Base));
        add(v.s3, Lex::Verb(i, Form::S3));
        add(v.past, Lex::Verb(i, Form::Past));
    }
    for &(a, _) in ADJS {
        add(a, Lex::Adj);
    }
    for &(d, n, _) in DETS {
        add(d, Lex::Det(n));
    }
    add("an", Lex::Det(DetNum::Sg));
    let mut preps: BTreeSet<&str> = NP_PREPS.iter().map(|p| p.0).collect();
    preps.extend(VP_PREPS.iter().map(|p| p.0));
    for p in preps {
        add(p, Lex::Prep);
    }
    for &(a, c) in ADVS {
        add(a, Lex::Adv(c));
    }
    for &(w, n, p, c, _) in PRONOUNS {
        add(w, Lex::Pron(n, p, c));
    }
    for &n in NAMES {
        add(n, Lex::Name);
    }
    for &c in CONJS {
        add(c, Lex::Conj);
    }
    add("that", Lex::Comp);
    add("who", Lex::Rel(true));
    add("which", Lex::Rel(false));
    add(",", Lex::Comma);
    add(".", Lex::Period);
    m
}

/// Whether `text` is a sentence of the grammar (see [`super::Pcfg::is_grammatical`]).
pub(super) fn recognize(lookup: &HashMap<String, Vec<Lex>>, text: &str) -> bool {
    let mut toks: Vec<String> = Vec::new();
    for piece in text.split_whitespace() {
        let mut w = piece;
        let mut tail = Vec::new();
        while let Some(stripped) = w.strip_suffix(['.', ',']) {
            tail.push(&w[stripped.len()..]);
            w = stripped;
        }
        if !w.is_empty() {
            toks.push(w.to_string());
        }
        toks.extend(tail.into_iter().rev().map(str::to_string));
    }
    if toks.is_empty() {
        return false;
    }
    if !lookup.contains_key(&toks[0]) {
        let first = toks[0].to_lowercase();
        if first != toks[0] && toks[0] == capitalize(&first) {
            toks[0] = first;
        }
    }
    let lex: Option<Vec<&Vec<Lex>>> = toks.iter().map(|t| lookup.get(t)).collect();
    let Some(lex) = lex else { return false };
    let p = Parser { toks: &toks, lex };
    p.sentence()
}

struct Parser<'a> {
    toks: &'a [String],
    lex: Vec<&'a Vec<Lex>>,
}

#[derive(Clone, Copy, PartialEq)]
struct NpFeat {
    number: Number,
    person: Person,
    animate: bool,
}

impl Parser<'_> {
    fn at(&self, i: usize) -> &[Lex] {
        self.lex.get(i).map(|v| v.as_slice()).unwrap_or(&[])
    }
    fn is(&self, i: usize, f: impl Fn(&Lex) -> bool) -> bool {
        self.at(i).iter().any(f)
    }

    fn sentence(&self) -> bool {
        let n = self.toks.len();
        let ends_ok = |e: usize| e + 1 == n && self.is(e, |l| matches!(l, Lex::Period));
        for e in self.clause(0) {
            if ends_ok(e) {
                return true;
            }
            let c = if self.is(e, |l| matches!(l, Lex::Comma)) { e + 1 } else { e };
            if self.is(c, |l| matches!(l, Lex::Conj)) && self.clause(c + 1).into_iter().any(ends_ok) {
                return true;
            }
        }
        false
    }

    fn clause(&self, i: usize) -> Vec<usize> {
        let mut out = Vec::new();
        for (j, np) in self.np(i, true) {
            out.extend(self.vp(j, np));
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    fn np(&self, i: usize, subject: bool) -> Vec<(usize, NpFeat)> {
        let mut out = Vec::new();
        for l in self.at(i) {
            match *l {
                Lex::Pron(n, p, c) if c == Case::Both || (c == Case::Subj) == subject => out.push((i + 1, NpFeat { number: n, person: p, animate: true })),
                Lex::Name => out.push((i + 1, NpFeat { number: Number::Singular, person: Person::Third, animate: true })),
                _ => {}
            }
        }
        // (Det) (Adj) N
        let mut starts: Vec<(usize, Option<DetNum>)> = vec![(i, None)];
        for l in self.at(i) {
            if let Lex::Det(t) = *l {
                let next = self.toks.get(i + 1).map(String::as_str).unwrap_or("");
                let art = self.toks[i].to_lowercase();
                let article_ok = match art.as_str() {
                    "a" => !starts_with_vowel(next),
                    "an" => starts_with_vowel(next),
                    _ => true,
                };
                if article_ok {
                    starts.push((i + 1, Some(t)));
                }
            }
        }
        for (j, det) in starts {
            let mut noun_at = vec![j];
            if self.is(j, |l| matches!(l, Lex::Adj)) {
                noun_at.push(j + 1);
            }
            for k in noun_at {
                for l in self.at(k) {
                    let Lex::Noun(n, class) = *l else { continue };
                    let agrees = match det {
                        None => n == Number::Plural,
                        Some(DetNum::Any) => true,
                        Some(DetNum::Sg) => n == Number::Singular,
                        Some(DetNum::Pl) => n == Number::Plural,
                    };
                    if !agrees {
                        continue;
                    }
                    let feat = NpFeat { number: n, person: Person::Third, animate: class & ANIMATE != 0 };
                    let mut ends = vec![k + 1];
                    if self.is(k + 1, |l| matches!(l, Lex::Prep)) {
                        ends.extend(self.np(k + 2, false).into_iter().map(|(e, _)| e));
                    }
                    for e in ends {
                        out.push((e, feat));
                        let rel = self.at(e).iter().find_map(|l| if let Lex::Rel(a) = *l { Some(a) } else { None });
                        if rel == Some(feat.animate) {
                            out.extend(self.vp(e + 1, feat).into_iter().map(|e2| (e2, feat)));
                        }
                    }
                }
            }
        }
        let mut dedup: Vec<(usize, NpFeat)> = Vec::new();
        for x in out {
            if !dedup.contains(&x) {
                dedup.push(x);
            }
        }
        dedup
    }

    fn vp(&self, i: usize, subj: NpFeat) -> Vec<usize> {
        let mut out = Vec::new();
        let third_sg = subj.person == Person::Third && subj.number == Number::Singular;
        for l in self.at(i) {
            let Lex::Verb(vi, form) = *l else { continue };
            let agrees = match form {
                Form::Past => true,
                Form::S3 => third_sg,
                Form::Base => !third_sg,
            };
            if !agrees {
                continue;
            }
            let e = &VERBS[vi];
            let mut ends = Vec::new();
            if e.intr {
                ends.push(i + 1);
            }
            if e.obj != 0 {
                ends.extend(self.np(i + 1, false).into_iter().map(|(x, _)| x));
            }
            if e.pp && self.is(i + 1, |l| matches!(l, Lex::Prep)) {
                ends.extend(self.np(i + 2, false).into_iter().map(|(x, _)| x));
            }
            for x in &ends {
                out.push(*x);
                for l in self.at(*x) {
                    let ok = match *l {
                        Lex::Adv(AdvCond::Always) => true,
                        Lex::Adv(AdvCond::Past) => form == Form::Past,
                        Lex::Adv(AdvCond::Plural) => subj.number == Number::Plural,
                        _ => false,
                    };
                    if ok {
                        out.push(x + 1);
                    }
                }
            }
            if e.comp && self.is(i + 1, |l| matches!(l, Lex::Comp)) {
                out.extend(self.clause(i + 2));
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_has_unambiguous_parts_of_speech() {
        let m = build_lookup();
        // Every form has one part of speech (a verb or noun may appear twice with the same one).
        for (w, entries) in &m {
            let kinds: std::collections::HashSet<std::mem::Discriminant<Lex>> = entries.iter().map(std::mem::discriminant).collect();
            assert_eq!(kinds.len(), 1, "{w} has several parts of speech: {entries:?}");
        }
        assert!(recognize(&m, "Anna walks, and he sleeps."));
        assert!(recognize(&m, "An apple fell."));
        assert!(!recognize(&m, "Anna walks,, and he sleeps."));
        assert!(!recognize(&m, ""));
    }
}
