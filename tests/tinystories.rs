//! papers::tinystories (notebook 13): the diversity/novelty measures against hand counts, the
//! sample clean-up and grammar share on hand-made sentences, probe scoring against probes whose
//! answers are known to be right or wrong for the default story model, the frequency baseline on
//! a hand-sized probe set, typed errors, and the full-scale path end to end on a random-weight
//! GPT-Neo checkpoint in the released TinyStories-1M layout (HF names, 50257-token vocabulary,
//! global/local layers with window 256) with TinyStories-format text files.

mod common;
use common::scratch;

use std::collections::{HashMap, HashSet};

use candle_core::{DType, Device, Tensor};
use gpt2lab::data::{Probe, ProbeKind, StoryGen};
use gpt2lab::generate::GenerateConfig;
use gpt2lab::model::Gpt2;
use gpt2lab::papers::tinystories as ts;
use gpt2lab::tokenizer::Gpt2Tokenizer;
use gpt2lab::Error;

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn distinct_n_and_novelty_match_hand_counts() {
    let t = strings(&["The cat sat. The cat ran!"]);
    // words: the cat sat the cat ran; bigrams: the·cat, cat·sat, sat·the, the·cat, cat·ran → 4 of 5 distinct
    assert!((ts::distinct_n(&t, 2) - 4.0 / 5.0).abs() < 1e-12);
    // unigrams: 4 distinct of 6
    assert!((ts::distinct_n(&t, 1) - 4.0 / 6.0).abs() < 1e-12);
    // n-grams never cross texts: "a b" + "b a" has two bigrams, both distinct (joined it would be 3)
    assert_eq!(ts::distinct_n(&strings(&["a b", "b a"]), 2), 1.0);
    assert_eq!(ts::distinct_n(&strings(&["a b", "a b"]), 2), 0.5);
    // novelty against a training set holding only the·cat: cat·sat, sat·the, cat·ran are new → 3 of 5
    let train: HashSet<Vec<String>> = [strings(&["the", "cat"])].into_iter().collect();
    assert!((ts::novelty(&t, &train, 2) - 3.0 / 5.0).abs() < 1e-12);
    assert_eq!(ts::novelty(&t, &HashSet::new(), 2), 1.0);
    // no n-grams at all: 0, not NaN
    assert_eq!(ts::distinct_n(&strings(&["", "one"]), 2), 0.0);
    assert_eq!(ts::novelty(&strings(&["one"]), &train, 4), 0.0);
}

#[test]
fn samples_are_cut_to_complete_sentences_and_judged_by_the_story_grammar() {
    assert_eq!(ts::complete_sentences(" Tom ran home. He sa"), "Tom ran home.");
    assert_eq!(ts::complete_sentences("She said, \"Hi!\" Then she"), "She said, \"Hi!\"");
    assert_eq!(ts::complete_sentences("no end here"), "");
    let story = StoryGen::new(5).story();
    let (a, b) = (story.sentences[0].clone(), story.sentences[1].clone());
    assert!(StoryGen::is_grammatical(&a) && StoryGen::is_grammatical(&b));
    // two grammatical sentences and a scrambled one, across two samples: 2 of 3
    let samples = vec![format!("{a} {b}"), "Ball the gave Lily to.".to_string()];
    assert!((ts::grammatical_fraction(&samples).unwrap() - 2.0 / 3.0).abs() < 1e-12);
    assert!(matches!(ts::grammatical_fraction(&strings(&["", ""])), Err(Error::EmptyInput(_))));
}

