"""Homework 4 (WGAN-GP) hidden checks, one ``test_<grade_id>`` per autograded cell.

The losses and the penalty are judged on critics whose every value and gradient the grader knows in closed
form (a linear critic; a smooth tanh critic whose input gradient is written out), in float64. The training
step is instrumented: which optimiser steps when, and whether the generator's gradient at its step is the
gradient of L_G alone, recomputed by the grader in its own copy of the course networks.

After the grader's recipes nothing the student's code reports is used: the probes return the trained
networks' states, and the grader evaluates them in its own copies of the notebook's networks (the
instructor's ``setup_models`` cell, executed here): the critic's estimate of W1 and its slopes against the
exact penalised optimum in one dimension, the modes the generator covers on eight Gaussians with the
grader's noise, and the sample quality of digits.
"""

from __future__ import annotations

import math
import types

import torch

import dgm
from autograder import quality
from autograder.calibrate import Calibration, QualityCalibration
from autograder.harness import GRADER_SEED
from autograder.notebook import instructor_namespace

TOLERANCE = 1e-6
"""Relative tolerance of values the grader recomputes in float64 from the same inputs."""


def _close(found: torch.Tensor, expected: torch.Tensor, tolerance: float = TOLERANCE) -> bool:
    found, expected = torch.as_tensor(found).double(), torch.as_tensor(expected).double()
    return found.shape == expected.shape and bool(((found - expected).abs() <= tolerance * (1 + expected.abs())).all())


def course(submission) -> types.SimpleNamespace:
    """The notebook's set-up cells (imports, networks, the 1D data) executed in the grader's process."""
    return instructor_namespace(str(submission.homework.source_notebook))


# --------------------------------------------------------------------------------------------------
# Losses


def _linear_critic(generator: torch.Generator, shape: tuple[int, ...], batch: int, scale: float = 1.0):
    d = math.prod(shape)
    w = scale * torch.randn(d, generator=generator, dtype=torch.float64)
    b = torch.randn((), generator=generator, dtype=torch.float64)
    real = torch.randn(batch, *shape, generator=generator, dtype=torch.float64) + 0.5
    fake = torch.randn(batch, *shape, generator=generator, dtype=torch.float64) - 0.5
    return w, b, real, fake


def test_losses(submission):
    generator = submission.private_generator("losses")
    w, b, real, fake = _linear_critic(generator, (1, 3, 5), 24)
    found = submission.probe("wgan_losses", inputs={"w": w, "b": b, "real": real, "fake": fake})
    f_real, f_fake = real.flatten(1) @ w + b, fake.flatten(1) @ w + b
    expected = f_fake.mean() - f_real.mean()
    for name in ("critic_loss", "generator_loss"):
        assert found[name].shape == (), f"{name} should return a scalar, got shape {tuple(found[name].shape)}"
    hints = {"the sign is flipped: the critic minimises E f(fake) - E f(real)": -expected,
             "use means over the batch, not sums": expected * len(real)}
    hint = next((f" ({text})" for text, wrong in hints.items() if _close(found["critic_loss"], wrong)), "")
    assert _close(found["critic_loss"], expected), (
        f"critic_loss of a linear critic is {found['critic_loss'].item():.6g}, expected E f(fake) - E f(real) = {expected.item():.6g}{hint}")
    assert _close(found["critic_grads"]["w"], fake.flatten(1).mean(0) - real.flatten(1).mean(0)), (
        "critic_loss's gradient in the critic's weights is wrong: is the critic applied to the inputs as given?")
    expected_g = -f_fake.mean()
    hint = " (the sign is flipped: the generator minimises -E f(fake))" if _close(found["generator_loss"], -expected_g) else ""
    assert _close(found["generator_loss"], expected_g), (
        f"generator_loss is {found['generator_loss'].item():.6g}, expected -E f(fake) = {expected_g.item():.6g}{hint}")
    assert _close(found["generator_grads"]["w"], -fake.flatten(1).mean(0)), "generator_loss's gradient in the critic's weights is wrong"


