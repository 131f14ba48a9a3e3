//! Activation patching and attribution patching sweeps over layers × positions.
//!
//! Activation patching (Meng et al. 2022; Wang et al. 2023): run the *corrupted* prompt, copy one
//! activation (one layer, one position) from the *clean* run, and read a metric (the logit
//! difference between the clean and the corrupted answer at the last position). The sweep does
//! this for every layer and position of one site (`resid_pre`, `attn_out` or `mlp_out`).
//!
//! Why it is fast ([`activation_patching`]): a patched run equals the corrupted run before the
//! patched point, so it resumes there ([`Gpt2::resume`]) instead of re-running the layers below;
//! the patched runs of one layer are one batch (one patched position per row); and only the last
//! position is unembedded. [`activation_patching_naive`] is the textbook loop (one full hooked
//! forward per cell, what TransformerLens' `get_act_patch_*` does) kept as the reference the
//! fast sweep is tested against.
//!
//! Attribution patching (Nanda 2023; Syed et al. 2023): the first-order estimate
//! `m(corrupt) + (a_clean − a_corrupt) · ∂m/∂a |corrupt` for every cell at once, from one
//! corrupted forward and one backward ([`attribution_patching`]). It is an approximation: compare
//! it with activation patching ([`PatchGrid::correlation`]) before trusting it.

use candle_core::{DType, Tensor, Var, D};

use crate::display::Chart;
use crate::hooks::{HookPoint, HookSpec, Intervention};
use crate::model::{Entry, Gpt2};
use crate::{Error, Result};

/// Which activation a sweep patches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchSite {
    /// The residual stream entering each block (`blocks.{l}.hook_resid_pre`).
    ResidPre,
    /// Each block's attention output (`blocks.{l}.hook_attn_out`).
    AttnOut,
    /// Each block's MLP output (`blocks.{l}.hook_mlp_out`).
    MlpOut,
}

impl PatchSite {
    /// The hook point patched at layer `l`.
    pub fn hook(self, l: usize) -> HookPoint {
        match self {
            PatchSite::ResidPre => HookPoint::ResidPre(l),
            PatchSite::AttnOut => HookPoint::AttnOut(l),
            PatchSite::MlpOut => HookPoint::MlpOut(l),
        }
    }

    /// The residual stream a patched run resumes from (the patch is added to it), and where.
    fn resume_point(self, l: usize) -> (HookPoint, Entry) {
        match self {
            PatchSite::ResidPre => (HookPoint::ResidPre(l), Entry::ResidPre(l)),
            PatchSite::AttnOut => (HookPoint::ResidMid(l), Entry::ResidMid(l)),
            PatchSite::MlpOut => (HookPoint::ResidPost(l), Entry::ResidPre(l + 1)),
        }
    }
}

/// The metric: `logit(a) − logit(b)` at the last position (the clean answer minus the corrupted one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogitDiff {
    pub a: u32,
    pub b: u32,
}

impl LogitDiff {
    pub fn new(a: u32, b: u32) -> Self {
        LogitDiff { a, b }
    }

    /// The metric per row of logits `(B, T, V)`, read at the last position: `(B,)`.
    pub fn of_logits(&self, logits: &Tensor) -> Result<Tensor> {
        let t = logits.dim(1)?;
        let last = logits.narrow(1, t - 1, 1)?.squeeze(1)?; // (B, V)
        Ok(
            (last.narrow(1, self.a as usize, 1)? - last.narrow(1, self.b as usize, 1)?)?
                .squeeze(1)?,
        )
    }
}

/// A sweep's result: the metric of each patched run, layers × positions.
#[derive(Clone, Debug)]
pub struct PatchGrid {
    pub site: PatchSite,
    /// "activation", "activation (naive)" or "attribution" (a first-order estimate).
    pub method: &'static str,
    /// `values[layer][position]`: the metric with that one activation patched.
    pub values: Vec<Vec<f32>>,
    /// The metric on the clean and on the corrupted prompt, unpatched.
    pub clean: f32,
    pub corrupt: f32,
}

impl PatchGrid {
    /// `(v − corrupt) / (clean − corrupt)`: 0 = no effect, 1 = restores the clean metric.
    pub fn normalized(&self) -> Vec<Vec<f32>> {
        let span = self.clean - self.corrupt;
        let span = if span.abs() < 1e-12 { 1e-12 } else { span };
        self.values
            .iter()
            .map(|r| r.iter().map(|v| (v - self.corrupt) / span).collect())
            .collect()
    }

