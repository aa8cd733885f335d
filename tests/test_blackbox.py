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


def test_break_with_every_strategy_needs_the_same_breaks():
    for strategy in blackbox.STRATEGIES:
        for rows, cols in [(3, 5), (1, 1), (4, 7)]:
            trace = blackbox.ChocolateBar(rows, cols).break_with(strategy, seed=3)
            assert trace[0] == (0, 1, rows * cols) and trace[-1] == (rows * cols - 1, rows * cols, 1)
            assert all(pieces == breaks + 1 for breaks, pieces, _ in trace)
    largest = {s: [t[2] for t in blackbox.ChocolateBar(3, 5).break_with(s, seed=1)] for s in blackbox.STRATEGIES}
    assert len({tuple(v) for v in largest.values()}) > 1          # the strategies really differ
    with pytest.raises(ValueError, match="strategy"):
        blackbox.ChocolateBar(3, 5).break_with("smash")


def test_thatcherize_turns_each_box_over():
    image = np.arange(6 * 5 * 3).reshape(6, 5, 3)
    out = blackbox.thatcherize(image, [(1, 4, 0, 2)])
    assert np.array_equal(out[1:4, 0:2], image[1:4, 0:2][::-1])
    assert np.array_equal(out[:, 2:], image[:, 2:]) and np.array_equal(out[[0, 4, 5]], image[[0, 4, 5]])
    assert image[1, 0, 0] == 15                                    # the input is not changed
    skdata = pytest.importorskip("skimage.data")
    face = skdata.astronaut()
    assert not np.array_equal(blackbox.thatcherize(face), face)
    with pytest.raises(ValueError, match="inside"):
        blackbox.thatcherize(image, [(0, 9, 0, 2)])
    with pytest.raises(ValueError, match="top, bottom, left, right"):
        blackbox.thatcherize(image, [(0, 2, 0)])
    with pytest.raises(ValueError, match="shape"):
        blackbox.thatcherize(np.zeros(4))


def test_leave_one_group_out_accuracy():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(10), 4)
    y = np.tile([0, 0, 1, 1], 10)
    X = rng.normal(size=(40, 3)) + 3 * y[:, None]
    assert blackbox.leave_one_group_out_accuracy(X, y, groups) == 1.0
    noise = rng.normal(size=(40, 3))
    assert blackbox.leave_one_group_out_accuracy(noise, y, groups) < 0.8
    assert blackbox.leave_one_group_out_accuracy(X[:, 0], y, groups) > 0.9      # one feature as a 1-d array
    with pytest.raises(ValueError, match="groups"):
        blackbox.leave_one_group_out_accuracy(X, y, np.zeros(40))
    with pytest.raises(ValueError, match="classes"):
        blackbox.leave_one_group_out_accuracy(X, np.zeros(40), groups)
    with pytest.raises(ValueError, match="X must be"):
        blackbox.leave_one_group_out_accuracy(X, y[:5], groups)
    with pytest.raises(ValueError, match="C"):
        blackbox.leave_one_group_out_accuracy(X, y, groups, C=0)


def test_pooled_features_give_the_logits():
    import torch
    from course_utils import data
    from course_utils.models import EfficientNetLite0
    torch.manual_seed(0)
    model = data.ImageNetClassifier(EfficientNetLite0()).eval()
    images = torch.rand(3, 3, 64, 64)
    f = blackbox.pooled_features(model, images, batch_size=2)
    assert f.shape == (3, 1280)
    with torch.no_grad():
        assert torch.allclose(model[1].fc(f), model(images), atol=1e-5)
    with pytest.raises(ValueError):
        blackbox.pooled_features(model, images[:, :2])
    with pytest.raises(TypeError, match="ImageNetClassifier"):
        blackbox.pooled_features(torch.nn.Identity(), images)


def test_plots_validate_and_draw():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    probs = np.full(10, 0.02)
    probs[[3, 7, 0]] = [0.5, 0.3, 0.04]
    blackbox.plot_top_k(ax, probs, [f"c{i}" for i in range(10)], true_class=0, k=2)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["c3", "c7", "true: c0 (rank 3)"]
    with pytest.raises(ValueError, match="probabilities"):
        blackbox.plot_top_k(ax, probs[:5], [f"c{i}" for i in range(10)], true_class=0)
    with pytest.raises(ValueError, match="true_class"):
        blackbox.plot_top_k(ax, probs, [f"c{i}" for i in range(10)], true_class=10)
    with pytest.raises(ValueError, match="vmax"):
        blackbox.plot_board(blackbox.chess_distances("king", "a1"), "a1", "king", vmax=3)
    ax = blackbox.plot_board(blackbox.chess_distances("knight", "a1"), "a1", "knight", vmax=7)
    assert [int(t) for t in ax.figure.axes[-1].get_yticks()] == list(range(8))
    ax = blackbox.plot_coloured_graph([0, 0, 1], [(0, 1), (1, 2)], path=[0, 1, 2])
    assert any("colour changes" in t.get_text() for t in ax.get_legend().get_texts())
    plt.close("all")
