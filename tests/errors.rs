//! Bad checkpoints and configs give typed errors, never panics.

mod common;
use common::*;

use gpt2lab::model::{Gpt2, Gpt2Config};
use gpt2lab::Error;

fn copy_case(case: &str, name: &str) -> std::path::PathBuf {
    let dst = scratch(name);
    for e in std::fs::read_dir(fixture(case)).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
    }
    dst
}

#[test]
fn truncated_safetensors() {
    let d = copy_case("prefixed", "truncated");
    let p = d.join("model.safetensors");
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    let e = Gpt2::from_dir(&d).unwrap_err();
    assert!(matches!(e, Error::Safetensors { .. }), "{e}");
}

#[test]
fn garbage_safetensors() {
    let d = copy_case("prefixed", "garbage");
    std::fs::write(d.join("model.safetensors"), b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all").unwrap();
    assert!(matches!(Gpt2::from_dir(&d).unwrap_err(), Error::Safetensors { .. }));
    std::fs::write(d.join("model.safetensors"), b"").unwrap();
    assert!(matches!(Gpt2::from_dir(&d).unwrap_err(), Error::Safetensors { .. }));
}

fn rewrite(d: &std::path::Path, f: impl Fn(&mut Vec<(String, candle_core::Tensor)>)) {
    let p = d.join("model.safetensors");
    let map = gpt2lab::model::weights::read_safetensors_raw(&p, &candle_core::Device::Cpu).unwrap();
    let mut v: Vec<(String, candle_core::Tensor)> = map.into_iter().collect();
    f(&mut v);
    std::fs::write(&p, gpt2lab::model::weights::safetensors_bytes(&v).unwrap()).unwrap();
}

#[test]
fn missing_tensor() {
    let d = copy_case("prefixed", "missing");
    rewrite(&d, |v| v.retain(|(n, _)| !n.ends_with("h.1.mlp.c_fc.bias")));
    let e = Gpt2::from_dir(&d).unwrap_err();
    assert!(matches!(&e, Error::MissingTensor { name, .. } if name == "h.1.mlp.c_fc.bias"), "{e}");
}

#[test]
fn misshapen_tensor() {
    let d = copy_case("prefixed", "misshapen");
    rewrite(&d, |v| {
        for (n, t) in v.iter_mut() {
            if n.ends_with("h.0.attn.c_attn.weight") {
                *t = t.t().unwrap().contiguous().unwrap(); // [out, in]: a transposed Linear layout
            }
        }
    });
    let e = Gpt2::from_dir(&d).unwrap_err();
    assert!(matches!(&e, Error::TensorShape { name, expected, got } if name == "h.0.attn.c_attn.weight" && expected == &vec![32, 96] && got == &vec![96, 32]), "{e}");
}

#[test]
fn config_that_contradicts_the_weights() {
    // fewer layers in the config than in the checkpoint
    let d = copy_case("prefixed", "contradict_fewer");
    let mut cfg = Gpt2Config::from_file(d.join("config.json")).unwrap();
    cfg.n_layer = 1;
    std::fs::write(d.join("config.json"), cfg.to_hf_json()).unwrap();
    assert!(matches!(Gpt2::from_dir(&d).unwrap_err(), Error::Config { .. }));
    // a wider model than the weights
    cfg.n_layer = 2;
    cfg.n_embd = 64;
    std::fs::write(d.join("config.json"), cfg.to_hf_json()).unwrap();
    assert!(matches!(Gpt2::from_dir(&d).unwrap_err(), Error::TensorShape { .. }));
    // n_embd not divisible by n_head: an error naming the field
    cfg.n_embd = 30;
    std::fs::write(d.join("config.json"), cfg.to_hf_json()).unwrap();
    assert!(matches!(Gpt2::from_dir(&d).unwrap_err(), Error::ConfigField { field: "n_head", .. }));
    std::fs::write(d.join("config.json"), "{ this is not json").unwrap();
    assert!(matches!(Gpt2::from_dir(&d).unwrap_err(), Error::Config { .. }));
}

#[test]
fn missing_files() {
    let d = scratch("empty_dir");
    assert!(matches!(Gpt2::from_dir(&d).unwrap_err(), Error::Io { .. }));
    std::fs::copy(fixture("prefixed").join("config.json"), d.join("config.json")).unwrap();
    assert!(matches!(Gpt2::from_dir(&d).unwrap_err(), Error::Io { .. }));
}

#[test]
fn hub_offline_mode() {
    // one test: the hub client reads process-wide environment variables
    std::env::set_var("HF_HUB_OFFLINE", "1");
    std::env::set_var("HF_HOME", scratch("hf_home"));
    let e = Gpt2::from_pretrained("openai-community/gpt2").unwrap_err();
    assert!(matches!(e, Error::Hub(_)), "{e}");

    // Lay out an hf-hub cache by hand (refs/main + snapshots/<rev>/) with a fixture in it:
    // from_pretrained must then load offline exactly what from_dir loads.
    let home = scratch("hf_home_full");
    let repo = home.join("hub/models--test--tiny-gpt2");
    let snap = repo.join("snapshots/0123456789abcdef");
    std::fs::create_dir_all(&snap).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), "0123456789abcdef").unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(fixture("prefixed").join(f), snap.join(f)).unwrap();
    }
    std::env::set_var("HF_HUB_OFFLINE", "1");
    std::env::set_var("HF_HOME", &home);
    let m = Gpt2::from_pretrained("test/tiny-gpt2").unwrap();
    let want = Gpt2::from_dir(fixture("prefixed")).unwrap();
    let ids = candle_core::Tensor::new(&[[1u32, 2, 3]], &candle_core::Device::Cpu).unwrap();
    assert_eq!(max_abs_diff(&m.forward(&ids).unwrap(), &want.forward(&ids).unwrap()), 0.0);

    // a pinned revision (here a commit hash, which has no refs/ entry) loads, and the commit
    // the files came from is recorded
    let cpu = candle_core::Device::Cpu;
    let (_, src) = Gpt2::from_pretrained_at("test/tiny-gpt2", "0123456789abcdef", &cpu).unwrap();
    assert_eq!((src.revision.as_str(), src.commit.as_deref()), ("0123456789abcdef", Some("0123456789abcdef")));
    let (_, src) = Gpt2::from_pretrained_at("test/tiny-gpt2", "main", &cpu).unwrap();
    assert_eq!(src.commit.as_deref(), Some("0123456789abcdef"), "main resolves to its commit");
    let e = Gpt2::from_pretrained_at("test/tiny-gpt2", "v9", &cpu).unwrap_err();
    assert!(matches!(&e, Error::Hub(m) if m.contains("revision v9")), "{e}");

    // a repo without weights: the error reports why model.safetensors failed, not only that
    // there is no shard index
    let repo = home.join("hub/models--test--only-config");
    std::fs::create_dir_all(repo.join("snapshots/0123456789abcdef")).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), "0123456789abcdef").unwrap();
    std::fs::copy(fixture("prefixed").join("config.json"), repo.join("snapshots/0123456789abcdef/config.json")).unwrap();
    let e = Gpt2::from_pretrained("test/only-config").unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("only-config/model.safetensors (revision main) is not") && msg.contains("model.safetensors.index.json"), "{msg}");
}

