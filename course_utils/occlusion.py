"""Lecture 03, occlusion experiments (Zeiler & Fergus 2013): hide part of the image, watch the output.

* ``occluder_positions``: where a ``window`` sliding by ``stride`` is placed (captum's convention:
  ``ceil((size - window) / stride) + 1`` positions per axis, the last window cut off by the border).
* ``occlusion``: per-pixel attribution with captum ``Occlusion``'s meaning: the drop of the target
  output when the pixel is hidden, averaged over all windows that hide it.
* ``occlusion_map``: the target's softmax probability at each occluder position (the lecture's plot).
* ``pointing_game``: how often a map's maximum falls inside the object's known box.

Speed: an occluder changes only a small region of the input, so only a region of every feature
map changes. ``occluded_logits`` traces the model with ``torch.fx`` and recomputes, layer by layer,
just the changed region of each feature map for a batch of occluder positions (incremental
inference, as in Krypton, Nakandala et al., SIGMOD 2019). Convolutions and pooling read a crop of
the unoccluded activation with the changed region pasted in; pointwise layers (BatchNorm in eval
mode, ReLU, ReLU6, scaling) act on the region alone; residual sums take the union of regions.
Once a region covers most of its map, or at any operation it does not know, it falls back to
ordinary dense computation, so the output is the same as the plain forward pass (up to float
rounding, ~1e-6). The network runs with each BatchNorm, SamePad and rectifier folded into its
convolution (``course_utils.fusion``), and the unoccluded image's maps are computed once.
"""
from __future__ import annotations

import math
import numbers
import operator
import warnings

import numpy as np
import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .backprop import check_model_input, check_model_matches, in_eval_mode, target_scalar
from .checks import check_array, check_choice, check_scalar, check_tensor
from .fusion import FusedConv, check_single_input, fused_graph, samepad_offsets, standard
from .models import SamePad


# ----------------------------------------------------------------------------- positions and checks

def _pair(value, name):
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair (height, width); got {value!r}")
        return tuple(check_scalar(v, name, numbers.Integral) for v in value)
    check_scalar(value, name, numbers.Integral)
    return int(value), int(value)


def occluder_positions(size: int, window: int, stride: int) -> list:
    """Top (or left) coordinates of the occluder along one axis: 0, stride, 2 stride, ...

    ``ceil((size - window) / stride) + 1`` positions, so every pixel is hidden at least once when
    ``stride <= window`` (the last window may stick out of the image and is cut off).
    """
    check_scalar(size, "size", numbers.Integral, low=1)
    check_scalar(window, "window", numbers.Integral, low=1)
    check_scalar(stride, "stride", numbers.Integral, low=1)
    if window > size:
        raise ValueError(f"window ({window}) must not be larger than the image ({size})")
    return [i * stride for i in range(math.ceil((size - window) / stride) + 1)]


def _check_window(x, window, stride):
    wh, ww = _pair(window, "window")
    sh, sw = _pair(stride, "stride")
    H, W = x.shape[-2:]
    if min(wh, ww) < 1 or min(sh, sw) < 1:
        raise ValueError(f"window and stride must be >= 1; got window {window!r}, stride {stride!r}")
    if wh > H or ww > W:
        raise ValueError(f"window {(wh, ww)} is larger than the image {(H, W)}")
    if (sh > wh and wh < H) or (sw > ww and ww < W):
        raise ValueError(f"stride {(sh, sw)} larger than the window {(wh, ww)} would leave pixels never occluded")
    return (wh, ww), (sh, sw)


