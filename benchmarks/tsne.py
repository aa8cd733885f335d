"""t-SNE: the course's exact TSNE against scikit-learn (Barnes-Hut and exact) and openTSNE.

    python benchmarks/tsne.py            # writes benchmarks/results/tsne.json, prints two tables
    python benchmarks/tsne.py --quick    # digits only, no scaling table (a smoke test)
    python benchmarks/tsne.py --scaling-only --sizes 70000 --methods course opentsne   # one row, no JSON

1. Digits (N = 1,797, 64-D), one run per method, perplexity 30, each library with its defaults:
   wall and CPU time (CPU summed over all threads); KL(P||Q) of the final embedding, evaluated for
   every method with the same exact P (course ``joint_probabilities``, equal to scikit-learn's
   exact P within 1e-9); the library's own reported KL (Barnes-Hut and openTSNE use a sparse
   90-neighbour P, so theirs is a different number); 10-NN accuracy in 2-D by stratified 5-fold
   cross-validation over the embedding; trustworthiness (``sklearn.manifold.trustworthiness``,
   10 neighbours).
2. Scaling: the first N of the 70,000 Fashion-MNIST images (``fashion_mnist("train")`` and
   ``("test")`` combined, shuffled with a fixed seed, reduced to 50 PCA dimensions, as the
   libraries recommend) for N = 5,000, 10,000, 20,000 and 70,000: the course's approximate TSNE
   (method="fft": sparse P over 90 exact nearest neighbours, FFT-interpolated repulsion),
   openTSNE (its defaults: FFT above 10,000 points, Barnes-Hut below) and scikit-learn's
   Barnes-Hut, every one with two threads (n_jobs=2). scikit-learn is skipped where its time, extrapolated by N log N from the
   previous row, exceeds 10 minutes. Columns: wall and CPU time, peak memory, KL(P||Q) under
   one sparse P for every method (the course's ``sparse_joint_probabilities``: exact 90
   neighbours, perplexity 30; Z summed exactly over all pairs), 10-NN accuracy (3-fold CV over
   the first min(N, 20,000) points, as issue 19 measured it) and trustworthiness (10 neighbours)
   on a random subsample of 3,000 points.

Every run happens in a fresh child process, so peak memory is that child's peak resident set
(``VmHWM`` in ``/proc/self/status``, read by the child at the end; ``getrusage``'s ru_maxrss is
not used because a forked child inherits its parent's high-water mark). We report it, the
child's resident set just before fitting (Python, numpy and the library already imported) and
their difference, the memory the fit itself needed.

Threads, digits table: scikit-learn (n_jobs=2, OpenMP on both cores) and openTSNE (n_jobs=2) use
both cores; the course TSNE uses one (its default n_jobs=1); both libraries also run once on one
thread (rows ``*_1thread``). The machine is shared with other developers, and multi-threaded code
whose threads wait for each other suffers most when other jobs hold the cores; the load average
at the start and end is recorded.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

METHODS = ["course", "sklearn_bh", "sklearn_exact", "opentsne"]
# The same libraries held to one thread (OMP_NUM_THREADS=1, n_jobs=1), as the course TSNE runs.
ONE_THREAD = ["sklearn_bh_1thread", "opentsne_1thread"]
SCALING_N = [5000, 10000, 20000, 70000]
SCALING_METHODS = ["course", "course_750", "opentsne", "sklearn_bh"]
# course_750: the course TSNE held to openTSNE's 750 steps (250 exaggerated + 500), equal work per
# run; measured at the largest N only. "course" runs its own default (up to 1,000 steps, tol).
EQUAL_STEPS = 750
WORKER_METHOD = {"course": "course_fft", "course_750": "course_fft_750"}  # scaling row -> worker method
SKLEARN_MAX_S = 600  # skip scikit-learn where its extrapolated time exceeds this
EMBEDDINGS = HERE / "results" / "tsne_fashion70k.npz"  # the largest N's maps, read by lecture 01
SKLEARN_EXACT_MAX_N = 2000  # beyond: hours of float64 N^2 work per run (see the note in the JSON)
PERPLEXITY = 30.0


# ----------------------------------------------------------------------------- child process


def _memory_kb(field: str) -> int:
    """VmRSS (resident now) or VmHWM (peak resident) of this process, in kB, from /proc/self/status.

    Not getrusage's ru_maxrss: on Linux a child started by fork + exec inherits the parent's
    high-water mark, which here (MNIST and torch loaded) would hide the child's own peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not found in /proc/self/status")


