"""Does every claim a notebook asserts hold on other seeds, other kernels and one thread?

Each lecture whose asserted results depend on training or on random data is run top to bottom, as
a student runs it, with an empty checkpoint cache, once per variant:

* ``seed0`` ... ``seed4``: every training seed shifted by 0, 1000, ..., 4000 (``COURSE_SEED_OFFSET``);
* ``default-kernels``: seed 0 with ``ATEN_CPU_CAPABILITY=default`` (PyTorch's non-vectorised
  kernels: a stand-in for another CPU, whose floating-point paths differ);
* ``one-thread``: seed 0 with one torch thread (``OMP_NUM_THREADS=1``).

Lecture 12 trains nothing and seeds its own optimisations, so it runs only seed0 and the other two.

After the run, the values behind the notebook's final assertions are read from its kernel and
compared with the bound each assertion uses. ``benchmarks/results/robustness.json`` keeps every
value of every run, with mean, standard deviation and the worst run, and whether the notebook's own
assertions passed.

    python benchmarks/robustness.py                       # all lectures, all variants (about an hour)
    python benchmarks/robustness.py 09_attention --variants seed0 seed1
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from _common import RESULTS, ROOT, print_table, write_results

# Offsets of 1000 keep the seed sets apart: a lecture that trains seeds 0-7 itself gets 1000-1007 next.
VARIANTS = {f"seed{k}": {"COURSE_SEED_OFFSET": str(1000 * k)} for k in range(5)}
VARIANTS["default-kernels"] = {"ATEN_CPU_CAPABILITY": "default"}
VARIANTS["one-thread"] = {"OMP_NUM_THREADS": "1"}

# lecture -> claim -> (expression evaluated in the notebook's kernel, ">" or "<", bound).
# Each row mirrors one assertion of the notebook's last cell (or of the cell that states the claim).
CLAIMS = {
    "01_tsne": {
        "pixels 10-NN accuracy": ("acc_plain", ">", 0.9),
        "t-SNE 10-NN accuracy": ("acc_tsne", ">", 0.95),
        "t-SNE minus PCA 10-NN accuracy": ("acc_tsne - acc_pca", ">", 0.3),
        "KL course / sklearn exact": ('comparison["course"]["kl"] / comparison["sklearn_exact"]["kl"]', "<", 1.02),
        "parametric held-out 10-NN accuracy": ("acc_param", ">", 0.85),
        "parametric minus PCA held-out accuracy": ("acc_param - acc_pca_held", ">", 0.2),
        "parametric MNIST 10-NN accuracy": ("acc_mnist", ">", 0.88),
        "parametric minus PCA on MNIST": ("acc_mnist - acc_mnist_pca", ">", 0.3),
        "penultimate layer, trained minus untrained 10-NN accuracy": ("learned", ">", 0.03),
        "penultimate layer, trained minus pixels 10-NN accuracy": ("over_pixels", ">", 0.0),
        "random-start seeds, neighbour overlap at perplexity 30": ('np.mean(pitfalls[30]["overlap"])', "<", 0.95),
        "PCA start, largest difference between seeds": ("pca_seed_diff", "<", 1e-12),
        "pitfall grid, lowest mean trustworthiness": ('min(np.mean(r["trust"]) for r in pitfalls.values())', ">", 0.95),
        "noise clumping index, perplexity 30 minus 2": ("clumping[30] - clumping[2]", ">", 0.2),
        "noise clumping index, 2-D Gaussian control minus perplexity 2": ("clumping_control - clumping[2]", ">", 0.15),
        "cluster radius ratio in the map (10 in the data)": ("size_map", "<", 2.0),
        "gap ratio, map at perplexity 30 over data": ("gap_map[30] / gap_data", "<", 0.6),
    },
    "02_filters": {
        "synthetic-filter validation of the Gabor measure": ("float(validation_ok)", ">", 0.5),
        "sparse-coded minus initial median R2": ('cnn_fit.summary()["median_r2"] - init_fit.summary()["median_r2"]',
                                                 ">", 0.4),
        "FastICA filters Gabor-like fraction": ("ica_fit.gabor_like.mean()", ">", 0.7),
        "Gabor-like fraction, ICA filters minus sparse-coded conv1": (
            "ica_fit.gabor_like.mean() - cnn_fit.gabor_like.mean()", ">", 0.4),
        "classification conv1 Gabor-like fraction": ("cls_fit.gabor_like.mean()", "<", 0.3),
        "LeNet-5 test accuracy": ('lenet_info["test_accuracy"]', ">", 0.9),
        "top-9 patches shared minus photos shared (suppression)": ("shared_patches - shared_photos", "<", 0.0),
        "two-thing candidate vs best-of-40 random-patch null": ("percentile", ">", 0.949),
        "two-thing candidate minus random-init best unit": ("scores[vodka] - random_best", ">", 0.0),
    },
    "03_occlusion": {
        "shape-classifier test accuracy": ("shape_accuracy", ">", 0.75),
        "occlusion pointing game": ("pointing", ">", 0.6),
        "pointing game over chance": ("pointing / chance", ">", 5),
        "no-network rule's pointing game (the scenes alone)": ("no_net_pointing", ">", 0.9),
    },
    "04_guided_backprop": {
        "guided minus gradient rank correlation, fc randomised": (
            'float(cascade_corr["guided backprop"][0]) - float(cascade_corr["gradient"][0])', ">", 0.0),
        "gradient rank correlation, all layers randomised": ('float(cascade_corr["gradient"][-1])', "<", 0.5),
        "true-label net training accuracy": ('fit_acc["true labels"]', ">", 0.9),
        "shuffled-label net training accuracy (memorised)": ('fit_acc["shuffled labels"]', ">", 0.95),
        "Lite0 deconvnet map change between two photos": ("lite_change", "<", 1e-4),
        "average-pool CNN deconvnet map change between two digits": ("avg_change", "<", 1e-4),
        "max-pool CNN deconvnet map change between two digits": ('cnn_change["deconvnet"]', ">", 0.1),
        "guided minus gradient Spearman, true vs random class": (
            'logit_corr["guided backprop"] - logit_corr["gradient"]', ">", 0.1),
    },
    "05_karnaugh_and_glass": {
        "worst glass-run test accuracy": ("accuracies.min()", ">", 0.9),
        "final test-loss spread over seeds": ("loss_spread", "<", 0.10),
        "final training-loss (energy) spread over seeds": ("energy_spread", "<", 0.25),
        "largest matched weight correlation, lit pixels": ("np.max(matched_w)", "<", 0.65),
        "largest matched change-from-init correlation": ("np.max(matched_change)", "<", 0.75),
        "smallest gain of change-from-init over raw weights": ("np.min(matched_change - matched_w)", ">", 0.05),
        "trained net vs its own init, lit pixels": ('pairs[0]["init_corr_a"]', ">", 0.3),
        "largest matched activation correlation": ("np.max(matched_act)", "<", 0.95),
        "matched activation above two untrained nets": ('np.min(matched_act) - control["act_corr"]', ">", 0.25),
        "matched minus identity activation correlation": ("np.min(matched_act - identity_act)", ">", 0.3),
        "worst pair's barrier left after aligning units": ("max(b for _, b in real.values())", "<", 0.05),
        "worst pair's barrier left, share of before": ("max(b / a for a, b in real.values())", "<", 0.25),
        "smallest barrier before aligning": ("min(a for a, _ in real.values())", ">", 0.05),
    },
    "06_convergent_learning": {
        "worst LeNet-5 test accuracy": ('min(info["test_accuracy"] for _, info in lenets)', ">", 0.9),
        "LeNet-5 accuracy gap between seeds": (
            'abs(lenets[0][1]["test_accuracy"] - lenets[1][1]["test_accuracy"])', "<", 0.03),
        "worst photo-CNN test accuracy": ('min(info["test_accuracy"] for _, info, _ in photo_nets)', ">", 3 / 27),
        "photo-CNN accuracy gap between seeds": (
            'abs(photo_nets[0][1]["test_accuracy"] - photo_nets[1][1]["test_accuracy"])', "<", 0.2),
        "worst layer's mean matched correlation": ('min(r["matched_corr"].mean() for r in results.values())', ">", 0.3),
        "best layer's untrained-untrained matched correlation": (
            'max(c["untrained-untrained"][0] for c in controls.values())', ">", 0.3),
        "worst layer's matched correlation above the untrained pairs' mean": ("min(survive.values())", ">", 0.0),
        "smallest excess over the untrained pairs in their sd, outside MNIST conv1": (
            'min(z[0] for k, z in excess_sd.items() if k != ("MNIST", "conv1"))', ">", 3),
        "largest shuffled-rows matched correlation": ('max(d["shuffled rows"][:, 0].max() for d in null.values())', "<", 0.1),
        "photo conv1 regression loss, untrained over trained source": (
            'regression_control[("photo", "conv1")]["ls_loss"] / regression[("photo", "conv1")]["ls_loss"]', ">", 1),
        "worst photo layer's regression loss, untrained over trained source": (
            'min(regression_control[("photo", l)]["ls_loss"] / regression[("photo", l)]["ls_loss"] for l in layers["photo"])',
            ">", 1.5),
        "photo Lasso sweep: smallest untrained-over-twin loss ratio at equal alpha": ("sweep_ratio", ">", 1.3),
    },
    "07_deep_compression": {
        "LeNet-300-100 compression ratio": ('{s["net"]: s for s in summary}["lenet300100"]["ratio"]', ">", 40),
        "LeNet-5 compression ratio": ('{s["net"]: s for s in summary}["lenet5"]["ratio"]', ">", 39),
        "worst test-accuracy drop (points)": (
            'max(100 * (r["accuracy"]["dense"] - r["accuracy"]["compressed"]) for r in runs.values())', "<", 1.5),
        "linear-init weight-sharing accuracy": ('init_accuracy["linear"][-1]', ">", 0.9),
        "LeNet-300-100: course ratio minus the ratio at the paper's 6-bit codebooks": (
            'runs["lenet300100"]["report"][-1]["ratio P+Q+H"] - paper_runs["lenet300100"]["report"][-1]["ratio P+Q+H"]',
            ">", 3),
        "fc1 6-bit code entropy minus the paper's Huffman bits": ('fc1_code_entropy - paper_fc1["weight bits P+Q+H"]', ">", 0.3),
        "accuracy regained by retraining the magnitude-pruned net": ('mag1["accuracy"] - mag0["accuracy"]', ">", 0.05),
        "magnitude minus random mask, both retrained (accuracy)": ('mag1["accuracy"] - rnd1["accuracy"]', ">", 0.02),
        "Huffman bytes over fixed-width bytes": ('huff["bytes"] / q1["bytes"]', "<", 1),
        "fc1 fillers, magnitude pruning over a random mask": ("n_fill / n_fill_random", ">", 1.5),
        "compression changes more predictions than the trained-as-long control (excess over 1.5x)": (
            "n_churn - 1.5 * n_churn_longer", ">", 0),
        "dead-unit removal: largest logit change": ("logit_change", "<", 1e-4),
        "dead-unit removal: accuracy change": ('abs(slim_accuracy - lenet["accuracy"]["compressed"])', "<", 1e-9),
    },
    "08_dense_sparse_dense": {
        "worst stage mean accuracy": ('min(result["mean"][s] for s in ["dense", "sparse", "redense", "baseline"])',
                                      ">", 0.9),
        "|DSD gain| (accuracy)": ('abs(result["gain_mean"])', "<", 0.02),
        "worst seed's dense training accuracy": ('min(result["train_accuracy"]["dense"])', ">", 0.99),
        "largest restored/kept median |w| ratio in fc2": ("max(restored_ratio)", "<", 0.2),
        "smallest share of fc2's exact zeros after re-dense on dead units": ("min(zeros_on_dead)", ">", 0.95),
        "smallest restored/kept median |Δw| over re-dense in fc2": ("min(move_ratio)", ">", 0.3),
        "|DSD - dense continued| (points)": ('abs(paired["DSD - dense continued"][0])', "<", 1.0),
        "random-mask minus magnitude-mask restored/kept moves (worst pair)": ("min(rnd) - max(mag)", ">", 0.15),
    },
    "09_attention": {
        "worst seed's pointing minus chance": ("min(seed_pointing) - chance", ">", 0.2),
        "worst seed's caption word accuracy": ("min(seed_words)", ">", 0.8),
        "second-worst seed's caption word accuracy": ("sorted(seed_words)[1]", ">", 0.95),
        "second-worst seed's attended-cell minus random-cell occlusion drop": ("attended_gain[1]", ">", 0.05),
        "worst seed's object minus attended-cell occlusion drop": (
            'min(o["object"] - o["attended"] for o in occlusion.values())', ">", 0.0),
        "worst seed's gradient x input pointing minus chance": (
            'min(grid_pointing["gradient × input"]) - chance_200', ">", 0.3),
        "alignment accuracy": ("alignment", ">", 0.95),
        "translation accuracy": ("translation", ">", 0.95),
        "worst seed's gradient x input pointing minus the untrained network's": (
            'min(grid_pointing["gradient × input"]) - untrained_saliency', ">", 0.2),
        "untrained captioner's best pointing (random-init control)": ("max(untrained_pointing)", "<", 0.3),
        "largest share of a word kind whose peak is on the other object": ("other_max", "<", 0.2),
        "order rule (word positions only) pointing": ('order_rule["right"]', ">", 0.9),
        "colours swapped: largest share of a word kind whose peak follows the named colour": ("follows_colour", "<", 0.25),
        "colours swapped: worst seed's exact captions of the repainted scenes": ("min(swapped_right)", ">", 0.5),
        "brightest-cell baseline's distance from one half": ('abs(brightest["right"] - 0.5)', "<", 0.05),
    },
    "11_evaluating_explanations": {
        "Fashion-MNIST CNN test accuracy": ('finfo["test_accuracy"]', ">", 0.8),
        "IG completeness gap, 64 steps (median, relative)": ("gaps[64]", "<", 0.01),
        "gradient map's rank correlation across photos (Lite0)": ('input_dependence["gradient"].mean()', "<", 0.9),
        "deconvnet's rank correlation across images (max-pooling CNN)": ("f_deconv_dependence", "<", 0.9),
        "gradient's correlation after full randomisation": ('mean["gradient"]["randomisation ↓"]', "<", 0.5),
        "IG deletion AUC (upper CI) minus random order": (
            'table["Integrated Gradients"]["deletion AUC ↓"][2] - random_deletion', "<", -0.1),
        "occlusion deletion AUC (upper CI) minus random order": (
            'table["occlusion"]["deletion AUC ↓"][2] - random_deletion', "<", -0.1),
        "Grad-CAM pointing game": ('mean["Grad-CAM"]["pointing game ↑"]', ">", 0.5),
        "random map's pointing game": ('mean["random"]["pointing game ↑"]', "<", 0.3),
        "least Spearman with the black-fill ranking": ("min(measured.values())", "<", 0.9),
        "split-half noise floor minus least fill agreement": ("noise_floor - min(measured.values())", ">", 0.3),
        "IG's grey-fill rank, grey minus black counterfactual": (
            'matched["Integrated Gradients"] - fill_ranks["grey"]["Integrated Gradients"]', "<", 0),
    },
    "12_feature_visualisation": {
        "worst unit's raw-pixel activation over its best crop": ("min(ratio[n][0] for n in units)", ">", 1.5),
        "worst unit's robustness gain from transformations": ("min(robust[n][2] - robust[n][0] for n in units)", ">", 0.3),
        "worst unit's real-crop minus raw-pixel robustness": ("min(robust_data[n] - robust[n][0] for n in units)", ">", 0.2),
        "Fourier minus raw-pixel spectrum slope": ('slope["blocks.7 channel"][4] - slope["blocks.7 channel"][0]', "<", -0.7),
        "natural photos' spectrum slope": ("natural_slope", "<", -1.5),
        "noise spectrum slope": ("noise_slope", ">", -0.5),
        "diversity term: similarity at weight 20 minus 0": ("similarity[20.0] - similarity[0.0]", "<", 0),
        "best FGSM success rate": ("max(fgsm_success)", ">", 0.59),
        "best random-noise success rate": ("max(noise_success)", "<", 0.26),
        "FGSM minus noise success at equal budget": ("fgsm_success[EPS.index(NOISE_EPS[0])] - noise_success[0]", ">", 0.4),
        "PGD minus FGSM success at the same budget": ("pgd_untargeted_success - fgsm_same", ">", -0.001),
    },
}

# Lectures that train nothing and seed their own randomness (not through COURSE_SEED_OFFSET): the
# seed sets would re-run the same computation, so only the kernel and thread variants apply.
SEED_FREE = {"12_feature_visualisation"}


def variants_of(lecture: str) -> list:
    return [v for v in VARIANTS if not (lecture in SEED_FREE and v.startswith("seed") and v != "seed0")]


EXECUTED = ROOT / "test-artifacts" / "robustness"   # seed 0's executed notebooks, outputs included

WORKER = r"""
import json, re, sys, time
import nbformat
WIDGET = re.compile(r"\binteract(ive)?\(|\bwidgets\.|_widget\(")   # as tests/test_notebook_conventions.py
from nbclient import NotebookClient
path, claims = sys.argv[1], json.loads(sys.argv[2])
nb = nbformat.read(path, as_version=4)
client = NotebookClient(nb, timeout=3000, kernel_name="python3", allow_errors=True,
                        resources={"metadata": {"path": str(__import__("pathlib").Path(path).parent)}})
