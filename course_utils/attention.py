"""Attention as explanation, measured: show-attend-tell on synthetic scenes, and seq2seq alignment.

Both models share one attention decoder (Bahdanau et al. 2015; Xu et al. 2015). At output step
``t`` the decoder scores every input position ``l`` (an image cell or a source word),

    e_tl = v · tanh(W_q h_{t-1} + W_k k_l),    alpha_t = softmax(e_t),    c_t = sum_l alpha_tl k_l,

and predicts word ``t`` from the context ``c_t``. Because the inputs are synthetic, we know where
each output word *should* look (the object's box; the aligned source word), so "the attention
points at the right thing" becomes a number instead of a picture:

* :func:`pointing_accuracy` — share of object words whose attention maximum lies in that object's box;
* :func:`alignment_accuracy` — share of target words whose argmax attention is a truly aligned word.

Both are measured with the reference output fed to the decoder (forced decoding, as in alignment
error rates), so the attention for every word is defined even when the model would err.
"""
from __future__ import annotations

import numbers
import random
import time
from typing import NamedTuple, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from . import cache
from .checks import check_scalar, check_tensor
from .scenes import COLOURS, SHAPES, Scenes, make_scenes
from .train import one_thread, seed_everything

PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"


# ----------------------------------------------------------------------------- attention core

def softmax(scores: torch.Tensor, mask: torch.Tensor | None = None, dim: int = -1) -> torch.Tensor:
    """Softmax written out, ``exp(s - max s) / sum exp(s - max s)``; ``mask`` False = excluded."""
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    shifted = scores - scores.amax(dim=dim, keepdim=True)   # subtracting the max avoids overflow
    e = shifted.exp()
    return e / e.sum(dim=dim, keepdim=True)


def dot_product_attention(query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                          mask: torch.Tensor | None = None):
    """Scaled dot-product attention for one query per row: query (B, D), keys/values (B, L, D).

    Returns ``(context (B, D_v), weights (B, L))``; the transformer's attention in its simplest form.
    """
    check_tensor(query, "query", ndim=2)
    check_tensor(keys, "keys", ndim=3)
    if keys.shape[:1] != query.shape[:1] or keys.shape[2] != query.shape[1]:
        raise ValueError(f"keys must be (B, L, D) matching query (B, D); got {tuple(keys.shape)} "
                         f"and {tuple(query.shape)}")
    scores = (keys @ query.unsqueeze(-1)).squeeze(-1) / keys.shape[-1] ** 0.5
    weights = softmax(scores, mask)
    return (weights.unsqueeze(1) @ values).squeeze(1), weights


class AdditiveAttention(nn.Module):
    """Bahdanau attention: ``e_l = v · tanh(W_q q + W_k k_l)``; returns (context, weights)."""

    def __init__(self, query_dim: int, key_dim: int, hidden: int = 64):
        super().__init__()
        self.W_q = nn.Linear(query_dim, hidden, bias=False)
        self.W_k = nn.Linear(key_dim, hidden)
        self.v = nn.Linear(hidden, 1, bias=False)

    def forward(self, query, keys, mask=None, projected_keys=None):
        # the key projection does not change across decoding steps, so callers may pass it once
        pk = self.W_k(keys) if projected_keys is None else projected_keys
        scores = self.v(torch.tanh(pk + self.W_q(query).unsqueeze(1))).squeeze(-1)
        weights = softmax(scores, mask)
        return (weights.unsqueeze(1) @ keys).squeeze(1), weights


class AttentionDecoder(nn.Module):
    """GRU decoder that attends over ``keys`` (B, L, D) before emitting each word.

    ``context_in_state=True`` is the usual design (Bahdanau; Xu et al.): the context also enters the
    GRU, and the first state is computed from the mean key. Information about the input can then
    reach a word through the state, around that word's attention. With ``False`` the state sees
    only the words so far, so the input reaches word ``t`` *only* through ``alpha_t``. That makes
    the attention necessary, not accurate: measured on the scenes, its maximum fell inside the
    object less often (0.59 vs 0.97, ``benchmarks/attention.py``), because a neighbouring cell
    whose receptive field covers the object carries the same information.
    """

    def __init__(self, vocab_size: int, key_dim: int, hidden: int = 64, emb: int = 32,
                 context_in_state: bool = True):
        super().__init__()
        self.context_in_state = context_in_state
        self.embed = nn.Embedding(vocab_size, emb)
        self.attention = AdditiveAttention(hidden, key_dim, hidden)
        self.init_h = nn.Linear(key_dim, hidden) if context_in_state else None
        self.h0 = nn.Parameter(torch.zeros(hidden))
        self.cell = nn.GRUCell(emb + (key_dim if context_in_state else 0), hidden)
        self.out = nn.Linear(hidden + key_dim + emb, vocab_size)

    def _start(self, keys, mask):
        pk = self.attention.W_k(keys)
        if not self.context_in_state:
            return self.h0.expand(keys.shape[0], -1), pk
        if mask is None:
            mean = keys.mean(1)
        else:
            m = mask.unsqueeze(-1).float()
            mean = (keys * m).sum(1) / m.sum(1)
        return torch.tanh(self.init_h(mean)), pk

    def _step(self, token, h, keys, mask, pk):
        e = self.embed(token)
        if self.context_in_state:       # Bahdanau: attend with the previous state, then update it
            context, w = self.attention(h, keys, mask, pk)
            h = self.cell(torch.cat([e, context], -1), h)
        else:                           # update with the word just written, then attend
            h = self.cell(e, h)
            context, w = self.attention(h, keys, mask, pk)
        return self.out(torch.cat([h, context, e], -1)), h, w

    def forward(self, keys, tokens_in, mask=None):
        """Teacher forcing: ``tokens_in`` (B, T) starts with BOS; returns logits (B, T, V), weights (B, T, L)."""
        h, pk = self._start(keys, mask)
        logits, weights = [], []
        for t in range(tokens_in.shape[1]):
            lg, h, w = self._step(tokens_in[:, t], h, keys, mask, pk)
            logits.append(lg)
            weights.append(w)
        return torch.stack(logits, 1), torch.stack(weights, 1)

    @torch.no_grad()
    def greedy(self, keys, bos: int, eos: int, max_len: int, mask=None):
        """Greedy decoding; returns tokens (B, max_len) and weights (B, max_len, L)."""
        h, pk = self._start(keys, mask)
        token = torch.full((keys.shape[0],), bos, dtype=torch.long)
        tokens, weights = [], []
        for _ in range(max_len):
            lg, h, w = self._step(token, h, keys, mask, pk)
            token = lg.argmax(-1)
            tokens.append(token)
            weights.append(w)
        return torch.stack(tokens, 1), torch.stack(weights, 1)


