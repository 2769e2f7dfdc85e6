"""Homework 3 solutions the calibration measures beside the reference (instructors only).

``ALTERNATIVES``: correct solutions written differently, which must never fail (answer cell id -> its
whole source): one with ``torch.cdist`` distances, ``F.mse_loss`` losses, restarts drawn with
``torch.multinomial`` and a residual GELU prior; one with one-hot matrix products for the lookup,
the reconstruction from ``log_softmax`` and a prior with LeakyReLU and two output layers.
``BUGS``: known bugs (answer cell id -> ``(old, new)`` replacement in the reference): a quantizer that
never restarts dead codes, and a prior whose logits are all zero (it stays uniform, so the bound is the
uniform prior's). A prior that ignores the codes (sees only zeros) is no known bug here: it learns
the codes' frequency at each position, and on 1,437 digits that is within 0.1 bits/dim of the
correct PixelCNN priors (2.59 against 2.50-2.70, seeds 0-2).
``python -m autograder calibrate hw3`` puts each threshold between the worst correct solution and the
best bug it names, and refuses when none does.
"""

CDIST_QUANTIZER = '''
class VectorQuantizer(nn.Module):
    """Nearest-code quantisation with a straight-through gradient (van den Oord et al., 2017)."""

    def __init__(self, num_codes: int, code_dim: int, decay: float = 0.99, dead_below: float = 1e-3):
        super().__init__()
        self.decay, self.dead_below = decay, dead_below
        self.codebook = nn.Parameter(torch.empty(num_codes, code_dim).uniform_(-1 / num_codes, 1 / num_codes))  # (K, D)
        self.register_buffer("usage", torch.full((num_codes,), 1 / num_codes))  # (K,)

    def nearest(self, z: Tensor) -> Tensor:
        return torch.cdist(z, self.codebook.to(z)).argmin(dim=1)

    def forward(self, z_e: Tensor) -> dict[str, Tensor]:
        vectors = z_e.movedim(1, -1)  # (B, h, w, D)
        idx = self.nearest(vectors.reshape(-1, vectors.shape[-1]).detach()).view(vectors.shape[:-1])
        chosen = self.codebook[idx]  # (B, h, w, D)
        codebook_loss = F.mse_loss(chosen, vectors.detach())
        commitment_loss = F.mse_loss(vectors, chosen.detach())
        quantized = chosen.detach() + (vectors - vectors.detach())
        if self.training:
            with torch.no_grad():
                counts = torch.zeros_like(self.usage).index_add_(0, idx.flatten(), torch.ones(idx.numel(), device=idx.device, dtype=self.usage.dtype))
                self.usage.copy_(self.decay * self.usage + (1 - self.decay) * counts / idx.numel())
                self.restart_dead_codes(vectors.reshape(-1, vectors.shape[-1]).detach())
        return {"z_q": quantized.movedim(-1, 1), "idx": idx, "codebook_loss": codebook_loss, "commitment_loss": commitment_loss}

    @torch.no_grad()
    def restart_dead_codes(self, z: Tensor, generator: torch.Generator | None = None) -> Tensor:
        dead = torch.where(self.usage < self.dead_below)[0]
        if dead.numel() > 0:
            weights = torch.ones(len(z))
            rows = torch.multinomial(weights, len(dead), replacement=len(dead) > len(z), generator=generator).to(z.device)
            self.codebook.data[dead] = z[rows].to(self.codebook.dtype)
            self.usage[dead] = 1.0 / self.codebook.shape[0]
        return dead
'''

RESIDUAL_PRIOR = '''
class MaskedConv2d(nn.Conv2d):
    """Masked k x k convolution (type "A": strictly before the centre; "B": the centre too)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, mask_type: str):
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        rows, cols = torch.meshgrid(torch.arange(kernel_size), torch.arange(kernel_size), indexing="ij")
        centre = kernel_size // 2
        before = (rows < centre) | ((rows == centre) & (cols < centre))
        if mask_type == "B":
            before = before | ((rows == centre) & (cols == centre))
        self.register_buffer("mask", before.float().expand_as(self.weight).clone())

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class CodePrior(nn.Module):
    """PixelCNN over code grids with residual type-B blocks and GELU."""

    def __init__(self, config: PriorConfig):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.num_codes, config.hidden)
        self.first = MaskedConv2d(config.hidden, config.hidden, config.kernel_size, "A")
        self.blocks = nn.ModuleList(MaskedConv2d(config.hidden, config.hidden, config.kernel_size, "B") for _ in range(config.n_layers - 1))
        self.out = nn.Conv2d(config.hidden, config.num_codes, 1)

    def forward(self, idx: Tensor) -> Tensor:
        h = F.gelu(self.first(self.embedding(idx).permute(0, 3, 1, 2)))
        for block in self.blocks:
            h = h + F.gelu(block(h))
        return self.out(h)

    def log_prob(self, idx: Tensor) -> Tensor:
        log_p = F.log_softmax(self(idx), dim=1).gather(1, idx.unsqueeze(1)).squeeze(1)
        return log_p.sum(dim=(1, 2))

    def loss(self, idx: Tensor) -> Tensor:
        return -self.log_prob(idx).mean() / idx[0].numel()

    @torch.no_grad()
    def sample(self, n: int) -> Tensor:
        h, w = self.config.grid
        idx = torch.zeros(n, h, w, dtype=torch.long, device=self.embedding.weight.device)
        for position in range(h * w):
            i, j = divmod(position, w)
            probabilities = F.softmax(self(idx)[:, :, i, j], dim=1)
            idx[:, i, j] = torch.distributions.Categorical(probs=probabilities).sample()
        return idx
'''

