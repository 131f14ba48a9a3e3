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
// # Interpreting Attention Layer Outputs with Sparse Autoencoders
//
// Connor Kissane, Robert Krzyzanowski, Joseph Isaac Bloom, Arthur Conmy, Neel Nanda (2024), *Interpreting Attention Layer Outputs with Sparse Autoencoders*, ICML 2024 MI workshop, arXiv [2406.17759](https://arxiv.org/abs/2406.17759). Official code: `ckkissane/attention-output-saes`.
//
// **The claim.** A sparse autoencoder trained on an attention layer's output (`hook_z`, every head's output before W_O, concatenated) gives a sparse, faithful decomposition of it — the authors' interim post: SAEs "often recover more than 80% of the loss relative to zero ablation" with "less than 20 features firing on average" — whose features can be attributed to heads through the decoder weights and to source positions through the attention (direct feature attribution, DFA); among them are induction features, and ablating features at S2 in the IOI circuit moves the IO − S logit difference.
//
// **What ci scale runs.** A 2-layer attention-only GPT-2 (4 heads × 16, d_model 64) trained from scratch on a synthetic mixture (steps and sizes printed below): rows of random tokens in which a segment of 6–12 tokens repeats from a random start, and IOI sentences with 20 names (`data::ioi`). Layer 0 is local (each position sees itself and the two tokens before it, GPT-Neo's local attention), layer 1 global: with a global layer 0 this model copied the training rows by relative position (heads attending 6–12 tokens back) and never formed an induction head, whatever the steps, learning rate, batch or data mix (the module docs of `papers::attention_saes` list what was tried); a local layer 0 cannot reach those offsets, so copying has to go through a previous-token head in layer 0 and an induction head in layer 1. SAEs with 512 features on layer 1's `hook_z` (d_in 64) at three L1 coefficients, one on layer 0 for the IOI ablation at S2. 3 seeds come from a committed artefact (`datasets/attention-saes/`, `cargo run --release --example artefact -- attention-saes`, hash-checked, with the three trained models); seed 0's SAE and analyses are re-run here on the stored model and compared. What ci cannot show: GPT-2's feature families, the ≥ 90% polysemantic-heads estimate, long- vs short-prefix induction heads.

// %%
use gpt2lab::papers::attention_saes as ats;
use gpt2lab::papers::attention_saes::full;
use gpt2lab::papers::{Artefact, SeedMetrics};
use gpt2lab::interp::sae::{decoder_head_fractions, Sae};
let scale = Scale::from_env();
let setup = ats::Setup::ci();
let live_seed: u64 = ats::SEEDS[0];
let min_seeds: usize = scale.pick(3, 1);
let artefact: Option<Artefact> = if scale.is_full() { None } else { Some(Artefact::load(ats::SLUG)?) };
let runs: Vec<SeedMetrics> = match &artefact { Some(a) => a.runs()?, None => vec![] };
if let Some(a) = &artefact {
    println!("artefact: {} ({} files, seeds {:?}, revision {}, made by `{}`; {})", a.dir.display(), a.manifest.files.len(), a.manifest.seeds, a.manifest.git_revision, a.manifest.command, a.manifest.notes);
}
println!("scale = {scale}: model d{} × {} layers × {} heads (no MLPs; layer 0's attention window {:?}), {} steps of batch {} at lr {}, IOI share {}; SAEs {}× on layer {} hook_z, L1 sweep {:?} (claims at {})", setup.n_embd, setup.n_layer, setup.n_head, setup.window0, setup.steps, setup.batch, setup.lr, setup.ioi_share, setup.dict_mult, setup.sae_layer, setup.l1s, setup.chosen_l1);

