//! Weight processing against TransformerLens (fixture: scripts/make_weight_processing_fixture.py
//! on the random checkpoint tests/fixtures/hf/bare), and the neuron/head views built on it.

mod common;
use common::*;

use std::collections::HashMap;

use candle_core::{Device, Tensor, D};
use gpt2lab::hooks::{HookPoint, HookSpec, Ln};
use gpt2lab::interp::*;
use gpt2lab::model::{Gpt2, LnTarget, NormMode};

const TOL: f32 = 2e-5;

fn tl() -> HashMap<String, Tensor> {
    let p = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/weight_processing/processed.safetensors");
    candle_core::safetensors::load(p, &Device::Cpu).expect("fixture")
}

fn setup() -> (Gpt2, ProcessedGpt2, HashMap<String, Tensor>) {
    let model = Gpt2::from_dir(fixture("bare")).unwrap();
    let p = model.processed().unwrap();
    (model, p, tl())
}

#[test]
fn processed_weights_match_transformer_lens() {
    let (_, p, tl) = setup();
    let (c, h, dh) = (p.model.cfg.n_embd, p.model.cfg.n_head, p.model.cfg.d_head());
    let close = |name: &str, got: &Tensor, want: &Tensor| {
        let d = max_abs_diff(got, want);
        assert!(d < TOL, "{name} differs from TransformerLens by {d}");
    };
    close("W_E", &p.model.wte, &tl["W_E"]);
    close("W_pos", &p.model.wpe, &tl["W_pos"]);
    close("W_U", &p.w_u, &tl["W_U"]);
    close("b_U", &p.b_u, &tl["b_U"]);
    for (l, b) in p.model.blocks.iter().enumerate() {
        for (k, name) in ["W_Q", "W_K", "W_V"].iter().enumerate() {
            // Conv1D (C, 3C) columns → (H, C, dh)
            let w = b
                .attn
                .c_attn_w
                .narrow(1, k * c, c)
                .unwrap()
                .reshape((c, h, dh))
                .unwrap()
                .transpose(0, 1)
                .unwrap();
            close(&format!("{name}[{l}]"), &w, &tl[*name].get(l).unwrap());
            let bias = b
                .attn
                .c_attn_b
                .narrow(0, k * c, c)
                .unwrap()
                .reshape((h, dh))
                .unwrap();
            close(
                &format!("b_{}[{l}]", &name[2..]),
                &bias,
                &tl[&format!("b_{}", &name[2..])].get(l).unwrap(),
            );
        }
        close(
            &format!("W_O[{l}]"),
            &b.attn.c_proj_w.reshape((h, dh, c)).unwrap(),
            &tl["W_O"].get(l).unwrap(),
        );
        close(
            &format!("b_O[{l}]"),
            &b.attn.c_proj_b,
            &tl["b_O"].get(l).unwrap(),
        );
        close(
            &format!("W_in[{l}]"),
            &b.mlp().unwrap().c_fc_w,
            &tl["W_in"].get(l).unwrap(),
        );
        close(
            &format!("b_in[{l}]"),
            &b.mlp().unwrap().c_fc_b,
            &tl["b_in"].get(l).unwrap(),
        );
        close(
            &format!("W_out[{l}]"),
            &b.mlp().unwrap().c_proj_w,
            &tl["W_out"].get(l).unwrap(),
        );
        close(
            &format!("b_out[{l}]"),
            &b.mlp().unwrap().c_proj_b,
            &tl["b_out"].get(l).unwrap(),
        );
    }
}