def worker(method: str, data_path: str, out_path: str):
    """Fit one method on the array in ``data_path``; write embedding and measurements to ``out_path``."""
    X = np.load(data_path)
    n_jobs = 1 if method.endswith("_1thread") else 2
    method = method.removesuffix("_1thread")
    if method in ("course", "course_fft", "course_fft_750"):
        from course_utils.tsne import TSNE
        settings = {} if method == "course" else {"method": "fft", "n_jobs": n_jobs}   # "course": the digits' auto
        if method == "course_fft_750":
            settings["n_iter"] = EQUAL_STEPS
        model = TSNE(perplexity=PERPLEXITY, random_state=0, **settings)
        fit = model.fit_transform
    elif method in ("sklearn_bh", "sklearn_exact"):
        from sklearn.manifold import TSNE as SklearnTSNE
        model = SklearnTSNE(perplexity=PERPLEXITY, random_state=0, n_jobs=n_jobs,
                            method="barnes_hut" if method == "sklearn_bh" else "exact")
        fit = model.fit_transform
    else:
        from openTSNE import TSNE as OpenTSNE
        model = OpenTSNE(perplexity=PERPLEXITY, random_state=0, n_jobs=n_jobs)
        fit = model.fit  # returns a TSNEEmbedding (an ndarray) that carries its own KL
    rss_before = _memory_kb("VmRSS")
    wall, cpu = time.perf_counter(), time.process_time()
    embedding = fit(X)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = _memory_kb("VmHWM")
    own_kl = getattr(embedding if method == "opentsne" else model, "kl_divergence" if method == "opentsne"
                     else "kl_divergence_", None)
    Y = np.asarray(embedding, dtype=np.float64)
    np.save(out_path + ".npy", Y)
    info = {"wall_s": wall, "cpu_s": cpu, "peak_rss_mb": peak / 1024, "rss_before_fit_mb": rss_before / 1024,
            "fit_memory_mb": (peak - rss_before) / 1024, "own_kl": None if own_kl is None else float(own_kl),
            "n_iter": int(getattr(model, "n_iter_", 0) or 0) or None}
    Path(out_path + ".json").write_text(json.dumps(info))


def run_child(method: str, X: np.ndarray, tmp: Path, one_thread: bool = False,
              timeout: float | None = None) -> tuple[dict, np.ndarray]:
    data, out = tmp / "X.npy", tmp / f"out_{method}"
    np.save(data, X)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if one_thread or method.endswith("_1thread"):
        method = method if method == "course" or method.endswith("_1thread") else method + "_1thread"
        env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    subprocess.run([sys.executable, __file__, "--worker", method, str(data), str(out)], check=True, env=env,
                   timeout=timeout)
    return json.loads(Path(str(out) + ".json").read_text()), np.load(str(out) + ".npy")


# ----------------------------------------------------------------------------- the two tables


def quality(X, y, Y, P):
    from sklearn.manifold import trustworthiness

    from course_utils.tsne import kl_divergence, knn_accuracy
    return {"kl": kl_divergence(P, Y), "knn10_accuracy": knn_accuracy(Y, y, k=10, folds=5),
            "trustworthiness": float(trustworthiness(X, Y, n_neighbors=10))}


def digits_table(tmp: Path) -> list[dict]:
    from sklearn.datasets import load_digits

    from course_utils.tsne import joint_probabilities
    data = load_digits()
    X, y = data.data / 16.0, data.target
    P = joint_probabilities(X, PERPLEXITY)
    rows = []
    for method in METHODS + ONE_THREAD:
        info, Y = run_child(method, X, tmp)
        rows.append({"method": method, **info, **quality(X, y, Y, P)})
        print(f"  digits {method}: {info['wall_s']:.2f} s", flush=True)
    return rows


def fashion_mnist_50():
    """All 70,000 Fashion-MNIST images, shuffled (seed 0), as 50 PCA dimensions, and their labels."""
    import torch

    from course_utils.data import fashion_mnist
    (Xa, ya), (Xb, yb) = fashion_mnist("train"), fashion_mnist("test")
    X = torch.cat([Xa, Xb]).reshape(-1, 28 * 28).numpy().astype(np.float64)
    y = torch.cat([ya, yb]).numpy()
    order = np.random.default_rng(0).permutation(len(X))
    return pca(X[order]), y[order]


def pca(X, k=50):
    Xc = X - X.mean(axis=0)
    _, V = np.linalg.eigh(Xc.T @ Xc)
    return Xc @ V[:, ::-1][:, :k]


