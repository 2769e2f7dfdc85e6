"""Figures of lecture 11, drawn with fixed seeds; ``lectures/build.py`` saves each entry of FIGURES as a PDF.

The flows are exact, no trained network: the data are Gaussian mixtures sum_k w_k N(mu_k, s_k^2 I), and each
component is carried from the noise N(0, I) at t = 0 to N(mu_k, s_k^2 I) at t = 1 along the Gaussian path
N(t mu_k, sigma_k(t)^2 I), sigma_k(t)^2 = (1 - t)^2 + t^2 s_k^2, by the affine field
u_k(x, t) = mu_k + c_k(t) (x - t mu_k), c_k = sigma_k' / sigma_k = (t s_k^2 - (1 - t)) / sigma_k^2.
The mixture of these paths, p_t = sum_k w_k N(t mu_k, sigma_k^2 I), is transported by the field
f(x, t) = sum_k r_k(x, t) u_k(x, t) with responsibilities r_k = w_k N_k / p_t (each component solves the continuity
equation, so their mixture does too; lecture 13 derives such fields). So p_t(x) is known exactly at every t, and the
log-density that the instantaneous change of variables gives along the ODE can be compared with it.
Time convention of the course for flows: t = 0 is noise, t = 1 is data.
"""

import matplotlib.pyplot as plt
import numpy as np
from scipy.integrate import solve_ivp
from dgm.plots import slide_style as style

# The 1D mixture (weights, means, standard deviations) and the 2D one (six components on a ring, and the centre).
MIX_1D = (np.array([0.35, 0.65]), np.array([[-2.0], [1.5]]), np.array([0.35, 0.6]))
RING = 2.5 * np.stack([np.cos(np.arange(6) * np.pi / 3), np.sin(np.arange(6) * np.pi / 3)], 1)
MIX_2D = (np.full(7, 1 / 7), np.concatenate([RING, [[0.0, 0.0]]]), np.full(7, 0.3))


def components(x: np.ndarray, t: float, mix) -> tuple[np.ndarray, ...]:
    """Per-component quantities at points x (n, d): responsibilities r (n, K), fields u_k (n, K, d), scores g_k, c_k (K,)."""
    weights, means, stds = mix
    d = x.shape[1]
    var = (1 - t) ** 2 + t**2 * stds**2  # sigma_k(t)^2: (K,)
    c = (t * stds**2 - (1 - t)) / var  # sigma_k' / sigma_k
    centred = x[:, None, :] - t * means[None]  # (n, K, d)
    log_n = -0.5 * (centred**2).sum(-1) / var - 0.5 * d * np.log(2 * np.pi * var)  # (n, K)
    log_w = np.log(weights) + log_n
    log_p = np.logaddexp.reduce(log_w, axis=1)
    r = np.exp(log_w - log_p[:, None])
    u = means[None] + c[None, :, None] * centred
    g = -centred / var[None, :, None]
    return r, u, g, c, log_p


def field(x: np.ndarray, t: float, mix) -> np.ndarray:
    """f(x, t) = sum_k r_k u_k: (n, d)."""
    r, u, *_ = components(x, t, mix)
    return (r[:, :, None] * u).sum(1)


def divergence(x: np.ndarray, t: float, mix) -> np.ndarray:
    """div f = sum_k r_k d c_k + sum_k r_k (u_k - f) . (g_k - g_bar), from grad r_k = r_k (g_k - g_bar): (n,)."""
    r, u, g, c, _ = components(x, t, mix)
    f = (r[:, :, None] * u).sum(1)
    g_bar = (r[:, :, None] * g).sum(1)
    spread = ((u - f[:, None]) * (g - g_bar[:, None])).sum(-1)
    return (r * (x.shape[1] * c[None] + spread)).sum(1)


def log_density(x: np.ndarray, t: float, mix) -> np.ndarray:
    """The exact log p_t(x): (n,)."""
    return components(x, t, mix)[-1]


