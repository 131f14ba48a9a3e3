//! A topic-labelled synthetic corpus for class-conditional LMs (GeDi's ci world): four topic
//! lexicons (nouns, verbs, adjectives) plus a shared function-word grammar, one word per token,
//! with an oracle topic scorer (lexicon counts).
//!
//! Vocabulary (ids fixed, so the base LM and the guide share it): `<eos>` = 0, the function
//! words, the topic lexicons in topic order, then the control codes: `true`, `false` and one
//! code word per topic (the topic's name), as in the GeDi repository's topic mode
//! (`proc_data.py`: "true"/"false" + the topic word + the text).

use rand::{rngs::StdRng, Rng, SeedableRng};

use crate::{Error, Result};

/// The four topics, AG-News style (their names are the topic control codes).
pub const TOPICS: [&str; 4] = ["sports", "science", "business", "world"];
/// Nouns, verbs, adjectives per topic (same order as [`TOPICS`]).
const LEXICON: [([&str; 6], [&str; 4], [&str; 4]); 4] = [
    (
        ["team", "coach", "match", "goal", "player", "league"],
        ["wins", "scores", "trains", "defeats"],
        ["fast", "strong", "final", "athletic"],
    ),
    (
        ["lab", "atom", "cell", "theory", "planet", "experiment"],
        ["measures", "studies", "tests", "observes"],
        ["quantum", "genetic", "precise", "orbital"],
    ),
    (
        ["market", "bank", "stock", "profit", "firm", "deal"],
        ["buys", "sells", "invests", "trades"],
        ["fiscal", "corporate", "annual", "cheap"],
    ),
    (
        ["nation", "leader", "army", "border", "treaty", "capital"],
        ["governs", "invades", "signs", "protests"],
        ["foreign", "royal", "civil", "military"],
    ),
];
const FUNCTION: [&str; 9] = ["the", "a", "with", "is", "and", ".", "of", "near", "today"];

/// The world: its vocabulary and how documents are drawn.
#[derive(Clone, Debug)]
pub struct TopicWorld {
    /// Id → word.
    pub words: Vec<String>,
    /// Probability that a content word comes from the document's own topic (else from a
    /// uniformly drawn other topic).
    pub purity: f64,
}

/// One labelled document.
#[derive(Clone, Debug, PartialEq)]
pub struct TopicDoc {
    pub topic: usize,
    pub tokens: Vec<u32>,
}

impl Default for TopicWorld {
    fn default() -> Self {
        let mut words = vec!["<eos>".to_string()];
        words.extend(FUNCTION.iter().map(|w| w.to_string()));
        for (n, v, a) in LEXICON.iter() {
            words.extend(n.iter().chain(v).chain(a).map(|w| w.to_string()));
        }
        words.extend(["true", "false"].iter().map(|w| w.to_string()));
        words.extend(TOPICS.iter().map(|w| w.to_string()));
        TopicWorld { words, purity: 0.85 }
    }
}

impl TopicWorld {
    pub fn vocab_size(&self) -> usize {
        self.words.len()
    }
    pub fn eos(&self) -> u32 {
        0
    }
    pub fn id(&self, word: &str) -> Result<u32> {
        self.words
            .iter()
            .position(|w| w == word)
            .map(|i| i as u32)
            .ok_or_else(|| Error::Msg(format!("`{word}` is not in the topic world's vocabulary")))
    }
    /// The class codes `true` (desired) and `false` (undesired).
    pub fn class_codes(&self) -> [u32; 2] {
        [self.id("true").unwrap_or(0), self.id("false").unwrap_or(0)]
    }
    /// The control code of topic `k` (its name).
    pub fn topic_code(&self, k: usize) -> Result<u32> {
        let name = TOPICS.get(k).ok_or_else(|| Error::Msg(format!("topic {k} out of range (there are {})", TOPICS.len())))?;
        self.id(name)
    }
    fn fid(&self, w: &str) -> u32 {
        1 + FUNCTION.iter().position(|f| *f == w).unwrap_or(0) as u32
    }
    /// Ids of topic `k`'s lexicon words.
    pub fn lexicon(&self, k: usize) -> Vec<u32> {
        let start = 1 + FUNCTION.len() + k * 14;
        (start as u32..(start + 14) as u32).collect()
    }
    /// The topic whose lexicon `id` belongs to.
    pub fn topic_of(&self, id: u32) -> Option<usize> {
        let i = (id as usize).checked_sub(1 + FUNCTION.len())?;
        (i < 14 * TOPICS.len()).then_some(i / 14)
    }

