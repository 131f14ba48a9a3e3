#!/usr/bin/env python3
"""Reference values for gpt2lab::interp::frequency_tagging, written to tests/fixtures/hftp/reference.json.

    ~/.cache/gpt2lab/refvenv/bin/python scripts/make_hftp_fixtures.py

Deterministic (numpy seed fixed); needs numpy and statsmodels. The file holds:

  spectra   two fixed series (120 samples, as a 30-sentence stream; 37 samples, an odd length):
            a 1 Hz and a 2 Hz sinusoid at 4 samples/s plus normal noise and an offset;
            numpy's |rfft(x)| with the DC bin set to 0 (the HFTP repository's spectrum) and
            rfftfreq(n, d=0.25).
  bh        60 p-values (uniform, some squared toward 0, two exact ties, a 0 and a 1) and
            statsmodels multipletests(p, alpha=0.05, method="fdr_bh"): adjusted p-values and
            the rejections.
"""
import json
import os

import numpy as np
import statsmodels
from statsmodels.stats.multitest import multipletests

rng = np.random.default_rng(20251013)


def series(n):
    t = np.arange(n) * 0.25
    return 0.7 + np.sin(2 * np.pi * 1.0 * t + 0.3) + 0.5 * np.cos(2 * np.pi * 2.0 * t) + 0.4 * rng.standard_normal(n)


spectra = []
for n in (120, 37):
    x = series(n)
    amp = np.abs(np.fft.rfft(x))
    amp[0] = 0.0
    spectra.append({"x": x.tolist(), "amplitude": amp.tolist(), "freqs": np.fft.rfftfreq(n, d=0.25).tolist()})

p = rng.uniform(size=60)
p[:20] = p[:20] ** 4
p[20] = p[21]
p[30] = 0.0
p[31] = 1.0
reject, adjusted, _, _ = multipletests(p, alpha=0.05, method="fdr_bh")

out = {
    "numpy": np.__version__,
    "statsmodels": statsmodels.__version__,
    "spectra": spectra,
    "bh": {"p": p.tolist(), "adjusted": adjusted.tolist(), "reject": reject.tolist(), "alpha": 0.05},
}
path = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "hftp", "reference.json")
os.makedirs(os.path.dirname(path), exist_ok=True)
with open(path, "w") as f:
    json.dump(out, f)
print(f"wrote {os.path.normpath(path)}: {len(p)} p-values ({int(reject.sum())} rejected), spectra of {[len(s['x']) for s in spectra]} samples")
