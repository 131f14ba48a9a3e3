// -*- coding: utf-8 -*-
// ---
// jupyter:
//   jupytext:
//     formats: ipynb,src//rs:percent
//     text_representation:
//       extension: .rs
//       format_name: percent
//       format_version: '1.3'
//       jupytext_version: 1.19.6
//   kernelspec:
//     display_name: gpt2lab (Rust)
//     language: rust
//     name: gpt2lab
// ---

// %% [markdown]
// # Conda: column-normalised Adam
//
// Junjie Wang, Pan Zhou, Yiming Dong, Huan Li, Jia Li, Xun Zhou, Qicheng Lao, Cong Fang, Zhouchen Lin (2025), *Conda: Column-Normalized Adam for Training Large Language Models Faster*, arXiv [2509.24218](https://arxiv.org/abs/2509.24218) (shown on OpenReview as a withdrawn ICLR 2026 submission); official code `jie040109/Conda`.
//
// **The claim.** Projecting each weight matrix's update into the singular basis of its momentum and normalising the projected gradient's second moment per column gives Muon-like spectral conditioning (updates that are not dominated by a few directions) while keeping Adam's per-coordinate adaptivity; on LLaMA and GPT-2 pre-training it converges 2–2.5× faster than AdamW (abstract).
//
// **How.** For a hidden matrix W ([r, c] in `nn.Linear` layout): m ← β1 m + (1 − β1) g; every `update_proj_gap` steps, P = Vh (r ≥ c) or U (r < c) from the SVD of m; Adam runs on the projected gradient g̃ = g Pᵀ (or Pᵀ g), and the normalised update is projected back and scaled by 0.25. Embeddings, biases and LayerNorms get plain Adam. Muon, the paper's strongest baseline, replaces the momentum by its Newton–Schulz orthogonalisation (singular values pushed towards 1).
//
// **What ci scale runs and cannot show.** AdamW, Muon (the Conda repository's Moonlight variant) and Conda on the same 0.2M-parameter GPT-2 and word-level MiniEnglish as notebook 10, 200 steps of 16 × 64 tokens, each optimizer's rate tuned on a 3-point grid (seed 0), then 3 seeds: 15 runs from a committed artefact (`datasets/conda/`, `cargo run --release --example artefact -- conda`), one re-trained live. Optimizer rankings over 200 steps are not the paper's 100k-step result: the loss ranking is reported, the update-spectrum mechanism is asserted.

// %%
use gpt2lab::papers::conda as cd;
use gpt2lab::papers::optim_bench as bench;
use gpt2lab::papers::optim_bench::{BenchRun, OptKind};
use gpt2lab::papers::{Artefact, SeedMetrics};
use gpt2lab::train::*;
let scale = Scale::from_env();
let seeds: Vec<u64> = cd::SEEDS.to_vec();
let live_seed: u64 = cd::SEEDS[0];
let full_steps: usize = std::env::var("GPT2LAB_CONDA_STEPS").ok().and_then(|s| s.parse().ok()).unwrap_or(10_000); // paper: 100,000
let steps: usize = scale.pick(cd::STEPS, full_steps);
println!("scale = {scale}: {steps} steps per run, seeds {seeds:?} (ci); Conda update_proj_gap {} (paper 2000), update spectra at step {}", scale.pick(cd::PROJ_GAP, 2000), cd::PROBE_STEP);

// %% [markdown]
// ## Step 1: which parameters get which update
//
// The official GPT-2 script gives Conda (and Muon) the weights of the Linear modules whose name contains `attn` or `mlp`; everything else is in the Adam group (`Select::HiddenMatrices` here). GPT-2's Conv1D weights are stored `[in, out]`; the optimizers work on the `nn.Linear` layout `[out, in]` that the official code sees, so Conda's left/right choice and Muon's shape scaling match it (`tests/optim.rs` checks both against the official code's updates).

