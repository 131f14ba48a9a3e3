//! [`TokenDataset`]: a token stream packed into fixed blocks for next-token training.
//!
//! The stream is cut into **disjoint** blocks of `block_size + 1` tokens. Block `i` gives the pair
//! `x = block[..T]`, `y = block[1..]` (so `y[t] == x[t + 1]` and `y` is `x` shifted left by one);
//! the last `n mod (T + 1)` tokens of the stream are not used by blocks. Because blocks share no
//! token, a [`TokenDataset::split`] by blocks gives train and validation sets with no overlap at
//! all (the price: the one transition between two neighbouring blocks is never a target).
//!
//! Three ways to draw data, all seeded:
//! - [`TokenDataset::batches`]: one epoch over the blocks in a shuffled order (full batches only);
//! - [`TokenDataset::epochs`]: several epochs, reshuffled each time (epoch 0 = `batches`);
//! - [`TokenDataset::random_batch`]: nanoGPT's random windows of any length `t + 1` anywhere in the
//!   dataset's own token ranges (never across a train/validation boundary).
//!
//! [`TokenDataset::eval_batches`] walks every block in order, last partial batch included.
//!
//! ```
//! use gpt2lab::data::TokenDataset;
//! let ds = TokenDataset::new((0..100).collect(), 8).unwrap();
//! assert_eq!(ds.len(), 11); // 100 / 9 blocks of 9 tokens
//! let (x, y) = ds.block_xy(0);
//! assert_eq!(&x[1..], &y[..7]);
//! let (train, val) = ds.split(0.2, 0).unwrap();
//! assert_eq!(train.len() + val.len(), ds.len());
//! ```

use std::ops::Range;
use std::sync::Arc;

use candle_core::{Device, Tensor};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::{Error, Result};

/// A token stream packed into disjoint blocks of `block_size + 1` tokens. Cheap to clone (the
/// stream is shared).
#[derive(Clone, Debug)]
pub struct TokenDataset {
    tokens: Arc<Vec<u32>>,
    block_size: usize,
    /// Offsets into `tokens` of this dataset's blocks, ascending.
    starts: Vec<usize>,
    /// The ranges of `tokens` this dataset owns (runs of adjacent blocks, or the whole stream).
    segments: Vec<Range<usize>>,
    device: Device,
}

impl TokenDataset {
    /// Packs `tokens` into blocks of `block_size + 1`. Errors when `block_size` is 0 or the stream
    /// is shorter than one block.
    pub fn new(tokens: Vec<u32>, block_size: usize) -> Result<Self> {
        if block_size == 0 {
            return Err(Error::Msg("TokenDataset: block_size must be at least 1".into()));
        }
        if tokens.len() < block_size + 1 {
            return Err(Error::EmptyInput(format!("TokenDataset: {} tokens cannot fill one block of block_size + 1 = {}", tokens.len(), block_size + 1)));
        }
        let n_blocks = tokens.len() / (block_size + 1);
        let starts = (0..n_blocks).map(|i| i * (block_size + 1)).collect();
        let segments = std::iter::once(0..tokens.len()).collect();
        Ok(TokenDataset { tokens: Arc::new(tokens), block_size, starts, segments, device: Device::Cpu })
    }

    /// Joins documents into one stream, appending `sep` (e.g. `<|endoftext|>`, 50256) after every
    /// document as nanoGPT does, then packs it like [`TokenDataset::new`].
    pub fn from_documents(docs: &[Vec<u32>], sep: Option<u32>, block_size: usize) -> Result<Self> {
        let total: usize = docs.iter().map(|d| d.len() + sep.is_some() as usize).sum();
        let mut tokens = Vec::with_capacity(total);
        for d in docs {
            tokens.extend_from_slice(d);
            if let Some(s) = sep {
                tokens.push(s);
            }
        }
        Self::new(tokens, block_size)
    }

