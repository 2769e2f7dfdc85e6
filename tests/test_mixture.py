"""dgm.mixture: the noised Gaussian mixture's density, score and noise prediction in closed form."""

from __future__ import annotations

import torch

from dgm.mixture import GaussianMixture

MIXTURE = GaussianMixture([0.3, 0.7], [[-2.0, 0.5], [1.5, -1.0]], [0.3, 0.5])


def test_score_is_the_gradient_of_the_log_density():
    x = torch.randn(16, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    alpha_bar = torch.rand(16, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    for component in (None, 0, torch.tensor([0, 1] * 8)):
        (autograd,) = torch.autograd.grad(MIXTURE.log_prob(x, alpha_bar, component).sum(), x)
        assert torch.allclose(MIXTURE.score(x.detach(), alpha_bar, component), autograd, atol=1e-12)


def test_noised_density_is_the_forward_process_of_the_mixture():
    """Monte Carlo: x_t = sqrt(abar) x_0 + sqrt(1 - abar) eps has the noised mixture's moments (20,000 draws, 5 standard errors)."""
    generator = torch.Generator().manual_seed(2)
    x0, _ = MIXTURE.sample(20_000, generator)
    alpha_bar = 0.6
    x_t = alpha_bar**0.5 * x0 + (1 - alpha_bar) ** 0.5 * torch.randn(x0.shape, generator=generator, dtype=torch.float64)
    grid = torch.linspace(-5, 5, 201, dtype=torch.float64)
    density = MIXTURE.log_prob(torch.stack([grid, torch.zeros_like(grid)], 1), alpha_bar).exp()
    mean = alpha_bar**0.5 * (MIXTURE.weights @ MIXTURE.means)
    assert ((x_t.mean(0) - mean).abs() < 5 * x_t.std(0) / 20_000**0.5).all()
    assert density.isfinite().all() and (density > 0).all()


def test_eps_of_the_clean_mixture_vanishes_and_of_pure_noise_is_x():
    x = torch.randn(8, 2, dtype=torch.float64)
    assert torch.equal(MIXTURE.eps(x, 1.0), torch.zeros_like(x))
    assert torch.allclose(MIXTURE.eps(x, 0.0), x)  # q_T = N(0, I): eps* = x
    posterior = MIXTURE.posterior(x, 0.5)
    assert torch.allclose(posterior.sum(1), torch.ones(8, dtype=torch.float64))


def test_eps_model_is_conditional_where_labelled():
    alpha_bar = torch.linspace(1, 0.01, 11, dtype=torch.float64)
    model = MIXTURE.eps_model(alpha_bar)
    x, t = torch.randn(4, 2, dtype=torch.float64), torch.tensor([1, 3, 5, 10])
    y = torch.tensor([-1, 0, 1, -1])
    found = model(x, t, y)
    assert torch.equal(found[[0, 3]], MIXTURE.eps(x[[0, 3]], alpha_bar[t[[0, 3]]]))
    assert torch.equal(found[1:2], MIXTURE.eps(x[1:2], alpha_bar[3:4], 0)) and torch.equal(found[2:3], MIXTURE.eps(x[2:3], alpha_bar[5:6], 1))
    assert torch.equal(model(x, t), MIXTURE.eps(x, alpha_bar[t]))
