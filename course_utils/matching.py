"""Matching units between two networks (Li et al., "Convergent Learning", ICLR 2016).

    corr = channel_correlation(acts1, acts2)      # (C1, C2) Pearson correlations
    j_hat = semi_matching(corr)                   # best partner of each net1 unit (may repeat)
    rows, cols = bipartite_matching(corr)         # one-to-one, maximising the summed correlation
    match = hopcroft_karp(corr > 0.5)             # most pairs above a threshold

``bipartite_matching`` is the Hungarian algorithm (shortest augmenting paths with dual potentials,
O(n^2 m)), its inner loop over columns vectorised with numpy. ``hopcroft_karp`` finds a
maximum-cardinality matching in O(E sqrt(V)) by augmenting along many shortest paths per phase.
Both are written from scratch; ``tests/test_matching.py`` checks them against scipy.
"""
from __future__ import annotations

from collections import deque

import numpy as np
from threadpoolctl import threadpool_limits

from .checks import check_array


def single_blas_thread():
    """A context in which numpy's BLAS uses one thread: an (N, C) x (N, C) product with C <= a few
    hundred is too small to gain from more, and on a shared machine extra threads only contend."""
    return threadpool_limits(limits=1, user_api="blas")


def channels_last(activations) -> np.ndarray:
    """(N, C) or (N, C, H, W) activations to (N*H*W, C): every image *and position* is one sample."""
    arr = check_array(activations, "activations", ndim=(2, 4), dtype_kind="fiu")
    if arr.ndim == 4:
        arr = np.moveaxis(arr, 1, -1).reshape(-1, arr.shape[1])
    return np.asarray(arr, dtype=np.float64)


def standardize(x, name: str = "activations") -> np.ndarray:
    """Zero mean, unit variance per column; a constant column is an error, not a silent NaN."""
    arr = check_array(x, name, ndim=2, dtype_kind="fiu", min_rows=2).astype(np.float64)
    std = arr.std(axis=0)
    constant = np.flatnonzero(std <= 1e-12 * np.maximum(1.0, np.abs(arr).max(axis=0)))
    if constant.size:
        shown = ", ".join(map(str, constant[:10])) + (" ..." if constant.size > 10 else "")
        raise ValueError(f"{name} has {constant.size} constant channel(s) (zero variance), so their "
                         f"correlation is undefined: channels {shown}. Drop them (e.g. dead ReLUs) first")
    return (arr - arr.mean(axis=0)) / std


def channel_correlation(a, b) -> np.ndarray:
    """Pearson correlation rho_ij between column i of ``a`` (N, C1) and column j of ``b`` (N, C2).

    rho_ij = E[(u_i - mu_i)(v_j - mu_j)] / (sigma_i sigma_j), averaged over the N rows (images, or
    images x positions after :func:`channels_last`). Returns a (C1, C2) float64 array.
    """
    a = check_array(a, "a", ndim=2, dtype_kind="fiu", min_rows=2)
    b = check_array(b, "b", ndim=2, dtype_kind="fiu", min_rows=2)
    if len(a) != len(b):
        raise ValueError(f"a and b must hold the same samples (same N); got N={len(a)} and N={len(b)}")
    za, zb = standardize(a, "a"), standardize(b, "b")
    with single_blas_thread():
        return np.clip(za.T @ zb / len(za), -1.0, 1.0)


def _check_matrix(corr, name: str = "corr") -> np.ndarray:
    arr = check_array(corr, name, ndim=2, dtype_kind="fiu")
    if 0 in arr.shape:
        raise ValueError(f"{name} must have at least one row and one column; got shape {arr.shape}")
    return np.asarray(arr, dtype=np.float64)


def semi_matching(corr) -> np.ndarray:
    """j_hat(i) = argmax_j corr[i, j]: each row's best column. Several rows may pick the same column."""
    return _check_matrix(corr).argmax(axis=1)


