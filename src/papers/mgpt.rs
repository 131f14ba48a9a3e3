//! mGPT (Shliazhko et al., TACL 2024) at ci scale: the paper's *method* of choosing a
//! multilingual tokenizer with small proxy models, and its k-shot evaluation protocol.
//!
//! Five tokenization strategies ([`Strategy`]) are trained on one multilingual synthetic corpus
//! ([`MultilingualGen::standard`]: five languages from one grammar, one of them low-resource, one
//! in another script, one numeral-heavy); a tiny GPT-2 is trained on the same pooled text with
//! each; every model is measured per language by bits per byte (tokenizer-independent),
//! fertility (tokens per word) and k-shot accuracy on the corpus's classification task with
//! mGPT's scoring ([`crate::eval::fewshot`]). Two monolingual models (the high-resource and the
//! low-resource language alone, pooled tokenizer) and an untrained model complete the picture.
//! Three seeds (data, tokenizers, initialisation, batch order) make the artefact
//! `cargo run --example artefact -- mgpt`.
//!
//! Full scale ([`full_scale_fewshot`]): `ai-forever/mGPT` (GPT-2 architecture) from the hub,
//! zero/few-shot on XNLI or PAWS-X read from their TSV releases, with the same scoring.

use std::path::Path;

use candle_core::Device;

use super::artefact::{ArtefactWriter, SeedMetrics};
use crate::data::{
    BpeTokenizer, ClassItem, MultilingualCorpus, MultilingualGen, Strategy, StrategyConfig, StrategyTokenizer, TokenDataset,
};
use crate::eval::fewshot::{evaluate_fewshot, Example, FewShotConfig, FewShotResult, Verbalizer};
use crate::metrics::multilingual::{language_bpb, tokenizer_fertility};
use crate::model::{Gpt2, Gpt2Config};
use crate::train::{AdamW, AdamWConfig, LrSchedule, TrainConfig, Trainer};
use crate::{Error, Result};

pub const SLUG: &str = "mgpt";
pub const SEEDS: [u64; 3] = [0, 1, 2];
/// The shots evaluated (the brief's k ∈ {0, 1, 4}).
pub const SHOTS: [usize; 3] = [0, 1, 4];
/// The languages the monolingual models are trained on: the high- and the low-resource one.
pub const MONOLINGUAL: [&str; 2] = ["lat", "low"];

/// Sizes of one seed's study.
#[derive(Clone, Debug)]
pub struct Setup {
    pub vocab_size: usize,
    pub alpha: f64,
    pub ctx: usize,
    pub n_embd: usize,
    pub n_layer: usize,
    pub n_head: usize,
    pub steps: usize,
    pub batch_size: usize,
    pub lr: f64,
    /// Training documents (all languages, natural shares).
    pub train_docs: usize,
    /// Held-out documents per language for bits per byte and fertility.
    pub val_docs: usize,
    /// Test sentences and demonstration-pool sentences per language.
    pub test_items: usize,
    pub pool_items: usize,
    /// Test and pool sentences have at most this many UTF-8 bytes, so that every candidate fits
    /// the context even byte by byte (a longer one could not be scored: left truncation only
    /// drops whole demonstrations).
    pub max_item_bytes: usize,
}

/// The ci set-up: vocabularies of 1,024 (bytes: 257), α = 0.3; GPT-2s with 2 layers, d 64,
/// 4 heads, context 128; 150 steps of 16 × 128 tokens (≈ 0.3M tokens, the brief's budget).
pub fn ci_setup() -> Setup {
    Setup {
        vocab_size: 1024,
        alpha: 0.3,
        ctx: 128,
        n_embd: 64,
        n_layer: 2,
        n_head: 4,
        steps: 150,
        batch_size: 16,
        lr: 3e-3,
        train_docs: 8000,
        val_docs: 40,
        test_items: 60,
        pool_items: 40,
        max_item_bytes: 100,
    }
}

