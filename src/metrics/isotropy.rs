//! Isotropy of a language model's token representations (Su & Collier 2023, §3; official
//! `isotropy_analysis/compute_language_model_isotropy.py`).
//!
//! For a text of T tokens with last-layer representations h_1..h_T (GPT-2: the output of the
//! final LayerNorm, Hugging Face's `hidden_states[-1]`), the **self-similarity** is the mean
//! cosine similarity over the T(T−1) ordered pairs i ≠ j, and **isotropy = 1 − self-similarity**.
//! Over a corpus, the official script pools: the sum of all pairwise cosines over the sum of
//! all T(T−1) — see [`IsotropyAccumulator`]. Anisotropic representations (all in a narrow
//! cone) have isotropy near 0; GPT-2 small measures 0.10 in the paper.
//!
//! Since Σ_{i≠j} cos(h_i, h_j) = ‖Σ_i ĥ_i‖² − T ≥ −T, isotropy lies in [0, 1 + 1/(T−1)]: at most
//! 1 up to that small-T correction.
//!
//! ```
//! use gpt2lab::prelude::*;
//! use gpt2lab::metrics::{isotropy, self_similarity};
//! // three vectors: two identical, one orthogonal → cosines 1, 0, 0 (each twice) → mean 1/3
//! let h = Tensor::new(&[[1f32, 0.0], [2.0, 0.0], [0.0, 5.0]], &Device::Cpu).unwrap();
//! assert!((self_similarity(&h).unwrap() - 1.0 / 3.0).abs() < 1e-9);
//! assert!((isotropy(&h).unwrap() - 2.0 / 3.0).abs() < 1e-9);
//! ```

use candle_core::{DType, Tensor, D};

use crate::hooks::{HookCtx, HookPoint, HookSpec};
use crate::model::Gpt2;
use crate::{Error, Result};

/// The model's last-layer representations of `ids` `(T,)`: the final LayerNorm's output, γ and
/// β applied (what the unembedding reads; HF `hidden_states[-1]`), shape `(T, C)`. Computed
/// by the model's own final norm, so a model running without LayerNorm is measured as it runs.
pub fn last_hidden_states(model: &Gpt2, ids: &[u32]) -> Result<Tensor> {
    if ids.is_empty() {
        return Err(Error::EmptyInput("no tokens".into()));
    }
    let last = HookPoint::ResidPost(model.cfg.n_layer - 1);
    let x = Tensor::from_vec(ids.to_vec(), (1, ids.len()), model.device())?;
    let run = model.run(&x, &HookSpec::new().capture(last))?;
    let resid = run.cache.get(last)?.squeeze(0)?;
    model.ln_f.forward(&resid, &mut HookCtx::new(&HookSpec::new()))
}

fn unit_rows(h: &Tensor) -> Result<Vec<Vec<f64>>> {
    if h.rank() != 2 {
        return Err(Error::Shape(format!("representations must be (T, C), got {:?}", h.dims())));
    }
    let rows: Vec<Vec<f32>> = h.to_dtype(DType::F32)?.to_vec2()?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let n = r.iter().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt().max(1e-12);
            r.into_iter().map(|x| x as f64 / n).collect()
        })
        .collect())
}

/// (Σ_{i≠j} cos(h_i, h_j), T(T−1)) for one `(T, C)` tensor.
fn pair_sums(h: &Tensor) -> Result<(f64, u64)> {
    let u = unit_rows(h)?;
    let t = u.len();
    if t < 2 {
        return Ok((0.0, 0));
    }
    let c = u[0].len();
    let mut sum = vec![0f64; c];
    let mut diag = 0f64;
    for r in &u {
        for (s, x) in sum.iter_mut().zip(r) {
            *s += x;
        }
        diag += r.iter().map(|x| x * x).sum::<f64>();
    }
    let all: f64 = sum.iter().map(|x| x * x).sum();
    Ok((all - diag, (t * (t - 1)) as u64))
}

/// The `(T, T)` matrix of cosine similarities between the rows of `h` `(T, C)`.
pub fn cosine_similarity_matrix(h: &Tensor) -> Result<Tensor> {
    let h = h.to_dtype(DType::F32)?;
    let n = h.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?.clamp(1e-12, f64::INFINITY)?;
    let u = h.broadcast_div(&n)?;
    Ok(u.matmul(&u.t()?)?)
}

/// Mean cosine similarity between distinct tokens of one sequence `(T, C)`, T ≥ 2.
pub fn self_similarity(h: &Tensor) -> Result<f64> {
    let (s, n) = pair_sums(h)?;
    if n == 0 {
        return Err(Error::EmptyInput("self-similarity needs at least 2 tokens".into()));
    }
    Ok(s / n as f64)
}

/// 1 − [`self_similarity`].
pub fn isotropy(h: &Tensor) -> Result<f64> {
    Ok(1.0 - self_similarity(h)?)
}

/// Pools texts as the official script does: Σ cosines / Σ T(T−1) over every text.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IsotropyAccumulator {
    pub cosine_sum: f64,
    pub pairs: u64,
    pub texts: usize,
}

impl IsotropyAccumulator {
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds one text's representations `(T, C)` (texts of one token add no pair).
    pub fn add(&mut self, h: &Tensor) -> Result<()> {
        let (s, n) = pair_sums(h)?;
        self.cosine_sum += s;
        self.pairs += n;
        self.texts += 1;
        Ok(())
    }
    /// The pooled mean pairwise cosine (NaN before any pair).
    pub fn self_similarity(&self) -> f64 {
        if self.pairs == 0 {
            f64::NAN
        } else {
            self.cosine_sum / self.pairs as f64
        }
    }
    pub fn isotropy(&self) -> f64 {
        1.0 - self.self_similarity()
    }
}

/// The isotropy of `model` on a set of tokenised texts (the official script truncates each
/// to `max_len` tokens and prepends no BOS for GPT-2; pass them as you want them measured).
pub fn model_isotropy(model: &Gpt2, texts: &[Vec<u32>]) -> Result<f64> {
    let mut acc = IsotropyAccumulator::new();
    for ids in texts.iter().filter(|t| !t.is_empty()) {
        acc.add(&last_hidden_states(model, ids)?)?;
    }
    if acc.pairs == 0 {
        return Err(Error::EmptyInput("isotropy needs a text of at least 2 tokens".into()));
    }
    Ok(acc.isotropy())
}
