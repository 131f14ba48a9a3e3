//! NOLA (Koohpayegani, Navaneet, Nooralinejad, Kolouri, Pirsiavash; ICLR 2024, arXiv
//! 2310.02556): LoRA's factors as linear combinations of a seeded random basis, only the
//! mixture coefficients trained, on an E2E-like data-to-text task.
//!
//! **ci.** A 2-layer d64 GPT-2 with the task's word vocabulary is pre-trained ([`PT_STEPS`]
//! steps, seed 0) on `MR = text` documents of the generator's three phrasings
//! ([`crate::data::e2e`]), the target phrasing (template 2) rare: 1 document in 9
//! ([`PT_TEMPLATES`]). Like GPT-2 on web text, the base can read an MR, copy its values and
//! write that phrasing, but mostly writes the others. It is then fine-tuned to template 2
//! (2,000 MRs; 300 test MRs with 3 references each, differing in clause order) with full
//! fine-tuning, LoRA (r 1, 4) and NOLA (r 4 with k ∈ {1, 4, 16, 32, 64}; k 32 with r ∈ {1, 8})
//! on W_q and W_v, as the paper's GPT-2 scripts adapt (`--lora_qv`), α = r. Schedule as the
//! scripts: AdamW (β₂ 0.999, weight decay 0), linear warm-up (10%) then linear decay.
//!
//! **Learning rates.** NOLA's coefficients get 10× LoRA's learning rate ([`LR_NOLA`] vs
//! [`LR_LORA`]). The official recipes use a far higher rate for the coefficients than LoRA's
//! (the README's GPT-2 M command `--lr 0.1`, LoRA's E2E recipe 2e-4): a coefficient moves a
//! whole random direction of A or B, and with basis entries Uniform(−1, 1)/√k each entry of
//! A or B moves only about lr/√3 per Adam step whatever k is. Both rates were chosen once, at
//! seed 0 (NOLA at 5e-2 and 1e-1 gave BLEU within 0.3 of each other there).
//!
//! **Differences from the paper** (stated in the notebook too): no label smoothing (the
//! library's loss has none), and the loss is not masked to the text: `Trainer` has no masked
//! loss, so [`batch`] puts eos as the target at the MR's positions (the model learns that the
//! MR is not continued; decoding never reads those positions); greedy decoding instead of
//! beam 10 with length penalty and no-repeat-ngram; METEOR and NIST are not computed.
//!
//! **Full scale** ([`full_data`], [`full_arms`]): GPT-2 medium from the hub and the official
//! E2E CSVs (`trainset.csv`, `testset_w_refs.csv`, columns `mr`, `ref`), GPT-2's tokenizer,
//! the GPT-2 M script's NOLA (r 8, α 8, k 512, lr 0.005) beside LoRA r 1 and r 4.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use candle_core::{Device, Tensor};
use rand::{rngs::StdRng, Rng, SeedableRng};

use super::artefact::{ArtefactWriter, SeedMetrics};
use crate::data::e2e::{values_of, E2eTask, ATTRIBUTES};
use crate::metrics::text;
use crate::model::{ForwardOpts, Gpt2, Gpt2Config, KvCache};
use crate::peft::{Adapter, AdapterConfig, Method};
use crate::runtime::parallel_map;
use crate::tokenizer::Gpt2Tokenizer;
use crate::train::{AdamW, AdamWConfig, LrSchedule, TrainConfig, Trainer};
use crate::{Error, Result};

pub const SLUG: &str = "nola";
pub const SEEDS: [u64; 3] = [0, 1, 2];
/// Fine-tuning steps at ci scale.
pub const FT_STEPS: usize = 300;
pub const FT_BATCH: usize = 16;
/// Pre-training steps of the ci base model.
pub const PT_STEPS: usize = 1500;
/// The phrasing fine-tuning adapts to.
pub const FT_TEMPLATE: usize = 2;
/// The base's pre-training phrasings, cycled: templates 0 and 1 four times each for every
/// document of the target template 2.
pub const PT_TEMPLATES: [usize; 9] = [0, 1, 0, 1, 0, 1, 0, 1, 2];
/// Adapted projections: W_q and W_v (the paper's `--lora_qv`).
pub const TARGETS: [&str; 2] = ["c_attn.q", "c_attn.v"];
pub const LR_FULL: f64 = 5e-4;
pub const LR_LORA: f64 = 1e-2;
pub const LR_NOLA: f64 = 1e-1;
/// The official scripts' seed; NOLA's basis seed of a run is this plus the run's seed.
pub const BASIS_SEED: u64 = 110;