def test_nonsaturating(submission):
    generator = submission.private_generator("nonsaturating")
    w, b, real, fake = _linear_critic(generator, (7,), 32, scale=300.0)  # logits in the hundreds: log(sigmoid(.)) overflows
    found = submission.probe("nonsaturating", inputs={"w": w, "b": b, "real": real, "fake": fake})
    softplus = torch.nn.functional.softplus
    l_real, l_fake = real @ w + b, fake @ w + b
    d_loss, g_loss = softplus(-l_real).mean() + softplus(l_fake).mean(), softplus(-l_fake).mean()
    assert found["d_loss"].isfinite() and found["g_loss"].isfinite(), (
        "with logits of several hundred the losses are not finite: use F.softplus or F.logsigmoid on the logits")
    saturating = -softplus(l_fake).mean()  # E log(1 - D(fake)), the generator loss that saturates
    hint = " (that is the saturating E log(1 - D(fake)); minimise -E log D(fake))" if _close(found["g_loss"], saturating) else ""
    assert _close(found["g_loss"], g_loss), f"the generator loss is {found['g_loss'].item():.6g}, expected -E log D(fake) = {g_loss.item():.6g}{hint}"
    assert _close(found["d_loss"], d_loss), (
        f"the discriminator loss is {found['d_loss'].item():.6g}, expected -E log D(real) - E log(1 - D(fake)) = {d_loss.item():.6g}")
    sigmoid = torch.sigmoid
    expected_grad = -((1 - sigmoid(l_real))[:, None] * real).mean(0) + (sigmoid(l_fake)[:, None] * fake).mean(0)
    assert _close(found["d_grads"]["w"], expected_grad, 1e-5), "the discriminator loss's gradient is wrong although its value is right"


# --------------------------------------------------------------------------------------------------
# The gradient penalty


def _tanh_critic(generator: torch.Generator, d: int, scale: float, hidden: int = 6) -> dict:
    """A random smooth critic; ``scale`` sets its slope (gradient norms about 0.5-4 at 1, all below 1 at 0.25)."""
    return {"W": torch.randn(hidden, d, generator=generator, dtype=torch.float64) / math.sqrt(d),
            "c": torch.randn(hidden, generator=generator, dtype=torch.float64),
            "v": scale * torch.randn(hidden, generator=generator, dtype=torch.float64),
            "a": 0.3 * scale * torch.randn(d, generator=generator, dtype=torch.float64)}


def expected_penalty(params: dict, real: torch.Tensor, fake: torch.Tensor, eps: torch.Tensor, one_sided: bool = False) -> tuple[torch.Tensor, dict]:
    """The penalty of f(x) = v . tanh(W x + c) + <a, x> from its input gradient written out,
    grad f(x) = W^T (v * (1 - tanh^2(W x + c))) + a, and its parameter gradients by autograd (no double backprop)."""
    leaves = {name: value.clone().requires_grad_() for name, value in params.items()}
    W, c, v, a = leaves["W"], leaves["c"], leaves["v"], leaves["a"]
    weights = eps.view(-1, *[1] * (real.dim() - 1))
    x_hat = (weights * real + (1 - weights) * fake).flatten(1)  # (B, D)
    slope = (v * (1 - torch.tanh(x_hat @ W.T + c).pow(2))) @ W + a  # (B, D)
    excess = slope.norm(dim=1) - 1
    gp = (excess.clamp_min(0) if one_sided else excess).pow(2).mean()
    grads = torch.autograd.grad(gp, list(leaves.values()))
    return gp.detach(), dict(zip(leaves, grads))


