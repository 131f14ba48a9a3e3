//! Reference-based text metrics for data-to-text (E2E NLG style): corpus BLEU as sacrebleu
//! computes it, ROUGE-L as Google's `rouge-score`, CIDEr as `pycocoevalcap`, and the slot
//! error rate. `tests/metrics_text.rs` checks the first three against those packages'
//! outputs on fixed strings (`scripts/make_text_metric_fixture.py`).
//!
//! - [`bleu`]: sacrebleu 2.x `corpus_bleu` defaults — the `13a` tokenizer, n-grams 1..4,
//!   counts clipped by the most of any reference, the closest reference length for the
//!   brevity penalty (ties: the shorter), `exp` smoothing (a zero match count at order n
//!   becomes 1/2^j of the total, j counting such orders). Score in 0..100.
//! - [`rouge_l`]: `RougeScorer(["rougeL"])` without stemming: lower-case, non-alphanumerics
//!   to spaces, whitespace split; F-measure of the longest common subsequence, the best
//!   over references (`score_multi`), averaged over the corpus. 0..1.
//! - [`cider`]: `pycocoevalcap.cider.Cider` (CIDEr with n = 1..4, σ = 6: tf-idf n-gram
//!   vectors, document frequencies over the corpus's reference sets, clipped products and a
//!   Gaussian length penalty, ×10, averaged over references, orders and sentences). Inputs
//!   are tokenised by whitespace, as the scorer receives them after its PTB tokenizer.
//! - [`slot_error_rate`]: (missing + wrong slot values) / slots, by exact word match.

use std::collections::HashMap;

use crate::{Error, Result};

/// sacrebleu's `13a` tokenizer (mteval-v13a).
pub fn tokenize_13a(line: &str) -> String {
    let mut s = line.replace("<skipped>", "").replace("-\n", "").replace('\n', " ");
    if s.contains('&') {
        s = s.replace("&quot;", "\"").replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">");
    }
    // rule 1: split off the ASCII symbols {-~ [-` space-& (-+ :-@ /
    let sym = |c: char| matches!(c, '{'..='~' | '['..='`' | ' '..='&' | '('..='+' | ':'..='@' | '/');
    let mut t = String::with_capacity(s.len() * 2);
    for c in s.chars() {
        if sym(c) {
            t.push(' ');
            t.push(c);
            t.push(' ');
        } else {
            t.push(c);
        }
    }
    // rules 2-4 on characters: period/comma not between digits; dash after a digit
    let cs: Vec<char> = t.chars().collect();
    let mut u = String::with_capacity(cs.len() * 2);
    for (i, &c) in cs.iter().enumerate() {
        let prev = if i > 0 { Some(cs[i - 1]) } else { None };
        let next = cs.get(i + 1).copied();
        let digit = |o: Option<char>| o.is_some_and(|c| c.is_ascii_digit());
        if (c == '.' || c == ',') && (prev.is_some_and(|p| !p.is_ascii_digit()) || next.is_some_and(|n| !n.is_ascii_digit())) {
            u.push(' ');
            u.push(c);
            u.push(' ');
        } else if c == '-' && digit(prev) {
            u.push(' ');
            u.push(c);
            u.push(' ');
        } else {
            u.push(c);
        }
    }
    u.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn ngrams(tokens: &[&str], n: usize) -> HashMap<Vec<String>, usize> {
    let mut m = HashMap::new();
    if tokens.len() >= n {
        for w in tokens.windows(n) {
            *m.entry(w.iter().map(|s| s.to_string()).collect()).or_insert(0) += 1;
        }
    }
    m
}

fn check_corpus(hyps: &[String], refs: &[Vec<String>]) -> Result<()> {
    if hyps.is_empty() {
        return Err(Error::EmptyInput("a text metric needs at least one hypothesis".into()));
    }
    if hyps.len() != refs.len() {
        return Err(Error::Shape(format!("{} hypotheses but {} reference sets", hyps.len(), refs.len())));
    }
    if let Some(i) = refs.iter().position(|r| r.is_empty()) {
        return Err(Error::EmptyInput(format!("hypothesis {i} has no reference")));
    }
    Ok(())
}

