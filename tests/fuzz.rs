//! Property tests (proptest): every input is `Ok` or a typed `Err`, never a panic, an abort or
//! an allocation beyond a bound. Checkpoint bytes, config.json, shard indexes, token ids and
//! shapes, attention masks, hook names and interventions, tokenizer input and generation
//! configs. A panic inside a property is a failure that proptest shrinks to a minimal case.
//!
//! Bounded for `cargo test` (`FUZZ_CASES`, default 256 per property: 3,072 cases, ~2 s). A
//! longer run: `FUZZ_CASES=20000 cargo test --test fuzz` (README, "Reliability").

mod common;
use common::*;

use std::sync::OnceLock;

use candle_core::{DType, Device, Tensor};
use gpt2lab::generate::{beam_search_fn, BeamConfig, ContrastiveConfig, GenerateConfig, SamplingConfig};
use gpt2lab::hooks::{HookPoint, HookSpec, Intervention};
use gpt2lab::model::{ForwardOpts, Gpt2, Gpt2Config};
use gpt2lab::tokenizer::Gpt2Tokenizer;
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
}

fn config() -> ProptestConfig {
    ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() }
}

const VOCAB: usize = 23;
const CTX: usize = 12;

fn model() -> &'static Gpt2 {
    static M: OnceLock<Gpt2> = OnceLock::new();
    M.get_or_init(|| Gpt2::random(Gpt2Config::tiny(VOCAB, CTX, 8, 2, 2), 0, &Device::Cpu).unwrap())
}

fn fixture_bytes() -> &'static Vec<u8> {
    static B: OnceLock<Vec<u8>> = OnceLock::new();
    B.get_or_init(|| std::fs::read(fixture("prefixed").join("model.safetensors")).unwrap())
}

/// A scratch directory per proptest thread and case counter (cases run one after another).
fn case_dir(name: &str) -> std::path::PathBuf {
    let d = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-scratch/fuzz").join(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// JSON values a config field may hold in a hostile file.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        (0u64..70).prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_filter("JSON has no NaN/inf", |x| x.is_finite()).prop_map(serde_json::Value::from),
        "[a-z_]{0,12}".prop_map(serde_json::Value::from),
    ]
}

const FIELDS: &[&str] = &["vocab_size", "n_positions", "n_embd", "n_layer", "n_head", "n_inner", "activation_function", "layer_norm_epsilon", "scale_attn_weights", "tie_word_embeddings", "bos_token_id", "eos_token_id"];

