//! Tests of the notebook display layer (`gpt2lab::display`): HTML escaping, truncation, chart
//! structure, shape errors, the evcxr framing, panel composition, progress output.

use std::io::Write;
use std::sync::{Arc, Mutex};

use candle_core::{Device, Tensor};
use gpt2lab::display::*;

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

const TRICKY: [&str; 6] = ["<b>", "a&b", " x", "\n", "\"q\"", "it's"];

#[test]
fn top_k_table_escapes_tricky_tokens() {
    let t = Table::top_k(&TRICKY, &[0.3, 0.2, 0.2, 0.1, 0.1, 0.1]).unwrap();
    let html = t.to_html();
    for expected in ["&lt;b&gt;", "a&amp;b", "·x", "↵", "&quot;q&quot;", "it&#39;s"] {
        assert!(html.contains(&format!(">{expected}</td>")), "missing cell {expected:?} in {html}");
    }
    assert!(!html.contains("<b>"), "raw <b> leaked into the HTML");
    assert!(!html.contains("a&b"));
    // plain text shows the visible forms, one row per token
    let text = t.to_string();
    assert!(text.contains("<b>") && text.contains("·x") && text.contains("↵"));
    assert_eq!(text.lines().count(), 2 + TRICKY.len() + 1, "header, rule, one line per token, shape:\n{text}");
}

#[test]
fn token_view_escapes_text_and_hover() {
    let v = TokenView::new(&TRICKY, &[1.0, -1.0, 0.5, 0.0, 2.0, -2.0]).unwrap().value_name("a<b");
    let html = v.to_html();
    assert!(!html.contains("<b>"));
    assert!(html.contains(">&lt;b&gt;</span>"));
    assert!(html.contains(">a&amp;b</span>"));
    assert!(html.contains("> x</span>"), "a leading space is kept as a space in the text");
    assert!(html.contains("title=\"[2] ·x\na&lt;b: 0.5\""), "{html}");
    assert!(html.contains(">↵</span>\n"), "a newline token shows ↵ and breaks the line");
    assert!(html.contains("title=\"[4] &quot;q&quot;"));
    assert_eq!(html.matches("<span title=").count(), TRICKY.len());
}

#[test]
fn token_view_rejects_length_mismatch() {
    let err = TokenView::new(&["a", "b", "c"], &[1.0, 2.0]).unwrap_err();
    assert!(matches!(err, gpt2lab::Error::Shape(_)), "{err:?}");
    assert!(err.to_string().contains("3 tokens but 2 values"));
}

fn big_table() -> Table {
    let idx: Vec<i64> = (0..1000).collect();
    let names: Vec<String> = (0..1000).map(|i| format!("r{i}")).collect();
    Table::from_columns(vec![("i", Col::from(idx)), ("name", Col::from(names))]).unwrap()
}

#[test]
fn big_table_is_truncated_with_head_tail_and_count() {
    let t = big_table();
    let html = t.to_html();
    for shown in ["r0", "r9", "r990", "r999"] {
        assert!(html.contains(&format!("<td>{shown}</td>")), "{shown} should be shown");
    }
    for hidden in ["r10", "r500", "r989"] {
        assert!(!html.contains(&format!("<td>{hidden}</td>")), "{hidden} should be hidden");
    }
    assert!(html.contains("… 980 more rows …"));
    assert!(html.contains("1000 rows × 2 columns"));
    assert_eq!(html.matches("<tr>").count(), 1 + 20, "header + 20 data rows");

    let text = t.to_string();
    assert!(text.contains("… 980 more rows …") && text.contains("r999") && !text.contains("r500"));
    assert!(text.ends_with("1000 rows × 2 columns"));

    let t = t.max_rows(4);
    assert!(t.to_html().contains("… 996 more rows …"));
}

#[test]
fn table_formats_numbers_and_dtypes() {
    let t = Table::from_columns(vec![
        ("p", Col::from(vec![0.123456f32, 1e-7, 12345.678])),
        ("n", Col::from(vec![1usize, 2, 3])),
    ])
    .unwrap()
    .dtypes(true)
    .title("Numbers");
    let html = t.to_html();
    assert!(html.contains(">0.1235</td>"), "{html}");
    assert!(html.contains(">1e-7</td>"));
    assert!(html.contains(">12346</td>"));
    assert!(html.contains("<caption>Numbers</caption>"));
    assert!(html.contains("<td>f32</td>") && html.contains("<td>u64</td>"), "dtype row: {html}");
    let t3 = t.sig_digits(2);
    assert!(t3.to_html().contains(">0.12</td>"));
}

