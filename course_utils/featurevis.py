"""Lecture 12: feature visualisation by optimisation (what a unit wants to see).

Activation maximisation: start from a random image and climb the gradient of one unit's activation
(a channel's mean over its map, or a class logit) with respect to the image. Done naively, the
image that wins is high-frequency noise; each regulariser of the ladder removes some of it:

1. ``none``: raw pixels, nothing else (Erhan et al. 2009; the noise);
2. ``L2``: a penalty ``l2 * sum((x - 0.5)^2)`` pulls pixels to grey (Simonyan et al. 2014);
3. ``transforms``: every step sees a randomly jittered, scaled and rotated copy (Mordvintsev et al. 2015);
4. ``blur``: a Gaussian blur of the image every ``blur_every`` steps (Yosinski et al. 2015; CS231n);
5. ``fourier``: the image is parameterised by its spectrum, scaled by 1/f, in decorrelated colour
   (Olah et al., Distill 2017; lucid/lucent), so that gradient steps favour natural, low-frequency images.

Step k uses regularisers 1..k (a ladder: each rung adds one). The measurements say how far each is
from a natural image: :func:`activation_ratio` (the activation as a multiple of the unit's best
activation on real photo crops), :func:`robustness` (the fraction of the activation that survives
random transformations: adversarial noise loses it, a real feature keeps much of it) and
:func:`spectrum_slope` (natural photos: power falls as about 1/f^2, a slope near -2; white noise: 0).

Everything runs on ``train.pick_device()`` (cuda, then mps, then cpu) and goes through the
checkpoint cache (:func:`visualise`).
"""
from __future__ import annotations

import difflib
import math
import numbers
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .checks import check_choice, check_scalar, check_tensor

LADDER = ["none", "L2", "transforms", "blur", "fourier"]
LADDER_TITLES = {"none": "1 raw pixels", "L2": "2 + L2 decay", "transforms": "3 + jitter/scale/rotate",
                 "blur": "4 + blur", "fourier": "5 + Fourier, decorrelated colour"}


def check_images(images: torch.Tensor, name: str = "images") -> torch.Tensor:
    """RGB images (B,3,H,W) or (3,H,W) in [0, 1], returned as a batch."""
    check_tensor(images, name, ndim=(3, 4), channels=3)
    if images.numel() and (images.min() < 0 or images.max() > 1):
        raise ValueError(f"{name} must be RGB in [0, 1]; got values in [{float(images.min()):.3g}, "
                         f"{float(images.max()):.3g}]")
    return images[None] if images.dim() == 3 else images


# ----------------------------------------------------------------------------- the unit

class _Stop(Exception):
    """Raised by the forward hook once the chosen layer's output exists: nothing above it is computed."""


def find_layer(model: nn.Module, layer: str) -> nn.Module:
    """The submodule called ``layer``: its full dotted name, or a unique ending of one (``"blocks.7"``)."""
    if not isinstance(layer, str):
        raise TypeError(f"layer must be a module name (str); got {type(layer).__name__}")
    named = dict(model.named_modules())
    if layer in named and layer:
        return named[layer]
    matches = [name for name in named if name.endswith("." + layer)]
    if len(matches) == 1:
        return named[matches[0]]
    if len(matches) > 1:
        raise ValueError(f"layer {layer!r} is ambiguous in the model: {matches[:5]}; give the full name")
    close = difflib.get_close_matches(layer, [n for n in named if n], n=5, cutoff=0.5)
    raise ValueError(f"layer {layer!r} is not in the model" + (f"; did you mean one of {close}?" if close else
                     f"; its layers include {[n for n in named if n][:8]}"))


