//! NOLA's paper module: the ci pieces by hand, and the full-scale path (GPT-2 medium's arms,
//! the official E2E CSV format, GPT-2's tokenizer) on a random-weight HF-layout checkpoint.

use candle_core::Device;
use gpt2lab::model::{Gpt2, Gpt2Config};
use gpt2lab::papers::nola::{self, E2eRow};
use gpt2lab::peft::{Adapter, Method};
use gpt2lab::Error;

#[test]
fn batch_puts_the_text_after_the_prompt_and_eos_elsewhere() {
    let ex = vec![(vec![5, 6, 7], vec![8, 9]), (vec![5, 6], vec![3])];
    let (x, y) = nola::batch(&ex, 0, &[0, 1], &Device::Cpu).unwrap();
    // row 0: 5 6 7 8 9 <eos>; row 1: 5 6 3 <eos> padded with eos
    assert_eq!(x.to_vec2::<u32>().unwrap(), vec![vec![5, 6, 7, 8, 9], vec![5, 6, 3, 0, 0]]);
    assert_eq!(y.to_vec2::<u32>().unwrap(), vec![vec![0, 0, 8, 9, 0], vec![0, 3, 0, 0, 0]]);
    assert!(matches!(nola::batch(&ex, 0, &[], &Device::Cpu), Err(Error::EmptyInput(_))));
    assert!(matches!(nola::batch(&ex, 0, &[2], &Device::Cpu), Err(Error::Shape(_))));
}

#[test]
fn ci_arms_count_parameters_as_the_paper_does() {
    let data = nola::ci_data().unwrap();
    let base = Gpt2::random(nola::ci_config(data.vocab_size), 0, &Device::Cpu).unwrap();
    let n = |label: &str| Adapter::new(&base, &nola::arm(label).unwrap().config_for(0).unwrap(), 0).unwrap().n_trainable();
    // LoRA on q, v: 2 layers × 2 matrices × r·(64 + 64); NOLA: 2 layers × 2 matrices × 2k
    assert_eq!(n("LoRA r=1"), 512);
    assert_eq!(n("LoRA r=4"), 2048);
    assert_eq!(n("NOLA r=4 k=32"), 256);
    assert_eq!(n("NOLA r=1 k=32"), 256);
    assert_eq!(n("NOLA r=8 k=32"), 256);
    assert_eq!(n("NOLA r=4 k=1"), 8);
    assert!(nola::arm("LoRA r=2").is_err());
    // seeds draw different bases
    let a = nola::arm("NOLA r=4 k=32").unwrap();
    let seed_of = |s| match a.config_for(s).unwrap().method {
        Method::Nola { basis_seed, .. } => basis_seed,
        _ => unreachable!(),
    };
    assert_eq!((seed_of(0), seed_of(2)), (nola::BASIS_SEED, nola::BASIS_SEED + 2));
    // the ci data: fixed-length prompts, 3 references per test MR, slots present
    assert_eq!((data.train.len(), data.test_prompts.len()), (2000, 300));
    assert!(data.test_refs.iter().all(|r| r.len() == 3));
    assert!(data.test_prompts.iter().all(|p| p.len() == 17));
}

#[test]
fn finetuning_is_seeded_and_a_short_run_lowers_the_loss() {
    let data = nola::ci_data().unwrap();
    let base = Gpt2::random(nola::ci_config(data.vocab_size), 0, &Device::Cpu).unwrap();
    let arm = nola::arm("NOLA r=4 k=16").unwrap();
    let a = nola::finetune(&base, &data, &arm, 1, 12, 8).unwrap();
    let b = nola::finetune(&base, &data, &arm, 1, 12, 8).unwrap();
    assert_eq!(a.losses, b.losses);
    assert_eq!(a.n_trainable, 128);
    assert!(a.losses.last().unwrap().1 < a.losses[0].1, "{:?}", a.losses);
    let empty = nola::E2eData { train: vec![], ..data.clone() };
    assert!(matches!(nola::finetune(&base, &empty, &arm, 1, 2, 2), Err(Error::EmptyInput(_))));
}