#[test]
fn probe_scoring_counts_exact_greedy_answers_and_the_baseline_counts_frequent_answers() {
    let mut data = ts::ci_data().unwrap();
    let model = Gpt2::default_model().unwrap();
    let all = ts::probes(&data, 40).unwrap();
    assert!(all.iter().all(|p| data.tok.ids(&p.prefix, true).unwrap().len() + 4 <= ts::CTX));
    // answers set to the model's own greedy next word (a word token: leading space) are all right…
    let mut right: Vec<Probe> = vec![];
    for p in &all {
        let next = model.generate(&data.tok.ids(&p.prefix, true).unwrap(), &GenerateConfig::greedy(1)).unwrap();
        let w = data.tok.decode(&next).unwrap();
        if let Some(word) = w.strip_prefix(' ').filter(|x| x.chars().all(char::is_alphabetic) && !x.is_empty()) {
            right.push(Probe {
                answer: word.to_string(),
                ..p.clone()
            });
        }
    }
    assert!(right.len() >= 10, "{} usable probes", right.len());
    assert_eq!(ts::probe_accuracy(&model, &data, &right).unwrap(), 1.0);
    // …a different word in the same place is never the greedy continuation…
    let wrong: Vec<Probe> = right
        .iter()
        .map(|p| Probe {
            answer: if p.answer == "zebra" { "yak".into() } else { "zebra".into() },
            ..p.clone()
        })
        .collect();
    assert_eq!(ts::probe_accuracy(&model, &data, &wrong).unwrap(), 0.0);
    // …and half of each gives one half
    let half: Vec<Probe> = right[..5].iter().chain(wrong[..5].iter()).cloned().collect();
    assert_eq!(ts::probe_accuracy(&model, &data, &half).unwrap(), 0.5);
    assert!(matches!(ts::probe_accuracy(&model, &data, &[]), Err(Error::EmptyInput(_))));
    // the frequency baseline answers each kind with its most frequent training answer
    data.frequent_answer = HashMap::from([("Name".to_string(), "Tom".to_string()), ("Pronoun".to_string(), "he".to_string())]);
    let mk = |answer: &str, kind: ProbeKind| Probe {
        answer: answer.into(),
        kind,
        ..all[0].clone()
    };
    let hand = vec![mk("Tom", ProbeKind::Name), mk("Lily", ProbeKind::Name), mk("he", ProbeKind::Pronoun), mk("ball", ProbeKind::Object)];
    assert_eq!(ts::baseline_accuracy(&data, &hand), 0.5);
}

#[test]
fn run_takes_only_checkpoints() {
    let data = ts::ci_data().unwrap();
    assert!(matches!(ts::run(64, 1, 0, &data, 123), Err(Error::Msg(_))));
    assert_eq!(*ts::CHECKPOINTS.last().unwrap(), ts::STEPS);
    assert!(ts::CHECKPOINTS.contains(&ts::LIVE_STEPS));
    assert_eq!(ts::checkpoint_group(64, 4, ts::STEPS), "d64 L4");
    assert_eq!(ts::checkpoint_group(64, 4, 200), "d64 L4 @200");
}

#[test]
fn read_stories_splits_on_endoftext_and_reports_bad_files() {
    let dir = scratch("tinystories_read");
    let p = dir.join("TinyStories-valid.txt");
    std::fs::write(
        &p,
        "One day, Tom ran.\n\nHe was happy.\n<|endoftext|>\nLily saw a cat.\n<|endoftext|>\nThe end.<|endoftext|>Last one.\n",
    )
    .unwrap();
    assert_eq!(
        ts::read_stories(&p, 10).unwrap(),
        strings(&["One day, Tom ran.\n\nHe was happy.", "Lily saw a cat.", "The end.", "Last one."])
    );
    assert_eq!(ts::read_stories(&p, 2).unwrap(), strings(&["One day, Tom ran.\n\nHe was happy.", "Lily saw a cat."]));
    assert!(matches!(ts::read_stories(dir.join("missing.txt"), 2), Err(Error::Io { .. })));
    let empty = dir.join("empty.txt");
    std::fs::write(&empty, "\n<|endoftext|>\n").unwrap();
    assert!(matches!(ts::read_stories(&empty, 2), Err(Error::EmptyInput(_))));
}