/// One way to fine-tune.
#[derive(Clone, Debug)]
pub struct Arm {
    pub label: String,
    /// None: full fine-tuning.
    pub adapter: Option<AdapterConfig>,
    pub lr: f64,
}

impl Arm {
    pub fn full(lr: f64) -> Arm {
        Arm {
            label: "full FT".into(),
            adapter: None,
            lr,
        }
    }
    pub fn lora(r: usize, alpha: f64, targets: &[&str], lr: f64) -> Arm {
        let c = AdapterConfig::lora(r, alpha, targets);
        Arm {
            label: c.label(),
            adapter: Some(c),
            lr,
        }
    }
    pub fn nola(r: usize, alpha: f64, k: usize, targets: &[&str], lr: f64) -> Arm {
        let c = AdapterConfig::nola(r, alpha, k, BASIS_SEED, targets);
        Arm {
            label: c.label(),
            adapter: Some(c),
            lr,
        }
    }
    /// The adapter config of a run with `seed`: NOLA's basis seed is [`BASIS_SEED`] + seed,
    /// so seeds differ in basis (and A₀) as well as in data order.
    pub fn config_for(&self, seed: u64) -> Option<AdapterConfig> {
        self.adapter.clone().map(|mut c| {
            if let Method::Nola { num_basis, basis_seed } = c.method {
                c.method = Method::Nola {
                    num_basis,
                    basis_seed: basis_seed.wrapping_add(seed),
                };
            }
            c
        })
    }
}

/// The ci arms: full FT, LoRA r 1 and 4, NOLA r 4 × k ∈ {1, 4, 16, 32, 64}, NOLA k 32 × r ∈ {1, 8}.
pub fn arms() -> Vec<Arm> {
    let mut v = vec![Arm::full(LR_FULL)];
    for r in [1, 4] {
        v.push(Arm::lora(r, r as f64, &TARGETS, LR_LORA));
    }
    for (r, k) in [(4, 1), (4, 4), (4, 16), (4, 32), (4, 64), (1, 32), (8, 32)] {
        v.push(Arm::nola(r, r as f64, k, &TARGETS, LR_NOLA));
    }
    v
}

/// The arm with this label, or an error listing the labels.
pub fn arm(label: &str) -> Result<Arm> {
    arms()
        .into_iter()
        .find(|a| a.label == label)
        .ok_or_else(|| Error::Msg(format!("no arm {label:?}; arms: {:?}", arms().iter().map(|a| a.label.clone()).collect::<Vec<_>>())))
}

/// The full-scale arms on GPT-2 medium (W_q, W_v): the GPT-2 M NOLA script's (rank 8, α 8,
/// k 512, lr 0.005) and LoRA r 1 and r 4 (α = r, LoRA's E2E lr 2e-4), full fine-tuning at 2e-4.
pub fn full_arms() -> Vec<Arm> {
    vec![
        Arm::full(2e-4),
        Arm::lora(1, 1.0, &TARGETS, 2e-4),
        Arm::lora(4, 4.0, &TARGETS, 2e-4),
        Arm::nola(8, 8.0, 512, &TARGETS, 5e-3),
    ]
}

/// Tokenised data for one run: training sequences (prompt, then target text), test prompts
/// with their references and slots, and how to turn ids back into text.
#[derive(Clone)]
pub struct E2eData {
    pub train: Vec<(Vec<u32>, Vec<u32>)>,
    pub test_prompts: Vec<Vec<u32>>,
    pub test_refs: Vec<Vec<String>>,
    pub test_slots: Vec<Vec<(String, String)>>,
    /// Every value each attribute takes (for wrong-value slot errors).
    pub slot_values: BTreeMap<String, Vec<String>>,
    pub eos: u32,
    pub decode: Arc<dyn Fn(&[u32]) -> String + Send + Sync>,
    /// Pre-training examples (ci only).
    pub pretrain: Vec<(Vec<u32>, Vec<u32>)>,
    pub vocab_size: usize,
}