#[test]
fn processed_logits_are_the_originals_up_to_the_shift() {
    let (model, p, tl) = setup();
    let ids = ids_u32(&tl["input_ids"]);
    let raw = model.forward(&ids).unwrap();
    assert!(max_abs_diff(&raw, &tl["logits_raw"]) < 1e-4);
    let got = p.forward(&ids).unwrap();
    let d = max_abs_diff(&got, &tl["logits"]);
    assert!(
        d < 1e-4,
        "processed logits differ from TransformerLens' by {d}"
    );
    // center_unembed makes the shift exactly the row mean
    let shifted = raw
        .broadcast_sub(&raw.mean_keepdim(D::Minus1).unwrap())
        .unwrap();
    assert!(max_abs_diff(&got, &shifted) < 1e-4);
    assert!(max_abs_diff_up_to_shift(&got, &raw).unwrap() < 1e-4);
    // each step alone also keeps the function
    for opts in [
        ProcessOptions {
            fold_ln: true,
            center_writing_weights: false,
            center_unembed: false,
            fold_value_biases: false,
        },
        ProcessOptions {
            fold_ln: false,
            center_writing_weights: true,
            center_unembed: false,
            fold_value_biases: false,
        },
        ProcessOptions {
            fold_ln: false,
            center_writing_weights: false,
            center_unembed: true,
            fold_value_biases: false,
        },
        ProcessOptions {
            fold_ln: false,
            center_writing_weights: false,
            center_unembed: false,
            fold_value_biases: true,
        },
    ] {
        let q = process_weights(&model, opts).unwrap();
        let d = max_abs_diff_up_to_shift(&q.forward(&ids).unwrap(), &raw).unwrap();
        assert!(d < 1e-4, "{opts:?}: {d}");
    }
    // a wrong fold (γ forgotten) is caught by the same comparison
    let mut broken = p.clone();
    broken.model.blocks[0].ln_1.weight =
        (broken.model.blocks[0].ln_1.weight.clone() * 2.0).unwrap();
    assert!(max_abs_diff_up_to_shift(&broken.forward(&ids).unwrap(), &raw).unwrap() > 1e-3);
}

#[test]
fn components_sum_to_the_logits_in_the_processed_basis() {
    // centred writing weights → the residual has mean zero, so the final bare LayerNorm is
    // x / s and the logit is Σ DLA(components) + b_U exactly
    let (_, p, tl) = setup();
    let ids = ids_u32(&tl["input_ids"]);
    let run = p.run_with_cache(&ids).unwrap();
    let (b, t) = ids.dims2().unwrap();
    let pos = t - 1;
    let target: Vec<u32> = (0..b as u32).map(|i| 7 + i).collect();
    let logits: Vec<Vec<f32>> = run
        .logits
        .narrow(1, pos, 1)
        .unwrap()
        .squeeze(1)
        .unwrap()
        .to_vec2()
        .unwrap();
    let s: Vec<f32> = run
        .cache
        .get(HookPoint::LnScale(Ln::Final))
        .unwrap()
        .narrow(1, pos, 1)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let dir = |tok: u32| p.unembed_direction(tok).unwrap();
    let dot = |x: &Tensor, row: usize, tok: u32| -> f32 {
        (x.narrow(1, pos, 1)
            .unwrap()
            .get(row)
            .unwrap()
            .squeeze(0)
            .unwrap()
            * dir(tok))
        .unwrap()
        .sum_all()
        .unwrap()
        .to_scalar()
        .unwrap()
    };
    for row in 0..b {
        let tok = target[row];
        let mut total = p.b_u.get(tok as usize).unwrap().to_scalar::<f32>().unwrap();
        total += (dot(run.cache.get(HookPoint::Embed).unwrap(), row, tok)
            + dot(run.cache.get(HookPoint::PosEmbed).unwrap(), row, tok))
            / s[row];
        for l in 0..p.model.cfg.n_layer {
            let heads: f32 = head_dla(&p, &run.cache, l, pos, &target)
                .unwrap()
                .get(row)
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar()
                .unwrap();
            let b_o: f32 = (p.model.blocks[l].attn.c_proj_b.clone() * dir(tok))
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar()
                .unwrap();
            // the heads plus the output bias are the attention output
            let attn = dot(run.cache.get(HookPoint::AttnOut(l)).unwrap(), row, tok) / s[row];
            assert!(
                (heads + b_o / s[row] - attn).abs() < 1e-4,
                "layer {l}: heads {heads} + b_O vs attn_out {attn}"
            );
            let neurons: f32 = neuron_dla(&p, &run.cache, l, pos, &target)
                .unwrap()
                .get(row)
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar()
                .unwrap();
            let b_out: f32 = (p.model.blocks[l].mlp().unwrap().c_proj_b.clone() * dir(tok))
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar()
                .unwrap();
            let mlp = dot(run.cache.get(HookPoint::MlpOut(l)).unwrap(), row, tok) / s[row];
            assert!(
                (neurons + b_out / s[row] - mlp).abs() < 1e-4,
                "layer {l}: neurons vs mlp_out"
            );
            total += attn + mlp;
        }
        let want = logits[row][tok as usize];
        assert!(
            (total - want).abs() < 1e-3,
            "row {row}: Σ DLA + b_U = {total}, logit {want}"
        );
    }
}

