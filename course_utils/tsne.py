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

The exact method (``TSNE(method="exact")``) has no approximation: O(N^2) time per step and
O(N^2) memory. It gets its speed from float32, from visiting each pair {i,j} once (W and P are
symmetric), from working in tiles small enough to stay in the CPU cache, from a Newton-bracketed
search for the sigma_i, and from stopping when KL stops falling. It is the sensible choice up to a
few thousand points.

6. Beyond (``TSNE(method="fft")``, the default above ``EXACT_MAX_N`` points), two ideas:
   ``sparse_joint_probabilities`` keeps P over each point's 3 x perplexity nearest neighbours
   (``nearest_neighbors``), and ``fft_repulsion`` approximates the repulsion and Z by
   interpolating the points onto a grid and convolving there by FFT (FIt-SNE). See
   ``benchmarks/tsne.py`` for both against openTSNE and scikit-learn.
"""
from __future__ import annotations

import numbers
import time
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

    ``D`` is the (N, N) matrix of squared distances, or the (N, k) squared distances from each point
    to its k nearest neighbours (itself excluded) for a sparse P. H(beta) falls monotonically from log(N-1) to 0
    as beta grows, so each row's root is kept inside a bracket [lo, hi] on u = log(beta). Inside it
    we take Newton steps, dH/du = -beta^2 Var_p(d), which land within ``tol`` in 3-6 steps instead of
    the ~40 of plain bisection; a step that would leave the bracket bisects instead, and no step
    changes beta by more than a factor e (the Newton model is only local). Rows are searched
    ``chunk`` at a time, all rows of a chunk at once. Returns (beta, n_iter) with beta of shape (N,).
    """
    D = np.asarray(D, dtype=np.float64)
    n = len(D)
    full = D.shape[1] == n  # (N, N); otherwise (N, k): distances to k neighbours, self excluded
    target = np.log(perplexity)
    k = min(D.shape[1] - 1, max(1, int(perplexity)))
    beta, n_iter = np.empty(n), 0
    for start in range(0, n, chunk):
        d = D[start:start + chunk].copy()
        m = len(d)
        self_ = (np.arange(m), np.arange(start, start + m)) if full else (slice(0), slice(0))
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
            if full:
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
    D = _check_distances(D)
    _check_perplexity(perplexity, len(D))
    check_scalar(tol, "tol", numbers.Real, low=0, include_low=False)
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
    if X.shape[1] == 0:
        raise ValueError(f"{name} needs at least one feature (column); got shape {X.shape}")
    return X


def _check_distances(D):
    """A dense, square, finite, non-negative matrix of squared distances (as float64)."""
    if hasattr(D, "tocsr") or type(D).__module__.startswith("scipy.sparse"):
        raise TypeError("D must be a dense (N, N) array of squared distances; got a scipy sparse matrix "
                        f"({type(D).__name__}). Pass D.toarray(), or a kNN graph to TSNE(method='fft')")
    D = check_array(D, "D (squared distances)", ndim=2, min_rows=3)
    if D.shape[0] != D.shape[1]:
        raise ValueError(f"D (squared distances) must be square (N, N); got shape {D.shape}")
    if D.min() < 0:
        raise ValueError(f"D (squared distances) must be non-negative; got a minimum of {D.min():.3g}")
    return D


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

    def _work(self, tiles, A, B, Y1, with_kl, far_out):
        att = np.zeros(Y1.shape, np.float32)  # sum_j p_ij w_ij [y_j, 1]
        rep = np.zeros(Y1.shape, np.float32)  # sum_j w_ij^2 [y_j, 1]
        Z = p_log_w = 0.0
        for (i0, i1), (j0, j1), Pt in tiles:
            twice = 1.0 if i0 == j0 else 2.0  # an off-diagonal tile stands for itself and its transpose
            W = A[i0:i1] @ B[j0:j1].T            # 1 + |y_i - y_j|^2, as one small matrix product
            # The expansion rounds off about |y|^2 * 6e-8: on the diagonal, where it should be
            # exactly 1, and far from the origin, where it can even fall below 0 (log w = NaN).
            # The embedding is centred; only if it is still far out (|y| > 100) do we pay for a clamp.
            if i0 == j0:
                np.fill_diagonal(W, 1.0)
            if far_out:
                np.maximum(W, 1.0, out=W)
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
        # Gradient and KL depend only on differences y_i - y_j: centring first keeps |y|^2 small,
        # so that the expansion below loses fewer digits.
        Y = Y - Y.mean(axis=0)
        sq = np.einsum("ij,ij->i", Y, Y)[:, None]
        one = np.ones((self.n, 1), np.float32)
        # [y_i, |y_i|^2, 1] . [-2 y_j, 1, 1 + |y_j|^2] = 1 + |y_i - y_j|^2
        A = np.hstack([Y, sq, one])
        B = np.hstack([-2.0 * Y, one, sq + 1.0])
        Y1 = np.hstack([Y, one])
        far_out = bool(sq.max() > 1e4)
        if self.pool is None:
            parts = [self._work(self.groups[0], A, B, Y1, with_kl, far_out)]
        else:
            parts = list(self.pool.map(lambda g: self._work(g, A, B, Y1, with_kl, far_out), self.groups))
        att, rep, Z, p_log_w = (sum(part[k] for part in parts) for k in range(4))
        d = Y.shape[1]
        grad = exaggeration * (Y * att[:, d:] - att[:, :d]) - (Y * rep[:, d:] - rep[:, :d]) / Z
        # KL = sum p log p - sum p log q = sum p log p - sum p log w + log Z   (sum p = 1)
        kl = self.p_log_p - p_log_w + np.log(Z) if with_kl else None
        return 4.0 * grad, kl

    def close(self):
        if self.pool is not None:
            self.pool.shutdown()


