"""Homework 5 (DDPM with classifier-free guidance) hidden checks, one ``test_<grade_id>`` per autograded cell.

Every value is recomputed here in float64 from the probe's inputs: the schedules from their definitions, the
forward process and the conversions from their closed forms, the posterior by conditioning the joint Gaussian of
(x_{t-1}, x_t) given x_0 (not from the textbook coefficients), one reverse step from its formula. Where the
student's code calls a network (the training loss, the sampler, the bound), the probe records every call and the
grader recomputes the number from those calls, so a value is accepted only with the forward passes that produced it:
the loss from the noise the model was shown, each term of the bound from the prediction made at that step, and each
step of the sampler's chain from the prediction it was driven by (the chain is replayed: the implied noise must be
standard normal and the last step noise-free). The sampler is driven by the exact noise prediction of a Gaussian
mixture (``dgm.mixture``), so its samples are judged against that mixture apart from any training.

After the grader's recipe (``RECIPES``) nothing the student's code reports is used: the probe trains the notebook's
network with the student's ``loss_simple`` and returns its state, and the grader samples it with its own float64
sampler and guidance, and bounds test images with its own terms.

Cost: the exact checks' probes take under a second of CPU each, the sampler's two seconds; the recipe about 50 CPU
seconds of training and 25 of the grader's sampling and bound (quick profile).
"""

from __future__ import annotations

import math

import torch

import dgm
from autograder import quality
from autograder.calibrate import Calibration, QualityCalibration
from autograder.harness import GRADER_SEED
from autograder.notebook import instructor_namespace

TOLERANCE = 1e-6
"""Relative tolerance of values the grader recomputes in float64 from the same inputs."""
NULL = -1


def _close(found, expected, tolerance: float = TOLERANCE) -> bool:
    found, expected = torch.as_tensor(found).double(), torch.as_tensor(expected).double()
    try:
        found = found.expand_as(expected) if found.shape != expected.shape else found
    except RuntimeError:
        return False
    return bool(((found - expected).abs() <= tolerance * (1 + expected.abs())).all())


def _table(betas: torch.Tensor) -> dict:
    """beta, alpha, alpha_bar (T + 1,) in float64, entry 0 the data."""
    beta = torch.cat([torch.zeros(1, dtype=torch.float64), betas.double()])
    return {"beta": beta, "alpha": 1 - beta, "alpha_bar": torch.cumprod(1 - beta, 0)}


