"""Reading nbgrader notebooks and building the program that is graded.

The graded program is never the student's notebook as submitted. It is built from the
instructor's source notebook, cell by cell:

- instructor code cells tagged ``grader-setup`` (imports, configs): the instructor's text;
- answer cells (nbgrader ``solution`` code cells): the student's cell with the same nbgrader
  ``grade_id``; when the student deleted it, the release stub (which raises
  ``NotImplementedError``) stands in and the missing cell is reported;
- everything else (test cells, training and plotting cells, markdown): left out.

So editing or deleting locked cells and test cells changes nothing, and a missing answer cell
costs only the checks that need it.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import types
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

SETUP_TAG = "grader-setup"


class UngradableNotebook(Exception):
    """The submission cannot be read as a notebook at all."""


@dataclass(frozen=True)
class ProgramCell:
    """One cell of the graded program.

    Attributes:
        cell_id: nbgrader ``grade_id`` (shown in tracebacks as ``<cell ID>``).
        source: Python source.
        origin: ``"instructor"``, ``"student"`` or ``"stub"`` (answer cell missing).
    """

    cell_id: str
    source: str
    origin: str


@dataclass
class Program:
    """The cells to execute, in order, and what was noticed while building them."""

    cells: list[ProgramCell]
    missing_answers: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps({"cells": [asdict(c) for c in self.cells], "missing_answers": self.missing_answers})

    @classmethod
    def from_json(cls, text: str) -> Program:
        data = json.loads(text)
        return cls([ProgramCell(**c) for c in data["cells"]], data["missing_answers"])


@dataclass(frozen=True)
class GradeCell:
    """A graded cell of the source notebook: an autograded test or a hand-graded answer."""

    grade_id: str
    points: float
    autograded: bool


def read_notebook(path: str | Path) -> nbformat.NotebookNode:
    """Read a notebook, turning every way it can be unreadable into :class:`UngradableNotebook`."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        notebook = nbformat.reads(text, as_version=4)
        if not isinstance(notebook.get("cells"), list):
            raise ValueError("it has no list of cells")
        return notebook
    except Exception as error:  # noqa: BLE001 - any failure means the same thing here
        raise UngradableNotebook(f"the notebook {Path(path).name} could not be read ({type(error).__name__}: {error})") from None


