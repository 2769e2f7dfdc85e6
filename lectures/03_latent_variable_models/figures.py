"""Figures of lecture 3, drawn with fixed seeds; ``lectures/build.py`` saves each entry of FIGURES as a PDF."""

import matplotlib.pyplot as plt
import numpy as np


def normal_pdf(x: np.ndarray, mean: float | np.ndarray, std: float | np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * ((x - mean) / std) ** 2) / (std * np.sqrt(2 * np.pi))


def forward_and_reverse_kl() -> plt.Figure:
    """One Gaussian fitted to a two-component mixture: forward KL covers both modes, reverse KL picks one."""
    x = np.linspace(-8, 8, 4001)
    dx = x[1] - x[0]
    target = 0.5 * normal_pdf(x, -2.5, 0.8) + 0.5 * normal_pdf(x, 2.5, 0.8)
    # Forward KL(pi || q) over Gaussians q is minimised by matching moments.
    mean = (x * target).sum() * dx
    forward = normal_pdf(x, mean, np.sqrt(((x - mean) ** 2 * target).sum() * dx))
    # Reverse KL(q || pi): grid search over (mean, std) with quadrature.
    best, reverse = np.inf, None
    for m in np.linspace(-4, 4, 161):
        for s in np.linspace(0.3, 4, 75):
            q = normal_pdf(x, m, s)
            kl = (q * (np.log(np.maximum(q, 1e-300)) - np.log(np.maximum(target, 1e-300)))).sum() * dx
            if kl < best:
                best, reverse = kl, q
    fig, ax = plt.subplots(figsize=(6, 2.6))
    ax.fill_between(x, target, color="lightgrey", label=r"$\pi(x)$")
    ax.plot(x, forward, label=r"$\arg\min_q \mathrm{KL}(\pi \,\|\, q)$: mode covering")
    ax.plot(x, reverse, label=r"$\arg\min_q \mathrm{KL}(q \,\|\, \pi)$: mode seeking")
    ax.set(xlabel="$x$", xlim=(-7, 7))
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig


def em_lower_bound() -> plt.Figure:
    """Mixture 0.5 N(-theta, 1) + 0.5 N(theta, 1): log-likelihood and the ELBO built at theta_old (the E-step)."""
    rng = np.random.default_rng(0)
    data = np.where(rng.random(40) < 0.5, -1.0, 1.0) * 1.5 + rng.standard_normal(40)
    thetas = np.linspace(0.0, 3.0, 400)

    def components(theta):  # joint densities p(x, z | theta) for z = 0 (mean -theta) and z = 1 (mean theta)
        return 0.5 * normal_pdf(data[:, None], -theta, 1), 0.5 * normal_pdf(data[:, None], theta, 1)

    def log_likelihood(theta):
        left, right = components(theta)
        return np.log(left + right).sum(0)

    theta_old = 0.4
    left, right = components(np.array([theta_old]))
    q = right / (left + right)  # E-step: q(z = 1) = p(z = 1 | x, theta_old)

    def elbo(theta):  # E_q log p(x, z | theta) - E_q log q(z)
        l, r = components(theta)
        entropy = -(q * np.log(q) + (1 - q) * np.log(1 - q))
        return (q * np.log(r) + (1 - q) * np.log(l) + entropy).sum(0)

    theta_new = thetas[np.argmax(elbo(thetas))]
    fig, ax = plt.subplots(figsize=(6, 2.8))
    ax.plot(thetas, log_likelihood(thetas), label=r"$\log p(X \mid \theta)$")
    ax.plot(thetas, elbo(thetas), label=r"$\mathcal{L}(q, \theta)$, $q = p(Z \mid X, \theta_{\mathrm{old}})$")
    ax.set(xlabel=r"$\theta$", ylim=(log_likelihood(thetas).max() - 40, log_likelihood(thetas).max() + 3))
    for value, name in [(theta_old, r"$\theta_{\mathrm{old}}$"), (theta_new, r"$\theta_{\mathrm{new}}$")]:
        ax.axvline(value, color="grey", linestyle=":")
        ax.text(value, ax.get_ylim()[0], name, ha="center", va="bottom", fontsize=8)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


FIGURES = {"forward_reverse_kl": forward_and_reverse_kl, "em_lower_bound": em_lower_bound}  # file name (PDF) -> function that draws it
