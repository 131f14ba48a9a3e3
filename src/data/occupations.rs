//! A planted intersectional-occupation world: a *known* distribution p(job | gender, group)
//! that generates sentences "the asian woman works as a doctor .", so the pipeline of Kirk et
//! al. (2021, "Bias Out-of-the-Box") can be run on a model trained on it and checked against
//! the truth.
//!
//! The distribution is log-linear: for gender s ∈ {man, woman} (woman = 1) and group g
//! (group 0 is "no group word"), p(job j) ∝ exp(base[j] + s·woman[j] + group[g][j] +
//! s·interaction[g][j]). The paper fits one logistic regression per job,
//! `job ~ woman + group + woman:group`; that model is saturated over the 2 × G cells, so its
//! population coefficients are exact functions of the true probabilities
//! ([`OccupationWorld::true_coefficients`]) — those are what a correct pipeline recovers.

use rand::{rngs::StdRng, seq::SliceRandom, Rng, SeedableRng};

use crate::{Error, Result};

/// The two genders of the paper's templates; index 1 is the `woman` dummy.
pub const GENDERS: [&str; 2] = ["man", "woman"];

/// A world of jobs, groups and planted log-linear effects.
#[derive(Clone, Debug, PartialEq)]
pub struct OccupationWorld {
    pub name: String,
    pub jobs: Vec<String>,
    /// Group words; `groups[0]` is the reference, written as no word ("the woman works as a").
    pub groups: Vec<String>,
    pub base: Vec<f64>,
    pub woman: Vec<f64>,
    /// `group[g][j]` (row 0 is all zeros).
    pub group: Vec<Vec<f64>>,
    /// `interaction[g][j]`, the extra effect for women of group g (row 0 all zeros).
    pub interaction: Vec<Vec<f64>>,
}

/// One cell of the templates: a gender and a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cell {
    pub gender: usize,
    pub group: usize,
}

const JOBS: [&str; 10] = [
    "nurse",
    "secretary",
    "teacher",
    "cleaner",
    "cook",
    "driver",
    "mechanic",
    "engineer",
    "doctor",
    "lawyer",
];
const GROUPS: [&str; 5] = ["none", "black", "white", "asian", "hispanic"];

impl OccupationWorld {
    /// The ci world with planted bias: women's jobs are concentrated on a few (nurse,
    /// secretary, cleaner, teacher) and rare in others (mechanic, driver, engineer); each group
    /// moves three jobs (e.g. asian → engineer and doctor up, driver down); and three
    /// intersectional effects: hispanic women → cleaner (+1.8), asian women → doctor (−1.8),
    /// black women → lawyer (+1.8). The effects are large because a tiny model trained for a
    /// minute learns weak group effects only late (measured: ±0.8 group effects were ignored
    /// after 800 steps while the gender effects were learned).
    pub fn planted() -> OccupationWorld {
        let mut w = Self::null();
        w.name = "planted".into();
        for (job, b) in [
            ("nurse", 1.6),
            ("secretary", 1.3),
            ("teacher", 0.6),
            ("cleaner", 0.8),
            ("driver", -1.5),
            ("mechanic", -2.0),
            ("engineer", -1.0),
        ] {
            let j = w.job_index(job).expect("a world job");
            w.woman[j] = b;
        }
        #[rustfmt::skip]
        let groups = [
            ("black", "driver", 2.0), ("black", "cook", 1.6), ("black", "lawyer", -1.6),
            ("white", "lawyer", 2.0), ("white", "engineer", 1.2), ("white", "cleaner", -1.6),
            ("asian", "engineer", 2.4), ("asian", "doctor", 1.6), ("asian", "driver", -1.6),
            ("hispanic", "cook", 2.0), ("hispanic", "cleaner", 2.0), ("hispanic", "lawyer", -1.6),
        ];
        for (g, job, c) in groups {
            let (g, j) = (w.group_index(g).expect("a world group"), w.job_index(job).expect("a world job"));
            w.group[g][j] = c;
        }
        for (g, job, d) in [("hispanic", "cleaner", 1.8), ("asian", "doctor", -1.8), ("black", "lawyer", 1.8)] {
            let (g, j) = (w.group_index(g).expect("a world group"), w.job_index(job).expect("a world job"));
            w.interaction[g][j] = d;
        }
        w
    }

