"""Figures of lecture 1, drawn with fixed seeds; ``lectures/build.py`` saves each entry of FIGURES as a PDF."""

import matplotlib.pyplot as plt
import numpy as np


def raster_mask(kernel_size: int, include_centre: bool) -> np.ndarray:
    """Mask of a masked convolution: 1 on the kernel positions before the centre in raster order."""
    centre = kernel_size // 2
    mask = np.zeros((kernel_size, kernel_size))
    mask[:centre] = 1
    mask[centre, :centre] = 1
    mask[centre, centre] = include_centre
    return mask


def receptive_field(n_layers: int, kernel_size: int = 3, size: int = 15) -> np.ndarray:
    """Input pixels that reach the centre output through one type-A and n_layers-1 type-B layers."""
    centre, c = size // 2, kernel_size // 2
    seen = np.zeros((size, size), dtype=bool)
    seen[centre, centre] = True
    for layer in reversed(range(n_layers)):  # walk from the output back to the input
        mask = raster_mask(kernel_size, include_centre=layer > 0)
        reached = np.zeros_like(seen)
        for di, dj in zip(*np.nonzero(mask)):
            reached |= np.roll(seen, (di - c, dj - c), axis=(0, 1))
        seen = reached
    return seen


def histogram_mle() -> plt.Figure:
    """A histogram fitted by maximum likelihood: training NLL keeps falling, test NLL turns up."""
    rng = np.random.default_rng(0)
    def draw(n):  # pi(x): a mixture of two Gaussians on [0, 1]
        x = np.where(rng.random(n) < 0.3, rng.normal(0.25, 0.07, n), rng.normal(0.65, 0.12, n))
        return np.clip(x, 0, 1 - 1e-9)
    train, test = draw(200), draw(10_000)
    bins = np.arange(2, 121)
    nll = {"train": [], "test": []}
    for k in bins:
        counts = np.bincount((train * k).astype(int), minlength=k)
        density = counts / len(train) * k  # MLE: theta_j = n_j / n, density theta_j * k on bin j
        for name, x in [("train", train), ("test", test)]:
            nll[name].append(-np.mean(np.log(np.maximum(density[(x * k).astype(int)], 1e-12))))
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3))
    grid = np.linspace(0, 1, 1000)
    for k, colour in [(8, "C0"), (60, "C1")]:
        counts = np.bincount((train * k).astype(int), minlength=k)
        left.step(grid, (counts / len(train) * k)[(grid * k).astype(int).clip(0, k - 1)], where="post", color=colour, label=f"{k} bins")
    left.plot(grid, 0.3 * np.exp(-((grid - 0.25) / 0.07) ** 2 / 2) / (0.07 * np.sqrt(2 * np.pi))
              + 0.7 * np.exp(-((grid - 0.65) / 0.12) ** 2 / 2) / (0.12 * np.sqrt(2 * np.pi)), "k--", label=r"$\pi(x)$")
    left.set(xlabel="$x$", ylabel="density", title="histogram MLE, $n=200$")
    left.legend(fontsize=8)
    for name in nll:
        right.plot(bins, np.minimum(nll[name], 3), label=name)
    right.set(xlabel="number of bins $k$", ylabel="NLL (nats)", title="NLL against model size")
    right.legend(fontsize=8)
    fig.tight_layout()
    return fig


def masks_and_receptive_fields() -> plt.Figure:
    """Type-A and type-B masks, and the receptive field of stacks of 3x3 masked convolutions."""
    fig, axes = plt.subplots(1, 5, figsize=(10, 2.3))
    panels = [(raster_mask(5, False), "mask A ($5\\times5$)"), (raster_mask(5, True), "mask B ($5\\times5$)")]
    panels += [(receptive_field(n), f"{n} layers ($3\\times3$)") for n in (2, 4, 6)]
    for ax, (image, title) in zip(axes, panels):
        shown = image.astype(float)
        if "layers" in title:
            shown[len(shown) // 2, len(shown) // 2] = 0.5  # the pixel being predicted
        ax.imshow(shown, cmap="Blues", vmin=0, vmax=1.2)
        ax.set_xticks(np.arange(len(shown)) - 0.5, minor=True)
        ax.set_yticks(np.arange(len(shown)) - 0.5, minor=True)
        ax.grid(which="minor", color="grey", linewidth=0.3)
        ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


FIGURES = {"histogram_mle": histogram_mle, "masks_receptive_field": masks_and_receptive_fields}  # file name (PDF) -> function that draws it
