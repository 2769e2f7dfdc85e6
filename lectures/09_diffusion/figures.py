"""Figures of lecture 9, drawn with fixed seeds; ``lectures/build.py`` saves each entry of FIGURES as a PDF.

Everything is exact or closed form: the data is a 1D Gaussian mixture, whose noised marginals q_t are Gaussian
mixtures again, so the optimal noise prediction eps*(x, t) = E[eps | x_t = x] and the reverse kernels need no network.
"""

import matplotlib.pyplot as plt
import numpy as np
import torch

torch.set_num_threads(1)

T = 1000  # number of diffusion steps, as in Ho et al. (2020)


def linear_schedule(steps: int = T, beta_1: float = 1e-4, beta_T: float = 0.02) -> np.ndarray:
    """beta_t, t = 1..T, linear from beta_1 to beta_T (Ho et al., 2020); float64, shape (T,)."""
    return np.linspace(beta_1, beta_T, steps)


def cosine_schedule(steps: int = T, s: float = 0.008, max_beta: float = 0.999) -> np.ndarray:
    """beta_t of Nichol and Dhariwal (2021): abar_t = f(t) / f(0), f(t) = cos^2((t / T + s) / (1 + s) pi / 2).

    beta_t = 1 - abar_t / abar_{t-1}, clipped at max_beta; shape (T,).
    """
    f = np.cos((np.arange(steps + 1) / steps + s) / (1 + s) * np.pi / 2) ** 2
    abar = f / f[0]
    return np.minimum(1 - abar[1:] / abar[:-1], max_beta)


def alpha_bar(beta: np.ndarray) -> np.ndarray:
    """abar_t = prod_{s <= t} (1 - beta_s) for t = 0..T, with abar_0 = 1; shape (T + 1,)."""
    return np.concatenate([[1.0], np.cumprod(1 - beta)])


