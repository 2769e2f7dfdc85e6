"""Homework 1 probes: what the grader asks of the student's PixelCNN.

Each probe runs in the sandbox with the student's program as ``ns`` and returns plain tensors and
numbers; it never judges them. ``test_checks.py`` (which never runs beside student code) does.
Structure is measured on fresh modules *and* after a few optimiser steps (a mask applied once at
initialisation looks right only until the first step), and the trained model is evaluated on a
batch the grader built, whose paired inputs only the grader can tell apart.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch.nn.utils import parametrize

import dgm
from autograder.worker import StudentCodeError


def _model(ns, image_shape, hidden_channels, n_layers, kernel_size, dtype=torch.float32):
    for name in ("PixelCNN", "PixelCNNConfig", "MaskedConv2d"):
        if not hasattr(ns, name):
            raise StudentCodeError(f"the notebook defines no {name}")
    config = ns.PixelCNNConfig(image_shape=tuple(image_shape), hidden_channels=hidden_channels, n_layers=n_layers, kernel_size=kernel_size)
    return ns.PixelCNN(config).to(dtype)


def _spread_weights(model, gain: float) -> None:
    """Scale every parameter so that a freshly initialised model has far-from-uniform conditionals."""
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.mul_(gain)


def shapes(ns) -> dict:
    """Shapes and dtypes of every stubbed output on a small model."""
    conv = ns.MaskedConv2d(2, 3, kernel_size=3, mask_type="A")
    conv_out = conv(torch.rand(4, 2, 6, 5))
    model = _model(ns, (6, 5), 8, 2, 3)
    x = torch.bernoulli(torch.full((4, 1, 6, 5), 0.5))
    logits, log_prob, loss = model(x), model.log_prob(x), model.loss(x)
    samples = model.sample(3)
    return {
        "conv": (list(conv_out.shape), str(conv_out.dtype)),
        "forward": (list(logits.shape), str(logits.dtype)),
        "log_prob": (list(log_prob.shape), str(log_prob.dtype)),
        "loss": (list(loss.shape), str(loss.dtype), bool(loss.requires_grad)),
        "sample": (list(samples.shape), str(samples.dtype), bool(((samples == 0) | (samples == 1)).all())),
    }


def _dependency(function, inputs: torch.Tensor) -> torch.Tensor:
    """``D[p, q] = 1`` when output pixel p (raster order) has a non-zero gradient wrt input pixel q.

    Channels are summed over; several random inputs are used so that no dependency hides behind
    a dead ReLU at one input. Shapes: ``inputs (K, C, H, W)`` -> ``(H*W, H*W)``.
    """
    total = None
    for x in inputs:
        jacobian = torch.autograd.functional.jacobian(lambda v: function(v.unsqueeze(0))[0], x)  # (C', H, W, C, H, W)
        magnitude = jacobian.abs().sum(dim=(0, 3))  # (H, W, H, W)
        total = magnitude if total is None else total + magnitude
    h, w = inputs.shape[-2:]
    return (total.reshape(h * w, h * w) != 0).to(torch.int8)


def _take_steps(module, loss, steps: int) -> None:
    """``steps`` Adam steps on ``loss(module)``: enough to move any weight the forward pass uses."""
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-2)
    for _ in range(steps):
        optimizer.zero_grad()
        loss(module).backward()
        optimizer.step()


def masked_conv_dependency(ns, train_steps, cases) -> dict:
    """Single masked convolutions: which input pixels each output pixel depends on as built, the output
    with the grader's weights loaded, and both again after ``train_steps`` optimiser steps.

    ``cases`` maps ``"{type}{k}_{in}to{out}"`` to the grader's tensors ``weight``, ``bias``, ``x`` and
    ``target`` (float64), which no code in the sandbox can predict.
    """
    result = {}
    for key, case in cases.items():
        mask_type, kernel_size = key[0], int(key.split("_")[0][1:])
        out_channels, in_channels = case["weight"].shape[:2]
        torch.manual_seed(kernel_size)
        conv = ns.MaskedConv2d(in_channels, out_channels, kernel_size=kernel_size, mask_type=mask_type).double()
        built = _dependency(conv, case["x"])
        with torch.no_grad():  # a mask written as a parametrization keeps the raw weight in `original`
            weight = conv.parametrizations.weight.original if parametrize.is_parametrized(conv, "weight") else conv.weight
            weight.copy_(case["weight"])
            conv.bias.copy_(case["bias"])
        loaded = conv(case["x"])
        _take_steps(conv, lambda c: (c(case["x"]) - case["target"]).pow(2).mean(), train_steps)
        result[key] = {"built": built, "loaded_output": loaded, "trained": _dependency(conv, case["x"]), "trained_output": conv(case["x"]),
                       "trained_weight": conv.weight, "trained_bias": conv.bias}
    return result


def model_dependency(ns, image_shape, n_layers, kernel_size, train_steps) -> dict:
    """Dependency pattern of a whole PixelCNN's logits on its inputs (float64, random inputs), freshly
    built and after ``train_steps`` optimiser steps of maximum likelihood on random binary images."""
    # 32 channels: with 8, every ReLU on some path can be dead for every input (8 of 60 seeds of a correct model);
    # eval(): dropout would hide dependencies.
    model = _model(ns, image_shape, 32, n_layers, kernel_size, torch.float64).eval()
    inputs = torch.rand(3, 1, *image_shape, dtype=torch.float64)
    data = torch.bernoulli(torch.full((16, 1, *image_shape), 0.5, dtype=torch.float64))
    fresh = _dependency(model, inputs)
    _take_steps(model, lambda m: F.binary_cross_entropy_with_logits(m(data), data), train_steps)
    return {"fresh": fresh, "trained": _dependency(model, inputs)}


def all_configurations(ns, image_shape, gain) -> dict:
    """``log_prob`` and logits of every binary image of a tiny shape, on a model with spread weights."""
    model = _model(ns, image_shape, 16, 2, 3, torch.float64).eval()
    _spread_weights(model, gain)
    n = image_shape[0] * image_shape[1]
    bits = torch.tensor(list(itertools.product((0.0, 1.0), repeat=n)), dtype=torch.float64)  # (2^n, n)
    x = bits.reshape(-1, 1, *image_shape)
    with torch.no_grad():
        return {"x": x, "log_prob": model.log_prob(x), "logits": model(x), "loss": model.loss(x)}


def sampling(ns, image_shape, n_samples, train_steps) -> dict:
    """Fit a tiny model to a four-pattern distribution, then draw many samples from it.

    Returns the samples and the model's logits on every configuration, so the grader can compare
    empirical frequencies with the model's own probabilities.
    """
    h, w = image_shape
    patterns = torch.stack([torch.zeros(h, w), torch.ones(h, w), (torch.arange(h * w).reshape(h, w) % 2).float(), torch.eye(h, w)])
    model = _model(ns, image_shape, 16, 3, 3)
    data = patterns[torch.randint(0, 4, (512,))].unsqueeze(1)  # (512, 1, h, w)
    _take_steps(model, lambda m: F.binary_cross_entropy_with_logits(m(data), data), train_steps)
    model.eval()
    n = h * w
    configs = torch.tensor(list(itertools.product((0.0, 1.0), repeat=n))).reshape(-1, 1, h, w)
    with torch.no_grad():
        logits = model(configs)
    samples = model.sample(n_samples)
    return {"samples": samples, "configs": configs, "logits": logits}


def train_and_evaluate(ns, dataset, config, train, n_samples, inputs) -> dict:
    """The grader's recipe: train the student's class on the grader's split, then report the logits
    on ``inputs`` (the grader's evaluation batch: the test images and paired copies, shuffled) and
    ``n_samples`` samples (for the sample-quality metrics and the feedback grid)."""
    train_images = dgm.binarize(dgm.data.load_images(dataset, "train").images)
    device = dgm.default_device()
    model = _model(ns, inputs.shape[-2:], **config).to(device)
    dgm.fit(model, train_images, dgm.TrainConfig(**train), progress=False)
    model.eval()
    with torch.no_grad():
        samples = model.sample(n_samples).cpu()
        model.double()  # float64: masked terms cancel exactly, whatever convolution algorithm the device picks
        logits = torch.cat([model(batch.to(device, torch.float64)).cpu() for batch in inputs.split(500)])
    return {"logits": logits, "samples": samples}