/// One seed's text: the training corpus, and per language the held-out documents, test
/// sentences and demonstration pool.
#[derive(Clone)]
pub struct SeedData {
    pub generator: MultilingualGen,
    pub train: MultilingualCorpus,
    pub val: Vec<Vec<String>>,
    pub test: Vec<Vec<ClassItem>>,
    pub pool: Vec<Vec<ClassItem>>,
}

/// The data of `seed` (every part from its own stream derived from the seed).
pub fn seed_data(setup: &Setup, seed: u64) -> Result<SeedData> {
    let generator = MultilingualGen::standard();
    let train = generator.corpus(setup.train_docs, 1000 + seed);
    let n = generator.n_langs();
    let mut val = vec![];
    let mut test = vec![];
    let mut pool = vec![];
    for l in 0..n {
        let s = 2000 + 100 * seed + l as u64;
        val.push(generator.corpus_in(l, setup.val_docs, s)?.texts());
        test.push(generator.class_items_within(l, setup.test_items, s + 10_000, setup.max_item_bytes)?);
        pool.push(generator.class_items_within(l, setup.pool_items, s + 20_000, setup.max_item_bytes)?);
    }
    Ok(SeedData {
        generator,
        train,
        val,
        test,
        pool,
    })
}

impl SeedData {
    /// Training texts grouped by language.
    pub fn by_lang(&self) -> Vec<Vec<String>> {
        (0..self.generator.n_langs()).map(|l| self.train.texts_of(l)).collect()
    }
    pub fn codes(&self) -> Vec<String> {
        self.generator.langs.iter().map(|l| l.code.clone()).collect()
    }
}

/// The strategy's tokenizer trained on the seed's corpus.
pub fn tokenizer(data: &SeedData, setup: &Setup, strategy: Strategy, seed: u64) -> Result<StrategyTokenizer> {
    StrategyTokenizer::train(
        strategy,
        &data.by_lang(),
        &StrategyConfig {
            vocab_size: setup.vocab_size,
            alpha: setup.alpha,
            seed,
        },
    )
}

/// Fertility per language (`fertility <code>`) on the held-out documents.
pub fn fertility_row(data: &SeedData, tok: &StrategyTokenizer, seed: u64) -> Result<SeedMetrics> {
    let mut m = SeedMetrics::new(seed, tok.strategy.name());
    for (code, docs) in data.codes().iter().zip(&data.val) {
        m = m.value(&format!("fertility {code}"), tokenizer_fertility(tok, docs)?);
    }
    Ok(m)
}

/// A tiny GPT-2 trained on `docs` with `tok` (AdamW, warmup and cosine decay).
pub fn train_model(tok: &StrategyTokenizer, docs: &[String], setup: &Setup, seed: u64) -> Result<Gpt2> {
    train_model_steps(tok, docs, setup, seed, setup.steps)
}

/// The first `steps` steps of [`train_model`]'s run (same schedule, stopped early).
pub fn train_model_steps(tok: &StrategyTokenizer, docs: &[String], setup: &Setup, seed: u64, steps: usize) -> Result<Gpt2> {
    let data: TokenDataset = tok.dataset(docs, setup.ctx)?;
    let cfg = Gpt2Config::tiny(tok.vocab_size(), setup.ctx, setup.n_embd, setup.n_layer, setup.n_head);
    let model = Gpt2::random(cfg, seed, &Device::Cpu)?;
    let tc = TrainConfig {
        steps: setup.steps,
        batch_size: setup.batch_size,
        schedule: LrSchedule::Cosine {
            lr: setup.lr,
            warmup: setup.steps / 10,
            total: setup.steps,
            min_lr: setup.lr / 10.0,
        },
        seed,
        progress: false,
        ..Default::default()
    };
    let mut tr = Trainer::new(
        &model,
        Box::new(AdamW::new(AdamWConfig {
            lr: setup.lr,
            weight_decay: 0.1,
            ..Default::default()
        })),
        tc,
    )?;
    tr.cfg.steps = steps.min(setup.steps); // the schedule keeps its total
    tr.fit(&data, None)?;
    tr.model()
}

