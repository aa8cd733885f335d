"""Do two networks trained alike learn the same features? Helpers for lectures 05-06.

* the glass model: the same net from many seeds; final loss vs. the features after matching;
* convergent learning (Li et al., ICLR 2016): per-layer channel correlations between two nets,
  their matchings (``course_utils.matching``), and linear regression from one net's layer to the other's.

    models = train_seeds("lenet300100", seeds=range(8), epochs=3)
    acts = layer_activations(model, X, ["conv1", "conv2"])      # {name: (N, C, H, W) tensor}
    table = regression_between(acts1["conv1"], acts2["conv1"], alpha=0.05)
"""
from __future__ import annotations

import contextlib
import copy
import io
import numbers
import random
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .checks import check_array, check_scalar, check_tensor
from .matching import bipartite_matching, channel_correlation, channels_last, single_blas_thread, standardize
from .train import TrainConfig, load_or_fit, seed_everything, train


def train_seeds(model: str, seeds, dataset: str = "mnist", epochs: int = 3, progress: bool = True,
                verbose: bool = True, **config) -> list:
    """``train(TrainConfig(model, dataset, epochs, seed=s, ...))`` for every seed; each is cached.

    Returns a list of (model, info) pairs in the order of ``seeds``. ``progress=False`` hides the
    progress bar (a saved notebook would keep it frozen at its first frame); ``verbose=False`` also
    hides the data loader's banner (shown once, for the first seed, by default).
    """
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be True or False; got {type(progress).__name__}")
    if not isinstance(verbose, bool):
        raise TypeError(f"verbose must be True or False; got {type(verbose).__name__}")
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds must not be empty")
    out = []
    for k, seed in enumerate(tqdm(seeds, desc=f"{model} seeds", leave=False, disable=not progress)):
        cfg = TrainConfig(model=model, dataset=dataset, epochs=epochs, seed=int(seed), **config)
        if k == 0 and verbose:
            out.append(train(cfg, verbose=False))
        else:  # the data loader announces the dataset on every call; once is enough
            with contextlib.redirect_stdout(io.StringIO()):
                out.append(train(cfg, verbose=False))
    return out


