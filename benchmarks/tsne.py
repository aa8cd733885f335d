"""t-SNE: the course's exact TSNE against scikit-learn (Barnes-Hut and exact) and openTSNE.

    python benchmarks/tsne.py            # writes benchmarks/results/tsne.json, prints two tables
    python benchmarks/tsne.py --quick    # digits only, no scaling table (a smoke test)

1. Digits (N = 1,797, 64-D), one run per method, perplexity 30, each library with its defaults:
   wall and CPU time (CPU summed over all threads); KL(P||Q) of the final embedding, evaluated for
   every method with the same exact P (course ``joint_probabilities``, equal to scikit-learn's
   exact P within 1e-9); the library's own reported KL (Barnes-Hut and openTSNE use a sparse
   90-neighbour P, so theirs is a different number); 10-NN accuracy in 2-D by stratified 5-fold
   cross-validation over the embedding; trustworthiness (``sklearn.manifold.trustworthiness``,
   10 neighbours).
2. Scaling: the first N of the 5,000 MNIST digits (``mnist("train")`` and ``mnist("test")``
   combined, shuffled with a fixed seed, reduced to 50 PCA dimensions first, as the libraries
   recommend) for N = 500, 1,000, 2,000,
   5,000: wall time, CPU time and peak memory per method, every method on one thread
   (OMP_NUM_THREADS=1, n_jobs=1), so that wall time measures work rather than the contest for
   the two shared cores.

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
SCALING_N = [500, 1000, 2000, 5000]
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
    if method == "course":
        from course_utils.tsne import TSNE
        model = TSNE(perplexity=PERPLEXITY, random_state=0)
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


def run_child(method: str, X: np.ndarray, tmp: Path, one_thread: bool = False) -> tuple[dict, np.ndarray]:
    data, out = tmp / "X.npy", tmp / f"out_{method}"
    np.save(data, X)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if one_thread or method.endswith("_1thread"):
        method = method if method == "course" or method.endswith("_1thread") else method + "_1thread"
        env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    subprocess.run([sys.executable, __file__, "--worker", method, str(data), str(out)], check=True, env=env)
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


def mnist_5000():
    import torch

    from course_utils.data import mnist
    (Xa, ya), (Xb, yb) = mnist("train"), mnist("test")
    X = torch.cat([Xa, Xb]).reshape(-1, 28 * 28).numpy().astype(np.float64)
    y = torch.cat([ya, yb]).numpy()
    # The bundled files are ordered by class: shuffle once (fixed seed) so that the first N of
    # the scaling table are a class-balanced random subset, and each N contains the smaller ones.
    order = np.random.default_rng(0).permutation(len(X))[:5000]
    return X[order], y[order]


def pca(X, k=50):
    Xc = X - X.mean(axis=0)
    _, V = np.linalg.eigh(Xc.T @ Xc)
    return Xc @ V[:, ::-1][:, :k]


def scaling_table(tmp: Path, sizes=SCALING_N) -> list[dict]:
    from course_utils.tsne import joint_probabilities
    X_all, y_all = mnist_5000()
    rows = []
    for n in sizes:
        X, y = pca(X_all[:n]), y_all[:n]
        P = joint_probabilities(X, PERPLEXITY)
        for method in METHODS:
            if method == "sklearn_exact" and n > SKLEARN_EXACT_MAX_N:
                last = [r for r in rows if r["method"] == "sklearn_exact" and "wall_s" in r][-1]
                rows.append({"n": n, "method": method, "skipped": f"skipped: by N^2 from its {last['wall_s']:.0f} s "
                             f"at N={last['n']:,} it would take ~{last['wall_s'] * (n / last['n']) ** 2 / 60:.0f} min"})
                continue
            info, Y = run_child(method, X, tmp, one_thread=True)
            rows.append({"n": n, "method": method, **info, **quality(X, y, Y, P)})
            print(f"  N={n} {method}: {info['wall_s']:.2f} s, peak {info['peak_rss_mb']:.0f} MB", flush=True)
    return rows


def main(quick: bool, sizes=SCALING_N, write: bool = True):
    sys.path.insert(0, str(HERE))
    from _common import print_table, write_results  # imports torch: keep it out of the children
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        digits = digits_table(Path(tmp))
        scaling = [] if quick else scaling_table(Path(tmp), sizes)
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
    note = ("The course TSNE is exact: P over all pairs and the repulsion over all N(N-1)/2 pairs at every "
            "step, so time per step and memory grow as N^2 (it keeps P as float64 plus a float32 copy of "
            "its upper triangle, about 10 bytes x N^2).")
    big = [r for r in scaling if r["method"] == "course" and "skipped" not in r]
    if big:
        r = max(big, key=lambda r: r["n"])
        per_pair = r["fit_memory_mb"] * 2**20 / r["n"] ** 2
        note += (f" Measured at N={r['n']:,}: {r['wall_s']:.1f} s and {r['fit_memory_mb']:.0f} MB for the fit "
                 f"({per_pair:.0f} bytes x N^2 at the peak, while P is built from an N x N float64 distance matrix). Extrapolated by N^2: ~{r['wall_s'] * (10000 / r['n']) ** 2 / 60:.1f} min "
                 f"and ~{per_pair * 1e8 / 2**30:.1f} GB at N=10,000, ~{per_pair * 2.5e9 / 2**30:.0f} GB at N=50,000.")
    note += (" It is the sensible choice up to a few thousand points (it beats the approximations there); "
             "around N = 10,000 it stops being sensible. Beyond, keep only ~3 x perplexity nearest "
             "neighbours in P (sparse) and approximate the repulsion: Barnes-Hut, O(N log N) "
             "(scikit-learn's default), or FFT interpolation, O(N) (openTSNE / FIt-SNE; openTSNE "
             "switches to it by itself above 10,000 points).")
    result = {"goal": "digits: course time <= 1.5x openTSNE and <= 0.5x sklearn Barnes-Hut; "
                      "KL <= 1.02x sklearn exact; 10-NN accuracy >= sklearn",
              "settings": {"perplexity": PERPLEXITY, "knn_accuracy": "10-NN, stratified 5-fold CV on the 2-D embedding",
                           "trustworthiness_neighbors": 10, "kl": "KL(P||Q) with the exact P for every method",
                           "memory": "child-process peak RSS (VmHWM of /proc/self/status)",
                           "threads": "digits: sklearn n_jobs=2, openTSNE n_jobs=2, course n_jobs=1, plus *_1thread rows; scaling: all one thread",
                           "scaling_data": "first N of the 5,000 MNIST digits (train + test, shuffled with seed 0), 50 PCA dims"},
              "load_average_start": load_start, "load_average_end": os.getloadavg(),
              "digits": digits, "goals": goals, "scaling": scaling, "note": note}
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
    if scaling:
        print("\nScaling on MNIST (50 PCA dims), one thread each: wall and CPU time, peak RSS, fit memory (peak - before fit)")
        print_table([{"N": r["n"], "method": r["method"],
                      **({"wall s": "skipped", "note": r["skipped"]} if "skipped" in r else
                         {"wall s": f"{r['wall_s']:.2f}", "cpu s": f"{r['cpu_s']:.2f}",
                          "peak MB": f"{r['peak_rss_mb']:.0f}", "fit MB": f"{r['fit_memory_mb']:.0f}",
                          "KL": f"{r['kl']:.4f}", "10-NN": f"{r['knn10_accuracy']:.4f}"})} for r in scaling],
                    ["N", "method", "wall s", "cpu s", "peak MB", "fit MB", "KL", "10-NN", "note"])
    print(f"\nload average start {load_start}, end {os.getloadavg()}")
    print(note)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="digits table only; writes no JSON")
    parser.add_argument("--sizes", type=int, nargs="+", default=SCALING_N,
                        help="N of the scaling table (a smaller set writes no JSON)")
    parser.add_argument("--worker", nargs=3, metavar=("METHOD", "DATA", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
    else:
        main(args.quick, args.sizes, write=args.sizes == SCALING_N)
