"""Homework 2 (RealNVP) hidden checks, one ``test_<grade_id>`` per autograded cell.

Log-determinants of layers are judged against ``slogdet`` of autograd Jacobians, with random weights
and after a few Adam steps; densities by quadrature; the dequantization by its closed form. A trained
flow is only asked for its raw ``z, log_det = flow(x)`` and ``inverse(z)`` at a batch the grader
builds (test points, or test images dequantized with the grader's noise), into which central-difference
pairs around a few secretly chosen points are shuffled: the grader checks the claimed log-dets against
the volume change of ``z`` between the pairs and the inverse against the inputs, and only then computes
likelihoods itself, as ``log N(z; 0, I) + log_det``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

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
              "train": {"epochs": 30, "batch_size": 64, "lr": 2e-3, "seed": 0}, "n_samples": 1000, "n_verified": 4, "seconds": 240},
    "full": {"dataset": "mnist", "n_levels": 256, "config": {"n_couplings": 6, "hidden": 128},
             "train": {"epochs": 20, "batch_size": 128, "lr": 1e-3, "seed": 0}, "n_samples": 5000, "n_verified": 4, "seconds": 900,
             # A CPU smoke run evaluates in float64 what a GPU does in seconds: a narrower flow, one test image verified.
             "smoke": {"config": {"hidden": 16}, "n_verified": 1}},
}
"""The grader's recipe. ``n_verified`` test images get finite-difference pairs along every one of their D directions
(2 D extra inputs each), which check their log-determinants."""
STRUCTURE_STEPS = 20
"""Adam steps the structure probes take from a module's initialisation before measuring it a second time."""
TRAINED = f"after {STRUCTURE_STEPS} Adam steps from its initialisation"

FD_STEP = 1e-8
"""Step ``h`` of the finite differences of ``z`` (float64). The trained flows' conditioners are ReLU
networks, and a kink within ``h`` of a point spoils its differences along the directions that cross it;
with several directions, both ``x + h v_1`` and ``x - h v_2`` can cross, so no single scheme is safe.
Crossings become rarer in proportion to ``h``: at ``h = 1e-6`` the reference's moons flow failed about 1
grading in 9 (errors up to 1.3e-2 nats), at ``h = 1e-8`` none of 100 (worst error 7e-7), while float64
rounding, about ``1e-16 |z| / h``, stays far below the tolerance. The grader still takes the central and
both one-sided differences and keeps the scheme closest to the claim."""
FD_TOLERANCE = 1e-2
"""Largest accepted ``|log_det - log|det J_fd||`` in nats at a verified point: far above the differences'
own error, far below what a missing scale costs after training, and too little to move a test NLL."""
ROUND_TRIP_TOLERANCE = 1e-6
"""Largest accepted ``|inverse(z) - x|`` at the grader's inputs (float64; correct solutions stay below 1e-14)."""
MIN_LOG_DET_SPREAD = 0.05
"""Smallest accepted standard deviation (nats) of the trained moons flow's log-determinant across the
2000 verified test points: 0.58 to 0.64 for the correct solutions (seeds 0 to 2), exactly 0 for an
additive flow such as the reference with sigma initialised to 0, whose couplings have log-det 0 and
whose ActNorms have a constant one."""
NEAR_COPY, MAX_COPIES = 1e-4, 0.01
"""A toy sample within ``NEAR_COPY`` of a training or test point is a copy; at most ``MAX_COPIES`` of them
(a flow's samples come that close with probability below 1e-4)."""


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


def dequantized(x: torch.Tensor, noise: torch.Tensor, n_levels: int) -> torch.Tensor:
    """``y = logit(alpha + (1 - 2 alpha)(x + u) / K)``, float64, the shape of ``x``."""
    p = ALPHA + (1 - 2 * ALPHA) * (x.double() + noise.double()) / n_levels
    return torch.log(p) - torch.log1p(-p)


def logit_log_det(x: torch.Tensor, noise: torch.Tensor, n_levels: int) -> torch.Tensor:
    """``sum_i log|dy_i/dv_i|`` for ``y = logit(alpha + (1 - 2 alpha) v / K)``, ``v = x + u``, per example."""
    p = ALPHA + (1 - 2 * ALPHA) * (x.double() + noise.double()) / n_levels
    return (math.log(1 - 2 * ALPHA) - math.log(n_levels) - torch.log(p * (1 - p))).flatten(1).sum(1)


