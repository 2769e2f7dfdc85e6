"""Figures of lecture 2, drawn with fixed seeds; ``lectures/build.py`` saves each entry of FIGURES as a PDF."""

import matplotlib.pyplot as plt
import numpy as np


def standard_normal(z: np.ndarray) -> np.ndarray:
    """Density of N(0, I) at the rows of z (..., d)."""
    return np.exp(-0.5 * (z**2).sum(-1)) / (2 * np.pi) ** (z.shape[-1] / 2)


def change_of_variables_1d() -> plt.Figure:
    """x = g(z) = z + 0.35 sin 2z pushes N(0, 1) forward; p(x) = p(z) / |g'(z)| matches a histogram of g(z)."""
    rng = np.random.default_rng(0)
    z = np.linspace(-4, 4, 2000)
    x, dx_dz = z + 0.35 * np.sin(2 * z), 1 + 0.7 * np.cos(2 * z)
    fig, axes = plt.subplots(1, 3, figsize=(9, 2.6))
    axes[0].plot(z, standard_normal(z[:, None]))
    axes[0].set(title=r"base $p(z)=\mathcal{N}(0,1)$", xlabel="$z$")
    axes[1].plot(z, x)
    axes[1].set(title=r"$x = g(z) = z + 0.35\sin 2z$", xlabel="$z$", ylabel="$x$")
    samples = rng.standard_normal(100_000)
    axes[2].hist(samples + 0.35 * np.sin(2 * samples), bins=120, density=True, color="lightgrey", label="samples $g(z)$")
    axes[2].plot(x, standard_normal(z[:, None]) / dx_dz, label=r"$p(z)\,|g'(z)|^{-1}$")
    axes[2].set(title="model density $p(x)$", xlabel="$x$", xlim=(-4, 4))
    axes[2].legend(fontsize=7)
    fig.tight_layout()
    return fig


def coupling_flows() -> plt.Figure:
    """A linear flow and two hand-made affine couplings applied to N(0, I): samples and exact densities."""
    rng = np.random.default_rng(0)
    z = rng.standard_normal((3000, 2))
    W_inverse = np.array([[1.0, 0.0], [0.9, 0.5]])
    s = lambda u: 0.4 * np.tanh(u)  # noqa: E731  (scale and shift of the coupling, functions of the kept part)
    t = lambda u: 0.6 * u**2 - 1.5  # noqa: E731

    def coupling_inverse(x):  # x -> z for x = (z1, z2 * exp(s(z1)) + t(z1)); returns z and log|det dz/dx|
        z1, z2 = x[..., 0], (x[..., 1] - t(x[..., 0])) * np.exp(-s(x[..., 0]))
        return np.stack([z1, z2], -1), -s(x[..., 0])

    grid = np.stack(np.meshgrid(np.linspace(-4, 4, 300), np.linspace(-4, 4, 300)), -1)
    linear_density = standard_normal(grid @ np.linalg.inv(W_inverse).T) / abs(np.linalg.det(W_inverse))
    z_grid, log_det = coupling_inverse(grid)
    coupling_density = standard_normal(z_grid) * np.exp(log_det)
    x_coupling = np.stack([z[:, 0], z[:, 1] * np.exp(s(z[:, 0])) + t(z[:, 0])], -1)

    fig, axes = plt.subplots(1, 3, figsize=(9, 3))
    panels = [(standard_normal(grid), z, r"base $\mathcal{N}(0, \mathbf{I})$"),
              (linear_density, z @ W_inverse.T, r"linear $\mathbf{x} = \mathbf{W}^{-1}\mathbf{z}$"),
              (coupling_density, x_coupling, "affine coupling")]
    for ax, (density, points, title) in zip(axes, panels):
        ax.contourf(grid[..., 0], grid[..., 1], density, levels=20, cmap="Blues")
        ax.scatter(points[:300, 0], points[:300, 1], s=1, color="C1")
        ax.set(title=title, xlim=(-4, 4), ylim=(-4, 4), aspect="equal")
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


FIGURES = {"change_of_variables": change_of_variables_1d, "flows_2d": coupling_flows}  # file name (PDF) -> function that draws it
