"""Grading a hostile class of hw1 in one batch: does every submission get what it deserves?

One batch in nbgrader's ``submitted/`` layout holds the reference solution, the blank release and
submissions that hang, exit, crash, return NaN, cheat, snoop, miss a cell or are not notebooks.
The batch must finish, the reference must keep full marks, and each broken submission must lose
exactly the affected points with a clear status.
"""

from __future__ import annotations

import csv
import json
import sqlite3
import subprocess
import sys

import pytest
from helpers import HW1, delete, derive_submission, prepend, replace, run_grader

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group(name="hw1_batch")]

ALL_CHECKS = ["masked_conv", "shapes", "autoregressive", "normalisation", "loss", "sampling", "likelihood"]

SNOOP = """
import os
wanted = ("test_checks.py", "probes.py", "thresholds.json", "gradebook.db", "hw1_pixelcnn.ipynb")
found = []
for root in ("/work", "/tmp", "/root", "/home", "/sandbox", "/grader", "..", "../.."):
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = [d for d in subfolders if d not in ("site-packages", "include", "share")]  # the interpreter's own files
        found += [os.path.join(folder, name) for name in names if name in wanted]
raise RuntimeError(f"snooped: {found}")
"""


CHEAT = """
import numpy.testing, torch
numpy.testing.assert_allclose = lambda *args, **kwargs: None
torch.allclose = lambda *args, **kwargs: True
torch.equal = lambda *args, **kwargs: True
"""


def _build_class(course):
    submitted = course / "submitted"

    def put(student, edits, base=HW1.source_notebook):
        return derive_submission(base, submitted / student / HW1.name / f"{HW1.name}.ipynb", edits)

    put("reference", {})
    put("blank", {}, base=HW1.release_notebook)
    put("hangs", {"answer_masked_conv": prepend("while True:\n    pass")})
    put("exits", {"answer_masked_conv": prepend("import sys\nsys.exit(3)")})
    put("hard_exit_in_model", {"answer_pixelcnn": replace("super().__init__()", "super().__init__()\n        import os; os._exit(0)")})
    put("nan_logits", {"answer_pixelcnn": replace("return self.net(2 * x - 1)", "return self.net(2 * x - 1) * float('nan')")})
    put("snoops", {"answer_masked_conv": prepend(SNOOP)})
    # A wrong mask plus every way of tampering with the notebook around it.
    put("tampers", {
        "answer_masked_conv": lambda s: CHEAT + replace('centre + (mask_type == "B"):] = 0', "centre + 1:] = 0")(s),
        "setup_config": replace("hidden_channels: int = 32", "hidden_channels: int = 1"),
        "masked_conv": delete, "autoregressive": delete, "likelihood": replace("assert", "pass  #"),
    })
    put("missing_model_cell", {"answer_pixelcnn": delete})
    (submitted / "not_json" / HW1.name).mkdir(parents=True)
    (submitted / "not_json" / HW1.name / f"{HW1.name}.ipynb").write_text('{"cells": [ this is not json')
    (submitted / "nothing_submitted" / HW1.name).mkdir(parents=True)


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    _build_class(course)
    done = run_grader("grade", "hw1", str(course / "submitted"), "--out", str(course / "out"), "--jobs", "2", "--timeout", "20")
    results = {p.parent.name: json.loads(p.read_text()) for p in (course / "out").glob("*/result.json")}
    return course, done, results


def statuses(result):
    return {c["id"]: c["status"] for c in result["checks"]}


def test_batch_finishes_with_exit_zero_and_a_table(batch):
    _, done, results = batch
    assert done.returncode == 0, done.stderr
    assert len(results) == 11
    assert "reference" in done.stdout and "11/11" in done.stdout


def test_reference_gets_full_marks(batch):
    result = batch[2]["reference"]
    assert result["status"] == "graded"
    assert result["points"] == result["max_points"] == 11, statuses(result)
    assert result["metrics"]["test NLL (nats/image)"]["value"] <= result["metrics"]["test NLL (nats/image)"]["threshold"]


def test_blank_release_gets_zero_with_clear_messages(batch):
    result = batch[2]["blank"]
    assert result["status"] == "graded" and result["points"] == 0
    for check in result["checks"]:
        assert check["status"] == "error"
        assert "not implemented yet" in check["message"] and "answer_" in check["message"]


def test_hanging_submission_times_out_once_and_loses_everything(batch):
    result = batch[2]["hangs"]
    assert set(statuses(result).values()) == {"timeout"}
    assert result["points"] == 0
    assert result["seconds"] < 40, "a notebook that hangs at import must cost one time limit, not one per check"


