//! Notebook 03's full-scale path (arXiv 2405.03205 on GPT-2 small): the bundled `IOI.json`
//! (hash-checked), GPT-2's BPE with the answer letters located, and `run_full` end to end on a
//! random-weight checkpoint in GPT-2's Hugging Face layout with the real tokenizer. Each
//! measurement is checked against a direct computation from the processed model's full logits.

mod common;

use candle_core::{DType, Device, IndexOp, Tensor};
use common::scratch;
use gpt2lab::data::mcq::{IoiMcqGen, TextMcq};
use gpt2lab::hooks::{HookPoint, HookSpec};
use gpt2lab::interp::ProcessedGpt2;
use gpt2lab::model::{Gpt2, Gpt2Config};
use gpt2lab::papers::anchored_bias::full::{self as abf, BpeMcq, FullSetup};
use gpt2lab::papers::anchored_bias::NeuronScore;
use gpt2lab::tokenizer::Gpt2Tokenizer;
use gpt2lab::Error;

fn tok() -> Gpt2Tokenizer {
    Gpt2Tokenizer::gpt2().unwrap()
}

#[test]
fn bundled_ioi_json_is_the_repository_file_and_encodes() {
    let items = abf::load_ioi_json().unwrap();
    assert_eq!(items.len(), 45);
    assert!(items.iter().all(|it| it.gold == 1 && it.options.len() == 2));
    assert_eq!(items[1].options, ["Stephen", "Samantha"]);
    let t = tok();
    let enc = abf::encode_items(&t, &items).unwrap();
    let (a, b) = (t.encode(" A").unwrap(), t.encode(" B").unwrap());
    for e in &enc {
        assert_eq!(e.ids[0], 50256, "BOS first, as to_tokens(prepend_bos=True)");
        assert_eq!(e.ids[1..], t.encode(&e.item.text).unwrap()[..]);
        assert_eq!((vec![e.letters[0]], vec![e.letters[1]]), (a.clone(), b.clone()));
        assert_eq!(e.ids[e.letter_pos[0]], e.letters[0]);
        assert_eq!(e.ids[e.letter_pos[1]], e.letters[1]);
        assert!(e.letter_pos[0] < e.option_pos[0] && e.option_pos[0] < e.letter_pos[1] && e.letter_pos[1] < e.option_pos[1]);
        // the option's first token starts the name; the answer position is the final ":"
        let first = t.decode(&[e.ids[e.option_pos[1]]]).unwrap();
        assert!(first.starts_with(' ') && e.item.options[1].starts_with(first.trim()), "{first:?}");
        assert_eq!(t.decode(&e.ids[e.answer_pos()..]).unwrap(), ":");
        assert_eq!(e.gold_token(), b[0]);
    }
    // a changed byte is caught before parsing
    let dir = scratch("anchored-ioi-hash");
    let path = dir.join("IOI.json");
    let text = std::fs::read_to_string(gpt2lab::tokenizer::datasets_dir().join(abf::IOI_DIR).join("IOI.json")).unwrap();
    std::fs::write(&path, text.replacen("A: Stephen", "A: Stefan", 1)).unwrap();
    assert!(matches!(abf::load_ioi_json_from(&path, Some(abf::IOI_JSON_SHA256)), Err(Error::Artefact { .. })));
    assert_eq!(abf::load_ioi_json_from(&path, None).unwrap()[1].options, ["Stefan", "Samantha"]);
}

