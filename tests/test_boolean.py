import itertools

import numpy as np
import pytest
import sympy
from sympy.logic import POSform, SOPform

from course_utils import boolean as bl


def brute_force_minimal_sops(table):
    """All minimum-cost covers by exhaustive search over every cube inside the on-set."""
    n = int(np.log2(len(table)))
    cubes = ["".join(c) for c in itertools.product("01-", repeat=n)]
    cubes = [c for c in cubes if all(table[m] for m in bl.minterms_of(c))]
    ones = set(np.flatnonzero(table).tolist())
    for k in range(0, len(ones) + 1):
        found = [list(s) for s in itertools.combinations(cubes, k)
                 if set().union(*[set(bl.minterms_of(c)) for c in s]) == ones]
        if found:
            best = min(bl.cost(f) for f in found)
            return sorted(sorted(f, key=lambda p: (-p.count("-"), p)) for f in found if bl.cost(f) == best)
    raise AssertionError("unreachable")


def test_lecture_forms_against_the_truth_table():
    """Every form the notebook prints, checked by enumerating all 16 inputs."""
    table = bl.lecture_table()
    assert np.array_equal(bl.truth_table(bl.LECTURE_SOP), table)
    sops, poss = bl.minimal_sops(table), bl.minimal_poss(table)
    assert [bl.format_sop(s) for s in sops] == ["AC' + AB' + BCD'"]
    assert len(poss) == 1 and bl.cost(poss[0]) == (3, 7)
    for s in sops:
        assert np.array_equal(bl.sop_table(s, 4), table)
        assert np.array_equal(bl.truth_table(bl.format_sop(s)), table)
    for p in poss:
        assert np.array_equal(bl.pos_table(p, 4), table)
        assert np.array_equal(bl.truth_table(bl.format_pos(p)), table)
    # The lecture's SOP is correct but not minimal: AD' is the redundant (hazard-cover) term.
    assert bl.cost(bl.parse_sop(bl.LECTURE_SOP)) == (4, 9) > bl.cost(sops[0])
    matches = [np.array_equal(bl.truth_table(e), table) for e in bl.LECTURE_POS_CANDIDATES]
    assert matches == [True, True]
    assert bl.LECTURE_POS in bl.LECTURE_POS_CANDIDATES
    assert bl.cost(bl.parse_pos(bl.LECTURE_POS)) == (4, 9)   # the hazard clause (A + D') on top of the minimal 3
    # Without the lecture's clause (B' + C' + D') the product is wrong exactly on m = 15 (ABCD = 1111).
    assert np.flatnonzero(bl.truth_table("(A + B)(A + C)(A + D')") != table).tolist() == [15]


def brute_force_irredundant(table):
    """Every set of primes that covers the on-set and from which no prime can be dropped."""
    primes = bl.prime_implicants(table)
    ones = set(np.flatnonzero(table).tolist())
    loops = [set(bl.minterms_of(p)) for p in primes]
    covered = lambda s: ones <= set().union(*(loops[k] for k in s))
    return sum(1 for r in range(len(primes) + 1) for s in itertools.combinations(range(len(primes)), r)
               if covered(s) and not any(covered(set(s) - {k}) for k in s))


@pytest.mark.parametrize("n", [3, 4])
def test_count_irredundant_covers_equals_brute_force(n):
    rng = np.random.default_rng(20 + n)
    for _ in range(20):
        table = rng.random(2 ** n) < 0.5
        if not table.any():
            assert bl.count_irredundant_covers(table) == 1
            continue
        assert bl.count_irredundant_covers(table) == brute_force_irredundant(table)
    counted = bl.count_minimal_sops(n, 15, seed=1)
    assert (counted["n_irredundant"] >= counted["n_minimal"]).all()
    rng = np.random.default_rng(1)
    for k in range(15):
        table = rng.random(2 ** n) < 0.5
        assert counted["n_irredundant"][k] == bl.count_irredundant_covers(table)
        assert counted["n_minimal"][k] == (len(bl.minimal_sops(table)) if table.any() else 1)