def test_exit_and_hard_exit_are_errors_with_reasons(batch):
    exits = batch[2]["exits"]
    assert set(statuses(exits).values()) == {"error"}
    assert "sys.exit(3)" in exits["checks"][0]["message"]
    hard = batch[2]["hard_exit_in_model"]
    assert statuses(hard)["masked_conv"] == "pass", "os._exit in the model cell must not cost the mask points"
    assert statuses(hard)["shapes"] == "error"
    assert "before returning a result" in dict((c["id"], c["message"]) for c in hard["checks"])["shapes"]


def test_nan_outputs_fail_the_numeric_checks(batch):
    result = batch[2]["nan_logits"]
    checks = {c["id"]: c for c in result["checks"]}
    assert checks["masked_conv"]["status"] == "pass"
    assert checks["normalisation"]["status"] == "fail" and "NaN" in checks["normalisation"]["message"]
    assert checks["likelihood"]["status"] in ("fail", "error")


def test_student_code_cannot_see_hidden_tests_source_or_gradebook(batch):
    result = batch[2]["snoops"]
    message = result["checks"][0]["message"]
    assert "snooped: []" in message, message


def test_tampering_changes_nothing(batch):
    result = batch[2]["tampers"]
    got = statuses(result)
    assert got["masked_conv"] == "fail", "patched assertions or deleted test cells must not rescue a wrong mask"
    assert result["max_points"] == 11, "deleted test cells still count"


def test_missing_answer_cell_costs_only_its_checks(batch):
    result = batch[2]["missing_model_cell"]
    checks = {c["id"]: c for c in result["checks"]}
    assert checks["masked_conv"]["status"] == "pass"
    assert all(checks[c]["status"] == "error" for c in ALL_CHECKS if c != "masked_conv")
    assert "Answer cells missing from your notebook: answer_pixelcnn" in checks["loss"]["message"]


def test_unreadable_and_missing_notebooks_are_labelled_ungradable(batch):
    course, _, results = batch
    for student in ("not_json", "nothing_submitted"):
        assert results[student]["status"] == "ungradable"
        assert results[student]["message"].startswith("Ungradable:")
    rows = {row["student"]: row for row in csv.DictReader(open(course / "out" / "grades.csv"))}
    assert rows["not_json"]["status"] == "ungradable" and rows["reference"]["points"] == "11"


def test_gradebook_has_auto_scores_flags_and_exports(batch):
    course = batch[0]
    db = sqlite3.connect(course / "gradebook.db")
    rows = db.execute(
        "select student.id, base_cell.name, grade.auto_score, grade.needs_manual_grade from grade "
        "join submitted_notebook on grade.notebook_id = submitted_notebook.id "
        "join submitted_assignment on submitted_notebook.assignment_id = submitted_assignment.id "
        "join student on submitted_assignment.student_id = student.id "
        "join base_cell on grade.cell_id = base_cell.id"
    ).fetchall()
    grades = {(student, cell): (score, flag) for student, cell, score, flag in rows}
    assert grades[("reference", "sample_quality")] == (2.0, 0)
    assert grades[("reference", "theory_forward_kl")] == (None, 1), "theory answers wait for the hand grader"
    assert grades[("not_json", "masked_conv")] == (None, 1), "ungradable is flagged, never a silent 0"
    comment = db.execute("select auto_comment from comment where auto_comment like 'Ungradable%'").fetchone()
    assert comment is not None
    export = subprocess.run([sys.executable, "-m", "nbgrader", "export", "--db", f"sqlite:///{course / 'gradebook.db'}",
                             "--to", str(course / "export.csv")], cwd=course, capture_output=True, text=True)
    assert export.returncode == 0, export.stderr
    exported = {row["student_id"]: row for row in csv.DictReader(open(course / "export.csv"))}
    assert float(exported["reference"]["raw_score"]) == 11.0


def test_feedback_shows_messages_and_samples_but_no_check_code(batch):
    course = batch[0]
    secret_lines = [line.strip() for line in HW1.checks.read_text().splitlines() if len(line.strip()) > 30]
    for feedback in (course / "out").glob("*/feedback.html"):
        text = feedback.read_text()
        leaked = [line for line in secret_lines if line in text]
        assert not leaked, f"{feedback} shows check code: {leaked[:2]}"
    reference = (course / "out" / "reference" / "feedback.html").read_text()
    assert "data:image/png;base64," in reference and "test NLL" in reference
    assert (course / "out" / "reference" / "samples.png").stat().st_size > 100
