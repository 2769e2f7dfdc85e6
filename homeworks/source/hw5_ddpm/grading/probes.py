"""Homework 5 probes: what the grader asks of the student's schedule, posterior, sampler, losses and bound.

Each probe runs in the sandbox with the student's program as ``ns`` and returns raw tensors; it judges nothing.
``test_checks.py`` does, in the grader's process, recomputing every value in float64 from the probe's inputs and
from what the student's code passed to the networks it was given (recorded here, call by call).
"""

from __future__ import annotations

import torch
from torch import nn

import dgm
from autograder.worker import StudentCodeError

NULL = -1


def _require(ns, *names):
    for name in names:
        if not hasattr(ns, name):
            raise StudentCodeError(f"the notebook defines no {name}")


def _schedule(ns, betas: torch.Tensor):
    """The notebook's Schedule of ``betas``, filled by the grader (so a check never depends on the student's make_schedule)."""
    _require(ns, "Schedule")
    beta = torch.cat([torch.zeros(1, dtype=torch.float64), betas.double()])
    return ns.Schedule(beta=beta, alpha=1 - beta, alpha_bar=torch.cumprod(1 - beta, 0))


class Recorder(nn.Module):
    """Wraps a network ``eps_model(x_t, t, y)`` and keeps every call's inputs and output (detached copies)."""

    def __init__(self, model):
        super().__init__()
        self.model, self.calls = model, []

    def forward(self, x_t, t, y=None):
        out = self.model(x_t, t, y)
        self.calls.append({"x_t": x_t.detach().clone(), "t": torch.as_tensor(t).detach().clone(),
                           "y": torch.zeros(0) if y is None else torch.as_tensor(y).detach().clone(), "out": out.detach().clone()})
        return out


class SmoothEps(nn.Module):
    """A fixed, smooth stand-in for a trained network: eps = 0.5 tanh(W x + c t / T) + 0.1 (y + 1) + shift, known to the grader."""

    def __init__(self, W: torch.Tensor, c: torch.Tensor, T: int, shift: float = 0.0):
        super().__init__()
        self.W, self.c, self.T, self.shift = W, c, T, shift

    def forward(self, x_t, t, y):
        flat = x_t.flatten(1).double()
        out = 0.5 * torch.tanh(flat @ self.W.T + self.c * (t.double()[:, None] / self.T)) + 0.1 * (y.double()[:, None] + 1) + self.shift
        return out.to(x_t.dtype).view_as(x_t)


# --------------------------------------------------------------------------------------------------
# Schedule, forward process, posterior, conversions


def schedules(ns, sizes, betas) -> dict:
    """linear_betas(T) and cosine_betas(T) for each T of ``sizes``, and make_schedule of the grader's ``betas``."""
    _require(ns, "linear_betas", "cosine_betas", "make_schedule")
    schedule = ns.make_schedule(betas.clone())
    return {"linear": {str(T): ns.linear_betas(T) for T in sizes}, "cosine": {str(T): ns.cosine_betas(T) for T in sizes},
            "beta": schedule.beta, "alpha": schedule.alpha, "alpha_bar": schedule.alpha_bar}


def forward(ns, betas, x0, t, eps) -> dict:
    """q_sample of the grader's data, times and noise, in float64 and in float32."""
    _require(ns, "q_sample")
    schedule = _schedule(ns, betas)
    return {"float64": ns.q_sample(schedule, x0.clone(), t.clone(), eps.clone()),
            "float32": ns.q_sample(schedule, x0.float(), t.clone(), eps.float())}


def posterior(ns, betas, x0, x_t, t) -> dict:
    _require(ns, "posterior")
    mean, variance = ns.posterior(_schedule(ns, betas), x0.clone(), x_t.clone(), t.clone())
    return {"mean": torch.as_tensor(mean), "variance": torch.as_tensor(variance)}


def conversions(ns, betas, x0, eps, t) -> dict:
    """Every conversion at the grader's (x0, eps, t) and x_t = sqrt(alpha_bar) x0 + sqrt(1 - alpha_bar) eps
    computed by the grader (so these outputs do not depend on the student's q_sample)."""
    _require(ns, "x0_from_eps", "eps_from_x0", "v_from_x0_eps", "x0_from_v", "eps_from_v", "score_from_eps")
    schedule = _schedule(ns, betas)
    alpha_bar = schedule.alpha_bar.double()[t].view(-1, *[1] * (x0.dim() - 1))
    x_t = alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * eps
    v = alpha_bar.sqrt() * eps - (1 - alpha_bar).sqrt() * x0
    return {"x0_from_eps": ns.x0_from_eps(schedule, x_t.clone(), t.clone(), eps.clone()),
            "eps_from_x0": ns.eps_from_x0(schedule, x_t.clone(), t.clone(), x0.clone()),
            "v_from_x0_eps": ns.v_from_x0_eps(schedule, x0.clone(), t.clone(), eps.clone()),
            "x0_from_v": ns.x0_from_v(schedule, x_t.clone(), t.clone(), v.clone()),
            "eps_from_v": ns.eps_from_v(schedule, x_t.clone(), t.clone(), v.clone()),
            "score_from_eps": ns.score_from_eps(schedule, x_t.clone(), t.clone(), eps.clone())}


# --------------------------------------------------------------------------------------------------
# Guidance and the training loss


