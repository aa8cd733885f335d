"""t-SNE from scratch: the lecture's equations in numpy, fast enough to compare with the libraries.

The pieces, in the order the lecture builds them:

1. ``conditional_probabilities``: P(j|i) = exp(-beta_i d_ij) / sum_k exp(-beta_i d_ik), with d_ij the
   squared distance and beta_i = 1 / (2 sigma_i^2) found by ``binary_search_sigma`` so that every row
   has the same entropy H(P(.|i)) = log(perplexity).
2. ``joint_probabilities``: P({i,j}) = (P(j|i) + P(i|j)) / 2N, symmetric, sums to 1, zero diagonal.
3. ``student_t_affinities``: Q({i,j}) = w_ij / Z with w_ij = 1 / (1 + |y_i - y_j|^2).
4. ``kl_divergence`` and its hand-derived gradient ``kl_gradient``:
   dKL/dy_i = 4 sum_j (p_ij - q_ij) w_ij (y_i - y_j).
5. ``TSNE``: gradient descent with early exaggeration, momentum and per-coordinate gains.

Everything is exact (no Barnes-Hut, no FFT, no nearest-neighbour truncation of P): O(N^2) time
per step and O(N^2) memory. ``TSNE`` gets its speed from float32, from visiting each pair {i,j}
once (W and P are symmetric), from working in tiles small enough to stay in the CPU cache, from a
Newton-bracketed search for the sigma_i, and from stopping when KL stops falling. See
``benchmarks/tsne.py`` for where this stops being sensible (a few thousand points) and what to use
beyond.
"""
from __future__ import annotations

import numbers
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import threadpool_limits

from .checks import check_array, check_choice, check_scalar

# ----------------------------------------------------------------------------- input space: P


def squared_distances(X) -> np.ndarray:
    """Dense (N, N) float64 matrix of squared Euclidean distances |x_i - x_j|^2, zero diagonal."""
    X = np.asarray(X, dtype=np.float64)
    sq = np.einsum("ij,ij->i", X, X)
    # |x_i|^2 + |x_j|^2 - 2 x_i.x_j, built in place: at N = 5,000 each temporary would be 200 MB.
    D = X @ X.T
    D *= -2.0
    D += sq[:, None]
    D += sq[None, :]
    np.maximum(D, 0.0, out=D)  # rounding can make tiny distances negative
    np.fill_diagonal(D, 0.0)
    return D


def row_entropy(distances, beta: float) -> tuple[float, np.ndarray]:
    """Entropy H (in nats) of one conditional row p_j = exp(-beta d_j) / sum_k exp(-beta d_k), and the row.

    ``distances`` are the squared distances from point i to every *other* point (self excluded).
    Subtracting the smallest distance first changes nothing (it cancels in the ratio) but keeps
    exp() from underflowing to 0/0 for far-away points.
    """
    d = np.asarray(distances, dtype=np.float64)
    d = d - d.min()
    p = np.exp(-beta * d)
    s = p.sum()
    p /= s
    # H = -sum p log p = log s + beta * sum p d, because log p_j = -beta d_j - log s
    return float(np.log(s) + beta * (p * d).sum()), p


