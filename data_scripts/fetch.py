#!/usr/bin/env python
"""Fetch the full datasets and AlexNet weights, for users with internet.

    python data_scripts/fetch.py [mnist] [fashion_mnist] [cifar10] [alexnet] [--all]
                                 [--dest DIR] [--timeout S]

The course never needs this: offline it uses data bundled in installed packages (see the
``fallback`` of each entry of ``course_utils.fetched.FETCHED``). Files go to ``--dest`` (default
``$COURSE_DATA_DIR`` or ``~/.local/share/interpreting-deep-networks``) in the layout
``course_utils.fetched`` reads.

Each file is streamed to a ``*.part`` file next to its destination, its SHA-256 is checked against
the table below, and only then is it renamed into place with ``os.replace``; so a file that exists
is complete, and a failed or interrupted download leaves nothing behind.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path, PurePosixPath

try:
    from course_utils.fetched import ALEXNET_FILE, FETCHED, data_dir, is_fetched
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from course_utils.fetched import ALEXNET_FILE, FETCHED, data_dir, is_fetched

# URLs and mirrors as torchvision 0.29 names them (datasets.MNIST.mirrors, datasets.FashionMNIST
# .mirrors, datasets.CIFAR10.url, models.AlexNet_Weights.IMAGENET1K_V1.url); a test checks that
# they still agree with the installed torchvision.
MNIST_MIRRORS = ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"]
FASHION_MNIST_MIRRORS = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
ALEXNET_URL = f"https://download.pytorch.org/models/{ALEXNET_FILE}"

# SHA-256 of the published files. Sources (none of these digests was computed here):
# * MNIST, Fashion-MNIST: tensorflow/datasets, tensorflow_datasets/url_checksums/mnist.txt and
#   fashion_mnist.txt (same files and sizes as torchvision's MD5-checked resources).
# * CIFAR-10 python tarball: tensorflow/datasets, tensorflow_datasets/url_checksums/cifar10.csv;
#   Keras' cifar10.load_data() pins the same digest (get_file(..., file_hash=...)).
# * AlexNet: torchvision only pins the first 8 hex digits (the "7be5be79" in the file name, checked
#   by torch.hub's hash_prefix); the full digest is the one published by several independent
#   projects that pin this file (e.g. LPIPS set-ups), and it starts with those 8 digits.
SHA256 = {
    ("mnist", "train-images-idx3-ubyte.gz"): "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    ("mnist", "train-labels-idx1-ubyte.gz"): "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    ("mnist", "t10k-images-idx3-ubyte.gz"): "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    ("mnist", "t10k-labels-idx1-ubyte.gz"): "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    ("fashion_mnist", "train-images-idx3-ubyte.gz"): "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    ("fashion_mnist", "train-labels-idx1-ubyte.gz"): "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    ("fashion_mnist", "t10k-images-idx3-ubyte.gz"): "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    ("fashion_mnist", "t10k-labels-idx1-ubyte.gz"): "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    ("cifar10", "cifar-10-python.tar.gz"): "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
    ("alexnet", ALEXNET_FILE): "7be5be791159472b1fbf3c69796f7cb30dca7ad8466c2df70058c37116cdee02",
}


def sources(name: str) -> list[tuple[str, list[str], str]]:
    """``(file name, candidate URLs, sha256)`` for each file that dataset ``name`` downloads."""
    files = {"mnist": [(f, [m + f for m in MNIST_MIRRORS]) for f in FETCHED["mnist"].files],
             "fashion_mnist": [(f, [m + f for m in FASHION_MNIST_MIRRORS])
                               for f in FETCHED["fashion_mnist"].files],
             "cifar10": [("cifar-10-python.tar.gz", [CIFAR10_URL])],
             "alexnet": [(ALEXNET_FILE, [ALEXNET_URL])]}[name]
    return [(f, urls, SHA256[name, f]) for f, urls in files]


class Offline(Exception):
    """No mirror of a file could be reached (as opposed to a server that answered wrongly)."""


def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(url: str, dest: str | os.PathLike, sha256: str,
             opener=urllib.request.urlopen, timeout: float = 5.0) -> Path:
    """Download ``url`` to ``dest`` if ``dest`` is not already there with SHA-256 ``sha256``.

    The bytes go to a ``.<name>.<random>.part`` file in ``dest``'s folder and are renamed into place
    only once their hash matches, so ``dest`` is either absent, the old file, or complete.
    ``opener(url, timeout=...)`` must return a context manager with ``read(n)`` (``urlopen`` does);
    a mismatching hash raises ``ValueError``, network errors propagate.
    """
    if not isinstance(sha256, str) or not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise ValueError(f"sha256 must be 64 lowercase hex digits; got {sha256!r}")
    if not (isinstance(timeout, (int, float)) and timeout > 0):
        raise ValueError(f"timeout must be a positive number of seconds; got {timeout!r}")
    dest = Path(dest)
    if dest.is_file() and sha256_of(dest) == sha256:
        return dest
    with opener(url, timeout=timeout) as response:
        # Create the temporary file only once the server answered: offline, nothing is written.
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        try:
            digest, done = hashlib.sha256(), 0
            total = int((getattr(response, "headers", None) or {}).get("Content-Length") or 0)
            show = bool(total) and sys.stderr.isatty()
            with os.fdopen(fd, "wb") as fh:
                for block in iter(lambda: response.read(1 << 20), b""):
                    digest.update(block)
                    fh.write(block)
                    done += len(block)
                    if show:
                        print(f"\r  {dest.name}: {100 * done // total:3d}% of {total / 1e6:.0f} MB",
                              end="", file=sys.stderr)
                fh.flush()
                os.fsync(fh.fileno())
            if show:
                print(file=sys.stderr)
            if digest.hexdigest() != sha256:
                raise ValueError(f"{url}: expected SHA-256 {sha256}, got {digest.hexdigest()} "
                                 f"({done} bytes); the file was discarded")
            os.replace(tmp, dest)
        except BaseException:  # includes KeyboardInterrupt: never leave a half-written file
            Path(tmp).unlink(missing_ok=True)
            raise
    return dest


def _download_any(urls, dest, sha256, opener, timeout) -> Path:
    """Try each mirror in turn; raise :class:`Offline` if none could even be reached."""
    errors, reached = [], False
    for url in urls:
        try:
            return download(url, dest, sha256, opener=opener, timeout=timeout)
        except urllib.error.HTTPError as err:  # the server answered, just not with the file
            reached = True
            errors.append(f"{url}: HTTP {err.code} {err.reason}")
        except urllib.error.URLError as err:  # urlopen's wrapper for DNS, refused, connect timeout
            errors.append(f"{url}: {err.reason}")
        except (ValueError, OSError) as err:  # wrong hash, or the connection broke mid-way
            reached = True
            errors.append(f"{url}: {err}")
    if not reached:
        raise Offline("; ".join(errors))
    raise RuntimeError(f"could not download {Path(dest).name}: " + "; ".join(errors))


def _extract_cifar(tarball: Path, target: Path) -> None:
    """Extract ``cifar-10-batches-py`` from ``tarball`` to ``target``, atomically and safely."""
    with tarfile.open(tarball, "r:gz") as tar:
        members = tar.getmembers()
        for m in members:
            parts = PurePosixPath(m.name).parts
            # Only plain files and folders inside cifar-10-batches-py/: no absolute paths, no
            # "..", no links, so nothing can land outside the temporary folder.
            if (not parts or parts[0] != target.name or ".." in parts
                    or PurePosixPath(m.name).is_absolute() or not (m.isfile() or m.isdir())):
                raise ValueError(f"{tarball}: refusing unsafe or unexpected member {m.name!r}")
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part"))
        try:
            extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(tmp, members=members, **extra)
            if target.exists():  # an incomplete earlier copy: is_fetched said it is not usable
                shutil.rmtree(target)
            os.replace(tmp / target.name, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def fetch(name: str, root: str | os.PathLike, opener=urllib.request.urlopen,
          timeout: float = 5.0) -> Path:
    """Download (and for CIFAR-10 extract) dataset ``name`` under ``root``; return its folder."""
    entry = FETCHED[name]
    folder = entry.path(root)
    if is_fetched(name, root):
        print(f"[fetch] {name}: already present in {folder}")
        return folder
    for file, urls, sha in sources(name):
        dest = (folder.parent if name == "cifar10" else folder) / file
        print(f"[fetch] {name}: {file}")
        _download_any(urls, dest, sha, opener, timeout)
    if name == "cifar10":
        tarball = folder.parent / "cifar-10-python.tar.gz"
        _extract_cifar(tarball, folder)
        tarball.unlink()  # 170 MB that nothing reads once the batches are extracted
    if not is_fetched(name, root):
        raise RuntimeError(f"{name}: files downloaded but {folder} is still incomplete")
    print(f"[fetch] {name}: ready in {folder}")
    return folder


def offline_message(names, reason: str) -> str:
    """One paragraph: what failed, and what the course uses instead."""
    instead = "; ".join(f"{n} -> {FETCHED[n].fallback}" for n in names)
    return (f"Could not download {names[0]}: no mirror could be reached ({reason}). You seem to be "
            f"offline. Nothing was left half-written. The course does not need these files; it "
            f"uses bundled data instead: {instead}. Run this script again when you have internet.")


def main(argv=None, opener=urllib.request.urlopen) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"datasets to fetch: {', '.join(FETCHED)}")
    parser.add_argument("--all", action="store_true", help="fetch everything")
    parser.add_argument("--dest", type=Path, default=None, help="data folder (default: "
                        "$COURSE_DATA_DIR, else ~/.local/share/interpreting-deep-networks)")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for a server")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in FETCHED]
    if unknown:
        parser.error(f"unknown dataset {unknown[0]!r}; expected one of {list(FETCHED)}")
    names = list(FETCHED) if args.all else list(dict.fromkeys(args.names))
    if not names:
        parser.print_usage(sys.stderr)
        print("fetch.py: name at least one dataset, or --all", file=sys.stderr)
        return 2
    if not args.timeout > 0:
        parser.error(f"--timeout must be positive; got {args.timeout}")
    root = args.dest if args.dest is not None else data_dir()
    failed = []
    for i, name in enumerate(names):
        try:
            fetch(name, root, opener=opener, timeout=args.timeout)
        except Offline as err:
            # One unreachable server means the rest would time out too: stop instead of waiting.
            missing = [n for n in names[i:] if not is_fetched(n, root)]
            print(offline_message(missing, str(err)), file=sys.stderr)
            return 1
        except (ValueError, RuntimeError, OSError, tarfile.TarError) as err:
            print(f"[fetch] {name}: failed: {err}", file=sys.stderr)
            failed.append(name)
    if failed:
        print(f"[fetch] not fetched: {', '.join(failed)}; the course uses instead: "
              + "; ".join(f"{n} -> {FETCHED[n].fallback}" for n in failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
