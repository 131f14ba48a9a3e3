//! KV cache, padding, hooks and error behaviour on small random models.

mod common;
use common::*;

use candle_core::{Device, Tensor};
use gpt2lab::hooks::{HookPoint, HookSpec, Intervention};
use gpt2lab::model::{ForwardOpts, Gpt2, Gpt2Config, KvCache};
use gpt2lab::Error;

fn tiny() -> Gpt2 {
    Gpt2::random(Gpt2Config::tiny(97, 32, 24, 3, 4), 7, &Device::Cpu).unwrap()
}

fn ids(v: &[u32]) -> Tensor {
    Tensor::from_vec(v.to_vec(), (1, v.len()), &Device::Cpu).unwrap()
}

#[test]
fn kv_cache_decoding_equals_full_recomputation() {
    let m = tiny();
    let seq: Vec<u32> = vec![3, 14, 15, 92, 65, 35, 89, 79, 32, 38];
    let full = m.forward(&ids(&seq)).unwrap(); // (1, T, V)
    let mut kv = KvCache::new(m.cfg.n_layer);
    // prefill 4, then one token at a time
    let mut parts = vec![m.run_with(&ids(&seq[..4]), &HookSpec::new(), ForwardOpts::default(), Some(&mut kv)).unwrap().logits];
    for &t in &seq[4..] {
        parts.push(m.run_with(&ids(&[t]), &HookSpec::new(), ForwardOpts::default(), Some(&mut kv)).unwrap().logits);
    }
    let inc = Tensor::cat(&parts, 1).unwrap();
    assert!(max_abs_diff(&full, &inc) < 1e-5);
    assert_eq!(kv.len(), seq.len());
}

#[test]
fn padded_batches_equal_unpadded_single_runs() {
    let m = tiny();
    let a: Vec<u32> = vec![5, 6, 7, 8, 9, 10];
    let b: Vec<u32> = vec![11, 12, 13];
    for left in [true, false] {
        let (row_b, mask_b): (Vec<u32>, Vec<u32>) = if left {
            ([0, 0, 0].iter().chain(&b).copied().collect(), vec![0, 0, 0, 1, 1, 1])
        } else {
            (b.iter().chain(&[0, 0, 0]).copied().collect(), vec![1, 1, 1, 0, 0, 0])
        };
        let batch = Tensor::from_vec([a.clone(), row_b].concat(), (2, 6), &Device::Cpu).unwrap();
        let mask = Tensor::from_vec([vec![1u32; 6], mask_b].concat(), (2, 6), &Device::Cpu).unwrap();
        let out = m.run_with(&batch, &HookSpec::new(), ForwardOpts { attention_mask: Some(&mask), last_only: false }, None).unwrap().logits;
        let sa = m.forward(&ids(&a)).unwrap();
        let sb = m.forward(&ids(&b)).unwrap();
        assert!(max_abs_diff(&out.get(0).unwrap(), &sa.get(0).unwrap()) < 1e-5);
        let real = if left { out.get(1).unwrap().narrow(0, 3, 3).unwrap() } else { out.get(1).unwrap().narrow(0, 0, 3).unwrap() };
        let d = max_abs_diff(&real, &sb.get(0).unwrap());
        assert!(d < 1e-5, "left={left}: {d}");
    }
}

#[test]
fn batched_generation_equals_single_generation() {
    let m = tiny();
    let cfg = gpt2lab::generate::GenerateConfig::greedy(8);
    let p1 = vec![1u32, 2, 3, 4, 5];
    let p2 = vec![9u32, 8];
    let both = m.generate_batch(&[p1.clone(), p2.clone()], &cfg, &HookSpec::new(), None).unwrap();
    assert_eq!(both[0], m.generate(&p1, &cfg).unwrap());
    assert_eq!(both[1], m.generate(&p2, &cfg).unwrap());
}

