"""Benchmark: time to score N samples with the grader's sample-quality metrics (prints figures).

    python benchmarks/sample_quality.py                  # 1,000 samples on digits (and MNIST if available)
    python benchmarks/sample_quality.py --samples 5000

Samples are training images with 10 % of pixels flipped, so every metric has real work to do.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autograder import quality  # noqa: E402
from dgm.data import DatasetNotAvailable  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f"{'dataset':<14}{'samples':>8}{'median s':>10}{'min s':>8}   metrics")
    for dataset in ("digits", "mnist", "fashion_mnist"):
        try:
            data = quality.GraderData.load(dataset, binarised=True)
        except DatasetNotAvailable:
            print(f"{dataset:<14}  (data not available)")
            continue
        base = data.train[torch.randint(len(data.train), (args.samples,))]
        samples = torch.where(torch.rand_like(base) < 0.1, 1 - base, base)
        quality.measure(data, samples[:10])  # load the extractor and warm up
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            values = quality.measure(data, samples)
            times.append(time.perf_counter() - start)
        times.sort()
        summary = ", ".join(f"{k} {v:.3g}" for k, v in values.items())
        print(f"{dataset:<14}{args.samples:>8}{times[len(times) // 2]:>10.2f}{times[0]:>8.2f}   {summary}")
    print(f"CPU threads: {torch.get_num_threads()}")


if __name__ == "__main__":
    main()
