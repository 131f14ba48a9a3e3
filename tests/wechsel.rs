//! WECHSEL's building blocks against independent references (fixtures written by
//! `scripts/make_wechsel_fixtures.py`: scipy's `orthogonal_procrustes`, the Python `tokenizers`
//! BPE trainer), and the full-scale path (GPT-2's tokenizer, an HF-layout checkpoint) run
//! structurally on a random-weight model.

use std::collections::HashMap;

use candle_core::Device;
use gpt2lab::data::{BpeTokenizer, Pcfg, Relexifier};
use gpt2lab::model::{Gpt2, Gpt2Config};
use gpt2lab::papers::wechsel as wx;
use gpt2lab::transfer::*;
use gpt2lab::Error;
use nalgebra::DMatrix;
use serde_json::Value;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/wechsel/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn corpus() -> Vec<String> {
    fixture("bpe_corpus.txt")
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn bpe_trainer_matches_the_python_trainer() {
    let reference: Value = serde_json::from_str(&fixture("bpe_tokenizer.json")).unwrap();
    let tok = BpeTokenizer::train(&corpus(), 300).unwrap();
    let ours: Value = serde_json::from_str(&tok.to_json().unwrap()).unwrap();
    let vocab = |v: &Value| -> HashMap<String, u64> {
        v["model"]["vocab"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, x)| (k.clone(), x.as_u64().unwrap()))
            .collect()
    };
    assert_eq!(vocab(&ours).len(), 300);
    assert_eq!(vocab(&ours), vocab(&reference));
    assert_eq!(ours["model"]["merges"], reference["model"]["merges"]);
    assert_eq!(ours["added_tokens"][0]["content"], "<|endoftext|>");
    // the reference file loads and encodes like ours
    let dir = std::env::temp_dir().join(format!("gpt2lab-wechsel-bpe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("tokenizer.json"), fixture("bpe_tokenizer.json")).unwrap();
    let theirs = BpeTokenizer::load(dir.join("tokenizer.json")).unwrap();
    for line in corpus().iter().take(50) {
        assert_eq!(theirs.encode(line).unwrap(), tok.encode(line).unwrap());
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn too_large_a_vocabulary_stops_where_the_python_trainer_stops() {
    let meta: Value = serde_json::from_str(&fixture("bpe_meta.json")).unwrap();
    let supported = meta["supported"].as_u64().unwrap() as usize;
    match BpeTokenizer::train(&corpus(), meta["requested"].as_u64().unwrap() as usize) {
        Err(Error::VocabTooLarge { supported: s, .. }) => assert_eq!(s, supported),
        other => panic!(
            "expected VocabTooLarge, got {:?}",
            other.map(|t| t.vocab_size())
        ),
    }
    assert_eq!(
        BpeTokenizer::train(&corpus(), supported)
            .unwrap()
            .vocab_size(),
        supported
    );
}

#[test]
fn procrustes_matches_scipy() {
    let f: Value = serde_json::from_str(&fixture("procrustes.json")).unwrap();
    let m = |v: &Value| {
        let rows: Vec<Vec<f64>> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r.as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap())
                    .collect()
            })
            .collect();
        DMatrix::from_fn(rows.len(), rows[0].len(), |i, j| rows[i][j])
    };
    let r = orthogonal_procrustes(&m(&f["a"]), &m(&f["b"])).unwrap();
    let want = m(&f["r"]);
    assert!(
        (&r - &want).abs().max() < 1e-9,
        "max difference {}",
        (&r - &want).abs().max()
    );
}

#[test]
fn ci_data_and_dictionary_errors() {
    let g = Pcfg::english_small();
    let relex = Relexifier::new(wx::LANGUAGE_SEED);
    let a: Vec<String> = g.generate(4000, 1).iter().map(|s| s.to_text()).collect();
    let b = relex.corpus(&g.generate(4000, 2));
    let cfg = PpmiConfig {
        dim: 32,
        ..Default::default()
    };
    let (wa, wb) = (
        WordVectors::ppmi_svd(&a, &cfg).unwrap(),
        WordVectors::ppmi_svd(&b, &cfg).unwrap(),
    );
    // a dictionary whose words are in neither vocabulary
    let none =
        gpt2lab::data::BilingualDictionary::new(vec![("zebra".into(), "qqq".into())]).unwrap();
    assert!(matches!(
        align(&wa, &wb, &none),
        Err(Error::NoDictionaryOverlap { pairs: 1 })
    ));
    // the gold dictionary aligns far better than a shuffled one
    let gold = relex.dictionary(1.0, 0.0, 0).unwrap();
    let (train, test) = gold.split(0.3, 0).unwrap();
    let good = align(&wa, &wb, &train).unwrap();
    let bad = align(&wa, &wb, &train.shuffled(1)).unwrap();
    let (acc, n) = translation_accuracy(&wa, &wb, &good.matrix, &test);
    let (acc_bad, _) = translation_accuracy(&wa, &wb, &bad.matrix, &test);
    assert!(n > 50, "{n} held-out words");
    let chance = 1.0 / wb.len() as f64;
    assert!(
        acc > 10.0 * chance && acc > 3.0 * acc_bad,
        "top-1 {acc} vs shuffled {acc_bad}, chance {chance}"
    );
    // empty corpora are typed errors
    assert!(matches!(
        WordVectors::ppmi_svd(&[], &cfg),
        Err(Error::EmptyInput(_))
    ));
    assert!(matches!(
        BpeTokenizer::train(&[], 300),
        Err(Error::EmptyInput(_))
    ));
}

/// The full-scale path on a random-weight GPT-2-layout checkpoint: GPT-2's own 50,257-token
/// tokenizer as the source, the checkpoint loaded from an HF folder, `full_config()` (word vectors
/// of dimension 64 here, 300 at full scale) with a target vocabulary this small corpus supports, and the transferred
/// model saved and reloaded in HF layout.
#[test]
fn full_scale_path_on_a_random_gpt2_layout_checkpoint() {
    let dir = std::env::temp_dir().join(format!("gpt2lab-wechsel-full-{}", std::process::id()));
    let src_dir = dir.join("source");
    let cfg = Gpt2Config::tiny(50257, 64, 32, 1, 2);
    Gpt2::random(cfg, 0, &Device::Cpu)
        .unwrap()
        .save_pretrained(&src_dir)
        .unwrap();
    let source = Gpt2::from_dir(&src_dir).unwrap();
    let tok = wx::gpt2_tokenizer().unwrap();
    assert_eq!(tok.vocab_size(), 50257);
    assert_eq!(tok.eot_id(), Some(50256));
    let g = Pcfg::english_small();
    let relex = Relexifier::new(1);
    let a: Vec<String> = g.generate(3000, 1).iter().map(|s| s.to_text()).collect();
    let b = relex.corpus(&g.generate(3000, 2));
    let dict = relex.dictionary(0.6, 0.1, 0).unwrap();
    let mut full = wx::full_config();
    assert_eq!(full.vectors.dim, 300);
    assert_eq!(full.target_vocab, None); // GPT-2's 50,257 at full scale; this corpus cannot support it:
    assert!(matches!(
        transfer_model(&source, &tok, &a, &b, &dict, &full),
        Err(Error::VocabTooLarge {
            requested: 50257,
            ..
        })
    ));
    full.target_vocab = Some(400);
    full.vectors.dim = 64; // the test corpus has a few hundred words; 300 needs more
    let t = transfer_model(&source, &tok, &a, &b, &dict, &full).unwrap();
    assert_eq!(t.model.cfg.vocab_size, 400);
    assert_eq!(t.model.wte.dims(), &[400, 32]);
    assert!(
        t.init.n_matched > 100,
        "{} tokens matched",
        t.init.n_matched
    );
    // <|endoftext|> copied from GPT-2's row 50256 to the target's id 0
    assert_eq!(t.target_tok.eot_id(), Some(0));
    assert_eq!(
        t.model.wte.get(0).unwrap().to_vec1::<f32>().unwrap(),
        source.wte.get(50256).unwrap().to_vec1::<f32>().unwrap()
    );
    // the body is the checkpoint's
    let before: HashMap<String, candle_core::Tensor> = source.named_tensors().into_iter().collect();
    for (name, w) in t
        .model
        .named_tensors()
        .into_iter()
        .filter(|(n, _)| n != "wte.weight")
    {
        assert_eq!(
            w.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            before[&name]
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap(),
            "{name}"
        );
    }
    // saved in HF layout with its tokenizer.json, it loads back and runs on target text
    let out = dir.join("target");
    t.model.save_pretrained(&out).unwrap();
    t.target_tok.save(out.join("tokenizer.json")).unwrap();
    let back = Gpt2::from_dir(&out).unwrap();
    let tok_back = BpeTokenizer::load(out.join("tokenizer.json")).unwrap();
    let ids = tok_back.encode(&b[0]).unwrap();
    let x = candle_core::Tensor::new(ids.as_slice(), &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    let l1 = back
        .forward(&x)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let l2 = t
        .model
        .forward(&x)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert_eq!(l1, l2);
    std::fs::remove_dir_all(dir).ok();
}
