//! The story grammar: template tokens, rendering helpers and the exact membership test
//! ([`super::StoryGen::is_grammatical`]).

use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

use super::templates::*;

#[derive(Clone, Debug, PartialEq)]
pub(super) enum TTok {
    Lit(String),
    Slot(String),
    Alt(Vec<String>),
    /// `. , ! ?` or `"`.
    Sym(char),
}

const SYMS: &[char] = &['.', ',', '!', '?', '"'];

/// Splits a template (or, without slots and alternatives, a sentence) into tokens.
pub(super) fn tokenize_template(t: &str) -> Vec<TTok> {
    let mut out = Vec::new();
    for piece in t.split_whitespace() {
        let mut rest = piece;
        while let Some(r) = rest.strip_prefix('"') {
            out.push(TTok::Sym('"'));
            rest = r;
        }
        if let Some(r) = rest.strip_prefix('{') {
            let end = r.find('}').expect("template slot without `}`");
            out.push(TTok::Slot(r[..end].to_string()));
            rest = &r[end + 1..];
        } else if let Some(r) = rest.strip_prefix('(') {
            let end = r.find(')').expect("template alternative without `)`");
            out.push(TTok::Alt(r[..end].split('|').map(str::to_string).collect()));
            rest = &r[end + 1..];
        } else {
            let core = rest.trim_end_matches(SYMS);
            if !core.is_empty() {
                out.push(TTok::Lit(core.to_string()));
            }
            rest = &rest[core.len()..];
        }
        for c in rest.chars() {
            assert!(SYMS.contains(&c), "unexpected {c:?} in template {t:?}");
            out.push(TTok::Sym(c));
        }
    }
    out
}

/// Splits a sentence into words and the symbols `. , ! ? "`.
fn tokenize_sentence(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    for piece in s.split_whitespace() {
        let mut rest = piece;
        while let Some(r) = rest.strip_prefix('"') {
            out.push("\"".to_string());
            rest = r;
        }
        let core = rest.trim_end_matches(SYMS);
        if !core.is_empty() {
            out.push(core.to_string());
        }
        out.extend(rest[core.len()..].chars().map(String::from));
    }
    out
}

/// Joins tokens into text: no space before `. , ! ?` or a closing quote, none after an opening one.
pub(super) fn join_tokens(toks: &[String]) -> (String, Vec<usize>) {
    let mut text = String::new();
    let mut offsets = Vec::with_capacity(toks.len());
    let mut in_quote = false;
    let mut prev_open_quote = false;
    for (i, t) in toks.iter().enumerate() {
        let closing_punct = matches!(t.as_str(), "." | "," | "!" | "?");
        let is_quote = t == "\"";
        let closing_quote = is_quote && in_quote;
        if i > 0 && !closing_punct && !closing_quote && !prev_open_quote {
            text.push(' ');
        }
        offsets.push(text.len());
        text.push_str(t);
        prev_open_quote = is_quote && !in_quote;
        if is_quote {
            in_quote = !in_quote;
        }
    }
    (text, offsets)
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

/// The words a slot can take, for the grammar check and the vocabulary.
fn slot_words(slot: &str) -> Vec<String> {
    let (ent, field) = slot.split_once('.').unwrap_or((slot, ""));
    let words: Vec<&str> = match (ent, field) {
        ("A" | "B", "") => GIRL_NAMES.iter().chain(BOY_NAMES).chain(PET_NAMES).copied().collect(),
        ("A" | "B", "kind") => ["girl", "boy"].iter().chain(ANIMAL_KINDS).chain(FOUND_ANIMALS).copied().collect(),
        ("H", "") => PARENTS.iter().map(|p| p.0).collect(),
        (_, "sub") => vec!["he", "she"],
        (_, "Sub") => vec!["He", "She"],
        (_, "obj") => vec!["him", "her"],
        (_, "pos") => vec!["his", "her"],
        (_, "Pos") => vec!["His", "Her"],
        ("O", "") => OBJECTS.to_vec(),
        ("O", "adj") => OBJECT_ADJS.to_vec(),
        ("P", "") => PLACES.to_vec(),
        ("W", "") => WATERS.to_vec(),
        ("F", "") => FOODS.to_vec(),
        ("N", "") => FOUND_ANIMALS.to_vec(),
        ("X", "") => SPOTS.to_vec(),
        _ => panic!("unknown story slot {{{slot}}}"),
    };
    words.into_iter().map(str::to_string).collect()
}

struct Compiled {
    templates: Vec<Vec<TTok>>,
    /// Slot name → the words it accepts.
    slots: HashMap<String, BTreeSet<String>>,
}

fn compiled() -> &'static Compiled {
    static C: OnceLock<Compiled> = OnceLock::new();
    C.get_or_init(|| {
        let mut templates: Vec<Vec<TTok>> = Vec::new();
        let mut slots = HashMap::new();
        for beat in ALL_BEATS {
            for t in beat.iter() {
                let toks = tokenize_template(t);
                for tok in &toks {
                    if let TTok::Slot(s) = tok {
                        slots.entry(s.clone()).or_insert_with(|| slot_words(s).into_iter().collect::<BTreeSet<_>>());
                    }
                }
                if !templates.contains(&toks) {
                    templates.push(toks);
                }
            }
        }
        Compiled { templates, slots }
    })
}

