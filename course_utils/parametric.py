"""A parametric embedding y_phi(x): a small network trained to maximise I(y1; y2) over neighbour pairs.

t-SNE's embedding is a table: one free 2-D point per data point, so a new point has no place in it.
Here the embedding is a function. Draw pairs (x1, x2) where x2 is one of the k nearest neighbours
of x1, embed both with the same network, and train it with InfoNCE (van den Oord et al., 2018):

    L = -1/B sum_b log( f(y1_b, y2_b) / sum_c f(y1_b, y2_c) ),   f(u, v) = 1 / (1 + |u - v|^2),

which bounds the mutual information between the two embedded neighbours, I(y1; y2) >= log B - L.
The score f is t-SNE's Student-t kernel, so the optimum puts neighbours close and everything else
far, as t-SNE does (Damrich et al., ICLR 2023). New points are embedded by one forward pass.
"""
from __future__ import annotations

import numbers

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .checks import check_array, check_scalar
from .train import one_thread, run_seed


def nearest_neighbours(X: torch.Tensor, k: int) -> torch.Tensor:
    """Indices (N, k) of the k nearest neighbours of each row of X (Euclidean, self excluded)."""
    D = torch.cdist(X, X)
    D.fill_diagonal_(float("inf"))
    return D.topk(k, largest=False).indices


def cauchy_logits(y1: torch.Tensor, y2: torch.Tensor) -> torch.Tensor:
    """log f(y1_b, y2_c) = -log(1 + |y1_b - y2_c|^2) for all pairs (b, c): shape (B, B)."""
    sq = (y1 * y1).sum(1, keepdim=True) + (y2 * y2).sum(1) - 2.0 * y1 @ y2.T
    return -torch.log1p(sq.clamp_min(0.0))


def info_nce(y1: torch.Tensor, y2: torch.Tensor) -> torch.Tensor:
    """InfoNCE loss of B positive pairs (y1_b, y2_b); the other y2_c in the batch are the negatives."""
    return F.cross_entropy(cauchy_logits(y1, y2), torch.arange(len(y1)))


class ParametricEmbedding:
    """y_phi(x) = MLP(x), trained with InfoNCE on k-nearest-neighbour pairs; ``transform`` embeds new points.

    Parameters: ``n_components`` output dimension, ``n_neighbors`` k of the positive pairs,
    ``hidden`` width of the two hidden layers, ``n_steps`` Adam steps of ``batch_size`` pairs,
    ``learning_rate`` peak of a one-cycle schedule, ``noise`` std of Gaussian noise added to the
    inputs while training (a regulariser: without it the network memorises the training points
    and places unseen ones worse), ``random_state`` seed.
    Attributes after ``fit``: ``network_``, ``mi_bound_`` (log B - L per step, nats), ``embedding_``.
    """

    def __init__(self, n_components: int = 2, n_neighbors: int = 15, hidden: int = 128,
                 n_steps: int = 600, batch_size: int = 256, learning_rate: float = 1e-2,
                 noise: float = 0.2, random_state: int = 0):
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.hidden = hidden
        self.n_steps = n_steps
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.noise = noise
        self.random_state = random_state

    def _validate(self, X):
        X = check_array(X, "X", ndim=2, min_rows=5)
        check_scalar(self.n_components, "n_components", numbers.Integral, low=1)
        check_scalar(self.n_neighbors, "n_neighbors", numbers.Integral, low=1, high=len(X) - 1)
        check_scalar(self.hidden, "hidden", numbers.Integral, low=1)
        check_scalar(self.n_steps, "n_steps", numbers.Integral, low=1)
        check_scalar(self.batch_size, "batch_size", numbers.Integral, low=2)
        check_scalar(self.learning_rate, "learning_rate", numbers.Real, low=0, include_low=False)
        check_scalar(self.noise, "noise", numbers.Real, low=0)
        check_scalar(self.random_state, "random_state", numbers.Integral)
        return torch.as_tensor(np.asarray(X, dtype=np.float32))

    def fit(self, X, y=None):
        X = self._validate(X)
        with one_thread():  # the matrices are tiny: splitting each op over threads costs more than it saves
            self._train(X)
        self.network_.eval()
        self.embedding_ = self.transform(X)
        return self

    def _train(self, X):
        with torch.random.fork_rng(devices=[]):  # seed locally; leave the caller's RNG alone
            torch.manual_seed(run_seed(self.random_state))
            h = self.hidden
            self.network_ = nn.Sequential(
                nn.Linear(X.shape[1], h), nn.BatchNorm1d(h), nn.ReLU(),
                nn.Linear(h, h), nn.BatchNorm1d(h), nn.ReLU(),
                nn.Linear(h, self.n_components))
            anchors = torch.arange(len(X)).repeat_interleave(self.n_neighbors)
            positives = nearest_neighbours(X, self.n_neighbors).reshape(-1)
            opt = torch.optim.Adam(self.network_.parameters(), lr=self.learning_rate)
            schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=self.learning_rate, total_steps=self.n_steps)
            B = self.batch_size
            self.mi_bound_ = []
            self.network_.train()
            for _ in range(self.n_steps):
                pick = torch.randint(len(anchors), (B,))
                x = X[torch.cat([anchors[pick], positives[pick]])]
                x = x + self.noise * torch.randn_like(x)
                y = self.network_(x)  # both halves in one pass: the same BatchNorm statistics
                loss = info_nce(y[:B], y[B:])
                opt.zero_grad()
                loss.backward()
                opt.step()
                schedule.step()
                self.mi_bound_.append(float(np.log(B) - loss.item()))

    @torch.no_grad()
    def transform(self, X) -> np.ndarray:
        """Embed (M, D) points, seen or unseen, with the trained network: (M, n_components)."""
        if not hasattr(self, "network_"):
            raise RuntimeError("ParametricEmbedding is not fitted yet; call fit(X) first")
        X = check_array(X, "X", ndim=2)
        if X.shape[1] != self.network_[0].in_features:
            raise ValueError(f"X must have {self.network_[0].in_features} features; got {X.shape[1]}")
        return self.network_(torch.as_tensor(np.asarray(X, dtype=np.float32))).numpy().astype(np.float64)

    def fit_transform(self, X, y=None) -> np.ndarray:
        return self.fit(X).embedding_
