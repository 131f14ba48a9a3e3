#!/usr/bin/env python3
"""Reference SAEs and numbers for tests/sae.rs, from SAELens itself (and scipy):

    python3 -m venv ~/.cache/gpt2lab/saevenv && ~/.cache/gpt2lab/saevenv/bin/pip install sae-lens==6.54.12
    ~/.cache/gpt2lab/saevenv/bin/python scripts/make_sae_fixtures.py

Writes tests/fixtures/sae/:
- standard/ and hook_z/: SAELens `save_model` folders (cfg.json + sae_weights.safetensors) of a
  StandardSAE on blocks.0.hook_resid_pre (d_in 6, d_sae 10) and one on blocks.0.attn.hook_z
  (2 heads × d_head 3, reshape_activations "hook_z"), with random non-unit decoder rows and
  non-zero biases (so b_dec and the row norms matter);
- ref.safetensors: inputs and SAELens' outputs — `x`, `feature_acts`, `sae_out` (standard),
  `z`, `z_out`, `z_feats` (hook_z, forward keeps the head shape), the training loss terms of a
  StandardTrainingSAE with the same weights (`mse_loss`, `l1_loss`, l1_coefficient 0.5: SAELens'
  `training_forward_pass`), the gradient of their sum w.r.t. W_dec with its component along
  each (unit-normalised) decoder row removed (`w_dec_unit`, `grad_w_dec_projected`: the
  projection of SAELens ≤ 3 `remove_gradient_parallel_to_decoder_directions`, here in torch
  autograd), and the geometric median of `points` (scipy.optimize on Σ‖p − m‖, an independent
  solver for what SAELens' Weiszfeld iteration approximates).
Deterministic (torch.manual_seed, CPU, float32; the median in float64).
"""

import json
import os

import numpy as np
import torch
from safetensors.torch import save_file
from scipy.optimize import minimize
from sae_lens import StandardSAE, StandardSAEConfig, StandardTrainingSAE, StandardTrainingSAEConfig
from sae_lens.saes.sae import SAEMetadata, TrainStepInput

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "tests", "fixtures", "sae")


def randomise(sae, g):
    with torch.no_grad():
        for p in (sae.W_enc, sae.b_enc, sae.W_dec, sae.b_dec):
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)


def main():
    os.makedirs(OUT, exist_ok=True)
    g = torch.Generator().manual_seed(29)
    t = {}

    cfg = StandardSAEConfig(d_in=6, d_sae=10, metadata=SAEMetadata(hook_name="blocks.0.hook_resid_pre", hook_layer=0))
    sae = StandardSAE(cfg)
    randomise(sae, g)
    sae.save_model(os.path.join(OUT, "standard"))
    x = torch.randn(5, 6, generator=g)
    with torch.no_grad():
        t["x"] = x
        t["feature_acts"] = sae.encode(x)
        t["sae_out"] = sae(x)
    assert (t["feature_acts"] > 0).any() and (t["feature_acts"] == 0).any(), "want some active and some inactive features"

    zcfg = StandardSAEConfig(d_in=6, d_sae=10, reshape_activations="hook_z",
                             metadata=SAEMetadata(hook_name="blocks.0.attn.hook_z", hook_layer=0))
    zsae = StandardSAE(zcfg)
    randomise(zsae, g)
    zsae.save_model(os.path.join(OUT, "hook_z"))
    z = torch.randn(2, 3, 2, 3, generator=g)
    with torch.no_grad():
        t["z"] = z
        t["z_feats"] = zsae.encode(z)
        t["z_out"] = zsae(z)

    tcfg = StandardTrainingSAEConfig(d_in=6, d_sae=10, l1_coefficient=0.5,
                                     metadata=SAEMetadata(hook_name="blocks.0.hook_resid_pre", hook_layer=0))
    tsae = StandardTrainingSAE(tcfg)
    tsae.load_state_dict(sae.state_dict())
    out = tsae.training_forward_pass(TrainStepInput(sae_in=x, coefficients={"l1": 0.5}, dead_neuron_mask=None,
                                                    n_training_steps=0, is_logging_step=False))
    t["mse_loss"] = out.losses["mse_loss"].detach().reshape(1)
    t["l1_loss"] = out.losses["l1_loss"].detach().reshape(1)

    # the unit-norm recipe: rows normalised, the loss's W_dec gradient projected off each row
    usae = StandardTrainingSAE(tcfg)
    usae.load_state_dict(sae.state_dict())
    with torch.no_grad():
        usae.W_dec.data /= usae.W_dec.data.norm(dim=1, keepdim=True)
    out = usae.training_forward_pass(TrainStepInput(sae_in=x, coefficients={"l1": 0.5}, dead_neuron_mask=None,
                                                    n_training_steps=0, is_logging_step=False))
    out.loss.backward()
    w, gr = usae.W_dec.data, usae.W_dec.grad
    par = (gr * w).sum(dim=1, keepdim=True)
    t["w_dec_unit"] = w.clone()
    t["grad_w_dec_projected"] = gr - par * w
    t["unit_total_loss"] = out.loss.detach().reshape(1)

    pts = torch.randn(40, 5, generator=g) * torch.tensor([1.0, 2.0, 0.5, 3.0, 1.0])
    pts[:6] += 8.0  # outliers pull the mean, not the median
    p64 = pts.double().numpy()
    obj = lambda m: np.linalg.norm(p64 - m[None, :], axis=1).sum()
    res = minimize(obj, p64.mean(0), method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 200000, "maxfev": 200000})
    res = minimize(obj, res.x, method="BFGS", options={"gtol": 1e-12})
    t["points"] = pts
    t["geometric_median"] = torch.tensor(res.x, dtype=torch.float64)

    save_file({k: v.contiguous() for k, v in sorted(t.items())}, os.path.join(OUT, "ref.safetensors"))
    print("wrote", OUT, sorted(t), "median objective", res.fun)
    print(json.load(open(os.path.join(OUT, "standard", "cfg.json"))))


if __name__ == "__main__":
    main()
