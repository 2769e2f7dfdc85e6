"""Datasets of the course, as tensors.

Every loader returns an :class:`ImageDataset`: images as ``float32`` in ``[0, 1]`` with shape
``(N, 1, H, W)`` and integer labels ``(N,)``. Binarisation is a separate step (:func:`binarize`,
:func:`stochastic_binarize`) so that a model for binary images and a model for grey levels read
the same data.

Three kinds of data:

- **Generated 2D toys** (:func:`toy2d`): two moons, two spirals, a checkerboard; point clouds
  ``(N, 2)`` drawn with a seed, for flows and diffusion models whose densities can be plotted.
- **Embedded** (always available, no files, no network): scikit-learn's 8x8 handwritten digits,
  split into train and test by a fixed seeded permutation. The quick profile uses these.
- **MNIST and Fashion-MNIST** (the full profile), read from the official IDX archives in the data
  directory (:func:`data_dir`: ``$DGM_DATA`` if set, else ``data/`` of the course repository, or
  ``~/.cache/dgm-course`` when the library is installed from its wheel). Each
  archive's SHA-256 is verified before use. A missing archive is downloaded (and verified) when
  ``download=True`` and the machine is online; offline, the loader raises
  :class:`DatasetNotAvailable` naming the files, the folder and how to provide them.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import re
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "ImageDataset",
    "DatasetNotAvailable",
    "DIGITS_SPLIT_SEED",
    "data_dir",
    "digits",
    "mnist",
    "fashion_mnist",
    "load_images",
    "parse_name",
    "binarize",
    "stochastic_binarize",
    "to_levels",
    "toy2d",
    "eight_gaussians_modes",
    "TOY_DATASETS",
]

DIGITS_SPLIT_SEED = 0
"""Seed of the permutation that splits the 1,797 digits into 1,437 train and 360 test images."""
DIGITS_TEST_SIZE = 360


@dataclass(frozen=True)
class ImageDataset:
    """Images and labels of one split.

    Attributes:
        images: ``float32`` tensor ``(N, 1, H, W)`` with values in ``[0, 1]``.
        labels: ``int64`` tensor ``(N,)``.
        name: dataset and split, e.g. ``"digits/train"``.
    """

    images: Tensor
    labels: Tensor
    name: str

    def __len__(self) -> int:
        return self.images.shape[0]


class DatasetNotAvailable(RuntimeError):
    """A dataset's files are missing (or corrupt) and could not be downloaded."""


# --------------------------------------------------------------------------------------------------
# Embedded: scikit-learn's 8x8 digits


def digits(split: str = "train") -> ImageDataset:
    """The 8x8 handwritten digits that ship with scikit-learn (UCI optdigits test set).

    Pixel values 0..16 are scaled to ``[0, 1]``. The split is a fixed permutation drawn with
    :data:`DIGITS_SPLIT_SEED`: 1,437 train and 360 test images, the same on every machine.

    Args:
        split: ``"train"`` or ``"test"``.

    Returns:
        Images ``(N, 1, 8, 8)`` and labels ``(N,)``.
    """
    from sklearn.datasets import load_digits

    _check_split(split)
    bunch = load_digits()
    images = torch.from_numpy(bunch.images.astype(np.float32) / 16.0).unsqueeze(1)  # (1797, 1, 8, 8)
    labels = torch.from_numpy(bunch.target.astype(np.int64))
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(DIGITS_SPLIT_SEED))
    index = order[:DIGITS_TEST_SIZE] if split == "test" else order[DIGITS_TEST_SIZE:]
    return ImageDataset(images[index], labels[index], f"digits/{split}")


# --------------------------------------------------------------------------------------------------
# MNIST and Fashion-MNIST from the official IDX archives


@dataclass(frozen=True)
class _Archive:
    filename: str
    sha256: str


