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
// # WECHSEL: initialising subword embeddings for cross-lingual transfer
//
// Benjamin Minixhofer, Fabian Paischer, Navid Rekabsaz (2022), *WECHSEL: Effective initialization of subword embeddings for cross-lingual transfer of monolingual language models*, NAACL 2022, arXiv [2112.06598](https://arxiv.org/abs/2112.06598); official code `CPJKU/wechsel` (MIT).
//
// **The claim.** Replacing an English model's tokenizer with a target-language tokenizer and initialising each new token's embedding as a similarity-weighted mix of the English embeddings of its nearest tokens — found through aligned static word embeddings — lets the model reach a from-scratch model's target-language loss with far less training ("up to 64x less training effort"), and better than giving the new tokens random embeddings.
//
// **What ci scale runs.** A tiny GPT-2 (2 layers, d 64, ~0.15M parameters) pretrained on MiniEnglish, the library's English grammar (language A), is transferred to *Lang B*, the same grammar's meaning in another lexicon with its own morphology, gender-like determiners and word order (`data::Relexifier`). Four starts on B, the same 200 steps each: WECHSEL, WECHSEL with a **shuffled dictionary** (the negative control), A's body with **random embeddings** (the paper's "only the embeddings are new" baseline) and **from scratch**. Static word vectors are PPMI + SVD trained here — a stand-in for the paper's fastText, not fastText. Three seeds (0, 1, 2: source model init and data order) do not fit the ci budget (the artefact's notes, printed below, record their time), so they come from a committed artefact (`datasets/wechsel/`, `cargo run --example artefact -- wechsel`); this notebook re-runs seed 0's transfer and the first 40 steps of its WECHSEL run live from the stored source model. What ci cannot show: real languages, fastText's subword vectors, and the 64× figure (which needs training to convergence at GPT-2 scale).

// %%
use gpt2lab::data::{BilingualDictionary, BpeTokenizer, Pcfg, Relexifier};
use gpt2lab::papers::wechsel as wx;
use gpt2lab::papers::{Artefact, SeedMetrics};
use gpt2lab::transfer::*;
let scale = Scale::from_env();
let setup: wx::Setup = if scale.is_full() { wx::Setup { transfer: wx::full_config(), ..wx::ci_setup() } } else { wx::ci_setup() };
let k: usize = setup.transfer.wechsel.k;                    // the paper's k = 10 nearest source tokens
let temperature: f64 = setup.transfer.wechsel.temperature;  // the paper's T = 0.1
println!("scale = {scale}: vocabulary {} in both languages, word vectors dim {}, k = {k}, T = {temperature}; {} source steps, {} target steps of {}×{} tokens",
         wx::VOCAB, setup.transfer.vectors.dim, setup.source_steps, setup.target_steps, setup.batch_size, wx::CTX);

// %% [markdown]
// ## The two languages
//
// Lang B says what MiniEnglish says with its own words: seeded pseudo-word stems, plural `-ul`, verbs in `-ar`/`-an`/`-eki`, `a`/`an` and `he`/`she` merged, `the` split by animacy (`lo`/`ka`), adjectives after the noun. The A and B corpora are translations of *different* samples of the grammar, so nothing is parallel; the only bridge is a bilingual dictionary that covers 60% of the word pairs and has 10% wrong entries, as scraped dictionaries do (20% of its source words are held out to test the alignment).

// %%
let data: wx::CiData = wx::ci_data()?;
let g = Pcfg::english_small();
let rows: Vec<Vec<String>> = g.generate(4, 11).iter().map(|s| vec![s.to_text(), data.relex.translate(s)]).collect();
println!("{} A sentences, {} B sentences; dictionary: {} pairs ({} held-out source words with their gold translations)",
         data.source_docs.len(), data.target_docs.len(), data.dict.len(), data.held_out.len());
let table = Table::from_rows(&["MiniEnglish (A)", "Lang B"], rows)?.title("the same sentences in both languages");
table

// %% [markdown]
// ## Step 1: a target tokenizer of the same size
//
// As `train_new_from_iterator` does for the paper, a byte-level BPE with the source's vocabulary size is trained on B text (`data::BpeTokenizer`, the `tokenizers` crate's own trainer; `tests/wechsel.rs` checks its vocabulary and merges against the Python trainer's on a fixed corpus).

