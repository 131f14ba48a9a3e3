//! The vectorisable reductions give the serial forms' results bit for bit: the training
//! artefacts re-run to the bit, so a faster kernel may not move a single rounding.

use super::{exp_f32, lanes, lanes_of, masked_softmax_row, row_max, HIDDEN};

/// Deterministic values in about [-20, 20], a few exact zeros of both signs.
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|i| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            match i % 29 {
                7 => 0.0,
                11 => -0.0,
                _ => ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 40.0,
            }
        })
        .collect()
}

const LENGTHS: [usize; 12] = [1, 5, 8, 9, 63, 64, 65, 127, 200, 513, 1031, 50257];

#[test]
fn lanes_of_is_lanes_bit_for_bit() {
    for (k, &n) in LENGTHS.iter().enumerate() {
        let xs = values(n, k as u64);
        let max = 3.5f32;
        let a = lanes_of(&xs, |x| exp_f32(x - max) as f64);
        let b = lanes(n, |i| exp_f32(xs[i] - max) as f64);
        assert_eq!(a.to_bits(), b.to_bits(), "exp sum, n = {n}");
        let a = lanes_of(&xs, |x| x);
        let b = lanes(n, |i| xs[i]);
        assert_eq!(a.to_bits(), b.to_bits(), "plain sum, n = {n}");
    }
    assert_eq!(lanes_of(&[] as &[f32], |x| x), 0.0);
}

#[test]
fn row_max_is_the_serial_max() {
    let serial = |r: &[f32]| r.iter().copied().fold(r[0], |m, v| if v > m { v } else { m });
    for (k, &n) in LENGTHS.iter().enumerate() {
        let mut xs = values(n, 100 + k as u64);
        assert_eq!(row_max(&xs), serial(&xs), "n = {n}");
        // NaNs are skipped as the serial fold skips them, unless the row starts with one
        if n > 3 {
            xs[n / 2] = f32::NAN;
            assert_eq!(row_max(&xs), serial(&xs), "interior NaN, n = {n}");
            xs[0] = f32::NAN;
            assert!(row_max(&xs).is_nan() && serial(&xs).is_nan(), "leading NaN, n = {n}");
        }
    }
}

/// The masked softmax with the serial running max it had before: same bits.
#[test]
fn masked_softmax_row_matches_the_serial_form() {
    fn serial(src: &[f32], mask: &[f32]) -> Vec<f32> {
        let mut max = f32::NEG_INFINITY;
        for (&s, &m) in src.iter().zip(mask) {
            if m > HIDDEN && s + m > max {
                max = s + m;
            }
        }
        let mut d: Vec<f32> =
            src.iter().zip(mask).map(|(&s, &m)| if m > HIDDEN { exp_f32(s + m - max) } else { 0.0 }).collect();
        let inv = 1.0 / lanes(d.len(), |i| d[i]);
        d.iter_mut().for_each(|v| *v *= inv);
        d
    }
    for (k, &n) in LENGTHS[..10].iter().enumerate() {
        let src = values(n, 200 + k as u64);
        // causal-style masks: the first `vis` keys visible, the rest at the model's -1e9
        for vis in [1, n / 3 + 1, n] {
            let mask: Vec<f32> = (0..n).map(|j| if j < vis { 0.0 } else { -1e9 }).collect();
            let mut dst = vec![0f32; n];
            masked_softmax_row(&src, &mask, &mut dst);
            let want = serial(&src, &mask);
            let same = dst.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "n = {n}, {vis} visible");
        }
    }
}
