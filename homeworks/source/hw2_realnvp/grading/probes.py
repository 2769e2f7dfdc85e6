"""Homework 2 probes: what the grader asks of the student's flows (run in the sandbox, judge nothing)."""

from __future__ import annotations

import torch

import dgm
from autograder.worker import StudentCodeError

ALPHA = 0.05


def _require(ns, *names):
    for name in names:
        if not hasattr(ns, name):
            raise StudentCodeError(f"the notebook defines no {name}")


def _perturb(module: torch.nn.Module, scale: float) -> None:
    """Move every parameter away from the identity initialisation, so log-dets are not trivially 0."""
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.add_(scale * torch.randn_like(parameter))


def _train(module: torch.nn.Module, shape: tuple[int, ...], steps: int) -> None:
    """``steps`` Adam steps on the negative log-likelihood under N(0, I) that the module's own
    ``(z, log_det)`` give to random data of mean 1 and standard deviation 3 (float64, batches of 64):
    every layer must move away from the identity, through its shifts and through its scales."""
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-2)
    for _ in range(steps):
        z, log_det = module(1 + 3 * torch.randn(64, *shape, dtype=torch.float64))
        loss = (0.5 * z.pow(2).flatten(1).sum(1) - log_det).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def _jacobian_and_log_det(function, x: torch.Tensor) -> dict:
    """Forward, inverse-free data for one example: the autograd Jacobian (D, D) and the reported log-det."""
    z, log_det = function(x.unsqueeze(0))
    jacobian = torch.autograd.functional.jacobian(lambda v: function(v.unsqueeze(0))[0][0], x)
    dim = x.numel()
    return {"jacobian": jacobian.reshape(dim, dim).detach(), "log_det": log_det.detach().reshape(-1)}


def _round_trip(layer, x) -> dict:
    z, log_det = layer(x)
    return {"x": x, "z": z.detach(), "x_back": layer.inverse(z).detach(), "log_det": log_det.detach(), **{f"first_{k}": v for k, v in _jacobian_and_log_det(layer, x[0]).items()}}


def _start_and_trained(start: torch.nn.Module, trained: torch.nn.Module, shape: tuple[int, ...], steps: int) -> dict:
    """Round trips on the same 4 random inputs ``(4, *shape)`` of ``start`` as given and of ``trained``
    after ``steps`` steps of :func:`_train`; both float64."""
    x = torch.randn(4, *shape, dtype=torch.float64)
    _train(trained, shape, steps)
    return {"start": _round_trip(start, x), "trained": _round_trip(trained, x)}


def masks(ns) -> dict:
    _require(ns, "checkerboard_mask", "channel_mask")
    return {
        "checkerboard_5_0": ns.checkerboard_mask((5,), 0), "checkerboard_5_1": ns.checkerboard_mask((5,), 1),
        "checkerboard_2x3x4_0": ns.checkerboard_mask((2, 3, 4), 0), "checkerboard_2x3x4_1": ns.checkerboard_mask((2, 3, 4), 1),
        "channel_6x2x2_0": ns.channel_mask((6, 2, 2), 0), "channel_6x2x2_1": ns.channel_mask((6, 2, 2), 1),
    }


def couplings(ns, steps) -> dict:
    """Coupling layers (float64) with each kind of mask: with random weights (``start``) and after a few
    Adam steps from their initialisation (``trained``), round trips and Jacobians."""
    _require(ns, "AffineCoupling", "checkerboard_mask", "channel_mask")
    cases = {
        "checkerboard (3,), parity 0": ((3,), ns.checkerboard_mask((3,), 0)),
        "checkerboard (3,), parity 1": ((3,), ns.checkerboard_mask((3,), 1)),
        "checkerboard (1, 4, 4), parity 1": ((1, 4, 4), ns.checkerboard_mask((1, 4, 4), 1)),
        "channel (4, 2, 2), parity 0": ((4, 2, 2), ns.channel_mask((4, 2, 2), 0)),
    }
    result = {}
    for name, (shape, mask) in cases.items():
        start = ns.AffineCoupling(mask, 8).double()
        _perturb(start, 0.3)
        result[name] = _start_and_trained(start, ns.AffineCoupling(mask, 8).double(), shape, steps)
    return result


def actnorm(ns, steps) -> dict:
    """ActNorm on a first batch with known statistics, then round trips: right after that batch
    (``start``), and after a few Adam steps from a fresh layer (``trained``)."""
    _require(ns, "ActNorm")
    result = {}
    for name, shape in {"points (3,)": (3,), "images (2, 3, 3)": (2, 3, 3)}.items():
        start = ns.ActNorm(shape).double()
        first = 3 + 4 * torch.randn(64, *shape, dtype=torch.float64)
        z_first, _ = start(first)
        result[name] = {"first_batch": first, "z_first": z_first.detach(), **_start_and_trained(start, ns.ActNorm(shape).double(), shape, steps)}
    return result


