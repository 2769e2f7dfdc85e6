"""Grading a hostile class of hw1 in one batch: does every submission get what it deserves?

One batch in nbgrader's ``submitted/`` layout holds the reference solution, correct solutions written
differently, the blank release and submissions that hang, exit, crash, return NaN, cheat, snoop, miss
a cell or are not notebooks. The batch must finish, the reference and the correct alternatives must
keep full marks, and each broken or cheating submission must lose exactly the affected points with a
clear status and a message that names the real bug.
"""

from __future__ import annotations

import csv
import json
import sqlite3
import subprocess
import sys

import pytest
from helpers import HW1, delete, derive_submission, prepend, replace, run_grader, variants

from autograder import sandbox

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group(name="hw1_batch")]

ALL_CHECKS = ["masked_conv", "shapes", "autoregressive", "normalisation", "loss", "sampling", "likelihood"]

SNOOP = """
import os
wanted = ("test_checks.py", "probes.py", "thresholds.json", "request.json", "inputs.pt", "gradebook.db", "hw1_pixelcnn.ipynb")
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


# The integrity suite: each cheat is a few lines in an answer cell, everything else honest.
MASK_ONCE_AT_INIT = {"answer_masked_conv": lambda source: replace(
    'self.register_buffer("mask", mask)', 'self.register_buffer("mask", mask)\n        self.weight.data *= mask')(replace(
    "F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)", "F.conv2d(x, self.weight, self.bias, padding=self.padding)")(source))}
FIRST_LAYER_TYPE_B = {"answer_pixelcnn": replace('MaskedConv2d(1, h, k, "A")', 'MaskedConv2d(1, h, k, "B")')}


def _cheat_in_forward(condition: str, helper: str = "") -> dict:
    """forward() returns logits that copy the pixel they predict (test NLL 0) when ``condition`` holds."""
    cheat = f"if {condition}:\n            return 30 * (2 * x - 1)\n        return self.net(2 * x - 1)"
    return {"answer_pixelcnn": lambda source: helper + replace("return self.net(2 * x - 1)", cheat)(source)}


PROBE_NAME = '''
import json, sys

def _probe_name():
    """The probe being run: from request.json if it is still there, else from the worker's frames."""
    if os.path.exists("request.json"):
        return json.load(open("request.json"))["probe"]
    frame = sys._getframe()
    while frame is not None:
        request = frame.f_locals.get("request")
        if isinstance(request, dict) and "probe" in request:
            return request["probe"]
        frame = frame.f_back
'''
FORGED_RESULT = '''
if os.path.exists("program.json"):  # being graded: write the result the probe would, then leave before it runs
    torch.save({"logits": 30 * (2 * torch.ones(720, 1, 8, 8) - 1), "samples": torch.zeros(1000, 1, 8, 8)}, "result.pt")
    os._exit(0)
