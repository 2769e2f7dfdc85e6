"""Figures of lecture 12, drawn with fixed seeds; ``lectures/build.py`` saves each entry of FIGURES as a PDF.

Time runs as in Song et al. (2021): t = 0 is the data, t = 1 the noise. The data are lecture 10's mixture on the
real line, pi = 1/2 N(-1, 0.7^2) + 1/4 N(0.8, 0.5^2) + 1/4 N(3, 0.5^2), so every marginal p_t of a linear SDE is a
mixture too and its score is exact. The VP SDE has beta(t) = 0.1 + 19.9 t (Ho et al.'s linear schedule in
continuous time), the VE SDE sigma(t) = sigma_min (sigma_max / sigma_min)^t.
"""

import matplotlib.pyplot as plt
import numpy as np
from scipy.integrate import solve_ivp
from dgm.plots import slide_style as style

WEIGHTS = np.array([0.5, 0.25, 0.25])
MEANS = np.array([-1.0, 0.8, 3.0])
STDS = np.array([0.7, 0.5, 0.5])
BETA_MIN, BETA_MAX = 0.1, 20.0
SIGMA_MIN, SIGMA_MAX = 0.01, 10.0


def beta(t):
    """beta(t) of the VP SDE dx = -beta(t) x / 2 dt + sqrt(beta(t)) dw."""
    return BETA_MIN + t * (BETA_MAX - BETA_MIN)


def beta_integral(t):
    """B(t) = int_0^t beta(s) ds."""
    return BETA_MIN * t + 0.5 * (BETA_MAX - BETA_MIN) * t**2


def vp_kernel(t):
    """Mean coefficient m(t) and std s(t) of p_0t(x_t | x_0) = N(m(t) x_0, s(t)^2) for the VP SDE."""
    b = beta_integral(t)
    return np.exp(-0.5 * b), np.sqrt(1 - np.exp(-b))


def ve_sigma(t):
    return SIGMA_MIN * (SIGMA_MAX / SIGMA_MIN) ** t


def ve_kernel(t):
    """p_0t(x_t | x_0) = N(x_0, sigma(t)^2 - sigma(0)^2) for the VE SDE dx = sqrt(d sigma^2 / dt) dw."""
    return np.ones_like(np.asarray(t, dtype=float)), np.sqrt(ve_sigma(t) ** 2 - SIGMA_MIN**2)


def subvp_kernel(t):
    """sub-VP: mean coefficient exp(-B / 2), variance (1 - exp(-B))^2."""
    b = beta_integral(t)
    return np.exp(-0.5 * b), 1 - np.exp(-b)


def mixture(x, mean_coef, std):
    """Density and score of the data mixture pushed through x_t = mean_coef x_0 + std eps."""
    centres = mean_coef * MEANS
    variances = mean_coef**2 * STDS**2 + std**2
    parts = WEIGHTS * np.exp(-0.5 * (x[..., None] - centres) ** 2 / variances) / np.sqrt(2 * np.pi * variances)
    density = parts.sum(-1)
    return density, (parts * (-(x[..., None] - centres) / variances)).sum(-1) / density


def vp_density(x, t):
    return mixture(x, *vp_kernel(t))[0]


def vp_score(x, t):
    return mixture(x, *vp_kernel(t))[1]


def data_samples(n, rng):
    k = rng.choice(3, n, p=WEIGHTS)
    return MEANS[k] + STDS[k] * rng.standard_normal(n)


def pf_field(t, x):
    """The probability-flow ODE field f - g^2 / 2 grad log p_t of the VP SDE."""
    return -0.5 * beta(t) * x - 0.5 * beta(t) * vp_score(x, t)


