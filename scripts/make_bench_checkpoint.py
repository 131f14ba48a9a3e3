#!/usr/bin/env python3
"""Make the random-weight checkpoints the benchmark suite (scripts/bench.sh) runs on.

    ~/.cache/gpt2lab/refvenv/bin/python scripts/make_bench_checkpoint.py [--out DIR] [--force]

Writes two Hugging Face checkpoints (config.json + model.safetensors, `save_pretrained`
layout, keys with the `transformer.` prefix, tied lm_head) under DIR (default
$GPT2LAB_HOME/bench, i.e. ~/.cache/gpt2lab/bench):

  gpt2-124m-random/  GPT-2 small shape (50257 vocab, 1024 ctx, 768 x 12 layers x 12 heads)
  tiny-random/       the ~0.9M training shape of benches/train_speed.rs
                     (512 vocab, 128 ctx, 128 x 4 layers x 4 heads)

Weights are transformers' own GPT-2 initialisation (N(0, 0.02), residual projections scaled
by 1/sqrt(2 n_layer), zero biases, unit LayerNorms) under torch.manual_seed(0), so every run
of this script writes the same bytes. Dropout is 0 everywhere (gpt2lab has none), so the
PyTorch training reference computes the same function as gpt2lab's. The GPT-2 BPE files of
datasets/gpt2-tokenizer/ are copied next to the 124M weights, so that
`AutoTokenizer.from_pretrained(dir)` (TransformerLens' boot) works offline.
Existing checkpoints are kept unless --force.
"""

import argparse
import os
import shutil
from pathlib import Path

import torch
from transformers import GPT2Config, GPT2LMHeadModel

REPO = Path(__file__).resolve().parent.parent

SHAPES = {
    "gpt2-124m-random": dict(vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12,
                             bos_token_id=50256, eos_token_id=50256),
    "tiny-random": dict(vocab_size=512, n_positions=128, n_embd=128, n_layer=4, n_head=4,
                        bos_token_id=None, eos_token_id=None),
}


def make(name: str, out: Path, force: bool) -> Path:
    d = out / name
    if (d / "model.safetensors").exists() and (d / "config.json").exists() and not force:
        print(f"{d}: exists (use --force to rewrite)")
        return d
    torch.manual_seed(0)
    cfg = GPT2Config(**SHAPES[name], n_inner=None, activation_function="gelu_new",
                     resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, layer_norm_epsilon=1e-5,
                     tie_word_embeddings=True)
    model = GPT2LMHeadModel(cfg).eval()
    tmp = out / f".{name}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    model.save_pretrained(tmp, safe_serialization=True)
    if name == "gpt2-124m-random":
        tok = REPO / "datasets" / "gpt2-tokenizer"
        for f in ("vocab.json", "merges.txt"):
            shutil.copy(tok / f, tmp / f)
        (tmp / "tokenizer_config.json").write_text(
            '{"tokenizer_class": "GPT2Tokenizer", "model_max_length": 1024, '
            '"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>"}\n')
    if d.exists():
        shutil.rmtree(d)
    os.replace(tmp, d)
    n = sum(p.numel() for p in model.parameters())
    print(f"{d}: {n / 1e6:.2f}M parameters")
    return d


def main():
    home = Path(os.environ.get("GPT2LAB_HOME", Path.home() / ".cache" / "gpt2lab"))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=home / "bench")
    ap.add_argument("--force", action="store_true")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    for name in SHAPES:
        make(name, a.out, a.force)


if __name__ == "__main__":
    main()
