"""Homework 4 solutions the calibration measures beside the reference (instructors only).

``ALTERNATIVES``: correct solutions written differently, which must never fail (answer cell id -> its
whole source): one with ``F.logsigmoid`` losses, ``torch.lerp`` interpolates, ``grad_outputs`` instead of
a sum and ``torch.linalg.vector_norm``, and a training step that draws the mixing weights before the fakes
and detaches them afterwards; one that computes both expectations from one batched critic call, the
penalty's norm as the square root of a sum of squares, and the training step with a helper per player.
``BUGS``: known bugs (answer cell id -> ``(old, new)`` replacement in the reference): a training step that
leaves the penalty out (the critic is unconstrained), and one that takes a single critic step per
generator step.
``python -m autograder calibrate hw4`` puts each threshold between the worst correct solution and the
best bug it names, and refuses when none does.
"""

LOGSIGMOID_LOSSES = '''
def critic_loss(critic: nn.Module, real: Tensor, fake: Tensor) -> Tensor:
    """E f(fake) - E f(real)."""
    return torch.mean(critic(fake)) - torch.mean(critic(real))


def generator_loss(critic: nn.Module, fake: Tensor) -> Tensor:
    """-E f(fake)."""
    return torch.mean(-critic(fake))


def nonsaturating_losses(discriminator: nn.Module, real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
    """-E log D(real) - E log(1 - D(fake)) and -E log D(fake), D = sigmoid(logit)."""
    real_logits, fake_logits = discriminator(real), discriminator(fake)
    d_loss = -(F.logsigmoid(real_logits).mean() + F.logsigmoid(-fake_logits).mean())
    g_loss = -F.logsigmoid(fake_logits).mean()
    return d_loss, g_loss
'''

LERP_PENALTY = '''
def gradient_penalty(critic: nn.Module, real: Tensor, fake: Tensor, eps: Tensor) -> Tensor:
    """mean_b (||grad f(x_hat_b)|| - 1)^2 with x_hat = lerp(fake, real, eps)."""
    weight = eps.reshape((-1,) + (1,) * (real.ndim - 1)).to(real.dtype)
    x_hat = torch.lerp(fake.detach(), real.detach(), weight).requires_grad_()
    values = critic(x_hat)
    grad = torch.autograd.grad(outputs=values, inputs=x_hat, grad_outputs=torch.ones_like(values), create_graph=True)[0]
    norms = torch.linalg.vector_norm(grad.reshape(len(grad), -1), dim=1)
    return torch.mean((norms - 1) ** 2)
'''

EPS_FIRST_STEP = '''
def train_step(generator: Generator, critic: Critic, generator_optimizer: torch.optim.Optimizer,
               critic_optimizer: torch.optim.Optimizer, real_batches: list[Tensor], config: WGANConfig) -> dict[str, float]:
    """n_critic critic steps, then one generator step."""
    for real in real_batches:
        eps = torch.rand(real.shape[0], device=real.device)
        fake = generator.sample(real.shape[0]).detach()
        critic_optimizer.zero_grad(set_to_none=True)
        w_loss = critic_loss(critic, real, fake)
        total = w_loss + config.lam * gradient_penalty(critic, real, fake, eps)
        total.backward()
        critic_optimizer.step()
    generator_optimizer.zero_grad(set_to_none=True)
    g = generator_loss(critic, generator.sample(real_batches[-1].shape[0]))
    g.backward()
    generator_optimizer.step()
    return {"critic_loss": float(total), "wasserstein": -float(w_loss), "generator_loss": float(g)}
'''

BATCHED_LOSSES = '''
def critic_loss(critic: nn.Module, real: Tensor, fake: Tensor) -> Tensor:
    """E f(fake) - E f(real) from one critic call on both batches."""
    values = critic(torch.cat([real, fake]))
    f_real, f_fake = values[: len(real)], values[len(real):]
    return f_fake.mean() - f_real.mean()


def generator_loss(critic: nn.Module, fake: Tensor) -> Tensor:
    return -critic(fake).mean()


def nonsaturating_losses(discriminator: nn.Module, real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
    logits = discriminator(torch.cat([real, fake]))
    targets = torch.cat([torch.ones(len(real)), torch.zeros(len(fake))]).to(logits)
    d_loss = F.binary_cross_entropy_with_logits(logits[: len(real)], targets[: len(real)]) + F.binary_cross_entropy_with_logits(
        logits[len(real):], targets[len(real):])
    g_loss = F.binary_cross_entropy_with_logits(logits[len(real):], torch.ones_like(logits[len(real):]))
    return d_loss, g_loss
'''

SUM_OF_SQUARES_PENALTY = '''
def gradient_penalty(critic: nn.Module, real: Tensor, fake: Tensor, eps: Tensor) -> Tensor:
    shape = (len(eps),) + (1,) * (real.dim() - 1)
    x_hat = real * eps.view(shape) + fake * (1 - eps.view(shape))
    x_hat = x_hat.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), [x_hat], create_graph=True)
    norm = torch.sqrt(grad.pow(2).sum(dim=tuple(range(1, grad.dim()))))
    return ((norm - 1.0) ** 2).mean()
'''

HELPER_STEP = '''
def _critic_step(generator, critic, optimizer, real, config):
    with torch.no_grad():
        fake = generator(torch.randn(len(real), generator.config.z_dim, device=real.device, dtype=real.dtype))
    wasserstein = critic_loss(critic, real, fake)
    loss = wasserstein + config.lam * gradient_penalty(critic, real, fake, torch.rand(len(real), device=real.device))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item(), -wasserstein.item()


def train_step(generator: Generator, critic: Critic, generator_optimizer: torch.optim.Optimizer,
               critic_optimizer: torch.optim.Optimizer, real_batches: list[Tensor], config: WGANConfig) -> dict[str, float]:
    for index in range(config.n_critic):
        loss, wasserstein = _critic_step(generator, critic, critic_optimizer, real_batches[index], config)
    z = torch.randn(len(real_batches[-1]), generator.config.z_dim, device=real_batches[-1].device, dtype=real_batches[-1].dtype)
    g_loss = generator_loss(critic, generator(z))
    generator_optimizer.zero_grad()
    g_loss.backward()
    generator_optimizer.step()
    return {"critic_loss": loss, "wasserstein": wasserstein, "generator_loss": g_loss.item()}
'''

ALTERNATIVES = {
    "logsigmoid_lerp": {"answer_losses": LOGSIGMOID_LOSSES, "answer_penalty": LERP_PENALTY, "answer_train_step": EPS_FIRST_STEP},
    "batched_sum_of_squares": {"answer_losses": BATCHED_LOSSES, "answer_penalty": SUM_OF_SQUARES_PENALTY, "answer_train_step": HELPER_STEP},
}

BUGS = {
    "no_penalty": {"answer_train_step": ("loss = wasserstein_loss + config.lam * gradient_penalty(critic, real, fake, eps)",
                                         "loss = wasserstein_loss")},
    "one_critic_step": {"answer_train_step": ("    for real in real_batches:\n", "    for real in real_batches[:1]:\n")},
}
