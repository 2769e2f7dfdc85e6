"""Homework 6 (flow matching) hidden checks, one ``test_<grade_id>`` per autograded cell.

Every value is recomputed here in float64 from the probe's inputs: the paths from their closed forms and, independently
of any formula, by a central finite difference of the student's own path; the loss from the very inputs the student's
code gave the model; each sampler's chain replayed from the recorded calls of a field the grader defines (so it
recomputes every output), and its end point against the grader's own Euler or Heun; the divergence against the trace of
an autograd Jacobian; the log-likelihood against a closed form (a Gaussian carried onto a Gaussian) and against the
grader's own integration of the same field; the pairing against ``scipy.optimize.linear_sum_assignment``.

After the grader's recipes (``RECIPES``) nothing the student's code reports is judged unverified: the probe trains the
notebook's network with the student's ``cfm_loss`` (and ``ot_pair``) and returns its weights; the grader samples them with
its own Heun steps, measures straightness and integrates the likelihood with its own exact divergence. Where the
student's ``log_likelihood`` of a trained field is used (the 2D density's mass), its values on test points must equal the
grader's integration of the same weights.

Cost (quick profile): the exact checks' probes take about a second of CPU each; the recipes about 90 CPU seconds of
training in all (2D flow 10, two digit flows 40 each) and 15 of the grader's sampling and likelihood.
"""

from __future__ import annotations

import math

import torch
from scipy.optimize import linear_sum_assignment

import dgm
from autograder import quality
from autograder.calibrate import Calibration, QualityCalibration
from autograder.harness import GRADER_SEED
from autograder.notebook import instructor_namespace

TOLERANCE = 1e-6
"""Relative tolerance of values the grader recomputes in float64 from the same inputs."""


def _close(found, expected, tolerance: float = TOLERANCE) -> bool:
    found, expected = torch.as_tensor(found).double(), torch.as_tensor(expected).double()
    if found.shape != expected.shape:
        return False
    return bool(((found - expected).abs() <= tolerance * (1 + expected.abs())).all())


