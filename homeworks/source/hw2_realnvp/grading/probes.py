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


def _jacobian_and_log_det(function, x: torch.Tensor) -> dict:
    """Forward, inverse-free data for one example: the autograd Jacobian (D, D) and the reported log-det."""
    z, log_det = function(x.unsqueeze(0))
    jacobian = torch.autograd.functional.jacobian(lambda v: function(v.unsqueeze(0))[0][0], x)
    dim = x.numel()
    return {"jacobian": jacobian.reshape(dim, dim).detach(), "log_det": log_det.detach().reshape(-1)}


def masks(ns) -> dict:
    _require(ns, "checkerboard_mask", "channel_mask")
    return {
        "checkerboard_5_0": ns.checkerboard_mask((5,), 0), "checkerboard_5_1": ns.checkerboard_mask((5,), 1),
        "checkerboard_2x3x4_0": ns.checkerboard_mask((2, 3, 4), 0), "checkerboard_2x3x4_1": ns.checkerboard_mask((2, 3, 4), 1),
        "channel_6x2x2_0": ns.channel_mask((6, 2, 2), 0), "channel_6x2x2_1": ns.channel_mask((6, 2, 2), 1),
    }


def _round_trip(layer, x) -> dict:
    z, log_det = layer(x)
    return {"x": x, "z": z.detach(), "x_back": layer.inverse(z).detach(), "log_det": log_det.detach(), **{f"first_{k}": v for k, v in _jacobian_and_log_det(layer, x[0]).items()}}


def couplings(ns) -> dict:
    """Random-weight coupling layers (float64) with each kind of mask: round trips and Jacobians."""
    _require(ns, "AffineCoupling", "checkerboard_mask", "channel_mask")
    cases = {
        "checkerboard (3,), parity 0": ((3,), ns.checkerboard_mask((3,), 0)),
        "checkerboard (3,), parity 1": ((3,), ns.checkerboard_mask((3,), 1)),
        "checkerboard (1, 4, 4), parity 1": ((1, 4, 4), ns.checkerboard_mask((1, 4, 4), 1)),
        "channel (4, 2, 2), parity 0": ((4, 2, 2), ns.channel_mask((4, 2, 2), 0)),
    }
    result = {}
    for name, (shape, mask) in cases.items():
        layer = ns.AffineCoupling(mask, 8).double()
        _perturb(layer, 0.3)
        result[name] = _round_trip(layer, torch.randn(4, *shape, dtype=torch.float64))
    return result


def actnorm(ns) -> dict:
    """ActNorm on a first batch with known statistics, then on a second batch."""
    _require(ns, "ActNorm")
    result = {}
    for name, shape in {"points (3,)": (3,), "images (2, 3, 3)": (2, 3, 3)}.items():
        layer = ns.ActNorm(shape).double()
        first = 3 + 4 * torch.randn(64, *shape, dtype=torch.float64)
        z_first, _ = layer(first)
        result[name] = {"first_batch": first, "z_first": z_first.detach(), **_round_trip(layer, torch.randn(3, *shape, dtype=torch.float64))}
    return result


def model(ns, shape, n_couplings) -> dict:
    """A whole RealNVP with perturbed weights: round trip, Jacobian, and which inputs each output depends on."""
    _require(ns, "RealNVP", "RealNVPConfig")
    flow = ns.RealNVP(ns.RealNVPConfig(shape=tuple(shape), n_couplings=n_couplings, hidden=8)).double()
    flow(torch.randn(32, *shape, dtype=torch.float64))  # data-dependent initialisation
    _perturb(flow, 0.1)
    return _round_trip(flow, torch.randn(4, *shape, dtype=torch.float64))


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


def train_toy(ns, toy, n_train, n_test, config, train, n_samples) -> dict:
    """The grader's recipe on a 2D toy: train the student's RealNVP, report log_prob on test points and samples."""
    _require(ns, "RealNVP", "RealNVPConfig")
    flow = ns.RealNVP(ns.RealNVPConfig(shape=(2,), **config))
    dgm.fit(flow, dgm.data.toy2d(toy, n_train, seed=0), dgm.TrainConfig(**train), progress=False)
    flow = flow.double()
    with torch.no_grad():
        return {"test_log_prob": flow.log_prob(dgm.data.toy2d(toy, n_test, seed=1).double()), "samples": flow.sample(n_samples).float()}


def train_images(ns, dataset, n_levels, config, train, n_samples) -> dict:
    """The grader's recipe on images: train the student's classes on grey levels, report the flow's
    log_prob at the grader's dequantized test set (its noise included) and samples."""
    _require(ns, "RealNVP", "RealNVPConfig", "DequantizedFlow")
    train_levels = dgm.data.to_levels(dgm.data.load_images(dataset, "train").images, n_levels)
    test_levels = dgm.data.to_levels(dgm.data.load_images(dataset, "test").images, n_levels)
    device = dgm.default_device()
    model = ns.DequantizedFlow(ns.RealNVP(ns.RealNVPConfig(shape=tuple(train_levels.shape[1:]), **config)), n_levels, ALPHA).to(device)
    dgm.fit(model, train_levels, dgm.TrainConfig(**train), progress=False)
    noise = torch.rand(test_levels.shape, generator=torch.Generator().manual_seed(1234))
    y = _grader_dequantize(test_levels, noise, n_levels)
    with torch.no_grad():
        flow_log_prob = torch.cat([model.flow.log_prob(batch.to(device)).cpu() for batch in y.split(500)])
        samples = model.sample(n_samples).cpu()
    return {"noise": noise, "flow_log_prob": flow_log_prob, "samples": samples}
