"""Deep Compression: pruning, k-means weight sharing, Huffman coding, bit accounting and the file."""
import heapq
import math
import os

import numpy as np
import pytest
import torch
from scipy.stats import entropy
from sklearn.cluster import KMeans
from torch import nn

from course_utils import compression as C
from course_utils.models import LeNet300100, LeNet5
from course_utils.train import TrainConfig, fit


def small_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 12), nn.ReLU(), nn.Linear(12, 3))


# ----------------------------------------------------------------------------- Huffman

def merged_weight_sum(freqs):
    """Independent optimum: the expected length of a Huffman code is the sum of all merged weights."""
    heap = [f for f in freqs if f > 0]
    heapq.heapify(heap)
    total = 0
    while len(heap) > 1:
        merged = heapq.heappop(heap) + heapq.heappop(heap)
        total += merged
        heapq.heappush(heap, merged)
    return total


def is_prefix_free(code):
    words = sorted(code.values())
    return all(not b.startswith(a) for a, b in zip(words, words[1:]))


@pytest.mark.parametrize("seed", range(5))
def test_huffman_is_optimal_prefix_free_and_round_trips(seed):
    rng = np.random.default_rng(seed)
    freqs = rng.integers(0, 200, size=rng.integers(2, 40))
    freqs[0] = max(freqs[0], 1)
    freqs[-1] = max(freqs[-1], 1)
    code = C.huffman_code(freqs)
    assert is_prefix_free(code)
    assert set(code) == {i for i, f in enumerate(freqs) if f > 0}
    expected = sum(f * len(code[s]) for s, f in enumerate(freqs) if f > 0)
    assert expected == merged_weight_sum(freqs)
    # Shannon's bounds, with scipy's entropy as the independent reference: H <= L < H + 1 (bits/symbol).
    p = freqs[freqs > 0] / freqs.sum()
    h = entropy(p, base=2)
    assert h - 1e-9 <= expected / freqs.sum() < h + 1
    assert math.isclose(sum(2.0 ** -len(w) for w in code.values()), 1.0)  # a full tree (Kraft equality)
    symbols = rng.choice(np.flatnonzero(freqs), size=500).tolist()
    data, n_bits = C.huffman_encode(symbols, code)
    assert n_bits == sum(len(code[s]) for s in symbols) and len(data) == math.ceil(n_bits / 8)
    assert C.huffman_decode(data, n_bits, code) == symbols


def test_huffman_textbook_lengths_and_edge_cases():
    code = C.huffman_code({"a": 45, "b": 13, "c": 12, "d": 16, "e": 9, "f": 5})   # CLRS's example
    assert {s: len(w) for s, w in code.items()} == {"a": 1, "b": 3, "c": 3, "d": 3, "e": 4, "f": 4}
    assert C.huffman_code({"x": 7}) == {"x": "0"}
    with pytest.raises(ValueError, match="positive"):
        C.huffman_code([0, 0])
    with pytest.raises(ValueError):
        C.huffman_code({"a": -1, "b": 2})
    with pytest.raises(ValueError, match="no code"):
        C.huffman_encode(["zz"], code)


# ----------------------------------------------------------------------------- k-means

@pytest.mark.parametrize("init", C.INITS)
def test_kmeans_matches_sklearn_and_respects_bits(init):
    w = torch.randn(3000, generator=torch.Generator().manual_seed(1)).numpy()
    codebook, codes = C.kmeans_quantize(w, 3, init=init)
    assert codebook.shape == (8,) and codes.shape == w.shape
    assert len(torch.unique(codebook[codes])) <= 2 ** 3
    start = C.initial_centroids(w, 8, init)
    ref = KMeans(8, init=start.reshape(-1, 1), n_init=1, max_iter=300, tol=0, algorithm="lloyd").fit(w.reshape(-1, 1))
    np.testing.assert_allclose(np.sort(ref.cluster_centers_.ravel()), codebook.numpy(), atol=1e-5)
    # Every weight sits at its nearest centroid.
    dist = np.abs(w[:, None] - codebook.numpy()[None, :])
    assert np.allclose(dist[np.arange(len(w)), codes.numpy()], dist.min(1), atol=1e-6)


def test_kmeans_initialisations_differ_as_in_the_paper():
    w = np.concatenate([np.random.default_rng(0).normal(0, 0.02, 5000), [-0.5, 0.5]])
    linear = C.initial_centroids(w, 8, "linear")
    density = C.initial_centroids(w, 8, "density")
    assert linear[0] == w.min() and linear[-1] == w.max()
    assert np.ptp(density[1:-1]) < np.ptp(linear[1:-1])   # density crowds centroids where weights are


