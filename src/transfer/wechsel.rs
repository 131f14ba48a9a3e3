//! WECHSEL (Minixhofer, Paischer & Rekabsaz, NAACL 2022): initialise the embeddings of a new
//! target-language tokenizer from a source model's embeddings, through multilingual static word
//! embeddings. The steps of the official `wechsel/__init__.py`:
//!
//! 1. subword embeddings in word-embedding space, for both tokenizers: without fastText
//!    subword information, each token's vector is the frequency-weighted mean of the vectors of
//!    the words whose tokenization (`word` or `" " + word`) contains it
//!    ([`subword_embeddings`]);
//! 2. align the source word space to the target's by orthogonal Procrustes on a bilingual
//!    dictionary (each pair tried as given, lower-cased and title-cased) ([`align`]);
//! 3. for every target token, cosine similarity to every (aligned, normalised) source token,
//!    the top `k` (10), weights `softmax(sim / T)` (T = 0.1), and the target embedding is the
//!    weighted sum of the source model's embeddings ([`target_embeddings`]); tokens without a
//!    vector get random normal rows with the source matrix's per-dimension mean and std; the
//!    special tokens are copied.
//!
//! Then [`swap_vocabulary`] puts the new embeddings into the source model, its transformer body
//! untouched, and training continues on the target language.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};
use nalgebra::{DMatrix, DVector};
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::procrustes::orthogonal_procrustes;
use super::word_vectors::{normal, top_k, WordVectors};
use crate::data::{BilingualDictionary, BpeTokenizer};
use crate::model::Gpt2;
use crate::{Error, Result};

/// The mapping's knobs (the paper's defaults: k = 10, T = 0.1, fallback seed 1234).
#[derive(Clone, Debug, PartialEq)]
pub struct WechselConfig {
    pub k: usize,
    pub temperature: f64,
    pub fallback_seed: u64,
}

impl Default for WechselConfig {
    fn default() -> Self {
        WechselConfig {
            k: 10,
            temperature: 0.1,
            fallback_seed: 1234,
        }
    }
}

/// One vector per token (rows), and whether any word gave the token a vector.
#[derive(Clone, Debug)]
pub struct SubwordEmbeddings {
    pub matrix: DMatrix<f64>,
    pub found: Vec<bool>,
}

/// Step 1: every token of `tok` as the frequency-weighted mean of the vectors of the words of
/// `wv` whose tokenization, with or without a leading space, contains it.
pub fn subword_embeddings(tok: &BpeTokenizer, wv: &WordVectors) -> Result<SubwordEmbeddings> {
    let v = tok.vocab_size();
    let mut sum = DMatrix::zeros(v, wv.dim());
    let mut weight = vec![0.0; v];
    for (i, word) in wv.words.iter().enumerate() {
        let mut ids = tok.encode(word)?;
        ids.extend(tok.encode(&format!(" {word}"))?);
        ids.sort_unstable();
        ids.dedup();
        let c = wv.counts[i] as f64;
        for id in ids {
            let id = id as usize;
            if id >= v {
                return Err(Error::TokenOutOfRange {
                    id: id as u32,
                    vocab: v,
                });
            }
            weight[id] += c;
            for d in 0..wv.dim() {
                sum[(id, d)] += c * wv.vectors[(i, d)];
            }
        }
    }
    for (id, &w) in weight.iter().enumerate() {
        if w > 0.0 {
            for d in 0..wv.dim() {
                sum[(id, d)] /= w;
            }
        }
    }
    Ok(SubwordEmbeddings {
        matrix: sum,
        found: weight.iter().map(|&w| w > 0.0).collect(),
    })
}

/// Step 2's result: the rotation taking source word vectors into the target space.
#[derive(Clone, Debug)]
pub struct Alignment {
    pub matrix: DMatrix<f64>,
    /// Dictionary correspondences found in both vocabularies (with case variants).
    pub n_pairs: usize,
}

impl Alignment {
    /// A source vector mapped into the target space (`x R`).
    pub fn map(&self, v: &DVector<f64>) -> DVector<f64> {
        (v.transpose() * &self.matrix).transpose()
    }
}

fn title(w: &str) -> String {
    let mut c = w.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + &c.as_str().to_lowercase(),
        None => String::new(),
    }
}