/// ci data: 2,000 training and 300 test MRs (template 2; 3 references each), 6,000
/// pre-training documents ([`PT_TEMPLATES`]).
pub fn ci_data() -> Result<E2eData> {
    let task = E2eTask::default();
    let vocab = Arc::new(E2eTask::vocab());
    let enc = |s: &str| E2eTask::encode(&vocab, s);
    let eq = enc("=")?[0];
    let prompt = |mr: &crate::data::e2e::Mr| -> Result<Vec<u32>> {
        let mut p = enc(&mr.to_text())?;
        p.push(eq);
        Ok(p)
    };
    let train_ex = task.examples_with(2000, 1, 17, &[FT_TEMPLATE]);
    let test_ex = task.examples_with(300, 3, 18, &[FT_TEMPLATE]);
    let train = train_ex.iter().map(|e| Ok((prompt(&e.mr)?, enc(&e.refs[0])?))).collect::<Result<Vec<_>>>()?;
    let pretrain = task
        .examples_with(6000, 1, 19, &PT_TEMPLATES)
        .iter()
        .map(|e| Ok((prompt(&e.mr)?, enc(&e.refs[0])?)))
        .collect::<Result<Vec<_>>>()?;
    let v2 = vocab.clone();
    Ok(E2eData {
        train,
        test_prompts: test_ex.iter().map(|e| prompt(&e.mr)).collect::<Result<_>>()?,
        test_refs: test_ex.iter().map(|e| e.refs.clone()).collect(),
        test_slots: test_ex.iter().map(|e| e.mr.slots()).collect(),
        slot_values: ATTRIBUTES.iter().map(|a| (a.to_string(), values_of(a))).collect(),
        eos: 0,
        decode: Arc::new(move |ids: &[u32]| E2eTask::decode(&v2, ids)),
        pretrain,
        vocab_size: vocab.len(),
    })
}

/// The ci model: 2 layers, d 64, 4 heads, context 64, the task's word vocabulary.
pub fn ci_config(vocab_size: usize) -> Gpt2Config {
    Gpt2Config::tiny(vocab_size, 64, 64, 2, 4)
}

/// Pre-trains the ci base on whole `MR = text` documents with the fine-tuning batches' loss.
pub fn pretrain_base(data: &E2eData, steps: usize, seed: u64) -> Result<Gpt2> {
    if data.pretrain.is_empty() {
        return Err(Error::EmptyInput("no pre-training documents".into()));
    }
    let model = Gpt2::random(ci_config(data.vocab_size), seed, &Device::Cpu)?;
    let cfg = TrainConfig {
        steps,
        batch_size: 32,
        clip: Some(1.0),
        seed,
        progress: false,
        schedule: LrSchedule::Cosine {
            lr: 5e-3,
            warmup: 50,
            total: steps,
            min_lr: 5e-4,
        },
        ..Default::default()
    };
    let mut tr = Trainer::new(&model, Box::new(AdamW::new(AdamWConfig { lr: 5e-3, ..Default::default() })), cfg)?;
    let mut rng = StdRng::seed_from_u64(seed ^ 0x9E7);
    for _ in 0..steps {
        let idx: Vec<usize> = (0..32).map(|_| rng.random_range(0..data.pretrain.len())).collect();
        tr.train_step(&[batch(&data.pretrain, data.eos, &idx, &Device::Cpu)?])?;
    }
    tr.model()
}

