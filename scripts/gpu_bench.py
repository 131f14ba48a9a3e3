#!/usr/bin/env python3
"""Benchmark workloads 1 (prefill) and 3 (training step) on a GPU: gpt2lab (candle's CUDA
backend, `examples/gpu_bench.rs`) beside PyTorch/transformers on the same random GPT-2 124M
checkpoint, the same token ids, the same AdamW, in f32, TF32 and bf16.

    gpu_bench save /tmp/ck                            # the Rust binary writes the checkpoint
    python3 scripts/gpu_bench.py --rust ./gpu_bench --ckpt /tmp/ck --out OUTDIR [--quick]

Writes OUTDIR/gpu_bench.{jsonl,md}. The device machine has PyTorch and transformers but no Rust:
build the binary elsewhere (README, Benchmarks, GPU, says how) and carry it.

Protocol, both sides alike: the device is synchronised before and after each rep (a forward
under inference mode; or a whole optimizer step: forward, f32 cross-entropy, backward,
clip_grad_norm(1.0), AdamW lr 1e-3 betas 0.9/0.95 eps 1e-8, weight decay 0.1 on the block
matrices only, and the loss read back); median of 10 reps after 3 warm-ups. bf16 inference
runs bf16 weights; bf16 training is `torch.autocast(bfloat16)` over f32 weights (gpt2lab: a
differentiable bf16 cast of the f32 weights each step). PyTorch runs transformers' default
attention (`sdpa`: flash / memory-efficient kernels), eager; `torch.compile` once, last, for
the bf16 training step, if time is left. The sides run one after the other (gpt2lab first).

MFU: model FLOPs per token = 2 x (matmul weights, unembedding included) + 4 T d per layer
(dense attention), x3 for a training step, over the datasheet's dense peak for the precision
(H200 SXM: fp32 67, TF32 494.7, bf16 989.4 TFLOP/s); "of measured" uses this run's own largest
matmul rate in that precision instead.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VOCAB = 50257
DEV = "cuda"  # --cpu: a dry run of the whole protocol without a GPU
_MODELS = {}
PEAK = {"f32": 67e12, "tf32": 494.7e12, "bf16": 989.4e12}  # NVIDIA H200 SXM datasheet, dense


def ids(b, t, salt):
    import torch

    i = torch.arange(b * t, dtype=torch.int64)
    v = ((i // t) * 1_000_003 + (i % t) * 7919 + salt * 104_729 + 17) % VOCAB
    return v.view(b, t)


def set_prec(torch, prec):
    on = prec == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = on
    torch.backends.cudnn.allow_tf32 = on


def sync(torch):
    if DEV == "cuda":
        torch.cuda.synchronize()


def sync_time(torch, fn):
    sync(torch)
    t0 = time.perf_counter()
    r = fn()
    sync(torch)
    return (time.perf_counter() - t0) * 1e3, r


def load(ckpt, dtype):
    import torch
    from transformers import GPT2LMHeadModel

    m = GPT2LMHeadModel.from_pretrained(ckpt, torch_dtype=dtype)
    for mod in m.modules():  # dropout off whatever the checkpoint's config said
        if isinstance(mod, torch.nn.Dropout):
            mod.p = 0.0
    return m.to(DEV)


def torch_prefill(ckpt, prec, b, t, reps, dump):
    import torch

    set_prec(torch, prec)
    dt = torch.bfloat16 if prec == "bf16" else torch.float32
    if dt not in _MODELS:  # one copy per dtype for all prefill rows
        _MODELS[dt] = load(ckpt, dt).eval()
    m = _MODELS[dt]
    x = ids(b, t, 0).to(DEV)
    with torch.inference_mode():
        for _ in range(3):
            m(x)
        ms, out = [], None
        for _ in range(reps):
            dt, out = sync_time(torch, lambda: m(x).logits)
            ms.append(dt)
    r = {"side": "pytorch", "workload": "prefill", "prec": prec, "b": b, "t": t, "ms": statistics.median(ms), "reps": ms}
    if dump and b == 1:
        r["last"] = out[0, -1].float().cpu()
    return r


def torch_train(ckpt, prec, b, t, steps, warm, compiled=False):
    import torch
    import torch.nn.functional as F

    set_prec(torch, prec)
    m = load(ckpt, torch.float32).train()
    decay, no_decay = [], []
    for name, p in m.named_parameters():
        (decay if name.startswith("transformer.h.") and name.endswith(".weight") and ".ln_" not in name else no_decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.95), eps=1e-8)
    fwd = torch.compile(m) if compiled else m

    def step(x, y):
        if prec == "bf16":
            with torch.autocast(DEV, dtype=torch.bfloat16):
                logits = fwd(x).logits
        else:
            logits = fwd(x).logits
        loss = F.cross_entropy(logits.float().view(-1, VOCAB), y.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()

    ms, losses = [], []
    for s in range(warm + steps):
        seq = ids(b, t + 1, s).to(DEV)
        x, y = seq[:, :t].contiguous(), seq[:, 1:].contiguous()
        dt, loss = sync_time(torch, lambda: step(x, y))
        if s >= warm:
            ms.append(dt)
        losses.append(loss)
    peak = torch.cuda.max_memory_allocated() if DEV == "cuda" else 0
    del m, opt, fwd
    if DEV == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    side = "pytorch-compiled" if compiled else "pytorch"
    return {"side": side, "workload": "train", "prec": prec, "b": b, "t": t, "ms": statistics.median(ms), "reps": ms, "losses": losses, "peak_mem": peak}


def matmul_peak(prec):
    """This run's matmul rate in one precision (TFLOP/s): the largest of a few square sizes."""
    import torch

    set_prec(torch, prec)
    dt = torch.bfloat16 if prec == "bf16" else torch.float32
    best = 0.0
    for n in (4096, 8192) if DEV == "cuda" else (256,):
        a, b = torch.randn(n, n, device=DEV, dtype=dt), torch.randn(n, n, device=DEV, dtype=dt)
        for _ in range(3):
            a @ b
        k = 10 if prec != "f32" else 3
        ms, _ = sync_time(torch, lambda: [a @ b for _ in range(k)])
        best = max(best, 2 * n**3 * k / (ms / 1e3))
    return best


