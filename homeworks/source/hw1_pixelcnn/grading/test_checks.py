"""Homework 1 (PixelCNN) hidden checks, one ``test_<grade_id>`` per autograded cell.

Every number judged here is computed by the grader from raw outputs of the student's model
(logits, samples): log-likelihoods come from the grader's own binary cross-entropy, never from
the student's ``log_prob`` unless that is what the check is about.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from scipy import stats

import dgm
from autograder import quality
from autograder.calibrate import Calibration, QualityCalibration
from autograder.harness import GRADER_SEED

SAMPLING_SHAPE = (2, 3)
SAMPLING_DRAWS = 4000
SAMPLING_ALPHA = 1e-6
"""False-failure rate of the sampling test for a correct sampler (the seed is fixed anyway)."""

RECIPES = {
    "quick": {
        "dataset": "digits",
        "config": {"hidden_channels": 32, "n_layers": 4, "kernel_size": 5},
        "train": {"epochs": 30, "batch_size": 64, "lr": 3e-3, "seed": 0},
        "n_samples": 1000,
        "seconds": 180,
    },
    "full": {
        "dataset": "mnist",
        "config": {"hidden_channels": 64, "n_layers": 7, "kernel_size": 7},
        "train": {"epochs": 10, "batch_size": 128, "lr": 1e-3, "seed": 0},
        "n_samples": 5000,
        "seconds": 900,
    },
}


# --------------------------------------------------------------------------------------------------
# Independent references


def log_likelihood(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``log p(x) = sum_i [x_i log sigmoid(l_i) + (1 - x_i) log sigmoid(-l_i)]`` per image, float64."""
    logits, x = logits.double(), x.double()
    return (x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits)).flatten(1).sum(1)


def allowed_by_mask(shape: tuple[int, int], kernel_size: int, mask_type: str) -> np.ndarray:
    """``A[p, q]``: can output pixel p see input pixel q through one masked k x k convolution?"""
    h, w = shape
    c = kernel_size // 2
    allowed = np.zeros((h * w, h * w), dtype=bool)
    for i, j, a, b in np.ndindex(h, w, h, w):
        inside = abs(a - i) <= c and abs(b - j) <= c
        before = a < i or (a == i and (b < j or (mask_type == "B" and b == j)))
        allowed[i * w + j, a * w + b] = inside and before
    return allowed


def expected_dependency(shape: tuple[int, int], n_layers: int, kernel_size: int) -> np.ndarray:
    """Receptive field of one type-A layer followed by ``n_layers - 1`` type-B layers (1x1 layers add nothing)."""
    reach = allowed_by_mask(shape, kernel_size, "A").astype(np.int64)
    layer_b = allowed_by_mask(shape, kernel_size, "B").astype(np.int64)
    for _ in range(n_layers - 1):
        reach = np.minimum(layer_b @ reach, 1)
    return reach.astype(bool)


def measured_nll(result: dict, dataset: str) -> float:
    """Mean negative log-likelihood in nats per image on the grader's test split."""
    test_images = dgm.binarize(dgm.data.load_images(dataset, "test").images)
    logits = result["test_logits"]
    assert logits.shape == test_images.shape, f"forward() returned {tuple(logits.shape)} on the test set; expected {tuple(test_images.shape)}"
    return -log_likelihood(logits, test_images).mean().item()


def _pixel(index: int, width: int) -> tuple[int, int]:
    return divmod(int(index), width)


# --------------------------------------------------------------------------------------------------
# Checks


def test_shapes(submission):
    found = submission.probe("shapes")
    expected = {
        "conv": ([4, 3, 6, 5], "MaskedConv2d(2, 3, 3, 'A') on (4, 2, 6, 5) input"),
        "forward": ([4, 1, 6, 5], "forward(x) on (4, 1, 6, 5): one logit per pixel"),
        "log_prob": ([4], "log_prob(x) on 4 images: one log-probability per image, summed over pixels"),
        "loss": ([], "loss(x): a scalar"),
        "sample": ([3, 1, 6, 5], "sample(3) for 6x5 images"),
    }
    for name, (shape, what) in expected.items():
        assert found[name][0] == shape, f"{what} should have shape {tuple(shape)}, got {tuple(found[name][0])}"
        assert found[name][1] == "torch.float32", f"{what} should be float32, got {found[name][1]}"
    assert found["loss"][2], "loss(x) carries no gradient: it must be computed from the model's outputs with autograd on"
    assert found["sample"][2], "sample(n) must return binary images (every value 0.0 or 1.0)"


