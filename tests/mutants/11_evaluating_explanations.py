"""Plausible wrong answers to lecture 11's exercises; tests/test_exercises.py checks that the visible
and the hidden tests reject each one. Each source replaces the whole solution cell."""

_IG_GAP = '''

def completeness_gap(model, x, target, baseline, attribution):
    with torch.no_grad():
        scores = model(torch.stack([x, baseline]))[:, target]
    return float(attribution.sum() - (scores[0] - scores[1]))
'''

_IG = '''def integrated_gradients(model, x, target, baseline, steps):
    alphas = (torch.arange(steps) + 0.5) / steps
    path = (baseline + alphas.view(-1, 1, 1, 1) * (x - baseline)).requires_grad_(True)
    (grads,) = torch.autograd.grad(model(path)[:, target].sum(), path)
    return (x - baseline) * grads.mean(0)
'''

_DELETION = '''def deletion_auc(model, x, relevance, target, n_steps):
    order = torch.argsort(relevance.flatten(), descending={descending}, stable=True)
    images = []
    for k in range({first}, n_steps + 1):
        image = x.clone().flatten(1)
        image[:, order[:round(k * relevance.numel() / n_steps)]] = 0.0
        images.append(image.view_as(x))
    with torch.no_grad():
        p = model(torch.stack(images)){prob}[:, target]
    return {area}
'''
_TRAPEZOID = "float((p[1:] + p[:-1]).sum() / 2 / n_steps)"

_RANK_AGREEMENT = '''

def ranking_agreement(ranks_a, ranks_b):
    names = sorted(ranks_a)
    a = torch.tensor([float(ranks_a[m]) for m in names])
    b = torch.tensor([float(ranks_b[m]) for m in names])
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / (a.norm() * b.norm()))
'''
_RANK_BY_DELETION = '''my_prediction = "blur"


def rank_by_deletion(aucs):
    order = sorted(aucs, key=lambda m: aucs[m])
    return {m: order.index(m) + 1 for m in aucs}
'''

