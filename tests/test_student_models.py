"""Every attribution and occlusion entry point on models written the way students write them.

The zoo: one small CNN (conv, BatchNorm, max pool, a residual conv, dropout, linear head) written in
many styles: ``view``/``reshape``/``flatten`` heads; module, functional, in-place and reused ReLUs;
optional ``forward`` arguments; plus a CS231n LeNet with ``x.view(-1, 16 * 5 * 5)`` straight after a
pooled convolution. Every style computes the same function as ``Reference``, written the way captum
supports (one non-in-place ``nn.ReLU`` module per rectifier), so each result is compared with captum
on the reference with the same weights. Inputs are non-square and odd-sized, float32 and float64,
on every device present; models in train mode are run in eval mode with a warning.
"""
import math
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_utils import backprop as bp
from course_utils import occlusion as oc

captum_attr = pytest.importorskip("captum.attr")

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else []) + \
    (["mps"] if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available() else [])
DTYPES = [torch.float32, torch.float64]


class Layers(nn.Module):
    """The parameters every style shares (same names, so one state dict fits all)."""

    def __init__(self, channels=3, classes=5):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 6, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(6)
        self.conv2 = nn.Conv2d(6, 6, 3, padding=1)
        self.drop = nn.Dropout(0.5)
        self.fc = nn.Linear(6 * 2 * 2, classes)


class Reference(Layers):
    """What captum supports: a separate, non-in-place nn.ReLU module for each rectifier."""

    def __init__(self):
        super().__init__()
        self.relu1, self.relu2, self.pool, self.avg = nn.ReLU(), nn.ReLU(), nn.MaxPool2d(2), nn.AdaptiveAvgPool2d(2)

    def forward(self, x):
        h = self.pool(self.relu1(self.bn1(self.conv1(x))))
        h = self.relu2(self.conv2(h) + h)
        return self.fc(self.drop(self.avg(h).flatten(1)))


class ViewHead(Layers):          # the CS231n / PyTorch tutorial style
    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.relu(self.conv2(x) + x)
        x = F.adaptive_avg_pool2d(x, 2)
        x = x.view(x.size(0), -1)
        return self.fc(self.drop(x))


class ReshapeHead(Layers):
    def forward(self, x):
        x = F.max_pool2d(torch.relu(self.bn1(self.conv1(x))), 2)
        x = torch.relu(self.conv2(x) + x)
        return self.fc(self.drop(F.adaptive_avg_pool2d(x, (2, 2)).reshape(x.shape[0], -1)))


class FlattenHead(Layers):
    def __init__(self):
        super().__init__()
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Dropout(0.5), nn.Linear(24, 5))
        del self.fc, self.drop

    def forward(self, x):
        x = self.bn1(self.conv1(x)).relu()
        x = F.max_pool2d(x, kernel_size=2, stride=2)
        return self.head((self.conv2(x) + x).relu())


class InPlace(Layers):           # ResNet style: ReLU(inplace=True), out += identity, relu_()
    def __init__(self):
        super().__init__()
        self.relu, self.pool = nn.ReLU(inplace=True), nn.MaxPool2d(2)

    def forward(self, x):
        x = self.pool(self.relu(self.bn1(self.conv1(x))))
        out = self.conv2(x)
        out += x
        out.relu_()
        out = F.adaptive_avg_pool2d(out, 2)
        return self.fc(self.drop(torch.flatten(out, 1)))


class FunctionalInPlace(Layers):
    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x)), inplace=True), 2)
        out = F.relu(self.conv2(x) + x, True)
        return self.fc(F.dropout(F.adaptive_avg_pool2d(out, 2).flatten(1), 0.5, self.training))


class ReusedReLU(Layers):        # one nn.ReLU module for every rectifier
    def __init__(self):
        super().__init__()
        self.relu, self.pool = nn.ReLU(), nn.MaxPool2d(2)

    def forward(self, x):
        x = self.pool(self.relu(self.bn1(self.conv1(x))))
        x = self.relu(self.conv2(x) + x)
        return self.fc(self.drop(F.adaptive_avg_pool2d(x, 2).view(x.shape[0], -1)))


class OptionalArguments(Layers):  # forward(x, scale=None, return_features=False)
    def forward(self, x, scale=None, return_features=False):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        features = F.relu(self.conv2(x) + x)
        if return_features:
            return features
        logits = self.fc(self.drop(F.adaptive_avg_pool2d(features, 2).flatten(1)))
        return logits if scale is None else logits * scale


