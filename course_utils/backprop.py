"""Lecture 04, backpropagation from individual neurons: gradients, deconvnet and guided backprop.

All three maps are ``d neuron / d x`` computed by backpropagation; they differ only in what the
backward pass does at each rectifier ``y = clamp(x, 0, hi)`` (ReLU: hi = inf, ReLU6: hi = 6),
given the gradient ``g`` arriving at ``y``:

* ``saliency``         x.grad = I[0 < x < hi] * g                 (the true gradient)
* ``deconvnet``        x.grad = I[g > 0] * g                     (Zeiler & Fergus: ignore the forward pass)
* ``guided_backprop``  x.grad = I[g > 0] * I[0 < x < hi] * g     (Springenberg et al.: both)

The rules are applied by a custom ``torch.autograd.Function``. To find every rectifier, whether it
is a module (reused or not), in-place or a functional call (``torch.relu``, ``F.relu``,
``F.relu6``, ``Tensor.relu_``...), the forward pass runs inside a ``TorchFunctionMode`` that
swaps those calls for the custom function. Nothing is attached to the model: no hooks, flags or
changed parameters survive the call.

Speed: a network with BatchNorm runs as its ``fusion.FusedGraph`` (BatchNorm folded into the
convolutions in eval mode), the same function up to float rounding (about 1e-6 relative).
"""
from __future__ import annotations

import contextlib
import math
import numbers
import warnings
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from .checks import check_choice, check_scalar, check_tensor
from .fusion import check_single_input, fused_graph

RULES = ["gradient", "deconvnet", "guided"]


def relu_backward_rule(grad_out: torch.Tensor, x: torch.Tensor, rule: str, hi: float = math.inf) -> torch.Tensor:
    """The gradient passed to the input of ``y = clamp(x, 0, hi)`` under each rule (see module docstring)."""
    check_choice(rule, "rule", RULES)
    check_tensor(grad_out, "grad_out")
    check_tensor(x, "x")
    if grad_out.shape != x.shape:
        raise ValueError(f"grad_out and x must have the same shape; got {tuple(grad_out.shape)} and {tuple(x.shape)}")
    if hi != math.inf:
        check_scalar(hi, "hi", low=0, include_low=False)
    passes = (x > 0) & (x < hi)          # where the forward pass let the signal through
    if rule == "gradient":
        return grad_out * passes
    if rule == "deconvnet":
        return grad_out.clamp(min=0)
    return grad_out.clamp(min=0) * passes


class _Rectifier(torch.autograd.Function):
    """``clamp(x, 0, hi)`` forward; the chosen rule backward. Saves a mask, not ``x``, so in-place is safe."""

    @staticmethod
    def forward(ctx, x, hi, rule, inplace):
        passes = (x > 0) if hi == math.inf else (x > 0) & (x < hi)
        ctx.rule = rule
        ctx.save_for_backward(passes)
        if inplace:
            ctx.mark_dirty(x)
            return x.clamp_(0, hi)
        return x.clamp(0, hi)

    @staticmethod
    def backward(ctx, grad_out):
        (passes,) = ctx.saved_tensors
        zero = grad_out.new_zeros(())
        if ctx.rule == "gradient":
            grad = torch.where(passes, grad_out, zero)
        elif ctx.rule == "deconvnet":
            grad = grad_out.clamp(min=0)
        else:
            grad = torch.where(passes & (grad_out > 0), grad_out, zero)
        return grad, None, None, None


class _PositiveGrad(torch.autograd.Function):
    """Identity forward; passes only the positive part of the gradient backward.

    Placed after the rectifier's own (native, fused) forward and backward, it turns the true
    gradient I[0 < x < hi] g into guided backprop's I[0 < x < hi] I[g > 0] g at the cost of one
    clamp, which is what keeps guided backprop as fast as a plain gradient.
    """

    @staticmethod
    def forward(ctx, y, inplace):
        if inplace:
            ctx.mark_dirty(y)
            return y
        return y.view_as(y)

    @staticmethod
    def backward(ctx, grad_out):
        return grad_out.clamp(min=0), None


def _arg(args, kwargs, i, name, default):
    return args[i] if len(args) > i else kwargs.get(name, default)


