#!/usr/bin/env python3
"""Opacus's RDP accountant on a grid of (q, sigma, steps, delta), for tests/dp.rs:
tests/fixtures/dp/rdp_grid.json.

    ~/.cache/gpt2lab/refvenv/bin/python scripts/make_dp_fixtures.py

Uses opacus.accountants.analysis.rdp (compute_rdp, get_privacy_spent) with the RDP
accountant's DEFAULT_ALPHAS, and checks that RDPAccountant.get_epsilon gives the same numbers
after stepping the same history. Deterministic (no randomness).
"""

import json
import os
import warnings

import opacus
from opacus.accountants import RDPAccountant
from opacus.accountants.analysis.rdp import compute_rdp, get_privacy_spent

warnings.filterwarnings("ignore")  # "optimal order is the largest alpha" at extreme settings


def main():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = os.path.join(repo, "tests", "fixtures", "dp")
    orders = RDPAccountant.DEFAULT_ALPHAS
    rows = []
    for q in [0.001, 0.01, 0.05, 0.25, 1.0]:
        for sigma in [0.5, 0.8, 1.1, 2.0, 4.0]:
            for steps in [1, 100, 10_000]:
                for delta in [1e-5, 1e-6]:
                    rdp = compute_rdp(q=q, noise_multiplier=sigma, steps=steps, orders=orders)
                    eps, alpha = get_privacy_spent(orders=orders, rdp=rdp, delta=delta)
                    rows.append({"q": q, "sigma": sigma, "steps": steps, "delta": delta, "epsilon": float(eps), "alpha": float(alpha)})
    # the accountant object gives the same ε for a constant history
    acc = RDPAccountant()
    for _ in range(100):
        acc.step(noise_multiplier=1.1, sample_rate=0.01)
    e_acc = acc.get_epsilon(delta=1e-5)
    e_grid = next(r["epsilon"] for r in rows if (r["q"], r["sigma"], r["steps"], r["delta"]) == (0.01, 1.1, 100, 1e-5))
    assert abs(e_acc - e_grid) < 1e-12, (e_acc, e_grid)
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "rdp_grid.json")
    with open(path, "w") as f:
        json.dump({"opacus_version": opacus.__version__, "orders": list(map(float, orders)), "grid": rows}, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"{len(rows)} grid points -> {path}")


if __name__ == "__main__":
    main()