#[test]
fn neuron_and_head_views() {
    let (_, p, _) = setup();
    // value vector unembedded = W_out[i] · W_U, top tokens sorted
    let v = neuron_value_vector(&p, 1, 5).unwrap();
    let logits = neuron_logits(&p, 1, 5).unwrap();
    let top = neuron_top_tokens(&p, 1, 5, 4).unwrap();
    let direct: f32 = (v.clone() * p.unembed_direction(top[0].0).unwrap())
        .unwrap()
        .sum_all()
        .unwrap()
        .to_scalar()
        .unwrap();
    assert!((direct - top[0].1).abs() < 1e-5);
    let max: f32 = logits.max(0).unwrap().to_scalar().unwrap();
    assert_eq!(top[0].1, max);
    assert!(top.windows(2).all(|w| w[0].1 >= w[1].1));
    // OV / QK circuits from the Conv1D slices
    let (q, k, _, o) = head_weights(&p, 0, 2).unwrap();
    assert_eq!(o.dims(), &[8, 32]);
    assert!(
        max_abs_diff(
            &qk_matrix(&p, 0, 2).unwrap(),
            &q.matmul(&k.t().unwrap()).unwrap()
        ) < 1e-6
    );
    let full = ov_circuit_tokens(&p, 0, 2, &[3, 9]).unwrap();
    let e = p.model.wte.get(9).unwrap().unsqueeze(0).unwrap();
    let want = e
        .matmul(&ov_matrix(&p, 0, 2).unwrap())
        .unwrap()
        .matmul(&p.w_u)
        .unwrap();
    assert!(max_abs_diff(&full.get(1).unwrap().unsqueeze(0).unwrap(), &want) < 1e-5);
    // the value-vector edit moves exactly W_U[from] and W_U[to]
    let (a, g) = (11u32, 12u32);
    let edited = edit_value_vectors(&p, 1, &[5, 6], a, 1.0, g, 8.0).unwrap();
    let after = neuron_logits(&edited, 1, 5).unwrap();
    let wua = p.unembed_direction(a).unwrap();
    let wug = p.unembed_direction(g).unwrap();
    let expect = (logits.clone()
        - wua
            .unsqueeze(0)
            .unwrap()
            .matmul(&p.w_u)
            .unwrap()
            .squeeze(0)
            .unwrap())
    .unwrap();
    let expect = (expect
        + (wug
            .unsqueeze(0)
            .unwrap()
            .matmul(&p.w_u)
            .unwrap()
            .squeeze(0)
            .unwrap()
            * 8.0)
            .unwrap())
    .unwrap();
    assert!(max_abs_diff(&after, &expect) < 1e-4);
    assert!(
        max_abs_diff(
            &neuron_logits(&edited, 1, 7).unwrap(),
            &neuron_logits(&p, 1, 7).unwrap()
        ) == 0.0,
        "other neurons untouched"
    );
    assert!(
        max_abs_diff(&neuron_logits(&p, 1, 5).unwrap(), &logits) == 0.0,
        "the original is a snapshot"
    );
    // bad indices are errors
    assert!(neuron_value_vector(&p, 2, 0).is_err());
    assert!(neuron_value_vector(&p, 0, 128).is_err());
    assert!(head_weights(&p, 0, 4).is_err());
    assert!(edit_value_vectors(&p, 0, &[0], 5000, 1.0, 1, 1.0).is_err());
    assert!(logit_diff(
        &Tensor::zeros((1, 2, 3), candle_core::DType::F32, &Device::Cpu).unwrap(),
        0,
        &[0],
        &[9]
    )
    .is_err());
}

