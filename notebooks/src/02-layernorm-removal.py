import sys
import os
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from nbgen import write_notebook

cells = [
("markdown", "intro", r"""
# Transformers don't need LayerNorm at inference time (arXiv 2507.02559)

**The paper in three sentences.** Every LayerNorm (LN) of GPT-2 can be removed by fine-tuning: each LN is replaced, one at a time, by a *FakeLN* that divides by a frozen average scale σ instead of the token's own scale, with a few fine-tuning steps in between, at a small cost in loss (+0.03 CE for GPT-2 XL; +0.07 for GPT-2 small on OpenWebText vs. an equally long vanilla fine-tune). Without LN the model's last step is linear, so *direct logit attribution (DLA) equals the exact direct effect* of each component, which it does not with LN. And GPT-2's "entropy neurons", which act through the final LN's scale, lose that mechanism.

**What this notebook tests.** On the shipped tiny model (ci scale) we run the paper's sequential removal schedule against an equal-length vanilla fine-tune, then check the two exact consequences — DLA = direct effect, and no LN-mediated entropy effect — which hold for any LN-free model, and the loss ordering, which is a small-scale stand-in for the paper's numbers. At `full` scale the notebook loads GPT-2 and the authors' released LN-free and vanilla checkpoints instead of fine-tuning.
"""),
("code", "setup", r"""
use gpt2lab::data::{StoryGen, TokenDataset};
use gpt2lab::interp::*;
use gpt2lab::model::{LnTarget, NormMode};
use gpt2lab::train::*;
let scale = Scale::from_env();
// every size in one place (typed: evcxr keeps each cell's variables with concrete types)
let ft_steps: usize = scale.pick(160, 300);     // fine-tuning steps (paper: 300 steps × 2^19 tokens)
let batch: usize = scale.pick(8, 8);
let block: usize = scale.pick(64, 512);
let eval_rows: usize = scale.pick(16, 32);      // held-out sequences for the analysis
println!("scale = {scale}: {ft_steps} fine-tuning steps of {batch}×{block} tokens");
"""),
("markdown", "model-md", r"""
## The model and the data

`ci`: the shipped default model (4 layers, d_model 128, trained *with* LN on synthetic children's stories) and fresh stories from the same generator. `full`: GPT-2 small, and public-domain English (the King James Bible from the `bible-kjv-text` package) as evaluation text — the paper used OpenWebText and the Pile, which a user can substitute.
"""),
("code", "load", r"""
let (base, tok) = if scale.is_full() {
    (Gpt2::from_pretrained("gpt2")?, Gpt2Tokenizer::gpt2()?)
} else {
    gpt2lab::model::load_default()?
};
let eos = tok.bos_token_id();
let docs: Vec<Vec<u32>> = if scale.is_full() {
    gpt2lab::data::kjv_text()?.lines().take(200).map(|l| tok.encode(l)).collect::<Result<_, _>>()?
} else {
    StoryGen::new(2024).texts(3000).iter().map(|s| tok.encode(s)).collect::<Result<_, _>>()?
};
let data = TokenDataset::from_documents(&docs, Some(eos), block)?;
let (train, val) = data.split(0.1, 0)?;
let (x_eval, y_eval) = val.batch(&(0..eval_rows).collect::<Vec<_>>())?;
let cfg = base.config().clone();
println!("{} layers × {} heads; {} training blocks, {} validation blocks", cfg.n_layer, cfg.n_head, train.len(), val.len());
"""),
("markdown", "schedule-md", r"""
## The removal schedule

The official code (`submarat/removing-layer-norm`, `config.py`) removes, from step 20, each layer's **ln2** (before the MLP) every 2 steps, then **ln1 as read by queries and keys** every 2 steps, then **ln1 as read by values** every 3 steps, then the **final LN**. Each removed site becomes a FakeLN, `(x − mean x) / σ_avg · γ + β`, with σ_avg the site's average real scale measured just before. We keep the order and the gaps and start earlier (step 10), since our fine-tune is short.
"""),
("code", "schedule", r"""
let schedule = LnRemovalSchedule::sequential(cfg.n_layer, 10, 2, 2, 3);
let rows: Vec<Vec<String>> = schedule.events.iter().map(|(s, t)| vec![s.to_string(), t.to_string()]).collect();
claim("every norm site is scheduled once", schedule.events.len() == 3 * cfg.n_layer + 1, format!("{} removals, the last at step {}", schedule.events.len(), schedule.end_step()));
claim("removal ends well before the fine-tune does", schedule.end_step() + 40 <= ft_steps, format!("{} of {ft_steps} steps", schedule.end_step()));
// (bound first, then shown: a value that moves a variable on the last line would show as plain text)
let table = Table::from_rows(&["step", "site made fake"], rows)?.title("sequential LayerNorm removal").max_rows(8);
table
"""),
("markdown", "finetune-md", r"""
## Two fine-tunes of equal length

A vanilla fine-tune (LN kept) and the removal fine-tune, same data order, optimizer (AdamW, lr 1e-3 cosine to 5e-4, as the paper's 6e-4 → 3e-4 but for a smaller model) and steps. They run side by side, one per core. At `full` scale we load the authors' released checkpoints `schaeff/gpt2-small_vanilla300` and `schaeff/gpt2-small_LNFree300` instead (their LN-free convention, ε = 1e12 with γ × 1e6, loads as exact FakeLNs).
"""),
("code", "finetune", r"""
let calib = train.batch(&(0..8).collect::<Vec<_>>())?.0;
let tcfg = TrainConfig {
    steps: ft_steps, batch_size: batch, clip: Some(1.0), seed: 5,
    schedule: LrSchedule::Cosine { lr: 1e-3, warmup: 5, total: ft_steps, min_lr: 5e-4 },
    log_every: 5, progress: false, ..Default::default()
};
// (functions, not closures: a notebook keeps each cell's variables, and closures cannot be kept)
fn adamw() -> Box<AdamW> { Box::new(AdamW::new(AdamWConfig { lr: 1e-3, ..Default::default() })) }
let t0 = std::time::Instant::now();
let ((vanilla, vanilla_curve), (ln_free, free_curve)) = if scale.is_full() {
    ((Gpt2::from_pretrained("schaeff/gpt2-small_vanilla300")?, Metrics::default()),
     (Gpt2::from_pretrained("schaeff/gpt2-small_LNFree300")?, Metrics::default()))
} else {
    std::thread::scope(|s| -> Result<_, Error> {
        let v = s.spawn(|| -> Result<(Gpt2, Metrics), Error> {
            let mut tr = Trainer::new(&base, adamw(), tcfg.clone())?;
            let m = tr.fit(&train, None)?;
            Ok((tr.model()?, m))
        });
        let f = s.spawn(|| -> Result<(Gpt2, Metrics), Error> {
            let mut tr = Trainer::new(&base, adamw(), tcfg.clone())?;
            schedule.clone().attach(&mut tr, calib.clone());
            let m = tr.fit(&train, None)?;
            Ok((tr.model()?, m))
        });
        Ok((v.join().expect("vanilla thread")?, f.join().expect("removal thread")?))
    })?
};
println!("fine-tunes took {:.1} s", t0.elapsed().as_secs_f64());
claim("the LN-free model has no LayerNorm left", ln_free.norm_modes().iter().all(|(_, m)| !matches!(m, NormMode::LayerNorm)), format!("{} sites", ln_free.norm_modes().len()));
Chart::lines("training loss during the two fine-tunes").series("vanilla", &vanilla_curve.train_curve()).series("LN removal", &free_curve.train_curve())
    .x_label("step").y_label("cross-entropy (nats)")
"""),
("markdown", "loss-md", r"""
## What removal costs

Cross-entropy on held-out text, the mean entropy of the predictions, their expected calibration error (ECE, 10 bins), and the Jensen–Shannon divergence from the original model's predictions. Two baselines frame the gap: a random-init model (the top of the scale) and all LNs replaced at once by FakeLNs *without* fine-tuning.
"""),
("code", "loss", r"""
let all_at_once = remove_all_at_once(&base, &calib)?;
let random = Gpt2::random(cfg.clone(), 0, &Device::Cpu)?;
let base_logits = base.forward(&x_eval)?;
let mut rows = vec![];
let mut ce = std::collections::HashMap::new();
for (name, m) in [("original (LN)", &base), ("vanilla fine-tune", &vanilla), ("LN-free (sequential)", &ln_free), ("all LNs faked at once, no fine-tune", &all_at_once), ("random init", &random)] {
    let logits = m.forward(&x_eval)?;
    let c = cross_entropy_per_token(&logits, &y_eval)?.mean_all()?.to_scalar::<f32>()? as f64;
    let h = entropy(&logits)?.mean_all()?.to_scalar::<f32>()? as f64;
    let ece = expected_calibration_error(&logits, &y_eval, 10)?;
    let jsd = js_divergence(&base_logits, &logits)?;
    ce.insert(name, c);
    rows.push(vec![name.to_string(), format!("{c:.4}"), format!("{h:.3}"), format!("{ece:.4}"), format!("{jsd:.4}")]);
}
let (van, free, once, rnd) = (ce["vanilla fine-tune"], ce["LN-free (sequential)"], ce["all LNs faked at once, no fine-tune"], ce["random init"]);
let table = Table::from_rows(&["model", "CE (nats)", "entropy", "ECE", "JSD vs original"], rows)?.title("held-out evaluation");
table
"""),
("code", "loss-claims", r"""
claim("LN-free costs little: its CE gap to vanilla is under 10% of (random − vanilla)",
      free - van < 0.1 * (rnd - van), format!("gap {:.4} vs 10% of {:.3}", free - van, rnd - van));
claim("sequential removal with fine-tuning beats faking every LN at once",
      once - van > 2.0 * (free - van).max(0.0) && once > free, format!("all-at-once {once:.4}, sequential {free:.4}, vanilla {van:.4}"));
"""),
("markdown", "dla-md", r"""
## Direct logit attribution vs. the exact direct effect

For every attention head and MLP, DLA is its output, scaled by the clean run's final-LN scale and read off along γ ⊙ W_U[target]; the direct effect (DE) is `logit(LN(r)) − logit(LN(r − c))` with the final LN recomputed. The paper's metric is NMAE = mean|DLA − DE| / mean|DE| per component. Target: the true next token at each held-out position.
"""),
("code", "dla", r"""
fn dla_vs_de(m: &Gpt2, x: &Tensor, y: &Tensor) -> Result<(Vec<f64>, f32, Vec<String>), Error> {
    let run = m.run(x, &HookSpec::capture_all())?;
    let (comps, labels) = head_and_mlp_components(m, &run.cache)?;
    let dla = direct_logit_attribution(m, &run.cache, &comps, y)?;
    let de = direct_effect(m, &final_resid(m, &run.cache)?, &comps, y)?;
    let worst = (&dla - &de)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?;
    Ok((nmae(&dla, &de)?, worst, labels))
}
fn pct(v: &[f64]) -> Vec<f32> {
    v.iter().map(|x| (100.0 * x) as f32).collect()
}
let (nmae_ln, worst_ln, labels) = dla_vs_de(&base, &x_eval, &y_eval)?;
let (nmae_free, worst_free, _) = dla_vs_de(&ln_free, &x_eval, &y_eval)?;
let max_ln = nmae_ln.iter().cloned().fold(0.0, f64::max);
claim("exact: without LN, DLA equals the direct effect for every head and MLP", worst_free < 1e-4, format!("max |DLA − DE| = {worst_free:.2e}"));
claim("with LN, DLA is only an approximation (NMAE > 1% somewhere)", max_ln > 0.01, format!("max NMAE {:.1}%, max |DLA − DE| = {worst_ln:.3}", 100.0 * max_ln));
Panel::new()
    .add(Chart::bars(&labels, &pct(&nmae_ln), None)?.title("NMAE of DLA, original model (%)").y_label("NMAE %"))
    .add(Chart::bars(&labels, &pct(&nmae_free), None)?.title("NMAE of DLA, LN-free model (%)").y_label("NMAE %"))
    .grid(2)
"""),
("markdown", "entropy-md", r"""
## Entropy neurons

Candidates are last-layer MLP neurons whose output weights are large and lie in the unembedding's weakest directions (bottom singular subspace of W_U): writing there changes the residual norm, so the final LN's scale, so the entropy, without changing the ranking of tokens. We zero-ablate the top candidates and split the entropy change into a *direct* part (logits at the clean LN scale) and an *LN-mediated* part. In GPT-2 small the paper's neurons are 11.584, 11.2123 and 11.2870; a tiny model need not have any, so this checks the mechanism, not a discovery.
"""),
("code", "entropy", r"""
let last = cfg.n_layer - 1;
let k = (cfg.n_embd / 16).max(2);
let null = unembed_null_space(&base, k)?;
let cands: Vec<usize> = entropy_neuron_scores(&base, last, &null)?.iter().take(3).map(|c| c.0).collect();
let mut rows = vec![];
let (mut max_ln_part, mut max_free_part) = (0f64, 0f64);
for &n in &cands {
    let a = neuron_ablation_entropy(&base, &x_eval, last, n)?;
    let b = neuron_ablation_entropy(&ln_free, &x_eval, last, n)?;
    max_ln_part = max_ln_part.max(a.ln_mediated.abs());
    max_free_part = max_free_part.max(b.ln_mediated.abs());
    rows.push(vec![format!("{last}.{n}"), format!("{:+.5}", a.total), format!("{:+.5}", a.direct), format!("{:+.5}", a.ln_mediated), format!("{:+.5}", b.total), format!("{:+.2e}", b.ln_mediated)]);
}
claim("exact: ablating a neuron of the LN-free model has no LN-mediated entropy effect", max_free_part < 1e-6, format!("max |LN part| = {max_free_part:.1e}"));
claim("with LN the same ablations act partly through the LN scale", max_ln_part > 1e-6, format!("max |LN part| = {max_ln_part:.1e}"));
let table = Table::from_rows(&["neuron", "Δentropy (LN)", "direct (LN)", "LN-mediated (LN)", "Δentropy (LN-free)", "LN-mediated (LN-free)"], rows)?.title(&format!("top {} entropy-neuron candidates, layer {last}", cands.len()));
table
"""),
("markdown", "paper-md", r"""
## Paper vs. ours
"""),
("code", "paper", r"""
let rows = vec![
    vec!["LN-free CE − vanilla CE".into(), "+0.0671 (GPT-2 small, OWT); +0.0253 (XL)".into(), format!("{:+.4} (4-layer story model)", free - van), "the paper's numbers, with the paper's data and schedule on a GPU".into()],
    vec!["CE: original / vanilla / LN-free".into(), "3.1006 / 3.0126 / 3.0797 (OWT)".into(), format!("{:.3} / {van:.3} / {free:.3}", ce["original (LN)"]), "held-out CE of GPT-2 and the released checkpoints".into()],
    vec!["DLA = direct effect without LN".into(), "exact (NMAE ≈ 0)".into(), format!("max |DLA − DE| = {worst_free:.1e}"), "the same identity; it is exact at any scale".into()],
    vec!["DLA error with LN".into(), "NMAE up to tens of % (heatmaps)".into(), format!("max NMAE {:.1}%", 100.0 * max_ln), "per-head NMAE heatmap of GPT-2 small".into()],
    vec!["entropy neurons' LN-mediated effect".into(), "gone in LN-free models".into(), format!("{max_free_part:.1e} (LN-free) vs {max_ln_part:.1e} (LN)"), "neurons 11.584, 11.2123, 11.2870".into()],
    vec!["what ci cannot show".into(), "".into(), "the size of the loss gap and its scaling with model size".into(), "".into()],
];
let table = Table::from_rows(&["claim", "paper", "ours (ci)", "full scale shows"], rows)?.title("paper vs. ours");
table
"""),
]
write_notebook(os.path.join(ROOT, "notebooks/02-layernorm-removal.ipynb"), cells, rust_check=os.path.join(ROOT, "examples/nbcheck_02.rs"))
