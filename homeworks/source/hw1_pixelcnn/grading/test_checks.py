"""Homework 1 (PixelCNN) hidden checks, one ``test_<grade_id>`` per autograded cell.

Every number judged here is computed by the grader from raw outputs of the student's model
(logits, samples): log-likelihoods come from the grader's own binary cross-entropy, never from
the student's ``log_prob`` unless that is what the check is about.

Every number judged on a trained model carries its proof (see README, "How the grader works"):
the grader evaluates the trained model on a batch it built itself, in which each test image has a
paired copy whose pixels from a random cut onward are redrawn (the pixel at the cut flipped),
shuffled under a permutation the sandbox never sees. An autoregressive model gives both members of
a pair the same logits up to and including the cut; a mask applied only at initialisation, a first
layer of type B, or any code that behaves differently when it is being graded does not. Masks and
the autoregressive property are also measured after a few optimiser steps, and a test NLL far
better than every correct solution fails as implausible.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
import dgm
from autograder import evidence, quality
from autograder.evidence import chi_square_p_value, unpaired
from autograder.calibrate import Calibration, QualityCalibration
from autograder.harness import GRADER_SEED

SAMPLING_SHAPE = (2, 3)
SAMPLING_DRAWS = 4000
SAMPLING_ALPHA = 1e-6
"""False-failure rate of the sampling test for a correct sampler (the seed is fixed anyway)."""
STRUCTURE_STEPS = 20
"""Optimiser steps before masks and the autoregressive property are measured a second time."""
PAIR_TOLERANCE = 1e-4
"""Largest change of a logit, relative to ``1 + |logit|``, that still counts as "the same" between the
two members of a pair (float64 arithmetic in different batch positions; a leak changes it by O(1))."""

RECIPES = {
    "quick": {
        "dataset": "digits",
        "config": {"hidden_channels": 32, "n_layers": 4, "kernel_size": 5},
        "train": {"epochs": 30, "batch_size": 64, "lr": 3e-3, "seed": 0},
        "n_samples": 1000,
        "seconds": 180,  # CPU seconds (one torch thread); the reference uses about 25
    },
    "full": {
        "dataset": "mnist",
        "config": {"hidden_channels": 64, "n_layers": 7, "kernel_size": 7},
        "train": {"epochs": 10, "batch_size": 128, "lr": 1e-3, "seed": 0},
        "n_samples": 5000,
        "seconds": 900,  # CPU seconds of the GPU runner's worker
        # A CPU smoke run evaluates in float64 what a GPU does in seconds: a narrower, shallower PixelCNN.
        "smoke": {"config": {"hidden_channels": 16, "n_layers": 3}},
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


def _pixel(index: int, width: int) -> tuple[int, int]:
    return divmod(int(index), width)


def paired_batch(images: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each binary image and a copy that agrees with it before a random cut, shuffled (see
    :func:`autograder.evidence.paired_batch`): ``images (N, 1, H, W)`` -> ``inputs (2N, 1, H, W)``, ``order``, ``cuts``."""
    return evidence.paired_batch(images, 2, generator)


def causality_violation(logits: torch.Tensor, copy_logits: torch.Tensor, cuts: torch.Tensor, width: int) -> str | None:
    """Where a logit differs between an image and its copy at or before their cut, in words (``None``: nowhere).

    Shapes: ``logits``, ``copy_logits`` ``(N, 1, H, W)``, ``cuts (N,)``.
    """
    found = evidence.causality_violation(logits, copy_logits, cuts, PAIR_TOLERANCE)
    if found is None:
        return None
    n, p, cut, affected = found
    before, after = logits.double().flatten(1)[n, p], copy_logits.double().flatten(1)[n, p]
    return (f"the logit of pixel {_pixel(p, width)} changes (from {before:.3f} to {after:.3f}) when pixel "
            f"{_pixel(cut, width)}, at or after it in raster order, changes ({affected} of {len(cuts)} test images)")


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


STATES = {"fresh": "freshly built", "trained": f"after {STRUCTURE_STEPS} optimiser steps"}
MASK_IN_FORWARD = "the mask must be applied in every forward pass, not once to the initial weights"
CONV_CASES = [(mask_type, k, channels) for mask_type in "AB" for k in (3, 5) for channels in ((1, 1), (2, 3))]


def reference_mask(kernel_size: int, mask_type: str) -> torch.Tensor:
    """The k x k mask of lecture 1 (float64): rows above the centre, and left of it (type B: and the centre)."""
    c = kernel_size // 2
    return torch.from_numpy(allowed_by_mask((kernel_size, kernel_size), kernel_size, mask_type)[c * kernel_size + c]).double().reshape(kernel_size, kernel_size)


def conv_cases(generator: torch.Generator) -> dict[str, dict[str, torch.Tensor]]:
    """Weights, bias, input and training target the grader draws for each single-layer case (float64)."""
    def draw(*shape):
        return torch.randn(*shape, generator=generator, dtype=torch.float64)

    cases = {}
    for mask_type, k, (c_in, c_out) in CONV_CASES:
        cases[f"{mask_type}{k}_{c_in}to{c_out}"] = {"weight": draw(c_out, c_in, k, k), "bias": draw(c_out), "x": draw(2, c_in, 6, 6),
                                                     "target": draw(2, c_out, 6, 6)}
    return cases


