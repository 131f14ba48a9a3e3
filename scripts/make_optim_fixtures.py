#!/usr/bin/env python3
"""Reference updates of SophiaG, Muon (two official variants) and Conda on a fixed tensor
sequence, for tests/optim.rs: tests/fixtures/optim/optim_ref.safetensors.

    ~/.cache/gpt2lab/refvenv/bin/python scripts/make_optim_fixtures.py

Deterministic (torch.manual_seed, CPU, float32). The optimizers below are transcriptions of the
official PyTorch code, kept line for line where it matters (read with the project's `fetch`):

- SophiaG: Liuhong99/Sophia `sophia.py` (`update_hessian`, `_single_tensor_sophiag`); the step's
  `bs` is tokens per step, the Hessian update every k-th step as in `train_sophiag.py`
  (`iter_num % hess_interval == hess_interval - 1`, after that step).
- Muon, Keller Jordan: KellerJordan/Muon `muon.py` (`zeropower_via_newtonschulz5`,
  `muon_update`, `SingleDeviceMuon.step`).
- Muon, Moonlight: jie040109/Conda `conda_torch/muon_moonlight.py` (Muon with the
  0.2·sqrt(max(A, B)) learning-rate scaling and its AdamW backup for non-matrix params).
- Conda: jie040109/Conda `conda_torch/conda.py` + `projector.py`, proj_type "std".

One deliberate difference: Newton-Schulz runs in float32, not bfloat16 (the official code casts
to bfloat16 for GPU speed; a float32 reference is what a float32 implementation can match).

Parameters are in nn.Linear layout [out, in] (what the official code sees). Names follow GPT-2's
HF names; the Rust side stores Conv1D weights (h.*.attn|mlp.*.weight) transposed.

Saved (float32): init.<name>; grad.<i>.<name> (step i's gradient); hess.<i>.<name> (the
sampled-label gradient of Sophia's curvature pass after step i, where i % K == K-1); lr [N];
then for each optimizer o in sophia, muon_kj, muon_moonlight, conda: <o>.<i>.<name> = the
parameter after step i.
"""

import math
import os

import torch
from safetensors.torch import save_file

N, K = 9, 3  # steps; Sophia's curvature pass after steps 2, 5, 8 (0-based)
SHAPES = {
    "h.0.mlp.c_fc.weight": (12, 5),    # Linear [4C, C]: rows >= cols (Conda: right projector)
    "h.0.mlp.c_proj.weight": (5, 12),  # Linear [C, 4C]: rows < cols (Conda: left projector)
    "h.0.attn.c_proj.weight": (5, 5),  # square
    "h.0.ln_1.weight": (5,),
    "wte.weight": (7, 5),              # a matrix that is not a hidden Linear (AdamW in Muon/Conda)
}
HIDDEN = [n for n in SHAPES if n.startswith("h.") and n.endswith(".weight") and len(SHAPES[n]) == 2]
DECAY = HIDDEN  # nanoGPT: Linear weights decay; LayerNorm and embeddings do not


# ---------------- SophiaG (sophia.py) ----------------
class SophiaG:
    def __init__(self, params, lr, betas, rho, wd_of):
        self.params, self.lr, self.betas, self.rho, self.wd_of = params, lr, betas, rho, wd_of
        self.state = {n: {"exp_avg": torch.zeros_like(p), "hessian": torch.zeros_like(p)} for n, p in params.items()}

    @torch.no_grad()
    def update_hessian(self, hgrads):
        beta1, beta2 = self.betas
        for n, p in self.params.items():
            self.state[n]["hessian"].mul_(beta2).addcmul_(hgrads[n], hgrads[n], value=1 - beta2)

    @torch.no_grad()
    def step(self, grads, bs):
        beta1, beta2 = self.betas
        for n, param in self.params.items():
            grad, exp_avg, hess = grads[n], self.state[n]["exp_avg"], self.state[n]["hessian"]
            param.mul_(1 - self.lr * self.wd_of[n])
            exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
            step_size_neg = -self.lr
            ratio = (exp_avg.abs() / (self.rho * bs * hess + 1e-15)).clamp(None, 1)
            param.addcmul_(exp_avg.sign(), ratio, value=step_size_neg)

    def win_rate(self, bs):
        eff = sum(torch.sum(self.state[n]["exp_avg"].abs() < self.rho * bs * self.state[n]["hessian"]).item() for n in self.params)
        return eff / sum(p.numel() for p in self.params.values())


