#!/usr/bin/env python3
"""Reference fixtures for tests/mgpt.rs (deterministic; run with the reference venv):

    /root/.cache/gpt2lab/refvenv/bin/python scripts/make_mgpt_fixtures.py

- corpus.txt: a small fixed multilingual-looking corpus (Latin, Cyrillic, numbers, capitals).
- digits_tokenizer.json (300 tokens): the Python `tokenizers` byte-level BPE trainer with
  pre_tokenizers.Sequence([Digits(individual_digits=True), ByteLevel(add_prefix_space=False)]),
  to compare with gpt2lab's Strategy::DigitSplitBpe.
- cased_tokenizer.json + cased_corpus.txt: every upper-case letter written as U+2191 + its lower
  case (implemented here independently of the Rust code), then the plain byte-level trainer:
  gpt2lab's Strategy::CaseMarkedBpe must give the same vocabulary, merges and marked text.
- shares.json: temperature-smoothed shares q_l = p_l^a / sum p^a with numpy.
"""
import json
import pathlib

import numpy as np
import tokenizers
from tokenizers import Tokenizer, models, pre_tokenizers, decoders, trainers

out = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "mgpt"
out.mkdir(parents=True, exist_ok=True)

r = np.random.default_rng(3)
words = ["Bafo", "zulan", "kemar", "lo", "ka", "Лето", "бафо", "кемар", "Anna", "runs", "ul", "eki"]
p = np.arange(len(words), 0, -1, dtype=float)
p /= p.sum()
lines = []
for i in range(400):
    n = int(r.integers(3, 8))
    ws = list(r.choice(words, size=n, p=p))
    if r.random() < 0.5:
        ws.insert(int(r.integers(0, len(ws))), str(int(r.integers(1, 3000))))
    lines.append(" ".join(ws) + ".")
(out / "corpus.txt").write_text("\n".join(lines) + "\n")


def train(texts, vocab_size, digits):
    tok = Tokenizer(models.BPE())
    bl = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), bl]) if digits else bl
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, show_progress=False,
                                  special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def mark(text):
    outc = []
    for c in text:
        low = c.lower()
        if len(low) == 1 and low != c and low.upper() == c:
            outc.append("\u2191" + low)
        else:
            outc.append(c)
    return "".join(outc)


train(lines, 300, True).save(str(out / "digits_tokenizer.json"))
cased = [mark(l) for l in lines]
(out / "cased_corpus.txt").write_text("\n".join(cased) + "\n")
train(cased, 320, False).save(str(out / "cased_tokenizer.json"))
counts = [700, 200, 60, 40]
shares = {}
for a in [0.0, 0.3, 0.5, 1.0]:
    q = (np.array(counts) / sum(counts)) ** a
    shares[str(a)] = (q / q.sum()).tolist()
(out / "shares.json").write_text(json.dumps({"tokenizers": tokenizers.__version__, "counts": counts, "shares": shares}, indent=1))
print("tokenizers", tokenizers.__version__, "->", out)