def rk4(rhs, state: np.ndarray, t0: float, t1: float, n_steps: int, keep: bool = False):
    """Classical RK4 from t0 to t1 (either direction) on rhs(state, t); with keep, also every intermediate state."""
    h = (t1 - t0) / n_steps
    path = [state]
    for i in range(n_steps):
        t = t0 + i * h
        k1 = rhs(state, t)
        k2 = rhs(state + h / 2 * k1, t + h / 2)
        k3 = rhs(state + h / 2 * k2, t + h / 2)
        k4 = rhs(state + h * k3, t + h)
        state = state + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        path.append(state)
    return (state, np.array(path)) if keep else state


def ode_log_density(x: np.ndarray, t: float, mix, n_steps: int = 100) -> np.ndarray:
    """log p_t(x) by the instantaneous change of variables: integrate (z, s) from time t back to 0 with
    dz/dt = f, ds/dt = -div f, s(t) = 0; then log p_t(x) = log N(z(0); 0, I) - s(0)."""
    d = x.shape[1]

    def rhs(state, tau):
        z = state[:, :d]
        return np.concatenate([field(z, tau, mix), -divergence(z, tau, mix)[:, None]], 1)

    end = rk4(rhs, np.concatenate([x, np.zeros((len(x), 1))], 1), t, 0.0, n_steps)
    z0, s0 = end[:, :d], end[:, d]
    return -0.5 * (z0**2).sum(1) - 0.5 * d * np.log(2 * np.pi) - s0


def trajectories_2d() -> plt.Figure:
    """Trajectories of the 2D flow from N(0, I) (t = 0) to the seven-component mixture (t = 1), and the field at two times."""
    rng = np.random.default_rng(0)
    z0 = rng.standard_normal((300, 2))
    _, path = rk4(lambda z, t: field(z, t, MIX_2D), z0, 0.0, 1.0, 100, keep=True)  # (101, n, 2)
    fig, axes = plt.subplots(1, 3, figsize=(7.6, 2.6))
    ax = axes[0]
    for i in range(120):
        ax.plot(path[:, i, 0], path[:, i, 1], color="0.55", linewidth=0.4)
    ax.scatter(*path[0, :120].T, s=3, color="C0", zorder=3, label="$\\mathbf{x}(0) \\sim \\mathcal{N}(\\mathbf{0}, \\mathbf{I})$")
    ax.scatter(*path[-1, :120].T, s=3, color="C3", zorder=3, label="$\\mathbf{x}(1)$")
    ax.set(title="trajectories, $t$ from 0 to 1")
    ax.legend(fontsize=6, loc="lower left")
    axis = np.linspace(-3.6, 3.6, 19)
    xx, yy = np.meshgrid(axis, axis)
    grid = np.stack([xx.ravel(), yy.ravel()], 1)
    fine = np.linspace(-3.6, 3.6, 181)
    fx, fy = np.meshgrid(fine, fine)
    fine_grid = np.stack([fx.ravel(), fy.ravel()], 1)
    for ax, t in zip(axes[1:], (0.3, 0.8)):
        density = np.exp(log_density(fine_grid, t, MIX_2D)).reshape(fx.shape)
        ax.imshow(density, origin="lower", extent=(-3.6, 3.6, -3.6, 3.6), cmap="Blues")
        v = field(grid, t, MIX_2D)
        ax.quiver(grid[:, 0], grid[:, 1], v[:, 0], v[:, 1], color="C3", angles="xy", scale_units="xy", scale=4, width=0.004)
        ax.set(title=f"$p_t$ and the field $\\mathbf{{f}}(\\mathbf{{x}}, t)$, $t = {t}$")
    for ax in axes:
        ax.set(xlim=(-3.6, 3.6), ylim=(-3.6, 3.6), aspect="equal", xticks=[], yticks=[])
    style(axes)
    fig.tight_layout()
    return fig