start, errors = time.perf_counter(), []
with client.setup_kernel():
    for i, cell in enumerate(nb.cells):
        # Live widgets are skipped (nbclient can stall after them, jupyter/nbclient#312); no asserted
        # value comes from them.
        if cell.cell_type != "code" or WIDGET.search(cell.source):
            continue
        client.execute_cell(cell, i)
        errors += [f"cell {i}: {o.ename}: {o.evalue}"[:300] for o in cell.outputs if o.output_type == "error"]
    seconds = time.perf_counter() - start
    probe = nbformat.v4.new_code_cell("import json as _j, math as _m\n_v = {}\n"
        + "".join(f"try:\n    _v[{k!r}] = float({e})\nexcept Exception as _err:\n    _v[{k!r}] = repr(_err)\n"
                  for k, (e, _, _) in claims.items())
        + "print('ROBUSTNESS' + _j.dumps(_v))")
    nb.cells.append(probe)
    client.execute_cell(probe, len(nb.cells) - 1)
text = "".join(o.get("text", "") for o in probe.outputs if o.output_type == "stream")
if len(sys.argv) > 3:   # keep the executed notebook (outputs included) for reading its prose against its numbers
    nb.cells.pop()
    nbformat.write(nb, sys.argv[3])
values = json.loads(text.split("ROBUSTNESS", 1)[1])
print("RESULT" + json.dumps({"values": values, "errors": errors, "seconds": seconds}))
"""


def run_variant(lecture: str, variant: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="robustness-cache-") as cache:
        env = {**os.environ, "COURSE_CACHE_DIR": cache, "PYTHONUNBUFFERED": "1", **VARIANTS[variant]}
        start = time.perf_counter()
        keep = [str(EXECUTED / f"{lecture}.ipynb")] if variant == "seed0" else []
        EXECUTED.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([sys.executable, "-c", WORKER, str(ROOT / "notebooks" / f"{lecture}.ipynb"),
                               json.dumps(CLAIMS[lecture]), *keep], capture_output=True, text=True, env=env, cwd=ROOT)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT")]
    settings = {"settings": VARIANTS[variant]}
    if done.returncode != 0 or not lines:
        return {"values": {}, "errors": [f"worker failed: {done.stderr[-1500:]}"],
                "seconds": time.perf_counter() - start, **settings}
    return {**json.loads(lines[-1][len("RESULT"):]), **settings}


def summarise(lecture: str, runs: dict) -> dict:
    claims = {}
    for name, (expression, direction, bound) in CLAIMS[lecture].items():
        values = {v: r["values"].get(name) for v, r in runs.items()}
        numbers = [x for x in values.values() if isinstance(x, (int, float))]
        worst = (min(numbers) if direction == ">" else max(numbers)) if numbers else None
        holds = bool(numbers) and len(numbers) == len(values) and all(
            x > bound if direction == ">" else x < bound for x in numbers)
        claims[name] = {"expression": expression, "bound": f"{direction} {bound}", "values": values,
                        "mean": float(np.mean(numbers)) if numbers else None,
                        "std": float(np.std(numbers)) if numbers else None,
                        "worst": worst, "margin": (worst - bound if direction == ">" else bound - worst)
                        if worst is not None else None, "holds_on_every_run": holds}
    return {"claims": claims,
            "notebook_assertions_pass": {v: not r["errors"] for v, r in runs.items()},
            "errors": {v: r["errors"] for v, r in runs.items() if r["errors"]},
            "seconds": {v: round(r["seconds"], 1) for v, r in runs.items()}}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("lectures", nargs="*", default=list(CLAIMS), choices=list(CLAIMS), metavar="LECTURE")
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    args = parser.parse_args(argv)
    for variant in args.variants:          # every lecture once before any lecture twice
        for lecture in args.lectures:
            if variant not in variants_of(lecture):
                continue
            run = run_variant(lecture, variant)
            print(f"{lecture} {variant}: {run['seconds']:.0f} s, values {run['values']}, "
                  f"errors {run['errors']}", flush=True)
            store(lecture, variant, run)   # after every run: an interrupted benchmark keeps what it measured
    return report()


def store(lecture: str, variant: str, run: dict) -> None:
    import fcntl
    with open(RESULTS / ".robustness.lock", "w") as lock:   # benchmarks running side by side store in turn
        fcntl.flock(lock, fcntl.LOCK_EX)
        _store(lecture, variant, run)


def _store(lecture: str, variant: str, run: dict) -> None:
    lectures = _stored()   # re-read: another run may have stored other lectures meanwhile
    runs = {**lectures.get(lecture, {}).get("runs", {}), variant: run}
    runs = {v: runs[v] for v in VARIANTS if v in runs}
    lectures[lecture] = {"runs": runs, **summarise(lecture, runs)}
    lectures = {lec: lectures[lec] for lec in CLAIMS if lec in lectures}
    rows = _rows(lectures)
    write_results("robustness", {"variants": VARIANTS, "lectures": lectures,
                                 "every_claim_holds": all(r["holds"] for r in rows),
                                 "complete": set(lectures) == set(CLAIMS)
                                 and all(set(d["runs"]) == set(variants_of(lec)) for lec, d in lectures.items())})


def _rows(lectures: dict) -> list:
    return [{"lecture": lec, "claim": name, "bound": c["bound"], "mean": _fmt(c["mean"]), "std": _fmt(c["std"]),
             "worst": _fmt(c["worst"]), "runs": sum(isinstance(v, (int, float)) for v in c["values"].values()),
             "holds": c["holds_on_every_run"]}
            for lec, data in lectures.items() for name, c in data["claims"].items()]


def report() -> dict:
    lectures = _stored()
    print_table(_rows(lectures), ["lecture", "claim", "bound", "mean", "std", "worst", "runs", "holds"])
    return lectures


def _stored() -> dict:
    path = RESULTS / "robustness.json"
    return json.loads(path.read_text()).get("lectures", {}) if path.exists() else {}


def _fmt(x):
    return "" if x is None else f"{x:.4g}"


if __name__ == "__main__":
    main()
