"""Explicitly interpretable models: a causal Bayes net and a game-tree search that can say *why*.

**The Bayes net.** Flu causes symptoms x, y and z; strep causes x, y and u. Each symptom's table
``P(symptom | causes)`` is the model; the posterior of each cause given the findings comes from
exact inference by enumeration,

    P(q | e) = sum_h P(q, e, h) / sum_{q, h} P(q, e, h),     P(v_1..v_n) = prod_i P(v_i | parents(v_i)),

and every number can be traced to the table entries that produced it. *Explaining away*: a
finding that only strep explains (u) lowers the probability of flu given the shared symptom x.

**The game search.** Minimax with alpha-beta pruning on tic-tac-toe. Because the search tree is
the model, an explanation of a move is a fact about the tree: "I played x because if I played y,
they would reply z, and then ...", and :func:`check_explanation` re-derives every such fact with
a plain minimax that shares no code with the alpha-beta search.
"""
from __future__ import annotations

import functools
import itertools
import math
import numbers
from dataclasses import dataclass
from typing import Mapping

from .checks import check_choice, check_scalar


# ============================================================================ Bayes net

class BayesNet:
    """A Bayes net over binary variables with exact inference by enumeration.

    ``parents[v]`` is a tuple of parent names; ``cpts[v]`` maps each tuple of parent values
    (``True``/``False``, in the order of ``parents[v]``) to ``P(v = True | parents)``.
    """

    def __init__(self, parents: Mapping[str, tuple], cpts: Mapping[str, Mapping[tuple, float]]):
        if set(parents) != set(cpts):
            raise ValueError(f"parents and cpts must name the same variables; got {sorted(parents)} "
                             f"and {sorted(cpts)}")
        for v, ps in parents.items():
            for p in ps:
                check_choice(p, f"parent of {v!r}", list(parents))
            expected = set(itertools.product((False, True), repeat=len(ps)))
            if set(cpts[v]) != expected:
                raise ValueError(f"cpts[{v!r}] needs one entry for each of the {len(expected)} "
                                 f"combinations of {ps}; got keys {sorted(cpts[v])}")
            for key, p in cpts[v].items():
                check_scalar(p, f"P({v}=True | {dict(zip(ps, key))})", numbers.Real, low=0, high=1)
        self.parents = {v: tuple(ps) for v, ps in parents.items()}
        self.cpts = {v: dict(t) for v, t in cpts.items()}
        self.variables = self._topological_order()

    def _topological_order(self):
        order, done = [], set()
        while len(order) < len(self.parents):
            ready = [v for v in self.parents if v not in done and set(self.parents[v]) <= done]
            if not ready:
                raise ValueError(f"the graph has a cycle among {sorted(set(self.parents) - done)}")
            order += ready
            done.update(ready)
        return order

    def _check_evidence(self, evidence: Mapping[str, bool]):
        if not isinstance(evidence, Mapping):
            raise TypeError(f"evidence must be a dict {{variable: True/False}}; got {type(evidence).__name__}")
        for v, value in evidence.items():
            if v not in self.parents:
                raise ValueError(f"unknown variable {v!r}; expected one of {self.variables}")
            if not isinstance(value, bool):
                raise TypeError(f"evidence[{v!r}] must be True (present) or False (absent); got {value!r}")

    def joint(self, assignment: Mapping[str, bool]) -> float:
        """P(assignment) for a full assignment: the product of one table entry per variable."""
        p = 1.0
        for v in self.variables:
            p_true = self.cpts[v][tuple(assignment[q] for q in self.parents[v])]
            p *= p_true if assignment[v] else 1.0 - p_true
        return p

    def probability(self, evidence: Mapping[str, bool]) -> float:
        """P(evidence), summing the joint over every assignment of the other variables."""
        self._check_evidence(evidence)
        hidden = [v for v in self.variables if v not in evidence]
        return sum(self.joint({**evidence, **dict(zip(hidden, values))})
                   for values in itertools.product((False, True), repeat=len(hidden)))

    def query(self, variable: str, evidence: Mapping[str, bool] | None = None) -> float:
        """P(variable = True | evidence) by enumeration."""
        check_choice(variable, "variable", self.variables)
        evidence = dict(evidence or {})
        self._check_evidence(evidence)
        if variable in evidence:
            return float(evidence[variable])
        numerator = self.probability({**evidence, variable: True})
        denominator = numerator + self.probability({**evidence, variable: False})
        if denominator == 0:
            raise ValueError(f"the findings {evidence} have probability 0 under the model")
        return numerator / denominator

    def intervene(self, setting: Mapping[str, bool]) -> "BayesNet":
        """The net after ``do(setting)`` (Pearl's graph surgery): each variable in ``setting`` is *set*,
        not observed, so it loses its arrows in (its parents no longer explain it) and takes its value
        with probability 1; every other table is unchanged. ``net.intervene({"x": True}).query("flu")``
        is P(flu | do(x)), to contrast with ``net.query("flu", {"x": True})``, P(flu | x)."""
        self._check_evidence(setting)
        parents = {v: (() if v in setting else ps) for v, ps in self.parents.items()}
        cpts = {v: ({(): float(setting[v])} if v in setting else t) for v, t in self.cpts.items()}
        return BayesNet(parents, cpts)