ONE_HOT_QUANTIZER = '''
class VectorQuantizer(nn.Module):
    """Nearest-code quantisation with a straight-through gradient (van den Oord et al., 2017)."""

    def __init__(self, num_codes: int, code_dim: int, decay: float = 0.99, dead_below: float = 1e-3):
        super().__init__()
        self.decay, self.dead_below = decay, dead_below
        self.codebook = nn.Parameter(torch.empty(num_codes, code_dim).uniform_(-1 / num_codes, 1 / num_codes))  # (K, D)
        self.register_buffer("usage", torch.full((num_codes,), 1 / num_codes))  # (K,)

    def nearest(self, z: Tensor) -> Tensor:
        differences = z.unsqueeze(1) - self.codebook.unsqueeze(0)  # (N, K, D)
        return (differences * differences).sum(-1).argmin(-1)

    def forward(self, z_e: Tensor) -> dict[str, Tensor]:
        batch, dim, height, width = z_e.shape
        rows = z_e.permute(0, 2, 3, 1).flatten(0, 2)  # (N, D)
        idx = self.nearest(rows.detach())
        one_hot = F.one_hot(idx, len(self.codebook)).to(self.codebook.dtype)  # (N, K)
        e = one_hot @ self.codebook
        codebook_loss = ((e - rows.detach()) ** 2).sum() / rows.numel()
        commitment_loss = ((rows - e.detach()) ** 2).sum() / rows.numel()
        z_q = rows + (e - rows).detach()
        if self.training:
            with torch.no_grad():
                self.usage.mul_(self.decay).add_(one_hot.mean(0).to(self.usage), alpha=1 - self.decay)
                self.restart_dead_codes(rows.detach())
        return {"z_q": z_q.view(batch, height, width, dim).permute(0, 3, 1, 2), "idx": idx.view(batch, height, width),
                "codebook_loss": codebook_loss, "commitment_loss": commitment_loss}

    @torch.no_grad()
    def restart_dead_codes(self, z: Tensor, generator: torch.Generator | None = None) -> Tensor:
        dead = torch.nonzero(self.usage < self.dead_below, as_tuple=True)[0]
        for number, code in enumerate(dead.tolist()):
            if number % len(z) == 0:
                order = torch.randperm(len(z), generator=generator)
            self.codebook[code] = z[order[number % len(z)]]
            self.usage[code] = 1 / len(self.codebook)
        return dead
'''


LEAKY_PRIOR = '''
class MaskedConv2d(nn.Conv2d):
    """Masked k x k convolution (type "A": strictly before the centre; "B": the centre too)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, mask_type: str):
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        k = kernel_size
        flat = torch.arange(k * k).view(k, k)
        limit = (k * k) // 2 + (1 if mask_type == "B" else 0)
        self.register_buffer("mask", (flat < limit).float()[None, None].repeat(out_channels, in_channels, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class CodePrior(nn.Module):
    """PixelCNN over code grids with LeakyReLU and two output layers."""

    def __init__(self, config: PriorConfig):
        super().__init__()
        self.config = config
        layers = [MaskedConv2d(config.num_codes, config.hidden, config.kernel_size, "A"), nn.LeakyReLU(0.1)]
        for _ in range(config.n_layers - 1):
            layers += [MaskedConv2d(config.hidden, config.hidden, config.kernel_size, "B"), nn.LeakyReLU(0.1)]
        layers += [nn.Conv2d(config.hidden, config.hidden, 1), nn.LeakyReLU(0.1), nn.Conv2d(config.hidden, config.num_codes, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, idx: Tensor) -> Tensor:
        one_hot = F.one_hot(idx, self.config.num_codes).permute(0, 3, 1, 2).to(self.net[0].weight.dtype)
        return self.net(one_hot)

    def log_prob(self, idx: Tensor) -> Tensor:
        return -F.cross_entropy(self(idx), idx, reduction="none").sum((1, 2))

    def loss(self, idx: Tensor) -> Tensor:
        return F.cross_entropy(self(idx), idx)

    @torch.no_grad()
    def sample(self, n: int) -> Tensor:
        h, w = self.config.grid
        idx = torch.zeros(n, h, w, dtype=torch.long, device=self.net[0].weight.device)
        for i in range(h):
            for j in range(w):
                idx[:, i, j] = torch.multinomial(self(idx)[:, :, i, j].softmax(1), 1)[:, 0]
        return idx
'''

ALTERNATIVES = {
    "cdist_residual_gelu": {"answer_quantizer": CDIST_QUANTIZER, "answer_prior": RESIDUAL_PRIOR},
    "one_hot_leaky": {"answer_quantizer": ONE_HOT_QUANTIZER, "answer_prior": LEAKY_PRIOR},
}

BUGS = {
    "no_restarts": {"answer_quantizer": ("                self.restart_dead_codes(flat.detach())\n", "")},
    "prior_learns_nothing": {"answer_prior": ("return self.net(self.embedding(idx).permute(0, 3, 1, 2))  # (B, K, h, w)",
                                              "return 0 * self.net(self.embedding(idx).permute(0, 3, 1, 2))  # (B, K, h, w)")},
}
