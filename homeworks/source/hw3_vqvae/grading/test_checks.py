"""Homework 3 (VQ-VAE) hidden checks, one ``test_<grade_id>`` per autograded cell.

The Gaussian pieces are judged against float64 closed forms (the KL, the pathwise gradient of a
quadratic, log-mean-exp) on inputs the grader draws. The quantizer against brute-force nearest codes
and the closed-form gradients of its losses, on codes of very different lengths and a (B, D, h, w)
layout with D, h and w all different. The VQ-VAE's loss, reconstruction NLL and bound against the
grader's own computation from the decoder's logits of the codes. The prior by enumerating every grid
of a tiny one, by pairs of inputs that agree before a secret cut, and by a chi-square test of its samples.

After the grader's recipe nothing the model reports is used: the grader assigns the test images'
codes itself from the encoder outputs and the codebook, asks the trained decoder for the logits of
those grids (shuffled with duplicates and random grids: equal grids must get equal logits, so the
decoder sees only codes) and the prior for the logits of those grids paired with copies redrawn after
a secret cut (so it is autoregressive), computes the bound from them, and draws samples with its own
Gumbel noise, checking each sampled code is the argmax it should be.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

import dgm
from autograder import evidence, quality
from autograder.calibrate import Calibration, QualityCalibration
from autograder.harness import GRADER_SEED

RECIPES = {
    "quick": {"dataset": "digits", "n_levels": 17, "config": {"hidden": 32, "code_dim": 16, "num_codes": 128, "downsample": 1},
              "prior_config": {"grid": [4, 4], "num_codes": 128, "hidden": 64, "n_layers": 3},
              "vq_train": {"epochs": 200, "batch_size": 128, "lr": 1e-3, "seed": 0},
              "prior_train": {"epochs": 60, "batch_size": 128, "lr": 1e-3, "seed": 0, "keep_best": True}, "held_out": 200,
              "n_samples": 1000, "seconds": 240},
    "full": {"dataset": "mnist", "n_levels": 256, "config": {"hidden": 64, "code_dim": 16, "num_codes": 128, "downsample": 2},
             "prior_config": {"grid": [7, 7], "num_codes": 128, "hidden": 128, "n_layers": 5},
             "vq_train": {"epochs": 20, "batch_size": 128, "lr": 1e-3, "seed": 0},
             "prior_train": {"epochs": 20, "batch_size": 128, "lr": 1e-3, "seed": 0, "keep_best": True}, "held_out": 5000,
             "n_samples": 5000, "seconds": 900, "smoke": {"held_out": 60}},
}
"""The grader's recipe. Quick: 2,400 VQ-VAE steps, then 600 prior steps on 1,237 training images' codes keeping the
epoch with the lowest NLL on the other 200 (the prior overfits within a few hundred steps); about 45 CPU seconds (one thread)."""
STRUCTURE_STEPS = 20
"""Adam steps the structure probes take from a module's initialisation before measuring it a second time."""
DECAY, DEAD_BELOW = 0.99, 1e-3
"""The quantizer's defaults (given in the notebook)."""
SAMPLING_ALPHA = 1e-6
"""False-failure rate of the prior's sampling test for a correct sampler (the seed is fixed anyway)."""
TOLERANCE = 1e-6
"""Relative tolerance of values the grader recomputes in float64 from the same inputs."""


def _close(found: torch.Tensor, expected: torch.Tensor, tolerance: float = TOLERANCE) -> bool:
    found, expected = torch.as_tensor(found).double(), expected.double()
    return found.shape == expected.shape and bool(((found - expected).abs() <= tolerance * (1 + expected.abs())).all())


def _first_difference(found: torch.Tensor, expected: torch.Tensor) -> str:
    found, expected = found.double().flatten(), expected.double().flatten()
    i = int(((found - expected).abs() / (1 + expected.abs())).argmax())
    return f"e.g. entry {i}: {found[i].item():.6g} instead of {expected[i].item():.6g}"


# --------------------------------------------------------------------------------------------------
# Gaussian pieces