    /// The largest |Δ| between two grids of the same shape.
    pub fn max_abs_diff(&self, other: &PatchGrid) -> Result<f32> {
        self.same_shape(other)?;
        Ok(self
            .values
            .iter()
            .flatten()
            .zip(other.values.iter().flatten())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max))
    }

    /// Pearson correlation of the effects `v − corrupt` over all cells (agreement of attribution
    /// with activation patching).
    pub fn correlation(&self, other: &PatchGrid) -> Result<f32> {
        self.same_shape(other)?;
        let x: Vec<f64> = self
            .values
            .iter()
            .flatten()
            .map(|&v| (v - self.corrupt) as f64)
            .collect();
        let y: Vec<f64> = other
            .values
            .iter()
            .flatten()
            .map(|&v| (v - other.corrupt) as f64)
            .collect();
        let n = x.len() as f64;
        let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
        let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
        for (a, b) in x.iter().zip(&y) {
            sxy += (a - mx) * (b - my);
            sxx += (a - mx) * (a - mx);
            syy += (b - my) * (b - my);
        }
        if sxx == 0.0 || syy == 0.0 {
            return Err(Error::EmptyInput("correlation of a constant grid".into()));
        }
        Ok((sxy / (sxx * syy).sqrt()) as f32)
    }

    /// Heatmap of the normalised effect, layers × positions (`tokens` label the positions; empty
    /// for indices).
    pub fn chart(&self, tokens: &[String]) -> Result<Chart> {
        let rows: Vec<String> = (0..self.values.len()).map(|l| format!("L{l}")).collect();
        let title = format!(
            "{} patching, {:?} (normalised logit diff)",
            self.method, self.site
        );
        Ok(Chart::heatmap(self.normalized(), &rows, tokens)?.title(&title))
    }

    fn same_shape(&self, other: &PatchGrid) -> Result<()> {
        let shape = |g: &PatchGrid| (g.values.len(), g.values.first().map_or(0, |r| r.len()));
        if shape(self) != shape(other) {
            return Err(Error::Shape(format!(
                "patch grids of shape {:?} and {:?}",
                shape(self),
                shape(other)
            )));
        }
        Ok(())
    }
}

/// Checks the prompts and the metric's tokens; returns the ids as `(1, T)` u32.
fn prompts(
    model: &Gpt2,
    clean: &Tensor,
    corrupt: &Tensor,
    metric: LogitDiff,
) -> Result<(Tensor, Tensor)> {
    let as_row = |t: &Tensor, what: &str| -> Result<Tensor> {
        let t = if t.rank() == 1 {
            t.unsqueeze(0)?
        } else {
            t.clone()
        };
        match t.dims() {
            [1, n] if *n > 0 => Ok(t.to_dtype(DType::U32)?),
            d => Err(Error::Shape(format!(
                "patching takes one {what} prompt, (T,) or (1, T); got {d:?}"
            ))),
        }
    };
    let (c, k) = (as_row(clean, "clean")?, as_row(corrupt, "corrupted")?);
    if c.dims() != k.dims() {
        return Err(Error::Shape(format!(
            "clean prompt {:?} and corrupted prompt {:?} differ in length",
            c.dims(),
            k.dims()
        )));
    }
    for id in [metric.a, metric.b] {
        if id as usize >= model.cfg.vocab_size {
            return Err(Error::TokenOutOfRange {
                id,
                vocab: model.cfg.vocab_size,
            });
        }
    }
    Ok((c, k))
}

fn scalar(t: &Tensor) -> Result<f32> {
    Ok(t.flatten_all()?
        .get(0)?
        .to_dtype(DType::F32)?
        .to_scalar::<f32>()?)
}

/// Captures `points` on one run; returns the logits and the activations in order.
fn run_capturing(
    model: &Gpt2,
    ids: &Tensor,
    points: &[HookPoint],
) -> Result<(Tensor, Vec<Tensor>)> {
    let spec = points.iter().fold(HookSpec::new(), |s, p| s.capture(*p));
    let run = model.run(ids, &spec)?;
    let acts = points
        .iter()
        .map(|p| Ok(run.cache.get(*p)?.clone()))
        .collect::<Result<Vec<_>>>()?;
    Ok((run.logits, acts))
}

