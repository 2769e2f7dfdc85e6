"""Figures of lecture 4, drawn with fixed seeds; ``lectures/build.py`` saves each entry of FIGURES as a PDF."""

import matplotlib.pyplot as plt
import numpy as np
from scipy.optimize import minimize

# --------------------------------------------------------------------------------------------------
# Gradient estimators of d/dmu E_{N(z | mu, 1)} z^2 = 2 mu


def score_function_estimates(mu: float, eps: np.ndarray, baseline: float = 0.0) -> np.ndarray:
    """REINFORCE: (f(z) - b) d/dmu log N(z | mu, 1) = (f(z) - b)(z - mu), with f(z) = z^2 and z = mu + eps."""
    z = mu + eps
    return (z**2 - baseline) * (z - mu)


def reparametrised_estimates(mu: float, eps: np.ndarray) -> np.ndarray:
    """Pathwise: d/dmu f(mu + eps) = f'(z) = 2 z."""
    return 2 * (mu + eps)


def gradient_variance() -> plt.Figure:
    """Per-sample variance as a function of mu (analytic and sampled), and the spread of S-sample averages at mu = 1."""
    rng = np.random.default_rng(0)
    mus = np.linspace(-2, 2, 201)
    analytic = {
        "score function": mus**4 + 14 * mus**2 + 15,
        "score function, baseline $b = \\mu^2 + 1$": 8 * mus**2 + 10,
        "reparametrisation": np.full_like(mus, 4.0),
    }
    fig, (ax_mu, ax_s) = plt.subplots(1, 2, figsize=(8.4, 2.9))
    for (label, variance), colour in zip(analytic.items(), ("C0", "C1", "C2")):
        ax_mu.plot(mus, variance, color=colour, label=label)
    for mu in (-1.5, -0.5, 0.5, 1.5):
        eps = rng.standard_normal(20_000)
        sampled = [score_function_estimates(mu, eps).var(), score_function_estimates(mu, eps, mu**2 + 1).var(),
                   reparametrised_estimates(mu, eps).var()]
        for value, colour in zip(sampled, ("C0", "C1", "C2")):
            ax_mu.plot(mu, value, "o", color=colour, markersize=3)
    ax_mu.set(yscale="log", xlabel=r"$\mu$", ylabel="variance of one sample", title=r"lines: formulas, dots: $2\cdot 10^4$ samples")
    ax_mu.legend(fontsize=6.5, loc="upper center")

    mu, sizes, repeats = 1.0, np.array([1, 3, 10, 30, 100, 300, 1000]), 2000
    for estimator, colour, variance in [(lambda e: score_function_estimates(mu, e), "C0", 30.0),
                                        (lambda e: score_function_estimates(mu, e, mu**2 + 1), "C1", 18.0),
                                        (lambda e: reparametrised_estimates(mu, e), "C2", 4.0)]:
        spread = [estimator(rng.standard_normal((repeats, s))).mean(1).std() for s in sizes]
        ax_s.plot(sizes, spread, "o", color=colour, markersize=3)
        ax_s.plot(sizes, np.sqrt(variance / sizes), color=colour, linewidth=0.8)
    ax_s.axhline(0.1 * 2 * mu, color="grey", linestyle=":", linewidth=0.8)
    ax_s.text(1, 0.2 * 1.1, "10% of the gradient", fontsize=7, color="grey")
    ax_s.set(xscale="log", yscale="log", xlabel="samples $S$", ylabel="std of the $S$-sample estimate",
             title=r"$\mu = 1$: lines $\sqrt{\mathrm{Var}/S}$, dots: 2000 repeats")
    for ax in (ax_mu, ax_s):
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------------
# A toy latent variable model with a banana-shaped posterior:
# p(z) = N(0, I) on R^2, p(x | z) = N(x | z_2 + z_1^2, s^2) with x in R.

NOISE = 0.5
GRID = np.linspace(-4, 4, 401)
HERMITE_T, HERMITE_W = np.polynomial.hermite.hermgauss(40)


def log_joint(x: float, z: np.ndarray) -> np.ndarray:
    """log p(x, z) for points z (..., 2)."""
    log_prior = -0.5 * (z**2).sum(-1) - np.log(2 * np.pi)
    mean = z[..., 1] + z[..., 0] ** 2
    return log_prior - 0.5 * ((x - mean) / NOISE) ** 2 - np.log(NOISE * np.sqrt(2 * np.pi))


def grid_points() -> np.ndarray:
    return np.stack(np.meshgrid(GRID, GRID, indexing="xy"), -1)  # (401, 401, 2)


