//! interp::frequency_tagging and papers::hftp (notebook 18): the spectrum against numpy's rfft
//! and Benjamini–Hochberg against statsmodels' `fdr_bh` (fixture from
//! `scripts/make_hftp_fixtures.py`), planted rhythms recovered at the right bins and nowhere
//! else, the lexical residual on a purely lexical unit, word averaging over sub-tokens against a
//! direct cached run, typed errors, and the full-scale path (GPT-2 tokenizer, English stream,
//! paper sizes) end to end on a random-weight GPT-2 saved in the HF layout.

mod common;
use common::scratch;

use candle_core::{Device, Tensor};
use gpt2lab::data::tagging::{Condition, Lexicon, TaggingStreams};
use gpt2lab::interp::frequency_tagging::*;
use gpt2lab::model::{Gpt2, Gpt2Config};
use gpt2lab::papers::hftp;
use gpt2lab::tokenizer::Gpt2Tokenizer;
use gpt2lab::Error;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn reference() -> serde_json::Value {
    let p =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hftp/reference.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}
fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn spectrum_matches_numpy_rfft() {
    let r = reference();
    for s in r["spectra"].as_array().unwrap() {
        let x = floats(&s["x"]);
        let got = amplitude_spectrum(&x).unwrap();
        let want = floats(&s["amplitude"]);
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-9 * (1.0 + w.abs()), "{g} vs numpy {w}");
        }
        let freqs = rfft_freqs(x.len(), 4.0);
        for (g, w) in freqs.iter().zip(floats(&s["freqs"])) {
            assert!((g - w).abs() < 1e-12);
        }
    }
}

#[test]
fn benjamini_hochberg_matches_statsmodels_fdr_bh() {
    let r = reference();
    let p = floats(&r["bh"]["p"]);
    let adj = benjamini_hochberg(&p).unwrap();
    for (g, w) in adj.iter().zip(floats(&r["bh"]["adjusted"])) {
        assert!((g - w).abs() < 1e-12, "{g} vs statsmodels {w}");
    }
    let want: Vec<bool> = r["bh"]["reject"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_bool().unwrap())
        .collect();
    assert_eq!(fdr_reject(&p, 0.05).unwrap(), want);
    assert!(want.iter().any(|&b| b) && want.iter().any(|&b| !b));
    assert!(matches!(
        benjamini_hochberg(&[0.1, 1.5]),
        Err(Error::Data(_))
    ));
    assert!(matches!(
        benjamini_hochberg(&[f64::NAN]),
        Err(Error::Data(_))
    ));
}

/// Activations with `n_words` per trial, `trials` trials, built from `f(trial, word, unit)`.
fn planted(
    trials: usize,
    n_words: usize,
    width: usize,
    f: impl Fn(usize, usize, usize) -> f32,
) -> WordActivations {
    let mut d = vec![];
    for t in 0..trials {
        for w in 0..n_words {
            for u in 0..width {
                d.push(f(t, w, u));
            }
        }
    }
    WordActivations {
        hook: "mlp.hook_pre".into(),
        n_trials: trials,
        n_words,
        width,
        data: vec![d],
    }
}

