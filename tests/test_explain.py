import dataclasses
import itertools
import random

import numpy as np
import pytest

from course_utils.explain import (CELL_NAMES, CHECKS, exact_population, failed_checks, line_outcome,
                                  plot_explanation, tree_size, LEAK, STRENGTH, SYMPTOMS, BayesNet, TicTacToe, alphabeta,
                                  best_move, check_explanation, diagnose, explain_line, explain_move,
                                  explaining_away, flu_strep_net, minimax, move_values,
                                  principal_variation)


# ---------------------------------------------------------------- Bayes net

def joint_table(p_flu=0.1, p_strep=0.05):
    """Independent computation: the full joint as a numpy array over (flu, strep, x, y, z, u)."""
    f = np.array([1 - p_flu, p_flu])[:, None]
    s = np.array([1 - p_strep, p_strep])[None, :]
    F, S = np.meshgrid([0, 1], [0, 1], indexing="ij")

    def noisy_or(sym):
        fail = (1 - LEAK) * np.ones((2, 2))
        if (sym, "flu") in STRENGTH:
            fail = fail * (1 - STRENGTH[(sym, "flu")]) ** F
        if (sym, "strep") in STRENGTH:
            fail = fail * (1 - STRENGTH[(sym, "strep")]) ** S
        return np.stack([fail, 1 - fail], -1)              # (flu, strep, symptom)

    x, y, z, u = (noisy_or(k) for k in "xyzu")
    return np.einsum("ab,abi,abj,abk,abl->abijkl", f * s, x, y, z, u)


def test_posteriors_match_a_brute_force_numpy_table():
    table = joint_table()
    assert np.isclose(table.sum(), 1.0)
    net = flu_strep_net()
    for states in itertools.product([None, False, True], repeat=4):
        findings = {k: v for k, v in zip(SYMPTOMS, states) if v is not None}
        index = tuple(slice(None) if v is None else int(v) for v in states)
        sub = table[(slice(None), slice(None)) + index]
        sub = sub.reshape(2, 2, -1).sum(-1)
        post = diagnose(findings, net)
        assert np.isclose(post["flu"], sub[1].sum() / sub.sum())
        assert np.isclose(post["strep"], sub[:, 1].sum() / sub.sum())


def test_posterior_by_hand_single_cause():
    # z has only flu as a parent: P(flu | z) = P(z|flu)P(flu) / P(z), written out
    p_z_flu = 1 - (1 - LEAK) * (1 - STRENGTH[("z", "flu")])
    expected = p_z_flu * 0.1 / (p_z_flu * 0.1 + LEAK * 0.9)
    assert np.isclose(diagnose({"z": True})["flu"], expected)
    assert np.isclose(diagnose({})["flu"], 0.1) and np.isclose(diagnose({})["strep"], 0.05)


def test_explaining_away():
    rows = {text: post for text, _, post in explaining_away()}
    x = diagnose({"x": True})
    xu = diagnose({"x": True, "u": True})
    assert x["flu"] > 0.1 and x["strep"] > 0.05          # x raises both causes
    assert xu["strep"] > x["strep"] and xu["flu"] < x["flu"]   # u explains x away from flu
    assert len(rows) == 5


def test_generic_net_matches_enumeration_of_a_chain():
    net = BayesNet({"a": (), "b": ("a",)}, {"a": {(): 0.3}, "b": {(False,): 0.2, (True,): 0.9}})
    assert np.isclose(net.query("a", {"b": True}), 0.3 * 0.9 / (0.3 * 0.9 + 0.7 * 0.2))
    assert np.isclose(net.probability({"b": True}), 0.3 * 0.9 + 0.7 * 0.2)
    assert net.query("a", {"a": True}) == 1.0


@pytest.mark.parametrize("call, err, match", [
    (lambda: diagnose({"w": True}), ValueError, "unknown symptom"),
    (lambda: diagnose({"x": 1}), TypeError, "True"),
    (lambda: diagnose(["x"]), TypeError, "dict"),
    (lambda: flu_strep_net(p_flu=1.5), ValueError, r"\[0, 1\]"),
    (lambda: flu_strep_net(p_strep=-0.1), ValueError, r"\[0, 1\]"),
    (lambda: flu_strep_net(strength={("x", "flu"): 2.0}), ValueError, r"\[0, 1\]"),
    (lambda: flu_strep_net(strength={("u", "flu"): 0.5}), ValueError, "no arrow"),
    (lambda: BayesNet({"a": ()}, {"a": {(): 1.2}}), ValueError, r"\[0, 1\]"),
    (lambda: BayesNet({"a": ("b",), "b": ("a",)},
                      {"a": {(False,): .5, (True,): .5}, "b": {(False,): .5, (True,): .5}}), ValueError, "cycle"),
    (lambda: BayesNet({"a": ()}, {"a": {}}), ValueError, "entry"),
    (lambda: flu_strep_net().query("measles"), ValueError, "unknown variable"),
])
def test_bayes_bad_input(call, err, match):
    with pytest.raises(err, match=match):
        call()


