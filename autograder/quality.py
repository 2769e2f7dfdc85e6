"""Sample quality as the grader measures it, and the samplers that calibrate its thresholds.

For an image dataset the grader embeds samples with the course feature extractor of that dataset
(:mod:`dgm.features`) and computes, against its own train and test splits:

- ``fid``: Fréchet distance between test-set features and sample features (lower is better);
- ``precision`` / ``recall``: k-NN manifold estimates (shown, not gated);
- ``memorisation_pixels`` / ``memorisation_features``: share of samples closer to a training
  image than 95 % of test images are (lower is better);
- ``copies_of_test``: share of samples closer to a test image than 95 % of training images are
  (lower is better): the sandbox can read the test split too, and samples must be the model's;
- ``classes``: classes predicted for at least a quarter of the uniform share (higher is better);
- ``label_entropy``: normalised entropy of the predicted labels (shown).

Thresholds sit between the correct solutions' values and those of clearly bad samplers
(:data:`BAD_SAMPLERS`): noise, one image repeated, the blurred mean, copies of training images and
copies of test images.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F

import dgm
from dgm import metrics
from dgm.features import features

GATES = {"fid": "lower", "memorisation_pixels": "lower", "memorisation_features": "lower", "copies_of_test": "lower", "classes": "higher"}
"""Metrics a sample set must pass, and which direction is better."""

SHARES = ("memorisation_pixels", "memorisation_features", "copies_of_test")
"""Gated metrics that are shares near 0, whose slack is at least :data:`SHARE_SLACK`."""
SHARE_SLACK = 0.05
"""Absolute slack of a share: about five binomial standard deviations at 1,000 samples and a share
of 0.1, while a sampler that passes a quarter of its output off as data fails."""

DESCRIPTIONS = {
    "fid": "FID against the test set (course classifier features)",
    "memorisation_pixels": "share of samples that are near-copies of training images (pixels)",
    "memorisation_features": "share of samples that are near-copies of training images (features)",
    "copies_of_test": "share of samples that are near-copies of test images (pixels)",
    "classes": "digit classes the samples cover",
}


@dataclass(frozen=True)
class GraderData:
    """The grader's images of one dataset, prepared as the homework's model sees them."""

    dataset: str
    train: Tensor
    test: Tensor

    @classmethod
    def load(cls, dataset: str, binarised: bool) -> GraderData:
        """The train and test images of ``dataset`` (e.g. ``"mnist"``, or ``"mnist[:300]"`` in a smoke run)."""
        prepare = dgm.binarize if binarised else (lambda x: x)
        train, test = (prepare(dgm.data.load_images(dataset, split).images) for split in ("train", "test"))
        return cls(dgm.data.parse_name(dataset)[0], train, test)


def measure(data: GraderData, samples: Tensor, real: Tensor | None = None) -> dict[str, float]:
    """Every metric of ``samples`` ``(N, 1, H, W)``; ``real`` (default: the test set) is what FID and
    precision/recall compare them with."""
    real = data.test if real is None else real
    if samples.shape[1:] != data.test.shape[1:]:
        raise ValueError(f"samples have shape {tuple(samples.shape[1:])} per image, expected {tuple(data.test.shape[1:])}")
    samples = samples.float().clamp(0, 1)
    sample_features, sample_logits = features(data.dataset, samples)
    real_features, _ = features(data.dataset, real)
    train_features, _ = features(data.dataset, data.train)
    test_features, _ = features(data.dataset, data.test)
    precision, recall = metrics.precision_recall(real_features, sample_features)
    coverage = metrics.class_coverage(sample_logits)
    return {
        "fid": metrics.fid(real_features, sample_features),
        "precision": precision,
        "recall": recall,
        "memorisation_pixels": metrics.memorisation(samples, data.train, data.test).share,
        "memorisation_features": metrics.memorisation(sample_features, train_features, test_features).share,
        "copies_of_test": metrics.memorisation(samples, data.test, data.train).share,
        "classes": float(coverage.classes),
        "label_entropy": coverage.entropy,
    }


def failures(values: dict[str, float], thresholds: dict[str, float]) -> list[str]:
    """A message for every gated metric on the wrong side of its threshold."""
    messages = []
    for name, better in GATES.items():
        value, limit = values[name], thresholds[name]
        if (value > limit) if better == "lower" else (value < limit):
            bound = "at most" if better == "lower" else "at least"
            hint = " (samples must be drawn from your model, not taken from the data)" if name in SHARES else ""
            messages.append(f"{DESCRIPTIONS[name]} is {value:.3g}; {bound} {limit:.3g} is needed{hint}")
    return messages


# --------------------------------------------------------------------------------------------------
# Bad samplers for calibration


def _noise(data: GraderData, n: int, generator: torch.Generator) -> Tensor:
    mean = data.train.mean()
    return torch.bernoulli(torch.full((n, *data.train.shape[1:]), mean.item()), generator=generator)


def _one_image(data: GraderData, n: int, generator: torch.Generator) -> Tensor:
    index = torch.randint(len(data.train), (1,), generator=generator)
    return data.train[index].repeat(n, 1, 1, 1)


def _blurred_mean(data: GraderData, n: int, generator: torch.Generator) -> Tensor:
    mean = F.avg_pool2d(data.train.mean(0, keepdim=True), 3, stride=1, padding=1)  # (1, 1, H, W)
    return torch.bernoulli(mean.repeat(n, 1, 1, 1), generator=generator)


def _training_copies(data: GraderData, n: int, generator: torch.Generator) -> Tensor:
    return data.train[torch.randint(len(data.train), (n,), generator=generator)]


def _test_copies(data: GraderData, n: int, generator: torch.Generator) -> Tensor:
    return data.test[torch.randint(len(data.test), (n,), generator=generator)]


BAD_SAMPLERS: dict[str, Callable[[GraderData, int, torch.Generator], Tensor]] = {
    "noise": _noise,
    "one_image_repeated": _one_image,
    "blurred_mean": _blurred_mean,
    "training_copies": _training_copies,
    "test_copies": _test_copies,
}
"""Samplers a threshold must reject. Each is binary where the data are (pixels drawn as Bernoulli)."""


def bad_samples(name: str, data: GraderData, n: int, seed: int = 0) -> Tensor:
    return BAD_SAMPLERS[name](data, n, torch.Generator().manual_seed(seed))


def thresholds_between(reference: list[dict[str, float]], bad: dict[str, dict[str, float]], margin: float) -> dict[str, float]:
    """Per gated metric: the worst correct value moved by ``margin`` (relative; for shares near 0 at
    least :data:`SHARE_SLACK`) toward the bad samplers.

    Raises:
        ValueError: some bad sampler would pass every gate, so no threshold separates them.
    """
    thresholds = {}
    for name, better in GATES.items():
        values = [r[name] for r in reference]
        worst = max(values) if better == "lower" else min(values)
        slack = max(abs(worst) * margin, SHARE_SLACK if name in SHARES else 0.0)
        thresholds[name] = worst + slack if better == "lower" else worst - slack
        if name == "classes":
            thresholds[name] = float(int(thresholds[name]))  # a whole number of classes
    passing = [sampler for sampler, values in bad.items() if not failures(values, thresholds)]
    if passing:
        raise ValueError(f"bad samplers pass every gate with thresholds {thresholds}: {passing}")
    return thresholds


def check_samples(submission, data: GraderData, samples: Tensor) -> None:
    """The sample-quality check shared by every homework: measure, show in the feedback, judge.

    Args:
        submission: the :class:`~autograder.harness.Submission` being graded (its calibrated
            ``sample_quality`` thresholds are used and its feedback metrics filled in).
        data: the grader's images.
        samples: samples the grader drew from the student's trained model.
    """
    values = measure(data, samples)
    if submission.smoke:
        for name, value in values.items():
            submission.show(name, value, GATES.get(name))
        return
    record = submission.threshold("sample_quality")
    for name, value in values.items():
        submission.metrics[name] = {"value": value, "threshold": record["thresholds"].get(name), "better": GATES.get(name), "reference": record["reference"][name]}
    problems = failures(values, record["thresholds"])
    assert not problems, f"samples of your model after the grader's training recipe: {'; '.join(problems)}"
