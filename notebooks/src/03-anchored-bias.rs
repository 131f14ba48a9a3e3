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
// # Anchored answers: the positional " A" bias, located and edited
//
// Ruizhe Li, Yanjun Gao (2025), *Anchored Answers: Unravelling Positional Bias in GPT-2's Multiple-Choice Questions*, Findings of ACL 2025, arXiv [2405.03205](https://arxiv.org/abs/2405.03205); official code `ruizheliUOA/Anchored_Bias_GPT2` (MIT).
//
// **The claim.** GPT-2 models favour the first choice " A" in multiple-choice questions; the logit lens on MLP layers and attention heads locates the value vectors responsible, and editing them (`W_out[i] ← W_out[i] − α1·W_U[A] + α2·W_U[gold]`, α1 = 1, α2 = 8 in the repository's `mitigate_mlp.ipynb`) or recalibrating attention between the anchor and the gold option removes the bias.
//
// **What ci scale runs.** A *constructed* analogue: a 2-layer GPT-2 trained for a few hundred steps on word-level MCQs ("which one is a fruit?") whose gold is "A" 70% of the time; rare fruits are seen seldom in training, so on held-out questions the model is unsure about them and falls back on the prior — an anchored bias we know the origin of. Three seeds are trained live. The model is loaded with TransformerLens' weight processing (as the paper's notebook does), the bias located with the MLP logit lens and the paper's neuron scan, and removed by the paper's edit, tested on held-out prompts, with random neurons as the negative control. What ci cannot show: that GPT-2's own bias sits where the paper finds it; that is `full` scale's job (below).

// %%
use gpt2lab::interp::*;
use gpt2lab::papers::anchored_bias as ab;
use gpt2lab::papers::anchored_bias::{Answers, SeedRun};
let scale = Scale::from_env();
let setup = ab::Setup::ci();
let seeds: Vec<u64> = SEEDS.to_vec();
println!("scale = {scale}: {} seeds, {} steps of {} prompts, P(gold = A) = {} in training, {} held-out prompts per gold position",
         seeds.len(), setup.steps, setup.batch, setup.p_first, setup.eval_items);

// %% [markdown]
// ## The prompts
//
// Each question has 3 options; exactly one is a fruit. Training draws the gold position with P(A) = 0.7 and fruits with weights 1/rank⁴ (a few are common, most are rare); held-out prompts draw fruits uniformly and fix the gold position, so accuracy can be split by where the answer sits.

// %%
let mcq = gpt2lab::data::McqGen::new(setup.n_options)?;
let rows: Vec<Vec<String>> = mcq.generate(4, gpt2lab::data::GoldPolicy::Balanced, 0)?.iter()
    .map(|it| vec![it.prompt_text(), it.gold_letter().to_string()]).collect();
let table = Table::from_rows(&["prompt", "gold"], rows)?.title("held-out prompts (balanced gold)");
table

// %% [markdown]
// ## Train, locate, edit — per seed
//
// `ab::run_seed` trains one model, processes its weights (`fold_ln`, `center_writing_weights`, `center_unembed`, `fold_value_biases`: the same function up to a softmax-invariant shift, checked below), and then follows `mitigate_mlp.ipynb` on a set of gold = "B" prompts (the paper's `IOI.json` has gold B throughout): (1) the MLP logit lens per layer, `unembed(mlp_out[last])` at A minus at gold; the layer that favours A most is edited; (2) its 10 neurons with the largest |post-activation| × ‖W_out[i]‖, flagged when their value vector favours A over gold (the paper's cut "> 4" is on GPT-2's logit scale; ours is a quarter of the layer's largest contribution); (3) the edit with α1 = 1, α2 = 8. Everything is then measured on *other* held-out prompts.

