//! The `Optimizer` trait and the reference optimizers (AdamW, SGD with momentum).
//! Paper optimizers (Sophia, Conda, Muon, ...) implement the same trait.

use std::collections::HashMap;

use candle_core::backprop::GradStore;
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

use super::groups::{GroupCache, ParamGroups};
use super::params::Param;
use crate::{Error, Result};

/// Reads back per-parameter pairs of state tensors saved as `{name}.{first}` and
/// `{name}.{second}` (AdamW's moments, Sophia's momentum and Hessian, ...): `(name, first,
/// second)` for every `first` entry; one without its partner is an error.
pub(crate) fn state_pairs(state: &HashMap<String, Tensor>, first: &str, second: &str) -> Result<Vec<(String, Tensor, Tensor)>> {
    let mut out = vec![];
    for (k, a) in state {
        if let Some(n) = k.strip_suffix(&format!(".{first}")) {
            let b = state.get(&format!("{n}.{second}")).ok_or_else(|| Error::Msg(format!("optimizer state has {k} but no {n}.{second}")))?;
            out.push((n.to_string(), a.clone(), b.clone()));
        }
    }
    Ok(out)
}

pub trait Optimizer: Send {
    /// Short name for logs and checkpoints ("adamw", "sgd").
    fn name(&self) -> &'static str;
    /// Updates every param that has a gradient in `grads`.
    fn step(&mut self, params: &[Param], grads: &GradStore) -> Result<()>;
    fn learning_rate(&self) -> f64;
    fn set_learning_rate(&mut self, lr: f64);
    /// Optimizer state as named tensors (for checkpoints), plus the step count.
    fn state(&self) -> (usize, Vec<(String, Tensor)>);
    fn load_state(&mut self, step: usize, state: &HashMap<String, Tensor>) -> Result<()>;
    /// Optimizers that precondition with a curvature estimate (SophiaG) return true after a
    /// step that should be followed by a curvature pass: the `Trainer` then backpropagates the
    /// loss on labels sampled from the model ([`super::curvature`]) and hands those gradients
    /// to [`Optimizer::update_curvature`].
    fn wants_curvature(&self) -> bool {
        false
    }
    fn update_curvature(&mut self, _params: &[Param], _grads: &GradStore) -> Result<()> {
        Ok(())
    }
    /// Optimizer-internal metrics (SophiaG's `win_rate`, Hessian norm), name and value.
    fn diagnostics(&self) -> Vec<(String, f64)> {
        vec![]
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdamWConfig {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    /// Decay every parameter (PyTorch's default single group) instead of only the params
    /// marked `decay` (biases, LayerNorms and embeddings excluded).
    pub decay_all: bool,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1, decay_all: false }
    }
}

/// AdamW (Loshchilov & Hutter), in PyTorch's exact update order: decoupled decay
/// `p ← p·(1 − lr·wd)`, then `p ← p − lr·m̂/(√v̂ + eps)` with bias-corrected moments.
pub struct AdamW {
    pub cfg: AdamWConfig,
    t: usize,
    moments: HashMap<String, Moments>,
    /// Take the fused one-pass update ([`super::fused_adamw`]) where it applies (f32 on the
    /// CPU); false forces the tensor-op path (same numbers, bit for bit; for tests and A/B).
    fused: bool,
    /// Per-group weight decay and lr scale (None: `cfg.weight_decay` on the `decay` params).
    groups: Option<ParamGroups>,
    group_cache: GroupCache,
}

impl AdamW {
    pub fn new(cfg: AdamWConfig) -> Self {
        AdamW { cfg, t: 0, moments: HashMap::new(), fused: true, groups: None, group_cache: GroupCache::default() }
    }
    /// AdamW with parameter groups: each group's weight decay replaces `cfg.weight_decay`
    /// (and `decay_all`), its learning rate is `lr · lr_scale`.
    pub fn with_groups(cfg: AdamWConfig, groups: ParamGroups) -> Self {
        AdamW { groups: Some(groups), ..Self::new(cfg) }
    }
    /// The same optimizer on the unfused tensor-op path (every op allocates; for A/B runs).
    pub fn unfused(mut self) -> Self {
        self.fused = false;
        self
    }
}

/// AdamW's moments: host vectors for the fused CPU step, device tensors that the fused CUDA
/// step updates in place (owned here alone), tensors for the tensor-op path.
enum Moments {
    Host { m: Vec<f32>, v: Vec<f32>, shape: candle_core::Shape },
    Device(Tensor, Tensor),
    Tensors(Tensor, Tensor),
}

