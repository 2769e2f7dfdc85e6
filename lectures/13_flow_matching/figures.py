"""Figures of lecture 13, drawn with fixed seeds; ``lectures/build.py`` saves each entry of FIGURES as a PDF.

No trained network: the data are Gaussian mixtures or a handful of points, so every score and every velocity
field is exact. Two time conventions, as on the slides:

* score-based SDEs (Song et al., 2021): s = 0 is data, s = 1 is noise; the VP SDE
  dx = -1/2 beta(s) x ds + sqrt(beta(s)) dw with beta(s) = 0.1 + 19.9 s, whose kernel is
  N(m(s) x_0, (1 - m(s)^2) I), m(s) = exp(-1/2 int_0^s beta);
* flow matching (Lipman et al., 2023): t = 0 is noise, t = 1 is data; the linear path x_t = t x_1 + (1 - t) x_0,
  Lipman's conical path (sigma_min > 0) and the VP diffusion path mu_t = m(1 - t) x_1, sigma_t = sqrt(1 - m(1 - t)^2).
"""

import matplotlib.pyplot as plt
import numpy as np
from dgm.plots import slide_style as style

BETA_MIN, BETA_MAX = 0.1, 20.0

# The 1D data of the lecture: a mixture of three Gaussians (weight, mean, standard deviation).
WEIGHTS = np.array([0.3, 0.5, 0.2])
MEANS = np.array([-2.0, 0.5, 2.5])
STDS = np.array([0.3, 0.4, 0.3])


def beta(s: np.ndarray) -> np.ndarray:
    return BETA_MIN + s * (BETA_MAX - BETA_MIN)


def vp_mean_coefficient(s: np.ndarray) -> np.ndarray:
    """m(s) = exp(-1/2 int_0^s beta(r) dr): the VP kernel is N(m(s) x_0, (1 - m(s)^2) I)."""
    return np.exp(-0.5 * (BETA_MIN * s + 0.5 * s**2 * (BETA_MAX - BETA_MIN)))


def normal_pdf(x: np.ndarray, mean, std) -> np.ndarray:
    return np.exp(-0.5 * ((x - mean) / std) ** 2) / (np.sqrt(2 * np.pi) * std)


