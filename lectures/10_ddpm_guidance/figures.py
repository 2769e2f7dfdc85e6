"""Figures of lecture 10, drawn with fixed seeds; ``lectures/build.py`` saves each entry of FIGURES as a PDF.

Every figure uses exact quantities, no trained network: the data are a two-class mixture of Gaussians on the
real line, so the noised densities q_t, the scores, the noise predictions eps*(x_t, t, y) = -sqrt(1 - abar_t)
grad log q_t(x_t | y) and the classifiers p_t(y | x_t) all have closed forms. Schedules follow Ho et al. (2020),
T = 1000, beta_t linear from 1e-4 to 0.02, and Nichol & Dhariwal (2021) for the cosine one.
"""

import matplotlib.pyplot as plt
import numpy as np
from dgm.plots import slide_style as style

T = 1000
BETA = np.linspace(1e-4, 0.02, T)  # beta_1, ..., beta_T at indices 0, ..., T - 1
ALPHA = 1 - BETA
ABAR = np.cumprod(ALPHA)
ABAR_PREV = np.concatenate([[1.0], ABAR[:-1]])
TBETA = (1 - ABAR_PREV) / (1 - ABAR) * BETA  # posterior variance, tilde beta_1 = 0

# Two classes with p(y) = 1/2: y = 0 is N(-1, 0.7^2), y = 1 is 0.5 N(0.8, 0.5^2) + 0.5 N(3, 0.5^2).
# Each class is a list of (weight, mean, standard deviation).
CLASSES = {0: [(1.0, -1.0, 0.7)], 1: [(0.5, 0.8, 0.5), (0.5, 3.0, 0.5)]}
PRIOR = {0: 0.5, 1: 0.5}


def cosine_abar(s: float = 0.008) -> np.ndarray:
    """abar_t = f(t) / f(0), f(t) = cos^2((t / T + s) / (1 + s) pi / 2), with beta_t clipped at 0.999; t = 1..T."""
    t = np.arange(T + 1)
    f = np.cos((t / T + s) / (1 + s) * np.pi / 2) ** 2
    beta = np.clip(1 - f[1:] / f[:-1], 0, 0.999)
    return np.cumprod(1 - beta)


def normal_pdf(x: np.ndarray, mean: float, std: float) -> np.ndarray:
    return np.exp(-0.5 * ((x - mean) / std) ** 2) / (np.sqrt(2 * np.pi) * std)


def class_density(x: np.ndarray, abar: float, y: int) -> tuple[np.ndarray, np.ndarray]:
    """q_t(x | y) and its derivative in x, for x_t = sqrt(abar) x_0 + sqrt(1 - abar) eps, x_0 ~ p(x_0 | y)."""
    density, slope = np.zeros_like(x), np.zeros_like(x)
    for weight, mean, std in CLASSES[y]:
        m, var = np.sqrt(abar) * mean, abar * std**2 + 1 - abar
        component = weight * normal_pdf(x, m, np.sqrt(var))
        density += component
        slope -= component * (x - m) / var
    return density, slope


def density(x: np.ndarray, abar: float, y: int | None = None) -> np.ndarray:
    """q_t(x | y), or the unconditional q_t(x) = sum_y p(y) q_t(x | y) for y = None."""
    if y is not None:
        return class_density(x, abar, y)[0]
    return sum(PRIOR[c] * class_density(x, abar, c)[0] for c in CLASSES)


def score(x: np.ndarray, abar: float, y: int | None = None) -> np.ndarray:
    """grad_x log q_t(x | y), or grad_x log q_t(x) for y = None."""
    if y is not None:
        value, slope = class_density(x, abar, y)
        return slope / value
    parts = [class_density(x, abar, c) for c in CLASSES]
    return sum(PRIOR[c] * s for c, (_, s) in zip(CLASSES, parts)) / sum(PRIOR[c] * v for c, (v, _) in zip(CLASSES, parts))


