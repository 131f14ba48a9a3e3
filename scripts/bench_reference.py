#!/usr/bin/env python3
"""Side-by-side benchmarks: gpt2lab vs PyTorch/transformers and TransformerLens.

Run through scripts/bench.sh (which builds the Rust worker, makes the venv and the checkpoint).
This file is both the *driver* and the *Python worker*:

    python scripts/bench_reference.py --rust-bin PATH [--workloads 1,2,3,4] [--reps 5] ...
    python scripts/bench_reference.py --serve            # the Python worker (spawned by the driver)

Design. Both sides are long-lived worker processes speaking the same JSON-lines protocol
(one command per line on stdin, one answer per line on stdout): the Rust worker is
`benches/inference.rs --serve`, the Python worker is this file with `--serve`. The driver
sends the same token ids to both, then for every rep runs the workload once on each side,
alternating which side goes first (ABBA...), with a short pause between sides so that the
idle side's spinning threads (OpenMP, rayon) have gone to sleep. Each worker times only the
library call (`time.perf_counter` / `Instant`) and the driver takes the median of the timed
reps after the warm-up reps. Numerics first: before timing, each workload has both sides
write their outputs to safetensors files and prints max |Δ|.

Both sides run with 2 threads: the Rust worker under RAYON_NUM_THREADS=2 (candle's matmuls;
the element-wise pool follows CANDLE_NUM_THREADS, default 1 from gpt2lab::runtime), the
Python worker with torch.set_num_threads(2) and OMP_NUM_THREADS=MKL_NUM_THREADS=2.
Training workloads get fresh worker processes so their peak RSS (VmHWM) is the training's.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HOME = Path(os.environ.get("GPT2LAB_HOME", Path.home() / ".cache" / "gpt2lab"))
REPO = Path(__file__).resolve().parent.parent
VOCAB = 50257


# ----------------------------------------------------------------------------- Python worker


def rss():
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            out[line.split(":")[0]] = int(line.split()[1]) * 1024
    return {"rss": out.get("VmRSS", 0), "hwm": out.get("VmHWM", 0)}


class OfficialOpt:
    """SophiaG, Muon (Moonlight variant) and Conda for the training-step rows: the transcriptions of
    the official code in scripts/make_optim_fixtures.py (which tests/optim.rs checks gpt2lab's
    updates against), applied to a GPT2LMHeadModel with the settings of gpt2lab's
    `benches/inference.rs::optimizer`. HF's Conv1D weights are [in, out]; the official code sees
    nn.Linear [out, in], so hidden matrices are handed over as transposed views (in-place updates
    land in the model). `periodic` = k: SophiaG's steps between curvature passes (the sampled-label
    Gauss-Newton-Bartlett pass of train_sophiag.py), Conda's between SVDs of the momentum."""

    def __init__(self, model, kind, lr, periodic, tokens):
        sys.path.insert(0, str(REPO / "scripts"))
        import make_optim_fixtures as mof

        self.model, self.kind, self.k, self.tokens, self.t = model, kind, periodic, tokens, 0
        conv = (".attn.c_attn.weight", ".attn.c_proj.weight", ".mlp.c_fc.weight", ".mlp.c_proj.weight")
        self.views = {}  # name -> (param, transposed?)
        for name, p in model.named_parameters():
            n = name.removeprefix("transformer.")
            self.views[n] = (p, n.startswith("h.") and n.endswith(conv))
        mof.HIDDEN = [n for n, (_, tr) in self.views.items() if tr]  # the classes read this global
        params = {n: (p.data.T if tr else p.data) for n, (p, tr) in self.views.items()}
        if kind == "sophiag":  # SophiaConfig::default() + decay_split(0.2)
            wd_of = {n: 0.2 if tr else 0.0 for n, (_, tr) in self.views.items()}
            self.opt = mof.SophiaG(params, lr, (0.965, 0.99), 0.05, wd_of)
        elif kind == "muon":  # MuonConfig::default(): Moonlight, wd 0.1 on every parameter
            self.opt = mof.MuonMoonlight(params, lr, 0.1, 0.95, (0.9, 0.95), 1e-8)
        elif kind == "conda":  # CondaConfig::default() with update_proj_gap = k
            self.opt = mof.Conda(params, lr, (0.9, 0.99), 1e-8, 0.01, 0.25, periodic)
        else:
            raise ValueError(f"unknown optimizer {kind}")

    def grads(self):
        return {n: (p.grad.T if tr else p.grad) for n, (p, tr) in self.views.items()}

    def zero_grad(self, set_to_none=True):
        self.model.zero_grad(set_to_none=set_to_none)

    def step(self):
        if self.kind == "sophiag":
            self.opt.step(self.grads(), bs=self.tokens)
        else:
            self.opt.step(self.grads())
        self.t += 1

    def wants_curvature(self):
        return self.kind == "sophiag" and self.t % self.k == 0

    def curvature_pass(self, x):
        import torch

        F = torch.nn.functional
        self.zero_grad()
        logits = self.model(x).logits
        v = logits.shape[-1]
        y = torch.multinomial(torch.softmax(logits.detach().view(-1, v), -1), 1).view(-1)
        F.cross_entropy(logits.view(-1, v), y).backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)  # as the training step (and gpt2lab's pass)
        self.opt.update_hessian(self.grads())
        self.zero_grad()


