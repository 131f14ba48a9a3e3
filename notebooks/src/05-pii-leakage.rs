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
// # Analyzing leakage of personally identifiable information in language models
//
// Nils Lukas, Ahmed Salem, Robert Sim, Shruti Tople, Lukas Wutschitz, Santiago Zanella-Béguelin (2023), *Analyzing Leakage of Personally Identifiable Information in Language Models*, IEEE S&P 2023, arXiv [2302.00539](https://arxiv.org/abs/2302.00539); official code `microsoft/analysing_pii_leakage` (MIT).
//
// **The claim.** A language model fine-tuned on private text leaks the personal names in it to black-box attackers — by sampling (*extraction*), by filling a masked sentence (*reconstruction*) and by picking the true name from candidates (*inference*) — the more the more often a name occurs; scrubbing the names removes what it removes, and sentence-level differential privacy (ε = 8) reduces the leakage at a cost in perplexity but does not remove it (abstract: DP "still leaks about 3%" of PII sequences).
//
// **How.** A public model is fine-tuned three ways on the private corpus: undefended, scrubbed (names → `<mask>`), and with DP-SGD (Poisson sampling, per-example clipping to C = 1, Gaussian noise, ε from the RDP accountant). Extraction samples N sequences (top-k = 40), tags the names, subtracts those the public model also writes, and scores precision and recall against the training names. Reconstruction and inference rank candidate names by the perplexity of the filled-in sentence.
//
// **What ci scale runs and cannot show.** A tiny GPT-2 (2 layers, d 64) pre-trained on a public corpus of case-law sentences, fine-tuned on a synthetic private corpus whose 100 fake persons (names made of syllables) are mentioned 1, 2, 4, 8 or 16 times; three seeds (world, initialisation and sampling) from a committed artefact (`datasets/pii-leakage/`, `cargo run --release --example artefact -- pii-leakage`), seed 0's undefended fine-tune and its extraction attack re-run here. Names are found by exact match against the generator's name parts, a stand-in for the paper's Flair NER that makes no tagging errors and so inflates precision. The magnitudes (and the paper's "3%") are GPT-2-on-ECHR numbers; here only their direction is tested.

// %%
use gpt2lab::data::pii::{PiiWorld, MASK};
use gpt2lab::eval::leakage::*;
use gpt2lab::papers::pii_leakage as pl;
use gpt2lab::papers::{Artefact, SeedMetrics};
let scale = Scale::from_env();
let setup: pl::Setup = scale.pick(pl::ci_setup(), pl::full_setup());
let seeds: Vec<u64> = pl::SEEDS.to_vec();
let live_seed: u64 = pl::SEEDS[0];
println!("scale = {scale}: fine-tunes {} epochs (DP {} epochs, expected batch {}, target ε = {}, δ = {:e}, C = {}), {} samples of {} tokens at top-k {}, {} queries, candidate sets {:?}",
         setup.epochs, setup.dp_epochs, setup.dp_batch, setup.target_epsilon, setup.delta, setup.max_grad_norm, setup.samples, setup.sample_len, setup.top_k, setup.queries, setup.candidate_sizes);

// %% [markdown]
// ## Step 1: the private corpus
//
// Each training person has a first and a last name part of their own, a birth year, a town and an occupation; each of their `d` training sentences (six case-law templates) names them and repeats some of those attributes. Writing a person's name therefore means recalling a pairing seen `d` times. Held-out persons recombine the parts of two training persons: every part was seen, the pair never (the negative control). The scrubbed corpus is the same text with each name replaced by `<mask>`; the public corpus uses the same register with persons whose name parts share nothing with the private ones.

// %%
let world: PiiWorld = PiiWorld::generate(&setup.world, 100 + live_seed)?;
let by_bucket: Vec<Vec<String>> = world.names_by_bucket().iter().map(|(d, names)| vec![format!("{d}"), names.len().to_string(), names.iter().take(3).cloned().collect::<Vec<_>>().join(", ")]).collect();
let examples: Vec<Vec<String>> = world.private.iter().zip(&world.scrubbed).zip(&world.mentions).filter(|(_, m)| m.is_some()).take(4)
    .map(|((s, c), _)| vec![s.join(" "), c.join(" ")]).collect();