proptest! {
    #![proptest_config(config())]

    #[test]
    fn config_json(edits in prop::collection::vec((0..FIELDS.len(), json_value()), 0..5), small in any::<bool>()) {
        let mut v = serde_json::to_value(Gpt2Config::tiny(20, 8, 8, 1, 2)).unwrap();
        for (i, val) in edits {
            v[FIELDS[i]] = val;
        }
        if let Ok(cfg) = Gpt2Config::from_json_str(&v.to_string()) {
            prop_assert!(cfg.validate().is_ok());
            // build and run it when it is small enough to allocate
            if small && cfg.n_params() < 200_000 && cfg.n_layer <= 4 {
                let m = Gpt2::random(cfg, 0, &Device::Cpu).unwrap();
                let _ = m.forward(&Tensor::new(&[[0u32]], &Device::Cpu).unwrap());
            }
        }
    }

    #[test]
    fn checkpoint_bytes(cuts in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6), truncate in prop::option::of(any::<prop::sample::Index>()), header_len in prop::option::of(any::<u64>())) {
        let mut b = fixture_bytes().clone();
        for (at, byte) in cuts {
            let i = at.index(b.len());
            b[i] = byte;
        }
        if let Some(h) = header_len {
            b[..8].copy_from_slice(&h.to_le_bytes());
        }
        if let Some(t) = truncate {
            b.truncate(t.index(b.len() + 1));
        }
        let d = case_dir("checkpoint_bytes");
        std::fs::copy(fixture("prefixed").join("config.json"), d.join("config.json")).unwrap();
        std::fs::write(d.join("model.safetensors"), &b).unwrap();
        let _ = Gpt2::from_dir(&d);
        let _ = gpt2lab::model::weights::read_safetensors_raw(&d.join("model.safetensors"), &Device::Cpu);
    }

    #[test]
    fn shard_index(names in prop::collection::vec("[a-z./\\\\-]{0,16}", 0..4), junk in "[\\PC]{0,40}", use_junk in any::<bool>()) {
        let d = case_dir("shard_index");
        let _ = std::fs::remove_file(d.join("model.safetensors"));
        let text = if use_junk { junk } else {
            let map: serde_json::Map<String, serde_json::Value> = names.iter().enumerate().map(|(i, n)| (format!("t{i}"), n.clone().into())).collect();
            serde_json::json!({ "weight_map": map }).to_string()
        };
        std::fs::write(d.join("model.safetensors.index.json"), text).unwrap();
        if let Ok(files) = gpt2lab::model::weights::weight_files(&d) {
            for f in files {
                prop_assert!(f.parent() == Some(d.as_path()) || f.starts_with(&d), "{} escapes {}", f.display(), d.display());
                prop_assert!(!f.components().any(|c| c == std::path::Component::ParentDir), "{}", f.display());
            }
        }
    }

    #[test]
    fn token_ids_shapes_and_masks(b in 0usize..4, t in 0usize..(CTX + 3), ids in prop::collection::vec(0u32..(VOCAB as u32 + 3), 0..64), mask in prop::collection::vec(0u8..3, 0..64), dtype in 0usize..4, last_only in any::<bool>()) {
        let m = model();
        let n = b * t;
        let ids: Vec<u32> = (0..n).map(|i| ids.get(i).copied().unwrap_or(1)).collect();
        let x = Tensor::from_vec(ids, (b, t), &Device::Cpu).unwrap();
        let x = match dtype { 0 => x, 1 => x.to_dtype(DType::I64).unwrap(), 2 => x.to_dtype(DType::F32).unwrap(), _ => x.flatten_all().unwrap() };
        let mk: Vec<u8> = (0..n).map(|i| mask.get(i).copied().unwrap_or(1)).collect();
        let mk = Tensor::from_vec(mk, (b, t), &Device::Cpu).unwrap();
        let _ = m.run_with(&x, &HookSpec::new(), ForwardOpts { attention_mask: Some(&mk), last_only }, None);
        let _ = m.forward(&x);
    }

    #[test]
    fn hook_names_and_interventions(name in "(blocks\\.[0-9]{1,2}\\.)?(hook_resid_pre|attn\\.hook_z|attn\\.hook_pattern|ln1\\.hook_scale|mlp\\.hook_post|hook_[a-z_]{0,8}|ln_final\\.hook_normalized)", heads in prop::collection::vec(0usize..5, 0..4), positions in prop::collection::vec(0usize..20, 0..4), kind in 0usize..8, scale in any::<f64>(), shape in prop::collection::vec(1usize..5, 0..4)) {
        let m = model();
        let src = Tensor::zeros(shape.clone(), DType::F32, &Device::Cpu).unwrap();
        let iv = match kind {
            0 => Intervention::ZeroHeads(heads),
            1 => Intervention::PatchHeads { source: src, heads },
            2 => Intervention::PatchPositions { source: src, positions },
            3 => Intervention::Scale(scale),
            4 => Intervention::Add(src),
            5 => Intervention::Replace(src),
            6 => Intervention::Ablate(src),
            _ => Intervention::MeanAblate,
        };
        let spec = HookSpec::new().capture(name.as_str()).intervene(name.as_str(), iv);
        let x = Tensor::new(&[[1u32, 2, 3], [4, 5, 6]], &Device::Cpu).unwrap();
        if let Ok(run) = m.run(&x, &spec) {
            let _ = run.cache.get(name.as_str());
        }
        let _ = HookPoint::parse_for(&name, 2);
    }

    #[test]
    fn tokenizer_input(bytes in prop::collection::vec(any::<u8>(), 0..64), text in "\\PC{0,32}", ids in prop::collection::vec(any::<u32>(), 0..8)) {
        let tok = tokenizer();
        let lossy = String::from_utf8_lossy(&bytes).into_owned();
        for s in [lossy.as_str(), text.as_str()] {
            if let Ok(v) = tok.ids(s, true) {
                prop_assert!(v.iter().all(|&i| (i as usize) < tok.vocab_size()));
                let _ = tok.decode(&v);
            }
            let _ = tok.to_str_tokens(s, false);
        }
        let _ = tok.decode(&ids);
        let _ = tok.ids_to_str_tokens(&ids);
        let _ = tok.to_tokens_batch(&[lossy.as_str(), text.as_str()], true, true);
    }

    #[test]
    fn generation_configs(prompt in prop::collection::vec(0u32..(VOCAB as u32 + 2), 0..6), new in 0usize..8, temperature in prop_oneof![Just(f64::NAN), Just(-1.0), Just(0.0), 0.0f64..3.0], top_k in prop::option::of(0usize..30), top_p in prop::option::of(prop_oneof![Just(f64::NAN), -1.0f64..2.0]), rep in prop_oneof![Just(f64::NAN), Just(0.0), -2.0f64..3.0], stop in prop::collection::vec(0u32..30, 0..3), seed in any::<u64>()) {
        let m = model();
        let cfg = GenerateConfig { max_new_tokens: new, sampling: SamplingConfig { temperature, top_k, top_p, repetition_penalty: rep }, stop_tokens: stop, seed };
        if let Ok(out) = m.generate(&prompt, &cfg) {
            prop_assert!(out.len() <= new);
            prop_assert!(out.iter().all(|&t| (t as usize) < VOCAB));
        }
    }

    #[test]
    fn beam_and_contrastive_configs(prompt in prop::collection::vec(0u32..(VOCAB as u32 + 2), 0..5), beams in 0usize..5, new in 0usize..6, alpha in prop_oneof![Just(f64::NAN), -1.0f64..3.0], ngram in 0usize..4, eos in prop::option::of(0u32..30), early in any::<bool>(), top_k in 0usize..30, c_alpha in prop_oneof![Just(f64::NAN), -0.5f64..1.5]) {
        let m = model();
        let mut bc = BeamConfig::new(beams, new).length_penalty(alpha).no_repeat_ngram_size(ngram).early_stopping(early);
        bc.eos_token_id = eos;
        if let Ok(out) = m.beam_search(&prompt, &bc) {
            prop_assert!(!out.hypotheses.is_empty());
            let _ = out.best();
        }
        // the same search over a hand-made distribution with banned and -inf tokens
        let table = |s: &[u32]| -> Vec<f32> { (0..4).map(|t| if (t + s.len()) % 3 == 0 { f32::NEG_INFINITY } else { t as f32 }).collect() };
        if let Ok(out) = beam_search_fn(&prompt, &bc, table) {
            prop_assert!(!out.hypotheses.is_empty());
        }
        let _ = m.contrastive_search(&prompt, &ContrastiveConfig::new(top_k, c_alpha, new));
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn datasets_vocabularies_and_text_tokenizers(stream in prop::collection::vec(0u32..50, 0..120), block in 0usize..20, b in 0usize..5, t in 0usize..25, idx in prop::collection::vec(0usize..30, 0..5), frac in prop_oneof![Just(f64::NAN), -0.5f64..1.5], text in "\\PC{0,40}", json in "\\PC{0,60}", ids in prop::collection::vec(0u32..80, 0..8), seed in any::<u64>()) {
        use gpt2lab::data::{CharTokenizer, CompactVocab, TextTokenizer, TokenDataset, WordTokenizer, WordTokenizerConfig};
        use rand::SeedableRng;
        if let Ok(ds) = TokenDataset::new(stream.clone(), block) {
            let _ = ds.batch(&idx);
            let _ = ds.random_batch(&mut rand::rngs::StdRng::seed_from_u64(seed), b, t);
            let _ = ds.split(frac, seed);
            if let Ok(mut it) = ds.batches(b, seed) {
                let _ = it.next_indices();
            }
        }
        let docs: Vec<Vec<u32>> = stream.chunks(7).map(|c| c.to_vec()).collect();
        let _ = TokenDataset::from_documents(&docs, Some(0), block);
        let v = CompactVocab::fit(&stream);
        if let Ok(dense) = v.encode(&ids) {
            let _ = v.decode(&dense);
        }
        let _ = v.decode(&ids);
        let ct = CharTokenizer::fit(&text);
        let _ = ct.encode(&json);
        let _ = ct.decode(&ids);
        let _ = CharTokenizer::from_json(&json);
        let wt = WordTokenizer::fit(&text, &WordTokenizerConfig::default());
        let _ = wt.encode(&json);
        let _ = wt.decode(&ids);
    }
}