def _baseline_tensor(baseline, x):
    """The baseline as a (C,H,W) tensor on x's device and dtype: a number, a per-channel (C,) tensor or a full image."""
    C, H, W = x.shape[-3:]
    if isinstance(baseline, numbers.Real) and not isinstance(baseline, bool):
        check_scalar(baseline, "baseline")
        return torch.full((C, H, W), float(baseline), dtype=x.dtype, device=x.device)
    if not isinstance(baseline, torch.Tensor):
        raise TypeError(f"baseline must be a number or a tensor of shape ({C},) or {(C, H, W)}; "
                        f"got {type(baseline).__name__}")
    check_tensor(baseline, "baseline", ndim=(1, 3))
    baseline = baseline.to(dtype=x.dtype, device=x.device)
    if baseline.dim() == 1:
        if len(baseline) != C:
            raise ValueError(f"a per-channel baseline needs {C} values; got {len(baseline)}")
        return baseline[:, None, None].expand(C, H, W)
    if tuple(baseline.shape) != (C, H, W):
        raise ValueError(f"baseline image must have shape {(C, H, W)}; got {tuple(baseline.shape)}")
    return baseline


# ----------------------------------------------------------------------------- incremental inference

def _gather(base, top, left, h, w):
    """(B,C,h,w) crops of one map ``base`` (1,C,H,W) with top-left corners (top[b], left[b]).

    Works in channels-last order (pixels of C contiguous values), which is also the layout the
    returned crops have: CPU convolutions, depthwise ones above all, are much faster on it.
    """
    C, W = base.shape[1], base.shape[-1]
    rows = top[:, None] + torch.arange(h, device=top.device)
    cols = left[:, None] + torch.arange(w, device=top.device)
    flat = (rows[:, :, None] * W + cols[:, None, :]).reshape(-1)
    pixels = base.permute(0, 2, 3, 1).reshape(-1, C)
    return pixels[flat].reshape(len(top), h, w, C).permute(0, 3, 1, 2)


class _Region:
    """A batch of feature maps that equal ``base`` except in one ``size`` rectangle per map.

    ``base``: (1,C,H,W) activation of the unoccluded image; ``vals``: (B,C,h,w) the rectangle of
    each occluded version; ``top``/``left``: (B,) its position. The rectangle always lies inside
    the map (it is shifted inward at the borders, which only adds unchanged pixels).
    """

    def __init__(self, base, vals, top, left):
        self.base, self.vals, self.top, self.left = base, vals, top, left

    @property
    def batch(self):
        return len(self.vals)

    def crop(self, top, left, h, w, pad=(0, 0, 0, 0), value=0.0):
        """(B,C,h,w) crops at (top, left) of each full map, in coordinates of the map padded by ``pad``."""
        pt, pb, pl, pr = pad
        base = F.pad(self.base, (pl, pr, pt, pb), value=value) if any(pad) else self.base
        C = base.shape[1]
        out = _gather(base, top, left, h, w).permute(0, 2, 3, 1).reshape(len(top), h * w, C)
        rows = top[:, None] + torch.arange(h, device=top.device)  # (B,h) in padded coordinates
        cols = left[:, None] + torch.arange(w, device=top.device)  # (B,w)
        r = rows - pt - self.top[:, None]                         # position inside the changed rectangle
        c = cols - pl - self.left[:, None]
        hr, wr = self.vals.shape[-2:]
        inside = ((r >= 0) & (r < hr))[:, :, None] & ((c >= 0) & (c < wr))[:, None, :]
        idx = (r.clamp(0, hr - 1)[:, :, None] * wr + c.clamp(0, wr - 1)[:, None, :]).reshape(len(top), -1, 1)
        vals = self.vals.permute(0, 2, 3, 1).reshape(self.batch, hr * wr, C)
        changed = vals.gather(1, idx.expand(-1, -1, C))
        out = torch.where(inside.reshape(len(top), -1, 1), changed, out)
        return out.reshape(len(top), h, w, C).permute(0, 3, 1, 2)

    def dense(self):
        H, W = self.base.shape[-2:]
        zero = torch.zeros(self.batch, dtype=torch.long, device=self.top.device)
        return self.crop(zero, zero, H, W)

    def size(self, *dim):
        """``Tensor.size`` of the dense batch, without computing it."""
        shape = torch.Size((self.batch, *self.base.shape[1:]))
        return shape[dim[0]] if dim else shape

    def coverage(self):
        return self.vals.shape[-2] * self.vals.shape[-1] / (self.base.shape[-2] * self.base.shape[-1])


