//! The ΔW view: what fine-tuning changed in a weight matrix, as its singular values.
//! (nalgebra's SVD, in f64.)

use candle_core::{DType, Tensor};
use serde::Serialize;

use crate::model::Gpt2;
use crate::{Error, Result};

/// Singular values of a 2-D tensor, largest first.
pub fn singular_values(m: &Tensor) -> Result<Vec<f64>> {
    let (r, c) = m.dims2()?;
    if r == 0 || c == 0 {
        return Err(Error::EmptyInput(format!("singular values of a {r}×{c} matrix")));
    }
    let data = m.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?;
    if data.iter().any(|v| !v.is_finite()) {
        return Err(Error::NonFiniteOutput("ΔW holds NaN or infinity".into()));
    }
    let mat = nalgebra::DMatrix::from_row_slice(r, c, &data);
    let mut s: Vec<f64> = mat.singular_values().iter().copied().collect();
    s.sort_by(|a, b| b.total_cmp(a));
    Ok(s)
}

/// The singular values of one ΔW and how concentrated its energy is.
#[derive(Clone, Debug, Serialize)]
pub struct DeltaSpectrum {
    pub name: String,
    pub singular_values: Vec<f64>,
}

impl DeltaSpectrum {
    pub fn of(name: &str, delta: &Tensor) -> Result<DeltaSpectrum> {
        Ok(DeltaSpectrum { name: name.into(), singular_values: singular_values(delta)? })
    }
    /// Fractions σᵢ² / Σσ² (they sum to 1; all 0 when ΔW = 0).
    pub fn energy(&self) -> Vec<f64> {
        let tot: f64 = self.singular_values.iter().map(|s| s * s).sum();
        if tot == 0.0 {
            return vec![0.0; self.singular_values.len()];
        }
        self.singular_values.iter().map(|s| s * s / tot).collect()
    }
    /// Energy fraction in the top `k` singular directions.
    pub fn top_energy(&self, k: usize) -> f64 {
        self.energy().iter().take(k).sum()
    }
    /// The smallest k whose top-k energy reaches `frac` (the "effective rank" at that level).
    pub fn rank_at(&self, frac: f64) -> usize {
        let mut acc = 0.0;
        for (i, e) in self.energy().iter().enumerate() {
            acc += e;
            if acc >= frac {
                return i + 1;
            }
        }
        self.singular_values.len()
    }
}

/// ΔW = W_after − W_before of the parameter `name` (canonical HF name, e.g. `h.0.attn.c_attn.weight`).
pub fn weight_delta(before: &Gpt2, after: &Gpt2, name: &str) -> Result<Tensor> {
    let find = |m: &Gpt2| m.named_tensors().into_iter().find(|(n, _)| n == name).map(|(_, t)| t);
    let names = || before.named_tensors().into_iter().map(|(n, _)| n).collect::<Vec<_>>();
    let (a, b) = match (find(before), find(after)) {
        (Some(a), Some(b)) => (a, b),
        _ => return Err(Error::UnknownHook { name: name.into(), near: names().into_iter().filter(|n| n.ends_with(".weight")).take(8).collect() }),
    };
    if a.dims() != b.dims() {
        return Err(Error::Shape(format!("{name}: {:?} before, {:?} after", a.dims(), b.dims())));
    }
    Ok((b.to_dtype(DType::F32)? - a.to_dtype(DType::F32)?)?.detach())
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn singular_values_of_a_hand_sized_matrix() {
        // diag(3, 2) padded: singular values 3 and 2; a rank-1 outer product has one non-zero
        let m = Tensor::from_vec(vec![3f32, 0., 0., 0., 2., 0.], (2, 3), &Device::Cpu).unwrap();
        let s = singular_values(&m).unwrap();
        assert!((s[0] - 3.0).abs() < 1e-9 && (s[1] - 2.0).abs() < 1e-9);
        let u = Tensor::from_vec(vec![1f32, 2., 3.], (3, 1), &Device::Cpu).unwrap();
        let v = Tensor::from_vec(vec![1f32, -1.], (1, 2), &Device::Cpu).unwrap();
        let sp = DeltaSpectrum::of("x", &u.matmul(&v).unwrap()).unwrap();
        assert!((sp.singular_values[0] - (14f64.sqrt() * 2f64.sqrt())).abs() < 1e-5);
        assert!((sp.top_energy(1) - 1.0).abs() < 1e-9 && sp.rank_at(0.99) == 1);
        assert!((sp.energy().iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
}
