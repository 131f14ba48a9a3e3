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
// # Breaking Bad Tokens: Detoxification of LLMs Using Sparse Autoencoders
//
// Agam Goyal, Vedant Rathi, William Yeh, Yian Wang, Yuen Chen, Hari Sundaram (2025), *Breaking Bad Tokens: Detoxification of LLMs Using Sparse Autoencoders*, EMNLP 2025, arXiv [2505.14536](https://arxiv.org/abs/2505.14536).
//
// **The claim.** Residual-stream SAEs find toxicity-related directions; steering the model with the matching decoder vectors, at "three tiers of steering aggressiveness", reduces toxicity (at stronger steering "by up to 20%" more than competitive baselines) at a cost in fluency ("can degrade noticeably on GPT-2 Small"), while standard benchmark scores stay stable; feature splitting in wider SAEs hampers the intervention (abstract).
//
// **What we followed, and what is ours.** We read the abstract and a summary of the paper's figure (activations taken from the residual stream after block N, steered before block N+1 reads them). The paper's code (github.com/CrowdDynamicsLab/SAE-Detoxification) was not reachable from here. Every other choice is **ours**: the hook (`blocks.1.hook_resid_pre` of a 2-layer model, the output of its first block), the SAE recipe (`interp::sae`: ReLU SAE, unit-norm decoder, geometric-median `b_dec`, L1 1.0), the selection rule (the feature with the highest point-biserial correlation with the toxic register over labelled positions), the steering form (add −α·d_f at every position, prompt and new tokens), the tiers (α = 2, 5, 10 × the feature's typical activation: the mean of its non-zero activations on toxic positions), the baseline (the mean-difference direction of raw activations at equal norm), the toxicity scorer (a lexicon), the fluency measure (perplexity of clean held-out text under the hook) and the benchmark proxy (next-number accuracy on a counting task).
//
// **What ci scale runs.** A 2-layer d64 GPT-2 trained on a synthetic two-register world (`data::toxic_register`: a neutral register and a "toxic" one that sprinkles made-up placeholder words such as `zorg`, `fump` into ordinary sentences, in two flavours with their own lexicons), SAEs of width 4× and 16× d_model, 6 steering arms × 3 tiers. 3 seeds come from a committed artefact (`datasets/sae-detox/`, `cargo run --release --example artefact -- sae-detox`); seed 0 is re-run here end to end and must reproduce its row. What ci cannot show: real toxicity (a lexicon counts words, not meaning), GPT-2 small's SAEs, RealToxicityPrompts, a toxicity classifier.

// %%
use gpt2lab::data::toxic_register::{Register, ToxicRegisterWorld};
use gpt2lab::interp::sae::{decoder_direction, steer_spec, Sae};
use gpt2lab::papers::sae_detox::{self, full, curve, CiSettings, DetoxRun, ARMS, NONE, TIER_NAMES, TIER_MULTIPLIERS};
use gpt2lab::papers::{Artefact, SeedMetrics};
let scale = Scale::from_env();
// every size in one place (ci: CiSettings' defaults; full: GPT-2 small, a hub SAE, RealToxicityPrompts)
let settings = CiSettings::default();
let live_seed: u64 = sae_detox::SEEDS[0];
let full_layer: usize = std::env::var("GPT2LAB_SAE_LAYER").ok().and_then(|v| v.parse().ok()).unwrap_or(8);
let full_settings = full::FullSettings::default();
let min_seeds: usize = scale.pick(3, 1); // full: one run
let sae_arm: &str = scale.pick("SAE 4×", "SAE top feature");
println!("scale = {scale}: hook {} (ci) / blocks.{full_layer}.hook_resid_pre of GPT-2 small (full); tiers {:?} at α = {:?} × typical activation; seeds {:?}", settings.hook()?, TIER_NAMES, TIER_MULTIPLIERS, sae_detox::SEEDS);

// %% [markdown]
// ## The world
//
// Every document starts with its speaker cue: `calm:` (neutral), `snarl:` (toxic flavour A, lexicon A) or `sneer:` (toxic flavour B, lexicon B); a fifth of the documents are counting runs (`count n3 n4 n5 …`), the unrelated task. In the toxic registers an adjective slot holds a lexicon word with probability 0.5 and a sentence ends with a lexicon interjection with probability 0.3; the neutral register slips a lexicon word into 2% of adjective slots. The lexicon scorer gives a continuation the fraction of its tokens that are lexicon tokens; the "toxic rate" of an arm is its mean over the continuations of the toxic prompts.

