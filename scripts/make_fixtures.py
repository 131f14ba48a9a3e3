#!/usr/bin/env python3
"""Generate Hugging Face GPT-2 reference fixtures under tests/fixtures/hf/.

How to run (from the repository root, with the reference venv that has
torch + transformers + safetensors + numpy):

    ~/.cache/gpt2lab/refvenv/bin/python scripts/make_fixtures.py

Optional: `--out DIR` (default: tests/fixtures/hf next to this script's repo).
The output directory is wiped and rewritten. The script is deterministic
(fixed seeds, CPU, float32 math, eager attention); re-running it with the same
torch/transformers versions reproduces the same files (the versions used are
written to versions.json).

Every case directory holds a tiny random-weight GPT-2 in Hugging Face format
(config.json [+ generation_config.json] + safetensors weights, as written by
GPT2LMHeadModel.save_pretrained(dir, safe_serialization=True), except `bare`,
see below) and an `expected.safetensors` with reference outputs:

  input_ids      int64   [2, T]                       random ids in [0, vocab)
  logits         float32 [2, T, vocab]
  hidden_states  float32 [n_layer+1, 2, T, n_embd]    output_hidden_states=True.
                 NOTE: entries 0..n_layer-1 are the residual stream ENTERING
                 block i (entry 0 = wte+wpe embeddings); the LAST entry
                 (index n_layer) is the output of the last block AFTER ln_f
                 (HF applies ln_f before appending it). The un-normalised
                 output of the last block is not among them.
  attentions     float32 [n_layer, 2, n_head, T, T]   post-softmax patterns
  greedy_prompt  int64   [1, 5]
  greedy_tokens  int64   [1, 5+20]   model.generate(prompt, max_new_tokens=20,
                 min_new_tokens=20, do_sample=False, pad_token_id=0,
                 eos_token_id=None) output, prompt included
  (case `prefixed` only)
  padded_input_ids      int64   [2, T]  row 0 = input_ids[0]; row 1 = 4 pad ids (0)
                        followed by input_ids[1, :T-4]  (left padding)
  padded_attention_mask int64   [2, T]  row 0 all ones; row 1 = 4 zeros then ones
  padded_logits         float32 [2, T, vocab]  HF forward with that attention_mask and
                        position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
                        Only positions where the mask is 1 are meaningful; by
                        construction padded_logits[0] == logits[0] and
                        padded_logits[1, 4:] == logits[1, :T-4] (up to float noise).
"""

import argparse
import json
import os
import shutil
import sys

import numpy as np
import torch
import transformers
import safetensors
import safetensors.torch
from safetensors.torch import save_file, load_file
from transformers import GPT2Config, GPT2LMHeadModel

T = 12
BATCH = 2
PROMPT_LEN = 5
NEW_TOKENS = 20
PAD_LEFT = 4
BASE = dict(vocab_size=1000, n_positions=64, n_embd=32, n_layer=2, n_head=4)


# HF's init draws every weight matrix from N(0, 0.02^2) (c_proj: 0.02/sqrt(2*n_layer)).
# At n_embd=32 that makes attention almost uniform and MLP pre-activations ~0.1, so
# the fixtures could not tell gelu from gelu_new (max |d logit| ~7e-7) or notice a
# missing 1/(layer_idx+1) (~3e-6).  We therefore multiply every weight MATRIX (wte,
# wpe, c_attn, c_proj, c_fc) by WEIGHT_GAIN after HF's init -- the same as HF's init
# with initializer_range=0.2, but config.json keeps the default 0.02 -- giving
# logits / attention scores / MLP pre-activations of order 1.
WEIGHT_GAIN = 10.0


def perturb(model: GPT2LMHeadModel, gen: torch.Generator) -> None:
    """Scale weight matrices by WEIGHT_GAIN, add N(0, 0.1^2) noise to every
    LayerNorm weight/bias and every bias.

    HF init leaves LayerNorm weights at 1 and all biases at 0; perturbing them
    keeps bugs such as a forgotten bias or swapped LN params from hiding.
    Only parameters are touched (the non-persistent causal-mask buffer `attn.bias`
    of older transformers versions is a buffer, not a parameter).
    """
    with torch.no_grad():
        for name, p in model.named_parameters():
            is_ln = ".ln_" in name or name.startswith("transformer.ln_f")
            if is_ln or name.endswith(".bias"):
                p.add_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * 0.1)
            elif p.dim() == 2:
                p.mul_(WEIGHT_GAIN)
            else:
                raise AssertionError(f"unexpected parameter {name} {tuple(p.shape)}")


def make_model(seed: int, **overrides) -> GPT2LMHeadModel:
    torch.manual_seed(seed)
    cfg = GPT2Config(**{**BASE, **overrides})
    cfg._attn_implementation = "eager"
    model = GPT2LMHeadModel(cfg)
    gen = torch.Generator().manual_seed(seed + 1000)
    perturb(model, gen)
    model.eval()
    return model