/// Step 2: orthogonal Procrustes on the dictionary pairs whose words both have vectors (each
/// pair tried as given, lower-cased and title-cased on both sides, as the official code).
/// [`Error::NoDictionaryOverlap`] when no pair has both words.
pub fn align(
    source: &WordVectors,
    target: &WordVectors,
    dict: &BilingualDictionary,
) -> Result<Alignment> {
    if source.dim() != target.dim() {
        return Err(Error::Shape(format!(
            "source vectors have dim {}, target {}",
            source.dim(),
            target.dim()
        )));
    }
    let mut a = vec![];
    let mut b = vec![];
    for (s, t) in &dict.pairs {
        for sw in [s.clone(), s.to_lowercase(), title(s)] {
            for tw in [t.clone(), t.to_lowercase(), title(t)] {
                if let (Some(x), Some(y)) = (source.get(&sw), target.get(&tw)) {
                    a.push(x);
                    b.push(y);
                }
            }
        }
    }
    if a.is_empty() {
        return Err(Error::NoDictionaryOverlap { pairs: dict.len() });
    }
    let rows = |v: &[DVector<f64>]| DMatrix::from_fn(v.len(), source.dim(), |i, j| v[i][j]);
    Ok(Alignment {
        matrix: orthogonal_procrustes(&rows(&a), &rows(&b))?,
        n_pairs: a.len(),
    })
}

/// A source token a target token was built from.
#[derive(Clone, Debug, PartialEq)]
pub struct Neighbour {
    pub source: u32,
    pub similarity: f64,
    pub weight: f64,
}

/// Step 3's result.
#[derive(Clone, Debug)]
pub struct WechselInit {
    /// `(target vocab, n_embd)`, F32 on the source matrix's device.
    pub embeddings: Tensor,
    /// Per target token: its `k` source neighbours with weights, or `None` (random fallback or
    /// copied special token).
    pub neighbours: Vec<Option<Vec<Neighbour>>>,
    pub n_matched: usize,
}

/// Rows with each source dimension's mean and (population) std, from a generator seeded by `seed`:
/// WECHSEL's fallback for tokens without a vector, and the "random embeddings" baseline.
pub fn random_embeddings(source_matrix: &Tensor, rows: usize, seed: u64) -> Result<Tensor> {
    let m = source_matrix.to_dtype(DType::F64)?;
    let (_, c) = m.dims2()?;
    let mean = m.mean(0)?;
    let std = m.broadcast_sub(&mean)?.sqr()?.mean(0)?.sqrt()?;
    let (mean, std) = (mean.to_vec1::<f64>()?, std.to_vec1::<f64>()?);
    let mut rng = StdRng::seed_from_u64(seed);
    let data: Vec<f32> = (0..rows * c)
        .map(|i| (mean[i % c] + std[i % c] * normal(&mut rng)) as f32)
        .collect();
    Ok(Tensor::from_vec(data, (rows, c), source_matrix.device())?)
}

fn normalise_rows(m: &DMatrix<f64>) -> DMatrix<f64> {
    let mut out = m.clone();
    for mut r in out.row_iter_mut() {
        let n = r.norm() + 1e-8;
        r /= n;
    }
    out
}

