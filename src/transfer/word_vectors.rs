//! Static word embeddings trained here: positive PMI of word–context counts, factorised by a
//! truncated SVD (Levy, Goldberg & Dagan 2015, "Improving distributional similarity with lessons
//! learned from word embeddings", TACL: context-distribution smoothing α = 0.75, vectors
//! `U_d · Σ_d^{1/2}`).
//!
//! WECHSEL uses fastText vectors (`cc.{lang}.300.bin`, or fastText CBOW trained on the target
//! corpus); this is an honest stand-in at ci scale, not fastText: it has no subword
//! information, so subword embeddings are built by WECHSEL's other path (frequency-weighted
//! averages of the words containing a token, [`super::subword_embeddings`]).
//!
//! The PPMI matrix is kept sparse and the SVD is a seeded randomised range finder with power
//! iterations (Halko, Martinsson & Tropp 2011), so a full-scale vocabulary of tens of thousands
//! of words needs no dense `n × n` matrix.

use std::collections::HashMap;

use nalgebra::{DMatrix, DVector};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr_normal::sample_normal;

use crate::{Error, Result};

/// How to count and factorise.
#[derive(Clone, Debug, PartialEq)]
pub struct PpmiConfig {
    /// Vector dimension.
    pub dim: usize,
    /// Context words on each side.
    pub window: usize,
    /// Words seen fewer times are dropped.
    pub min_count: u64,
    /// At most this many words, the most frequent (full scale: bounds the matrix).
    pub max_words: usize,
    /// Context-distribution smoothing exponent.
    pub alpha: f64,
    /// Power iterations of the randomised SVD.
    pub power_iters: usize,
    pub seed: u64,
}

impl Default for PpmiConfig {
    fn default() -> Self {
        PpmiConfig {
            dim: 48,
            window: 2,
            min_count: 2,
            max_words: 50_000,
            alpha: 0.75,
            power_iters: 6,
            seed: 0,
        }
    }
}

/// Words with vectors (rows of `vectors`, most frequent first) and their corpus counts.
#[derive(Clone, Debug)]
pub struct WordVectors {
    pub words: Vec<String>,
    pub counts: Vec<u64>,
    /// `(words, dim)`.
    pub vectors: DMatrix<f64>,
    index: HashMap<String, usize>,
}

/// Splits text into words: whitespace-separated, with `.,;:!?"()` split off as words of their own.
pub fn split_words(text: &str) -> Vec<String> {
    let mut out = vec![];
    for chunk in text.split_whitespace() {
        let mut cur = String::new();
        for c in chunk.chars() {
            if ".,;:!?\"()".contains(c) {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                out.push(c.to_string());
            } else {
                cur.push(c);
            }
        }
        if !cur.is_empty() {
            out.push(cur);
        }
    }
    out
}