// %%
let target_tok = BpeTokenizer::train(&data.target_docs, wx::VOCAB)?;
let sample: String = data.target_docs[0].clone();
let pieces: Vec<String> = target_tok.encode(&sample)?.iter().map(|&i| target_tok.token_text(i)).collect::<Result<_, Error>>()?;
check("the target tokenizer has the source's vocabulary size", target_tok.vocab_size() == data.source_tok.vocab_size(), target_tok.vocab_size());
let table = Table::from_rows(&["B text", "B tokens"], vec![vec![sample, pieces.join(" | ")]])?.title("Lang B through its own BPE");
table

// %% [markdown]
// ## Step 2: word vectors, aligned by orthogonal Procrustes
//
// Static word vectors for each language (PPMI with context smoothing 0.75 and window 2, factorised by a truncated SVD), then the rotation `R` minimising ‖A R − B‖ over the dictionary pairs found in both vocabularies (each pair also tried lower- and title-cased, as the official code), `R = U Vᵀ` from the SVD of `AᵀB`. First a check that Procrustes recovers a known rotation exactly; then the alignment's top-1 translation accuracy on held-out words (real dictionary vs shuffled).

// %%
let wv_a = wx::vectors(&data.source_docs, &setup)?;
let wv_b = wx::vectors(&data.target_docs, &setup)?;
let rot_err: f64 = known_rotation_error(100, 8, 0)?; // B = A Q for a random orthogonal Q
check("orthogonal Procrustes recovers a known rotation", rot_err < 1e-9, format!("max |R − Q| = {rot_err:.1e}"));
let aligned = align(&wv_a, &wv_b, &data.dict)?;
let (acc, n_words) = translation_accuracy(&wv_a, &wv_b, &aligned.matrix, &data.held_out);
let mut rows = vec![];
for w in ["dog", "apples", "walked", "red", "the", "quickly"] {
    let Some(v) = wv_a.get(w) else { continue };
    let mapped = aligned.map(&v);
    let near: Vec<String> = wv_b.nearest(&mapped, 3).iter().map(|(t, s)| format!("{t} ({s:.2})")).collect();
    let gold: Vec<String> = data.relex.gold_pairs().into_iter().filter(|p| p.0 == w).map(|p| p.1).collect();
    rows.push(vec![w.to_string(), gold.join(", "), near.join(", ")]);
}
println!("{} A words, {} B words with vectors; {} dictionary correspondences; held-out top-1 translation accuracy {:.3} over {n_words} words (chance {:.4})",
         wv_a.len(), wv_b.len(), aligned.n_pairs, acc, 1.0 / wv_b.len() as f64);
let table = Table::from_rows(&["A word", "gold B translation", "nearest B words after alignment (cosine)"], rows)?.title("the aligned word spaces");
table

// %% [markdown]
// ## Step 3: each B token from its nearest A tokens
//
// Each token's vector in word space is the frequency-weighted mean of the vectors of the words whose tokenization contains it (the official code's path without fastText subwords). For every B token: cosine similarity to every aligned A token, the top k = 10, weights softmax(sim / 0.1), and its embedding is the weighted sum of the source model's embeddings of those tokens; B tokens without a vector get random rows with the source matrix's per-dimension mean and std, and `<|endoftext|>` is copied. Then the vocabulary is swapped: the model keeps its positions, blocks and final LayerNorm bit for bit (a unit test checks it) and gets B's embedding and unembedding (tied).
//
// The source model here is seed 0's, stored in the artefact. Below: a few B tokens and the A tokens they were built from.

// %%
let artefact = Artefact::load(wx::SLUG)?;
println!("artefact: {} ({} files, seeds {:?}, revision {}, made by `{}`; {})", artefact.dir.display(), artefact.manifest.files.len(),
         artefact.manifest.seeds, artefact.manifest.git_revision, artefact.manifest.command, artefact.manifest.notes);
