"""Benchmark: the hw4 reference WGAN-GP against the same networks trained as a non-saturating GAN (prints figures).

    pip install torchmetrics            # benchmark-only dependency (the FID cross-check)
    python benchmarks/hw4_wgan.py                     # 8x8 digits on the grader's quick recipe
    python benchmarks/hw4_wgan.py --profile full      # MNIST on the full recipe (a GPU run)

Both games train the course's networks (the notebook's ``Generator`` and ``Critic``, executed from the
instructor's source notebook) with the grader's recipe: the same data, seed, Adam settings, batches and
number of critic (discriminator) and generator steps; only the losses differ: WGAN-GP (the reference
``train_step``) or the non-saturating GAN of part 3 (the reference ``nonsaturating_losses``, the critic's
output read as a logit), with as many discriminator steps per generator step or with one (DCGAN's ratio). Printed per game: the course's sample-quality metrics of 1,000 samples
(FID, precision and recall in the course classifier's features, near-copies, classes covered) and
milliseconds of CPU time per generator step. FID is computed twice, by ``dgm.metrics.fid`` and by
torchmetrics' ``FrechetInceptionDistance`` on the same features, as a cross-check.

No GAN package from PyPI installs cleanly beside torch 2.13 here (torchgan 0.1.0 imports torchvision),
so the peer is the other game, not another library. Published anchors, on other data and networks:
WGAN-GP reaches an inception score of 7.86 on CIFAR-10 (Gulrajani et al., 2017), FID 36.4 (as reported
by Song and Ermon, 2019).
"""

from __future__ import annotations

import argparse
import importlib.util
import time
import types

import torch
from reference import reference_namespace  # puts the repository on sys.path
from torch import nn

from autograder import quality
from autograder.calibrate import load_checks
from autograder.homework import find_homework


def nonsaturating_step(ns, discriminator_steps: int | None = None):
    """A train_step for the non-saturating GAN with the reference's losses: a discriminator step on each real batch
    (or on the first ``discriminator_steps``), then one generator step."""

    def train_step(generator, critic, generator_optimizer, critic_optimizer, real_batches, config):
        for real in real_batches[:discriminator_steps]:
            with torch.no_grad():
                fake = generator.sample(len(real))
            discriminator_loss, _ = ns.nonsaturating_losses(critic, real, fake)
            critic_optimizer.zero_grad()
            discriminator_loss.backward()
            critic_optimizer.step()
        _, generator_loss = ns.nonsaturating_losses(critic, real_batches[-1], generator.sample(len(real_batches[-1])))  # -E log D(G(z))
        generator_optimizer.zero_grad()
        generator_loss.backward()
        generator_optimizer.step()
        return {"generator_loss": generator_loss.item()}

    return train_step


class CourseFeatures(nn.Module):
    """The course classifier's features of ``dataset``, as torchmetrics expects a feature extractor."""

    def __init__(self, dataset: str, example: torch.Tensor):
        super().__init__()
        self.dataset = dataset
        self.num_features = self(example).shape[1]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return quality.features(self.dataset, images)[0]


def torchmetrics_fid(dataset: str, real: torch.Tensor, samples: torch.Tensor) -> float:
    from torchmetrics.image.fid import FrechetInceptionDistance

    metric = FrechetInceptionDistance(feature=CourseFeatures(dataset, real[:2]))
    metric.update(real, real=True)
    metric.update(samples, real=False)
    return metric.compute().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=("quick", "full"), default="quick", help="the grader's recipe to train with")
    parser.add_argument("--steps", type=int, help="generator steps (default: the recipe's)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    homework = find_homework("hw4")
    recipe = dict(load_checks(homework).RECIPES[args.profile])
    if args.steps:
        recipe["steps"] = args.steps
    spec = importlib.util.spec_from_file_location("hw4_probes", homework.probes)
    probes = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probes)
    ns = reference_namespace("hw4")
    data = quality.GraderData.load(recipe["dataset"], binarised=False)
    dataset = data.dataset
    games = {"WGAN-GP (reference)": ns.train_step, "NS-GAN, 5 D steps": nonsaturating_step(ns), "NS-GAN, 1 D step": nonsaturating_step(ns, 1)}
    print(f"{recipe['dataset']}: {recipe['steps']} generator steps, {recipe['game']['n_critic']} critic steps each, batch "
          f"{recipe['batch_size']}, Adam {recipe['lr']} (0.5, 0.9), lambda {recipe['game']['lam']}, seed 0, one CPU thread; "
          f"{recipe['n_samples']} samples against the test set")
    header = ("FID", "FID (torchmetrics)", "precision", "recall", "near-copies", "classes", "ms/G step")
    print(f"{'game':<22}" + "".join(f"{h:>20}" for h in header))
    for name, train_step in games.items():
        started = time.process_time()
        found = probes.train_wgan(with_train_step(ns, train_step), recipe["dataset"], recipe["config"], recipe["game"],
                                  recipe["steps"], recipe["batch_size"], recipe["lr"], train_seed=0)
        per_step = 1000 * (time.process_time() - started) / recipe["steps"]
        config = ns.GANConfig(**{**recipe["config"], "data_shape": tuple(recipe["config"]["data_shape"])})
        generator = ns.Generator(config)
        generator.load_state_dict(found["generator"])
        with torch.no_grad():
            samples = ((generator(torch.randn(recipe["n_samples"], config.z_dim, generator=torch.Generator().manual_seed(1))) + 1) / 2).clamp(0, 1)
        values = quality.measure(data, samples)
        row = (values["fid"], torchmetrics_fid(dataset, data.test, samples), values["precision"], values["recall"],
               values["memorisation_pixels"], values["classes"], per_step)
        print(f"{name:<22}" + "".join(f"{v:>20.3f}" for v in row))


def with_train_step(ns, train_step):
    """``ns`` with ``train_step`` replaced (the probes look the function up by name)."""
    return types.SimpleNamespace(**{**vars(ns), "train_step": train_step})


if __name__ == "__main__":
    main()
