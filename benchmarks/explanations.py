"""Lecture 11: the method x metric table, the Quantus cross-check errors, and speed against Quantus and captum.

    python benchmarks/explanations.py [--repeats 5]

Writes benchmarks/results/explanations.json. Every ratio is ours / theirs on the same inputs and the
same work, each side timed best-of-``repeats`` in one run, interleaved (goal: <= 1.0 each); the
outputs are compared first, so a ratio is only reported at equal output.
"""
from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch

from _common import print_table, write_results

from course_utils import attribution as at, data, evaluation as ev
from course_utils.models import FashionCNN
from course_utils.train import TrainConfig, load_or_fit, one_thread, seed_everything

warnings.filterwarnings("ignore")


def best_of(fn, repeats):
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def race(ours, theirs, repeats):
    """Interleave the two so that load changes hit both alike; best time of each."""
    t_ours, t_theirs, out_ours, out_theirs = float("inf"), float("inf"), None, None
    for _ in range(repeats):
        s = time.perf_counter()
        out_ours = ours()
        t_ours = min(t_ours, time.perf_counter() - s)
        s = time.perf_counter()
        out_theirs = theirs()
        t_theirs = min(t_theirs, time.perf_counter() - s)
    return t_ours, t_theirs, out_ours, out_theirs


def fashion_network():
    X_train, y_train = data.fashion_mnist("train", verbose=False)
    X_test, y_test = data.fashion_mnist("test", verbose=False)
    config = TrainConfig(model="fashion-cnn", dataset="fashion-mnist", epochs=1, lr=3e-3, batch_size=256, seed=0)
    seed_everything(0)
    with one_thread():
        net, info = load_or_fit(FashionCNN(width=8), (X_train, y_train), (X_test, y_test), config,
                                extra={"arch": "FashionCNN(n_classes=10, width=8)"}, verbose=False)
    with torch.no_grad():
        right = (net(X_test[:200]).argmax(1) == y_test[:200]).nonzero()[:, 0]
    return net, info, X_test[right[:32]], y_test[right[:32]].tolist()


SETTINGS = {"Grad-CAM": {"layer": "features.4"}, "Integrated Gradients": {"steps": 32, "batch_size": 256},
            "SmoothGrad": {"n_samples": 16, "seed": 0, "batch_size": 256}, "occlusion": {"window": 8, "stride": 4}}


def method_table(net, xs, ts):
    explain = {m: at.explainer(m, **SETTINGS.get(m, {})) for m in at.METHODS}
    maps = {m: explain[m](net, xs, ts) for m in at.METHODS}
    rows = {}
    for m, rel in maps.items():
        cascade = ev.model_randomisation(net, explain[m], xs, ts, relevance=rel)
        scores = {"deletion AUC": ev.curve_auc(ev.perturbation_curve(net, xs, rel, ts, "deletion", "black", 16)),
                  "insertion AUC": ev.curve_auc(ev.perturbation_curve(net, xs, rel, ts, "insertion", "blur", 16)),
                  "pixel flipping AUC": ev.pixel_flipping(net, xs, rel, ts, 28)[1],
                  "ROAD MoRF": ev.road(net, xs[:16], rel[:16], ts[:16], (20, 50, 80), "most").mean(1),
                  "ROAD LeRF": ev.road(net, xs[:16], rel[:16], ts[:16], (20, 50, 80), "least").mean(1),
                  "randomisation": np.nan_to_num(list(cascade.values())[-1], nan=0.0),
                  "random logit": np.nan_to_num(ev.random_logit(net, explain[m], xs, ts, relevance=rel), nan=0.0),
                  "Gini": ev.sparseness(rel), "entropy": ev.complexity(rel)}
        rows[m] = {k: dict(zip(["mean", "ci_low", "ci_high"], ev.bootstrap_ci(v))) for k, v in scores.items()}
    return rows, maps, explain


