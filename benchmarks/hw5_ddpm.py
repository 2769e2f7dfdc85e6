"""Benchmark: the hw5 reference schedule, forward process, posterior and sampler against diffusers' DDPMScheduler.

    pip install "diffusers>=0.30"        # benchmark-only dependency
    python benchmarks/hw5_ddpm.py [--T 1000] [--n 2000]

The reference (the notebook's answer cells, executed from the instructor's source notebook) and
``diffusers.DDPMScheduler(trained_betas=..., variance_type="fixed_small", clip_sample=False)`` get the same betas
(the linear schedule rescaled to T). Our time index runs from 1 (entry 0 is the data), diffusers' from 0, so our t is
its t - 1. Printed:

- ``alphas_cumprod``, ``add_noise``, and one ``step`` (noise prediction) against ours at every t, with the same
  seeded noise; and ``step`` with ``prediction_type="sample"`` against our posterior mean plus the same noise. Ours is
  float64, diffusers' float32: differences are float32 rounding, largest at small t where 1 - alpha_bar_t cancels;
- the whole sampler on a 2D Gaussian mixture driven by its exact noise prediction (``dgm.mixture``): our ``sample``
  and a diffusers loop from the same x_T and noise (the samples agree to float32 rounding), the energy distance of
  each to fresh mixture draws, and CPU milliseconds per step.

Published anchors, on CIFAR-10 with a 35.7M-parameter U-Net: DDPM with L_simple reaches FID 3.17, IS 9.46 and a bound
of 3.75 bits/dim (Ho et al., 2020, Table 1); classifier-free guidance trades FID against IS as w grows, FID being
lowest at small w (Ho & Salimans, 2022, Tables 1-2).
"""

from __future__ import annotations

import argparse
import time

import torch
from reference import reference_namespace  # puts the repository on sys.path

import dgm