#[test]
fn bad_items_are_typed_errors() {
    assert!(matches!(abf::parse_ioi_json("{\"sentence\": 1}"), Err(Error::Data(_))));
    let ok = "{\"sentence\": \"Question: who? Answer Choices: A: x B: y Answer:\", \"label\": \"B\"}";
    assert_eq!(abf::parse_ioi_json(&format!("[{ok}]")).unwrap()[0].gold, 1);
    for (bad, index) in [
        (format!("[{ok}, {{\"sentence\": \"Question: who? Answer Choices: A: x B: y Answer:\"}}]"), 1), // no label
        (format!("[{ok}, {ok}, {{\"sentence\": \"who? A: x B: y\", \"label\": \"A\"}}]"), 2),        // no choices
        (format!("[{{\"sentence\": \"Question: who? Answer Choices: A: x B: y Answer:\", \"label\": \"E\"}}]"), 0),
    ] {
        match abf::parse_ioi_json(&bad) {
            Err(Error::McqItem { index: i, .. }) => assert_eq!(i, index, "{bad}"),
            other => panic!("{bad}: {other:?}"),
        }
    }
    let t = tok();
    // an answer that is not one GPT-2 token
    assert!(matches!(abf::answer_token(&t, "AB1", 3), Err(Error::McqItem { index: 3, .. })));
    assert_eq!(abf::answer_token(&t, "C", 0).unwrap(), t.encode(" C").unwrap()[0]);
    // a choice letter the prompt's BPE does not carry as " A" (a no-break space before it)
    let glued = TextMcq::parse(0, "Question: who? Answer Choices:\u{a0}A: x B: y Answer:", "B").unwrap();
    let fine = TextMcq::parse(1, "Question: who? Answer Choices: A: x B: y Answer:", "B").unwrap();
    match abf::encode_items(&t, &[fine, glued]) {
        Err(Error::McqItem { index, msg }) => assert!(index == 1 && msg.contains("letter A"), "{index} {msg}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn neuron_selection_and_control_by_hand() {
    let s = |layer, neuron, flagged| NeuronScore { layer, neuron, score: 1.0, a_minus_gold: if flagged { 5.0 } else { 0.0 }, flagged };
    let scans = vec![
        vec![vec![s(0, 3, true), s(0, 4, false)], vec![s(1, 7, true)]],
        vec![vec![s(0, 3, true)], vec![s(1, 7, false), s(1, 9, true)]],
        vec![vec![s(0, 3, true)], vec![s(1, 9, true)]],
        vec![vec![s(0, 5, false)], vec![]],
    ];
    assert_eq!(abf::select_neurons(&scans, 0.5), vec![(0, 3, 3), (1, 9, 2)]);
    assert_eq!(abf::select_neurons(&scans, 0.9), vec![(0, 3, 3)]); // none reaches 4 items: the most frequent
    let none = vec![vec![vec![s(0, 1, false)]]];
    assert!(abf::select_neurons(&none, 0.5).is_empty());
    let p = Gpt2::random(Gpt2Config::tiny(50, 16, 8, 2, 2), 0, &Device::Cpu).unwrap().processed().unwrap();
    let scanned: Vec<(usize, usize)> = (0..30).map(|n| (1, n)).collect();
    let c = abf::control_neurons(&p, &[(1, 2), (1, 5), (0, 1)], &scanned, 9);
    assert_eq!(c.iter().filter(|x| x.0 == 0).count(), 1);
    assert_eq!(c.iter().filter(|x| x.0 == 1).count(), 2);
    assert!(c.iter().all(|x| !scanned.contains(x)));
    assert_eq!(c, abf::control_neurons(&p, &[(1, 2), (1, 5), (0, 1)], &scanned, 9));
}

/// Full-vocabulary logits at the answer position of one item, from the processed model.
fn last_logits(p: &ProcessedGpt2, it: &BpeMcq) -> Vec<f32> {
    let ids = Tensor::new(it.ids.as_slice(), &Device::Cpu).unwrap().unsqueeze(0).unwrap();
    p.forward(&ids).unwrap().i((0, it.answer_pos())).unwrap().to_dtype(DType::F32).unwrap().to_vec1().unwrap()
}

fn softmax(v: &[f32]) -> Vec<f64> {
    let m = v.iter().cloned().fold(f32::NEG_INFINITY, f32::max) as f64;
    let z: f64 = v.iter().map(|&x| (x as f64 - m).exp()).sum();
    v.iter().map(|&x| (x as f64 - m).exp() / z).collect()
}

#[test]
fn full_path_on_a_random_gpt2_layout_checkpoint() {
    // GPT-2's vocabulary and HF layout, tiny sizes; the embedding (tied unembedding) scaled up
    // so that single value vectors reach the paper's "> 4" logit gap and the edit path runs
    let mut m = Gpt2::random(Gpt2Config::tiny(50257, 64, 16, 2, 2), 3, &Device::Cpu).unwrap();
    m.wte = (&m.wte * 300.0).unwrap();
    let dir = scratch("anchored-full");
    m.save_pretrained(dir.join("gpt2")).unwrap();
    let model = Gpt2::from_dir(dir.join("gpt2")).unwrap();
    let t = tok();
    let ioi = abf::load_ioi_json().unwrap();
    let setup = FullSetup { synthetic_items: 12, n_options: 3, ..FullSetup::paper() };
    let r = abf::run_full(&model, &t, &ioi, &setup).unwrap();
    let p = &r.processed;
    assert_eq!((r.ioi.len(), r.locate.len(), r.held_out.len(), r.synthetic.len()), (45, 15, 30, 12));
    assert_eq!((0..12).map(|i| r.synthetic[i].gold()).collect::<Vec<_>>(), (0..12).map(|i| i % 3).collect::<Vec<_>>());
    assert_eq!(r.before_ioi.len(), 45);

    // answers: P(" A"), P(gold) and the logit difference from the full logits, per item
    for (it, a) in r.ioi.iter().zip(&r.before_ioi).take(5).chain(r.synthetic.iter().zip(&r.before_synthetic)) {
        let l = last_logits(p, it);
        let pr = softmax(&l);
        assert!((a.p_a - pr[it.anchor_token() as usize]).abs() < 1e-5 && (a.p_gold - pr[it.gold_token() as usize]).abs() < 1e-5);
        let d = (l[it.anchor_token() as usize] - l[it.gold_token() as usize]) as f64;
        assert!((a.a_minus_gold - d).abs() < 1e-4, "{} vs {d}", a.a_minus_gold);
        let best = (0..l.len()).max_by(|&i, &j| l[i].total_cmp(&l[j])).unwrap() as u32;
        assert_eq!(a.top1_is_gold, best == it.gold_token());
        let pick = (0..it.letters.len()).max_by(|&i, &j| l[it.letters[i] as usize].total_cmp(&l[it.letters[j] as usize])).unwrap();
        assert_eq!(a.pick, pick);
    }
    let s = abf::summarise(&r.before_ioi, |_| true).unwrap();
    assert_eq!(s.n, 45);
    assert!((0.0..=1.0).contains(&s.accuracy) && s.p_a.is_finite());
    assert!(abf::summarise(&r.before_ioi, |a| a.gold == 0).is_none());

    // the MLP lens: unembed(mlp_out[last]) at A minus at gold, from the whole-vocabulary unembedding
    assert_eq!(r.lens_ioi.len(), 45);
    assert_eq!(r.lens_synthetic.len(), 8);
    let it = &r.ioi[0];
    let ids = Tensor::new(it.ids.as_slice(), &Device::Cpu).unwrap().unsqueeze(0).unwrap();
    let run = p.run(&ids, &HookSpec::new().capture_filter(|h| matches!(h, HookPoint::MlpOut(_) | HookPoint::MlpPost(_)))).unwrap();
    for l in 0..2 {
        let x = run.cache.get(HookPoint::MlpOut(l)).unwrap().i((0, it.answer_pos())).unwrap();
        let lg: Vec<f32> = p.unembed(&x.unsqueeze(0).unwrap()).unwrap().squeeze(0).unwrap().to_vec1().unwrap();
        let want = (lg[it.anchor_token() as usize] - lg[it.gold_token() as usize]) as f64;
        assert!((r.lens_ioi[0][l] - want).abs() < 1e-3, "layer {l}: {} vs {want}", r.lens_ioi[0][l]);
    }
    assert_eq!(abf::mean_per_layer(&r.lens_ioi).len(), 2);

    // the scan: the repository's formula, checked for every scored neuron of item 0
    assert_eq!(r.scans.len(), 45);
    for (l, scan) in r.scans[0].iter().enumerate() {
        assert_eq!(scan.len(), 10);
        assert!(scan.windows(2).all(|w| w[0].score >= w[1].score));
        let post: Vec<f32> = run.cache.get(HookPoint::MlpPost(l)).unwrap().i((0, it.answer_pos())).unwrap().to_vec1().unwrap();
        let mlp = p.model.blocks[l].mlp().unwrap();
        for s in scan {
            assert_eq!(s.flagged, s.a_minus_gold > abf::PAPER_FLAG_GAP);
            let v = ((mlp.c_proj_w.get(s.neuron).unwrap() * post[s.neuron] as f64).unwrap() + &mlp.c_proj_b).unwrap();
            let lg: Vec<f32> = p.unembed(&v.unsqueeze(0).unwrap()).unwrap().squeeze(0).unwrap().to_vec1().unwrap();
            let want = (lg[it.anchor_token() as usize] - lg[it.gold_token() as usize]) as f64;
            assert!((s.a_minus_gold - want).abs() < 1e-3 * want.abs().max(1.0), "L{l}N{}: {} vs {want}", s.neuron, s.a_minus_gold);
        }
    }
    let flagged_items = r.scans.iter().filter(|s| s.iter().flatten().any(|n| n.flagged)).count();
    assert!(flagged_items > 0, "the scaled checkpoint flags no neuron: the edit path is not exercised");

    // the repository's per-item loop: one entry per layer with a flagged neuron, last layer first
    assert_eq!(r.fixes.len(), 45);
    for (f, scan) in r.fixes.iter().zip(&r.scans) {
        let want: Vec<(usize, usize)> = scan.iter().rev().filter_map(|ls| ls.iter().find(|s| s.flagged)).map(|s| (s.layer, s.neuron)).collect();
        assert_eq!(f.iter().map(|x| (x.layer, x.neuron)).collect::<Vec<_>>(), want);
    }
    if let Some((i, fx)) = r.fixes.iter().enumerate().find_map(|(i, f)| f.first().map(|x| (i, x.clone()))) {
        // re-done by hand: the edited copy's answer on that item
        let e = gpt2lab::interp::edit_value_vectors(p, fx.layer, &[fx.neuron], r.ioi[i].anchor_token(), 1.0, r.ioi[i].gold_token(), 8.0).unwrap();
        let pr = softmax(&last_logits(&e, &r.ioi[i]));
        assert!((pr[r.ioi[i].gold_token() as usize] - fx.p_gold_after).abs() < 1e-5);
    }
    assert!(r.fixed_items() <= 45);

    // the data-set edit and its control
    assert!(!r.selected.is_empty());
    assert_eq!(r.control.len(), r.selected.len());
    let scanned: Vec<(usize, usize)> = r.locate.iter().flat_map(|&i| r.scans[i].iter().flatten().map(|s| (s.layer, s.neuron))).collect();
    assert!(r.control.iter().all(|c| !scanned.contains(c)));
    assert_eq!((r.after_ioi.len(), r.control_ioi.len(), r.after_synthetic.len()), (30, 30, 12));
    assert!(r.after_ioi.iter().zip(r.held_out_before()).any(|(a, b)| (a.a_minus_gold - b.a_minus_gold).abs() > 1e-4), "the edit changed nothing");

    // the swap: located heads, a no-op where gold is A, an effect elsewhere
    assert_eq!(r.heads.len(), 3);
    assert!(r.heads.windows(2).all(|w| w[0].2 >= w[1].2) && r.heads.iter().all(|h| h.0 < 2 && h.1 < 2 && (0.0..=1.0).contains(&h.2)));
    for ((it, a), b) in r.synthetic.iter().zip(&r.swapped_synthetic).zip(&r.before_synthetic) {
        if it.gold() == 0 {
            assert!((a.a_minus_gold - b.a_minus_gold).abs() < 1e-5);
        }
    }
    assert!(r.swapped_ioi.iter().zip(r.held_out_before()).any(|(a, b)| (a.a_minus_gold - b.a_minus_gold).abs() > 1e-5));

    // what the notebook's full cell displays
    let lines = abf::report_lines(&r);
    let a_wins = r.before_ioi.iter().filter(|a| a.p_a > a.p_gold).count();
    assert!(lines[0].starts_with(&format!("P(\" A\") > P(\" B\") on {a_wins} of 45 ")), "{}", lines[0]);
    assert!(lines[1].contains(&format!("on {} of them", r.fixed_items())), "{}", lines[1]);
    let tables = abf::report_tables(&r, &t).unwrap();
    let heights: Vec<usize> = tables.iter().map(|t| t.dataframe().height()).collect();
    assert_eq!(heights, vec![4, 2, r.selected.len(), 4]);
}

#[test]
fn synthetic_items_encode_with_their_letters() {
    let t = tok();
    for n in 2..=4 {
        let items = IoiMcqGen::new(n).unwrap().generate(40, 1).unwrap();
        let enc = abf::encode_items(&t, &items).unwrap();
        for e in &enc {
            for k in 0..n {
                assert_eq!(e.ids[e.letter_pos[k]], e.letters[k]);
                assert_eq!(t.decode(&[e.letters[k]]).unwrap(), format!(" {}", ["A", "B", "C", "D"][k]));
            }
        }
    }
}