def _fixed_size_starts(lo, hi, size_limit):
    """Common size of the rectangles [lo, hi] (inclusive), and starts shifted so that they fit the map."""
    size = min(int((hi - lo).max()) + 1, size_limit)
    return lo.clamp(min=0, max=size_limit - size), size


def _windowed(region, op, kernel, stride, pads, dilation, pad_value, out_base):
    """A conv or pooling (kernel, stride, padding (top, bottom, left, right)) on the changed region only.

    ``op`` applies the layer without padding; ``out_base`` is the layer's output on the unoccluded map.
    """
    pt, pb, pl, pr = pads
    Ho, Wo = out_base.shape[-2:]
    starts, sizes = [], []
    for axis, (start, n_in, n_out, p) in enumerate([(region.top, region.vals.shape[-2], Ho, pt),
                                                    (region.left, region.vals.shape[-1], Wo, pl)]):
        k = dilation[axis] * (kernel[axis] - 1) + 1
        s = stride[axis]
        lo = torch.div(start + p - k + 1 + s - 1, s, rounding_mode="floor")   # ceil((start + p - k + 1) / s)
        hi = torch.div(start + n_in - 1 + p, s, rounding_mode="floor").clamp(max=n_out - 1)
        first, size = _fixed_size_starts(lo, hi, n_out)
        starts.append(first)
        sizes.append(size)
    (top, left), (h, w) = starts, sizes
    kh = dilation[0] * (kernel[0] - 1) + 1
    kw = dilation[1] * (kernel[1] - 1) + 1
    crop = region.crop(top * stride[0], left * stride[1], (h - 1) * stride[0] + kh, (w - 1) * stride[1] + kw,
                       pad=pads, value=pad_value)
    return _Region(out_base, op(crop), top, left)


def _union(a, b):
    H, W = a.base.shape[-2:]
    out = []
    for sa, sb, na, nb, n in [(a.top, b.top, a.vals.shape[-2], b.vals.shape[-2], H),
                              (a.left, b.left, a.vals.shape[-1], b.vals.shape[-1], W)]:
        out.append(_fixed_size_starts(torch.minimum(sa, sb), torch.maximum(sa + na, sb + nb) - 1, n))
    (top, h), (left, w) = out
    return top, left, h, w


POINTWISE_MODULES = (nn.BatchNorm2d, nn.ReLU, nn.ReLU6, nn.Hardtanh, nn.Identity, nn.Dropout, nn.Dropout2d,
                     nn.SiLU, nn.Sigmoid, nn.Tanh, nn.LeakyReLU, nn.GELU, nn.Hardswish)
POINTWISE_FUNCTIONS = {F.relu, torch.relu, F.relu6, F.hardtanh, torch.sigmoid, torch.tanh, F.silu,
                       F.leaky_relu, F.gelu}
ARITHMETIC = {operator.add, operator.sub, operator.mul, operator.truediv, torch.add, torch.mul}


