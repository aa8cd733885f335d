"""Deterministic, seeded training with a checkpoint cache keyed by the full training config.

    model, info = train(TrainConfig(model="lenet5", dataset="mnist", epochs=3))

The first call trains (with a tqdm progress bar) and saves the weights; every later call with the
same config loads them in well under a second. ``COURSE_CACHE_DIR`` moves the cache.
"""
from __future__ import annotations

import contextlib
import dataclasses
import numbers
import os
import random
import time
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from . import cache
from .checks import check_choice, check_scalar
from .models import MODELS, build_model


def pick_device() -> torch.device:
    """cuda if present, then Apple's mps, else cpu."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")



class one_thread(contextlib.ContextDecorator):
    """Run torch on one thread inside the block (or the decorated function), then restore the count.

    The course's models are small: a second thread buys little on an idle machine, and on a busy
    one the threads' synchronisation made training many times slower (measured here: a LeNet-5
    epoch took 37 s on two threads against 3.9 s on one, at load average 8).
    """

    def __enter__(self):
        self.threads = torch.get_num_threads()
        torch.set_num_threads(1)
        return self

    def __exit__(self, *exc):
        torch.set_num_threads(self.threads)
        return False


SEED_OFFSET_ENV = "COURSE_SEED_OFFSET"


def seed_offset() -> int:
    """``$COURSE_SEED_OFFSET`` (default 0): added to every training seed of the course.

    ``benchmarks/robustness.py`` sets it to re-run whole notebooks with other seeds and checks that
    every asserted claim still holds; students never need it. It shifts the training randomness
    (initial weights, batch order); data sets drawn from their own fixed seeds stay the same. The
    checkpoint cache keys include it.
    """
    text = os.environ.get(SEED_OFFSET_ENV, "0").strip() or "0"
    if not text.isdigit():
        raise ValueError(f"${SEED_OFFSET_ENV} must be a non-negative integer; got {text!r}")
    return int(text)


def run_seed(seed: int) -> int:
    """The seed a training run really uses: ``seed`` plus :func:`seed_offset`."""
    check_scalar(seed, "seed", numbers.Integral, low=0)
    return int(seed) + seed_offset()


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, numpy and torch with :func:`run_seed` ``(seed)``; return a torch generator for data shuffling."""
    seed = run_seed(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that determines the trained weights; its hash names the cache file."""
    model: str = "lenet5"
    dataset: str = "mnist"
    epochs: int = 3
    lr: float = 1e-3
    batch_size: int = 64
    seed: int = 0
    optimizer: str = "adam"
    momentum: float = 0.9
    weight_decay: float = 0.0
    model_kwargs: tuple = ()  # (name, value) pairs, hashable so the config can be a dict key

    def __post_init__(self):
        # model and dataset are names; train() checks them against the registries, while
        # load_or_fit() accepts any name for models and data built elsewhere.
        if not isinstance(self.model, str) or not isinstance(self.dataset, str):
            raise TypeError(f"model and dataset must be names (str); got {self.model!r} and {self.dataset!r}")
        check_scalar(self.epochs, "epochs", numbers.Integral, low=0)
        check_scalar(self.lr, "lr", numbers.Real, low=0, include_low=False)
        check_scalar(self.batch_size, "batch_size", numbers.Integral, low=1)
        check_scalar(self.seed, "seed", numbers.Integral, low=0)
        check_choice(self.optimizer, "optimizer", ["adam", "sgd"])
        check_scalar(self.momentum, "momentum", numbers.Real, low=0, high=1, include_high=False)
        check_scalar(self.weight_decay, "weight_decay", numbers.Real, low=0)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["model_kwargs"] = dict(self.model_kwargs)
        return d


def _mnist():
    from .data import mnist
    return mnist("train"), mnist("test")


def _digits8():
    from .data import digits8
    X, y = digits8()
    # Fixed split: every fifth digit is held out.
    test = torch.arange(len(y)) % 5 == 0
    return (X[~test], y[~test]), (X[test], y[test])


DATASETS: dict[str, Callable] = {"mnist": _mnist, "digits8": _digits8}


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                               weight_decay=config.weight_decay)
    return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)


@torch.no_grad()
def accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> float:
    """Top-1 accuracy of ``model`` on (X, y), evaluated in eval mode on the model's device."""
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same length; got {len(X)} and {len(y)}")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    correct = sum((model(X[i:i + batch_size].to(device)).argmax(1).cpu() == y[i:i + batch_size]).sum().item()
                  for i in range(0, len(X), batch_size))
    model.train(was_training)
    return correct / len(X)


