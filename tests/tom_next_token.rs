//! Paper 01 (ToM next tokens): the full-scale path (GPT-2 layout, GPT-2's tokenizer, the
//! paper's skip policy) run structurally on a random-weight checkpoint saved and loaded in the
//! Hugging Face layout; the summaries against an independent computation; bad input.

use candle_core::Device;
use gpt2lab::data::text_tokenizers::{WordTokenizer, WordTokenizerConfig};
use gpt2lab::data::tom::{BeliefKind, Order, TomConfig, CONTAINERS};
use gpt2lab::interp::next_token::NextTokenDist;
use gpt2lab::model::{Gpt2, Gpt2Config};
use gpt2lab::papers::tom_next_token as tom;
use gpt2lab::tokenizer::Gpt2Tokenizer;
use gpt2lab::Error;

#[test]
fn full_scale_path_on_a_random_gpt2_layout_checkpoint() {
    let dir = std::env::temp_dir().join(format!("gpt2lab-tom-full-{}", std::process::id()));
    Gpt2::random(Gpt2Config::tiny(50257, 160, 16, 1, 2), 0, &Device::Cpu)
        .unwrap()
        .save_pretrained(&dir)
        .unwrap();
    let model = Gpt2::from_dir(&dir).unwrap();
    let tok = Gpt2Tokenizer::gpt2().unwrap();
    // every container's first GPT-2 token is its own, so first-token comparisons are well defined
    let mut firsts: Vec<u32> = CONTAINERS
        .iter()
        .map(|c| tom::answer_token(&tok, c).unwrap())
        .collect();
    firsts.sort();
    firsts.dedup();
    assert_eq!(firsts.len(), CONTAINERS.len());
    let scores = tom::full_scale_scores(&model, &tok, 0, 3).unwrap();
    assert_eq!(scores.len(), 3 * tom::INFILL_LEVELS.len() * 3);
    // the paper's policy: a prompt longer than the context is skipped and counted, never truncated
    for s in &scores {
        assert_eq!(
            s.logits.is_none(),
            s.n_tokens > 160,
            "{} tokens",
            s.n_tokens
        );
        if let Some(l) = &s.logits {
            assert_eq!(l.len(), 50257);
        }
    }
    assert!(scores
        .iter()
        .filter(|s| s.infills == 64)
        .all(|s| s.logits.is_none()));
    assert!(scores
        .iter()
        .filter(|s| s.infills == 0)
        .all(|s| s.logits.is_some()));
    let m = tom::metrics(0, "gpt2", &scores, None).unwrap();
    assert_eq!(m.get("skipped/k64").unwrap(), 9.0);
    assert!(m.get("greedy_acc/all/k64").is_err()); // nothing scored at 64: no accuracy, not a 0
    let (inv, mono, n) = tom::temperature_identities(&scores).unwrap();
    assert_eq!((inv, mono), (n, n));
    // batched scoring equals one prompt at a time
    let prompts = tom::eval_prompts(0, TomConfig::ci(), 3, &tom::INFILL_LEVELS).unwrap();
    let one = tom::score(&model, &tok, None, &prompts[..1], 1).unwrap();
    let a = one[0].logits.as_ref().unwrap();
    let b = scores[0].logits.as_ref().unwrap();
    assert!(a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-4));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `summarise` against the distribution computed prompt by prompt, by hand.
#[test]
fn summaries_match_an_independent_computation() {
    let tok = tom::tokenizer();
    let model = tom::untrained(3).unwrap();
    let prompts = tom::eval_prompts(3, TomConfig::ci(), 8, &[0, 4]).unwrap();
    assert_eq!(prompts.len(), 8 * 2 * 3);
    // one question per order and story, the same at every infill level
    assert_eq!(prompts[0].question, prompts[3].question);
    assert_eq!((prompts[0].infills, prompts[3].infills), (0, 4));
    let scores = tom::score(&model, &tok, Some(tok.eos_id()), &prompts, 5).unwrap();
    let sel = tom::Select::order(Order::First).infills(0);
    for (t, k) in [(0.5, None), (1.0, Some(2)), (2.0, Some(5))] {
        let s = tom::summarise(&scores, sel, t, k).unwrap();
        let (mut n, mut pc, mut pi) = (0.0, 0.0, 0.0);
        for (p, x) in prompts.iter().zip(&scores) {
            if p.order != Order::First || p.infills != 0 {
                continue;
            }
            let l = x.logits.as_ref().unwrap();
            // softmax(z/T) over the top k, written out
            let mut idx: Vec<usize> = (0..l.len()).collect();
            idx.sort_by(|&a, &b| l[b].total_cmp(&l[a]));
            idx.truncate(k.unwrap_or(l.len()));
            let z: f64 = idx.iter().map(|&i| ((l[i] / t as f32) as f64).exp()).sum();
            let p_of = |w: &str| {
                let id = tok.id_of(w).unwrap() as usize;
                if idx.contains(&id) {
                    ((l[id] / t as f32) as f64).exp() / z
                } else {
                    0.0
                }
            };
            n += 1.0;
            pc += p_of(p.consistent);
            pi += p_of(p.inconsistent);
        }
        assert_eq!(s.n as f64, n);
        assert!(
            (s.p_consistent - pc / n).abs() < 1e-9 && (s.p_inconsistent - pi / n).abs() < 1e-9,
            "T {t} k {k:?}"
        );
    }
    // a summary's greedy accuracy does not depend on T (the paper's chosen token is the argmax)
    let g: Vec<f64> = tom::TEMPERATURES
        .iter()
        .map(|&t| {
            tom::summarise(&scores, tom::Select::default(), t, None)
                .unwrap()
                .greedy_acc
        })
        .collect();
    assert!(g.windows(2).all(|w| w[0] == w[1]), "{g:?}");
    let kinds = tom::summarise(
        &scores,
        tom::Select::order(Order::Zero).kind(BeliefKind::State),
        1.0,
        None,
    )
    .unwrap();
    assert_eq!(kinds.n, 16);
    let d = NextTokenDist::new(scores[0].logits.as_ref().unwrap(), 1.0, None).unwrap();
    assert!((d.probs.iter().sum::<f64>() - 1.0).abs() < 1e-9);
}

#[test]
fn bad_input_is_typed() {
    let tok = tom::tokenizer();
    let model = tom::untrained(0).unwrap();
    assert!(matches!(
        tom::score(&model, &tok, None, &[], 4),
        Err(Error::EmptyInput(_))
    ));
    let prompts = tom::eval_prompts(0, TomConfig::ci(), 2, &[0]).unwrap();
    let scores = tom::score(&model, &tok, Some(0), &prompts, 4).unwrap();
    // no prompt with 16 infills was scored
    assert!(matches!(
        tom::summarise(&scores, tom::Select::default().infills(16), 1.0, None),
        Err(Error::EmptyInput(_))
    ));
    assert!(tom::summarise(&scores, tom::Select::default(), -1.0, None).is_err());
    // a tokenizer that does not know the containers maps them all to <unk>: a typed error, not a
    // comparison of <unk> with itself
    let blind = WordTokenizer::fit(
        "Sally Anne enters the room",
        &WordTokenizerConfig::default(),
    );
    assert!(matches!(
        tom::score(&model, &blind, None, &prompts, 4),
        Err(Error::Tokenizer(_))
    ));
    assert!(matches!(
        tom::eval_prompts(
            0,
            TomConfig {
                n_agents: 1,
                ..TomConfig::ci()
            },
            2,
            &[0]
        ),
        Err(Error::ConfigField { .. })
    ));
}