# ----------------------------------------------------------------------------- vocabulary

class Vocab:
    """Words <-> ids. Id 0 is padding, 1 begin-of-sentence, 2 end-of-sentence."""

    def __init__(self, words: Sequence[str], name: str = "vocabulary"):
        words = [PAD, BOS, EOS] + [w for w in dict.fromkeys(words) if w not in (PAD, BOS, EOS)]
        self.words, self.name = tuple(words), name
        self.index = {w: i for i, w in enumerate(self.words)}

    def __len__(self):
        return len(self.words)

    def __eq__(self, other):
        return isinstance(other, Vocab) and self.words == other.words

    def __repr__(self):
        return f"Vocab({len(self)} words: {' '.join(self.words[3:])})"

    def check_same(self, other: "Vocab"):
        """Raise if ``other`` is not this vocabulary (a model must decode with the ids it learnt)."""
        if self != other:
            missing = sorted(set(self.words) ^ set(other.words))
            raise ValueError(f"{self.name} mismatch: the model was trained with {len(self)} words and "
                             f"got a vocabulary of {len(other)}; words not in both: {missing[:10]} "
                             "(or the same words in another order)")

    def encode(self, sentence: str | Sequence[str]) -> list[int]:
        """Ids of the words (a string is split on spaces); an unknown word raises ValueError."""
        words = sentence.split() if isinstance(sentence, str) else list(sentence)
        unknown = [w for w in words if w not in self.index]
        if unknown:
            raise ValueError(f"{self.name} mismatch: {unknown} not in the vocabulary "
                             f"{list(self.words[3:])}")
        return [self.index[w] for w in words]

    def decode(self, ids) -> list[str]:
        """Words for ``ids`` up to the first end-of-sentence; padding and BOS are dropped."""
        out = []
        for i in (ids.tolist() if isinstance(ids, torch.Tensor) else ids):
            if i == 2:
                break
            if i > 2:
                out.append(self.words[i])
        return out

    def batch(self, sentences: Sequence, length: int | None = None):
        """Pad to a batch: returns ``(inputs, targets)``, BOS+words and words+EOS, both (N, T)."""
        ids = [self.encode(s) for s in sentences]
        T = max(len(x) for x in ids) + 1 if length is None else length + 1
        if any(len(x) + 1 > T for x in ids):
            raise ValueError(f"a sentence is longer than length={length}")
        inp = torch.zeros(len(ids), T, dtype=torch.long)
        tgt = torch.zeros(len(ids), T, dtype=torch.long)
        for n, x in enumerate(ids):
            inp[n, :len(x) + 1] = torch.tensor([1] + x)
            tgt[n, :len(x) + 1] = torch.tensor(x + [2])
        return inp, tgt


def caption_vocab() -> Vocab:
    """Every word the scene captions use."""
    return Vocab(["a", "left", "of", *COLOURS, *SHAPES], name="caption vocabulary")


# ----------------------------------------------------------------------------- show, attend and tell

class SceneEncoder(nn.Module):
    """A small CNN whose output cells (stride 4) are the attention's positions.

    Before the last 1×1 layer we append two coordinate channels (convolutions alone cannot tell
    left from right, and the caption must say which object is left of which) and each cell's mean
    colour (so that a colour is easiest to read *inside* the object, not from a neighbouring cell
    whose receptive field merely overlaps it). ``cell_features=False`` leaves both out: the
    ablation that measures how much of the pointing those design choices buy.
    """

    def __init__(self, width: int = 32, key_dim: int = 64, cell_features: bool = True):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(3, width, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(2 * width, 2 * width, 3, padding=1), nn.ReLU())
        self.cell_features = cell_features
        self.mix = nn.Conv2d(2 * width + (2 + 3 if cell_features else 0), key_dim, 1)
        self.stride = 4

    def forward(self, images):
        f = self.conv(images)
        B, _, H, W = f.shape
        if self.cell_features:
            ys = torch.linspace(-1, 1, H).view(1, 1, H, 1).expand(B, 1, H, W)
            xs = torch.linspace(-1, 1, W).view(1, 1, 1, W).expand(B, 1, H, W)
            colour = F.adaptive_avg_pool2d(images, (H, W))
            f = torch.cat([f, xs, ys, colour], 1)
        f = torch.relu(self.mix(f))
        return f.flatten(2).transpose(1, 2), (H, W)             # keys (B, H*W, D)


class ShowAttendTell(nn.Module):
    """CNN encoder + attention GRU decoder that writes the caption of a scene."""

    def __init__(self, vocab: Vocab | None = None, width: int = 32, key_dim: int = 64, hidden: int = 64,
                 context_in_state: bool = True, cell_features: bool = True):
        super().__init__()
        self.vocab = vocab or caption_vocab()
        self.encoder = SceneEncoder(width, key_dim, cell_features)
        self.decoder = AttentionDecoder(len(self.vocab), key_dim, hidden, context_in_state=context_in_state)

    def forward(self, images, tokens_in):
        keys, _ = self.encoder(images)
        return self.decoder(keys, tokens_in)

    def _check_images(self, images):
        check_tensor(images, "images", ndim=4, channels=3)

    @torch.no_grad()
    @one_thread()
    def caption(self, images, max_len: int = 20):
        """Greedy captions (list of str) and attention maps (B, max_len, H, W) for the words written."""
        self._check_images(images)
        self.eval()
        keys, (H, W) = self.encoder(images)
        tokens, w = self.decoder.greedy(keys, 1, 2, max_len)
        return [" ".join(self.vocab.decode(t)) for t in tokens], w.view(len(images), max_len, H, W)

    @torch.no_grad()
    @one_thread()
    def word_probabilities(self, images, captions: Sequence[str]) -> torch.Tensor:
        """(B, T) probability of each word of the given captions (then EOS), under forced decoding."""
        self._check_images(images)
        if len(captions) != len(images):
            raise ValueError(f"need one caption per image; got {len(captions)} for {len(images)}")
        self.eval()
        inp, tgt = self.vocab.batch(captions)
        logits, _ = self(images, inp)
        return logits.softmax(-1).gather(-1, tgt[..., None])[..., 0]

    @torch.no_grad()
    @one_thread()
    def attend(self, images, captions: Sequence[str], vocab: Vocab | None = None):
        """Attention maps (B, T, H, W) while the *given* captions are fed in (forced decoding).

        Map ``t`` is the attention used to emit word ``t`` of the caption (the last is EOS).
        """
        self._check_images(images)
        if vocab is not None:
            self.vocab.check_same(vocab)
        if len(captions) != len(images):
            raise ValueError(f"need one caption per image; got {len(captions)} for {len(images)}")
        self.eval()
        inp, _ = self.vocab.batch(captions)
        keys, (H, W) = self.encoder(images)
        _, w = self.decoder(keys, inp)
        return w.view(len(images), inp.shape[1], H, W)


