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
