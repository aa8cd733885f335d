"""Plausible wrong answers to the exercises of notebooks/09_attention.ipynb (see tests/exercise_harness.py)."""

CHANCE = '''
chance_scenes = make_scenes(200, size=32, n_objects=2, seed=7777)
chance_rate = float(np.mean([random_hit_rate(box, 32, 4) for boxes in chance_scenes.boxes for box in boxes]))
'''


def _occlusion(paint="BACKGROUND", index="r * stride:(r + 1) * stride, c * stride:(c + 1) * stride",
               copy="image.clone()", drop="clean - word_prob(hidden)", channels=":",
               centre="c * stride + stride / 2, r * stride + stride / 2", inside="x0 <= x < x1 and y0 <= y < y1",
               branch="elif"):
    return f'''
from course_utils.scenes import BACKGROUND

def occlusion_drops(word_prob, image, attention_map, stride, box):
    H, W = attention_map.shape
    x0, y0, x1, y1 = box
    clean = word_prob(image)
    peak = int(attention_map.argmax())
    attended, on_object, elsewhere = None, [], []
    for cell in range(H * W):
        r, c = divmod(cell, W)
        hidden = {copy}
        hidden[{channels}, {index}] = {paint}
        drop = {drop}
        x, y = {centre}
        if cell == peak:
            attended = drop
        {branch} {inside}:
            on_object.append(drop)
        else:
            elsewhere.append(drop)
    mean = lambda drops: sum(drops) / len(drops) if drops else float("nan")
    return attended, mean(on_object), mean(elsewhere)
'''


MUTANTS = {
    "q1_attention_step": [
        ("does not subtract the maximum (overflows)", '''def attention_step(scores, values):
    e = torch.exp(scores)
    weights = e / e.sum()
    context = (weights[:, None] * values).sum(0)
    return weights, context
'''),
        ("sums the context over the feature axis", '''def attention_step(scores, values):
    e = torch.exp(scores - scores.max())
    weights = e / e.sum()
    context = (weights[:, None] * values).sum(1)
    return weights, context
'''),
        ("normalises the scores linearly, not by softmax", '''def attention_step(scores, values):
    e = scores - scores.min()
    weights = e / e.sum() if e.sum() > 0 else torch.full_like(scores, 1 / len(scores))
    context = (weights[:, None] * values).sum(0)
    return weights, context
'''),
        ("averages the values, ignoring the weights", '''def attention_step(scores, values):
    e = torch.exp(scores - scores.max())
    weights = e / e.sum()
    return weights, values.mean(0)
'''),
    ],
    "q2_pointing_hit": [
        ("swaps x and y (row gives x)", '''def pointing_hit(attention_map, box, stride):
    row, col = divmod(int(attention_map.argmax()), attention_map.shape[1])
    x, y = row * stride + stride / 2, col * stride + stride / 2
    x0, y0, x1, y1 = box
    return bool(x0 <= x < x1 and y0 <= y < y1)
'''),
        ("uses the cell's corner, not its centre", '''def pointing_hit(attention_map, box, stride):
    row, col = divmod(int(attention_map.argmax()), attention_map.shape[1])
    x, y = col * stride, row * stride
    x0, y0, x1, y1 = box
    return bool(x0 <= x < x1 and y0 <= y < y1)
'''),
        ("treats x1, y1 as inclusive", '''def pointing_hit(attention_map, box, stride):
    row, col = divmod(int(attention_map.argmax()), attention_map.shape[1])
    x, y = col * stride + stride / 2, row * stride + stride / 2
    x0, y0, x1, y1 = box
    return bool(x0 <= x <= x1 and y0 <= y <= y1)
'''),
        ("treats x0, y0 as exclusive (strict lower bound)", '''def pointing_hit(attention_map, box, stride):
    row, col = divmod(int(attention_map.argmax()), attention_map.shape[1])
    x, y = col * stride + stride / 2, row * stride + stride / 2
    x0, y0, x1, y1 = box
    return bool(x0 < x < x1 and y0 < y < y1)
'''),
        ("uses the cell's far corner (col + 1) * stride", '''def pointing_hit(attention_map, box, stride):
    row, col = divmod(int(attention_map.argmax()), attention_map.shape[1])
    x, y = (col + 1) * stride, (row + 1) * stride
    x0, y0, x1, y1 = box
    return bool(x0 <= x < x1 and y0 <= y < y1)
'''),
        ("unravels the argmax with the number of rows", '''def pointing_hit(attention_map, box, stride):
    row, col = divmod(int(attention_map.argmax()), attention_map.shape[0])
    x, y = col * stride + stride / 2, row * stride + stride / 2
    x0, y0, x1, y1 = box
    return bool(x0 <= x < x1 and y0 <= y < y1)
'''),
    ],
    "q3_pointing_chance": [
        ("counts cells that overlap the box, not centres inside it", '''def random_hit_rate(box, image_size, stride):
    starts = np.arange(image_size // stride) * stride
    x0, y0, x1, y1 = box
    inside_x = ((starts + stride > x0) & (starts < x1)).sum()
    inside_y = ((starts + stride > y0) & (starts < y1)).sum()
    return float(inside_x * inside_y) / len(starts) ** 2
''' + CHANCE),
        ("the box's share of the pixels", '''def random_hit_rate(box, image_size, stride):
    x0, y0, x1, y1 = box
    return (x1 - x0) * (y1 - y0) / image_size ** 2
''' + CHANCE),
        ("x1, y1 inclusive", '''def random_hit_rate(box, image_size, stride):
    centres = np.arange(image_size // stride) * stride + stride / 2
    x0, y0, x1, y1 = box
    inside_x = ((centres >= x0) & (centres <= x1)).sum()
    inside_y = ((centres >= y0) & (centres <= y1)).sum()
    return float(inside_x * inside_y) / len(centres) ** 2
''' + CHANCE),
        ("divides by the number of cells in one row", '''def random_hit_rate(box, image_size, stride):
    centres = np.arange(image_size // stride) * stride + stride / 2
    x0, y0, x1, y1 = box
    inside_x = ((centres >= x0) & (centres < x1)).sum()
    inside_y = ((centres >= y0) & (centres < y1)).sum()
    return float(inside_x * inside_y) / len(centres)
''' + CHANCE),
    ],
    "q4_occlusion": [
        ("paints the cell black (0) instead of the background", _occlusion(paint="0.0")),
        ("swaps rows and columns when painting", _occlusion(index="c * stride:(c + 1) * stride, r * stride:(r + 1) * stride")),
        ("paints the image itself (no copy)", _occlusion(copy="image")),
        ("returns the rise, not the drop", _occlusion(drop="word_prob(hidden) - clean")),
        ("paints only the first channel", _occlusion(channels="0")),
        ("the object control includes the attended cell", _occlusion(branch="if")),
        ("tests the cell's top-left corner, not its centre", _occlusion(centre="c * stride, r * stride")),
        ("treats x1 and y1 as inclusive", _occlusion(inside="x0 <= x <= x1 and y0 <= y <= y1")),
        ("takes x from the row and y from the column", _occlusion(centre="r * stride + stride / 2, c * stride + stride / 2")),
        ("the control averages every other cell (the old, easy control)", _occlusion(inside="True")),
    ],
}
