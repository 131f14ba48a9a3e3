#!/usr/bin/env python3
"""HUT reference fixture for gpt2lab::peft::hut (tests/hut.rs).

    ~/.cache/gpt2lab/refvenv/bin/python scripts/make_hut_fixture.py

HUT (Zhang, Zhou, Chen 2024, arXiv 2409.13501) in the form gpt2lab follows (see
src/peft/hut.rs): for an adapted weight W0 (PyTorch orientation, d_out x d_in),

    W' = W0 * (1 + s * B @ A)        (* element-wise, s = alpha / r)

with A (r, d_in), B (d_out, r). Written here independently of the Rust code, in PyTorch's
orientation, on Hugging Face's GPT2LMHeadModel through torch.func.functional_call (GPT-2's
Conv1D stores W0^T as [in, out]; a q or v target is that projection's output columns).

Deterministic (fixed seeds, CPU, float32, eager attention). Base: the random-weight GPT-2 in
tests/fixtures/hf/bare (vocab 1000, n_embd 32, 2 layers). Writes tests/fixtures/hut/:

  adapter_config.json, adapter_model.safetensors   the adapter in gpt2lab's layout
        (PEFT's files; peft_type "HUT"; r=2, alpha=4, targets c_attn.q, c_attn.v, c_fc;
        tensors base_model.model.transformer.h.{i}.{module}.hut_A.weight / .hut_B.weight;
        B random so that dW != 0)
  expected.safetensors:
        input_ids  int64 [2, 12], targets int64 [2, 12]
        logits     f32 [2, 12, 1000]   forward with W' in place of every adapted W0
        loss       f32 []              mean cross-entropy(logits, targets)
        grad.<key> f32                 d loss / d every hut_A / hut_B, under its file key
"""
import json, os
import torch
from safetensors.torch import save_file
from transformers import GPT2LMHeadModel

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASE = os.path.join(ROOT, "tests", "fixtures", "hf", "bare")
OUT = os.path.join(ROOT, "tests", "fixtures", "hut")
R, ALPHA = 2, 4.0
PREFIX = "base_model.model.transformer."


def main():
    torch.manual_seed(0)
    m = GPT2LMHeadModel.from_pretrained(BASE, attn_implementation="eager").eval()
    for p in m.parameters():
        p.requires_grad_(False)
    c, L = m.config.n_embd, m.config.n_layer
    s = ALPHA / R
    g = torch.Generator().manual_seed(2)
    # site name -> (module, output column range)
    sites = []
    for i in range(L):
        sites.append((f"h.{i}.attn.c_attn.q", f"transformer.h.{i}.attn.c_attn", 0, c))
        sites.append((f"h.{i}.attn.c_attn.v", f"transformer.h.{i}.attn.c_attn", 2 * c, c))
        sites.append((f"h.{i}.mlp.c_fc", f"transformer.h.{i}.mlp.c_fc", 0, 4 * c))
    params = {}
    for name, _, _, d_out in sites:
        d_in = c
        a = (torch.rand((R, d_in), generator=g) * 2 - 1) / d_in ** 0.5
        b = torch.randn((d_out, R), generator=g) * 0.3
        params[name] = (a.requires_grad_(True), b.requires_grad_(True))
    ids = torch.randint(0, 1000, (2, 12), generator=g)
    targets = torch.randint(0, 1000, (2, 12), generator=g)

    # the adapted weights, module by module (q and v share c_attn)
    new = {}
    for name, mod, off, d_out in sites:
        key = mod + ".weight"
        w_conv = new.get(key, dict(m.named_parameters())[key])
        w0_pt = dict(m.named_parameters())[key].t()[off:off + d_out]  # (d_out, d_in), the frozen W0
        a, b = params[name]
        w_new_pt = w0_pt * (1 + s * (b @ a))
        cols = w_conv.t().clone() if key not in new else w_conv.t()
        cols = torch.cat([cols[:off], w_new_pt, cols[off + d_out:]], 0)
        new[key] = cols.t()
    logits = torch.func.functional_call(m, new, (ids,)).logits
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 1000), targets.reshape(-1))
    loss.backward()

    os.makedirs(OUT, exist_ok=True)
    adapter, out = {}, {"input_ids": ids, "targets": targets, "logits": logits.detach().contiguous(), "loss": loss.detach()}
    for name, (a, b) in params.items():
        for which, t in (("hut_A", a), ("hut_B", b)):
            k = f"{PREFIX}{name}.{which}.weight"
            adapter[k] = t.detach().contiguous()
            out["grad." + k] = t.grad.detach().contiguous()
    save_file(adapter, os.path.join(OUT, "adapter_model.safetensors"))
    save_file(out, os.path.join(OUT, "expected.safetensors"))
    cfg = {
        "base_model_name_or_path": "tests/fixtures/hf/bare", "bias": "none", "fan_in_fan_out": True,
        "inference_mode": True, "lora_alpha": ALPHA, "lora_dropout": 0.0, "modules_to_save": None,
        "layers_to_transform": None, "layers_pattern": None, "r": R, "rank_pattern": {}, "alpha_pattern": {},
        "target_modules": ["c_attn.q", "c_attn.v", "c_fc"], "task_type": "CAUSAL_LM", "use_dora": False,
        "use_rslora": False, "revision": None, "peft_type": "HUT",
    }
    json.dump(cfg, open(os.path.join(OUT, "adapter_config.json"), "w"), indent=2, sort_keys=True)
    import transformers
    json.dump({"torch": torch.__version__, "transformers": transformers.__version__},
              open(os.path.join(OUT, "versions.json"), "w"), indent=1)
    print("wrote", OUT, "loss", loss.item(), "max |logits - base|",
          (logits - m(input_ids=ids).logits).abs().max().item())


if __name__ == "__main__":
    main()