def test_intervention_matches_the_truncated_factorisation():
    """P(. | do(x)) from the mutilated net against the joint table with x's factor removed
    (Pearl's truncated factorisation), computed independently with numpy."""
    net = flu_strep_net()
    table = joint_table()                                   # axes: flu, strep, x, y, z, u
    p_x = table.sum(axis=(3, 4, 5), keepdims=True)          # P(flu, strep, x) ...
    p_fs = table.sum(axis=(2, 3, 4, 5), keepdims=True)      # ... / P(flu, strep) = P(x | flu, strep)
    truncated = (table / (p_x / p_fs))[:, :, 1]              # drop x's factor, keep x = 1
    done = net.intervene({"x": True})
    assert done.query("flu") == pytest.approx(truncated.sum(axis=(1, 2, 3, 4))[1], abs=1e-12)
    assert done.query("flu") == pytest.approx(0.1, abs=1e-12)          # forcing x says nothing about flu
    assert done.query("u") == pytest.approx(truncated.sum(axis=(0, 1, 2, 3))[1], abs=1e-12)
    assert net.query("flu", {"x": True}) > 0.5 > done.query("flu")     # seeing x is not setting x
    # Setting a root cause is the same as observing it: nothing upstream to cut.
    assert net.intervene({"flu": True}).query("x") == pytest.approx(net.query("x", {"flu": True}), abs=1e-12)
    assert net.intervene({"x": True}).parents["x"] == () and net.parents["x"] == ("flu", "strep")
    with pytest.raises(ValueError, match="unknown variable"):
        net.intervene({"cough": True})
    with pytest.raises(TypeError, match="True .present. or False"):
        net.intervene({"x": 1})


def test_impossible_findings():
    net = flu_strep_net(p_flu=0.0, p_strep=0.0, leak=0.0)
    with pytest.raises(ValueError, match="probability 0"):
        diagnose({"x": True}, net)


# ---------------------------------------------------------------- game search

def random_positions(n, seed=0, min_moves=2, max_moves=6):
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        s = TicTacToe()
        for _ in range(rng.randint(min_moves, max_moves)):
            if s.is_over():
                break
            s = s.play(rng.choice(s.legal_moves()))
        if not s.is_over():
            out.append(s)
    return out


def test_alphabeta_equals_minimax_with_fewer_nodes():
    fewer = 0
    for s in random_positions(25):
        v_mm, n_mm = minimax(s)
        v_ab, n_ab = alphabeta(s)
        assert v_mm == v_ab
        assert n_ab <= n_mm
        fewer += n_ab < n_mm
    assert fewer >= 20


def test_known_values():
    assert alphabeta(TicTacToe())[0] == 0                               # tic-tac-toe is a draw
    assert minimax(TicTacToe("XX.OO...."))[0] == 1 + 4          # X wins now, 4 cells left empty
    assert best_move(TicTacToe("XX.OO....")) == 2
    assert best_move(TicTacToe("XX.OO...X")) == 5                        # O wins at once
    assert minimax(TicTacToe("XOXXOOOXX"))[0] == 0 and minimax(TicTacToe("XOXXOOOXX"))[1] == 1


def test_principal_variation_reaches_the_end_with_the_root_value():
    s = TicTacToe.from_moves([0, 4])
    line = principal_variation(s)
    end = TicTacToe.from_moves([0, 4, *line])
    assert end.is_over() and end.winner() is None                       # best play draws


def test_every_explanation_on_principal_variations_is_true():
    checked = 0
    for s in random_positions(6, seed=1, min_moves=2, max_moves=4) + [TicTacToe.from_moves([1])]:
        for _, move, expls in explain_line(s):
            for e in expls:
                assert e.played == move and e.value_alternative < e.value_played
                assert check_explanation(e), e.text
                assert e.text.startswith(f"I played {CELL_NAMES[move]} because if I played")
                checked += 1
    assert checked >= 20


def test_false_explanations_are_caught():
    s = TicTacToe.from_moves([0, 4, 8])          # O must not take a corner
    move, expls = explain_move(s)
    e = expls[0]
    assert check_explanation(e)
    worse_reply = next(m for m in s.play(e.alternative).legal_moves()
                       if -minimax(s.play(e.alternative).play(m))[0] != minimax(s.play(e.alternative))[0])
    assert not check_explanation(dataclasses.replace(e, reply=worse_reply))
    assert not check_explanation(dataclasses.replace(e, value_alternative=e.value_played))
    assert not check_explanation(dataclasses.replace(e, value_played=e.value_played + 1))
    assert not check_explanation(dataclasses.replace(e, then=e.then[:-1]))
    # an equally good alternative gets no explanation
    values = move_values(s)
    assert {x.alternative for x in expls} == {m for m, v in values.items() if v < values[move]}