CAUSES = ("flu", "strep")
SYMPTOMS = ("x", "y", "z", "u")
SYMPTOM_CAUSES = {"x": ("flu", "strep"), "y": ("flu", "strep"), "z": ("flu",), "u": ("strep",)}
# The strength of each arrow: the probability that this cause, acting alone, produces the symptom, not counting
# the leak (so P(symptom | only this cause) = 1 - (1 - LEAK)(1 - strength)); LEAK = P(symptom | neither cause).
STRENGTH = {("x", "flu"): 0.8, ("x", "strep"): 0.7, ("y", "flu"): 0.6, ("y", "strep"): 0.9,
            ("z", "flu"): 0.7, ("u", "strep"): 0.8}
LEAK = 0.05


def flu_strep_net(p_flu: float = 0.1, p_strep: float = 0.05, strength: Mapping | None = None,
                  leak: float = LEAK) -> BayesNet:
    """The lecture's net: flu -> x, y, z and strep -> x, y, u, with noisy-OR symptom tables.

    Noisy-OR: each present cause independently fails to produce the symptom with probability
    ``1 - strength``; the symptom is absent only if every present cause (and the leak) fails.
    """
    check_scalar(p_flu, "p_flu", numbers.Real, low=0, high=1)
    check_scalar(p_strep, "p_strep", numbers.Real, low=0, high=1)
    check_scalar(leak, "leak", numbers.Real, low=0, high=1)
    strength = {**STRENGTH, **(strength or {})}
    for (s, c), p in strength.items():
        if (s, c) not in STRENGTH:
            raise ValueError(f"there is no arrow {c} -> {s}; arrows are {sorted(STRENGTH)}")
        check_scalar(p, f"strength of {c} -> {s}", numbers.Real, low=0, high=1)
    parents = {"flu": (), "strep": (), **SYMPTOM_CAUSES}
    cpts = {"flu": {(): p_flu}, "strep": {(): p_strep}}
    for s, causes in SYMPTOM_CAUSES.items():
        cpts[s] = {}
        for present in itertools.product((False, True), repeat=len(causes)):
            fail = 1.0 - leak
            for c, on in zip(causes, present):
                if on:
                    fail *= 1.0 - strength[(s, c)]
            cpts[s][present] = 1.0 - fail
    return BayesNet(parents, cpts)


def diagnose(findings: Mapping[str, bool], net: BayesNet | None = None) -> dict:
    """Posterior ``{"flu": P(flu | findings), "strep": P(strep | findings)}``.

    ``findings`` maps symptoms (x, y, z, u) to True (present) or False (absent); a symptom not
    mentioned is unobserved.
    """
    net = net or flu_strep_net()
    if not isinstance(findings, Mapping):
        raise TypeError(f"findings must be a dict {{symptom: True/False}}; got {type(findings).__name__}")
    for s in findings:
        if s not in SYMPTOMS:
            raise ValueError(f"unknown symptom {s!r}; expected some of {list(SYMPTOMS)}")
    return {c: net.query(c, findings) for c in CAUSES}


