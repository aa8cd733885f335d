"""Lecture 11, measuring attributions: is a map faithful to the model, localised, simple, sensitive?

Every metric takes one relevance value per pixel, ``relevance`` (B,H,W) (``attribution.pixel_map``),
for images ``x`` (B,C,H,W) and their ``target`` classes. Higher relevance = more important.

* **Faithfulness.** ``perturbation_curve``: the target's softmax probability as the most relevant
  pixels are *deleted* (replaced by a fill: black, grey, blur or noisy linear imputation), or
  *inserted* into the fill (RISE, Petsiuk et al. 2018); ``curve_auc`` its area over the fraction
  of pixels in [0, 1]. Deletion: lower is better; insertion: higher. ``pixel_flipping``: Bach et
  al. (2015) as Quantus computes it (``features_in_step`` pixels a step, area with unit spacing).
  ``road`` (Rong et al. 2022): accuracy after removing the most (or least) relevant share of the
  pixels with *noisy linear imputation*, so that the model cannot see the shape of the hole.
* **Localisation.** ``pointing_game`` (Zhang et al. 2016): does a maximum of the map fall in the box?
* **Randomisation.** ``model_randomisation`` (Adebayo et al. 2018, lecture 04's cascade): the rank
  correlation of the map with the maps of the model re-initialised layer by layer from the top;
  ``random_logit`` (Sixt et al. 2020): with the map for another, random class. Lower is better.
* **Complexity.** ``sparseness``: the Gini index of |relevance| (Chalasani et al. 2020; higher = sparser);
  ``complexity``: the entropy of |relevance| as a distribution (Bhatt et al. 2020; lower = simpler).

``bootstrap_ci`` gives confidence intervals over images; ``rank_methods`` and
``ranking_agreement`` compare the rankings that two metrics (or two settings) give.
Definitions follow Quantus 0.6.0 wherever Quantus has the metric (tests/test_evaluation.py).
"""
from __future__ import annotations

import copy
import math
import numbers
from typing import Callable

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from scipy.sparse.linalg import spsolve
from torch import nn

from . import backprop as bp
from .checks import check_array, check_choice, check_scalar, check_tensor

FILLS = ["black", "grey", "blur", "imputation"]


# ----------------------------------------------------------------------------- checks

def check_relevance(relevance, x: torch.Tensor) -> torch.Tensor:
    """``relevance`` as a float (B,H,W) tensor matching the images ``x`` (B,C,H,W); NaN/inf rejected."""
    check_tensor(x, "x", ndim=4)
    if isinstance(relevance, np.ndarray):
        relevance = torch.from_numpy(relevance)
    check_tensor(relevance, "relevance", ndim=3)
    if relevance.shape != (len(x), *x.shape[-2:]):
        raise ValueError(f"relevance must be one value per pixel, shape {(len(x), *x.shape[-2:])} for x of "
                         f"shape {tuple(x.shape)}; got {tuple(relevance.shape)}")
    return relevance.float()