#[test]
fn seeded_sampling_is_reproducible() {
    let m = tiny();
    let cfg = gpt2lab::generate::GenerateConfig::sample(12, 1.0, 42).top_k(20);
    let a = m.generate(&[1, 2, 3], &cfg).unwrap();
    assert_eq!(a, m.generate(&[1, 2, 3], &cfg).unwrap());
    let other = gpt2lab::generate::GenerateConfig::sample(12, 1.0, 43).top_k(20);
    assert_ne!(a, m.generate(&[1, 2, 3], &other).unwrap(), "different seeds should differ on a random model");
}

#[test]
fn stop_tokens_end_a_row() {
    let m = tiny();
    let free = m.generate(&[1, 2, 3], &gpt2lab::generate::GenerateConfig::greedy(10)).unwrap();
    let stop = free[2];
    let first = free.iter().position(|&t| t == stop).unwrap();
    let cut = m.generate(&[1, 2, 3], &gpt2lab::generate::GenerateConfig::greedy(10).stop_at(&[stop])).unwrap();
    assert_eq!(cut, free[..=first].to_vec());
}

#[test]
fn score_continuation_matches_forward() {
    let m = tiny();
    let lp = m.score_continuation(&[4, 5, 6], &[7, 8]).unwrap();
    let logits = m.forward(&ids(&[4, 5, 6, 7])).unwrap().squeeze(0).unwrap();
    let row: Vec<f32> = logits.get(2).unwrap().to_vec1().unwrap();
    let lse = row.iter().map(|x| x.exp()).sum::<f32>().ln();
    assert!((lp[0] - (row[7] - lse)).abs() < 1e-4);
    assert_eq!(lp.len(), 2);
}

#[test]
fn empty_spec_captures_nothing_and_changes_nothing() {
    let m = tiny();
    let x = ids(&[1, 2, 3, 4]);
    let run = m.run(&x, &HookSpec::new()).unwrap();
    assert!(run.cache.is_empty());
    let all = m.run_with_cache(&x).unwrap();
    assert_eq!(all.cache.len(), HookPoint::all(3).len());
    assert!(max_abs_diff(&run.logits, &all.logits) < 1e-5);
}

#[test]
fn cache_shapes_follow_transformerlens() {
    let m = tiny();
    let run = m.run_with_cache(&ids(&[1, 2, 3, 4, 5])).unwrap();
    let c = &run.cache;
    assert_eq!(c.get("blocks.1.attn.hook_q").unwrap().dims(), &[1, 5, 4, 6]);
    assert_eq!(c.get("blocks.1.attn.hook_pattern").unwrap().dims(), &[1, 4, 5, 5]);
    assert_eq!(c.get("blocks.0.mlp.hook_post").unwrap().dims(), &[1, 5, 96]);
    assert_eq!(c.get("blocks.2.ln2.hook_scale").unwrap().dims(), &[1, 5, 1]);
    assert_eq!(c.get("hook_pos_embed").unwrap().dims(), &[1, 5, 24]);
    assert_eq!(c.stack("hook_resid_post").unwrap().dims(), &[3, 1, 5, 24]);
    // resid_pre(i+1) == resid_post(i)
    assert_eq!(max_abs_diff(c.get("blocks.0.hook_resid_post").unwrap(), c.get("blocks.1.hook_resid_pre").unwrap()), 0.0);
    // attention patterns are causal and rows sum to 1
    let p: Vec<Vec<f32>> = c.get("blocks.0.attn.hook_pattern").unwrap().get(0).unwrap().get(0).unwrap().to_vec2().unwrap();
    for (q, row) in p.iter().enumerate() {
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert!(row[q + 1..].iter().all(|&v| v == 0.0));
    }
}