def test_masked_conv(submission):
    found = submission.probe("masked_conv_dependency")
    for key, dependency in found.items():
        mask_type, kernel_size = key[0], int(key[1])
        expected = allowed_by_mask((6, 6), kernel_size, mask_type)
        extra = np.argwhere(dependency.numpy().astype(bool) & ~expected)
        missing = np.argwhere(~dependency.numpy().astype(bool) & expected)
        layer = f"MaskedConv2d(kernel_size={kernel_size}, mask_type='{mask_type}') with {key.split('_')[1].replace('to', ' -> ')} channels"
        if len(extra):
            p, q = extra[0]
            assert False, f"{layer}: output pixel {_pixel(p, 6)} depends on input pixel {_pixel(q, 6)}, which the type-{mask_type} mask must hide"
        if len(missing):
            p, q = missing[0]
            assert False, f"{layer}: output pixel {_pixel(p, 6)} does not depend on input pixel {_pixel(q, 6)}, which the type-{mask_type} mask must let through"


def test_autoregressive(submission):
    for shape, n_layers, kernel_size in [((5, 5), 3, 3), ((6, 4), 2, 5)]:
        found = submission.probe("model_dependency", image_shape=shape, n_layers=n_layers, kernel_size=kernel_size)["dependency"].numpy().astype(bool)
        width = shape[1]
        future = np.argwhere(np.triu(found))  # q >= p in raster order
        if len(future):
            p, q = future[0]
            assert False, (
                f"PixelCNN {shape[0]}x{shape[1]}, {n_layers} layers, kernel {kernel_size}: the logit of pixel {_pixel(p, width)} "
                f"depends on input pixel {_pixel(q, width)}, which is not before it in raster order (is the first layer type A?)"
            )
        expected = expected_dependency(shape, n_layers, kernel_size)
        missing = np.argwhere(expected & ~found)
        extra = np.argwhere(found & ~expected)
        if len(missing) or len(extra):
            p, q = (missing if len(missing) else extra)[0]
            verb = "does not depend" if len(missing) else "depends"
            assert False, (
                f"PixelCNN {shape[0]}x{shape[1]}, {n_layers} layers, kernel {kernel_size}: the logit of pixel {_pixel(p, width)} {verb} "
                f"on pixel {_pixel(q, width)}, unlike a stack of one type-A and {n_layers - 1} type-B {kernel_size}x{kernel_size} "
                f"masked convolutions (receptive field differs: check the type-B mask and the architecture)"
            )


def test_normalisation(submission):
    found = submission.probe("all_configurations", image_shape=(3, 3), gain=2.0)
    log_prob = found["log_prob"]
    assert log_prob.shape == (512,), f"log_prob on all 512 binary 3x3 images returned shape {tuple(log_prob.shape)}, expected (512,)"
    assert torch.isfinite(log_prob).all(), "log_prob returned NaN or infinite values on binary 3x3 images"
    total = log_prob.double().exp().sum().item()
    assert abs(total - 1) < 1e-6, f"the probabilities exp(log_prob(x)) of all 512 binary 3x3 images sum to {total:.6f}, not 1"


def test_loss(submission):
    found = submission.probe("all_configurations", image_shape=(3, 3), gain=2.0)
    reference = log_likelihood(found["logits"], found["x"])  # (512,)
    log_prob = found["log_prob"].double()
    worst = (log_prob - reference).abs().argmax()
    assert torch.allclose(log_prob, reference, atol=1e-6, rtol=1e-6), (
        f"log_prob(x) = {log_prob[worst]:.6f} for a 3x3 image, but the Bernoulli log-likelihood of x under the model's own "
        f"logits is {reference[worst]:.6f} (log p(x) = sum_i x_i log sigmoid(l_i) + (1 - x_i) log sigmoid(-l_i))"
    )
    per_dimension = -reference.mean().item() / 9
    loss = found["loss"].item()
    hint = " (summed over pixels instead of averaged?)" if math.isclose(loss, per_dimension * 9, rel_tol=1e-4) else ""
    assert math.isclose(loss, per_dimension, rel_tol=1e-6, abs_tol=1e-9), (
        f"loss(x) = {loss:.6f} on all 512 3x3 images, expected the mean negative log-likelihood per dimension "
        f"{per_dimension:.6f} nats{hint}"
    )


