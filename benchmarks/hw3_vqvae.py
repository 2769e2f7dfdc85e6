"""Benchmark: the hw3 reference VQ-VAE against the same model with vector-quantize-pytorch's quantizer (prints figures).

    pip install vector-quantize-pytorch   # benchmark-only dependency
    python benchmarks/hw3_vqvae.py        # 8x8 digits on the grader's quick recipe

Both models have the reference's encoder and decoder and are trained by the course loop with the same
data, seed, optimiser and steps; only the quantizer differs: the reference's (codebook and commitment
losses, restarts of codes whose usage falls below 1e-3) or ``VectorQuantize`` with the same K, D and
beta (EMA codebook, restarts of codes whose EMA count falls below 2). Printed per model: test
reconstruction NLL and the uniform-prior bound in bits per dimension, codebook perplexity on the test
codes, and milliseconds per training step. The reference model is executed from the instructor's
source notebook (no copy of it lives here). Published: VQ-VAE 4.67 bits/dim on CIFAR-10 (van den
Oord et al., 2017), a different data set and decoder.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dgm  # noqa: E402
from reference import reference_namespace  # noqa: E402

STEPS_EPOCHS, BATCH, LR, SEED = 200, 128, 1e-3, 0



class PeerQuantizer(nn.Module):
    """vector-quantize-pytorch's ``VectorQuantize`` behind the reference quantizer's interface."""

    def __init__(self, num_codes: int, code_dim: int, beta: float):
        super().__init__()
        from vector_quantize_pytorch import VectorQuantize

        self.vq = VectorQuantize(dim=code_dim, codebook_size=num_codes, decay=0.99, commitment_weight=beta,
                                 threshold_ema_dead_code=2, channel_last=False, accept_image_fmap=True)

    @property
    def codebook(self) -> torch.Tensor:
        """(K, D), for the lookup of ``codes_to_logits``."""
        return self.vq.codebook

    def forward(self, z_e: torch.Tensor) -> dict[str, torch.Tensor]:
        z_q, idx, loss = self.vq(z_e)
        zero = torch.zeros((), device=z_e.device)
        return {"z_q": z_q, "idx": idx, "codebook_loss": zero, "commitment_loss": loss.sum() / self.vq.commitment_weight}


def measure(model: nn.Module, train: torch.Tensor, test: torch.Tensor, num_codes: int) -> dict[str, float]:
    started = time.process_time()
    history = dgm.fit(model, train, dgm.TrainConfig(epochs=STEPS_EPOCHS, batch_size=BATCH, lr=LR, seed=SEED), progress=False)
    per_step = 1000 * (time.process_time() - started) / len(history.train)
    model.eval()
    with torch.no_grad():
        idx = model.quantizer(model.encode(test))["idx"]
        logits = model.codes_to_logits(idx)
    recon = F.cross_entropy(logits, test, reduction="none").flatten(1).sum(1)
    dims = test[0].numel()
    share = torch.bincount(idx.flatten(), minlength=num_codes).double() / idx.numel()
    return {"recon bits/dim": recon.mean().item() / (dims * math.log(2)),
            "uniform bound bits/dim": (recon + idx[0].numel() * math.log(num_codes)).mean().item() / (dims * math.log(2)),
            "perplexity": math.exp(-(share[share > 0] * share[share > 0].log()).sum().item()),
            "ms/step (CPU time)": per_step}


def main() -> None:
    torch.set_num_threads(1)
    ns = reference_namespace("hw3")
    train = dgm.data.to_levels(dgm.data.digits("train").images, 17).long()
    test = dgm.data.to_levels(dgm.data.digits("test").images, 17).long()
    config = ns.VQVAEConfig(n_levels=17)
    results = {}
    torch.manual_seed(SEED)
    results["reference"] = measure(ns.VQVAE(config), train, test, config.num_codes)
    torch.manual_seed(SEED)
    peer = ns.VQVAE(config)
    peer.quantizer = PeerQuantizer(config.num_codes, config.code_dim, config.beta)
    results["vector-quantize-pytorch"] = measure(peer, train, test, config.num_codes)
    print(f"8x8 digits, K = {config.num_codes}, D = {config.code_dim}, beta = {config.beta}, "
          f"{STEPS_EPOCHS} epochs of batch {BATCH} (Adam {LR}), seed {SEED}, one CPU thread")
    names = list(results["reference"])
    print(f"{'quantizer':<26}" + "".join(f"{n:>24}" for n in names))
    for label, values in results.items():
        print(f"{label:<26}" + "".join(f"{values[n]:>24.3f}" for n in names))


if __name__ == "__main__":
    main()