/// Step 3: target embeddings from `source_sub` (already aligned to the target space),
/// `target_sub` and the source model's embedding matrix `source_matrix` `(V_s, C)`. Special
/// tokens in `specials` (`(source id, target id)`) are copied.
pub fn target_embeddings(
    source_sub: &SubwordEmbeddings,
    target_sub: &SubwordEmbeddings,
    source_matrix: &Tensor,
    specials: &[(u32, u32)],
    cfg: &WechselConfig,
) -> Result<WechselInit> {
    let (vs, c) = source_matrix.dims2()?;
    if source_sub.matrix.nrows() != vs {
        return Err(Error::Shape(format!(
            "{} source subword vectors for a {vs}-row embedding matrix",
            source_sub.matrix.nrows()
        )));
    }
    if cfg.k == 0 || !(cfg.temperature > 0.0) {
        return Err(Error::Msg(format!(
            "WECHSEL needs k ≥ 1 and a positive temperature, got k = {}, T = {}",
            cfg.k, cfg.temperature
        )));
    }
    let vt = target_sub.matrix.nrows();
    let src = normalise_rows(&source_sub.matrix);
    let tgt = normalise_rows(&target_sub.matrix);
    let src_t = src.transpose();
    const CHUNK: usize = 1024; // target rows per similarity block, as the official code (bounds memory at V = 50k)
    let mut sims_all = DMatrix::zeros(0, 0);
    let mut chunk_start = None;
    let source_rows = source_matrix.to_dtype(DType::F64)?.to_vec2::<f64>()?;
    let fallback = random_embeddings(source_matrix, vt, cfg.fallback_seed)?
        .to_dtype(DType::F64)?
        .to_vec2::<f64>()?;
    let mut out = vec![0f32; vt * c];
    let mut neighbours = vec![None; vt];
    let mut n_matched = 0;
    for t in 0..vt {
        let row = &mut out[t * c..(t + 1) * c];
        if !target_sub.found[t] {
            row.iter_mut()
                .zip(&fallback[t])
                .for_each(|(o, &f)| *o = f as f32);
            continue;
        }
        let start = t - t % CHUNK;
        if chunk_start != Some(start) {
            sims_all = tgt.rows(start, CHUNK.min(vt - start)) * &src_t; // cosine similarities
            chunk_start = Some(start);
        }
        let sims: Vec<f64> = sims_all.row(t % CHUNK).iter().copied().collect();
        let best = top_k(&sims, cfg.k.min(vs));
        let mx = best
            .iter()
            .map(|b| b.1 / cfg.temperature)
            .fold(f64::NEG_INFINITY, f64::max);
        let exps: Vec<f64> = best
            .iter()
            .map(|b| (b.1 / cfg.temperature - mx).exp())
            .collect();
        let z: f64 = exps.iter().sum();
        let mut acc = vec![0.0f64; c];
        let mut nb = Vec::with_capacity(best.len());
        for ((s, sim), e) in best.iter().zip(&exps) {
            let w = e / z;
            acc.iter_mut()
                .zip(&source_rows[*s])
                .for_each(|(a, &x)| *a += w * x);
            nb.push(Neighbour {
                source: *s as u32,
                similarity: *sim,
                weight: w,
            });
        }
        row.iter_mut().zip(&acc).for_each(|(o, &a)| *o = a as f32);
        neighbours[t] = Some(nb);
        n_matched += 1;
    }
    for &(s, t) in specials {
        let (s, t) = (s as usize, t as usize);
        if s >= vs || t >= vt {
            return Err(Error::TokenOutOfRange {
                id: s.max(t) as u32,
                vocab: vs.min(vt),
            });
        }
        out[t * c..(t + 1) * c]
            .iter_mut()
            .zip(&source_rows[s])
            .for_each(|(o, &x)| *o = x as f32);
        neighbours[t] = None;
    }
    Ok(WechselInit {
        embeddings: Tensor::from_vec(out, (vt, c), source_matrix.device())?,
        neighbours,
        n_matched,
    })
}

/// Special tokens present in both tokenizers, as `(source id, target id)`: the added special
/// tokens, and `<|endoftext|>` also where it is an ordinary vocabulary entry (GPT-2's
/// `vocab.json`), as `special_tokens_map` names it in the official code.
pub fn shared_specials(source: &BpeTokenizer, target: &BpeTokenizer) -> Vec<(u32, u32)> {
    let mut ids = source.special_ids();
    ids.extend(source.eot_id());
    ids.sort_unstable();
    ids.dedup();
    ids.into_iter()
        .filter_map(|s| {
            source
                .id_to_token(s)
                .and_then(|tok| target.token_to_id(&tok))
                .map(|t| (s, t))
        })
        .collect()
}

/// The whole method: steps 1–3 for a source model's embedding matrix `source_matrix`.
#[derive(Clone, Debug)]
pub struct Wechsel {
    pub alignment: Alignment,
    /// Source subword vectors, aligned into the target space.
    pub source_sub: SubwordEmbeddings,
    pub target_sub: SubwordEmbeddings,
}

impl Wechsel {
    /// Steps 1 and 2.
    pub fn new(
        source_tok: &BpeTokenizer,
        target_tok: &BpeTokenizer,
        source_wv: &WordVectors,
        target_wv: &WordVectors,
        dict: &BilingualDictionary,
    ) -> Result<Self> {
        let alignment = align(source_wv, target_wv, dict)?;
        let mut source_sub = subword_embeddings(source_tok, source_wv)?;
        source_sub.matrix = &source_sub.matrix * &alignment.matrix;
        let target_sub = subword_embeddings(target_tok, target_wv)?;
        Ok(Wechsel {
            alignment,
            source_sub,
            target_sub,
        })
    }

