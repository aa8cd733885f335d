import os

import pytest
import torch

from course_utils import cache
from course_utils.train import TrainConfig, accuracy, pick_device, seed_everything, train


def test_checkpoint_round_trip(tmp_path):
    payload = {"state_dict": {"w": torch.arange(6.0).reshape(2, 3)}, "losses": [1.0, 0.5], "name": "x"}
    path = cache.save_checkpoint(tmp_path / "a.pt", payload)
    back = cache.load_checkpoint(path)
    assert torch.equal(back["state_dict"]["w"], payload["state_dict"]["w"]) and back["losses"] == [1.0, 0.5]


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_corrupt_checkpoint_is_detected(tmp_path, damage):
    path = cache.save_checkpoint(tmp_path / "a.pt", {"w": torch.ones(100)})
    raw = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "flip":
        path.write_bytes(raw[:-40] + bytes([raw[-40] ^ 0xFF]) + raw[-39:])
    else:
        path.write_bytes(b"not a checkpoint")
    with pytest.raises(cache.CorruptCheckpointError):
        cache.load_checkpoint(path)


def test_atomic_write_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")

    def boom(*args):
        raise OSError("disk full")
    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError):
        cache.atomic_write_bytes(target, b"new contents")
    assert target.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [target]


def test_cached_computes_once_and_recovers_from_corruption(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"value": torch.tensor([len(calls)])}
    config = {"a": 1, "b": [1, 2]}
    first = cache.cached("thing", config, compute, verbose=False)
    second = cache.cached("thing", {"b": [1, 2], "a": 1}, compute, verbose=False)  # key order does not matter
    assert len(calls) == 1 and first["value"].item() == second["value"].item() == 1
    path = next(cache.cache_dir().glob("thing-*.pt"))
    path.write_bytes(path.read_bytes()[:50])
    with pytest.warns(UserWarning, match="unreadable"):
        third = cache.cached("thing", config, compute, verbose=False)
    assert len(calls) == 2 and third["value"].item() == 2


def test_config_key_rejects_non_json():
    with pytest.raises(TypeError, match="JSON"):
        cache.config_key({"f": object()})
    with pytest.raises(TypeError, match="dict"):
        cache.config_key([1, 2])


def test_cache_dir_env_override(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert cache.cache_dir() == tmp_path / "elsewhere" and cache.cache_dir().is_dir()


def test_train_is_deterministic_and_cached(capsys):
    config = TrainConfig(model="lenet300100", dataset="mnist", epochs=1, batch_size=256, lr=2e-3)
    model_a, info_a = train(config)
    assert "[cache] saved" in capsys.readouterr().out
    model_b, info_b = train(config)
    assert "[cache] loaded" in capsys.readouterr().out
    for (k, a), b in zip(model_a.state_dict().items(), model_b.state_dict().values()):
        assert torch.equal(a, b), k
    assert info_a["test_accuracy"] == info_b["test_accuracy"] > 0.8
    assert not model_b.training

    # A fresh cache retrains and gets the very same weights: seeded end to end.
    for f in cache.cache_dir().glob("*.pt"):
        f.unlink()
    model_c, _ = train(config, verbose=False)
    assert all(torch.equal(a, c) for a, c in zip(model_a.state_dict().values(), model_c.state_dict().values()))


def test_train_retrains_a_corrupt_checkpoint():
    config = TrainConfig(model="lenet300100", dataset="mnist", epochs=1, batch_size=512)
    train(config, verbose=False)
    path = next(cache.cache_dir().glob("lenet300100-*.pt"))
    path.write_bytes(path.read_bytes()[:-1000])
    with pytest.warns(UserWarning, match="unreadable"):
        model, info = train(config, verbose=False)
    assert info["test_accuracy"] > 0.5
    cache.load_checkpoint(path)  # rewritten whole


def test_train_rejects_unknown_names():
    with pytest.raises(ValueError, match="model"):
        train(TrainConfig(model="resnet"))
    with pytest.raises(ValueError, match="dataset"):
        train(TrainConfig(dataset="imagenet"))


def test_load_or_fit_custom_model():
    from course_utils.train import load_or_fit
    X = torch.randn(200, 5)
    y = (X[:, 0] > 0).long()
    config = TrainConfig(model="tiny-linear", dataset="toy", epochs=5, lr=0.05, batch_size=50)
    seed_everything(0)
    model, info = load_or_fit(torch.nn.Linear(5, 2), (X, y), (X, y), config, extra={"d": 5}, verbose=False)
    assert info["test_accuracy"] > 0.9
    seed_everything(0)
    again, info2 = load_or_fit(torch.nn.Linear(5, 2), (X, y), (X, y), config, extra={"d": 5}, verbose=False)
    assert info2["train_seconds"] == info["train_seconds"]  # loaded, not retrained
    with pytest.raises(TypeError):
        load_or_fit("linear", (X, y), (X, y), config)


@pytest.mark.parametrize("kwargs, error", [
    ({"model": 3}, TypeError), ({"epochs": -1}, ValueError),
    ({"lr": 0.0}, ValueError), ({"batch_size": 2.5}, TypeError), ({"optimizer": "rmsprop"}, ValueError),
    ({"seed": -3}, ValueError), ({"momentum": 1.0}, ValueError),
])
def test_train_config_validation(kwargs, error):
    with pytest.raises(error):
        TrainConfig(**kwargs)


def test_train_rejects_non_config():
    with pytest.raises(TypeError, match="TrainConfig"):
        train({"model": "lenet5"})


def test_device_and_seed():
    assert pick_device().type in {"cuda", "mps", "cpu"}
    a = torch.randperm(10, generator=seed_everything(3))
    b = torch.randperm(10, generator=seed_everything(3))
    assert torch.equal(a, b)
    with pytest.raises(ValueError):
        seed_everything(-1)


def test_accuracy_checks_lengths():
    model = torch.nn.Linear(4, 2)
    with pytest.raises(ValueError, match="same length"):
        accuracy(model, torch.zeros(3, 4), torch.zeros(2, dtype=torch.long))


def test_one_thread_restores_the_thread_count_even_after_an_error():
    from course_utils.train import one_thread
    before = torch.get_num_threads()
    with one_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), one_thread():
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before
