"""Small networks shared by several test files."""
import torch
from torch import nn

from course_utils.models import MBConv, _conv_bn


def lite_like(relu6: bool = True) -> nn.Module:
    """A miniature EfficientNet-Lite in eval mode: SamePad, BatchNorm, ReLU6 (or ReLU) modules, residual MBConv blocks."""
    torch.manual_seed(1)
    net = nn.Sequential(_conv_bn(3, 8, 3, stride=2), MBConv(8, 8, 3, 1, 2), MBConv(8, 12, 5, 2, 3),
                        MBConv(12, 12, 5, 1, 2), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(12, 6))
    for m in net.modules():  # non-trivial BatchNorm statistics and affine parameters
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
        for name, child in m.named_children():
            if isinstance(child, nn.ReLU6) and not relu6:
                setattr(m, name, nn.ReLU())
    return net.eval()
