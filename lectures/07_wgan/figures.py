"""Figures of lecture 7, drawn with fixed seeds; ``lectures/build.py`` saves each entry of FIGURES as a PDF."""

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Circle
from scipy import stats

from dgm.data import toy2d
from dgm.metrics import nearest_distances, precision_recall


def optimal_critic_1d() -> plt.Figure:
    """An optimal 1-Lipschitz critic on the line, f*(x) = int_0^x sign(F_p - F_pi), and the monotone coupling.

    Data pi = 0.5 N(-1.5, 0.6^2) + 0.5 N(1.8, 0.9^2), model p = N(0.5, 1.2^2). On every segment between coupled points
    (F_pi^{-1}(u), F_p^{-1}(u)) the critic has slope +1 or -1 (Proposition 1 of Gulrajani et al. in one dimension).
    """
    x = np.linspace(-6, 7, 5201)
    dx = x[1] - x[0]
    pi = 0.5 * stats.norm.pdf(x, -1.5, 0.6) + 0.5 * stats.norm.pdf(x, 1.8, 0.9)
    p = stats.norm.pdf(x, 0.5, 1.2)
    F_pi, F_p = np.cumsum(pi) * dx, np.cumsum(p) * dx
    slope = np.sign(F_p - F_pi)
    critic = np.cumsum(slope) * dx
    critic -= critic[np.argmin(np.abs(x))]  # f*(0) = 0
    w1 = np.sum(np.abs(F_p - F_pi)) * dx

    fig, (ax_d, ax_f) = plt.subplots(1, 2, figsize=(7.0, 2.3))
    ax_d.set_xlim(-4.5, 5.5)
    ax_d.fill_between(x, pi, color="C0", alpha=0.3, label=r"data $\pi$")
    ax_d.plot(x, p, color="C3", label=r"model $p_\theta$")
    ax_d.plot(x, F_p - F_pi, color="0.3", linestyle="--", label=r"$F_{p_\theta} - F_\pi$")
    ax_d.axhline(0, color="grey", linewidth=0.5)
    ax_d.set(xlabel="$x$", title="densities and the difference of CDFs")
    ax_d.legend(fontsize=7, loc="upper left")
    shown = (x > -3.2) & (x < 4.8)  # in the far tails the CDFs differ by < 1e-3 and the critic hardly matters
    ax_f.plot(x[shown], critic[shown], color="C2", label=r"$f^*(x)$, slope $\pm 1$")
    u = np.linspace(0.05, 0.95, 10)
    q_pi, q_p = np.interp(u, F_pi, x), np.interp(u, F_p, x)
    low = critic[shown].min() - 0.4
    for k, (a, b) in enumerate(zip(q_pi, q_p)):
        level = low - 0.12 * k
        ax_f.plot([a, b], [level, level], color="0.5", linewidth=0.8)
        ax_f.plot(a, level, "o", color="C0", markersize=2.5)
        ax_f.plot(b, level, "o", color="C3", markersize=2.5)
    ax_f.plot([], [], color="0.5", marker="o", markersize=2.5, label=r"coupled pairs $(F_\pi^{-1}(u), F_{p_\theta}^{-1}(u))$")
    ax_f.set(xlabel="$x$", title=rf"optimal critic: $\mathbb{{E}}_\pi f^* - \mathbb{{E}}_{{p_\theta}} f^* = W_1 \approx {w1:.2f}$")
    ax_f.legend(fontsize=7, loc="upper center")
    ax_f.set_ylim(low - 0.12 * len(u) - 0.1, critic[shown].max() + 1.2)
    for ax in (ax_d, ax_f):
        ax.tick_params(labelsize=7)
        ax.title.set_fontsize(9)
    fig.tight_layout()
    return fig


def conjugate_tangents() -> plt.Figure:
    """f(u) = u log u is the supremum of its tangents t u - f*(t), f*(t) = exp(t - 1); and the generators f of the table."""
    u = np.linspace(1e-3, 4, 800)
    fig, (ax_t, ax_f) = plt.subplots(2, 1, figsize=(3.4, 4.3))
    ax_t.plot(u, u * np.log(u), color="C0", linewidth=2, label=r"$f(u) = u \log u$")
    for k, u0 in enumerate((0.2, 0.6, 1.0, 2.0, 3.2)):
        t = 1 + np.log(u0)
        ax_t.plot(u, t * u - np.exp(t - 1), color="C1", linewidth=0.8, label=r"$t u - f^*(t)$, $t = f'(u_0)$" if k == 0 else None)
        ax_t.plot(u0, u0 * np.log(u0), "o", color="C1", markersize=3)
    ax_t.set(xlabel="$u = p / q$", ylim=(-1.5, 4.5), title=r"$f(u) = \sup_t \,[t u - f^*(t)]$")
    ax_t.legend(fontsize=7, loc="upper left")
    generators = {
        "KL: $u \\log u$": u * np.log(u),
        "reverse KL: $-\\log u$": -np.log(u),
        "JS": 0.5 * (u * np.log(u) - (u + 1) * np.log((u + 1) / 2)),
        "Pearson $\\chi^2$: $(u - 1)^2$": (u - 1) ** 2,
        "TV: $\\frac{1}{2}|u - 1|$": 0.5 * np.abs(u - 1),
    }
    for (name, values), colour in zip(generators.items(), ("C0", "C3", "C2", "C4", "C1")):
        ax_f.plot(u, values, color=colour, label=name)
    ax_f.axvline(1, color="grey", linewidth=0.5)
    ax_f.set(xlabel="$u$", ylim=(-0.8, 3.2), title="generators $f$ of the table: convex, $f(1) = 0$")
    ax_f.legend(fontsize=6.5, loc="upper center", ncol=2, handlelength=1.2, columnspacing=0.8)
    for ax in (ax_t, ax_f):
        ax.tick_params(labelsize=7)
        ax.title.set_fontsize(9)
    fig.tight_layout()
    return fig