// %%
let data: bench::BenchData = cd::ci_data()?;
let probe_model = Gpt2::random(cd::ci_config(OptKind::Conda, 1e-2, live_seed, &data).model, live_seed, &Device::Cpu)?;
let groups = ParamGroups::new(vec![ParamGroup::new("Conda / Muon: attn + mlp matrices", Select::HiddenMatrices, 0.01), ParamGroup::new("Adam: embeddings, biases, LayerNorms", Select::All, 0.01)]);
let summary = groups.summary(&TrainableGpt2::new(&probe_model)?.params)?;
let rows: Vec<Vec<String>> = summary.iter().map(|(n, k, e, _, _)| vec![n.clone(), k.to_string(), e.to_string()]).collect();
let t = Table::from_rows(&["group", "parameters", "elements"], rows)?.title("the ci model's parameters");
t

// %% [markdown]
// ## Step 2: the identities behind the two projections
//
// Newton–Schulz (5 quintic steps, the official coefficients) maps a matrix to one with the same singular vectors and singular values in a band around 1 (the official docstring: roughly U(0.5, 1.5)); and Conda with the projector forced to the identity is Adam times its scale (both are unit tests too).

// %%
let g = Tensor::randn(0f32, 1.0, (64, 192), &Device::Cpu)?;
let s_in = gpt2lab::train::spectrum::singular_values(&g)?;
let s_ns = gpt2lab::train::spectrum::singular_values(&newton_schulz5(&g, 5)?)?;
check("Newton–Schulz: singular values of a random 64×192 matrix land in [0.5, 1.5]", s_ns.iter().all(|&x| (0.5..=1.5).contains(&x)), format!("input σ in [{:.2}, {:.2}], output in [{:.3}, {:.3}]", s_in[s_in.len() - 1], s_in[0], s_ns[s_ns.len() - 1], s_ns[0]));
let c = Chart::lines("singular values before and after Newton–Schulz").x_label("index").y_label("σ / σ_max")
    .series("G", &s_in.iter().enumerate().map(|(i, s)| (i as f64, s / s_in[0])).collect::<Vec<_>>())
    .series("NS5(G)", &s_ns.iter().enumerate().map(|(i, s)| (i as f64, s / s_ns[0])).collect::<Vec<_>>());
c

// %% [markdown]
// ## Step 3: three optimizers, tuned rates, three seeds
//
// Grids: AdamW {1e-3, 3e-3, 1e-2}, Muon {1e-3, 3e-3, 1e-2} (Moonlight scaling 0.2·√max(r, c) makes AdamW's rate carry over, as the paper's shared 6e-4 shows), Conda {3e-3, 1e-2, 3e-2} (the paper's Conda rate is 10× AdamW's). Otherwise the repository's GPT-2 125M configs: AdamW betas (0.9, 0.95), wd 0.1; Muon momentum 0.95 Nesterov, 5 Newton–Schulz steps, wd 0.1, AdamW (0.9, 0.95) for the rest; Conda betas (0.9, 0.99), wd 0.01, scale 0.25, projector refreshed every 25 steps. The Conda run of seed 0 at its tuned rate is re-trained live and must reproduce its artefact row.

