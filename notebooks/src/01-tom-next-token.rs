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
// # Next-token prediction on Theory-of-Mind tasks
//
// Pavan Yadav, Nikhil Khandalkar, Krishna Shinde, Lokesh B. Ramegowda, Rajarshi Das (2025), *Exploring Next Token Prediction in Theory of Mind (ToM) Tasks: Comparative Experiments with GPT-2 and LLaMA-2 AI Models*, arXiv [2504.15604](https://arxiv.org/abs/2504.15604); official code `Enkefalos-Technologies/next-token-prediction` (read through its description in our brief, not copied; it has no licence, so none of its stories is bundled).
//
// **The claim.** On cloze questions about ExploreToM stories whose next token is a location ("Kaylee will look for the silver letter opener in the"), next-token accuracy falls as the story grows with infill sentences, falls with temperature, and is lower for first- and second-order belief questions than for zero-order state questions; GPT-2 in particular continues with the most recently mentioned location, i.e. it tracks recency rather than belief.
//
// **How.** Prompt = story + question; the official code reads softmax(logits / T) at the answer position for T ∈ {0.01, 0.5, 1, 1.5, 2} (the abstract lists four, without 1.5) and appends the argmax. Because the chosen token is the argmax, *it is the same at every temperature*: what changes with T is its probability. So we report both views: the greedy accuracy (the paper's chosen token) and the sampled accuracy, the probability that one draw from softmax(z/T) (optionally top-k) is the belief-consistent location.

// %%
use gpt2lab::data::tom::*;
use gpt2lab::papers::tom_next_token as tnt;
use gpt2lab::papers::tom_next_token::{Scored, Select};
use gpt2lab::papers::{Artefact, SeedMetrics};
use gpt2lab::tokenizer::Gpt2Tokenizer;
let scale = Scale::from_env();
let eval_stories: usize = scale.pick(tnt::EVAL_STORIES, 20);
let live_seed: u64 = tnt::SEEDS[0];
println!("scale = {scale}: {eval_stories} held-out stories × infills {:?} × 3 orders; temperatures {:?}; ci model {:?}",
         tnt::INFILL_LEVELS, tnt::TEMPERATURES, tnt::ci_lm_config());

// %% [markdown]
// **What ci scale runs.** Sally–Anne stories from a seeded world (three agents, one object, eight containers; the object is put somewhere, someone may leave, it is moved, the absent agent may come back), a word-level 2-layer GPT-2 (d_model 64, context 128) trained from scratch for 1,500 steps on stories followed by one question of each order with the tracker's answer (0 or 1 infill in training; 4, 16 and 64 are held out), and the untrained init as the control; three seeds from a committed artefact (`datasets/tom-next-token/`, `cargo run --release --example artefact -- tom-next-token`), seed 0's first 300 training steps and its untrained init re-run live. What ci cannot show: GPT-2's or Llama-2's behaviour on the paper's 10 GPT-4-infilled stories (not bundled: no licence). `full` runs GPT-2 small on the same generated prompts.
//
// ## Stories, questions and the belief tracker
//
// Every answer comes from `BeliefTracker`: an agent in the room sees a placement and who else saw it, so it updates its own belief (first order) and its belief about every other present agent's belief (second order); an absent agent's beliefs do not change. For each question the *belief-consistent* continuation is the tracker's answer and the *belief-inconsistent* one is reality when the answer is a false belief, otherwise the other end of the object's last move.

// %%
let mut world = TomWorld::new(TomConfig::ci(), 12)?;
let story: TomStory = world.story();
let mut qs = vec![Question::Start, Question::Now];
for a in 0..story.agents.len() { qs.push(Question::First { agent: a }); }
for t in 0..story.agents.len() { for a in 0..story.agents.len() { if a != t { qs.push(Question::Second { thinker: t, agent: a }); } } }
let mut rows = vec![];
for q in qs {
    let p = TomPrompt::new(&story, q)?;
    rows.push(vec![p.order.name().to_string(), story.question_text(q)?, tnt::kind_key(p.kind).to_string(), p.consistent.to_string(), p.inconsistent.to_string()]);
}
println!("{}", story.text()?);
println!("with 4 infills: {}", story.with_infills(4, 1).text()?);
let table = Table::from_rows(&["order", "question (next token: a container)", "kind", "belief-consistent", "belief-inconsistent"], rows)?.title("one story, every question the tracker answers");
table

