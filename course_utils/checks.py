"""Input validation in the spirit of scikit-learn's ``check_array``.

Every public function of the course checks what it is given and raises a
``TypeError`` (wrong kind of object) or ``ValueError`` (right kind, wrong
value) that says what was expected and what was received.
"""
from __future__ import annotations

import numbers
from typing import Iterable

import numpy as np
import torch


def check_array(x, name: str = "X", ndim: int | Iterable[int] | None = None,
                dtype_kind: str = "fiub", allow_nan: bool = False,
                min_rows: int | None = None) -> np.ndarray:
    """Return ``x`` as a numpy array after checking its type, rank, dtype and finiteness."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    if not isinstance(x, (np.ndarray, list, tuple)):
        raise TypeError(f"{name} must be a numpy array, list or torch tensor; got {type(x).__name__}")
    arr = np.asarray(x)
    if arr.dtype.kind not in dtype_kind:
        raise TypeError(f"{name} must have a numeric dtype; got dtype {arr.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            raise ValueError(f"{name} must be {' or '.join(f'{d}-D' for d in allowed)}; "
                             f"got a {arr.ndim}-D array of shape {arr.shape}")
    if min_rows is not None and (arr.ndim == 0 or arr.shape[0] < min_rows):
        raise ValueError(f"{name} needs at least {min_rows} rows; got shape {arr.shape}")
    if not allow_nan and arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf ({int((~np.isfinite(arr)).sum())} entries); "
                         "clean or impute the data first")
    return arr


def check_tensor(x, name: str = "x", ndim: int | Iterable[int] | None = None,
                 channels: int | None = None, allow_nan: bool = False) -> torch.Tensor:
    """Check a floating-point image-like tensor: type, rank, channel count and finiteness."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor; got dtype {x.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.dim() not in allowed:
            raise ValueError(f"{name} must be {' or '.join(f'{d}-D' for d in allowed)}; "
                             f"got shape {tuple(x.shape)}")
    if channels is not None and x.dim() >= 3 and x.shape[-3] != channels:
        raise ValueError(f"{name} must have {channels} channels (dim -3); got shape {tuple(x.shape)}")
    # min and max propagate NaN and show inf: one cheap reduction instead of a full boolean map.
    if not allow_nan and x.numel() and not torch.isfinite(torch.stack(torch.aminmax(x))).all():
        raise ValueError(f"{name} contains NaN or inf")
    return x


def check_scalar(value, name: str, kind=numbers.Real, low=None, high=None,
                 include_low: bool = True, include_high: bool = True):
    """Check a scalar's type and that it lies in [low, high] (ends optionally open)."""
    if isinstance(value, bool) or not isinstance(value, kind):
        expected = "an integer" if kind is numbers.Integral else "a number"
        raise TypeError(f"{name} must be {expected}; got {value!r} of type {type(value).__name__}")
    if isinstance(value, float) and not np.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value}")
    too_low = low is not None and (value < low if include_low else value <= low)
    too_high = high is not None and (value > high if include_high else value >= high)
    if too_low or too_high:
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        interval = f"{'[' if include_low else '('}{lo}, {hi}{']' if include_high else ')'}"
        raise ValueError(f"{name} must be in {interval}; got {value}")
    return value


def check_choice(value, name: str, choices: Iterable):
    """Check that ``value`` is one of ``choices``."""
    choices = list(choices)
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; expected one of {choices}")
    return value