#[test]
fn decompose_resid_sums_to_final_residual() {
    let m = tiny();
    let run = m.run_with_cache(&ids(&[1, 2, 3])).unwrap();
    let (parts, labels) = run.cache.decompose_resid().unwrap();
    assert_eq!(labels.len(), 2 + 2 * 3);
    let sum = parts.sum(0).unwrap();
    assert!(max_abs_diff(&sum, run.cache.get("blocks.2.hook_resid_post").unwrap()) < 1e-5);
    // the LN-scaled stack, unembedded with ln_f's affine, reproduces the logits
    let (acc, _) = run.cache.accumulated_resid(false).unwrap();
    let scaled = run.cache.apply_ln_to_stack(&acc).unwrap();
    let last = scaled.get(3).unwrap();
    let logits = m.unembed_normalized(&last.broadcast_mul(&m.ln_f.weight).unwrap().broadcast_add(&m.ln_f.bias).unwrap()).unwrap();
    assert!(max_abs_diff(&logits, &run.logits) < 1e-4);
}

#[test]
fn interventions_change_what_they_should() {
    let m = tiny();
    let x = ids(&[1, 2, 3, 4]);
    let clean = m.run_with_cache(&x).unwrap();
    // zero-ablating every attention and MLP output leaves logits = unembed(embeddings)
    let mut spec = HookSpec::new();
    for i in 0..3 {
        spec = spec.intervene(HookPoint::AttnOut(i), Intervention::Zero).intervene(HookPoint::MlpOut(i), Intervention::Zero);
    }
    let ablated = m.run(&x, &spec).unwrap();
    let emb = (clean.cache.get("hook_embed").unwrap() + clean.cache.get("hook_pos_embed").unwrap()).unwrap();
    assert!(max_abs_diff(&ablated.logits, &m.unembed(&emb).unwrap()) < 1e-4);
    // patching the clean resid_pre into a corrupted run at every position restores the clean logits
    let corrupt = ids(&[1, 9, 3, 4]);
    let src = clean.cache.get("blocks.1.hook_resid_pre").unwrap().clone();
    let patched = m.run(&corrupt, &HookSpec::new().intervene("blocks.1.hook_resid_pre", Intervention::PatchPositions { source: src.clone(), positions: vec![0, 1, 2, 3] })).unwrap();
    assert!(max_abs_diff(&patched.logits, &clean.logits) < 1e-5);
    // patching one position changes only that position onwards
    let one = m.run(&corrupt, &HookSpec::new().intervene("blocks.1.hook_resid_pre", Intervention::PatchPositions { source: src, positions: vec![2] })).unwrap();
    let corrupt_logits = m.forward(&corrupt).unwrap();
    assert!(max_abs_diff(&one.logits.narrow(1, 0, 2).unwrap(), &corrupt_logits.narrow(1, 0, 2).unwrap()) < 1e-6);
    // adding a steering vector shifts resid_post by exactly that vector
    let v = Tensor::ones(24, candle_core::DType::F32, &Device::Cpu).unwrap();
    let steered = m.run(&x, &HookSpec::new().intervene("blocks.2.hook_resid_post", Intervention::Add(v)).capture("blocks.2.hook_resid_post")).unwrap();
    let diff = (steered.cache.get("blocks.2.hook_resid_post").unwrap() - clean.cache.get("blocks.2.hook_resid_post").unwrap()).unwrap();
    assert!(max_abs_diff(&diff, &diff.ones_like().unwrap()) < 1e-5);
    // zeroing a head's z equals patching in zeros for that head
    let zh = m.run(&x, &HookSpec::new().intervene("blocks.0.attn.hook_z", Intervention::ZeroHeads(vec![1])).capture("blocks.0.attn.hook_z")).unwrap();
    let z = zh.cache.get("blocks.0.attn.hook_z").unwrap();
    assert_eq!(z.narrow(2, 1, 1).unwrap().abs().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap(), 0.0);
    assert!(z.narrow(2, 0, 1).unwrap().abs().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap() > 0.0);
    // a custom closure sees its hook point
    let custom = Intervention::custom(|x, p| {
        assert_eq!(p, HookPoint::MlpPost(0));
        x.affine(0.0, 0.0)
    });
    let c = m.run(&x, &HookSpec::new().intervene("blocks.0.mlp.hook_post", custom).capture("blocks.0.hook_mlp_out")).unwrap();
    // mlp_out = 0 @ W + b = the bias
    let out = c.cache.get("blocks.0.hook_mlp_out").unwrap().get(0).unwrap().get(0).unwrap();
    assert!(max_abs_diff(&out, &m.blocks[0].mlp().unwrap().c_proj_b) < 1e-6);
}