def exact_population(net: BayesNet | None = None, columns=("flu", "strep", *SYMPTOMS)):
    """Every full assignment of the net and its probability: ``(patterns, probabilities)``.

    ``patterns`` is a boolean array with one row per assignment (``2 ** len(columns)`` rows) and
    one column per name in ``columns``; ``probabilities`` is the joint of each row and sums to 1.
    Fitting a model with ``sample_weight = n * probabilities`` is fitting it to the expected
    sample of ``n`` patients: the infinite-data limit of fitting to ``n`` drawn patients, with no
    sampling noise.
    """
    import numpy as np

    net = net or flu_strep_net()
    if not isinstance(net, BayesNet):
        raise TypeError(f"net must be a BayesNet; got {type(net).__name__}")
    columns = tuple(columns)
    if sorted(columns) != sorted(net.variables):
        raise ValueError(f"columns must name every variable of the net once; got {list(columns)} for "
                         f"{net.variables}")
    patterns = np.array(list(itertools.product((False, True), repeat=len(columns))), dtype=bool)
    probabilities = np.array([net.joint(dict(zip(columns, row))) for row in patterns.tolist()])
    return patterns, probabilities


def explaining_away(net: BayesNet | None = None) -> list[tuple[str, dict, dict]]:
    """Rows ``(description, findings, posterior)`` that show explaining away step by step."""
    rows = [("no findings (the prior)", {}),
            ("x present", {"x": True}),
            ("x present, u present (only strep causes u)", {"x": True, "u": True}),
            ("x present, u absent", {"x": True, "u": False}),
            ("x present, z present (only flu causes z)", {"x": True, "z": True})]
    return [(text, f, diagnose(f, net)) for text, f in rows]


def posterior_widget(net: BayesNet | None = None):
    """Toggle each symptom present / absent / unknown and move the priors; the posterior updates."""
    import ipywidgets as w

    toggles = {s: w.ToggleButtons(options=["unknown", "present", "absent"], description=f"symptom {s}",
                                  style={"button_width": "80px"}) for s in SYMPTOMS}
    p_flu = w.FloatSlider(value=0.1, min=0.0, max=1.0, step=0.01, description="P(flu)")
    p_strep = w.FloatSlider(value=0.05, min=0.0, max=1.0, step=0.01, description="P(strep)")
    out = w.HTML()

    def update(_=None):
        findings = {s: t.value == "present" for s, t in toggles.items() if t.value != "unknown"}
        try:
            post = diagnose(findings, flu_strep_net(p_flu.value, p_strep.value))
        except ValueError as err:
            out.value = f"<b>{err}</b>"
            return
        bars = "".join(f"<div style='font-family:monospace;font-size:16px'>P({c} | findings) = "
                       f"{p:6.3f} <span style='background:#4c72b0;display:inline-block;"
                       f"width:{int(300 * p)}px'>&nbsp;</span></div>" for c, p in post.items())
        out.value = bars

    for widget in [*toggles.values(), p_flu, p_strep]:
        widget.observe(update, names="value")
    update()
    return w.VBox([*toggles.values(), p_flu, p_strep, out])


# ============================================================================ tic-tac-toe search

CELL_NAMES = ("top-left", "top", "top-right", "left", "centre", "right",
              "bottom-left", "bottom", "bottom-right")
LINES = ((0, 1, 2), (3, 4, 5), (6, 7, 8), (0, 3, 6), (1, 4, 7), (2, 5, 8), (0, 4, 8), (2, 4, 6))


