//! gpt2lab::peft: LoRA against Hugging Face PEFT (fixture by scripts/make_peft_fixture.py),
//! NOLA's identities, merge/unmerge, exact trainable counts, a frozen base, save/load and
//! the typed errors.

mod common;

use candle_core::{DType, Device, Tensor};
use common::*;
use gpt2lab::model::Gpt2;
use gpt2lab::peft::*;
use gpt2lab::train::{lm_loss, AdamW, AdamWConfig, LrSchedule, TrainConfig};
use gpt2lab::Error;

fn peft_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/peft/lora")
}
fn peft_expected() -> std::collections::HashMap<String, Tensor> {
    candle_core::safetensors::load(peft_dir().join("expected.safetensors"), &Device::Cpu).unwrap()
}
fn base() -> Gpt2 {
    Gpt2::from_dir(fixture("bare")).unwrap()
}
fn ids() -> Tensor {
    Tensor::from_vec((0..24u32).map(|i| (i * 37 + 5) % 1000).collect::<Vec<_>>(), (2, 12), &Device::Cpu).unwrap()
}

#[test]
fn lora_forward_and_gradients_match_peft() {
    let base = base();
    let e = peft_expected();
    let ad = Adapter::load(&base, peft_dir()).unwrap();
    assert_eq!(ad.cfg.r, 4);
    assert_eq!(ad.cfg.alpha, 8.0);
    assert_eq!(ad.site_names(), ["h.0.attn.c_attn", "h.0.mlp.c_fc", "h.1.attn.c_attn", "h.1.mlp.c_fc"]);
    let x = ids_u32(&e["input_ids"]);
    let logits = ad.model().unwrap().forward(&x).unwrap();
    let d = max_abs_diff(&logits, &e["logits"]);
    assert!(d < 1e-4, "logits vs PEFT: {d}");
    // the adapter really changes the function (PEFT's lora_B was randomised)
    assert!(max_abs_diff(&base.forward(&x).unwrap(), &e["logits"]) > 1e-2);
    // loss and gradients of every lora_A / lora_B
    let m = ad.model_for_training().unwrap();
    let loss = lm_loss(&m, &x, &ids_u32(&e["targets"])).unwrap();
    let l = loss.to_scalar::<f32>().unwrap();
    let want = e["loss"].to_scalar::<f32>().unwrap();
    assert!((l - want).abs() < 1e-5, "loss {l} vs PEFT {want}");
    let grads = loss.backward().unwrap();
    let mut n = 0;
    for p in ad.params() {
        let (site, which) = p.name.rsplit_once('.').unwrap();
        let key = format!("grad.base_model.model.transformer.{site}.{which}.weight");
        let g = grads.get(p.var.as_tensor()).expect("gradient reaches the factor");
        let d = max_abs_diff(g, &e[&key]);
        let scale = e[&key].abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(d <= 1e-4 * scale.max(1.0), "{key}: {d} (max |g| {scale})");
        n += 1;
    }
    assert_eq!(n, 8);
    // PEFT's merge_and_unload gives the same logits as our merge
    let mut ad = ad;
    ad.merge().unwrap();
    let d = max_abs_diff(&ad.model().unwrap().forward(&x).unwrap(), &e["merged_logits"]);
    assert!(d < 1e-4, "merged logits vs PEFT: {d}");
}

