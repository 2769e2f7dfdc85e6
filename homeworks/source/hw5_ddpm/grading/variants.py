"""Homework 5 solutions the calibration measures beside the reference (instructors only).

``ALTERNATIVES``: correct solutions written differently, which must never fail (answer cell id -> its whole source).
``posterior_form`` builds alpha_bar from a sum of logs, reads the posterior mean through the x0-estimate, takes the
reverse step as the posterior of the predicted x0, guides with two model calls and drops labels with a Bernoulli
mask. ``float64_chain`` runs the sampler's chain in float64 with the loop written from T down, draws every step's
noise (also the unused last one) and computes the decoder's bin masses with ``torch.special.ndtr``.
``BUGS``: known bugs (answer cell id -> ``(old, new)`` replacement in the reference): a reverse step that scales the
noise by tilde beta_t instead of its square root (the exact-score sampler's energy distance), a loss that drops every
label (guidance cannot change the class: the guided accuracy) and a loss whose target is zero instead of the noise
(the trained bound).
``python -m autograder calibrate hw5`` puts each threshold between the worst correct solution and the best bug it
names, and refuses when none does.
"""

POSTERIOR_FORM_SCHEDULE = '''
def linear_betas(T: int) -> Tensor:
    """Evenly spaced betas, rescaled by 1000 / T."""
    first, last = 1e-4 * 1000 / T, 0.02 * 1000 / T
    return first + (last - first) * torch.arange(T, dtype=torch.float64) / (T - 1)


def cosine_betas(T: int, s: float = 0.008) -> Tensor:
    """Nichol & Dhariwal's cosine schedule."""
    f = lambda t: math.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2
    return torch.tensor([min(1 - f(t) / f(t - 1), 0.999) for t in range(1, T + 1)], dtype=torch.float64)


def make_schedule(betas: Tensor) -> Schedule:
    """alpha_bar as the exponential of a cumulative sum of logs."""
    beta = F.pad(betas.to(torch.float64), (1, 0))
    alpha = 1.0 - beta
    return Schedule(beta, alpha, torch.exp(torch.cumsum(torch.log(alpha), 0)))


def q_sample(schedule: Schedule, x0: Tensor, t: Tensor, eps: Tensor) -> Tensor:
    """Forward marginal."""
    signal = extract(schedule.alpha_bar.sqrt(), t, x0)
    noise = extract((1 - schedule.alpha_bar).sqrt(), t, x0)
    return torch.addcmul(signal * x0, noise, eps)
'''

POSTERIOR_FORM_POSTERIOR = '''
def posterior(schedule: Schedule, x0: Tensor, x_t: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
    """Mean as the interpolation between x_t run back one step and x0; variance tilde beta."""
    ab, ab_prev = extract(schedule.alpha_bar, t, x_t), extract(schedule.alpha_bar, t - 1, x_t)
    a = extract(schedule.alpha, t, x_t)
    c0 = ab_prev.sqrt() * (1 - a) / (1 - ab)
    ct = a.sqrt() * (1 - ab_prev) / (1 - ab)
    variance = (1 - ab_prev) * (1 - a) / (1 - ab)
    return c0 * x0 + ct * x_t, variance
'''