def fit(model: nn.Module, X: torch.Tensor, y: torch.Tensor, config: TrainConfig,
        step_hook: Callable[[nn.Module], None] | None = None, desc: str = "training") -> list:
    """Train ``model`` in place with cross-entropy; returns the mean loss of each epoch.

    ``step_hook(model)`` runs after every optimiser step (pruning masks use it to stay zero).
    """
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same length; got {len(X)} and {len(y)}")
    generator = seed_everything(config.seed)
    device = pick_device()
    model.to(device).train()
    optimizer = make_optimizer(model, config)
    n_batches = (len(X) + config.batch_size - 1) // config.batch_size
    losses = []
    with tqdm(total=config.epochs * n_batches, desc=desc, unit="batch", leave=False) as bar:
        for epoch in range(config.epochs):
            order = torch.randperm(len(X), generator=generator)
            total = 0.0
            for i in range(0, len(X), config.batch_size):
                idx = order[i:i + config.batch_size]
                xb, yb = X[idx].to(device), y[idx].to(device)
                loss = F.cross_entropy(model(xb), yb)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if step_hook is not None:
                    step_hook(model)
                total += loss.item() * len(idx)
                bar.update(1)
            losses.append(total / len(X))
            bar.set_postfix(epoch=epoch + 1, loss=f"{losses[-1]:.4f}")
    return losses


def load_or_fit(model: nn.Module, train_data, test_data, config: TrainConfig,
                extra: dict | None = None, verbose: bool = True):
    """Load ``model``'s weights for this config from the cache, or fit it on ``train_data`` and cache them.

    For models and data built outside the registries: ``config.model``/``config.dataset`` name them,
    and ``extra`` (JSON-serialisable) must hold anything else that changes the weights, e.g. the
    architecture's arguments or how the data were generated. ``model`` must be freshly initialised
    after ``seed_everything(config.seed)``. Returns ``(model, info)`` like :func:`train`.
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig; got {type(config).__name__}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    (X, y), (X_test, y_test) = train_data, test_data

    def compute():
        start = time.perf_counter()
        losses = fit(model, X, y, config, desc=f"{config.model} on {config.dataset}")
        seconds = time.perf_counter() - start
        model.cpu()
        return {"state_dict": model.state_dict(), "losses": losses, "train_seconds": seconds,
                "test_accuracy": accuracy(model, X_test, y_test)}

    key = {**config.to_dict(), "extra": extra or {}, "n_train": len(X), "n_test": len(X_test)}
    payload = cache.cached(f"{config.model}-{config.dataset}", key, compute, verbose=verbose)
    model.load_state_dict(payload["state_dict"])
    model.cpu().eval()
    info = {k: v for k, v in payload.items() if k != "state_dict"}
    if verbose:
        print(f"{config.model}: test accuracy {info['test_accuracy']:.4f} "
              f"(trained in {info['train_seconds']:.1f} s)")
    return model, info


def train(config: TrainConfig, verbose: bool = True):
    """Load the course model trained with ``config`` from the cache, or train it and cache it.

    Returns ``(model, info)``: the model in eval mode on the CPU, and a dict with ``losses``,
    ``test_accuracy``, ``train_seconds`` and ``config``.
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig; got {type(config).__name__}")
    check_choice(config.model, "model", sorted(MODELS))
    check_choice(config.dataset, "dataset", sorted(DATASETS))
    train_data, test_data = DATASETS[config.dataset]()
    seed_everything(config.seed)  # the initial weights are part of what the config determines
    model = build_model(config.model, **dict(config.model_kwargs))
    return load_or_fit(model, train_data, test_data, config, verbose=verbose)
