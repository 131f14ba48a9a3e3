//! A TinyStories-like generator: short children's stories (5–10 sentences) with consistent named
//! characters (name, kind, pronouns), an object the hero owns, a place, and one of five simple
//! causal arcs (a lost toy found by a friend, learning to share, a broken toy fixed by a parent, a
//! hungry animal fed and adopted, a rainy day). Each sentence is drawn from a small set of
//! templates whose slots are bound once per story, so names, pronouns and objects stay consistent.
//!
//! What the TinyStories notebook probes comes annotated with every [`Story`]:
//! - [`Story::characters`] and [`Story::objects`] (who owns what);
//! - [`Story::probes`]: every place where the next word re-mentions a known character (name or
//!   pronoun) or object, as `(prefix, answer)`: e.g. prefix `"... Tom gave the ball back to"`,
//!   answer `"Lily"`, with the other character's name as [`Probe::distractor`]. A model predicts
//!   the answer as the next word (with a leading space for GPT-2 BPE);
//! - a grammar: [`StoryGen::is_grammatical`] accepts exactly the sentences the templates can
//!   produce (any names/objects in their slots), so sampled text can be checked against it.
//!
//! Template grammaticality is far easier than real TinyStories; the notebook should say so.
//!
//! ```
//! use gpt2lab::data::StoryGen;
//! let mut g = StoryGen::new(1);
//! let s = g.story();
//! assert!((5..=10).contains(&s.sentences.len()));
//! assert!(s.text.contains(&s.characters[0].name));
//! assert!(s.sentences.iter().all(|x| StoryGen::is_grammatical(x)));
//! ```

use std::collections::BTreeSet;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

mod grammar;
#[rustfmt::skip]
mod templates;

use grammar::{capitalize, join_tokens, starts_with_vowel, tokenize_template, TTok};
use templates::*;

const MIN_SENTENCES: usize = 5;
const MAX_SENTENCES: usize = 10;

// ------------------------------------------------------------------------------------------------
// Public types

/// A character of a story.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Character {
    /// "Lily"; for a parent, the word used ("mom").
    pub name: String,
    /// "girl", "boy", "dog", ..., or "mom" / "dad" / "grandma" / "grandpa".
    pub kind: String,
    /// "she" / "he".
    pub subject: String,
    /// "her" / "him".
    pub object: String,
    /// "her" / "his".
    pub possessive: String,
    pub role: Role,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    Hero,
    Friend,
    Parent,
}

/// An object in a story and who owns it (index into [`Story::characters`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoryObject {
    pub noun: String,
    /// Empty when the story never describes it.
    pub adjective: String,
    pub owner: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProbeKind {
    /// The next word is a known character's name.
    Name,
    /// The next word is a known character's pronoun (he/she, him/her, his/her).
    Pronoun,
    /// The next word is a known object's noun.
    Object,
}

/// A consistency probe: `prefix` is the story text up to (not including) the space before
/// `answer`; the entity was mentioned earlier in the story.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    pub prefix: String,
    pub answer: String,
    pub kind: ProbeKind,
    /// A plausible wrong answer from the same story (the other character's name, the other
    /// gender's pronoun, another object), when the story has one.
    pub distractor: Option<String>,
    /// For name and pronoun probes, the character (index into [`Story::characters`]).
    pub character: Option<usize>,
    /// Index of the sentence the answer is in.
    pub sentence: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StoryArc {
    LostAndFound,
    Sharing,
    BrokenToy,
    HungryAnimal,
    RainyDay,
}

/// One generated story with its annotations.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Story {
    /// The sentences joined by single spaces.
    pub text: String,
    pub sentences: Vec<String>,
    /// The hero first, then the friend and the parent when the story has them.
    pub characters: Vec<Character>,
    pub objects: Vec<StoryObject>,
    /// The place, when the story names one.
    pub place: Option<String>,
    pub arc: StoryArc,
    pub probes: Vec<Probe>,
}

// ------------------------------------------------------------------------------------------------
// Generation

/// A character as bound for one story.
#[derive(Clone)]
struct Cast {
    name: String,
    kind: String,
    sub: &'static str,
    obj: &'static str,
    pos: &'static str,
}

/// Which story entity a slot refers to, for mention tracking and probes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ent {
    A,
    B,
    H,
    O,
    F,
    N,
    P,
}

struct Bindings {
    a: Cast,
    b: Cast,
    h: Cast,
    o: String,
    o_adj: String,
    p: String,
    w: String,
    f: String,
    n: String,
    x: String,
}

