"""Figures of lecture 14, drawn with fixed seeds; ``lectures/build.py`` saves each entry of FIGURES as a PDF.

No figure trains a network. The flows of the coupling figures are the exact marginal fields of a finite coupling:
N pairs (x_0^k, x_1^k) with the conditional path N((1 - t) x_0^k + t x_1^k, SIGMA^2 I) (Tong et al.'s path with a
small constant width), whose marginal p_t = (1/N) sum_k N(mu_k(t), SIGMA^2 I) has the field
u_t(x) = sum_k w_k(x, t) (x_1^k - x_0^k), w = softmax_k(-|x - mu_k(t)|^2 / (2 SIGMA^2)): what a perfect network trained
on that coupling would learn. Time runs as in flow matching: t = 0 noise, t = 1 data. The diffusion figures use
Gaussian or Gaussian-mixture data, for which every score and posterior mean has a closed form.
"""

import matplotlib.pyplot as plt
import numpy as np
from scipy.optimize import linear_sum_assignment
from dgm.plots import slide_style as style

N_PAIRS = 128  # size of the coupling (one mini-batch)
SIGMA = 0.25  # width of the conditional paths
STEPS = 100  # RK4 steps for the reference trajectories


def eight_gaussians(n: int, rng: np.random.Generator) -> np.ndarray:
    """n points (n, 2) of eight Gaussians (std 0.15) on a circle of radius 3."""
    angle = rng.integers(0, 8, n) * np.pi / 4
    return 3 * np.stack([np.cos(angle), np.sin(angle)], 1) + 0.15 * rng.standard_normal((n, 2))


def field(x: np.ndarray, t: float, x0: np.ndarray, x1: np.ndarray) -> np.ndarray:
    """The marginal field u_t(x) (n, 2) of the coupling {(x0_k, x1_k)} (N, 2) with conditional width SIGMA."""
    centres = (1 - t) * x0 + t * x1  # mu_k(t): (N, 2)
    logits = -((x[:, None, :] - centres[None]) ** 2).sum(-1) / (2 * SIGMA**2)  # (n, N)
    weights = np.exp(logits - logits.max(1, keepdims=True))
    weights /= weights.sum(1, keepdims=True)
    return weights @ (x1 - x0)


def rk4_paths(x: np.ndarray, x0: np.ndarray, x1: np.ndarray, steps: int = STEPS) -> np.ndarray:
    """Trajectories (steps + 1, n, 2) of dx/dt = u_t(x) from t = 0 to 1 by classic RK4 (the reference solution)."""
    h, path = 1 / steps, [x]
    for i in range(steps):
        t = i * h
        k1 = field(x, t, x0, x1)
        k2 = field(x + h / 2 * k1, t + h / 2, x0, x1)
        k3 = field(x + h / 2 * k2, t + h / 2, x0, x1)
        k4 = field(x + h * k3, t + h, x0, x1)
        x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        path.append(x)
    return np.array(path)


def euler_end(x: np.ndarray, x0: np.ndarray, x1: np.ndarray, steps: int) -> np.ndarray:
    """The endpoint of ``steps`` Euler steps of dx/dt = u_t(x) from t = 0 (NFE = steps)."""
    for i in range(steps):
        x = x + field(x, i / steps, x0, x1) / steps
    return x


def straightness(path: np.ndarray, x0: np.ndarray, x1: np.ndarray) -> float:
    """S = E int_0^1 |(x(1) - x(0)) - u_t(x(t))|^2 dt along the trajectories, by the trapezoidal rule."""
    steps = len(path) - 1
    chord = path[-1] - path[0]
    gaps = np.array([((chord - field(path[i], i / steps, x0, x1)) ** 2).sum(-1) for i in range(steps + 1)])
    return float((0.5 * (gaps[:-1] + gaps[1:])).mean(0).mean())