// %% [markdown]
// ## Step 1: the model and its induction heads
//
// `ci`: seed 0's trained model from the artefact. The induction score of a head (TransformerLens' definition) is its mean attention, on rows `seg seg` of 15 random tokens (`interp::induction_scores`; the claims' probes put a BOS first, as in training), from each position of the second copy to the token after that position's first occurrence; an induction head scores near 1, a head attending uniformly about 1/16. The loss on the second copy against the first shows whether the model copies. `full`: GPT-2 small from the hub and the authors' layer-5 SAE (`ckkissane/attn-saes-gpt2-small-all-layers`, a torch state dict + its `_cfg.json`, read by `full::load_kissane_sae`).

// %%
let (model, sae_full): (Gpt2, Option<Sae>) = if scale.is_full() {
    (Gpt2::from_pretrained_on("gpt2", &Device::cuda_if_available(0)?)?, Some(full::kissane_sae_from_hub(full::LAYER)?))
} else {
    (ats::load_model(artefact.as_ref().unwrap(), &setup, live_seed)?, None)
};
let layer = if scale.is_full() { full::LAYER } else { setup.sae_layer };
let probe = if scale.is_full() { ats::repeated_tokens(16, 50, 1000, 10_000, 50256, 0)? } else { ats::repeated_tokens(setup.probe_batch, setup.probe_len, setup.rand_lo, setup.vocab_size as u32, ats::BOS, 20_000)? };
let scores = gpt2lab::interp::induction_scores(&model, if scale.is_full() { 50 } else { setup.probe_len }, 16, if scale.is_full() { 1000 } else { setup.rand_lo }, if scale.is_full() { 10_000 } else { setup.vocab_size as u32 }, 0)?;
let rows: Vec<Vec<String>> = scores.to_vec2::<f32>()?.iter().enumerate().map(|(l, r)| std::iter::once(format!("layer {l}")).chain(r.iter().map(|x| format!("{x:.3}"))).collect()).collect();
let mut heads = vec!["".to_string()];
heads.extend((0..model.config().n_head).map(|h| format!("head {h}")));
let table = Table::from_rows(&heads.iter().map(String::as_str).collect::<Vec<_>>(), rows)?.title(&format!("induction score of every head (seed {live_seed}; uniform attention ≈ {:.3})", 1.0 / 16.0));
table

// %% [markdown]
// ## Step 2: an SAE on layer 1's `hook_z`, spliced in
//
// The library's SAE (`interp::sae`, SAELens' standard ReLU SAE): x̂ = ReLU((x − b_dec) W_enc + b_enc) W_dec + b_dec, the loss ‖x − x̂‖² + λ Σ_j f_j ‖W_dec,j‖, decoder rows kept at unit norm (the gradient projected off each row, then rows renormalised), b_dec started at the geometric median, dead features resampled twice (Anthropic's recipe), Adam at 1e-3. Here: seed 0's SAE at the chosen L1 is trained on 204,800 activation rows of the stored model and its metrics and induction analysis must reproduce the artefact's row (CPU runs are deterministic). Two exact facts are checked: the splice with the error term x − x̂ added back reproduces the model's logits (x̂ + (x − x̂) = x), and every decoder row has unit norm after training. The SAE's training throughput is measured (tokens per second on this machine; not asserted).

