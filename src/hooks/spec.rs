//! `HookSpec`: what a forward pass should capture and which interventions it applies,
//! declared as data and passed into `Gpt2::run`. An empty spec costs one branch per hook point.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use candle_core::Tensor;

use super::{ActivationCache, HookPoint};
use crate::{Error, Result};

/// A closure intervention: gets the activation and its hook point, returns the new activation.
pub type HookFn = Arc<dyn Fn(&Tensor, HookPoint) -> candle_core::Result<Tensor> + Send + Sync>;

/// An edit applied to an activation at a hook point.
#[derive(Clone)]
pub enum Intervention {
    /// Replace the whole activation (shapes must match).
    Replace(Tensor),
    /// Add a tensor, broadcast (a steering vector `[d_model]`, or a full-shape delta).
    Add(Tensor),
    /// Multiply by a constant.
    Scale(f64),
    /// Zero-ablation.
    Zero,
    /// Replace every position by the mean over batch and positions of this run's activation.
    MeanAblate,
    /// Replace by a given value, broadcast (e.g. a dataset mean `[d_model]`).
    Ablate(Tensor),
    /// Copy `source` (e.g. the same hook from a clean run's cache) at the given positions
    /// (dim 1 for residual/q/k/v/z/mlp hooks, the query dim 2 for scores/patterns).
    PatchPositions { source: Tensor, positions: Vec<usize> },
    /// Copy `source` for the given heads (dim 2 of q/k/v/z, dim 1 of scores/patterns).
    PatchHeads { source: Tensor, heads: Vec<usize> },
    /// Zero the given heads (dim 2 of q/k/v/z, dim 1 of scores/patterns).
    ZeroHeads(Vec<usize>),
    /// Any function of the activation.
    Custom(HookFn),
}

impl fmt::Debug for Intervention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Intervention::Replace(t) => write!(f, "Replace({:?})", t.dims()),
            Intervention::Add(t) => write!(f, "Add({:?})", t.dims()),
            Intervention::Scale(s) => write!(f, "Scale({s})"),
            Intervention::Zero => write!(f, "Zero"),
            Intervention::MeanAblate => write!(f, "MeanAblate"),
            Intervention::Ablate(t) => write!(f, "Ablate({:?})", t.dims()),
            Intervention::PatchPositions { positions, .. } => write!(f, "PatchPositions({positions:?})"),
            Intervention::PatchHeads { heads, .. } => write!(f, "PatchHeads({heads:?})"),
            Intervention::ZeroHeads(h) => write!(f, "ZeroHeads({h:?})"),
            Intervention::Custom(_) => write!(f, "Custom(fn)"),
        }
    }
}

impl Intervention {
    /// A closure intervention.
    pub fn custom(f: impl Fn(&Tensor, HookPoint) -> candle_core::Result<Tensor> + Send + Sync + 'static) -> Self {
        Intervention::Custom(Arc::new(f))
    }

    fn head_dim(point: HookPoint) -> Option<usize> {
        match point {
            HookPoint::Q(_) | HookPoint::K(_) | HookPoint::V(_) | HookPoint::Z(_) => Some(2),
            HookPoint::AttnScores(_) | HookPoint::Pattern(_) => Some(1),
            _ => None,
        }
    }

    fn pos_dim(point: HookPoint) -> usize {
        match point {
            HookPoint::AttnScores(_) | HookPoint::Pattern(_) => 2,
            _ => 1,
        }
    }

