"""Two-level Boolean minimisation: Quine-McCluskey prime implicants + Petrick's exact cover.

A function of n variables is its truth table: a boolean array of length 2**n whose index is the
minterm number, with the first variable as the most significant bit (A B C D -> 8A + 4B + 2C + D).
An implicant is a pattern string such as ``"1-0-"`` (A C'): one character per variable, ``-`` for a
variable that does not appear.

    table = truth_table("AC' + AB' + BCD' + AD'", "ABCD")
    sops = minimal_sops(table)                    # every minimal sum of products
    poss = minimal_poss(table)                    # every minimal product of sums
    format_sop(sops[0], "ABCD"), format_pos(poss[0], "ABCD")

"Minimal" means the fewest terms, then the fewest literals. Every form can be checked against the
table by enumeration with :func:`truth_table`, which parses SOP and POS strings.
"""
from __future__ import annotations

import itertools
import numbers
import re

import numpy as np

from .checks import check_array, check_scalar

Pattern = str


# The lecture's example is the Karnaugh-map example of Wikipedia's "Karnaugh map" article:
# f(A, B, C, D) = 1 on minterms 6, 8, 9, 10, 11, 12, 13, 14.
LECTURE_MINTERMS = (6, 8, 9, 10, 11, 12, 13, 14)
LECTURE_SOP = "AC' + AB' + BCD' + AD'"
# The lecture's product of sums (with the redundant hazard clause (A + D')), and the same
# without that clause (the minimal form).
LECTURE_POS = "(A + B)(A + C)(B' + C' + D')(A + D')"
LECTURE_POS_CANDIDATES = ("(A + B)(A + C)(B' + C' + D')", LECTURE_POS)

# The lecture's "Karnaugh person detector": a person is seen when there is (a wheel or a face) and
# (a hand or a flower) and (a leg or a tree). Inputs W F H B L T (B: blossom, the flower; F is the
# face), W the most significant bit.
PERSON_NAMES = "WFHBLT"
PERSON_POS = "(W + F)(H + B)(L + T)"


def lecture_table() -> np.ndarray:
    """The lecture's truth table f(A, B, C, D) as a length-16 boolean array."""
    table = np.zeros(16, dtype=bool)
    table[list(LECTURE_MINTERMS)] = True
    return table


def _check_table(table) -> np.ndarray:
    arr = check_array(table, "table", ndim=1, dtype_kind="biu")
    n = int(np.log2(len(arr))) if len(arr) else -1
    if len(arr) == 0 or 2 ** n != len(arr):
        raise ValueError(f"a truth table has 2**n entries; got {len(arr)}")
    if arr.dtype.kind != "b":
        if not np.isin(arr, (0, 1)).all():
            raise ValueError("a truth table holds 0/1 or booleans; got other values")
        arr = arr.astype(bool)
    return arr


def _check_names(names, n: int) -> str:
    if not isinstance(names, str) or len(set(names)) != len(names) or not names.isalpha():
        raise ValueError(f"names must be a string of distinct letters, one per variable; got {names!r}")
    if len(names) != n:
        raise ValueError(f"need {n} variable names; got {names!r}")
    return names


def covers(pattern: Pattern, minterm: int) -> bool:
    """Does the implicant ``pattern`` contain ``minterm``?"""
    n = len(pattern)
    return all(p == "-" or int(p) == (minterm >> (n - 1 - k)) & 1 for k, p in enumerate(pattern))


def minterms_of(pattern: Pattern) -> list[int]:
    """All minterms an implicant covers (2**(number of dashes) of them)."""
    free = [k for k, p in enumerate(pattern) if p == "-"]
    out = []
    for bits in itertools.product("01", repeat=len(free)):
        chars = list(pattern)
        for k, b in zip(free, bits):
            chars[k] = b
        out.append(int("".join(chars), 2))
    return sorted(out)


def prime_implicants(table) -> list[Pattern]:
    """Quine-McCluskey: merge implicants differing in one fixed bit until nothing merges.

    The implicants that never merged are the prime implicants (maximal cubes inside the on-set).
    """
    arr = _check_table(table)
    n = int(np.log2(len(arr)))
    current = {format(m, f"0{n}b") for m in np.flatnonzero(arr)}
    primes = set()
    while current:
        merged, nxt = set(), set()
        # Only patterns with the same dashes and one more 1 can merge; grouping by dash positions
        # and number of 1s keeps this from being quadratic in the number of implicants.
        groups: dict[tuple, list[str]] = {}
        for p in current:
            groups.setdefault((p.replace("1", "0"), p.count("1")), []).append(p)
        for (dashes, ones), group in groups.items():
            for p in group:
                for q in groups.get((dashes, ones + 1), []):
                    diff = [k for k in range(n) if p[k] != q[k]]
                    if len(diff) == 1:
                        k = diff[0]
                        nxt.add(p[:k] + "-" + p[k + 1:])
                        merged.update((p, q))
        primes |= current - merged
        current = nxt
    return sorted(primes, key=lambda p: (-p.count("-"), p))