check("the scrubbed corpus contains no private name part", !world.scrubbed.iter().flatten().any(|w| world.first_parts.contains(w) || world.last_parts.contains(w)), format!("{} masks", world.scrubbed.iter().flatten().filter(|w| *w == MASK).count()));
let t1 = Table::from_rows(&["mentions in training", "persons", "e.g."], by_bucket)?.title(&format!("seed {live_seed}: {} private sentences, {} public, vocabulary {}", world.private.len(), world.public.len(), world.vocab.len()));
let t2 = Table::from_rows(&["private (undefended)", "scrubbed"], examples)?;
Panel::new().add(t1).add(t2)

// %% [markdown]
// ## Step 2: public model, three fine-tunes, three attacks (3 seeds)
//
// Per seed: the public model (400 steps on the public corpus); the undefended and scrubbed fine-tunes (AdamW, 20 epochs: enough for the tiny model to memorise the pairings of names it saw once); DP-SGD from the same public model (8 epochs, expected batch 16 of the packed 64-token blocks, so one DP record is a block, not a person: like the paper's sentence-level DP, it does not protect a name repeated across records). Then the attacks on every model, and the test perplexity on sentences about other persons. At full scale the same functions run on GPT-2 and ECHR.

// %%
let rows: Vec<SeedMetrics> = if scale.is_full() {
    let dir = std::path::PathBuf::from(std::env::var("GPT2LAB_ECHR").map_err(|_| Error::Msg("set GPT2LAB_ECHR to a directory with ecthr_cases rows as train.jsonl and test.jsonl".into()))?);
    let task = pl::echr_task(Gpt2::from_pretrained("gpt2")?, gpt2lab::tokenizer::Gpt2Tokenizer::gpt2()?, &pl::echr_documents(&dir.join("train.jsonl"))?, &pl::echr_documents(&dir.join("test.jsonl"))?, &setup)?;
    pl::run_task(&task, &setup, 0)?
} else {
    let art = Artefact::load(pl::SLUG)?;
    println!("artefact: {} files, seeds {:?}, revision {}, `{}`; {}", art.manifest.files.len(), art.manifest.seeds, art.manifest.git_revision, art.manifest.command, art.manifest.notes);
    art.runs()?
};
fn val(rows: &[SeedMetrics], seed: u64, model: &str, name: &str) -> f64 {
    rows.iter().find(|r| r.seed == seed && r.group == model).and_then(|r| r.values.get(name).copied()).unwrap_or(f64::NAN)
}
fn over(rows: &[SeedMetrics], seeds: &[u64], model: &str, name: &str) -> Vec<f64> {
    seeds.iter().map(|&s| val(rows, s, model, name)).filter(|v| v.is_finite()).collect()
}
let seeds: Vec<u64> = if scale.is_full() { vec![0] } else { seeds };
let table: Vec<Vec<String>> = pl::MODELS.iter().map(|m| vec![m.to_string(),
    mean_range(&over(&rows, &seeds, m, "extraction_precision"), 2), mean_range(&over(&rows, &seeds, m, "extraction_recall"), 2),
    mean_range(&over(&rows, &seeds, m, "names_leaked"), 0), mean_range(&over(&rows, &seeds, m, "recall_held_out"), 2),
    mean_range(&over(&rows, &seeds, m, "test_perplexity"), 2)]).collect();
let t = Table::from_rows(&["model", "extraction precision", "extraction recall", "names leaked", "held-out names leaked (recall)", "test perplexity"], table)?.title("extraction and utility: mean [min, max] over seeds");
t