@dataclass(frozen=True)
class TicTacToe:
    """A position: ``board`` is 9 characters 'X', 'O' or '.', row by row; X moves first."""
    board: str = "." * 9

    def __post_init__(self):
        if not isinstance(self.board, str) or len(self.board) != 9 or set(self.board) - set("XO."):
            raise ValueError(f"board must be 9 characters from 'X', 'O', '.'; got {self.board!r}")
        nx, no = self.board.count("X"), self.board.count("O")
        if nx - no not in (0, 1):
            raise ValueError(f"X moves first, so X has as many marks as O or one more; got {nx} X and {no} O")

    @classmethod
    def from_moves(cls, moves) -> "TicTacToe":
        state = cls()
        for m in moves:
            state = state.play(m)
        return state

    @property
    def to_move(self) -> str:
        return "X" if self.board.count("X") == self.board.count("O") else "O"

    def winner(self) -> str | None:
        for a, b, c in LINES:
            if self.board[a] != "." and self.board[a] == self.board[b] == self.board[c]:
                return self.board[a]
        return None

    def is_over(self) -> bool:
        return self.winner() is not None or "." not in self.board

    def legal_moves(self) -> list[int]:
        return [] if self.winner() else [i for i, c in enumerate(self.board) if c == "."]

    def play(self, move) -> "TicTacToe":
        """The position after ``move`` (a cell 0-8 or its name); an illegal move raises ValueError."""
        if isinstance(move, str):
            move = check_choice(move, "cell", CELL_NAMES) and CELL_NAMES.index(move)
        check_scalar(move, "move", numbers.Integral, low=0, high=8)
        if self.winner():
            raise ValueError(f"illegal move {move}: the game is over ({self.winner()} has won)")
        if self.board[move] != ".":
            raise ValueError(f"illegal move {move} ({CELL_NAMES[move]}): that cell holds "
                             f"{self.board[move]}; legal moves are {self.legal_moves()}")
        return TicTacToe(self.board[:move] + self.to_move + self.board[move + 1:])

    def __str__(self):
        return "\n".join(" ".join(self.board[r:r + 3]) for r in (0, 3, 6))


def _terminal_value(state: TicTacToe) -> int | None:
    """Value for the player to move at a finished game; quicker wins (more empty cells) score more."""
    if state.winner():          # the player who just moved won, so the player to move has lost
        return -(1 + state.board.count("."))
    if "." not in state.board:
        return 0
    return None


def minimax(state: TicTacToe) -> tuple[int, int]:
    """Plain negamax without pruning: ``(value for the player to move, nodes visited)``."""
    value = _terminal_value(state)
    if value is not None:
        return value, 1
    best, nodes = -math.inf, 1
    for m in state.legal_moves():
        v, n = minimax(state.play(m))
        best, nodes = max(best, -v), nodes + n
    return best, nodes


def tree_size(state: TicTacToe) -> int:
    """Positions in the full game tree below ``state`` (``state`` included): the node count of
    :func:`minimax`, computed by counting each distinct board once (the count depends on the board only)."""
    if not isinstance(state, TicTacToe):
        raise TypeError(f"state must be a TicTacToe; got {type(state).__name__}")
    return _tree_size(state.board)


@functools.lru_cache(maxsize=None)
def _tree_size(board: str) -> int:
    state = TicTacToe(board)
    if _terminal_value(state) is not None:
        return 1
    return 1 + sum(_tree_size(state.play(m).board) for m in state.legal_moves())


def alphabeta(state: TicTacToe, alpha: float = -math.inf, beta: float = math.inf) -> tuple[int, int]:
    """Negamax with alpha-beta pruning: same value as :func:`minimax` inside (alpha, beta), fewer nodes.

    A move whose value reaches ``beta`` refutes the opponent's previous choice (they have a
    better option elsewhere), so the remaining moves need not be searched.
    """
    value = _terminal_value(state)
    if value is not None:
        return value, 1
    best, nodes = -math.inf, 1
    for m in state.legal_moves():
        v, n = alphabeta(state.play(m), -beta, -alpha)
        nodes += n
        best = max(best, -v)
        alpha = max(alpha, best)
        if alpha >= beta:
            break
    return best, nodes


def move_values(state: TicTacToe) -> dict[int, int]:
    """Exact value of every legal move for the player to move (a full-window search per move)."""
    if not isinstance(state, TicTacToe):
        raise TypeError(f"state must be a TicTacToe; got {type(state).__name__}")
    return {m: -alphabeta(state.play(m))[0] for m in state.legal_moves()}


def best_move(state: TicTacToe) -> int:
    """The best move; ties go to the lowest cell number, so the agent is deterministic."""
    values = move_values(state)
    if not values:
        raise ValueError("the game is over; there is no move to choose")
    return max(values, key=lambda m: (values[m], -m))


