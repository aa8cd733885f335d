import numpy as np
import pytest
import torch
from scipy.optimize import linear_sum_assignment
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching

from course_utils.matching import (augment_once, bipartite_matching, channel_correlation, channels_last,
                                   hopcroft_karp, matched_count_vs_threshold, semi_matching,
                                   sort_by_matching, standardize)

SHAPES = [(1, 1), (1, 5), (5, 1), (6, 6), (7, 4), (4, 9), (40, 40), (64, 25), (25, 64)]


def _is_matching(adj, match):
    used = match[match >= 0]
    return len(set(used.tolist())) == len(used) and all(adj[i, j] for i, j in enumerate(match) if j >= 0)


def test_channel_correlation_matches_numpy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(200, 5)), rng.normal(size=(200, 3))
    b[:, 0] = 2 * a[:, 1] + 1  # perfectly correlated pair
    corr = channel_correlation(a, b)
    expected = np.corrcoef(a.T, b.T)[:5, 5:]
    np.testing.assert_allclose(corr, expected, atol=1e-12)
    assert corr[1, 0] == pytest.approx(1.0)
    np.testing.assert_allclose(channel_correlation(torch.tensor(a), b), expected, atol=1e-6)


def test_channels_last_flattens_positions():
    x = np.arange(2 * 3 * 4 * 5, dtype=float).reshape(2, 3, 4, 5)
    rows = channels_last(x)
    assert rows.shape == (2 * 4 * 5, 3)
    np.testing.assert_array_equal(rows[:, 1], x[:, 1].ravel())