impl Bindings {
    /// The word for a slot, the entity it refers to and the probe kind it gives, and for a
    /// pronoun the same pronoun of the other gender.
    fn resolve_full(&self, slot: &str) -> (String, Option<(Ent, ProbeKind)>, Option<String>) {
        let (w, r) = self.resolve(slot);
        let field = slot.split_once('.').map_or("", |x| x.1);
        let she = w.eq_ignore_ascii_case("she") || w.eq_ignore_ascii_case("her");
        let other = match (field, she) {
            ("sub" | "Sub", true) => "he",
            ("sub" | "Sub", false) => "she",
            ("obj", true) => "him",
            ("obj", false) => "her",
            ("pos" | "Pos", true) => "his",
            ("pos" | "Pos", false) => "her",
            _ => return (w, r, None),
        };
        let other = if field.starts_with(char::is_uppercase) { capitalize(other) } else { other.to_string() };
        (w, r, Some(other))
    }

    /// The word for a slot, the entity it refers to and the probe kind it gives.
    fn resolve(&self, slot: &str) -> (String, Option<(Ent, ProbeKind)>) {
        let (ent, field) = slot.split_once('.').unwrap_or((slot, ""));
        let cast = match ent {
            "A" => Some((&self.a, Ent::A)),
            "B" => Some((&self.b, Ent::B)),
            "H" => Some((&self.h, Ent::H)),
            _ => None,
        };
        if let Some((c, e)) = cast {
            return match field {
                "" => (c.name.clone(), Some((e, ProbeKind::Name))),
                "kind" => (c.kind.clone(), None),
                "sub" => (c.sub.to_string(), Some((e, ProbeKind::Pronoun))),
                "Sub" => (capitalize(c.sub), Some((e, ProbeKind::Pronoun))),
                "obj" => (c.obj.to_string(), Some((e, ProbeKind::Pronoun))),
                "pos" => (c.pos.to_string(), Some((e, ProbeKind::Pronoun))),
                "Pos" => (capitalize(c.pos), Some((e, ProbeKind::Pronoun))),
                _ => panic!("unknown slot {{{slot}}}"),
            };
        }
        match (ent, field) {
            ("O", "") => (self.o.clone(), Some((Ent::O, ProbeKind::Object))),
            ("O", "adj") => (self.o_adj.clone(), None),
            ("P", "") => (self.p.clone(), Some((Ent::P, ProbeKind::Object))),
            ("W", "") => (self.w.clone(), None),
            ("F", "") => (self.f.clone(), Some((Ent::F, ProbeKind::Object))),
            ("N", "") => (self.n.clone(), Some((Ent::N, ProbeKind::Object))),
            ("X", "") => (self.x.clone(), None),
            _ => panic!("unknown slot {{{slot}}}"),
        }
    }
}

/// The story generator. Seeded: `StoryGen::new(s)` then `stories(n)` always gives the same
/// stories.
pub struct StoryGen {
    rng: StdRng,
}

fn pick<'a>(rng: &mut StdRng, xs: &[&'a str]) -> &'a str {
    xs[rng.random_range(0..xs.len())]
}

impl StoryGen {
    pub fn new(seed: u64) -> Self {
        StoryGen { rng: StdRng::seed_from_u64(seed) }
    }

    /// `n` more stories.
    pub fn stories(&mut self, n: usize) -> Vec<Story> {
        (0..n).map(|_| self.story()).collect()
    }

    /// The texts of `n` more stories.
    pub fn texts(&mut self, n: usize) -> Vec<String> {
        self.stories(n).into_iter().map(|s| s.text).collect()
    }

    fn cast(&mut self, kinds_animal_p: f64, avoid: Option<&str>) -> Cast {
        loop {
            let she = self.rng.random_bool(0.5);
            let (kind, name) = if self.rng.random_bool(kinds_animal_p) {
                (pick(&mut self.rng, ANIMAL_KINDS), pick(&mut self.rng, PET_NAMES))
            } else if she {
                ("girl", pick(&mut self.rng, GIRL_NAMES))
            } else {
                ("boy", pick(&mut self.rng, BOY_NAMES))
            };
            if Some(name) == avoid {
                continue;
            }
            let (sub, obj, pos) = if she { ("she", "her", "her") } else { ("he", "him", "his") };
            return Cast { name: name.into(), kind: kind.into(), sub, obj, pos };
        }
    }

