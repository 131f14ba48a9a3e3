//! gpt2lab::peft::hut: HUT's forward and gradients against an independent PyTorch
//! implementation on Hugging Face's GPT-2 (fixture by scripts/make_hut_fixture.py), a
//! hand-sized example, ΔW = 0 at init, merge parity, exact counts, a frozen base, save/load
//! and typed errors; the paper module's ci pieces and its full-scale path on a random-weight
//! checkpoint in GPT-2's HF layout.

mod common;

use candle_core::{Device, Tensor};
use common::*;
use gpt2lab::model::{Gpt2, Gpt2Config};
use gpt2lab::papers::{hut, nola};
use gpt2lab::peft::*;
use gpt2lab::train::{lm_loss, AdamW, AdamWConfig, LrSchedule, TrainConfig};
use gpt2lab::Error;

fn hut_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hut")
}
fn bare() -> Gpt2 {
    Gpt2::from_dir(fixture("bare")).unwrap()
}
fn tiny() -> Gpt2 {
    Gpt2::random(Gpt2Config::tiny(50, 16, 16, 2, 2), 3, &Device::Cpu).unwrap()
}
fn max_abs(t: &Tensor) -> f32 {
    t.abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

#[test]
fn hut_forward_and_gradients_match_pytorch() {
    let base = bare();
    let e = candle_core::safetensors::load(hut_dir().join("expected.safetensors"), &Device::Cpu)
        .unwrap();
    let ad = Adapter::load(&base, hut_dir()).unwrap();
    assert_eq!(
        (ad.cfg.method.clone(), ad.cfg.r, ad.cfg.alpha),
        (Method::Hut, 2, 4.0)
    );
    assert_eq!(ad.site_names().len(), 6);
    let x = ids_u32(&e["input_ids"]);
    let logits = ad.model().unwrap().forward(&x).unwrap();
    let d = max_abs_diff(&logits, &e["logits"]);
    assert!(d < 1e-4, "logits vs PyTorch: {d}");
    // the fixture's adapter really changes the function
    assert!(max_abs_diff(&base.forward(&x).unwrap(), &e["logits"]) > 1e-2);
    let m = ad.model_for_training().unwrap();
    let loss = lm_loss(&m, &x, &ids_u32(&e["targets"])).unwrap();
    let (l, want) = (
        loss.to_scalar::<f32>().unwrap(),
        e["loss"].to_scalar::<f32>().unwrap(),
    );
    assert!((l - want).abs() < 1e-5, "loss {l} vs PyTorch {want}");
    let grads = loss.backward().unwrap();
    let mut n = 0;
    for p in ad.params() {
        let (site, which) = p.name.rsplit_once('.').unwrap();
        let key = format!("grad.base_model.model.transformer.{site}.{which}.weight");
        let g = grads
            .get(p.var.as_tensor())
            .expect("gradient reaches the factor");
        let scale = max_abs(&e[&key]);
        assert!(
            scale > 0.0,
            "{key}: a zero reference gradient tests nothing"
        );
        let d = max_abs_diff(g, &e[&key]);
        assert!(d <= 1e-4 * scale.max(1.0), "{key}: {d} (max |g| {scale})");
        n += 1;
    }
    assert_eq!(n, 12);
    // merged forward = unmerged forward; unmerge gives W₀ back
    let mut ad = ad;
    ad.merge().unwrap();
    assert!(max_abs_diff(&ad.base().forward(&x).unwrap(), &logits) < 1e-5);
    ad.unmerge().unwrap();
    assert!(
        max_abs_diff(
            &ad.base_weight(1, Proj::CAttn).unwrap(),
            &base.blocks[1].attn.c_attn_w
        ) < 1e-6
    );
}

#[test]
fn hut_delta_on_a_hand_sized_example() {
    // W₀ (Conv1D [d_in 2, d_out 3]), A (r 1, d_in 2), B (d_out 3, r 1), s = 0.5:
    // ΔW[i][j] = s · W₀[i][j] · A[0][i] · B[j][0]
    let dev = Device::Cpu;
    let w0 = Tensor::from_vec(vec![1f32, 2., 3., 4., 5., 6.], (2, 3), &dev).unwrap();
    let a = Tensor::from_vec(vec![1f32, -2.], (1, 2), &dev).unwrap();
    let b = Tensor::from_vec(vec![0.5f32, 1., 2.], (3, 1), &dev).unwrap();
    let d = hut_delta(&w0, &a, &b, 0.5)
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    assert_eq!(d, vec![vec![0.25, 1.0, 3.0], vec![-2.0, -5.0, -12.0]]);
    // shapes that do not fit are a typed error, not a panic
    assert!(matches!(
        hut_delta(&w0, &a, &b.t().unwrap(), 0.5),
        Err(Error::Shape(_))
    ));
    assert!(matches!(
        hut_delta(&w0.t().unwrap(), &a, &b, 0.5),
        Err(Error::Shape(_))
    ));
}

#[test]
fn delta_is_zero_at_init_counts_equal_lora_and_training_keeps_the_base() {
    let m = tiny();
    let x = Tensor::from_vec(
        (0..16u32).map(|i| i * 3 % 50).collect::<Vec<_>>(),
        (2, 8),
        &Device::Cpu,
    )
    .unwrap();
    let before: Vec<(String, Vec<f32>)> = m
        .named_tensors()
        .into_iter()
        .map(|(n, t)| (n, t.flatten_all().unwrap().to_vec1::<f32>().unwrap()))
        .collect();
    let targets = ["c_attn.q", "c_attn.v", "c_fc"];
    let mut ad = Adapter::new(&m, &AdapterConfig::hut(2, 4.0, &targets), 5).unwrap();
    for n in ad.site_names() {
        assert_eq!(max_abs(&ad.delta_w(&n).unwrap()), 0.0, "{n}");
    }
    assert_eq!(
        max_abs_diff(
            &ad.model().unwrap().forward(&x).unwrap(),
            &m.forward(&x).unwrap()
        ),
        0.0
    );
    // r·(d_in + d_out) per matrix, LoRA's count: q, v (16 → 16) and c_fc (16 → 64) on 2 layers
    assert_eq!(ad.n_trainable(), 2 * (2 * 2 * (16 + 16) + 2 * (16 + 64)));
    assert_eq!(
        ad.n_trainable(),
        Adapter::new(&m, &AdapterConfig::lora(2, 4.0, &targets), 5)
            .unwrap()
            .n_trainable()
    );
    assert_eq!(AdapterConfig::hut(4, 4.0, &targets).label(), "HUT r=4");
    // a few steps: the loss falls, only the factors move, the base is bit-identical
    let cfg = TrainConfig {
        steps: 6,
        batch_size: 4,
        clip: None,
        schedule: LrSchedule::Constant { lr: 5e-2 },
        progress: false,
        ..Default::default()
    };
    let mut tr = ad
        .trainer(
            Box::new(AdamW::new(AdamWConfig {
                lr: 5e-2,
                weight_decay: 0.0,
                ..Default::default()
            })),
            cfg,
        )
        .unwrap();
    assert_eq!(tr.params.n_trainable(), ad.n_trainable());
    let xb = Tensor::from_vec(
        (0..32u32).map(|i| i * 7 % 50).collect::<Vec<_>>(),
        (4, 8),
        &Device::Cpu,
    )
    .unwrap();
    let yb = Tensor::from_vec(
        (0..32u32).map(|i| (i * 7 + 3) % 50).collect::<Vec<_>>(),
        (4, 8),
        &Device::Cpu,
    )
    .unwrap();
    let first = ad
        .train_step(&mut tr, &[(xb.clone(), yb.clone())])
        .unwrap()
        .loss;
    let mut last = first;
    for _ in 0..5 {
        last = ad
            .train_step(&mut tr, &[(xb.clone(), yb.clone())])
            .unwrap()
            .loss;
    }
    assert!(last < first, "training lowers the loss: {first} -> {last}");
    for (model, what) in [
        (ad.base().clone(), "adapter's base"),
        (m.clone(), "caller's model"),
    ] {
        for ((n, t), (n0, v0)) in model.named_tensors().into_iter().zip(&before) {
            assert_eq!(&n, n0);
            assert!(
                t.flatten_all().unwrap().to_vec1::<f32>().unwrap() == *v0,
                "{what}: {n} changed"
            );
        }
    }
    let name = ad.site_names()[0].clone();
    let dw = ad.delta_w(&name).unwrap();
    assert!(max_abs(&dw) > 0.0);
    // HUT's update is W₀-proportional: ΔW / W₀ is the rank-r matrix s·B·A
    let w0 = site_w0(&m, &ad.sites()[0].site).unwrap().t().unwrap();
    let ratio = dw.div(&w0).unwrap();
    let (a, b) = ad.factors(0).unwrap();
    assert!(max_abs_diff(&ratio, &(b.matmul(&a).unwrap() * ad.cfg.scale()).unwrap()) < 1e-4);
    // merged forward = unmerged forward, also after training, and unmerge restores W₀
    let unmerged = ad.model().unwrap().forward(&x).unwrap();
    ad.merge().unwrap();
    assert!(max_abs_diff(&ad.base().forward(&x).unwrap(), &unmerged) < 1e-5);
    // ΔW is computed from the stored W₀, not from the merged weight
    assert!(max_abs_diff(&ad.delta_w(&name).unwrap(), &dw) == 0.0);
    ad.unmerge().unwrap();
    assert!(
        max_abs_diff(
            &ad.base_weight(0, Proj::CAttn).unwrap(),
            &m.blocks[0].attn.c_attn_w
        ) < 1e-6
    );
}

#[test]
fn save_load_round_trip_and_typed_errors() {
    let base = bare();
    let ad = Adapter::load(&base, hut_dir()).unwrap();
    let dir = scratch("hut-roundtrip");
    ad.save(&dir, "tests/fixtures/hf/bare").unwrap();
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("adapter_config.json")).unwrap())
            .unwrap();
    assert_eq!(cfg["peft_type"], "HUT");
    let ours = candle_core::safetensors::load(dir.join("adapter_model.safetensors"), &Device::Cpu)
        .unwrap();
    let theirs =
        candle_core::safetensors::load(hut_dir().join("adapter_model.safetensors"), &Device::Cpu)
            .unwrap();
    assert_eq!(ours.len(), theirs.len());
    for (k, v) in &theirs {
        assert_eq!(max_abs_diff(v, &ours[k]), 0.0, "{k}");
    }
    let back = Adapter::load(&base, &dir).unwrap();
    let x = Tensor::from_vec(
        (0..24u32).map(|i| (i * 37 + 5) % 1000).collect::<Vec<_>>(),
        (2, 12),
        &Device::Cpu,
    )
    .unwrap();
    assert_eq!(
        max_abs_diff(
            &back.model().unwrap().forward(&x).unwrap(),
            &ad.model().unwrap().forward(&x).unwrap()
        ),
        0.0
    );
    // a LoRA-only loader refuses it by name
    match Adapter::load_lora(&base, &dir) {
        Err(Error::Unsupported(msg)) => assert!(msg.contains("HUT"), "{msg}"),
        other => panic!("{other:?}"),
    }
    assert!(Adapter::load_lora(
        &base,
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/peft/lora")
    )
    .is_ok());
    // a config that says LORA over HUT's tensors: the tensors are not there under LoRA's names
    let bad = scratch("hut-as-lora");
    std::fs::copy(
        dir.join("adapter_model.safetensors"),
        bad.join("adapter_model.safetensors"),
    )
    .unwrap();
    std::fs::write(
        bad.join("adapter_config.json"),
        std::fs::read_to_string(dir.join("adapter_config.json"))
            .unwrap()
            .replace("\"HUT\"", "\"LORA\""),
    )
    .unwrap();
    assert!(matches!(
        Adapter::load(&base, &bad),
        Err(Error::AdapterMismatch(_))
    ));
    // another rank in the config than in the tensors
    std::fs::write(
        bad.join("adapter_config.json"),
        std::fs::read_to_string(dir.join("adapter_config.json"))
            .unwrap()
            .replace("\"r\": 2", "\"r\": 3"),
    )
    .unwrap();
    match Adapter::load(&base, &bad) {
        Err(Error::AdapterMismatch(msg)) => assert!(msg.contains("shape"), "{msg}"),
        other => panic!("{other:?}"),
    }
    // the adapter on a model of another width
    assert!(matches!(
        Adapter::load(&tiny(), &dir),
        Err(Error::AdapterMismatch(_))
    ));
    // bad targets list the valid ones; rank 0 is refused
    match Adapter::new(&tiny(), &AdapterConfig::hut(2, 2.0, &["q_proj"]), 0) {
        Err(Error::AdapterTarget { target, valid }) => {
            assert!(target == "q_proj" && valid.iter().any(|v| v == "c_attn.q"))
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        Adapter::new(&tiny(), &AdapterConfig::hut(0, 2.0, &["c_attn"]), 0),
        Err(Error::AdapterConfig(_))
    ));
}

