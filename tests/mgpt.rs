//! mGPT: tokenizer strategies against the Python `tokenizers` trainer
//! (`scripts/make_mgpt_fixtures.py`), the k-shot scorer against a hand computation from the
//! logits, and the full-scale path (a GPT-2-layout checkpoint of mGPT's shape, scaled down, with a
//! vocab.json + merges.txt tokenizer and XNLI-format TSV data) run structurally.

use std::collections::HashMap;

use candle_core::{Device, Tensor};
use gpt2lab::data::{BpeTokenizer, Strategy, StrategyConfig, StrategyTokenizer};
use gpt2lab::eval::fewshot::*;
use gpt2lab::model::{Gpt2, Gpt2Config};
use gpt2lab::papers::mgpt;
use serde_json::Value;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/fixtures/mgpt/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn lines(name: &str) -> Vec<String> {
    fixture(name).lines().map(String::from).collect()
}

fn vocab_and_merges(json: &str) -> (HashMap<String, u64>, Vec<Value>) {
    let v: Value = serde_json::from_str(json).unwrap();
    let vocab = v["model"]["vocab"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, x)| (k.clone(), x.as_u64().unwrap()))
        .collect();
    (vocab, v["model"]["merges"].as_array().unwrap().clone())
}

fn same_as_python(ours: &StrategyTokenizer, reference: &str) {
    let (v_ref, m_ref) = vocab_and_merges(&fixture(reference));
    let (v, m) = vocab_and_merges(&ours.bpe.to_json().unwrap());
    assert_eq!(v.len(), v_ref.len());
    assert_eq!(v, v_ref, "{reference}: vocabulary");
    assert_eq!(m, m_ref, "{reference}: merges");
}

#[test]
fn digit_split_bpe_matches_the_python_trainer() {
    let cfg = StrategyConfig {
        vocab_size: 300,
        ..Default::default()
    };
    let tok = StrategyTokenizer::train(Strategy::DigitSplitBpe, &[lines("corpus.txt")], &cfg).unwrap();
    same_as_python(&tok, "digits_tokenizer.json");
    // and no merge holds a digit next to anything
    let (_, merges) = vocab_and_merges(&tok.bpe.to_json().unwrap());
    assert!(merges.iter().all(|m| !m.to_string().chars().any(|c| c.is_ascii_digit())));
}

#[test]
fn case_marked_bpe_matches_the_python_trainer_on_independently_marked_text() {
    let corpus = lines("corpus.txt");
    let marked: Vec<String> = corpus.iter().map(|l| gpt2lab::data::mark_case(l).unwrap()).collect();
    assert_eq!(marked, lines("cased_corpus.txt"));
    let cfg = StrategyConfig {
        vocab_size: 320,
        ..Default::default()
    };
    let tok = StrategyTokenizer::train(Strategy::CaseMarkedBpe, &[corpus.clone()], &cfg).unwrap();
    same_as_python(&tok, "cased_tokenizer.json");
    for l in corpus.iter().take(20) {
        assert_eq!(&tok.decode(&tok.encode(l).unwrap()).unwrap(), l);
    }
}