#[test]
fn save_writes_peft_layout_and_round_trips() {
    let base = base();
    let ad = Adapter::load(&base, peft_dir()).unwrap();
    let dir = scratch("peft-roundtrip");
    ad.save(&dir, "tests/fixtures/hf/bare").unwrap();
    // same tensor names and shapes as PEFT's own file
    let ours = candle_core::safetensors::load(dir.join("adapter_model.safetensors"), &Device::Cpu).unwrap();
    let theirs = candle_core::safetensors::load(peft_dir().join("adapter_model.safetensors"), &Device::Cpu).unwrap();
    let mut a: Vec<_> = ours.iter().map(|(k, v)| (k.clone(), v.dims().to_vec())).collect();
    let mut b: Vec<_> = theirs.iter().map(|(k, v)| (k.clone(), v.dims().to_vec())).collect();
    a.sort();
    b.sort();
    assert_eq!(a, b);
    for (k, v) in &theirs {
        assert_eq!(max_abs_diff(v, &ours[k]), 0.0, "{k}");
    }
    let back = Adapter::load(&base, &dir).unwrap();
    let x = ids();
    assert_eq!(max_abs_diff(&back.model().unwrap().forward(&x).unwrap(), &ad.model().unwrap().forward(&x).unwrap()), 0.0);
}

/// An adapter trained here, saved with its logits for `scripts/make_peft_fixture.py --check
/// target/test-scratch/peft-reverse` (PEFT loads it and compares; run by hand, see the script).
#[test]
fn lora_trained_here_saves_for_peft() {
    let base = base();
    let ad = Adapter::new(&base, &AdapterConfig::lora(2, 4.0, &["c_attn", "c_proj"]), 3).unwrap();
    let cfg = TrainConfig { steps: 3, batch_size: 2, clip: None, progress: false, ..Default::default() };
    let mut tr = ad.trainer(Box::new(AdamW::new(AdamWConfig { lr: 1e-2, weight_decay: 0.0, ..Default::default() })), cfg).unwrap();
    let x = ids();
    for _ in 0..3 {
        ad.train_step(&mut tr, &[(x.clone(), x.clone())]).unwrap();
    }
    let logits = ad.model().unwrap().forward(&x).unwrap();
    assert!(max_abs_diff(&logits, &base.forward(&x).unwrap()) > 1e-4);
    let dir = scratch("peft-reverse");
    ad.save(&dir, "tests/fixtures/hf/bare").unwrap();
    let ids64 = x.to_dtype(DType::I64).unwrap();
    candle_core::safetensors::save(&std::collections::HashMap::from([("input_ids".to_string(), ids64), ("logits".to_string(), logits)]), dir.join("rust_logits.safetensors")).unwrap();
}

fn tiny() -> Gpt2 {
    Gpt2::random(gpt2lab::model::Gpt2Config::tiny(50, 16, 16, 2, 2), 3, &Device::Cpu).unwrap()
}

#[test]
fn delta_is_zero_at_init_and_counts_are_exact() {
    let m = tiny();
    let x = Tensor::from_vec((0..16u32).map(|i| i * 3 % 50).collect::<Vec<_>>(), (2, 8), &Device::Cpu).unwrap();
    let base_logits = m.forward(&x).unwrap();
    for cfg in [AdapterConfig::lora(4, 8.0, &["c_attn.q", "c_attn.v"]), AdapterConfig::nola(4, 8.0, 32, 11, &["c_attn.q", "c_attn.v"]), AdapterConfig::lora(2, 2.0, &["c_fc", "c_proj"])] {
        let ad = Adapter::new(&m, &cfg, 5).unwrap();
        for n in ad.site_names() {
            let d = ad.delta_w(&n).unwrap();
            assert_eq!(d.abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap(), 0.0, "{n}");
        }
        assert_eq!(max_abs_diff(&ad.model().unwrap().forward(&x).unwrap(), &base_logits), 0.0);
    }
    // LoRA on q,v: 2 sites per layer × r·(C + C); NOLA: 2k per site (the paper's 4·k·L on q,v)
    let (l, c) = (2, 16);
    assert_eq!(Adapter::new(&m, &AdapterConfig::lora(4, 8.0, &["c_attn.q", "c_attn.v"]), 0).unwrap().n_trainable(), 2 * l * 4 * (c + c));
    assert_eq!(Adapter::new(&m, &AdapterConfig::nola(4, 8.0, 32, 1, &["c_attn.q", "c_attn.v"]), 0).unwrap().n_trainable(), 4 * 32 * l);
    // c_fc (C → 4C) and both c_proj (C → C, 4C → C)
    assert_eq!(Adapter::new(&m, &AdapterConfig::lora(2, 2.0, &["c_fc", "c_proj"]), 0).unwrap().n_trainable(), l * 2 * ((c + 4 * c) + (c + c) + (4 * c + c)));
}

