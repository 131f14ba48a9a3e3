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

// %%

// %% [markdown]
// # NOLA: Compressing LoRA using Linear Combination of Random Basis
//
// Soroush Abbasi Koohpayegani, K L Navaneet, Parsa Nooralinejad, Soheil Kolouri, Hamed Pirsiavash (2024), *NOLA: Compressing LoRA using Linear Combination of Random Basis*, ICLR 2024, arXiv [2310.02556](https://arxiv.org/abs/2310.02556); official code `UCDvision/NOLA` (MIT).
//
// **The claim.** Writing LoRA's low-rank factors as linear combinations of frozen random basis matrices and training only the mixture coefficients, NOLA "performs as well as LoRA models with much fewer number of parameters compared to LoRA with rank one" (abstract), and its parameter count no longer depends on the rank or the width.
//
// **How.** LoRA adds ΔW = (α/r)·B·A to a frozen weight (A is r×d_in, B is d_out×r). NOLA sets A = A₀ + Σᵢ αᵢ·Aᵢ and B = Σⱼ βⱼ·Bⱼ, where A₀ (frozen, Kaiming-uniform, as the official `model_nola.py` adds) and the basis matrices Aᵢ, Bⱼ (Uniform(−1, 1)/√k) are drawn from one stored seed; only the k + k coefficients of each adapted matrix train, starting at 0, so ΔW = 0 at the start. Saving the adapter means saving the coefficients and the seed.
//
// **What ci scale runs.** The paper's experiment in miniature: a 2-layer d64 GPT-2 pre-trained on E2E-like *meaning representation → text* documents in three phrasings, the target phrasing rare (1 document in 9), then fine-tuned to that phrasing with full fine-tuning, LoRA (r 1, 4) and NOLA (r 4 with k ∈ {1, 4, 16, 32, 64}; k 32 at r 1 and 8) on W_q and W_v, as the paper's GPT-2 scripts do. 3 seeds × 10 arms come from a committed artefact (`datasets/nola/`, `cargo run --release --example artefact -- nola`, hash-checked); seed 0's LoRA r=1 and NOLA r=4 k=32 runs are re-trained here and checked against it. What ci cannot show: GPT-2 medium/large on the real E2E data, NIST and METEOR, beam search.

// %%
use gpt2lab::papers::nola;
use gpt2lab::papers::{Artefact, SeedMetrics};
use gpt2lab::peft::{adapter::nola_basis, Adapter, Factors};
use gpt2lab::runtime::parallel_map;
let scale = Scale::from_env();
// every size in one place (ci: the constants of `nola`; full: the GPT-2 M script, 5 epochs of batch 8)
let live_seed: u64 = nola::SEEDS[0];
let live_arms: Vec<String> = vec!["LoRA r=1".into(), "NOLA r=4 k=32".into()];
let max_new: usize = scale.pick(nola::MAX_NEW, 64);
let full_batch: usize = 8;
let nola_main: String = scale.pick("NOLA r=4 k=32", "NOLA r=8 k=512").to_string();   // the NOLA arm the claims test
let min_seeds: usize = scale.pick(3, 1);                  // full: one run per arm, as the paper reports
let e2e_dir: std::path::PathBuf = std::env::var("GPT2LAB_E2E").map(Into::into).unwrap_or_default();
println!("scale = {scale}: {} arms × seeds {:?}, {} steps × {} examples at ci; adapters on {:?}", nola::arms().len(), nola::SEEDS, nola::FT_STEPS, nola::FT_BATCH, nola::TARGETS);

// %% [markdown]
// ## The task and the base model
//
// `ci`: the library's E2E-like generator (`data::e2e`): 8 attributes with invented values, 2–8 slots per MR, three phrasings; an MR is written with every attribute in a fixed order (`name zorvia type pub food - ...`), then `=`, then the text. Fine-tuning data: 2,000 MRs in the target phrasing (template 2, whose clauses come in any order); test: 300 MRs with 3 references each. The base was pre-trained for 1,500 steps (seed 0) and is stored in the artefact. `full`: GPT-2 medium from the hub and the official E2E CSVs (`trainset.csv`, `testset_w_refs.csv` from `$GPT2LAB_E2E`; E2E is CC BY-SA 4.0 and not bundled), in the LoRA/NOLA format `MR || text`.