// %% [markdown]
// ## Three seeds, one re-run live
//
// The trained models take about a minute each on 2 cores, so their rows come from the artefact (hash-checked). Live: seed 0 is re-trained for the first 300 of its 1,500 steps (same schedule, stopped early) and its loss curve must equal the artefact's; its untrained init is scored on the held-out prompts and must reproduce its row. At full scale: GPT-2 small from the hub (with no training) on the same prompts, the paper's model.

// %%
let t0 = std::time::Instant::now();
let (runs, live_scores): (Vec<SeedMetrics>, Vec<Scored>) = if scale.is_full() {
    let model = Gpt2::from_pretrained("gpt2")?;
    let scores = tnt::full_scale_scores(&model, &Gpt2Tokenizer::gpt2()?, live_seed, eval_stories)?;
    (vec![tnt::metrics(live_seed, "gpt2", &scores, None)?], scores)
} else {
    let artefact = Artefact::load(tnt::SLUG)?;
    println!("artefact: {} (seeds {:?}, revision {}, made by `{}`; {})", artefact.dir.display(), artefact.manifest.seeds,
             artefact.manifest.git_revision, artefact.manifest.command, artefact.manifest.notes);
    let (prefix_model, curve) = tnt::train(live_seed, Some(tnt::LIVE_STEPS))?;
    artefact.check_live(&tnt::prefix_metrics(live_seed, &curve), 1e-4)?;
    let (untrained_row, _) = tnt::run_untrained(live_seed)?;
    artefact.check_live(&untrained_row, 1e-6)?;
    let tok = tnt::tokenizer();
    let prompts = tnt::eval_prompts(live_seed, TomConfig::ci(), eval_stories, &tnt::INFILL_LEVELS)?;
    (artefact.runs()?, tnt::score(&prefix_model, &tok, Some(tok.eos_id()), &prompts, 64)?)
};
let main_group: String = if scale.is_full() { "gpt2".into() } else { "trained".into() };
let seeds: Vec<u64> = { let mut s: Vec<u64> = runs.iter().map(|r| r.seed).collect(); s.sort(); s.dedup(); s };
println!("{} rows over seeds {seeds:?}; live part {:.1} s", runs.len(), t0.elapsed().as_secs_f64());
fn val(runs: &[SeedMetrics], seed: u64, group: &str, key: &str) -> f64 {
    runs.iter().find(|r| r.seed == seed && r.group == group).and_then(|r| r.values.get(key).copied()).unwrap_or(f64::NAN)
}
fn over(runs: &[SeedMetrics], seeds: &[u64], group: &str, key: &str) -> Vec<f64> {
    seeds.iter().map(|&s| val(runs, s, group, key)).collect()
}
let mut rows = vec![];
for g in [main_group.as_str(), "untrained"] {
    if !runs.iter().any(|r| r.group == g) { continue; }
    let mut row = vec![g.to_string(), mean_range(&over(&runs, &seeds, g, "final_loss"), 3)];
    for k in tnt::INFILL_LEVELS {
        row.push(format!("{} (skipped {})", mean_range(&over(&runs, &seeds, g, &format!("greedy_acc/all/k{k}")), 2), mean_range(&over(&runs, &seeds, g, &format!("skipped/k{k}")), 0)));
    }
    rows.push(row);
}
let mut head = vec!["model".to_string(), "final training loss".to_string()];
head.extend(tnt::INFILL_LEVELS.iter().map(|k| format!("greedy acc., {k} infills")));
let table = Table::from_rows(&head, rows)?.title("greedy (argmax) accuracy over all orders, mean [min, max] over seeds; prompts longer than the context skipped and counted, as the paper skips GPT-2 prompts over 1,024 tokens");
table

// %% [markdown]
// ## Next-token distributions as temperature and top-k change
//
// The paper's figures show, per story, the probability of the chosen token and four alternatives at each temperature. Here: the probability of the belief-consistent location (= sampled accuracy) and the top-1 probability, per order, against T (no infills; mean over seeds). The exact identities behind the paper's code are checked on every live prompt: the argmax is the same at every T, and the top-1 probability never rises with T.