def petrick(chart: list[list[int]]) -> list[frozenset]:
    """Petrick's method: all irredundant covers of a prime-implicant chart.

    ``chart[m]`` lists the primes covering minterm m. The condition "every minterm covered" is the
    product over m of (sum of its primes); multiplying it out with absorption (X + XY = X) leaves
    exactly the covers from which no prime can be dropped. Covers are sets of prime indices.
    """
    masks = set()
    for clause in chart:
        if not clause:
            raise ValueError("a minterm is covered by no prime implicant")
        masks.add(sum(1 << p for p in clause))
    # A clause that contains another is implied by it ((a)(a + b) = a), so drop it; short clauses
    # first keep the partial products small (a one-prime clause is an essential prime).
    masks = sorted(masks, key=lambda x: bin(x).count("1"))
    clauses = [m for k, m in enumerate(masks) if not any(o & m == o for o in masks[:k])]
    products = {0}  # bitmasks over primes; start with the empty product (= 1)
    for clause_mask in clauses:
        clause = [i for i in range(clause_mask.bit_length()) if clause_mask >> i & 1]
        new = set()
        for prod in products:
            if prod & clause_mask:  # already satisfied: X (a + b) absorbs into X
                new.add(prod)
            else:
                new.update(prod | (1 << p) for p in clause)
        # absorption: drop any product that contains another (keep the inclusion-minimal ones)
        ordered = sorted(new, key=lambda x: bin(x).count("1"))
        kept: list[int] = []
        for x in ordered:
            if not any(k & x == k for k in kept):
                kept.append(x)
        products = set(kept)
    return [frozenset(i for i in range(prod.bit_length()) if prod >> i & 1) for prod in products]


def _literals(pattern: Pattern) -> int:
    return sum(p != "-" for p in pattern)


def minimal_sops(table) -> list[list[Pattern]]:
    """Every minimal sum of products of ``table``: fewest terms, then fewest literals.

    The constant functions give [[]] (f = 0, no terms) and [["--..-"]] (f = 1).
    """
    arr = _check_table(table)
    ones = np.flatnonzero(arr).tolist()
    if not ones:
        return [[]]
    primes, covers_ = _irredundant(arr)
    return _cheapest(primes, covers_)


def _irredundant(arr: np.ndarray):
    """(prime implicants, every irredundant cover as a frozenset of prime indices) of a non-zero table."""
    primes = prime_implicants(arr)
    chart = [[i for i, p in enumerate(primes) if covers(p, m)] for m in np.flatnonzero(arr).tolist()]
    return primes, petrick(chart)


def _cheapest(primes, covers_) -> list[list[Pattern]]:
    cost = [(len(c), sum(_literals(primes[i]) for i in c)) for c in covers_]
    best = min(cost)
    out = [sorted((primes[i] for i in c), key=lambda p: (-p.count("-"), p))
           for c, k in zip(covers_, cost) if k == best]
    return sorted(out)


def minimal_poss(table) -> list[list[Pattern]]:
    """Every minimal product of sums: minimal SOPs of the complement f', then De Morgan.

    A clause is returned as the pattern of the zero-cube it excludes: pattern "00--" is the
    clause (A + B), which is 0 exactly on A=0, B=0.
    """
    arr = _check_table(table)
    return minimal_sops(~arr)


def format_sop(terms: list[Pattern], names: str = "ABCD") -> str:
    """["1-0-", "10--"] -> "AC' + AB'"."""
    if not terms:
        return "0"
    _check_names(names, len(terms[0]))
    parts = ["".join(v + ("" if p == "1" else "'") for v, p in zip(names, t) if p != "-") or "1"
             for t in terms]
    return " + ".join(parts)


def format_pos(clauses: list[Pattern], names: str = "ABCD") -> str:
    """Zero-cube patterns -> clauses: "00--" -> (A + B); "-111" -> (B' + C' + D')."""
    if not clauses:
        return "1"
    _check_names(names, len(clauses[0]))
    parts = []
    for t in clauses:
        lits = [v + ("'" if p == "1" else "") for v, p in zip(names, t) if p != "-"]
        parts.append("(" + " + ".join(lits) + ")" if lits else "0")
    return "".join(parts)