def relative_difference(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    ours, theirs = ours.double(), theirs.double()
    return ((ours - theirs).abs() / (1 + ours.abs())).max().item()


def schedulers(ns, T: int, dtype: torch.dtype) -> tuple:
    """DDPMScheduler predicting eps and one predicting x0 (its step then gives the posterior mean plus noise), with our
    float64 betas when ``dtype`` is float64 (diffusers rounds trained_betas to float32 otherwise)."""
    from diffusers import DDPMScheduler

    made = []
    for prediction in ("epsilon", "sample"):
        scheduler = DDPMScheduler(num_train_timesteps=T, trained_betas=ns.linear_betas(T).numpy(), variance_type="fixed_small",
                                  clip_sample=False, prediction_type=prediction)
        if dtype == torch.float64:
            scheduler.betas = ns.linear_betas(T)
            scheduler.alphas = 1 - scheduler.betas
            scheduler.alphas_cumprod = torch.cumprod(scheduler.alphas, 0)
            scheduler.one = torch.tensor(1.0, dtype=torch.float64)
        made.append(scheduler)
    return tuple(made)


def compare(ns, schedule, T: int, dtype: torch.dtype) -> None:
    """Every function against diffusers at every t, inputs and diffusers in ``dtype`` (ours always float64)."""
    scheduler, x0_scheduler = schedulers(ns, T, dtype)
    print(f"hw5 reference against diffusers DDPMScheduler in {str(dtype)[6:]}, linear schedule, T = {T}: max relative difference")
    print(f"  alpha_bar_t vs alphas_cumprod: {relative_difference(schedule.alpha_bar[1:], scheduler.alphas_cumprod):.2e}")
    generator = torch.Generator().manual_seed(0)
    x0, eps, x_t = (torch.randn(64, 2, generator=generator, dtype=dtype) for _ in range(3))
    t = torch.randint(1, T + 1, (64,), generator=generator)
    print(f"  q_sample vs add_noise: {relative_difference(ns.q_sample(schedule, x0.double(), t, eps.double()), scheduler.add_noise(x0, eps, t - 1)):.2e}")
    worst = {"step": (0.0, 0), "posterior": (0.0, 0), "x0": (0.0, 0)}
    for step in range(1, T + 1):
        t_batch = torch.full((64,), step)
        noise = torch.randn(64, 2, generator=torch.Generator().manual_seed(step), dtype=dtype).double()  # what diffusers draws
        theirs = scheduler.step(eps, step - 1, x_t, generator=torch.Generator().manual_seed(step))
        ours = ns.reverse_step(schedule, eps.double(), x_t.double(), t_batch, noise)
        posterior_theirs = x0_scheduler.step(x0, step - 1, x_t, generator=torch.Generator().manual_seed(step)).prev_sample
        mean, variance = ns.posterior(schedule, x0.double(), x_t.double(), t_batch)
        differences = {"step": relative_difference(ours, theirs.prev_sample),
                       "posterior": relative_difference(mean + variance.sqrt() * noise, posterior_theirs),
                       "x0": relative_difference(ns.x0_from_eps(schedule, x_t.double(), t_batch, eps.double()), theirs.pred_original_sample)}
        for name, value in differences.items():
            if value > worst[name][0]:
                worst[name] = (value, step)
    for name, label in (("step", "reverse_step vs step (eps prediction)"), ("posterior", "posterior mean + noise vs step (x0 prediction)"),
                        ("x0", "x0_from_eps vs pred_original_sample")):
        print(f"  {label}: {worst[name][0]:.2e} (worst at t = {worst[name][1]})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--T", type=int, default=1000, help="diffusion steps (default 1000)")
    parser.add_argument("--n", type=int, default=2000, help="points sampled from the 2D mixture (default 2000)")
    args = parser.parse_args()
    try:
        from diffusers import DDPMScheduler
    except ImportError:
        raise SystemExit('this benchmark needs diffusers: pip install "diffusers>=0.30"') from None
    torch.set_num_threads(1)
    ns = reference_namespace("hw5")
    T = args.T
    schedule = ns.make_schedule(ns.linear_betas(T))
    scheduler = DDPMScheduler(num_train_timesteps=T, trained_betas=ns.linear_betas(T).numpy(), variance_type="fixed_small", clip_sample=False)
    for dtype in (torch.float64, torch.float32):
        compare(ns, schedule, T, dtype)

    mixture = dgm.mixture.GaussianMixture([0.2, 0.5, 0.3], [[-2.0, 0.0], [1.5, 1.0], [0.5, -2.0]], [0.3, 0.5, 0.4])
    oracle = mixture.eps_model(schedule.alpha_bar)
    started = time.process_time()
    ours = ns.sample(oracle, schedule, (args.n, 2), generator=torch.Generator().manual_seed(1))
    our_ms = 1000 * (time.process_time() - started) / T
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(args.n, 2, generator=generator)
    scheduler.set_timesteps(T)
    started = time.process_time()
    for timestep in scheduler.timesteps:
        step_generator = torch.Generator()
        step_generator.set_state(generator.get_state())  # diffusers draws this step's noise as ours does
        torch.randn(args.n, 2, generator=generator)  # ours draws noise at every step, also the unused last one
        x = scheduler.step(oracle(x, torch.full((args.n,), int(timestep) + 1)), timestep, x, generator=step_generator).prev_sample
    their_ms = 1000 * (time.process_time() - started) / T
    truth, _ = mixture.sample(args.n, torch.Generator().manual_seed(2))
    print(f"sampler on a 2D Gaussian mixture with its exact eps, {args.n} points, T = {T}:")
    print(f"  ours:      energy distance to the mixture {dgm.metrics.energy_distance(ours.double(), truth):.4f}, {our_ms:.2f} CPU-ms per step")
    print(f"  diffusers: energy distance to the mixture {dgm.metrics.energy_distance(x.double(), truth):.4f}, {their_ms:.2f} CPU-ms per step")
    print(f"  samples from the same x_T and noise differ by at most {(ours.double() - x.double()).abs().max().item():.2e}")


if __name__ == "__main__":
    main()