# ---------------- Muon, Keller Jordan (muon.py) ----------------
def zeropower_via_newtonschulz5(G, steps: int):
    assert G.ndim >= 2
    a, b, c = (3.4445, -4.7750, 2.0315)
    X = G.float()  # official: G.bfloat16()
    if G.size(-2) > G.size(-1):
        X = X.mT
    X = X / (X.norm(dim=(-2, -1), keepdim=True) + 1e-7)
    for _ in range(steps):
        A = X @ X.mT
        B = b * A + c * A @ A
        X = a * X + B @ X
    if G.size(-2) > G.size(-1):
        X = X.mT
    return X


def muon_update(grad, momentum, beta=0.95, ns_steps=5, nesterov=True):
    momentum.lerp_(grad, 1 - beta)
    update = grad.lerp_(momentum, beta) if nesterov else momentum
    update = zeropower_via_newtonschulz5(update, steps=ns_steps)
    update *= max(1, grad.size(-2) / grad.size(-1)) ** 0.5
    return update


def adam_update(grad, buf1, buf2, step, betas, eps):  # muon.py's, used by MuonWithAuxAdam
    buf1.lerp_(grad, 1 - betas[0])
    buf2.lerp_(grad.square(), 1 - betas[1])
    buf1c = buf1 / (1 - betas[0] ** step)
    buf2c = buf2 / (1 - betas[1] ** step)
    return buf1c / (buf2c.sqrt() + eps)


class MuonKJ:
    """SingleDeviceMuon on the hidden matrices; the other params get the Moonlight-style AdamW
    backup below (so both variants share it and the fixture isolates the matrix update)."""

    def __init__(self, params, lr, wd, momentum, adam_betas, adam_eps):
        self.params, self.lr, self.wd, self.mom = params, lr, wd, momentum
        self.adam = MoonlightAdamBackup(adam_betas, adam_eps)
        self.buf = {n: torch.zeros_like(p) for n, p in params.items()}

    @torch.no_grad()
    def step(self, grads):
        for n, p in self.params.items():
            if n in HIDDEN:
                update = muon_update(grads[n].clone(), self.buf[n], beta=self.mom)
                p.mul_(1 - self.lr * self.wd)
                p.add_(update.reshape(p.shape), alpha=-self.lr)
            else:
                self.adam.step(n, p, grads[n], self.lr, self.wd)


# ---------------- Muon, Moonlight (conda_torch/muon_moonlight.py) ----------------
def zeropower_moonlight(G, steps):
    assert len(G.shape) == 2
    a, b, c = (3.4445, -4.7750, 2.0315)
    X = G.float()  # official: G.bfloat16()
    if G.size(0) > G.size(1):
        X = X.T
    X = X / (X.norm() + 1e-7)
    for _ in range(steps):
        A = X @ X.T
        B = b * A + c * A @ A
        X = a * X + B @ X
    if G.size(0) > G.size(1):
        X = X.T
    return X


class MoonlightAdamBackup:
    def __init__(self, betas, eps):
        self.betas, self.eps, self.state = betas, eps, {}

    @torch.no_grad()
    def step(self, n, p, g, lr, weight_decay):
        if n not in self.state:
            self.state[n] = {"step": 0, "moment1": torch.zeros_like(g), "moment2": torch.zeros_like(g)}
        state = self.state[n]
        beta1, beta2 = self.betas
        state["step"] += 1
        step = state["step"]
        buf1, buf2 = state["moment1"], state["moment2"]
        buf1.lerp_(g, 1 - beta1)
        buf2.lerp_(g.square(), 1 - beta2)
        g = buf1 / (self.eps + buf2.sqrt())
        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        scale = bias_correction1 / bias_correction2 ** 0.5
        p.data.mul_(1 - lr * weight_decay)
        p.data.add_(g, alpha=-lr / scale)


