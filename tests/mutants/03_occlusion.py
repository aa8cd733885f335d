"""Plausible wrong answers to lecture 03's exercises (see tests/exercise_harness.py)."""

_COPIES = '''def occluded_copies(image, window, stride, baseline):
    size = image.shape[-1]
    starts = {starts}
    copies = []
    for top in starts:
        for left in starts:
            occluded = {copy}
            occluded[{channels}, top:top + {window}, left:left + {window}] = baseline
            copies.append(occluded)
    return torch.stack(copies){order}
'''
_CEIL = "[i * stride for i in range(math.ceil((size - window) / stride) + 1)]"


def copies(starts=_CEIL, copy="image.clone()", channels=":", window="window", order=""):
    return _COPIES.format(starts=starts, copy=copy, channels=channels, window=window, order=order)


_ATTR = '''def occlusion_attribution(model, image, target, window, stride, baseline):
    size = image.shape[-1]
    starts = {starts}
    total = torch.zeros(size, size)
    count = torch.zeros(size, size)
    with torch.no_grad():
        clean = model(image[None]){prob}[0, target]
        for top in starts:
            for left in starts:
                occluded = image.clone()
                occluded[:, top:top + window, left:left + window] = baseline
                drop = {drop}
                total[top:top + window, left:left + window] += drop
                count[top:top + window, left:left + window] += 1
    return {result}
'''


def attribution(starts=_CEIL, prob=".softmax(dim=1)", drop=None, result="total / count"):
    drop = drop or f"clean - model(occluded[None]){prob}[0, target]"
    return _ATTR.format(starts=starts, prob=prob, drop=drop, result=result)


_POINT = '''def points_inside(prob_map, box, size, window, stride):
    n = prob_map.shape[1]
    i, j = divmod(int(prob_map.flatten().{extremum}()), n)
    top, left = i * stride, j * stride
    y = {y}
    x = {x}
    x0, y0, x1, y1 = box
    return bool({test})
'''


def point(extremum="argmin", y="(top + min(top + window, size)) / 2 - 0.5", x="(left + min(left + window, size)) / 2 - 0.5",
          test="x0 <= x < x1 and y0 <= y < y1"):
    return _POINT.format(extremum=extremum, y=y, x=x, test=test)


MUTANTS = {
    "q1_n_positions": [
        ("rounds down, so the cut-off last square is lost", '''def n_positions(size, window, stride):
    return (size - window) // stride + 1
'''),
        ("forgets the first position (+1)", '''def n_positions(size, window, stride):
    return math.ceil((size - window) / stride)
'''),
        ("divides the whole size by the stride", '''def n_positions(size, window, stride):
    return math.ceil(size / stride)
'''),
        ("counts size // stride positions", '''def n_positions(size, window, stride):
    return size // stride
'''),
    ],
    "q2_occluded_copies": [
        ("rounds the number of positions down (no cut-off square)",
         copies(starts="[i * stride for i in range((size - window) // stride + 1)]")),
        ("orders the copies column-major", copies(order=".reshape(len(starts), len(starts), *image.shape).transpose(0, 1)"
                                                        ".reshape(-1, *image.shape)")),
        ("paints on the input image instead of a copy", '''def occluded_copies(image, window, stride, baseline):
    size = image.shape[-1]
    starts = [i * stride for i in range(math.ceil((size - window) / stride) + 1)]
    copies = []
    for top in starts:
        for left in starts:
            saved = image[:, top:top + window, left:left + window].clone()
            image[:, top:top + window, left:left + window] = baseline
            copies.append(image.clone())
    return torch.stack(copies)
'''),
        ("hides the first channel only", copies(channels="0")),
        ("makes the square one pixel too large", copies(window="window + 1")),
    ],
    "q3_occlusion_attribution": [
        ("sums the drops instead of averaging over the covering squares", attribution(result="total")),
        ("gets the sign the wrong way round (occluded minus clean)",
         attribution(drop="model(occluded[None]).softmax(dim=1)[0, target] - clean")),
        ("uses logits instead of softmax probabilities", attribution(prob="")),
        ("rounds the number of positions down, so the edge is never hidden",
         attribution(starts="[i * stride for i in range((size - window) // stride + 1)]",
                     result="total / count.clamp(min=1)")),
        ("divides by the number of positions instead of the squares covering each pixel",
         attribution(result="total / len(starts) ** 2")),
        ("accumulates with rows and columns swapped",
         attribution().replace("total[top:top + window, left:left + window] += drop",
                               "total[left:left + window, top:top + window] += drop")),
        ("keeps the largest drop of the covering squares instead of their mean",
         attribution(result="total").replace(
             "total[top:top + window, left:left + window] += drop",
             "total[top:top + window, left:left + window] = torch.maximum(total[top:top + window, left:left + window], drop)")),
        ("overwrites instead of accumulating the covering squares' drops",
         attribution().replace("total[top:top + window, left:left + window] += drop",
                               "total[top:top + window, left:left + window] = drop")),
    ],
    "q4_points_inside": [
        ("takes the highest probability, not the lowest", point(extremum="argmax")),
        ("swaps x and y", point(test="x0 <= y < x1 and y0 <= x < y1")),
        ("uses the square's top-left corner instead of its centre", point(y="top", x="left")),
        ("ignores the cut-off (centre of the whole square)", point(y="top + window / 2 - 0.5", x="left + window / 2 - 0.5")),
        ("treats x1 and y1 as inclusive", point(test="x0 <= x <= x1 and y0 <= y <= y1")),
    ],
}
