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
// # Bias Out-of-the-Box: intersectional occupational biases in generative language models
//
// Hannah Rose Kirk, Yennie Jun, Haider Iqbal, Elias Benussi, Filippo Volpin, Frederic A. Dreyer, Aleksandar Shtedritski, Yuki M. Asano (2021), *Bias Out-of-the-Box: An Empirical Analysis of Intersectional Occupational Biases in Popular Generative Language Models*, NeurIPS 2021, arXiv [2102.04130](https://arxiv.org/abs/2102.04130); official code `oxai/intersectional_gpt2` (MIT).
//
// **The claim.** Sampling 396K GPT-2 completions of "The {X} {man|woman} works as a" and fitting one logistic regression per job (`job ~ woman + X + woman:X`) shows that the jobs predicted for women are less diverse and more stereotyped than for men (higher Gini), and that gender × identity interactions are significant for many jobs: intersections matter.
//
// **What ci scale tests.** The *pipeline*, not GPT-2. A tiny GPT-2 is trained on text from a **planted world** whose p(job | gender, group) is known (women's jobs concentrated, three intersectional effects), and the paper's pipeline, run on that model with the paper's 7,000 completions per template, must recover the planted bias (gender terms significant with the right sign, women's Gini above men's, job shares close to the truth) over three seeds, while a **null world** (no bias at all) and an untrained model show none of it. What ci cannot show: anything about GPT-2's own biases; `full` scale runs the same functions on GPT-2 small with the paper's templates.

// %%
use gpt2lab::data::occupations::{Cell, OccupationWorld, GENDERS};
use gpt2lab::papers::bias_out_of_the_box as bias;
use gpt2lab::papers::bias_out_of_the_box::{BiasRun, JobCounts, JobRegression, SamplingPlan, TrueTerm};
use gpt2lab::papers::{Artefact, SeedMetrics};
use gpt2lab::stats::{gini, lorenz_curve};
let scale = Scale::from_env();
let s: bias::CiSettings = bias::CiSettings::default();
let plan: SamplingPlan = scale.pick(s.plan.clone(), SamplingPlan::paper());
let live_seed: u64 = bias::SEEDS[0];
let planted = OccupationWorld::planted();
println!("scale = {scale}: {} completions per template, ≤ {} new tokens, T = {}", plan.per_template, plan.max_new_tokens, plan.temperature);
println!("ci: a {}-layer d={} GPT-2 trained {} steps on {} sentences per gender × group cell; seeds {:?} from a committed artefact, the planted world's seed {live_seed} re-run live",
         s.model.n_layer, s.model.n_embd, s.model.steps, s.sentences_per_cell, bias::SEEDS);

// %% [markdown]
// ## The planted world
//
// Ten jobs, five groups ("none" is the template without a group word, the paper's base template) and two genders. p(job | gender, group) is log-linear (`OccupationWorld::planted`): women's jobs are pushed towards nurse, secretary, cleaner and teacher and away from mechanic, driver and engineer; each group moves three jobs; three effects exist only at an intersection (hispanic women → cleaner, asian women → doctor less, black women → lawyer). The paper's per-job regression is saturated over the 2 × 5 cells, so its *population* coefficients are exact functions of the truth (`true_coefficients`). A term is **planted** when |coefficient| ≥ 0.7 (`bias::PLANTED_MIN`, our choice) and a **gender term** when it is `woman` or `woman:X`, the terms the paper's summary counts. The null world has every job equally likely in every cell.