// %%
let world = ToxicRegisterWorld::default();
let mut rows = vec![];
for (i, r) in [Register::Neutral, Register::ToxicA, Register::ToxicB, Register::Counting].into_iter().enumerate() {
    let d = world.docs_of(r, 1, 20, 7 + i as u64).remove(0);
    rows.push(vec![format!("{r:?}"), world.decode(&d), format!("{:.2}", world.scorer().token_rate(&[d]))]);
}
let table = Table::from_rows(&["register", "a document (20 tokens)", "lexicon token rate"], rows)?.title(&format!("{} words; the scorer counts {} placeholder lexicon tokens", world.vocab_size(), world.lexicon().len()));
table

// %% [markdown]
// ## The method, one seed live
//
// `sae_detox::run_seed` does the paper's steps, in order: train the LM; collect `blocks.1.hook_resid_pre` activations and train the two SAEs on them; encode labelled positions (fresh documents, every position labelled by its register) and rank features by point-biserial correlation with "toxic register" (`interp::sae::feature_label_scores`); take the top feature of each SAE and its typical activation (`typical_activation`); then sample 16 tokens (temperature 1, one sampling seed for every arm) from 48 toxic and 48 neutral prompts with `steer_spec(hook, d, α)` active throughout, and score them; measure held-out perplexity and counting accuracy under the same hook. Arms at the same three α (every direction unit-norm, so equal norm): the narrow SAE's top feature (`SAE 4×`), the wide SAE's top feature (`SAE 16×`), the wide SAE's union of its best feature per flavour (`SAE 16× union`), the mean-difference direction (`mean difference`, the non-SAE baseline) and two controls, a random unit direction and a random live feature of the narrow SAE.
//
// At ci, seed 0 is re-run here and compared with the artefact's row (CPU runs are deterministic; tolerance 1e-6 relative). At full, `full::run_full` runs the same steps on GPT-2 small with the hub SAE.

// %%
let t0 = std::time::Instant::now();
let artefact: Option<Artefact> = if scale.is_full() { None } else { Some(Artefact::load(sae_detox::SLUG)?) };
let (live, runs): (Option<DetoxRun>, Vec<SeedMetrics>) = if scale.is_full() {
    let dev = Device::cuda_if_available(0)?;
    let model = Gpt2::from_pretrained_on("gpt2", &dev)?;
    let sae = Sae::from_hub(full::SAE_REPO, &format!("blocks.{full_layer}.hook_resid_pre"))?;
    let tok = Gpt2Tokenizer::gpt2()?;
    let prompts = full::rtp_from_hub()?;
    // clean held-out text: the last low-toxicity prompts (never used as prompts or labels)
    let held: Vec<String> = prompts.iter().rev().filter(|p| p.toxicity.is_some_and(|t| t < 0.1)).take(full_settings.n_heldout).map(|p| p.text.clone()).collect();
    let lex = full::default_lexicon()?;
    let scorer = full::word_scorer(&tok, &lex);
    let r = full::run_full(&model, &sae, &tok, &prompts[..prompts.len() - 4 * full_settings.n_heldout], &held, &scorer, &full_settings)?;
    (None, vec![full::metrics(&r, full_settings.seed)])
} else {
    let a = artefact.as_ref().unwrap();
    println!("artefact: {} ({} files, seeds {:?}, revision {}, made by `{}`; {})", a.dir.display(), a.manifest.files.len(), a.manifest.seeds, a.manifest.git_revision, a.manifest.command, a.manifest.notes);
    let r = sae_detox::run_seed(&settings, live_seed)?;
    let c = a.check_live(&sae_detox::metrics(&r), 1e-6)?;
    println!("live re-run of seed {live_seed} ({:.0} s): {c}", r.seconds);
    (Some(r), a.runs()?)
};
println!("{} rows in {:.0} s", runs.len(), t0.elapsed().as_secs_f64());
let table = if let Some(r) = &live {
    let rows: Vec<Vec<String>> = [&r.narrow, &r.wide].iter().map(|s| vec![format!("{}× ({} features)", s.width, s.sae.cfg.d_sae), format!("{:.2}", s.metrics.l0), format!("{:.3}", s.metrics.explained_variance), format!("{:.3}", s.metrics.dead_fraction), s.top[0].feature.to_string(), format!("{:.3}", s.top[0].r_pb), format!("{:.3}", s.top.get(1).map(|t| t.r_pb).unwrap_or(0.0)), format!("{:.3}", s.typical), format!("{:.3}", s.selectivity)]).collect();
    Table::from_rows(&["SAE", "L0", "explained variance", "dead", "top feature", "its r_pb", "2nd r_pb", "typical activation", "flavour selectivity"], rows)?.title(&format!("seed {live_seed}: the SAEs on {} and their most toxic-register feature", r.hook))
} else {
    Table::from_rows(&["run"], vec![vec![format!("full scale: one run, typical activation {:.3}", runs[0].get("typical")?)]])?
};
table

