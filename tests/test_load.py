"""The same submission gets the same grade on a busy machine: limits are CPU time, not wall-clock time."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from helpers import HW1, derive_submission, run_grader

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group(name="load")]

CHECKS = "masked_conv,autoregressive,sampling"
CPU_SECONDS = "30"
"""Each probe's CPU-time limit: about twice what these probes use, so that on a machine with two busy
processes per core (a third of a core each) their wall-clock time runs past it."""


def _grade(tmp_path, name):
    done = run_grader("grade", "hw1", str(tmp_path / "in"), "--out", str(tmp_path / name), "--checks", CHECKS, "--timeout", CPU_SECONDS,
                      "--jobs", "1", "--quiet", "--no-gradebook")
    assert done.returncode == 0, done.stderr
    return json.loads((tmp_path / name / "reference" / "result.json").read_text())


def test_grade_is_the_same_with_two_busy_processes_per_core(tmp_path):
    derive_submission(HW1.source_notebook, tmp_path / "in" / "reference.ipynb", {})
    quiet = _grade(tmp_path, "quiet")
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(4)]
    try:
        loaded = _grade(tmp_path, "loaded")
    finally:
        for process in busy:
            process.kill()
    assert quiet["points"] == quiet["max_points"], quiet["checks"]
    assert [(c["id"], c["status"]) for c in loaded["checks"]] == [(c["id"], c["status"]) for c in quiet["checks"]]
    print(f"graded in {quiet['seconds']} s quiet, {loaded['seconds']} s with four busy processes on {_cores()} cores")


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0))
