"""Homework 2 (RealNVP) hidden checks, one ``test_<grade_id>`` per autograded cell.

Log-determinants are judged against ``slogdet`` of autograd Jacobians, densities by quadrature,
the dequantization by its closed form, and bits per dimension, likelihoods and sample quality are
recomputed by the grader from the flow's log-densities at the grader's own inputs and noise.
"""

from __future__ import annotations

import math

import torch

import dgm
from autograder import quality
from autograder.calibrate import Calibration, QualityCalibration
from autograder.harness import GRADER_SEED

ALPHA = 0.05
TOY = {"toy": "moons", "n_train": 4000, "n_test": 2000, "config": {"n_couplings": 6, "hidden": 64},
       "train": {"epochs": 40, "batch_size": 128, "lr": 3e-3, "seed": 0}, "n_samples": 2000}
RECIPES = {
    "quick": {"dataset": "digits", "n_levels": 17, "config": {"n_couplings": 4, "hidden": 32},
              "train": {"epochs": 30, "batch_size": 64, "lr": 2e-3, "seed": 0}, "n_samples": 1000, "seconds": 240},
    "full": {"dataset": "mnist", "n_levels": 256, "config": {"n_couplings": 6, "hidden": 128},
             "train": {"epochs": 20, "batch_size": 128, "lr": 1e-3, "seed": 0}, "n_samples": 5000, "seconds": 900},
}


# --------------------------------------------------------------------------------------------------
# Independent references


def expected_checkerboard(shape: tuple[int, ...], parity: int) -> torch.Tensor:
    index = torch.arange(math.prod(shape)).reshape(shape)
    if len(shape) == 1:
        return (index % 2 == parity).float()
    row, col = (index % (shape[1] * shape[2])) // shape[2], index % shape[2]
    return ((row + col) % 2 == parity).float()


