#!/usr/bin/env python3
"""Independent re-implementation of the GPT-2 forward pass (plain torch ops, no
transformers) used to cross-check tests/fixtures/hf/*/expected.safetensors.

    ~/.cache/gpt2lab/refvenv/bin/python scripts/check_fixtures.py

It reads config.json + the safetensors weights of every case directly (prefixed,
bare, sharded via the index, f16 upcast to f32) and compares logits, hidden_states,
attentions, greedy_tokens and (where present) padded_logits.  This documents the
exact math the Rust implementation has to reproduce.
"""
import json
import math
import os
import sys

import torch
from safetensors.torch import load_file

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_weights(d):
    idx = os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(idx):
        files = sorted(set(json.load(open(idx))["weight_map"].values()))
        sd = {}
        for f in files:
            sd.update(load_file(os.path.join(d, f)))
    else:
        sd = load_file(os.path.join(d, "model.safetensors"))
    out = {}
    for k, v in sd.items():
        out[k[len("transformer."):] if k.startswith("transformer.") else k] = v.float()
    return out


def gelu(x, kind):
    if kind == "gelu_new":  # tanh approximation
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))
    if kind == "gelu":  # exact erf
        return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))
    raise ValueError(kind)


def ln(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = (x - mu).pow(2).mean(-1, keepdim=True)  # biased variance
    return (x - mu) / torch.sqrt(var + eps) * w + b


def forward(cfg, W, ids, mask=None, pos=None):
    B, T = ids.shape
    C, H = cfg["n_embd"], cfg["n_head"]
    hd = C // H
    eps = cfg["layer_norm_epsilon"]
    if pos is None:
        pos = torch.arange(T).unsqueeze(0).expand(B, T)
    x = W["wte.weight"][ids] + W["wpe.weight"][pos]
    allowed = torch.ones(T, T).tril().bool().unsqueeze(0).expand(B, T, T)
    if mask is not None:
        allowed = allowed & mask.bool().unsqueeze(1)  # key padding
    hs, atts = [x], []
    for i in range(cfg["n_layer"]):
        p = f"h.{i}."
        h = ln(x, W[p + "ln_1.weight"], W[p + "ln_1.bias"], eps)
        qkv = h @ W[p + "attn.c_attn.weight"] + W[p + "attn.c_attn.bias"]  # Conv1D: [in, out]
        q, k, v = qkv.split(C, dim=-1)
        q, k, v = (t.view(B, T, H, hd).transpose(1, 2) for t in (q, k, v))
        scale = 1.0
        if cfg.get("scale_attn_weights", True):
            scale /= math.sqrt(hd)
        if cfg.get("scale_attn_by_inverse_layer_idx", False):
            scale /= float(i + 1)
        s = (q @ k.transpose(-1, -2)) * scale
        s = s.masked_fill(~allowed.unsqueeze(1), float("-inf"))
        a = torch.softmax(s, -1).nan_to_num(0.0)
        atts.append(a)
        y = (a @ v).transpose(1, 2).reshape(B, T, C)
        x = x + (y @ W[p + "attn.c_proj.weight"] + W[p + "attn.c_proj.bias"])
        h = ln(x, W[p + "ln_2.weight"], W[p + "ln_2.bias"], eps)
        h = gelu(h @ W[p + "mlp.c_fc.weight"] + W[p + "mlp.c_fc.bias"], cfg["activation_function"])
        x = x + (h @ W[p + "mlp.c_proj.weight"] + W[p + "mlp.c_proj.bias"])
        hs.append(x)
    xf = ln(x, W["ln_f.weight"], W["ln_f.bias"], eps)
    hs[-1] = xf  # HF convention: last hidden state is after ln_f
    logits = xf @ W["wte.weight"].T  # tied lm_head
    return logits, torch.stack(hs), torch.stack(atts)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "tests", "fixtures", "hf")
    ok = True
    for case in sorted(os.listdir(root)):
        d = os.path.join(root, case)
        if not os.path.isdir(d):
            continue
        cfg = json.load(open(os.path.join(d, "config.json")))
        W = load_weights(d)
        E = load_file(os.path.join(d, "expected.safetensors"))
        logits, hs, atts = forward(cfg, W, E["input_ids"])
        errs = {
            "logits": (logits - E["logits"]).abs().max().item(),
            "hidden_states": (hs - E["hidden_states"]).abs().max().item(),
            "attentions": (atts - E["attentions"]).abs().max().item(),
        }
        ids = E["greedy_prompt"].clone()
        while ids.shape[1] < E["greedy_tokens"].shape[1]:
            nxt = forward(cfg, W, ids)[0][:, -1].argmax(-1, keepdim=True)
            ids = torch.cat([ids, nxt], 1)
        greedy_ok = torch.equal(ids, E["greedy_tokens"])
        if "padded_logits" in E:
            m = E["padded_attention_mask"]
            pos = (m.cumsum(-1) - 1).clamp(min=0)
            pl = forward(cfg, W, E["padded_input_ids"], mask=m, pos=pos)[0]
            sel = m.bool()
            errs["padded_logits(mask==1)"] = (pl - E["padded_logits"])[sel].abs().max().item()
        bad = any(e > 1e-4 for e in errs.values()) or not greedy_ok
        ok &= not bad
        print(f"{case:12s} {'FAIL' if bad else 'ok  '} greedy={'ok' if greedy_ok else 'MISMATCH'} "
              + " ".join(f"{k}={v:.2e}" for k, v in errs.items()))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
