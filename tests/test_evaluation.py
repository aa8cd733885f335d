"""course_utils.evaluation: every metric Quantus 0.6.0 has is checked against it on the same inputs.

Tolerances: 1e-5 absolute on probabilities and areas (float32 forward passes in both), 1e-6 on
the Gini index (Quantus adds 1e-7 to every value), exact for the discrete ones (pointing game,
ROAD's correct/incorrect, the rank correlations up to 1e-9). Quantus 0.6.0 calls ``np.trapz``,
which numpy 2 removed, so its pixel-flipping curves are integrated here with ``np.trapezoid``.
"""
import warnings

import numpy as np
import pytest
import torch

quantus = pytest.importorskip("quantus")
from quantus.functions.perturb_func import noisy_linear_imputation as quantus_imputation  # noqa: E402

from course_utils import attribution as at  # noqa: E402
from course_utils import evaluation as ev  # noqa: E402
from course_utils.models import FashionCNN  # noqa: E402


@pytest.fixture(autouse=True)
def quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def setting(seed=0, n=6):
    torch.manual_seed(seed)
    model = FashionCNN().eval()
    x = torch.rand(n, 1, 28, 28) * (torch.rand(n, 1, 28, 28) > 0.3)   # some exact zeros, like a background
    with torch.no_grad():
        y = model(x).argmax(1)
    return model, x, y, torch.rand(n, 28, 28)                           # a tie-free relevance map


def quantus_kwargs(model, x, y, rel):
    return dict(model=model, x_batch=x.numpy(), y_batch=y.numpy(), a_batch=rel[:, None].numpy(), device="cpu")


def quantus_explain(explain):
    def explain_func(model, inputs, targets, **kwargs):
        return explain(model, torch.as_tensor(inputs), torch.as_tensor(targets).tolist())[:, None].detach().numpy()
    return explain_func


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("step, fill", [(28, 0.0), (49, 0.5), (112, 0.0)])
def test_pixel_flipping_matches_quantus(seed, step, fill):
    model, x, y, rel = setting(seed)
    q = quantus.PixelFlipping(features_in_step=step, perturb_baseline=fill, normalise=False, abs=False,
                              disable_warnings=True)(**quantus_kwargs(model, x, y, rel), softmax=True)
    curves, auc = ev.pixel_flipping(model, x, rel, y, step, fill=fill)
    assert np.abs(np.array(q) - curves).max() < 1e-5
    assert np.abs(np.trapezoid(np.array(q), axis=1) - auc).max() < 1e-5


def test_deletion_auc_is_pixel_flipping_with_the_start_point_added():
    # RISE deletion with n steps = Quantus pixel flipping with H W / n pixels a step, plus p(x) at 0.
    model, x, y, rel = setting(2)
    q = np.array(quantus.PixelFlipping(features_in_step=49, perturb_baseline=0.0, normalise=False,
                                       disable_warnings=True)(**quantus_kwargs(model, x, y, rel), softmax=True))
    with torch.no_grad():
        p0 = model(x).softmax(1)[torch.arange(len(x)), y].numpy()
    curve = ev.perturbation_curve(model, x, rel, y, "deletion", "black", n_steps=16)
    assert np.abs(curve[:, 0].numpy() - p0).max() < 1e-6
    assert np.abs(curve[:, 1:].numpy() - q).max() < 1e-5
    expected = np.trapezoid(np.concatenate([p0[:, None], q], 1), axis=1) / 16
    assert np.abs(ev.curve_auc(curve) - expected).max() < 1e-5


def test_insertion_curve_against_a_plain_loop():
    # Quantus has no insertion metric: the referee is a direct loop over the pixel order.
    model, x, y, rel = setting(3, n=3)
    blurred = ev.fill_images(x, "blur")
    curve = ev.perturbation_curve(model, x, rel, y, "insertion", "blur", n_steps=7)
    order = torch.argsort(-rel.flatten(1), dim=1, stable=True)
    for b in range(3):
        for k in range(8):
            image = blurred[b].flatten().clone()
            shown = order[b, :round(k * 784 / 7)]
            image[shown] = x[b].flatten()[shown]
            with torch.no_grad():
                p = model(image.view(1, 1, 28, 28)).softmax(1)[0, y[b]]
            assert abs(float(p) - float(curve[b, k])) < 1e-6
    assert torch.allclose(curve[:, -1], curve.new_tensor(model(x).softmax(1)[torch.arange(3), y].tolist()), atol=1e-6)