#[test]
fn temperature_shares_match_numpy() {
    let f: Value = serde_json::from_str(&fixture("shares.json")).unwrap();
    let counts: Vec<usize> = f["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap() as usize)
        .collect();
    for (a, want) in f["shares"].as_object().unwrap() {
        let got = gpt2lab::data::temperature_shares(&counts, a.parse().unwrap()).unwrap();
        for (g, w) in got.iter().zip(want.as_array().unwrap()) {
            assert!((g - w.as_f64().unwrap()).abs() < 1e-12, "α {a}: {got:?} vs {want}");
        }
    }
}

/// The summed loss from the logits by hand, in f64.
fn hand_loss(model: &Gpt2, ids: &[u32]) -> f64 {
    let x = Tensor::from_vec(ids.to_vec(), (1, ids.len()), &Device::Cpu).unwrap();
    let logits: Vec<Vec<f32>> = model.forward(&x).unwrap().squeeze(0).unwrap().to_vec2().unwrap();
    (1..ids.len())
        .map(|t| {
            let row = &logits[t - 1];
            let mx = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
            let lse = mx + row.iter().map(|&v| (v as f64 - mx).exp()).sum::<f64>().ln();
            lse - row[ids[t] as usize] as f64
        })
        .sum()
}

#[test]
fn the_scorer_sums_token_losses_and_takes_the_argmin() {
    let texts: Vec<String> = (0..200)
        .map(|i| format!("the dog {} the cat → {}", ["sees", "saw"][i % 2], ["pa", "ne"][i % 2]))
        .collect();
    let tok = BpeTokenizer::train(&texts, 270).unwrap();
    let model = Gpt2::random(Gpt2Config::tiny(270, 64, 32, 2, 2), 3, &Device::Cpu).unwrap();
    let v = Verbalizer::Suffix {
        sep: " →".into(),
        labels: vec!["pa".into(), "ne".into(), "zo".into()],
    };
    let test: Vec<Example> = ["the dog saw the cat", "the cat sees a dog", "a dog"]
        .iter()
        .enumerate()
        .map(|(i, t)| Example::single(*t, i % 3))
        .collect();
    let pool: Vec<Example> = (0..6).map(|i| Example::single(format!("dog {i}"), i % 3)).collect();
    for k in [0, 2] {
        let r = evaluate_fewshot(
            &model,
            &tok,
            &v,
            &test,
            &pool,
            &FewShotConfig {
                k,
                max_tokens: 64,
                seed: 5,
                batch_size: 2,
            },
        )
        .unwrap();
        // the same demonstrations, rebuilt with the same seed
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(5);
        let bal = balanced_pool(&pool, 3).unwrap();
        let mut correct = 0;
        for (i, ex) in test.iter().enumerate() {
            let demos = demonstrations(&v, &bal, k, &mut rng).unwrap();
            let hand: Vec<f64> = (0..3)
                .map(|l| hand_loss(&model, &tok.encode(&(demos.clone() + &v.verbalize(ex, l).unwrap())).unwrap()))
                .collect();
            for l in 0..3 {
                assert!(
                    (r.scores[i][l] - hand[l]).abs() < 1e-3 * hand[l].abs().max(1.0),
                    "k {k} ex {i} label {l}: {} vs {}",
                    r.scores[i][l],
                    hand[l]
                );
            }
            let best = (0..3).min_by(|&a, &b| hand[a].partial_cmp(&hand[b]).unwrap()).unwrap();
            assert_eq!(r.predictions[i], best);
            correct += (best == ex.label) as usize;
        }
        assert_eq!(r.accuracy, correct as f64 / 3.0);
    }
    // a pool lacking a label, k larger than the pool, no test data: typed errors
    let one_label: Vec<Example> = (0..4).map(|i| Example::single(format!("x{i}"), 0)).collect();
    let cfg = FewShotConfig {
        k: 1,
        max_tokens: 64,
        seed: 0,
        batch_size: 2,
    };
    assert!(evaluate_fewshot(&model, &tok, &v, &test, &one_label, &cfg).is_err());
    assert!(evaluate_fewshot(&model, &tok, &v, &test, &pool, &FewShotConfig { k: 7, ..cfg.clone() }).is_err());
    assert!(evaluate_fewshot(&model, &tok, &v, &[], &pool, &cfg).is_err());
    // a candidate longer than the context cannot be truncated into it
    let long = vec![Example::single("the dog saw the cat ".repeat(30), 0)];
    assert!(matches!(
        evaluate_fewshot(&model, &tok, &v, &long, &pool, &cfg),
        Err(gpt2lab::Error::PromptTooLong { .. })
    ));
}

/// XNLI-1.0's TSV layout (a few columns of it), two languages.
const XNLI_TSV: &str = "language\tgold_label\tsentence1_binary_parse\tsentence1\tsentence2\n\
en\tentailment\t-\tThe dog runs .\tAn animal moves .\n\
en\tcontradiction\t-\tThe cat sleeps .\tThe cat is running .\n\
de\tneutral\t-\tDer Hund läuft .\tDer Hund ist alt .\n\
en\tneutral\t-\tA man eats .\tThe man is hungry .\n";

#[test]
fn full_scale_path_on_an_mgpt_shaped_checkpoint() {
    // mGPT-1.3B's shape: 24 layers, d 2048, 16 heads, context 2048, 100k vocabulary
    let full = mgpt::mgpt_13b_config();
    let d = full.n_embd;
    let body = full.n_layer * (12 * d * d + 13 * d);
    let want = full.vocab_size * d + full.n_positions * d + body + 2 * d;
    assert_eq!(full.n_params(), want);
    assert!((1.3e9..1.5e9).contains(&(full.n_params() as f64)));

    // the same architecture scaled down, saved in HF layout with a vocab.json + merges.txt
    let dir = std::env::temp_dir().join(format!("gpt2lab-mgpt-full-{}", std::process::id()));
    let texts: Vec<String> = XNLI_TSV
        .lines()
        .flat_map(|l| l.split('\t').map(String::from).collect::<Vec<_>>())
        .collect();
    let tok = BpeTokenizer::train(&[texts.clone(), texts.clone(), texts.clone(), texts.clone(), texts].concat(), 300).unwrap();
    let j: Value = serde_json::from_str(&tok.to_json().unwrap()).unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("vocab.json"), j["model"]["vocab"].to_string()).unwrap();
    let merges: Vec<String> = tok.merges().unwrap();
    std::fs::write(dir.join("merges.txt"), format!("#version: 0.2\n{}\n", merges.join("\n"))).unwrap();
    let small = Gpt2Config::tiny(300, 256, 32, 2, 4);
    Gpt2::random(small, 0, &Device::Cpu).unwrap().save_pretrained(&dir).unwrap();
    let model = Gpt2::from_dir(&dir).unwrap();
    let loaded = mgpt::load_tokenizer_dir(&dir).unwrap();
    assert_eq!(loaded.encode("The dog runs.").unwrap(), tok.encode("The dog runs.").unwrap());

    let en = mgpt::read_pair_tsv(XNLI_TSV, Some("en"), &mgpt::XNLI_LABELS).unwrap();
    assert_eq!(en.len(), 3);
    assert_eq!((en[1].label, en[1].text_b.as_deref()), (2, Some("The cat is running .")));
    let v = Verbalizer::xnli_en();
    assert_eq!(v.verbalize(&en[0], 0).unwrap(), "The dog runs, right? Yes, An animal moves.");
    for k in [0, 1] {
        let r = mgpt::full_scale_fewshot(&model, &loaded, &v, &en, &en, k, 0).unwrap();
        assert_eq!(r.scores.len(), 3);
        assert!(r.scores.iter().flatten().all(|s| s.is_finite() && *s > 0.0));
    }
    // bad data: a missing column, an unknown label
    assert!(mgpt::read_pair_tsv("sentence1\tlabel\na\t0\n", None, &mgpt::PAWSX_LABELS).is_err());
    assert!(mgpt::read_pair_tsv("sentence1\tsentence2\tlabel\na\tb\t7\n", None, &mgpt::PAWSX_LABELS).is_err());
    assert!(mgpt::load_tokenizer_dir(&dir.join("nothing")).is_err());
    std::fs::remove_dir_all(&dir).ok();
}