/// The field `validate` must name for `cfg`, or None when it must accept it.
fn field_error(cfg: &Gpt2Config) -> Option<&'static str> {
    match cfg.validate() {
        Ok(()) => None,
        Err(Error::ConfigField { field, .. }) => Some(field),
        Err(e) => panic!("wrong error kind: {e}"),
    }
}

#[test]
fn every_degenerate_config_field_is_an_error_naming_it() {
    let ok = Gpt2Config::tiny(50, 16, 16, 2, 2);
    assert_eq!(field_error(&ok), None);
    let cases: Vec<(&str, Gpt2Config)> = vec![
        ("vocab_size", Gpt2Config { vocab_size: 0, ..ok.clone() }),
        ("n_positions", Gpt2Config { n_positions: 0, ..ok.clone() }),
        ("n_embd", Gpt2Config { n_embd: 0, ..ok.clone() }),
        ("n_layer", Gpt2Config { n_layer: 0, ..ok.clone() }),
        ("n_head", Gpt2Config { n_head: 0, ..ok.clone() }),
        ("n_head", Gpt2Config { n_head: 3, ..ok.clone() }),
        ("n_inner", Gpt2Config { n_inner: Some(0), ..ok.clone() }),
        ("layer_norm_epsilon", Gpt2Config { layer_norm_epsilon: -1e-5, ..ok.clone() }),
        ("layer_norm_epsilon", Gpt2Config { layer_norm_epsilon: 0.0, ..ok.clone() }),
        ("layer_norm_epsilon", Gpt2Config { layer_norm_epsilon: f64::NAN, ..ok.clone() }),
        ("layer_norm_epsilon", Gpt2Config { layer_norm_epsilon: f64::INFINITY, ..ok.clone() }),
        ("vocab_size", Gpt2Config { vocab_size: usize::MAX, ..ok.clone() }),
        // sizes whose products overflow usize: an error, not an arithmetic panic
        ("n_embd", Gpt2Config { n_embd: usize::MAX, n_head: 1, ..ok.clone() }),
        ("n_inner", Gpt2Config { n_inner: Some(usize::MAX), ..ok.clone() }),
        ("n_positions", Gpt2Config { n_positions: usize::MAX, ..ok.clone() }),
        ("vocab_size, n_positions, n_embd, n_layer, n_inner", Gpt2Config { n_layer: 1 << 30, ..ok.clone() }),
    ];
    for (field, cfg) in cases {
        assert_eq!(field_error(&cfg), Some(field), "{cfg:?}");
        // a model is never built from it
        let e = Gpt2::random(cfg.clone(), 0, &candle_core::Device::Cpu).unwrap_err();
        assert!(matches!(e, Error::ConfigField { field: f, .. } if f == field), "{e}");
    }
    // the LN-free export convention (eps 1e12) and HF's tiny models (bos/eos 50256 with a
    // vocabulary of 1000) stay valid
    assert_eq!(field_error(&Gpt2Config { layer_norm_epsilon: 1e12, ..ok.clone() }), None);
    assert_eq!(field_error(&Gpt2Config { bos_token_id: Some(50256), eos_token_id: Some(50256), ..ok.clone() }), None);
}

