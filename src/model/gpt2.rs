//! The GPT-2 model: token + learned position embeddings, pre-LN blocks, final LN, tied unembedding.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};

use super::attention::Attention;
use super::block::Block;
use super::config::Gpt2Config;
use super::kv_cache::KvCache;
use super::mlp::Mlp;
use super::norm::{LayerNorm, LnTarget, NormMode};
use super::ops;
use crate::hooks::{ActivationCache, HookCtx, HookPoint, HookSpec, Ln};
use crate::{Error, Result};

/// Added to masked attention scores. Finite so that a fully masked (padding) query row
/// softmaxes to a uniform row instead of NaN.
pub const MASK_VALUE: f32 = -1e9;

#[derive(Clone, Debug)]
pub struct Gpt2 {
    pub cfg: Gpt2Config,
    pub wte: Tensor, // (V, C), also the unembedding (tied)
    pub wpe: Tensor, // (n_positions, C)
    pub blocks: Vec<Block>,
    pub ln_f: LayerNorm,
    device: Device,
}

/// What a forward with hooks gives back.
#[derive(Clone, Debug)]
pub struct Run {
    pub logits: Tensor, // (B, T, V), or (B, 1, V) with `last_only`
    pub cache: ActivationCache,
}

/// Options for one forward call beyond the token ids.
#[derive(Clone, Copy, Default)]
pub struct ForwardOpts<'a> {
    /// (B, T) 1 for real tokens, 0 for padding (left or right); u8/u32/i64/f32.
    pub attention_mask: Option<&'a Tensor>,
    /// Compute logits for the last position only (generation).
    pub last_only: bool,
}

impl Gpt2 {
    /// Builds the model from tensors with canonical HF names without the `transformer.`
    /// prefix (`wte.weight`, `h.0.attn.c_attn.weight`, ...), checked against the config.
    pub fn from_tensors(cfg: Gpt2Config, tensors: &HashMap<String, Tensor>) -> Result<Self> {
        crate::runtime::init();
        cfg.validate()?;
        super::weights::check_tensors(&cfg, tensors)?;
        let get = |n: &str| -> Tensor { tensors[n].clone() };
        let device = tensors["wte.weight"].device().clone();
        let default_mode = super::norm::default_mode(&cfg);
        let mut scale = if cfg.scale_attn_weights { 1.0 / (cfg.d_head() as f64).sqrt() } else { 1.0 };
        let mut blocks = vec![];
        // attention-only blocks: ln_2 is an identity placeholder, not a parameter
        let (ones, zeros) = (Tensor::ones(cfg.n_embd, DType::F32, &device)?, Tensor::zeros(cfg.n_embd, DType::F32, &device)?);
        for i in 0..cfg.n_layer {
            let p = |s: &str| get(&format!("h.{i}.{s}"));
            let ln = |n: &str, which| LayerNorm { weight: p(&format!("{n}.weight")), bias: p(&format!("{n}.bias")), eps: cfg.layer_norm_epsilon, which, mode: default_mode };
            if cfg.scale_attn_by_inverse_layer_idx {
                scale = (if cfg.scale_attn_weights { 1.0 / (cfg.d_head() as f64).sqrt() } else { 1.0 }) / (i + 1) as f64;
            }
            blocks.push(Block {
                ln_1: ln("ln_1", Ln::Ln1(i)),
                ln_1_v_mode: None,
                attn: Attention {
                    c_attn_w: p("attn.c_attn.weight"),
                    c_attn_b: p("attn.c_attn.bias"),
                    c_proj_w: p("attn.c_proj.weight"),
                    c_proj_b: p("attn.c_proj.bias"),
                    n_head: cfg.n_head,
                    layer: i,
                    scale,
                    window: cfg.attention_window(i),
                },
                ln_2: if cfg.has_mlp() { ln("ln_2", Ln::Ln2(i)) } else { LayerNorm { weight: ones.clone(), bias: zeros.clone(), eps: cfg.layer_norm_epsilon, which: Ln::Ln2(i), mode: default_mode } },
                mlp: cfg.has_mlp().then(|| Mlp {
                    c_fc_w: p("mlp.c_fc.weight"),
                    c_fc_b: p("mlp.c_fc.bias"),
                    c_proj_w: p("mlp.c_proj.weight"),
                    c_proj_b: p("mlp.c_proj.bias"),
                    act: cfg.activation_function,
                    layer: i,
                }),
                layer: i,
            });
        }
        let ln_f = LayerNorm { weight: get("ln_f.weight"), bias: get("ln_f.bias"), eps: cfg.layer_norm_epsilon, which: Ln::Final, mode: default_mode };
        Ok(Gpt2 { wte: get("wte.weight"), wpe: get("wpe.weight"), blocks, ln_f, cfg, device })
    }

