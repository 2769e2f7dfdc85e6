"""Sample-quality metrics computed on features (or raw points), never on numbers a model reports.

All functions take feature matrices ``(N, D)`` (from :mod:`dgm.features` for images, the points
themselves for 2D toys) and compute in float64.

- :func:`frechet_distance` / :func:`fid`: Fréchet distance between Gaussian fits (FID when the
  features come from a classifier; here the course classifiers, since Inception needs a download).
- :func:`precision_recall`: k-NN manifold estimate of Kynkäänniemi et al. (2019).
- :func:`memorisation`: share of samples closer to a training point than test points usually are.
- :func:`class_coverage`: label entropy and covered classes of a classifier's predictions.
- :func:`energy_distance`, :func:`mmd`: two-sample statistics for low-dimensional data.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = [
    "frechet_distance", "fid", "precision_recall", "memorisation", "Memorisation",
    "class_coverage", "Coverage", "mode_coverage", "ModeCoverage", "energy_distance", "mmd", "nearest_distances",
]


def _float64(x: Tensor) -> Tensor:
    return x.detach().to("cpu", torch.float64).flatten(1)


def _psd_sqrt(matrix: Tensor) -> Tensor:
    """Square root of a symmetric positive semi-definite matrix by eigendecomposition."""
    eigenvalues, eigenvectors = torch.linalg.eigh((matrix + matrix.T) / 2)
    return eigenvectors @ torch.diag(eigenvalues.clamp_min(0).sqrt()) @ eigenvectors.T


def frechet_distance(mu_1: Tensor, sigma_1: Tensor, mu_2: Tensor, sigma_2: Tensor) -> float:
    """Fréchet (2-Wasserstein) distance between ``N(mu_1, sigma_1)`` and ``N(mu_2, sigma_2)``, squared.

    ``||mu_1 - mu_2||^2 + tr(sigma_1) + tr(sigma_2) - 2 tr((sigma_1^{1/2} sigma_2 sigma_1^{1/2})^{1/2})``.
    The matrix square roots are taken of symmetric PSD matrices by eigendecomposition in float64,
    which is stable where ``scipy.linalg.sqrtm(sigma_1 @ sigma_2)`` can return complex noise.
    """
    mu_1, mu_2 = mu_1.double(), mu_2.double()
    sigma_1, sigma_2 = sigma_1.double(), sigma_2.double()
    root_1 = _psd_sqrt(sigma_1)
    cross = torch.linalg.eigvalsh(root_1 @ sigma_2 @ root_1).clamp_min(0).sqrt().sum()
    value = (mu_1 - mu_2).square().sum() + sigma_1.trace() + sigma_2.trace() - 2 * cross
    return max(value.item(), 0.0)


def fid(features_1: Tensor, features_2: Tensor) -> float:
    """Fréchet distance between Gaussian fits of two feature sets ``(N, D)`` and ``(M, D)``."""
    x, y = _float64(features_1), _float64(features_2)
    return frechet_distance(x.mean(0), torch.cov(x.T), y.mean(0), torch.cov(y.T))


def nearest_distances(queries: Tensor, references: Tensor, k: int = 1, exclude_self: bool = False) -> Tensor:
    """Euclidean distance from each query to its ``k``-th nearest reference, ``(N,)``.

    With ``exclude_self`` (queries are the references), a point is not its own neighbour.
    """
    q, r = _float64(queries), _float64(references)
    result = []
    for chunk in q.split(1024):
        distances = torch.cdist(chunk, r)  # (chunk, M)
        result.append(distances.kthvalue(k + int(exclude_self), dim=1).values)
    return torch.cat(result)


def precision_recall(real: Tensor, fake: Tensor, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al., 2019).

    Each set's manifold is the union of balls around its points with radius the distance to the
    point's ``k``-th nearest neighbour in the same set. Precision is the share of fake points
    inside the real manifold; recall the share of real points inside the fake manifold.
    """
    real, fake = _float64(real), _float64(fake)
    return _coverage(fake, real, k), _coverage(real, fake, k)


def _coverage(queries: Tensor, support: Tensor, k: int) -> float:
    radii = nearest_distances(support, support, k, exclude_self=True)  # (M,)
    inside = [(torch.cdist(chunk, support) <= radii).any(dim=1) for chunk in queries.split(1024)]
    return torch.cat(inside).double().mean().item()