/// One seed of the study end to end at a micro size: every row the artefact writes is there and
/// finite, and the live row is a prefix run of the byte-level model.
#[test]
fn the_study_runs_end_to_end_at_micro_size() {
    let setup = mgpt::Setup {
        vocab_size: 300,
        steps: 3,
        batch_size: 2,
        train_docs: 300,
        val_docs: 3,
        test_items: 4,
        pool_items: 4,
        ..mgpt::ci_setup()
    };
    let rows = mgpt::run_seed(&setup, 0, 2).unwrap();
    let groups: Vec<&str> = rows.iter().map(|r| r.group.as_str()).collect();
    for s in Strategy::ALL {
        assert!(groups.contains(&mgpt::fertility_group(s).as_str()) && groups.contains(&mgpt::model_group(s).as_str()));
    }
    assert!(groups.contains(&mgpt::UNTRAINED_GROUP) && groups.contains(&mgpt::LIVE_GROUP));
    assert!(rows.iter().all(|r| r.values.values().all(|v| v.is_finite())));
    let bytes = rows.iter().find(|r| r.group == mgpt::fertility_group(Strategy::Bytes)).unwrap();
    assert_eq!(bytes.values["vocab"], 257.0);
    let mono = rows.iter().find(|r| r.group == mgpt::mono_group("low")).unwrap();
    assert!(mono.values.contains_key("bpb low") && !mono.values.contains_key("bpb lat"));
    let data = mgpt::seed_data(&setup, 0).unwrap();
    assert!(data.test.iter().flatten().all(|i| i.text.len() <= setup.max_item_bytes));
    let live = mgpt::live_row(&data, &setup, 0).unwrap();
    assert_eq!(live.values.len(), 5);
}
