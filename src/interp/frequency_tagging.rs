//! The Hierarchical Frequency Tagging Probe (HFTP; arXiv 2510.13255): which neurons follow a
//! stream's phrase and sentence rhythm.
//!
//! A stream of four-word `[Adj N] [V N]` sentences presented one word per sample (0.25 s, so
//! words at 4 Hz, phrases at 2 Hz, sentences at 1 Hz — [`Rates::paper`]) is run through the
//! model; each neuron's activation, averaged over a word's sub-tokens ([`word_activations`]),
//! is a time series sampled at the word rate. Averaged over trials (the paper averages 10
//! shuffled presentations), its amplitude spectrum ([`amplitude_spectrum`], DC removed) is read
//! at the sentence and phrase bins; a neuron is tagged at a rate when that amplitude beats the
//! same series' amplitude after random permutations of its samples ([`permutation_pvalues`];
//! the paper's 95th-percentile rule is `p < 0.05`), here corrected over all neurons by
//! Benjamini–Hochberg ([`benjamini_hochberg`]). [`hftp`] does all of it per layer.
//!
//! Two things are ours, not the paper's: the FDR correction (the repository thresholds each
//! neuron at its own 95th percentile, which lets ~5% of pure-noise neurons through), and
//! [`WordActivations::lexical_residual`], which subtracts each word's mean response so that
//! what is left is what the *context* adds: with word classes locked to positions, a neuron
//! that only tells adjectives from nouns already oscillates at 1 and 2 Hz, in a trained model
//! and a random one alike (the confound this probe is open to).
//!
//! A limit of permutation p-values under FDR control: the smallest p-value is `1 / (n_perm + 1)`,
//! so with `m` units Benjamini–Hochberg rejects only when at least `m / (q (n_perm + 1))` units
//! reach it — at ci (512 units, 200 permutations, q = 0.05) about 51 units, a tenth of them: a
//! layer's tagged fraction is then either 0 or large. More permutations lower that floor.
//!
//! Benjamini–Hochberg is written here rather than taken from a crate: it is a sort and a
//! running minimum (a dozen lines), `statrs` (a dependency) has distributions but no
//! multiple-comparison procedures, and the test checks it against statsmodels'
//! `multipletests(method="fdr_bh")`.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rayon::prelude::*;
use realfft::RealFftPlanner;

use candle_core::{DType, Tensor};

use crate::hooks::{HookPoint, HookSpec};
use crate::model::Gpt2;
use crate::{Error, Result};

/// The tagging rates, in Hz, and the sampling rate (one sample per word).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rates {
    pub sample_hz: f64,
    pub phrase_hz: f64,
    pub sentence_hz: f64,
}

impl Rates {
    /// The paper's four-word design: one word per 0.25 s, phrases at 2 Hz, sentences at 1 Hz.
    pub fn paper() -> Rates {
        Rates {
            sample_hz: 4.0,
            phrase_hz: 2.0,
            sentence_hz: 1.0,
        }
    }
}

/// `|rfft(x)|` with the DC bin set to zero (the paper's spectrum): `n / 2 + 1` amplitudes.
pub fn amplitude_spectrum(x: &[f64]) -> Result<Vec<f64>> {
    if x.len() < 2 {
        return Err(Error::EmptyInput(format!(
            "a spectrum needs at least 2 samples, got {}",
            x.len()
        )));
    }
    if let Some(i) = x.iter().position(|v| !v.is_finite()) {
        return Err(Error::NonFiniteOutput(format!(
            "sample {i} of the series is {}",
            x[i]
        )));
    }
    let mut fft = Spectrum::new(x.len());
    Ok(fft.amplitudes(x).to_vec())
}

/// One planned real FFT with its buffers, reused across many series of one length.
struct Spectrum {
    plan: std::sync::Arc<dyn realfft::RealToComplex<f64>>,
    input: Vec<f64>,
    output: Vec<realfft::num_complex::Complex<f64>>,
    scratch: Vec<realfft::num_complex::Complex<f64>>,
    amps: Vec<f64>,
}