    /// Every parameter with its canonical HF name (no `transformer.` prefix), in a stable order.
    pub fn named_tensors(&self) -> Vec<(String, Tensor)> {
        let mut v = Vec::with_capacity(4 + 12 * self.blocks.len());
        // map_tensors walks every parameter in order; the copy it returns is discarded
        let _ = self.map_tensors(|n, t| {
            v.push((n.to_string(), t.clone()));
            Ok(t.clone())
        });
        v
    }

    /// A copy with every parameter replaced by `f(name, tensor)` (same shapes), keeping
    /// everything else (norm modes included).
    pub fn map_tensors(&self, mut f: impl FnMut(&str, &Tensor) -> Result<Tensor>) -> Result<Gpt2> {
        let mut m = self.clone();
        let mut go = |name: String, t: &mut Tensor| -> Result<()> {
            let new = f(&name, t)?;
            if new.dims() != t.dims() {
                return Err(Error::TensorShape { name, expected: t.dims().to_vec(), got: new.dims().to_vec() });
            }
            *t = new;
            Ok(())
        };
        go("wte.weight".into(), &mut m.wte)?;
        go("wpe.weight".into(), &mut m.wpe)?;
        for (i, b) in m.blocks.iter_mut().enumerate() {
            let p = |s: &str| format!("h.{i}.{s}");
            go(p("ln_1.weight"), &mut b.ln_1.weight)?;
            go(p("ln_1.bias"), &mut b.ln_1.bias)?;
            go(p("attn.c_attn.weight"), &mut b.attn.c_attn_w)?;
            go(p("attn.c_attn.bias"), &mut b.attn.c_attn_b)?;
            go(p("attn.c_proj.weight"), &mut b.attn.c_proj_w)?;
            go(p("attn.c_proj.bias"), &mut b.attn.c_proj_b)?;
            if let Some(mlp) = &mut b.mlp {
                go(p("ln_2.weight"), &mut b.ln_2.weight)?;
                go(p("ln_2.bias"), &mut b.ln_2.bias)?;
                go(p("mlp.c_fc.weight"), &mut mlp.c_fc_w)?;
                go(p("mlp.c_fc.bias"), &mut mlp.c_fc_b)?;
                go(p("mlp.c_proj.weight"), &mut mlp.c_proj_w)?;
                go(p("mlp.c_proj.bias"), &mut mlp.c_proj_b)?;
            }
        }
        go("ln_f.weight".into(), &mut m.ln_f.weight)?;
        go("ln_f.bias".into(), &mut m.ln_f.bias)?;
        m.device = m.wte.device().clone();
        Ok(m)
    }

    /// A copy with every parameter in `dtype` (e.g. F64 for gradient checks).
    pub fn to_dtype(&self, dtype: DType) -> Result<Gpt2> {
        self.map_tensors(|_, t| Ok(t.to_dtype(dtype)?))
    }

    /// A copy on another device.
    pub fn to_device(&self, device: &Device) -> Result<Gpt2> {
        self.map_tensors(|_, t| Ok(t.to_device(device)?))
    }

    /// A copy whose parameters carry no autograd history (for evaluation after training).
    pub fn detached(&self) -> Result<Gpt2> {
        self.map_tensors(|_, t| Ok(t.detach()))
    }

    pub fn dtype(&self) -> DType {
        self.wte.dtype()
    }

    pub fn device(&self) -> &Device {
        &self.device
    }
    pub fn config(&self) -> &Gpt2Config {
        &self.cfg
    }

    /// Sets how one normalisation site normalises (LayerNorm removal).
    pub fn set_norm_mode(&mut self, target: LnTarget, mode: NormMode) -> Result<()> {
        let n = self.cfg.n_layer;
        let bad = || Error::Shape(format!("{target}: the model has {n} blocks"));
        match target {
            LnTarget::Ln1Qk(i) => {
                let b = self.blocks.get_mut(i).ok_or_else(bad)?;
                // values keep what they saw before unless set on their own
                b.ln_1_v_mode.get_or_insert(b.ln_1.mode);
                b.ln_1.mode = mode;
            }
            LnTarget::Ln1V(i) => self.blocks.get_mut(i).ok_or_else(bad)?.ln_1_v_mode = Some(mode),
            LnTarget::Ln2(i) => self.blocks.get_mut(i).ok_or_else(bad)?.ln_2.mode = mode,
            LnTarget::Final => self.ln_f.mode = mode,
        }
        Ok(())
    }