@torch.no_grad()
def mean_loss(model: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> float:
    """Mean cross-entropy of ``model`` on (X, y): the 'energy' in the glass analogy."""
    check_tensor(X, "X")
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same length; got {len(X)} and {len(y)}")
    model.eval()
    total = sum(F.cross_entropy(model(X[i:i + batch_size]), y[i:i + batch_size], reduction="sum").item()
                for i in range(0, len(X), batch_size))
    return total / len(X)


@torch.no_grad()
def layer_activations(model: nn.Module, X: torch.Tensor, layers, batch_size: int = 500) -> dict:
    """Outputs of the named submodules of ``model`` on ``X``: {name: tensor (N, C) or (N, C, H, W)}."""
    check_tensor(X, "X")
    modules = dict(model.named_modules())
    layers = list(layers)
    missing = [name for name in layers if name not in modules]
    if missing:
        raise ValueError(f"unknown layers {missing}; the model has {[n for n in modules if n]}")
    store = {name: [] for name in layers}
    hooks = [modules[name].register_forward_hook(lambda _m, _i, out, name=name: store[name].append(out))
             for name in layers]
    try:
        model.eval()
        for i in range(0, len(X), batch_size):
            model(X[i:i + batch_size])
    finally:
        for h in hooks:
            h.remove()
    return {name: torch.cat(chunks) for name, chunks in store.items()}


def drop_constant(a: np.ndarray, b: np.ndarray):
    """Remove channels that never vary (e.g. dead ReLUs) from each (N, C) array, saying how many."""
    keep_a, keep_b = a.std(0) > 1e-8, b.std(0) > 1e-8
    return a[:, keep_a], b[:, keep_b], np.flatnonzero(~keep_a), np.flatnonzero(~keep_b)


def reinitialised(model: nn.Module, seed: int) -> nn.Module:
    """A copy of ``model`` as training would start it: every layer's own ``reset_parameters`` (PyTorch's
    default initialisation), drawn from ``seed``; the original is untouched. The control for every
    "two trained nets agree" claim: how far does a net that learned nothing already agree?"""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    check_scalar(seed, "seed", numbers.Integral)
    fresh = copy.deepcopy(model)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        for module in fresh.modules():
            if module is not fresh and hasattr(module, "reset_parameters"):
                module.reset_parameters()
    return fresh.eval()


def paired_rows(acts1, acts2, max_rows: int, seed: int = 0):
    """Both nets' activations of one layer as (rows, C) arrays, at most ``max_rows`` of the same rows kept.

    Conv activations are flattened over images and positions; the kept rows are a fixed random draw.
    """
    a, b = channels_last(acts1), channels_last(acts2)
    if len(a) != len(b):
        raise ValueError(f"the two nets must see the same inputs; got {len(a)} and {len(b)} rows")
    if len(a) > max_rows:
        rows = np.random.default_rng(seed).choice(len(a), max_rows, replace=False)
        a, b = a[rows], b[rows]
    return a, b


def compare_layers(acts1, acts2, max_rows: int = 50_000, seed: int = 0) -> dict:
    """Within- and between-net correlations of one layer, and its matchings.

    ``acts1``, ``acts2``: the layer's activations in each net on the same images, (N, C[, H, W]);
    conv activations are flattened over images and positions, then at most ``max_rows`` rows kept.
    """
    a, b = paired_rows(acts1, acts2, max_rows, seed)
    a, b, dead_a, dead_b = drop_constant(a, b)
    between = channel_correlation(a, b)
    rows, cols = bipartite_matching(between)
    return {"within1": channel_correlation(a, a), "within2": channel_correlation(b, b),
            "between": between, "semi": between.argmax(1), "rows": rows, "cols": cols,
            "matched_corr": between[rows, cols], "semi_corr": between.max(1),
            "dead1": dead_a, "dead2": dead_b}


def glass_pair(model_a: nn.Module, model_b: nn.Module, X: torch.Tensor, layer: str = "fc1") -> dict:
    """How alike are two nets' hidden units? Match units by activation correlation (Hungarian).

    Uses the pre-activations of ``layer`` (a dead ReLU unit is constant after the ReLU but not before).
    Returns the mean matched activation correlation, the mean with units paired by index (the
    arbitrary labels SGD happened to give them), and the correlation of the incoming weights
    after aligning units by the matching and before.
    """
    acts_a = layer_activations(model_a, X, [layer])[layer].numpy()
    acts_b = layer_activations(model_b, X, [layer])[layer].numpy()
    corr = channel_correlation(acts_a, acts_b)
    rows, cols = bipartite_matching(corr)
    w_a = dict(model_a.named_modules())[layer].weight.detach().numpy()
    w_b = dict(model_b.named_modules())[layer].weight.detach().numpy()

    def weight_corr(wa, wb):
        return float(np.corrcoef(wa.ravel(), wb.ravel())[0, 1])

    return {"matched_act_corr": float(corr[rows, cols].mean()),
            "identity_act_corr": float(np.diag(corr).mean()),
            "matched_weight_corr": weight_corr(w_a[rows], w_b[cols]),
            "identity_weight_corr": weight_corr(w_a, w_b),
            "frac_units_above_0.9": float((corr[rows, cols] > 0.9).mean())}


def initial_model(model: str, seed: int, **model_kwargs) -> nn.Module:
    """The weights ``train(TrainConfig(model, seed=seed, ...))`` starts from, rebuilt exactly as
    ``train`` builds them: ``seed_everything(seed)`` (so ``$COURSE_SEED_OFFSET`` shifts it too), then
    ``build_model``. Compare a trained net with it to see how far training moved each weight."""
    from .models import MODELS, build_model
    if not isinstance(model, str) or model not in MODELS:
        raise ValueError(f"model must be one of {sorted(MODELS)}; got {model!r}")
    check_scalar(seed, "seed", numbers.Integral, low=0)
    with torch.random.fork_rng(devices=[]):
        seed_everything(int(seed))
        return build_model(model, **model_kwargs).eval()


def matched_weights(model_a: nn.Module, model_b: nn.Module, X: torch.Tensor, layer: str = "fc1",
                    init_a: nn.Module | None = None, init_b: nn.Module | None = None, keep=None) -> dict:
    """Match ``layer``'s units of two nets by the correlation of their pre-activations on ``X``
    (Hungarian), then correlate the aligned incoming weight vectors (all entries pooled).

    ``keep``: a boolean mask over the layer's inputs (e.g. the pixels that are non-zero in some
    training digit): the weights are also compared on those inputs only, since a weight whose input
    is always zero gets no gradient and keeps its initial value. ``init_a``/``init_b``: the two nets
    at initialisation (``initial_model``); then the *change* from initialisation is compared too.
    Returns ``unit_corr`` (each matched pair's activation correlation), ``act_corr`` (their mean),
    ``weight_corr``, ``weight_corr_kept`` and, with the inits, ``change_corr``, ``change_corr_kept``
    and ``init_corr_a`` (net A's trained weights against its own initial ones, on the kept inputs),
    plus the matching ``rows``, ``cols``.
    """
    modules_a, modules_b = dict(model_a.named_modules()), dict(model_b.named_modules())
    if layer not in modules_a or layer not in modules_b:
        raise ValueError(f"both models need a layer {layer!r}")
    if (init_a is None) != (init_b is None):
        raise ValueError("give both init_a and init_b, or neither")
    acts_a = layer_activations(model_a, X, [layer])[layer].numpy()
    acts_b = layer_activations(model_b, X, [layer])[layer].numpy()
    corr = channel_correlation(acts_a, acts_b)
    rows, cols = bipartite_matching(corr)
    w_a = modules_a[layer].weight.detach().numpy().reshape(len(acts_a.T), -1)
    w_b = modules_b[layer].weight.detach().numpy().reshape(len(acts_b.T), -1)
    if keep is None:
        keep = np.ones(w_a.shape[1], dtype=bool)
    keep = check_array(keep, "keep", ndim=1, dtype_kind="b").ravel()
    if len(keep) != w_a.shape[1] or not keep.any():
        raise ValueError(f"keep must be a boolean mask over the layer's {w_a.shape[1]} inputs with at least "
                         f"one True; got length {len(keep)} with {int(keep.sum())} True")

    def rho(x, y):
        return float(np.corrcoef(x.ravel(), y.ravel())[0, 1])

    out = {"unit_corr": corr[rows, cols], "act_corr": float(corr[rows, cols].mean()),
           "weight_corr": rho(w_a[rows], w_b[cols]),
           "weight_corr_kept": rho(w_a[rows][:, keep], w_b[cols][:, keep]), "rows": rows, "cols": cols}
    if init_a is not None:
        i_a = dict(init_a.named_modules())[layer].weight.detach().numpy().reshape(w_a.shape)
        i_b = dict(init_b.named_modules())[layer].weight.detach().numpy().reshape(w_b.shape)
        d_a, d_b = w_a - i_a, w_b - i_b
        out.update(change_corr=rho(d_a[rows], d_b[cols]), change_corr_kept=rho(d_a[rows][:, keep], d_b[cols][:, keep]),
                   init_corr_a=rho(w_a[:, keep], i_a[:, keep]))
    return out


def align_hidden_units(model_a: nn.Module, model_b: nn.Module, X: torch.Tensor) -> nn.Module:
    """A copy of ``model_b`` (a LeNet-300-100: fc1 -> fc2 -> fc3) with its hidden units permuted to line
    up with ``model_a``'s, layer by layer: each layer's units are matched by the correlation of their
    pre-activations on ``X`` (Hungarian), then fc1's permutation is applied to its rows and to fc2's
    columns, and so on. The function is unchanged (the permutation symmetry); only the names move."""
    for name, m in (("model_a", model_a), ("model_b", model_b)):
        if not all(isinstance(getattr(m, k, None), nn.Linear) for k in ("fc1", "fc2", "fc3")):
            raise TypeError(f"{name} must have Linear layers fc1, fc2, fc3 (a LeNet-300-100); got "
                            f"{type(m).__name__}")
    aligned = copy.deepcopy(model_b).eval()
    with torch.no_grad():
        for layer, following in (("fc1", "fc2"), ("fc2", "fc3")):
            acts_a = layer_activations(model_a, X, [layer])[layer].numpy()
            acts_b = layer_activations(aligned, X, [layer])[layer].numpy()
            a, b, dead_a, dead_b = drop_constant(acts_a, acts_b)
            if len(dead_a) or len(dead_b):
                raise ValueError(f"{layer} has units constant on X; use inputs on which every unit varies")
            rows, cols = bipartite_matching(channel_correlation(a, b))
            perm = torch.as_tensor(cols[np.argsort(rows)])
            here, nxt = getattr(aligned, layer), getattr(aligned, following)
            here.weight.copy_(here.weight[perm])
            here.bias.copy_(here.bias[perm])
            nxt.weight.copy_(nxt.weight[:, perm])
    return aligned


@torch.no_grad()
def interpolation_losses(model_a: nn.Module, model_b: nn.Module, X: torch.Tensor, y: torch.Tensor,
                         steps: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """Mean test loss along the straight line between two nets' weights, ``(1 - t) a + t b`` for
    ``steps`` values of t in [0, 1] (linear mode connectivity). Returns (t, losses)."""
    check_scalar(steps, "steps", numbers.Integral, low=2)
    params_a, params_b = model_a.state_dict(), model_b.state_dict()
    if params_a.keys() != params_b.keys():
        raise ValueError("the two models must have the same architecture (the same parameter names)")
    between = copy.deepcopy(model_a).eval()
    ts = np.linspace(0.0, 1.0, steps)
    losses = []
    for t in ts:
        between.load_state_dict({k: (1 - t) * params_a[k] + t * params_b[k] for k in params_a})
        losses.append(mean_loss(between, X, y))
    return ts, np.array(losses)


def _regression_halves(target, source, max_rows: int, seed: int):
    """The rows every regression between two nets uses: a fixed random ``max_rows`` of them, units silent
    on either half dropped, every channel standardised; returns (fit_x, fit_y, test_x, test_y)."""
    a, b = channels_last(target), channels_last(source)
    if len(a) != len(b):
        raise ValueError(f"target and source must come from the same inputs; got {len(a)} and {len(b)} rows")
    rng = np.random.default_rng(seed)
    rows = rng.permutation(len(a))[:max_rows]
    a, b = a[rows], b[rows]
    half = len(a) // 2
    # A unit must vary in both halves: one that is silent on the held-out half has no correlation there.
    a = a[:, (a[:half].std(0) > 1e-8) & (a[half:].std(0) > 1e-8)]
    b = b[:, (b[:half].std(0) > 1e-8) & (b[half:].std(0) > 1e-8)]
    za, zb = standardize(a, "target"), standardize(b, "source")
    return zb[:half], za[:half], zb[half:], za[half:]


def regression_between(target, source, alpha: float = 0.05, max_rows: int = 20_000, seed: int = 0) -> dict:
    """Predict each (normalised) channel of ``target`` from all channels of ``source``.

    Both are (N, C[, H, W]) activations of the same inputs. Channels are normalised to zero mean and
    unit variance, so predicting the mean gives a mean squared loss of 1.000. Fits on half the rows
    and reports the loss on the other half, for least squares and for Lasso (L1 penalty ``alpha``,
    scikit-learn's scaling: ||y - Xw||^2 / (2 n) + alpha ||w||_1), and how many source channels each
    fit uses on average (non-zero weights).
    """
    from sklearn.linear_model import Lasso

    check_scalar(alpha, "alpha", numbers.Real, low=0, include_low=False)
    fit_x, fit_y, test_x, test_y = _regression_halves(target, source, max_rows, seed)
    half = len(fit_x)
    w, *_ = np.linalg.lstsq(np.c_[fit_x, np.ones(half)], fit_y, rcond=None)
    ls_loss = float(((np.c_[test_x, np.ones(len(test_x))] @ w - test_y) ** 2).mean())
    lasso = Lasso(alpha=alpha, max_iter=5000, tol=1e-4).fit(fit_x, fit_y)
    coef = np.atleast_2d(lasso.coef_)
    l1_loss = float(((lasso.predict(test_x).reshape(test_y.shape) - test_y) ** 2).mean())
    return {"n_target": fit_y.shape[1], "n_source": fit_x.shape[1], "ls_loss": ls_loss,
            "ls_channels": float(fit_x.shape[1]), "l1_loss": l1_loss,
            "l1_channels": float((np.abs(coef) > 1e-10).sum(1).mean()), "alpha": alpha,
            "best_single_loss": float(1 - (channel_correlation(test_y, test_x) ** 2).max(1).mean())}


def lasso_sweep(target, source, alphas, max_rows: int = 20_000, seed: int = 0) -> dict:
    """:func:`regression_between`'s Lasso for several penalties: the sparsity-accuracy trade-off.

    The same rows, halves and standardisation as ``regression_between`` (same ``max_rows`` and ``seed``),
    one ``Lasso(alpha, max_iter=5000, tol=1e-4, precompute=True)`` fit per alpha (coordinate descent on the
    source channels' Gram matrix: the same minimiser as ``regression_between``'s fit, to its tolerance). Returns {"alpha": (A,),
    "l1_loss": (A,) mean held-out loss over the target's channels, "l1_channels": (A,) mean number of
    non-zero weights, "converged": (A,) whether every fit met its tolerance (one that does not is refitted
    once with ten times the iterations), "ls_loss": the least-squares loss with every channel, "n_source",
    "n_target"}.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import Lasso

    alphas = check_array(alphas, "alphas", ndim=1, dtype_kind="fiu").astype(np.float64).ravel()
    if len(alphas) == 0 or not np.all(np.isfinite(alphas)) or alphas.min() <= 0:
        raise ValueError(f"alphas must be a non-empty list of positive penalties; got {alphas.tolist()}")
    check_scalar(max_rows, "max_rows", numbers.Integral, low=4)
    fit_x, fit_y, test_x, test_y = _regression_halves(target, source, max_rows, seed)
    w, *_ = np.linalg.lstsq(np.c_[fit_x, np.ones(len(fit_x))], fit_y, rcond=None)
    ls_loss = float(((np.c_[test_x, np.ones(len(test_x))] @ w - test_y) ** 2).mean())
    losses, channels, converged = [], [], []
    for alpha in alphas:   # precompute: coordinate descent on the (C, C) Gram matrix, not on the rows
        for max_iter in (5000, 50_000):   # a fit that has not converged gets ten times the iterations, once
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConvergenceWarning)
                lasso = Lasso(alpha=float(alpha), max_iter=max_iter, tol=1e-4, precompute=True).fit(fit_x, fit_y)
            ok = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
            if ok:
                break
        coef = np.atleast_2d(lasso.coef_)
        losses.append(float(((lasso.predict(test_x).reshape(test_y.shape) - test_y) ** 2).mean()))
        channels.append(float((np.abs(coef) > 1e-10).sum(1).mean()))
        converged.append(ok)
    return {"alpha": alphas, "l1_loss": np.array(losses), "l1_channels": np.array(channels), "ls_loss": ls_loss,
            "converged": np.array(converged), "n_source": fit_x.shape[1], "n_target": fit_y.shape[1]}


def linear_cka(X, Y) -> float:
    """Linear centred kernel alignment (Kornblith, Norouzi, Lee & Hinton, ICML 2019, eq. 5).

    ``X`` (N, p) and ``Y`` (N, q) are two layers' activations on the same N samples (a conv layer:
    ``matching.channels_last`` first). With every column centred,
    ``CKA = ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F)``: 1 for ``Y = X Q`` with Q orthogonal or a
    multiple of the identity, 0 for uncorrelated layers; unlike unit matching it needs no pairing.
    """
    x = check_array(X, "X", ndim=2, dtype_kind="fiu", min_rows=2).astype(np.float64)
    y = check_array(Y, "Y", ndim=2, dtype_kind="fiu", min_rows=2).astype(np.float64)
    if len(x) != len(y):
        raise ValueError(f"X and Y must hold the same samples; got {len(x)} and {len(y)} rows")
    x, y = x - x.mean(0), y - y.mean(0)
    norm_x, norm_y = np.linalg.norm(x.T @ x), np.linalg.norm(y.T @ y)
    if norm_x == 0 or norm_y == 0:
        raise ValueError("X or Y is constant (every column has zero variance); CKA is undefined")
    return float(np.linalg.norm(y.T @ x) ** 2 / (norm_x * norm_y))


def layer_similarity(acts1, acts2, max_rows: int = 40_000, seed: int = 0, shuffle: int | None = None) -> dict:
    """Mean Hungarian-matched correlation and linear CKA of one layer in two nets, on the same rows.

    ``acts1``, ``acts2``: (N, C[, H, W]) activations of the same inputs. The rows kept are those
    :func:`compare_layers` keeps for the same ``max_rows`` and ``seed``, so ``matched_corr`` equals its
    ``matched_corr.mean()``; constant channels are dropped for the matching (CKA ignores them).
    ``shuffle``: a seed; then net 2's rows are permuted first, which breaks the pairing of samples
    (a permutation null: what matching finds between two layers that share no input).
    Returns {"matched_corr": float, "cka": float}.
    """
    check_scalar(max_rows, "max_rows", numbers.Integral, low=2)
    if shuffle is not None:
        check_scalar(shuffle, "shuffle", numbers.Integral, low=0)
    a, b = paired_rows(acts1, acts2, max_rows, seed)
    if shuffle is not None:
        b = b[np.random.default_rng(shuffle).permutation(len(b))]
    a_live, b_live, _, _ = drop_constant(a, b)
    between = channel_correlation(a_live, b_live)
    r, c = bipartite_matching(between)
    with single_blas_thread():
        cka = linear_cka(a_live, b_live)
    return {"matched_corr": float(between[r, c].mean()), "cka": cka}


# The photo CNN's task: which of the course photos did a random crop come from? ---------------------

def photo_crops(n_per_photo: int = 64, crop: int = 48, size: int = 128, seed: int = 0):
    """Random ``crop`` x ``crop`` crops (with horizontal flips) of ``data.photos("all", size)``.

    Returns (X (N, 3, crop, crop), y = photo index, names). Deterministic for a given seed.
    """
    from .data import photos
    check_scalar(n_per_photo, "n_per_photo", numbers.Integral, low=1)
    check_scalar(crop, "crop", numbers.Integral, low=8)
    check_scalar(size, "size", numbers.Integral, low=crop)
    images = photos("all", size=size, verbose=False)
    g = torch.Generator().manual_seed(seed)
    xs, ys = [], []
    for k, img in enumerate(images.images):
        top = torch.randint(0, size - crop + 1, (n_per_photo,), generator=g)
        left = torch.randint(0, size - crop + 1, (n_per_photo,), generator=g)
        flip = torch.rand(n_per_photo, generator=g) < 0.5
        for t, l, f in zip(top.tolist(), left.tolist(), flip.tolist()):
            patch = img[:, t:t + crop, l:l + crop]
            xs.append(patch.flip(-1) if f else patch)
            ys.append(k)
    return torch.stack(xs), torch.tensor(ys), list(images.names)


def _build_photo_cnn(seed: int, width: int, conv1_kernel: int, conv1_init_scale: float, n_classes: int) -> nn.Module:
    """Seed everything, build, scale conv1's weights: the start of training (advances the global generators)."""
    from .models import PhotoCNN
    seed_everything(int(seed))
    model = PhotoCNN(n_classes, conv1_kernel=conv1_kernel, width=width)
    with torch.no_grad():
        model.conv1.weight.mul_(conv1_init_scale)
    return model