// %%
let artefact: Option<Artefact> = if scale.is_full() { None } else { Some(Artefact::load(nola::SLUG)?) };
let (base, data): (Gpt2, nola::E2eData) = if scale.is_full() {
    let tok = Gpt2Tokenizer::gpt2()?;
    let train = nola::read_e2e_csv(&e2e_dir.join("trainset.csv"))?;
    let test = nola::read_e2e_csv(&e2e_dir.join("testset_w_refs.csv"))?;
    (Gpt2::from_pretrained_on("gpt2-medium", &Device::cuda_if_available(0)?)?, nola::full_data(&tok, &train, &test, usize::MAX)?)
} else {
    (nola::load_base(artefact.as_ref().unwrap())?, nola::ci_data()?)
};
let (base_q, base_out) = nola::evaluate(&base, &data, max_new)?;
let rows: Vec<Vec<String>> = (0..3).map(|i| vec![(data.decode)(&data.test_prompts[i]), data.test_refs[i][0].clone(), base_out[i].clone()]).collect();
let table = Table::from_rows(&["MR (prompt)", "a reference (target phrasing)", "the base model's greedy output"], rows)?
    .title(&format!("{} training, {} test MRs; the base: BLEU {:.1}, slot error {:.3}", data.train.len(), data.test_prompts.len(), base_q.bleu, base_q.slot_error));
table

// %% [markdown]
// ## Step 1: NOLA's parameters
//
// `peft::Adapter` wraps the chosen projections of the frozen base without copying it. Exact facts, checked here (the unit tests in `tests/peft.rs` check the same on other shapes, and LoRA's forward and gradients against Hugging Face PEFT): each arm's trainable-parameter count (LoRA: r·(d_in + d_out) per matrix; NOLA: 2k per matrix, whatever r and d are); ΔW = 0 at initialisation; the basis is a function of its seed (regenerated twice, identical) and the cached basis gives the same ΔW as the one regenerated on every forward.

// %%
let mut rows = vec![];
for arm in nola::arms().iter().filter(|a| a.adapter.is_some()) {
    let ad = Adapter::new(&base, &arm.config_for(live_seed).unwrap(), live_seed)?;
    let zero = ad.site_names().iter().map(|n| Ok(ad.delta_w(n)?.abs()?.max_all()?.to_scalar::<f32>()?)).collect::<Result<Vec<f32>, Error>>()?.into_iter().fold(0f32, f32::max);
    check(&format!("{}: ΔW = 0 at initialisation", arm.label), zero == 0.0, format!("max |ΔW| = {zero}"));
    rows.push(vec![arm.label.clone(), ad.site_names().len().to_string(), ad.n_trainable().to_string()]);
}
{
    // a NOLA adapter with non-zero coefficients: cached and regenerated basis give one ΔW
    let cfg = nola::arm("NOLA r=4 k=32")?.config_for(live_seed).unwrap();
    let mut ad = Adapter::new(&base, &cfg, live_seed)?;
    for (i, s) in ad.sites().iter().enumerate() {
        if let Factors::Nola { coef_a, coef_b, .. } = &s.factors {
            coef_a.set(&Tensor::arange(0f32, 32.0, &Device::Cpu)?.affine(0.01, i as f64 * 0.1)?)?;
            coef_b.set(&Tensor::arange(0f32, 32.0, &Device::Cpu)?.affine(-0.02, 0.3)?)?;
        }
    }
    let name = ad.site_names()[0].clone();
    let regenerated = ad.delta_w(&name)?;
    ad.cache_basis(true)?;
    let cached = ad.delta_w(&name)?;
    let diff = (&regenerated - &cached)?.abs()?.max_all()?.to_scalar::<f32>()?;
    let norm = regenerated.abs()?.max_all()?.to_scalar::<f32>()?;
    check("cached basis and regenerated basis give the same ΔW", diff == 0.0 && norm > 0.0, format!("max |ΔW| = {norm:.3e}, max difference {diff:.1e}"));
    let s = &ad.sites()[0];
    let (a1, _) = nola_basis(&cfg.method, cfg.r, &s.site, s.d_in, s.d_out, &Device::Cpu)?;
    let (a2, _) = nola_basis(&cfg.method, cfg.r, &s.site, s.d_in, s.d_out, &Device::Cpu)?;
    check("the basis is a function of its seed", (&a1 - &a2)?.abs()?.max_all()?.to_scalar::<f32>()? == 0.0, format!("{} × {} basis of A", a1.dims()[0], a1.dims()[1]));
}
let lora1: usize = rows.iter().find(|r| r[0] == "LoRA r=1").and_then(|r| r[2].parse().ok()).unwrap_or(0);
let nola32: usize = rows.iter().find(|r| r[0] == "NOLA r=4 k=32").and_then(|r| r[2].parse().ok()).unwrap_or(0);
check("NOLA r=4 k=32 trains fewer parameters than LoRA r=1 (the smallest LoRA)", nola32 < lora1, format!("{nola32} vs {lora1}"));
let table = Table::from_rows(&["arm", "adapted matrices", "trainable parameters"], rows)?.title(&format!("adapters on {:?} of the base ({} parameters)", nola::TARGETS, base.named_tensors().iter().map(|(_, t)| t.elem_count()).sum::<usize>()));
table

