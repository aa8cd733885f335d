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


def test_reinitialised_is_a_fresh_untrained_copy():
    import pytest
    import torch
    from course_utils import convergent, models
    torch.manual_seed(0)
    trained = models.LeNet5()
    with torch.no_grad():
        for p in trained.parameters():
            p.fill_(0.5)                                   # stands in for trained weights
    a, b = convergent.reinitialised(trained, 3), convergent.reinitialised(trained, 3)
    c = convergent.reinitialised(trained, 4)
    assert all(torch.all(p == 0.5) for p in trained.parameters()), "the original must be untouched"
    for (name, pa), pb, pc in zip(a.named_parameters(), b.parameters(), c.parameters()):
        assert torch.equal(pa, pb), f"{name}: the same seed must give the same weights"
        assert not torch.equal(pa, pc), f"{name}: another seed must give other weights"
        assert not torch.all(pa == 0.5), f"{name} was not re-initialised"
    fresh = models.LeNet5()                               # the same scale as PyTorch's default init
    assert abs(float(a.conv1.weight.std()) / float(fresh.conv1.weight.std()) - 1) < 0.3
    assert not a.training
    with pytest.raises(TypeError, match="torch.nn.Module"):
        convergent.reinitialised("lenet", 0)


def test_align_hidden_units_undoes_a_permutation_and_keeps_the_function():
    import numpy as np
    import pytest
    import torch
    from course_utils import convergent, models
    torch.manual_seed(0)
    net = models.LeNet300100().eval()
    X = torch.rand(400, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    shuffled = convergent.reinitialised(net, 0)
    shuffled.load_state_dict(net.state_dict())
    p1, p2 = torch.randperm(300), torch.randperm(100)
    with torch.no_grad():                                   # the same function, units renamed
        shuffled.fc1.weight.copy_(net.fc1.weight[p1]); shuffled.fc1.bias.copy_(net.fc1.bias[p1])
        shuffled.fc2.weight.copy_(net.fc2.weight[p2][:, p1]); shuffled.fc2.bias.copy_(net.fc2.bias[p2])
        shuffled.fc3.weight.copy_(net.fc3.weight[:, p2])
        assert torch.allclose(shuffled(X), net(X), atol=1e-5)
    aligned = convergent.align_hidden_units(net, shuffled, X)
    for k, v in net.state_dict().items():
        assert torch.allclose(aligned.state_dict()[k], v), f"{k} not restored"
    y = net(X).argmax(1)
    ts, losses = convergent.interpolation_losses(net, aligned, X, y, steps=5)
    assert np.allclose(ts, [0, 0.25, 0.5, 0.75, 1]) and np.allclose(losses, losses[0], atol=1e-5)
    _, raw = convergent.interpolation_losses(net, shuffled, X, y, steps=5)
    assert raw[2] > raw[0] + 0.01, "halfway between two namings of one net is another net"
    with pytest.raises(TypeError, match="fc1, fc2, fc3"):
        convergent.align_hidden_units(net, models.LeNet5(), X)
    with pytest.raises(ValueError, match="same architecture"):
        convergent.interpolation_losses(net, models.LeNet5(), X, y)


def test_initial_model_is_exactly_where_training_starts(tmp_path, monkeypatch):
    import pytest
    import torch
    from course_utils import convergent
    from course_utils.train import TrainConfig, train
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    for offset in ("0", "1000"):
        monkeypatch.setenv("COURSE_SEED_OFFSET", offset)
        start, _ = train(TrainConfig(model="lenet300100", dataset="mnist", epochs=0, seed=3), verbose=False)
        rebuilt = convergent.initial_model("lenet300100", 3)
        for k, v in start.state_dict().items():
            assert torch.equal(rebuilt.state_dict()[k], v), f"{k} differs from train()'s initial weights"
        other = convergent.initial_model("lenet300100", 4)
        assert not torch.equal(other.fc1.weight, rebuilt.fc1.weight)
    state = torch.random.get_rng_state()
    convergent.initial_model("lenet300100", 5)
    assert torch.equal(torch.random.get_rng_state(), state), "the global random state must be left alone"
    with pytest.raises(ValueError, match="one of"):
        convergent.initial_model("resnet", 0)
    with pytest.raises(ValueError):
        convergent.initial_model("lenet300100", -1)


def test_matched_weights_sees_through_a_renaming_and_the_kept_inputs():
    import numpy as np
    import pytest
    import torch
    from course_utils import convergent, models
    torch.manual_seed(0)
    net = models.LeNet300100().eval()
    init = convergent.reinitialised(net, 1)
    X = torch.rand(400, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    perm = torch.randperm(300, generator=torch.Generator().manual_seed(3))
    renamed, renamed_init = convergent.reinitialised(net, 0), convergent.reinitialised(net, 0)
    renamed.load_state_dict(net.state_dict())
    renamed_init.load_state_dict(init.state_dict())
    with torch.no_grad():
        renamed.fc1.weight.copy_(net.fc1.weight[perm]); renamed.fc1.bias.copy_(net.fc1.bias[perm])
        renamed_init.fc1.weight.copy_(init.fc1.weight[perm])
    keep = np.zeros(784, bool)
    keep[:300] = True
    out = convergent.matched_weights(net, renamed, X, init_a=init, init_b=renamed_init, keep=keep)
    assert out["act_corr"] > 0.999 and np.allclose(out["unit_corr"], 1, atol=1e-4)
    assert np.array_equal(perm.numpy()[out["cols"]], out["rows"])      # the renaming is undone
    for k in ("weight_corr", "weight_corr_kept", "change_corr", "change_corr_kept"):
        assert out[k] > 0.999, k
    w, i = net.fc1.weight.detach().numpy(), init.fc1.weight.detach().numpy()
    assert np.isclose(out["init_corr_a"], np.corrcoef(w[:, :300].ravel(), i[:, :300].ravel())[0, 1])
    other = convergent.matched_weights(net, convergent.reinitialised(net, 7), X)   # unrelated weights
    assert abs(other["weight_corr"]) < 0.1 and "change_corr" not in other
    with pytest.raises(ValueError, match="both"):
        convergent.matched_weights(net, renamed, X, init_a=init)
    with pytest.raises(ValueError, match="784 inputs"):
        convergent.matched_weights(net, renamed, X, keep=np.ones(10, bool))
    with pytest.raises(TypeError):
        convergent.matched_weights(net, renamed, X, keep=np.ones(784))
    with pytest.raises(ValueError, match="layer"):
        convergent.matched_weights(net, renamed, X, layer="conv9")


def test_layer_similarity_uses_compare_layers_rows_and_shuffle_is_a_null():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(600, 4, 5, 5))
    b = a[:, [2, 0, 3, 1]] * 2 + 0.3 * rng.normal(size=a.shape)
    b[:, 3] = 0.0                                          # a dead unit in net 2
    full = convergent.compare_layers(a, b, max_rows=5_000)
    s = convergent.layer_similarity(a, b, max_rows=5_000)
    assert s["matched_corr"] == pytest.approx(full["matched_corr"].mean(), abs=1e-12)
    from course_utils import matching
    rows = np.random.default_rng(0).choice(600 * 25, 5_000, replace=False)
    ra, rb = matching.channels_last(a)[rows], matching.channels_last(b)[rows]
    assert s["cka"] == pytest.approx(convergent.linear_cka(ra, rb[:, rb.std(0) > 1e-8]), abs=1e-12)
    null = convergent.layer_similarity(a, b, max_rows=5_000, shuffle=1)
    assert s["matched_corr"] > 0.9 and abs(null["matched_corr"]) < 0.1 and null["cka"] < 0.01
    with pytest.raises(ValueError, match="same inputs"):
        convergent.layer_similarity(a, b[:10])
    with pytest.raises(TypeError):
        convergent.layer_similarity(a, b, shuffle=1.5)
    with pytest.raises(ValueError):
        convergent.layer_similarity(a, b, max_rows=1)


def test_train_seeds_progress_flag_is_checked():
    with pytest.raises(TypeError, match="progress"):
        convergent.train_seeds("lenet5", [0], progress="no")


def test_train_seeds_verbose_false_silences_the_loader(monkeypatch, capsys):
    def fake_train(cfg, verbose=True):
        print("mnist: a loader banner")
        return cfg.seed, {}
    monkeypatch.setattr(convergent, "train", fake_train)
    out = convergent.train_seeds("lenet5", [3, 4], progress=False)
    assert [s for s, _ in out] == [3, 4]
    assert capsys.readouterr().out.count("banner") == 1      # default: the banner once, for the first seed
    out = convergent.train_seeds("lenet5", [3, 4], progress=False, verbose=False)
    assert [s for s, _ in out] == [3, 4] and "banner" not in capsys.readouterr().out
    with pytest.raises(TypeError, match="verbose"):
        convergent.train_seeds("lenet5", [0], verbose="no")