def sparse_quality(X, y, Y, P):
    from sklearn.manifold import trustworthiness

    from course_utils.tsne import knn_accuracy, sparse_kl_divergence
    m = min(len(X), 20000)
    sub = np.random.default_rng(1).choice(len(X), min(len(X), 3000), replace=False)
    return {"kl": sparse_kl_divergence(P, Y), "knn10_accuracy": knn_accuracy(Y[:m], y[:m], k=10, folds=3),
            "trustworthiness": float(trustworthiness(X[sub], Y[sub], n_neighbors=10))}


def scaling_table(tmp: Path, sizes=SCALING_N, on_row=None) -> list[dict]:
    """The scaling rows, smallest N first, ``on_row(rows)`` after each.

    scikit-learn is skipped where its time, extrapolated by N log N from its previous row, exceeds
    ``SKLEARN_MAX_S``. At the largest N the embeddings and labels go to ``EMBEDDINGS`` (float16),
    for lecture 01's figure.
    """
    from course_utils.tsne import sparse_joint_probabilities
    X_all, y_all = fashion_mnist_50()
    rows, sklearn_last = [], None
    for n in sorted(set(sizes)):
        X, y = X_all[:n], y_all[:n]
        P = sparse_joint_probabilities(X, PERPLEXITY)
        embeddings = {}
        for method in SCALING_METHODS:
            if method == "course_750" and n != max(sizes):
                continue
            if method == "sklearn_bh" and sklearn_last is not None:
                n0, s0 = sklearn_last
                predicted = s0 * n * np.log(n) / (n0 * np.log(n0))
                if predicted > SKLEARN_MAX_S:
                    rows.append({"n": n, "method": method, "skipped": f"skipped: by N log N from its {s0:.0f} s at "
                                 f"N={n0:,} it would take ~{predicted / 60:.0f} min (limit {SKLEARN_MAX_S / 60:.0f})"})
                    print(f"  N={n} {method}: {rows[-1]['skipped']}", flush=True)
                    continue
            try:
                info, Y = run_child(WORKER_METHOD.get(method, method), X, tmp,
                                    timeout=SKLEARN_MAX_S if method == "sklearn_bh" else None)
            except subprocess.TimeoutExpired:
                rows.append({"n": n, "method": method, "skipped": f"skipped: not done after {SKLEARN_MAX_S / 60:.0f} min"})
                print(f"  N={n} {method}: {rows[-1]['skipped']}", flush=True)
                continue
            if method == "sklearn_bh":
                sklearn_last = (n, info["wall_s"])
            embeddings[method] = Y
            rows.append({"n": n, "method": method, **info, **sparse_quality(X, y, Y, P)})
            print(f"  N={n} {method}: {info['wall_s']:.1f} s (cpu {info['cpu_s']:.1f} s), peak {info['peak_rss_mb']:.0f} MB, "
                  f"KL {rows[-1]['kl']:.4f}, 10-NN {rows[-1]['knn10_accuracy']:.4f}, "
                  f"trust {rows[-1]['trustworthiness']:.4f}", flush=True)
            if on_row is not None:
                on_row(rows)
        if n == max(sizes) and on_row is not None and {"course", "opentsne"} <= set(embeddings):
            np.savez_compressed(EMBEDDINGS, labels=y.astype(np.uint8),
                                **{m: embeddings[m].astype(np.float16) for m in ("course", "opentsne")})
    return rows


