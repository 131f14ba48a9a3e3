//! Transformers don't need LayerNorm at inference time (Baroni, Khara, Schaeffer, Subkhankulov,
//! Heimersheim; arXiv 2507.02559): the per-seed pieces notebook 02 runs and asserts on.
//!
//! The method lives in [`crate::train::ln_removal`] (FakeLN schedule) and [`crate::interp`]
//! (DLA, direct effect, entropy neurons); this module runs one seed's pair of equal-length
//! fine-tunes and evaluates models the way the paper's tables do.

use candle_core::Tensor;

use crate::data::TokenDataset;
use crate::interp::{cross_entropy_per_token, entropy, expected_calibration_error, neuron_ablation_entropy};
use crate::model::Gpt2;
use crate::train::{AdamW, AdamWConfig, LnRemovalSchedule, Metrics, TrainConfig, Trainer};
use crate::Result;

/// Held-out CE of GPT-2 small on OpenWebText after the vanilla fine-tune (repository README
/// table, "vanilla-FT").
pub const PAPER_VANILLA_CE: f64 = 3.0126;
/// Held-out CE of the LN-free GPT-2 small on OpenWebText (same table).
pub const PAPER_LN_FREE_CE: f64 = 3.0797;
/// The LN-free model's relative CE increase over the vanilla fine-tune in the paper:
/// (3.0797 − 3.0126) / 3.0126 ≈ 2.23%.
pub fn paper_relative_increase() -> f64 {
    (PAPER_LN_FREE_CE - PAPER_VANILLA_CE) / PAPER_VANILLA_CE
}
/// The entropy neurons the paper names in GPT-2 small (layer 11).
pub const PAPER_ENTROPY_NEURONS: [usize; 3] = [584, 2123, 2870];

/// One fine-tune of `base`: AdamW (its lr set each step by `cfg.schedule`), `cfg` with `seed`
/// for the data order; with `removal`, the sequential LayerNorm removal runs during it (σ
/// measured on the calibration ids).
pub fn fine_tune(base: &Gpt2, train: &TokenDataset, cfg: &TrainConfig, seed: u64, removal: Option<(&LnRemovalSchedule, &Tensor)>) -> Result<(Gpt2, Metrics)> {
    let opt = AdamW::new(AdamWConfig { lr: cfg.schedule.at(0), ..Default::default() });
    let mut tr = Trainer::new(base, Box::new(opt), TrainConfig { seed, ..cfg.clone() })?;
    if let Some((schedule, calib)) = removal {
        schedule.clone().attach(&mut tr, calib.clone());
    }
    let metrics = tr.fit(train, None)?;
    Ok((tr.model()?, metrics))
}

/// A seed's pair: the vanilla fine-tune and the LN-removal fine-tune, same data order, steps
/// and optimizer.
pub struct SeedPair {
    pub seed: u64,
    pub vanilla: Gpt2,
    pub vanilla_curve: Metrics,
    pub ln_free: Gpt2,
    pub ln_free_curve: Metrics,
}

/// Runs the pair for every seed, `threads` fine-tunes at a time (each fine-tune is one job, so
/// two cores run a seed's two fine-tunes side by side).
pub fn fine_tune_pairs(base: &Gpt2, train: &TokenDataset, cfg: &TrainConfig, schedule: &LnRemovalSchedule, calib: &Tensor, seeds: &[u64], threads: usize) -> Result<Vec<SeedPair>> {
    let jobs: Vec<(u64, bool)> = seeds.iter().flat_map(|&s| [(s, false), (s, true)]).collect();
    let mut done = crate::runtime::parallel_map(jobs, threads, |(seed, remove)| fine_tune(base, train, cfg, seed, remove.then_some((schedule, calib))))
        .into_iter()
        .collect::<Result<Vec<_>>>()?
        .into_iter();
    let mut out = vec![];
    for &seed in seeds {
        let (vanilla, vanilla_curve) = done.next().expect("two runs per seed");
        let (ln_free, ln_free_curve) = done.next().expect("two runs per seed");
        out.push(SeedPair { seed, vanilla, vanilla_curve, ln_free, ln_free_curve });
    }
    Ok(out)
}

/// Held-out evaluation as the paper's tables report it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evaluation {
    /// mean cross-entropy (nats/token)
    pub ce: f64,
    /// mean entropy of the predictions (nats)
    pub entropy: f64,
    /// expected calibration error, 10 bins
    pub ece: f64,
}

pub fn evaluate(model: &Gpt2, x: &Tensor, y: &Tensor) -> Result<Evaluation> {
    let logits = model.forward(x)?;
    let ce = cross_entropy_per_token(&logits, y)?.mean_all()?.to_scalar::<f32>()? as f64;
    let h = entropy(&logits)?.mean_all()?.to_scalar::<f32>()? as f64;
    let ece = expected_calibration_error(&logits, y, 10)?;
    Ok(Evaluation { ce, entropy: h, ece })
}

/// Sum over `neurons` of |entropy change| when each is zero-ablated (`layer`'s MLP): the
/// neurons' total effect on the model's confidence.
pub fn entropy_neurons_total_effect(model: &Gpt2, x: &Tensor, layer: usize, neurons: &[usize]) -> Result<f64> {
    let mut sum = 0.0;
    for &n in neurons {
        sum += neuron_ablation_entropy(model, x, layer, n)?.total.abs();
    }
    Ok(sum)
}