#[test]
fn hut_flops_by_hand() {
    // 1 layer, C 8, vocab 10, ctx 4: one q,v adapter pair (8×8 each), r 2, batch 2 × seq 4
    let cfg = Gpt2Config::tiny(10, 4, 8, 1, 2);
    let mats = [(8usize, 8usize), (8, 8)];
    let f = hut_flops(&cfg, 2, 4, 2, &mats);
    let base = forward_flops(&cfg, 2, 4);
    // forward: base + per matrix 2·r·64 (B·A) + 64 (⊙ W₀)
    assert_eq!(f.forward, base + 2.0 * (2.0 * 2.0 * 64.0 + 64.0));
    // backward: base's input gradients + per matrix 2·8 tokens·64 (weight gradient) + 64 (⊙ W₀) + 2·2·r·64
    assert_eq!(
        f.backward,
        base + 2.0 * (2.0 * 8.0 * 64.0 + 64.0 + 4.0 * 2.0 * 64.0)
    );
    assert!(f.total() < full_finetune_flops(&cfg, 2, 4).total());
}

#[test]
fn paper_module_arms_counts_and_costs() {
    let labels: Vec<String> = hut::arms().iter().map(|a| a.label.clone()).collect();
    assert_eq!(
        labels,
        ["full FT", "LoRA r=1", "LoRA r=4", "HUT r=1", "HUT r=4"]
    );
    assert!(hut::arm("HUT r=2").is_err());
    // GPT-2 medium on W_q, W_v: HUT r = LoRA r = 4 → 24 · 2 · 4 · (1024 + 1024) = 393,216 each
    let medium = Gpt2Config::gpt2_medium();
    for ac in [
        AdapterConfig::hut(4, 4.0, &nola::TARGETS),
        AdapterConfig::lora(4, 4.0, &nola::TARGETS),
    ] {
        let n: usize = resolve_targets(&medium, &ac.targets)
            .unwrap()
            .iter()
            .map(|s| {
                let (i, o) = s.dims(&medium);
                ac.r * (i + o)
            })
            .sum();
        assert_eq!(n, 393_216);
    }
    let costs = hut::step_costs(&medium, &hut::full_arms(), 8, 512).unwrap();
    let get = |p: &str| {
        costs
            .iter()
            .find(|c| c.label.starts_with(p))
            .unwrap()
            .flops
            .total()
    };
    assert_eq!(costs.len(), 4);
    // HUT pays the weight gradient of each adapted matrix: above PEFT's LoRA, below full FT
    assert!(get("HUT r=4") < get("full FT"));
    assert!(get("HUT r=4") > get("LoRA r=4 (activations"));
    assert!(get("HUT r=4") > get("LoRA r=4 (weight"));
}

