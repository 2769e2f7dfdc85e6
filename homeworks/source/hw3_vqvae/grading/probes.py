"""Homework 3 probes: what the grader asks of the student's VAE pieces, quantizer, VQ-VAE and prior.

Each probe runs in the sandbox with the student's program as ``ns`` and returns raw tensors (values,
gradients, codes, logits); it judges nothing. ``test_checks.py`` does, in the grader's process. The
trained models are asked twice: :func:`train` runs the grader's recipe and returns the models' states
and their encoder outputs on the test images; :func:`evaluate` loads those states into fresh modules
and evaluates the decoder and the prior on batches the grader built from those outputs, with pairs and
duplicates only the grader can tell apart, and samples with the grader's Gumbel noise.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

import dgm
from autograder.worker import StudentCodeError


def _require(ns, *names):
    for name in names:
        if not hasattr(ns, name):
            raise StudentCodeError(f"the notebook defines no {name}")


def _grad(output, inputs):
    """Gradients of a scalar ``output`` with respect to each of ``inputs``, zeros where it does not depend on one."""
    grads = torch.autograd.grad(output, inputs, retain_graph=True, allow_unused=True)
    return [torch.zeros_like(x) if g is None else g.detach() for g, x in zip(grads, inputs)]


# --------------------------------------------------------------------------------------------------
# Gaussian pieces


def kl(ns, mu, log_var) -> dict:
    _require(ns, "gaussian_kl")
    return {"kl": ns.gaussian_kl(mu, log_var).detach()}


def reparameterization(ns, mu, log_var, eps, target) -> dict:
    """z and the gradients of sum (z - target)^2 with respect to mu and log_var."""
    _require(ns, "reparameterize")
    mu, log_var = mu.clone().requires_grad_(), log_var.clone().requires_grad_()
    z = ns.reparameterize(mu, log_var, eps)
    if not z.requires_grad:
        return {"z": z.detach(), "grad_mu": torch.zeros_like(mu), "grad_log_var": torch.zeros_like(log_var)}
    grad_mu, grad_log_var = _grad((z - target).pow(2).sum(), [mu, log_var])
    return {"z": z.detach(), "grad_mu": grad_mu, "grad_log_var": grad_log_var}


def iwae(ns, log_weights) -> dict:
    _require(ns, "iwae_bound")
    return {"bound": ns.iwae_bound(log_weights).detach(), "elbo": ns.iwae_bound(log_weights[:, :1]).detach()}


# --------------------------------------------------------------------------------------------------
# Quantizer


def _quantizer(ns, codebook, usage=None):
    _require(ns, "VectorQuantizer")
    vq = ns.VectorQuantizer(*codebook.shape).double()
    with torch.no_grad():
        vq.codebook.copy_(codebook)
        if usage is not None:
            vq.usage.copy_(usage)
    return vq


def nearest(ns, z, codebook) -> dict:
    return {"idx": _quantizer(ns, codebook).nearest(z)}


def straight_through(ns, z_e, codebook, upstream) -> dict:
    """One evaluation-mode forward pass (float64) and the gradient of each output with respect to z_e and the codebook."""
    vq = _quantizer(ns, codebook).eval()
    z_e = z_e.clone().requires_grad_()
    out = vq(z_e)
    result = {"z_q": out["z_q"].detach(), "idx": out["idx"], "codebook_loss": out["codebook_loss"].detach(),
              "commitment_loss": out["commitment_loss"].detach()}
    for name, scalar in {"z_q": (out["z_q"] * upstream).sum(), "codebook_loss": out["codebook_loss"],
                         "commitment_loss": out["commitment_loss"]}.items():
        if not scalar.requires_grad:
            raise StudentCodeError(f"forward(z_e)['{name}'] carries no gradient: compute it from z_e and the codebook with autograd on")
        result[f"{name}_grad_z_e"], result[f"{name}_grad_codebook"] = _grad(scalar, [z_e, vq.codebook])
    return result


def dead_codes(ns, codebook, usage, bank, z_e, restart_seed) -> dict:
    """restart_dead_codes on a bank of vectors, then a training-mode and an evaluation-mode forward pass."""
    vq = _quantizer(ns, codebook, usage)
    restarted = vq.restart_dead_codes(bank, torch.Generator().manual_seed(restart_seed))
    result = {"restarted": torch.as_tensor(restarted), "codebook": vq.codebook.detach().clone(), "usage": vq.usage.clone()}
    trained = _quantizer(ns, codebook, usage).train()
    with torch.no_grad():
        out = trained(z_e)
    result |= {"train_idx": out["idx"], "train_codebook": trained.codebook.detach().clone(), "train_usage": trained.usage.clone()}
    evaluated = _quantizer(ns, codebook, usage).eval()
    with torch.no_grad():
        evaluated(z_e)
    return result | {"eval_codebook": evaluated.codebook.detach().clone(), "eval_usage": evaluated.usage.clone()}


# --------------------------------------------------------------------------------------------------
# VQ-VAE and the bound


class FixedPrior(torch.nn.Module):
    """A prior the grader supplies to ``nll_bound``: ``log_prob(idx) = -scale * sum of the codes``."""

    def __init__(self, scale: float):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(scale, dtype=torch.float64), requires_grad=False)

    def log_prob(self, idx: torch.Tensor) -> torch.Tensor:
        return -self.scale * idx.flatten(1).sum(1).double()


def _vqvae(ns, config):
    _require(ns, "VQVAE", "VQVAEConfig", "nll_bound")
    return ns.VQVAE(ns.VQVAEConfig(**config))


def _bottleneck_outputs(ns, model, x, prior_scale) -> dict:
    model.eval()
    with torch.no_grad():
        out = model.quantizer(model.encode(x))
        logits = model.codes_to_logits(out["idx"])
        return {
            "idx": out["idx"], "logits": logits, "codebook_loss": out["codebook_loss"], "commitment_loss": out["commitment_loss"],
            "recon_nll": model.recon_nll(x).double(), "loss": model.loss(x).double(),
            "bound_uniform": ns.nll_bound(model, None, x).double(), "bound_fixed": ns.nll_bound(model, FixedPrior(prior_scale), x).double(),
        }


def _loss_weights(model, x) -> dict:
    """Gradients of loss(x) (evaluation mode, so nothing restarts) with respect to the encoder's output and the
    codebook, and of the reconstruction NLL (mean per pixel) with respect to z_q at the same codes."""
    model.eval()
    captured = {}

    def keep(module, inputs, output):
        output.retain_grad()
        captured["z_e"] = output

    hook = model.encoder.register_forward_hook(keep)
    try:
        model.zero_grad()
        model.loss(x).backward()
    finally:
        hook.remove()
    z_e = captured["z_e"]
    with torch.no_grad():
        idx = model.quantizer(z_e.detach())["idx"]
    z_q = model.quantizer.codebook.detach()[idx].permute(0, 3, 1, 2).requires_grad_()
    (recon_grad,) = torch.autograd.grad(F.cross_entropy(model.decode(z_q), x.long()), z_q)
    codebook_grad = model.quantizer.codebook.grad
    return {"z_e": z_e.detach(), "idx": idx, "codebook": model.quantizer.codebook.detach().clone(), "recon_grad_z_q": recon_grad,
            "loss_grad_z_e": torch.zeros_like(z_e) if z_e.grad is None else z_e.grad.detach(),
            "loss_grad_codebook": torch.zeros_like(model.quantizer.codebook) if codebook_grad is None else codebook_grad.detach().clone()}


def bottleneck(ns, config, x, train_x, steps, prior_scale) -> dict:
    """A small VQ-VAE fresh and after ``steps`` Adam steps on ``loss``: codes, the decoder's logits
    of those codes, and what the student's loss, recon_nll and nll_bound say; which parameters loss reaches."""
    model = _vqvae(ns, config)
    result = {"fresh": _bottleneck_outputs(ns, model, x, prior_scale)}
    model.train()
    loss = model.loss(train_x)
    if not loss.requires_grad:
        raise StudentCodeError("loss(x) carries no gradient: compute it from the model's outputs with autograd on")
    reached = torch.autograd.grad(loss, [model.encoder[0].weight, model.quantizer.codebook, model.decoder[-1].weight], allow_unused=True)
    result["reaches"] = torch.tensor([g is not None and bool(g.abs().sum() > 0) for g in reached])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        optimizer.zero_grad()
        model.loss(train_x).backward()
        optimizer.step()
    result["trained"] = _bottleneck_outputs(ns, model, x, prior_scale)
    result["weights"] = _loss_weights(model, train_x)
    return result