// %%
let rows: Vec<SeedMetrics> = if scale.is_full() {
    let dir = std::path::PathBuf::from(std::env::var("GPT2LAB_OWT_BIN").map_err(|_| Error::Msg("set GPT2LAB_OWT_BIN to a directory with nanoGPT's OpenWebText train.bin / val.bin".into()))?);
    let device = Device::cuda_if_available(0)?;
    let mut out = vec![];
    for kind in cd::KINDS {
        let m = cd::train_paper(kind, &dir, steps, &device)?;
        let lr = match cd::paper_config(kind)?.1.schedule { LrSchedule::Cosine { lr, .. } => lr, _ => f64::NAN };
        let val: Vec<(f64, f64)> = m.rows.iter().filter_map(|r| r.val_loss.map(|v| (r.step as f64, v))).collect();
        out.push(SeedMetrics::new(0, cd::run_group(kind, lr)).value("final_val_loss", val.last().map(|p| p.1).unwrap_or(f64::NAN)).curve("val_loss", val));
    }
    out
} else {
    let art = Artefact::load(cd::SLUG)?;
    println!("artefact: {} files, seeds {:?}, revision {}, `{}`; {}", art.manifest.files.len(), art.manifest.seeds, art.manifest.git_revision, art.manifest.command, art.manifest.notes);
    art.runs()?
};
let tuned: Vec<(OptKind, f64)> = if scale.is_full() { vec![(OptKind::AdamW, 6e-4), (OptKind::Muon, 6e-4), (OptKind::Conda, 6e-3)] } else { cd::tuned(&rows)? };
fn lr_of(tuned: &[(OptKind, f64)], k: OptKind) -> f64 { tuned.iter().find(|t| t.0 == k).map(|t| t.1).unwrap_or(f64::NAN) }
let t0 = std::time::Instant::now();
let live: Option<BenchRun> = if scale.is_full() { None } else {
    let r = bench::run(&data, &cd::ci_config(OptKind::Conda, lr_of(&tuned, OptKind::Conda), live_seed, &data))?;
    Artefact::load(cd::SLUG)?.check_live(&r.metrics(), 1e-4)?;
    Some(r)
};
println!("tuned: {:?}; live run {:.1} s", tuned.iter().map(|(k, lr)| format!("{} {lr:e}", k.name())).collect::<Vec<_>>(), t0.elapsed().as_secs_f64());
fn value(rows: &[SeedMetrics], seed: u64, group: &str, name: &str) -> f64 {
    rows.iter().find(|r| r.seed == seed && r.group == group).and_then(|r| r.values.get(name).copied()).unwrap_or(f64::NAN)
}
let sweep: Vec<Vec<String>> = cd::KINDS.iter().flat_map(|&k| cd::grid(k).iter().map(move |&lr| (k, lr)))
    .map(|(k, lr)| vec![k.name().to_string(), format!("{lr:e}"), format!("{:.4}", value(&rows, seeds[0], &cd::run_group(k, lr), "final_val_loss"))]).collect();
let t = Table::from_rows(&["optimizer", "peak lr", "final validation loss (seed 0)"], sweep)?.title("learning-rate sweep");
t

// %% [markdown]
// ## Curves and update spectra
//
// Left: validation loss of every seed at the tuned rates. Right: the normalised singular values σᵢ/σ₁ of the update applied at step 100 to one MLP matrix (`h.1.mlp.c_fc.weight`, seed 0): Adam's update is dominated by a few directions, Muon's is flat by construction, Conda's sits between — the paper's motivation.

// %%
fn curve(rows: &[SeedMetrics], seed: u64, group: &str, name: &str) -> Vec<(f64, f64)> {
    rows.iter().find(|r| r.seed == seed && r.group == group).and_then(|r| r.curves.get(name).cloned()).unwrap_or_default()
}
let mut loss = Chart::lines("validation loss").x_label("step").y_label("nats / token");
let mut spec = Chart::lines(&format!("update spectrum at step {}, h.1.mlp.c_fc.weight", cd::PROBE_STEP)).x_label("index i").y_label("σᵢ / σ₁").log_y();
for &k in &cd::KINDS {
    let g = cd::run_group(k, lr_of(&tuned, k));
    for &s in &seeds {
        loss = loss.series(&format!("{}, seed {s}", k.name()), &curve(&rows, s, &g, "val_loss"));
    }
    let sp: Vec<(f64, f64)> = curve(&rows, seeds[0], &g, &format!("spectrum@{}:h.1.mlp.c_fc.weight", cd::PROBE_STEP)).into_iter().map(|p| (p.0, p.1.max(1e-6))).collect();
    spec = spec.series(k.name(), &sp);
}
Panel::new().add(loss).add(spec).grid(2)

// %% [markdown]
// ## Claims
//
// Stable rank Σσ²/σ₁² of an update (averaged over the 16 hidden matrices at step 100), divided by each matrix's smaller dimension (1 for an orthogonal matrix):
//
// 1. **Muon orthogonalises** (official docstring: the Newton–Schulz output has singular values ≈ U(0.5, 1.5), i.e. a normalised stable rank ≥ (0.5/1.5)² ≈ 0.11 once converged). Negative control: AdamW's updates.
// 2. **Conda trains** (all three are stable in the paper's Fig. 1): its final validation loss is ≥ 1 nat below the unigram entropy. Negative control: the untrained model.
//
// Measured and reported, not asserted: the paper's mechanism, **Conda's updates better conditioned than Adam's**. The brief asked to measure it before asserting it; at this scale Conda's update stable rank is within seed noise of AdamW's (table below), so the ci run does not reproduce it.