POSTERIOR_FORM_CONVERSIONS = '''
def x0_from_eps(schedule: Schedule, x_t: Tensor, t: Tensor, eps: Tensor) -> Tensor:
    ab = extract(schedule.alpha_bar, t, x_t)
    return x_t / ab.sqrt() - torch.sqrt(1 / ab - 1) * eps


def eps_from_x0(schedule: Schedule, x_t: Tensor, t: Tensor, x0: Tensor) -> Tensor:
    ab = extract(schedule.alpha_bar, t, x_t)
    return (x_t / ab.sqrt() - x0) / torch.sqrt(1 / ab - 1)


def v_from_x0_eps(schedule: Schedule, x0: Tensor, t: Tensor, eps: Tensor) -> Tensor:
    angle = torch.acos(extract(schedule.alpha_bar, t, x0).sqrt())  # alpha_bar = cos^2
    return torch.cos(angle) * eps - torch.sin(angle) * x0


def x0_from_v(schedule: Schedule, x_t: Tensor, t: Tensor, v: Tensor) -> Tensor:
    angle = torch.acos(extract(schedule.alpha_bar, t, x_t).sqrt())
    return torch.cos(angle) * x_t - torch.sin(angle) * v


def eps_from_v(schedule: Schedule, x_t: Tensor, t: Tensor, v: Tensor) -> Tensor:
    angle = torch.acos(extract(schedule.alpha_bar, t, x_t).sqrt())
    return torch.sin(angle) * x_t + torch.cos(angle) * v


def score_from_eps(schedule: Schedule, x_t: Tensor, t: Tensor, eps: Tensor) -> Tensor:
    return eps / -extract((1 - schedule.alpha_bar).sqrt(), t, x_t)
'''

POSTERIOR_FORM_GUIDANCE = '''
def guided_eps(eps_model: nn.Module, x_t: Tensor, t: Tensor, y: Tensor | None, w: float) -> Tensor:
    unconditional = eps_model(x_t, t, torch.full_like(t, NULL))
    if y is None:
        return unconditional
    conditional = eps_model(x_t, t, y)
    return (1 + w) * conditional - w * unconditional


def loss_simple(eps_model: nn.Module, schedule: Schedule, x0: Tensor, y: Tensor | None = None, p_uncond: float = 0.0) -> Tensor:
    n = x0.shape[0]
    t = torch.randint(schedule.T, (n,), device=x0.device) + 1
    noise = torch.randn_like(x0)
    if y is None:
        y = torch.full((n,), NULL, dtype=torch.long, device=x0.device)
    drop = torch.bernoulli(torch.full((n,), p_uncond, device=x0.device)).bool()
    prediction = eps_model(q_sample(schedule, x0, t, noise), t, y.masked_fill(drop, NULL))
    return ((prediction - noise) ** 2).mean()
'''

POSTERIOR_FORM_SAMPLER = '''
def reverse_step(schedule: Schedule, eps: Tensor, x_t: Tensor, t: Tensor, noise: Tensor) -> Tensor:
    """The posterior of the x0 the prediction implies."""
    mean, variance = posterior(schedule, x0_from_eps(schedule, x_t, t, eps), x_t, t)
    return mean + variance.sqrt() * noise


@torch.no_grad()
def sample(eps_model: nn.Module, schedule: Schedule, shape: tuple[int, ...], y: Tensor | None = None, w: float = 0.0,
           generator: torch.Generator | None = None, device: torch.device | str = "cpu") -> Tensor:
    x = torch.randn(*shape, generator=generator).to(device)
    for t in range(schedule.T, 0, -1):
        times = torch.full((shape[0],), t, device=x.device, dtype=torch.long)
        z = torch.randn(*shape, generator=generator).to(x.device) if t > 1 else torch.zeros_like(x)
        x = reverse_step(schedule, guided_eps(eps_model, x, times, y, w), x, times, z)
    return x
'''