proptest! {
    #![proptest_config(config())]

    /// The activation cache, interpretability helpers and the KV cache with any positions,
    /// layers, targets and row selections.
    #[test]
    fn caches_and_interpretability(b in 1usize..3, t in 1usize..6, pos in 0usize..8, layer in 0usize..4, target in 0u32..(VOCAB as u32 + 3), kind in "[a-z_.]{0,14}", rows in prop::collection::vec(0usize..5, 0..5), incl_mid in any::<bool>(), targets_len in 0usize..8) {
        use gpt2lab::interp::{direct_logit_attribution, final_resid, head_and_mlp_components, head_results, logit_lens};
        use gpt2lab::model::KvCache;
        let m = model();
        let ids: Vec<u32> = (0..b * t).map(|i| (i * 7 % VOCAB) as u32).collect();
        let x = Tensor::from_vec(ids, (b, t), &Device::Cpu).unwrap();
        let run = m.run_with_cache(&x).unwrap();
        let c = &run.cache;
        let _ = c.stack(&kind);
        if let Ok((stack, _)) = c.accumulated_resid(incl_mid) {
            let _ = c.apply_ln_to_stack(&stack);
        }
        let _ = c.decompose_resid();
        let _ = logit_lens(m, c, pos, target);
        let _ = head_results(m, c, layer);
        let tg: Vec<u32> = (0..targets_len).map(|i| (i as u32 + target) % (VOCAB as u32 + 2)).collect();
        if let Ok(tg) = Tensor::from_vec(tg, targets_len, &Device::Cpu) {
            if let Ok((comps, _)) = head_and_mlp_components(m, c) {
                let _ = direct_logit_attribution(m, c, &comps, &tg);
            }
        }
        let _ = final_resid(m, c);
        let mut kv = KvCache::new(m.cfg.n_layer);
        if m.run_with(&x, &HookSpec::new(), ForwardOpts::default(), Some(&mut kv)).is_ok() {
            if kv.select_rows(&rows).is_ok() && !rows.is_empty() {
                let next = Tensor::from_vec(vec![1u32; rows.len()], (rows.len(), 1), &Device::Cpu).unwrap();
                let _ = m.run_with(&next, &HookSpec::new(), ForwardOpts { attention_mask: None, last_only: true }, Some(&mut kv));
            }
        }
    }
}

