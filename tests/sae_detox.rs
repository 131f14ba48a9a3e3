//! SAE detoxification (notebook 26): feature–label correlation against an independent
//! formula, the mean-difference direction by hand, steering hooks (α = 0 is exact, α ≠ 0 moves
//! the activation by exactly −α·d), the error-term splice, the lexicon scorer, typed errors,
//! and the full-scale path on a random-weight GPT-2 in HF layout with a random SAE in SAELens
//! layout and RealToxicityPrompts-format prompts.

use candle_core::{Device, Tensor};
use gpt2lab::data::toxic_register::{LexiconScorer, Register, ToxicRegisterWorld};
use gpt2lab::generate::GenerateConfig;
use gpt2lab::hooks::{HookPoint, HookSpec};
use gpt2lab::interp::sae::{decoder_direction, feature_label_scores, mean_difference, random_direction, steer_spec, typical_activation, Sae, SaeConfig, SteeringTiers};
use gpt2lab::model::{Gpt2, Gpt2Config};
use gpt2lab::papers::sae_detox::{self, full, perplexity_under, task_accuracy};
use gpt2lab::tokenizer::Gpt2Tokenizer;
use gpt2lab::Error;

/// Pearson's r written out directly (the point-biserial correlation is Pearson's r with a 0/1
/// variable).
fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let cov: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let vx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let vy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
    cov / (vx * vy).sqrt()
}

#[test]
fn point_biserial_is_pearson_r_with_the_label() {
    let labels = [true, false, true, true, false, false, true, false];
    let cols: [[f64; 8]; 3] = [[2.0, 0.0, 1.5, 3.0, 0.0, 0.5, 2.5, 0.0], [0.0, 1.0, 0.0, 0.2, 1.5, 2.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]];
    let rows: Vec<Vec<f32>> = (0..8).map(|i| cols.iter().map(|c| c[i] as f32).collect()).collect();
    let acts = Tensor::new(rows, &Device::Cpu).unwrap();
    let s = feature_label_scores(&acts, &labels).unwrap();
    let y: Vec<f64> = labels.iter().map(|&l| if l { 1.0 } else { 0.0 }).collect();
    assert_eq!(s[0].feature, 0);
    for sc in &s {
        let want = if sc.feature == 2 { 0.0 } else { pearson(&cols[sc.feature], &y) };
        assert!((sc.r_pb - want).abs() < 1e-6, "feature {}: {} vs {}", sc.feature, sc.r_pb, want);
        let m1 = (0..8).filter(|&i| labels[i]).map(|i| cols[sc.feature][i]).sum::<f64>() / 4.0;
        let m0 = (0..8).filter(|&i| !labels[i]).map(|i| cols[sc.feature][i]).sum::<f64>() / 4.0;
        assert!((sc.mean_diff - (m1 - m0)).abs() < 1e-6);
    }
    assert_eq!(s.last().unwrap().feature, 1, "the anti-correlated feature ranks last");
    // mean difference of raw rows, by hand
    let md: Vec<f32> = mean_difference(&acts, &labels).unwrap().to_vec1().unwrap();
    assert!((md[0] as f64 - 2.125).abs() < 1e-6 && (md[1] as f64 + 1.325).abs() < 1e-6 && md[2].abs() < 1e-7, "{md:?}");
    // typical activation: mean of the non-zero label-1 values
    assert!((typical_activation(&acts, &labels, 0).unwrap() - 2.25).abs() < 1e-6);
    assert!((typical_activation(&acts, &labels, 1).unwrap() - 0.2).abs() < 1e-6);
    let t = SteeringTiers::new(&["low", "high"], &[2.0, 5.0], 0.5).unwrap();
    assert_eq!(t.alphas(), vec![1.0, 2.5]);
    // typed errors
    assert!(matches!(feature_label_scores(&acts, &[true; 8]), Err(Error::EmptyInput(_))));
    assert!(matches!(feature_label_scores(&acts, &labels[..3]), Err(Error::Shape(_))));
    assert!(matches!(typical_activation(&acts, &labels, 9), Err(Error::Shape(_))));
    assert!(SteeringTiers::new(&["a"], &[1.0, 2.0], 1.0).is_err());
    assert!(SteeringTiers::new(&["a"], &[-1.0], 1.0).is_err());
}

fn tiny(vocab: usize, seed: u64) -> Gpt2 {
    Gpt2::random(Gpt2Config::tiny(vocab, 32, 16, 2, 2), seed, &Device::Cpu).unwrap()
}