    /// The mode of every normalisation site, in forward order.
    pub fn norm_modes(&self) -> Vec<(LnTarget, NormMode)> {
        let mut v = vec![];
        for (i, b) in self.blocks.iter().enumerate() {
            v.push((LnTarget::Ln1Qk(i), b.ln_1.mode));
            v.push((LnTarget::Ln1V(i), b.ln_1_v_mode.unwrap_or(b.ln_1.mode)));
            v.push((LnTarget::Ln2(i), b.ln_2.mode));
        }
        v.push((LnTarget::Final, self.ln_f.mode));
        v
    }

    /// Every site set to `mode` (e.g. `Identity`, or to compare with sequential removal).
    pub fn set_all_norm_modes(&mut self, mode: NormMode) {
        for b in &mut self.blocks {
            b.ln_1.mode = mode;
            b.ln_1_v_mode = None;
            b.ln_2.mode = mode;
        }
        self.ln_f.mode = mode;
    }

    /// Logits `(B, T, V)` for token ids `(B, T)` (or `(T,)`), no hooks.
    pub fn forward(&self, ids: &Tensor) -> Result<Tensor> {
        Ok(self.run_with(ids, &HookSpec::new(), ForwardOpts::default(), None)?.logits)
    }

    /// Logits and the activations the spec asks for, interventions applied.
    pub fn run(&self, ids: &Tensor, spec: &HookSpec) -> Result<Run> {
        self.run_with(ids, spec, ForwardOpts::default(), None)
    }

    /// Logits and a cache of every hook point (TransformerLens' `run_with_cache`).
    pub fn run_with_cache(&self, ids: &Tensor) -> Result<Run> {
        self.run(ids, &HookSpec::capture_all())
    }

    /// The general forward: optional padding mask, optional KV cache (extended in place),
    /// hooks. New tokens take positions after the cache's, per row.
    pub fn run_with(&self, ids: &Tensor, spec: &HookSpec, opts: ForwardOpts, kv: Option<&mut KvCache>) -> Result<Run> {
        crate::runtime::with_pool_for(&self.device, || self.run_with_inner(ids, spec, opts, kv))
    }

    fn run_with_inner(&self, ids: &Tensor, spec: &HookSpec, opts: ForwardOpts, kv: Option<&mut KvCache>) -> Result<Run> {
        let (x, cache) = self.hidden(ids, spec, opts, kv)?;
        let logits = self.unembed_normalized(&x)?; // (B, T, V)
        Ok(Run { logits, cache })
    }

