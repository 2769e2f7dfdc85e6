"""Where a homework's files live in the nbgrader course directory.

``homeworks/source/hwN_name/`` holds the source notebook ``hwN_name.ipynb`` (solutions, theory
answers, visible tests with their points) and ``grading/`` with the hidden checks:

- ``probes.py``: what the grader asks of the student's objects (runs in the sandbox);
- ``test_checks.py``: pytest checks, ``test_<grade_id>`` for each autograded cell, which judge
  the probes' results in the grader's own process;
- ``thresholds.json``: calibrated thresholds per profile, with provenance.

``homeworks/release/hwN_name/hwN_name.ipynb`` is generated from the source by ``make release``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
COURSE_DIR = REPO_ROOT / "homeworks"
PROFILES = ("quick", "full")
SMOKE = "smoke"
"""The profile of a CPU smoke run of the full profile (``--profile full --smoke``): the full recipe on a
few hundred images for one epoch (:func:`autograder.harness.smoke_recipe`), measured but judged against
no threshold, so the full profile's code path is tested without a GPU."""
EVERY_PROFILE = "every"
"""The key, in ``thresholds.json``, of a threshold whose recipe is the same small CPU recipe in every profile
(e.g. hw4's eight Gaussians): calibrated once, with ``--profile quick``, and judged in every profile, a smoke
run included."""


@dataclass(frozen=True)
class Homework:
    """Paths of one homework; ``key`` is the short name (``hw1``), ``name`` the folder (``hw1_pixelcnn``)."""

    key: str
    name: str
    course_dir: Path = COURSE_DIR

    @property
    def source_notebook(self) -> Path:
        return self.course_dir / "source" / self.name / f"{self.name}.ipynb"

    @property
    def release_notebook(self) -> Path:
        return self.course_dir / "release" / self.name / f"{self.name}.ipynb"

    @property
    def grading_dir(self) -> Path:
        return self.course_dir / "source" / self.name / "grading"

    @property
    def probes(self) -> Path:
        return self.grading_dir / "probes.py"

    @property
    def checks(self) -> Path:
        return self.grading_dir / "test_checks.py"

    @property
    def thresholds_file(self) -> Path:
        return self.grading_dir / "thresholds.json"

    def thresholds(self) -> dict:
        return json.loads(self.thresholds_file.read_text()) if self.thresholds_file.exists() else {}


def all_homeworks(course_dir: Path = COURSE_DIR) -> list[Homework]:
    """Every homework with a source folder, in order (hw1, hw2, ...)."""
    folders = sorted((course_dir / "source").glob("hw*_*"), key=lambda p: int(p.name[2:].split("_")[0]))
    return [Homework(p.name.split("_")[0], p.name, course_dir) for p in folders if p.is_dir()]


def find_homework(key: str, course_dir: Path = COURSE_DIR) -> Homework:
    """The homework called ``key`` (``hw1`` or ``hw1_pixelcnn``)."""
    for homework in all_homeworks(course_dir):
        if key in (homework.key, homework.name):
            return homework
    known = ", ".join(h.key for h in all_homeworks(course_dir)) or "none"
    raise SystemExit(f"unknown homework {key!r} (known: {known})")
