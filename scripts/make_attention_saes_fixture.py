#!/usr/bin/env python3
"""A random-weight SAE in the layout of ckkissane/attn-saes-gpt2-small-all-layers, for
tests/attention_saes.rs: `{stem}.pt` (a torch state dict W_enc (d_in, d_sae), b_enc, W_dec
(d_sae, d_in), b_dec, saved as torch.save writes it: a zip with archive/data.pkl and one raw
little-endian float32 storage per tensor) and `{stem}_cfg.json` (their config keys), plus the
reference outputs of their AutoEncoder's forward on a few inputs, computed here in plain
Python from the formula of the authors' code:

    x_cent = x - b_dec;  acts = relu(x_cent @ W_enc + b_enc);  x_rec = acts @ W_dec + b_dec

Written without torch (no torch wheel is reachable from this workspace): the pickle names
torch's classes through stub modules, which is all the file records of them.

Usage: python3 scripts/make_attention_saes_fixture.py  (writes tests/fixtures/attention_saes/)
"""
import collections
import io
import json
import os
import pickle
import random
import struct
import sys
import types
import zipfile

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "attention_saes")
STEM = "gpt2-small_L1_Hcat_z_lr1.20e-03_l11.00e+00_ds16_bs4096_dc1.00e-06_rsanthropic_rie25000_nr4_v9"
N_HEAD, D_HEAD, D_SAE = 2, 4, 16
D_IN = N_HEAD * D_HEAD

# stubs so that pickle records torch._utils._rebuild_tensor_v2 and torch.FloatStorage by name
torch = types.ModuleType("torch")
utils = types.ModuleType("torch._utils")


def _rebuild_tensor_v2(*args):  # never called here; pickled by reference
    raise NotImplementedError


_rebuild_tensor_v2.__module__ = "torch._utils"
utils._rebuild_tensor_v2 = _rebuild_tensor_v2


class FloatStorage:
    pass


FloatStorage.__module__ = "torch"
torch.FloatStorage = FloatStorage
torch._utils = utils
sys.modules["torch"] = torch
sys.modules["torch._utils"] = utils


class Storage:
    def __init__(self, key, values):
        self.key, self.values = key, values


class Tensor:
    def __init__(self, storage, shape):
        self.storage, self.shape = storage, shape

    def __reduce__(self):
        stride, acc = [], 1
        for d in reversed(self.shape):
            stride.insert(0, acc)
            acc *= d
        return (_rebuild_tensor_v2, (self.storage, 0, tuple(self.shape), tuple(stride), False, collections.OrderedDict()))


class TorchPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", FloatStorage, obj.key, "cpu", len(obj.values))
        return None


def save_pt(path, named):
    """named: list of (name, flat values, shape)."""
    state = collections.OrderedDict()
    storages = []
    for i, (name, flat, shape) in enumerate(named):
        s = Storage(str(i), flat)
        storages.append(s)
        state[name] = Tensor(s, shape)
    buf = io.BytesIO()
    TorchPickler(buf, protocol=2).dump(state)
    root = "archive"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{root}/data.pkl", buf.getvalue())
        z.writestr(f"{root}/byteorder", "little")
        for s in storages:
            z.writestr(f"{root}/data/{s.key}", struct.pack(f"<{len(s.values)}f", *s.values))
        z.writestr(f"{root}/version", "3\n")


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def main():
    rng = random.Random(29)
    w_enc = [[f32(rng.gauss(0, 0.5)) for _ in range(D_SAE)] for _ in range(D_IN)]
    b_enc = [f32(rng.gauss(0, 0.1)) for _ in range(D_SAE)]
    w_dec = [[f32(rng.gauss(0, 0.5)) for _ in range(D_IN)] for _ in range(D_SAE)]
    b_dec = [f32(rng.gauss(0, 0.1)) for _ in range(D_IN)]
    os.makedirs(OUT, exist_ok=True)
    save_pt(
        os.path.join(OUT, f"{STEM}.pt"),
        [
            ("W_enc", [v for r in w_enc for v in r], [D_IN, D_SAE]),
            ("W_dec", [v for r in w_dec for v in r], [D_SAE, D_IN]),
            ("b_enc", b_enc, [D_SAE]),
            ("b_dec", b_dec, [D_IN]),
        ],
    )
    # the keys of the authors' training config (values of this fixture)
    cfg = {
        "seed": 49, "batch_size": 4096, "buffer_mult": 384, "lr": 0.0012, "num_tokens": 2000000000,
        "l1_coeff": 1.0, "beta1": 0.9, "beta2": 0.99, "dict_mult": 2, "seq_len": 128, "enc_dtype": "fp32",
        "model_name": "gpt2-small", "site": "z", "layer": 1, "device": "cuda", "reinit": "reinit",
        "head": "cat", "concat_heads": True, "resample_scheme": "anthropic", "anthropic_neuron_resample_scale": 0.2,
        "dead_direction_cutoff": 1e-6, "re_init_every": 25000, "anthropic_resample_last": 12500,
        "resample_factor": 0.01, "num_resamples": 4, "wandb_project_name": "gpt2-L1-20240117",
        "wandb_entity": "ckkissane", "save_state_dict_every": 50000,
        "act_name": "blocks.1.attn.hook_z", "act_size": D_IN, "dict_size": D_SAE, "name": STEM,
    }
    with open(os.path.join(OUT, f"{STEM}_cfg.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    xs = [[f32(rng.gauss(0, 1)) for _ in range(D_IN)] for _ in range(3)]
    acts, recs = [], []
    for x in xs:
        xc = [x[i] - b_dec[i] for i in range(D_IN)]
        a = [max(0.0, sum(xc[i] * w_enc[i][j] for i in range(D_IN)) + b_enc[j]) for j in range(D_SAE)]
        r = [sum(a[j] * w_dec[j][i] for j in range(D_SAE)) + b_dec[i] for i in range(D_IN)]
        acts.append(a)
        recs.append(r)
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump({"n_head": N_HEAD, "d_head": D_HEAD, "x": xs, "acts": acts, "x_reconstruct": recs}, f)
    print("wrote", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
