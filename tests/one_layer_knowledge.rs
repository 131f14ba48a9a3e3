//! The attention-only model variant (`mlp = none`) against a hand-written reference, its
//! parameter count, save/load, hooks and adapters; the one-layer knowledge pipeline's pieces;
//! the full-scale configuration on a random-weight HF-layout checkpoint.

use std::collections::HashMap;

use candle_core::{Device, Tensor};
use gpt2lab::data::facts::{FactWorld, FactsConfig};
use gpt2lab::hooks::HookSpec;
use gpt2lab::model::{Gpt2, Gpt2Config, MlpKind};
use gpt2lab::papers::one_layer_knowledge as olk;
use gpt2lab::peft::{Adapter, AdapterConfig, DeltaSpectrum};
use gpt2lab::Error;

fn scratch(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("gpt2lab-olk-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn attn_only(vocab: usize, c: usize, layers: usize, heads: usize) -> Gpt2Config {
    Gpt2Config {
        mlp: MlpKind::None,
        ..Gpt2Config::tiny(vocab, 16, c, layers, heads)
    }
}

fn vec2(t: &Tensor) -> Vec<Vec<f64>> {
    t.to_dtype(candle_core::DType::F64).unwrap().to_vec2::<f64>().unwrap()
}
fn vec1(t: &Tensor) -> Vec<f64> {
    t.to_dtype(candle_core::DType::F64).unwrap().to_vec1::<f64>().unwrap()
}

fn layer_norm(x: &[f64], g: &[f64], b: &[f64]) -> Vec<f64> {
    let n = x.len() as f64;
    let mu = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mu) * (v - mu)).sum::<f64>() / n;
    x.iter().enumerate().map(|(i, v)| (v - mu) / (var + 1e-5).sqrt() * g[i] + b[i]).collect()
}

fn affine(x: &[f64], w: &[Vec<f64>], b: &[f64]) -> Vec<f64> {
    // Conv1D: w is [in, out]
    (0..b.len()).map(|j| b[j] + x.iter().enumerate().map(|(i, v)| v * w[i][j]).sum::<f64>()).collect()
}

/// An attention-only GPT-2 written out in loops, in f64, from the named tensors: embeddings,
/// per block ln_1 → causal multi-head attention → residual add, then ln_f and the tied unembedding.
fn reference_logits(m: &Gpt2, ids: &[u32]) -> Vec<Vec<f64>> {
    let t: HashMap<String, Tensor> = m.named_tensors().into_iter().collect();
    let (c, h) = (m.cfg.n_embd, m.cfg.n_head);
    let dh = c / h;
    let (wte, wpe) = (vec2(&t["wte.weight"]), vec2(&t["wpe.weight"]));
    let mut x: Vec<Vec<f64>> = ids.iter().enumerate().map(|(p, &id)| (0..c).map(|i| wte[id as usize][i] + wpe[p][i]).collect()).collect();
    for l in 0..m.cfg.n_layer {
        let g = |n: &str| t[&format!("h.{l}.{n}")].clone();
        let (g1, b1) = (vec1(&g("ln_1.weight")), vec1(&g("ln_1.bias")));
        let (wa, ba, wp, bp) = (
            vec2(&g("attn.c_attn.weight")),
            vec1(&g("attn.c_attn.bias")),
            vec2(&g("attn.c_proj.weight")),
            vec1(&g("attn.c_proj.bias")),
        );
        let qkv: Vec<Vec<f64>> = x.iter().map(|r| affine(&layer_norm(r, &g1, &b1), &wa, &ba)).collect();
        let mut z = vec![vec![0.0; c]; ids.len()];
        for head in 0..h {
            for qi in 0..ids.len() {
                let s: Vec<f64> = (0..=qi)
                    .map(|ki| (0..dh).map(|d| qkv[qi][head * dh + d] * qkv[ki][c + head * dh + d]).sum::<f64>() / (dh as f64).sqrt())
                    .collect();
                let mx = s.iter().cloned().fold(f64::MIN, f64::max);
                let e: Vec<f64> = s.iter().map(|v| (v - mx).exp()).collect();
                let tot: f64 = e.iter().sum();
                for (ki, w) in e.iter().enumerate() {
                    for d in 0..dh {
                        z[qi][head * dh + d] += w / tot * qkv[ki][2 * c + head * dh + d];
                    }
                }
            }
        }
        for (p, zr) in z.iter().enumerate() {
            let a = affine(zr, &wp, &bp);
            for i in 0..c {
                x[p][i] += a[i];
            }
        }
    }
    let (gf, bf) = (vec1(&t["ln_f.weight"]), vec1(&t["ln_f.bias"]));
    x.iter()
        .map(|r| {
            let n = layer_norm(r, &gf, &bf);
            wte.iter().map(|e| e.iter().zip(&n).map(|(a, b)| a * b).sum()).collect()
        })
        .collect()
}