def density_evolution_1d() -> plt.Figure:
    """1D: trajectories over p_t; at three times the ODE log-density, the exact p_t and a histogram of pushed samples."""
    rng = np.random.default_rng(1)
    n = 20000
    z0 = np.sort(rng.standard_normal(n))[:, None]
    times = (0.4, 0.7, 1.0)
    steps = 100
    _, path = rk4(lambda z, t: field(z, t, MIX_1D), z0, 0.0, 1.0, steps, keep=True)  # (steps + 1, n, 1)
    x = np.linspace(-4, 4, 321)[:, None]
    t_axis = np.linspace(0, 1, 101)
    image = np.array([np.exp(log_density(x, t, MIX_1D)) for t in t_axis]).T
    fig = plt.figure(figsize=(7.6, 2.5))
    grid = fig.add_gridspec(1, 4, width_ratios=[1.5, 1, 1, 1])
    ax_p = fig.add_subplot(grid[0])
    ax_p.imshow(image, origin="lower", aspect="auto", extent=(0, 1, -4, 4), cmap="Blues", vmax=0.7)
    show = np.linspace(0, n - 1, 30).astype(int)
    ax_p.plot(np.linspace(0, 1, steps + 1), path[:, show, 0], color="C3", linewidth=0.6)
    ax_p.set(xlabel="$t$ (0: noise, 1: data)", ylabel="$x(t)$", title="trajectories over $p_t(x)$")
    axes = [ax_p]
    for j, t in enumerate(times):
        ax = fig.add_subplot(grid[j + 1])
        pushed = path[int(round(t * steps)), :, 0]
        ode = ode_log_density(x, t, MIX_1D)
        exact = log_density(x, t, MIX_1D)
        ax.hist(pushed, bins=np.linspace(-4, 4, 81), density=True, color="0.8", label="pushed samples")
        ax.plot(x[:, 0], np.exp(ode), color="C3", linewidth=1.2, label="ODE log-density")
        ax.plot(x[:, 0], np.exp(exact), color="black", linestyle="--", linewidth=0.8, label="exact $p_t$")
        gap = np.abs(ode - exact).max()
        ax.set(xlabel="$x$", yticks=[], title=f"$t = {t}$: max gap {gap:.0e}")
        axes.append(ax)
    axes[1].legend(fontsize=6, loc="upper left")
    style(axes)
    fig.tight_layout()
    return fig


def hutchinson_variance() -> plt.Figure:
    """Hutchinson's estimator of tr J for a fixed 20 x 20 matrix: its spread against the number of probes."""
    rng = np.random.default_rng(2)
    dim = 20
    jac = np.diag(rng.uniform(0.5, 2.0, dim)) + 0.3 * rng.standard_normal((dim, dim))
    sym = jac + jac.T
    theory = {"Rademacher": 0.5 * ((sym - np.diag(np.diag(sym))) ** 2).sum(), "Gaussian": 0.5 * (sym**2).sum()}
    probes = np.array([1, 2, 4, 8, 16, 32, 64])
    repeats = 4000
    fig, (ax_h, ax_s) = plt.subplots(1, 2, figsize=(7.2, 2.5))
    for kind, colour in (("Rademacher", "C0"), ("Gaussian", "C3")):
        if kind == "Rademacher":
            eps = rng.choice([-1.0, 1.0], size=(repeats, probes[-1], dim))
        else:
            eps = rng.standard_normal((repeats, probes[-1], dim))
        single = np.einsum("rmi,ij,rmj->rm", eps, jac, eps)  # eps^T J eps: (repeats, M)
        ax_h.hist(single[:, 0], bins=np.linspace(-20, 70, 91), density=True, histtype="step", color=colour,
                  label=f"{kind}: var {single[:, 0].var():.1f} (theory {theory[kind]:.1f})")
        spread = [single[:, :m].mean(1).std() for m in probes]
        ax_s.loglog(probes, spread, "o", color=colour, markersize=3.5, label=f"{kind}, {repeats} repeats")
        ax_s.loglog(probes, np.sqrt(theory[kind] / probes), color=colour, linewidth=0.8, label=f"$\\sqrt{{\\mathrm{{var}}/M}}$, {kind}")
    ax_h.axvline(np.trace(jac), color="black", linewidth=0.8, label=f"tr $\\mathbf{{J}}$ = {np.trace(jac):.1f}")
    ax_h.set(xlabel=r"$\boldsymbol{\epsilon}^\top \mathbf{J} \boldsymbol{\epsilon}$ (one probe)", yticks=[], title="one probe: unbiased, noisy")
    ax_h.legend(fontsize=6, loc="upper right")
    ax_s.set(xlabel="probes $M$", ylabel="std of the estimate", title=r"average of $M$ probes, $D = 20$")
    ax_s.legend(fontsize=6)
    style([ax_h, ax_s])
    fig.tight_layout()
    return fig