def _targets(target, n: int) -> torch.Tensor:
    if isinstance(target, numbers.Integral) and not isinstance(target, bool):
        return torch.full((n,), int(target), dtype=torch.long)
    t = torch.as_tensor(target, dtype=torch.long).reshape(-1)
    if len(t) != n:
        raise ValueError(f"target needs one class per image ({n}); got {len(t)}")
    return t


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Softmax probabilities of ``model`` on ``images``, in eval mode, in chunks of ``batch_size``."""
    with bp.in_eval_mode(model, "scoring"):
        return torch.cat([model(images[i:i + batch_size]).softmax(1) for i in range(0, len(images), batch_size)])


def _check_target_range(model, x, target):
    t = _targets(target, len(x))
    with torch.no_grad(), bp.in_eval_mode(model, "scoring"):
        n_classes = model(x[:1]).shape[1]
    if (t < 0).any() or (t >= n_classes).any():
        raise ValueError(f"target must be a class index in [0, {n_classes - 1}]; got {t.tolist()}")
    return t


def relevance_order(relevance: torch.Tensor) -> torch.Tensor:
    """Rank of each pixel, 0 for the most relevant (ties in raster order): (B,H,W) long."""
    flat = relevance.flatten(1)
    order = torch.argsort(-flat, dim=1, stable=True)
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(flat.shape[1]).expand_as(order).contiguous())
    return rank.view_as(relevance)


# ----------------------------------------------------------------------------- fills

def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur (reflected borders), kernel of radius ceil(3 sigma)."""
    check_scalar(sigma, "sigma", numbers.Real, low=0, include_low=False)
    radius = max(1, math.ceil(3 * sigma))
    radius = min(radius, x.shape[-1] - 1, x.shape[-2] - 1)
    t = torch.arange(-radius, radius + 1, dtype=x.dtype)
    k = torch.exp(-t ** 2 / (2 * sigma ** 2))
    k = k / k.sum()
    C = x.shape[1]
    out = F.pad(x, (radius, radius, 0, 0), mode="reflect")
    out = F.conv2d(out, k.view(1, 1, 1, -1).expand(C, 1, 1, -1), groups=C)
    out = F.pad(out, (0, 0, radius, radius), mode="reflect")
    return F.conv2d(out, k.view(1, 1, -1, 1).expand(C, 1, -1, 1), groups=C)


_NEIGHBOURS = [((1, 1), 1 / 12), ((0, 1), 1 / 6), ((-1, 1), 1 / 12), ((1, -1), 1 / 12),
               ((0, -1), 1 / 6), ((-1, -1), 1 / 12), ((1, 0), 1 / 6), ((-1, 0), 1 / 6)]


def noisy_linear_imputation(image: torch.Tensor, removed: torch.Tensor, noise: float = 0.01,
                            generator: torch.Generator | None = None) -> torch.Tensor:
    """Replace the ``removed`` pixels (H,W bool) of ``image`` (C,H,W) by the weighted mean of their neighbours.

    One sparse linear system for all removed pixels at once (Rong et al. 2022, as Quantus solves
    it): each removed value equals the mean of its 8 neighbours, weights 1/6 (edge) and 1/12
    (corner); then Gaussian noise of std ``noise`` is added to the imputed values. A batch
    (B,C,H,W) with masks (B,H,W) is solved as one block-diagonal system (much less overhead).
    """
    check_scalar(noise, "noise", numbers.Real, low=0)
    single = image.dim() == 3
    images, masks = (image[None], removed[None]) if single else (image, removed)
    B, C, H, W = images.shape
    if masks.shape != (B, H, W):
        raise ValueError(f"removed must be a (H,W) mask per image, shape {(B, H, W)}; got {tuple(removed.shape)}")
    idx = torch.nonzero(masks.flatten(), as_tuple=True)[0].numpy()    # over all B*H*W pixels
    if len(idx) == 0:
        return image.clone()
    flat = images.permute(1, 0, 2, 3).reshape(C, -1).double().numpy()  # (C, B*H*W)
    var = -np.ones(B * H * W, dtype=np.int64)
    var[idx] = np.arange(len(idx))
    b, rc = np.divmod(idx, H * W)
    r, c = np.divmod(rc, W)
    rows, cols, vals = [np.arange(len(idx))], [np.arange(len(idx))], []
    diag = np.ones(len(idx))
    rhs = np.zeros((len(idx), C))
    for (dr, dc), w in _NEIGHBOURS:
        rr, cc = r + dr, c + dc
        valid = (rr >= 0) & (rr < H) & (cc >= 0) & (cc < W)
        diag[~valid] -= w                                  # weights of neighbours outside the image drop out
        j = np.where(valid, b * H * W + rr * W + cc, 0)
        unknown = valid & (var[j] >= 0)
        known = valid & (var[j] < 0)
        rows.append(np.nonzero(unknown)[0])
        cols.append(var[j[unknown]])
        vals.append(np.full(int(unknown.sum()), w))
        rhs[known] -= w * flat[:, j[known]].T             # each row appears once per offset: no collisions
    a = sp.csc_matrix((np.concatenate([-diag, *vals]), (np.concatenate(rows), np.concatenate(cols))),
                      shape=(len(idx), len(idx)))
    solution = spsolve(a, rhs).reshape(len(idx), C)
    out = images.permute(1, 0, 2, 3).reshape(C, -1).clone()
    imputed = torch.from_numpy(solution.T).to(image.dtype)
    if noise > 0:
        imputed = imputed + noise * torch.randn(imputed.shape, generator=generator, dtype=image.dtype)
    out[:, torch.from_numpy(idx)] = imputed
    out = out.reshape(C, B, H, W).permute(1, 0, 2, 3).contiguous()
    return out[0] if single else out


