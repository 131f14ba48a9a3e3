#!/usr/bin/env python3
"""Reference fixtures for tests/wechsel.rs (deterministic; run with the reference venv):

    /root/.cache/gpt2lab/refvenv/bin/python scripts/make_wechsel_fixtures.py

- procrustes.json: scipy.linalg.orthogonal_procrustes(A, B) on fixed matrices A, B.
- bpe_corpus.txt + bpe_tokenizer.json: the Python `tokenizers` byte-level BPE trainer
  (GPT-2's pre-tokenizer, byte alphabet, <|endoftext|> first) on a small fixed corpus, to compare
  with gpt2lab::data::BpeTokenizer's vocabulary and merges on the same text.
"""
import json
import pathlib

import numpy as np
import scipy
from scipy.linalg import orthogonal_procrustes
import tokenizers
from tokenizers import Tokenizer, models, pre_tokenizers, decoders, trainers

out = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "wechsel"
out.mkdir(parents=True, exist_ok=True)

rng = np.random.default_rng(0)
A = np.round(rng.normal(size=(12, 5)), 6)
B = np.round(A @ np.linalg.qr(rng.normal(size=(5, 5)))[0] + 0.1 * rng.normal(size=(12, 5)), 6)
R, scale = orthogonal_procrustes(A, B)
(out / "procrustes.json").write_text(json.dumps({
    "scipy": scipy.__version__, "a": A.tolist(), "b": B.tolist(), "r": R.tolist(), "scale": float(scale)}, indent=1))

# a small corpus with a skewed word distribution (so merge counts are not all tied)
words = ["the", "dog", "cat", "sees", "likes", "river", "near", "old", "bafo", "zulan", "kemar", "Lily", "runs", "quickly"]
lines = []
r = np.random.default_rng(1)
p = np.arange(len(words), 0, -1, dtype=float)
p /= p.sum()
for i in range(400):
    n = int(r.integers(3, 9))
    lines.append(" ".join(r.choice(words, size=n, p=p)) + ".")
(out / "bpe_corpus.txt").write_text("\n".join(lines) + "\n")



def train(vocab_size):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, show_progress=False,
                                  special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(lines, trainer=trainer)
    return tok


tok = train(300)
tok.save(str(out / "bpe_tokenizer.json"))
# asked for more than the corpus supports, the trainer stops early: the size it reaches
(out / "bpe_meta.json").write_text(json.dumps({"tokenizers": tokenizers.__version__, "requested": 400, "supported": train(400).get_vocab_size()}))
print("tokenizers", tokenizers.__version__, "vocab", tok.get_vocab_size(), "->", out)
