//! WECHSEL (Minixhofer, Paischer & Rekabsaz, NAACL 2022) at ci scale: MiniEnglish (the source
//! language A) and its relexification Lang B (the target), a tiny GPT-2 pretrained on A, and four
//! ways to start training on B, each trained with the same budget:
//!
//! - `wechsel`: A's body with WECHSEL embeddings for B's tokenizer;
//! - `shuffled dictionary`: the same with a dictionary whose targets are permuted (the negative
//!   control: an alignment that aligns nothing);
//! - `random embeddings`: A's body with random embeddings of A's per-dimension mean and std
//!   (the paper's "only the embeddings are new" baseline);
//! - `from scratch`: a randomly initialised model.
//!
//! The method is [`crate::transfer`]; this module fixes the set-up the notebook and the artefact
//! share (`cargo run --example artefact -- wechsel`).

use candle_core::Device;

use super::artefact::{ArtefactWriter, SeedMetrics};
use crate::data::{BilingualDictionary, BpeTokenizer, Pcfg, Relexifier, TokenDataset};
use crate::model::{Gpt2, Gpt2Config};
use crate::runtime::parallel_map;
use crate::train::{evaluate, AdamW, AdamWConfig, LrSchedule, TrainConfig, Trainer};
use crate::transfer::{
    transfer_model, translation_accuracy, PpmiConfig, Transfer, TransferConfig, WechselConfig,
    WordVectors,
};
use crate::Result;

pub const SLUG: &str = "wechsel";
pub const SEEDS: [u64; 3] = [0, 1, 2];
/// The seed of Lang B's lexicon and of the dictionary.
pub const LANGUAGE_SEED: u64 = 7;
pub const VOCAB: usize = 512;
pub const CTX: usize = 64;
pub const SOURCE_SENTENCES: usize = 20_000;
pub const TARGET_SENTENCES: usize = 20_000;
pub const VAL_SENTENCES: usize = 1_000;
/// Dictionary coverage of the gold pairs and share of noise entries (the brief: ~60%, 10%), and
/// the share of its source words held out to test the alignment.
pub const DICT_COVERAGE: f64 = 0.6;
pub const DICT_NOISE: f64 = 0.1;
pub const HELD_OUT: f64 = 0.2;

/// The four starts on the target language.
pub const ARMS: [&str; 4] = [
    "wechsel",
    "shuffled dictionary",
    "random embeddings",
    "from scratch",
];

/// Sizes of one run.
#[derive(Clone, Debug)]
pub struct Setup {
    pub model: Gpt2Config,
    pub source_steps: usize,
    pub target_steps: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub eval_every: usize,
    pub eval_batches: usize,
    pub transfer: TransferConfig,
}

/// The ci set-up: GPT-2 with 2 layers, d_model 64, 4 heads, context 64, vocabulary 512 in both
/// languages; AdamW at 3e-3 with warmup and cosine decay; 16 × 64 tokens a step.
pub fn ci_setup() -> Setup {
    Setup {
        model: Gpt2Config::tiny(VOCAB, CTX, 64, 2, 4),
        source_steps: 300,
        target_steps: 200,
        batch_size: 16,
        lr: 3e-3,
        eval_every: 10,
        eval_batches: 4,
        transfer: TransferConfig {
            target_vocab: Some(VOCAB),
            min_frequency: 2,
            vectors: PpmiConfig {
                dim: 48,
                window: 2,
                min_count: 2,
                ..Default::default()
            },
            wechsel: WechselConfig::default(),
        },
    }
}

/// The two languages' text, tokenizers and data, and the dictionaries.
#[derive(Clone)]
pub struct CiData {
    pub relex: Relexifier,
    pub source_docs: Vec<String>,
    pub target_docs: Vec<String>,
    pub target_val_docs: Vec<String>,
    pub source_tok: BpeTokenizer,
    /// The dictionary the alignment uses (noisy, incomplete) and the gold pairs of the source
    /// words it holds out (to test the alignment on words it did not see).
    pub dict: BilingualDictionary,
    pub held_out: BilingualDictionary,
    pub source_train: TokenDataset,
}

