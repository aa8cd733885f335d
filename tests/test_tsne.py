"""course_utils.tsne against scikit-learn's exact P and torch autograd; determinism; bad input."""
import numpy as np
import pytest
import torch
from scipy.spatial.distance import squareform
from sklearn.datasets import load_digits
from sklearn.manifold._t_sne import _joint_probabilities
from sklearn.metrics import pairwise_distances

from course_utils.parametric import ParametricEmbedding, info_nce
from course_utils.tsne import (TSNE, _Gradient, _SparseGradient, binary_search_sigma, conditional_probabilities,
                               fft_repulsion, fft_repulsion_torch, nearest_neighbors, sparse_joint_probabilities,
                               sparse_kl_divergence,
                               joint_probabilities, kl_divergence, kl_gradient, row_entropy,
                               squared_distances, student_t_affinities)


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    return data.data[:800] / 16.0, data.target[:800]


@pytest.mark.parametrize("perplexity", [5, 30, 50])
def test_joint_probabilities_match_sklearn_exact(digits, perplexity):
    X, _ = digits
    ours = joint_probabilities(X, perplexity)
    theirs = squareform(_joint_probabilities(pairwise_distances(X, squared=True), perplexity, verbose=0))
    assert np.abs(ours - theirs).max() < 1e-6
    assert np.allclose(ours, ours.T, rtol=0, atol=0)
    assert ours.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.all(np.diag(ours) == 0)
    # The lecture's bound: every point keeps at least 1/2N of the mass, so none is left out.
    assert ours.sum(axis=1).min() >= 1 / (2 * len(X)) - 1e-15


@pytest.mark.parametrize("perplexity", [5, 30, 50])
def test_every_row_has_the_target_perplexity(digits, perplexity):
    X, _ = digits
    P, sigma = conditional_probabilities(squared_distances(X), perplexity)
    assert np.allclose(P.sum(axis=1), 1.0)
    assert np.all(np.diag(P) == 0) and np.all(sigma > 0)
    entropy = -np.sum(np.where(P > 0, P * np.log(np.where(P > 0, P, 1.0)), 0.0), axis=1)
    assert np.abs(np.exp(entropy) / perplexity - 1).max() < 1e-3


def test_row_entropy_agrees_with_the_vectorised_search(digits):
    X, _ = digits
    D = squared_distances(X[:200])
    beta, n_iter = binary_search_sigma(D, 20.0)
    assert n_iter < 20  # Newton steps, not a 40-step bisection
    for i in (0, 57, 199):
        H, p = row_entropy(np.delete(D[i], i), beta[i])
        assert H == pytest.approx(np.log(20.0), abs=1e-5)
        assert p.sum() == pytest.approx(1.0)
    # larger beta = narrower Gaussian = lower entropy
    assert row_entropy(np.delete(D[0], 0), 2 * beta[0])[0] < row_entropy(np.delete(D[0], 0), beta[0])[0]


def torch_kl(P, Y):
    W = 1.0 / (1.0 + torch.cdist(Y, Y).square())
    W = W * (1 - torch.eye(len(Y), dtype=Y.dtype))
    Q = W / W.sum()
    mask = P > 0
    return (P[mask] * torch.log(P[mask] / Q[mask])).sum()


def test_hand_gradient_equals_autograd(digits):
    X, _ = digits
    P = joint_probabilities(X[:150], 10.0)
    Y = np.random.default_rng(0).standard_normal((150, 2)) * 3
    Yt = torch.tensor(Y, requires_grad=True)
    kl = torch_kl(torch.tensor(P), Yt)
    kl.backward()
    assert kl_divergence(P, Y) == pytest.approx(kl.item(), abs=1e-10)
    assert np.abs(kl_gradient(P, Y) - Yt.grad.numpy()).max() < 1e-6
    assert np.abs(kl_gradient(P, Y) - Yt.grad.numpy()).max() < 1e-6 * np.abs(Yt.grad.numpy()).max()


