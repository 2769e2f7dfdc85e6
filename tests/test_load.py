"""The same submission gets the same grade on a busy machine: limits are CPU time, not wall-clock time."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from helpers import HW1, derive_submission, run_grader

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group(name="load")]

CHECKS = "masked_conv"
CPU_SECONDS = "10"
"""The probe's CPU-time limit: about twice what it uses (about 5 s), so that with two busy processes per
core (a third of a core each) its wall-clock time runs past it."""
BUSY_PER_CORE = 2


def _grade(tmp_path, name):
    done = run_grader("grade", "hw1", str(tmp_path / "in"), "--out", str(tmp_path / name), "--checks", CHECKS, "--timeout", CPU_SECONDS,
                      "--jobs", "1", "--quiet", "--no-gradebook")
    assert done.returncode == 0, done.stderr
    return json.loads((tmp_path / name / "reference" / "result.json").read_text())


def test_grade_is_the_same_on_a_machine_loaded_with_busy_processes(tmp_path):
    derive_submission(HW1.source_notebook, tmp_path / "in" / "reference.ipynb", {})
    quiet = _grade(tmp_path, "quiet")
    # Each in its own session, as separate programs would be: the scheduler shares the CPU between sessions.
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True) for _ in range(BUSY_PER_CORE * _cores())]
    try:
        loaded = _grade(tmp_path, "loaded")
    finally:
        for process in busy:
            process.kill()
    assert quiet["points"] == quiet["max_points"], quiet["checks"]
    assert [(c["id"], c["status"]) for c in loaded["checks"]] == [(c["id"], c["status"]) for c in quiet["checks"]]
    assert loaded["seconds"] > 1.5 * quiet["seconds"], "the load did not slow grading down: the test shows nothing"
    print(f"graded in {quiet['seconds']} s quiet, {loaded['seconds']} s with {BUSY_PER_CORE} busy processes per core")


def _cores() -> int:
    return len(os.sched_getaffinity(0))