def occlusion_check(model: ShowAttendTell, scenes: Scenes, seed: int = 0) -> dict:
    """Does hiding the attended cell hurt the word more than hiding a random cell?

    For every object word of ``scenes`` (true caption fed in), paint one ``stride`` x ``stride``
    cell with the background colour and measure the drop in the probability of that word. The
    cell is the attention maximum (``"attended"``), a uniformly random other cell (``"random"``),
    or a random other cell whose centre lies inside the object's box (``"in_object"``: the control
    of the same area on the object; the attended cell itself when it is the only one); the whole
    box (``"object"``) is the positive control. Returns the mean drop for each, ``"n_words"``, and
    ``"per_word"``: for each kind the drop of every word (same order in every kind, so differences
    between kinds are paired by word), and ``"word_scenes"``, the scene of each word.
    """
    from .scenes import BACKGROUND
    if not isinstance(scenes, Scenes):
        raise TypeError(f"scenes must be a Scenes from make_scenes; got {type(scenes).__name__}")
    s = model.encoder.stride
    maps = model.attend(scenes.images, scenes.captions)
    clean = model.word_probabilities(scenes.images, scenes.captions)
    gen = torch.Generator().manual_seed(seed)
    H, W = maps.shape[-2:]
    occluded = {"attended": [], "random": [], "in_object": [], "object": []}
    which = []
    centres_y = (torch.arange(H) * s + s / 2)[:, None].expand(H, W).flatten()
    centres_x = (torch.arange(W) * s + s / 2)[None, :].expand(H, W).flatten()
    for n, caption in enumerate(scenes.captions):
        for pos, obj in object_words(caption):
            peak = int(maps[n, pos].argmax())
            other = int(torch.randint(H * W - 1, (1,), generator=gen))
            other += other >= peak                         # any cell but the attended one
            x0, y0, x1, y1 = scenes.boxes[n][obj]
            inside = ((centres_x >= x0) & (centres_x < x1) & (centres_y >= y0) & (centres_y < y1)).nonzero()[:, 0]
            inside = inside[inside != peak] if (inside != peak).any() else torch.tensor([peak])
            on_object = int(inside[torch.randint(len(inside), (1,), generator=gen)])
            for kind, cell in (("attended", peak), ("random", other), ("in_object", on_object)):
                r, c = divmod(cell, W)
                img = scenes.images[n].clone()
                img[:, r * s:(r + 1) * s, c * s:(c + 1) * s] = BACKGROUND
                occluded[kind].append(img)
            img = scenes.images[n].clone()
            img[:, y0:y1, x0:x1] = BACKGROUND
            occluded["object"].append(img)
            which.append((n, pos))
    rows, cols = torch.tensor([n for n, _ in which]), torch.tensor([p for _, p in which])
    captions = [scenes.captions[n] for n, _ in which]
    out = {"n_words": len(which), "per_word": {}, "word_scenes": [n for n, _ in which]}
    for kind, images in occluded.items():
        probs = model.word_probabilities(torch.stack(images), captions)
        drops = clean[rows, cols] - probs[torch.arange(len(which)), cols]
        out[kind], out["per_word"][kind] = float(drops.mean()), drops.tolist()
    return out


def _fit_seq(model, batches, epochs: int, lr: float, seed: int, desc: str):
    """Cross-entropy training over (forward-args, targets) batches; returns (losses, seconds)."""
    with one_thread():
        return _fit_seq_loop(model, batches, epochs, lr, seed, desc)