/// A batch of `(prompt, text)` examples, each `prompt text eos` padded with eos:
/// x = seq[..T-1], y = seq[1..], with the targets inside the prompt set to eos. The library's
/// loss has no mask, so this is not one: the model is also taught that an MR token is followed
/// by eos, which decoding never asks (it starts after the prompt's last token).
pub fn batch(examples: &[(Vec<u32>, Vec<u32>)], eos: u32, idx: &[usize], dev: &Device) -> Result<(Tensor, Tensor)> {
    if idx.is_empty() {
        return Err(Error::EmptyInput("a batch of no examples".into()));
    }
    let get = |i: usize| examples.get(i).ok_or_else(|| Error::Shape(format!("example {i} of {}", examples.len())));
    let mut t = 2;
    for &i in idx {
        let (p, txt) = get(i)?;
        t = t.max(p.len() + txt.len() + 1);
    }
    let (mut x, mut y) = (vec![], vec![]);
    for &i in idx {
        let (p, txt) = get(i)?;
        let mut s = p.clone();
        s.extend(txt);
        s.resize(t, eos);
        x.extend_from_slice(&s[..t - 1]);
        let mut target = s[1..].to_vec();
        for v in target.iter_mut().take(p.len().saturating_sub(1)) {
            *v = eos;
        }
        y.extend(target);
    }
    Ok((Tensor::from_vec(x, (idx.len(), t - 1), dev)?, Tensor::from_vec(y, (idx.len(), t - 1), dev)?))
}

/// What a fine-tuning run gives back.
pub struct Finetuned {
    pub model: Gpt2,
    pub n_trainable: usize,
    /// (step, training loss) every 10 steps and at the end.
    pub losses: Vec<(f64, f64)>,
    pub secs_per_step: f64,
}

/// Fine-tunes `base` with one arm for `steps` steps of `batch_size` examples (seeded draws),
/// linear warm-up over 10% then linear decay to 0.
pub fn finetune(base: &Gpt2, data: &E2eData, arm: &Arm, seed: u64, steps: usize, batch_size: usize) -> Result<Finetuned> {
    if data.train.is_empty() {
        return Err(Error::EmptyInput("no training examples".into()));
    }
    if steps == 0 || batch_size == 0 {
        return Err(Error::EmptyInput(format!("fine-tuning needs steps and a batch (got {steps} steps of {batch_size})")));
    }
    let sched = LrSchedule::Linear {
        lr: arm.lr,
        warmup: steps / 10,
        total: steps,
        final_lr: 0.0,
    };
    let cfg = TrainConfig {
        steps,
        batch_size,
        clip: Some(1.0),
        seed,
        progress: false,
        schedule: sched,
        ..Default::default()
    };
    let opt = Box::new(AdamW::new(AdamWConfig {
        lr: arm.lr,
        beta2: 0.999,
        weight_decay: 0.0,
        ..Default::default()
    }));
    let adapter = match arm.config_for(seed) {
        Some(c) => {
            let mut a = Adapter::new(base, &c, seed)?;
            a.cache_basis(true)?;
            Some(a)
        }
        None => None,
    };
    let mut tr = match &adapter {
        Some(a) => a.trainer(opt, cfg)?,
        None => Trainer::new(base, opt, cfg)?,
    };
    let n_trainable = tr.params.n_trainable();
    let mut rng = StdRng::seed_from_u64(seed ^ 0xE2E);
    let mut losses = vec![];
    let t0 = std::time::Instant::now();
    for step in 0..steps {
        let idx: Vec<usize> = (0..batch_size).map(|_| rng.random_range(0..data.train.len())).collect();
        let b = batch(&data.train, data.eos, &idx, base.device())?;
        let st = match &adapter {
            Some(a) => a.train_step(&mut tr, &[b])?,
            None => tr.train_step(&[b])?,
        };
        if step % 10 == 0 || step + 1 == steps {
            losses.push((st.step as f64, st.loss));
        }
    }
    let secs_per_step = t0.elapsed().as_secs_f64() / steps as f64;
    let model = match &adapter {
        Some(a) => a.model()?,
        None => tr.model()?,
    };
    Ok(Finetuned {
        model,
        n_trainable,
        losses,
        secs_per_step,
    })
}