def test_gaussian_blur_matches_torchvision():
    from torchvision.transforms.functional import gaussian_blur
    x = torch.rand(2, 3, 30, 30)
    ours = ev.gaussian_blur(x, 2.0)
    theirs = gaussian_blur(x, kernel_size=13, sigma=2.0)
    assert torch.allclose(ours, theirs, atol=1e-5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_noisy_linear_imputation_matches_quantus(seed):
    rng = np.random.default_rng(seed)
    image = torch.rand(3, 12, 15, dtype=torch.float64)
    removed = torch.from_numpy(rng.random((12, 15)) < 0.4)
    removed[0, 0] = removed[-1, -1] = True                      # corners: neighbours outside the image
    ours = ev.noisy_linear_imputation(image, removed, noise=0.0)
    theirs = quantus_imputation(image.numpy(), np.nonzero(removed.flatten().numpy())[0], noise=0.0)
    assert np.abs(ours.numpy() - theirs).max() < 1e-9
    assert torch.equal(ours[:, ~removed], image[:, ~removed])


@pytest.mark.parametrize("seed", [0, 1])
def test_road_matches_quantus_per_image(seed):
    model, x, y, rel = setting(seed, n=8)
    pct = [5, 25, 45, 65, 85]
    ours = ev.road(model, x, rel, y, pct, noise=0.0)
    metric = quantus.ROAD(percentages=pct, noise=0.0, normalise=False, disable_warnings=True)
    scores = []
    for i in range(len(x)):   # Quantus reports the mean over the batch: one image at a time gives each image's row
        metric(**quantus_kwargs(model, x[i:i + 1], y[i:i + 1], rel[i:i + 1]))
        scores.append([metric.evaluation_scores[p] for p in pct])
    assert np.array_equal(ours, np.array(scores))
    least = ev.road(model, x, rel, y, pct, order="least", noise=0.0)
    metric(**quantus_kwargs(model, x, y, 1 - rel))        # the reversed order, kept positive for Quantus
    assert np.allclose(least.mean(0), [metric.evaluation_scores[p] for p in pct])


def test_pointing_game_matches_quantus():
    model, x, y, rel = setting(0, n=8)
    rel[1, 3, 4] = rel[1].max()                                   # a tie for the maximum
    boxes = [(2 + i, 1 + i, 12 + 2 * i, 9 + 2 * i) for i in range(8)]
    masks = np.zeros((8, 1, 28, 28))
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        masks[i, 0, y0:y1, x0:x1] = 1
    q = quantus.PointingGame(normalise=False, disable_warnings=True)(**quantus_kwargs(model, x, y, rel), s_batch=masks)
    ours = ev.pointing_game(rel, boxes)
    assert ours.tolist() == [bool(v) for v in q]
    peak = torch.zeros(1, 28, 28)
    peak[0, 5, 7] = 1
    assert ev.pointing_game(peak, [(7, 5, 8, 6)]).tolist() == [True]
    assert ev.pointing_game(peak, [(8, 5, 9, 6)]).tolist() == [False]


@pytest.mark.parametrize("method", ["gradient", "guided backprop", "Grad-CAM"])
def test_model_randomisation_matches_quantus_mprt(method):
    model, x, y, _ = setting(1, n=4)
    explain = at.explainer(method, **({"layer": "features.4"} if method == "Grad-CAM" else {}))
    q = quantus.MPRT(similarity_func=quantus.similarity_func.correlation_spearman, normalise=False, abs=True,
                     seed=0, disable_warnings=True)(model=model, x_batch=x.numpy(), y_batch=y.numpy(),
                                                    a_batch=None, explain_func=quantus_explain(explain), device="cpu")
    before = torch.rand(3)
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    ours = ev.model_randomisation(model, explain, x, y.tolist(), seed=0)
    assert torch.equal(torch.rand(3), expected_next), "the global RNG must be left as it was"
    assert list(ours) == ev.randomisable_layers(model) == ["classifier.3", "classifier.1", "features.3", "features.0"]
    for layer, scores in ours.items():
        assert np.nan_to_num(np.abs(np.array(q[layer]) - scores)).max() < 1e-9, layer
    del before


@pytest.mark.parametrize("seed", [0, 5])
def test_random_logit_matches_quantus(seed):
    model, x, y, _ = setting(seed, n=6)
    explain = at.explainer("gradient")
    q = quantus.RandomLogit(similarity_func=quantus.similarity_func.correlation_spearman, num_classes=10, seed=seed,
                            normalise=False, abs=True, disable_warnings=True)(
        model=model, x_batch=x.numpy(), y_batch=y.numpy(), a_batch=None, explain_func=quantus_explain(explain),
        device="cpu")
    assert np.abs(np.array(q) - ev.random_logit(model, explain, x, y.tolist(), seed=seed)).max() < 1e-9
    other = ev.random_other_class(y.tolist(), 10, seed)
    assert (other != y.numpy()).all() and ((other >= 0) & (other < 10)).all()


def test_sparseness_and_complexity_match_quantus():
    model, x, y, rel = setting(4)
    rel = rel ** 4 - 0.3                                           # signed and skewed
    kw = quantus_kwargs(model, x, y, rel)
    gini = quantus.Sparseness(disable_warnings=True)(**kw)
    entropy = quantus.Complexity(normalise=False, disable_warnings=True)(**kw)
    assert np.abs(np.array(gini) - ev.sparseness(rel)).max() < 1e-6
    assert np.abs(np.array(entropy) - ev.complexity(rel)).max() < 1e-6
    flat, spike = torch.ones(1, 10, 10), torch.zeros(1, 10, 10)
    spike[0, 3, 3] = 1
    assert ev.sparseness(flat)[0] == pytest.approx(0.0) and ev.sparseness(spike)[0] == pytest.approx(0.99)
    assert ev.complexity(flat)[0] == pytest.approx(np.log(100)) and ev.complexity(spike)[0] == pytest.approx(0.0, abs=1e-9)


def test_bootstrap_and_rankings():
    mean, lo, hi = ev.bootstrap_ci(np.arange(100.0), n_boot=4000, seed=1)
    assert mean == 49.5 and lo < 49.5 < hi and hi - lo == pytest.approx(2 * 1.96 * 29.0 / 10, rel=0.1)
    ranks = ev.rank_methods({"a": [0.1, 0.2], "b": [0.5], "c": [0.3]}, higher_is_better=True)
    assert ranks == {"a": 3.0, "b": 1.0, "c": 2.0}
    assert ev.ranking_agreement(ranks, {"a": 1, "b": 3, "c": 2}) == pytest.approx(-1.0)
    assert ev.ranking_agreement(ranks, ranks) == pytest.approx(1.0)


def test_curves_fall_faster_for_a_faithful_map_than_for_a_random_order():
    # A model that only looks at the top-left quarter: a map that ranks that quarter first wins.
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 2))
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].bias.zero_()
        model[1].weight.view(2, 28, 28)[0, :14, :14] = 0.2
    x = torch.rand(4, 1, 28, 28) * 0.5 + 0.5
    right = torch.zeros(4, 28, 28)
    right[:, :14, :14] = 1 + torch.rand(4, 14, 14)
    faithful = ev.curve_auc(ev.perturbation_curve(model, x, right, 0, n_steps=8))
    random_order = ev.curve_auc(ev.perturbation_curve(model, x, ev.random_order_relevance(x), 0, n_steps=8))
    assert (faithful < random_order - 0.1).all()


