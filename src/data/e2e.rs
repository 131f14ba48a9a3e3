//! A small E2E-NLG-like task: meaning representations (restaurant attributes) → text.
//!
//! E2E NLG (Novikova et al. 2017) pairs a meaning representation (MR) of 3–8 slots
//! (`name[The Eagle], eatType[coffee shop], food[French], ...`) with crowd-sourced texts.
//! This generator keeps its shape with invented names: 8 attributes, 2–8 slots per MR (name
//! and type always), several templates that order the clauses differently, and several
//! references per test MR. Words are single tokens of a fixed word-level vocabulary
//! ([`E2eTask::vocab`]), so a tiny GPT-2 can learn the task on a CPU.
//!
//! Sequences: an MR is written with every attribute in a fixed order and `-` for an absent
//! one (`name zorvia type pub food thai price - ...`), so every prompt has the same length;
//! an example is `MR = text <eos>`. [`E2eTask::examples_with`] restricts the templates, so a
//! base model can be pre-trained on some phrasings and fine-tuned to another.

use rand::{rngs::StdRng, Rng, SeedableRng};

use crate::{Error, Result};

pub const ATTRIBUTES: [&str; 8] = ["name", "type", "food", "price", "rating", "area", "family", "near"];
const NAMES: [&str; 16] = ["zorvia", "mirelle", "quinto", "brambly", "catalan", "dovecot", "elmira", "fennick", "garrow", "halden", "ivory", "jaspen", "kestrel", "lumen", "marlow", "nettle"];
const TYPES: [&str; 3] = ["restaurant", "pub", "cafe"];
const FOODS: [&str; 7] = ["thai", "french", "italian", "indian", "japanese", "chinese", "english"];
const PRICES: [&str; 3] = ["cheap", "moderate", "expensive"];
const RATINGS: [&str; 3] = ["low", "average", "high"];
const AREAS: [&str; 2] = ["riverside", "centre"];
const FAMILY: [&str; 2] = ["yes", "no"];
const NEAR: [&str; 8] = ["orchard", "quayside", "bellfry", "cobble", "stannard", "willow", "tarn", "moorgate"];
const TEMPLATE_WORDS: &str = "= - . , is a the there called serving serves food in area near it has rating rated customers rate family friendly adults only prices at with located you can find and of";

/// A meaning representation: the value of each of the 8 attributes, or None.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mr {
    pub values: [Option<&'static str>; 8],
}

impl Mr {
    /// The present (attribute, value) slots, with `family` as the words the text uses
    /// (`family friendly` / `adults only`) so slot errors are word matches.
    pub fn slots(&self) -> Vec<(String, String)> {
        ATTRIBUTES.iter().zip(&self.values).filter_map(|(a, v)| v.map(|v| (a.to_string(), surface(a, v)))).collect()
    }
    /// The fixed-length MR string.
    pub fn to_text(&self) -> String {
        ATTRIBUTES.iter().zip(&self.values).map(|(a, v)| format!("{a} {}", v.unwrap_or("-"))).collect::<Vec<_>>().join(" ")
    }
}

fn surface(attr: &str, v: &str) -> String {
    match (attr, v) {
        ("family", "yes") => "family friendly".into(),
        ("family", _) => "adults only".into(),
        _ => v.into(),
    }
}

/// Every value an attribute's slot can take, in its surface words (for slot errors).
pub fn values_of(attr: &str) -> Vec<String> {
    let v: &[&str] = match attr {
        "name" => &NAMES,
        "type" => &TYPES,
        "food" => &FOODS,
        "price" => &PRICES,
        "rating" => &RATINGS,
        "area" => &AREAS,
        "family" => &FAMILY,
        "near" => &NEAR,
        _ => &[],
    };
    v.iter().map(|x| surface(attr, x)).collect()
}

/// One example: an MR with its references (one for training, several for testing).
#[derive(Clone, Debug)]
pub struct E2eExample {
    pub mr: Mr,
    pub refs: Vec<String>,
}

/// The generator.
#[derive(Clone, Debug)]
pub struct E2eTask {
    /// Probability that each optional slot (all but name and type) is present.
    pub p_slot: f64,
}

impl Default for E2eTask {
    fn default() -> Self {
        E2eTask { p_slot: 0.6 }
    }
}

/// Number of realisation templates.
pub const N_TEMPLATES: usize = 3;

