"""Helpers of the test suite: submissions derived from the reference solution, the grader CLI."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import nbformat
from autograder import calibrate
from autograder.homework import REPO_ROOT, find_homework
from autograder.notebook import CellEdit, edit_cells, nbgrader_meta, read_notebook

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


def derive_submission(notebook: Path, path: Path, edits: dict[str, Edit | CellEdit]) -> Path:
    """Write a copy of ``notebook`` to ``path`` with ``edits`` applied to the cells of those grade ids
    (an :data:`Edit` function of the cell's source, or a :data:`~autograder.notebook.CellEdit`)."""
    original = read_notebook(notebook)
    sources = {nbgrader_meta(cell).get("grade_id"): cell.source for cell in original.cells}
    changes = {grade_id: edit(sources[grade_id]) if callable(edit) else edit for grade_id, edit in edits.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(edit_cells(original, changes), path)
    return path


def run_grader(*args: str, timeout: float = 1200) -> subprocess.CompletedProcess:
    """``python -m autograder ARGS`` from the repository root."""
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)


def variants(homework):
    """The homework's ``grading/variants.py`` (correct alternatives and known bugs) as a module."""
    return calibrate.load_grading_module(homework, "variants")