def couplings():
    """Noise, data, the independent (random) pairing, the exact OT pairing, and starting points of the flows."""
    rng = np.random.default_rng(0)
    data = eight_gaussians(N_PAIRS, rng)
    noise = rng.standard_normal((N_PAIRS, 2))
    _, columns = linear_sum_assignment(((noise[:, None] - data[None]) ** 2).sum(-1))
    start = noise[rng.integers(0, N_PAIRS, 300)] + SIGMA * rng.standard_normal((300, 2))  # x(0) ~ p_0
    return noise, data, data[columns], start


def couplings_2d() -> plt.Figure:
    """Conditional lines of the independent and the OT pairing, and the trajectories of their marginal fields."""
    noise, data, data_ot, start = couplings()
    fig, axes = plt.subplots(1, 4, figsize=(7.8, 2.2))
    for ax, (x1, name) in zip(axes[:2], ((data, "independent"), (data_ot, "mini-batch OT"))):
        for k in range(0, N_PAIRS, 2):
            ax.plot([noise[k, 0], x1[k, 0]], [noise[k, 1], x1[k, 1]], color="C0", linewidth=0.4, alpha=0.6)
        cost = ((x1 - noise) ** 2).sum(1).mean()
        ax.set(title=f"{name} pairs\n" + rf"$\mathbb{{E}}\|x_1 - x_0\|^2 = {cost:.1f}$")
    for ax, (x1, name) in zip(axes[2:], ((data, "independent"), (data_ot, "mini-batch OT"))):
        path = rk4_paths(start, noise, x1)
        ax.plot(path[:, :60, 0], path[:, :60, 1], color="C3", linewidth=0.5, alpha=0.8)
        s = straightness(path, noise, x1)
        ax.set(title=f"{name}: flow of $u_t$\n$S = {s:.3f}$")
    for ax in axes:
        ax.scatter(*noise.T, s=2, color="black", zorder=3)
        ax.scatter(*data.T, s=2, color="C2", zorder=3)
        ax.set(xlim=(-4, 4), ylim=(-4, 4), aspect="equal", xticks=[], yticks=[])
    style(axes)
    fig.tight_layout()
    return fig


def straightness_nfe() -> plt.Figure:
    """Reflow: trajectories after one round, straightness per round, and the Euler error against NFE."""
    noise, data, data_ot, start = couplings()
    rng = np.random.default_rng(1)
    couplings_ = {"independent": (noise, data), "OT": (noise, data_ot)}
    for name in ("independent", "OT"):  # two rounds of reflow: pair fresh noise with its endpoint under the flow
        x0, x1 = couplings_[name]
        for round_ in (1, 2):
            z0 = rng.standard_normal((N_PAIRS, 2))
            x0, x1 = z0, rk4_paths(z0, x0, x1)[-1]
            couplings_[f"{name}, reflow {round_}"] = (x0, x1)
    paths = {name: rk4_paths(start, *pair) for name, pair in couplings_.items()}
    values = {name: straightness(paths[name], *couplings_[name]) for name in couplings_}
    fig, (ax_p, ax_s, ax_e) = plt.subplots(1, 3, figsize=(7.8, 2.4), gridspec_kw={"width_ratios": [1, 1.25, 1.25]})
    path = paths["independent, reflow 1"]
    ax_p.plot(path[:, :60, 0], path[:, :60, 1], color="C3", linewidth=0.5, alpha=0.8)
    ax_p.scatter(*path[-1].T, s=2, color="C2", zorder=3)
    ax_p.set(xlim=(-4, 4), ylim=(-4, 4), aspect="equal", xticks=[], yticks=[], title="independent, after one reflow")
    names = list(couplings_)
    order = ["independent", "independent, reflow 1", "independent, reflow 2", "OT", "OT, reflow 1", "OT, reflow 2"]
    colours = ["C0", "C0", "C0", "C1", "C1", "C1"]
    ax_s.bar(range(6), [values[n] for n in order], color=colours, alpha=0.8)
    ax_s.set_yscale("log")
    ax_s.set_xticks(range(6), ["ind.", "+1", "+2", "OT", "+1", "+2"])
    ax_s.set(title="straightness $S$ (reflow rounds)")
    nfe = np.array([1, 2, 4, 8, 16])
    for name, colour, mark in (("independent", "C0", "o-"), ("OT", "C1", "s-"), ("independent, reflow 1", "C3", "^-")):
        end = paths[name][-1]
        errors = [np.sqrt(((euler_end(start, *couplings_[name], n) - end) ** 2).sum(1)).mean() for n in nfe]
        ax_e.loglog(nfe, errors, mark, color=colour, markersize=3, label=name)
    ax_e.loglog(nfe, 1.5 / nfe, ":", color="grey", label=r"$\propto 1/\mathrm{NFE}$")
    ax_e.set(xlabel="NFE (Euler steps)", title="Euler endpoint error")
    ax_e.legend(fontsize=6)
    del names
    style([ax_p, ax_s, ax_e])
    fig.tight_layout()
    return fig