impl Spectrum {
    fn new(n: usize) -> Spectrum {
        let plan = RealFftPlanner::<f64>::new().plan_fft_forward(n);
        let (input, output, scratch) = (
            plan.make_input_vec(),
            plan.make_output_vec(),
            plan.make_scratch_vec(),
        );
        Spectrum {
            plan,
            input,
            output,
            scratch,
            amps: vec![0.0; n / 2 + 1],
        }
    }
    fn amplitudes(&mut self, x: &[f64]) -> &[f64] {
        self.input.copy_from_slice(x);
        // lengths match by construction, so the FFT cannot fail
        self.plan
            .process_with_scratch(&mut self.input, &mut self.output, &mut self.scratch)
            .expect("fft buffers sized by the plan");
        for (a, c) in self.amps.iter_mut().zip(&self.output) {
            *a = c.norm();
        }
        self.amps[0] = 0.0;
        &self.amps
    }
}

/// The frequencies of an `n`-sample rfft at `sample_hz` (numpy's `rfftfreq(n, 1 / sample_hz)`).
pub fn rfft_freqs(n: usize, sample_hz: f64) -> Vec<f64> {
    (0..=n / 2)
        .map(|k| k as f64 * sample_hz / n as f64)
        .collect()
}

/// The bin of `freq` in an `n`-sample rfft: it must lie on a bin exactly (a stream whose length
/// is a whole number of periods), else the peak would leak into two bins.
pub fn tagging_bin(freq: f64, n: usize, sample_hz: f64) -> Result<usize> {
    let k = freq * n as f64 / sample_hz;
    if freq.is_nan() || freq <= 0.0 || freq > sample_hz / 2.0 {
        return Err(Error::Data(format!(
            "{freq} Hz is not between 0 and the Nyquist rate {} Hz",
            sample_hz / 2.0
        )));
    }
    if (k - k.round()).abs() > 1e-9 {
        return Err(Error::Data(format!("{n} samples at {sample_hz} Hz put {freq} Hz between bins ({k:.3}); use a multiple of {} samples", (sample_hz / freq).round())));
    }
    Ok(k.round() as usize)
}

/// A peak's signal-to-noise ratio: the amplitude at `bin` over the mean amplitude of the up to
/// `half_width` bins on each side (DC and out-of-range bins skipped).
pub fn peak_snr(spectrum: &[f64], bin: usize, half_width: usize) -> f64 {
    let lo = bin.saturating_sub(half_width).max(1);
    let hi = (bin + half_width).min(spectrum.len() - 1);
    let neigh: Vec<f64> = (lo..=hi)
        .filter(|&k| k != bin)
        .map(|k| spectrum[k])
        .collect();
    let mean = neigh.iter().sum::<f64>() / neigh.len().max(1) as f64;
    if mean > 0.0 {
        spectrum[bin] / mean
    } else {
        f64::NAN
    }
}

/// Permutation p-values of the amplitudes at `bins`: `(1 + #{permutations at least as large}) /
/// (1 + n_perm)`, each permutation a random reordering of the series' samples (the paper's null:
/// same values, no rhythm).
pub fn permutation_pvalues(
    x: &[f64],
    bins: &[usize],
    n_perm: usize,
    seed: u64,
) -> Result<Vec<f64>> {
    let real = amplitude_spectrum(x)?;
    if let Some(&b) = bins.iter().find(|&&b| b >= real.len()) {
        return Err(Error::Data(format!(
            "bin {b} is past the spectrum's {} bins",
            real.len()
        )));
    }
    let mut fft = Spectrum::new(x.len());
    Ok(permute(&mut fft, x, &real, bins, n_perm, seed))
}