_IDX_SETS: dict[str, tuple[tuple[str, ...], dict[str, _Archive]]] = {
    "mnist": (
        (
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
        {
            "train-images": _Archive("train-images-idx3-ubyte.gz", "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
            "train-labels": _Archive("train-labels-idx1-ubyte.gz", "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
            "test-images": _Archive("t10k-images-idx3-ubyte.gz", "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
            "test-labels": _Archive("t10k-labels-idx1-ubyte.gz", "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
        },
    ),
    "fashion_mnist": (
        ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        {
            "train-images": _Archive("train-images-idx3-ubyte.gz", "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
            "train-labels": _Archive("train-labels-idx1-ubyte.gz", "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
            "test-images": _Archive("t10k-images-idx3-ubyte.gz", "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
            "test-labels": _Archive("t10k-labels-idx1-ubyte.gz", "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
        },
    ),
}


def data_dir() -> Path:
    """The folder that holds ``mnist/`` and ``fashion_mnist/``.

    ``$DGM_DATA`` when set; otherwise ``data/`` at the root of the course repository when the
    library runs from a checkout (an editable install); otherwise, when it is installed from its
    wheel (students, Colab), ``$XDG_CACHE_HOME/dgm-course`` (default ``~/.cache/dgm-course``).
    """
    if "DGM_DATA" in os.environ:
        return Path(os.environ["DGM_DATA"]).expanduser()
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file():
        return checkout / "data"
    return Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "dgm-course"


def mnist(split: str = "train", *, root: str | Path | None = None, download: bool = True) -> ImageDataset:
    """MNIST handwritten digits, ``(N, 1, 28, 28)``: 60,000 train and 10,000 test images.

    Args:
        split: ``"train"`` or ``"test"``.
        root: data folder; defaults to :func:`data_dir`.
        download: fetch missing archives from the official mirrors (checksums verified).

    Raises:
        DatasetNotAvailable: an archive is missing or corrupt and could not be downloaded.
    """
    return _load_idx("mnist", split, root, download)


def fashion_mnist(split: str = "train", *, root: str | Path | None = None, download: bool = True) -> ImageDataset:
    """Fashion-MNIST (Zalando article images), ``(N, 1, 28, 28)``: 60,000 train and 10,000 test.

    Arguments and errors as in :func:`mnist`.
    """
    return _load_idx("fashion_mnist", split, root, download)


def load_images(name: str, split: str = "train", **kwargs) -> ImageDataset:
    """Any course image dataset by name: ``"digits"``, ``"mnist"`` or ``"fashion_mnist"``.

    A name may end in ``[:n]``, e.g. ``"mnist[:300]"``: the first ``n`` images of the split (the
    grader's CPU smoke runs of the full profile train and evaluate on such subsets).

    Raises:
        ValueError: an unknown name, or a malformed subset.
    """
    base, limit = parse_name(name)
    loaders = {"digits": digits, "mnist": mnist, "fashion_mnist": fashion_mnist}
    if base not in loaders:
        raise ValueError(f"unknown dataset {base!r}; expected one of {sorted(loaders)}")
    dataset = loaders[base](split, **kwargs) if kwargs else loaders[base](split)
    if limit is None:
        return dataset
    return ImageDataset(dataset.images[:limit], dataset.labels[:limit], f"{base}[:{limit}]/{split}")


def parse_name(name: str) -> tuple[str, int | None]:
    """``"mnist[:300]"`` -> ``("mnist", 300)``; ``"mnist"`` -> ``("mnist", None)``.

    Raises:
        ValueError: the name is not ``base`` or ``base[:n]`` with ``n >= 1``.
    """
    match = re.fullmatch(r"(\w+)(?:\[:(\d+)\])?", name)
    if match is None or (match[2] or "1").startswith("0"):
        raise ValueError(f"malformed dataset name {name!r}: expected e.g. 'mnist' or 'mnist[:300]' (the first 300 images)")
    return match[1], int(match[2]) if match[2] else None


def _load_idx(name: str, split: str, root: str | Path | None, download: bool) -> ImageDataset:
    _check_split(split)
    folder = Path(root).expanduser() if root is not None else data_dir()
    folder = folder / name
    mirrors, archives = _IDX_SETS[name]
    images_archive, labels_archive = archives[f"{split}-images"], archives[f"{split}-labels"]
    for archive in (images_archive, labels_archive):
        _ensure_archive(folder, archive, mirrors, download, name)
    images = _read_idx(folder / images_archive.filename, magic=2051)  # (N, 28, 28) uint8
    labels = _read_idx(folder / labels_archive.filename, magic=2049)  # (N,) uint8
    return ImageDataset(
        torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1),  # (N, 1, 28, 28)
        torch.from_numpy(labels.astype(np.int64)),
        f"{name}/{split}",
    )


def _ensure_archive(folder: Path, archive: _Archive, mirrors: tuple[str, ...], download: bool, name: str) -> None:
    """Make sure ``folder/archive`` exists with the right SHA-256, downloading it if allowed."""
    path = folder / archive.filename
    if path.exists():
        actual = _sha256(path)
        if actual == archive.sha256:
            return
        problem = f"{path} is corrupt (SHA-256 {actual}, expected {archive.sha256})"
    else:
        problem = f"{path} is missing"
    if not download:
        raise DatasetNotAvailable(f"{problem}; downloading is switched off. {_how_to_provide(name, folder)}")
    errors = []
    for mirror in mirrors:
        try:
            _download(mirror + archive.filename, path, archive.sha256)
            return
        except (OSError, urllib.error.URLError, ValueError) as error:
            errors.append(f"{mirror}: {error}")
    raise DatasetNotAvailable(
        f"{problem} and could not be downloaded ({'; '.join(errors)}). {_how_to_provide(name, folder)}"
    )


def _how_to_provide(name: str, folder: Path) -> str:
    files = ", ".join(a.filename for a in _IDX_SETS[name][1].values())
    return (
        f"To use {name} offline, copy the official archives ({files}) into {folder}/, "
        f"or point DGM_DATA at a folder that holds {name}/ with them."
    )


def _download(url: str, path: Path, sha256: str, timeout: float = 30.0) -> None:
    """Download ``url`` to ``path`` through a temporary file; raise ``ValueError`` on a bad checksum."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".part")
    with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as out:
        shutil.copyfileobj(response, out)
    actual = _sha256(partial)
    if actual != sha256:
        partial.unlink()
        raise ValueError(f"downloaded file has SHA-256 {actual}, expected {sha256}")
    partial.replace(path)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_idx(path: Path, magic: int) -> np.ndarray:
    """Read a gzipped IDX file: a big-endian header of uint32s, then row-major uint8 data."""
    raw = gzip.open(path, "rb").read()
    found_magic = int.from_bytes(raw[:4], "big")
    if found_magic != magic:
        raise DatasetNotAvailable(f"{path} is not an IDX file with magic {magic} (found {found_magic})")
    n_dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(n_dims)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * n_dims).reshape(shape)


def _check_split(split: str) -> None:
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")


# --------------------------------------------------------------------------------------------------
# Binarisation


def binarize(images: Tensor, threshold: float = 0.5) -> Tensor:
    """Deterministic binarisation: ``1.0`` where ``images > threshold``, else ``0.0``.

    Args:
        images: values in ``[0, 1]``, any shape.
        threshold: cut-off; the course uses 0.5 for every dataset.
    """
    return (images > threshold).to(images.dtype)


def stochastic_binarize(images: Tensor, seed: int) -> Tensor:
    """Each pixel drawn once as ``Bernoulli(intensity)`` with a fixed seed.

    This is the protocol behind published likelihoods on binarized MNIST (e.g. PixelCNN's
    81.3 nats per image): the data set is sampled once and then kept fixed.
    """
    generator = torch.Generator().manual_seed(seed)
    return torch.bernoulli(images, generator=generator)


def to_levels(images: Tensor, n_levels: int) -> Tensor:
    """Grey levels ``0, 1, ..., n_levels - 1`` (as float) of images in ``[0, 1]``: 17 for digits, 256 for MNIST."""
    return (images * (n_levels - 1)).round()


# --------------------------------------------------------------------------------------------------
# Generated 2D toys

TOY_DATASETS = ("moons", "spirals", "checkerboard", "eight_gaussians", "swiss_roll")
EIGHT_GAUSSIANS_RADIUS, EIGHT_GAUSSIANS_STD = 2.0, 0.02
"""The ring of ``"eight_gaussians"``: mode ``k`` at ``2 (cos k pi/4, sin k pi/4)``, isotropic standard deviation 0.02
(the layout of Gulrajani et al.'s toy experiments)."""


def eight_gaussians_modes() -> Tensor:
    """The centres ``(8, 2)`` of ``toy2d("eight_gaussians")``: ``2 (cos k pi/4, sin k pi/4)``, k = 0..7."""
    angle = torch.arange(8) * (math.pi / 4)
    return EIGHT_GAUSSIANS_RADIUS * torch.stack([torch.cos(angle), torch.sin(angle)], 1)


def toy2d(name: str, n: int, seed: int = 0) -> Tensor:
    """``n`` points ``(n, 2)`` of a 2D toy distribution, roughly within ``[-3, 3]^2``.

    Args:
        name: ``"moons"`` (two interleaved half circles), ``"spirals"`` (two spiral arms) or
            ``"checkerboard"`` (uniform on the dark squares of a 4x4 board), ``"eight_gaussians"`` (eight
            equally likely narrow Gaussians on a ring, see :data:`EIGHT_GAUSSIANS_RADIUS`) or
            ``"swiss_roll"`` (a noisy spiral sheet seen from above).
        n: number of points.
        seed: the same seed gives the same points.
    """
    generator = torch.Generator().manual_seed(seed)
    if name == "moons":
        angle = torch.rand(n, generator=generator) * math.pi
        upper = torch.rand(n, generator=generator) < 0.5
        x = torch.where(upper, torch.cos(angle), 1 - torch.cos(angle))
        y = torch.where(upper, torch.sin(angle), 0.5 - torch.sin(angle))
        points = torch.stack([x - 0.5, y - 0.25], 1) * 2
        return points + 0.1 * torch.randn(n, 2, generator=generator)
    if name == "spirals":
        radius = torch.sqrt(torch.rand(n, generator=generator)) * 3
        arm = (torch.rand(n, generator=generator) < 0.5).float()
        angle = radius * 2.5 + arm * math.pi
        points = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], 1)
        return points + 0.1 * torch.randn(n, 2, generator=generator)
    if name == "checkerboard":
        cell = torch.randint(0, 8, (n,), generator=generator)  # 8 dark squares of a 4x4 board
        row = cell // 2
        col = 2 * (cell % 2) + row % 2
        offset = torch.rand(n, 2, generator=generator)
        return (torch.stack([col, row], 1) + offset) * 1.5 - 3
    if name == "eight_gaussians":
        centres = eight_gaussians_modes()[torch.randint(0, 8, (n,), generator=generator)]
        return centres + EIGHT_GAUSSIANS_STD * torch.randn(n, 2, generator=generator)
    if name == "swiss_roll":
        t = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=generator))  # angle in [1.5 pi, 4.5 pi]
        points = torch.stack([t * torch.cos(t), t * torch.sin(t)], 1) / 5
        return points + 0.1 * torch.randn(n, 2, generator=generator)
    raise ValueError(f"unknown toy dataset {name!r}; expected one of {TOY_DATASETS}")