class IncrementalOcclusion:
    """Run ``model`` on many occluded copies of one image, recomputing only the changed regions.

    The model runs as a ``fusion.FusedGraph`` (each conv with its padding, BatchNorm and rectifier
    folded in). Every layer's output on the unoccluded image is computed once (``clean``); a batch
    of occluders then carries, through each layer, only the rectangle where its maps differ from
    those. ``dense_fraction``: a rectangle covering more than this share of its map switches to
    dense computation (small late maps gain nothing from cropping).
    """

    def __init__(self, model: nn.Module, dense_fraction: float = 0.5):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
        check_scalar(dense_fraction, "dense_fraction", low=0, high=1)
        self.fused = fused_graph(model, rectifiers=True)
        if self.fused is None:
            raise ValueError(f"torch.fx cannot trace {type(model).__name__}")
        self.model, self.dense_fraction, self.graph = model, dense_fraction, self.fused.graph
        self.modules = self.fused.modules(model, channels_last=True)
        self._clean_input, self._clean = None, {}

    @torch.no_grad()
    def clean(self, image: torch.Tensor) -> dict:
        """Every node's value for the unoccluded ``image`` (1,C,H,W), computed once per image."""
        if self._clean_input is not image:
            self._clean = self.fused.run(self.model, self.modules, image, keep=True)
            self._clean_input = image
        return self._clean

    def _module(self, module, arg, out_base):
        if isinstance(module, FusedConv):
            if not isinstance(arg, _Region):
                return module(arg)
            return self._maybe_dense(_windowed(arg, module.conv, module.kernel, module.stride,
                                               module.pads(*arg.base.shape[-2:]), module.dilation, 0.0, out_base))
        if not isinstance(arg, _Region):
            return module(arg)
        if isinstance(module, POINTWISE_MODULES):
            return _Region(out_base, module(arg.vals), arg.top, arg.left)
        if isinstance(module, SamePad):
            pt, pb, pl, pr = samepad_offsets(module, *arg.base.shape[-2:])
            return _Region(out_base, arg.vals, arg.top + pt, arg.left + pl)
        if isinstance(module, nn.MaxPool2d) and not module.ceil_mode:
            k, s, p, d = (_pair(v, n) for v, n in [(module.kernel_size, "kernel"), (module.stride, "stride"),
                                                   (module.padding, "padding"), (module.dilation, "dilation")])
            op = lambda t: F.max_pool2d(t, k, s, 0, d)  # noqa: E731
            return self._maybe_dense(_windowed(arg, op, k, s, (p[0], p[0], p[1], p[1]), d, -math.inf, out_base))
        return module(arg.dense())

    def _function(self, fn, args, kwargs, out_base):
        if fn in POINTWISE_FUNCTIONS and isinstance(args[0], _Region) and not kwargs.get("inplace", False):
            r = args[0]
            return _Region(out_base, fn(r.vals, *args[1:], **kwargs), r.top, r.left)
        if fn in ARITHMETIC and len(args) == 2 and not kwargs:
            a, b = args
            if isinstance(b, numbers.Number):
                return _Region(out_base, fn(a.vals, b), a.top, a.left)
            if isinstance(a, numbers.Number):
                return _Region(out_base, fn(a, b.vals), b.top, b.left)
            if isinstance(a, _Region) and isinstance(b, _Region) and a.base.shape == b.base.shape:
                top, left, h, w = _union(a, b)
                return self._maybe_dense(_Region(out_base, fn(a.crop(top, left, h, w), b.crop(top, left, h, w)),
                                                 top, left))
        if fn is F.max_pool2d and isinstance(args[0], _Region):
            names = ["kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"]
            params = dict(zip(names, args[1:])) | kwargs
            if not params.get("ceil_mode") and not params.get("return_indices"):
                k = _pair(params["kernel_size"], "kernel")
                s = _pair(params.get("stride") or params["kernel_size"], "stride")
                p, d = _pair(params.get("padding", 0), "padding"), _pair(params.get("dilation", 1), "dilation")
                op = lambda t: F.max_pool2d(t, k, s, 0, d)  # noqa: E731
                return self._maybe_dense(_windowed(args[0], op, k, s, (p[0], p[0], p[1], p[1]), d, -math.inf,
                                                   out_base))
        dense = lambda a: a.dense() if isinstance(a, _Region) else a  # noqa: E731
        return fn(*fx.node.map_aggregate(args, dense), **fx.node.map_aggregate(kwargs, dense))

    def _maybe_dense(self, region):
        return region.dense() if region.coverage() > self.dense_fraction else region

    @torch.no_grad()
    def run(self, first: _Region):
        """The model's output for each occluded image of the batch ``first`` (a region of the input)."""
        clean = self.clean(first.base)
        env, changed = {}, set()
        load = lambda a: fx.node.map_arg(a, lambda n: env[n])  # noqa: E731
        dense = lambda a: a.dense() if isinstance(a, _Region) else a  # noqa: E731
        all_dense = lambda a: fx.node.map_aggregate(a, dense)  # noqa: E731
        for node in self.graph.nodes:
            if node.op == "placeholder":
                if not env:                       # the image; later ones keep their defaults
                    env[node] = first
                    changed.add(node)
                else:
                    env[node] = clean[node]
                continue
            if not any(n in changed for n in node.all_input_nodes):   # untouched by the occluder
                env[node] = clean[node]
                continue
            changed.add(node)
            args, kwargs = load(node.args), load(node.kwargs)
            if node.op == "output":
                return standard(all_dense(args[0]))
            if node.op == "call_method" and node.target == "size" and isinstance(args[0], _Region):
                env[node] = args[0].size(*args[1:], **kwargs)
            elif node in self.fused.standard_layout:   # not known to take any memory format: plain tensors
                env[node] = self.fused.call(node, self.model, self.modules, all_dense(args), all_dense(kwargs))
            elif node.op == "call_module":
                env[node] = self._module(self.modules[node.target], args[0], clean[node]) \
                    if len(args) == 1 and not kwargs else self.modules[node.target](*all_dense(args), **all_dense(kwargs))
            elif node.op == "call_function":
                env[node] = self._function(node.target, args, kwargs, clean[node])
            else:
                env[node] = self.fused.call(node, self.model, self.modules, all_dense(args), all_dense(kwargs))


