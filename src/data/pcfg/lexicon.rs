//! The MiniEnglish lexicon: every word with its semantic class (person, animal, thing, food,
//! place), number, and for verbs the three forms and the subcategorisation frames.

use super::{Number, Person};

/// Semantic classes (bit masks).
pub(super) const PERSON: u8 = 1;
pub(super) const ANIMAL: u8 = 2;
pub(super) const THING: u8 = 4;
pub(super) const FOOD: u8 = 8;
pub(super) const PLACE: u8 = 16;
pub(super) const ANIMATE: u8 = PERSON | ANIMAL;
pub(super) const ANY: u8 = 31;
pub(super) const NON_PERSON: u8 = ANIMAL | THING | FOOD | PLACE;

/// (singular, plural, class)
#[rustfmt::skip]
pub(super) const NOUNS: &[(&str, &str, u8)] = &[
    ("man", "men", PERSON), ("woman", "women", PERSON), ("child", "children", PERSON), ("boy", "boys", PERSON),
    ("girl", "girls", PERSON), ("baby", "babies", PERSON), ("teacher", "teachers", PERSON),
    ("doctor", "doctors", PERSON), ("farmer", "farmers", PERSON), ("baker", "bakers", PERSON),
    ("king", "kings", PERSON), ("queen", "queens", PERSON), ("student", "students", PERSON),
    ("friend", "friends", PERSON), ("neighbor", "neighbors", PERSON), ("sister", "sisters", PERSON),
    ("brother", "brothers", PERSON), ("mother", "mothers", PERSON), ("father", "fathers", PERSON),
    ("singer", "singers", PERSON), ("painter", "painters", PERSON), ("driver", "drivers", PERSON),
    ("pilot", "pilots", PERSON), ("nurse", "nurses", PERSON), ("sailor", "sailors", PERSON),
    ("soldier", "soldiers", PERSON), ("writer", "writers", PERSON), ("prince", "princes", PERSON),
    ("princess", "princesses", PERSON), ("hunter", "hunters", PERSON), ("dog", "dogs", ANIMAL),
    ("cat", "cats", ANIMAL), ("bird", "birds", ANIMAL), ("horse", "horses", ANIMAL), ("cow", "cows", ANIMAL),
    ("mouse", "mice", ANIMAL), ("fox", "foxes", ANIMAL), ("wolf", "wolves", ANIMAL), ("bear", "bears", ANIMAL),
    ("rabbit", "rabbits", ANIMAL), ("duck", "ducks", ANIMAL), ("goat", "goats", ANIMAL), ("frog", "frogs", ANIMAL),
    ("lion", "lions", ANIMAL), ("tiger", "tigers", ANIMAL), ("monkey", "monkeys", ANIMAL), ("pig", "pigs", ANIMAL),
    ("owl", "owls", ANIMAL), ("snake", "snakes", ANIMAL), ("bee", "bees", ANIMAL), ("turtle", "turtles", ANIMAL),
    ("elephant", "elephants", ANIMAL), ("book", "books", THING), ("ball", "balls", THING), ("box", "boxes", THING),
    ("cup", "cups", THING), ("key", "keys", THING), ("hat", "hats", THING), ("bag", "bags", THING),
    ("chair", "chairs", THING), ("table", "tables", THING), ("lamp", "lamps", THING), ("letter", "letters", THING),
    ("picture", "pictures", THING), ("clock", "clocks", THING), ("bottle", "bottles", THING),
    ("shoe", "shoes", THING), ("coat", "coats", THING), ("toy", "toys", THING), ("stone", "stones", THING),
    ("stick", "sticks", THING), ("rope", "ropes", THING), ("basket", "baskets", THING), ("boat", "boats", THING),
    ("car", "cars", THING), ("kite", "kites", THING), ("bell", "bells", THING), ("drum", "drums", THING),
    ("map", "maps", THING), ("knife", "knives", THING), ("flower", "flowers", THING), ("candle", "candles", THING),
    ("apple", "apples", FOOD), ("cake", "cakes", FOOD), ("cookie", "cookies", FOOD), ("orange", "oranges", FOOD),
    ("banana", "bananas", FOOD), ("carrot", "carrots", FOOD), ("egg", "eggs", FOOD), ("pie", "pies", FOOD),
    ("sandwich", "sandwiches", FOOD), ("cherry", "cherries", FOOD), ("potato", "potatoes", FOOD),
    ("tomato", "tomatoes", FOOD), ("house", "houses", PLACE), ("garden", "gardens", PLACE), ("park", "parks", PLACE),
    ("river", "rivers", PLACE), ("forest", "forests", PLACE), ("city", "cities", PLACE),
    ("village", "villages", PLACE), ("school", "schools", PLACE), ("market", "markets", PLACE),
    ("kitchen", "kitchens", PLACE), ("room", "rooms", PLACE), ("hill", "hills", PLACE), ("lake", "lakes", PLACE),
    ("field", "fields", PLACE), ("farm", "farms", PLACE), ("road", "roads", PLACE), ("bridge", "bridges", PLACE),
    ("castle", "castles", PLACE), ("library", "libraries", PLACE), ("beach", "beaches", PLACE),
];