def _at(values: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return values[t].view(-1, *[1] * (like.dim() - 1))


def _betas(generator: torch.Generator, T: int) -> torch.Tensor:
    """A schedule no formula gives: increasing betas in (1e-4, 0.06) with random steps."""
    steps = torch.rand(T, generator=generator, dtype=torch.float64)
    return 1e-4 + 0.06 * steps.cumsum(0) / steps.sum()


def linear_betas(T: int) -> torch.Tensor:
    return torch.linspace(1e-4 * 1000 / T, 0.02 * 1000 / T, T, dtype=torch.float64)


def cosine_betas(T: int, s: float = 0.008) -> torch.Tensor:
    f = torch.cos((torch.arange(T + 1, dtype=torch.float64) / T + s) / (1 + s) * math.pi / 2) ** 2
    return (1 - f[1:] / f[:-1]).clamp(max=0.999)


def _mean_of_step(table: dict, x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """mu_theta(x_t, t) = (x_t - beta_t / sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t) in float64."""
    x_t, eps = x_t.double(), eps.double()
    beta, alpha, alpha_bar = (_at(table[k], t, x_t) for k in ("beta", "alpha", "alpha_bar"))
    return (x_t - beta / (1 - alpha_bar).sqrt() * eps) / alpha.sqrt()


def _tilde_beta(table: dict, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    beta, alpha_bar, alpha_bar_prev = _at(table["beta"], t, like), _at(table["alpha_bar"], t, like), _at(table["alpha_bar"], t - 1, like)
    return (1 - alpha_bar_prev) / (1 - alpha_bar) * beta


# --------------------------------------------------------------------------------------------------
# Schedule and forward process


def test_schedule(submission):
    generator = submission.private_generator("schedule")
    sizes = [37, 200, 1000, int(torch.randint(50, 400, (), generator=generator))]
    betas = _betas(generator, 1000)
    found = submission.probe("schedules", sizes=sizes, inputs={"betas": betas})
    for kind, formula in (("linear", linear_betas), ("cosine", cosine_betas)):
        for T in sizes:
            value = torch.as_tensor(found[kind][str(T)])
            assert value.shape == (T,), f"{kind}_betas({T}) should have shape ({T},), got {tuple(value.shape)}"
            assert value.dtype == torch.float64, f"{kind}_betas returns {value.dtype}: keep the schedule in float64"
            expected = formula(T)
            hint = (" (clip each beta_t at 0.999: the last cosine step is 1 without it)" if kind == "cosine" and _close(value[:-1], expected[:-1])
                    else " (computed in float32 and converted: compute it in float64)" if _close(value, expected.float().double(), 1e-6) else "")
            assert _close(value, expected, 1e-12), f"{kind}_betas({T}) differs from its definition by up to {(value - expected).abs().max():.3g}{hint}"
    table = _table(betas)
    for name in ("beta", "alpha", "alpha_bar"):
        value = torch.as_tensor(found[name])
        assert value.shape == (1001,), f"make_schedule(betas of T = 1000).{name} should have length T + 1 = 1001 (entry 0 is the data), got {tuple(value.shape)}"
        assert value.dtype == torch.float64, f"Schedule.{name} is {value.dtype}: float64 expected"
        hint = ""
        if name == "alpha_bar" and _close(value[1:], table[name][:-1]):
            hint = " (it is shifted by one: alpha_bar_t includes alpha_t, and alpha_bar_0 = 1)"
        elif name == "alpha_bar" and _close(value, table[name], 1e-5):
            hint = " (the product was accumulated in float32: keep it in float64)"
        assert _close(value, table[name], 1e-10), f"Schedule.{name} differs from its definition by up to {(value - table[name]).abs().max():.3g}{hint}"


def test_forward(submission):
    generator = submission.private_generator("forward")
    betas = _betas(generator, 120)
    x0 = torch.randn(16, 1, 3, 3, generator=generator, dtype=torch.float64)
    t = torch.cat([torch.tensor([0, 1, 120]), torch.randint(1, 121, (13,), generator=generator)])
    eps = torch.randn(x0.shape, generator=generator, dtype=torch.float64)
    found = submission.probe("forward", inputs={"betas": betas, "x0": x0, "t": t, "eps": eps})
    table = _table(betas)
    alpha_bar = _at(table["alpha_bar"], t, x0)
    expected = alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * eps
    for dtype in ("float64", "float32"):
        value = found[dtype]
        assert value.shape == x0.shape, f"q_sample should return the data's shape {tuple(x0.shape)}, got {tuple(value.shape)}"
        assert value.dtype == getattr(torch, dtype), f"q_sample of {dtype} data returned {value.dtype}: keep the data's dtype"
    value = found["float64"]
    hints = {"the noise is scaled by the variance 1 - alpha_bar_t, not the standard deviation": alpha_bar.sqrt() * x0 + (1 - alpha_bar) * eps,
             "alpha_t was used where alpha_bar_t belongs": _at(table["alpha"], t, x0).sqrt() * x0 + (1 - _at(table["alpha"], t, x0)).sqrt() * eps,
             "the time index is off by one": _at(table["alpha_bar"], t - 1, x0).sqrt() * x0 + (1 - _at(table["alpha_bar"], t - 1, x0)).sqrt() * eps}
    hint = next((f" ({text})" for text, wrong in hints.items() if _close(value, wrong)), "")
    assert _close(value, expected), f"q_sample differs from sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps by up to {(value - expected).abs().max():.3g}{hint}"
    assert _close(found["float32"], expected, 1e-5), "q_sample of float32 data is wrong although float64 is right"


# --------------------------------------------------------------------------------------------------
# Posterior and conversions


def conditioned_posterior(table: dict, x0: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """q(x_{t-1} | x_t, x0) by conditioning the joint Gaussian of (x_{t-1}, x_t) given x0 (per coordinate):
    x_{t-1} = sqrt(ab_{t-1}) x0 + sqrt(1 - ab_{t-1}) e1, x_t = sqrt(a_t) x_{t-1} + sqrt(b_t) e2."""
    ab_prev, ab, a = _at(table["alpha_bar"], t - 1, x0), _at(table["alpha_bar"], t, x0), _at(table["alpha"], t, x0)
    var_prev, cov, var_t = 1 - ab_prev, a.sqrt() * (1 - ab_prev), 1 - ab  # Var x_{t-1}, Cov(x_{t-1}, x_t), Var x_t
    mean = ab_prev.sqrt() * x0 + cov / var_t * (x_t - ab.sqrt() * x0)
    return mean, var_prev - cov**2 / var_t


def test_posterior(submission):
    generator = submission.private_generator("posterior")
    T = 80
    betas = _betas(generator, T)
    x0, x_t = (torch.randn(12, 2, 3, generator=generator, dtype=torch.float64) for _ in range(2))
    t = torch.cat([torch.tensor([1, 2, T]), torch.randint(1, T + 1, (9,), generator=generator)])
    found = submission.probe("posterior", inputs={"betas": betas, "x0": x0, "x_t": x_t, "t": t})
    table = _table(betas)
    mean, variance = conditioned_posterior(table, x0, x_t, t)
    assert found["mean"].shape == x0.shape, f"the posterior mean should have the data's shape {tuple(x0.shape)}, got {tuple(found['mean'].shape)}"
    hint = " (that is beta_t: the posterior's variance is tilde beta_t)" if _close(found["variance"], _at(table["beta"], t, x0)) else ""
    assert _close(found["variance"], variance.expand_as(x0)), (
        f"the posterior variance differs from Gaussian conditioning of (x_(t-1), x_t) given x0 by up to "
        f"{(torch.as_tensor(found['variance']).double() - variance).abs().max():.3g}{hint}")
    swapped = _at(table["alpha"], t, x0).sqrt() * (1 - _at(table["alpha_bar"], t - 1, x0)) / (1 - _at(table["alpha_bar"], t, x0)) * x0 + (
        _at(table["alpha_bar"], t - 1, x0).sqrt() * _at(table["beta"], t, x0) / (1 - _at(table["alpha_bar"], t, x0)) * x_t)
    hint = " (the coefficients of x0 and x_t are swapped)" if _close(found["mean"], swapped) else ""
    assert _close(found["mean"], mean), f"the posterior mean differs from Gaussian conditioning by up to {(found['mean'].double() - mean).abs().max():.3g}{hint}"


def test_conversions(submission):
    generator = submission.private_generator("conversions")
    T = 60
    betas = _betas(generator, T)
    x0, eps = (torch.randn(10, 3, 2, generator=generator, dtype=torch.float64) for _ in range(2))
    t = torch.cat([torch.tensor([1, T]), torch.randint(1, T + 1, (8,), generator=generator)])
    found = submission.probe("conversions", inputs={"betas": betas, "x0": x0, "eps": eps, "t": t})
    alpha_bar = _at(_table(betas)["alpha_bar"], t, x0)
    v = alpha_bar.sqrt() * eps - (1 - alpha_bar).sqrt() * x0
    expected = {"x0_from_eps": x0, "eps_from_x0": eps, "v_from_x0_eps": v, "x0_from_v": x0, "eps_from_v": eps,
                "score_from_eps": -eps / (1 - alpha_bar).sqrt()}
    for name, value in expected.items():
        hint = " (the sign is flipped)" if _close(found[name], -value) else ""
        if name == "v_from_x0_eps" and _close(found[name], alpha_bar.sqrt() * x0 - (1 - alpha_bar).sqrt() * eps):
            hint = " (x0 and eps are swapped: v = sqrt(alpha_bar_t) eps - sqrt(1 - alpha_bar_t) x0)"
        assert torch.as_tensor(found[name]).shape == value.shape, f"{name} should return shape {tuple(value.shape)}"
        assert _close(found[name], value), f"{name} is wrong by up to {(torch.as_tensor(found[name]).double() - value).abs().max():.3g}{hint}"


# --------------------------------------------------------------------------------------------------
# Guidance and the training loss


def _guided_sampler(submission, w: float) -> dict:
    mixture = {"weights": [0.35, 0.65], "means": [[-1.5, 0.5], [1.0, -0.5]], "stds": [0.5, 0.7]}
    labels = torch.tensor([0, 1] * 500)
    found = submission.probe("sampler", n=1000, w=w, noise_seed=7, **mixture, inputs={"betas": linear_betas(60), "labels": labels})
    return found, dgm.mixture.GaussianMixture(**mixture), labels


def test_guidance(submission):
    generator = submission.private_generator("guidance")
    T, d, n_classes = 30, 4, 10
    a, table = torch.rand(T + 1, generator=generator, dtype=torch.float64), torch.randn(n_classes + 1, d, generator=generator, dtype=torch.float64)
    x_t = torch.randn(12, d, generator=generator, dtype=torch.float64)
    t, y = torch.randint(1, T + 1, (12,), generator=generator), torch.randint(0, n_classes, (12,), generator=generator)
    y[0] = 0
    ws = [0.0, -1.0, 0.5, 2.0, 7.3]
    found = submission.probe("guided", ws=ws, inputs={"a": a, "table": table, "x_t": x_t, "t": t, "y": y})
    eps_y, eps_null = a[t][:, None] * x_t + table[y + 1], a[t][:, None] * x_t + table[0]
    assert _close(found["unconditional"], eps_null), "guided_eps with y = None should return the unconditional prediction eps(x_t, t, NULL)"
    for w, value in zip(ws, found["guided"]):
        expected = eps_null + (1 + w) * (eps_y - eps_null)
        hints = {"that is eps_u + w (eps_c - eps_u): this course writes eps_u + (1 + w)(eps_c - eps_u), so w = 0 is the conditional model":
                 eps_null + w * (eps_y - eps_null),
                 "the roles of eps(y) and eps(NULL) are swapped": eps_y + (1 + w) * (eps_null - eps_y),
                 "digit 0 must not be mapped to NULL: labels are 0..9 and NULL is -1":
                 eps_null + (1 + w) * (torch.where((y == 0)[:, None], eps_null, eps_y) - eps_null)}
        hint = next((f" ({text})" for text, wrong in hints.items() if _close(value, wrong)), "")
        assert _close(value, expected), f"guided_eps at w = {w:g} differs from eps(NULL) + (1 + w)(eps(y) - eps(NULL)) by up to {(value - expected).abs().max():.3g}{hint}"
    # In the sampler: with labels and w, every step's prediction is the guided one, of the exact mixture's eps.
    w = 2.0
    found, mixture, labels = _guided_sampler(submission, w)
    assert found["steps"], "sample() made no guided_eps call: each step's prediction comes from guided_eps(eps_model, x, t, y, w)"
    alpha_bar = _table(linear_betas(60))["alpha_bar"]
    for step in found["steps"]:
        ab = alpha_bar[step["t"].long()]
        expected = mixture.eps(step["x_t"].double(), ab) + (1 + w) * (mixture.eps(step["x_t"].double(), ab, labels) - mixture.eps(step["x_t"].double(), ab))
        assert _close(step["out"], expected, 1e-4), (
            f"at t = {int(step['t'][0])} the sampler's guided prediction is not eps(NULL) + (1 + w)(eps(y) - eps(NULL)) of the model it was given: "
            "does sample() pass y and w to guided_eps?")


def test_label_dropout(submission):
    generator = submission.private_generator("label_dropout")
    T, B, repeats, p = 10, 200, 20, 0.25
    betas = _betas(generator, T)
    x0 = torch.randn(B, 1, 2, 2, generator=generator, dtype=torch.float64)
    y = torch.arange(10).repeat(B // 10)[torch.randperm(B, generator=generator)]
    found = submission.probe("label_dropout", p_uncond=p, repeats=repeats, inputs={"betas": betas, "x0": x0, "y": y})
    calls = found["calls"]
    assert len(calls) == repeats, f"loss_simple should call the model once on the whole batch; {len(calls)} calls in {repeats} losses"
    alpha_bar = _table(betas)["alpha_bar"]
    implied, labels_seen, times = [], [], []
    for call, loss in zip(calls, found["losses"]):
        t = call["t"].long()
        assert call["x_t"].shape == x0.shape and t.shape == (B,), "the model should see the whole batch (B, ...) and one t per example (B,)"
        assert t.min() >= 1 and t.max() <= T, f"t should be drawn from 1..T = 1..{T}, got values {t.min().item()}..{t.max().item()}"
        eps = (call["x_t"].double() - _at(alpha_bar, t, x0).sqrt() * x0) / (1 - _at(alpha_bar, t, x0)).sqrt()
        expected = (call["out"].double() - eps).pow(2).mean()
        hint = " (average over the batch and the dimensions, F.mse_loss)" if any(_close(loss, expected * k) for k in (B, x0[0].numel(), x0.numel())) else ""
        assert loss.shape == () and _close(loss, expected, 1e-5), (
            f"loss_simple returned {float(loss):.6g}; the mean squared error between the model's output and the noise in its input is {expected.item():.6g}{hint}")
        dropped = call["y"] == NULL
        assert ((call["y"] == y) | dropped).all(), "each label should reach the model unchanged or as NULL (-1)"
        assert 0 < dropped.sum() < B, (
            f"{int(dropped.sum())} of {B} labels dropped in one call at p_uncond = {p}: drop each example's label independently, not the whole batch")
        implied.append(eps), labels_seen.append(dropped), times.append(t)
    eps, dropped, t = torch.cat(implied), torch.cat(labels_seen), torch.cat(times)
    assert eps.mean().abs() < 0.05 and (eps.var() - 1).abs() < 0.05, (
        f"the noise implied by x_t has mean {eps.mean():.3f} and variance {eps.var():.3f}: x_t should be sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps, eps ~ N(0, I)")
    counts = torch.bincount(t - 1, minlength=T).double()
    chi2 = ((counts - len(t) / T) ** 2 / (len(t) / T)).sum().item()
    assert chi2 < 40, f"t is not uniform on 1..{T} (chi-square {chi2:.1f} on {T - 1} degrees of freedom)"
    share, sd = dropped.double().mean().item(), math.sqrt(p * (1 - p) / len(dropped))
    assert abs(share - p) < 4.5 * sd, f"{share:.1%} of the labels were dropped, p_uncond = {p:.0%} expected"
    per_class = torch.stack([dropped[y.repeat(repeats) == k].double().mean() for k in range(10)])
    assert (per_class - p).abs().max() < 5 * math.sqrt(p * (1 - p) / (len(dropped) / 10)), (
        f"the share of dropped labels depends on the class ({per_class.min():.2f}..{per_class.max():.2f}): every class, digit 0 included, is dropped alike")
    assert found["unconditional_calls"] and (found["unconditional_calls"][0]["y"] == NULL).all(), "loss_simple with y = None should give the model NULL labels only"


# --------------------------------------------------------------------------------------------------
# Sampling


def test_reverse_step(submission):
    generator = submission.private_generator("reverse_step")
    T = 150
    betas = _betas(generator, T)
    x_t, eps, noise = (torch.randn(8, 2, 2, generator=generator, dtype=torch.float64) for _ in range(3))
    t = torch.cat([torch.tensor([T, 2, 1]), torch.randint(1, T + 1, (5,), generator=generator)])
    found = submission.probe("reverse_step", inputs={"betas": betas, "eps": eps, "x_t": x_t, "t": t, "noise": noise})["x_prev"]
    table = _table(betas)
    expected = _mean_of_step(table, x_t, t, eps) + _tilde_beta(table, t, x_t).sqrt() * noise
    later = (t + 1).clamp(max=T)
    hints = {"the variance is beta_t; this homework samples with tilde beta_t": _mean_of_step(table, x_t, t, eps) + _at(table["beta"], t, x_t).sqrt() * noise,
             "the noise is scaled by tilde beta_t, a variance, instead of its square root": _mean_of_step(table, x_t, t, eps) + _tilde_beta(table, t, x_t) * noise,
             "the time index is off by one (t + 1 used for t)": _mean_of_step(table, x_t, later, eps) + _tilde_beta(table, later, x_t).sqrt() * noise}
    hint = next((f" ({text})" for text, wrong in hints.items() if _close(found, wrong)), "")
    if not hint and (t >= 2).any() and _close(found[t >= 2], (_mean_of_step(table, x_t, t - 1, eps) + _tilde_beta(table, (t - 1).clamp(min=1), x_t).sqrt() * noise)[t >= 2]):
        hint = " (the time index is off by one: t - 1 used for t)"
    assert found.shape == x_t.shape, f"reverse_step should return shape {tuple(x_t.shape)}, got {tuple(found.shape)}"
    assert _close(found, expected), f"reverse_step differs from mu_theta(x_t, t) + sqrt(tilde beta_t) z by up to {(found.double() - expected).abs().max():.3g}{hint}"


SAMPLER_MIXTURE = {"weights": [0.2, 0.5, 0.3], "means": [[-2.0, 0.0], [1.5, 1.0], [0.5, -2.0]], "stds": [0.3, 0.5, 0.4]}
SAMPLER_T, SAMPLER_N = 100, 4000


def sampler_run(submission, seed: int) -> dict:
    """The student's unconditional sampler driven by the mixture's exact eps on the grader's cosine schedule."""
    return submission.probe("sampler", n=SAMPLER_N, w=0.0, noise_seed=seed, **SAMPLER_MIXTURE,
                            inputs={"betas": cosine_betas(SAMPLER_T), "labels": torch.zeros(0, dtype=torch.long)})


def replay(found: dict, betas: torch.Tensor, mixture: dgm.mixture.GaussianMixture, n: int) -> str | None:
    """What is wrong with the sampler's chain, or None. Each recorded step must be a guided_eps call at t = T, ..., 1
    on the state the previous step produced, its prediction the exact unconditional eps, the noise each step added
    standard normal, and the returned samples the last step's mean (no noise at t = 1)."""
    table, T = _table(betas), len(betas)
    steps = found["steps"]
    if [int(step["t"].flatten()[0]) for step in steps] != list(range(T, 0, -1)) or any((step["t"] != step["t"].flatten()[0]).any() for step in steps):
        return f"the sampler should call guided_eps once per step at t = {T}, {T - 1}, ..., 1 (one t for the whole batch); it made {len(steps)} calls"
    start = steps[0]["x_t"].double()
    if start.shape != (n, mixture.dim) or start.mean().abs() > 0.1 or (start.var() - 1).abs() > 0.1:
        return f"x_T should be standard normal of shape {(n, mixture.dim)}: got shape {tuple(start.shape)}, mean {start.mean():.3f}, variance {start.var():.3f}"
    z = []
    for step, following in zip(steps, steps[1:] + [None]):
        t = step["t"].long()
        exact = mixture.eps(step["x_t"].double(), table["alpha_bar"][t])
        if not _close(step["out"], exact, 1e-4):
            return f"at t = {int(t[0])} guided_eps(model, x, t, None, w) did not return the model's unconditional prediction eps(x, t, NULL)"
        mean = _mean_of_step(table, step["x_t"], t, step["out"])
        after = found["samples"] if following is None else following["x_t"]
        if following is None:
            if not _close(after, mean, 1e-4):
                return "the returned samples are not the last step's output mu_theta(x_1, 1): the step at t = 1 adds no noise, and nothing follows it"
        else:
            z.append((after.double() - mean) / _tilde_beta(table, t, mean).sqrt())
    z = torch.stack(z)  # (T - 1, n, d)
    per_step = z.flatten(1).var(1)
    if (z[1:] * z[:-1]).mean().abs() > 0.01:
        return (f"replaying the chain, the noise of consecutive steps is correlated ({(z[1:] * z[:-1]).mean():.3f}): "
                "draw fresh noise z ~ N(0, I) at every step")
    if z.mean().abs() > 0.01 or (per_step - 1).abs().max() > 0.1:
        worst = int((per_step - 1).abs().argmax())
        return (f"replaying the chain, the noise each step added has variance {per_step[worst]:.3f} tilde beta_t at t = {T - worst} "
                f"(1 expected; mean {z.mean():.3f}): x_(t-1) = mu_theta(x_t, t) + sqrt(tilde beta_t) z with fresh z ~ N(0, I) at every step")
    return None


def sampler_energy(submission, seed: int) -> float:
    """Energy distance between the sampler's points and as many fresh points of the mixture."""
    samples = sampler_run(submission, seed)["samples"].double()
    truth, _ = dgm.mixture.GaussianMixture(**SAMPLER_MIXTURE).sample(SAMPLER_N, submission.private_generator("sampler", seed))
    return dgm.metrics.energy_distance(samples, truth) if samples.shape == truth.shape and samples.isfinite().all() else math.inf


def test_sampler(submission):
    found = sampler_run(submission, GRADER_SEED)
    mixture = dgm.mixture.GaussianMixture(**SAMPLER_MIXTURE)
    samples = found["samples"]
    assert samples.shape == (SAMPLER_N, 2), f"sample(model, schedule, ({SAMPLER_N}, 2)) returned shape {tuple(samples.shape)}"
    assert samples.isfinite().all(), "the samples are not finite"
    problem = replay(found, cosine_betas(SAMPLER_T), mixture, SAMPLER_N)
    assert problem is None, problem
    shares = mixture.posterior(samples.double()).argmax(1).bincount(minlength=3).double() / SAMPLER_N
    for k, expected in enumerate(SAMPLER_MIXTURE["weights"]):
        submission.show(f"share of samples in mixture component {k} ({expected} expected)", shares[k].item())
    submission.judge("energy distance of the exact-score samples to the mixture", sampler_energy(submission, GRADER_SEED), "sampler_energy",
                     "driven by the exact noise prediction of a Gaussian mixture, the sampler's energy distance to that mixture")


# --------------------------------------------------------------------------------------------------
# The bound


def _discretised_nll(x0: torch.Tensor, mean: torch.Tensor, std: float, n_levels: int) -> torch.Tensor:
    half = 1 / (n_levels - 1)
    normal = torch.distributions.Normal(mean, std)
    upper = torch.where(x0 > 1 - half, torch.ones_like(x0), normal.cdf(x0 + half))
    lower = torch.where(x0 < -1 + half, torch.zeros_like(x0), normal.cdf(x0 - half))
    return -(upper - lower).clamp(min=1e-12).log().flatten(1).sum(1)


def test_bound(submission):
    generator = submission.private_generator("bound")
    T, B, n_levels, shape = 40, 6, 17, (1, 4, 4)
    betas = linear_betas(T)
    x0 = torch.randint(0, n_levels, (B, *shape), generator=generator).double() / (n_levels - 1) * 2 - 1
    D = x0[0].numel()
    W, c = torch.randn(D, D, generator=generator, dtype=torch.float64) / 4, torch.randn(D, generator=generator, dtype=torch.float64)
    labels = torch.randint(0, 10, (B,), generator=generator)
    found = submission.probe("bound", n_levels=n_levels, inputs={"betas": betas, "x0": x0, "W": W, "c": c, "labels": labels})
    table, terms = _table(betas), found["terms"]
    expected_shapes = {"prior": (B,), "diffusion": (B, T - 1), "decoder": (B,)}
    for name, size in expected_shapes.items():
        assert name in terms and tuple(terms[name].shape) == size, f"bound_terms should return {name!r} of shape {size}"
    calls = found["calls"]
    times = sorted(int(call["t"].flatten()[0]) for call in calls)
    assert times == list(range(1, T + 1)) and all((call["t"] == call["t"].flatten()[0]).all() for call in calls), (
        f"bound_terms should call the model once per t = 1..{T} on the whole batch; it made {len(calls)} calls at t = {times[:5]}...")
    assert all(torch.equal(call["y"], labels) for call in calls), "bound_terms should pass the labels y to the model"
    implied, expected_diffusion, expected_decoder = [], torch.zeros(B, T - 1, dtype=torch.float64), None
    for call in calls:
        t, x_t, out = call["t"].long(), call["x_t"].double(), call["out"].double()
        ab = _at(table["alpha_bar"], t, x0)
        implied.append((x_t - ab.sqrt() * x0) / (1 - ab).sqrt())
        mean = _mean_of_step(table, x_t, t, out)
        if int(t[0]) == 1:
            expected_decoder = _discretised_nll(x0, mean, math.sqrt(betas[0].item()), n_levels)
            density = -torch.distributions.Normal(mean, math.sqrt(betas[0].item())).log_prob(x0).flatten(1).sum(1)
        else:
            true_mean, variance = conditioned_posterior(table, x0, x_t, t)
            expected_diffusion[:, int(t[0]) - 2] = ((true_mean - mean) ** 2 / (2 * variance)).flatten(1).sum(1)
    implied = torch.stack(implied)  # (T, B, ...)
    flat = implied.flatten(1)
    correlation = (flat[1:] * flat[:-1]).mean(1) / (flat[1:].pow(2).mean(1) * flat[:-1].pow(2).mean(1)).sqrt()
    assert correlation.abs().max() < 0.5, "the noise of x_t is the same at different t: draw a fresh eps for every t"
    assert implied.mean().abs() < 0.08 and (implied.var() - 1).abs() < 0.1, (
        f"the x_t the model saw are not draws of q(x_t | x0): their implied noise has mean {implied.mean():.3f}, variance {implied.var():.3f}")
    alpha_bar_T = table["alpha_bar"][-1]
    expected_prior = 0.5 * (alpha_bar_T * x0**2 + (1 - alpha_bar_T) - 1 - torch.log(1 - alpha_bar_T)).flatten(1).sum(1)
    assert _close(terms["prior"], expected_prior), f"L_T is {terms['prior'][0]:.6g}, the KL of q(x_T | x0) from N(0, I) is {expected_prior[0]:.6g}"
    hint = ""
    if _close(terms["diffusion"], expected_diffusion.flip(1)):
        hint = " (the columns are reversed: column t - 2 holds L_(t-1))"
    assert _close(terms["diffusion"], expected_diffusion, 1e-5), (
        f"L_(t-1) recomputed from the model's predictions at each t differs by up to {(terms['diffusion'].double() - expected_diffusion).abs().max():.3g}{hint}")
    hint = " (that is minus the log-density at x0: the decoder's probability is the mass of the level's bin)" if _close(terms["decoder"], density, 1e-5) else ""
    assert _close(terms["decoder"], expected_decoder, 1e-5), (
        f"L_0 is {terms['decoder'][0]:.6g}, the discretised Gaussian decoder (bins of width 2/(K - 1), edges to +-infinity) gives {expected_decoder[0]:.6g}{hint}")
    total = (expected_prior + expected_diffusion.sum(1) + expected_decoder) / (D * math.log(2))
    assert _close(found["bits_per_dim"], total, 1e-5), f"bits_per_dim is {found['bits_per_dim'][0]:.6g}, (L_T + sum L_(t-1) + L_0) / (D log 2) = {total[0]:.6g}"
    # A prediction far off (every eps shifted by 20) puts the decoder's mean about twenty standard deviations below every level:
    # the masses of all bins but the lowest (which reaches to -infinity) are below 1e-12 and clamped there.
    far = submission.probe("bound", n_levels=n_levels, shift=20.0, inputs={"betas": betas, "x0": x0, "W": W, "c": c, "labels": labels})
    [first] = [call for call in far["calls"] if int(call["t"].flatten()[0]) == 1] or [None]
    assert first is not None, "bound_terms made no model call at t = 1"
    decoder = _discretised_nll(x0, _mean_of_step(table, first["x_t"], first["t"].long(), first["out"]), math.sqrt(betas[0].item()), n_levels)
    assert _close(far["terms"]["decoder"], decoder, 1e-5), (
        f"with predictions far off, L_0 is {far['terms']['decoder'][0]:.6g}, expected {decoder[0]:.6g}: clamp each bin's mass at 1e-12 "
        "(the lowest and highest bins reach to -infinity and +infinity)")


# --------------------------------------------------------------------------------------------------
# After the grader's recipe: the course network trained with the student's loss_simple, sampled and bounded by the grader


RECIPES = {
    "quick": {"dataset": "digits", "T": 200, "config": {"data_shape": [1, 8, 8]}, "train": {"epochs": 500, "batch_size": 128, "lr": 1e-3},
              "p_uncond": 0.15, "n_samples": 500, "ws": [0.0, 1.0, 3.0], "n_levels": 17, "bound_images": 200, "seconds": 300},
    "full": {"dataset": "mnist", "T": 1000, "config": {"data_shape": [1, 28, 28], "hidden": 1024, "n_blocks": 4},
             "train": {"epochs": 30, "batch_size": 128, "lr": 3e-4}, "p_uncond": 0.15, "n_samples": 1000, "ws": [0.0, 1.0, 3.0],
             "n_levels": 256, "bound_images": 500, "seconds": 1800, "smoke": {"T": 50, "bound_images": 20}},
}
"""The grader's recipe. Quick: the notebook's EpsNet (a 256-wide residual MLP) trained with the student's loss_simple and
label dropout 0.15 for 6,000 Adam steps on 1,437 digits at T = 200, about 50 CPU seconds (one thread); then the grader
draws 500 images (50 per class) at each w, and 500 unconditional ones, with its own float64 sampler (about 5 s per set)
and bounds 200 test images.
Full: a 1024-wide MLP on MNIST, T = 1000, 30 epochs (about 14,000 steps) on a GPU."""

_MEASURED: dict = {}


def _trained_net(submission, seed: int):
    recipe = submission.recipe(RECIPES)
    found = submission.probe("train", seconds=recipe["seconds"], seed=seed, train_seed=seed,
                             **{k: recipe[k] for k in ("dataset", "T", "config", "train", "p_uncond")})
    course = instructor_namespace(str(submission.homework.source_notebook))
    net = course.EpsNet(course.EpsConfig(**{**recipe["config"], "data_shape": tuple(recipe["config"]["data_shape"])}))
    net.load_state_dict(found["net"])
    return net.eval()


@torch.no_grad()
def grader_sample(net, T: int, shape: tuple[int, ...], labels: torch.Tensor | None, w: float, generator: torch.Generator) -> torch.Tensor:
    """Ancestral sampling with the grader's float64 step (tilde beta_t variance) and classifier-free guidance
    eps(NULL) + (1 + w)(eps(y) - eps(NULL)); images in [0, 1]."""
    table, n = _table(linear_betas(T)), shape[0]
    x = torch.randn(shape, generator=generator, dtype=torch.float64)
    null = torch.full((n,), NULL, dtype=torch.long)
    for step in range(T, 0, -1):
        t = torch.full((n,), step, dtype=torch.long)
        if labels is None:
            eps = net(x.float(), t, null).double()
        else:
            eps_y, eps_null = net(torch.cat([x, x]).float(), torch.cat([t, t]), torch.cat([labels, null])).double().chunk(2)
            eps = eps_null + (1 + w) * (eps_y - eps_null)
        x = _mean_of_step(table, x, t, eps) + _tilde_beta(table, t, x).sqrt() * torch.randn(shape, generator=generator, dtype=torch.float64)
    return ((x + 1) / 2).clamp(0, 1).float()


@torch.no_grad()
def grader_bound(net, T: int, x0: torch.Tensor, n_levels: int, generator: torch.Generator) -> float:
    """The variational bound in bits per dimension of images x0 in [-1, 1], unconditional, by the grader's float64 terms."""
    table, x0 = _table(linear_betas(T)), x0.double()
    null = torch.full((len(x0),), NULL, dtype=torch.long)
    alpha_bar_T = table["alpha_bar"][-1]
    nats = 0.5 * (alpha_bar_T * x0**2 + (1 - alpha_bar_T) - 1 - torch.log(1 - alpha_bar_T)).flatten(1).sum(1)
    for step in range(1, T + 1):
        t = torch.full((len(x0),), step, dtype=torch.long)
        alpha_bar = _at(table["alpha_bar"], t, x0)
        x_t = alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * torch.randn(x0.shape, generator=generator, dtype=torch.float64)
        mean = _mean_of_step(table, x_t, t, net(x_t.float(), t, null).double())
        if step == 1:
            nats = nats + _discretised_nll(x0, mean, math.sqrt(table["beta"][1].item()), n_levels)
        else:
            true_mean, variance = conditioned_posterior(table, x0, x_t, t)
            nats = nats + ((true_mean - mean) ** 2 / (2 * variance)).flatten(1).sum(1)
    return (nats / (x0[0].numel() * math.log(2))).mean().item()


def measured(submission, seed: int) -> dict:
    """Everything the trained checks judge, for one training seed (computed once per submission and seed)."""
    key = (id(submission), seed)
    if key not in _MEASURED:
        recipe = submission.recipe(RECIPES)
        net, data = _trained_net(submission, seed), grader_data(submission)
        shape = (recipe["n_samples"], *recipe["config"]["data_shape"])
        labels = torch.arange(recipe["n_samples"]) % 10
        generator = submission.private_generator("samples", seed)
        samples = {w: grader_sample(net, recipe["T"], shape, labels, w, generator) for w in recipe["ws"]}
        samples["unconditional"] = grader_sample(net, recipe["T"], shape, None, 0.0, generator)
        test_features, _ = dgm.features.features(data.dataset, data.test)
        result = {"samples": samples, "accuracy": {}, "recall": {}}
        for w, images in samples.items():
            sample_features, logits = dgm.features.features(data.dataset, images)
            result["accuracy"][w] = (logits.argmax(1) == labels).double().mean().item()
            result["recall"][w] = dgm.metrics.precision_recall(test_features, sample_features)[1]
        x0 = data.test[: recipe["bound_images"]] * 2 - 1
        result["bound"] = grader_bound(net, recipe["T"], x0, recipe["n_levels"], submission.private_generator("bound", seed))
        _MEASURED[key] = result
    return _MEASURED[key]


def grader_data(submission):
    return quality.GraderData.load(submission.recipe(RECIPES)["dataset"], binarised=False)


def guided_samples(submission, seed: int) -> torch.Tensor:
    """The grader's samples at w = 1, 50 per class, of the network trained with seed ``seed``."""
    images = measured(submission, seed)["samples"][1.0]
    submission.artifacts["samples"] = images[:100]
    return images


def guided_accuracy(submission, seed: int) -> float:
    return measured(submission, seed)["accuracy"][1.0]


def trained_bound(submission, seed: int) -> float:
    return measured(submission, seed)["bound"]


def test_sample_quality(submission):
    results = measured(submission, GRADER_SEED)
    submission.show("FID of unconditional samples (the null label)", dgm.metrics.fid(
        dgm.features.features(grader_data(submission).dataset, grader_data(submission).test)[0],
        dgm.features.features(grader_data(submission).dataset, results["samples"]["unconditional"])[0]), "lower")
    quality.check_samples(submission, grader_data(submission), guided_samples(submission, GRADER_SEED))
    submission.judge("bound on test images, bits/dim (grader's float64 terms)", results["bound"], "trained_bound",
                     "after the grader's recipe the variational bound on test images")


def test_guidance_sweep(submission):
    results = measured(submission, GRADER_SEED)
    accuracy, recall = results["accuracy"], results["recall"]
    for w in submission.recipe(RECIPES)["ws"]:
        submission.show(f"class accuracy of guided samples, w = {w:g}", accuracy[w], "higher")
        submission.show(f"recall of guided samples, w = {w:g}", recall[w], "higher")
    submission.show("class accuracy of unconditional samples (chance: 0.1)", accuracy["unconditional"])
    what = "after the grader's recipe, the class accuracy of guided samples"
    submission.judge("class accuracy of guided samples at w = 1", accuracy[1.0], "guided_accuracy", f"{what} at w = 1")
    if submission.smoke:
        return
    assert accuracy[3.0] >= accuracy[0.0] - 0.02, (
        f"{what} falls from {accuracy[0.0]:.3f} at w = 0 to {accuracy[3.0]:.3f} at w = 3: guidance should make samples more recognisable")
    assert recall[3.0] < recall[0.0], (
        f"the recall of guided samples rises from {recall[0.0]:.3f} at w = 0 to {recall[3.0]:.3f} at w = 3: stronger guidance should cost diversity")


CALIBRATIONS = {
    "sampler_energy": Calibration(sampler_energy, better="lower", margin=3.0, min_slack=0.01, bugs=("std_as_variance",), implausible=None,
                                  every_profile=True),
    "sample_quality": QualityCalibration(guided_samples, grader_data, margin=0.25),
    "guided_accuracy": Calibration(guided_accuracy, better="higher", margin=0.05, bugs=("labels_always_dropped",), implausible=None),
    "trained_bound": Calibration(trained_bound, better="lower", margin=0.1, bugs=("predicts_zero",), implausible=0.5),
}
