"""The course grade rule and the course CSV."""

from __future__ import annotations

import csv

import pytest
from helpers import run_grader

from autograder.report import course_grade


@pytest.mark.parametrize("points, grade", [(0, 0), (9.5, 0), (10, 1), (79, 7), (100, 10), (120, 10)])
def test_course_grade_rule(points, grade):
    assert course_grade(points) == grade


def test_course_command_adds_homeworks_manual_and_exam(tmp_path):
    (tmp_path / "hw1.csv").write_text(
        "student,homework,profile,status,points,max_points,manual_max_points,message\n"
        "ann,hw1_pixelcnn,quick,graded,11,11,4,\nbob,hw1_pixelcnn,quick,ungradable,0,11,4,Ungradable: not json\n"
    )
    (tmp_path / "theory.csv").write_text("student,points\nann,4\nbob,3\n")
    (tmp_path / "exam.csv").write_text("student,points\nann,30\nbob,27\n")
    done = run_grader("course", str(tmp_path / "hw1.csv"), "--manual", str(tmp_path / "theory.csv"),
                      "--exam", str(tmp_path / "exam.csv"), "--out", str(tmp_path / "course.csv"))
    assert done.returncode == 0, done.stderr
    rows = {row["student"]: row for row in csv.DictReader(open(tmp_path / "course.csv"))}
    assert rows["ann"]["total"] == "45" and rows["ann"]["grade"] == "4"
    assert rows["bob"]["attention"] == "hw1_pixelcnn ungradable"


def test_every_command_has_help():
    for command in ("grade", "release", "calibrate", "course"):
        done = run_grader(command, "--help")
        assert done.returncode == 0 and "usage:" in done.stdout


def _result(student, status="graded", points=9.0):
    checks = [{"id": "masked_conv", "points": 2.0, "max_points": 2.0, "status": "pass", "message": ""},
              {"id": "sample_quality", "points": 0.0, "max_points": 2.0, "status": "fail", "message": "too few classes"}]
    return {"student": student, "homework": "hw1_pixelcnn", "profile": "quick", "status": status, "points": points,
            "max_points": 11.0 if status == "graded" else 0.0, "manual_max_points": 4.0 if status == "graded" else 0.0,
            "message": "" if status == "graded" else "the notebook is not JSON", "checks": checks if status == "graded" else [],
            "metrics": {"classes": {"value": 6.0, "threshold": 7.0, "better": "higher", "reference": 10.0},
                        "fid": {"value": 154.26171, "threshold": 199.1013, "better": "lower", "reference": 154.2617}},
            "review": [], "sandbox": "bubblewrap", "seed": 0, "seconds": 40.0}


def test_grade_table_shows_full_check_ids_and_how_the_points_add_up(capsys):
    from autograder.__main__ import _print_table

    _print_table([_result("broken", status="ungradable", points=0.0), _result("ann")])
    printed = capsys.readouterr().out
    assert "masked_conv" in printed and "sample_quality" in printed
    assert "broken" in printed and "the notebook is not JSON" in printed
    assert "11 autograded + 4 by hand (theory, in formgrader) = 15" in printed
    _print_table([_result("ann")], every_check=False)
    assert "by hand" not in capsys.readouterr().out, "with --checks the points are those of the checks run, not the homework's"


def test_feedback_prints_counts_as_integers_and_the_point_split():
    from autograder.report import feedback_html

    page = feedback_html(_result("ann"), {})
    assert "<td>6</td><td>at least 7</td><td>10</td>" in page and "154.262" in page
    assert "11 autograded + 4 hand-graded points = 15" in page