/// A random GPT-Neo in the layout of `roneneldan/TinyStories-1M` (hidden 64, 8 layers, 16 heads,
/// global/local with window 256, 2048 positions, GPT-2's vocabulary), HF tensor names.
fn write_random_tinystories_1m(dir: &std::path::Path) {
    let (v, c, layers) = (50257usize, 64usize, 8usize);
    let dev = Device::Cpu;
    let r = |shape: &[usize]| Tensor::randn(0f32, 0.02, shape, &dev).unwrap();
    let ones = |n: usize| Tensor::ones(n, DType::F32, &dev).unwrap();
    let zeros = |n: usize| Tensor::zeros(n, DType::F32, &dev).unwrap();
    let mut t: HashMap<String, Tensor> = HashMap::new();
    t.insert("transformer.wte.weight".into(), r(&[v, c]));
    t.insert("transformer.wpe.weight".into(), r(&[2048, c]));
    t.insert("transformer.ln_f.weight".into(), ones(c));
    t.insert("transformer.ln_f.bias".into(), zeros(c));
    for i in 0..layers {
        let p = |s: &str| format!("transformer.h.{i}.{s}");
        for n in ["ln_1", "ln_2"] {
            t.insert(p(&format!("{n}.weight")), ones(c));
            t.insert(p(&format!("{n}.bias")), zeros(c));
        }
        for n in ["q_proj", "k_proj", "v_proj", "out_proj"] {
            t.insert(p(&format!("attn.attention.{n}.weight")), r(&[c, c]));
        }
        t.insert(p("attn.attention.out_proj.bias"), zeros(c));
        t.insert(p("mlp.c_fc.weight"), r(&[4 * c, c]));
        t.insert(p("mlp.c_fc.bias"), zeros(4 * c));
        t.insert(p("mlp.c_proj.weight"), r(&[c, 4 * c]));
        t.insert(p("mlp.c_proj.bias"), zeros(c));
    }
    candle_core::safetensors::save(&t, dir.join("model.safetensors")).unwrap();
    let cfg = serde_json::json!({
        "model_type": "gpt_neo", "architectures": ["GPTNeoForCausalLM"], "activation_function": "gelu_new",
        "vocab_size": v, "max_position_embeddings": 2048, "hidden_size": c, "num_layers": layers, "num_heads": 16,
        "window_size": 256, "attention_types": [[["global", "local"], 4]], "attention_layers": ["global", "local", "global", "local", "global", "local", "global", "local"],
        "intermediate_size": null, "layer_norm_epsilon": 1e-5, "bos_token_id": 50256, "eos_token_id": 50256
    });
    std::fs::write(dir.join("config.json"), serde_json::to_string_pretty(&cfg).unwrap()).unwrap();
}

#[test]
fn the_full_scale_path_runs_on_a_random_tinystories_1m_layout_checkpoint() {
    let dir = scratch("tinystories_full");
    write_random_tinystories_1m(&dir);
    let story = |s: &str| format!("{s}\n<|endoftext|>\n");
    std::fs::write(
        dir.join("TinyStories-valid.txt"),
        [
            story("Once upon a time, there was a little dog. He liked to run in the park."),
            story("Lily saw a red ball. She was happy."),
            story("Tom had a toy car. It was fast."),
        ]
        .concat(),
    )
    .unwrap();
    std::fs::write(
        dir.join("TinyStories-train.txt"),
        [story("Once upon a time, there was a cat."), story("The cat liked to play.")].concat(),
    )
    .unwrap();
    let (valid, train) = ts::full_data(&dir, 2, 10).unwrap();
    assert_eq!((valid.len(), train.len()), (2, 2));
    // the same conversion from_pretrained_gpt_neo applies to hub files
    let model = Gpt2::from_dir(&dir).unwrap();
    assert_eq!(model.cfg.attention_windows.iter().filter(|w| **w == Some(256)).count(), 4);
    assert!(!model.cfg.scale_attn_weights);
    let tok = Gpt2Tokenizer::gpt2().unwrap();
    let m = ts::full_measure(&model, &tok, &valid, &train, 2, 0).unwrap();
    // near-uniform logits: the loss of a random model is close to ln(50257) ≈ 10.8
    assert!((m.val_loss - (50257f64).ln()).abs() < 1.0, "{}", m.val_loss);
    assert_eq!(m.samples.len(), 2);
    assert!((0.0..=1.0).contains(&m.distinct2) && (0.0..=1.0).contains(&m.novelty4));
    // random text shares no 4-gram with the two training stories
    assert!(m.novelty4 > 0.9, "{}", m.novelty4);
    assert!(matches!(ts::full_measure(&model, &tok, &[], &train, 2, 0), Err(Error::EmptyInput(_))));
    assert!(matches!(ts::full_data(dir.join("nowhere"), 2, 2), Err(Error::Io { .. })));
}