#[test]
fn placeholder_configs_are_validated_only_when_a_model_is_built() {
    // notebooks build `tiny(0, ..)` and set the vocabulary from the data later
    let mut cfg = Gpt2Config::tiny(0, 32, 16, 1, 2);
    assert!(matches!(Gpt2::random(cfg.clone(), 0, &candle_core::Device::Cpu), Err(Error::ConfigField { field: "vocab_size", .. })));
    cfg.vocab_size = 40;
    assert!(Gpt2::random(cfg, 0, &candle_core::Device::Cpu).is_ok());
}

#[test]
fn a_config_file_with_a_bad_field_names_the_file_and_the_field() {
    let d = copy_case("prefixed", "n_inner_zero");
    let text = std::fs::read_to_string(d.join("config.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["n_inner"] = 0.into();
    std::fs::write(d.join("config.json"), v.to_string()).unwrap();
    match Gpt2::from_dir(&d).unwrap_err() {
        Error::ConfigField { path, field: "n_inner", .. } => assert!(path.ends_with("config.json"), "{path}"),
        e => panic!("wrong error {e}"),
    }
    v["n_inner"] = serde_json::Value::Null;
    v["layer_norm_epsilon"] = (-1.0).into();
    std::fs::write(d.join("config.json"), v.to_string()).unwrap();
    assert!(matches!(Gpt2::from_dir(&d).unwrap_err(), Error::ConfigField { field: "layer_norm_epsilon", .. }));
    assert!(matches!(Gpt2Config::from_json_str(&v.to_string()).unwrap_err(), Error::ConfigField { field: "layer_norm_epsilon", .. }));
}

#[test]
fn a_trainer_is_not_built_on_a_model_whose_config_was_broken_after_loading() {
    use gpt2lab::train::{AdamW, AdamWConfig, TrainConfig, Trainer};
    let mut m = Gpt2::random(Gpt2Config::tiny(50, 16, 16, 1, 2), 0, &candle_core::Device::Cpu).unwrap();
    m.cfg.n_inner = Some(0);
    let r = Trainer::new(&m, Box::new(AdamW::new(AdamWConfig::default())), TrainConfig { progress: false, ..Default::default() });
    assert!(matches!(r, Err(Error::ConfigField { field: "n_inner", .. })));
}

#[test]
fn nan_or_inf_weights_are_refused_by_default_naming_the_tensor() {
    use gpt2lab::model::LoadOptions;
    for (case, bad) in [("nan_weight", f32::NAN), ("inf_weight", f32::NEG_INFINITY)] {
        let d = copy_case("prefixed", case);
        rewrite(&d, |v| {
            for (n, t) in v.iter_mut() {
                if n.ends_with("h.1.mlp.c_fc.bias") {
                    let mut x: Vec<f32> = t.to_vec1().unwrap();
                    x[2] = bad;
                    x[5] = bad;
                    *t = candle_core::Tensor::from_vec(x, t.shape(), &candle_core::Device::Cpu).unwrap();
                }
            }
        });
        let e = Gpt2::from_dir(&d).unwrap_err();
        assert!(matches!(&e, Error::NonFiniteTensor { name, count: 2 } if name == "h.1.mlp.c_fc.bias"), "{e}");
        // the opt-out loads it as it is
        let m = Gpt2::from_dir_with(&d, &LoadOptions::unchecked()).unwrap();
        let b = m.named_tensors().into_iter().find(|(n, _)| n == "h.1.mlp.c_fc.bias").unwrap().1;
        assert_eq!(b.to_vec1::<f32>().unwrap().iter().filter(|x| !x.is_finite()).count(), 2);
    }
    // a clean checkpoint passes the check
    assert!(Gpt2::from_dir(fixture("prefixed")).is_ok());
}
