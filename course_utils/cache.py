"""Checkpoint cache: load a trained model if its exact training config was seen before, else train.

Files are written atomically (temporary file in the same folder, then ``os.replace``), so an
interrupted write never leaves a file that looks complete. Each file starts with a magic line and
the SHA-256 of its payload; a truncated or corrupted file fails that check and is retrained.
Payloads are read with ``torch.load(weights_only=True)``, so a cache file cannot run code.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import warnings
from pathlib import Path

import torch

CACHE_ENV = "COURSE_CACHE_DIR"
_MAGIC = b"COURSE-CKPT-1\n"


def cache_dir() -> Path:
    """The cache folder: ``$COURSE_CACHE_DIR`` if set, else ``~/.cache/interpreting-deep-networks``."""
    root = os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "interpreting-deep-networks"
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_key(config: dict) -> str:
    """A short stable hash of a JSON-serialisable config (key order does not matter)."""
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict; got {type(config).__name__}")
    try:
        text = json.dumps(config, sort_keys=True, separators=(",", ":"))
    except TypeError as err:
        raise TypeError(f"config must be JSON-serialisable: {err}") from None
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` so that readers see either the old file or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_checkpoint(path: str | os.PathLike, payload: dict) -> Path:
    """Serialise ``payload`` (tensors, numbers, strings, lists, dicts) with an integrity header."""
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    body = buffer.getvalue()
    header = _MAGIC + hashlib.sha256(body).hexdigest().encode() + b"\n"
    return atomic_write_bytes(path, header + body)


class CorruptCheckpointError(ValueError):
    """A cache file exists but is truncated, altered or not a course checkpoint."""


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Read a file written by :func:`save_checkpoint`, verifying its checksum first."""
    raw = Path(path).read_bytes()
    if not raw.startswith(_MAGIC):
        raise CorruptCheckpointError(f"{path} is not a course checkpoint (bad header)")
    digest, _, body = raw[len(_MAGIC):].partition(b"\n")
    if hashlib.sha256(body).hexdigest().encode() != digest:
        raise CorruptCheckpointError(f"{path} is truncated or corrupted (checksum mismatch)")
    return torch.load(io.BytesIO(body), weights_only=True, map_location="cpu")


def _keyed(config: dict) -> dict:
    from .train import seed_offset
    # Runs with shifted seeds (benchmarks/robustness.py) never share files with the ordinary ones.
    return {**config, "seed_offset": seed_offset()} if seed_offset() else config


def cache_path(name: str, config: dict) -> Path:
    """Where :func:`cached` keeps ``(name, config)``; the file exists once it has been computed."""
    return cache_dir() / f"{name}-{config_key(_keyed(config))}.pt"


def cached(name: str, config: dict, compute, verbose: bool = True) -> dict:
    """Return ``compute()``'s payload dict, from the cache when ``(name, config)`` was seen before.

    A corrupt file is reported, removed and recomputed; it is never loaded silently.
    """
    path, config = cache_path(name, config), _keyed(config)
    if path.exists():
        try:
            payload = load_checkpoint(path)
            if payload.get("config") == json.loads(json.dumps(config)):
                if verbose:
                    print(f"[cache] loaded {name} from {path}")
                return payload
            warnings.warn(f"{path} holds a different config; recomputing", stacklevel=2)
        except Exception as err:  # any failure to read means the file cannot be trusted
            warnings.warn(f"discarding unreadable cache file {path}: {err}", stacklevel=2)
        path.unlink(missing_ok=True)
    payload = dict(compute())
    payload["config"] = json.loads(json.dumps(config))
    save_checkpoint(path, payload)
    if verbose:
        print(f"[cache] saved {name} to {path}")
    return payload