class PyWorker:
    """The reference side: transformers (prefill, decode, training) and TransformerLens (hooks)."""

    def __init__(self, attn):
        import torch

        torch.set_num_threads(2)
        self.torch = torch
        self.attn = attn
        self.hf = None
        self.tl = None
        self.ids = {}
        self.train = None
        self.patch = None

    def t(self):
        return time.perf_counter()

    def save(self, path, tensors):
        from safetensors.torch import save_file

        save_file({k: v.detach().float().contiguous() for k, v in tensors.items()}, path)

    def op_load(self, c):
        from transformers import GPT2LMHeadModel

        t0 = self.t()
        if c.get("kind", "hf") == "tl":
            from transformer_lens.model_bridge import TransformerBridge

            self.tl = TransformerBridge.boot_transformers(c["dir"], device="cpu")
            self.tl.eval()
        else:
            self.hf = GPT2LMHeadModel.from_pretrained(c["dir"], attn_implementation=self.attn).eval()
        return {"secs": self.t() - t0}

    def op_set_ids(self, c):
        self.ids[c["key"]] = self.torch.tensor(c["ids"], dtype=self.torch.long)
        return {}

    def op_prefill(self, c):
        torch, ids = self.torch, self.ids[c["key"]]
        with torch.inference_mode():
            t0 = self.t()
            logits = self.tl(ids) if c.get("kind") == "tl" else self.hf(ids).logits
            dt = self.t() - t0
        d = c.get("dump")
        if d:
            self.save(d["path"], {"logits": strided(logits, d["stride"], torch)})
        return {"secs": dt}

    def gen_config(self, n, **kw):
        from transformers import GenerationConfig

        # no eos: gpt2lab's greedy(n) has no stop token, so both sides make exactly n tokens
        return GenerationConfig(max_new_tokens=n, do_sample=False, eos_token_id=None, pad_token_id=VOCAB - 1,
                                use_cache=True, **kw)

    def op_decode(self, c):
        torch, ids, n = self.torch, self.ids[c["key"]], c["n"]
        mask = torch.ones_like(ids)
        with torch.inference_mode():
            t0 = self.t()
            out = self.hf.generate(ids, attention_mask=mask, generation_config=self.gen_config(n))
            dt = self.t() - t0
            reply = {"secs": dt, "ids": out[0, ids.shape[1]:].tolist()}
            if c.get("check"):
                g = self.hf.generate(ids, attention_mask=mask,
                                     generation_config=self.gen_config(n, output_logits=True, return_dict_in_generate=True))
                self.save(c["check"], {"logits": torch.cat(list(g.logits), 0)})
                reply["manual_ids"] = g.sequences[0, ids.shape[1]:].tolist()
        return reply

    def op_train_init(self, c):
        torch = self.torch
        from transformers import GPT2LMHeadModel

        model = GPT2LMHeadModel.from_pretrained(c["dir"], attn_implementation=self.attn)
        model.train()  # dropout is 0 in the bench checkpoints
        decay, no_decay = [], []
        for name, p in model.named_parameters():  # lm_head is tied to wte: listed once
            # gpt2lab's AdamW default: decay the block matrices only
            (decay if name.startswith("transformer.h.") and name.endswith(".weight") and ".ln_" not in name else no_decay).append(p)
        lr = c.get("lr", 1e-3)
        kind = c.get("optimizer", "adamw")
        if kind == "adamw":
            opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                                    lr=lr, betas=(0.9, 0.95), eps=1e-8)
        else:
            opt = OfficialOpt(model, kind, lr, c.get("periodic", 10), c.get("tokens", 1))
        d = c.get("dump")
        if d:
            with torch.no_grad():
                self.save(d["path"], {"logits": model(self.ids[d["key"]]).logits})
        self.train = (model, opt)
        self.hf = None
        return {}

    def op_train_step(self, c):
        torch = self.torch
        F = torch.nn.functional
        model, opt = self.train
        x, y = self.ids[c["x"]], self.ids[c["y"]]
        t0 = self.t()
        opt.zero_grad(set_to_none=True)
        logits = model(x).logits
        loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), y.view(-1))
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if getattr(opt, "wants_curvature", lambda: False)():
            opt.curvature_pass(x)  # SophiaG's sampled-label pass, inside the step as gpt2lab's Trainer does it
        lv = loss.item()
        return {"secs": self.t() - t0, "loss": lv, "grad_norm": float(gn)}

    def op_cache(self, c):
        torch, ids = self.torch, self.ids[c["key"]]
        with torch.inference_mode():
            t0 = self.t()
            logits, cache = self.tl.run_with_cache(ids)
            dt = self.t() - t0
        vals = list(cache.values()) if hasattr(cache, "values") else list(cache.cache_dict.values())
        logical = sum(v.numel() * v.element_size() for v in vals)
        distinct = {}
        for v in vals:
            s = v.untyped_storage()
            distinct[s.data_ptr()] = s.nbytes()
        d = c.get("dump")
        if d:
            self.save(d["path"], {"logits": logits, **{k: cache[k] for k in
                                                      ("blocks.5.hook_resid_pre", "blocks.5.attn.hook_pattern", "blocks.11.mlp.hook_post")}})
        return {"secs": dt, "entries": len(vals), "logical_bytes": logical, "distinct_bytes": sum(distinct.values())}

    def op_hook(self, c):
        torch, ids = self.torch, self.ids[c["key"]]
        store = {}

        def save_hook(act, hook):
            store[hook.name] = act
            return act

        with torch.inference_mode():
            t0 = self.t()
            self.tl.run_with_hooks(ids, fwd_hooks=[(c["hook"], save_hook)])
            dt = self.t() - t0
        return {"secs": dt, "entries": len(store)}

    def op_patch_setup(self, c):
        torch = self.torch
        kind = c["hook"]
        n_layer = self.tl.cfg.n_layers
        names = [f"blocks.{l}.{kind}" for l in range(n_layer)]
        with torch.inference_mode():
            _, cache = self.tl.run_with_cache(self.ids[c["clean"]], names_filter=lambda n: n in names)
            acts = [cache[n].clone() for n in names]
        self.patch = (self.ids[c["corrupt"]], acts, kind, c["a"], c["b"])
        return {}

    def op_patch_sweep(self, c):
        torch = self.torch
        corrupt, acts, kind, a, b = self.patch
        t = corrupt.shape[1]
        metric = torch.zeros(len(acts), t)

        def make_hook(src, p):
            def hook(act, hook):
                act[:, p, :] = src[:, p, :]
                return act
            return hook

        with torch.inference_mode():
            t0 = self.t()
            for l, src in enumerate(acts):
                for p in range(t):
                    logits = self.tl.run_with_hooks(corrupt, fwd_hooks=[(f"blocks.{l}.{kind}", make_hook(src, p))])
                    metric[l, p] = logits[0, -1, a] - logits[0, -1, b]
            dt = self.t() - t0
        d = c.get("dump")
        if d:
            self.save(d["path"], {"metric": metric})
        return {"secs": dt, "forwards": len(acts) * t}

    def op_sae_init(self, c):
        """SAELens' own training SAE and trainer on the driver's activations and initial weights."""
        from safetensors.torch import load_file
        from sae_lens import StandardTrainingSAE, StandardTrainingSAEConfig
        from sae_lens.config import SAETrainerConfig
        from sae_lens.saes.sae import SAEMetadata
        from sae_lens.training.sae_trainer import SAETrainer

        acts = load_file(c["acts"])["acts"]
        w = load_file(c["init"])
        d_in, d_sae = w["W_enc"].shape
        cfg = StandardTrainingSAEConfig(d_in=d_in, d_sae=d_sae, l1_coefficient=c["l1"],
                                        metadata=SAEMetadata(hook_name="blocks.0.hook_resid_pre", hook_layer=0))
        sae = StandardTrainingSAE(cfg)
        sae.load_state_dict({k: w[k] for k in ("W_enc", "b_enc", "W_dec", "b_dec")})
        tcfg = SAETrainerConfig(total_training_samples=1 << 40, train_batch_size_samples=c["batch"], lr=c["lr"], lr_end=c["lr"])
        self.sae = (SAETrainer(cfg=tcfg, sae=sae, data_provider=iter(())), acts, c["l1"])
        import importlib.metadata as md

        return {"sae_lens": md.version("sae-lens"), "torch": self.torch.__version__}

    def op_sae_loss(self, c):
        from sae_lens.saes.sae import TrainStepInput

        trainer, acts, l1 = self.sae
        with self.torch.no_grad():
            out = trainer.sae.training_forward_pass(TrainStepInput(sae_in=acts[: c["rows"]], coefficients={"l1": l1},
                                                                   dead_neuron_mask=None, n_training_steps=0, is_logging_step=False))
        return {"mse": out.losses["mse_loss"].item(), "l1": out.losses["l1_loss"].item()}

    def op_sae_train(self, c):
        """`steps` of SAELens' `SAETrainer._train_step` (forward, firing counts, backward, clip 1.0,
        Adam, schedulers) on shuffled batches, the loss read back every step as the fit loop's
        progress bar does."""
        torch = self.torch
        trainer, acts, _ = self.sae
        b, n = c["batch"], acts.shape[0]
        g = torch.Generator().manual_seed(c.get("seed", 0))
        t0 = self.t()
        perm, cur = torch.randperm(n, generator=g), 0
        for _ in range(c["steps"]):
            if cur + b > n:
                perm, cur = torch.randperm(n, generator=g), 0
            out = trainer._train_step(trainer.sae, acts[perm[cur:cur + b]])
            cur += b
            mse, l1 = out.losses["mse_loss"].item(), out.losses["l1_loss"].item()
            trainer.n_training_steps += 1
        return {"secs": self.t() - t0, "mse": mse, "l1": l1}

    def op_peak(self, c):
        torch = self.torch
        n = 4096
        a, b = torch.randn(n, n), torch.randn(n, n)
        best = 0.0
        for _ in range(5):
            t0 = self.t()
            torch.mm(a, b)
            best = max(best, 2 * n ** 3 / (self.t() - t0) / 1e9)
        x = torch.ones(256 << 20)
        y = torch.empty_like(x)
        copy = read = 0.0
        for _ in range(5):
            t0 = self.t()
            y.copy_(x)
            copy = max(copy, 2 * x.numel() * 4 / (self.t() - t0) / 1e9)
            t0 = self.t()
            x.sum()
            read = max(read, x.numel() * 4 / (self.t() - t0) / 1e9)
        return {"torch_sgemm_gflops": best, "torch_copy_gbs": copy, "torch_sum_read_gbs": read,
                "threads": torch.get_num_threads()}

    def op_rss(self, c):
        return rss()

    def op_threads(self, c):
        return {"torch": self.torch.get_num_threads()}