def conversions_1d() -> plt.Figure:
    """Score, noise and data predictions and the velocity of the linear path for Gaussian data, against Monte Carlo.

    Data x_1 ~ N(M, S^2), noise x_0 ~ N(0, 1), x_t = t x_1 + (1 - t) x_0. Lines: the exact score
    s = -(x - t M) / (t^2 S^2 + (1 - t)^2), converted: eps_hat = -(1 - t) s, x1_hat = (x + (1 - t)^2 s) / t,
    v = (x + (1 - t) s) / t. Dots: averages of x_0, x_1 and x_1 - x_0 over narrow bins of x_t (Monte Carlo).
    """
    m, s_data = 2.0, 0.5
    rng = np.random.default_rng(0)
    n = 400_000
    x1 = m + s_data * rng.standard_normal(n)
    x0 = rng.standard_normal(n)
    x = np.linspace(-2.5, 3.5, 241)
    fig, axes = plt.subplots(1, 4, figsize=(7.8, 2.1))
    for t, colour in ((0.2, "C0"), (0.5, "C2"), (0.8, "C3")):
        score = -(x - t * m) / (t**2 * s_data**2 + (1 - t) ** 2)
        curves = [score, -(1 - t) * score, (x + (1 - t) ** 2 * score) / t, (x + (1 - t) * score) / t]
        xt = t * x1 + (1 - t) * x0
        bins = np.linspace(-2.5, 3.5, 25)
        which = np.digitize(xt, bins)
        centres, means = [], []
        for b in range(1, len(bins)):
            inside = which == b
            if inside.sum() > 200:
                centres.append(xt[inside].mean())
                means.append([-x0[inside].mean() / (1 - t), x0[inside].mean(), x1[inside].mean(), (x1 - x0)[inside].mean()])
        means = np.array(means)
        for k, ax in enumerate(axes):
            ax.plot(x, curves[k], color=colour, linewidth=1, label=f"$t = {t}$")
            ax.plot(centres, means[:, k], "o", color=colour, markersize=2)
    titles = [r"score $\nabla \log p_t(x)$", r"noise $\hat\epsilon = \mathbb{E}[x_0 \mid x_t]$",
              r"data $\hat x_1 = \mathbb{E}[x_1 \mid x_t]$", r"velocity $u_t = \mathbb{E}[x_1 - x_0 \mid x_t]$"]
    for ax, title in zip(axes, titles):
        ax.set(xlabel="$x_t = x$", title=title, ylim=(-6, 6))
    axes[0].legend(fontsize=6)
    style(axes)
    fig.tight_layout()
    return fig


# The VP-SDE of Song et al. (2021): beta(tau) = 0.1 + 19.9 tau, tau = 0 data; flow-matching time t = 1 - tau.
BETA_MIN, BETA_MAX = 0.1, 20.0
WEIGHTS, MEANS, STDS = np.array([0.3, 0.7]), np.array([-2.0, 1.0]), np.array([0.3, 0.5])  # 1D data mixture