def _fit_seq_loop(model, batches, epochs, lr, seed, desc):
    gen = seed_everything(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses, start, cpu_start = [], time.perf_counter(), time.process_time()
    with tqdm(total=epochs * len(batches), desc=desc, unit="batch", leave=False) as bar:
        for _ in range(epochs):
            total = 0.0
            for b in torch.randperm(len(batches), generator=gen).tolist():
                *args, tgt = batches[b]
                logits, _ = model(*args)
                loss = F.cross_entropy(logits.flatten(0, 1), tgt.flatten(), ignore_index=0)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += loss.item()
                bar.update(1)
            losses.append(total / len(batches))
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
    model.eval()
    # wall time depends on the machine's load; on one thread, CPU time is what an idle machine needs
    return losses, time.perf_counter() - start, time.process_time() - cpu_start


def _batches(n: int, batch_size: int, *tensors):
    return [tuple(t[i:i + batch_size] for t in tensors) for i in range(0, n, batch_size)]


CAPTIONER_DEFAULTS = dict(n_train=3000, n_objects=2, size=32, epochs=8, batch_size=32, lr=5e-3,
                          width=16, key_dim=48, hidden=64, context_in_state=True, cell_features=True,
                          shuffle_captions=False, seed=0)


def train_captioner(verbose: bool = True, **overrides):
    """Train (or load from the checkpoint cache) the show-attend-tell model on synthetic scenes.

    Returns ``(model, info)``; ``info`` holds ``losses``, ``train_seconds`` and ``config``.
    ``shuffle_captions=True`` is the shuffled-label control: the training captions are permuted across
    the scenes, so the model can learn how captions go but not which words name what it sees.
    """
    unknown = set(overrides) - set(CAPTIONER_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown option(s) {sorted(unknown)}; expected some of {sorted(CAPTIONER_DEFAULTS)}")
    cfg = {**CAPTIONER_DEFAULTS, **overrides}
    vocab = caption_vocab()

    def build():
        seed_everything(cfg["seed"])
        return ShowAttendTell(vocab, cfg["width"], cfg["key_dim"], cfg["hidden"], cfg["context_in_state"],
                              cfg["cell_features"])

    def compute():
        model = build()
        scenes = make_scenes(cfg["n_train"], cfg["size"], cfg["n_objects"], seed=cfg["seed"] + 1000)
        captions = scenes.captions
        if cfg["shuffle_captions"]:
            order = np.random.default_rng(cfg["seed"] + 2000).permutation(len(captions))
            captions = [captions[i] for i in order]
        inp, tgt = vocab.batch(captions)
        batches = _batches(len(inp), cfg["batch_size"], scenes.images, inp, tgt)
        losses, seconds, cpu = _fit_seq(model, batches, cfg["epochs"], cfg["lr"], cfg["seed"],
                                        "show, attend and tell")
        return {"state_dict": model.state_dict(), "losses": losses, "train_seconds": seconds,
                "train_cpu_seconds": cpu,
                "vocab": list(vocab.words)}

    payload = cache.cached("show-attend-tell", cfg, compute, verbose=verbose)
    vocab.check_same(Vocab(payload["vocab"][3:]))
    model = build()
    model.load_state_dict(payload["state_dict"])
    model.eval()
    return model, {k: v for k, v in payload.items() if k not in ("state_dict", "vocab")}


def _trainers() -> dict:
    """kind -> (training function, cache name, default options), for :func:`train_side_by_side`."""
    return {"captioner": (train_captioner, "show-attend-tell", CAPTIONER_DEFAULTS),
            "translator": (train_translator, "seq2seq-attention", TRANSLATOR_DEFAULTS)}


def _train_in_worker(job: tuple) -> None:
    import os
    import sys
    sys.stderr = open(os.devnull, "w")   # a worker's progress bar would interleave with the others' output
    kind, overrides, environment = job
    # a forkserver's workers inherit the environment of its start, not the caller's of now
    for name, value in environment.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    _trainers()[kind][0](verbose=False, **overrides)   # the result goes to the checkpoint cache


def _worker_context():
    """A forkserver that imports torch and this module once, then forks each worker from it.

    Spawning imports in every worker what a training needs: torch and, on the first optimiser,
    ``torch._dynamo`` (together about 3 s of CPU per worker, measured here). Fork would copy the
    caller's torch threads. Where there is no forkserver (Windows) workers are spawned.
    """
    import multiprocessing
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__, "torch._dynamo"])
    return context


def train_side_by_side(jobs: Sequence[tuple], processes: int | None = None, verbose: bool = True) -> int:
    """Train the uncached models of ``jobs`` at the same time, each on one thread in its own process.

    ``jobs``: ``(kind, overrides)`` pairs, kind ``"captioner"`` or ``"translator"``, overrides as for
    :func:`train_captioner` / :func:`train_translator`. Everything goes to the checkpoint cache, so
    load the models with those functions afterwards. ``processes`` (default: one per job, at most 4)
    may exceed the cores: one-thread trainings share them evenly, and the total CPU time is the same,
    so 4 jobs on 2 cores end together instead of leaving a core idle for the last one.
    Returns the number of models trained.
    """
    import concurrent.futures

    trainers = _trainers()
    jobs = [(kind, dict(overrides)) for kind, overrides in jobs]
    for kind, overrides in jobs:
        if kind not in trainers:
            raise ValueError(f"unknown kind {kind!r}; expected one of {sorted(trainers)}")
        unknown = set(overrides) - set(trainers[kind][2])
        if unknown:
            raise ValueError(f"unknown option(s) {sorted(unknown)} for a {kind}; expected some of "
                             f"{sorted(trainers[kind][2])}")
    if processes is not None:
        check_scalar(processes, "processes", numbers.Integral, low=1)
    missing = [(kind, o) for kind, o in jobs
               if not cache.cache_path(trainers[kind][1], {**trainers[kind][2], **o}).exists()]
    processes = min(processes or 4, len(missing))
    if processes > 1:
        if verbose:
            print(f"training {len(missing)} models, {processes} at a time ...")
        import os
        from .train import SEED_OFFSET_ENV
        environment = {name: os.environ.get(name) for name in (cache.CACHE_ENV, SEED_OFFSET_ENV)}
        with concurrent.futures.ProcessPoolExecutor(processes, mp_context=_worker_context()) as pool:
            list(pool.map(_train_in_worker, [(kind, o, environment) for kind, o in missing]))
    else:
        for kind, o in missing:
            trainers[kind][0](verbose=verbose, **o)
    return len(missing)


def train_captioners(seeds: Sequence[int], processes: int = 2, verbose: bool = True, **overrides) -> dict:
    """``{seed: (model, info)}``: one captioner per seed, the uncached ones trained side by side.

    Each training runs on one thread; ``processes`` of them run at once in worker processes
    (a 2-core laptop trains two seeds in the time of one). Every result goes through the cache.
    """
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct and not empty; got {seeds}")
    check_scalar(processes, "processes", numbers.Integral, low=1)
    missing = [s for s in seeds
               if not cache.cache_path("show-attend-tell", {**CAPTIONER_DEFAULTS, **overrides, "seed": s}).exists()]
    if len(missing) > 1 and processes > 1:
        train_side_by_side([("captioner", {**overrides, "seed": s}) for s in missing], processes, verbose)
    return {s: train_captioner(verbose=verbose and s in missing, **overrides, seed=s) for s in seeds}


def object_words(caption: str) -> list[tuple[int, int]]:
    """``(word position, object index)`` for every colour and shape word of a scene caption."""
    out, obj = [], 0
    for i, w in enumerate(caption.split()):
        if w in COLOURS:
            out.append((i, obj))
        elif w in SHAPES:
            out.append((i, obj))
            obj += 1
    return out


def attention_peaks(maps: torch.Tensor, stride: int) -> torch.Tensor:
    """Pixel (x, y) of the centre of each map's most-attended cell: maps (..., H, W) -> (..., 2)."""
    H, W = maps.shape[-2:]
    flat = maps.flatten(-2).argmax(-1)
    ys, xs = flat // W, flat % W
    return torch.stack([xs * stride + stride / 2, ys * stride + stride / 2], -1)


def in_box(point, box) -> bool:
    x, y = float(point[0]), float(point[1])
    x0, y0, x1, y1 = box
    return x0 <= x < x1 and y0 <= y < y1


