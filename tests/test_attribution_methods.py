"""course_utils.attribution: Grad-CAM, Integrated Gradients and SmoothGrad against captum; the baselines."""
import numpy as np
import pytest
import scipy.ndimage as ndi
import torch
from captum.attr import IntegratedGradients, LayerAttribution, LayerGradCam, NoiseTunnel, Saliency

from course_utils import attribution as at
from course_utils.models import FashionCNN, PhotoCNN
from nets import lite_like


def fashion_cnn():
    torch.manual_seed(0)
    return FashionCNN().eval()


def photo_cnn():
    torch.manual_seed(2)
    return PhotoCNN(5, conv1_kernel=5, width=8).eval()


# (model factory, input shape, Grad-CAM layer name, targets): three architectures, several targets each
MODELS = [(fashion_cnn, (3, 1, 28, 28), "features.4", [1, 3, 9]),
          (photo_cnn, (2, 3, 32, 32), "conv3", [0, 4]),
          (lite_like, (2, 3, 32, 32), "3", [5, 2])]
IDS = ["fashion_cnn", "photo_cnn", "lite_like"]


@pytest.mark.parametrize("make, shape, layer, targets", MODELS, ids=IDS)
def test_grad_cam_matches_captum_layer_grad_cam_with_upsampling(make, shape, layer, targets):
    model, x = make(), torch.rand(shape)
    ours = at.grad_cam(model, x, targets, layer)
    theirs = LayerGradCam(model, model.get_submodule(layer)).attribute(x, target=targets, relu_attributions=True)
    theirs = LayerAttribution.interpolate(theirs, shape[-2:], interpolate_mode="bilinear").detach()
    assert ours.shape == (shape[0], 1, *shape[-2:])
    assert torch.allclose(ours, theirs, rtol=1e-5, atol=1e-7 * float(theirs.abs().max()))
    assert ours.min() >= 0
    coarse = at.grad_cam(model, x[0], targets[0], model.get_submodule(layer), upsample=False)
    assert coarse.shape[-1] < shape[-1]


class StudentNet(torch.nn.Module):
    """As students write them: an in-place ReLU module, functional ReLU and pooling, a ``.view``
    flatten and an optional forward argument."""

    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = torch.nn.Conv2d(1, 6, 3, padding=1), torch.nn.Conv2d(6, 8, 3, padding=1)
        self.act = torch.nn.ReLU(inplace=True)
        self.fc = torch.nn.Linear(8 * 7 * 7, 5)

    def forward(self, x, temperature=1.0):
        x = torch.nn.functional.max_pool2d(self.act(self.conv1(x)), 2)
        x = torch.nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)
        return self.fc(x.view(x.shape[0], -1)) / temperature


@pytest.mark.parametrize("layer", ["conv2", "act"])   # a conv, and a layer with no parameters
def test_grad_cam_on_a_student_model_matches_captum_and_leaves_grad_mode_alone(layer):
    torch.manual_seed(0)
    model, x = StudentNet().eval(), torch.rand(3, 1, 28, 28)
    theirs = LayerGradCam(model, model.get_submodule(layer)).attribute(x, target=[0, 2, 4], relu_attributions=True)
    theirs = LayerAttribution.interpolate(theirs, (28, 28), interpolate_mode="bilinear").detach()
    ours = at.grad_cam(model, x, [0, 2, 4], layer)
    assert torch.allclose(ours, theirs, rtol=1e-5, atol=1e-7 * float(theirs.abs().max()))
    assert torch.is_grad_enabled()          # the no_grad forward does not leak out
    with torch.no_grad():
        at.grad_cam(model, x, [0, 2, 4], layer)
        assert not torch.is_grad_enabled()