def test_kl(submission):
    generator = submission.private_generator("kl")
    mu = 4 * torch.rand(64, 5, generator=generator, dtype=torch.float64) - 2
    log_var = 10 * torch.rand(64, 5, generator=generator, dtype=torch.float64) - 7
    mu[0], log_var[0] = 0, 0  # KL(N(0, I) || N(0, I)) = 0
    found = submission.probe("kl", inputs={"mu": mu, "log_var": log_var})["kl"]
    assert found.shape == (64,), f"gaussian_kl on (64, 5) inputs should return one KL per example, shape (64,), got {tuple(found.shape)}"
    expected = 0.5 * (log_var.exp() + mu.pow(2) - 1 - log_var).sum(1)
    hints = {"the -1 per dimension is missing": expected + 2.5, "sigma^2 is exp(log_var), not exp(log_var / 2)":
             0.5 * ((0.5 * log_var).exp() + mu.pow(2) - 1 - log_var).sum(1), "the factor 1/2 is missing": 2 * expected}
    hint = next((f" ({text})" for text, wrong in hints.items() if _close(found, wrong)), "")
    assert _close(found, expected), (
        f"gaussian_kl differs from 1/2 sum_j (sigma_j^2 + mu_j^2 - 1 - log sigma_j^2), {_first_difference(found, expected)}{hint}")


def test_reparameterization(submission):
    generator = submission.private_generator("reparameterization")
    mu, log_var, eps, target = (torch.randn(32, 4, generator=generator, dtype=torch.float64) for _ in range(4))
    found = submission.probe("reparameterization", inputs={"mu": mu, "log_var": log_var, "eps": eps, "target": target})
    sigma = (0.5 * log_var).exp()
    z = mu + sigma * eps
    if _close(found["z"], mu + log_var.exp() * eps):
        raise AssertionError("reparameterize returns mu + exp(log_var) * eps: sigma is exp(log_var / 2)")
    assert _close(found["z"], z), f"reparameterize(mu, log_var, eps) is not mu + exp(log_var / 2) * eps, {_first_difference(found['z'], z)}"
    # d/dmu sum (z - a)^2 = 2 (z - a); d/dlog_var = 2 (z - a) * sigma * eps / 2
    for name, expected in {"mu": 2 * (z - target), "log_var": (z - target) * sigma * eps}.items():
        grad = found[f"grad_{name}"]
        assert grad.abs().sum() > 0, f"no gradient of a loss on z reaches {name}: is something detached?"
        assert _close(grad, expected), f"the gradient of sum (z - a)^2 with respect to {name} is wrong, {_first_difference(grad, expected)}"


def test_iwae(submission):
    generator = submission.private_generator("iwae")
    log_weights = -3000 + 5 * torch.randn(16, 50, generator=generator, dtype=torch.float64)
    log_weights[0] = -2.0  # equal weights
    found = submission.probe("iwae", inputs={"log_weights": log_weights})
    expected = torch.logsumexp(log_weights, 1) - math.log(50)
    bound = found["bound"]
    assert bound.shape == (16,), f"iwae_bound on (16, 50) log-weights should return shape (16,), got {tuple(bound.shape)}"
    assert torch.isfinite(bound).all(), "iwae_bound is not finite for log-weights near -3000: exp underflows; use torch.logsumexp"
    hints = {"that is the average log-weight, the ELBO estimate, not the log of the average weight": log_weights.mean(1),
             "the - log S of the average is missing": expected + math.log(50)}
    hint = next((f" ({text})" for text, wrong in hints.items() if _close(bound, wrong)), "")
    assert _close(bound, expected), f"iwae_bound differs from log (1/S) sum_s w_s, {_first_difference(bound, expected)}{hint}"
    assert _close(found["elbo"], log_weights[:, 0]), "with one sample (S = 1) iwae_bound should return log w_1"


# --------------------------------------------------------------------------------------------------
# Quantizer


def uneven_codebook(generator: torch.Generator, k: int, d: int) -> torch.Tensor:
    """Codes whose lengths differ by up to e^4 (a dot product alone then picks the longest code)."""
    directions = torch.randn(k, d, generator=generator, dtype=torch.float64)
    return directions * (4 * torch.rand(k, 1, generator=generator, dtype=torch.float64) - 2).exp()