#[test]
fn e2e_csv_and_mr_parsing() {
    let dir = std::env::temp_dir().join(format!("gpt2lab-nola-csv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("t.csv");
    std::fs::write(&p, "mr,ref\r\n\"name[The Eagle], eatType[pub]\",\"The Eagle is a pub, \"\"cosy\"\".\"\r\nname[Zizzi],Zizzi.\n").unwrap();
    let rows = nola::read_e2e_csv(&p).unwrap();
    assert_eq!(
        rows,
        vec![
            E2eRow {
                mr: "name[The Eagle], eatType[pub]".into(),
                text: "The Eagle is a pub, \"cosy\".".into()
            },
            E2eRow {
                mr: "name[Zizzi]".into(),
                text: "Zizzi.".into()
            }
        ]
    );
    assert_eq!(
        nola::parse_mr(&rows[0].mr).unwrap(),
        vec![("name".to_string(), "The Eagle".to_string()), ("eatType".to_string(), "pub".to_string())]
    );
    assert!(matches!(nola::parse_mr("name The Eagle"), Err(Error::Data(_))));
    std::fs::write(&p, "meaning,text\na,b\n").unwrap();
    assert!(matches!(nola::read_e2e_csv(&p), Err(Error::Data(_))));
    std::fs::write(&p, "mr,ref\n\"unterminated,x\n").unwrap();
    assert!(matches!(nola::read_e2e_csv(&p), Err(Error::Data(_))));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn full_scale_path_on_a_random_gpt2_layout_checkpoint() {
    let dir = std::env::temp_dir().join(format!("gpt2lab-nola-full-{}", std::process::id()));
    // GPT-2's vocabulary and layout, tiny width (GPT-2 medium itself needs the hub)
    Gpt2::random(Gpt2Config::tiny(50257, 64, 16, 2, 2), 0, &Device::Cpu).unwrap().save_pretrained(dir.join("gpt2")).unwrap();
    let model = Gpt2::from_dir(dir.join("gpt2")).unwrap();
    let tok = gpt2lab::tokenizer::Gpt2Tokenizer::gpt2().unwrap();
    let train = "mr,ref\n\"name[The Eagle], eatType[coffee shop], food[French]\",\"The Eagle is a French coffee shop.\"\n\"name[Zizzi], area[riverside]\",Zizzi is by the riverside.\n";
    let test = "mr,ref\n\"name[Aromi], familyFriendly[yes], area[city centre]\",Aromi is family friendly in the city centre.\n\"name[Aromi], familyFriendly[yes], area[city centre]\",\"In the city centre, Aromi welcomes children.\"\nname[Bibimbap House],Bibimbap House.\n";
    std::fs::write(dir.join("trainset.csv"), train).unwrap();
    std::fs::write(dir.join("testset_w_refs.csv"), test).unwrap();
    let data = nola::full_data(
        &tok,
        &nola::read_e2e_csv(&dir.join("trainset.csv")).unwrap(),
        &nola::read_e2e_csv(&dir.join("testset_w_refs.csv")).unwrap(),
        10,
    )
    .unwrap();
    assert_eq!((data.train.len(), data.test_prompts.len(), data.eos, data.vocab_size), (2, 2, 50256, 50257));
    assert_eq!(data.test_refs[0].len(), 2);
    assert_eq!(data.test_slots[0], vec![("name".to_string(), "Aromi".to_string()), ("area".to_string(), "city centre".to_string())]);
    assert_eq!(tok.decode(&data.train[0].0).unwrap(), "name[The Eagle], eatType[coffee shop], food[French] ||");
    // the paper's GPT-2 M arms: NOLA r 8, α 8, k 512, lr 0.005 on W_q, W_v (the script's)
    let arms = nola::full_arms();
    let nola_arm = arms.iter().find(|a| a.label.starts_with("NOLA")).unwrap();
    let c = nola_arm.adapter.clone().unwrap();
    assert_eq!(
        (c.r, c.alpha, c.method.clone(), nola_arm.lr),
        (
            8,
            8.0,
            Method::Nola {
                num_basis: 512,
                basis_seed: nola::BASIS_SEED
            },
            5e-3
        )
    );
    // GPT-2 medium's counts (the paper's table): NOLA 4·k·L = 49,152, LoRA r 1 98,304, r 4 393,216
    let medium = Gpt2Config {
        n_embd: 1024,
        n_layer: 24,
        n_head: 16,
        ..Gpt2Config::tiny(50257, 1024, 1024, 24, 16)
    };
    let qv = gpt2lab::peft::resolve_targets(&medium, &nola::TARGETS.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    assert_eq!(qv.len() * 2 * 512, 49_152);
    assert_eq!(qv.len() * (1024 + 1024), 98_304);
    // every arm runs end to end on the random checkpoint: 2 steps, decode, score
    for arm in &arms {
        let ft = nola::finetune(&model, &data, arm, 0, 2, 2).unwrap();
        let (q, hyps) = nola::evaluate(&ft.model, &data, 4).unwrap();
        assert_eq!(hyps.len(), 2);
        assert!(q.bleu.is_finite() && q.slot_error >= 0.0, "{}: {q:?}", arm.label);
        let want = match arm.label.as_str() {
            "full FT" => model.named_tensors().iter().map(|(_, t)| t.elem_count()).sum::<usize>(),
            "LoRA r=1" => 2 * 2 * 32,
            "LoRA r=4" => 2 * 2 * 4 * 32,
            _ => 2 * 2 * 2 * 512,
        };
        assert_eq!(ft.n_trainable, want, "{}", arm.label);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
