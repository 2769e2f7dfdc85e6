"""Writing autograder results into nbgrader's gradebook.

The gradebook gets the assignment's cells from the source notebook (as ``nbgrader
generate_assignment`` would), then one submission per student with ``auto_score`` for every
autograded cell. Theory answers keep no score and are flagged for manual grading, so formgrader
shows them beside the autograded points and ``nbgrader export`` adds both up.

An ungradable submission is never a silent 0: its autograded cells keep no score, are flagged
``needs_manual_grade``, and every answer cell carries the reason as a comment.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

from sqlalchemy.exc import SAWarning

from nbgrader.api import Gradebook

from .homework import Homework
from .notebook import nbgrader_meta, read_notebook


def _sync_assignment(gradebook: Gradebook, homework: Homework) -> None:
    source = read_notebook(homework.source_notebook)
    gradebook.update_or_create_assignment(homework.name)
    gradebook.update_or_create_notebook(homework.name, homework.name)
    for cell in source.cells:
        meta = nbgrader_meta(cell)
        if meta.get("grade"):
            gradebook.update_or_create_grade_cell(
                meta["grade_id"], homework.name, homework.name, max_score=float(meta.get("points", 0)), cell_type=cell.cell_type
            )
        if meta.get("solution"):
            gradebook.update_or_create_solution_cell(meta["grade_id"], homework.name, homework.name)
        if meta.get("grade") or meta.get("solution"):
            gradebook.update_or_create_source_cell(
                meta["grade_id"], homework.name, homework.name, cell_type=cell.cell_type, locked=bool(meta.get("locked")), source=cell.source
            )


def record(db_path: Path, homework: Homework, results: list[dict]) -> None:
    """Store every result (see ``result.json``) in the gradebook at ``db_path``, overwriting earlier scores."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    # nbgrader runs the `alembic` script of its environment to check the database schema.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    with warnings.catch_warnings(), Gradebook(f"sqlite:///{db_path.resolve()}") as gradebook:
        # nbgrader 0.9 relies on SQLAlchemy 1.x cascades and warns under 2.x; the rows are stored all the same.
        warnings.simplefilter("ignore", SAWarning)
        _sync_assignment(gradebook, homework)
        for result in results:
            student = result["student"]
            gradebook.update_or_create_student(student)
            gradebook.update_or_create_submission(homework.name, student)
            ungradable = result["status"] != "graded"
            for check in result["checks"]:
                grade = gradebook.find_grade(check["id"], homework.name, homework.name, student)
                grade.auto_score = None if ungradable else check["points"]
                grade.needs_manual_grade = ungradable
            for cell in gradebook.find_notebook(homework.name, homework.name).grade_cells:
                if cell.cell_type == "markdown":  # theory answers, graded by hand
                    gradebook.find_grade(cell.name, homework.name, homework.name, student).needs_manual_grade = True
            if ungradable:
                for cell in gradebook.find_notebook(homework.name, homework.name).solution_cells:
                    gradebook.find_comment(cell.name, homework.name, homework.name, student).auto_comment = result["message"]
            gradebook.db.commit()
