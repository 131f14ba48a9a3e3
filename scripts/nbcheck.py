#!/usr/bin/env python3
"""Compiles a notebook's code with cargo, faster than a kernel run: writes its code cells as one
`main` in examples/nbcheck_<NN>.rs (git-ignored), which `cargo build --example nbcheck_<NN>`
checks and `cargo run --release --example nbcheck_<NN>` runs.

    scripts/nbcheck.py notebooks/02-layernorm-removal.ipynb   # -> examples/nbcheck_02.rs

The notebook (paired with notebooks/src/*.rs by jupytext) stays the one source; this file is a
throw-away view of it. A cell whose last line is a bare value (what the kernel would display)
prints it instead.
"""
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def rust_main(cells) -> str:
    body = []
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        src = "".join(cell["source"]).strip("\n")
        ls = src.split("\n")
        last = ls[-1].rstrip()
        if last and not last.endswith((";", "}")) and not last.lstrip().startswith("//"):
            j = len(ls) - 1
            while j > 0 and (ls[j].startswith("    ") or ls[j].lstrip().startswith(".")):
                j -= 1
            expr = "\n".join(ls[j:])
            ls = ls[:j] + [f"{{ let _shown = {expr}; println!(\"{{}}\", _shown); }}"]
        body.append(f"    // ---- cell {cell.get('id', '')}\n" + "\n".join("    " + l for l in ls))
    return ("#![allow(unused)]\nuse gpt2lab::prelude::*;\n\nfn main() -> Result<(), Box<dyn std::error::Error>> {\n"
            + "\n".join(body) + "\n    Ok(())\n}\n")


def main(argv):
    if not argv:
        sys.exit(__doc__)
    for p in map(Path, argv):
        nb = json.loads(p.read_text(encoding="utf-8"))
        out = REPO / "examples" / f"nbcheck_{p.name.split('-')[0]}.rs"
        out.write_text(rust_main(nb["cells"]), encoding="utf-8")
        print(f"{p} -> {out.relative_to(REPO)}  (cargo build --example {out.stem})")


if __name__ == "__main__":
    main(sys.argv[1:])