def brownian() -> plt.Figure:
    """Brownian paths with their +-2 sqrt(t) band; quadratic variation -> t, total variation -> infinity."""
    rng = np.random.default_rng(0)
    n = 1000
    t = np.linspace(0, 1, n + 1)
    paths = np.concatenate([np.zeros((8, 1)), np.cumsum(np.sqrt(1 / n) * rng.standard_normal((8, n)), 1)], 1)
    fig, (ax_p, ax_v) = plt.subplots(1, 2, figsize=(7.2, 2.3))
    ax_p.plot(t, paths.T, linewidth=0.6)
    ax_p.fill_between(t, -2 * np.sqrt(t), 2 * np.sqrt(t), color="grey", alpha=0.15, label=r"$\pm 2\sqrt{t}$")
    ax_p.set(xlabel="$t$", ylabel="$w_t$", title="Brownian paths")
    ax_p.legend(fontsize=7, loc="upper left")
    fine = np.sqrt(1 / 2**16) * rng.standard_normal(2**16)  # one path on the finest grid
    steps = 2 ** np.arange(2, 17)
    quadratic, total = [], []
    for m in steps:
        increments = fine.reshape(m, -1).sum(1)  # the same path sampled on m steps
        quadratic.append(np.sum(increments**2))
        total.append(np.sum(np.abs(increments)))
    ax_v.loglog(steps, quadratic, "o-", markersize=3, color="C0", label=r"$\sum_k (\Delta w_k)^2$ (quadratic variation)")
    ax_v.loglog(steps, total, "s-", markersize=3, color="C3", label=r"$\sum_k |\Delta w_k|$ (length)")
    ax_v.loglog(steps, np.sqrt(2 * steps / np.pi), ":", color="C3", linewidth=0.8, label=r"$\sqrt{2n/\pi}$")
    ax_v.axhline(1, color="C0", linestyle=":", linewidth=0.8)
    ax_v.set(xlabel="number of steps $n$ on $[0, 1]$", title="one path, ever finer grids")
    ax_v.legend(fontsize=6, loc="upper left")
    style([ax_p, ax_v])
    fig.tight_layout()
    return fig


THETA, SIGMA, X0, T_OU = 1.0, 0.8, 2.0, 4.0


def ou_paths() -> plt.Figure:
    """Euler-Maruyama paths of the OU process against its closed-form mean and +-2 std; the weak error vs the step."""
    rng = np.random.default_rng(1)
    n_steps, n_paths = 400, 5000
    h = T_OU / n_steps
    t = np.linspace(0, T_OU, n_steps + 1)
    x = np.full(n_paths, X0)
    paths = [x.copy()]
    for _ in range(n_steps):
        x = x - THETA * x * h + SIGMA * np.sqrt(h) * rng.standard_normal(n_paths)
        paths.append(x.copy())
    paths = np.array(paths)
    mean = X0 * np.exp(-THETA * t)
    std = np.sqrt(SIGMA**2 / (2 * THETA) * (1 - np.exp(-2 * THETA * t)))
    fig, (ax_p, ax_e) = plt.subplots(1, 2, figsize=(7.2, 2.4), gridspec_kw={"width_ratios": [1.5, 1]})
    ax_p.plot(t, paths[:, :12], color="C0", linewidth=0.5, alpha=0.7)
    ax_p.plot(t, mean, color="black", label=r"$x_0 e^{-\theta t}$")
    ax_p.plot(t, mean + 2 * std, color="black", linestyle="--", linewidth=0.9, label=r"$\pm 2$ std, closed form")
    ax_p.plot(t, mean - 2 * std, color="black", linestyle="--", linewidth=0.9)
    ax_p.plot(t, paths.mean(1), color="C3", linewidth=0.9, label="5000 paths: mean")
    ax_p.plot(t, paths.mean(1) + 2 * paths.std(1), color="C3", linestyle=":", linewidth=0.9, label=r"5000 paths: $\pm 2$ std")
    ax_p.plot(t, paths.mean(1) - 2 * paths.std(1), color="C3", linestyle=":", linewidth=0.9)
    ax_p.set(xlabel="$t$", ylabel="$x_t$", title=rf"OU: $\theta = {THETA:g}$, $\sigma = {SIGMA:g}$, $x_0 = {X0:g}$")
    ax_p.legend(fontsize=6, loc="upper right")
    # Euler-Maruyama's moments in closed form: m_{k+1} = (1 - theta h) m_k, v_{k+1} = (1 - theta h)^2 v_k + sigma^2 h.
    hs = T_OU / np.array([10, 20, 40, 80, 160, 320, 640])
    mean_err, var_err = [], []
    for step in hs:
        n = int(round(T_OU / step))
        m, v = X0 * (1 - THETA * step) ** n, 0.0
        for _ in range(n):
            v = (1 - THETA * step) ** 2 * v + SIGMA**2 * step
        mean_err.append(abs(m - X0 * np.exp(-THETA * T_OU)))
        var_err.append(abs(v - SIGMA**2 / (2 * THETA) * (1 - np.exp(-2 * THETA * T_OU))))
    ax_e.loglog(hs, mean_err, "o-", markersize=3, label="|error of the mean|")
    ax_e.loglog(hs, var_err, "s-", markersize=3, label="|error of the variance|")
    ax_e.loglog(hs, 0.5 * hs * var_err[-1] / hs[-1] * 2, ":", color="grey", label=r"slope 1: $O(h)$")
    ax_e.set(xlabel="step $h$", title=f"Euler-Maruyama at $t = {T_OU:g}$ (exact)")
    ax_e.legend(fontsize=6)
    style([ax_p, ax_e])
    fig.tight_layout()
    return fig


