// ---
// jupyter:
//   jupytext:
//     formats: ipynb,src//rs:percent
//     text_representation:
//       extension: .rs
//       format_name: percent
//       format_version: '1.3'
//       jupytext_version: 1.19.6
//   kernelspec:
//     display_name: gpt2lab (Rust)
//     language: rust
//     name: gpt2lab
// ---

// %% [markdown]
// # A tour of gpt2lab
//
// gpt2lab is a GPT-2 research lab in Rust on [candle](https://github.com/huggingface/candle), made to be used from notebooks like this one (kernel: **gpt2lab (Rust)**, which starts with `use gpt2lab::prelude::*;`).
//
// This tour loads a model, tokenizes a prompt, runs the model while caching every activation, and looks at the next-token distribution, an attention pattern, the logit lens and a generation. Each `claim(..)` prints what it checks and fails the cell when it does not hold.
//
// **Scale.** `GPT2LAB_SCALE=ci` (the default, what CI runs) uses the small model shipped in `datasets/default-model/` and finishes in seconds on 2 cores; `GPT2LAB_SCALE=full` loads the real 124M-parameter GPT-2 from the Hugging Face hub (network once, then cached).

// %%
let scale = Scale::from_env();
let dev = Device::Cpu;
println!("scale = {scale}");

// %% [markdown]
// ## The model
//
// At `ci` scale: the default model shipped with gpt2lab (`datasets/default-model/`, see its model card): a 4-layer GPT-2 trained on simple synthetic children's stories, with GPT-2's tokenizer mapped onto the few hundred tokens those stories use. At `full` scale: GPT-2 small from the hub with its full 50257-token vocabulary.

// %%
let (model, tok) = match scale {
    Scale::Ci => gpt2lab::model::load_default()?,
    Scale::Full => (Gpt2::from_pretrained("gpt2")?, Gpt2Tokenizer::gpt2()?),
};
let cfg = model.config().clone();
println!("{} layers, {} heads, d_model {}, vocabulary {}, {:.2}M parameters",
    cfg.n_layer, cfg.n_head, cfg.n_embd, tok.vocab_size(), cfg.n_params() as f64 / 1e6);

// %% [markdown]
// ## Tokens
//
// GPT-2's byte-level BPE; `true` prepends the `<|endoftext|>` token as a beginning-of-sequence marker, as TransformerLens does.

// %%
let text = scale.pick("Once upon a time, there was a little girl named", "The Eiffel Tower is in the city of");
let ids = tok.ids(text, true)?;
let str_toks = tok.ids_to_str_tokens(&ids)?;
check("decoding the ids gives the text back", tok.decode(&ids[1..])? == text, format!("{} tokens", ids.len()));
println!("{}", str_toks.iter().map(|t| visible_token(t)).collect::<Vec<_>>().join(" | "));

// %% [markdown]
// ## One forward pass, every activation cached
//
// `run_with_cache` returns the logits and an `ActivationCache` keyed by TransformerLens hook names (`blocks.0.attn.hook_pattern`, `blocks.1.hook_resid_post`, ...). Below, each prompt token coloured by the log-probability the model gave it.

// %%
let input = Tensor::new(ids.as_slice(), &dev)?;
let run = model.run_with_cache(&input)?;
println!("logits {:?}; {} cached activations, {:.1} MB", run.logits.dims(), run.cache.len(), run.cache.nbytes() as f64 / 1e6);
let logp_prompt = model.score_continuation(&ids[..1], &ids[1..])?;
check("log-probabilities are <= 0", logp_prompt.iter().all(|&l| l <= 1e-6), format!("{} tokens scored", logp_prompt.len()));
TokenView::new(&str_toks[1..], &logp_prompt)?.title("how expected each prompt token was").value_name("log p")

// %% [markdown]
// ## What comes next?
//
// The distribution over the next token at the last position. The story model should expect a name here; GPT-2 should know where the Eiffel Tower is.