#[test]
fn paper_parameter_counts() {
    // NOLA (paper's scripts): q,v with k = 512 on GPT-2 M, k = 256 on GPT-2 L; LoRA r = 1, 4 on GPT-2 M.
    // Counted on the configs alone (random weights of that size would take minutes to build).
    let count = |cfg: &gpt2lab::model::Gpt2Config, ac: &AdapterConfig| -> usize {
        resolve_targets(cfg, &ac.targets).unwrap().iter().map(|s| match ac.method {
            Method::Lora => { let (i, o) = s.dims(cfg); ac.r * (i + o) }
            Method::Nola { num_basis, .. } => 2 * num_basis,
            Method::Hut => { let (i, o) = s.dims(cfg); ac.r * (i + o) }
        }).sum()
    };
    let (m, l) = (gpt2lab::model::Gpt2Config::gpt2_medium(), gpt2lab::model::Gpt2Config::gpt2_large());
    assert_eq!(count(&m, &AdapterConfig::nola(8, 8.0, 512, 0, &["c_attn.q", "c_attn.v"])), 49_152);
    assert_eq!(count(&l, &AdapterConfig::nola(8, 2.0, 256, 0, &["c_attn.q", "c_attn.v"])), 36_864);
    assert_eq!(count(&m, &AdapterConfig::lora(1, 1.0, &["c_attn.q", "c_attn.v"])), 98_304);
    assert_eq!(count(&m, &AdapterConfig::lora(4, 4.0, &["c_attn.q", "c_attn.v"])), 393_216);
    // and the same formula is what Adapter::n_trainable reports, on a model small enough to build
    let t = tiny();
    for ac in [AdapterConfig::nola(8, 8.0, 64, 0, &["c_attn.q", "c_attn.v"]), AdapterConfig::lora(3, 3.0, &["c_attn", "mlp.c_proj"])] {
        assert_eq!(Adapter::new(&t, &ac, 0).unwrap().n_trainable(), count(&t.cfg, &ac));
    }
}

fn train_some(ad: &Adapter, steps: usize) -> gpt2lab::train::Trainer {
    let cfg = TrainConfig { steps, batch_size: 4, clip: None, schedule: LrSchedule::Constant { lr: 2e-2 }, progress: false, ..Default::default() };
    let mut tr = ad.trainer(Box::new(AdamW::new(AdamWConfig { lr: 2e-2, weight_decay: 0.0, ..Default::default() })), cfg).unwrap();
    let x = Tensor::from_vec((0..32u32).map(|i| i * 7 % 50).collect::<Vec<_>>(), (4, 8), &Device::Cpu).unwrap();
    let y = Tensor::from_vec((0..32u32).map(|i| (i * 7 + 3) % 50).collect::<Vec<_>>(), (4, 8), &Device::Cpu).unwrap();
    let first = ad.train_step(&mut tr, &[(x.clone(), y.clone())]).unwrap().loss;
    let mut last = first;
    for _ in 1..steps {
        last = ad.train_step(&mut tr, &[(x.clone(), y.clone())]).unwrap().loss;
    }
    assert!(last < first, "training lowers the loss: {first} -> {last}");
    tr
}