/// A random model with non-trivial LayerNorm and bias values (the init's are 1 and 0).
fn perturbed(cfg: Gpt2Config, seed: u64) -> Gpt2 {
    let m = Gpt2::random(cfg, seed, &Device::Cpu).unwrap();
    let mut k = 0u64;
    m.map_tensors(|name, t| {
        k += 1;
        if name.contains("ln") || name.ends_with(".bias") {
            let noise = Tensor::randn(0f32, 0.3, t.shape(), &Device::Cpu)?;
            let _ = k;
            Ok((t + noise)?)
        } else {
            Ok((t * 10.0)?) // larger weights: sharper attention, so a wrong mask or scale shows
        }
    })
    .unwrap()
}

#[test]
fn attention_only_logits_match_a_hand_written_reference() {
    for (layers, heads) in [(1, 2), (2, 4)] {
        let m = perturbed(attn_only(23, 8, layers, heads), 7 + layers as u64);
        let ids = [3u32, 17, 0, 22, 5, 9];
        let got = vec2(&m.forward(&Tensor::new(&ids[..], &Device::Cpu).unwrap().unsqueeze(0).unwrap()).unwrap().squeeze(0).unwrap());
        let want = reference_logits(&m, &ids);
        let err = got.iter().flatten().zip(want.iter().flatten()).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(err < 1e-3, "{layers} layers: max |Δlogit| = {err}");
    }
}

#[test]
fn attention_only_equals_a_standard_model_whose_mlp_writes_zero() {
    let m = perturbed(attn_only(19, 8, 2, 2), 3);
    let full_cfg = Gpt2Config {
        mlp: MlpKind::Standard,
        ..m.cfg.clone()
    };
    let mut tensors: HashMap<String, Tensor> = m.named_tensors().into_iter().collect();
    let std_model = Gpt2::random(full_cfg.clone(), 11, &Device::Cpu).unwrap();
    for (n, t) in std_model.named_tensors() {
        // the MLP reads something (random ln_2, c_fc) but writes nothing (c_proj = 0)
        let t = if n.contains("mlp.c_proj") { t.zeros_like().unwrap() } else { t };
        tensors.entry(n).or_insert(t);
    }
    let with_mlp = Gpt2::from_tensors(full_cfg, &tensors).unwrap();
    let ids = Tensor::new(&[[1u32, 4, 18, 2, 2, 7]], &Device::Cpu).unwrap();
    let d = (m.forward(&ids).unwrap() - with_mlp.forward(&ids).unwrap())
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(d < 1e-5, "max |Δlogit| = {d}");
}