// %% [markdown]
// ## Step 2: fine-tune every arm — three seeds
//
// Each arm: AdamW (β₂ 0.999, weight decay 0), linear warm-up over 10% of the steps then linear decay, 300 steps of 16 examples, gradient clipping 1.0; the seed draws the data order, LoRA's A, and NOLA's basis and A₀ (basis seed 110 + seed; 110 is the scripts' seed). Learning rates: full fine-tuning 5e-4, LoRA 1e-2, NOLA 1e-1. NOLA's coefficients need a far higher rate than LoRA's factors, as in the official recipes (the README's GPT-2 M command uses 0.1 for NOLA, LoRA's E2E recipe 2e-4): with basis entries Uniform(−1, 1)/√k, an Adam step moves each entry of A or B by only about lr/√3 whatever k is. The rates were chosen once at seed 0. Then greedy decoding (up to 40 new tokens or eos) of the 300 test MRs, scored with BLEU (sacrebleu's), ROUGE-L, CIDEr (`metrics::text`, checked against sacrebleu, rouge-score and pycocoevalcap in `tests/metrics_text.rs`) and the slot error rate (missing or wrong attribute values).
//
// Here: seed 0 of two arms is re-trained (one per core) and must reproduce the artefact's rows (same code, same seed: CPU runs are deterministic); the claims use every row of the artefact.

// %%
let t0 = std::time::Instant::now();
// the base is loaded again in the cell that trains on it: under evcxr, tensors made in an
// earlier cell can share autograd ids with this cell's (each cell links its own candle), which
// mixes up gradients; a model created here has ids from one counter
let base: Gpt2 = if scale.is_full() { Gpt2::from_pretrained_on("gpt2-medium", &Device::cuda_if_available(0)?)? } else { nola::load_base(artefact.as_ref().unwrap())? };
let runs: Vec<SeedMetrics> = if scale.is_full() {
    let mut out = vec![SeedMetrics::new(110, nola::BASE_GROUP).value("trainable", 0.0).value("bleu", base_q.bleu).value("rouge_l", base_q.rouge_l).value("cider", base_q.cider).value("slot_error", base_q.slot_error)];
    for arm in nola::full_arms() {
        let steps = 5 * data.train.len() / full_batch;
        let ft = nola::finetune(&base, &data, &arm, 110, steps, full_batch)?;
        let (q, _) = nola::evaluate(&ft.model, &data, max_new)?;
        out.push(SeedMetrics::new(110, arm.label.clone()).value("trainable", ft.n_trainable as f64).value("bleu", q.bleu).value("rouge_l", q.rouge_l).value("cider", q.cider).value("slot_error", q.slot_error));
    }
    out
} else {
    let a = artefact.as_ref().unwrap();
    println!("artefact: {} ({} files, seeds {:?}, revision {}, made by `{}`; {})", a.dir.display(), a.manifest.files.len(), a.manifest.seeds, a.manifest.git_revision, a.manifest.command, a.manifest.notes);
    let live = parallel_map(live_arms.clone(), 2, |label| nola::run_arm(&base, &data, &nola::arm(&label)?, live_seed).map_err(|e| Error::Msg(format!("live re-run of {label}: {e}"))));
    for r in live {
        let c = a.check_live(&r?, 1e-4)?;
        println!("live re-run: {c}");
    }
    a.runs()?
};
println!("{} runs; live part took {:.1} s", runs.len(), t0.elapsed().as_secs_f64());
let table = Table::from_rows(&["arm", "trainable parameters", "BLEU", "ROUGE-L", "CIDEr", "slot error"], nola::summary_rows(&runs))?
    .title("test quality, mean [min, max] over seeds");
