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