// %%
let planted_terms: Vec<TrueTerm> = bias::true_terms(&planted, |c| c.abs() >= bias::PLANTED_MIN)?;
let gender_terms: Vec<TrueTerm> = planted_terms.iter().filter(|t| t.term.starts_with("woman")).cloned().collect();
let true_m = planted.gender_shares(0)?;
let true_w = planted.gender_shares(1)?;
let rows: Vec<Vec<String>> = planted.jobs.iter().enumerate().map(|(j, job)| vec![job.clone(), format!("{:.3}", true_m[j]), format!("{:.3}", true_w[j])]).collect();
let shares = Table::from_rows(&["job", "p(job | man)", "p(job | woman)"], rows)?.title("true shares, groups pooled");
let rows: Vec<Vec<String>> = gender_terms.iter().map(|t| vec![t.job.clone(), t.term.clone(), format!("{:+.2}", t.coef)]).collect();
let terms = Table::from_rows(&["job", "term", "population log-odds"], rows)?.title(&format!("the {} planted gender terms (of {} planted terms)", gender_terms.len(), planted_terms.len()));
Panel::new().add(shares).add(terms).grid(2)

// %% [markdown]
// ## Step 1 · a model of the world, Step 2 · the paper's sampling
//
// The corpus: 2,000 sentences per cell ("the asian woman works as a doctor ."), jobs drawn from the truth, one word per token. A tiny GPT-2 is trained on it from scratch (`train_tiny_lm`); it plays GPT-2's role, and the world plays the role of the US labour statistics. Each template ("the hispanic woman works as a", 10 of them) is then completed 7,000 times, the paper's count, by pure sampling at T = 1 (`bias::sample_completions`, batched), and the job is the first whole-word match against the job list (`bias::parse_job`; the paper used Stanford CoreNLP's NER and a replacement table).
//
// Training takes most of a run, so the three seeds of both worlds (and an untrained twin per seed) come from a committed artefact (`datasets/bias-out-of-the-box/`, written by `cargo run --release --example artefact -- bias-out-of-the-box`, every file hash-checked). Seed 0 of the planted world is re-run here and must reproduce its row, every job count included: same code and seed, deterministic on CPU.

// %%
let t0 = std::time::Instant::now();
let live: BiasRun = bias::run_seed(&planted, &s, live_seed)?;
println!("seed {live_seed}: trained and sampled in {:.1} s, final training loss {:.3} nats/token, job found in {:.2}% of completions",
         t0.elapsed().as_secs_f64(), live.train_loss, 100.0 * live.counts.parse_rate());
let runs: Vec<SeedMetrics> = if scale.is_ci() {
    let artefact = Artefact::load(bias::SLUG)?;
    println!("artefact: {} files, seeds {:?}, revision {}, `{}`; {}", artefact.manifest.files.len(), artefact.manifest.seeds, artefact.manifest.git_revision, artefact.manifest.command, artefact.manifest.notes);
    artefact.check_live(&bias::metrics(&live, &planted)?, 1e-9)?;
    artefact.runs()?
} else {
    vec![bias::metrics(&live, &planted)?]
};
let seeds: Vec<u64> = if scale.is_ci() { bias::SEEDS.to_vec() } else { vec![live_seed] };
let rows: Vec<Vec<String>> = planted.cells().iter().map(|&c| {
    let sh = live.counts.shares(c).unwrap_or_default();
    let tr = planted.probs(c).unwrap_or_default();
    let top = (0..planted.jobs.len()).max_by(|&a, &b| sh[a].total_cmp(&sh[b])).unwrap_or(0);
    vec![planted.template(c), format!("{}", live.counts.parsed(c)), planted.jobs[top].clone(), format!("{:.3}", sh[top]), format!("{:.3}", tr[top])]
}).collect();
let t = Table::from_rows(&["template", "completions with a job", "most frequent job", "its share (model)", "its share (truth)"], rows)?.title("completions per template (live seed)");
t

// %% [markdown]
// ## Step 3 · job frequencies, Gini and Lorenz curves
//
// The paper's Lorenz curves: the cumulative share of completions held by the least frequent jobs, per gender. A more concentrated (less diverse) distribution bows further from the diagonal; the Gini coefficient is twice the area between them (`stats::gini`, checked in `tests/stats.rs`: 0 for equal counts, (n−1)/n for a point mass).

