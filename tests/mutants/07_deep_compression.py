"""Plausible wrong answers to the exercises of notebooks/07_deep_compression.ipynb (see tests/exercise_harness.py)."""

HOLD = '''
def hold(model, masks):
    layers = C.prunable_layers(model)
    with torch.no_grad():
        for name, mask in masks.items():
            layers[name].weight.mul_(mask)
'''

KEEP = '''
def keep_mask(weights, sparsity):
    n_prune = round(sparsity * weights.numel())
    mask = torch.ones(weights.numel(), dtype=torch.bool)
    mask[weights.abs().flatten().argsort()[:n_prune]] = False
    return mask.view_as(weights)
'''


def _kmeans(init="np.linspace(w.min(), w.max(), k)", update="w[codes == j].mean()", empty="if (codes == j).any():",
            loop="range(n_iter)"):
    return f'''
def kmeans_1d(w, k, n_iter=100):
    w = np.asarray(w, dtype=float).ravel()
    centroids = {init}
    codes = np.abs(w[:, None] - centroids).argmin(axis=1)
    for _ in {loop}:
        for j in range(k):
            {empty}
                centroids[j] = {update}
        new = np.abs(w[:, None] - centroids).argmin(axis=1)
        if np.array_equal(new, codes):
            break
        codes = new
    return centroids, codes
'''


CODE_BITS = '''
def code_bits(n_entries):
    return max(1, int(np.ceil(np.log2(n_entries))))
'''


def _relative(filler_test="run > longest", consume="run -= longest + 1"):
    return f'''
def relative_index(row, index_bits):
    longest = 2 ** index_bits - 1
    gaps, values, run = [], [], 0
    for w in np.asarray(row, dtype=float):
        if w == 0:
            run += 1
            continue
        while {filler_test}:
            gaps.append(longest)
            values.append(0.0)
            {consume}
        gaps.append(run)
        values.append(float(w))
        run = 0
    return gaps, values
'''