#[test]
fn full_scale_path_on_a_random_gpt2_layout_checkpoint() {
    let dir = scratch("hut-full");
    Gpt2::random(Gpt2Config::tiny(50257, 64, 16, 2, 2), 0, &Device::Cpu)
        .unwrap()
        .save_pretrained(dir.join("gpt2"))
        .unwrap();
    let model = Gpt2::from_dir(dir.join("gpt2")).unwrap();
    let tok = gpt2lab::tokenizer::Gpt2Tokenizer::gpt2().unwrap();
    std::fs::write(dir.join("trainset.csv"), "mr,ref\n\"name[The Eagle], eatType[coffee shop], food[French]\",\"The Eagle is a French coffee shop.\"\n\"name[Zizzi], area[riverside]\",Zizzi is by the riverside.\n").unwrap();
    std::fs::write(dir.join("testset_w_refs.csv"), "mr,ref\n\"name[Aromi], area[city centre]\",Aromi is in the city centre.\nname[Bibimbap House],Bibimbap House.\n").unwrap();
    let data = nola::full_data(
        &tok,
        &nola::read_e2e_csv(&dir.join("trainset.csv")).unwrap(),
        &nola::read_e2e_csv(&dir.join("testset_w_refs.csv")).unwrap(),
        10,
    )
    .unwrap();
    let arms = hut::full_arms();
    assert_eq!(
        arms.iter().map(|a| a.label.as_str()).collect::<Vec<_>>(),
        ["full FT", "LoRA r=4", "HUT r=4"]
    );
    let h = arms.iter().find(|a| a.label == "HUT r=4").unwrap();
    assert!((h.lr - 2e-4 * hut::LR_HUT / nola::LR_LORA).abs() < 1e-12);
    for arm in &arms {
        let ft = nola::finetune(&model, &data, arm, 0, 2, 2).unwrap();
        let (q, hyps) = nola::evaluate(&ft.model, &data, 4).unwrap();
        assert_eq!(hyps.len(), 2);
        assert!(
            q.bleu.is_finite() && q.rouge_l.is_finite(),
            "{}: {q:?}",
            arm.label
        );
        let want = match arm.label.as_str() {
            "full FT" => model
                .named_tensors()
                .iter()
                .map(|(_, t)| t.elem_count())
                .sum::<usize>(),
            _ => 2 * 2 * 4 * (16 + 16),
        };
        assert_eq!(ft.n_trainable, want, "{}", arm.label);
        // the timing entry point runs on this checkpoint too
        assert!(hut::step_time(&model, &data, arm, 2, 1).unwrap() > 0.0);
    }
    assert!(hut::step_seq_len(&data, 2).unwrap() > 2);
}
