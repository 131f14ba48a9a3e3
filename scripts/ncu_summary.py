#!/usr/bin/env python3
"""Summarise an Nsight Compute CSV (`ncu --csv --page raw --metrics gpu__time_duration.sum`)
by kernel name: count, total and share of GPU time, largest first. Used by
scripts/gpu_device_run.sh (GPU_NCU) to explain where a GPU training step goes.

    python3 scripts/ncu_summary.py ncu.csv [--top 30]
"""
import csv
import re
import sys
from collections import defaultdict


def main():
    path = sys.argv[1]
    top = int(sys.argv[sys.argv.index("--top") + 1]) if "--top" in sys.argv else 30
    rows = [l for l in open(path, errors="replace") if l.startswith('"')]
    rd = csv.reader(rows)
    head = next(rd)
    name_i, dur_i = head.index("Kernel Name"), head.index("gpu__time_duration.sum")
    tot, cnt = defaultdict(float), defaultdict(int)
    scale = 1.0  # to ns, from the units row
    for r in rd:
        try:
            d = float(r[dur_i].replace(",", "")) * scale
        except ValueError:
            scale = {"nsecond": 1.0, "usecond": 1e3, "msecond": 1e6, "second": 1e9}.get(r[dur_i], 1.0)
            continue  # the units row
        # group template instances and cuBLAS tiles under one readable name
        n = re.sub(r"\(.*", "", r[name_i]).strip()[:90]
        tot[n] += d
        cnt[n] += 1
    all_ = sum(tot.values())
    print(f"{sum(cnt.values())} kernels, {all_ / 1e6:.2f} ms of GPU time (gpu__time_duration summed)")
    print(f"{'ms':>9} {'share':>6} {'count':>6}  kernel")
    for n, d in sorted(tot.items(), key=lambda kv: -kv[1])[:top]:
        print(f"{d / 1e6:9.3f} {100 * d / all_:5.1f}% {cnt[n]:6d}  {n}")


if __name__ == "__main__":
    main()