    /// The next story.
    pub fn story(&mut self) -> Story {
        let arc = match self.rng.random_range(0..5) {
            0 => StoryArc::LostAndFound,
            1 => StoryArc::Sharing,
            2 => StoryArc::BrokenToy,
            3 => StoryArc::HungryAnimal,
            _ => StoryArc::RainyDay,
        };
        let a = self.cast(0.25, None);
        let mut b = self.cast(0.2, Some(&a.name));
        let n = pick(&mut self.rng, FOUND_ANIMALS).to_string();
        if arc == StoryArc::HungryAnimal {
            // The friend is the animal the hero finds and names.
            b.kind = n.clone();
            while b.name == a.name || !PET_NAMES.contains(&b.name.as_str()) {
                b.name = pick(&mut self.rng, PET_NAMES).into();
            }
        }
        let &(hw, hs, ho, hp) = &PARENTS[self.rng.random_range(0..PARENTS.len())];
        let h = Cast { name: hw.into(), kind: hw.into(), sub: hs, obj: ho, pos: hp };
        let bind = Bindings {
            a,
            b,
            h,
            o: pick(&mut self.rng, OBJECTS).into(),
            o_adj: pick(&mut self.rng, OBJECT_ADJS).into(),
            p: pick(&mut self.rng, PLACES).into(),
            w: pick(&mut self.rng, WATERS).into(),
            f: pick(&mut self.rng, FOODS).into(),
            n,
            x: pick(&mut self.rng, SPOTS).into(),
        };
        // (beat, required)
        let plan: Vec<(&[&str], bool)> = match arc {
            StoryArc::LostAndFound => {
                let (loss, help): (&[&str], &[&str]) = match self.rng.random_range(0..4) {
                    0 => (LOSS_WIND, HELP_TREE),
                    1 => (LOSS_WATER, HELP_WATER),
                    2 => (LOSS_THROW, HELP_TREE),
                    _ => (LOSS_LOST, HELP_LOST),
                };
                vec![
                    (OPEN, true),
                    (HAS, true),
                    (GO, true),
                    (loss, true),
                    (SAD, false),
                    (FRIEND, true),
                    (ASK, false),
                    (help, true),
                    (GIVE_BACK, true),
                    (THANK, false),
                    (END_FRIENDS, true),
                ]
            }
            StoryArc::Sharing => vec![
                (OPEN, true),
                (HAS, true),
                (PLAYING, true),
                (WANTS, true),
                (REFUSE, true),
                (FRIEND_SAD, false),
                (REFLECT, false),
                (SHARE, true),
                (PLAY_TOGETHER, false),
                (END_SHARE, true),
            ],
            StoryArc::BrokenToy => vec![
                (OPEN, true),
                (HAS, true),
                (PLAY_DAILY, true),
                (BREAK, true),
                (SAD, false),
                (TO_PARENT, true),
                (FIX, true),
                (HAPPY_AGAIN, false),
                (END_BROKEN, true),
            ],
            StoryArc::HungryAnimal => vec![
                (OPEN, true),
                (GO_SIMPLE, true),
                (MEET, true),
                (HUNGRY, true),
                (FOOD_HAVE, true),
                (GIVE_FOOD, true),
                (EAT, false),
                (FOLLOW, false),
                (NAME_PET, true),
                (END_PET, true),
            ],
            StoryArc::RainyDay => vec![
                (OPEN, true),
                (HAS, true),
                (PLAN, true),
                (RAIN, true),
                (SAD_RAIN, false),
                (IDEA, true),
                (PLAY_INSIDE, true),
                (SUN, false),
                (GO_OUT, false),
                (END_RAIN, true),
            ],
        };
        // Keep each optional beat with probability 0.6, then drop optional ones until it fits.
        let mut keep: Vec<bool> = plan.iter().map(|&(_, req)| req || self.rng.random_bool(0.6)).collect();
        while keep.iter().filter(|&&k| k).count() > MAX_SENTENCES {
            let optional: Vec<usize> = (0..plan.len()).filter(|&i| keep[i] && !plan[i].1).collect();
            keep[optional[self.rng.random_range(0..optional.len())]] = false;
        }
        debug_assert!(keep.iter().filter(|&&k| k).count() >= MIN_SENTENCES);

        let mut st = Render { bind: &bind, sentences: Vec::new(), text_len: 0, mentioned: Vec::new(), probes: Vec::new() };
        for (i, &(beat, _)) in plan.iter().enumerate() {
            if keep[i] {
                let t = beat[self.rng.random_range(0..beat.len())];
                st.render(t, &mut self.rng);
            }
        }
        let Render { sentences, mentioned, probes, .. } = st;
        let text = sentences.join(" ");

        let to_char = |c: &Cast, role: Role| Character {
            name: c.name.clone(),
            kind: c.kind.clone(),
            subject: c.sub.into(),
            object: c.obj.into(),
            possessive: c.pos.into(),
            role,
        };
        let mut characters = vec![to_char(&bind.a, Role::Hero)];
        if mentioned.contains(&Ent::B) {
            characters.push(to_char(&bind.b, Role::Friend));
        }
        if mentioned.contains(&Ent::H) {
            characters.push(to_char(&bind.h, Role::Parent));
        }
        let described = text.contains(&format!("{} {}", bind.o_adj, bind.o));
        let mut objects = Vec::new();
        if mentioned.contains(&Ent::O) {
            objects.push(StoryObject { noun: bind.o.clone(), adjective: if described { bind.o_adj.clone() } else { String::new() }, owner: 0 });
        }
        if mentioned.contains(&Ent::F) {
            objects.push(StoryObject { noun: bind.f.clone(), adjective: String::new(), owner: 0 });
        }
        let place = mentioned.contains(&Ent::P).then(|| bind.p.clone());
        Story { text, sentences, characters, objects, place, arc, probes }
    }

