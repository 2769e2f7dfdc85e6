"""Homework 6 solutions the calibration measures beside the reference (instructors only).

``ALTERNATIVES``: correct solutions written differently, which must never fail (answer cell id -> its whole source).
``lerp_and_batched_grads`` writes the linear path with ``torch.lerp`` and the loss with ``mse_loss``, takes the samplers'
grid from ``torch.linspace``, computes the exact divergence with one batched backward pass (``is_grads_batched``),
integrates the likelihood as one augmented state (x and the integral stacked), and builds the cost matrix by expanding
the square. ``float64_state`` runs every solver's state in float64 whatever the field's dtype, casts back at the end,
accumulates the divergence from the Jacobian's rows, and permutes with the inverse of the assignment.
``BUGS``: known bugs (answer cell id -> ``(old, new)`` replacement in the reference): a pairing that returns x0 unchanged
(the straightness ratio) and a loss whose target is zero instead of the path's velocity (the 2D likelihood and the
digits' bits per dimension).
``python -m autograder calibrate hw6`` puts each threshold between the worst correct solution and the best bug it
names, and refuses when none does.
"""

LERP_PATHS = '''
def cond_path(x0: Tensor, x1: Tensor, t: Tensor, path: str = "linear") -> Tensor:
    """Linear: torch.lerp; vp: a rotation by the angle pi t / 2."""
    s = t.view(-1, *[1] * (x0.dim() - 1)).to(x0.dtype)
    if path == "linear":
        return torch.lerp(x0, x1, s)
    if path == "vp":
        return torch.cos(math.pi / 2 * s) * x0 + torch.sin(math.pi / 2 * s) * x1
    raise ValueError(path)


def cond_velocity(x0: Tensor, x1: Tensor, t: Tensor, path: str = "linear") -> Tensor:
    s = t.view(-1, *[1] * (x0.dim() - 1)).to(x0.dtype)
    if path == "linear":
        return x1 - x0
    if path == "vp":
        return math.pi / 2 * (torch.cos(math.pi / 2 * s) * x1 - torch.sin(math.pi / 2 * s) * x0)
    raise ValueError(path)


def cfm_loss(v_model: Field, x0: Tensor, x1: Tensor, t: Tensor, path: str = "linear") -> Tensor:
    return torch.nn.functional.mse_loss(v_model(cond_path(x0, x1, t, path), t), cond_velocity(x0, x1, t, path))
'''

LERP_SOLVERS = '''
@torch.no_grad()
def euler(v: Field, x0: Tensor, n_steps: int) -> Tensor:
    grid = torch.linspace(0, 1, n_steps + 1, dtype=torch.float64).tolist()
    x = x0
    for a, b in zip(grid[:-1], grid[1:]):
        x = x + (b - a) * v(x, x.new_full((len(x),), a))
    return x


@torch.no_grad()
def heun(v: Field, x0: Tensor, n_steps: int) -> Tensor:
    grid = torch.linspace(0, 1, n_steps + 1, dtype=torch.float64).tolist()
    x = x0
    for a, b in zip(grid[:-1], grid[1:]):
        k1 = v(x, x.new_full((len(x),), a))
        k2 = v(x + (b - a) * k1, x.new_full((len(x),), b))
        x = x + (b - a) * (k1 + k2) / 2
    return x
'''

LERP_LIKELIHOOD = '''
def velocity_and_divergence(v: Field, x: Tensor, t: Tensor, z: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """One forward pass; the exact trace from one batched backward pass over the D one-hot directions."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        out = v(x, t)
        if z is None:
            D = x[0].numel()
            basis = torch.eye(D, dtype=out.dtype, device=out.device).view(D, 1, *x.shape[1:]).expand(D, *x.shape)  # (D, B, ...)
            (rows,) = torch.autograd.grad(out, x, grad_outputs=basis, is_grads_batched=True)  # (D, B, ...): row i of each Jacobian
            divergence = rows.flatten(2).diagonal(dim1=0, dim2=2).sum(-1)  # sum_i d out_i / d x_i -> (B,)
        else:
            (row,) = torch.autograd.grad((out * z).sum(), x)
            divergence = (row * z).flatten(1).sum(1)
    return out.detach(), divergence.detach()


def log_likelihood(v: Field, x1: Tensor, n_steps: int, z: Tensor | None = None) -> Tensor:
    """Heun on the augmented state [x, l] stacked in one tensor."""
    B, D = len(x1), x1[0].numel()

    def augmented(state: Tensor, t: float) -> Tensor:
        velocity, divergence = velocity_and_divergence(v, state[:, :D].view_as(x1), torch.full((B,), t, dtype=x1.dtype, device=x1.device), z)
        return torch.cat([velocity.flatten(1), divergence[:, None]], 1)

    state = torch.cat([x1.detach().flatten(1), torch.zeros(B, 1, dtype=x1.dtype, device=x1.device)], 1)
    grid = torch.linspace(1, 0, n_steps + 1, dtype=torch.float64).tolist()
    for a, b in zip(grid[:-1], grid[1:]):
        k1 = augmented(state, a)
        k2 = augmented(state + (b - a) * k1, b)
        state = state + (b - a) * (k1 + k2) / 2
    x, integral = state[:, :D], -state[:, D]  # l ran backwards from 0 at t = 1: l(0) = -int_0^1 div v dt
    return torch.distributions.Normal(0.0, 1.0).log_prob(x).sum(1) - integral
'''