def _expand(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return t.double().view(-1, *[1] * (like.dim() - 1))


def coefficients(t: torch.Tensor, path: str) -> tuple[torch.Tensor, ...]:
    """alpha_t, alpha'_t, sigma_t, sigma'_t in float64."""
    t = t.double()
    if path == "linear":
        return t, torch.ones_like(t), 1 - t, -torch.ones_like(t)
    angle = math.pi / 2 * t
    return torch.sin(angle), math.pi / 2 * torch.cos(angle), torch.cos(angle), -math.pi / 2 * torch.sin(angle)


def _smooth(generator: torch.Generator, d: int, hidden: int = 8) -> dict:
    """The weights of a probes.SmoothField: v(x, t) = tanh(x W^T + t c) A^T + b t."""
    return {"W": torch.randn(hidden, d, generator=generator, dtype=torch.float64) / math.sqrt(d),
            "c": torch.randn(hidden, generator=generator, dtype=torch.float64),
            "A": torch.randn(d, hidden, generator=generator, dtype=torch.float64) / math.sqrt(hidden),
            "b": torch.randn(d, generator=generator, dtype=torch.float64) / 2}


def smooth_field(weights: dict):
    def v(x, t):
        flat, t = x.flatten(1).double(), torch.as_tensor(t).double().view(-1, 1)
        return (torch.tanh(flat @ weights["W"].T + t * weights["c"]) @ weights["A"].T + t * weights["b"]).view_as(x)
    return v


def forced_field(x, t):
    return -x + torch.cos(2 * math.pi * _expand(torch.as_tensor(t), x))


def gaussian_field(mu: torch.Tensor, s: float):
    def v(x, t):
        t = _expand(torch.as_tensor(t), x)
        return mu + (t * s**2 - (1 - t)) / ((1 - t) ** 2 + t**2 * s**2) * (x - t * mu)
    return v


def euler(v, x, n: int) -> torch.Tensor:
    h = 1.0 / n
    for k in range(n):
        x = x + h * v(x, torch.full((len(x),), k * h, dtype=torch.float64))
    return x


def heun(v, x, n: int) -> torch.Tensor:
    h = 1.0 / n
    for k in range(n):
        t = torch.full((len(x),), k * h, dtype=torch.float64)
        slope = v(x, t)
        x = x + h / 2 * (slope + v(x + h * slope, t + h))
    return x


def velocity_and_divergence(v, x: torch.Tensor, t: torch.Tensor, z: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """v(x, t) and its exact divergence (or z^T J z) by autograd, per example."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        velocity = v(x, t)
        if z is not None:
            (row,) = torch.autograd.grad(velocity, x, z)
            return velocity.detach(), (row * z).flatten(1).sum(1).detach()
        flat, divergence = velocity.flatten(1), torch.zeros(len(x), dtype=torch.float64)
        for i in range(flat.shape[1]):
            (row,) = torch.autograd.grad(flat[:, i].sum(), x, retain_graph=i + 1 < flat.shape[1])
            divergence = divergence + row.flatten(1)[:, i].double()
    return velocity.detach(), divergence


def log_likelihood(v, x1: torch.Tensor, n: int, z: torch.Tensor | None = None) -> torch.Tensor:
    """The grader's log p_1(x1): Heun from t = 1 to 0 on (x, int div v) in float64, then log N(x(0); 0, I) minus the integral."""
    x, h = x1.double(), 1.0 / n
    integral = torch.zeros(len(x), dtype=torch.float64)
    for k in range(n, 0, -1):
        t = torch.full((len(x),), k * h, dtype=torch.float64)
        velocity, divergence = velocity_and_divergence(v, x, t, z)
        predicted = x - h * velocity.double()
        velocity_next, divergence_next = velocity_and_divergence(v, predicted, t - h, z)
        x = x - h / 2 * (velocity.double() + velocity_next.double())
        integral = integral + h / 2 * (divergence + divergence_next)
    return -0.5 * (x.flatten(1).pow(2).sum(1) + x[0].numel() * math.log(2 * math.pi)) - integral


# --------------------------------------------------------------------------------------------------
# Paths and the loss


def test_paths(submission):
    generator = submission.private_generator("paths")
    x0, x1 = (torch.randn(10, 1, 2, 3, generator=generator, dtype=torch.float64) for _ in range(2))
    t = torch.cat([torch.tensor([0.0, 1.0], dtype=torch.float64), torch.rand(8, generator=generator, dtype=torch.float64) * 0.9 + 0.05])
    h = 1e-5
    found = submission.probe("paths", h=h, inputs={"x0": x0, "x1": x1, "t": t})
    for path in ("linear", "vp"):
        alpha, d_alpha, sigma, d_sigma = (_expand(c, x0) for c in coefficients(t, path))
        x_t, u_t = alpha * x1 + sigma * x0, d_alpha * x1 + d_sigma * x0
        value = found[path]
        assert torch.as_tensor(value["x_t"]).shape == x0.shape, f"cond_path(..., {path!r}) should return shape {tuple(x0.shape)}"
        hint = " (the noise and the data are swapped: t = 0 is noise, t = 1 is data)" if _close(value["x_t"], alpha * x0 + sigma * x1) else ""
        assert _close(value["x_t"], x_t), f"cond_path(..., {path!r}) differs from alpha_t x1 + sigma_t x0 by up to {(value['x_t'].double() - x_t).abs().max():.3g}{hint}"
        assert _close(value["x_t"][0], x0[0]) and _close(value["x_t"][1], x1[1]), f"{path}: x_t should be x0 at t = 0 and x1 at t = 1"
        difference = (value["after"].double() - value["before"].double()) / (2 * h)
        interior = slice(2, None)
        hints = {"the sign is flipped: u_t = d x_t / dt points from the noise to the data": -u_t,
                 "that is the velocity of the path with noise and data swapped": d_alpha * x0 + d_sigma * x1}
        hint = next((f" ({text})" for text, wrong in hints.items() if _close(value["u_t"], wrong)), "")
        assert _close(value["u_t"], u_t), f"cond_velocity(..., {path!r}) differs from alpha'_t x1 + sigma'_t x0 by up to {(value['u_t'].double() - u_t).abs().max():.3g}{hint}"
        assert _close(value["u_t"][interior], difference[interior], 1e-5), f"cond_velocity(..., {path!r}) is not the time derivative of your cond_path (central finite difference)"
        assert value["float32"].dtype == torch.float32 and _close(value["float32"], u_t, 1e-5), f"cond_velocity(..., {path!r}) of float32 inputs should stay float32 and right"


def test_cfm_loss(submission):
    generator = submission.private_generator("cfm_loss")
    x0, x1 = (torch.randn(12, 1, 2, 2, generator=generator, dtype=torch.float64) for _ in range(2))
    t = torch.rand(12, generator=generator, dtype=torch.float64)
    found = submission.probe("cfm", inputs={"x0": x0, "x1": x1, "t": t, **_smooth(generator, 4)})
    for path in ("linear", "vp"):
        calls, loss = found[path]["calls"], found[path]["loss"]
        assert len(calls) == 1, f"cfm_loss(..., {path!r}) should call the model once on the whole batch, not {len(calls)} times"
        [call] = calls
        alpha, d_alpha, sigma, d_sigma = (_expand(c, x0) for c in coefficients(t, path))
        assert call["x"].shape == x0.shape and call["t"].shape == (12,), "the model should see x_t (B, ...) and the times t (B,)"
        assert _close(call["t"], t), "the model should see the given times t"
        assert _close(call["x"], alpha * x1 + sigma * x0), f"the model should see x_t = alpha_t x1 + sigma_t x0 of the {path} path"
        target = d_alpha * x1 + d_sigma * x0
        expected = (call["out"].double() - target).pow(2).mean()
        hints = {"average over the batch and the coordinates, F.mse_loss's default": [expected * 12, expected * 4, expected * 48],
                 "is the target the velocity of the path you were given?": [(call["out"].double() - (x1 - x0)).pow(2).mean()]}
        hint = next((f" ({text})" for text, wrongs in hints.items() if any(_close(loss, w, 1e-5) for w in wrongs)), "")
        assert loss.shape == () and _close(loss, expected, 1e-5), f"cfm_loss(..., {path!r}) returned {float(loss):.6g}; ||v(x_t, t) - u_t||^2 averaged is {expected.item():.6g}{hint}"


# --------------------------------------------------------------------------------------------------
# Samplers


def replay(calls: list, x0: torch.Tensor, x1: torch.Tensor, n: int, solver: str, field) -> str | None:
    """What is wrong with a recorded chain, or None: each call at the grid's time on the state the student's own previous
    step produced, each recorded output the grader's field, each update the method's rule applied to the recorded
    velocities, and the returned point the last update."""
    per_step = 1 if solver == "euler" else 2
    rule = "x_k + h v(x_k, t_k)" if solver == "euler" else "x_k + h/2 (v(x_k, t_k) + v(x_k + h v(x_k, t_k), t_(k+1)))"
    if len(calls) != per_step * n:
        return f"{solver} with {n} steps should evaluate the field {per_step * n} times (NFE), not {len(calls)}"
    for call in calls:
        if not _close(call["out"], field(call["x"].double(), call["t"]), 1e-9):
            return f"{solver}: the field's recorded output was changed"
    h, x = 1.0 / n, x0.double()
    if not _close(calls[0]["x"], x, 1e-9):
        return f"{solver}: the first evaluation should be at the starting points x0"
    for k in range(n):
        first = calls[per_step * k]
        if not _close(first["t"], torch.full((len(x),), k * h, dtype=torch.float64), 1e-6):  # times in float32 are fine
            return f"{solver}: step {k} should evaluate the field at x_{k} and t_{k} = {k}/{n} (one t per example), got t = {float(first['t'].flatten()[0]):.4g}"
        slope = first["out"].double()
        # the step is 1/n, or the difference of the times the solver passed (a grid rounded to float32 is fine)
        later = calls[per_step * k + 1]["t"] if per_step * k + 1 < len(calls) else torch.ones(1)
        steps = (h, float(later.double().flatten()[0] - first["t"].double().flatten()[0]))
        if solver == "euler":
            following = calls[k + 1]["x"].double() if k + 1 < n else x1.double()
            step = next((s for s in steps if _close(following, x + s * slope, 1e-9)), h)
            euler_update = expected = x + step * slope
        else:
            second = calls[2 * k + 1]
            step = next((s for s in steps if _close(second["x"], x + s * slope, 1e-9)), None)
            if step is None or not _close(second["t"], torch.full((len(x),), (k + 1) * h, dtype=torch.float64), 1e-6):
                return f"heun: step {k}'s second evaluation should be at the Euler prediction x_k + h v(x_k, t_k) and t_(k+1)"
            euler_update = x + step * slope
            expected = x + step / 2 * (slope + second["out"].double())
        following = calls[per_step * (k + 1)]["x"].double() if k + 1 < n else None
        if following is not None and not _close(following, expected, 1e-9):
            if solver == "heun" and _close(following, euler_update, 1e-9):
                return f"heun: step {k}'s update is the Euler step x_k + h v(x_k, t_k); Heun's is {rule}"
            return f"{solver}: step {k}'s update is not {rule}"
        x = expected if following is None else following
    if not _close(x1, x, 1e-9):
        if solver == "heun" and _close(x1, x - step / 2 * (calls[-1]["out"].double() - calls[-2]["out"].double()), 1e-9):
            return f"heun: the last step's update is the Euler step; Heun's is {rule}"
        return f"{solver} did not return the end of its own chain (the last update of its recorded steps)"
    return None


def test_solvers(submission):
    generator = submission.private_generator("solvers")
    x0 = torch.randn(4, 3, generator=generator, dtype=torch.float64)
    sizes = [8, 16, 32, 64]
    found = submission.probe("orders", sizes=sizes, inputs={"x0": x0})
    c = 1 / (1 + 4 * math.pi**2)
    exact = (x0 - c) * math.exp(-1) + c
    for solver, reference, order in (("euler", euler, 1), ("heun", heun, 2)):
        runs = found[solver]
        first = runs[str(sizes[0])]
        problem = replay(first["calls"], x0, first["x1"], sizes[0], solver, forced_field)
        assert problem is None, problem
        errors = []
        for n in sizes:
            value = runs[str(n)]["x1"].double()
            assert value.shape == x0.shape, f"{solver} should return shape {tuple(x0.shape)}"
            assert runs[str(n)]["nfe"] == n * (1 if solver == "euler" else 2), f"{solver} with {n} steps made {runs[str(n)]['nfe']} field evaluations"
            assert _close(value, reference(forced_field, x0, n), 1e-7), f"{solver} with {n} steps differs from the method on t_k = k/n"
            errors.append((value - exact).abs().max().item())
        slope = math.log(errors[0] / errors[-1]) / math.log(sizes[-1] / sizes[0])
        submission.show(f"{solver}: observed order on dx/dt = -x + cos(2 pi t) (expected {order})", slope)
        assert abs(slope - order) < 0.25, f"{solver}'s error falls as h^{slope:.2f}, order {order} expected"


TRANSPORT = {"mu": [2.0, -1.0, 0.5], "s": 0.5, "n": 8000, "heun": 20, "euler": 200}


def test_transport(submission):
    """The samplers driven by the exact marginal field of the linear path from N(0, I) to N(mu, s^2 I): the chain replayed
    call by call, and the end points' mean and standard deviation against mu and s (z-tests at 4 standard errors, plus the
    method's own bias at these steps, measured on the grader's run)."""
    generator = submission.private_generator("transport")
    mu, s, n = torch.tensor(TRANSPORT["mu"], dtype=torch.float64), TRANSPORT["s"], TRANSPORT["n"]
    x0 = torch.randn(n, len(mu), generator=generator, dtype=torch.float64)
    field = gaussian_field(mu, s)
    for solver, reference in (("heun", heun), ("euler", euler)):
        steps = TRANSPORT[solver]
        found = submission.probe("solve", solver=solver, field="gaussian", n_steps=steps, s=s, inputs={"x0": x0, "mu": mu})
        x1 = found["x1"].double()
        assert x1.shape == x0.shape and x1.isfinite().all(), f"{solver} returned shape {tuple(x1.shape)} (or non-finite points)"
        problem = replay(found["calls"], x0, x1, steps, solver, field)
        assert problem is None, problem
        ours = reference(field, x0, steps)
        # the exact map is mu + s x0: the method's own bias at these steps, apart from the sample's
        bias_mean, bias_std = (ours.mean(0) - mu - s * x0.mean(0)).abs().max().item(), (ours.std(0) / x0.std(0) - s).abs().max().item()
        mean_error = (x1.mean(0) - mu).abs().max().item()
        std_error = (x1.std(0) - s).abs().max().item()
        submission.show(f"{solver} ({steps} steps): largest error of the transported mean", mean_error, "lower")
        submission.show(f"{solver} ({steps} steps): largest error of the transported std", std_error, "lower")
        assert mean_error < 4 * s / math.sqrt(n) + bias_mean + 1e-3, f"{solver}: the transported points have mean {x1.mean(0).tolist()}, {mu.tolist()} expected"
        assert std_error < 4 * s / math.sqrt(2 * n) + bias_std + 1e-3, f"{solver}: the transported points have std {x1.std(0).tolist()}, {s} expected"


# --------------------------------------------------------------------------------------------------
# Divergence and likelihood


def test_divergence(submission):
    generator = submission.private_generator("divergence")
    for d in (2, 5, 16):
        weights = _smooth(generator, d, hidden=12)
        x, t = torch.randn(6, d, generator=generator, dtype=torch.float64), torch.rand(6, generator=generator, dtype=torch.float64)
        z = torch.randint(0, 2, (6, d), generator=generator).double() * 2 - 1
        probes = torch.randint(0, 2, (4000, d), generator=generator).double() * 2 - 1
        found = submission.probe("divergence", inputs={"x": x, "t": t, "z": z, "probes": probes, **weights})
        v = smooth_field(weights)
        jacobians = torch.stack([torch.autograd.functional.jacobian(lambda y: v(y[None], t[i : i + 1])[0], x[i]) for i in range(6)])  # (6, d, d)
        trace = jacobians.diagonal(dim1=1, dim2=2).sum(1)
        assert found["calls"] == [1, 1], f"velocity_and_divergence should evaluate the field once per call, not {found['calls']}"
        assert _close(found["velocity"], v(x, t)), "velocity_and_divergence should return v(x, t) as its first output"
        hint = " (that is the sum over the batch: one divergence per example)" if _close(found["exact"], trace.sum().expand(6)) else ""
        assert torch.as_tensor(found["exact"]).shape == (6,), f"the divergence should have shape (B,) = (6,), got {tuple(torch.as_tensor(found['exact']).shape)}"
        assert _close(found["exact"], trace, 1e-8), f"in {d}D the exact divergence differs from the trace of the autograd Jacobian by up to {(found['exact'].double() - trace).abs().max():.3g}{hint}"
        expected = torch.einsum("bi,bij,bj->b", z, jacobians, z)
        assert _close(found["hutchinson"], expected, 1e-8), f"in {d}D Hutchinson's estimate with the given probe z is not z^T (dv/dx) z (is the probe z used, and the same for both sides?)"
        J = jacobians[0]
        symmetric = J + J.T
        variance = 0.5 * (symmetric.pow(2).sum() - symmetric.diagonal().pow(2).sum()).item()
        many = found["many"].double()
        submission.show(f"{d}D: Hutchinson's variance over 4,000 Rademacher probes (theory {variance:.4f})", many.var().item())
        assert abs(many.mean().item() - trace[0].item()) < 5 * math.sqrt(variance / len(probes)) + 1e-9, f"in {d}D Hutchinson's estimates average {many.mean():.4f}, the trace is {trace[0]:.4f}"
        assert abs(many.var().item() - variance) < 0.15 * variance + 1e-9, f"in {d}D Hutchinson's estimates have variance {many.var():.4f}, theory {variance:.4f}"


def test_log_likelihood(submission):
    generator = submission.private_generator("log_likelihood")
    # A Gaussian carried onto a Gaussian: log p_1 in closed form.
    mu, s, steps = torch.tensor([2.0, -1.0], dtype=torch.float64), 0.5, 50
    x1 = mu + s * torch.randn(64, 2, generator=generator, dtype=torch.float64)
    found = submission.probe("likelihood", field="gaussian", n_steps=steps, s=s, inputs={"x1": x1, "mu": mu, "z": torch.zeros(0)})
    exact = torch.distributions.Normal(mu, s).log_prob(x1).sum(1)
    ours = log_likelihood(gaussian_field(mu, s), x1, steps)
    value = torch.as_tensor(found["exact"]).double()
    assert value.shape == (64,), f"log_likelihood should return shape (B,) = (64,), got {tuple(value.shape)}"
    D = 2
    field = gaussian_field(mu, s)
    hints = {"the divergence's integral has the wrong sign: log p_1 = log p_0(x(0)) - int div v dt": ours + 2 * _integral(field, x1, steps),
             "log N(x; 0, I) lacks its normaliser -D/2 log(2 pi)": ours + D / 2 * math.log(2 * math.pi),
             "integrated from t = 0 to 1: start at the data x1 = x(1) and go back to t = 0": _forward_likelihood(field, x1, steps),
             "Euler steps: the homework pins Heun's method on (x, int div v)": _euler_likelihood(field, x1, steps)}
    hint = next((f" ({text})" for text, wrong in hints.items() if _close(value, wrong, 1e-4)), "")
    error, allowed = (value - exact).abs().max().item(), 2 * (ours - exact).abs().max().item() + 1e-6
    submission.show(f"log_likelihood of N(mu, s^2 I) through the exact field, {steps} Heun steps: largest error (nats)", error, "lower")
    assert error <= allowed, f"log_likelihood differs from log N(x1; mu, s^2 I) by up to {error:.3g} nats with {steps} Heun steps (the method's own error is {allowed / 2:.2g}){hint}"
    # A smooth nonlinear field in 3D: the grader integrates the same field with the same steps, exactly and with the probe z.
    weights = _smooth(generator, 3, hidden=10)
    x1 = torch.randn(32, 3, generator=generator, dtype=torch.float64)
    z = torch.randint(0, 2, (32, 3), generator=generator).double() * 2 - 1
    found = submission.probe("likelihood", field="smooth", n_steps=6, inputs={"x1": x1, "z": z, **weights})
    v = smooth_field(weights)
    expected = log_likelihood(v, x1, 6)
    wrong = {"integrated from t = 0 to 1: start at the data x1 = x(1) and go back to t = 0": _forward_likelihood(v, x1, 6),
             "the divergence's integral has the wrong sign": expected + 2 * _integral(v, x1, 6),
             "Euler steps: the homework pins Heun's method on (x, int div v)": _euler_likelihood(v, x1, 6)}
    hint = next((f" ({text})" for text, w in wrong.items() if _close(found["exact"], w, 1e-6)), "")
    assert _close(found["exact"], expected, 1e-6), (  # a float32 state is fine (about 1e-7 relative)
        f"on a nonlinear field log_likelihood differs from Heun's method on (x, int div v) from t = 1 to 0 by up to "
        f"{(torch.as_tensor(found['exact']).double() - expected).abs().max():.3g} nats{hint}")
    assert _close(found["hutchinson"], log_likelihood(v, x1, 6, z), 1e-6), "with a probe z, log_likelihood should use z^T (dv/dx) z for every divergence"


def _integral(v, x1, n):
    """int_0^1 div v along the grader's Heun trajectory (nats)."""
    return _p0_at_start(v, x1, n) - log_likelihood(v, x1, n)


def _p0_at_start(v, x1, n):
    x, h = x1.double(), 1.0 / n
    for k in range(n, 0, -1):
        t = torch.full((len(x),), k * h, dtype=torch.float64)
        slope = v(x, t)
        x = x - h / 2 * (slope + v(x - h * slope, t - h))
    return -0.5 * (x.flatten(1).pow(2).sum(1) + x[0].numel() * math.log(2 * math.pi))


def _forward_likelihood(v, x1, n):
    """Heun from x1 at t = 0 forward to t = 1 instead, then log N(x_end) - int div v along that path (a planted error's value)."""
    x, h, integral = x1.double(), 1.0 / n, torch.zeros(len(x1), dtype=torch.float64)
    for k in range(n):
        t = torch.full((len(x),), k * h, dtype=torch.float64)
        velocity, divergence = velocity_and_divergence(v, x, t)
        velocity_next, divergence_next = velocity_and_divergence(v, x + h * velocity, t + h)
        x, integral = x + h / 2 * (velocity + velocity_next), integral + h / 2 * (divergence + divergence_next)
    return -0.5 * (x.flatten(1).pow(2).sum(1) + x[0].numel() * math.log(2 * math.pi)) - integral


def _euler_likelihood(v, x1, n):
    x, h, integral = x1.double(), 1.0 / n, torch.zeros(len(x1), dtype=torch.float64)
    for k in range(n, 0, -1):
        velocity, divergence = velocity_and_divergence(v, x, torch.full((len(x),), k * h, dtype=torch.float64))
        x, integral = x - h * velocity, integral + h * divergence
    return -0.5 * (x.pow(2).sum(1) + x.shape[1] * math.log(2 * math.pi)) - integral


# --------------------------------------------------------------------------------------------------
# Pairing


def test_ot_pair(submission):
    generator = submission.private_generator("ot_pair")
    cases = {}
    for name, shape in (("small", (7, 2)), ("toy", (64, 2)), ("images", (48, 1, 4, 4)), ("wide", (128, 64))):
        x0, x1 = torch.randn(shape, generator=generator, dtype=torch.float64), torch.randn(shape, generator=generator, dtype=torch.float64)
        if name == "small":
            x0[3] = x0[1]  # duplicated rows: ties in the cost
        cases[name] = {"x0": x0, "x1": x1}
    found = submission.probe("ot", inputs={"cases": cases})
    for name, case in cases.items():
        x0, x1, paired = case["x0"], case["x1"], found[name]
        assert paired.shape == x0.shape, f"ot_pair of {tuple(x0.shape)} batches returned shape {tuple(paired.shape)}"
        rows = (paired.flatten(1)[:, None, :] == x0.flatten(1)[None, :, :]).all(2)  # rows[i, j]: paired row i is x0 row j
        assert rows.any(1).all(), f"ot_pair ({tuple(x0.shape)}): some returned rows are not rows of x0 (return x0 reordered, not a mixture of rows)"
        unique = torch.unique(x0.flatten(1), dim=0, return_inverse=True)[1]  # duplicated rows of x0 share an id
        ids = unique[rows.int().argmax(1)]
        assert torch.equal(ids.sort().values, unique.sort().values), f"ot_pair ({tuple(x0.shape)}): every row of x0 should appear exactly once"
        cost = torch.cdist(x0.flatten(1), x1.flatten(1)).pow(2)
        r, c = linear_sum_assignment(cost.numpy())
        optimum, found_cost = cost[r, c].sum().item(), (paired - x1).flatten(1).pow(2).sum().item()
        submission.show(f"ot_pair {tuple(x0.shape)}: total squared distance (optimum {optimum:.4f})", found_cost, "lower")
        hint = " (that is the cost of the pairing x0[j] with x1[perm[j]]: return x0 reordered so that row i goes with x1[i])" if abs(
            found_cost - (x0[torch.as_tensor(c)][torch.as_tensor(r).argsort()] - x1).flatten(1).pow(2).sum().item()) > 1e-9 and name == "toy" else ""
        assert found_cost <= optimum * (1 + 1e-9) + 1e-9, f"ot_pair ({tuple(x0.shape)}): total squared distance {found_cost:.6g}, the optimum is {optimum:.6g}{hint}"


# --------------------------------------------------------------------------------------------------
# After the grader's recipes: the course network trained with the student's cfm_loss (and ot_pair)


TOY_RECIPE = {"dataset": "toy:moons:4000", "config": {"data_shape": [2], "hidden": 128, "n_blocks": 2},
              "train": {"epochs": 64, "batch_size": 128, "lr": 1e-3}, "grid": 150, "box": 4.5, "steps": 20, "test_points": 500, "seconds": 120}
"""The 2D recipe, the same in every profile: a 128-wide VelocityNet trained with the student's cfm_loss on 4,000 points of two
moons for 2,048 Adam steps (about 5 CPU seconds), then its density on a 150 x 150 grid over [-4.5, 4.5]^2 (the trained flow
puts about 5 % of its mass outside [-3, 3]^2) with 20 Heun steps (about 6 CPU seconds)."""

RECIPES = {
    "quick": {"dataset": "digits", "config": {"data_shape": [1, 8, 8]}, "train": {"epochs": 500, "batch_size": 128, "lr": 1e-3},
              "n_levels": 17, "n_samples": 1000, "heun_steps": [1, 2, 5, 10], "likelihood_images": 200, "likelihood_steps": 10,
              "student_images": 16, "seconds": 300},
    "full": {"dataset": "mnist", "config": {"data_shape": [1, 28, 28], "hidden": 1024, "n_blocks": 4},
             "train": {"epochs": 10, "batch_size": 128, "lr": 3e-4}, "n_levels": 256, "n_samples": 2000, "heun_steps": [1, 2, 5, 10],
             "likelihood_images": 200, "likelihood_steps": 10, "student_images": 8, "seconds": 1800,
             "smoke": {"likelihood_images": 8, "likelihood_steps": 2, "student_images": 2}},
}
"""The grader's recipe. Quick: the notebook's VelocityNet (a 256-wide residual MLP) trained twice with the student's cfm_loss on the
linear path, once with independent pairs and once with the student's ot_pair, 6,000 Adam steps each on 1,437 dequantised
digits (about 40 CPU seconds each, one thread); then the grader draws 1,000 images of each with its own Heun steps at NFE 2, 4,
10 and 20, measures straightness along its own 20 Euler steps, and integrates the likelihood of 200 dequantised test images
with the exact divergence (10 Heun steps, 64 backward passes per evaluation: about 5 CPU seconds).
Full: a 1024-wide MLP on MNIST, 10 epochs (about 4,700 steps) per coupling on a GPU."""

_MEASURED: dict = {}


def _load(submission, config: dict, state: dict):
    course = instructor_namespace(str(submission.homework.source_notebook))
    net = course.VelocityNet(course.VelocityConfig(**{**config, "data_shape": tuple(config["data_shape"])}))
    net.load_state_dict(state)
    return net.eval()


def _trained(submission, recipe: dict, coupling: str, seed: int):
    found = submission.probe("train", seconds=recipe["seconds"], seed=seed, train_seed=seed, coupling=coupling,
                             n_levels=recipe.get("n_levels"), **{k: recipe[k] for k in ("dataset", "config", "train")})
    return _load(submission, recipe["config"], found["net"]), found["net"]


@torch.no_grad()
def straightness(net, x0: torch.Tensor, n_steps: int = 20) -> float:
    """E int_0^1 |(x(1) - x(0)) - v(x(t), t)|^2 dt along the grader's Euler trajectories (float64 states)."""
    x, velocities = x0.double(), []
    for k in range(n_steps):
        velocities.append(net(x, torch.full((len(x),), k / n_steps, dtype=torch.float64)).double())
        x = x + velocities[-1] / n_steps
    return torch.stack([((x - x0) - u).flatten(1).pow(2).sum(1) for u in velocities]).mean().item()


def toy_measured(submission, seed: int) -> dict:
    key = (id(submission), "toy", seed)
    if key not in _MEASURED:
        recipe = TOY_RECIPE
        net, state = _trained(submission, recipe, "independent", seed)
        axis = torch.linspace(-recipe["box"], recipe["box"], recipe["grid"], dtype=torch.float64)
        lattice = torch.cartesian_prod(axis, axis)  # (grid^2, 2)
        test_points = dgm.data.toy2d("moons", recipe["test_points"], seed=1000 + seed).double()
        found = submission.probe("trained_likelihood", n_steps=recipe["steps"], config=recipe["config"], seconds=recipe["seconds"],
                                 inputs={"net": state, "x1": torch.cat([lattice, test_points])})
        student = torch.as_tensor(found["log_p"]).double()
        ours = log_likelihood(net, test_points, recipe["steps"])
        _MEASURED[key] = {"student_grid": student[: len(lattice)], "student_test": student[len(lattice):], "test": ours,
                          "mass": (student[: len(lattice)].exp().sum() * (axis[1] - axis[0]) ** 2).item(), "nll": -ours.mean().item()}
    return _MEASURED[key]


def toy_nll(submission, seed: int) -> float:
    return toy_measured(submission, seed)["nll"]


def test_density_2d(submission):
    found = toy_measured(submission, GRADER_SEED)
    student, ours = found["student_test"], found["test"]
    assert student.shape == ours.shape and student.isfinite().all(), "log_likelihood of the trained 2D flow is not finite on the test points"
    submission.bound("mass of exp(log_likelihood) over [-4.5, 4.5]^2 (trained 2D flow)", found["mass"], 1.03, "lower")
    assert 0.97 <= found["mass"] <= 1.03, f"exp(log_likelihood) of the trained 2D flow integrates to {found['mass']:.3f} over the grid, 1 expected"
    assert _close(student, ours, 1e-5), (
        f"on the trained 2D flow your log_likelihood differs from the grader's integration of the same weights (Heun, {TOY_RECIPE['steps']} steps, "
        f"exact divergence) by up to {(student - ours).abs().max():.3g} nats")
    submission.judge("test NLL of the trained 2D flow, nats (grader's integration)", found["nll"], "toy_nll",
                     "after the grader's 2D recipe the test negative log-likelihood")


def grader_data(submission):
    return quality.GraderData.load(submission.recipe(RECIPES)["dataset"], binarised=False)


def measured(submission, seed: int, coupling: str = "independent") -> dict:
    """What the trained digit checks judge of the flow trained with ``coupling`` and seed ``seed`` (computed once per submission):
    FID of the grader's Heun samples at each NFE, straightness, and (independent pairs) the test likelihood."""
    key = (id(submission), seed, coupling)
    if key not in _MEASURED:
        recipe = submission.recipe(RECIPES)
        data = grader_data(submission)
        test_features, _ = dgm.features.features(data.dataset, data.test)
        noise = torch.randn(recipe["n_samples"], *recipe["config"]["data_shape"], generator=submission.private_generator("samples", seed), dtype=torch.float64)
        net, state = _trained(submission, recipe, coupling, seed)
        result = {"state": state, "straightness": straightness(net, noise), "fid": {}, "samples": {}}
        for n_steps in recipe["heun_steps"]:
            with torch.no_grad():
                images = ((heun(lambda x, t: net(x, t).double(), noise, n_steps) + 1) / 2).clamp(0, 1).float()
            result["fid"][2 * n_steps] = dgm.metrics.fid(test_features, dgm.features.features(data.dataset, images)[0])
            result["samples"][2 * n_steps] = images
        if coupling == "independent":
            width = 2 / (recipe["n_levels"] - 1)
            images = data.test[: recipe["likelihood_images"]].double() * 2 - 1
            x1 = images + (torch.rand(images.shape, generator=submission.private_generator("dequantize", seed), dtype=torch.float64) - 0.5) * width
            log_p = log_likelihood(net, x1, recipe["likelihood_steps"])
            D = x1[0].numel()
            result["bpd"] = (-(log_p + D * math.log(width)) / (D * math.log(2))).mean().item()
            result["x1"], result["log_p"] = x1[: recipe["student_images"]], log_p[: recipe["student_images"]]
        _MEASURED[key] = result
    return _MEASURED[key]


def final_samples(submission, seed: int) -> torch.Tensor:
    """The grader's Heun samples at the largest NFE of the independent-pairs flow trained with seed ``seed``."""
    recipe = submission.recipe(RECIPES)
    images = measured(submission, seed)["samples"][2 * recipe["heun_steps"][-1]]
    submission.artifacts["samples"] = images[:100]
    return images


def straightness_ratio(submission, seed: int) -> float:
    return measured(submission, seed, "ot")["straightness"] / measured(submission, seed)["straightness"]


def trained_bpd(submission, seed: int) -> float:
    return measured(submission, seed)["bpd"]


def test_ot_straightness(submission):
    recipe = submission.recipe(RECIPES)
    found = {coupling: measured(submission, GRADER_SEED, coupling) for coupling in ("independent", "ot")}
    for coupling in found:
        submission.show(f"straightness with {coupling} pairs (grader's Euler, 20 steps)", found[coupling]["straightness"], "lower")
    submission.judge("straightness with OT pairs / with independent pairs", straightness_ratio(submission, GRADER_SEED), "straightness_ratio",
                     "after the grader's recipe the straightness of OT-paired flow relative to independent pairs (is ot_pair used in FlowMatching.loss?)")
    first = 2 * recipe["heun_steps"][0]
    for coupling in found:
        submission.show(f"FID at NFE {first} (Heun), {coupling} pairs", found[coupling]["fid"][first], "lower")
    if submission.smoke:
        return
    assert found["ot"]["fid"][first] < found["independent"]["fid"][first], (
        f"at NFE {first} OT pairs give FID {found['ot']['fid'][first]:.1f}, independent pairs {found['independent']['fid'][first]:.1f}: "
        "straighter paths should give better few-step samples")


def test_sample_quality(submission):
    found = measured(submission, GRADER_SEED)
    for nfe, fid in found["fid"].items():
        submission.show(f"FID at NFE {nfe} (Heun, independent pairs)", fid, "lower")
    quality.check_samples(submission, grader_data(submission), final_samples(submission, GRADER_SEED))


def test_trained_likelihood(submission):
    recipe, found = submission.recipe(RECIPES), measured(submission, GRADER_SEED)
    student = submission.probe("trained_likelihood", n_steps=recipe["likelihood_steps"], config=recipe["config"], seconds=recipe["seconds"],
                               inputs={"net": found["state"], "x1": found["x1"]})["log_p"].double()
    assert student.shape == found["log_p"].shape and _close(student, found["log_p"], 1e-5), (
        f"on the trained digit flow your log_likelihood differs from the grader's integration of the same weights by up to "
        f"{(student - found['log_p']).abs().max():.3g} nats")
    submission.judge("test likelihood, bits/dim (grader's exact integration)", found["bpd"], "trained_bpd",
                     "after the grader's recipe the test likelihood in bits per dimension")


CALIBRATIONS = {
    "toy_nll": Calibration(toy_nll, better="lower", margin=0.1, min_slack=0.1, bugs=("target_zero",), implausible=None, every_profile=True),
    "sample_quality": QualityCalibration(final_samples, grader_data, margin=0.25),
    "straightness_ratio": Calibration(straightness_ratio, better="lower", margin=0.3, bugs=("ot_ignored",), implausible=None),
    "trained_bpd": Calibration(trained_bpd, better="lower", margin=0.05, bugs=("target_zero",), implausible=0.5),
}