#[test]
fn training_moves_only_the_factors_and_merge_matches() {
    let m = tiny();
    let before: Vec<(String, Vec<f32>)> = m.named_tensors().into_iter().map(|(n, t)| (n, t.flatten_all().unwrap().to_vec1::<f32>().unwrap())).collect();
    for cfg in [AdapterConfig::lora(2, 4.0, &["c_attn.q", "c_attn.v", "c_fc"]).with_dropout(0.1), AdapterConfig::nola(2, 4.0, 16, 9, &["c_attn.q", "c_attn.v"])] {
        let mut ad = Adapter::new(&m, &cfg, 1).unwrap();
        let tr = train_some(&ad, 6);
        assert_eq!(tr.params.n_trainable(), ad.n_trainable());
        // the base, as the adapter holds it and as the caller holds it, is bit-identical
        for (model, what) in [(ad.base().clone(), "adapter's base"), (m.clone(), "caller's model")] {
            for ((n, t), (n0, v0)) in model.named_tensors().into_iter().zip(&before) {
                assert_eq!(&n, n0);
                assert!(t.flatten_all().unwrap().to_vec1::<f32>().unwrap() == *v0, "{what}: {n} changed");
            }
        }
        // the clone inside the trainer shares the factors: ΔW ≠ 0 now
        let n0 = ad.site_names()[0].clone();
        assert!(ad.delta_w(&n0).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap() > 0.0);
        let x = Tensor::from_vec((0..16u32).map(|i| i * 5 % 50).collect::<Vec<_>>(), (2, 8), &Device::Cpu).unwrap();
        let unmerged = ad.model().unwrap().forward(&x).unwrap();
        ad.merge().unwrap();
        let merged = ad.base().forward(&x).unwrap();
        assert!(max_abs_diff(&merged, &unmerged) < 1e-5);
        ad.unmerge().unwrap();
        let w0 = m.blocks[0].attn.c_attn_w.clone();
        assert!(max_abs_diff(&ad.base_weight(0, Proj::CAttn).unwrap(), &w0) < 1e-6);
        assert!(max_abs_diff(&ad.model().unwrap().forward(&x).unwrap(), &unmerged) < 1e-5);
    }
}

#[test]
fn nola_basis_is_deterministic_cached_or_regenerated_and_saves_only_coefficients() {
    let m = tiny();
    let cfg = AdapterConfig::nola(2, 4.0, 16, 42, &["c_attn.q", "c_attn.v"]);
    let ad = Adapter::new(&m, &cfg, 0).unwrap();
    let _tr = train_some(&ad, 4);
    let name = ad.site_names()[1].clone();
    let regen = ad.delta_w(&name).unwrap();
    let mut cached = ad.clone();
    cached.cache_basis(true).unwrap();
    assert_eq!(max_abs_diff(&cached.delta_w(&name).unwrap(), &regen), 0.0);
    // two bases from the same seed are the same numbers; another seed gives others
    let site = ad.sites()[1].site;
    let (a1, _) = gpt2lab::peft::adapter::nola_basis(&cfg.method, 2, &site, 16, 16, &Device::Cpu).unwrap();
    let (a2, _) = gpt2lab::peft::adapter::nola_basis(&cfg.method, 2, &site, 16, 16, &Device::Cpu).unwrap();
    let (a3, _) = gpt2lab::peft::adapter::nola_basis(&Method::Nola { num_basis: 16, basis_seed: 43 }, 2, &site, 16, 16, &Device::Cpu).unwrap();
    assert_eq!(max_abs_diff(&a1, &a2), 0.0);
    assert!(max_abs_diff(&a1, &a3) > 0.1);
    // saved: coefficients only (2 sites × 2 layers × 2 factors × k floats); loaded: same ΔW
    let dir = scratch("nola-save");
    ad.save(&dir, "tiny").unwrap();
    let saved = candle_core::safetensors::load(dir.join("adapter_model.safetensors"), &Device::Cpu).unwrap();
    assert_eq!(saved.values().map(|t| t.elem_count()).sum::<usize>(), ad.n_trainable());
    assert!(saved.keys().all(|k| k.contains("nola_coef_")));
    let back = Adapter::load(&m, &dir).unwrap();
    assert_eq!(max_abs_diff(&back.delta_w(&name).unwrap(), &regen), 0.0);
}