/// What every sweep starts from: the checked corrupted prompt `(1, T)`, the site's hook point
/// per layer, and the clean run's metric and activations at those points.
fn clean_side(
    model: &Gpt2,
    clean: &Tensor,
    corrupt: &Tensor,
    site: PatchSite,
    metric: LogitDiff,
) -> Result<(Tensor, Vec<HookPoint>, f32, Vec<Tensor>)> {
    let (clean, corrupt) = prompts(model, clean, corrupt, metric)?;
    let sites: Vec<HookPoint> = (0..model.cfg.n_layer).map(|l| site.hook(l)).collect();
    let (logits, acts) = run_capturing(model, &clean, &sites)?;
    Ok((corrupt, sites, scalar(&metric.of_logits(&logits)?)?, acts))
}

/// Activation patching of every layer × position of `site`: the metric of the corrupted run
/// with that one activation taken from the clean run. Same numbers as
/// [`activation_patching_naive`] (tested to 1e-4), from partial, batched forwards.
pub fn activation_patching(
    model: &Gpt2,
    clean: &Tensor,
    corrupt: &Tensor,
    site: PatchSite,
    metric: LogitDiff,
) -> Result<PatchGrid> {
    let (corrupt, sites, clean_metric, clean_acts) =
        clean_side(model, clean, corrupt, site, metric)?;
    let (n, t, c) = (model.cfg.n_layer, corrupt.dim(1)?, model.cfg.n_embd);
    let bases: Vec<HookPoint> = (0..n).map(|l| site.resume_point(l).0).collect();
    let mut points = sites.clone();
    points.extend(&bases);
    let (corrupt_logits, acts) = run_capturing(model, &corrupt, &points)?;
    let (corrupt_acts, base_acts) = acts.split_at(n);
    // Rows per batch: the patched runs of one layer, a few thousand token rows at a time.
    let chunk = (4096 / t).clamp(1, t);
    let dev = model.device();
    let mut values = vec![vec![0f32; t]; n];
    for l in 0..n {
        let delta = (&clean_acts[l] - &corrupt_acts[l])?; // (1, T, C)
        let entry = site.resume_point(l).1;
        for p0 in (0..t).step_by(chunk) {
            let rows = chunk.min(t - p0);
            // one-hot (rows, T, 1): row i patches position p0 + i
            let mut onehot = vec![0f32; rows * t];
            for i in 0..rows {
                onehot[i * t + p0 + i] = 1.0;
            }
            let onehot = Tensor::from_vec(onehot, (rows, t, 1), dev)?.to_dtype(model.dtype())?;
            let x = base_acts[l].broadcast_add(&onehot.broadcast_mul(&delta)?)?; // (rows, T, C)
            debug_assert_eq!(x.dims(), &[rows, t, c]);
            let logits = model.resume(entry, &x, true)?; // (rows, 1, V)
            let m = metric
                .of_logits(&logits)?
                .to_dtype(DType::F32)?
                .to_vec1::<f32>()?;
            values[l][p0..p0 + rows].copy_from_slice(&m);
        }
    }
    Ok(PatchGrid {
        site,
        method: "activation",
        values,
        clean: clean_metric,
        corrupt: scalar(&metric.of_logits(&corrupt_logits)?)?,
    })
}

/// The reference loop: one full forward with a `PatchPositions` hook per layer × position
/// (as TransformerLens' `get_act_patch_*`).
pub fn activation_patching_naive(
    model: &Gpt2,
    clean: &Tensor,
    corrupt: &Tensor,
    site: PatchSite,
    metric: LogitDiff,
) -> Result<PatchGrid> {
    let (corrupt, sites, clean_metric, clean_acts) =
        clean_side(model, clean, corrupt, site, metric)?;
    let (n, t) = (model.cfg.n_layer, corrupt.dim(1)?);
    let corrupt_logits = model.forward(&corrupt)?;
    let mut values = vec![vec![0f32; t]; n];
    for (l, src) in clean_acts.iter().enumerate() {
        for (p, v) in values[l].iter_mut().enumerate() {
            let spec = HookSpec::new().intervene(
                sites[l],
                Intervention::PatchPositions {
                    source: src.clone(),
                    positions: vec![p],
                },
            );
            *v = scalar(&metric.of_logits(&model.run(&corrupt, &spec)?.logits)?)?;
        }
    }
    Ok(PatchGrid {
        site,
        method: "activation (naive)",
        values,
        clean: clean_metric,
        corrupt: scalar(&metric.of_logits(&corrupt_logits)?)?,
    })
}

