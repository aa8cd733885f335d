"""Lecture 11, the attribution methods people use today: Grad-CAM, Integrated Gradients, SmoothGrad.

All three follow captum's ``attribute(inputs, target)`` conventions: ``x`` is (C,H,W) or
(B,C,H,W), ``target`` a class index or one per image, the result one map per image.

* ``grad_cam`` (Selvaraju et al. 2017): weight each channel ``k`` of a conv layer's activation
  ``A`` by the spatial mean of ``d score / d A_k``, sum, rectify, upsample bilinearly to the image:
  ``relu(sum_k mean_ij(dS/dA_kij) A_k)``; (B,1,H,W) like captum ``LayerGradCam`` + ``interpolate``.
* ``integrated_gradients`` (Sundararajan et al. 2017): ``(x - x') * mean_k dS/dx(x' + a_k (x - x'))``
  over ``steps`` points ``a_k`` of a Riemann sum. *Completeness*: the attributions add up to
  ``S(x) - S(x')`` up to the Riemann error, which ``completeness_gap`` measures.
* ``smoothgrad`` (Smilkov et al. 2017): the mean gradient over ``n_samples`` noisy copies
  ``x + N(0, sigma^2)``, ``sigma = noise_level * (max x - min x)``; seeded, so the noise is the
  same as captum ``NoiseTunnel``'s after ``torch.manual_seed(seed)``.

The gradients come from ``course_utils.backprop.saliency`` (lecture 04), so a network with
BatchNorm runs fused there too. Two baselines that know nothing about the model:
``random_map`` and ``sobel_map`` (edge magnitude). ``pixel_map`` turns any attribution into one
relevance value per pixel, which is what the metrics of ``course_utils.evaluation`` score.
"""
from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F
from torch import nn

from . import backprop as bp
from . import occlusion as oc
from .checks import check_choice, check_scalar, check_tensor

RIEMANN = ["riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid"]


def _layer(model: nn.Module, layer) -> nn.Module:
    """``layer`` as a submodule of ``model``: a module in it, or its dotted name (works on copies)."""
    if isinstance(layer, str):
        try:
            return model.get_submodule(layer)
        except AttributeError:
            raise ValueError(f"model has no submodule {layer!r}") from None
    if not isinstance(layer, nn.Module) or not any(m is layer for m in model.modules()):
        raise ValueError(f"layer must be a submodule of model or its name; got {type(layer).__name__}")
    return layer


def _check_target(model, batch, target):
    """Validate the target (type and range) on one clean forward pass; returns the logits."""
    with torch.no_grad():
        out = model(batch)
    bp.target_scalar(out, target, len(batch))  # raises TypeError/ValueError saying what is wrong
    return out


# ----------------------------------------------------------------------------- Grad-CAM

def grad_cam(model: nn.Module, x: torch.Tensor, target, layer, upsample: bool = True) -> torch.Tensor:
    """Grad-CAM of ``layer`` (a conv block of ``model``, or its name): (B,1,H,W), or (1,H,W) for one image.

    ``upsample=False`` keeps the layer's own resolution (captum ``LayerGradCam(relu_attributions=True)``).
    """
    batch, single = bp.check_model_input(model, x)
    module = _layer(model, layer)
    captured = {}

    def start_graph(_, args):  # temporary hooks, removed in `finally`
        # Grad-CAM needs d(score)/d(activation) only, so the layers before this one run under
        # no_grad (no graph, nothing saved for backward) and recording starts here. The layer's
        # input becomes a fresh tensor that needs a gradient (a clone, so an in-place layer may
        # still overwrite it), so that a layer without parameters has a graph too.
        torch.set_grad_enabled(True)
        return tuple(a.detach().requires_grad_(True).clone() if isinstance(a, torch.Tensor) and a.is_floating_point()
                     else a for a in args)

    def grab(_, __, output):
        captured["a"] = output

    with bp.in_eval_mode(model, "computing Grad-CAM"):
        handles = [module.register_forward_pre_hook(start_graph), module.register_forward_hook(grab)]
        try:
            with torch.no_grad():   # left again below: grad mode returns to what it was
                out = model(batch)
                with torch.enable_grad():
                    activation = captured.get("a")
                    if not isinstance(activation, torch.Tensor) or activation.dim() != 4:
                        raise ValueError(f"Grad-CAM needs a conv layer with a (B,C,h,w) output; got "
                                         f"{getattr(activation, 'shape', type(activation).__name__)}")
                    (grad,) = torch.autograd.grad(bp.target_scalar(out, target, len(batch)), activation)
        finally:
            for handle in handles:
                handle.remove()
    weights = grad.mean(dim=(2, 3), keepdim=True)                    # alpha_k: how much channel k matters
    cam = (weights * activation.detach()).sum(1, keepdim=True).clamp(min=0)
    if upsample:
        cam = F.interpolate(cam, size=batch.shape[-2:], mode="bilinear", align_corners=False)
    return cam[0] if single else cam


