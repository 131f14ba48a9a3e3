//! Beam search and contrastive search on small random models and hand-made distributions.

use candle_core::Device;
use gpt2lab::generate::{beam_search_fn, banned_ngram_tokens, degeneration_penalty, BeamConfig, ContrastiveConfig, GenerateConfig};
use gpt2lab::metrics::last_hidden_states;
use gpt2lab::model::{Gpt2, Gpt2Config};

fn tiny(seed: u64) -> Gpt2 {
    Gpt2::random(Gpt2Config::tiny(97, 48, 32, 2, 4), seed, &Device::Cpu).unwrap()
}

fn prompts() -> Vec<Vec<u32>> {
    vec![vec![1, 2, 3], vec![5], vec![10, 20, 30, 40, 50], vec![7, 7, 8, 9]]
}

fn has_repeated_ngram(seq: &[u32], n: usize) -> bool {
    let mut seen = std::collections::HashSet::new();
    seq.windows(n).any(|w| !seen.insert(w.to_vec()))
}

// ---------- beam search ----------

#[test]
fn beam_width_1_is_greedy() {
    for seed in [0, 1, 2] {
        let m = tiny(seed);
        for p in prompts() {
            let greedy = m.generate(&p, &GenerateConfig::greedy(30)).unwrap();
            let beam = m.beam_search(&p, &BeamConfig::new(1, 30)).unwrap();
            assert_eq!(beam.tokens(), greedy.as_slice(), "seed {seed}, prompt {p:?}");
            assert_eq!(beam.hypotheses.len(), 1);
        }
    }
}

#[test]
fn beam_scores_are_sorted_and_match_the_model() {
    let m = tiny(3);
    for p in prompts() {
        for lp in [0.0, 1.0, 2.0] {
            let cfg = BeamConfig::new(4, 12).length_penalty(lp);
            let out = m.beam_search(&p, &cfg).unwrap();
            assert_eq!(out.hypotheses.len(), 4);
            for w in out.hypotheses.windows(2) {
                assert!(w[0].score >= w[1].score, "scores must be non-increasing: {} then {}", w[0].score, w[1].score);
            }
            for h in &out.hypotheses {
                // a hypothesis' total log-probability is what the model gives its tokens
                let direct: f64 = m.score_continuation(&p, &h.tokens).unwrap().iter().map(|&x| x as f64).sum();
                assert!((direct - h.sum_logprobs).abs() < 1e-3, "{direct} vs {}", h.sum_logprobs);
                assert!((h.score - h.sum_logprobs / (h.tokens.len() as f64).powf(lp)).abs() < 1e-9);
                assert_eq!(h.tokens.len(), 12);
            }
        }
        // with α = 0 the best beam is at least as likely as the greedy sequence
        let greedy = m.generate(&p, &GenerateConfig::greedy(12)).unwrap();
        let g: f64 = m.score_continuation(&p, &greedy).unwrap().iter().map(|&x| x as f64).sum();
        let best = m.beam_search(&p, &BeamConfig::new(4, 12).length_penalty(0.0)).unwrap();
        assert!(best.best().sum_logprobs >= g - 1e-4, "beam {} < greedy {g}", best.best().sum_logprobs);
    }
}

#[test]
fn no_repeat_ngram_2_leaves_no_repeated_bigram() {
    let m = tiny(4);
    let mut greedy_repeats = 0;
    for p in prompts() {
        let greedy = m.generate(&p, &GenerateConfig::greedy(40)).unwrap();
        greedy_repeats += has_repeated_ngram(&[p.clone(), greedy].concat(), 2) as usize;
        for beams in [1, 3] {
            let out = m.beam_search(&p, &BeamConfig::new(beams, 40).no_repeat_ngram_size(2)).unwrap();
            for h in &out.hypotheses {
                let all = [p.clone(), h.tokens.clone()].concat();
                assert!(!has_repeated_ngram(&all, 2), "beams {beams}: repeated bigram in {all:?}");
            }
        }
    }
    assert!(greedy_repeats > 0, "the test needs a model whose greedy output repeats a bigram");
}

#[test]
fn banned_ngrams_by_hand() {
    assert_eq!(banned_ngram_tokens(&[4, 5, 6, 4], 2), vec![5]);
    assert_eq!(banned_ngram_tokens(&[4, 5, 4, 6, 4], 2), vec![5, 6]);
    assert_eq!(banned_ngram_tokens(&[1, 2, 3, 1, 2], 3), vec![3]);
    assert!(banned_ngram_tokens(&[1, 2, 3], 4).is_empty());
}