/// Greedy decoding of every test prompt (batched by prompt length, KV cache), up to
/// `max_new` tokens or eos.
pub fn generate(model: &Gpt2, data: &E2eData, max_new: usize) -> Result<Vec<String>> {
    let mut out = vec![String::new(); data.test_prompts.len()];
    let mut by_len: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, p) in data.test_prompts.iter().enumerate() {
        by_len.entry(p.len()).or_default().push(i);
    }
    for (len, rows) in by_len {
        if len == 0 || len >= model.cfg.n_positions {
            return Err(Error::Shape(format!("a prompt of {len} tokens does not fit the model's context of {}", model.cfg.n_positions)));
        }
        let max_new = max_new.min(model.cfg.n_positions - len);
        for chunk in rows.chunks(128) {
            let ids: Vec<u32> = chunk.iter().flat_map(|&i| data.test_prompts[i].clone()).collect();
            let mut x = Tensor::from_vec(ids, (chunk.len(), len), model.device())?;
            let mut kv = KvCache::new(model.cfg.n_layer);
            let mut gen: Vec<Vec<u32>> = vec![vec![]; chunk.len()];
            let mut done = vec![false; chunk.len()];
            for _ in 0..max_new {
                let logits = model
                    .run_with(
                        &x,
                        &crate::hooks::HookSpec::new(),
                        ForwardOpts {
                            last_only: true,
                            ..Default::default()
                        },
                        Some(&mut kv),
                    )?
                    .logits;
                let next: Vec<u32> = logits.squeeze(1)?.argmax(1)?.to_vec1::<u32>()?;
                for (r, &t) in next.iter().enumerate() {
                    if !done[r] {
                        if t == data.eos {
                            done[r] = true;
                        } else {
                            gen[r].push(t);
                        }
                    }
                }
                if done.iter().all(|&d| d) {
                    break;
                }
                x = Tensor::from_vec(next, (chunk.len(), 1), model.device())?;
            }
            for (r, &i) in chunk.iter().enumerate() {
                out[i] = (data.decode)(&gen[r]);
            }
        }
    }
    Ok(out)
}

/// BLEU (0..100, sacrebleu's), ROUGE-L F (0..1), CIDEr-D-style CIDEr and slot error rate.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Quality {
    pub bleu: f64,
    pub rouge_l: f64,
    pub cider: f64,
    pub slot_error: f64,
}

/// The quality of a model's greedy outputs on the test MRs, and the outputs.
pub fn evaluate(model: &Gpt2, data: &E2eData, max_new: usize) -> Result<(Quality, Vec<String>)> {
    let hyps = generate(model, data, max_new)?;
    let vals = |a: &str| data.slot_values.get(a).cloned().unwrap_or_default();
    let q = Quality {
        bleu: text::bleu(&hyps, &data.test_refs)?,
        rouge_l: text::rouge_l(&hyps, &data.test_refs)?,
        cider: text::cider(&hyps, &data.test_refs)?,
        slot_error: text::slot_error_rate(&hyps, &data.test_slots, vals)?,
    };
    Ok((q, hyps))
}

/// New tokens decoded per test MR at ci scale.
pub const MAX_NEW: usize = 40;

fn quality_row(seed: u64, group: &str, n_trainable: usize, q: &Quality) -> SeedMetrics {
    SeedMetrics::new(seed, group)
        .value("trainable", n_trainable as f64)
        .value("bleu", q.bleu)
        .value("rouge_l", q.rouge_l)
        .value("cider", q.cider)
        .value("slot_error", q.slot_error)
}

/// One seed of one arm at ci scale, as a row of the artefact (group = the arm's label).
pub fn run_arm(base: &Gpt2, data: &E2eData, arm: &Arm, seed: u64) -> Result<SeedMetrics> {
    let ft = finetune(base, data, arm, seed, FT_STEPS, FT_BATCH)?;
    let (q, _) = evaluate(&ft.model, data, MAX_NEW)?;
    Ok(quality_row(seed, &arm.label, ft.n_trainable, &q)
        .value("final_loss", ft.losses.last().map(|l| l.1).unwrap_or(f64::NAN))
        .curve("loss", ft.losses))
}

/// The artefact's group of the un-tuned base (the negative control).
pub const BASE_GROUP: &str = "base (no fine-tuning)";
pub const BASE_FILE: &str = "base.safetensors";

/// The committed pre-trained ci base (`datasets/nola/base.safetensors`, hash-checked on load).
pub fn load_base(a: &super::Artefact) -> Result<Gpt2> {
    let tensors = crate::model::weights::read_safetensors_raw(&a.dir.join(BASE_FILE), &Device::Cpu)?;
    Gpt2::from_tensors(ci_config(E2eTask::vocab().len()), &tensors.into_iter().collect())
}