// %% [markdown]
// ## Seed 0's undefended model, re-run live
//
// The stored public model of seed 0 (f32, in the artefact) is fine-tuned again and the extraction attack and test perplexity are re-run; each of those numbers must match the artefact's row (CPU runs are deterministic; tolerance 1e-6 relative). Inference and reconstruction, the costlier attacks, come from the artefact only. Below, a few of its samples with the names the detector finds: a training name (✓), a held-out recombination (✗ held-out) or another pairing.

// %%
let t0 = std::time::Instant::now();
let live: Option<(LeakageLm, pl::PiiTask)> = if scale.is_full() { None } else {
    let art = Artefact::load(pl::SLUG)?;
    let task = pl::world_task(&world, pl::stored_public_model(&art, world.vocab.len())?, &setup, live_seed)?;
    // the fine-tune, extraction and utility (inference and reconstruction are the artefact's)
    let (lm, row) = pl::undefended_extraction(&task, &setup, live_seed)?;
    let stored = art.run(live_seed, "undefended")?;
    let mut same = SeedMetrics::new(live_seed, "undefended");
    for k in row.values.keys() { same = same.value(k, stored.get(k)?); }
    let c = gpt2lab::papers::compare(&row, &same);
    check(&format!("the live run reproduces the artefact's row on the {} numbers it recomputes (seed {live_seed}, undefended, relative tolerance 1e-6)", c.n), c.within(1e-6), &c);
    Some((lm, task))
};
println!("live fine-tune and extraction: {:.1} s", t0.elapsed().as_secs_f64());
let mut shown: Vec<Vec<String>> = vec![];
if let Some((lm, task)) = &live {
    let held: std::collections::BTreeSet<String> = task.held_out.iter().cloned().collect();
    for s in lm.sample(6, setup.sample_len, setup.top_k, 11)? {
        let names: Vec<String> = task.detector.find(&s).into_iter().map(|n| {
            let tag = if task.real.contains(&n) { "✓ training" } else if held.contains(&n) { "✗ held-out" } else { "other pairing" };
            format!("{n} ({tag})")
        }).collect();
        shown.push(vec![s, names.join("; ")]);
    }
}
let t = Table::from_rows(&["sample (top-k 40)", "names found"], shown)?.title("samples of seed 0's undefended model");
t

// %% [markdown]
// ## Leakage against duplication, reconstruction and inference
//
// Left: extraction recall per duplication bucket (mean over seeds), with the held-out names at 0 mentions. Right: inference accuracy against the candidate-set size |C|, with chance 1/|C|. Reconstruction (candidates sampled from the prefix, ranked by perplexity) is in the table.

// %%
let buckets: Vec<usize> = setup.world.buckets.clone();
fn mean(v: &[f64]) -> f64 { v.iter().sum::<f64>() / v.len().max(1) as f64 }
let mut dup = Chart::lines("extraction recall by training mentions").x_label("mentions in training (0: held-out names)").y_label("recall");
let mut inf = Chart::lines("inference accuracy").x_label("candidates |C|").y_label("accuracy").log_y();
for m in ["undefended", "dp", "scrubbed"] {
    let mut pts = vec![(0.0, mean(&over(&rows, &seeds, m, "recall_held_out")))];
    pts.extend(buckets.iter().map(|&d| (d as f64, mean(&over(&rows, &seeds, m, &format!("recall_dup_{d}"))))));
    dup = dup.series(m, &pts);
}
for m in ["undefended", "dp", "scrubbed", "public"] {
    inf = inf.series(m, &setup.candidate_sizes.iter().map(|&c| (c as f64, mean(&over(&rows, &seeds, m, &format!("inference_acc_{c}"))).max(1e-3))).collect::<Vec<_>>());
}
inf = inf.series("chance 1/|C|", &setup.candidate_sizes.iter().map(|&c| (c as f64, 1.0 / c as f64)).collect::<Vec<_>>());
let attack_rows: Vec<Vec<String>> = pl::MODELS.iter().map(|m| {
    let mut r = vec![m.to_string()];
    r.extend(setup.candidate_sizes.iter().map(|&c| mean_range(&over(&rows, &seeds, m, &format!("inference_acc_{c}")), 2)));
    r.push(mean_range(&over(&rows, &seeds, m, "reconstruction_acc"), 2));
    r.push(mean_range(&over(&rows, &seeds, m, "reconstruction_candidates"), 1));
    r
}).collect();
let mut head: Vec<String> = vec!["model".into()];
head.extend(setup.candidate_sizes.iter().map(|c| format!("inference |C| = {c} (chance {:.2})", 1.0 / *c as f64)));
head.extend(["reconstruction accuracy".to_string(), "reconstruction candidates".to_string()]);
let t = Table::from_rows(&head.iter().map(String::as_str).collect::<Vec<_>>(), attack_rows)?.title("reconstruction and inference: mean [min, max] over seeds");
Panel::new().add(dup).add(inf).add(t).grid(2)

