//! rep-n, diversity, isotropy and coherence on hand-computed examples.

use std::collections::HashMap;

use candle_core::{Device, Tensor};
use gpt2lab::metrics::*;
use gpt2lab::model::{Gpt2, Gpt2Config};
use gpt2lab::tokenizer::Gpt2Tokenizer;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

// ---------- rep-n and diversity ----------

#[test]
fn rep_n_by_hand() {
    // "a b a b a": bigrams ab ba ab ba (2 unique / 4), trigrams aba bab aba (2/3), 4-grams abab baba (2/2)
    let t = ["a b a b a"];
    assert!(close(rep_n(&t, 2), 0.5));
    assert!(close(rep_n(&t, 3), 1.0 / 3.0));
    assert!(close(rep_n(&t, 4), 0.0));
    assert!(close(diversity(&t), 0.5 * (2.0 / 3.0) * 1.0));
    // SimCTG's loop drops each text's last n-gram: ab ba ab → 2/3 unique
    assert!(close(rep_n_with(&t, 2, Counting::SimCtg), 1.0 / 3.0));
    assert!(close(rep_n_with(&t, 3, Counting::SimCtg), 0.0)); // aba bab
    let r = Repetition::measure(&t, Counting::All);
    assert!(close(r.rep_2, 0.5) && close(r.rep_3, 1.0 / 3.0) && close(r.rep_4, 0.0) && close(r.diversity, 1.0 / 3.0));
}

#[test]
fn rep_n_pools_counts_over_texts_but_not_ngrams() {
    // the same bigram in two texts is not a repetition
    assert!(close(rep_n(&["x y", "x y"], 2), 0.0));
    // text 1: "a a a" → aa aa (1/2); text 2: "b c d" → bc cd (2/2): pooled 1 − 3/4
    assert!(close(rep_n(&["a a a", "b c d"], 2), 0.25));
    // whitespace of any kind separates words; texts shorter than n add nothing
    assert!(close(rep_n(&["  a\ta\n a ", "z"], 2), 0.5));
    assert!(close(rep_n(&["z"], 2), 0.0));
    assert!(close(rep_n::<&str>(&[], 2), 0.0));
    assert!(close(diversity(&["one two three four five"]), 1.0));
    // pure repetition of one word: 1 unique of L − n + 1
    assert!(close(rep_n(&["w w w w w w"], 2), 1.0 - 1.0 / 5.0));
}

#[test]
fn rep_n_over_token_ids_matches_words() {
    let seqs = vec![vec![1u32, 2, 1, 2, 1], vec![3, 3, 3]];
    let texts = ["1 2 1 2 1", "3 3 3"];
    for n in 2..=4 {
        assert!(close(rep_n_tokens(&seqs, n), rep_n(&texts, n)), "n = {n}");
    }
    assert!(close(mean_length(&texts), 4.0));
    assert!(close(mean_length::<&str>(&[]), 0.0));
}

// ---------- isotropy ----------

fn t2(rows: &[&[f32]]) -> Tensor {
    let c = rows[0].len();
    Tensor::from_vec(rows.iter().flat_map(|r| r.iter().copied()).collect::<Vec<_>>(), (rows.len(), c), &Device::Cpu).unwrap()
}

#[test]
fn isotropy_by_hand() {
    // identical directions (any length): self-similarity 1, isotropy 0
    let same = t2(&[&[1.0, 2.0], &[2.0, 4.0], &[0.5, 1.0]]);
    assert!((self_similarity(&same).unwrap() - 1.0).abs() < 1e-9);
    assert!(isotropy(&same).unwrap().abs() < 1e-9);
    // an orthogonal basis: isotropy 1
    let basis = t2(&[&[1.0, 0.0, 0.0], &[0.0, 3.0, 0.0], &[0.0, 0.0, 2.0]]);
    assert!((isotropy(&basis).unwrap() - 1.0).abs() < 1e-9);
    // two opposite vectors: cos = −1, isotropy 2 = 1 + 1/(T − 1), the upper bound
    let opposite = t2(&[&[1.0, 1.0], &[-2.0, -2.0]]);
    assert!((isotropy(&opposite).unwrap() - 2.0).abs() < 1e-9);
    // 60° apart: cos = 0.5
    let s = 3f32.sqrt() / 2.0;
    let sixty = t2(&[&[1.0, 0.0], &[0.5, s]]);
    assert!((self_similarity(&sixty).unwrap() - 0.5).abs() < 1e-6);
    assert!(self_similarity(&t2(&[&[1.0, 0.0]])).is_err());
}

#[test]
fn isotropy_pools_pairs_like_the_official_script() {
    // text A: two identical vectors (2 ordered pairs, cos sum 2); text B: 3 orthogonal (6 pairs, sum 0)
    let a = t2(&[&[1.0, 0.0], &[1.0, 0.0]]);
    let b = t2(&[&[1.0, 0.0, 0.0], &[0.0, 1.0, 0.0], &[0.0, 0.0, 1.0]]);
    let mut acc = IsotropyAccumulator::new();
    assert!(acc.self_similarity().is_nan());
    acc.add(&a).unwrap();
    acc.add(&b).unwrap();
    acc.add(&t2(&[&[5.0, 5.0]])).unwrap(); // one token: no pair
    assert_eq!((acc.pairs, acc.texts), (8, 3));
    assert!((acc.self_similarity() - 0.25).abs() < 1e-9, "pooled 2/8, not the mean of 1 and 0");
    assert!((acc.isotropy() - 0.75).abs() < 1e-9);
}