/// Builds [`CiData`]: A and B text from different MiniEnglish samples (seeds 1 and 2, validation
/// 3), A's tokenizer, the dictionary split.
pub fn ci_data() -> Result<CiData> {
    let g = Pcfg::english_small();
    let relex = Relexifier::new(LANGUAGE_SEED);
    let source_docs: Vec<String> = g
        .generate(SOURCE_SENTENCES, 1)
        .iter()
        .map(|s| s.to_text())
        .collect();
    let target_docs = relex.corpus(&g.generate(TARGET_SENTENCES, 2));
    let target_val_docs = relex.corpus(&g.generate(VAL_SENTENCES, 3));
    let source_tok = BpeTokenizer::train(&source_docs, VOCAB)?;
    let full = relex.dictionary(DICT_COVERAGE, DICT_NOISE, LANGUAGE_SEED)?;
    let (dict, _) = full.split(HELD_OUT, LANGUAGE_SEED)?;
    // held-out source words, with every gold translation (clean: it is the test of the alignment)
    let kept: std::collections::HashSet<&String> = dict.pairs.iter().map(|p| &p.0).collect();
    let held_out = BilingualDictionary::new(
        relex
            .gold_pairs()
            .into_iter()
            .filter(|p| !kept.contains(&p.0))
            .collect(),
    )?;
    let source_train = source_tok.dataset(&source_docs, CTX)?;
    Ok(CiData {
        relex,
        source_docs,
        target_docs,
        target_val_docs,
        source_tok,
        dict,
        held_out,
        source_train,
    })
}

fn trainer(model: &Gpt2, steps: usize, setup: &Setup, seed: u64) -> Result<Trainer> {
    let cfg = TrainConfig {
        steps,
        batch_size: setup.batch_size,
        schedule: LrSchedule::Cosine {
            lr: setup.lr,
            warmup: steps / 10,
            total: steps,
            min_lr: setup.lr / 10.0,
        },
        eval_every: Some(setup.eval_every),
        eval_batches: Some(setup.eval_batches),
        seed,
        progress: false,
        ..Default::default()
    };
    Trainer::new(
        model,
        Box::new(AdamW::new(AdamWConfig {
            lr: setup.lr,
            weight_decay: 0.1,
            ..Default::default()
        })),
        cfg,
    )
}

/// The source model: a tiny GPT-2 trained on A.
pub fn pretrain_source(data: &CiData, setup: &Setup, seed: u64) -> Result<Gpt2> {
    let model = Gpt2::random(setup.model.clone(), seed, &Device::Cpu)?;
    let mut tr = trainer(&model, setup.source_steps, setup, seed)?;
    tr.cfg.eval_every = None;
    tr.fit(&data.source_train, None)?;
    tr.model()
}

/// Validation loss on B every `eval_every` steps, step 0 included, for the first `steps` steps of
/// the set-up's schedule (`steps < target_steps`: a prefix of the full run, same numbers).
pub fn train_on_target(
    model: &Gpt2,
    train: &TokenDataset,
    val: &TokenDataset,
    setup: &Setup,
    seed: u64,
    steps: usize,
) -> Result<Vec<(f64, f64)>> {
    let mut curve = vec![(
        0.0,
        evaluate(model, val, setup.batch_size, Some(setup.eval_batches))?,
    )];
    let mut tr = trainer(model, setup.target_steps, setup, seed)?;
    tr.cfg.steps = steps.min(setup.target_steps); // the schedule keeps its total
    let m = tr.fit(train, Some(val))?;
    curve.extend(
        m.rows
            .iter()
            .filter_map(|r| r.val_loss.map(|v| (r.step as f64, v))),
    );
    Ok(curve)
}

/// The step at which `curve` first reaches `target`, linearly interpolated between evaluations
/// (None: never within the curve).
pub fn steps_to_reach(curve: &[(f64, f64)], target: f64) -> Option<f64> {
    let i = curve.iter().position(|p| p.1 <= target)?;
    if i == 0 {
        return Some(curve[0].0);
    }
    let ((x0, y0), (x1, y1)) = (curve[i - 1], curve[i]);
    Some(x0 + (y0 - target) / (y0 - y1) * (x1 - x0))
}

/// The validation loss of `curve` at `step` (the evaluation there).
pub fn loss_at(curve: &[(f64, f64)], step: usize) -> f64 {
    curve
        .iter()
        .find(|p| p.0 == step as f64)
        .map(|p| p.1)
        .unwrap_or(f64::NAN)
}

/// The step at which the "early loss" is read: 10% of the target budget.
pub fn early_step(setup: &Setup) -> usize {
    setup.target_steps / 10
}

/// The four starts on Lang B (in [`ARMS`] order), B's data, and the seed's `alignment` row:
/// the source model's own validation loss, the alignment's held-out translation accuracy (real and
/// shuffled dictionary, with chance), the dictionary pairs used, the tokens matched, and the four
/// starts' initial loss on B.
pub struct Starts {
    pub models: Vec<Gpt2>,
    pub transfer: Transfer,
    pub train: TokenDataset,
    pub val: TokenDataset,
    pub alignment: SeedMetrics,
}

