"""Figures of lecture 6, drawn with fixed seeds; ``lectures/build.py`` saves each entry of FIGURES as a PDF."""

import matplotlib.pyplot as plt
import numpy as np
from scipy import stats
from scipy.special import expit


def data_density(x: np.ndarray) -> np.ndarray:
    """The 1D 'data' of the lecture: a mixture 0.5 N(-1.5, 0.6^2) + 0.5 N(1.8, 0.9^2)."""
    return 0.5 * stats.norm.pdf(x, -1.5, 0.6) + 0.5 * stats.norm.pdf(x, 1.8, 0.9)


def optimal_discriminator() -> plt.Figure:
    """Data pi (a mixture) and a model p = N(0.5, 1.2^2); D* = pi / (pi + p) and the ratio pi / p = D* / (1 - D*)."""
    x = np.linspace(-4.5, 5, 1000)
    pi, p = data_density(x), stats.norm.pdf(x, 0.5, 1.2)
    d_star = pi / (pi + p)
    fig, (ax_p, ax_d) = plt.subplots(1, 2, figsize=(7.2, 2.3))
    ax_p.fill_between(x, pi, color="C0", alpha=0.3, label=r"data $\pi(x)$")
    ax_p.plot(x, p, color="C3", label=r"model $p_{\theta}(x)$")
    ax_p.set(xlabel="$x$", title="densities")
    ax_p.legend(fontsize=8)
    ax_d.plot(x, d_star, color="C2", label=r"$D^*(x) = \pi / (\pi + p_{\theta})$")
    ax_d.axhline(0.5, color="grey", linestyle=":", linewidth=0.8)
    ax_d.set(xlabel="$x$", ylim=(0, 1.4), yticks=[0, 0.5, 1], ylabel="$D^*(x)$", title=r"optimal discriminator, log ratio")
    ax_r = ax_d.twinx()
    ax_r.plot(x, np.log(pi / p), color="C1", linestyle="--", label=r"$\log \frac{\pi}{p_{\theta}} = \log \frac{D^*}{1 - D^*}$")
    ax_r.set(ylim=(-6, 6))
    ax_r.tick_params(labelsize=7)
    lines = ax_d.get_lines()[:1] + ax_r.get_lines()
    ax_d.legend(lines, [line.get_label() for line in lines], fontsize=7.5, loc="upper center", ncol=2)
    for ax in (ax_p, ax_d):
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


def generator_losses() -> plt.Figure:
    """Minimax log(1 - D) against non-saturating -log D as functions of D = D(G(z)), and their slopes in the logit."""
    d = np.linspace(1e-3, 1 - 1e-3, 1000)
    fig, (ax_l, ax_g) = plt.subplots(1, 2, figsize=(6.4, 2.1))
    ax_l.plot(d, np.log1p(-d), color="C0", label=r"minimax: $\log(1 - D)$")
    ax_l.plot(d, -np.log(d), color="C3", label=r"non-saturating: $-\log D$")
    ax_l.axvspan(0, 0.1, color="grey", alpha=0.15)
    ax_l.text(0.25, 2.6, "early training:\n$D(G(z)) \\approx 0$", fontsize=7)
    ax_l.set(xlabel=r"$D(G(\mathbf{z}))$", ylim=(-5, 5), title="generator loss (minimised)")
    ax_l.legend(fontsize=7, loc="lower left")
    ax_g.plot(d, d, color="C0", label=r"minimax: $|\partial / \partial \ell| = D$")
    ax_g.plot(d, 1 - d, color="C3", label=r"non-saturating: $|\partial / \partial \ell| = 1 - D$")
    ax_g.axvspan(0, 0.1, color="grey", alpha=0.15)
    ax_g.set(xlabel=r"$D(G(\mathbf{z})) = \sigma(\ell)$", ylim=(0, 1.05),
             title=r"its slope in the logit $\ell$")
    ax_g.legend(fontsize=7, loc="lower center")
    for ax in (ax_l, ax_g):
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


def dirac_gan() -> plt.Figure:
    """Dirac-GAN: data delta_0, generator delta_theta, discriminator D(x) = sigma(psi x).

    V(theta, psi) = -log 2 + log sigma(-psi theta). Gradient descent in theta and ascent in psi: the continuous flow
    circles the equilibrium (0, 0), simultaneous steps spiral out, alternating steps cycle around it.
    """
    step, steps = 0.15, 300
    start = np.array([1.0, 0.0])

    def field(theta, psi):
        s = expit(psi * theta)
        return psi * s, -theta * s  # (d theta / dt, d psi / dt) = (-dV/dtheta, +dV/dpsi)

    simultaneous, alternating = [start], [start]
    for _ in range(steps):
        theta, psi = simultaneous[-1]
        dt, dp = field(theta, psi)
        simultaneous.append(np.array([theta + step * dt, psi + step * dp]))
        theta, psi = alternating[-1]
        theta = theta + step * psi * expit(psi * theta)
        psi = psi - step * theta * expit(psi * theta)
        alternating.append(np.array([theta, psi]))
    simultaneous, alternating = np.array(simultaneous), np.array(alternating)

    fig, ax = plt.subplots(figsize=(3.6, 3.2))
    grid = np.linspace(-2, 2, 15)
    tt, pp = np.meshgrid(grid, grid)
    u, v = field(tt, pp)
    ax.quiver(tt, pp, u, v, color="0.7", width=0.004)
    ax.plot(*simultaneous.T, color="C3", linewidth=1, label="simultaneous steps")
    ax.plot(*alternating.T, color="C0", linewidth=1, label="alternating steps")
    ax.plot(0, 0, "k*", markersize=8, label="equilibrium")
    ax.plot(*start, "ko", markersize=4)
    ax.set(xlabel=r"generator $\theta$", ylabel=r"discriminator $\psi$", xlim=(-2, 2), ylim=(-2, 2), aspect="equal")
    ax.legend(fontsize=7, loc="lower left", framealpha=0.9)
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


