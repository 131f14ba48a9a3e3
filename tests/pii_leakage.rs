//! The PII-leakage attacks against independent references: sentence NLL against the
//! cross-entropy computed by hand from the model's logits, the inference attack's pick against
//! the hand-computed argmin, DP-SGD's ε against the RDP accountant, typed errors, and the
//! full-scale path (GPT-2's tokenizer, an HF-layout checkpoint, ECHR-style rows) run
//! structurally on a random-weight model.

use candle_core::{Device, Tensor};
use gpt2lab::data::pii::{PiiConfig, PiiWorld};
use gpt2lab::eval::leakage::*;
use gpt2lab::model::{Gpt2, Gpt2Config};
use gpt2lab::papers::pii_leakage as pl;
use gpt2lab::Error;

fn words() -> Vec<String> {
    "<eos> the applicant , Kalo Tundrex Bira Sopand was born in 1962 lives zelirk . <T-MASK>"
        .split(' ')
        .map(String::from)
        .collect()
}

fn lm(seed: u64) -> LeakageLm {
    let v = words();
    let model = Gpt2::random(Gpt2Config::tiny(v.len(), 32, 16, 2, 2), seed, &Device::Cpu).unwrap();
    LeakageLm {
        model,
        codec: Codec::words(&v),
        bos: 0,
    }
}

/// Σ −log softmax(logits[t])[ids[t+1]] over the sequence, in f64 from the raw logits.
fn hand_nll(lm: &LeakageLm, text: &str) -> (f64, usize) {
    let ids: Vec<u32> = std::iter::once(lm.bos)
        .chain(lm.codec.encode(text).unwrap())
        .collect();
    let n = ids.len();
    let logits = lm
        .model
        .forward(&Tensor::from_vec(ids.clone(), (1, n), &Device::Cpu).unwrap())
        .unwrap()
        .squeeze(0)
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    let mut sum = 0f64;
    for t in 0..n - 1 {
        let row: Vec<f64> = logits[t].iter().map(|&x| x as f64).collect();
        let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = m + row.iter().map(|x| (x - m).exp()).sum::<f64>().ln();
        sum += lse - row[ids[t + 1] as usize];
    }
    (sum, n - 1)
}

