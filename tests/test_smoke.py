"""The full profile's CPU smoke run: the full recipe on a few hundred MNIST images for one epoch.

The full profile runs on GPU runners, which this project rarely has. The smoke run takes the same code
path (the same probes, checks and 28x28 data) on a CPU, so the full profile cannot silently break
between GPU runs: the reference must pass every check and the blank none, and nothing it measures may
be written as a threshold.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest
from helpers import run_grader

from autograder.calibrate import load_checks
from autograder.harness import SMOKE_IMAGES, SMOKE_SAMPLES, smoke_recipe
from autograder.homework import all_homeworks, find_homework

SHARED = Path(os.environ["DGM_DATA"]) if os.environ.get("DGM_DATA") else None
needs_mnist = pytest.mark.skipif(not (SHARED and (SHARED / "mnist").is_dir()), reason="MNIST archives not available (set DGM_DATA)")
HOMEWORKS = [homework.key for homework in all_homeworks() if hasattr(load_checks(homework), "RECIPES")]
"""The homeworks whose grader trains with a recipe per profile."""


def _leaves(part: dict, key: str) -> list:
    """Every value stored under ``key`` anywhere in a nested dict."""
    found = [part[key]] if key in part else []
    return found + [v for value in part.values() if isinstance(value, dict) for v in _leaves(value, key)]


@pytest.mark.parametrize("key", HOMEWORKS)
def test_smoke_recipe_shrinks_the_full_recipe_and_leaves_it_unchanged(key):
    recipes = load_checks(find_homework(key)).RECIPES
    full = copy.deepcopy(recipes["full"])
    smoke = smoke_recipe(recipes["full"])
    assert recipes["full"] == full, "smoke_recipe changed the full recipe it was given"
    assert smoke["dataset"] == f"{full['dataset']}[:{SMOKE_IMAGES}]"
    assert set(_leaves(smoke, "epochs")) <= {1}, "every epochs of the smoke recipe is 1"
    assert all(n <= SMOKE_SAMPLES for n in _leaves(smoke, "n_samples"))
    assert "smoke" not in json.dumps(smoke), "the smoke overrides must be applied, not passed on"
    for name, value in full.get("smoke", {}).items():
        expected = {**full[name], **value} if isinstance(value, dict) else value
        assert smoke[name] == expected, f"the homework's smoke override of {name!r} was not applied"


def test_smoke_recipe_merges_nested_overrides():
    recipe = {"dataset": "mnist", "train": {"epochs": 20, "lr": 1e-3}, "n_samples": 5000, "held_out": 5000,
              "smoke": {"held_out": 60, "train": {"batch_size": 32}}}
    assert smoke_recipe(recipe) == {"dataset": f"mnist[:{SMOKE_IMAGES}]", "train": {"epochs": 1, "lr": 1e-3, "batch_size": 32},
                                    "n_samples": SMOKE_SAMPLES, "held_out": 60}


def test_smoke_needs_the_full_profile(tmp_path):
    done = run_grader("grade", "hw1", str(tmp_path), "--out", str(tmp_path / "out"), "--smoke")
    assert done.returncode == 2 and "--smoke shrinks the full profile's recipe" in done.stderr


SAME_IN_EVERY_PROFILE_SKIPPED = {"hw4": "losses,nonsaturating,gradient_penalty,train_step,sample_quality", "hw5": "guidance_sweep,sample_quality",
                                  "hw6": "ot_straightness,sample_quality,trained_likelihood"}
"""The checks a smoke test runs where some checks are the same in every profile (hw4's 1D critic and eight Gaussians,
hw5's and hw6's exact checks and hw6's 2D flow: tests/test_references.py grades them, and tests/test_calibrate.py shows such thresholds judged
in a smoke run)."""


@pytest.mark.slow
@needs_mnist
@pytest.mark.parametrize("key", HOMEWORKS)
def test_smoke_run_of_the_full_profile(tmp_path, key):
    """The reference passes every check of the shrunk full recipe and the blank none; values are shown
    beside no threshold (unless it holds in every profile), the feedback says it is a smoke run, and thresholds.json is untouched."""
    homework = find_homework(key)
    thresholds = homework.thresholds_file.read_bytes()
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    (submissions / "reference.ipynb").write_bytes(homework.source_notebook.read_bytes())
    (submissions / "blank.ipynb").write_bytes(homework.release_notebook.read_bytes())
    checks = ["--checks", SAME_IN_EVERY_PROFILE_SKIPPED[key]] if key in SAME_IN_EVERY_PROFILE_SKIPPED else []
    done = run_grader("grade", key, str(submissions), "--profile", "full", "--smoke", "--out", str(tmp_path / "out"), "--no-gradebook", *checks)
    assert done.returncode == 0, done.stderr[-2000:]
    reference = json.loads((tmp_path / "out" / "reference" / "result.json").read_text())
    blank = json.loads((tmp_path / "out" / "blank" / "result.json").read_text())
    failed = {c["id"]: f"{c['status']}: {c['message']}" for c in reference["checks"] if c["status"] != "pass"}
    assert not failed, f"the reference fails the smoke run of the full profile: {failed}"
    assert reference["profile"] == "smoke" and reference["points"] == reference["max_points"]
    assert blank["points"] == 0
    judged = {label: m for label, m in reference["metrics"].items() if m["threshold"] is not None}
    assert reference["metrics"] and all(m["every_profile"] for m in judged.values()), (
        f"a smoke run judges only thresholds and bounds that hold in every profile: {judged}")
    assert "A smoke run" in (tmp_path / "out" / "reference" / "feedback.html").read_text()
    assert homework.thresholds_file.read_bytes() == thresholds, "a smoke run wrote thresholds"


@pytest.mark.slow
@needs_mnist
def test_smoke_calibration_prints_its_table_and_writes_nothing():
    homework = find_homework("hw3")
    thresholds = homework.thresholds_file.read_bytes()
    done = run_grader("calibrate", "hw3", "--profile", "full", "--smoke", "--only", "perplexity", "--seeds", "0")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "hw3 perplexity [smoke]" in done.stdout and "correct: reference" in done.stdout, done.stdout
    assert homework.thresholds_file.read_bytes() == thresholds, "a smoke calibration wrote thresholds"
