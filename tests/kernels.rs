//! The fused kernels (GELU, softmax, LayerNorm) against the composite reference ops:
//! same values, same gradients (f64), and finite differences.

mod common;
use common::max_abs_diff;

use candle_core::{DType, Device, Tensor, Var};
use gpt2lab::model::{kernels, ops::reference};

fn rand(shape: &[usize], seed: u64) -> Tensor {
    let n: usize = shape.iter().product();
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let v: Vec<f64> = (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 6.0 - 3.0
        })
        .collect();
    Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
}

/// Gradient of sum(f(x) * r) w.r.t. each input, for fused and reference versions.
fn grads(inputs: &[Tensor], f: impl Fn(&[Tensor]) -> Tensor) -> Vec<Tensor> {
    let vars: Vec<Var> = inputs.iter().map(|t| Var::from_tensor(t).unwrap()).collect();
    let ts: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
    let y = f(&ts);
    let r = rand(y.dims(), 99);
    let g = (y * r).unwrap().sum_all().unwrap().backward().unwrap();
    vars.iter().map(|v| g.get(v.as_tensor()).unwrap().clone()).collect()
}

#[test]
fn gelu_matches_reference_value_and_gradient() {
    let x = rand(&[4, 7, 33], 1);
    for dt in [DType::F32, DType::F64] {
        let xd = x.to_dtype(dt).unwrap();
        let a = kernels::gelu_new(&xd).unwrap().unwrap();
        assert!(max_abs_diff(&a, &reference::gelu_new(&xd).unwrap()) < 1e-6, "{dt:?}");
    }
    // candle's own gelu backward rounds its constants to 6 digits: agree to ~1e-5 with it,
    // and to finite-difference precision with the exact derivative
    let ga = grads(&[x.clone()], |t| kernels::gelu_new(&t[0]).unwrap().unwrap());
    let gb = grads(&[x.clone()], |t| reference::gelu_new(&t[0]).unwrap());
    assert!(max_abs_diff(&ga[0], &gb[0]) < 1e-5);
    let r = rand(x.dims(), 99);
    let f = |x: &Tensor| (kernels::gelu_new(x).unwrap().unwrap() * &r).unwrap().sum_all().unwrap().to_scalar::<f64>().unwrap();
    let gx: Vec<f64> = ga[0].flatten_all().unwrap().to_vec1().unwrap();
    let xv: Vec<f64> = x.flatten_all().unwrap().to_vec1().unwrap();
    for i in [0, 100, 500, 923] {
        let h = 1e-6;
        let mut p = xv.clone();
        p[i] += h;
        let up = f(&Tensor::from_vec(p.clone(), x.dims(), &Device::Cpu).unwrap());
        p[i] -= 2.0 * h;
        let down = f(&Tensor::from_vec(p, x.dims(), &Device::Cpu).unwrap());
        assert!(((up - down) / (2.0 * h) - gx[i]).abs() < 1e-7, "x[{i}]");
    }
}

#[test]
fn softmax_matches_reference_value_and_gradient() {
    let x = rand(&[3, 5, 17], 2);
    let a = kernels::softmax_last(&x).unwrap().unwrap();
    assert!(max_abs_diff(&a, &reference::softmax_last(&x).unwrap()) < 1e-12);
    let ga = grads(&[x.clone()], |t| kernels::softmax_last(&t[0]).unwrap().unwrap());
    let gb = grads(&[x.clone()], |t| reference::softmax_last(&t[0]).unwrap());
    assert!(max_abs_diff(&ga[0], &gb[0]) < 1e-12);
    // masked rows (large negative entries) stay finite
    let m = Tensor::new(&[[-1e9f32, -1e9, -1e9], [0.0, -1e9, 1.0]], &Device::Cpu).unwrap();
    let y: Vec<Vec<f32>> = kernels::softmax_last(&m).unwrap().unwrap().to_vec2().unwrap();
    assert!(y.iter().flatten().all(|v| v.is_finite()));
}