// %%
let probs: Vec<f32> = gpt2lab::model::gpt2::last_token_probs(&run.logits)?.squeeze(0)?.to_vec1()?;
let total: f32 = probs.iter().sum();
check("next-token probabilities sum to 1", (total - 1.0).abs() < 1e-3, format!("sum = {total:.5}"));
let mut order: Vec<u32> = (0..probs.len() as u32).collect();
order.sort_by(|&a, &b| probs[b as usize].total_cmp(&probs[a as usize]));
let top: Vec<u32> = order[..10].to_vec();
let top_toks = tok.ids_to_str_tokens(&top)?;
let top_probs: Vec<f32> = top.iter().map(|&i| probs[i as usize]).collect();
let best = top_toks[0].clone();
match scale {
    Scale::Ci => claim("the story model expects a name", best.starts_with(' ') && best[1..].starts_with(|c: char| c.is_uppercase()), format!("top token {best:?}, p = {:.2}", top_probs[0])),
    Scale::Full => claim("GPT-2 completes the Eiffel Tower fact", best == " Paris", format!("top token {best:?}, p = {:.2}", top_probs[0])),
}
Table::top_k(&top_toks, &top_probs)?.title("top-10 next tokens")

// %% [markdown]
// ## Attention
//
// Layer 0's attention pattern, one panel per head (hover a cell for the weight). Each row is a query position and sums to 1; nothing attends to later tokens.

// %%
let pattern = run.cache.get("blocks.0.attn.hook_pattern")?.squeeze(0)?;
let rows: Vec<Vec<Vec<f32>>> = pattern.to_vec3()?;
let worst = rows.iter().flatten().map(|r| (r.iter().sum::<f32>() - 1.0).abs()).fold(0f32, f32::max);
check("every attention row sums to 1", worst < 1e-4, format!("max |sum - 1| = {worst:.1e}"));
let future: f32 = rows.iter().flat_map(|h| h.iter().enumerate().map(|(q, r)| r[q + 1..].iter().sum::<f32>())).sum();
check("attention is causal", future == 0.0, format!("weight on later tokens = {future}"));
AttentionView::new(&pattern, &str_toks)?.title("layer 0 attention pattern")

// %% [markdown]
// ## The logit lens
//
// Unembed the residual stream before each layer and after the last (through the final LayerNorm) and ask how likely the model's final top token already is. The last point is the model's own output; a trained model grows more confident through the layers.

// %%
let (resid, labels) = run.cache.accumulated_resid(false)?;
let lens = model.unembed(&resid)?; // [layers + 1, batch, pos, vocab]
let last = ids.len() - 1;
let lens_last = lens.i((.., 0, last))?.contiguous()?; // [layers + 1, vocab]
let gap = (lens_last.i(labels.len() - 1)? - run.logits.i((0, last))?)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?;
check("the lens at the last layer is the model's output", gap < 1e-3, format!("max |diff| = {gap:.1e}"));
let p_top: Vec<f32> = candle_nn::ops::softmax_last_dim(&lens_last)?.i((.., top[0] as usize))?.to_vec1()?;
claim("the last layer is more confident than the embeddings", p_top[p_top.len() - 1] > p_top[0], format!("P = {:.3} at the embeddings, {:.3} at the output", p_top[0], p_top[p_top.len() - 1]));
println!("residual stream points: {labels:?}");
Chart::lines("logit lens: the final top token through the layers")
    .series_y(&format!("P({})", top_toks[0].trim()), &p_top)
    .x_label("residual stream point (0 = embeddings)")
    .y_label("probability")

// %% [markdown]
// ## Generation
//
// Greedy decoding with the KV cache, then each new token coloured by its log-probability (scored again with one forward pass).

// %%
let gen_cfg = GenerateConfig::greedy(scale.pick(30, 20));
let new_ids = model.generate(&ids, &gen_cfg)?;
check("greedy decoding is deterministic", model.generate(&ids, &gen_cfg)? == new_ids, "two runs agree");
check("its first token is the forward pass's argmax", new_ids[0] == top[0], format!("token {}", new_ids[0]));
let logp = model.score_continuation(&ids, &new_ids)?;
println!("{}{}", text, tok.decode(&new_ids)?);
TokenView::new(&tok.ids_to_str_tokens(&new_ids)?, &logp)?.title("greedy continuation").value_name("log p")

// %% [markdown]
// ## Where next
//
// Every other notebook in `notebooks/` follows this shape: one `Scale` cell at the top, short cells that call the library and end in something that displays, `check(..)` for identities that must hold, and claims that state what a result should show (paper notebooks state theirs per seed, with negative controls: `notebooks/README.md`). `scripts/run_notebooks.py` runs them headless, as CI does.
