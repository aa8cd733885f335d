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

Student models: optional ``forward`` arguments are traced at their defaults (the model is always
called with the image alone); in-place operations (``ReLU(inplace=True)``, ``x.relu_()``,
``F.relu(x, inplace=True)``) run out of place, so that values kept for later (the occlusion
engine's clean maps) are never overwritten; and a node that is not known to treat every memory
format alike (``x.view(...)``, any operation not listed in ``LAYOUT_FREE_*``) gets its tensors in
the standard contiguous format, so a ``channels_last`` map made inside the engine never reaches
code that did not ask for it.
"""
from __future__ import annotations

import copy
import functools
import inspect
import math
import numbers
import operator
import weakref

import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn

from .checks import check_scalar
from .models import SamePad


class Tracer(fx.Tracer):
    """``torch.fx`` tracer that keeps ``SamePad`` as one node (its padding depends on the input size)."""

    def is_leaf_module(self, m, qualname):
        return isinstance(m, SamePad) or super().is_leaf_module(m, qualname)


@functools.lru_cache(maxsize=256)
def _forward_arguments(cls: type) -> tuple:
    """(defaults of the optional arguments, names of required arguments after the image) of ``cls.forward``."""
    params = list(inspect.signature(cls.forward).parameters.items())[1:]   # without self
    defaults, required = {}, []
    for i, (name, p) in enumerate(params):
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.default is not p.empty:
            defaults[name] = p.default
        elif i > 0:
            required.append(name)
    return tuple(defaults.items()), tuple(required)


def check_single_input(model: nn.Module) -> dict:
    """The defaults of ``model.forward``'s optional arguments; ``TypeError`` if it needs more than the image."""
    try:
        defaults, required = _forward_arguments(type(model))
    except (TypeError, ValueError):  # no signature to read: let the call itself tell
        return {}
    if required:
        raise TypeError(f"{type(model).__name__}.forward needs the argument {required[0]!r} besides the image; "
                        "the course's tools call model(x) alone: give it a default or wrap the model")
    return dict(defaults)


def trace(model: nn.Module) -> fx.Graph:
    """``model``'s graph for a call with the image alone: optional arguments are fixed at their defaults.

    (Traced as free inputs, ``if scale is None`` would take the wrong branch.) A ``forward`` that
    needs more than one argument cannot be called with an image alone: ``TypeError``.
    """
    return Tracer().trace(model, concrete_args=check_single_input(model) or None)


def _inplace_target(node: fx.Node, named: dict):
    """What running ``node`` out of place needs, if it is an in-place operation: a callable that rewrites
    the node, or "module" (an ``inplace=True`` module, swapped for a copy); None if it is not in place."""
    if node.op == "call_module":
        return "module" if getattr(named.get(node.target), "inplace", False) is True else None
    if node.op == "call_method":
        name = node.target
        if name.endswith("_") and not name.startswith("_") and hasattr(torch.Tensor, name[:-1]):
            return lambda: setattr(node, "target", name[:-1])
        return None
    if node.op != "call_function":
        return None
    fn = node.target
    if fn in (operator.iadd, operator.isub, operator.imul, operator.itruediv):
        plain = {operator.iadd: operator.add, operator.isub: operator.sub, operator.imul: operator.mul,
                 operator.itruediv: operator.truediv}[fn]
        return lambda: setattr(node, "target", plain)
    name = getattr(fn, "__name__", "")
    if name.endswith("_") and not name.startswith("_"):
        for home in (F, torch):
            if getattr(home, name, None) is fn and callable(getattr(home, name[:-1], None)):
                return lambda home=home: setattr(node, "target", getattr(home, name[:-1]))
    if node.kwargs.get("inplace") is True:
        return lambda: setattr(node, "kwargs", {**node.kwargs, "inplace": False})
    try:
        bound = inspect.signature(fn).bind(*node.args, **node.kwargs)
    except (TypeError, ValueError):  # builtins without a signature, or not a call of this form
        return None
    if bound.arguments.get("inplace") is True:
        def rewrite():
            bound.arguments["inplace"] = False
            node.args, node.kwargs = bound.args, bound.kwargs
        return rewrite
    return None


def _aliases(node, named) -> bool:
    """Whether ``node``'s output may share memory with its input (a view, or a module that returns it)."""
    if node.op == "call_method":
        return node.target in _ALIAS_METHODS
    if node.op == "call_function":
        return node.target in _ALIAS_FUNCTIONS
    return node.op == "call_module" and isinstance(named.get(node.target), _ALIAS_MODULES)


def out_of_place(graph: fx.Graph, named: dict) -> set:
    """Rewrite every in-place operation of ``graph`` to run out of place; returns the in-place modules' names.

    Later readers of a mutated value are pointed at the operation's result, so the graph computes
    what the model computes. Where the mutated value shares memory with another (a view of it, a
    Dropout that returned its input) that is read later, out of place would differ: ``ValueError``.
    """
    order = {node: i for i, node in enumerate(graph.nodes)}
    modules = set()
    for node in list(graph.nodes):
        rewrite = _inplace_target(node, named)
        if rewrite is None or not node.args or not isinstance(node.args[0], fx.Node):
            continue
        mutated = node.args[0]
        shared = [mutated] if _aliases(mutated, named) else []
        shared += [u for u in mutated.users if u is not node and _aliases(u, named) and order[u] < order[node]]
        if shared:
            raise ValueError(f"in-place {node.target} on {mutated.name}, whose memory {shared[0].name} shares: "
                             "cannot be run out of place")
        for user in list(mutated.users):
            if user is not node and order[user] > order[node]:
                user.replace_input_with(mutated, node)
        if rewrite == "module":
            modules.add(node.target)
        else:
            rewrite()
    return modules


# Operations that compute the same values whatever the memory format of their tensor arguments, and
# never fail on a channels_last tensor. Anything else (``Tensor.view`` above all) gets contiguous tensors.
LAYOUT_FREE_MODULES = (nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.ReLU6, nn.Hardtanh, nn.LeakyReLU, nn.SiLU, nn.GELU,
                       nn.Sigmoid, nn.Tanh, nn.Hardswish, nn.ELU, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d,
                       nn.AdaptiveMaxPool2d, nn.Flatten, nn.Linear, nn.Dropout, nn.Dropout2d, nn.Identity, SamePad)
LAYOUT_FREE_FUNCTIONS = {F.relu, torch.relu, F.relu6, F.hardtanh, F.leaky_relu, F.silu, F.gelu, F.elu, F.hardswish,
                         torch.sigmoid, torch.tanh, F.max_pool2d, F.avg_pool2d, F.adaptive_avg_pool2d,
                         F.adaptive_max_pool2d, F.conv2d, F.linear, F.dropout, F.dropout2d, F.pad, torch.flatten,
                         torch.cat, torch.mean, torch.sum, torch.add, torch.mul, torch.clamp, operator.add,
                         operator.sub, operator.mul, operator.truediv, operator.neg, operator.getitem, getattr}
LAYOUT_FREE_METHODS = {"relu", "sigmoid", "tanh", "clamp", "flatten", "reshape", "mean", "sum", "amax", "size",
                       "dim", "add", "mul", "sub", "div", "neg", "abs", "pow", "exp", "softmax", "log_softmax"}

# Operations whose output may share memory with their first input: an in-place operation on such an
# output also changes the input, which running it out of place would not reproduce.
_ALIAS_METHODS = {"view", "view_as", "reshape", "flatten", "unflatten", "squeeze", "unsqueeze", "transpose",
                  "permute", "t", "expand", "expand_as", "narrow", "select", "unbind", "split", "chunk",
                  "contiguous", "detach", "to", "type", "type_as", "float", "double", "half", "as_strided",
                  "unfold", "diagonal", "movedim", "__getitem__"}
_ALIAS_FUNCTIONS = {operator.getitem, torch.flatten, torch.reshape, torch.squeeze, torch.unsqueeze, torch.transpose,
                    torch.permute, torch.narrow, torch.chunk, torch.split, torch.t, torch.detach, F.dropout,
                    F.dropout2d}
_ALIAS_MODULES = (nn.Identity, nn.Dropout, nn.Dropout2d, nn.Flatten, nn.Unflatten)


def samepad_offsets(module: nn.Module, H: int, W: int) -> tuple:
    """(top, bottom, left, right) padding that ``module`` adds to an H x W map, read off a map of ones."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a padding torch.nn.Module; got {type(module).__name__}")
    check_scalar(H, "H", numbers.Integral, low=1)
    check_scalar(W, "W", numbers.Integral, low=1)
    out = module(torch.ones(1, 1, H, W))
    rows = torch.nonzero(out[0, 0, :, out.shape[-1] // 2]).flatten()
    cols = torch.nonzero(out[0, 0, out.shape[-2] // 2, :]).flatten()
    return (int(rows[0]), out.shape[-2] - 1 - int(rows[-1]), int(cols[0]), out.shape[-1] - 1 - int(cols[-1]))


@torch.no_grad()
def fold_batchnorm(conv: nn.Conv2d, bn: nn.BatchNorm2d | None) -> tuple:
    """Weight and bias of ``bn(conv(x))`` as one convolution (``bn`` in eval mode), without autograd history."""
    if not isinstance(conv, nn.Conv2d):
        raise TypeError(f"conv must be a torch.nn.Conv2d; got {type(conv).__name__}")
    if bn is not None and not isinstance(bn, nn.BatchNorm2d):
        raise TypeError(f"bn must be a torch.nn.BatchNorm2d or None; got {type(bn).__name__}")
    if bn is not None and (bn.training or not bn.track_running_stats):
        raise ValueError("bn must be in eval mode with running statistics: only then is it a fixed affine map")
    if bn is not None and bn.num_features != conv.out_channels:
        raise ValueError(f"bn has {bn.num_features} channels but conv gives {conv.out_channels}")
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
        self.graph = trace(model)
        self.fusions = {}
        self._pads = {}  # per fused conv: SamePad's padding for each input size
        named = dict(model.named_modules())
        # fx traces through the root and every non-torch.nn module, so their hooks would never run.
        called = {node.target for node in self.graph.nodes if node.op == "call_module"}
        lost = [name or type(model).__name__ for name, m in named.items() if _hooked(m) and name not in called]
        if lost:
            raise ValueError(f"hooks on {lost[0]} would not run in the traced graph")
        self.out_of_place = out_of_place(self.graph, named)
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
            name = f"{node.target}:fused"            # a conv module called twice gets two fused nodes
            name = next(f"{name}{k or ''}" for k in range(len(self.fusions) + 1) if f"{name}{k or ''}" not in self.fusions)
            self.fusions[name] = (node.target, pad_name, bn_name, hi)
            node.target = name
        # Nodes that must see the standard memory format (see LAYOUT_FREE_*), and the output.
        self.standard_layout = {node for node in self.graph.nodes if not layout_free(node, named)}
        # A hooked module runs the student's hook: it sees what the plain model would give it.
        self.standard_layout |= {node for node in self.graph.nodes if node.op == "call_module"
                                 and node.target in named and _hooked(named[node.target])}

    @property
    def folds_batchnorm(self) -> bool:
        return any(bn is not None for _, _, bn, _ in self.fusions.values())

    @torch.no_grad()
    def modules(self, model: nn.Module, channels_last: bool = False) -> dict:
        """Name -> module for running the graph, with ``FusedConv``s built from the current weights."""
        named = dict(model.named_modules())
        for target in self.out_of_place:    # a copy: the model's own module keeps inplace=True
            named[target] = copy.copy(named[target])
            named[target].inplace = False
        for target, (conv, pad, bn, hi) in self.fusions.items():
            named[target] = FusedConv(named[conv], named.get(pad), named.get(bn), hi, channels_last,
                                      self._pads.setdefault(target, {}))
        return named

    def call(self, node: fx.Node, model: nn.Module, modules: dict, args, kwargs):
        """One node's value from its (already loaded) arguments."""
        if node in self.standard_layout:
            args, kwargs = standard(args), standard(kwargs)
        if node.op == "get_attr":
            value = model
            for part in node.target.split("."):
                value = getattr(value, part)
            return value
        if node.op == "call_module":
            return modules[node.target](*args, **kwargs)
        if node.op == "call_function":
            return node.target(*args, **kwargs)
        if node.op == "call_method":
            return getattr(args[0], node.target)(*args[1:], **kwargs)
        return args[0]  # output

    def run(self, model: nn.Module, modules: dict, *inputs, keep: bool = False):
        """Interpret the graph on ``inputs``: the output, or with ``keep`` every node's value."""
        env = {}
        load = lambda a: fx.node.map_arg(a, lambda n: env[n])  # noqa: E731
        placeholders = iter(inputs)
        for node in self.graph.nodes:
            if node.op == "placeholder":
                env[node] = placeholder_value(node, placeholders)
                continue
            value = self.call(node, model, modules, load(node.args), load(node.kwargs))
            if node.op == "output" and not keep:
                return value
            env[node] = value
        return env


def placeholder_value(node: fx.Node, inputs):
    """A placeholder's value: the next of ``inputs`` (an iterator), else its default (nothing for *args, **kwargs)."""
    value = next(inputs, inspect.Parameter.empty)
    if value is not inspect.Parameter.empty:
        return value
    if str(node.target).startswith("**"):
        return {}
    if str(node.target).startswith("*"):
        return ()
    if node.args:
        return node.args[0]
    raise TypeError(f"the traced model needs an input for its argument {node.target!r}")


def standard(values):
    """``values`` (nested args) with every tensor in the standard contiguous memory format."""
    return fx.node.map_aggregate(values, lambda v: v.contiguous() if isinstance(v, torch.Tensor) else v)


def layout_free(node: fx.Node, named: dict) -> bool:
    """Whether ``node`` treats every memory format alike (and so may see channels_last tensors)."""
    if node.op in ("placeholder", "get_attr"):
        return True
    if node.op == "call_module":
        return ":fused" in str(node.target) or isinstance(named.get(node.target), LAYOUT_FREE_MODULES)
    if node.op == "call_function":
        try:
            return node.target in LAYOUT_FREE_FUNCTIONS
        except TypeError:  # unhashable callables
            return False
    if node.op == "call_method":
        return node.target in LAYOUT_FREE_METHODS
    return False  # the output: handed back to the caller in the standard format


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
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    if not isinstance(rectifiers, bool):
        raise TypeError(f"rectifiers must be True or False; got {rectifiers!r}")
    structure = _structure(model)
    cache = _GRAPHS.setdefault(model, {})
    if rectifiers not in cache or cache[rectifiers][0] != structure:
        try:
            graph = FusedGraph(model, rectifiers)
        except Exception:  # data-dependent control flow and the like: torch.fx cannot trace every model
            graph = None
        cache[rectifiers] = (structure, graph)
    return cache[rectifiers][1]