# --------------------------------------------------------------------------------------------------
# The prior


def _prior(ns, config):
    _require(ns, "CodePrior", "PriorConfig", "MaskedConv2d")
    return ns.CodePrior(ns.PriorConfig(**config)).double()


def prior(ns, tiny, grids, n_samples, config, paired, train_grids, steps) -> dict:
    """A tiny prior with spread weights: log_prob and logits of every grid, samples from its own sample();
    a larger prior fresh and after ``steps`` Adam steps on ``loss``: logits of the grader's paired batch."""
    model = _prior(ns, tiny).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.mul_(3.0)  # far-from-uniform conditionals
        result = {"log_prob": model.log_prob(grids).double(), "logits": model(grids).double(), "samples": model.sample(n_samples)}
    larger = _prior(ns, config).eval()
    with torch.no_grad():
        result["fresh_logits"] = larger(paired).double()
    larger.train()
    optimizer = torch.optim.Adam(larger.parameters(), lr=1e-2)
    for _ in range(steps):
        optimizer.zero_grad()
        larger.loss(train_grids).backward()
        optimizer.step()
    larger.eval()
    with torch.no_grad():
        result["trained_logits"] = larger(paired).double()
    return result


# --------------------------------------------------------------------------------------------------
# The grader's recipe


def train(ns, dataset, n_levels, config, prior_config, vq_train, prior_train, held_out) -> dict:
    """The grader's recipe: the VQ-VAE on the training images, then the prior on their codes, keeping the epoch
    with the lowest NLL on the codes of ``held_out`` training images (as the notebook does). Returns both models'
    states and, for the test images, the encoder outputs ``z_e`` (no codes: the grader assigns them)."""
    _require(ns, "VQVAE", "VQVAEConfig", "CodePrior", "PriorConfig")
    device = dgm.default_device()
    train_levels = dgm.data.to_levels(dgm.data.load_images(dataset, "train").images, n_levels).long()
    test_levels = dgm.data.to_levels(dgm.data.load_images(dataset, "test").images, n_levels).long()
    model = ns.VQVAE(ns.VQVAEConfig(n_levels=n_levels, **config)).to(device)
    dgm.fit(model, train_levels, dgm.TrainConfig(**vq_train), progress=False)
    model.eval()
    with torch.no_grad():
        codes = torch.cat([model.quantizer(model.encode(b.to(device)))["idx"].cpu() for b in train_levels.split(500)])
        z_e = torch.cat([model.encode(b.to(device)).cpu() for b in test_levels.split(500)])
    order = torch.randperm(len(codes), generator=torch.Generator().manual_seed(0))
    code_prior = ns.CodePrior(ns.PriorConfig(**prior_config)).to(device)
    dgm.fit(code_prior, codes[order[held_out:]], dgm.TrainConfig(**prior_train), test_data=codes[order[:held_out]], progress=False)
    return {"vqvae": {k: v.cpu() for k, v in model.state_dict().items()}, "prior": {k: v.cpu() for k, v in code_prior.state_dict().items()},
            "z_e": z_e.double(), "codebook": model.quantizer.codebook.detach().cpu().double()}


