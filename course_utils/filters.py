"""Lecture 02: looking at first-layer filters, and at what deeper units respond to.

* ``gabor`` / ``fit_gabor``: a 2-D Gabor fitted to each filter as displayed in pixel space, with
  its R² (fraction of variance explained) and wavelength. "Gabor-like" means R² >= 0.6 *and*
  band-pass (wavelength <= kernel size): smooth blobs and colour ramps also fit a Gabor well, so
  R² alone proves little; ``chance_filters`` measures how well noise scores.
* ``ica_filters``: FastICA on natural-image patches of the same photos, the reference for what
  natural-image statistics alone produce.
* ``train_photo_cnn``: the course ``PhotoCNN`` trained on crops of the bundled photos, optionally on
  whitened input. Its task is either a classification (which photo a crop came from, how it was
  rotated) or sparse coding: conv1 alone learns to rebuild its whitened input from a sparse code
  (``sparse_coding_loss``), the task that gives Gabors. ``effective_filters`` maps conv1 back to pixel space.
* ``top_patches`` / ``receptive_field`` / ``two_thing_units``: the nine strongest stimuli of a
  deeper unit (Zeiler & Fergus), and a search for "vodka & potato" units.
"""
from __future__ import annotations

import functools
import math
import numbers
import time
import warnings
import weakref
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .checks import check_array, check_choice, check_scalar, check_tensor

GABOR_R2_THRESHOLD = 0.6
# The verdict reads the fitted Gabor as a picture (its spectrum), not its parameters, which are
# degenerate (a one-pixel dot fits as a lambda = 2 grating under a tiny envelope or as a blob).
MIN_WAVELENGTH = 2.5      # px: at lambda = 2 a "grating" is alternate pixels, a dot or a checkerboard
MAX_DC_RATIO = 0.5        # band-pass: response to a uniform field at most half the peak response
MIN_ORIENTATION_SHARE = 0.45   # share of power within +-22.5 deg of the peak orientation (isotropic: 0.25)


# ----------------------------------------------------------------------------- the Gabor function

def _grid(size: int):
    """Pixel coordinates centred on the kernel: x grows to the right, y downwards."""
    r = np.arange(size) - (size - 1) / 2
    return np.meshgrid(r, r, indexing="xy")


def gabor(size: int, x0: float = 0.0, y0: float = 0.0, theta: float = 0.0, sigma_x: float = 2.0,
          sigma_y: float = 2.0, wavelength: float = 4.0, phase: float = 0.0, amplitude: float = 1.0,
          offset: float = 0.0) -> np.ndarray:
    """A ``size`` x ``size`` Gabor: a cosine grating of ``wavelength`` pixels under a Gaussian envelope.

        g(x, y) = offset + amplitude * exp(-x'^2 / (2 sigma_x^2) - y'^2 / (2 sigma_y^2)) * cos(2 pi x' / wavelength + phase)

    with (x', y') the pixel coordinates relative to the centre (x0, y0), rotated by ``theta``: the
    grating varies along x' (direction ``theta``) and is constant along y'.
    """
    check_scalar(size, "size", numbers.Integral, low=2)
    check_scalar(sigma_x, "sigma_x", low=0, include_low=False)
    check_scalar(sigma_y, "sigma_y", low=0, include_low=False)
    check_scalar(wavelength, "wavelength", low=0, include_low=False)
    env, carrier = _envelope_and_carrier(_grid(size), x0, y0, theta, sigma_x, sigma_y, wavelength)
    return offset + amplitude * env * np.cos(carrier + phase)


def _envelope_and_carrier(grid, x0, y0, theta, sigma_x, sigma_y, wavelength):
    x, y = grid
    xr = (x - x0) * np.cos(theta) + (y - y0) * np.sin(theta)
    yr = -(x - x0) * np.sin(theta) + (y - y0) * np.cos(theta)
    env = np.exp(-0.5 * (xr / sigma_x) ** 2 - 0.5 * (yr / sigma_y) ** 2)
    return env, 2 * np.pi * xr / wavelength


def r_squared(target, fitted) -> float:
    """Fraction of variance explained, 1 - SS_res / SS_tot (sklearn's ``r2_score`` on flattened arrays).

    A constant target has no variance to explain: this returns 0.0 for it (not 1.0), so a dead filter
    never counts as Gabor-like.
    """
    target = check_array(target, "target").ravel().astype(np.float64)
    fitted = check_array(fitted, "fitted").ravel().astype(np.float64)
    if target.shape != fitted.shape:
        raise ValueError(f"target and fitted must have the same size; got {target.size} and {fitted.size}")
    ss_tot = float(((target - target.mean()) ** 2).sum())
    if ss_tot <= 1e-20 * max(1.0, float((target ** 2).sum())):
        return 0.0
    return 1.0 - float(((target - fitted) ** 2).sum()) / ss_tot


_SPECTRUM_CACHE: dict = {}   # (id(fitted), id(params)) -> (weakrefs, copies, spectrum): see GaborFit.spectrum


class GaborFit(NamedTuple):
    """Per-filter results of :func:`fit_gabor` (arrays of length N)."""
    r2: np.ndarray            # fraction of the displayed filter's variance the Gabor explains
    wavelength: np.ndarray    # fitted wavelength in pixels
    params: np.ndarray        # (N, 9): x0, y0, theta, sigma_x, sigma_y, wavelength, phase, amplitude, offset
    fitted: np.ndarray        # (N, k, k): the fitted Gabors
    displayed: np.ndarray     # (N, k, k): the grey-level map that was fitted (see ``to_spatial``)
    kernel_size: int

    def spectrum(self) -> dict:
        """:func:`gabor_spectrum` of the fitted Gabors (offset removed); computed once per fit (the
        verdict properties and ``summary`` all read it)."""
        key = (id(self.fitted), id(self.params))
        hit = _SPECTRUM_CACHE.get(key)
        if hit is not None and hit[0]() is self.fitted and hit[1]() is self.params \
                and np.array_equal(hit[2], self.fitted) and np.array_equal(hit[3], self.params[:, 8]):
            return {k: v.copy() for k, v in hit[4].items()}
        spec = gabor_spectrum(self.fitted - self.params[:, 8, None, None])
        if len(_SPECTRUM_CACHE) > 256:
            _SPECTRUM_CACHE.clear()
        _SPECTRUM_CACHE[key] = (weakref.ref(self.fitted), weakref.ref(self.params), self.fitted.copy(),
                                self.params[:, 8].copy(), spec)
        return {k: v.copy() for k, v in spec.items()}

    @property
    def peak_wavelength(self) -> np.ndarray:
        """Wavelength (px) at which the fitted Gabor's spectrum peaks; inf for a low-pass blob."""
        return self.spectrum()["peak_wavelength"]

    @property
    def band_pass(self) -> np.ndarray:
        """The fitted Gabor passes a band: its DC response is at most ``MAX_DC_RATIO`` of its peak,
        and the peak lies between ``MIN_WAVELENGTH`` px and twice the kernel size."""
        spec = self.spectrum()
        return (spec["dc_ratio"] <= MAX_DC_RATIO) & is_band_pass(spec["peak_wavelength"], self.kernel_size)

    @property
    def oriented(self) -> np.ndarray:
        """The fitted Gabor prefers one orientation (a centre-surround or a dot does not)."""
        return self.spectrum()["orientation_share"] >= MIN_ORIENTATION_SHARE

    @property
    def gabor_like(self) -> np.ndarray:
        return (self.r2 >= GABOR_R2_THRESHOLD) & self.band_pass & self.oriented

    def summary(self) -> dict:
        return {"n_filters": int(len(self.r2)), "kernel_size": int(self.kernel_size),
                "median_r2": float(np.median(self.r2)), "band_pass_fraction": float(self.band_pass.mean()),
                "oriented_fraction": float(self.oriented.mean()),
                "gabor_like_fraction": float(self.gabor_like.mean()),
                "median_wavelength": float(np.median(self.peak_wavelength)),
                "median_fitted_wavelength": float(np.median(self.wavelength))}