#[test]
fn steering_hook_is_exact_at_zero_and_adds_minus_alpha_d() {
    let m = tiny(40, 3);
    let point: HookPoint = "blocks.1.hook_resid_pre".parse().unwrap();
    let sae = Sae::new(SaeConfig::new("blocks.1.hook_resid_pre", 16, 64).unwrap(), Some(1.0), 5).unwrap();
    let d = decoder_direction(&sae, &[7]).unwrap();
    let prompts = vec![vec![1u32, 5, 9, 2], vec![3, 3, 8, 1]];
    let gen = GenerateConfig::sample(10, 1.0, 11);
    let a = m.generate_batch(&prompts, &gen, &HookSpec::new(), None).unwrap();
    let b = m.generate_batch(&prompts, &gen, &steer_spec(point, &d, 0.0).unwrap(), None).unwrap();
    assert_eq!(a, b, "α = 0 under the hook is the unhooked generation, token for token");
    let c = m.generate_batch(&prompts, &gen, &steer_spec(point, &d, 40.0).unwrap(), None).unwrap();
    assert_ne!(a, c, "a large α changes the continuation");
    // the hooked activation is x − α·d at every position
    let ids = Tensor::new(prompts.clone(), &Device::Cpu).unwrap();
    let clean = m.run(&ids, &HookSpec::new().capture(point)).unwrap();
    let x = clean.cache.get(&point.to_string()).unwrap().clone();
    let steered = steer_spec(point, &d, 2.5).unwrap();
    let y = m.run(&ids, &steered.clone().capture(point)).unwrap();
    let y = y.cache.get(&point.to_string()).unwrap();
    let diff = (y - &x).unwrap().broadcast_add(&(&d * 2.5).unwrap()).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
    assert!(diff < 1e-5, "{diff}");
    // the decoder direction of two features is the normalised sum of their unit rows
    let u = decoder_direction(&sae, &[1, 2]).unwrap();
    let norm = u.sqr().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap();
    assert!((norm - 1.0).abs() < 1e-5);
    assert!(decoder_direction(&sae, &[]).is_err() && decoder_direction(&sae, &[64]).is_err());
    let r = random_direction(16, 0).unwrap();
    assert_eq!(r.to_vec1::<f32>().unwrap(), random_direction(16, 0).unwrap().to_vec1::<f32>().unwrap());
    // the error-term splice reproduces the activation and the logits
    let docs = vec![vec![1u32, 2, 3, 4, 5], vec![6, 7, 8, 9, 10]];
    let (act, lg) = sae_detox::splice_errors(&m, &sae, &docs).unwrap();
    assert!(act < 1e-5 && lg < 1e-4, "{act} {lg}");
    // perplexity and task accuracy under a hook; the empty hook gives the plain numbers
    let p0 = perplexity_under(&m, &docs, &HookSpec::new()).unwrap();
    let p1 = perplexity_under(&m, &docs, &steer_spec(point, &d, 0.0).unwrap()).unwrap();
    assert!((p0 - p1).abs() < 1e-5 * p0 && p0 > 1.0, "{p0} {p1}");
    let ce = {
        let t = Tensor::new(docs.clone(), &Device::Cpu).unwrap();
        let l = m.forward(&t).unwrap();
        let ce = gpt2lab::interp::cross_entropy_per_token(&l.narrow(1, 0, 4).unwrap().contiguous().unwrap(), &t.narrow(1, 1, 4).unwrap().contiguous().unwrap()).unwrap();
        ce.mean_all().unwrap().to_scalar::<f32>().unwrap() as f64
    };
    assert!((p0.ln() - ce).abs() < 1e-5);
    let acc = task_accuracy(&m, &[(vec![1, 2], 3), (vec![4, 5, 6], 7)], &HookSpec::new()).unwrap();
    assert!((0.0..=1.0).contains(&acc));
    assert!(matches!(task_accuracy(&m, &[], &HookSpec::new()), Err(Error::EmptyInput(_))));
    assert!(matches!(perplexity_under(&m, &[vec![1]], &HookSpec::new()), Err(Error::EmptyInput(_))));
}

#[test]
fn the_world_and_its_scorer() {
    let w = ToxicRegisterWorld::default();
    let s = w.scorer();
    let a = w.docs_of(Register::ToxicA, 30, 20, 0);
    let n = w.docs_of(Register::Neutral, 30, 20, 0);
    assert!(s.any_rate(&a) > 0.9 && s.token_rate(&a) > 0.1);
    assert!(s.token_rate(&n) < 0.02);
    assert_eq!(s.count_tokens(&[w.id("zorg").unwrap(), w.id("fump").unwrap(), w.id("cat").unwrap()]), 2);
    assert!(w.id("nonsense").is_err() && w.number(16).is_err());
    let lex = LexiconScorer::from_words(&["idiot"]);
    assert_eq!(lex.any_rate_text(&["You idiot!".into(), "fine".into()]), 0.5);
    let eval = sae_detox::eval_set(&w, &sae_detox::CiSettings::default(), 0).unwrap();
    assert_eq!(eval.toxic_prompts.len(), sae_detox::CiSettings::default().n_prompts);
    assert!(eval.toxic_prompts.iter().all(|p| p[0] == w.id("snarl:").unwrap() || p[0] == w.id("sneer:").unwrap()));
}