def principal_variation(state: TicTacToe) -> list[int]:
    """Best play by both sides from ``state`` to the end of the game."""
    line = []
    while not state.is_over():
        m = best_move(state)
        line.append(m)
        state = state.play(m)
    return line


def outcome_text(value: int) -> str:
    """A value for the agent in words; the move number says how soon (a value is 1 + empty cells)."""
    if value == 0:
        return "it is a draw"
    move = 10 - abs(value)          # marks on the board when the game ends
    return f"I win on move {move}" if value > 0 else f"they win on move {move}"


@dataclass(frozen=True)
class Explanation:
    state: TicTacToe     # the position where the agent chose
    played: int          # x
    alternative: int     # y
    reply: int           # z: their best reply to y
    then: tuple          # best play after y, z to the end of the game
    value_played: int    # search value of x for the agent
    value_alternative: int

    @property
    def text(self) -> str:
        moves = []
        for i, m in enumerate(self.then):
            moves.append(f"{'I play' if i % 2 == 0 else 'they play'} {CELL_NAMES[m]}")
        rest = ", ".join(moves) + ": " if moves else ""
        return (f"I played {CELL_NAMES[self.played]} because if I played {CELL_NAMES[self.alternative]}, "
                f"they would reply {CELL_NAMES[self.reply]}, and then {rest}"
                f"{outcome_text(self.value_alternative)} (with {CELL_NAMES[self.played]}, "
                f"{outcome_text(self.value_played)}).")


def explain_move(state: TicTacToe) -> tuple[int, list[Explanation]]:
    """The agent's move and one explanation per strictly worse alternative.

    Alternatives with the same value as the move played get no explanation: the search has no
    reason to prefer the move over them, and saying otherwise would be false.
    """
    values = move_values(state)
    if not values:
        raise ValueError("the game is over; there is no move to explain")
    x = max(values, key=lambda m: (values[m], -m))
    out = []
    for y, vy in values.items():
        if vy < values[x]:
            after = state.play(y)
            z = best_move(after)
            out.append(Explanation(state, x, y, z, tuple(principal_variation(after.play(z))),
                                   values[x], vy))
    return x, out


def explain_line(state: TicTacToe | None = None, agent: str | None = None) -> list[tuple[int, int, list[Explanation]]]:
    """Walk the principal variation from ``state``; at each of ``agent``'s moves, explain it.

    Returns ``(ply, move, explanations)`` for the agent's moves (``agent`` defaults to the player
    to move in ``state``).
    """
    state = state or TicTacToe()
    agent = agent or state.to_move
    check_choice(agent, "agent", ["X", "O"])
    rows, ply = [], 0
    while not state.is_over():
        if state.to_move == agent:
            move, expl = explain_move(state)
            rows.append((ply, move, expl))
        else:
            move = best_move(state)
        state, ply = state.play(move), ply + 1
    return rows


CHECKS = ("played is legal", "alternative is legal", "value of played", "value of alternative",
          "alternative strictly worse", "reply is a best reply", "later moves are best moves",
          "line is legal", "line ends the game", "stated outcome")


def failed_checks(e: Explanation) -> list[str]:
    """The names (from :data:`CHECKS`) of every claim of ``e`` that plain :func:`minimax` refutes.

    Each check is made on its own, so a corrupted explanation shows which of its claims are false:
    x and y are legal; x is worth ``value_played`` and y ``value_alternative``; y is strictly worse
    than x (true values); z is a best reply to y; every move in ``then`` is a best move; the line is
    legal and ends the game; the game's final outcome, for the agent, is ``value_alternative``.
    """
    if not isinstance(e, Explanation):
        raise TypeError(f"e must be an Explanation; got {type(e).__name__}")
    s, failed = e.state, []
    legal = s.legal_moves()
    for name, move in (("played is legal", e.played), ("alternative is legal", e.alternative)):
        if move not in legal:
            failed.append(name)
    if failed:
        return failed
    v_x, v_y = -minimax(s.play(e.played))[0], -minimax(s.play(e.alternative))[0]
    if v_x != e.value_played:
        failed.append("value of played")
    if v_y != e.value_alternative:
        failed.append("value of alternative")
    if not v_y < v_x:
        failed.append("alternative strictly worse")
    state = s.play(e.alternative)
    for k, m in enumerate((e.reply, *e.then)):
        if m not in state.legal_moves():
            failed.append("line is legal")
            return failed
        nxt = state.play(m)
        if -minimax(nxt)[0] != minimax(state)[0]:       # m is not a best move for the side to move
            name = "reply is a best reply" if k == 0 else "later moves are best moves"
            if name not in failed:
                failed.append(name)
        state = nxt
    if not state.is_over():
        failed.append("line ends the game")
        return failed
    # the final position's outcome, from the agent's side, is the value claimed for y
    if line_outcome(s, (e.alternative, e.reply, *e.then)) != e.value_alternative:
        failed.append("stated outcome")
    return failed