# ----------------------------------------------------------------------------- Integrated Gradients

def _baseline_like(baseline, batch):
    """The IG baseline as a tensor broadcastable to ``batch``: 0, a number, (C,H,W) or (B,C,H,W)."""
    if baseline is None:
        return torch.zeros_like(batch[:1])
    if isinstance(baseline, numbers.Real) and not isinstance(baseline, bool):
        return torch.full_like(batch[:1], float(baseline))
    check_tensor(baseline, "baseline", ndim=(3, 4))
    b = baseline[None] if baseline.dim() == 3 else baseline
    if b.shape[1:] != batch.shape[1:] or len(b) not in (1, len(batch)):
        raise ValueError(f"baseline must have the input's shape {tuple(batch.shape[1:])} (or one per image, "
                         f"{tuple(batch.shape)}); got {tuple(baseline.shape)}")
    return b.to(batch.dtype)


def riemann_points(steps: int, method: str = "riemann_middle"):
    """(alphas, weights) of a ``steps``-point Riemann sum of a function on [0, 1] (captum's rules)."""
    check_scalar(steps, "steps", numbers.Integral, low=1)
    check_choice(method, "method", RIEMANN)
    n = int(steps)
    if method == "riemann_trapezoid":
        if n < 2:
            raise ValueError(f"the trapezoid rule needs steps >= 2; got {steps}")
        return torch.linspace(0, 1, n), torch.tensor([0.5] + [1.0] * (n - 2) + [0.5]) / (n - 1)
    start = {"riemann_left": 0.0, "riemann_right": 1.0, "riemann_middle": 0.5}[method]
    return (torch.arange(n) + start) / n, torch.full((n,), 1.0 / n)


def integrated_gradients(model: nn.Module, x: torch.Tensor, target, baseline=None, steps: int = 32,
                         method: str = "riemann_middle", batch_size: int = 64) -> torch.Tensor:
    """Integrated Gradients from ``baseline`` (default black: zeros) to ``x``, shaped like ``x``.

    ``steps`` points of the ``method`` Riemann rule (captum's names); ``batch_size`` interpolated
    images per backward pass.
    """
    batch, single = bp.check_model_input(model, x)
    base = _baseline_like(baseline, batch)
    alphas, weights = riemann_points(steps, method)
    check_scalar(batch_size, "batch_size", numbers.Integral, low=1)
    _check_target(model, batch, target)
    targets = torch.as_tensor(target).reshape(-1).expand(len(batch)) if not callable(target) else None
    if targets is None:
        raise TypeError("integrated_gradients needs a class index (or one per image) as target")
    delta = batch - base
    # every (step, image) pair as one big batch, step-major, cut into chunks of batch_size
    path = (base[None] + alphas.view(-1, 1, 1, 1, 1) * delta[None]).reshape(-1, *batch.shape[1:])
    path_targets = targets.repeat(len(alphas))
    grads = torch.cat([bp.saliency(model, path[i:i + batch_size], path_targets[i:i + batch_size].tolist())
                       for i in range(0, len(path), batch_size)])
    mean_grad = (weights.view(-1, 1, 1, 1, 1) * grads.reshape(len(alphas), *batch.shape)).sum(0)
    result = delta * mean_grad
    return result[0] if single else result


def completeness_gap(model: nn.Module, x: torch.Tensor, attributions: torch.Tensor, target,
                     baseline=None) -> torch.Tensor:
    """Per image, ``sum(attributions) - (S(x) - S(baseline))``: zero for exact Integrated Gradients."""
    batch, single = bp.check_model_input(model, x)
    check_tensor(attributions, "attributions")
    attr = attributions[None] if single else attributions
    if attr.shape != batch.shape:
        raise ValueError(f"attributions must have the shape of x {tuple(x.shape)}; got {tuple(attributions.shape)}")
    base = _baseline_like(baseline, batch).expand_as(batch)
    with torch.no_grad(), bp.in_eval_mode(model, "scoring"):
        scores = model(torch.cat([batch, base]))
    index = torch.as_tensor(target).reshape(-1).expand(len(batch))
    s = scores.gather(1, torch.cat([index, index])[:, None])[:, 0]
    gap = attr.flatten(1).sum(1) - (s[:len(batch)] - s[len(batch):])
    return gap[0] if single else gap


# ----------------------------------------------------------------------------- SmoothGrad