table

// %% [markdown]
// ## Quality against trainable parameters
//
// The paper's Table shape as a chart: BLEU against the number of trainable parameters (log scale), seed means. LoRA cannot go below its rank-1 count; NOLA's k moves freely below it. The base model (0 parameters) is the dashed level.

// %%
fn mean_of(runs: &[SeedMetrics], group: &str, name: &str) -> f64 {
    let v = nola::per_seed(runs, group, name);
    v.iter().map(|x| x.1).sum::<f64>() / v.len().max(1) as f64
}
/// (log10 trainable parameters, mean BLEU) of the groups that are in the runs
fn points(runs: &[SeedMetrics], groups: &[&str]) -> Vec<(f64, f64)> {
    groups.iter().filter(|g| runs.iter().any(|r| r.group == **g)).map(|g| (mean_of(runs, g, "trainable").log10(), mean_of(runs, g, "bleu"))).collect()
}
let base_bleu = mean_of(&runs, nola::BASE_GROUP, "bleu");
let chart = Chart::lines("BLEU vs trainable parameters (seed means)").x_label("log10 trainable parameters").y_label("BLEU")
    .series("NOLA r=4, k = 1, 4, 16, 32, 64", &points(&runs, &["NOLA r=4 k=1", "NOLA r=4 k=4", "NOLA r=4 k=16", "NOLA r=4 k=32", "NOLA r=4 k=64"]))
    .series("NOLA k=32, r = 1 and 8", &points(&runs, &["NOLA r=1 k=32", "NOLA r=8 k=32"]))
    .series("NOLA r=8 k=512 (full scale)", &points(&runs, &["NOLA r=8 k=512"]))
    .series("LoRA r = 1, 4", &points(&runs, &["LoRA r=1", "LoRA r=4"]))
    .series("full fine-tuning", &points(&runs, &["full FT"]))
    .series("base, no fine-tuning", &[(0.5, base_bleu), (scale.pick(5.2, 8.7), base_bleu)]);
chart

// %% [markdown]
// ## The claims
//
// **NOLA below LoRA's smallest size reaches LoRA's quality.** Per seed: NOLA r=4 k=32 (half of LoRA r=1's parameters) against the better of LoRA r=1 and LoRA r=4, on BLEU. The paper gives no margin in words ("performs as well as"; the numbers of its E2E table are unconfirmed in our brief), so the margin, 1 BLEU point, is ours, fixed before the seeds were run. **Negative controls:** the same predicate on NOLA with k = 1 (8 parameters: too few directions to move) and on the base model without fine-tuning; both must fail, so the claim is not one every arm meets. ROUGE-L is shown beside it and not asserted.

// %%
/// per seed, the better of LoRA r=1 and r=4 on metric `m`
fn lora_best(runs: &[SeedMetrics], m: &str) -> Vec<(u64, f64)> {
    let (a, b) = (nola::per_seed(runs, "LoRA r=1", m), nola::per_seed(runs, "LoRA r=4", m));
    a.iter().filter_map(|x| b.iter().find(|y| y.0 == x.0).map(|y| (x.0, x.1.max(y.1)))).collect()
}
/// a control's most favourable seed (the control must fail even there)
fn best_seed(v: &[(u64, f64)]) -> f64 {
    v.iter().map(|x| x.1).fold(f64::NEG_INFINITY, f64::max)
}
let (lora_bleu, lora_rouge) = (lora_best(&runs, "bleu"), lora_best(&runs, "rouge_l"));
let nola_bleu_gap = nola::gap(&nola::per_seed(&runs, &nola_main, "bleu"), &lora_bleu);
let nola_rouge_gap = nola::gap(&nola::per_seed(&runs, &nola_main, "rouge_l"), &lora_rouge);
let k1_bleu = nola::gap(&nola::per_seed(&runs, "NOLA r=4 k=1", "bleu"), &lora_bleu);
let base_gap = nola::gap(&nola::per_seed(&runs, nola::BASE_GROUP, "bleu"), &lora_bleu);
let k1_rouge = nola::gap(&nola::per_seed(&runs, "NOLA r=4 k=1", "rouge_l"), &lora_rouge);
let base_rouge = nola::gap(&nola::per_seed(&runs, nola::BASE_GROUP, "rouge_l"), &lora_rouge);
let main_n = mean_of(&runs, &nola_main, "trainable");
let lora1_n = mean_of(&runs, "LoRA r=1", "trainable");
let mut c1 = Claim::new(&format!("{nola_main} ({main_n} parameters) reaches LoRA's BLEU (LoRA r=1 has {lora1_n})"))
    .threshold("BLEU ≥ the better LoRA's − 1 (paper, abstract: 'as well as LoRA' with fewer parameters than rank 1)")
    .value_name("BLEU, NOLA − max(LoRA r=1, r=4)").min_seeds(min_seeds)
    .per_seed(&nola_bleu_gap, |g| g >= -1.0)
    .control("the base model without fine-tuning", best_seed(&base_gap), best_seed(&base_gap) >= -1.0);