def fill_images(x: torch.Tensor, fill, blur_sigma: float | None = None) -> torch.Tensor:
    """The image that deleted pixels take: "black" (0), "grey" (0.5), "blur" (Gaussian, sigma H/14 by default),
    a number, or an image batch shaped like ``x``. ("imputation" depends on the mask; see ``perturbation_curve``.)"""
    if isinstance(fill, torch.Tensor):
        check_tensor(fill, "fill")
        if fill.shape != x.shape:
            raise ValueError(f"a fill image must have the shape of x {tuple(x.shape)}; got {tuple(fill.shape)}")
        return fill
    if isinstance(fill, numbers.Real) and not isinstance(fill, bool):
        return torch.full_like(x, float(fill))
    check_choice(fill, "fill", FILLS[:3])
    if fill == "black":
        return torch.zeros_like(x)
    if fill == "grey":
        return torch.full_like(x, 0.5)
    return gaussian_blur(x, blur_sigma or x.shape[-1] / 14)


# ----------------------------------------------------------------------------- faithfulness

def _perturbed(x, rank, counts, mode, fill, noise, seed):
    """(B, len(counts), C, H, W): x with the ``counts[k]`` top-ranked pixels deleted (or the rest deleted: insertion)."""
    B = len(x)
    images = []
    gen = torch.Generator().manual_seed(seed)
    for k in counts:
        hidden = rank < k if mode == "deletion" else rank >= k       # (B,H,W): pixels showing the fill
        if fill == "imputation":
            images.append(noisy_linear_imputation(x, hidden, noise, gen))
        else:
            images.append(torch.where(hidden[:, None], fill, x))
    return torch.stack(images, 1)


def perturbation_curve(model: nn.Module, x: torch.Tensor, relevance, target, mode: str = "deletion",
                       fill="black", n_steps: int = 16, noise: float = 0.01, seed: int = 0,
                       blur_sigma: float | None = None, batch_size: int = 256) -> torch.Tensor:
    """Target probability after deleting (or inserting) the most relevant pixels: (B, n_steps + 1).

    Point ``k`` hides (deletion) or shows (insertion) the ``round(k / n_steps * H * W)`` most
    relevant pixels. ``fill``: "black", "grey", "blur", "imputation" (noisy linear imputation
    of whatever is hidden, recomputed for each point), a number or an image batch.
    """
    relevance = check_relevance(relevance, x)
    check_choice(mode, "mode", ["deletion", "insertion"])
    check_scalar(n_steps, "n_steps", numbers.Integral, low=1)
    t = _check_target_range(model, x, target)
    fill_value = fill if isinstance(fill, str) and fill == "imputation" else fill_images(x, fill, blur_sigma)
    n = x.shape[-2] * x.shape[-1]
    counts = [round(k * n / n_steps) for k in range(n_steps + 1)]
    images = _perturbed(x, relevance_order(relevance), counts, mode, fill_value, noise, seed)
    probs = predict(model, images.flatten(0, 1), batch_size)
    return probs.gather(1, t.repeat_interleave(len(counts))[:, None]).view(len(x), len(counts))


def curve_auc(curve) -> np.ndarray:
    """Area under each curve (B, K) with its points evenly spread over [0, 1] (trapezoid rule)."""
    c = check_array(curve, "curve", ndim=2)
    if c.shape[1] < 2:
        raise ValueError(f"a curve needs at least 2 points; got shape {c.shape}")
    return ((c[:, 1:] + c[:, :-1]) / 2).sum(1) / (c.shape[1] - 1)


