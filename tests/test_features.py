"""Shipped feature extractors: small, documented, and as accurate as their record says."""

from __future__ import annotations

import json

import pytest

import dgm
from dgm import features
from dgm.data import DatasetNotAvailable

RECORD = json.loads((features.WEIGHTS_DIR / "RECORD.json").read_text())


def test_every_course_dataset_has_a_small_recorded_extractor():
    assert set(RECORD) == set(features.RECIPES)
    for dataset, record in RECORD.items():
        assert (features.WEIGHTS_DIR / f"{dataset}.pt").stat().st_size < 1_000_000
        assert {"command", "seed", "commit", "test_accuracy", "test_accuracy_binarised"} <= set(record)


@pytest.mark.parametrize("dataset", sorted(RECORD))
def test_shipped_weights_reach_the_recorded_accuracy(dataset):
    try:
        test_set = dgm.data.load_images(dataset, "test", **({} if dataset == "digits" else {"download": False}))
    except DatasetNotAvailable as missing:
        pytest.skip(str(missing))
    classifier = features.load_extractor(dataset)
    assert features.accuracy(classifier, test_set) == pytest.approx(RECORD[dataset]["test_accuracy"], abs=1e-4)
    assert features.accuracy(classifier, test_set, binarised=True) == pytest.approx(RECORD[dataset]["test_accuracy_binarised"], abs=1e-4)


def test_features_have_the_documented_shapes():
    feats, logits = features.features("digits", dgm.digits("test").images[:7])
    assert feats.shape == (7, 64) and logits.shape == (7, 10)


def test_missing_extractor_says_how_to_train_it():
    with pytest.raises(FileNotFoundError, match="python -m dgm.features cifar10"):
        features.load_extractor("cifar10")
