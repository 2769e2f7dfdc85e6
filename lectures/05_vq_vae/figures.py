"""Figures of lecture 5, drawn with fixed seeds; ``lectures/build.py`` saves each entry of FIGURES as a PDF."""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap


def nearest_code(z: np.ndarray, codebook: np.ndarray) -> np.ndarray:
    """Index of the nearest code for every row of z (..., D), by ||z||^2 - 2 z.e + ||e||^2."""
    distances = (z**2).sum(-1, keepdims=True) - 2 * z @ codebook.T + (codebook**2).sum(-1)
    return distances.argmin(-1)


def vq_voronoi() -> plt.Figure:
    """A codebook of 12 vectors in R^2, its Voronoi cells, and encoder outputs from three clusters.

    Codes whose cell holds no encoder output are marked as dead; one arrow shows z_e -> z_q.
    """
    rng = np.random.default_rng(3)
    codebook = rng.uniform(-3, 3, size=(12, 2))
    centres = np.array([[-1.5, 1.2], [1.4, 1.0], [0.2, -1.6]])
    z_e = np.concatenate([c + 0.45 * rng.standard_normal((60, 2)) for c in centres])
    grid = np.stack(np.meshgrid(np.linspace(-3.5, 3.5, 400), np.linspace(-3.5, 3.5, 400)), -1)
    cells = nearest_code(grid, codebook)
    used = np.bincount(nearest_code(z_e, codebook), minlength=len(codebook)) > 0

    fig, ax = plt.subplots(figsize=(4.6, 4.0))
    colours = ListedColormap(plt.get_cmap("tab20")(np.arange(12) % 20) * [1, 1, 1, 0.35])
    ax.imshow(cells, origin="lower", extent=(-3.5, 3.5, -3.5, 3.5), cmap=colours, interpolation="nearest")
    ax.scatter(*z_e.T, s=5, color="black", label=r"encoder outputs $\mathbf{z}_e(\mathbf{x})$")
    ax.scatter(*codebook[used].T, s=70, marker="*", color="C3", edgecolor="white", linewidth=0.5,
               label=r"codes $\mathbf{e}_k$ in use", zorder=3)
    ax.scatter(*codebook[~used].T, s=45, marker="X", color="grey", edgecolor="white", linewidth=0.5,
               label="dead codes (empty cell)", zorder=3)
    distance = np.linalg.norm(z_e - codebook[nearest_code(z_e, codebook)], axis=1)
    start = z_e[np.argmax(np.where(z_e[:, 1] < -1.0, distance, 0))]  # a far-from-its-code output of the lower cluster
    end = codebook[nearest_code(start[None], codebook)[0]]
    ax.annotate("", xy=end, xytext=start, arrowprops=dict(arrowstyle="-|>", color="C0", linewidth=1.5), zorder=4)
    ax.text(*(start + [0.3, -0.6]), r"$\mathbf{z}_e \mapsto \mathbf{z}_q$", color="C0", fontsize=9,
            bbox=dict(facecolor="white", alpha=0.85, edgecolor="none", pad=1), zorder=5)
    ax.set(xlim=(-3.5, 3.5), ylim=(-3.5, 3.5), aspect="equal", xticks=[], yticks=[])
    ax.legend(fontsize=7, loc="lower left", framealpha=0.9)
    fig.tight_layout()
    return fig


def straight_through_1d() -> plt.Figure:
    """A loss l(z) of a scalar latent: smooth before quantisation, piecewise constant after it.

    The true derivative of l(z_q(z_e)) is 0 inside every cell; the straight-through estimator uses l'(z_q), the
    slope at the code, where an autoencoder without quantisation would use l'(z_e).
    """
    codes = np.array([-1.6, -0.3, 1.1, 2.4])
    loss = lambda z: 0.5 * (z - 0.6) ** 2 + 0.15 * np.sin(3 * z)  # noqa: E731
    slope = lambda z: (z - 0.6) + 0.45 * np.cos(3 * z)  # noqa: E731
    z = np.linspace(-2.5, 3.2, 2000)
    fig, ax = plt.subplots(figsize=(6.4, 2.4))
    ax.plot(z, loss(z), color="grey", linestyle="--", label=r"$\ell(z_e)$: no quantisation")
    ax.plot(z, loss(codes[np.abs(z[:, None] - codes).argmin(1)]), color="C0",
            label=r"$\ell(z_q(z_e))$: piecewise constant")
    ax.scatter(codes, loss(codes), color="C3", zorder=3, s=20, label=r"codes $e_k$")
    z_e = -0.85
    z_q = codes[np.abs(z_e - codes).argmin()]
    half = 0.5
    for point, colour, name in [(z_q, "C1", r"slope $\ell'(z_q)$: straight-through"), (z_e, "grey", r"slope $\ell'(z_e)$")]:
        ax.plot([point - half, point + half], [loss(point) - half * slope(point), loss(point) + half * slope(point)],
                color=colour, linewidth=2.2, label=name)
    ax.annotate("", xy=(z_q, -0.25), xytext=(z_e, -0.25), arrowprops=dict(arrowstyle="-|>", color="black", linewidth=0.8))
    ax.text(z_e, -0.2, "$z_e$", ha="right", va="bottom", fontsize=9)
    ax.text(z_q, -0.2, "$z_q$", ha="left", va="bottom", fontsize=9)
    ax.set(xlabel="$z$", ylim=(-0.4, 3.6))
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return fig