def parallel_lines() -> plt.Figure:
    """Arjovsky et al.'s example: P_0 uniform on {0} x [0, 1], P_theta on {theta} x [0, 1]; divergences against theta."""
    fig, (ax_s, ax_d) = plt.subplots(1, 2, figsize=(6.4, 2.2), gridspec_kw={"width_ratios": [1, 2]})
    rng = np.random.default_rng(0)
    z = rng.uniform(size=40)
    ax_s.plot(np.zeros(2), [0, 1], color="C0", linewidth=3, label=r"$\pi$: $(0, z)$")
    ax_s.plot(np.full(2, 0.7), [0, 1], color="C3", linewidth=3, label=r"$p_\theta$: $(\theta, z)$")
    for zz in z[:8]:
        ax_s.annotate("", xy=(0.68, zz), xytext=(0.02, zz), arrowprops=dict(arrowstyle="->", color="grey", linewidth=0.6))
    ax_s.text(0.35, 1.07, r"$\theta$", ha="center", fontsize=9)
    ax_s.set(xlim=(-0.4, 1.1), ylim=(-0.15, 1.2), xticks=[0, 0.7], xticklabels=["0", r"$\theta$"], yticks=[0, 1],
             title="supports, $z \\sim U[0, 1]$")
    ax_s.legend(fontsize=7, loc="lower right")
    theta = np.linspace(-1, 1, 401)
    nonzero = theta != 0
    ax_d.plot(theta, np.abs(theta), color="C2", label=r"$W_1 = |\theta|$")
    ax_d.plot(theta[nonzero & (theta < 0)], np.full((nonzero & (theta < 0)).sum(), np.log(2)), color="C0",
              label=r"$\mathrm{JSD} = \log 2$")
    ax_d.plot(theta[theta > 0], np.full((theta > 0).sum(), np.log(2)), color="C0")
    ax_d.plot(theta[theta < 0], np.ones((theta < 0).sum()), color="C1", linestyle="--", label=r"$\mathrm{TV} = 1$")
    ax_d.plot(theta[theta > 0], np.ones((theta > 0).sum()), color="C1", linestyle="--")
    ax_d.plot([0, 0, 0], [0, 0, 0], "ko", markersize=4, label=r"all $= 0$ at $\theta = 0$")
    ax_d.text(-0.97, 1.1, r"$\mathrm{KL} = +\infty$ for $\theta \neq 0$", fontsize=8, color="C4")
    ax_d.set(xlabel=r"$\theta$", ylim=(-0.05, 1.85), yticks=[0, 0.5, 1], title="distance between $\\pi$ and $p_\\theta$")
    ax_d.legend(fontsize=7, loc="upper center", ncol=4, handlelength=1.2, columnspacing=0.8)
    for ax in (ax_s, ax_d):
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


def wasserstein_1d() -> plt.Figure:
    """W1 on the line: the area between two CDFs, and the sorted (monotone) coupling of two samples of equal size."""
    x = np.linspace(-4.5, 6, 2000)
    F_pi = 0.5 * stats.norm.cdf(x, -1.5, 0.6) + 0.5 * stats.norm.cdf(x, 1.8, 0.9)
    F_p = stats.norm.cdf(x, 0.5, 1.2)
    w1 = np.sum(np.abs(F_pi - F_p)) * (x[1] - x[0])
    rng = np.random.default_rng(2)
    n = 12
    a = np.where(rng.uniform(size=n) < 0.5, rng.normal(-1.5, 0.6, n), rng.normal(1.8, 0.9, n))
    b = rng.normal(0.5, 1.2, n)
    fig, (ax_f, ax_c) = plt.subplots(1, 2, figsize=(7.0, 2.2))
    ax_f.plot(x, F_pi, color="C0", label=r"$F_{\pi}$")
    ax_f.plot(x, F_p, color="C3", label=r"$F_{p_\theta}$")
    ax_f.fill_between(x, F_pi, F_p, color="C2", alpha=0.3, label=rf"area $= W_1 \approx {w1:.2f}$")
    ax_f.set(xlabel="$x$", title=r"$W_1 = \int |F_{\pi}(x) - F_{p_\theta}(x)|\,dx$")
    ax_f.legend(fontsize=7.5, loc="upper left")
    sa, sb = np.sort(a), np.sort(b)
    ax_c.scatter(sa, np.ones(n), color="C0", s=18, zorder=3, label=r"$x_{(i)} \sim \pi$")
    ax_c.scatter(sb, np.zeros(n), color="C3", s=18, zorder=3, label=r"$y_{(i)} \sim p_\theta$")
    for xa, xb in zip(sa, sb):
        ax_c.plot([xa, xb], [1, 0], color="grey", linewidth=0.8)
    ax_c.set(ylim=(-0.4, 1.5), yticks=[], xlabel="$x$",
             title=rf"sorted coupling, $n = {n}$: mean $|x_{{(i)}} - y_{{(i)}}| = {np.abs(sa - sb).mean():.2f}$")
    ax_c.legend(fontsize=7.5, loc="upper left", ncol=2)
    for ax in (ax_f, ax_c):
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


FIGURES = {  # file name (PDF) -> function that draws it
    "optimal_discriminator": optimal_discriminator,
    "generator_losses": generator_losses,
    "dirac_gan": dirac_gan,
    "parallel_lines": parallel_lines,
    "wasserstein_1d": wasserstein_1d,
}