def build_result(digits: list[dict], scaling: list[dict], sizes, load_start) -> dict:
    """The JSON: both tables, the goals, and whether the scaling table is complete."""
    by = {r["method"]: r for r in digits}
    course = by["course"]
    goals = {
        "time_vs_opentsne": course["wall_s"] / by["opentsne"]["wall_s"],
        "time_vs_sklearn_bh": course["wall_s"] / by["sklearn_bh"]["wall_s"],
        "kl_vs_sklearn_exact": course["kl"] / by["sklearn_exact"]["kl"],
        "knn_minus_best_sklearn": course["knn10_accuracy"] - max(by["sklearn_bh"]["knn10_accuracy"],
                                                                 by["sklearn_exact"]["knn10_accuracy"]),
    }
    goals["time_vs_opentsne_1thread"] = course["wall_s"] / by["opentsne_1thread"]["wall_s"]
    goals["time_vs_sklearn_bh_1thread"] = course["wall_s"] / by["sklearn_bh_1thread"]["wall_s"]
    goals["met"] = {"time <= 1.5x openTSNE": goals["time_vs_opentsne"] <= 1.5,
                    "time <= 0.5x sklearn BH": goals["time_vs_sklearn_bh"] <= 0.5,
                    "KL <= 1.02x sklearn exact": goals["kl_vs_sklearn_exact"] <= 1.02,
                    "10-NN >= sklearn": goals["knn_minus_best_sklearn"] >= 0}
    big = {r["method"]: r for r in scaling if r["n"] == max(sizes) and "wall_s" in r}
    for key, course_method in [("large", "course"), ("large_equal_steps", "course_750")]:
        if course_method in big and "opentsne" in big:
            c, o = big[course_method], big["opentsne"]
            goals[key] = {"n": c["n"], "course_steps": c["n_iter"], "time_vs_opentsne": c["wall_s"] / o["wall_s"],
                          "kl_minus_opentsne": c["kl"] - o["kl"],
                          "knn_minus_opentsne": c["knn10_accuracy"] - o["knn10_accuracy"],
                          "peak_rss_mb": c["peak_rss_mb"]}
            goals[key]["met"] = {"time <= 1.0x openTSNE": goals[key]["time_vs_opentsne"] <= 1.0,
                                 "KL <= openTSNE": c["kl"] <= o["kl"],
                                 "10-NN >= openTSNE": c["knn10_accuracy"] >= o["knn10_accuracy"],
                                 "peak memory <= 2 GB": c["peak_rss_mb"] <= 2048}
    note = ("Digits: the course TSNE picks its exact method (method='auto' is exact up to 5,000 points): "
            "P over all pairs and the repulsion over all N(N-1)/2 pairs at every step, time and memory "
            "growing as N^2 (the previous run measured 16 s and 453 MB at N = 5,000, ~44 GB extrapolated "
            "to 50,000). Scaling: the course TSNE with method='fft': P over the 90 nearest neighbours "
            "(exact search, brute force in blocks) and the repulsion by FFT interpolation on a grid "
            "(FIt-SNE), O(N) per step; openTSNE runs the same two ideas in C++ (Annoy for the neighbours).")
    result = {"goal": "digits: course time <= 1.5x openTSNE and <= 0.5x sklearn Barnes-Hut; "
                      "KL <= 1.02x sklearn exact; 10-NN accuracy >= sklearn. N = 70,000 Fashion-MNIST: "
                      "course time <= 1.0x openTSNE, KL <= openTSNE's under the same sparse P, "
                      "10-NN >= openTSNE's, peak memory <= 2 GB",
              "settings": {"perplexity": PERPLEXITY, "knn_accuracy": "10-NN, stratified 5-fold CV on the 2-D embedding",
                           "trustworthiness_neighbors": 10, "kl": "KL(P||Q) with the exact P for every method",
                           "memory": "child-process peak RSS (VmHWM of /proc/self/status)",
                           "threads": "digits: sklearn n_jobs=2, openTSNE n_jobs=2, course n_jobs=1, plus *_1thread rows; "
                                      "scaling: sklearn, openTSNE and the course n_jobs=2",
                           "scaling_data": "first N of the 70,000 Fashion-MNIST (train + test, shuffled with seed 0), 50 PCA dims",
                           "scaling_kl": "KL(P||Q) with the course's sparse P (90 exact neighbours) for every method, Z exact",
                           "scaling_knn": "10-NN, 3-fold CV over the first min(N, 20,000) points",
                           "scaling_trustworthiness": "10 neighbours, random subsample of 3,000 points"},
              "load_average_start": load_start, "load_average_end": os.getloadavg(),
              "digits": digits, "goals": goals, "scaling": scaling, "note": note}
    result["scaling_complete"] = len(scaling) == len(sizes) * (len(SCALING_METHODS) - 1) + 1
    return result