    /// The same dataset, producing tensors on `device` (CPU by default).
    pub fn with_device(mut self, device: Device) -> Self {
        self.device = device;
        self
    }
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Number of blocks.
    pub fn len(&self) -> usize {
        self.starts.len()
    }
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }
    /// `T`: the length of `x` and `y` in a block.
    pub fn block_size(&self) -> usize {
        self.block_size
    }
    /// Tokens this dataset owns (all of the stream for a fresh dataset, its blocks after a split).
    pub fn n_tokens(&self) -> usize {
        self.segments.iter().map(|r| r.len()).sum()
    }
    /// Next-token targets over one epoch of blocks: `len() * block_size()`.
    pub fn n_targets(&self) -> usize {
        self.len() * self.block_size
    }
    /// The whole underlying stream (shared with the other half of a split).
    pub fn stream(&self) -> &[u32] {
        &self.tokens
    }
    /// Offsets into [`TokenDataset::stream`] where the blocks start, ascending.
    pub fn block_starts(&self) -> &[usize] {
        &self.starts
    }
    /// The ranges of the stream this dataset owns; random windows stay inside one of them.
    pub fn segments(&self) -> &[Range<usize>] {
        &self.segments
    }
    /// The largest token id in the dataset's ranges, to check it against a model's vocabulary.
    pub fn max_id(&self) -> Option<u32> {
        self.segments.iter().flat_map(|r| self.tokens[r.clone()].iter().copied()).max()
    }

    /// Block `i`: its `block_size + 1` tokens. Panics when `i >= len()`, like slice indexing.
    pub fn block(&self, i: usize) -> &[u32] {
        let s = self.starts[i];
        &self.tokens[s..s + self.block_size + 1]
    }
    /// Block `i` as `(x, y)`: `x = block[..T]`, `y = block[1..]`.
    pub fn block_xy(&self, i: usize) -> (&[u32], &[u32]) {
        let b = self.block(i);
        (&b[..self.block_size], &b[1..])
    }

    /// `(x, y)` tensors `(B, T)` u32 for the blocks `indices` (in that order).
    pub fn batch(&self, indices: &[usize]) -> Result<(Tensor, Tensor)> {
        if indices.is_empty() {
            return Err(Error::EmptyInput("TokenDataset::batch: no block indices".into()));
        }
        let t = self.block_size;
        let mut xs = Vec::with_capacity(indices.len() * t);
        let mut ys = Vec::with_capacity(indices.len() * t);
        for &i in indices {
            if i >= self.len() {
                return Err(Error::Msg(format!("TokenDataset::batch: block {i} out of range for {} blocks", self.len())));
            }
            let (x, y) = self.block_xy(i);
            xs.extend_from_slice(x);
            ys.extend_from_slice(y);
        }
        self.tensors(xs, ys, indices.len(), t)
    }

    fn tensors(&self, xs: Vec<u32>, ys: Vec<u32>, b: usize, t: usize) -> Result<(Tensor, Tensor)> {
        Ok((Tensor::from_vec(xs, (b, t), &self.device)?, Tensor::from_vec(ys, (b, t), &self.device)?))
    }

    /// One epoch over the blocks in an order shuffled by `seed`, `batch_size` blocks per batch; a
    /// last partial batch is dropped. Errors when `batch_size` is 0 or larger than `len()`.
    pub fn batches(&self, batch_size: usize, seed: u64) -> Result<Batches> {
        self.epochs(batch_size, seed, Some(1))
    }

    /// `n_epochs` epochs (`None`: without end), each in a fresh shuffled order drawn from one
    /// generator seeded by `seed`, so epoch 0 is exactly [`TokenDataset::batches`]`(b, seed)`.
    pub fn epochs(&self, batch_size: usize, seed: u64, n_epochs: Option<usize>) -> Result<Batches> {
        if batch_size == 0 || batch_size > self.len() {
            return Err(Error::Msg(format!("TokenDataset: batch_size {batch_size} must be in 1..={} (the number of blocks)", self.len())));
        }
        Ok(Batches::new(self.clone(), batch_size, Some(StdRng::seed_from_u64(seed)), true, n_epochs))
    }

    /// Every block once, in stream order, the last batch possibly smaller: for evaluation.
    pub fn eval_batches(&self, batch_size: usize) -> Result<Batches> {
        if batch_size == 0 {
            return Err(Error::Msg("TokenDataset: batch_size must be at least 1".into()));
        }
        Ok(Batches::new(self.clone(), batch_size, None, false, Some(1)))
    }

    /// Full batches per epoch for `batch_size`.
    pub fn steps_per_epoch(&self, batch_size: usize) -> usize {
        self.len().checked_div(batch_size).unwrap_or(0)
    }

    /// Splits the blocks at random (by `seed`) into `(train, validation)`, `val_fraction` of them
    /// (rounded, at least one and at most `len() - 1`) going to validation. The two share no token.
    pub fn split(&self, val_fraction: f64, seed: u64) -> Result<(TokenDataset, TokenDataset)> {
        if !(val_fraction > 0.0 && val_fraction < 1.0) {
            return Err(Error::Msg(format!("TokenDataset::split: val_fraction {val_fraction} must be in (0, 1)")));
        }
        let n = self.len();
        if n < 2 {
            return Err(Error::EmptyInput(format!("TokenDataset::split: {n} block(s) cannot be split in two")));
        }
        let n_val = ((n as f64 * val_fraction).round() as usize).clamp(1, n - 1);
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut StdRng::seed_from_u64(seed));
        let mut val: Vec<usize> = order[..n_val].iter().map(|&i| self.starts[i]).collect();
        let mut train: Vec<usize> = order[n_val..].iter().map(|&i| self.starts[i]).collect();
        val.sort_unstable();
        train.sort_unstable();
        Ok((self.with_starts(train), self.with_starts(val)))
    }

    /// A dataset over the given block starts, owning exactly those blocks (adjacent ones merged).
    fn with_starts(&self, starts: Vec<usize>) -> TokenDataset {
        let w = self.block_size + 1;
        let mut segments: Vec<Range<usize>> = Vec::new();
        for &s in &starts {
            match segments.last_mut() {
                Some(last) if last.end == s => last.end = s + w,
                _ => segments.push(s..s + w),
            }
        }
        TokenDataset { tokens: self.tokens.clone(), block_size: self.block_size, starts, segments, device: self.device.clone() }
    }

    /// nanoGPT's sampler: `b` windows of `t + 1` tokens at uniformly random positions inside the
    /// dataset's ranges, as `(x, y)` tensors `(b, t)`. `t` may differ from `block_size` (it must
    /// fit in a range: `t + 1 <=` the longest range).
    pub fn random_batch(&self, rng: &mut StdRng, b: usize, t: usize) -> Result<(Tensor, Tensor)> {
        if b == 0 || t == 0 {
            return Err(Error::Msg(format!("TokenDataset::random_batch: b = {b} and t = {t} must be at least 1")));
        }
        // Valid window starts per range: len - t (windows of t + 1 tokens).
        let counts: Vec<u64> = self.segments.iter().map(|r| r.len().saturating_sub(t) as u64).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return Err(Error::Shape(format!("TokenDataset::random_batch: no range holds a window of t + 1 = {} tokens", t + 1)));
        }
        let mut xs = Vec::with_capacity(b * t);
        let mut ys = Vec::with_capacity(b * t);
        for _ in 0..b {
            let mut u = rng.random_range(0..total);
            let mut k = 0;
            while u >= counts[k] {
                u -= counts[k];
                k += 1;
            }
            let s = self.segments[k].start + u as usize;
            xs.extend_from_slice(&self.tokens[s..s + t]);
            ys.extend_from_slice(&self.tokens[s + 1..s + t + 1]);
        }
        self.tensors(xs, ys, b, t)
    }
}