#[test]
fn per_layer_and_from_rows() {
    let t = Table::per_layer("loss", &[3.0, 2.5]);
    assert_eq!(t.dataframe().shape(), (2, 2));
    assert!(t.to_html().contains("linear-gradient"), "per-layer values get bars");
    let r = Table::from_rows(&["a", "b"], vec![strings(&["x", "1"]), strings(&["y", "2.5"])]).unwrap();
    assert!(r.to_html().contains("<td class=\"n\">2.5</td>"));
    assert!(Table::from_rows(&["a", "b"], vec![strings(&["x"])]).is_err());
    assert!(Table::top_k(&["a"], &[0.1, 0.2]).is_err());
    assert!(Table::top_k_logits(&["a"], &[0.1], &[]).is_err());
}

#[test]
fn line_chart_has_one_path_per_series_and_a_legend() {
    let c = Chart::lines("Loss curves")
        .series("train", &[(0.0, 3.0), (1.0, 2.0), (2.0, 1.5)])
        .series("validation", &[(0.0, 3.2), (1.0, 2.4), (2.0, 2.2)])
        .series_y("ablated", &[3.5, 3.4, 3.3])
        .x_label("step")
        .y_label("loss");
    let svg = c.to_svg();
    assert!(svg.starts_with("<svg") || svg.starts_with("<?xml"));
    // axis ticks are black polylines; each series is exactly one polyline in its palette colour
    let series_lines = |svg: &str, i: usize| {
        let (r, g, b) = PALETTE[i];
        svg.matches(&format!("<polyline fill=\"none\" opacity=\"1\" stroke=\"#{r:02X}{g:02X}{b:02X}\"")).count()
    };
    for i in 0..3 {
        assert_eq!(series_lines(&svg, i), 1, "series {i}");
    }
    assert_eq!(series_lines(&svg, 3), 0);
    for name in ["train", "validation", "ablated", "Loss curves", "step", "loss"] {
        assert!(svg.contains(&format!(">{name}<")) || svg.contains(&format!(">\n{name}\n<")), "missing text {name}");
    }
    assert!(!svg.contains("chart error"));
    // log scale renders too, skipping non-positive points
    let svg = c.clone().log_y().series("zeros", &[(0.0, 0.0), (1.0, 1.0)]).to_svg();
    assert!(!svg.contains("chart error") && series_lines(&svg, 3) == 1);
}

#[test]
fn scatter_and_bars_render() {
    let s = Chart::scatter("pts").series("a", &[(0.0, 1.0), (1.0, 2.0), (2.0, 0.5)]).to_svg();
    assert!(s.matches("<circle").count() >= 3);
    let b = Chart::bars(&["head 0", "head 1", "head 2"], &[0.5, -0.25, 1.0], Some(&[0.1, 0.05, 0.2])).unwrap().title("bars");
    let svg = b.to_svg();
    assert!(!svg.contains("chart error"), "{svg}");
    for l in ["head 0", "head 1", "head 2", "bars"] {
        assert!(svg.contains(l), "missing label {l}");
    }
    assert!(b.to_string().contains("head 1  -0.25 ± 0.05"), "{b}");
    assert!(Chart::bars(&["a", "b"], &[1.0, 2.0], Some(&[0.1])).is_err());
}

#[test]
fn heatmap_has_rows_times_cols_cells_and_a_color_bar() {
    let m: Vec<Vec<f32>> = (0..5).map(|i| (0..7).map(|j| (i * 7 + j) as f32 - 10.0).collect()).collect();
    let rows: Vec<String> = (0..5).map(|i| format!("L{i}")).collect();
    let cols: Vec<String> = (0..7).map(|j| format!("H{j}")).collect();
    let c = Chart::heatmap(m, &rows, &cols).unwrap().title("layer × head");
    let svg = c.to_svg();
    assert_eq!(svg.matches("class=\"cell\"").count(), 35);
    assert!(svg.contains("<linearGradient"), "colour bar");
    assert!(svg.contains("<title>L2, H3: 7.0</title>"), "hover text");
    for l in rows.iter().chain(&cols) {
        assert!(svg.contains(&format!(">{l}</text>")), "label {l}");
    }
    // signed data -> diverging scale: value 0 is white-ish #f7f7f7
    assert!(svg.contains("fill=\"#f7f7f7\""));

    let t = Tensor::arange(0f32, 12., &Device::Cpu).unwrap().reshape((3, 4)).unwrap();
    let c = Chart::from_tensor_heatmap(&t, &[], &[]).unwrap();
    assert_eq!(c.to_svg().matches("class=\"cell\"").count(), 12);
    let t3 = t.reshape((1, 3, 4)).unwrap();
    assert!(matches!(Chart::from_tensor_heatmap(&t3, &[], &[]), Err(gpt2lab::Error::Shape(_))));
}