def _rectifier_call(func, args, kwargs):
    """(x, hi, inplace) if ``func(*args, **kwargs)`` is a ReLU-family call, else None."""
    if func in (F.relu, torch.relu, torch.Tensor.relu):
        return args[0], math.inf, bool(_arg(args, kwargs, 1, "inplace", False)) if func is F.relu else False
    if func in (torch.relu_, torch.Tensor.relu_, F.relu_):
        return args[0], math.inf, True
    if func is F.relu6:
        return args[0], 6.0, bool(_arg(args, kwargs, 1, "inplace", False))
    if func in (F.hardtanh, F.hardtanh_):
        lo, hi = _arg(args, kwargs, 1, "min_val", -1.0), _arg(args, kwargs, 2, "max_val", 1.0)
        if lo != 0:  # a hardtanh that is not a rectifier keeps its ordinary gradient
            return None
        inplace = func is F.hardtanh_ or bool(_arg(args, kwargs, 3, "inplace", False))
        return args[0], float(hi), inplace
    return None


class RectifierRule(TorchFunctionMode):
    """Inside ``with RectifierRule(rule):`` every ReLU/ReLU6 call backpropagates with ``rule``.

    Counts the rectifiers it replaced in ``self.count`` (a model with none is probably a mistake).
    """

    def __init__(self, rule: str):
        super().__init__()
        self.rule = check_choice(rule, "rule", RULES)
        self.count = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        call = _rectifier_call(func, args, kwargs)
        if call is not None and isinstance(call[0], torch.Tensor) and call[0].requires_grad:
            self.count += 1
            x, hi, inplace = call
            if self.rule == "guided" and not inplace:  # an in-place rectifier saved its output; keep it intact
                return _PositiveGrad.apply(func(*args, **kwargs), inplace)
            return _Rectifier.apply(x, hi, self.rule, inplace)
        return func(*args, **kwargs)


@contextlib.contextmanager
def in_eval_mode(model: nn.Module, doing: str, stacklevel: int = 1):
    """Eval mode inside (dropout off, BatchNorm on its running statistics); every module's own flag restored after.

    Warns, naming what is ``doing``, if the model was in training mode. ``stacklevel``: how many
    calls up from the ``with`` statement the user's code is.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    training = [m for m in model.modules() if m.training]
    if not training:  # the usual case: nothing to switch
        yield
        return
    if model.training:
        warnings.warn(f"model is in training mode; {doing} in eval mode (dropout off, BatchNorm running "
                      "statistics) and restoring training mode after", stacklevel=3 + stacklevel)
    model.eval()
    try:
        yield
    finally:
        for m in training:
            m.training = True


class _Stop(Exception):
    """Raised by the temporary forward hook once the chosen layer's activation exists."""


def _input_channels(model: nn.Module):
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            return module.in_channels
    return None


def _first_parameter(model: nn.Module):
    """The first parameter met depth-first (several times cheaper than ``next(model.parameters())``)."""
    stack = [model]
    while stack:
        module = stack.pop()
        for p in module._parameters.values():
            if p is not None:
                return p
        stack.extend(reversed(module._modules.values()))
    return None


def check_model_matches(model: nn.Module, x: torch.Tensor) -> None:
    """``x`` must have the dtype and device of the model's parameters (torch's own error names neither)."""
    p = _first_parameter(model)
    if p is None or not p.is_floating_point() or not isinstance(x, torch.Tensor) or not x.is_floating_point():
        return  # check_tensor names what is wrong with x
    if p.dtype != x.dtype:
        raise TypeError(f"x is {x.dtype} but the model's parameters are {p.dtype}: convert one of them, "
                        f"e.g. x.to({p.dtype}) or model.to({x.dtype})")
    if p.device != x.device:
        raise ValueError(f"x is on {x.device} but the model is on {p.device}: move one of them, e.g. x.to('{p.device}')")


