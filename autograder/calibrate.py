"""Calibrating thresholds from seeded runs of the reference solution.

A homework's ``test_checks.py`` declares ``CALIBRATIONS = {name: ...}``, each one of

- :class:`Calibration`: one number computed by the grader (e.g. test NLL) and which direction is
  better; the threshold is the worst seed's value moved by ``margin`` (relative);
- :class:`QualityCalibration`: the sample-quality metrics of :mod:`autograder.quality` on samples
  of the reference; each gated metric's threshold sits between the reference (worst seed plus
  margin) and the bad samplers, which must all fail, and the real test set against the training
  set is measured for comparison.

``python -m autograder calibrate`` runs them on the reference solution for several seeds and
stores, per profile, in ``thresholds.json``: the threshold(s), ``reference`` (the value at the
grader's seed), ``values`` at every seed, ``margin`` and ``provenance`` (command, seeds, commit,
date, versions, device); a quality record also keeps ``real`` and ``bad``.
"""

from __future__ import annotations

import datetime
import importlib.util
import json
import platform
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

import torch

from . import quality
from .harness import GRADER_SEED, Submission
from .homework import REPO_ROOT, Homework
from .notebook import build_program, read_notebook


@dataclass(frozen=True)
class Calibration:
    """How one threshold is calibrated.

    Attributes:
        measure: ``measure(submission, seed) -> float``, computed by the grader.
        better: ``"lower"`` or ``"higher"``.
        margin: relative slack added to the worst reference seed, e.g. 0.05 for 5 %.
        min_slack: absolute slack at least (for values near zero, such as a log-likelihood).
    """

    measure: Callable[[Submission, int], float]
    better: str
    margin: float
    min_slack: float = 0.0

    def calibrate(self, submission: Submission, seeds: list[int]) -> dict:
        values = {seed: self.measure(submission, seed) for seed in seeds}
        print(f"  values by seed: {_rounded(values)}")
        return {
            "threshold": round(threshold_from(list(values.values()), self.better, self.margin, self.min_slack), 4),
            "reference": round(values[GRADER_SEED], 4),
            "better": self.better,
            "margin": self.margin,
            "min_slack": self.min_slack,
            "values": {str(seed): round(value, 4) for seed, value in values.items()},
        }


@dataclass(frozen=True)
class QualityCalibration:
    """How sample-quality thresholds are calibrated.

    Attributes:
        samples: ``samples(submission, seed) -> (N, C, H, W)``, samples of the trained reference.
        data: ``data(profile) -> GraderData``, the grader's images for that profile.
        margin: relative slack on the worst reference seed (absolute for shares near 0).
    """

    samples: Callable[[Submission, int], torch.Tensor]
    data: Callable[[str], quality.GraderData]
    margin: float

    def calibrate(self, submission: Submission, seeds: list[int]) -> dict:
        data = self.data(submission.profile)
        samples = {seed: self.samples(submission, seed) for seed in seeds}
        values = {seed: quality.measure(data, images) for seed, images in samples.items()}
        n = len(samples[GRADER_SEED])
        real = quality.measure(data, data.test, real=data.train)
        bad = {name: quality.measure(data, quality.bad_samples(name, data, n)) for name in quality.BAD_SAMPLERS}
        thresholds = quality.thresholds_between(list(values.values()), bad, self.margin)
        _print_quality_table(values, real, bad, thresholds)
        return {
            "thresholds": _rounded(thresholds),
            "reference": _rounded(values[GRADER_SEED]),
            "margin": self.margin,
            "values": {str(seed): _rounded(v) for seed, v in values.items()},
            "real": _rounded(real),
            "bad": {name: _rounded(v) for name, v in bad.items()},
            "samples": n,
        }


def _rounded(values: dict) -> dict:
    return {key: round(value, 4) for key, value in values.items()}


def _print_quality_table(values: dict, real: dict, bad: dict, thresholds: dict) -> None:
    rows = {**{f"reference, seed {seed}": v for seed, v in values.items()}, "real test vs train": real, **bad}
    names = list(real)
    print("  " + f"{'':<22}" + "".join(f"{n[:13]:>14}" for n in names))
    for label, row in rows.items():
        print("  " + f"{label:<22}" + "".join(f"{row[n]:>14.3f}" for n in names))
    print("  " + f"{'threshold':<22}" + "".join(f"{thresholds[n]:>14.3f}" if n in thresholds else f"{'-':>14}" for n in names))


def load_checks(homework: Homework):
    """Import a homework's ``test_checks.py`` as a module (the grader's process only)."""
    spec = importlib.util.spec_from_file_location(f"{homework.key}_checks", homework.checks)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def reference_submission(homework: Homework, profile: str) -> Submission:
    """The instructor's solution, graded as if a student had submitted it."""
    source = read_notebook(homework.source_notebook)
    return Submission(build_program(source, read_notebook(homework.release_notebook), source), homework, profile)


def threshold_from(values: list[float], better: str, margin: float, min_slack: float = 0.0) -> float:
    """The worst value moved by ``margin`` (relative, at least ``min_slack``) in the worse direction."""
    worst = max(values) if better == "lower" else min(values)
    slack = max(abs(worst) * margin, min_slack)
    return worst + slack if better == "lower" else worst - slack


def calibrate(homework: Homework, profile: str, seeds: list[int], names: list[str] | None = None) -> dict:
    """Measure every calibration of ``homework`` on the reference and update ``thresholds.json``."""
    calibrations = load_checks(homework).CALIBRATIONS
    submission = reference_submission(homework, profile)
    thresholds = homework.thresholds()
    seeds = sorted(set(seeds) | {GRADER_SEED})
    for name, calibration in calibrations.items():
        if names and name not in names:
            continue
        print(f"{homework.key} {name} [{profile}]")
        record = calibration.calibrate(submission, seeds)
        thresholds.setdefault(name, {})[profile] = {**record, "provenance": _provenance(homework, profile, seeds)}
        print(f"  threshold: {record.get('threshold', record.get('thresholds'))}")
        homework.thresholds_file.write_text(json.dumps(thresholds, indent=2) + "\n")
    return thresholds


def _provenance(homework: Homework, profile: str, seeds: list[int]) -> dict:
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True).stdout.strip()
    dirty = bool(subprocess.run(["git", "status", "--porcelain"], cwd=REPO_ROOT, capture_output=True, text=True).stdout.strip())
    return {
        "command": f"python -m autograder calibrate {homework.key} --profile {profile} --seeds {' '.join(map(str, seeds))}",
        "seeds": seeds,
        "commit": commit + ("+uncommitted changes" if dirty else ""),
        "date": datetime.date.today().isoformat(),
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "machine": f"{platform.machine()}, {'CUDA ' + torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'CPU'}",
    }
