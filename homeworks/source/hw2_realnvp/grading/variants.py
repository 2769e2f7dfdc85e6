"""Homework 2 solutions the calibration measures beside the reference (instructors only).

``ALTERNATIVES``: correct RealNVPs written differently from the reference, which must never fail
(answer cell id -> its whole source): one with a scale sigma per channel, masks from index grids and
an ActNorm that learns its scale itself rather than its logarithm; one with the affine maps written
out as in the notebook's formula, masks from ``torch.remainder``, every layer in one list and the base
density from ``torch.distributions``. ``BUGS``: known bugs (answer cell id -> ``(old, new)``
replacement in the reference): a coupling scale that can never leave its initialisation (the flow
trains as an additive NICE), a coupling log-det that ignores the scale, one coupling at full
resolution, and samples that skip the inverse. ``python -m autograder calibrate hw2`` puts each threshold between the worst correct
solution and the best bug it names, and refuses when none does.
"""

MASKS_FROM_GRIDS = '''
def checkerboard_mask(shape: tuple[int, ...], parity: int) -> Tensor:
    """0/1 float mask of `shape` (see above): alternating coordinates, or a checkerboard over pixels."""
    if len(shape) == 1:
        mask = torch.zeros(shape)
        mask[parity::2] = 1
        return mask
    channels, height, width = shape
    rows, cols = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    board = ((rows + cols) % 2 == parity).float()  # (H, W)
    return board.unsqueeze(0).repeat(channels, 1, 1)


def channel_mask(shape: tuple[int, int, int], parity: int) -> Tensor:
    """0/1 float mask of `shape` keeping the first (parity 0) or last (parity 1) half of the channels."""
    index = torch.arange(shape[0])
    kept = index >= shape[0] // 2 if parity else index < shape[0] // 2
    return kept.float().view(-1, 1, 1).expand(shape).clone()
'''

PER_CHANNEL_SCALE = '''
class AffineCoupling(nn.Module):
    """z = b*x + (1-b)*(x*exp(s(b*x)) + t(b*x)); log_det = sum((1-b)*s), with s = tanh(s_raw) * sigma and one
    sigma per channel (per coordinate for points)."""

    def __init__(self, mask: Tensor, hidden: int):
        super().__init__()
        self.register_buffer("mask", mask)
        self.conditioner = make_conditioner(tuple(mask.shape), hidden)
        self.scale = nn.Parameter(torch.ones((mask.shape[0],) + (1,) * (mask.dim() - 1)))  # sigma, (C, 1, 1) or (D,)

    def _s_and_t(self, x: Tensor) -> tuple[Tensor, Tensor]:
        out = self.conditioner(x * self.mask)  # (B, 2, *shape)
        free = 1 - self.mask
        return torch.tanh(out[:, 0]) * self.scale * free, out[:, 1] * free

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        s, t = self._s_and_t(x)
        z = self.mask * x + (1 - self.mask) * (x * torch.exp(s) + t)
        return z, s.sum(dim=tuple(range(1, x.dim())))

    def inverse(self, z: Tensor) -> Tensor:
        s, t = self._s_and_t(z)
        return self.mask * z + (1 - self.mask) * (z - t) / torch.exp(s)


class ActNorm(nn.Module):
    """z = (x + bias) * scale per channel, initialised from the first batch; log_det counts log|scale| per pixel."""

    def __init__(self, shape: tuple[int, ...]):
        super().__init__()
        per_channel = (shape[0],) + (1,) * (len(shape) - 1)
        self.bias = nn.Parameter(torch.zeros(per_channel))
        self.scale = nn.Parameter(torch.ones(per_channel))
        self.register_buffer("initialized", torch.tensor(False))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if not bool(self.initialized):
            axes = [0] + list(range(2, x.dim()))
            with torch.no_grad():
                self.bias.copy_(-x.mean(dim=axes, keepdim=True)[0])
                self.scale.copy_(1 / x.std(dim=axes, keepdim=True)[0].clamp_min(1e-3))
                self.initialized.fill_(True)
        pixels = x[0].numel() // x.shape[1]
        log_det = torch.log(torch.abs(self.scale)).sum() * pixels
        return (x + self.bias) * self.scale, log_det.repeat(x.shape[0])

    def inverse(self, z: Tensor) -> Tensor:
        return z / self.scale - self.bias
'''

MASKS_FROM_REMAINDER = '''
def checkerboard_mask(shape: tuple[int, ...], parity: int) -> Tensor:
    """0/1 float mask of `shape` (see above): alternating coordinates, or a checkerboard over pixels."""
    if len(shape) == 1:
        return (torch.remainder(torch.arange(shape[0]) + parity, 2) == 0).to(torch.float32)
    height, width = shape[1], shape[2]
    board = torch.remainder(torch.arange(height)[:, None] + torch.arange(width)[None, :] + parity, 2) == 0
    return board.expand(shape).to(torch.float32)


def channel_mask(shape: tuple[int, int, int], parity: int) -> Tensor:
    """0/1 float mask of `shape` keeping the first (parity 0) or last (parity 1) half of the channels."""
    half = torch.div(torch.arange(shape[0]), shape[0] // 2, rounding_mode="floor")  # 0 for the first half, 1 for the last
    return (torch.remainder(half + parity, 2) == 0).to(torch.float32)[:, None, None].expand(shape).contiguous()
'''