def evaluate(ns, n_levels, config, prior_config, vqvae, prior, decode_grids, prior_grids, gumbel) -> dict:
    """Fresh modules with the trained states: decoder logits of ``decode_grids``, prior logits of
    ``prior_grids`` (float64), and code grids sampled position by position as the argmax of the prior's
    logits plus the grader's Gumbel noise ``gumbel (N, K, h, w)``, with their decoder and prior logits."""
    _require(ns, "VQVAE", "VQVAEConfig", "CodePrior", "PriorConfig")
    model = ns.VQVAE(ns.VQVAEConfig(n_levels=n_levels, **config))
    model.load_state_dict(vqvae)
    code_prior = ns.CodePrior(ns.PriorConfig(**prior_config))
    code_prior.load_state_dict(prior)
    model, code_prior = model.double().eval(), code_prior.double().eval()
    with torch.no_grad():
        decoded = torch.cat([model.codes_to_logits(b) for b in decode_grids.split(250)])
        prior_logits = torch.cat([code_prior(b) for b in prior_grids.split(250)])
        samples = torch.zeros(gumbel.shape[0], *gumbel.shape[2:], dtype=torch.long)
        h, w = samples.shape[1:]
        for i in range(h):
            for j in range(w):
                samples[:, i, j] = (code_prior(samples)[:, :, i, j] + gumbel[:, :, i, j]).argmax(1)
        sample_logits = code_prior(samples)
        sample_decoded = torch.cat([model.codes_to_logits(b) for b in samples.split(250)])
    return {"decoded": decoded.float(), "prior_logits": prior_logits, "samples": samples, "sample_prior_logits": sample_logits,
            "sample_decoded": sample_decoded.float()}