def strided(logits, stride, torch):
    t = logits.shape[1]
    if stride <= 1:
        return logits
    pos = list(range(0, t, stride))
    if pos[-1] != t - 1:
        pos.append(t - 1)
    return logits[:, pos]


def serve(attn):
    w = PyWorker(attn)
    for line in sys.stdin:
        if not line.strip():
            continue
        c = json.loads(line)
        if c["op"] == "quit":
            break
        try:
            r = getattr(w, "op_" + c["op"])(c)
            r["ok"] = True
        except Exception as e:  # reported to the driver, which stops
            import traceback

            traceback.print_exc()
            r = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(r) + "\n")
        sys.stdout.flush()


# ----------------------------------------------------------------------------- driver


class Side:
    """A worker process (Rust or Python) driven over stdin/stdout."""

    def __init__(self, label, cmd, env, log):
        self.label, self.cmd, self.env, self.log = label, cmd, env, log
        self.proc = None

    def start(self):
        self.stop()
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=open(self.log, "a"), env=self.env, text=True, bufsize=1)
        return self

    def call(self, op, **kw):
        kw["op"] = op
        self.proc.stdin.write(json.dumps(kw) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.label} worker died during `{op}` (see {self.log})")
        r = json.loads(line)
        if not r.get("ok"):
            raise RuntimeError(f"{self.label} worker: `{op}` failed: {r.get('error')} (see {self.log})")
        return r

    def stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                self.proc.stdin.write('{"op": "quit"}\n')
                self.proc.stdin.flush()
                self.proc.wait(timeout=30)
            except Exception:
                self.proc.kill()
        self.proc = None


def interleave(sides, op, warm, reps, pause, **kw):
    """Runs `op` warm + reps times on every side, alternating which goes first.
    Returns {label: [timed replies]}."""
    out = {s.label: [] for s in sides}
    for i in range(warm + reps):
        order = sides if i % 2 == 0 else list(reversed(sides))
        for s in order:
            r = s.call(op, **kw)
            if i >= warm:
                out[s.label].append(r)
            time.sleep(pause)
    return out


def med(rs, key="secs"):
    return statistics.median(r[key] for r in rs)


def maxdiff(pa, pb, keys=None):
    from safetensors.numpy import load_file

    a, b = load_file(pa), load_file(pb)
    res = {}
    for k in keys or a.keys():
        if a[k].shape != b[k].shape:
            raise RuntimeError(f"{k}: shapes differ {a[k].shape} vs {b[k].shape}")
        res[k] = float(abs(a[k].astype("float64") - b[k].astype("float64")).max())
    return res


def rand_ids(seed, b, t, vocab=VOCAB):
    import numpy as np

    return np.random.RandomState(seed).randint(0, vocab, size=(b, t)).tolist()