#[test]
fn attention_only_parameter_count_is_exact_and_has_no_mlp_weights() {
    let cfg = attn_only(50, 16, 3, 4);
    let m = Gpt2::random(cfg.clone(), 0, &Device::Cpu).unwrap();
    let named = m.named_tensors();
    assert!(
        named.iter().all(|(n, _)| !n.contains("mlp") && !n.contains("ln_2")),
        "{:?}",
        named.iter().map(|x| &x.0).collect::<Vec<_>>()
    );
    let counted: usize = named.iter().map(|(_, t)| t.elem_count()).sum();
    // by hand: wte 50·16 + wpe 16·16 + 3 × (ln_1 2·16 + c_attn 16·48+48 + c_proj 16·16+16) + ln_f 2·16
    let by_hand = 50 * 16 + 16 * 16 + 3 * (32 + 16 * 48 + 48 + 16 * 16 + 16) + 32;
    assert_eq!((counted, cfg.n_params()), (by_hand, by_hand));
    let std_cfg = Gpt2Config { mlp: MlpKind::Standard, ..cfg };
    // each block's MLP: ln_2 2·16 + c_fc 16·64+64 + c_proj 64·16+16
    assert_eq!(std_cfg.n_params() - by_hand, 3 * (32 + 16 * 64 + 64 + 64 * 16 + 16));
    assert_eq!(
        Gpt2::random(std_cfg.clone(), 0, &Device::Cpu)
            .unwrap()
            .named_tensors()
            .iter()
            .map(|(_, t)| t.elem_count())
            .sum::<usize>(),
        std_cfg.n_params()
    );
}

#[test]
fn attention_only_round_trips_and_standard_configs_are_unchanged() {
    let dir = scratch("roundtrip");
    let m = perturbed(attn_only(31, 8, 1, 2), 5);
    m.save_pretrained(&dir).unwrap();
    let json = std::fs::read_to_string(&dir.join("config.json")).unwrap();
    assert!(json.contains("\"mlp\": \"none\""), "{json}");
    let back = Gpt2::from_dir(&dir).unwrap();
    assert_eq!(back.cfg, m.cfg);
    let ids = Tensor::new(&[[1u32, 2, 30, 4]], &Device::Cpu).unwrap();
    let d = (m.forward(&ids).unwrap() - back.forward(&ids).unwrap())
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert_eq!(d, 0.0);
    // a standard config writes no `mlp` key and an HF config without one reads as standard
    let std_json = Gpt2Config::tiny(31, 8, 8, 1, 2).to_hf_json();
    assert!(!std_json.contains("\"mlp\""));
    assert_eq!(Gpt2Config::from_json_str(&std_json).unwrap().mlp, MlpKind::Standard);
    assert!(Gpt2Config::from_json_str(&std_json.replace("\"n_layer\"", "\"mlp\": \"sometimes\", \"n_layer\"")).is_err());
}

#[test]
fn attention_only_mlp_hooks_and_targets_are_typed_errors() {
    let m = Gpt2::random(attn_only(20, 8, 1, 2), 0, &Device::Cpu).unwrap();
    let ids = Tensor::new(&[[1u32, 2, 3]], &Device::Cpu).unwrap();
    for name in ["blocks.0.mlp.hook_post", "blocks.0.hook_mlp_out", "blocks.0.ln2.hook_scale"] {
        match m.run(&ids, &HookSpec::new().capture(name)) {
            Err(Error::UnknownHook { name: n, near }) => assert!(n == name && near[0].contains("mlp = none"), "{n} {near:?}"),
            other => panic!("{name}: {:?}", other.map(|_| ())),
        }
    }
    let run = m.run_with_cache(&ids).unwrap(); // capture-all skips the absent points
    assert!(run.cache.get("blocks.0.hook_resid_post").is_ok() && run.cache.get("blocks.0.hook_mlp_out").is_err());
    assert!(matches!(m.blocks[0].mlp(), Err(Error::Unsupported(_))));
    match Adapter::new(&m, &AdapterConfig::lora(1, 1.0, &["c_fc"]), 0) {
        Err(Error::AdapterTarget { valid, .. }) => assert!(valid.iter().filter(|v| v.starts_with("h.")).all(|v| !v.contains("mlp")) && valid.iter().any(|v| v == "h.0.attn.c_attn"), "{valid:?}"),
        other => panic!("{:?}", other.map(|_| ())),
    }
    assert!(Adapter::new(&m, &AdapterConfig::lora(1, 1.0, &["c_attn"]), 0).is_ok());
}