    /// Step 3.
    pub fn apply(
        &self,
        source_tok: &BpeTokenizer,
        target_tok: &BpeTokenizer,
        source_matrix: &Tensor,
        cfg: &WechselConfig,
    ) -> Result<WechselInit> {
        target_embeddings(
            &self.source_sub,
            &self.target_sub,
            source_matrix,
            &shared_specials(source_tok, target_tok),
            cfg,
        )
    }
}

/// The source model with a new vocabulary: `wte` `(V', n_embd)` replaces the token embedding
/// (and so the tied unembedding), `vocab_size` becomes `V'` and BOS/EOS `eot`; every other
/// tensor (positions, blocks, final LayerNorm) is the source model's, untouched.
pub fn swap_vocabulary(model: &Gpt2, wte: &Tensor, eot: Option<u32>) -> Result<Gpt2> {
    let (v, c) = wte.dims2()?;
    if c != model.cfg.n_embd {
        return Err(Error::TensorShape {
            name: "wte.weight".into(),
            expected: vec![v, model.cfg.n_embd],
            got: vec![v, c],
        });
    }
    let mut cfg = model.cfg.clone();
    cfg.vocab_size = v;
    cfg.bos_token_id = eot;
    cfg.eos_token_id = eot;
    let mut tensors: HashMap<String, Tensor> = model.named_tensors().into_iter().collect();
    tensors.insert(
        "wte.weight".into(),
        wte.to_dtype(model.dtype())?.to_device(model.device())?,
    );
    Gpt2::from_tensors(cfg, &tensors)
}