def check_model_input(model: nn.Module, x: torch.Tensor):
    """Validate ``model`` and ``x`` (C,H,W) or (B,C,H,W); returns x as a batch and whether it was a single image."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    check_single_input(model)
    check_model_matches(model, x)   # first: the finiteness check would fail on the wrong device
    check_tensor(x, "x", ndim=(3, 4), channels=_input_channels(model))
    return (x[None], True) if x.dim() == 3 else (x, False)


def target_scalar(output: torch.Tensor, target, batch: int) -> torch.Tensor:
    """Sum over the batch of the neuron of interest: ``output[b, target[b]]`` or ``target(output)``.

    Images are independent in eval mode, so the gradient of the sum is each image's own gradient.
    """
    if callable(target):
        value = target(output)
        if not isinstance(value, torch.Tensor) or value.dim() > 1 or (value.dim() == 1 and len(value) != batch):
            raise ValueError("a callable target must return a scalar tensor or one value per image "
                             f"(shape ({batch},)); got {getattr(value, 'shape', type(value).__name__)}")
        return value.sum()
    if output.dim() != 2:
        raise ValueError(f"a class-index target needs an output of shape (B, classes); got {tuple(output.shape)}; "
                         "pass a callable target for other outputs")
    n_classes = output.shape[1]
    if isinstance(target, numbers.Integral) and not isinstance(target, bool):
        index = torch.full((batch,), int(target), dtype=torch.long)
    elif isinstance(target, (list, tuple, torch.Tensor, np.ndarray)):
        given = torch.as_tensor(target)
        if given.is_floating_point() or given.is_complex() or given.dtype == torch.bool:
            raise TypeError(f"target must hold class indices (integers); got dtype {given.dtype}")
        index = given.to(torch.long).reshape(-1)
        if len(index) != batch:
            raise ValueError(f"target needs one class per image ({batch}); got {len(index)}")
    else:
        raise TypeError(f"target must be a class index, a sequence of indices or a callable; got {type(target).__name__}")
    if (index < 0).any() or (index >= n_classes).any():
        raise ValueError(f"target must be a class index in [0, {n_classes - 1}]; got {index.tolist()}")
    return output.gather(1, index[:, None].to(output.device)).sum()


def attribute(model: nn.Module, x: torch.Tensor, target, rule: str = "gradient",
              layer: nn.Module | None = None) -> torch.Tensor:
    """``d target / d x`` with the rectifiers' backward replaced by ``rule``; shaped like ``x``.

    ``target``: a class index (or one per image), or a callable mapping the output of ``model``,
    or of ``layer`` when given, to the neuron's value (a scalar, or one value per image). E.g.
    ``target=lambda a: a[:, 7, 3, 3]`` picks channel 7 at position (3, 3) of a conv layer.
    A model in training mode is run in eval mode (with a warning) and put back in training mode.
    """
    check_choice(rule, "rule", RULES)
    batch_x, single = check_model_input(model, x)
    if layer is not None and not isinstance(layer, nn.Module):
        raise TypeError(f"layer must be a submodule of model (a torch.nn.Module) or None; got {type(layer).__name__}")
    if layer is not None and not any(m is layer for m in model.modules()):
        raise ValueError(f"layer must be a submodule of model; got a {type(layer).__name__} that is not in it")
    with in_eval_mode(model, "computing the attribution", stacklevel=2):
        handle = None
        try:
            xg = batch_x.detach().clone().requires_grad_(True)
            captured = {}
            if layer is not None:
                def grab(module, inputs, output):  # temporary, removed in `finally`
                    captured["out"] = output
                    raise _Stop
                handle = layer.register_forward_hook(grab)
            # The true gradient needs no rule at all: plain autograd is already right for every ReLU.
            mode = RectifierRule(rule) if rule != "gradient" else contextlib.nullcontext()
            # With BatchNorm folded into the convolutions the same function costs two passes fewer per
            # BatchNorm (forward and backward). A chosen layer needs the model's own modules and hooks.
            has_batchnorm = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
            fused = fused_graph(model, rectifiers=False) if layer is None and has_batchnorm else None
            if fused is not None and fused.folds_batchnorm:
                modules = fused.modules(model)
                forward = lambda x: fused.run(model, modules, x)  # noqa: E731
            else:
                forward = model
            with torch.enable_grad(), mode:
                try:
                    out = forward(xg)
                except _Stop:
                    out = captured["out"]
            scalar = target_scalar(out, target, len(xg))
            # autograd.grad (not .backward) so that no parameter's .grad is touched.
            (grad,) = torch.autograd.grad(scalar, xg, allow_unused=True)
            grad = torch.zeros_like(xg) if grad is None else grad
        finally:
            if handle is not None:
                handle.remove()
    return grad[0] if single else grad


def saliency(model: nn.Module, x: torch.Tensor, target, layer: nn.Module | None = None) -> torch.Tensor:
    """The plain gradient ``d target / d x`` (Simonyan et al. 2014; captum ``Saliency(abs=False)``)."""
    return attribute(model, x, target, "gradient", layer)


def deconvnet(model: nn.Module, x: torch.Tensor, target, layer: nn.Module | None = None) -> torch.Tensor:
    """Zeiler & Fergus's deconvnet: rectifiers pass ``relu(g)`` backward (captum ``Deconvolution``)."""
    return attribute(model, x, target, "deconvnet", layer)


