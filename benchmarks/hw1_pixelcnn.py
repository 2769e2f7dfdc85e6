"""Benchmark of the hw1 reference PixelCNN: training time and test NLL (prints figures, judges nothing).

    python benchmarks/hw1_pixelcnn.py                      # quick profile: 8x8 digits, the grader's recipe
    python benchmarks/hw1_pixelcnn.py --setting full       # binarized MNIST (threshold 0.5), GPU recommended
    python benchmarks/hw1_pixelcnn.py --setting literature --minutes 15
        # stochastically binarized MNIST, the protocol of the published 81.3 nats (van den Oord et al., 2016)

The model is the reference solution, executed from the instructor's source notebook (no copy of it
lives here). ``--minutes`` stops training after that wall-clock budget, at the end of an epoch.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dgm  # noqa: E402
from reference import reference_namespace  # noqa: E402

SETTINGS = {
    # name: dataset, binarisation, model config, training config
    "quick": ("digits", "threshold", dict(hidden_channels=32, n_layers=4, kernel_size=5), dict(epochs=30, batch_size=64, lr=3e-3)),
    "full": ("mnist", "threshold", dict(hidden_channels=64, n_layers=7, kernel_size=7), dict(epochs=10, batch_size=128, lr=1e-3)),
    "literature": ("mnist", "stochastic", dict(hidden_channels=128, n_layers=12, kernel_size=7), dict(epochs=30, batch_size=128, lr=1e-3)),
}



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setting", choices=SETTINGS, default="quick")
    parser.add_argument("--minutes", type=float, default=None, help="training budget (wall clock); default: the full recipe")
    parser.add_argument("--epochs", type=int, default=None, help="override the number of epochs")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    dataset, binarisation, model_config, train_config = SETTINGS[args.setting]
    if args.epochs:
        train_config = {**train_config, "epochs": args.epochs}
    ns = reference_namespace("hw1")
    train, test = (dgm.data.load_images(dataset, split).images for split in ("train", "test"))
    if binarisation == "threshold":
        train, test = dgm.binarize(train), dgm.binarize(test)
    else:
        train, test = dgm.data.stochastic_binarize(train, seed=1), dgm.data.stochastic_binarize(test, seed=2)
    device = dgm.default_device()
    dgm.seed_everything(args.seed)
    model = ns.PixelCNN(ns.PixelCNNConfig(image_shape=tuple(train.shape[-2:]), **model_config)).to(device)
    parameters = sum(p.numel() for p in model.parameters())

    config = dgm.TrainConfig(**train_config, seed=args.seed, max_minutes=args.minutes)
    history = dgm.fit(model, train, config, progress=sys.stderr.isatty())
    epochs_done, seconds = history.epochs, history.seconds

    with torch.no_grad():
        log_prob = torch.cat([model.log_prob(batch.to(device)).cpu() for batch in test.split(500)])
    nll = -log_prob.mean().item()
    dims = test[0].numel()
    where = torch.cuda.get_device_name(0) if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    print(f"setting      {args.setting}: {dataset}, {binarisation} binarisation, {len(train)} train / {len(test)} test images")
    print(f"model        PixelCNN {model_config}, {parameters:,} parameters")
    print(f"training     {epochs_done} epochs of {config.epochs} in {seconds:.1f} s on {where} ({seconds / epochs_done:.1f} s per epoch)")
    print(f"test NLL     {nll:.2f} nats per image = {nll / dims / math.log(2):.4f} bits per dimension")
    if args.setting == "literature":
        print("literature   PixelCNN (van den Oord et al., 2016): 81.30 nats per image on stochastically binarized MNIST")


if __name__ == "__main__":
    main()