def fokker_planck() -> plt.Figure:
    """p_t of the VP SDE on the mixture: the closed-form solution of Fokker-Planck, and Euler-Maruyama particles."""
    rng = np.random.default_rng(2)
    x = np.linspace(-4, 5, 361)
    times = np.linspace(0, 1, 201)
    image = np.array([vp_density(x, t) for t in times]).T
    n, n_steps = 20000, 1000
    particles = data_samples(n, rng)
    snapshots = {0.0: particles.copy()}
    h = 1 / n_steps
    for i in range(n_steps):
        t = i * h
        particles = particles - 0.5 * beta(t) * particles * h + np.sqrt(beta(t) * h) * rng.standard_normal(n)
        if i + 1 in (50, 150, 1000):
            snapshots[(i + 1) * h] = particles.copy()
    fig, (ax_i, ax_s) = plt.subplots(1, 2, figsize=(7.4, 2.4), gridspec_kw={"width_ratios": [1.3, 1]})
    ax_i.imshow(image, origin="lower", aspect="auto", extent=(0, 1, x[0], x[-1]), cmap="Blues", vmax=0.45)
    ax_i.set(xlabel=r"$t$ (0: data, 1: noise)", ylabel="$x$", title=r"$p_t(x)$, VP SDE with $\beta(t) = 0.1 + 19.9\,t$")
    bins = np.linspace(-4, 5, 73)
    for (t, values), colour in zip(snapshots.items(), ["black", "C0", "C2", "C3"]):
        ax_s.hist(values, bins=bins, density=True, histtype="step", color=colour, alpha=0.6)
        ax_s.plot(x, vp_density(x, t), color=colour, linewidth=1, label=rf"$t = {t:g}$")
        ax_i.axvline(t, color=colour, linewidth=0.8, linestyle="--")
    ax_s.set(xlabel="$x$", title="closed form (lines), Euler-Maruyama (steps)")
    ax_s.legend(fontsize=6.5)
    style([ax_i, ax_s])
    fig.tight_layout()
    return fig


def pf_ode_vs_sde() -> plt.Figure:
    """Reverse SDE and probability-flow ODE from the same noise with the exact score: different paths, same marginals;
    and the PF-ODE log-likelihood of points against the exact log pi."""
    rng = np.random.default_rng(3)
    n, n_steps, keep = 20000, 1000, 20
    start = rng.standard_normal(n)  # x_1 ~ N(0, 1), which q_1 is up to exp(-B(1)) = 4e-5 of signal
    x = start.copy()
    h = 1 / n_steps
    sde_paths = [x[:keep].copy()]
    for i in range(n_steps):  # Euler-Maruyama from t = 1 down to 0
        t = 1 - i * h
        x = x + (0.5 * beta(t) * x + beta(t) * vp_score(x, t)) * h + np.sqrt(beta(t) * h) * rng.standard_normal(n)
        sde_paths.append(x[:keep].copy())
    sde_samples = x
    grid_t = np.linspace(1, 0, 201)
    ode = solve_ivp(pf_field, (1.0, 0.0), start, t_eval=grid_t, rtol=1e-6, atol=1e-6)
    ode_samples = ode.y[:, -1]
    xs = np.linspace(-4, 5, 361)
    image = np.array([vp_density(xs, t) for t in np.linspace(0, 1, 201)]).T
    fig, axes = plt.subplots(1, 4, figsize=(7.8, 2.3), gridspec_kw={"width_ratios": [1, 1, 0.8, 0.8]})
    for ax, title in zip(axes[:2], ["reverse SDE", "probability-flow ODE"]):
        ax.imshow(image, origin="lower", aspect="auto", extent=(0, 1, xs[0], xs[-1]), cmap="Blues", vmax=0.45)
        ax.set(xlim=(1, 0), xlabel=r"$t$, from 1 down to 0", title=title)
    axes[0].plot(np.linspace(1, 0, n_steps + 1), np.array(sde_paths), color="C3", linewidth=0.5)
    axes[1].plot(grid_t, ode.y[:keep].T, color="C3", linewidth=0.7)
    axes[0].set_ylabel("$x_t$")
    bins = np.linspace(-4, 5, 73)
    axes[2].hist(sde_samples, bins=bins, density=True, color="C0", alpha=0.45, label="SDE")
    axes[2].hist(ode_samples, bins=bins, density=True, histtype="step", color="C3", label="ODE")
    axes[2].plot(xs, vp_density(xs, 0.0), color="black", linewidth=0.9, label=r"$\pi$")
    axes[2].set(xlabel="$x_0$", title="samples")
    axes[2].legend(fontsize=6, loc="upper right")
    # log pi(x) = log p_1(x(1)) + int_0^1 div f~ dt along the ODE from x(0) = x; here div f~ = -beta/2 (1 + d score/dx).
    points = np.linspace(-3.5, 4.5, 17)

    def augmented(t, y):
        z, d = y[: len(points)], 1e-5
        slope = (vp_score(z + d, t) - vp_score(z - d, t)) / (2 * d)
        return np.concatenate([pf_field(t, z), -0.5 * beta(t) * (1 + slope)])

    out = solve_ivp(augmented, (0.0, 1.0), np.concatenate([points, np.zeros_like(points)]), rtol=1e-9, atol=1e-9)
    end, integral = out.y[: len(points), -1], out.y[len(points):, -1]
    log_normal = -0.5 * end**2 - 0.5 * np.log(2 * np.pi)
    axes[3].plot(xs, np.log(vp_density(xs, 0.0)), color="black", linewidth=0.9, label=r"$\log \pi(x)$")
    axes[3].plot(points, log_normal + integral, "o", color="C3", markersize=3, label="PF-ODE")
    axes[3].set(xlabel="$x$", ylim=(-9, 0), title="log-likelihood")
    axes[3].legend(fontsize=6, loc="lower center")
    style(axes)
    fig.tight_layout()
    return fig