def test_sampling(submission):
    found = submission.probe("sampling", image_shape=SAMPLING_SHAPE, n_samples=SAMPLING_DRAWS, train_steps=150)
    samples = found["samples"]
    h, w = SAMPLING_SHAPE
    assert samples.shape == (SAMPLING_DRAWS, 1, h, w), f"sample({SAMPLING_DRAWS}) returned shape {tuple(samples.shape)}"
    assert ((samples == 0) | (samples == 1)).all(), "sample(n) returned values other than 0 and 1"
    probabilities = log_likelihood(found["logits"], found["configs"]).exp()  # (2^(h*w),)
    powers = 2 ** torch.arange(h * w - 1, -1, -1)
    index = (samples.flatten(1).long() * powers).sum(1)  # same order as itertools.product in the probe
    observed = torch.bincount(index, minlength=len(probabilities)).double()
    expected = probabilities * SAMPLING_DRAWS
    common = expected >= 5  # pool rare configurations so the chi-square approximation holds
    observed_pooled = torch.cat([observed[common], observed[~common].sum(0, keepdim=True)]).numpy()
    expected_pooled = torch.cat([expected[common], expected[~common].sum(0, keepdim=True)]).numpy()
    expected_pooled *= observed_pooled.sum() / expected_pooled.sum()
    p_value = stats.chisquare(observed_pooled, expected_pooled).pvalue
    worst = ((observed - expected).abs() / expected.clamp_min(1).sqrt()).argmax()
    assert p_value > SAMPLING_ALPHA, (
        f"the frequencies of {SAMPLING_DRAWS} samples do not follow the model's own probabilities (chi-square p = {p_value:.1e}; "
        f"e.g. image {index_to_bits(worst, h * w)} came {int(observed[worst])} times, expected {expected[worst]:.0f}): "
        f"sample pixels one at a time in raster order, feeding each sampled pixel back before predicting the next"
    )


def index_to_bits(index: torch.Tensor, n: int) -> str:
    return format(int(index), f"0{n}b")


def trained_model_outputs(submission, seed: int) -> dict:
    """The grader's recipe on the student's class: test-set logits and samples of the trained model."""
    recipe = RECIPES[submission.profile]
    result = submission.probe(
        "train_and_evaluate", seconds=recipe["seconds"], seed=seed, dataset=recipe["dataset"], config=recipe["config"],
        train={**recipe["train"], "seed": seed}, n_samples=recipe["n_samples"],
    )
    submission.artifacts["samples"] = result["samples"][:64]
    return result


def likelihood_nll(submission, seed: int) -> float:
    """Test NLL in nats per image of the student's class after the grader's recipe with ``seed``."""
    return measured_nll(trained_model_outputs(submission, seed), RECIPES[submission.profile]["dataset"])


def trained_samples(submission, seed: int) -> torch.Tensor:
    return trained_model_outputs(submission, seed)["samples"]


def grader_data(profile: str) -> quality.GraderData:
    return quality.GraderData.load(RECIPES[profile]["dataset"], binarised=True)


CALIBRATIONS = {
    "likelihood": Calibration(likelihood_nll, better="lower", margin=0.05),
    "sample_quality": QualityCalibration(trained_samples, grader_data, margin=0.25),
}


def test_likelihood(submission):
    nll = likelihood_nll(submission, GRADER_SEED)
    threshold = submission.compare("test NLL (nats/image)", nll, "likelihood")
    assert math.isfinite(nll), "the trained model's test log-likelihood is not finite (NaN or infinite logits)"
    recipe = RECIPES[submission.profile]
    assert nll <= threshold["threshold"], (
        f"after the grader's training recipe ({recipe['train']['epochs']} epochs on {recipe['dataset']}), the test NLL is "
        f"{nll:.2f} nats per image; at most {threshold['threshold']:.2f} is needed (the reference reaches {threshold['reference']:.2f})"
    )


def test_sample_quality(submission):
    samples = trained_samples(submission, GRADER_SEED)
    assert ((samples == 0) | (samples == 1)).all(), "samples of the trained model are not binary images"
    quality.check_samples(submission, grader_data(submission.profile), samples)
