//! Singular-value probes for matrices and update matrices: the spectrum, stable rank and
//! flatness that Muon and Conda are about (Conda's motivation: Adam's updates have a few
//! dominant directions; orthogonalised updates spread over all of them).

use candle_core::{DType, Tensor};
use nalgebra::DMatrix;

use crate::{Error, Result};

/// A rank-2 tensor as an f64 nalgebra matrix (row-major read).
pub fn to_dmatrix(t: &Tensor) -> Result<DMatrix<f64>> {
    let (r, c) = t.dims2().map_err(|_| Error::Shape(format!("expected a matrix, got shape {:?}", t.dims())))?;
    let v: Vec<f64> = t.to_dtype(DType::F64)?.flatten_all()?.to_vec1()?;
    Ok(DMatrix::from_row_slice(r, c, &v))
}

/// An f64 nalgebra matrix as an f32 tensor on `t`'s device.
pub fn from_dmatrix(m: &DMatrix<f64>, like: &Tensor) -> Result<Tensor> {
    let (r, c) = m.shape();
    let v: Vec<f32> = (0..r).flat_map(|i| (0..c).map(move |j| m[(i, j)] as f32)).collect();
    Ok(Tensor::from_vec(v, (r, c), like.device())?)
}

/// Singular values of a matrix, descending.
pub fn singular_values(t: &Tensor) -> Result<Vec<f64>> {
    let m = to_dmatrix(t)?;
    if m.nrows() == 0 || m.ncols() == 0 {
        return Err(Error::EmptyInput("singular values of an empty matrix".into()));
    }
    if m.iter().any(|x| !x.is_finite()) {
        return Err(Error::NonFiniteOutput("matrix with NaN/inf has no SVD".into()));
    }
    let mut s: Vec<f64> = nalgebra::linalg::SVD::new(m, false, false).singular_values.iter().copied().collect();
    s.sort_by(|a, b| b.total_cmp(a));
    Ok(s)
}

/// Stable rank Σσ² / σ_max² (between 1 and the rank; equal to the size for an orthogonal
/// matrix). Zero for the zero matrix.
pub fn stable_rank(s: &[f64]) -> f64 {
    let max = s.iter().copied().fold(0.0, f64::max);
    if max == 0.0 {
        return 0.0;
    }
    s.iter().map(|x| x * x).sum::<f64>() / (max * max)
}

/// Spectral flatness σ_min / σ_max (1 for an orthogonal matrix).
pub fn flatness(s: &[f64]) -> f64 {
    let max = s.iter().copied().fold(0.0, f64::max);
    let min = s.iter().copied().fold(f64::INFINITY, f64::min);
    if max == 0.0 {
        0.0
    } else {
        min / max
    }
}

/// The spectrum of one parameter's update.
#[derive(Clone, Debug)]
pub struct UpdateSpectrum {
    pub name: String,
    /// Descending, normalised by the largest (so the first is 1).
    pub normalised: Vec<f64>,
    pub stable_rank: f64,
    pub flatness: f64,
    pub frobenius: f64,
}

/// Spectra of `after − before` for every matrix in `names` (pairs of (name, tensor)); the
/// update includes whatever the optimizer applied, decoupled weight decay too.
pub fn update_spectra(before: &[(String, Tensor)], after: &[(String, Tensor)], select: impl Fn(&str, usize) -> bool) -> Result<Vec<UpdateSpectrum>> {
    let mut out = vec![];
    for (name, b) in before {
        if !select(name, b.rank()) || b.rank() != 2 {
            continue;
        }
        let a = after.iter().find(|(n, _)| n == name).ok_or_else(|| Error::MissingTensor {
            name: name.clone(),
            tried: "the model after the step".into(),
        })?;
        let d = (&a.1 - b)?;
        let s = singular_values(&d)?;
        let max = s[0];
        out.push(UpdateSpectrum {
            name: name.clone(),
            normalised: s.iter().map(|x| if max > 0.0 { x / max } else { 0.0 }).collect(),
            stable_rank: stable_rank(&s),
            flatness: flatness(&s),
            frobenius: s.iter().map(|x| x * x).sum::<f64>().sqrt(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn singular_values_of_a_known_matrix() {
        // diag(3, 2) rotated on the left by 90°: singular values 3 and 2
        let t = Tensor::new(&[[0.0f32, -2.0], [3.0, 0.0], [0.0, 0.0]], &Device::Cpu).unwrap();
        let s = singular_values(&t).unwrap();
        assert!((s[0] - 3.0).abs() < 1e-9 && (s[1] - 2.0).abs() < 1e-9, "{s:?}");
        assert!((stable_rank(&s) - 13.0 / 9.0).abs() < 1e-12);
        assert!((flatness(&s) - 2.0 / 3.0).abs() < 1e-12);
        assert!(singular_values(&Tensor::new(&[[f32::NAN]], &Device::Cpu).unwrap()).is_err());
    }
}