proptest! {
    #![proptest_config(config())]

    /// Distribution and generation metrics on any logits (NaN, inf, empty) and token lists.
    #[test]
    fn metrics_on_any_logits(rows in 0usize..4, v in 0usize..6, vals in prop::collection::vec(prop_oneof![Just(f32::NAN), Just(f32::INFINITY), Just(f32::NEG_INFINITY), -10.0f32..10.0], 0..24), targets in prop::collection::vec(0u32..8, 0..4), bins in 0usize..4, n in 0usize..5, seqs in prop::collection::vec(prop::collection::vec(0u32..6, 0..6), 0..4), texts in prop::collection::vec("\\PC{0,12}", 0..3), prefix in prop::collection::vec(0u32..(VOCAB as u32 + 2), 0..4), cont in prop::collection::vec(0u32..(VOCAB as u32 + 2), 0..4)) {
        use gpt2lab::interp::{cross_entropy_per_token, entropy, expected_calibration_error, js_divergence};
        use gpt2lab::metrics::{coherence, cosine_similarity_matrix, diversity, isotropy, rep_n, rep_n_tokens, self_similarity};
        let data: Vec<f32> = (0..rows * v).map(|i| vals.get(i).copied().unwrap_or(0.0)).collect();
        let logits = Tensor::from_vec(data, (rows, v), &Device::Cpu).unwrap();
        let _ = entropy(&logits);
        if let Ok(tg) = Tensor::from_vec(targets.clone(), targets.len(), &Device::Cpu) {
            let _ = cross_entropy_per_token(&logits, &tg);
            let _ = expected_calibration_error(&logits, &tg, bins);
        }
        let _ = js_divergence(&logits, &logits.t().unwrap().contiguous().unwrap());
        let _ = js_divergence(&logits, &logits);
        let _ = cosine_similarity_matrix(&logits);
        let _ = self_similarity(&logits);
        let _ = isotropy(&logits);
        let _ = rep_n_tokens(&seqs, n);
        let _ = rep_n(&texts, n);
        let _ = diversity(&texts);
        let _ = coherence(model(), &prefix, &cont);
    }
}