def random_order_relevance(x: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """A random pixel order as a relevance map (B,H,W): the curve every method must beat."""
    check_tensor(x, "x", ndim=4)
    return torch.rand((len(x), *x.shape[-2:]), generator=torch.Generator().manual_seed(seed))


def pixel_flipping(model: nn.Module, x: torch.Tensor, relevance, target, features_in_step: int = 1,
                   fill=0.0, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Pixel flipping as Quantus's ``PixelFlipping``: (curves (B, ceil(HW / step)), AUC with unit spacing).

    Step ``k`` (from 1) has the ``k * features_in_step`` most relevant pixels replaced by ``fill``;
    the unperturbed image is not a point of the curve.
    """
    relevance = check_relevance(relevance, x)
    n = x.shape[-2] * x.shape[-1]
    check_scalar(features_in_step, "features_in_step", numbers.Integral, low=1, high=n)
    t = _check_target_range(model, x, target)
    counts = [min(n, k * features_in_step) for k in range(1, math.ceil(n / features_in_step) + 1)]
    images = _perturbed(x, relevance_order(relevance), counts, "deletion", fill_images(x, fill), 0.0, 0)
    probs = predict(model, images.flatten(0, 1), batch_size)
    curves = probs.gather(1, t.repeat_interleave(len(counts))[:, None]).view(len(x), len(counts)).numpy()
    auc = ((curves[:, 1:] + curves[:, :-1]) / 2).sum(1)
    return curves, auc


def road(model: nn.Module, x: torch.Tensor, relevance, target, percentages=(10, 30, 50, 70, 90),
         order: str = "most", noise: float = 0.01, seed: int = 0, batch_size: int = 256) -> np.ndarray:
    """ROAD: is the prediction still ``target`` after imputing the top ``p`` % of pixels? (B, len(percentages)).

    ``order="most"``: the most relevant pixels go first (MoRF; a faithful map makes the accuracy
    fall fast); ``"least"``: the least relevant first (LeRF; it should stay high). ``int(H W p / 100)``
    pixels are replaced by noisy linear imputation (std ``noise``), as in Quantus's ``ROAD``.
    """
    relevance = check_relevance(relevance, x)
    check_choice(order, "order", ["most", "least"])
    pct = check_array(list(percentages), "percentages", ndim=1)
    if (pct < 0).any() or (pct > 100).any():
        raise ValueError(f"percentages must lie in [0, 100]; got {pct.tolist()}")
    t = _check_target_range(model, x, target)
    n = x.shape[-2] * x.shape[-1]
    counts = [int(n * p / 100) for p in pct]
    rank = relevance_order(relevance if order == "most" else -relevance)
    images = _perturbed(x, rank, counts, "deletion", "imputation", noise, seed)
    predicted = predict(model, images.flatten(0, 1), batch_size).argmax(1).view(len(x), len(counts))
    return (predicted == t[:, None]).numpy().astype(float)


# ----------------------------------------------------------------------------- localisation

def check_boxes(boxes, n: int, height: int, width: int) -> list:
    """One (x0, y0, x1, y1) box per image (x1, y1 exclusive) that lies inside the H x W image."""
    if not isinstance(boxes, (list, tuple, np.ndarray, torch.Tensor)):
        raise TypeError(f"boxes must be a list of (x0, y0, x1, y1) boxes; got {type(boxes).__name__}")
    if len(boxes) != n:
        raise ValueError(f"need one box per map; got {len(boxes)} boxes for {n} maps")
    out = []
    for i, box in enumerate(boxes):
        if len(box) != 4:
            raise ValueError(f"box {i} must be (x0, y0, x1, y1); got {box!r}")
        x0, y0, x1, y1 = (int(v) for v in box)
        if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
            raise ValueError(f"box {i} {tuple(box)} is not a non-empty box inside the {height}x{width} image "
                             "(need 0 <= x0 < x1 <= width, 0 <= y0 < y1 <= height)")
        out.append((x0, y0, x1, y1))
    return out


def pointing_game(relevance, boxes) -> np.ndarray:
    """Per map, whether a pixel where it is largest lies inside the image's box (bool, (B,)).

    As Quantus's ``PointingGame``: when several pixels share the maximum, one inside the box is a hit.
    """
    if isinstance(relevance, np.ndarray):
        relevance = torch.from_numpy(relevance)
    check_tensor(relevance, "relevance", ndim=3)
    B, H, W = relevance.shape
    boxes = check_boxes(boxes, B, H, W)
    is_max = relevance == relevance.flatten(1).amax(1).view(-1, 1, 1)
    inside = torch.zeros_like(is_max)
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        inside[i, y0:y1, x0:x1] = True
    return (is_max & inside).flatten(1).any(1).numpy()


# ----------------------------------------------------------------------------- randomisation

def spearman_rows(a, b) -> np.ndarray:
    """Spearman rank correlation of each row of ``a`` with the same row of ``b`` (ties: average ranks)."""
    a = check_array(a, "a").reshape(len(a), -1)
    b = check_array(b, "b").reshape(len(b), -1)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape; got {a.shape} and {b.shape}")
    from scipy.stats import rankdata   # imported here: scipy.stats alone takes most of a second to import
    ra, rb = rankdata(a, axis=1), rankdata(b, axis=1)
    ra, rb = ra - ra.mean(1, keepdims=True), rb - rb.mean(1, keepdims=True)
    denom = np.sqrt((ra ** 2).sum(1) * (rb ** 2).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (ra * rb).sum(1) / denom, np.nan)


def randomisable_layers(model: nn.Module) -> list:
    """Names of the modules with parameters to re-initialise, from the output back to the input (top-down)."""
    return [name for name, m in model.named_modules() if hasattr(m, "reset_parameters")][::-1]


def model_randomisation(model: nn.Module, explain: Callable, x: torch.Tensor, target, seed: int = 0,
                        relevance=None) -> dict:
    """Cascading model-parameter randomisation (lecture 04): {layer: Spearman of |map| per image}.

    The layers of ``randomisable_layers`` are re-initialised cumulatively from the top, each with
    ``reset_parameters()`` after ``torch.manual_seed(seed + 1)`` (Quantus's recipe; the global RNG
    is restored afterwards). ``explain(model, x, target)`` gives (B,H,W) maps; ``relevance``
    (optional) is ``explain(model, x, target)`` already computed. A map that explains the model
    should decorrelate (low values) as more layers are random.
    """
    check_tensor(x, "x", ndim=4)
    if not callable(explain):
        raise TypeError(f"explain must be a function (model, x, target) -> maps; got {type(explain).__name__}")
    _check_target_range(model, x, target)
    original = check_relevance(explain(model, x, target) if relevance is None else relevance, x)
    randomised = copy.deepcopy(model)
    scores = {}
    with torch.random.fork_rng(devices=[]):
        for name in randomisable_layers(randomised):
            torch.manual_seed(seed + 1)
            randomised.get_submodule(name).reset_parameters()
            maps = check_relevance(explain(randomised, x, target), x)
            scores[name] = spearman_rows(original.abs().numpy(), maps.abs().numpy())
    return scores


def random_other_class(target, n_classes: int, seed: int = 0) -> np.ndarray:
    """One class per image, drawn uniformly from the classes other than its target (Quantus's draw)."""
    check_scalar(n_classes, "n_classes", numbers.Integral, low=2)
    t = _targets(target, len(target) if not isinstance(target, numbers.Integral) else 1).numpy()
    if (t < 0).any() or (t >= n_classes).any():
        raise ValueError(f"target must be a class index in [0, {n_classes - 1}]; got {t.tolist()}")
    draw = np.random.RandomState(seed).randint(0, n_classes - 1, len(t))
    return np.where(draw >= t, draw + 1, draw)         # skip the target itself


def random_logit(model: nn.Module, explain: Callable, x: torch.Tensor, target, seed: int = 0,
                 relevance=None) -> np.ndarray:
    """Spearman of |map for the target| with |map for a random other class|, per image (lower is better)."""
    check_tensor(x, "x", ndim=4)
    t = _check_target_range(model, x, target)
    with torch.no_grad():
        n_classes = model(x[:1]).shape[1]
    other = random_other_class(t.tolist(), n_classes, seed)
    a = check_relevance(explain(model, x, t.tolist()) if relevance is None else relevance, x)
    b = check_relevance(explain(model, x, other.tolist()), x)
    return spearman_rows(a.abs().numpy(), b.abs().numpy())


# ----------------------------------------------------------------------------- complexity

def sparseness(relevance) -> np.ndarray:
    """Gini index of |relevance| per map: 0 when every pixel is equally relevant, near 1 for one pixel."""
    r = check_array(relevance, "relevance", ndim=(2, 3))
    a = np.sort(np.abs(r.reshape(len(r), -1).astype(np.float64)), axis=1)   # float64: sums over many pixels
    n = a.shape[1]
    k = np.arange(1, n + 1)
    total = a.sum(1)
    # An all-zero map ranks no pixel above another: Gini 0 (Quantus's limit, via its 1e-7 offset).
    return np.where(total > 0, ((2 * k - n - 1) * a).sum(1) / (n * np.where(total > 0, total, 1)), 0.0)


def complexity(relevance) -> np.ndarray:
    """Entropy (nats) of |relevance| normalised to sum to 1, per map: log(H W) for a flat map, 0 for one pixel."""
    r = check_array(relevance, "relevance", ndim=(2, 3))
    a = np.abs(r.reshape(len(r), -1).astype(np.float64))
    total = a.sum(1, keepdims=True)
    # An all-zero map is read as the flat one: entropy log(H W).
    p = np.where(total > 0, a / np.where(total > 0, total, 1), 1.0 / a.shape[1])
    return -(p * np.log(p + 1e-12)).sum(1)


# ----------------------------------------------------------------------------- statistics

def bootstrap_ci(values, n_boot: int = 2000, level: float = 0.95, seed: int = 0,
                 groups=None) -> tuple[float, float, float]:
    """(mean, low, high): the mean over images and its percentile bootstrap interval.

    ``groups`` (one label per value) resamples whole groups instead of single values: when several
    values come from one image (the words of one caption), the images are the independent draws,
    and resampling values one by one would make the interval too narrow.
    """
    v = check_array(values, "values", ndim=1, min_rows=1)
    check_scalar(n_boot, "n_boot", numbers.Integral, low=1)
    check_scalar(level, "level", numbers.Real, low=0, high=1, include_low=False, include_high=False)
    rng = np.random.default_rng(seed)
    if groups is None:
        means = v[rng.integers(0, len(v), (n_boot, len(v)))].mean(1)
    else:
        g = np.asarray(groups)
        if g.shape != v.shape:
            raise ValueError(f"groups must give one label per value ({len(v)}); got shape {g.shape}")
        labels, index = np.unique(g, return_inverse=True)
        sums, counts = np.bincount(index, weights=v), np.bincount(index)
        draws = rng.integers(0, len(labels), (n_boot, len(labels)))
        means = sums[draws].sum(1) / counts[draws].sum(1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(v.mean()), float(lo), float(hi)


def rank_methods(scores: dict, higher_is_better: bool) -> dict:
    """{method: rank}, 1 for the best mean score (ties share the average rank)."""
    names = list(scores)
    means = np.array([np.mean(scores[n]) for n in names])
    from scipy.stats import rankdata
    ranks = rankdata(-means if higher_is_better else means)
    return dict(zip(names, ranks.tolist()))


def ranking_agreement(ranks_a: dict, ranks_b: dict) -> float:
    """Spearman correlation between two rankings of the same methods (1: same order, -1: reversed)."""
    if set(ranks_a) != set(ranks_b):
        raise ValueError(f"the rankings must cover the same methods; got {sorted(ranks_a)} and {sorted(ranks_b)}")
    names = sorted(ranks_a)
    return float(spearman_rows([[ranks_a[n] for n in names]], [[ranks_b[n] for n in names]])[0])