    /// The forward up to the final LayerNorm's output (B, T, C) (or (B, 1, C) with
    /// `last_only`), and the activations the spec asks for.
    fn hidden(&self, ids: &Tensor, spec: &HookSpec, opts: ForwardOpts, kv: Option<&mut KvCache>) -> Result<(Tensor, ActivationCache)> {
        spec.validate(self.cfg.n_layer)?;
        if !self.cfg.has_mlp() {
            // an attention-only block has no ln_2/MLP points: naming one is an unknown hook
            if let Some(p) = spec.named_points().into_iter().find(|p| matches!(p, HookPoint::MlpPre(_) | HookPoint::MlpPost(_) | HookPoint::MlpOut(_) | HookPoint::LnScale(Ln::Ln2(_)) | HookPoint::LnNormalized(Ln::Ln2(_)))) {
                return Err(Error::UnknownHook { name: p.to_string(), near: vec!["none: the model is attention-only (config mlp = none), its blocks have no ln2/mlp hook points".into()] });
            }
        }
        let ids = self.check_ids(ids)?; // (B, T) u32
        let (b, t) = ids.dims2()?;
        let mask_rows = match opts.attention_mask {
            Some(m) => Some(mask_to_rows(m, b, t)?),
            None => None,
        };
        let kv = match kv {
            Some(kv) => {
                if kv.layers.len() != self.cfg.n_layer {
                    return Err(Error::Shape(format!("KV cache has {} layers, the model {}", kv.layers.len(), self.cfg.n_layer)));
                }
                if !kv.is_empty() && kv.batch() != b {
                    return Err(Error::Shape(format!("KV cache holds batch {}, input has {b}", kv.batch())));
                }
                Some(kv)
            }
            None => None,
        };
        let past = kv.as_ref().map(|k| k.len()).unwrap_or(0);
        if past + t > self.cfg.n_positions {
            return Err(Error::PromptTooLong { len: past + t, n_ctx: self.cfg.n_positions });
        }
        // Per-row key validity over past + new, and position ids for the new tokens.
        let new_rows = mask_rows.unwrap_or_else(|| vec![vec![1u8; t]; b]);
        let (key_mask, real_len_before): (Vec<Vec<u8>>, Vec<u32>) = match &kv {
            Some(k) if !k.is_empty() => (
                k.key_mask.iter().zip(&new_rows).map(|(p, n)| p.iter().chain(n).copied().collect()).collect(),
                k.real_len.clone(),
            ),
            _ => (new_rows.clone(), vec![0; b]),
        };
        let mut pos = Vec::with_capacity(b * t);
        let mut real_len_after = real_len_before.clone();
        for (r, row) in new_rows.iter().enumerate() {
            for &m in row {
                pos.push(real_len_after[r].min(self.cfg.n_positions as u32 - 1));
                real_len_after[r] += m as u32;
            }
        }
        // pad tokens take the position of the next real token; their outputs are unused
        let any_pad = key_mask.iter().any(|r| r.contains(&0));
        let mask = self.additive_mask(&key_mask, past, t, any_pad)?;

        let mut hooks = HookCtx::new(spec);
        let pos = Tensor::from_vec(pos, (b, t), &self.device)?;
        let tok = super::fused_embedding::lookup(&self.wte, &ids.flatten_all()?)?.reshape((b, t, self.cfg.n_embd))?; // (B, T, C)
        let tok = hooks.hook(HookPoint::Embed, tok)?;
        let mut x = self.cfg.position_embedding.embed(tok, &self.wpe, &pos, &mut hooks)?; // (B, T, C)
        match kv {
            Some(kv) => {
                for (blk, slot) in self.blocks.iter().zip(kv.layers.iter_mut()) {
                    x = blk.forward(x, mask.as_ref(), Some(slot), &mut hooks)?;
                }
                kv.key_mask = key_mask;
                kv.real_len = real_len_after;
            }
            None => {
                for blk in &self.blocks {
                    x = blk.forward(x, mask.as_ref(), None, &mut hooks)?;
                }
            }
        }
        if opts.last_only {
            x = x.narrow(1, t - 1, 1)?;
        }
        let x = self.ln_f.forward(&x, &mut hooks)?; // (B, T, C)
        Ok((x, hooks.cache))
    }

    /// Logits from final-LN output `(…, C)`: `x @ wte^T` (tied unembedding).
    pub fn unembed_normalized(&self, x: &Tensor) -> Result<Tensor> {
        let dims = x.dims().to_vec();
        let c = self.cfg.n_embd;
        if c == 0 {
            return Err(Error::ConfigField { path: "<config>".into(), field: "n_embd", msg: "must be at least 1 (got 0)".into() });
        }
        let rows = x.elem_count() / c;
        let x2 = x.reshape((rows, c))?;
        let v = self.cfg.vocab_size;
        let y = match self.unembed_padded(&x2)? {
            Some(y) => y.narrow(1, 0, v)?, // (rows, V)
            None => super::gemv::matmul(&x2, &self.wte.t()?)?, // weight streaming when decoding
        };
        let mut od = dims;
        // a rank-0 input reshapes to (1, 1) when n_embd is 1: an error, not a panic
        *od.last_mut().ok_or_else(|| Error::Shape("unembed_normalized needs a tensor of rank >= 1".into()))? = self.cfg.vocab_size;
        Ok(y.reshape(od)?)
    }

    /// `x2 (rows, C) @ [wte; 0]ᵀ`: (rows, Vp) logits with V padded to a multiple of 64, on
    /// CUDA at ≥ 64 rows when V is not one already; else None. cuBLAS runs its unaligned
    /// (align1) kernels on an odd V (GPT-2's 50,257): 14% of a 124M bf16 training step's
    /// kernel time on an H200 (Nsight Compute, README GPU section); padded, as nanoGPT's
    /// 50,304, it runs the aligned ones. The padding rows are zeros and get no gradient
    /// that reaches wte.
    fn unembed_padded(&self, x2: &Tensor) -> Result<Option<Tensor>> {
        let (rows, c) = x2.dims2()?;
        let v = self.cfg.vocab_size;
        if !self.device.is_cuda() || rows < 64 || v % 64 == 0 {
            return Ok(None);
        }
        let pad = Tensor::zeros((v.next_multiple_of(64) - v, c), self.wte.dtype(), &self.device)?;
        let w = Tensor::cat(&[&self.wte, &pad], 0)?; // (Vp, C)
        Ok(Some(x2.matmul(&w.t()?)?))
    }

