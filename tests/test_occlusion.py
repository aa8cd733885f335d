"""course_utils.occlusion: captum's Occlusion semantics, incremental == dense inference, bad input."""
import warnings

import numpy as np
import pytest
import torch

from course_utils import occlusion as oc
from course_utils.fusion import FusedConv
from course_utils.models import PhotoCNN
from nets import lite_like

captum_attr = pytest.importorskip("captum.attr")


def photo_cnn():
    torch.manual_seed(0)
    return PhotoCNN(n_classes=5, conv1_kernel=5, width=8).eval()   # functional relu and max_pool2d


def captum_occlusion(model, x, target, window, stride, baseline):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return captum_attr.Occlusion(model).attribute(x, target=target, sliding_window_shapes=(x.shape[1], *window),
                                                      strides=(x.shape[1], *stride), baselines=baseline)


@pytest.mark.parametrize("window,stride", [((8, 8), (4, 4)), ((5, 7), (3, 2)), ((20, 20), (1, 1)), ((6, 6), (6, 6))])
@pytest.mark.parametrize("method", ["incremental", "dense"])
def test_equals_captum(window, stride, method):
    model, x = photo_cnn(), torch.rand(2, 3, 20, 20)
    ours = oc.occlusion(model, x, [1, 3], window, stride, baseline=0.25, method=method)
    theirs = captum_occlusion(model, x, torch.tensor([1, 3]), window, stride, 0.25)
    assert ours.shape == x.shape
    assert torch.allclose(ours, theirs, atol=1e-5, rtol=0)


def test_equals_captum_on_residual_relu6_net_with_tensor_baseline():
    model, x = lite_like(), torch.rand(1, 3, 26, 26)
    baseline = torch.tensor([0.2, 0.5, 0.8])
    ours = oc.occlusion(model, x, 4, 7, 4, baseline=baseline)
    theirs = captum_occlusion(model, x, 4, (7, 7), (4, 4), baseline[:, None, None].expand(3, 26, 26)[None])
    assert torch.allclose(ours, theirs, atol=1e-5, rtol=0)


@pytest.mark.parametrize("make", [photo_cnn, lite_like])
def test_incremental_equals_dense(make):
    model, image = make(), torch.rand(3, 32, 32)
    a = oc.occluded_logits(model, image, (9, 6), (4, 5), 0.5, method="incremental", batch_size=7)
    b = oc.occluded_logits(model, image, (9, 6), (4, 5), 0.5, method="dense")
    assert a.shape == (len(oc.occluder_positions(32, 9, 4)), len(oc.occluder_positions(32, 6, 5)), b.shape[-1])
    assert torch.allclose(a, b, atol=1e-5, rtol=0)


def test_incremental_really_crops():
    """The stem's region must stay much smaller than its map (else there is nothing to gain)."""
    model = lite_like()
    engine = oc.IncrementalOcclusion(model)
    image = torch.rand(1, 3, 64, 64)
    top = left = torch.tensor([0, 24, 56])
    first = oc._Region(image, torch.zeros(3, 3, 8, 8), top, left)
    stem = next(n for n in engine.graph.nodes if n.op == "call_module")   # SamePad, conv, BatchNorm, ReLU6 in one
    assert isinstance(engine.modules[stem.target], FusedConv)
    out = engine._module(engine.modules[stem.target], first, engine.clean(image)[stem])
    assert isinstance(out, oc._Region) and out.coverage() < 0.1
    occluded = image.repeat(3, 1, 1, 1)
    for b, (t, l) in enumerate(zip(top.tolist(), left.tolist())):
        occluded[b, :, t:t + 8, l:l + 8] = 0.0
    with torch.no_grad():
        assert torch.allclose(out.dense(), model[0](occluded), atol=1e-5)


