"""convergent.linear_cka against the HSIC form of Kornblith et al. (2019) and its invariances."""
import numpy as np
import pytest
import torch

from course_utils import convergent


def hsic_cka(X, Y):
    """The paper's Gram-matrix form: HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)), K = X X^T, H = I - 11^T / n."""
    n = len(X)
    H = np.eye(n) - np.ones((n, n)) / n
    K, L = X @ X.T, Y @ Y.T
    hsic = lambda A, B: np.trace(A @ H @ B @ H)
    return hsic(K, L) / np.sqrt(hsic(K, K) * hsic(L, L))


@pytest.mark.parametrize("seed", range(5))
def test_matches_the_gram_matrix_formula(seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(80, 6)) * rng.uniform(0.5, 3, 6) + rng.normal(size=6)
    Y = X @ rng.normal(size=(6, 4)) + rng.normal(size=(80, 4))
    assert convergent.linear_cka(X, Y) == pytest.approx(hsic_cka(X, Y), abs=1e-12)


def test_invariances_and_extremes():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 5)) * [1, 2, 3, 4, 5]
    Q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    assert convergent.linear_cka(X, X) == pytest.approx(1)
    assert convergent.linear_cka(X, 7 * X @ Q - 3) == pytest.approx(1)            # rotation, scale, offset
    assert convergent.linear_cka(X, X * [1, 1, 1, 1, 50]) < 0.95                   # not per-column scaling
    assert convergent.linear_cka(X, rng.normal(size=(500, 3))) < 0.05
    assert convergent.linear_cka(torch.tensor(X), X) == pytest.approx(1)           # tensors are accepted


def test_rejects_bad_inputs():
    X = np.ones((10, 3)) + np.arange(10)[:, None]
    with pytest.raises(ValueError, match="same samples"):
        convergent.linear_cka(X, X[:5])
    with pytest.raises(ValueError, match="2-D"):
        convergent.linear_cka(X.ravel(), X)
    with pytest.raises(ValueError, match="NaN"):
        convergent.linear_cka(np.where(X > 5, np.nan, X), X)
    with pytest.raises(TypeError, match="numeric"):
        convergent.linear_cka(X.astype(str), X)
    with pytest.raises(ValueError, match="constant"):
        convergent.linear_cka(np.ones((10, 3)), X)