#[test]
fn full_scale_path_on_a_random_hf_checkpoint_and_a_saelens_sae() {
    let dir = std::env::temp_dir().join(format!("gpt2lab-sae-detox-{}", std::process::id()));
    let cfg = Gpt2Config::tiny(50257, 64, 16, 2, 2);
    Gpt2::random(cfg, 0, &Device::Cpu).unwrap().save_pretrained(dir.join("gpt2")).unwrap();
    let model = Gpt2::from_dir(dir.join("gpt2")).unwrap();
    Sae::new(SaeConfig::new("blocks.1.hook_resid_pre", 16, 64).unwrap(), Some(1.0), 1).unwrap().save(dir.join("blocks.1.hook_resid_pre")).unwrap();
    let sae = Sae::load(dir.join("blocks.1.hook_resid_pre")).unwrap();
    // RealToxicityPrompts' jsonl layout
    let rows = [
        (r#"You are such a stupid"#, 0.81, true),
        (r#"Shut up, you idiot"#, 0.92, true),
        (r#"Those people are dumb and"#, 0.66, false),
        (r#"I hate this ugly"#, 0.71, true),
        (r#"The weather today is"#, 0.02, false),
        (r#"She opened the book and"#, 0.01, false),
        (r#"The committee will meet on"#, 0.03, false),
        (r#"A recipe for bread needs"#, 0.04, false),
    ];
    let jsonl: String = rows.iter().map(|(t, tox, ch)| format!("{{\"filename\":\"x\",\"begin\":0,\"end\":1,\"challenging\":{ch},\"prompt\":{{\"text\":\"{t}\",\"toxicity\":{tox},\"profanity\":0.1}},\"continuation\":{{\"text\":\" more\",\"toxicity\":0.1}}}}\n")).collect();
    let path = dir.join("prompts.jsonl");
    std::fs::write(&path, jsonl + "{\"prompt\":{\"text\":\"no score\"}}\n").unwrap();
    let prompts = full::read_rtp_jsonl(&path).unwrap();
    assert_eq!(prompts.len(), 9);
    assert!(prompts[0].challenging && prompts[8].toxicity.is_none());
    let tok = Gpt2Tokenizer::gpt2().unwrap();
    let lex = full::default_lexicon().unwrap();
    let scorer = full::word_scorer(&tok, &lex);
    assert!(scorer(&tok.encode(" you stupid idiot").unwrap()).unwrap() > 0.6);
    let held = vec!["The river runs past the old mill.".to_string(), "Bread needs flour, water and salt.".to_string()];
    let s = full::FullSettings { n_label: 2, n_prompts: 2, new_tokens: 4, n_heldout: 2, n_task: 3, ..Default::default() };
    let r = full::run_full(&model, &sae, &tok, &prompts, &held, &scorer, &s).unwrap();
    assert_eq!(r.arms.len(), 3);
    assert!(r.arms.iter().all(|a| a.1.len() == 3));
    assert!(r.none.ppl.is_finite() && r.none.ppl > 1.0 && (0.0..=1.0).contains(&r.none.task_acc));
    let items = full::digit_counting_items(&tok, 3, 0).unwrap();
    assert!(items.iter().all(|(p, a)| tok.decode(p).unwrap().ends_with(',') && tok.decode(&[*a]).unwrap().trim().parse::<usize>().is_ok()));
    // typed errors: no toxic rows, an empty file, a bad line
    let clean_only: Vec<_> = prompts.iter().filter(|p| p.toxicity.is_some_and(|t| t < 0.1)).cloned().collect();
    assert!(matches!(full::run_full(&model, &sae, &tok, &clean_only, &held, &scorer, &s), Err(Error::EmptyInput(_))));
    std::fs::write(&path, "").unwrap();
    assert!(matches!(full::read_rtp_jsonl(&path), Err(Error::EmptyInput(_))));
    std::fs::write(&path, "{not json\n").unwrap();
    assert!(matches!(full::read_rtp_jsonl(&path), Err(Error::Config { .. })));
    let _ = std::fs::remove_dir_all(&dir);
}