/// Next-token log-probabilities that depend on the last token only.
/// Token 0 is EOS; start (2): EOS 0.4, "1" 0.6; after "1": EOS 0.3, "1" 0.7.
fn markov(seq: &[u32]) -> Vec<f32> {
    let ninf = f32::NEG_INFINITY;
    match seq.last() {
        Some(1) => vec![0.3f32.ln(), 0.7f32.ln(), ninf],
        _ => vec![0.4f32.ln(), 0.6f32.ln(), ninf],
    }
}

#[test]
fn beam_search_hand_checked() {
    let ln = |x: f64| x.ln();
    let close = |a: f64, b: f64| (a - b).abs() < 1e-6;
    // greedy is worse than a 2-beam search that looks one step further (doc example)
    let table = |seq: &[u32]| -> Vec<f32> {
        match seq.last() {
            Some(0) => vec![f32::NEG_INFINITY, 0.6f32.ln(), 0.4f32.ln()],
            Some(1) => vec![0.5f32.ln(), 0.5f32.ln(), f32::NEG_INFINITY],
            _ => vec![f32::NEG_INFINITY, f32::NEG_INFINITY, 0.0],
        }
    };
    let g = beam_search_fn(&[0], &BeamConfig::new(1, 2).length_penalty(0.0), table).unwrap();
    assert_eq!(g.tokens(), &[1, 0]);
    assert!(close(g.best().sum_logprobs, ln(0.3)));
    let b = beam_search_fn(&[0], &BeamConfig::new(2, 2).length_penalty(0.0), table).unwrap();
    assert_eq!(b.tokens(), &[2, 2]);
    assert!(close(b.best().sum_logprobs, ln(0.4)));
    assert_eq!(b.hypotheses[1].tokens, vec![1, 0]); // 0.3 beats [1, 1] only by tie order: both 0.3
    assert!(close(b.hypotheses[1].sum_logprobs, ln(0.3)));

    // EOS and the length penalty, 2 beams, 3 new tokens, EOS = 0:
    // finished: [0] p=.4, [1 0] p=.18, [1 1 0] p=.126; running at the end: [1 1 1] p=.294
    let cfg = BeamConfig::new(2, 3).eos(0);
    // α = 0: total log-prob decides → [0] (.4), then [1 1 1] (.294)
    let out = beam_search_fn(&[2], &cfg.clone().length_penalty(0.0), markov).unwrap();
    let toks: Vec<_> = out.hypotheses.iter().map(|h| h.tokens.clone()).collect();
    assert_eq!(toks, vec![vec![0], vec![1, 1, 1]]);
    assert!(out.hypotheses[0].finished && !out.hypotheses[1].finished);
    assert!(close(out.hypotheses[0].score, ln(0.4)) && close(out.hypotheses[1].score, ln(0.294)));
    // α = 1: per-token log-prob decides → [1 1 1] (ln .294 / 3 = −0.408), [1 1 0] (ln .126 / 3 = −0.690)
    let out = beam_search_fn(&[2], &cfg.clone().length_penalty(1.0), markov).unwrap();
    let toks: Vec<_> = out.hypotheses.iter().map(|h| h.tokens.clone()).collect();
    assert_eq!(toks, vec![vec![1, 1, 1], vec![1, 1, 0]]);
    assert!(close(out.hypotheses[0].score, ln(0.294) / 3.0) && close(out.hypotheses[1].score, ln(0.126) / 3.0));
    // early stopping: done once 2 hypotheses finished (after step 2): [1 0] (−0.857) and [0] (−0.916)
    let out = beam_search_fn(&[2], &cfg.length_penalty(1.0).early_stopping(true), markov).unwrap();
    let toks: Vec<_> = out.hypotheses.iter().map(|h| h.tokens.clone()).collect();
    assert_eq!(toks, vec![vec![1, 0], vec![0]]);
    assert!(close(out.hypotheses[0].score, ln(0.18) / 2.0));
}

#[test]
fn beam_batch_equals_single_prompts() {
    let m = tiny(5);
    let cfg = BeamConfig::new(3, 15).no_repeat_ngram_size(3);
    let batch = m.beam_search_batch(&prompts(), &cfg).unwrap();
    for (p, b) in prompts().iter().zip(&batch) {
        let single = m.beam_search(p, &cfg).unwrap();
        let bt: Vec<_> = b.hypotheses.iter().map(|h| &h.tokens).collect();
        let st: Vec<_> = single.hypotheses.iter().map(|h| &h.tokens).collect();
        assert_eq!(bt, st, "prompt {p:?}");
    }
}