// %%
let t0 = std::time::Instant::now();
let (live_row, sae, acts, tps) = if scale.is_full() {
    let s = sae_full.clone().unwrap();
    let (row, _) = full::full_analysis(&model, &s, &Gpt2Tokenizer::gpt2()?, 50, 16, 100, 3, 0)?;
    (row, s, Tensor::zeros(1, DType::F32, &Device::Cpu)?, f64::NAN)
} else {
    ats::analyse(&setup, &model, live_seed, ats::MAIN_GROUP)?
};
println!("SAE + analyses {:.1} s; SAE training throughput {:.0} tokens/s ({} steps × {} rows; {} activation rows)", t0.elapsed().as_secs_f64(), tps, setup.sae_steps, setup.sae_batch, acts.dim(0)?);
if let Some(a) = &artefact {
    println!("live re-run: {}", a.check_live(&live_row, 1e-4)?);
}
let ids = if scale.is_full() { probe.narrow(0, 0, 4)? } else { Tensor::cat(&ats::mixture_rows(&setup, 16, 77)?, 0)? };
let point = sae.cfg.hook_point()?;
let clean = model.run(&ids, &HookSpec::new())?.logits;
let spliced = model.run(&ids, &HookSpec::new().intervene(point, sae.splice(true)))?.logits;
let d = (&spliced - &clean)?.abs()?.max_all()?.to_scalar::<f32>()?;
let moved = (&model.run(&ids, &HookSpec::new().intervene(point, sae.splice(false)))?.logits - &clean)?.abs()?.max_all()?.to_scalar::<f32>()?;
check("splicing the SAE in with the error term reproduces the logits", d < 1e-4, format!("max |Δlogit| {d:.1e} (without the error term: {moved:.3})"));
let norms: Vec<f32> = sae.decoder_norms()?.to_vec1()?;
let worst = norms.iter().map(|n| (n - 1.0).abs()).fold(0f32, f32::max);
check("every decoder row has unit norm", worst < 1e-5, format!("max |‖W_dec,j‖ − 1| = {worst:.1e} over {} features", norms.len()));
let mut rows = vec![];
for k in ["l0", "dead_fraction", "explained_variance", "ce_clean", "ce_spliced", "ce_zero_ablated", "ce_recovered"] {
    if let Ok(v) = live_row.get(k) {
        rows.push(vec![k.to_string(), format!("{v:.4}")]);
    }
}
let table = Table::from_rows(&["metric (seed 0, live)", "value"], rows)?.title(&format!("the SAE at L1 = {} on {}", setup.chosen_l1, sae.cfg.hook_name));
table

// %% [markdown]
// ## Step 3: the induction feature, its heads and its sources
//
// On the repeated-token probes, the *induction feature* is the feature whose mean activation on the second copy most exceeds its mean on the first. Its decoder row, cut into the heads' blocks, gives each head's share of the feature (the norm of the block over the sum of the blocks' norms; the paper's decoder-weight attribution). DFA by source position (`interp::sae::dfa_by_source`) splits the feature's pre-activation at a query position q over source positions s through the attention, Σ_h pattern_h[q, s] · (v_h(s) · W_enc,h); for an induction feature the largest term should sit at the token after q's previous occurrence. Shown for seed 0 (live).

// %%
let ind = if scale.is_full() { full::full_analysis(&model, &sae, &Gpt2Tokenizer::gpt2()?, 50, 16, 100, 3, 0)?.1 } else { ats::induction_analysis(&model, &sae, &setup, 20_000 + live_seed)? };
let fr: Vec<f64> = ind.head_fractions.clone();
let rows: Vec<Vec<String>> = (0..fr.len()).map(|h| vec![format!("{layer}.{h}"), format!("{:.3}", ind.scores[h]), format!("{:.3}", fr[h])]).collect();
let table = Table::from_rows(&["head", "induction score", "share of the induction feature's decoder norm"], rows)?
    .title(&format!("feature {}: mean activation {:.3} on the second copy vs {:.3} on the first; DFA peaks at the token after the previous occurrence at {:.0}% of its active positions (mean share there {:.2}); {:.0}% of live features have the top induction head as their top head", ind.feature, ind.act_second, ind.act_first, 100.0 * ind.dfa_peak_fraction, ind.dfa_peak_share, 100.0 * ind.live_on_top_head));
table