// %%
let min_seeds: usize = scale.pick(3, 1);
let sr_key = format!("stable_rank@{}", cd::PROBE_STEP);
// mean smaller dimension of the hidden matrices: c_attn 64×192, c_proj 64×64, c_fc 64×256, mlp c_proj 256×64
let min_dim: f64 = 64.0;
fn sr_of(rows: &[SeedMetrics], tuned: &[(OptKind, f64)], key: &str, k: OptKind, s: u64) -> f64 {
    value(rows, s, &cd::run_group(k, lr_of(tuned, k)), key)
}
let muon_sr: Vec<(u64, f64)> = seeds.iter().map(|&s| (s, sr_of(&rows, &tuned, &sr_key, OptKind::Muon, s) / min_dim)).filter(|x| x.1.is_finite()).collect();
let adam_sr: Vec<f64> = seeds.iter().map(|&s| sr_of(&rows, &tuned, &sr_key, OptKind::AdamW, s)).filter(|x| x.is_finite()).collect();
let adam_worst = adam_sr.iter().copied().fold(f64::INFINITY, f64::min) / min_dim;
let t1 = Claim::new("Muon's updates are orthogonalised: normalised stable rank ≥ 0.11")
    .threshold("≥ (0.5/1.5)² (official docstring: NS singular values ≈ U(0.5, 1.5))")
    .value_name("mean stable rank / min dimension, step 100").min_seeds(min_seeds)
    .per_seed(&muon_sr, |v| v >= 0.11)
    .control("AdamW's updates (largest over seeds)", adam_sr.iter().copied().fold(0.0, f64::max) / min_dim, adam_sr.iter().copied().fold(0.0, f64::max) / min_dim >= 0.11)
    .verify();
let conda_ratio: Vec<(u64, f64)> = seeds.iter().map(|&s| (s, sr_of(&rows, &tuned, &sr_key, OptKind::Conda, s) / sr_of(&rows, &tuned, &sr_key, OptKind::AdamW, s))).filter(|x| x.1.is_finite()).collect();
let adam_noise: f64 = adam_sr.iter().flat_map(|a| adam_sr.iter().map(move |b| a / b)).fold(1.0, f64::max);
println!("Conda / AdamW update stable rank per seed: {:?}; AdamW's own seed-to-seed ratio up to {adam_noise:.3}", conda_ratio.iter().map(|x| (x.0, (x.1 * 1000.0).round() / 1000.0)).collect::<Vec<_>>());
let untrained = gpt2lab::train::evaluate(&probe_model, &data.val, 16, Some(8))?;
let g_conda = cd::run_group(OptKind::Conda, lr_of(&tuned, OptKind::Conda));
let gap: Vec<(u64, f64)> = seeds.iter().map(|&s| (s, data.unigram_entropy - value(&rows, s, &g_conda, "final_val_loss"))).filter(|x| x.1.is_finite()).collect();
let t2 = Claim::new("Conda trains: final validation loss ≥ 1 nat below the unigram entropy")
    .threshold("H₁ − loss ≥ 1 nat (paper: stable training, Fig. 1; brief's ci form)")
    .value_name("unigram entropy − final validation loss (nats)").min_seeds(min_seeds)
    .per_seed(&gap, |g| g >= 1.0)
    .control("the untrained model", data.unigram_entropy - untrained, data.unigram_entropy - untrained >= 1.0)
    .verify();
let _ = adam_worst;
Panel::new().add(t1).add(t2)

// %% [markdown]
// ## Paper vs. ours
//
// The loss ranking at 200 steps is reported, not asserted: the paper's speed-up is over 100k steps of 0.5M tokens, and rankings over short horizons are unreliable. Every optimizer's tuned rate is the top of its grid, so each optimum may lie higher; the grids follow the paper's ratios (Conda 10× AdamW, Muon = AdamW).

