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
    assert bad["test_copies"]["copies_of_test"] == 1.0
    assert real["copies_of_test"] == 1.0, "the test set measured against itself is all copies"


def test_thresholds_sit_between_reference_and_bad(digits):
    # Half the test set plays the grader's test split, the other half the samples of a perfect model.
    data = quality.GraderData("digits", digits.train, digits.test[:180])
    reference = [quality.measure(data, digits.test[180:])]
    assert reference[0]["copies_of_test"] < 0.2 and reference[0]["memorisation_pixels"] < 0.2
    bad = {name: quality.measure(data, quality.bad_samples(name, data, 360)) for name in quality.BAD_SAMPLERS}
    thresholds = quality.thresholds_between(reference, bad, margin=0.25)
    assert not quality.failures(reference[0], thresholds)
    assert all(quality.failures(values, thresholds) for values in bad.values())


def test_calibration_refuses_thresholds_that_let_a_bad_sampler_pass(digits):
    copies = quality.measure(digits, quality.bad_samples("training_copies", digits, 360))
    with pytest.raises(ValueError, match="training_copies"):
        quality.thresholds_between([copies], {"training_copies": copies}, margin=0.1)


def test_failure_messages_name_metric_value_and_threshold():
    values = {"fid": 500.0, "memorisation_pixels": 0.0, "memorisation_features": 0.0, "copies_of_test": 1.0, "classes": 3.0}
    thresholds = {"fid": 100.0, "memorisation_pixels": 0.3, "memorisation_features": 0.3, "copies_of_test": 0.3, "classes": 7.0}
    assert quality.failures(values, thresholds) == [
        "FID against the test set (course classifier features) is 500; at most 100 is needed",
        "share of samples that are near-copies of test images (pixels) is 1; at most 0.3 is needed (samples must be drawn from "
        "your model, not taken from the data)",
        "digit classes the samples cover is 3; at least 7 is needed",
    ]