def mixture_components(x: np.ndarray, a, b) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For x = a x_1 + b z, x_1 ~ mixture, z ~ N(0, 1): weighted component densities (n, K), means, variances (K,)."""
    x = np.asarray(x, dtype=float)
    centres, variances = a * MEANS, a**2 * STDS**2 + b**2
    return WEIGHTS * normal_pdf(x[..., None], centres, np.sqrt(variances)), centres, variances


def mixture_density(x: np.ndarray, a, b) -> np.ndarray:
    return mixture_components(x, a, b)[0].sum(-1)


def mixture_score(x: np.ndarray, a, b) -> np.ndarray:
    """d/dx log of the density of a x_1 + b z."""
    parts, centres, variances = mixture_components(x, a, b)
    return (parts * (-(x[..., None] - centres) / variances)).sum(-1) / parts.sum(-1)


def vp_score(x: np.ndarray, s: float) -> np.ndarray:
    """The exact score of the VP SDE's marginal p_s (Song's time)."""
    m = vp_mean_coefficient(s)
    return mixture_score(x, m, np.sqrt(1 - m**2))


def linear_velocity(x: np.ndarray, t: float) -> np.ndarray:
    """The marginal field u_t(x) = E[x_1 - x_0 | x_t = x] of the linear path x_t = t x_1 + (1 - t) x_0, mixture data.

    Per component, (x_1, x_t) are jointly Gaussian and E[x_1 - x_0 | x_t = x, k] = mu_k + c_k (x - t mu_k) with
    c_k = (t s_k^2 - (1 - t)) / (t^2 s_k^2 + (1 - t)^2); the components are weighted by their posterior.
    """
    parts, centres, variances = mixture_components(x, t, 1 - t)
    per_component = MEANS + (t * STDS**2 - (1 - t)) / variances * (x[..., None] - centres)
    return (parts * per_component).sum(-1) / parts.sum(-1)


def density_image(ax, density, times: np.ndarray, x: np.ndarray) -> None:
    """p(t, x) as a grey image, time on the horizontal axis; each column normalised to its maximum."""
    image = np.stack([density(x, t) for t in times], 1)
    image = image / image.max(0, keepdims=True)
    ax.imshow(image, origin="lower", aspect="auto", cmap="Greys", extent=(times[0], times[-1], x[0], x[-1]), vmax=1.3)


def reverse_sde_and_ode(n: int, seed: int, steps: int = 1000, keep: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Euler-Maruyama on the reverse VP SDE and Euler on the PF-ODE, both from the same x(1) ~ N(0, 1), exact score.

    Reverse SDE, one step from s to s - h: x <- x + [1/2 beta x + beta score] h + sqrt(beta h) z.
    PF-ODE: x <- x + [1/2 beta x + 1/2 beta score] h. Returns both endpoints and the first ``keep`` paths.
    """
    rng = np.random.default_rng(seed)
    x_sde = rng.standard_normal(n)
    x_ode = x_sde.copy()
    grid = np.linspace(1.0, 0.0, steps + 1)
    paths_sde, paths_ode = [x_sde[:keep].copy()], [x_ode[:keep].copy()]
    for s, s_next in zip(grid[:-1], grid[1:]):
        h, b = s - s_next, beta(s)
        x_sde = x_sde + (0.5 * b * x_sde + b * vp_score(x_sde, s)) * h + np.sqrt(b * h) * rng.standard_normal(n)
        x_ode = x_ode + (0.5 * b * x_ode + 0.5 * b * vp_score(x_ode, s)) * h
        paths_sde.append(x_sde[:keep].copy())
        paths_ode.append(x_ode[:keep].copy())
    return x_sde, x_ode, np.array(paths_sde), np.array(paths_ode)


def sde_vs_ode() -> plt.Figure:
    """Reverse-SDE and probability-flow-ODE trajectories from the same starting points, and their endpoints."""
    x = np.linspace(-4, 4, 401)
    times = np.linspace(0, 1, 201)
    x_sde, x_ode, paths_sde, paths_ode = reverse_sde_and_ode(10000, seed=0, steps=500, keep=25)
    s_grid = np.linspace(1.0, 0.0, len(paths_sde))
    fig, axes = plt.subplots(1, 3, figsize=(7.6, 2.4), gridspec_kw={"width_ratios": [1, 1, 0.8]})

    def marginal(x_, s):
        m = vp_mean_coefficient(s)
        return mixture_density(x_, m, np.sqrt(1 - m**2))

    for ax, paths, title in ((axes[0], paths_sde, "reverse SDE (Euler-Maruyama)"), (axes[1], paths_ode, "probability-flow ODE")):
        density_image(ax, marginal, times, x)
        ax.plot(s_grid, paths, color="C3", linewidth=0.5, alpha=0.8)
        ax.set(xlabel="$t$ (SDE time: 0 data, 1 noise)", ylabel="$x$", title=title, xlim=(1, 0), ylim=(-4, 4))
    ax = axes[2]
    bins = np.linspace(-4, 4, 81)
    ax.hist(x_sde, bins=bins, density=True, histtype="step", color="C3", label="SDE")
    ax.hist(x_ode, bins=bins, density=True, histtype="step", color="C0", label="ODE")
    ax.plot(x, mixture_density(x, 1.0, 0.0), color="black", linewidth=0.8, label=r"$\pi$")
    ax.set(xlabel="$x(0)$", title="10 000 samples each")
    ax.legend(fontsize=6)
    style(axes)
    fig.tight_layout()
    return fig