FLOAT64_CHAIN_SAMPLER = '''
def reverse_step(schedule: Schedule, eps: Tensor, x_t: Tensor, t: Tensor, noise: Tensor) -> Tensor:
    coefficient = extract(schedule.beta / (1 - schedule.alpha_bar).clamp(min=1e-300).sqrt(), t, x_t)
    sigma = extract(torch.cat([schedule.beta[:1], schedule.beta[1:] * (1 - schedule.alpha_bar[:-1]) / (1 - schedule.alpha_bar[1:])]).sqrt(), t, x_t)
    return extract(schedule.alpha.rsqrt(), t, x_t) * (x_t - coefficient * eps) + sigma * noise


@torch.no_grad()
def sample(eps_model: nn.Module, schedule: Schedule, shape: tuple[int, ...], y: Tensor | None = None, w: float = 0.0,
           generator: torch.Generator | None = None, device: torch.device | str = "cpu") -> Tensor:
    dtype = next((p.dtype for p in eps_model.parameters()), torch.float32) if isinstance(eps_model, nn.Module) else torch.float32
    x = torch.randn(shape, generator=generator, dtype=torch.float64).to(device)
    t = schedule.T
    while t >= 1:
        times = torch.full((shape[0],), t, dtype=torch.long, device=device)
        eps = guided_eps(eps_model, x.to(dtype), times, y, w).double()
        x = reverse_step(schedule, eps, x, times, torch.randn(shape, generator=generator, dtype=torch.float64).to(device))
        t -= 1
    return x.float()
'''

FLOAT64_CHAIN_BOUND = '''
@torch.no_grad()
def bound_terms(eps_model: nn.Module, schedule: Schedule, x0: Tensor, n_levels: int, y: Tensor | None = None) -> dict[str, Tensor]:
    labels = y if y is not None else torch.full((x0.shape[0],), NULL, dtype=torch.long, device=x0.device)
    ab_T = schedule.alpha_bar[-1]
    prior = 0.5 * (ab_T * x0.pow(2) - ab_T - torch.log1p(-ab_T)).flatten(1).sum(1)
    columns, decoder = {}, None
    for t in range(schedule.T, 0, -1):
        times = torch.full((x0.shape[0],), t, dtype=torch.long, device=x0.device)
        x_t = q_sample(schedule, x0, times, torch.randn_like(x0))
        mean = reverse_step(schedule, eps_model(x_t, times, labels), x_t, times, torch.zeros_like(x_t))
        if t > 1:
            target, variance = posterior(schedule, x0, x_t, times)
            columns[t] = (target - mean).pow(2).div(2 * variance).flatten(1).sum(1)
        else:
            std, edge = schedule.beta[1].sqrt(), 1.0 / (n_levels - 1)
            above = torch.special.ndtr((x0 + edge - mean) / std)
            below = torch.special.ndtr((x0 - edge - mean) / std)
            above = torch.where(x0 >= 1 - edge / 2, torch.ones_like(above), above)
            below = torch.where(x0 <= -1 + edge / 2, torch.zeros_like(below), below)
            decoder = -torch.log(torch.clamp(above - below, min=1e-12)).flatten(1).sum(1)
    diffusion = torch.stack([columns[t] for t in range(2, schedule.T + 1)], dim=1)
    return {"prior": prior, "diffusion": diffusion, "decoder": decoder}


def bits_per_dim(terms: dict[str, Tensor], x0: Tensor) -> Tensor:
    nats = terms["prior"] + terms["diffusion"].sum(dim=1) + terms["decoder"]
    return nats / math.log(2) / x0[0].numel()
'''

ALTERNATIVES = {
    "posterior_form": {"answer_schedule": POSTERIOR_FORM_SCHEDULE, "answer_posterior": POSTERIOR_FORM_POSTERIOR,
                       "answer_parametrisations": POSTERIOR_FORM_CONVERSIONS, "answer_guidance": POSTERIOR_FORM_GUIDANCE,
                       "answer_sampler": POSTERIOR_FORM_SAMPLER},
    "float64_chain": {"answer_sampler": FLOAT64_CHAIN_SAMPLER, "answer_bound": FLOAT64_CHAIN_BOUND},
}

BUGS = {
    "std_as_variance": {"answer_sampler": ("return mean + variance.sqrt() * noise", "return mean + variance * noise")},
    "labels_always_dropped": {"answer_guidance": ("torch.rand(B, device=x0.device) < p_uncond", "torch.rand(B, device=x0.device) < 2.0")},
    "predicts_zero": {"answer_guidance": ("labels), eps)", "labels), 0 * eps)")},
}
