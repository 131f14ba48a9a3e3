//! Orthogonal Procrustes: the rotation `R` (`RᵀR = I`) minimising `‖A R − B‖_F`, as
//! `scipy.linalg.orthogonal_procrustes(A, B)` computes it (Schönemann 1966): with
//! `AᵀB = U Σ Vᵀ`, `R = U Vᵀ`. WECHSEL aligns source word vectors to target word vectors with it
//! on the pairs of a bilingual dictionary, then maps every source vector `x` to `x R`.

use nalgebra::DMatrix;
use rand::SeedableRng;

use crate::{Error, Result};

/// `R` minimising `‖a R − b‖_F` over orthogonal matrices; `a` and `b` are `(n, d)` with row `i`
/// of each the two sides of one correspondence. Typed errors: shapes differ, no rows,
/// non-finite entries.
pub fn orthogonal_procrustes(a: &DMatrix<f64>, b: &DMatrix<f64>) -> Result<DMatrix<f64>> {
    if a.shape() != b.shape() {
        return Err(Error::Shape(format!(
            "orthogonal_procrustes: A is {:?}, B is {:?}",
            a.shape(),
            b.shape()
        )));
    }
    if a.nrows() == 0 || a.ncols() == 0 {
        return Err(Error::EmptyInput(
            "orthogonal_procrustes: no correspondences".into(),
        ));
    }
    if a.iter().chain(b.iter()).any(|x| !x.is_finite()) {
        return Err(Error::NonFiniteOutput(
            "orthogonal_procrustes: A or B holds NaN/inf".into(),
        ));
    }
    let m = a.transpose() * b;
    let svd = m.svd(true, true);
    let (u, vt) = (
        svd.u.expect("svd computed u"),
        svd.v_t.expect("svd computed vᵀ"),
    );
    Ok(u * vt)
}

/// The sanity check a notebook shows: `max |R − Q|` when Procrustes is given `B = A Q` for a
/// random `(n, d)` matrix `A` and a random orthogonal `Q` (seeded). Zero up to rounding.
pub fn known_rotation_error(n: usize, d: usize, seed: u64) -> Result<f64> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut draw =
        |r: usize, c: usize| DMatrix::from_fn(r, c, |_, _| super::word_vectors::normal(&mut rng));
    let q = draw(d, d).qr().q();
    let a = draw(n, d);
    let r = orthogonal_procrustes(&a, &(&a * &q))?;
    Ok((r - q).abs().max())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    fn random(n: usize, d: usize, seed: u64) -> DMatrix<f64> {
        let mut rng = StdRng::seed_from_u64(seed);
        DMatrix::from_fn(n, d, |_, _| crate::transfer::word_vectors::normal(&mut rng))
    }

    #[test]
    fn recovers_a_known_rotation() {
        let q = random(16, 16, 1).qr().q(); // a random orthogonal matrix
        let a = random(200, 16, 2);
        let b = &a * &q;
        let r = orthogonal_procrustes(&a, &b).unwrap();
        assert!(
            (&r - &q).abs().max() < 1e-10,
            "max error {}",
            (&r - &q).abs().max()
        );
        assert!((r.transpose() * &r - DMatrix::identity(16, 16)).abs().max() < 1e-10);
    }

    #[test]
    fn known_rotation_error_is_rounding() {
        assert!(known_rotation_error(50, 6, 9).unwrap() < 1e-10);
    }

    #[test]
    fn is_the_best_orthogonal_map_under_noise() {
        let q = random(8, 8, 3).qr().q();
        let a = random(100, 8, 4);
        let b = &a * &q + random(100, 8, 5) * 0.3;
        let r = orthogonal_procrustes(&a, &b).unwrap();
        let err = |m: &DMatrix<f64>| (&a * m - &b).norm();
        assert!(err(&r) <= err(&q) + 1e-12);
        // any other rotation (here: R composed with a small rotation) does worse
        let small = (DMatrix::identity(8, 8)
            + (random(8, 8, 6) - random(8, 8, 6).transpose()) * 0.01)
            .qr()
            .q();
        assert!(err(&r) < err(&(&r * small)));
    }

    #[test]
    fn bad_input_is_typed() {
        assert!(matches!(
            orthogonal_procrustes(&random(3, 2, 0), &random(3, 3, 0)),
            Err(Error::Shape(_))
        ));
        assert!(matches!(
            orthogonal_procrustes(&DMatrix::zeros(0, 2), &DMatrix::zeros(0, 2)),
            Err(Error::EmptyInput(_))
        ));
        let mut a = random(3, 2, 0);
        a[(0, 0)] = f64::NAN;
        assert!(orthogonal_procrustes(&a, &random(3, 2, 1)).is_err());
    }
}
