//! gpt2lab::metrics::text against sacrebleu, rouge-score and pycocoevalcap on fixed strings
//! (tests/fixtures/text_metrics/expected.json, by scripts/make_text_metric_fixture.py).

use gpt2lab::metrics::text::*;

#[test]
fn bleu_rouge_cider_match_the_reference_packages() {
    let p = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/text_metrics/expected.json");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    let hyps: Vec<String> = serde_json::from_value(v["hyps"].clone()).unwrap();
    let refs: Vec<Vec<String>> = serde_json::from_value(v["refs"].clone()).unwrap();
    let b = bleu(&hyps, &refs).unwrap();
    assert!((b - v["bleu"].as_f64().unwrap()).abs() < 1e-9, "BLEU {b} vs sacrebleu {}", v["bleu"]);
    let single: Vec<Vec<String>> = refs.iter().map(|r| vec![r[0].clone()]).collect();
    let b1 = bleu(&hyps, &single).unwrap();
    assert!((b1 - v["bleu_single"].as_f64().unwrap()).abs() < 1e-9, "BLEU {b1} vs sacrebleu {}", v["bleu_single"]);
    let want: Vec<f64> = serde_json::from_value(v["rouge_l"].clone()).unwrap();
    for (i, (h, r)) in hyps.iter().zip(&refs).enumerate() {
        let got = rouge_l_sentence(h, r);
        assert!((got - want[i]).abs() < 1e-12, "ROUGE-L sentence {i}: {got} vs {}", want[i]);
    }
    assert!((rouge_l(&hyps, &refs).unwrap() - want.iter().sum::<f64>() / want.len() as f64).abs() < 1e-12);
    let per: Vec<f64> = serde_json::from_value(v["cider_sentences"].clone()).unwrap();
    let got = cider_sentences(&hyps, &refs).unwrap();
    for (i, (g, w)) in got.iter().zip(&per).enumerate() {
        assert!((g - w).abs() < 1e-9, "CIDEr sentence {i}: {g} vs {w}");
    }
    assert!((cider(&hyps, &refs).unwrap() - v["cider"].as_f64().unwrap()).abs() < 1e-9);
    // a perfect hypothesis scores BLEU 100
    assert!((bleu(&[refs[0][0].clone()], &[refs[0].clone()]).unwrap() - 100.0).abs() < 1e-9);
}

#[test]
fn bad_corpora_are_typed_errors() {
    assert!(bleu(&[], &[]).is_err());
    assert!(bleu(&["a".into()], &[]).is_err());
    assert!(rouge_l(&["a".into()], &[vec![]]).is_err());
    assert!(cider(&["a".into(), "b".into()], &[vec!["a".into()]]).is_err());
    assert_eq!(bleu(&["".into()], &[vec!["a b".into()]]).unwrap(), 0.0);
}
