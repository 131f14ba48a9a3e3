//! The README's library quick-start, compiled and run: `cargo run --release --example quickstart`.
use gpt2lab::prelude::*;
use gpt2lab::train::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A model: the shipped default (offline), any HF-layout folder, or the hub.
    let (model, tok) = gpt2lab::model::load_default()?; // 4-layer story model + its tokenizer
    // let model = Gpt2::from_pretrained("gpt2")?; let tok = Gpt2Tokenizer::gpt2()?;   // needs network once
    // let model = Gpt2::from_dir("path/to/checkpoint")?;  // config.json + (sharded) safetensors

    // Tokens (BOS is never added silently) and one forward pass with every activation cached.
    let ids = tok.to_tokens("Once upon a time, Lily found a", true)?; // (1, T) u32
    let run = model.run_with_cache(&ids)?; // logits (1, T, V) + ActivationCache
    let pattern = run.cache.get("blocks.0.attn.hook_pattern")?; // [batch, head, q_pos, k_pos]
    let (_resid, labels) = run.cache.accumulated_resid(false)?; // logit-lens input
    println!("pattern {:?}, residual points {labels:?}", pattern.dims());

    // Interventions are data, and stay active during generation.
    let spec = HookSpec::new().capture("blocks.1.hook_resid_post").intervene("blocks.2.attn.hook_z", Intervention::ZeroHeads(vec![3]));
    let ablated = model.run(&ids, &spec)?;
    println!("captured {} activation(s)", ablated.cache.len());

    // Activation patching over layers × positions in one call (resumed at the patched layer,
    // batched; same numbers as the hooked loop), and its one-backward attribution estimate.
    use gpt2lab::interp::{activation_patching, attribution_patching, LogitDiff, PatchSite};
    let (clean, corrupt) = (tok.to_tokens("Lily and Tom went to the park. Tom gave the ball to", true)?, tok.to_tokens("Sara and Tom went to the park. Tom gave the ball to", true)?);
    let metric = LogitDiff::new(tok.ids(" Lily", false)?[0], tok.ids(" Sara", false)?[0]);
    let grid = activation_patching(&model, &clean, &corrupt, PatchSite::ResidPre, metric)?; // .chart(&labels)
    let approx = attribution_patching(&model, &clean, &corrupt, PatchSite::ResidPre, metric)?;
    println!("patching: clean {:.2}, corrupt {:.2}; attribution vs activation r = {:.2}", grid.clean, grid.corrupt, approx.correlation(&grid)?);

    // Generation on the KV cache.
    let prompt = tok.ids("Tom and his dog", true)?;
    let out = model.generate(&prompt, &GenerateConfig::sample(30, 0.8, 42).top_k(40))?;
    println!("Tom and his dog{}", tok.decode(&out)?);

    // Training: AdamW (PyTorch-exact), schedules, clipping, accumulation, checkpoints.
    let _tr = Trainer::new(
        &model,
        Box::new(AdamW::new(AdamWConfig::default())),
        TrainConfig { steps: 100, schedule: LrSchedule::Cosine { lr: 1e-3, warmup: 10, total: 100, min_lr: 1e-4 }, ..Default::default() },
    )?;
    // let metrics = _tr.fit(&train_dataset, Some(&val_dataset))?;   // renders as loss chart + table
    Ok(())
}