def test_gradient_penalty(submission):
    generator = submission.private_generator("penalty")
    for shape, scale in (((3,), 1.0), ((1, 4, 4), 1.0), ((1, 4, 4), 0.25)):
        d, batch = math.prod(shape), 16
        params = _tanh_critic(generator, d, scale)
        real = torch.randn(batch, *shape, generator=generator, dtype=torch.float64)
        fake = torch.randn(batch, *shape, generator=generator, dtype=torch.float64) + 1
        eps = torch.rand(batch, generator=generator, dtype=torch.float64)
        found = submission.probe("penalty", inputs={**params, "real": real, "fake": fake, "eps": eps})
        gp, grads = expected_penalty(params, real, fake, eps)
        assert found["gp"].shape == (), f"gradient_penalty should return a scalar, got shape {tuple(found['gp'].shape)}"
        hints = {
            "the penalty sits on the interpolates eps real + (1 - eps) fake, not on the real points": expected_penalty(params, real, fake, torch.ones_like(eps))[0],
            "eps weighs the real point: x_hat = eps real + (1 - eps) fake": expected_penalty(params, real, fake, 1 - eps)[0],
            "the penalty is two-sided, (norm - 1)^2, also where the norm is below 1": expected_penalty(params, real, fake, eps, one_sided=True)[0],
        }
        hint = next((f" ({text})" for text, wrong in hints.items() if _close(found["gp"], wrong)), "")
        assert _close(found["gp"], gp), (
            f"on inputs of shape {shape} the penalty is {found['gp'].item():.6g}, expected {gp.item():.6g}{hint}: one gradient norm per "
            "example over all of its dimensions, then the mean of (norm - 1)^2")
        if all(not found["grads"][name].any() for name in grads):
            raise AssertionError("the penalty does not backpropagate into the critic's parameters: compute the input gradient with create_graph=True")
        for name, expected in grads.items():
            assert _close(found["grads"][name], expected, 1e-5), (
                f"the penalty's gradient in the critic's parameter {name} is wrong although its value is right: is the input gradient detached?")


# --------------------------------------------------------------------------------------------------
# The training step