fn causal_pattern(heads: usize, n: usize) -> Tensor {
    let mut v = Vec::new();
    for h in 0..heads {
        for q in 0..n {
            for k in 0..n {
                v.push(if k <= q { (1.0 + h as f32 + k as f32) / ((q + 1) as f32 * (1.0 + h as f32) + (q * (q + 1) / 2) as f32) } else { 0.0 });
            }
        }
    }
    Tensor::from_vec(v, (heads, n, n), &Device::Cpu).unwrap()
}

#[test]
fn attention_view_checks_shapes() {
    let toks = strings(&["<|endoftext|>", "When", " Mary", " and", "\n"]);
    let p = causal_pattern(3, 5);
    // wrong rank
    let flat = p.flatten_all().unwrap();
    assert!(matches!(AttentionView::new(&flat, &toks), Err(gpt2lab::Error::Shape(_))));
    // batch of 2
    let b2 = Tensor::stack(&[&p, &p], 0).unwrap();
    assert!(matches!(AttentionView::new(&b2, &toks), Err(gpt2lab::Error::Shape(_))));
    // token count mismatch
    let err = AttentionView::new(&p, &toks[..4]).unwrap_err();
    assert!(err.to_string().contains("5 keys but 4 tokens"), "{err}");
    // accepted shapes: [h,q,k], [q,k], [1,h,q,k], and q < k
    assert_eq!(AttentionView::new(&p, &toks).unwrap().n_heads(), 3);
    assert_eq!(AttentionView::new(&p.get(1).unwrap(), &toks).unwrap().n_heads(), 1);
    assert_eq!(AttentionView::new(&p.unsqueeze(0).unwrap(), &toks).unwrap().n_heads(), 3);
    let last2 = p.narrow(1, 3, 2).unwrap();
    let v = AttentionView::new(&last2, &toks).unwrap();
    assert!(v.to_html().contains("[4] ↵ → [0] &lt;|endoftext|&gt;"), "queries are the last tokens");
}

#[test]
fn attention_view_html_has_tokens_heads_and_hover_text() {
    let toks = strings(&["<|endoftext|>", "When", " Mary", " & ", "\n"]);
    let p = causal_pattern(3, 5);
    let v = AttentionView::new(&p, &toks).unwrap().title("L5 attention");
    let html = v.to_html();
    for t in &toks {
        let label = escape_html(&visible_token(t));
        assert!(html.contains(&format!(">{label}</text>")), "missing token label {label}");
    }
    assert!(!html.contains("<|endoftext|>"));
    // causal: only k <= q cells are drawn, each with a tooltip, in each head
    assert_eq!(html.matches("<title>").count(), 3 * 15);
    assert!(html.contains("<title>H0 [2] ·Mary → [1] When: "), "hover text format");
    // head selector: one radio + label per head, first checked, no script
    assert_eq!(html.matches("type=\"radio\"").count(), 3);
    assert_eq!(html.matches(" checked>").count(), 1);
    assert!(html.contains(">H2</label>"));
    assert!(!html.contains("<script"));
    // small multiples: every head titled, no selector
    let grid = v.clone().small_multiples().head_labels(&["a", "b", "c"]).to_html();
    assert!(!grid.contains("type=\"radio\"") && grid.contains(">c</text>"));
    // plain text summary
    assert!(v.to_string().starts_with("attention \"L5 attention\": 3 heads × 5 queries × 5 keys"));
}