def _hungarian_min(cost: np.ndarray) -> np.ndarray:
    """Minimum-cost assignment of every row of ``cost`` (n <= m) to a distinct column.

    Shortest augmenting paths with potentials u (rows), v (columns): reduced costs
    cost[i, j] - u[i] - v[j] stay >= 0, and tight edges (reduced cost 0) form the paths.
    Index 0 is a virtual column that holds the row being inserted. Returns col_of_row.
    """
    n, m = cost.shape
    u, v = np.zeros(n + 1), np.zeros(m + 1)
    row_of_col = np.zeros(m + 1, dtype=np.int64)  # p[j]: row (1-based) matched to column j; 0 = free
    way = np.zeros(m + 1, dtype=np.int64)         # previous column on the shortest path to j
    for i in range(1, n + 1):
        row_of_col[0] = i
        j0 = 0
        minv = np.full(m + 1, np.inf)
        used = np.zeros(m + 1, dtype=bool)
        while True:
            used[j0] = True
            i0 = row_of_col[j0]
            free = ~used
            free[0] = False
            # Dijkstra step, all columns at once: relax the edges out of row i0.
            reduced = cost[i0 - 1] - u[i0] - v[1:]
            better = free[1:] & (reduced < minv[1:])
            minv[1:][better] = reduced[better]
            way[1:][better] = j0
            masked = np.where(free, minv, np.inf)
            j1 = int(masked.argmin())
            delta = masked[j1]
            u[row_of_col[used]] += delta
            v[used] -= delta
            minv[free] -= delta
            j0 = j1
            if row_of_col[j0] == 0:
                break
        while j0:  # flip the path: every column on it takes the row of its predecessor
            j1 = way[j0]
            row_of_col[j0] = row_of_col[j1]
            j0 = j1
    col_of_row = np.empty(n, dtype=np.int64)
    matched = np.flatnonzero(row_of_col[1:]) + 1
    col_of_row[row_of_col[matched] - 1] = matched - 1
    return col_of_row


def bipartite_matching(corr) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one assignment maximising sum_i corr[i, col(i)] (the Hungarian algorithm).

    Rectangular matrices are allowed: min(C1, C2) pairs are matched. Returns ``(rows, cols)``
    sorted by row, like ``scipy.optimize.linear_sum_assignment(corr, maximize=True)``.
    """
    arr = _check_matrix(corr)
    transposed = arr.shape[0] > arr.shape[1]
    cost = -(arr.T if transposed else arr)  # maximise corr = minimise -corr
    cols = _hungarian_min(np.ascontiguousarray(cost))
    rows = np.arange(len(cols))
    if transposed:
        rows, cols = cols, rows
        order = np.argsort(rows)
        rows, cols = rows[order], cols[order]
    return rows, cols


def _check_adjacency(adjacency) -> np.ndarray:
    """A boolean (rows, cols) matrix from a dense boolean or 0/1 matrix, or from a scipy sparse matrix.

    A sparse matrix's edges are its *stored* entries, explicit zeros included, as in scipy's
    ``maximum_bipartite_matching`` (whose input is a graph: a stored entry is an edge whatever its value).
    """
    if hasattr(adjacency, "tocoo") and hasattr(adjacency, "nnz"):  # scipy sparse
        if adjacency.ndim != 2:
            raise ValueError(f"adjacency must be 2-D; got a sparse matrix of shape {adjacency.shape}")
        coo = adjacency.tocoo()
        check_array(coo.data, "adjacency's stored values", ndim=1, dtype_kind="biuf")
        arr = np.zeros(coo.shape, dtype=bool)
        arr[coo.row, coo.col] = True
        return arr
    arr = check_array(adjacency, "adjacency", ndim=2, dtype_kind="biuf")
    if arr.dtype.kind != "b":
        if not np.isin(arr, (0, 1)).all():
            raise ValueError("adjacency must be boolean (or 0/1); got values such as "
                             f"{arr[~np.isin(arr, (0, 1))][:3].tolist()} - threshold a correlation "
                             "matrix first, e.g. corr > 0.5")
        arr = arr.astype(bool)
    return arr


def _check_match(match, adj: np.ndarray) -> np.ndarray:
    """``match[i]``: row i's column or -1; every pair an edge of ``adj``, no column used twice."""
    arr = check_array(match, "match", ndim=1, dtype_kind="iu").astype(np.int64)
    n_rows, n_cols = adj.shape
    if len(arr) != n_rows:
        raise ValueError(f"match must have one entry per row ({n_rows}); got {len(arr)}")
    bad = np.flatnonzero((arr < -1) | (arr >= n_cols))
    if bad.size:
        raise ValueError(f"match entries must be a column in [0, {n_cols - 1}] or -1; "
                         f"row {bad[0]} has {arr[bad[0]]}")
    rows = np.flatnonzero(arr >= 0)
    missing = rows[~adj[rows, arr[rows]]]
    if missing.size:
        raise ValueError(f"match pairs must be edges of adjacency; row {missing[0]} -> column "
                         f"{arr[missing[0]]} is not")
    cols, counts = np.unique(arr[rows], return_counts=True)
    if (counts > 1).any():
        raise ValueError(f"match must use each column at most once; column {cols[counts > 1][0]} is used "
                         f"{counts[counts > 1][0]} times")
    return arr