/// An iterator of `(x, y)` batches over a [`TokenDataset`]; see [`TokenDataset::batches`],
/// [`TokenDataset::epochs`] and [`TokenDataset::eval_batches`].
pub struct Batches {
    ds: TokenDataset,
    batch_size: usize,
    rng: Option<StdRng>,
    drop_last: bool,
    n_epochs: Option<usize>,
    epoch: usize,
    order: Vec<usize>,
    pos: usize,
}

impl Batches {
    fn new(ds: TokenDataset, batch_size: usize, rng: Option<StdRng>, drop_last: bool, n_epochs: Option<usize>) -> Self {
        let mut it = Batches { ds, batch_size, rng, drop_last, n_epochs, epoch: 0, order: Vec::new(), pos: 0 };
        it.reorder();
        it
    }

    fn reorder(&mut self) {
        self.order = (0..self.ds.len()).collect();
        if let Some(rng) = self.rng.as_mut() {
            self.order.shuffle(rng);
        }
        self.pos = 0;
    }

    /// The epoch (0-based) of the batch last returned (0 before the first).
    pub fn epoch(&self) -> usize {
        self.epoch
    }
    /// Batches per epoch.
    pub fn steps_per_epoch(&self) -> usize {
        if self.drop_last {
            self.ds.len() / self.batch_size
        } else {
            self.ds.len().div_ceil(self.batch_size)
        }
    }

    /// The block indices of the next batch (advancing the iterator), without building tensors.
    pub fn next_indices(&mut self) -> Option<Vec<usize>> {
        loop {
            if self.n_epochs.is_some_and(|n| self.epoch >= n) {
                return None;
            }
            let left = self.order.len() - self.pos;
            if left > 0 && (left >= self.batch_size || !self.drop_last) {
                let take = left.min(self.batch_size);
                let idx = self.order[self.pos..self.pos + take].to_vec();
                self.pos += take;
                return Some(idx);
            }
            self.epoch += 1;
            self.reorder();
        }
    }
}

impl Iterator for Batches {
    type Item = Result<(Tensor, Tensor)>;
    fn next(&mut self) -> Option<Self::Item> {
        let idx = self.next_indices()?;
        Some(self.ds.batch(&idx))
    }
}