MUTANTS = {
    "q1_integrated_gradients": [
        ("forgets to multiply by (x - baseline)", '''def integrated_gradients(model, x, target, baseline, steps):
    alphas = (torch.arange(steps) + 0.5) / steps
    path = (baseline + alphas.view(-1, 1, 1, 1) * (x - baseline)).requires_grad_(True)
    (grads,) = torch.autograd.grad(model(path)[:, target].sum(), path)
    return grads.mean(0)
''' + _IG_GAP),
        ("left Riemann sum instead of the midpoint rule (off by half a step)", '''def integrated_gradients(model, x, target, baseline, steps):
    alphas = torch.arange(steps) / steps
    path = (baseline + alphas.view(-1, 1, 1, 1) * (x - baseline)).requires_grad_(True)
    (grads,) = torch.autograd.grad(model(path)[:, target].sum(), path)
    return (x - baseline) * grads.mean(0)
''' + _IG_GAP),
        ("sums the gradients over the path instead of averaging them", '''def integrated_gradients(model, x, target, baseline, steps):
    alphas = (torch.arange(steps) + 0.5) / steps
    path = (baseline + alphas.view(-1, 1, 1, 1) * (x - baseline)).requires_grad_(True)
    (grads,) = torch.autograd.grad(model(path)[:, target].sum(), path)
    return (x - baseline) * grads.sum(0)
''' + _IG_GAP),
        ("completeness gap with the sign of the score change flipped", _IG + '''

def completeness_gap(model, x, target, baseline, attribution):
    with torch.no_grad():
        scores = model(torch.stack([x, baseline]))[:, target]
    return float(attribution.sum() - (scores[1] - scores[0]))
'''),
        ("completeness gap on softmax probabilities instead of the logit", _IG + '''

def completeness_gap(model, x, target, baseline, attribution):
    with torch.no_grad():
        scores = model(torch.stack([x, baseline])).softmax(1)[:, target]
    return float(attribution.sum() - (scores[0] - scores[1]))
'''),
    ],
    "q2_deletion_auc": [
        ("deletes the least relevant pixels first",
         _DELETION.format(descending="False", first=0, prob=".softmax(1)", area=_TRAPEZOID)),
        ("uses logits instead of softmax probabilities",
         _DELETION.format(descending="True", first=0, prob="", area=_TRAPEZOID)),
        ("leaves out the unperturbed image (k starts at 1)",
         _DELETION.format(descending="True", first=1, prob=".softmax(1)",
                          area="float((p[1:] + p[:-1]).sum() / 2 / (n_steps - 1))")),
        ("the mean of the points instead of the trapezoid rule",
         _DELETION.format(descending="True", first=0, prob=".softmax(1)", area="float(p.mean())")),
    ],
    "q3_pointing_game": [
        ("swaps x and y when cutting out the box", '''def pointing_hit(relevance, box):
    x0, y0, x1, y1 = box
    peak = relevance == relevance.max()
    return bool(peak[x0:x1, y0:y1].any())
'''),
        ("treats x1, y1 as inclusive", '''def pointing_hit(relevance, box):
    x0, y0, x1, y1 = box
    peak = relevance == relevance.max()
    return bool(peak[y0:y1 + 1, x0:x1 + 1].any())
'''),
        ("uses only the first argmax, so ties are lost", '''def pointing_hit(relevance, box):
    x0, y0, x1, y1 = box
    row, col = divmod(int(relevance.argmax()), relevance.shape[1])
    return bool(x0 <= col < x1 and y0 <= row < y1)
'''),
        ("points with the minimum of the map", '''def pointing_hit(relevance, box):
    x0, y0, x1, y1 = box
    peak = relevance == relevance.min()
    return bool(peak[y0:y1, x0:x1].any())
'''),
    ],
    "q4_gini": [
        ("forgets the absolute value", '''def gini(relevance):
    a = relevance.flatten().sort().values.double()
    n = a.numel()
    k = torch.arange(1, n + 1, dtype=torch.float64)
    return float(((2 * k - n - 1) * a).sum() / (n * a.sum()))
'''),
        ("sorts in descending order", '''def gini(relevance):
    a = relevance.abs().flatten().sort(descending=True).values.double()
    n = a.numel()
    k = torch.arange(1, n + 1, dtype=torch.float64)
    return float(((2 * k - n - 1) * a).sum() / (n * a.sum()))
'''),
        ("drops the -1 (off by one in the weights)", '''def gini(relevance):
    a = relevance.abs().flatten().sort().values.double()
    n = a.numel()
    k = torch.arange(1, n + 1, dtype=torch.float64)
    return float(((2 * k - n) * a).sum() / (n * a.sum()))
'''),
        ("forgets to divide by n", '''def gini(relevance):
    a = relevance.abs().flatten().sort().values.double()
    n = a.numel()
    k = torch.arange(1, n + 1, dtype=torch.float64)
    return float(((2 * k - n - 1) * a).sum() / a.sum())
'''),
    ],
    "q5_ranking_change": [
        ("ranks the highest deletion AUC first", '''my_prediction = "blur"


def rank_by_deletion(aucs):
    order = sorted(aucs, key=lambda m: aucs[m], reverse=True)
    return {m: order.index(m) + 1 for m in aucs}
''' + _RANK_AGREEMENT),
        ("ranks from 0 instead of 1", '''my_prediction = "blur"


def rank_by_deletion(aucs):
    order = sorted(aucs, key=lambda m: aucs[m])
    return {m: order.index(m) for m in aucs}
''' + _RANK_AGREEMENT),
        ("matches the rankings by position, not by method name", _RANK_BY_DELETION + '''

def ranking_agreement(ranks_a, ranks_b):
    a = torch.tensor([float(v) for v in ranks_a.values()])
    b = torch.tensor([float(v) for v in ranks_b.values()])
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / (a.norm() * b.norm()))
'''),
        ("forgets to centre the ranks (cosine, not correlation)", _RANK_BY_DELETION + '''

def ranking_agreement(ranks_a, ranks_b):
    names = sorted(ranks_a)
    a = torch.tensor([float(ranks_a[m]) for m in names])
    b = torch.tensor([float(ranks_b[m]) for m in names])
    return float((a * b).sum() / (a.norm() * b.norm()))
'''),
        ("an invalid prediction", '''my_prediction = "white"


def rank_by_deletion(aucs):
    order = sorted(aucs, key=lambda m: aucs[m])
    return {m: order.index(m) + 1 for m in aucs}
''' + _RANK_AGREEMENT),
    ],
}