fn permute(
    fft: &mut Spectrum,
    x: &[f64],
    real: &[f64],
    bins: &[usize],
    n_perm: usize,
    seed: u64,
) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut y = x.to_vec();
    let mut hits = vec![0usize; bins.len()];
    for _ in 0..n_perm {
        y.shuffle(&mut rng);
        let amps = fft.amplitudes(&y);
        for (h, &b) in hits.iter_mut().zip(bins) {
            if amps[b] >= real[b] {
                *h += 1;
            }
        }
    }
    hits.iter()
        .map(|&h| (1 + h) as f64 / (1 + n_perm) as f64)
        .collect()
}

/// Benjamini–Hochberg adjusted p-values (statsmodels' `multipletests(p, method="fdr_bh")[1]`):
/// `min(1, min_{j ≥ i} p_(j) · m / j)` in sorted order, returned in the input's order.
pub fn benjamini_hochberg(p: &[f64]) -> Result<Vec<f64>> {
    if let Some(&v) = p.iter().find(|v| !(0.0..=1.0).contains(*v)) {
        return Err(Error::Data(format!("p-values must lie in [0, 1], got {v}")));
    }
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut adj = vec![0.0; m];
    let mut running = 1.0f64;
    for (rank, &i) in order.iter().enumerate().rev() {
        running = running.min(p[i] * m as f64 / (rank + 1) as f64);
        adj[i] = running;
    }
    Ok(adj)
}

/// Which hypotheses Benjamini–Hochberg rejects at false discovery rate `q`.
pub fn fdr_reject(p: &[f64], q: f64) -> Result<Vec<bool>> {
    Ok(benjamini_hochberg(p)?.into_iter().map(|a| a <= q).collect())
}

/// Hook kinds [`word_activations`] reads: one vector per position and layer.
pub const NEURON_HOOKS: [&str; 7] = [
    "mlp.hook_pre",
    "mlp.hook_post",
    "hook_mlp_out",
    "hook_resid_pre",
    "hook_resid_mid",
    "hook_resid_post",
    "hook_attn_out",
];

/// Every layer's activation at one hook kind, averaged per word: `data[layer]` is
/// `[trial][word][unit]` flattened.
#[derive(Clone, Debug)]
pub struct WordActivations {
    pub hook: String,
    pub n_trials: usize,
    pub n_words: usize,
    pub width: usize,
    pub data: Vec<Vec<f32>>,
}

impl WordActivations {
    pub fn n_layers(&self) -> usize {
        self.data.len()
    }

    /// Unit `u` of `layer` averaged over trials: the series the spectrum is taken of.
    pub fn trial_mean(&self, layer: usize, u: usize) -> Vec<f64> {
        let d = &self.data[layer];
        (0..self.n_words)
            .map(|w| {
                (0..self.n_trials)
                    .map(|t| d[(t * self.n_words + w) * self.width + u] as f64)
                    .sum::<f64>()
                    / self.n_trials as f64
            })
            .collect()
    }

    /// The activations minus each word's mean response (over every occurrence in every trial):
    /// what the context adds beyond the current word. `words[t][i]` is the word at position `i`
    /// of trial `t` (any id that names the word).
    pub fn lexical_residual(&self, words: &[Vec<usize>]) -> Result<WordActivations> {
        if words.len() != self.n_trials || words.iter().any(|w| w.len() != self.n_words) {
            return Err(Error::Shape(format!(
                "lexical residual: {} trials of {} words expected",
                self.n_trials, self.n_words
            )));
        }
        let n_ids = words.iter().flatten().max().map(|m| m + 1).unwrap_or(0);
        let mut out = self.clone();
        for d in out.data.iter_mut() {
            let mut sum = vec![0.0f64; n_ids * self.width];
            let mut count = vec![0usize; n_ids];
            for (t, ws) in words.iter().enumerate() {
                for (i, &w) in ws.iter().enumerate() {
                    count[w] += 1;
                    let row = &d[(t * self.n_words + i) * self.width..][..self.width];
                    for (s, &v) in sum[w * self.width..][..self.width].iter_mut().zip(row) {
                        *s += v as f64;
                    }
                }
            }
            for (t, ws) in words.iter().enumerate() {
                for (i, &w) in ws.iter().enumerate() {
                    let row = &mut d[(t * self.n_words + i) * self.width..][..self.width];
                    for (v, s) in row.iter_mut().zip(&sum[w * self.width..][..self.width]) {
                        *v -= (*s / count[w] as f64) as f32;
                    }
                }
            }
        }
        Ok(out)
    }
}

