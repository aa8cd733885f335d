"""Lecture 00, the black-box problem: inferences that are obvious, and ones that are not.

* Chess pieces on an empty board: breadth-first search gives the number of moves to every square.
* A coloured graph whose edges join nodes of the same colour: every path keeps its colour.
* A chocolate bar: every break adds exactly one piece, so an m x n bar needs m*n - 1 breaks.
* The human black box: the Thatcher illusion (Thompson, 1980), and a network's pooled features
  read by a leave-one-photo-out linear probe.
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


def plot_board(dist: np.ndarray, start: str, piece: str, ax=None, vmax: int | None = None, colorbar: bool = True):
    """Draw a distance board: colour and number = moves needed; the start square is outlined.

    ``vmax`` fixes the top of the discrete colour scale (one colour per whole number of moves), so
    that several boards drawn with the same ``vmax`` share one scale; ``None`` uses the board's maximum.
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import BoundaryNorm
    dist = np.asarray(dist)
    size = dist.shape[0]
    vmax = max(1, int(dist.max())) if vmax is None else int(check_scalar(vmax, "vmax", numbers.Integral, low=1))
    if dist.max() > vmax:
        raise ValueError(f"vmax must be at least the board's largest distance {dist.max()}; got {vmax}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 6))
    shown = np.ma.masked_less(dist, 0).astype(float)
    cmap = plt.get_cmap("viridis", vmax + 1)
    norm = BoundaryNorm(np.arange(-0.5, vmax + 1), cmap.N)
    image = ax.imshow(shown, origin="lower", cmap=cmap, norm=norm)
    for r in range(size):
        for c in range(size):
            text = "×" if dist[r, c] < 0 else str(dist[r, c])
            ax.text(c, r, text, ha="center", va="center", fontsize=14,
                    color="white" if 0 <= dist[r, c] < vmax / 2 else "black")
    r0, c0 = parse_square(start, size)
    ax.add_patch(plt.Rectangle((c0 - 0.5, r0 - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=3))
    ax.set_xticks(range(size), list(FILES[:size]))
    ax.set_yticks(range(size), [str(i + 1) for i in range(size)])
    ax.set_xlabel("file")
    ax.set_ylabel("rank")
    unreachable = int((dist < 0).sum())
    ax.set_title(f"{piece} from {start}: moves to each square"
                 + (f" ({unreachable} unreachable)" if unreachable else ""), fontsize=13)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, fraction=0.046, label="moves", ticks=range(vmax + 1))
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


def plot_coloured_graph(colours, edges, path=None, ax=None, title=None):
    """Nodes on a circle, coloured; an edge takes its endpoints' colour (grey, dashed, when they differ).

    A walk ``path`` (a list of nodes), if given, is drawn thick in black; the legend sits outside the circle.
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    n = len(colours)
    angle = 2 * np.pi * np.arange(n) / n
    xy = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 7))
    palette = plt.get_cmap("tab10")
    crossing = False
    for u, v in edges:
        same = colours[u] == colours[v]
        crossing |= not same
        ax.plot(*xy[[u, v]].T, color=palette(colours[u]) if same else "0.45", linewidth=1.6 if same else 1.4,
                linestyle="-" if same else "--", alpha=0.8, zorder=1)
    handles = [Line2D([], [], color="0.3", lw=1.6, label="edge (its endpoints' colour)")]
    if crossing:
        handles.append(Line2D([], [], color="0.45", lw=1.4, ls="--", label="edge between two colours"))
    if path is not None and len(path) > 1:
        ax.plot(*xy[path].T, color="black", linewidth=3.5, zorder=2)
        ax.scatter(*xy[path[0]], s=420, facecolor="none", edgecolor="black", linewidth=2.5, zorder=4)
        colour_changes = sum(colours[a] != colours[b] for a, b in zip(path, path[1:]))
        handles.append(Line2D([], [], color="black", lw=3.5, label=f"a walk of {len(path) - 1} steps from node {path[0]}"
                              + (f" ({colour_changes} colour changes)" if colour_changes else " (one colour)")))
    ax.scatter(*xy.T, c=[palette(c) for c in colours], s=180, edgecolor="black", zorder=3)
    for i, (x, y) in enumerate(xy):
        ax.text(1.13 * x, 1.13 * y, str(i), ha="center", va="center", fontsize=11)
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), fontsize=11, frameon=False)
    ax.set_aspect("equal")
    ax.set_xlim(-1.25, 1.25)
    ax.set_ylim(-1.25, 1.25)
    ax.set_axis_off()
    ax.set_title(title or "Edges join same-coloured nodes, so every walk keeps its colour", fontsize=13)
    return ax


# ----------------------------------------------------------------------------- chocolate bar

STRATEGIES = ["random", "rows first", "columns first", "halve the largest", "peel off a strip"]


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
        return len(self.break_with("random", seed)) - 1

    def break_with(self, strategy: str = "random", seed: int = 0) -> list[tuple[int, int, int]]:
        """Break until every piece is a single square, following ``strategy`` (one of ``STRATEGIES``).

        Returns the trace ``[(breaks, pieces, largest piece's squares), ...]``, from before the first
        break to after the last, so different strategies can be compared break by break.
        """
        check_choice(strategy, "strategy", STRATEGIES)
        rng = random.Random(seed)
        trace = [(self.breaks, len(self.pieces), max(r * c for r, c in self.pieces))]
        while not self.done():
            whole = [i for i, p in enumerate(self.pieces) if p != (1, 1)]
            largest = max(whole, key=lambda i: self.pieces[i][0] * self.pieces[i][1])
            rows, cols = self.pieces[largest]
            if strategy == "random":
                index = rng.choice(whole)
                axis = rng.choice([a for a in (0, 1) if self.pieces[index][a] > 1])
                position = rng.randint(1, self.pieces[index][axis] - 1)
            elif strategy in ("rows first", "columns first"):
                first = 0 if strategy == "rows first" else 1
                tall = [i for i in whole if self.pieces[i][first] > 1]
                index, axis = (tall[0], first) if tall else (whole[0], 1 - first)
                position = 1
            elif strategy == "halve the largest":
                index, axis = largest, 0 if rows >= cols else 1
                position = self.pieces[index][axis] // 2
            else:  # "peel off a strip": cut the thinnest possible strip off the largest piece
                index, axis, position = largest, 0 if rows >= cols else 1, 1
            self.break_piece(index, axis, position)
            trace.append((self.breaks, len(self.pieces), max(r * c for r, c in self.pieces)))
        return trace


def show_source(function) -> None:
    """Print a course function's source, so the notebook shows the code without copying it."""
    from IPython.display import Code, display
    display(Code(inspect.getsource(function), language="python"))


# ----------------------------------------------------------------------------- the human black box

# (top, bottom, left, right) of the eyes and the mouth in scikit-image's 512 x 512 astronaut photo
ASTRONAUT_FEATURES = {"left eye": (92, 114, 190, 221), "right eye": (92, 114, 235, 267), "mouth": (134, 162, 200, 258)}


def thatcherize(image: np.ndarray, boxes=None) -> np.ndarray:
    """The Thatcher illusion (Thompson, 1980): turn each box of ``image`` (H, W[, C]) upside down in place.

    ``boxes`` is a list of (top, bottom, left, right) pixel bounds; ``None`` uses the eyes and mouth
    of ``skimage.data.astronaut()``. Returns a new array; ``image`` is not changed.
    """
    image = np.asarray(image)
    if image.ndim not in (2, 3):
        raise ValueError(f"image must be (H, W) or (H, W, C); got shape {image.shape}")
    boxes = list(ASTRONAUT_FEATURES.values()) if boxes is None else list(boxes)
    out = image.copy()
    for box in boxes:
        if len(box) != 4:
            raise ValueError(f"each box must be (top, bottom, left, right); got {box!r}")
        top, bottom, left, right = (int(b) for b in box)
        if not (0 <= top < bottom <= image.shape[0] and 0 <= left < right <= image.shape[1]):
            raise ValueError(f"box {box!r} does not lie inside an image of shape {image.shape[:2]}")
        out[top:bottom, left:right] = image[top:bottom, left:right][::-1]
    return out


# ----------------------------------------------------------------------------- probing a network

def pooled_features(model, images, batch_size: int = 20):
    """The penultimate layer of ``data.ImageNetClassifier``: the head's 1280 channels averaged over space.

    Returns a (N, 1280) tensor; ``model[1].fc`` applied to it gives the logits (dropout is off in eval mode).
    """
    import torch
    from .checks import check_tensor
    images = check_tensor(images, "images", ndim=4, channels=3)
    check_scalar(batch_size, "batch_size", numbers.Integral, low=1)
    if not hasattr(model, "__getitem__") or not hasattr(model[1], "features"):
        raise TypeError(f"model must be a data.ImageNetClassifier (normalise, EfficientNetLite0); got {type(model).__name__}")
    with torch.no_grad():
        return torch.cat([model[1].features(model[0](images[i:i + batch_size])).mean(dim=(2, 3))
                          for i in range(0, len(images), batch_size)])


def plot_top_k(ax, probs, classes, true_class: int, k: int = 5, colour: str = "tab:blue"):
    """Horizontal bars of the ``k`` most probable classes of one probability vector (length n_classes).

    The true class's bar is drawn hatched in black; when it is not among the top ``k`` it gets an extra
    bar below them, labelled with its rank. The x axis runs from 0 to 1.
    """
    probs = np.asarray(probs, dtype=float)
    if probs.ndim != 1 or len(probs) != len(classes):
        raise ValueError(f"probs must be one vector of {len(classes)} probabilities; got shape {probs.shape}")
    check_scalar(true_class, "true_class", numbers.Integral, low=0, high=len(classes) - 1)
    check_scalar(k, "k", numbers.Integral, low=1, high=len(classes))
    order = np.argsort(-probs)
    rank = int(np.where(order == true_class)[0][0]) + 1
    shown = list(order[:k]) + ([true_class] if rank > k else [])
    y = np.arange(len(shown))[::-1].astype(float)
    if rank > k:
        y[-1] -= 0.5                                          # a gap before the true class's extra bar
    labels = [classes[j] for j in shown]
    if rank > k:
        labels[-1] = f"true: {classes[true_class]} (rank {rank})"
    bars = ax.barh(y, probs[shown], color=[colour] * len(shown))
    for bar, j in zip(bars, shown):
        if j == true_class:
            bar.set_hatch("//")
            bar.set_edgecolor("black")
            bar.set_linewidth(1.5)
            bar.set_facecolor("white" if rank > k else colour)
        ax.text(bar.get_width() + 0.01, bar.get_y() + bar.get_height() / 2, f"{probs[j]:.2f}",
                va="center", fontsize=11)
    ax.set_yticks(y, labels, fontsize=11)
    ax.set_xlim(0, 1)
    ax.set_xlabel(f"softmax probability (hatched: the true class, rank {rank})")
    return ax


def leave_one_group_out_accuracy(X, y, groups, C: float = 1.0) -> float:
    """Accuracy of a logistic-regression probe, each group (here: one photo) held out in turn.

    For every group g a probe (features standardised on the training part) is fitted on all the
    other groups and scored on g; the result is the fraction of all samples predicted right. No
    sample of a held-out photo is ever seen in training, so the probe cannot recognise the photo.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    X = np.asarray(X, dtype=float)
    X = X[:, None] if X.ndim == 1 else X
    y, groups = np.asarray(y), np.asarray(groups)
    if X.ndim != 2 or y.shape != (len(X),) or groups.shape != (len(X),):
        raise ValueError(f"X must be (n, d) and y, groups (n,); got {X.shape}, {y.shape}, {groups.shape}")
    check_scalar(C, "C", numbers.Real, low=0, include_low=False)
    if len(np.unique(groups)) < 2 or len(np.unique(y)) != 2:
        raise ValueError(f"need at least 2 groups and exactly 2 classes; got {len(np.unique(groups))} groups, "
                         f"{len(np.unique(y))} classes")
    right = 0
    for g in np.unique(groups):
        test = groups == g
        probe = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=5000))
        probe.fit(X[~test], y[~test])
        right += int((probe.predict(X[test]) == y[test]).sum())
    return right / len(X)
