//! GeDi: guided decoding against the base greedy decoder and against brute-force re-scoring,
//! the CC-LM loss against a hand computation from per-token log-probabilities, typed errors,
//! and the full-scale path on random-weight HF-layout GPT-2 checkpoints with GPT-2's tokenizer.

use candle_core::{DType, Device, Tensor};
use gpt2lab::data::topics::TopicWorld;
use gpt2lab::generate::gedi::{gedi_generate, GediConfig, GediGuide};
use gpt2lab::generate::GenerateConfig;
use gpt2lab::hooks::HookSpec;
use gpt2lab::model::{weights, Gpt2, Gpt2Config};
use gpt2lab::papers::gedi;
use gpt2lab::tokenizer::Gpt2Tokenizer;
use gpt2lab::train::cclm::{cclm_loss, train_cclm, CclmExample};
use gpt2lab::train::TinyLmConfig;
use gpt2lab::Error;

fn tiny(vocab: usize, seed: u64) -> Gpt2 {
    Gpt2::random(Gpt2Config::tiny(vocab, 48, 32, 2, 4), seed, &Device::Cpu).unwrap()
}

fn guide(vocab: usize) -> GediGuide {
    GediGuide {
        model: tiny(vocab, 7),
        logit_scale: 1.7,
        bias: [0.3, -0.2],
        codes: [3, 4],
    }
}

#[test]
fn omega_zero_reproduces_the_base_greedy_decoder() {
    let (base, g) = (tiny(40, 1), guide(40));
    // two prompt lengths: two batches inside gedi_generate, results in the prompts' order
    let prompts = vec![vec![5, 9, 11], vec![12, 13], vec![7, 8, 30], vec![21, 22]];
    let ours = gedi_generate(&base, &g, &prompts, &[17], &GediConfig::unguided(12)).unwrap();
    let reference = base.generate_batch(&prompts, &GenerateConfig::greedy(12), &HookSpec::new(), None).unwrap();
    assert_eq!(ours.tokens, reference);
    // with guidance the output changes (the guide is not vacuous), and the guide runs one
    // batched forward per base forward, both class codes in it
    let guided = gedi_generate(&base, &g, &prompts, &[17], &GediConfig::paper(12)).unwrap();
    assert_ne!(guided.tokens, reference);
    assert_eq!(guided.guide_forwards, guided.base_forwards);
    assert_eq!(guided.guide_rows, 2 * guided.base_rows);
    assert_eq!(guided.base_forwards, 2 * 12); // two length groups × 12 steps
}

#[test]
fn batched_posterior_equals_brute_force_rescoring() {
    let (base, g) = (tiny(40, 2), guide(40));
    let prompts = vec![vec![5, 9, 11, 2], vec![12, 13, 14, 15]];
    let cond = [17, 18];
    let out = gedi_generate(&base, &g, &prompts, &cond, &GediConfig::paper(4).trace()).unwrap();
    assert_eq!(out.trace.len(), 4);
    for (k, lpd) in out.trace.iter().enumerate() {
        let prefix = [prompts[0].clone(), out.tokens[0][..k].to_vec()].concat();
        let brute = g.rescore_all(&cond, &prefix).unwrap();
        let err = lpd.iter().zip(&brute).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(err < 1e-4, "step {k}: max |decoder − brute force| = {err}");
        // a posterior: probabilities in (0, 1)
        assert!(lpd.iter().all(|&l| l < 0.0 && l.is_finite()));
    }
    // the reported final class probability is the posterior of the chosen last token
    let last = out.trace.last().unwrap()[*out.tokens[0].last().unwrap() as usize];
    assert!((out.final_logp_desired[0] - last).abs() < 1e-12);
}