def occluded_logits(model: nn.Module, image: torch.Tensor, window=32, stride=8, baseline=0.0,
                    method: str = "auto", batch_size: int = 32, progress: bool = False) -> torch.Tensor:
    """The model's output for ``image`` (C,H,W) occluded at every position: (n_rows, n_cols, *output).

    ``method="incremental"`` recomputes only the changed regions (falls back to ``"dense"`` with a
    warning if the model cannot be traced or run that way); ``"dense"`` runs whole occluded images
    in batches (through the fused graph when the model can be traced, else the model itself); ``"auto"`` picks incremental from 96x96 pixels up (falling back silently): on small
    images the interpreter's Python overhead costs more than the cropping saves (measured in
    ``benchmarks/attribution.py``). The model sees images in the memory format of ``image``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    _check_options(method, batch_size, progress)
    check_single_input(model)
    check_model_matches(model, image)
    check_tensor(image, "image", ndim=3)
    with in_eval_mode(model, "occluding"):
        return _occluded_logits(model, image, window, stride, baseline, method, batch_size, progress)


def _occluded_logits(model, image, window, stride, baseline, method, batch_size, progress):
    explicit = method == "incremental"
    if method == "auto":
        method = "incremental" if image.shape[-2] * image.shape[-1] >= 96 * 96 else "dense"
    (wh, ww), (sh, sw) = _check_window(image, window, stride)
    H, W = image.shape[-2:]
    base_fill = _baseline_tensor(baseline, image)
    ys, xs = occluder_positions(H, wh, sh), occluder_positions(W, ww, sw)
    grid = torch.tensor([(y, x) for y in ys for x in xs], dtype=torch.long, device=image.device)
    engine = None

    def fall_back(doing, err):
        if explicit:
            warnings.warn(f"cannot {doing} the model for incremental occlusion ({type(err).__name__}: {err}); "
                          "using dense batches", stacklevel=4)

    if method == "incremental":
        try:
            engine = IncrementalOcclusion(model)
        except Exception as err:  # e.g. data-dependent control flow that torch.fx cannot trace
            fall_back("trace", err)
    traced = None
    if engine is None:
        # Whole occluded images, through the traced graph where it exists: there channels_last (1.4x
        # faster for Lite0 on CPU) reaches only operations known to take it, and BatchNorm is folded.
        fused = fused_graph(model, rectifiers=True)
        if fused is not None:
            modules = fused.modules(model, channels_last=True)
            traced = lambda batch: fused.run(model, modules, batch)  # noqa: E731
    # Crops are cut in channels_last order (fast on CPU); the model itself gets its images in the
    # memory format the caller's image has (the standard one, unless the caller chose channels_last).
    clean = image[None].contiguous(memory_format=torch.channels_last)
    caller_format = torch.channels_last if image[None].is_contiguous(memory_format=torch.channels_last) \
        and not image.is_contiguous() else torch.contiguous_format
    outputs = []
    for start in tqdm(range(0, len(grid), batch_size), desc="occlusion", disable=not progress):
        pos = grid[start:start + batch_size]
        # A fixed-size rectangle per occluder, shifted inside the image; only its hidden part is replaced.
        top = pos[:, 0].clamp(max=H - wh)
        left = pos[:, 1].clamp(max=W - ww)
        rows = top[:, None] + torch.arange(wh, device=image.device)
        cols = left[:, None] + torch.arange(ww, device=image.device)
        hidden = ((rows >= pos[:, :1]) & (rows < pos[:, :1] + wh))[:, None, :, None] & \
                 ((cols >= pos[:, 1:]) & (cols < pos[:, 1:] + ww))[:, None, None, :]
        region = _Region(clean, torch.where(hidden, _gather(base_fill[None], top, left, wh, ww),
                                            _gather(clean, top, left, wh, ww)), top, left)
        with torch.no_grad():
            out = None
            if engine is not None:
                try:
                    out = engine.run(region)
                except Exception as err:  # an operation the engine mishandles: the plain model is the reference
                    fall_back("run", err)
                    engine = None
            if out is None and traced is not None:
                try:
                    out = traced(region.dense())
                except Exception:  # the model itself will say what is wrong, if anything is
                    traced = None
            if out is None:
                out = model(region.dense().contiguous(memory_format=caller_format))
            outputs.append(out)
    out = torch.cat(outputs)
    return out.reshape(len(ys), len(xs), *out.shape[1:])


def _check_options(method, batch_size, progress):
    check_choice(method, "method", ["auto", "incremental", "dense"])
    check_scalar(batch_size, "batch_size", numbers.Integral, low=1)
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be True or False; got {progress!r}")


def _targets(model, x, target):
    """Per-image class indices (checked against the output size) and the clean outputs."""
    with torch.no_grad():
        clean = model(x)
    if callable(target):
        raise TypeError("occlusion needs a class index (or one per image) as target, not a callable")
    target_scalar(clean, target, len(x))  # validates type and range
    index = torch.as_tensor(target, dtype=torch.long).reshape(-1).expand(len(x))
    return index, clean


def occlusion(model: nn.Module, x: torch.Tensor, target, window=32, stride=8, baseline=0.0,
              method: str = "auto", batch_size: int = 32, progress: bool = False) -> torch.Tensor:
    """Per-pixel occlusion attribution shaped like ``x``, as captum's ``Occlusion``.

    Each pixel gets the mean over the windows that hide it of ``f(x)[t] - f(x occluded)[t]``
    (``f`` the model's output, e.g. logits). ``window``/``stride`` are ints or (h, w) pairs; the
    window covers all channels. ``baseline``: the occluder's value (number, (C,) or (C,H,W)).
    """
    _check_options(method, batch_size, progress)
    batch, single = check_model_input(model, x)
    (wh, ww), (sh, sw) = _check_window(batch, window, stride)
    _baseline_tensor(baseline, batch[0])
    with in_eval_mode(model, "occluding"):
        index, clean = _targets(model, batch, target)
        H, W = batch.shape[-2:]
        ys, xs = occluder_positions(H, wh, sh), occluder_positions(W, ww, sw)
        attributions = []
        for image, t, c in zip(batch, index.tolist(), clean):
            out = occluded_logits(model, image, (wh, ww), (sh, sw), baseline, method, batch_size, progress)
            drop = c[t] - out[..., t]                                  # (n_rows, n_cols)
            total = torch.zeros(H, W, dtype=drop.dtype, device=drop.device)
            count = torch.zeros_like(total)
            for i, y in enumerate(ys):
                for j, x0 in enumerate(xs):
                    total[y:y + wh, x0:x0 + ww] += drop[i, j]
                    count[y:y + wh, x0:x0 + ww] += 1
            attributions.append((total / count).expand_as(image).clone())
    result = torch.stack(attributions)
    return result[0] if single else result


def occlusion_map(model: nn.Module, x: torch.Tensor, target, window=32, stride=8, baseline=0.0,
                  method: str = "auto", batch_size: int = 32, progress: bool = False) -> torch.Tensor:
    """Softmax probability of ``target`` with the occluder at each position: (n_rows, n_cols), or (B, n_rows, n_cols).

    Row ``i``, column ``j`` is the occluder whose top-left corner is at
    ``(occluder_positions(H, ...)[i], occluder_positions(W, ...)[j])``.
    """
    _check_options(method, batch_size, progress)
    batch, single = check_model_input(model, x)
    (wh, ww), (sh, sw) = _check_window(batch, window, stride)
    _baseline_tensor(baseline, batch[0])
    with in_eval_mode(model, "occluding"):
        index, _ = _targets(model, batch, target)
        maps = [occluded_logits(model, image, (wh, ww), (sh, sw), baseline, method, batch_size, progress)
                .softmax(dim=-1)[..., t] for image, t in zip(batch, index.tolist())]
    result = torch.stack(maps)
    return result[0] if single else result


def map_centres(size: int, window: int, stride: int) -> np.ndarray:
    """Pixel coordinate of each occluder's centre along one axis (cut-off windows: the visible part's centre)."""
    return np.array([(y + min(y + window, size)) / 2 - 0.5 for y in occluder_positions(size, window, stride)])


def pointing_game(maps: torch.Tensor, boxes, size: int, window: int, stride: int, lower_is_better: bool = True):
    """Share of images whose map extremum (the occluder position that hurts most) lies in the object's box.

    ``maps``: (N, n_rows, n_cols) occlusion maps of the true class's probability; ``boxes``: one
    (x0, y0, x1, y1) box per image (x1, y1 exclusive). The position is the occluder's centre.
    Returns (accuracy, hits as a bool array).
    """
    check_tensor(maps, "maps", ndim=3)
    if not isinstance(lower_is_better, bool):
        raise TypeError(f"lower_is_better must be True or False; got {lower_is_better!r}")
    boxes = check_array(boxes, "boxes", ndim=2, dtype_kind="iuf") if len(boxes) else np.zeros((0, 4))
    if boxes.shape[1] != 4:
        raise ValueError(f"each box must be (x0, y0, x1, y1); got boxes of shape {boxes.shape}")
    if len(boxes) != len(maps):
        raise ValueError(f"need one box per map; got {len(boxes)} boxes for {len(maps)} maps")
    centres = map_centres(size, window, stride)
    if maps.shape[1:] != (len(centres), len(centres)):
        raise ValueError(f"maps must be ({len(centres)}, {len(centres)}) for size {size}, window {window}, "
                         f"stride {stride}; got {tuple(maps.shape[1:])}")
    flat = maps.flatten(1)
    best = (flat.argmin(1) if lower_is_better else flat.argmax(1)).cpu().numpy()
    cy, cx = centres[best // maps.shape[2]], centres[best % maps.shape[2]]
    hits = np.array([x0 <= x < x1 and y0 <= y < y1 for (x0, y0, x1, y1), x, y in zip(boxes, cx, cy)])
    return float(hits.mean()), hits