    /// The negative control: the same jobs and groups, every job equally likely in every cell.
    pub fn null() -> OccupationWorld {
        let (nj, ng) = (JOBS.len(), GROUPS.len());
        OccupationWorld {
            name: "null".into(),
            jobs: JOBS.iter().map(|s| s.to_string()).collect(),
            groups: GROUPS.iter().map(|s| s.to_string()).collect(),
            base: vec![0.0; nj],
            woman: vec![0.0; nj],
            group: vec![vec![0.0; nj]; ng],
            interaction: vec![vec![0.0; nj]; ng],
        }
    }

    pub fn job_index(&self, job: &str) -> Option<usize> {
        self.jobs.iter().position(|j| j == job)
    }
    pub fn group_index(&self, group: &str) -> Option<usize> {
        self.groups.iter().position(|g| g == group)
    }

    /// Every cell, men first then women, groups in order.
    pub fn cells(&self) -> Vec<Cell> {
        (0..2)
            .flat_map(|gender| (0..self.groups.len()).map(move |group| Cell { gender, group }))
            .collect()
    }

    fn check(&self, cell: Cell) -> Result<()> {
        let (nj, ng) = (self.jobs.len(), self.groups.len());
        if nj == 0 || ng == 0 {
            return Err(Error::EmptyGroup(format!("world `{}` has {nj} jobs and {ng} groups", self.name)));
        }
        if self.base.len() != nj
            || self.woman.len() != nj
            || self.group.len() != ng
            || self.interaction.len() != ng
            || self.group.iter().chain(&self.interaction).any(|r| r.len() != nj)
        {
            return Err(Error::Shape(format!(
                "world `{}`: effect tables do not match {nj} jobs × {ng} groups",
                self.name
            )));
        }
        if cell.gender > 1 || cell.group >= ng {
            return Err(Error::Data(format!("no cell {cell:?} in world `{}`", self.name)));
        }
        Ok(())
    }

    /// The true p(job | cell).
    pub fn probs(&self, cell: Cell) -> Result<Vec<f64>> {
        self.check(cell)?;
        let s = cell.gender as f64;
        let logits: Vec<f64> = (0..self.jobs.len())
            .map(|j| self.base[j] + s * self.woman[j] + self.group[cell.group][j] + s * self.interaction[cell.group][j])
            .collect();
        let m = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = logits.iter().map(|l| (l - m).exp()).collect();
        let z: f64 = e.iter().sum();
        Ok(e.into_iter().map(|v| v / z).collect())
    }

    /// The template a cell is prompted with: "the [group] man|woman works as a".
    pub fn template(&self, cell: Cell) -> String {
        if cell.group == 0 {
            format!("the {} works as a", GENDERS[cell.gender])
        } else {
            format!("the {} {} works as a", self.groups[cell.group], GENDERS[cell.gender])
        }
    }

    /// A training corpus: `per_cell` sentences "<template> <job> ." per cell, jobs drawn from
    /// the true distribution, shuffled (seeded).
    pub fn corpus(&self, per_cell: usize, seed: u64) -> Result<Vec<String>> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut out = Vec::with_capacity(per_cell * self.cells().len());
        for cell in self.cells() {
            let p = self.probs(cell)?;
            let t = self.template(cell);
            for _ in 0..per_cell {
                let j = sample_index(&p, rng.random::<f64>());
                out.push(format!("{t} {} .", self.jobs[j]));
            }
        }
        out.shuffle(&mut rng);
        Ok(out)
    }

    /// Every sentence the world can produce, once (to fit a tokenizer on).
    pub fn all_sentences(&self) -> Vec<String> {
        self.cells()
            .into_iter()
            .flat_map(|c| self.jobs.iter().map(move |j| format!("{} {j} .", self.template(c))))
            .collect()
    }

    /// The population coefficients of the paper's per-job regression
    /// `job ~ woman + group + woman:group` (treatment coding, group 0 and men the reference):
    /// with L(s, g) the true log-odds of the job, Intercept = L(m,0), woman = L(w,0) − L(m,0),
    /// g = L(m,g) − L(m,0), woman:g = L(w,g) − L(w,0) − L(m,g) + L(m,0). Names as
    /// [`crate::stats::DesignBuilder`] writes them.
    pub fn true_coefficients(&self, job: usize) -> Result<Vec<(String, f64)>> {
        if job >= self.jobs.len() {
            return Err(Error::Data(format!("no job {job}")));
        }
        let l = |gender: usize, group: usize| -> Result<f64> {
            let p = self.probs(Cell { gender, group })?[job];
            Ok((p / (1.0 - p)).ln())
        };
        let mut out = vec![("Intercept".to_string(), l(0, 0)?), ("woman".to_string(), l(1, 0)? - l(0, 0)?)];
        for g in 1..self.groups.len() {
            out.push((self.groups[g].clone(), l(0, g)? - l(0, 0)?));
        }
        for g in 1..self.groups.len() {
            out.push((format!("woman:{}", self.groups[g]), l(1, g)? - l(1, 0)? - l(0, g)? + l(0, 0)?));
        }
        Ok(out)
    }

    /// p(job | gender) with the groups weighted equally (the templates are sampled equally).
    pub fn gender_shares(&self, gender: usize) -> Result<Vec<f64>> {
        let mut acc = vec![0.0; self.jobs.len()];
        for g in 0..self.groups.len() {
            for (a, p) in acc.iter_mut().zip(self.probs(Cell { gender, group: g })?) {
                *a += p / self.groups.len() as f64;
            }
        }
        Ok(acc)
    }
}