// %%
let t0 = std::time::Instant::now();
let runs: Vec<SeedRun> = over_seeds(&seeds, 2, |s| ab::run_seed(&setup, s))?;
println!("{} seeds in {:.1} s", runs.len(), t0.elapsed().as_secs_f64());
let r0: SeedRun = runs[0].clone();
let ids = r0.trained.mcq.encode_prompts(&r0.trained.mcq.generate(8, gpt2lab::data::GoldPolicy::Balanced, 5)?)?.0;
let ids = Tensor::from_vec(ids, (8, r0.trained.mcq.prompt_len()), &Device::Cpu)?;
let shift = max_abs_diff_up_to_shift(&r0.processed.forward(&ids)?, &r0.trained.model.forward(&ids)?)?;
check("processed weights: same logits up to a per-position shift", shift < 1e-4, format!("max |Δ| after removing row means = {shift:.2e}"));
let mut rows: Vec<Vec<String>> = vec![];
for r in &runs {
    let f = |a: &Answers| format!("{:.2}", a.accuracy);
    rows.push(vec![r.seed.to_string(), f(&r.before[0]), f(&r.before[1]), f(&r.before[2]), format!("{:.2}", r.before[1].picks_a),
                   r.lens.iter().map(|x| format!("{x:+.2}")).collect::<Vec<_>>().join(" / "), r.layer.to_string(),
                   r.scan.iter().filter(|s| s.flagged).count().to_string()]);
}
let table = Table::from_rows(&["seed", "acc gold=A", "acc gold=B", "acc gold=C", "picks A when gold=B", "MLP lens A−gold per layer", "edited layer", "flagged neurons"], rows)?.title("the bias, and where it sits (held-out prompts)");
table

// %% [markdown]
// ### The responsible value vectors
//
// Seed 0's scan: each scored neuron's value vector unembedded (its top tokens, `W_out[i] · W_U`), its A − gold contribution, and whether it is flagged. The flagged ones write " A" into the residual stream.

// %%
let words = r0.trained.mcq.tokenizer().words().to_vec();
let rows: Vec<Vec<String>> = r0.scan.iter().map(|s| {
    let top = neuron_top_tokens(&r0.processed, s.layer, s.neuron, 3).unwrap_or_default();
    vec![format!("L{}N{}", s.layer, s.neuron), format!("{:.2}", s.score), format!("{:+.2}", s.a_minus_gold),
         top.iter().map(|(t, v)| format!("{} ({v:+.1})", words[*t as usize])).collect::<Vec<_>>().join(", "), if s.flagged { "✓".into() } else { "".into() }]
}).collect();
let table = Table::from_rows(&["neuron", "|act|·‖W_out‖", "A − gold", "top tokens of the value vector", "flagged"], rows)?.title(&format!("seed {}: neuron scan of layer {}", r0.seed, r0.layer));
table

// %% [markdown]
// ## Claims
//
// **1. The bias.** Before any edit, held-out accuracy is lower when the gold is not "A" (the paper: GPT-2 prefers " A"; ours is constructed, so this checks that the set-up has the phenomenon to study). The threshold asks for a gap of at least 0.1.
//
// **By construction** (a check, not a claim): the paper's edit subtracts W_U[A] and adds 8·W_U[gold], so each flagged value vector's A − gold contribution turns negative.
//
// **2. The edit removes the bias on held-out prompts.** After the paper's edit, the model answers held-out gold = "B" prompts correctly at least 0.1 more often than before. Negative control: the same edit on as many random neurons of the same layer (not among the scored ones) must not do so.

// %%
let gap: Vec<(u64, f64)> = runs.iter().map(|r| (r.seed, r.before[0].accuracy - ab::accuracy_not_a(&r.before))).collect();
let c1 = Claim::new("before the edit, held-out accuracy is lower when the gold is not A")
    .threshold("acc(gold = A) − acc(gold ≠ A) ≥ 0.1 (paper, abstract: GPT-2 consistently favours \" A\")")
    .value_name("accuracy gap").per_seed(&gap, |g| g >= 0.1).verify();