#[test]
fn layer_norm_matches_reference_value_and_gradients() {
    let (x, w, b) = (rand(&[2, 6, 24], 3), rand(&[24], 4), rand(&[24], 5));
    for eps in [1e-5, 1e-3] {
        let a = kernels::layer_norm(&x, &w, &b, eps).unwrap().unwrap();
        assert!(max_abs_diff(&a, &reference::layer_norm(&x, &w, &b, eps).unwrap()) < 1e-12);
        let ga = grads(&[x.clone(), w.clone(), b.clone()], |t| kernels::layer_norm(&t[0], &t[1], &t[2], eps).unwrap().unwrap());
        let gb = grads(&[x.clone(), w.clone(), b.clone()], |t| reference::layer_norm(&t[0], &t[1], &t[2], eps).unwrap());
        for (i, (p, q)) in ga.iter().zip(&gb).enumerate() {
            assert!(max_abs_diff(p, q) < 1e-10, "input {i}");
        }
    }
}

#[test]
fn layer_norm_gradient_matches_finite_differences() {
    let (x, w, b) = (rand(&[3, 10], 6), rand(&[10], 7), rand(&[10], 8));
    let r = rand(&[3, 10], 99);
    let f = |x: &Tensor| (kernels::layer_norm(x, &w, &b, 1e-5).unwrap().unwrap() * &r).unwrap().sum_all().unwrap().to_scalar::<f64>().unwrap();
    let g = grads(&[x.clone(), w.clone(), b.clone()], |t| kernels::layer_norm(&t[0], &t[1], &t[2], 1e-5).unwrap().unwrap());
    let gx: Vec<f64> = g[0].flatten_all().unwrap().to_vec1().unwrap();
    let xv: Vec<f64> = x.flatten_all().unwrap().to_vec1().unwrap();
    for i in [0, 7, 15, 29] {
        let mut p = xv.clone();
        let h = 1e-6;
        p[i] += h;
        let up = f(&Tensor::from_vec(p.clone(), (3, 10), &Device::Cpu).unwrap());
        p[i] -= 2.0 * h;
        let down = f(&Tensor::from_vec(p, (3, 10), &Device::Cpu).unwrap());
        let num = (up - down) / (2.0 * h);
        assert!((num - gx[i]).abs() < 1e-6, "x[{i}]: {num} vs {}", gx[i]);
    }
}

#[test]
fn cross_entropy_matches_reference_value_and_gradient() {
    use gpt2lab::model::xent;
    let x = rand(&[9, 13], 10);
    let t = Tensor::new(&[0u32, 12, 5, 5, 7, 1, 0, 11, 3], &Device::Cpu).unwrap();
    let a = xent::cross_entropy(&x, &t).unwrap().unwrap();
    let b = reference::cross_entropy(&x, &t).unwrap();
    assert!(max_abs_diff(&a, &b) < 1e-12, "{a} vs {b}");
    // scaled upstream gradient (as under gradient accumulation: loss / n)
    let ga = grads(&[x.clone()], |v| (xent::cross_entropy(&v[0], &t).unwrap().unwrap() * 0.37).unwrap());
    let gb = grads(&[x.clone()], |v| (reference::cross_entropy(&v[0], &t).unwrap() * 0.37).unwrap());
    assert!(max_abs_diff(&ga[0], &gb[0]) < 1e-12);
    // f32 agrees with f64; large logits stay finite
    let x32 = (x.to_dtype(DType::F32).unwrap() * 40.0).unwrap();
    let a32 = xent::cross_entropy(&x32, &t).unwrap().unwrap().to_dtype(DType::F64).unwrap();
    let b64 = reference::cross_entropy(&(&x * 40.0).unwrap(), &t).unwrap();
    assert!(max_abs_diff(&a32, &b64) < 1e-4, "{a32} vs {b64}");
    // an out-of-range target is an error naming it, not a panic
    let bad = Tensor::new(&[0u32, 13, 5, 5, 7, 1, 0, 11, 3], &Device::Cpu).unwrap();
    let e = xent::cross_entropy(&x, &bad).unwrap_err().to_string();
    assert!(e.contains("target 13 at row 1"), "{e}");
}