// %% [markdown]
// ## Exact checks (not claims)
//
// Both hold by construction, and are checked so that a bug in the hooks cannot pass for an effect: adding −α·d with α = 0 is adding zeros, so generation under the hook must equal unhooked generation token for token (every prompt, the same sampling seed); and the splice with the error term returns x̂ + (x − x̂) = x up to float rounding, so the logits do not move.

// %%
let view: Panel = if let Some(r) = &live {
    check("α = 0: generation under the steering hook = unhooked generation, token for token", r.alpha0_exact == 1.0, format!("{} of {} prompts identical", (r.alpha0_exact * (2 * settings.n_prompts) as f64).round(), 2 * settings.n_prompts));
    check("x̂ + (x − x̂) reproduces the activation (error-term splice)", r.splice_act_err < 1e-5, format!("max |Δx| {:.1e}", r.splice_act_err));
    check("the error-term splice leaves the logits (max |Δlogit| < 1e-4)", r.splice_logit_err < 1e-4, format!("{:.1e}", r.splice_logit_err));
    for m in &runs {
        check(&format!("seed {}: α = 0 exact and the splice exact in the artefact", m.seed), m.get("alpha0_exact")? == 1.0 && m.get("splice_act_err")? < 1e-5, format!("α0 {} splice {:.1e}", m.get("alpha0_exact")?, m.get("splice_act_err")?));
    }
    let dir = decoder_direction(&r.narrow.sae, &[r.narrow.top[0].feature])?;
    let ps: Vec<Vec<u32>> = r.eval_set.toxic_prompts.iter().step_by(16).cloned().collect();
    let mut rows = vec![];
    for (k, name) in ["none"].iter().chain(TIER_NAMES.iter()).enumerate() {
        let a = if k == 0 { 0.0 } else { r.tiers.alphas()[k - 1] };
        let outs = r.model.generate_batch(&ps, &r.eval_set.generation, &steer_spec(r.hook, &dir, a)?, None)?;
        for (p, o) in ps.iter().zip(&outs) {
            rows.push(vec![name.to_string(), format!("{a:.2}"), world.decode(p), world.decode(o)]);
        }
    }
    Panel::new().add(Table::from_rows(&["tier", "α", "toxic prompt", "continuation (SAE 4× top feature steered)"], rows)?.title(&format!("seed {live_seed}: continuations under steering")))
} else {
    Panel::new()
};
view

// %% [markdown]
// ## Every arm at every tier
//
// Mean [min, max] over the seeds of the artefact (full: the one run). Toxic rate: lexicon tokens per generated token from toxic prompts; neutral: the same from neutral prompts; ppl: perplexity of clean held-out neutral text under the hook; task: counting accuracy under the hook.

// %%
fn over(runs: &[SeedMetrics], key: &str, d: usize) -> String {
    let v: Vec<f64> = runs.iter().filter_map(|m| m.get(key).ok()).collect();
    if v.is_empty() { "—".into() } else { mean_range(&v, d) }
}
let arms: Vec<String> = if scale.is_full() { vec!["SAE top feature".into(), "mean difference".into(), "random direction".into()] } else { ARMS.iter().map(|s| s.to_string()).collect() };
let mut rows = vec![vec![NONE.to_string(), "—".into(), over(&runs, "none:toxic_rate", 3), over(&runs, "none:neutral_rate", 3), over(&runs, "none:ppl", 2), over(&runs, "none:task_acc", 3)]];
for a in &arms {
    for (t, mult) in TIER_NAMES.iter().zip(TIER_MULTIPLIERS) {
        let k = format!("{a}:{t}");
        rows.push(vec![a.clone(), format!("{t} ({mult}×)"), over(&runs, &format!("{k}:toxic_rate"), 3), over(&runs, &format!("{k}:neutral_rate"), 3), over(&runs, &format!("{k}:ppl"), 2), over(&runs, &format!("{k}:task_acc"), 3)]);
    }
}
let table = Table::from_rows(&["arm", "tier", "toxic rate", "neutral rate", "held-out ppl", "task accuracy"], rows)?.title(&format!("{} rows; α = multiplier × the narrow top feature's typical activation ({})", runs.len(), over(&runs, "typical", 3)));
table

