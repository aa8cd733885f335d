"""Plausible wrong answers to the exercises of notebooks/06_convergent_learning.ipynb (see tests/exercise_harness.py)."""

BASELINE = '''
import scipy.optimize
from course_utils import models

def random_lenet5(seed):
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return models.LeNet5().eval()

def conv1_rows(model):
    return matching.channels_last(convergent.layer_activations(model, X_mnist[:500], ["conv1"])["conv1"])

trained = [conv1_rows(m) for m, _ in lenets]
untrained = [conv1_rows(random_lenet5(s)) for s in (100, 101)]
baseline = {"trained-trained": matched_correlation(trained[0], trained[1]),
            "trained-random": matched_correlation(trained[0], untrained[0]),
            "random-random": matched_correlation(untrained[0], untrained[1])}
'''

REGRESSION = '''
from sklearn.linear_model import Lasso
from course_utils import models

def conv1_fit_loss(target_acts, source_acts):
    t, s = matching.channels_last(target_acts)[:20_000], matching.channels_last(source_acts)[:20_000]
    return float(np.mean([regression_loss(t[:, i], s, alpha=0)[0] for i in range(t.shape[1])]))

with torch.random.fork_rng():
    torch.manual_seed(100)
    untrained_net = models.LeNet5().eval()
untrained_conv1 = convergent.layer_activations(untrained_net, X_mnist[:500], ["conv1"])["conv1"]
conv1_fit = {"from trained net 2": conv1_fit_loss(acts["MNIST"][0]["conv1"], acts["MNIST"][1]["conv1"]),
             "from untrained net": conv1_fit_loss(acts["MNIST"][0]["conv1"], untrained_conv1)}
'''

CKA = '''
from course_utils import models
with torch.random.fork_rng():
    torch.manual_seed(100)
    untrained_net = models.LeNet5().eval()
conv1 = [matching.channels_last(acts["MNIST"][k]["conv1"])[:20_000] for k in (0, 1)]
conv1_untrained = matching.channels_last(
    convergent.layer_activations(untrained_net, X_mnist[:500], ["conv1"])["conv1"])[:20_000]
cka = {"trained-trained": linear_cka(conv1[0], conv1[1]), "trained-untrained": linear_cka(conv1[0], conv1_untrained)}
'''