proptest! {
    #![proptest_config(config())]

    /// Charts, tables, token and attention views render any values (NaN, inf, empty, ragged)
    /// or refuse them with an error.
    #[test]
    fn displays_render_any_values(vals in prop::collection::vec(prop_oneof![Just(f32::NAN), Just(f32::INFINITY), Just(f32::NEG_INFINITY), Just(0.0f32), -1e6f32..1e6], 0..12), n in 0usize..5, m in 0usize..5, labels in prop::collection::vec("\\PC{0,6}", 0..5), log_y in any::<bool>(), lo in prop_oneof![Just(f32::NAN), -2.0f32..2.0], hi in prop_oneof![Just(f32::NAN), -2.0f32..2.0], w in 0u32..300, h in 0u32..300, sig in 0usize..8, max_rows in 0usize..4) {
        use gpt2lab::display::{AttentionView, Chart, Col, Table, TokenView, ToHtml};
        let pts: Vec<(f64, f64)> = vals.chunks(2).map(|c| (c[0] as f64, *c.get(1).unwrap_or(&0.0) as f64)).collect();
        let mut c = Chart::lines("t").series("a", &pts).series_y("b", &vals).size(w, h).value_range(lo, hi);
        if log_y {
            c = c.log_y();
        }
        let _ = c.to_svg();
        let _ = Chart::scatter("s").series("a", &pts).to_svg();
        if let Ok(b) = Chart::bars(&labels, &vals, Some(&vals)) {
            let _ = b.to_svg();
        }
        let grid: Vec<Vec<f32>> = (0..n).map(|i| (0..m).map(|j| *vals.get(i * m + j).unwrap_or(&f32::NAN)).collect()).collect();
        if let Ok(hm) = Chart::heatmap(grid.clone(), &labels, &labels) {
            let _ = hm.value_range(lo, hi).to_svg();
        }
        if let Ok(t) = Table::top_k(&labels, &vals) {
            let _ = t.sig_digits(sig).max_rows(max_rows).bars("p").to_html();
        }
        if let Ok(t) = Table::from_columns(vec![("x", Col::F32(vals.clone())), ("l", Col::Str(labels.clone()))]) {
            let _ = (t.to_html(), t.to_string());
        }
        let _ = Table::per_layer("v", &vals).to_string();
        if let Ok(tv) = TokenView::new(&labels, &vals) {
            let _ = (tv.value_range(lo, hi).to_html(), String::new());
        }
        if let Ok(av) = AttentionView::from_vecs(vec![grid], &labels) {
            let _ = av.max_value(hi).to_html();
        }
    }
}

fn tokenizer() -> &'static Gpt2Tokenizer {
    static T: OnceLock<Gpt2Tokenizer> = OnceLock::new();
    T.get_or_init(|| Gpt2Tokenizer::gpt2().unwrap())
}
