//! `Adapter`: LoRA or NOLA factors on chosen projections of a loaded GPT-2, the base shared
//! (never copied) and frozen.
//!
//! The update of a site is ΔW = (α/r)·B·A with A `(r, d_in)` and B `(d_out, r)` (PyTorch /
//! PEFT orientation; GPT-2's Conv1D weight is `[in, out]`, so ΔWᵀ is what is added).
//!
//! - **LoRA** (Hu et al. 2021; PEFT's defaults): A and B are trained; A starts
//!   Kaiming-uniform (bound 1/√d_in, PyTorch's `kaiming_uniform_(a=√5)`), B at zero.
//! - **NOLA** (Koohpayegani et al., ICLR 2024; `UCDvision/NOLA` `model_nola.py`):
//!   A = A₀ + Σᵢ αᵢ·Aᵢ and B = Σⱼ βⱼ·Bⱼ, with the basis matrices Aᵢ, Bⱼ drawn
//!   Uniform(−1, 1)/√k from a stored seed and A₀ frozen Kaiming-uniform (the official code
//!   adds that frozen A₀, the paper's equation omits it; we follow the code). Only the 2k
//!   coefficients per site train, starting at 0; the basis is regenerated from the seed
//!   (or cached: [`Adapter::cache_basis`]) and never saved.
//!
//! The adapted forward builds W₀ + ΔW for the adapted projections from the trainable
//! factors (a candle graph, so gradients reach them) and runs the ordinary [`Gpt2`] forward;
//! every other tensor is the base's own (shared storage). Because the update is applied in
//! weight space, LoRA dropout is a per-step mask on A's input features, shared by the batch
//! (PEFT drops input activations per token; with dropout 0 the two are the same function,
//! which `tests/peft.rs` checks against PEFT's forward and gradients).

use candle_core::{DType, Tensor, Var};
use serde::{Deserialize, Serialize};

use super::site::{proj_weight, proj_weight_mut, resolve_targets, Proj, Site, Slice};
use crate::model::Gpt2;
use crate::train::{Optimizer, Param, TrainConfig, TrainableGpt2, Trainer};
use crate::{Error, Result};

/// Which parametrisation of the low-rank factors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Method {
    Lora,
    /// `num_basis` (k) random basis matrices per factor, drawn from `basis_seed`.
    Nola { num_basis: usize, basis_seed: u64 },
    /// HUT ([`super::hut`]): W' = W₀ ⊙ (1 + (α/r)·B·A), A and B trained as LoRA's.
    Hut,
}

/// What to adapt and how.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdapterConfig {
    pub method: Method,
    /// Rank r of ΔW.
    pub r: usize,
    /// ΔW is scaled by α/r.
    pub alpha: f64,
    /// Target names ([`super::site`]): `c_attn.q`, `c_attn.v`, `c_attn`, `c_fc`, `h.3.mlp.c_proj`, ...
    pub targets: Vec<String>,
    /// LoRA dropout probability on A's inputs while training (see the module doc).
    pub dropout: f64,
}

impl AdapterConfig {
    pub fn lora(r: usize, alpha: f64, targets: &[&str]) -> AdapterConfig {
        AdapterConfig { method: Method::Lora, r, alpha, targets: targets.iter().map(|s| s.to_string()).collect(), dropout: 0.0 }
    }
    pub fn nola(r: usize, alpha: f64, num_basis: usize, basis_seed: u64, targets: &[&str]) -> AdapterConfig {
        AdapterConfig { method: Method::Nola { num_basis, basis_seed }, ..Self::lora(r, alpha, targets) }
    }
    pub fn hut(r: usize, alpha: f64, targets: &[&str]) -> AdapterConfig {
        AdapterConfig { method: Method::Hut, ..Self::lora(r, alpha, targets) }
    }
    pub fn with_dropout(mut self, p: f64) -> AdapterConfig {
        self.dropout = p;
        self
    }
    pub fn scale(&self) -> f64 {
        self.alpha / self.r as f64
    }
    pub fn validate(&self) -> Result<()> {
        if self.r == 0 {
            return Err(Error::AdapterConfig("rank r must be at least 1".into()));
        }
        if !self.alpha.is_finite() {
            return Err(Error::AdapterConfig(format!("alpha must be finite (got {})", self.alpha)));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::AdapterConfig(format!("dropout must be in [0, 1) (got {})", self.dropout)));
        }
        if let Method::Nola { num_basis: 0, .. } = self.method {
            return Err(Error::AdapterConfig("NOLA needs at least one basis matrix (num_basis = 0)".into()));
        }
        Ok(())
    }
    /// Short label for tables: `LoRA r=4`, `NOLA r=4 k=64`.
    pub fn label(&self) -> String {
        match self.method {
            Method::Lora => format!("LoRA r={}", self.r),
            Method::Nola { num_basis, .. } => format!("NOLA r={} k={num_basis}", self.r),
            Method::Hut => format!("HUT r={}", self.r),
        }
    }
}

