//! The next-token distribution a sampler draws from, as numbers: temperature and top-k applied
//! to one row of logits exactly as [`SamplingConfig::choose`] applies them, so the probability of
//! any continuation (a belief-consistent location, a belief-inconsistent one) can be read off
//! instead of estimated from samples.
//!
//! [`SamplingConfig::choose`]: crate::generate::SamplingConfig::choose

use crate::{Error, Result};

/// The distribution `SamplingConfig { temperature, top_k, .. }.choose` samples from, over the
/// whole vocabulary (0 outside the top k). Temperature 0 is greedy: all mass on the argmax (the
/// first on ties, as [`crate::generate::argmax`]). Top-k keeps the k largest logits
/// (ties at the k-th place broken as the sampler's unstable sort breaks them), then
/// softmax(z/T) over those, computed as the sampler does (`z/T` in f32, the exponentials in f64).
#[derive(Clone, Debug, PartialEq)]
pub struct NextTokenDist {
    pub probs: Vec<f64>,
    pub temperature: f64,
    pub top_k: Option<usize>,
}

impl NextTokenDist {
    pub fn new(logits: &[f32], temperature: f64, top_k: Option<usize>) -> Result<NextTokenDist> {
        if logits.is_empty() {
            return Err(Error::EmptyInput(
                "next-token distribution of an empty row of logits".into(),
            ));
        }
        if !temperature.is_finite() || temperature < 0.0 {
            return Err(Error::Data(format!(
                "temperature {temperature}: needs a finite value >= 0"
            )));
        }
        if top_k == Some(0) {
            return Err(Error::Data("top_k = 0 keeps no token".into()));
        }
        if let Some(i) = logits.iter().position(|x| x.is_nan()) {
            return Err(Error::NonFiniteOutput(format!("logit {i} is NaN")));
        }
        let mut probs = vec![0.0; logits.len()];
        if temperature == 0.0 {
            probs[crate::generate::argmax(logits) as usize] = 1.0;
            return Ok(NextTokenDist {
                probs,
                temperature,
                top_k,
            });
        }
        let t = temperature as f32;
        let mut idx: Vec<usize> = (0..logits.len()).collect();
        idx.sort_unstable_by(|&a, &b| logits[b].total_cmp(&logits[a]));
        if let Some(k) = top_k {
            idx.truncate(k);
        }
        let max = logits[idx[0]] / t;
        let mut z = 0.0;
        for &i in &idx {
            let e = ((logits[i] / t - max) as f64).exp();
            probs[i] = e;
            z += e;
        }
        probs.iter_mut().for_each(|p| *p /= z);
        Ok(NextTokenDist {
            probs,
            temperature,
            top_k,
        })
    }

    pub fn prob(&self, token: u32) -> f64 {
        self.probs.get(token as usize).copied().unwrap_or(0.0)
    }

    /// Entropy in nats.
    pub fn entropy(&self) -> f64 {
        -self
            .probs
            .iter()
            .filter(|&&p| p > 0.0)
            .map(|p| p * p.ln())
            .sum::<f64>()
    }

    /// The largest probability and its token (the first on ties).
    pub fn top1(&self) -> (u32, f64) {
        let mut best = 0;
        for (i, p) in self.probs.iter().enumerate() {
            if *p > self.probs[best] {
                best = i;
            }
        }
        (best as u32, self.probs[best])
    }

