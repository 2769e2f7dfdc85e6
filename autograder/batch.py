"""Grading a class: find the submissions, grade each in its own process, write every output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

import torch

from . import gradebook, report
from .homework import REPO_ROOT, Homework


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


def grade_in_subprocess(homework: Homework, found: Found, profile: str, checks: list[str] | None, seconds: float | None,
                        threads: int = 1) -> tuple[dict, dict]:
    """Grade one submission in a fresh grader process (``python -m autograder.harness``) using ``threads`` CPU threads.

    The grader process is trusted (student code runs only in the sandboxed workers it starts), but
    a fresh one per submission keeps submissions from sharing any state. Graders that run side by side get a
    share of the cores each: torch's default of one thread per core makes them preempt each other (two
    such processes on two cores train 3-4x slower than with one thread each).
    """
    with tempfile.TemporaryDirectory(prefix="dgm-grade-") as tmp:
        command = [sys.executable, "-m", "autograder.harness", homework.key, str(found.notebook or ""), found.student, profile,
                   ",".join(checks or []), str(seconds or ""), tmp]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
        done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, env=env)
        result_file = Path(tmp) / "result.json"
        if done.returncode != 0 or not result_file.exists():
            return _internal_error(homework, found, profile, done.stderr), {}
        return json.loads(result_file.read_text()), torch.load(Path(tmp) / "artifacts.pt", weights_only=True)


def _internal_error(homework: Homework, found: Found, profile: str, detail: str) -> dict:
    """A result that says the grader itself failed on this submission (the batch goes on)."""
    return {
        "student": found.student, "homework": homework.name, "profile": profile, "status": "ungradable",
        "message": "Ungradable: the grader failed on this submission; please tell the course staff",
        "points": 0.0, "max_points": 0.0, "manual_max_points": 0.0, "sandbox": "", "seed": 0, "checks": [], "metrics": {},
        "seconds": 0.0, "grader_error": detail[-4000:],
    }


def grade_all(
    homework: Homework,
    submissions: list[Found],
    out: Path,
    *,
    profile: str,
    jobs: int,
    checks: list[str] | None = None,
    seconds: float | None = None,
    gradebook_path: Path | None = None,
    progress: bool = True,
) -> list[dict]:
    """Grade every submission (``jobs`` at a time, each in a fresh process) and write all outputs."""
    out.mkdir(parents=True, exist_ok=True)
    results = []
    cores = int(os.environ.get("OMP_NUM_THREADS") or 0) or os.cpu_count() or 1  # a thread limit set by the caller is kept
    threads = max(1, cores // max(1, min(jobs, len(submissions))))
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(grade_in_subprocess, homework, found, profile, checks, seconds, threads) for found in submissions]
        for future in tqdm(as_completed(futures), total=len(futures), desc=f"grading {homework.key}", unit="submission", disable=not progress):
            result, artifacts = future.result()
            report.write_student(out, result, artifacts)
            results.append(result)
    results.sort(key=lambda r: r["student"])
    report.write_csv(out / "grades.csv", results)
    if gradebook_path is not None:
        gradebook.record(gradebook_path, homework, results)
    return results
