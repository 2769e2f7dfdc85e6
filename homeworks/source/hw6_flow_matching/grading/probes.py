"""Homework 6 probes: what the grader asks of the student's paths, loss, samplers, divergence, likelihood and pairing.

Each probe runs in the sandbox with the student's program as ``ns`` and returns raw tensors; it judges nothing.
``test_checks.py`` does, in the grader's process: it recomputes paths and losses from closed forms, replays each sampler's
chain from the recorded calls of the field it was given (a field the grader defines, so it recomputes every output), and
integrates trained fields itself.
"""

from __future__ import annotations

import math

import torch
from torch import nn

import dgm
from autograder.worker import StudentCodeError


def _require(ns, *names):
    for name in names:
        if not hasattr(ns, name):
            raise StudentCodeError(f"the notebook defines no {name}")


class Recorder(nn.Module):
    """Wraps a field ``v(x, t)`` and keeps every call's inputs and output (detached copies)."""

    def __init__(self, field):
        super().__init__()
        self.field, self.calls = field, []

    def forward(self, x, t):
        out = self.field(x, t)
        self.calls.append({"x": x.detach().clone(), "t": torch.as_tensor(t).detach().clone(), "out": out.detach().clone()})
        return out


class SmoothField(nn.Module):
    """v(x, t) = tanh(x W^T + t c) A^T + b t: a fixed smooth field in float64 known to the grader (x flattened, output reshaped)."""

    def __init__(self, W, c, A, b):
        super().__init__()
        self.W, self.c, self.A, self.b = W, c, A, b

    def forward(self, x, t):
        flat, t = x.flatten(1).double(), torch.as_tensor(t).double().view(-1, 1)
        return (torch.tanh(flat @ self.W.T + t * self.c) @ self.A.T + t * self.b).to(x.dtype).view_as(x)


class ForcedField(nn.Module):
    """dx/dt = -x + cos(2 pi t), elementwise."""

    def forward(self, x, t):
        return -x + torch.cos(2 * math.pi * torch.as_tensor(t).to(x).view(-1, *[1] * (x.dim() - 1)))


class GaussianField(nn.Module):
    """The exact marginal velocity of the linear path from N(0, I) to N(mu, s^2 I) with independent pairs."""

    def __init__(self, mu, s):
        super().__init__()
        self.mu, self.s = mu, s

    def forward(self, x, t):
        t = torch.as_tensor(t).to(x).view(-1, *[1] * (x.dim() - 1))
        rate = (t * self.s**2 - (1 - t)) / ((1 - t) ** 2 + t**2 * self.s**2)
        return self.mu.to(x) + rate * (x - t * self.mu.to(x))


# --------------------------------------------------------------------------------------------------
# Paths and the loss


def paths(ns, x0, x1, t, h) -> dict:
    """cond_path and cond_velocity of both paths at t, and cond_path at t - h and t + h (the grader differentiates)."""
    _require(ns, "cond_path", "cond_velocity")
    found = {}
    for path in ("linear", "vp"):
        found[path] = {"x_t": ns.cond_path(x0.clone(), x1.clone(), t.clone(), path),
                       "u_t": ns.cond_velocity(x0.clone(), x1.clone(), t.clone(), path),
                       "before": ns.cond_path(x0.clone(), x1.clone(), t - h, path), "after": ns.cond_path(x0.clone(), x1.clone(), t + h, path),
                       "float32": ns.cond_velocity(x0.float(), x1.float(), t.float(), path)}
    return found


def cfm(ns, x0, x1, t, W, c, A, b) -> dict:
    """cfm_loss of both paths with a recording smooth field: each loss and the model's calls."""
    _require(ns, "cfm_loss")
    found = {}
    for path in ("linear", "vp"):
        recorder = Recorder(SmoothField(W, c, A, b))
        loss = ns.cfm_loss(recorder, x0.clone(), x1.clone(), t.clone(), path)
        found[path] = {"loss": torch.as_tensor(loss).detach(), "calls": recorder.calls}
    return found


# --------------------------------------------------------------------------------------------------
# Samplers


def solve(ns, solver, field, x0, n_steps, mu=None, s=None) -> dict:
    """The student's ``solver`` (euler or heun) on a field the grader knows, every call recorded."""
    _require(ns, solver)
    fields = {"forced": lambda: ForcedField(), "gaussian": lambda: GaussianField(mu, s)}
    recorder = Recorder(fields[field]())
    out = getattr(ns, solver)(recorder, x0.clone(), n_steps)
    return {"x1": torch.as_tensor(out).detach(), "calls": recorder.calls}