/// A verb and its subcategorisation frames.
pub(super) struct VerbEntry {
    pub(super) base: &'static str,
    pub(super) s3: &'static str,
    pub(super) past: &'static str,
    /// Subject classes.
    pub(super) subj: u8,
    /// Object classes when transitive, 0 otherwise.
    pub(super) obj: u8,
    pub(super) intr: bool,
    pub(super) pp: bool,
    pub(super) comp: bool,
}

const fn v(base: &'static str, s3: &'static str, past: &'static str, subj: u8, obj: u8, frames: &str) -> VerbEntry {
    let f = frames.as_bytes();
    let (mut intr, mut pp, mut comp) = (false, false, false);
    let mut i = 0;
    while i < f.len() {
        match f[i] {
            b'i' => intr = true,
            b'p' => pp = true,
            b'c' => comp = true,
            _ => {}
        }
        i += 1;
    }
    VerbEntry { base, s3, past, subj, obj, intr, pp, comp }
}

/// Frames: i = intransitive, p = takes a PP, c = takes a `that` clause; `obj != 0` = transitive.
pub(super) const VERBS: &[VerbEntry] = &[
    v("walk", "walks", "walked", ANIMATE, 0, "ip"),
    v("run", "runs", "ran", ANIMATE, 0, "ip"),
    v("sleep", "sleeps", "slept", ANIMATE, 0, "ip"),
    v("sit", "sits", "sat", ANIMATE, 0, "ip"),
    v("jump", "jumps", "jumped", ANIMATE, 0, "ip"),
    v("swim", "swims", "swam", ANIMATE, 0, "ip"),
    v("dance", "dances", "danced", PERSON, 0, "ip"),
    v("sing", "sings", "sang", ANIMATE, 0, "i"),
    v("laugh", "laughs", "laughed", PERSON, 0, "i"),
    v("cry", "cries", "cried", ANIMATE, 0, "i"),
    v("smile", "smiles", "smiled", PERSON, 0, "i"),
    v("wait", "waits", "waited", ANIMATE, 0, "ip"),
    v("play", "plays", "played", ANIMATE, 0, "ip"),
    v("rest", "rests", "rested", ANIMATE, 0, "ip"),
    v("fall", "falls", "fell", ANIMATE | THING | FOOD, 0, "ip"),
    v("arrive", "arrives", "arrived", ANIMATE, 0, "ip"),
    v("hide", "hides", "hid", ANIMATE, THING | FOOD, "ip"),
    v("live", "lives", "lived", ANIMATE, 0, "p"),
    v("work", "works", "worked", PERSON, 0, "ip"),
    v("climb", "climbs", "climbed", ANIMATE, PLACE | THING, "i"),
    v("travel", "travels", "traveled", PERSON, 0, "p"),
    v("shout", "shouts", "shouted", PERSON, 0, "i"),
    v("roll", "rolls", "rolled", THING | FOOD | ANIMAL, 0, "ip"),
    v("shine", "shines", "shone", THING, 0, "i"),
    v("stand", "stands", "stood", ANY, 0, "p"),
    v("grow", "grows", "grew", ANIMATE | THING | FOOD, 0, "i"),
    v("grow", "grows", "grew", PERSON, FOOD, ""),
    v("see", "sees", "saw", ANIMATE, ANY, "c"),
    v("watch", "watches", "watched", ANIMATE, ANY, ""),
    v("like", "likes", "liked", ANIMATE, ANY, ""),
    v("love", "loves", "loved", ANIMATE, ANY, ""),
    v("help", "helps", "helped", ANIMATE, ANIMATE, ""),
    v("find", "finds", "found", ANIMATE, ANY, ""),
    v("follow", "follows", "followed", ANIMATE, ANIMATE, ""),
    v("carry", "carries", "carried", ANIMATE, THING | FOOD | ANIMAL, ""),
    v("eat", "eats", "ate", ANIMATE, FOOD, "i"),
    v("hold", "holds", "held", ANIMATE | THING, THING | FOOD | ANIMAL, ""),
    v("take", "takes", "took", ANIMATE, THING | FOOD | ANIMAL, ""),
    v("bring", "brings", "brought", ANIMATE, THING | FOOD | ANIMAL, ""),
    v("want", "wants", "wanted", ANIMATE, THING | FOOD | ANIMAL, ""),
    v("visit", "visits", "visited", PERSON, PLACE | PERSON, ""),
    v("clean", "cleans", "cleaned", PERSON, THING | PLACE, ""),
    v("open", "opens", "opened", PERSON, THING | PLACE, ""),
    v("paint", "paints", "painted", PERSON, THING | PLACE, "i"),
    v("build", "builds", "built", ANIMATE, THING | PLACE, ""),
    v("buy", "buys", "bought", PERSON, THING | FOOD | ANIMAL, ""),
    v("throw", "throws", "threw", PERSON, THING | FOOD, ""),
    v("catch", "catches", "caught", ANIMATE, THING | FOOD | ANIMAL, ""),
    v("chase", "chases", "chased", ANIMATE, ANIMATE | THING, ""),
    v("hear", "hears", "heard", ANIMATE, ANIMATE | THING, "c"),
    v("push", "pushes", "pushed", ANIMATE, ANIMATE | THING, ""),
    v("wash", "washes", "washed", PERSON, ANIMATE | THING | FOOD, ""),
    v("draw", "draws", "drew", PERSON, ANY, "i"),
    v("write", "writes", "wrote", PERSON, THING, "i"),
    v("cook", "cooks", "cooked", PERSON, FOOD, "i"),
    v("drop", "drops", "dropped", ANIMATE, THING | FOOD, ""),
    v("lose", "loses", "lost", ANIMATE, THING | FOOD | ANIMAL, ""),
    v("hug", "hugs", "hugged", ANIMATE, ANIMATE, ""),
    v("meet", "meets", "met", ANIMATE, ANIMATE, ""),
    v("remember", "remembers", "remembered", ANIMATE, ANY, "c"),
    v("forget", "forgets", "forgot", ANIMATE, ANY, "c"),
    v("fix", "fixes", "fixed", PERSON, THING, ""),
    v("feed", "feeds", "fed", PERSON, ANIMATE, ""),
    v("teach", "teaches", "taught", PERSON, PERSON, "i"),
    v("bite", "bites", "bit", ANIMAL, ANIMATE | FOOD | THING, ""),
    v("think", "thinks", "thought", PERSON, 0, "c"),
    v("know", "knows", "knew", PERSON, PERSON | PLACE, "c"),
    v("say", "says", "said", PERSON, 0, "c"),
    v("believe", "believes", "believed", PERSON, 0, "c"),
    v("hope", "hopes", "hoped", PERSON, 0, "c"),
    v("notice", "notices", "noticed", ANIMATE, ANY, "c"),
    v("dream", "dreams", "dreamed", PERSON, 0, "ic"),
    v("learn", "learns", "learned", PERSON, 0, "ic"),
];