def test_kmeans_bad_input():
    with pytest.raises(ValueError, match="bits"):
        C.kmeans_quantize(np.ones(5), 0)
    with pytest.raises(ValueError, match="bits"):
        C.kmeans_quantize(np.ones(5), 17)
    with pytest.raises(TypeError):
        C.kmeans_quantize(np.ones(5), 2.5)
    with pytest.raises(ValueError, match="empty"):
        C.kmeans_quantize(np.zeros(0), 4)
    with pytest.raises(ValueError, match="init"):
        C.kmeans_quantize(np.ones(5), 4, init="kmeans++")


# ----------------------------------------------------------------------------- pruning

def test_prune_by_sparsity_and_threshold():
    net = LeNet300100()
    masks = C.prune(net, sparsity={"fc1": 0.9, "fc2": 0.5})
    kept = C.weights_kept(net)
    assert kept["fc1"] == pytest.approx(0.1, abs=1e-5) and kept["fc2"] == pytest.approx(0.5) and kept["fc3"] == 1
    assert set(masks) == {"fc1", "fc2", "fc3"} and masks["fc1"].dtype == torch.bool
    assert torch.equal(net.fc1.weight != 0, masks["fc1"])
    net = LeNet5()
    small = net.conv2.weight.abs() < 0.01
    masks = C.prune(net, threshold=0.01)
    assert torch.equal(masks["conv2"], ~small) and (net.conv2.weight[small] == 0).all()


def test_prune_bad_input():
    with pytest.raises(ValueError, match=r"sparsity.*\[0, 1\)"):
        C.prune(LeNet300100(), sparsity=1.0)
    with pytest.raises(ValueError, match="sparsity"):
        C.prune(LeNet300100(), sparsity=-0.1)
    with pytest.raises(ValueError, match="exactly one"):
        C.prune(LeNet300100())
    with pytest.raises(ValueError, match="unknown layers"):
        C.prune(LeNet300100(), sparsity={"conv9": 0.5})
    with pytest.raises(ValueError, match="no prunable layers"):
        C.prune(nn.Sequential(nn.ReLU(), nn.BatchNorm1d(4)), sparsity=0.5)
    with pytest.raises(TypeError):
        C.prune("lenet", sparsity=0.5)


def test_mask_held_during_retraining():
    net = small_net()
    masks = C.prune(net, sparsity=0.7)
    X, y = torch.randn(64, 1, 4, 4), torch.randint(0, 3, (64,))
    fit(net, X, y, TrainConfig(epochs=2, lr=1e-2, batch_size=16), step_hook=C.mask_hook(masks))
    for name, layer in C.prunable_layers(net).items():
        assert (layer.weight[~masks[name]] == 0).all()


# ----------------------------------------------------------------------------- centroid retraining

def test_centroid_gradient_is_the_sum_over_each_cluster():
    net = small_net()
    C.prune(net, sparsity=0.5)
    shared = C.SharedWeights(net, bits=3)
    X, y = torch.randn(32, 1, 4, 4), torch.randint(0, 3, (32,))
    # Reference: the gradient with respect to each (shared) weight, summed per code by hand.
    plain = shared.export()
    nn.functional.cross_entropy(plain(X), y).backward()
    nn.functional.cross_entropy(shared(X), y).backward()
    for name in shared.layer_names:
        grad_w = C.prunable_layers(plain)[name].weight.grad.flatten()
        per_code = torch.zeros(2 ** 3).index_add_(0, shared.codes(name).flatten(), grad_w)
        torch.testing.assert_close(shared.centroids[shared._key(name)].grad, per_code[1:])


def test_codes_fixed_and_masks_zero_while_centroids_train():
    net = small_net()
    masks = C.prune(net, sparsity=0.6)
    shared = C.SharedWeights(net, bits=2)
    codes = {n: shared.codes(n).clone() for n in shared.layer_names}
    before = {n: shared.codebook(n).detach().clone() for n in shared.layer_names}
    X, y = torch.randn(64, 1, 4, 4), torch.randint(0, 3, (64,))
    fit(shared, X, y, TrainConfig(epochs=3, lr=1e-2, batch_size=16))
    out = shared.export()
    for name, layer in C.prunable_layers(out).items():
        assert torch.equal(shared.codes(name), codes[name])
        assert not torch.equal(shared.codebook(name), before[name])          # the centroids did move
        assert (layer.weight[~masks[name]] == 0).all()
        assert len(torch.unique(layer.weight)) <= 2 ** 2
        assert torch.equal(layer.weight, shared.codebook(name)[codes[name]].detach())
    assert sum(p.numel() for p in shared.parameters() if p.requires_grad) == 3 + 3 + 12 + 3  # codebooks + biases