/// Runs each trial (`trials[t][w]` = the tokens of word `w`; `bos` prepended when given) and
/// averages `hook` (one of [`NEURON_HOOKS`]) over each word's tokens, in every layer. Trials must
/// have the same number of words; trials of equal token length run as one batch.
pub fn word_activations(
    model: &Gpt2,
    trials: &[Vec<Vec<u32>>],
    bos: Option<u32>,
    hook: &str,
) -> Result<WordActivations> {
    if !NEURON_HOOKS.contains(&hook) {
        return Err(Error::UnknownHook {
            name: hook.into(),
            near: NEURON_HOOKS.iter().map(|s| s.to_string()).collect(),
        });
    }
    let n_words = trials.first().map(|t| t.len()).unwrap_or(0);
    if n_words == 0 {
        return Err(Error::EmptyInput(
            "no trials, or trials without words".into(),
        ));
    }
    if let Some(t) = trials
        .iter()
        .position(|t| t.len() != n_words || t.iter().any(|w| w.is_empty()))
    {
        return Err(Error::Shape(format!(
            "trial {t} does not have {n_words} non-empty words like trial 0"
        )));
    }
    let n_layer = model.cfg.n_layer;
    let points: Vec<HookPoint> = (0..n_layer)
        .map(|l| HookPoint::parse_for(&format!("blocks.{l}.{hook}"), n_layer))
        .collect::<Result<_>>()?;
    let spec = points.iter().fold(HookSpec::new(), |s, &p| s.capture(p));
    let offset = usize::from(bos.is_some());
    let tokens: Vec<Vec<u32>> = trials
        .iter()
        .map(|t| bos.into_iter().chain(t.iter().flatten().copied()).collect())
        .collect();
    let mut data: Vec<Vec<f32>> = vec![vec![]; n_layer];
    let mut width = 0;
    // consecutive trials of one token length form a batch (all of them at ci: one token a word)
    let mut start = 0;
    while start < trials.len() {
        let len = tokens[start].len();
        let mut end = start + 1;
        while end < trials.len() && end - start < 16 && tokens[end].len() == len {
            end += 1;
        }
        let flat: Vec<u32> = tokens[start..end].iter().flatten().copied().collect();
        let ids = Tensor::from_vec(flat, (end - start, len), model.device())?;
        let run = model.run(&ids, &spec)?;
        for (l, p) in points.iter().enumerate() {
            let a = run.cache.get(*p)?.to_dtype(DType::F32)?; // (B, T, width)
            let (_, _, w) = a.dims3()?;
            width = w;
            let a: Vec<Vec<Vec<f32>>> = a.to_vec3()?;
            for (b, t) in (start..end).enumerate() {
                let mut pos = offset;
                for word in &trials[t] {
                    let mut mean = vec![0.0f32; w];
                    for row in &a[b][pos..pos + word.len()] {
                        for (m, v) in mean.iter_mut().zip(row) {
                            *m += v / word.len() as f32;
                        }
                    }
                    if mean.iter().any(|v| !v.is_finite()) {
                        return Err(Error::NonFiniteOutput(format!(
                            "{p} holds NaN/inf at trial {t}, token {pos}"
                        )));
                    }
                    data[l].extend(mean);
                    pos += word.len();
                }
            }
        }
        start = end;
    }
    Ok(WordActivations {
        hook: hook.into(),
        n_trials: trials.len(),
        n_words,
        width,
        data,
    })
}