def word_saliency(model: ShowAttendTell, images: torch.Tensor, captions: Sequence[str]) -> torch.Tensor:
    """Gradient x input for every word, on the attention grid: (B, T, H, W), like ``attend``.

    For word ``t`` (true caption fed in), ``|sum_c x_c d log P(word_t) / d x_c|`` per pixel, summed over
    each ``stride`` x ``stride`` cell, so that it can be scored exactly as attention is. This is the
    explanation computed from the network's function rather than read off one of its layers.
    """
    model._check_images(images)
    if len(captions) != len(images):
        raise ValueError(f"need one caption per image; got {len(captions)} for {len(images)}")
    model.eval()
    inp, tgt = model.vocab.batch(captions)
    s = model.encoder.stride
    x = images.detach().clone().requires_grad_(True)
    maps = []
    with torch.enable_grad(), one_thread():
        logits, _ = model(x, inp)
        log_p = logits.log_softmax(-1).gather(-1, tgt[..., None])[..., 0]            # (B, T)
        for t in range(log_p.shape[1]):   # samples are independent (eval mode): one backward per position
            (g,) = torch.autograd.grad(log_p[:, t].sum(), x, retain_graph=t < log_p.shape[1] - 1)
            maps.append(F.avg_pool2d((g * x).sum(1, keepdim=True).abs(), s) * s * s)
    return torch.cat(maps, 1).detach()


def _word_maps(model: ShowAttendTell, scenes: Scenes, maps: torch.Tensor | None) -> torch.Tensor:
    """The model's attention maps of ``scenes`` (B, T, H, W), or ``maps`` checked to cover every caption word."""
    if not isinstance(scenes, Scenes):
        raise TypeError(f"scenes must be a Scenes from make_scenes; got {type(scenes).__name__}")
    if maps is None:
        return model.attend(scenes.images, scenes.captions)
    check_tensor(maps, "maps", ndim=4)
    words = max(len(c.split()) for c in scenes.captions)
    if len(maps) != len(scenes.images) or maps.shape[1] < words:
        raise ValueError(f"maps must be (scenes, caption positions, H, W) with one row per scene "
                         f"({len(scenes.images)}) and at least {words} positions; got {tuple(maps.shape)}")
    return maps


def pointing_accuracy(model: ShowAttendTell, scenes: Scenes, maps: torch.Tensor | None = None) -> dict:
    """Share of object words (colours, shapes) whose attention maximum lies in that object's box.

    ``maps`` (B, T, H, W) scores another explanation on the same grid instead (e.g. ``word_saliency``).
    Returns ``{"all": ..., "colour": ..., "shape": ..., "n_words": ...}``.
    """
    maps = _word_maps(model, scenes, maps)
    peaks = attention_peaks(maps, model.encoder.stride)
    hits = {"colour": [], "shape": []}
    for n, caption in enumerate(scenes.captions):
        words = caption.split()
        for pos, obj in object_words(caption):
            kind = "colour" if words[pos] in COLOURS else "shape"
            hits[kind].append(in_box(peaks[n, pos], scenes.boxes[n][obj]))
    everything = hits["colour"] + hits["shape"]
    return {"all": float(np.mean(everything)), "colour": float(np.mean(hits["colour"])),
            "shape": float(np.mean(hits["shape"])), "n_words": len(everything)}


def pointing_breakdown(model: ShowAttendTell, scenes: Scenes, maps: torch.Tensor | None = None) -> dict:
    """Where each object word's map peaks: on the right object, on the *other* object, or on background.

    Same words and peaks as :func:`pointing_accuracy` (``maps`` as there). Returns per word kind
    (``"colour"``, ``"shape"``, ``"all"``) the shares ``{"right", "other", "background"}``, and
    ``"misses"``: one row per word whose peak is not on the right object, ``(scene, kind, row, col,
    distance)`` with ``distance`` the pixel distance from the peak cell's centre to the right box
    (0 inside it); and ``"hits"``, one bool per word (colour words first), for confidence intervals,
    with ``"hit_scenes"``, the scene of each (to resample scenes, not words: ``bootstrap_ci(groups=...)``).
    """
    maps = _word_maps(model, scenes, maps)
    stride = model.encoder.stride
    W = maps.shape[-1]
    peaks = attention_peaks(maps, stride)
    cells = maps.flatten(-2).argmax(-1)
    where = {"colour": [], "shape": []}
    scene_of = {"colour": [], "shape": []}
    misses = []
    for n, caption in enumerate(scenes.captions):
        words = caption.split()
        for pos, obj in object_words(caption):
            kind = "colour" if words[pos] in COLOURS else "shape"
            scene_of[kind].append(n)
            point = peaks[n, pos]
            if in_box(point, scenes.boxes[n][obj]):
                where[kind].append("right")
                continue
            others = [b for j, b in enumerate(scenes.boxes[n]) if j != obj]
            where[kind].append("other" if any(in_box(point, b) for b in others) else "background")
            x0, y0, x1, y1 = scenes.boxes[n][obj]
            x, y = float(point[0]), float(point[1])
            dx, dy = max(x0 - x, 0.0, x - (x1 - 1)), max(y0 - y, 0.0, y - (y1 - 1))
            row, col = divmod(int(cells[n, pos]), W)
            misses.append((n, kind, row, col, float(np.hypot(dx, dy))))
    out = {}
    for kind, labels in [("colour", where["colour"]), ("shape", where["shape"]),
                         ("all", where["colour"] + where["shape"])]:
        out[kind] = {k: float(np.mean([lab == k for lab in labels])) for k in ("right", "other", "background")}
    out["misses"] = misses
    out["hits"] = [lab == "right" for lab in where["colour"] + where["shape"]]
    out["hit_scenes"] = scene_of["colour"] + scene_of["shape"]
    return out