#[test]
fn hooks_stay_active_during_generation() {
    let m = tiny();
    let cfg = gpt2lab::generate::GenerateConfig::greedy(6);
    let plain = m.generate(&[1, 2, 3], &cfg).unwrap();
    // steer the last residual stream towards token 50's embedding (a constant vector would be
    // removed by the final LayerNorm's centring)
    let v = m.wte.get(50).unwrap().affine(50.0, 0.0).unwrap();
    let spec = HookSpec::new().intervene("blocks.2.hook_resid_post", Intervention::Add(v)).capture("blocks.0.attn.hook_pattern");
    let mut steps = vec![];
    let mut cb = |s: &gpt2lab::generate::Step| {
        steps.push(s.cache.get("blocks.0.attn.hook_pattern").unwrap().dims().to_vec());
        true
    };
    let steered = m.generate_batch(&[vec![1, 2, 3]], &cfg, &spec, Some(&mut cb)).unwrap().remove(0);
    assert!(steered.iter().all(|&t| t == 50), "steered output {steered:?}");
    assert_ne!(plain, steered);
    // prefill sees 3 queries; later steps one query over a growing cache
    assert_eq!(steps[0], vec![1, 4, 3, 3]);
    assert_eq!(steps[1], vec![1, 4, 1, 4]);
    assert_eq!(steps.len(), 6);
}

// ---- errors, not panics ----

#[test]
fn prompt_longer_than_context_is_an_error() {
    let m = tiny();
    let long: Vec<u32> = (0..40).map(|i| i % 90).collect();
    assert!(matches!(m.forward(&ids(&long)), Err(Error::PromptTooLong { len: 40, n_ctx: 32 })));
    assert!(matches!(m.generate(&long[..30], &gpt2lab::generate::GenerateConfig::greedy(5)), Err(Error::PromptTooLong { .. })));
}

#[test]
fn empty_prompt_is_an_error() {
    let m = tiny();
    let empty = Tensor::zeros((1, 0), candle_core::DType::U32, &Device::Cpu).unwrap();
    assert!(matches!(m.forward(&empty), Err(Error::EmptyInput(_))));
    assert!(matches!(m.generate(&[], &gpt2lab::generate::GenerateConfig::greedy(3)), Err(Error::EmptyInput(_))));
}

#[test]
fn out_of_range_and_float_ids_are_errors() {
    let m = tiny();
    assert!(matches!(m.forward(&ids(&[1, 500])), Err(Error::TokenOutOfRange { id: 500, vocab: 97 })));
    let f = Tensor::new(&[[1.0f32, 2.0]], &Device::Cpu).unwrap();
    assert!(matches!(m.forward(&f), Err(Error::Shape(_))));
}

#[test]
fn unknown_hook_names_are_errors_with_suggestions() {
    let m = tiny();
    let e = m.run(&ids(&[1, 2]), &HookSpec::new().capture("blocks.1.attn.hook_patern")).unwrap_err();
    assert!(e.to_string().contains("blocks.1.attn.hook_pattern"), "{e}");
    let e = m.run(&ids(&[1, 2]), &HookSpec::new().capture("blocks.9.hook_resid_pre")).unwrap_err();
    assert!(matches!(e, Error::UnknownHook { .. }), "{e}");
    let e = m.run_with_cache(&ids(&[1, 2])).unwrap().cache.detach();
    assert!(e.get("blocks.0.hook_resid_pre").is_ok());
}

#[test]
fn mis_shaped_intervention_is_an_error() {
    let m = tiny();
    let wrong = Tensor::zeros((1, 3, 24), candle_core::DType::F32, &Device::Cpu).unwrap();
    let e = m.run(&ids(&[1, 2]), &HookSpec::new().intervene("blocks.0.hook_resid_pre", Intervention::Replace(wrong))).unwrap_err();
    assert!(matches!(e, Error::Hook { .. }), "{e}");
}