# ----------------------------------------------------------------------------- sparse format, report, file

def test_relative_indices_with_fillers_round_trip():
    w = torch.zeros(100)
    w[[0, 3, 40, 99]] = torch.tensor([1.0, -2.0, 3.0, 4.0])
    gaps, values, is_value = C.relative_indices(w, index_bits=3)     # longest gap: 7 zeros
    assert gaps.max() <= 7
    # 36 zeros between 3 and 40: four fillers (8 slots each) then a gap of 4.
    assert gaps.tolist()[:7] == [0, 2, 7, 7, 7, 7, 4]
    assert is_value.sum() == 4 and (values[~is_value] == 0).all()
    assert torch.equal(C.dense_from_relative(gaps, values, (100,)), w)


def compressed_lenet(bits=4):
    net = LeNet300100()
    C.prune(net, sparsity={"fc1": 0.92, "fc2": 0.91, "fc3": 0.74})
    return C.SharedWeights(net, bits=bits).export()


def test_report_and_file_sizes_agree(tmp_path):
    net = compressed_lenet()
    rows = C.compression_report(net, bits=4, index_bits=5)
    total = rows[-1]
    assert [r["layer"] for r in rows] == ["fc1", "fc2", "fc3", "total"]
    assert total["weights"] == 266_200 and total["dense bytes"] == 4 * 266_610
    assert total["kept %"] == pytest.approx(100 * (0.08 * 235200 + 0.09 * 30000 + 0.26 * 1000) / 266200, abs=0.01)
    assert total["P+Q+H bytes"] < total["P+Q bytes"] < total["dense bytes"]
    for r in rows[:-1]:
        assert r["weight bits P+Q+H"] <= 4 + 1e-9 and r["index bits P+Q+H"] <= 5 + 1e-9
    info = C.save_compressed(net, tmp_path / "lenet.dc", bits=4, index_bits=5)
    size = os.path.getsize(tmp_path / "lenet.dc")
    assert info["payload_bytes"] == total["P+Q+H bytes"]
    assert size == total["P+Q+H bytes"] + info["header_bytes"] and info["header_bytes"] < 1024
    state = C.load_compressed(tmp_path / "lenet.dc")
    assert state.keys() == net.state_dict().keys()
    assert all(torch.equal(state[k], v) for k, v in net.state_dict().items())


def test_report_and_file_bad_input(tmp_path):
    net = LeNet300100()
    C.prune(net, sparsity=0.9)
    with pytest.raises(ValueError, match="quantise it first"):
        C.compression_report(net, bits=4)
    with pytest.raises(ValueError, match="bits"):
        C.compression_report(compressed_lenet(), bits=20)
    with pytest.raises(ValueError, match="missing"):
        C.SharedWeights(net, bits={"fc1": 4})
    with pytest.raises(ValueError, match="no prunable layers"):
        C.compression_report(nn.Sequential(nn.ReLU()), bits=4)
    bad = tmp_path / "bad.dc"
    bad.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="magic"):
        C.load_compressed(bad)


def test_pruning_curve_matches_prune():
    import copy
    from course_utils.train import accuracy
    net = LeNet300100()
    X, y = torch.rand(200, 1, 28, 28), torch.randint(0, 10, (200,))
    curve = C.pruning_curve(net, X, y, [0.0, 0.5, 0.9])
    for s, acc in zip([0.0, 0.5, 0.9], curve):
        pruned = copy.deepcopy(net)
        C.prune(pruned, sparsity=s)
        assert acc == accuracy(pruned, X, y)
    with pytest.raises(ValueError, match="sparsity"):
        C.pruning_curve(net, X, y, [1.0])