#[test]
fn evcxr_framing_is_exact() {
    let mut out = Vec::new();
    write_mime_bundle(&mut out, &[("text/html", "<p>a</p>\n<p>b</p>")]).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "EVCXR_BEGIN_CONTENT text/html\n<p>a</p>\n<p>b</p>\nEVCXR_END_CONTENT\n"
    );

    let t = Table::per_layer("x", &[1.0, 2.0]);
    let mut out = Vec::new();
    write_display(&mut out, &t).unwrap();
    let s = String::from_utf8(out).unwrap();
    let expected = format!(
        "EVCXR_BEGIN_CONTENT text/plain\n{}\nEVCXR_END_CONTENT\nEVCXR_BEGIN_CONTENT text/html\n{}\nEVCXR_END_CONTENT\n",
        t,
        t.to_html()
    );
    assert_eq!(s, expected);
    assert_eq!(s.matches("EVCXR_BEGIN_CONTENT").count(), 2);
}

#[test]
fn panel_contains_all_parts_in_order() {
    let toks = strings(&["The", " cat"]);
    let p = Panel::new()
        .title("Report")
        .heading("First heading")
        .add(Table::top_k(&toks, &[0.6, 0.4]).unwrap().title("TOPK"))
        .text("Some **bold** remark")
        .add(Chart::lines("CHART").series_y("s", &[1.0, 2.0]))
        .add(TokenView::new(&toks, &[0.1, 0.9]).unwrap().title("TOKENS"))
        .add(AttentionView::new(&causal_pattern(1, 2), &toks).unwrap().title("ATTN"))
        .add(Html::new("<i>RAW</i>"))
        .grid(2);
    assert_eq!(p.len(), 7);
    let html = p.to_html();
    let order = ["Report", "First heading", "TOPK", "<b>bold</b>", "CHART", "TOKENS", "ATTN", "<i>RAW</i>"];
    let pos: Vec<usize> = order.iter().map(|s| html.find(s).unwrap_or_else(|| panic!("missing {s}"))).collect();
    assert!(pos.windows(2).all(|w| w[0] < w[1]), "out of order: {pos:?}");
    assert!(html.contains("grid-template-columns:repeat(2,minmax(0,1fr))"));
    let text = p.to_string();
    let tpos: Vec<usize> = ["Report", "First heading", "TOPK", "Some **bold** remark", "CHART", "TOKENS", "ATTN", "RAW"]
        .iter()
        .map(|s| text.find(s).unwrap_or_else(|| panic!("missing {s} in text")))
        .collect();
    assert!(tpos.windows(2).all(|w| w[0] < w[1]));
}

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn progress_in_notebook_mode_prints_every_ten_percent() {
    let buf = Shared::default();
    let mut p = Progress::new(200).label("eval").mode(ProgressMode::Notebook).to_writer(buf.clone());
    for _ in 0..200 {
        p.inc(1);
    }
    p.finish();
    drop(p);
    let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 10, "9 progress lines + done: {out}");
    assert!(!out.contains('\r'));
    assert!(lines[0].starts_with("eval  [##") && lines[0].contains(" 10% 20/200"));
    assert!(lines[9].contains("100% 200/200") && lines[9].ends_with("done"));

    let buf = Shared::default();
    let mut p = Progress::new(10).mode(ProgressMode::Terminal).to_writer(buf.clone());
    p.inc(5);
    p.finish();
    let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(out.starts_with('\r') && out.ends_with('\n') && out.contains(" 50% 5/10"), "{out:?}");
}