# ----------------------------------------------------------------------------- approximate t-SNE, for large N
#
# Exact t-SNE needs all N^2 pairs twice over: in P and in the repulsion. Two ideas remove both.
# 1. A sparse P. P(j|i) of a point falls off like a Gaussian: beyond its ~3 x perplexity nearest
#    neighbours it is negligible, so P keeps only those (van der Maaten, 2014): N x k numbers.
# 2. An approximate repulsion. sum_j w_ij^2 (y_i - y_j) and Z = sum_ij w_ij are smooth sums over
#    all pairs, i.e. convolutions of the points with a kernel. Spread each point's charge onto a
#    regular grid by polynomial interpolation, convolve on the grid by FFT, and interpolate the
#    result back at the points: O(N + G log G) for a grid of G nodes (Linderman et al., 2019,
#    FIt-SNE; what openTSNE does above 10,000 points).


def nearest_neighbors(X, k: int, batch: int = 1024, device=None):
    """Exact k nearest neighbours of every row of ``X`` (N, D), itself excluded.

    Returns (indices (N, k) int64, squared distances (N, k) float64), nearest first. Brute force
    in row blocks: a (batch, N) block of distances, then its k smallest per row (torch.topk);
    the chosen distances are recomputed exactly in float64. On ``device`` ("cuda", ...) if given.
    """
    import torch
    X = check_array(X, "X", ndim=2)
    n = len(X)
    check_scalar(k, f"n_neighbors (for N={n} points)", numbers.Integral, low=1, high=n - 1)
    X64 = np.asarray(X, dtype=np.float64)
    Xt = torch.as_tensor((X64 - X64.mean(axis=0)).astype(np.float32), device=device)
    sq = (Xt * Xt).sum(1)
    indices = np.empty((n, k), dtype=np.int64)
    block = torch.empty((min(batch, n), n), dtype=Xt.dtype, device=device)  # reused: a fresh
    # (batch, N) array per block costs more in page faults than the product itself
    for start in range(0, n, batch):
        rows = slice(start, min(start + batch, n))
        d = block[: rows.stop - rows.start]
        # |x_i - x_j|^2 = |x_i|^2 + (|x_j|^2 - 2 x_i.x_j): the first term is the same along a row,
        # so the ranking needs only the second, one fused matrix product.
        torch.addmm(sq[None, :], Xt[rows], Xt.T, alpha=-2.0, out=d)
        d[torch.arange(d.shape[0]), torch.arange(rows.start, rows.stop)] = float("inf")  # not itself
        indices[rows] = torch.topk(d, k, dim=1, largest=False, sorted=True).indices.cpu().numpy()
    # The chosen distances, exactly, in float64 on the CPU (mps has no float64), in torch's threads.
    X64t, chosen = torch.from_numpy(X64), torch.from_numpy(indices)
    distances = np.empty((n, k))
    for start in range(0, n, batch):
        rows = slice(start, start + batch)
        distances[rows] = ((X64t[rows, None, :] - X64t[chosen[rows]]) ** 2).sum(-1).numpy()
    return indices, distances


