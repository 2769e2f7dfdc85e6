"""Calibration puts a threshold between the worst correct solution and the best known bug, or refuses."""

from __future__ import annotations

import math

import pytest

from autograder.calibrate import REFERENCE, Calibration, Solutions

VALUES = {REFERENCE: {0: 17.0, 1: 17.2}, "alternative": {0: 17.9, 1: 17.5}, "bug": {0: 20.0}}


def _calibration(**kwargs):
    return Calibration(lambda submission, seed: VALUES[submission][seed], better="lower", **kwargs)


SOLUTIONS = Solutions(correct={REFERENCE: REFERENCE, "alternative": "alternative"}, bugs={"bug": "bug"})


def test_threshold_is_the_worst_correct_plus_margin_when_that_rejects_every_bug():
    record = _calibration(margin=0.05, bugs=("bug",)).calibrate(SOLUTIONS, [0, 1])
    assert record["threshold"] == pytest.approx(17.9 * 1.05, abs=1e-4)
    assert record["reference"] == 17.0 and record["best"] == 17.0 and record["implausible"] == 8.5
    assert record["correct"]["alternative"] == {"0": 17.9, "1": 17.5} and record["bugs"] == {"bug": 20.0}


def test_threshold_is_halfway_to_the_best_bug_when_that_is_stricter_than_the_margin():
    record = _calibration(margin=0.1, bugs=("bug",)).calibrate(SOLUTIONS, [0, 1])
    assert record["threshold"] == pytest.approx((17.9 + 20.0) / 2)


def test_calibration_refuses_when_a_bug_is_as_good_as_a_correct_solution():
    VALUES["good_bug"] = {0: 17.8}
    solutions = Solutions(SOLUTIONS.correct, {"good_bug": "good_bug"})
    with pytest.raises(ValueError, match="no threshold separates"):
        _calibration(margin=0.05, bugs=("good_bug",)).calibrate(solutions, [0, 1])


def test_calibration_refuses_a_bug_so_close_that_the_threshold_would_squeeze_correct_solutions():
    VALUES["close_bug"] = {0: 18.2}  # halfway is 18.05: 0.15 above the worst correct, less than half of 5 % of 17.9
    solutions = Solutions(SOLUTIONS.correct, {"close_bug": "close_bug"})
    with pytest.raises(ValueError, match="within half the margin"):
        _calibration(margin=0.05, bugs=("close_bug",)).calibrate(solutions, [0, 1])


def _judged(value):
    """Judge ``value`` against a calibrated record: threshold 18.99, best correct 16.95, bound 8.47."""
    from types import SimpleNamespace

    from autograder.harness import Submission

    record = {"threshold": 18.99, "reference": 17.0, "better": "lower", "best": 16.95, "implausible": 8.47}
    homework = SimpleNamespace(thresholds=lambda: {"likelihood": {"quick": record}}, key="hw1")
    Submission(program=None, homework=homework, profile="quick").judge("NLL", value, "likelihood", "the test NLL")


def test_judge_passes_a_correct_value_and_fails_implausible_too_high_and_non_finite_ones():
    _judged(17.5)
    for value, words in ((0.001, "implausibly low"), (20.07, "at most 18.99 is needed"), (math.nan, "not finite")):
        with pytest.raises(AssertionError, match=words):
            _judged(value)


@pytest.mark.parametrize("profile", ["quick", "full", "smoke"])
def test_a_threshold_calibrated_for_every_profile_is_judged_in_each_a_smoke_run_included(profile):
    from types import SimpleNamespace

    from autograder.harness import Submission

    record = {"threshold": 0.36, "reference": 0.57, "better": "higher"}
    homework = SimpleNamespace(thresholds=lambda: {"good_share": {"every": record}, "fid": {"full": {**record, "threshold": 9.0}}}, key="hw4")
    submission = Submission(program=None, homework=homework, profile=profile)
    submission.judge("good share", 0.5, "good_share", "the good share")
    with pytest.raises(AssertionError, match="at least 0.36 is needed"):
        submission.judge("good share", 0.2, "good_share", "the good share")
    assert submission.metrics["good share"]["threshold"] == 0.36 and submission.metrics["good share"]["every_profile"]
    if profile == "smoke":  # a per-profile threshold is shown, not judged, in a smoke run
        submission.judge("fid", 0.1, "fid", "the FID")
        assert submission.metrics["fid"]["threshold"] is None
