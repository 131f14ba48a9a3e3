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
    // n_embd not divisible by n_head
    cfg.n_embd = 30;
    std::fs::write(d.join("config.json"), cfg.to_hf_json()).unwrap();
    assert!(matches!(Gpt2::from_dir(&d).unwrap_err(), Error::Config { .. }));
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
}