def posterior_class(x: np.ndarray, abar: float, y: int = 1) -> np.ndarray:
    """p_t(y | x_t) = p(y) q_t(x_t | y) / q_t(x_t), the exact noise-aware classifier."""
    return PRIOR[y] * density(x, abar, y) / density(x, abar)


def ancestral_sampling(n: int, seed: int, y: int | None = None, w: float = 0.0, keep: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """DDPM ancestral sampling (sigma_t^2 = tilde beta_t) with the exact eps, classifier-free guided for y given.

    eps_tilde = eps(x_t, t, null) + (1 + w) (eps(x_t, t, y) - eps(x_t, t, null)); y = None is the unconditional
    model. Returns the samples x_0 and the paths of the first ``keep`` particles, shape (T + 1, keep), x_T first.
    """
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    paths = [x[:keep].copy()]
    for t in range(T, 0, -1):
        i = t - 1
        b = np.sqrt(1 - ABAR[i])
        eps_null = -b * score(x, ABAR[i])
        eps = eps_null if y is None else eps_null + (1 + w) * (-b * score(x, ABAR[i], y) - eps_null)
        mean = (x - BETA[i] / b * eps) / np.sqrt(ALPHA[i])
        x = mean + np.sqrt(TBETA[i]) * rng.standard_normal(n) if t > 1 else mean
        paths.append(x[:keep].copy())
    return x, np.array(paths)


def snr_weights() -> plt.Figure:
    """The linear and cosine schedules, their SNR(t), and the weight each loss puts on ||x_0 - x0_hat||^2.

    With x_t fixed, eps - eps_hat = -sqrt(SNR) (x_0 - x0_hat) and v - v_hat = (eps - eps_hat) / sqrt(abar), so the
    eps-loss weighs the x_0-error by SNR(t), the v-loss by 1 + SNR(t); the ELBO's L_{t-1} (sigma_t^2 = tilde beta_t)
    by (SNR(t - 1) - SNR(t)) / 2.
    """
    t = np.arange(1, T + 1)
    abar_cos = cosine_abar()
    snr_lin, snr_cos = ABAR / (1 - ABAR), abar_cos / (1 - abar_cos)
    fig, (ax_a, ax_s, ax_w) = plt.subplots(1, 3, figsize=(7.6, 2.35))
    ax_a.plot(t, ABAR, color="C0", label="linear")
    ax_a.plot(t, abar_cos, color="C3", label="cosine")
    ax_a.set(xlabel="$t$", title=r"$\bar\alpha_t$ (signal kept)")
    ax_a.legend(fontsize=7)
    ax_s.semilogy(t, snr_lin, color="C0", label="linear")
    ax_s.semilogy(t, snr_cos, color="C3", label="cosine")
    ax_s.axhline(1, color="grey", linewidth=0.5)
    ax_s.set(xlabel="$t$", title=r"SNR$(t) = \bar\alpha_t / (1 - \bar\alpha_t)$")
    ax_s.legend(fontsize=7)
    elbo = 0.5 * (snr_lin[:-1] - snr_lin[1:])  # t = 2..T
    ax_w.semilogy(t[1:], elbo, color="black", label=r"ELBO: $\frac{1}{2}$(SNR$(t{-}1)$ $-$ SNR$(t)$)")
    ax_w.semilogy(t, snr_lin, color="C0", label=r"$\epsilon$-loss ($L_{\mathrm{simple}}$): SNR$(t)$")
    ax_w.semilogy(t, 1 + snr_lin, color="C2", linestyle="--", label=r"$v$-loss: $1 + $SNR$(t)$")
    ax_w.semilogy(t, np.ones_like(t, dtype=float), color="C1", label=r"$x_0$-loss: 1")
    ax_w.set(xlabel="$t$ (linear schedule)", title=r"weight on $\|x_0 - \hat{x}_0\|^2$")
    ax_w.legend(fontsize=5.5, loc="lower left")
    style([ax_a, ax_s, ax_w])
    fig.tight_layout()
    return fig


def tweedie_1d() -> plt.Figure:
    """Tweedie's formula on the mixture: q_t, E[x_0 | x_t] from the score and by quadrature, and its shrinkage."""
    times = [0, 100, 300, 600]
    colours = ["black", "C0", "C2", "C3"]
    x = np.linspace(-4.5, 5.5, 801)
    x0 = np.linspace(-6, 7, 4001)
    prior = density(x0, 1.0)
    fig, (ax_q, ax_m, ax_h) = plt.subplots(1, 3, figsize=(7.6, 2.4))
    for t, colour in zip(times, colours):
        abar = 1.0 if t == 0 else ABAR[t - 1]
        label = "$t = 0$: data $\\pi$" if t == 0 else rf"$t = {t}$, $\bar\alpha_t = {abar:.2f}$"
        ax_q.plot(x, density(x, abar), color=colour, label=label)
        if t == 0:
            continue
        a, b = np.sqrt(abar), np.sqrt(1 - abar)
        tweedie = (x + b**2 * score(x, abar)) / a
        ax_m.plot(x, tweedie, color=colour, label=rf"$t = {t}$")
        grid = x[::50]  # posterior means by quadrature over x_0, at a few points
        weights = prior[None, :] * normal_pdf(grid[:, None], a * x0[None, :], b)
        ax_m.plot(grid, weights @ x0 / weights.sum(1), "o", color=colour, markersize=2.5)
    ax_m.plot([], [], "o", color="grey", markersize=2.5, label="quadrature")
    ax_q.set(xlabel="$x$", title=r"noised densities $q_t(x)$")
    ax_q.legend(fontsize=6)
    mean = sum(PRIOR[c] * w * m for c in CLASSES for w, m, _ in CLASSES[c])
    ax_m.axhline(mean, color="grey", linewidth=0.6, linestyle=":", label=r"$\mathbb{E}\, x_0$")
    ax_m.set(xlabel="$x_t$", ylim=(-2.5, 4.5), title=r"$\mathbb{E}[x_0 \mid x_t]$: Tweedie (lines)")
    ax_m.legend(fontsize=6, loc="upper left")
    rng = np.random.default_rng(0)
    labels = rng.random(20000) < 0.5
    comp = rng.random(20000) < 0.5
    data = np.where(labels, np.where(comp, 0.8, 3.0) + 0.5 * rng.standard_normal(20000), -1.0 + 0.7 * rng.standard_normal(20000))
    bins = np.linspace(-3.5, 4.5, 81)
    ax_h.hist(data, bins=bins, density=True, color="0.75", label=r"$x_0 \sim \pi$")
    for t, colour in ((100, "C0"), (300, "C2")):
        abar = ABAR[t - 1]
        xt = np.sqrt(abar) * data + np.sqrt(1 - abar) * rng.standard_normal(data.size)
        denoised = (xt + (1 - abar) * score(xt, abar)) / np.sqrt(abar)
        ax_h.hist(denoised, bins=bins, density=True, histtype="step", color=colour, label=rf"$\mathbb{{E}}[x_0 \mid x_t]$, $t = {t}$")
    ax_h.set(xlabel="$x_0$", title="one-step denoising shrinks")
    ax_h.legend(fontsize=6, loc="upper left")
    style([ax_q, ax_m, ax_h])
    fig.tight_layout()
    return fig


def ancestral_1d() -> plt.Figure:
    """Ancestral sampling with the exact eps = -sqrt(1 - abar_t) grad log q_t: paths over q_t, and the samples."""
    samples, paths = ancestral_sampling(20000, seed=0, keep=25)
    x = np.linspace(-4, 5, 361)
    t_grid = np.arange(T + 1)  # t = 0 .. T
    abar = np.concatenate([[1.0], ABAR])
    image = np.array([density(x, a) for a in abar]).T  # (len(x), T + 1)
    fig, (ax_p, ax_h) = plt.subplots(1, 2, figsize=(7.2, 2.4), gridspec_kw={"width_ratios": [1.7, 1]})
    ax_p.imshow(image, origin="lower", aspect="auto", extent=(0, T, x[0], x[-1]), cmap="Blues", vmax=0.45)
    ax_p.plot(t_grid[::-1], paths, color="C3", linewidth=0.5, alpha=0.8)
    ax_p.set(xlim=(T, 0), xlabel=r"$t$, from $T$ down to 0", ylabel="$x_t$", title=r"paths $x_T \to x_0$ over $q_t(x)$")
    ax_h.hist(samples, bins=np.linspace(-4, 5, 91), density=True, color="C3", alpha=0.5, label="20000 samples")
    ax_h.plot(x, density(x, 1.0), color="black", linewidth=1, label=r"data $\pi$")
    ax_h.set(xlabel="$x_0$", title="samples against the data")
    ax_h.legend(fontsize=7)
    style([ax_p, ax_h])
    fig.tight_layout()
    return fig


def noisy_classifier() -> plt.Figure:
    """The exact noise-aware classifier p_t(y = 1 | x_t) and its gradient, which guidance adds to the score."""
    x = np.linspace(-4, 5, 721)
    fig, (ax_p, ax_g) = plt.subplots(1, 2, figsize=(4.4, 2.1))
    for t, colour in zip([0, 100, 300, 600], ["black", "C0", "C2", "C3"]):
        abar = 1.0 if t == 0 else ABAR[t - 1]
        post = posterior_class(x, abar)
        h = 1e-4
        grad = (np.log(posterior_class(x + h, abar)) - np.log(posterior_class(x - h, abar))) / (2 * h)
        ax_p.plot(x, post, color=colour, label=rf"$t = {t}$")
        ax_g.plot(x, grad, color=colour)
    ax_p.axhline(0.5, color="grey", linewidth=0.5)
    ax_p.set(xlabel="$x_t$", ylim=(0, 1.02), title=r"$p_t(y = 1 \mid x_t)$")
    ax_p.legend(fontsize=6.5, loc="lower right")
    ax_g.set(xlabel="$x_t$", ylim=(-0.5, 4.5), title=r"$\nabla_{x_t} \log p_t(y = 1 \mid x_t)$")
    style([ax_p, ax_g])
    fig.tight_layout()
    return fig


def tilted(x: np.ndarray, w: float, abar: float = 1.0) -> np.ndarray:
    """The tilted density q_t(x | y = 1) p_t(y = 1 | x)^w, normalised on the (uniform) grid x."""
    values = density(x, abar, 1) * posterior_class(x, abar) ** w
    return values / (values.sum() * (x[1] - x[0]))


def cfg_samples() -> plt.Figure:
    """Classifier-free guided ancestral sampling of class y = 1 with exact eps, against p(x | y) p(y | x)^w at t = 0."""
    x = np.linspace(-4, 5.5, 951)
    dx = x[1] - x[0]
    post = posterior_class(x, 1.0)
    fig, axes = plt.subplots(1, 4, figsize=(7.8, 2.3), gridspec_kw={"width_ratios": [1, 1, 1, 1.15]})
    runs = {}
    for w in (0.0, 0.5, 1.0, 2.0, 3.0, 5.0):
        runs[w] = ancestral_sampling(10000, seed=1, y=1, w=w)[0]
    for ax, w in zip(axes[:3], (0.0, 1.0, 3.0)):
        ax.plot(x, density(x, 1.0, 0) * 0.5, color="C0", linewidth=0.8, linestyle=":", label=r"$\frac{1}{2}\pi(x \mid y{=}0)$")
        ax.hist(runs[w], bins=np.linspace(-4, 5.5, 96), density=True, color="C3", alpha=0.45, label="guided samples")
        ax.plot(x, tilted(x, w), color="black", linewidth=1, label=r"$\propto \pi(x \mid y) p(y \mid x)^w$")
        ax.set(xlabel="$x_0$", ylim=(0, 0.75), title=rf"$w = {w:g}$" + (" (conditional)" if w == 0 else ""))
        if w == 0:
            ax.legend(fontsize=5.5, loc="upper left")
    ws = np.array(sorted(runs))
    purity = [np.interp(runs[w], x, post).mean() for w in ws]
    spread = [runs[w].std() for w in ws]
    purity_tilt = [np.sum(tilted(x, w) * post) * dx for w in ws]
    spread_tilt = []
    for w in ws:
        p = tilted(x, w)
        mean = np.sum(p * x) * dx
        spread_tilt.append(np.sqrt(np.sum(p * (x - mean) ** 2) * dx))
    ax = axes[3]
    ax.plot(ws, purity, "o-", color="C2", markersize=3, label=r"purity $\mathbb{E}\, p(y \mid x_0)$")
    ax.plot(ws, purity_tilt, color="C2", linestyle="--", linewidth=0.8)
    ax.plot(ws, spread, "s-", color="C4", markersize=3, label="std of $x_0$")
    ax.plot(ws, spread_tilt, color="C4", linestyle="--", linewidth=0.8)
    ax.plot([], [], color="grey", linestyle="--", linewidth=0.8, label="tilted density at $t = 0$")
    ax.set(xlabel="guidance $w$", ylim=(0.5, 1.3), title="guided samples (markers)")
    ax.legend(fontsize=5.5, loc="lower left")
    style(axes)
    fig.tight_layout()
    return fig


def tilted_vs_diffused() -> plt.Figure:
    """The tilted noised marginals are not the noised tilted data: p_t(x|y) p_t(y|x)^w against q_t applied to p_0^w."""
    x = np.linspace(-6, 7, 801)
    dx = x[1] - x[0]

    def diffused(w: float, abar: float) -> np.ndarray:
        """int p_0^w(x_0) q(x_t | x_0) dx_0 on the grid, p_0^w the tilted data density."""
        kernel = normal_pdf(x[:, None], np.sqrt(abar) * x[None, :], np.sqrt(1 - abar))
        values = kernel @ (tilted(x, w) * dx)
        return values / (values.sum() * dx)

    fig, (ax_d, ax_tv) = plt.subplots(1, 2, figsize=(5.2, 2.1))
    t, w = 300, 3.0
    abar = ABAR[t - 1]
    ax_d.plot(x, tilted(x, w, abar), color="C3", label=r"guidance: $\tilde p_t \propto p(x_t \mid y)\, p(y \mid x_t)^w$")
    ax_d.plot(x, diffused(w, abar), color="black", linestyle="--", label=r"$\tilde q_t = \int \tilde p_0(x_0 \mid y)\, q(x_t \mid x_0)\, dx_0$")
    ax_d.set(xlabel="$x_t$", xlim=(-4, 5), ylim=(0, 0.7), title=rf"$w = {w:g}$, $t = {t}$ ($\bar\alpha_t = {abar:.2f}$)")
    ax_d.legend(fontsize=5.5, loc="upper left")
    times = np.arange(0, T + 1, 25)
    for w, colour in ((1.0, "C0"), (3.0, "C3")):
        tv = []
        for t in times:
            abar = 1.0 if t == 0 else ABAR[t - 1]
            tv.append(0.5 * np.abs(tilted(x, w, abar) - (tilted(x, w) if t == 0 else diffused(w, abar))).sum() * dx)
        ax_tv.plot(times, tv, color=colour, label=rf"$w = {w:g}$")
    ax_tv.set(xlabel="$t$", title=r"total variation between $\tilde p_t$ and $\tilde q_t$")
    ax_tv.legend(fontsize=7)
    style([ax_d, ax_tv])
    fig.tight_layout()
    return fig


FIGURES = {  # file name (PDF) -> function that draws it
    "snr_weights": snr_weights,
    "tweedie_1d": tweedie_1d,
    "ancestral_1d": ancestral_1d,
    "noisy_classifier": noisy_classifier,
    "cfg_samples": cfg_samples,
    "tilted_vs_diffused": tilted_vs_diffused,
}