class Mixture:
    """The data pi = sum_k w_k N(m_k, s_k^2) and its noised marginals.

    q_t = sum_k w_k N(sqrt(abar) m_k, abar s_k^2 + 1 - abar), abar = abar_t: a mixture again, in closed form.
    """

    def __init__(self) -> None:
        self.w = np.array([0.35, 0.65])
        self.m = np.array([-1.2, 0.9])
        self.s = np.array([0.12, 0.3])

    def components(self, x: np.ndarray, abar: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Weighted component densities w_k N(x; mean_k, var_k), means and variances; x (N,) -> (N, K), (K,), (K,)."""
        mean, var = np.sqrt(abar) * self.m, abar * self.s**2 + 1 - abar
        dens = self.w * np.exp(-((x[:, None] - mean) ** 2) / (2 * var)) / np.sqrt(2 * np.pi * var)
        return dens, mean, var

    def density(self, x: np.ndarray, abar: float) -> np.ndarray:
        """q_t(x) for the noise level abar = abar_t; (N,)."""
        return self.components(x, abar)[0].sum(1)

    def score(self, x: np.ndarray, abar: float) -> np.ndarray:
        """d/dx log q_t(x) = sum_k r_k(x) (mean_k - x) / var_k, r_k the responsibilities; (N,)."""
        mean, var = np.sqrt(abar) * self.m, abar * self.s**2 + 1 - abar
        log_dens = np.log(self.w) - (x[:, None] - mean) ** 2 / (2 * var) - 0.5 * np.log(2 * np.pi * var)
        r = np.exp(log_dens - log_dens.max(1, keepdims=True))  # responsibilities, stable far from the modes
        r /= r.sum(1, keepdims=True)
        return (r * (mean - x[:, None]) / var).sum(1)

    def eps(self, x: np.ndarray, abar: float) -> np.ndarray:
        """The optimal noise prediction E[eps | x_t = x] = -sqrt(1 - abar) d/dx log q_t(x); (N,)."""
        return -np.sqrt(1 - abar) * self.score(x, abar)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """n draws from pi; (n,)."""
        k = rng.choice(len(self.w), size=n, p=self.w)
        return self.m[k] + self.s[k] * rng.standard_normal(n)


def style(*axes: plt.Axes) -> None:
    for ax in axes:
        ax.tick_params(labelsize=7)
        ax.title.set_fontsize(9)
        ax.xaxis.label.set_fontsize(8)
        ax.yaxis.label.set_fontsize(8)


def noise_schedules() -> plt.Figure:
    """abar_t and log SNR_t = log(abar_t / (1 - abar_t)) for the linear and cosine schedules, T = 1000."""
    t = np.arange(T + 1)
    fig, (ax_a, ax_s) = plt.subplots(1, 2, figsize=(7.0, 2.3))
    for name, beta, colour in (("linear, $10^{-4} \\ldots 0.02$", linear_schedule(), "C0"),
                               ("cosine, $s = 0.008$", cosine_schedule(), "C3")):
        abar = alpha_bar(beta)
        ax_a.plot(t, abar, color=colour, label=name)
        ax_s.plot(t[1:], np.log(abar[1:] / (1 - abar[1:])), color=colour, label=name)
    ax_a.set(xlabel="$t$", title=r"$\bar\alpha_t$: the share of signal variance")
    ax_a.legend(fontsize=7)
    ax_s.axhline(0, color="grey", linewidth=0.5)
    ax_s.set(xlabel="$t$", title=r"$\log \mathrm{SNR}_t = \log \frac{\bar\alpha_t}{1 - \bar\alpha_t}$")
    ax_s.legend(fontsize=7)
    style(ax_a, ax_s)
    fig.tight_layout()
    return fig


def noised_mixture() -> plt.Figure:
    """q_t of the 1D mixture for several t (linear schedule) and the regression target eps*(x, t) = E[eps | x_t = x]."""
    mix = Mixture()
    abar = alpha_bar(linear_schedule())
    x = np.linspace(-3.2, 3.2, 801)
    fig, (ax_q, ax_e) = plt.subplots(1, 2, figsize=(7.0, 2.4))
    steps = (0, 50, 150, 300, 600, 1000)
    colours = plt.cm.viridis(np.linspace(0, 0.9, len(steps)))
    for t, colour in zip(steps, colours):
        label = rf"$t = {t}$, $\bar\alpha_t = {abar[t]:.2g}$"
        ax_q.plot(x, mix.density(x, abar[t]), color=colour, label=label)
        if t > 0:
            ax_e.plot(x, mix.eps(x, abar[t]), color=colour, label=f"$t = {t}$")
    ax_q.set(xlabel="$x$", ylim=(0, 1.4),
             title=r"$q_t(x) = \sum_k w_k \mathcal{N}(\sqrt{\bar\alpha_t} m_k, \bar\alpha_t s_k^2 + 1 - \bar\alpha_t)$")
    ax_q.legend(fontsize=6, loc="upper left")
    ax_e.axhline(0, color="grey", linewidth=0.5)
    ax_e.set(xlabel="$x$", ylim=(-3.5, 3.5),
             title=r"$\epsilon^*(x, t) = \mathbb{E}[\epsilon \mid x_t = x] = -\sqrt{1 - \bar\alpha_t}\, \nabla \log q_t(x)$")
    ax_e.legend(fontsize=6, loc="upper left")
    style(ax_q, ax_e)
    fig.tight_layout()
    return fig


def reverse_kernel() -> plt.Figure:
    """The exact reverse kernel q(x_s | x_t) of the mixture, by Bayes on a grid, against two Gaussians.

    q(x_s | x_t) is proportional to q(x_t | x_s) q_s(x_s), with q(x_t | x_s) = N(sqrt(a) x_s, b), a = abar_t / abar_s,
    b = 1 - a (the composition law). Both Gaussians have the exact mean (x_t - b / sqrt(1 - abar_t) eps*(x_t)) / sqrt(a)
    and variance b ("large") or (1 - abar_s) / (1 - abar_t) b ("small").
    """
    mix = Mixture()
    abar = alpha_bar(linear_schedule())
    grid = np.linspace(-3, 3, 6001)
    fig, axes = plt.subplots(1, 2, figsize=(7.0, 2.3))
    for ax, (s, t, x_t) in zip(axes, ((299, 300, -0.3), (100, 300, -0.3))):
        a = abar[t] / abar[s]
        b = 1 - a
        exact = np.exp(-((x_t - np.sqrt(a) * grid) ** 2) / (2 * b)) * mix.density(grid, abar[s])
        exact /= exact.sum() * (grid[1] - grid[0])
        mean = (x_t - b / np.sqrt(1 - abar[t]) * mix.eps(np.array([x_t]), abar[t])[0]) / np.sqrt(a)
        small = (1 - abar[s]) / (1 - abar[t]) * b
        centre = (grid * exact).sum() / exact.sum()
        width = 5 * np.sqrt(b)
        shown = np.abs(grid - centre) < width
        ax.fill_between(grid[shown], exact[shown], color="0.75", label=r"exact $q(x_s \mid x_t)$")
        for var, colour, name in ((b, "C0", r"$\mathcal{N}(\mathrm{mean}, \beta)$"),
                                  (small, "C3", r"$\mathcal{N}(\mathrm{mean}, \tilde\beta)$")):
            ax.plot(grid[shown], np.exp(-((grid[shown] - mean) ** 2) / (2 * var)) / np.sqrt(2 * np.pi * var),
                    color=colour, linestyle="--" if colour == "C3" else "-", linewidth=1, label=name)
        ax.axvline(mean, color="black", linewidth=0.5)
        ax.set(xlabel="$x_s$", title=rf"from $t = {t}$ to $s = {s}$: $\beta = 1 - \bar\alpha_t / \bar\alpha_s = {b:.3g}$")
        ax.legend(fontsize=6.5, loc="upper left")
    style(*axes)
    fig.tight_layout()
    return fig


def ancestral(mix: Mixture, beta: np.ndarray, x_T: np.ndarray, rng: np.random.Generator, small: bool = False,
              keep: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Algorithm 2 of Ho et al. (2020) with the exact eps*: returns x_0 (N,) and the first `keep` paths (keep, T + 1)."""
    abar = alpha_bar(beta)
    x = x_T.copy()
    paths = np.empty((keep, len(beta) + 1))
    paths[:, -1] = x[:keep]
    for t in range(len(beta), 0, -1):
        b, a = beta[t - 1], 1 - beta[t - 1]
        var = (1 - abar[t - 1]) / (1 - abar[t]) * b if small else b
        z = rng.standard_normal(len(x)) if t > 1 else 0.0
        x = (x - b / np.sqrt(1 - abar[t]) * mix.eps(x, abar[t])) / np.sqrt(a) + np.sqrt(var) * z
        paths[:, t - 1] = x[:keep]
    return x, paths


def forward_reverse_1d() -> plt.Figure:
    """Forward paths over the density q_t(x), reverse paths of ancestral sampling with the exact eps*, and the samples.

    Right: histograms of x_0 from 20 000 reverse chains (T = 1000, sigma_t^2 = beta_t) and from a 4-step chain
    (cosine schedule, sigma_t^2 = beta_t) with the same exact eps*: each step's mean is exact, its Gaussian shape is not.
    """
    mix = Mixture()
    beta = linear_schedule()
    abar = alpha_bar(beta)
    rng = np.random.default_rng(0)
    fig, axes = plt.subplots(1, 3, figsize=(7.6, 2.4), gridspec_kw={"width_ratios": [1.15, 1.15, 0.8]})
    ax_f, ax_r, ax_h = axes
    grid = np.linspace(-3, 3, 301)
    t_axis = np.arange(0, T + 1, 5)
    density = np.array([mix.density(grid, abar[t]) for t in t_axis]).T
    for ax in (ax_f, ax_r):
        ax.imshow(np.sqrt(density), origin="lower", aspect="auto", extent=(0, T, grid[0], grid[-1]), cmap="Blues",
                  vmax=np.sqrt(density).max() * 1.2)
    n_paths = 5
    x = mix.sample(rng, n_paths)
    forward = [x]
    for t in range(1, T + 1):
        x = np.sqrt(1 - beta[t - 1]) * x + np.sqrt(beta[t - 1]) * rng.standard_normal(n_paths)
        forward.append(x)
    ax_f.plot(np.arange(T + 1), np.array(forward), linewidth=0.6)
    ax_f.set(xlabel="$t$", ylabel="$x_t$", title=r"forward: $x_t = \sqrt{1 - \beta_t}\, x_{t-1} + \sqrt{\beta_t}\, \epsilon$")
    samples, paths = ancestral(mix, beta, rng.standard_normal(20_000), rng, keep=n_paths)
    ax_r.plot(np.arange(T + 1), paths.T, linewidth=0.6)
    ax_r.set(xlabel="$t$", ylim=(grid[0], grid[-1]), title=r"reverse: ancestral sampling with $\epsilon^*$")
    ax_r.invert_xaxis()
    few, _ = ancestral(mix, cosine_schedule(4), rng.standard_normal(20_000), rng)
    bins = np.linspace(-2.2, 2.2, 89)
    ax_h.fill_betweenx(grid, mix.density(grid, 1.0), color="0.8", label=r"data $\pi$")
    ax_h.hist(samples, bins=bins, density=True, orientation="horizontal", histtype="step", color="C0", label="$T = 1000$")
    ax_h.hist(few, bins=bins, density=True, orientation="horizontal", histtype="step", color="C3", label="$T = 4$")
    ax_h.set(ylim=(grid[0], grid[-1]), xlim=(0, 2.4), yticks=[], xlabel="density of $x_0$", title="20 000 samples")
    ax_h.legend(fontsize=6.5, loc="upper right")
    style(*axes)
    fig.tight_layout()
    return fig


def elbo_weights() -> plt.Figure:
    """The ELBO weights lambda_t = beta_t^2 / (2 sigma_t^2 alpha_t (1 - abar_t)) of ||eps - eps_theta||^2, linear schedule.

    Right: the share of the total weight on steps <= t, for the ELBO and for L_simple (uniform weights).
    """
    beta = linear_schedule()
    abar = alpha_bar(beta)
    t = np.arange(2, T + 1)
    b, a, ab, ab_prev = beta[t - 1], 1 - beta[t - 1], abar[t], abar[t - 1]
    weights = {
        r"$\sigma_t^2 = \beta_t$": (b**2 / (2 * b * a * (1 - ab)), "C0", "-"),
        r"$\sigma_t^2 = \tilde\beta_t$": (b**2 / (2 * (1 - ab_prev) / (1 - ab) * b * a * (1 - ab)), "C3", "--"),
    }
    fig, (ax_w, ax_c) = plt.subplots(1, 2, figsize=(7.0, 2.3))
    for name, (lam, colour, dash) in weights.items():
        ax_w.plot(t, lam, color=colour, linestyle=dash, label=name)
        ax_c.plot(t, np.cumsum(lam) / lam.sum(), color=colour, linestyle=dash, label=f"ELBO, {name}")
    ax_w.set(xlabel="$t$ (log scale)", xscale="log", yscale="log",
             title=r"$\lambda_t = \frac{\beta_t^2}{2 \sigma_t^2 \alpha_t (1 - \bar\alpha_t)}$ (linear schedule)")
    ax_w.legend(fontsize=7)
    ax_c.plot(t, (t - 1) / (T - 1), color="black", label=r"$L_{\mathrm{simple}}$: uniform")
    ax_c.set(xlabel="$t$", ylim=(0, 1.02), title=r"share of the total weight on steps $\leq t$")
    ax_c.legend(fontsize=7, loc="lower right")
    style(ax_w, ax_c)
    fig.tight_layout()
    return fig


def normal_cdf(x: np.ndarray) -> np.ndarray:
    """Phi(x) in float64, with Phi(+-inf) = 1, 0."""
    return torch.special.ndtr(torch.as_tensor(x, dtype=torch.float64)).numpy()


def bin_masses(levels: np.ndarray, mean: float, std: float) -> np.ndarray:
    """Masses of N(mean, std^2) on the bins of the levels: half-way between neighbours, the edge bins to +-inf."""
    edges = np.concatenate([[-np.inf], (levels[1:] + levels[:-1]) / 2, [np.inf]])
    return np.diff(normal_cdf((edges - mean) / std))


def discretised_decoder() -> plt.Figure:
    """The discretised Gaussian decoder: bin masses of N(mu, sigma^2) on 8 levels, and L_0 on 256 levels.

    Right: -log2 of the mass of the correct bin, in bits per dimension, against the error of the decoder's mean in
    units of one level (2 / 255), for sigma_1 = sqrt(beta_1) = 0.01 and sigma_1 = sqrt(tilde beta_2) (Ho et al.'s
    code); dotted: the density times the bin width, the approximation behind L_simple's t = 1 term.
    """
    fig, (ax_8, ax_256) = plt.subplots(1, 2, figsize=(7.0, 2.3))
    levels = np.linspace(-1, 1, 8)
    edges = np.concatenate([[-np.inf], (levels[1:] + levels[:-1]) / 2, [np.inf]])
    mean, std = 0.75, 0.3
    x = np.linspace(-1.6, 1.6, 1601)
    dens = np.exp(-((x - mean) ** 2) / (2 * std**2)) / np.sqrt(2 * np.pi * std**2)
    masses = bin_masses(levels, mean, std)
    for k, (low, high) in enumerate(zip(edges[:-1], edges[1:])):
        inside = (x >= low) & (x <= high)
        ax_8.fill_between(x[inside], dens[inside], color="C0" if k % 2 else "C1", alpha=0.45, linewidth=0)
        if masses[k] > 0.005:
            ax_8.text(levels[k], dens.max() * 1.05, f"{masses[k]:.2f}", fontsize=6.5, ha="center")
    ax_8.plot(x, dens, color="black", linewidth=0.8)
    ax_8.plot(levels, np.zeros_like(levels), "|", color="black", markersize=8)
    ax_8.set(xlabel="$x$ (ticks: the 8 levels)", ylim=(0, dens.max() * 1.25), yticks=[],
             title=rf"8 levels, $\mathcal{{N}}({mean}, {std}^2)$: bin masses, edge bins to $\pm\infty$")
    width = 2 / 255
    error = np.linspace(0, 3, 301)  # in levels
    for var, colour, name in ((1e-4, "C0", r"$\sigma_1^2 = \beta_1 = 10^{-4}$"),
                              (5.4532e-5, "C3", r"$\sigma_1^2 = \tilde\beta_2 \approx 5.5 \cdot 10^{-5}$")):
        std = np.sqrt(var)
        d = error * width
        mass = normal_cdf((d + width / 2) / std) - normal_cdf((d - width / 2) / std)
        ax_256.plot(error, -np.log2(mass), color=colour, label=name)
        ax_256.plot(error, -np.log2(width * np.exp(-(d**2) / (2 * var)) / np.sqrt(2 * np.pi * var)), color=colour,
                    linestyle=":", linewidth=1)
    ax_256.plot([], [], color="grey", linestyle=":", label="density $\\times$ bin width")
    ax_256.set(xlabel=r"$|\mu_{\theta} - x_0|$ in levels ($2/255$)", ylabel="bits", ylim=(0, 6),
               title=r"$L_0$ of one of 256 levels, in bits")
    ax_256.legend(fontsize=6.5, loc="upper left")
    style(ax_8, ax_256)
    fig.tight_layout()
    return fig


FIGURES = {  # file name (PDF) -> function that draws it
    "noise_schedules": noise_schedules,
    "noised_mixture": noised_mixture,
    "reverse_kernel": reverse_kernel,
    "forward_reverse_1d": forward_reverse_1d,
    "elbo_weights": elbo_weights,
    "discretised_decoder": discretised_decoder,
}