#[test]
fn beam_search_stops_at_eos_on_a_model() {
    let m = tiny(6);
    let p = vec![3, 4, 5];
    // make the greedy first token the EOS: every hypothesis may end early, none runs past it
    let first = m.generate(&p, &GenerateConfig::greedy(1)).unwrap()[0];
    // with α = 0 the one-token hypothesis [EOS] (log p ≈ −4.6) beats every 10-token one
    let out = m.beam_search(&p, &BeamConfig::new(2, 10).eos(first).length_penalty(0.0)).unwrap();
    for h in &out.hypotheses {
        let pos = h.tokens.iter().position(|&t| t == first);
        if let Some(i) = pos {
            assert_eq!(i, h.tokens.len() - 1, "EOS must end a hypothesis: {:?}", h.tokens);
            assert!(h.finished);
        }
    }
    assert!(out.best().finished && out.best().tokens == vec![first], "{:?}", out.best());
}

#[test]
fn beam_errors() {
    let m = tiny(0);
    assert!(m.beam_search(&[], &BeamConfig::new(2, 4)).is_err());
    assert!(m.beam_search(&[1], &BeamConfig::new(0, 4)).is_err());
    assert!(m.beam_search(&[1; 40], &BeamConfig::new(2, 20)).is_err()); // 60 > context 48
}

// ---------- contrastive search ----------

#[test]
fn contrastive_alpha_0_is_greedy() {
    for seed in [0, 1, 2] {
        let m = tiny(seed);
        for p in prompts() {
            let greedy = m.generate(&p, &GenerateConfig::greedy(30)).unwrap();
            for k in [2, 4, 8] {
                let cs = m.contrastive_search(&p, &ContrastiveConfig::new(k, 0.0, 30)).unwrap();
                assert_eq!(cs, greedy, "seed {seed}, k {k}, prompt {p:?}");
            }
        }
    }
}

#[test]
fn contrastive_k_1_is_greedy() {
    let m = tiny(7);
    for p in prompts() {
        let greedy = m.generate(&p, &GenerateConfig::greedy(30)).unwrap();
        assert_eq!(m.contrastive_search(&p, &ContrastiveConfig::new(1, 0.6, 30)).unwrap(), greedy);
    }
}

#[test]
fn contrastive_is_deterministic_and_batch_invariant() {
    let m = tiny(8);
    let cfg = ContrastiveConfig::new(4, 0.6, 25);
    let a = m.contrastive_search_batch(&prompts(), &cfg).unwrap();
    assert_eq!(a, m.contrastive_search_batch(&prompts(), &cfg).unwrap());
    for (p, row) in prompts().iter().zip(&a) {
        assert_eq!(&m.contrastive_search(p, &cfg).unwrap(), row, "prompt {p:?}");
        assert_eq!(row.len(), 25);
    }
}

#[test]
fn contrastive_penalty_changes_and_reduces_repetition() {
    let m = tiny(4);
    let (mut differ, mut rep_g, mut rep_c) = (0, 0usize, 0usize);
    for p in prompts() {
        let greedy = m.generate(&p, &GenerateConfig::greedy(40)).unwrap();
        let cs = m.contrastive_search(&p, &ContrastiveConfig::new(5, 0.6, 40)).unwrap();
        differ += (cs != greedy) as usize;
        let reps = |s: &[u32]| s.windows(2).count() - s.windows(2).collect::<std::collections::HashSet<_>>().len();
        rep_g += reps(&greedy);
        rep_c += reps(&cs);
    }
    assert!(differ > 0, "α = 0.6 should change some output");
    assert!(rep_c < rep_g, "repeated bigrams: contrastive {rep_c}, greedy {rep_g}");
}

#[test]
fn contrastive_trace_matches_the_definition() {
    let m = tiny(9);
    let ps = prompts();
    let cfg = ContrastiveConfig::new(4, 0.6, 6);
    let out = m.contrastive_search_traced(&ps, &cfg).unwrap();
    assert_eq!(out.steps.len(), ps.len() * 6);
    for s in &out.steps {
        assert_eq!(s.candidates.len(), 4);
        assert!(s.model_confidence.windows(2).all(|w| w[0] >= w[1]), "candidates are the most likely first");
        assert!(s.model_confidence.iter().sum::<f32>() <= 1.0 + 1e-5);
        assert!(s.degeneration_penalty.iter().all(|&c| (-1.0 - 1e-5..=1.0 + 1e-5).contains(&c)));
        let best = s.score.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        assert_eq!(s.score[s.chosen], best);
        assert_eq!(out.tokens[s.row][s.step], s.candidates[s.chosen]);
        // recompute the penalty without the cache: representations of context + candidate
        let ctx: Vec<u32> = ps[s.row].iter().chain(&out.tokens[s.row][..s.step]).copied().collect();
        for (c, &pen) in s.candidates.iter().zip(&s.degeneration_penalty) {
            let all: Vec<u32> = ctx.iter().copied().chain([*c]).collect();
            let h: Vec<Vec<f32>> = last_hidden_states(&m, &all).unwrap().to_vec2().unwrap();
            let direct = degeneration_penalty(&h[..ctx.len()], &h[ctx.len()]);
            assert!((direct - pen).abs() < 1e-4, "row {} step {}: {direct} vs {pen}", s.row, s.step);
        }
        // and the confidences are the model's probabilities
        let lp = m.score_continuation(&ctx, &[s.candidates[0]]).unwrap()[0];
        assert!((lp.exp() - s.model_confidence[0]).abs() < 1e-4);
    }
}