/// The classification task of language `lang` as [`Example`]s and its verbalizer.
pub fn task(data: &SeedData, lang: usize) -> (Verbalizer, Vec<Example>, Vec<Example>) {
    let v = Verbalizer::Suffix {
        sep: crate::data::multilingual::ARROW.into(),
        labels: data.generator.label_words(lang).to_vec(),
    };
    let conv = |items: &[ClassItem]| items.iter().map(|i| Example::single(i.text.clone(), i.label)).collect::<Vec<_>>();
    (v, conv(&data.test[lang]), conv(&data.pool[lang]))
}

/// The k-shot prompt for test sentence `i` of language `lang`, candidate `label` (demonstrations
/// drawn from the balanced pool with seed 0, as [`evaluate_fewshot`] draws them).
pub fn prompt(data: &SeedData, lang: usize, k: usize, i: usize, label: usize) -> Result<String> {
    use crate::eval::fewshot::{balanced_pool, demonstrations};
    let (v, test, pool) = task(data, lang);
    let ex = test
        .get(i)
        .ok_or_else(|| Error::Data(format!("test sentence {i} of {}", test.len())))?;
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
    Ok(demonstrations(&v, &balanced_pool(&pool, v.n_labels())?, k, &mut rng)? + &v.verbalize(ex, label)?)
}

/// k-shot accuracy of `model` on language `lang` (demonstrations drawn with `seed`).
pub fn fewshot(model: &Gpt2, tok: &StrategyTokenizer, data: &SeedData, lang: usize, k: usize, seed: u64) -> Result<FewShotResult> {
    let (v, test, pool) = task(data, lang);
    evaluate_fewshot(
        model,
        tok,
        &v,
        &test,
        &pool,
        &FewShotConfig {
            k,
            max_tokens: model.cfg.n_positions,
            seed,
            batch_size: 32,
        },
    )
}

/// A model's row: `bpb <code>` per language (and `bpb mean`), `acc k<k> <code>` and
/// `acc k<k>` (mean over languages) for k in [`SHOTS`]. `langs`: the languages to measure.
pub fn model_row(model: &Gpt2, tok: &StrategyTokenizer, data: &SeedData, group: &str, langs: &[usize], seed: u64) -> Result<SeedMetrics> {
    let eot = tok.bpe.eot_id().ok_or_else(|| Error::Tokenizer("no <|endoftext|>".into()))?;
    let codes = data.codes();
    let mut m = SeedMetrics::new(seed, group);
    let mut bpbs = vec![];
    for &l in langs {
        let b = language_bpb(model, tok, eot, &data.val[l], 32)?.bpb;
        bpbs.push(b);
        m = m.value(&format!("bpb {}", codes[l]), b);
    }
    m = m.value("bpb mean", bpbs.iter().sum::<f64>() / bpbs.len() as f64);
    for k in SHOTS {
        let mut accs = vec![];
        for &l in langs {
            let a = fewshot(model, tok, data, l, k, seed)?.accuracy;
            accs.push(a);
            m = m.value(&format!("acc k{k} {}", codes[l]), a);
        }
        m = m.value(&format!("acc k{k}"), accs.iter().sum::<f64>() / accs.len() as f64);
    }
    Ok(m)
}

/// The group names of the rows.
pub fn fertility_group(s: Strategy) -> String {
    format!("fertility: {}", s.name())
}
pub fn model_group(s: Strategy) -> String {
    format!("model: {}", s.name())
}
pub fn mono_group(code: &str) -> String {
    format!("monolingual {code}")
}
pub const UNTRAINED_GROUP: &str = "untrained (pooled BPE)";

/// The cheapest model, which a notebook re-runs live: byte level (the smallest vocabulary).
pub const LIVE_STRATEGY: Strategy = Strategy::Bytes;

/// The group of the live re-run's row and its steps.
pub const LIVE_GROUP: &str = "live: bytes, first 40 steps";
pub const LIVE_STEPS: usize = 40;

