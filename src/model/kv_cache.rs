//! The key/value cache for incremental decoding, with per-row padding and positions.

use candle_core::Tensor;

/// Cached keys and values of every layer plus, per batch row, which cached positions are
/// real tokens (left padding stays masked at every later step) and how many real tokens
/// the row has (its next position id).
#[derive(Clone, Debug, Default)]
pub struct KvCache {
    pub(crate) layers: Vec<Option<(Tensor, Tensor)>>, // each (B, H, Tpast, dh)
    pub(crate) key_mask: Vec<Vec<u8>>,                // (B, Tpast): 1 real, 0 padding
    pub(crate) real_len: Vec<u32>,                    // (B,)
}

impl KvCache {
    pub fn new(n_layer: usize) -> Self {
        KvCache { layers: vec![None; n_layer], key_mask: vec![], real_len: vec![] }
    }
    /// Cached positions (including padding).
    pub fn len(&self) -> usize {
        self.key_mask.first().map(|r| r.len()).unwrap_or(0)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn batch(&self) -> usize {
        self.key_mask.len()
    }
    pub fn reset(&mut self) {
        let n = self.layers.len();
        *self = KvCache::new(n);
    }
    /// Keeps only the given batch rows (beam search, finished rows).
    pub fn select_rows(&mut self, rows: &[usize]) -> candle_core::Result<()> {
        let dev = match self.layers.iter().flatten().next() {
            Some((k, _)) => k.device().clone(),
            None => return Ok(()),
        };
        let idx = Tensor::from_vec(rows.iter().map(|&r| r as u32).collect::<Vec<_>>(), rows.len(), &dev)?;
        for (k, v) in self.layers.iter_mut().flatten() {
            *k = k.index_select(&idx, 0)?;
            *v = v.index_select(&idx, 0)?;
        }
        self.key_mask = rows.iter().map(|&r| self.key_mask[r].clone()).collect();
        self.real_len = rows.iter().map(|&r| self.real_len[r]).collect();
        Ok(())
    }
}