def standard_normal_log_density(z: torch.Tensor) -> torch.Tensor:
    """``log N(z; 0, I)`` per example (B,) of ``z`` (B, ...), float64."""
    return -0.5 * (z.double().flatten(1).pow(2) + math.log(2 * math.pi)).sum(1)


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


def _states(name: str, found: dict) -> list[tuple[str, dict]]:
    """A structure probe's two states, named for the messages: as built (or perturbed), and trained."""
    return [(name, found["start"]), (f"{name}, {TRAINED}", found["trained"])]


# --------------------------------------------------------------------------------------------------
# Trained flows: evaluation batches the grader builds and verifies


class EvaluationBatch(NamedTuple):
    """What a trained flow is evaluated at: the grader's points with central-difference pairs around a
    few of them, in an order only the grader knows.

    Attributes:
        inputs: ``(M, *shape)`` float64, ``stacked[order]`` for ``stacked`` = [the N points, then for
            each verified point ``i`` and direction ``k`` ``point_i + h v_ik``, then the same with ``- h v_ik``].
        order: ``(M,)`` the permutation that shuffled ``stacked``.
        n_points: N.
        verified: ``(n,)`` indices of the verified points.
        directions: ``(n, D, D)`` orthogonal matrices whose columns ``v_ik`` are the pairs' directions.
    """

    inputs: torch.Tensor
    order: torch.Tensor
    n_points: int
    verified: torch.Tensor
    directions: torch.Tensor

    @classmethod
    def build(cls, generator: torch.Generator, points: torch.Tensor, n_verified: int) -> EvaluationBatch:
        """Pairs around ``n_verified`` of ``points`` (N, *shape) along random orthogonal directions, all
        shuffled; ``generator`` (the grader's private one) decides which points, directions and order."""
        n, shape, dim = len(points), points.shape[1:], points[0].numel()
        verified = torch.randperm(n, generator=generator)[:n_verified]
        directions = torch.linalg.qr(torch.randn(n_verified, dim, dim, generator=generator, dtype=torch.float64)).Q
        steps = FD_STEP * directions.transpose(1, 2)  # (n, D, D): row k is h v_k
        centres = points[verified].double().flatten(1).unsqueeze(1)  # (n, 1, D)
        stacked = torch.cat([points.double(), (centres + steps).reshape(-1, *shape), (centres - steps).reshape(-1, *shape)])
        order = torch.randperm(len(stacked), generator=generator)
        return cls(stacked[order], order, n, verified, directions)

    def unshuffled(self, value: torch.Tensor) -> torch.Tensor:
        """``value`` (M, ...), computed at ``inputs``, back in the order of ``stacked``."""
        return torch.empty_like(value).index_copy_(0, self.order, value)