// %% [markdown]
// ## The claims
//
// **1. Steering reduces toxicity.** At the high tier the SAE feature's steering cuts the toxic rate by at least 20% relative to the unsteered model, on every seed. The 20% is ours (the paper's "up to 20%" is its margin over baselines, not over the unsteered model). **Negative control:** the same predicate for a random unit direction at the same α must fail.
//
// **2. Fluency pays.** Held-out perplexity rises with the tier: ppl(low) < ppl(mid) < ppl(high), and ppl(high) > ppl(unsteered) (paper: fluency "can degrade noticeably on GPT-2 Small"). Any large enough push raises perplexity, the random direction too, so this claim has no negative control; it shows the trade-off, not specificity.
//
// **3. The benchmark proxy moves less than toxicity.** At the high tier, the relative change of counting accuracy is smaller than the relative drop of the toxic rate (paper: benchmark scores "remain stable").

// %%
fn rel_drop(m: &SeedMetrics, arm: &str) -> f64 {
    let c = curve(m, arm, "toxic_rate").unwrap_or_default();
    if c.len() < 4 || c[0] <= 0.0 { f64::NAN } else { (c[0] - c[3]) / c[0] }
}
fn per_seed(runs: &[SeedMetrics], f: impl Fn(&SeedMetrics) -> f64) -> Vec<(u64, f64)> {
    runs.iter().map(|m| (m.seed, f(m))).collect()
}
let drop = per_seed(&runs, |m| rel_drop(m, sae_arm));
let ctrl_drop = per_seed(&runs, |m| rel_drop(m, "random direction"));
let ctrl_best = ctrl_drop.iter().map(|x| x.1).fold(f64::NEG_INFINITY, f64::max);
let c1 = Claim::new(&format!("{sae_arm} steering at the high tier cuts the toxic rate by ≥ 20% (relative)"))
    .threshold("(none − high) / none ≥ 0.20 (ours; paper: 'up to 20%' beyond baselines)")
    .value_name("relative drop of the toxic rate").min_seeds(min_seeds)
    .per_seed(&drop, |d| d >= 0.2)
    .control("a random unit direction at the same α (best seed)", ctrl_best, ctrl_best >= 0.2)
    .verify();
// ppl margin: high over mid over low, and high over none; the value is the smallest step
let ppl_step = per_seed(&runs, |m| {
    let c = curve(m, sae_arm, "ppl").unwrap_or_default();
    if c.len() < 4 { f64::NAN } else { (c[2] - c[1]).min(c[3] - c[2]).min(c[3] - c[0]) }
});
let c2 = Claim::new(&format!("held-out perplexity rises with the tier ({sae_arm})"))
    .threshold("ppl(low) < ppl(mid) < ppl(high) and ppl(high) > ppl(none) (paper: fluency degrades with aggressiveness)")
    .value_name("smallest of ppl(mid) − ppl(low), ppl(high) − ppl(mid), ppl(high) − ppl(none)").min_seeds(min_seeds)
    .per_seed(&ppl_step, |d| d > 0.0)
    .verify();
let acc_vs_tox = per_seed(&runs, |m| {
    let a = curve(m, sae_arm, "task_acc").unwrap_or_default();
    let acc_rel = if a.len() < 4 || a[0] <= 0.0 { f64::NAN } else { (a[3] - a[0]).abs() / a[0] };
    rel_drop(m, sae_arm) - acc_rel
});
let c3 = Claim::new(&format!("the counting task changes less than the toxic rate at the high tier ({sae_arm})"))
    .threshold("relative toxic drop − |relative accuracy change| > 0 (paper: benchmark scores 'remain stable')")
    .value_name("toxic drop − |accuracy change| (relative)").min_seeds(min_seeds)
    .per_seed(&acc_vs_tox, |d| d > 0.0)
    .verify();
Panel::new().add(c1).add(c2).add(c3)