def vp_ve_kernels() -> plt.Figure:
    """VP, sub-VP and VE perturbation kernels: mean coefficient and std over t, and the mixture's marginals."""
    t = np.linspace(0, 1, 401)
    fig, (ax_k, ax_vp, ax_ve) = plt.subplots(1, 3, figsize=(7.8, 2.35))
    m, s = vp_kernel(t)
    ax_k.plot(t, m, color="C0", label=r"VP: mean coef. $e^{-B(t)/2}$")
    ax_k.plot(t, s, color="C0", linestyle="--", label=r"VP: std $\sqrt{1 - e^{-B(t)}}$")
    ax_k.plot(t, subvp_kernel(t)[1], color="C2", linestyle="--", label=r"sub-VP: std $1 - e^{-B(t)}$")
    ax_k.plot(t, ve_kernel(t)[1], color="C3", linestyle="--", label=r"VE: std $\sqrt{\sigma^2(t) - \sigma^2(0)}$")
    ax_k.set(xlabel="$t$", yscale="log", ylim=(1e-3, 20), title="perturbation kernels $p_{0t}$")
    ax_k.legend(fontsize=5.5, loc="lower right")
    xs = np.linspace(-6, 7, 521)
    colours = ["black", "C0", "C2", "C3"]
    for t_, colour in zip([0.0, 0.1, 0.3, 1.0], colours):
        ax_vp.plot(xs, vp_density(xs, t_), color=colour, label=rf"$t = {t_:g}$")
    for t_, colour in zip([0.0, 0.6, 0.8, 1.0], colours):  # sigma(t) is geometric: small until late
        ax_ve.plot(xs, mixture(xs, *ve_kernel(t_))[0], color=colour, label=rf"$t = {t_:g}$, $\sigma = {ve_sigma(t_):.2g}$")
    ax_vp.set(xlabel="$x$", title=r"VP marginals $p_t$ (to $\mathcal{N}(0, 1)$)")
    ax_ve.set(xlabel="$x$", title=rf"VE marginals ($\sigma_{{\max}} = {SIGMA_MAX:g}$)")
    ax_vp.legend(fontsize=6)
    ax_ve.legend(fontsize=6)
    style([ax_k, ax_vp, ax_ve])
    fig.tight_layout()
    return fig


FIGURES = {  # file name (PDF) -> function that draws it
    "brownian": brownian,
    "ou_paths": ou_paths,
    "fokker_planck": fokker_planck,
    "pf_ode_vs_sde": pf_ode_vs_sde,
    "vp_ve_kernels": vp_ve_kernels,
}