FORMULA_LAYERS = '''
class AffineCoupling(nn.Module):
    """z = b*x + (1-b)*(x*exp(s(b*x)) + t(b*x)); log_det = sum((1-b)*s). Shapes: (B, *shape) -> (B, *shape), (B,)."""

    def __init__(self, mask: Tensor, hidden: int):
        super().__init__()
        self.register_buffer("mask", mask)
        self.conditioner = make_conditioner(tuple(mask.shape), hidden)
        self.scale = nn.Parameter(torch.ones(mask.shape))  # sigma in s = sigma * tanh(s_raw); 1, so that s_raw gets gradients

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        b = self.mask
        raw = self.conditioner(b * x)
        s = (1 - b) * self.scale * torch.tanh(raw[:, 0])
        t = (1 - b) * raw[:, 1]
        z = b * x + (1 - b) * (x * torch.exp(s) + t)
        return z, torch.sum(s, dim=list(range(1, x.dim())))

    def inverse(self, z: Tensor) -> Tensor:
        b = self.mask
        raw = self.conditioner(b * z)
        s = (1 - b) * self.scale * torch.tanh(raw[:, 0])
        t = (1 - b) * raw[:, 1]
        return b * z + (1 - b) * torch.exp(-s) * (z - t)


class ActNorm(nn.Module):
    """z = (x + mu) * exp(lambda) per channel, initialised from the first batch. Shapes as AffineCoupling."""

    def __init__(self, shape: tuple[int, ...]):
        super().__init__()
        per_channel = (shape[0],) + (1,) * (len(shape) - 1)
        self.shift = nn.Parameter(torch.zeros(per_channel))  # mu
        self.log_scale = nn.Parameter(torch.zeros(per_channel))  # lambda
        self.register_buffer("initialized", torch.tensor(False))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        channels = x.shape[1]
        if not self.initialized:
            with torch.no_grad():
                by_channel = x.transpose(0, 1).reshape(channels, -1)  # (C, B * pixels)
                self.shift.copy_(-by_channel.mean(1).reshape(self.shift.shape))
                self.log_scale.copy_(-torch.log(by_channel.std(1).clamp(min=1e-3)).reshape(self.log_scale.shape))
                self.initialized.fill_(True)
        log_det = self.log_scale.sum() * (x[0].numel() // channels)
        return (x + self.shift) * self.log_scale.exp(), log_det * torch.ones(x.shape[0], dtype=x.dtype, device=x.device)

    def inverse(self, z: Tensor) -> Tensor:
        return z * torch.exp(-self.log_scale) - self.shift
'''

ONE_LIST_FLOW = '''
class RealNVP(nn.Module):
    """A RealNVP flow x -> z on points (D,) or images (C, H, W), with a standard normal base; every layer in
    one list, the squeeze before layer `n_full`."""

    def __init__(self, config: RealNVPConfig):
        super().__init__()
        self.config = config
        shape = tuple(config.shape)
        layers = []
        for i in range(config.n_couplings):
            layers += [ActNorm(shape), AffineCoupling(checkerboard_mask(shape, i % 2), config.hidden)]
        self.n_full = len(layers)
        if len(shape) == 3:
            inner = (4 * shape[0], shape[1] // 2, shape[2] // 2)
            for i in range(config.n_couplings):
                layers += [ActNorm(inner), AffineCoupling(channel_mask(inner, i % 2), config.hidden)]
        self.layers = nn.ModuleList(layers)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        total = x.new_zeros(x.shape[0])
        for index, layer in enumerate(self.layers):
            if index == self.n_full:
                x = squeeze(x)
            x, log_det = layer(x)
            total = total + log_det
        if len(self.layers) > self.n_full:
            x = unsqueeze(x)
        return x, total

    def inverse(self, z: Tensor) -> Tensor:
        squeezed = len(self.layers) > self.n_full
        if squeezed:
            z = squeeze(z)
        for index in reversed(range(len(self.layers))):
            z = self.layers[index].inverse(z)
            if squeezed and index == self.n_full:
                z = unsqueeze(z)
        return z

    def log_prob(self, x: Tensor) -> Tensor:
        z, log_det = self(x)
        return torch.distributions.Normal(0.0, 1.0).log_prob(z).flatten(1).sum(1) + log_det

    def loss(self, x: Tensor) -> Tensor:
        return -self.log_prob(x).sum() / x.numel()

    @torch.no_grad()
    def sample(self, n: int) -> Tensor:
        parameter = next(self.parameters())
        return self.inverse(torch.randn(n, *self.config.shape, device=parameter.device, dtype=parameter.dtype))
'''

ALTERNATIVES = {
    "per_channel_scale": {"answer_masks": MASKS_FROM_GRIDS, "answer_layers": PER_CHANNEL_SCALE},
    "formula_and_distributions": {"answer_masks": MASKS_FROM_REMAINDER, "answer_layers": FORMULA_LAYERS, "answer_realnvp": ONE_LIST_FLOW},
}

BUGS = {
    "scale_never_learned": {"answer_layers": ("torch.ones(mask.shape)", "torch.zeros(mask.shape)")},
    "log_det_ignores_scale": {"answer_layers": ("return x * torch.exp(s) + t, s.flatten(1).sum(1)",
                                                "return x * torch.exp(s) + t, torch.zeros(len(x), dtype=x.dtype, device=x.device)")},
    "one_coupling_per_scale": {"answer_realnvp": ("for i in range(config.n_couplings):\n            self.full_resolution",
                                                  "for i in range(1):\n            self.full_resolution")},
    "sample_skips_inverse": {"answer_realnvp": ("return self.inverse(torch.randn(n, *self.config.shape, device=device))",
                                                "return torch.randn(n, *self.config.shape, device=device)")},
}
