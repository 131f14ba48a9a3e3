"""Source of notebooks/06-contrastive-search.ipynb: `python3 notebooks/src/06-contrastive-search.py`
rewrites the notebook (no outputs, stable cell ids)."""
import sys
import os
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from nbgen import write_notebook

cells = [
("markdown", "intro", r"""
# 06 · Contrastive Search Is What You Need For Neural Text Generation

Su & Collier, TMLR 2023 ([arXiv 2210.14140](https://arxiv.org/abs/2210.14140); official code: `yxuansu/Contrastive_Search_Is_What_You_Need`).

**The paper in three sentences.** Decoding a language model by maximisation (greedy, beam search) makes open-ended text degenerate into repetition, while sampling (top-k, nucleus) avoids repetition at the price of coherence. *Contrastive search* picks, among the k most likely next tokens, the one that best trades the model's confidence against a *degeneration penalty* — the largest cosine similarity between the candidate's representation and those of the previous tokens — which works off the shelf because most language models' representations are *isotropic* (GPT-2 small and medium are the exceptions). With off-the-shelf models it beats the other decoding methods on automatic metrics across 16 languages and matches human-level quality in human evaluation in 12 of them.

**The claim tested here.** (1) Contrastive search with α = 0 *is* greedy search, token for token; (2) isotropy, the paper's measure of how spread out a model's token representations are, lies in [0, 1]; (3) maximisation decoding (greedy, beam) repeats itself far more than contrastive search (rep-n, diversity); (4) contrastive search stays more coherent than nucleus sampling under a separate scoring model.

> *ci scale reproduces the method and the qualitative effect on synthetic data; it does not reproduce the paper's numbers.* Human evaluation, MAUVE and the 16 languages are out of reach offline; see the last table.
"""),
("code", "scale", r"""
use gpt2lab::data::{StoryGen, TokenDataset};
use gpt2lab::generate::{BeamConfig, ContrastiveConfig};
use gpt2lab::metrics::{coherence_batch, last_hidden_states, cosine_similarity_matrix, model_isotropy, mean_length, Counting, Repetition};
use gpt2lab::train::{AdamW, AdamWConfig, LrSchedule, TrainConfig, Trainer};
use std::time::Instant;

let scale = Scale::from_env();
let dev = if scale.is_full() { Device::cuda_if_available(0)? } else { Device::Cpu };
// ---- every size of this notebook, per scale (ci, full) ----
let n_prefixes: usize = scale.pick(50, 1000);   // official: the first 1000 WebText test documents
let prefix_len: usize = scale.pick(8, 40);      // prompt tokens after the BOS token (official: 40)
let new_tokens: usize = scale.pick(119, 200);   // tokens to generate (official: 200); ci fills the 128-token context
let stop_at_eos: bool = scale.pick(false, true); // official: stop at <|endoftext|>; ci: decode through story ends (see below)
let batch: usize = scale.pick(50, 16);          // prefixes decoded together
let n_iso_texts: usize = scale.pick(100, 2000); // texts for isotropy (official: ≤ 2000 WIT texts, ≤ 256 tokens)
let iso_max_len: usize = scale.pick(128, 256);
let gen_steps: usize = 150;                     // ci only: training steps of the generator
let (beam_width, top_k, top_p, nucleus_runs): (usize, usize, f64, usize) = (4, 50, 0.95, 3);
let (cs_k, cs_alpha): (usize, f64) = (5, 0.6);        // the paper's open-ended setting
let sweep_k = [4usize, 5];
let sweep_alpha: [f64; 5] = [0.0, 0.2, 0.4, 0.6, 0.8];
let (data_seed, iso_seed, gen_seed) = (101u64, 555u64, 7u64);
let t_start = Instant::now();
println!("scale = {scale}: {n_prefixes} prefixes of {prefix_len} tokens, {new_tokens} new tokens, stop at EOS: {stop_at_eos}");
"""),
("markdown", "setup-md", r"""
## Set-up: a generator, an evaluator, prefixes

The paper decodes **GPT-2 large** on WebText prefixes and scores coherence with a separate, larger model, **OPT-2.7B**. At `ci` scale both roles are played by tiny GPT-2s on the project's synthetic children's stories:

- **generator**: a 2-layer, d=64 GPT-2 trained here for 150 steps (≈20 s). Like a real language model it is far from the entropy of its data (≈2.3 nats/token), which is the regime where maximisation decoding degenerates.
- **evaluator**: the shipped default model (4 layers, d=128, 2000 steps, 0.44 nats/token), trained separately on other stories — a stronger, independent scorer, as OPT-2.7B is for GPT-2 large.

At `full` scale: generator `gpt2` (124M), evaluator `gpt2-large` (the brief's substitute for OPT-2.7B, outside GPT-2 scope), prefixes from the WebText test set that **you** provide (its licence is unclear, so it is not bundled): set `GPT2LAB_WEBTEXT` to a text file of documents separated by `<|endoftext|>`, e.g. `jq -r '.text + "<|endoftext|>"' webtext.test.jsonl > webtext.test.txt`.

**Stopping.** The official scripts stop at `<|endoftext|>`; GPT-2 rarely emits it within 200 tokens of a WebText document. A story model emits it at every story end (≈70 tokens), so at `ci` we decode through it as an ordinary token (a story boundary) until the 128-token context is full: the open-ended, long-form regime of the paper.
"""),
("code", "data", r"""
let (tok, evaluator) = if scale.is_full() {
    (Gpt2Tokenizer::gpt2()?, Gpt2::from_pretrained_on("gpt2-large", &dev)?)
} else {
    let (m, t) = gpt2lab::model::load_default()?;
    (t, m)
};
let eos = tok.bos_token_id(); // <|endoftext|>
let documents: Vec<String> = match std::env::var("GPT2LAB_WEBTEXT") {
    Ok(path) if scale.is_full() => gpt2lab::data::read_documents(&path, "<|endoftext|>")?,
    _ => {
        if scale.is_full() {
            println!("GPT2LAB_WEBTEXT is not set: using synthetic stories as prefixes");
        }
        StoryGen::new(data_seed).texts(2 * n_prefixes)
    }
};
// BOS + the first prefix_len tokens of each document long enough
let prompts: Vec<Vec<u32>> = documents
    .iter()
    .filter_map(|d| tok.ids(d, true).ok().filter(|ids| ids.len() > prefix_len + 1).map(|ids| ids[..prefix_len + 1].to_vec()))
    .take(n_prefixes)
    .collect();
let prefix_texts: Vec<String> = prompts.iter().map(|p| tok.decode(&p[1..])).collect::<gpt2lab::Result<_>>()?;
claim("enough prefixes", prompts.len() == n_prefixes, format!("{} prefixes", prompts.len()));
Table::from_columns(vec![("prefix", Col::from(prefix_texts[..5].to_vec()))])?.title("the first prefixes")
"""),
("code", "generator", r"""
let generator = if scale.is_full() {
    Gpt2::from_pretrained_on("gpt2", &dev)?
} else {
    // other stories than the evaluator's (seed 1234) and the prefixes' (seed 101)
    let docs: Vec<Vec<u32>> = StoryGen::new(777 + gen_seed).texts(3000).iter().map(|s| tok.encode(s)).collect::<gpt2lab::Result<_>>()?;
    let data = TokenDataset::from_documents(&docs, Some(eos), 128)?;
    let cfg = Gpt2Config { bos_token_id: Some(eos), eos_token_id: Some(eos), ..Gpt2Config::tiny(tok.vocab_size(), 128, 64, 2, 4) };
    let lr = 3e-3;
    let tcfg = TrainConfig {
        steps: gen_steps,
        batch_size: 16,
        clip: Some(1.0),
        schedule: LrSchedule::Cosine { lr, warmup: 30, total: gen_steps, min_lr: lr / 10.0 },
        log_every: 10,
        seed: gen_seed,
        progress: false,
        ..Default::default()
    };
    let init = Gpt2::random(cfg, gen_seed, &dev)?;
    let mut trainer = Trainer::new(&init, Box::new(AdamW::new(AdamWConfig { lr, weight_decay: 0.1, ..Default::default() })), tcfg)?;
    let m = trainer.fit(&data, None)?;
    println!("generator trained: {gen_steps} steps, final train loss {:.2} nats/token, {:.0} s", m.last_train_loss().unwrap_or(f64::NAN), m.rows.last().map(|r| r.elapsed_s).unwrap_or(0.0));
    trainer.model()?
};
let (gc, ec) = (generator.config().clone(), evaluator.config().clone());
println!("generator: {} layers, d {}, {:.2}M parameters; evaluator: {} layers, d {}, {:.2}M parameters", gc.n_layer, gc.n_embd, gc.n_params() as f64 / 1e6, ec.n_layer, ec.n_embd, ec.n_params() as f64 / 1e6);
"""),
("markdown", "iso-md", r"""
## Step 1 · Isotropy of the representations

Contrastive search measures similarity with the model's **last hidden states** (for GPT-2 the output of the final LayerNorm, what the unembedding reads). That only discriminates between tokens if those states are spread out. The paper's **isotropy** is 1 − the mean cosine similarity between the representations of distinct tokens of a text, pooled over texts (official `compute_language_model_isotropy.py`: no BOS for GPT-2, ≤ 256 tokens). It reports 0.10 for GPT-2 small (anisotropic: every token in a narrow cone) and 0.5–0.8 for most other models.

Below: the generator, the evaluator / shipped default model, and an untrained model of the generator's shape, on held-out stories; and the cosine-similarity matrix of one story under the generator.
"""),
("code", "isotropy", r"""
let iso_docs: Vec<String> = if scale.is_full() { documents.iter().take(n_iso_texts).cloned().collect() } else { StoryGen::new(iso_seed).texts(n_iso_texts) };
let iso_texts: Vec<Vec<u32>> = iso_docs.iter().map(|d| tok.ids(d, false).map(|mut v| { v.truncate(iso_max_len); v })).collect::<gpt2lab::Result<_>>()?;
let shortest = iso_texts.iter().map(Vec::len).min().unwrap_or(0);
let untrained = Gpt2::random(generator.config().clone(), 0, &dev)?;
let iso_rows = [
    ("generator", model_isotropy(&generator, &iso_texts)?),
    ("evaluator (shipped default model at ci)", model_isotropy(&evaluator, &iso_texts)?),
    ("untrained, generator's shape", model_isotropy(&untrained, &iso_texts)?),
];
let iso_generator = iso_rows[0].1;
for (name, iso) in &iso_rows {
    claim(&format!("isotropy of the {name} lies in [0, 1 + 1/(T−1)]"), *iso >= 0.0 && *iso <= 1.0 + 1.0 / (shortest as f64 - 1.0), format!("{iso:.3}, shortest text {shortest} tokens"));
}
let h = last_hidden_states(&generator, &iso_texts[0][..iso_texts[0].len().min(40)])?;
let sims: Vec<Vec<f32>> = cosine_similarity_matrix(&h)?.to_vec2()?;
let labels: Vec<String> = tok.ids_to_str_tokens(&iso_texts[0][..sims.len()])?.iter().map(|t| visible_token(t)).collect();
let iso_panel = Panel::new()
    .add(Table::from_columns(vec![
        ("model", Col::from(iso_rows.iter().map(|r| r.0).collect::<Vec<_>>())),
        ("isotropy", Col::from(iso_rows.iter().map(|r| r.1).collect::<Vec<_>>())),
        ("self-similarity", Col::from(iso_rows.iter().map(|r| 1.0 - r.1).collect::<Vec<_>>())),
    ])?.title(&format!("isotropy over {} held-out texts", iso_texts.len())))
    .add(Chart::heatmap(sims, &labels, &labels)?.title("cosine similarity of the generator's last hidden states, one story"));
iso_panel
"""),
("markdown", "objective-md", r"""
## Step 2 · One contrastive-search decision

At each step, with the k most likely tokens V⁽ᵏ⁾ as candidates,

  x_t = argmax_{v ∈ V⁽ᵏ⁾} (1 − α) · **model confidence** p(v | x_<t) − α · **degeneration penalty** max_j cos(h_v, h_{x_j}).

`contrastive_search_traced` scores all k candidates in one batched forward step on the KV cache (the cache rows are duplicated k times) and records each decision. Below, the first decision of the first prefix where the penalty overrules the model's favourite.
"""),
("code", "objective", r"""
let traced = generator.contrastive_search_traced(&prompts[..1], &ContrastiveConfig::new(cs_k, cs_alpha, 40))?;
let step = traced.steps.iter().find(|s| s.chosen != 0).unwrap_or(&traced.steps[0]).clone();
let cand_text = tok.ids_to_str_tokens(&step.candidates)?;
println!("prefix: {}{}", prefix_texts[0], tok.decode(&traced.tokens[0][..step.step])?);
Table::from_columns(vec![
    ("candidate", Col::from(cand_text.iter().map(|t| visible_token(t)).collect::<Vec<_>>())),
    ("model confidence", Col::from(step.model_confidence.clone())),
    ("degeneration penalty", Col::from(step.degeneration_penalty.clone())),
    ("score", Col::from(step.score.clone())),
    ("chosen", Col::from((0..step.candidates.len()).map(|i| if i == step.chosen { "◀" } else { "" }).collect::<Vec<_>>())),
])?.title(&format!("step {}: k = {cs_k}, α = {cs_alpha}", step.step))
"""),
("markdown", "decode-md", r"""
## Step 3 · Decode every prefix with every method

The official settings: greedy; beam search (width 4); top-k sampling (k = 50); nucleus sampling (p = 0.95, 3 runs); contrastive search (k = 5, α = 0.6). All run batched on the KV cache, one forward pass per token for the whole batch (beam: prefixes × beams rows; contrastive: prefixes × k rows).
"""),
("code", "helpers", r"""
/// Runs a decoder over the prompts `size` at a time.
fn in_batches(prompts: &[Vec<u32>], size: usize, mut f: impl FnMut(&[Vec<u32>]) -> gpt2lab::Result<Vec<Vec<u32>>>) -> gpt2lab::Result<Vec<Vec<u32>>> {
    let mut out = Vec::with_capacity(prompts.len());
    for chunk in prompts.chunks(size.max(1)) {
        out.extend(f(chunk)?);
    }
    Ok(out)
}

/// A continuation as text: story/document boundaries (<|endoftext|>) become line breaks.
fn continuation_text(tok: &Gpt2Tokenizer, ids: &[u32], eos: u32) -> gpt2lab::Result<String> {
    Ok(ids.split(|&t| t == eos).map(|s| tok.decode(s)).collect::<gpt2lab::Result<Vec<_>>>()?.join("\n"))
}

/// rep-n / diversity (SimCTG counting, as the paper's script), coherence under the evaluator
/// (mean log p of the continuation given BOS + prefix), mean length in words.
struct Scores { rep: Repetition, coherence: f64, length: f64 }
fn score(outs: &[Vec<u32>], prompts: &[Vec<u32>], tok: &Gpt2Tokenizer, evaluator: &Gpt2, eos: u32, batch: usize) -> gpt2lab::Result<Scores> {
    let texts: Vec<String> = outs.iter().map(|o| continuation_text(tok, o, eos)).collect::<gpt2lab::Result<_>>()?;
    // empty continuations are skipped, as the official script does
    let pairs: Vec<(Vec<u32>, Vec<u32>)> = prompts.iter().zip(outs).filter(|(_, o)| !o.is_empty()).map(|(p, o)| (p.clone(), o.clone())).collect();
    let coh = coherence_batch(evaluator, &pairs, batch)?;
    Ok(Scores { rep: Repetition::measure(&texts, Counting::SimCtg), coherence: coh.iter().sum::<f64>() / coh.len().max(1) as f64, length: mean_length(&texts) })
}

/// (repetition, coherence) of a method in the results table.
fn get(rows: &[(String, Scores)], method: &str) -> (Repetition, f64) {
    rows.iter().find(|r| r.0 == method).map(|r| (r.1.rep, r.1.coherence)).expect("a decoded method")
}
"""),
("code", "decode", r"""
let stops: Vec<u32> = if stop_at_eos { vec![eos] } else { vec![] };
let beam_cfg = { let c = BeamConfig::new(beam_width, new_tokens); if stop_at_eos { c.eos(eos) } else { c } };
let mut runs: Vec<(String, Vec<Vec<u32>>)> = vec![];
let mut seconds: Vec<(String, f64)> = vec![];
let t = Instant::now();
runs.push(("greedy".into(), in_batches(&prompts, batch, |p| generator.generate_batch(p, &GenerateConfig::greedy(new_tokens).stop_at(&stops), &HookSpec::new(), None))?));
seconds.push(("greedy".into(), t.elapsed().as_secs_f64()));
let t = Instant::now();
runs.push(("beam".into(), in_batches(&prompts, batch, |p| Ok(generator.beam_search_batch(p, &beam_cfg)?.into_iter().map(|o| o.tokens().to_vec()).collect()))?));
seconds.push((format!("beam ({beam_width})"), t.elapsed().as_secs_f64()));
let t = Instant::now();
runs.push(("top-k".into(), in_batches(&prompts, batch, |p| generator.generate_batch(p, &GenerateConfig::sample(new_tokens, 1.0, data_seed).top_k(top_k).stop_at(&stops), &HookSpec::new(), None))?));
seconds.push((format!("top-k ({top_k})"), t.elapsed().as_secs_f64()));
let t = Instant::now();
for r in 0..nucleus_runs {
    runs.push(("nucleus".into(), in_batches(&prompts, batch, |p| generator.generate_batch(p, &GenerateConfig::sample(new_tokens, 1.0, 1000 + r as u64).top_p(top_p).stop_at(&stops), &HookSpec::new(), None))?));
}
seconds.push((format!("nucleus ({top_p}, {nucleus_runs} runs)"), t.elapsed().as_secs_f64()));
let t = Instant::now();
let cs_cfg = ContrastiveConfig::new(cs_k, cs_alpha, new_tokens).stop_at(&stops);
runs.push(("contrastive".into(), in_batches(&prompts, batch, |p| generator.contrastive_search_batch(p, &cs_cfg))?));
seconds.push((format!("contrastive (k={cs_k}, α={cs_alpha})"), t.elapsed().as_secs_f64()));
Table::from_columns(vec![
    ("method", Col::from(seconds.iter().map(|s| s.0.clone()).collect::<Vec<_>>())),
    ("seconds", Col::from(seconds.iter().map(|s| s.1).collect::<Vec<_>>())),
])?.title(&format!("decoding {} prefixes × {new_tokens} tokens", prompts.len()))
"""),
("markdown", "exact-md", r"""
### α = 0 is greedy search

With α = 0 the objective is the model confidence alone, so contrastive search must reproduce greedy decoding exactly — through the same batched candidate step and cache bookkeeping that α > 0 uses.
"""),
("code", "exact", r"""
let greedy_out = runs[0].1.clone();
let mut alpha0: Vec<(usize, Vec<Vec<u32>>)> = vec![];
for k in sweep_k {
    let out = in_batches(&prompts, batch, |p| generator.contrastive_search_batch(p, &ContrastiveConfig::new(k, 0.0, new_tokens).stop_at(&stops)))?;
    let same = out.iter().zip(&greedy_out).filter(|(a, b)| a == b).count();
    claim(&format!("contrastive search with k = {k}, α = 0 equals greedy search token for token"), same == prompts.len(), format!("{same}/{} continuations identical", prompts.len()));
    alpha0.push((k, out));
}
println!("α = 0 reproduced greedy decoding for k = {sweep_k:?}");
"""),
("markdown", "metrics-md", r"""
## Step 4 · Repetition, diversity, coherence

- **rep-n** = 1 − unique n-grams / total n-grams (whitespace words, counted within each continuation, summed over continuations; SimCTG's `measure_repetition_and_diversity`), **diversity** = Π_{n=2..4} (1 − rep-n). Higher diversity = less repetition.
- **coherence** = mean log-probability of the continuation given BOS + prefix under the **evaluator** (higher is better). The paper's evaluator is OPT-2.7B; here it is the shipped default model at `ci`, `gpt2-large` at `full`.

Sampling methods are averaged over their runs (nucleus: 3).
"""),
("code", "metrics", r"""
let methods = ["greedy", "beam", "top-k", "nucleus", "contrastive"];
let mut table_rows: Vec<(String, Scores)> = vec![];
for m in methods {
    let scored: Vec<Scores> = runs.iter().filter(|r| r.0 == m).map(|r| score(&r.1, &prompts, &tok, &evaluator, eos, batch)).collect::<gpt2lab::Result<_>>()?;
    let n = scored.len() as f64;
    let mean = |f: &dyn Fn(&Scores) -> f64| scored.iter().map(|s| f(s)).sum::<f64>() / n;
    let rep = Repetition { rep_2: mean(&|s| s.rep.rep_2), rep_3: mean(&|s| s.rep.rep_3), rep_4: mean(&|s| s.rep.rep_4), diversity: mean(&|s| s.rep.diversity) };
    table_rows.push((m.to_string(), Scores { rep, coherence: mean(&|s| s.coherence), length: mean(&|s| s.length) }));
}
Table::from_columns(vec![
    ("method", Col::from(table_rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>())),
    ("rep-2", Col::from(table_rows.iter().map(|r| r.1.rep.rep_2).collect::<Vec<_>>())),
    ("rep-3", Col::from(table_rows.iter().map(|r| r.1.rep.rep_3).collect::<Vec<_>>())),
    ("rep-4", Col::from(table_rows.iter().map(|r| r.1.rep.rep_4).collect::<Vec<_>>())),
    ("diversity", Col::from(table_rows.iter().map(|r| r.1.rep.diversity).collect::<Vec<_>>())),
    ("coherence", Col::from(table_rows.iter().map(|r| r.1.coherence).collect::<Vec<_>>())),
    ("length (words)", Col::from(table_rows.iter().map(|r| r.1.length).collect::<Vec<_>>())),
])?.title(&format!("{} prefixes, generator decoded {new_tokens} tokens each", prompts.len())).sig_digits(3).bars("diversity")
"""),
("code", "examples", r"""
let shown: Vec<usize> = vec![0, 1, 2, 3, 5];
Table::from_columns(vec![
    ("method", Col::from(shown.iter().map(|&i| runs[i].0.clone()).collect::<Vec<_>>())),
    ("continuation of the first prefix", Col::from(shown.iter().map(|&i| continuation_text(&tok, &runs[i].1[0], eos).map(|s| s.replace('\n', " ⏎ "))).collect::<gpt2lab::Result<Vec<_>>>()?)),
])?.title(&format!("prefix: {}", prefix_texts[0]))
"""),
("markdown", "sweep-md", r"""
## Step 5 · The penalty weight α

The brief's grid, k ∈ {4, 5} × α ∈ {0, 0.2, 0.4, 0.6, 0.8}: α trades coherence for diversity, and α = 0 is greedy. (α = 0 reuses the runs above.)
"""),
("code", "sweep", r"""
let mut curves: Vec<(usize, Vec<(f64, f64)>, Vec<(f64, f64)>)> = vec![];
for k in sweep_k {
    let (mut div, mut coh) = (vec![], vec![]);
    for &a in &sweep_alpha {
        let out = if a == 0.0 {
            alpha0.iter().find(|r| r.0 == k).expect("computed above").1.clone()
        } else if k == cs_k && a == cs_alpha {
            runs.iter().find(|r| r.0 == "contrastive").expect("decoded").1.clone()
        } else {
            in_batches(&prompts, batch, |p| generator.contrastive_search_batch(p, &ContrastiveConfig::new(k, a, new_tokens).stop_at(&stops)))?
        };
        let s = score(&out, &prompts, &tok, &evaluator, eos, batch)?;
        div.push((a, s.rep.diversity));
        coh.push((a, s.coherence));
    }
    curves.push((k, div, coh));
}
let mut d = Chart::lines("diversity vs α").x_label("α").y_label("diversity");
let mut c = Chart::lines("coherence vs α").x_label("α").y_label("coherence (evaluator log p)");
for (k, div, coh) in &curves {
    d = d.series(&format!("k = {k}"), div);
    c = c.series(&format!("k = {k}"), coh);
}
let (g, n) = (get(&table_rows, "greedy"), get(&table_rows, "nucleus"));
d = d.series("greedy", &[(0.0, g.0.diversity), (0.8, g.0.diversity)]).series("nucleus", &[(0.0, n.0.diversity), (0.8, n.0.diversity)]);
c = c.series("greedy", &[(0.0, g.1), (0.8, g.1)]).series("nucleus", &[(0.0, n.1), (0.8, n.1)]);
let sweep_panel = Panel::new().add(d).add(c).row();
sweep_panel
"""),
("markdown", "shipped-md", r"""
## Step 6 · A model that does not degenerate

The same comparison with the shipped default model as the generator (first 20 prefixes, scored by itself). It fits its templated stories almost perfectly (0.44 nats/token): greedy decoding writes the most typical story again and again but does not loop inside one, so the gap the paper reports — and that the under-trained generator above shows — shrinks to a few points of diversity. Degeneration is a property of the model–decoder pair, not of greedy search alone.
"""),
("code", "shipped", r"""
let shipped = gpt2lab::model::Gpt2::default_model()?;
let shipped_tok = Gpt2Tokenizer::for_default_model()?;
let (sp, st_eos) = if scale.is_full() {
    // the shipped model has its own compact vocabulary: re-tokenise story prefixes
    let docs = StoryGen::new(data_seed).texts(40);
    (docs.iter().filter_map(|d| shipped_tok.ids(d, true).ok().filter(|v| v.len() > 9).map(|v| v[..9].to_vec())).take(20).collect::<Vec<_>>(), shipped_tok.bos_token_id())
} else {
    (prompts[..20].to_vec(), eos)
};
let n_new = shipped.config().n_positions - sp.iter().map(Vec::len).max().unwrap_or(0);
let sg = shipped.generate_batch(&sp, &GenerateConfig::greedy(n_new), &HookSpec::new(), None)?;
let sc = shipped.contrastive_search_batch(&sp, &ContrastiveConfig::new(cs_k, cs_alpha, n_new))?;
let (a, b) = (score(&sg, &sp, &shipped_tok, &shipped, st_eos, 20)?, score(&sc, &sp, &shipped_tok, &shipped, st_eos, 20)?);
let shipped_div = (a.rep.diversity, b.rep.diversity);
Table::from_columns(vec![
    ("shipped model, decoded with", Col::from(vec!["greedy", "contrastive (k=5, α=0.6)"])),
    ("rep-2", Col::from(vec![a.rep.rep_2, b.rep.rep_2])),
    ("rep-4", Col::from(vec![a.rep.rep_4, b.rep.rep_4])),
    ("diversity", Col::from(vec![a.rep.diversity, b.rep.diversity])),
    ("self-coherence", Col::from(vec![a.coherence, b.coherence])),
])?.title(&format!("{} prefixes × {n_new} tokens", sp.len())).sig_digits(3)
"""),
("markdown", "claims-md", r"""
## Claims

Exact and structural checks came first (α = 0 ≡ greedy above; isotropy bounds in step 1). The directional claims below held, with room to spare, for each of 3 generator seeds (7, 1, 2) × 3 prefix sets (seeds 101, 202, 303) when this notebook was written (this configuration otherwise): diversity of greedy ≤ 0.028 and of beam ≤ 0.065 against ≥ 0.88 for contrastive search; rep-2 of greedy ≥ 0.76 against ≤ 0.077; coherence of contrastive search −4.37 … −4.59 against −6.70 … −6.82 for nucleus sampling. Contrastive search was also more coherent than greedy in 6 of the 9 runs; that is reported, not asserted.
"""),
("code", "claims", r"""
let (greedy, beam, nucleus, cs) = (get(&table_rows, "greedy"), get(&table_rows, "beam"), get(&table_rows, "nucleus"), get(&table_rows, "contrastive"));
claim("greedy repeats far more than contrastive search (diversity gap > 0.5)", cs.0.diversity - greedy.0.diversity > 0.5, format!("diversity {:.3} vs {:.3}", greedy.0.diversity, cs.0.diversity));
claim("beam search repeats far more than contrastive search (diversity gap > 0.5)", cs.0.diversity - beam.0.diversity > 0.5, format!("diversity {:.3} vs {:.3}", beam.0.diversity, cs.0.diversity));
claim("rep-2 of contrastive search is below a quarter of greedy's", cs.0.rep_2 < greedy.0.rep_2 / 4.0, format!("rep-2 {:.3} vs {:.3}", cs.0.rep_2, greedy.0.rep_2));
claim("contrastive search is more coherent than nucleus sampling (by > 1 nat/token)", cs.1 - nucleus.1 > 1.0, format!("coherence {:.2} vs {:.2}", cs.1, nucleus.1));
println!("total compute time of this notebook: {:.0} s", t_start.elapsed().as_secs_f64());
"""),
("markdown", "paper-md", r"""
## Paper vs ours

Paper numbers: the repository's stored results for GPT-2 large on WebText (diversity in %, coherence under OPT-2.7B), and the README's isotropy of GPT-2 small.
"""),
("code", "paper", r"""
let paper_rows = [
    ("greedy", "greedy", "5.38", "−0.58"),
    ("beam (4)", "beam", "4.04", "−0.46"),
    ("top-k (50)", "top-k", "91.33", "−2.35"),
    ("nucleus (0.95)", "nucleus", "93.61", "−2.88"),
    ("contrastive (5, 0.6)", "contrastive", "92.54", "−1.52"),
];
let mut rows: Vec<(&str, &str, &str, String, String)> = vec![];
for (label, method, div, coh) in paper_rows {
    let (rep, c) = get(&table_rows, method);
    rows.push((label, div, coh, format!("{:.1}", 100.0 * rep.diversity), format!("{:.2}", c)));
}
rows.push(("human reference", "93.62", "", String::new(), String::new()));
let (h_div, h_coh) = (format!("ours diversity % ({scale})"), format!("ours coherence ({scale})"));
let diversity_table = Table::from_columns(vec![
    ("method", Col::from(rows.iter().map(|r| r.0).collect::<Vec<_>>())),
    ("paper diversity %", Col::from(rows.iter().map(|r| r.1).collect::<Vec<_>>())),
    ("paper coherence", Col::from(rows.iter().map(|r| r.2).collect::<Vec<_>>())),
    (h_div.as_str(), Col::from(rows.iter().map(|r| r.3.clone()).collect::<Vec<_>>())),
    (h_coh.as_str(), Col::from(rows.iter().map(|r| r.4.clone()).collect::<Vec<_>>())),
])?.title("open-ended generation");
let mut by_div: Vec<(String, f64)> = table_rows.iter().map(|r| (r.0.clone(), r.1.rep.diversity)).collect();
by_div.sort_by(|a, b| a.1.total_cmp(&b.1));
let mut by_coh: Vec<(String, f64)> = table_rows.iter().map(|r| (r.0.clone(), r.1.coherence)).collect();
by_coh.sort_by(|a, b| b.1.total_cmp(&a.1));
let div_order = by_div.iter().map(|r| r.0.as_str()).collect::<Vec<_>>().join(" < ");
let coh_order = by_coh.iter().map(|r| r.0.as_str()).collect::<Vec<_>>().join(" > ");
let notes = Table::from_columns(vec![
    ("", Col::from(vec!["isotropy", "generator / evaluator", "diversity ordering", "coherence ordering", "shipped model", "MAUVE, human evaluation, 16 languages"])),
    ("paper", Col::from(vec![
        "gpt2 0.10, gpt2-medium 0.25, gpt2-large 0.70, most models 0.5–0.8".to_string(),
        "GPT-2 large (774M) / OPT-2.7B".to_string(),
        "beam < greedy ≪ top-k < contrastive < nucleus ≈ human".to_string(),
        "beam > greedy > contrastive > top-k > nucleus".to_string(),
        "—".to_string(),
        "contrastive ≈ nucleus on MAUVE; human-level in 12 of 16 languages".to_string(),
    ])),
    ("ours", Col::from(vec![
        format!("generator {iso_generator:.2} (tiny models here are isotropic)"),
        format!("{} / {}", if scale.is_full() { "gpt2" } else { "2-layer d64 GPT-2, 150 steps" }, if scale.is_full() { "gpt2-large" } else { "shipped default model" }),
        div_order,
        coh_order,
        format!("diversity greedy {:.2} vs contrastive {:.2}: no degeneration to fix", shipped_div.0, shipped_div.1),
        "not measured".to_string(),
    ])),
    ("full scale would show", Col::from(vec![
        "gpt2 ≈ 0.10 (±0.02) on the paper's WIT texts; WebText texts are a stand-in".to_string(),
        "gpt2 / gpt2-large (OPT is outside GPT-2 scope)".to_string(),
        "the paper's ordering, measured on gpt2 (124M) instead of gpt2-large".to_string(),
        "the paper's ordering up to the evaluator; absolute values shift with it".to_string(),
        "—".to_string(),
        "MAUVE needs its own featurizer model; human evaluation is not reproducible".to_string(),
    ])),
    ("ci cannot show", Col::from(vec![
        "anisotropy: every tiny model here is isotropic, so the paper's caveat for GPT-2 small is untested".to_string(),
        "a scorer of natural language: ours knows only the same story templates".to_string(),
        "values comparable to WebText's".to_string(),
        "greedy above contrastive: our under-trained generator's loops are incoherent enough that the evaluator ranks greedy lower (6 of 9 seed/prefix runs)".to_string(),
        "—".to_string(),
        "any of it".to_string(),
    ])),
])?.title("what carries over");
let paper_panel = Panel::new().add(diversity_table).add(notes);
paper_panel
"""),
("markdown", "full-md", r"""
## Running at full scale

`GPT2LAB_SCALE=full GPT2LAB_WEBTEXT=/path/to/webtext.test.txt` (a CUDA build uses the first GPU) runs the same cells in the paper's setting: `gpt2` from the hub decodes the first 1000 WebText test documents (40-token prefixes, 200 new tokens, stopping at `<|endoftext|>` as the official scripts do), `gpt2-large` scores coherence, isotropy is measured on the first 2000 documents (≤ 256 tokens; the paper used WIT, supplied by the user, under CC BY-SA). Expect hours on a CPU. Differences from the repository that remain: the paper's generator is gpt2-large and its evaluator OPT-2.7B; beam search follows Hugging Face's conventions (length penalty 1.0, heuristic early stop) rather than SimCTG's own beam search; MAUVE is not computed.
"""),
]

write_notebook(os.path.join(ROOT, "notebooks/06-contrastive-search.ipynb"), cells, rust_check=os.path.join(ROOT, "target/nbcheck/nb06.rs") if "--check" in sys.argv else None)