/// WECHSEL (and its controls) applied to `source`.
pub fn starts(data: &CiData, setup: &Setup, source: &Gpt2, seed: u64) -> Result<Starts> {
    let t: Transfer = transfer_model(
        source,
        &data.source_tok,
        &data.source_docs,
        &data.target_docs,
        &data.dict,
        &setup.transfer,
    )?;
    let shuffled = data.dict.shuffled(seed);
    let (shuffled_model, shuffled_method) =
        t.with_dictionary(source, &data.source_tok, &shuffled, &setup.transfer.wechsel)?;
    let train = t.target_tok.dataset(&data.target_docs, CTX)?;
    let val = t.target_tok.dataset(&data.target_val_docs, CTX)?;
    let mut scratch_cfg = setup.model.clone();
    scratch_cfg.vocab_size = t.target_tok.vocab_size();
    let models = vec![
        t.model.clone(),
        shuffled_model,
        t.random_embedding_model(source, seed)?,
        Gpt2::random(scratch_cfg, seed + 1000, &Device::Cpu)?,
    ];
    let (acc, n) = translation_accuracy(
        &t.source_vectors,
        &t.target_vectors,
        &t.method.alignment.matrix,
        &data.held_out,
    );
    let (acc_shuffled, _) = translation_accuracy(
        &t.source_vectors,
        &t.target_vectors,
        &shuffled_method.alignment.matrix,
        &data.held_out,
    );
    let source_val = data.source_tok.dataset(&data.source_val_docs(), CTX)?;
    let mut alignment = SeedMetrics::new(seed, "alignment")
        .value("translation_top1", acc)
        .value("translation_top1_shuffled", acc_shuffled)
        .value("translation_words", n as f64)
        .value("chance", 1.0 / t.target_vectors.len() as f64)
        .value("dictionary_pairs_used", t.method.alignment.n_pairs as f64)
        .value("tokens_matched", t.init.n_matched as f64)
        .value(
            "source_val_loss",
            evaluate(
                source,
                &source_val,
                setup.batch_size,
                Some(setup.eval_batches),
            )?,
        );
    for (arm, m) in ARMS.iter().zip(&models) {
        alignment = alignment.value(
            &format!("initial_loss {arm}"),
            evaluate(m, &val, setup.batch_size, Some(setup.eval_batches))?,
        );
    }
    Ok(Starts {
        models,
        transfer: t,
        train,
        val,
        alignment,
    })
}

/// The group of the stored prefix of the WECHSEL arm's curve, which a notebook re-runs live.
pub const PREFIX_GROUP: &str = "wechsel (live prefix)";
/// Steps of that prefix.
pub const PREFIX_STEPS: usize = 40;

/// One seed: the source model, the four starts trained on B, and the rows: one per arm
/// (`val_loss` curve, `final_loss`, `early_loss` at 10% of the budget and `steps_to_scratch`,
/// the interpolated step at which it reaches the from-scratch arm's final loss, when it does),
/// the `alignment` row and the WECHSEL arm's first [`PREFIX_STEPS`] steps ([`PREFIX_GROUP`]).
pub fn run_seed(data: &CiData, setup: &Setup, seed: u64) -> Result<(Vec<SeedMetrics>, Gpt2)> {
    let source = pretrain_source(data, setup, seed)?;
    let st = starts(data, setup, &source, seed)?;
    let curves = parallel_map(st.models.clone(), 2, |m| {
        train_on_target(&m, &st.train, &st.val, setup, seed, setup.target_steps)
    });
    let curves = curves.into_iter().collect::<Result<Vec<_>>>()?;
    let scratch_final = curves[3].last().map(|p| p.1).unwrap_or(f64::NAN);
    let mut rows = vec![];
    for (arm, curve) in ARMS.iter().zip(&curves) {
        let mut m = SeedMetrics::new(seed, *arm)
            .value("final_loss", curve.last().map(|p| p.1).unwrap_or(f64::NAN))
            .value("early_loss", loss_at(curve, early_step(setup)));
        if let Some(s) = steps_to_reach(curve, scratch_final) {
            m = m.value("steps_to_scratch", s);
        }
        rows.push(m.curve("val_loss", curve.clone()));
    }
    let prefix: Vec<(f64, f64)> = curves[0]
        .iter()
        .copied()
        .filter(|p| p.0 <= PREFIX_STEPS as f64)
        .collect();
    rows.push(SeedMetrics::new(seed, PREFIX_GROUP).curve("val_loss", prefix));
    rows.push(st.alignment);
    Ok((rows, source))
}