def hopcroft_karp(adjacency) -> np.ndarray:
    """Maximum-cardinality matching of a bipartite graph given as a boolean (rows, cols) matrix.

    Returns ``match`` with ``match[i]`` = the column matched to row i, or -1 (the convention of
    ``scipy.sparse.csgraph.maximum_bipartite_matching(..., perm_type="column")``). A scipy sparse
    matrix's stored entries are its edges, explicit zeros included, as in scipy.
    Each phase: a BFS from all free rows builds layers by path length; a DFS then finds a maximal set
    of vertex-disjoint shortest augmenting paths. O(sqrt(V)) phases suffice.
    """
    adj = _check_adjacency(adjacency)
    n_rows, n_cols = adj.shape
    neighbours = [np.flatnonzero(r).tolist() for r in adj]
    col_of_row = [-1] * n_rows
    row_of_col = [-1] * n_cols
    inf = n_rows + n_cols + 1
    while True:
        # BFS over rows; dist[r] = length (in rows) of the shortest alternating path from a free row.
        dist = [inf] * n_rows
        queue = deque(r for r in range(n_rows) if col_of_row[r] == -1)
        for r in queue:
            dist[r] = 0
        found = inf
        while queue:
            r = queue.popleft()
            if dist[r] >= found:
                continue
            for c in neighbours[r]:
                nxt = row_of_col[c]
                if nxt == -1:
                    found = min(found, dist[r] + 1)
                elif dist[nxt] == inf:
                    dist[nxt] = dist[r] + 1
                    queue.append(nxt)
        if found == inf:
            break
        # DFS along the layers (iterative, so deep paths cannot hit Python's recursion limit).
        pointer = [0] * n_rows
        for start in range(n_rows):
            if col_of_row[start] != -1:
                continue
            stack, cols = [start], []
            while stack:
                r = stack[-1]
                advanced = False
                while pointer[r] < len(neighbours[r]):
                    c = neighbours[r][pointer[r]]
                    pointer[r] += 1
                    nxt = row_of_col[c]
                    if nxt == -1 and dist[r] + 1 == found:
                        cols.append(c)
                        for rr, cc in zip(stack, cols):  # augment: flip the path
                            col_of_row[rr], row_of_col[cc] = cc, rr
                        stack = []
                        advanced = True
                        break
                    if nxt != -1 and dist[nxt] == dist[r] + 1:
                        cols.append(c)
                        stack.append(nxt)
                        advanced = True
                        break
                if not advanced:  # dead end: never visit r again in this phase
                    dist[r] = inf
                    stack.pop()
                    if cols:
                        cols.pop()
    return np.asarray(col_of_row, dtype=np.int64)


def augment_once(adjacency, match) -> np.ndarray | None:
    """One augmenting-path step: find any path free row -> ... -> free column and flip it.

    ``match[i]`` is row i's column or -1. Returns the new (one larger) matching, or None when the
    matching is already maximum (Berge's theorem: no augmenting path left).
    """
    adj = _check_adjacency(adjacency)
    match = _check_match(match, adj)
    row_of_col = np.full(adj.shape[1], -1)
    for r, c in enumerate(match):
        if c >= 0:
            row_of_col[c] = r
    for start in np.flatnonzero(match == -1):
        parent_row = {}  # column -> the row we reached it from
        frontier, seen = [start], set()
        while frontier:
            nxt = []
            for r in frontier:
                for c in np.flatnonzero(adj[r]):
                    if c in seen or match[r] == c:
                        continue
                    seen.add(c)
                    parent_row[c] = r
                    if row_of_col[c] == -1:  # free column: flip the path back to start
                        new = match.copy()
                        while True:  # each row on the path swaps its column for the next one
                            r = parent_row[c]
                            c, new[r] = new[r], c
                            if r == start:
                                return new
                    nxt.append(row_of_col[c])
            frontier = nxt
    return None


def matched_count_vs_threshold(corr, thresholds) -> np.ndarray:
    """Size of a maximum matching on the graph {(i, j): corr[i, j] > t} for each threshold t."""
    arr = _check_matrix(corr)
    ts = check_array(np.atleast_1d(thresholds) if np.isscalar(thresholds) else thresholds, "thresholds", ndim=1,
                     dtype_kind="fiu")
    return np.array([(hopcroft_karp(arr > t) >= 0).sum() for t in ts], dtype=np.int64)


def sort_by_matching(corr) -> tuple[np.ndarray, np.ndarray]:
    """Row and column orders that put the bipartite matching on the diagonal, best pairs first."""
    arr = _check_matrix(corr)
    rows, cols = bipartite_matching(arr)
    order = np.argsort(-arr[rows, cols], kind="stable")
    rest_r = np.setdiff1d(np.arange(arr.shape[0]), rows)
    rest_c = np.setdiff1d(np.arange(arr.shape[1]), cols)
    return np.concatenate([rows[order], rest_r]), np.concatenate([cols[order], rest_c])