class Unit:
    """One unit of ``model``: channel ``channel`` of ``layer`` (its mean over the map), or logit ``channel``.

    ``unit(images)`` returns one activation per image (B,). ``channel`` may be a list with one
    channel per image, to optimise several units in one batch. After a call, ``unit.layer_output``
    holds the layer's whole activation (used by the diversity term).
    """

    def __init__(self, model: nn.Module, layer: str | None, channel, probe_size: int = 64):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
        self.model, self.layer_name = model, layer
        self.module = None if layer is None else find_layer(model, layer)
        with torch.no_grad():
            n = self._forward(torch.full((1, 3, probe_size, probe_size), 0.5, device=_device_of(model))).shape[1]
        self.n_channels = n
        channels = [channel] if isinstance(channel, numbers.Integral) and not isinstance(channel, bool) else channel
        if not isinstance(channels, (list, tuple)) or not all(
                isinstance(c, numbers.Integral) and not isinstance(c, bool) for c in channels) or not channels:
            raise TypeError(f"channel must be an integer or a list of integers; got {channel!r}")
        what = "class" if layer is None else f"channel of {layer}"
        for c in channels:
            if not 0 <= c < n:
                raise ValueError(f"unit index {c} is out of range: the {what} index must be in [0, {n - 1}]")
        self.channel = channel
        self.index = torch.tensor([int(c) for c in channels])

    def _forward(self, images):
        if self.module is None:
            self.layer_output = out = self.model(images)
            return out
        captured = {}

        def grab(module, inputs, output):
            captured["out"] = output
            raise _Stop

        handle = self.module.register_forward_hook(grab)
        try:
            self.model(images)
        except _Stop:
            pass
        finally:
            handle.remove()
        if "out" not in captured:
            raise ValueError(f"layer {self.layer_name!r} did not run in the model's forward pass")
        self.layer_output = out = captured["out"]
        return out

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        out = self._forward(images)
        index = self.index.to(out.device)
        if len(index) == 1:
            index = index.expand(len(out))
        elif len(index) != len(out):
            raise ValueError(f"{len(index)} channels for a batch of {len(out)} images")
        picked = out.gather(1, index.view(-1, *([1] * (out.dim() - 1))).expand(-1, 1, *out.shape[2:]))[:, 0]
        return picked.flatten(1).mean(1) if picked.dim() > 1 else picked

    def describe(self) -> str:
        return f"logit {self.channel}" if self.layer_name is None else f"{self.layer_name} channel {self.channel}"


