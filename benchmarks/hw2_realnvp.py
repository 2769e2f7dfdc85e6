"""Benchmark: the hw2 reference RealNVP against zuko's RealNVP on the same data (prints figures).

    pip install zuko                  # benchmark-only dependency
    python benchmarks/hw2_realnvp.py  # moons and 8x8 digits on the quick recipes
    python benchmarks/hw2_realnvp.py --mnist --minutes 15   # adds MNIST for the reference (GPU recommended)

Both flows are trained by the course loop with the same data, seed, optimiser and epochs; the image
flows share the reference's dequantization, so bits per dimension are comparable. The reference
model is executed from the instructor's source notebook (no copy of it lives here).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dgm  # noqa: E402
from reference import reference_namespace  # noqa: E402



class ZukoFlow(nn.Module):
    """zuko's RealNVP on flattened inputs, with the course's loss convention (nats per dimension)."""

    def __init__(self, features: int, transforms: int, hidden: int):
        super().__init__()
        import zuko

        self.flow = zuko.flows.RealNVP(features=features, transforms=transforms, hidden_features=(hidden, hidden))

    def log_prob(self, x):
        return self.flow().log_prob(x.flatten(1))

    def loss(self, x):
        return -self.log_prob(x).mean() / x[0].numel()


class Dequantized(nn.Module):
    """Any flow with ``log_prob`` on logit space, trained on grey levels through the reference's ``dequantize``."""

    def __init__(self, flow: nn.Module, dequantize, n_levels: int):
        super().__init__()
        self.flow, self.dequantize, self.n_levels = flow, dequantize, n_levels

    def loss(self, x, noise=None):
        noise = torch.rand_like(x) if noise is None else noise
        y, log_det = self.dequantize(x, noise, self.n_levels)
        return -(self.flow.log_prob(y) + log_det).mean() / (x[0].numel() * math.log(2))


def train(model, train_data, config):
    history = dgm.fit(model, train_data, config, progress=sys.stderr.isatty())
    return history.seconds / history.epochs, history.epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mnist", action="store_true", help="also train the reference on MNIST (256 levels)")
    parser.add_argument("--minutes", type=float, default=None, help="training budget per model")
    args = parser.parse_args()
    ns = reference_namespace("hw2")
    device = dgm.default_device()
    where = torch.cuda.get_device_name(0) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"{'data':<10}{'model':<26}{'params':>9}{'s/epoch':>9}{'epochs':>8}   test")

    toy_train, toy_test = dgm.data.toy2d("moons", 4000, seed=0), dgm.data.toy2d("moons", 2000, seed=1)
    toy_config = dgm.TrainConfig(epochs=40, batch_size=128, lr=3e-3, seed=0, max_minutes=args.minutes)
    for label, model in [("reference RealNVP", ns.RealNVP(ns.RealNVPConfig(shape=(2,), n_couplings=6, hidden=64))),
                         ("zuko RealNVP", ZukoFlow(2, transforms=6, hidden=64))]:
        dgm.seed_everything(0)
        model = model.to(device)
        per_epoch, epochs = train(model, toy_train, toy_config)
        with torch.no_grad():
            nll = -model.log_prob(toy_test.to(device)).mean().item()
        print(f"{'moons':<10}{label:<26}{sum(p.numel() for p in model.parameters()):>9,}{per_epoch:>9.2f}{epochs:>8}   {nll:.3f} nats/point")

    settings = [("digits", 17, dgm.TrainConfig(epochs=30, batch_size=64, lr=2e-3, seed=0, max_minutes=args.minutes), 4, 32)]
    if args.mnist:
        settings.append(("mnist", 256, dgm.TrainConfig(epochs=20, batch_size=128, lr=1e-3, seed=0, max_minutes=args.minutes), 6, 128))
    for dataset, n_levels, config, couplings, hidden in settings:
        train_levels = dgm.data.to_levels(dgm.data.load_images(dataset, "train").images, n_levels)
        test_levels = dgm.data.to_levels(dgm.data.load_images(dataset, "test").images, n_levels)
        shape = tuple(train_levels.shape[1:])
        models = [("reference RealNVP", ns.DequantizedFlow(ns.RealNVP(ns.RealNVPConfig(shape=shape, n_couplings=couplings, hidden=hidden)), n_levels))]
        if dataset == "digits":
            models.append(("zuko RealNVP (flat)", Dequantized(ZukoFlow(math.prod(shape), transforms=2 * couplings, hidden=4 * hidden), ns.dequantize, n_levels)))
        for label, model in models:
            dgm.seed_everything(0)
            model = model.to(device)
            per_epoch, epochs = train(model, train_levels, config)
            bpd = dgm.training.evaluate(model, test_levels)
            print(f"{dataset:<10}{label:<26}{sum(p.numel() for p in model.parameters()):>9,}{per_epoch:>9.2f}{epochs:>8}   {bpd:.3f} bits/dim")
    print(f"device: {where}; one noise draw per test image; the literature figure for RealNVP on MNIST is 1.06 bits/dim")


if __name__ == "__main__":
    main()