def flops_per_token(t, train, L=12, d=768, V=VOCAB):
    n = L * 12 * d * d + V * d
    f = 2 * n + 4 * t * d * L
    return 3 * f if train else f


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rust")
    ap.add_argument("--ckpt")
    ap.add_argument("--table-from", help="only re-render the table from a gpu_bench.jsonl of an earlier run")
    ap.add_argument("--out", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--cpu", action="store_true", help="dry run on the CPU (protocol check, not a benchmark)")
    ap.add_argument("--budget-s", type=float, default=420, help="skip torch.compile past this many seconds")
    a = ap.parse_args()
    if a.table_from:
        lines = [json.loads(l) for l in Path(a.table_from).read_text().splitlines() if l.strip()]
        Path(a.out).mkdir(parents=True, exist_ok=True)
        return render(lines[1:], lines[0]["env"], lines[0]["matmul_flops"], Path(a.out))
    if not (a.rust and a.ckpt):
        ap.error("--rust and --ckpt are needed to run")
    t_start = time.time()
    global DEV
    DEV = "cpu" if a.cpu else "cuda"
    import torch

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    dump = Path(tempfile.mkdtemp(prefix="gpu_bench_dump"))  # logits files stay out of OUTDIR
    rows = []
    env = {"torch": torch.__version__, "cuda": torch.version.cuda, "gpu": torch.cuda.get_device_name(0) if DEV == "cuda" else "none (--cpu)"}
    try:
        import transformers

        env["transformers"] = transformers.__version__
    except Exception:
        pass
    print("==", env, flush=True)

    precs = ["f32", "tf32", "bf16"]
    pre = [(1, 16)] if a.quick else [(1, 128), (8, 128), (1, 1024), (8, 1024)]
    trn = [(2, 16)] if a.quick else [(4, 128), (8, 1024)]
    reps, steps, warm = (2, 2, 1) if a.quick else (10, 10, 3)

    # gpt2lab first, one process per configuration (a CUDA fault poisons its process's context)
    rj = out / "rust.jsonl"
    rj.unlink(missing_ok=True)
    t0 = time.time()
    for wl, shapes in (("prefill", pre), ("train", trn)):
        for b, t in shapes:
            for pr in precs:
                one = dump / f"rust-{wl}-{pr}-{b}x{t}.jsonl"
                cmd = [a.rust, "run", "--ckpt", a.ckpt, "--out", str(one), "--dump", str(dump), "--device", DEV,
                       "--only", f"{wl}:{pr}:{b}x{t}"] + (["--quick"] if a.quick else [])
                p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                got = [json.loads(l) for l in one.read_text().splitlines() if l.strip()] if one.exists() else []
                if not got:
                    got = [{"side": "gpt2lab", "workload": wl, "prec": pr, "b": b, "t": t, "error": f"rc {p.returncode}: {p.stderr[-300:]}"}]
                for r in got:
                    if "error" in r:
                        r["error"] = r["error"].split("\n")[0]  # the backtrace of a stripped binary says nothing
                    print(json.dumps({k: v for k, v in r.items() if k != "reps"}), flush=True)
                    with open(rj, "a") as f:
                        f.write(json.dumps(r) + "\n")
                rows += got
    print(f"== gpt2lab side: {time.time() - t0:.0f} s", flush=True)
    t0 = time.time()
    for b, t in pre:
        for pr in precs:
            try:
                r = torch_prefill(a.ckpt, pr, b, t, reps, True)
            except Exception as e:  # keep going: one failing configuration is a row, not the run
                r = {"side": "pytorch", "workload": "prefill", "prec": pr, "b": b, "t": t, "error": repr(e)}
            last = r.pop("last", None)
            f = dump / f"rust_prefill_{pr}_{b}x{t}.safetensors"
            if last is not None and f.exists():
                from safetensors.torch import load_file

                rl = load_file(str(f))["logits"][0]
                r["max_abs_dlogits"] = float((rl - last).abs().max())
            print(json.dumps(r), flush=True)
            rows.append(r)
    for b, t in trn:
        for pr in precs:
            try:
                r = torch_train(a.ckpt, pr, b, t, steps, warm)
            except Exception as e:
                r = {"side": "pytorch", "workload": "train", "prec": pr, "b": b, "t": t, "error": repr(e)}
            print(json.dumps(r), flush=True)
            rows.append(r)
    print(f"== pytorch side: {time.time() - t0:.0f} s", flush=True)
    limits = {}
    for pr in precs:
        limits[pr] = matmul_peak(pr)
    print("== matmul TFLOP/s", {k: round(v / 1e12, 1) for k, v in limits.items()}, flush=True)
    if not a.quick and time.time() - t_start < a.budget_s:
        b, t = trn[-1]
        try:
            t0 = time.time()
            r = torch_train(a.ckpt, "bf16", b, t, steps, warm, compiled=True)
            r["compile_and_run_s"] = time.time() - t0
        except Exception as e:
            r = {"side": "pytorch-compiled", "workload": "train", "prec": "bf16", "b": b, "t": t, "error": repr(e)}
        print(json.dumps(r), flush=True)
        rows.append(r)

    with open(out / "gpu_bench.jsonl", "w") as f:
        f.write(json.dumps({"env": env, "matmul_flops": limits}) + "\n")
        for r in rows:
            f.write(json.dumps(r) + "\n")
    render(rows, env, limits, out)


def render(rows, env, limits, out):
    md = [f"GPU: {env.get('gpu')}; torch {env.get('torch')} (CUDA {env.get('cuda')}), transformers {env.get('transformers')}; "
          f"measured matmul TFLOP/s: " + ", ".join(f"{k} {v / 1e12:.1f}" for k, v in limits.items()), "",
          "| workload | precision | gpt2lab ms | PyTorch ms | ratio | MFU gpt2lab / PyTorch | of measured | numerics |",
          "|---|---|---:|---:|---:|---:|---:|---|"]
    key = lambda r: (r["workload"], r["prec"], r["b"], r["t"])
    by = {}
    for r in rows:
        by.setdefault(r["side"], {})[key(r)] = r
    for k in sorted(by.get("gpt2lab", {}), key=lambda k: (k[0], k[2] * k[3], ["f32", "tf32", "bf16"].index(k[1]))):
        g, p = by["gpt2lab"][k], by.get("pytorch", {}).get(k, {})
        wl, pr, b, t = k
        name = f"{'prefill' if wl == 'prefill' else 'training step'} B={b} T={t}"
        if "error" in g or "error" in p:
            md.append(f"| {name} | {pr} | {g.get('ms', 'error')} | {p.get('ms', 'error')} | | | | {g.get('error', '')} {p.get('error', '')} |")
            continue
        fl = flops_per_token(t, wl == "train") * b * t
        mfu = lambda ms: fl / (ms / 1e3) / PEAK[pr]
        ofm = lambda ms: fl / (ms / 1e3) / limits[pr]
        num = ""
        if "max_abs_dlogits" in p:
            num = f"max |Δlogits| (last position) {p['max_abs_dlogits']:.2g}"
        if "losses" in g and "losses" in p:
            n = min(len(g["losses"]), len(p["losses"]))
            # a non-finite loss is written as JSON null
            fin = [(x, y) for x, y in zip(g["losses"][:n], p["losses"][:n]) if x is not None and y is not None]
            d = [abs(x - y) for x, y in fin]
            num = f"loss step 0 {g['losses'][0]:.4f} vs {p['losses'][0]:.4f}; max |Δloss| over {len(fin)} steps {max(d):.2g}"
            if len(fin) < n:
                num += f"; gpt2lab's loss non-finite from step {next(i for i, x in enumerate(g['losses']) if x is None)}"
            if "peak_mem" in p:
                num += f"; torch peak mem {p['peak_mem'] / 2**30:.1f} GiB"
        md.append(f"| {name} | {pr} | {g['ms']:.2f} | {p['ms']:.2f} | **{g['ms'] / p['ms']:.2f}** | {mfu(g['ms']):.1%} / {mfu(p['ms']):.1%} "
                  f"| {ofm(g['ms']):.1%} / {ofm(p['ms']):.1%} | {num} |")
    c = by.get("pytorch-compiled", {})
    for k, r in c.items():
        if "ms" in r:
            fl = flops_per_token(k[3], True) * k[2] * k[3]
            md.append(f"| training step B={k[2]} T={k[3]}, PyTorch `torch.compile` | bf16 | | {r['ms']:.2f} | | MFU {fl / (r['ms'] / 1e3) / PEAK['bf16']:.1%} | | compile + run {r.get('compile_and_run_s', 0):.0f} s |")
        else:
            md.append(f"| training step, PyTorch `torch.compile` | bf16 | | error | | | | {r.get('error')} |")
    (out / "gpu_bench.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    sys.exit(main())