def test_person_detector_pos_against_its_sop():
    """(W + F)(H + B)(L + T): 3 clauses, 6 literals; its only minimal SOP needs all 8 products."""
    names = bl.PERSON_NAMES
    table = bl.truth_table(bl.PERSON_POS, names)
    expected = np.array([bool((m >> 5 | m >> 4) & 1 and (m >> 3 | m >> 2) & 1 and (m >> 1 | m) & 1)
                         for m in range(64)])
    assert np.array_equal(table, expected) and table.sum() == 27
    sops, poss = bl.minimal_sops(table), bl.minimal_poss(table)
    assert len(sops) == 1 and bl.cost(sops[0]) == (8, 24)
    assert np.array_equal(bl.truth_table(bl.format_sop(sops[0], names), names), table)
    assert len(poss) == 1 and bl.cost(poss[0]) == (3, 6)
    assert sorted(bl.format_pos([c], names) for c in poss[0]) == ["(H + B)", "(L + T)", "(W + F)"]


def test_prime_implicants_of_the_lecture_table():
    assert set(bl.prime_implicants(bl.lecture_table())) == {"1--0", "1-0-", "10--", "-110"}


@pytest.mark.parametrize("n", [1, 2, 3])
def test_minimal_sops_equal_brute_force(n):
    rng = np.random.default_rng(n)
    for _ in range(25 if n < 3 else 40):
        table = rng.random(2 ** n) < 0.5
        if not table.any():
            assert bl.minimal_sops(table) == [[]]
            continue
        assert bl.minimal_sops(table) == brute_force_minimal_sops(table)


@pytest.mark.parametrize("n", [4, 5])
def test_minimal_forms_against_sympy(n):
    rng = np.random.default_rng(10 + n)
    symbols = sympy.symbols("A B C D E")[:n]
    names = "ABCDE"[:n]
    for _ in range(15):
        table = rng.random(2 ** n) < 0.5
        if table.all() or not table.any():
            continue
        ones = [list(map(int, format(m, f"0{n}b"))) for m in np.flatnonzero(table)]
        ref_sop, ref_pos = SOPform(symbols, ones), POSform(symbols, ones)
        sops, poss = bl.minimal_sops(table), bl.minimal_poss(table)
        for s in sops:
            assert np.array_equal(bl.truth_table(bl.format_sop(s, names), names), table)
        for p in poss:
            assert np.array_equal(bl.truth_table(bl.format_pos(p, names), names), table)
        # sympy returns one minimal form; ours are all at least as cheap (fewest terms, then literals).
        assert bl.cost(sops[0])[0] <= len(sympy.Or.make_args(ref_sop))
        assert bl.cost(poss[0])[0] <= len(sympy.And.make_args(ref_pos))
        assert len({tuple(s) for s in sops}) == len(sops)


def test_parse_and_format_round_trip():
    assert bl.parse_sop("AC' + AB'") == ["1-0-", "10--"]
    assert bl.format_sop(["1-0-", "10--"]) == "AC' + AB'"
    assert bl.parse_pos("(A + B)(B' + C' + D')") == ["00--", "-111"]
    assert bl.format_pos(["00--", "-111"]) == "(A + B)(B' + C' + D')"
    assert bl.truth_table("AA'").sum() == 0                 # x x' = 0
    assert bl.truth_table("(A + A')").all()                 # x + x' = 1
    assert bl.minimal_sops(np.ones(4, bool)) == [["--"]]
    assert bl.format_pos(bl.minimal_poss(np.ones(4, bool))[0], "AB") == "1"


def test_kmap_grid_gray_code():
    grid = bl.kmap_grid(bl.lecture_table())
    assert grid[3, 3]  # AB=10, CD=10 -> minterm 10
    assert grid[1, 3]  # AB=01, CD=10 -> minterm 6
    assert not grid[2, 2]  # AB=11, CD=11 -> minterm 15
    assert grid.sum() == 8


def test_count_minimal_sops_grows():
    small = bl.count_minimal_sops(3, 20, seed=0)
    large = bl.count_minimal_sops(5, 20, seed=0)
    assert small["n_minimal"].min() >= 1
    assert large["n_minimal"].mean() > small["n_minimal"].mean()


def test_bad_input():
    with pytest.raises(ValueError, match="2\\*\\*n"):
        bl.minimal_sops(np.zeros(6, bool))
    with pytest.raises(ValueError, match="0/1"):
        bl.minimal_sops(np.array([0, 2, 1, 0]))
    with pytest.raises(ValueError, match="parse"):
        bl.truth_table("AX + B")
    with pytest.raises(ValueError, match="names"):
        bl.truth_table("A", names="AA")
    with pytest.raises(ValueError, match="4-variable"):
        bl.kmap_grid(np.zeros(8, bool))
    with pytest.raises(ValueError):
        bl.count_minimal_sops(9)
    with pytest.raises(ValueError, match="2\\*\\*n"):
        bl.count_irredundant_covers(np.zeros(5, bool))