def model(ns, shape, n_couplings, steps) -> dict:
    """A whole RealNVP (float64) with perturbed weights (``start``) and after a few Adam steps from its
    initialisation (``trained``): round trips, Jacobians, and which inputs each output depends on."""
    _require(ns, "RealNVP", "RealNVPConfig")
    config = ns.RealNVPConfig(shape=tuple(shape), n_couplings=n_couplings, hidden=8)
    start = ns.RealNVP(config).double()
    start(torch.randn(32, *shape, dtype=torch.float64))  # data-dependent initialisation
    _perturb(start, 0.1)
    return _start_and_trained(start, ns.RealNVP(config).double(), tuple(shape), steps)


def grid_density(ns, extent, resolution) -> dict:
    """log_prob of a perturbed 2D flow on a square grid."""
    _require(ns, "RealNVP", "RealNVPConfig")
    flow = ns.RealNVP(ns.RealNVPConfig(shape=(2,), n_couplings=3, hidden=16)).double()
    flow(torch.randn(64, 2, dtype=torch.float64))
    _perturb(flow, 0.05)
    points, log_density, cell_area = dgm.plots.density_grid(flow.log_prob, extent, resolution)
    return {"log_density": log_density, "cell_area": cell_area}


def dequantization(ns, n_levels) -> dict:
    _require(ns, "dequantize")
    x = torch.randint(0, n_levels, (6, 1, 3, 3)).double()
    noise = torch.rand(6, 1, 3, 3, dtype=torch.float64)
    y, log_det = ns.dequantize(x, noise, n_levels, ALPHA)
    return {"x": x, "noise": noise, "y": y, "log_det": log_det}


def _grader_dequantize(x, noise, n_levels):
    """The grader's own logit transform (its log-det is recomputed in the checks)."""
    p = ALPHA + (1 - 2 * ALPHA) * (x + noise) / n_levels
    return torch.log(p) - torch.log1p(-p)


def bits_per_dim(ns, n_levels) -> dict:
    """The student's loss on given noise, and the flow's log_prob at the grader's own y."""
    _require(ns, "DequantizedFlow", "RealNVP", "RealNVPConfig")
    model = ns.DequantizedFlow(ns.RealNVP(ns.RealNVPConfig(shape=(1, 4, 4), n_couplings=2, hidden=8)), n_levels, ALPHA).double()
    x = torch.randint(0, n_levels, (16, 1, 4, 4)).double()
    noise = torch.rand(16, 1, 4, 4, dtype=torch.float64)
    model.loss(x, noise)  # initialises ActNorm
    _perturb(model, 0.05)
    with torch.no_grad():
        return {"x": x, "noise": noise, "loss": model.loss(x, noise), "flow_log_prob": model.flow.log_prob(_grader_dequantize(x, noise, n_levels))}


def _evaluate(flow: torch.nn.Module, x: torch.Tensor, batch_size: int) -> dict:
    """The trained flow, converted to float64, at the grader's inputs ``x`` (M, *shape): the raw
    ``z, log_det = flow(x)`` and ``x_back = flow.inverse(z)``, on the CPU. Nothing else is asked of it:
    the grader computes densities from these and checks them against each other."""
    flow = flow.double()
    device = next(flow.parameters()).device
    outputs = {"z": [], "log_det": [], "x_back": []}
    with torch.no_grad():
        for batch in x.split(batch_size):
            z, log_det = flow(batch.to(device))
            # log_det accumulated in place into a float32 zeros tensor stays float32: harmless, so cast it
            for key, value in {"z": z, "log_det": torch.as_tensor(log_det).double(), "x_back": flow.inverse(z)}.items():
                outputs[key].append(value.cpu())
    return {key: torch.cat(values) for key, values in outputs.items()}


def train_toy(ns, toy, n_train, config, train, n_samples, x) -> dict:
    """The grader's recipe on a 2D toy: train the student's RealNVP on its training points, draw samples,
    then evaluate the flow at the grader's batch ``x`` (M, 2) (see :func:`_evaluate`)."""
    _require(ns, "RealNVP", "RealNVPConfig")
    flow = ns.RealNVP(ns.RealNVPConfig(shape=(2,), **config))
    dgm.fit(flow, dgm.data.toy2d(toy, n_train, seed=0), dgm.TrainConfig(**train), progress=False)
    samples = flow.sample(n_samples).float()
    return {**_evaluate(flow, x, 4096), "samples": samples}


def train_images(ns, dataset, n_levels, config, train, n_samples, y) -> dict:
    """The grader's recipe on images: train the student's classes on grey levels, draw samples, then
    evaluate the flow at the grader's batch ``y`` (M, C, H, W) in logit space (see :func:`_evaluate`)."""
    _require(ns, "RealNVP", "RealNVPConfig", "DequantizedFlow")
    train_levels = dgm.data.to_levels(dgm.data.load_images(dataset, "train").images, n_levels)
    device = dgm.default_device()
    model = ns.DequantizedFlow(ns.RealNVP(ns.RealNVPConfig(shape=tuple(train_levels.shape[1:]), **config)), n_levels, ALPHA).to(device)
    dgm.fit(model, train_levels, dgm.TrainConfig(**train), progress=False)
    samples = model.sample(n_samples).cpu()
    return {**_evaluate(model.flow, y, 500), "samples": samples}