#[test]
fn masked_softmax_matches_composite_value_and_gradient() {
    // causal mask over (B=2, H=3, T=5, Tk=7) with 2 cached keys, plus a padding query
    let (b, h, t, tk) = (2, 3, 5, 7);
    let mut m = vec![0f32; b * t * tk];
    for bi in 0..b {
        for q in 0..t {
            for k in 0..tk {
                let hidden = k > q + 2 || (bi == 1 && (k == 0 || q == 0));
                if hidden {
                    m[(bi * t + q) * tk + k] = gpt2lab::model::gpt2::MASK_VALUE;
                }
            }
        }
    }
    let mask = Tensor::from_vec(m, (b, 1, t, tk), &Device::Cpu).unwrap();
    let s = (rand(&[b, h, t, tk], 11).to_dtype(DType::F32).unwrap() * 3.0).unwrap();
    let fused = kernels::masked_softmax_last(&s, &mask).unwrap().unwrap();
    let comp = reference::softmax_last(&s.broadcast_add(&mask).unwrap()).unwrap();
    assert!(max_abs_diff(&fused.to_dtype(DType::F64).unwrap(), &comp.to_dtype(DType::F64).unwrap()) < 1e-6);
    let g = |f: &dyn Fn(&Tensor) -> Tensor| {
        let v = Var::from_tensor(&s).unwrap();
        let y = f(v.as_tensor());
        let r = rand(y.dims(), 98).to_dtype(DType::F32).unwrap();
        let gs = (y * r).unwrap().sum_all().unwrap().backward().unwrap();
        gs.get(v.as_tensor()).unwrap().to_dtype(DType::F64).unwrap()
    };
    let ga = g(&|x| kernels::masked_softmax_last(x, &mask).unwrap().unwrap());
    let gb = g(&|x| reference::softmax_last(&x.broadcast_add(&mask).unwrap()).unwrap());
    assert!(max_abs_diff(&ga, &gb) < 1e-6);
}

/// Above ~32k elements the kernels split rows over the current rayon pool; a 3-thread pool
/// makes uneven blocks. Same values and gradients as the composite ops.
#[test]
fn kernels_split_over_threads_agree_with_reference() {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
    pool.install(|| {
        let (x, w, b) = (rand(&[101, 3, 129], 20), rand(&[129], 21), rand(&[129], 22));
        let y = kernels::layer_norm(&x, &w, &b, 1e-5).unwrap().unwrap();
        assert!(max_abs_diff(&y, &reference::layer_norm(&x, &w, &b, 1e-5).unwrap()) < 1e-12);
        let ga = grads(&[x.clone(), w.clone(), b.clone()], |t| kernels::layer_norm(&t[0], &t[1], &t[2], 1e-5).unwrap().unwrap());
        let gb = grads(&[x.clone(), w.clone(), b.clone()], |t| reference::layer_norm(&t[0], &t[1], &t[2], 1e-5).unwrap());
        for (i, (p, q)) in ga.iter().zip(&gb).enumerate() {
            assert!(max_abs_diff(p, q) < 1e-10, "layer norm input {i}");
        }
        let ga = grads(&[x.clone()], |t| kernels::gelu_new(&t[0]).unwrap().unwrap());
        let gb = grads(&[x.clone()], |t| reference::gelu_new(&t[0]).unwrap());
        assert!(max_abs_diff(&kernels::gelu_new(&x).unwrap().unwrap(), &reference::gelu_new(&x).unwrap()) < 1e-6);
        assert!(max_abs_diff(&ga[0], &gb[0]) < 1e-5);
        let ga = grads(&[x.clone()], |t| kernels::softmax_last(&t[0]).unwrap().unwrap());
        let gb = grads(&[x.clone()], |t| reference::softmax_last(&t[0]).unwrap());
        assert!(max_abs_diff(&ga[0], &gb[0]) < 1e-12);
        let ga = grads(&[x.clone(), w.clone()], |t| kernels::bias_add(&t[0], &t[1]).unwrap().unwrap());
        let gb = grads(&[x.clone(), w.clone()], |t| t[0].broadcast_add(&t[1]).unwrap());
        assert!(max_abs_diff(&ga[1], &gb[1]) < 1e-10);
        let logits = x.reshape((303, 129)).unwrap();
        let t = Tensor::from_vec((0..303u32).map(|i| i * 7 % 129).collect::<Vec<_>>(), 303, &Device::Cpu).unwrap();
        let ga = grads(&[logits.clone()], |v| gpt2lab::model::xent::cross_entropy(&v[0], &t).unwrap().unwrap());
        let gb = grads(&[logits.clone()], |v| reference::cross_entropy(&v[0], &t).unwrap());
        assert!(max_abs_diff(&ga[0], &gb[0]) < 1e-12);
    });
}

