"""Dense-Sparse-Dense: the schedule's stages, masks, learning rates and the fair baseline."""

import pytest
import torch

from course_utils import dsd
from course_utils.compression import prune
from course_utils.models import LeNet300100
from course_utils.train import TrainConfig

import course_utils.train as train_module


def fake_mnist():
    g = torch.Generator().manual_seed(0)
    X = torch.rand(96, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (96,), generator=g)
    return (X, y), (X[:32], y[:32])


@pytest.fixture
def tiny_data(monkeypatch):
    # The schedule is what is under test, not MNIST: a tiny random data set keeps this fast.
    monkeypatch.setitem(train_module.DATASETS, "mnist", fake_mnist)
    return fake_mnist()


def test_sparse_stage_holds_the_mask_and_redense_releases_it(tiny_data):
    (X, y), _ = tiny_data
    config = dsd.DSDConfig(dense_epochs=1, sparse_epochs=1, redense_epochs=1, sparsity=0.5, batch_size=32)
    net = LeNet300100()
    masks = dsd.sparse_stage(net, X, y, config)
    for name in ("fc1", "fc2", "fc3"):
        w = getattr(net, name).weight
        assert (w[~masks[name]] == 0).all() and (~masks[name]).float().mean() == pytest.approx(0.5, abs=1e-3)
    dsd.redense_stage(net, X, y, config)
    # The pruned weights restarted at zero and have now been trained again.
    assert (net.fc1.weight[~masks["fc1"]] != 0).float().mean() > 0.5


def test_redense_uses_the_lower_learning_rate(tiny_data, monkeypatch):
    seen = []
    monkeypatch.setattr(dsd, "fit", lambda model, X, y, config, **kw: seen.append((config.epochs, config.lr)))
    (X, y), _ = tiny_data
    config = dsd.DSDConfig(sparse_epochs=2, redense_epochs=3, lr=1e-3, redense_lr_factor=0.1)
    dsd.sparse_stage(LeNet300100(), X, y, config)
    dsd.redense_stage(LeNet300100(), X, y, config)
    dsd.baseline_stage(LeNet300100(), X, y, config)
    assert seen[:2] == [(2, 1e-3), (3, pytest.approx(1e-4))]
    assert seen[2:] == seen[:2]  # the baseline follows the same epochs and learning rates


def test_run_and_compare_cover_every_stage(tiny_data):
    config = dsd.DSDConfig(dense_epochs=1, sparse_epochs=1, redense_epochs=1, sparsity=0.3, batch_size=32)
    result = dsd.compare(config, seeds=[0, 1], verbose=False)
    assert set(result["mean"]) == set(dsd.STAGES) and len(result["accuracy"]["redense"]) == 2
    pruned = result["runs"][0]["state"]["pruned"]
    assert (dsd.layer_weights(pruned, "fc1") == 0).float().mean() == pytest.approx(0.3, abs=1e-3)
    assert (dsd.layer_weights(result["runs"][0]["state"]["redense"], "fc1") == 0).float().mean() < 0.2
    # Cached: the second call loads the same numbers.
    again = dsd.compare(config, seeds=[0, 1], verbose=False)
    assert again["accuracy"] == result["accuracy"]
    assert config.total_epochs == 3


def test_bad_input():
    with pytest.raises(ValueError, match="sparsity"):
        dsd.DSDConfig(sparsity=1.0)
    with pytest.raises(ValueError, match="redense_lr_factor"):
        dsd.DSDConfig(redense_lr_factor=2.0)
    with pytest.raises(ValueError, match="dense_epochs"):
        dsd.DSDConfig(dense_epochs=0)
    with pytest.raises(TypeError):
        dsd.run_dsd(TrainConfig())
    with pytest.raises(ValueError, match="no layer"):
        dsd.layer_weights(LeNet300100().state_dict(), "conv1")
    with pytest.raises(ValueError, match="no prunable layers"):
        prune(torch.nn.Sequential(torch.nn.ReLU()), sparsity=0.3)


def test_paper_table_improvements_match_the_abstract():
    # The abstract's gains (top-1 points, BLEU, WER points) are the check every row passes.
    abstract = {"GoogLeNet": 1.1, "VGG-16": 4.3, "ResNet-18": 1.2, "ResNet-50": 1.1, "NeuralTalk": 1.7,
                "DeepSpeech": 2.0, "DeepSpeech-2": 1.1}
    for r in dsd.PAPER_TABLE:
        gain = r["dsd"] - r["baseline"] if r["metric"] == "BLEU" else r["baseline"] - r["dsd"]
        assert gain == pytest.approx(abstract[r["network"]], abs=1e-9), r["network"]
        assert isinstance(r["checked"], bool)


