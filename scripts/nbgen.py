#!/usr/bin/env python3
"""Writes a notebook from a list of (kind, id, source) cells, and, for code cells, a Rust
example that runs the same code as one `main` so a notebook's logic can be compiled and
checked with cargo before the (slower) kernel runs it.

    from nbgen import write_notebook
    write_notebook("notebooks/02-x.ipynb", cells, rust_check="target/nbcheck/x.rs")
"""
import json
from pathlib import Path


def write_notebook(path, cells, rust_check=None):
    nb = {
        "cells": [],
        "metadata": {
            "kernelspec": {"display_name": "gpt2lab (Rust)", "language": "rust", "name": "gpt2lab"},
            "language_info": {"name": "rust", "file_extension": ".rs", "mimetype": "text/rust"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    for kind, cid, src in cells:
        src = src.strip("\n")
        lines = [l + "\n" for l in src.split("\n")]
        lines[-1] = lines[-1].rstrip("\n")
        cell = {"cell_type": kind, "id": cid, "metadata": {}, "source": lines}
        if kind == "code":
            cell["execution_count"] = None
            cell["outputs"] = []
        nb["cells"].append(cell)
    Path(path).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    if rust_check:
        body = []
        for kind, cid, src in cells:
            if kind != "code":
                continue
            src = src.strip("\n")
            ls = src.split("\n")
            last = ls[-1].rstrip()
            if last and not last.endswith((";", "}")) and not last.lstrip().startswith("//"):
                # the displayed value of the cell: evaluate and show it as the kernel would
                j = len(ls) - 1
                while j > 0 and (ls[j].startswith("    ") or ls[j].lstrip().startswith(".")):
                    j -= 1
                expr = "\n".join(ls[j:])
                ls = ls[:j] + [f"{{ let _shown = {expr}; println!(\"{{}}\", _shown); }}"]
            body.append(f"    // ---- cell {cid}\n" + "\n".join("    " + l for l in ls))
        rs = "#![allow(unused)]\nuse gpt2lab::prelude::*;\n\nfn main() -> Result<(), Box<dyn std::error::Error>> {\n" + "\n".join(body) + "\n    Ok(())\n}\n"
        Path(rust_check).parent.mkdir(parents=True, exist_ok=True)
        Path(rust_check).write_text(rs)