#[test]
fn fast_exp_is_within_two_ulp() {
    let mut worst = 0f64;
    let mut x = -87.29f32;
    while x < 88.3 {
        let want = (x as f64).exp();
        let got = kernels::exp_f32(x) as f64;
        worst = worst.max(((got - want) / want).abs());
        x += 0.00731;
    }
    assert!(worst < 2.5e-7, "worst relative error {worst:e}");
    assert_eq!(kernels::exp_f32(-1e9), 0.0);
    assert_eq!(kernels::exp_f32(-100.0), 0.0);
    assert!(kernels::exp_f32(1e9).is_finite());
    assert_eq!(kernels::exp_f32(0.0), 1.0);
}

#[test]
fn small_m_matmul_matches_matmul_in_both_layouts() {
    use gpt2lab::model::gemv::small_m_matmul;
    for (m, k, n) in [(1, 96, 1000), (3, 64, 70), (4, 200, 513), (1, 768, 2304)] {
        let x = rand(&[m, k], 30).to_dtype(DType::F32).unwrap();
        let w = rand(&[k, n], 31).to_dtype(DType::F32).unwrap();
        let want = x.matmul(&w).unwrap();
        // f32 sums of k products in another order: tolerance relative to the largest entry
        let tol = 1e-6 * want.abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap() * (k as f32).sqrt();
        let got = small_m_matmul(&x, &w).unwrap().expect("row-major weight applies");
        assert!(max_abs_diff(&got.to_dtype(DType::F64).unwrap(), &want.to_dtype(DType::F64).unwrap()) < tol, "({m},{k},{n}) row-major");
        // transposed view of a row-major (n, k) matrix: the tied unembedding's layout
        let t = w.t().unwrap().contiguous().unwrap();
        let got = small_m_matmul(&x, &t.t().unwrap()).unwrap().expect("transposed weight applies");
        assert!(max_abs_diff(&got.to_dtype(DType::F64).unwrap(), &want.to_dtype(DType::F64).unwrap()) < tol, "({m},{k},{n}) transposed");
    }
    // not for many rows, nor when a gradient is tracked
    let x = rand(&[5, 8], 32).to_dtype(DType::F32).unwrap();
    let w = rand(&[8, 4], 33).to_dtype(DType::F32).unwrap();
    assert!(small_m_matmul(&x, &w).unwrap().is_none());
    let v = Var::from_tensor(&w).unwrap();
    assert!(small_m_matmul(&x.narrow(0, 0, 1).unwrap(), v.as_tensor()).unwrap().is_none());
}

#[test]
fn decode_attention_matches_the_composite_form() {
    use gpt2lab::model::gemv::decode_attention;
    for (b, h, tk, dh) in [(1, 2, 1, 8), (2, 3, 17, 16), (1, 12, 300, 64)] {
        let q = rand(&[b, h, 1, dh], 40).to_dtype(DType::F32).unwrap();
        let k = rand(&[b, h, tk, dh], 41).to_dtype(DType::F32).unwrap();
        let v = rand(&[b, h, tk, dh], 42).to_dtype(DType::F32).unwrap();
        let want = reference::softmax_last(&q.matmul(&k.t().unwrap()).unwrap()).unwrap().matmul(&v).unwrap();
        let got = decode_attention(&q, &k, &v).unwrap().unwrap();
        let d = max_abs_diff(&got.to_dtype(DType::F64).unwrap(), &want.to_dtype(DType::F64).unwrap());
        assert!(d < 1e-5, "({b},{h},{tk},{dh}): {d}");
    }
}