/// A model's token embedding as an `(V, C)` F32 tensor on the CPU.
pub fn embedding_matrix(model: &Gpt2) -> Result<Tensor> {
    Ok(model.wte.to_dtype(DType::F32)?.to_device(&Device::Cpu)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Gpt2Config;

    fn sub(rows: &[&[f64]]) -> SubwordEmbeddings {
        let m = DMatrix::from_fn(rows.len(), rows[0].len(), |i, j| rows[i][j]);
        let found = rows.iter().map(|r| r.iter().any(|&x| x != 0.0)).collect();
        SubwordEmbeddings { matrix: m, found }
    }

    #[test]
    fn mixing_weights_and_k1() {
        // source tokens along three directions; target token 0 near source 0, token 1 between 1 and 2
        let s = sub(&[&[1.0, 0.0, 0.0], &[0.0, 1.0, 0.0], &[0.0, 0.0, 1.0]]);
        let t = sub(&[&[0.9, 0.1, 0.0], &[0.0, 1.0, 1.0], &[0.0, 0.0, 0.0]]);
        let e = Tensor::new(&[[1f32, 2.0], [3.0, 4.0], [5.0, 6.0]], &Device::Cpu).unwrap();
        let k1 = target_embeddings(
            &s,
            &t,
            &e,
            &[],
            &WechselConfig {
                k: 1,
                ..Default::default()
            },
        )
        .unwrap();
        let rows = k1.embeddings.to_vec2::<f32>().unwrap();
        assert_eq!(rows[0], vec![1.0, 2.0]); // k = 1 copies the nearest source row
        assert_eq!(k1.n_matched, 2);
        assert!(k1.neighbours[2].is_none()); // no vector: random fallback
        let k2 = target_embeddings(
            &s,
            &t,
            &e,
            &[],
            &WechselConfig {
                k: 2,
                temperature: 0.1,
                fallback_seed: 0,
            },
        )
        .unwrap();
        let nb = k2.neighbours[1].as_ref().unwrap();
        let wsum: f64 = nb.iter().map(|n| n.weight).sum();
        assert!((wsum - 1.0).abs() < 1e-12);
        // equal similarity to sources 1 and 2: weights ½, ½ and the mean of their rows
        assert!((nb[0].weight - 0.5).abs() < 1e-9);
        let r1 = k2.embeddings.to_vec2::<f32>().unwrap()[1].clone();
        assert!((r1[0] - 4.0).abs() < 1e-5 && (r1[1] - 5.0).abs() < 1e-5);
        // hand-computed softmax for token 0 with k = 2: sims cos(t0, s0), cos(t0, s1)
        let n = (0.81f64 + 0.01).sqrt();
        let (a, b) = (0.9 / n / 0.1, 0.1 / n / 0.1);
        let w0 = a.exp() / (a.exp() + b.exp());
        let nb0 = k2.neighbours[0].as_ref().unwrap();
        assert!(
            (nb0[0].weight - w0).abs() < 1e-9,
            "{} vs {w0}",
            nb0[0].weight
        );
        // specials are copied
        let sp = target_embeddings(&s, &t, &e, &[(2, 0)], &WechselConfig::default()).unwrap();
        assert_eq!(sp.embeddings.to_vec2::<f32>().unwrap()[0], vec![5.0, 6.0]);
        assert!(target_embeddings(
            &s,
            &t,
            &e,
            &[],
            &WechselConfig {
                k: 0,
                ..Default::default()
            }
        )
        .is_err());
    }

    #[test]
    fn fallback_matches_mean_and_std() {
        let e = Tensor::new(
            &[[1f32, 10.0], [3.0, 10.0], [5.0, 16.0], [7.0, 12.0]],
            &Device::Cpu,
        )
        .unwrap();
        let r = random_embeddings(&e, 20_000, 1)
            .unwrap()
            .to_dtype(DType::F64)
            .unwrap();
        let mean = r.mean(0).unwrap().to_vec1::<f64>().unwrap();
        assert!(
            (mean[0] - 4.0).abs() < 0.05 && (mean[1] - 12.0).abs() < 0.05,
            "{mean:?}"
        );
        let std = r
            .broadcast_sub(&r.mean(0).unwrap())
            .unwrap()
            .sqr()
            .unwrap()
            .mean(0)
            .unwrap()
            .sqrt()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        assert!(
            (std[0] - 5f64.sqrt()).abs() < 0.05 && (std[1] - 6f64.sqrt()).abs() < 0.05,
            "{std:?}"
        );
    }

    #[test]
    fn vocabulary_swap_keeps_the_body_bit_identical() {
        let model = Gpt2::random(Gpt2Config::tiny(50, 16, 32, 2, 4), 0, &Device::Cpu).unwrap();
        let wte = Tensor::randn(0f32, 1.0, (70, 32), &Device::Cpu).unwrap();
        let swapped = swap_vocabulary(&model, &wte, Some(0)).unwrap();
        assert_eq!(swapped.cfg.vocab_size, 70);
        let before: HashMap<String, Tensor> = model.named_tensors().into_iter().collect();
        for (name, t) in swapped.named_tensors() {
            let got = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            if name == "wte.weight" {
                assert_eq!(got, wte.flatten_all().unwrap().to_vec1::<f32>().unwrap());
            } else {
                let want = before[&name]
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap();
                assert!(
                    got.iter()
                        .zip(&want)
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{name} changed"
                );
            }
        }
        let logits = swapped
            .forward(&Tensor::new(&[[1u32, 69, 3]], &Device::Cpu).unwrap())
            .unwrap();
        assert_eq!(logits.dims(), &[1, 3, 70]);
        let bad = Tensor::zeros((70, 16), DType::F32, &Device::Cpu).unwrap();
        assert!(matches!(
            swap_vocabulary(&model, &bad, None),
            Err(Error::TensorShape { .. })
        ));
    }

    #[test]
    fn no_overlap_is_typed() {
        let wv = |words: &[&str]| {
            WordVectors::from_parts(
                words.iter().map(|w| w.to_string()).collect(),
                vec![1; words.len()],
                DMatrix::identity(words.len(), 2),
            )
            .unwrap()
        };
        let d = BilingualDictionary::new(vec![("dog".into(), "bafo".into())]).unwrap();
        assert!(matches!(
            align(&wv(&["cat", "sun"]), &wv(&["bafo", "zu"]), &d),
            Err(Error::NoDictionaryOverlap { pairs: 1 })
        ));
        // case variants are tried: `Dog` / `BAFO` still match
        let d = BilingualDictionary::new(vec![("Dog".into(), "Bafo".into())]).unwrap();
        assert_eq!(
            align(&wv(&["dog", "sun"]), &wv(&["bafo", "zu"]), &d)
                .unwrap()
                .n_pairs,
            1
        );
    }
}
