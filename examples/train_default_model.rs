//! Trains the embedded default model and writes `datasets/default-model/` (HF layout,
//! `vocab_map.json`, model card). Reproducible: same seed, same machine ⇒ same weights.
//!
//!     cargo run --release --example train_default_model [-- --steps 2000 --out datasets/default-model]

use std::fmt::Write as _;
use std::time::Instant;

use candle_core::Device;
use gpt2lab::data::{CompactVocab, StoryGen, TokenDataset};
use gpt2lab::generate::GenerateConfig;
use gpt2lab::model::{Gpt2, Gpt2Config};
use gpt2lab::tokenizer::{Gpt2Tokenizer, ENDOFTEXT};
use gpt2lab::train::{AdamW, AdamWConfig, LrSchedule, TrainConfig, Trainer};

const SEED: u64 = 1234;
const N_STORIES: usize = 30_000;

fn arg(name: &str, default: &str) -> String {
    let a: Vec<String> = std::env::args().collect();
    a.iter().position(|x| x == name).and_then(|i| a.get(i + 1).cloned()).unwrap_or_else(|| default.to_string())
}

fn main() -> gpt2lab::Result<()> {
    let steps: usize = arg("--steps", "2000").parse().expect("--steps N");
    let out = std::path::PathBuf::from(arg("--out", &gpt2lab::model::default_model_dir().display().to_string()));
    let t0 = Instant::now();

    // Data: synthetic TinyStories-like stories (gpt2lab::data::stories), GPT-2 BPE, compacted.
    let gpt2 = Gpt2Tokenizer::gpt2()?;
    let stories = StoryGen::new(SEED).texts(N_STORIES);
    let docs: Vec<Vec<u32>> = stories.iter().map(|s| gpt2.encode(s)).collect::<gpt2lab::Result<_>>()?;
    // <unk> decodes to "?" so unseen prompt tokens never fail
    let question = gpt2.encode("?")?[0];
    let vocab = CompactVocab::builder().special(ENDOFTEXT).unk(question).fit_many(docs.iter().map(|d| d.as_slice()));
    let dense: Vec<Vec<u32>> = docs.iter().map(|d| vocab.encode(d)).collect::<gpt2lab::Result<_>>()?;
    let eos = vocab.get(ENDOFTEXT).expect("special");
    let all = TokenDataset::from_documents(&dense, Some(eos), 128)?;
    let (train, val) = all.split(0.05, SEED)?;
    println!("stories {N_STORIES}, tokens {}, vocab {}, train blocks {}, val blocks {}", all.n_tokens(), vocab.len(), train.len(), val.len());

    let cfg = Gpt2Config { bos_token_id: Some(eos), eos_token_id: Some(eos), ..Gpt2Config::tiny(vocab.len(), 128, 128, 4, 4) };
    let model = Gpt2::random(cfg.clone(), SEED, &Device::Cpu)?;
    let lr = 3e-3;
    let tcfg = TrainConfig {
        steps,
        batch_size: 16,
        clip: Some(1.0),
        schedule: LrSchedule::Cosine { lr, warmup: 100, total: steps, min_lr: lr / 10.0 },
        eval_every: Some(250),
        eval_batches: Some(40),
        log_every: 10,
        seed: SEED,
        ..Default::default()
    };
    let mut tr = Trainer::new(&model, Box::new(AdamW::new(AdamWConfig { lr, weight_decay: 0.1, ..Default::default() })), tcfg)?;
    let metrics = tr.fit(&train, Some(&val))?;
    let model = tr.model()?;
    let train_secs = metrics.rows.last().map(|r| r.elapsed_s).unwrap_or(0.0);

    // Probe accuracy on fresh stories: is the right name/pronoun/object likelier than the distractor?
    let tok = gpt2.clone().with_compact_vocab(vocab.clone())?;
    let (mut right, mut total) = (0, 0);
    for story in StoryGen::new(SEED + 1).stories(200) {
        for p in story.probes.iter().filter(|p| p.distractor.is_some()) {
            let prompt = tok.ids(&p.prefix, true)?;
            if prompt.len() + 4 > cfg.n_positions {
                continue;
            }
            let score = |w: &str| -> gpt2lab::Result<f32> { Ok(model.score_continuation(&prompt, &tok.encode(&format!(" {w}"))?)?.iter().sum()) };
            total += 1;
            if score(&p.answer)? > score(p.distractor.as_ref().expect("filtered"))? {
                right += 1;
            }
        }
    }

    // Samples
    let prompts = ["Once upon a time, there was a little girl named", "Tom and his dog went to the park. Tom", "One day, Lily found a"];
    let mut samples = String::new();
    for (i, p) in prompts.iter().enumerate() {
        let ids = tok.ids(p, true)?;
        let greedy = model.generate(&ids, &GenerateConfig::greedy(40).stop_at(&[eos]))?;
        let sampled = model.generate(&ids, &GenerateConfig::sample(40, 0.8, SEED + i as u64).top_k(40).stop_at(&[eos]))?;
        writeln!(samples, "- prompt: `{p}`\n  - greedy: `{}`\n  - sampled (T=0.8, top-k 40, seed {}): `{}`", tok.decode(&greedy)?.replace('`', "'"), SEED + i as u64, tok.decode(&sampled)?.replace('`', "'")).ok();
    }

    model.save_pretrained(&out)?;
    vocab.save(out.join("vocab_map.json"))?;
    let card = format!(
        "# gpt2lab default model\n\n\
A tiny GPT-2 (HF `GPT2LMHeadModel` layout, safetensors, f32) that gpt2lab ships so notebooks and tests run \
offline. It speaks the simple English of its training stories and nothing else.\n\n\
| | |\n|---|---|\n\
| architecture | GPT-2: {} layers, d_model {}, {} heads, context {}, GELU (tanh), tied embeddings |\n\
| parameters | {} |\n\
| data | {} synthetic TinyStories-like stories from `gpt2lab::data::StoryGen::new({SEED})`, {} tokens, 5% held out |\n\
| tokenizer | GPT-2 BPE, then a compact map of the {} ids the stories use (`vocab_map.json`, `<|endoftext|>` = dense 0, unknown tokens → `<unk>` which decodes to `?`) |\n\
| training | {} steps of AdamW (lr {lr} cosine to {:.1e}, warmup 100, β=(0.9, 0.95), wd 0.1 on matrices), batch 16 × 128 tokens, clip 1.0, seed {SEED} |\n\
| final train loss | {:.3} nats/token (last logged step) |\n\
| final validation loss | {:.3} nats/token |\n\
| probe accuracy | {right}/{total} = {:.1}% (answer likelier than the story's distractor, 200 fresh stories, seed {}) |\n\
| wall time | {:.0} s training, {:.0} s total, on a 2-core x86-64 CPU ({:.0} tokens/s) |\n\n\
Loader: `Gpt2::default_model()` and `Gpt2Tokenizer::for_default_model()` (or `gpt2lab::model::load_default()`).\n\
Remake: `cargo run --release --example train_default_model` (same seed ⇒ same data and batches).\n\n\
## Samples\n\n{samples}",
        cfg.n_layer, cfg.n_embd, cfg.n_head, cfg.n_positions, cfg.n_params(), N_STORIES, all.n_tokens(), vocab.len(), steps, lr / 10.0,
        metrics.last_train_loss().unwrap_or(f64::NAN), metrics.last_val_loss().unwrap_or(f64::NAN),
        100.0 * right as f64 / total.max(1) as f64, SEED + 1, train_secs, t0.elapsed().as_secs_f64(), metrics.tokens_per_second().unwrap_or(0.0),
    );
    std::fs::write(out.join("README.md"), &card).expect("write model card");
    std::fs::write(out.join("metrics.json"), serde_json::to_string_pretty(&metrics).expect("json")).expect("write metrics");
    println!("{card}");
    Ok(())
}