/// What a notebook re-runs live for `seed`: the byte-level model's first [`LIVE_STEPS`] steps,
/// its bits per byte per language ([`LIVE_GROUP`]).
pub fn live_row(data: &SeedData, setup: &Setup, seed: u64) -> Result<SeedMetrics> {
    let tok = tokenizer(data, setup, LIVE_STRATEGY, seed)?;
    let model = train_model_steps(&tok, &data.train.texts(), setup, seed, LIVE_STEPS)?;
    let eot = tok.bpe.eot_id().ok_or_else(|| Error::Tokenizer("no <|endoftext|>".into()))?;
    let mut m = SeedMetrics::new(seed, LIVE_GROUP);
    for (code, docs) in data.codes().iter().zip(&data.val) {
        m = m.value(&format!("bpb {code}"), language_bpb(&model, &tok, eot, docs, 32)?.bpb);
    }
    Ok(m)
}

/// One strategy of one seed: its tokenizer's fertility row and its model's row.
pub fn run_strategy(data: &SeedData, setup: &Setup, strategy: Strategy, seed: u64) -> Result<Vec<SeedMetrics>> {
    let tok = tokenizer(data, setup, strategy, seed)?;
    let mut f = fertility_row(data, &tok, seed)?;
    f.group = fertility_group(strategy);
    f = f.value("vocab", tok.vocab_size() as f64);
    let model = train_model(&tok, &data.train.texts(), setup, seed)?;
    let all: Vec<usize> = (0..data.generator.n_langs()).collect();
    Ok(vec![f, model_row(&model, &tok, data, &model_group(strategy), &all, seed)?])
}

/// Every row of one seed: five strategies, two monolingual models and the untrained control.
pub fn run_seed(setup: &Setup, seed: u64, threads: usize) -> Result<Vec<SeedMetrics>> {
    let data = seed_data(setup, seed)?;
    let mut rows = vec![];
    let runs = crate::runtime::parallel_map(Strategy::ALL.to_vec(), threads.max(1), |s| run_strategy(&data, setup, s, seed));
    for r in runs {
        rows.extend(r?);
    }
    let pooled = tokenizer(&data, setup, Strategy::PooledBpe, seed)?;
    let monos = crate::runtime::parallel_map(MONOLINGUAL.to_vec(), threads.max(1), |code| -> Result<SeedMetrics> {
        let l = data.generator.lang_index(code)?;
        let model = train_model(&pooled, &data.train.texts_of(l), setup, seed)?;
        model_row(&model, &pooled, &data, &mono_group(code), &[l], seed)
    });
    for r in monos {
        rows.push(r?);
    }
    let cfg = Gpt2Config::tiny(pooled.vocab_size(), setup.ctx, setup.n_embd, setup.n_layer, setup.n_head);
    let untrained = Gpt2::random(cfg, seed, &Device::Cpu)?;
    let all: Vec<usize> = (0..data.generator.n_langs()).collect();
    rows.push(model_row(&untrained, &pooled, &data, UNTRAINED_GROUP, &all, seed)?);
    if seed == SEEDS[0] {
        rows.push(live_row(&data, setup, seed)?);
    }
    Ok(rows)
}

/// Runs [`SEEDS`] and writes `datasets/mgpt/runs.json`.
pub fn write_artefact(threads: usize) -> Result<String> {
    let t0 = std::time::Instant::now();
    let setup = ci_setup();
    let mut rows = vec![];
    for &s in &SEEDS {
        rows.extend(run_seed(&setup, s, threads)?);
    }
    let notes = format!(
        "{} seeds × (5 tokenizers + 5 multilingual and 2 monolingual GPT-2s of {} steps × {}×{} tokens + evaluation), {:.0} s on this machine's CPU ({threads} threads)",
        SEEDS.len(),
        setup.steps,
        setup.batch_size,
        setup.ctx,
        t0.elapsed().as_secs_f64()
    );
    let mut w = ArtefactWriter::new(SLUG, "cargo run --example artefact -- mgpt", &SEEDS)?.notes(notes.clone());
    w.write_runs(&rows)?;
    w.finish()?;
    Ok(notes)
}