// %%
let (inv, mono, n) = tnt::temperature_identities(&live_scores)?;
check("argmax(z/T) = argmax(z) at every temperature: the paper's chosen token does not depend on T", inv == n, format!("{inv} of {n} live prompts"));
check("the top-1 probability never rises with T", mono == n, format!("{mono} of {n} live prompts"));
fn mean_curve(runs: &[SeedMetrics], seeds: &[u64], group: &str, key: &dyn Fn(f64) -> String) -> Vec<(f64, f64)> {
    tnt::TEMPERATURES.iter().map(|&t| { let v = over(runs, seeds, group, &key(t)); (t, v.iter().sum::<f64>() / v.len() as f64) }).collect()
}
let mut acc = Chart::lines("P(belief-consistent location) = sampled accuracy").x_label("temperature").y_label("probability");
let mut conf = Chart::lines("top-1 probability (the chosen token's)").x_label("temperature").y_label("probability");
for o in Order::ALL {
    acc = acc.series(o.name(), &mean_curve(&runs, &seeds, &main_group, &|t| format!("sampled_acc/{}/T{t}", o.name())));
}
conf = conf.series(&main_group, &mean_curve(&runs, &seeds, &main_group, &|t| format!("p_top1/T{t}")));
if runs.iter().any(|r| r.group == "untrained") {
    acc = acc.series("untrained (all orders)", &mean_curve(&runs, &seeds, "untrained", &|t| format!("sampled_acc/all/T{t}")));
    conf = conf.series("untrained", &mean_curve(&runs, &seeds, "untrained", &|t| format!("p_top1/T{t}")));
}
let mut fb = Chart::lines("false-belief prompts, first order").x_label("temperature").y_label("probability");
fb = fb.series("P(consistent: the belief)", &mean_curve(&runs, &seeds, &main_group, &|t| format!("p_cons/first-order/fb/T{t}")))
       .series("P(inconsistent: reality, the recent location)", &mean_curve(&runs, &seeds, &main_group, &|t| format!("p_incons/first-order/fb/T{t}")));
let mut rows = vec![];
for o in [Order::First, Order::Second] {
    let mut row = vec![o.name().to_string(), "none".to_string(),
        mean_range(&over(&runs, &seeds, &main_group, &format!("p_cons/{}/fb/T1", o.name())), 3), mean_range(&over(&runs, &seeds, &main_group, &format!("p_incons/{}/fb/T1", o.name())), 3)];
    rows.push(row.clone());
    for k in tnt::TOP_KS {
        row[1] = k.to_string();
        row[2] = mean_range(&over(&runs, &seeds, &main_group, &format!("p_cons/{}/fb/T1/top{k}", o.name())), 3);
        row[3] = mean_range(&over(&runs, &seeds, &main_group, &format!("p_incons/{}/fb/T1/top{k}", o.name())), 3);
        rows.push(row.clone());
    }
}
let topk = Table::from_rows(&["order", "top-k", "P(consistent)", "P(inconsistent)"], rows)?.title("false-belief prompts at T = 1 under top-k (no infills), mean [min, max] over seeds");
Panel::new().add(acc).add(conf).add(fb).add(topk).grid(2)

// %% [markdown]
// ## Belief-consistent vs belief-inconsistent continuations
//
// P(consistent) and P(inconsistent) at T = 1 for every order and kind (no infills). On false-belief prompts the inconsistent location is where the object really is — the most recently mentioned container.

// %%
let mut rows = vec![];
for (o, kd) in [(Order::Zero, BeliefKind::State), (Order::First, BeliefKind::TrueBelief), (Order::First, BeliefKind::FalseBelief), (Order::Second, BeliefKind::TrueBelief), (Order::Second, BeliefKind::FalseBelief)] {
    let key = |w: &str| format!("{w}/{}/{}/T1", o.name(), tnt::kind_key(kd));
    let mut row = vec![o.name().to_string(), tnt::kind_key(kd).to_string()];
    for g in [main_group.as_str(), "untrained"] {
        row.push(mean_range(&over(&runs, &seeds, g, &key("p_cons")), 3));
        row.push(mean_range(&over(&runs, &seeds, g, &key("p_incons")), 3));
    }
    rows.push(row);
}
let table = Table::from_rows(&["order", "kind", "model: P(consistent)", "model: P(inconsistent)", "untrained: P(consistent)", "untrained: P(inconsistent)"], rows)?.title("T = 1, no infills, mean [min, max] over seeds");
table