def _double_backprop_penalty(critic, real: torch.Tensor, fake: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """The penalty by double backpropagation, in the grader's process, on the grader's copy of a course critic."""
    weights = eps.view(-1, *[1] * (real.dim() - 1))
    x_hat = (weights * real + (1 - weights) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()


STEP = {"config": {"data_shape": [2], "z_dim": 3, "hidden": 8, "n_layers": 1}, "game": {"n_critic": 3, "lam": 1.0}, "n_calls": 2, "batch": 16}


def test_train_step(submission):
    generator = submission.private_generator("train_step")
    n_critic, n_calls = STEP["game"]["n_critic"], STEP["n_calls"]
    real = torch.randn(n_calls, n_critic, STEP["batch"], *STEP["config"]["data_shape"], generator=generator, dtype=torch.float64)
    found = submission.probe("train_step", inputs={"real": real}, config=STEP["config"], game=STEP["game"], n_calls=n_calls)
    names = {0: "critic", 1: "generator", 2: "return"}
    events = [names[int(e)] for e in found["events"]]
    calls, current = [], []
    for event in events:
        if event == "return":
            calls.append(current)
            current = []
        else:
            current.append(event)
    expected = ["critic"] * n_critic + ["generator"]
    assert all(call == expected for call in calls), (
        f"with n_critic = {n_critic} one call of train_step should take {n_critic} critic steps and then one generator step; "
        f"the grader saw {calls}")
    networks = course(submission)
    config = networks.GANConfig(**{**STEP["config"], "data_shape": tuple(STEP["config"]["data_shape"])})
    for step in found["critic_steps"]:
        assert step["loss_real"].numel() and step["eps"].numel(), (
            "each critic step must take the gradient of critic_loss + lam * gradient_penalty, calling your two functions")
        critic_net = networks.Critic(config).double()
        critic_net.load_state_dict(step["critic"])
        loss = (critic_net(step["loss_fake"].double()).mean() - critic_net(step["loss_real"].double()).mean()
                + STEP["game"]["lam"] * _double_backprop_penalty(critic_net, step["penalty_real"].double(), step["penalty_fake"].double(),
                                                                 step["eps"].double()))
        grads = dict(zip([n for n, _ in critic_net.named_parameters()], torch.autograd.grad(loss, list(critic_net.parameters()))))
        for name, expected_grad in grads.items():
            assert _close(step["grads"][name], expected_grad, 1e-6), (
                "at a critic step its gradient is not the gradient of that step's critic_loss + lam * gradient_penalty: clear the "
                "critic's gradients before each of its steps (they accumulate otherwise, also from the generator's loss)")
    for step in found["generator_steps"]:
        generator_net, critic_net = networks.Generator(config).double(), networks.Critic(config).double()
        generator_net.load_state_dict(step["generator"]), critic_net.load_state_dict(step["critic"])
        assert step["z"].dim() == 2 and step["z"].shape[1] == config.z_dim, "the generator's last forward pass before its step had no noise batch"
        loss = -critic_net(generator_net(step["z"].double())).mean()
        grads = dict(zip([n for n, _ in generator_net.named_parameters()], torch.autograd.grad(loss, list(generator_net.parameters()))))
        for name, expected_grad in grads.items():
            assert _close(step["grads"][name], expected_grad, 1e-6), (
                "at the generator's step its gradient is not the gradient of L_G = -E f(G(z)) alone: clear the generator's gradients "
                "before its step (zero_grad), and draw the critic's fakes without gradient to the generator")


# --------------------------------------------------------------------------------------------------
# After the grader's recipes

ONE_D = {"config": {"data_shape": [1], "hidden": 128, "n_layers": 2}, "lam": 0.3, "steps": 2000, "batch_size": 256, "lr": 1e-3}
"""The notebook's 1D recipe (the same on both profiles): about 10 CPU seconds."""
TOY = {"dataset": "eight_gaussians", "config": {"data_shape": [2], "z_dim": 2, "hidden": 128, "n_layers": 3},
       "game": {"n_critic": 5, "lam": 0.1}, "steps": 3000, "batch_size": 256, "lr": 1e-4, "n_samples": 2000, "seconds": 180}
"""The notebook's eight-Gaussians recipe (the same on both profiles): 3,000 generator steps, about 60 CPU seconds."""
RECIPES = {
    "quick": {"dataset": "digits", "config": {"data_shape": [1, 8, 8], "z_dim": 32, "hidden": 256, "n_layers": 3, "tanh": True},
              "game": {"n_critic": 5, "lam": 10.0}, "steps": 2000, "batch_size": 128, "lr": 1e-4, "n_samples": 1000, "seconds": 240},
    "full": {"dataset": "mnist", "config": {"data_shape": [1, 28, 28], "z_dim": 64, "hidden": 512, "n_layers": 3, "tanh": True},
             "game": {"n_critic": 5, "lam": 10.0}, "steps": 10_000, "batch_size": 128, "lr": 1e-4, "n_samples": 5000, "seconds": 900,
             "smoke": {"steps": 20}},
}
"""The grader's digits recipe: 2,000 generator steps (10,000 critic steps) on the quick profile, about 100 CPU seconds."""
EVALUATION = 2_000_000
"""Draws of each 1D distribution (and of interpolates) behind the grader's distribution functions and densities."""


def _network(submission, kind: str, config: dict, state: dict):
    networks = course(submission)
    module = getattr(networks, kind)(networks.GANConfig(**{**config, "data_shape": tuple(config["data_shape"])}))
    module.load_state_dict(state)
    return module.double().eval()


def penalised_optimum(networks, lam: float, generator: torch.Generator) -> dict:
    """The optimum of the penalised 1D critic problem and its estimate, from the notebook's own distributions.

    With dF = F_fake - F_real and rho the density of the interpolates, the critic maximises
    int f'(x) dF(x) dx - lam int rho(x) (|f'(x)| - 1)^2 dx pointwise (E_pi f - E_p f = int f' dF by parts):
    |f'| = 1 + |dF| / (2 lam rho), and its estimate E_pi f - E_p f is W1 + int dF^2 / (2 lam rho) dx. Returns the
    grid, the optimal slope on it, rho, W1, the optimum's estimate ("optimum") and the estimate of the best critic
    of the form k f* (W1 + W1^2 / (2 lam), part 2 of the notebook; a lower bound on the optimum's, by Cauchy-Schwarz)."""
    real = networks.real_1d(EVALUATION, generator).double().squeeze(1).sort().values
    fake = networks.fake_1d(EVALUATION, generator).double().squeeze(1).sort().values
    eps = torch.rand(EVALUATION, generator=generator, dtype=torch.float64)
    interpolates = eps * real[torch.randperm(EVALUATION, generator=generator)] + (1 - eps) * fake[torch.randperm(EVALUATION, generator=generator)]
    low, high, bins = -5.0, 6.0, 1100
    edges = torch.linspace(low, high, bins + 1, dtype=torch.float64)
    grid = (edges[1:] + edges[:-1]) / 2
    width = edges[1] - edges[0]
    d_f = (torch.searchsorted(fake, grid) - torch.searchsorted(real, grid)).double() / EVALUATION
    rho = torch.histc(interpolates, bins=bins, min=low, max=high) / (EVALUATION * width)
    covered = rho > 1e-3  # where rho is too rare to estimate, keep slope 1 (what the optimum gains there is negligible)
    slope = torch.where(covered, 1 + d_f.abs() / (2 * lam * rho.clamp_min(1e-3)), torch.ones_like(rho))
    w1 = (d_f.abs() * width).sum().item()
    return {"grid": grid, "slope": slope, "rho": rho, "w1": w1, "optimum": (d_f.abs() * slope * width).sum().item(),
            "family": w1 + w1**2 / (2 * lam)}


ESTIMATE_TOLERANCE = 0.05
"""How far (relative) the trained critic's estimate may fall below the estimate of the best critic of the form k f*, or
rise above the estimate of the penalised optimum. The band is empirical, not a bound (only the optimum's estimate is
pinned down): a critic of finite width trained for 2,000 steps lands in it (the reference and both alternatives,
seeds 0-2: 1.509-1.539 between 1.493 and 1.628)."""


def critic_1d(submission, seed: int) -> dict:
    """The notebook's 1D recipe with ``seed``, evaluated by the grader: the critic's estimate on 200,000 fresh draws
    of each distribution, its slopes on the grid where interpolates are common, and the penalised optimum."""
    found = submission.probe("train_critic_1d", seed=seed, train_seed=seed, **ONE_D)
    critic = _network(submission, "Critic", ONE_D["config"], found["critic"])
    networks = course(submission)
    generator = submission.private_generator("one_d", seed)
    optimum = penalised_optimum(networks, ONE_D["lam"], generator)
    real, fake = networks.real_1d(200_000, generator).double(), networks.fake_1d(200_000, generator).double()
    with torch.no_grad():
        estimate = (critic(real).mean() - critic(fake).mean()).item()
    common = optimum["rho"] > 0.05
    x = optimum["grid"][common, None].clone().requires_grad_(True)
    (slope,) = torch.autograd.grad(critic(x).sum(), x)
    slope_error = (slope.abs().squeeze(1) / optimum["slope"][common] - 1).abs().median().item()
    return {**optimum, "estimate": estimate, "slope_error": slope_error}


def slope_error(submission, seed: int) -> float:
    return critic_1d(submission, seed)["slope_error"]


def test_wasserstein_1d(submission):
    outputs = critic_1d(submission, GRADER_SEED)
    what = f"after the notebook's 1D recipe (lambda = {ONE_D['lam']}), the critic"
    low, high = outputs["family"] * (1 - ESTIMATE_TOLERANCE), outputs["optimum"] * (1 + ESTIMATE_TOLERANCE)
    submission.show("W1 (exact)", outputs["w1"])
    assert math.isfinite(outputs["estimate"]), f"{what}'s estimate is not finite"
    assert low <= outputs["estimate"] <= high, (
        f"{what} estimates {outputs['estimate']:.4f} where W1 = {outputs['w1']:.4f}; a trained penalised critic's estimate lies between "
        f"{outputs['family']:.4f} (the best k f*) and {outputs['optimum']:.4f} (the penalised optimum): "
        + ("far too high, is the penalty there and squared around 1?" if outputs["estimate"] > high else "too low, check the signs"))
    submission.judge("median |slope / optimal slope - 1| of the 1D critic", outputs["slope_error"], "slope_error",
                     f"{what}'s slopes, compared with the optimal penalised critic's where the interpolates lie,")


def toy_samples(submission, seed: int) -> torch.Tensor:
    """Samples the grader draws, with its own noise, from the generator the toy recipe trained."""
    found = submission.probe("train_wgan", seconds=TOY["seconds"], seed=seed, train_seed=seed,
                             **{k: v for k, v in TOY.items() if k not in ("n_samples", "seconds")})
    generator = _network(submission, "Generator", TOY["config"], found["generator"])
    z = torch.randn(TOY["n_samples"], TOY["config"]["z_dim"], generator=submission.private_generator("toy", seed), dtype=torch.float64)
    with torch.no_grad():
        return generator(z)


def toy_good_share(submission, seed: int) -> float:
    return dgm.metrics.mode_coverage(toy_samples(submission, seed), dgm.data.eight_gaussians_modes(), TOY_RADIUS).good_share


def toy_energy(submission, seed: int) -> float:
    return dgm.metrics.energy_distance(toy_samples(submission, seed), dgm.data.toy2d("eight_gaussians", TOY["n_samples"], seed=1))


TOY_RADIUS = 3 * 0.02 * math.sqrt(2)
"""A sample within this distance of a mode is good: three standard deviations of the modes' 2D spread."""


def test_mode_coverage(submission):
    samples = toy_samples(submission, GRADER_SEED)
    what = f"after the grader's recipe ({TOY['steps']} generator steps on eight Gaussians), the generator"
    assert samples.isfinite().all(), f"{what} gives NaN or infinite samples"
    coverage = dgm.metrics.mode_coverage(samples, dgm.data.eight_gaussians_modes(), TOY_RADIUS)
    submission.bound("modes covered (of 8)", coverage.modes, 8, "higher")
    assert coverage.modes == 8, f"{what} covers {coverage.modes} of the 8 modes: mode collapse"
    submission.judge("share of samples within 3 std of a mode", coverage.good_share, "toy_good_share", f"{what}'s share of samples on the modes")
    submission.judge("energy distance to the ring", toy_energy(submission, GRADER_SEED), "toy_energy", f"{what}'s energy distance to fresh data")


def digit_samples(submission, seed: int) -> torch.Tensor:
    """Images in [0, 1] the grader draws, with its own noise, from the generator the digits recipe trained."""
    recipe = submission.recipe(RECIPES)
    found = submission.probe("train_wgan", seconds=recipe["seconds"], seed=seed, train_seed=seed,
                             **{k: v for k, v in recipe.items() if k in ("dataset", "config", "game", "steps", "batch_size", "lr")})
    generator = _network(submission, "Generator", recipe["config"], found["generator"])
    z = torch.randn(recipe["n_samples"], recipe["config"]["z_dim"], generator=submission.private_generator("digits", seed), dtype=torch.float64)
    with torch.no_grad():
        images = ((generator(z) + 1) / 2).float()
    submission.artifacts["samples"] = images[:64]
    return images


def grader_data(submission):
    return quality.GraderData.load(submission.recipe(RECIPES)["dataset"], binarised=False)


def test_sample_quality(submission):
    quality.check_samples(submission, grader_data(submission), digit_samples(submission, GRADER_SEED))


CALIBRATIONS = {
    "slope_error": Calibration(slope_error, better="lower", margin=0.5, implausible=None, every_profile=True),
    "toy_good_share": Calibration(toy_good_share, better="higher", margin=0.2, bugs=("no_penalty", "one_critic_step"), implausible=None,
                                  every_profile=True),
    "toy_energy": Calibration(toy_energy, better="lower", margin=0.5, min_slack=0.005, bugs=("no_penalty", "one_critic_step"), every_profile=True),
    "sample_quality": QualityCalibration(digit_samples, grader_data, margin=0.25),
}