def verified_flow(batch: EvaluationBatch, found: dict, what: str) -> dict:
    """Check what a trained flow returned at ``batch`` and give its values at the grader's points.

    ``found`` holds ``z`` (M, *shape), ``log_det`` (M,) and ``x_back`` = inverse(z) (M, *shape). Every
    failure is an assertion whose message starts with ``what`` (e.g. "after the grader's recipe on two
    moons"): wrong shapes or dtypes, values that are not finite, an inverse that does not give back the
    inputs, or a claimed log-det that is not ``log|det|`` of the finite-difference Jacobian of ``z`` at
    a verified point (``J V``, with ``|det V| = 1``; central differences, or one-sided ones from the point
    itself where a ReLU kink spoils them, see ``FD_STEP``).

    Returns:
        ``z`` (N, *shape) and ``log_det`` (N,) at the points, ``verified_log_det`` (n,) the log-dets at
        the verified points (each within ``FD_TOLERANCE`` of the grader's own), and the largest errors
        ``fd_error`` and ``round_trip_error`` (floats).
    """
    shape = tuple(batch.inputs.shape)
    for key, expected in {"z": shape, "log_det": shape[:1], "x_back": shape}.items():
        assert tuple(found[key].shape) == expected, (
            f"{what}, the flow gave {key} of shape {tuple(found[key].shape)} for x of shape {shape}, expected {expected}"
        )
        assert found[key].dtype == torch.float64, (
            f"{what}, the flow converted with .double() gives {key} in {found[key].dtype}: does it create tensors of a fixed dtype "
            "inside? (use the input's dtype and device)"
        )
        assert torch.isfinite(found[key]).all(), f"{what}, the flow gives NaN or infinite values of {key} at the grader's inputs"
    z, log_det, x_back = (batch.unshuffled(found[key]) for key in ("z", "log_det", "x_back"))
    inputs = batch.unshuffled(batch.inputs)
    round_trip_error = (x_back - inputs).abs().max().item()
    assert round_trip_error <= ROUND_TRIP_TOLERANCE, (
        f"{what}, inverse(z) differs from the input x by up to {round_trip_error:.2e} (at most {ROUND_TRIP_TOLERANCE:.0e} is allowed): "
        "does inverse undo forward with the trained parameters?"
    )
    n, (n_verified, dim, _) = batch.n_points, batch.directions.shape
    plus, minus = z[n:].flatten(1).reshape(2, n_verified, dim, -1)  # (n, k, D) each: z at point_i +/- h v_ik
    centre = z[:n][batch.verified].flatten(1).unsqueeze(1)  # (n, 1, D)
    differences = torch.stack([(plus - minus) / (2 * FD_STEP), (plus - centre) / FD_STEP, (centre - minus) / FD_STEP])  # (3, n, k, D)
    fd_log_dets = torch.linalg.slogdet(differences.transpose(-1, -2)).logabsdet  # (3, n): log|det J V| per scheme
    claimed = log_det[:n][batch.verified]
    errors, scheme = (claimed - fd_log_dets).abs().min(0)  # central, forward or backward: the one closest to the claim
    fd_log_det = fd_log_dets[scheme, torch.arange(n_verified)]
    worst = errors.argmax()
    assert errors[worst] <= FD_TOLERANCE, (
        f"{what}, log_det at a test point is {claimed[worst].item():.4f} but the flow's local volume change (log|det| of the "
        f"finite-difference Jacobian of z) gives {fd_log_det[worst].item():.4f}: is every scale's log-det counted?"
    )
    return {"z": z[:n], "log_det": log_det[:n], "verified_log_det": claimed, "fd_error": errors.max().item(), "round_trip_error": round_trip_error}


def log_density(outputs: dict) -> torch.Tensor:
    """The flow's log-density at the grader's points (N,), computed by the grader: ``log N(z; 0, I) + log_det``."""
    return standard_normal_log_density(outputs["z"]) + outputs["log_det"]


def _check_samples_shape(samples: torch.Tensor, n: int, shape: tuple[int, ...], what: str) -> None:
    assert tuple(samples.shape) == (n, *shape), f"{what}, sample({n}) has shape {tuple(samples.shape)}, expected {(n, *shape)}"


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
    for name, states in submission.probe("couplings", steps=STRUCTURE_STEPS).items():
        for label, found in _states(f"AffineCoupling with {name}", states):
            assert (found["z"] == found["x"]).any(), f"{label}: every coordinate changed; the kept (mask = 1) ones must pass unchanged"
            _judge_round_trip(label, found)
        assert (states["trained"]["log_det"] != 0).any(), (
            f"AffineCoupling with {name}, {TRAINED} (on data of mean 1 and standard deviation 3), still has log_det 0 at every input: it never "
            "learns a scale (is sigma initialised to zero, so that neither sigma nor s_raw gets a gradient?)"
        )


def test_actnorm(submission):
    for name, found in submission.probe("actnorm", steps=STRUCTURE_STEPS).items():
        dims = [0, *range(2, found["z_first"].dim())]
        mean = found["z_first"].mean(dims)
        # Unit variance by either estimate of the batch's variance (dividing by N or by N - 1): the spec allows both.
        spreads = [found["z_first"].std(dims, correction=correction) for correction in (0, 1)]
        unit = any(torch.allclose(std, torch.ones_like(std), atol=1e-3) for std in spreads)
        assert torch.allclose(mean, torch.zeros_like(mean), atol=1e-6) and unit, (
            f"ActNorm on {name}: after its first batch the output should have zero mean and unit variance per channel, "
            f"got means {mean.numpy().round(3)} and standard deviations {spreads[1].numpy().round(3)}"
        )
        for label, state in _states(f"ActNorm on {name}", found):
            _judge_round_trip(label, state)