def nbgrader_meta(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def grade_cells(source: nbformat.NotebookNode) -> list[GradeCell]:
    """Every graded cell of a source notebook, in order: code test cells are autograded."""
    cells = []
    for cell in source.cells:
        meta = nbgrader_meta(cell)
        if meta.get("grade"):
            autograded = cell.cell_type == "code" and not meta.get("solution")
            cells.append(GradeCell(meta["grade_id"], float(meta.get("points", 0)), autograded))
    return cells


def answer_ids(source: nbformat.NotebookNode) -> list[str]:
    """``grade_id`` of every answer (solution) code cell, in order."""
    return [nbgrader_meta(c)["grade_id"] for c in source.cells if c.cell_type == "code" and nbgrader_meta(c).get("solution")]


def build_program(source: nbformat.NotebookNode, release: nbformat.NotebookNode, submission: nbformat.NotebookNode) -> Program:
    """The graded program: instructor setup cells plus the student's answer cells (see module doc).

    Args:
        source: the instructor's source notebook (solutions included).
        release: the generated student notebook (stubs), used when an answer cell is missing.
        submission: the student's notebook.
    """
    student = _code_cells_by_id(submission)
    stubs = _code_cells_by_id(release)
    cells, missing = [], []
    for cell in source.cells:
        meta = nbgrader_meta(cell)
        if cell.cell_type != "code":
            continue
        if meta.get("solution"):
            grade_id = meta["grade_id"]
            if grade_id in student:
                cells.append(ProgramCell(grade_id, strip_magics(student[grade_id]), "student"))
            else:
                missing.append(grade_id)
                cells.append(ProgramCell(grade_id, stubs.get(grade_id, ""), "stub"))
        elif SETUP_TAG in cell.get("metadata", {}).get("tags", []):
            cells.append(ProgramCell(meta.get("grade_id", f"setup-{len(cells)}"), cell.source, "instructor"))
    return Program(cells, missing)


def _code_cells_by_id(notebook: nbformat.NotebookNode) -> dict[str, str]:
    """Source of each code cell that carries a ``grade_id``; the first one wins on duplicates."""
    found: dict[str, str] = {}
    for cell in notebook.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if cell.get("cell_type") == "code" and isinstance(grade_id, str) and grade_id not in found:
            source = cell.get("source", "")
            found[grade_id] = "".join(source) if isinstance(source, list) else str(source)
    return found


CellEdit = str | tuple[str, str]
"""A change to one cell: its whole new source, or ``(old, new)``, a replacement of text that must occur."""


def edit_cells(notebook: nbformat.NotebookNode, edits: Mapping[str, CellEdit | None]) -> nbformat.NotebookNode:
    """A copy of ``notebook`` with the cells of those ``grade_id`` s changed (``None``: the cell deleted).

    Raises:
        ValueError: an ``(old, new)`` edit whose ``old`` text is not in its cell, or an id no cell has.
    """
    derived = copy.deepcopy(notebook)
    derived.cells, seen = [], set()
    for cell in notebook.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if grade_id in edits:
            seen.add(grade_id)
            edit = edits[grade_id]
            if edit is None:
                continue
            cell = copy.deepcopy(cell)
            if isinstance(edit, str):
                cell.source = edit
            else:
                old, new = edit
                if old not in cell.source:
                    raise ValueError(f"cell {grade_id} does not contain {old!r}")
                cell.source = cell.source.replace(old, new)
        derived.cells.append(cell)
    if missing := set(edits) - seen:
        raise ValueError(f"no cell with grade_id {sorted(missing)}")
    return derived


GRADER_INTROSPECTION = re.compile(
    r"_getframe|\bf_(back|locals|globals|code)\b|\binspect\.(stack|currentframe|getouterframes)|\bgc\.get_(objects|referrers|referents)"
    r"|\bctypes\b|\bos\._exit\b|\bsys\.(stdin|modules)\b|__builtins__|\bis_grad_enabled\b"
    r"|(request|complete|program)\.json|result\.pt|program-done|\bprobes\b"
    r"|\bload_images\b|\bdgm\.(data|digits|mnist|fashion_mnist)\b|\bsklearn\b|\bload_digits\b"
)
"""What a model's answer cells never need, but code that reads or steers the grader does: stack frames,
the garbage collector, raw memory, the worker's files, hard exits, grad-mode switches, and the data
sets themselves (a model class has no reason to load images; a sampler that returns them does)."""


def grader_introspection(program: Program) -> list[str]:
    """Lines of the student's answer cells that inspect or steer the grader, as ``"cell ID, line N: text"``.

    The grader cannot stop code in the sandbox from doing so (it shares the probe's process); it proves
    what it grades instead, and flags such lines so that a person reads them.
    """
    found = []
    for cell in program.cells:
        if cell.origin != "student":
            continue
        for number, line in enumerate(cell.source.splitlines(), 1):
            code = line.split("#", 1)[0]
            if GRADER_INTROSPECTION.search(code):
                found.append(f"cell {cell.cell_id}, line {number}: {line.strip()[:120]}")
    return found


_MAGIC = re.compile(r"^(\s*)([%!].*)$", re.MULTILINE)


def strip_magics(source: str) -> str:
    """Comment out IPython magics and shell escapes (``%pip``, ``!ls``): plain Python has neither."""
    return _MAGIC.sub(r"\1pass  # (removed for grading) \2", source)


@functools.cache
def instructor_namespace(path: str) -> types.SimpleNamespace:
    """The ``grader-setup`` cells of the instructor's source notebook at ``path`` (imports, networks, configs),
    executed in the grader's own process: the same text the graded program runs, so the grader can rebuild the
    course networks from the states a probe returns and evaluate them without student code."""
    namespace: dict = {}
    for cell in read_notebook(path).cells:
        if cell.cell_type == "code" and SETUP_TAG in cell.metadata.get("tags", []):
            exec(compile(cell.source, f"<{nbgrader_meta(cell).get('grade_id', 'setup')}>", "exec"), namespace)
    return types.SimpleNamespace(**namespace)