def quantus_checks(net, xs, ts, maps, explain, repeats):
    import quantus
    y = np.array(ts)
    x_np = xs.numpy()
    rel = maps["Integrated Gradients"]
    a_np = rel[:, None].numpy()
    kw = dict(model=net, x_batch=x_np, y_batch=y, a_batch=a_np, device="cpu")

    def qexplain(fn):
        return lambda model, inputs, targets, **k: fn(model, torch.as_tensor(inputs), torch.as_tensor(targets).tolist())[:, None].detach().numpy()

    rows = []

    def record(metric, ours, theirs, compare):
        t_o, t_t, o, q = race(ours, theirs, repeats)
        rows.append({"metric": metric, "max_abs_error": float(compare(o, q)), "ours_s": round(t_o, 4),
                     "quantus_s": round(t_t, 4), "ratio": round(t_o / t_t, 3)})

    pf = quantus.PixelFlipping(features_in_step=28, perturb_baseline=0.0, normalise=False, disable_warnings=True)
    record("pixel flipping (curves, 28 px a step)", lambda: ev.pixel_flipping(net, xs, rel, ts, 28)[0],
           lambda: np.array(pf(**kw, softmax=True)), lambda o, q: np.abs(o - q).max())
    pf49 = quantus.PixelFlipping(features_in_step=49, perturb_baseline=0.0, normalise=False, disable_warnings=True)
    with torch.no_grad():
        p0 = net(xs).softmax(1)[torch.arange(len(xs)), torch.tensor(ts)].numpy()
    record("deletion AUC (16 steps, black)",
           lambda: ev.curve_auc(ev.perturbation_curve(net, xs, rel, ts, "deletion", "black", 16)),
           lambda: np.trapezoid(np.concatenate([p0[:, None], np.array(pf49(**kw, softmax=True))], 1), axis=1) / 16,
           lambda o, q: np.abs(o - q).max())
    road_q = quantus.ROAD(percentages=[20, 50, 80], noise=0.0, normalise=False, disable_warnings=True)

    def quantus_road():
        road_q(**kw)
        return np.array([road_q.evaluation_scores[p] for p in (20, 50, 80)])
    record("ROAD MoRF (noise 0, accuracy per percentage)",
           lambda: ev.road(net, xs, rel, ts, (20, 50, 80), noise=0.0).mean(0), quantus_road,
           lambda o, q: np.abs(o - q).max())
    boxes = [(4 + i % 8, 3 + i % 5, 18 + i % 8, 20 + i % 5) for i in range(len(xs))]
    masks = np.zeros((len(xs), 1, 28, 28))
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        masks[i, 0, y0:y1, x0:x1] = 1
    pg = quantus.PointingGame(normalise=False, disable_warnings=True)
    record("pointing game (hits)", lambda: ev.pointing_game(rel, boxes).astype(float),
           lambda: np.array(pg(**kw, s_batch=masks), dtype=float), lambda o, q: np.abs(o - q).max())
    grad = explain["gradient"]
    mprt = quantus.MPRT(similarity_func=quantus.similarity_func.correlation_spearman, normalise=False, abs=True,
                        seed=0, disable_warnings=True)
    record("model-parameter randomisation (gradient, every layer)",
           lambda: ev.model_randomisation(net, grad, xs, ts),
           lambda: mprt(model=net, x_batch=x_np, y_batch=y, a_batch=None, explain_func=qexplain(grad), device="cpu"),
           lambda o, q: max(np.nan_to_num(np.abs(np.array(q[k]) - v)).max() for k, v in o.items()))
    rl = quantus.RandomLogit(similarity_func=quantus.similarity_func.correlation_spearman, num_classes=10, seed=0,
                             normalise=False, abs=True, disable_warnings=True)
    record("random logit (gradient)", lambda: ev.random_logit(net, grad, xs, ts),
           lambda: np.array(rl(model=net, x_batch=x_np, y_batch=y, a_batch=None, explain_func=qexplain(grad), device="cpu")),
           lambda o, q: np.nan_to_num(np.abs(o - q)).max())
    sp = quantus.Sparseness(disable_warnings=True)
    record("sparseness (Gini)", lambda: ev.sparseness(rel), lambda: np.array(sp(**kw)), lambda o, q: np.abs(o - q).max())
    cx = quantus.Complexity(normalise=False, disable_warnings=True)
    record("complexity (entropy)", lambda: ev.complexity(rel), lambda: np.array(cx(**kw)), lambda o, q: np.abs(o - q).max())
    return rows