/// Corpus BLEU (0..100) of `hyps` against their reference sets (`refs[i]` for `hyps[i]`).
pub fn bleu(hyps: &[String], refs: &[Vec<String>]) -> Result<f64> {
    check_corpus(hyps, refs)?;
    let (mut correct, mut total) = ([0usize; 4], [0usize; 4]);
    let (mut sys_len, mut ref_len) = (0usize, 0usize);
    for (h, rs) in hyps.iter().zip(refs) {
        let ht = tokenize_13a(h);
        let htoks: Vec<&str> = ht.split_whitespace().collect();
        let rts: Vec<String> = rs.iter().map(|r| tokenize_13a(r)).collect();
        let rtoks: Vec<Vec<&str>> = rts.iter().map(|r| r.split_whitespace().collect()).collect();
        sys_len += htoks.len();
        // closest reference length, ties to the shorter
        let best = rtoks.iter().map(|r| r.len()).min_by_key(|&l| ((l as i64 - htoks.len() as i64).abs(), l)).unwrap_or(0);
        ref_len += best;
        for n in 1..=4 {
            let hc = ngrams(&htoks, n);
            let mut maxref: HashMap<Vec<String>, usize> = HashMap::new();
            for r in &rtoks {
                for (g, c) in ngrams(r, n) {
                    let e = maxref.entry(g).or_insert(0);
                    *e = (*e).max(c);
                }
            }
            for (g, c) in &hc {
                correct[n - 1] += (*c).min(*maxref.get(g).unwrap_or(&0));
            }
            total[n - 1] += htoks.len().saturating_sub(n - 1);
        }
    }
    let mut smooth = 1.0;
    let mut log_sum = 0.0;
    for n in 0..4 {
        if total[n] == 0 {
            return Ok(0.0);
        }
        let p = if correct[n] == 0 {
            smooth *= 2.0;
            100.0 / (smooth * total[n] as f64)
        } else {
            100.0 * correct[n] as f64 / total[n] as f64
        };
        log_sum += p.ln();
    }
    let bp = if sys_len == 0 {
        0.0
    } else if sys_len < ref_len {
        (1.0 - ref_len as f64 / sys_len as f64).exp()
    } else {
        1.0
    };
    Ok(bp * (log_sum / 4.0).exp())
}

fn rouge_tokens(s: &str) -> Vec<String> {
    let lower: String = s.to_lowercase().chars().map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() { c } else { ' ' }).collect();
    lower.split_whitespace().map(String::from).collect()
}

fn lcs(a: &[String], b: &[String]) -> usize {
    let mut dp = vec![0usize; b.len() + 1];
    for x in a {
        let mut prev = 0;
        for (j, y) in b.iter().enumerate() {
            let tmp = dp[j + 1];
            dp[j + 1] = if x == y { prev + 1 } else { dp[j + 1].max(dp[j]) };
            prev = tmp;
        }
    }
    dp[b.len()]
}

/// ROUGE-L F-measure of one hypothesis, best over its references.
pub fn rouge_l_sentence(hyp: &str, refs: &[String]) -> f64 {
    let h = rouge_tokens(hyp);
    refs.iter()
        .map(|r| {
            let t = rouge_tokens(r);
            if h.is_empty() || t.is_empty() {
                return 0.0;
            }
            let l = lcs(&t, &h) as f64;
            let (p, rc) = (l / h.len() as f64, l / t.len() as f64);
            if p + rc == 0.0 {
                0.0
            } else {
                2.0 * p * rc / (p + rc)
            }
        })
        .fold(0.0, f64::max)
}

/// Mean ROUGE-L F-measure over the corpus (0..1).
pub fn rouge_l(hyps: &[String], refs: &[Vec<String>]) -> Result<f64> {
    check_corpus(hyps, refs)?;
    Ok(hyps.iter().zip(refs).map(|(h, r)| rouge_l_sentence(h, r)).sum::<f64>() / hyps.len() as f64)
}

type Vecs = Vec<HashMap<Vec<String>, f64>>;

/// CIDEr per sentence (pycocoevalcap `Cider().compute_score`'s second output).
pub fn cider_sentences(hyps: &[String], refs: &[Vec<String>]) -> Result<Vec<f64>> {
    check_corpus(hyps, refs)?;
    const N: usize = 4;
    let sigma = 6.0f64;
    let counts = |s: &str| -> Vec<HashMap<Vec<String>, usize>> {
        let t: Vec<&str> = s.split_whitespace().collect();
        (1..=N).map(|n| ngrams(&t, n)).collect()
    };
    let hc: Vec<_> = hyps.iter().map(|h| counts(h)).collect();
    let rc: Vec<Vec<_>> = refs.iter().map(|rs| rs.iter().map(|r| counts(r)).collect()).collect();
    // document frequency: in how many reference sets an n-gram occurs
    let mut df: HashMap<Vec<String>, f64> = HashMap::new();
    for set in &rc {
        let mut seen: std::collections::HashSet<&Vec<String>> = std::collections::HashSet::new();
        for r in set {
            for m in r {
                for g in m.keys() {
                    seen.insert(g);
                }
            }
        }
        for g in seen {
            *df.entry(g.clone()).or_insert(0.0) += 1.0;
        }
    }
    let ref_len = (refs.len() as f64).ln();
    let vec_of = |c: &Vec<HashMap<Vec<String>, usize>>| -> (Vecs, Vec<f64>, f64) {
        let mut vec: Vecs = vec![HashMap::new(); N];
        let mut norm = vec![0.0; N];
        let mut length = 0.0;
        for (n, m) in c.iter().enumerate() {
            for (g, &tf) in m {
                let d = df.get(g).copied().unwrap_or(0.0).max(1.0).ln();
                let v = tf as f64 * (ref_len - d);
                norm[n] += v * v;
                vec[n].insert(g.clone(), v);
                if n == 1 {
                    length += tf as f64;
                }
            }
        }
        (vec, norm.iter().map(|x| x.sqrt()).collect(), length)
    };
    let mut out = vec![];
    for (h, rs) in hc.iter().zip(&rc) {
        let (vh, nh, lh) = vec_of(h);
        let mut score = [0.0; N];
        for r in rs {
            let (vr, nr, lr) = vec_of(r);
            let delta = lh - lr;
            for n in 0..N {
                let mut val = 0.0;
                for (g, &x) in &vh[n] {
                    if let Some(&y) = vr[n].get(g) {
                        val += x.min(y) * y;
                    }
                }
                if nh[n] != 0.0 && nr[n] != 0.0 {
                    val /= nh[n] * nr[n];
                }
                score[n] += val * (-(delta * delta) / (2.0 * sigma * sigma)).exp();
            }
        }
        let mean = score.iter().sum::<f64>() / N as f64;
        out.push(mean / rs.len() as f64 * 10.0);
    }
    Ok(out)
}