#[test]
fn cclm_loss_matches_a_hand_computation() {
    let model = tiny(40, 3);
    let codes = [3u32, 4];
    let batch = vec![
        CclmExample {
            tokens: vec![17, 5, 6, 7, 8],
            label: 0,
        },
        CclmExample {
            tokens: vec![18, 9, 9, 10, 2],
            label: 1,
        },
        CclmExample {
            tokens: vec![19, 30, 31, 5, 1],
            label: 0,
        },
    ];
    let s = 1.3;
    let scale = Tensor::new(&[s as f32], &Device::Cpu).unwrap();
    let got = cclm_loss(&model, &scale, codes, &batch, 0.8).unwrap();
    let (mut disc, mut gen) = (0.0, 0.0);
    for e in &batch {
        // length-normalised NLL of the tokens after each code, from score_continuation
        let nll: Vec<f64> = codes
            .iter()
            .map(|&c| -model.score_continuation(&[c], &e.tokens).unwrap().iter().map(|&x| x as f64).sum::<f64>() / e.tokens.len() as f64)
            .collect();
        let logits = [-s * nll[0], -s * nll[1]];
        let lse = (logits[0].exp() + logits[1].exp()).ln();
        disc += (lse - logits[e.label]) / batch.len() as f64;
        gen += nll[e.label] / batch.len() as f64;
        let row = got.nll[batch.iter().position(|x| x == e).unwrap()];
        assert!((row[0] - nll[0]).abs() < 1e-5 && (row[1] - nll[1]).abs() < 1e-5);
    }
    let total = 0.2 * disc + 0.8 * gen;
    let t = got.total.to_dtype(DType::F64).unwrap().to_scalar::<f64>().unwrap();
    assert!((got.disc - disc).abs() < 1e-5, "{} vs {disc}", got.disc);
    assert!((got.gen - gen).abs() < 1e-5, "{} vs {gen}", got.gen);
    assert!((t - total).abs() < 1e-5, "{t} vs {total}");
    // bad batches are typed
    assert!(matches!(cclm_loss(&model, &scale, codes, &[], 0.8), Err(Error::EmptyInput(_))));
    let ragged = vec![batch[0].clone(), CclmExample { tokens: vec![1, 2], label: 0 }];
    assert!(matches!(cclm_loss(&model, &scale, codes, &ragged, 0.8), Err(Error::Shape(_))));
}

#[test]
fn training_moves_the_logit_scale_and_lowers_the_loss() {
    let w = TopicWorld::default();
    let docs = w.corpus(200, 12, 0).unwrap();
    let ex = gedi::cclm_examples(&w, &docs, 0).unwrap();
    assert_eq!(ex.len(), 400);
    assert!(ex.iter().step_by(2).all(|e| e.label == 0) && ex.iter().skip(1).step_by(2).all(|e| e.label == 1));
    let cfg = TinyLmConfig {
        n_embd: 32,
        n_layer: 1,
        n_head: 2,
        ctx: 16,
        steps: 60,
        batch_size: 16,
        lr: 3e-3,
    };
    let c = train_cclm(&ex, w.vocab_size(), w.eos(), w.class_codes(), &cfg, gedi::LAMBDA, 0).unwrap();
    assert_ne!(c.logit_scale, 1.0);
    let (first, last) = (c.curve.first().unwrap(), c.curve.last().unwrap());
    assert!(last.1 < first.1, "loss {} → {}", first.1, last.1);
    // same seed, same model
    let again = train_cclm(&ex, w.vocab_size(), w.eos(), w.class_codes(), &cfg, gedi::LAMBDA, 0).unwrap();
    assert_eq!(again.logit_scale, c.logit_scale);
}