def captum_races(net, xs, ts, repeats):
    from captum.attr import IntegratedGradients, LayerAttribution, LayerGradCam, NoiseTunnel, Saliency
    lite = data.imagenet_classifier(verbose=False)
    photo = data.photos("imagenet", size=128, verbose=False)
    cases = [("Fashion-MNIST CNN, 32 images", net, xs, ts, "features.4"),
             ("EfficientNet-Lite0, 2 photos at 128 px", lite, photo.images[[16, 0]], photo.labels[[16, 0]].tolist(), "1.head")]
    rows = []
    for name, model, x, t, layer in cases:
        module = model.get_submodule(layer)
        ig_batch = 256 if model is net else 8

        def captum_gradcam():
            cam = LayerGradCam(model, module).attribute(x, target=t, relu_attributions=True)
            return LayerAttribution.interpolate(cam, x.shape[-2:], interpolate_mode="bilinear").detach()

        def captum_smoothgrad():
            torch.manual_seed(0)
            sigma = float(0.15 * (x[0].max() - x[0].min()))
            return NoiseTunnel(Saliency(model)).attribute(x[:1], nt_type="smoothgrad", nt_samples=8, stdevs=sigma,
                                                          target=t[0], abs=False, nt_samples_batch_size=8)

        races = [("Grad-CAM", lambda: at.grad_cam(model, x, t, layer), captum_gradcam),
                 ("Integrated Gradients (16 steps, midpoint)",
                  lambda: at.integrated_gradients(model, x, t, steps=16, batch_size=ig_batch),
                  lambda: IntegratedGradients(model).attribute(x, target=t, n_steps=16, method="riemann_middle",
                                                               internal_batch_size=ig_batch)),
                 ("SmoothGrad (8 samples)", lambda: at.smoothgrad(model, x[0], t[0], 8, 0.15, seed=0, batch_size=8),
                  lambda: captum_smoothgrad()[0])]
        for method, ours, theirs in races:
            t_o, t_t, o, q = race(ours, theirs, repeats)
            rows.append({"network": name, "method": method,
                         "max_abs_difference_relative": float((o - q).abs().max() / q.abs().max()),
                         "ours_s": round(t_o, 4), "captum_s": round(t_t, 4), "ratio": round(t_o / t_t, 3)})
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    net, info, xs, ts = fashion_network()
    start = time.perf_counter()
    table, maps, explain = method_table(net, xs, ts)
    table_seconds = time.perf_counter() - start
    metric_rows = quantus_checks(net, xs, ts, maps, explain, args.repeats)
    method_rows = captum_races(net, xs, ts, args.repeats)
    print_table(metric_rows, ["metric", "max_abs_error", "ours_s", "quantus_s", "ratio"])
    print()
    print_table(method_rows, ["network", "method", "max_abs_difference_relative", "ours_s", "captum_s", "ratio"])
    write_results("explanations", {
        "what": "lecture 11: method x metric table on the Fashion-MNIST CNN (32 test images, bootstrap 95% CIs over "
                "images; ROAD on the first 16); Quantus 0.6.0 cross-check errors and time ratios ours/Quantus on the "
                "same inputs; time ratios ours/captum at equal output (goal <= 1.0 each)",
        "fashion_cnn_test_accuracy": info["test_accuracy"], "repeats": args.repeats,
        "table_seconds": round(table_seconds, 2), "table": table,
        "metrics_vs_quantus": metric_rows, "methods_vs_captum": method_rows})


if __name__ == "__main__":
    main()