let source: Gpt2 = wx::stored_source_model(&artefact)?;
let t0 = std::time::Instant::now();
let (live, starts) = wx::live_rows(&data, &setup, &source, wx::SEEDS[0])?;
println!("live transfer + {} training steps: {:.1} s", wx::PREFIX_STEPS, t0.elapsed().as_secs_f64());
let init: WechselInit = starts.transfer.init.clone();
let tt: BpeTokenizer = starts.transfer.target_tok.clone();
let weights_ok = init.neighbours.iter().flatten().all(|nb| (nb.iter().map(|n| n.weight).sum::<f64>() - 1.0).abs() < 1e-9 && nb.len() == k);
check("every matched token mixes exactly k source rows with weights summing to 1", weights_ok, format!("{} of {} tokens matched", init.n_matched, tt.vocab_size()));
let k1 = target_embeddings(&starts.transfer.method.source_sub, &starts.transfer.method.target_sub, &embedding_matrix(&source)?, &[], &WechselConfig { k: 1, ..WechselConfig::default() })?;
let copies = k1.neighbours.iter().enumerate().filter_map(|(t, nb)| nb.as_ref().map(|nb| (t, nb[0].source))).all(|(t, s)| {
    k1.embeddings.get(t).and_then(|r| r.to_vec1::<f32>()).ok() == source.wte.get(s as usize).and_then(|r| r.to_vec1::<f32>()).ok()
});
check("with k = 1 each matched token copies its nearest source embedding exactly", copies, "");
let mut rows = vec![];
for piece in [" bafo", " lo", " ka", "ul", "eki", "."] {
    let ids = tt.encode(piece)?;
    let Some(&id) = ids.first() else { continue };
    if ids.len() != 1 { continue; }
    let srcs = match &init.neighbours[id as usize] {
        Some(nb) => nb.iter().take(4).map(|n| Ok(format!("{:?} {:.2}", data.source_tok.token_text(n.source)?, n.weight))).collect::<Result<Vec<String>, Error>>()?.join(", "),
        None => "random fallback / copied".to_string(),
    };
    rows.push(vec![format!("{:?}", tt.token_text(id)?), srcs]);
}
let table = Table::from_rows(&["B token", "top source tokens (softmax weight)"], rows)?.title("WECHSEL's neighbours");
table

// %% [markdown]
// ## The live re-run against the artefact
//
// Seed 0 from the stored source model: the alignment row (source loss on A, translation accuracies, dictionary pairs used, tokens matched, each start's initial loss on B) and the WECHSEL run's validation curve over its first 40 steps must equal the stored ones (relative tolerance 1e-3: the runs are seeded; CPU matmul thread splits may differ in the last bits).

// %%
for row in &live {
    artefact.check_live(row, 1e-3)?;
}
let runs: Vec<SeedMetrics> = artefact.runs()?;
let seeds: Vec<u64> = wx::SEEDS.to_vec();
fn val(runs: &[SeedMetrics], seed: u64, group: &str, name: &str) -> f64 {
    runs.iter().find(|r| r.seed == seed && r.group == group).and_then(|r| r.values.get(name).copied()).unwrap_or(f64::NAN)
}
fn curve(runs: &[SeedMetrics], seed: u64, group: &str) -> Vec<(f64, f64)> {
    runs.iter().find(|r| r.seed == seed && r.group == group).and_then(|r| r.curves.get("val_loss").cloned()).unwrap_or_default()
}
let mut chart = Chart::lines("validation loss on Lang B (seed 0)").x_label("training step on B").y_label("nats / token");
for arm in wx::ARMS { chart = chart.series(arm, &curve(&runs, 0, arm)); }
let rows: Vec<Vec<String>> = wx::ARMS.iter().map(|arm| {
    let f = |n: &str| seeds.iter().map(|&s| val(&runs, s, arm, n)).collect::<Vec<f64>>();
    let init: Vec<f64> = seeds.iter().map(|&s| val(&runs, s, "alignment", &format!("initial_loss {arm}"))).collect();
    let reach = f("steps_to_scratch");
    vec![arm.to_string(), mean_range(&init, 3), mean_range(&f("early_loss"), 3), mean_range(&f("final_loss"), 3),
         if reach.iter().all(|x| x.is_finite()) { mean_range(&reach, 0) } else { format!("{:?}", reach.iter().map(|x| if x.is_finite() { format!("{x:.0}") } else { "not reached".into() }).collect::<Vec<_>>()) }]
}).collect();
let table = Table::from_rows(&["start", "initial loss", &format!("loss at step {}", wx::early_step(&setup)), "final loss", "steps to the scratch run's final loss"], rows)?
    .title("over seeds 0, 1, 2: mean [min, max]");
Panel::new().add(chart).add(table)