// %% [markdown]
// ## The claims (3 seeds, from the artefact)
//
// 1. **CE loss recovered** by the spliced SAE (no error term), relative to zero-ablating the layer's `hook_z`: above 0.7 (brief; the authors' post: "more than 80% of the loss relative to zero ablation"; reported beside it). Control: the same pipeline on the untrained model.
// 2. **Sparsity**: L0 < d_in / 4 = 16 (the post: "less than 20 features firing on average", on d_in 768). Control: the SAE at a tenth of the chosen L1 (the sweep's first arm), which must not meet it.
// 3. **The model has an induction head**, the premise of the paper's induction features (in GPT-2 small, heads 5.1 and 5.5): the top layer-1 induction score is at least 0.4 (`attention_saes::INDUCTION_HEAD_SCORE`, ours; uniform attention ≈ 0.06) and the loss on the second copy of a repeated segment is below half the loss on the first (ours). Negative control: the untrained model of the same seed.
// 4. *(Reported, not asserted: it fails; see below.)* **The induction feature is attributed to an induction head by its decoder weights**: its top head by decoder-norm share is an induction head (score ≥ 0.4) and holds at least half of the feature's decoder norm (ours). Control: the untrained model.
// 5. **DFA by source** peaks at the token after the previous occurrence at ≥ 50% of the feature's active positions (ours); control: the untrained model.
// 6. *(Reported, not asserted: it fails; see below.)* **IOI**: ablating the layer-0 SAE's top-3 features at S2 (error term on) lowers the IO − S logit difference, and by more than ablating 3 random live features; per seed, the model must have learnt IOI (IO preferred on ≥ 80% of prompts, ours).

// %%
fn per_seed(runs: &[SeedMetrics], group: &str, k: &str) -> Vec<(u64, f64)> {
    runs.iter().filter(|r| r.group == group).map(|r| (r.seed, r.get(k).unwrap_or(f64::NAN))).collect()
}
fn vals(v: &[(u64, f64)]) -> Vec<f64> {
    v.iter().map(|x| x.1).collect()
}
fn mrg(runs: &[SeedMetrics], g: &str, k: &str, d: usize) -> String {
    mean_range(&vals(&per_seed(runs, g, k)), d)
}
/// ci: asserts the claim on the artefact's seeds; full: there are no seeds to assert over
/// (the full-scale measurements are the step tables above), so the claim is only printed
fn settle(c: Claim, full: bool) -> Table {
    if full { println!("full scale, reported: {}", c.outcome().1); c.table() } else { c.verify() }
}
let full_scale = scale.is_full();
let d_in = setup.n_embd as f64;
let main_rows: Vec<SeedMetrics> = runs.iter().filter(|r| r.group == ats::MAIN_GROUP).cloned().collect();
let ctrl_rows: Vec<SeedMetrics> = runs.iter().filter(|r| r.group == ats::CONTROL_GROUP).cloned().collect();
let ce = per_seed(&runs, ats::MAIN_GROUP, "ce_recovered");
let l0 = per_seed(&runs, ats::MAIN_GROUP, "l0");
let mut c1 = Claim::new("the attention SAE recovers most of the CE loss relative to zero-ablating hook_z")
    .threshold("> 0.7 (brief; authors' post: > 0.8 'often')").value_name("CE recovered").min_seeds(min_seeds)
    .per_seed(&ce, |v| v > 0.7);
// control: the same pipeline on the untrained model, whose SAE cannot tell what the layer's
// output is for (zero-ablating it costs almost nothing there, so little loss is "recovered")
for (s, v) in per_seed(&runs, ats::CONTROL_GROUP, "ce_recovered") {
    c1 = c1.control(format!("untrained model, seed {s}"), v, v > 0.7);
}
let t1 = settle(c1, full_scale);
let mut c2 = Claim::new("the SAE is sparse: L0 below d_in / 4").threshold(&format!("< {} (post: < 20 of 768)", d_in / 4.0)).value_name("L0").min_seeds(min_seeds).per_seed(&l0, |v| v < d_in / 4.0);
// control: the same SAE at a tenth of the L1 coefficient (the sweep's first arm)
for (s, v) in per_seed(&runs, &ats::l1_group(setup.l1s[0]), "l0") {
    c2 = c2.control(format!("L1 = {} (a tenth), seed {s}", setup.l1s[0]), v, v < d_in / 4.0);
}
let t2 = settle(c2, full_scale);
fn has_induction(r: &SeedMetrics) -> bool {
    let g = |k: &str| r.get(k).unwrap_or(f64::NAN);
    g("induction_score_top") >= ats::INDUCTION_HEAD_SCORE && g("repeat_loss_second") < 0.5 * g("repeat_loss_first")
}
let mut c3 = Claim::new("the model has an induction head and copies repeated segments")
    .threshold(&format!("top layer-{} induction score ≥ {} and second-copy loss < ½ first-copy loss (ours)", setup.sae_layer, ats::INDUCTION_HEAD_SCORE)).value_name("top induction score").min_seeds(min_seeds);
