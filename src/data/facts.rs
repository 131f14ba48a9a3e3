//! Synthetic subject–relation–object facts, bios-like: pre-training documents that state every
//! fact, QA pairs for fine-tuning on part of the subjects, and the held-out subjects whose QA
//! tests extraction (knowledge seen in pre-training but never in a QA pair).
//!
//! A subject is a (first, last) name pair from two small pools, so a name token is shared by
//! several subjects and a fact needs both tokens (a conjunction, which a sum of per-token
//! contributions cannot represent; see `papers::one_layer_knowledge`). Each relation r has its
//! own K objects and `multiplicity` template tokens t(r, v); every token is its own id.
//!
//! - a pre-training sentence is `first last t(r, v) object .`; a bio is the subject's |R|
//!   sentences in a random order with random template variants (drawn fresh per use);
//! - a QA pair is `first last q(r)` with the object as the answer, where q(r) is relation r's
//!   question token: one more template slot of r that no pre-training document uses, so
//!   fine-tuning has to teach what the question asks (a new format), not new facts.
//!
//! Everything is seeded; degenerate configs are typed errors.

use rand::seq::SliceRandom;
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// End of document / padding.
pub const EOS: u32 = 0;
/// The full stop ending each sentence (and each question).
pub const STOP: u32 = 1;

/// What to generate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FactsConfig {
    /// First-name pool size.
    pub n_first: usize,
    /// Last-name pool size.
    pub n_last: usize,
    /// Subjects (distinct name pairs), at most n_first · n_last.
    pub n_subjects: usize,
    /// |R|.
    pub n_relations: usize,
    /// Objects per relation (K); the relations' object sets are disjoint.
    pub n_objects: usize,
    /// Template variants per relation in pre-training (the multiplicity m).
    pub multiplicity: usize,
    /// Fraction of subjects whose QA pairs are in the fine-tuning set.
    pub finetune_frac: f64,
    /// The fine-tuning QA covers relations 0..k only (None: all). Test QA always asks all.
    pub finetune_relations: Option<usize>,
    pub seed: u64,
}

impl FactsConfig {
    /// The ci setting: 16 × 16 names, 200 subjects, 4 relations of 16 objects, m = 2, half the
    /// subjects in fine-tuning.
    pub fn ci(seed: u64) -> FactsConfig {
        FactsConfig {
            n_first: 16,
            n_last: 16,
            n_subjects: 200,
            n_relations: 4,
            n_objects: 16,
            multiplicity: 2,
            finetune_frac: 0.5,
            finetune_relations: None,
            seed,
        }
    }

    /// The full setting: 64 × 64 names, 2,000 subjects, 16 relations of 32 objects, m = 4.
    pub fn full(seed: u64) -> FactsConfig {
        FactsConfig {
            n_first: 64,
            n_last: 64,
            n_subjects: 2000,
            n_relations: 16,
            n_objects: 32,
            multiplicity: 4,
            ..Self::ci(seed)
        }
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Data(m));
        for (name, v) in [
            ("n_first", self.n_first),
            ("n_last", self.n_last),
            ("n_relations", self.n_relations),
            ("n_objects", self.n_objects),
            ("multiplicity", self.multiplicity),
        ] {
            if v == 0 {
                return bad(format!("facts: {name} must be at least 1"));
            }
        }
        if self.n_subjects < 2 {
            return bad(format!("facts: need at least 2 subjects (one fine-tuned, one held out), got {}", self.n_subjects));
        }
        if self.n_subjects > self.n_first.saturating_mul(self.n_last) {
            return bad(format!(
                "facts: {} subjects need distinct name pairs, the pools give {} × {} = {}",
                self.n_subjects,
                self.n_first,
                self.n_last,
                self.n_first * self.n_last
            ));
        }
        if !(self.finetune_frac > 0.0 && self.finetune_frac < 1.0) {
            return bad(format!("facts: finetune_frac must be in (0, 1) so both splits are non-empty, got {}", self.finetune_frac));
        }
        let n_ft = self.n_finetune_subjects();
        if n_ft == 0 || n_ft == self.n_subjects {
            return bad(format!("facts: finetune_frac {} of {} subjects leaves a split empty", self.finetune_frac, self.n_subjects));
        }
        if let Some(k) = self.finetune_relations {
            if k == 0 || k > self.n_relations {
                return bad(format!("facts: finetune_relations must be in 1..={}, got {k}", self.n_relations));
            }
        }
        let v = 2 + self.n_relations * (self.multiplicity + 1 + self.n_objects) + self.n_first + self.n_last;
        if v > u32::MAX as usize {
            return bad(format!("facts: vocabulary of {v} tokens exceeds u32 ids"));
        }
        Ok(())
    }

    fn n_finetune_subjects(&self) -> usize {
        (self.n_subjects as f64 * self.finetune_frac).round() as usize
    }
}

/// One fact: subject index, relation, object token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fact {
    pub subject: usize,
    pub relation: usize,
    pub object: u32,
}

