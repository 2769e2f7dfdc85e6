"""Homework 4 probes: what the grader asks of the student's losses, penalty and training step.

Each probe runs in the sandbox with the student's program as ``ns`` and returns raw tensors (values,
gradients, parameter states); it judges nothing. ``test_checks.py`` does, in the grader's process. The
networks are the course's (the notebook's ``setup_models`` cell): the training probes train them with the
student's functions and return their states, and the grader evaluates those states in its own copies of
the networks, so every number it judges is computed outside student code.
"""

from __future__ import annotations

import torch
from torch import nn

import dgm
from autograder.worker import StudentCodeError


def _require(ns, *names):
    for name in names:
        if not hasattr(ns, name):
            raise StudentCodeError(f"the notebook defines no {name}")


class LinearCritic(nn.Module):
    """f(x) = <w, x> + b on flattened inputs, (B, ...) -> (B,): a critic whose every value the grader knows."""

    def __init__(self, w: torch.Tensor, b: torch.Tensor):
        super().__init__()
        self.w, self.b = nn.Parameter(w.clone()), nn.Parameter(b.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ self.w + self.b


class TanhCritic(nn.Module):
    """f(x) = v . tanh(W x + c) + <a, x>: smooth, so its input gradient and their parameter gradients are exact."""

    def __init__(self, W: torch.Tensor, c: torch.Tensor, v: torch.Tensor, a: torch.Tensor):
        super().__init__()
        self.W, self.c, self.v, self.a = (nn.Parameter(t.clone()) for t in (W, c, v, a))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(1)
        return torch.tanh(flat @ self.W.T + self.c) @ self.v + flat @ self.a


def _grads(output: torch.Tensor, module: nn.Module) -> dict:
    """Gradients of a scalar with respect to each parameter of ``module`` (zeros where it does not depend on one)."""
    names, params = zip(*module.named_parameters())
    if not output.requires_grad:
        return {name: torch.zeros_like(p) for name, p in zip(names, params)}
    grads = torch.autograd.grad(output, params, allow_unused=True)
    return {name: (torch.zeros_like(p) if g is None else g.detach()) for name, g, p in zip(names, grads, params)}


# --------------------------------------------------------------------------------------------------
# Losses and the penalty on critics the grader knows


def wgan_losses(ns, w, b, real, fake) -> dict:
    """critic_loss and generator_loss of the linear critic (w, b), with their gradients in w and b."""
    _require(ns, "critic_loss", "generator_loss")
    critic = LinearCritic(w, b)
    critic_value = ns.critic_loss(critic, real, fake)
    generator_value = ns.generator_loss(critic, fake)
    return {"critic_loss": critic_value.detach(), "critic_grads": _grads(critic_value, critic),
            "generator_loss": generator_value.detach(), "generator_grads": _grads(generator_value, critic)}


def nonsaturating(ns, w, b, real, fake) -> dict:
    """nonsaturating_losses of the linear discriminator (w, b), with the discriminator loss's gradients."""
    _require(ns, "nonsaturating_losses")
    discriminator = LinearCritic(w, b)
    d_loss, g_loss = ns.nonsaturating_losses(discriminator, real, fake)
    return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(), "d_grads": _grads(d_loss, discriminator)}


def penalty(ns, W, c, v, a, real, fake, eps) -> dict:
    """gradient_penalty of the smooth critic (W, c, v, a) at the grader's pairs and mixing weights, with its
    gradients in the critic's parameters (double backpropagation)."""
    _require(ns, "gradient_penalty")
    critic = TanhCritic(W, c, v, a)
    value = ns.gradient_penalty(critic, real, fake, eps)
    return {"gp": value.detach(), "grads": _grads(value, critic)}


# --------------------------------------------------------------------------------------------------
# The training step, instrumented