impl Moments {
    fn into_host(self) -> Result<(Vec<f32>, Vec<f32>)> {
        Ok(match self {
            Moments::Host { m, v, .. } => (m, v),
            Moments::Tensors(m, v) | Moments::Device(m, v) => (m.flatten_all()?.to_dtype(candle_core::DType::F32)?.to_vec1()?, v.flatten_all()?.to_dtype(candle_core::DType::F32)?.to_vec1()?),
        })
    }
    /// As tensors shaped like `like` (copies out of the host vectors).
    fn into_tensors(self, like: &Tensor) -> Result<(Tensor, Tensor)> {
        Ok(match self {
            Moments::Tensors(m, v) | Moments::Device(m, v) => (m, v),
            Moments::Host { m, v, .. } => {
                let t = |x: Vec<f32>| Tensor::from_vec(x, like.shape(), like.device())?.to_dtype(like.dtype());
                (t(m)?, t(v)?)
            }
        })
    }
}

impl Optimizer for AdamW {
    fn name(&self) -> &'static str {
        "adamw"
    }

    fn step(&mut self, params: &[Param], grads: &GradStore) -> Result<()> {
        self.t += 1;
        let c = &self.cfg;
        let (bc1, bc2) = (1.0 - c.beta1.powi(self.t as i32), 1.0 - c.beta2.powi(self.t as i32));
        for p in params {
            // Gradients carry the autograd history of the backward pass; detach them so the
            // moments (kept across steps) do not chain every step's graph together.
            let Some(g) = grads.get(p.var.as_tensor()).map(|g| g.detach()) else { continue };
            let g = &g;
            let default_wd = if c.decay_all || p.decay { c.weight_decay } else { 0.0 };
            let (wd, lr_scale) = self.group_cache.settings(self.groups.as_ref(), params, p, default_wd)?;
            let lr = c.lr * lr_scale;
            let theta = p.var.as_tensor();
            if self.fused && super::fused_adamw::eligible(theta, g) {
                let (mut m, mut v) = match self.moments.remove(&p.name) {
                    Some(state) => state.into_host()?,
                    None => (vec![0f32; g.elem_count()], vec![0f32; g.elem_count()]),
                };
                let coeffs = super::fused_adamw::Coeffs::new(c.beta1, c.beta2, c.eps, lr, wd, bc1, bc2);
                super::fused_adamw::step(coeffs, theta, g, &mut m, &mut v)?;
                self.moments.insert(p.name.clone(), Moments::Host { m, v, shape: g.shape().clone() });
                continue;
            }
            if self.fused && super::fused_adamw::eligible_cuda(theta, g) {
                let (m, v) = match self.moments.remove(&p.name) {
                    Some(Moments::Device(m, v)) => (m, v),
                    // fresh f32 copies on θ's device, which no one else holds (updated in place)
                    Some(state) => {
                        let (m, v) = state.into_tensors(g)?;
                        let own = |t: Tensor| t.to_device(theta.device())?.to_dtype(candle_core::DType::F32)?.reshape(theta.shape())?.copy();
                        (own(m)?, own(v)?)
                    }
                    None => (theta.zeros_like()?, theta.zeros_like()?),
                };
                let coeffs = super::fused_adamw::Coeffs::new(c.beta1, c.beta2, c.eps, lr, wd, bc1, bc2);
                super::fused_adamw::step_cuda(coeffs, theta, g, &m, &v)?;
                self.moments.insert(p.name.clone(), Moments::Device(m, v));
                continue;
            }
            let (m, v) = match self.moments.remove(&p.name) {
                Some(state) => state.into_tensors(g)?,
                None => (g.zeros_like()?, g.zeros_like()?),
            };
            let m = ((m * c.beta1)? + (g * (1.0 - c.beta1))?)?;
            let v = ((v * c.beta2)? + (g.sqr()? * (1.0 - c.beta2))?)?;
            let mut theta = p.var.as_tensor().detach();
            if wd != 0.0 {
                theta = (theta * (1.0 - lr * wd))?;
            }
            let denom = ((v.clone() / bc2)?.sqrt()? + c.eps)?;
            let update = ((m.clone() / bc1)? / denom)?;
            p.var.set(&(theta - (update * lr)?)?)?;
            self.moments.insert(p.name.clone(), Moments::Tensors(m, v));
        }
        Ok(())
    }

    fn learning_rate(&self) -> f64 {
        self.cfg.lr
    }
    fn set_learning_rate(&mut self, lr: f64) {
        self.cfg.lr = lr;
    }

    fn state(&self) -> (usize, Vec<(String, Tensor)>) {
        let mut v = vec![];
        for (n, state) in &self.moments {
            let (m, s) = match state {
                Moments::Tensors(m, s) => (m.clone(), s.clone()),
                // Copies: the fused CUDA step updates these in place (a clone would share them).
                Moments::Device(m, s) => (m.copy().unwrap_or_else(|_| m.clone()), s.copy().unwrap_or_else(|_| s.clone())),
                // Copies: the host vectors change in place at the next step.
                Moments::Host { m, v: s, shape } => {
                    let t = |x: &[f32]| Tensor::from_slice(x, shape, &candle_core::Device::Cpu).expect("moments hold one value per element of their shape");
                    (t(m), t(s))
                }
            };
            v.push((format!("{n}.exp_avg"), m));
            v.push((format!("{n}.exp_avg_sq"), s));
        }
        v.sort_by(|a, b| a.0.cmp(&b.0));
        (self.t, v)
    }

    fn load_state(&mut self, step: usize, state: &HashMap<String, Tensor>) -> Result<()> {
        self.t = step;
        self.moments = state_pairs(state, "exp_avg", "exp_avg_sq")?.into_iter().map(|(n, m, s)| (n, Moments::Tensors(m, s))).collect();
        Ok(())
    }
}