#[test]
fn attention_swap_is_an_intervention() {
    let (_, p, tl) = setup();
    let ids = ids_u32(&tl["input_ids"]);
    let (b, t) = ids.dims2().unwrap();
    let clean = p
        .run(&ids, &HookSpec::new().capture("blocks.1.attn.hook_pattern"))
        .unwrap();
    let swaps = vec![(0usize, 3usize); b];
    let spec = HookSpec::new()
        .capture("blocks.1.attn.hook_pattern")
        .intervene(
            "blocks.1.attn.hook_pattern",
            swap_attention(vec![1, 3], t - 1, swaps),
        );
    let run = p.run(&ids, &spec).unwrap();
    let before: Vec<Vec<Vec<Vec<f32>>>> = clean
        .cache
        .get(HookPoint::Pattern(1))
        .unwrap()
        .to_vec4_helper();
    let after: Vec<Vec<Vec<Vec<f32>>>> = run
        .cache
        .get(HookPoint::Pattern(1))
        .unwrap()
        .to_vec4_helper();
    for r in 0..b {
        for h in 0..4 {
            for q in 0..t {
                let (x, y) = (&before[r][h][q], &after[r][h][q]);
                if q == t - 1 && (h == 1 || h == 3) {
                    assert_eq!((y[0], y[3]), (x[3], x[0]));
                    assert_eq!(&y[4..], &x[4..]);
                } else {
                    assert_eq!(x, y);
                }
            }
        }
    }
    // the swap changes the last position's logits only
    let d_last = max_abs_diff(
        &run.logits.narrow(1, t - 1, 1).unwrap(),
        &clean.logits.narrow(1, t - 1, 1).unwrap(),
    );
    assert!(d_last > 1e-6);
    assert!(
        max_abs_diff(
            &run.logits.narrow(1, 0, t - 1).unwrap(),
            &clean.logits.narrow(1, 0, t - 1).unwrap()
        ) < 1e-6
    );
    // out of range keys are a hook error, not a panic
    let bad = HookSpec::new().intervene(
        "blocks.1.attn.hook_pattern",
        swap_attention(vec![0], t - 1, vec![(0, 99); b]),
    );
    assert!(p.run(&ids, &bad).is_err());
}

#[test]
fn processing_needs_real_layernorms() {
    let mut model = Gpt2::from_dir(fixture("bare")).unwrap();
    model
        .set_norm_mode(LnTarget::Ln2(0), NormMode::Fake { sigma: 1.0 })
        .unwrap();
    let e = model.processed().unwrap_err().to_string();
    assert!(e.contains("blocks.0.ln2"), "{e}");
}

trait Vec4 {
    fn to_vec4_helper(&self) -> Vec<Vec<Vec<Vec<f32>>>>;
}
impl Vec4 for Tensor {
    fn to_vec4_helper(&self) -> Vec<Vec<Vec<Vec<f32>>>> {
        (0..self.dim(0).unwrap())
            .map(|i| self.get(i).unwrap().to_vec3().unwrap())
            .collect()
    }
}