for r in &runs {
    check(&format!("seed {}: every flagged value vector now favours gold", r.seed), !r.contributions_after.is_empty() && r.contributions_after.iter().all(|&c| c < 0.0),
          format!("A − gold after the edit: {:?}", r.contributions_after.iter().map(|c| format!("{c:.1}")).collect::<Vec<_>>()));
}
let gain: Vec<(u64, f64)> = runs.iter().map(|r| (r.seed, r.after[1].accuracy - r.before[1].accuracy)).collect();
let ctrl: Vec<f64> = runs.iter().map(|r| r.random[1].accuracy - r.before[1].accuracy).collect();
let mut c2 = Claim::new("the paper's edit (α1 = 1, α2 = 8) raises held-out accuracy on gold = B prompts")
    .threshold("gain ≥ 0.1 (paper, Sec. 4: the edited GPT-2 predicts the gold answer)")
    .value_name("accuracy gain, gold = B").per_seed(&gain, |g| g >= 0.1);
for (r, c) in runs.iter().zip(&ctrl) {
    c2 = c2.control(format!("seed {}: the edit on random neurons", r.seed), *c, *c >= 0.1);
}
let c2 = c2.verify();
Panel::new().add(c1).add(c2)

// %% [markdown]
// ## Side effects, and the attention swap (reported, not asserted)
//
// The brief of this replication warns that α2 = 8 is large: it writes "gold" so strongly that the model now answers "B" everywhere. The table shows accuracy on gold = A and gold = C prompts and held-out cross-entropy after the paper's edit, the random-neuron edit and a gentler α2 = 1. The attention recalibration swaps, at the head that attends most from the answer position to option A, the weights on option A and on the gold option (letters and words): in our models that head mostly reads the fruit wherever it is, so the swap is shown, not asserted.

// %%
let mut rows: Vec<Vec<String>> = vec![];
for r in &runs {
    let acc = |v: &Vec<Answers>| v.iter().map(|a| format!("{:.2}", a.accuracy)).collect::<Vec<_>>().join(" / ");
    rows.push(vec![r.seed.to_string(), "none".into(), acc(&r.before), format!("{:.3}", r.ce[0])]);
    rows.push(vec![r.seed.to_string(), "paper's edit, flagged neurons".into(), acc(&r.after), format!("{:.3}", r.ce[1])]);
    rows.push(vec![r.seed.to_string(), "same edit, random neurons".into(), acc(&r.random), format!("{:.3}", r.ce[2])]);
    rows.push(vec![r.seed.to_string(), "α2 = 1, flagged neurons".into(), acc(&r.gentle), format!("{:.3}", r.ce[3])]);
    let (l, h, w) = r.anchor_heads[0];
    rows.push(vec![r.seed.to_string(), format!("swap A/gold attention at L{l}H{h} (weight on A {w:.2})"),
                   format!("P(gold | gold = B): {:.2} → {:.2}", r.before[1].p_gold, r.swapped.p_gold), "".into()]);
}
let table = Table::from_rows(&["seed", "intervention", "accuracy gold = A / B / C", "held-out CE (nats)"], rows)?.title("what the edits do elsewhere");
table

// %% [markdown]
// ## Paper vs. ours