def gabor_spectrum(maps, pad: int = 64) -> dict:
    """What a filter passes, read from its zero-padded Fourier amplitude |F(f)|, f in cycles/px.

    ``maps``: (N, k, k) (or (k, k)). Returns arrays of length N: ``peak_wavelength`` (1 / |f| at the
    peak of |F|; inf when the peak is at f = 0), ``dc_ratio`` (|F(0)| / max |F|: 1 for a blob, 0 for
    a zero-mean grating) and ``orientation_share`` (the share of power |F|^2 within +-22.5 degrees of
    the peak's orientation: 0.25 for an isotropic filter, near 1 for a long grating).
    """
    arr = check_array(maps, "maps", ndim=(2, 3)).astype(np.float64)
    if arr.ndim == 2:
        arr = arr[None]
    check_scalar(pad, "pad", numbers.Integral, low=max(arr.shape[-2:]))
    amp = np.abs(np.fft.fft2(arr, s=(pad, pad)))
    f = np.fft.fftfreq(pad)
    fx, fy = np.meshgrid(f, f, indexing="xy")
    flat = amp.reshape(len(arr), -1)
    peak = flat.argmax(1)
    top = np.maximum(flat.max(1), 1e-300)
    f_peak = np.hypot(fx, fy).ravel()[peak]
    angle = np.arctan2(fy, fx)
    off = np.abs(np.angle(np.exp(2j * (angle[None] - angle.ravel()[peak][:, None, None])))) / 2
    power = amp ** 2
    share = (power * (off < np.pi / 8)).sum((1, 2)) / np.maximum(power.sum((1, 2)), 1e-300)
    with np.errstate(divide="ignore"):
        wavelength = np.where(f_peak > 0, 1 / np.where(f_peak > 0, f_peak, 1), np.inf)
    return {"peak_wavelength": wavelength, "dc_ratio": amp[:, 0, 0] / top, "orientation_share": share}


def live_filters(filters, threshold: float = 0.05) -> np.ndarray:
    """Mask of filters whose norm is at least ``threshold`` times the largest one's.

    Weight decay drives filters that the task never uses (dead ReLUs) towards zero; what is left of
    them is noise at a tiny scale, which a per-filter colour scale would blow up on screen.
    """
    arr = check_array(filters, "filters", ndim=(3, 4))
    check_scalar(threshold, "threshold", low=0, high=1)
    norms = np.sqrt((arr.reshape(len(arr), -1).astype(np.float64) ** 2).sum(1))
    return norms >= threshold * max(norms.max(), 1e-30)


def is_band_pass(wavelength, kernel_size: int) -> np.ndarray:
    """The wavelength part of the band-pass test: ``MIN_WAVELENGTH`` <= wavelength <= 2 * kernel size.

    Finer than 2.5 px a "grating" is a one-pixel dot or a checkerboard; up to twice the kernel, a
    single edge (one half-cycle each side) still counts; longer is a ramp.
    """
    check_scalar(kernel_size, "kernel_size", numbers.Integral, low=2)
    wavelength = check_array(wavelength, "wavelength", allow_nan=True)   # inf (a blob) is allowed
    return (wavelength >= MIN_WAVELENGTH) & (wavelength <= 2 * kernel_size)


def to_spatial(filters) -> np.ndarray:
    """Filters as grey-level maps (N, k, k), the way they are fitted.

    Accepts (k, k), (N, k, k) or (N, C, k, k). A colour filter is reduced to its dominant colour
    component: the first singular vector of its (C, k*k) matrix, signed so that the map correlates
    positively with the channel mean. For a filter whose channels share one spatial pattern this is
    exactly that pattern; ``colour_fraction`` says how much of the filter it keeps.
    """
    arr = check_array(filters, "filters", ndim=(2, 3, 4)).astype(np.float64)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.shape[-1] != arr.shape[-2]:
        raise ValueError(f"filters must be square (..., k, k); got shape {arr.shape}")
    if arr.shape[-1] < 3:
        raise ValueError(f"filters must be at least 3x3 to fit a Gabor; got shape {arr.shape}")
    if arr.ndim == 3:
        return arr
    n, c, k, _ = arr.shape
    flat = arr.reshape(n, c, k * k)
    _, s, vt = np.linalg.svd(flat, full_matrices=False)
    maps = vt[:, 0, :] * s[:, :1]
    sign = np.sign(np.einsum("np,np->n", maps, flat.mean(1)))
    sign[sign == 0] = 1
    return (maps * sign[:, None]).reshape(n, k, k)


def colour_fraction(filters) -> np.ndarray:
    """Share of each colour filter's energy in its dominant colour component (1.0 for grey filters)."""
    arr = check_array(filters, "filters", ndim=4).astype(np.float64)
    s = np.linalg.svd(arr.reshape(arr.shape[0], arr.shape[1], -1), compute_uv=False)
    return (s[:, 0] ** 2) / np.maximum((s ** 2).sum(1), 1e-30)


def _vp_model(p: np.ndarray, grid, targets: np.ndarray):
    """Variable projection, batched: for nonlinear parameters ``p`` (B, 6) the amplitude, phase and
    offset follow by linear least squares. Returns the fitted maps (B, P) and the linear coefficients."""
    x, y = (g.ravel()[None] for g in grid)
    x0, y0, theta, sx, sy, wl = (p[:, i:i + 1] for i in range(6))
    xr = (x - x0) * np.cos(theta) + (y - y0) * np.sin(theta)
    yr = -(x - x0) * np.sin(theta) + (y - y0) * np.cos(theta)
    env = np.exp(-0.5 * (xr / sx) ** 2 - 0.5 * (yr / sy) ** 2)
    carrier = 2 * np.pi * xr / wl
    design = np.stack([env * np.cos(carrier), env * np.sin(carrier), np.ones_like(env)], -1)  # (B, P, 3)
    gram = design.transpose(0, 2, 1) @ design + 1e-10 * np.eye(3)
    coef = np.linalg.solve(gram, (design.transpose(0, 2, 1) @ targets[..., None]))[..., 0]
    return (design @ coef[..., None])[..., 0], coef