#[test]
fn planted_rhythms_are_recovered_at_their_bins_only() {
    // unit 0: 1 Hz (period 4 words); unit 1: 2 Hz (period 2); units 2..40: noise only
    let noise: Vec<f32> = {
        let mut rng = StdRng::seed_from_u64(7);
        (0..10 * 120 * 40)
            .map(|_| rng.random_range(-1.0f32..1.0))
            .collect()
    };
    let acts = planted(10, 120, 40, |t, w, u| {
        let n = noise[(t * 120 + w) * 40 + u];
        match u {
            0 => (2.0 * std::f32::consts::PI * w as f32 / 4.0).cos() + n,
            1 => (if w % 2 == 0 { 0.8 } else { -0.8 }) + n,
            _ => n,
        }
    });
    let rates = Rates::paper();
    let (sb, pb) = (
        tagging_bin(rates.sentence_hz, 120, 4.0).unwrap(),
        tagging_bin(rates.phrase_hz, 120, 4.0).unwrap(),
    );
    assert_eq!((sb, pb), (30, 60));
    for (u, bin) in [(0, sb), (1, pb)] {
        let s = amplitude_spectrum(&acts.trial_mean(0, u)).unwrap();
        let argmax = (0..s.len()).max_by(|&a, &b| s[a].total_cmp(&s[b])).unwrap();
        assert_eq!(argmax, bin, "unit {u}");
        assert!(peak_snr(&s, bin, 3) > 5.0);
    }
    let cfg = HftpConfig {
        n_perm: 2000, // BH over 40 units rejects a lone rhythm only when 1 / (n_perm + 1) < 0.05 / 40
        ..HftpConfig::paper(3)
    };
    let l = &hftp(&acts, &cfg).unwrap()[0];
    assert!(l.sentence_sig[0] && !l.phrase_sig[0]);
    assert!(l.phrase_sig[1] && !l.sentence_sig[1]);
    let false_pos = (2..40)
        .filter(|&u| l.sentence_sig[u] || l.phrase_sig[u])
        .count();
    assert!(false_pos <= 1, "{false_pos} noise units tagged");
    // the smallest possible permutation p-value is 1 / (n_perm + 1)
    assert!((l.sentence_p[0] - 1.0 / 2001.0).abs() < 1e-12);
    // same seed, same numbers
    assert_eq!(hftp(&acts, &cfg).unwrap()[0].sentence_p, l.sentence_p);
    let (s_only, p_only, both) = l.proportions();
    assert!(s_only >= 1.0 / 40.0 && p_only >= 1.0 / 40.0 && both <= 1.0 / 40.0);
}

#[test]
fn lexical_residual_removes_a_purely_lexical_unit_and_keeps_context() {
    let mut g = TaggingStreams::new(Lexicon::synthetic(4).unwrap(), 1).unwrap();
    let set = g.sentence_set(10);
    let words = g.trials(&set, 3, 8, Condition::Structured).unwrap();
    // unit 0 = a function of the word; unit 1 = the same plus a position-in-sentence term
    let acts = planted(3, 32, 2, |t, w, u| {
        words[t][w] as f32 * 0.3 + if u == 1 && w % 4 == 3 { 1.0 } else { 0.0 }
    });
    let r = acts.lexical_residual(&words).unwrap();
    let row = |u: usize| {
        (0..3 * 32)
            .map(|i| r.data[0][i * 2 + u])
            .collect::<Vec<f32>>()
    };
    assert!(row(0).iter().all(|v| v.abs() < 1e-5));
    // nouns sit at positions 1 and 3: the object-noun bump survives, above each noun's mean at
    // position 3 and below it at position 1
    let at = |k: usize| {
        let v: Vec<f32> = row(1)
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 32 % 4 == k)
            .map(|(_, &v)| v)
            .collect();
        v.iter().sum::<f32>() / v.len() as f32
    };
    assert!(at(3) > 0.2 && at(1) < -0.2, "{} {}", at(3), at(1));
    assert!(at(0).abs() < 1e-5 && at(2).abs() < 1e-5);
    assert!(matches!(
        acts.lexical_residual(&words[..2]),
        Err(Error::Shape(_))
    ));
}