#[test]
fn typed_errors_for_adapters_that_do_not_fit() {
    let m = tiny();
    match Adapter::new(&m, &AdapterConfig::lora(2, 2.0, &["q_proj"]), 0) {
        Err(Error::AdapterTarget { target, valid }) => {
            assert_eq!(target, "q_proj");
            assert!(valid.iter().any(|v| v == "c_attn.q"));
        }
        other => panic!("{other:?}"),
    }
    let e = Adapter::new(&m, &AdapterConfig::lora(2, 2.0, &["q_proj"]), 0).unwrap_err().to_string();
    assert!(e.contains("q_proj") && e.contains("c_attn"), "{e}");
    assert!(matches!(Adapter::new(&m, &AdapterConfig::lora(0, 2.0, &["c_attn"]), 0), Err(Error::AdapterConfig(_))));
    assert!(matches!(Adapter::new(&m, &AdapterConfig::lora(2, 2.0, &["c_attn"]).with_dropout(1.0), 0), Err(Error::AdapterConfig(_))));
    // the PEFT adapter (n_embd 32) on a model of another width
    match Adapter::load(&m, peft_dir()) {
        Err(Error::AdapterMismatch(msg)) => assert!(msg.contains("shape"), "{msg}"),
        other => panic!("{other:?}"),
    }
    // another rank: the config says r = 2, the tensors are rank 4
    let dir = scratch("peft-wrong-rank");
    std::fs::copy(peft_dir().join("adapter_model.safetensors"), dir.join("adapter_model.safetensors")).unwrap();
    let cfg = std::fs::read_to_string(peft_dir().join("adapter_config.json")).unwrap().replace("\"r\": 4", "\"r\": 2");
    std::fs::write(dir.join("adapter_config.json"), cfg).unwrap();
    assert!(matches!(Adapter::load(&base(), &dir), Err(Error::AdapterMismatch(_))));
    // a PEFT option we do not implement is refused, not ignored
    let cfg = std::fs::read_to_string(peft_dir().join("adapter_config.json")).unwrap().replace("\"use_dora\": false", "\"use_dora\": true");
    std::fs::write(dir.join("adapter_config.json"), cfg).unwrap();
    assert!(matches!(Adapter::load(&base(), &dir), Err(Error::Unsupported(_))));
    // merging twice, training a merged adapter
    let mut ad = Adapter::new(&m, &AdapterConfig::lora(2, 2.0, &["c_attn"]), 0).unwrap();
    ad.merge().unwrap();
    assert!(matches!(ad.merge(), Err(Error::AdapterConfig(_))));
    assert!(ad.trainer(Box::new(AdamW::new(AdamWConfig::default())), TrainConfig::default()).is_err());
    let _ = DType::F32;
}

#[test]
fn flop_counts_follow_the_formulas() {
    let cfg = gpt2lab::model::Gpt2Config::tiny(100, 16, 8, 1, 2);
    // one layer, C = 8, M = 32, V = 100, batch 1 × seq 4
    let per_tok = 2.0 * (8.0 * 24.0 + 64.0 + 2.0 * 8.0 * 32.0) + 2.0 * 2.0 * 4.0 * 8.0 + 2.0 * 8.0 * 100.0;
    assert_eq!(forward_flops(&cfg, 1, 4), 4.0 * per_tok);
    let full = full_finetune_flops(&cfg, 1, 4);
    assert_eq!(full.backward, 2.0 * full.forward);
    let ws = adapter_flops(&cfg, 1, 4, 2, &[(8, 8)], AdapterPath::WeightSpace);
    assert_eq!(ws.forward - full.forward, 2.0 * 2.0 * 64.0);
    let act = adapter_flops(&cfg, 1, 4, 2, &[(8, 8)], AdapterPath::ActivationSpace);
    assert_eq!(act.forward - full.forward, 2.0 * 4.0 * 2.0 * 16.0);
    assert!(act.total() < full.total() && ws.total() < full.total());
}