/// SGD with optional momentum and (coupled, L2) weight decay, as `torch.optim.SGD`.
pub struct Sgd {
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    t: usize,
    buf: HashMap<String, Tensor>,
}

impl Sgd {
    pub fn new(lr: f64, momentum: f64, weight_decay: f64) -> Self {
        Sgd { lr, momentum, weight_decay, t: 0, buf: HashMap::new() }
    }
}

impl Optimizer for Sgd {
    fn name(&self) -> &'static str {
        "sgd"
    }

    fn step(&mut self, params: &[Param], grads: &GradStore) -> Result<()> {
        self.t += 1;
        for p in params {
            let Some(g) = grads.get(p.var.as_tensor()).map(|g| g.detach()) else { continue };
            let g = &g;
            let theta = p.var.as_tensor().detach();
            let mut d = if self.weight_decay != 0.0 && p.decay { (g + (&theta * self.weight_decay)?)? } else { g.clone() };
            if self.momentum != 0.0 {
                d = match self.buf.get(&p.name) {
                    Some(b) => ((b * self.momentum)? + d)?,
                    None => d,
                };
                self.buf.insert(p.name.clone(), d.clone());
            }
            p.var.set(&(theta - (d * self.lr)?)?)?;
        }
        Ok(())
    }

    fn learning_rate(&self) -> f64 {
        self.lr
    }
    fn set_learning_rate(&mut self, lr: f64) {
        self.lr = lr;
    }
    fn state(&self) -> (usize, Vec<(String, Tensor)>) {
        let mut v: Vec<_> = self.buf.iter().map(|(n, b)| (format!("{n}.momentum_buffer"), b.clone())).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        (self.t, v)
    }
    fn load_state(&mut self, step: usize, state: &HashMap<String, Tensor>) -> Result<()> {
        self.t = step;
        self.buf = state.iter().filter_map(|(k, t)| k.strip_suffix(".momentum_buffer").map(|n| (n.to_string(), t.clone()))).collect();
        Ok(())
    }
}

/// The global L2 norm of the gradients of `params`.
pub fn grad_norm(params: &[Param], grads: &GradStore) -> Result<f64> {
    let mut sq = 0f64;
    // Off the CPU the per-parameter sums stay on the device and come back in one copy: each
    // copy to the host waits for the device (on GPT-2 124M, 148 waits per step otherwise).
    let mut on_device = vec![];
    for p in params {
        if let Some(g) = grads.get(p.var.as_tensor()) {
            if g.device().is_cpu() {
                sq += g.sqr()?.sum_all()?.to_dtype(candle_core::DType::F64)?.to_scalar::<f64>()?;
            } else {
                on_device.push(g.clone());
            }
        }
    }
    if !on_device.is_empty() {
        sq += device_sum_squares(&on_device)?;
    }
    Ok(sq.sqrt())
}

/// Σ g² of gradients off the CPU: gpt2lab's partial-sum kernel on CUDA (f32/bf16), else
/// candle's reductions stacked into one copy.
fn device_sum_squares(gs: &[Tensor]) -> Result<f64> {
    #[cfg(feature = "cuda")]
    if gs.iter().all(|g| g.device().is_cuda() && crate::model::cuda_kernels::supported(g.dtype())) && gs.iter().all(|g| g.device().same_device(gs[0].device())) {
        return Ok(crate::model::cuda_kernels::sum_squares(gs)?);
    }
    let sums = gs.iter().map(|g| g.to_dtype(candle_core::DType::F32)?.sqr()?.sum_all()).collect::<candle_core::Result<Vec<_>>>()?;
    Ok(Tensor::stack(&sums, 0)?.to_dtype(candle_core::DType::F64)?.to_vec1::<f64>()?.iter().sum::<f64>())
}