def guided_backprop(model: nn.Module, x: torch.Tensor, target, layer: nn.Module | None = None) -> torch.Tensor:
    """Guided backprop: rectifiers pass ``I[g > 0] I[x > 0] g`` backward (captum ``GuidedBackprop``)."""
    return attribute(model, x, target, "guided", layer)


def neuron(channel: int, row: int | None = None, col: int | None = None) -> Callable:
    """A target for ``layer=``: channel ``channel`` at (row, col), or the channel's centre when omitted."""
    check_scalar(channel, "channel", numbers.Integral, low=0)
    for value, name in [(row, "row"), (col, "col")]:
        if value is not None:
            check_scalar(value, name, numbers.Integral, low=0)

    def pick(activation):
        if activation.dim() != 4:
            raise ValueError(f"neuron() expects a conv activation (B,C,H,W); got shape {tuple(activation.shape)}")
        if not 0 <= channel < activation.shape[1]:
            raise ValueError(f"channel must be in [0, {activation.shape[1] - 1}]; got {channel}")
        r = activation.shape[2] // 2 if row is None else row
        c = activation.shape[3] // 2 if col is None else col
        if not (0 <= r < activation.shape[2] and 0 <= c < activation.shape[3]):
            raise ValueError(f"(row, col) must lie in the {activation.shape[2]}x{activation.shape[3]} map; got ({r}, {c})")
        return activation[:, channel, r, c]
    return pick


# ----------------------------------------------------------------------------- comparing and showing maps

