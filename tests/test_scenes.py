import numpy as np
import pytest
import torch
from scipy import ndimage

from course_utils.scenes import COLOURS, RGB, SHAPES, Scenes, caption_of, make_scenes, shape_mask


def test_shapes_dtypes_and_range():
    s = make_scenes(7, size=48, n_objects=2, seed=3)
    assert isinstance(s, Scenes)
    assert s.images.shape == (7, 3, 48, 48) and s.images.dtype == torch.float32
    assert 0.0 <= s.images.min() and s.images.max() <= 1.0
    for field in (s.boxes, s.shapes, s.colours, s.captions):
        assert len(field) == 7
    assert all(len(b) == 2 for b in s.boxes)
    assert set(sum(s.shapes, [])) <= set(SHAPES) and set(sum(s.colours, [])) <= set(COLOURS)


def test_deterministic_in_seed():
    a, b, c = make_scenes(5, seed=11), make_scenes(5, seed=11), make_scenes(5, seed=12)
    assert torch.equal(a.images, b.images) and a.boxes == b.boxes and a.captions == b.captions
    assert not torch.equal(a.images, c.images)


@pytest.mark.parametrize("n_objects", [1, 2, 3, 4])
def test_boxes_match_connected_components(n_objects):
    # independent check: scipy's labelling of the non-background pixels finds the same boxes
    s = make_scenes(20, size=64, n_objects=n_objects, seed=n_objects)
    for img, boxes, colours in zip(s.images.numpy(), s.boxes, s.colours):
        fg = (np.abs(img - 0.08) > 1e-6).any(axis=0)
        labels, count = ndimage.label(fg)
        assert count == n_objects
        found = sorted((sl[1].start, sl[0].start, sl[1].stop, sl[0].stop)
                       for sl in ndimage.find_objects(labels))
        assert found == sorted(boxes)
        for (x0, y0, x1, y1), colour in zip(boxes, colours):
            inside = img[:, y0:y1, x0:x1][:, fg[y0:y1, x0:x1]]
            np.testing.assert_allclose(inside.T, np.tile(RGB[colour], (inside.shape[1], 1)), atol=1e-6)


def test_objects_disjoint_and_left_to_right():
    s = make_scenes(50, n_objects=3, seed=0)
    for boxes in s.boxes:
        for left, right in zip(boxes, boxes[1:]):
            assert left[2] < right[0]          # at least one background column between them
        for x0, y0, x1, y1 in boxes:
            assert 0 <= x0 < x1 <= 64 and 0 <= y0 < y1 <= 64


def test_captions():
    s = make_scenes(4, n_objects=1, seed=0)
    assert s.captions[0] == f"a {s.colours[0][0]} {s.shapes[0][0]}"
    s = make_scenes(4, n_objects=2, seed=0)
    c, sh = s.colours[1], s.shapes[1]
    assert s.captions[1] == f"a {c[0]} {sh[0]} left of a {c[1]} {sh[1]}"
    assert caption_of(["circle", "square"], ["red", "blue"]) == "a red circle left of a blue square"


def test_every_shape_and_colour_occurs():
    s = make_scenes(200, n_objects=1, seed=0)
    assert {x[0] for x in s.shapes} == set(SHAPES)
    assert {x[0] for x in s.colours} == set(COLOURS)


def test_shape_masks_fill_their_box():
    for shape in SHAPES:
        for side in (6, 7, 10, 21):
            rows, cols = np.nonzero(shape_mask(shape, side))
            assert (rows.min(), cols.min(), rows.max(), cols.max()) == (0, 0, side - 1, side - 1)


@pytest.mark.parametrize("kwargs, err", [
    (dict(n=0), ValueError), (dict(n=2.5), TypeError), (dict(n=2, size=8), ValueError),
    (dict(n=2, n_objects=0), ValueError), (dict(n=2, n_objects=5), ValueError),
    (dict(n=2, size=16, n_objects=4), ValueError), (dict(n=2, seed=-1), ValueError),
])
def test_bad_input(kwargs, err):
    with pytest.raises(err):
        make_scenes(**kwargs)
    with pytest.raises(ValueError, match="unknown shape"):
        shape_mask("hexagon", 5)