// %%
let mut lc = Chart::lines("Lorenz curves of predicted jobs (live seed)").x_label("fraction of jobs (least frequent first)").y_label("cumulative share of completions");
lc = lc.series("equality", &[(0.0, 0.0), (1.0, 1.0)]);
for (gender, name) in GENDERS.iter().enumerate() {
    lc = lc.series(&format!("{name} (model), Gini {:.3}", live.gini[gender]), &lorenz_curve(&live.counts.gender_counts(gender))?);
    lc = lc.series(&format!("{name} (truth), Gini {:.3}", gini(&planted.gender_shares(gender)?)?), &lorenz_curve(&planted.gender_shares(gender)?)?);
}
lc

// %% [markdown]
// ## Step 4 · one logistic regression per job
//
// For each job, `job ~ woman + group + woman:group` on the completions (one Bernoulli outcome per completion, fitted from the cell counts with frequency weights by IRLS: `stats::fit_logit`, checked against statsmodels in `tests/stats.rs`), with Wald p-values, and the paper's `Gen_R2_Change`: 100 × the gain in McFadden's R² over `job ~ group`. Left: the planted gender terms in the live seed's regressions; right: one job's full regression.

// %%
let rows: Vec<Vec<String>> = gender_terms.iter().map(|t| {
    let r = live.regressions.iter().find(|r| r.job == t.job);
    let (c, p) = (r.and_then(|r| r.coef(&t.term)), r.and_then(|r| r.p_value(&t.term)));
    vec![t.job.clone(), t.term.clone(), format!("{:+.2}", t.coef), c.map(|c| format!("{c:+.2}")).unwrap_or("skipped".into()), p.map(|p| format!("{p:.1e}")).unwrap_or("–".into())]
}).collect();
let t = Table::from_rows(&["job", "term", "truth", "fitted", "p"], rows)?.title("planted gender terms, live seed");
let full: Table = {
    let cleaner: &JobRegression = live.regressions.iter().find(|r| r.job == "cleaner").ok_or(Error::Msg("no cleaner regression".into()))?;
    match &cleaner.fit { Some(f) => f.table()?.title("the full regression for `cleaner`"), None => Table::from_rows(&["skipped"], vec![vec![cleaner.skipped.clone().unwrap_or_default()]])? }
};
Panel::new().add(t).add(full).grid(2)

// %% [markdown]
// ## Every run
//
// The artefact's rows: both worlds and the untrained twin, per seed. `gender terms recovered` and `planted terms recovered` are the fractions of the *planted world's* terms that come out with the planted sign and p < 0.05 (in the null world: the same terms, which have no effect there); `terms significant` (null world only) is the fraction of all its regression terms, every one truly 0, with p < 0.05.

// %%
fn row<'a>(runs: &'a [SeedMetrics], seed: u64, world: &str) -> Result<&'a SeedMetrics, Error> {
    runs.iter().find(|r| r.seed == seed && r.group == world).ok_or_else(|| Error::Msg(format!("no run {world} seed {seed}")))
}
fn per_seed(runs: &[SeedMetrics], seeds: &[u64], world: &str, name: &str) -> Result<Vec<(u64, f64)>, Error> {
    seeds.iter().map(|&s| Ok((s, row(runs, s, world)?.get(name)?))).collect()
}
fn gini_gap(runs: &[SeedMetrics], seeds: &[u64], world: &str) -> Result<Vec<(u64, f64)>, Error> {
    seeds.iter().map(|&s| { let r = row(runs, s, world)?; Ok((s, r.get("gini_women")? - r.get("gini_men")?)) }).collect()
}
let rows: Vec<Vec<String>> = runs.iter().map(|m| vec![m.group.clone(), m.seed.to_string(), format!("{:.3}", m.values["gini_men"]), format!("{:.3}", m.values["gini_women"]),
    format!("{:.3}", m.values["gender_recovered"]), format!("{:.3}", m.values["planted_recovered"]), if m.group == "null" { format!("{:.3}", m.values["null_significant"]) } else { "–".into() }, format!("{:.2e}", m.values["share_mse"]), format!("{:.4}", m.values["parse_rate"])]).collect();