def expected_channel(shape: tuple[int, int, int], parity: int) -> torch.Tensor:
    first = (torch.arange(shape[0]) < shape[0] // 2).float().view(-1, 1, 1).expand(shape)
    return first if parity == 0 else 1 - first


def logit_log_det(x: torch.Tensor, noise: torch.Tensor, n_levels: int) -> torch.Tensor:
    """``sum_i log|dy_i/dv_i|`` for ``y = logit(alpha + (1 - 2 alpha) v / K)``, ``v = x + u``, per example."""
    p = ALPHA + (1 - 2 * ALPHA) * (x.double() + noise.double()) / n_levels
    return (math.log(1 - 2 * ALPHA) - math.log(n_levels) - torch.log(p * (1 - p))).flatten(1).sum(1)


def _judge_round_trip(name: str, found: dict) -> None:
    error = (found["x_back"] - found["x"]).abs().max().item()
    assert error < 1e-8, f"{name}: inverse(forward(x)) differs from x by up to {error:.2e}"
    assert found["log_det"].shape == (len(found["x"]),), f"{name}: log_det should have shape ({len(found['x'])},), got {tuple(found['log_det'].shape)}"
    reference = torch.linalg.slogdet(found["first_jacobian"]).logabsdet.item()
    reported = found["first_log_det"].item()
    hint = " (the sign is flipped)" if math.isclose(reported, -reference, rel_tol=1e-6) and abs(reference) > 1e-6 else ""
    assert math.isclose(reported, reference, rel_tol=1e-6, abs_tol=1e-8), (
        f"{name}: log_det is {reported:.6f} but log|det J| of the autograd Jacobian is {reference:.6f}{hint}"
    )


# --------------------------------------------------------------------------------------------------
# Layers


def test_masks(submission):
    found = submission.probe("masks")
    for key, mask in found.items():
        kind, shape_text, parity = key.split("_")
        shape = tuple(int(n) for n in shape_text.split("x"))
        expected = expected_checkerboard(shape, int(parity)) if kind == "checkerboard" else expected_channel(shape, int(parity))
        assert tuple(mask.shape) == shape, f"{kind}_mask({shape}, {parity}) has shape {tuple(mask.shape)}"
        assert torch.equal(mask.float(), expected), f"{kind}_mask({shape}, {parity}) is\n{mask}\nexpected\n{expected}"


def test_coupling(submission):
    for name, found in submission.probe("couplings").items():
        assert (found["z"] == found["x"]).any(), f"AffineCoupling with {name}: every coordinate changed; the kept (mask = 1) ones must pass unchanged"
        _judge_round_trip(f"AffineCoupling with {name}", found)


def test_actnorm(submission):
    for name, found in submission.probe("actnorm").items():
        dims = [0, *range(2, found["z_first"].dim())]
        mean, std = found["z_first"].mean(dims), found["z_first"].std(dims)
        assert torch.allclose(mean, torch.zeros_like(mean), atol=1e-6) and torch.allclose(std, torch.ones_like(std), atol=1e-3), (
            f"ActNorm on {name}: after its first batch the output should have zero mean and unit variance per channel, "
            f"got means {mean.numpy().round(3)} and standard deviations {std.numpy().round(3)}"
        )
        _judge_round_trip(f"ActNorm on {name}", found)


# --------------------------------------------------------------------------------------------------
# The flow


def test_model(submission):
    for shape, n_couplings in [((2,), 4), ((1, 4, 4), 2)]:
        found = submission.probe("model", shape=shape, n_couplings=n_couplings)
        name = f"RealNVP on {shape} with {n_couplings} couplings"
        _judge_round_trip(name, found)
        dependency = found["first_jacobian"] != 0
        if shape == (2,):
            assert dependency.all(), f"{name}: some output coordinate does not depend on every input: do the masks alternate?"
        untouched = [i for i in range(len(dependency)) if dependency[i].sum() == dependency[i, i]]  # z_i depends on x_i alone
        assert not untouched, f"{name}: output coordinates {untouched[:5]} depend only on their own input: do the masks alternate?"


def test_normalisation(submission):
    found = submission.probe("grid_density", extent=10.0, resolution=500)
    density = found["log_density"].exp()
    assert torch.isfinite(density).all(), "log_prob returned NaN or infinite values on a grid of 2D points"
    mass = (density.sum() * found["cell_area"]).item()
    assert abs(mass - 1) < 2e-3, f"exp(log_prob) of a 2D flow integrates to {mass:.4f} over [-10, 10]^2, not 1 (tolerance 0.002)"


def toy_outputs(submission, seed: int) -> dict:
    return submission.probe("train_toy", seed=seed, **{**TOY, "train": {**TOY["train"], "seed": seed}})


def toy_nll(submission, seed: int) -> float:
    """Test NLL (nats per point) of the student's flow on the grader's moons after the grader's recipe."""
    return -toy_outputs(submission, seed)["test_log_prob"].mean().item()


def toy_energy(submission, seed: int) -> float:
    """Energy distance between the flow's samples and the grader's test points."""
    return dgm.metrics.energy_distance(toy_outputs(submission, seed)["samples"], dgm.data.toy2d(TOY["toy"], TOY["n_test"], seed=1))


def test_toy_density(submission):
    nll, energy = toy_nll(submission, GRADER_SEED), toy_energy(submission, GRADER_SEED)
    nll_record = submission.compare("moons test NLL (nats/point)", nll, "toy_nll")
    energy_record = submission.compare("moons energy distance", energy, "toy_energy")
    assert math.isfinite(nll), "the trained 2D flow gives NaN or infinite log-densities on test points"
    assert nll <= nll_record["threshold"], (
        f"after the grader's recipe on two moons the test NLL is {nll:.3f} nats per point; at most {nll_record['threshold']:.3f} "
        f"is needed (reference {nll_record['reference']:.3f})"
    )
    assert energy <= energy_record["threshold"], (
        f"samples of the trained 2D flow are far from the test points (energy distance {energy:.4f}, at most "
        f"{energy_record['threshold']:.4f}): does sample() return inverse(z) for z ~ N(0, I)?"
    )


# --------------------------------------------------------------------------------------------------
# Dequantization and bits per dimension


def test_dequantization(submission):
    found = submission.probe("dequantization", n_levels=17)
    x, noise = found["x"], found["noise"]
    p = ALPHA + (1 - 2 * ALPHA) * (x + noise) / 17
    expected_y = torch.log(p / (1 - p))
    assert found["y"].shape == x.shape, f"dequantize returned y of shape {tuple(found['y'].shape)}, expected {tuple(x.shape)}"
    assert torch.allclose(found["y"].double(), expected_y, atol=1e-6), "y is not logit(alpha + (1 - 2 alpha)(x + u) / K)"
    expected = logit_log_det(x, noise, 17)
    reported = found["log_det"].double()
    missing_levels = torch.allclose(reported, expected + 9 * math.log(17), atol=1e-5)
    hint = " (the -D log K term of v -> v / K is missing)" if missing_levels else ""
    assert torch.allclose(reported, expected, atol=1e-5), (
        f"log_det of dequantize is {reported[0].item():.4f} for a 3x3 image, expected {expected[0].item():.4f}{hint}"
    )


def test_bits_per_dim(submission):
    found = submission.probe("bits_per_dim", n_levels=17)
    x = found["x"]
    dims = x[0].numel()
    nats = -(found["flow_log_prob"] + logit_log_det(x, found["noise"], 17)).mean().item() / dims
    expected, loss = nats / math.log(2), found["loss"].item()
    hint = " (that is nats, not bits: divide by ln 2)" if math.isclose(loss, nats, rel_tol=1e-5) else ""
    assert math.isclose(loss, expected, rel_tol=1e-5), (
        f"loss(x, noise) = {loss:.5f}, but -(log p_flow(y) + log|dy/dv|) / (D ln 2) = {expected:.5f} bits per dimension{hint}"
    )


# --------------------------------------------------------------------------------------------------
# Images after the grader's recipe


def image_outputs(submission, seed: int) -> dict:
    recipe = RECIPES[submission.profile]
    result = submission.probe(
        "train_images", seconds=recipe["seconds"], seed=seed, dataset=recipe["dataset"], n_levels=recipe["n_levels"],
        config=recipe["config"], train={**recipe["train"], "seed": seed}, n_samples=recipe["n_samples"],
    )
    submission.artifacts["samples"] = result["samples"][:64]
    return result


def image_bpd(submission, seed: int) -> float:
    """Test bits per dimension, recomputed by the grader from the flow's log-densities at its own noise."""
    recipe = RECIPES[submission.profile]
    result = image_outputs(submission, seed)
    test_levels = dgm.data.to_levels(dgm.data.load_images(recipe["dataset"], "test").images, recipe["n_levels"])
    log_likelihood = result["flow_log_prob"].double() + logit_log_det(test_levels, result["noise"], recipe["n_levels"])
    return -log_likelihood.mean().item() / (test_levels[0].numel() * math.log(2))


def image_samples(submission, seed: int) -> torch.Tensor:
    return image_outputs(submission, seed)["samples"]


def grader_data(profile: str) -> quality.GraderData:
    return quality.GraderData.load(RECIPES[profile]["dataset"], binarised=False)


CALIBRATIONS = {
    "toy_nll": Calibration(toy_nll, better="lower", margin=0.1, min_slack=0.1),
    "toy_energy": Calibration(toy_energy, better="lower", margin=1.0, min_slack=0.005),
    "likelihood": Calibration(image_bpd, better="lower", margin=0.05),
    "sample_quality": QualityCalibration(image_samples, grader_data, margin=0.25),
}


def test_likelihood(submission):
    bpd = image_bpd(submission, GRADER_SEED)
    record = submission.compare("test bits per dimension", bpd, "likelihood")
    recipe = RECIPES[submission.profile]
    assert math.isfinite(bpd), "the trained flow gives NaN or infinite log-densities on the test images"
    assert bpd <= record["threshold"], (
        f"after the grader's recipe ({recipe['train']['epochs']} epochs on {recipe['dataset']}) the test set costs {bpd:.3f} "
        f"bits per dimension; at most {record['threshold']:.3f} is needed (reference {record['reference']:.3f})"
    )


def test_sample_quality(submission):
    quality.check_samples(submission, grader_data(submission.profile), image_samples(submission, GRADER_SEED))
