#!/usr/bin/env python3
"""Headless notebook runner for gpt2lab.

    scripts/run_notebooks.py                       # every notebooks/*.ipynb at ci scale
    scripts/run_notebooks.py notebooks/00-tour.ipynb --scale full
    scripts/run_notebooks.py --check-clean         # committed notebooks: no outputs, stable ids
    scripts/run_notebooks.py --clean notebooks/x.ipynb   # strip outputs in place (keeps ids)
    scripts/run_notebooks.py --prebuild            # compile the library for the kernel once

Executes each notebook in a fresh gpt2lab kernel (evcxr_jupyter, installed by
scripts/setup.sh) through nbclient, with GPT2LAB_SCALE=ci unless told otherwise and a
per-notebook time limit, and writes the executed notebooks and their HTML renderings under
target/notebooks/ with a timing table (timings.md, summary.json).

A notebook fails, and the runner exits non-zero naming the notebook and the cell, on a compile
error, a panic (including a failed assert! or claim), an error returned with `?`, a timeout,
or a dead kernel. Plain nbconvert misses the middle two: evcxr catches panics and prints `?`
errors to stderr while the cell "succeeds". Here the kernel runs with GPT2LAB_RUNNER=1, which
makes gpt2lab's kernel prelude (gpt2lab::notebook::kernel_init) turn both into an abort of
the kernel's worker process that nbclient sees as a cell error; the runner checks that those
hooks are armed before the first cell and that the worker is still the same process after
the last, and also scans every output for failure markers and panic messages.

Runs with the venv's Python ($GPT2LAB_HOME/venv); started with another Python it re-executes
itself there.
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GPT2LAB_HOME = Path(os.environ.get("GPT2LAB_HOME") or Path.home() / ".cache" / "gpt2lab")
VENV_PY = GPT2LAB_HOME / "venv" / "bin" / "python"

try:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
except ImportError:  # not the venv: re-exec there
    if VENV_PY.exists() and Path(sys.prefix).resolve() != (GPT2LAB_HOME / "venv").resolve():
        os.execv(str(VENV_PY), [str(VENV_PY), str(Path(__file__).resolve()), *sys.argv[1:]])
    sys.exit(f"run_notebooks: nbclient/nbformat not found (looked in {VENV_PY}); run scripts/setup.sh first")

KERNEL = "gpt2lab"
FAILURE_MARKER = "GPT2LAB_RUNNER_FAILURE:"
ARMED_MARKER = "GPT2LAB_RUNNER_ARMED"
SENTINEL = "gpt2lab::notebook::runner_armed();"
# Text that means a cell failed even when the kernel says it is fine.
FAILURE_PATTERNS = [
    (re.compile(re.escape(FAILURE_MARKER) + r".*"), None),
    (re.compile(r"thread '[^']*' panicked at .*"), "panic"),
    (re.compile(r"EVCXR_PANIC_NOTIFICATION"), "panic (caught by evcxr)"),
    (re.compile(r"EVCXR_ERROR_OCCURRED"), "`?` error"),
    (re.compile(r"Subprocess terminated with status.*"), "kernel worker died"),
]
CELL_ID_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


# ----------------------------------------------------------------------------------------------
# committed-notebook hygiene


def canonical(nb) -> str:
    return nbformat.writes(nb) + "\n"


def check_clean(paths: list[Path]) -> list[str]:
    """Problems that keep a committed notebook from being clean (empty list: clean)."""
    problems = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        try:
            nb = nbformat.reads(text, as_version=4)
            nbformat.validate(nb)
        except Exception as e:  # noqa: BLE001 - report any parse/validation failure
            problems.append(f"{path}: not a valid notebook: {e}")
            continue
        if (nb.nbformat, nb.nbformat_minor) < (4, 5):
            problems.append(f"{path}: nbformat {nb.nbformat}.{nb.nbformat_minor} has no cell ids; needs 4.5+ (run --clean)")
        ks = nb.metadata.get("kernelspec", {}).get("name")
        if ks != KERNEL:
            problems.append(f"{path}: metadata.kernelspec.name is {ks!r}, expected {KERNEL!r}")
        seen = set()
        for i, cell in enumerate(nb.cells):
            cid = cell.get("id")
            if not cid or not CELL_ID_RE.match(cid):
                problems.append(f"{path}: cell {i} has no valid id ({cid!r}; run --clean)")
            elif cid in seen:
                problems.append(f"{path}: cell {i} repeats id {cid!r}")
            seen.add(cid)
            if cell.cell_type == "code":
                if cell.get("outputs"):
                    problems.append(f"{path}: cell {i} ({cid}) has outputs (run --clean)")
                if cell.get("execution_count") is not None:
                    problems.append(f"{path}: cell {i} ({cid}) has an execution_count (run --clean)")
            if "execution" in cell.get("metadata", {}):
                problems.append(f"{path}: cell {i} ({cid}) has execution timing metadata (run --clean)")
    return problems


PAIRED_FORMATS = "ipynb,src//rs:percent"


def paired_source(path: Path, nb) -> Path | None:
    """The jupytext-paired readable source of a notebook (notebooks/src/<name>.rs), if paired."""
    formats = nb.metadata.get("jupytext", {}).get("formats")
    if not formats:
        return None
    if formats != PAIRED_FORMATS:
        raise ValueError(f"{path}: jupytext formats {formats!r}; this repository pairs as {PAIRED_FORMATS!r}")
    return path.parent / "src" / (path.stem + ".rs")


def cells_of(nb) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip("\n")) for c in nb.cells]


def check_paired(paths: list[Path]) -> list[str]:
    """Every paper notebook is paired with its notebooks/src/*.rs, and the two hold the same
    cells (CI fails when they drift; `--sync` brings them together)."""
    import jupytext

    problems = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        try:
            src = paired_source(path, nb)
        except ValueError as e:
            problems.append(str(e))
            continue
        if src is None:
            if path.parent.name == "notebooks":
                problems.append(f"{path}: not paired with notebooks/src/{path.stem}.rs (run --pair)")
            continue
        if not src.exists():
            problems.append(f"{path}: its paired source {src} is missing (run --sync)")
            continue
        a, b = cells_of(nb), cells_of(jupytext.read(src))
        if a != b:
            first = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            problems.append(f"{path} and {src.relative_to(path.parent.parent) if src.is_relative_to(path.parent.parent) else src} differ "
                            f"({len(a)} vs {len(b)} cells; first difference at cell {first}): run scripts/run_notebooks.py --sync")
    return problems


def sync(paths: list[Path], pair: bool) -> None:
    """jupytext --sync (the newer of the pair wins), then --clean; --pair pairs unpaired ones."""
    import jupytext.cli

    for path in paths:
        nb = nbformat.read(path, as_version=4)
        if paired_source(path, nb) is None:
            if not pair:
                print(f"not paired (use --pair): {path}")
                continue
            jupytext.cli.jupytext(["--set-formats", PAIRED_FORMATS, str(path)])
        else:
            jupytext.cli.jupytext(["--sync", str(path)])
        clean(path)


def clean(path: Path) -> bool:
    """Strips outputs/counts/timings, gives every cell a stable id; returns True if changed."""
    text = path.read_text(encoding="utf-8")
    nb = nbformat.reads(text, as_version=4)
    nb.nbformat, nb.nbformat_minor = 4, max(nb.nbformat_minor, 5)
    seen = set()
    for i, cell in enumerate(nb.cells):
        cid = cell.get("id")
        if not cid or not CELL_ID_RE.match(cid) or cid in seen:
            digest = hashlib.sha1(f"{path.name}:{i}:{cell.source}".encode()).hexdigest()[:8]
            cid = f"c{i:02d}-{digest}"
            cell["id"] = cid
        seen.add(cid)
        if cell.cell_type == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        cell.get("metadata", {}).pop("execution", None)
    nb.metadata.setdefault("kernelspec", {}).update({"name": KERNEL, "display_name": "gpt2lab (Rust)", "language": "rust"})
    new = canonical(nb)
    if new != text:
        path.write_text(new, encoding="utf-8")
        return True
    return False


# ----------------------------------------------------------------------------------------------
# execution


def output_text(output) -> str:
    kind = output.get("output_type")
    if kind == "stream":
        return output.get("text", "")
    if kind == "error":
        return "\n".join([f"{output.get('ename', '')}: {output.get('evalue', '')}", *output.get("traceback", [])])
    if kind in ("display_data", "execute_result"):
        return output.get("data", {}).get("text/plain", "")
    return ""


def cell_text(cell) -> str:
    return "\n".join(output_text(o) for o in cell.get("outputs", []))


def find_failure(text: str) -> str | None:
    for pat, label in FAILURE_PATTERNS:
        m = pat.search(text)
        if m:
            line = m.group(0).strip()
            return line if label is None else f"{label}: {line}"
    return None


ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def summarize_cell_error(cell, fallback: str) -> str:
    """One line saying why a cell failed, from its outputs (evcxr puts the error there, not in
    the execute reply)."""
    text = ANSI.sub("", cell_text(cell))
    if FAILURE_MARKER in text:
        return with_error_message(summarize_error(text), cell)
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            value = ANSI.sub("", out.get("evalue", "")).strip()
            if "Subprocess terminated" in value:
                return f"kernel worker died: {value}"
            tb = ANSI.sub("", "\n".join(out.get("traceback", [])))
            code = re.search(r"\[(E\d{4})\]", tb)
            return f"compile error{' ' + code.group(1) if code else ''}: {value}" if code or "Error" in out.get("ename", "") else value
    return summarize_error(text or fallback)


def summarize_error(text: str) -> str:
    """One line saying why a cell failed."""
    text = ANSI.sub("", text)
    marker = [l for l in text.splitlines() if FAILURE_MARKER in l]
    if marker:
        # the first marker carries the panic message; the watcher's line only says "aborting"
        detail = [m for m in marker if "panic:" in m] or marker
        return detail[0].split(FAILURE_MARKER, 1)[1].strip()
    for pat, label in FAILURE_PATTERNS[1:]:
        m = pat.search(text)
        if m:
            return f"{label}: {m.group(0).strip()}"
    for line in text.splitlines():
        if re.match(r"\s*(error(\[E\d+\])?:|Error:)", line):
            return f"compile error: {line.strip()}"
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    return lines[0] if lines else "unknown error"


def with_error_message(reason: str, cell) -> str:
    """For a `?` error, the error's own message (evcxr prints it to the cell's stderr)."""
    if "`?`" not in reason:
        return reason
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream" and out.get("name") == "stderr":
            for line in ANSI.sub("", out.get("text", "")).splitlines():
                s = line.strip()
                if s and FAILURE_MARKER not in s and not re.match(r"^(\d+:|at |Stack backtrace)", s):
                    return f"`?` error: {s}"
    return reason


def first_line(src: str) -> str:
    for line in src.splitlines():
        if line.strip() and not line.strip().startswith("//"):
            return line.strip()[:90]
    return src.strip()[:90]


# ----------------------------------------------------------------------------------------------
# the claims ledger (gpt2lab::notebook::claims writes one JSON object per claim/check)

MIN_SEEDS = 3  # gpt2lab::notebook::MIN_SEEDS


def read_ledger(path: Path) -> list[dict]:
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line:
            try:
                entries.append(json.loads(line))
            except ValueError:
                entries.append({"kind": "?", "text": f"unreadable ledger line: {line[:200]}", "pass": False, "seeds": [], "controls": []})
    return entries


def is_paper_notebook(path: Path) -> bool:
    """notebooks/NN-slug.ipynb with NN != 00 reproduces a paper (00-tour does not)."""
    m = re.match(r"^(\d\d)-", path.name)
    return bool(m) and m.group(1) != "00"


def ledger_problems(path: Path, entries: list[dict]) -> list[str]:
    """What keeps a paper notebook's ledger from the standard (../shared/notebook-standard.md):
    every claim over >= 3 seeds, at least one negative control, at least one claim. Checked at ci
    scale, where the seeds are run or read from artefacts; full scale evaluates the paper's own
    released models, one each."""
    if not is_paper_notebook(path):
        return []
    claims = [e for e in entries if e.get("kind") == "claim"]
    problems = []
    if not claims:
        problems.append("no claim(..) at all")
    few = [e["text"] for e in claims if len(e.get("seeds", [])) < MIN_SEEDS]
    if few:
        problems.append(f"{len(few)} claim(s) with fewer than {MIN_SEEDS} seeds (use Claim::new(..).per_seed(..)): " + " | ".join(t[:80] for t in few[:3]))
    if not any(e.get("controls") for e in claims):
        problems.append("no claim carries a negative control (Claim::control)")
    return problems


def ledger_summary(entries: list[dict]) -> str:
    claims = [e for e in entries if e.get("kind") == "claim"]
    checks = [e for e in entries if e.get("kind") == "check"]
    seeds = sorted({len(e.get("seeds", [])) for e in claims})
    controls = sum(len(e.get("controls", [])) for e in claims)
    failed = sum(1 for e in entries if not e.get("pass"))
    seed_txt = "–" if not seeds else (str(seeds[0]) if len(seeds) == 1 else f"{seeds[0]}–{seeds[-1]}")
    return (f"{len(claims)} claims (seeds per claim {seed_txt}), {len(checks)} checks, {controls} negative controls"
            + (f", {failed} FAILED" if failed else ""))


def ledger_markdown(results: list[dict]) -> str:
    def cell(x) -> str:
        return str(x).replace("|", "\\|").replace("\n", " ")

    def num(v) -> str:
        return "NaN" if v is None else f"{v:.4g}"

    lines = ["| notebook | kind | text | threshold | seeds | values | negative controls | pass |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        for e in r.get("ledger", []):
            vals = ", ".join(num(v) for v in e.get("values", []))
            ctrl = "; ".join(f"{c['name']}: {num(c.get('value'))} ({'HOLDS' if c.get('holds') else 'fails'})" for c in e.get("controls", []))
            seeds = ", ".join(str(s) for s in e.get("seeds", []))
            lines.append("| " + " | ".join(cell(x) for x in [Path(r["notebook"]).name, e.get("kind"), e.get("text"), e.get("threshold") or "",
                                                              seeds, vals, ctrl, "✓" if e.get("pass") else "✗"]) + " |")
    return "\n".join(lines) + "\n"


class Failure(Exception):
    def __init__(self, cell_index: int | None, cell_id: str | None, reason: str, detail: str = ""):
        super().__init__(reason)
        self.cell_index, self.cell_id, self.reason, self.detail = cell_index, cell_id, reason, detail


def kernel_env(scale: str, ledger: Path | None = None) -> dict:
    env = dict(os.environ)
    env.update({"GPT2LAB_RUNNER": "1", "GPT2LAB_SCALE": scale, "GPT2LAB_REPO": str(REPO), "GPT2LAB_HOME": str(GPT2LAB_HOME)})
    if ledger is not None:
        env["GPT2LAB_LEDGER"] = str(ledger)
    cargo_bin = str(Path.home() / ".cargo" / "bin")
    if cargo_bin not in env.get("PATH", "").split(":"):
        env["PATH"] = cargo_bin + ":" + env.get("PATH", "")
    return env


def run_notebook(path: Path, out_dir: Path, scale: str, timeout: float, startup_timeout: float, html: bool) -> dict:
    nb = nbformat.read(path, as_version=4)
    result = {"notebook": str(path.relative_to(REPO) if path.is_relative_to(REPO) else path), "status": "pass",
              "cells": sum(1 for c in nb.cells if c.cell_type == "code" and c.source.strip()), "cell_times": []}
    sentinel_nb = nbformat.v4.new_notebook(metadata=nb.metadata)
    client = NotebookClient(
        nb,
        kernel_name=KERNEL,
        timeout=int(timeout),
        startup_timeout=int(startup_timeout),
        record_timing=True,
        allow_errors=False,
        force_raise_errors=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    t0 = time.monotonic()
    deadline = None
    executed_index = None
    out_dir.mkdir(parents=True, exist_ok=True)
    ledger = out_dir / f".ledger-{path.stem}.jsonl"
    ledger.unlink(missing_ok=True)
    try:
        with client.setup_kernel(env=kernel_env(scale, ledger)):
            def sentinel(tag: str) -> str:
                cell = nbformat.v4.new_code_cell(SENTINEL)
                sentinel_nb.cells.append(cell)
                client.timeout = int(max(30, startup_timeout))
                # nbclient addresses cells by index into the notebook: lend it a slot at the end
                nb.cells.append(cell)
                try:
                    client.execute_cell(cell, len(nb.cells) - 1, store_history=False)
                except CellExecutionError as e:
                    raise Failure(None, None, f"the runner's {tag} check cell failed: {summarize_error(str(e))}", str(e)) from e
                finally:
                    nb.cells.pop()
                text = cell_text(cell)
                m = re.search(ARMED_MARKER + r" pid=(\d+)", text)
                if not m:
                    raise Failure(None, None, f"runner hooks are not armed in the kernel ({tag}): is the gpt2lab kernel installed "
                                  f"from this checkout? (scripts/setup.sh) Output: {text.strip()[:300]!r}")
                return m.group(1)

            pid = sentinel("start")
            result["kernel_start_s"] = round(time.monotonic() - t0, 1)
            deadline = time.monotonic() + timeout
            prev = None
            for i, cell in enumerate(nb.cells):
                if cell.cell_type != "code" or not cell.source.strip():
                    continue
                executed_index = i
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise Failure(i, cell.get("id"), f"notebook time limit of {timeout:.0f}s reached before this cell")
                client.timeout = max(1, int(remaining))
                c0 = time.monotonic()
                try:
                    client.execute_cell(cell, i)
                except CellTimeoutError as e:
                    raise Failure(i, cell.get("id"), f"timed out (notebook limit {timeout:.0f}s)", str(e)) from e
                except CellExecutionError as e:
                    raise Failure(i, cell.get("id"), summarize_cell_error(cell, str(e)), str(e) + "\n" + cell_text(cell)) from e
                dt = time.monotonic() - c0
                result["cell_times"].append({"index": i, "id": cell.get("id"), "seconds": round(dt, 2)})
                why = find_failure(cell_text(cell))
                if why:
                    raise Failure(i, cell.get("id"), why, cell_text(cell))
                prev = (i, cell)
            # late stderr of the last cell lands here; the worker must still be the same process
            end_pid = sentinel("end")
            late = find_failure(cell_text(sentinel_nb.cells[-1]))
            if late and prev:
                raise Failure(prev[0], prev[1].get("id"), late, cell_text(sentinel_nb.cells[-1]))
            if end_pid != pid:
                raise Failure(None, None, f"the kernel's worker process restarted during the run (pid {pid} -> {end_pid}): a cell crashed it")
    except Failure as f:
        result["status"] = "FAIL"
        result.update({"cell": f.cell_index, "cell_id": f.cell_id, "reason": f.reason, "detail": f.detail})
    except DeadKernelError as e:
        result["status"] = "FAIL"
        result.update({"cell": executed_index, "cell_id": None, "reason": f"kernel died: {e}", "detail": ""})
    except Exception as e:  # noqa: BLE001 - kernel start failures, zmq errors: report, don't crash the run
        result["status"] = "FAIL"
        result.update({"cell": executed_index, "cell_id": None, "reason": f"{type(e).__name__}: {e}", "detail": ""})
    result["total_s"] = round(time.monotonic() - t0, 1)
    result["ledger"] = read_ledger(ledger)
    if result["status"] == "pass":
        problems = ledger_problems(path, result["ledger"]) if scale == "ci" else []
        if problems:
            result["status"] = "FAIL"
            result.update({"cell": None, "cell_id": None, "reason": "the claims ledger does not meet the reproduction standard: " + "; ".join(problems), "detail": ""})
    if result["cell_times"]:
        slow = max(result["cell_times"], key=lambda c: c["seconds"])
        result["slowest_cell"] = slow
        result["cells_s"] = round(sum(c["seconds"] for c in result["cell_times"]), 1)
    if result["status"] == "FAIL" and result.get("cell") is not None:
        cell = nb.cells[result["cell"]]
        result["cell_source"] = first_line(cell.source)

    out_dir.mkdir(parents=True, exist_ok=True)
    out_nb = out_dir / path.name
    nbformat.write(nb, out_nb)
    result["executed"] = str(out_nb)
    if html:
        try:
            from nbconvert import HTMLExporter

            body, _ = HTMLExporter().from_notebook_node(nb)
            out_html = out_nb.with_suffix(".html")
            out_html.write_text(body, encoding="utf-8")
            result["html"] = str(out_html)
        except Exception as e:  # noqa: BLE001 - a rendering problem must not hide the run's result
            result["html_error"] = f"{type(e).__name__}: {e}"
    return result


def run_parallel(paths: list[Path], args):
    """Runs each notebook in its own runner process, `args.jobs` at a time (each kernel gets its
    own build slot, see kernelspec/gpt2lab/launch.sh). Yields (path, getter) in input order."""
    import subprocess
    from concurrent.futures import ThreadPoolExecutor

    args.out.mkdir(parents=True, exist_ok=True)

    def one(p: Path) -> dict:
        summ = args.out / f".summary-{p.stem}.json"
        log = args.out / f".log-{p.stem}.txt"
        summ.unlink(missing_ok=True)
        cmd = [sys.executable, str(Path(__file__).resolve()), str(p), "--jobs", "1", "--scale", args.scale,
               "--timeout", str(args.timeout), "--startup-timeout", str(args.startup_timeout),
               "--out", str(args.out), "--summary", str(summ)] + (["--no-html"] if args.no_html else [])
        with log.open("w") as f:
            subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, check=False)
        try:
            r = json.loads(summ.read_text())[0]
        except (OSError, ValueError, IndexError):
            r = {"notebook": str(p), "status": "FAIL", "cells": 0, "cell_times": [], "total_s": 0,
                 "cell": None, "cell_id": None, "reason": f"runner process failed; see {log}", "detail": log.read_text()[-4000:]}
        return r

    pool = ThreadPoolExecutor(args.jobs)
    futures = [pool.submit(one, p) for p in paths]
    for p, fut in zip(paths, futures):
        yield p, fut.result
    pool.shutdown()


def fmt_table(results: list[dict]) -> str:
    rows = [("notebook", "status", "kernel start s", "cells", "cells s", "total s", "slowest cell")]
    for r in results:
        slow = r.get("slowest_cell")
        rows.append((Path(r["notebook"]).name, r["status"], str(r.get("kernel_start_s", "-")), str(r["cells"]),
                     str(r.get("cells_s", "-")), str(r["total_s"]), f"#{slow['index']} {slow['seconds']}s" if slow else "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def default_notebooks() -> list[Path]:
    return sorted((REPO / "notebooks").glob("*.ipynb"))


def prebuild(out_dir: Path, startup_timeout: float) -> int:
    """Runs a one-cell notebook so that the kernel's build directory holds the compiled library."""
    tmp = out_dir / "_prebuild"
    tmp.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": KERNEL, "display_name": "gpt2lab (Rust)", "language": "rust"}})
    nb.cells.append(nbformat.v4.new_code_cell('let scale = Scale::from_env();\nclaim("the kernel runs gpt2lab", true, scale);'))
    path = tmp / "prebuild.ipynb"
    nbformat.write(nb, path)
    t0 = time.monotonic()
    r = run_notebook(path, tmp, "ci", timeout=600, startup_timeout=startup_timeout, html=False)
    print(f"prebuild: {r['status']} in {time.monotonic() - t0:.0f}s (kernel start {r.get('kernel_start_s', '-')}s)")
    if r["status"] != "pass":
        print(f"prebuild failed: {r.get('reason')}\n{r.get('detail', '')[-4000:]}", file=sys.stderr)
        return 1
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("notebooks", nargs="*", type=Path, help="notebooks to run (default: notebooks/*.ipynb)")
    ap.add_argument("--scale", default=os.environ.get("GPT2LAB_SCALE") or "ci", choices=["ci", "full"])
    ap.add_argument("--timeout", type=float, default=float(os.environ.get("GPT2LAB_NOTEBOOK_TIMEOUT", 600)),
                    help="seconds per notebook for its cells (default 600, env GPT2LAB_NOTEBOOK_TIMEOUT)")
    ap.add_argument("--startup-timeout", type=float, default=1800,
                    help="seconds for a kernel to start; the first start on a machine compiles the library (default 1800)")
    ap.add_argument("--out", type=Path, default=REPO / "target" / "notebooks", help="where executed notebooks go")
    ap.add_argument("--no-html", action="store_true", help="skip the HTML renderings")
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("GPT2LAB_NOTEBOOK_JOBS", 1)),
                    help="notebooks run at once, each in its own kernel and build slot (default 1, env GPT2LAB_NOTEBOOK_JOBS)")
    ap.add_argument("--fail-fast", action="store_true", help="stop at the first failing notebook")
    ap.add_argument("--check-clean", action="store_true", help="only check that the notebooks are committed clean")
    ap.add_argument("--clean", action="store_true", help="strip outputs and add stable ids, in place")
    ap.add_argument("--sync", action="store_true", help="bring each notebook and its notebooks/src/*.rs together (jupytext --sync), then --clean")
    ap.add_argument("--pair", action="store_true", help="with --sync: pair notebooks that are not paired yet")
    ap.add_argument("--prebuild", action="store_true", help="compile the library for the kernel (used by setup.sh)")
    ap.add_argument("--summary", type=Path, help="also write the JSON summary here")
    args = ap.parse_args(argv)

    paths = [p.resolve() for p in args.notebooks] or default_notebooks()
    missing = [p for p in paths if not p.exists()]
    if missing:
        print(f"no such notebook: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2

    if args.clean:
        for p in paths:
            print(f"{'cleaned' if clean(p) else 'already clean'}: {p}")
        return 0
    if args.sync:
        sync(paths, args.pair)
        return 0
    if args.check_clean:
        problems = check_clean(paths) + check_paired(paths)
        for p in problems:
            print(p, file=sys.stderr)
        print(f"check-clean: {len(paths)} notebooks, {len(problems)} problems")
        return 1 if problems else 0
    if args.prebuild:
        return prebuild(args.out, args.startup_timeout)
    if not paths:
        print("no notebooks to run", file=sys.stderr)
        return 2

    print(f"running {len(paths)} notebook(s) at scale={args.scale}, {args.timeout:.0f}s each, kernel {KERNEL}, "
          f"{args.jobs} at a time, output {args.out}")
    results = []
    if args.jobs > 1 and len(paths) > 1:
        outcomes = run_parallel(paths, args)
    else:
        outcomes = ((p, lambda p=p: run_notebook(p, args.out, args.scale, args.timeout, args.startup_timeout, html=not args.no_html))
                    for p in paths)
    for p, get in outcomes:
        print(f"▶ {p.name} ...", flush=True)
        r = get()
        results.append(r)
        if r["status"] == "pass":
            print(f"  ok in {r['total_s']}s (kernel start {r.get('kernel_start_s')}s, {r['cells']} cells {r.get('cells_s', 0)}s)", flush=True)
        else:
            where = f"cell {r['cell']}" if r.get("cell") is not None else "kernel"
            if r.get("cell_id"):
                where += f" (id {r['cell_id']}: `{r.get('cell_source', '')}`)"
            print(f"  FAIL {r['notebook']} {where}: {r['reason']}", flush=True)
            detail = ANSI.sub("", r.get("detail") or "")
            if detail:
                print("  " + "\n  ".join(detail.strip().splitlines()[-40:]), flush=True)
            if args.fail_fast:
                break

    args.out.mkdir(parents=True, exist_ok=True)
    table = fmt_table(results)
    (args.out / "timings.md").write_text(table + "\n", encoding="utf-8")
    summary = json.dumps(results, indent=1)
    (args.out / "summary.json").write_text(summary, encoding="utf-8")
    claims = [{"notebook": r["notebook"], **e} for r in results for e in r.get("ledger", [])]
    (args.out / "claims.json").write_text(json.dumps(claims, indent=1, ensure_ascii=False), encoding="utf-8")
    (args.out / "claims.md").write_text(ledger_markdown(results), encoding="utf-8")
    if args.summary:
        args.summary.parent.mkdir(parents=True, exist_ok=True)
        args.summary.write_text(summary, encoding="utf-8")
    print()
    print(table)
    print()
    for r in results:
        print(f"ledger {Path(r['notebook']).stem}: {ledger_summary(r.get('ledger', []))}")
    print(f"claims ledger: {args.out / 'claims.md'}")
    failed = [r for r in results if r["status"] != "pass"]
    for r in failed:
        where = f"cell {r['cell']}" if r.get("cell") is not None else "kernel"
        print(f"FAILED: {r['notebook']} {where}{' id ' + r['cell_id'] if r.get('cell_id') else ''}: {r['reason']}", file=sys.stderr)
    print(f"notebooks: {len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