class Bench:
    def __init__(self, a):
        self.a = a
        self.rows = []  # table rows
        self.notes = []
        self.tmp = Path(tempfile.mkdtemp(prefix="gpt2lab-bench-", dir="/dev/shm" if Path("/dev/shm").exists() else None))
        self.log = self.tmp / "workers.log"
        self.ckpt = Path(a.ckpt_dir)
        self.big = self.ckpt / "gpt2-124m-random"
        self.tiny = self.ckpt / "tiny-random"
        # one gpt2lab side per (binary, CANDLE_NUM_THREADS value)
        self.rust_sides = []
        for label, path in a.rust_bin:
            for c in a.candle_threads:
                self.rust_sides.append((label + (f"[CNT={c}]" if len(a.candle_threads) > 1 else ""), path, c))
        self.rust_labels = [l for l, _, _ in self.rust_sides]
        self.ref_label = "reference"
        self.info = {}
        c = json.loads((self.big / "config.json").read_text())
        self.C, self.L, self.H, self.V, self.M = c["n_embd"], c["n_layer"], c["n_head"], c["vocab_size"], 4 * c["n_embd"]
        self.n_params = (self.V * self.C + c["n_positions"] * self.C
                         + self.L * (4 * self.C + 3 * self.C * self.C + 3 * self.C + self.C * self.C + self.C
                                     + 2 * self.C * self.M + self.M + self.C) + 2 * self.C)

    def rust(self, i, _cnt=None):
        label, path, cnt = self.rust_sides[i]
        env = dict(os.environ, RAYON_NUM_THREADS="2")
        if cnt != "default":
            env["CANDLE_NUM_THREADS"] = cnt
        else:
            env.pop("CANDLE_NUM_THREADS", None)
        return Side(label, [path, "--serve"], env, self.log)

    def py(self, python=None):
        env = dict(os.environ, OMP_NUM_THREADS="2", MKL_NUM_THREADS="2", TOKENIZERS_PARALLELISM="false",
                   HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TRANSFORMERS_VERBOSITY="error")
        return Side(self.ref_label, [python or sys.executable, __file__, "--serve", "--attn", self.a.attn], env, self.log)

    def p(self, *x):
        print(*x, flush=True)

    # limits -------------------------------------------------------------------------------

    def mm_params(self):
        C, M, L, V = self.C, self.M, self.L, self.V
        return L * (3 * C * C + C * C + 2 * C * M) + V * C  # matmul weights, unembedding included

    def fwd_flops(self, b, t):
        """2·N per token over the matmul weights + dense attention (QK^T and PV, full T×T)."""
        return b * t * (2 * self.mm_params() + self.L * 4 * t * self.C)

    def weight_bytes(self):
        return 4 * (self.mm_params() + self.L * (2 * 4 * self.C + 3 * self.C + self.C + self.M + self.C) + 2 * self.C)

    def peak_flops(self):
        p = self.info["peak_rust"]
        return 1e9 * max(p.get("fma_avx512_gflops") or 0, p.get("fma_avx2_gflops") or 0)

    def bw(self):
        return 1e9 * self.info["peak_rust"]["read_gbs"]

    def row(self, workload, gl, ref, limit=None, numerics="", extra=""):
        self.rows.append(dict(workload=workload, gpt2lab=gl, reference=ref, limit=limit, numerics=numerics, extra=extra))
        gls = "  ".join(f"{v * 1e3:9.1f}" for v in gl)
        ratio = "  ".join(f"{v / ref:5.2f}x" for v in gl)
        lim = "" if limit is None else f"{limit * 1e3:8.1f} ms  " + "/".join(f"{limit / g:.0%}" for g in gl) + f" / {limit / ref:.0%}"
        self.p(f"  {workload:<34} {gls} ms {ref * 1e3:9.1f} ms  {ratio}  {lim}  {numerics} {extra}")

    # workloads ----------------------------------------------------------------------------

    def peak(self, sides):
        r = sides[0].call("peak")
        q = sides[-1].call("peak")
        self.info["peak_rust"], self.info["peak_torch"] = r, q
        self.p(f"machine limits (2 threads): FMA peak AVX2 {r.get('fma_avx2_gflops', 0):.0f} GFLOP/s, "
               f"AVX-512 {r.get('fma_avx512_gflops') or 0:.0f} GFLOP/s (Rust register loops); "
               f"torch 4096^3 sgemm {q['torch_sgemm_gflops']:.0f} GFLOP/s; read bandwidth {r['read_gbs']:.1f} GB/s "
               f"(Rust 1 GiB sum), torch copy {q['torch_copy_gbs']:.1f} GB/s (read+write), torch sum {q['torch_sum_read_gbs']:.1f} GB/s")

    def header(self, title):
        self.p(f"\n== {title}")
        labels = "  ".join(f"{l:>9}" for l in self.rust_labels)
        self.p(f"  {'workload':<34} {labels}    {self.ref_label:>9}     ratio   limit     frac(gpt2lab/ref)  numerics")

    def w1_prefill(self, sides):
        self.header(f"1. prefill / full forward (reference: transformers GPT2LMHeadModel, attn={self.a.attn}, inference_mode)")
        shapes = self.a.shapes + ([(8, 1024)] if self.a.full else [])
        for b, t in shapes:
            key = f"p{b}x{t}"
            ids = rand_ids(1000 + b * t, b, t)
            for s in sides:
                s.call("set_ids", key=key, ids=ids)
            stride = 1 if b * t * self.V <= 64 << 20 else 16
            dumps = {}
            for s in sides:
                dumps[s.label] = str(self.tmp / f"{key}-{s.label}.safetensors")
                s.call("prefill", key=key, dump={"path": dumps[s.label], "stride": stride})
            d = [maxdiff(dumps[l], dumps[self.ref_label])["logits"] for l in self.rust_labels]
            num = "max|Δlogits| " + "/".join(f"{x:.1e}" for x in d) + ("" if stride == 1 else f" (every {stride}th position)")
            res = interleave(sides, "prefill", 0, self.a.reps, self.a.pause, key=key)  # the dump run warmed up
            self.row(f"prefill B={b} T={t}", [med(res[l]) for l in self.rust_labels], med(res[self.ref_label]),
                     self.fwd_flops(b, t) / self.peak_flops(), num)
        if not self.a.full:
            self.notes.append("B=8 T=1024 prefill left out (about 20-30 s a rep per side on 2 cores); run with --full")

    def w2_decode(self, sides):
        self.header("2. greedy decode, KV cache, B=1, prompt 32 (reference: transformers generate, do_sample=False)")
        prompt = rand_ids(7, 1, 32)
        for s in sides:
            s.call("set_ids", key="prompt", ids=prompt)
        for s in sides:  # warm-up with a short decode
            s.call("decode", key="prompt", n=16)
        for n in self.a.decode:
            # the first rep also checks (its logits come from a second, untimed pass) and counts
            dumps, ids, first_rep = {}, {}, {}
            for s in sides:
                dumps[s.label] = str(self.tmp / f"decode{n}-{s.label}.safetensors")
                r = s.call("decode", key="prompt", n=n, check=dumps[s.label])
                ids[s.label] = (r["ids"], r["manual_ids"])
                first_rep[s.label] = r
                time.sleep(self.a.pause)
            ref_ids = ids[self.ref_label][0]
            nums = []
            for l in self.rust_labels:
                g, manual = ids[l]
                same = g == ref_ids
                first = next((i for i, (x, y) in enumerate(zip(g, ref_ids)) if x != y), None)
                k = n if first is None else first + 1  # compare logits up to the first divergence
                from safetensors.numpy import load_file

                la, lb = load_file(dumps[l])["logits"][:k], load_file(dumps[self.ref_label])["logits"][:k]
                dl = float(abs(la.astype("float64") - lb).max())
                nums.append(f"ids {'equal' if same else f'differ from step {first}'}"
                            f"{'' if manual == g else ' (manual loop differs from generate!)'}, max|Δlogits| {dl:.1e}")
            res = interleave(list(reversed(sides)), "decode", 0, self.a.reps - 1, self.a.pause, key="prompt", n=n)
            for s in sides:
                res[s.label].insert(0, first_rep[s.label])
            # limit: prefill of the prompt (FLOP-bound) + n-1 incremental steps, each reading
            # every weight once plus the KV cache so far (memory-bound)
            kvb = sum(2 * self.L * (32 + s) * self.C * 4 for s in range(1, n))
            lim = max(self.fwd_flops(1, 32) / self.peak_flops(), self.weight_bytes() / self.bw()) \
                + ((n - 1) * self.weight_bytes() + kvb) / self.bw()
            gl = [med(res[l]) for l in self.rust_labels]
            ref = med(res[self.ref_label])
            self.row(f"decode 32+{n}", gl, ref, lim, "; ".join(nums),
                     f"[{n / gl[0]:.1f} vs {n / ref:.1f} tok/s]")

    def train_runs(self, ckpt, b, t, vocab, warm, reps, burst, **init):
        """Fresh workers on every side, the same random batches, `train_init(**init)`, then
        `warm + reps` steps run in bursts, side order alternating. Returns the per-step replies
        per side, each side's peak RSS and max|Δlogits| at init per gpt2lab side."""
        sides = [self.rust(i).start() for i in range(len(self.rust_sides))] + [self.py().start()]
        try:
            steps = warm + reps
            batches = []
            for s_ in range(steps):
                ids = rand_ids(5000 + s_, b, t + 1, vocab)
                batches.append(([r[:-1] for r in ids], [r[1:] for r in ids]))
            for s in sides:
                for i, (x, y) in enumerate(batches):
                    s.call("set_ids", key=f"x{i}", ids=x)
                    s.call("set_ids", key=f"y{i}", ids=y)
            dumps = {s.label: str(self.tmp / f"train{b}-{s.label}.safetensors") for s in sides}
            for s in sides:
                s.call("train_init", dir=str(ckpt), dump={"key": "x0", "path": dumps[s.label]}, **init)
            d0 = [maxdiff(dumps[l], dumps[self.ref_label])["logits"] for l in self.rust_labels]
            res = {s.label: [] for s in sides}
            for k, i0 in enumerate(range(0, steps, burst)):
                order = sides if k % 2 == 0 else list(reversed(sides))
                for s in order:
                    for i in range(i0, min(i0 + burst, steps)):
                        res[s.label].append(s.call("train_step", x=f"x{i}", y=f"y{i}"))
                    time.sleep(self.a.pause)
            hwm = {s.label: s.call("rss")["hwm"] for s in sides}
        finally:
            for s in sides:
                s.stop()
        return res, hwm, d0

    def tiny_train_limit(self, b, t):
        C, L, M, V = 128, 4, 512, 512
        mm = L * 12 * C * C + V * C
        return 3 * b * t * (2 * mm + L * 4 * t * C) / self.peak_flops()

    def w3_train(self):
        self.header("3. training step, AdamW (decay on block matrices), clip 1.0 (reference: PyTorch eager, same init)")
        # warm-up steps (untimed, same on both sides): gpt2lab's tiny-model steps take ~10 steps to
        # settle (the first ones run ~20% slower while malloc's heap grows to its working set)
        for name, ckpt, b, t, vocab, reps, warm in (("124M", self.big, 4, 128, self.V, self.a.reps, 2),
                                                    ("tiny 0.9M", self.tiny, 16, 64, 512, max(self.a.reps, 10), 12)):
            # a training loop runs its steps back to back: each side runs `burst` consecutive
            # steps, then the other side (order alternating). One step at a time with a pause
            # between made gpt2lab's 43 ms tiny step take ~53 ms (cores idle → cold start).
            burst = 5 if name.startswith("tiny") else 1
            res, hwm, d0 = self.train_runs(ckpt, b, t, vocab, warm, reps, burst)
            steps = warm + reps
            dloss = [max(abs(p["loss"] - q["loss"]) for p, q in zip(res[l], res[self.ref_label])) for l in self.rust_labels]
            timed = {k: v[warm:] for k, v in res.items()}
            gl = [med(timed[l]) for l in self.rust_labels]
            ref = med(timed[self.ref_label])
            # forward + backward ≈ 3 forwards of FLOPs (for the 124M shape; the tiny model uses its own sizes)
            lim = 3 * self.fwd_flops(b, t) / self.peak_flops() if name == "124M" else self.tiny_train_limit(b, t)
            num = ("max|Δlogits| at init " + "/".join(f"{x:.1e}" for x in d0)
                   + f"; max|Δloss| over {steps} steps " + "/".join(f"{x:.1e}" for x in dloss))
            tok = b * t
            extra = ("[tokens/s " + "/".join(f"{tok / g:.0f}" for g in gl) + f" vs {tok / ref:.0f}; peak RSS "
                     + "/".join(f"{hwm[l] / 2**20:.0f}" for l in self.rust_labels) + f" vs {hwm[self.ref_label] / 2**20:.0f} MiB]")
            self.row(f"train {name} B={b} T={t}", gl, ref, lim, num, extra)

    def w5_optim(self):
        self.header("5. training step per optimizer on the tiny model (reference: PyTorch eager with the transcriptions of the "
                    "official SophiaG/Muon/Conda code in scripts/make_optim_fixtures.py, same init and batches)")
        b, t, k, warm, reps = 16, 64, 10, 12, max(self.a.reps, 20)
        # learning rates of the optimizer bench's range; the step's cost does not depend on them
        for kind, lr in (("adamw", 1e-3), ("sophiag", 3e-4), ("muon", 1e-3), ("conda", 3e-3)):
            res, hwm, d0 = self.train_runs(self.tiny, b, t, 512, warm, reps, 5,
                                           optimizer=kind, lr=lr, periodic=k, tokens=b * t)
            # the periodic steps: SophiaG's curvature pass runs after steps k, 2k, … (1-based);
            # Conda's SVD at its state steps 0, k, 2k, … (0-based)
            periodic = {"sophiag": lambda i: (i + 1) % k == 0, "conda": lambda i: i % k == 0}.get(kind, lambda i: False)
            plain = {l: [r for i, r in enumerate(v) if i >= warm and not periodic(i)] for l, v in res.items()}
            per = {l: [r for i, r in enumerate(v) if i >= warm and periodic(i)] for l, v in res.items()}
            gl = [med(plain[l]) for l in self.rust_labels]
            ref = med(plain[self.ref_label])
            # SophiaG's numerics before its first curvature pass only: the sampled labels come
            # from different RNGs (Conda's SVD is deterministic: every step compares)
            first = min([i for i in range(warm + reps) if periodic(i)] + [warm + reps]) if kind == "sophiag" else warm + reps
            n_cmp = max(first, 1)
            dloss = [max(abs(p["loss"] - q["loss"]) for p, q in list(zip(res[l], res[self.ref_label]))[:n_cmp]) for l in self.rust_labels]
            num = f"max|Δlogits| at init {d0[0]:.1e}; max|Δloss| over the first {n_cmp} steps " + "/".join(f"{x:.1e}" for x in dloss)
            extra = "[tokens/s " + "/".join(f"{b * t / g:.0f}" for g in gl) + f" vs {b * t / ref:.0f}"
            if per[self.ref_label]:
                pg = [med(per[l]) for l in self.rust_labels]
                pr = med(per[self.ref_label])
                what = "curvature-pass step" if kind == "sophiag" else "SVD step"
                extra += (f"; {what} " + "/".join(f"{x * 1e3:.1f}" for x in pg) + f" vs {pr * 1e3:.1f} ms, i.e. +"
                          + "/".join(f"{(x - g) / g:.0%}" for x, g in zip(pg, gl)) + f" vs +{(pr - ref) / ref:.0%} of a step once every {k}")
            extra += "; peak RSS " + "/".join(f"{hwm[l] / 2**20:.0f}" for l in self.rust_labels) + f" vs {hwm[self.ref_label] / 2**20:.0f} MiB]"
            self.row(f"train step {kind}, tiny 0.9M B={b} T={t}", gl, ref, self.tiny_train_limit(b, t), num, extra)

    def w6_sae(self):
        self.header("6. SAE training on cached activations (reference: SAELens 6.54 StandardTrainingSAE + its SAETrainer's step, "
                    "same activations and initial weights)")
        import numpy as np
        from safetensors.numpy import save_file

        # (label, d_in, d_sae, batch, steps per rep): notebook 29's ci SAE and a GPT-2-small-width
        # residual SAE (8x) at SAELens' default batch of 4096 tokens
        for name, d, f, b, steps in (("ci d_in 64 x 512", 64, 512, 256, 200), ("124M width d_in 768 x 6144", 768, 6144, 4096, 4)):
            rng = np.random.RandomState(6)
            n = b * max(steps, 8)
            # cached "activations": sparse combinations of 4·d unit directions plus noise (what an SAE is for)
            dirs = rng.randn(4 * d, d).astype(np.float32)
            dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
            coef = rng.exponential(1.0, (n, 4 * d)).astype(np.float32) * (rng.rand(n, 4 * d) < 8 / (4 * d))
            acts = (coef @ dirs + 0.05 * rng.randn(n, d).astype(np.float32)).astype(np.float32)
            wd = rng.randn(f, d).astype(np.float32)
            wd /= np.linalg.norm(wd, axis=1, keepdims=True) * 10  # SAELens' init: decoder rows of norm 0.1, W_enc = W_dec.T
            init = {"W_enc": np.ascontiguousarray(wd.T), "b_enc": np.zeros(f, np.float32), "W_dec": wd, "b_dec": np.zeros(d, np.float32)}
            pa, pi = str(self.tmp / f"sae-acts-{d}.safetensors"), str(self.tmp / f"sae-init-{d}.safetensors")
            save_file({"acts": acts}, pa)
            save_file(init, pi)
            sides = [self.rust(i).start() for i in range(len(self.rust_sides))] + [self.py(self.a.sae_python).start()]
            try:
                for s in sides:
                    rep = s.call("sae_init", acts=pa, init=pi, l1=5.0, lr=5e-5, batch=b)
                    if "sae_lens" in rep:
                        self.info["sae_reference"] = {k: rep[k] for k in ("sae_lens", "torch")}
                l0 = {s.label: s.call("sae_loss", rows=b) for s in sides}
                r = l0[self.ref_label]
                dl = [max(abs(l0[l]["mse"] - r["mse"]) / max(abs(r["mse"]), 1e-12), abs(l0[l]["l1"] - r["l1"]) / max(abs(r["l1"]), 1e-12))
                      for l in self.rust_labels]
                res = interleave(sides, "sae_train", 1, self.a.reps, self.a.pause, steps=steps, batch=b, seed=0)
                hwm = {s.label: s.call("rss")["hwm"] for s in sides}
            finally:
                for s in sides:
                    s.stop()
            gl = [med(res[l]) / steps for l in self.rust_labels]
            ref = med(res[self.ref_label]) / steps
            # forward 2 matmuls (encode, decode), backward 4: 6 matmuls of 2·B·d·f FLOPs per step
            lim = 6 * 2 * b * d * f / self.peak_flops()
            fin = "; loss after training " + "/".join(f"{res[l][-1]['mse'] + res[l][-1]['l1']:.3f}" for l in self.rust_labels) \
                + f" vs {res[self.ref_label][-1]['mse'] + res[self.ref_label][-1]['l1']:.3f}"
            num = "rel|Δ| of the loss terms at init " + "/".join(f"{x:.1e}" for x in dl) + fin
            extra = ("[tokens/s " + "/".join(f"{b / g:.0f}" for g in gl) + f" vs {b / ref:.0f}; peak RSS "
                     + "/".join(f"{hwm[l] / 2**20:.0f}" for l in self.rust_labels) + f" vs {hwm[self.ref_label] / 2**20:.0f} MiB;"
                     " SAELens' step also clips the gradient norm to 1, gpt2lab's train_sae does not]")
            self.row(f"SAE train step {name}, B={b}", gl, ref, lim, num, extra)
        self.notes.append(f"workload 6 reference: sae-lens {self.info['sae_reference']['sae_lens']}, torch {self.info['sae_reference']['torch']} "
                          "(its own venv: sae-lens pins transformer-lens < 4)")

    def w4_interp(self, sides):
        self.header("4. interpretability (reference: TransformerLens TransformerBridge on the same weights, inference_mode)")
        t, tp = 128, 16
        ids = rand_ids(11, 1, t)
        clean, corrupt = rand_ids(12, 1, tp), rand_ids(13, 1, tp)
        for s in sides:
            s.call("set_ids", key="i", ids=ids)
            s.call("set_ids", key="clean", ids=clean)
            s.call("set_ids", key="corrupt", ids=corrupt)
        rust_sides = sides[:-1]
        dumps = {s.label: str(self.tmp / f"cache-{s.label}.safetensors") for s in sides}
        for s in sides:
            s.call("cache", key="i", dump={"path": dumps[s.label]})
        diffs = [maxdiff(dumps[l], dumps[self.ref_label]) for l in self.rust_labels]
        num = "max|Δ| " + ", ".join(f"{k.replace('blocks.', '')} {v:.1e}" for k, v in diffs[0].items())
        plain = interleave(sides, "prefill", 1, self.a.reps, self.a.pause, key="i", kind="tl")
        cache = interleave(sides, "cache", 1, self.a.reps, self.a.pause, key="i")
        hook = interleave(sides, "hook", 1, self.a.reps, self.a.pause, key="i", hook="blocks.6.hook_resid_post")
        pl = {k: med(v) for k, v in plain.items()}
        lim1 = self.fwd_flops(1, t) / self.peak_flops()
        self.row(f"plain forward B=1 T={t}", [pl[l] for l in self.rust_labels], pl[self.ref_label], lim1, num)
        for name, res in (("run_with_cache (all hooks)", cache), ("one hook (capture resid_post 6)", hook)):
            m = {k: med(v) for k, v in res.items()}
            over = "overhead vs plain " + "/".join(f"{m[l] / pl[l] - 1:+.0%}" for l in self.rust_labels) \
                + f" vs {m[self.ref_label] / pl[self.ref_label] - 1:+.0%}"
            self.row(f"{name} T={t}", [m[l] for l in self.rust_labels], m[self.ref_label], None, "", over)
        # cached bytes against the theoretical size of gpt2lab's hook set
        C, L, H, M = self.C, self.L, self.H, self.M
        theo = 4 * t * (L * (11 * C + 2 + 2 * H * t + 2 * M) + 3 * C + 1)
        c0 = {k: v[0] for k, v in cache.items()}
        r = c0[self.rust_labels[0]]
        q = c0[self.ref_label]
        self.notes.append(
            f"activation cache (B=1, T={t}): theoretical {theo / 2**20:.1f} MiB for the {2 + 17 * L + 2} TransformerLens-"
            f"standard hook points; gpt2lab holds {r['entries']} entries, {r['logical_bytes'] / 2**20:.1f} MiB by shape, "
            f"{r['distinct_bytes'] / 2**20:.1f} MiB of distinct buffers kept alive; TransformerLens holds {q['entries']} entries "
            f"(aliases and hook_in/hook_out included), {q['logical_bytes'] / 2**20:.1f} MiB by shape, "
            f"{q['distinct_bytes'] / 2**20:.1f} MiB of distinct storages")
        self.info["cache_bytes"] = {"theoretical": theo, "gpt2lab": r, "transformer_lens": q}
        # activation patching sweep
        for s in sides:
            s.call("patch_setup", clean="clean", corrupt="corrupt", hook="hook_resid_pre", a=clean[0][-1], b=corrupt[0][-1])
        # a sweep is 192 forwards, its own warm-up: no untimed rep; the first rep also writes
        # the metric (after its timing) for the numerics check
        pd = {s.label: str(self.tmp / f"patch-{s.label}.safetensors") for s in sides}
        # gpt2lab also runs its library sweep (interp::activation_patching: resumed at the patched
        # layer, one batch per layer, last position only) in the same reps, and attribution patching
        res = {s.label: [] for s in sides}
        fast = {s.label: [] for s in sides[:-1]}
        attr = {s.label: [] for s in sides[:-1]}
        fd = {s.label: str(self.tmp / f"patch-sweep-{s.label}.safetensors") for s in sides[:-1]}
        ad = {s.label: str(self.tmp / f"patch-attr-{s.label}.safetensors") for s in sides[:-1]}
        for i in range(self.a.sweep_reps):
            for s in (sides if i % 2 == 0 else list(reversed(sides))):
                res[s.label].append(s.call("patch_sweep", dump={"path": pd[s.label]} if i == 0 else None))
                time.sleep(self.a.pause)
                if s.label in fast:
                    fast[s.label].append(s.call("patch_sweep", method="sweep", dump={"path": fd[s.label]} if i == 0 else None))
                    time.sleep(self.a.pause)
                    attr[s.label].append(s.call("patch_sweep", method="attribution", dump={"path": ad[s.label]} if i == 0 else None))
                    time.sleep(self.a.pause)
        dp = [maxdiff(pd[l], pd[self.ref_label])["metric"] for l in self.rust_labels]
        dfast = [maxdiff(fd[l], pd[self.ref_label])["metric"] for l in self.rust_labels]
        fw = L * tp
        lim = fw * max(self.fwd_flops(1, tp) / self.peak_flops(), self.weight_bytes() / self.bw())
        gl = [med(res[l]) for l in self.rust_labels]
        ref = med(res[self.ref_label])
        self.row(f"patch sweep resid_pre {L}x{tp} (T={tp})", gl, ref, lim,
                 "max|Δmetric| " + "/".join(f"{x:.1e}" for x in dp),
                 f"[{gl[0] / fw * 1e3:.1f} vs {ref / fw * 1e3:.1f} ms per patched forward]")
        gf = [med(fast[l]) for l in self.rust_labels]
        self.row(f"`interp::activation_patching` resid_pre {L}x{tp} (vs TL loop)", gf, ref, None,
                 "max|Δmetric| vs TL " + "/".join(f"{x:.1e}" for x in dfast),
                 "same sweep, resumed at the patched layer, batched, last position only")
        ga = [med(attr[l]) for l in self.rust_labels]
        try:
            import numpy as np
            from safetensors.numpy import load_file
            a_ = load_file(ad[self.rust_labels[0]])["metric"].ravel()
            x_ = load_file(pd[self.ref_label])["metric"].ravel()
            r = float(np.corrcoef(a_, x_)[0, 1])
        except Exception as e:  # numerics note only
            r = float("nan")
        self.row(f"`interp::attribution_patching` resid_pre {L}x{tp} (vs TL activation loop)", ga, ref, None,
                 f"Pearson r with activation patching {r:.3f}", "1 clean + 1 corrupted forward + 1 backward")

    def run(self):
        a = self.a
        sides = [self.rust(i).start() for i in range(len(self.rust_sides))] + [self.py().start()]
        t_start = time.time()
        try:
            for s in sides:
                s.call("load", dir=str(self.big), kind="hf")
            self.info["threads"] = {s.label: s.call("threads") for s in sides}
            self.peak(sides)
            if "1" in a.workloads:
                self.w1_prefill(sides)
            if "2" in a.workloads:
                self.w2_decode(sides)
            if "4" in a.workloads:
                sides[-1].call("load", dir=str(self.big), kind="tl")
                self.w4_interp(sides)
        finally:
            for s in sides:
                s.stop()
        if "3" in a.workloads:
            self.w3_train()
        if "5" in a.workloads:
            self.w5_optim()
        if "6" in a.workloads:
            self.w6_sae()
        self.info["wall_s"] = time.time() - t_start
        self.finish()

    def finish(self):
        self.p("\nnotes:")
        for n in self.notes:
            self.p("  - " + n)
        self.p(f"  - ratio = gpt2lab time / reference time (below 1: gpt2lab faster); limit = time at the measured "
               f"machine limit; frac = limit / measured time. Wall time of the run {self.info['wall_s']:.0f} s.")
        if self.a.json:
            Path(self.a.json).write_text(json.dumps(dict(rows=self.rows, notes=self.notes, info=self.info, env=env_info(),
                                                         args=vars(self.a)), indent=1, default=str))
            self.p(f"results: {self.a.json}")
        if self.a.markdown:
            Path(self.a.markdown).write_text(self.markdown())
            self.p(f"markdown table: {self.a.markdown}")

    def markdown(self):
        cols = self.rust_labels
        out = ["| workload | " + " | ".join(f"{c} (ms)" for c in cols) + " | reference (ms) | ratio | limit (ms) | fraction of limit, gpt2lab / ref | numerics | notes |",
               "|---|" + "---:|" * len(cols) + "---:|---:|---:|---:|---|---|"]
        for r in self.rows:
            ratio = " / ".join(f"{g / r['reference']:.2f}" for g in r["gpt2lab"])
            lim = "" if r["limit"] is None else f"{r['limit'] * 1e3:.1f}"
            frac = "" if r["limit"] is None else " / ".join(f"{r['limit'] / g:.0%}" for g in r["gpt2lab"]) + f" / {r['limit'] / r['reference']:.0%}"
            esc = lambda x: x.replace("|", "\\|")
            out.append(f"| {r['workload']} | " + " | ".join(f"{g * 1e3:.1f}" for g in r["gpt2lab"])
                       + f" | {r['reference'] * 1e3:.1f} | {ratio} | {lim} | {frac} | {esc(r['numerics'])} | {esc(r['extra'])} |")
        return "\n".join(out) + "\n"