@pytest.mark.parametrize("method", ["riemann_left", "riemann_right", "riemann_middle"])
@pytest.mark.parametrize("make, shape, layer, targets", MODELS, ids=IDS)
def test_integrated_gradients_matches_captum(make, shape, layer, targets, method):
    model, x = make(), torch.rand(shape)
    baseline = torch.rand(shape[1:]) * 0.1
    ours = at.integrated_gradients(model, x, targets, baseline=baseline, steps=12, method=method, batch_size=7)
    theirs = IntegratedGradients(model).attribute(x, baselines=baseline[None], target=targets, n_steps=12,
                                                  method=method)
    assert torch.allclose(ours, theirs, rtol=1e-4, atol=1e-6 * float(theirs.abs().max()))


def test_trapezoid_rule_is_the_true_trapezoid_and_captums_is_scaled_by_one_minus_one_over_n():
    # captum's riemann_trapezoid halves the end weights of 1/n, so its weights sum to 1 - 1/n.
    model, x = fashion_cnn(), torch.rand(2, 1, 28, 28)
    ours = at.integrated_gradients(model, x, [2, 5], steps=10, method="riemann_trapezoid")
    theirs = IntegratedGradients(model).attribute(x, target=[2, 5], n_steps=10, method="riemann_trapezoid")
    assert torch.allclose(ours * 9 / 10, theirs, rtol=1e-4, atol=1e-7)
    assert float(at.riemann_points(10, "riemann_trapezoid")[1].sum()) == pytest.approx(1.0)


@pytest.mark.parametrize("make, shape, layer, targets", MODELS, ids=IDS)
def test_completeness_gap_shrinks_with_steps(make, shape, layer, targets):
    model, x = make(), torch.rand(shape)
    gaps = [at.completeness_gap(model, x, at.integrated_gradients(model, x, targets, steps=s), targets).abs().max()
            for s in (2, 64)]
    with torch.no_grad():
        scale = model(x).abs().max()
    assert gaps[1] < 0.02 * scale and gaps[1] < gaps[0]


def test_completeness_holds_exactly_for_a_linear_model():
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3), torch.nn.Flatten(), torch.nn.Linear(3 * 26 * 26, 4))
    x = torch.rand(2, 1, 28, 28, dtype=torch.float64)
    model = model.double().eval()
    ig = at.integrated_gradients(model, x, [0, 3], steps=1)
    assert at.completeness_gap(model, x, ig, [0, 3]).abs().max() < 1e-10


@pytest.mark.parametrize("make, shape, layer, targets", MODELS, ids=IDS)
def test_smoothgrad_matches_captum_noise_tunnel_with_the_same_seed(make, shape, layer, targets):
    model, x = make(), torch.rand(shape)
    for i, t in enumerate(targets):
        ours = at.smoothgrad(model, x[i], t, n_samples=6, noise_level=0.2, seed=7, batch_size=4)
        torch.manual_seed(7)
        sigma = 0.2 * float(x[i].max() - x[i].min())
        theirs = NoiseTunnel(Saliency(model)).attribute(x[i:i + 1], nt_type="smoothgrad", nt_samples=6,
                                                        stdevs=sigma, target=t, abs=False)[0]
        assert torch.allclose(ours, theirs, rtol=1e-4, atol=1e-6 * float(theirs.abs().max()))


def test_smoothgrad_with_no_noise_is_the_gradient():
    model, x = fashion_cnn(), torch.rand(2, 1, 28, 28)
    from course_utils import backprop as bp
    assert torch.allclose(at.smoothgrad(model, x, [1, 2], n_samples=3, noise_level=0.0), bp.saliency(model, x, [1, 2]))


def test_sobel_matches_scipy_and_random_map_is_seeded():
    x = torch.rand(2, 3, 20, 24)
    grey = x.mean(1).numpy()
    for i in range(2):
        ref = np.hypot(ndi.sobel(grey[i], axis=1, mode="nearest"), ndi.sobel(grey[i], axis=0, mode="nearest"))
        assert np.allclose(at.sobel_map(x)[i, 0].numpy(), ref, atol=1e-5)
    assert torch.equal(at.random_map(x, seed=3), at.random_map(x, seed=3))
    assert not torch.equal(at.random_map(x, seed=3), at.random_map(x, seed=4))
    assert at.random_map(x[0]).shape == (1, 20, 24)