// %% [markdown]
// ## Claims
//
// The paper's headline figure has WECHSEL's target-language loss below its baselines' from the first steps, reaching the from-scratch model's loss far earlier. Per seed:
//
// 1. **Steps to the from-scratch loss.** WECHSEL reaches the from-scratch run's final loss in fewer steps than A's body with random embeddings (the paper's comparison: WECHSEL beats transferring everything but the embeddings). The negative control is WECHSEL with a shuffled dictionary: if the alignment were not doing the work, it would be as fast; it must not beat random embeddings.
// 2. **Early training.** At 10% of the budget, WECHSEL's loss is below the random-embedding start's by more than 0.5 nats (our margin, not the paper's: its figure shows the gap but gives no number at this scale; half a nat is a 40% lower perplexity); the shuffled-dictionary control must not be.
// 3. **The alignment.** Held-out words map to their translations with top-1 accuracy above 10× chance; the shuffled dictionary's alignment must not. (The word vectors and the real alignment depend on the data only, which is the same for every seed, so this value repeats across seeds; the shuffled control's permutation is per seed.)

// %%
fn per_seed(runs: &[SeedMetrics], seeds: &[u64], f: fn(&[SeedMetrics], u64) -> f64) -> Vec<(u64, f64)> {
    seeds.iter().map(|&s| (s, f(runs, s))).collect()
}
fn reach(runs: &[SeedMetrics], seed: u64, arm: &str) -> f64 {
    let v = val(runs, seed, arm, "steps_to_scratch");
    if v.is_finite() { v } else { f64::INFINITY } // not reached within the budget
}
fn reach_ratio(runs: &[SeedMetrics], s: u64) -> f64 { reach(runs, s, "random embeddings") / reach(runs, s, "wechsel") }
fn reach_ratio_shuffled(runs: &[SeedMetrics], s: u64) -> f64 { reach(runs, s, "random embeddings") / reach(runs, s, "shuffled dictionary") }
fn early_gap(runs: &[SeedMetrics], s: u64) -> f64 { val(runs, s, "random embeddings", "early_loss") - val(runs, s, "wechsel", "early_loss") }
fn early_gap_shuffled(runs: &[SeedMetrics], s: u64) -> f64 { val(runs, s, "random embeddings", "early_loss") - val(runs, s, "shuffled dictionary", "early_loss") }
fn top1_over_chance(runs: &[SeedMetrics], s: u64) -> f64 { val(runs, s, "alignment", "translation_top1") / val(runs, s, "alignment", "chance") }
fn top1_over_chance_shuffled(runs: &[SeedMetrics], s: u64) -> f64 { val(runs, s, "alignment", "translation_top1_shuffled") / val(runs, s, "alignment", "chance") }
let r1 = per_seed(&runs, &seeds, reach_ratio);
let r1c = per_seed(&runs, &seeds, reach_ratio_shuffled);
let r2 = per_seed(&runs, &seeds, early_gap);
let r2c = per_seed(&runs, &seeds, early_gap_shuffled);
let r3 = per_seed(&runs, &seeds, top1_over_chance);
let r3c = per_seed(&runs, &seeds, top1_over_chance_shuffled);
/// the control's most favourable seed (the largest value)
fn best(v: &[(u64, f64)]) -> f64 { v.iter().map(|x| x.1).fold(f64::NAN, f64::max) }
let c1 = Claim::new("WECHSEL reaches the from-scratch run's final loss in fewer steps than random embeddings")
    .threshold("steps(random embeddings) / steps(WECHSEL) > 1 (paper, Fig. 2: WECHSEL ahead of the baselines throughout training)")
    .value_name("speed-up over random embeddings")
    .per_seed(&r1, |x| x > 1.0)
    .control("shuffled dictionary (best seed)", best(&r1c), best(&r1c) > 1.0)
    .verify();
let c2 = Claim::new(&format!("at step {}, WECHSEL's loss is below the random-embedding start's", wx::early_step(&setup)))
    .threshold("by > 0.5 nats (our margin; paper, Fig. 2: the gap is widest early)")
    .value_name("loss(random embeddings) − loss(WECHSEL), nats")
    .per_seed(&r2, |x| x > 0.5)
    .control("shuffled dictionary (best seed)", best(&r2c), best(&r2c) > 0.5)
    .verify();
let c3 = Claim::new("the dictionary alignment maps held-out words to their translations")
    .threshold("top-1 accuracy > 10 × chance (the method's premise: aligned word spaces)")
    .value_name("top-1 accuracy / chance")
    .per_seed(&r3, |x| x > 10.0)
    .control("shuffled dictionary (best seed)", best(&r3c), best(&r3c) > 10.0)
    .verify();
Panel::new().add(c1).add(c2).add(c3)

// %% [markdown]
// ## Paper vs. ours