STYLES = [ViewHead, ReshapeHead, FlattenHead, InPlace, FunctionalInPlace, ReusedReLU, OptionalArguments]


class LeNet(nn.Module):          # CS231n / the PyTorch 60-minute blitz, on 32x32 images
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(3, 6, 5), nn.Conv2d(6, 16, 5)
        self.fc1, self.fc2 = nn.Linear(16 * 5 * 5, 12), nn.Linear(12, 5)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(-1, 16 * 5 * 5)
        return self.fc2(F.relu(self.fc1(x)))


class LeNetReference(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(3, 6, 5), nn.Conv2d(6, 16, 5)
        self.fc1, self.fc2 = nn.Linear(16 * 5 * 5, 12), nn.Linear(12, 5)
        self.relu1, self.relu2, self.relu3 = nn.ReLU(), nn.ReLU(), nn.ReLU()
        self.pool1, self.pool2 = nn.MaxPool2d(2), nn.MaxPool2d(2)

    def forward(self, x):
        x = self.pool2(self.relu2(self.conv2(self.pool1(self.relu1(self.conv1(x))))))
        return self.fc2(self.relu3(self.fc1(x.flatten(1))))


def make(style, dtype=torch.float32, device="cpu"):
    """(student model, captum-supported reference with the same weights), both in eval mode."""
    torch.manual_seed(0)
    model = style()
    if isinstance(model, Layers):
        with torch.no_grad():       # non-trivial BatchNorm statistics
            model.bn1.running_mean.uniform_(-0.3, 0.3)
            model.bn1.running_var.uniform_(0.5, 2.0)
            model.bn1.weight.uniform_(0.5, 1.5)
    reference = LeNetReference() if style is LeNet else Reference()
    state = model.state_dict()
    if style is FlattenHead:
        state = {k.replace("head.3.", "fc."): v for k, v in state.items()}
    reference.load_state_dict(state)
    return model.to(device, dtype).eval(), reference.to(device, dtype).eval()


def image_batch(style, dtype=torch.float32, device="cpu", batch=2):
    torch.manual_seed(1)
    shape = (3, 32, 32) if style is LeNet else (3, 13, 21)   # odd and non-square
    return torch.rand(batch, *shape, dtype=dtype, device=device)


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def close(ours, theirs, dtype):
    tol = (1e-5 if dtype == torch.float32 else 1e-10) * max(theirs.abs().max().item(), 1.0)
    return ours.shape == theirs.shape and ours.device == theirs.device and ours.dtype == theirs.dtype \
        and torch.allclose(ours, theirs, atol=tol, rtol=0)


def test_styles_compute_the_reference_function():
    for style in STYLES + [LeNet]:
        model, reference = make(style)
        x = image_batch(style)
        with torch.no_grad():
            assert torch.allclose(model(x), reference(x), atol=1e-6), style.__name__


ATTRIBUTIONS = [(bp.saliency, lambda m: captum_attr.Saliency(m), {"abs": False}),
                (bp.deconvnet, lambda m: captum_attr.Deconvolution(m), {}),
                (bp.guided_backprop, lambda m: captum_attr.GuidedBackprop(m), {})]
NEURON_ATTRIBUTIONS = [(bp.saliency, captum_attr.NeuronGradient), (bp.deconvnet, captum_attr.NeuronDeconvolution),
                       (bp.guided_backprop, captum_attr.NeuronGuidedBackprop)]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("style", STYLES + [LeNet], ids=lambda s: s.__name__)
def test_attributions_equal_captum(style, dtype, device):
    model, reference = make(style, dtype, device)
    x = image_batch(style, dtype, device)
    for ours, theirs, kwargs in ATTRIBUTIONS:
        expected = quiet(theirs(reference).attribute, x, target=[1, 3], **kwargs)
        got = ours(model, x, [1, 3])
        assert close(got, expected, dtype), f"{ours.__name__} on {style.__name__}"
        assert close(ours(model, x[0], 2), quiet(theirs(reference).attribute, x[:1], target=2, **kwargs)[0], dtype)
    for ours, theirs in NEURON_ATTRIBUTIONS:          # a neuron of the second convolution
        expected = quiet(theirs(reference, reference.conv2).attribute, x, neuron_selector=(4, 2, 3))
        got = ours(model, x, bp.neuron(4, 2, 3), layer=model.conv2)
        assert close(got, expected, dtype), f"{ours.__name__}(layer=conv2) on {style.__name__}"


def manual_occluded_logits(model, image, window, stride, baseline):
    """The definition, one occluded image at a time, written without course_utils."""
    (wh, ww), (sh, sw) = window, stride
    H, W = image.shape[-2:]
    ys = [i * sh for i in range(math.ceil((H - wh) / sh) + 1)]     # captum's positions
    xs = [j * sw for j in range(math.ceil((W - ww) / sw) + 1)]
    rows = []
    with torch.no_grad():
        for y in ys:
            row = []
            for x0 in xs:
                occluded = image.clone()
                occluded[:, y:y + wh, x0:x0 + ww] = baseline
                row.append(model(occluded[None])[0])
            rows.append(torch.stack(row))
    return torch.stack(rows)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("style", STYLES + [LeNet], ids=lambda s: s.__name__)
def test_occlusion_equals_captum_and_the_definition(style, dtype, device):
    model, reference = make(style, dtype, device)
    x = image_batch(style, dtype, device)
    window, stride = ((8, 7), (6, 6)) if style is LeNet else ((5, 4), (3, 4))
    expected_logits = manual_occluded_logits(reference, x[0], window, stride, 0.3)
    expected = quiet(captum_attr.Occlusion(reference).attribute, x, target=[1, 3], sliding_window_shapes=(3, *window),
                     strides=(3, *stride), baselines=0.3)
    captum_dtype = expected.dtype      # captum sums float64 occlusions into a float32 total
    expected = expected.to(dtype)
    expected_map = expected_logits.softmax(-1)[..., 2]
    for method in ["dense", "incremental", "auto"]:
        with warnings.catch_warnings():
            warnings.simplefilter("error")            # no fallback warning: every style runs incrementally
            logits = oc.occluded_logits(model, x[0], window, stride, 0.3, method=method, batch_size=7)
            attribution = oc.occlusion(model, x, [1, 3], window, stride, 0.3, method=method)
            grid = oc.occlusion_map(model, x[0], 2, window, stride, 0.3, method=method)
        assert close(logits, expected_logits, dtype), f"occluded_logits {method} on {style.__name__}"
        assert close(attribution, expected, captum_dtype), f"occlusion {method} on {style.__name__}"
        assert close(grid, expected_map, dtype), f"occlusion_map {method} on {style.__name__}"


@pytest.mark.parametrize("style", STYLES, ids=lambda s: s.__name__)
def test_auto_picks_incremental_on_large_images(style):
    """From 96x96 up "auto" runs the incremental engine (where OptionalArguments once died)."""
    model, reference = make(style)
    image = torch.rand(3, 97, 101)
    expected = manual_occluded_logits(reference, image, (32, 40), (32, 30), 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = oc.occluded_logits(model, image, (32, 40), (32, 30), 0.0, method="auto")
    assert torch.allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize("style", [ViewHead, InPlace, FlattenHead], ids=lambda s: s.__name__)
def test_train_mode_runs_in_eval_mode_and_is_restored(style):
    """Dropout and BatchNorm in train mode: the maps are eval mode's, and every flag and statistic comes back."""
    model, reference = make(style)
    x = image_batch(style)
    expected_gb = bp.guided_backprop(model, x, [0, 1])
    expected_occ = oc.occlusion(model, x, [0, 1], 5, 4, 0.0)
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.warns(UserWarning, match="training mode"):
        assert torch.allclose(bp.guided_backprop(model, x, [0, 1]), expected_gb, atol=1e-6)
    with pytest.warns(UserWarning, match="training mode"):
        assert torch.allclose(oc.occlusion(model, x, [0, 1], 5, 4, 0.0, method="incremental"), expected_occ,
                              atol=1e-6)
    assert all(m.training for m in model.modules())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_student_code_only_sees_the_memory_format_it_asked_for():
    model, _ = make(ViewHead)
    seen = []
    handle = model.conv2.register_forward_pre_hook(lambda m, args: seen.append(args[0].is_contiguous()))
    try:
        x = image_batch(ViewHead)
        for method in ["dense", "incremental"]:
            oc.occlusion(model, x, 0, 5, 4, method=method)
        bp.guided_backprop(model, x, 0)
    finally:
        handle.remove()
    assert seen and all(seen)
    # A caller who chose channels_last (for a model that takes it: ReshapeHead) gets the same numbers.
    model, _ = make(ReshapeHead)
    last = image_batch(ReshapeHead).contiguous(memory_format=torch.channels_last)
    for method in ["dense", "incremental"]:
        assert torch.allclose(oc.occlusion(model, last, [0, 1], 5, 4, method=method),
                              oc.occlusion(model, last.contiguous(), [0, 1], 5, 4, method=method), atol=1e-6)


class ConvTwice(nn.Module):
    """One convolution module applied twice, once followed by a ReLU and once not."""

    def __init__(self):
        super().__init__()
        self.conv, self.relu, self.fc = nn.Conv2d(3, 3, 3, padding=1), nn.ReLU(), nn.Linear(3, 4)

    def forward(self, x):
        x = self.conv(self.relu(self.conv(x)))
        return self.fc(x.mean((2, 3)))


class InPlaceOnAView(nn.Module):
    """relu_ on a view changes the tensor it views: cannot run out of place, so no fast path."""

    def __init__(self):
        super().__init__()
        self.conv, self.fc = nn.Conv2d(3, 4, 3), nn.Linear(4, 3)

    def forward(self, x):
        h = self.conv(x)
        h.view(-1).relu_()
        return self.fc(h.mean((2, 3)))


class DataDependent(nn.Module):
    """Control flow that depends on the values: torch.fx cannot trace it."""

    def __init__(self):
        super().__init__()
        self.conv, self.fc = nn.Conv2d(3, 4, 3), nn.Linear(4, 3)

    def forward(self, x):
        h = F.relu(self.conv(x))
        if h.mean() > 100:
            h = h * 0
        return self.fc(h.mean((2, 3)))


class LenHead(nn.Module):
    """``len(x)`` cannot be traced by torch.fx (it must return an int): the plain model runs."""

    def __init__(self):
        super().__init__()
        self.conv, self.fc = nn.Conv2d(3, 4, 3, stride=2), nn.Linear(4 * 5 * 6, 3)

    def forward(self, x):
        return self.fc(F.relu(self.conv(x)).view(len(x), -1))


@pytest.mark.parametrize("style", [ConvTwice, InPlaceOnAView, DataDependent, LenHead], ids=lambda s: s.__name__)
def test_unusual_models_still_give_the_definition(style):
    torch.manual_seed(0)
    model = style().eval()
    image = torch.rand(3, 11, 14)
    expected = manual_occluded_logits(model, image, (4, 4), (3, 3), 0.0)
    for method in ["dense", "incremental"]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")          # the untraceable ones fall back to dense, with a warning
            got = oc.occluded_logits(model, image, 4, 3, 0.0, method=method)
        assert torch.allclose(got, expected, atol=1e-5), method
    x = image[None].requires_grad_()
    expected_grad, = torch.autograd.grad(model(x)[0, 1], x)
    assert torch.allclose(bp.saliency(model, image[None], 1), expected_grad, atol=1e-6)


def test_what_cannot_be_supported_is_named():
    model, _ = make(ViewHead)
    x = image_batch(ViewHead)
    with pytest.raises(TypeError, match="float64 but the model's parameters are torch.float32"):
        bp.guided_backprop(model, x.double(), 0)
    with pytest.raises(TypeError, match="float64 but the model's parameters are torch.float32"):
        oc.occlusion_map(model, x.double(), 0, 5, 4)
    with pytest.raises(TypeError, match="float64 but the model's parameters are torch.float32"):
        oc.occluded_logits(model, x[0].double(), 5, 4)

    class NeedsTwo(Layers):
        def forward(self, x, mask):
            return self.fc(F.adaptive_avg_pool2d(self.conv2(F.relu(self.conv1(x))) * mask, 2).flatten(1))

    for call in [lambda m: bp.saliency(m, x, 0), lambda m: bp.guided_backprop(m, x, 0, layer=m.conv1),
                 lambda m: oc.occluded_logits(m, x[0], 5, 4, method="incremental"),
                 lambda m: oc.occlusion(m, x, 0, 5, 4), lambda m: oc.occlusion_map(m, x, 0, 5, 4)]:
        with warnings.catch_warnings():
            warnings.simplefilter("error")           # an error, not a fallback
            with pytest.raises(TypeError, match="NeedsTwo.forward needs the argument 'mask' besides the image"):
                call(NeedsTwo().eval())
    with pytest.raises(ValueError, match="x is on meta but the model is on cpu"):
        bp.saliency(model, x.to("meta"), 0)