@pytest.mark.parametrize("tile,threads", [(384, 1), (64, 2)])
def test_fast_tiled_gradient_and_kl_match_the_readable_ones(digits, tile, threads):
    X, _ = digits
    P = joint_probabilities(X[:500], 30.0)
    Y = np.random.default_rng(1).standard_normal((500, 2)) * 10
    gradient = _Gradient(P, tile=tile, n_threads=threads)
    fast, kl = gradient(Y.astype(np.float32), exaggeration=1.0, with_kl=True)
    gradient.close()
    exact = kl_gradient(P, Y)
    assert np.abs(fast - exact).max() < 1e-3 * np.abs(exact).max()  # float32
    assert kl == pytest.approx(kl_divergence(P, Y), rel=1e-4)


def test_student_t_affinities():
    Y = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    Q, W = student_t_affinities(Y)
    assert W[0, 1] == pytest.approx(0.5) and W[0, 2] == pytest.approx(0.2) and W[0, 0] == 0
    assert Q.sum() == pytest.approx(1.0)


def test_tsne_is_deterministic_and_separates_digits(digits):
    X, y = digits
    X, y = X[:400], y[:400]
    runs = [TSNE(n_iter=300, random_state=0) for _ in range(2)]
    Y1, Y2 = (r.fit_transform(X) for r in runs)
    assert Y1.shape == (400, 2)
    assert np.array_equal(Y1, Y2)
    assert runs[0].kl_divergence_ == runs[1].kl_divergence_
    assert runs[0].kl_divergence_ == pytest.approx(kl_divergence(joint_probabilities(X, 30.0), Y1))
    assert 1 <= runs[0].n_iter_ <= 300
    # 10-NN leave-one-out accuracy in 2-D: t-SNE keeps the digit classes apart
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import KNeighborsClassifier
    assert cross_val_score(KNeighborsClassifier(10), Y1, y, cv=5).mean() > 0.9


def test_tsne_snapshots_and_random_init(digits):
    X, _ = digits
    model = TSNE(n_iter=60, n_iter_early=20, snapshot_every=20, init="random", tol=0, n_components=3)
    Y = model.fit_transform(X[:100])
    assert Y.shape == (100, 3) and model.n_iter_ == 60
    assert [s[0] for s in model.snapshots_] == [1, 20, 40, 60]
    assert model.snapshots_[-1][2] == pytest.approx(model.kl_divergence_)


@pytest.mark.parametrize("kwargs,X_kind,error,match", [
    ({"perplexity": 1.0}, "ok", ValueError, "perplexity"),
    ({"perplexity": 0.5}, "ok", ValueError, "perplexity"),
    ({"perplexity": 19.0}, "ok", ValueError, "perplexity"),     # N - 1 = 19
    ({"perplexity": "30"}, "ok", TypeError, "perplexity"),
    ({"n_components": 0}, "ok", ValueError, "n_components"),
    ({"n_components": 2.5}, "ok", TypeError, "n_components"),
    ({"perplexity": 2.0}, "tiny", ValueError, "at least 5 rows"),
    ({}, "1d", ValueError, "2-D"),
    ({}, "3d", ValueError, "2-D"),
    ({}, "nan", ValueError, "NaN or inf"),
    ({}, "inf", ValueError, "NaN or inf"),
    ({}, "str", TypeError, "numeric"),
    ({"init": "spectral", "perplexity": 5.0}, "ok", ValueError, "init"),
    ({"perplexity": 30.0}, "ok", ValueError, r"N=20 points"),
])
def test_bad_input_is_rejected_with_a_clear_message(kwargs, X_kind, error, match):
    X = np.random.default_rng(0).standard_normal((20, 4))
    X = {"ok": X, "tiny": X[:4], "1d": X[:, 0], "3d": X.reshape(20, 2, 2), "str": X.astype(str)}.get(X_kind, X)
    if X_kind in ("nan", "inf"):
        X = X.copy()
        X[3, 1] = np.nan if X_kind == "nan" else np.inf
    with pytest.raises(error, match=match):
        TSNE(**kwargs).fit_transform(X)
    if "n_components" not in kwargs and "init" not in kwargs:
        with pytest.raises(error, match=match):
            joint_probabilities(X, kwargs.get("perplexity", 5.0))


