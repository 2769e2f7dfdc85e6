"""Every homework's reference solution gets full automatic marks and its blank release gets 0 without a crash.

(hw1 is also graded in the hostile batch of test_hw1_batch.py; this covers every other homework.)
"""

from __future__ import annotations

import json

import pytest
from helpers import derive_submission, run_grader

from autograder.homework import all_homeworks
from autograder.notebook import grade_cells, read_notebook

LATER_HOMEWORKS = [h for h in all_homeworks() if h.key != "hw1"]


@pytest.mark.slow
@pytest.mark.parametrize("homework", LATER_HOMEWORKS, ids=lambda h: h.key)
def test_reference_full_marks_and_blank_zero(homework, tmp_path):
    derive_submission(homework.source_notebook, tmp_path / "in" / "reference.ipynb", {})
    derive_submission(homework.release_notebook, tmp_path / "in" / "blank.ipynb", {})
    done = run_grader("grade", homework.key, str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--jobs", "2", "--quiet")
    assert done.returncode == 0, done.stderr
    reference = json.loads((tmp_path / "out" / "reference" / "result.json").read_text())
    blank = json.loads((tmp_path / "out" / "blank" / "result.json").read_text())
    autograded = sum(c.points for c in grade_cells(read_notebook(homework.source_notebook)) if c.autograded)
    assert reference["points"] == reference["max_points"] == autograded, [(c["id"], c["status"], c["message"]) for c in reference["checks"]]
    assert blank["points"] == 0 and blank["status"] == "graded"
    for check in blank["checks"]:
        assert check["status"] == "error" and "not implemented yet" in check["message"], check