/// Attribution patching: the first-order estimate of every cell of [`activation_patching`] from
/// one clean forward, one corrupted forward and one backward.
pub fn attribution_patching(
    model: &Gpt2,
    clean: &Tensor,
    corrupt: &Tensor,
    site: PatchSite,
    metric: LogitDiff,
) -> Result<PatchGrid> {
    let (corrupt, sites, clean_metric, clean_acts) =
        clean_side(model, clean, corrupt, site, metric)?;
    let (n, t, c) = (model.cfg.n_layer, corrupt.dim(1)?, model.cfg.n_embd);
    // A zero variable added at each site: candle's backward keeps the gradients of variables
    // only (intermediate ones are freed as it goes), and ∂m/∂(a + 0) at the variable is ∂m/∂a.
    // The weights stay plain tensors, so nothing else gets a gradient.
    let zeros = sites
        .iter()
        .map(|_| Var::zeros((1, t, c), model.dtype(), model.device()))
        .collect::<candle_core::Result<Vec<_>>>()?;
    let spec = sites.iter().zip(&zeros).fold(HookSpec::new(), |s, (p, z)| {
        let z = z.as_tensor().clone();
        s.capture(*p)
            .intervene(*p, Intervention::custom(move |x, _| x.broadcast_add(&z)))
    });
    let run = model.run(&corrupt, &spec)?;
    let m = metric.of_logits(&run.logits)?.sum_all()?;
    let corrupt_metric = scalar(&m)?;
    let grads = m.backward()?;
    let mut values = Vec::with_capacity(n);
    for (l, p) in sites.iter().enumerate() {
        let delta = (&clean_acts[l] - run.cache.get(*p)?.detach())?; // (1, T, C)
        let est = match grads.get(zeros[l].as_tensor()) {
            Some(g) => (delta * g)?
                .sum(D::Minus1)?
                .squeeze(0)?
                .to_dtype(DType::F32)?
                .to_vec1::<f32>()?,
            None => vec![0f32; t], // not on the metric's path
        };
        values.push(est.into_iter().map(|e| corrupt_metric + e).collect());
    }
    Ok(PatchGrid {
        site,
        method: "attribution",
        values,
        clean: clean_metric,
        corrupt: corrupt_metric,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Gpt2Config;
    use candle_core::Device;

    fn tiny() -> Gpt2 {
        Gpt2::random(Gpt2Config::tiny(60, 16, 32, 3, 4), 11, &Device::Cpu).unwrap()
    }

    fn ids(v: &[u32]) -> Tensor {
        Tensor::new(v, &Device::Cpu).unwrap()
    }

    #[test]
    fn the_fast_sweep_equals_the_naive_loop_at_every_site() {
        let m = tiny();
        let (clean, corrupt) = (
            ids(&[5, 17, 3, 42, 8, 11, 9]),
            ids(&[5, 17, 3, 29, 8, 11, 9]),
        );
        let metric = LogitDiff::new(42, 29);
        for site in [PatchSite::ResidPre, PatchSite::AttnOut, PatchSite::MlpOut] {
            let fast = activation_patching(&m, &clean, &corrupt, site, metric).unwrap();
            let naive = activation_patching_naive(&m, &clean, &corrupt, site, metric).unwrap();
            let d = fast.max_abs_diff(&naive).unwrap();
            assert!(d < 1e-4, "{site:?}: max |Δ| {d}");
            assert_eq!((fast.clean, fast.corrupt), (naive.clean, naive.corrupt));
            // the patch has an effect somewhere, so the comparison is not 0 = 0
            assert!(
                fast.values
                    .iter()
                    .flatten()
                    .any(|v| (v - fast.corrupt).abs() > 1e-3),
                "{site:?}: no cell moved"
            );
        }
    }

    #[test]
    fn patching_resid_pre_at_layer_0_everywhere_the_prompts_differ_restores_the_clean_metric() {
        // Only position 3 differs, so patching resid_pre at (0, 3) turns the corrupted run into the
        // clean one; positions whose tokens agree change nothing.
        let m = tiny();
        let (clean, corrupt) = (ids(&[5, 17, 3, 42, 8, 11]), ids(&[5, 17, 3, 29, 8, 11]));
        let g = activation_patching(
            &m,
            &clean,
            &corrupt,
            PatchSite::ResidPre,
            LogitDiff::new(42, 29),
        )
        .unwrap();
        assert!(
            (g.values[0][3] - g.clean).abs() < 1e-4,
            "{} vs clean {}",
            g.values[0][3],
            g.clean
        );
        for p in [0, 1, 2, 4, 5] {
            assert!(
                (g.values[0][p] - g.corrupt).abs() < 1e-4,
                "position {p}: {} vs corrupt {}",
                g.values[0][p],
                g.corrupt
            );
        }
        let norm = g.normalized();
        assert!((norm[0][3] - 1.0).abs() < 1e-3);
    }

    #[test]
    fn attribution_patching_agrees_with_activation_patching_on_a_tiny_model() {
        // Cells whose activation is the same on both prompts have no effect in either method; over
        // the grid the first-order estimate tracks the exact one (it is not exact: the model is
        // not linear between the two activations).
        let m = tiny();
        let (clean, corrupt) = (
            ids(&[5, 17, 3, 42, 8, 11, 9]),
            ids(&[5, 17, 3, 29, 8, 11, 9]),
        );
        let metric = LogitDiff::new(42, 29);
        let act = activation_patching(&m, &clean, &corrupt, PatchSite::ResidPre, metric).unwrap();
        let att = attribution_patching(&m, &clean, &corrupt, PatchSite::ResidPre, metric).unwrap();
        assert!((att.corrupt - act.corrupt).abs() < 1e-5);
        for p in 0..3 {
            assert!((att.values[0][p] - att.corrupt).abs() < 1e-5);
        }
        let r = act.correlation(&att).unwrap();
        assert!(r > 0.5, "attribution vs activation patching: r = {r}");
    }

    #[test]
    fn attribution_gradient_matches_finite_differences() {
        // ∂m/∂resid_pre(l)[p, c] by central differences through Gpt2::resume.
        let m = tiny().to_dtype(DType::F64).unwrap();
        let corrupt = ids(&[5, 17, 3, 29]);
        let clean = ids(&[5, 17, 3, 42]);
        let metric = LogitDiff::new(42, 29);
        let att = attribution_patching(&m, &clean, &corrupt, PatchSite::ResidPre, metric).unwrap();
        for l in 0..3 {
            let run = m
                .run(&corrupt, &HookSpec::new().capture(HookPoint::ResidPre(l)))
                .unwrap();
            let clean_run = m
                .run(&clean, &HookSpec::new().capture(HookPoint::ResidPre(l)))
                .unwrap();
            let a = run.cache.get(HookPoint::ResidPre(l)).unwrap().clone();
            let delta = (clean_run.cache.get(HookPoint::ResidPre(l)).unwrap() - &a).unwrap();
            // directional derivative along delta at position p: (m(a + hδ_p) − m(a − hδ_p)) / 2h
            let h = 1e-5;
            for p in 0..4 {
                let mut mask = vec![0f64; 4];
                mask[p] = 1.0;
                let mask = Tensor::from_vec(mask, (1, 4, 1), &Device::Cpu).unwrap();
                let dp = delta.broadcast_mul(&mask).unwrap();
                let f = |s: f64| {
                    metric
                        .of_logits(
                            &m.resume(
                                Entry::ResidPre(l),
                                &(&a + (&dp * s).unwrap()).unwrap(),
                                true,
                            )
                            .unwrap(),
                        )
                        .unwrap()
                        .get(0)
                        .unwrap()
                        .to_scalar::<f64>()
                        .unwrap()
                };
                let fd = (f(h) - f(-h)) / (2.0 * h);
                let est = (att.values[l][p] - att.corrupt) as f64;
                assert!(
                    (fd - est).abs() < 1e-5 * (1.0 + fd.abs()),
                    "layer {l} position {p}: finite differences {fd}, attribution {est}"
                );
            }
        }
    }

    #[test]
    fn bad_prompts_and_tokens_are_typed_errors() {
        let m = tiny();
        let metric = LogitDiff::new(1, 2);
        assert!(matches!(
            activation_patching(
                &m,
                &ids(&[1, 2, 3]),
                &ids(&[1, 2]),
                PatchSite::ResidPre,
                metric
            ),
            Err(Error::Shape(_))
        ));
        let two = Tensor::new(&[[1u32, 2], [3, 4]], &Device::Cpu).unwrap();
        assert!(matches!(
            activation_patching(&m, &two, &two, PatchSite::ResidPre, metric),
            Err(Error::Shape(_))
        ));
        assert!(matches!(
            attribution_patching(
                &m,
                &ids(&[1, 2]),
                &ids(&[1, 3]),
                PatchSite::AttnOut,
                LogitDiff::new(60, 1)
            ),
            Err(Error::TokenOutOfRange { .. })
        ));
    }
}