/// A small local normal sampler (Box–Muller on `StdRng`), so no distribution crate is needed.
mod rand_distr_normal {
    use rand::Rng;
    pub fn sample_normal(rng: &mut impl Rng) -> f64 {
        let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
        let u2: f64 = rng.random::<f64>();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

pub(crate) fn normal(rng: &mut StdRng) -> f64 {
    sample_normal(rng)
}

/// Sparse rows: `(column, value)` per row.
struct Csr {
    rows: Vec<Vec<(usize, f64)>>,
    n_cols: usize,
}

impl Csr {
    /// `self · x` for dense `x` (`n_cols × k`).
    fn mul(&self, x: &DMatrix<f64>) -> DMatrix<f64> {
        let mut y = DMatrix::zeros(self.rows.len(), x.ncols());
        for (i, row) in self.rows.iter().enumerate() {
            for &(j, v) in row {
                for c in 0..x.ncols() {
                    y[(i, c)] += v * x[(j, c)];
                }
            }
        }
        y
    }
    /// `selfᵀ · x` for dense `x` (`n_rows × k`).
    fn tmul(&self, x: &DMatrix<f64>) -> DMatrix<f64> {
        let mut y = DMatrix::zeros(self.n_cols, x.ncols());
        for (i, row) in self.rows.iter().enumerate() {
            for &(j, v) in row {
                for c in 0..x.ncols() {
                    y[(j, c)] += v * x[(i, c)];
                }
            }
        }
        y
    }
}

fn orthonormal(m: DMatrix<f64>) -> DMatrix<f64> {
    m.qr().q()
}

impl WordVectors {
    /// PPMI + truncated SVD vectors of the words of `docs` (one document or sentence each;
    /// windows do not cross documents). Typed errors: no words at all, fewer kept words than
    /// `dim`.
    pub fn ppmi_svd(docs: &[String], cfg: &PpmiConfig) -> Result<Self> {
        if cfg.dim == 0 || cfg.window == 0 {
            return Err(Error::Msg(
                "PpmiConfig: dim and window must be at least 1".into(),
            ));
        }
        let tokenized: Vec<Vec<String>> = docs.iter().map(|d| split_words(d)).collect();
        let mut counts: HashMap<&str, u64> = HashMap::new();
        for w in tokenized.iter().flatten() {
            *counts.entry(w.as_str()).or_default() += 1;
        }
        if counts.is_empty() {
            return Err(Error::EmptyInput(
                "word vectors: the corpus has no words".into(),
            ));
        }
        let mut kept: Vec<(&str, u64)> = counts
            .into_iter()
            .filter(|&(_, c)| c >= cfg.min_count)
            .collect();
        kept.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        kept.truncate(cfg.max_words);
        let n = kept.len();
        if n <= cfg.dim {
            return Err(Error::Data(format!(
                "word vectors: {n} words seen at least {} times, need more than dim = {}",
                cfg.min_count, cfg.dim
            )));
        }
        let index: HashMap<String, usize> = kept
            .iter()
            .enumerate()
            .map(|(i, (w, _))| (w.to_string(), i))
            .collect();
        // co-occurrence counts within the window
        let mut pairs: HashMap<(usize, usize), f64> = HashMap::new();
        for doc in &tokenized {
            let ids: Vec<Option<usize>> = doc.iter().map(|w| index.get(w).copied()).collect();
            for (i, a) in ids.iter().enumerate() {
                let Some(a) = a else { continue };
                for b in ids
                    .iter()
                    .take((i + cfg.window + 1).min(ids.len()))
                    .skip(i + 1)
                    .flatten()
                {
                    *pairs.entry((*a, *b)).or_default() += 1.0;
                    *pairs.entry((*b, *a)).or_default() += 1.0;
                }
            }
        }
        let mut row_sum = vec![0.0; n];
        let mut col_sum = vec![0.0; n];
        let mut total = 0.0;
        for (&(a, b), &c) in &pairs {
            row_sum[a] += c;
            col_sum[b] += c;
            total += c;
        }
        if total == 0.0 {
            return Err(Error::Data(
                "word vectors: no two kept words co-occur".into(),
            ));
        }
        let col_alpha: Vec<f64> = col_sum.iter().map(|c: &f64| c.powf(cfg.alpha)).collect();
        let alpha_total: f64 = col_alpha.iter().sum();
        let mut rows: Vec<Vec<(usize, f64)>> = vec![vec![]; n];
        for (&(a, b), &c) in &pairs {
            let pmi =
                (c / total).ln() - (row_sum[a] / total).ln() - (col_alpha[b] / alpha_total).ln();
            if pmi > 0.0 {
                rows[a].push((b, pmi));
            }
        }
        for r in rows.iter_mut() {
            r.sort_by_key(|x| x.0); // hash order must not reach the sums
        }
        let m = Csr { rows, n_cols: n };
        let vectors = randomized_svd_vectors(&m, cfg.dim, cfg.power_iters, cfg.seed);
        Ok(WordVectors {
            words: kept.iter().map(|(w, _)| w.to_string()).collect(),
            counts: kept.iter().map(|x| x.1).collect(),
            vectors,
            index,
        })
    }

    /// From given words, counts and vectors (rows), e.g. vectors loaded from elsewhere.
    pub fn from_parts(words: Vec<String>, counts: Vec<u64>, vectors: DMatrix<f64>) -> Result<Self> {
        if words.len() != counts.len() || words.len() != vectors.nrows() || words.is_empty() {
            return Err(Error::Shape(format!(
                "word vectors: {} words, {} counts, {} rows",
                words.len(),
                counts.len(),
                vectors.nrows()
            )));
        }
        let index = words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.clone(), i))
            .collect();
        Ok(WordVectors {
            words,
            counts,
            vectors,
            index,
        })
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }
    pub fn dim(&self) -> usize {
        self.vectors.ncols()
    }
    pub fn id(&self, word: &str) -> Option<usize> {
        self.index.get(word).copied()
    }
    /// The word's vector.
    pub fn get(&self, word: &str) -> Option<DVector<f64>> {
        self.id(word).map(|i| self.vectors.row(i).transpose())
    }

    /// The `k` words whose vectors are most cosine-similar to `v`, best first.
    pub fn nearest(&self, v: &DVector<f64>, k: usize) -> Vec<(String, f64)> {
        let sims = cosine_rows(&self.vectors, v);
        top_k(&sims, k)
            .into_iter()
            .map(|(i, s)| (self.words[i].clone(), s))
            .collect()
    }
}

