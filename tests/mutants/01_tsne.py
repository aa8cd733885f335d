"""Plausible wrong answers to lecture 01's exercises (see tests/exercise_harness.py)."""

_ENTROPY = '''def entropy_of_row(d, beta):
    d = np.asarray(d, dtype=np.float64)
{body}
'''


def entropy(*lines):
    return _ENTROPY.format(body="\n".join("    " + line for line in lines))


_SIGMA = '''def find_sigma(d, perplexity, tol=1e-5, max_steps=200):
    target = {target}
    beta, lo, hi = 1.0, 0.0, np.inf
    for _ in range(max_steps):
        H = tsne.row_entropy(d, beta)[0]
        if abs(H - target) <= tol:
            break
        if {test}:
            lo = beta
            beta = 2 * beta if hi == np.inf else (lo + hi) / 2
        else:
            hi = beta
            beta = (lo + hi) / 2
    return {result}
'''


def sigma(target="np.log(perplexity)", test="H > target", result="float(np.sqrt(1.0 / (2.0 * beta)))"):
    return _SIGMA.format(target=target, test=test, result=result)


_GRAD = '''def kl_grad(P, Y):
    Q, W = student_t_Q(Y)
    M = {M}
    return {result}
'''


def grad(M="(P - Q) * W", result="4.0 * (Y * M.sum(axis=1, keepdims=True) - M @ Y)"):
    return _GRAD.format(M=M, result=result)


_TRUST = '''def trustworthiness(X, Y, k):
    n = len(X)
    DX = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    DY = ((Y[:, None, :] - Y[None, :, :]) ** 2).sum(-1)
{diag}
    rows = np.arange(n)[:, None]
    rank_X = np.empty((n, n), dtype=int)
    rank_X[rows, np.argsort({data}, axis=1)] = np.arange({first}, n + {first})
    map_neighbours = np.argsort({map}, axis=1)[:, :k]
    penalty = {penalty}
    return float({result})
'''


def trust(diag="    np.fill_diagonal(DX, np.inf)\n    np.fill_diagonal(DY, np.inf)", data="DX", map="DY", first=1,
          penalty="np.maximum(rank_X[rows, map_neighbours] - k, 0).sum()",
          result="1 - 2 / (n * k * (2 * n - 3 * k - 1)) * penalty"):
    return _TRUST.format(diag=diag, data=data, map=map, first=first, penalty=penalty, result=result)


MUTANTS = {
    "q1_row_entropy": [
        ("forgets to subtract d.min() (e^-1000 underflows to 0/0)",
         entropy("p = np.exp(-beta * d)", "s = p.sum()", "p = p / s", "return float(np.log(s) + beta * np.sum(p * d))")),
        ("returns the entropy in bits",
         entropy("d = d - d.min()", "p = np.exp(-beta * d)", "p = p / p.sum()",
                 "return float(-np.sum(p[p > 0] * np.log2(p[p > 0])))")),
        ("returns the perplexity e^H instead of H",
         entropy("d = d - d.min()", "p = np.exp(-beta * d)", "s = p.sum()", "p = p / s",
                 "return float(np.exp(np.log(s) + beta * np.sum(p * d)))")),
        ("drops the log s term", entropy("d = d - d.min()", "p = np.exp(-beta * d)", "p = p / p.sum()",
                                         "return float(beta * np.sum(p * d))")),
        ("gets the sign of the exponent wrong (far points weigh most)",
         entropy("d = d - d.max()", "p = np.exp(beta * d)", "p = p / p.sum()",
                 "return float(-np.sum(p[p > 0] * np.log(p[p > 0])))")),
    ],
    "q2_sigma_search": [
        ("moves beta the wrong way", sigma(test="H < target")),
        ("returns beta instead of sigma", sigma(result="float(beta)")),
        ("forgets the 2 in sigma = sqrt(1 / 2 beta)", sigma(result="float(np.sqrt(1.0 / beta))")),
        ("aims at H = perplexity instead of log(perplexity)", sigma(target="perplexity")),
        ("aims at log2(perplexity) (mixes bits and nats)", sigma(target="np.log2(perplexity)")),
    ],
    "q3_kl_gradient": [
        ("uses 2 instead of 4", grad(result="2.0 * (Y * M.sum(axis=1, keepdims=True) - M @ Y)")),
        ("gets the sign wrong", grad(result="4.0 * (M @ Y - Y * M.sum(axis=1, keepdims=True))")),
        ("forgets the spring weight w_ij", grad(M="P - Q")),
        ("weights by q_ij instead of w_ij", grad(M="(P - Q) * Q")),
        ("forgets the y_i sum_j M_ij term", grad(result="-4.0 * (M @ Y)")),
    ],
    "q4_trustworthiness": [
        ("ranks from 0 instead of 1", trust(first=0)),
        ("counts each point as its own neighbour", trust(diag="    pass")),
        ("swaps the roles of data and map (that is continuity)", trust(data="DY", map="DX")),
        ("forgets the normalisation", trust(result="1 - penalty / (n * k)")),
        ("sums r - k over all map neighbours, negative ones included",
         trust(penalty="(rank_X[rows, map_neighbours] - k).sum()")),
    ],
}


_NCE = '''def info_nce_loss(y1, y2):
    log_f = {logits}
    return {result}
'''


def nce(logits="-torch.log1p(torch.cdist(y1, y2) ** 2)",
        result="-(log_f.diagonal() - torch.logsumexp(log_f, dim=1)).mean()"):
    return _NCE.format(logits=logits, result=result)


MUTANTS["q5_info_nce"] = [
    ("normalises over the wrong axis (the rows b instead of the candidates c)",
     nce(result="-(log_f.diagonal() - torch.logsumexp(log_f, dim=0)).mean()")),
    ("sums over the batch instead of averaging", nce(result="-(log_f.diagonal() - torch.logsumexp(log_f, dim=1)).sum()")),
    ("uses a Gaussian score (logit -d^2) instead of the Cauchy one", nce(logits="-torch.cdist(y1, y2) ** 2")),
    ("uses f itself as the logit instead of log f", nce(logits="1 / (1 + torch.cdist(y1, y2) ** 2)")),
    ("gets the sign of the logit wrong", nce(logits="torch.log1p(torch.cdist(y1, y2) ** 2)")),
    ("forgets to square the distance", nce(logits="-torch.log1p(torch.cdist(y1, y2))")),
]