def _check_knn(knn, n: int):
    """A precomputed kNN graph: (indices (N, k), squared distances (N, k)), as nearest_neighbors returns."""
    if not isinstance(knn, (tuple, list)) or len(knn) != 2:
        raise TypeError("knn must be a pair (indices, squared distances) of (N, k) arrays, as "
                        f"tsne.nearest_neighbors returns; got {type(knn).__name__}")
    indices = check_array(knn[0], "knn indices", ndim=2, dtype_kind="iu")
    distances = check_array(knn[1], "knn distances", ndim=2)
    if indices.shape[0] != n or distances.shape != indices.shape:
        raise ValueError(f"knn indices and distances must both have shape (N, k) with N = {n}; "
                         f"got {indices.shape} and {distances.shape}")
    if indices.shape[1] >= n:
        raise ValueError(f"knn has k = {indices.shape[1]} neighbours for N = {n} points; k must be < N")
    if indices.min() < 0 or indices.max() >= n:
        raise ValueError(f"knn indices must lie in [0, {n - 1}]; got [{indices.min()}, {indices.max()}]")
    if (indices == np.arange(n)[:, None]).any():
        raise ValueError("knn lists a point as its own neighbour; exclude it")
    if distances.min() < 0:
        raise ValueError(f"knn distances must be non-negative squared distances; got {distances.min():.3g}")
    return indices.astype(np.int64), distances.astype(np.float64)


def sparse_joint_probabilities(X=None, perplexity: float = 30.0, n_neighbors: int | None = None, knn=None):
    """P({i,j}) over each point's nearest neighbours only, as a symmetric scipy CSR matrix (sums to 1).

    The same recipe as ``joint_probabilities``, restricted to ``n_neighbors`` (default
    min(N - 1, 3 x perplexity)) neighbours per point: sigma_i by the same search, P(j|i) = 0
    beyond the neighbours, then (P(j|i) + P(i|j)) / 2N. ``knn`` = (indices, squared distances)
    replaces the neighbour search (then ``X`` may be None).
    """
    import scipy.sparse
    if knn is None:
        X = _check_X(X)
        n = len(X)
        k = _check_n_neighbors(n_neighbors, perplexity, n)
        knn = nearest_neighbors(X, k)
    else:
        n = len(knn[0]) if X is None else len(_check_X(X))
        knn = _check_knn(knn, n)
        _check_n_neighbors(knn[0].shape[1], perplexity, n)
    indices, distances = knn
    perplexity = _check_perplexity(perplexity, n)
    beta, _ = binary_search_sigma(distances, perplexity)
    P = np.exp(-beta[:, None] * (distances - distances.min(axis=1, keepdims=True)))
    P /= P.sum(axis=1, keepdims=True)
    rows = np.repeat(np.arange(n), indices.shape[1])
    P = scipy.sparse.csr_matrix((P.ravel(), (rows, indices.ravel())), shape=(n, n))
    P = (P + P.T).tocsr() / (2.0 * n)
    P.sort_indices()
    return P


def _check_n_neighbors(n_neighbors, perplexity, n: int) -> int:
    if n_neighbors is None or (isinstance(n_neighbors, str) and n_neighbors == "auto"):
        return int(min(n - 1, max(3 * float(perplexity), 1)))
    check_scalar(n_neighbors, f"n_neighbors (for N={n} points)", numbers.Integral, low=1, high=n - 1)
    if n_neighbors <= perplexity:
        raise ValueError(f"n_neighbors must exceed the perplexity ({perplexity}) so that every row can "
                         f"reach it; got {n_neighbors} (3 x perplexity is usual)")
    return int(n_neighbors)


def sparse_kl_divergence(P, Y, Z: float | None = None) -> float:
    """KL(P || Q) for a sparse P (scipy matrix): sum over stored p_ij of p log p - p log w, + log Z.

    ``Z`` = sum_{i != j} w_ij; computed exactly in blocks (O(N^2) time, O(N) memory) if not given.
    """
    import scipy.sparse
    P = scipy.sparse.coo_matrix(P)
    Y = np.asarray(Y, dtype=np.float64)
    p = P.data
    keep = p > 0
    d = ((Y[P.row[keep]] - Y[P.col[keep]]) ** 2).sum(1)
    p = p[keep]
    if Z is None:
        Z, sq = 0.0, np.einsum("ij,ij->i", Y, Y)
        for start in range(0, len(Y), 1024):
            D = np.maximum(sq[start:start + 1024, None] + sq[None] - 2 * Y[start:start + 1024] @ Y.T, 0.0)
            Z += (1.0 / (1.0 + D)).sum() - min(1024, len(Y) - start)  # minus the diagonal w_ii = 1
    return float(np.sum(p * np.log(p)) + np.sum(p * np.log1p(d)) + np.log(Z))


def lagrange_weights(t, n_nodes: int) -> np.ndarray:
    """Weights (len(t), n_nodes) of the Lagrange polynomials through nodes 0, 1, ..., n_nodes-1 at t."""
    W = np.ones((len(t), n_nodes))
    for k in range(n_nodes):
        for m in range(n_nodes):
            if m != k:
                W[:, k] *= (t - m) / (k - m)
    return W


