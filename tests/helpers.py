"""Helpers of the test suite: submissions derived from the reference solution, the grader CLI."""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import nbformat
from autograder.homework import REPO_ROOT, find_homework
from autograder.notebook import nbgrader_meta, read_notebook

Edit = Callable[[str], str | None]


HW1 = find_homework("hw1")


def replace(old: str, new: str) -> Edit:
    """An edit that replaces ``old`` (which must occur) by ``new`` in a cell."""

    def edit(source: str) -> str:
        assert old in source, f"mutation target not found: {old!r}"
        return source.replace(old, new)

    return edit


def prepend(text: str) -> Edit:
    return lambda source: text + "\n" + source


def delete(_source: str) -> None:
    return None


def derive_submission(notebook: Path, path: Path, edits: dict[str, Edit]) -> Path:
    """Write a copy of ``notebook`` to ``path`` with ``edits`` applied to the cells of those grade ids."""
    original = read_notebook(notebook)
    derived = copy.deepcopy(original)
    derived.cells = []
    for cell in original.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if grade_id in edits:
            source = edits[grade_id](cell.source)
            if source is None:
                continue
            cell = copy.deepcopy(cell)
            cell.source = source
        derived.cells.append(cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(derived, path)
    return path


def run_grader(*args: str, timeout: float = 1200) -> subprocess.CompletedProcess:
    """``python -m autograder ARGS`` from the repository root."""
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)