// ------------------------------------------------------------------------------------------------
// Full scale

/// mGPT-1.3B's shape as the paper describes it (GPT-2 architecture: 24 layers, d 2048, 16 heads,
/// context 2048, a 100k vocabulary). The hub checkpoint's own `config.json` is what
/// [`Gpt2::from_pretrained`] reads; this is for sizing.
pub fn mgpt_13b_config() -> Gpt2Config {
    Gpt2Config::tiny(100_000, 2048, 2048, 24, 16)
}

/// A GPT-2-style tokenizer from a model directory: `tokenizer.json` when present, else
/// `vocab.json` + `merges.txt` (byte-level BPE, as `GPT2Tokenizer` reads them).
pub fn load_tokenizer_dir(dir: &Path) -> Result<BpeTokenizer> {
    let tj = dir.join("tokenizer.json");
    if tj.exists() {
        return BpeTokenizer::load(tj);
    }
    let (v, m) = (dir.join("vocab.json"), dir.join("merges.txt"));
    for p in [&v, &m] {
        if !p.exists() {
            return Err(Error::io(
                p,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no tokenizer.json, vocab.json or merges.txt"),
            ));
        }
    }
    use tokenizers::pre_tokenizers::byte_level::ByteLevel;
    let bpe = tokenizers::models::bpe::BPE::from_file(&v.to_string_lossy(), &m.to_string_lossy())
        .build()
        .map_err(|e| Error::Tokenizer(e.to_string()))?;
    let mut t = tokenizers::Tokenizer::new(bpe);
    t.with_pre_tokenizer(Some(ByteLevel::default().add_prefix_space(false)));
    t.with_decoder(Some(ByteLevel::default()));
    Ok(BpeTokenizer::from_tokenizer(t))
}

/// Sentence-pair examples of one language from a TSV with a header: XNLI-1.0's
/// `xnli.{dev,test}.tsv` (`language`, `gold_label` ∈ entailment/neutral/contradiction,
/// `sentence1`, `sentence2`) or PAWS-X's `{dev,test}_2k.tsv` (`sentence1`, `sentence2`,
/// `label` ∈ 0/1; no language column: one file per language). `labels`: the label strings in
/// index order. Typed errors: a missing column, an unknown label.
pub fn read_pair_tsv(text: &str, lang: Option<&str>, labels: &[&str]) -> Result<Vec<Example>> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .ok_or_else(|| Error::EmptyInput("an empty TSV".into()))?
        .split('\t')
        .collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let need = |name: &str| col(name).ok_or_else(|| Error::Data(format!("TSV has no `{name}` column; it has {header:?}")));
    let (s1, s2) = (need("sentence1")?, need("sentence2")?);
    let lab = col("gold_label")
        .or_else(|| col("label"))
        .ok_or_else(|| Error::Data(format!("TSV has no label column; it has {header:?}")))?;
    let lang_col = col("language");
    let mut out = vec![];
    for (i, line) in lines.enumerate() {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < header.len() {
            continue; // PAWS-X has a few malformed rows; the official loader drops them too
        }
        if let (Some(want), Some(c)) = (lang, lang_col) {
            if f[c] != want {
                continue;
            }
        }
        let label = labels
            .iter()
            .position(|l| *l == f[lab])
            .ok_or_else(|| Error::Data(format!("row {}: unknown label {:?}", i + 2, f[lab])))?;
        out.push(Example::pair(f[s1], f[s2], label));
    }
    Ok(out)
}

/// XNLI label strings in the order of [`Verbalizer::xnli_en`]'s answers.
pub const XNLI_LABELS: [&str; 3] = ["entailment", "neutral", "contradiction"];
pub const PAWSX_LABELS: [&str; 2] = ["0", "1"];