/// HFTP's settings.
#[derive(Clone, Debug)]
pub struct HftpConfig {
    pub rates: Rates,
    /// Permutations per neuron (paper: 1,000).
    pub n_perm: usize,
    /// False discovery rate over all neurons of all layers, per rate.
    pub q: f64,
    /// Bins on each side for [`peak_snr`].
    pub snr_half_width: usize,
    pub seed: u64,
}

impl HftpConfig {
    pub fn paper(seed: u64) -> HftpConfig {
        HftpConfig {
            rates: Rates::paper(),
            n_perm: 1000,
            q: 0.05,
            snr_half_width: 3,
            seed,
        }
    }
}

/// One layer's result: per unit, amplitudes, p-values, FDR decisions and SNRs at both rates.
#[derive(Clone, Debug)]
pub struct LayerTagging {
    pub layer: usize,
    pub sentence_amp: Vec<f64>,
    pub phrase_amp: Vec<f64>,
    pub sentence_p: Vec<f64>,
    pub phrase_p: Vec<f64>,
    pub sentence_sig: Vec<bool>,
    pub phrase_sig: Vec<bool>,
    pub sentence_snr: Vec<f64>,
    pub phrase_snr: Vec<f64>,
}

impl LayerTagging {
    pub fn n_units(&self) -> usize {
        self.sentence_amp.len()
    }
    fn frac(&self, f: impl Fn(usize) -> bool) -> f64 {
        (0..self.n_units()).filter(|&i| f(i)).count() as f64 / self.n_units().max(1) as f64
    }
    /// Fractions of units tagged at the sentence rate only, the phrase rate only, and both (the
    /// paper's per-layer stacked bars).
    pub fn proportions(&self) -> (f64, f64, f64) {
        let (s, p) = (&self.sentence_sig, &self.phrase_sig);
        (
            self.frac(|i| s[i] && !p[i]),
            self.frac(|i| p[i] && !s[i]),
            self.frac(|i| s[i] && p[i]),
        )
    }
    /// Fraction of units tagged at the sentence rate (`sentence`) or the phrase rate.
    pub fn tagged(&self, sentence: bool) -> f64 {
        let v = self.sig(sentence);
        self.frac(|i| v[i])
    }
    /// Median peak SNR over units at one rate.
    pub fn median_snr(&self, sentence: bool) -> f64 {
        median_finite(self.snr(sentence))
    }
    /// Per-unit peak SNRs at the sentence rate (`sentence`) or the phrase rate.
    pub fn snr(&self, sentence: bool) -> &[f64] {
        if sentence {
            &self.sentence_snr
        } else {
            &self.phrase_snr
        }
    }
    /// Per-unit permutation p-values at one rate.
    pub fn p(&self, sentence: bool) -> &[f64] {
        if sentence {
            &self.sentence_p
        } else {
            &self.phrase_p
        }
    }
    /// Per-unit FDR decisions at one rate.
    pub fn sig(&self, sentence: bool) -> &[bool] {
        if sentence {
            &self.sentence_sig
        } else {
            &self.phrase_sig
        }
    }
    fn sig_mut(&mut self, sentence: bool) -> &mut Vec<bool> {
        if sentence {
            &mut self.sentence_sig
        } else {
            &mut self.phrase_sig
        }
    }
}