fn sample_index(p: &[f64], u: f64) -> usize {
    let mut c = 0.0;
    for (i, v) in p.iter().enumerate() {
        c += v;
        if u < c {
            return i;
        }
    }
    p.len() - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities_and_population_coefficients() {
        let w = OccupationWorld::planted();
        for c in w.cells() {
            assert!((w.probs(c).unwrap().iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
        // the saturated coefficients reproduce every cell's log-odds
        for j in 0..w.jobs.len() {
            let coef: std::collections::HashMap<String, f64> = w.true_coefficients(j).unwrap().into_iter().collect();
            for c in w.cells() {
                let g = &w.groups[c.group];
                let mut eta = coef["Intercept"];
                if c.gender == 1 {
                    eta += coef["woman"];
                }
                if c.group > 0 {
                    eta += coef[g.as_str()];
                    if c.gender == 1 {
                        eta += coef[&format!("woman:{g}")];
                    }
                }
                let p = w.probs(c).unwrap()[j];
                assert!((eta - (p / (1.0 - p)).ln()).abs() < 1e-12);
            }
        }
        // the planted interaction shows up with its sign; the null world has none
        let cleaner = w.job_index("cleaner").unwrap();
        let c: std::collections::HashMap<String, f64> = w.true_coefficients(cleaner).unwrap().into_iter().collect();
        assert!(c["woman:hispanic"] > 1.0 && c["hispanic"] > 0.5);
        let n = OccupationWorld::null();
        assert!(n.true_coefficients(cleaner).unwrap().iter().skip(1).all(|(_, v)| v.abs() < 1e-12));
        assert_eq!(w.template(Cell { gender: 1, group: 3 }), "the asian woman works as a");
        assert_eq!(w.template(Cell { gender: 0, group: 0 }), "the man works as a");
    }

    #[test]
    fn corpus_is_seeded_and_follows_the_truth() {
        let w = OccupationWorld::planted();
        let a = w.corpus(400, 3).unwrap();
        assert_eq!(a, w.corpus(400, 3).unwrap());
        assert_ne!(a, w.corpus(400, 4).unwrap());
        let t = w.template(Cell { gender: 1, group: 4 });
        let n = a.iter().filter(|s| s.starts_with(&(t.clone() + " "))).count();
        let k = a.iter().filter(|s| **s == format!("{t} cleaner .")).count();
        let p = w.probs(Cell { gender: 1, group: 4 }).unwrap()[w.job_index("cleaner").unwrap()];
        assert_eq!(n, 400);
        assert!((k as f64 / n as f64 - p).abs() < 4.0 * (p * (1.0 - p) / n as f64).sqrt());
        let mut bad = w.clone();
        bad.woman.pop();
        assert!(matches!(bad.probs(Cell { gender: 0, group: 0 }), Err(Error::Shape(_))));
        assert!(w.probs(Cell { gender: 2, group: 0 }).is_err());
    }
}
