"""Calibrating thresholds from seeded runs of the reference solution.

A homework's ``test_checks.py`` declares ``CALIBRATIONS = {name: Calibration(...)}``: a measure
(a function of the grading :class:`~autograder.harness.Submission` and a seed that returns one
number, computed by the grader) and which direction is better. ``python -m autograder calibrate``
runs the measure on the reference solution for several seeds and stores, per profile, in
``thresholds.json``:

- ``reference``: the value at the grader's seed (what a student's run is compared with),
- ``values``: the value at every seed,
- ``threshold``: the worst seed's value moved by ``margin`` (relative) in the worse direction,
- ``provenance``: command, seeds, commit, date, versions and device.
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
    """

    measure: Callable[[Submission, int], float]
    better: str
    margin: float


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


def threshold_from(values: list[float], better: str, margin: float) -> float:
    """The worst value moved by ``margin`` (relative) in the worse direction."""
    worst = max(values) if better == "lower" else min(values)
    slack = abs(worst) * margin
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
        values = {seed: calibration.measure(submission, seed) for seed in seeds}
        thresholds.setdefault(name, {})[profile] = {
            "threshold": round(threshold_from(list(values.values()), calibration.better, calibration.margin), 4),
            "reference": round(values[GRADER_SEED], 4),
            "better": calibration.better,
            "margin": calibration.margin,
            "values": {str(seed): round(value, 4) for seed, value in values.items()},
            "provenance": _provenance(homework, profile, seeds),
        }
        print(f"{homework.key} {name} [{profile}]: values {thresholds[name][profile]['values']} -> threshold {thresholds[name][profile]['threshold']}")
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