if !k1_bleu.is_empty() {
    c1 = c1.control("NOLA r=4 k=1 (8 parameters) in its place", best_seed(&k1_bleu), best_seed(&k1_bleu) >= -1.0);
}
let c1 = c1.verify();
// ROUGE-L and CIDEr: reported beside BLEU, not asserted (the margin would be ours, not the paper's)
let rows: Vec<Vec<String>> = vec![
    vec!["BLEU".into(), mean_range(&nola_bleu_gap.iter().map(|x| x.1).collect::<Vec<_>>(), 3), mean_range(&k1_bleu.iter().map(|x| x.1).collect::<Vec<_>>(), 3), mean_range(&base_gap.iter().map(|x| x.1).collect::<Vec<_>>(), 3)],
    vec!["ROUGE-L".into(), mean_range(&nola_rouge_gap.iter().map(|x| x.1).collect::<Vec<_>>(), 3), mean_range(&k1_rouge.iter().map(|x| x.1).collect::<Vec<_>>(), 3), mean_range(&base_rouge.iter().map(|x| x.1).collect::<Vec<_>>(), 3)],
];
let gaps = Table::from_rows(&["metric", &format!("{nola_main} − better LoRA"), "NOLA r=4 k=1 − better LoRA", "base − better LoRA"], rows)?.title("gaps to the better LoRA, mean [min, max] over seeds");
Panel::new().add(c1).add(gaps)

// %% [markdown]
// **The count is decoupled from the rank.** NOLA with k = 32 has 256 trainable parameters at r = 1, 4 and 8 (exact, from the adapters above). Does its quality hold at every rank? The same 1-BLEU margin, per seed on the worst of the three ranks, with the k = 1 control (ci only: the full-scale run has one NOLA arm).

// %%
let rank_gaps: Vec<(String, Vec<(u64, f64)>)> = ["NOLA r=1 k=32", "NOLA r=4 k=32", "NOLA r=8 k=32"].iter()
    .map(|g| (g.to_string(), nola::gap(&nola::per_seed(&runs, g, "bleu"), &lora_bleu))).filter(|(_, v)| !v.is_empty()).collect();
let rows: Vec<Vec<String>> = rank_gaps.iter().map(|(g, v)| vec![g.clone(), format!("{}", mean_of(&runs, g, "trainable")), mean_range(&v.iter().map(|x| x.1).collect::<Vec<_>>(), 3)]).collect();
let sweep = Table::from_rows(&["arm", "trainable", "BLEU − max(LoRA r=1, r=4): mean [min, max]"], rows)?.title("NOLA's rank sweep at k = 32");
let panel = if rank_gaps.len() == 3 {
    // per seed, the worst of the three ranks
    let worst_r: Vec<(u64, f64)> = rank_gaps[0].1.iter().map(|&(s, _)| (s, rank_gaps.iter().filter_map(|(_, v)| v.iter().find(|x| x.0 == s).map(|x| x.1)).fold(f64::INFINITY, f64::min))).collect();
    let c = Claim::new("NOLA k=32 reaches LoRA's BLEU at r = 1, 4 and 8 alike (256 parameters each)")
        .threshold("BLEU ≥ the better LoRA's − 1 at every rank (paper: the count is decoupled from the rank)")
        .value_name("min over r of BLEU, NOLA k=32 − max(LoRA r=1, r=4)")
        .per_seed(&worst_r, |g| g >= -1.0)
        .control("NOLA r=4 k=1 in its place", best_seed(&k1_bleu), best_seed(&k1_bleu) >= -1.0)
        .verify();
    Panel::new().add(c).add(sweep)
} else {
    Panel::new().add(sweep)
};
panel