def load(dirname: str) -> GPT2LMHeadModel:
    model = GPT2LMHeadModel.from_pretrained(dirname, attn_implementation="eager")
    model = model.float().eval()
    return model


def manual_greedy(model, prompt, n):
    ids = prompt.clone()
    with torch.no_grad():
        for _ in range(n):
            nxt = model(ids).logits[:, -1, :].argmax(-1, keepdim=True)
            ids = torch.cat([ids, nxt], dim=1)
    return ids


def expected_outputs(model: GPT2LMHeadModel, seed: int, padded: bool) -> dict:
    cfg = model.config
    gen = torch.Generator().manual_seed(seed + 2000)
    input_ids = torch.randint(0, cfg.vocab_size, (BATCH, T), generator=gen, dtype=torch.int64)
    # prompt ids avoid the pad id 0 so nothing can mistake them for padding
    prompt = torch.randint(1, cfg.vocab_size, (1, PROMPT_LEN), generator=gen, dtype=torch.int64)

    with torch.no_grad():
        out = model(input_ids, output_hidden_states=True, output_attentions=True)
    logits = out.logits.float().contiguous()
    # hidden_states: tuple of n_layer+1; [0..n_layer-1] = input of block i,
    # [n_layer] = ln_f(output of last block)   (HF convention)
    hidden = torch.stack(out.hidden_states, 0).float().contiguous()
    attn = torch.stack(out.attentions, 0).float().contiguous()
    assert hidden.shape == (cfg.n_layer + 1, BATCH, T, cfg.n_embd), hidden.shape
    assert attn.shape == (cfg.n_layer, BATCH, cfg.n_head, T, T), attn.shape
    # sanity: logits = last hidden state @ wte^T (tied head, ln_f already applied)
    assert torch.allclose(hidden[-1] @ model.transformer.wte.weight.float().T, logits, atol=1e-4)
    # sanity: entry 0 is the embedding sum (dropout is off in eval mode)
    emb = model.transformer.wte.weight[input_ids] + model.transformer.wpe.weight[torch.arange(T)]
    assert torch.allclose(hidden[0], emb.float(), atol=1e-6)
    # sanity: attention rows sum to one and are causal
    assert torch.allclose(attn.sum(-1), torch.ones_like(attn.sum(-1)), atol=1e-5)
    assert float(attn.triu(1).abs().max()) == 0.0

    with torch.no_grad():
        greedy = model.generate(
            prompt,
            attention_mask=torch.ones_like(prompt),
            max_new_tokens=NEW_TOKENS,
            min_new_tokens=NEW_TOKENS,
            do_sample=False,
            pad_token_id=0,
            eos_token_id=None,
        )
    assert greedy.shape == (1, PROMPT_LEN + NEW_TOKENS), greedy.shape
    assert torch.equal(greedy[:, :PROMPT_LEN], prompt)
    # generate() (KV cache) must agree with a plain full-recompute argmax loop
    assert torch.equal(greedy, manual_greedy(model, prompt, NEW_TOKENS)), "generate != manual greedy"

    # greedy must be robust to float noise: smallest top1-top2 logit gap along the path
    with torch.no_grad():
        gl = model(greedy[:, :-1]).logits[0, PROMPT_LEN - 1:]
    top2 = gl.topk(2, dim=-1).values
    margin = float((top2[:, 0] - top2[:, 1]).min())
    assert margin > 1e-3, f"greedy path has a near-tie (margin {margin})"
    print(f"  min top1-top2 logit margin along the greedy path: {margin:.4f}")

    res = {
        "input_ids": input_ids,
        "logits": logits,
        "hidden_states": hidden,
        "attentions": attn,
        "greedy_prompt": prompt,
        "greedy_tokens": greedy.to(torch.int64).contiguous(),
    }

    if padded:
        pids = input_ids.clone()
        pids[1, PAD_LEFT:] = input_ids[1, : T - PAD_LEFT]
        pids[1, :PAD_LEFT] = 0
        mask = torch.ones_like(pids)
        mask[1, :PAD_LEFT] = 0
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        with torch.no_grad():
            plog = model(pids, attention_mask=mask, position_ids=pos).logits.float().contiguous()
        # consistency with the unpadded run
        assert torch.allclose(plog[0], logits[0], atol=1e-4)
        assert torch.allclose(plog[1, PAD_LEFT:], logits[1, : T - PAD_LEFT], atol=1e-4)
        res["padded_input_ids"] = pids.contiguous()
        res["padded_attention_mask"] = mask.contiguous()
        res["padded_logits"] = plog

    return {k: v.contiguous() for k, v in res.items()}


