"""Lecture 07, Deep Compression (Han, Mao & Dally, ICLR 2016): prune, share weights, Huffman-code.

    masks = prune(model, sparsity={"fc1": 0.92, "fc2": 0.91, "fc3": 0.74})   # stage 1
    fit(model, X, y, config, step_hook=mask_hook(masks))                     # retrain, mask held
    shared = SharedWeights(model, bits=6)                                    # stage 2: k-means codebooks
    fit(shared, X, y, config)                                                # retrain the centroids only
    small = shared.export()
    compression_report(small, bits=6, index_bits=5)                          # stage 3 + bit accounting
    save_compressed(small, "lenet.dc", bits=6, index_bits=5)                 # the size is real

Storage format of one layer (the paper's Fig. 2 and 3): the nonzero weights in row-major order, each
stored as (gap, code). ``gap`` is the number of zeros skipped since the previous stored entry, in
``index_bits`` bits; a gap longer than ``2**index_bits - 1`` is bridged by *filler* entries that store
a zero weight. ``code`` indexes the layer's codebook, whose entry 0 is reserved for that zero, so a
``bits``-bit layer has at most ``2**bits - 1`` shared nonzero values. Both streams are Huffman-coded.
Biases stay 32-bit floats and are counted in every size below.
"""
from __future__ import annotations

import copy
import heapq
import io
import json
import math
import numbers
import struct
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import cache
from .cache import atomic_write_bytes
from .checks import check_array, check_choice, check_scalar
from .train import one_thread

PRUNABLE = (nn.Linear, nn.Conv2d)
INITS = ("linear", "random", "density")

# Han, Mao & Dally (2016), Tables 1-3 (P = pruning, Q = quantisation, H = Huffman). Checked cell
# by cell against two independent text transcriptions of arXiv:1510.00149v5, which agree with each
# other. (LeNet-5's ip2 really is printed with 5.2 Huffman bits per 5-bit weight.)
PAPER_TABLES = {
    "lenet300100": {
        "rows": [
            {"layer": "ip1", "weights": "235K", "kept %": 8, "weight bits P+Q": 6, "weight bits P+Q+H": 4.4,
             "index bits P+Q": 5, "index bits P+Q+H": 3.7, "rate P+Q %": 3.1, "rate P+Q+H %": 2.32},
            {"layer": "ip2", "weights": "30K", "kept %": 9, "weight bits P+Q": 6, "weight bits P+Q+H": 4.4,
             "index bits P+Q": 5, "index bits P+Q+H": 4.3, "rate P+Q %": 3.8, "rate P+Q+H %": 3.04},
            {"layer": "ip3", "weights": "1K", "kept %": 26, "weight bits P+Q": 6, "weight bits P+Q+H": 4.3,
             "index bits P+Q": 5, "index bits P+Q+H": 3.2, "rate P+Q %": 15.7, "rate P+Q+H %": 12.70},
            {"layer": "total", "weights": "266K", "kept %": 8, "weight bits P+Q": 6, "weight bits P+Q+H": 5.1,
             "index bits P+Q": 5, "index bits P+Q+H": 3.7, "rate P+Q %": 3.1, "rate P+Q+H %": 2.49},
        ],
        "size_kb": (1070, 27), "ratio": 40, "top1_error_%": (1.64, 1.58),
    },
    "lenet5": {
        "rows": [
            {"layer": "conv1", "weights": "0.5K", "kept %": 66, "weight bits P+Q": 8, "weight bits P+Q+H": 7.2,
             "index bits P+Q": 5, "index bits P+Q+H": 1.5, "rate P+Q %": 78.5, "rate P+Q+H %": 67.45},
            {"layer": "conv2", "weights": "25K", "kept %": 12, "weight bits P+Q": 8, "weight bits P+Q+H": 7.2,
             "index bits P+Q": 5, "index bits P+Q+H": 3.9, "rate P+Q %": 6.0, "rate P+Q+H %": 5.28},
            {"layer": "ip1", "weights": "400K", "kept %": 8, "weight bits P+Q": 5, "weight bits P+Q+H": 4.5,
             "index bits P+Q": 5, "index bits P+Q+H": 4.5, "rate P+Q %": 2.7, "rate P+Q+H %": 2.45},
            {"layer": "ip2", "weights": "5K", "kept %": 19, "weight bits P+Q": 5, "weight bits P+Q+H": 5.2,
             "index bits P+Q": 5, "index bits P+Q+H": 3.7, "rate P+Q %": 6.9, "rate P+Q+H %": 6.13},
            {"layer": "total", "weights": "431K", "kept %": 8, "weight bits P+Q": 5.3, "weight bits P+Q+H": 4.1,
             "index bits P+Q": 5, "index bits P+Q+H": 4.4, "rate P+Q %": 3.05, "rate P+Q+H %": 2.55},
        ],
        "size_kb": (1720, 44), "ratio": 39, "top1_error_%": (0.80, 0.74),
    },
}


# ----------------------------------------------------------------------------- stage 1: pruning