// %%
fn fv(rows: &[SeedMetrics], tuned: &[(OptKind, f64)], seeds: &[u64], k: OptKind) -> Vec<f64> {
    seeds.iter().map(|&s| value(rows, s, &cd::run_group(k, lr_of(tuned, k)), "final_val_loss")).filter(|x| x.is_finite()).collect()
}
let reach: Vec<String> = seeds.iter().map(|&s| {
    let target = value(&rows, s, &cd::run_group(OptKind::AdamW, lr_of(&tuned, OptKind::AdamW)), "final_val_loss");
    match curve(&rows, s, &g_conda, "val_loss").iter().find(|p| p.1 <= target) { Some(p) => format!("{:.0}%", 100.0 * p.0 / steps as f64), None => "not reached".into() }
}).collect();
let live_s: String = live.as_ref().and_then(|r| r.wall.last()).map(|w| format!("{:.1} s for {} steps", w.1, w.0)).unwrap_or_default();
let rows_t = vec![
    vec!["final validation loss: AdamW / Muon / Conda".into(), "Conda best on GPT-2 125M/355M (Fig.; GPT-2 numbers unconfirmed in our brief)".into(),
         format!("{} / {} / {}", mean_range(&fv(&rows, &tuned, &seeds, OptKind::AdamW), 3), mean_range(&fv(&rows, &tuned, &seeds, OptKind::Muon), 3), mean_range(&fv(&rows, &tuned, &seeds, OptKind::Conda), 3)), "the same, GPT-2 125M on OpenWebText".into()],
    vec!["steps for Conda to reach AdamW's final loss".into(), "≈ 40–50% (2–2.5× faster on LLaMA, abstract)".into(), reach.join(", "), "the same".into()],
    vec!["update stable rank / min dim: AdamW / Muon / Conda".into(), "Conda: Muon-like conditioning (qualitative)".into(),
         format!("{} / {} / {}", mean_range(&adam_sr.iter().map(|x| x / min_dim).collect::<Vec<_>>(), 3), mean_range(&muon_sr.iter().map(|x| x.1).collect::<Vec<_>>(), 3), mean_range(&seeds.iter().map(|&s| sr_of(&rows, &tuned, &sr_key, OptKind::Conda, s) / min_dim).collect::<Vec<_>>(), 3)), "not computed at full scale".into()],
    vec!["Conda / AdamW update stable rank (not asserted)".into(), "> 1 (mechanism, qualitative)".into(), format!("{} (AdamW seed-to-seed up to {adam_noise:.3}): not reproduced at ci", mean_range(&conda_ratio.iter().map(|x| x.1).collect::<Vec<_>>(), 3)), "—".into()],
    vec!["scale".into(), "GPT-2 125M, 100k steps × 491,520 tokens; LLaMA 60M–1B on C4".into(), format!("~0.2M parameters, {steps} steps × 1,024 tokens, seeds {seeds:?}; live Conda run {live_s}"), format!("GPT-2 125M, {full_steps} steps, 1 seed")],
];
let t = Table::from_rows(&["", "paper", "ours (ci: mean [min, max] over seeds)", "full scale"], rows_t)?.title("paper vs. ours");
t

// %% [markdown]
// ## Running at full scale
//
// `GPT2LAB_SCALE=full GPT2LAB_OWT_BIN=/path/to/openwebtext GPT2LAB_FEATURES=cuda` trains GPT-2 125M from scratch with AdamW, Muon and Conda on nanoGPT's tokenised OpenWebText with the repository's configs (`papers::conda::paper_config`: 60 × 1024 × 8 tokens per step, cosine to 3e-5 after 2k warmup, clipping 1.0; Conda lr 6e-3, betas (0.9, 0.99), wd 0.01, scale 0.25, `update_proj_gap` 2000) for `GPT2LAB_CONDA_STEPS` steps (default 10,000; paper 100,000). Conda's SVDs run on the CPU (nalgebra, f64) every 2000 steps, a round trip per matrix. The recipes' structure is exercised by `papers::conda`'s tests. Differences that remain: our GPT-2 keeps its biases (the official runs use `bias=False`), Newton–Schulz runs in float32 (official: bfloat16), one seed per optimizer at full scale.