def map_change(a: torch.Tensor, b: torch.Tensor) -> float:
    """How much map ``b`` differs from map ``a``: ``max |a - b| / max |a|`` (0: identical; 0/0 gives 0)."""
    check_tensor(a, "a")
    check_tensor(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape; got {tuple(a.shape)} and {tuple(b.shape)}")
    scale = float(a.abs().max())
    change = float((a - b).abs().max())
    return 0.0 if change == 0 else change / scale if scale > 0 else math.inf


def signed_rgb(attribution: torch.Tensor, n_sigma: float = 3.0) -> np.ndarray:
    """A signed map (C, H, W) as an (H, W, C) picture in [0, 1]: grey = 0, full colour = +-``n_sigma``
    standard deviations, the deviation taken over the map's support (pixels where it is nonzero), so a
    unit's small receptive field is not washed out by the zeros around it. Grey maps become (H, W)."""
    check_tensor(attribution, "attribution", ndim=3)
    check_scalar(n_sigma, "n_sigma", low=0, include_low=False)
    a = attribution.detach().double()
    support = a.abs().sum(0) > 0
    scale = float(a[:, support].std()) if int(support.sum()) > 1 else 0.0
    picture = (0.5 + 0.5 * a / (n_sigma * scale + 1e-12)).clamp(0, 1).permute(1, 2, 0).numpy()
    return picture[..., 0] if picture.shape[-1] == 1 else picture


def unit_projections(model: nn.Module, layer: nn.Module, images: torch.Tensor, top, channel: int,
                     rule: str = "guided", crop: bool = True):
    """Zeiler & Fergus's projections of a unit's top stimuli back to pixel space.

    ``top``: a ``filters.TopPatches`` for ``channel`` of ``layer`` (photo, row, col and box of each
    stimulus, from ``images`` (N, C, H, W)). For stimulus i the map is ``d a[channel, row_i, col_i] /
    d x`` on its own photo with the rectifiers' backward replaced by ``rule`` (one batched pass), cropped
    to the same box as the patch. Returns a list of (C, h, w) tensors, one per stimulus, or with
    ``crop=False`` the whole maps (k, C, H, W).
    """
    check_choice(rule, "rule", RULES)
    check_tensor(images, "images", ndim=4)
    check_scalar(channel, "channel", numbers.Integral, low=0)
    for field in ("photo", "row", "col", "boxes"):
        if not hasattr(top, field):
            raise TypeError(f"top must be a filters.TopPatches (with photo, row, col and boxes); got {type(top).__name__}")
    photo, rows, cols = (torch.as_tensor(v, dtype=torch.long) for v in (top.photo, top.row, top.col))
    if len(photo) and (int(photo.max()) >= len(images) or int(photo.min()) < 0):
        raise ValueError(f"top.photo must index images (0..{len(images) - 1}); got {photo.tolist()}")
    picks = torch.arange(len(photo))

    def target(activation):
        if activation.dim() != 4 or channel >= activation.shape[1]:
            raise ValueError(f"channel {channel} is not a channel of the layer's output {tuple(activation.shape)}")
        return activation[picks, channel, rows, cols]

    maps = attribute(model, images[photo], target, rule, layer)
    if not crop:
        return maps
    return [maps[i, :, t:b, l:r] for i, (t, l, b, r) in enumerate(top.boxes)]


def effective_boxes(maps: torch.Tensor, fraction: float = 0.9) -> list:
    """Boxes (top, left, bottom, right) around the part of each map that holds its mass: the effective
    receptive field (Luo et al. 2016), usually far smaller than the theoretical one of a deep unit.

    ``maps``: (k, C, H, W) whole maps, e.g. ``unit_projections(..., crop=False)``. For each map, the
    smallest square centred on the centroid of ``|map|`` (summed over C) that holds ``fraction`` of
    its total; all boxes then get the median of those sizes (so the patches share one scale) and are
    shifted, not clipped, to lie inside the image.
    """
    check_tensor(maps, "maps", ndim=4)
    check_scalar(fraction, "fraction", low=0, high=1, include_low=False)
    k, _, h, w = maps.shape
    mass = maps.detach().abs().sum(1).double()                         # (k, H, W)
    total = mass.flatten(1).sum(1)
    if (total == 0).any():
        raise ValueError(f"maps {(total == 0).nonzero().flatten().tolist()} are all zero: they have no effective field")
    rows, cols = torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64)
    centres = [(int(round(float((m.sum(1) * rows).sum() / t))), int(round(float((m.sum(0) * cols).sum() / t))))
               for m, t in zip(mass, total)]
    sizes = []
    for m, t, (r, c) in zip(mass, total, centres):
        for half in range(max(h, w) + 1):
            if float(m[max(r - half, 0):r + half + 1, max(c - half, 0):c + half + 1].sum()) >= fraction * float(t):
                break
        sizes.append(2 * half + 1)
    size = int(np.median(sizes))
    boxes = []
    for r, c in centres:
        top, left = min(max(r - size // 2, 0), max(h - size, 0)), min(max(c - size // 2, 0), max(w - size, 0))
        boxes.append((top, left, min(top + size, h), min(left + size, w)))
    return boxes


def plot_top_projections(top, projections: dict, title: str = "", n_cols: int = 3, size: float = 1.6):
    """Zeiler & Fergus's figure: the unit's top patches (left) next to one grid per projection rule.

    ``projections``: {name: list of (C, h, w) maps}, e.g. from :func:`unit_projections`; each map is shown
    with :func:`signed_rgb` (grey = 0, scaled by its own deviation over its support, as in the paper).
    """
    import matplotlib.pyplot as plt

    if not isinstance(projections, dict):
        raise TypeError(f"projections must be a dict {{name: list of maps}}; got {type(projections).__name__}")
    k = len(top.patches)
    for name, maps in projections.items():
        if len(maps) != k:
            raise ValueError(f"projections[{name!r}] must hold one map per patch ({k}); got {len(maps)}")
    grids = {"top patches": [p.permute(1, 2, 0).clamp(0, 1).squeeze(-1).numpy() for p in top.patches]}
    grids.update({name: [signed_rgb(m) for m in maps] for name, maps in projections.items()})
    n_rows = math.ceil(k / n_cols)
    fig = plt.figure(figsize=(len(grids) * (n_cols * size + 0.4), n_rows * size + 0.9))
    panels = fig.subfigures(1, len(grids), wspace=0.02)
    for panel, (name, pictures) in zip(np.atleast_1d(panels), grids.items()):
        axes = panel.subplots(n_rows, n_cols, squeeze=False)
        for i, ax in enumerate(axes.ravel()):
            ax.axis("off")
            if i < k:
                picture = pictures[i]
                ax.imshow(picture, cmap="gray" if picture.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
        panel.suptitle(name, fontsize=13)
    if title:
        fig.suptitle(title, fontsize=14, y=1.04)
    return fig
