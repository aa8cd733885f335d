"""Occlusion and guided backprop: course_utils against captum, same settings, same machine.

    python benchmarks/attribution.py            # writes benchmarks/results/attribution.json

Cases: EfficientNet-Lite0 on a 224x224 photo (occlusion window 32, stride 8) and a small CNN on
32x32 inputs. Times are wall-clock seconds (best of ``--repeats`` for the fast cases); every row
also reports the largest absolute difference between the two outputs.
"""
from __future__ import annotations

import argparse
import copy
import statistics
import time
import warnings

import torch
from torch import nn

from _common import write_results
from course_utils import backprop as bp
from course_utils import data
from course_utils import occlusion as oc
from course_utils.models import PhotoCNN


def timed(fn, repeats=1):
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return out, min(times), times


def race(fa, fb, repeats):
    """Time two functions alternately (a, b, a, b, ...) so both see the same machine load; best of each."""
    ta, tb = [], []
    for _ in range(repeats):
        a, t = timed(fa)[:2]
        ta.append(t)
        b, t = timed(fb)[:2]
        tb.append(t)
    return a, b, min(ta), min(tb), ta, tb


def relu_copy(model):
    """The same network with every ReLU6 replaced by ReLU: a model on which captum is correct."""
    model = copy.deepcopy(model)
    for module in model.modules():
        for name, child in module.named_children():
            if isinstance(child, nn.ReLU6):
                setattr(module, name, nn.ReLU())
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--lite0-stride", type=int, default=8)
    args = parser.parse_args()
    from captum.attr import GuidedBackprop, Occlusion
    warnings.filterwarnings("ignore", module="captum")
    torch.manual_seed(0)
    rows = []

    def row(case, method, ours, captum, out_ours, out_captum, note=""):
        diff = (out_ours - out_captum).abs().max().item()
        relative = diff / max(out_captum.abs().max().item(), 1e-30)
        rows.append({"case": case, "method": method, "ours_s": ours, "captum_s": captum, "ratio": ours / captum,
                     "max_abs_diff": diff, "max_diff_relative_to_max_abs_output": relative, "note": note})
        print(f"{case:34s} {method:22s} ours {ours:8.3f} s  captum {captum:8.3f} s  ratio {ours / captum:5.2f}  "
              f"max|diff| {diff:.2e} ({relative:.1e} of max)  {note}", flush=True)

    # ---- small CNN on 32x32 inputs (random weights: timing and agreement do not need training)
    small = PhotoCNN(n_classes=10, conv1_kernel=5, width=32).eval()
    xs = torch.rand(8, 3, 32, 32)
    target = torch.arange(8) % 10
    gb_ours, t_ours, _ = timed(lambda: bp.guided_backprop(small, xs, target), args.repeats)
    # PhotoCNN uses functional relu, which captum cannot see; compare on an equivalent module-ReLU net.
    small_mod = nn.Sequential(nn.Conv2d(3, 32, 5, 2, 2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 5, padding=2),
                              nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(),
                              nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, 10)).eval()
    small_mod.load_state_dict({k: v for k, v in zip(small_mod.state_dict(), small.state_dict().values())})
    gb_mod, gb_cap, t_ours_mod, t_cap, _, _ = race(lambda: bp.guided_backprop(small_mod, xs, target),
                                                   lambda: GuidedBackprop(small_mod).attribute(xs, target=target),
                                                   30 * args.repeats)   # 2-3 ms calls: more repeats against noise
    row("small CNN 8x32x32", "guided backprop", t_ours_mod, t_cap, gb_mod, gb_cap,
        f"best of {30 * args.repeats}; functional-relu PhotoCNN: {t_ours:.3f} s, max|diff| to module net {(gb_ours - gb_cap).abs().max().item():.1e}")

    x1 = xs[:1]
    occ_kwargs = dict(window=8, stride=2, baseline=0.5)
    occ = Occlusion(small)
    o_inc, o_cap, t_inc, t_cap1, _, _ = race(
        lambda: oc.occlusion(small, x1, 3, method="incremental", **occ_kwargs),
        lambda: occ.attribute(x1, target=3, sliding_window_shapes=(3, 8, 8), strides=(3, 2, 2), baselines=0.5), 3)
    o_den, o_cap64, t_den, t_cap64, _, _ = race(
        lambda: oc.occlusion(small, x1, 3, method="dense", **occ_kwargs),
        lambda: occ.attribute(x1, target=3, sliding_window_shapes=(3, 8, 8), strides=(3, 2, 2), baselines=0.5,
                              perturbations_per_eval=64), 3)
    n_pos = len(oc.occluder_positions(32, 8, 2)) ** 2
    row("small CNN 32x32, w8 s2", "occlusion incremental", t_inc, t_cap1, o_inc, o_cap,
        f"{n_pos} positions; captum perturbations_per_eval=1")
    row("small CNN 32x32, w8 s2", "occlusion dense", t_den, t_cap64, o_den, o_cap64,
        "captum perturbations_per_eval=64")

    # ---- EfficientNet-Lite0 on a 224x224 photo
    model = data.imagenet_classifier(verbose=False)
    photos = data.photos("imagenet", verbose=False)
    x, label = photos.images[:1], int(photos.labels[0])
    # The goal is "at equal output". captum's GuidedBackprop gates only nn.ReLU modules, so on Lite0
    # (ReLU6 everywhere) it leaves the rectifiers ungated and computes a different map; the equal-output
    # race is on the same network with ReLU6 swapped for ReLU, where captum is correct.
    relu_model = relu_copy(model)
    gb_ours, gb_cap, t_ours, t_cap, times_ours, times_cap = race(
        lambda: bp.guided_backprop(relu_model, x, label), lambda: GuidedBackprop(relu_model).attribute(x, target=label),
        args.repeats)
    row("Lite0 224x224 (ReLU copy)", "guided backprop", t_ours, t_cap, gb_ours, gb_cap,
        f"equal output up to float rounding (ours folds BatchNorm into the convolutions); best of {args.repeats}; "
        f"median ours {statistics.median(times_ours):.3f} s, captum {statistics.median(times_cap):.3f} s")
    # Which float32 map is nearer the exact one? A float64 run of the same network is the referee, on
    # five photos: a rounding difference can flip a near-zero gate, in either implementation.
    double = copy.deepcopy(relu_model).double()
    against = {"ours": [], "captum": []}
    for image, target in zip(photos.images[:5], photos.labels[:5].tolist()):
        image, target = image[None], int(target)
        exact = GuidedBackprop(double).attribute(image.double(), target=target).float()
        for name, out in [("ours", bp.guided_backprop(relu_model, image, target)),
                          ("captum", GuidedBackprop(relu_model).attribute(image, target=target))]:
            against[name].append(((out - exact).abs().max() / exact.abs().max()).item())
    rows[-1]["max_diff_to_float64_relative_5_photos"] = against
    print("    against float64, 5 photos:", {k: [f"{v:.1e}" for v in vs] for k, vs in against.items()})
    gb_ours, gb_cap, t_ours, t_cap, times_ours, times_cap = race(
        lambda: bp.guided_backprop(model, x, label), lambda: GuidedBackprop(model).attribute(x, target=label),
        args.repeats)
    row("Lite0 224x224 (ReLU6)", "guided backprop", t_ours, t_cap, gb_ours, gb_cap,
        "not equal output: ours gates the ReLU6s too, captum leaves them ungated; "
        f"median ours {statistics.median(times_ours):.3f} s, captum {statistics.median(times_cap):.3f} s")

    s = args.lite0_stride
    n_pos = len(oc.occluder_positions(224, 32, s)) ** 2
    o_inc, t_inc, _ = timed(lambda: oc.occlusion(model, x, label, 32, s, 0.5, method="incremental"))
    o_cap, t_cap, _ = timed(lambda: Occlusion(model).attribute(x, target=label, sliding_window_shapes=(3, 32, 32),
                                                               strides=(3, s, s), baselines=0.5))
    o_den, t_den, _ = timed(lambda: oc.occlusion(model, x, label, 32, s, 0.5, method="dense", batch_size=16))
    row(f"Lite0 224x224, w32 s{s}", "occlusion incremental", t_inc, t_cap, o_inc, o_cap,
        f"{n_pos} positions; captum perturbations_per_eval=1 (its default)")
    row(f"Lite0 224x224, w32 s{s}", "occlusion dense", t_den, t_cap, o_den, o_cap,
        "batches of 16 whole occluded images")

    write_results("attribution", {"rows": rows, "note": "ratios come from alternating back-to-back runs (best of "
                                  "--repeats); absolute times grow with the machine's load"})


if __name__ == "__main__":
    main()