#[test]
fn contrastive_stops_and_errors() {
    let m = tiny(10);
    let p = vec![1, 2, 3];
    let full = m.contrastive_search(&p, &ContrastiveConfig::new(3, 0.5, 20)).unwrap();
    let stop = full[5];
    let cut = m.contrastive_search(&p, &ContrastiveConfig::new(3, 0.5, 20).stop_at(&[stop])).unwrap();
    let first = full.iter().position(|&t| t == stop).unwrap();
    assert_eq!(cut, full[..=first].to_vec());
    assert!(m.contrastive_search(&p, &ContrastiveConfig::new(0, 0.5, 5)).is_err());
    assert!(m.contrastive_search(&p, &ContrastiveConfig::new(3, 1.5, 5)).is_err());
    assert!(m.contrastive_search(&[], &ContrastiveConfig::new(3, 0.5, 5)).is_err());
    assert!(m.contrastive_search(&[1; 40], &ContrastiveConfig::new(3, 0.5, 20)).is_err());
}

// ---------- beam search on degenerate distributions: an error or a result, never a panic ----------

#[test]
fn beam_search_with_every_continuation_banned_returns_the_cut_hypothesis() {
    // a one-token vocabulary and the bigram (0, 0) already in the prompt: nothing can follow
    let out = beam_search_fn(&[0, 0], &BeamConfig::new(2, 5).no_repeat_ngram_size(2), |_| vec![0.0]).unwrap();
    assert_eq!(out.hypotheses.len(), 1);
    assert_eq!(out.best().tokens, Vec::<u32>::new());
    assert!(!out.best().finished);
    // two tokens, no token twice: 1 is the only first token, then nothing is allowed
    let out = beam_search_fn(&[0], &BeamConfig::new(3, 5).no_repeat_ngram_size(1), |_| vec![0.0, 0.0]).unwrap();
    assert_eq!(out.tokens(), &[1]);
    assert!(!out.best().finished);
    // every logit -inf from the start
    let out = beam_search_fn(&[0], &BeamConfig::new(2, 3), |_| vec![f32::NEG_INFINITY; 4]).unwrap();
    assert_eq!(out.tokens(), &[] as &[u32]);
    // an empty distribution
    let out = beam_search_fn(&[0], &BeamConfig::new(2, 3), |_| vec![]).unwrap();
    assert_eq!(out.hypotheses.len(), 1);
}

#[test]
fn beam_search_on_nan_or_inf_logits_is_a_typed_error() {
    use gpt2lab::Error;
    for bad in [f32::NAN, f32::INFINITY] {
        let e = beam_search_fn(&[0], &BeamConfig::new(2, 3), |_| vec![0.0, bad, 1.0]).unwrap_err();
        assert!(matches!(e, Error::NonFiniteOutput(_)), "{e}");
        // only from the second step on
        let e = beam_search_fn(&[0], &BeamConfig::new(2, 3), |s| if s.len() > 1 { vec![bad; 3] } else { vec![0.0, 1.0, 2.0] }).unwrap_err();
        assert!(matches!(e, Error::NonFiniteOutput(_)), "{e}");
    }
    // a model with a NaN weight (built from tensors on purpose)
    let m = tiny(3);
    let mut map: std::collections::HashMap<String, candle_core::Tensor> = m.named_tensors().into_iter().collect();
    let t = &map["h.0.mlp.c_fc.bias"];
    let v = vec![f32::NAN; t.elem_count()];
    map.insert("h.0.mlp.c_fc.bias".into(), candle_core::Tensor::from_vec(v, t.shape(), &Device::Cpu).unwrap());
    let bad = Gpt2::from_tensors(m.cfg.clone(), &map).unwrap();
    assert!(matches!(bad.beam_search(&[1, 2], &BeamConfig::new(2, 4)), Err(Error::NonFiniteOutput(_))));
}