def initial_photo_cnn(seed: int, width: int = 16, conv1_kernel: int = 11, conv1_init_scale: float = 0.1,
                      n_classes: int | None = None) -> nn.Module:
    """The PhotoCNN that :func:`train_photo_cnn` with the same arguments starts from, before training:
    ``seed_everything(seed)`` (so ``$COURSE_SEED_OFFSET`` shifts it), PyTorch's default initialisation, conv1's
    weights (not its bias) multiplied by ``conv1_init_scale``. ``n_classes``: default, one per course photo.
    The global random generators are left as they were."""
    check_scalar(seed, "seed", numbers.Integral, low=0)
    check_scalar(conv1_init_scale, "conv1_init_scale", numbers.Real, low=0, include_low=False)
    if n_classes is None:
        from .data import photos
        n_classes = len(photos("all", verbose=False).names)
    check_scalar(n_classes, "n_classes", numbers.Integral, low=2)
    with torch.random.fork_rng(devices=[]):
        state = np.random.get_state(), random.getstate()
        try:
            return _build_photo_cnn(seed, width, conv1_kernel, conv1_init_scale, n_classes).eval()
        finally:
            np.random.set_state(state[0])
            random.setstate(state[1])


def train_photo_cnn(seed: int, epochs: int = 10, width: int = 16, conv1_kernel: int = 11,
                    n_per_photo: int = 64, crop: int = 48, conv1_init_scale: float = 0.1,
                    verbose: bool = False):
    """A PhotoCNN trained to tell the photos apart from crops; cached per seed like ``train``.

    Returns (model, info, (test_x, test_y)). conv1's initial weights are multiplied by
    ``conv1_init_scale`` (:func:`initial_photo_cnn` rebuilds the start): with PyTorch's default init, ten
    short epochs leave each 11x11x3 filter dominated by its random starting noise, which hides what it
    learned; shrunk, the learned (smooth, colour-opponent) part shows. ``benchmarks/convergent.py``
    measures both scales: accuracy, how far training moved conv1, and the convergence measures.
    """
    check_scalar(seed, "seed", numbers.Integral, low=0)
    train_x, train_y, names = photo_crops(n_per_photo, crop, seed=1000)       # same data for every seed
    test_x, test_y, _ = photo_crops(max(8, n_per_photo // 4), crop, seed=2000)
    config = TrainConfig(model="photocnn", dataset="photo-crops", epochs=epochs, seed=seed)
    check_scalar(conv1_init_scale, "conv1_init_scale", numbers.Real, low=0, include_low=False)
    model = _build_photo_cnn(seed, width, conv1_kernel, conv1_init_scale, len(names))
    extra = {"width": width, "conv1_kernel": conv1_kernel, "n_per_photo": n_per_photo, "crop": crop,
             "data_seeds": [1000, 2000], "conv1_init_scale": conv1_init_scale}
    model, info = load_or_fit(model, (train_x, train_y), (test_x, test_y), config, extra=extra, verbose=verbose)
    return model, info, (test_x, test_y)


def filter_images(weight) -> np.ndarray:
    """Conv weights (C_out, C_in, k, k) -> images (C_out, k, k[, 3]) scaled to [0, 1] each, for imshow."""
    w = check_array(weight, "weight", ndim=4).astype(np.float64)
    w = np.moveaxis(w, 1, -1)
    lo = w.reshape(len(w), -1).min(1)[:, None, None, None]
    hi = w.reshape(len(w), -1).max(1)[:, None, None, None]
    out = (w - lo) / np.maximum(hi - lo, 1e-12)
    return out[..., 0] if out.shape[-1] == 1 else out