#[test]
fn word_activations_average_sub_tokens_and_bad_input_is_typed() {
    let model = Gpt2::random(Gpt2Config::tiny(20, 32, 16, 2, 2), 0, &Device::Cpu).unwrap();
    // 2 trials × 4 words; word 1 of trial 0 has two tokens, so the trials differ in length
    let trials = vec![
        vec![vec![3], vec![4, 5], vec![6], vec![7]],
        vec![vec![8], vec![9], vec![10], vec![11]],
    ];
    let acts = word_activations(&model, &trials, Some(0), "mlp.hook_post").unwrap();
    assert_eq!(
        (acts.n_trials, acts.n_words, acts.width, acts.n_layers()),
        (2, 4, 64, 2)
    );
    let ids = Tensor::new(&[[0u32, 3, 4, 5, 6, 7]], &Device::Cpu).unwrap();
    let run = model.run_with_cache(&ids).unwrap();
    let post: Vec<Vec<f32>> = run
        .cache
        .get("blocks.1.mlp.hook_post")
        .unwrap()
        .squeeze(0)
        .unwrap()
        .to_vec2()
        .unwrap();
    for u in 0..64 {
        let want = (post[2][u] + post[3][u]) / 2.0;
        assert!((acts.data[1][64 + u] - want).abs() < 1e-6); // trial 0, word 1
        assert!((acts.data[1][2 * 64 + u] - post[4][u]).abs() < 1e-6); // trial 0, word 2
    }
    assert!(matches!(
        word_activations(&model, &trials, Some(0), "mlp.hook_nope"),
        Err(Error::UnknownHook { .. })
    ));
    assert!(matches!(
        word_activations(&model, &[], Some(0), "mlp.hook_pre"),
        Err(Error::EmptyInput(_))
    ));
    let ragged = vec![trials[0].clone(), trials[1][..3].to_vec()];
    assert!(matches!(
        word_activations(&model, &ragged, Some(0), "mlp.hook_pre"),
        Err(Error::Shape(_))
    ));
    // a stream shorter than 4 sentence periods, a rate between bins, NaN activations
    let short = planted(2, 12, 3, |_, w, _| w as f32);
    assert!(matches!(
        hftp(&short, &HftpConfig::paper(0)),
        Err(Error::Data(_))
    ));
    assert!(matches!(tagging_bin(1.0, 122, 4.0), Err(Error::Data(_))));
    assert!(matches!(tagging_bin(3.0, 120, 4.0), Err(Error::Data(_))));
    let nan = planted(
        2,
        40,
        3,
        |_, w, u| if w == 5 && u == 1 { f32::NAN } else { 0.0 },
    );
    assert!(matches!(
        hftp(&nan, &HftpConfig::paper(0)),
        Err(Error::NonFiniteOutput(_))
    ));
    assert!(matches!(
        amplitude_spectrum(&[1.0, f64::NAN, 2.0]),
        Err(Error::NonFiniteOutput(_))
    ));
    assert!(matches!(
        amplitude_spectrum(&[1.0]),
        Err(Error::EmptyInput(_))
    ));
}

#[test]
fn the_full_scale_path_runs_on_a_random_gpt2_layout_checkpoint() {
    let dir = scratch("hftp_full");
    // GPT-2's vocabulary and HF tensor names, a tiny width: the layout of `gpt2`, not its size
    let cfg = Gpt2Config {
        bos_token_id: Some(50256),
        eos_token_id: Some(50256),
        ..Gpt2Config::tiny(50257, 256, 32, 2, 2)
    };
    Gpt2::random(cfg, 5, &Device::Cpu)
        .unwrap()
        .save_pretrained(&dir)
        .unwrap();
    let model = hftp::full_model(dir.to_str().unwrap()).unwrap();
    let tok = Gpt2Tokenizer::gpt2().unwrap();
    let st = hftp::Stimuli::english(&tok).unwrap();
    assert_eq!(st.bos, 50256);
    assert_eq!(st.word_tokens.len(), st.lexicon.len());
    // some of the English words take several GPT-2 tokens: the per-word averaging is exercised
    assert!(st.word_tokens.iter().any(|t| t.len() > 1));
    let sizes = hftp::Sizes::paper();
    assert_eq!(hftp::words_per_trial(sizes), 200);
    let probes = hftp::full_probe(&model, &tok, sizes, 0).unwrap();
    assert_eq!(probes.len(), 6);
    for p in &probes {
        assert_eq!(p.layers.len(), 2);
        assert_eq!(p.layers[0].n_units(), 128);
        assert!((0.0..=1.0).contains(&p.tagged(true)) && (0.0..=1.0).contains(&p.tagged(false)));
    }
    let sp = hftp::spectra(&model, &st, sizes, 0, 1).unwrap();
    assert_eq!(sp.len(), 3);
    assert_eq!(sp[0].1.len(), 100); // 200 words: bins 1..=100, 2 Hz at the last
    assert!((sp[0].1[99].0 - 2.0).abs() < 1e-12);
}