/// Renders one example of each display type (and a page combining them) to
/// `/tmp/display_examples/` for looking at in a browser:
/// `cargo test --test display -- --ignored render_examples`.
#[test]
#[ignore]
fn render_examples() {
    let dir = std::path::Path::new("/tmp/display_examples");
    std::fs::create_dir_all(dir).unwrap();
    let toks = strings(&["<|endoftext|>", "When", " Mary", " and", " John", " went", " to", " the", " store", ",", " John", " gave", " a", " drink", " to"]);

    let top = Table::top_k_logits(
        &[" Mary", " them", " the", " John", " her", "\n", " <"],
        &[0.6114, 0.0871, 0.0532, 0.0311, 0.0207, 0.0012, 0.00004],
        &[18.21, 16.26, 15.77, 15.23, 14.82, 11.99, 8.4],
    )
    .unwrap()
    .title("Next token after \"… gave a drink to\"");
    let big = big_table().dtypes(true).title("1000-row frame");
    let loss = Chart::lines("Training loss")
        .series("train", &(0..200).map(|i| (i as f64, 4.0 * (-(i as f64) / 60.0).exp() + 1.2 + 0.08 * ((i as f64) * 0.7).sin())).collect::<Vec<_>>())
        .series("val", &(0..20).map(|i| (i as f64 * 10.0, 4.1 * (-(i as f64) * 10.0 / 60.0).exp() + 1.35)).collect::<Vec<_>>())
        .x_label("step")
        .y_label("loss")
        .log_y();
    let scatter = Chart::scatter("Head norm vs effect")
        .series("layer 9", &(0..12).map(|h| (h as f64 * 0.3, ((h * 7) % 5) as f64 * 0.2)).collect::<Vec<_>>())
        .series("layer 10", &(0..12).map(|h| (h as f64 * 0.25 + 0.2, ((h * 3) % 7) as f64 * 0.15)).collect::<Vec<_>>())
        .x_label("norm")
        .y_label("effect");
    let labels: Vec<String> = (0..12).map(|l| format!("L{l}")).collect();
    let vals: Vec<f32> = (0..12).map(|l| ((l as f32) - 6.0) * 0.3 + (l as f32 * 1.3).sin()).collect();
    let errs: Vec<f32> = (0..12).map(|l| 0.1 + 0.05 * (l % 3) as f32).collect();
    let bars = Chart::bars(&labels, &vals, Some(&errs)).unwrap().title("Logit difference by layer").y_label("logit diff");
    let lh: Vec<Vec<f32>> = (0..12).map(|l| (0..12).map(|h| ((l * 12 + h) as f32 * 0.37).sin() * (l as f32 / 11.0)).collect()).collect();
    let heads: Vec<String> = (0..12).map(|h| format!("H{h}")).collect();
    let heat = Chart::heatmap(lh, &labels, &heads).unwrap().title("Patching effect: layer × head").x_label("head").y_label("layer");
    let n = toks.len();
    let att = causal_pattern(4, n);
    let attn = AttentionView::new(&att, &toks).unwrap().title("Layer 9 attention").head_labels(&["9.6", "9.9", "10.0", "10.7"]);
    let tok_heat = Chart::from_tensor_heatmap(&att.get(1).unwrap(), &toks, &toks).unwrap().title("token × token").color_scale(ColorScale::Blues);
    let loss_per_tok: Vec<f32> = (0..n).map(|i| ((i * 37) % 11) as f32 * 0.6 - 2.0).collect();
    let tv = TokenView::new(&toks, &loss_per_tok).unwrap().title("Per-token logit attribution").value_name("attribution");
    let tv2 = TokenView::new(&["Hello", ",", " world", "!\n", "New", " line", " <tag>", " &"], &[0.1, 0.5, 2.0, 3.0, 0.0, 1.0, 2.5, 1.5]).unwrap().value_name("loss");

    std::fs::write(dir.join("table.html"), top.to_page()).unwrap();
    std::fs::write(dir.join("table_big.html"), big.to_page()).unwrap();
    loss.save_svg(dir.join("lines.svg")).unwrap();
    scatter.save_svg(dir.join("scatter.svg")).unwrap();
    bars.save_svg(dir.join("bars.svg")).unwrap();
    heat.save_svg(dir.join("heatmap.svg")).unwrap();
    tok_heat.save_svg(dir.join("heatmap_tokens.svg")).unwrap();
    attn.save_html(dir.join("attention.html")).unwrap();
    attn.clone().small_multiples().save_html(dir.join("attention_grid.html")).unwrap();
    tv.save_html(dir.join("tokens.html")).unwrap();

    let panel = Panel::new()
        .title("gpt2lab display examples")
        .text("A **Panel** composes everything into *one* output. Tokens like `<|endoftext|>` are escaped.")
        .add(top)
        .add(bars)
        .add(loss)
        .add(scatter)
        .add(heat)
        .add(tok_heat)
        .add(attn.clone())
        .add(Panel::new().add(tv).add(tv2))
        .add(attn.small_multiples())
        .add(big.max_rows(6))
        .grid(2);
    panel.save_html(dir.join("panel.html")).unwrap();
    std::fs::write(dir.join("panel.txt"), panel.to_string()).unwrap();
}