for r in &main_rows {
    c3 = c3.seed_note(r.seed, r.get("induction_score_top")?, has_induction(r), format!("repeat loss {:.2} → {:.2}", r.get("repeat_loss_first")?, r.get("repeat_loss_second")?));
}
for r in &ctrl_rows {
    c3 = c3.control(format!("untrained model, seed {}", r.seed), r.get("induction_score_top")?, has_induction(r));
}
let t3 = settle(c3, full_scale);
fn attributed(r: &SeedMetrics) -> bool {
    let g = |k: &str| r.get(k).unwrap_or(f64::NAN);
    g("feature_top_head_score") >= ats::INDUCTION_HEAD_SCORE && g("feature_top_head_share") >= 0.5
}
let mut c4 = Claim::new("the induction feature's top head by decoder norm is an induction head and holds at least half its decoder norm")
    .threshold(&format!("top head's induction score ≥ {}, its share ≥ 0.5 (ours)", ats::INDUCTION_HEAD_SCORE)).value_name("share on the feature's top head").min_seeds(min_seeds);
for r in &main_rows {
    c4 = c4.seed_note(r.seed, r.get("feature_top_head_share")?, attributed(r), format!("top head {:.0} (induction score {:.2}); share on all {:.0} induction heads {:.2}", r.get("feature_top_head")?, r.get("feature_top_head_score")?, r.get("n_induction_heads")?, r.get("feature_fraction_on_induction_heads")?));
}
for r in &ctrl_rows {
    c4 = c4.control(format!("untrained model, seed {}", r.seed), r.get("feature_top_head_share")?, attributed(r));
}
// reported, not asserted: see the prose below the claims
println!("reported, not asserted at ci scale: {}", c4.outcome().1);
let on_ind = main_rows.iter().filter(|r| r.get("feature_top_head_score").unwrap_or(f64::NAN) >= ats::INDUCTION_HEAD_SCORE).count();
println!("claim 4 in parts: the feature's top head is an induction head on {on_ind} of {} seeds; its share on that head {} (≥ 0.5 wanted); on all the induction heads together {}, where a row spread evenly over the {} heads would put the induction heads' count / {}", main_rows.len(), mrg(&runs, ats::MAIN_GROUP, "feature_top_head_share", 3), mrg(&runs, ats::MAIN_GROUP, "feature_fraction_on_induction_heads", 3), setup.n_head, setup.n_head);
let t4 = c4.table();
let dfa = per_seed(&runs, ats::MAIN_GROUP, "dfa_peak_fraction");
let mut c5 = Claim::new("DFA by source position peaks at the token after the previous occurrence").threshold("≥ 50% of the feature's active second-copy positions (ours)").value_name("fraction").min_seeds(min_seeds).per_seed(&dfa, |v| v >= 0.5);
for (s, v) in per_seed(&runs, ats::CONTROL_GROUP, "dfa_peak_fraction") {
    c5 = c5.control(format!("untrained model, seed {s}"), v, v >= 0.5);
}
let t5 = settle(c5, full_scale);
let ioi_rows: Vec<SeedMetrics> = runs.iter().filter(|r| r.group == ats::IOI_GROUP).cloned().collect();
let drop: Vec<(u64, f64)> = ioi_rows.iter().map(|r| (r.seed, r.get("logit_diff").unwrap_or(f64::NAN) - r.get("logit_diff_top_ablated").unwrap_or(f64::NAN))).collect();
let drop_rand: Vec<(u64, f64)> = ioi_rows.iter().map(|r| (r.seed, r.get("logit_diff").unwrap_or(f64::NAN) - r.get("logit_diff_random_ablated").unwrap_or(f64::NAN))).collect();
let mut c6 = Claim::new("ablating the top SAE features at S2 lowers the IO − S logit difference more than random features")
    .threshold("drop(top 3) > max(drop(3 random live), 0), on a model that learnt IOI (IO preferred on ≥ 80% of prompts) (ours)").value_name("logit-diff drop, top 3").min_seeds(min_seeds);
