"""course_utils.fusion: folded conv + BatchNorm equals torch's own fusion and the plain model; the cache is never stale."""
import math

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from course_utils import fusion
from nets import lite_like


def run(model, x, rectifiers=True):
    graph = fusion.fused_graph(model, rectifiers)
    with torch.no_grad():
        return graph.run(model, graph.modules(model), x)


def test_fold_equals_torch_fusion():
    torch.manual_seed(0)
    for bias, affine in [(False, True), (True, True), (True, False)]:
        conv, bn = nn.Conv2d(4, 6, 3, bias=bias).eval(), nn.BatchNorm2d(6, affine=affine).eval()
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        if affine:
            bn.weight.data.uniform_(0.5, 1.5)
            bn.bias.data.uniform_(-1, 1)
        weight, b = fusion.fold_batchnorm(conv, bn)
        reference = fuse_conv_bn_eval(conv, bn)
        assert torch.allclose(weight, reference.weight, atol=1e-6) and torch.allclose(b, reference.bias, atol=1e-6)


def test_fused_graph_equals_model_and_leaves_it_untouched():
    model = lite_like()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.rand(2, 3, 32, 32)
    for rectifiers in (True, False):
        graph = fusion.fused_graph(model, rectifiers)
        kinds = [type(graph.modules(model)[n.target]).__name__ for n in graph.graph.nodes if n.op == "call_module"]
        assert kinds.count("FusedConv") == sum(isinstance(m, nn.Conv2d) for m in model.modules())
        assert "BatchNorm2d" not in kinds and "SamePad" not in kinds
        assert ("ReLU6" in kinds) != rectifiers        # rectifiers fold only when asked
        with torch.no_grad():
            assert torch.allclose(run(model, x, rectifiers), model(x), atol=1e-5)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(not m._forward_hooks for m in model.modules())


def test_weights_edited_in_place_are_seen():
    model, x = lite_like(), torch.rand(1, 3, 32, 32)
    run(model, x)
    model[1].project[2].running_var.data.mul_(4.0)   # through .data: no version counter sees this
    model[0][1].weight.data.normal_()
    with torch.no_grad():
        assert torch.allclose(run(model, x), model(x), atol=1e-5)


def test_structure_change_retraces():
    model, x = lite_like(), torch.rand(1, 3, 32, 32)
    first = fusion.fused_graph(model)
    assert fusion.fused_graph(model) is first                       # cached
    model[1].depthwise[3] = nn.ReLU()                               # a module swapped in place
    second = fusion.fused_graph(model)
    assert second is not first
    assert second.fusions["1.depthwise.1:fused"][3] == math.inf
    with torch.no_grad():
        assert torch.allclose(run(model, x), model(x), atol=1e-5)


def test_hooked_modules_are_not_fused():
    model, x = lite_like(), torch.rand(1, 3, 32, 32)
    seen = []
    handle = model[0][2].register_forward_hook(lambda m, i, o: seen.append(o.shape))   # the stem's BatchNorm
    try:
        graph = fusion.fused_graph(model)
        assert graph.fusions["0.1:fused"][2] is None        # the stem conv keeps its BatchNorm
        with torch.no_grad():
            assert torch.allclose(run(model, x), model(x), atol=1e-5)
        assert len(seen) == 2
    finally:
        handle.remove()


def test_untraceable_model_gives_none():
    class Branchy(nn.Module):
        def forward(self, x):
            return x if x.sum() > 0 else -x      # data-dependent control flow
    assert fusion.fused_graph(Branchy()) is None


def test_bad_input():
    import pytest
    from course_utils.models import SamePad
    conv, bn = nn.Conv2d(3, 4, 3).eval(), nn.BatchNorm2d(4).eval()
    with pytest.raises(TypeError, match="conv must be a torch.nn.Conv2d"):
        fusion.fold_batchnorm(nn.Linear(3, 4), bn)
    with pytest.raises(TypeError, match="bn must be a torch.nn.BatchNorm2d"):
        fusion.fold_batchnorm(conv, nn.ReLU())
    with pytest.raises(ValueError, match="eval mode"):
        fusion.fold_batchnorm(conv, nn.BatchNorm2d(4).train())
    with pytest.raises(ValueError, match="bn has 5 channels but conv gives 4"):
        fusion.fold_batchnorm(conv, nn.BatchNorm2d(5).eval())
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        fusion.fused_graph(lambda x: x)
    with pytest.raises(TypeError, match="rectifiers must be True or False"):
        fusion.fused_graph(lite_like(), rectifiers="yes")
    with pytest.raises(TypeError, match="padding torch.nn.Module"):
        fusion.samepad_offsets("pad", 8, 8)
    with pytest.raises(ValueError, match=r"H must be in \[1, inf\]"):
        fusion.samepad_offsets(SamePad(3, 2), 0, 8)
    with pytest.raises(TypeError, match="W must be an integer"):
        fusion.samepad_offsets(SamePad(3, 2), 8, 8.0)


def test_optional_arguments_and_in_place_operations_are_traced_faithfully():
    import torch.nn.functional as F

    class Student(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.relu = nn.Conv2d(3, 3, 3, padding=1), nn.ReLU(inplace=True)

        def forward(self, x, scale=None):
            out = self.conv(x)
            out += x                      # in place: the conv's output is never read again
            out = self.relu(out)
            F.relu(out, inplace=True)
            out.mul_(2)
            return out if scale is None else out * scale

    model, x = Student().eval(), torch.randn(2, 3, 6, 6)
    graph = fusion.fused_graph(model)
    assert graph.out_of_place == {"relu"}
    inplace = [n for n in graph.graph.nodes if n.op == "call_method" and n.target.endswith("_")]
    assert not inplace and all(not n.kwargs.get("inplace") for n in graph.graph.nodes)
    with torch.no_grad():
        env = graph.run(model, graph.modules(model), x, keep=True)
        expected = model(x.clone())
    assert torch.allclose(env[next(n for n in graph.graph.nodes if n.op == "output")], expected, atol=1e-6)
    # Nothing was overwritten: every kept value is still what its own node computed.
    conv = next(n for n in graph.graph.nodes if n.op == "call_module")
    with torch.no_grad():
        assert torch.allclose(env[conv], graph.modules(model)[conv.target](x), atol=1e-6)
    assert model.relu.inplace                           # the model's own module is untouched