// %% [markdown]
// ## Claims
//
// The paper gives no numbers we could confirm (our brief: "No paper table numbers are confirmed"), so the thresholds are ours, fixed before the artefact was run, each next to the paper's statement. Four were planned, per seed, no infills unless said:
//
// 1. **Recency, not belief** (the paper's GPT-2: its chosen token is the most recently mentioned location): on first-order false-belief prompts at T = 1, P(inconsistent) − P(consistent) > 0.1. Control: the untrained init.
// 2. **Higher orders are harder** (abstract: "as reasoning complexity rises, model responses diverge more"): greedy accuracy, zero-order minus second-order, > 0.1. Control: the untrained init.
// 3. **Accuracy falls with temperature** (abstract: better "especially at lower temperatures"): sampled accuracy at T = 0.5 minus at T = 2, all orders, > 0.05. Control: the untrained init (flat).
// 4. **More infills reduce accuracy** (abstract: "slightly reduces prediction accuracy"): greedy accuracy with 0 infills minus with 16 (held out in training), all orders, > 0.
//
// Claims 1 and 2 need a model that has learnt to copy a location from the story, and a 1,500-step run does not get there for every seed (copying arrives suddenly, at a seed-dependent step: at 400 and 500 steps seed 0 had not learnt it either). So 3 and 4 are asserted on every seed, and 1 and 2 are reported per seed with their planned thresholds, beside whether that seed's model copies (zero-order greedy accuracy > 0.5): not asserted, because they did not hold on every seed of the artefact.

// %%
let out: Panel = if scale.is_ci() {
    fn diff(runs: &[SeedMetrics], seeds: &[u64], group: &str, a: &str, b: &str) -> Vec<(u64, f64)> {
        seeds.iter().map(|&s| (s, val(runs, s, group, a) - val(runs, s, group, b))).collect()
    }
    fn control(runs: &[SeedMetrics], seeds: &[u64], a: &str, b: &str) -> f64 {
        let v: Vec<f64> = seeds.iter().map(|&s| val(runs, s, "untrained", a) - val(runs, s, "untrained", b)).collect();
        v.iter().sum::<f64>() / v.len() as f64
    }
    let (lo, hi) = ("sampled_acc/all/T0.5", "sampled_acc/all/T2");
    let c3 = Claim::new("claim 3: sampled accuracy falls with temperature")
        .threshold("P(consistent) at T = 0.5 minus at T = 2 > 0.05 (ours; abstract: better especially at lower temperatures)")
        .value_name("acc(T=0.5) − acc(T=2)")
        .per_seed(&diff(&runs, &seeds, "trained", lo, hi), |d| d > 0.05)
        .control("untrained init (mean over seeds)", control(&runs, &seeds, lo, hi), control(&runs, &seeds, lo, hi) > 0.05)
        .verify();
    let c4 = Claim::new("claim 4: more infills reduce accuracy: 16 infill sentences (unseen in training) vs none")
        .threshold("greedy accuracy gap > 0 (abstract: more infills slightly reduce accuracy)")
        .value_name("acc(0 infills) − acc(16)")
        .per_seed(&diff(&runs, &seeds, "trained", "greedy_acc/all/k0", "greedy_acc/all/k16"), |d| d > 0.0)
        .verify();
    let mut rows = vec![];
    for g in ["trained", "untrained"] {
        for &s in &seeds {
            let copies = val(&runs, s, g, "greedy_acc/zero-order/k0");
            let rec = val(&runs, s, g, "p_incons/first-order/fb/T1") - val(&runs, s, g, "p_cons/first-order/fb/T1");
            let gap = val(&runs, s, g, "greedy_acc/zero-order/k0") - val(&runs, s, g, "greedy_acc/second-order/k0");
            rows.push(vec![g.to_string(), s.to_string(), format!("{copies:.3} ({})", if copies > 0.5 { "copies" } else { "does not copy yet" }),
                           format!("{rec:.3} ({})", if rec > 0.1 { "holds" } else { "does not hold" }), format!("{gap:.3} ({})", if gap > 0.1 { "holds" } else { "does not hold" })]);
        }
    }
    let rep = Table::from_rows(&["model", "seed", "zero-order greedy accuracy", "claim 1: P(incons) − P(cons), fb 1st order (> 0.1)", "claim 2: acc(zero) − acc(second) (> 0.1)"], rows)?
        .title("claims 1 and 2, reported per seed (not asserted)");
    Panel::new().add(c3).add(c4).add(rep)
} else {
    Panel::new().text("full scale: GPT-2 small's accuracy, recency preference and temperature curves are reported above, not asserted (one model, no seeds)")
};
out