def _device_of(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


@torch.no_grad()
def activations(unit: Unit, images: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """The unit's activation on each image (N,), in batches, on the model's device."""
    images = check_images(images)
    device = _device_of(unit.model)
    return torch.cat([unit(images[i:i + batch_size].to(device)).cpu() for i in range(0, len(images), batch_size)])


# ----------------------------------------------------------------------------- parameterisations

class PixelImage(nn.Module):
    """Raw pixels: the parameters *are* the image (kept in [0, 1] by clamping after each step)."""

    def __init__(self, n: int, size: int, seed: int = 0, sd: float = 0.05):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.pixels = nn.Parameter((0.5 + sd * torch.randn(n, 3, size, size, generator=g)).clamp(0, 1))

    def forward(self) -> torch.Tensor:
        return self.pixels

    @torch.no_grad()
    def set_image(self, images: torch.Tensor):
        self.pixels.copy_(images.clamp(0, 1))

    @torch.no_grad()
    def project(self):
        self.pixels.clamp_(0, 1)


# lucid's colour correlation of ImageNet (square root of its covariance, by SVD), columns normalised.
COLOUR_CORRELATION = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
COLOUR_CORRELATION = COLOUR_CORRELATION / COLOUR_CORRELATION.norm(dim=0).max()


def fourier_scale(size: int) -> torch.Tensor:
    """1/f for each frequency of a ``size`` x ``size`` real FFT (rfft2 layout), f floored at 1/size."""
    fy = torch.fft.fftfreq(size)[:, None]
    fx = torch.fft.rfftfreq(size)[None, :]
    return 1.0 / torch.sqrt(fx ** 2 + fy ** 2).clamp(min=1.0 / size)


def image_from_spectrum(spectrum: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """The linear core of the Fourier parameterisation: ``irfft2(scale * spectrum)`` (orthonormal FFT)."""
    size = scale.shape[-2]
    return torch.fft.irfft2(spectrum * scale, s=(size, size), norm="ortho")


def spectrum_from_image(image: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`image_from_spectrum`: ``rfft2(image) / scale``."""
    return torch.fft.rfft2(image, norm="ortho") / scale


class FourierImage(nn.Module):
    """An image parameterised by its 1/f-scaled spectrum, in decorrelated colour, squashed to [0, 1].

        image = sigmoid(C @ irfft2(scale * spectrum) / 4)      (C: ``COLOUR_CORRELATION`` if decorrelated)

    A gradient step of the same size on every spectral coefficient changes low frequencies most,
    and on the three decorrelated colour channels moves along ImageNet's colour directions.
    """

    def __init__(self, n: int, size: int, seed: int = 0, sd: float = 0.01, decorrelate: bool = True):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.register_buffer("scale", fourier_scale(size))
        self.register_buffer("colour", COLOUR_CORRELATION if decorrelate else torch.eye(3))
        shape = (n, 3, size, size // 2 + 1, 2)
        self.spectrum = nn.Parameter(sd * torch.randn(shape, generator=g))

    def forward(self) -> torch.Tensor:
        linear = image_from_spectrum(torch.view_as_complex(self.spectrum), self.scale) / 4.0
        return torch.sigmoid(torch.einsum("ij,bjhw->bihw", self.colour, linear))

    @torch.no_grad()
    def set_image(self, images: torch.Tensor):
        """Set the parameters so that ``self()`` returns ``images`` (in (0, 1)): the exact inverse."""
        logits = torch.logit(images.clamp(1e-4, 1 - 1e-4))
        linear = torch.einsum("ij,bjhw->bihw", torch.linalg.inv(self.colour), logits) * 4.0
        self.spectrum.copy_(torch.view_as_real(spectrum_from_image(linear, self.scale)))

    def project(self):
        pass


# ----------------------------------------------------------------------------- transformations and blur

def jitter(images: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """Shift images ``dx`` pixels right and ``dy`` down, wrapping around (torch.roll): nothing is lost."""
    return torch.roll(images, shifts=(int(dy), int(dx)), dims=(-2, -1))


def scale_rotate(images: torch.Tensor, scale: float, degrees: float) -> torch.Tensor:
    """Zoom by ``scale`` and rotate by ``degrees`` about the centre (bilinear, borders reflected)."""
    a = math.radians(degrees)
    theta = torch.tensor([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0]],
                         dtype=images.dtype, device=images.device) / scale
    theta[:, 2] = 0.0
    grid = F.affine_grid(theta.expand(len(images), 2, 3), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def random_transform(images: torch.Tensor, generator: torch.Generator, max_shift: int = 8,
                     scales=(0.9, 1.1), max_degrees: float = 10.0) -> torch.Tensor:
    """lucid's transformation robustness: jitter, random scale and rotation, jitter again (differentiable)."""
    def draw(lo, hi):
        return lo + (hi - lo) * float(torch.rand((), generator=generator))
    shift = lambda m: int(torch.randint(-m, m + 1, (), generator=generator))  # noqa: E731
    x = jitter(images, shift(max_shift), shift(max_shift))
    x = scale_rotate(x, draw(*scales), draw(-max_degrees, max_degrees))
    small = max(1, max_shift // 2)
    return jitter(x, shift(small), shift(small))


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of each channel (reflected borders), kernel radius 3 sigma."""
    check_scalar(sigma, "sigma", low=0, include_low=False)
    radius = max(1, int(math.ceil(3 * sigma)))
    r = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    k = torch.exp(-0.5 * (r / sigma) ** 2)
    k = k / k.sum()
    c = images.shape[1]
    x = F.pad(images, (radius, radius, radius, radius), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


# ----------------------------------------------------------------------------- the optimisation

class Recipe(NamedTuple):
    """What regularises one optimisation (see the module docstring for the ladder)."""
    parameterisation: str = "pixels"   # "pixels" or "fourier"
    decorrelate: bool = False          # decorrelated colour (Fourier only)
    l2: float = 0.0                    # weight of sum((x - 0.5)^2) over the pixels
    transforms: bool = False           # random jitter, scale and rotation every step
    blur_every: int = 0                # blur the image every this many steps (0: never)
    blur_sigma: float = 0.5
    optimizer: str = "adam"            # "adam" (lucid's), or "ascent": plain normalised gradient ascent


def ladder_recipe(step: int | str, l2: float = 0.01, blur_every: int = 10, blur_sigma: float = 0.5) -> Recipe:
    """The recipe of rung ``step`` (1-5, or its name in ``LADDER``): regularisers 1..step together."""
    if isinstance(step, str):
        check_choice(step, "step", LADDER)
        step = LADDER.index(step) + 1
    check_scalar(step, "step", numbers.Integral, low=1, high=len(LADDER))
    return Recipe(parameterisation="fourier" if step >= 5 else "pixels", decorrelate=step >= 5,
                  l2=l2 if step >= 2 else 0.0, transforms=step >= 3,
                  blur_every=blur_every if step >= 4 else 0, blur_sigma=blur_sigma)


def ascent_step(x: torch.Tensor, grad: torch.Tensor, lr: float) -> torch.Tensor:
    """One normalised gradient-ascent step: ``x + lr * grad / mean|grad|`` (each image its own norm)."""
    norm = grad.abs().flatten(1).mean(1).clamp(min=1e-12).view(-1, *([1] * (grad.dim() - 1)))
    return x + lr * grad / norm


def diversity_penalty(layer_output: torch.Tensor) -> torch.Tensor:
    """Mean cosine similarity between the Gram matrices of a batch's layer activations (lucid's diversity).

    Low when the images excite the layer's channels in different combinations.
    """
    b, c = layer_output.shape[:2]
    flat = layer_output.reshape(b, c, -1)
    gram = F.normalize((flat @ flat.transpose(1, 2)).reshape(b, -1), dim=1)
    sim = gram @ gram.T
    return (sim.sum() - sim.diagonal().sum()) / max(b * (b - 1), 1)


def optimise(unit: Unit, recipe: Recipe, size: int = 96, steps: int = 64, n: int = 1, lr: float = 0.1,
             seed: int = 0, diversity: float = 0.0, progress: bool = True):
    """Maximise ``unit`` over ``n`` images of ``size`` x ``size`` with ``recipe``; returns (images, history).

    ``history``: the mean activation of the untransformed images every step. ``diversity`` > 0
    subtracts ``diversity *`` :func:`diversity_penalty` (needs ``n`` >= 2 and a layer unit).
    Runs on the model's device; the images come back on the CPU.
    """
    if not isinstance(unit, Unit):
        raise TypeError(f"unit must be a featurevis.Unit; got {type(unit).__name__}")
    if not isinstance(recipe, Recipe):
        raise TypeError(f"recipe must be a featurevis.Recipe; got {type(recipe).__name__}")
    check_scalar(size, "size", numbers.Integral, low=16, high=1024)
    check_scalar(steps, "steps", numbers.Integral, low=1)
    check_scalar(n, "n", numbers.Integral, low=1)
    check_scalar(lr, "lr", low=0, include_low=False)
    check_scalar(diversity, "diversity", low=0)
    check_choice(recipe.parameterisation, "parameterisation", ["pixels", "fourier"])
    check_choice(recipe.optimizer, "optimizer", ["adam", "ascent"])
    if diversity and (n < 2 or unit.layer_name is None):
        raise ValueError("the diversity term needs n >= 2 images of a layer unit")
    device = _device_of(unit.model)
    param = (PixelImage(n, size, seed) if recipe.parameterisation == "pixels"
             else FourierImage(n, size, seed, decorrelate=recipe.decorrelate)).to(device)
    adam = torch.optim.Adam(param.parameters(), lr=lr, maximize=True) if recipe.optimizer == "adam" else None
    generator = torch.Generator().manual_seed(seed + 1)
    history = []
    was_training = unit.model.training
    unit.model.eval()
    try:
        for step in tqdm(range(steps), desc=f"optimising {unit.describe()}", leave=False, disable=not progress):
            image = param()
            seen = random_transform(image, generator) if recipe.transforms else image
            act = unit(seen)
            objective = act.sum()
            if diversity:
                objective = objective - diversity * n * diversity_penalty(unit.layer_output)
            if recipe.l2:
                objective = objective - recipe.l2 * ((image - 0.5) ** 2).sum()
            (grad,) = torch.autograd.grad(objective, list(param.parameters()))
            with torch.no_grad():
                if adam is not None:
                    (p,) = param.parameters()
                    p.grad = grad
                    adam.step()
                else:
                    for p in param.parameters():
                        p.copy_(ascent_step(p, grad, lr))
                param.project()
                if recipe.blur_every and (step + 1) % recipe.blur_every == 0:
                    param.set_image(gaussian_blur(param(), recipe.blur_sigma))
                history.append(float(act.mean()) if not recipe.transforms else float(unit(param()).mean()))
    finally:
        unit.model.train(was_training)
    with torch.no_grad():
        return param().detach().cpu(), history


def model_fingerprint(model: nn.Module) -> str:
    """A short description of the model's class and weights, for cache keys."""
    with torch.no_grad():
        total = sum(float(p.double().sum()) for p in model.parameters())
    return f"{type(model).__name__}:{sum(p.numel() for p in model.parameters())}:{total:.6e}"


def visualise(model: nn.Module, layer: str | None, channel, step: int | str | Recipe = 5, size: int = 96,
              steps: int = 64, n: int = 1, lr: float = 0.1, seed: int = 0, diversity: float = 0.0,
              verbose: bool = True) -> dict:
    """:func:`optimise` through the checkpoint cache: {"images" (n,3,size,size), "history", "seconds"}.

    ``step``: a rung of the ladder (1-5 or its name) or a :class:`Recipe`.
    """
    import time

    from .cache import cached
    recipe = step if isinstance(step, Recipe) else ladder_recipe(step)
    unit = Unit(model, layer, channel)
    config = {"model": model_fingerprint(model), "layer": layer, "channel": channel, "recipe": recipe._asdict(),
              "size": size, "steps": steps, "n": n, "lr": lr, "seed": seed, "diversity": diversity}

    def compute():
        start = time.perf_counter()
        images, history = optimise(unit, recipe, size, steps, n, lr, seed, diversity, progress=verbose)
        return {"images": images, "history": torch.tensor(history), "seconds": time.perf_counter() - start}

    return cached("featurevis", config, compute, verbose=False)


# ----------------------------------------------------------------------------- the measurements

def crop_pool(images: torch.Tensor, size: int, per_photo: int = 16, seed: int = 0,
              min_frac: float = 0.25, max_frac: float = 0.7):
    """Many random square crops of each photo (side ``min_frac``-``max_frac`` of the photo), resized to ``size``.

    Returns (crops (N * per_photo, 3, size, size), photo index of each crop). With many crops per
    photo, each unit finds its own favourite parts of the photos instead of nine whole photos.
    """
    images = check_images(images)
    check_scalar(size, "size", numbers.Integral, low=8)
    check_scalar(per_photo, "per_photo", numbers.Integral, low=1)
    g = torch.Generator().manual_seed(seed)
    _, _, h, w = images.shape
    crops, photo = [], []
    for i, img in enumerate(images):
        for _ in range(per_photo):
            side = int(min(h, w) * (min_frac + (max_frac - min_frac) * float(torch.rand((), generator=g))))
            top = int(torch.randint(0, h - side + 1, (), generator=g))
            left = int(torch.randint(0, w - side + 1, (), generator=g))
            crop = img[:, top:top + side, left:left + side]
            crops.append(F.interpolate(crop[None], size=(size, size), mode="bilinear", antialias=True,
                                       align_corners=False)[0].clamp(0, 1))
            photo.append(i)
    return torch.stack(crops), torch.tensor(photo)


def top_crops(values: torch.Tensor, photo: torch.Tensor, k: int = 9, per_photo: int = 2) -> torch.Tensor:
    """Indices of the ``k`` strongest crops, at most ``per_photo`` from any one photo, strongest first."""
    order, chosen, count = values.argsort(descending=True).tolist(), [], {}
    for i in order:
        p = int(photo[i])
        if count.get(p, 0) < per_photo:
            chosen.append(i)
            count[p] = count.get(p, 0) + 1
        if len(chosen) == k:
            break
    return torch.tensor(chosen)


def activation_ratio(unit: Unit, images: torch.Tensor, best_dataset_activation: float) -> torch.Tensor:
    """Each image's activation divided by the unit's best activation on real crops (1 = as strong as the best)."""
    if best_dataset_activation <= 0:
        raise ValueError(f"the best dataset activation must be positive to divide by; got {best_dataset_activation}")
    return activations(unit, images) / best_dataset_activation


@torch.no_grad()
def robustness(unit: Unit, images: torch.Tensor, n: int = 16, seed: int = 0, max_shift: int | None = None,
               scales=(0.8, 1.2), max_degrees: float = 20.0) -> torch.Tensor:
    """Mean activation over ``n`` random transformations divided by the untransformed activation, per image.

    The transformations (shift up to 1/8 of the side, zoom 0.8-1.2, rotation up to 20 degrees) are
    stronger than the ones used in training, so a rung is not tested on what it was trained on.
    """
    images = check_images(images)
    check_scalar(n, "n", numbers.Integral, low=1)
    max_shift = max(1, images.shape[-1] // 8) if max_shift is None else max_shift
    g = torch.Generator().manual_seed(seed)
    base = activations(unit, images)
    moved = torch.stack([activations(unit, random_transform(images, g, max_shift, scales, max_degrees))
                         for _ in range(n)]).mean(0)
    return moved / base.clamp(min=1e-6)


def radial_power(images: torch.Tensor):
    """Radially averaged power spectrum of each image's grey level: (frequencies in cycles/pixel, power (B, F))."""
    images = check_images(images).double()
    grey = images.mean(1)
    grey = grey - grey.mean((-2, -1), keepdim=True)
    h, w = grey.shape[-2:]
    window = torch.outer(torch.hann_window(h, periodic=False, dtype=grey.dtype),
                         torch.hann_window(w, periodic=False, dtype=grey.dtype))
    power = torch.fft.fft2(grey * window).abs() ** 2
    fy, fx = torch.fft.fftfreq(h, dtype=grey.dtype)[:, None], torch.fft.fftfreq(w, dtype=grey.dtype)[None, :]
    radius = torch.sqrt(fx ** 2 + fy ** 2)
    edges = torch.linspace(2.0 / min(h, w), 0.5, 16, dtype=grey.dtype)
    freqs, rows = [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        mask = (radius >= lo) & (radius < hi)
        freqs.append(float(radius[mask].mean()))
        rows.append(power[:, mask].mean(1))
    return torch.tensor(freqs), torch.stack(rows, 1)


def spectrum_slope(images: torch.Tensor) -> torch.Tensor:
    """Slope of log power against log frequency, per image (natural photos: about -2; white noise: about 0)."""
    freqs, power = radial_power(images)
    lx = torch.log(freqs.double())
    ly = torch.log(power.clamp(min=1e-30))
    lx = lx - lx.mean()
    return ((ly - ly.mean(1, keepdim=True)) * lx).sum(1) / (lx ** 2).sum()


# ----------------------------------------------------------------------------- pictures

def montage(images: torch.Tensor, n_cols: int = 3, gap: int = 2) -> torch.Tensor:
    """Images (N,3,h,w) tiled in a grid with white gaps, as one (3, H, W) image."""
    images = check_images(images)
    n, c, h, w = images.shape
    n_rows = math.ceil(n / n_cols)
    out = torch.ones(c, n_rows * (h + gap) - gap, n_cols * (w + gap) - gap)
    for i, img in enumerate(images):
        r, col = divmod(i, n_cols)
        out[:, r * (h + gap):r * (h + gap) + h, col * (w + gap):col * (w + gap) + w] = img
    return out


def plot_ladder(rows: dict, dataset: dict, ratios: dict | None = None, title: str = ""):
    """One row per unit: the ladder's images (titled with their activation ratio) and the top-9 dataset crops.

    ``rows``: {unit name: list of images (3,h,w), one per rung}; ``dataset``: {unit name: (9,3,h,w) crops}.
    """
    import matplotlib.pyplot as plt

    n_cols = len(LADDER) + 1
    fig, axes = plt.subplots(len(rows), n_cols, figsize=(2.6 * n_cols, 3.3 * len(rows)), squeeze=False)
    for r, (name, images) in enumerate(rows.items()):
        for c, (rung, img) in enumerate(zip(LADDER, images)):
            ax = axes[r, c]
            ax.imshow(img.permute(1, 2, 0).clamp(0, 1).numpy())
            label = LADDER_TITLES[rung]
            if ratios is not None:
                label += f"\n{ratios[name][c]:.1f}x best crop"
            ax.set_title(label, fontsize=9)
            ax.set_xticks([]), ax.set_yticks([])
        axes[r, 0].set_ylabel(name, fontsize=10)
        axes[r, -1].imshow(montage(dataset[name]).permute(1, 2, 0).numpy())
        axes[r, -1].set_title("top-9 dataset crops", fontsize=9)
        axes[r, -1].axis("off")
    fig.suptitle(title, fontsize=12)
    fig.tight_layout()
    return fig
