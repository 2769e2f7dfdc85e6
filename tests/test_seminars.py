"""Seminars: one instructor source each, a generated student version, and code that uses the course library."""

from __future__ import annotations

import ast
import types

import pytest

import dgm
from autograder import release
from autograder.notebook import read_notebook

SOURCES = release.seminar_sources()


def test_every_week_has_a_seminar():
    assert [p.name[:2] for p in SOURCES] == [f"{week:02d}" for week in range(1, 15)]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_source_is_committed_without_outputs(source):
    cells = [c for c in read_notebook(source).cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in cells), f"clear the outputs of {source.name}"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_student_version_is_what_the_source_generates(source):
    student = release.SEMINARS_DIR / source.name
    assert student.exists() and student.read_text() == release.student_seminar(source), (
        f"{student} drifted from {source}: run `make release` and commit the result"
    )


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_student_version_has_stubs_instead_of_solutions(source):
    text = (release.SEMINARS_DIR / source.name).read_text()
    assert "BEGIN SOLUTION" not in text
    assert text.count("raise NotImplementedError()") == source.read_text().count("### BEGIN SOLUTION") > 0


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_seminar_imports_the_course_library_instead_of_copying_it(source):
    code = "\n".join(c.source for c in read_notebook(source).cells if c.cell_type == "code")
    tree = ast.parse(code)
    assert any(isinstance(node, ast.Import) and any(a.name == "dgm" for a in node.names) for node in tree.body)
    modules = (dgm, dgm.data, dgm.training, dgm.plots, dgm.metrics, dgm.features, dgm.mixture)
    library = {name for module in modules for name, value in vars(module).items() if not isinstance(value, types.ModuleType)}
    defined = {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    assert not defined & library, f"{source.name} redefines course-library names: {sorted(defined & library)}"
