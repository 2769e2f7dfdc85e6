"""Building the graded program from instructor cells and student answer cells."""

from __future__ import annotations

import pytest
from helpers import HW1, delete, derive_submission, replace

from autograder.notebook import UngradableNotebook, build_program, read_notebook, strip_magics


def _program(tmp_path, edits):
    path = derive_submission(HW1.source_notebook, tmp_path / "s.ipynb", edits)
    return build_program(read_notebook(HW1.source_notebook), read_notebook(HW1.release_notebook), read_notebook(path))


def test_program_is_setup_cells_plus_answer_cells(tmp_path):
    program = _program(tmp_path, {})
    assert [(c.cell_id, c.origin) for c in program.cells] == [
        ("setup_imports", "instructor"), ("answer_masked_conv", "student"), ("setup_config", "instructor"), ("answer_pixelcnn", "student"),
    ]
    assert not program.missing_answers


def test_edited_locked_cells_are_replaced_by_the_instructors(tmp_path):
    program = _program(tmp_path, {"setup_config": replace("hidden_channels: int = 32", "hidden_channels: int = 1"),
                                  "setup_imports": replace("import dgm", "import dgm; dgm = None")})
    text = "\n".join(c.source for c in program.cells)
    assert "hidden_channels: int = 32" in text and "dgm = None" not in text


def test_missing_answer_cell_is_replaced_by_the_stub_and_reported(tmp_path):
    program = _program(tmp_path, {"answer_pixelcnn": delete})
    assert program.missing_answers == ["answer_pixelcnn"]
    stub = next(c for c in program.cells if c.cell_id == "answer_pixelcnn")
    assert stub.origin == "stub" and "raise NotImplementedError()" in stub.source


def test_magics_are_neutralised():
    assert strip_magics("%matplotlib inline\nx = 1\n  !pip install foo") == (
        "pass  # (removed for grading) %matplotlib inline\nx = 1\n  pass  # (removed for grading) !pip install foo"
    )


@pytest.mark.parametrize("content", ["", "not json", '{"cells": 3}', "[]"])
def test_unreadable_notebooks_raise_ungradable(tmp_path, content):
    path = tmp_path / "broken.ipynb"
    path.write_text(content)
    with pytest.raises(UngradableNotebook, match="could not be read"):
        read_notebook(path)


def test_two_homeworks_graded_in_one_process_keep_their_own_checks():
    from autograder.harness import grade
    from autograder.homework import find_homework

    for homework, check in ((find_homework("hw1"), "shapes"), (find_homework("hw2"), "masks")):
        result, _ = grade(homework, homework.source_notebook, "reference", "quick", checks=[check])
        assert [(c["id"], c["status"]) for c in result["checks"]] == [(check, "pass")], result["checks"]