def test_pixel_map_and_explainer():
    a = torch.tensor([[[1.0, -2.0]], [[-3.0, 1.0]]])          # (C=2, H=1, W=2)
    assert at.pixel_map(a).tolist() == [[-2.0, -1.0]]
    assert at.pixel_map(a, signed=False).tolist() == [[4.0, 3.0]]
    model, x = fashion_cnn(), torch.rand(3, 1, 28, 28)
    for method in at.METHODS:
        settings = {"layer": "features.4"} if method == "Grad-CAM" else {}
        settings |= {"window": 7, "stride": 7} if method == "occlusion" else {}
        settings |= {"steps": 4} if method == "Integrated Gradients" else {}
        maps = at.explainer(method, **settings)(model, x, [0, 1, 2])
        assert maps.shape == (3, 28, 28) and torch.isfinite(maps).all(), method


# ----------------------------------------------------------------------------- bad input

def test_bad_baseline_shape():
    model, x = fashion_cnn(), torch.rand(2, 1, 28, 28)
    with pytest.raises(ValueError, match="baseline must have the input's shape"):
        at.integrated_gradients(model, x, 0, baseline=torch.zeros(1, 14, 14))
    with pytest.raises(ValueError, match="baseline must have the input's shape"):
        at.integrated_gradients(model, x, 0, baseline=torch.zeros(3, 1, 28, 28))
    with pytest.raises(TypeError, match="baseline must be a torch.Tensor"):
        at.integrated_gradients(model, x, 0, baseline="black")


def test_bad_steps():
    model, x = fashion_cnn(), torch.rand(1, 1, 28, 28)
    with pytest.raises(ValueError, match=r"steps must be in \[1, inf\]; got 0"):
        at.integrated_gradients(model, x, 0, steps=0)
    with pytest.raises(TypeError, match="steps must be an integer"):
        at.integrated_gradients(model, x, 0, steps=2.5)
    with pytest.raises(ValueError, match="trapezoid rule needs steps >= 2"):
        at.integrated_gradients(model, x, 0, steps=1, method="riemann_trapezoid")
    with pytest.raises(ValueError, match="unknown method"):
        at.integrated_gradients(model, x, 0, method="simpson")


def test_bad_noise_level():
    model, x = fashion_cnn(), torch.rand(1, 1, 28, 28)
    with pytest.raises(ValueError, match=r"noise_level must be in \[0, inf\]; got -0.1"):
        at.smoothgrad(model, x, 0, noise_level=-0.1)
    with pytest.raises(ValueError, match="n_samples must be in"):
        at.smoothgrad(model, x, 0, n_samples=0)


@pytest.mark.parametrize("fn", [lambda m, x, t: at.grad_cam(m, x, t, "features.4"),
                                lambda m, x, t: at.integrated_gradients(m, x, t, steps=2),
                                lambda m, x, t: at.smoothgrad(m, x, t, n_samples=2)],
                         ids=["grad_cam", "integrated_gradients", "smoothgrad"])
def test_target_out_of_range(fn):
    model, x = fashion_cnn(), torch.rand(2, 1, 28, 28)
    with pytest.raises(ValueError, match=r"target must be a class index in \[0, 9\]; got \[10, 10\]"):
        fn(model, x, 10)
    with pytest.raises(ValueError, match="target needs one class per image"):
        fn(model, x, [1, 2, 3])


def test_bad_layer_and_input():
    model = fashion_cnn()
    with pytest.raises(ValueError, match="no submodule 'nope'"):
        at.grad_cam(model, torch.rand(1, 1, 28, 28), 0, "nope")
    with pytest.raises(ValueError, match="conv layer"):
        at.grad_cam(model, torch.rand(1, 1, 28, 28), 0, "classifier.1")
    with pytest.raises(ValueError, match="channels"):
        at.grad_cam(model, torch.rand(1, 3, 28, 28), 0, "features.4")
    with pytest.raises(ValueError, match="NaN"):
        at.integrated_gradients(model, torch.full((1, 1, 28, 28), float("nan")), 0)
    with pytest.raises(ValueError, match="unknown method"):
        at.explainer("LIME")
