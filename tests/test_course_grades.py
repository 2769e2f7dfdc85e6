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