def main(quick: bool, sizes=SCALING_N, write: bool = True):
    sys.path.insert(0, str(HERE))
    from _common import print_table, write_results  # imports torch: keep it out of the children
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        digits = digits_table(Path(tmp))
        scaling = []
        if write and not quick:  # written after every row: a long run that stops keeps what it measured
            write_results("tsne", build_result(digits, [], sizes, load_start))
        if not quick:
            scaling = scaling_table(Path(tmp), sizes, on_row=(lambda rows: write_results(
                "tsne", build_result(digits, rows, sizes, load_start))) if write else None)
    result = build_result(digits, scaling, sizes, load_start)
    goals, note = result["goals"], result["note"]
    if write and not quick:
        write_results("tsne", result)
    print("\nDigits (N=1,797): KL with the exact P; 10-NN = 5-fold CV accuracy in 2-D; trust = trustworthiness@10")
    print_table([{"method": r["method"], "wall s": f"{r['wall_s']:.2f}", "cpu s": f"{r['cpu_s']:.2f}",
                  "KL": f"{r['kl']:.4f}", "own KL": "" if r["own_kl"] is None else f"{r['own_kl']:.4f}",
                  "10-NN": f"{r['knn10_accuracy']:.4f}", "trust": f"{r['trustworthiness']:.4f}",
                  "peak MB": f"{r['peak_rss_mb']:.0f}"} for r in digits],
                ["method", "wall s", "cpu s", "KL", "own KL", "10-NN", "trust", "peak MB"])
    print("goals:", {k: ("met" if v else "MISSED") for k, v in goals["met"].items()},
          f"(time/openTSNE {goals['time_vs_opentsne']:.2f}, time/sklearn BH {goals['time_vs_sklearn_bh']:.2f}, "
          f"KL/sklearn exact {goals['kl_vs_sklearn_exact']:.3f}; one thread each: time/openTSNE "
          f"{goals['time_vs_opentsne_1thread']:.2f}, time/sklearn BH {goals['time_vs_sklearn_bh_1thread']:.2f})")
    for key in ("large", "large_equal_steps"):
        if key in goals:
            g = goals[key]
            print(f"goals at N = {g['n']:,}, course {g['course_steps']} steps:", {k: ("met" if v else "MISSED") for k, v in g["met"].items()},
                  f"(time/openTSNE {g['time_vs_opentsne']:.2f}, KL - openTSNE {g['kl_minus_opentsne']:+.4f}, "
                  f"10-NN - openTSNE {g['knn_minus_opentsne']:+.4f}, peak {g['peak_rss_mb']:.0f} MB)")
    if scaling:
        print("\nScaling on Fashion-MNIST (50 PCA dims), two threads each: wall and CPU time, peak RSS, "
              "KL under the same sparse P, 10-NN, trustworthiness on 3,000")
        print_table([{"N": r["n"], "method": r["method"],
                      **({"wall s": "skipped", "note": r["skipped"]} if "skipped" in r else
                         {"wall s": f"{r['wall_s']:.2f}", "cpu s": f"{r['cpu_s']:.2f}",
                          "peak MB": f"{r['peak_rss_mb']:.0f}", "fit MB": f"{r['fit_memory_mb']:.0f}",
                          "KL": f"{r['kl']:.4f}", "10-NN": f"{r['knn10_accuracy']:.4f}",
                          "trust": f"{r['trustworthiness']:.4f}"})} for r in scaling],
                    ["N", "method", "wall s", "cpu s", "peak MB", "fit MB", "KL", "10-NN", "trust", "note"])
    print(f"\nload average start {load_start}, end {os.getloadavg()}")
    print(note)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="digits table only; writes no JSON")
    parser.add_argument("--sizes", type=int, nargs="+", default=SCALING_N,
                        help="N of the scaling table (a smaller set writes no JSON)")
    parser.add_argument("--scaling-only", action="store_true",
                        help="skip the digits table; prints the scaling rows, writes no JSON")
    parser.add_argument("--methods", nargs="+", default=SCALING_METHODS, choices=SCALING_METHODS,
                        help="methods of the scaling table")
    parser.add_argument("--replace", action="store_true",
                        help="with --scaling-only: re-measure these rows and replace them in tsne.json")
    parser.add_argument("--worker", nargs=3, metavar=("METHOD", "DATA", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
    elif args.scaling_only and args.replace:
        # Re-measure some rows (one run, so that their ratios are fair) and put them in tsne.json.
        sys.path.insert(0, str(HERE))
        from _common import write_results
        old = json.loads((HERE / "results" / "tsne.json").read_text())
        every_method = list(SCALING_METHODS)
        SCALING_METHODS[:] = args.methods
        load_start = os.getloadavg()
        with tempfile.TemporaryDirectory() as tmp:
            new_rows = scaling_table(Path(tmp), args.sizes, on_row=lambda rows: None)
        replaced = {(r["n"], r["method"]) for r in new_rows}
        rows = sorted([r for r in old["scaling"] if (r["n"], r["method"]) not in replaced] + new_rows,
                      key=lambda r: (r["n"], r["method"]))
        SCALING_METHODS[:] = every_method
        result = build_result(old["digits"], rows, SCALING_N, old["load_average_start"])
        result["rows_remeasured"] = {"rows": sorted(f"N={n} {m}" for n, m in replaced), "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                     "load_average_start": load_start, "load_average_end": os.getloadavg()}
        write_results("tsne", result)
        print(json.dumps(result["goals"], indent=1))
    elif args.scaling_only:
        SCALING_METHODS[:] = args.methods
        print("load average", os.getloadavg())
        with tempfile.TemporaryDirectory() as tmp:
            scaling_table(Path(tmp), args.sizes)
        print("load average", os.getloadavg())
    else:
        main(args.quick, args.sizes, write=args.sizes == SCALING_N)
