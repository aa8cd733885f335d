"""course_utils.tsne against scikit-learn's exact P and torch autograd; determinism; bad input."""
import numpy as np
import pytest
import torch
from scipy.spatial.distance import squareform
from sklearn.datasets import load_digits
from sklearn.manifold._t_sne import _joint_probabilities
from sklearn.metrics import pairwise_distances

from course_utils.parametric import ParametricEmbedding, info_nce
from course_utils.tsne import (TSNE, _Gradient, binary_search_sigma, conditional_probabilities,
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