/// SplitMix64: a fixed, documented generator, so a NOLA basis regenerated from its seed is
/// the same on every machine and every version of the `rand` crate.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [-1, 1) with 24 random bits.
    pub fn next_sym(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
    pub fn uniform(&mut self, n: usize, bound: f32) -> Vec<f32> {
        (0..n).map(|_| self.next_sym() * bound).collect()
    }
}

/// A per-(seed, site, factor) stream: the seed mixed with the site's identity.
fn stream(seed: u64, site: &Site, factor: u64) -> SplitMix64 {
    let id = (site.layer as u64) << 16 | (site.proj as u64) << 8 | (site.slice as u64) << 4 | factor;
    let mut g = SplitMix64::new(seed ^ id.wrapping_mul(0xD1B5_4A32_D192_ED03));
    g.next_u64();
    g
}

/// The trainable part of one site.
#[derive(Clone, Debug)]
pub enum Factors {
    Lora { a: Var, b: Var },
    Nola { coef_a: Var, coef_b: Var, a0: Tensor, basis: Option<(Tensor, Tensor)> },
    /// HUT's factors and the site's frozen W₀ `[d_in, d_out]` (kept so that ΔW = s·W₀ ⊙ B·A
    /// uses W₀ also after a merge has changed the base).
    Hut { a: Var, b: Var, w0: Tensor },
}

/// One adapted matrix.
#[derive(Clone, Debug)]
pub struct SiteAdapter {
    pub site: Site,
    pub d_in: usize,
    pub d_out: usize,
    pub factors: Factors,
}

/// LoRA/NOLA factors on a base model. Cloning shares the trainable `Var`s (a trainer's
/// updates are seen by every clone).
#[derive(Clone, Debug)]
pub struct Adapter {
    pub cfg: AdapterConfig,
    base: Gpt2,
    sites: Vec<SiteAdapter>,
    merged: bool,
    dropout_seed: u64,
}

impl Adapter {
    /// Fresh factors (ΔW = 0) on `base`; `seed` draws LoRA's A (NOLA's come from its basis seed).
    pub fn new(base: &Gpt2, cfg: &AdapterConfig, seed: u64) -> Result<Adapter> {
        cfg.validate()?;
        let sites = resolve_targets(&base.cfg, &cfg.targets)?;
        let dev = base.device().clone();
        let mut out = vec![];
        for site in sites {
            let (d_in, d_out) = site.dims(&base.cfg);
            let bound = 1.0 / (d_in as f32).sqrt();
            let factors = match cfg.method {
                Method::Lora => {
                    let a = Tensor::from_vec(stream(seed, &site, 1).uniform(cfg.r * d_in, bound), (cfg.r, d_in), &dev)?;
                    Factors::Lora { a: Var::from_tensor(&a)?, b: Var::zeros((d_out, cfg.r), DType::F32, &dev)? }
                }
                Method::Nola { num_basis, basis_seed } => {
                    let a0 = Tensor::from_vec(stream(basis_seed, &site, 0).uniform(cfg.r * d_in, bound), (cfg.r, d_in), &dev)?;
                    Factors::Nola {
                        coef_a: Var::zeros(num_basis, DType::F32, &dev)?,
                        coef_b: Var::zeros(num_basis, DType::F32, &dev)?,
                        a0,
                        basis: None,
                    }
                }
                Method::Hut => {
                    let a = Tensor::from_vec(stream(seed, &site, 1).uniform(cfg.r * d_in, bound), (cfg.r, d_in), &dev)?;
                    let w0 = super::hut::site_w0(base, &site)?;
                    Factors::Hut { a: Var::from_tensor(&a)?, b: Var::zeros((d_out, cfg.r), DType::F32, &dev)?, w0 }
                }
            };
            out.push(SiteAdapter { site, d_in, d_out, factors });
        }
        let base = base.to_dtype(DType::F32)?.detached()?;
        Ok(Adapter { cfg: cfg.clone(), base, sites: out, merged: false, dropout_seed: seed ^ 0xD20F })
    }