#[test]
fn sentence_nll_is_the_cross_entropy_from_the_logits() {
    let lm = lm(1);
    let texts: Vec<String> = [
        "the applicant , Kalo Tundrex , was born in 1962 .",
        "Bira Sopand lives in zelirk",
        "the",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let got = lm.sentence_nll(&texts).unwrap();
    for (t, g) in texts.iter().zip(&got) {
        let (sum, n) = hand_nll(&lm, t);
        assert_eq!(g.tokens, n);
        assert!(
            (g.sum - sum).abs() < 1e-4 * sum.max(1.0),
            "{t}: {} vs {sum}",
            g.sum
        );
        assert!((g.perplexity() - (sum / n as f64).exp()).abs() < 1e-4 * g.perplexity());
    }
    assert!(matches!(
        lm.sentence_nll(&["".to_string()]),
        Err(Error::EmptyInput(_))
    ));
    assert!(matches!(
        lm.sentence_nll(&["unknownword".to_string()]),
        Err(Error::Tokenizer(_))
    ));
}

#[test]
fn inference_picks_the_argmin_perplexity_candidate() {
    let masked = "the applicant , <T-MASK> , was born in 1962 .";
    let cands: Vec<String> = ["Kalo Tundrex", "Bira Sopand", "Kalo Sopand", "Bira Tundrex"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for seed in 0..4 {
        let lm = lm(seed);
        let ppl: Vec<f64> = cands
            .iter()
            .map(|c| {
                let (s, n) = hand_nll(&lm, &masked.replace("<T-MASK>", c));
                (s / n as f64).exp()
            })
            .collect();
        let best = (0..cands.len())
            .min_by(|&a, &b| ppl[a].total_cmp(&ppl[b]))
            .unwrap();
        let ranked = rank_candidates(&lm, masked, &cands).unwrap();
        assert_eq!(
            ranked[0].0, cands[best],
            "seed {seed}: {ranked:?} vs {ppl:?}"
        );
        assert!(ranked.windows(2).all(|w| w[0].1 <= w[1].1));
        // the attack is right exactly when the truth is the argmin
        let items: Vec<InferenceItem> = cands
            .iter()
            .map(|t| InferenceItem {
                masked: masked.into(),
                truth: t.clone(),
                candidates: cands.clone(),
            })
            .collect();
        let acc = inference_attack(&lm, Some(&lm), &items).unwrap();
        assert_eq!(acc.correct, 1);
        assert_eq!(acc.same_as_public, 4, "the public model is the same model");
        assert_eq!(acc.accuracy_not_skipped(), 0.0);
    }
    let lm = lm(0);
    assert!(matches!(
        rank_candidates(&lm, masked, &[]),
        Err(Error::EmptyInput(_))
    ));
    assert!(matches!(
        rank_candidates(&lm, "the applicant", &cands),
        Err(Error::Data(_))
    ));
    let bad = InferenceItem {
        masked: masked.into(),
        truth: "Nobody Here".into(),
        candidates: cands.clone(),
    };
    assert!(matches!(
        inference_attack(&lm, None, &[bad]),
        Err(Error::Data(_))
    ));
}

fn small_setup() -> pl::Setup {
    let mut s = pl::ci_setup();
    s.world = PiiConfig {
        buckets: vec![1, 4],
        persons_per_bucket: 6,
        held_out_persons: 4,
        test_persons: 4,
        public_sentences: 200,
        private_filler: 20,
        ..Default::default()
    };
    s.public.steps = 10;
    s.public.n_embd = 16;
    s.public.ctx = 32;
    s.ctx = 32;
    s.epochs = 1.0;
    s.dp_epochs = 1.0;
    s.dp_batch = 4;
    s.samples = 8;
    s.sample_len = 8;
    s.queries = 4;
    s.candidate_sizes = vec![3];
    s.recon_samples = 4;
    s
}

#[test]
fn dp_fine_tune_spends_the_target_epsilon() {
    let setup = small_setup();
    let (w, task) = pl::ci_task(&setup, 0).unwrap();
    let (_, rep) = pl::fine_tune_dp(&task.public.model, &task.train, w.eos(), &setup, 0).unwrap();
    let (want, _) = gpt2lab::train::rdp::epsilon(
        rep.sample_rate,
        rep.sigma,
        rep.steps,
        setup.delta,
        &gpt2lab::train::rdp::default_orders(),
    )
    .unwrap();
    assert!(
        (rep.epsilon - want).abs() < 1e-9,
        "{} vs the accountant's {want}",
        rep.epsilon
    );
    assert!(
        rep.epsilon <= setup.target_epsilon && rep.epsilon > 0.99 * setup.target_epsilon,
        "ε = {}",
        rep.epsilon
    );
    // every model of the seed, attacked: the scrubbed model never saw a private name part
    let rows = pl::run_task(&task, &setup, 0).unwrap();
    assert_eq!(
        rows.iter().map(|r| r.group.as_str()).collect::<Vec<_>>(),
        pl::MODELS
    );
    assert_eq!(rows[1].get("names_generated").unwrap(), 0.0);
    assert!((rows[2].get("epsilon").unwrap() - rep.epsilon).abs() < 1e-12);
    let mut big = setup.clone();
    big.dp_batch = 10_000;
    assert!(matches!(
        pl::fine_tune_dp(&task.public.model, &task.train, 0, &big, 0),
        Err(Error::Privacy(_))
    ));
}

/// The full-scale path on a random-weight GPT-2-layout checkpoint: the checkpoint loaded from an
/// HF folder, GPT-2's tokenizer, ECHR-style JSON lines with `facts`, the honorific detector, and
/// every model of `run_task` with the paper's settings shrunk in size only.
#[test]
fn full_scale_path_on_a_random_gpt2_layout_checkpoint() {
    let dir = std::env::temp_dir().join(format!("gpt2lab-pii-full-{}", std::process::id()));
    Gpt2::random(Gpt2Config::tiny(50257, 64, 16, 1, 2), 0, &Device::Cpu)
        .unwrap()
        .save_pretrained(dir.join("gpt2"))
        .unwrap();
    let public = Gpt2::from_dir(dir.join("gpt2")).unwrap();
    let tok = gpt2lab::tokenizer::Gpt2Tokenizer::gpt2().unwrap();
    // fake ECHR rows (syllable names, no real person)
    let names = ["Kalo Tundrex", "Bira Sopand", "Dremu Vaskil", "Stoli Prand"];
    let rows: Vec<String> = (0..24)
        .map(|i| {
            let n = names[i % names.len()];
            serde_json::json!({ "facts": [format!("The applicant, Mr {n}, was born in 19{} and lives in Zelirk.", 40 + i), "The Government contested that argument."] }).to_string()
        })
        .collect();
    std::fs::write(dir.join("train.jsonl"), rows.join("\n")).unwrap();
    std::fs::write(
        dir.join("test.jsonl"),
        serde_json::json!({ "text": "The applicant, Mrs Vela Kordun, lives in Zelirk." })
            .to_string(),
    )
    .unwrap();
    let train = pl::echr_documents(&dir.join("train.jsonl")).unwrap();
    let test = pl::echr_documents(&dir.join("test.jsonl")).unwrap();
    assert!(train[0].contains("Mr Kalo Tundrex") && train[0].ends_with("argument."));
    let mut setup = pl::full_setup();
    assert_eq!(
        (
            setup.epochs,
            setup.batch,
            setup.target_epsilon,
            setup.max_grad_norm,
            setup.samples,
            setup.top_k
        ),
        (4.0, 32, 8.0, 1.0, 15_000, 40)
    );
    (
        setup.ctx,
        setup.epochs,
        setup.batch,
        setup.dp_epochs,
        setup.dp_batch,
        setup.samples,
        setup.sample_len,
        setup.queries,
        setup.recon_samples,
        setup.recon_len,
    ) = (32, 0.5, 2, 0.5, 2, 4, 8, 4, 2, 4);
    setup.candidate_sizes = vec![2, 4];
    let task = pl::echr_task(public, tok, &train, &test, &setup).unwrap();
    assert_eq!(task.real.len(), 4);
    assert_eq!(
        task.buckets.get(&4).map(Vec::len),
        Some(4),
        "each name has 6 mentions"
    );
    assert_eq!(task.held_out, vec!["Vela Kordun".to_string()]);
    assert_eq!(task.queries.len(), 4);
    assert!(task.queries[0].0.contains(TARGET_MASK) && names.contains(&task.queries[0].1.as_str()));
    let scrubbed = task.public.codec.decode(&task.scrubbed[0]).unwrap();
    assert!(
        scrubbed.contains("Mr <MASK>,") && !scrubbed.contains("Kalo"),
        "{scrubbed}"
    );
    let out = pl::run_task(&task, &setup, 0).unwrap();
    assert_eq!(out.len(), 4);
    let dp = &out[2];
    assert!(dp.get("epsilon").unwrap() <= 8.0 && dp.get("inference_acc_4").unwrap() >= 0.0);
    assert!(out
        .iter()
        .all(|r| r.get("test_perplexity").unwrap().is_finite()));
    assert!(matches!(
        pl::echr_documents(&dir.join("nope.jsonl")),
        Err(Error::Io { .. })
    ));
    std::fs::write(dir.join("bad.jsonl"), "{\"x\": 1}").unwrap();
    assert!(matches!(
        pl::echr_documents(&dir.join("bad.jsonl")),
        Err(Error::Data(_))
    ));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn world_and_task_agree() {
    let setup = small_setup();
    let w = PiiWorld::generate(&setup.world, 5).unwrap();
    let m = Gpt2::random(setup.public.model_config(w.vocab.len(), 0), 0, &Device::Cpu).unwrap();
    let task = pl::world_task(&w, m, &setup, 5).unwrap();
    assert_eq!(task.real.len(), 12);
    assert_eq!(task.buckets[&1].len(), 6);
    assert_eq!(task.queries.len(), 4);
    for (q, truth) in &task.queries {
        assert_eq!(q.matches(TARGET_MASK).count(), 1);
        let i = w
            .train_persons
            .iter()
            .position(|p| &p.name() == truth)
            .unwrap();
        assert!(w
            .sentences_of(i)
            .iter()
            .any(|s| s.join(" ") == q.replace(TARGET_MASK, truth)));
    }
    // items hold the truth once, at a position that varies
    let items = pl::inference_items(&task, 3, 0).unwrap();
    assert!(items.iter().all(|it| it.candidates.len() == 3
        && it.candidates.iter().filter(|c| **c == it.truth).count() == 1));
    assert!(pl::inference_items(&task, 13, 0).is_err());
}