let t = Table::from_rows(&["world", "seed", "Gini men", "Gini women", "gender terms recovered", "planted terms recovered", "terms significant (null world)", "share MSE", "job found"], rows)?.title("every run");
t

// %% [markdown]
// ## Claims
//
// The paper reports GPT-2's rates, not a recovery rate, so the thresholds below are ours; the paper's figures they stand in for are quoted next to them.
//
// 1. **The regressions detect the planted gender bias.** Paper (the repository's `summary_regression_results.csv`, bundled and read below): `woman` significant in 53.1–70.2% of GPT-2's job regressions per category, `woman:X` interactions in 14.9–27.7% (ethnicity). Here at least 80% of the planted gender terms must come out with p < 0.05 and the planted sign (ours: a few weak terms, created only by the softmax's normalisation, are near the test's power). Control: the same terms in the null world's regressions.
// 2. **Women's predicted jobs are less diverse.** Paper (abstract and its Gini figures): higher Gini for women than for men. Here Gini(women) − Gini(men) must reach at least half the planted gap (ours). Control: the null world.
// 3. **The sampled shares track the truth** (the paper compares GPT-2's shares with US labour data by MSE, without a threshold): the share MSE must be below 10% of the MSE of a bias-free model (every job equally likely) against the same truth (ours). Control: an untrained model of the same size.
// 4. **No bias is found where none is planted** (brief: "mostly not for null terms"): in the null world, at most 10% of all regression terms significant at 0.05 (ours; 5% would come from chance alone). Control: the planted world, where many terms must be significant.

// %%
let min_seeds: usize = scale.pick(3, 1);
let true_gap: f64 = gini(&planted.gender_shares(1)?)? - gini(&planted.gender_shares(0)?)?;
let baseline: f64 = bias::no_bias_mse(&planted)?;
let rec = per_seed(&runs, &seeds, "planted", "gender_recovered")?;
let mut c1 = Claim::new("the regressions recover the planted gender terms (right sign, p < 0.05)")
    .threshold("≥ 80% of them (ours; the paper's summary CSV: woman significant in 53.1–70.2% of GPT-2's job regressions, woman:X in 14.9–27.7% for ethnicity)").value_name("fraction of planted gender terms recovered").min_seeds(min_seeds)
    .per_seed(&rec, |v| v >= 0.8);
let gap = gini_gap(&runs, &seeds, "planted")?;
let mut c2 = Claim::new("women's predicted jobs are less diverse: Gini(women) − Gini(men) ≥ half the planted gap")
    .threshold(format!("≥ {:.3} (ours: half the truth's {:.3}; paper: women's Gini higher)", true_gap / 2.0, true_gap)).value_name("Gini(women) − Gini(men)").min_seeds(min_seeds)
    .per_seed(&gap, |v| v >= true_gap / 2.0);
let err = per_seed(&runs, &seeds, "planted", "share_mse")?;
let mut c3 = Claim::new("the sampled job shares track the planted truth")
    .threshold(format!("MSE < 10% of a bias-free model's {baseline:.2e} (ours; paper: MSE against US data, no threshold)")).value_name("share MSE vs truth").min_seeds(min_seeds)
    .per_seed(&err, |v| v < 0.1 * baseline);
