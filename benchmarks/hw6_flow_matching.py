"""Benchmark: the hw6 reference flow matching against torchcfm's conditional flow matchers, torchdiffeq and zuko.

    pip install "torchcfm>=1.0" torchdiffeq "zuko>=1.1"     # benchmark-only dependencies (torchcfm brings POT)
    python benchmarks/hw6_flow_matching.py [--steps 6000] [--samples 1000] [--images 200] [--zuko-images 50]

The reference (the notebook's answer cells, executed from the instructor's source notebook) and torchcfm share the
convention t = 0 noise, t = 1 data, and the linear path x_t = (1 - t) x0 + t x1 with velocity u_t = x1 - x0
(torchcfm's ``sigma=0``). Printed:

- paths: ``ConditionalFlowMatcher(sigma=0).sample_location_and_conditional_flow(x0, x1, t)`` against our
  ``cond_path`` and ``cond_velocity`` on the same (x0, x1, t), in float64 and float32 (should be 0 up to rounding);
  and our mini-batch OT pairing (``ot_pair``, the Hungarian algorithm) against POT's exact plan (``ot.emd``) that
  torchcfm's ``ExactOptimalTransportConditionalFlowMatcher`` draws from: the same optimal cost, but torchcfm draws B
  pairs from the plan *with replacement*, so a batch repeats some pairs and drops others;
- training on the grader's quick recipe (8x8 digits dequantised on 17 levels, the notebook's ``VelocityNet``, Adam with
  lr 1e-3, batch 128, seed 0, gradient norm clipped at 1 as ``dgm.fit`` does, 6,000 steps = 500 epochs): the same
  network trained with our ``FlowMatching.loss`` and with a loss whose (t, x_t, u_t) come from torchcfm, with
  independent pairs and with OT pairs. Each run is one seed: our independent run and torchcfm's are the same algorithm
  on different random streams (torchcfm also draws the noise of its sigma, 0 here), so their gap shows the spread
  between seeds. Per run: final loss (mean of the last 200 steps), CPU milliseconds per step,
  straightness E int |(x(1) - x(0)) - v(x(t), t)|^2 dt along 20-step Euler trajectories, and the FID of 1,000 Heun
  samples at NFE 2, 4, 10 and 20 (course classifier features, against the test images; the FID of 1,000 training
  images is printed as the floor);
- likelihood: bits/dim of 200 dequantised test images under our independent-pairs flow, by our ``log_likelihood``
  (Heun with 10 and 20 steps, exact divergence) against the augmented ODE (x, div) solved from t = 1 to 0 by
  torchdiffeq's adaptive dopri5 (rtol = atol = 1e-5, the same exact divergence: the difference is integration error
  alone) and, on the first 50 of them (``--zuko-images``; each evaluation costs 64 backward passes), by zuko's
  ``FreeFormJacobianTransform(exact=True)`` (its own Dormand-Prince solver and batched Jacobian, same tolerances);
  bits/dim = -(log p + D log(2/16)) / (D ln 2), D = 64; the adaptive solvers' NFE.

Published anchors, on other data and much larger networks (not reproduced here): Flow Matching with the OT path reaches
2.99 bits/dim and FID 6.35 on CIFAR-10 with an adaptive solver at NFE 142 (Lipman et al., 2023, Table 1); OT-CFM
about 3.5 FID on CIFAR-10 (Tong et al., 2024; torchcfm's README); 1-rectified flow FID 2.58 with RK45 on CIFAR-10
(Liu et al., 2023); FFJORD 0.99 bits/dim on MNIST (Grathwohl et al., 2019).
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch
from reference import reference_namespace  # puts the repository on sys.path
from torch import nn

import dgm

N_LEVELS = 17
NFES = (2, 4, 10, 20)


class TorchCFMFlow(nn.Module):
    """The reference VelocityNet trained on (t, x_t, u_t) drawn by a torchcfm matcher (same data, noise and times)."""

    def __init__(self, ns, config, matcher):
        super().__init__()
        self.net, self.matcher, self.ns = ns.VelocityNet(config), matcher, ns

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.ns.dequantize(x, N_LEVELS)
        x0 = torch.randn_like(x1)
        t = torch.rand(len(x1), device=x1.device)
        t, x_t, u_t = self.matcher.sample_location_and_conditional_flow(x0, x1, t)
        return (self.net(x_t, t) - u_t).pow(2).mean()


@torch.no_grad()
def straightness(v, x0: torch.Tensor, n_steps: int = 20) -> float:
    """E int_0^1 |(x(1) - x(0)) - v(x(t), t)|^2 dt along Euler trajectories of n_steps (the notebook's measure)."""
    x, velocities = x0, []
    for k in range(n_steps):
        t = torch.full((len(x),), k / n_steps)
        velocities.append(v(x, t))
        x = x + velocities[-1] / n_steps
    return torch.stack([((x - x0) - u).flatten(1).pow(2).sum(1) for u in velocities]).mean().item()


def compare_paths(ns) -> None:
    from torchcfm.conditional_flow_matching import ConditionalFlowMatcher

    matcher = ConditionalFlowMatcher(sigma=0.0)
    print("paths: torchcfm ConditionalFlowMatcher(sigma=0) against cond_path / cond_velocity, 256 x (1, 8, 8): max |difference|")
    for dtype in (torch.float64, torch.float32):
        generator = torch.Generator().manual_seed(0)
        x0, x1 = (torch.randn(256, 1, 8, 8, generator=generator, dtype=dtype) for _ in range(2))
        t = torch.rand(256, generator=generator, dtype=dtype)
        t_out, x_t, u_t = matcher.sample_location_and_conditional_flow(x0, x1, t)
        print(f"  {str(dtype)[6:]}: x_t {(x_t - ns.cond_path(x0, x1, t)).abs().max().item():.2e}, "
              f"u_t {(u_t - ns.cond_velocity(x0, x1, t)).abs().max().item():.2e}, t returned unchanged: {torch.equal(t_out, t)}")
    try:
        import ot as pot
        from torchcfm.optimal_transport import OTPlanSampler
    except ImportError:
        print("  (POT is not installed: no OT plan comparison)")
        return
    generator = torch.Generator().manual_seed(1)
    torch.manual_seed(1)  # dequantize draws from the global generator, torchcfm's plan sampler from NumPy's
    np.random.seed(1)
    ours_cost, plan_cost, kept, rounds = 0.0, 0.0, 0.0, 20
    sampler = OTPlanSampler(method="exact")
    for _ in range(rounds):
        x1 = ns.dequantize(dgm.data.load_images("digits", "train").images[torch.randperm(1437, generator=generator)[:128]], N_LEVELS)
        x0 = torch.randn(x1.shape, generator=generator)
        ours_cost += (ns.ot_pair(x0, x1) - x1).flatten(1).pow(2).sum().item() / rounds
        cost = torch.cdist(x0.flatten(1).double(), x1.flatten(1).double()).pow(2).numpy()
        plan = pot.emd(pot.unif(128), pot.unif(128), cost)
        plan_cost += 128 * float((plan * cost).sum()) / rounds
        _, j = sampler.sample_map(sampler.get_map(x0, x1), 128)
        kept += len(set(j.tolist())) / 128 / rounds
    print(f"  OT pairing of 128 digits with 128 noise draws (mean of {rounds} batches): total squared distance ot_pair {ours_cost:.2f}, "
          f"POT's exact plan {plan_cost:.2f}; torchcfm's draw with replacement from the plan keeps {100 * kept:.0f}% of the batch's data")


def train_and_measure(ns, label: str, model: nn.Module, data: torch.Tensor, steps: int, noise: torch.Tensor, test_features: torch.Tensor) -> dict:
    epochs = max(1, round(steps / math.ceil(len(data) / 128)))
    started = time.process_time()
    history = dgm.fit(model, data, dgm.TrainConfig(epochs=epochs, batch_size=128, lr=1e-3, seed=0), progress=False)
    per_step = 1000 * (time.process_time() - started) / len(history.train)
    net = model.net.eval()
    row = {"loss": sum(history.train[-200:]) / len(history.train[-200:]), "ms": per_step, "steps": len(history.train),
           "straightness": straightness(net, noise)}
    for nfe in NFES:
        images = ((ns.heun(net, noise, nfe // 2) + 1) / 2).clamp(0, 1)
        row[nfe] = dgm.metrics.fid(test_features, dgm.features.features("digits", images)[0])
    print(f"  {label:<24}{row['loss']:>8.4f}{row['ms']:>9.2f}{row['straightness']:>10.2f}" + "".join(f"{row[nfe]:>8.2f}" for nfe in NFES), flush=True)
    return row


def bits_per_dim(log_p: torch.Tensor, dim: int) -> torch.Tensor:
    return -(log_p + dim * math.log(2 / (N_LEVELS - 1))) / (dim * math.log(2))


def compare_likelihood(ns, net: nn.Module, x1: torch.Tensor, zuko_images: int) -> None:
    from torchdiffeq import odeint

    net.requires_grad_(False)
    dim = x1[0].numel()
    log_normal = lambda x: -0.5 * (x.flatten(1).pow(2).sum(1) + dim * math.log(2 * math.pi))
    results = {}  # name: (log p of the first n images, CPU seconds)
    for n_steps in (10, 20):
        started = time.process_time()
        results[f"ours, Heun {n_steps} steps (NFE {2 * n_steps})"] = (ns.log_likelihood(net, x1, n_steps), time.process_time() - started)

    evaluations = [0]

    def augmented(t, state):
        evaluations[0] += 1
        return ns.velocity_and_divergence(net, state[0], t.expand(len(state[0])))

    started = time.process_time()
    x0, integral = odeint(augmented, (x1, torch.zeros(len(x1), dtype=x1.dtype)), torch.tensor([1.0, 0.0], dtype=x1.dtype),
                          method="dopri5", rtol=1e-5, atol=1e-5)
    reference = log_normal(x0[-1]) + integral[-1]  # integral[-1] = int_1^0 div v dt = -int_0^1 div v dt
    results[f"torchdiffeq dopri5 (NFE {evaluations[0]})"] = (reference, time.process_time() - started)

    if zuko_images > 0:
        from zuko.transforms import FreeFormJacobianTransform

        zuko_evaluations = [0]

        def field(t, x):
            zuko_evaluations[0] += 1
            return net(x.view(-1, *x1.shape[1:]), torch.as_tensor(t, dtype=x.dtype).expand(len(x))).flatten(1)

        started = time.process_time()
        transform = FreeFormJacobianTransform(field, t0=1.0, t1=0.0, atol=1e-5, rtol=1e-5, exact=True)
        z, ladj = transform.call_and_ladj(x1[:zuko_images].flatten(1))
        results[f"zuko FFJ exact (NFE {zuko_evaluations[0]})"] = (log_normal(z) + ladj, time.process_time() - started)

    reference_bits = bits_per_dim(reference, dim)
    print(f"likelihood of {len(x1)} dequantised test images under our independent-pairs flow (uniform over {N_LEVELS} levels: "
          f"{math.log2(N_LEVELS):.2f} bits/dim); NFE = evaluations of the velocity, each with its exact divergence:")
    print(f"  {'method':<34}{'images':>7}{'bits/dim':>10}{'dopri5':>9}{'max |diff| to dopri5':>22}{'CPU s':>8}")
    for name, (log_p, seconds) in results.items():
        bits, same = bits_per_dim(log_p, dim), reference_bits[: len(log_p)]
        print(f"  {name:<34}{len(bits):>7}{bits.mean().item():>10.4f}{same.mean().item():>9.4f}"
              f"{(bits - same).abs().max().item():>13.2e} bits/dim{seconds:>8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=6000, help="Adam steps per training run, rounded to whole epochs of 12 steps (default 6000)")
    parser.add_argument("--samples", type=int, default=1000, help="samples per FID (default 1000)")
    parser.add_argument("--images", type=int, default=200, help="test images in the likelihood comparison (default 200)")
    parser.add_argument("--zuko-images", type=int, default=50, help="of those, how many zuko integrates too (default 50; 0: none)")
    args = parser.parse_args()
    try:
        import torchcfm  # noqa: F401
        import torchdiffeq  # noqa: F401
    except ImportError:
        raise SystemExit('this benchmark needs torchcfm and torchdiffeq: pip install "torchcfm>=1.0" torchdiffeq') from None
    try:
        import zuko  # noqa: F401
    except ImportError:
        args.zuko_images = 0
        print('(zuko is not installed: no FreeFormJacobianTransform comparison; pip install "zuko>=1.1")')
    try:
        from torchcfm.conditional_flow_matching import ExactOptimalTransportConditionalFlowMatcher
        ExactOptimalTransportConditionalFlowMatcher(sigma=0.0)
        use_pot = True
    except ImportError:
        use_pot = False
    from torchcfm.conditional_flow_matching import ConditionalFlowMatcher

    torch.set_num_threads(1)
    started = time.perf_counter()
    ns = reference_namespace("hw6")
    compare_paths(ns)

    train, test = dgm.data.load_images("digits", "train"), dgm.data.load_images("digits", "test")
    config = ns.VelocityConfig(data_shape=(1, 8, 8))
    test_features = dgm.features.features("digits", test.images)[0]
    noise = torch.randn(args.samples, *config.data_shape, generator=torch.Generator().manual_seed(0))
    floor = dgm.metrics.fid(test_features, dgm.features.features("digits", train.images[: args.samples])[0])
    steps_per_epoch = math.ceil(len(train) / 128)
    print(f"training on digits ({len(train)} images, 17 levels, dequantised): {max(1, round(args.steps / steps_per_epoch)) * steps_per_epoch} "
          f"Adam steps, batch 128, lr 1e-3, seed 0; FID of {args.samples} Heun samples against the {len(test)} test images "
          f"(1,000 training images: {floor:.2f})")
    print(f"  {'run':<24}{'loss':>8}{'ms/step':>9}{'straight':>10}" + "".join(f"{'NFE ' + str(nfe):>8}" for nfe in NFES))
    runs = [("ours, independent", ns.FlowMatching(config, n_levels=N_LEVELS)),
            ("torchcfm CFM", TorchCFMFlow(ns, config, ConditionalFlowMatcher(sigma=0.0))),
            ("ours, OT pairs", ns.FlowMatching(config, coupling="ot", n_levels=N_LEVELS))]
    if use_pot:
        runs.append(("torchcfm OT-CFM", TorchCFMFlow(ns, config, ExactOptimalTransportConditionalFlowMatcher(sigma=0.0))))
    else:
        print("  (POT is not installed: no ExactOptimalTransportConditionalFlowMatcher run)")
    warm_up = ns.FlowMatching(config, n_levels=N_LEVELS)  # the first steps of a process run slower: not timed
    dgm.fit(warm_up, train.images[:256], dgm.TrainConfig(epochs=5, batch_size=128), progress=False)
    nets = {}
    for label, model in runs:
        train_and_measure(ns, label, model, train.images, args.steps, noise, test_features)
        nets[label] = model.net

    torch.manual_seed(0)
    x1 = ns.dequantize(test.images[: args.images], N_LEVELS).double()
    compare_likelihood(ns, nets["ours, independent"], x1, args.zuko_images)

    print("published anchors (other data, much larger networks; not reproduced here):")
    print("  Flow Matching, OT path, CIFAR-10: 2.99 bits/dim, FID 6.35, NFE 142 (Lipman et al., 2023, Table 1)")
    print("  OT-CFM, CIFAR-10: FID about 3.5 (Tong et al., 2024; torchcfm README)")
    print("  1-rectified flow, CIFAR-10: FID 2.58 with RK45 (Liu et al., 2023)")
    print("  FFJORD, MNIST: 0.99 bits/dim (Grathwohl et al., 2019)")
    print(f"total {time.perf_counter() - started:.0f} s wall")


if __name__ == "__main__":
    main()
