"""One training loop for every model of the course.

A course model is an ``nn.Module`` with ``loss(x) -> Tensor`` (a scalar to minimise; its units
are the model's business, e.g. nats per dimension), or ``loss(x, y)`` for a conditional model
trained on pairs. :func:`fit` trains such a model with Adam on a tensor of examples (or a tuple of
tensors, e.g. images and labels), seeded, on whatever device the model lives on, with a tqdm progress bar,
and returns the loss history for :func:`dgm.plots.plot_losses`. Notebooks, seminars and the
autograder all call it, so a model that trains in the notebook trains the same way when graded.
"""

from __future__ import annotations

import copy
import math
import random
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

__all__ = ["TrainConfig", "History", "fit", "evaluate", "seed_everything", "default_device"]


@dataclass
class TrainConfig:
    """Hyper-parameters of :func:`fit`.

    Attributes:
        epochs: passes over the training set.
        batch_size: examples per step.
        lr: Adam learning rate.
        grad_clip: clip the global gradient norm to this value (``None``: no clipping).
        seed: seeds Python, NumPy and torch, and the order of batches.
        max_minutes: stop at the end of the first epoch that ends past this wall-clock budget.
        keep_best: early stopping: at the end, restore the parameters and buffers of the epoch
            with the lowest test loss (``fit`` needs ``test_data``, e.g. a held-out part of the
            training set).
    """

    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    grad_clip: float | None = 1.0
    seed: int = 0
    max_minutes: float | None = None
    keep_best: bool = False


@dataclass
class History:
    """Losses recorded by :func:`fit`.

    Attributes:
        train: loss of every step, in order.
        test: mean test loss after every epoch (empty without test data).
        steps_per_epoch: to place test points on the step axis.
        epochs: epochs completed.
        seconds: wall-clock training time.
        best_epoch: the epoch (from 1) whose parameters ``keep_best`` restored, else ``None``.
    """

    train: list[float] = field(default_factory=list)
    test: list[float] = field(default_factory=list)
    steps_per_epoch: int = 1
    epochs: int = 0
    seconds: float = 0.0
    best_epoch: int | None = None


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's generators (CPU and every GPU)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def default_device() -> torch.device:
    """CUDA when available, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


Data = Tensor | tuple[Tensor, ...]


def _as_tuple(data: Data) -> tuple[Tensor, ...]:
    return data if isinstance(data, tuple) else (data,)


@torch.no_grad()
def evaluate(model: nn.Module, data: Data, batch_size: int = 512) -> float:
    """Mean of ``model.loss`` over ``data`` (a tensor or a tuple of tensors), weighting each batch by its size."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    tensors = _as_tuple(data)
    total = 0.0
    for start in range(0, len(tensors[0]), batch_size):
        batch = [t[start : start + batch_size].to(device) for t in tensors]
        total += model.loss(*batch).item() * len(batch[0])
    model.train(was_training)
    return total / len(tensors[0])


def fit(
    model: nn.Module,
    train_data: Data,
    config: TrainConfig | None = None,
    *,
    test_data: Data | None = None,
    progress: bool = True,
) -> History:
    """Train ``model`` by minimising ``model.loss`` with Adam.

    Args:
        model: a module with ``loss(x)`` (or ``loss(x, y)`` for a tuple of tensors); it stays on
            its device, batches are moved to it.
        train_data: examples ``(N, ...)``, or a tuple of tensors with ``N`` rows each (passed to
            ``loss`` in that order); shuffled every epoch with a generator seeded by ``config.seed``.
        config: hyper-parameters (defaults: :class:`TrainConfig`).
        test_data: if given, the mean test loss is recorded after every epoch.
        progress: show a tqdm bar with the running loss.

    Returns:
        The loss history.

    Raises:
        FloatingPointError: the loss became NaN or infinite (the step is named).
    """
    config = config or TrainConfig()
    if config.keep_best and test_data is None:
        raise ValueError("keep_best needs test_data: the epoch with the lowest test loss is kept")
    seed_everything(config.seed)
    device = next(model.parameters()).device
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    order_generator = torch.Generator().manual_seed(config.seed)
    tensors = _as_tuple(train_data)
    n = len(tensors[0])
    steps_per_epoch = math.ceil(n / config.batch_size)
    history = History(steps_per_epoch=steps_per_epoch)

    best_state = None
    started = time.perf_counter()
    bar = tqdm(total=config.epochs * steps_per_epoch, disable=not progress, desc="training", leave=False)
    model.train()
    for epoch in range(config.epochs):
        order = torch.randperm(n, generator=order_generator)
        for start in range(0, n, config.batch_size):
            index = order[start : start + config.batch_size]
            loss = model.loss(*(t[index].to(device) for t in tensors))
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss is {loss.item()} at epoch {epoch}, step {len(history.train)}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            history.train.append(loss.item())
            bar.update()
            bar.set_postfix(loss=f"{loss.item():.4f}")
        if test_data is not None:
            history.test.append(evaluate(model, test_data))
            bar.set_postfix(loss=f"{history.train[-1]:.4f}", test=f"{history.test[-1]:.4f}")
            if config.keep_best and history.test[-1] <= min(history.test):
                best_state, history.best_epoch = copy.deepcopy(model.state_dict()), epoch + 1
        history.epochs, history.seconds = epoch + 1, time.perf_counter() - started
        if config.max_minutes is not None and history.seconds > 60 * config.max_minutes:
            break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return history