    /// Mean next-token cross-entropy of the model on `ids` against `targets`, both `(B, T)`
    /// (the training loss). On CUDA the loss reads the padded unembedding's output in place
    /// (`xent::cross_entropy_padded`); elsewhere it is the cross-entropy of `forward`'s logits.
    pub fn lm_loss(&self, ids: &Tensor, targets: &Tensor) -> Result<Tensor> {
        let targets = targets.flatten_all()?.to_dtype(DType::U32)?;
        let logits = if self.device.is_cuda() {
            // off the CPU `run_with`'s pool is not entered (runtime::with_pool_for)
            let (x, _) = self.hidden(ids, &HookSpec::new(), ForwardOpts::default(), None)?; // (B, T, C)
            let (b, t, c) = x.dims3()?;
            if let Some(y) = self.unembed_padded(&x.reshape((b * t, c))?)? {
                if let Some(loss) = super::xent::cross_entropy_padded(&y, self.cfg.vocab_size, &targets.to_device(&self.device)?)? {
                    return Ok(loss);
                }
            }
            self.unembed_normalized(&x)?
        } else {
            self.forward(ids)?
        }; // (B, T, V)
        let (b, t, v) = logits.dims3()?;
        Ok(super::ops::cross_entropy(&logits.reshape((b * t, v))?, &targets)?)
    }

    /// Logits from a residual-stream tensor `(…, C)`: final LN (in its current mode) then
    /// unembedding (the logit lens).
    pub fn unembed(&self, resid: &Tensor) -> Result<Tensor> {
        let x = self.ln_f.forward_as(resid, self.ln_f.mode, None)?;
        self.unembed_normalized(&x)
    }

    /// Accepts (T,) or (B, T) ids of any integer dtype; checks range, emptiness and length.
    fn check_ids(&self, ids: &Tensor) -> Result<Tensor> {
        let ids = match ids.rank() {
            1 => ids.unsqueeze(0)?,
            2 => ids.clone(),
            r => return Err(Error::Shape(format!("token ids must be (T,) or (B, T), got rank {r} {:?}", ids.dims()))),
        };
        let (b, t) = ids.dims2()?;
        if b == 0 || t == 0 {
            return Err(Error::EmptyInput(format!("token ids have shape {:?}", ids.dims())));
        }
        if ids.dtype().is_float() {
            return Err(Error::Shape(format!("token ids must be integers, got {:?}", ids.dtype())));
        }
        let ids = ids.to_dtype(DType::U32)?.to_device(&self.device)?;
        let max = ids.flatten_all()?.max(0)?.to_scalar::<u32>()?;
        if max as usize >= self.cfg.vocab_size {
            return Err(Error::TokenOutOfRange { id: max, vocab: self.cfg.vocab_size });
        }
        // negative i64 ids wrap to huge u32 values and fail the range check above
        Ok(ids)
    }

    /// Additive causal + padding mask (B|1, 1, T, Tk), or None when every key is visible.
    fn additive_mask(&self, key_mask: &[Vec<u8>], past: usize, t: usize, any_pad: bool) -> Result<Option<Tensor>> {
        let tk = past + t;
        if !any_pad && t == 1 {
            return Ok(None);
        }
        let rows: Vec<&Vec<u8>> = if any_pad { key_mask.iter().collect() } else { vec![&key_mask[0]] };
        let mut m = Vec::with_capacity(rows.len() * t * tk);
        for row in &rows {
            for q in 0..t {
                for (k, &real) in row.iter().enumerate() {
                    let visible = k <= past + q && (real == 1 || !any_pad);
                    m.push(if visible { 0f32 } else { MASK_VALUE });
                }
            }
        }
        Ok(Some(Tensor::from_vec(m, (rows.len(), 1, t, tk), &self.device)?.to_dtype(self.dtype())?))
    }
}

/// (B, T) mask of any dtype → rows of 0/1, checking the shape.
fn mask_to_rows(m: &Tensor, b: usize, t: usize) -> Result<Vec<Vec<u8>>> {
    let m = if m.rank() == 1 { m.unsqueeze(0)? } else { m.clone() };
    if m.dims() != [b, t] {
        return Err(Error::Shape(format!("attention_mask has shape {:?}, ids have ({b}, {t})", m.dims())));
    }
    let rows = m.to_dtype(DType::F32)?.to_vec2::<f32>()?;
    Ok(rows.into_iter().map(|r| r.into_iter().map(|v| (v != 0.0) as u8).collect()).collect())
}

/// Softmax over the vocabulary of the last position's logits `(B, T, V)` → `(B, V)`.
pub fn last_token_probs(logits: &Tensor) -> Result<Tensor> {
    let t = logits.dim(1)?;
    Ok(ops::softmax_last(&logits.narrow(1, t - 1, 1)?.squeeze(1)?)?)
}