    /// Assembles an adapter from given factors (loading). Checks shapes.
    pub(crate) fn from_parts(base: &Gpt2, cfg: &AdapterConfig, sites: Vec<SiteAdapter>) -> Result<Adapter> {
        cfg.validate()?;
        Ok(Adapter { cfg: cfg.clone(), base: base.to_dtype(DType::F32)?.detached()?, sites, merged: false, dropout_seed: 0xD20F })
    }

    /// The frozen base model (with ΔW folded in after [`Adapter::merge`]).
    pub fn base(&self) -> &Gpt2 {
        &self.base
    }
    pub fn sites(&self) -> &[SiteAdapter] {
        &self.sites
    }
    pub fn site_names(&self) -> Vec<String> {
        self.sites.iter().map(|s| s.site.name()).collect()
    }
    pub fn is_merged(&self) -> bool {
        self.merged
    }

    /// Keeps each NOLA site's basis in memory (k·(r·d_in + d_out·r) floats per site) instead
    /// of regenerating it from the seed at every forward. The same numbers either way.
    pub fn cache_basis(&mut self, on: bool) -> Result<()> {
        let (r, method) = (self.cfg.r, self.cfg.method.clone());
        let dev = self.base.device().clone();
        for s in &mut self.sites {
            if let Factors::Nola { basis, .. } = &mut s.factors {
                *basis = if on { Some(nola_basis(&method, r, &s.site, s.d_in, s.d_out, &dev)?) } else { None };
            }
        }
        Ok(())
    }

    /// The trainable tensors as named [`Param`]s (no weight decay: NOLA's and LoRA's recipes use 0).
    pub fn params(&self) -> Vec<Param> {
        let mut v = vec![];
        for s in &self.sites {
            let n = s.site.name();
            match &s.factors {
                Factors::Lora { a, b } => {
                    v.push(Param { name: format!("{n}.lora_A"), var: a.clone(), decay: false });
                    v.push(Param { name: format!("{n}.lora_B"), var: b.clone(), decay: false });
                }
                Factors::Nola { coef_a, coef_b, .. } => {
                    v.push(Param { name: format!("{n}.nola_coef_A"), var: coef_a.clone(), decay: false });
                    v.push(Param { name: format!("{n}.nola_coef_B"), var: coef_b.clone(), decay: false });
                }
                Factors::Hut { a, b, .. } => {
                    v.push(Param { name: format!("{n}.hut_A"), var: a.clone(), decay: false });
                    v.push(Param { name: format!("{n}.hut_B"), var: b.clone(), decay: false });
                }
            }
        }
        v
    }

    /// Exact trainable-parameter count: LoRA r·(d_in + d_out) per site, NOLA 2k per site.
    pub fn n_trainable(&self) -> usize {
        self.params().iter().map(|p| p.var.elem_count()).sum()
    }

