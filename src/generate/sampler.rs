//! Logits processing and token choice: temperature, top-k, top-p, repetition penalty.

use rand::{rngs::StdRng, Rng};

/// How the next token is chosen from the logits.
#[derive(Clone, Debug, PartialEq)]
pub struct SamplingConfig {
    /// 0 means greedy (argmax); otherwise logits are divided by it before sampling.
    pub temperature: f64,
    /// Keep only the k most likely tokens.
    pub top_k: Option<usize>,
    /// Keep the smallest set of most likely tokens whose probability reaches p (nucleus).
    pub top_p: Option<f64>,
    /// CTRL / HF repetition penalty: a seen token's logit is divided by it when positive and
    /// multiplied when negative. 1.0 is off.
    pub repetition_penalty: f64,
}

impl Default for SamplingConfig {
    fn default() -> Self {
        SamplingConfig { temperature: 0.0, top_k: None, top_p: None, repetition_penalty: 1.0 }
    }
}

impl SamplingConfig {
    /// Applies the repetition penalty over `seen` in place.
    pub fn penalise(&self, logits: &mut [f32], seen: &[u32]) {
        if self.repetition_penalty == 1.0 {
            return;
        }
        let p = self.repetition_penalty as f32;
        let mut done = std::collections::HashSet::new();
        for &t in seen {
            if (t as usize) < logits.len() && done.insert(t) {
                let l = &mut logits[t as usize];
                *l = if *l > 0.0 { *l / p } else { *l * p };
            }
        }
    }

    /// Chooses a token from one row of logits (after the penalty). An empty row gives 0, as
    /// [`argmax`] does (a model's rows are never empty: its vocabulary has at least one token).
    pub fn choose(&self, logits: &[f32], rng: &mut StdRng) -> u32 {
        if self.temperature <= 0.0 || logits.is_empty() {
            return argmax(logits);
        }
        let t = self.temperature as f32;
        let mut idx: Vec<usize> = (0..logits.len()).collect();
        idx.sort_unstable_by(|&a, &b| logits[b].total_cmp(&logits[a]));
        if let Some(k) = self.top_k {
            idx.truncate(k.max(1));
        }
        let max = logits[idx[0]] / t;
        let mut probs: Vec<f64> = idx.iter().map(|&i| ((logits[i] / t - max) as f64).exp()).collect();
        let z: f64 = probs.iter().sum();
        probs.iter_mut().for_each(|p| *p /= z);
        if let Some(top_p) = self.top_p {
            let (mut cum, mut keep) = (0.0, 0);
            for p in &probs {
                cum += p;
                keep += 1;
                if cum >= top_p {
                    break;
                }
            }
            probs.truncate(keep.max(1));
            let z: f64 = probs.iter().sum();
            probs.iter_mut().for_each(|p| *p /= z);
        }
        let u: f64 = rng.random();
        let mut cum = 0.0;
        for (p, &i) in probs.iter().zip(&idx) {
            cum += p;
            if u < cum {
                return i as u32;
            }
        }
        idx[probs.len() - 1] as u32
    }
}

/// Index of the largest value (the first on ties, as torch.argmax).
pub fn argmax(v: &[f32]) -> u32 {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[best] {
            best = i;
        }
    }
    best as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn an_empty_row_is_not_a_panic() {
        let mut rng = StdRng::seed_from_u64(0);
        let c = SamplingConfig { temperature: 1.0, top_k: Some(3), top_p: Some(0.5), repetition_penalty: 1.0 };
        assert_eq!(c.choose(&[], &mut rng), 0);
        assert_eq!(argmax(&[]), 0);
    }

    #[test]
    fn greedy_and_top_k_1_agree() {
        let l = [0.1, 2.0, -1.0, 1.9];
        let mut rng = StdRng::seed_from_u64(0);
        assert_eq!(SamplingConfig::default().choose(&l, &mut rng), 1);
        let s = SamplingConfig { temperature: 1.0, top_k: Some(1), ..Default::default() };
        for _ in 0..20 {
            assert_eq!(s.choose(&l, &mut rng), 1);
        }
    }

    #[test]
    fn top_p_keeps_the_nucleus_only() {
        // probs ≈ [0.64, 0.24, 0.09, 0.03]: p=0.8 keeps the first two
        let l = [3.0f32, 2.0, 1.0, 0.0];
        let s = SamplingConfig { temperature: 1.0, top_p: Some(0.8), ..Default::default() };
        let mut rng = StdRng::seed_from_u64(1);
        let mut seen = [0; 4];
        for _ in 0..2000 {
            seen[s.choose(&l, &mut rng) as usize] += 1;
        }
        assert!(seen[0] > 0 && seen[1] > 0 && seen[2] == 0 && seen[3] == 0, "{seen:?}");
        // and the kept pair keeps its ratio ≈ e : 1
        let ratio = seen[0] as f64 / seen[1] as f64;
        assert!((ratio - std::f64::consts::E).abs() < 0.5, "{ratio}");
    }

    #[test]
    fn repetition_penalty_follows_hf_sign_rule() {
        let mut l = vec![2.0, -2.0, 1.0];
        SamplingConfig { repetition_penalty: 2.0, ..Default::default() }.penalise(&mut l, &[0, 1, 1]);
        assert_eq!(l, vec![1.0, -4.0, 1.0]);
    }
}