def test_sparsity_widget_reuses_a_given_curve(monkeypatch):
    import matplotlib
    matplotlib.use("Agg")
    net = LeNet300100()
    X, y = torch.rand(50, 1, 28, 28), torch.randint(0, 10, (50,))
    grid = np.linspace(0, 0.99, 23)
    curve = C.pruning_curve(net, X, y, grid)
    calls = []
    monkeypatch.setattr(C, "pruning_curve", lambda *a, **k: calls.append(a) or curve)
    assert C.sparsity_widget(net, X, y, curve=(grid, curve)) is not None and not calls
    assert C.sparsity_widget(net, X, y) is not None and len(calls) == 1
    with pytest.raises(ValueError, match="same length"):
        C.sparsity_widget(net, X, y, curve=(grid, curve[:-1]))
    with pytest.raises(TypeError, match="pair"):
        C.sparsity_widget(net, X, y, curve=curve)


def test_fully_pruned_layer_round_trips(tmp_path):
    net = small_net()
    with torch.no_grad():
        net[1].weight.zero_()                    # a layer with nothing left
    with pytest.raises(ValueError, match="empty"):
        C.SharedWeights(net, bits=2)
    C.prune(net, sparsity={"3": 0.5})
    shared_last = C.SharedWeights(nn.Sequential(net[3]), bits=2).export()[0]
    with torch.no_grad():
        net[3].weight.copy_(shared_last.weight)
    info = C.save_compressed(net, tmp_path / "b.dc", bits=2)
    state = C.load_compressed(tmp_path / "b.dc")
    assert (state["1.weight"] == 0).all() and torch.equal(state["3.weight"], net[3].weight)
    assert os.path.getsize(tmp_path / "b.dc") == info["header_bytes"] + C.compression_report(net, 2)[-1]["P+Q+H bytes"]


# ----------------------------------------------------------------------------- the pipeline and its tuning

def test_validation_split_is_stratified_deterministic_and_disjoint():
    y = torch.arange(10).repeat_interleave(torch.tensor([40, 30, 20, 50, 10, 40, 40, 30, 20, 20]))
    X = torch.arange(len(y)).float().view(-1, 1)          # each row names its example
    (X_fit, y_fit), (X_val, y_val) = C.validation_split(X, y, 0.1)
    assert torch.bincount(y_val, minlength=10).tolist() == [4, 3, 2, 5, 1, 4, 4, 3, 2, 2]
    assert len(y_fit) + len(y_val) == len(y)
    assert not set(X_fit.flatten().tolist()) & set(X_val.flatten().tolist())
    (_, _), (X_again, _) = C.validation_split(X, y, 0.1)
    assert torch.equal(X_val, X_again)
    # Spread through each class, not its first few examples.
    first_class = X_val[y_val == 0].flatten().tolist()
    assert first_class[0] == 0 and first_class[-1] == 39


def test_validation_split_bad_input():
    X, y = torch.zeros(20, 1), torch.arange(2).repeat(10)
    for fraction in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError, match="fraction"):
            C.validation_split(X, y, fraction)
    with pytest.raises(ValueError, match="too few"):
        C.validation_split(X, y, 0.01)
    with pytest.raises(ValueError, match="same length"):
        C.validation_split(X[:5], y, 0.2)
    with pytest.raises(TypeError):
        C.validation_split(X.numpy(), y, 0.2)


def test_fit_schedule_runs_each_step_with_a_fresh_rate(monkeypatch):
    import course_utils.train as train_module
    seen = []
    monkeypatch.setattr(train_module, "fit", lambda model, X, y, config, **kw: seen.append((config.epochs, config.lr)))
    C.fit_schedule(small_net(), None, None, [(3, 1e-3), (0, 5e-4), (1, 1e-4)])
    assert seen == [(3, 1e-3), (1, 1e-4)]                      # a 0-epoch step is skipped
    for bad in ([], [(1,)], [(1.5, 1e-3)], [(1, 0.0)], "fast"):
        with pytest.raises((TypeError, ValueError)):
            C.fit_schedule(small_net(), None, None, bad)


def tiny_mnist():
    g = torch.Generator().manual_seed(0)
    X = torch.rand(120, 1, 28, 28, generator=g)
    y = torch.arange(10).repeat(12)
    return (X, y), (X[:30], y[:30])