class MuonMoonlight:
    def __init__(self, params, lr, wd, momentum, adam_betas, adam_eps, nesterov=True, ns_steps=5):
        self.params, self.lr, self.wd, self.mom, self.nesterov, self.ns = params, lr, wd, momentum, nesterov, ns_steps
        self.adam = MoonlightAdamBackup(adam_betas, adam_eps)
        self.buf = {}

    @torch.no_grad()
    def step(self, grads):
        for n, p in self.params.items():
            if n not in HIDDEN:
                self.adam.step(n, p, grads[n], self.lr, self.wd)
                continue
            g = grads[n]
            if n not in self.buf:
                self.buf[n] = torch.zeros_like(g)
            buf = self.buf[n]
            buf.mul_(self.mom).add_(g)
            g = g.add(buf, alpha=self.mom) if self.nesterov else buf
            u = zeropower_moonlight(g, steps=self.ns)
            A, B = p.shape[:2]
            adjusted_lr = self.lr * 0.2 * math.sqrt(max(A, B))
            p.data.mul_(1 - self.lr * self.wd)
            p.data.add_(u, alpha=-adjusted_lr)


# ---------------- Conda (conda.py + projector.py, proj_type "std") ----------------
class CondaProjector:
    def __init__(self, update_proj_gap, scale):
        self.update_proj_gap, self.scale, self.ortho_matrix, self.last_svd_step = update_proj_gap, scale, None, -1

    def project_with_cached_ortho(self, input_matrix, svd_basis_matrix, step):
        update_condition = self.ortho_matrix is None or step % self.update_proj_gap == 0
        if update_condition and step != self.last_svd_step:
            U, s, Vh = torch.linalg.svd(svd_basis_matrix.float(), full_matrices=False)
            self.ortho_matrix = Vh if input_matrix.shape[0] >= input_matrix.shape[1] else U
            self.last_svd_step = step
        ortho = self.ortho_matrix
        if input_matrix.shape[0] >= input_matrix.shape[1]:
            return torch.matmul(input_matrix, ortho.t())
        return torch.matmul(ortho.t(), input_matrix)

    def project_back(self, projected_matrix):
        ortho = self.ortho_matrix
        if projected_matrix.shape[0] >= projected_matrix.shape[1]:
            back = torch.matmul(projected_matrix, ortho)
        else:
            back = torch.matmul(ortho, projected_matrix)
        return back * self.scale


class Conda:
    def __init__(self, params, lr, betas, eps, weight_decay, scale, update_proj_gap):
        self.params, self.lr, self.betas, self.eps, self.wd = params, lr, betas, eps, weight_decay
        self.scale, self.gap, self.state = scale, update_proj_gap, {}

    @torch.no_grad()
    def step(self, grads):
        for n, p in self.params.items():
            grad = grads[n]
            if n not in self.state:
                self.state[n] = {"step": 0, "exp_avg": torch.zeros_like(grad), "exp_avg_sq": torch.zeros_like(grad)}
            state = self.state[n]
            exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
            beta1, beta2 = self.betas
            exp_avg.mul_(beta1).add_(grad, alpha=(1.0 - beta1))
            if n in HIDDEN:  # the group with "update_proj_gap"
                if "projector" not in state:
                    state["projector"] = CondaProjector(self.gap, self.scale)
                grad = state["projector"].project_with_cached_ortho(grad, exp_avg, state["step"])
                exp_avg = state["projector"].project_with_cached_ortho(exp_avg, exp_avg, state["step"])
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1.0 - beta2)
            denom = exp_avg_sq.sqrt().add_(self.eps)
            state["step"] += 1
            step_size = self.lr
            bias_correction1 = 1.0 - beta1 ** state["step"]
            bias_correction2 = 1.0 - beta2 ** state["step"]
            step_size = step_size * math.sqrt(bias_correction2) / bias_correction1
            norm_grad = exp_avg / denom
            if n in HIDDEN:
                norm_grad = state["projector"].project_back(norm_grad)
            p.add_(norm_grad, alpha=-step_size)
            if self.wd > 0.0:
                p.add_(p, alpha=(-self.lr * self.wd))


