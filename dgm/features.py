"""Course feature extractors: small classifiers whose penultimate layer embeds images for metrics.

Inception-based FID needs a download; these classifiers ship with the library instead, one per
image dataset of the course (``digits``, ``mnist``, ``fashion_mnist``), each a few hundred KB.
They are trained by ``python -m dgm.features DATASET`` with a fixed seed; ``weights/RECORD.json``
keeps, per dataset, the command, seed, commit and test accuracy of the shipped weights.

Training sees every image both in grey levels and binarised at 0.5, so the features serve models
of grey images and of binary images alike.
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
from functools import cache
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from . import data
from .training import TrainConfig, fit, seed_everything

__all__ = ["FeatureClassifier", "load_extractor", "features", "accuracy", "WEIGHTS_DIR"]

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
RECIPES = {
    "digits": TrainConfig(epochs=40, batch_size=64, lr=2e-3, seed=0),
    "mnist": TrainConfig(epochs=3, batch_size=128, lr=2e-3, seed=0),
    "fashion_mnist": TrainConfig(epochs=5, batch_size=128, lr=2e-3, seed=0),
}


class FeatureClassifier(nn.Module):
    """Three convolutions, average pooling to a 2x2 grid and a linear layer to ``width`` features,
    then a linear classifier.

    Shapes: images ``(B, 1, H, W)`` in ``[0, 1]`` -> features ``(B, width)`` -> logits ``(B, n_classes)``.
    """

    def __init__(self, width: int = 64, n_classes: int = 10):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(64, 64, 3, stride=2, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(2), nn.Flatten(),  # (B, 64 * 2 * 2): keeps where strokes are
            nn.Linear(256, width), nn.ReLU(),
        )
        self.head = nn.Linear(width, n_classes)

    def features(self, x: Tensor) -> Tensor:
        return self.body(2 * x - 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


class _Training(nn.Module):
    """Wraps a classifier for :func:`dgm.fit`: cross-entropy on grey and binarised copies of a batch."""

    def __init__(self, classifier: FeatureClassifier):
        super().__init__()
        self.classifier = classifier

    def loss(self, images: Tensor, labels: Tensor) -> Tensor:
        both = torch.cat([images, data.binarize(images)])  # (2B, 1, H, W)
        return F.cross_entropy(self.classifier(both), labels.repeat(2))


@torch.no_grad()
def accuracy(classifier: FeatureClassifier, dataset: data.ImageDataset, binarised: bool = False) -> float:
    """Share of correctly classified images (optionally binarised at 0.5 first)."""
    images = data.binarize(dataset.images) if binarised else dataset.images
    predictions = torch.cat([classifier(batch).argmax(1) for batch in images.split(1000)])
    return (predictions == dataset.labels).double().mean().item()


@cache
def load_extractor(dataset: str) -> FeatureClassifier:
    """The shipped classifier for ``dataset``, in eval mode on the CPU."""
    path = WEIGHTS_DIR / f"{dataset}.pt"
    if not path.exists():
        raise FileNotFoundError(f"no shipped feature extractor for {dataset!r} ({path}); train it with `python -m dgm.features {dataset}`")
    classifier = FeatureClassifier()
    classifier.load_state_dict(torch.load(path, weights_only=True))
    return classifier.eval()


@torch.no_grad()
def features(dataset: str, images: Tensor) -> tuple[Tensor, Tensor]:
    """Features ``(N, 64)`` and logits ``(N, 10)`` of images ``(N, 1, H, W)`` under ``dataset``'s extractor."""
    classifier = load_extractor(dataset)
    feats = torch.cat([classifier.features(batch.float().cpu()) for batch in images.split(1000)])
    return feats, classifier.head(feats)


def train(dataset: str) -> dict:
    """Train the extractor of ``dataset`` with its recipe, save it and return its record."""
    recipe = RECIPES[dataset]
    seed_everything(recipe.seed)
    train_set, test_set = data.load_images(dataset, "train"), data.load_images(dataset, "test")
    classifier = FeatureClassifier()
    fit(_Training(classifier), (train_set.images, train_set.labels), recipe)
    classifier.eval()
    WEIGHTS_DIR.mkdir(exist_ok=True)
    torch.save(classifier.state_dict(), WEIGHTS_DIR / f"{dataset}.pt")
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=WEIGHTS_DIR, capture_output=True, text=True).stdout.strip()
    return {
        "command": f"python -m dgm.features {dataset}",
        "seed": recipe.seed,
        "recipe": {k: v for k, v in recipe.__dict__.items() if v is not None},
        "commit": commit,
        "date": datetime.date.today().isoformat(),
        "torch": torch.__version__,
        "test_accuracy": round(accuracy(classifier, test_set), 4),
        "test_accuracy_binarised": round(accuracy(classifier, test_set, binarised=True), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m dgm.features", description="Train and ship a course feature extractor.")
    parser.add_argument("datasets", nargs="+", choices=sorted(RECIPES))
    args = parser.parse_args()
    record_path = WEIGHTS_DIR / "RECORD.json"
    records = json.loads(record_path.read_text()) if record_path.exists() else {}
    for dataset in args.datasets:
        records[dataset] = train(dataset)
        print(f"{dataset}: {records[dataset]}")
        record_path.write_text(json.dumps(records, indent=2) + "\n")


if __name__ == "__main__":
    main()