def line_outcome(state: TicTacToe, moves) -> int:
    """The outcome of playing ``moves`` from ``state`` to the end of the game, as a value for the
    player to move in ``state`` (the scoring of :func:`minimax`: a win is 1 + empty cells left)."""
    if not isinstance(state, TicTacToe):
        raise TypeError(f"state must be a TicTacToe; got {type(state).__name__}")
    end = state
    for m in moves:
        end = end.play(m)
    if not end.is_over():
        raise ValueError(f"the moves {list(moves)} do not end the game; the board is still {end.board!r}")
    final = _terminal_value(end)
    return final if end.to_move == state.to_move else -final


def plot_explanation(e: Explanation, ax=None, width: int = 58):
    """Draw an explanation on the board: the alternative y (1), the reply z (2) and the line that
    follows (3, 4, ...), each number in the colour of the player who makes that move, the move
    actually played framed, and ``e.text`` as the title. Returns the figure."""
    import textwrap

    import matplotlib.pyplot as plt

    if not isinstance(e, Explanation):
        raise TypeError(f"e must be an Explanation; got {type(e).__name__}")
    check_scalar(width, "width", numbers.Integral, low=20)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 7.6))
    me = e.state.to_move
    colour = {me: "tab:blue", ("O" if me == "X" else "X"): "tab:red"}
    for cell in range(9):
        r, c = divmod(cell, 3)
        ax.add_patch(plt.Rectangle((c, 2 - r), 1, 1, facecolor="white", edgecolor="black", lw=1.5))
        if e.state.board[cell] != ".":
            ax.text(c + 0.5, 2.5 - r, e.state.board[cell], ha="center", va="center", fontsize=40, color="0.35")
    mover = me
    for k, m in enumerate((e.alternative, e.reply, *e.then), start=1):
        r, c = divmod(m, 3)
        ax.text(c + 0.5, 2.5 - r, f"{mover}{k}", ha="center", va="center", fontsize=26,
                color=colour[mover], fontweight="bold")
        mover = "O" if mover == "X" else "X"
    r, c = divmod(e.played, 3)
    ax.add_patch(plt.Rectangle((c + 0.05, 2 - r + 0.05), 0.9, 0.9, fill=False, edgecolor="tab:green", lw=5))
    ax.text(c + 0.5, 2.12 - r, "actually played", ha="center", va="center", fontsize=12, color="tab:green")
    ax.text(1.5, -0.12, f"numbers: the line after the alternative, in move order (1 = the alternative,\n"
            f"2 = their reply); {me} is the agent; green frame: the move the agent played",
            ha="center", va="top", fontsize=11)
    ax.set_xlim(-0.05, 3.05)
    ax.set_ylim(-0.5, 3.05)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("\n".join(textwrap.wrap(e.text, width)), fontsize=12, loc="left")
    return ax.figure


def check_explanation(e: Explanation) -> bool:
    """Re-derive every claim of ``e`` with plain :func:`minimax` (no pruning, no shared search code).

    Checks: x is legal and worth ``value_played``; y is legal, worth ``value_alternative`` and
    strictly worse; z is a best reply to y; every later move in ``then`` is a best move; the
    line ends the game with the stated outcome. ``True`` when :func:`failed_checks` finds nothing.
    """
    return not failed_checks(e)