def marginal_path_1d() -> plt.Figure:
    """The linear path from N(0, 1) to the mixture: conditional lines cross, marginal trajectories do not."""
    x = np.linspace(-4, 4, 401)
    times = np.linspace(0, 1, 201)
    rng = np.random.default_rng(1)
    n = 25
    k = rng.choice(3, size=n, p=WEIGHTS)
    x1 = MEANS[k] + STDS[k] * rng.standard_normal(n)
    x0 = rng.standard_normal(n)

    def marginal(x_, t):
        return mixture_density(x_, t, 1 - t)

    fig, axes = plt.subplots(1, 3, figsize=(7.6, 2.4))
    density_image(axes[0], marginal, times, x)
    axes[0].plot(times, np.outer(1 - times, x0) + np.outer(times, x1), color="C3", linewidth=0.5)
    axes[0].set(title=r"conditional: $x_t = t x_1 + (1 - t) x_0$")
    density_image(axes[1], marginal, times, x)
    paths = [x0.copy()]
    state, steps = x0.copy(), 400
    for i in range(steps):  # RK4 on the marginal field
        t, h = i / steps, 1 / steps
        k1 = linear_velocity(state, t)
        k2 = linear_velocity(state + h / 2 * k1, t + h / 2)
        k3 = linear_velocity(state + h / 2 * k2, t + h / 2)
        k4 = linear_velocity(state + h * k3, t + h)
        state = state + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        paths.append(state.copy())
    axes[1].plot(np.linspace(0, 1, steps + 1), np.array(paths), color="C0", linewidth=0.5)
    axes[1].set(title=r"marginal: $dx/dt = u_t(x)$, same $x_0$")
    for ax in axes[:2]:
        ax.set(xlabel="$t$ (flow matching: 0 noise, 1 data)", ylabel="$x$", ylim=(-4, 4))
    for t, colour in zip((0.25, 0.5, 0.75, 0.95), ("C0", "C2", "C1", "C3")):
        axes[2].plot(x, linear_velocity(x, t), color=colour, label=f"$t = {t}$")
    axes[2].axhline(0, color="grey", linewidth=0.5)
    axes[2].set(xlabel="$x$", title=r"marginal velocity $u_t(x)$", ylim=(-8, 8))
    axes[2].legend(fontsize=6)
    style(axes)
    fig.tight_layout()
    return fig


# A small empirical data set in 2D for the memorisation figure.
POINTS = np.array([[-2.0, 1.5], [-1.0, -2.0], [0.5, 2.2], [1.8, -0.8], [2.4, 1.4], [-2.6, -0.6]])


def empirical_velocity(x: np.ndarray, t: float) -> np.ndarray:
    """u_t(x) = sum_i w_i(x) (x^i - x) / (1 - t), w = softmax_i(-||x - t x^i||^2 / (2 (1 - t)^2)); x: (n, 2)."""
    logits = -((x[:, None, :] - t * POINTS[None]) ** 2).sum(-1) / (2 * (1 - t) ** 2)
    weights = np.exp(logits - logits.max(1, keepdims=True))
    weights /= weights.sum(1, keepdims=True)
    return (weights @ POINTS - x) / (1 - t)


def empirical_field_2d() -> plt.Figure:
    """Conditional straight lines against marginal trajectories for six training points; the field at t = 0.5."""
    rng = np.random.default_rng(2)
    n = 60
    x0 = rng.standard_normal((n, 2))
    x1 = POINTS[rng.integers(len(POINTS), size=n)]
    fig, axes = plt.subplots(1, 3, figsize=(7.6, 2.55))
    ax = axes[0]
    for a, b in zip(x0, x1):
        ax.plot([a[0], b[0]], [a[1], b[1]], color="C3", linewidth=0.4, alpha=0.7)
    ax.set(title="conditional paths (independent pairs)")
    steps = 200
    state, paths = x0.copy(), [x0.copy()]
    for i in range(steps):  # Euler; the last step lands on the posterior mean, a training point
        state = state + empirical_velocity(state, i / steps) / steps
        paths.append(state.copy())
    paths = np.array(paths)
    ax = axes[1]
    ax.plot(paths[:, :, 0], paths[:, :, 1], color="C0", linewidth=0.5)
    ax.set(title="marginal trajectories (same $x_0$)")
    ax = axes[2]
    g = np.linspace(-3.5, 3.5, 21)
    grid = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    t = 0.6
    field = empirical_velocity(grid, t)
    field = field / np.linalg.norm(field, axis=1, keepdims=True)  # directions only: the speed grows like 1 / (1 - t)
    ax.quiver(grid[:, 0], grid[:, 1], field[:, 0], field[:, 1], color="C0", angles="xy", scale=28, width=0.004)
    ax.plot(*(t * POINTS).T, "x", color="C2", markersize=5, label=r"$t\, x^i$")
    ax.set(title=r"direction of $u_t(x)$ at $t = 0.6$")
    ax.legend(fontsize=6, loc="lower left")
    for ax in axes:
        ax.plot(*POINTS.T, "o", color="black", markersize=3.5)
        ax.set(xlim=(-3.5, 3.5), ylim=(-3.5, 3.5), aspect="equal", xticks=[], yticks=[])
    style(axes)
    fig.tight_layout()
    return fig