/// Pre-trains the base (seed 0), fine-tunes every arm for every seed, writes `datasets/nola/`.
pub fn write_artefact(threads: usize) -> Result<String> {
    let t0 = std::time::Instant::now();
    let data = ci_data()?;
    let base = pretrain_base(&data, PT_STEPS, 0)?;
    let (q0, _) = evaluate(&base, &data, MAX_NEW)?;
    let jobs: Vec<(u64, Arm)> = SEEDS.iter().flat_map(|&s| arms().into_iter().map(move |a| (s, a))).collect();
    let n = jobs.len();
    let rows = parallel_map(jobs, threads, |(seed, arm)| run_arm(&base, &data, &arm, seed));
    let mut rows = rows.into_iter().collect::<Result<Vec<_>>>()?;
    // the base is one model (greedy decoding is deterministic): the same row for every seed,
    // so the control has a value wherever a claim has one
    for &s in &SEEDS {
        rows.push(quality_row(s, BASE_GROUP, 0, &q0));
    }
    let mut w = ArtefactWriter::new(SLUG, "cargo run --release --example artefact -- nola", &SEEDS)?;
    w.write_runs(&rows)?;
    w.write_bytes(BASE_FILE, &crate::model::weights::safetensors_bytes(&base.named_tensors())?)?;
    let notes = format!(
        "base pre-trained {PT_STEPS} steps (seed 0); {n} fine-tunes of {FT_STEPS} steps × {FT_BATCH} examples, {threads} at a time, {:.0} s in all on this machine's CPU",
        t0.elapsed().as_secs_f64()
    );
    w = w.notes(notes.clone());
    w.finish()?;
    Ok(notes)
}

/// The value `name` of every seed of `group`, in seed order (missing rows are left out).
pub fn per_seed(runs: &[SeedMetrics], group: &str, name: &str) -> Vec<(u64, f64)> {
    let mut v: Vec<(u64, f64)> = runs.iter().filter(|r| r.group == group).filter_map(|r| r.values.get(name).map(|&x| (r.seed, x))).collect();
    v.sort_by_key(|x| x.0);
    v
}

/// `a − b` per seed, over the seeds both have.
pub fn gap(a: &[(u64, f64)], b: &[(u64, f64)]) -> Vec<(u64, f64)> {
    a.iter().filter_map(|&(s, x)| b.iter().find(|y| y.0 == s).map(|y| (s, x - y.1))).collect()
}

/// One table row per group (the base, then the arms in [`arms`] order): trainable parameters,
/// then BLEU, ROUGE-L, CIDEr and slot error as mean [min, max] over seeds.
pub fn summary_rows(runs: &[SeedMetrics]) -> Vec<Vec<String>> {
    let groups: Vec<String> = std::iter::once(BASE_GROUP.to_string()).chain(arms().into_iter().map(|a| a.label)).collect();
    let mr = |g: &str, m: &str, d: usize| crate::notebook::mean_range(&per_seed(runs, g, m).iter().map(|x| x.1).collect::<Vec<_>>(), d);
    groups
        .iter()
        .filter(|g| runs.iter().any(|r| &r.group == *g))
        .map(|g| {
            let n = per_seed(runs, g, "trainable").first().map(|x| x.1 as usize).unwrap_or(0);
            vec![g.clone(), n.to_string(), mr(g, "bleu", 3), mr(g, "rouge_l", 3), mr(g, "cider", 3), mr(g, "slot_error", 2)]
        })
        .collect()
}

// ---------------------------------------------------------------- full scale

/// One row of the official E2E CSVs: the MR (`name[The Eagle], eatType[coffee shop], ...`)
/// and one human reference.
#[derive(Clone, Debug, PartialEq)]
pub struct E2eRow {
    pub mr: String,
    pub text: String,
}