#[test]
fn cosine_matrix_is_symmetric_with_unit_diagonal() {
    let h = t2(&[&[1.0, 2.0, 0.0], &[0.0, 1.0, -1.0], &[3.0, 0.0, 1.0]]);
    let m: Vec<Vec<f32>> = cosine_similarity_matrix(&h).unwrap().to_vec2().unwrap();
    for i in 0..3 {
        assert!((m[i][i] - 1.0).abs() < 1e-6);
        for j in 0..3 {
            assert!((m[i][j] - m[j][i]).abs() < 1e-6);
        }
    }
    // (1,2,0)·(0,1,−1) = 2, norms √5 √2
    assert!((m[0][1] - 2.0 / (5f32.sqrt() * 2f32.sqrt())).abs() < 1e-6);
    let off: f64 = (0..3).flat_map(|i| (0..3).filter(move |&j| j != i).map(move |j| (i, j))).map(|(i, j)| m[i][j] as f64).sum();
    assert!((self_similarity(&h).unwrap() - off / 6.0).abs() < 1e-6);
}

#[test]
fn last_hidden_states_are_what_the_unembedding_reads() {
    let m = Gpt2::random(Gpt2Config::tiny(53, 32, 16, 2, 2), 3, &Device::Cpu).unwrap();
    let ids = [1u32, 4, 9, 16, 25];
    let h = last_hidden_states(&m, &ids).unwrap();
    assert_eq!(h.dims(), &[5, 16]);
    let logits = m.forward(&Tensor::new(&ids, &Device::Cpu).unwrap()).unwrap().squeeze(0).unwrap();
    let via_h = m.unembed_normalized(&h).unwrap();
    let diff = (logits - via_h).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap();
    assert!(diff < 1e-5, "{diff}");
    let iso = model_isotropy(&m, &[ids.to_vec(), vec![2, 3, 5, 7]]).unwrap();
    assert!((0.0..=1.0 + 1.0 / 3.0).contains(&iso), "{iso}");
    assert!(model_isotropy(&m, &[vec![1]]).is_err());
}

// ---------- coherence ----------

/// A model with every weight zero: hidden states are 0, logits 0, p = 1/V for every token.
fn uniform_model(vocab: usize) -> Gpt2 {
    let cfg = Gpt2Config::tiny(vocab, 64, 8, 1, 2);
    let r = Gpt2::random(cfg.clone(), 0, &Device::Cpu).unwrap();
    let zeros: HashMap<String, Tensor> = r.named_tensors().into_iter().map(|(n, t)| (n, t.zeros_like().unwrap())).collect();
    Gpt2::from_tensors(cfg, &zeros).unwrap()
}

#[test]
fn coherence_by_hand() {
    let m = uniform_model(50);
    let c = coherence(&m, &[1, 2, 3], &[4, 5, 6, 7]).unwrap();
    assert!((c + 50f64.ln()).abs() < 1e-5, "{c}");
    // and on a real model it is the mean of the per-token log-probs
    let r = Gpt2::random(Gpt2Config::tiny(50, 64, 16, 2, 2), 1, &Device::Cpu).unwrap();
    let lp = r.score_continuation(&[1, 2, 3], &[4, 5, 6, 7]).unwrap();
    let mean = lp.iter().map(|&x| x as f64).sum::<f64>() / 4.0;
    assert!((coherence(&r, &[1, 2, 3], &[4, 5, 6, 7]).unwrap() - mean).abs() < 1e-9);
    assert!(coherence(&r, &[1], &[]).is_err());
    // batched scoring (right-padded rows of different lengths) equals one-by-one scoring
    let pairs = vec![(vec![1u32, 2], vec![3u32, 4, 5, 6, 7, 8]), (vec![9, 10, 11, 12], vec![13]), (vec![2], vec![2, 2, 2])];
    let batched = coherence_batch(&r, &pairs, 8).unwrap();
    for ((p, c), b) in pairs.iter().zip(&batched) {
        assert!((coherence(&r, p, c).unwrap() - b).abs() < 1e-5, "{b}");
        let direct: f64 = r.score_continuation(p, c).unwrap().iter().map(|&x| x as f64).sum::<f64>() / c.len() as f64;
        assert!((direct - b).abs() < 1e-5, "{direct} vs {b}");
    }
    assert_eq!(coherence_batch(&r, &pairs, 2).unwrap().len(), 3);
    assert!(coherence_batch(&r, &[(vec![], vec![1])], 4).is_err());
}

#[test]
fn coherence_evaluator_scores_text_pairs() {
    let tok = Gpt2Tokenizer::gpt2().unwrap();
    let ev = CoherenceEvaluator::new(uniform_model(tok.vocab_size()), tok);
    let v = ev.tokenizer.vocab_size() as f64;
    let s = ev.score("Once upon a time", " there was a cat.").unwrap().unwrap();
    assert!((s + v.ln()).abs() < 1e-4, "{s}");
    assert_eq!(ev.score("Once upon a time", "   ").unwrap(), None);
    let corpus = ev.score_corpus(&[("A", " b c"), ("D", ""), ("E", " f")]).unwrap();
    assert!((corpus + v.ln()).abs() < 1e-4);
    assert!(ev.score_corpus(&[("A", " ")]).unwrap().is_nan());
}