// %% [markdown]
// ## Paper vs. ours

// %%
let table = {
let m = |g: &str, k: &str| mean_range(&over(&runs, &seeds, g, k), 3);
let rows = vec![
    vec!["chosen token vs T".into(), "identical at every T (the code appends the argmax; brief)".into(), format!("argmax invariant on {inv} of {n} live prompts"), "the same check on GPT-2".into()],
    vec!["recency: P(incons) vs P(cons), 1st-order false belief, T = 1".into(), "GPT-2 continues with the most recent location (brief, from the repository's PDFs)".into(),
         format!("{} vs {}", m(&main_group, "p_incons/first-order/fb/T1"), m(&main_group, "p_cons/first-order/fb/T1")), "GPT-2 small on the generated prompts".into()],
    vec!["… 2nd-order false belief".into(), "the same".into(), format!("{} vs {}", m(&main_group, "p_incons/second-order/fb/T1"), m(&main_group, "p_cons/second-order/fb/T1")), "the same".into()],
    vec!["greedy accuracy: zero / first / second order".into(), "GPT-2 at T = 0.01, 0 infills: 0 / 2 / 2 of 10 first-token matches (brief's heuristic, not the paper's metric)".into(),
         format!("{} / {} / {}", m(&main_group, "greedy_acc/zero-order/k0"), m(&main_group, "greedy_acc/first-order/k0"), m(&main_group, "greedy_acc/second-order/k0")), "the same".into()],
    vec!["sampled accuracy at T = 0.01 / 0.5 / 1 / 1.5 / 2".into(), "falls with T (abstract)".into(),
         tnt::TEMPERATURES.iter().map(|t| m(&main_group, &format!("sampled_acc/all/T{t}"))).collect::<Vec<_>>().join(" / "), "the same".into()],
    vec!["greedy accuracy at 0 / 1 / 4 / 16 infills".into(), "slightly lower with more infills (abstract)".into(),
         [0, 1, 4, 16].iter().map(|k| m(&main_group, &format!("greedy_acc/all/k{k}"))).collect::<Vec<_>>().join(" / "), "the same; 64 infills skipped when over 1,024 tokens".into()],
    vec!["prompts skipped at 64 infills".into(), "4 of 10 stories (brief)".into(), m(&main_group, "skipped/k64"), "counted against 1,024".into()],
    vec!["Llama-2-7b-chat vs GPT-2".into(), "Llama-2 better, especially at low T".into(), "not reproduced (another architecture)".into(), "not reproduced".into()],
];
Table::from_rows(&["what", "paper", "ours (ci: mean [min, max] over seeds)", "full scale"], rows)?.title("paper vs. ours")
};
table

// %% [markdown]
// ## Reading the result, and running at full scale
//
// Where a seed's model has learnt to copy a location from the story (the table above says which), it answers state questions well but, on false-belief prompts, puts more mass on where the object really is than on where the agent thinks it is: at this budget it has learnt *recency*, the behaviour the paper reports for GPT-2, not belief tracking; a belief-consistent preference on false-belief prompts is not reproduced here. `GPT2LAB_SCALE=full` loads GPT-2 small from the hub and scores the same generated prompts (no BOS, as the official code; prompts over 1,024 tokens skipped and counted); the numbers are reported, not asserted. The paper's own 10 stories and GPT-4 infills are not bundled (no licence); Llama-2 is outside gpt2lab's scope.