def test_parametric_embedding_embeds_unseen_points(digits):
    X, y = digits
    model = ParametricEmbedding(n_steps=60, batch_size=128, random_state=0)
    E = model.fit_transform(X[:600])
    new = model.transform(X[600:])
    assert E.shape == (600, 2) and new.shape == (200, 2) and np.isfinite(new).all()
    assert np.array_equal(E, ParametricEmbedding(n_steps=60, batch_size=128, random_state=0).fit_transform(X[:600]))
    assert model.mi_bound_[-1] > model.mi_bound_[0]  # training raised the InfoNCE bound on I(y1; y2)
    with pytest.raises(ValueError, match="features"):
        model.transform(X[:, :10])
    with pytest.raises(RuntimeError, match="fit"):
        ParametricEmbedding().transform(X)


def test_info_nce_is_log_b_for_a_collapsed_embedding():
    y = torch.zeros(8, 2)
    assert info_nce(y, y).item() == pytest.approx(np.log(8))


# ----------------------------------------------------------------------------- approximate t-SNE (method="fft")


def exact_repulsion(Y):
    """sum_j w_ij^2 (y_i - y_j) and Z = sum_{i != j} w_ij over all pairs, dense float64: the referee."""
    W = 1.0 / (1.0 + ((Y[:, None] - Y[None]) ** 2).sum(-1))
    np.fill_diagonal(W, 0.0)
    return Y * (W**2).sum(1, keepdims=True) - (W**2) @ Y, W.sum()