def test_bad_input():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(10, 3))
    with pytest.raises(ValueError, match="same N"):
        channel_correlation(a, rng.normal(size=(11, 3)))
    const = a.copy()
    const[:, 2] = 0.5
    with pytest.raises(ValueError, match="constant channel.*zero variance.*channels 2"):
        channel_correlation(const, a)
    nan = a.copy()
    nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        channel_correlation(nan, a)
    with pytest.raises(ValueError, match="NaN"):
        bipartite_matching(np.array([[np.nan, 1.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="2-D"):
        channel_correlation(a[:, 0], a)
    with pytest.raises(ValueError, match="boolean"):
        hopcroft_karp(rng.normal(size=(3, 3)))
    with pytest.raises(TypeError):
        hopcroft_karp("not a matrix")
    with pytest.raises(ValueError, match="at least one"):
        bipartite_matching(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="2-D"):
        standardize(np.zeros(3))


@pytest.mark.parametrize("shape", SHAPES)
def test_bipartite_matching_equals_scipy(shape):
    rng = np.random.default_rng(sum(shape))
    for trial in range(25):
        if trial % 3 == 0:
            corr = rng.integers(0, 3, size=shape).astype(float)  # many ties
        elif trial % 3 == 1:
            corr = np.round(rng.uniform(-1, 1, size=shape), 1)   # some ties
        else:
            corr = rng.uniform(-1, 1, size=shape)
        rows, cols = bipartite_matching(corr)
        r2, c2 = linear_sum_assignment(corr, maximize=True)
        assert len(rows) == len(r2) == min(shape)
        assert len(set(rows.tolist())) == len(rows) and len(set(cols.tolist())) == len(cols)
        assert np.all(np.diff(rows) > 0)
        assert corr[rows, cols].sum() == pytest.approx(corr[r2, c2].sum(), abs=1e-9)


def test_bipartite_matching_recovers_a_permutation():
    rng = np.random.default_rng(1)
    perm = rng.permutation(30)
    corr = np.eye(30)[:, perm] * 0.9 + rng.uniform(0, 0.1, size=(30, 30))
    rows, cols = bipartite_matching(corr)
    np.testing.assert_array_equal(cols, np.argsort(perm))
    assert np.all(semi_matching(corr) == cols)
    order_r, order_c = sort_by_matching(corr)
    assert np.all(np.diag(corr[np.ix_(order_r, order_c)]) > 0.89)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("density", [0.02, 0.1, 0.4, 1.0])
def test_hopcroft_karp_equals_scipy(shape, density):
    rng = np.random.default_rng(int(density * 100) + sum(shape))
    for _ in range(10):
        adj = rng.random(shape) < density
        match = hopcroft_karp(adj)
        reference = maximum_bipartite_matching(csr_matrix(adj), perm_type="column")
        assert _is_matching(adj, match)
        assert (match >= 0).sum() == (reference >= 0).sum()
    assert (hopcroft_karp(adj.astype(int)) >= 0).sum() == (match >= 0).sum()  # 0/1 ints accepted


def test_augment_once_grows_to_maximum():
    rng = np.random.default_rng(2)
    for shape in [(8, 8), (10, 6), (6, 12)]:
        adj = rng.random(shape) < 0.3
        match = np.full(shape[0], -1)
        while (new := augment_once(adj, match)) is not None:
            assert _is_matching(adj, new) and (new >= 0).sum() == (match >= 0).sum() + 1
            match = new
        assert (match >= 0).sum() == (hopcroft_karp(adj) >= 0).sum()


def test_augment_once_needs_a_real_augmenting_path():
    # rows 0,1 both like column 0; row 1 also likes column 1. Greedy 0->0 then path 1->0->... no:
    adj = np.array([[1, 0], [1, 1]], dtype=bool)
    new = augment_once(adj, np.array([-1, 0]))  # row 1 holds column 0; row 0 must steal it
    np.testing.assert_array_equal(new, [0, 1])


def test_matched_count_vs_threshold_is_monotone():
    rng = np.random.default_rng(3)
    corr = channel_correlation(rng.normal(size=(100, 12)), rng.normal(size=(100, 15)))
    counts = matched_count_vs_threshold(corr, np.linspace(-1, 1, 11))
    assert counts[0] == 12 and counts[-1] == 0
    assert np.all(np.diff(counts) <= 0)


def test_regression_between_against_sklearn():
    from sklearn.linear_model import LinearRegression

    from course_utils.convergent import regression_between

    rng = np.random.default_rng(4)
    source = rng.normal(size=(4000, 8))
    target = np.c_[source[:, 0] + source[:, 3] + 0.3 * rng.normal(size=4000), rng.normal(size=4000)]
    t = regression_between(target, source, alpha=0.05, max_rows=4000, seed=0)
    # Same split as regression_between: permutation of the rows, first half to fit.
    rows = np.random.default_rng(0).permutation(4000)
    za = (target[rows] - target[rows].mean(0)) / target[rows].std(0)
    zb = (source[rows] - source[rows].mean(0)) / source[rows].std(0)
    ref = LinearRegression().fit(zb[:2000], za[:2000])
    assert t["ls_loss"] == pytest.approx(((ref.predict(zb[2000:]) - za[2000:]) ** 2).mean(), rel=1e-6)
    # unit 0 is predictable (loss ~ 0.3^2 / 2.09), unit 1 is not (loss ~ 1): the mean is about 0.52
    assert 0.45 < t["ls_loss"] < 0.6 and t["ls_channels"] == 8
    assert t["l1_channels"] < 8 and t["l1_loss"] >= t["ls_loss"] - 0.01


def test_compare_layers_drops_dead_units_and_matches():
    from course_utils.convergent import compare_layers

    rng = np.random.default_rng(5)
    a = rng.normal(size=(6, 5, 4, 4))
    b = a[:, [2, 0, 1, 4, 3]] + 0.1 * rng.normal(size=a.shape)
    a[:, 1] = 0.0  # a dead unit in net 1
    r = compare_layers(a, b)
    assert r["dead1"].tolist() == [1] and r["between"].shape == (4, 5)
    assert r["matched_corr"].min() > 0.9
    with pytest.raises(ValueError, match="same inputs"):
        compare_layers(a, b[:3])


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_hopcroft_karp_counts_stored_zeros_as_edges_like_scipy(fmt):
    """scipy's maximum_bipartite_matching reads a sparse matrix as a graph: every stored entry,
    explicit zeros included, is an edge. hopcroft_karp does the same."""
    rng = np.random.default_rng(6)
    for shape in [(5, 5), (8, 3), (3, 9), (30, 30)]:
        for _ in range(10):
            adj = rng.random(shape) < 0.2
            values = np.arange(int(adj.sum())) % 2                    # every other stored entry is 0
            rows, cols = np.nonzero(adj)
            sparse = csr_matrix((values, (rows, cols)), shape=shape)
            assert sparse.nnz == adj.sum() and (adj.sum() < 2 or (sparse.data == 0).any())   # zeros stored
            sparse = sparse.asformat(fmt)
            match = hopcroft_karp(sparse)
            reference = maximum_bipartite_matching(csr_matrix(sparse), perm_type="column")
            assert _is_matching(adj, match)
            assert (match >= 0).sum() == (reference >= 0).sum() == (hopcroft_karp(adj) >= 0).sum()
    only_zero = csr_matrix((np.array([0.0]), (np.array([0]), np.array([1]))), shape=(2, 2))
    np.testing.assert_array_equal(hopcroft_karp(only_zero), maximum_bipartite_matching(only_zero, perm_type="column"))
    np.testing.assert_array_equal(hopcroft_karp(only_zero), [1, -1])


def test_augment_once_reads_sparse_like_hopcroft_karp():
    only_zero = csr_matrix((np.array([0]), (np.array([1]), np.array([0]))), shape=(2, 2))
    np.testing.assert_array_equal(augment_once(only_zero, np.array([-1, -1])), [-1, 0])


def test_bad_match_and_sparse_input():
    adj = np.array([[1, 0], [1, 1]], dtype=bool)
    with pytest.raises(ValueError, match="one entry per row"):
        augment_once(adj, np.array([-1]))
    with pytest.raises(ValueError, match=r"column in \[0, 1\] or -1.*row 0 has 2"):
        augment_once(adj, np.array([2, -1]))
    with pytest.raises(ValueError, match=r"or -1.*row 1 has -3"):
        augment_once(adj, np.array([0, -3]))
    with pytest.raises(ValueError, match="edges of adjacency; row 0 -> column 1"):
        augment_once(adj, np.array([1, -1]))
    with pytest.raises(ValueError, match="column 0 is used 2 times"):
        augment_once(adj, np.array([0, 0]))
    with pytest.raises(TypeError, match="match"):
        augment_once(adj, np.array([0.5, -1]))
    with pytest.raises(ValueError, match="1-D"):
        augment_once(adj, np.array([[0, -1]]))
    with pytest.raises(ValueError, match="NaN"):
        hopcroft_karp(csr_matrix(np.array([[np.nan, 1.0]])))
    with pytest.raises(ValueError, match="2-D"):
        hopcroft_karp(np.ones(3, dtype=bool))
    with pytest.raises(TypeError, match="numeric"):
        hopcroft_karp(np.array([["a", "b"]]))


def test_bad_input_every_helper():
    rng = np.random.default_rng(7)
    with pytest.raises(ValueError, match="2-D or 4-D"):
        channels_last(np.zeros((2, 3, 4)))
    with pytest.raises(TypeError, match="numeric"):
        channels_last(np.array([[True, False]]))
    with pytest.raises(ValueError, match="at least 2 rows"):
        standardize(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="at least 2 rows"):
        channel_correlation(np.zeros((1, 3)), np.zeros((1, 3)))
    with pytest.raises(ValueError, match="NaN"):
        semi_matching(np.array([[np.inf, 0.0]]))
    with pytest.raises(ValueError, match="2-D"):
        semi_matching(np.zeros(3))
    with pytest.raises(ValueError, match="at least one"):
        sort_by_matching(np.zeros((3, 0)))
    with pytest.raises(TypeError):
        bipartite_matching("corr")
    corr = rng.uniform(-1, 1, size=(4, 4))
    with pytest.raises(ValueError, match="thresholds.*NaN"):
        matched_count_vs_threshold(corr, [0.5, np.nan])
    with pytest.raises(ValueError, match="thresholds.*1-D"):
        matched_count_vs_threshold(corr, [[0.5]])
    assert matched_count_vs_threshold(corr, 2.0).tolist() == [0]      # a single threshold is fine


def test_single_blas_thread_restores_and_keeps_results():
    from course_utils import matching
    from threadpoolctl import threadpool_info
    before = [d["num_threads"] for d in threadpool_info() if d["user_api"] == "blas"]
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(300, 4)), rng.normal(size=(300, 3))
    with matching.single_blas_thread():
        inside = [d["num_threads"] for d in threadpool_info() if d["user_api"] == "blas"]
        c = matching.channel_correlation(a, b)
    assert all(n == 1 for n in inside)
    assert [d["num_threads"] for d in threadpool_info() if d["user_api"] == "blas"] == before
    assert np.allclose(c, np.corrcoef(a.T, b.T)[:4, 4:], atol=1e-12)