# ----------------------------------------------------------------------------- bad input

def test_metrics_reject_nan_maps():
    model, x, y, rel = setting()
    rel[0, 0, 0] = float("nan")
    for call in [lambda: ev.perturbation_curve(model, x, rel, y), lambda: ev.pixel_flipping(model, x, rel, y, 28),
                 lambda: ev.road(model, x, rel, y), lambda: ev.pointing_game(rel, [(0, 0, 5, 5)] * 6),
                 lambda: ev.sparseness(rel), lambda: ev.complexity(rel)]:
        with pytest.raises(ValueError, match="NaN"):
            call()


def test_boxes_outside_the_image():
    rel = torch.rand(2, 28, 28)
    with pytest.raises(ValueError, match=r"box 1 \(20, 0, 30, 5\) is not a non-empty box inside the 28x28 image"):
        ev.pointing_game(rel, [(0, 0, 5, 5), (20, 0, 30, 5)])
    with pytest.raises(ValueError, match="box 0"):
        ev.pointing_game(rel, [(-1, 0, 5, 5), (0, 0, 5, 5)])
    with pytest.raises(ValueError, match="box 0"):
        ev.pointing_game(rel, [(5, 5, 5, 9), (0, 0, 5, 5)])                    # empty
    with pytest.raises(ValueError, match="one box per map"):
        ev.pointing_game(rel, [(0, 0, 5, 5)])
    with pytest.raises(TypeError, match="boxes must be a list"):
        ev.pointing_game(rel, "everywhere")


