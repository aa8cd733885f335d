"""Inference fusion: each ``[SamePad ->] Conv2d [-> BatchNorm2d] [-> ReLU/ReLU6]`` chain as one convolution.

In eval mode BatchNorm is a fixed per-channel affine map, so it folds into the convolution before
it:  ``bn(conv(x)) = conv'(x)``  with  ``w' = s w``,  ``b' = s (b - mean) + beta``,
``s = gamma / sqrt(var + eps)``. The fused network computes the same function with one pass fewer
over every feature map, forward and backward, and agrees with the plain model up to float
rounding (about 1e-6 relative). Padding folds into the convolution's own argument where it is
symmetric, and (for inference without gradients) a following ReLU or ReLU6 into an in-place clamp.

Used by the occlusion engine and by guided backprop. The model is traced with ``torch.fx`` once
per structure (its module objects, their training flags, hooks and plain attributes) and the
traced graph is cached; the folded weights are recomputed from the current parameters on every
call, so weights edited in place (even through ``.data``) are always seen. The model itself is
never changed.
"""
from __future__ import annotations

import math
import weakref

import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn

from .models import SamePad


class Tracer(fx.Tracer):
    """``torch.fx`` tracer that keeps ``SamePad`` as one node (its padding depends on the input size)."""

    def is_leaf_module(self, m, qualname):
        return isinstance(m, SamePad) or super().is_leaf_module(m, qualname)