/// The full-scale evaluation: a GPT-2-architecture model and its tokenizer (mGPT: the
/// `ai-forever/mGPT` snapshot directory), k-shot accuracy on `test` with demonstrations from
/// `pool` (the validation split), prompts left-truncated to 512 tokens as the official code.
pub fn full_scale_fewshot(
    model: &Gpt2,
    tok: &BpeTokenizer,
    verbalizer: &Verbalizer,
    test: &[Example],
    pool: &[Example],
    k: usize,
    seed: u64,
) -> Result<FewShotResult> {
    evaluate_fewshot(
        model,
        tok,
        verbalizer,
        test,
        pool,
        &FewShotConfig {
            k,
            max_tokens: 512,
            seed,
            batch_size: 4,
        },
    )
}

/// `ai-forever/mGPT` from the hub (GPT-2 architecture, its own `config.json`) with its
/// byte-level BPE tokenizer (needs the `hub` feature and network or a warm hub cache).
pub fn load_mgpt() -> Result<(Gpt2, BpeTokenizer)> {
    let model = Gpt2::from_pretrained("ai-forever/mGPT")?;
    let files = crate::model::hub::hub_files("ai-forever/mGPT", &["vocab.json", "merges.txt"])?;
    let dir = files[0].parent().ok_or_else(|| Error::Hub("no snapshot directory".into()))?;
    Ok((model, load_tokenizer_dir(dir)?))
}

/// The exact checks a notebook shows, each `(what, holds, detail)`: fertility of a hand-counted
/// text; a uniform model's bits per byte equal to `log2 V · tokens / bytes`; the scorer's summed
/// loss equal to the sum of `logsumexp(logits) − logit[target]` computed here from the logits,
/// and its prediction the argmin of those sums.
pub fn exact_checks() -> Result<Vec<(String, bool, String)>> {
    use crate::data::CharTokenizer;
    use crate::eval::fewshot::summed_losses;
    use crate::metrics::multilingual::fertility;
    let mut out = vec![];
    // "ab cd e" has 3 words; 7 + 3 characters over 3 + 1 words
    let docs = vec!["ab cd e".to_string(), "fgh".to_string()];
    let f = fertility(&[7, 3], &docs)?;
    out.push((
        "fertility = tokens / words on a hand-counted text".into(),
        f == 2.5,
        format!("{f} (10 tokens / 4 words)"),
    ));
    let tok = CharTokenizer::fit("abcdefgh é");
    let v = 32usize;
    let zero = Gpt2::random(Gpt2Config::tiny(v, 16, 16, 1, 2), 0, &Device::Cpu)?.map_tensors(|n, t| {
        if n.contains("wte") {
            Ok(t.zeros_like()?)
        } else {
            Ok(t.clone())
        }
    })?;
    let text = vec!["abc é de".to_string(), "hgfé".to_string()];
    let b = language_bpb(&zero, &tok, 0, &text, 4)?;
    let want = (v as f64).log2() * b.tokens as f64 / b.bytes as f64;
    out.push((
        "a uniform model's bits per byte = log2|V| · tokens / bytes".into(),
        (b.bpb - want).abs() < 1e-5,
        format!("{:.6} vs {want:.6} ({} tokens, {} bytes)", b.bpb, b.tokens, b.bytes),
    ));
    let model = Gpt2::random(Gpt2Config::tiny(v, 16, 16, 1, 2), 1, &Device::Cpu)?;
    let cands: Vec<Vec<u32>> = vec![vec![1, 2, 3, 4], vec![1, 2, 3, 5], vec![1, 2, 3, 6]];
    let got = summed_losses(&model, &cands, 3)?;
    let mut hand = vec![];
    for c in &cands {
        let x = candle_core::Tensor::from_vec(c.clone(), (1, c.len()), &Device::Cpu)?;
        let logits: Vec<Vec<f32>> = model.forward(&x)?.squeeze(0)?.to_vec2()?;
        let mut s = 0.0;
        for t in 1..c.len() {
            let row = &logits[t - 1];
            let lse = row.iter().map(|&z| (z as f64).exp()).sum::<f64>().ln();
            s += lse - row[c[t] as usize] as f64;
        }
        hand.push(s);
    }
    let close = got.iter().zip(&hand).all(|(a, b)| (a - b).abs() < 1e-4);
    out.push((
        "score = the sum of the per-token losses (from the logits by hand)".into(),
        close,
        format!("{got:.5?} vs {hand:.5?}"),
    ));
    let am = crate::eval::fewshot::argmin(&got)?;
    let hm = (0..hand.len()).fold(0, |b, i| if hand[i] < hand[b] { i } else { b });
    out.push((
        "prediction = argmin of the summed losses".into(),
        am == hm,
        format!("candidate {am}"),
    ));
    Ok(out)
}