def test_deep_compression_stages_validation_and_cache(monkeypatch):
    import course_utils.train as train_module
    # The pipeline's plumbing is under test, not MNIST: tiny random digits keep this fast.
    monkeypatch.setitem(train_module.DATASETS, "mnist", tiny_mnist)
    settings = {"dense_schedule": [(1, 1e-3)], "sparsity": {"fc1": 0.9, "fc2": 0.9, "fc3": 0.5},
                "prune_schedule": [(1, 1e-3), (1, 1e-4)], "bits": 3, "index_bits": 4,
                "quant_schedule": [(1, 1e-4)], "batch_size": 32}
    run = C.deep_compression("lenet300100", verbose=False, **settings)
    assert run["evaluated_on"] == "test" and set(run["accuracy"]) == {"dense", "pruned", "compressed"}
    kept = C.weights_kept(run["compressed"])
    assert kept["fc1"] == pytest.approx(0.1, abs=1e-4) and kept["fc3"] == pytest.approx(0.5, abs=1e-4)
    assert all(len(torch.unique(layer.weight)) <= 2 ** 3 for layer in C.prunable_layers(run["compressed"]).values())
    assert run["report"][-1]["layer"] == "total" and set(run["seconds"]) == {"dense", "pruned", "compressed"}
    again = C.deep_compression("lenet300100", verbose=False, **settings)      # from the cache, identical
    assert all(torch.equal(a, b) for a, b in zip(run["compressed"].state_dict().values(),
                                                 again["compressed"].state_dict().values()))
    held_out = C.deep_compression("lenet300100", validation=0.25, verbose=False, **settings)
    assert held_out["evaluated_on"] == "validation (30)"
    assert not torch.equal(held_out["dense"].fc1.weight, run["dense"].fc1.weight)   # trained on fewer digits
    with pytest.raises(ValueError, match="model"):
        C.deep_compression("alexnet", verbose=False, **settings)
    with pytest.raises(TypeError, match="dense_schedule"):
        C.deep_compression("lenet300100", verbose=False, **{**settings, "dense_schedule": 5})


def test_paper_tables_are_consistent():
    # The paper's rows hold the columns our report has, and its headline ratios follow from its sizes.
    for name, paper in C.PAPER_TABLES.items():
        assert [r["layer"] for r in paper["rows"]][-1] == "total"
        dense_kb, small_kb = paper["size_kb"]
        assert round(dense_kb / small_kb) in (paper["ratio"], paper["ratio"] - 1)
    assert C.PAPER_TABLES["lenet5"]["rows"][3]["weight bits P+Q"] == 5      # ip2: 5 bits, as printed
    assert set(C.PIPELINES) == set(C.PAPER_TABLES)


def test_load_dataset_choices_and_bad_input(monkeypatch, tmp_path):
    (X, y), (Xt, yt), name = C.load_dataset("mnist", verbose=False)
    assert X.shape[1:] == (1, 28, 28) and len(X) == len(y) and len(Xt) == len(yt) and name.startswith("mnist")
    with pytest.raises(ValueError, match="dataset"):
        C.load_dataset("cifar10")
    with pytest.raises(ValueError, match="dataset"):
        C.deep_compression("lenet300100", dataset="imagenet", verbose=False)
    # "full" without full MNIST and without Fashion-MNIST says how to get either
    import course_utils.data as data_module
    import course_utils.fetched as fetched_module
    monkeypatch.setattr(data_module, "DEBIAN_FASHION_MNIST", tmp_path)
    monkeypatch.setattr(fetched_module, "is_fetched", lambda name, root=None: False)
    with pytest.raises(ValueError, match="dataset-fashion-mnist"):
        C.load_dataset("full")