def save_expected(dirname: str, tensors: dict) -> None:
    save_file(tensors, os.path.join(dirname, "expected.safetensors"), metadata={"format": "pt"})


def check_roundtrip(model, dirname, exp):
    """Reload from disk and check the saved weights reproduce the expected logits."""
    m2 = load(dirname)
    with torch.no_grad():
        l2 = m2(exp["input_ids"]).logits
    assert torch.allclose(l2, exp["logits"], atol=1e-5), f"roundtrip mismatch in {dirname}"


def main():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(repo, "tests", "fixtures", "hf"))
    args = ap.parse_args()
    out = args.out

    torch.set_default_dtype(torch.float32)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)

    if os.path.isdir(out):
        for entry in os.listdir(out):
            if entry == "README.md":
                continue  # hand-written, kept
            p = os.path.join(out, entry)
            shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)
    os.makedirs(out, exist_ok=True)

    def case_dir(name):
        print(f"case {name}")
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        return d

    # 1. prefixed: default gpt2 config values (gelu_new, eps 1e-5)
    d = case_dir("prefixed")
    model = make_model(1)
    model.save_pretrained(d, safe_serialization=True)
    exp = expected_outputs(model, 1, padded=True)
    save_expected(d, exp)
    check_roundtrip(model, d, exp)
    keys = list(load_file(os.path.join(d, "model.safetensors")).keys())
    assert all(k.startswith("transformer.") for k in keys), keys

    # 2. bare: same weights, keys without `transformer.` prefix, no lm_head key
    d2 = case_dir("bare")
    shutil.copy(os.path.join(d, "config.json"), os.path.join(d2, "config.json"))
    sd = load_file(os.path.join(d, "model.safetensors"))
    bare = {k[len("transformer."):]: v.contiguous() for k, v in sd.items() if k.startswith("transformer.")}
    save_file(bare, os.path.join(d2, "model.safetensors"), metadata={"format": "pt"})
    save_expected(d2, exp)
    check_roundtrip(model, d2, exp)  # HF accepts base-model keys for GPT2LMHeadModel

    # 3. erf_invidx: exact-erf GELU, 1/(layer_idx+1) attention scaling, n_inner != 4*n_embd
    d = case_dir("erf_invidx")
    model = make_model(3, activation_function="gelu", scale_attn_by_inverse_layer_idx=True,
                       n_inner=48, layer_norm_epsilon=1e-3, n_layer=3)
    model.save_pretrained(d, safe_serialization=True)
    exp = expected_outputs(model, 3, padded=False)
    save_expected(d, exp)
    check_roundtrip(model, d, exp)

    # 4. f16: weights stored as float16; expected computed in float32 from the upcast f16 values
    d = case_dir("f16")
    model = make_model(4)
    model.half()
    model.save_pretrained(d, safe_serialization=True)
    sd = load_file(os.path.join(d, "model.safetensors"))
    assert all(v.dtype == torch.float16 for v in sd.values())
    model = load(d)  # from_pretrained + .float(): exact f16 values upcast to f32
    assert model.transformer.wte.weight.dtype == torch.float32
    exp = expected_outputs(model, 4, padded=False)
    save_expected(d, exp)

    # 5. sharded: several model-0000x-of-0000y.safetensors + model.safetensors.index.json
    d = case_dir("sharded")
    model = make_model(5, n_layer=3)
    model.save_pretrained(d, safe_serialization=True, max_shard_size="40KB")
    assert os.path.isfile(os.path.join(d, "model.safetensors.index.json"))
    shards = sorted(f for f in os.listdir(d) if f.startswith("model-") and f.endswith(".safetensors"))
    assert len(shards) > 1, shards
    exp = expected_outputs(model, 5, padded=False)
    save_expected(d, exp)
    check_roundtrip(model, d, exp)

    # 6. noscale: no 1/sqrt(head_dim) scaling, reorder_and_upcast_attn path
    d = case_dir("noscale")
    model = make_model(6, scale_attn_weights=False, reorder_and_upcast_attn=True)
    model.save_pretrained(d, safe_serialization=True)
    exp = expected_outputs(model, 6, padded=False)
    save_expected(d, exp)
    check_roundtrip(model, d, exp)

    versions = {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "safetensors": safetensors.__version__,
        "numpy": np.__version__,
        "command": "~/.cache/gpt2lab/refvenv/bin/python scripts/make_fixtures.py",
    }
    with open(os.path.join(out, "versions.json"), "w") as f:
        json.dump(versions, f, indent=2)
        f.write("\n")
    print(json.dumps(versions, indent=2))
    for root, _, files in sorted(os.walk(out)):
        for fn in sorted(files):
            p = os.path.join(root, fn)
            print(f"{os.path.getsize(p):>9}  {os.path.relpath(p, out)}")


if __name__ == "__main__":
    main()