_TOKEN = re.compile(r"\s*([A-Za-z]'?)\s*")


def _parse_product(text: str, names: str) -> Pattern:
    chars = ["-"] * len(names)
    pos = 0
    text = text.strip()
    if text == "1":
        return "".join(chars)
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.group(1)[0] not in names:
            raise ValueError(f"cannot parse {text!r} as a product of variables from {names!r}")
        var, bit = m.group(1)[0], "0" if m.group(1).endswith("'") else "1"
        k = names.index(var)
        if chars[k] not in ("-", bit):
            return None  # x x' = 0: an empty term
        chars[k] = bit
        pos = m.end()
    return "".join(chars)


def parse_sop(expr: str, names: str = "ABCD") -> list[Pattern]:
    """"AC' + AB'" -> ["1-0-", "10--"] (a term with both x and x' is dropped: it is 0)."""
    if not isinstance(expr, str) or not expr.strip():
        raise ValueError(f"expr must be a non-empty string; got {expr!r}")
    if expr.strip() == "0":
        return []
    return [p for p in (_parse_product(t, names) for t in expr.split("+")) if p is not None]


def parse_pos(expr: str, names: str = "ABCD") -> list[Pattern]:
    """"(A + B)(B' + C' + D')" -> zero-cube patterns ["00--", "-111"]."""
    if not isinstance(expr, str) or not expr.strip():
        raise ValueError(f"expr must be a non-empty string; got {expr!r}")
    clauses = re.findall(r"\(([^()]*)\)", expr)
    if not clauses or re.sub(r"\([^()]*\)", "", expr).strip():
        raise ValueError(f"a product of sums looks like '(A + B)(C' + D)'; got {expr!r}")
    out = []
    for clause in clauses:
        chars = ["-"] * len(names)
        tautology = False
        for lit in clause.split("+"):
            lit = lit.strip()
            if not re.fullmatch(r"[A-Za-z]'?", lit) or lit[0] not in names:
                raise ValueError(f"cannot parse the clause ({clause}) over variables {names!r}")
            k = names.index(lit[0])
            bit = "1" if lit.endswith("'") else "0"  # the clause is 0 where its literal is 0
            if chars[k] not in ("-", bit):
                tautology = True  # (x + x') = 1
            chars[k] = bit
        if not tautology:
            out.append("".join(chars))
    return out


def truth_table(expr: str, names: str = "ABCD") -> np.ndarray:
    """Evaluate an SOP ("AB' + C") or POS ("(A + B)(C')") string on all 2**n inputs."""
    if not isinstance(names, str):
        raise TypeError(f"names must be a str; got {type(names).__name__}")
    _check_names(names, len(names))
    n = len(names)
    if isinstance(expr, str) and "(" in expr:
        clauses = parse_pos(expr, names)
        return np.array([not any(covers(c, m) for c in clauses) for m in range(2 ** n)])
    terms = parse_sop(expr, names)
    return np.array([any(covers(t, m) for t in terms) for m in range(2 ** n)])


def sop_table(terms: list[Pattern], n: int) -> np.ndarray:
    """Truth table of a list of implicant patterns (OR of cubes), by enumeration."""
    return np.array([any(covers(t, m) for t in terms) for m in range(2 ** n)])


def pos_table(clauses: list[Pattern], n: int) -> np.ndarray:
    """Truth table of a product of sums given as zero-cube patterns, by enumeration."""
    return ~sop_table(clauses, n)


def cost(terms: list[Pattern]) -> tuple[int, int]:
    """(number of terms, number of literals): the order used to call a form minimal."""
    return len(terms), sum(_literals(t) for t in terms)


# Karnaugh maps -----------------------------------------------------------------------------------

GRAY2 = [0, 1, 3, 2]  # 00 01 11 10: neighbours differ in one bit, and so do the two ends


def kmap_grid(table) -> np.ndarray:
    """The 4x4 Karnaugh map of a 4-variable table: rows AB and columns CD in Gray-code order."""
    arr = _check_table(table)
    if len(arr) != 16:
        raise ValueError(f"kmap_grid draws 4-variable functions (16 entries); got {len(arr)}")
    return np.array([[arr[4 * r + c] for c in GRAY2] for r in GRAY2])