def frechet(x: np.ndarray, y: np.ndarray) -> float:
    """Fréchet distance of Gaussian fits to two samples (N, d), as ``dgm.metrics.fid`` computes it, in numpy."""
    mu_x, mu_y, cov_x, cov_y = x.mean(0), y.mean(0), np.cov(x.T), np.cov(y.T)
    values, vectors = np.linalg.eigh(cov_x)
    root = vectors @ np.diag(np.sqrt(values.clip(0))) @ vectors.T
    cross = np.sqrt(np.linalg.eigvalsh(root @ cov_y @ root).clip(0)).sum()
    return float(np.sum((mu_x - mu_y) ** 2) + np.trace(cov_x) + np.trace(cov_y) - 2 * cross)


def fid_bias() -> plt.Figure:
    """FID of Gaussians in d = 16: the plug-in estimate against the closed form, and a ranking that flips with N.

    Left: N(0, I) against N(delta e_1, I), closed form delta^2, estimates from N samples (8 repeats).
    Right: model A = N(0.7 e_1, I) (FID 0.49) and model B = N(0, 0.8^2 I) (FID 0.64) against data N(0, I), means
    of 40 repeats; the estimates are nearly linear in 1/N, and the line through them extrapolates to the
    N -> infinity value (stars).
    """
    rng = np.random.default_rng(0)
    d = 16

    def estimates(n: int, mean: np.ndarray, scale: float, repeats: int = 8) -> np.ndarray:
        return np.array([frechet(rng.standard_normal((n, d)), mean + scale * rng.standard_normal((n, d)))
                         for _ in range(repeats)])

    fig, (ax_s, ax_n) = plt.subplots(1, 2, figsize=(7.0, 2.4))
    deltas = np.linspace(0, 1.8, 7)
    ax_s.plot(deltas, deltas**2, color="black", label=r"closed form $\|\mu_1 - \mu_2\|^2 = \delta^2$")
    for n, colour in ((100, "C3"), (1000, "C0")):
        values = np.array([estimates(n, np.eye(d)[0] * delta, 1.0) for delta in deltas])
        ax_s.errorbar(deltas, values.mean(1), yerr=values.std(1), fmt="o", color=colour, markersize=3, capsize=2,
                      label=f"estimate, $N = {n}$")
    ax_s.set(xlabel=r"mean shift $\delta$", ylabel="FID", title=r"$\mathcal{N}(0, I_{16})$ vs $\mathcal{N}(\delta e_1, I_{16})$")
    ax_s.legend(fontsize=7, loc="upper left")

    sizes = np.array([50, 100, 200, 400, 800, 1600])
    for name, mean, scale, exact, colour in (("A: shifted mean", np.eye(d)[0] * 0.7, 1.0, 0.49, "C2"),
                                             ("B: too narrow", np.zeros(d), 0.8, 16 * 0.2**2, "C1")):
        values = np.array([estimates(n, mean, scale, repeats=40).mean() for n in sizes])
        slope, intercept = np.polyfit(1 / sizes, values, 1)
        grid = np.linspace(0, 1 / sizes.min(), 50)
        ax_n.plot(1 / sizes, values, "o", color=colour, markersize=3, label=f"{name}: FID $= {exact:.2f}$")
        ax_n.plot(grid, intercept + slope * grid, color=colour, linewidth=0.8)
        ax_n.plot(0, exact, "*", color=colour, markersize=8)
    ax_n.set(xlabel="$1 / N$", ylabel="mean estimate", title="ranking depends on $N$; extrapolate to $1/N = 0$")
    ax_n.legend(fontsize=7, loc="upper left")
    for ax in (ax_s, ax_n):
        ax.tick_params(labelsize=7)
        ax.title.set_fontsize(9)
    fig.tight_layout()
    return fig