def test_failed_checks_name_each_false_claim_on_its_own():
    s = TicTacToe.from_moves([0, 4, 8])
    _, expls = explain_move(s)
    e = expls[0]
    assert failed_checks(e) == []
    after = s.play(e.alternative)
    bad = next(m for m in after.legal_moves() if -minimax(after.play(m))[0] != minimax(after)[0])
    line = principal_variation(after.play(bad))
    end = after.play(bad)
    for m in line:
        end = end.play(m)
    outcome = -_terminal(end) if end.to_move != s.to_move else _terminal(end)
    # a full, legal line after a bad reply, with its own outcome: only the reply and the alternative's value are false
    got = failed_checks(dataclasses.replace(e, reply=bad, then=tuple(line), value_alternative=outcome))
    assert "reply is a best reply" in got and set(got) <= {"reply is a best reply", "value of alternative"}
    assert failed_checks(dataclasses.replace(e, value_alternative=e.value_alternative + 1)) == [
        "value of alternative", "stated outcome"]
    assert failed_checks(dataclasses.replace(e, then=e.then[:-1])) == ["line ends the game"]
    assert failed_checks(dataclasses.replace(e, played=e.played, alternative=e.played,
                                             value_alternative=e.value_played,
                                             reply=best_move(s.play(e.played)),
                                             then=tuple(principal_variation(s.play(e.played).play(
                                                 best_move(s.play(e.played))))))) == ["alternative strictly worse"]
    assert failed_checks(dataclasses.replace(e, reply=e.alternative)) == ["line is legal"]   # a taken cell
    assert failed_checks(dataclasses.replace(e, alternative=0)) == ["alternative is legal"]
    with pytest.raises(TypeError, match="Explanation"):
        failed_checks("I played the centre")
    assert set(CHECKS) >= {c for x in expls for c in failed_checks(x)}


def test_line_outcome_and_plot_explanation():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = TicTacToe.from_moves([4, 0, 8, 2])      # X to move must block the top row
    assert line_outcome(s, [3, 1]) == -(1 + 3)            # O completes the top row; X has lost, 3 cells left
    assert line_outcome(s, principal_variation(s)) == minimax(s)[0]
    with pytest.raises(ValueError, match="do not end the game"):
        line_outcome(s, [1])
    with pytest.raises(TypeError, match="TicTacToe"):
        line_outcome("X..", [1])
    _, expls = explain_move(TicTacToe.from_moves([0, 1]))
    e = expls[0]
    fig = plot_explanation(e)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "X1" in texts and "O2" in texts and len([t for t in texts if t[:1] in "XO" and t[1:].isdigit()]) == 2 + len(e.then)
    assert fig.axes[0].get_title(loc="left").replace("\n", " ") == e.text
    plt.close(fig)
    with pytest.raises(TypeError, match="Explanation"):
        plot_explanation(e.text)


def test_tree_size_is_the_minimax_node_count():
    for s in random_positions(5, seed=3, min_moves=2, max_moves=5) + [TicTacToe.from_moves([4])]:
        assert tree_size(s) == minimax(s)[1]
    assert tree_size(TicTacToe("XXXOO....")) == 1
    with pytest.raises(TypeError, match="TicTacToe"):
        tree_size("." * 9)


def _terminal(state):
    w = state.winner()
    return -(1 + state.board.count(".")) if w else 0


def test_exact_population_is_the_joint():
    patterns, p = exact_population()
    assert patterns.shape == (64, 6) and patterns.dtype == bool and np.isclose(p.sum(), 1.0)
    table = joint_table()
    for row, q in zip(patterns, p):
        assert np.isclose(q, table[tuple(int(v) for v in row)])
    # marginals and a posterior read off the population agree with inference
    assert np.isclose(p[patterns[:, 0]].sum(), 0.1)
    sel = patterns[:, 2] & patterns[:, 5]
    assert np.isclose(p[sel & patterns[:, 0]].sum() / p[sel].sum(), diagnose({"x": True, "u": True})["flu"])
    with pytest.raises(TypeError, match="BayesNet"):
        exact_population("flu")
    with pytest.raises(ValueError, match="every variable"):
        exact_population(columns=("flu", "strep", "x"))


def test_no_reason_when_all_moves_draw():
    move, expls = explain_move(TicTacToe())
    assert expls == [] and move == 0


@pytest.mark.parametrize("call, err", [
    (lambda: TicTacToe.from_moves([4, 4]), ValueError),
    (lambda: TicTacToe().play(9), ValueError),
    (lambda: TicTacToe().play(-1), ValueError),
    (lambda: TicTacToe().play(1.5), TypeError),
    (lambda: TicTacToe().play("middle"), ValueError),
    (lambda: TicTacToe("XXX.OO...").play(8), ValueError),      # game over
    (lambda: TicTacToe("XXXX"), ValueError),
    (lambda: TicTacToe("OO......."), ValueError),
    (lambda: explain_move(TicTacToe("XXXOO....")), ValueError),
])
def test_illegal_moves(call, err):
    with pytest.raises(err):
        call()


def test_named_moves():
    assert TicTacToe().play("centre") == TicTacToe().play(4)
