"""convergent.lasso_sweep (the sparsity-accuracy trade-off) and convergent.initial_photo_cnn (the photo nets' start)."""
import random

import numpy as np
import pytest
import torch

from course_utils import convergent


def sparse_pair(seed=0, n=3000):
    """Source (n, 12); target (n, 4) whose units each depend on 1-3 source units, plus noise."""
    rng = np.random.default_rng(seed)
    source = rng.normal(size=(n, 12)) * rng.uniform(0.5, 3, 12) + rng.normal(size=12)
    w = np.zeros((12, 4))
    w[0, 0], w[[1, 2], 1], w[[3, 4, 5], 2], w[6, 3] = 2, [1, -1], [0.5, 1, -2], -1
    return source @ w + 0.3 * rng.normal(size=(n, 4)), source


def test_sweep_agrees_with_regression_between():
    target, source = sparse_pair()
    sweep = convergent.lasso_sweep(target, source, [0.01, 0.05, 0.2], max_rows=2000, seed=3)
    for k, alpha in enumerate((0.01, 0.05, 0.2)):
        one = convergent.regression_between(target, source, alpha=alpha, max_rows=2000, seed=3)
        assert sweep["l1_loss"][k] == pytest.approx(one["l1_loss"], abs=1e-6)
        assert sweep["l1_channels"][k] == one["l1_channels"]
        assert sweep["ls_loss"] == pytest.approx(one["ls_loss"], abs=1e-12)
    assert sweep["n_source"] == 12 and sweep["n_target"] == 4 and sweep["converged"].all()


def test_sweep_trades_channels_for_loss():
    target, source = sparse_pair(1)
    alphas = np.geomspace(0.003, 3, 8)
    sweep = convergent.lasso_sweep(target, source, alphas, max_rows=3000)
    assert np.all(np.diff(sweep["l1_channels"]) <= 0), sweep["l1_channels"]      # more penalty, fewer channels
    assert sweep["l1_channels"][0] >= 1.75 and sweep["l1_channels"][-1] == 0       # true support: 1.75 per unit
    assert sweep["l1_loss"][-1] == pytest.approx(1, abs=0.01)                      # no channel: predict the mean
    assert sweep["l1_loss"][0] < 0.1 and sweep["ls_loss"] <= sweep["l1_loss"][0] + 1e-3
    noise = np.random.default_rng(2).normal(size=(3000, 3))
    assert convergent.lasso_sweep(noise, source, [0.01])["l1_loss"][0] > 0.95    # an unrelated target: loss ~1


def test_sweep_rejects_bad_inputs():
    target, source = sparse_pair()
    with pytest.raises(ValueError, match="positive"):
        convergent.lasso_sweep(target, source, [])
    with pytest.raises(ValueError, match="positive"):
        convergent.lasso_sweep(target, source, [0.1, -0.1])
    with pytest.raises(ValueError, match="same inputs"):
        convergent.lasso_sweep(target[:100], source, [0.1])
    with pytest.raises(TypeError):
        convergent.lasso_sweep(target, source, [0.1], max_rows=10.5)


def test_initial_photo_cnn_is_the_start_of_training(monkeypatch):
    captured = {}

    def fake_fit(model, train, test, config, extra, verbose):
        captured["state"] = {k: v.clone() for k, v in model.state_dict().items()}
        return model, {"test_accuracy": 0.0}

    monkeypatch.setattr(convergent, "load_or_fit", fake_fit)
    convergent.train_photo_cnn(3, conv1_init_scale=0.5, n_per_photo=2, crop=16)
    start = convergent.initial_photo_cnn(3, conv1_init_scale=0.5).state_dict()
    assert all(torch.equal(start[k], captured["state"][k]) for k in start)


def test_initial_photo_cnn_scale_seed_and_generators(monkeypatch):
    monkeypatch.delenv("COURSE_SEED_OFFSET", raising=False)
    torch.manual_seed(7)
    np.random.seed(7)
    random.seed(7)
    before = torch.rand(1), np.random.rand(), random.random()
    torch.manual_seed(7)
    np.random.seed(7)
    random.seed(7)
    full = convergent.initial_photo_cnn(4, conv1_init_scale=1.0, n_classes=5)
    assert (torch.rand(1), np.random.rand(), random.random()) == before          # global generators untouched
    small = convergent.initial_photo_cnn(4, conv1_init_scale=0.1, n_classes=5)
    assert torch.allclose(small.conv1.weight, 0.1 * full.conv1.weight)
    assert torch.equal(small.conv1.bias, full.conv1.bias) and torch.equal(small.conv3.weight, full.conv3.weight)
    assert not torch.equal(convergent.initial_photo_cnn(5, n_classes=5).conv2.weight, small.conv2.weight)
    monkeypatch.setenv("COURSE_SEED_OFFSET", "1")                                 # the offset shifts the seed
    assert torch.equal(convergent.initial_photo_cnn(3, n_classes=5).conv2.weight, small.conv2.weight)
    assert convergent.initial_photo_cnn(0).fc.out_features == 27                  # one class per course photo
    with pytest.raises(ValueError):
        convergent.initial_photo_cnn(0, conv1_init_scale=0)
    with pytest.raises(ValueError):
        convergent.initial_photo_cnn(0, n_classes=1)