/// Corpus CIDEr: the mean of [`cider_sentences`].
pub fn cider(hyps: &[String], refs: &[Vec<String>]) -> Result<f64> {
    let s = cider_sentences(hyps, refs)?;
    Ok(s.iter().sum::<f64>() / s.len() as f64)
}

/// Slot errors of one output: `slots` are the meaning representation's (attribute, value)
/// pairs; `values_of(attribute)` lists every value that attribute can take. A slot is
/// *missing* when its value's words do not occur in order in the text, and a *wrong* value is
/// any other value of a slot's attribute that does occur. Returns (missing, wrong).
pub fn slot_errors(text: &str, slots: &[(String, String)], values_of: impl Fn(&str) -> Vec<String>) -> (usize, usize) {
    let words: Vec<String> = text.split_whitespace().map(|w| w.to_lowercase()).collect();
    let has = |v: &str| {
        let vw: Vec<String> = v.split_whitespace().map(|w| w.to_lowercase()).collect();
        !vw.is_empty() && words.windows(vw.len()).any(|w| w == vw.as_slice())
    };
    let (mut missing, mut wrong) = (0, 0);
    for (attr, value) in slots {
        if !has(value) {
            missing += 1;
        }
        wrong += values_of(attr).iter().filter(|v| *v != value && has(v)).count();
    }
    (missing, wrong)
}

/// Slot error rate over a corpus: Σ(missing + wrong) / Σ slots.
pub fn slot_error_rate(texts: &[String], mrs: &[Vec<(String, String)>], values_of: impl Fn(&str) -> Vec<String>) -> Result<f64> {
    if texts.len() != mrs.len() {
        return Err(Error::Shape(format!("{} texts but {} meaning representations", texts.len(), mrs.len())));
    }
    let slots: usize = mrs.iter().map(|m| m.len()).sum();
    if slots == 0 {
        return Err(Error::EmptyInput("slot error rate over no slots".into()));
    }
    let errs: usize = texts.iter().zip(mrs).map(|(t, m)| {
        let (a, b) = slot_errors(t, m, &values_of);
        a + b
    }).sum();
    Ok(errs as f64 / slots as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_errors_by_hand() {
        let slots = vec![("food".to_string(), "thai".to_string()), ("area".to_string(), "city centre".to_string())];
        let vals = |a: &str| if a == "food" { vec!["thai".into(), "french".into()] } else { vec!["city centre".into(), "riverside".into()] };
        assert_eq!(slot_errors("a thai place in the city centre", &slots, vals), (0, 0));
        assert_eq!(slot_errors("a french place in the centre", &slots, vals), (2, 1));
        assert_eq!(slot_errors("thai french riverside city centre", &slots, vals), (0, 2));
        let r = slot_error_rate(&["a thai place".into()], &[slots.clone()], vals).unwrap();
        assert!((r - 0.5).abs() < 1e-12);
    }

    #[test]
    fn tokenizer_13a_and_lcs_by_hand() {
        // outputs of sacrebleu's Tokenizer13a on the same strings
        assert_eq!(tokenize_13a("It's £20-25, near the Mill."), "It's £20 - 25 , near the Mill .");
        assert_eq!(tokenize_13a("3.5 stars, 1,000"), "3.5 stars , 1,000");
        let t = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert_eq!(lcs(&t("a b c d"), &t("a c d b")), 3);
    }
}