#[test]
fn bad_input_is_typed() {
    let (base, g) = (tiny(40, 1), guide(40));
    let p = vec![vec![5, 6]];
    let other = GediGuide { model: tiny(41, 0), ..guide(40) };
    assert!(matches!(gedi_generate(&base, &other, &p, &[], &GediConfig::paper(3)), Err(Error::GuideMismatch(_))));
    let same_codes = GediGuide { codes: [3, 3], ..guide(40) };
    assert!(matches!(gedi_generate(&base, &same_codes, &p, &[], &GediConfig::paper(3)), Err(Error::GuideMismatch(_))));
    for cfg in [
        GediConfig::paper(3).omega(-1.0),
        GediConfig::paper(3).omega(f64::NAN),
        GediConfig {
            filter_p: 1.5,
            ..GediConfig::paper(3)
        },
        GediConfig {
            target_p: 0.0,
            ..GediConfig::paper(3)
        },
        GediConfig {
            repetition_penalty: 0.0,
            ..GediConfig::paper(3)
        },
    ] {
        assert!(matches!(gedi_generate(&base, &g, &p, &[], &cfg), Err(Error::GuidedDecoding(_))), "{cfg:?}");
    }
    assert!(matches!(gedi_generate(&base, &g, &[], &[], &GediConfig::paper(3)), Err(Error::EmptyInput(_))));
    assert!(matches!(gedi_generate(&base, &g, &[vec![]], &[], &GediConfig::paper(3)), Err(Error::EmptyInput(_))));
    assert!(matches!(gedi_generate(&base, &g, &p, &[], &GediConfig::paper(0)), Err(Error::EmptyInput(_))));
    assert!(matches!(
        gedi_generate(&base, &g, &[vec![99]], &[], &GediConfig::paper(3)),
        Err(Error::TokenOutOfRange { .. })
    ));
    assert!(matches!(gedi_generate(&base, &g, &p, &[], &GediConfig::paper(60)), Err(Error::PromptTooLong { .. })));
    assert!(matches!(g.class_logp(&[], &[]), Err(Error::EmptyInput(_))));
}

