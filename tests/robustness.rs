//! Inputs that used to panic or to be silently skipped: each is now a typed error or an
//! honest result (issue 16, item 8).

mod common;
use common::*;

use std::collections::HashMap;

use candle_core::{Device, Tensor};
use gpt2lab::data::{Language, Pcfg};
use gpt2lab::eval::*;
use gpt2lab::model::{Gpt2, Gpt2Config};
use gpt2lab::Error;

fn tiny_model(vocab: usize, seed: u64) -> Gpt2 {
    Gpt2::random(Gpt2Config::tiny(vocab, 32, 16, 1, 2), seed, &Device::Cpu).unwrap()
}

/// `m` with every entry of one parameter set to NaN (a diverged run).
fn with_nan(m: &Gpt2, name: &str) -> Gpt2 {
    let mut map: HashMap<String, Tensor> = m.named_tensors().into_iter().collect();
    let t = &map[name];
    map.insert(name.into(), Tensor::from_vec(vec![f32::NAN; t.elem_count()], t.shape(), &Device::Cpu).unwrap());
    Gpt2::from_tensors(m.cfg.clone(), &map).unwrap()
}

#[test]
fn a_diverged_model_has_no_finite_perplexity() {
    let bad = with_nan(&tiny_model(20, 1), "h.0.mlp.c_fc.bias");
    let seqs = vec![vec![1, 2, 3, 4], vec![5, 6]];
    assert!(matches!(token_surprisals(&bad, &seqs, 2), Err(Error::NonFiniteOutput(_))));
    // before: every sentence NaN, geometric_mean skipped them all... or some of them
    assert!(matches!(sentence_perplexities(&bad, &seqs, 2), Err(Error::NonFiniteOutput(_))));
    let pairs = marker_pairs(&seqs, &[3], None);
    assert!(matches!(MarkerSurprisals::compute(&bad, &pairs, 2), Err(Error::NonFiniteOutput(_))));
    // a 1-token sentence is still "no perplexity" (NaN), not an error
    let ok = tiny_model(20, 1);
    assert!(sentence_perplexities(&ok, &[vec![1]], 1).unwrap()[0].is_nan());
}

#[test]
fn a_hand_made_marker_pair_with_a_bad_index_is_an_error() {
    let m = tiny_model(20, 2);
    for index in [0, 3, 99] {
        let p = MarkerPair { with_marker: vec![1, 2, 3], without_marker: vec![1, 3], index };
        assert!(matches!(MarkerSurprisals::compute(&m, &[p], 1), Err(Error::Shape(_))), "index {index}");
    }
}

#[test]
fn an_empty_checkpoint_list_is_an_error_and_an_empty_curve_has_no_last_value() {
    let g = Pcfg::english_small();
    let data = perturb_languages(&[Language::NoShuffle], &g.generate(40, 1), &g.generate(10, 2), 10, 32).unwrap();
    let vocab = shared_vocab(&data);
    let cfg = RunConfig {
        model: Gpt2Config::tiny(0, 32, 16, 1, 2), // vocabulary set from the data
        steps: 2,
        batch_size: 2,
        grad_accum: 1,
        lr: 1e-3,
        warmup: 0,
        weight_decay: 0.0,
        checkpoints: vec![],
        eval_batch: 4,
        seed: 0,
        save_dir: None,
    };
    let e = train_language(&data[0], &vocab, &cfg, &Device::Cpu).unwrap_err();
    assert!(matches!(e, Error::EmptyInput(_)), "{e}");
    let run = train_language(&data[0], &vocab, &RunConfig { checkpoints: vec![2], ..cfg }, &Device::Cpu).unwrap();
    assert_eq!(run.last().step, 2);
    let empty = LanguageRun { curve: vec![], ..run };
    assert!(empty.last().perplexity.is_nan());
}

#[test]
fn shard_names_cannot_leave_the_model_directory() {
    let d = scratch("robust_shards");
    std::fs::copy(fixture("sharded").join("config.json"), d.join("config.json")).unwrap();
    let outside = scratch("robust_shards_outside");
    for f in std::fs::read_dir(fixture("sharded")).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), outside.join(f.file_name())).unwrap();
    }
    let index: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixture("sharded").join("model.safetensors.index.json")).unwrap()).unwrap();
    let shard = index["weight_map"].as_object().unwrap().values().next().unwrap().as_str().unwrap().to_string();
    for bad in [format!("../robust_shards_outside/{shard}"), outside.join(&shard).display().to_string(), String::new(), format!("./{shard}")] {
        let mut idx = index.clone();
        for v in idx["weight_map"].as_object_mut().unwrap().values_mut() {
            *v = bad.clone().into();
        }
        std::fs::write(d.join("model.safetensors.index.json"), idx.to_string()).unwrap();
        let e = Gpt2::from_dir(&d).unwrap_err();
        assert!(matches!(&e, Error::Safetensors { msg, .. } if msg.contains("shard name")), "{bad}: {e}");
    }
}

#[test]
fn rank_0_inputs_and_empty_weights_are_errors() {
    // n_embd 1: a scalar reshapes to (1, 1) and used to reach an `expect("rank >= 1")`
    let m = Gpt2::random(Gpt2Config::tiny(5, 4, 1, 1, 1), 0, &Device::Cpu).unwrap();
    let scalar = Tensor::new(1f32, &Device::Cpu).unwrap();
    assert!(matches!(m.unembed_normalized(&scalar), Err(Error::Shape(_))));
    let w = Tensor::ones((1, 3), candle_core::DType::F32, &Device::Cpu).unwrap();
    let b = Tensor::zeros(3, candle_core::DType::F32, &Device::Cpu).unwrap();
    assert!(gpt2lab::model::ops::conv1d(&scalar, &w, &b).is_err());
    // a weight with no input rows used to divide by zero
    let w0 = Tensor::zeros((0, 3), candle_core::DType::F32, &Device::Cpu).unwrap();
    assert!(gpt2lab::model::ops::conv1d(&Tensor::zeros((2, 0), candle_core::DType::F32, &Device::Cpu).unwrap(), &w0, &b).is_err());
    // a config edited to n_embd 0 after the model was built
    let mut m0 = m.clone();
    m0.cfg.n_embd = 0;
    assert!(m0.unembed_normalized(&Tensor::zeros((1, 1), candle_core::DType::F32, &Device::Cpu).unwrap()).is_err());
}

#[test]
fn softmax_over_an_empty_axis_and_zero_calibration_bins() {
    use candle_core::DType;
    use gpt2lab::interp::{entropy, expected_calibration_error};
    use gpt2lab::model::ops::softmax_last;
    // candle's fused softmax panicked on a last dim of 0 (found by tests/fuzz.rs)
    let empty = Tensor::zeros((2, 0), DType::F32, &Device::Cpu).unwrap();
    assert_eq!(softmax_last(&empty).unwrap().dims(), &[2, 0]);
    let _ = entropy(&Tensor::zeros((0, 0), DType::F32, &Device::Cpu).unwrap()); // Ok or Err, no panic
    assert!(softmax_last(&Tensor::new(1f32, &Device::Cpu).unwrap()).is_err());
    // n_bins 0 underflowed `n_bins - 1`
    let logits = Tensor::new(&[[0f32, 1.0, 2.0], [2.0, 1.0, 0.0]], &Device::Cpu).unwrap();
    let targets = Tensor::new(&[2u32, 0], &Device::Cpu).unwrap();
    assert!(matches!(expected_calibration_error(&logits, &targets, 0), Err(Error::EmptyInput(_))));
    assert!(expected_calibration_error(&logits, &targets, 5).is_ok());
}