def train_step(ns, config, game, n_calls, real) -> dict:
    """``n_calls`` calls of the student's ``train_step`` on the course networks with SGD, ``real``
    (n_calls, n_critic, B, *shape) the batches. Records, per optimiser step, which optimiser stepped; at each
    critic step the critic's gradients and parameters and the inputs of the last ``critic_loss`` and
    ``gradient_penalty`` calls (pairs and mixing weights); at each generator step the generator's gradients, its
    parameters and the critic's, and the noise of the generator's last forward pass. The grader recomputes
    each step's gradient from these."""
    _require(ns, "train_step", "Generator", "Critic", "GANConfig", "WGANConfig")
    config = ns.GANConfig(**{**config, "data_shape": tuple(config["data_shape"])})
    generator, critic = ns.Generator(config).double(), ns.Critic(config).double()
    generator_optimizer = torch.optim.SGD(generator.parameters(), lr=0.05)
    critic_optimizer = torch.optim.SGD(critic.parameters(), lr=0.05)
    events, generator_steps, critic_steps, last = [], [], [], {}
    generator_forward, student_critic_loss, student_penalty = generator.forward, ns.critic_loss, ns.gradient_penalty

    def recording_forward(z):
        last["z"] = z.detach().clone()
        return generator_forward(z)

    def recording_critic_loss(critic_, real_, fake_):
        last["loss_inputs"] = (real_.detach().clone(), fake_.detach().clone())
        return student_critic_loss(critic_, real_, fake_)

    def recording_penalty(critic_, real_, fake_, eps_):
        last["penalty_inputs"] = (real_.detach().clone(), fake_.detach().clone(), torch.as_tensor(eps_).detach().clone())
        return student_penalty(critic_, real_, fake_, eps_)

    def recording(optimizer, name):
        step = optimizer.step

        def recorded(*args, **kwargs):
            events.append(name)
            if name == "critic":
                empty = torch.zeros(0)
                real_l, fake_l = last.pop("loss_inputs", (empty, empty))
                real_p, fake_p, eps = last.pop("penalty_inputs", (empty, empty, empty))
                critic_steps.append({
                    "grads": {k: (torch.zeros_like(p) if p.grad is None else p.grad.detach().clone()) for k, p in critic.named_parameters()},
                    "critic": {k: v.detach().clone() for k, v in critic.state_dict().items()},
                    "loss_real": real_l, "loss_fake": fake_l, "penalty_real": real_p, "penalty_fake": fake_p, "eps": eps,
                })
            if name == "generator":
                generator_steps.append({
                    "z": last.get("z", torch.zeros(0)),
                    "grads": {k: (torch.zeros_like(p) if p.grad is None else p.grad.detach().clone()) for k, p in generator.named_parameters()},
                    "generator": {k: v.detach().clone() for k, v in generator.state_dict().items()},
                    "critic": {k: v.detach().clone() for k, v in critic.state_dict().items()},
                })
            return step(*args, **kwargs)

        return recorded

    generator.forward = recording_forward
    ns.critic_loss, ns.gradient_penalty = recording_critic_loss, recording_penalty  # train_step finds them in its globals
    generator_optimizer.step = recording(generator_optimizer, "generator")
    critic_optimizer.step = recording(critic_optimizer, "critic")
    for call in range(n_calls):
        ns.train_step(generator, critic, generator_optimizer, critic_optimizer, list(real[call]), ns.WGANConfig(**game))
        events.append("return")
    return {"events": torch.tensor([{"critic": 0, "generator": 1, "return": 2}[e] for e in events]), "generator_steps": generator_steps,
            "critic_steps": critic_steps}


# --------------------------------------------------------------------------------------------------
# The grader's recipes: states of trained course networks


def train_critic_1d(ns, config, lam, steps, batch_size, lr, train_seed) -> dict:
    """The notebook's 1D recipe (the frozen generator, the critic trained with the student's losses and penalty)."""
    _require(ns, "train_critic_1d", "GANConfig", "critic_loss", "gradient_penalty")
    critic = ns.train_critic_1d(ns.GANConfig(**{**config, "data_shape": tuple(config["data_shape"])}), lam, steps, batch_size, lr, train_seed)
    return {"critic": {k: v.detach().cpu() for k, v in critic.state_dict().items()}}


def train_wgan(ns, dataset, config, game, steps, batch_size, lr, train_seed) -> dict:
    """WGAN-GP with the student's train_step on ``dataset`` (a 2D toy name, or an image dataset with pixels
    scaled to [-1, 1]); the trained generator's and critic's states."""
    _require(ns, "train_step", "Generator", "Critic", "GANConfig", "WGANConfig")
    if dataset in dgm.data.TOY_DATASETS:
        data = dgm.data.toy2d(dataset, 20_000, seed=0)
    else:
        data = dgm.data.load_images(dataset, "train").images * 2 - 1
    torch.manual_seed(train_seed)
    device = dgm.default_device()
    config = ns.GANConfig(**{**config, "data_shape": tuple(config["data_shape"])})
    generator, critic = ns.Generator(config).to(device), ns.Critic(config).to(device)
    generator_optimizer = torch.optim.Adam(generator.parameters(), lr=lr, betas=(0.5, 0.9))
    critic_optimizer = torch.optim.Adam(critic.parameters(), lr=lr, betas=(0.5, 0.9))
    index = torch.Generator().manual_seed(train_seed)
    for _ in range(steps):
        batches = [data[torch.randint(len(data), (batch_size,), generator=index)].to(device) for _ in range(game["n_critic"])]
        ns.train_step(generator, critic, generator_optimizer, critic_optimizer, batches, ns.WGANConfig(**game))
    return {"generator": {k: v.detach().cpu() for k, v in generator.state_dict().items()},
            "critic": {k: v.detach().cpu() for k, v in critic.state_dict().items()}}