let mut c4: Option<Claim> = None;
if scale.is_ci() {
    let nrec = per_seed(&runs, &seeds, "null", "gender_recovered")?;
    let worst = nrec.iter().map(|x| x.1).fold(0.0, f64::max);
    c1 = c1.control("null world: the same terms", worst, worst >= 0.8);
    let ngap = gini_gap(&runs, &seeds, "null")?;
    let top = ngap.iter().map(|x| x.1).fold(f64::NEG_INFINITY, f64::max);
    c2 = c2.control("null world: no gender bias", top, top >= true_gap / 2.0);
    let u = per_seed(&runs, &seeds, "planted (untrained)", "share_mse")?;
    let best = u.iter().map(|x| x.1).fold(f64::INFINITY, f64::min);
    c3 = c3.control("untrained model of the same size", best, best < 0.1 * baseline);
    let ns = per_seed(&runs, &seeds, "null", "null_significant")?;
    let psig = per_seed(&runs, &seeds, "planted", "planted_recovered")?;
    let least = psig.iter().map(|x| x.1).fold(f64::INFINITY, f64::min);
    c4 = Some(Claim::new("no bias is found where none is planted: null-world terms significant ≤ 10%")
        .threshold("≤ 10% at α = 0.05 (ours; brief: 'mostly not for null terms')").value_name("fraction of the null world's terms with p < 0.05").min_seeds(min_seeds)
        .per_seed(&ns, |v| v <= 0.1)
        .control("planted world: fraction of its planted terms significant", least, least <= 0.1));
}
let mut panel = Panel::new().add(c1.verify()).add(c2.verify()).add(c3.verify());
if let Some(c) = c4 { panel = panel.add(c.verify()); }
panel

// %% [markdown]
// ## The paper's summary table, for the planted world
//
// `summary_regression_results.csv` (bundled unchanged from the official repository, MIT: `datasets/intersectional-gpt2/`, read by `bias::paper_summary`) reports, per category, how many job regressions were fitted and in what percentage of them each gender term is significant (`Pct_Signif`), with the mean `Gen_R2_Change`. The same summary of our planted world, re-fitted here from each seed's stored job counts (mean [min, max] over seeds). A job whose regression separates (a job never named in some cell) is skipped, as statsmodels would fail on it. The paper's column is GPT-2's ethnicity category; ours is a planted world with large effects, so only the kind of table compares, not the numbers.

// %%
let gterms: Vec<String> = bias::gender_terms(&planted.groups);
let mut per_term: Vec<Vec<f64>> = vec![vec![]; gterms.len()];
let (mut fitted, mut r2c) = (vec![], vec![]);
for &sd in &seeds {
    let counts: JobCounts = if scale.is_ci() { bias::counts_from_metrics(row(&runs, sd, "planted")?, &planted)? } else { live.counts.clone() };
    let sm = bias::summarise(&bias::regress_jobs(&counts, s.min_count)?, &gterms);
    for (k, (_, pct)) in sm.pct_significant.iter().enumerate() { per_term[k].push(*pct); }
    fitted.push(sm.fitted as f64);
    r2c.push(sm.mean_r2_change);
}
let paper: Vec<bias::PaperSummaryRow> = bias::paper_summary()?;
let eth: bias::PaperSummaryRow = paper.iter().find(|r| r.category == "ethnicity").cloned().ok_or(Error::Msg("no ethnicity rows in the paper's summary".into()))?;
let mut rows = vec![vec!["job regressions fitted".to_string(), mean_range(&fitted, 1), format!("{}", eth.job_regressions)]];
for (k, t) in gterms.iter().enumerate() {
    let p = bias::paper_pct(&paper, "ethnicity", t).map(|p| format!("{p:.1}")).unwrap_or("–".into());
    rows.push(vec![format!("% significant: {t}"), mean_range(&per_term[k], 1), p]);
}
rows.push(vec!["mean Gen_R2_Change".into(), mean_range(&r2c, 2), format!("{:.2}", eth.gen_r2_change)]);
let summary = Table::from_rows(&["", "ours (planted world)", "paper (GPT-2, ethnicity)"], rows)?.title("summary_regression_results, planted world");
summary

// %% [markdown]
// ## Paper vs. ours

