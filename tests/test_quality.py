"""The grader's sample-quality measurement and the calibration between reference and bad samplers."""

from __future__ import annotations

import pytest

from autograder import quality


@pytest.fixture(scope="module")
def digits():
    return quality.GraderData.load("digits", binarised=True)


def test_real_data_scores_well_and_every_bad_sampler_is_far_off(digits):
    real = quality.measure(digits, digits.test, real=digits.train)
    assert real["fid"] < 100 and real["classes"] == 10
    bad = {name: quality.measure(digits, quality.bad_samples(name, digits, 500)) for name in quality.BAD_SAMPLERS}
    assert bad["noise"]["fid"] > 5 * real["fid"] and bad["blurred_mean"]["fid"] > 5 * real["fid"]
    assert bad["one_image_repeated"]["classes"] == 1
    assert bad["training_copies"]["memorisation_pixels"] == 1.0 and bad["training_copies"]["memorisation_features"] == 1.0


def test_thresholds_sit_between_reference_and_bad(digits):
    reference = [quality.measure(digits, digits.test)]
    bad = {name: quality.measure(digits, quality.bad_samples(name, digits, 360)) for name in quality.BAD_SAMPLERS}
    thresholds = quality.thresholds_between(reference, bad, margin=0.25)
    assert not quality.failures(reference[0], thresholds)
    assert all(quality.failures(values, thresholds) for values in bad.values())


def test_calibration_refuses_thresholds_that_let_a_bad_sampler_pass(digits):
    copies = quality.measure(digits, quality.bad_samples("training_copies", digits, 360))
    with pytest.raises(ValueError, match="training_copies"):
        quality.thresholds_between([copies], {"training_copies": copies}, margin=0.1)


def test_failure_messages_name_metric_value_and_threshold():
    values = {"fid": 500.0, "memorisation_pixels": 0.0, "memorisation_features": 0.0, "classes": 3.0}
    messages = quality.failures(values, {"fid": 100.0, "memorisation_pixels": 0.3, "memorisation_features": 0.3, "classes": 7.0})
    assert messages == [
        "FID against the test set (course classifier features) is 500; at most 100 is needed",
        "digit classes the samples cover is 3; at least 7 is needed",
    ]