def solver_order() -> plt.Figure:
    """Euler, Heun and RK4 on the 1D flow: error of x(1) against the step and against NFE; adaptive RK45 under stiffness."""
    rng = np.random.default_rng(3)
    z0 = rng.standard_normal((200, 1))

    def rhs(z, t):
        return field(z, t, MIX_1D)

    reference = rk4(rhs, z0, 0.0, 1.0, 4096)

    def euler(z, n):
        h = 1 / n
        for i in range(n):
            z = z + h * rhs(z, i * h)
        return z

    def heun(z, n):
        h = 1 / n
        for i in range(n):
            k1 = rhs(z, i * h)
            k2 = rhs(z + h * k1, (i + 1) * h)
            z = z + h / 2 * (k1 + k2)
        return z

    steps = np.array([4, 8, 16, 32, 64, 128, 256])
    fig, (ax_h, ax_n, ax_s) = plt.subplots(1, 3, figsize=(7.6, 2.5))
    for name, solve, evals, colour in (("Euler", euler, 1, "C0"), ("Heun", heun, 2, "C2"), ("RK4", lambda z, n: rk4(rhs, z, 0.0, 1.0, n), 4, "C3")):
        errors = np.array([np.abs(solve(z0, n) - reference).mean() for n in steps])
        slope = np.polyfit(np.log(1 / steps[2:]), np.log(errors[2:]), 1)[0]
        ax_h.loglog(1 / steps, errors, "o-", color=colour, markersize=3, label=f"{name}: slope {slope:.1f}")
        ax_n.loglog(evals * steps, errors, "o-", color=colour, markersize=3, label=f"{name}: NFE $= {evals}n$")
    ax_h.set(xlabel="step $h = 1/n$", ylabel=r"mean error of $x(1)$", title="global error $O(h^p)$")
    ax_h.legend(fontsize=6)
    ax_n.set(xlabel="NFE", title="error against cost")
    ax_n.legend(fontsize=6)
    lambdas = np.array([1, 10, 100, 1000, 10000])
    for method, colour in (("RK45", "C3"), ("Radau", "C0")):
        nfe = []
        for lam in lambdas:
            solution = solve_ivp(lambda t, z: -lam * (z - np.cos(t)), (0, 1), [0.0], method=method, rtol=1e-4, atol=1e-7)
            nfe.append(solution.nfev)
        ax_s.loglog(lambdas, nfe, "o-", color=colour, markersize=3, label=f"{method} ({'explicit' if method == 'RK45' else 'implicit'})")
    ax_s.set(xlabel=r"stiffness $\lambda$", ylabel="NFE", title=r"$\dot z = -\lambda (z - \cos t)$, rtol $10^{-4}$")
    ax_s.legend(fontsize=6)
    style([ax_h, ax_n, ax_s])
    fig.tight_layout()
    return fig


FIGURES = {  # file name (PDF) -> function that draws it
    "trajectories_2d": trajectories_2d,
    "density_evolution_1d": density_evolution_1d,
    "hutchinson_variance": hutchinson_variance,
    "solver_order": solver_order,
}
