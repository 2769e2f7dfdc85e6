"""Homework 1 solutions the calibration measures beside the reference (instructors only).

``ALTERNATIVES``: correct PixelCNNs written differently from the reference, which must never fail
(answer cell id -> its whole source). ``BUGS``: known bugs the likelihood threshold must reject
(answer cell id -> ``(old, new)`` replacement in the reference). ``python -m autograder calibrate hw1``
puts each threshold between the worst correct solution and the best bug, and refuses when none does.
"""

RESIDUAL_GELU = '''
class PixelCNN(nn.Module):
    """PixelCNN with residual type-B blocks and GELU, fed x - 1/2."""

    def __init__(self, config: PixelCNNConfig):
        super().__init__()
        self.config = config
        h, k = config.hidden_channels, config.kernel_size
        self.first = MaskedConv2d(1, h, k, "A")
        self.blocks = nn.ModuleList(MaskedConv2d(h, h, k, "B") for _ in range(config.n_layers - 1))
        self.head = nn.Sequential(nn.GELU(), nn.Conv2d(h, h, 1), nn.GELU(), nn.Conv2d(h, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        hidden = self.first(x - 0.5)  # (B, h, H, W)
        for block in self.blocks:
            hidden = hidden + block(F.gelu(hidden))  # type B sees the centre, so the identity adds no new pixel
        return self.head(hidden)  # (B, 1, H, W)

    def log_prob(self, x: Tensor) -> Tensor:
        logits = self(x)
        return (x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits)).sum(dim=(1, 2, 3))

    def loss(self, x: Tensor) -> Tensor:
        return -self.log_prob(x).sum() / x.numel()

    @torch.no_grad()
    def sample(self, n: int) -> Tensor:
        height, width = self.config.image_shape
        x = torch.zeros(n, 1, height, width, device=self.first.weight.device)
        for position in range(height * width):
            i, j = divmod(position, width)
            x[:, 0, i, j] = torch.bernoulli(torch.sigmoid(self(x)[:, 0, i, j]))
        return x
'''

MASK_FROM_COORDINATES = '''
class MaskedConv2d(nn.Conv2d):
    """A k x k convolution that sees only pixels before the centre in raster order."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, mask_type: str):
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        assert mask_type in ("A", "B"), f"mask_type must be 'A' or 'B', got {mask_type!r}"
        c = kernel_size // 2
        rows, cols = torch.meshgrid(torch.arange(kernel_size), torch.arange(kernel_size), indexing="ij")
        before = (rows < c) | ((rows == c) & (cols < c)) | ((rows == c) & (cols == c) & (mask_type == "B"))
        self.register_buffer("mask", before.float()[None, None])  # (1, 1, k, k), broadcast over channels

    def forward(self, x: Tensor) -> Tensor:
        return self._conv_forward(x, self.weight * self.mask, self.bias)
'''

PIXELCNN_SEQUENTIAL = '''
class PixelCNN(nn.Module):
    """PixelCNN for binary images, written with an explicit list of layers and logsigmoid."""

    def __init__(self, config: PixelCNNConfig):
        super().__init__()
        self.config = config
        h, k = config.hidden_channels, config.kernel_size
        convs = [MaskedConv2d(1, h, k, "A")] + [MaskedConv2d(h, h, k, "B") for _ in range(config.n_layers - 1)]
        self.convs = nn.ModuleList(convs)
        self.out = nn.Sequential(nn.Conv2d(h, h, 1), nn.ReLU(), nn.Conv2d(h, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        hidden = 2 * x - 1
        for conv in self.convs:
            hidden = torch.relu(conv(hidden))
        return self.out(hidden)

    def log_prob(self, x: Tensor) -> Tensor:
        logits = self(x)
        log_p = torch.where(x > 0.5, F.logsigmoid(logits), F.logsigmoid(-logits))
        return log_p.flatten(1).sum(-1)

    def loss(self, x: Tensor) -> Tensor:
        return -self.log_prob(x).mean() / (x.shape[-1] * x.shape[-2])

    @torch.no_grad()
    def sample(self, n: int) -> Tensor:
        height, width = self.config.image_shape
        x = torch.zeros(n, 1, height, width, device=self.out[0].weight.device)
        for i in range(height):
            for j in range(width):
                p = torch.sigmoid(self.forward(x)[:, :, i, j])
                x[:, :, i, j] = (torch.rand_like(p) < p).float()
        return x
'''

ALTERNATIVES = {
    "residual_gelu": {"answer_pixelcnn": RESIDUAL_GELU},
    "mask_from_coordinates": {"answer_masked_conv": MASK_FROM_COORDINATES, "answer_pixelcnn": PIXELCNN_SEQUENTIAL},
}

BUGS = {
    "independent_pixels": {"answer_pixelcnn": ("return self.net(2 * x - 1)", "return self.net(0 * x - 1)")},
    "all_layers_type_a": {"answer_pixelcnn": ('MaskedConv2d(h, h, k, "B")', 'MaskedConv2d(h, h, k, "A")')},
}
