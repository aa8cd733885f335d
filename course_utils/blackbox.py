"""Lecture 00, the black-box problem: inferences that are obvious, and ones that are not.

* Chess pieces on an empty board: breadth-first search gives the number of moves to every square.
* A coloured graph whose edges join nodes of the same colour: every path keeps its colour.
* A chocolate bar: every break adds exactly one piece, so an m x n bar needs m*n - 1 breaks.
"""
from __future__ import annotations

import inspect
import numbers
import random
from collections import deque

import numpy as np

from .checks import check_choice, check_scalar

FILES = "abcdefgh"
PIECE_STEPS = {
    "king": [(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1) if (dr, dc) != (0, 0)],
    "knight": [(1, 2), (2, 1), (-1, 2), (-2, 1), (1, -2), (2, -1), (-1, -2), (-2, -1)],
}
SLIDING = {"rook": [(1, 0), (-1, 0), (0, 1), (0, -1)],
           "bishop": [(1, 1), (1, -1), (-1, 1), (-1, -1)]}
SLIDING["queen"] = SLIDING["rook"] + SLIDING["bishop"]
PIECES = sorted(PIECE_STEPS) + sorted(SLIDING)


def parse_square(square: str, size: int = 8) -> tuple[int, int]:
    """'e4' -> (row 3, column 4), rows counted from White's side."""
    if not isinstance(square, str):
        raise TypeError(f"square must be a string like 'e4'; got {type(square).__name__}")
    if len(square) < 2 or square[0] not in FILES[:size] or not square[1:].isdigit() \
            or not 1 <= int(square[1:]) <= size:
        raise ValueError(f"square must be a file a-{FILES[size - 1]} and a rank 1-{size}, like 'e4'; got {square!r}")
    return int(square[1:]) - 1, FILES.index(square[0])


def square_name(row: int, col: int) -> str:
    return f"{FILES[col]}{row + 1}"


def piece_moves(piece: str, square: tuple[int, int], size: int = 8) -> list[tuple[int, int]]:
    """Squares one move away from ``square`` for ``piece`` on an empty ``size`` x ``size`` board."""
    check_choice(piece, "piece", PIECES)
    r, c = square
    on_board = lambda rr, cc: 0 <= rr < size and 0 <= cc < size  # noqa: E731
    if piece in PIECE_STEPS:
        return [(r + dr, c + dc) for dr, dc in PIECE_STEPS[piece] if on_board(r + dr, c + dc)]
    moves = []
    for dr, dc in SLIDING[piece]:
        rr, cc = r + dr, c + dc
        while on_board(rr, cc):
            moves.append((rr, cc))
            rr, cc = rr + dr, cc + dc
    return moves


def bfs_distances(neighbours, start, n_rows: int, n_cols: int) -> np.ndarray:
    """Fewest moves from ``start`` to every cell of a grid (-1 where unreachable).

    Breadth-first search visits cells in order of distance, so the first visit is the shortest.
    """
    dist = np.full((n_rows, n_cols), -1, dtype=int)
    dist[start] = 0
    queue = deque([start])
    while queue:
        cell = queue.popleft()
        for nxt in neighbours(cell):
            if dist[nxt] < 0:
                dist[nxt] = dist[cell] + 1
                queue.append(nxt)
    return dist


def chess_distances(piece: str, start: str = "a1", size: int = 8) -> np.ndarray:
    """Moves needed by ``piece`` from ``start`` to each square of an empty board; -1 = never."""
    check_choice(piece, "piece", PIECES)
    check_scalar(size, "size", numbers.Integral, low=3, high=8)
    origin = parse_square(start, size)
    return bfs_distances(lambda sq: piece_moves(piece, sq, size), origin, size, size)


