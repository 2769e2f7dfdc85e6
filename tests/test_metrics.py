"""Sample-quality metrics on cases whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import linalg

import dgm
from dgm import metrics


def _random_covariance(dim, generator):
    a = torch.randn(dim, dim, generator=generator, dtype=torch.float64)
    return a @ a.T / dim + 0.1 * torch.eye(dim, dtype=torch.float64)


def test_frechet_distance_closed_forms():
    g = torch.Generator().manual_seed(0)
    mu, sigma = torch.randn(5, generator=g, dtype=torch.float64), _random_covariance(5, g)
    assert metrics.frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0, abs=1e-9)
    shift = torch.tensor([1.0, 2, 0, 0, 0], dtype=torch.float64)
    assert metrics.frechet_distance(mu, sigma, mu + shift, sigma) == pytest.approx(5, abs=1e-9)
    # Commuting covariances: sum over eigenvalues of (sqrt(a) - sqrt(b))^2.
    a, b = torch.diag(torch.tensor([1.0, 4, 9], dtype=torch.float64)), torch.diag(torch.tensor([4.0, 1, 1], dtype=torch.float64))
    assert metrics.frechet_distance(torch.zeros(3), a, torch.zeros(3), b) == pytest.approx(1 + 1 + 4, abs=1e-9)


def test_frechet_distance_matches_scipy_sqrtm():
    g = torch.Generator().manual_seed(1)
    mu_1, mu_2 = torch.randn(8, generator=g, dtype=torch.float64), torch.randn(8, generator=g, dtype=torch.float64)
    s_1, s_2 = _random_covariance(8, g), _random_covariance(8, g)
    covmean = linalg.sqrtm(s_1.numpy() @ s_2.numpy()).real
    expected = float(((mu_1 - mu_2) ** 2).sum() + np.trace(s_1.numpy()) + np.trace(s_2.numpy()) - 2 * np.trace(covmean))
    assert metrics.frechet_distance(mu_1, s_1, mu_2, s_2) == pytest.approx(expected, rel=1e-8)


def test_fid_matches_torchmetrics_when_installed():
    torchmetrics_fid = pytest.importorskip("torchmetrics.image.fid")
    g = torch.Generator().manual_seed(2)
    real, fake = torch.randn(300, 6, generator=g), torch.randn(300, 6, generator=g) * 1.5 + 0.3

    class Identity(torch.nn.Module):
        num_features = 6

        def forward(self, x):
            return x

    reference = torchmetrics_fid.FrechetInceptionDistance(feature=Identity(), normalize=False)
    reference.update(real, real=True)
    reference.update(fake, real=False)
    assert metrics.fid(real, fake) == pytest.approx(reference.compute().item(), rel=1e-4)


def test_fid_of_samples_from_the_same_gaussian_is_small_and_of_shifted_large():
    g = torch.Generator().manual_seed(3)
    x, y = torch.randn(5000, 4, generator=g), torch.randn(5000, 4, generator=g)
    assert metrics.fid(x, y) < 0.02
    assert metrics.fid(x, y + 1) == pytest.approx(4, rel=0.05)


def test_precision_recall_constructed_cases():
    g = torch.Generator().manual_seed(4)
    real = torch.randn(600, 2, generator=g)
    assert metrics.precision_recall(real, real.clone()) == (1.0, 1.0)
    assert metrics.precision_recall(real, real + 100) == (0.0, 0.0)
    half = real[real[:, 0] > 0.5]  # a dropped mode: samples cover only part of the data
    precision, recall = metrics.precision_recall(real, half)
    assert precision > 0.95 and recall < 0.5


def test_memorisation_flags_training_copies_not_fresh_data():
    g = torch.Generator().manual_seed(5)
    train, test, fresh = (torch.randn(n, 3, generator=g) for n in (2000, 500, 500))
    copies = train[torch.randint(0, 2000, (500,), generator=g)]
    assert metrics.memorisation(copies, train, test).share == 1.0
    fresh_share = metrics.memorisation(fresh, train, test).share
    assert 0.0 <= fresh_share < 0.15


def test_class_coverage():
    uniform = torch.eye(10).repeat(50, 1)  # 500 predictions, 50 per class
    assert metrics.class_coverage(uniform) == metrics.Coverage(pytest.approx(1.0), 10)
    collapsed = torch.eye(10)[torch.zeros(500, dtype=torch.long)]
    coverage = metrics.class_coverage(collapsed)
    assert coverage.classes == 1 and coverage.entropy == pytest.approx(0.0)


def test_two_sample_statistics_separate_distributions():
    g = torch.Generator().manual_seed(6)
    x, y = torch.randn(800, 2, generator=g), torch.randn(800, 2, generator=g)
    far = y + torch.tensor([2.0, 0])
    assert metrics.energy_distance(x, x) == pytest.approx(0, abs=1e-12)
    assert metrics.energy_distance(x, y) < 0.02 < metrics.energy_distance(x, far)
    assert metrics.mmd(x, y) < 0.01 < metrics.mmd(x, far)
    # Energy distance of two point masses at distance d is 2d.
    assert metrics.energy_distance(torch.zeros(5, 2), torch.full((5, 2), 3.0)) == pytest.approx(2 * 3 * math.sqrt(2))


def test_mode_coverage_counts_modes_and_the_share_on_them():
    modes = dgm.data.eight_gaussians_modes()
    generator = torch.Generator().manual_seed(0)
    data = dgm.data.toy2d("eight_gaussians", 4000, seed=0)
    full = metrics.mode_coverage(data, modes, radius=3 * dgm.data.EIGHT_GAUSSIANS_STD * math.sqrt(2))
    assert full.modes == 8 and full.good_share > 0.99  # the 2D distance is Rayleigh: P(> 3 sqrt(2) std) = exp(-9)
    collapsed = modes[torch.randint(0, 3, (4000,), generator=generator)]  # three modes only
    half_noise = torch.cat([collapsed[:2000], 3 * torch.randn(2000, 2, generator=generator)])
    result = metrics.mode_coverage(half_noise, modes, radius=0.1)
    assert result.modes == 3 and 0.5 <= result.good_share < 0.52