def squared_distances(z: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    return (z.double()[:, None, :] - codebook.double()[None]).pow(2).sum(-1)


def is_nearest(idx: torch.Tensor, z: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """Is ``idx[n]`` a nearest code of ``z[n]`` (up to rounding: ties may go either way)?"""
    distances = squared_distances(z, codebook)
    best = distances.min(1).values
    return distances.gather(1, idx.long().clamp(0, len(codebook) - 1)[:, None])[:, 0] <= best + 1e-9 * (1 + best)


def test_nearest_code(submission):
    generator = submission.private_generator("nearest")
    codebook = uneven_codebook(generator, 61, 5)
    z = torch.randn(2001, 5, generator=generator, dtype=torch.float64) * 2
    z[:61] = codebook  # points on the codes themselves
    idx = submission.probe("nearest", inputs={"z": z, "codebook": codebook})["idx"]
    assert idx.dtype == torch.int64 and idx.shape == (2001,), f"nearest on (2001, 5) should return int64 (2001,), got {idx.dtype} {tuple(idx.shape)}"
    right = is_nearest(idx, z, codebook)
    if not right.all():
        n = int((~right).nonzero()[0])
        dot = (z @ codebook.T).argmax(1)
        hint = " (that is the largest dot product: codes differ in length, so ||e_k||^2 matters)" if (idx == dot).double().mean() > 0.9 else ""
        raise AssertionError(f"nearest picks a code that is not the nearest for {int((~right).sum())} of 2001 vectors, e.g. vector {n}: "
                             f"code {int(idx[n])} instead of {int(squared_distances(z[n:n + 1], codebook).argmin())}{hint}")


def test_straight_through(submission):
    generator = submission.private_generator("straight_through")
    d, k = 6, 11
    codebook = uneven_codebook(generator, k, d)
    z_e = 1.5 * torch.randn(3, d, 5, 7, generator=generator, dtype=torch.float64)
    upstream = torch.randn(z_e.shape, generator=generator, dtype=torch.float64)
    found = submission.probe("straight_through", inputs={"z_e": z_e, "codebook": codebook, "upstream": upstream})
    flat = z_e.permute(0, 2, 3, 1).reshape(-1, d)  # (105, D): one row per position
    idx = found["idx"]
    assert idx.shape == (3, 5, 7), f"idx for z_e of shape (3, 6, 5, 7) should have shape (3, 5, 7), got {tuple(idx.shape)}"
    if not is_nearest(idx.flatten(), flat, codebook).all():
        unpermuted = is_nearest(idx.flatten(), z_e.reshape(-1, d), codebook).all()
        hint = " (z_e.reshape(-1, D) mixes channels and positions: permute to (B, h, w, D) first)" if unpermuted else ""
        raise AssertionError(f"idx[b, i, j] is not the nearest code of z_e[b, :, i, j]{hint}")
    e = codebook[idx.flatten()]  # (N, D)
    in_layout = e.reshape(3, 5, 7, d).permute(0, 3, 1, 2)
    assert found["z_q"].shape == z_e.shape, f"z_q should have the shape of z_e, (3, 6, 5, 7), got {tuple(found['z_q'].shape)}"
    assert _close(found["z_q"], in_layout, 1e-10), "z_q[b, :, i, j] should be the codebook row of idx[b, i, j]"
    assert _close(found["z_q_grad_z_e"], upstream, 1e-10), (
        "the gradient of z_q with respect to z_e should be the identity (straight-through: z_q = z_e + (e - z_e).detach())")
    assert not found["z_q_grad_codebook"].any(), "the gradient of z_q must not reach the codebook (only the codebook loss moves codes)"
    n_elements = flat.numel()
    value = (flat - e).pow(2).mean()
    for name in ("codebook_loss", "commitment_loss"):
        reported = found[name]
        hint = (" (a sum, not a mean over all B h w D elements)" if math.isclose(reported.item(), value.item() * n_elements, rel_tol=1e-6)
                else " (a mean over positions of the squared norm: divide by D as well)" if math.isclose(reported.item(), value.item() * d, rel_tol=1e-6)
                else "")
        assert math.isclose(reported.item(), value.item(), rel_tol=1e-8), f"{name} is {reported.item():.6g}, not mean ||z_e - e_k||^2 = {value.item():.6g}{hint}"
    used = torch.zeros(k, d, dtype=torch.float64).index_add_(0, idx.flatten(), e - flat)
    expected = {"codebook_loss_grad_codebook": 2 * used / n_elements, "codebook_loss_grad_z_e": torch.zeros_like(z_e),
                "commitment_loss_grad_codebook": torch.zeros(k, d, dtype=torch.float64),
                "commitment_loss_grad_z_e": (2 * (flat - e) / n_elements).reshape(3, 5, 7, d).permute(0, 3, 1, 2)}
    words = {"codebook_loss_grad_z_e": "the codebook loss must not move the encoder: detach z_e in it",
             "commitment_loss_grad_codebook": "the commitment loss must not move the codes: detach e in it",
             "codebook_loss_grad_codebook": "the codebook loss's gradient with respect to the codes is wrong (2 (e_k - z_e) / (N D), summed over the vectors assigned to k)",
             "commitment_loss_grad_z_e": "the commitment loss's gradient with respect to z_e is wrong (2 (z_e - e_k) / (N D))"}
    for name, wanted in expected.items():
        assert _close(found[name], wanted, 1e-8), words[name]


def test_dead_codes(submission):
    generator = submission.private_generator("dead_codes")
    k, d = 16, 3
    codebook = torch.randn(k, d, generator=generator, dtype=torch.float64)
    usage = torch.zeros(k, dtype=torch.float64)
    usage[[0, 2, 4, 6]] = torch.tensor([0.3, DEAD_BELOW, 0.2, 2e-3], dtype=torch.float64)  # in use (DEAD_BELOW itself is not dead)
    usage[[3, 9]] = 5e-4  # dead, like the 10 zeros
    # One row per dead code: drawing the 12 rows with replacement repeats one except with probability 12!/12^12 < 1e-4.
    bank = 10 + torch.randn(12, d, generator=generator, dtype=torch.float64)
    z_e = torch.randn(4, d, 3, 7, generator=generator, dtype=torch.float64)  # 84 vectors: no share lands exactly on dead_below
    found = submission.probe("dead_codes", inputs={"codebook": codebook, "usage": usage, "bank": bank, "z_e": z_e},
                             restart_seed=int(torch.randint(0, 2**31, (1,), generator=generator)))
    dead = (usage < DEAD_BELOW).nonzero().flatten()
    restarted = found["restarted"].flatten().long()
    assert restarted.tolist() == dead.tolist(), (
        f"restart_dead_codes restarted codes {restarted.tolist()}, expected those with usage < dead_below, {dead.tolist()} "
        f"(usage {usage.tolist()}; a usage equal to dead_below is not dead)")
    _judge_restart("restart_dead_codes", codebook, usage, dead, found["codebook"], found["usage"], bank)

    flat = z_e.permute(0, 2, 3, 1).reshape(-1, d)
    assert is_nearest(found["train_idx"].flatten(), flat, codebook).all(), "in training mode forward should still assign the nearest codes"
    share = torch.bincount(found["train_idx"].flatten(), minlength=k).double() / len(flat)
    updated = DECAY * usage + (1 - DECAY) * share
    now_dead = (updated < DEAD_BELOW).nonzero().flatten()
    expected_usage = updated.clone()
    expected_usage[now_dead] = 1 / k
    assert _close(found["train_usage"], expected_usage, 1e-8), (
        "in training mode forward should update usage <- decay * usage + (1 - decay) * share of the batch, then restart the "
        f"codes below dead_below (usage 1/K): expected {expected_usage.numpy().round(5).tolist()}, got {found['train_usage'].numpy().round(5).tolist()}")
    _judge_restart("a training-mode forward", codebook, updated, now_dead, found["train_codebook"], found["train_usage"], flat)
    assert torch.equal(found["eval_codebook"], codebook) and torch.equal(found["eval_usage"], usage), (
        "in evaluation mode forward must change neither the codebook nor usage")


def _judge_restart(what: str, codebook, usage, dead, new_codebook, new_usage, bank) -> None:
    alive = torch.ones(len(codebook), dtype=torch.bool)
    alive[dead] = False
    assert torch.equal(new_codebook[alive], codebook[alive]), f"{what} moved codes that are in use"
    moved = new_codebook[dead]
    from_bank = (moved[:, None, :] == bank[None]).all(-1)  # (dead, M)
    assert from_bank.any(1).all(), f"{what}: every restarted code should be a row of the encoder outputs it was given"
    rows = from_bank.double().argmax(1)
    assert len(rows.unique()) == len(rows), f"{what} put two dead codes on the same encoder output: choose distinct rows"
    assert torch.allclose(new_usage[dead], torch.full((len(dead),), 1 / len(codebook), dtype=torch.float64)), f"{what}: restarted codes get usage 1/K"


# --------------------------------------------------------------------------------------------------
# VQ-VAE


BOTTLENECK = {"n_levels": 5, "hidden": 8, "code_dim": 4, "num_codes": 10, "downsample": 1, "beta": 0.25}
PRIOR_SCALE = 0.3


def test_bottleneck(submission):
    generator = submission.private_generator("bottleneck")
    x = torch.randint(0, 5, (6, 1, 8, 8), generator=generator)
    train_x = torch.randint(0, 5, (32, 1, 8, 8), generator=generator)
    found = submission.probe("bottleneck", inputs={"x": x, "train_x": train_x}, config=BOTTLENECK, steps=STRUCTURE_STEPS, prior_scale=PRIOR_SCALE)
    _judge_loss_weights(found["weights"])
    names = ["the encoder", "the codebook", "the decoder"]
    missing = [name for name, reached in zip(names, found["reaches"].tolist()) if not reached]
    assert not missing, f"loss(x) sends no gradient to {', '.join(missing)}: reconstruction + codebook loss + beta * commitment loss trains all three"
    dims = x[0].numel()
    for state, label in (("fresh", "freshly built"), ("trained", f"after {STRUCTURE_STEPS} Adam steps")):
        out = found[state]
        log_p = F.log_softmax(out["logits"].double(), dim=1).gather(1, x[:, None].long())[:, 0]  # (B, 1, H, W)
        recon = -log_p.flatten(1).sum(1)
        assert _close(out["recon_nll"], recon, 1e-5), (
            f"{label}: recon_nll(x) differs from -log p(x | z_q) of the decoder's logits of the codes, {_first_difference(out['recon_nll'], recon)} "
            "(decode z_q, not z_e, and sum over pixels)")
        loss = recon.mean() / dims + out["codebook_loss"].double() + BOTTLENECK["beta"] * out["commitment_loss"].double()
        assert _close(out["loss"], loss, 1e-5), (
            f"{label}: loss(x) is {out['loss'].item():.6f}, not mean reconstruction NLL per pixel + codebook loss + beta * commitment "
            f"loss = {loss.item():.6f}")
        uniform = (recon + out["idx"][0].numel() * math.log(BOTTLENECK["num_codes"])) / (dims * math.log(2))
        nats = " (that is nats: divide by m ln 2)" if _close(out["bound_uniform"], uniform * math.log(2), 1e-5) else ""
        assert _close(out["bound_uniform"], uniform, 1e-5), (
            f"{label}: nll_bound with the uniform prior should be (recon NLL + h w log K) / (m ln 2), {_first_difference(out['bound_uniform'], uniform)}{nats}")
        fixed = (recon + PRIOR_SCALE * out["idx"].flatten(1).sum(1).double()) / (dims * math.log(2))
        assert _close(out["bound_fixed"], fixed, 1e-5), (
            f"{label}: nll_bound with a prior should be (recon NLL - prior.log_prob(codes)) / (m ln 2), {_first_difference(out['bound_fixed'], fixed)}")


def _judge_loss_weights(found: dict) -> None:
    """The loss's gradients: codebook loss with weight 1 on the codes, beta * commitment plus the straight-through
    reconstruction gradient on z_e (the two VQ losses have equal values, so only gradients tell the weights apart)."""
    z_e, codebook, idx = found["z_e"].double(), found["codebook"].double(), found["idx"]
    d = z_e.shape[1]
    flat = z_e.permute(0, 2, 3, 1).reshape(-1, d)
    e = codebook[idx.flatten()]
    n_elements = flat.numel()
    codebook_grad = torch.zeros_like(codebook).index_add_(0, idx.flatten(), 2 * (e - flat) / n_elements)
    commitment_grad = (2 * (flat - e) / n_elements).reshape(z_e.shape[0], *z_e.shape[2:], d).permute(0, 3, 1, 2)
    assert _close(found["loss_grad_codebook"], codebook_grad, 1e-5), (
        "loss(x) moves the codes by a multiple of the codebook loss's gradient other than 1: loss = reconstruction + codebook loss + "
        "beta * commitment loss (beta on the commitment term only)")
    expected = found["recon_grad_z_q"].double() + BOTTLENECK["beta"] * commitment_grad
    assert _close(found["loss_grad_z_e"], expected, 1e-5), (
        "loss(x)'s gradient with respect to the encoder output is not the reconstruction's (passed straight through) plus beta times "
        "the commitment loss's: is beta on the commitment term, and the commitment loss in the loss?")


# --------------------------------------------------------------------------------------------------
# Prior


TINY_PRIOR = {"grid": [2, 2], "num_codes": 4, "hidden": 16, "n_layers": 2, "kernel_size": 3}
PAIRED_PRIOR = {"grid": [4, 4], "num_codes": 8, "hidden": 16, "n_layers": 3}
SAMPLING_DRAWS = 4000


def all_grids(grid: list[int], num_codes: int) -> torch.Tensor:
    h, w = grid
    return torch.cartesian_prod(*[torch.arange(num_codes)] * (h * w)).reshape(-1, h, w)


def grid_log_prob(logits: torch.Tensor, grids: torch.Tensor) -> torch.Tensor:
    """``log p(grid) = sum_i log softmax(logits)_i[grid_i]`` (float64), logits (B, K, h, w), grids (B, h, w)."""
    return F.log_softmax(logits.double(), dim=1).gather(1, grids[:, None].long())[:, 0].flatten(1).sum(1)


def _judge_causal(what: str, logits: torch.Tensor, order: torch.Tensor, cuts: torch.Tensor, width: int) -> None:
    found = evidence.causality_violation(*evidence.unpaired(logits, order), cuts)
    if found is not None:
        _, position, cut, affected = found
        raise AssertionError(f"{what}: the logits at position {divmod(position, width)} change when the code at {divmod(cut, width)}, at or "
                             f"after it in raster order, changes ({affected} of {len(cuts)} grids): is the first layer type A, the mask applied "
                             "in every forward pass, and forward deterministic?")


def test_prior(submission):
    generator = submission.private_generator("prior")
    grids = all_grids(TINY_PRIOR["grid"], TINY_PRIOR["num_codes"])
    h, w = PAIRED_PRIOR["grid"]
    paired, order, cuts = evidence.paired_batch(torch.randint(0, PAIRED_PRIOR["num_codes"], (64, h, w), generator=generator), PAIRED_PRIOR["num_codes"], generator)
    train_grids = torch.randint(0, PAIRED_PRIOR["num_codes"], (128, h, w), generator=generator)
    found = submission.probe("prior", inputs={"grids": grids, "paired": paired, "train_grids": train_grids}, tiny=TINY_PRIOR,
                             n_samples=SAMPLING_DRAWS, config=PAIRED_PRIOR, steps=STRUCTURE_STEPS)
    for state, label in (("fresh_logits", "freshly built"), ("trained_logits", f"after {STRUCTURE_STEPS} Adam steps")):
        assert found[state].shape == (128, PAIRED_PRIOR["num_codes"], h, w), (
            f"CodePrior({PAIRED_PRIOR}) on (128, {h}, {w}) codes should return logits (128, {PAIRED_PRIOR['num_codes']}, {h}, {w}), got {tuple(found[state].shape)}")
        _judge_causal(f"CodePrior {label}", found[state], order, cuts, w)
    log_prob = found["log_prob"]
    expected = grid_log_prob(found["logits"], grids)
    assert _close(log_prob, expected, 1e-6), f"log_prob(idx) differs from sum_i log softmax(logits)_i[idx_i], {_first_difference(log_prob, expected)}"
    total = expected.logsumexp(0).exp().item()
    assert abs(total - 1) < 1e-6, f"the probabilities of all {len(grids)} grids of 2x2 codes in {{0, ..., 3}} sum to {total:.6f}, not 1: does a position see itself?"
    samples = found["samples"].long()
    assert samples.shape == (SAMPLING_DRAWS, 2, 2), f"sample({SAMPLING_DRAWS}) should return ({SAMPLING_DRAWS}, 2, 2) codes, got {tuple(samples.shape)}"
    index = (samples.flatten(1) * torch.tensor([64, 16, 4, 1])).sum(1)  # raster order, base 4, as all_grids
    observed = torch.bincount(index, minlength=len(grids)).double()
    p_value = evidence.chi_square_p_value(observed, SAMPLING_DRAWS * expected.exp())
    assert p_value > SAMPLING_ALPHA, (
        f"sample() does not draw from the prior's own distribution (chi-square p = {p_value:.2g} over {SAMPLING_DRAWS} draws on 2x2 grids): "
        "sample positions one at a time in raster order, each from the softmax of its logits given the codes drawn so far")


# --------------------------------------------------------------------------------------------------
# After the grader's recipe


def _what(recipe: dict) -> str:
    return f"after the grader's recipe ({recipe['vq_train']['epochs']} + {recipe['prior_train']['epochs']} epochs on {recipe['dataset']})"


def trained_outputs(submission, seed: int) -> dict:
    """The grader's recipe and its verified evaluation (see the module docstring): test levels, codes,
    decoder and prior logits of the codes, codebook perplexity, and images the grader sampled."""
    recipe = submission.recipe(RECIPES)
    what = _what(recipe)
    common = {"n_levels": recipe["n_levels"], "config": recipe["config"], "prior_config": recipe["prior_config"]}
    trained = submission.probe("train", seconds=recipe["seconds"], seed=seed, dataset=recipe["dataset"], **common,
                               vq_train={**recipe["vq_train"], "seed": seed}, prior_train={**recipe["prior_train"], "seed": seed},
                               held_out=recipe["held_out"])
    levels = dgm.data.to_levels(dgm.data.load_images(recipe["dataset"], "test").images, recipe["n_levels"]).long()
    z_e, codebook = trained["z_e"], trained["codebook"]
    n, (h, w), k = len(levels), recipe["prior_config"]["grid"], recipe["config"]["num_codes"]
    assert z_e.shape == (n, recipe["config"]["code_dim"], h, w) and codebook.shape == (k, recipe["config"]["code_dim"]), (
        f"{what}: the encoder's outputs on {n} test images have shape {tuple(z_e.shape)} and the codebook {tuple(codebook.shape)}")
    flat = z_e.permute(0, 2, 3, 1).reshape(-1, z_e.shape[1])
    codes = torch.cat([squared_distances(part, codebook).argmin(1) for part in flat.split(4096)]).reshape(n, h, w)

    generator = submission.private_generator("evaluation", seed)
    duplicates = torch.randint(0, n, (64,), generator=generator)
    decode_grids = torch.cat([codes, codes[duplicates], torch.randint(0, k, (64, h, w), generator=generator)])
    decode_order = torch.randperm(len(decode_grids), generator=generator)
    prior_grids, prior_order, cuts = evidence.paired_batch(codes, k, generator)
    uniform = torch.rand(recipe["n_samples"], k, h, w, generator=generator).clamp(1e-12, 1 - 1e-12)
    gumbel = -(-uniform.log()).log()
    found = submission.probe("evaluate", seed=seed, **common, inputs={
        "vqvae": trained["vqvae"], "prior": trained["prior"], "decode_grids": decode_grids[decode_order],
        "prior_grids": prior_grids, "gumbel": gumbel})

    decoded = torch.empty_like(found["decoded"])
    decoded[decode_order] = found["decoded"]
    assert decoded.shape == (len(decode_grids), recipe["n_levels"], 1, *levels.shape[2:]), (
        f"{what}: the decoder's logits of {len(decode_grids)} code grids have shape {tuple(decoded.shape)}")
    repeat = decoded[n:n + 64].double()
    original = decoded[duplicates].double()
    assert ((repeat - original).abs() <= 1e-4 * (1 + original.abs())).all(), (
        f"{what}: the decoder gives different logits for the same code grid at two places of one batch: its output must depend on the codes only")
    _judge_causal(f"{what}, the prior", found["prior_logits"], prior_order, cuts, w)
    prior_logits = evidence.unpaired(found["prior_logits"], prior_order)[0]
    samples = found["samples"].long()
    expected_samples = (found["sample_prior_logits"].double() + gumbel.double()).argmax(1)
    assert torch.equal(samples, expected_samples), (
        f"{what}: codes sampled position by position are not the argmax of the prior's logits plus the grader's Gumbel noise when the "
        "prior is asked again on the finished grids: its logits at a position depend on later positions or on the batch")

    recon = -F.log_softmax(decoded[:n].double(), dim=1).gather(1, levels[:, None]).flatten(1).sum(1)
    bits = levels[0].numel() * math.log(2)
    bound = (recon - grid_log_prob(prior_logits, codes)) / bits
    uniform_bound = (recon + h * w * math.log(k)) / bits
    share = torch.bincount(codes.flatten(), minlength=k).double() / codes.numel()
    perplexity = torch.exp(-(share[share > 0] * share[share > 0].log()).sum()).item()
    pixel_generator = submission.private_generator("pixels", seed)
    probabilities = F.softmax(found["sample_decoded"].double(), dim=1).movedim(1, -1)  # (N, 1, H, W, L)
    pixels = torch.multinomial(probabilities.reshape(-1, recipe["n_levels"]), 1, generator=pixel_generator).reshape(probabilities.shape[:-1])
    images = pixels.float() / (recipe["n_levels"] - 1)
    submission.artifacts["samples"] = images[:64]
    return {"bound": bound, "uniform_bound": uniform_bound, "perplexity": perplexity, "samples": images}


def bound_bits_per_dim(submission, seed: int) -> float:
    return trained_outputs(submission, seed)["bound"].mean().item()


def prior_gain(submission, seed: int) -> float:
    """How much the learned prior lowers the test bound below the uniform prior's, in bits per dimension."""
    outputs = trained_outputs(submission, seed)
    return (outputs["uniform_bound"] - outputs["bound"]).mean().item()


def codebook_perplexity(submission, seed: int) -> float:
    return trained_outputs(submission, seed)["perplexity"]


def samples(submission, seed: int) -> torch.Tensor:
    return trained_outputs(submission, seed)["samples"]


def grader_data(submission) -> quality.GraderData:
    return quality.GraderData.load(submission.recipe(RECIPES)["dataset"], binarised=False)


CALIBRATIONS = {
    # A prior that learned nothing (2.87 bits/dim, the uniform prior's) comes within 0.2 of the correct solutions' bounds
    # (2.50-2.70 over seeds): the bound's threshold is a floor on the whole model, the prior's gain judges the prior.
    "likelihood": Calibration(bound_bits_per_dim, better="lower", margin=0.1),
    "prior_gain": Calibration(prior_gain, better="higher", margin=0.1, bugs=("prior_learns_nothing",), implausible=None),
    "perplexity": Calibration(codebook_perplexity, better="higher", margin=0.1, bugs=("no_restarts",), implausible=None),
    "sample_quality": QualityCalibration(samples, grader_data, margin=0.25),
}


def test_likelihood(submission):
    what = _what(submission.recipe(RECIPES))
    submission.judge("codebook perplexity (test codes)", codebook_perplexity(submission, GRADER_SEED), "perplexity",
                     f"{what} the perplexity of the test images' codes (do dead codes restart?)")
    submission.judge("test bound (bits/dim)", bound_bits_per_dim(submission, GRADER_SEED), "likelihood",
                     f"{what} the bound -log p(x | z_q) - log p(z) on the test set in bits per dimension")
    submission.judge("prior's gain over the uniform prior (bits/dim)", prior_gain(submission, GRADER_SEED), "prior_gain",
                     f"{what} how much the learned prior lowers the test bound below the uniform prior's (does the prior train?)")


def test_sample_quality(submission):
    quality.check_samples(submission, grader_data(submission), samples(submission, GRADER_SEED))