/// Reads an official E2E CSV (`trainset.csv`, `devset.csv`, `testset_w_refs.csv`): a header
/// with `mr` and `ref` (or the Hugging Face names `meaning_representation`, `human_reference`),
/// RFC 4180 quoting.
pub fn read_e2e_csv(path: &Path) -> Result<Vec<E2eRow>> {
    let s = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let recs = parse_csv(&s).map_err(|m| Error::Data(format!("{}: {m}", path.display())))?;
    let mut it = recs.into_iter();
    let header = it.next().ok_or_else(|| Error::EmptyInput(format!("{}: empty CSV", path.display())))?;
    let col = |names: &[&str]| {
        header
            .iter()
            .position(|h| names.contains(&h.trim()))
            .ok_or_else(|| Error::Data(format!("{}: no column {names:?} in header {header:?}", path.display())))
    };
    let (mi, ri) = (col(&["mr", "meaning_representation"])?, col(&["ref", "human_reference"])?);
    let rows: Vec<E2eRow> = it
        .filter(|r| r.len() > mi.max(ri))
        .map(|r| E2eRow {
            mr: r[mi].trim().to_string(),
            text: r[ri].trim().to_string(),
        })
        .collect();
    if rows.is_empty() {
        return Err(Error::EmptyInput(format!("{}: no E2E rows", path.display())));
    }
    Ok(rows)
}

fn parse_csv(s: &str) -> std::result::Result<Vec<Vec<String>>, String> {
    let (mut out, mut rec, mut field) = (vec![], vec![], String::new());
    let mut chars = s.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => rec.push(std::mem::take(&mut field)),
            (false, '\n') => {
                rec.push(std::mem::take(&mut field));
                out.push(std::mem::take(&mut rec));
            }
            (false, '\r') => {}
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err("unterminated quoted field".into());
    }
    if !field.is_empty() || !rec.is_empty() {
        rec.push(field);
        out.push(rec);
    }
    Ok(out)
}

/// The (attribute, value) slots of an E2E MR, as written (`familyFriendly[yes]` stays `yes`:
/// texts never write it verbatim, so [`full_data`] leaves it out of the slot error).
pub fn parse_mr(mr: &str) -> Result<Vec<(String, String)>> {
    let mut out = vec![];
    for part in mr.split("],").map(str::trim).filter(|p| !p.is_empty()) {
        let (a, v) = part
            .trim_end_matches(']')
            .split_once('[')
            .ok_or_else(|| Error::Data(format!("MR slot {part:?} is not attribute[value]")))?;
        out.push((a.trim().to_string(), v.trim().to_string()));
    }
    if out.is_empty() {
        return Err(Error::Data(format!("MR {mr:?} has no slots")));
    }
    Ok(out)
}

/// Full-scale data: prompts `MR ||` and targets ` text` (the LoRA/NOLA E2E format, GPT-2
/// tokens, eos 50256), test references grouped by MR (first `max_test` distinct MRs), slot
/// values from the test set for the slot error (familyFriendly not scored).
pub fn full_data(tok: &Gpt2Tokenizer, train: &[E2eRow], test: &[E2eRow], max_test: usize) -> Result<E2eData> {
    let eos = tok.bos_token_id(); // `<|endoftext|>`: GPT-2's BOS and EOS
    let prompt = |mr: &str| tok.encode(&format!("{mr} ||"));
    let train = train.iter().map(|r| Ok((prompt(&r.mr)?, tok.encode(&format!(" {}", r.text))?))).collect::<Result<Vec<_>>>()?;
    let mut order: Vec<String> = vec![];
    let mut refs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in test {
        if !refs.contains_key(&r.mr) {
            order.push(r.mr.clone());
        }
        refs.entry(r.mr.clone()).or_default().push(r.text.clone());
    }
    order.truncate(max_test);
    let scored = |a: &str| a != "familyFriendly";
    let mut slot_values: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut test_slots = vec![];
    for mr in &order {
        let slots: Vec<(String, String)> = parse_mr(mr)?.into_iter().filter(|(a, _)| scored(a)).collect();
        for (a, v) in &slots {
            let e = slot_values.entry(a.clone()).or_default();
            if !e.contains(v) {
                e.push(v.clone());
            }
        }
        test_slots.push(slots);
    }
    let tok2 = tok.clone();
    Ok(E2eData {
        train,
        test_prompts: order.iter().map(|m| prompt(m)).collect::<Result<_>>()?,
        test_refs: order.iter().map(|m| refs[m].clone()).collect(),
        test_slots,
        slot_values,
        eos,
        decode: Arc::new(move |ids: &[u32]| tok2.decode(ids).map(|s| s.trim().to_string()).unwrap_or_default()),
        pretrain: vec![],
        vocab_size: tok.vocab_size(),
    })
}