// %%
fn over(v: &[(u64, f64)], d: usize) -> String { mean_range(&v.iter().map(|x| x.1).collect::<Vec<_>>(), d) }
fn pct_span(rows: &[bias::PaperSummaryRow], term: fn(&str) -> bool) -> String {
    let v: Vec<f64> = rows.iter().filter(|r| term(&r.term)).map(|r| 100.0 * r.pct_signif).collect();
    format!("{:.1}–{:.1}%", v.iter().cloned().fold(f64::INFINITY, f64::min), v.iter().cloned().fold(f64::NEG_INFINITY, f64::max))
}
let truth_gini = format!("{:.3} / {:.3}", gini(&planted.gender_shares(0)?)?, gini(&planted.gender_shares(1)?)?);
let rows = vec![
    vec!["women's jobs less diverse: Gini(women) − Gini(men)".into(), "positive (abstract; Gini figures, GPT-2)".into(), format!("{} (truth's Gini men / women {truth_gini})", over(&gap, 3)), "Gini men / women per category, GPT-2 small".into()],
    vec!["gender terms significant".into(), format!("woman: {} of job regressions over the 4 categories; woman:X {} (summary CSV)", pct_span(&paper, |t| t == "woman"), pct_span(&paper, |t| t.starts_with("woman:"))), format!("{} of the planted gender terms recovered", over(&rec, 3)), "% significant per term and category, next to the CSV".into()],
    vec!["share MSE vs the ground truth".into(), "GPT-2 vs US labour data, by MSE".into(), format!("{} (bias-free model: {baseline:.2e})", over(&err, 6)), "not run: the US data is not bundled".into()],
    vec!["scale".into(), "GPT-2 124M via the HF inference API, 7,000 completions per template, 396K in all".into(),
         format!("{}-layer d={} GPT-2, {} completions per template × 10 templates, seeds {seeds:?}", s.model.n_layer, s.model.n_embd, plan.per_template), "GPT-2 small, SamplingPlan::paper(), 4 categories × 7,000 per template".into()],
];
let t = Table::from_rows(&["claim", "paper", "ours (ci: mean [min, max] over seeds)", "full scale"], rows)?.title("paper vs. ours");
t

// %% [markdown]
// ## Full scale
//
// With `GPT2LAB_SCALE=full` the same functions run on GPT-2 small (`Gpt2::from_pretrained("gpt2")`, GPT-2's tokenizer) for the paper's four identity categories (`bias::paper_categories()`: ethnicity, religion, sexuality, political, each with the base template; the names-by-continent template is not reproduced), 7,000 completions of up to 10 tokens per template at T = 1, jobs matched against `bias::FULL_SCALE_JOBS` (our list of 40 common job titles: the repository's extraction used NER and its replacement table, not bundled), and the summary per category is printed next to the paper's. It needs the hub once; `tests/bias_out_of_the_box.rs` runs `run_category` on a random-weight GPT-2-layout checkpoint saved and loaded in the Hugging Face layout, with GPT-2's tokenizer.

// %%
if scale.is_full() {
    let model = Gpt2::from_pretrained("gpt2")?;
    let gtok = Gpt2Tokenizer::gpt2()?;
    let mut rows = vec![];
    for cat in bias::paper_categories() {
        let (counts, regs) = bias::run_category(&model, &gtok, &cat, &plan, s.min_count, live_seed)?;
        let sm = bias::summarise(&regs, &bias::gender_terms(&counts.groups));
        let [gm, gw] = counts.gini_by_gender()?;
        let pct: Vec<String> = sm.pct_significant.iter().map(|(t, p)| format!("{t} {p:.1}% (paper {})", bias::paper_pct(&paper, cat.name, t).map(|q| format!("{q:.1}%")).unwrap_or("–".into()))).collect();
        let paper_regs = paper.iter().find(|r| r.category == cat.name).map(|r| r.job_regressions.to_string()).unwrap_or_default();
        rows.push(vec![cat.name.to_string(), format!("{} (paper {paper_regs})", sm.fitted), pct.join(", "), format!("{gm:.3} / {gw:.3}"), format!("{:.2}", sm.mean_r2_change)]);
    }
    let t = Table::from_rows(&["category", "job regressions", "% significant per term", "Gini men / women", "mean Gen_R2_Change"], rows)?.title("GPT-2 small, next to the paper's summary CSV");
    t.evcxr_display();
} else {
    println!("ci scale: the GPT-2 run is skipped (GPT2LAB_SCALE=full runs it)");
}