#[test]
fn pipeline_pieces_on_a_small_world() {
    let world = FactWorld::new(FactsConfig { n_subjects: 40, ..FactsConfig::ci(1) }).unwrap();
    let setup = olk::Setup {
        pt_steps: 20,
        ft_steps: 4,
        pt_batch: 8,
        ft_batch: 8,
        ..olk::Setup::ci()
    };
    let (base, curve) = olk::pretrain(&world, &setup, true, 1).unwrap();
    assert!(curve.last().unwrap().1 < curve[0].1, "{curve:?}");
    let facts = world.all_facts();
    let r = olk::recall(&base, &world, &facts, &HookSpec::new()).unwrap();
    assert!((0.0..=1.0).contains(&r));
    let qa = world.finetune_qa();
    let lora = olk::finetune(&base, &qa, &setup, &olk::Arm::Lora { r: 2 }, 0).unwrap();
    // LoRA r on c_attn (64→192), attn c_proj (64→64), c_fc (64→256), mlp c_proj (256→64): r·(in+out) each
    assert_eq!(lora.n_trainable, 2 * ((64 + 192) + (64 + 64) + (64 + 256) + (256 + 64)));
    let full = olk::finetune(&base, &qa, &setup, &olk::Arm::Full, 0).unwrap();
    let sp = olk::delta_spectra(&base, &full.model).unwrap();
    assert_eq!(sp.len(), 4);
    for s in &sp {
        assert!((s.energy().iter().sum::<f64>() - 1.0).abs() < 1e-9, "energy fractions sum to 1");
    }
    // LoRA's ΔW has rank ≤ r
    let lsp = olk::delta_spectra(&base, &lora.model).unwrap();
    assert!(lsp.iter().all(|s: &DeltaSpectrum| s.top_energy(2) > 1.0 - 1e-6 || s.singular_values[0] == 0.0));
    // the mean-ablation spec runs and changes the output
    let spec = olk::mean_ablation(&base, &world, &facts, "blocks.0.hook_mlp_out").unwrap();
    assert!(olk::recall(&base, &world, &facts, &spec).is_ok());
    let (exact, typed) = olk::qa_accuracy(&full.model, &world, &world.heldout_qa()).unwrap();
    assert!(exact <= typed);
    // attention-only models take the same pipeline, minus MLP targets
    let (ao, _) = olk::pretrain(&world, &setup, false, 1).unwrap();
    assert!(olk::finetune(&ao, &qa, &setup, &olk::Arm::Lora { r: 1 }, 0).is_err());
    assert_eq!(olk::delta_spectra(&ao, &olk::finetune(&ao, &qa, &setup, &olk::Arm::Full, 0).unwrap().model).unwrap().len(), 2);
}

#[test]
fn full_scale_setting_on_a_random_hf_layout_checkpoint() {
    // Scale::Full: the one-layer model at GPT-2 small's width (768, 12 heads) on the full world,
    // written and read back in HF layout, one fine-tuning step of each arm
    let world = FactWorld::new(FactsConfig::full(0)).unwrap();
    let setup = olk::Setup {
        pt_steps: 1,
        ft_steps: 1,
        pt_batch: 2,
        ft_batch: 2,
        ..olk::Setup::full()
    };
    assert_eq!((setup.n_embd, setup.n_head), (768, 12));
    for mlp in [true, false] {
        let m = Gpt2::random(olk::model_config(&world, &setup, mlp), 0, &Device::Cpu).unwrap();
        let dir = scratch(&format!("full-{mlp}"));
        m.save_pretrained(&dir).unwrap();
        let back = Gpt2::from_dir(&dir).unwrap();
        assert_eq!(back.cfg.n_params(), m.cfg.n_params());
        assert_eq!(back.cfg.n_layer, 1);
        let qa = world.finetune_qa();
        let arms = if mlp { vec![olk::Arm::Full, olk::Arm::Lora { r: 1 }] } else { vec![olk::Arm::Full] };
        for arm in arms {
            let ft = olk::finetune(&back, &qa[..4], &setup, &arm, 0).unwrap();
            assert!(ft.final_loss.is_finite());
        }
        assert!(olk::qa_accuracy(&back, &world, &world.heldout_qa()[..8]).is_ok());
    }
}
