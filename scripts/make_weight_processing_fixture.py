#!/usr/bin/env python3
"""TransformerLens' weight processing on a random HF GPT-2, saved as a fixture for
tests/weight_processing.rs (gpt2lab::interp::weight_processing).

    ~/.cache/gpt2lab/refvenv/bin/python scripts/make_weight_processing_fixture.py

Loads the random-weight checkpoint tests/fixtures/hf/bare (made by scripts/make_fixtures.py)
into TransformerLens' TransformerBridge (transformer_lens 4.x), applies the processing
HookedTransformer did at load time (`enable_compatibility_mode()`: fold_ln,
center_writing_weights, center_unembed, fold_value_biases) and writes
tests/fixtures/weight_processing/processed.safetensors with, in TransformerLens' layout:

  input_ids   int64 [2, T]
  logits_raw  f32 [2, T, V]   the bridge before processing (= HF)
  logits      f32 [2, T, V]   after processing
  W_E [V, C], W_pos [n_ctx, C], W_Q/W_K/W_V [L, H, C, dh], b_Q/b_K/b_V [L, H, dh],
  W_O [L, H, dh, C], b_O [L, C], W_in [L, C, M], b_in [L, M], W_out [L, M, C], b_out [L, C],
  W_U [C, V], b_U [V]

Deterministic (fixed ids, CPU, float32); versions go to versions.json beside it.
"""
import importlib.metadata
import json
import os

import torch
import transformers
import transformer_lens
from safetensors.torch import save_file
from transformer_lens.model_bridge import TransformerBridge
import transformer_lens.model_bridge.sources.transformers  # noqa: F401  (attaches boot_transformers)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "tests", "fixtures", "hf", "bare")
OUT = os.path.join(ROOT, "tests", "fixtures", "weight_processing")

torch.manual_seed(0)
hf = transformers.GPT2LMHeadModel.from_pretrained(SRC, attn_implementation="eager").eval()
bridge = TransformerBridge.boot_transformers(SRC, hf_model=hf, device="cpu")
ids = torch.randint(0, hf.config.vocab_size, (2, 10), generator=torch.Generator().manual_seed(1))
with torch.no_grad():
    raw = bridge(ids, return_type="logits")
    bridge.enable_compatibility_mode(disable_warnings=True)
    proc = bridge(ids, return_type="logits")
    out = {"input_ids": ids, "logits_raw": raw, "logits": proc}
    for name in ["W_E", "W_pos", "W_Q", "W_K", "W_V", "b_Q", "b_K", "b_V", "W_O", "b_O", "W_in", "b_in", "W_out", "b_out", "W_U", "b_U"]:
        out[name] = getattr(bridge, name).detach().float().contiguous().clone()
os.makedirs(OUT, exist_ok=True)
save_file(out, os.path.join(OUT, "processed.safetensors"))
with open(os.path.join(OUT, "versions.json"), "w") as f:
    json.dump({"torch": torch.__version__, "transformers": transformers.__version__, "transformer_lens": importlib.metadata.version("transformer_lens"), "source": "tests/fixtures/hf/bare"}, f, indent=1)
print({k: list(v.shape) for k, v in out.items()})
print("max |logits - (raw - mean)|:", (raw - raw.mean(-1, keepdim=True) - proc).abs().max().item())