// %% [markdown]
// ## Paper vs. ours

// %%
fn over(v: &[(u64, f64)], d: usize) -> String {
    mean_range(&v.iter().map(|x| x.1).collect::<Vec<_>>(), d)
}
let k16 = nola::gap(&nola::per_seed(&runs, "NOLA r=4 k=16", "bleu"), &lora_bleu);
let k4 = nola::gap(&nola::per_seed(&runs, "NOLA r=4 k=4", "bleu"), &lora_bleu);
let rows = vec![
    vec!["trainable parameters, NOLA vs LoRA r=1".into(), "GPT-2 M on q,v: NOLA 4·k·L = 49,152 (k 512), LoRA r=1 98,304 (architecture-derived)".into(), format!("{nola32} vs {lora1} (2 layers, d 64)"), "the same counts on GPT-2 medium (tests/nola.rs checks them)".into()],
    vec!["BLEU, NOLA − better LoRA".into(), "'as well as LoRA' (abstract; E2E table unconfirmed)".into(), over(&nola_bleu_gap, 3), "the E2E test set, greedy decoding".into()],
    vec!["ROUGE-L, NOLA − better LoRA (reported)".into(), "as above".into(), over(&nola_rouge_gap, 3), "the same".into()],
    vec!["BLEU, NOLA k=16 (a quarter of LoRA r=1's parameters) − better LoRA (reported)".into(), "Fig. 1: NOLA can be '4 times smaller than rank=1 of LoRA'".into(), over(&k16, 3), "—".into()],
    vec!["BLEU, NOLA k=4 (1/16 of LoRA r=1's) − better LoRA (reported)".into(), "—".into(), over(&k4, 3), "—".into()],
    vec!["control: NOLA k=1 − better LoRA".into(), "—".into(), over(&k1_bleu, 3), "—".into()],
    vec!["control: base − better LoRA".into(), "—".into(), over(&base_gap, 3), "GPT-2 medium without fine-tuning".into()],
    vec!["NIST, METEOR; beam 10; label smoothing 0.1".into(), "reported".into(), "not computed / greedy / none".into(), "not computed / greedy / none".into()],
    vec!["scale".into(), "GPT-2 M/L, E2E (42k training MRs), 5 epochs".into(), format!("2-layer d64 GPT-2, {} MRs, {} steps × {}, seeds {:?}", data.train.len(), nola::FT_STEPS, nola::FT_BATCH, nola::SEEDS), "GPT-2 medium, E2E, 5 epochs of batch 8 (seed 110)".into()],
];
let table = Table::from_rows(&["claim", "paper", "ours (ci: mean [min, max] over seeds)", "full scale"], rows)?.title("paper vs. ours");
table

// %% [markdown]
// ## What this run does not show, and running at full scale
//
// Differences from the paper's recipe, all at both scales: the loss is not masked to the text (the library's `Trainer` has no masked loss: the targets inside the MR are eos, so the model is also taught that an MR is not continued, which decoding never asks), no label smoothing, greedy decoding instead of beam 10 with length penalty 0.8 and no-repeat-ngram 4, and no NIST/METEOR. The ci base saw the target phrasing in 1 pre-training document out of 9: with a base that never saw it, adapters of a few hundred parameters on W_q and W_v of a 2-layer model could not teach it (LoRA r=1 and NOLA both stayed far below full fine-tuning when we tried), which is the premise the paper shares with LoRA — fine-tuning a pre-trained model is a low-dimensional change. Slot error is reported, not asserted: the base already copies the MR's values (its slot error is in the first table), so it does not tell the arms apart.
//
// `GPT2LAB_SCALE=full GPT2LAB_E2E=/path/to/e2e-dataset` runs the same cells on GPT-2 medium from the hub (on a GPU when there is one) and the official E2E CSVs: full fine-tuning, LoRA r = 1 and 4 (α = r, lr 2e-4) and the GPT-2 M NOLA script's adapter (r 8, α 8, k 512, lr 0.005) on W_q and W_v, 5 epochs of batch 8, seed 110, scored on the test MRs. The claims then compare NOLA with LoRA on those rows (one seed, as the paper reports). `tests/nola.rs` runs this path end to end on a random-weight checkpoint in GPT-2's HF layout with CSVs in the official format.