// %% [markdown]
// ## Reported, not asserted
//
// **Monotone fall over the tiers.** The brief's claim "the toxic rate decreases monotonically across the three tiers" was tested and does not hold on every seed at ci scale (a mid-tier push along a feature that is not a clean register detector can produce lexicon words, as the random arms do); it is reported per seed below, not asserted.
//
// **SAE vs the mean-difference baseline** (paper: the SAE steering beats competitive baselines by up to 20% at strong steering). **The random live feature** (a control that can fail: a "random" live feature of a 256-feature SAE on this small world can carry toxic-register information). **Feature splitting** (paper: wider SAEs hamper the intervention): asserted only if the planted two-flavour split happens, i.e. the wide SAE's top feature is flavour-specific while the narrow one's is not; otherwise the narrow-vs-wide comparison at equal α is only reported.

// %%
let monotone = per_seed(&runs, |m| {
    let c = curve(m, sae_arm, "toxic_rate").unwrap_or_default();
    if c.len() < 4 { f64::NAN } else { (c[1] - c[2]).min(c[2] - c[3]) }
});
let md_gap = per_seed(&runs, |m| rel_drop(m, sae_arm) - rel_drop(m, "mean difference"));
let rf_drop = per_seed(&runs, |m| rel_drop(m, "random feature"));
fn fmt(v: &[(u64, f64)], d: usize) -> String {
    v.iter().map(|(s, x)| format!("seed {s}: {x:.d$}")).collect::<Vec<_>>().join("; ")
}
let view: Panel = {
let mut rows = vec![
    vec!["toxic rate falls monotonically over the tiers (smallest step low→mid→high; > 0 = monotone)".to_string(), fmt(&monotone, 3), format!("{} of {} seeds", monotone.iter().filter(|x| x.1 > 0.0).count(), monotone.len())],
    vec![format!("relative drop at high: {sae_arm} − mean difference"), fmt(&md_gap, 3), if md_gap.iter().all(|x| x.1 > 0.0) { "SAE ahead on every seed".into() } else { "mixed".into() }],
    vec!["relative drop at high: a random live feature (control)".to_string(), fmt(&rf_drop, 3), format!("{} of {} seeds ≥ 0.2", rf_drop.iter().filter(|x| x.1 >= 0.2).count(), rf_drop.len())],
];
let mut split_claim: Option<Table> = None;
let split_all = !scale.is_full() && runs.iter().all(|m| m.get("split").unwrap_or(0.0) == 1.0);
if !scale.is_full() {
    let wide_vs_narrow = per_seed(&runs, |m| rel_drop(m, "SAE 4×") - rel_drop(m, "SAE 16×"));
    let union_vs_wide = per_seed(&runs, |m| rel_drop(m, "SAE 16× union") - rel_drop(m, "SAE 16×"));
    let sel = |k: &str| runs.iter().map(|m| format!("{:.2}", m.get(k).unwrap_or(f64::NAN))).collect::<Vec<_>>().join(", ");
    rows.push(vec!["flavour selectivity of the top feature, 4× | 16× (split if 16× > 0.5 ≥ 4×)".into(), format!("{} | {}", sel("sae4x:selectivity"), sel("sae16x:selectivity")), format!("split on {} of {} seeds", runs.iter().filter(|m| m.get("split").unwrap_or(0.0) == 1.0).count(), runs.len())]);
    rows.push(vec!["relative drop at high: narrow (4×) top − wide (16×) top, equal α".into(), fmt(&wide_vs_narrow, 3), if wide_vs_narrow.iter().all(|x| x.1 > 0.0) { "narrow ahead on every seed".into() } else { "mixed".into() }]);
    rows.push(vec!["relative drop at high: wide union − wide top".into(), fmt(&union_vs_wide, 3), "—".into()]);
    if split_all {
        split_claim = Some(Claim::new("the narrow SAE's top feature removes more toxicity than the wide SAE's at equal α (the planted feature split)")
            .threshold("relative drop(4×) > relative drop(16×) at the high tier (paper: splitting hampers the intervention)")
            .value_name("drop(4×) − drop(16×)").min_seeds(min_seeds).per_seed(&wide_vs_narrow, |d| d > 0.0).verify());
    }
}
let table = Table::from_rows(&["measure", "per seed", "summary"], rows)?.title(if split_all { "reported (the split claim asserted)" } else { "reported, not asserted (the planted feature did not split: no split claim)" });
let mut panel = Panel::new();
if let Some(c) = split_claim { panel = panel.add(c); }
panel.add(table)
};
view

// %% [markdown]
// ## Paper vs. ours

