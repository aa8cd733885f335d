"""Plausible wrong answers to lecture 04's exercises (see tests/exercise_harness.py)."""

_RULES = '''def backward_rules(W1, W2, x, rule):
    pre = W1 @ x
    g = {row}
    if rule == "gradient":
        g = {gradient}
    elif rule == "deconvnet":
        g = {deconvnet}
    elif rule == "guided":
        g = {guided}
    return {back}
'''


def rules(gradient="g * (pre > 0)", deconvnet="g * (g > 0)", guided="g * (g > 0) * (pre > 0)", back="W1.T @ g",
          row="W2[0]"):
    return _RULES.format(gradient=gradient, deconvnet=deconvnet, guided=guided, back=back, row=row)


_UNPOOL = '''def unpool_with_switches(x, grad_out, k):
    C, {shape} = x.shape
    windows = x.reshape(C, H // k, k, W // k, k).permute(0, 1, 3, 2, 4).reshape(C, H // k, W // k, k * k)
    switch = {switch}
    out = torch.zeros(C, H // k, W // k, k * k{dtype})
    out.scatter_(-1, switch[..., None], grad_out[..., None])
    return out.reshape(C, H // k, W // k, k, k).permute(0, 1, {order}).reshape(C, H, W)
'''


def unpool(switch="windows.argmax(dim=-1)", order="3, 2, 4", shape="H, W", dtype=", dtype=grad_out.dtype"):
    return _UNPOOL.format(switch=switch, order=order, shape=shape, dtype=dtype)


_RANK = '''def rank_correlation(a, b):
    ra = {ra}
    rb = {rb}
{centre}
    return float((ra * rb).sum() / (ra.norm() * rb.norm()))
'''


def rank(ra="a.argsort().argsort().double()", rb="b.argsort().argsort().double()",
         centre="    ra, rb = ra - ra.mean(), rb - rb.mean()"):
    return _RANK.format(ra=ra, rb=rb, centre=centre)


MUTANTS = {
    "q1_guided_rule": [
        ("is the deconvnet rule (forgets x > 0)", '''def guided_relu_backward(grad_out, x):
    return grad_out * (grad_out > 0)
'''),
        ("is the true gradient (forgets grad_out > 0)", '''def guided_relu_backward(grad_out, x):
    return grad_out * (x > 0)
'''),
        ("lets x == 0 through (x >= 0)", '''def guided_relu_backward(grad_out, x):
    return grad_out * (grad_out > 0) * (x >= 0)
'''),
        ("returns the mask, not the masked gradient", '''def guided_relu_backward(grad_out, x):
    return ((grad_out > 0) & (x > 0)).float()
'''),
        ("keeps the magnitude of negative gradients (abs)", '''def guided_relu_backward(grad_out, x):
    return grad_out.abs() * (x > 0)
'''),
    ],
    "q2_three_rules": [
        ("guided forgets the forward mask (it is the deconvnet)", rules(guided="g * (g > 0)")),
        ("swaps the gradient and deconvnet rules", rules(gradient="g * (g > 0)", deconvnet="g * (pre > 0)")),
        ("masks the deconvnet by the forward input too", rules(deconvnet="g * (g > 0) * (pre > 0)")),
        ("multiplies by relu(pre) instead of the indicator pre > 0",
         rules(gradient="g * pre.clamp(min=0)", guided="g * (g > 0) * pre.clamp(min=0)")),
        ("forgets to go back through W1", rules(back="g")),
        ("flattens W2 instead of taking row 0", rules(row="W2.flatten()")),
        ("sums W2's rows (the gradient of y_0 + y_1 + ...)", rules(row="W2.sum(0)")),
        ("takes the last row of W2", rules(row="W2[-1]")),
    ],
    "q3_unpool_switches": [
        ("puts the value at the window's minimum", unpool(switch="windows.argmin(dim=-1)")),
        ("always puts it at the window's top-left corner", unpool(switch="torch.zeros(windows.shape[:-1], dtype=torch.long)")),
        ("transposes each window (swaps row and column inside it)", unpool(order="4, 2, 3")),
        ("swaps H and W", unpool(shape="W, H")),
        ("takes the window's largest |value| (abs().argmax)", unpool(switch="windows.abs().argmax(dim=-1)")),
        ("builds the output in the default dtype, not grad_out's", unpool(dtype="")),
        ("builds the output in x's dtype", unpool(dtype=", dtype=x.dtype")),
        ("spreads the value evenly (average-pool's backward)", '''def unpool_with_switches(x, grad_out, k):
    return grad_out.repeat_interleave(k, dim=1).repeat_interleave(k, dim=2) / (k * k)
'''),
    ],
    "q4_map_change": [
        ("takes the signed maximum of a - b (no abs)", '''def map_change(a, b):
    return float((a - b).max() / a.abs().max())
'''),
        ("divides by the largest |b|", '''def map_change(a, b):
    return float((a - b).abs().max() / b.abs().max())
'''),
        ("the mean |a - b| instead of the largest", '''def map_change(a, b):
    return float((a - b).abs().mean() / a.abs().max())
'''),
        ("forgets to divide by max |a|", '''def map_change(a, b):
    return float((a - b).abs().max())
'''),
        ("divides by the signed maximum of a", '''def map_change(a, b):
    return float((a - b).abs().max() / a.max())
'''),
        ("returns a tensor, not a float", '''def map_change(a, b):
    return (a - b).abs().max() / a.abs().max()
'''),
    ],
    "q5_rank_correlation": [
        ("uses one argsort (indices that sort, not ranks)", rank(ra="a.argsort().double()", rb="b.argsort().double()")),
        ("forgets to centre the ranks (cosine of the ranks)", rank(centre="    pass")),
        ("correlates the raw values (Pearson, not Spearman)", rank(ra="a.double()", rb="b.double()")),
        ("ranks b in descending order", rank(rb="(-b).argsort().argsort().double()")),
    ],
}
