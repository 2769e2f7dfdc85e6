"""Course library of Deep Generative Models.

What notebooks, seminars and the autograder share: data (:mod:`dgm.data`), the training loop
(:mod:`dgm.training`), plots (:mod:`dgm.plots`), sample-quality metrics (:mod:`dgm.metrics`),
the feature extractors they use (:mod:`dgm.features`) and Gaussian mixtures with exact noised scores (:mod:`dgm.mixture`). It never contains homework solutions.
"""

from . import data, features, metrics, mixture, plots, training
from .data import binarize, digits, fashion_mnist, mnist
from .plots import plot_losses, show_samples
from .training import TrainConfig, default_device, fit, seed_everything

__version__ = "0.1.0"

__all__ = [
    "data", "features", "metrics", "mixture", "plots", "training",
    "binarize", "digits", "mnist", "fashion_mnist",
    "plot_losses", "show_samples",
    "TrainConfig", "fit", "seed_everything", "default_device",
]