    /// The factors (A `(r, d_in)`, B `(d_out, r)`) of one site, graph-connected to the trainable vars.
    pub fn factors(&self, i: usize) -> Result<(Tensor, Tensor)> {
        let s = self.sites.get(i).ok_or_else(|| Error::Shape(format!("adapter has {} sites, asked for {i}", self.sites.len())))?;
        let r = self.cfg.r;
        match &s.factors {
            Factors::Lora { a, b } => Ok((a.as_tensor().clone(), b.as_tensor().clone())),
            Factors::Hut { a, b, .. } => Ok((a.as_tensor().clone(), b.as_tensor().clone())),
            Factors::Nola { coef_a, coef_b, a0, basis } => {
                let owned;
                let (ba, bb) = match basis {
                    Some((ba, bb)) => (ba, bb),
                    None => {
                        owned = nola_basis(&self.cfg.method, r, &s.site, s.d_in, s.d_out, self.base.device())?;
                        (&owned.0, &owned.1)
                    }
                };
                let a = (a0 + coef_a.as_tensor().unsqueeze(0)?.matmul(ba)?.reshape((r, s.d_in))?)?;
                let b = coef_b.as_tensor().unsqueeze(0)?.matmul(bb)?.reshape((s.d_out, r))?;
                Ok((a, b))
            }
        }
    }

    /// ΔW of site `i` in the Conv1D layout `[d_in, d_out]`: (α/r)·Aᵀ·Bᵀ (graph-connected).
    fn delta_conv(&self, i: usize, dropout_mask: Option<&Tensor>) -> Result<Tensor> {
        let (a, b) = self.factors(i)?;
        let a = match dropout_mask {
            Some(m) => a.broadcast_mul(m)?,
            None => a,
        };
        if let Factors::Hut { w0, .. } = &self.sites[i].factors {
            return super::hut::hut_delta(w0, &a, &b, self.cfg.scale());
        }
        Ok((a.t()?.matmul(&b.t()?)? * self.cfg.scale())?)
    }

    /// ΔW of a site by name, `(d_out, d_in)` as in PyTorch, detached (for the SVD view).
    pub fn delta_w(&self, site_name: &str) -> Result<Tensor> {
        let i = self.sites.iter().position(|s| s.site.name() == site_name).ok_or_else(|| Error::AdapterTarget { target: site_name.into(), valid: self.site_names() })?;
        Ok(self.delta_conv(i, None)?.t()?.contiguous()?.detach())
    }

    /// ΔW per whole projection (slices placed in their columns): (layer, proj) → `[in, out]`.
    fn deltas(&self, step: Option<usize>) -> Result<Vec<((usize, Proj), Tensor)>> {
        let cfg = &self.base.cfg;
        let mut out: Vec<((usize, Proj), Tensor)> = vec![];
        for (i, s) in self.sites.iter().enumerate() {
            let mask = match step {
                Some(st) if self.cfg.dropout > 0.0 => {
                    let mut g = stream(self.dropout_seed ^ (st as u64).wrapping_mul(0x9E37_79B9), &s.site, 7);
                    let keep = 1.0 - self.cfg.dropout;
                    let m: Vec<f32> = (0..s.d_in).map(|_| if (g.next_sym() + 1.0) / 2.0 < keep as f32 { 1.0 / keep as f32 } else { 0.0 }).collect();
                    Some(Tensor::from_vec(m, (1, s.d_in), self.base.device())?)
                }
                _ => None,
            };
            let d = self.delta_conv(i, mask.as_ref())?;
            let (_, full_out) = s.site.proj.dims(cfg);
            let d = if s.site.slice == Slice::All {
                d
            } else {
                let off = s.site.col_offset(cfg);
                let mut parts = vec![];
                if off > 0 {
                    parts.push(Tensor::zeros((s.d_in, off), DType::F32, self.base.device())?);
                }
                parts.push(d);
                if off + s.d_out < full_out {
                    parts.push(Tensor::zeros((s.d_in, full_out - off - s.d_out), DType::F32, self.base.device())?);
                }
                Tensor::cat(&parts, 1)?
            };
            let key = (s.site.layer, s.site.proj);
            match out.iter_mut().find(|(k, _)| *k == key) {
                Some((_, acc)) => *acc = (&*acc + d)?,
                None => out.push((key, d)),
            }
        }
        Ok(out)
    }