@pytest.mark.skipif(not (C.Path("/usr/share/datasets/fashion-mnist") / "train-images-idx3-ubyte.gz").is_file(),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_full_data_is_fashion_mnist_without_full_mnist():
    from course_utils import fetched
    if fetched.is_fetched("mnist"):
        pytest.skip("full MNIST is fetched, so 'full' is MNIST")
    (X, y), (Xt, yt), name = C.load_dataset("full", verbose=False)
    assert name == "fashion_mnist (full)" and len(X) == 60_000 and len(Xt) == 10_000


def test_random_masks_match_magnitude_counts_and_move_with_the_seed():
    net = small_net()
    sparsity = {"1": 0.75, "3": 0.5}
    masks = C.random_masks(net, sparsity, seed=0)
    pruned = C.prune(copy_of(net), sparsity=sparsity)
    assert all(int(masks[k].sum()) == int(pruned[k].sum()) for k in pruned)
    assert all(torch.equal(a, b) for a, b in zip(masks.values(), C.random_masks(net, sparsity, seed=0).values()))
    assert not torch.equal(masks["1"], C.random_masks(net, sparsity, seed=1)["1"])
    with pytest.raises(ValueError, match="sparsity"):
        C.random_masks(net, 1.5)


def copy_of(net):
    import copy
    return copy.deepcopy(net)


def test_sparse_and_general_purpose_bytes():
    import zlib
    layer = nn.Linear(100, 1)
    with torch.no_grad():
        layer.weight.zero_()
        layer.weight[0, [3, 50, 99]] = torch.tensor([1.0, -2.0, 0.5])
    net = nn.Sequential(layer)
    # gaps 3, 46 (> 31: one filler, then 14), 48 (one filler, then 16): 5 entries of 32 + 5 bits, one bias
    assert C.sparse_bytes(net, index_bits=5) == math.ceil(5 * 32 / 8) + math.ceil(5 * 5 / 8) + 4
    assert C.sparse_bytes(net, index_bits=5, value_bits=8) == 5 + math.ceil(25 / 8) + 4
    with pytest.raises(ValueError, match="index_bits"):
        C.sparse_bytes(net, index_bits=0)
    squeezed = C.general_purpose_bytes(net, bits=2, index_bits=5)
    lc = C.encode_model(net, 2, 5)[0]
    (wdata, _), (idata, _) = lc.streams(huffman=False)
    assert squeezed["zlib"] == 4 * 3 + 4 + len(zlib.compress(wdata, 9)) + len(zlib.compress(idata, 9))
    assert set(squeezed) == {"zlib", "lzma"}


def test_stage_ablation_rows(monkeypatch):
    import course_utils.train as train_module
    monkeypatch.setitem(train_module.DATASETS, "mnist", tiny_mnist)
    settings = {"dense_schedule": [(1, 1e-3)], "sparsity": {"fc1": 0.9, "fc2": 0.9, "fc3": 0.5},
                "prune_schedule": [(1, 1e-3)], "bits": 3, "index_bits": 4, "quant_schedule": [(1, 1e-4)]}
    rows = C.stage_ablation("lenet300100", settings, verbose=False)
    by = {r["row"]: r for r in rows}
    assert by["dense, 32-bit"]["ratio"] == 1 and by["dense, trained as long as the whole pipeline"]["epochs"] == 3
    assert by["Huffman-coded (P+Q+H)"]["bytes"] == C.deep_compression(
        "lenet300100", verbose=False, **settings)["report"][-1]["P+Q+H bytes"]
    assert by["magnitude-pruned, not retrained"]["bytes"] > by["quantised, centroids retrained (fixed width)"]["bytes"]
    assert all(0 <= r["accuracy"] <= 1 and r["bytes"] > 0 and "model" not in r for r in rows)
    with_models = C.stage_ablation("lenet300100", settings, verbose=False, keep_models=True)
    _, (X_test, y_test) = tiny_mnist()
    from course_utils.train import accuracy
    for r, plain in zip(with_models, rows):
        assert r["row"] == plain["row"] and accuracy(r["model"], X_test, y_test) == plain["accuracy"]
    with pytest.raises(TypeError, match="keep_models"):
        C.stage_ablation("lenet300100", settings, verbose=False, keep_models="yes")


def test_dead_units_removes_only_what_cannot_change_the_output():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3))
    with torch.no_grad():
        net[0].weight[1] = 0          # unit 1 of layer 0: no inputs, a constant relu(bias) fed onwards
        net[0].bias[1] = 0.7
        net[2].weight[:, 3] = 0       # unit 3 of layer 0: no outputs; its 6 inputs can go
        net[2].weight[2] = 0          # unit 2 of layer 2: no inputs (its constant feeds layer 4)
    before = net(torch.randn(50, 6, generator=torch.Generator().manual_seed(1)))
    out = C.dead_units(net)
    x = torch.randn(50, 6, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(out["model"](x), before, atol=1e-6)
    assert out["no_input"] == {"0": 1, "2": 1} and out["no_output"] == {"0": 1, "2": 0}
    assert out["fed_no_output"] == {"0": 6, "2": 0}
    assert out["alive"] == {"0": 3, "2": 3}
    # unit 3's 6 inputs, unit 1's 3 outputs (row 2 of layer 2 is already zero), layer 2 unit 2's 3 outputs
    assert out["weights_removed"] == 6 + 3 + 3
    assert int((net[2].weight[:, 1] != 0).sum()) == 3, "the input model is left unchanged"
    with pytest.raises(ValueError, match="chain"):
        C.dead_units(nn.Sequential(nn.Linear(6, 5), nn.Linear(4, 3)))
    with pytest.raises(ValueError, match="nn.Linear"):
        C.dead_units(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Linear(4, 3)))
    with pytest.raises(TypeError, match="nn.Module"):
        C.dead_units("lenet")