def _judge_dependency(layer: str, dependency: torch.Tensor, expected: np.ndarray, mask_type: str, hint: str) -> None:
    dependency = dependency.numpy().astype(bool)
    extra, missing = np.argwhere(dependency & ~expected), np.argwhere(~dependency & expected)
    if len(extra):
        p, q = extra[0]
        assert False, f"{layer}: output pixel {_pixel(p, 6)} depends on input pixel {_pixel(q, 6)}, which the type-{mask_type} mask must hide{hint}"
    if len(missing):
        p, q = missing[0]
        assert False, f"{layer}: output pixel {_pixel(p, 6)} does not depend on input pixel {_pixel(q, 6)}, which the type-{mask_type} mask must let through"


def _judge_output(layer: str, output: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, mask: torch.Tensor) -> None:
    expected = F.conv2d(x, weight.double() * mask, bias.double(), padding=mask.shape[-1] // 2)
    error = (output.double() - expected).abs().max().item() if output.shape == expected.shape else math.inf
    assert error < 1e-8, (
        f"{layer}: its output differs by up to {error:.3g} from the convolution with its weights times the mask "
        f"(F.conv2d(x, weight * mask, bias)): {MASK_IN_FORWARD}, and the layer's weights are its nn.Conv2d weight and bias"
    )


def test_masked_conv(submission):
    cases = conv_cases(submission.private_generator("conv weights"))
    found = submission.probe("masked_conv_dependency", train_steps=STRUCTURE_STEPS, inputs={"cases": cases})
    for key, case in cases.items():
        mask_type, kernel_size = key[0], int(key.split("_")[0][1:])
        layer = f"MaskedConv2d(kernel_size={kernel_size}, mask_type='{mask_type}') with {key.split('_')[1].replace('to', ' -> ')} channels"
        expected, mask = allowed_by_mask((6, 6), kernel_size, mask_type), reference_mask(kernel_size, mask_type)
        result = found[key]
        _judge_dependency(f"{layer}, freshly built", result["built"], expected, mask_type, "")
        _judge_output(f"{layer}, with the grader's weights loaded", result["loaded_output"], case["x"], case["weight"], case["bias"], mask)
        _judge_dependency(f"{layer}, {STATES['trained']}", result["trained"], expected, mask_type, f" ({MASK_IN_FORWARD})")
        _judge_output(f"{layer}, {STATES['trained']}", result["trained_output"], case["x"], result["trained_weight"], result["trained_bias"], mask)


def test_autoregressive(submission):
    for shape, n_layers, kernel_size in [((5, 5), 3, 3), ((6, 4), 2, 5)]:
        found = submission.probe("model_dependency", image_shape=shape, n_layers=n_layers, kernel_size=kernel_size, train_steps=STRUCTURE_STEPS)
        for state, when in STATES.items():
            dependency = found[state].numpy().astype(bool)
            width = shape[1]
            name = f"PixelCNN {shape[0]}x{shape[1]}, {n_layers} layers, kernel {kernel_size}, {when}"
            future = np.argwhere(np.triu(dependency))  # q >= p in raster order
            if len(future):
                p, q = future[0]
                hint = "is the first layer type A?" + (f" And {MASK_IN_FORWARD}" if state == "trained" else "")
                assert False, (
                    f"{name}: the logit of pixel {_pixel(p, width)} depends on input pixel {_pixel(q, width)}, which is not before it "
                    f"in raster order ({hint})"
                )
            expected = expected_dependency(shape, n_layers, kernel_size)
            missing = np.argwhere(expected & ~dependency)
            extra = np.argwhere(dependency & ~expected)
            if len(missing) or len(extra):
                p, q = (missing if len(missing) else extra)[0]
                verb = "does not depend" if len(missing) else "depends"
                assert False, (
                    f"{name}: the logit of pixel {_pixel(p, width)} {verb} on pixel {_pixel(q, width)}, unlike a stack of one type-A "
                    f"and {n_layers - 1} type-B {kernel_size}x{kernel_size} masked convolutions (receptive field differs: check the "
                    f"type-B mask and the architecture)"
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
    # The sampler is judged against the model's own conditionals only once those are shown to be
    # causal: every logit the same across all configurations that share the pixels before it.
    logits, configs = found["logits"].double().flatten(1), found["configs"].flatten(1)  # (2^(h*w), h*w) each
    for p in range(h * w):
        prefix = (configs[:, :p] * 2 ** torch.arange(p - 1, -1, -1)).sum(1).long()  # configs sharing x_<p share this
        low = torch.full((2**p,), math.inf, dtype=torch.float64).scatter_reduce(0, prefix, logits[:, p], "amin")
        high = torch.full((2**p,), -math.inf, dtype=torch.float64).scatter_reduce(0, prefix, logits[:, p], "amax")
        spread = (high - low) / (1 + low.abs())
        assert (spread <= PAIR_TOLERANCE).all(), (
            f"after training on {h}x{w} images, the logit of pixel {_pixel(p, w)} changes with pixels at or after it in raster order "
            f"(by up to {spread.max():.3g}), so the model's conditionals are not causal and no sampler can match them: is the "
            f"first layer type A? And {MASK_IN_FORWARD}"
        )
    assert samples.shape == (SAMPLING_DRAWS, 1, h, w), f"sample({SAMPLING_DRAWS}) returned shape {tuple(samples.shape)}"
    assert ((samples == 0) | (samples == 1)).all(), "sample(n) returned values other than 0 and 1"
    probabilities = log_likelihood(found["logits"], found["configs"]).exp()  # (2^(h*w),)
    powers = 2 ** torch.arange(h * w - 1, -1, -1)
    index = (samples.flatten(1).long() * powers).sum(1)  # same order as itertools.product in the probe
    observed = torch.bincount(index, minlength=len(probabilities)).double()
    expected = probabilities * SAMPLING_DRAWS
    p_value = chi_square_p_value(observed, expected)
    worst = ((observed - expected).abs() / expected.clamp_min(1).sqrt()).argmax()
    assert p_value > SAMPLING_ALPHA, (
        f"the frequencies of {SAMPLING_DRAWS} samples do not follow the model's own probabilities (chi-square p = {p_value:.1e}; "
        f"e.g. image {index_to_bits(worst, h * w)} came {int(observed[worst])} times, expected {expected[worst]:.0f}): "
        f"sample pixels one at a time in raster order, feeding each sampled pixel back before predicting the next"
    )


def index_to_bits(index: torch.Tensor, n: int) -> str:
    return format(int(index), f"0{n}b")


def trained_model_outputs(submission, seed: int) -> dict:
    """The grader's recipe on the student's class, verified: test-set logits and samples of the trained model.

    Fails (AssertionError) unless the trained model gave every test image and its paired copy the
    same logits up to their cut: only then do the logits define a normalised distribution whose test
    NLL means anything, and only then are the samples those of an autoregressive model.
    """
    recipe = submission.recipe(RECIPES)
    test_images = dgm.binarize(dgm.data.load_images(recipe["dataset"], "test").images)
    inputs, order, cuts = paired_batch(test_images, submission.private_generator("pairs", seed))
    result = submission.probe(
        "train_and_evaluate", seconds=recipe["seconds"], seed=seed, dataset=recipe["dataset"], config=recipe["config"],
        train={**recipe["train"], "seed": seed}, n_samples=recipe["n_samples"], inputs={"inputs": inputs},
    )
    submission.artifacts["samples"] = result["samples"][:64]
    assert result["logits"].shape == inputs.shape, f"forward() returned {tuple(result['logits'].shape)} on {tuple(inputs.shape)} test images"
    assert result["logits"].isfinite().all(), "after the grader's training recipe the model's logits on test images are NaN or infinite"
    logits, copy_logits = unpaired(result["logits"], order)
    violation = causality_violation(logits, copy_logits, cuts, test_images.shape[-1])
    assert violation is None, (
        f"after the grader's training recipe, {violation}: the trained model is not autoregressive, so its test likelihood and "
        f"samples cannot be graded. Is the first layer type A, is the mask applied in every forward pass (not once to the initial "
        f"weights), and does the model compute the same thing whether or not it is being graded?"
    )
    return {"test_logits": logits, "test_images": test_images, "samples": result["samples"]}


def likelihood_nll(submission, seed: int) -> float:
    """Test NLL in nats per image of the student's class after the grader's recipe with ``seed``."""
    outputs = trained_model_outputs(submission, seed)
    return -log_likelihood(outputs["test_logits"], outputs["test_images"]).mean().item()


def trained_samples(submission, seed: int) -> torch.Tensor:
    return trained_model_outputs(submission, seed)["samples"]


def grader_data(submission) -> quality.GraderData:
    return quality.GraderData.load(submission.recipe(RECIPES)["dataset"], binarised=True)


CALIBRATIONS = {
    "likelihood": Calibration(likelihood_nll, better="lower", margin=0.1, bugs=("independent_pixels", "all_layers_type_a")),
    "sample_quality": QualityCalibration(trained_samples, grader_data, margin=0.25),
}


def test_likelihood(submission):
    recipe = submission.recipe(RECIPES)
    submission.judge("test NLL (nats/image)", likelihood_nll(submission, GRADER_SEED), "likelihood",
                     f"after the grader's training recipe ({recipe['train']['epochs']} epochs on {recipe['dataset']}), the test NLL in nats per image")


def test_sample_quality(submission):
    samples = trained_samples(submission, GRADER_SEED)
    assert ((samples == 0) | (samples == 1)).all(), "samples of the trained model are not binary images"
    quality.check_samples(submission, grader_data(submission), samples)