/// (adjective, classes it can modify)
#[rustfmt::skip]
pub(super) const ADJS: &[(&str, u8)] = &[
    ("happy", ANIMATE), ("sad", ANIMATE), ("brave", ANIMATE), ("clever", ANIMATE), ("lazy", ANIMATE),
    ("hungry", ANIMATE), ("tired", ANIMATE), ("kind", PERSON), ("angry", ANIMATE), ("funny", ANIMATE),
    ("young", ANIMATE), ("sleepy", ANIMATE), ("gentle", ANIMATE), ("wild", ANIMAL), ("busy", PERSON | PLACE),
    ("famous", PERSON | PLACE), ("quiet", ANIMATE | PLACE), ("red", THING | FOOD), ("blue", THING),
    ("green", THING | FOOD), ("yellow", THING | FOOD), ("heavy", THING), ("round", THING | FOOD),
    ("soft", THING | FOOD), ("new", THING | PLACE), ("broken", THING), ("shiny", THING), ("wooden", THING),
    ("empty", THING | PLACE), ("dirty", ANIMAL | THING | PLACE), ("wet", ANY), ("sweet", FOOD), ("fresh", FOOD),
    ("ripe", FOOD), ("big", ANY), ("small", ANY), ("little", ANY), ("old", ANY),
];

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum DetNum {
    Sg,
    Pl,
    Any,
}

