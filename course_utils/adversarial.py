"""Lecture 12, second half: fooling the network with an imperceptible change (Szegedy et al. 2014).

Both attacks change each pixel by at most ``eps`` (an L-infinity budget) and keep the image in [0, 1]:

* ``fgsm`` (Goodfellow et al. 2015): one step of size ``eps`` along the sign of the loss gradient,
      x' = clip(x + eps * sign(d CE(f(x), y) / dx), 0, 1)       (untargeted: push the true class down)
      x' = clip(x - eps * sign(d CE(f(x), t) / dx), 0, 1)       (targeted: pull the target class t up)
* ``pgd`` (Madry et al. 2018): ``steps`` such steps of size ``alpha``, each followed by projection back
  into the eps-box around x, optionally from a random start inside the box.

They follow foolbox's ``LinfFastGradientAttack`` and ``LinfPGD`` step for step (same loss, the sum of
the batch's cross-entropies; same default step ``alpha = eps * 0.01 / 0.3``; same order of projection
and clipping), and ``tests/test_adversarial.py`` checks that they agree with foolbox.
"""
from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F
from torch import nn

from .checks import check_scalar
from .featurevis import check_images


def _check(model, images, labels, eps):
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    images = check_images(images)
    check_scalar(eps, "eps", low=0)
    if not isinstance(labels, torch.Tensor):
        labels = torch.as_tensor(labels)
    labels = labels.reshape(-1).long()
    if len(labels) == 1 and len(images) > 1:
        labels = labels.expand(len(images))
    if len(labels) != len(images):
        raise ValueError(f"labels must give one class per image ({len(images)}); got {len(labels)}")
    return images, labels


def loss_gradient(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """d sum_i CE(model(x_i), y_i) / dx, without touching any parameter's ``.grad``."""
    device = next(model.parameters()).device
    x = images.detach().to(device).requires_grad_(True)
    with torch.enable_grad():
        loss = F.cross_entropy(model(x), labels.to(device), reduction="sum")
        (grad,) = torch.autograd.grad(loss, x)
    return grad.to(images.device)


def fgsm(model: nn.Module, images: torch.Tensor, labels, eps: float, targeted: bool = False) -> torch.Tensor:
    """Fast gradient sign method; ``labels`` are the true classes, or the targets when ``targeted``."""
    images, labels = _check(model, images, labels, eps)
    sign = -1.0 if targeted else 1.0
    grad = loss_gradient(model, images, labels)
    return (images + sign * eps * grad.sign()).clamp(0, 1).detach()


def fgsm_sweep(model: nn.Module, images: torch.Tensor, labels, eps_list, targeted: bool = False) -> list:
    """FGSM's success rate at each budget in ``eps_list``: one gradient serves them all (its sign does not depend on eps)."""
    images, labels = _check(model, images, labels, 0.0)
    for eps in eps_list:
        check_scalar(eps, "eps", low=0)
    sign = -1.0 if targeted else 1.0
    direction = loss_gradient(model, images, labels).sign()
    return [success_rate(model, (images + sign * eps * direction).clamp(0, 1), labels, targeted) for eps in eps_list]


def pgd(model: nn.Module, images: torch.Tensor, labels, eps: float, steps: int = 40,
        alpha: float | None = None, random_start: bool = True, targeted: bool = False,
        seed: int = 0) -> torch.Tensor:
    """Projected gradient descent in the L-infinity box of radius ``eps`` (foolbox's ``LinfPGD``).

    ``alpha``: the step size (default ``eps * 0.01 / 0.3``, foolbox's). ``random_start``: begin at a
    uniformly random point of the box (drawn with ``seed``).
    """
    images, labels = _check(model, images, labels, eps)
    check_scalar(steps, "steps", numbers.Integral, low=1)
    alpha = eps * 0.01 / 0.3 if alpha is None else check_scalar(alpha, "alpha", low=0)
    sign = -1.0 if targeted else 1.0
    x0 = images.detach()
    x = x0
    if random_start:
        g = torch.Generator().manual_seed(seed)
        noise = torch.rand(x0.shape, generator=g, dtype=x0.dtype) * 2 - 1
        x = (x0 + eps * noise.to(x0.device)).clamp(0, 1)
    for _ in range(steps):
        x = x + sign * alpha * loss_gradient(model, x, labels).sign()
        x = (x0 + (x - x0).clamp(-eps, eps)).clamp(0, 1)
    return x.detach()


def random_sign_noise(images: torch.Tensor, eps: float, seed: int = 0) -> torch.Tensor:
    """The control: a random +-eps change of every pixel, the same budget as an attack but no gradient."""
    images = check_images(images)
    check_scalar(eps, "eps", low=0)
    g = torch.Generator().manual_seed(seed)
    signs = torch.randint(0, 2, images.shape, generator=g).to(images) * 2 - 1
    return (images + eps * signs).clamp(0, 1)


@torch.no_grad()
def predictions(model: nn.Module, images: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
    """Top-1 class of each image (on the model's device, returned on the CPU)."""
    images = check_images(images)
    device = next(model.parameters()).device
    return torch.cat([model(images[i:i + batch_size].to(device)).argmax(1).cpu()
                      for i in range(0, len(images), batch_size)])


def success_rate(model: nn.Module, adversarial: torch.Tensor, labels, targeted: bool = False) -> float:
    """Untargeted: the fraction no longer classified as ``labels``; targeted: the fraction classified as them."""
    labels = torch.as_tensor(labels).reshape(-1).long()
    pred = predictions(model, adversarial)
    hit = pred == labels if targeted else pred != labels
    return float(hit.float().mean())