def gaussian_paths(t: np.ndarray, sigma_min: float = 0.05) -> dict:
    """(mu_t / x_1, sigma_t, d/dt of both) of three Gaussian paths, flow-matching time."""
    m = vp_mean_coefficient(1 - t)
    dm = 0.5 * beta(1 - t) * m  # d/dt m(1 - t)
    sigma_vp = np.sqrt(1 - m**2)
    return {
        "conical (OT)": (t, 1 - (1 - sigma_min) * t, np.ones_like(t), -(1 - sigma_min) * np.ones_like(t)),
        "VP diffusion": (m, sigma_vp, dm, -m * dm / np.maximum(sigma_vp, 1e-300)),
        "trigonometric": (np.sin(np.pi * t / 2), np.cos(np.pi * t / 2), np.pi / 2 * np.cos(np.pi * t / 2), -np.pi / 2 * np.sin(np.pi * t / 2)),
    }


def conical_vs_vp() -> plt.Figure:
    """Conditional trajectories psi_t(x_0) = sigma_t x_0 + mu_t of the conical and the VP path, and the schedules."""
    t = np.linspace(0, 1, 2001)
    x1 = 1.5
    x0 = np.array([-2.0, -1.2, -0.6, 0.0, 0.6, 1.2, 2.0])
    paths = gaussian_paths(t)
    fig, axes = plt.subplots(1, 3, figsize=(7.6, 2.4))
    for ax, name, colour in ((axes[0], "conical (OT)", "C0"), (axes[1], "VP diffusion", "C3")):
        a, s, _, _ = paths[name]
        ax.fill_between(t, a * x1 - 2 * s, a * x1 + 2 * s, color=colour, alpha=0.12, linewidth=0)
        ax.plot(t, np.outer(a, np.full_like(x0, x1)) + np.outer(s, x0), color=colour, linewidth=0.7)
        ax.set(xlabel="$t$", ylabel="$x$", title=f"{name}: $\\psi_t(x_0)$, $x_1 = {x1}$", ylim=(-3.2, 3.2))
    ax = axes[2]
    for name, colour in (("conical (OT)", "C0"), ("VP diffusion", "C3"), ("trigonometric", "C2")):
        a, s, _, _ = paths[name]
        ax.plot(t, s, color=colour, label=name)
        ax.plot(t, a, color=colour, linestyle="--")
    ax.plot([], [], color="grey", label=r"$\sigma_t$")
    ax.plot([], [], color="grey", linestyle="--", label=r"$\mu_t / x_1$")
    ax.set(xlabel="$t$", title="schedules")
    ax.legend(fontsize=6, loc="center left")
    style(axes)
    fig.tight_layout()
    return fig


FIGURES = {  # file name (PDF) -> function that draws it
    "sde_vs_ode": sde_vs_ode,
    "marginal_path_1d": marginal_path_1d,
    "empirical_field_2d": empirical_field_2d,
    "conical_vs_vp": conical_vs_vp,
}