/// (determiner, number it needs, weight)
#[rustfmt::skip]
pub(super) const DETS: &[(&str, DetNum, f64)] = &[
    ("the", DetNum::Any, 8.0), ("a", DetNum::Sg, 4.0), ("this", DetNum::Sg, 1.0), ("these", DetNum::Pl, 1.0),
    ("those", DetNum::Pl, 1.0), ("every", DetNum::Sg, 0.6), ("each", DetNum::Sg, 0.4), ("some", DetNum::Pl, 1.0),
    ("many", DetNum::Pl, 0.8), ("two", DetNum::Pl, 0.6), ("three", DetNum::Pl, 0.5), ("my", DetNum::Any, 0.8),
    ("your", DetNum::Any, 0.5), ("his", DetNum::Any, 0.6), ("our", DetNum::Any, 0.5), ("their", DetNum::Any, 0.5),
];

/// Prepositions after a noun: (preposition, classes of its object).
#[rustfmt::skip]
pub(super) const NP_PREPS: &[(&str, u8)] = &[
    ("in", THING | PLACE), ("on", THING | PLACE), ("near", ANIMATE | THING | PLACE), ("under", THING | PLACE),
    ("behind", ANIMATE | THING | PLACE), ("beside", ANIMATE | THING | PLACE), ("with", ANIMATE | THING),
    ("from", PLACE),
];
/// Prepositions after an intransitive verb of motion or location.
#[rustfmt::skip]
pub(super) const VP_PREPS: &[(&str, u8)] = &[
    ("to", PLACE), ("into", PLACE), ("across", PLACE), ("through", PLACE), ("around", PLACE), ("in", THING | PLACE),
    ("on", THING | PLACE), ("near", ANIMATE | THING | PLACE), ("under", THING | PLACE),
    ("behind", ANIMATE | THING | PLACE), ("beside", ANIMATE | THING | PLACE), ("with", ANIMATE),
];

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum AdvCond {
    Always,
    /// Only in the past tense.
    Past,
    /// Only with a plural subject.
    Plural,
}

#[rustfmt::skip]
pub(super) const ADVS: &[(&str, AdvCond)] = &[
    ("quickly", AdvCond::Always), ("slowly", AdvCond::Always), ("quietly", AdvCond::Always),
    ("loudly", AdvCond::Always), ("happily", AdvCond::Always), ("carefully", AdvCond::Always),
    ("again", AdvCond::Always), ("today", AdvCond::Always), ("outside", AdvCond::Always),
    ("yesterday", AdvCond::Past), ("together", AdvCond::Plural),
];

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Case {
    Subj,
    Obj,
    Both,
}

/// (form, number, person, case, classes it can refer to)
#[rustfmt::skip]
pub(super) const PRONOUNS: &[(&str, Number, Person, Case, u8)] = &[
    ("I", Number::Singular, Person::First, Case::Subj, PERSON),
    ("me", Number::Singular, Person::First, Case::Obj, PERSON),
    ("you", Number::Plural, Person::Second, Case::Both, PERSON),
    ("he", Number::Singular, Person::Third, Case::Subj, ANIMATE),
    ("him", Number::Singular, Person::Third, Case::Obj, ANIMATE),
    ("she", Number::Singular, Person::Third, Case::Subj, ANIMATE),
    ("her", Number::Singular, Person::Third, Case::Obj, ANIMATE),
    ("it", Number::Singular, Person::Third, Case::Both, NON_PERSON),
    ("we", Number::Plural, Person::First, Case::Subj, PERSON),
    ("us", Number::Plural, Person::First, Case::Obj, PERSON),
    ("they", Number::Plural, Person::Third, Case::Subj, ANY), ("them", Number::Plural, Person::Third, Case::Obj, ANY),
];

pub(super) const NAMES: &[&str] =
    &["Anna", "Ben", "Lily", "Tom", "Mia", "Sam", "Max", "Emma", "Leo", "Zoe", "Jack", "Lucy", "Noah", "Ella", "Omar", "Nina", "Paul", "Rosa", "Hugo", "Ivy"];

pub(super) const CONJS: &[&str] = &["and", "but", "so", "because"];

/// Noun-class weights for subjects and for objects.
pub(super) const SUBJ_CLASS_W: [(u8, f64); 5] = [(PERSON, 0.45), (ANIMAL, 0.30), (THING, 0.13), (FOOD, 0.04), (PLACE, 0.08)];
pub(super) const OBJ_CLASS_W: [(u8, f64); 5] = [(PERSON, 0.22), (ANIMAL, 0.22), (THING, 0.30), (FOOD, 0.12), (PLACE, 0.14)];