def _fit_batch(maps: np.ndarray, n_starts: int, n_iter: int = 60):
    """Levenberg-Marquardt on all filters and starts at once, with the parameters clipped to bounds."""
    n, k, _ = maps.shape
    grid = _grid(k)
    lo = np.array([-k / 2, -k / 2, -np.inf, 0.5, 0.5, 2.0])
    hi = np.array([k / 2, k / 2, np.inf, float(k), float(k), 2.0 * k])
    targets = maps.reshape(n, -1)

    # Starts: the peak of the zero-padded spectrum (wavelength and orientation) at the energy centroid,
    # a low-pass start (so blobs and ramps are fitted as such), the orthogonal orientation, a finer grating.
    centred = targets - targets.mean(1, keepdims=True)
    spec = np.abs(np.fft.fft2(centred.reshape(n, k, k), s=(32, 32)))
    spec[:, 0, 0] = 0
    peak = spec.reshape(n, -1).argmax(1)
    fy, fx = (peak // 32 + 16) % 32 - 16, (peak % 32 + 16) % 32 - 16
    freq = np.hypot(fx, fy) / 32
    theta0 = np.arctan2(fy, fx)
    weight = np.abs(centred) + 1e-12
    cx = (weight * grid[0].ravel()).sum(1) / weight.sum(1)
    cy = (weight * grid[1].ravel()).sum(1) / weight.sum(1)
    wl0 = np.clip(1 / np.maximum(freq, 1e-9), 2.0, 2.0 * k)
    full = np.full(n, 1.0)
    starts = [np.stack([cx, cy, theta0, full * k / 4, full * k / 4, wl0], 1),
              np.stack([0 * cx, 0 * cy, theta0, full * k / 3, full * k / 3, full * 2.0 * k], 1),
              np.stack([cx, cy, theta0 + np.pi / 2, full * k / 4, full * k / 4, wl0], 1),
              np.stack([0 * cx, 0 * cy, theta0, full * k / 6, full * k / 6, np.maximum(2.0, wl0 / 2)], 1)]
    p = np.clip(np.concatenate(starts[:n_starts]), lo, hi)
    tg = np.tile(targets, (n_starts, 1))
    fitted = _vp_model(p, grid, tg)[0]
    cost = ((fitted - tg) ** 2).sum(1)
    damping = np.full(len(p), 1e-2)
    eye = np.eye(6)
    b = len(p)
    tg6 = np.tile(tg, (6, 1))
    for _ in range(n_iter):
        res = fitted - tg
        step = 1e-5 * np.maximum(1.0, np.abs(p))
        # the six forward differences in one batched evaluation (same numbers as six separate calls)
        shifted = np.concatenate([p + step[:, j:j + 1] * eye[j] for j in range(6)])
        moved = _vp_model(shifted, grid, tg6)[0].reshape(6, b, -1)
        jac = np.stack([(moved[j] - fitted) / step[:, j:j + 1] for j in range(6)], -1)   # (B, P, 6)
        jtj = jac.transpose(0, 2, 1) @ jac
        jtr = (jac.transpose(0, 2, 1) @ res[..., None])[..., 0]
        diag = np.einsum("bii->bi", jtj)[:, None, :] * eye + 1e-12 * eye
        delta = np.linalg.solve(jtj + damping[:, None, None] * diag, -jtr[..., None])[..., 0]
        trial = np.clip(p + delta, lo, hi)
        trial_fitted = _vp_model(trial, grid, tg)[0]
        trial_cost = ((trial_fitted - tg) ** 2).sum(1)
        better = trial_cost < cost
        p[better], cost[better], fitted[better] = trial[better], trial_cost[better], trial_fitted[better]
        damping = np.where(better, damping / 3, damping * 4).clip(1e-9, 1e9)
    fitted, coef = _vp_model(p, grid, tg)
    ss_tot = ((tg - tg.mean(1, keepdims=True)) ** 2).sum(1)
    r2 = 1 - cost / np.maximum(ss_tot, 1e-300)
    r2, p, coef, fitted = (a.reshape(n_starts, n, *a.shape[1:]) for a in (r2, p, coef, fitted))
    # The best fit; the verdict (GaborFit.band_pass) reads the fitted picture's spectrum, so which of
    # two near-equal parametrisations of the same picture wins does not matter.
    pick = r2.argmax(0)
    rows = np.arange(n)
    r2, p, coef, fitted = r2[pick, rows], p[pick, rows], coef[pick, rows], fitted[pick, rows]
    amplitude, phase = np.hypot(coef[:, 0], coef[:, 1]), np.arctan2(-coef[:, 1], coef[:, 0])
    params = np.column_stack([p[:, :2], p[:, 2] % (2 * np.pi), p[:, 3:6], phase, amplitude, coef[:, 2]])
    return r2, params, fitted.reshape(n, k, k)


def fit_gabor(filters, n_starts: int = 4, kernel_size: int | None = None) -> GaborFit:
    """Fit a 2-D Gabor to each filter by nonlinear least squares, and report R² and wavelength.

    ``filters``: (k, k), (N, k, k) or (N, C, k, k) weights as displayed in pixel space (colour filters
    are reduced to their dominant colour component, see :func:`to_spatial`). The amplitude, phase and
    offset are solved exactly for each trial of the other six parameters (variable projection); those
    six are fitted by Levenberg-Marquardt from ``n_starts`` starting points, all filters at once.
    Wavelengths are searched in [2, 2k] pixels, envelope widths in [0.5, k]. ``kernel_size`` (default:
    the maps' side k) is the size the band-pass test compares the wavelength with; pass conv1's own
    kernel size when fitting effective filters, which are larger than the kernel.
    """
    check_scalar(n_starts, "n_starts", numbers.Integral, low=1, high=4)
    maps = to_spatial(filters)
    n, k, _ = maps.shape
    if kernel_size is not None:
        check_scalar(kernel_size, "kernel_size", numbers.Integral, low=2)
    dead = np.ptp(maps.reshape(n, -1), axis=1) <= 1e-12 * np.maximum(1.0, np.abs(maps).reshape(n, -1).max(1))
    r2, params, fitted = np.zeros(n), np.zeros((n, 9)), maps.copy()
    params[dead] = [0, 0, 0, 1, 1, np.inf, 0, 0, 0]  # a dead (constant) filter: nothing to fit, R² = 0
    if (~dead).any():
        r2[~dead], params[~dead], fitted[~dead] = _fit_batch(maps[~dead], n_starts)
    params[dead, 8] = maps[dead].mean(axis=(1, 2))
    return GaborFit(r2, params[:, 5].copy(), params, fitted, maps, k if kernel_size is None else kernel_size)


# ----------------------------------------------------------------------------- chance levels

def chance_filters(kind: str, n: int = 64, size: int = 7, channels: int = 3, smooth_sigma: float = 1.0,
                   seed: int = 0) -> np.ndarray:
    """Filters with no learned structure, to measure what R² chance gives.

    ``"init"``: PyTorch's default initialisation of a ``Conv2d(channels, n, size)`` (i.i.d. uniform).
    ``"smooth"``: white noise blurred by a Gaussian of ``smooth_sigma`` pixels (cropped from a larger
    field so the borders are not special). Returns (n, channels, size, size).
    """
    check_choice(kind, "kind", ["init", "smooth"])
    check_scalar(n, "n", numbers.Integral, low=1)
    check_scalar(size, "size", numbers.Integral, low=3)
    check_scalar(channels, "channels", numbers.Integral, low=1)
    check_scalar(seed, "seed", numbers.Integral, low=0)
    if kind == "init":
        torch.manual_seed(seed)
        return nn.Conv2d(channels, n, size).weight.detach().numpy().astype(np.float64)
    from scipy.ndimage import gaussian_filter
    check_scalar(smooth_sigma, "smooth_sigma", low=0, include_low=False)
    rng = np.random.default_rng(seed)
    pad = int(math.ceil(4 * smooth_sigma))
    field = rng.standard_normal((n, channels, size + 2 * pad, size + 2 * pad))
    field = gaussian_filter(field, sigma=(0, 0, smooth_sigma, smooth_sigma), mode="wrap")
    return field[:, :, pad:pad + size, pad:pad + size]


VALIDATION_KINDS = {"Gabor, SNR 20": True, "Gabor, SNR 8": True, "Gabor, SNR 4": True,
                    "one-pixel dot": False, "λ = 2 stripes": False, "λ = 2 checkerboard": False,
                    "centre-surround (DoG)": False, "colour blob": False}


def validation_filters(size: int = 11, n: int = 8, seed: int = 0) -> dict:
    """Synthetic filters whose verdict is known, to test the "Gabor-like" measure against the eye.

    Returns {kind: (filters (n, 3, size, size), should_be_gabor_like)} for the kinds of
    ``VALIDATION_KINDS``: random Gabors (wavelength 3.5-8 px, envelope sigma_x 0.3-0.5 wavelengths) with
    white noise at signal-to-noise variance ratios 20, 8 and 4, which must pass; and one-pixel dots,
    lambda = 2 px stripes and checkerboards, balanced centre-surround differences of Gaussians and
    colour-opponent blobs, which must fail. Grey kinds have three equal channels.
    """
    check_scalar(size, "size", numbers.Integral, low=7)
    check_scalar(n, "n", numbers.Integral, low=1)
    check_scalar(seed, "seed", numbers.Integral, low=0)
    rng = np.random.default_rng(seed)
    x, y = _grid(size)
    c = (size - 1) / 2
    out = {}

    def grey3(maps):
        return np.repeat(np.asarray(maps)[:, None], 3, axis=1)

    def noise(maps, level=0.05):
        return maps + level * np.abs(maps).max(axis=(1, 2), keepdims=True) * rng.standard_normal(maps.shape)

    for snr in (20, 8, 4):
        maps = []
        for _ in range(n):
            wl = rng.uniform(3.5, 8.0)
            maps.append(gabor(size, x0=rng.uniform(-1, 1), y0=rng.uniform(-1, 1), theta=rng.uniform(0, np.pi),
                              sigma_x=rng.uniform(0.3, 0.5) * wl, sigma_y=rng.uniform(1.5, 3.0), wavelength=wl,
                              phase=rng.uniform(0, 2 * np.pi)))
        maps = np.array(maps)
        maps = maps + maps.std(axis=(1, 2), keepdims=True) / np.sqrt(snr) * rng.standard_normal(maps.shape)
        out[f"Gabor, SNR {snr}"] = grey3(maps)
    dots = np.zeros((n, size, size))
    for i in range(n):
        dots[i, rng.integers(2, size - 2), rng.integers(2, size - 2)] = rng.choice([-1.0, 1.0])
    out["one-pixel dot"] = grey3(noise(dots))
    env = [np.exp(-((x - rng.uniform(-1, 1)) ** 2 + (y - rng.uniform(-1, 1)) ** 2) / (2 * rng.uniform(1.5, 4) ** 2))
           for _ in range(n)]
    stripes = np.array([np.cos(np.pi * (x if i % 2 else y) + 0.0) * e for i, e in enumerate(env)])
    out["λ = 2 stripes"] = grey3(noise(stripes))
    out["λ = 2 checkerboard"] = grey3(noise(np.array([np.cos(np.pi * (x + y)) * e for e in env])))
    r2 = (x - 0) ** 2 + (y - 0) ** 2
    dogs = []
    for _ in range(n):
        a, b = rng.uniform(0.8, 1.8), rng.uniform(1.6, 3.0)
        dogs.append(rng.choice([-1.0, 1.0]) * (np.exp(-r2 / (2 * a ** 2)) / a ** 2 - np.exp(-r2 / (2 * (a * b) ** 2)) / (a * b) ** 2))
    out["centre-surround (DoG)"] = grey3(noise(np.array(dogs)))
    blobs = np.zeros((n, 3, size, size))
    for i in range(n):
        colour = rng.standard_normal(3)
        colour -= colour.mean()                                  # colour-opponent: no net brightness
        blob = np.exp(-((x - rng.uniform(-2, 2)) ** 2 + (y - rng.uniform(-2, 2)) ** 2) / (2 * rng.uniform(1.0, 3.0) ** 2))
        blobs[i] = colour[:, None, None] * blob
    out["colour blob"] = blobs + 0.05 * np.abs(blobs).max() * rng.standard_normal(blobs.shape)
    assert set(out) == set(VALIDATION_KINDS) and c >= 3
    return {kind: (out[kind], VALIDATION_KINDS[kind]) for kind in VALIDATION_KINDS}


def validate_gabor_measure(size: int = 11, n: int = 8, seed: int = 0) -> dict:
    """Run :func:`fit_gabor` on :func:`validation_filters`:
    {kind: {"expected", "gabor_like_fraction", "fit", "filters"}}."""
    result = {}
    for kind, (filters, expected) in validation_filters(size, n, seed).items():
        fit = fit_gabor(filters)
        result[kind] = {"expected": expected, "gabor_like_fraction": float(fit.gabor_like.mean()), "fit": fit,
                        "filters": filters}
    return result


# ----------------------------------------------------------------------------- natural-image patches

def grey(images: torch.Tensor) -> torch.Tensor:
    """Luma (ITU-R 601) of RGB images (N, 3, H, W) -> (N, H, W)."""
    check_tensor(images, "images", ndim=4, channels=3)
    return torch.einsum("nchw,c->nhw", images, torch.tensor([0.299, 0.587, 0.114], dtype=images.dtype))


def random_patches(images: torch.Tensor, size: int, n: int, seed: int = 0) -> torch.Tensor:
    """``n`` random ``size`` x ``size`` patches (uniform over photos and positions): (n, C, size, size)."""
    check_tensor(images, "images", ndim=4)
    check_scalar(size, "size", numbers.Integral, low=1, high=min(images.shape[-2:]))
    check_scalar(n, "n", numbers.Integral, low=1)
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(len(images), (n,), generator=g)
    top = torch.randint(images.shape[-2] - size + 1, (n,), generator=g)
    left = torch.randint(images.shape[-1] - size + 1, (n,), generator=g)
    rows = top[:, None] + torch.arange(size)
    cols = left[:, None] + torch.arange(size)
    return images[idx[:, None, None, None], torch.arange(images.shape[1])[None, :, None, None],
                  rows[:, None, :, None], cols[:, None, None, :]]


def ica_filters(images: torch.Tensor, patch: int = 12, n_patches: int = 20000, n_components: int = 64,
                seed: int = 0, max_iter: int = 400):
    """FastICA (scikit-learn) on grey natural-image patches: the reference for what image statistics give.

    Patches lose their mean (DC), PCA keeps ``n_components`` dimensions and whitens, FastICA rotates.
    Returns ``(filters, basis, seconds)``: the unmixing filters in pixel space (n_components, patch, patch),
    which play the role of conv1 filters (they are applied to an image patch), and the basis
    functions (mixing matrix columns), the "features" of Olshausen & Field and Hyvärinen.
    """
    from sklearn.decomposition import FastICA

    check_scalar(patch, "patch", numbers.Integral, low=3)
    check_scalar(n_components, "n_components", numbers.Integral, low=2, high=patch * patch - 1)
    check_scalar(n_patches, "n_patches", numbers.Integral, low=n_components * 5)
    start = time.perf_counter()
    X = random_patches(grey(images)[:, None], patch, n_patches, seed).reshape(n_patches, -1).double().numpy()
    X = X - X.mean(1, keepdims=True)
    ica = FastICA(n_components=n_components, whiten="unit-variance", random_state=seed, max_iter=max_iter,
                  tol=1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a ConvergenceWarning at tol=1e-3 does not change the picture
        ica.fit(X)
    seconds = time.perf_counter() - start
    return (ica.components_.reshape(-1, patch, patch), ica.mixing_.T.reshape(-1, patch, patch), seconds)


# ----------------------------------------------------------------------------- whitening

def zca_kernel(images: torch.Tensor, size: int = 5, n_patches: int = 20000, eps: float = 1e-3,
               seed: int = 0) -> torch.Tensor:
    """A ZCA whitening filter as a convolution kernel (C, C, size, size).

    ZCA's whitening matrix W = U (S + eps)^(-1/2) U^T of the patch covariance is (almost) shift
    invariant, so the row for each centre pixel is a convolution kernel: a centre-surround filter
    that flattens the 1/f^2 spectrum of natural images. ``eps`` (relative to the largest eigenvalue)
    keeps it from amplifying pixel noise.
    """
    check_tensor(images, "images", ndim=4)
    check_scalar(size, "size", numbers.Integral, low=1)
    if size % 2 == 0:
        raise ValueError(f"size must be odd so the kernel has a centre; got {size}")
    check_scalar(eps, "eps", low=0, include_low=False)
    c = images.shape[1]
    X = random_patches(images, size, n_patches, seed).reshape(n_patches, -1).double()
    X = X - X.mean(0)
    cov = X.T @ X / len(X)
    s, u = torch.linalg.eigh(cov)
    W = u @ torch.diag((s.clamp_min(0) + eps * s.max()).rsqrt()) @ u.T
    centre = size * size // 2
    rows = W[[ch * size * size + centre for ch in range(c)]]          # (C, C*size*size)
    # The overall scale is arbitrary: make the whitened pixels unit-variance, so that plain SGD
    # takes steps of the same size as on raw inputs scaled to unit variance.
    rows = rows / (X @ rows.T).std()
    return rows.reshape(c, c, size, size).float()


class Whiten(nn.Module):
    """A fixed convolution (e.g. ZCA) applied to the input; it is not trained."""

    def __init__(self, kernel: torch.Tensor):
        super().__init__()
        check_tensor(kernel, "kernel", ndim=4)
        self.register_buffer("kernel", kernel.clone())

    def forward(self, x):
        pad = self.kernel.shape[-1] // 2
        return F.conv2d(F.pad(x, (pad,) * 4, mode="reflect"), self.kernel)


def effective_filters(weight: torch.Tensor, kernel: torch.Tensor | None) -> torch.Tensor:
    """Pixel-space filters of ``conv1`` applied after a fixed convolution ``kernel``.

    Two cross-correlations compose into one whose kernel is their full convolution:
    conv(conv(x, K), W) = conv(x, E) with E[o, c] = sum_m W[o, m] * K[m, c] (full 2-D convolution),
    of size k + w - 1. Without a kernel the weights are returned unchanged.
    """
    check_tensor(weight, "weight", ndim=4)
    if kernel is None:
        return weight.detach().clone()
    check_tensor(kernel, "kernel", ndim=4)
    if weight.shape[1] != kernel.shape[0]:
        raise ValueError(f"weight expects {weight.shape[1]} input channels but the kernel makes "
                         f"{kernel.shape[0]}")
    # E[o, c] = sum_m W[o, m] (*) K[m, c]: a transposed convolution of W with K does exactly this sum.
    return F.conv_transpose2d(weight.detach(), kernel.detach())


# ----------------------------------------------------------------------------- the course CNN on photo crops

# Task -> number of classes of PhotoCNN's head. "sparse" trains conv1 alone (``sparse_coding_loss``);
# its crops keep their photo labels, which it does not use.
TASKS = {"photo": 27, "rotation": 4, "photo+rotation": 108, "sparse": 27}


def photo_crops(images: torch.Tensor, crop: int, per_photo: int, split: str = "train", seed: int = 0,
                task: str = "photo"):
    """Labelled crops (X (N, C, crop, crop), y) for one of three tasks on the photos.

    ``"photo"``: which photo is this crop from? ``"rotation"``: by how many quarter turns was the crop
    rotated (self-supervised, Gidaris et al. 2018)? ``"photo+rotation"``: both (label photo * 4 + turns).
    ``"sparse"``: the crops of ``"photo"`` (sparse coding ignores the labels).
    Each photo's top three quarters give the training crops (randomly flipped left-right), its bottom
    quarter the test crops, so test crops never overlap training pixels.
    """
    check_choice(task, "task", list(TASKS))
    check_tensor(images, "images", ndim=4)
    check_choice(split, "split", ["train", "test"])
    check_scalar(per_photo, "per_photo", numbers.Integral, low=1)
    h = images.shape[-2]
    cut = (3 * h) // 4
    region = images[..., :cut, :] if split == "train" else images[..., cut:, :]
    check_scalar(crop, "crop", numbers.Integral, low=8, high=min(region.shape[-2:]))
    n = len(images)
    g = torch.Generator().manual_seed(seed + (0 if split == "train" else 1))
    X = torch.empty(n * per_photo, images.shape[1], crop, crop)
    y = torch.arange(n).repeat_interleave(per_photo)
    tops = torch.randint(region.shape[-2] - crop + 1, (n * per_photo,), generator=g)
    lefts = torch.randint(region.shape[-1] - crop + 1, (n * per_photo,), generator=g)
    flips = torch.rand(n * per_photo, generator=g) < (0.5 if split == "train" else 0.0)
    for i, (t, l, f) in enumerate(zip(tops.tolist(), lefts.tolist(), flips.tolist())):
        patch = region[y[i], :, t:t + crop, l:l + crop]
        X[i] = patch.flip(-1) if f else patch
    if task in ("rotation", "photo+rotation"):
        turns = torch.randint(4, (len(X),), generator=g)
        for t in range(1, 4):
            X[turns == t] = torch.rot90(X[turns == t], t, dims=(-2, -1))
        y = turns if task == "rotation" else y * 4 + turns
    return X, y


class PhotoConfig(NamedTuple):
    """Everything that shapes the trained conv1 (the levers of the lecture)."""
    kernel: int = 11            # conv1 kernel size
    width: int = 32             # conv1 filters
    crop: int = 48              # crop side in pixels (photos are 224 x 224)
    per_photo: int = 400        # training crops per photo
    epochs: int = 4
    lr: float = 2e-3
    batch_size: int = 64
    whiten: int = 0             # ZCA kernel size; 0 = raw pixels
    whiten_eps: float = 1e-2    # ZCA regulariser, relative to the largest eigenvalue
    init_scale: float = 1.0     # multiplies conv1's default initial weights (classification tasks)
    conv1_decay: float = 0.0    # L2 penalty on conv1 only, added to its gradient (classification tasks)
    task: str = "photo"         # see photo_crops; "sparse" trains conv1 by sparse coding
    optimizer: str = "adam"
    seed: int = 0
    sparsity: float = 0.0       # "sparse" task: weight of the L1 penalty on conv1's code
    cosine: bool = False        # "sparse" task: anneal the learning rate to 0 along a cosine

    def check(self) -> "PhotoConfig":
        """Raise ValueError for values the training cannot use; returns the config."""
        check_scalar(self.kernel, "kernel", numbers.Integral, low=3)
        check_scalar(self.width, "width", numbers.Integral, low=1)
        check_scalar(self.epochs, "epochs", numbers.Integral, low=0)
        check_scalar(self.whiten, "whiten", numbers.Integral, low=0)
        check_scalar(self.sparsity, "sparsity", low=0)
        check_choice(self.task, "task", list(TASKS))
        check_choice(self.optimizer, "optimizer", ["adam", "sgd"])
        if not isinstance(self.cosine, bool):
            raise TypeError(f"cosine must be a bool; got {type(self.cosine).__name__}")
        if self.task != "sparse" and (self.sparsity > 0 or self.cosine):
            raise ValueError(f"sparsity and cosine apply to task='sparse' only; got task={self.task!r} "
                             f"with sparsity={self.sparsity}, cosine={self.cosine}")
        if self.task == "sparse" and (self.init_scale != 1.0 or self.conv1_decay > 0):
            # Sparse coding keeps every filter at unit norm, which undoes any scale or decay.
            raise ValueError("init_scale and conv1_decay have no effect with task='sparse' (unit-norm "
                             f"filters); got init_scale={self.init_scale}, conv1_decay={self.conv1_decay}")
        return self


def build_photo_cnn(cfg: PhotoConfig, whiten_kernel: torch.Tensor | None = None) -> nn.Module:
    """``Whiten`` (if any) followed by the course ``PhotoCNN``, initialised from ``cfg.seed``."""
    from .models import PhotoCNN
    from .train import seed_everything

    seed_everything(cfg.seed)
    net = PhotoCNN(TASKS[cfg.task], conv1_kernel=cfg.kernel, width=cfg.width)
    with torch.no_grad():
        net.conv1.weight.mul_(cfg.init_scale)
    if cfg.conv1_decay > 0:
        # Tensor hook: the L2 gradient reaches conv1 alone, through the course's unchanged fit().
        decay = float(cfg.conv1_decay)
        net.conv1.weight.register_hook(lambda grad: grad + decay * net.conv1.weight.detach())
    return nn.Sequential(Whiten(whiten_kernel) if whiten_kernel is not None else nn.Identity(), net)


def sparse_coding_loss(conv: nn.Conv2d, x: torch.Tensor, sparsity: float):
    """Sparse coding with conv1 as the encoder and its own weights as the decoder (tied weights).

    The code is z = relu(conv(x)) (no bias), the reconstruction the transposed convolution of z with
    the same filters, and the loss ||x - x_hat||^2 / pixels + ``sparsity`` * mean(z), measured away
    from the borders, where a crop lacks the neighbours that reconstruct it. With unit-norm filters
    and whitened x this is Olshausen & Field's sparse coding with a one-step (feed-forward) encoder.
    Returns ``(loss, reconstruction error / mean(x^2))``.
    """
    check_tensor(x, "x", ndim=4)
    k, stride, pad = conv.kernel_size[0], conv.stride[0], conv.padding[0]
    z = F.relu(F.conv2d(x, conv.weight, None, stride, pad))
    size = (z.shape[-1] - 1) * stride - 2 * pad + k
    recon = F.conv_transpose2d(z, conv.weight, None, stride, pad, output_padding=x.shape[-1] - size)
    m = k // 2
    inner = (slice(None), slice(None), slice(m, x.shape[-2] - m), slice(m, x.shape[-1] - m))
    err = ((recon - x)[inner] ** 2).mean()
    return err + sparsity * z.mean(), (err / (x[inner] ** 2).mean()).detach()


def _centre(x: torch.Tensor) -> torch.Tensor:
    return x - x.mean(dim=(2, 3), keepdim=True)


def _unit_norm_(weight: torch.Tensor):
    with torch.no_grad():
        weight.div_(weight.flatten(1).norm(dim=1).clamp_min(1e-12)[:, None, None, None])


def fit_sparse_conv1(conv: nn.Conv2d, X: torch.Tensor, cfg: PhotoConfig) -> list:
    """Train ``conv`` in place by :func:`sparse_coding_loss` on (already whitened) crops ``X``.

    Each crop loses its per-channel mean first: a whitening kernel passes some of the photo's mean
    brightness, and a filter could switch itself off on that offset, a cheap way out of the L1 penalty
    that learns nothing. The filters are kept at unit norm (else the penalty just shrinks them) and
    the bias at zero. Returns the mean loss of each epoch.
    """
    from tqdm.auto import tqdm

    from .train import seed_everything

    X = _centre(X)
    generator = seed_everything(cfg.seed)
    with torch.no_grad():
        conv.bias.zero_()
    _unit_norm_(conv.weight)
    opt = (torch.optim.Adam([conv.weight], lr=cfg.lr) if cfg.optimizer == "adam"
           else torch.optim.SGD([conv.weight], lr=cfg.lr, momentum=0.9))
    n_batches = math.ceil(len(X) / cfg.batch_size)
    total_steps = max(cfg.epochs * n_batches, 1)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda t: 0.5 * (1 + math.cos(math.pi * t / total_steps)) if cfg.cosine else 1.0)
    losses = []
    with tqdm(total=cfg.epochs * n_batches, desc="conv1 sparse coding", unit="batch", leave=False) as bar:
        for _ in range(cfg.epochs):
            order = torch.randperm(len(X), generator=generator)
            total = 0.0
            for i in range(0, len(X), cfg.batch_size):
                xb = X[order[i:i + cfg.batch_size]]
                loss, _ = sparse_coding_loss(conv, xb, cfg.sparsity)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                _unit_norm_(conv.weight)
                total += loss.item() * len(xb)
                bar.update(1)
            losses.append(total / len(X))
    return losses


def train_photo_cnn(cfg: PhotoConfig = PhotoConfig(), images: torch.Tensor | None = None, verbose: bool = True):
    """The course PhotoCNN trained on crops of the 27 bundled photos (cached by the whole config).

    Returns ``(model, info)`` as :func:`course_utils.train.load_or_fit`, with ``info["pixel_filters"]``:
    conv1 in pixel space (composed with the whitening kernel when the input is whitened). With
    ``task="sparse"`` only conv1 is trained (the rest of PhotoCNN keeps its initial weights) and
    ``info`` reports ``test_reconstruction_error`` (relative, on held-out crops) instead of an accuracy.
    """
    from .data import photos
    from .train import TrainConfig, load_or_fit, one_thread

    if not isinstance(cfg, PhotoConfig):
        raise TypeError(f"cfg must be a PhotoConfig; got {type(cfg).__name__}")
    cfg.check()
    if images is None:
        images = photos("all", verbose=verbose).images
    check_tensor(images, "images", ndim=4, channels=3)
    kernel = zca_kernel(images, cfg.whiten, eps=cfg.whiten_eps, seed=cfg.seed) if cfg.whiten else None
    train_data = photo_crops(images, cfg.crop, cfg.per_photo, "train", cfg.seed, cfg.task)
    test_data = photo_crops(images, cfg.crop, 20, "test", cfg.seed, cfg.task)
    model = build_photo_cnn(cfg, kernel)
    extra = {**cfg._asdict(), "n_photos": len(images), "photo_size": images.shape[-1],
             "photo_checksum": round(float(images.double().sum()), 3)}
    with one_thread():  # these convolutions are tiny; see train.one_thread
        if cfg.task == "sparse":
            model, info = _load_or_fit_sparse(model, train_data[0], test_data[0], cfg, extra, verbose)
        else:
            config = TrainConfig(model="photocnn-conv1", dataset="photo-crops", epochs=cfg.epochs, lr=cfg.lr,
                                 batch_size=cfg.batch_size, seed=cfg.seed, optimizer=cfg.optimizer)
            model, info = load_or_fit(model, train_data, test_data, config, extra=extra, verbose=verbose)
    info["pixel_filters"] = effective_filters(model[1].conv1.weight, kernel)
    info["whiten_kernel"] = kernel
    return model, info


def _load_or_fit_sparse(model: nn.Sequential, X: torch.Tensor, X_test: torch.Tensor, cfg: PhotoConfig,
                        extra: dict, verbose: bool):
    """:func:`fit_sparse_conv1` on the whitened crops, through the checkpoint cache (keyed by ``extra``)."""
    from . import cache

    conv = model[1].conv1

    def whitened(crops):
        with torch.no_grad():
            return model[0](crops)

    def compute():
        start = time.perf_counter()
        losses = fit_sparse_conv1(conv, whitened(X), cfg)
        seconds = time.perf_counter() - start
        with torch.no_grad():
            _, rel = sparse_coding_loss(conv, _centre(whitened(X_test)), cfg.sparsity)
        return {"state_dict": model.state_dict(), "losses": losses, "train_seconds": seconds,
                "test_reconstruction_error": float(rel)}

    key = {"extra": extra, "n_train": len(X), "n_test": len(X_test)}
    payload = cache.cached("photocnn-conv1-sparse", key, compute, verbose=verbose)
    model.load_state_dict(payload["state_dict"])
    model.eval()
    info = {k: v for k, v in payload.items() if k not in ("state_dict", "config")}
    if verbose:
        print(f"PhotoCNN conv1 by sparse coding: test reconstruction error "
              f"{info['test_reconstruction_error']:.3f} (trained in {info['train_seconds']:.1f} s)")
    return model, info


# ----------------------------------------------------------------------------- pictures

def filter_image(f: np.ndarray) -> np.ndarray:
    """One filter (C, k, k) or (k, k) as an image scaled symmetrically about zero (grey = 0)."""
    f = np.asarray(f, dtype=np.float64)
    scale = max(np.abs(f).max(), 1e-12)
    img = 0.5 + 0.5 * f / scale
    return img.transpose(1, 2, 0) if img.ndim == 3 else img


def plot_filters(filters, fit: GaborFit | None = None, title: str = "", n_cols: int = 8, max_filters: int = 32,
                 axes_size: float = 1.5, show_fit: bool = False, labels=None):
    """A grid of filters (grey = 0), each titled with its Gabor R² and peak wavelength when ``fit`` is given.

    Colour filters are shown in RGB; ``show_fit=True`` shows the fitted Gabors instead. The verdict is
    marked twice, so that it does not rest on colour alone: "✓" in blue for Gabor-like, "✗" in
    orange for not. ``labels``: an optional first title line per filter.
    """
    import matplotlib.pyplot as plt

    arr = check_array(filters, "filters", ndim=(3, 4))
    n = min(len(arr), max_filters)
    n_rows = math.ceil(n / n_cols)
    lines = (2 if fit is not None else 0) + (1 if labels is not None else 0)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(axes_size * n_cols, (axes_size + 0.2 * lines + 0.1) * n_rows + 0.6),
                             squeeze=False)
    peak = fit.peak_wavelength if fit is not None else None
    verdict = fit.gabor_like if fit is not None else None
    for i, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if i >= n:
            continue
        if show_fit and fit is not None:
            ax.imshow(filter_image(fit.fitted[i]), cmap="gray", vmin=0, vmax=1)
        else:
            img = filter_image(arr[i] if arr.ndim == 4 and arr.shape[1] == 3 else
                               (arr[i, 0] if arr.ndim == 4 else arr[i]))
            ax.imshow(img, cmap=None if img.ndim == 3 else "gray", vmin=0, vmax=1, interpolation="nearest")
        text = [str(labels[i])] if labels is not None else []
        colour = "black"
        if fit is not None:
            ok = bool(verdict[i])
            colour = "tab:blue" if ok else "tab:orange"
            wl = "∞" if not np.isfinite(peak[i]) else f"{peak[i]:.1f}"
            text += [f"{'✓' if ok else '✗'} R²={fit.r2[i]:.2f}", f"λ={wl}"]
        if text:   # an annotation, not ax.set_title: placing titles makes matplotlib build every axis's ticks
            ax.annotate("\n".join(text), (0.5, 1.0), xycoords="axes fraction", xytext=(0, 4),
                        textcoords="offset points", ha="center", va="bottom", fontsize=10, color=colour)
    fig.suptitle(title, fontsize=13)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- deeper units: top-9 stimuli