    /// Applies the edit to `x`, the activation at `point`.
    pub fn apply(&self, point: HookPoint, x: &Tensor) -> Result<Tensor> {
        let err = |msg: String| Error::Hook { hook: point.to_string(), msg };
        let same_shape = |src: &Tensor, what: &str| -> Result<()> {
            if src.dims() != x.dims() {
                return Err(err(format!("{what} has shape {:?}, the activation has {:?}", src.dims(), x.dims())));
            }
            Ok(())
        };
        let out = match self {
            Intervention::Replace(t) => {
                same_shape(t, "replacement")?;
                t.to_dtype(x.dtype())?.to_device(x.device())?
            }
            Intervention::Add(t) => x.broadcast_add(&t.to_dtype(x.dtype())?).map_err(|e| err(e.to_string()))?,
            Intervention::Scale(s) => x.affine(*s, 0.0)?,
            Intervention::Zero => x.zeros_like()?,
            Intervention::MeanAblate => {
                let mut m = x.mean_keepdim(0)?;
                m = m.mean_keepdim(Self::pos_dim(point))?;
                m.broadcast_as(x.shape())?.contiguous()?
            }
            Intervention::Ablate(t) => t.to_dtype(x.dtype())?.broadcast_as(x.shape()).map_err(|e| err(e.to_string()))?.contiguous()?,
            Intervention::PatchPositions { source, positions } => {
                same_shape(source, "patch source")?;
                let dim = Self::pos_dim(point);
                select_mask(x, source, dim, positions).map_err(|e| err(e.to_string()))?
            }
            Intervention::PatchHeads { source, heads } => {
                same_shape(source, "patch source")?;
                let dim = Self::head_dim(point).ok_or_else(|| err("PatchHeads needs a per-head hook (q, k, v, z, scores, pattern)".into()))?;
                select_mask(x, source, dim, heads).map_err(|e| err(e.to_string()))?
            }
            Intervention::ZeroHeads(heads) => {
                let dim = Self::head_dim(point).ok_or_else(|| err("ZeroHeads needs a per-head hook (q, k, v, z, scores, pattern)".into()))?;
                select_mask(x, &x.zeros_like()?, dim, heads).map_err(|e| err(e.to_string()))?
            }
            Intervention::Custom(f) => f(x, point).map_err(|e| err(e.to_string()))?,
        };
        if out.dims() != x.dims() {
            return Err(err(format!("intervention changed the shape from {:?} to {:?}", x.dims(), out.dims())));
        }
        Ok(out)
    }
}

/// `x` with the indices `idx` along `dim` taken from `src` (differentiable: a mask blend).
fn select_mask(x: &Tensor, src: &Tensor, dim: usize, idx: &[usize]) -> candle_core::Result<Tensor> {
    let n = x.dim(dim)?;
    let mut m = vec![0f32; n];
    for &i in idx {
        if i >= n {
            candle_core::bail!("index {i} out of range for dim {dim} of size {n}");
        }
        m[i] = 1.0;
    }
    let mut shape = vec![1usize; x.rank()];
    shape[dim] = n;
    let m = Tensor::from_vec(m, shape, x.device())?.to_dtype(x.dtype())?;
    let keep = m.affine(-1.0, 1.0)?;
    x.broadcast_mul(&keep)?.add(&src.broadcast_mul(&m)?)
}

/// Which hook points to store in the cache.
#[derive(Clone, Default)]
enum Capture {
    #[default]
    Nothing,
    All,
    Some(BTreeSet<HookPoint>),
}

/// Capture and intervention requests for one forward (or one generation).
///
/// ```ignore
/// let spec = HookSpec::new()
///     .capture("blocks.0.attn.hook_pattern")
///     .capture_filter(|p| p.kind() == "hook_resid_post")
///     .intervene("blocks.1.hook_mlp_out", Intervention::Zero);
/// let run = model.run(&ids, &spec)?;
/// ```
#[derive(Clone, Default)]
pub struct HookSpec {
    capture: Capture,
    filters: Vec<Arc<dyn Fn(&HookPoint) -> bool + Send + Sync>>,
    interventions: Vec<(HookPoint, Intervention)>,
    /// Names that failed to parse (name, near matches); reported when the spec is used, so
    /// builders stay chainable.
    errors: Vec<(String, Vec<String>)>,
}

/// Something that names a hook point: a `HookPoint` or a TransformerLens string.
pub trait IntoHookPoint {
    fn into_hook_point(self) -> Result<HookPoint>;
}
impl IntoHookPoint for HookPoint {
    fn into_hook_point(self) -> Result<HookPoint> {
        Ok(self)
    }
}
impl IntoHookPoint for &str {
    fn into_hook_point(self) -> Result<HookPoint> {
        self.parse()
    }
}
impl IntoHookPoint for &String {
    fn into_hook_point(self) -> Result<HookPoint> {
        self.parse()
    }
}
impl IntoHookPoint for String {
    fn into_hook_point(self) -> Result<HookPoint> {
        self.parse()
    }
}

impl HookSpec {
    /// Captures nothing and intervenes nowhere (the zero-cost spec).
    pub fn new() -> Self {
        Self::default()
    }

    /// Captures every hook point.
    pub fn capture_all() -> Self {
        HookSpec { capture: Capture::All, ..Self::default() }
    }

