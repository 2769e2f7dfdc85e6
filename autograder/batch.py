"""Grading a class: find the submissions, grade each in its own process, write every output."""

from __future__ import annotations

import multiprocessing
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from . import gradebook, report
from .harness import grade
from .homework import Homework


@dataclass(frozen=True)
class Found:
    """One student's submission: the notebook to grade (``None`` when the folder has none)."""

    student: str
    notebook: Path | None


def find_submissions(folder: Path, homework: Homework) -> tuple[list[Found], bool]:
    """Submissions in ``folder`` and whether it is nbgrader's ``submitted/`` layout.

    Either ``folder/<student>/<homework>/*.ipynb`` (nbgrader; the notebook named after the homework
    is preferred) or ``folder/*.ipynb`` (the student is the file name without ``.ipynb``).
    """
    student_dirs = sorted(p for p in folder.glob(f"*/{homework.name}") if p.is_dir())
    if student_dirs:
        found = []
        for directory in student_dirs:
            notebooks = sorted(directory.glob("*.ipynb"), key=lambda p: p.stem != homework.name)
            found.append(Found(directory.parent.name, notebooks[0] if notebooks else None))
        return found, True
    return [Found(p.stem, p) for p in sorted(folder.glob("*.ipynb"))], False


def _internal_error(homework: Homework, found: Found, profile: str, error: BaseException) -> dict:
    """A result that says the grader itself failed on this submission (the batch goes on)."""
    message = f"Ungradable: the grader failed on this submission ({type(error).__name__}: {error}); please tell the course staff"
    return {
        "student": found.student, "homework": homework.name, "profile": profile, "status": "ungradable", "message": message,
        "points": 0.0, "max_points": 0.0, "manual_max_points": 0.0, "sandbox": "", "seed": 0, "checks": [], "metrics": {},
        "seconds": 0.0, "traceback": "".join(traceback.format_exception(error))[-4000:],
    }


def grade_all(
    homework: Homework,
    submissions: list[Found],
    out: Path,
    *,
    profile: str,
    jobs: int,
    checks: list[str] | None = None,
    gradebook_path: Path | None = None,
    progress: bool = True,
) -> list[dict]:
    """Grade every submission (``jobs`` at a time, each in a fresh process) and write all outputs."""
    out.mkdir(parents=True, exist_ok=True)
    results = []
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context, max_tasks_per_child=1) as pool:
        futures = {pool.submit(grade, homework, found.notebook, found.student, profile, checks): found for found in submissions}
        for future in tqdm(as_completed(futures), total=len(futures), desc=f"grading {homework.key}", unit="submission", disable=not progress):
            found = futures[future]
            try:
                result, artifacts = future.result()
            except Exception as error:  # noqa: BLE001 - one broken submission must not stop the batch
                result, artifacts = _internal_error(homework, found, profile, error), {}
            report.write_student(out, result, artifacts)
            results.append(result)
    results.sort(key=lambda r: r["student"])
    report.write_csv(out / "grades.csv", results)
    if gradebook_path is not None:
        gradebook.record(gradebook_path, homework, results)
    return results
