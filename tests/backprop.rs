//! The vendored candle-core's backward (vendor/README.md): a tensor read through several
//! narrows gets each slice's gradient written into one full-size gradient in place. Checked
//! against the gradient written out by hand, for slices that are disjoint, overlapping, along
//! different dims, mixed with a whole-tensor use and with a slice used through a transpose.
//! Values are small multiples of 1/4, so every sum is exact in f32 whatever its order, and the
//! comparison is bit for bit.

use candle_core::{Device, Tensor, Var};

/// A deterministic (rows, cols) pattern of multiples of 1/4 in [-1.25, 1.25].
fn pattern(rows: usize, cols: usize, seed: usize) -> Vec<f32> {
    (0..rows * cols).map(|i| (((i * 7 + seed * 3) % 11) as f32 - 5.0) * 0.25).collect()
}

#[test]
fn narrow_gradients_sum_into_one_full_size_gradient() {
    let dev = Device::Cpu;
    let (r, c) = (4usize, 9usize);
    let x = Var::from_vec(pattern(r, c, 0), (r, c), &dev).unwrap();
    // (dim, start, len, transposed use): disjoint thirds of the columns, an overlapping window,
    // a row slice, and a slice used through a transpose
    let uses = [(1, 0, 3, false), (1, 3, 3, false), (1, 6, 3, false), (1, 2, 4, false), (0, 1, 2, false), (1, 5, 2, true)];
    let mut want = pattern(r, c, 99); // the whole-tensor use's weights are its gradient
    let whole = Tensor::from_vec(want.clone(), (r, c), &dev).unwrap();
    let mut obj = (x.as_tensor() * &whole).unwrap().sum_all().unwrap();
    for (k, &(dim, start, len, transposed)) in uses.iter().enumerate() {
        let (sr, sc) = if dim == 0 { (len, c) } else { (r, len) };
        let w = pattern(sr, sc, k + 1);
        for i in 0..sr {
            for j in 0..sc {
                let (xi, xj) = if dim == 0 { (start + i, j) } else { (i, start + j) };
                want[xi * c + xj] += w[i * sc + j];
            }
        }
        let slice = x.as_tensor().narrow(dim, start, len).unwrap();
        let term = if transposed {
            let wt = Tensor::from_vec(w, (sr, sc), &dev).unwrap().t().unwrap().contiguous().unwrap();
            (slice.t().unwrap() * wt).unwrap()
        } else {
            (slice * Tensor::from_vec(w, (sr, sc), &dev).unwrap()).unwrap()
        };
        obj = (obj + term.sum_all().unwrap()).unwrap();
    }
    let grads = obj.backward().unwrap();
    let got: Vec<f32> = grads.get(x.as_tensor()).expect("x has a gradient").flatten_all().unwrap().to_vec1().unwrap();
    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&got), bits(&want), "got {got:?}\nwant {want:?}");
}

/// A narrow that is the tensor's only use: its gradient is zero outside the slice.
#[test]
fn a_lone_narrow_leaves_zeros_outside_its_slice() {
    let dev = Device::Cpu;
    let x = Var::from_vec(pattern(3, 5, 0), (3, 5), &dev).unwrap();
    let w = Tensor::from_vec(pattern(3, 2, 4), (3, 2), &dev).unwrap();
    let obj = (x.as_tensor().narrow(1, 2, 2).unwrap() * &w).unwrap().sum_all().unwrap();
    let g: Vec<Vec<f32>> = obj.backward().unwrap().get(x.as_tensor()).unwrap().to_vec2().unwrap();
    let w: Vec<Vec<f32>> = w.to_vec2().unwrap();
    for (gi, wi) in g.iter().zip(&w) {
        assert_eq!(gi, &vec![0.0, 0.0, wi[0], wi[1], 0.0]);
    }
}
