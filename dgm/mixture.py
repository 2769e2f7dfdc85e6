"""Gaussian mixtures whose noised versions are known in closed form: exact scores for diffusion models.

Under the forward process of a diffusion model, :math:`q(\\mathbf{x}_t\\mid\\mathbf{x}_0)=
\\mathcal{N}(\\sqrt{\\bar\\alpha_t}\\,\\mathbf{x}_0,(1-\\bar\\alpha_t)\\mathbf{I})`, a mixture
:math:`\\sum_k w_k\\,\\mathcal{N}(\\boldsymbol\\mu_k, s_k^2\\mathbf{I})` stays a mixture:
:math:`q_t=\\sum_k w_k\\,\\mathcal{N}(\\sqrt{\\bar\\alpha_t}\\boldsymbol\\mu_k,(\\bar\\alpha_t s_k^2+1-\\bar\\alpha_t)\\mathbf{I})`.
Its score, and the noise prediction :math:`\\boldsymbol\\epsilon^*=-\\sqrt{1-\\bar\\alpha_t}\\,\\nabla\\log q_t` that an
ideal network would output, are therefore exact: seminars and the grader drive a sampler with them, so a sampler is
tested apart from any training.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["GaussianMixture", "MixtureEps"]


class GaussianMixture:
    """:math:`\\sum_k w_k\\,\\mathcal{N}(\\boldsymbol\\mu_k, s_k^2\\mathbf{I})` in :math:`\\mathbb{R}^d`, in float64.

    Args:
        weights: ``(K,)`` mixture weights (normalised here).
        means: ``(K, d)`` component means.
        stds: ``(K,)`` isotropic component standard deviations.
    """

    def __init__(self, weights, means, stds):
        self.weights = torch.as_tensor(weights, dtype=torch.float64)
        self.weights = self.weights / self.weights.sum()
        self.means = torch.as_tensor(means, dtype=torch.float64).reshape(len(self.weights), -1)
        self.stds = torch.as_tensor(stds, dtype=torch.float64).reshape(len(self.weights))

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def sample(self, n: int, generator: torch.Generator | None = None, component: int | None = None) -> tuple[Tensor, Tensor]:
        """``n`` draws ``(n, d)`` and their components ``(n,)``; from one component only if ``component`` is given."""
        if component is None:
            k = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        else:
            k = torch.full((n,), component, dtype=torch.long)
        noise = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        return self.means[k] + self.stds[k, None] * noise, k

    def _noised_components(self, x: Tensor, alpha_bar: Tensor) -> tuple[Tensor, Tensor]:
        """Per-component log-densities ``(B, K)`` (weights not included) and variances ``(B, K)`` of q_t at ``x`` (B, d)."""
        alpha_bar = torch.as_tensor(alpha_bar, dtype=torch.float64).reshape(-1, 1)  # (B or 1, 1)
        centres = alpha_bar.sqrt()[:, :, None] * self.means[None]  # (B, K, d)
        variances = alpha_bar * self.stds**2 + 1 - alpha_bar  # (B, K)
        squared = (x.double()[:, None, :] - centres).pow(2).sum(-1)  # (B, K)
        log_densities = -0.5 * (squared / variances + self.dim * torch.log(2 * math.pi * variances))
        return log_densities, variances

    def log_prob(self, x: Tensor, alpha_bar: Tensor | float = 1.0, component: int | Tensor | None = None) -> Tensor:
        """:math:`\\log q_t(\\mathbf{x})` ``(B,)`` of the mixture noised to ``alpha_bar`` (a number or ``(B,)``; 1: the
        mixture itself); of one component (a number, or ``(B,)`` labels) if ``component`` is given."""
        log_densities, _ = self._noised_components(x, alpha_bar)
        if component is not None:
            k = torch.as_tensor(component).expand(len(x)).long()
            return log_densities.gather(1, k[:, None]).squeeze(1)
        return torch.logsumexp(log_densities + self.weights.log(), dim=1)

    def posterior(self, x: Tensor, alpha_bar: Tensor | float = 1.0) -> Tensor:
        """:math:`q_t(k\\mid\\mathbf{x})` ``(B, K)``: which component a (noised) point came from."""
        log_densities, _ = self._noised_components(x, alpha_bar)
        return torch.softmax(log_densities + self.weights.log(), dim=1)

    def score(self, x: Tensor, alpha_bar: Tensor | float = 1.0, component: int | Tensor | None = None) -> Tensor:
        """:math:`\\nabla_{\\mathbf{x}}\\log q_t(\\mathbf{x})` ``(B, d)`` in float64 (of one component if ``component`` is given)."""
        alpha_bar_ = torch.as_tensor(alpha_bar, dtype=torch.float64).reshape(-1, 1)
        log_densities, variances = self._noised_components(x, alpha_bar)
        if component is None:
            responsibilities = torch.softmax(log_densities + self.weights.log(), dim=1)  # (B, K)
        else:
            k = torch.as_tensor(component).expand(len(x)).long()
            responsibilities = torch.nn.functional.one_hot(k, len(self.weights)).double()
        centres = alpha_bar_.sqrt()[:, :, None] * self.means[None]  # (B, K, d)
        per_component = -(x.double()[:, None, :] - centres) / variances[:, :, None]  # (B, K, d)
        return (responsibilities[:, :, None] * per_component).sum(1)

    def eps(self, x: Tensor, alpha_bar: Tensor | float, component: int | Tensor | None = None) -> Tensor:
        """The exact noise prediction :math:`-\\sqrt{1-\\bar\\alpha_t}\\,\\nabla\\log q_t(\\mathbf{x})` ``(B, d)``, in ``x``'s dtype."""
        alpha_bar_ = torch.as_tensor(alpha_bar, dtype=torch.float64).reshape(-1, 1)
        return (-(1 - alpha_bar_).sqrt() * self.score(x, alpha_bar, component)).to(x.dtype)

    def eps_model(self, alpha_bar: Tensor, null: int = -1) -> nn.Module:
        """An ideal noise-prediction network ``eps_model(x_t, t, y)`` for a diffusion with cumulative products
        ``alpha_bar`` (``(T + 1,)``, indexed by t): rows labelled ``null`` get the mixture's exact prediction, rows
        labelled ``k`` that of component ``k`` (a class-conditional model whose classes are the components)."""
        return MixtureEps(self, alpha_bar, null)


class MixtureEps(nn.Module):
    """The exact :math:`\\boldsymbol\\epsilon^*(\\mathbf{x}_t, t, y)` of a noised :class:`GaussianMixture`, with a network's
    signature: ``x_t`` ``(B, d)``, ``t`` ``(B,)`` integers, ``y`` ``(B,)`` labels (``null``: unconditional) or ``None``."""

    def __init__(self, mixture: GaussianMixture, alpha_bar: Tensor, null: int = -1):
        super().__init__()
        self.mixture, self.null = mixture, null
        self.register_buffer("alpha_bar", torch.as_tensor(alpha_bar, dtype=torch.float64))

    def forward(self, x_t: Tensor, t: Tensor, y: Tensor | None = None) -> Tensor:
        alpha_bar = self.alpha_bar[t.long()]  # (B,)
        eps = self.mixture.eps(x_t, alpha_bar)
        if y is not None and (y != self.null).any():
            labelled = y != self.null
            eps[labelled] = self.mixture.eps(x_t[labelled], alpha_bar[labelled], y[labelled])
        return eps