// %%
fn over_runs(runs: &[SeedRun], f: &dyn Fn(&SeedRun) -> f64) -> String {
    mean_range(&runs.iter().map(|r| f(r)).collect::<Vec<_>>(), 2)
}
let rows = vec![
    vec!["models prefer \" A\"".into(), "GPT-2 family, MCQ datasets (abstract)".into(), format!("acc gap {}", over_runs(&runs, &|r| r.before[0].accuracy - ab::accuracy_not_a(&r.before))), "GPT-2 small on IOI.json and synthetic IOI questions (below)".into()],
    vec!["MLP value vectors carry it".into(), "logit lens on MLP layers (Sec. 3)".into(), format!("{} flagged neurons", over_runs(&runs, &|r| r.scan.iter().filter(|s| s.flagged).count() as f64)), "the repository's scan, threshold 4".into()],
    vec!["edit α1 = 1, α2 = 8 fixes gold = B".into(), "edited GPT-2 predicts gold (mitigate_mlp.ipynb)".into(), format!("gold = B acc {} → {}", over_runs(&runs, &|r| r.before[1].accuracy), over_runs(&runs, &|r| r.after[1].accuracy)), "the same".into()],
    vec!["random-neuron edit (control)".into(), "—".into(), format!("gold = B acc {}", over_runs(&runs, &|r| r.random[1].accuracy)), "the same".into()],
    vec!["side effect: gold = A accuracy".into(), "not reported".into(), format!("{} → {}", over_runs(&runs, &|r| r.before[0].accuracy), over_runs(&runs, &|r| r.after[0].accuracy)), "the same".into()],
    vec!["attention recalibration".into(), "improves accuracy (details unverified)".into(), format!("P(gold) {} → {}", over_runs(&runs, &|r| r.before[1].p_gold), over_runs(&runs, &|r| r.swapped.p_gold)), "the same".into()],
];
let table = Table::from_rows(&["claim", "paper", "ours (ci: mean [min, max] over seeds)", "full scale"], rows)?.title("paper vs. ours");
table

// %% [markdown]
// ## Full scale
//
// `GPT2LAB_SCALE=full` runs the repository's setting: GPT-2 small from the hub (`Gpt2::from_pretrained("gpt2")`, processed as above) on its `IOI.json` (45 IOI questions, gold always " B", " A" always the sentence's subject; bundled in `datasets/anchored-bias-ioi/` with its MIT licence and sha256-checked on load) and on 120 two-option IOI questions from our own generator (`data::mcq::IoiMcqGen`) with the gold at A and at B in turn. Prompts and positions follow `mitigate_mlp.ipynb`: BOS, then the sentence verbatim, everything read at the last token (the ":" of "Answer:"); the answers " A" and " B" must be single GPT-2 tokens, and the choice letters are located in the prompt's BPE (a typed error otherwise). `abf::run_full` reports P(" A") against P(gold), the MLP logit lens per layer, the repository's neuron scan (top 10 by |post| · ‖W_out[i]‖, contribution `W_U · ln_final(post_i W_out[i] + b_out)`, flagged when A − gold > 4) and its per-item loop (from the last layer down, the first flagged neuron edited with α1 = 1, α2 = 8; success = the top-1 token is the gold letter). Beyond the repository, which runs one item: one edit of the neurons flagged on at least half of a locating third of `IOI.json`, tested on the other two thirds and on the synthetic questions, next to the same edit on as many random neurons of the same layers (the control), and the attention swap at the 3 heads that attend most from the answer position to " A". The cell is `abf::run_full` and its display (`abf::report_lines`, `abf::report_tables`). Nothing here is asserted: the cells were written without GPT-2's weights (no hub access), so the brief's "GPT-2 picks A on most `IOI.json` items" is reported, not asserted. `tests/anchored_bias.rs` runs `run_full` and the display end to end on a random-weight checkpoint in GPT-2's Hugging Face layout with GPT-2's tokenizer and checks every measurement against a direct computation from the full logits.

// %%
if scale.is_full() {
    use gpt2lab::papers::anchored_bias::full as abf;
    let gtok = Gpt2Tokenizer::gpt2()?;
    let fr = abf::run_full(&Gpt2::from_pretrained("gpt2")?, &gtok, &abf::load_ioi_json()?, &abf::FullSetup::paper())?;
    abf::report_lines(&fr).iter().for_each(|l| println!("{l}"));
    abf::report_tables(&fr, &gtok)?.iter().for_each(|t| t.evcxr_display());
} else {
    println!("ci scale: the GPT-2 small run is skipped (GPT2LAB_SCALE=full runs it)");
}