/// What a notebook re-runs live from the stored source model of `seed`: the `alignment` row and
/// the WECHSEL arm's first [`PREFIX_STEPS`] steps.
pub fn live_rows(
    data: &CiData,
    setup: &Setup,
    source: &Gpt2,
    seed: u64,
) -> Result<(Vec<SeedMetrics>, Starts)> {
    let st = starts(data, setup, source, seed)?;
    let prefix = train_on_target(&st.models[0], &st.train, &st.val, setup, seed, PREFIX_STEPS)?;
    Ok((
        vec![
            st.alignment.clone(),
            SeedMetrics::new(seed, PREFIX_GROUP).curve("val_loss", prefix),
        ],
        st,
    ))
}

/// The file of the artefact holding the first seed's source model (f32 safetensors).
pub const SOURCE_MODEL_FILE: &str = "source-model-seed0.safetensors";

/// Loads the stored source model of the first seed from the artefact.
pub fn stored_source_model(artefact: &super::Artefact) -> Result<Gpt2> {
    let t = crate::model::weights::read_safetensors_raw(
        &artefact.dir.join(SOURCE_MODEL_FILE),
        &Device::Cpu,
    )?;
    Gpt2::from_tensors(ci_setup().model, &t)
}

impl CiData {
    /// Held-out A text (seed 3 of the grammar, untranslated): the source model's own validation.
    pub fn source_val_docs(&self) -> Vec<String> {
        Pcfg::english_small()
            .generate(VAL_SENTENCES, 3)
            .iter()
            .map(|s| s.to_text())
            .collect()
    }
}

/// Runs every seed of [`SEEDS`] and writes `datasets/wechsel/`.
pub fn write_artefact(threads: usize) -> Result<String> {
    let t0 = std::time::Instant::now();
    let data = ci_data()?;
    let setup = ci_setup();
    let _ = threads; // each seed already trains two arms at a time
    let mut rows = vec![];
    let mut first_source = None;
    for &s in &SEEDS {
        let (r, source) = run_seed(&data, &setup, s)?;
        rows.extend(r);
        first_source.get_or_insert(source);
    }
    let mut w = ArtefactWriter::new(SLUG, "cargo run --example artefact -- wechsel", &SEEDS)?;
    w.write_runs(&rows)?;
    let source = first_source.expect("at least one seed");
    w.write_bytes(
        SOURCE_MODEL_FILE,
        &crate::model::weights::safetensors_bytes(&source.named_tensors())?,
    )?;
    let notes = format!(
        "{} seeds × (source pretraining {} steps + 4 arms × {} steps of {}×{} tokens), {:.0} s on this machine's CPU",
        SEEDS.len(),
        setup.source_steps,
        setup.target_steps,
        setup.batch_size,
        CTX,
        t0.elapsed().as_secs_f64()
    );
    w = w.notes(notes.clone());
    w.finish()?;
    Ok(notes)
}

/// Word vectors of a language's documents with the set-up's configuration (for the notebook's
/// nearest-neighbour tables).
pub fn vectors(docs: &[String], setup: &Setup) -> Result<WordVectors> {
    WordVectors::ppmi_svd(docs, &setup.transfer.vectors)
}

/// GPT-2's own tokenizer (shipped in `datasets/gpt2-tokenizer/`) as a [`BpeTokenizer`]: the
/// source tokenizer at full scale.
pub fn gpt2_tokenizer() -> Result<BpeTokenizer> {
    Ok(BpeTokenizer::from_tokenizer(
        crate::tokenizer::Gpt2Tokenizer::gpt2()?.inner().clone(),
    ))
}

/// The full-scale transfer: the target tokenizer gets GPT-2's vocabulary size (50,257) as in the
/// paper; word vectors of dimension 300 (the paper's fastText dimension) over windows of 5, words
/// seen at least 5 times, at most 50,000 of them. With `GPT2LAB_SCALE=full` the notebook runs
/// [`transfer_model`] with this on `Gpt2::from_pretrained("gpt2")`, [`gpt2_tokenizer`], English
/// and French text and the official French dictionary.
pub fn full_config() -> TransferConfig {
    TransferConfig {
        target_vocab: None,
        min_frequency: 2,
        vectors: PpmiConfig {
            dim: 300,
            window: 5,
            min_count: 5,
            max_words: 50_000,
            ..Default::default()
        },
        wechsel: WechselConfig::default(),
    }
}
