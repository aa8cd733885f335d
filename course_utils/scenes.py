"""Seeded synthetic scenes: a few coloured shapes on a dark background, with boxes and captions.

The course needs images whose ground truth is known exactly, so that an explanation (an occlusion
map, an attention map) can be *measured* against it instead of being admired. Each scene holds
``n_objects`` non-overlapping shapes placed left to right; the caption names them in that order::

    >>> s = make_scenes(2, n_objects=2, seed=0)
    >>> s.captions[0]                                      # doctest: +SKIP
    'a blue triangle left of a red circle'

Per image, ``boxes``, ``shapes`` and ``colours`` are listed in caption order (left to right), and
every box is the tight bounding box of the drawn pixels: ``(x0, y0, x1, y1)`` with ``x1``/``y1``
exclusive, so ``image[:, y0:y1, x0:x1]`` is the object.
"""
from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np
import torch

from .checks import check_scalar

SHAPES = ("circle", "square", "triangle")
COLOURS = ("red", "green", "blue", "yellow")
RGB = {"red": (0.95, 0.15, 0.1), "green": (0.1, 0.8, 0.2),
       "blue": (0.15, 0.35, 1.0), "yellow": (0.95, 0.9, 0.1)}
BACKGROUND = 0.08
MAX_OBJECTS = 4


class Scenes(NamedTuple):
    images: torch.Tensor          # (N, 3, size, size) float32 in [0, 1]
    boxes: list                   # per image: [(x0, y0, x1, y1), ...] left to right
    shapes: list                  # per image: ["circle", ...]
    colours: list                 # per image: ["red", ...]
    captions: list                # per image: "a red circle left of a blue square"


def shape_mask(shape: str, side: int) -> np.ndarray:
    """A boolean ``(side, side)`` mask of one shape that touches all four sides of its square."""
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}; expected one of {list(SHAPES)}")
    r, c = np.mgrid[0:side, 0:side] + 0.5            # pixel centres
    if shape == "square":
        return np.ones((side, side), dtype=bool)
    if shape == "circle":
        h = side / 2
        return ((r - h) ** 2 + (c - h) ** 2 <= h * h) | _edge_midpoints(side)
    # triangle: apex at the top centre, base on the bottom row
    return np.abs(c - side / 2) <= r / 2 + 0.5


def _edge_midpoints(side: int) -> np.ndarray:
    # The disc of radius side/2 misses the outermost row/column for odd sides when only pixel
    # centres are tested; adding the four edge midpoints keeps the box tight and exact.
    m = np.zeros((side, side), dtype=bool)
    mid = slice((side - 1) // 2, side // 2 + 1)
    m[0, mid] = m[-1, mid] = m[mid, 0] = m[mid, -1] = True
    return m


def caption_of(shapes, colours) -> str:
    """The caption for objects listed left to right: 'a red circle left of a blue square'."""
    return " left of ".join(f"a {c} {s}" for s, c in zip(shapes, colours))


def _side_range(size: int, n_objects: int) -> tuple[int, int]:
    lo = max(6, size // 6)
    hi = min(size // 3, (size - (n_objects + 1)) // n_objects)
    return lo, hi


def make_scenes(n: int, size: int = 64, n_objects: int = 1, seed: int = 0) -> Scenes:
    """Draw ``n`` scenes of ``n_objects`` non-overlapping coloured shapes each.

    Objects occupy disjoint column ranges (at least one background pixel apart), so "left of" in
    the caption is always unambiguous, and any two boxes are disjoint. Shapes and colours are
    drawn uniformly and independently. The same ``seed`` gives identical scenes.
    """
    check_scalar(n, "n", numbers.Integral, low=1)
    check_scalar(size, "size", numbers.Integral, low=16, high=1024)
    check_scalar(n_objects, "n_objects", numbers.Integral, low=1, high=MAX_OBJECTS)
    check_scalar(seed, "seed", numbers.Integral, low=0)
    lo, hi = _side_range(size, n_objects)
    if hi < lo:
        raise ValueError(f"{n_objects} objects of at least {lo} px do not fit side by side in a "
                         f"{size} px image; use a larger size or fewer objects")
    rng = np.random.default_rng(seed)
    images = np.full((n, 3, size, size), BACKGROUND, dtype=np.float32)
    all_boxes, all_shapes, all_colours, captions = [], [], [], []
    for i in range(n):
        sides = rng.integers(lo, hi + 1, size=n_objects)
        # spread the free columns over the n_objects + 1 gaps; inner gaps get >= 1 pixel
        free = size - int(sides.sum()) - (n_objects - 1)
        cuts = np.sort(rng.integers(0, free + 1, size=n_objects))
        gaps = np.diff(np.concatenate([[0], cuts]))
        shapes = [SHAPES[k] for k in rng.integers(0, len(SHAPES), size=n_objects)]
        colours = [COLOURS[k] for k in rng.integers(0, len(COLOURS), size=n_objects)]
        boxes, x = [], 0
        for j in range(n_objects):
            x += int(gaps[j]) + (1 if j > 0 else 0)
            s = int(sides[j])
            y = int(rng.integers(0, size - s + 1))
            mask = shape_mask(shapes[j], s)
            patch = images[i, :, y:y + s, x:x + s]
            for ch, value in enumerate(RGB[colours[j]]):
                patch[ch][mask] = value
            rows, cols = np.nonzero(mask)
            boxes.append((x + int(cols.min()), y + int(rows.min()),
                          x + int(cols.max()) + 1, y + int(rows.max()) + 1))
            x += s
        all_boxes.append(boxes)
        all_shapes.append(shapes)
        all_colours.append(colours)
        captions.append(caption_of(shapes, colours))
    return Scenes(torch.from_numpy(images), all_boxes, all_shapes, all_colours, captions)