def prunable_layers(model: nn.Module) -> dict:
    """``{name: module}`` of the model's Linear and Conv2d layers, the ones Deep Compression prunes."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    layers = {name: m for name, m in model.named_modules() if isinstance(m, PRUNABLE)}
    if not layers:
        raise ValueError(f"{type(model).__name__} has no prunable layers (nn.Linear or nn.Conv2d)")
    return layers


def _per_layer(value, layers: dict, name: str) -> dict:
    """A number for every layer, or a dict naming some layers (the others are left alone)."""
    if isinstance(value, dict):
        unknown = set(value) - set(layers)
        if unknown:
            raise ValueError(f"{name} names unknown layers {sorted(unknown)}; the model has {sorted(layers)}")
        return dict(value)
    return {layer: value for layer in layers}


@torch.no_grad()
def prune(model: nn.Module, threshold=None, sparsity=None) -> dict:
    """Zero the small weights of every Linear/Conv2d layer in place; return ``{layer: bool mask}``.

    ``threshold``: weights with ``|w| < threshold`` go (the paper sets it to a quality factor times
    the layer's standard deviation). ``sparsity``: the fraction of weights to remove, in [0, 1),
    smallest magnitudes first. Either may be a number (every layer) or a dict ``{layer: value}``;
    layers the dict does not name stay dense. Biases are never pruned.
    """
    layers = prunable_layers(model)
    if (threshold is None) == (sparsity is None):
        raise ValueError("give exactly one of threshold= or sparsity=")
    masks = {}
    if threshold is not None:
        for name, t in _per_layer(threshold, layers, "threshold").items():
            check_scalar(t, f"threshold[{name}]", numbers.Real, low=0)
            masks[name] = layers[name].weight.abs() >= t
    else:
        for name, s in _per_layer(sparsity, layers, "sparsity").items():
            check_scalar(s, f"sparsity[{name}]", numbers.Real, low=0, high=1, include_high=False)
            w = layers[name].weight.abs().flatten()
            n_prune = int(round(s * w.numel()))
            mask = torch.ones(w.numel(), dtype=torch.bool)
            # A stable sort breaks ties by position, so exactly n_prune weights go, deterministically.
            mask[torch.sort(w, stable=True).indices[:n_prune]] = False
            masks[name] = mask.view_as(layers[name].weight)
    for name, layer in layers.items():
        masks.setdefault(name, torch.ones_like(layer.weight, dtype=torch.bool))
    apply_masks(model, masks)
    return masks


@torch.no_grad()
def apply_masks(model: nn.Module, masks: dict) -> None:
    """Set every pruned weight back to zero (run after each optimiser step while retraining)."""
    layers = prunable_layers(model)
    for name, mask in masks.items():
        layers[name].weight.mul_(mask.to(layers[name].weight.device))


def mask_hook(masks: dict):
    """A ``step_hook`` for ``train.fit`` that holds the pruning masks fixed during retraining."""
    return lambda model: apply_masks(model, masks)


def weights_kept(model: nn.Module) -> dict:
    """Fraction of nonzero weights per prunable layer, and ``"total"`` over all of them."""
    layers = prunable_layers(model)
    kept = {name: float((m.weight != 0).float().mean()) for name, m in layers.items()}
    n = sum(m.weight.numel() for m in layers.values())
    kept["total"] = sum(float((m.weight != 0).sum()) for m in layers.values()) / n
    return kept


# ----------------------------------------------------------------------------- stage 2: weight sharing

def _check_bits(bits, name="bits"):
    return check_scalar(bits, name, numbers.Integral, low=1, high=16)


def initial_centroids(weights, k: int, init: str = "linear", seed: int = 0) -> np.ndarray:
    """The paper's three initialisations of k centroids for 1-D weights (Fig. 4), sorted.

    linear: evenly spaced over [min, max]; random (Forgy): k weights drawn at random;
    density: evenly spaced on the CDF's y-axis, i.e. quantiles of the weights.
    """
    w = check_array(weights, "weights", ndim=1, min_rows=1).astype(np.float64)
    check_choice(init, "init", INITS)
    if init == "linear":
        c = np.linspace(w.min(), w.max(), k)
    elif init == "random":
        rng = np.random.default_rng(seed)
        c = rng.choice(w, size=k, replace=len(w) < k)
    else:
        c = np.quantile(w, np.linspace(0, 1, k))
    return np.sort(c)


def _nearest(sorted_centroids: np.ndarray, w: np.ndarray) -> np.ndarray:
    # In 1-D the nearest centroid is found by bisecting the midpoints between neighbours.
    return np.searchsorted((sorted_centroids[1:] + sorted_centroids[:-1]) / 2, w)


def kmeans_quantize(weights, bits: int, init: str = "linear", n_iter: int = 300, seed: int = 0,
                    reserve_zero: bool = False):
    """Share weights with 1-D k-means (Lloyd) over ``2**bits`` clusters; return ``(codebook, codes)``.

    ``codebook`` is a float32 tensor of the (sorted) centroids, ``codes`` an int64 tensor of the same
    shape as ``weights`` with ``codebook[codes]`` the quantised weights. With ``reserve_zero`` entry 0
    of the codebook is fixed at 0.0 (for pruned weights and filler entries) and the other
    ``2**bits - 1`` entries are clustered. A cluster that empties keeps its previous centroid.
    """
    _check_bits(bits)
    check_choice(init, "init", INITS)
    check_scalar(n_iter, "n_iter", numbers.Integral, low=1)
    w_in = weights.detach().cpu().numpy() if isinstance(weights, torch.Tensor) else weights
    arr = check_array(w_in, "weights")
    if arr.size == 0:
        raise ValueError("weights is empty: there is nothing to quantise (did pruning remove every weight?)")
    w = arr.astype(np.float64).ravel()
    k = 2 ** bits - (1 if reserve_zero else 0)
    if k < 1:
        raise ValueError("reserve_zero needs bits >= 1 so that one cluster is left for the weights")
    c = initial_centroids(w, k, init, seed)
    assign = _nearest(c, w)
    for _ in range(n_iter):
        sums = np.bincount(assign, weights=w, minlength=k)
        counts = np.bincount(assign, minlength=k)
        c = np.where(counts > 0, sums / np.maximum(counts, 1), c)
        c.sort()
        new = _nearest(c, w)
        if np.array_equal(new, assign):
            break
        assign = new
    codes = _nearest(c, w)
    if reserve_zero:
        c, codes = np.concatenate([[0.0], c]), codes + 1
    return torch.tensor(c, dtype=torch.float32), torch.tensor(codes.reshape(arr.shape), dtype=torch.int64)


def _as_bits_per_layer(bits, layers: dict) -> dict:
    out = _per_layer(bits, layers, "bits")
    missing = set(layers) - set(out)
    if missing:
        raise ValueError(f"bits must give every prunable layer a width; missing {sorted(missing)}")
    for name, b in out.items():
        _check_bits(b, f"bits[{name}]")
    return out


class SharedWeights(nn.Module):
    """A copy of ``model`` whose Linear/Conv2d weights are ``codebook[codes]``, with trainable codebooks.

    Each layer's nonzero weights are clustered by :func:`kmeans_quantize`; entry 0 of every codebook
    is the pruned weights' zero and never moves. The codes are buffers and never change, so training
    this module (e.g. with ``train.fit``) updates only the centroids and the biases. Autograd through
    ``codebook[codes]`` adds up the gradients of all weights sharing a centroid, which is exactly the
    paper's centroid update (Fig. 3): dL/dC_k = sum over {i : code_i = k} of dL/dW_i.
    """

    def __init__(self, model: nn.Module, bits, init: str = "linear", seed: int = 0):
        super().__init__()
        layers = prunable_layers(model)
        bits = _as_bits_per_layer(bits, layers)
        self.model = copy.deepcopy(model).cpu()
        self.layer_names = list(layers)
        self.bits = bits
        self.centroids = nn.ParameterDict()
        for name, layer in prunable_layers(self.model).items():
            w = layer.weight.detach()
            mask = w != 0
            codebook, kept_codes = kmeans_quantize(w[mask], bits[name], init, seed=seed, reserve_zero=True)
            codes = torch.zeros(w.shape, dtype=torch.int64)
            codes[mask] = kept_codes
            self.register_buffer(self._key(name, "codes"), codes)
            self.centroids[self._key(name)] = nn.Parameter(codebook[1:].clone())
            layer.weight.requires_grad_(False)  # replaced in forward; only its codebook learns

    @staticmethod
    def _key(name: str, suffix: str = "") -> str:
        return name.replace(".", "__") + (f"__{suffix}" if suffix else "")

    def codes(self, name: str) -> torch.Tensor:
        return getattr(self, self._key(name, "codes"))

    def codebook(self, name: str) -> torch.Tensor:
        centroids = self.centroids[self._key(name)]
        return torch.cat([centroids.new_zeros(1), centroids])

    def shared_weights(self) -> dict:
        return {f"{name}.weight": self.codebook(name)[self.codes(name)] for name in self.layer_names}

    def forward(self, x):
        return torch.func.functional_call(self.model, self.shared_weights(), (x,))

    @torch.no_grad()
    def export(self) -> nn.Module:
        """A plain copy of the model carrying the shared weights (at most ``2**bits`` values per layer)."""
        model = copy.deepcopy(self.model).cpu()
        layers = prunable_layers(model)
        for key, w in self.shared_weights().items():
            layers[key[:-len(".weight")]].weight.copy_(w)
            layers[key[:-len(".weight")]].weight.requires_grad_(True)
        return model.eval()


# ----------------------------------------------------------------------------- stage 3: Huffman coding

def _frequencies(frequencies) -> dict:
    if isinstance(frequencies, dict):
        items = dict(frequencies)
    else:
        counts = check_array(frequencies, "frequencies", ndim=1)
        items = dict(enumerate(counts.tolist()))
    for s, f in items.items():
        check_scalar(f, f"frequencies[{s!r}]", numbers.Real, low=0)
    items = {s: f for s, f in items.items() if f > 0}
    if not items:
        raise ValueError("frequencies must contain at least one positive count")
    return items


def huffman_lengths(frequencies) -> dict:
    """Optimal code length of each symbol with positive frequency (Huffman's merge of the two rarest)."""
    freq = _frequencies(frequencies)
    if len(freq) == 1:
        return {s: 1 for s in freq}  # one symbol still needs one bit per occurrence
    # The counter breaks ties deterministically and keeps heapq from comparing symbol lists.
    heap = [(f, i, [s]) for i, (s, f) in enumerate(sorted(freq.items(), key=lambda kv: repr(kv[0])))]
    heapq.heapify(heap)
    lengths = dict.fromkeys(freq, 0)
    tie = len(heap)
    while len(heap) > 1:
        f1, _, s1 = heapq.heappop(heap)
        f2, _, s2 = heapq.heappop(heap)
        for s in s1 + s2:
            lengths[s] += 1
        heapq.heappush(heap, (f1 + f2, tie, s1 + s2))
        tie += 1
    return lengths


def canonical_code(lengths: dict) -> dict:
    """The canonical prefix code for given lengths: a decoder needs only the lengths to rebuild it."""
    code, value, previous = {}, 0, None
    for s, n in sorted(lengths.items(), key=lambda kv: (kv[1], repr(kv[0]))):
        if previous is not None:
            value = (value + 1) << (n - previous)
        code[s] = format(value, f"0{n}b")
        previous = n
    return code


def huffman_code(frequencies) -> dict:
    """``{symbol: bitstring}``, an optimal prefix code for ``frequencies`` (dict or 1-D counts).

    Symbols with zero count get no code. The code is canonical, so storing each symbol's code
    length is enough to decode.
    """
    return canonical_code(huffman_lengths(frequencies))


def huffman_encode(symbols, code: dict):
    """Encode a sequence of symbols; return ``(data bytes, n_bits)`` (the last byte is zero-padded)."""
    try:
        bits = "".join(code[s] for s in symbols)
    except KeyError as err:
        raise ValueError(f"symbol {err.args[0]!r} has no code in this Huffman table") from None
    n_bits = len(bits)
    if n_bits == 0:
        return b"", 0
    padded = bits + "0" * (-n_bits % 8)
    return int(padded, 2).to_bytes(len(padded) // 8, "big"), n_bits


def huffman_decode(data: bytes, n_bits: int, code: dict) -> list:
    """Inverse of :func:`huffman_encode`: the symbols coded in the first ``n_bits`` bits of ``data``."""
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError(f"data must be bytes; got {type(data).__name__}")
    check_scalar(n_bits, "n_bits", numbers.Integral, low=0)
    if n_bits > 8 * len(data):
        raise ValueError(f"n_bits={n_bits} exceeds the {8 * len(data)} bits of data")
    if n_bits == 0:
        return []
    reverse = {bits: s for s, bits in code.items()}
    stream = format(int.from_bytes(data, "big"), f"0{8 * len(data)}b")[:n_bits] if data else ""
    out, start, longest = [], 0, max(map(len, reverse))
    for end in range(1, n_bits + 1):
        if end - start > longest:
            raise ValueError(f"bits {start}..{end} match no code word: data and code do not belong together")
        symbol = reverse.get(stream[start:end])
        if symbol is not None:
            out.append(symbol)
            start = end
    if start != n_bits:
        raise ValueError("the bit stream ends in the middle of a code word")
    return out


# ----------------------------------------------------------------------------- sparse format + accounting

def relative_indices(weight: torch.Tensor, index_bits: int):
    """Sparse relative-index form of a layer: ``(gaps, values)`` with filler zeros (paper Fig. 2).

    Entry i stores ``gaps[i]`` zeros skipped since the previous entry, then ``values[i]``. When a
    run of zeros is longer than ``2**index_bits - 1`` a filler entry with the longest gap and a zero
    value is inserted, so every gap fits in ``index_bits`` bits.
    """
    check_scalar(index_bits, "index_bits", numbers.Integral, low=1, high=16)
    if not isinstance(weight, torch.Tensor):
        raise TypeError(f"weight must be a torch.Tensor; got {type(weight).__name__}")
    flat = weight.detach().flatten().cpu()
    positions = torch.nonzero(flat).flatten().numpy()
    longest = 2 ** index_bits - 1
    gaps = np.diff(positions, prepend=-1) - 1
    fillers = gaps // (longest + 1)
    # Each filler covers `longest` zeros plus its own slot; the real entry stores what is left.
    n_entries = len(positions) + int(fillers.sum())
    out_gaps = np.full(n_entries, longest, dtype=np.int64)
    is_value = np.zeros(n_entries, dtype=bool)
    slots = np.cumsum(fillers + 1) - 1
    out_gaps[slots] = gaps - fillers * (longest + 1)
    is_value[slots] = True
    values = np.zeros(n_entries, dtype=np.float32)
    values[slots] = flat.numpy()[positions]
    return out_gaps, values, is_value


def dense_from_relative(gaps, values, shape) -> torch.Tensor:
    """Inverse of :func:`relative_indices` (the fillers' zeros land on zeros)."""
    n = math.prod(shape)
    positions = np.cumsum(np.asarray(gaps, dtype=np.int64) + 1) - 1
    if len(positions) and positions[-1] >= n:
        raise ValueError(f"the entries run past the end of a layer of shape {tuple(shape)}")
    flat = np.zeros(n, dtype=np.float32)
    flat[positions] = values
    return torch.from_numpy(flat).view(*shape)


@dataclass
class LayerCode:
    """Everything stored for one layer, and its exact size in bits."""
    name: str
    shape: tuple
    bits: int
    index_bits: int
    codebook: np.ndarray     # float32, entry 0 is the zero of the fillers
    codes: np.ndarray        # one code per stored entry
    gaps: np.ndarray         # one gap per stored entry
    bias: np.ndarray         # float32
    n_kept: int

    @property
    def n_weights(self):
        return math.prod(self.shape)

    @property
    def n_entries(self):
        return len(self.codes)

    def huffman_tables(self):
        return (huffman_code(np.bincount(self.codes, minlength=2 ** self.bits)) if self.n_entries else {},
                huffman_code(np.bincount(self.gaps, minlength=2 ** self.index_bits)) if self.n_entries else {})

    def streams(self, huffman: bool):
        """The bytes of the weight-code and the index streams, and their lengths in bits."""
        if huffman:
            code_table, gap_table = self.huffman_tables()
            return huffman_encode(self.codes.tolist(), code_table), huffman_encode(self.gaps.tolist(), gap_table)
        return _pack(self.codes, self.bits), _pack(self.gaps, self.index_bits)


def _pack(values: np.ndarray, width: int):
    """Fixed-width big-endian bit packing: ``(bytes, n_bits)``."""
    if len(values) == 0:
        return b"", 0
    bits = ((values[:, None] >> np.arange(width - 1, -1, -1)) & 1).astype(np.uint8).ravel()
    return np.packbits(bits).tobytes(), len(bits)



def encode_layer(name: str, layer: nn.Module, bits: int, index_bits: int) -> LayerCode:
    """Turn a pruned, weight-shared layer into its stored form (codebook, codes, gaps, bias)."""
    _check_bits(bits)
    w = layer.weight.detach().cpu().float()
    values = torch.unique(w[w != 0]).numpy()
    if len(values) > 2 ** bits - 1:
        raise ValueError(f"layer {name} has {len(values)} distinct nonzero weights, more than the "
                         f"{2 ** bits - 1} a {bits}-bit codebook holds; quantise it first (SharedWeights)")
    codebook = np.concatenate([[0.0], values]).astype(np.float32)
    gaps, entry_values, _ = relative_indices(w, index_bits)
    codes = np.searchsorted(codebook[1:], entry_values) + 1
    codes[entry_values == 0] = 0
    bias = (layer.bias.detach().cpu().float().numpy() if layer.bias is not None else np.zeros(0, np.float32))
    return LayerCode(name, tuple(w.shape), int(bits), int(index_bits), codebook, codes.astype(np.int64),
                     gaps, bias, int((w != 0).sum()))


def encode_model(model: nn.Module, bits, index_bits=5) -> list:
    layers = prunable_layers(model)
    bits = _as_bits_per_layer(bits, layers)
    index_bits = _per_layer(index_bits, layers, "index_bits")
    others = {k for k, _ in model.named_parameters()} - {f"{n}.{p}" for n in layers for p in ("weight", "bias")}
    if others:
        raise ValueError(f"the compressed format stores only Linear/Conv2d layers; {sorted(others)} are not")
    return [encode_layer(name, layer, bits[name], index_bits.get(name, 5)) for name, layer in layers.items()]


def _layer_bytes(lc: LayerCode, huffman: bool) -> dict:
    """Bytes per part of a stored layer; each stream is padded to whole bytes, exactly as on disk."""
    (_, wbits), (_, ibits) = lc.streams(huffman)
    return {"weights": math.ceil(wbits / 8), "index": math.ceil(ibits / 8),
            "codebook": 4 * (len(lc.codebook) - 1),  # the reserved zero is implied, not stored
            "bias": 4 * len(lc.bias),
            # Canonical Huffman tables: one byte (a code length) per symbol of each alphabet.
            "tables": (2 ** lc.bits + 2 ** lc.index_bits) if huffman else 0,
            "weight_bits": wbits, "index_bits": ibits}


def compression_report(model: nn.Module, bits, index_bits=5) -> list:
    """Per-layer table with the columns of the paper's Tables 2 and 3, plus a ``"total"`` row.

    ``model`` must be pruned and weight-shared (at most ``2**bits - 1`` distinct nonzero weights per
    layer). Weight/index bits are per stored entry (kept weights plus fillers); compress rates are
    stored bytes over the dense 32-bit bytes of the layer's weights and biases; sizes count codebooks,
    biases and, for P+Q+H, the Huffman tables.
    """
    rows, tot = [], {"n": 0, "bias": 0, "kept": 0, "entries": 0, "pq_w": 0, "pq_i": 0, "h_w": 0, "h_i": 0,
                     "pq_bytes": 0, "h_bytes": 0}
    for lc in encode_model(model, bits, index_bits):
        pq, h = _layer_bytes(lc, huffman=False), _layer_bytes(lc, huffman=True)
        dense = 4 * (lc.n_weights + len(lc.bias))
        size = lambda d: d["weights"] + d["index"] + d["codebook"] + d["bias"] + d["tables"]  # noqa: E731
        entries = max(lc.n_entries, 1)
        rows.append({"layer": lc.name, "weights": lc.n_weights, "kept %": 100 * lc.n_kept / lc.n_weights,
                     "fillers": lc.n_entries - lc.n_kept,
                     "weight bits P+Q": lc.bits, "weight bits P+Q+H": h["weight_bits"] / entries,
                     "index bits P+Q": lc.index_bits, "index bits P+Q+H": h["index_bits"] / entries,
                     "rate P+Q %": 100 * size(pq) / dense, "rate P+Q+H %": 100 * size(h) / dense,
                     "dense bytes": dense, "P+Q bytes": size(pq), "P+Q+H bytes": size(h)})
        for key, value in [("n", lc.n_weights), ("bias", len(lc.bias)), ("kept", lc.n_kept),
                           ("entries", lc.n_entries), ("pq_w", pq["weight_bits"]), ("pq_i", pq["index_bits"]),
                           ("h_w", h["weight_bits"]), ("h_i", h["index_bits"]),
                           ("pq_bytes", size(pq)), ("h_bytes", size(h))]:
            tot[key] += value
    dense = 4 * (tot["n"] + tot["bias"])
    entries = max(tot["entries"], 1)
    rows.append({"layer": "total", "weights": tot["n"], "kept %": 100 * tot["kept"] / tot["n"],
                 "fillers": tot["entries"] - tot["kept"],
                 "weight bits P+Q": tot["pq_w"] / entries, "weight bits P+Q+H": tot["h_w"] / entries,
                 "index bits P+Q": tot["pq_i"] / entries, "index bits P+Q+H": tot["h_i"] / entries,
                 "rate P+Q %": 100 * tot["pq_bytes"] / dense, "rate P+Q+H %": 100 * tot["h_bytes"] / dense,
                 "dense bytes": dense, "P+Q bytes": tot["pq_bytes"], "P+Q+H bytes": tot["h_bytes"],
                 "ratio P+Q": dense / tot["pq_bytes"], "ratio P+Q+H": dense / tot["h_bytes"]})
    return rows


def format_report(rows: list, paper: str | None = None) -> str:
    """The report as a plain-text table, optionally with the paper's row under each of ours."""
    if paper is not None:
        check_choice(paper, "paper", sorted(PAPER_TABLES))
    cols = ["layer", "weights", "kept %", "weight bits P+Q", "weight bits P+Q+H", "index bits P+Q",
            "index bits P+Q+H", "rate P+Q %", "rate P+Q+H %"]
    paper_rows = PAPER_TABLES[paper]["rows"] if paper else [None] * len(rows)

    def fmt(v):
        return f"{v:.2f}" if isinstance(v, float) else str(v)
    lines = [cols]
    for ours, theirs in zip(rows, paper_rows):
        lines.append([fmt(ours[c]) for c in cols])
        if theirs is not None:
            lines.append([f"  paper {theirs['layer']}"] + [fmt(theirs[c]) for c in cols[1:]])
    widths = [max(len(line[i]) for line in lines) for i in range(len(cols))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(line, widths)) for line in lines)


# ----------------------------------------------------------------------------- the file

_MAGIC = b"DEEPCOMP1\n"


def save_compressed(model: nn.Module, path, bits, index_bits=5) -> dict:
    """Write the Huffman-coded sparse model to ``path``; return ``{"header_bytes", "payload_bytes"}``.

    The file is a small header (magic, a JSON description of the layers) followed by each layer's
    codebook, bias, Huffman tables and the two bit streams, byte for byte what
    :func:`compression_report` counts as P+Q+H bytes.
    """
    payload, meta = io.BytesIO(), []
    for lc in encode_model(model, bits, index_bits):
        (wdata, wbits), (idata, ibits) = lc.streams(huffman=True)
        code_table, gap_table = lc.huffman_tables()
        code_lengths = np.zeros(2 ** lc.bits, np.uint8)
        gap_lengths = np.zeros(2 ** lc.index_bits, np.uint8)
        for s, c in code_table.items():
            code_lengths[s] = len(c)
        for s, c in gap_table.items():
            gap_lengths[s] = len(c)
        for part in (lc.codebook[1:].astype("<f4"), lc.bias.astype("<f4"), code_lengths, gap_lengths):
            payload.write(part.tobytes())
        payload.write(wdata)
        payload.write(idata)
        meta.append({"name": lc.name, "shape": list(lc.shape), "bits": lc.bits, "index_bits": lc.index_bits,
                     "codebook": len(lc.codebook) - 1, "bias": len(lc.bias), "weight_bits": wbits,
                     "index_bits_total": ibits})
    text = json.dumps(meta, separators=(",", ":")).encode()
    header = _MAGIC + struct.pack("<I", len(text)) + text
    atomic_write_bytes(path, header + payload.getvalue())
    return {"header_bytes": len(header), "payload_bytes": len(payload.getvalue())}


def load_compressed(path) -> dict:
    """Read a file written by :func:`save_compressed`; return the dense ``state_dict`` it encodes."""
    raw = Path(path).read_bytes()
    if not raw.startswith(_MAGIC):
        raise ValueError(f"{path} is not a Deep Compression file (bad magic)")
    (n,) = struct.unpack("<I", raw[len(_MAGIC):len(_MAGIC) + 4])
    offset = len(_MAGIC) + 4
    meta = json.loads(raw[offset:offset + n])
    offset += n
    state = {}

    def take(n_bytes):
        nonlocal offset
        chunk = raw[offset:offset + n_bytes]
        if len(chunk) != n_bytes:
            raise ValueError(f"{path} is truncated")
        offset += n_bytes
        return chunk
    for m in meta:
        codebook = np.concatenate([[0.0], np.frombuffer(take(4 * m["codebook"]), "<f4")]).astype(np.float32)
        bias = np.frombuffer(take(4 * m["bias"]), "<f4").copy()
        code_lengths = np.frombuffer(take(2 ** m["bits"]), np.uint8)
        gap_lengths = np.frombuffer(take(2 ** m["index_bits"]), np.uint8)
        code_table = canonical_code({s: int(L) for s, L in enumerate(code_lengths) if L})
        gap_table = canonical_code({s: int(L) for s, L in enumerate(gap_lengths) if L})
        codes = huffman_decode(take(math.ceil(m["weight_bits"] / 8)), m["weight_bits"], code_table)
        gaps = huffman_decode(take(math.ceil(m["index_bits_total"] / 8)), m["index_bits_total"], gap_table)
        state[f"{m['name']}.weight"] = dense_from_relative(gaps, codebook[np.asarray(codes, dtype=np.int64)],
                                                           m["shape"])
        if m["bias"]:
            state[f"{m['name']}.bias"] = torch.from_numpy(bias)
    if offset != len(raw):
        raise ValueError(f"{path} has {len(raw) - offset} unexpected trailing bytes")
    return state


# ----------------------------------------------------------------------------- the whole pipeline

def validation_split(X, y, fraction: float = 0.1):
    """Hold out ``fraction`` of every class, evenly spread through it: ``(X_fit, y_fit), (X_val, y_val)``.

    Deterministic (no random draw), so the held-out digits are the same on every machine.
    """
    check_scalar(fraction, "fraction", numbers.Real, low=0, high=1, include_low=False, include_high=False)
    if not isinstance(X, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise TypeError(f"X and y must be torch tensors; got {type(X).__name__} and {type(y).__name__}")
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same length; got {len(X)} and {len(y)}")
    held_out = torch.zeros(len(y), dtype=torch.bool)
    for c in torch.unique(y):
        members = torch.nonzero(y == c).flatten()
        n_val = int(round(fraction * len(members)))
        if not 0 < n_val < len(members):
            raise ValueError(f"class {int(c)} has {len(members)} examples: too few to hold out {fraction:.0%}")
        held_out[members[torch.linspace(0, len(members) - 1, n_val).round().long()]] = True
    return (X[~held_out], y[~held_out]), (X[held_out], y[held_out])


def _check_schedule(schedule, name: str) -> list:
    """A stage's learning-rate schedule: ``[(epochs, lr), ...]``, run one after the other."""
    if not isinstance(schedule, (list, tuple)) or not schedule:
        raise TypeError(f"{name} must be a non-empty list of (epochs, lr) pairs; got {schedule!r}")
    for step in schedule:
        if not isinstance(step, (list, tuple)) or len(step) != 2:
            raise TypeError(f"{name} must be a list of (epochs, lr) pairs; got the entry {step!r}")
        check_scalar(step[0], f"{name} epochs", numbers.Integral, low=0)
        check_scalar(step[1], f"{name} lr", numbers.Real, low=0, include_low=False)
    return [[int(e), float(lr)] for e, lr in schedule]


def fit_schedule(model: nn.Module, X, y, schedule, batch_size: int = 64, seed: int = 0, step_hook=None,
                 desc: str = "training") -> None:
    """``train.fit`` once per ``(epochs, lr)`` step of ``schedule``, each with a fresh Adam.

    A short last step at a tenth of the rate settles Adam's noise: on the validation digits the
    accuracy after a constant rate jumps by a point from one epoch to the next.
    """
    from .train import TrainConfig, fit
    for i, (epochs, lr) in enumerate(_check_schedule(schedule, "schedule")):
        if epochs:
            fit(model, X, y, TrainConfig(model=type(model).__name__, epochs=epochs, lr=lr, batch_size=batch_size,
                                         seed=seed + i), step_hook=step_hook, desc=f"{desc} (lr {lr:g})")


def _fast_layout(model: nn.Module) -> nn.Module:
    # Channels-last convolutions train LeNet-5 1.5x faster on CPU (measured); the numbers differ
    # from the default layout only by float rounding.
    if any(isinstance(m, nn.Conv2d) for m in model.modules()):
        model.to(memory_format=torch.channels_last)
    return model


# The course's settings, chosen on a validation split of the training digits (never on the test
# set) by benchmarks/compression.py --tune; see the notebook for how. Schedules are (epochs, lr) steps.
PIPELINES = {
    "lenet300100": {"dense_schedule": [(12, 2e-3), (2, 2e-4)], "sparsity": {"fc1": 0.92, "fc2": 0.91, "fc3": 0.74},
                    "prune_schedule": [(4, 1e-3), (1, 1e-4)], "bits": {"fc1": 3, "fc2": 4, "fc3": 4},
                    "index_bits": 5, "quant_schedule": [(2, 1e-4)]},
    "lenet5": {"dense_schedule": [(4, 2e-3), (1, 2e-4)],
               "sparsity": {"conv1": 0.34, "conv2": 0.88, "fc1": 0.94, "fc2": 0.81},
               "prune_schedule": [(4, 1e-3), (1, 1e-4)], "bits": {"conv1": 8, "conv2": 8, "fc1": 4, "fc2": 8},
               "index_bits": 5, "quant_schedule": [(1, 1e-4)]},
}


DATASETS = ("mnist", "fashion_mnist", "full")


def load_dataset(dataset: str = "mnist", verbose: bool = True):
    """``((X_train, y_train), (X_test, y_test), name)`` for :func:`deep_compression`'s ``dataset=``.

    ``"mnist"``: what ``data.mnist`` gives (full MNIST when fetched, else the 4,000/1,000 bundled
    digits). ``"fashion_mnist"``: the full 60,000/10,000 Fashion-MNIST (Debian's
    ``dataset-fashion-mnist`` or a fetched copy). ``"full"``: full MNIST when fetched, otherwise full
    Fashion-MNIST; ``name`` says which one came.
    """
    from . import fetched
    from .data import DEBIAN_FASHION_MNIST, fashion_mnist, mnist
    check_choice(dataset, "dataset", DATASETS)
    if dataset == "mnist" or (dataset == "full" and fetched.is_fetched("mnist")):
        from . import train
        name = "mnist (full)" if fetched.is_fetched("mnist") else "mnist (bundled)"
        if train.DATASETS["mnist"] is not train._mnist:   # the registry's loader was replaced (the tests do)
            return (*train.DATASETS["mnist"](), name)
        return mnist("train", verbose=verbose), mnist("test", verbose=verbose), name
    if not ((DEBIAN_FASHION_MNIST / "train-images-idx3-ubyte.gz").is_file()
            or (DEBIAN_FASHION_MNIST / "train-images-idx3-ubyte").is_file()
            or fetched.is_fetched("fashion_mnist")):
        raise ValueError(f"dataset={dataset!r} needs full MNIST (python data_scripts/fetch.py mnist) or the full "
                         "Fashion-MNIST (apt-get install dataset-fashion-mnist, or python data_scripts/fetch.py "
                         "fashion_mnist); neither is on this machine")
    return fashion_mnist("train", verbose=verbose), fashion_mnist("test", verbose=verbose), "fashion_mnist (full)"


# The paper's own per-layer settings (Tables 2 and 3): the share of weights kept and the codebook bits,
# with 5-bit gaps. PIPELINES keeps the pruning rates (LeNet-5's fc1 aside) and uses smaller codebooks.
PAPER_SETTINGS = {
    "lenet300100": {"sparsity": {"fc1": 0.92, "fc2": 0.91, "fc3": 0.74}, "bits": {"fc1": 6, "fc2": 6, "fc3": 6},
                    "index_bits": 5},
    "lenet5": {"sparsity": {"conv1": 0.34, "conv2": 0.88, "fc1": 0.92, "fc2": 0.81},
               "bits": {"conv1": 8, "conv2": 8, "fc1": 5, "fc2": 5}, "index_bits": 5},
}


def deep_compression(model: str = "lenet300100", dense_schedule=((10, 1e-3),), sparsity=0.9,
                     prune_schedule=((3, 1e-3),), bits=5, index_bits=5, init: str = "linear",
                     quant_schedule=((1, 1e-4),), batch_size: int = 64, seed: int = 0,
                     validation: float | None = None, verbose: bool = True, dataset: str = "mnist") -> dict:
    """Dense -> prune + retrain (mask held) -> share weights + retrain centroids, each stage cached.

    The three ``*_schedule`` arguments are the stages' ``(epochs, lr)`` steps (Adam). With
    ``validation`` (a fraction) that share of every digit class is held out of the training images
    and the accuracies are measured on it, for choosing settings; otherwise the pipeline trains on
    all training images and is evaluated on the test set. ``dataset`` is one of :data:`DATASETS`
    (see :func:`load_dataset`; ``"full"`` is full MNIST when fetched, else full Fashion-MNIST).
    Returns the three models, their accuracies, each stage's training seconds (as measured when it
    was first computed), the dataset used and the :func:`compression_report` of the compressed model.
    """
    from .models import build_model
    from .train import accuracy, seed_everything

    check_choice(model, "model", sorted(PIPELINES))
    dense_schedule = _check_schedule(dense_schedule, "dense_schedule")
    prune_schedule = _check_schedule(prune_schedule, "prune_schedule")
    quant_schedule = _check_schedule(quant_schedule, "quant_schedule")
    (X, y), (X_eval, y_eval), data_name = load_dataset(dataset, verbose=verbose)
    if validation is not None:
        (X, y), (X_eval, y_eval) = validation_split(X, y, validation)
    key = {"model": model, "dense": dense_schedule, "batch_size": batch_size, "seed": seed, "n_train": len(X),
           "validation": validation}
    if data_name != "mnist (bundled)":   # the bundled digits keep the keys they always had
        key["dataset"] = data_name

    def stage(name, key, compute):
        payload = cache.cached(f"dc-{name}-{model}", key, compute, verbose=verbose)
        net = build_model(model)
        net.load_state_dict(payload["state_dict"])
        return net.eval(), payload["seconds"]

    @one_thread()
    def train_dense():
        start = time.perf_counter()
        seed_everything(seed)  # the initial weights are part of what the key determines
        net = _fast_layout(build_model(model))
        fit_schedule(net, X, y, dense_schedule, batch_size, seed, desc="dense")
        return {"state_dict": net.cpu().state_dict(), "seconds": time.perf_counter() - start}

    dense_net, dense_seconds = stage("dense", key, train_dense)
    key = {**key, "sparsity": sparsity, "prune": prune_schedule}

    @one_thread()
    def prune_and_retrain():
        start = time.perf_counter()
        net = _fast_layout(copy.deepcopy(dense_net))
        masks = prune(net, sparsity=sparsity)
        fit_schedule(net, X, y, prune_schedule, batch_size, seed, step_hook=mask_hook(masks), desc="retrain pruned")
        return {"state_dict": net.cpu().state_dict(), "seconds": time.perf_counter() - start}

    pruned, pruned_seconds = stage("pruned", key, prune_and_retrain)
    key = {**key, "bits": bits, "index_bits": index_bits, "init": init, "quant": quant_schedule}

    @one_thread()
    def share_and_retrain():
        start = time.perf_counter()
        shared = SharedWeights(pruned, bits, init=init, seed=seed)
        fit_schedule(shared, X, y, quant_schedule, batch_size, seed, desc="retrain centroids")
        return {"state_dict": shared.export().state_dict(), "seconds": time.perf_counter() - start}

    compressed, compressed_seconds = stage("shared", key, share_and_retrain)
    models = {"dense": dense_net, "pruned": pruned, "compressed": compressed}
    with one_thread():
        acc = {k: accuracy(m, X_eval, y_eval) for k, m in models.items()}
    return {**models, "accuracy": acc, "evaluated_on": "test" if validation is None else f"validation ({len(y_eval)})",
            "seconds": {"dense": dense_seconds, "pruned": pruned_seconds, "compressed": compressed_seconds},
            "report": compression_report(compressed, bits, index_bits), "bits": bits, "index_bits": index_bits,
            "dataset": data_name, "n_train": len(X), "n_eval": len(X_eval)}


# ----------------------------------------------------------------------------- controls for each stage

def sparse_bytes(model: nn.Module, index_bits: int = 5, value_bits: int = 32) -> int:
    """Bytes of the model in relative-index form with ``value_bits``-bit weights (no codebook, no Huffman).

    Pruning alone: every stored entry (kept weights and fillers) is a ``value_bits`` float plus an
    ``index_bits`` gap; 32-bit biases. Each layer's two streams are padded to whole bytes.
    """
    check_scalar(index_bits, "index_bits", numbers.Integral, low=1, high=16)
    check_scalar(value_bits, "value_bits", numbers.Integral, low=1, high=64)
    total = 0
    for layer in prunable_layers(model).values():
        gaps, _, _ = relative_indices(layer.weight, index_bits)
        total += math.ceil(len(gaps) * value_bits / 8) + math.ceil(len(gaps) * index_bits / 8)
        total += 4 * (layer.bias.numel() if layer.bias is not None else 0)
    return total


def random_masks(model: nn.Module, sparsity, seed: int = 0) -> dict:
    """Masks that remove a random ``round(sparsity * n)`` weights of each layer (the control for magnitude).

    Same per-layer counts as :func:`prune` with the same ``sparsity``; which weights go is drawn
    with ``train.run_seed(seed)``, so it moves with the course's seed offset.
    """
    from .train import run_seed
    layers = prunable_layers(model)
    generator = torch.Generator().manual_seed(run_seed(seed))
    masks = {}
    for name, s in _per_layer(sparsity, layers, "sparsity").items():
        check_scalar(s, f"sparsity[{name}]", numbers.Real, low=0, high=1, include_high=False)
        n = layers[name].weight.numel()
        mask = torch.ones(n, dtype=torch.bool)
        mask[torch.randperm(n, generator=generator)[:int(round(s * n))]] = False
        masks[name] = mask.view_as(layers[name].weight)
    for name, layer in layers.items():
        masks.setdefault(name, torch.ones_like(layer.weight, dtype=torch.bool))
    return masks


def general_purpose_bytes(model: nn.Module, bits, index_bits=5) -> dict:
    """The fixed-width P+Q streams squeezed by zlib (level 9) and lzma (preset 9) instead of Huffman.

    The trivial baseline for stage 3: codebooks and biases are counted as in
    :func:`compression_report`; each layer's code and gap streams are compressed separately.
    """
    import lzma
    import zlib
    out = {"zlib": 0, "lzma": 0}
    for lc in encode_model(model, bits, index_bits):
        (wdata, _), (idata, _) = lc.streams(huffman=False)
        fixed = 4 * (len(lc.codebook) - 1) + 4 * len(lc.bias)
        out["zlib"] += fixed + len(zlib.compress(wdata, 9)) + len(zlib.compress(idata, 9))
        out["lzma"] += fixed + len(lzma.compress(wdata, preset=9)) + len(lzma.compress(idata, preset=9))
    return out


def stage_ablation(model: str = "lenet300100", settings: dict | None = None, dataset: str = "mnist",
                   seed: int = 0, verbose: bool = True, keep_models: bool = False) -> list:
    """Size, ratio and test accuracy after each stage, with a control beside each one.

    Rows: the dense net; magnitude- and random-pruned at the same per-layer sparsity, each before
    and after retraining with the mask held (the same schedule); quantised before and after the
    centroids are retrained; the P+Q streams at fixed width, squeezed by zlib and lzma, and
    Huffman-coded; and the dense net trained on for as many epochs as pruning and quantisation
    added (no pruning). Sizes of pruned rows are :func:`sparse_bytes` (32-bit values); quantised rows
    are :func:`compression_report`'s. The two extra trainings are cached like the pipeline's stages.
    With ``keep_models=True`` every row also carries its network under ``"model"`` (to compare the
    rows' predictions, not only their accuracies).
    """
    from .models import build_model
    from .train import accuracy
    if not isinstance(keep_models, bool):
        raise TypeError(f"keep_models must be True or False, got {keep_models!r} ({type(keep_models).__name__})")
    settings = dict(PIPELINES[model] if settings is None else settings)
    run = deep_compression(model, seed=seed, verbose=verbose, dataset=dataset, **settings)
    (X, y), (X_test, y_test), _ = load_dataset(dataset, verbose=False)
    sparsity, bits, index_bits = settings["sparsity"], settings["bits"], settings.get("index_bits", 5)
    prune_schedule = _check_schedule(settings["prune_schedule"], "prune_schedule")
    quant_schedule = _check_schedule(settings["quant_schedule"], "quant_schedule")
    key = {"model": model, "settings": json.loads(json.dumps(settings)), "seed": seed, "dataset": run["dataset"]}
    batch_size = 64

    def trained(name, compute):
        payload = cache.cached(f"dc-ablation-{name}-{model}", key, compute, verbose=verbose)
        net = build_model(model)
        net.load_state_dict(payload["state_dict"])
        return net.eval()

    @one_thread()
    def random_retrained():
        net = _fast_layout(copy.deepcopy(run["dense"]))
        masks = random_masks(net, sparsity, seed)
        apply_masks(net, masks)
        fit_schedule(net, X, y, prune_schedule, batch_size, seed, step_hook=mask_hook(masks), desc="retrain random")
        return {"state_dict": net.cpu().state_dict()}

    @one_thread()
    def dense_longer():
        net = _fast_layout(copy.deepcopy(run["dense"]))
        fit_schedule(net, X, y, prune_schedule + quant_schedule, batch_size, seed, desc="dense, more epochs")
        return {"state_dict": net.cpu().state_dict()}

    magnitude = copy.deepcopy(run["dense"])
    prune(magnitude, sparsity=sparsity)
    random_pruned = copy.deepcopy(run["dense"])
    apply_masks(random_pruned, random_masks(random_pruned, sparsity, seed))
    random_after = trained("random", random_retrained)
    quantised = SharedWeights(run["pruned"], bits, init=settings.get("init", "linear"), seed=seed).export()
    total = run["report"][-1]
    squeezed = general_purpose_bytes(run["compressed"], bits, index_bits)
    epochs = {k: sum(e for e, _ in _check_schedule(settings[k], k))
              for k in ("dense_schedule", "prune_schedule", "quant_schedule")}
    n_dense, n_prune, n_quant = epochs["dense_schedule"], epochs["prune_schedule"], epochs["quant_schedule"]
    rows = [
        ("dense, 32-bit", "dense", total["dense bytes"], run["dense"], n_dense),
        ("dense, trained as long as the whole pipeline", "control", total["dense bytes"],
         trained("dense-longer", dense_longer), n_dense + n_prune + n_quant),
        ("magnitude-pruned, not retrained", "P", sparse_bytes(magnitude, index_bits), magnitude, n_dense),
        ("random-pruned, same per-layer sparsity, not retrained", "control", sparse_bytes(random_pruned, index_bits),
         random_pruned, n_dense),
        ("magnitude-pruned, retrained with the mask held", "P", sparse_bytes(run["pruned"], index_bits),
         run["pruned"], n_dense + n_prune),
        ("random-pruned, retrained with the mask held", "control", sparse_bytes(random_after, index_bits),
         random_after, n_dense + n_prune),
        ("quantised, centroids not retrained (fixed width)", "P+Q", total["P+Q bytes"], quantised, n_dense + n_prune),
        ("quantised, centroids retrained (fixed width)", "P+Q", total["P+Q bytes"], run["compressed"],
         n_dense + n_prune + n_quant),
        ("P+Q streams squeezed by zlib", "control", squeezed["zlib"], run["compressed"], n_dense + n_prune + n_quant),
        ("P+Q streams squeezed by lzma", "control", squeezed["lzma"], run["compressed"], n_dense + n_prune + n_quant),
        ("Huffman-coded (P+Q+H)", "P+Q+H", total["P+Q+H bytes"], run["compressed"], n_dense + n_prune + n_quant),
    ]
    with one_thread():
        return [{"row": label, "stage": stage, "bytes": int(size), "ratio": total["dense bytes"] / size,
                 "accuracy": accuracy(net, X_test, y_test), "epochs": ep, **({"model": net} if keep_models else {})}
                for label, stage, size, net, ep in rows]


# ----------------------------------------------------------------------------- structure left by pruning

def dead_units(model: nn.Module, activation=torch.relu) -> dict:
    """Remove the hidden units of a pruned chain of linear layers that cannot change its output.

    A hidden unit with no kept outgoing weight feeds nothing: its incoming weights and bias are
    zeroed. A unit with no kept incoming weight outputs the constant ``activation(bias)``: that
    constant is added to the next layer's bias through the unit's outgoing weights, which are then
    zeroed. Repeats until nothing changes (removing one unit can leave another without inputs or
    outputs). ``model``'s prunable layers must be ``nn.Linear`` layers applied in order with
    ``activation`` between them, as in LeNet-300-100. Returns ``{"model": the slimmed copy,
    "no_input": {layer: count}, "no_output": {layer: count}`` (of ``model``'s hidden units, before
    any removal), ``"fed_no_output": {layer: stored weights into output-less units}``, ``"alive":
    {layer: units left}``, ``"weights_removed": int, "rounds": int}``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not callable(activation):
        raise TypeError(f"activation must be callable (e.g. torch.relu), got {type(activation).__name__}")
    names = list(prunable_layers(model))
    layers = prunable_layers(model)
    if len(names) < 2 or not all(isinstance(layers[n], nn.Linear) for n in names):
        raise ValueError(f"dead_units needs a chain of at least two nn.Linear layers; got "
                         f"{[type(layers[n]).__name__ for n in names]}")
    for a, b in zip(names, names[1:]):
        if layers[a].out_features != layers[b].in_features:
            raise ValueError(f"layer {a} has {layers[a].out_features} outputs but {b} takes {layers[b].in_features} "
                             f"inputs: not a chain of linear layers")
    slim = copy.deepcopy(model)
    layers = prunable_layers(slim)
    hidden = list(zip(names, names[1:]))            # (layer whose units these are, the layer they feed)

    def status():
        return {a: ((layers[a].weight != 0).sum(1) == 0, (layers[b].weight != 0).sum(0) == 0) for a, b in hidden}

    first = status()
    out = {"no_input": {a: int(no_in.sum()) for a, (no_in, _) in first.items()},
           "no_output": {a: int(no_out.sum()) for a, (_, no_out) in first.items()},
           "fed_no_output": {a: int((layers[a].weight[no_out] != 0).sum()) for a, (_, no_out) in first.items()}}
    before = sum(int((layers[n].weight != 0).sum()) for n in names)
    rounds = 0
    with torch.no_grad():
        while True:
            changed = False
            for a, b in hidden:
                no_in, no_out = status()[a]
                bias = layers[a].bias if layers[a].bias is not None else torch.zeros(layers[a].out_features)
                silent = no_out & ((layers[a].weight != 0).any(1) | (bias != 0))
                if silent.any():                     # feeds nothing: drop what goes in
                    layers[a].weight[silent] = 0
                    if layers[a].bias is not None:
                        layers[a].bias[silent] = 0
                    changed = True
                constant = no_in & (layers[b].weight != 0).any(0)
                if constant.any():                   # a constant: fold it into the next bias
                    value = activation(bias[constant])
                    if layers[b].bias is None:
                        raise ValueError(f"layer {b} has no bias to absorb the constant units of {a}")
                    layers[b].bias += layers[b].weight[:, constant] @ value
                    layers[b].weight[:, constant] = 0
                    changed = True
            if not changed:
                break
            rounds += 1
    final = status()
    out["alive"] = {a: int((~(no_in & no_out)).sum()) for a, (no_in, no_out) in final.items()}
    out["weights_removed"] = before - sum(int((layers[n].weight != 0).sum()) for n in names)
    return {"model": slim, **out, "rounds": rounds}


# ----------------------------------------------------------------------------- demo: sparsity vs accuracy

def pruning_curve(model: nn.Module, X, y, sparsities) -> np.ndarray:
    """Test accuracy of ``model`` with every layer pruned to each sparsity (no retraining)."""
    from .train import accuracy
    net = copy.deepcopy(model)
    layers = prunable_layers(net)
    weights = {name: layer.weight.detach().clone() for name, layer in layers.items()}
    # Sort each layer once; a sparsity is then a threshold at one position of the sorted magnitudes.
    ordered = {name: w.abs().flatten().sort().values for name, w in weights.items()}
    out = []
    for s in sparsities:
        check_scalar(float(s), "sparsity", numbers.Real, low=0, high=1, include_high=False)
        with torch.no_grad():
            for name, layer in layers.items():
                k = int(round(float(s) * ordered[name].numel()))
                t = ordered[name][k] if k < ordered[name].numel() else float("inf")
                layer.weight.copy_(weights[name] * (weights[name].abs() >= t))
        out.append(accuracy(net, X, y))
    return np.array(out)


def sparsity_widget(model: nn.Module, X, y, retrained: dict | None = None, curve=None):
    """Slider: prune every layer of ``model`` to a sparsity, see its accuracy and weights at once.

    Evaluates on (X, y) live (1,000 digits take milliseconds). ``retrained`` maps a label to
    ``(sparsity, accuracy)`` points to mark, e.g. the pruned-and-retrained network. ``curve`` is an
    optional ``(sparsities, accuracies)`` pair already computed by :func:`pruning_curve` for this
    model and data, drawn instead of computing the 23-point curve again.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    if curve is None:
        grid = np.linspace(0, 0.99, 23)
        curve = pruning_curve(model, X, y, grid)
    else:
        if not (isinstance(curve, (tuple, list)) and len(curve) == 2):
            raise TypeError(f"curve must be a (sparsities, accuracies) pair, got {type(curve).__name__}")
        grid, curve = np.asarray(curve[0], dtype=float), np.asarray(curve[1], dtype=float)
        if grid.ndim != 1 or grid.shape != curve.shape or len(grid) < 2:
            raise ValueError(f"curve needs two 1-D arrays of the same length (at least 2); got shapes "
                             f"{grid.shape} and {curve.shape}")
    slider = widgets.FloatSlider(value=0.9, min=0.0, max=0.99, step=0.01, description="sparsity",
                                 continuous_update=False, readout_format=".2f")
    out = widgets.Output()

    def redraw(_=None):
        from .train import accuracy
        net = copy.deepcopy(model)
        prune(net, sparsity=slider.value)
        acc = accuracy(net, X, y)
        with out:
            out.clear_output(wait=True)
            fig, (ax, ax_w) = plt.subplots(1, 2, figsize=(13, 4.5))
            ax.plot(100 * grid, 100 * curve, color="tab:blue", label="pruned, not retrained")
            ax.plot(100 * slider.value, 100 * acc, "o", color="tab:red", ms=10, label=f"now: {100 * acc:.1f}%")
            for label, (s, a) in (retrained or {}).items():
                ax.plot(100 * s, 100 * a, "*", ms=16, color="tab:green", label=label)
            ax.set_xlabel("weights pruned (%)")
            ax.set_ylabel("test accuracy (%)")
            ax.set_title("Pruning without retraining")
            ax.legend(loc="lower left")
            w = net.fc1.weight.detach().flatten() if hasattr(net, "fc1") else \
                next(iter(prunable_layers(net).values())).weight.detach().flatten()
            ax_w.hist(w[w != 0].numpy(), bins=80, color="tab:orange")
            ax_w.set_xlabel("weight value")
            ax_w.set_ylabel("count")
            ax_w.set_title(f"fc1: {int((w != 0).sum()):,} weights left")
            plt.tight_layout()
            plt.show()

    slider.observe(redraw, names="value")
    redraw()
    return widgets.VBox([slider, out])