for ((r, &(s, d)), &(_, rd)) in ioi_rows.iter().zip(&drop).zip(&drop_rand) {
    let acc = r.get("accuracy")?;
    c6 = c6.seed_note(s, d, acc >= 0.8 && d > rd && d > 0.0, format!("IOI accuracy {acc:.2}, logit diff {:.2}, random-3 drop {rd:.3}", r.get("logit_diff")?));
}
// reported, not asserted: see the prose below the claims
println!("reported, not asserted at ci scale: {}", c6.outcome().1);
let t6 = c6.table();
Panel::new().add(t1).add(t2).add(t3).add(t4).add(t5).add(t6)

// %% [markdown]
// Claims 4 and 6 are reported, not asserted: they fail on the artefact's seeds (the tables say where). Claim 4: every trained model has more than one induction head (the note column counts them), the heads copy the same token, and the induction feature's decoder row is spread over the heads instead of concentrated on one (the line printed above the tables splits the claim into its parts). The paper's decoder-norm attribution singles out a head when one head carries the feature; in this 4-head model the copying is shared, so it does not. Claim 6: layer 0 is local here, so its output at S2 only sees S2 and the two tokens before it, and the model's IOI answer need not be read from it; ablating the top layer-0 features at S2 is measured, and where it does not lower the logit difference (or raises it) the table shows it. In GPT-2 small the paper ablates at layer 5, where S2 sees the whole prompt.

// %% [markdown]
// ## The L1 sweep
//
// Three L1 coefficients on the same activations (seeds 0–2): the sparsity–fidelity trade-off. The claims above use the largest, chosen before the artefact was run from a seed-0 pilot of this recipe: L1 = 3 left L0 above the L0 < 16 bound, L1 = 10 went far below it and recovered less of the loss.

// %%
let mut rows = vec![];
for &l1 in &setup.l1s {
    let g = ats::l1_group(l1);
    let mr = |k: &str| mean_range(&vals(&per_seed(&runs, &g, k)), 3);
    rows.push(vec![format!("{l1:e}"), mr("l0"), mr("dead_fraction"), mr("explained_variance"), mr("ce_recovered")]);
}
let table = Table::from_rows(&["L1", "L0", "dead fraction", "explained variance", "CE recovered"], rows)?.title("the sweep, mean [min, max] over seeds");
table

// %% [markdown]
// ## Paper vs. ours