/// Scales gradients so their global norm is at most `max_norm` (torch's clip_grad_norm_).
/// Returns the norm before clipping.
pub fn clip_grad_norm(params: &[Param], grads: &mut GradStore, max_norm: f64) -> Result<f64> {
    let norm = grad_norm(params, grads)?;
    let coef = max_norm / (norm + 1e-6);
    if coef < 1.0 {
        for p in params {
            if let Some(g) = grads.get(p.var.as_tensor()) {
                let scaled = (g * coef)?;
                grads.insert(p.var.as_tensor(), scaled);
            }
        }
    }
    Ok(norm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// The fused CPU step against the tensor-op path: same parameters and moments bit for bit,
    /// over steps with and without decay, a learning-rate change, a checkpoint round trip and
    /// a parameter large enough to split over threads.
    #[test]
    fn fused_adamw_is_bit_identical_to_the_tensor_path() {
        use candle_core::{DType, Var};
        let dev = Device::Cpu;
        let shapes: [(&str, &[usize], bool); 3] = [("h.0.mlp.c_fc.weight", &[96, 512], true), ("h.0.ln_1.bias", &[96], false), ("wte.weight", &[7, 5], false)];
        let make = || -> Vec<Param> {
            shapes
                .iter()
                .enumerate()
                .map(|(i, (n, s, d))| {
                    let t = Tensor::arange(0f32, s.iter().product::<usize>() as f32, &dev).unwrap().reshape(*s).unwrap();
                    let t = ((t * (0.37 + i as f64)).unwrap().sin().unwrap() * 0.5).unwrap();
                    Param { name: n.to_string(), var: Var::from_tensor(&t).unwrap(), decay: *d }
                })
                .collect()
        };
        let (pa, pb) = (make(), make());
        let cfg = AdamWConfig { lr: 3e-2, weight_decay: 0.1, ..Default::default() };
        let mut fused = AdamW::new(cfg.clone());
        let mut plain = AdamW::new(cfg).unfused();
        // A loss whose gradient changes with the parameters: Σ sin(3θ)·θ².
        let grads = |ps: &[Param]| {
            let mut loss = Tensor::zeros((), DType::F32, &dev).unwrap();
            for p in ps {
                let t = p.var.as_tensor();
                loss = (loss + (t.affine(3.0, 0.0).unwrap().sin().unwrap() * t.sqr().unwrap()).unwrap().sum_all().unwrap()).unwrap();
            }
            loss.backward().unwrap()
        };
        let bits = |ps: &[Param]| -> Vec<u32> { ps.iter().flat_map(|p| p.var.as_tensor().flatten_all().unwrap().to_vec1::<f32>().unwrap()).map(f32::to_bits).collect() };
        for step in 0..6 {
            if step == 3 {
                fused.set_learning_rate(1e-2);
                plain.set_learning_rate(1e-2);
                // A checkpoint round trip on the fused side.
                let (t, state) = fused.state();
                let state: HashMap<String, Tensor> = state.into_iter().collect();
                assert_eq!(state["h.0.mlp.c_fc.weight.exp_avg"].dims(), &[96, 512]);
                let mut again = AdamW::new(fused.cfg.clone());
                again.load_state(t, &state).unwrap();
                fused = again;
            }
            fused.step(&pa, &grads(&pa)).unwrap();
            plain.step(&pb, &grads(&pb)).unwrap();
            assert_eq!(bits(&pa), bits(&pb), "parameters differ after step {step}");
        }
        let (sa, sb) = (fused.state().1, plain.state().1);
        assert_eq!(sa.len(), sb.len());
        for ((na, a), (nb, b)) in sa.iter().zip(&sb) {
            assert_eq!(na, nb);
            assert_eq!(a.dims(), b.dims());
            let (a, b) = (a.flatten_all().unwrap().to_vec1::<f32>().unwrap(), b.flatten_all().unwrap().to_vec1::<f32>().unwrap());
            assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()), "{na} differs");
        }
        // Moved params: something happened.
        assert_ne!(bits(&pa), bits(&make()));
    }

    #[test]
    fn state_pairs_reads_back_every_pair_and_refuses_a_missing_partner() {
        let t = |v: f32| Tensor::new(&[v], &Device::Cpu).unwrap();
        let mut state: HashMap<String, Tensor> =
            [("w.exp_avg", 1.0), ("w.exp_avg_sq", 2.0), ("b.exp_avg", 3.0), ("b.exp_avg_sq", 4.0)].into_iter().map(|(k, v)| (k.to_string(), t(v))).collect();
        let mut pairs = state_pairs(&state, "exp_avg", "exp_avg_sq").unwrap();
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let got: Vec<(String, f32, f32)> = pairs.iter().map(|(n, a, b)| (n.clone(), a.to_vec1::<f32>().unwrap()[0], b.to_vec1::<f32>().unwrap()[0])).collect();
        assert_eq!(got, vec![("b".to_string(), 3.0, 4.0), ("w".to_string(), 1.0, 2.0)]);
        state.remove("b.exp_avg_sq");
        assert!(state_pairs(&state, "exp_avg", "exp_avg_sq").is_err());
    }
}