    /// Adds one hook point to capture.
    pub fn capture(mut self, point: impl IntoHookPoint) -> Self {
        match point.into_hook_point() {
            Ok(p) => match &mut self.capture {
                Capture::All => {}
                Capture::Some(s) => {
                    s.insert(p);
                }
                Capture::Nothing => self.capture = Capture::Some(BTreeSet::from([p])),
            },
            Err(e) => self.push_error(e),
        }
        self
    }

    fn push_error(&mut self, e: Error) {
        match e {
            Error::UnknownHook { name, near } => self.errors.push((name, near)),
            e => self.errors.push((e.to_string(), vec![])),
        }
    }

    /// Captures every point for which `f` is true (e.g. `|p| p.kind() == "attn.hook_pattern"`).
    pub fn capture_filter(mut self, f: impl Fn(&HookPoint) -> bool + Send + Sync + 'static) -> Self {
        self.filters.push(Arc::new(f));
        self
    }

    /// Applies `iv` at `point` (several interventions at one point apply in order).
    pub fn intervene(mut self, point: impl IntoHookPoint, iv: Intervention) -> Self {
        match point.into_hook_point() {
            Ok(p) => self.interventions.push((p, iv)),
            Err(e) => self.push_error(e),
        }
        self
    }

    /// True when the spec neither captures nor intervenes.
    pub fn is_empty(&self) -> bool {
        matches!(self.capture, Capture::Nothing) && self.filters.is_empty() && self.interventions.is_empty()
    }

    pub fn interventions(&self) -> &[(HookPoint, Intervention)] {
        &self.interventions
    }

    fn captures(&self, p: &HookPoint) -> bool {
        let listed = match &self.capture {
            Capture::Nothing => false,
            Capture::All => true,
            Capture::Some(s) => s.contains(p),
        };
        listed || self.filters.iter().any(|f| f(p))
    }

    /// True when `p` is captured or intervened on.
    pub fn touches(&self, p: &HookPoint) -> bool {
        !self.is_empty() && (self.captures(p) || self.interventions.iter().any(|(q, _)| q == p))
    }

    /// The points named one by one (captured by name or intervened on), in order; `All` and
    /// filters name none. Models without some points (attention-only) check these.
    pub fn named_points(&self) -> Vec<HookPoint> {
        let mut v: Vec<HookPoint> = match &self.capture {
            Capture::Some(s) => s.iter().copied().collect(),
            _ => vec![],
        };
        v.extend(self.interventions.iter().map(|(p, _)| *p));
        v
    }

    /// Checks names parsed and layers exist for a model with `n_layer` blocks.
    pub fn validate(&self, n_layer: usize) -> Result<()> {
        if let Some((name, near)) = self.errors.first() {
            return Err(Error::UnknownHook { name: name.clone(), near: near.clone() });
        }
        let pts = self.interventions.iter().map(|(p, _)| *p).chain(match &self.capture {
            Capture::Some(s) => s.iter().copied().collect::<Vec<_>>(),
            _ => vec![],
        });
        for p in pts {
            if let Some(i) = p.layer() {
                if i >= n_layer {
                    return Err(Error::UnknownHook { name: p.to_string(), near: vec![format!("a layer below {n_layer}")] });
                }
            }
        }
        Ok(())
    }
}

/// The per-forward hook state threaded through the model: the spec plus the cache being filled.
pub struct HookCtx<'a> {
    spec: &'a HookSpec,
    active: bool,
    pub cache: ActivationCache,
}

impl<'a> HookCtx<'a> {
    pub fn new(spec: &'a HookSpec) -> Self {
        HookCtx { spec, active: !spec.is_empty(), cache: ActivationCache::default() }
    }

    /// True when `p` needs the activation materialised (captured or edited).
    #[inline]
    pub fn wants(&self, p: HookPoint) -> bool {
        self.active && self.spec.touches(&p)
    }

    /// The hook: applies interventions at `p`, then captures the result if asked.
    #[inline]
    pub fn hook(&mut self, p: HookPoint, x: Tensor) -> Result<Tensor> {
        if !self.active {
            return Ok(x);
        }
        self.hook_slow(p, x)
    }

    fn hook_slow(&mut self, p: HookPoint, mut x: Tensor) -> Result<Tensor> {
        for (q, iv) in &self.spec.interventions {
            if *q == p {
                x = iv.apply(p, &x)?;
            }
        }
        if self.spec.captures(&p) {
            self.cache.insert(p, x.clone());
        }
        Ok(x)
    }
}