impl E2eTask {
    pub fn random_mr(&self, rng: &mut StdRng) -> Mr {
        let pick = |rng: &mut StdRng, v: &[&'static str]| v[rng.random_range(0..v.len())];
        let mut values = [None; 8];
        values[0] = Some(pick(rng, &NAMES));
        values[1] = Some(pick(rng, &TYPES));
        let lists: [&[&'static str]; 6] = [&FOODS, &PRICES, &RATINGS, &AREAS, &FAMILY, &NEAR];
        for (i, l) in lists.iter().enumerate() {
            if rng.random_bool(self.p_slot) {
                values[i + 2] = Some(pick(rng, l));
            }
        }
        Mr { values }
    }

    /// One text for `mr` with template `t` (0..N_TEMPLATES), clause order from `rng`.
    pub fn realise(&self, mr: &Mr, t: usize, rng: &mut StdRng) -> String {
        let v = |i: usize| mr.values[i];
        let (name, ty) = (v(0).unwrap_or("zorvia"), v(1).unwrap_or("restaurant"));
        let mut first: Vec<String> = vec![];
        let mut extra: Vec<String> = vec![];
        match t % N_TEMPLATES {
            0 => {
                let adj: Vec<&str> = [v(3), v(2)].iter().flatten().copied().collect();
                first.push(format!("{name} is a {}{ty}", adj.iter().map(|a| format!("{a} ")).collect::<String>()));
                if let Some(a) = v(5) {
                    first.push(format!("in the {a} area"));
                }
                if let Some(n) = v(7) {
                    first.push(format!("near {n}"));
                }
            }
            1 => {
                let mut lead = vec![];
                if let Some(n) = v(7) {
                    lead.push(format!("near {n}"));
                }
                if let Some(a) = v(5) {
                    lead.push(format!("in the {a}"));
                }
                if rng.random_bool(0.5) {
                    lead.reverse();
                }
                let price = v(3).map(|p| format!("{p} ")).unwrap_or_default();
                let s = format!("{}there is a {price}{ty} called {name}", lead.iter().map(|l| format!("{l} ")).collect::<String>());
                first.push(s);
                if let Some(f) = v(2) {
                    first.push(format!("serving {f} food"));
                }
            }
            _ => {
                first.push(format!("the {ty} {name}"));
                let mut parts = vec![];
                if let Some(f) = v(2) {
                    parts.push(format!("serves {f} food"));
                }
                if let Some(p) = v(3) {
                    parts.push(format!("at {p} prices"));
                }
                if let Some(a) = v(5) {
                    parts.push(format!("in the {a} area"));
                }
                if let Some(n) = v(7) {
                    parts.push(format!("near {n}"));
                }
                if parts.is_empty() {
                    parts.push("is located here".into());
                }
                // the clauses in any order: references of this template differ in order
                for i in (1..parts.len()).rev() {
                    parts.swap(i, rng.random_range(0..=i));
                }
                first.push(parts.join(" and "));
            }
        }
        if let Some(r) = v(4) {
            extra.push(match rng.random_range(0..2) {
                0 => format!("it has a {r} rating"),
                _ => format!("customers rate it {r}"),
            });
        }
        if let Some(f) = v(6) {
            extra.push(format!("it is {}", surface("family", f)));
        }
        if rng.random_bool(0.5) {
            extra.reverse();
        }
        let mut s = first.join(" ").trim().to_string() + " .";
        for e in extra {
            s += &format!(" {e} .");
        }
        s.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// `n` examples; each has `n_refs` references from different templates (the first is
    /// the training target). Seeded.
    pub fn examples(&self, n: usize, n_refs: usize, seed: u64) -> Vec<E2eExample> {
        let all: Vec<usize> = (0..N_TEMPLATES).collect();
        self.examples_with(n, n_refs, seed, &all)
    }

    /// As [`E2eTask::examples`], with references only from the given templates (cycled from
    /// a random start; one template gives references differing in clause order and phrasing).
    pub fn examples_with(&self, n: usize, n_refs: usize, seed: u64, templates: &[usize]) -> Vec<E2eExample> {
        let mut rng = StdRng::seed_from_u64(seed);
        let templates: Vec<usize> = if templates.is_empty() { vec![0] } else { templates.to_vec() };
        (0..n)
            .map(|_| {
                let mr = self.random_mr(&mut rng);
                let t0 = rng.random_range(0..templates.len());
                let refs = (0..n_refs.max(1)).map(|j| self.realise(&mr, templates[(t0 + j) % templates.len()], &mut rng)).collect();
                E2eExample { mr, refs }
            })
            .collect()
    }

    /// The word vocabulary: `<eos>` (id 0) then every word the generator can write.
    pub fn vocab() -> Vec<String> {
        let mut w: Vec<String> = vec!["<eos>".into()];
        let mut add = |s: &str| {
            for x in s.split_whitespace() {
                if !w.iter().any(|y| y == x) {
                    w.push(x.to_string());
                }
            }
        };
        add(&ATTRIBUTES.join(" "));
        add(TEMPLATE_WORDS);
        for l in [&NAMES[..], &TYPES, &FOODS, &PRICES, &RATINGS, &AREAS, &FAMILY, &NEAR] {
            add(&l.join(" "));
        }
        add("is located here");
        w
    }

    /// Word ids of a text; an unknown word is an error naming it.
    pub fn encode(vocab: &[String], text: &str) -> Result<Vec<u32>> {
        text.split_whitespace()
            .map(|x| vocab.iter().position(|y| y == x).map(|i| i as u32).ok_or_else(|| Error::Data(format!("word {x:?} is not in the E2E vocabulary"))))
            .collect()
    }

    pub fn decode(vocab: &[String], ids: &[u32]) -> String {
        ids.iter().filter_map(|&i| vocab.get(i as usize)).map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_realises_every_slot_and_encodes() {
        let task = E2eTask::default();
        let vocab = E2eTask::vocab();
        let ex = task.examples(300, N_TEMPLATES, 1);
        for e in &ex {
            E2eTask::encode(&vocab, &e.mr.to_text()).unwrap();
            assert_eq!(e.mr.to_text().split_whitespace().count(), 16);
            for r in &e.refs {
                E2eTask::encode(&vocab, r).unwrap();
                let (missing, wrong) = crate::metrics::text::slot_errors(r, &e.mr.slots(), values_of);
                assert_eq!((missing, wrong), (0, 0), "{r} for {}", e.mr.to_text());
            }
        }
        // seeded
        assert_eq!(task.examples(5, 2, 9).iter().map(|e| e.refs.clone()).collect::<Vec<_>>(), task.examples(5, 2, 9).iter().map(|e| e.refs.clone()).collect::<Vec<_>>());
    }
}