    /// Whether `sentence` is one the templates can produce (with any names, objects, places...
    /// in their slots). This is the story grammar's exact membership test.
    pub fn is_grammatical(sentence: &str) -> bool {
        grammar::is_grammatical(sentence)
    }

    /// Splits story text into sentences: after `.`, `!` or `?` (and a closing quote) followed by
    /// whitespace or the end.
    pub fn split_sentences(text: &str) -> Vec<String> {
        grammar::split_sentences(text)
    }

    /// The fraction of sentences of `text` that are grammatical (0 for empty text).
    pub fn grammatical_fraction(text: &str) -> f64 {
        let s = Self::split_sentences(text);
        if s.is_empty() {
            return 0.0;
        }
        s.iter().filter(|x| Self::is_grammatical(x)).count() as f64 / s.len() as f64
    }

    /// Every word the generator can write (lowercased, punctuation aside), sorted.
    pub fn vocabulary() -> BTreeSet<String> {
        grammar::vocabulary()
    }
}

/// Rendering state of one story.
struct Render<'a> {
    bind: &'a Bindings,
    sentences: Vec<String>,
    /// Length of the story text so far (sentences joined by spaces).
    text_len: usize,
    mentioned: Vec<Ent>,
    probes: Vec<Probe>,
}

impl Render<'_> {
    fn render(&mut self, template: &str, rng: &mut StdRng) {
        let mut words: Vec<String> = Vec::new();
        let mut refs: Vec<Option<(Ent, ProbeKind)>> = Vec::new();
        let mut alts: Vec<Option<String>> = Vec::new();
        let mut is_article: Vec<bool> = Vec::new();
        for tok in tokenize_template(template) {
            let (w, r, alt) = match tok {
                TTok::Lit(l) => (l, None, None),
                TTok::Sym(c) => (c.to_string(), None, None),
                TTok::Slot(s) => self.bind.resolve_full(&s),
                TTok::Alt(o) => {
                    let w = o[rng.random_range(0..o.len())].clone();
                    if w.is_empty() {
                        continue;
                    }
                    (w, None, None)
                }
            };
            is_article.push(w == "a");
            words.push(w);
            refs.push(r);
            alts.push(alt);
        }
        for i in 0..words.len().saturating_sub(1) {
            if is_article[i] && starts_with_vowel(&words[i + 1]) {
                words[i] = "an".into();
            }
        }
        words[0] = capitalize(&words[0]);
        let (sentence, offsets) = join_tokens(&words);
        let base = if self.sentences.is_empty() { 0 } else { self.text_len + 1 };
        let prefix_text = |upto: usize, sents: &[String], cur: &str| -> String {
            let mut p = sents.join(" ");
            if !p.is_empty() {
                p.push(' ');
            }
            p.push_str(&cur[..upto]);
            p.trim_end().to_string()
        };
        for (i, r) in refs.iter().enumerate() {
            let Some((ent, kind)) = *r else { continue };
            if self.mentioned.contains(&ent) && ent != Ent::H {
                let distractor = if kind == ProbeKind::Pronoun { alts[i].clone() } else { self.distractor(ent, kind) };
                self.probes.push(Probe {
                    prefix: prefix_text(offsets[i], &self.sentences, &sentence),
                    answer: words[i].clone(),
                    kind,
                    distractor,
                    // The hero is character 0; the friend, once mentioned, is character 1.
                    character: match ent {
                        Ent::A => Some(0),
                        Ent::B => Some(1),
                        _ => None,
                    },
                    sentence: self.sentences.len(),
                });
            }
            if !self.mentioned.contains(&ent) {
                self.mentioned.push(ent);
            }
        }
        self.text_len = base + sentence.len();
        self.sentences.push(sentence);
    }

    /// The other character's name, or the other object, when the story has mentioned it.
    fn distractor(&self, ent: Ent, kind: ProbeKind) -> Option<String> {
        let other = match ent {
            Ent::A => Ent::B,
            Ent::B => Ent::A,
            Ent::O => Ent::F,
            Ent::F => Ent::O,
            _ => return None,
        };
        match kind {
            ProbeKind::Name => self.mentioned.contains(&other).then(|| self.bind.resolve(if other == Ent::A { "A" } else { "B" }).0),
            ProbeKind::Pronoun => None,
            ProbeKind::Object => self.mentioned.contains(&other).then(|| self.bind.resolve(if other == Ent::O { "O" } else { "F" }).0),
        }
    }
}