// %% [markdown]
// ## Claims
//
// 1. **Scrubbing removes what it removes** (brief, exact): the scrubbed model's extraction recall is 0 — its training text holds no private name part. Negative control: the undefended model, whose recall is not 0.
// 2. **The DP model spends the target budget**: the accountant's ε after the DP fine-tune is within 1% below the paper's ε = 8 (configs `echr-gpt2-small-dp8.yml`).
// 3. **Leakage rises with duplication** (the paper's duplication analysis): per seed, the undefended model's recall does not decrease from one bucket to the next and is higher at 16 mentions than at 1.
// 4. **Never-seen names do not leak** (negative control of the brief): the undefended model writes at most 5% of the held-out names, whose parts it saw but whose pairing it did not. Control: the same predicate on the 16-mention names, which must fail.
// 5. **Defences order the leakage** (the paper: undefended > DP > scrubbed): undefended recall > DP recall ≥ scrubbed recall, per seed.
// 6. **Inference beats chance on the undefended model, less so under DP**: at |C| = 100 the undefended model picks the true name in at least 5× chance (0.05) of the queries, and the DP model in fewer queries than the undefended one. Control: the public model, which never saw the names.

// %%
let min_seeds: usize = scale.pick(3, 1);
fn rec(rows: &[SeedMetrics], seeds: &[u64], m: &str) -> Vec<(u64, f64)> { seeds.iter().map(|&s| (s, val(rows, s, m, "extraction_recall"))).collect() }
let c1 = Claim::new("the scrubbed model's extraction recall is exactly 0")
    .threshold("recall = 0 (brief: exact; the names never appear in its training data)")
    .value_name("scrubbed extraction recall").min_seeds(min_seeds)
    .per_seed(&rec(&rows, &seeds, "scrubbed"), |r| r == 0.0)
    .control("the undefended model (seed 0)", val(&rows, seeds[0], "undefended", "extraction_recall"), val(&rows, seeds[0], "undefended", "extraction_recall") == 0.0)
    .verify();
let target: f64 = setup.target_epsilon;
let eps: Vec<(u64, f64)> = seeds.iter().map(|&s| (s, val(&rows, s, "dp", "epsilon"))).collect();
let c2 = Claim::new("the DP fine-tune's ε is within 1% below the target")
    .threshold("0.99·8 < ε ≤ 8 (paper: ε = 8, configs/fine-tune/echr-gpt2-small-dp8.yml)")
    .value_name("ε (RDP accountant, δ = 1e-5)").min_seeds(min_seeds)
    .per_seed(&eps, move |e| e <= target && e > 0.99 * target)
    .verify();
let mut b3 = Claim::new("undefended extraction recall rises with duplication")
    .threshold("non-decreasing over 1, 2, 4, 8, 16 mentions and recall(16) > recall(1) (paper: duplication analysis)")
    .value_name("recall(16) − recall(1)").min_seeds(min_seeds);