def vp_alpha(t: np.ndarray) -> np.ndarray:
    """alpha_t = exp(-B(1 - t) / 2), B(tau) = int_0^tau beta: the signal coefficient of the VP-SDE in FM time."""
    tau = 1 - t
    return np.exp(-0.5 * (BETA_MIN * tau + 0.5 * (BETA_MAX - BETA_MIN) * tau**2))


def mixture_score(x: np.ndarray, alpha: float, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """The density and the score of alpha x_1 + sigma x_0, x_1 from the 1D mixture, x_0 ~ N(0, 1)."""
    var = alpha**2 * STDS**2 + sigma**2
    parts = WEIGHTS * np.exp(-0.5 * (x[:, None] - alpha * MEANS) ** 2 / var) / np.sqrt(2 * np.pi * var)
    return parts.sum(1), (parts * (-(x[:, None] - alpha * MEANS) / var)).sum(1) / parts.sum(1)


def vp_pf_ode() -> plt.Figure:
    """The VP-SDE's probability-flow ODE, run backwards, against the flow-matching field of its Gaussian path; the
    weights that flow matching puts on the noise-prediction error."""
    x = np.linspace(-4, 3.5, 301)
    fig, (ax_f, ax_p, ax_w) = plt.subplots(1, 3, figsize=(7.8, 2.4))
    h = 1e-6
    for t, colour in ((0.3, "C0"), (0.6, "C2"), (0.9, "C3")):
        alpha = vp_alpha(t)
        sigma = np.sqrt(1 - alpha**2)
        _, score = mixture_score(x, alpha, sigma)
        tau = 1 - t
        beta = BETA_MIN + (BETA_MAX - BETA_MIN) * tau
        pf_ode = -0.5 * beta * (x + score)  # dx/dtau of the probability-flow ODE
        d_alpha = (vp_alpha(t + h) - vp_alpha(t - h)) / (2 * h)  # alpha_t' by finite differences
        d_sigma = (np.sqrt(1 - vp_alpha(t + h) ** 2) - np.sqrt(1 - vp_alpha(t - h) ** 2)) / (2 * h)
        fm_field = d_alpha / alpha * x + sigma**2 * (d_alpha / alpha - d_sigma / sigma) * score  # u_t from the score
        ax_f.plot(x, -pf_ode, color=colour, linewidth=2.5, alpha=0.35)
        ax_f.plot(x, fm_field, "--", color=colour, linewidth=0.9, label=f"$t = {t}$")
    ax_f.plot([], [], color="grey", linewidth=2.5, alpha=0.35, label=r"$-$PF-ODE drift")
    ax_f.plot([], [], "--", color="grey", linewidth=0.9, label=r"FM field $u_t$")
    ax_f.set(xlabel="$x$", ylim=(-12, 12), title="PF-ODE (reversed) = FM field")
    ax_f.legend(fontsize=5.5, loc="upper right")
    times = np.linspace(0, 1, 201)
    image = np.array([mixture_score(x, vp_alpha(t), np.sqrt(1 - vp_alpha(t) ** 2))[0] for t in times]).T
    ax_p.imshow(image, origin="lower", aspect="auto", extent=(0, 1, x[0], x[-1]), cmap="Blues", vmax=0.6)
    rng = np.random.default_rng(0)
    y = rng.standard_normal(25) * np.sqrt(1 - vp_alpha(0.0) ** 2) + vp_alpha(0.0) * rng.choice(MEANS, 25, p=WEIGHTS)
    path, steps = [y], 400
    for i in range(steps):  # Euler in t of dx/dt = beta(1 - t) / 2 (x + score): the PF-ODE with time reversed
        t = i / steps
        alpha = vp_alpha(t)
        beta = BETA_MIN + (BETA_MAX - BETA_MIN) * (1 - t)
        y = y + 0.5 * beta * (y + mixture_score(y, alpha, np.sqrt(1 - alpha**2))[1]) / steps
        path.append(y)
    ax_p.plot(np.linspace(0, 1, steps + 1), np.array(path), color="C3", linewidth=0.5)
    ax_p.set(xlabel="$t$ (FM time; $\\tau = 1 - t$)", ylabel="$x$", title="PF-ODE paths over $p_t$")
    t = np.linspace(0.02, 0.98, 200)
    ax_w.semilogy(t, 1 / t**2, color="C0", label=r"linear: $1/t^2$")
    ax_w.semilogy(t, (np.pi / 2) ** 2 / np.sin(np.pi * t / 2) ** 2, color="C3", label=r"$\sin/\cos$: $(\pi/2)^2/\alpha_t^2$")
    ax_w.set(xlabel="$t$", title=r"CFM weight on $\|\hat\epsilon - x_0\|^2$")
    ax_w.legend(fontsize=6)
    style([ax_f, ax_p, ax_w])
    fig.tight_layout()
    return fig


def families() -> plt.Figure:
    """The six families placed by what they give about the likelihood and how many sequential network
    evaluations one sample costs (orders of magnitude for an image of D = 3072 values)."""
    rows = {"exact": 2, "bound": 1, "none": 0}
    models = [  # name, likelihood, typical sequential network evaluations per sample, colour
        ("autoregressive\n(PixelCNN)", "exact", 3072, "C0"),
        ("normalizing flow\n(RealNVP)", "exact", 1, "C1"),
        ("CNF / flow matching\n(ODE)", "exact", 100, "C5"),
        ("VAE", "bound", 1, "C2"),
        ("VQ-VAE + AR prior", "bound", 64, "C2"),
        ("DDPM", "bound", 1000, "C4"),
        ("GAN", "none", 1, "C3"),
        ("one-step distilled\nflow / diffusion", "none", 1.6, "C5"),
    ]
    offsets = {"autoregressive\n(PixelCNN)": (0.0, 0.18), "normalizing flow\n(RealNVP)": (0.0, 0.18), "CNF / flow matching\n(ODE)": (0, 0.18),
               "VAE": (0, 0.13), "VQ-VAE + AR prior": (0, 0.13), "DDPM": (0, 0.13), "GAN": (0, 0.13),
               "one-step distilled\nflow / diffusion": (0.35, 0.13)}
    fig, ax = plt.subplots(figsize=(6.2, 2.5))
    for name, kind, cost, colour in models:
        ax.scatter(cost, rows[kind], s=40, color=colour, zorder=3)
        dx, dy = offsets[name]
        ax.annotate(name, (cost, rows[kind]), xytext=(cost * 10**dx, rows[kind] + dy), fontsize=6.5, ha="center", va="bottom")
    ax.annotate("", xy=(100, 2), xytext=(1000, 1), arrowprops=dict(arrowstyle="->", color="grey", linewidth=0.6))
    ax.text(330, 1.45, "PF-ODE of the\nsame network", fontsize=5.5, color="grey", ha="left")
    ax.set_xscale("log")
    ax.set(xlim=(0.4, 20000), ylim=(-0.4, 2.75), yticks=[0, 1, 2], xlabel="sequential network evaluations per sample (order of magnitude)")
    ax.set_yticklabels(["no likelihood", "bound (ELBO)", "exact (log-density)"])
    ax.grid(axis="x", color="0.9")
    style(ax)
    fig.tight_layout()
    return fig


FIGURES = {  # file name (PDF) -> function that draws it
    "couplings_2d": couplings_2d,
    "straightness_nfe": straightness_nfe,
    "conversions_1d": conversions_1d,
    "vp_pf_ode": vp_pf_ode,
    "families": families,
}
