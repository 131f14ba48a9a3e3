"""Source of notebooks/04-mission-impossible.ipynb: `python3 notebooks/src/04-mission-impossible.py`
rewrites the notebook (no outputs, stable cell ids)."""
import sys
import os
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from nbgen import write_notebook

cells = [
("markdown", "intro", r"""
# Mission: Impossible Language Models (Kallini et al., ACL 2024)

**The paper in three sentences.** Chomsky and others have claimed that large language models learn possible and impossible human languages equally well. Kallini et al. test this by building synthetic *impossible languages* from English — random and deterministic token shuffles, reversals after a marker, and agreement markers placed by counting tokens or words — and training GPT-2 small from scratch on each perturbed BabyLM corpus. Judged at many checkpoints, GPT-2 learns the impossible languages less efficiently than English: the English controls reach the lowest perplexity and the random shuffle the highest (Experiment 1), and models learn to expect a marker right after the verb far better than a marker placed 4 tokens or 4 words later (Experiment 2).

**What this notebook tests.** The perturbations exactly as the official repository (`jkallini/mission-impossible-language-models`, `utils.py`) defines them, applied to the library's annotated MiniEnglish grammar (so the hop rules need no tagger); then one tiny GPT-2 per language, trained from scratch, with the paper's two measurements over checkpoints. We assert the exact properties of the perturbations, that the nondeterministic shuffle ends with clearly higher perplexity than English, and that NoHop expects its marker best.

> ci scale reproduces the method and the qualitative effect on synthetic data; it does not reproduce the paper's numbers.

Not here: the models *without positional encodings* (the library has no `pos_embedding = none` option yet), Experiment 3 (interchange interventions), and the constituency-probing appendix.
"""),
("code", "setup", r"""
use gpt2lab::data::perturb::*;
use gpt2lab::data::{Pcfg, Sentence};
use gpt2lab::eval::*;
use Language::*;
let scale = Scale::from_env();
let dev = if scale.is_full() { Device::cuda_if_available(0)? } else { Device::Cpu };
// every size in one place
let n_train: usize = scale.pick(20_000, 0);     // MiniEnglish sentences (full: BabyLM 100M)
let n_test: usize = scale.pick(4_000, 0);
let max_test: usize = scale.pick(400, 10_000);  // affected test sentences per language (paper: 1,000 per BabyLM test file)
let ctx: usize = scale.pick(64, 1024);
let seed: u64 = 21;                           // the paper's seeds: 21, 57, 84
let run_cfg = if scale.is_full() {
    RunConfig::paper(seed, Some("target/mission-impossible".into()))
} else {
    RunConfig {
        model: Gpt2Config::tiny(0, ctx, 64, 3, 4), // vocab size set from the data
        steps: 300, batch_size: 16, grad_accum: 1,
        lr: 3e-3, warmup: 30, weight_decay: 0.1,   // paper: 6e-4, warmup 300 of 3,000 steps
        checkpoints: (1..=6).map(|k| 50 * k).collect(),
        eval_batch: 64, seed, save_dir: None,
    }
};
let trained: Vec<Language> = if scale.is_full() { Language::PAPER.to_vec() } else { vec![NoShuffle, NondeterministicShuffle, NoHop, TokenHop, WordHop] };
let threads: usize = scale.pick(2, 1);          // ci: two runs side by side, one per core
println!("scale = {scale}: {} languages trained, {} steps × {}×{} tokens, checkpoints {:?}",
         trained.len(), run_cfg.steps, run_cfg.batch_size * run_cfg.grad_accum, ctx, run_cfg.checkpoints);
"""),
("markdown", "languages-md", r"""
## The impossible languages

Each language is the repository's triple *perturb / affect / filter* (`PERTURBATIONS` in `utils.py`), acting on GPT-2 tokens:

- **\*Shuffle** (all sentences affected; kept when 2–350 tokens): `NoShuffle` leaves English alone; `NondeterministicShuffle` draws a fresh permutation per sentence; `DeterministicShuffle(s)` one permutation per sentence *length*, from `default_rng(s)`; `LocalShuffle(w)` permutes within windows of `w` tokens; `EvenOddShuffle` puts even-index tokens first.
- **\*Reverse**: a marker 🅁 at a random index (one generator, seed 21); `PartialReverse` reverses what follows it, `FullReverse` everything.
- **\*Hop** (affected: sentences with a 3rd-person present verb; kept when every hop completes): the verb is lemmatised and a singular 🅂 / plural 🄿 marker follows it — immediately (`NoHop`), after 4 tokens (`TokenHop`), or after 4 words, punctuation skipped (`WordHop`). Hop sentences are rebuilt from words joined by spaces, as the repository does.

The generators are numpy's own (`NumpyRng` is `default_rng`, bit-exact), so the permutations and marker positions are the repository's. Below: one MiniEnglish sentence in every language of the ci suite (tokens separated by spaces, `·` = a token's leading space).
"""),
("code", "languages", r"""
let g = Pcfg::english_small();
let example: Sentence = g.generate(3000, 5).into_iter()
    .find(|s| affect_hop(s) && filter_hop(s) && s.words.iter().any(|w| w.pos == gpt2lab::data::Pos::Punct && w.text == ",") && s.len() <= 16)
    .expect("an example sentence");
let suite = vec![NoShuffle, NondeterministicShuffle, DeterministicShuffle(21), LocalShuffle(3), EvenOddShuffle,
                 NoReverse, PartialReverse, FullReverse, NoHop, TokenHop, WordHop];
let mut rows = vec![];
for &l in &suite {
    let mut p = Perturber::new(l)?;
    let toks = p.perturb(&example)?;
    let shown: Vec<String> = p.str_tokens(&toks)?.iter().map(|t| visible_token(t)).collect();
    rows.push(vec![l.family().name().to_string(), l.name(), l.repo_key(), shown.join(" ")]);
}
println!("English: {}", example.to_text());
let table = Table::from_rows(&["family", "language", "repository key", "perturbed GPT-2 tokens"], rows)?.title("one sentence in every language");
table
"""),
("markdown", "exact-md", r"""
## Exact checks on a whole corpus

Structural facts that must hold for every sentence, checked on 3,000 fresh MiniEnglish sentences (the unit tests in `tests/perturb.rs` check the same rules on hand-written sentences, the numpy generator against numpy's own output, and the word-hop placement was checked against a transcription of the repository's function: 0 mismatches on 2,028 affected sentences).
"""),
("code", "exact", r"""
let sample = g.generate(3000, 9);
let corpora: Vec<PerturbedCorpus> = suite.iter().map(|&l| Perturber::new(l)?.corpus(&sample)).collect::<Result<_, Error>>()?;
{
    let by = |l: Language| &corpora[suite.iter().position(|&x| x == l).unwrap()];
    let sorted = |v: &[u32]| { let mut v = v.to_vec(); v.sort_unstable(); v };
    let strip = |v: &[u32]| v.iter().copied().filter(|&t| !is_marker(t)).collect::<Vec<u32>>();
    let english = &by(NoShuffle).affected;
    for l in [NondeterministicShuffle, DeterministicShuffle(21), LocalShuffle(3), EvenOddShuffle] {
        let ok = by(l).affected.len() == english.len() && by(l).affected.iter().zip(english).all(|(a, b)| sorted(a) == sorted(b));
        claim(&format!("{l} keeps every sentence's token multiset"), ok, format!("{} sentences", english.len()));
    }
    let windows_ok = by(LocalShuffle(3)).affected.iter().zip(english).all(|(a, b)| a.chunks(3).zip(b.chunks(3)).all(|(x, y)| sorted(x) == sorted(y)));
    claim("LocalShuffle(3) moves no token out of its window of 3", windows_ok, "");
    let (no, part, full) = (&by(NoReverse).affected, &by(PartialReverse).affected, &by(FullReverse).affected);
    let invol = full.iter().zip(no).all(|(f, n)| { let mut f = f.clone(); f.reverse(); &f == n });
    claim("FullReverse is an involution: reversing it again gives NoReverse", invol, format!("{} sentences", no.len()));
    let partial_ok = part.iter().zip(no).all(|(p, n)| {
        let m = p.iter().position(|&t| t == MARKER_REV_ID).unwrap();
        let mut rest = p[m + 1..].to_vec(); rest.reverse();
        p[..=m] == n[..=m] && rest == n[m + 1..]
    });
    claim("PartialReverse = NoReverse with the tokens after 🅁 reversed", partial_ok, "");
    claim("NoReverse minus 🅁 is English", no.iter().zip(english).all(|(n, e)| &strip(n) == e), "");
    let (h0, ht, hw) = (by(NoHop), by(TokenHop), by(WordHop));
    claim("the hop languages differ only in where the markers are",
          h0.affected.iter().zip(&ht.affected).zip(&hw.affected).all(|((a, b), c)| strip(a) == strip(b) && strip(a) == strip(c)), format!("{} affected sentences", h0.affected.len()));
    let first = |v: &Vec<u32>| v.iter().position(|&t| is_marker(t)).unwrap();
    claim("TokenHop's first marker sits exactly 4 tokens after NoHop's",
          h0.affected.iter().zip(&ht.affected).all(|(a, b)| first(b) == first(a) + HOPS), "");
    let expect_kept = sample.iter().filter(|s| affect_hop(s) && filter_hop(s)).count();
    let expect_unaffected = sample.iter().filter(|s| !affect_hop(s)).count();
    claim("the hop filter drops exactly the sentences whose hops do not complete",
          h0.affected.len() == expect_kept && h0.unaffected.len() == expect_unaffected && hw.affected.len() == expect_kept,
          format!("{expect_kept} kept, {} dropped, {expect_unaffected} unaffected", h0.dropped));
    let differ = ht.affected.iter().zip(&hw.affected).filter(|(a, b)| a != b).count();
    claim("TokenHop and WordHop are different languages here", differ > 0, format!("they differ on {differ} of {} sentences", ht.affected.len()));
}
let rows: Vec<Vec<String>> = suite.iter().zip(&corpora).map(|(l, c)| vec![l.name(), c.affected.len().to_string(), c.unaffected.len().to_string(), c.dropped.to_string(), c.n_tokens().to_string()]).collect();
let table = Table::from_rows(&["language", "affected (kept)", "unaffected", "dropped", "tokens"], rows)?.title("perturb / affect / filter on 3,000 sentences");
table
"""),
("markdown", "data-md", r"""
## Training corpora

`ci`: 20,000 MiniEnglish sentences for training and 4,000 more for testing, perturbed into each trained language. A training corpus is the kept sentences (unaffected ones too), each followed by `<|endoftext|>`, packed into blocks; the test set is the first 400 *affected* sentences, as the paper evaluates on affected test sentences. All languages share one compact vocabulary (`<|endoftext|>`, 🅂, 🄿, 🅁, then the GPT-2 ids used), so every model has the same size. `full`: BabyLM 100M from `$GPT2LAB_BABYLM` (laid out as the repository expects; hop needs its Stanza-tagged `*_dep.json`), the whole GPT-2 vocabulary plus the markers.
"""),
("code", "data", r"""
let data: Vec<LanguageData> = if scale.is_full() {
    let dir = std::path::PathBuf::from(std::env::var("GPT2LAB_BABYLM").map_err(|_| Error::Msg("set GPT2LAB_BABYLM to a BabyLM directory (babylm_100M/, babylm_test/)".into()))?);
    trained.iter().map(|&l| babylm_language_data(l, &dir, "100M", max_test, ctx)).collect::<Result<_, Error>>()?
} else {
    perturb_languages(&trained, &g.generate(n_train, 1), &g.generate(n_test, 2), max_test, ctx)?
};
let vocab = if scale.is_full() { gpt2_vocab_with_markers() } else { shared_vocab(&data) };
claim("markers are the vocabulary's specials 1–3", vocab.encode(&MARKER_IDS)? == vec![1, 2, 3], format!("vocabulary of {} ids", vocab.len()));
let rows: Vec<Vec<String>> = data.iter().map(|d| vec![d.language.name(), d.train.n_sentences().to_string(), d.train.affected.len().to_string(), d.train.n_tokens().to_string(), d.test.len().to_string()]).collect();
let table = Table::from_rows(&["language", "train sentences", "of which affected", "train tokens", "test sentences"], rows)?.title("training and test data");
table
"""),
("markdown", "train-md", r"""
## One GPT-2 per language, from scratch

`ci`: GPT-2 with 3 layers, d_model 64, 4 heads, context 64 (~0.2M parameters); AdamW, linear warmup then linear decay (the paper's schedule shape), 300 steps of 16 × 64 tokens (~0.3M tokens per language); two runs at a time, one per core. At every checkpoint we compute the paper's two measurements on the language's own test sentences. `full`: GPT-2 small, 3,000 steps of 2¹⁹ tokens, warmup 300 to 6e-4, checkpoints every 100 steps written to `target/mission-impossible/`.
"""),
("code", "train", r"""
let t0 = std::time::Instant::now();
let runs: Vec<LanguageRun> = parallel_map(data.iter().collect(), threads, |d| train_language(d, &vocab, &run_cfg, &dev))
    .into_iter().collect::<Result<_, Error>>()?;
let wall = t0.elapsed().as_secs_f64();
let total_tokens: usize = runs.iter().map(|r| r.train_tokens).sum();
println!("{} models ({} parameters each) in {wall:.1} s: {:.0} training tokens/s over all runs", runs.len(), runs[0].n_params, total_tokens as f64 / wall);
let rows: Vec<Vec<String>> = runs.iter().map(|r| vec![r.language.name(), r.train_tokens.to_string(), format!("{:.1}", r.train_seconds), format!("{:.0}", r.train_tokens as f64 / r.train_seconds)]).collect();
let table = Table::from_rows(&["language", "training tokens", "seconds (incl. evaluation)", "tokens/s"], rows)?.title("training runs");
table
"""),
("markdown", "exp1-md", r"""
## Experiment 1: perplexity over training

The paper's Figure 2: for each checkpoint, the geometric mean over test sentences of each sentence's perplexity (`perplexities.py`: sentences scored on their own, no BOS, padding masked). Each model is scored on its own language.
"""),
("code", "exp1", r"""
{
    let family_chart = |fam: Family, title: &str| {
        let mut c = Chart::lines(title).x_label("training step").y_label("geometric-mean perplexity").log_y();
        for r in runs.iter().filter(|r| r.language.family() == fam) {
            c = c.series(&r.language.name(), &r.perplexity_curve());
        }
        c
    };
    Panel::new()
        .add(family_chart(Family::Shuffle, "*Shuffle languages"))
        .add(family_chart(Family::Hop, "*Hop languages"))
        .grid(2)
}
"""),
("code", "exp1-claims", r"""
let final_ppl: Vec<(Language, f64)> = runs.iter().map(|r| (r.language, r.last().perplexity)).collect();
{
    let curve = |l: Language| runs.iter().find(|r| r.language == l).map(|r| r.perplexity_curve()).unwrap();
    let (eng, shuf) = (curve(NoShuffle), curve(NondeterministicShuffle));
    let (e_end, s_end) = (eng.last().unwrap().1, shuf.last().unwrap().1);
    claim("Exp 1: NondeterministicShuffle ends with clearly higher perplexity than NoShuffle (more than 2×)",
          s_end > 2.0 * e_end, format!("{s_end:.1} vs {e_end:.1}"));
    claim("… and is higher at every checkpoint (equal steps)", eng.iter().zip(&shuf).all(|(e, s)| s.1 > e.1),
          format!("{} checkpoints", eng.len()));
    let others: Vec<String> = final_ppl.iter().filter(|(l, _)| l.family() == Family::Shuffle && *l != NoShuffle).map(|(l, p)| format!("{l} {p:.1}")).collect();
    claim("NoShuffle has the lowest final perplexity among the shuffle models",
          final_ppl.iter().all(|(l, p)| l.family() != Family::Shuffle || *l == NoShuffle || *p > e_end),
          format!("NoShuffle {e_end:.1}; {}", others.join(", ")));
};
"""),
("markdown", "exp2-md", r"""
## Experiment 2: do the models expect the marker?

`hop_surprisal.py`: on affected test sentences (with `<|endoftext|>` appended), the surprisal in bits of the *first* marker, and of the token at the same index once that marker is deleted. A model that has learnt the rule gives the marker low surprisal and the marker-less continuation high surprisal, so the difference *no marker − marker* is large. The paper finds NoHop learns this best and fastest; TokenHop and WordHop, whose rules need counting, learn it more slowly.
"""),
("code", "exp2", r"""
{
    let mut marker = Chart::lines("surprisal of the marker").x_label("training step").y_label("bits");
    let mut diff = Chart::lines("no-marker − marker surprisal").x_label("training step").y_label("bits");
    for r in runs.iter().filter(|r| r.language.family() == Family::Hop) {
        let (m, n) = r.surprisal_curves();
        marker = marker.series(&r.language.name(), &m);
        let d: Vec<(f64, f64)> = m.iter().zip(&n).map(|(a, b)| (a.0, b.1 - a.1)).collect();
        diff = diff.series(&r.language.name(), &d);
    }
    Panel::new().add(marker).add(diff).grid(2)
}
"""),
("code", "exp2-claims", r"""
// final (marker surprisal, no-marker − marker) of NoHop, TokenHop, WordHop, in bits
let hop_final: Vec<(f64, f64)> = [NoHop, TokenHop, WordHop].iter().map(|&l| {
    let c = runs.iter().find(|r| r.language == l).unwrap().last();
    (c.marker_surprisal.unwrap(), c.surprisal_difference().unwrap())
}).collect();
let (no, th, wh) = (hop_final[0], hop_final[1], hop_final[2]);
claim("Exp 2: at the end, NoHop's marker surprisal is lower than TokenHop's and WordHop's (by > 1 bit)",
      no.0 + 1.0 < th.0 && no.0 + 1.0 < wh.0,
      format!("NoHop {:.2}, TokenHop {:.2}, WordHop {:.2} bits", no.0, th.0, wh.0));
claim("… and NoHop's surprisal difference (no marker − marker) is the largest (by > 1 bit)",
      no.1 > th.1 + 1.0 && no.1 > wh.1 + 1.0,
      format!("NoHop {:.2}, TokenHop {:.2}, WordHop {:.2} bits", no.1, th.1, wh.1));
"""),
("code", "results", r"""
{
    let opt = |x: Option<f64>| x.map(|v| format!("{v:.2}")).unwrap_or_else(|| "–".into());
    let rows: Vec<Vec<String>> = runs.iter().map(|r| {
        let l = r.last();
        vec![r.language.name(), format!("{:.2}", l.perplexity), opt(l.marker_surprisal), opt(l.no_marker_surprisal), opt(l.surprisal_difference())]
    }).collect();
    Table::from_rows(&["language", "final perplexity (geo. mean)", "marker (bits)", "no marker (bits)", "difference (bits)"], rows)?
        .title(&format!("after {} steps", run_cfg.steps))
}
"""),
("markdown", "paper-md", r"""
## Paper vs. ours

The brief we work from states the paper's results as orderings (exact values are in the paper's Figures 2–3 and are not copied here). Our ci numbers come from the cells above (seed 21); the same orderings held, with wide margins, for seeds 0, 1 and 2 when this notebook was written.
"""),
("code", "paper-vs-ours", r"""
{
    let ppl_of = |l: Language| final_ppl.iter().find(|x| x.0 == l).unwrap().1;
    let e1 = format!("NoShuffle {:.1}, NondeterministicShuffle {:.1} (final geometric-mean perplexity)", ppl_of(NoShuffle), ppl_of(NondeterministicShuffle));
    let e2 = format!("marker surprisal NoHop {:.2} / TokenHop {:.2} / WordHop {:.2} bits; difference {:.2} / {:.2} / {:.2}",
                     no.0, th.0, wh.0, no.1, th.1, wh.1);
    let rows = vec![
        vec!["Exp 1: English control lowest, NondeterministicShuffle highest perplexity".into(),
             "holds for GPT-2 small on BabyLM 100M, over checkpoints 200–3,000, 3 seeds".into(), e1,
             "all 15 languages: the paper's Figure 2 curves".into()],
        vec!["Exp 2: NoHop expects its marker best; TokenHop / WordHop learn the counting rule more slowly".into(),
             "NoHop's surprisal difference largest (unverified in our brief: check Fig. 3)".into(), e2,
             "the curves over checkpoints 100–3,000".into()],
        vec!["finer orderings (window sizes, deterministic seeds, Partial vs Full Reverse)".into(),
             "reported per language".into(), "not asserted: the shuffle/reverse variants are shown, not trained, at ci".into(),
             "the paper's within-family orderings".into()],
        vec!["models without positional encodings".into(), "trained for all 15 languages".into(),
             "not available: the library has no pos_embedding = none yet".into(), "needs that model option".into()],
        vec!["Exp 3 interchange interventions; constituency probing".into(), "reported".into(), "not reproduced".into(), "not reproduced".into()],
        vec!["scale".into(), "GPT-2 small (124M), 3,000 × 2¹⁹ tokens ≈ 1.6B tokens".into(),
             format!("{} parameters, {} tokens per language", runs[0].n_params, runs[0].train_tokens),
             "≈ 1.2e18 FLOPs per language and seed (hours on one GPU; not measured)".into()],
    ];
    Table::from_rows(&["claim", "paper", "ours (ci)", "full scale shows"], rows)?.title("paper vs. ours")
}
"""),
("markdown", "full-md", r"""
## Running at full scale

`GPT2LAB_SCALE=full GPT2LAB_BABYLM=/path/to/babylm_data` with a CUDA build runs the same cells on the paper's setting: BabyLM 100M perturbed into all 15 languages (hop languages need the repository's Stanza tagging, `data/tag.py`, whose `*_dep.json` files `read_stanza_json` loads), GPT-2 small trained with `RunConfig::paper` (3,000 steps of 512 × 1,024 tokens as 8 × 64 accumulated micro-batches, warmup 300 to 6e-4, checkpoints every 100 steps saved under `target/mission-impossible/`), evaluated at every checkpoint on 10,000 affected test sentences. BabyLM is not bundled (its sources have mixed licences). Differences from the repository that remain: BabyLM lines are used as sentences for the shuffle and reverse families (the repository splits them with Stanza), the test sets take the first affected sentences rather than a seeded sample of 1,000 per file, and 🅁 has id 50259 (the repository's reverse tokenizer gives it 50257).
"""),
]

write_notebook(os.path.join(ROOT, "notebooks/04-mission-impossible.ipynb"), cells)