def samepad_offsets(module: nn.Module, H: int, W: int) -> tuple:
    """(top, bottom, left, right) padding that ``module`` adds to an H x W map, read off a map of ones."""
    out = module(torch.ones(1, 1, H, W))
    rows = torch.nonzero(out[0, 0, :, out.shape[-1] // 2]).flatten()
    cols = torch.nonzero(out[0, 0, out.shape[-2] // 2, :]).flatten()
    return (int(rows[0]), out.shape[-2] - 1 - int(rows[-1]), int(cols[0]), out.shape[-1] - 1 - int(cols[-1]))


@torch.no_grad()
def fold_batchnorm(conv: nn.Conv2d, bn: nn.BatchNorm2d | None) -> tuple:
    """Weight and bias of ``bn(conv(x))`` as one convolution (``bn`` in eval mode), without autograd history."""
    if bn is None:
        return conv.weight.detach(), None if conv.bias is None else conv.bias.detach()
    scale = torch.rsqrt(bn.running_var + bn.eps)
    if bn.affine:
        scale = scale * bn.weight
    bias = -bn.running_mean if conv.bias is None else conv.bias - bn.running_mean
    bias = bias * scale
    if bn.affine:
        bias += bn.bias
    return conv.weight * scale[:, None, None, None], bias


class FusedConv:
    """A convolution with its SamePad, eval-mode BatchNorm and (optionally) rectifier folded in.

    ``hi``: the rectifier's upper limit (``math.inf`` for ReLU, 6 for ReLU6; None for none).
    ``channels_last`` stores the weights in that order (faster for batches of small crops on CPU).
    ``pad_cache``: a dict to remember SamePad's padding per input size in (shared across calls).
    """

    def __init__(self, conv: nn.Conv2d, pad: nn.Module | None = None, bn: nn.BatchNorm2d | None = None,
                 hi: float | None = None, channels_last: bool = False, pad_cache: dict | None = None):
        weight, self.bias = fold_batchnorm(conv, bn)
        self.weight = weight.contiguous(memory_format=torch.channels_last) if channels_last else weight
        self.kernel, self.stride, self.dilation, self.groups = conv.kernel_size, conv.stride, conv.dilation, conv.groups
        self.padding, self.same_pad, self.hi = conv.padding, pad, hi
        self._pads = {} if pad_cache is None else pad_cache

    def pads(self, H: int, W: int) -> tuple:
        """(top, bottom, left, right) zero padding of an H x W input."""
        if (H, W) not in self._pads:
            self._pads[H, W] = (samepad_offsets(self.same_pad, H, W) if self.same_pad is not None
                                else (self.padding[0], self.padding[0], self.padding[1], self.padding[1]))
        return self._pads[H, W]

    def conv(self, x: torch.Tensor, padding=(0, 0)) -> torch.Tensor:
        out = F.conv2d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)
        return out.clamp_(0, self.hi) if self.hi is not None else out

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        pt, pb, pl, pr = self.pads(*x.shape[-2:])
        if pt == pb and pl == pr:
            return self.conv(x, (pt, pl))
        return self.conv(F.pad(x, (pl, pr, pt, pb)))


def _plain_conv(module):
    return isinstance(module, nn.Conv2d) and module.padding_mode == "zeros" and not isinstance(module.padding, str)


def _hooked(module):
    return bool(module._forward_hooks or module._forward_pre_hooks or module._backward_hooks)


class FusedGraph:
    """The traced graph of ``model`` with conv chains rewritten into ``FusedConv`` nodes.

    ``fusions`` maps each new node target to the names of (conv, SamePad or None, BatchNorm or
    None) and the rectifier's limit; ``modules()`` builds the modules to run it with.
    """

    def __init__(self, model: nn.Module, rectifiers: bool):
        self.graph = Tracer().trace(model)
        self.fusions = {}
        self._pads = {}  # per fused conv: SamePad's padding for each input size
        named = dict(model.named_modules())
        module_at = lambda node: named.get(node.target) if isinstance(node, fx.Node) and node.op == "call_module" \
            else None  # noqa: E731

        def sole_user(node, types):
            users = list(node.users)
            if len(users) == 1 and isinstance(module_at(users[0]), types) and not _hooked(module_at(users[0])) \
                    and users[0].args == (node,) and not users[0].kwargs:
                return users[0]
            return None

        for node in list(self.graph.nodes):
            conv = module_at(node)
            if not _plain_conv(conv) or _hooked(conv) or len(node.args) != 1 or node.kwargs:
                continue
            pad_name = bn_name = hi = None
            pad_node = node.args[0]
            if isinstance(module_at(pad_node), SamePad) and not _hooked(module_at(pad_node)) \
                    and len(pad_node.users) == 1 and conv.padding == (0, 0):
                pad_name = pad_node.target
                node.args = pad_node.args
                self.graph.erase_node(pad_node)
            bn_node = sole_user(node, nn.BatchNorm2d)
            if bn_node is not None and not conv.training and not named[bn_node.target].training \
                    and named[bn_node.target].track_running_stats:
                bn_name = bn_node.target
                bn_node.replace_all_uses_with(node)
                self.graph.erase_node(bn_node)
            act_node = sole_user(node, (nn.ReLU, nn.ReLU6)) if rectifiers else None
            if act_node is not None:
                hi = 6.0 if isinstance(named[act_node.target], nn.ReLU6) else math.inf
                act_node.replace_all_uses_with(node)
                self.graph.erase_node(act_node)
            self.fusions[f"{node.target}:fused"] = (node.target, pad_name, bn_name, hi)
            node.target = f"{node.target}:fused"

    @property
    def folds_batchnorm(self) -> bool:
        return any(bn is not None for _, _, bn, _ in self.fusions.values())

    @torch.no_grad()
    def modules(self, model: nn.Module, channels_last: bool = False) -> dict:
        """Name -> module for running the graph, with ``FusedConv``s built from the current weights."""
        named = dict(model.named_modules())
        for target, (conv, pad, bn, hi) in self.fusions.items():
            named[target] = FusedConv(named[conv], named.get(pad), named.get(bn), hi, channels_last,
                                      self._pads.setdefault(target, {}))
        return named

    def run(self, model: nn.Module, modules: dict, *inputs, keep: bool = False):
        """Interpret the graph on ``inputs``: the output, or with ``keep`` every node's value."""
        env = {}
        load = lambda a: fx.node.map_arg(a, lambda n: env[n])  # noqa: E731
        placeholders = iter(inputs)
        for node in self.graph.nodes:
            args, kwargs = load(node.args), load(node.kwargs)
            if node.op == "placeholder":
                value = next(placeholders)
            elif node.op == "get_attr":
                value = model
                for part in node.target.split("."):
                    value = getattr(value, part)
            elif node.op == "call_module":
                value = modules[node.target](*args, **kwargs)
            elif node.op == "call_function":
                value = node.target(*args, **kwargs)
            elif node.op == "call_method":
                value = getattr(args[0], node.target)(*args[1:], **kwargs)
            else:  # output
                value = args[0]
                if not keep:
                    return value
            env[node] = value
        return env


_PLAIN = (bool, int, float, str, tuple, type(None))
_GRAPHS: "weakref.WeakKeyDictionary[nn.Module, dict]" = weakref.WeakKeyDictionary()


def _structure(model):
    """What a traced graph depends on besides tensor values: module objects, training flags, hooks, and
    the plain attributes of the modules fx traces through (torch.nn's own modules stay single nodes)."""
    return tuple((id(m), m.training, len(m._forward_hooks), len(m._forward_pre_hooks), len(m._backward_hooks),
                  None if type(m).__module__.startswith("torch.nn.modules") and not isinstance(m, nn.Sequential)
                  else tuple((k, v) for k, v in vars(m).items() if isinstance(v, _PLAIN)))
                 for m in model.modules())


def fused_graph(model: nn.Module, rectifiers: bool = True) -> FusedGraph | None:
    """The cached ``FusedGraph`` of ``model`` (re-traced when its structure changed); None if untraceable."""
    structure = _structure(model)
    cache = _GRAPHS.setdefault(model, {})
    if rectifiers not in cache or cache[rectifiers][0] != structure:
        try:
            graph = FusedGraph(model, rectifiers)
        except Exception:  # data-dependent control flow and the like: torch.fx cannot trace every model
            graph = None
        cache[rectifiers] = (structure, graph)
    return cache[rectifiers][1]
