"""Calibrating thresholds from seeded runs of correct solutions and known bugs.

A homework's ``test_checks.py`` declares ``CALIBRATIONS = {name: ...}``, each one of

- :class:`Calibration`: one number computed by the grader (e.g. test NLL) and which direction is
  better. The threshold is the worst value over every *correct* solution (the reference and the
  alternatives of ``grading/variants.py``, every seed) moved by ``margin``, or halfway to the best
  *known bug* of that calibration where that is stricter: it sits between them, and calibration refuses when no
  threshold separates them, or when the bug is so close that halfway to it leaves correct solutions
  less than half the margin (such a bug needs a structural check, not a tighter threshold). A value beyond the best correct one by ``implausible`` of its
  magnitude (e.g. an NLL below half of it) is stored as the implausibility bound;
- :class:`QualityCalibration`: the sample-quality metrics of :mod:`autograder.quality` on samples
  of every correct solution; each gated metric's threshold sits between the worst of them (plus
  margin) and the bad samplers, which must all fail; the real test set against the training set
  is measured for comparison.

``grading/variants.py`` (instructors only, never released) holds ``ALTERNATIVES`` (correct
solutions written differently: name -> {answer cell id -> cell source}) and ``BUGS`` (known bugs:
name -> {answer cell id -> (old, new) text replacement in the reference}).

``python -m autograder calibrate`` runs them for several seeds, prints every value in a table and
stores, per profile, in ``thresholds.json``: the threshold(s), ``reference`` (the reference at the
grader's seed), ``values`` (the reference at every seed), ``correct`` (every correct solution at
every seed), ``bugs``, ``best``, ``implausible``, ``margin`` and ``provenance`` (command, seeds,
commit, date, versions, device); a quality record also keeps ``real`` and ``bad``.
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
from types import ModuleType

import torch

from . import quality
from .harness import GRADER_SEED, Submission
from .homework import EVERY_PROFILE, REPO_ROOT, SMOKE, Homework
from .notebook import CellEdit, build_program, edit_cells, read_notebook

REFERENCE = "reference"


@dataclass(frozen=True)
class Solutions:
    """The submissions a calibration measures: correct ones (the reference first) and known bugs."""

    correct: dict[str, Submission]
    bugs: dict[str, Submission]


@dataclass(frozen=True)
class Calibration:
    """How one threshold is calibrated.

    Attributes:
        measure: ``measure(submission, seed) -> float``, computed by the grader.
        better: ``"lower"`` or ``"higher"``.
        margin: relative slack added to the worst correct value, e.g. 0.05 for 5 %.
        min_slack: absolute slack at least (for values near zero).
        bugs: names in ``BUGS`` of known bugs this threshold must reject (measured at the grader's seed).
        implausible: a value better than the best correct one by this share of its magnitude fails
            as implausible (``None``: no such bound).
        every_profile: the measure's recipe is the same small CPU recipe in every profile: the threshold
            is calibrated with ``--profile quick`` only, stored under ``"every"`` and judged in every profile.
    """

    measure: Callable[[Submission, int], float]
    better: str
    margin: float
    min_slack: float = 0.0
    bugs: tuple[str, ...] = ()
    implausible: float | None = 0.5
    every_profile: bool = False

    def calibrate(self, solutions: Solutions, seeds: list[int]) -> dict:
        correct = {name: {seed: self.measure(submission, seed) for seed in seeds} for name, submission in solutions.correct.items()}
        bugs = {name: self.measure(solutions.bugs[name], GRADER_SEED) for name in self.bugs}
        lower = self.better == "lower"
        values = [value for by_seed in correct.values() for value in by_seed.values()]
        worst, best = (max(values), min(values)) if lower else (min(values), max(values))
        threshold = threshold_from(values, self.better, self.margin, self.min_slack)
        problem = None
        if bugs:
            best_bug = min(bugs.values()) if lower else max(bugs.values())
            between = (worst + best_bug) / 2
            if (best_bug <= worst) if lower else (best_bug >= worst):
                problem = f"no threshold separates the correct solutions (worst {worst:.4f}) from the known bugs {bugs}"
            elif abs(between - worst) < abs(threshold - worst) / 2:
                problem = (f"the known bugs {bugs} come within half the margin of the correct solutions (worst {worst:.4f}): a threshold "
                           f"between them would fail correct work that is a little unlucky; catch them with a structural check")
            else:
                threshold = min(threshold, between) if lower else max(threshold, between)
        _print_table(correct, bugs, threshold)
        if problem:
            raise ValueError(problem)
        record = {
            "threshold": round(threshold, 4),
            "reference": round(correct[REFERENCE][GRADER_SEED], 4),
            "better": self.better,
            "margin": self.margin,
            "min_slack": self.min_slack,
            "values": {str(seed): round(value, 4) for seed, value in correct[REFERENCE].items()},
            "correct": {name: {str(seed): round(v, 4) for seed, v in by_seed.items()} for name, by_seed in correct.items()},
            "bugs": {name: round(value, 4) for name, value in bugs.items()},
            "best": round(best, 4),
        }
        if self.implausible is not None:
            record["implausible"] = round(best - abs(best) * self.implausible if lower else best + abs(best) * self.implausible, 4)
        return record


@dataclass(frozen=True)
class QualityCalibration:
    """How sample-quality thresholds are calibrated.

    Attributes:
        samples: ``samples(submission, seed) -> (N, C, H, W)``, samples of a trained solution.
        data: ``data(submission) -> GraderData``, the grader's images for the submission's profile.
        margin: relative slack on the worst correct value (absolute for shares near 0).
    """

    samples: Callable[[Submission, int], torch.Tensor]
    data: Callable[[Submission], quality.GraderData]
    margin: float

    def calibrate(self, solutions: Solutions, seeds: list[int]) -> dict:
        reference = solutions.correct[REFERENCE]
        data = self.data(reference)
        values = {
            f"{name}, seed {seed}": quality.measure(data, self.samples(submission, seed))
            for name, submission in solutions.correct.items() for seed in seeds
        }
        n = len(self.samples(reference, GRADER_SEED))
        real = quality.measure(data, data.test, real=data.train)
        bad = {name: quality.measure(data, quality.bad_samples(name, data, n)) for name in quality.BAD_SAMPLERS}
        thresholds = quality.thresholds_between(list(values.values()), bad, self.margin)
        _print_quality_table(values, real, bad, thresholds)
        return {
            "thresholds": _rounded(thresholds),
            "reference": _rounded(values[f"{REFERENCE}, seed {GRADER_SEED}"]),
            "margin": self.margin,
            "values": {label: _rounded(v) for label, v in values.items()},
            "real": _rounded(real),
            "bad": {name: _rounded(v) for name, v in bad.items()},
            "samples": n,
        }


def _rounded(values: dict) -> dict:
    return {key: round(value, 4) for key, value in values.items()}


def _print_table(correct: dict[str, dict[int, float]], bugs: dict[str, float], threshold: float) -> None:
    seeds = list(next(iter(correct.values())))
    print("  " + f"{'':<34}" + "".join(f"{f'seed {seed}':>12}" for seed in seeds))
    for name, by_seed in correct.items():
        print("  " + f"{'correct: ' + name:<34}" + "".join(f"{by_seed[seed]:>12.4f}" for seed in seeds))
    for name, value in bugs.items():
        print("  " + f"{'bug: ' + name:<34}" + f"{value:>12.4f}")
    print("  " + f"{'threshold':<34}" + f"{threshold:>12.4f}")


def _print_quality_table(values: dict, real: dict, bad: dict, thresholds: dict) -> None:
    rows = {**values, "real test vs train": real, **bad}
    names = list(real)
    print("  " + f"{'':<34}" + "".join(f"{n[:13]:>14}" for n in names))
    for label, row in rows.items():
        print("  " + f"{label:<34}" + "".join(f"{row[n]:>14.3f}" for n in names))
    print("  " + f"{'threshold':<34}" + "".join(f"{thresholds[n]:>14.3f}" if n in thresholds else f"{'-':>14}" for n in names))


def load_grading_module(homework: Homework, name: str) -> ModuleType | None:
    """Import ``grading/NAME.py`` of a homework as a module (the grader's process only); ``None`` if absent."""
    path = homework.grading_dir / f"{name}.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location(f"{homework.key}_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_checks(homework: Homework) -> ModuleType:
    """Import a homework's ``test_checks.py`` as a module (the grader's process only)."""
    return load_grading_module(homework, "test_checks")


def variant_submission(homework: Homework, profile: str, edits: dict[str, CellEdit] | None = None) -> Submission:
    """The instructor's solution with ``edits`` in its answer cells, graded as if a student had submitted it."""
    source = read_notebook(homework.source_notebook)
    return Submission(build_program(source, read_notebook(homework.release_notebook), edit_cells(source, edits or {})), homework, profile)


def solutions(homework: Homework, profile: str) -> Solutions:
    """The reference, the correct alternatives and the known bugs of ``grading/variants.py``."""
    variants = load_grading_module(homework, "variants")
    alternatives = getattr(variants, "ALTERNATIVES", {})
    bugs = getattr(variants, "BUGS", {})
    return Solutions(
        correct={REFERENCE: variant_submission(homework, profile),
                 **{name: variant_submission(homework, profile, edits) for name, edits in alternatives.items()}},
        bugs={name: variant_submission(homework, profile, edits) for name, edits in bugs.items()},
    )


def threshold_from(values: list[float], better: str, margin: float, min_slack: float = 0.0) -> float:
    """The worst value moved by ``margin`` (relative, at least ``min_slack``) in the worse direction."""
    worst = max(values) if better == "lower" else min(values)
    slack = max(abs(worst) * margin, min_slack)
    return worst + slack if better == "lower" else worst - slack


def calibrate(homework: Homework, profile: str, seeds: list[int], names: list[str] | None = None) -> dict:
    """Measure every calibration of ``homework`` on its correct solutions and known bugs; update ``thresholds.json``.

    A smoke run (profile ``"smoke"``) measures and prints the same tables on the shrunk full recipe, reports
    instead of raising when nothing separates the correct solutions from the bugs (one epoch rarely does),
    and writes nothing: smoke thresholds are never stored."""
    calibrations = load_checks(homework).CALIBRATIONS
    measured = solutions(homework, profile)
    thresholds = homework.thresholds()
    seeds = sorted(set(seeds) | {GRADER_SEED})
    for name, calibration in calibrations.items():
        if names and name not in names:
            continue
        print(f"{homework.key} {name} [{profile}]")
        stored = profile
        if getattr(calibration, "every_profile", False):
            if profile != "quick":
                print("  the same recipe in every profile: calibrated with --profile quick only")
                continue
            stored = EVERY_PROFILE
        if profile == SMOKE:
            try:
                calibration.calibrate(measured, seeds)
            except ValueError as problem:
                print(f"  (smoke run, not a finding: {problem})")
            continue
        record = calibration.calibrate(measured, seeds)
        thresholds.setdefault(name, {})[stored] = {**record, "provenance": _provenance(homework, profile, seeds)}
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