def test_every_arm_trains_the_same_epochs_and_keeps_its_mask(tiny_data):
    config = dsd.DSDConfig(dense_epochs=1, sparse_epochs=1, redense_epochs=2, sparsity=0.4, batch_size=32,
                           redense_lr_factor=1.0)
    run = dsd.run_dsd(config, verbose=False)
    assert set(run["state"]) == set(dsd.STAGES) == set(run["accuracy"]) == set(run["train_accuracy"])
    # One curve point per epoch; every equal-epoch arm ends at the same epoch.
    assert [p[0] for p in run["curves"]["dense"]] == [1]
    for arm in ("redense", "sparse_only", "baseline", "random_redense"):
        assert [p[0] for p in run["curves"][arm]] == [2, 3, 4], arm
    assert [p[0] for p in run["curves"]["dense_continued"]] == [2, 3, 4]
    zeros = {s: (dsd.layer_weights(run["state"][s], "fc2") == 0) for s in dsd.STAGES}
    # sparse only keeps exactly the magnitude mask; the random arm uses another mask of the same size.
    assert torch.equal(zeros["sparse_only"], zeros["pruned"]) and torch.equal(zeros["sparse"], zeros["pruned"])
    assert zeros["random_sparse"].float().mean() == pytest.approx(0.4, abs=1e-3)
    assert not torch.equal(zeros["random_sparse"], zeros["pruned"])
    assert zeros["baseline"].float().mean() < 0.01
    restored, kept = dsd.restored_and_kept(run, "fc2")
    assert restored.numel() == zeros["pruned"].sum() and kept.numel() == (~zeros["pruned"]).sum()
    with pytest.raises(ValueError, match="no stage"):
        dsd.restored_and_kept(run, "fc2", stage="nope")


def test_random_masks_and_quiet_progress():
    net = LeNet300100()
    masks = dsd.random_masks(net, 0.25, seed=3)
    for name, m in masks.items():
        assert (~m).sum() == round(0.25 * m.numel()) and (getattr(net, name).weight[~m] == 0).all()
    again = dsd.random_masks(LeNet300100(), 0.25, seed=3)
    assert all(torch.equal(masks[k], again[k]) for k in masks)
    with pytest.raises(ValueError, match="sparsity"):
        dsd.random_masks(net, 1.5, seed=0)
    with pytest.raises(ValueError, match="dataset"):
        dsd.load_data("cifar")
    original = train_module.tqdm
    with dsd.progress_bars(False):
        assert train_module.tqdm is not original
    assert train_module.tqdm is original


def test_paper_relative_improvements_are_the_lectures():
    # The lecture's Rel. Imp. column; the rounded table values give these to within half a point.
    lecture = [3.6, 13.7, 4.1, 4.6, 10.1, 5.8, 7.4]
    assert [r["rel_imp"] for r in dsd.PAPER_TABLE] == lecture
    for r in dsd.PAPER_TABLE:
        gain = abs(r["dsd"] - r["baseline"])
        assert abs(100 * gain / r["baseline"] - r["rel_imp"]) < 0.5, r["network"]