def binary_search_sigma(D, perplexity: float, tol: float = 1e-5, max_iter: int = 100, chunk: int = 512):
    """Per-point precisions beta_i = 1 / (2 sigma_i^2) such that H(P(.|i)) = log(perplexity) for every i.

    ``D`` is the (N, N) matrix of squared distances. H(beta) falls monotonically from log(N-1) to 0
    as beta grows, so each row's root is kept inside a bracket [lo, hi] on u = log(beta). Inside it
    we take Newton steps, dH/du = -beta^2 Var_p(d), which land within ``tol`` in 3-6 steps instead of
    the ~40 of plain bisection; a step that would leave the bracket bisects instead, and no step
    changes beta by more than a factor e (the Newton model is only local). Rows are searched
    ``chunk`` at a time, all rows of a chunk at once. Returns (beta, n_iter) with beta of shape (N,).
    """
    D = np.asarray(D, dtype=np.float64)
    n = len(D)
    target = np.log(perplexity)
    k = min(n - 1, max(1, int(perplexity)))
    beta, n_iter = np.empty(n), 0
    for start in range(0, n, chunk):
        d = D[start:start + chunk].copy()
        m = len(d)
        self_ = (np.arange(m), np.arange(start, start + m))
        d[self_] = np.inf
        d -= d.min(axis=1, keepdims=True)  # shift each row so its nearest neighbour is at 0
        d[self_] = 0.0
        # Start where a Gaussian reaches past the perplexity-th neighbour: beta ~ 3 / d_(k).
        u = np.log(3.0) - np.log(np.partition(d, k, axis=1)[:, k] + 1e-12)
        lo, hi = np.full(m, -np.inf), np.full(m, np.inf)
        rows = np.arange(m)  # rows still searching
        for it in range(1, max_iter + 1):
            dr = d if len(rows) == m else d[rows]
            ur = u[rows]
            b = np.exp(ur)
            p = np.exp(-b[:, None] * dr)
            p[np.arange(len(rows)), start + rows] = 0.0  # a point is not its own neighbour
            s = p.sum(axis=1)
            p *= dr
            m1 = p.sum(axis=1) / s                 # E_p[d]
            m2 = np.einsum("ij,ij->i", p, dr) / s  # E_p[d^2]
            diff = np.log(s) + b * m1 - target     # H - log(perplexity), as H = log s + beta E_p[d]
            lo[rows] = np.where(diff > 0, ur, lo[rows])  # entropy too high -> beta too small
            hi[rows] = np.where(diff < 0, ur, hi[rows])
            new = ur + np.clip(diff / np.maximum(b * b * (m2 - m1 * m1), 1e-300), -1.0, 1.0)
            inside = (new > lo[rows]) & (new < hi[rows])
            new = np.where(inside, new, 0.5 * (lo[rows] + hi[rows]))
            done = np.abs(diff) <= tol
            u[rows] = np.where(done, ur, new)
            rows = rows[~done]
            if len(rows) == 0:
                break
        beta[start:start + m] = np.exp(u)
        n_iter = max(n_iter, it)
    return beta, n_iter


def conditional_probabilities(D, perplexity: float, tol: float = 1e-5, overwrite: bool = False):
    """Row-stochastic P(j|i) from squared distances ``D`` (N, N): returns (P_cond, sigma).

    With ``overwrite=True`` the float64 ``D`` is turned into P in place (saves an N x N copy).
    """
    beta, _ = binary_search_sigma(D, perplexity, tol=tol)
    P = np.asarray(D, dtype=np.float64) if overwrite else np.array(D, dtype=np.float64)
    np.fill_diagonal(P, np.inf)  # exp(-inf) = 0: P(i|i) = 0
    P -= P.min(axis=1, keepdims=True)
    P *= -beta[:, None]
    np.exp(P, out=P)
    P /= P.sum(axis=1, keepdims=True)
    return P, np.sqrt(1.0 / (2.0 * beta))


def _check_X(X, name="X"):
    X = check_array(X, name, ndim=2, min_rows=5)
    return X


def _check_perplexity(perplexity, n):
    check_scalar(perplexity, f"perplexity (for N={n} points)", numbers.Real, low=1, high=n - 1,
                 include_low=False, include_high=False)
    return float(perplexity)


def joint_probabilities(X, perplexity: float = 30.0) -> np.ndarray:
    """The dense (N, N) float64 matrix P({i,j}) = (P(j|i) + P(i|j)) / 2N of the data ``X`` (N, D).

    P is symmetric, sums to 1 and has a zero diagonal. Each conditional row has entropy
    log(perplexity) within 1e-5 nats. Requires 1 < perplexity < N - 1 and N >= 5.
    """
    X = _check_X(X)
    perplexity = _check_perplexity(perplexity, len(X))
    P, _ = conditional_probabilities(squared_distances(X), perplexity, overwrite=True)
    # P + P.T block by block, in place: `P += P.T` would need a hidden N x N copy of P.T.
    b = 512
    for i in range(0, len(P), b):
        for j in range(i, len(P), b):
            s = P[i:i + b, j:j + b] + P[j:j + b, i:i + b].T
            P[i:i + b, j:j + b] = s
            P[j:j + b, i:i + b] = s.T
    P /= 2.0 * len(X)
    return P


