#!/usr/bin/env python3
"""Notebook latency, what a JupyterLab user waits for: kernel start, a trivial cell, the tour.

    scripts/latency.py [--reps 7] [--no-tour] [--json PATH]

Starts the gpt2lab kernel headless (nbclient, as scripts/run_notebooks.py does), times

- kernel start: from launching the kernel to the end of its first cell (the runner's sentinel,
  which touches the gpt2lab crate: what a user's first cell pays);
- trivial cell: `let x = 1 + 1;` and then `x + 1` (a cell that evaluates), `--reps` each, median;
  the first `let` on its own too (it pays evcxr's first type query, see vendor/evcxr/README.md);
  with evcxr's `:timing` on, the kernel's own breakdown (compile / link / load …) of one such
  cell is printed — the profile that says where a trivial cell's time goes;
- the tour: notebooks/00-tour.ipynb end to end through the runner (kernel start included);

and the same first two for the Python kernel (ipykernel in the same venv) as the reference a
Python user is used to. Wall-clock times from this process (time.monotonic); medians.
Not part of `cargo test`; the numbers go in README's Benchmarks with the machine and load named.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

_VENV_PY = Path(os.environ.get("GPT2LAB_HOME") or Path.home() / ".cache" / "gpt2lab") / "venv" / "bin" / "python"
try:
    import nbclient  # noqa: F401
except ImportError:  # not the venv: re-exec there (as run_notebooks.py does)
    if _VENV_PY.exists():
        os.execv(str(_VENV_PY), [str(_VENV_PY), str(Path(__file__).resolve()), *sys.argv[1:]])
    sys.exit(f"latency: nbclient not found (looked in {_VENV_PY}); run scripts/setup.sh first")
sys.path.insert(0, str(Path(__file__).resolve().parent))
import run_notebooks as rn  # noqa: E402

import nbformat  # noqa: E402
from nbclient import NotebookClient  # noqa: E402


def time_kernel(kernel: str, first: str, trivial: list[str], reps: int, profile: str | None, env: dict) -> dict:
    nb = nbformat.v4.new_notebook()
    client = NotebookClient(nb, kernel_name=kernel, timeout=600, startup_timeout=600)
    out: dict = {"kernel": kernel}

    def run(src: str) -> tuple[float, str]:
        cell = nbformat.v4.new_code_cell(src)
        nb.cells.append(cell)
        c0 = time.monotonic()
        client.execute_cell(cell, len(nb.cells) - 1)
        dt = time.monotonic() - c0
        return dt, rn.cell_text(cell)

    t0 = time.monotonic()
    with client.setup_kernel(env=env):
        out["kernel_ready_s"] = time.monotonic() - t0
        dt, _ = run(first)
        out["kernel_start_s"] = time.monotonic() - t0
        out["first_cell_s"] = dt
        for i, src in enumerate(trivial):
            ts = [run(src.format(i=i, r=r))[0] for r in range(reps)]
            out[f"trivial_{i}_s"] = statistics.median(ts)
            out[f"trivial_{i}_all"] = [round(t, 3) for t in ts]
        if profile:
            # evcxr's `:timing` reports its own eval time (compile + link + load + run) as an
            # html "Took N ms" result; the rest of the wall time is the kernel's messaging
            run(":timing")
            evals, walls = [], []
            for r in range(reps):
                cell = nbformat.v4.new_code_cell(profile.format(r=r))
                nb.cells.append(cell)
                c0 = time.monotonic()
                client.execute_cell(cell, len(nb.cells) - 1)
                walls.append(time.monotonic() - c0)
                html = " ".join(str(o.get("data", {}).get("text/html", "")) for o in cell.outputs)
                m = re.search(r"Took (\d+)ms", html)
                if m:
                    evals.append(int(m.group(1)) / 1e3)
            out["profile_wall_s"] = statistics.median(walls)
            out["profile_eval_s"] = statistics.median(evals) if evals else None
    return out


def tour_profile(cell_times: list[dict], trace: Path) -> list[dict]:
    """The runner's per-cell wall times beside the phases the patched evcxr traced for each
    evaluated cell ("cell phases: Analysis a, Final compile b, Execution c", each phase's own
    seconds; a retry after a compile error adds a phase named by its fix, counted here as
    compile). A cell evcxr answers without compiling has no phases line, and would pair up
    wrongly; the pairing assumes none."""
    if not trace.exists():
        return []
    phases = []
    for line in trace.read_text().splitlines():
        if " cell phases: " not in line:
            continue
        d = {}
        for part in line.split(" cell phases: ", 1)[1].split(", "):
            name, _, secs = part.rpartition(" ")
            d[name] = float(secs)
        phases.append(d)
    # the kernel's start-up cells and the runner's start sentinel come first, its end sentinel
    # last: the notebook's cells are the len(cell_times) before that one
    n = len(cell_times)
    phases = phases[-(n + 1):-1] if len(phases) >= n + 1 else phases
    if len(phases) != n:
        print(f"  (tour trace: {len(phases)} traced cells for {len(cell_times)} timed ones; not paired)")
        return [{"index": c["index"], "wall_s": c["seconds"]} for c in cell_times]
    out = []
    for c, d in zip(cell_times, phases):
        an, run = d.get("Analysis", 0.0), d.get("Execution", 0.0)
        comp = sum(d.values()) - an - run
        out.append({"index": c["index"], "wall_s": c["seconds"], "analysis_s": round(an, 3),
                    "compile_s": round(comp, 3), "run_s": round(run, 3)})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--no-tour", action="store_true")
    ap.add_argument("--json")
    a = ap.parse_args()
    env = rn.kernel_env("ci")
    load = os.getloadavg()[0]
    res = {"load_at_start": load}
    res["gpt2lab"] = time_kernel(
        rn.KERNEL, rn.SENTINEL,
        ["let x_{i}_{r} = 1 + 1;", "x_0_0 + {r}"], a.reps, "let y_{r} = x_0_0 * 2; y_{r}", env)
    res["python"] = time_kernel("python3", "import sys", ["x_{i}_{r} = 1 + 1", "x_0_0 + {r}"], a.reps, None, env)
    if not a.no_tour:
        # the patched evcxr traces each cell's phases (analysis, compile, run) to this file
        trace = rn.REPO / "target" / "notebooks" / "tour-trace.txt"
        trace.parent.mkdir(parents=True, exist_ok=True)
        trace.unlink(missing_ok=True)
        os.environ["EVCXR_ANALYZER_TRACE"] = str(trace)
        try:
            r = rn.run_notebook(rn.REPO / "notebooks" / "00-tour.ipynb", rn.REPO / "target" / "notebooks", "ci", 1800, 600, False)
        finally:
            del os.environ["EVCXR_ANALYZER_TRACE"]
        res["tour"] = {"status": r["status"], "total_s": r["total_s"], "kernel_start_s": r.get("kernel_start_s"),
                       "cells_s": round(sum(c["seconds"] for c in r["cell_times"]), 1),
                       "cells": tour_profile(r["cell_times"], trace)}
    res["load_at_end"] = os.getloadavg()[0]
    g, p = res["gpt2lab"], res["python"]
    print(f"notebook latency (load {load:.2f} at start, {res['load_at_end']:.2f} at end), median of {a.reps}:")
    print(f"  kernel start (to the end of the first cell): gpt2lab {g['kernel_start_s']:.2f} s "
          f"(ready {g['kernel_ready_s']:.2f} s + first cell {g['first_cell_s']:.2f} s), python {p['kernel_start_s']:.2f} s")
    print(f"  a kernel's first `let x = 1 + 1;` (evcxr's first type query): gpt2lab {g['trivial_0_all'][0]:.3f} s, "
          f"python {p['trivial_0_all'][0]:.3f} s")
    print(f"  trivial cell `let x = 1 + 1;`: gpt2lab {g['trivial_0_s']:.3f} s, python {p['trivial_0_s']:.3f} s")
    print(f"  trivial cell `x + 1` (evaluates): gpt2lab {g['trivial_1_s']:.3f} s, python {p['trivial_1_s']:.3f} s")
    if "tour" in res:
        t = res["tour"]
        print(f"  00-tour: {t['status']}, {t['total_s']} s total (kernel start {t['kernel_start_s']} s, cells {t['cells_s']} s)")
    if "tour" in res and res["tour"]["cells"]:
        print("  00-tour per cell (s): wall = analysis + compile + run + the kernel's messaging; "
              "analysis is evcxr's type query, compile is cargo + rustc + link")
        for c in res["tour"]["cells"]:
            print(f"    cell {c['index']:>2}: wall {c['wall_s']:6.2f}  analysis {c.get('analysis_s', float('nan')):5.2f}  "
                  f"compile {c.get('compile_s', float('nan')):5.2f}  run {c.get('run_s', float('nan')):5.2f}")
    if g.get("profile_eval_s") is not None:
        print(f"  `let y_r = x_0_0 * 2; y_r` with evcxr's :timing: wall {g['profile_wall_s']:.3f} s, of it evcxr's eval "
              f"(compile + link + load + run) {g['profile_eval_s']:.3f} s")
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