# --------------------------------------------------------------------------------------------------
# The flow


def test_model(submission):
    for shape, n_couplings in [((2,), 4), ((1, 4, 4), 2)]:
        name = f"RealNVP on {shape} with {n_couplings} couplings"
        states = submission.probe("model", shape=shape, n_couplings=n_couplings, steps=STRUCTURE_STEPS)
        for label, found in _states(name, states):
            _judge_round_trip(label, found)
        # Which inputs each output depends on, with random weights only: briefly trained from a zero last layer,
        # the 8-unit conditioners leave whole regions with inactive ReLUs and exactly zero Jacobian entries.
        dependency = states["start"]["first_jacobian"] != 0
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


TOY_WHAT = "after the grader's recipe on two moons"


def toy_outputs(submission, seed: int) -> dict:
    """The grader's recipe on two moons, verified (see :func:`verified_flow`) at every test point with
    central-difference pairs; also the flow's samples."""
    test = dgm.data.toy2d(TOY["toy"], TOY["n_test"], seed=1)
    batch = EvaluationBatch.build(submission.private_generator("toy", seed), test, n_verified=len(test))  # every point: 8,000 tiny inputs
    recipe = {key: value for key, value in TOY.items() if key != "n_test"}
    found = submission.probe("train_toy", seed=seed, inputs={"x": batch.inputs}, **{**recipe, "train": {**TOY["train"], "seed": seed}})
    _check_samples_shape(found["samples"], TOY["n_samples"], (2,), TOY_WHAT)
    return {**verified_flow(batch, found, TOY_WHAT), "samples": found["samples"]}


def toy_nll(submission, seed: int) -> float:
    """Test NLL (nats per point) of the student's flow on the grader's moons after the grader's recipe."""
    return -log_density(toy_outputs(submission, seed)).mean().item()


def toy_energy(submission, seed: int) -> float:
    """Energy distance between the flow's samples and the grader's test points."""
    return dgm.metrics.energy_distance(toy_outputs(submission, seed)["samples"], dgm.data.toy2d(TOY["toy"], TOY["n_test"], seed=1))


def share_of_copies(samples: torch.Tensor, data: torch.Tensor) -> float:
    """Share of ``samples`` (N, D) within ``NEAR_COPY`` of some row of ``data`` (M, D)."""
    return (dgm.metrics.nearest_distances(samples, data) < NEAR_COPY).double().mean().item()


def test_toy_density(submission):
    outputs = toy_outputs(submission, GRADER_SEED)
    spread = outputs["verified_log_det"].std().item()
    assert spread >= MIN_LOG_DET_SPREAD, (
        f"{TOY_WHAT} the flow's log-determinant is (nearly) the same at every test point (standard deviation {spread:.2g} nats "
        f"across {len(outputs['verified_log_det'])} verified points, at least {MIN_LOG_DET_SPREAD} is needed): the couplings never "
        "learned a scale, so the flow is additive like NICE (is sigma initialised to zero, so that neither sigma nor s_raw gets a gradient?)"
    )
    submission.judge("moons test NLL (nats/point)", toy_nll(submission, GRADER_SEED), "toy_nll", f"{TOY_WHAT} the test NLL in nats per point")
    data = torch.cat([dgm.data.toy2d(TOY["toy"], TOY["n_train"], seed=0), dgm.data.toy2d(TOY["toy"], TOY["n_test"], seed=1)])
    copies = share_of_copies(outputs["samples"], data)
    assert copies <= MAX_COPIES, (
        f"{TOY_WHAT}, {copies:.1%} of the flow's samples lie within {NEAR_COPY:g} of a training or test point (at most "
        f"{MAX_COPIES:.0%} may): samples must be drawn from the flow, inverse(z) for z ~ N(0, I), not copied from data"
    )
    submission.judge("moons energy distance", toy_energy(submission, GRADER_SEED), "toy_energy",
                     f"{TOY_WHAT} the energy distance between samples and test points (does sample() return inverse(z) for z ~ N(0, I)?)")