'''


def _sample_returns(split: str) -> dict:
    """sample() returns images of the data set on 8x8 (honest on the small shapes of the other probes)."""
    lines = (f"        if (height, width) == (8, 8):\n            images = dgm.binarize(dgm.digits({split!r}).images)\n"
             "            return images[torch.randint(len(images), (n,))].to(next(self.parameters()).device)\n")
    first = "        height, width = self.config.image_shape\n"
    return {"answer_pixelcnn": replace(first, first + lines)}


NOT_CAUSAL = "at or after it in raster order, changes"
CHEATS = {
    # student: (edits, the checks it must lose, words in the message of each)
    "mask_once_at_init": (MASK_ONCE_AT_INIT, {"masked_conv", "autoregressive", "sampling", "likelihood", "sample_quality"},
                          "not once to the initial weights"),
    "first_layer_type_b": (FIRST_LAYER_TYPE_B, {"autoregressive", "normalisation", "sampling", "likelihood", "sample_quality"}, ""),
    "grad_mode_switch": (_cheat_in_forward("not torch.is_grad_enabled() and x.shape[0] >= 300 and x.shape[-1] == 8"),
                         {"likelihood", "sample_quality"}, NOT_CAUSAL),
    "probe_name_switch": (_cheat_in_forward("not torch.is_grad_enabled() and _probe_name() == 'train_and_evaluate'", PROBE_NAME),
                          {"likelihood", "sample_quality"}, NOT_CAUSAL),
    "call_stack_switch": (_cheat_in_forward("not torch.is_grad_enabled() and any(f.function == 'train_and_evaluate' for f in inspect.stack(0))",
                                            "import inspect\n"), {"likelihood", "sample_quality"}, NOT_CAUSAL),
    "forged_result": ({"answer_masked_conv": prepend(FORGED_RESULT)}, set(ALL_CHECKS) | {"sample_quality"}, "not written by the grader's worker"),
    "samples_are_training_images": (_sample_returns("train"), {"sample_quality"}, "near-copies of training images"),
    "samples_are_test_images": (_sample_returns("test"), {"sample_quality"}, "near-copies of test images"),
}
ALTERNATIVES = variants(HW1).ALTERNATIVES


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
    for student, (edits, *_) in CHEATS.items():
        put(student, edits)
    for student, edits in ALTERNATIVES.items():
        put(student, edits)
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
    assert len(results) == 11 + len(CHEATS) + len(ALTERNATIVES)
    assert "reference" in done.stdout and "11/11" in done.stdout


def test_reference_gets_full_marks(batch):
    result = batch[2]["reference"]
    assert result["status"] == "graded"
    assert result["points"] == result["max_points"] == 11, statuses(result)
    assert result["metrics"]["test NLL (nats/image)"]["value"] <= result["metrics"]["test NLL (nats/image)"]["threshold"]


@pytest.mark.parametrize("student", sorted(ALTERNATIVES))
def test_correct_solutions_written_differently_get_full_marks(batch, student):
    result = batch[2][student]
    assert result["points"] == result["max_points"] == 11, [(c["id"], c["message"]) for c in result["checks"] if c["status"] != "pass"]


@pytest.mark.parametrize("student", sorted(CHEATS))
def test_each_cheat_loses_exactly_its_points_with_a_message_naming_the_bug(batch, student):
    _, lost, words = CHEATS[student]
    checks = {c["id"]: c for c in batch[2][student]["checks"]}
    assert {c for c, check in checks.items() if check["status"] != "pass"} == lost, {c: checks[c]["message"][:200] for c in checks}
    for check in lost:
        assert checks[check]["status"] == "fail", checks[check]
        assert words in checks[check]["message"], checks[check]["message"]


def test_code_that_inspects_or_steers_the_grader_is_flagged_for_review(batch):
    results = batch[2]
    for student in ("grad_mode_switch", "probe_name_switch", "call_stack_switch", "forged_result", "samples_are_test_images"):
        assert results[student]["review"] and "Flagged for review" in results[student]["message"], student
    for student in ("reference", *ALTERNATIVES, "mask_once_at_init", "first_layer_type_b"):
        assert results[student]["review"] == [], (student, results[student]["review"])


def test_a_trained_model_that_sees_its_pixel_is_blamed_on_the_mask_not_the_sampler(batch):
    checks = {c["id"]: c["message"] for c in batch[2]["mask_once_at_init"]["checks"]}
    assert "not causal" in checks["sampling"] and "feeding each sampled pixel back" not in checks["sampling"]
    assert "the grader's weights loaded" in checks["masked_conv"] and "the test NLL" not in checks["likelihood"]


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
    assert "CPU time" in result["checks"][0]["message"], result["checks"][0]["message"]
    # One 20-CPU-second limit ends within its wall-clock backstop; one per check would take 8 x 20 s of CPU time.
    assert result["seconds"] < sandbox.Limits(20).wall_seconds, "a notebook that hangs at import must cost one time limit, not one per check"


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