# settings shared with tests/optim.rs
SOPHIA = dict(lr=0.05, betas=(0.965, 0.99), rho=0.05, wd=0.2, bs=256)
MUON = dict(lr=0.02, wd=0.1, momentum=0.95, adam_betas=(0.9, 0.95), adam_eps=1e-8)
CONDA = dict(lr=0.01, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.01, scale=0.25, update_proj_gap=K)


def main():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = os.path.join(repo, "tests", "fixtures", "optim")
    torch.manual_seed(20240503)
    torch.set_num_threads(1)
    init = {n: torch.randn(s) * 0.5 for n, s in SHAPES.items()}
    grads = [{n: torch.randn(s) for n, s in SHAPES.items()} for _ in range(N)]
    hess = {i: {n: torch.randn(s) * 0.5 for n, s in SHAPES.items()} for i in range(N) if i % K == K - 1}
    lrs = torch.tensor([1.0 - 0.05 * i for i in range(N)])  # schedule multiplier per step
    t = {f"init.{n}": v.clone() for n, v in init.items()}
    for i in range(N):
        for n in SHAPES:
            t[f"grad.{i}.{n}"] = grads[i][n].clone()
        if i in hess:
            for n in SHAPES:
                t[f"hess.{i}.{n}"] = hess[i][n].clone()
    t["lr"] = lrs.clone()

    def run(tag, opt, params, base_lr, do_step):
        for i in range(N):
            opt.lr = base_lr * lrs[i].item()
            do_step(i)
            for n, p in params.items():
                t[f"{tag}.{i}.{n}"] = p.detach().clone()

    p = {n: v.clone() for n, v in init.items()}
    s = SophiaG(p, SOPHIA["lr"], SOPHIA["betas"], SOPHIA["rho"], {n: SOPHIA["wd"] if n in DECAY else 0.0 for n in SHAPES})
    wins = []

    def sophia_step(i):
        s.step(grads[i], bs=SOPHIA["bs"])
        if i % K == K - 1:
            s.update_hessian(hess[i])
            wins.append(s.win_rate(SOPHIA["bs"]))
    run("sophia", s, p, SOPHIA["lr"], sophia_step)
    t["sophia.win_rate"] = torch.tensor(wins)
    print("sophia win rates", [round(w, 4) for w in wins])

    p = {n: v.clone() for n, v in init.items()}
    o = MuonKJ(p, MUON["lr"], MUON["wd"], MUON["momentum"], MUON["adam_betas"], MUON["adam_eps"])
    run("muon_kj", o, p, MUON["lr"], lambda i: o.step(grads[i]))

    p = {n: v.clone() for n, v in init.items()}
    o2 = MuonMoonlight(p, MUON["lr"], MUON["wd"], MUON["momentum"], MUON["adam_betas"], MUON["adam_eps"])
    run("muon_moonlight", o2, p, MUON["lr"], lambda i: o2.step(grads[i]))

    p = {n: v.clone() for n, v in init.items()}
    c = Conda(p, CONDA["lr"], CONDA["betas"], CONDA["eps"], CONDA["weight_decay"], CONDA["scale"], CONDA["update_proj_gap"])
    run("conda", c, p, CONDA["lr"], lambda i: c.step(grads[i]))

    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "optim_ref.safetensors")
    save_file({k: v.float().contiguous() for k, v in sorted(t.items())}, path, metadata={"format": "pt"})
    print(f"{os.path.getsize(path)} bytes, {len(t)} tensors -> {path}")


if __name__ == "__main__":
    main()