def test_occlusion_map_is_probability_of_occluded_image():
    model, image = photo_cnn(), torch.rand(3, 32, 32)
    grid = oc.occlusion_map(model, image, 2, window=10, stride=8, baseline=0.0)
    ys = oc.occluder_positions(32, 10, 8)
    assert grid.shape == (len(ys), len(ys)) == (4, 4)
    for i, j in [(0, 0), (1, 2), (3, 3)]:
        occluded = image.clone()
        occluded[:, ys[i]:ys[i] + 10, ys[j]:ys[j] + 10] = 0.0
        with torch.no_grad():
            p = model(occluded[None]).softmax(1)[0, 2]
        assert abs(grid[i, j].item() - p.item()) < 1e-6


def test_positions_follow_captum():
    assert oc.occluder_positions(224, 32, 8) == list(range(0, 193, 8))       # 25 positions
    assert oc.occluder_positions(10, 4, 4) == [0, 4, 8]                      # last window cut off
    assert oc.occluder_positions(10, 10, 3) == [0]
    np.testing.assert_allclose(oc.map_centres(10, 4, 4), [1.5, 5.5, 8.5])


def test_pointing_game():
    maps = torch.ones(2, 3, 3)
    maps[0, 0, 0] = 0.1            # most harmful occluder at the top-left: centre (1.5, 1.5)
    maps[1, 2, 2] = 0.1            # bottom-right: centre (8.5, 8.5)
    acc, hits = oc.pointing_game(maps, [(0, 0, 4, 4), (0, 0, 4, 4)], size=10, window=4, stride=4)
    assert acc == 0.5 and hits.tolist() == [True, False]


def test_occluded_logits_runs_in_eval_mode():
    """BatchNorm must use its running statistics (not a batch of crops') and must not update them."""
    model, image = lite_like(), torch.rand(3, 32, 32)
    expected = oc.occluded_logits(model, image, 8, 8, 0.5)
    model.train()
    model[1].eval()                                        # a mixed state must come back as it was
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.warns(UserWarning, match="training mode"):
        got = oc.occluded_logits(model, image, 8, 8, 0.5, method="incremental")
    assert torch.allclose(got, expected, atol=1e-5)
    assert model.training and not model[1].training and model[2].training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_model_left_as_found_and_training_mode():
    model = photo_cnn().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.warns(UserWarning, match="training mode"):
        oc.occlusion_map(model, torch.rand(3, 32, 32), 0, 8, 8)
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(not m._forward_hooks for m in model.modules())


def test_bad_input():
    model, x = photo_cnn(), torch.rand(1, 3, 32, 32)
    with pytest.raises(ValueError, match="larger than the image"):
        oc.occlusion(model, x, 0, window=33, stride=4)
    with pytest.raises(ValueError, match="stride"):
        oc.occlusion(model, x, 0, window=8, stride=0)
    with pytest.raises(ValueError, match="never occluded"):
        oc.occlusion_map(model, x, 0, window=8, stride=9)
    with pytest.raises(ValueError, match=r"\[0, 4\]"):
        oc.occlusion_map(model, x, 5, window=8, stride=8)
    with pytest.raises(ValueError, match="channels"):
        oc.occlusion(model, torch.rand(1, 1, 32, 32), 0, window=8, stride=8)
    with pytest.raises(ValueError, match="3-D or 4-D"):
        oc.occlusion(model, torch.rand(32, 32), 0, window=8, stride=8)
    with pytest.raises(TypeError, match="class index"):
        oc.occlusion(model, x, lambda out: out[:, 0], window=8, stride=8)
    with pytest.raises(ValueError, match="baseline"):
        oc.occlusion(model, x, 0, window=8, stride=8, baseline=torch.zeros(2))


def test_progress_bar_ends_at_100_percent(capsys):
    model, image = photo_cnn(), torch.rand(3, 32, 32)
    oc.occluded_logits(model, image, 8, 4, batch_size=8, progress=True)
    err = capsys.readouterr().err
    assert "100%" in err and "7/7" in err            # 49 positions in batches of 8: the bar stays, full