    fn content(&self, topic: usize, kind: usize, rng: &mut StdRng) -> u32 {
        let t = if rng.random::<f64>() < self.purity {
            topic
        } else {
            let o = rng.random_range(0..TOPICS.len() - 1);
            if o >= topic {
                o + 1
            } else {
                o
            }
        };
        // kind: 0 noun (6), 1 verb (4), 2 adjective (4)
        let (off, n) = [(0, 6), (6, 4), (10, 4)][kind];
        self.lexicon(t)[off + rng.random_range(0..n)]
    }

    /// One sentence of topic `topic` (three templates over the shared function words).
    pub fn sentence(&self, topic: usize, rng: &mut StdRng) -> Vec<u32> {
        let f = |w| self.fid(w);
        let (n, v, a) = (0, 1, 2);
        match rng.random_range(0..3) {
            0 => vec![
                f("the"),
                self.content(topic, a, rng),
                self.content(topic, n, rng),
                self.content(topic, v, rng),
                f("the"),
                self.content(topic, n, rng),
                f("."),
            ],
            1 => vec![
                f("a"),
                self.content(topic, n, rng),
                self.content(topic, v, rng),
                f("with"),
                f("the"),
                self.content(topic, a, rng),
                self.content(topic, n, rng),
                f("."),
            ],
            _ => vec![
                f("the"),
                self.content(topic, n, rng),
                f("of"),
                f("the"),
                self.content(topic, n, rng),
                f("is"),
                self.content(topic, a, rng),
                f("today"),
                f("."),
            ],
        }
    }

    /// A document of at least `min_len` tokens (whole sentences), truncated to `min_len`.
    pub fn document(&self, topic: usize, min_len: usize, rng: &mut StdRng) -> Vec<u32> {
        let mut d = vec![];
        while d.len() < min_len {
            d.extend(self.sentence(topic, rng));
        }
        d.truncate(min_len);
        d
    }

    /// `n` documents of `len` tokens, topics uniform, seeded.
    pub fn corpus(&self, n: usize, len: usize, seed: u64) -> Result<Vec<TopicDoc>> {
        if n == 0 || len == 0 {
            return Err(Error::EmptyInput("a topic corpus needs n > 0 documents of len > 0".into()));
        }
        let mut rng = StdRng::seed_from_u64(seed);
        Ok((0..n)
            .map(|_| {
                let topic = rng.random_range(0..TOPICS.len());
                TopicDoc {
                    topic,
                    tokens: self.document(topic, len, &mut rng),
                }
            })
            .collect())
    }

    /// Lexicon-word counts per topic in `tokens`.
    pub fn topic_counts(&self, tokens: &[u32]) -> [usize; 4] {
        let mut c = [0; 4];
        for &t in tokens {
            if let Some(k) = self.topic_of(t) {
                c[k] += 1;
            }
        }
        c
    }

    /// The oracle's topic: the topic with strictly the most lexicon words (None on a tie or
    /// when there are none).
    pub fn oracle_topic(&self, tokens: &[u32]) -> Option<usize> {
        let c = self.topic_counts(tokens);
        let max = *c.iter().max()?;
        (max > 0 && c.iter().filter(|&&x| x == max).count() == 1).then(|| c.iter().position(|&x| x == max).unwrap_or(0))
    }

    pub fn decode(&self, tokens: &[u32]) -> String {
        tokens
            .iter()
            .map(|&t| self.words.get(t as usize).map(String::as_str).unwrap_or("<?>"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corpus_is_seeded_and_the_oracle_reads_topics() {
        let w = TopicWorld::default();
        assert_eq!(w.vocab_size(), 1 + 9 + 56 + 2 + 4);
        let a = w.corpus(200, 30, 3).unwrap();
        assert_eq!(a, w.corpus(200, 30, 3).unwrap());
        let right = a.iter().filter(|d| w.oracle_topic(&d.tokens) == Some(d.topic)).count();
        assert!(right >= 190, "oracle right on {right}/200");
        assert_eq!(w.topic_of(w.id("goal").unwrap()), Some(0));
        assert_eq!(w.topic_of(w.id("treaty").unwrap()), Some(3));
        assert_eq!(w.topic_of(w.id("the").unwrap()), None);
        assert_eq!(w.topic_of(w.id("true").unwrap()), None);
        assert_eq!(w.oracle_topic(&[w.id("goal").unwrap(), w.id("bank").unwrap()]), None);
        assert!(w.corpus(0, 30, 0).is_err());
    }
}