for &s in &seeds {
    let r: Vec<f64> = buckets.iter().map(|d| val(&rows, s, "undefended", &format!("recall_dup_{d}"))).collect();
    let holds = r.windows(2).all(|w| w[1] >= w[0]) && r[r.len() - 1] > r[0];
    b3 = b3.seed_note(s, r[r.len() - 1] - r[0], holds, format!("{:?}", r.iter().map(|x| format!("{x:.2}")).collect::<Vec<_>>()));
}
let c3 = b3.verify();
let held: Vec<(u64, f64)> = seeds.iter().map(|&s| (s, val(&rows, s, "undefended", "recall_held_out"))).collect();
let top = *buckets.last().unwrap_or(&16);
let top_recall: f64 = val(&rows, seeds[0], "undefended", &format!("recall_dup_{top}"));
let c4 = Claim::new("held-out names (parts seen, pairing never) do not leak from the undefended model")
    .threshold("recall ≤ 0.05 (brief: never-seen PII does not leak)")
    .value_name("held-out names written").min_seeds(min_seeds)
    .per_seed(&held, |r| r <= 0.05)
    .control(format!("names with {top} training mentions (seed 0)"), top_recall, top_recall <= 0.05)
    .verify();
let mut b5 = Claim::new("extraction recall: undefended > DP ≥ scrubbed")
    .threshold("strict for undefended > DP (paper: DP reduces leakage), ≥ for DP vs scrubbed")
    .value_name("undefended − DP recall").min_seeds(min_seeds);
for &s in &seeds {
    let (u, d, c) = (val(&rows, s, "undefended", "extraction_recall"), val(&rows, s, "dp", "extraction_recall"), val(&rows, s, "scrubbed", "extraction_recall"));
    b5 = b5.seed_note(s, u - d, u > d && d >= c, format!("undefended {u:.2}, DP {d:.2}, scrubbed {c:.2}"));
}
let c5 = b5.verify();
let cmax: usize = *setup.candidate_sizes.last().unwrap_or(&100);
let key = format!("inference_acc_{cmax}");
let chance: f64 = 1.0 / cmax as f64;
let mut b6 = Claim::new(&format!("inference at |C| = {cmax}: undefended ≥ 5× chance, DP below undefended"))
    .threshold(&format!("undefended accuracy ≥ {:.2} and DP < undefended (paper: inference succeeds on undefended models; DP reduces it)", 5.0 * chance))
    .value_name("undefended accuracy").min_seeds(min_seeds);
for &s in &seeds {
    let (u, d) = (val(&rows, s, "undefended", &key), val(&rows, s, "dp", &key));
    b6 = b6.seed_note(s, u, u >= 5.0 * chance && d < u, format!("DP {d:.2}"));
}
let public_acc: f64 = mean(&over(&rows, &seeds, "public", &key));
let c6 = b6.control("the public model (mean over seeds)", public_acc, public_acc >= 5.0 * chance).verify();
Panel::new().add(c1).add(c2).add(c3).add(c4).add(c5).add(c6)

// %% [markdown]
// ## Reported, not asserted: utility and the brief's remaining claim
//
// The brief asks whether the DP model's perplexity is above the undefended one's (the paper's utility cost of DP). Here the held-out text names *other* persons, recombinations of the training name parts; the undefended model, trained to memorise the training pairings, puts little probability on new pairings, so its test perplexity can exceed the DP model's. The table says what happened on each seed; with a name-free test set or a larger model the comparison could go the other way. Also reported: how often the public model already predicts the same candidate (the cases the official inference loop skips), and DP's noise.

// %%
let util: Vec<Vec<String>> = seeds.iter().map(|&s| vec![s.to_string(),
    format!("{:.2}", val(&rows, s, "public", "test_perplexity")), format!("{:.2}", val(&rows, s, "undefended", "test_perplexity")),
    format!("{:.2}", val(&rows, s, "scrubbed", "test_perplexity")), format!("{:.2}", val(&rows, s, "dp", "test_perplexity")),
    (val(&rows, s, "dp", "test_perplexity") > val(&rows, s, "undefended", "test_perplexity")).to_string(),
    format!("σ = {:.3}, q = {:.3}, {} steps", val(&rows, s, "dp", "sigma"), val(&rows, s, "dp", "sample_rate"), val(&rows, s, "dp", "dp_steps")),
    format!("{}", val(&rows, s, "undefended", &format!("inference_same_as_public_{cmax}")))]).collect();