    fn build(&self, step: Option<usize>) -> Result<Gpt2> {
        let mut m = self.base.clone(); // shares every tensor's storage
        if self.merged {
            return Ok(m);
        }
        for ((layer, proj), d) in self.deltas(step)? {
            let w = proj_weight_mut(&mut m, layer, proj)?;
            *w = (&*w + d)?;
        }
        Ok(m)
    }

    /// The adapted model W₀ + ΔW, graph-connected to the trainable factors (for a loss's
    /// backward); [`Adapter::model`] gives a detached one for evaluation and decoding.
    pub fn model_for_training(&self) -> Result<Gpt2> {
        self.build(None)
    }

    /// The adapted model, detached (evaluation, generation). Only the adapted projections
    /// are new tensors; the rest are the base's.
    pub fn model(&self) -> Result<Gpt2> {
        self.build(None)?.detached()
    }

    /// Folds ΔW into the base weights (inference then costs exactly the base model's).
    pub fn merge(&mut self) -> Result<()> {
        if self.merged {
            return Err(Error::AdapterConfig("adapter is already merged".into()));
        }
        for ((layer, proj), d) in self.deltas(None)? {
            let w = proj_weight_mut(&mut self.base, layer, proj)?;
            *w = (&*w + d.detach())?.detach();
        }
        self.merged = true;
        Ok(())
    }

    /// Subtracts ΔW from the merged base weights again (W₀ up to float rounding).
    pub fn unmerge(&mut self) -> Result<()> {
        if !self.merged {
            return Err(Error::AdapterConfig("adapter is not merged".into()));
        }
        for ((layer, proj), d) in self.deltas(None)? {
            let w = proj_weight_mut(&mut self.base, layer, proj)?;
            *w = (&*w - d.detach())?.detach();
        }
        self.merged = false;
        Ok(())
    }

    /// A [`Trainer`] whose parameters are this adapter's factors only (the base is frozen).
    /// `Trainer::fit` rebuilds the adapted weights from the updated factors after every step
    /// (a callback); a loop of single steps goes through [`Adapter::train_step`], which does
    /// the same (a bare `Trainer::train_step` would keep using the previous step's weights).
    pub fn trainer(&self, opt: Box<dyn Optimizer>, cfg: TrainConfig) -> Result<Trainer> {
        if self.merged {
            return Err(Error::AdapterConfig("unmerge the adapter before training it".into()));
        }
        let mut tp = TrainableGpt2::with_frozen(&self.base, |_| true)?;
        tp.model = self.build(Some(0))?;
        tp.params = self.params();
        let mut tr = Trainer::from_trainable(tp, opt, cfg);
        let me = self.clone();
        tr.add_callback(move |tr, _| {
            tr.params.model = me.build(Some(tr.step))?;
            Ok(())
        });
        Ok(tr)
    }

    /// One optimizer step of an adapter trainer, then the adapted weights rebuilt.
    pub fn train_step(&self, tr: &mut Trainer, micro: &[(Tensor, Tensor)]) -> Result<crate::train::StepStats> {
        let st = tr.train_step(micro)?;
        tr.params.model = self.build(Some(tr.step))?;
        Ok(st)
    }

    /// The current weight of a projection of the base (for checks that it never changes).
    pub fn base_weight(&self, layer: usize, proj: Proj) -> Result<Tensor> {
        Ok(proj_weight(&self.base, layer, proj)?.clone())
    }
}

/// A NOLA site's basis: (k, r·d_in) for A and (k, d_out·r) for B, Uniform(−1, 1)/√k.
pub fn nola_basis(method: &Method, r: usize, site: &Site, d_in: usize, d_out: usize, dev: &candle_core::Device) -> Result<(Tensor, Tensor)> {
    let Method::Nola { num_basis: k, basis_seed } = *method else {
        return Err(Error::AdapterConfig("a basis exists only for NOLA".into()));
    };
    let bound = 1.0 / (k as f32).sqrt();
    let ba = Tensor::from_vec(stream(basis_seed, site, 2).uniform(k * r * d_in, bound), (k, r * d_in), dev)?;
    let bb = Tensor::from_vec(stream(basis_seed, site, 3).uniform(k * d_out * r, bound), (k, d_out * r), dev)?;
    Ok((ba, bb))
}
