//! The vendored candle-core copies views whose last two dims are transposed in tiles
//! (vendor/README.md). Checked element by element against the view's definition (element
//! [.., i, j] is the source at offset + Σ index·stride), for plain and batched transposes, odd
//! sizes that leave partial tiles, an offset view (a narrow), permuted leading dims and a
//! broadcast leading dim; and the layouts the fast path leaves to the generic one.

use candle_core::{DType, Device, Tensor};

/// The view's elements in row-major order, from its layout alone.
fn by_definition(t: &Tensor) -> Vec<f32> {
    let (storage, layout) = t.storage_and_layout();
    let src: Vec<f32> = match &*storage {
        candle_core::Storage::Cpu(candle_core::CpuStorage::F32(v)) => v.clone(),
        _ => panic!("expected f32 CPU storage"),
    };
    let (dims, strides) = (layout.dims().to_vec(), layout.stride().to_vec());
    let n: usize = dims.iter().product();
    let mut out = Vec::with_capacity(n);
    let mut index = vec![0usize; dims.len()];
    for _ in 0..n {
        let off = layout.start_offset() + index.iter().zip(&strides).map(|(i, s)| i * s).sum::<usize>();
        out.push(src[off]);
        for k in (0..dims.len()).rev() {
            index[k] += 1;
            if index[k] < dims[k] {
                break;
            }
            index[k] = 0;
        }
    }
    out
}

fn ramp(shape: &[usize]) -> Tensor {
    let n: usize = shape.iter().product();
    Tensor::arange(0u32, n as u32, &Device::Cpu).unwrap().to_dtype(DType::F32).unwrap().reshape(shape).unwrap()
}

fn check(view: &Tensor, what: &str) {
    let want = by_definition(view);
    let got: Vec<f32> = view.contiguous().unwrap().flatten_all().unwrap().to_vec1().unwrap();
    assert_eq!(got, want, "{what}");
}

#[test]
fn transposed_views_copy_to_their_definition() {
    check(&ramp(&[70, 50]).t().unwrap(), "2-D transpose");
    check(&ramp(&[33, 97]).t().unwrap(), "2-D transpose, partial tiles both ways");
    check(&ramp(&[3, 40, 33]).transpose(1, 2).unwrap(), "batched transpose");
    check(&ramp(&[2, 3, 20, 17]).transpose(2, 3).unwrap(), "4-D, last two swapped");
    check(&ramp(&[2, 3, 20, 17]).transpose(2, 3).unwrap().transpose(0, 1).unwrap(), "permuted leading dims");
    check(&ramp(&[50, 64]).narrow(0, 7, 40).unwrap().narrow(1, 3, 50).unwrap().t().unwrap(), "offset view");
    check(&ramp(&[1, 40, 24]).broadcast_as((3, 40, 24)).unwrap().transpose(1, 2).unwrap(), "broadcast leading dim");
    // left to the generic path: small planes, unit column stride, a broadcast last dim
    check(&ramp(&[8, 9]).t().unwrap(), "small transpose");
    check(&ramp(&[4, 30, 20]).transpose(0, 1).unwrap(), "leading-dim swap");
    check(&ramp(&[40, 1]).broadcast_as((40, 32)).unwrap(), "broadcast columns");
}