// %%
let rows = vec![
    vec!["CE loss recovered vs zero ablation".into(), "'often more than 80%' (AF post); Table 2 per layer (unconfirmed)".into(), mrg(&runs, ats::MAIN_GROUP, "ce_recovered", 3), "the released L5 SAE on GPT-2 small (not computed by this notebook: needs OWT)".into()],
    vec!["L0".into(), "'less than 20 features firing on average' (AF post)".into(), format!("{} of d_in {}", mrg(&runs, ats::MAIN_GROUP, "l0", 3), setup.n_embd), "L0 17 for L5 (SAELens' table of the release)".into()],
    vec!["top induction score (layer 1); heads ≥ 0.4".into(), "5.1 and 5.5 are induction heads in GPT-2 small".into(), format!("{}; {} heads", mrg(&runs, ats::MAIN_GROUP, "induction_score_top", 3), mrg(&runs, ats::MAIN_GROUP, "n_induction_heads", 0)), "heads 5.1 and 5.5's scores (step 1 table)".into()],
    vec!["loss on the first → second copy of a repeated segment".into(), "—".into(), format!("{} → {}", mrg(&runs, ats::MAIN_GROUP, "repeat_loss_first", 2), mrg(&runs, ats::MAIN_GROUP, "repeat_loss_second", 2)), "the same on 50-token repeats".into()],
    vec!["induction feature: share on its top head; on all induction heads".into(), "induction features attributed to 5.1 / 5.5 by decoder norm".into(), format!("{}; {} (reported, not asserted)", mrg(&runs, ats::MAIN_GROUP, "feature_top_head_share", 3), mrg(&runs, ats::MAIN_GROUP, "feature_fraction_on_induction_heads", 3)), "the share on 5.1 and 5.5 (step 3 table)".into()],
    vec!["control: the untrained model".into(), "—".into(), format!("top score {}, repeat loss {} → {}, DFA peak {}", mrg(&runs, ats::CONTROL_GROUP, "induction_score_top", 3), mrg(&runs, ats::CONTROL_GROUP, "repeat_loss_first", 2), mrg(&runs, ats::CONTROL_GROUP, "repeat_loss_second", 2), mrg(&runs, ats::CONTROL_GROUP, "dfa_peak_fraction", 3)), "—".into()],
    vec!["DFA peak at the previous occurrence's next token".into(), "induction features' DFA peaks there (paper's deep dive)".into(), mrg(&runs, ats::MAIN_GROUP, "dfa_peak_fraction", 3), "the same fraction on 50-token repeats".into()],
    vec!["IOI: logit diff, and its drop when the top 3 S2 features are ablated (random 3)".into(), "features at S2 (layer 5) are causally relevant (paper)".into(), format!("{}; drop {} (random {}) (reported, not asserted)", mrg(&runs, ats::IOI_GROUP, "logit_diff", 3), mean_range(&vals(&drop), 3), mean_range(&vals(&drop_rand), 3)), "layer 5 at S2, 100 ARENA-style prompts".into()],
    vec!["scale".into(), "GPT-2 small, 1e8 OWT tokens per SAE, dict 24,576–49,152".into(), format!("2L attention-only d{} (layer 0's window {:?}), {} steps; SAEs of {} on {} rows; seeds {:?}", setup.n_embd, setup.window0, setup.steps, setup.dict_mult * setup.n_embd, setup.act_rows * setup.ctx, ats::SEEDS), "GPT-2 small with the released SAEs".into()],
];
let table = Table::from_rows(&["claim", "paper", "ours (ci: mean [min, max] over seeds)", "full scale"], rows)?.title("paper vs. ours");
table

// %% [markdown]
// ## What this run does not show, and running at full scale
//
// The ci model is tiny, and its layer 0 is local by design (see the top of the notebook): the induction heads are measured (step 1, claim 3), not assumed, but they form because the architecture leaves the model no positional shortcut, which says nothing about how they form in GPT-2. With several induction heads doing the same job, decoder-norm attribution does not single one out (claim 4). In a 2-layer model the output of layer 1 at S2 reaches no later layer, so the IOI ablation uses a layer-0 SAE (the S2 signal the final position reads is written there); in GPT-2 small it is layer 5, as in the paper. Feature families, polysemanticity rates and the long- vs short-prefix split need GPT-2 scale.
//
// `GPT2LAB_SCALE=full` runs the same cells on GPT-2 small with the authors' released layer-5 SAE from the hub (`full::kissane_sae_from_hub`): induction scores of every head, the induction feature with its decoder-norm shares on heads 5.1 and 5.5 and its DFA by source on 50-token repeats, and the IOI feature ablation at S2 on 100 ARENA-style prompts. `tests/attention_saes.rs` runs that path on a random-weight GPT-2-layout checkpoint and checks the loader against a fixture in the release's file layout.
