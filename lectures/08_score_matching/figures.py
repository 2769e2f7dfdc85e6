"""Figures of lecture 8, drawn with fixed seeds; ``lectures/build.py`` saves each entry of FIGURES as a PDF.

Every score here is exact: the densities are Gaussian mixtures, whose score (and that of their noised versions,
pi * N(0, sigma^2 I), again mixtures) has a closed form. Only ``dsm_fit_1d`` fits a model, by least squares.
"""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import PowerNorm


def mixture(x: np.ndarray, weights, means, covs, sigma: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Log density and score of sum_k w_k N(mu_k, Sigma_k + sigma^2 I) at the points x (N, D).

    The score is the responsibility-weighted average of the component scores,
    grad log p(x) = sum_k gamma_k(x) (-(Sigma_k + sigma^2 I)^{-1} (x - mu_k)).
    """
    x = np.atleast_2d(x)
    dim = x.shape[1]
    logs, scores = [], []
    for w, mu, cov in zip(weights, means, covs):
        cov = np.atleast_2d(cov) + sigma**2 * np.eye(dim)
        precision = np.linalg.inv(cov)
        diff = x - np.asarray(mu, dtype=float)
        quad = np.einsum("ni,ij,nj->n", diff, precision, diff)
        logs.append(np.log(w) - 0.5 * quad - 0.5 * np.linalg.slogdet(2 * np.pi * cov)[1])
        scores.append(-diff @ precision)
    logs = np.stack(logs, 1)  # (N, K)
    top = logs.max(1, keepdims=True)
    log_p = top[:, 0] + np.log(np.exp(logs - top).sum(1))
    gamma = np.exp(logs - log_p[:, None])  # responsibilities (N, K)
    return log_p, np.einsum("nk,knd->nd", gamma, np.stack(scores))


def sample_mixture(rng: np.random.Generator, n: int, weights, means, covs) -> tuple[np.ndarray, np.ndarray]:
    """n points of the mixture and the index of the component each came from."""
    component = rng.choice(len(weights), size=n, p=weights)
    chol = [np.linalg.cholesky(np.atleast_2d(c)) for c in covs]
    means = np.asarray(means, dtype=float)
    noise = rng.standard_normal((n, means.shape[1]))
    points = np.stack([means[k] + chol[k] @ e for k, e in zip(component, noise)])
    return points, component


def langevin(rng: np.random.Generator, score, x: np.ndarray, eta: float, steps: int, keep: int = 0):
    """Unadjusted Langevin, x <- x + eta/2 score(x) + sqrt(eta) z: the end points, and the first `keep` steps of chains 0-3."""
    path = [x[:4].copy()]
    for _ in range(steps):
        x = x + 0.5 * eta * score(x) + np.sqrt(eta) * rng.standard_normal(x.shape)
        if len(path) <= keep:
            path.append(x[:4].copy())
    return x, np.stack(path) if keep else None


# A 2D mixture with three modes of different weights, sizes and orientations (figure langevin_mixture).
WEIGHTS = [0.5, 0.3, 0.2]
MEANS = [[-1.3, -0.2], [1.2, 1.0], [1.0, -1.4]]
COVS = [[[0.5, 0.25], [0.25, 0.4]], [[0.3, -0.08], [-0.08, 0.2]], [[0.16, 0.0], [0.0, 0.16]]]


def grid(lim: float, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    axis = np.linspace(-lim, lim, n)
    gx, gy = np.meshgrid(axis, axis)
    return gx, gy, np.stack([gx.ravel(), gy.ravel()], 1)


def style(axes) -> None:
    for ax in np.ravel(axes):
        ax.tick_params(labelsize=7)
        ax.title.set_fontsize(9)


def langevin_mixture() -> plt.Figure:
    """Langevin chains with the exact score of a 2D mixture: paths, end points, and the bias of a large step.

    2000 chains start uniformly on [-4, 4]^2 and take 1000 steps of eta = 0.05; four of them are drawn for their first
    150 steps. Right: the x_1-marginal of the end points for eta = 0.05 and eta = 0.3 against the exact marginal.
    """
    rng = np.random.default_rng(0)
    score = lambda x: mixture(x, WEIGHTS, MEANS, COVS)[1]
    gx, gy, points = grid(4, 200)
    density = np.exp(mixture(points, WEIGHTS, MEANS, COVS)[0]).reshape(gx.shape)
    start = rng.uniform(-4, 4, (2000, 2))
    start[:4] = [[-3.5, 3.5], [3.5, 3.5], [3.5, -3.5], [-3.5, -3.5]]
    small, paths = langevin(rng, score, start, eta=0.05, steps=1000, keep=150)
    large, _ = langevin(rng, score, start, eta=0.3, steps=1000)

    fig, (ax_p, ax_s, ax_m) = plt.subplots(1, 3, figsize=(7.6, 2.55), gridspec_kw={"width_ratios": [1, 1, 1.25]})
    for ax in (ax_p, ax_s):
        ax.contour(gx, gy, density, levels=8, colors="0.55", linewidths=0.6)
        ax.set(xlim=(-4, 4), ylim=(-4, 4), aspect="equal", xticks=[-4, 0, 4], yticks=[-4, 0, 4])
    for k in range(4):
        ax_p.plot(paths[:, k, 0], paths[:, k, 1], color=f"C{k}", linewidth=0.6)
        ax_p.plot(*paths[0, k], "o", color=f"C{k}", markersize=3)
    ax_p.set_title(r"four chains, 150 steps, $\eta = 0.05$")
    ax_s.scatter(*small.T, s=0.6, color="C3", alpha=0.6)
    shares = nearest_component(small)
    iid = nearest_component(sample_mixture(rng, 20000, WEIGHTS, MEANS, COVS)[0])
    ax_s.set_title("2000 chains after 1000 steps")
    ax_s.text(-3.8, 3.7, "nearest mode: " + " / ".join(f"{s:.2f}" for s in shares)
              + "\n(i.i.d. samples: " + " / ".join(f"{s:.2f}" for s in iid) + ")", fontsize=6.5, va="top")

    x1 = np.linspace(-4, 4, 400)
    marginal = sum(w * np.exp(-0.5 * (x1 - m[0]) ** 2 / c[0][0]) / np.sqrt(2 * np.pi * c[0][0])
                   for w, m, c in zip(WEIGHTS, MEANS, COVS))
    bins = np.linspace(-4, 4, 50)
    ax_m.hist(small[:, 0], bins=bins, density=True, color="C3", alpha=0.45, label=r"$\eta = 0.05$")
    ax_m.hist(large[:, 0], bins=bins, density=True, histtype="step", color="C0", linewidth=1.0, label=r"$\eta = 0.3$")
    ax_m.plot(x1, marginal, color="black", linewidth=1.0, label=r"exact $\pi(x_1)$")
    ax_m.set(xlabel="$x_1$", title="marginal of $x_1$: a large step is biased")
    ax_m.legend(fontsize=7, loc="upper left")
    style((ax_p, ax_s, ax_m))
    fig.tight_layout()
    return fig


def nearest_component(x: np.ndarray) -> np.ndarray:
    """The share of points whose most responsible component is k, for each k of the figure's mixture."""
    logs = []
    for w, mu, cov in zip(WEIGHTS, MEANS, COVS):
        diff = x - np.asarray(mu)
        precision = np.linalg.inv(cov)
        logs.append(np.log(w) - 0.5 * np.einsum("ni,ij,nj->n", diff, precision, diff) - 0.5 * np.log(np.linalg.det(cov)))
    owner = np.argmax(np.stack(logs, 1), 1)
    return np.bincount(owner, minlength=len(WEIGHTS)) / len(x)


def ring(n: int = 200, radius: float = 2.2, width: float = 0.03):
    """A distribution near a circle (a one-dimensional manifold in R^2): n equal Gaussians of std `width` on it."""
    angle = 2 * np.pi * np.arange(n) / n
    means = radius * np.stack([np.cos(angle), np.sin(angle)], 1)
    return [1 / n] * n, means, [width**2 * np.eye(2)] * n


def noised_scores() -> plt.Figure:
    """The density of q_sigma = pi * N(0, sigma^2 I) and the direction of its score at three noise levels.

    pi lies near a circle (width 0.03). Arrows have unit length and point along grad log q_sigma; their colour is
    log10 ||grad log q_sigma||. Dots: 200 data points.
    """
    rng = np.random.default_rng(0)
    weights, means, covs = ring()
    data, _ = sample_mixture(rng, 200, weights, means, covs)
    gx, gy, points = grid(4, 160)
    _, _, arrows = grid(3.6, 15)
    fig, axes = plt.subplots(1, 3, figsize=(7.0, 2.35), layout="constrained")
    for ax, sigma in zip(axes, (0.05, 0.4, 1.5)):
        log_q, _ = mixture(points, weights, means, covs, sigma)
        _, score = mixture(arrows, weights, means, covs, sigma)
        ax.imshow(np.exp(log_q).reshape(gx.shape), extent=(-4, 4, -4, 4), origin="lower", cmap="Greys",
                  norm=PowerNorm(0.5))
        length = np.linalg.norm(score, axis=1)
        ax.quiver(*arrows.T, *(score / length[:, None]).T, np.log10(length), cmap="viridis", clim=(-1, 3),
                  angles="xy", scale_units="xy", scale=2.6, width=0.007)
        ax.scatter(*data.T, s=0.8, color="C3")
        ax.set(xlim=(-4, 4), ylim=(-4, 4), aspect="equal", xticks=[], yticks=[], title=rf"$\sigma = {sigma}$")
    mappable = plt.cm.ScalarMappable(cmap="viridis", norm=plt.Normalize(-1, 3))
    bar = fig.colorbar(mappable, ax=axes, fraction=0.025, pad=0.01)
    bar.set_label(r"$\log_{10} \|\nabla \log q_\sigma\|$", fontsize=7)
    bar.ax.tick_params(labelsize=7)
    style(axes)
    return fig


def dsm_fit_1d() -> plt.Figure:
    """Denoising score matching with a linear-in-features model, fitted by least squares, at two noise levels.

    pi = 0.5 N(-2, 0.3^2) + 0.5 N(2, 0.3^2), 500 data points, 20 noise draws per point. The model is
    s(x) = sum_j theta_j exp(-(x - c_j)^2 / (2 * 0.35^2)) with 41 centres c_j on [-6, 6]; the DSM loss
    E ||s(x + sigma z) + z / sigma||^2 is quadratic in theta, minimised with a small ridge term (1e-6). Both curves are
    multiplied by sigma, so the two panels share a scale.
    """
    rng = np.random.default_rng(0)
    weights, means, covs = [0.5, 0.5], [[-2.0], [2.0]], [[[0.09]], [[0.09]]]
    data, _ = sample_mixture(rng, 500, weights, means, covs)
    centres = np.linspace(-6, 6, 41)
    features = lambda x: np.exp(-0.5 * (x.reshape(-1, 1) - centres) ** 2 / 0.35**2)
    x = np.linspace(-6, 6, 600)
    density = np.exp(mixture(x[:, None], weights, means, covs)[0])
    fig, axes = plt.subplots(1, 2, figsize=(7.0, 2.3), sharey=True)
    for ax, sigma in zip(axes, (0.1, 1.0)):
        z = rng.standard_normal((len(data), 20))
        noisy = (data + sigma * z).ravel()
        phi = features(noisy)
        theta = np.linalg.solve(phi.T @ phi / len(noisy) + 1e-6 * np.eye(len(centres)),
                                phi.T @ (-z.ravel() / sigma) / len(noisy))
        _, exact = mixture(x[:, None], weights, means, covs, sigma)
        ax.fill_between(x, 2 * density, color="C0", alpha=0.2, label=r"$\pi(x)$ (scaled)")
        ax.plot(x, sigma * exact[:, 0], color="black", linewidth=1.0, label=r"exact $\sigma \nabla \log q_\sigma(x)$")
        ax.plot(x, sigma * features(x) @ theta, color="C3", linewidth=1.0, label=r"DSM fit $\sigma s_\theta(x)$")
        ax.plot(data[:, 0], np.full(len(data), -3.3), "|", color="C0", markersize=4, alpha=0.3)
        ax.axhline(0, color="grey", linewidth=0.5)
        ax.set(xlabel="$x$", ylim=(-3.5, 3.5), title=rf"$\sigma = {sigma}$")
    axes[1].legend(fontsize=7, loc="upper right")
    style(axes)
    fig.tight_layout()
    return fig


def mode_weights() -> plt.Figure:
    """Plain against annealed Langevin dynamics with exact scores on pi = 0.2 N((-5, -5), I) + 0.8 N((5, 5), I).

    The setting of Song and Ermon (2019, Fig. 3): 2000 chains start uniformly on [-8, 8]^2. Plain: 1000 steps of
    eta = 0.1 with grad log pi. Annealed: 20 geometric noise levels from sigma = 20 to 0.1, 100 steps each with
    eta_i = 0.005 sigma_i^2 / sigma_L^2 and the exact score of q_sigma = 0.2 N(., (1 + sigma^2) I) + 0.8 N(., ...).
    """
    weights, means, covs = [0.2, 0.8], [[-5.0, -5.0], [5.0, 5.0]], [np.eye(2)] * 2
    rng = np.random.default_rng(0)
    iid, _ = sample_mixture(rng, 2000, weights, means, covs)
    start = rng.uniform(-8, 8, (2000, 2))
    plain, _ = langevin(rng, lambda x: mixture(x, weights, means, covs)[1], start, eta=0.1, steps=1000)
    annealed = start
    sigmas = np.geomspace(20, 0.1, 20)
    for sigma in sigmas:
        score = lambda x: mixture(x, weights, means, covs, sigma)[1]
        annealed, _ = langevin(rng, score, annealed, eta=0.005 * sigma**2 / sigmas[-1] ** 2, steps=100)

    fig, axes = plt.subplots(1, 3, figsize=(7.0, 2.5))
    panels = ((iid, "i.i.d. samples of $\\pi$"), (plain, "Langevin, $\\nabla \\log \\pi$"),
              (annealed, "annealed Langevin, 20 levels"))
    for ax, (points, title) in zip(axes, panels):
        ax.scatter(*points.T, s=0.5, color="C0", alpha=0.5)
        lower = np.mean(points.sum(1) < 0)
        ax.text(-7.6, 7.4, f"lower-left share {lower:.2f}", fontsize=7, va="top")
        ax.set(xlim=(-8, 8), ylim=(-8, 8), aspect="equal", xticks=[-5, 0, 5], yticks=[-5, 0, 5], title=title)
    style(axes)
    fig.tight_layout()
    return fig


def schedules(T: int = 1000) -> dict[str, np.ndarray]:
    """bar alpha_1..T of the linear schedule (Ho et al.) and of the cosine schedule (Nichol and Dhariwal)."""
    linear = np.cumprod(1 - np.linspace(1e-4, 0.02, T))
    f = np.cos((np.arange(T + 1) / T + 0.008) / 1.008 * np.pi / 2) ** 2
    beta = np.clip(1 - f[1:] / f[:-1], 0, 0.999)
    return {"linear": linear, "cosine": np.cumprod(1 - beta)}


def forward_marginals() -> plt.Figure:
    """q(x_t) of a 1D mixture along t for the linear and cosine schedules (T = 1000), and bar alpha_t of both.

    pi = 0.3 N(-1.2, 0.2^2) + 0.5 N(0.4, 0.15^2) + 0.2 N(1.5, 0.1^2) (variance 0.97). q(x_t) is exact:
    sum_k w_k N(sqrt(abar_t) mu_k, abar_t s_k^2 + 1 - abar_t). Five paths x_0 -> x_T are simulated on top.
    """
    weights, means, variances = np.array([0.3, 0.5, 0.2]), np.array([-1.2, 0.4, 1.5]), np.array([0.2, 0.15, 0.1]) ** 2
    x = np.linspace(-3.5, 3.5, 300)
    T = 1000
    fig, axes = plt.subplots(1, 3, figsize=(7.6, 2.4), gridspec_kw={"width_ratios": [1.2, 1.2, 1]})
    for ax, (name, abar) in zip(axes, schedules(T).items()):
        abar = np.concatenate([[1.0], abar])  # abar_0 = 1
        mean = np.sqrt(abar)[:, None] * means  # (T + 1, K)
        var = abar[:, None] * variances + 1 - abar[:, None]
        density = (weights * np.exp(-0.5 * (x[:, None, None] - mean) ** 2 / var) / np.sqrt(2 * np.pi * var)).sum(-1)
        ax.imshow(density, extent=(0, T, x[0], x[-1]), origin="lower", aspect="auto", cmap="magma",
                  norm=PowerNorm(0.4, vmin=0, vmax=2.5))
        rng = np.random.default_rng(1)
        path = np.array([rng.normal(means[k], np.sqrt(variances[k])) for k in (0, 1, 1, 2, 0)])
        paths = [path]
        alpha = abar[1:] / abar[:-1]
        for t in range(T):
            path = np.sqrt(alpha[t]) * path + np.sqrt(1 - alpha[t]) * rng.standard_normal(5)
            paths.append(path)
        ax.plot(np.arange(T + 1), np.array(paths), color="white", linewidth=0.35, alpha=0.8)
        ax.set(xlabel="$t$", ylabel="$x_t$", title=f"$q(x_t)$, {name} schedule")
    names = {"linear": "linear $\\beta_t$", "cosine": "cosine"}
    t = np.arange(1, T + 1)
    for (name, abar), colour in zip(schedules(T).items(), ("C0", "C3")):
        axes[2].plot(t, abar, color=colour, label=rf"$\bar\alpha_t$, {names[name]}")
        axes[2].plot(t, np.sqrt(abar), color=colour, linestyle="--", linewidth=0.8)
    axes[2].plot([], [], color="0.4", linestyle="--", linewidth=0.8, label=r"$\sqrt{\bar\alpha_t}$ (signal scale)")
    axes[2].set(xlabel="$t$", ylim=(0, 1.02), title="noise schedules, $T = 1000$")
    axes[2].legend(fontsize=6.5, loc="upper right")
    style(axes)
    fig.tight_layout()
    return fig


FIGURES = {  # file name (PDF) -> function that draws it
    "langevin_mixture": langevin_mixture,
    "noised_scores": noised_scores,
    "dsm_fit_1d": dsm_fit_1d,
    "mode_weights": mode_weights,
    "forward_marginals": forward_marginals,
}