/// The top `d` left singular vectors of `m`, scaled by the square roots of their singular values.
fn randomized_svd_vectors(m: &Csr, d: usize, power_iters: usize, seed: u64) -> DMatrix<f64> {
    let n = m.n_cols;
    let k = (d + 10).min(n);
    let mut rng = StdRng::seed_from_u64(seed);
    let omega = DMatrix::from_fn(n, k, |_, _| normal(&mut rng));
    let mut q = orthonormal(m.mul(&omega));
    for _ in 0..power_iters {
        let z = orthonormal(m.tmul(&q));
        q = orthonormal(m.mul(&z));
    }
    // B = Qᵀ M (k × n) is small: its SVD gives M's top singular triplets
    let b = m.tmul(&q).transpose();
    let svd = b.svd(true, false);
    let u_b = svd.u.expect("svd with u");
    // nalgebra does not sort singular values: order them descending
    let mut order: Vec<usize> = (0..svd.singular_values.len()).collect();
    order.sort_by(|&i, &j| svd.singular_values[j].total_cmp(&svd.singular_values[i]));
    let u = q * u_b;
    let mut out = DMatrix::zeros(m.rows.len(), d);
    for (c, &i) in order.iter().take(d).enumerate() {
        let s = svd.singular_values[i].sqrt();
        // a deterministic sign: the largest-magnitude entry positive
        let col = u.column(i);
        let big = col
            .iter()
            .copied()
            .fold(0.0f64, |a, x| if x.abs() > a.abs() { x } else { a });
        let sign = if big < 0.0 { -1.0 } else { 1.0 };
        for r in 0..out.nrows() {
            out[(r, c)] = sign * s * col[r];
        }
    }
    out
}

/// Cosine similarity of every row of `m` with `v` (0 for a zero row).
pub fn cosine_rows(m: &DMatrix<f64>, v: &DVector<f64>) -> Vec<f64> {
    let vn = v.norm();
    (0..m.nrows())
        .map(|i| {
            let r = m.row(i);
            let rn = r.norm();
            if rn == 0.0 || vn == 0.0 {
                0.0
            } else {
                r.transpose().dot(v) / (rn * vn)
            }
        })
        .collect()
}

/// Indices and values of the `k` largest values, largest first (ties: lower index first).
pub fn top_k(values: &[f64], k: usize) -> Vec<(usize, f64)> {
    let mut idx: Vec<usize> = (0..values.len()).collect();
    idx.sort_by(|&a, &b| values[b].total_cmp(&values[a]).then(a.cmp(&b)));
    idx.into_iter().take(k).map(|i| (i, values[i])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_punctuation() {
        assert_eq!(
            split_words("The dog, a cat."),
            vec!["The", "dog", ",", "a", "cat", "."]
        );
    }

    #[test]
    fn distributional_twins_get_near_vectors() {
        // `cat` and `dog` occur in identical contexts, `stone` in others
        let mut docs = vec![];
        for i in 0..60 {
            let adj = ["big", "small", "old"][i % 3];
            docs.push(format!("the {adj} cat eats fish today"));
            docs.push(format!("the {adj} dog eats fish today"));
            docs.push(format!("a {adj} stone lies near water quietly"));
            docs.push(format!("a {adj} rock lies near water quietly"));
        }
        let wv = WordVectors::ppmi_svd(
            &docs,
            &PpmiConfig {
                dim: 4,
                min_count: 1,
                ..Default::default()
            },
        )
        .unwrap();
        let cat = wv.get("cat").unwrap();
        let near = wv.nearest(&cat, 2);
        assert_eq!(near[0].0, "cat");
        assert_eq!(near[1].0, "dog");
        let sims = cosine_rows(&wv.vectors, &cat);
        assert!(sims[wv.id("dog").unwrap()] > sims[wv.id("stone").unwrap()] + 0.5);
        // seeded: the same vectors again
        let again = WordVectors::ppmi_svd(
            &docs,
            &PpmiConfig {
                dim: 4,
                min_count: 1,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(again.vectors, wv.vectors);
    }

    #[test]
    fn randomized_svd_matches_the_dense_svd() {
        let mut rng = StdRng::seed_from_u64(3);
        let n = 40;
        let dense = DMatrix::from_fn(n, n, |_, _| normal(&mut rng).max(0.0));
        let rows = (0..n)
            .map(|i| {
                (0..n)
                    .filter(|&j| dense[(i, j)] != 0.0)
                    .map(|j| (j, dense[(i, j)]))
                    .collect()
            })
            .collect();
        let v = randomized_svd_vectors(&Csr { rows, n_cols: n }, 5, 8, 0);
        let mut s: Vec<f64> = dense
            .clone()
            .svd(false, false)
            .singular_values
            .iter()
            .copied()
            .collect();
        s.sort_by(|a, b| b.total_cmp(a));
        for c in 0..5 {
            // column norms are sqrt(σ) (unit singular vectors scaled by σ^½)
            assert!(
                (v.column(c).norm_squared() - s[c]).abs() < 1e-6 * s[0],
                "σ{c}: {} vs {}",
                v.column(c).norm_squared(),
                s[c]
            );
        }
    }

    #[test]
    fn bad_input_is_typed() {
        assert!(matches!(
            WordVectors::ppmi_svd(&[], &PpmiConfig::default()),
            Err(Error::EmptyInput(_))
        ));
        assert!(matches!(
            WordVectors::ppmi_svd(
                &["a b c".into()],
                &PpmiConfig {
                    min_count: 1,
                    ..Default::default()
                }
            ),
            Err(Error::Data(_))
        ));
    }
}
