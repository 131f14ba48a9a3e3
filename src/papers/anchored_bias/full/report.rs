//! What notebook 03's full-scale cell displays, built from a [`FullRun`] (kept in the library so
//! the cell is two calls and `tests/anchored_bias.rs` exercises what it shows).

use super::{mean_per_layer, summarise, AnswerSummary, FullRun};
use crate::display::Table;
use crate::interp::neuron_top_tokens;
use crate::tokenizer::Gpt2Tokenizer;
use crate::Result;

fn cells(s: Option<AnswerSummary>) -> Vec<String> {
    match s {
        Some(s) => vec![
            s.n.to_string(),
            format!("{:.3}", s.p_a),
            format!("{:.3}", s.p_gold),
            format!("{:.2}", s.a_over_gold),
            format!("{:.2}", s.accuracy),
            format!("{:.2}", s.top1_gold),
        ],
        None => vec!["0".into(), "".into(), "".into(), "".into(), "".into(), "".into()],
    }
}

fn acc(s: Option<AnswerSummary>) -> String {
    s.map(|s| format!("{:.2} (P(gold) {:.3})", s.accuracy, s.p_gold)).unwrap_or_default()
}

/// The headline counts: " A" beating gold on `IOI.json`, and the repository's per-item loop.
pub fn report_lines(r: &FullRun) -> Vec<String> {
    let a_wins = r.before_ioi.iter().filter(|a| a.p_a > a.p_gold).count();
    let with_flag = r.fixes.iter().filter(|f| !f.is_empty()).count();
    vec![
        format!(
            "P(\" A\") > P(\" B\") on {a_wins} of {} IOI.json items (the paper: GPT-2 favours \" A\"; reported, not asserted)",
            r.before_ioi.len()
        ),
        format!(
            "the repository's per-item loop: {with_flag} of {} IOI.json items have a flagged neuron (A − gold > 4) in some layer; one single-neuron edit (α1 = 1, α2 = 8) makes the top-1 token the gold letter on {} of them",
            r.ioi.len(),
            r.fixed_items()
        ),
    ]
}

/// Four tables: answers before any edit, the MLP lens per layer, the edited neurons with the
/// top tokens of their value vectors, and held-out accuracy under each intervention.
pub fn report_tables(r: &FullRun, tok: &Gpt2Tokenizer) -> Result<Vec<Table>> {
    let held = r.held_out_before();
    let mut rows = vec![];
    for (name, s) in [
        ("IOI.json, all (gold B)", summarise(&r.before_ioi, |_| true)),
        ("IOI.json, held-out two thirds", summarise(&held, |_| true)),
        ("synthetic, gold A", summarise(&r.before_synthetic, |a| a.gold == 0)),
        ("synthetic, gold B", summarise(&r.before_synthetic, |a| a.gold == 1)),
    ] {
        rows.push([vec![name.to_string()], cells(s)].concat());
    }
    let before = Table::from_rows(
        &["prompts", "n", "mean P(\" A\")", "mean P(gold)", "share P(\" A\") > P(gold)", "accuracy (letters)", "top-1 = gold"],
        rows,
    )?
    .title("GPT-2 before any edit");
    let (li, ls) = (mean_per_layer(&r.lens_ioi), mean_per_layer(&r.lens_synthetic));
    let rows = (0..li.len())
        .map(|l| vec![l.to_string(), format!("{:+.3}", li[l]), ls.get(l).map(|x| format!("{x:+.3}")).unwrap_or_default()])
        .collect();
    let lens = Table::from_rows(&["layer", "IOI.json: MLP lens A − gold", "synthetic, gold ≠ A: MLP lens A − gold"], rows)?
        .title("the MLP logit lens per layer (mean over items)");
    let mut rows = vec![];
    for &(l, n, c) in &r.selected {
        let top = neuron_top_tokens(&r.processed, l, n, 8)?;
        let words: Vec<String> = top.iter().map(|(t, v)| Ok(format!("{:?} ({v:+.1})", tok.decode(&[*t])?))).collect::<Result<_>>()?;
        rows.push(vec![format!("L{l}N{n}"), format!("{c} of {}", r.locate.len()), words.join(", ")]);
    }
    let neurons = Table::from_rows(&["neuron", "flagged on locating items", "top tokens of W_out[i] · W_U"], rows)?
        .title("neurons edited (\" A\" → \" B\", α1 = 1, α2 = 8)");
    let mut rows = vec![];
    for (name, ioi, syn) in [
        ("none", &held, &r.before_synthetic),
        ("paper's edit, flagged neurons", &r.after_ioi, &r.after_synthetic),
        ("same edit, random neurons (control)", &r.control_ioi, &r.control_synthetic),
        ("attention swap at the anchor heads", &r.swapped_ioi, &r.swapped_synthetic),
    ] {
        rows.push(vec![
            name.into(),
            acc(summarise(ioi, |_| true)),
            acc(summarise(syn, |a| a.gold == 0)),
            acc(summarise(syn, |a| a.gold == 1)),
        ]);
    }
    let heads: Vec<String> = r.heads.iter().map(|(l, h, w)| format!("L{l}H{h} ({w:.2})")).collect();
    let edits = Table::from_rows(&["intervention", "IOI.json held-out (gold B)", "synthetic, gold A", "synthetic, gold B"], rows)?
        .title(format!("held-out accuracy over the letters; swapped heads (attention on \" A\"): {}", heads.join(", ")));
    Ok(vec![before, lens, neurons, edits])
}