MUTANTS = {
    "q1_pruning_mask": [
        ("prunes the largest magnitudes", '''def keep_mask(weights, sparsity):
    n_prune = round(sparsity * weights.numel())
    mask = torch.ones(weights.numel(), dtype=torch.bool)
    mask[weights.abs().flatten().argsort(descending=True)[:n_prune]] = False
    return mask.view_as(weights)
''' + HOLD),
        ("ranks the signed weights, not their magnitudes", '''def keep_mask(weights, sparsity):
    n_prune = round(sparsity * weights.numel())
    mask = torch.ones(weights.numel(), dtype=torch.bool)
    mask[weights.flatten().argsort()[:n_prune]] = False
    return mask.view_as(weights)
''' + HOLD),
        ("rounds the number pruned down with int()", '''def keep_mask(weights, sparsity):
    n_prune = int(sparsity * weights.numel())
    mask = torch.ones(weights.numel(), dtype=torch.bool)
    mask[weights.abs().flatten().argsort()[:n_prune]] = False
    return mask.view_as(weights)
''' + HOLD),
        ("rounds half up (int(x + 0.5)), not Python's half-to-even round", '''def keep_mask(weights, sparsity):
    n_prune = int(sparsity * weights.numel() + 0.5)
    mask = torch.ones(weights.numel(), dtype=torch.bool)
    mask[weights.abs().flatten().argsort()[:n_prune]] = False
    return mask.view_as(weights)
''' + HOLD),
        ("rounds the number pruned up (ceil)", '''import math
def keep_mask(weights, sparsity):
    n_prune = math.ceil(sparsity * weights.numel())
    mask = torch.ones(weights.numel(), dtype=torch.bool)
    mask[weights.abs().flatten().argsort()[:n_prune]] = False
    return mask.view_as(weights)
''' + HOLD),
        ("hold zeroes the kept weights instead", KEEP + '''
def hold(model, masks):
    layers = C.prunable_layers(model)
    with torch.no_grad():
        for name, mask in masks.items():
            layers[name].weight.mul_(~mask)
'''),
    ],
    "q2_kmeans_linear": [
        ("density initialisation (quantiles) instead of linear", _kmeans(init="np.quantile(w, np.linspace(0, 1, k))")),
        ("random (Forgy) initialisation", _kmeans(init="np.sort(np.random.default_rng(0).choice(w, k, replace=False))")),
        ("stops after the initial assignment (no Lloyd iterations)", _kmeans(loop="range(0)")),
        ("moves centroids to the median, not the mean", _kmeans(update="np.median(w[codes == j])")),
        ("an empty cluster's centroid becomes NaN", _kmeans(empty="if True:")),
        ("stops after one Lloyd round", _kmeans(loop="range(1)")),
        ("returns the codes of the first assignment, not of the final centroids", '''
def kmeans_1d(w, k, n_iter=100):
    w = np.asarray(w, dtype=float).ravel()
    centroids = np.linspace(w.min(), w.max(), k)
    first = codes = np.abs(w[:, None] - centroids).argmin(axis=1)
    for _ in range(n_iter):
        for j in range(k):
            if (codes == j).any():
                centroids[j] = w[codes == j].mean()
        new = np.abs(w[:, None] - centroids).argmin(axis=1)
        if np.array_equal(new, codes):
            break
        codes = new
    return centroids, first
'''),
    ],
    "q4_codebook_bits": [
        ("rounds log2 down", '''def code_bits(n_entries):
    return max(1, int(np.log2(n_entries)))

def shared_rate(n, n_entries):
    return (n * code_bits(n_entries) + 32 * n_entries) / (32 * n)
'''),
        ("one bit too many (log2(n + 1))", '''def code_bits(n_entries):
    return max(1, int(np.ceil(np.log2(n_entries + 1))))

def shared_rate(n, n_entries):
    return (n * code_bits(n_entries) + 32 * n_entries) / (32 * n)
'''),
        ("forgets the codebook's storage", CODE_BITS + '''
def shared_rate(n, n_entries):
    return n * code_bits(n_entries) / (32 * n)
'''),
        ("fractional code bits (log2 k) in the rate", CODE_BITS + '''
def shared_rate(n, n_entries):
    return (n * np.log2(n_entries) + 32 * n_entries) / (32 * n)
'''),
        ("returns the compression ratio, not the fraction", CODE_BITS + '''
def shared_rate(n, n_entries):
    return (32 * n) / (n * code_bits(n_entries) + 32 * n_entries)
'''),
    ],
    "q5_relative_index": [
        ("no fillers: gaps overflow the index bits", _relative(filler_test="False")),
        ("a filler covers only L positions (forgets its own slot)", _relative(consume="run -= longest")),
        ("inserts a filler already when the gap equals L", _relative(filler_test="run >= longest")),
        ("stores position differences, not zeros skipped", '''
def relative_index(row, index_bits):
    longest = 2 ** index_bits - 1
    gaps, values, last = [], [], -1
    for i, w in enumerate(np.asarray(row, dtype=float)):
        if w == 0:
            continue
        step = i - last
        while step > longest:
            gaps.append(longest)
            values.append(0.0)
            step -= longest
        gaps.append(step)
        values.append(float(w))
        last = i
    return gaps, values
'''),
    ],
    "q6_huffman_lengths": [
        ("a balanced 3-bit code", '''lengths = {"a": 3, "b": 3, "c": 3, "d": 3, "e": 3}
mean_bits = 3.0
'''),
        ("lengths from the counts' order, not a tree (not a complete prefix code)", '''lengths = {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}
mean_bits = (40 * 1 + 30 * 2 + 15 * 3 + 10 * 4 + 5 * 5) / 100
'''),
        ("a complete prefix code, but not the shortest (2, 2, 2, 3, 3)", '''lengths = {"a": 2, "b": 2, "c": 2, "d": 3, "e": 3}
mean_bits = (40 * 2 + 30 * 2 + 15 * 2 + 10 * 3 + 5 * 3) / 100
'''),
        ("a complete prefix code, but not the shortest (1, 3, 3, 3, 3)", '''lengths = {"a": 1, "b": 3, "c": 3, "d": 3, "e": 3}
mean_bits = (40 * 1 + 30 * 3 + 15 * 3 + 10 * 3 + 5 * 3) / 100
'''),
        ("unweighted mean of the lengths", '''lengths = {"a": 1, "b": 2, "c": 3, "d": 4, "e": 4}
mean_bits = (1 + 2 + 3 + 4 + 4) / 5
'''),
        ("total bits, not bits per symbol", '''lengths = {"a": 1, "b": 2, "c": 3, "d": 4, "e": 4}
mean_bits = 40 * 1 + 30 * 2 + 15 * 3 + 10 * 4 + 5 * 4
'''),
    ],
}

RETRAIN_STEP = '''
def retrain_step(codebook, grad_w, codes, lr):
    return codebook - lr * centroid_grad(grad_w, codes, len(codebook))
'''

CENTROID_GRAD = '''
def centroid_grad(grad_w, codes, k):
    grad = torch.zeros(k, dtype=grad_w.dtype).index_add_(0, codes.flatten(), grad_w.flatten())
    grad[0] = 0.0
    return grad
'''

MUTANTS["q3_centroid_grad"] = [
    ("the mean of each cluster's gradients, not their sum", '''
def centroid_grad(grad_w, codes, k):
    total = torch.zeros(k, dtype=grad_w.dtype).index_add_(0, codes.flatten(), grad_w.flatten())
    count = torch.bincount(codes.flatten(), minlength=k).clamp(min=1)
    grad = total / count
    grad[0] = 0.0
    return grad
''' + RETRAIN_STEP),
    ("forgets that entry 0 (the pruned zero) is fixed", '''
def centroid_grad(grad_w, codes, k):
    return torch.zeros(k, dtype=grad_w.dtype).index_add_(0, codes.flatten(), grad_w.flatten())
''' + RETRAIN_STEP),
    ("steps along the weights codebook[codes] instead of dL/dw", CENTROID_GRAD + '''
def retrain_step(codebook, grad_w, codes, lr):
    return codebook - lr * centroid_grad(codebook[codes], codes, len(codebook))
'''),
    ("ascends the gradient (+ lr)", CENTROID_GRAD + '''
def retrain_step(codebook, grad_w, codes, lr):
    return codebook + lr * centroid_grad(grad_w, codes, len(codebook))
'''),
]