    /// The `n` most likely tokens with their probabilities, most likely first.
    pub fn top(&self, n: usize) -> Vec<(u32, f64)> {
        let mut v: Vec<(u32, f64)> = self
            .probs
            .iter()
            .enumerate()
            .filter(|(_, &p)| p > 0.0)
            .map(|(i, &p)| (i as u32, p))
            .collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        v.truncate(n);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::SamplingConfig;
    use rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn softmax_by_hand() {
        // numpy: l = np.array([2., 1., 0., -1.]); e = np.exp(l / 0.5); e / e.sum()
        let d = NextTokenDist::new(&[2.0, 1.0, 0.0, -1.0], 0.5, None).unwrap();
        let want = [0.86495488, 0.11705891, 0.01584220, 0.00214401];
        for (p, w) in d.probs.iter().zip(want) {
            assert!((p - w).abs() < 1e-8, "{:?}", d.probs);
        }
        // top-3 at T = 2: exp([1, .5, 0]) renormalised; the fourth gets nothing
        let d = NextTokenDist::new(&[2.0, 1.0, 0.0, -1.0], 2.0, Some(3)).unwrap();
        let e = [1f64.exp(), 0.5f64.exp(), 1.0];
        let z: f64 = e.iter().sum();
        for i in 0..3 {
            assert!((d.probs[i] - e[i] / z).abs() < 1e-12);
        }
        assert_eq!(d.probs[3], 0.0);
        // entropy of a uniform pair is ln 2
        let d = NextTokenDist::new(&[0.5, 0.5, -3.0], 1.0, Some(2)).unwrap();
        assert!((d.entropy() - 2f64.ln()).abs() < 1e-12);
        // greedy: one-hot on the first maximum
        let d = NextTokenDist::new(&[0.0, 3.0, 3.0], 0.0, None).unwrap();
        assert_eq!(d.probs, vec![0.0, 1.0, 0.0]);
    }

    /// The distribution is what the sampler draws from: 40,000 draws per setting, every token's
    /// frequency within 5 binomial standard deviations of its probability.
    #[test]
    fn equals_the_samplers_empirical_frequencies() {
        let logits = [1.5f32, -0.3, 2.2, 0.0, 0.9, -2.0];
        for (t, k) in [
            (1.0, None),
            (0.5, Some(3)),
            (2.0, Some(5)),
            (1.5, Some(1)),
            (0.01, None),
        ] {
            let d = NextTokenDist::new(&logits, t, k).unwrap();
            let cfg = SamplingConfig {
                temperature: t,
                top_k: k,
                ..Default::default()
            };
            let mut rng = StdRng::seed_from_u64(11);
            let n = 40_000;
            let mut seen = vec![0usize; logits.len()];
            for _ in 0..n {
                seen[cfg.choose(&logits, &mut rng) as usize] += 1;
            }
            for (i, &c) in seen.iter().enumerate() {
                let p = d.probs[i];
                let sd = (p * (1.0 - p) / n as f64).sqrt();
                let f = c as f64 / n as f64;
                assert!(
                    (f - p).abs() <= 5.0 * sd + 1e-12,
                    "T {t} k {k:?} token {i}: freq {f} vs p {p}"
                );
            }
        }
    }

    /// Temperature never changes the argmax, and the top-1 probability falls as T rises (the
    /// paper's "accuracy vs temperature" under greedy decoding is a confidence effect).
    #[test]
    fn argmax_is_invariant_and_top1_falls_with_temperature() {
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..200 {
            let logits: Vec<f32> = (0..20)
                .map(|_| rand::Rng::random_range(&mut rng, -4.0f32..4.0))
                .collect();
            let greedy = crate::generate::argmax(&logits);
            let mut last = 1.0 + 1e-12;
            for t in [0.01, 0.5, 1.0, 1.5, 2.0] {
                let (tok, p) = NextTokenDist::new(&logits, t, None).unwrap().top1();
                assert_eq!(tok, greedy);
                assert!(p <= last, "{p} > {last}");
                last = p;
            }
        }
    }

    #[test]
    fn bad_input_is_typed() {
        assert!(matches!(
            NextTokenDist::new(&[], 1.0, None),
            Err(Error::EmptyInput(_))
        ));
        assert!(matches!(
            NextTokenDist::new(&[1.0], -1.0, None),
            Err(Error::Data(_))
        ));
        assert!(matches!(
            NextTokenDist::new(&[1.0], f64::NAN, None),
            Err(Error::Data(_))
        ));
        assert!(matches!(
            NextTokenDist::new(&[1.0], 1.0, Some(0)),
            Err(Error::Data(_))
        ));
        assert!(matches!(
            NextTokenDist::new(&[1.0, f32::NAN], 1.0, None),
            Err(Error::NonFiniteOutput(_))
        ));
        // top-k larger than the vocabulary keeps everything
        let d = NextTokenDist::new(&[1.0, 2.0], 1.0, Some(10)).unwrap();
        assert!((d.probs.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(d.top(5).len(), 2);
    }
}