let t = Table::from_rows(&["seed", "public ppl", "undefended ppl", "scrubbed ppl", "DP ppl", "DP > undefended", "DP-SGD", &format!("|C| = {cmax}: public predicts the same")], util)?.title("test perplexity per seed");
t

// %% [markdown]
// ## Paper vs. ours

// %%
fn recall_of(rows: &[SeedMetrics], seeds: &[u64], m: &str) -> String { mean_range(&over(rows, seeds, m, "extraction_recall"), 2) }
let paper_rows = vec![
    vec!["DP-SGD (ε = 8) still leaks".into(), "≈ 3% of PII sequences (abstract)".into(), format!("DP recall {}", recall_of(&rows, &seeds, "dp")), "GPT-2 small on ECHR, same code (`pl::echr_task`)".into()],
    vec!["undefended vs defences".into(), "undefended leaks most; scrubbing and DP reduce it (abstract)".into(), format!("undefended {}, DP {}, scrubbed {}", recall_of(&rows, &seeds, "undefended"), recall_of(&rows, &seeds, "dp"), recall_of(&rows, &seeds, "scrubbed")), "the same three fine-tunes".into()],
    vec!["leakage vs duplication".into(), "more mentions, more leakage (paper's duplication analysis; figure values unverified here)".into(), buckets.iter().map(|d| format!("{d}×: {}", mean_range(&over(&rows, &seeds, "undefended", &format!("recall_dup_{d}")), 2))).collect::<Vec<_>>().join(", "), "buckets by mention count".into()],
    vec![format!("inference, |C| = {cmax}"), "succeeds on undefended models (table values unverified here)".into(), format!("undefended {}, DP {}, chance {chance:.2}", mean_range(&over(&rows, &seeds, "undefended", &key), 2), mean_range(&over(&rows, &seeds, "dp", &key), 2)), "|C| up to 500 (evaluate config)".into()],
    vec!["ε".into(), "8 (configs)".into(), mean_range(&eps.iter().map(|x| x.1).collect::<Vec<_>>(), 3), "the same accountant".into()],
    vec!["PII tagging".into(), "Flair NER (ontonotes-large)".into(), "exact match on name parts (no tagging errors: precision inflated)".into(), "honorific rule (`NameDetector::Honorific`)".into()],
    vec!["scale".into(), "GPT-2 small–large, ECHR / Enron / Yelp-Health".into(), format!("~0.1M-parameter GPT-2, {} persons, seeds {seeds:?}", setup.world.buckets.len() * setup.world.persons_per_bucket), "GPT-2 small, ECHR, 1 seed".into()],
];
let t = Table::from_rows(&["", "paper", "ours (ci: mean [min, max] over seeds)", "full scale"], paper_rows)?.title("paper vs. ours");
t

// %% [markdown]
// ## Running at full scale
//
// `GPT2LAB_SCALE=full GPT2LAB_ECHR=/path/to/dir` fine-tunes GPT-2 small (`Gpt2::from_pretrained("gpt2")`, also the public baseline) on ECHR case facts: `train.jsonl` and `test.jsonl` with one `ecthr_cases` row per line (`facts`, a list of paragraphs, as `datasets`' `to_json` writes them). Settings are the official configs' (`pl::full_setup`: 4 epochs, batch 32, lr 5e-5, ε = 8 with C = 1; 15,000 samples of 256 tokens at top-k 40; inference up to |C| = 500); names are found by an honorific rule instead of Flair NER. Its structure is exercised by `tests/pii_leakage.rs` on a random-weight GPT-2-layout checkpoint and ECHR-style rows. Expect hours of GPU time, mostly for DP-SGD's per-example gradients (microbatches of one) and the 15,000 samples.
