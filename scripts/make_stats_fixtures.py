#!/usr/bin/env python3
"""Reference values for gpt2lab::stats, written to tests/fixtures/stats/*.json.

    ~/.cache/gpt2lab/refvenv/bin/python scripts/make_stats_fixtures.py

Deterministic (numpy seeds fixed); needs numpy, scipy, statsmodels. Each file holds the input
data and what statsmodels / scipy / numpy compute from it:

  logit.json     200 rows, Intercept + x1 (normal) + x2 (0/1), outcome drawn from a logistic
                 model: statsmodels Logit params, bse, z, pvalues, llf, llnull, llr, llr_pvalue,
                 prsquared.
  counts.json    a 2 x 3 table of counts (woman x group): the saturated model
                 y ~ woman + group + woman:group and the model without the interaction, fitted as
                 GLM(Binomial, freq_weights) on one row per (cell, outcome), and as Logit on the
                 expanded rows (one per observation); the LR statistic between them.
  gini.json      non-negative vectors, the Gini by the mean-absolute-difference formula
                 sum|xi - xj| / (2 n^2 mean), the Lorenz curve by numpy cumsum.
  bootstrap.json numpy percentiles (linear) of a fixed vector; scipy.stats.bootstrap percentile
                 95% interval of the mean of 300 exponential draws (n_resamples=20000).
"""
import json
import os
import sys

import numpy as np
import scipy
import scipy.stats
import statsmodels
import statsmodels.api as sm

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "stats")


def dump(name, obj):
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(obj, f, indent=1)


def fit_summary(res, names):
    return {
        "names": names,
        "params": res.params.tolist(),
        "bse": res.bse.tolist(),
        "z": res.tvalues.tolist(),
        "pvalues": res.pvalues.tolist(),
        "llf": float(res.llf),
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(12)

    # 1. an ordinary logistic regression
    n = 200
    x1 = rng.normal(size=n)
    x2 = (rng.random(n) < 0.4).astype(float)
    eta = -0.3 + 0.8 * x1 - 1.1 * x2
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    X = np.column_stack([np.ones(n), x1, x2])
    res = sm.Logit(y, X).fit(disp=0, tol=1e-12, maxiter=100)
    out = fit_summary(res, ["Intercept", "x1", "x2"])
    out.update(rows=X.tolist(), y=y.tolist(), llnull=float(res.llnull), llr=float(res.llr), llr_pvalue=float(res.llr_pvalue), prsquared=float(res.prsquared))
    dump("logit.json", out)

    # 2. a table of counts, saturated and additive models
    # cells: (woman, group) -> successes, trials
    cells = [((0, 0), 12, 150), ((0, 1), 30, 140), ((0, 2), 21, 160), ((1, 0), 35, 155), ((1, 1), 18, 145), ((1, 2), 60, 150)]

    def design(w, g, inter):
        row = [1.0, float(w), float(g == 1), float(g == 2)]
        if inter:
            row += [float(w and g == 1), float(w and g == 2)]
        return row

    names_full = ["Intercept", "woman", "g1", "g2", "woman:g1", "woman:g2"]
    models = {}
    for label, inter in (("full", True), ("additive", False)):
        rows, ys, ws, erows, eys = [], [], [], [], []
        for (w, g), k, t in cells:
            r = design(w, g, inter)
            rows += [r, r]
            ys += [1.0, 0.0]
            ws += [k, t - k]
            erows += [r] * t
            eys += [1.0] * k + [0.0] * (t - k)
        glm = sm.GLM(np.array(ys), np.array(rows), family=sm.families.Binomial(), freq_weights=np.array(ws, float)).fit(tol=1e-12)
        logit = sm.Logit(np.array(eys), np.array(erows)).fit(disp=0, tol=1e-12, maxiter=100)
        names = names_full if inter else names_full[:4]
        m = {"glm": fit_summary(glm, names), "logit": fit_summary(logit, names)}
        m["logit"].update(llnull=float(logit.llnull), prsquared=float(logit.prsquared), llr=float(logit.llr), llr_pvalue=float(logit.llr_pvalue))
        models[label] = m
    lr = 2 * (models["full"]["logit"]["llf"] - models["additive"]["logit"]["llf"])
    dump("counts.json", {"cells": [[w, g, k, t] for (w, g), k, t in cells], "models": models, "lr_stat": lr, "lr_df": 2, "lr_pvalue": float(scipy.stats.chi2.sf(lr, 2))})

    # 3. Gini and Lorenz
    vecs = [rng.exponential(size=12).tolist(), [1.0] * 7, [0, 0, 0, 5.0], rng.integers(0, 40, size=25).astype(float).tolist()]
    g = []
    for v in vecs:
        a = np.array(v)
        gini = np.abs(a[:, None] - a[None, :]).sum() / (2 * len(a) ** 2 * a.mean())
        s = np.sort(a)
        lorenz = np.concatenate([[0.0], np.cumsum(s) / s.sum()])
        g.append({"values": v, "gini": float(gini), "lorenz_y": lorenz.tolist()})
    dump("gini.json", g)

    # 4. quantiles and a bootstrap interval
    v = rng.normal(size=37)
    qs = [0.0, 0.025, 0.1, 0.5, 0.9, 0.975, 1.0]
    data = rng.exponential(scale=2.0, size=300)
    bs = scipy.stats.bootstrap((data,), np.mean, n_resamples=20000, confidence_level=0.95, method="percentile", random_state=np.random.default_rng(3))
    dump("bootstrap.json", {
        "values": v.tolist(), "q": qs, "quantiles": [float(np.percentile(v, 100 * q)) for q in qs],
        "data": data.tolist(), "ci_low": float(bs.confidence_interval.low), "ci_high": float(bs.confidence_interval.high),
        "standard_error": float(bs.standard_error),
    })
    dump("versions.json", {"python": sys.version.split()[0], "numpy": np.__version__, "scipy": scipy.__version__, "statsmodels": statsmodels.__version__})


if __name__ == "__main__":
    main()