@dataclass(frozen=True)
class Memorisation:
    """Result of :func:`memorisation`.

    Attributes:
        share: fraction of samples closer to their nearest training point than ``radius``.
        radius: the ``quantile`` of test-to-train nearest distances.
        quantile: which quantile defines "unusually close" (so about this share of fresh data is).
    """

    share: float
    radius: float
    quantile: float


def memorisation(samples: Tensor, train: Tensor, test: Tensor, quantile: float = 0.05) -> Memorisation:
    """How many samples are near-copies of training points.

    A held-out test point lies at some distance from its nearest training point; the
    ``quantile`` of those distances is the radius below which a point counts as a near-copy.
    Fresh data has about ``quantile`` of its points that close; a model that replays its
    training set has nearly all of them.
    """
    radius = torch.quantile(nearest_distances(test, train), quantile).item()
    share = (nearest_distances(samples, train) <= radius).double().mean().item()
    return Memorisation(share, radius, quantile)


@dataclass(frozen=True)
class Coverage:
    """Result of :func:`class_coverage`.

    Attributes:
        entropy: entropy of the predicted-label histogram divided by ``log(n_classes)`` (1: uniform).
        classes: number of classes predicted for at least ``min_share`` of the samples.
    """

    entropy: float
    classes: int


def class_coverage(logits: Tensor, min_share: float | None = None) -> Coverage:
    """Mode-collapse signal from a classifier's logits ``(N, K)`` on samples.

    Args:
        logits: classifier outputs on the samples.
        min_share: a class counts as covered when at least this share of samples is predicted
            as it; default ``1 / (4 K)``, a quarter of the uniform share.
    """
    n_classes = logits.shape[1]
    counts = torch.bincount(logits.argmax(1), minlength=n_classes).double()
    shares = counts / counts.sum()
    entropy = -(shares[shares > 0] * shares[shares > 0].log()).sum() / torch.log(torch.tensor(float(n_classes), dtype=torch.float64))
    min_share = 1 / (4 * n_classes) if min_share is None else min_share
    return Coverage(max(entropy.item(), 0.0) + 0.0, int((shares >= min_share).sum()))  # + 0.0: no "-0.0"


@dataclass(frozen=True)
class ModeCoverage:
    """How samples of a mixture cover its modes.

    Attributes:
        modes: modes holding at least ``min_share`` of the samples within ``radius`` of them.
        good_share: share of all samples within ``radius`` of their nearest mode.
    """

    modes: int
    good_share: float


def mode_coverage(samples: Tensor, modes: Tensor, radius: float, min_share: float = 0.02) -> ModeCoverage:
    """Mode collapse on a mixture with known modes (e.g. eight Gaussians on a ring).

    Args:
        samples: ``(N, D)`` points.
        modes: ``(M, D)`` the mixture's centres.
        radius: a sample within this distance of its nearest mode is "good" (e.g. three standard deviations).
        min_share: a mode is covered when at least this share of the samples are good ones near it.
    """
    samples, modes = _float64(samples), _float64(modes)
    distance, nearest = torch.cdist(samples, modes).min(1)
    good = distance < radius
    counts = torch.bincount(nearest[good], minlength=len(modes))
    return ModeCoverage(int((counts >= min_share * len(samples)).sum()), good.double().mean().item())


def energy_distance(x: Tensor, y: Tensor) -> float:
    """Energy distance ``2 E|X - Y| - E|X - X'| - E|Y - Y'|`` (V-statistic), zero iff the laws agree."""
    x, y = _float64(x), _float64(y)
    return (2 * torch.cdist(x, y).mean() - torch.cdist(x, x).mean() - torch.cdist(y, y).mean()).item()


def mmd(x: Tensor, y: Tensor, bandwidth: float = 1.0) -> float:
    """Squared maximum mean discrepancy with a Gaussian kernel ``exp(-|a - b|^2 / (2 h^2))`` (V-statistic)."""
    x, y = _float64(x), _float64(y)

    def kernel(a: Tensor, b: Tensor) -> Tensor:
        return torch.exp(-torch.cdist(a, b).square() / (2 * bandwidth**2))

    return (kernel(x, x).mean() + kernel(y, y).mean() - 2 * kernel(x, y).mean()).item()