def smoothgrad(model: nn.Module, x: torch.Tensor, target, n_samples: int = 16, noise_level: float = 0.15,
               seed: int = 0, batch_size: int = 64) -> torch.Tensor:
    """SmoothGrad: the mean of ``saliency`` over ``n_samples`` copies of each image with Gaussian noise.

    ``sigma = noise_level * (x.max() - x.min())`` per image (Smilkov et al. use 10-20 %). The
    noise is ``torch.normal`` from a generator seeded with ``seed``, drawn for all copies at once
    with each image's copies adjacent, as captum's ``NoiseTunnel`` draws it.
    """
    batch, single = bp.check_model_input(model, x)
    check_scalar(n_samples, "n_samples", numbers.Integral, low=1)
    check_scalar(noise_level, "noise_level", numbers.Real, low=0)
    check_scalar(seed, "seed", numbers.Integral, low=0)
    _check_target(model, batch, target)
    if callable(target):
        raise TypeError("smoothgrad needs a class index (or one per image) as target")
    sigma = noise_level * (batch.flatten(1).amax(1) - batch.flatten(1).amin(1))          # (B,)
    std = sigma.repeat_interleave(n_samples).view(-1, 1, 1, 1).expand(len(batch) * n_samples, *batch.shape[1:])
    noise = torch.normal(0.0, 1.0, std.shape, generator=torch.Generator().manual_seed(int(seed))) * std
    noisy = batch.repeat_interleave(n_samples, dim=0) + noise
    targets = torch.as_tensor(target).reshape(-1).expand(len(batch)).repeat_interleave(n_samples)
    grads = torch.cat([bp.saliency(model, noisy[i:i + batch_size], targets[i:i + batch_size].tolist())
                       for i in range(0, len(noisy), batch_size)])
    result = grads.reshape(len(batch), n_samples, *batch.shape[1:]).mean(1)
    return result[0] if single else result


# ----------------------------------------------------------------------------- baselines and pixel maps

def random_map(x: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """A uniform random relevance per pixel, (B,1,H,W) or (1,H,W): the map that knows nothing."""
    check_tensor(x, "x", ndim=(3, 4))
    check_scalar(seed, "seed", numbers.Integral, low=0)
    batch = x[None] if x.dim() == 3 else x
    out = torch.rand((len(batch), 1, *batch.shape[-2:]), generator=torch.Generator().manual_seed(int(seed)))
    return out[0] if x.dim() == 3 else out


SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


def sobel_map(x: torch.Tensor) -> torch.Tensor:
    """Sobel edge magnitude of the channel-mean image (borders replicated), (B,1,H,W) or (1,H,W).

    It knows the image and nothing about the model: a method that scores no better than it
    explains the picture, not the network.
    """
    check_tensor(x, "x", ndim=(3, 4))
    batch = (x[None] if x.dim() == 3 else x).mean(1, keepdim=True)
    padded = F.pad(batch, (1, 1, 1, 1), mode="replicate")
    kernels = torch.stack([SOBEL_X, SOBEL_X.T])[:, None].to(batch.dtype)   # d/dcol, d/drow
    g = F.conv2d(padded, kernels)
    out = g.pow(2).sum(1, keepdim=True).sqrt()
    return out[0] if x.dim() == 3 else out


def pixel_map(attribution: torch.Tensor, signed: bool = True) -> torch.Tensor:
    """One relevance per pixel: the sum over colour channels (of ``|a|`` when ``signed=False``).

    (C,H,W) -> (H,W) and (B,C,H,W) -> (B,H,W). Gradient-like maps (gradient, deconvnet, guided
    backprop, SmoothGrad) are read by magnitude, as their authors displayed them; Grad-CAM,
    Integrated Gradients and occlusion estimate signed contributions.
    """
    check_tensor(attribution, "attribution", ndim=(3, 4))
    a = attribution if signed else attribution.abs()
    return a.sum(-3)


# (function of (model, x, target, **settings), whether the map is signed). The settings are keywords.
METHODS = {
    "gradient": (bp.saliency, False),
    "deconvnet": (bp.deconvnet, False),
    "guided backprop": (bp.guided_backprop, False),
    "Grad-CAM": (grad_cam, True),
    "Integrated Gradients": (integrated_gradients, True),
    "SmoothGrad": (smoothgrad, False),
    "occlusion": (oc.occlusion, True),
    "random": (lambda model, x, target, seed=0: random_map(x, seed), True),
    "Sobel": (lambda model, x, target: sobel_map(x), True),
}
BASELINES = ["random", "Sobel"]


def explainer(method: str, **settings):
    """A function ``(model, x, target) -> (B,H,W)`` pixel maps of ``method`` with fixed ``settings``.

    E.g. ``explainer("Grad-CAM", layer="features.3")``: naming the layer (not passing the module)
    lets the same explainer run on a copy of the model, as model-parameter randomisation needs.
    """
    check_choice(method, "method", list(METHODS))
    fn, signed = METHODS[method]

    def explain(model, x, target):
        batch = x[None] if x.dim() == 3 else x
        return pixel_map(fn(model, batch, target, **settings), signed)

    explain.method, explain.settings = method, settings
    return explain