#[test]
fn full_scale_path_on_random_gpt2_layout_checkpoints() {
    let dir = std::env::temp_dir().join(format!("gpt2lab-gedi-{}", std::process::id()));
    let cfg = Gpt2Config::tiny(50257, 64, 16, 2, 2);
    Gpt2::random(cfg.clone(), 0, &Device::Cpu).unwrap().save_pretrained(dir.join("gpt2")).unwrap();
    // the guide: a GPT-2-layout checkpoint with GeDi's extra `logit_scale` (1, 1) and `bias` (1, 2)
    let gdir = dir.join("gedi");
    Gpt2::random(cfg, 1, &Device::Cpu).unwrap().save_pretrained(&gdir).unwrap();
    let file = gdir.join("model.safetensors");
    let mut t: Vec<(String, Tensor)> = weights::read_safetensors_raw(&file, &Device::Cpu).unwrap().into_iter().collect();
    t.push(("logit_scale".into(), Tensor::new(&[[2.5f32]], &Device::Cpu).unwrap()));
    t.push(("bias".into(), Tensor::new(&[[0.1f32, -0.1]], &Device::Cpu).unwrap()));
    weights::write_atomic(&file, &weights::safetensors_bytes(&t).unwrap()).unwrap();
    let tok = Gpt2Tokenizer::gpt2().unwrap();
    let codes = [tok.encode("true").unwrap()[0], tok.encode("false").unwrap()[0]];
    let g = gedi::load_guide(&gdir, codes).unwrap();
    assert!((g.logit_scale - 2.5).abs() < 1e-6 && (g.bias[0] - 0.1).abs() < 1e-6 && (g.bias[1] + 0.1).abs() < 1e-6);
    let base = Gpt2::from_dir(dir.join("gpt2")).unwrap();
    let prompts = ["In a shocking finding", "The president said"];
    let out = gedi::full_scale_generate(&base, &gdir, &tok, "science", &prompts, &GediConfig::paper(6)).unwrap();
    assert_eq!(out.len(), 2);
    assert!(out.iter().all(|s| !s.is_empty()));
    // a guide with another tokenizer's vocabulary cannot steer GPT-2
    let small = GediGuide {
        model: tiny(40, 0),
        logit_scale: 1.0,
        bias: [0.0; 2],
        codes: [3, 4],
    };
    assert!(matches!(
        gedi_generate(&base, &small, &[tok.encode("Hello").unwrap()], &[], &GediConfig::paper(2)),
        Err(Error::GuideMismatch(_))
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn guide_evaluation_agrees_with_the_loss_and_types_bad_input() {
    let w = TopicWorld::default();
    let g = GediGuide {
        model: Gpt2::random(Gpt2Config::tiny(w.vocab_size(), 32, 32, 1, 2), 4, &Device::Cpu).unwrap(),
        logit_scale: 1.7,
        bias: [0.0; 2],
        codes: w.class_codes(),
    };
    let docs = w.corpus(40, 10, 3).unwrap();
    let e = gedi::eval_guide(&w, &g, &docs, 0).unwrap();
    // L_disc on the same topic-mode examples through cclm_loss (one batch, same scale)
    let ex = gedi::cclm_examples(&w, &docs, 0).unwrap();
    let scale = Tensor::new(&[1.7f32], &Device::Cpu).unwrap();
    let l = cclm_loss(&g.model, &scale, g.codes, &ex, gedi::LAMBDA).unwrap();
    assert!((e.disc_loss - l.disc).abs() < 1e-5, "{} vs {}", e.disc_loss, l.disc);
    let margin = ex.iter().zip(&l.nll).map(|(x, r)| r[1 - x.label] - r[x.label]).sum::<f64>() / ex.len() as f64;
    assert!((e.margin - margin).abs() < 1e-6);
    assert!((0.0..=1.0).contains(&e.pair_acc) && (0.0..=1.0).contains(&e.topic_acc));
    // the 4-way accuracy by hand for one document through class_logp
    let d = &docs[0];
    let lps: Vec<f64> = (0..4).map(|k| g.class_logp(&[w.topic_code(k).unwrap()], &d.tokens).unwrap()).collect();
    let best = (0..4).max_by(|&a, &b| lps[a].total_cmp(&lps[b])).unwrap();
    let one = gedi::eval_guide(&w, &g, &docs[..1], 0).unwrap();
    assert_eq!(one.topic_acc, f64::from(u8::from(best == d.topic)));
    assert!(matches!(gedi::eval_guide(&w, &g, &[], 0), Err(Error::EmptyInput(_))));
}

#[test]
fn a_seed_runs_every_mode_with_the_untrained_guide_as_control() {
    let m = TinyLmConfig {
        n_embd: 32,
        n_layer: 1,
        n_head: 2,
        ctx: 16,
        steps: 4,
        batch_size: 8,
        lr: 3e-3,
    };
    let s = gedi::CiSettings {
        docs: 40,
        doc_len: 12,
        base: m.clone(),
        guide: m,
        n_prompts: 4,
        prompt_len: 3,
        new_tokens: 4,
    };
    let run = gedi::run_seed(&s, 5).unwrap();
    let ms = &run.models;
    // the control is the guide's own initialisation, untouched: scale 1, chance-level classifier
    assert_eq!(ms.untrained.logit_scale, 1.0);
    assert_eq!(ms.untrained.codes, ms.guide.codes);
    assert!((ms.untrained_eval.disc_loss - 2f64.ln()).abs() < 0.01, "{}", ms.untrained_eval.disc_loss);
    let names: Vec<&str> = run.modes.iter().map(|r| r.name.as_str()).collect();
    assert!(names.contains(&gedi::UNTRAINED_ARM) && names.contains(&"GeDi ω = 30") && names.contains(&"CC-LM alone"));
    for r in &run.modes {
        assert_eq!(r.outputs.len(), 4 * s.n_prompts);
        assert!(r.outputs.iter().all(|o| o.len() == s.new_tokens));
    }
    let q = gedi::metrics(&run);
    for k in ["guide_heldout_disc_loss", "untrained_heldout_topic_acc", "GeDi ω = 30, untrained guide:oracle_acc"] {
        assert!(q.get(k).unwrap().is_finite(), "{k}");
    }
    assert_eq!(q.get("omega0_exact").unwrap(), 1.0);
}
