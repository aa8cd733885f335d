"""course_utils.backprop: gradients, deconvnet and guided backprop, against captum and by hand."""
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_utils import backprop as bp
from course_utils import fusion
from nets import lite_like

captum_attr = pytest.importorskip("captum.attr")
METHODS = {"gradient": bp.saliency, "deconvnet": bp.deconvnet, "guided": bp.guided_backprop}


def small_cnn():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(6, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4)).eval()


@pytest.mark.parametrize("target", [2, [0, 3]])
def test_equals_captum_on_module_relus(target):
    model, x = small_cnn(), torch.rand(2, 3, 12, 12)
    ours = [bp.saliency(model, x, target), bp.deconvnet(model, x, target), bp.guided_backprop(model, x, target)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = [captum_attr.Saliency(model).attribute(x, target=target, abs=False),
                  captum_attr.Deconvolution(model).attribute(x, target=target),
                  captum_attr.GuidedBackprop(model).attribute(x, target=target)]
    for a, b in zip(ours, theirs):
        assert a.shape == x.shape
        assert torch.allclose(a, b, atol=1e-5, rtol=0)
    assert not torch.allclose(ours[0], ours[2], atol=1e-5)  # the rules really differ


def test_batchnorm_network_equals_captum():
    """BatchNorm is folded into the convolutions for speed; the maps still match captum's."""
    model, x = lite_like(relu6=False), torch.rand(2, 3, 32, 32)
    assert fusion.fused_graph(model, rectifiers=False).folds_batchnorm
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = [captum_attr.Saliency(model).attribute(x, target=[1, 4], abs=False),
                  captum_attr.Deconvolution(model).attribute(x, target=[1, 4]),
                  captum_attr.GuidedBackprop(model).attribute(x, target=[1, 4])]
    for method, b in zip(METHODS.values(), theirs):
        a = method(model, x, [1, 4])
        assert torch.allclose(a, b, atol=1e-5 * b.abs().max().item(), rtol=0)


def test_neuron_in_a_layer_equals_captum():
    model, x = small_cnn(), torch.rand(2, 3, 12, 12)
    ours = bp.guided_backprop(model, x, bp.neuron(5, 2, 3), layer=model[3])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = captum_attr.NeuronGuidedBackprop(model, model[3]).attribute(x, neuron_selector=(5, 2, 3))
    assert torch.allclose(ours, theirs, atol=1e-5, rtol=0)
    assert all(not m._forward_hooks for m in model.modules())


# A tiny net with hand-computed answers: h = W1 x = [4, 3, -1], out = w2 . act(h), w2 = [1, -1, 2].
#   gradient:  [1, -1, 0] -> W1^T = [1, 0];   deconvnet: [1, 0, 2] -> [0, 1];   guided: [1, 0, 0] -> [2, 1]
class Tiny(nn.Module):
    def __init__(self, kind):
        super().__init__()
        self.kind = kind
        self.fc1 = nn.Linear(2, 3, bias=False)
        self.fc2 = nn.Linear(3, 1, bias=False)
        self.act = {"module": nn.ReLU(), "inplace": nn.ReLU(inplace=True), "relu6": nn.ReLU6()}.get(kind)
        with torch.no_grad():
            self.fc1.weight.copy_(torch.tensor([[2., 1.], [1., 1.], [-1., 0.]]))
            self.fc2.weight.copy_(torch.tensor([[1., -1., 2.]]))
        self.eval()

    def forward(self, x):
        h = self.fc1(x.flatten(1))
        if self.kind == "torch.relu":
            h = torch.relu(h)
        elif self.kind == "F.relu":
            h = F.relu(h)
        elif self.kind == "F.relu_inplace":
            F.relu(h, inplace=True)
        elif self.kind == "Tensor.relu_":
            h.relu_()
        elif self.kind == "F.relu6":
            h = F.relu6(h)
        else:
            h = self.act(h)
        return self.fc2(h)


EXPECTED = {"gradient": [1., 0.], "deconvnet": [0., 1.], "guided": [2., 1.]}


@pytest.mark.parametrize("kind", ["module", "inplace", "relu6", "torch.relu", "F.relu", "F.relu_inplace",
                                  "Tensor.relu_", "F.relu6"])
@pytest.mark.parametrize("rule", list(EXPECTED))
def test_hand_computed_every_kind_of_relu(kind, rule):
    x = torch.tensor([1., 2.]).reshape(1, 1, 1, 2)
    got = METHODS[rule](Tiny(kind), x, 0)
    assert got.shape == x.shape
    assert got.flatten().tolist() == EXPECTED[rule]


@pytest.mark.parametrize("kind", ["relu6", "F.relu6"])
def test_relu6_saturation_blocks_gradient(kind):
    # x = [2, 4] gives h = W1 x = [8, 6, -2]: units 0 and 1 are saturated (h >= 6), so no gradient passes.
    x = torch.tensor([2., 4.]).reshape(1, 1, 1, 2)
    assert bp.saliency(Tiny(kind), x, 0).flatten().tolist() == [0., 0.]
    assert bp.guided_backprop(Tiny(kind), x, 0).flatten().tolist() == [0., 0.]
    assert bp.deconvnet(Tiny(kind), x, 0).flatten().tolist() == [0., 1.]   # deconvnet ignores the forward pass
    assert bp.guided_backprop(Tiny("module"), x, 0).flatten().tolist() == [2., 1.]


def manual(W1, W2, w3, x, rule):
    """Backprop through out = w3 . relu(W2 relu(W1 x)) written out by hand, one rule per rectifier."""
    h1 = W1 @ x
    h2 = W2 @ h1.clamp(min=0)
    g2 = w3.clone()
    g1 = W2.T @ bp.relu_backward_rule(g2, h2, rule)
    return W1.T @ bp.relu_backward_rule(g1, h1, rule)


class Reused(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(3)
        self.fc1, self.fc2, self.fc3 = nn.Linear(4, 6, bias=False), nn.Linear(6, 5, bias=False), nn.Linear(5, 1, bias=False)
        self.relu = nn.ReLU()   # one module, used twice
        self.eval()

    def forward(self, x):
        return self.fc3(self.relu(self.fc2(self.relu(self.fc1(x.flatten(1))))))


@pytest.mark.parametrize("rule", list(EXPECTED))
def test_reused_relu_module(rule):
    model = Reused()
    x = torch.randn(1, 1, 2, 2)
    expected = manual(model.fc1.weight, model.fc2.weight, model.fc3.weight[0], x.flatten(), rule)
    got = METHODS[rule](model, x, 0)
    assert torch.allclose(got.flatten(), expected.detach(), atol=1e-6)


def test_relu_backward_rule_by_hand():
    g = torch.tensor([1., -2., 3., -4.])
    x = torch.tensor([1., 1., -1., -1.])
    assert bp.relu_backward_rule(g, x, "gradient").tolist() == [1., -2., 0., 0.]
    assert bp.relu_backward_rule(g, x, "deconvnet").tolist() == [1., 0., 3., 0.]
    assert bp.relu_backward_rule(g, x, "guided").tolist() == [1., 0., 0., 0.]


def test_model_left_exactly_as_found():
    model = small_cnn()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    flags = [p.requires_grad for p in model.parameters()]
    x = torch.rand(3, 12, 12)
    for method in METHODS.values():
        out = method(model, x, 1)
        assert out.shape == x.shape
        method(model, x, bp.neuron(0), layer=model[1])
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert [p.requires_grad for p in model.parameters()] == flags
    assert all(p.grad is None for p in model.parameters())
    for m in model.modules():
        assert not (m._forward_hooks or m._forward_pre_hooks or m._backward_hooks)
    assert not model.training


def test_training_mode_warns_and_is_restored():
    model = small_cnn().train()
    x = torch.rand(1, 3, 12, 12)
    with pytest.warns(UserWarning, match="training mode"):
        a = bp.guided_backprop(model, x, 0)
    assert model.training
    assert torch.allclose(a, bp.guided_backprop(model.eval(), x, 0))


def test_bad_input():
    model, x = small_cnn(), torch.rand(1, 3, 12, 12)
    with pytest.raises(ValueError, match="channels"):
        bp.saliency(model, torch.rand(1, 1, 12, 12), 0)
    with pytest.raises(ValueError, match="3-D or 4-D"):
        bp.saliency(model, torch.rand(12, 12), 0)
    with pytest.raises(ValueError, match=r"\[0, 3\]"):
        bp.guided_backprop(model, x, 4)
    with pytest.raises(ValueError, match="one class per image"):
        bp.guided_backprop(model, x, [0, 1])
    with pytest.raises(TypeError):
        bp.saliency(model, x, "cat")
    with pytest.raises(ValueError, match="submodule"):
        bp.saliency(model, x, 0, layer=nn.ReLU())
    with pytest.raises(TypeError):
        bp.saliency("not a model", x, 0)


def test_bad_input_every_helper():
    model, x = small_cnn(), torch.rand(2, 3, 12, 12)
    with pytest.raises(ValueError, match="unknown rule 'guide'"):
        bp.attribute(model, x, 0, rule="guide")
    with pytest.raises(TypeError, match="layer must be a submodule.*got str"):
        bp.saliency(model, x, 0, layer="conv1")
    with pytest.raises(TypeError, match="class indices.*float32"):
        bp.saliency(model, x, torch.tensor([0.5, 1.0]))
    with pytest.raises(TypeError, match="class indices.*bool"):
        bp.saliency(model, x, [True, False])
    with pytest.raises(ValueError, match="NaN or inf"):
        bp.saliency(model, torch.full((1, 3, 12, 12), float("nan")), 0)
    with pytest.raises(TypeError, match="floating-point"):
        bp.saliency(model, torch.ones(1, 3, 12, 12, dtype=torch.long), 0)
    with pytest.raises(TypeError, match="x is torch.float64 but the model's parameters are torch.float32"):
        bp.deconvnet(model, x.double(), 0)
    with pytest.raises(ValueError, match="callable target must return a scalar"):
        bp.saliency(model, x, lambda out: out)
    with pytest.raises(ValueError, match="class-index target needs an output of shape"):
        bp.saliency(model, x, 0, layer=model[0])
    with pytest.raises(ValueError, match=r"channel must be in \[0, 5\]"):
        bp.saliency(model, x, bp.neuron(6), layer=model[0])
    with pytest.raises(ValueError, match="must lie in the 12x12 map"):
        bp.saliency(model, x, bp.neuron(0, 12, 0), layer=model[0])
    with pytest.raises(ValueError, match="conv activation"):
        bp.saliency(model, x, bp.neuron(0), layer=model[7])
    with pytest.raises(ValueError, match=r"channel must be in \[0, inf\]"):
        bp.neuron(-1)
    with pytest.raises(TypeError, match="row must be an integer"):
        bp.neuron(0, 1.5)
    with pytest.raises(TypeError, match="col must be an integer"):
        bp.neuron(0, 1, "2")
    with pytest.raises(ValueError, match="unknown rule"):
        bp.relu_backward_rule(torch.ones(2), torch.ones(2), "nope")
    with pytest.raises(ValueError, match="same shape"):
        bp.relu_backward_rule(torch.ones(2), torch.ones(3), "guided")
    with pytest.raises(TypeError, match="grad_out must be a torch.Tensor"):
        bp.relu_backward_rule([1.0], torch.ones(1), "guided")
    with pytest.raises(ValueError, match=r"hi must be in \(0, inf\]"):
        bp.relu_backward_rule(torch.ones(2), torch.ones(2), "guided", hi=0)
    with pytest.raises(ValueError, match="unknown rule"):
        bp.RectifierRule("all")
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        with bp.in_eval_mode("model", "testing"):
            pass


def test_map_change():
    a = torch.tensor([[1.0, -4.0], [2.0, 0.0]])
    assert bp.map_change(a, torch.tensor([[1.0, -1.0], [2.0, 0.5]])) == pytest.approx(0.75)
    assert bp.map_change(a, a.clone()) == 0.0
    assert bp.map_change(torch.zeros(3), torch.zeros(3)) == 0.0
    assert bp.map_change(torch.zeros(3), torch.ones(3)) == float("inf")
    with pytest.raises(ValueError, match="same shape"):
        bp.map_change(torch.ones(2), torch.ones(3))
    with pytest.raises(TypeError, match="b must be a torch.Tensor"):
        bp.map_change(torch.ones(2), [1.0, 2.0])


def test_signed_rgb():
    a = torch.zeros(3, 6, 6)
    a[:, 2:4, 2:4] = torch.tensor([1.0, -1.0, 3.0, -3.0]).reshape(2, 2)   # a field of view in a sea of zeros
    picture = bp.signed_rgb(a)
    assert picture.shape == (6, 6, 3) and picture.min() >= 0 and picture.max() <= 1
    assert (picture[0, 0] == 0.5).all()                                 # zero is grey
    sigma = float(a[:, 2:4, 2:4].std())                                # the deviation over the support only
    assert picture[2, 2, 0] == pytest.approx(0.5 + 0.5 / (3 * sigma), rel=1e-6)
    assert bp.signed_rgb(torch.zeros(1, 4, 4)).shape == (4, 4)          # grey maps stay 2-D
    with pytest.raises(ValueError, match="3-D"):
        bp.signed_rgb(torch.zeros(4, 4))
    with pytest.raises(ValueError, match="n_sigma"):
        bp.signed_rgb(a, n_sigma=0)


def test_unit_projections_equal_one_neuron_at_a_time():
    from course_utils import filters as fl

    model, images = small_cnn(), torch.rand(5, 3, 12, 12, generator=torch.Generator().manual_seed(0))
    layer, channel = model[3], 3                    # the second convolution: (6, 6) maps
    features = lambda x: model[:4](x)               # noqa: E731
    top = fl.top_patches(features, images, channel, k=4, per_photo=1)
    for rule in bp.RULES:
        maps = bp.unit_projections(model, layer, images, top, channel, rule)
        assert len(maps) == 4
        for m, p, r, c, (t, l, b, rr) in zip(maps, top.photo.tolist(), top.row.tolist(), top.col.tolist(), top.boxes):
            alone = bp.attribute(model, images[p], bp.neuron(channel, r, c), rule, layer)
            assert torch.allclose(m, alone[:, t:b, l:rr], atol=1e-6)
            assert alone.abs().sum() > 0 and torch.allclose(alone[:, t:b, l:rr].abs().sum(), alone.abs().sum())  # box holds it all
    fig = bp.plot_top_projections(top, {"guided": bp.unit_projections(model, layer, images, top, channel)})
    assert len(fig.axes) == 12                       # two 2x3 grids (4 patches, 3 columns)
    import matplotlib.pyplot as plt
    plt.close(fig)
    with pytest.raises(TypeError, match="TopPatches"):
        bp.unit_projections(model, layer, images, [0, 1], channel)
    with pytest.raises(ValueError, match="not a channel"):
        bp.unit_projections(model, layer, images, top, 99)
    with pytest.raises(ValueError, match="unknown rule"):
        bp.unit_projections(model, layer, images, top, channel, "guide")
    with pytest.raises(ValueError, match="one map per patch"):
        bp.plot_top_projections(top, {"guided": []})
    with pytest.raises(TypeError, match="projections must be a dict"):
        bp.plot_top_projections(top, [])


def test_effective_boxes():
    maps = torch.zeros(2, 3, 20, 30)
    maps[0, :, 5:8, 10:13] = 1.0                  # a 3x3 blob centred at (6, 11)
    maps[1, 0, 0:3, 27:30] = -2.0                 # a 3x3 blob in the corner: the box is shifted inside
    boxes = bp.effective_boxes(maps, fraction=0.99)
    assert boxes[0] == (5, 10, 8, 13)
    assert boxes[1] == (0, 27, 3, 30)
    with pytest.raises(ValueError, match="all zero"):
        bp.effective_boxes(torch.zeros(1, 1, 4, 4))
    with pytest.raises(ValueError, match="fraction"):
        bp.effective_boxes(maps, fraction=1.5)
    with pytest.raises(ValueError, match="4-D"):
        bp.effective_boxes(maps[0])