def test_engine_failing_while_running_falls_back_to_dense(monkeypatch):
    model, image = photo_cnn(), torch.rand(3, 96, 96)
    expected = oc.occluded_logits(model, image, 32, 32, method="dense")

    def broken(self, region):
        raise RuntimeError("an operation the engine mishandles")
    monkeypatch.setattr(oc.IncrementalOcclusion, "run", broken)
    with pytest.warns(UserWarning, match="cannot run the model for incremental occlusion.*mishandles"):
        got = oc.occluded_logits(model, image, 32, 32, method="incremental")
    assert torch.allclose(got, expected, atol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                 # "auto" chose the engine itself: no warning
        assert torch.allclose(oc.occluded_logits(model, image, 32, 32, method="auto"), expected, atol=1e-6)


def test_bad_input_every_helper():
    model, x = photo_cnn(), torch.rand(1, 3, 32, 32)
    for call in [lambda **kw: oc.occlusion(model, x, 0, 8, 8, **kw), lambda **kw: oc.occlusion_map(model, x, 0, 8, 8, **kw),
                 lambda **kw: oc.occluded_logits(model, x[0], 8, 8, **kw)]:
        with pytest.raises(ValueError, match="unknown method 'fast'"):
            call(method="fast")
        with pytest.raises(ValueError, match=r"batch_size must be in \[1, inf\]"):
            call(batch_size=0)
        with pytest.raises(TypeError, match="batch_size must be an integer"):
            call(batch_size=2.5)
        with pytest.raises(TypeError, match="progress must be True or False"):
            call(progress="yes")
        with pytest.raises(TypeError, match="baseline must be a number or a tensor"):
            call(baseline="black")
        with pytest.raises(ValueError, match="baseline must be finite"):
            call(baseline=float("nan"))
        with pytest.raises(ValueError, match="baseline image must have shape"):
            call(baseline=torch.zeros(3, 8, 8))
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        oc.occluded_logits("model", x[0], 8, 8)
    with pytest.raises(ValueError, match="image must be 3-D"):
        oc.occluded_logits(model, x, 8, 8)
    with pytest.raises(TypeError, match="x is torch.float64 but the model's parameters are torch.float32"):
        oc.occlusion(model, x.double(), 0, 8, 8)
    with pytest.raises(TypeError, match="window must be an integer"):
        oc.occlusion(model, x, 0, window=8.0, stride=8)
    with pytest.raises(ValueError, match=r"window must be an int or a pair"):
        oc.occlusion(model, x, 0, window=(8, 8, 8), stride=8)
    with pytest.raises(ValueError, match="window and stride must be >= 1"):
        oc.occlusion_map(model, x, 0, window=(0, 8), stride=8)
    with pytest.raises(ValueError, match="one class per image"):
        oc.occlusion(model, torch.rand(2, 3, 32, 32), [0, 1, 2], 8, 8)
    with pytest.raises(TypeError, match="class indices"):
        oc.occlusion_map(model, x, torch.tensor([0.5]), 8, 8)
    with pytest.raises(ValueError, match=r"window \(40\) must not be larger than the image \(32\)"):
        oc.occluder_positions(32, 40, 8)
    with pytest.raises(ValueError, match=r"stride must be in \[1, inf\]"):
        oc.map_centres(32, 8, 0)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        oc.IncrementalOcclusion(lambda t: t)
    with pytest.raises(ValueError, match=r"dense_fraction must be in \[0, 1\]"):
        oc.IncrementalOcclusion(model, dense_fraction=2.0)
    maps = torch.ones(2, 3, 3)
    with pytest.raises(ValueError, match="one box per map"):
        oc.pointing_game(maps, [(0, 0, 4, 4)], 10, 4, 4)
    with pytest.raises(ValueError, match=r"each box must be \(x0, y0, x1, y1\)"):
        oc.pointing_game(maps, [(0, 0, 4), (0, 0, 4)], 10, 4, 4)
    with pytest.raises(ValueError, match="maps must be"):
        oc.pointing_game(torch.ones(2, 3, 4), [(0, 0, 4, 4)] * 2, 10, 4, 4)
    with pytest.raises(TypeError, match="lower_is_better must be True or False"):
        oc.pointing_game(maps, [(0, 0, 4, 4)] * 2, 10, 4, 4, lower_is_better="yes")
    with pytest.raises(ValueError, match="maps must be 3-D"):
        oc.pointing_game(maps[0], [(0, 0, 4, 4)], 10, 4, 4)