def brightest_cell_maps(scenes: Scenes, stride: int = 4, positions: int | None = None) -> torch.Tensor:
    """A baseline that reads no caption: every word's map is ``sum_c |x_c - BACKGROUND|`` per cell.

    ``(B, T, H, W)`` like ``attend``, the same map at every one of ``T`` positions (the longest
    caption plus EOS unless given). It peaks on the most colourful cell of *some* object, so it
    scores about half of the object words: what "points at an object" gets without any model.
    """
    from .scenes import BACKGROUND

    if not isinstance(scenes, Scenes):
        raise TypeError(f"scenes must be a Scenes from make_scenes; got {type(scenes).__name__}")
    check_scalar(stride, "stride", numbers.Integral, low=1, high=scenes.images.shape[-1])
    T = positions if positions is not None else max(len(c.split()) for c in scenes.captions) + 1
    check_scalar(T, "positions", numbers.Integral, low=1)
    m = F.avg_pool2d((scenes.images - BACKGROUND).abs().sum(1, keepdim=True), stride)   # (B, 1, H, W)
    return m.expand(-1, T, -1, -1).clone()


def order_rule_maps(scenes: Scenes, stride: int = 4, positions: int | None = None) -> torch.Tensor:
    """A baseline that knows the caption's word *order* but no word's meaning.

    Captions name the objects left to right, so the k-th object named is the k-th from the left.
    The rule splits the columns between the leftmost and the rightmost colourful cell into as many
    equal bands as the scene has objects, and for every word of the k-th object named (colour or
    shape alike) peaks on the most colourful cell of the k-th band. Other positions get the
    brightest-cell map. ``(B, T, H, W)`` like ``attend``; it uses pixels and word positions only.
    """
    maps = brightest_cell_maps(scenes, stride, positions)
    W = maps.shape[-1]
    for n, caption in enumerate(scenes.captions):
        colourful = maps[n, 0].sum(0) > 0                                    # columns with any object pixel
        cols = colourful.nonzero()[:, 0]
        n_objects = len(scenes.boxes[n])
        edges = torch.linspace(float(cols.min()), float(cols.max()) + 1, n_objects + 1)
        band = torch.bucketize(torch.arange(W, dtype=torch.float32), edges[1:-1], right=True)   # column -> band
        for pos, obj in object_words(caption):
            m = maps[n, pos].clone()
            m[:, band != obj] = -1.0
            maps[n, pos] = m
    return maps


def recoloured_scenes(scenes: Scenes) -> tuple[Scenes, list[int]]:
    """The two-object scenes whose objects differ in colour, with the two colours swapped in the image.

    Captions, boxes and shapes are kept: the caption now names, for each object, the colour the
    *other* object has. Returns the new scenes (captions unchanged) and the indices of the scenes kept.
    """
    from .scenes import RGB
    if not isinstance(scenes, Scenes):
        raise TypeError(f"scenes must be a Scenes from make_scenes; got {type(scenes).__name__}")
    keep = [n for n, c in enumerate(scenes.colours) if len(c) == 2 and c[0] != c[1]]
    if not keep:
        raise ValueError("no scene has two objects of different colours to swap")
    images = scenes.images[keep].clone()
    for i, n in enumerate(keep):
        for obj, other in ((0, 1), (1, 0)):
            x0, y0, x1, y1 = scenes.boxes[n][obj]
            patch = scenes.images[n, :, y0:y1, x0:x1]
            drawn = (patch - torch.tensor(RGB[scenes.colours[n][obj]])[:, None, None]).abs().sum(0) < 1e-6
            images[i, :, y0:y1, x0:x1][:, drawn] = torch.tensor(RGB[scenes.colours[n][other]])[:, None]
    pick = lambda xs: [xs[n] for n in keep]  # noqa: E731
    return Scenes(images, pick(scenes.boxes), pick(scenes.shapes), pick(scenes.colours),
                  pick(scenes.captions)), keep


def colour_swap_check(model: ShowAttendTell, scenes: Scenes) -> dict:
    """Does a word's attention follow the caption's order or the colour the word names?

    The two objects' colours are swapped in the image (:func:`recoloured_scenes`) and the original
    caption is fed in. For each object word, the peak lies on the object the caption's *order*
    names (``"order"``: the same object as before), on the other object, which now has the colour
    the caption names for it (``"named colour"``), or on the background. Shares per word kind
    (``"colour"``, ``"shape"``) and ``"n_words"``. In this decoder the map for word t is computed
    before word t is read, so a colour word's map can only follow the order; a shape word's map
    comes after its colour word and can follow either.
    """
    swapped, _ = recoloured_scenes(scenes)
    where = pointing_breakdown(model, swapped)
    names = {"right": "order", "other": "named colour", "background": "background"}
    out = {kind: {names[k]: v for k, v in where[kind].items()} for kind in ("colour", "shape")}
    out["n_words"] = len(where["hits"])
    return out