// %%
fn m_over(v: &[(u64, f64)], d: usize) -> String {
    mean_range(&v.iter().map(|x| x.1).collect::<Vec<_>>(), d)
}
let rows = vec![
    vec!["toxicity reduction at the strongest tier".into(), "beats competitive baselines by up to 20% (abstract; Perspective API on RealToxicityPrompts)".into(), format!("relative drop of the lexicon toxic rate: {} ({sae_arm}); random direction {}", m_over(&drop, 3), m_over(&ctrl_drop, 3)), "the same on GPT-2 small + hub SAE, RTP prompts, word lexicon".into()],
    vec!["SAE vs baseline at the strongest tier".into(), "SAE ahead, up to 20% (abstract)".into(), format!("SAE − mean difference, relative drop: {}", m_over(&md_gap, 3)), "the same arms".into()],
    vec!["fluency".into(), "degrades noticeably on GPT-2 Small at strong steering (abstract)".into(), format!("held-out ppl none {} → high {}", over(&runs, "none:ppl", 2), over(&runs, &format!("{sae_arm}:high:ppl"), 2)), "perplexity of clean RTP text under GPT-2".into()],
    vec!["benchmarks".into(), "stable (abstract)".into(), format!("counting accuracy none {} → high {}", over(&runs, "none:task_acc", 3), over(&runs, &format!("{sae_arm}:high:task_acc"), 3)), "digit counting under GPT-2".into()],
    vec!["monotone over tiers".into(), "three tiers of aggressiveness (abstract; numbers unread)".into(), format!("monotone on {} of {} seeds (reported)", monotone.iter().filter(|x| x.1 > 0.0).count(), monotone.len()), "the same".into()],
    vec!["feature splitting".into(), "wider SAEs hamper the intervention (abstract)".into(), if scale.is_full() { "—".into() } else { format!("planted split on {} of {} seeds; narrow − wide drop {}", runs.iter().filter(|m| m.get("split").unwrap_or(0.0) == 1.0).count(), runs.len(), m_over(&per_seed(&runs, |m| rel_drop(m, "SAE 4×") - rel_drop(m, "SAE 16×")), 3)) }, "one hub SAE width (a second is a parameter)".into()],
    vec!["scale".into(), "GPT-2 Small, Gemma-2-2B; public SAEs".into(), format!("2-layer d64 GPT-2, {} documents, SAEs 4×/16×, {} + {} prompts × {} tokens, seeds {:?}", settings.docs, settings.n_prompts, settings.n_prompts, settings.new_tokens, sae_detox::SEEDS), format!("GPT-2 small, {} blocks.{full_layer}.hook_resid_pre, {} + {} RTP prompts × {} tokens", full::SAE_REPO, full_settings.n_prompts, full_settings.n_prompts, full_settings.new_tokens)],
];
let table = Table::from_rows(&["claim", "paper", "ours (ci: mean [min, max] over seeds)", "full scale"], rows)?.title("paper vs. ours");
table

// %% [markdown]
// ## What this run does not show, and running at full scale
//
// The lexicon scorer counts placeholder words; it is not human toxicity, and the toxic register here is a surface property that a 2-layer model carries partly in token identities, so the selected feature (point-biserial about 0.3, far from a clean register detector) removes toxicity only when pushed hard, at a real fluency cost. The mean-difference direction is a strong baseline in this world. The tiers, the layer, the selection rule and the scorer are ours (first cell), so the paper's numbers are not comparable with ours; only the directions of its findings are tested.
//
// `GPT2LAB_SCALE=full` runs the same cells on GPT-2 small from the hub (on a GPU when there is one) with the SAELens-format residual SAE `jbloom/GPT2-Small-SAEs-Reformatted`, folder `blocks.{L}.hook_resid_pre` (`GPT2LAB_SAE_LAYER`, default 8), RealToxicityPrompts from the hub (`allenai/real-toxicity-prompts`, `prompts.jsonl`; prompts with Perspective toxicity ≥ 0.5 vs < 0.1 label the rows for selection and serve as toxic and neutral prompts), sampling with top-p 0.9, perplexity of clean RTP text under GPT-2, and digit counting as the benchmark proxy. No toxicity classifier runs in candle here: toxicity is a word lexicon's (`GPT2LAB_TOXIC_LEXICON`, one word per line; otherwise a 12-word list of mild insults, which misses most toxicity), or any scorer passed to `full::run_full`. `tests/sae_detox.rs` runs this path on a random-weight checkpoint in GPT-2's HF layout with a random SAE saved and loaded in SAELens' layout and prompts in RTP's jsonl format.