/// Whether sentence tokens `s[si..]` match template tokens `t[ti..]`.
fn matches(c: &Compiled, t: &[TTok], ti: usize, s: &[String], si: usize) -> bool {
    let word_eq = |lit: &str, si: usize| -> bool {
        let Some(w) = s.get(si) else { return false };
        if lit == "a" {
            let art = if si == 0 { w.to_lowercase() } else { w.clone() };
            let next = s.get(si + 1).map(String::as_str).unwrap_or("");
            return (art == "a" && !starts_with_vowel(next)) || (art == "an" && starts_with_vowel(next));
        }
        w == lit || (si == 0 && *w == capitalize(lit))
    };
    if ti == t.len() {
        return si == s.len();
    }
    match &t[ti] {
        TTok::Lit(l) => word_eq(l, si) && matches(c, t, ti + 1, s, si + 1),
        TTok::Sym(ch) => s.get(si).is_some_and(|w| w.len() == 1 && w.starts_with(*ch)) && matches(c, t, ti + 1, s, si + 1),
        TTok::Slot(name) => {
            let Some(w) = s.get(si) else { return false };
            let set = &c.slots[name];
            let ok = set.contains(w) || (si == 0 && set.iter().any(|x| capitalize(x) == *w));
            ok && matches(c, t, ti + 1, s, si + 1)
        }
        TTok::Alt(opts) => opts.iter().any(|o| if o.is_empty() { matches(c, t, ti + 1, s, si) } else { word_eq(o, si) && matches(c, t, ti + 1, s, si + 1) }),
    }
}

/// Whether `sentence` is one the templates can produce (with any names, objects, places...
/// in their slots). This is the story grammar's exact membership test.
pub(super) fn is_grammatical(sentence: &str) -> bool {
    let c = compiled();
    let toks = tokenize_sentence(sentence);
    !toks.is_empty() && c.templates.iter().any(|t| matches(c, t, 0, &toks, 0))
}

/// Splits story text into sentences: after `.`, `!` or `?` (and a closing quote) followed by
/// whitespace or the end.
pub(super) fn split_sentences(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut i = 0;
    while i < chars.len() {
        cur.push(chars[i]);
        if matches!(chars[i], '.' | '!' | '?') {
            if chars.get(i + 1) == Some(&'"') {
                i += 1;
                cur.push('"');
            }
            if chars.get(i + 1).is_none_or(|c| c.is_whitespace()) {
                let s = cur.trim().to_string();
                if !s.is_empty() {
                    out.push(s);
                }
                cur.clear();
            }
        }
        i += 1;
    }
    let s = cur.trim();
    if !s.is_empty() {
        out.push(s.to_string());
    }
    out
}

/// Every word the generator can write (lowercased, punctuation aside), sorted.
pub(super) fn vocabulary() -> BTreeSet<String> {
    let c = compiled();
    let mut v = BTreeSet::new();
    for t in &c.templates {
        for tok in t {
            match tok {
                TTok::Lit(w) => {
                    v.insert(w.to_lowercase());
                }
                TTok::Alt(o) => v.extend(o.iter().filter(|w| !w.is_empty()).map(|w| w.to_lowercase())),
                _ => {}
            }
        }
    }
    for set in c.slots.values() {
        v.extend(set.iter().map(|w| w.to_lowercase()));
    }
    v.insert("an".into());
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_tokenize_and_join_with_quotes() {
        let t = tokenize_template("{A} said, \"Thank you, {B}!\"");
        assert_eq!(t[0], TTok::Slot("A".into()));
        assert_eq!(t[2], TTok::Sym(','));
        assert_eq!(t[3], TTok::Sym('"'));
        assert_eq!(t.last(), Some(&TTok::Sym('"')));
        let words: Vec<String> = ["Lily", "said", ",", "\"", "Thank", "you", ",", "Tom", "!", "\""].map(String::from).to_vec();
        let (text, offsets) = join_tokens(&words);
        assert_eq!(text, "Lily said, \"Thank you, Tom!\"");
        assert_eq!(&text[offsets[7]..offsets[7] + 3], "Tom");
        assert_eq!(tokenize_sentence(&text), words);
        assert_eq!(tokenize_template("(very|so|) sad."), vec![TTok::Alt(vec!["very".into(), "so".into(), "".into()]), TTok::Lit("sad".into()), TTok::Sym('.')]);
    }

    #[test]
    fn every_template_slot_is_known() {
        for beat in ALL_BEATS {
            for t in beat.iter() {
                for tok in tokenize_template(t) {
                    if let TTok::Slot(s) = tok {
                        assert!(!slot_words(&s).is_empty(), "{s}");
                    }
                }
            }
        }
        assert_eq!(split_sentences("A b. \"C d!\" E f? G"), vec!["A b.", "\"C d!\"", "E f?", "G"]);
    }
}