# --------------------------------------------------------------------------------------------------
# Dequantization and bits per dimension


def test_dequantization(submission):
    found = submission.probe("dequantization", n_levels=17)
    x, noise = found["x"], found["noise"]
    assert found["y"].shape == x.shape, f"dequantize returned y of shape {tuple(found['y'].shape)}, expected {tuple(x.shape)}"
    assert torch.allclose(found["y"].double(), dequantized(x, noise, 17), atol=1e-6), "y is not logit(alpha + (1 - 2 alpha)(x + u) / K)"
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


def _image_what(recipe: dict) -> str:
    return f"after the grader's recipe ({recipe['train']['epochs']} epochs on {recipe['dataset']})"


def image_outputs(submission, seed: int) -> dict:
    """The grader's recipe on images, verified (see :func:`verified_flow`) at the test images, which the
    grader dequantizes with its own noise into logit space, 4 of them with central-difference pairs;
    also the test levels, that noise and the samples."""
    recipe = submission.recipe(RECIPES)
    levels = dgm.data.to_levels(dgm.data.load_images(recipe["dataset"], "test").images, recipe["n_levels"])
    noise = torch.rand(levels.shape, generator=torch.Generator().manual_seed(1234), dtype=torch.float64)
    batch = EvaluationBatch.build(submission.private_generator("images", seed), dequantized(levels, noise, recipe["n_levels"]), recipe["n_verified"])
    found = submission.probe(
        "train_images", seconds=recipe["seconds"], seed=seed, inputs={"y": batch.inputs}, dataset=recipe["dataset"],
        n_levels=recipe["n_levels"], config=recipe["config"], train={**recipe["train"], "seed": seed}, n_samples=recipe["n_samples"],
    )
    _check_samples_shape(found["samples"], recipe["n_samples"], tuple(levels.shape[1:]), _image_what(recipe))
    submission.artifacts["samples"] = found["samples"][:64]
    return {**verified_flow(batch, found, _image_what(recipe)), "levels": levels, "noise": noise, "samples": found["samples"]}


def image_bpd(submission, seed: int) -> float:
    """Test bits per dimension, computed by the grader from the verified z and log-dets at its own noise."""
    recipe = submission.recipe(RECIPES)
    outputs = image_outputs(submission, seed)
    log_likelihood = log_density(outputs) + logit_log_det(outputs["levels"], outputs["noise"], recipe["n_levels"])
    return -log_likelihood.mean().item() / (outputs["levels"][0].numel() * math.log(2))


def image_samples(submission, seed: int) -> torch.Tensor:
    return image_outputs(submission, seed)["samples"]


def grader_data(submission) -> quality.GraderData:
    return quality.GraderData.load(submission.recipe(RECIPES)["dataset"], binarised=False)


CALIBRATIONS = {
    "toy_nll": Calibration(toy_nll, better="lower", margin=0.1, min_slack=0.1, bugs=("one_coupling_per_scale",)),
    "toy_energy": Calibration(toy_energy, better="lower", margin=1.0, min_slack=0.005, bugs=("sample_skips_inverse",), implausible=None),
    # one_coupling_per_scale (2.149 bits/dim) is caught structurally by `model`; a threshold just above the correct
    # solutions (2.04-2.07) to reject it too would leave them 1.8 % of room.
    "likelihood": Calibration(image_bpd, better="lower", margin=0.05, bugs=("scale_never_learned",)),
    "sample_quality": QualityCalibration(image_samples, grader_data, margin=0.25),
}


def test_likelihood(submission):
    recipe = submission.recipe(RECIPES)
    submission.judge("test bits per dimension", image_bpd(submission, GRADER_SEED), "likelihood",
                     f"{_image_what(recipe)} the test set's cost in bits per dimension")


def test_sample_quality(submission):
    quality.check_samples(submission, grader_data(submission), image_samples(submission, GRADER_SEED))
