"""Plausible wrong answers to lecture 05's exercises (see tests/exercise_harness.py)."""

_IRR = '''import itertools

def irredundant_covers(primes, table):
    n = len(primes[0]) if primes else 0
    ones = set(np.flatnonzero(table).tolist())
    def minterms(p):
        return {{m for m in range(2 ** n) if all(c == "-" or int(c) == (m >> {bit}) & 1 for i, c in enumerate(p))}}
    loops = [minterms(p) for p in primes]
    def is_cover(chosen):
        return ones <= set().union(*(loops[k] for k in chosen))
    covers = []
    for size in range(len(primes) + 1):
        for chosen in itertools.combinations(range(len(primes)), size):
            if {condition}:
                covers.append({item})
    return covers{tail}
'''
_IRREDUNDANT = "is_cover(chosen) and not any(is_cover([k for k in chosen if k != drop]) for drop in chosen)"


def irr(bit="(n - 1 - i)", condition=_IRREDUNDANT, item="frozenset(chosen)", tail=""):
    return _IRR.format(bit=bit, condition=condition, item=item, tail=tail)


_PERMUTE = '''import copy

def permute_hidden(model, perm):
    new = copy.deepcopy(model)
    with torch.no_grad():
{body}
    return new
'''


def permute(body):
    return _PERMUTE.format(body="\n".join("        " + line for line in body))


_MATCH = '''from scipy.optimize import linear_sum_assignment

def match_units(acts_a, acts_b):
    za = {za}
    zb = {zb}
    corr = za.T @ zb / len(acts_a)
{assign}
'''
_Z = "(acts_{x} - acts_{x}.mean(0)) / acts_{x}.std(0)"


def match(za=_Z.format(x="a"), zb=_Z.format(x="b"),
          assign="    rows, cols = linear_sum_assignment(-corr)\n    return cols[np.argsort(rows)]"):
    return _MATCH.format(za=za, zb=zb, assign=assign)


_OR_CLAUSES = '''def and_of_ors(clauses, names):
    n = len(names)
    bit = {{v: {bit} for k, v in enumerate(names)}}
    return np.array([{outer}({inner}((m >> bit[v]) & 1 for v in clause) for clause in clauses{sl})
                     for m in range(2 ** n)])
'''


MUTANTS = {
    "q1_merge": [
        ("does not check that the differing position has no dash", '''def merge(p, q):
    diff = [k for k in range(len(p)) if p[k] != q[k]]
    if len(diff) != 1:
        return None
    k = diff[0]
    return p[:k] + "-" + p[k + 1:]
'''),
        ("merges at the first difference however many there are", '''def merge(p, q):
    diff = [k for k in range(len(p)) if p[k] != q[k]]
    if not diff or "-" in (p[diff[0]], q[diff[0]]):
        return None
    k = diff[0]
    return p[:k] + "-" + p[k + 1:]
'''),
        ("returns the pattern itself when the two are identical", '''def merge(p, q):
    diff = [k for k in range(len(p)) if p[k] != q[k]]
    if not diff:
        return p
    if len(diff) != 1 or "-" in (p[diff[0]], q[diff[0]]):
        return None
    k = diff[0]
    return p[:k] + "-" + p[k + 1:]
'''),
        ("checks for a dash only in p, not in q", '''def merge(p, q):
    diff = [k for k in range(len(p)) if p[k] != q[k]]
    if len(diff) != 1 or p[diff[0]] == "-":
        return None
    k = diff[0]
    return p[:k] + "-" + p[k + 1:]
'''),
        ("puts the dash one position too far right", '''def merge(p, q):
    diff = [k for k in range(len(p)) if p[k] != q[k]]
    if len(diff) != 1 or "-" in (p[diff[0]], q[diff[0]]):
        return None
    k = diff[0]
    return p[:k + 1] + "-" + p[k + 2:]
'''),
    ],
    "q2_irredundant_covers": [
        ("keeps only the globally minimal covers (fewest terms)",
         irr(tail="\n    fewest = min(len(c) for c in covers)\n    covers[:] = [c for c in covers if len(c) == fewest]")
         .replace("    return covers\n    fewest", "    fewest").rstrip("\n") + "\n    return covers\n"),
        ("returns every cover, redundant ones included", irr(condition="is_cover(chosen)")),
        ("reads the pattern's characters least significant first", irr(bit="i")),
        ("returns lists of patterns instead of sets of indices", irr(item="[primes[k] for k in chosen]")),
        ("tries subsets of every size but the largest (range(len(primes)), off by one)",
         irr().replace("range(len(primes) + 1)", "range(len(primes))")),
        ("checks only that dropping the last term uncovers something",
         irr(condition="is_cover(chosen) and (not chosen or not is_cover(chosen[:-1]))")),
    ],
    "q5_or_clauses": [
        ("swaps AND and OR (an OR of AND-clauses)", _OR_CLAUSES.format(bit="n - 1 - k", outer="any", inner="all", sl="")),
        ("reads names[0] as the least significant bit", _OR_CLAUSES.format(bit="k", outer="all", inner="any", sl="")),
        ("leaves out the last clause", _OR_CLAUSES.format(bit="n - 1 - k", outer="all", inner="any", sl="[:-1]")),
    ],
    "q3_permute": [
        ("forgets to reorder fc2's columns", permute([
            "new.fc1.weight.copy_(model.fc1.weight[perm])",
            "new.fc1.bias.copy_(model.fc1.bias[perm])"])),
        ("forgets to reorder fc1's bias", permute([
            "new.fc1.weight.copy_(model.fc1.weight[perm])",
            "new.fc2.weight.copy_(model.fc2.weight[:, perm])"])),
        ("uses the inverse permutation (old unit perm[i] becomes new unit i... the other way round)", permute([
            "inverse = torch.argsort(perm)",
            "new.fc1.weight.copy_(model.fc1.weight[inverse])",
            "new.fc1.bias.copy_(model.fc1.bias[inverse])",
            "new.fc2.weight.copy_(model.fc2.weight[:, inverse])"])),
        ("reorders the input model in place and returns it", '''def permute_hidden(model, perm):
    with torch.no_grad():
        model.fc1.weight.copy_(model.fc1.weight[perm].clone())
        model.fc1.bias.copy_(model.fc1.bias[perm].clone())
        model.fc2.weight.copy_(model.fc2.weight[:, perm].clone())
    return model
'''),
    ],
    "q4_match_units": [
        ("maximises the cost it should minimise (forgets the minus)",
         match(assign="    rows, cols = linear_sum_assignment(corr)\n    return cols[np.argsort(rows)]")),
        ("returns the inverse pairing (unit perm[i] of A for unit i of B)",
         match(assign="    rows, cols = linear_sum_assignment(-corr)\n    return rows[np.argsort(cols)]")),
        ("uses raw products, not correlations (scale and offset matter)", match(za="acts_a", zb="acts_b")),
        ("pairs each unit greedily with its best partner (not one-to-one)",
         match(assign="    return corr.argmax(axis=1)")),
        ("centres but does not scale (covariance)", match(za="acts_a - acts_a.mean(0)", zb="acts_b - acts_b.mean(0)")),
    ],
}