def clustered_embedding(n=1500, spread=20.0, seed=0):
    """Ten tight clusters a few tens of units apart, like a t-SNE map late in the run."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-spread, spread, (10, 2))
    return centres[rng.integers(0, 10, n)] + rng.standard_normal((n, 2))


def test_nearest_neighbors_match_sklearn(digits):
    from sklearn.neighbors import NearestNeighbors
    X, _ = digits
    indices, distances = nearest_neighbors(X, 15)
    ref_d, ref_i = NearestNeighbors(n_neighbors=15).fit(X).kneighbors(X, 15 + 1)
    assert np.allclose(distances, ref_d[:, 1:] ** 2, atol=1e-9)   # column 0 is the point itself
    same = np.mean([len(set(a) & set(b)) / 15 for a, b in zip(indices, ref_i[:, 1:])])
    assert same > 0.995  # only ties at the 15th neighbour may differ
    assert np.all(np.diff(distances, axis=1) >= 0) and not (indices == np.arange(len(X))[:, None]).any()


@pytest.mark.parametrize("perplexity", [5.0, 30.0])
def test_sparse_P_matches_opentsne(digits, perplexity):
    from openTSNE.affinity import PerplexityBasedNN
    X, _ = digits
    ours = sparse_joint_probabilities(X, perplexity)
    theirs = PerplexityBasedNN(X, perplexity=perplexity, method="exact", n_jobs=1).P
    assert abs(ours.sum() - 1) < 1e-12 and abs(ours - ours.T).max() < 1e-15
    # Equal but for ties at the k-th neighbour (the digits' pixels are integers): a few entries.
    difference = abs(ours - theirs)
    assert difference.sum() < 1e-3 and (difference > 1e-8).sum() < 0.02 * ours.nnz
    # each conditional row has the target perplexity over its 3 x perplexity neighbours
    indices, distances = nearest_neighbors(X, int(3 * perplexity))
    beta, _ = binary_search_sigma(distances, perplexity)
    H = np.array([row_entropy(d, b)[0] for d, b in zip(distances[:50], beta[:50])])
    assert np.abs(H - np.log(perplexity)).max() < 1e-5


def test_fft_repulsion_error_falls_with_the_accuracy_parameter(capsys):
    Y = clustered_embedding()
    R, Z = exact_repulsion(Y)
    errors = {}
    for p in (2, 3, 4, 5):
        R_fft, Z_fft = fft_repulsion(Y, n_interpolation_points=p)
        errors[p] = (np.linalg.norm(R_fft - R) / np.linalg.norm(R), abs(Z_fft / Z - 1))
    with capsys.disabled():
        print("\nFFT repulsion, relative error against the exact sums (N=1,500, 10 clusters):")
        for p, (eR, eZ) in errors.items():
            print(f"  n_interpolation_points={p}: |R - R_exact| / |R_exact| = {eR:.1e}, |Z / Z_exact - 1| = {eZ:.1e}")
    assert errors[3][0] < 2e-2 and errors[3][1] < 1e-3          # the default
    assert errors[5][0] < errors[4][0] < errors[3][0] < errors[2][0]
    # finer boxes (2 per unit) help too
    R_fine, _ = fft_repulsion(Y, ints_in_interval=2.0)
    assert np.linalg.norm(R_fine - R) < np.linalg.norm(fft_repulsion(Y)[0] - R)


def test_torch_fft_repulsion_is_the_same_computation():
    Y = clustered_embedding(800)
    R, Z = fft_repulsion(Y)
    R_t, Z_t = fft_repulsion_torch(Y, device=torch.device("cpu"))
    assert np.abs(R_t - R).max() < 1e-4 * np.abs(R).max() and Z_t == pytest.approx(Z, rel=1e-4)


def test_sparse_gradient_matches_the_exact_gradient_of_the_sparse_P(digits):
    X, _ = digits
    P = sparse_joint_probabilities(X[:600], 20.0)
    Y = clustered_embedding(600, spread=15.0, seed=2)
    exact = kl_gradient(P.toarray(), Y)
    errors = {}
    for p in (3, 5):
        grad, kl = _SparseGradient(P, n_interpolation_points=p)(Y.astype(np.float32), with_kl=True)
        errors[p] = np.linalg.norm(grad - exact) / np.linalg.norm(exact)
        assert kl == pytest.approx(kl_divergence(P.toarray(), Y), rel=1e-3)
        assert kl == pytest.approx(sparse_kl_divergence(P, Y), rel=1e-3)
    print(f"sparse gradient relative error: {errors}")
    assert errors[3] < 1e-2 and errors[5] < errors[3]


def test_fft_tsne_as_good_as_opentsne_on_digits(digits):
    from openTSNE import TSNE as OpenTSNE
    X, y = digits
    X, y = X[:500], y[:500]
    P = sparse_joint_probabilities(X, 30.0)
    # A coarser grid than the default 50 boxes a side (for both): a small map needs fewer, and it
    # keeps the test quick.
    model = TSNE(method="fft", min_num_intervals=20)
    ours = model.fit_transform(X)
    theirs = np.asarray(OpenTSNE(random_state=0, n_jobs=1, negative_gradient_method="fft",
                                 min_num_intervals=20).fit(X))
    assert model.method_ == "fft" and model.P_.shape == (len(X), len(X))
    assert set(model.timings_) == {"affinities_s", "optimisation_s"} and min(model.timings_.values()) > 0
    kl_ours, kl_theirs = sparse_kl_divergence(P, ours), sparse_kl_divergence(P, theirs)
    assert kl_ours <= 1.05 * kl_theirs, f"KL {kl_ours:.3f}, openTSNE {kl_theirs:.3f}"
    assert model.kl_divergence_ == pytest.approx(kl_ours, rel=1e-2)
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import KNeighborsClassifier
    acc = [cross_val_score(KNeighborsClassifier(10), Y, y, cv=5).mean() for Y in (ours, theirs)]
    assert acc[0] >= acc[1] - 0.03, f"10-NN {acc[0]:.3f}, openTSNE {acc[1]:.3f}"
    # a precomputed kNN graph gives the same map as the built-in search
    short = dict(method="fft", min_num_intervals=20, n_iter=100)
    again = TSNE(**short).fit_transform(X, knn=nearest_neighbors(X, 90))
    assert np.array_equal(again, TSNE(**short).fit_transform(X))
    # two threads (the attraction beside the repulsion) compute the same map
    two = TSNE(**short, n_jobs=2)
    assert np.array_equal(two.fit_transform(X), again) and np.isfinite(two.kl_divergence_)


def test_auto_picks_exact_for_small_and_fft_for_large(monkeypatch, digits):
    import course_utils.tsne as tsne_module
    X, _ = digits
    assert TSNE(n_iter=80, n_iter_early=20).fit(X[:300]).method_ == "exact"
    monkeypatch.setattr(tsne_module, "EXACT_MAX_N", 200)
    model = TSNE(n_iter=80, n_iter_early=20).fit(X[:300])
    assert model.method_ == "fft" and hasattr(model.P_, "tocsr")


@pytest.mark.parametrize("kwargs,knn_kind,error,match", [
    ({"method": "barnes-hut"}, None, ValueError, "method"),
    ({"method": "fft", "n_neighbors": 20}, None, ValueError, r"n_neighbors \(for N=20 points\)"),
    ({"method": "fft", "n_neighbors": 25}, None, ValueError, "n_neighbors"),
    ({"method": "fft", "n_neighbors": 4, "perplexity": 5.0}, None, ValueError, "exceed the perplexity"),
    ({"method": "fft", "n_neighbors": 9.5}, None, TypeError, "n_neighbors"),
    ({"method": "fft", "n_components": 3}, None, ValueError, "2-D"),
    ({"method": "fft", "n_interpolation_points": 1}, None, ValueError, "n_interpolation_points"),
    ({"method": "fft", "device": "gpu9"}, None, ValueError, "device"),
    ({"method": "fft"}, "rows", ValueError, r"shape \(N, k\) with N = 20"),
    ({"method": "fft"}, "mismatch", ValueError, r"shape \(N, k\)"),
    ({"method": "fft"}, "self", ValueError, "own neighbour"),
    ({"method": "fft"}, "range", ValueError, "must lie in"),
    ({"method": "fft"}, "floats", TypeError, "numeric"),
    ({"method": "fft"}, "one", TypeError, "pair"),
    ({"method": "exact"}, "ok", ValueError, "fft"),
])
def test_bad_approximate_settings_are_rejected(kwargs, knn_kind, error, match):
    X = np.random.default_rng(0).standard_normal((20, 4))
    kwargs = {"perplexity": 3.0, **kwargs}
    indices, distances = nearest_neighbors(X, 10)
    knn = {None: None, "ok": (indices, distances), "rows": (indices[:-1], distances[:-1]),
           "mismatch": (indices, distances[:, :5]), "one": indices,
           "self": (np.where(np.arange(10) == 0, np.arange(20)[:, None], indices), distances),
           "range": (indices + 5, distances), "floats": (indices.astype(float), distances)}[knn_kind]
    with pytest.raises(error, match=match):
        TSNE(**kwargs).fit(X, knn=knn)


def test_neighbour_overlap_and_clumping_index():
    from course_utils.tsne import clumping_index, neighbour_overlap
    rng = np.random.default_rng(0)
    A = rng.normal(size=(200, 5))
    assert neighbour_overlap(A, A, 10) == 1.0
    assert neighbour_overlap(A, A * 3 + 1, 10) == 1.0                      # distances scaled: same neighbours
    assert neighbour_overlap(A, rng.normal(size=(200, 2)), 10) < 0.15        # unrelated views share few
    # by hand: on the line 0, 1, 3 the nearest neighbours are 1, 0, 1; with points 1 and 2 swapped 2, 2, 0
    line, swapped = np.array([[0.0], [1.0], [3.0]]), np.array([[0.0], [3.0], [1.0]])
    assert neighbour_overlap(line, swapped, 1) == 0.0
    # k = 2 on four points: point 0's sets {1, 2} and {1, 3} share one of three -> 1/3 for it
    four, moved = np.array([[0.0], [1.0], [2.0], [10.0]]), np.array([[0.0], [1.0], [10.0], [2.0]])
    assert neighbour_overlap(four, moved, 2) == pytest.approx(
        np.mean([1 / 3, 1 / 3, 1 / 3, 1 / 3]))
    uniform = clumping_index(rng.uniform(size=(2000, 2)))
    clumps = clumping_index(np.repeat(rng.uniform(size=(40, 2)), 50, axis=0) + 1e-3 * rng.normal(size=(2000, 2)))
    grid = clumping_index(np.stack(np.meshgrid(np.arange(40), np.arange(40)), -1).reshape(-1, 2).astype(float))
    assert 0.9 < uniform < 1.15 and clumps < 0.2 and grid > 1.5, (uniform, clumps, grid)
    with pytest.raises(ValueError, match="same number of rows"):
        neighbour_overlap(A, A[:10])
    with pytest.raises(ValueError, match="k"):
        neighbour_overlap(A, A, 200)
    with pytest.raises(TypeError, match="k"):
        neighbour_overlap(A, A, 2.5)
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        clumping_index(A)