def truncated_normal(rng: np.random.Generator, shape: tuple, threshold: float | None) -> np.ndarray:
    """N(0, I) with every coordinate of magnitude above the threshold resampled (BigGAN's truncation trick)."""
    z = rng.standard_normal(shape)
    if threshold is None:
        return z
    outside = np.abs(z) > threshold
    while outside.any():
        z[outside] = rng.standard_normal(outside.sum())
        outside = np.abs(z) > threshold
    return z


def toy_generator(z: np.ndarray) -> np.ndarray:
    """A hand-made 'trained' generator for the eight Gaussians: z in R^4 -> R^2.

    The angle of (z_1, z_2) picks a mode through a steep staircase (most samples land on a mode, some on the arcs
    between modes); (z_3, z_4) spread the samples 2.5 times wider than the data's modes.
    """
    sector = np.arctan2(z[:, 1], z[:, 0]) / (np.pi / 4)
    nearest = np.round(sector)
    offset = sector - nearest  # in [-1/2, 1/2]
    angle = (nearest + np.sign(offset) * 0.5 * np.abs(2 * offset) ** 8) * np.pi / 4
    return 2.0 * np.stack([np.cos(angle), np.sin(angle)], 1) + 0.05 * z[:, 2:4]


def truncation_precision_recall() -> plt.Figure:
    """Precision and recall (k = 3 nearest neighbours) of the toy generator against the truncation threshold."""
    real = toy2d("eight_gaussians", 1000, seed=0).double()
    thresholds = [None, 2.0, 1.5, 1.0, 0.7, 0.5, 0.4, 0.3, 0.2, 0.1]
    samples, precision, recall = {}, [], []
    for threshold in thresholds:
        fake = toy_generator(truncated_normal(np.random.default_rng(1), (1000, 4), threshold))
        samples[threshold] = fake
        p, r = precision_recall(real, torch.from_numpy(fake), k=3)
        precision.append(p)
        recall.append(r)

    fig, axes = plt.subplots(1, 3, figsize=(7.6, 2.5), gridspec_kw={"width_ratios": [1, 1, 1.35]})
    ax_ring, ax_zoom, ax_pr = axes
    real_np = real.numpy()
    ax_ring.scatter(*samples[None].T, s=1, color="C3", alpha=0.5)
    ax_ring.scatter(*real_np.T, s=1, color="C0")
    ax_ring.add_patch(plt.Rectangle((1.85, -0.15), 0.3, 0.3, fill=False, color="black", linewidth=0.6))
    ax_ring.set(xlim=(-2.5, 2.5), ylim=(-2.5, 2.5), aspect="equal", xticks=[], yticks=[],
                title="data (blue), samples (red)")

    radii = nearest_distances(real, real, k=3, exclude_self=True).numpy()
    near = np.abs(real_np - [2.0, 0.0]).max(1) < 0.15
    for centre, radius in zip(real_np[near], radii[near]):
        ax_zoom.add_patch(Circle(centre, radius, color="C0", alpha=0.25, linewidth=0))
    ax_zoom.scatter(*real_np[near].T, s=2, color="C0", label="data, with 3-NN balls")
    for threshold, colour, marker in ((None, "C3", "x"), (0.4, "C2", "+")):
        fake = samples[threshold]
        inside = np.abs(fake - [2.0, 0.0]).max(1) < 0.15
        label = "no truncation" if threshold is None else rf"threshold ${threshold}$"
        ax_zoom.scatter(*fake[inside].T, s=8, color=colour, marker=marker, linewidth=0.6, label=label)
    ax_zoom.set(xlim=(1.85, 2.15), ylim=(-0.15, 0.15), aspect="equal", xticks=[], yticks=[], title="one mode, zoomed")
    ax_zoom.legend(fontsize=5.5, loc="lower left", ncol=1, framealpha=0.85, borderpad=0.3)

    x_values = [3.0 if t is None else t for t in thresholds]
    ax_pr.plot(x_values, precision, "o-", color="C2", markersize=3, label="precision (fidelity)")
    ax_pr.plot(x_values, recall, "s-", color="C4", markersize=3, label="recall (diversity)")
    ax_pr.set_xticks([0.1, 0.5, 1.0, 1.5, 2.0, 3.0], ["0.1", "0.5", "1", "1.5", "2", r"$\infty$"])
    ax_pr.invert_xaxis()
    ax_pr.set(xlabel=r"truncation threshold (stronger $\rightarrow$)", ylim=(0, 1.05), title="precision and recall, $k = 3$")
    ax_pr.legend(fontsize=7, loc="lower left")
    for ax in axes:
        ax.tick_params(labelsize=7)
        ax.title.set_fontsize(9)
    fig.tight_layout()
    return fig


FIGURES = {  # file name (PDF) -> function that draws it
    "optimal_critic_1d": optimal_critic_1d,
    "conjugate_tangents": conjugate_tangents,
    "fid_bias": fid_bias,
    "truncation_precision_recall": truncation_precision_recall,
}