/// The median of the finite values (the upper one of an even count), NaN when none is finite.
pub fn median_finite(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// HFTP on every layer of `acts`: trial-mean series, spectrum, permutation p-values at the
/// sentence and phrase bins, Benjamini–Hochberg over all units of all layers per rate.
pub fn hftp(acts: &WordActivations, cfg: &HftpConfig) -> Result<Vec<LayerTagging>> {
    let n = acts.n_words;
    let r = cfg.rates;
    let period = (r.sample_hz / r.sentence_hz).round() as usize;
    if n < 4 * period {
        return Err(Error::Data(format!(
            "a stream of {n} words is too short: HFTP needs at least 4 sentence periods ({} words)",
            4 * period
        )));
    }
    if cfg.n_perm == 0 || !(cfg.q > 0.0 && cfg.q < 1.0) {
        return Err(Error::Data(format!(
            "HFTP needs n_perm > 0 and 0 < q < 1, got {} and {}",
            cfg.n_perm, cfg.q
        )));
    }
    let bins = [
        tagging_bin(r.sentence_hz, n, r.sample_hz)?,
        tagging_bin(r.phrase_hz, n, r.sample_hz)?,
    ];
    let mut layers = vec![];
    for l in 0..acts.n_layers() {
        if acts.data[l].iter().any(|v| !v.is_finite()) {
            return Err(Error::NonFiniteOutput(format!(
                "layer {l} of {} holds NaN/inf",
                acts.hook
            )));
        }
        // one permutation stream per unit, from (seed, layer, unit): the same numbers on any thread count
        let per_unit: Vec<[f64; 6]> = (0..acts.width)
            .into_par_iter()
            .map(|u| {
                let x = acts.trial_mean(l, u);
                let mut fft = Spectrum::new(n);
                let real = fft.amplitudes(&x).to_vec();
                let seed =
                    cfg.seed ^ ((l as u64) << 40) ^ (u as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                let p = permute(&mut fft, &x, &real, &bins, cfg.n_perm, seed);
                [
                    real[bins[0]],
                    real[bins[1]],
                    p[0],
                    p[1],
                    peak_snr(&real, bins[0], cfg.snr_half_width),
                    peak_snr(&real, bins[1], cfg.snr_half_width),
                ]
            })
            .collect();
        let col = |k: usize| per_unit.iter().map(|v| v[k]).collect::<Vec<f64>>();
        layers.push(LayerTagging {
            layer: l,
            sentence_amp: col(0),
            phrase_amp: col(1),
            sentence_p: col(2),
            phrase_p: col(3),
            sentence_sig: vec![],
            phrase_sig: vec![],
            sentence_snr: col(4),
            phrase_snr: col(5),
        });
    }
    for sentence in [true, false] {
        let all: Vec<f64> = layers.iter().flat_map(|l| l.p(sentence).to_vec()).collect();
        let rej = fdr_reject(&all, cfg.q)?;
        let mut i = 0;
        for l in layers.iter_mut() {
            let k = l.n_units();
            *l.sig_mut(sentence) = rej[i..i + k].to_vec();
            i += k;
        }
    }
    Ok(layers)
}

/// The mean over units of `layer` of each unit's trial-mean amplitude spectrum, each divided by
/// its own mean amplitude over the non-DC bins (so loud units do not dominate): `(Hz, relative
/// amplitude)` per bin, DC left out.
pub fn mean_spectrum(
    acts: &WordActivations,
    layer: usize,
    sample_hz: f64,
) -> Result<Vec<(f64, f64)>> {
    if layer >= acts.n_layers() {
        return Err(Error::Shape(format!(
            "layer {layer}: the activations hold {} layers",
            acts.n_layers()
        )));
    }
    let n = acts.n_words;
    let mut fft = Spectrum::new(n);
    let mut sum = vec![0.0; n / 2 + 1];
    let mut units = 0usize;
    for u in 0..acts.width {
        let x = acts.trial_mean(layer, u);
        if x.iter().any(|v| !v.is_finite()) {
            return Err(Error::NonFiniteOutput(format!(
                "layer {layer} unit {u} of {} holds NaN/inf",
                acts.hook
            )));
        }
        let a = fft.amplitudes(&x);
        let mean = a[1..].iter().sum::<f64>() / (a.len() - 1) as f64;
        if mean > 0.0 {
            for (s, v) in sum.iter_mut().zip(a) {
                *s += v / mean;
            }
            units += 1;
        }
    }
    Ok(rfft_freqs(n, sample_hz)
        .into_iter()
        .zip(sum)
        .skip(1)
        .map(|(f, s)| (f, s / units.max(1) as f64))
        .collect())
}