LERP_OT = '''
def ot_pair(x0: Tensor, x1: Tensor) -> Tensor:
    a, b = x0.flatten(1).double().cpu(), x1.flatten(1).double().cpu()
    cost = a.pow(2).sum(1)[:, None] + b.pow(2).sum(1)[None, :] - 2 * a @ b.T
    rows, cols = linear_sum_assignment(cost.numpy())
    return x0[torch.as_tensor(rows)[torch.as_tensor(cols).argsort()].to(x0.device)]
'''

FLOAT64_SOLVERS = '''
@torch.no_grad()
def euler(v: Field, x0: Tensor, n_steps: int) -> Tensor:
    x = x0.double()
    for k in range(n_steps):
        x = x + v(x.to(x0.dtype), torch.full((len(x),), k / n_steps, dtype=x0.dtype, device=x0.device)).double() / n_steps
    return x.to(x0.dtype)


@torch.no_grad()
def heun(v: Field, x0: Tensor, n_steps: int) -> Tensor:
    x, h = x0.double(), 1 / n_steps
    for k in range(n_steps):
        t0 = torch.full((len(x),), k * h, dtype=x0.dtype, device=x0.device)
        t1 = torch.full((len(x),), (k + 1) * h, dtype=x0.dtype, device=x0.device)
        slope = v(x.to(x0.dtype), t0).double()
        end = v((x + h * slope).to(x0.dtype), t1).double()
        x = x + 0.5 * h * slope + 0.5 * h * end
    return x.to(x0.dtype)
'''

FLOAT64_LIKELIHOOD = '''
def velocity_and_divergence(v: Field, x: Tensor, t: Tensor, z: Tensor | None = None) -> tuple[Tensor, Tensor]:
    with torch.enable_grad():
        x = x.detach().clone().requires_grad_(True)
        out = v(x, t)
        flat = out.reshape(len(x), -1)
        if z is not None:
            vjp = torch.autograd.grad(out, x, grad_outputs=z)[0]
            return out.detach(), torch.einsum("bi,bi->b", vjp.reshape(len(x), -1), z.reshape(len(x), -1))
        total = torch.zeros(len(x), dtype=torch.float64, device=x.device)
        for i in range(flat.shape[1]):
            grad_i = torch.autograd.grad(flat[:, i], x, grad_outputs=torch.ones_like(flat[:, i]), retain_graph=True)[0]
            total += grad_i.reshape(len(x), -1)[:, i].double()
    return out.detach(), total.to(x.dtype)


def log_likelihood(v: Field, x1: Tensor, n_steps: int, z: Tensor | None = None) -> Tensor:
    x = x1.detach()
    h = 1.0 / n_steps
    div_integral = 0.0
    t = torch.ones(len(x), dtype=x.dtype, device=x.device)
    for _ in range(n_steps):
        v1, d1 = velocity_and_divergence(v, x, t, z)
        v2, d2 = velocity_and_divergence(v, x - h * v1, t - h, z)
        x = x - 0.5 * h * (v1 + v2)
        div_integral = div_integral + 0.5 * h * (d1 + d2)
        t = t - h
    D = x[0].numel()
    return -0.5 * x.reshape(len(x), -1).pow(2).sum(1) - 0.5 * D * math.log(2 * math.pi) - div_integral
'''

FLOAT64_OT = '''
def ot_pair(x0: Tensor, x1: Tensor) -> Tensor:
    cost = torch.cdist(x0.reshape(len(x0), -1).cpu().double(), x1.reshape(len(x1), -1).cpu().double()) ** 2
    rows, cols = linear_sum_assignment(cost.numpy())
    inverse = [0] * len(rows)
    for r, c in zip(rows, cols):
        inverse[c] = r
    return x0[torch.tensor(inverse, device=x0.device)]
'''

ALTERNATIVES = {
    "lerp_and_batched_grads": {"answer_paths": LERP_PATHS, "answer_solvers": LERP_SOLVERS, "answer_likelihood": LERP_LIKELIHOOD, "answer_ot": LERP_OT},
    "float64_state": {"answer_solvers": FLOAT64_SOLVERS, "answer_likelihood": FLOAT64_LIKELIHOOD, "answer_ot": FLOAT64_OT},
}

BUGS = {
    "ot_ignored": {"answer_ot": ("return x0[order.to(x0.device)]", "return x0")},
    "target_zero": {"answer_paths": ("return (v_model(x_t, t) - cond_velocity(x0, x1, t, path)).pow(2).mean()",
                                     "return (v_model(x_t, t) - 0 * cond_velocity(x0, x1, t, path)).pow(2).mean()")},
}