/// A QA pair: the question tokens (`first last q(r)`) and the answer token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Qa {
    pub fact: Fact,
    pub question: Vec<u32>,
    pub answer: u32,
}

/// The generated world.
#[derive(Clone, Debug)]
pub struct FactWorld {
    pub cfg: FactsConfig,
    /// (first, last) token ids per subject.
    pub names: Vec<(u32, u32)>,
    /// objects[s][r] = the object token of subject s's relation r.
    pub objects: Vec<Vec<u32>>,
    /// Subjects with QA in fine-tuning, and the held-out ones.
    pub finetune_subjects: Vec<usize>,
    pub heldout_subjects: Vec<usize>,
}

impl FactWorld {
    pub fn new(cfg: FactsConfig) -> Result<FactWorld> {
        cfg.validate()?;
        let mut rng = StdRng::seed_from_u64(cfg.seed ^ 0xFAC7_5EED);
        let mut pairs: Vec<(usize, usize)> = (0..cfg.n_first).flat_map(|f| (0..cfg.n_last).map(move |l| (f, l))).collect();
        pairs.shuffle(&mut rng);
        pairs.truncate(cfg.n_subjects);
        let mut w = FactWorld {
            names: vec![],
            objects: vec![],
            finetune_subjects: vec![],
            heldout_subjects: vec![],
            cfg,
        };
        w.names = pairs.iter().map(|&(f, l)| (w.first_token(f), w.last_token(l))).collect();
        w.objects = (0..w.cfg.n_subjects)
            .map(|_| (0..w.cfg.n_relations).map(|r| w.object_token(r, rng.random_range(0..w.cfg.n_objects))).collect())
            .collect();
        let mut order: Vec<usize> = (0..w.cfg.n_subjects).collect();
        order.shuffle(&mut rng);
        let n_ft = w.cfg.n_finetune_subjects();
        w.heldout_subjects = order.split_off(n_ft);
        w.finetune_subjects = order;
        w.finetune_subjects.sort();
        w.heldout_subjects.sort();
        Ok(w)
    }

    /// Token layout: EOS, STOP, templates (r-major), first names, last names, objects (r-major).
    /// Template v of relation r (v < multiplicity in pre-training; v = multiplicity is the
    /// question token q(r)).
    pub fn template_token(&self, r: usize, v: usize) -> u32 {
        (2 + r * (self.cfg.multiplicity + 1) + v) as u32
    }
    /// The question token q(r), never in a pre-training document.
    pub fn question_token(&self, r: usize) -> u32 {
        self.template_token(r, self.cfg.multiplicity)
    }
    fn first_base(&self) -> usize {
        2 + self.cfg.n_relations * (self.cfg.multiplicity + 1)
    }
    pub fn first_token(&self, f: usize) -> u32 {
        (self.first_base() + f) as u32
    }
    pub fn last_token(&self, l: usize) -> u32 {
        (self.first_base() + self.cfg.n_first + l) as u32
    }
    pub fn object_token(&self, r: usize, k: usize) -> u32 {
        (self.first_base() + self.cfg.n_first + self.cfg.n_last + r * self.cfg.n_objects + k) as u32
    }
    /// The object tokens of relation r.
    pub fn objects_of(&self, r: usize) -> Vec<u32> {
        (0..self.cfg.n_objects).map(|k| self.object_token(r, k)).collect()
    }
    pub fn vocab_size(&self) -> usize {
        self.first_base() + self.cfg.n_first + self.cfg.n_last + self.cfg.n_relations * self.cfg.n_objects
    }
    /// A readable name for a token id.
    pub fn token_str(&self, t: u32) -> String {
        let t = t as usize;
        let (m, fb, nf, nl) = (self.cfg.multiplicity + 1, self.first_base(), self.cfg.n_first, self.cfg.n_last);
        match t {
            0 => "<eos>".into(),
            1 => ".".into(),
            t if t < fb && (t - 2) % m == m - 1 => format!("q{}", (t - 2) / m),
            t if t < fb => format!("rel{}v{}", (t - 2) / m, (t - 2) % m),
            t if t < fb + nf => format!("F{}", t - fb),
            t if t < fb + nf + nl => format!("L{}", t - fb - nf),
            t if t < self.vocab_size() => format!("r{}o{}", (t - fb - nf - nl) / self.cfg.n_objects, (t - fb - nf - nl) % self.cfg.n_objects),
            t => format!("<{t}?>"),
        }
    }

    pub fn fact(&self, subject: usize, relation: usize) -> Fact {
        Fact {
            subject,
            relation,
            object: self.objects[subject][relation],
        }
    }

    /// Length of a bio in tokens (|R| sentences of 5), plus the closing EOS.
    pub fn bio_len(&self) -> usize {
        5 * self.cfg.n_relations + 1
    }

