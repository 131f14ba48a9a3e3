#!/usr/bin/env python3
"""Generate Hugging Face GPT-Neo reference fixtures under tests/fixtures/gpt_neo/.

    ~/.cache/gpt2lab/refvenv/bin/python scripts/make_neo_fixtures.py

GPT-Neo is the architecture of the TinyStories models (notebook 13's full scale). Each case
directory holds a tiny random-weight GPTNeoForCausalLM saved with save_pretrained
(config.json + model.safetensors) and expected.safetensors:

  input_ids      int64   [2, T]
  logits         float32 [2, T, vocab]
  hidden_states  float32 [n_layer+1, 2, T, hidden]  HF output_hidden_states (entry i < n_layer:
                 the residual stream entering block i; the last: after ln_f)
  attentions     float32 [n_layer, 2, n_head, T, T]  post-softmax patterns
  greedy_prompt  int64   [1, 5]
  greedy_tokens  int64   [1, 5+NEW]   generate(do_sample=False), prompt included

The window (4) is shorter than T (12), so the local layers' band mask matters; the weights are
scaled up (as scripts/make_fixtures.py does for GPT-2) so the patterns are far from uniform.
Deterministic: fixed seeds, CPU, float32, eager attention.
"""

import argparse
import json
import os
import shutil

import torch
import transformers
from safetensors.torch import save_file
from transformers import GPTNeoConfig, GPTNeoForCausalLM

T = 12
NEW = 16
GAIN = 8.0
CASES = {
    # global/local alternating, as every TinyStories model
    "tiny": dict(vocab_size=500, max_position_embeddings=64, hidden_size=32, num_layers=2, num_heads=4,
                 attention_types=[[["global", "local"], 1]], window_size=4, activation_function="gelu_new"),
    # three layers (local first), an explicit MLP width and exact gelu
    "local_first": dict(vocab_size=300, max_position_embeddings=32, hidden_size=24, num_layers=3, num_heads=3,
                        attention_types=[[["local", "global", "local"], 1]], window_size=3, intermediate_size=40,
                        activation_function="gelu"),
}


def make(seed, kw):
    torch.manual_seed(seed)
    cfg = GPTNeoConfig(**kw, resid_dropout=0.0, embed_dropout=0.0, attention_dropout=0.0, bos_token_id=0, eos_token_id=0)
    cfg._attn_implementation = "eager"
    m = GPTNeoForCausalLM(cfg).eval()
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if p.dim() == 2:
                p.mul_(GAIN)
            else:  # LayerNorm weights/biases and biases: away from 1/0
                p.add_(torch.randn(p.shape, generator=g) * 0.1)
    return m


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "gpt_neo"))
    a = ap.parse_args()
    out = os.path.abspath(a.out)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    for i, (name, kw) in enumerate(CASES.items()):
        d = os.path.join(out, name)
        m = make(10 + i, kw)
        m.save_pretrained(d, safe_serialization=True)
        g = torch.Generator().manual_seed(100 + i)
        ids = torch.randint(0, kw["vocab_size"], (2, T), generator=g)
        with torch.no_grad():
            o = m(ids, output_hidden_states=True, output_attentions=True)
            prompt = ids[:1, :5].clone()
            greedy = m.generate(prompt, max_new_tokens=NEW, min_new_tokens=NEW, do_sample=False, pad_token_id=0, eos_token_id=None)
        save_file({
            "input_ids": ids.contiguous(),
            "logits": o.logits.float().contiguous(),
            "hidden_states": torch.stack(o.hidden_states).contiguous(),
            "attentions": torch.stack(o.attentions).contiguous(),
            "greedy_prompt": prompt.contiguous(),
            "greedy_tokens": greedy.contiguous(),
        }, os.path.join(d, "expected.safetensors"))
    with open(os.path.join(out, "versions.json"), "w") as f:
        json.dump({"torch": torch.__version__, "transformers": transformers.__version__}, f, indent=1)
    print("wrote", out)


if __name__ == "__main__":
    main()