def _interpolation(Y, n_interpolation_points: int, min_num_intervals: int, ints_in_interval: float):
    """The grid of ``fft_repulsion`` and each point's Lagrange weights on it.

    Returns (node (N, p*p) flat node indices, weight (N, p*p), G nodes per side, node spacing).
    """
    n, p = len(Y), n_interpolation_points
    lo = Y.min(axis=0)
    span = float((Y.max(axis=0) - lo).max()) * (1 + 1e-9) + 1e-9
    n_boxes = int(max(min_num_intervals, np.ceil(span * ints_in_interval)))
    h = span / n_boxes                 # box side
    G = n_boxes * p                    # nodes per side; node g sits at lo + (g + 0.5) h / p
    u = (Y - lo) / h                   # position in box units
    box = np.minimum(u.astype(np.int64), n_boxes - 1)
    t = (u - box) * p - 0.5            # position in its box, in node units
    wx, wy = lagrange_weights(t[:, 0], p), lagrange_weights(t[:, 1], p)
    gx, gy = box[:, :1] * p + np.arange(p), box[:, 1:] * p + np.arange(p)
    node = (gx[:, :, None] * G + gy[:, None, :]).reshape(n, p * p)
    weight = (wx[:, :, None] * wy[:, None, :]).reshape(n, p * p)
    return node, weight, G, h / p