MUTANTS = {
    "q1_correlation": [
        ("divides by N - 1 after the population standard deviation", '''def correlation_matrix(a, b):
    za = (a - a.mean(0)) / a.std(0)
    zb = (b - b.mean(0)) / b.std(0)
    return za.T @ zb / (len(a) - 1)
'''),
        ("forgets to subtract the mean", '''def correlation_matrix(a, b):
    return (a / a.std(0)).T @ (b / b.std(0)) / len(a)
'''),
        ("returns the covariance, not the correlation", '''def correlation_matrix(a, b):
    return (a - a.mean(0)).T @ (b - b.mean(0)) / len(a)
'''),
        ("returns the (C2, C1) transpose", '''def correlation_matrix(a, b):
    za = (a - a.mean(0)) / a.std(0)
    zb = (b - b.mean(0)) / b.std(0)
    return zb.T @ za / len(a)
'''),
    ],
    "q2_semi_matching": [
        ("takes the best row per column (axis 0)", '''def semi_match(corr):
    j_hat = np.asarray(corr).argmax(axis=0)
    return j_hat, len(np.unique(j_hat))
'''),
        ("picks the largest |rho|", '''def semi_match(corr):
    j_hat = np.abs(np.asarray(corr)).argmax(axis=1)
    return j_hat, len(np.unique(j_hat))
'''),
        ("counts the rows, not the distinct columns", '''def semi_match(corr):
    j_hat = np.asarray(corr).argmax(axis=1)
    return j_hat, len(j_hat)
'''),
        ("takes the smallest correlation", '''def semi_match(corr):
    j_hat = np.asarray(corr).argmin(axis=1)
    return j_hat, len(np.unique(j_hat))
'''),
    ],
    "q3_augmenting_path": [
        ("greedy: pairs a free row with a free neighbouring column, never re-routes", '''def augment(adj, match):
    match = np.asarray(match)
    taken = set(match[match >= 0].tolist())
    for r in np.flatnonzero(match == -1):
        for c in np.flatnonzero(adj[r]):
            if c not in taken:
                new = match.copy()
                new[r] = c
                return new
    return None
'''),
        ("modifies match in place", '''def augment(adj, match):
    match = np.asarray(match)
    row_of_col = {c: r for r, c in enumerate(match) if c >= 0}
    for start in np.flatnonzero(match == -1):
        parent, frontier, seen = {}, [start], set()
        while frontier:
            nxt = []
            for r in frontier:
                for c in np.flatnonzero(adj[r]):
                    if c in seen:
                        continue
                    seen.add(c)
                    parent[c] = r
                    if c not in row_of_col:
                        new = match
                        while True:
                            r = parent[c]
                            c, new[r] = new[r], c
                            if r == start:
                                return new
                    nxt.append(row_of_col[c])
            frontier = nxt
    return None
'''),
        ("ignores adj: gives the free row any free column", '''def augment(adj, match):
    match = np.asarray(match)
    free_rows = np.flatnonzero(match == -1)
    free_cols = sorted(set(range(adj.shape[1])) - set(match[match >= 0].tolist()))
    if len(free_rows) == 0 or not free_cols:
        return None
    new = match.copy()
    new[free_rows[0]] = free_cols[0]
    return new
'''),
        ("returns the matching unchanged", '''def augment(adj, match):
    return np.asarray(match).copy() if (np.asarray(match) == -1).any() else None
'''),
        ("tries only the first free row", '''def augment(adj, match):
    match = np.asarray(match)
    row_of_col = {c: r for r, c in enumerate(match) if c >= 0}
    for start in np.flatnonzero(match == -1)[:1]:
        parent, frontier, seen = {}, [start], set()
        while frontier:
            nxt = []
            for r in frontier:
                for c in np.flatnonzero(adj[r]):
                    if c in seen:
                        continue
                    seen.add(c)
                    parent[c] = r
                    if c not in row_of_col:
                        new = match.copy()
                        while True:
                            r = parent[c]
                            c, new[r] = new[r], c
                            if r == start:
                                return new
                    nxt.append(row_of_col[c])
            frontier = nxt
    return None
'''),
        ("follows paths of at most one re-routed row (depth two)", '''def augment(adj, match):
    match = np.asarray(match)
    row_of_col = {c: r for r, c in enumerate(match) if c >= 0}
    for start in np.flatnonzero(match == -1):
        for c in np.flatnonzero(adj[start]):
            if c not in row_of_col:
                new = match.copy()
                new[start] = c
                return new
        for c in np.flatnonzero(adj[start]):
            r = row_of_col[c]
            for c2 in np.flatnonzero(adj[r]):
                if c2 not in row_of_col:
                    new = match.copy()
                    new[r], new[start] = c2, c
                    return new
    return None
'''),
    ],
    "q4_random_baseline": [
        ("semi-matching: each unit takes its best partner, partners shared", '''def matched_correlation(a, b):
    return float(correlation_matrix(a, b).max(1).mean())
''' + BASELINE),
        ("minimises instead of maximising the total correlation", '''import scipy.optimize
def matched_correlation(a, b):
    corr = correlation_matrix(a, b)
    rows, cols = scipy.optimize.linear_sum_assignment(corr)
    return float(corr[rows, cols].mean())
''' + BASELINE),
        ("pairs units by index (no matching)", '''def matched_correlation(a, b):
    corr = correlation_matrix(a, b)
    return float(np.diag(corr).mean())
''' + BASELINE),
        ("matches on |rho| and averages |rho|", '''import scipy.optimize
def matched_correlation(a, b):
    corr = np.abs(correlation_matrix(a, b))
    rows, cols = scipy.optimize.linear_sum_assignment(corr, maximize=True)
    return float(corr[rows, cols].mean())
''' + BASELINE),
    ],
    "q5_regression": [
        ("evaluates on the samples it was fitted on", '''def regression_loss(target, source, alpha):
    t = (target - target.mean()) / target.std()
    s = (source - source.mean(0)) / source.std(0)
    half = len(t) // 2
    if alpha == 0:
        design = np.c_[s, np.ones(len(s))]
        w, *_ = np.linalg.lstsq(design[:half], t[:half], rcond=None)
        prediction, n_used = design[:half] @ w, s.shape[1]
    else:
        lasso = Lasso(alpha=alpha, max_iter=5000).fit(s[:half], t[:half])
        prediction, n_used = lasso.predict(s[:half]), int((np.abs(lasso.coef_) > 1e-10).sum())
    return float(((prediction - t[:half]) ** 2).mean()), n_used
''' + REGRESSION),
        ("does not standardise: loss in raw units", '''def regression_loss(target, source, alpha):
    t, s = target, source
    half = len(t) // 2
    if alpha == 0:
        design = np.c_[s, np.ones(len(s))]
        w, *_ = np.linalg.lstsq(design[:half], t[:half], rcond=None)
        prediction, n_used = design[half:] @ w, s.shape[1]
    else:
        lasso = Lasso(alpha=alpha, max_iter=5000).fit(s[:half], t[:half])
        prediction, n_used = lasso.predict(s[half:]), int((np.abs(lasso.coef_) > 1e-10).sum())
    return float(((prediction - t[half:]) ** 2).mean()), n_used
''' + REGRESSION),
        ("counts every Lasso weight as used", '''def regression_loss(target, source, alpha):
    t = (target - target.mean()) / target.std()
    s = (source - source.mean(0)) / source.std(0)
    half = len(t) // 2
    if alpha == 0:
        design = np.c_[s, np.ones(len(s))]
        w, *_ = np.linalg.lstsq(design[:half], t[:half], rcond=None)
        prediction = design[half:] @ w
    else:
        prediction = Lasso(alpha=alpha, max_iter=5000).fit(s[:half], t[:half]).predict(s[half:])
    return float(((prediction - t[half:]) ** 2).mean()), s.shape[1]
''' + REGRESSION),
        ("fits least squares on all samples, then scores the second half (it has seen them)", '''def regression_loss(target, source, alpha):
    t = (target - target.mean()) / target.std()
    s = (source - source.mean(0)) / source.std(0)
    half = len(t) // 2
    if alpha == 0:
        design = np.c_[s, np.ones(len(s))]
        w, *_ = np.linalg.lstsq(design, t, rcond=None)
        return float(((design[half:] @ w - t[half:]) ** 2).mean()), s.shape[1]
    lasso = Lasso(alpha=alpha, max_iter=5000).fit(s[:half], t[:half])
    return float(((lasso.predict(s[half:]) - t[half:]) ** 2).mean()), int((np.abs(lasso.coef_) > 1e-10).sum())
''' + REGRESSION),
        ("standardises with the fit half's mean and std instead of all N samples", '''def regression_loss(target, source, alpha):
    h = len(target) // 2
    t = (target - target[:h].mean()) / target[:h].std()
    s = (source - source[:h].mean(0)) / source[:h].std(0)
    half = len(t) // 2
    if alpha == 0:
        design = np.c_[s, np.ones(len(s))]
        w, *_ = np.linalg.lstsq(design[:half], t[:half], rcond=None)
        prediction, n_used = design[half:] @ w, s.shape[1]
    else:
        lasso = Lasso(alpha=alpha, max_iter=5000).fit(s[:half], t[:half])
        prediction, n_used = lasso.predict(s[half:]), int((np.abs(lasso.coef_) > 1e-10).sum())
    return float(((prediction - t[half:]) ** 2).mean()), n_used
''' + REGRESSION),
        ('least squares without an intercept', '''def regression_loss(target, source, alpha):
    t = (target - target.mean()) / target.std()
    s = (source - source.mean(0)) / source.std(0)
    half = len(t) // 2
    if alpha == 0:
        design = s
        w, *_ = np.linalg.lstsq(design[:half], t[:half], rcond=None)
        prediction, n_used = design[half:] @ w, s.shape[1]
    else:
        lasso = Lasso(alpha=alpha, max_iter=5000).fit(s[:half], t[:half])
        prediction, n_used = lasso.predict(s[half:]), int((np.abs(lasso.coef_) > 1e-10).sum())
    return float(((prediction - t[half:]) ** 2).mean()), n_used
''' + REGRESSION),
        ('the Lasso without its intercept (fit_intercept=False)', '''def regression_loss(target, source, alpha):
    t = (target - target.mean()) / target.std()
    s = (source - source.mean(0)) / source.std(0)
    half = len(t) // 2
    if alpha == 0:
        design = np.c_[s, np.ones(len(s))]
        w, *_ = np.linalg.lstsq(design[:half], t[:half], rcond=None)
        prediction, n_used = design[half:] @ w, s.shape[1]
    else:
        lasso = Lasso(alpha=alpha, max_iter=5000, fit_intercept=False).fit(s[:half], t[:half])
        prediction, n_used = lasso.predict(s[half:]), int((np.abs(lasso.coef_) > 1e-10).sum())
    return float(((prediction - t[half:]) ** 2).mean()), n_used
''' + REGRESSION),
        ('counts the intercept as a used weight', '''def regression_loss(target, source, alpha):
    t = (target - target.mean()) / target.std()
    s = (source - source.mean(0)) / source.std(0)
    half = len(t) // 2
    if alpha == 0:
        design = np.c_[s, np.ones(len(s))]
        w, *_ = np.linalg.lstsq(design[:half], t[:half], rcond=None)
        prediction, n_used = design[half:] @ w, s.shape[1] + 1
    else:
        lasso = Lasso(alpha=alpha, max_iter=5000).fit(s[:half], t[:half])
        prediction, n_used = lasso.predict(s[half:]), int((np.abs(lasso.coef_) > 1e-10).sum())
    return float(((prediction - t[half:]) ** 2).mean()), n_used
''' + REGRESSION),
        ('fits on the second half and evaluates on the first', '''def regression_loss(target, source, alpha):
    t = (target - target.mean()) / target.std()
    s = (source - source.mean(0)) / source.std(0)
    half = len(t) // 2
    if alpha == 0:
        design = np.c_[s, np.ones(len(s))]
        w, *_ = np.linalg.lstsq(design[half:], t[half:], rcond=None)
        prediction, n_used = design[:half] @ w, s.shape[1]
    else:
        lasso = Lasso(alpha=alpha, max_iter=5000).fit(s[half:], t[half:])
        prediction, n_used = lasso.predict(s[:half]), int((np.abs(lasso.coef_) > 1e-10).sum())
    return float(((prediction - t[:half]) ** 2).mean()), n_used
''' + REGRESSION),
    ],
    "q6_linear_cka": [
        ("forgets to centre the columns", '''def linear_cka(X, Y):
    return float(np.linalg.norm(Y.T @ X) ** 2 / (np.linalg.norm(X.T @ X) * np.linalg.norm(Y.T @ Y)))
''' + CKA),
        ("numerator not squared", '''def linear_cka(X, Y):
    X = X - X.mean(0)
    Y = Y - Y.mean(0)
    return float(np.linalg.norm(Y.T @ X) / (np.linalg.norm(X.T @ X) * np.linalg.norm(Y.T @ Y)))
''' + CKA),
        ("standardises the columns first", '''def linear_cka(X, Y):
    X = (X - X.mean(0)) / X.std(0)
    Y = (Y - Y.mean(0)) / Y.std(0)
    return float(np.linalg.norm(Y.T @ X) ** 2 / (np.linalg.norm(X.T @ X) * np.linalg.norm(Y.T @ Y)))
''' + CKA),
        ("centres the rows instead of the columns", '''def linear_cka(X, Y):
    X = X - X.mean(1, keepdims=True)
    Y = Y - Y.mean(1, keepdims=True)
    return float(np.linalg.norm(Y.T @ X) ** 2 / (np.linalg.norm(X.T @ X) * np.linalg.norm(Y.T @ Y)))
''' + CKA),
    ],
}
