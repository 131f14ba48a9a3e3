//! Writes a paper's committed artefact: every seed's run, then `datasets/<slug>/manifest.json`
//! (command, seeds, git revision, library version, sha256 of every file). The convention is
//! in `gpt2lab::papers` (module doc).
//!
//!     cargo run --example artefact -- <slug> [--threads N]
//!     cargo run --example artefact -- --list
//!
//! Commit the artefact from a clean tree so its manifest names a real revision.

use gpt2lab::papers;

/// slug, seeds, one-line description, writer (threads) -> manifest notes
type Writer = fn(usize) -> gpt2lab::Result<String>;
const PAPERS: &[(&str, &str, Writer)] = &[
    ("conda", "AdamW vs Muon vs Conda on the optimizer bench: lr sweep at seed 0, seeds 0/1/2 at the tuned lrs, update spectra at step 100", papers::conda::write_artefact),
    ("contrastive-search", "generator seeds 7/1/2: 2-layer d64 GPT-2s decoded with greedy/beam/top-k/nucleus/contrastive + the α sweep", papers::contrastive_search::write_artefact),
    ("mission-impossible", "11 languages + 3 without positions, seeds 21/57/84 (~0.2M-parameter GPT-2s)", papers::mission_impossible::write_artefact),
    ("wechsel", "seeds 0/1/2: MiniEnglish source model, 4 starts on Lang B (WECHSEL, shuffled dictionary, random embeddings, scratch)", papers::wechsel::write_artefact),
    ("mgpt", "seeds 0/1/2: 5 tokenizer strategies × multilingual tiny GPT-2s, 2 monolingual models, an untrained control (bpb, fertility, k-shot accuracy)", papers::mgpt::write_artefact),
    ("sophia", "SophiaG vs AdamW on the optimizer bench: lr sweep at seed 0, seeds 0/1/2 at the tuned lrs, official-rho control (~0.2M-parameter GPT-2s)", papers::sophia::write_artefact),
    ("tinystories", "seeds 0/1/2 × (d64 L1, d64 L4, d128 L1, d128 L2) story models, 800 steps measured at 200/400/800, + untrained twins", papers::tinystories::write_artefact),
    ("pii-leakage", "seeds 0/1/2: a public tiny GPT-2, undefended / scrubbed / DP-SGD (ε = 8) fine-tunes on a synthetic case-law corpus, extraction / reconstruction / inference attacks", papers::pii_leakage::write_artefact),
    ("nola", "seeds 0/1/2: a 2-layer d64 GPT-2 pre-trained on E2E-like MR→text, fine-tuned to a rare phrasing with full FT, LoRA r 1/4 and NOLA r 4 × k 1–64, k 32 × r 1/8 (W_q, W_v); BLEU/ROUGE-L/CIDEr/slot error", papers::nola::write_artefact),
    ("hftp", "seeds 0/1/2: a tiny GPT-2 trained on [Adj N][V N] streams and its random init, HFTP on structured / control-B / random-word streams (raw and lexical-residual)", papers::hftp::write_artefact),
    ("bias-out-of-the-box", "seeds 0/1/2: planted and null occupation worlds, a tiny GPT-2 each + an untrained twin, the paper's templates sampled, per-job logistic regressions, Gini, share MSE", papers::bias_out_of_the_box::write_artefact),
    ("hut", "seeds 0/1/2: NOLA's pre-trained E2E-like base fine-tuned to a rare phrasing with full FT, LoRA r 1/4 and HUT r 1/4 (W_q, W_v, equal counts at equal r); BLEU/ROUGE-L/CIDEr/slot error", papers::hut::write_artefact),
    ("gedi", "seeds 0/1/2: a tiny base LM (400 steps) and a tiny CC-LM guide (GeDi loss, λ 0.8, 800 steps) on a 4-topic synthetic world, the guide and its untrained init scored as held-out classifiers; base, keyword prompt, CC-LM alone, GeDi ω 0/5/15/30 and GeDi ω 30 with the untrained guide, scored by the oracle, the guide, base-LM ppl, distinct-2; timings", papers::gedi::write_artefact),
    ("tom-next-token", "seeds 0/1/2: a tiny GPT-2 trained on Sally-Anne stories (1,500 steps) and its untrained init, next-token distributions on 0/1/2-order cloze prompts at 5 temperatures, top-k and 0-64 infills", papers::tom_next_token::write_artefact),
    ("one-layer-knowledge", "seeds 0/1/2: bios of 200 subjects × 4 relations, a one-layer d64 GPT-2 with and without its MLP pre-trained on them, QA fine-tuning on half the subjects (full, LoRA r 1/4), held-out extraction, MLP/attention mean-ablations, ΔW spectra", papers::one_layer_knowledge::write_artefact),
    ("sae-detox", "seeds 0/1/2: a tiny GPT-2 on a two-register (neutral / placeholder-lexicon toxic) world, residual SAEs 4× and 16× at blocks.1.hook_resid_pre, the top toxic feature steered at 3 tiers vs mean difference, union of split features, random direction / feature; toxic rate, held-out ppl, counting accuracy", papers::sae_detox::write_artefact),
    ("attention-saes", "seeds 0/1/2: a 2-layer attention-only d64 GPT-2 (layer 0 local, window 3) trained on repeated random segments + IOI sentences; SAEs (512 features) on layer 1 hook_z at 3 L1 coefficients (L0, CE recovered), the induction feature (decoder-norm head attribution, DFA by source), IOI feature ablation at S2 with a layer-0 SAE, the untrained-model control", papers::attention_saes::write_artefact),
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let threads = args.iter().position(|a| a == "--threads").and_then(|i| args.get(i + 1)).map(|t| t.parse()).transpose()?.unwrap_or(2usize);
    if args.is_empty() || args[0] == "--list" {
        for (slug, what, _) in PAPERS {
            println!("{slug:24} {what}");
        }
        return Ok(());
    }
    let slug = &args[0];
    let Some((_, _, write)) = PAPERS.iter().find(|(s, _, _)| s == slug) else {
        return Err(format!("no artefact for {slug:?}; known: {:?}", PAPERS.iter().map(|p| p.0).collect::<Vec<_>>()).into());
    };
    let t0 = std::time::Instant::now();
    let notes = write(threads)?;
    let a = papers::Artefact::load(slug)?;
    println!("{slug}: {} files, seeds {:?}, revision {} in {:.0} s ({notes})", a.manifest.files.len(), a.manifest.seeds, a.manifest.git_revision, t0.elapsed().as_secs_f64());
    Ok(())
}