def untrained_captioner(seed: int = 0, **overrides) -> ShowAttendTell:
    """The captioner of :func:`train_captioner` with the same config and initial weights, never trained.

    The random-init control: whatever it "points at" comes from the architecture (keys hold each
    cell's mean colour and coordinates), not from learning.
    """
    unknown = set(overrides) - set(CAPTIONER_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown option(s) {sorted(unknown)}; expected some of {sorted(CAPTIONER_DEFAULTS)}")
    cfg = {**CAPTIONER_DEFAULTS, **overrides, "seed": seed}
    seed_everything(cfg["seed"])
    model = ShowAttendTell(caption_vocab(), cfg["width"], cfg["key_dim"], cfg["hidden"], cfg["context_in_state"],
                           cfg["cell_features"])
    return model.eval()


def pointing_chance(scenes: Scenes, stride: int = 4) -> float:
    """The pointing accuracy of attention that peaks on a uniformly random cell: the control.

    For each object word, the share of grid cells (``stride`` pixels wide) whose centre lies in the
    object's box, averaged over the object words of ``scenes``.
    """
    if not isinstance(scenes, Scenes):
        raise TypeError(f"scenes must be a Scenes from make_scenes; got {type(scenes).__name__}")
    check_scalar(stride, "stride", numbers.Integral, low=1, high=scenes.images.shape[-1])
    H, W = scenes.images.shape[-2] // stride, scenes.images.shape[-1] // stride
    ys, xs = torch.arange(H) * stride + stride / 2, torch.arange(W) * stride + stride / 2
    shares = []
    for caption, boxes in zip(scenes.captions, scenes.boxes):
        for _, obj in object_words(caption):
            x0, y0, x1, y1 = boxes[obj]
            shares.append(float(((xs >= x0) & (xs < x1)).sum() * ((ys >= y0) & (ys < y1)).sum()) / (H * W))
    return float(np.mean(shares))


def caption_accuracy(model: ShowAttendTell, scenes: Scenes) -> dict:
    """Greedy captions vs the truth: share of exactly right captions and of right words."""
    if not isinstance(scenes, Scenes):
        raise TypeError(f"scenes must be a Scenes from make_scenes; got {type(scenes).__name__}")
    predicted, _ = model.caption(scenes.images)
    exact = [p == t for p, t in zip(predicted, scenes.captions)]
    words = [a == b for p, t in zip(predicted, scenes.captions)
             for a, b in zip(p.split() + [""] * 20, t.split())]
    return {"exact": float(np.mean(exact)), "words": float(np.mean(words))}


# ----------------------------------------------------------------------------- translation pairs

# A toy English -> German-like pair. Word order rules: a leading adverb moves the verb to second
# place ("today the man sees ..." -> "heute sieht der mann ..."), and a "that" clause puts its
# verb last ("... says that the man sees the dog" -> "... sagt dass der mann den hund sieht").
# Many-to-one words: several English words become one target word ("ice cream" -> "eis").
NOUNS = {("dog",): "hund", ("cat",): "katze", ("man",): "mann", ("woman",): "frau",
         ("child",): "kind", ("bird",): "vogel", ("teacher",): "lehrer",
         ("police", "officer"): "polizist", ("fire", "truck"): "feuerwehrauto",
         ("ice", "cream"): "eis"}
VERBS = {("sees",): "sieht", ("likes",): "mag", ("finds",): "findet", ("hears",): "hört",
         ("follows",): "folgt", ("is", "looking", "for"): "sucht", ("waits", "for"): "erwartet"}
SAY_VERBS = {("says",): "sagt", ("thinks",): "denkt", ("knows",): "weiss"}
ADVERBS = {("today",): "heute", ("yesterday",): "gestern", ("every", "morning"): "morgens"}
DETERMINERS = {("the",): "die", ("a",): "eine", ("this",): "diese", ("my",): "meine",
               ("your",): "deine"}
COMPLEMENTISERS = {("that",): "dass", ("because",): "weil", ("whether",): "ob"}


class Pairs(NamedTuple):
    src: list           # per pair: list of source words
    tgt: list           # per pair: list of target words
    alignment: list     # per pair, per target word: tuple of aligned source positions


def _translate(rng: random.Random):
    src = []

    def put(words):
        start = len(src)
        src.extend(words)
        return tuple(range(start, len(src)))

    def np_():
        det = rng.choice(list(DETERMINERS))
        det = [(DETERMINERS[det], put(list(det)))]
        noun = rng.choice(list(NOUNS))
        return det + [(NOUNS[noun], put(list(noun)))]

    def clause(verb_final: bool, adverb: bool):
        adv = []
        if adverb:
            a = rng.choice(list(ADVERBS))
            adv = [(ADVERBS[a], put(list(a)))]
        subj = np_()
        v = rng.choice(list(VERBS))
        verb = [(VERBS[v], put(list(v)))]
        obj = np_()
        if verb_final:
            return adv + subj + obj + verb
        if adverb:
            return adv + verb + subj + obj        # verb second
        return subj + verb + obj

    kind = rng.random()
    adverb = rng.random() < 0.35
    if kind < 0.45:
        out = clause(False, adverb)
    else:
        adv = []
        if adverb:
            a = rng.choice(list(ADVERBS))
            adv = [(ADVERBS[a], put(list(a)))]
        subj = np_()
        s = rng.choice(list(SAY_VERBS))
        say = [(SAY_VERBS[s], put(list(s)))]
        c = rng.choice(list(COMPLEMENTISERS))
        that = [(COMPLEMENTISERS[c], put(list(c)))]
        main = adv + say + subj if adverb else subj + say
        out = main + that + clause(True, False)
    return src, [w for w, _ in out], [a for _, a in out]


def make_translation_pairs(n: int, seed: int = 0) -> Pairs:
    """``n`` random sentence pairs with the true word alignment (target word -> source positions)."""
    check_scalar(n, "n", numbers.Integral, low=1)
    check_scalar(seed, "seed", numbers.Integral, low=0)
    rng = random.Random(seed)
    src, tgt, ali = zip(*(_translate(rng) for _ in range(n)))
    return Pairs(list(src), list(tgt), list(ali))


def translation_vocabs() -> tuple[Vocab, Vocab]:
    lex = {**NOUNS, **VERBS, **SAY_VERBS, **ADVERBS, **DETERMINERS, **COMPLEMENTISERS}
    src = Vocab([w for k in lex for w in k], name="source vocabulary")
    tgt = Vocab(list(lex.values()), name="target vocabulary")
    return src, tgt


class Seq2Seq(nn.Module):
    """Embedding + bidirectional GRU encoder, attention GRU decoder."""

    def __init__(self, src_vocab: Vocab, tgt_vocab: Vocab, emb: int = 32, hidden: int = 64,
                 keys: str = "emb+gru"):
        super().__init__()
        self.src_vocab, self.tgt_vocab, self.keys = src_vocab, tgt_vocab, keys
        self.embed = nn.Embedding(len(src_vocab), emb, padding_idx=0)
        self.rnn = nn.GRU(emb, hidden // 2, batch_first=True, bidirectional=True)
        key_dim = {"gru": hidden, "emb+gru": hidden + emb}[keys]
        self.decoder = AttentionDecoder(len(tgt_vocab), key_dim, hidden, emb)

    def encode(self, src_ids):
        mask = src_ids != 0
        e = self.embed(src_ids)
        h, _ = self.rnn(e)
        return (h if self.keys == "gru" else torch.cat([e, h], -1)), mask

    def forward(self, src_ids, tokens_in):
        keys, mask = self.encode(src_ids)
        return self.decoder(keys, tokens_in, mask)

    def _src(self, sentences):
        ids = [self.src_vocab.encode(s) + [2] for s in sentences]
        out = torch.zeros(len(ids), max(map(len, ids)), dtype=torch.long)
        for n, x in enumerate(ids):
            out[n, :len(x)] = torch.tensor(x)
        return out

    @torch.no_grad()
    @one_thread()
    def attend(self, src: Sequence, tgt: Sequence):
        """Attention (B, T_tgt+1, T_src+1) with the reference target fed in; rows = target words + EOS."""
        self.eval()
        inp, _ = self.tgt_vocab.batch(tgt)
        _, w = self(self._src(src), inp)
        return w

    @torch.no_grad()
    @one_thread()
    def translate(self, src: Sequence, max_len: int = 20):
        """Greedy translations (lists of words) and their attention (B, max_len, T_src+1)."""
        self.eval()
        keys, mask = self.encode(self._src(src))
        tokens, w = self.decoder.greedy(keys, 1, 2, max_len, mask)
        return [self.tgt_vocab.decode(t) for t in tokens], w


TRANSLATOR_DEFAULTS = dict(n_train=2000, epochs=5, batch_size=50, lr=3e-3, emb=32, hidden=64,
                           keys="emb+gru", seed=0)


def train_translator(verbose: bool = True, **overrides):
    """Train (or load from the cache) the seq2seq model on synthetic pairs; returns (model, info)."""
    unknown = set(overrides) - set(TRANSLATOR_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown option(s) {sorted(unknown)}; expected some of {sorted(TRANSLATOR_DEFAULTS)}")
    cfg = {**TRANSLATOR_DEFAULTS, **overrides}
    src_vocab, tgt_vocab = translation_vocabs()

    def build():
        seed_everything(cfg["seed"])
        return Seq2Seq(src_vocab, tgt_vocab, cfg["emb"], cfg["hidden"], cfg["keys"])

    def compute():
        model = build()
        pairs = make_translation_pairs(cfg["n_train"], seed=cfg["seed"] + 1000)
        src = model._src(pairs.src)
        inp, tgt = tgt_vocab.batch(pairs.tgt)
        batches = _batches(len(src), cfg["batch_size"], src, inp, tgt)
        losses, seconds, cpu = _fit_seq(model, batches, cfg["epochs"], cfg["lr"], cfg["seed"],
                                        "seq2seq with attention")
        return {"state_dict": model.state_dict(), "losses": losses, "train_seconds": seconds,
                "train_cpu_seconds": cpu,
                "vocab": [list(src_vocab.words), list(tgt_vocab.words)]}

    payload = cache.cached("seq2seq-attention", cfg, compute, verbose=verbose)
    src_vocab.check_same(Vocab(payload["vocab"][0][3:]))
    tgt_vocab.check_same(Vocab(payload["vocab"][1][3:]))
    model = build()
    model.load_state_dict(payload["state_dict"])
    model.eval()
    return model, {k: v for k, v in payload.items() if k not in ("state_dict", "vocab")}


def alignment_accuracy(model: Seq2Seq, pairs: Pairs, weights: torch.Tensor | None = None) -> float:
    """Share of target words whose argmax attention falls on a source word truly aligned to it."""
    if not isinstance(pairs, Pairs):
        raise TypeError(f"pairs must be a Pairs from make_translation_pairs; got {type(pairs).__name__}")
    w = model.attend(pairs.src, pairs.tgt) if weights is None else weights
    best = w.argmax(-1)
    hits = [int(best[n, t]) in aligned for n, ali in enumerate(pairs.alignment)
            for t, aligned in enumerate(ali)]
    return float(np.mean(hits))


def translation_accuracy(model: Seq2Seq, pairs: Pairs) -> float:
    """Share of sentences translated exactly right by greedy decoding."""
    out, _ = model.translate(pairs.src)
    return float(np.mean([o == t for o, t in zip(out, pairs.tgt)]))


# ----------------------------------------------------------------------------- figures

def plot_caption_attention(image: torch.Tensor, caption: str, maps: torch.Tensor, stride: int,
                           boxes=None, title: str | None = None, vmax: float | None = None):
    """One panel per word: the attention used to write it, over the image (as in Xu et al., Fig. 3).

    For object words the object's true box is drawn in white and the attention maximum as a cross.
    ``vmax`` fixes the top of the colour scale (give the same to figures that are to be compared);
    by default it is this figure's largest weight.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    words = caption.split() + [EOS]
    check_tensor(image, "image", ndim=3, channels=3)
    if maps.shape[0] < len(words):
        raise ValueError(f"need one map per word ({len(words)}); got {maps.shape[0]}")
    size = image.shape[-1]
    up = F.interpolate(maps[:len(words)].unsqueeze(1), size=(size, size), mode="nearest").squeeze(1)
    peaks = attention_peaks(maps[:len(words)], stride)
    owner = dict(object_words(caption))
    fig, axes = plt.subplots(1, len(words) + 1, figsize=(2.1 * (len(words) + 1), 2.6))
    axes[0].imshow(image.permute(1, 2, 0).numpy())
    axes[0].set_title("image")
    for t, (ax, word) in enumerate(zip(axes[1:], words)):
        ax.imshow(image.permute(1, 2, 0).numpy())
        im = ax.imshow(up[t].numpy(), cmap="magma", alpha=0.75, vmin=0, vmax=float(up.max()) if vmax is None else vmax)
        ax.set_title(word, fontsize=13)
        if boxes is not None and t in owner:
            x0, y0, x1, y1 = boxes[owner[t]]
            ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, ec="white", lw=1.5))
            ax.plot(peaks[t, 0] - 0.5, peaks[t, 1] - 0.5, "c+", ms=12, mew=2)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=axes.tolist(), fraction=0.015, pad=0.01, label="attention weight")
    fig.suptitle(title or "attention while writing each word (white: the object's box, +: maximum)")
    return fig


def plot_alignment(src: Sequence[str], tgt: Sequence[str], weights: torch.Tensor, alignment=None,
                   ax=None):
    """The attention matrix of one sentence pair; the true alignment, if given, as white squares."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    src, tgt = list(src) + [EOS], list(tgt) + [EOS]
    w = weights[:len(tgt), :len(src)].numpy()
    if ax is None:
        _, ax = plt.subplots(figsize=(0.55 * len(src) + 2, 0.5 * len(tgt) + 1.5))
    im = ax.imshow(w, cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(len(src)), src, rotation=60, ha="right")
    ax.set_yticks(range(len(tgt)), tgt)
    ax.set_xlabel("source word (attended)")
    ax.set_ylabel("target word (written)")
    for t, positions in enumerate(alignment or []):
        for i in positions:
            ax.add_patch(Rectangle((i - 0.5, t - 0.5), 1, 1, fill=False, ec="white", lw=1.5))
    plt.colorbar(im, ax=ax, label="attention weight")
    ax.set_title("attention of the translator (white squares: true alignment)")
    return ax
