"""The shared training loop and plots."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import dgm
from dgm.plots import grid_png, make_grid


class GaussianMean(nn.Module):
    """Fits the mean of unit-variance Gaussian data; loss is the NLL per dimension up to a constant."""

    def __init__(self):
        super().__init__()
        self.mu = nn.Parameter(torch.zeros(2))

    def loss(self, x):
        return 0.5 * ((x - self.mu) ** 2).mean()


def test_fit_learns_and_records_history():
    data = torch.randn(512, 2) + torch.tensor([3.0, -1.0])
    model = GaussianMean()
    history = dgm.fit(model, data, dgm.TrainConfig(epochs=30, batch_size=64, lr=0.1), test_data=data, progress=False)
    assert torch.allclose(model.mu.detach(), data.mean(0), atol=0.1)
    assert len(history.train) == 30 * 8 and len(history.test) == 30 and history.steps_per_epoch == 8
    assert history.test[-1] < history.test[0]


def test_keep_best_restores_the_epoch_with_the_lowest_test_loss():
    train, test = torch.full((64, 2), 3.0), torch.zeros(8, 2)  # training pulls the mean away from the test data
    model = GaussianMean()
    history = dgm.fit(model, train, dgm.TrainConfig(epochs=10, batch_size=64, lr=0.1, keep_best=True), test_data=test, progress=False)
    assert history.best_epoch == 1 and history.test[0] == min(history.test) < history.test[-1]
    assert math.isclose(dgm.training.evaluate(model, test), history.test[0], rel_tol=1e-6), "the first epoch's parameters are back"
    with pytest.raises(ValueError, match="keep_best needs test_data"):
        dgm.fit(GaussianMean(), train, dgm.TrainConfig(keep_best=True), progress=False)


def test_fit_is_deterministic():
    data = torch.randn(100, 2)
    runs = [dgm.fit(GaussianMean(), data, dgm.TrainConfig(epochs=3, batch_size=7, seed=5), progress=False).train for _ in range(2)]
    assert runs[0] == runs[1]


def test_fit_stops_on_nan_loss():
    class Broken(GaussianMean):
        def loss(self, x):
            return self.mu.sum() * math.nan

    with pytest.raises(FloatingPointError, match="epoch 0, step 0"):
        dgm.fit(Broken(), torch.randn(10, 2), progress=False)


def test_make_grid_places_images_in_rows():
    images = torch.arange(6, dtype=torch.float32).reshape(6, 1, 1, 1) / 5
    grid = make_grid(images, nrow=3, padding=1)
    assert grid.shape == (2 * 2 + 1, 3 * 2 + 1, 1)
    assert grid[1, 1, 0] == 0 and grid[3, 5, 0] == 1  # first and last image


def test_grid_png_is_a_png():
    assert grid_png(torch.rand(4, 1, 8, 8)).startswith(b"\x89PNG")


def test_fit_stops_at_the_time_budget():
    history = dgm.fit(GaussianMean(), torch.randn(64, 2), dgm.TrainConfig(epochs=1000, batch_size=8, max_minutes=0.0), progress=False)
    assert history.epochs == 1 and len(history.train) == 8


def test_fit_passes_tuples_to_a_conditional_loss():
    class PerClassMean(nn.Module):
        def __init__(self):
            super().__init__()
            self.mu = nn.Parameter(torch.zeros(2))

        def loss(self, x, y):
            return ((x - self.mu[y]) ** 2).mean()

    y = torch.randint(0, 2, (256,))
    x = torch.where(y == 1, 5.0, -5.0) + 0.1 * torch.randn(256)
    model = PerClassMean()
    dgm.fit(model, (x, y), dgm.TrainConfig(epochs=40, batch_size=32, lr=0.2), test_data=(x, y), progress=False)
    assert torch.allclose(model.mu.detach(), torch.tensor([-5.0, 5.0]), atol=0.2)