def plot_board(dist: np.ndarray, start: str, piece: str, ax=None):
    """Draw a distance board: colour and number = moves needed; the start square is outlined."""
    import matplotlib.pyplot as plt
    dist = np.asarray(dist)
    size = dist.shape[0]
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 6))
    shown = np.ma.masked_less(dist, 0).astype(float)
    image = ax.imshow(shown, origin="lower", cmap="viridis", vmin=0, vmax=max(1, dist.max()))
    for r in range(size):
        for c in range(size):
            text = "×" if dist[r, c] < 0 else str(dist[r, c])
            ax.text(c, r, text, ha="center", va="center", fontsize=14,
                    color="white" if 0 <= dist[r, c] < dist.max() / 2 else "black")
    r0, c0 = parse_square(start, size)
    ax.add_patch(plt.Rectangle((c0 - 0.5, r0 - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=3))
    ax.set_xticks(range(size), list(FILES[:size]))
    ax.set_yticks(range(size), [str(i + 1) for i in range(size)])
    ax.set_xlabel("file")
    ax.set_ylabel("rank")
    unreachable = int((dist < 0).sum())
    ax.set_title(f"{piece} from {start}: moves to each square"
                 + (f" ({unreachable} unreachable)" if unreachable else ""), fontsize=13)
    ax.figure.colorbar(image, ax=ax, fraction=0.046, label="moves")
    return ax


def board_widget(piece: str = "knight", start: str = "a1"):
    """Live demo: pick a piece and a start square, see the distance to every square."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    squares = [square_name(r, c) for r in range(8) for c in range(8)]
    piece_box = widgets.Dropdown(options=PIECES, value=piece, description="piece")
    start_box = widgets.Dropdown(options=squares, value=start, description="start")
    out = widgets.Output()

    def redraw(_=None):
        with out:
            out.clear_output(wait=True)
            fig, ax = plt.subplots(figsize=(6, 6))
            plot_board(chess_distances(piece_box.value, start_box.value), start_box.value, piece_box.value, ax)
            plt.show()

    piece_box.observe(redraw, names="value")
    start_box.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([piece_box, start_box]), out])


# ----------------------------------------------------------------------------- coloured graphs

def random_coloured_graph(n_nodes: int = 30, n_colours: int = 3, p_edge: float = 0.2, seed: int = 0):
    """Random graph whose edges only join nodes of the same colour.

    Returns ``(colours, edges)``: a list of colour ids per node and a sorted list of (u, v), u < v.
    """
    check_scalar(n_nodes, "n_nodes", numbers.Integral, low=2)
    check_scalar(n_colours, "n_colours", numbers.Integral, low=1)
    check_scalar(p_edge, "p_edge", numbers.Real, low=0, high=1)
    rng = random.Random(seed)
    colours = [rng.randrange(n_colours) for _ in range(n_nodes)]
    edges = [(u, v) for u in range(n_nodes) for v in range(u + 1, n_nodes)
             if colours[u] == colours[v] and rng.random() < p_edge]
    return colours, edges


def adjacency(n_nodes: int, edges) -> list[list[int]]:
    adj = [[] for _ in range(n_nodes)]
    for u, v in edges:
        adj[u].append(v)
        adj[v].append(u)
    return adj


def random_walk(edges, n_nodes: int, start: int, length: int, seed: int = 0) -> list[int]:
    """A random path of up to ``length`` steps (it stops early at a node with no edges)."""
    check_scalar(start, "start", numbers.Integral, low=0, high=n_nodes - 1)
    adj, rng, path = adjacency(n_nodes, edges), random.Random(seed), [start]
    for _ in range(length):
        if not adj[path[-1]]:
            break
        path.append(rng.choice(adj[path[-1]]))
    return path


def plot_coloured_graph(colours, edges, path=None, ax=None):
    """Nodes on a circle, coloured; a path, if given, drawn thick."""
    import matplotlib.pyplot as plt
    n = len(colours)
    angle = 2 * np.pi * np.arange(n) / n
    xy = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 6))
    for u, v in edges:
        ax.plot(*xy[[u, v]].T, color="0.75", linewidth=1, zorder=1)
    if path is not None and len(path) > 1:
        ax.plot(*xy[path].T, color="black", linewidth=3, zorder=2, label=f"a path of {len(path) - 1} steps")
        ax.legend(loc="lower right")
    palette = plt.get_cmap("tab10")
    ax.scatter(*xy.T, c=[palette(c) for c in colours], s=160, edgecolor="black", zorder=3)
    for i, (x, y) in enumerate(xy):
        ax.text(1.12 * x, 1.12 * y, str(i), ha="center", va="center", fontsize=9)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title("Edges join same-coloured nodes, so every path keeps its colour", fontsize=13)
    return ax


# ----------------------------------------------------------------------------- chocolate bar

class ChocolateBar:
    """An m x n bar; each break splits one piece along a grid line into two.

    Invariant: ``len(self.pieces) == self.breaks + 1``, since each break turns one piece into two.
    """

    def __init__(self, rows: int = 3, cols: int = 5):
        check_scalar(rows, "rows", numbers.Integral, low=1)
        check_scalar(cols, "cols", numbers.Integral, low=1)
        self.pieces = [(rows, cols)]
        self.breaks = 0

    def break_piece(self, index: int, axis: int, position: int):
        """Split piece ``index`` along ``axis`` (0: between rows, 1: between columns) after ``position`` squares."""
        check_scalar(index, "index", numbers.Integral, low=0, high=len(self.pieces) - 1)
        check_choice(axis, "axis", [0, 1])
        size = self.pieces[index][axis]
        check_scalar(position, "position", numbers.Integral, low=1, high=size - 1)
        rows, cols = self.pieces.pop(index)
        self.pieces += [(position, cols), (rows - position, cols)] if axis == 0 else \
                       [(rows, position), (rows, cols - position)]
        self.breaks += 1
        assert len(self.pieces) == self.breaks + 1  # the invariant, checked at every step

    def done(self) -> bool:
        return all(piece == (1, 1) for piece in self.pieces)

    def break_randomly(self, seed: int = 0) -> int:
        """Break until every piece is a single square, choosing pieces and lines at random."""
        rng = random.Random(seed)
        while not self.done():
            index = rng.choice([i for i, p in enumerate(self.pieces) if p != (1, 1)])
            axis = rng.choice([a for a in (0, 1) if self.pieces[index][a] > 1])
            self.break_piece(index, axis, rng.randint(1, self.pieces[index][axis] - 1))
        return self.breaks


def show_source(function) -> None:
    """Print a course function's source, so the notebook shows the code without copying it."""
    from IPython.display import Code, display
    display(Code(inspect.getsource(function), language="python"))