def receptive_field(layers) -> tuple[int, int]:
    """Receptive-field size and jump (input pixels between neighbouring units) after a stack of layers.

    ``layers``: (kernel, stride) pairs, input side first (convolutions and poolings alike). Each
    layer widens the field by (kernel - 1) times the current jump and multiplies the jump by its stride:
    r <- r + (k - 1) j,  j <- j s.
    """
    if not isinstance(layers, (list, tuple)):
        raise TypeError(f"layers must be a list of (kernel, stride) pairs; got {type(layers).__name__}")
    size, jump = 1, 1
    for i, pair in enumerate(layers):
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2):
            raise ValueError(f"layers[{i}] must be a (kernel, stride) pair; got {pair!r}")
        k, s = pair
        check_scalar(k, f"layers[{i}] kernel", numbers.Integral, low=1)
        check_scalar(s, f"layers[{i}] stride", numbers.Integral, low=1)
        size, jump = size + (k - 1) * jump, jump * s
    return size, jump


def gradient_receptive_box(feature_fn, image_shape, row: int, col: int, channel: int = 0,
                           dtype=torch.float32, n_trials: int = 3):
    """The input box (top, left, bottom, right; exclusive ends) that unit (channel, row, col) of
    ``feature_fn(x)`` depends on, measured by backpropagating from it (union over ``n_trials`` random
    inputs, so a ReLU that happens to be off does not shrink the box). An independent check of the
    arithmetic in :func:`receptive_field`, and exact for any padding scheme."""
    g = torch.Generator().manual_seed(0)
    support = torch.zeros(image_shape[-2:], dtype=torch.bool)
    for _ in range(n_trials):
        x = torch.rand(1, *image_shape, generator=g, dtype=dtype).requires_grad_(True)
        feature_fn(x)[0, channel, row, col].backward()
        support |= x.grad[0].abs().sum(0) > 0
    nz = support.nonzero()
    if len(nz) == 0:
        raise ValueError("the unit does not depend on the input (zero gradient); pick another unit or input")
    return (int(nz[:, 0].min()), int(nz[:, 1].min()), int(nz[:, 0].max()) + 1, int(nz[:, 1].max()) + 1)


