"""Plausible wrong answers to the exercises of notebooks/08_dense_sparse_dense.ipynb (see tests/exercise_harness.py)."""

MUTANTS = {
    "q1_threshold": [
        ("takes the k-th smallest magnitude (index k - 1): prunes one weight too few", '''def threshold(weights, sparsity):
    k = round(sparsity * weights.numel())
    if k == 0:
        return 0.0
    return float(weights.abs().flatten().sort().values[k - 1])
'''),
        ("sorts the signed weights, not their magnitudes", '''def threshold(weights, sparsity):
    k = round(sparsity * weights.numel())
    if k == 0:
        return 0.0
    return float(weights.flatten().sort().values[k].abs())
'''),
        ("rounds k down with int()", '''def threshold(weights, sparsity):
    k = int(sparsity * weights.numel())
    if k == 0:
        return 0.0
    return float(weights.abs().flatten().sort().values[k])
'''),
        ("sorts each row, then flattens", '''def threshold(weights, sparsity):
    k = round(sparsity * weights.numel())
    if k == 0:
        return 0.0
    return float(weights.abs().sort().values.flatten()[k])
'''),
    ],
    "q2_sparse_step": [
        ("masks the gradient, not the weights", '''def sparse_step(w, grad, mask, lr):
    return w - lr * grad * mask

def redense_start(w_sparse):
    return w_sparse.clone()

def dense_step(w, grad, lr):
    return w - lr * grad
'''),
        ("applies the mask before the update", '''def sparse_step(w, grad, mask, lr):
    return w * mask - lr * grad

def redense_start(w_sparse):
    return w_sparse.clone()

def dense_step(w, grad, lr):
    return w - lr * grad
'''),
        ("re-dense re-initialises the pruned weights at random", '''def sparse_step(w, grad, mask, lr):
    return (w - lr * grad) * mask

def redense_start(w_sparse):
    return torch.where(w_sparse == 0, 0.01 * torch.randn_like(w_sparse), w_sparse)

def dense_step(w, grad, lr):
    return w - lr * grad
'''),
        ("dense step climbs the gradient", '''def sparse_step(w, grad, mask, lr):
    return (w - lr * grad) * mask

def redense_start(w_sparse):
    return w_sparse.clone()

def dense_step(w, grad, lr):
    return w + lr * grad
'''),
    ],
    "q3_paired": [
        ("population standard deviation (ddof = 0)", '''def paired_difference(a, b):
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    se = d.std() / np.sqrt(len(d))
    return float(d.mean()), float(se), float(d.mean() / se)
'''),
        ("unpaired: standard error from the two arms' spreads", '''def paired_difference(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    mean = a.mean() - b.mean()
    se = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    return float(mean), float(se), float(mean / se)
'''),
        ("forgets the square root of n", '''def paired_difference(a, b):
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    se = d.std(ddof=1)
    return float(d.mean()), float(se), float(d.mean() / se)
'''),
        ("subtracts the wrong way round (b - a)", '''def paired_difference(a, b):
    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    se = d.std(ddof=1) / np.sqrt(len(d))
    return float(d.mean()), float(se), float(d.mean() / se)
'''),
    ],
    "q4_train_test_gap": [
        ('accuracy gap test minus train', '''def train_test_gaps(model, X_train, y_train, X_test, y_test):
    model.eval()
    with torch.no_grad():
        out_train, out_test = model(X_train), model(X_test)
        train_acc = (out_train.argmax(1) == y_train).float().mean().item()
        test_acc = (out_test.argmax(1) == y_test).float().mean().item()
        loss_gap = (F.cross_entropy(out_test, y_test) - F.cross_entropy(out_train, y_train)).item()
    return test_acc - train_acc, loss_gap
'''),
        ('the size of the accuracy gap, without its sign', '''def train_test_gaps(model, X_train, y_train, X_test, y_test):
    model.eval()
    with torch.no_grad():
        out_train, out_test = model(X_train), model(X_test)
        train_acc = (out_train.argmax(1) == y_train).float().mean().item()
        test_acc = (out_test.argmax(1) == y_test).float().mean().item()
        loss_gap = (F.cross_entropy(out_test, y_test) - F.cross_entropy(out_train, y_train)).item()
    return abs(train_acc - test_acc), loss_gap
'''),
        ('accuracy gap in percentage points, not a fraction', '''def train_test_gaps(model, X_train, y_train, X_test, y_test):
    model.eval()
    with torch.no_grad():
        out_train, out_test = model(X_train), model(X_test)
        train_acc = (out_train.argmax(1) == y_train).float().mean().item()
        test_acc = (out_test.argmax(1) == y_test).float().mean().item()
        loss_gap = (F.cross_entropy(out_test, y_test) - F.cross_entropy(out_train, y_train)).item()
    return 100 * (train_acc - test_acc), loss_gap
'''),
        ('scores the test predictions against the training labels', '''def train_test_gaps(model, X_train, y_train, X_test, y_test):
    model.eval()
    with torch.no_grad():
        out_train, out_test = model(X_train), model(X_test)
        train_acc = (out_train.argmax(1) == y_train).float().mean().item()
        test_acc = (out_test.argmax(1) == y_train[:len(X_test)]).float().mean().item()
        loss_gap = (F.cross_entropy(out_test, y_test) - F.cross_entropy(out_train, y_train)).item()
    return train_acc - test_acc, loss_gap
'''),
        ('copy-paste slip: evaluates X_train where X_test belongs', '''def train_test_gaps(model, X_train, y_train, X_test, y_test):
    model.eval()
    with torch.no_grad():
        out_train, out_test = model(X_train), model(X_train)
        train_acc = (out_train.argmax(1) == y_train).float().mean().item()
        test_acc = (out_test.argmax(1) == y_test).float().mean().item()
        loss_gap = (F.cross_entropy(out_test, y_test) - F.cross_entropy(out_train, y_train)).item()
    return train_acc - test_acc, loss_gap
'''),
        ('loss gap train minus test', '''def train_test_gaps(model, X_train, y_train, X_test, y_test):
    model.eval()
    with torch.no_grad():
        out_train, out_test = model(X_train), model(X_test)
        train_acc = (out_train.argmax(1) == y_train).float().mean().item()
        test_acc = (out_test.argmax(1) == y_test).float().mean().item()
        loss_gap = (F.cross_entropy(out_train, y_train) - F.cross_entropy(out_test, y_test)).item()
    return train_acc - test_acc, loss_gap
'''),
        ('summed cross-entropy, not the mean over rows', '''def train_test_gaps(model, X_train, y_train, X_test, y_test):
    model.eval()
    with torch.no_grad():
        out_train, out_test = model(X_train), model(X_test)
        train_acc = (out_train.argmax(1) == y_train).float().mean().item()
        test_acc = (out_test.argmax(1) == y_test).float().mean().item()
        loss_gap = (F.cross_entropy(out_test, y_test, reduction='sum') - F.cross_entropy(out_train, y_train, reduction='sum')).item()
    return train_acc - test_acc, loss_gap
'''),
        ('forgets model.eval(): dropout stays on while scoring', '''def train_test_gaps(model, X_train, y_train, X_test, y_test):
    with torch.no_grad():
        out_train, out_test = model(X_train), model(X_test)
        train_acc = (out_train.argmax(1) == y_train).float().mean().item()
        test_acc = (out_test.argmax(1) == y_test).float().mean().item()
        loss_gap = (F.cross_entropy(out_test, y_test) - F.cross_entropy(out_train, y_train)).item()
    return train_acc - test_acc, loss_gap
'''),
        ('cross-entropy of the softmax probabilities (softmax applied twice)', '''def train_test_gaps(model, X_train, y_train, X_test, y_test):
    model.eval()
    with torch.no_grad():
        out_train, out_test = model(X_train), model(X_test)
        train_acc = (out_train.argmax(1) == y_train).float().mean().item()
        test_acc = (out_test.argmax(1) == y_test).float().mean().item()
        loss_gap = (F.cross_entropy(out_test.softmax(1), y_test) - F.cross_entropy(out_train.softmax(1), y_train)).item()
    return train_acc - test_acc, loss_gap
'''),
    ],
    "q5_dead_units": [
        ("any() instead of all(): a unit silent on one input counts as dead", '''def dead_units(model, X):
    with torch.no_grad():
        h1 = torch.relu(model.fc1(X.flatten(1)))
        h2 = torch.relu(model.fc2(h1))
    return (h1 == 0).any(dim=0), (h2 == 0).any(dim=0)
'''),
        ("a unit whose mean pre-activation is not positive counts as dead", '''def dead_units(model, X):
    with torch.no_grad():
        z1 = model.fc1(X.flatten(1))
        z2 = model.fc2(torch.relu(z1))
    return z1.mean(dim=0) <= 0, z2.mean(dim=0) <= 0
'''),
        ("feeds fc2 the pre-activations of fc1 (no ReLU in between)", '''def dead_units(model, X):
    with torch.no_grad():
        z1 = model.fc1(X.flatten(1))
        h2 = torch.relu(model.fc2(z1))
    return (torch.relu(z1) == 0).all(dim=0), (h2 == 0).all(dim=0)
'''),
        ("reduces over the units instead of the inputs", '''def dead_units(model, X):
    with torch.no_grad():
        h1 = torch.relu(model.fc1(X.flatten(1)))
        h2 = torch.relu(model.fc2(h1))
    return (h1 == 0).all(dim=1), (h2 == 0).all(dim=1)
'''),
        ("returns the live units, not the dead ones", '''def dead_units(model, X):
    with torch.no_grad():
        h1 = torch.relu(model.fc1(X.flatten(1)))
        h2 = torch.relu(model.fc2(h1))
    return (h1 > 0).any(dim=0), (h2 > 0).any(dim=0)
'''),
    ],
    "q6_median_moves": [
        ("returns (kept, restored): swapped", '''def median_moves(before, after, restored):
    moved = (after - before).abs()
    return moved[~restored].median().item(), moved[restored].median().item()
'''),
        ("|w_after| instead of |w_after - w_before|", '''def median_moves(before, after, restored):
    return after[restored].abs().median().item(), after[~restored].abs().median().item()
'''),
        ("mean instead of median", '''def median_moves(before, after, restored):
    moved = (after - before).abs()
    return moved[restored].mean().item(), moved[~restored].mean().item()
'''),
        ("median of the signed moves, without abs", '''def median_moves(before, after, restored):
    moved = after - before
    return moved[restored].median().item(), moved[~restored].median().item()
'''),
        ("numpy's median (averages the two middle values)", '''def median_moves(before, after, restored):
    import numpy as np
    moved = (after - before).abs().numpy()
    return float(np.median(moved[restored.numpy()])), float(np.median(moved[~restored.numpy()]))
'''),
    ],
}