def test_bad_shapes_targets_and_settings():
    model, x, y, rel = setting()
    with pytest.raises(ValueError, match=r"relevance must be one value per pixel, shape \(6, 28, 28\)"):
        ev.perturbation_curve(model, x, rel[:, :14], y)
    with pytest.raises(ValueError, match=r"target must be a class index in \[0, 9\]"):
        ev.perturbation_curve(model, x, rel, 10)
    with pytest.raises(ValueError, match="target needs one class per image"):
        ev.road(model, x, rel, [1, 2])
    with pytest.raises(ValueError, match="a fill image must have the shape of x"):
        ev.perturbation_curve(model, x, rel, y, fill=torch.zeros(1, 1, 28, 28))
    with pytest.raises(ValueError, match="unknown fill"):
        ev.perturbation_curve(model, x, rel, y, fill="white")
    with pytest.raises(ValueError, match=r"n_steps must be in \[1, inf\]"):
        ev.perturbation_curve(model, x, rel, y, n_steps=0)
    with pytest.raises(ValueError, match=r"noise must be in \[0, inf\]"):
        ev.road(model, x, rel, y, noise=-1.0)
    with pytest.raises(ValueError, match="percentages must lie in"):
        ev.road(model, x, rel, y, percentages=[50, 120])
    assert ev.sparseness(torch.zeros(1, 4, 4))[0] == 0.0 and ev.complexity(torch.zeros(1, 4, 4))[0] == pytest.approx(np.log(16))
    with pytest.raises(TypeError, match="explain must be a function"):
        ev.model_randomisation(model, "gradient", x, y.tolist())


def test_batched_imputation_equals_one_image_at_a_time():
    images = torch.rand(4, 2, 9, 11, dtype=torch.float64)
    masks = torch.rand(4, 9, 11) < 0.5
    batched = ev.noisy_linear_imputation(images, masks, noise=0.0)
    for i in range(4):
        assert torch.allclose(batched[i], ev.noisy_linear_imputation(images[i], masks[i], noise=0.0), atol=1e-12)


def test_bootstrap_ci_over_groups_resamples_whole_groups():
    rng = np.random.default_rng(0)
    group_means = rng.normal(size=40)
    values = np.repeat(group_means, 10) + 0.01 * rng.normal(size=400)     # ten near-copies per group
    groups = np.repeat(np.arange(40), 10)
    _, lo_v, hi_v = ev.bootstrap_ci(values, seed=2)
    mean, lo_g, hi_g = ev.bootstrap_ci(values, seed=2, groups=groups)
    assert abs(mean - values.mean()) < 1e-12
    assert (hi_g - lo_g) > 2.5 * (hi_v - lo_v)          # 40 independent draws, not 400
    _, lo_m, hi_m = ev.bootstrap_ci(group_means, seed=2)   # the same as bootstrapping the group means
    assert abs((hi_g - lo_g) - (hi_m - lo_m)) < 0.15 * (hi_m - lo_m)
    with pytest.raises(ValueError, match="one label per value"):
        ev.bootstrap_ci(values, groups=groups[:5])