// ------------------------------------------------------------------------------------------------
// Reading the artefact

/// `(seed, value)` of `name` in `group` for every seed of [`SEEDS`] (NaN where missing).
pub fn values(runs: &[SeedMetrics], group: &str, name: &str) -> Vec<(u64, f64)> {
    SEEDS
        .iter()
        .map(|&s| {
            (
                s,
                runs.iter()
                    .find(|r| r.seed == s && r.group == group)
                    .and_then(|r| r.values.get(name).copied())
                    .unwrap_or(f64::NAN),
            )
        })
        .collect()
}

fn cell(v: &[(u64, f64)], digits: usize) -> String {
    let xs: Vec<f64> = v.iter().map(|x| x.1).collect();
    if xs.iter().all(|x| x.is_nan()) {
        return "–".into();
    }
    crate::notebook::mean_range(&xs, digits)
}

/// Fertility per strategy (rows) and language (columns), mean [min, max] over seeds.
pub fn fertility_table(runs: &[SeedMetrics]) -> Result<crate::display::Table> {
    let codes: Vec<String> = MultilingualGen::standard().langs.iter().map(|l| l.code.clone()).collect();
    let mut header = vec!["tokenizer".to_string(), "vocab".to_string()];
    header.extend(codes.iter().cloned());
    let rows = Strategy::ALL
        .iter()
        .map(|&s| {
            let g = fertility_group(s);
            let mut r = vec![s.name().to_string(), cell(&values(runs, &g, "vocab"), 0)];
            r.extend(codes.iter().map(|c| cell(&values(runs, &g, &format!("fertility {c}")), 2)));
            r
        })
        .collect();
    let h: Vec<&str> = header.iter().map(String::as_str).collect();
    Ok(crate::display::Table::from_rows(&h, rows)?
        .title("fertility (tokens per word) on held-out text: mean [min, max] over seeds 0, 1, 2"))
}

/// Bits per byte per language and k-shot accuracy (mean over languages) for every model of the
/// artefact, mean [min, max] over seeds.
pub fn model_table(runs: &[SeedMetrics]) -> Result<crate::display::Table> {
    let codes: Vec<String> = MultilingualGen::standard().langs.iter().map(|l| l.code.clone()).collect();
    let mut header: Vec<String> = vec!["model".into()];
    header.extend(codes.iter().map(|c| format!("bpb {c}")));
    header.push("bpb mean".into());
    header.extend(SHOTS.iter().map(|k| format!("acc k={k}")));
    let mut groups: Vec<String> = Strategy::ALL.iter().map(|&s| model_group(s)).collect();
    groups.extend(MONOLINGUAL.iter().map(|c| mono_group(c)));
    groups.push(UNTRAINED_GROUP.into());
    let rows = groups
        .iter()
        .map(|g| {
            let mut r = vec![g.clone()];
            r.extend(codes.iter().map(|c| cell(&values(runs, g, &format!("bpb {c}")), 3)));
            r.push(cell(&values(runs, g, "bpb mean"), 3));
            r.extend(SHOTS.iter().map(|k| cell(&values(runs, g, &format!("acc k{k}")), 3)));
            r
        })
        .collect();
    let h: Vec<&str> = header.iter().map(String::as_str).collect();
    Ok(crate::display::Table::from_rows(&h, rows)?
        .title("bits per byte on held-out text and k-shot accuracy (mean over the languages measured; chance 0.5): mean [min, max] over seeds 0, 1, 2"))
}