def even_kernel_spectrum(kernel, L: int, spacing: float) -> np.ndarray:
    """The DFT, in ``rfft2``'s (L, L/2 + 1) layout, of ``kernel(dx^2 + dy^2)`` on an L x L torus of nodes.

    The kernel is even in both axes, so its DFT is real and equals a DCT-I of one quadrant:
    a quarter of the points of a full ``rfft2``, and no imaginary part to carry.
    """
    import scipy.fft
    offset = np.arange(L // 2 + 1, dtype=np.float32) * np.float32(spacing)
    K = scipy.fft.dctn(kernel(offset[:, None] ** 2 + offset[None, :] ** 2), type=1, workers=-1)
    return np.concatenate([K, K[-2:0:-1]])   # rows L/2+1 .. L-1 mirror rows L/2-1 .. 1


def fft_repulsion(Y, n_interpolation_points: int = 3, min_num_intervals: int = 50,
                  ints_in_interval: float = 1.0):
    """FFT-interpolated repulsion of a 2-D embedding: (R, Z) with R_i ~ sum_j w_ij^2 (y_i - y_j),
    Z ~ sum_{i != j} w_ij, w_ij = 1 / (1 + |y_i - y_j|^2) (Linderman et al., 2019).

    The square around Y is cut into boxes of side at most 1 / ``ints_in_interval`` (at least
    ``min_num_intervals`` per side), each with ``n_interpolation_points`` equispaced nodes per side.
    Each point spreads its charges (1, y_i) onto the nodes of its box with Lagrange weights; the
    nodes interact exactly, by a circular convolution on the grid done by FFT (the grid is
    zero-padded to twice its size, so nothing wraps around); the result is interpolated back with
    the same weights. More nodes per box or smaller boxes: more accurate, slower.
    """
    import scipy.fft
    import scipy.sparse
    Y = np.asarray(Y, dtype=np.float64)
    n = len(Y)
    node, weight, G, spacing = _interpolation(Y, n_interpolation_points, min_num_intervals, ints_in_interval)
    # Interpolation as a sparse (N, G*G) matrix: spreading onto the grid is W.T @ charges,
    # reading the grid back at the points is W @ potentials.
    k = node.shape[1]
    W = scipy.sparse.csr_matrix((weight.ravel().astype(np.float32), node.ravel(), np.arange(0, n * k + 1, k)),
                                shape=(n, G * G))
    charges = np.column_stack([np.ones(n), Y]).astype(np.float32)     # (1, y1, y2) per point
    grid = np.ascontiguousarray((W.T @ charges).T).reshape(3, G, G)
    # float32 on the grid: twice as fast, and its rounding (1e-7) is far below the interpolation's.
    L = 2 * scipy.fft.next_fast_len(G)   # even, and >= 2G: the circular convolution does not wrap
    w_squared = even_kernel_spectrum(lambda d2: 1.0 / (1.0 + d2) ** 2, L, spacing)
    w_spectrum = even_kernel_spectrum(lambda d2: 1.0 / (1.0 + d2), L, spacing)
    # The 2-D FFT, one axis at a time: the last G of the L rows are zero padding, so the first
    # axis is transformed on G rows only (and on the way back only G rows are needed).
    spectra = scipy.fft.fft(scipy.fft.rfft(grid, n=L, axis=2, workers=-1), n=L, axis=1, workers=-1)
    # Z = sum_ij w_ij = <grid_1, w * grid_1>, which by Parseval's theorem is read off the spectrum
    # of the charge-1 grid: no inverse transform. (rfft keeps half the columns: count the others twice.)
    twice = np.full(L // 2 + 1, 2.0)
    twice[[0, -1]] = 1.0
    Z = float(np.sum(twice * np.sum(np.abs(spectra[0]) ** 2 * w_spectrum, axis=0, dtype=np.float64))) / L ** 2
    spectra *= w_squared
    potential = scipy.fft.irfft(scipy.fft.ifft(spectra, axis=1, workers=-1)[:, :G], n=L, axis=2, workers=-1)
    phi = W @ np.ascontiguousarray(potential[:, :, :G].reshape(3, G * G).T)   # (N, 3), back at the points
    # sum_j w_ij^2 (y_i - y_j) = y_i phi_1 - phi_y (the j = i terms cancel); Z without the N w_ii = 1.
    R = Y * phi[:, :1] - phi[:, 1:]
    return R, Z - n


class _SparseGradient:
    """The t-SNE gradient with a sparse P and the FFT repulsion: same interface as ``_Gradient``.

    Attraction: 4 alpha sum_j p_ij w_ij (y_i - y_j) over the stored pairs only. P is symmetric,
    so each pair {i,j} is visited once (its upper triangle) and acts on both its points.
    Repulsion: -4 R_i / Z from ``fft_repulsion``.
    """

    def __init__(self, P, n_interpolation_points=3, min_num_intervals=50, ints_in_interval=1.0, device=None,
                 n_threads: int = 1):
        import scipy.sparse
        U = scipy.sparse.triu(P, k=1).tocsr()
        self.n = P.shape[0]
        self.counts = np.diff(U.indptr)
        self.cols = U.indices.astype(np.int32)
        self.p = U.data.astype(np.float32)
        self.M = scipy.sparse.csr_matrix((self.p.copy(), U.indices, U.indptr), shape=U.shape)
        self.p_log_p = 2.0 * float(np.sum(U.data * np.log(U.data)))  # both triangles
        self.fft = dict(n_interpolation_points=n_interpolation_points, min_num_intervals=min_num_intervals,
                        ints_in_interval=ints_in_interval)
        self.device = device
        # With two threads the attraction (sparse products, single-threaded) runs while the main
        # thread computes the repulsion: both release the GIL, so they overlap.
        self.pool = ThreadPoolExecutor(1) if n_threads > 1 else None

    def attraction(self, Y):
        """(A, d2): A_i = sum_j p_ij w_ij (y_i - y_j) over the stored pairs, float32."""
        d2 = np.zeros(len(self.cols), np.float32)
        for k in range(Y.shape[1]):
            yk = np.ascontiguousarray(Y[:, k])
            diff = np.repeat(yk, self.counts) - yk[self.cols]   # y_ik - y_jk for every stored pair
            d2 += diff * diff
        self.M.data = self.p / (1.0 + d2)                       # p_ij w_ij
        Y1 = np.hstack([Y, np.ones((self.n, 1), np.float32)])
        s = self.M @ Y1 + self.M.T @ Y1                         # both triangles: [sum_j pw_ij y_j, sum_j pw_ij]
        return Y * s[:, -1:] - s[:, :-1], d2

    def __call__(self, Y, exaggeration: float = 1.0, with_kl: bool = False):
        attraction = self.pool.submit(self.attraction, Y) if self.pool else None
        if self.device is None or self.device.type == "cpu":
            R, Z = fft_repulsion(Y, **self.fft)
        else:
            R, Z = fft_repulsion_torch(Y, device=self.device, **self.fft)
        A, d2 = attraction.result() if attraction else self.attraction(Y)
        grad = 4.0 * (exaggeration * A - R / Z)
        kl = None
        if with_kl:  # KL = sum p log p - sum p log w + log Z, over both triangles
            kl = self.p_log_p + 2.0 * float(np.vdot(self.p, np.log1p(d2))) + np.log(Z)
        return grad.astype(np.float32), kl

    def close(self):
        if self.pool:  # later calls (the final KL) run on this thread
            self.pool.shutdown()
            self.pool = None


def fft_repulsion_torch(Y, device, n_interpolation_points: int = 3, min_num_intervals: int = 50,
                        ints_in_interval: float = 1.0):
    """``fft_repulsion`` with the grid work in torch on ``device`` (cuda or mps): the same steps.

    The interpolation weights come from the same numpy code; spreading, the FFTs and reading back
    run on the device (torch has no DCT, so the kernels' real spectra come from a full ``rfft2``).
    """
    import scipy.fft
    import torch
    Y = np.asarray(Y, dtype=np.float64)
    n = len(Y)
    node, weight, G, spacing = _interpolation(Y, n_interpolation_points, min_num_intervals, ints_in_interval)
    node = torch.as_tensor(node, device=device)
    weight = torch.as_tensor(weight, dtype=torch.float32, device=device)
    charges = torch.as_tensor(np.stack([np.ones(n), Y[:, 0], Y[:, 1]]), dtype=torch.float32, device=device)
    grid = torch.zeros(3, G * G, device=device).index_add_(
        1, node.ravel(), (weight[None] * charges[:, :, None]).reshape(3, -1))
    L = 2 * scipy.fft.next_fast_len(G)
    idx = torch.arange(L, device=device)
    offset = torch.minimum(idx, L - idx).float() * spacing
    d2 = offset[:, None] ** 2 + offset[None, :] ** 2
    w_squared, w_spectrum = torch.fft.rfft2(torch.stack([1.0 / (1.0 + d2) ** 2, 1.0 / (1.0 + d2)])).real
    spectra = torch.fft.fft(torch.fft.rfft(grid.reshape(3, G, G), n=L, dim=2), n=L, dim=1)
    twice = torch.full((L // 2 + 1,), 2.0, device=device)
    twice[[0, -1]] = 1.0
    Z = float((twice * (spectra[0].abs() ** 2 * w_spectrum).sum(0)).sum()) / L ** 2
    spectra = spectra * w_squared
    potential = torch.fft.irfft(torch.fft.ifft(spectra, dim=1)[:, :G], n=L, dim=2)[:, :, :G].reshape(3, G * G)
    phi = (weight[None] * potential[:, node]).sum(-1).cpu().numpy().astype(np.float64)   # (3, N)
    R = Y * phi[0][:, None] - phi[1:].T
    return R, Z - n


# ----------------------------------------------------------------------------- the estimator


def _clip_rows(update, max_norm: float):
    """Scale down, in place, every row of ``update`` longer than ``max_norm`` to that length."""
    norms = np.sqrt(np.einsum("ij,ij->i", update, update))
    too_long = norms > max_norm
    if too_long.any():
        update[too_long] *= (max_norm / norms[too_long])[:, None]


# method="auto": exact up to here (benchmarks/tsne.py: at N = 5,000 exact still matched openTSNE's
# time on one thread); beyond, the sparse P and the FFT repulsion.
EXACT_MAX_N = 5000


class TSNE:
    """t-SNE (van der Maaten & Hinton, 2008) following scikit-learn's estimator conventions.

    Parameters
    ----------
    n_components : dimension of the embedding (>= 1; 2 for method="fft").
    perplexity : effective number of neighbours; 1 < perplexity < N - 1.
    method : "exact" (dense P, all pairs), "fft" (P over the nearest neighbours and the
        FFT-interpolated repulsion, ``fft_repulsion``), or "auto": exact up to
        ``EXACT_MAX_N`` points, fft beyond.
    n_neighbors : neighbours per point in the sparse P (method="fft"): "auto" = 3 x perplexity.
    n_interpolation_points, min_num_intervals, ints_in_interval : accuracy of ``fft_repulsion``
        (openTSNE's names and defaults).
    device : "auto" (cuda, then mps, else cpu), or a torch device, for the neighbour search and
        the FFT repulsion (method="fft"). The exact method always runs on the CPU.
    n_iter : maximum number of gradient steps, early exaggeration included.
    early_exaggeration, n_iter_early : P is multiplied by ``early_exaggeration`` for the first
        ``n_iter_early`` steps so that clusters gather before the fine structure settles.
    learning_rate : a number, or "auto": N / early_exaggeration while exaggerating (Belkina et al.,
        2019) and N / 4 afterwards (the step openTSNE takes; our gradient keeps the factor 4).
        A number is the step after exaggeration; while exaggerating it is capped at
        N / early_exaggeration, the largest step for which the exaggerated phase contracts
        clusters instead of oscillating (Linderman & Steinerberger, 2019). Without the cap a
        fixed rate that is large for N (100 for 80 points) flings points apart in the first steps.
    momentum : (during exaggeration, afterwards).
    max_step_norm : no point moves farther than this in one step (openTSNE's default, 5), a guard
        against single points shooting off after a large gradient; ``None`` turns it off.
    tol : stop once KL(P||Q) fell by less than this fraction over the last ``check_every`` steps
        (checked only after exaggeration; a KL that rose does not count as converged); 0 runs all
        ``n_iter`` steps.
    init : "pca" (deterministic and keeps the global layout), "random", or an (N, n_components)
        array used as given (as scikit-learn and openTSNE do; for t-SNE's usual start, scale it to
        a standard deviation of about 1e-4).
    random_state : seed for init="random" (the run is deterministic either way).
    snapshot_every : keep (step, embedding, KL) every that many steps in ``snapshots_``.
    n_jobs : threads for the gradient. On a busy 2-core machine 1 is often as fast as 2 for the
        exact method; for "fft", 2 lets the attraction run beside the repulsion (its FFTs use
        every core either way).

    Attributes: ``embedding_`` (N, n_components), ``kl_divergence_`` (KL(P||Q) of the final
    embedding without exaggeration; exact in float64 for method="exact", with the sparse P and the
    FFT estimate of Z for "fft"), ``n_iter_`` (steps taken), ``method_`` (the method used),
    ``P_`` (dense array, or scipy CSR for "fft"), ``snapshots_``, ``kl_history_``, ``timings_``
    (seconds spent building P, neighbour search included, and in the ``n_iter_`` steps).

    ``fit(X, knn=(indices, squared distances))`` uses a precomputed kNN graph (method="fft").
    """

    def __init__(self, n_components: int = 2, perplexity: float = 30.0, n_iter: int = 1000,
                 early_exaggeration: float = 12.0, n_iter_early: int = 75, learning_rate="auto",
                 momentum=(0.5, 0.9), max_step_norm: float | None = 5.0, tol: float = 3e-3,
                 check_every: int = 50, init="pca", random_state: int = 0,
                 snapshot_every: int | None = None, n_jobs: int = 1, method: str = "auto",
                 n_neighbors="auto", n_interpolation_points: int = 3, min_num_intervals: int = 50,
                 ints_in_interval: float = 1.0, device="auto"):
        self.n_components = n_components
        self.perplexity = perplexity
        self.n_iter = n_iter
        self.early_exaggeration = early_exaggeration
        self.n_iter_early = n_iter_early
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.max_step_norm = max_step_norm
        self.tol = tol
        self.check_every = check_every
        self.init = init
        self.random_state = random_state
        self.snapshot_every = snapshot_every
        self.n_jobs = n_jobs
        self.method = method
        self.n_neighbors = n_neighbors
        self.n_interpolation_points = n_interpolation_points
        self.min_num_intervals = min_num_intervals
        self.ints_in_interval = ints_in_interval
        self.device = device

    def _choose_method(self, n: int) -> str:
        check_choice(self.method, "method", ["auto", "exact", "fft"])
        if self.method == "auto":
            return "exact" if n <= EXACT_MAX_N else "fft"
        return self.method

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
        if self.max_step_norm is not None:
            check_scalar(self.max_step_norm, "max_step_norm", numbers.Real, low=0, include_low=False)
        if isinstance(self.init, str):
            check_choice(self.init, "init", ["pca", "random"])
        else:
            init = check_array(self.init, "init", ndim=2)
            if init.shape != (len(X), self.n_components):
                raise ValueError(f"init must have shape (N, n_components) = {(len(X), self.n_components)}; "
                                 f"got {init.shape}")
        check_scalar(self.random_state, "random_state", numbers.Integral)
        if self.snapshot_every is not None:
            check_scalar(self.snapshot_every, "snapshot_every", numbers.Integral, low=1)
        check_scalar(self.n_jobs, "n_jobs", numbers.Integral, low=1)
        method = self._choose_method(len(X))
        if method == "fft":
            if self.n_components != 2:
                raise ValueError(f"method='fft' embeds in 2-D; got n_components={self.n_components} "
                                 "(use method='exact')")
            _check_n_neighbors(self.n_neighbors, self.perplexity, len(X))
            check_scalar(self.n_interpolation_points, "n_interpolation_points", numbers.Integral, low=2)
            check_scalar(self.min_num_intervals, "min_num_intervals", numbers.Integral, low=1)
            check_scalar(self.ints_in_interval, "ints_in_interval", numbers.Real, low=0, include_low=False)
        return np.asarray(X, dtype=np.float64)

    def _torch_device(self):
        import torch
        if isinstance(self.device, str) and self.device == "auto":
            from .train import pick_device
            return pick_device()
        try:
            return torch.device(self.device)
        except (RuntimeError, TypeError) as error:
            raise ValueError(f"device must be 'auto' or a torch device such as 'cpu' or 'cuda'; "
                             f"got {self.device!r}") from error

    def _initial_embedding(self, X):
        if not isinstance(self.init, str):
            return np.array(self.init, dtype=np.float64)
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

    def fit_transform(self, X, y=None, knn=None):
        """Embed ``X`` (N, D) and return the (N, n_components) float64 embedding.

        ``knn``: optional precomputed (indices, squared distances), both (N, k), for method="fft".
        """
        X = self._validate(X)
        n = len(X)
        self.method_ = self._choose_method(n)
        started = time.perf_counter()
        if self.method_ == "exact":
            if knn is not None:
                raise ValueError("knn is used by method='fft' only; the exact method needs all pairs")
            self.P_ = joint_probabilities(X, self.perplexity)
            gradient = _Gradient(self.P_, n_threads=self.n_jobs)
            kl_of = lambda Y: kl_divergence(self.P_, Y)  # noqa: E731
        else:
            device = self._torch_device()
            if knn is None:
                k = _check_n_neighbors(self.n_neighbors, self.perplexity, n)
                knn = nearest_neighbors(X, k, device=device)
            self.P_ = sparse_joint_probabilities(X, self.perplexity, knn=knn)
            gradient = _SparseGradient(self.P_, self.n_interpolation_points, self.min_num_intervals,
                                       self.ints_in_interval, device=device, n_threads=self.n_jobs)
            kl_of = lambda Y: gradient(np.asarray(Y, np.float32), with_kl=True)[1]  # noqa: E731
        optimising = time.perf_counter()
        auto = isinstance(self.learning_rate, str)
        rate_early = n / self.early_exaggeration  # "auto", and the cap on a fixed rate (see the docstring)
        if not auto:
            rate_early = min(rate_early, float(self.learning_rate))
        rate_late = n / 4.0 if auto else float(self.learning_rate)
        Y = self._initial_embedding(X).astype(np.float32)
        update = np.zeros_like(Y)
        gains = np.ones_like(Y)
        self.snapshots_, self.kl_history_ = [], []
        last_kl = np.inf
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
                    if self.max_step_norm is not None:
                        _clip_rows(update, self.max_step_norm)
                    Y += update
                    if snap:
                        self.snapshots_.append((step, Y.astype(np.float64), kl_of(Y)))
                    if check:
                        self.kl_history_.append((step, kl))
                        if not np.isfinite(kl):
                            raise FloatingPointError(f"KL(P||Q) became {kl} at step {step}: the optimisation "
                                                     "diverged; lower learning_rate or max_step_norm")
                        # Stop when KL fell by less than tol. A KL that rose is not convergence but
                        # a transient (points still sorting themselves out after a large step): go on.
                        if 0 <= last_kl - kl < self.tol * last_kl:
                            break
                        last_kl = kl
        finally:
            gradient.close()
        self.n_iter_ = step
        self.timings_ = {"affinities_s": optimising - started, "optimisation_s": time.perf_counter() - optimising}
        self.embedding_ = Y.astype(np.float64)
        self.kl_divergence_ = float(kl_of(self.embedding_))
        if self.snapshot_every and self.snapshots_[-1][0] != step:  # stopped between snapshots
            self.snapshots_.append((step, self.embedding_.copy(), self.kl_divergence_))
        return self.embedding_

    def fit(self, X, y=None, knn=None):
        """Embed ``X``; the result is in ``embedding_``."""
        self.fit_transform(X, knn=knn)
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


def neighbour_overlap(A, B, k: int = 10) -> float:
    """Mean Jaccard overlap of each point's ``k`` nearest neighbours in ``A`` and in ``B``.

    ``A`` and ``B`` are two views of the same N points (two maps, or a map and the data), rows
    aligned; a point is not its own neighbour. 1 means every neighbourhood is the same in both.
    """
    from sklearn.neighbors import NearestNeighbors
    A = check_array(A, "A", ndim=2, min_rows=2)
    B = check_array(B, "B", ndim=2, min_rows=2)
    if len(A) != len(B):
        raise ValueError(f"A and B must hold the same points (same number of rows); got {len(A)} and {len(B)}")
    check_scalar(k, "k", numbers.Integral, low=1, high=len(A) - 1)
    sets = [NearestNeighbors(n_neighbors=k + 1).fit(V).kneighbors(V, return_distance=False)[:, 1:] for V in (A, B)]
    shared = np.array([len(np.intersect1d(a, b)) for a, b in zip(*sets)])
    return float(np.mean(shared / (2 * k - shared)))


def clumping_index(Y) -> float:
    """Clark & Evans's (1954) ratio: mean nearest-neighbour distance over its value for a uniform scatter.

    The uniform value is ``0.5 / sqrt(density)``, the density taken over the convex hull of the
    2-D points. About 1 for points scattered independently, below 1 when they clump into groups,
    above 1 when they are spread more evenly than chance.
    """
    from scipy.spatial import ConvexHull
    from sklearn.neighbors import NearestNeighbors
    Y = check_array(Y, "Y", ndim=2, min_rows=4)
    if Y.shape[1] != 2:
        raise ValueError(f"Y must be a 2-D map of shape (N, 2); got shape {Y.shape}")
    nearest = NearestNeighbors(n_neighbors=2).fit(Y).kneighbors(Y)[0][:, 1]
    area = ConvexHull(Y).volume
    return float(nearest.mean() / (0.5 * np.sqrt(area / len(Y))))


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