class TableEps(nn.Module):
    """eps(x, t, y) = a(t) x + e[y + 1]: a model whose conditional and unconditional predictions the grader knows."""

    def __init__(self, a: torch.Tensor, table: torch.Tensor):
        super().__init__()
        self.a, self.table = a, table

    def forward(self, x_t, t, y):
        return self.a[t].view(-1, *[1] * (x_t.dim() - 1)) * x_t + self.table[y + 1].view_as(x_t)


def guided(ns, a, table, x_t, t, y, ws) -> dict:
    """guided_eps of the table model for each w of ``ws``, and with y = None."""
    _require(ns, "guided_eps")
    model = TableEps(a, table)
    return {"guided": torch.stack([ns.guided_eps(model, x_t.clone(), t.clone(), y.clone(), float(w)) for w in ws]),
            "unconditional": ns.guided_eps(model, x_t.clone(), t.clone(), None, 2.0)}


def label_dropout(ns, betas, x0, y, p_uncond, repeats) -> dict:
    """``repeats`` calls of loss_simple with a recording model (a fixed smooth function); its returned losses and
    every call of the model; then one call with y = None."""
    _require(ns, "loss_simple")
    schedule = _schedule(ns, betas)
    generator = torch.Generator().manual_seed(0)
    recorder = Recorder(SmoothEps(torch.randn(x0[0].numel(), x0[0].numel(), generator=generator, dtype=torch.float64) / 3,
                                  torch.randn(x0[0].numel(), generator=generator, dtype=torch.float64), schedule.T))
    losses = [ns.loss_simple(recorder, schedule, x0.clone(), y.clone(), p_uncond) for _ in range(repeats)]
    calls = len(recorder.calls)
    unconditional = ns.loss_simple(recorder, schedule, x0.clone(), None, p_uncond)
    return {"losses": torch.stack([torch.as_tensor(loss).detach() for loss in losses]), "calls": recorder.calls[:calls],
            "unconditional_calls": recorder.calls[calls:], "unconditional_loss": torch.as_tensor(unconditional).detach()}


# --------------------------------------------------------------------------------------------------
# Sampling


def reverse_step(ns, betas, eps, x_t, t, noise) -> dict:
    _require(ns, "reverse_step")
    return {"x_prev": ns.reverse_step(_schedule(ns, betas), eps.clone(), x_t.clone(), t.clone(), noise.clone())}


def sampler(ns, betas, weights, means, stds, n, labels, w, noise_seed) -> dict:
    """The student's sample() driven by the exact noise prediction of a Gaussian mixture (dgm.mixture) for the
    schedule of the grader's betas, computed from the betas here, not from the student's schedule. Records every
    guided_eps call the sampler makes (its inputs and output) and returns the samples."""
    _require(ns, "sample", "guided_eps")
    schedule = _schedule(ns, betas)
    alpha_bar = torch.cumprod(torch.cat([torch.ones(1, dtype=torch.float64), 1 - betas]), 0)
    oracle = dgm.mixture.GaussianMixture(weights, means, stds).eps_model(alpha_bar, NULL)
    steps, student_guided_eps = [], ns.guided_eps

    def recording_guided_eps(eps_model, x_t, t, y, w_):
        out = student_guided_eps(eps_model, x_t, t, y, w_)
        steps.append({"x_t": x_t.detach().clone(), "t": torch.as_tensor(t).detach().clone(), "out": out.detach().clone()})
        return out

    ns.guided_eps = recording_guided_eps  # sample() finds it in its globals
    y = None if labels.numel() == 0 else labels.clone()
    samples = ns.sample(oracle, schedule, (n, len(means[0])), y, float(w), torch.Generator().manual_seed(noise_seed))
    return {"samples": torch.as_tensor(samples).detach(), "steps": steps}


# --------------------------------------------------------------------------------------------------
# The bound


def bound(ns, betas, x0, n_levels, W, c, labels, shift: float = 0.0) -> dict:
    """bound_terms and bits_per_dim with the grader's fixed smooth network, every call of it recorded."""
    _require(ns, "bound_terms", "bits_per_dim")
    schedule = _schedule(ns, betas)
    recorder = Recorder(SmoothEps(W, c, len(betas), shift))
    y = None if labels.numel() == 0 else labels.clone()
    terms = ns.bound_terms(recorder, schedule, x0.clone(), n_levels, y)
    return {"terms": {k: torch.as_tensor(v).detach() for k, v in dict(terms).items()}, "calls": recorder.calls,
            "bits_per_dim": torch.as_tensor(ns.bits_per_dim(terms, x0.clone())).detach()}


# --------------------------------------------------------------------------------------------------
# The grader's recipe: the state of the course network trained with the student's loss


def train(ns, dataset, T, config, train, p_uncond, train_seed) -> dict:
    """The notebook's ``Diffusion`` (the given EpsNet) trained by ``dgm.fit`` with the student's ``loss_simple`` and
    label dropout, on the linear schedule of ``T`` steps filled by the grader; the trained network's state."""
    _require(ns, "Diffusion", "EpsConfig", "loss_simple")
    scale = 1000 / T
    schedule = _schedule(ns, torch.linspace(1e-4 * scale, 0.02 * scale, T, dtype=torch.float64))
    data = dgm.data.load_images(dataset, "train")
    model = ns.Diffusion(ns.EpsConfig(**{**config, "data_shape": tuple(config["data_shape"])}), schedule, p_uncond).to(dgm.default_device())
    dgm.fit(model, (data.images, data.labels), dgm.TrainConfig(**train, seed=train_seed), progress=False)
    return {"net": {k: v.detach().cpu() for k, v in model.net.state_dict().items()}}