# ----------------------------------------------------------------------------- embedding: Q, KL, gradient


def student_t_affinities(Y) -> tuple[np.ndarray, np.ndarray]:
    """(Q, W): W_ij = 1 / (1 + |y_i - y_j|^2) with zero diagonal, and Q = W / sum(W)."""
    W = 1.0 / (1.0 + squared_distances(Y))
    np.fill_diagonal(W, 0.0)
    return W / W.sum(), W


def kl_divergence(P, Y, chunk: int = 1024) -> float:
    """KL(P || Q) = sum_ij p_ij log(p_ij / q_ij) of the embedding ``Y``, in float64; terms with p_ij = 0 are 0.

    Computed ``chunk`` rows at a time as sum p log p - sum p log w + log Z (using sum p = 1), so that
    no (N, N) temporary beyond P itself is needed.
    """
    P = np.asarray(P, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    sq = np.einsum("ij,ij->i", Y, Y)
    p_log_p = p_log_w = Z = 0.0
    for start in range(0, len(Y), chunk):
        rows = slice(start, start + chunk)
        d = np.maximum(sq[rows, None] + sq[None, :] - 2.0 * Y[rows] @ Y.T, 0.0)
        w = 1.0 / (1.0 + d)
        np.fill_diagonal(w[:, start:], 0.0)  # w_ii = 0
        Z += w.sum()
        p = P[rows]
        mask = p > 0
        p_log_p += np.sum(p[mask] * np.log(p[mask]))
        p_log_w += np.sum(p[mask] * np.log(w[mask]))
    return float(p_log_p - p_log_w + np.log(Z))


def kl_gradient(P, Y) -> np.ndarray:
    """dKL(P||Q)/dY = 4 sum_j (p_ij - q_ij) w_ij (y_i - y_j), the readable dense float64 version."""
    Y = np.asarray(Y, dtype=np.float64)
    Q, W = student_t_affinities(Y)
    M = (np.asarray(P, dtype=np.float64) - Q) * W  # (N, N)
    # sum_j M_ij (y_i - y_j) = y_i * (row sum of M) - (M @ Y)_i
    return 4.0 * (Y * M.sum(axis=1, keepdims=True) - M @ Y)


def _tile_ranges(n: int, size: int):
    edges = list(range(0, n, size)) + [n]
    return list(zip(edges[:-1], edges[1:]))


class _Gradient:
    """The exact gradient (and KL) with exaggeration alpha, in float32 tiles: the maths of ``kl_gradient``.

    Split the gradient into attraction and repulsion,
        dKL/dy_i = 4 [ alpha sum_j p_ij w_ij (y_i - y_j)  -  (1/Z) sum_j w_ij^2 (y_i - y_j) ],
    and note each sum is y_i * (sum_j c_ij) - sum_j c_ij y_j: one product of the tile with [Y, 1].
    W and P are symmetric, so each tile (I, J) with I < J serves both its rows (c @ [Y_J, 1]) and
    its columns (c.T @ [Y_I, 1]): only the upper triangle is computed. Tiles hold a few hundred
    points so that W stays in the CPU cache between the dozen passes over it; the tiles are dealt
    to ``n_threads`` threads (numpy releases the GIL inside each call) in a fixed order, so the
    result does not depend on thread timing.
    """

    def __init__(self, P, tile: int = 384, n_threads: int = 1):
        self.n = len(P)
        ranges = _tile_ranges(self.n, tile)
        tiles, self.p_log_p = [], 0.0  # p_log_p: the constant part of KL, sum p log p
        for a, (i0, i1) in enumerate(ranges):
            block = np.asarray(P[i0:i1], dtype=np.float64)
            self.p_log_p += float(np.sum(block[block > 0] * np.log(block[block > 0])))
            for j0, j1 in ranges[a:]:
                Pt = block[:, j0:j1].astype(np.float32)
                # p_ij below 1e-20 cannot matter next to sum(P) = 1, but as float32 they (and their
                # products with w_ij) are subnormal numbers, which the CPU handles ~100x slower.
                Pt[Pt < 1e-20] = 0.0
                tiles.append(((i0, i1), (j0, j1), Pt))
        self.groups = [tiles[t::n_threads] for t in range(n_threads)]
        self.pool = ThreadPoolExecutor(n_threads) if n_threads > 1 else None

    def _work(self, tiles, A, B, Y1, with_kl):
        att = np.zeros(Y1.shape, np.float32)  # sum_j p_ij w_ij [y_j, 1]
        rep = np.zeros(Y1.shape, np.float32)  # sum_j w_ij^2 [y_j, 1]
        Z = p_log_w = 0.0
        for (i0, i1), (j0, j1), Pt in tiles:
            twice = 1.0 if i0 == j0 else 2.0  # an off-diagonal tile stands for itself and its transpose
            W = A[i0:i1] @ B[j0:j1].T            # 1 + |y_i - y_j|^2, as one small matrix product
            np.divide(1.0, W, out=W)             # Student-t kernel w_ij
            if with_kl:
                p_log_w += twice * float(np.vdot(Pt, np.log(W)))
            if i0 == j0:
                np.fill_diagonal(W, 0.0)
            Z += twice * float(np.sum(W @ np.ones(j1 - j0, np.float32)))
            PW = Pt * W
            np.multiply(W, W, out=W)
            att[i0:i1] += PW @ Y1[j0:j1]
            rep[i0:i1] += W @ Y1[j0:j1]
            if i0 != j0:
                att[j0:j1] += PW.T @ Y1[i0:i1]
                rep[j0:j1] += W.T @ Y1[i0:i1]
        return att, rep, Z, p_log_w

    def __call__(self, Y, exaggeration: float = 1.0, with_kl: bool = False):
        """(gradient (N, d) float32, KL(P||Q) or None) at the float32 embedding Y (N, d)."""
        sq = np.einsum("ij,ij->i", Y, Y)[:, None]
        one = np.ones((self.n, 1), np.float32)
        # [y_i, |y_i|^2, 1] . [-2 y_j, 1, 1 + |y_j|^2] = 1 + |y_i - y_j|^2
        A = np.hstack([Y, sq, one])
        B = np.hstack([-2.0 * Y, one, sq + 1.0])
        Y1 = np.hstack([Y, one])
        if self.pool is None:
            parts = [self._work(self.groups[0], A, B, Y1, with_kl)]
        else:
            parts = list(self.pool.map(lambda g: self._work(g, A, B, Y1, with_kl), self.groups))
        att, rep, Z, p_log_w = (sum(part[k] for part in parts) for k in range(4))
        d = Y.shape[1]
        grad = exaggeration * (Y * att[:, d:] - att[:, :d]) - (Y * rep[:, d:] - rep[:, :d]) / Z
        # KL = sum p log p - sum p log q = sum p log p - sum p log w + log Z   (sum p = 1)
        kl = self.p_log_p - p_log_w + np.log(Z) if with_kl else None
        return 4.0 * grad, kl

    def close(self):
        if self.pool is not None:
            self.pool.shutdown()


# ----------------------------------------------------------------------------- the estimator


class TSNE:
    """Exact t-SNE (van der Maaten & Hinton, 2008) following scikit-learn's estimator conventions.

    Parameters
    ----------
    n_components : dimension of the embedding (>= 1).
    perplexity : effective number of neighbours; 1 < perplexity < N - 1.
    n_iter : maximum number of gradient steps, early exaggeration included.
    early_exaggeration, n_iter_early : P is multiplied by ``early_exaggeration`` for the first
        ``n_iter_early`` steps so that clusters gather before the fine structure settles.
    learning_rate : a number, or "auto": N / early_exaggeration while exaggerating (Belkina et al.,
        2019) and N / 4 afterwards (the step openTSNE takes; our gradient keeps the factor 4).
    momentum : (during exaggeration, afterwards).
    tol : stop once KL(P||Q) fell by less than this fraction over the last ``check_every`` steps
        (checked only after exaggeration); 0 runs all ``n_iter`` steps.
    init : "pca" (deterministic and keeps the global layout) or "random".
    random_state : seed for init="random" (the run is deterministic either way).
    snapshot_every : keep (step, embedding, KL) every that many steps in ``snapshots_``.
    n_jobs : threads for the gradient. On a busy 2-core machine 1 is often as fast as 2.

    Attributes: ``embedding_`` (N, n_components), ``kl_divergence_`` (KL(P||Q) of the final
    embedding without exaggeration, in float64), ``n_iter_`` (steps taken), ``P_``, ``snapshots_``.
    """

    def __init__(self, n_components: int = 2, perplexity: float = 30.0, n_iter: int = 1000,
                 early_exaggeration: float = 12.0, n_iter_early: int = 75, learning_rate="auto",
                 momentum=(0.5, 0.9), tol: float = 3e-3, check_every: int = 50, init: str = "pca",
                 random_state: int = 0, snapshot_every: int | None = None, n_jobs: int = 1):
        self.n_components = n_components
        self.perplexity = perplexity
        self.n_iter = n_iter
        self.early_exaggeration = early_exaggeration
        self.n_iter_early = n_iter_early
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.tol = tol
        self.check_every = check_every
        self.init = init
        self.random_state = random_state
        self.snapshot_every = snapshot_every
        self.n_jobs = n_jobs

    def _validate(self, X):
        X = _check_X(X)
        check_scalar(self.n_components, "n_components", numbers.Integral, low=1)
        _check_perplexity(self.perplexity, len(X))
        check_scalar(self.n_iter, "n_iter", numbers.Integral, low=1)
        check_scalar(self.early_exaggeration, "early_exaggeration", numbers.Real, low=1)
        check_scalar(self.n_iter_early, "n_iter_early", numbers.Integral, low=0)
        if not (isinstance(self.learning_rate, str) and self.learning_rate == "auto"):
            check_scalar(self.learning_rate, "learning_rate", numbers.Real, low=0, include_low=False)
        if len(self.momentum) != 2:
            raise ValueError(f"momentum must be a pair (early, late); got {self.momentum!r}")
        for m in self.momentum:
            check_scalar(m, "momentum", numbers.Real, low=0, high=1, include_high=False)
        check_scalar(self.tol, "tol", numbers.Real, low=0)
        check_scalar(self.check_every, "check_every", numbers.Integral, low=1)
        check_choice(self.init, "init", ["pca", "random"])
        check_scalar(self.random_state, "random_state", numbers.Integral)
        if self.snapshot_every is not None:
            check_scalar(self.snapshot_every, "snapshot_every", numbers.Integral, low=1)
        check_scalar(self.n_jobs, "n_jobs", numbers.Integral, low=1)
        return np.asarray(X, dtype=np.float64)

    def _initial_embedding(self, X):
        if self.init == "pca":
            Xc = X - X.mean(axis=0)
            if Xc.shape[1] <= len(Xc):  # top eigenvectors of the D x D scatter: cheaper than an SVD when N >> D
                _, V = np.linalg.eigh(Xc.T @ Xc)
                Y = Xc @ V[:, ::-1][:, : self.n_components]
            else:
                U, S, _ = np.linalg.svd(Xc, full_matrices=False)
                Y = U[:, : self.n_components] * S[: self.n_components]
            Y *= np.sign(Y[np.abs(Y).argmax(axis=0), range(Y.shape[1])])  # fix SVD's arbitrary signs
            if Y.shape[1] < self.n_components:  # fewer features than components
                Y = np.hstack([Y, np.zeros((len(X), self.n_components - Y.shape[1]))])
        else:
            Y = np.random.default_rng(self.random_state).standard_normal((len(X), self.n_components))
        # Start tiny (std 1e-4 along the first axis): all points attract before any repel.
        return Y / max(np.std(Y[:, 0]), 1e-12) * 1e-4

    def fit_transform(self, X, y=None):
        """Embed ``X`` (N, D) and return the (N, n_components) float64 embedding."""
        X = self._validate(X)
        n = len(X)
        self.P_ = joint_probabilities(X, self.perplexity)
        auto = isinstance(self.learning_rate, str)
        rate_early = n / self.early_exaggeration if auto else float(self.learning_rate)
        rate_late = n / 4.0 if auto else float(self.learning_rate)
        Y = self._initial_embedding(X).astype(np.float32)
        update = np.zeros_like(Y)
        gains = np.ones_like(Y)
        self.snapshots_, self.kl_history_ = [], []
        last_kl = np.inf
        gradient = _Gradient(self.P_, n_threads=self.n_jobs)
        try:
            # BLAS would start its own threads for each small tile product; ours are enough.
            with threadpool_limits(1, user_api="blas"):
                for step in range(1, self.n_iter + 1):
                    early = step <= self.n_iter_early
                    check = not early and self.tol > 0 and (step - self.n_iter_early) % self.check_every == 0
                    snap = bool(self.snapshot_every) and (step == 1 or step % self.snapshot_every == 0)
                    grad, kl = gradient(Y, self.early_exaggeration if early else 1.0, with_kl=check)
                    # Gains (Jacobs, 1988): while a coordinate keeps moving the same way (its gradient
                    # still points against the last update) its step grows; once it overshoots
                    # (gradient and last update agree in sign) the step shrinks.
                    flipped = np.sign(grad) != np.sign(update)
                    gains = np.maximum(np.where(flipped, gains + 0.2, gains * 0.8), 0.01)
                    update = self.momentum[0 if early else 1] * update - (rate_early if early else rate_late) * gains * grad
                    Y += update
                    if snap:
                        self.snapshots_.append((step, Y.astype(np.float64), kl_divergence(self.P_, Y)))
                    if check:
                        self.kl_history_.append((step, kl))
                        if last_kl - kl < self.tol * last_kl:
                            break
                        last_kl = kl
        finally:
            gradient.close()
        self.n_iter_ = step
        self.embedding_ = Y.astype(np.float64)
        self.kl_divergence_ = kl_divergence(self.P_, self.embedding_)
        if self.snapshot_every and self.snapshots_[-1][0] != step:  # stopped between snapshots
            self.snapshots_.append((step, self.embedding_.copy(), self.kl_divergence_))
        return self.embedding_

    def fit(self, X, y=None):
        """Embed ``X``; the result is in ``embedding_``."""
        self.fit_transform(X)
        return self


# ----------------------------------------------------------------------------- evaluation and plots


def knn_accuracy(Y, labels, k: int = 10, folds: int = 5) -> float:
    """k-NN classification accuracy in the embedding, by stratified ``folds``-fold cross-validation."""
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier
    Y = check_array(Y, "Y", ndim=2)
    labels = check_array(labels, "labels", ndim=1)
    if len(Y) != len(labels):
        raise ValueError(f"Y and labels must have the same length; got {len(Y)} and {len(labels)}")
    splits = StratifiedKFold(folds, shuffle=True, random_state=0)
    return float(cross_val_score(KNeighborsClassifier(k), Y, labels, cv=splits).mean())


def plot_embedding(Y, labels, title: str, ax=None, colorbar: bool = True, s: float = 4, **kwargs):
    """Scatter a 2-D embedding coloured by digit label (0-9), with title, axis labels and a colourbar."""
    import matplotlib.pyplot as plt
    Y = check_array(Y, "Y", ndim=2)
    ax = plt.gca() if ax is None else ax
    points = ax.scatter(Y[:, 0], Y[:, 1], c=labels, cmap="tab10", vmin=-0.5, vmax=9.5, s=s, **kwargs)
    ax.set_title(title)
    ax.set_xlabel("embedding dimension 1")
    ax.set_ylabel("embedding dimension 2")
    if colorbar:
        ax.figure.colorbar(points, ax=ax, ticks=range(10), label="digit")
    return points
