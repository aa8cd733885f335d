"""Feature visualisation (lecture 12): units, parameterisations, transformations, the loop, the measurements.

Independent references: numpy's FFT, numpy's roll, scipy's Gaussian filter, torch.rot90, and lucent's
own Fourier parameterisation when torch-lucent is installed.
"""
import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter
from torch import nn

from course_utils import featurevis as fv
from nets import lite_like


@pytest.fixture
def net():
    return lite_like()


def small_cnn():
    """A random conv net whose second convolution responds strongly (and nearly linearly) to its input."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 5), nn.ReLU(), nn.Conv2d(8, 6, 3, stride=2), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 4)).eval()


# ----------------------------------------------------------------------------- units and bad input

def test_find_layer_by_full_name_or_unique_ending(net):
    wrapped = nn.Sequential(nn.Identity(), net)
    assert fv.find_layer(wrapped, "1.2") is net[2]
    assert fv.find_layer(wrapped, "2.depthwise") is net[2].depthwise


def test_layer_not_in_the_model_is_a_clear_error(net):
    with pytest.raises(ValueError, match="layer 'blocks.99' is not in the model"):
        fv.Unit(net, "blocks.99", 0)
    with pytest.raises(ValueError, match="ambiguous"):
        fv.find_layer(net, "depthwise")          # every MBConv has one
    with pytest.raises(TypeError, match="module name"):
        fv.find_layer(net, 3)


def test_unit_index_out_of_range_is_a_clear_error(net):
    with pytest.raises(ValueError, match=r"unit index 12 is out of range.*\[0, 11\]"):
        fv.Unit(net, "2", 12)                    # MBConv(8, 12): 12 channels
    with pytest.raises(ValueError, match=r"unit index 6 is out of range: the class index must be in \[0, 5\]"):
        fv.Unit(net, None, 6)
    with pytest.raises(ValueError, match="out of range"):
        fv.Unit(net, "2", [0, -1])
    with pytest.raises(TypeError, match="integer"):
        fv.Unit(net, "2", 1.5)


def test_unit_value_is_the_channel_mean_and_stops_at_the_layer(net):
    x = torch.rand(3, 3, 32, 32)
    unit = fv.Unit(net, "2", 5)
    with torch.no_grad():
        expected = net[:3](x)[:, 5].mean((1, 2))
        assert torch.allclose(unit(x), expected, atol=1e-6)
        assert torch.allclose(fv.Unit(net, None, 4)(x), net(x)[:, 4], atol=1e-6)
        per_image = fv.Unit(net, "2", [0, 3, 7])(x)
    assert torch.allclose(per_image, torch.stack([net[:3](x)[i, c].mean() for i, c in enumerate([0, 3, 7])]), atol=1e-6)
    assert not net[2]._forward_hooks, "the temporary hook must be removed"


def test_images_outside_unit_interval_are_rejected(net):
    unit = fv.Unit(net, "2", 0)
    with pytest.raises(ValueError, match=r"images must be RGB in \[0, 1\]"):
        fv.activations(unit, torch.full((1, 3, 16, 16), 1.5))
    with pytest.raises(ValueError, match="NaN or inf"):
        fv.activations(unit, torch.full((1, 3, 16, 16), float("nan")))
    with pytest.raises(ValueError, match="3 channels"):
        fv.activations(unit, torch.rand(1, 1, 16, 16))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fv.spectrum_slope(-torch.rand(1, 3, 16, 16))


def test_steps_below_one_and_other_bad_settings_are_rejected(net):
    unit = fv.Unit(net, "2", 0)
    with pytest.raises(ValueError, match=r"steps must be in \[1, inf\]"):
        fv.optimise(unit, fv.ladder_recipe(1), size=16, steps=0)
    with pytest.raises(ValueError, match="step must be in"):
        fv.ladder_recipe(6)
    with pytest.raises(ValueError, match="unknown step"):
        fv.ladder_recipe("sharpen")
    with pytest.raises(ValueError, match="diversity term needs"):
        fv.optimise(unit, fv.ladder_recipe(1), size=16, steps=1, n=1, diversity=1.0)
    with pytest.raises(ValueError, match="must be positive"):
        fv.activation_ratio(unit, torch.rand(1, 3, 16, 16), 0.0)


# ----------------------------------------------------------------------------- parameterisations

def test_fourier_core_matches_numpy_and_inverts():
    for n in (8, 9):
        scale = fv.fourier_scale(n)
        f = np.sqrt(np.fft.fftfreq(n)[:, None] ** 2 + np.fft.rfftfreq(n)[None, :] ** 2)
        assert np.allclose(scale.numpy(), 1 / np.maximum(f, 1 / n))
        z = torch.randn(2, 3, n, n // 2 + 1, dtype=torch.complex128)
        img = fv.image_from_spectrum(z, scale.double())
        ref = np.fft.irfft2(z.numpy() * scale.double().numpy(), s=(n, n), norm="ortho")
        assert np.allclose(img.numpy(), ref)
        back = fv.image_from_spectrum(fv.spectrum_from_image(img, scale.double()), scale.double())
        assert torch.allclose(back, img)


def test_fourier_image_set_image_is_the_exact_inverse():
    param = fv.FourierImage(2, 12, seed=0)
    target = 0.05 + 0.9 * torch.rand(2, 3, 12, 12)
    param.set_image(target)
    assert torch.allclose(param(), target, atol=1e-4)
    pixels = fv.PixelImage(1, 12)
    pixels.set_image(torch.full((1, 3, 12, 12), 2.0))
    assert float(pixels().detach().max()) == 1.0


def test_fourier_image_matches_lucent():
    pytest.importorskip("lucent", reason="torch-lucent not installed (optional cross-check)")
    from lucent.optvis.param.color import to_valid_rgb
    from lucent.optvis.param.spatial import fft_image
    torch.manual_seed(3)
    (spectrum,), lucent_image = fft_image((2, 3, 16, 16), sd=0.3)
    lucent_rgb = to_valid_rgb(lucent_image, decorrelate=True)
    ours = fv.FourierImage(2, 16)
    with torch.no_grad():
        ours.spectrum.copy_(spectrum.detach().cpu())
        assert torch.allclose(ours(), lucent_rgb().cpu(), atol=1e-5)


# ----------------------------------------------------------------------------- transformations, blur, the step

def test_jitter_is_numpy_roll():
    x = torch.rand(2, 3, 5, 7)
    for dx, dy in [(1, 0), (0, 3), (-2, 4), (9, -1)]:
        assert np.array_equal(fv.jitter(x, dx, dy).numpy(), np.roll(x.numpy(), (dy, dx), axis=(-2, -1)))


def test_scale_rotate_identity_and_quarter_turn():
    x = torch.rand(1, 3, 6, 6)
    assert torch.allclose(fv.scale_rotate(x, 1.0, 0.0), x, atol=1e-6)
    assert torch.allclose(fv.scale_rotate(x, 1.0, 90.0), torch.rot90(x, 1, dims=(-2, -1)), atol=1e-5)


def test_random_transform_is_differentiable_and_seeded():
    x = torch.rand(1, 3, 16, 16, requires_grad=True)
    a = fv.random_transform(x, torch.Generator().manual_seed(0))
    b = fv.random_transform(x, torch.Generator().manual_seed(0))
    assert torch.equal(a, b)
    a.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_gaussian_blur_matches_scipy():
    x = torch.rand(2, 3, 15, 17, dtype=torch.float64)
    for sigma in (0.5, 1.0, 2.0):
        ref = np.stack([[gaussian_filter(ch, sigma, mode="mirror", truncate=3.0) for ch in img] for img in x.numpy()])
        assert np.allclose(fv.gaussian_blur(x, sigma).numpy(), ref, atol=1e-10)
    with pytest.raises(ValueError, match="sigma"):
        fv.gaussian_blur(x, 0.0)


def test_ascent_step_normalises_each_image_by_its_own_gradient():
    x = torch.zeros(2, 1, 1, 2)
    grad = torch.tensor([[[[1.0, 3.0]]], [[[100.0, 300.0]]]])
    assert torch.allclose(fv.ascent_step(x, grad, 0.1), torch.tensor([[[[0.05, 0.15]]], [[[0.05, 0.15]]]]))


# ----------------------------------------------------------------------------- the loop

@pytest.mark.parametrize("rung", range(1, 6))
def test_every_rung_raises_the_activation_and_stays_an_image(rung):
    unit = fv.Unit(small_cnn(), "2", 3)
    images, history = fv.optimise(unit, fv.ladder_recipe(rung, l2=1e-5), size=24, steps=15, progress=False)
    assert images.shape == (1, 3, 24, 24) and 0 <= float(images.min()) and float(images.max()) <= 1
    assert len(history) == 15
    start = float(fv.activations(unit, torch.full((1, 3, 24, 24), 0.5)))
    assert history[-1] > start + 0.01, (start, history)


def test_class_logits_and_several_units_in_one_batch():
    model = small_cnn()
    unit = fv.Unit(model, None, [1, 2])
    images, history = fv.optimise(unit, fv.Recipe(l2=0.001, optimizer="ascent"), size=20, steps=30, n=2, lr=0.05,
                                  progress=False)
    with torch.no_grad():
        logits, start = model(images), model(torch.full((1, 3, 20, 20), 0.5))[0]
    assert logits[0, 1] > start[1] + 0.05 and logits[1, 2] > start[2] + 0.05, (logits, start)


def test_diversity_term_makes_the_images_less_alike():
    unit = fv.Unit(small_cnn(), "2", 3)
    sims = {}
    for weight in (0.0, 5.0):
        images, _ = fv.optimise(unit, fv.ladder_recipe(3), size=24, steps=20, n=3, seed=1, diversity=weight,
                                progress=False)
        with torch.no_grad():
            unit(images)
            sims[weight] = float(fv.diversity_penalty(unit.layer_output))
    assert sims[5.0] < sims[0.0] - 0.02, sims


def test_visualise_goes_through_the_cache(net):
    first = fv.visualise(net, "2", 3, step=3, size=20, steps=5, verbose=False)
    second = fv.visualise(net, "2", 3, step=3, size=20, steps=5, verbose=False)
    assert torch.equal(first["images"], second["images"]) and float(first["seconds"]) == float(second["seconds"])
    other = fv.visualise(net, "2", 3, step=3, size=20, steps=5, seed=1, verbose=False)
    assert not torch.equal(first["images"], other["images"])


# ----------------------------------------------------------------------------- the measurements

def power_law_images(alpha, n=64, count=4, seed=0):
    """Random-phase images whose power falls as f^-alpha, rescaled into [0, 1]."""
    rng = np.random.default_rng(seed)
    f = np.sqrt(np.fft.fftfreq(n)[:, None] ** 2 + np.fft.fftfreq(n)[None, :] ** 2)
    f[0, 0] = 1.0
    out = []
    for _ in range(count):
        spec = (rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))) * f ** (-alpha / 2)
        img = np.real(np.fft.ifft2(spec))
        img = (img - img.min()) / (img.max() - img.min())
        out.append(np.repeat(img[None], 3, 0))
    return torch.tensor(np.stack(out), dtype=torch.float32)


@pytest.mark.parametrize("alpha", [0.0, 1.0, 2.0])
def test_spectrum_slope_recovers_a_power_law(alpha):
    slopes = fv.spectrum_slope(power_law_images(alpha))
    assert torch.allclose(slopes, torch.full_like(slopes, -alpha), atol=0.35), slopes


def test_robustness_of_a_uniform_image_is_one():
    model = small_cnn()
    grey = torch.full((1, 3, 24, 24), 0.7)
    with torch.no_grad():
        channel = int(model[:3](grey).mean((2, 3))[0].argmax())
    unit = fv.Unit(model, "2", channel)
    assert torch.allclose(fv.robustness(unit, torch.full((1, 3, 24, 24), 0.7), n=4), torch.ones(1), atol=1e-4)


def test_crop_pool_and_top_crops():
    photos = torch.rand(3, 3, 40, 50)
    crops, photo = fv.crop_pool(photos, 16, per_photo=5, seed=0)
    assert crops.shape == (15, 3, 16, 16) and photo.tolist() == [0] * 5 + [1] * 5 + [2] * 5
    values = torch.arange(15.0)
    top = fv.top_crops(values, photo, k=4, per_photo=2)
    assert top.tolist() == [14, 13, 9, 8]


def test_montage_and_ladder_figure():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    grid = fv.montage(torch.rand(9, 3, 8, 8), n_cols=3, gap=2)
    assert grid.shape == (3, 28, 28)
    fig = fv.plot_ladder({"u": list(torch.rand(5, 3, 8, 8))}, {"u": torch.rand(9, 3, 8, 8)}, {"u": [1.0] * 5})
    assert len(fig.axes) == 6
    plt.close(fig)
