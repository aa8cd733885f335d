import numpy as np
import pytest

from course_utils import blackbox


def test_king_distance_is_chebyshev():
    d = blackbox.chess_distances("king", "c3")
    r0, c0 = blackbox.parse_square("c3")
    rows, cols = np.indices((8, 8))
    assert np.array_equal(d, np.maximum(abs(rows - r0), abs(cols - c0)))


def test_knight_reaches_everything_bishop_half():
    knight = blackbox.chess_distances("knight", "a1")
    assert (knight >= 0).all() and knight.max() == 6 and knight[7, 7] == 6
    bishop = blackbox.chess_distances("bishop", "a1")
    rows, cols = np.indices((8, 8))
    assert np.array_equal(bishop >= 0, (rows + cols) % 2 == 0)
    assert blackbox.chess_distances("queen", "d4").max() == 2
    assert blackbox.chess_distances("rook", "h8").max() == 2


def test_knight_matches_networkx_shortest_paths():
    nx = pytest.importorskip("networkx")
    g = nx.Graph()
    for r in range(8):
        for c in range(8):
            g.add_edges_from(((r, c), m) for m in blackbox.piece_moves("knight", (r, c)))
    lengths = nx.single_source_shortest_path_length(g, (0, 0))
    d = blackbox.chess_distances("knight", "a1")
    assert all(d[sq] == n for sq, n in lengths.items())


@pytest.mark.parametrize("square", ["i1", "a9", "a0", "", "e"])
def test_bad_squares(square):
    with pytest.raises(ValueError, match="square"):
        blackbox.parse_square(square)


def test_bad_piece_and_types():
    with pytest.raises(ValueError, match="piece"):
        blackbox.chess_distances("pawn", "a1")
    with pytest.raises(TypeError):
        blackbox.parse_square(11)


def test_coloured_graph_invariant():
    colours, edges = blackbox.random_coloured_graph(50, 4, 0.3, seed=2)
    assert edges and all(colours[u] == colours[v] for u, v in edges)
    for seed in range(20):
        path = blackbox.random_walk(edges, 50, start=seed, length=30, seed=seed)
        assert len({colours[n] for n in path}) == 1
    with pytest.raises(ValueError):
        blackbox.random_coloured_graph(10, 2, p_edge=1.5)


def test_chocolate_bar_invariant():
    for rows, cols in [(3, 5), (1, 1), (4, 7)]:
        for seed in range(10):
            assert blackbox.ChocolateBar(rows, cols).break_randomly(seed) == rows * cols - 1
    bar = blackbox.ChocolateBar(3, 5)
    with pytest.raises(ValueError, match="position"):
        bar.break_piece(0, 0, 3)
    with pytest.raises(ValueError, match="axis"):
        bar.break_piece(0, 2, 1)
    with pytest.raises(ValueError, match="index"):
        bar.break_piece(1, 0, 1)


def test_board_widget_recomputes_on_change(monkeypatch):
    pytest.importorskip("ipywidgets")
    import matplotlib
    matplotlib.use("Agg")
    calls = []
    real = blackbox.chess_distances
    monkeypatch.setattr(blackbox, "chess_distances", lambda p, s: calls.append((p, s)) or real(p, s))
    box = blackbox.board_widget("king", "a1")
    piece, start = box.children[0].children
    piece.value = "bishop"
    start.value = "b1"
    assert calls == [("king", "a1"), ("bishop", "a1"), ("bishop", "b1")]