def gumbel_softmax_simplex() -> plt.Figure:
    """Gumbel-softmax samples for K = 3, p = (0.6, 0.3, 0.1), on the simplex, at four temperatures."""
    probabilities = np.array([0.6, 0.3, 0.1])
    corners = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, np.sqrt(3) / 2]])  # vertex k = the one-hot vector e_k
    rng = np.random.default_rng(0)
    gumbel = -np.log(-np.log(rng.uniform(size=(1500, 3))))
    fig, axes = plt.subplots(1, 4, figsize=(8, 2.1))
    for ax, tau in zip(axes, (0.1, 0.5, 1.0, 5.0)):
        scores = (np.log(probabilities) + gumbel) / tau
        relaxed = np.exp(scores - scores.max(1, keepdims=True))
        relaxed /= relaxed.sum(1, keepdims=True)
        points = relaxed @ corners
        ax.fill(*corners.T, color="0.93")
        ax.scatter(*points.T, s=2, alpha=0.4, color=[f"C{k}" for k in relaxed.argmax(1)])
        for k, (corner, p) in enumerate(zip(corners, probabilities)):
            offset = np.array([[-0.02, -0.1], [0.02, -0.1], [0.0, 0.04]])[k]
            ax.text(*(corner + offset), f"$p_{k + 1} = {p}$", ha="center", fontsize=9)
        ax.set_title(rf"$\tau = {tau}$", fontsize=11)
        ax.set(xlim=(-0.15, 1.15), ylim=(-0.15, 0.97), aspect="equal")
        ax.axis("off")
    fig.tight_layout(pad=0.2)
    return fig


def aggregate_posterior() -> plt.Figure:
    """Encoder posteriors q(z | x_j) of 8 data points, their average (the aggregate posterior) and N(0, 1)."""
    rng = np.random.default_rng(1)
    means = np.sort(np.concatenate([rng.normal(-1.3, 0.25, 4), rng.normal(1.1, 0.3, 4)]))
    stds = rng.uniform(0.12, 0.25, 8)
    z = np.linspace(-4, 4, 2000)
    normal = lambda m, s: np.exp(-0.5 * ((z - m) / s) ** 2) / (s * np.sqrt(2 * np.pi))  # noqa: E731
    posteriors = normal(means[:, None], stds[:, None])
    fig, ax = plt.subplots(figsize=(5.6, 2.3))
    for j, q in enumerate(posteriors):
        ax.plot(z, q / len(means), color="C0", linewidth=0.7, alpha=0.7,
                label=r"$\frac{1}{n} q(z \mid x_j)$" if j == 0 else None)
    ax.fill_between(z, posteriors.mean(0), color="C0", alpha=0.25, label=r"aggregate posterior $\bar q(z)$")
    ax.plot(z, normal(0.0, 1.0), color="C3", label=r"prior $p(z) = \mathcal{N}(0, 1)$")
    ax.annotate("a hole: high $p(z)$,\nalmost no $\\bar q(z)$", xy=(0.0, 0.02), xytext=(1.9, 0.55), fontsize=8,
                arrowprops=dict(arrowstyle="->", color="black", linewidth=0.8))
    ax.set(xlabel="$z$", xlim=(-3.5, 3.5))
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


FIGURES = {  # file name (PDF) -> function that draws it
    "vq_voronoi": vq_voronoi,
    "straight_through_1d": straight_through_1d,
    "gumbel_softmax_simplex": gumbel_softmax_simplex,
    "aggregate_posterior": aggregate_posterior,
}