// %%
fn over(v: &[(u64, f64)], digits: usize) -> String { mean_range(&v.iter().map(|x| x.1).collect::<Vec<_>>(), digits) }
let scratch_speedup: Vec<(u64, f64)> = seeds.iter().map(|&s| (s, setup.target_steps as f64 / reach(&runs, s, "wechsel"))).collect();
let rows = vec![
    vec!["training effort to reach the from-scratch model".into(), "\"up to 64x less\" (abstract; GPT-2 and RoBERTa, 4 languages + 4 low-resource)".into(),
         format!("{}× fewer steps than the {}-step scratch run", over(&scratch_speedup, 2), setup.target_steps), "GPT-2 → French on hub text: transfer here; training on a GPU".into()],
    vec!["WECHSEL vs random embeddings + transferred body".into(), "WECHSEL ahead (Fig. 2)".into(), format!("speed-up {}", over(&r1, 2)), "the same".into()],
    vec![format!("early loss gap at step {}", wx::early_step(&setup)), "largest early in training (Fig. 2)".into(), format!("{} nats", over(&r2, 3)), "the same".into()],
    vec!["GPT-2 perplexity, WECHSEL vs scratch (fr / de)".into(), "19.71 vs 20.47 / 26.8 vs 27.63 (MODEL_README.md)".into(), "not comparable (synthetic language)".into(), "the same cells on hub data".into()],
    vec!["word vectors".into(), "fastText cc.*.300 (subword information)".into(), format!("PPMI + SVD, dim {} (stand-in; no subwords)", setup.transfer.vectors.dim), "PPMI + SVD dim 300 (or official fastText)".into()],
    vec!["dictionary".into(), "Wiktionary (dicts/, 3,276 language pairs)".into(), format!("synthetic, {} pairs (60% coverage, 10% noise)", data.dict.len()), "dicts/data/french.txt".into()],
];
let table = Table::from_rows(&["claim", "paper", "ours (ci: mean [min, max] over seeds 0, 1, 2)", "full scale"], rows)?.title("paper vs. ours");
table

// %% [markdown]
// ## Full scale
//
// With `GPT2LAB_SCALE=full` the cell below runs the paper's set-up: GPT-2 small from the hub as the source with its own tokenizer, a 50,257-token target tokenizer trained on target text, PPMI + SVD word vectors of dimension 300 (or the official fastText vectors, which gpt2lab does not read), the official dictionary, and the transferred model saved in Hugging Face layout for training on a GPU. It needs `GPT2LAB_WECHSEL_SOURCE` and `GPT2LAB_WECHSEL_TARGET` (plain-text files, one document a line: e.g. English and French OSCAR/CC100 subsets from the hub) and `GPT2LAB_WECHSEL_DICT` (`dicts/data/french.txt` of the official repository). `tests/wechsel.rs` runs this path on a random-weight HF-layout checkpoint with GPT-2's tokenizer. At ci scale it does nothing.

// %%
if scale.is_full() {
    let read = |var: &str| -> Result<Vec<String>, Error> {
        let p = std::env::var(var).map_err(|_| Error::Msg(format!("set {var}")))?;
        Ok(std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?.lines().filter(|l| !l.trim().is_empty()).map(String::from).collect())
    };
    let (src_docs, tgt_docs) = (read("GPT2LAB_WECHSEL_SOURCE")?, read("GPT2LAB_WECHSEL_TARGET")?);
    let dict = BilingualDictionary::load(std::env::var("GPT2LAB_WECHSEL_DICT").map_err(|_| Error::Msg("set GPT2LAB_WECHSEL_DICT".into()))?)?;
    let gpt2 = Gpt2::from_pretrained("gpt2")?;
    let t = transfer_model(&gpt2, &wx::gpt2_tokenizer()?, &src_docs, &tgt_docs, &dict, &wx::full_config())?;
    let val = t.target_tok.dataset(&tgt_docs[tgt_docs.len() * 9 / 10..], 1024)?;
    let w = gpt2lab::train::evaluate(&t.model, &val, 4, Some(8))?;
    let r = gpt2lab::train::evaluate(&t.random_embedding_model(&gpt2, 0)?, &val, 4, Some(8))?;
    claim("full scale: WECHSEL's initial target loss is below random embeddings'", w < r, format!("{w:.3} vs {r:.3} nats"));
    t.model.save_pretrained("target/wechsel-gpt2-transferred")?;
    t.target_tok.save("target/wechsel-gpt2-transferred/tokenizer.json")?;
}