def orders(ns, x0, sizes) -> dict:
    """euler and heun on dx/dt = -x + cos(2 pi t) for each number of steps, with the number of field calls."""
    found = {}
    for solver in ("euler", "heun"):
        _require(ns, solver)
        found[solver] = {}
        for n in sizes:
            recorder = Recorder(ForcedField())
            found[solver][str(n)] = {"x1": torch.as_tensor(getattr(ns, solver)(recorder, x0.clone(), n)).detach(), "nfe": len(recorder.calls),
                                     "calls": recorder.calls if n == sizes[0] else []}
    return found


# --------------------------------------------------------------------------------------------------
# Divergence and likelihood


def divergence(ns, x, t, z, probes, W, c, A, b) -> dict:
    """velocity_and_divergence of a smooth field: exact, with one probe per example, and for many probes at x[0]."""
    _require(ns, "velocity_and_divergence")
    recorder = Recorder(SmoothField(W, c, A, b))
    velocity, exact = ns.velocity_and_divergence(recorder, x.clone(), t.clone())
    calls_exact = len(recorder.calls)
    _, hutchinson = ns.velocity_and_divergence(recorder, x.clone(), t.clone(), z.clone())
    calls_hutchinson = len(recorder.calls) - calls_exact
    many = ns.velocity_and_divergence(SmoothField(W, c, A, b), x[:1].expand(len(probes), *x.shape[1:]).clone(), t[:1].expand(len(probes)).clone(), probes.clone())[1]
    return {"velocity": torch.as_tensor(velocity).detach(), "exact": torch.as_tensor(exact).detach(), "hutchinson": torch.as_tensor(hutchinson).detach(),
            "many": torch.as_tensor(many).detach(), "calls": [calls_exact, calls_hutchinson]}


def likelihood(ns, field, x1, n_steps, z, mu=None, s=None, W=None, c=None, A=None, b=None) -> dict:
    """log_likelihood of x1 under the flow of a field the grader knows, exact and (if z has entries) with Hutchinson's probe z."""
    _require(ns, "log_likelihood")
    v = GaussianField(mu, s) if field == "gaussian" else SmoothField(W, c, A, b)
    found = {"exact": torch.as_tensor(ns.log_likelihood(v, x1.clone(), n_steps)).detach()}
    if z.numel():
        found["hutchinson"] = torch.as_tensor(ns.log_likelihood(v, x1.clone(), n_steps, z.clone())).detach()
    return found


# --------------------------------------------------------------------------------------------------
# Pairing


def ot(ns, cases: dict) -> dict:
    """ot_pair of each case ``{"x0": ..., "x1": ...}`` of ``cases`` (name -> case)."""
    _require(ns, "ot_pair")
    return {name: torch.as_tensor(ns.ot_pair(case["x0"].clone(), case["x1"].clone())).detach() for name, case in cases.items()}


# --------------------------------------------------------------------------------------------------
# The grader's recipes: the course network trained with the student's loss (and pairing)


def _data(dataset: str):
    if dataset.startswith("toy:"):
        _, name, n = dataset.split(":")
        return dgm.data.toy2d(name, int(n), seed=0)
    return dgm.data.load_images(dataset, "train").images


def train(ns, dataset, config, train, coupling, n_levels, train_seed) -> dict:
    """The notebook's ``FlowMatching`` (the given VelocityNet) trained by ``dgm.fit`` with the student's ``cfm_loss`` (and
    ``ot_pair`` for coupling "ot") on the linear path; the trained network's state."""
    _require(ns, "FlowMatching", "VelocityConfig", "cfm_loss", "ot_pair")
    model = ns.FlowMatching(ns.VelocityConfig(**{**config, "data_shape": tuple(config["data_shape"])}), "linear", coupling, n_levels)
    dgm.fit(model.to(dgm.default_device()), _data(dataset), dgm.TrainConfig(**train, seed=train_seed), progress=False)
    return {"net": {k: v.detach().cpu() for k, v in model.net.state_dict().items()}}


def trained_likelihood(ns, config, net, x1, n_steps) -> dict:
    """The student's log_likelihood of x1 under the course VelocityNet with the trained weights ``net``."""
    _require(ns, "VelocityNet", "VelocityConfig", "log_likelihood")
    model = ns.VelocityNet(ns.VelocityConfig(**{**config, "data_shape": tuple(config["data_shape"])}))
    model.load_state_dict(net)
    model.eval()
    return {"log_p": torch.cat([torch.as_tensor(ns.log_likelihood(model, chunk, n_steps)).detach() for chunk in x1.split(2000)])}