class TopPatches(NamedTuple):
    values: torch.Tensor      # (k,) activations, strongest first
    photo: torch.Tensor       # (k,) photo index
    row: torch.Tensor         # (k,) position in the feature map
    col: torch.Tensor
    boxes: list               # (top, left, bottom, right) in input pixels
    patches: list             # (C, h, w) crops of the photos


def top_positions(activations: torch.Tensor, k: int = 9, per_photo: int = 1, min_distance: int = 0):
    """The ``k`` strongest responses of one unit over a pool of photos, at most ``per_photo`` per photo.

    ``activations``: (N, H, W), the unit's feature map on each of N photos. Returns (values, photo,
    row, col), strongest first. Taking one position per photo keeps nine neighbouring patches of a
    single photo from filling the top nine. With ``per_photo`` > 1, ``min_distance`` (in map cells,
    e.g. the receptive field divided by the jump) is non-maximum suppression: two positions kept in
    the same photo are at least that far apart along rows or columns (Chebyshev distance), so they
    show different parts of it.
    """
    check_tensor(activations, "activations", ndim=3)
    n, h, w = activations.shape
    check_scalar(per_photo, "per_photo", numbers.Integral, low=1, high=h * w)
    check_scalar(min_distance, "min_distance", numbers.Integral, low=0, high=max(h, w))
    if min_distance <= 1 or per_photo == 1:
        check_scalar(k, "k", numbers.Integral, low=1, high=n * per_photo)
        vals, flat = activations.reshape(n, -1).topk(per_photo, dim=1)        # best positions of each photo
        order = vals.flatten().argsort(descending=True)[:k]
        photo = order // per_photo
        pos = flat.flatten()[order]
        return vals.flatten()[order], photo, pos // w, pos % w
    cand_v, cand_p, cand_r, cand_c = [], [], [], []
    for i in range(n):                      # greedy non-maximum suppression within each photo
        vals, flat = activations[i].reshape(-1).sort(descending=True)
        rows, cols = (flat // w).tolist(), (flat % w).tolist()
        kept = []
        for v, r, c in zip(vals.tolist(), rows, cols):
            if all(max(abs(r - r2), abs(c - c2)) >= min_distance for r2, c2 in kept):
                kept.append((r, c))
                cand_v.append(v), cand_p.append(i), cand_r.append(r), cand_c.append(c)
                if len(kept) == per_photo:
                    break
    check_scalar(k, "k", numbers.Integral, low=1, high=len(cand_v))
    values = torch.tensor(cand_v, dtype=activations.dtype)
    order = values.argsort(descending=True, stable=True)[:k]
    as_long = lambda a: torch.tensor(a, dtype=torch.long)[order]          # noqa: E731
    return values[order], as_long(cand_p), as_long(cand_r), as_long(cand_c)


def top_patches(feature_fn, images: torch.Tensor, channel: int, k: int = 9, per_photo: int = 1,
                batch_size: int = 9, min_distance: int = 0) -> TopPatches:
    """Zeiler & Fergus's nine strongest stimuli of one unit: crops of ``images`` (N, C, H, W) around the
    unit's ``k`` strongest responses, each cropped to the unit's receptive field (clipped at borders).

    ``feature_fn(x) -> (N, channels, h, w)``. Boxes come from :func:`gradient_receptive_box`, measured
    once in the middle of the map and shifted by the map's stride.
    """
    check_tensor(images, "images", ndim=4)
    with torch.no_grad():
        feats = torch.cat([feature_fn(images[i:i + batch_size]) for i in range(0, len(images), batch_size)])
    check_scalar(channel, "channel", numbers.Integral, low=0, high=feats.shape[1] - 1)
    return top_patches_from_maps(feature_fn, images, feats[:, channel], k, per_photo, min_distance=min_distance)


def top_patches_from_maps(feature_fn, images: torch.Tensor, maps: torch.Tensor, k: int = 9,
                          per_photo: int = 1, centre_box=None, min_distance: int = 0) -> TopPatches:
    """:func:`top_patches` when the unit's maps (N, h, w) are already computed (fast, for widgets).

    ``centre_box``: the receptive box of the map's centre unit (h // 2, w // 2), if already measured
    with :func:`gradient_receptive_box`; saves a backward pass per call. ``per_photo`` and
    ``min_distance``: see :func:`top_positions`.
    """
    check_tensor(images, "images", ndim=4)
    check_tensor(maps, "maps", ndim=3)
    if len(maps) != len(images):
        raise ValueError(f"maps and images must cover the same photos; got {len(maps)} and {len(images)}")
    values, photo, row, col = top_positions(maps, k, per_photo, min_distance)
    boxes = unit_boxes(feature_fn, tuple(images.shape[1:]), maps.shape[-2:], row, col, centre_box)
    patches = [images[p, :, t:b, l:r] for p, (t, l, b, r) in zip(photo.tolist(), boxes)]
    return TopPatches(values, photo, row, col, boxes, patches)


def unit_boxes(feature_fn, image_shape, map_shape, rows, cols, centre_box=None):
    """Receptive-field boxes of units at (rows, cols), from one measured box shifted by the stride."""
    h, w = map_shape
    r0, c0 = h // 2, w // 2
    if centre_box is None:
        centre_box = gradient_receptive_box(feature_fn, image_shape, r0, c0)
    t, l, b, r = centre_box
    jump = image_shape[-1] // w
    boxes = []
    for i, j in zip(torch.as_tensor(rows).tolist(), torch.as_tensor(cols).tolist()):
        dt, dl = (i - r0) * jump, (j - c0) * jump
        boxes.append((max(t + dt, 0), max(l + dl, 0), min(b + dt, image_shape[-2]), min(r + dl, image_shape[-1])))
    return boxes


def two_thing_score(descriptors, min_group: int = 3, seed: int = 0):
    """The two-thing score of one set of k descriptors (k, d): split them in two by exact 2-means on
    unit vectors (every split tried, k <= 16); the mean cosine distance between the groups minus that
    within them (-inf when a group has fewer than ``min_group`` members). Returns (score, labels)."""
    desc = check_array(descriptors, "descriptors", ndim=2).astype(np.float64)
    k = len(desc)
    check_scalar(k, "number of descriptors", numbers.Integral, low=2, high=16)
    check_scalar(min_group, "min_group", numbers.Integral, low=1, high=max(1, k // 2))
    scores, labels = _two_thing_batch(desc[None], min_group)
    return float(scores[0]), labels[0]


@functools.lru_cache(maxsize=None)
def _all_splits(k: int):
    """All 2^(k-1) - 1 splits of k points with point 0 in group 0, as (S, k) 0/1 floats and sizes."""
    codes = np.arange(1, 2 ** (k - 1))
    labels_all = ((codes[:, None] >> np.arange(k - 1)) & 1).astype(np.float64)
    labels_all = np.concatenate([np.zeros((len(codes), 1)), labels_all], 1)            # (S, k)
    labels_all.setflags(write=False)
    return labels_all


def _two_thing_batch(desc: np.ndarray, min_group: int):
    """:func:`two_thing_score` of B sets at once: ``desc`` (B, k, d) float64. Returns (B,) scores, (B, k) labels."""
    b, k, _ = desc.shape
    desc = desc / np.maximum(np.linalg.norm(desc, axis=2, keepdims=True), 1e-12)
    # Within-group sum of squares from the Gram matrix: SSE(group) = |group| - |sum of its unit vectors|^2 / |group|.
    labels_all = _all_splits(k)
    gram = desc @ desc.transpose(0, 2, 1)                                               # (B, k, k)
    sse = 0.0
    for member in (labels_all, 1 - labels_all):
        size = member.sum(1)
        sse = sse + size - np.einsum("si,bij,sj->bs", member, gram, member) / size
    labels = labels_all[np.argmin(sse, axis=1)].astype(int)                             # (B, k)
    n1 = labels.sum(1)
    same = labels[:, :, None] == labels[:, None, :]
    off = ~np.eye(k, dtype=bool)
    dist = 1 - gram
    between = np.where(~same, dist, 0).sum((1, 2)) / np.maximum((~same).sum((1, 2)), 1)
    within = np.where(same & off, dist, 0).sum((1, 2)) / np.maximum((same & off).sum((1, 2)), 1)
    scores = np.where(np.minimum(n1, k - n1) < min_group, -np.inf, between - within)
    return scores, labels


def _descriptors(features, ch, photo, row, col):
    desc = features[photo, :, row, col].double()
    return torch.cat([desc[:, :ch], desc[:, ch + 1:]], 1).numpy()


def two_thing_scores(features: torch.Tensor, k: int = 9, min_group: int = 3, per_photo: int = 1,
                     min_distance: int = 0):
    """Score every unit of a layer for responding strongly to two unrelated things ("vodka & potato").

    ``features``: (N photos, channels, h, w). For each unit, take its top-``k`` positions (as
    :func:`top_positions` with ``per_photo`` and ``min_distance``) and describe each by the layer's
    whole activation vector there, *without* the unit itself: what else the network sees at that
    spot. :func:`two_thing_score` splits them in two and scores the split. High = the unit fires on
    two kinds of things that the rest of the layer tells apart. A score needs a null: see
    :func:`two_thing_null`.
    Returns (scores (channels,), groups: list of k-long 0/1 arrays).
    """
    check_tensor(features, "features", ndim=4)
    n, c, h, w = features.shape
    check_scalar(k, "k", numbers.Integral, low=2 * min_group, high=n * per_photo)
    scores, groups = np.full(c, -np.inf), []
    for ch in range(c):
        _, photo, row, col = top_positions(features[:, ch], k, per_photo, min_distance)
        scores[ch], labels = two_thing_score(_descriptors(features, ch, photo, row, col), min_group)
        groups.append(labels)
    return scores, groups


def two_thing_null(features: torch.Tensor, channel: int, n_draws: int = 100, k: int = 9, min_group: int = 3,
                   seed: int = 0) -> np.ndarray:
    """The two-thing score of ``k`` random positions (distinct photos), described as for ``channel``:
    what the score gives a set of patches that no unit selected. ``n_draws`` scores (-inf dropped)."""
    check_tensor(features, "features", ndim=4)
    n, c, h, w = features.shape
    check_scalar(channel, "channel", numbers.Integral, low=0, high=c - 1)
    check_scalar(n_draws, "n_draws", numbers.Integral, low=1)
    check_scalar(k, "k", numbers.Integral, low=2 * min_group, high=n)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(n_draws):                # the same random stream as drawing and scoring one at a time
        photo = rng.choice(n, k, replace=False)
        draws.append((photo, rng.integers(0, h, k), rng.integers(0, w, k)))
    photo, row, col = (torch.as_tensor(np.stack(a)) for a in zip(*draws))               # (n_draws, k) each
    rest = torch.cat([features[:, :channel], features[:, channel + 1:]], 1).double()   # without the unit itself
    desc = rest.permute(0, 2, 3, 1)[photo, row, col].numpy()                           # (n_draws, k, c - 1)
    out = np.concatenate([_two_thing_batch(desc[i:i + 2000], min_group)[0] for i in range(0, n_draws, 2000)])
    return out[np.isfinite(out)]


def ica_reference(images: torch.Tensor, patch: int = 12, n_patches: int = 20000, n_components: int = 64,
                  seed: int = 0, verbose: bool = True) -> dict:
    """:func:`ica_filters` through the checkpoint cache: {"filters", "basis", "seconds"} (tensors, float)."""
    def compute():
        filters, basis, seconds = ica_filters(images, patch, n_patches, n_components, seed)
        return {"filters": torch.from_numpy(filters), "basis": torch.from_numpy(basis), "seconds": seconds}
    config = {"patch": patch, "n_patches": n_patches, "n_components": n_components, "seed": seed,
              "n_photos": len(images), "photo_checksum": round(float(images.double().sum()), 3)}
    from .cache import cached
    return cached("ica-filters", config, compute, verbose=verbose)


def plot_patches(tp: TopPatches, title: str = "", names=None, frame_colours=None, box_size: int | None = None):
    """The nine (or k) strongest stimuli of a unit in a 3-column grid, each titled with its activation.

    ``names``: photo names (wrapped, not truncated). ``frame_colours``: one matplotlib colour (or None)
    per patch, drawn as a thick frame (e.g. the two groups of :func:`two_thing_scores`).
    ``box_size``: the full receptive-field side; a crop smaller than that (cut by the photo's border)
    is titled "(clipped)".
    """
    import textwrap

    import matplotlib.pyplot as plt

    k = len(tp.patches)
    if frame_colours is not None and len(frame_colours) != k:
        raise ValueError(f"frame_colours needs one colour per patch ({k}); got {len(frame_colours)}")
    n_cols = 3
    n_rows = math.ceil(k / n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(2.6 * n_cols, 2.9 * n_rows + 0.5), squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if i < k:
            patch = tp.patches[i]
            ax.imshow(patch.permute(1, 2, 0).clamp(0, 1).numpy())
            label = f"{float(tp.values[i]):.3g}"
            if box_size is not None and min(patch.shape[-2:]) < box_size:
                label += " (clipped)"
            if names is not None:
                label += "\n" + "\n".join(textwrap.wrap(str(names[int(tp.photo[i])]), 24)[:2])
            ax.set_title(label, fontsize=10)
            if frame_colours is not None and frame_colours[i] is not None:
                ax.axis("on")
                ax.set_xticks([]), ax.set_yticks([])
                for spine in ax.spines.values():
                    spine.set_edgecolor(frame_colours[i])
                    spine.set_linewidth(5)
    fig.suptitle(title, fontsize=13)
    fig.tight_layout()
    return fig


# The lecture's two training budgets (see benchmarks/filters.py for what each reaches): the notebook's
# must fit a student's cold first run; the long one stays well inside the 2-minute CPU budget.
# Task: sparse coding of ZCA-whitened crops (whiten_eps=1e-3: nearly complete whitening, so no
# low-variance direction is left for a unit-norm filter to hide in from the L1 penalty).
NOTEBOOK_CONFIG = PhotoConfig(kernel=7, width=16, crop=32, per_photo=100, epochs=24, batch_size=32, whiten=5,
                              whiten_eps=1e-2, task="sparse", sparsity=1.0, optimizer="adam", lr=3e-3)
LONG_CONFIG = NOTEBOOK_CONFIG._replace(epochs=72, cosine=True)
# The classification task with its best levers found (median R² 0.41 in 6 s, 0.57 in 84 s: not Gabors).
CLASSIFICATION_CONFIG = PhotoConfig(kernel=7, width=16, crop=32, per_photo=100, epochs=4, batch_size=32, whiten=5,
                                    whiten_eps=1e-2, init_scale=0.01, conv1_decay=1e-2, optimizer="sgd", lr=0.05)