def _runs(indices: list[int]) -> list[tuple[int, int]]:
    """Split Gray-code positions (0..3) into contiguous runs; a wrap-around group gives two runs."""
    idx = sorted(indices)
    runs, start = [], idx[0]
    for a, b in zip(idx, idx[1:] + [None]):
        if b != a + 1:
            runs.append((start, a))
            start = b
    return runs


def draw_kmap(table, implicants=(), names: str = "ABCD", ax=None, title: str | None = None,
              zeros: bool = False):
    """Draw the K-map with each implicant as a coloured loop (wrap-around loops are split at the edge).

    ``zeros=True`` loops zero-cubes (the clauses of a POS form) instead of one-cubes.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    grid = kmap_grid(table)
    _check_names(names, 4)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    ax.imshow(grid, cmap="Greys", vmin=-1.5, vmax=3, alpha=0.6)
    for r in range(4):
        for c in range(4):
            ax.text(c, r, str(int(grid[r, c])), ha="center", va="center", fontsize=18,
                    fontweight="bold" if grid[r, c] else "normal")
            ax.text(c + 0.45, r + 0.45, str(4 * GRAY2[r] + GRAY2[c]), ha="right", va="bottom",
                    fontsize=11, color="dimgray")
    labels = [format(g, "02b") for g in GRAY2]
    ax.set_xticks(range(4), labels)
    ax.set_yticks(range(4), labels)
    ax.set_xlabel(f"{names[2]}{names[3]}")
    ax.set_ylabel(f"{names[0]}{names[1]}")
    ax.xaxis.set_label_position("top")
    ax.xaxis.tick_top()
    colours = plt.cm.tab10.colors
    for k, pat in enumerate(implicants):
        cells = minterms_of(pat)
        rows = sorted({GRAY2.index(m >> 2) for m in cells})
        cols = sorted({GRAY2.index(m & 3) for m in cells})
        pad = 0.38 - 0.05 * (k % 4)
        for r0, r1 in _runs(rows):
            for c0, c1 in _runs(cols):
                ax.add_patch(FancyBboxPatch((c0 - pad, r0 - pad), c1 - c0 + 2 * pad, r1 - r0 + 2 * pad,
                                            boxstyle="round,pad=0.02", fill=False, lw=3,
                                            ec=colours[k % 10], alpha=0.9))
        label = format_pos([pat], names) if zeros else format_sop([pat], names)
        ax.plot([], [], color=colours[k % 10], lw=3, label=label)
    if implicants:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=11)
    ax.set_xlim(-0.5, 3.5)
    ax.set_ylim(3.5, -0.5)
    ax.set_title(title or "Karnaugh map")
    return ax


# Counting minimal forms of random functions ------------------------------------------------------

def count_minimal_sops(n: int, n_functions: int = 50, seed: int = 0, p_one: float = 0.5) -> dict:
    """Minimal SOP forms of random n-variable functions (each entry 1 with probability p_one).

    Returns arrays ``n_minimal`` (how many distinct minimal forms each function has),
    ``n_irredundant`` (how many irredundant covers, the locally minimal forms), ``n_primes`` and
    ``n_terms`` (terms in a minimal form), one entry per function.
    """
    check_scalar(n, "n", numbers.Integral, low=1, high=6)
    check_scalar(n_functions, "n_functions", numbers.Integral, low=1)
    check_scalar(seed, "seed", numbers.Integral, low=0)
    check_scalar(p_one, "p_one", numbers.Real, low=0, high=1)
    rng = np.random.default_rng(seed)
    n_minimal, n_irredundant, n_primes, n_terms = [], [], [], []
    for _ in range(n_functions):
        table = rng.random(2 ** n) < p_one
        if not table.any():
            n_minimal.append(1), n_irredundant.append(1), n_primes.append(0), n_terms.append(0)
            continue
        primes, covers_ = _irredundant(table)
        n_minimal.append(len(_cheapest(primes, covers_)))
        n_irredundant.append(len(covers_))
        n_primes.append(len(primes))
        n_terms.append(min(len(c) for c in covers_))
    return {"n_minimal": np.array(n_minimal), "n_irredundant": np.array(n_irredundant),
            "n_primes": np.array(n_primes), "n_terms": np.array(n_terms)}


def count_irredundant_covers(table) -> int:
    """How many irredundant covers (sets of prime implicants from which no term can be dropped)
    ``table`` has: the *locally* minimal sums of products, ``len(petrick(chart))``. The constant 0
    has one (the empty sum)."""
    arr = _check_table(table)
    ones = np.flatnonzero(arr).tolist()
    if not ones:
        return 1
    return len(_irredundant(arr)[1])
