"""Course datasets: fixed splits, verified archives, clear errors offline."""

from __future__ import annotations

import gzip
import math
import os
import shutil
from pathlib import Path

import pytest
import torch

import dgm
from dgm import data

SHARED = Path(os.environ.get("DGM_DATA", "")) if os.environ.get("DGM_DATA") else None
needs_mnist = pytest.mark.skipif(not (SHARED and (SHARED / "mnist").is_dir()), reason="MNIST archives not available (set DGM_DATA)")


def test_digits_split_is_fixed_disjoint_and_scaled():
    train, test = dgm.digits("train"), dgm.digits("test")
    assert train.images.shape == (1437, 1, 8, 8) and test.images.shape == (360, 1, 8, 8)
    assert 0 <= train.images.min() and train.images.max() == 1
    rows = {tuple(x.flatten().tolist()) for x in train.images}
    assert sum(tuple(x.flatten().tolist()) in rows for x in test.images) < 10, "train and test must be different images"
    assert torch.equal(dgm.digits("test").images, test.images)


def test_binarize_and_stochastic_binarize():
    images = torch.tensor([0.0, 0.4, 0.5, 0.6, 1.0])
    assert dgm.binarize(images).tolist() == [0, 0, 0, 1, 1]
    a, b = data.stochastic_binarize(torch.full((1000,), 0.3), seed=1), data.stochastic_binarize(torch.full((1000,), 0.3), seed=1)
    assert torch.equal(a, b) and 0.25 < a.mean() < 0.35


@needs_mnist
@pytest.mark.parametrize("loader, mean", [(dgm.mnist, 33.791 / 255), (dgm.fashion_mnist, 73.147 / 255)])
def test_idx_loaders_read_the_official_archives(loader, mean):
    test = loader("test", root=SHARED, download=False)
    assert test.images.shape == (10000, 1, 28, 28) and test.labels.shape == (10000,)
    assert abs(test.images.mean().item() - mean) < 1e-3


def _copy_archives(target: Path, name: str) -> None:
    shutil.copytree(SHARED / name, target / name)


@needs_mnist
def test_corrupt_archive_is_refused_with_its_path(tmp_path):
    _copy_archives(tmp_path, "mnist")
    with gzip.open(tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz", "wb") as file:
        file.write(b"tampered")
    with pytest.raises(data.DatasetNotAvailable, match="t10k-labels-idx1-ubyte.gz is corrupt"):
        dgm.mnist("test", root=tmp_path, download=False)


def test_offline_error_names_the_files_and_the_fix(tmp_path, monkeypatch):
    mirrors, archives = data._IDX_SETS["mnist"]
    monkeypatch.setitem(data._IDX_SETS, "mnist", (("http://127.0.0.1:9/",), archives))
    with pytest.raises(data.DatasetNotAvailable) as error:
        dgm.mnist("train", root=tmp_path)
    message = str(error.value)
    assert "train-images-idx3-ubyte.gz is missing" in message
    assert "could not be downloaded" in message and "DGM_DATA" in message


@needs_mnist
def test_download_verifies_the_checksum(tmp_path, monkeypatch):
    mirrors, archives = data._IDX_SETS["fashion_mnist"]
    monkeypatch.setitem(data._IDX_SETS, "fashion_mnist", ((f"file://{SHARED / 'fashion_mnist'}/",), archives))
    test = dgm.fashion_mnist("test", root=tmp_path / "fresh")
    assert len(test) == 10000 and (tmp_path / "fresh" / "fashion_mnist" / "t10k-images-idx3-ubyte.gz").exists()
    wrong = {key: data._Archive(a.filename, "0" * 64) for key, a in archives.items()}
    monkeypatch.setitem(data._IDX_SETS, "fashion_mnist", ((f"file://{SHARED / 'fashion_mnist'}/",), wrong))
    with pytest.raises(data.DatasetNotAvailable, match="downloaded file has SHA-256"):
        dgm.fashion_mnist("test", root=tmp_path / "other")
    assert not list((tmp_path / "other").rglob("*.gz")), "a file with a wrong checksum must not be kept"


def test_data_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DGM_DATA", str(tmp_path))
    assert data.data_dir() == tmp_path
    monkeypatch.delenv("DGM_DATA")
    assert data.data_dir() == Path(data.__file__).resolve().parent.parent / "data"


def test_a_subset_is_the_first_images_of_the_split():
    whole, first = data.load_images("digits", "test"), data.load_images("digits[:5]", "test")
    assert torch.equal(first.images, whole.images[:5]) and torch.equal(first.labels, whole.labels[:5])
    assert first.name == "digits[:5]/test"
    assert data.parse_name("fashion_mnist[:300]") == ("fashion_mnist", 300) and data.parse_name("mnist") == ("mnist", None)
    for malformed in ("mnist[:0]", "mnist[:07]", "mnist[3]", "mnist[:]", "mn ist"):
        with pytest.raises(ValueError, match="malformed dataset name"):
            data.parse_name(malformed)


@pytest.mark.parametrize("name", data.TOY_DATASETS)
def test_toys_are_seeded_and_within_the_plotting_box(name):
    points = data.toy2d(name, 2000, seed=3)
    assert points.shape == (2000, 2) and torch.equal(points, data.toy2d(name, 2000, seed=3))
    assert not torch.equal(points, data.toy2d(name, 2000, seed=4))
    assert points.abs().max() < 3.5


def test_eight_gaussians_put_an_eighth_of_the_points_near_each_mode():
    points = data.toy2d("eight_gaussians", 8000, seed=0).double()
    modes = data.eight_gaussians_modes().double()
    assert torch.allclose(modes.norm(dim=1), torch.full((8,), data.EIGHT_GAUSSIANS_RADIUS, dtype=torch.float64))
    assert torch.allclose(torch.cdist(modes, modes).topk(2, largest=False).values[:, 1], torch.full((8,), 4 * math.sin(math.pi / 8), dtype=torch.float64))
    distance, nearest = torch.cdist(points, modes).min(1)
    counts = torch.bincount(nearest, minlength=8)
    assert ((counts - 1000).abs() < 5 * math.sqrt(1000 * 7 / 8)).all(), counts  # binomial, 5 standard deviations
    # The distance to the mode is Rayleigh(std): its mean is std sqrt(pi / 2).
    assert abs(distance.mean().item() - data.EIGHT_GAUSSIANS_STD * math.sqrt(math.pi / 2)) < 1e-3