def env_info():
    import importlib.metadata as md

    def v(p):
        try:
            return md.version(p)
        except Exception:
            return None

    try:
        load = os.getloadavg()
    except OSError:
        load = None
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("model name")), "?")
    return {"date": datetime.datetime.now().isoformat(timespec="seconds"), "cpu": cpu, "nproc": os.cpu_count(),
            "mem_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "loadavg_at_end": load, "python": platform.python_version(),
            "torch": v("torch"), "transformers": v("transformers"), "transformer_lens": v("transformer-lens"),
            "safetensors": v("safetensors"), "numpy": v("numpy")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--serve", action="store_true", help="run as the Python worker")
    ap.add_argument("--attn", default="sdpa", choices=["sdpa", "eager"],
                    help="transformers attention implementation for workloads 1-3 (default: sdpa, transformers' default)")
    ap.add_argument("--rust-bin", action="append", default=[],
                    help="a benches/inference.rs executable, as PATH or LABEL=PATH; repeat for more gpt2lab columns")
    ap.add_argument("--ckpt-dir", default=str(HOME / "bench"))
    ap.add_argument("--sae-python", help="the Python (a venv with sae-lens) of workload 6's reference worker (default: this one)")
    ap.add_argument("--workloads", default="1,2,3,4,5,6", help="1 prefill, 2 decode, 3 training, 4 interpretability, 5 training step per optimizer, 6 SAE training")
    ap.add_argument("--reps", type=int, default=5, help="timed reps per workload (median); at least 5 for the table")
    ap.add_argument("--sweep-reps", type=int, default=5, help="timed reps of the patching sweep")
    ap.add_argument("--decode", default="128,512", help="new-token counts for workload 2")
    ap.add_argument("--shapes", default="1x128,8x128,1x1024", help="BxT prefill shapes for workload 1")
    ap.add_argument("--full", action="store_true", help="also prefill B=8 T=1024")
    ap.add_argument("--candle-threads", default="default",
                    help="comma list of CANDLE_NUM_THREADS values, one gpt2lab column each ('default': gpt2lab's own)")
    ap.add_argument("--pause", type=float, default=0.05, help="seconds between sides (lets idle threads park)")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--markdown", help="write the markdown table here")
    a = ap.parse_args()
    if a.serve:
        serve(a.attn)
        return
    if not a.rust_bin:
        ap.error("--rust-bin is needed (scripts/bench.sh finds it)")
    a.workloads = set(a.workloads.split(","))
    a.decode = [int(x) for x in a.decode.split(",")]
    a.shapes = [tuple(int(v) for v in x.split("x")) for x in a.shapes.split(",")]
    a.candle_threads = a.candle_threads.split(",")
    a.rust_bin = [tuple(x.split("=", 1)) if "=" in x else ("gpt2lab", x) for x in a.rust_bin]
    e = env_info()
    print(f"gpt2lab side-by-side benchmarks, {e['date']}: {e['cpu']}, {e['nproc']} CPUs, {e['mem_gib']} GiB; "
          f"python {e['python']}, torch {e['torch']}, transformers {e['transformers']}, "
          f"transformer_lens {e['transformer_lens']}; load average {os.getloadavg()[0]:.2f}", flush=True)
    Bench(a).run()


if __name__ == "__main__":
    main()