def _benchmark():
    """benchmarks/compression.py as a module (under its own name, so it shadows nothing)."""
    import importlib.util
    import sys
    from pathlib import Path
    folder = Path(__file__).resolve().parent.parent / "benchmarks"
    sys.path.insert(0, str(folder))   # it imports its sibling _common
    try:
        spec = importlib.util.spec_from_file_location("bench_compression", folder / "compression.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(folder))
    return module


def test_benchmark_paired_stats_against_a_hand_computation():
    stats = _benchmark().paired_stats([0.91, 0.95, 0.93], [0.90, 0.92, 0.93])
    # d = 0.01, 0.03, 0.00: mean 0.013333, sample sd sqrt(0.00046667 / 2) = 0.015275, SE 0.0088192, t = 1.5119.
    # With 2 degrees of freedom the t distribution's CDF is 1/2 + t / (2 sqrt(2 + t^2)), so
    # t_{2,0.975} = sqrt(2 * 0.9025 / 0.0975) = 4.30265 and p = 1 - t / sqrt(2 + t^2) = 0.26970.
    assert stats["n"] == 3 and stats["df"] == 2
    assert stats["mean"] == pytest.approx(0.0133333, abs=1e-6)
    assert stats["sd"] == pytest.approx(0.0152753, abs=1e-6)
    assert stats["se"] == pytest.approx(0.0088192, abs=1e-6)
    assert stats["t"] == pytest.approx(1.51186, abs=1e-4)
    assert stats["t_crit"] == pytest.approx(4.30265, abs=1e-4)
    assert stats["p"] == pytest.approx(0.26970, abs=1e-4)
    assert stats["ci"] == pytest.approx([0.0133333 - 4.30265 * 0.0088192, 0.0133333 + 4.30265 * 0.0088192], abs=1e-5)


def test_benchmark_paired_stats_edge_cases():
    bench = _benchmark()
    same = bench.paired_stats([0.9, 0.8, 0.7], [0.8, 0.7, 0.6])   # every difference 0.1: sd 0, no t
    assert same["mean"] == pytest.approx(0.1) and same["sd"] == pytest.approx(0, abs=1e-12)
    assert same["t"] is None and same["p"] is None
    with pytest.raises(ValueError, match="equal length"):
        bench.paired_stats([0.9, 0.8], [0.9, 0.8, 0.7])
    with pytest.raises(ValueError, match="at least 2"):
        bench.paired_stats([0.9], [0.8])
    with pytest.raises(ValueError, match="confidence"):
        bench.paired_stats([0.9, 0.8], [0.8, 0.8], confidence=95)


def test_benchmark_dsd_row_on_tiny_data(tiny_data):
    bench = _benchmark()
    config = dsd.DSDConfig(dense_epochs=1, sparse_epochs=1, redense_epochs=1, sparsity=0.5, batch_size=32)
    row = bench.dsd_comparison(config, [0, 1])
    assert row["data"] == {"dataset": "mnist", "train": 96, "test": 32} and row["seeds"] == [0, 1]
    assert set(row["accuracy"]) == set(dsd.STAGES) and all(len(v) == 2 for v in row["train_accuracy"].values())
    assert set(row["paired"]) == {label for label, _, _ in bench.pairs(dsd.STAGES)}
    asked = {"DSD - train longer", "DSD - sparse only", "DSD - random-mask DSD", "train longer - dense"}
    assert asked <= set(row["paired"])
    gain = row["paired"]["DSD - train longer"]["test"]
    expected = sum(a - b for a, b in zip(row["accuracy"]["redense"], row["accuracy"]["baseline"])) / 2
    assert gain["mean"] == pytest.approx(expected) and len(row["seconds_per_seed"]) == 2
    n = len(row["paired"])
    assert all(s["p_bonferroni"] is None or s["p_bonferroni"] == pytest.approx(min(1, n * s["p"]))
               for p in row["paired"].values() for s in p.values())


def test_notebook_config_is_the_one_lecture_08_trains():
    # dsd.NOTEBOOK_CONFIG is what the benchmark runs as "the notebook's schedule": it must stay the notebook's.
    import json
    import re
    from pathlib import Path
    nb = Path(__file__).resolve().parent.parent / "notebooks" / "08_dense_sparse_dense.ipynb"
    source = "\n".join("".join(c["source"]) for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code")
    calls = re.findall(r"config = (dsd\.(?:DSDConfig\([^)]*\)|NOTEBOOK_CONFIG))", source)
    assert calls, "lecture 08 no longer builds its config as `config = dsd.DSDConfig(...)`"
    assert eval(calls[0], {"dsd": dsd}) == dsd.NOTEBOOK_CONFIG


def test_dense_continued_is_the_dense_fit_run_on_without_a_restart(tiny_data):
    # The dense model is the first dense_epochs of one longer fit: bitwise the model a dense_epochs-long fit gives,
    # and dense_continued is the same fit's end (one optimiser, one shuffle stream, no restart).
    from course_utils.models import build_model
    from course_utils.train import fit, one_thread, seed_everything
    (X, y), _ = tiny_data
    config = dsd.DSDConfig(dense_epochs=2, sparse_epochs=1, redense_epochs=1, sparsity=0.3, batch_size=32)
    run = dsd.run_dsd(config, verbose=False)
    with one_thread():   # as run_dsd trains (two threads sum in another order)
        seed_everything(config.seed)
        alone = build_model(config.model)
        assert all(torch.equal(alone.state_dict()[k], run["init"][k]) for k in run["init"])
        fit(alone, X, y, config.stage(config.dense_epochs, config.lr))
        assert all(torch.equal(alone.state_dict()[k], run["state"]["dense"][k]) for k in run["init"])
        fit(alone, X, y, config.stage(config.sparse_epochs + config.redense_epochs, config.lr))   # a restart
        seed_everything(config.seed)
        longer = build_model(config.model)
        fit(longer, X, y, config.stage(config.total_epochs, config.lr))
        assert all(torch.equal(longer.state_dict()[k], run["state"]["dense_continued"][k]) for k in run["init"])
        assert not torch.equal(alone.fc2.weight, longer.fc2.weight)
        assert [p[0] for p in run["curves"]["dense"]] == [1, 2]
        assert [p[0] for p in run["curves"]["dense_continued"]] == [3, 4]