def log_evidence(x: float) -> float:
    """log p(x) by quadrature on the grid (the posterior's mass lies well inside [-4, 4]^2)."""
    cell = (GRID[1] - GRID[0]) ** 2
    values = log_joint(x, grid_points())
    return float(np.log(np.exp(values - values.max()).sum() * cell) + values.max())


def elbo_of_gaussian(x: float, params: np.ndarray) -> float:
    """ELBO of q = N(mu, diag sigma^2), params = (mu_1, mu_2, log sigma_1, log sigma_2), by Gauss-Hermite quadrature."""
    mu, log_sigma = params[:2], params[2:]
    nodes = np.sqrt(2) * np.stack(np.meshgrid(HERMITE_T, HERMITE_T, indexing="ij"), -1)  # (40, 40, 2)
    weights = np.outer(HERMITE_W, HERMITE_W) / np.pi
    expected_log_joint = (weights * log_joint(x, mu + np.exp(log_sigma) * nodes)).sum()
    entropy = log_sigma.sum() + np.log(2 * np.pi * np.e)
    return float(expected_log_joint + entropy)


def best_gaussian(x: float, start: tuple[float, float]) -> np.ndarray:
    """The diagonal Gaussian that maximises the ELBO, i.e. minimises KL(q || p(z | x)), started at mean `start`."""
    result = minimize(lambda p: -elbo_of_gaussian(x, p), np.array([*start, -0.5, -0.5]), method="BFGS")
    return result.x


OBSERVATIONS = [(-1.5, (0.1, -1.0)), (0.5, (0.1, 0.0)), (3.0, (1.2, 1.0))]  # (x, where the fit starts)


def encoder_posteriors() -> plt.Figure:
    """True posteriors p(z | x) of the toy model for three x, and the best diagonal Gaussians q(z | x)."""
    points = grid_points()
    angle = np.linspace(0, 2 * np.pi, 200)
    fig, axes = plt.subplots(1, 3, figsize=(8.4, 2.9))
    for ax, (x, start) in zip(axes, OBSERVATIONS):
        log_posterior = log_joint(x, points) - log_evidence(x)
        ax.contourf(GRID, GRID, np.exp(log_posterior), levels=12, cmap="Blues")
        params = best_gaussian(x, start)
        mu, sigma = params[:2], np.exp(params[2:])
        for radius in (1, 2):
            ax.plot(mu[0] + radius * sigma[0] * np.cos(angle), mu[1] + radius * sigma[1] * np.sin(angle), color="C1", linewidth=1)
        ax.plot(2 * np.cos(angle), 2 * np.sin(angle), color="grey", linestyle=":", linewidth=0.8)
        gap = log_evidence(x) - elbo_of_gaussian(x, params)
        ax.set(title=f"$x = {x}$: gap KL = {gap:.2f} nats", xlim=(-3.2, 3.2), ylim=(-3.2, 3.2), aspect="equal",
               xlabel="$z_1$", ylabel="$z_2$")
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


def iwae_bound() -> plt.Figure:
    """L_S = E log (1/S) sum_s p(x, z_s) / q(z_s | x) against S for the toy model at x = 0.5, q the best diagonal Gaussian."""
    rng = np.random.default_rng(0)
    x, start = OBSERVATIONS[1]
    params = best_gaussian(x, start)
    mu, sigma = params[:2], np.exp(params[2:])
    sizes, repeats = np.array([1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]), 2000
    means, errors = [], []
    for s in sizes:
        z = mu + sigma * rng.standard_normal((repeats, s, 2))
        log_q = (-0.5 * ((z - mu) / sigma) ** 2 - np.log(sigma * np.sqrt(2 * np.pi))).sum(-1)
        log_w = log_joint(x, z) - log_q  # (repeats, S)
        top = log_w.max(1, keepdims=True)
        estimates = np.log(np.exp(log_w - top).mean(1)) + top[:, 0]
        means.append(estimates.mean())
        errors.append(estimates.std() / np.sqrt(repeats))
    fig, ax = plt.subplots(figsize=(5.6, 2.6))
    ax.errorbar(sizes, means, yerr=2 * np.array(errors), fmt="o-", markersize=3, label=r"$\mathcal{L}_S$ ($\pm 2$ s.e.)")
    ax.axhline(log_evidence(x), color="black", linestyle="--", linewidth=0.8, label=r"$\log p(x)$ (quadrature)")
    ax.axhline(elbo_of_gaussian(x, params), color="C1", linestyle=":", label=r"ELBO $= \mathcal{L}_1$ (quadrature)")
    ax.set(xscale="log", xlabel="samples $S$", ylabel="nats")
    ax.legend(fontsize=7, loc="lower right")
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


FIGURES = {  # file name (PDF) -> function that draws it
    "gradient_variance": gradient_variance,
    "encoder_posteriors": encoder_posteriors,
    "iwae_bound": iwae_bound,
}