    /// One bio of `subject`: its sentences in a random order, random template variants, EOS.
    pub fn bio(&self, subject: usize, rng: &mut StdRng) -> Vec<u32> {
        let (f, l) = self.names[subject];
        let mut rels: Vec<usize> = (0..self.cfg.n_relations).collect();
        rels.shuffle(rng);
        let mut out = Vec::with_capacity(self.bio_len());
        for r in rels {
            let v = rng.random_range(0..self.cfg.multiplicity);
            out.extend([f, l, self.template_token(r, v), self.objects[subject][r], STOP]);
        }
        out.push(EOS);
        out
    }

    /// A recall probe in the pre-training format, `first last t(r, v)`, whose next token is
    /// the object.
    pub fn statement_prompt(&self, fact: Fact, v: usize) -> Vec<u32> {
        let (f, l) = self.names[fact.subject];
        vec![f, l, self.template_token(fact.relation, v)]
    }

    /// The QA pair of one fact.
    pub fn qa(&self, fact: Fact) -> Qa {
        let (f, l) = self.names[fact.subject];
        Qa {
            fact,
            question: vec![f, l, self.question_token(fact.relation)],
            answer: fact.object,
        }
    }

    /// Fine-tuning QA: every fine-tuning subject × the covered relations.
    pub fn finetune_qa(&self) -> Vec<Qa> {
        let k = self.cfg.finetune_relations.unwrap_or(self.cfg.n_relations);
        self.finetune_subjects
            .iter()
            .flat_map(|&s| (0..k).map(move |r| (s, r)))
            .map(|(s, r)| self.qa(self.fact(s, r)))
            .collect()
    }

    /// Test QA: every held-out subject × every relation.
    pub fn heldout_qa(&self) -> Vec<Qa> {
        self.heldout_subjects
            .iter()
            .flat_map(|&s| (0..self.cfg.n_relations).map(move |r| (s, r)))
            .map(|(s, r)| self.qa(self.fact(s, r)))
            .collect()
    }

    /// Every fact, subject-major.
    pub fn all_facts(&self) -> Vec<Fact> {
        (0..self.cfg.n_subjects)
            .flat_map(|s| (0..self.cfg.n_relations).map(move |r| (s, r)))
            .map(|(s, r)| self.fact(s, r))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_are_disjoint_and_bios_state_every_fact() {
        let w = FactWorld::new(FactsConfig::ci(3)).unwrap();
        assert_eq!(w.finetune_subjects.len() + w.heldout_subjects.len(), 200);
        assert!(w.finetune_subjects.iter().all(|s| !w.heldout_subjects.contains(s)));
        let mut names = w.names.clone();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 200, "subjects have distinct name pairs");
        let mut rng = StdRng::seed_from_u64(0);
        let bio = w.bio(7, &mut rng);
        assert_eq!(bio.len(), w.bio_len());
        for r in 0..4 {
            let o = w.objects[7][r];
            let i = bio.iter().position(|&t| t == o).unwrap();
            assert!(w.objects_of(r).contains(&o));
            assert_eq!(&bio[i - 3..i - 1], &[w.names[7].0, w.names[7].1]);
            assert!([w.template_token(r, 0), w.template_token(r, 1)].contains(&bio[i - 1]));
        }
        assert!(bio.iter().all(|&t| (t as usize) < w.vocab_size()));
        // same seed, same world
        assert_eq!(FactWorld::new(FactsConfig::ci(3)).unwrap().objects, w.objects);
        let q = w.finetune_qa();
        assert_eq!(q.len(), 400);
        assert!(q
            .iter()
            .all(|q| w.finetune_subjects.contains(&q.fact.subject) && q.question.len() == 3 && q.question[2] == w.question_token(q.fact.relation)));
        let c = FactWorld::new(FactsConfig {
            finetune_relations: Some(2),
            ..FactsConfig::ci(3)
        })
        .unwrap();
        assert!(c.finetune_qa().iter().all(|q| q.fact.relation < 2) && c.heldout_qa().iter().any(|q| q.fact.relation == 3));
        assert_eq!(w.token_str(w.object_token(2, 5)), "r2o5");
        assert_eq!(w.token_str(w.question_token(1)), "q1");
        assert!(!bio.iter().any(|&t| (0..4).any(|r| t == w.question_token(r))), "no question token in pre-training");
    }

    #[test]
    fn degenerate_configs_are_typed_errors() {
        let ok = FactsConfig::ci(0);
        for bad in [
            FactsConfig { n_subjects: 300, ..ok.clone() },
            FactsConfig { n_subjects: 1, ..ok.clone() },
            FactsConfig { n_relations: 0, ..ok.clone() },
            FactsConfig { multiplicity: 0, ..ok.clone() },
            FactsConfig { finetune_frac: 1.0, ..ok.clone() },
            FactsConfig { finetune_frac: 0.001, ..ok.clone() },
            FactsConfig {
                finetune_relations: Some(5),
                ..ok.clone()
            },
        ] {
            assert!(matches!(FactWorld::new(bad), Err(Error::Data(_))));
        }
    }
}
