"""Deep Compression and DSD on the course's MNIST: per-layer tables, ratios, accuracies, wall times.

By default every stage runs from an empty checkpoint cache, so the wall times are real training
times. ``--cache-dir DIR`` reuses a cache filled earlier (e.g. by the notebooks' cold runs); the
training seconds are then the ones measured when each stage was first computed, and the JSON says so.

``--tune`` is how ``course_utils.compression.PIPELINES`` was chosen: it runs a small grid of
candidate settings on a validation split (10% of every class of the training digits, held out of
training) and never looks at the test set. The rule: among the candidates that beat the size goal
(40x for LeNet-300-100, 39x for LeNet-5) by 2%, so that retraining on all the training digits
cannot tip it under, the smallest validation-accuracy drop against the dense net, ties going to
the cheaper schedule. The grid and every candidate's numbers go in the JSON.

    python benchmarks/compression.py            # both nets + DSD (notebook schedule and a longer one)
    python benchmarks/compression.py --quick    # the notebook schedules only, DSD with 3 seeds
    python benchmarks/compression.py --tune     # the validation grid, then everything above
    python benchmarks/compression.py --full-data --nets lenet300100   # 60,000 training images, merged in
"""
from __future__ import annotations

import argparse
import dataclasses
import itertools
import os
import tempfile
import time

from _common import print_table, write_results

GOALS = {"lenet300100": 40.0, "lenet5": 39.0}   # the paper's ratios, the goals
RATIO_MARGIN = 1.02   # the final nets train on 10% more digits, which moves the Huffman sizes a little
VALIDATION = 0.1

# Candidate settings for --tune: every combination of a net's schedules and size settings.
GRID = {
    "lenet300100": {
        "schedules": [
            {"dense_schedule": [(20, 1e-3)], "prune_schedule": [(6, 1e-3)], "quant_schedule": [(4, 3e-4)]},
            {"dense_schedule": [(12, 2e-3), (2, 2e-4)], "prune_schedule": [(4, 1e-3), (1, 1e-4)],
             "quant_schedule": [(2, 1e-4)]},
        ],
        "sizes": [
            {"sparsity": {"fc1": 0.93, "fc2": 0.91, "fc3": 0.74}, "bits": 4},
            {"sparsity": {"fc1": 0.92, "fc2": 0.91, "fc3": 0.74}, "bits": {"fc1": 3, "fc2": 4, "fc3": 4}},
            {"sparsity": {"fc1": 0.91, "fc2": 0.91, "fc3": 0.74}, "bits": {"fc1": 2, "fc2": 4, "fc3": 4}},
        ],
    },
    "lenet5": {
        "schedules": [
            {"dense_schedule": [(4, 2e-3), (1, 2e-4)], "prune_schedule": [(2, 1e-3), (1, 1e-4)],
             "quant_schedule": [(1, 1e-4)]},
            {"dense_schedule": [(4, 2e-3), (1, 2e-4)], "prune_schedule": [(4, 1e-3), (1, 1e-4)],
             "quant_schedule": [(1, 1e-4)]},
            {"dense_schedule": [(6, 2e-3), (1, 2e-4)], "prune_schedule": [(4, 1e-3), (1, 1e-4)],
             "quant_schedule": [(1, 1e-4)]},
        ],
        "sizes": [
            {"sparsity": {"conv1": 0.34, "conv2": 0.88, "fc1": 0.94, "fc2": 0.81},
             "bits": {"conv1": 8, "conv2": 8, "fc1": 4, "fc2": 8}},
            {"sparsity": {"conv1": 0.34, "conv2": 0.88, "fc1": 0.92, "fc2": 0.81},
             "bits": {"conv1": 8, "conv2": 8, "fc1": 3, "fc2": 6}},
            {"sparsity": {"conv1": 0.34, "conv2": 0.88, "fc1": 0.91, "fc2": 0.81},
             "bits": {"conv1": 8, "conv2": 8, "fc1": 2, "fc2": 6}},
        ],
    },
}


def epochs(settings: dict) -> int:
    return sum(e for key in ("dense_schedule", "prune_schedule", "quant_schedule") for e, _ in settings[key])


def tune(name: str) -> dict:
    """Every candidate of GRID[name] on the validation split, and the one the rule picks."""
    from course_utils import compression as C
    rows = []
    for schedules, sizes in itertools.product(GRID[name]["schedules"], GRID[name]["sizes"]):
        settings = {**schedules, **sizes, "index_bits": 5}
        start = time.perf_counter()
        run = C.deep_compression(name, validation=VALIDATION, verbose=False, **settings)
        acc = run["accuracy"]
        rows.append({"settings": settings, "epochs": epochs(settings), "evaluated_on": run["evaluated_on"],
                     "ratio": run["report"][-1]["ratio P+Q+H"], "accuracy": acc,
                     "drop_points": 100 * (acc["dense"] - acc["compressed"]),
                     "seconds": time.perf_counter() - start})
        print(f"  {name} {rows[-1]['epochs']:2d} epochs  ratio {rows[-1]['ratio']:.1f}x  "
              f"val dense {acc['dense']:.4f} compressed {acc['compressed']:.4f}", flush=True)
    eligible = [r for r in rows if r["ratio"] >= RATIO_MARGIN * GOALS[name]]
    best = min(eligible, key=lambda r: (round(r["drop_points"], 6), r["epochs"]))
    return {"rule": f"ratio >= {RATIO_MARGIN} x goal; then smallest validation drop; ties to fewer epochs",
            "goal": GOALS[name],
            "validation_fraction": VALIDATION, "candidates": rows, "chosen": best["settings"],
            "chosen_matches_pipelines": _same(best["settings"], C.PIPELINES[name])}


def _same(a: dict, b: dict) -> bool:
    import json
    return json.loads(json.dumps(a)) == json.loads(json.dumps(b))


def compress(name: str, folder: str, dataset: str = "mnist", settings: dict | None = None) -> dict:
    from course_utils import compression as C
    settings = C.PIPELINES[name] if settings is None else settings
    start = time.perf_counter()
    run = C.deep_compression(name, verbose=False, dataset=dataset, **settings)
    pipeline_seconds = time.perf_counter() - start
    start = time.perf_counter()
    report = C.compression_report(run["compressed"], run["bits"], run["index_bits"])
    report_seconds = time.perf_counter() - start
    path = os.path.join(folder, f"{name}.dc")
    start = time.perf_counter()
    info = C.save_compressed(run["compressed"], path, run["bits"], run["index_bits"])
    save_seconds = time.perf_counter() - start
    start = time.perf_counter()
    state = C.load_compressed(path)
    load_seconds = time.perf_counter() - start
    import torch
    identical = all(torch.equal(state[k], v) for k, v in run["compressed"].state_dict().items())
    total = report[-1]
    paper = C.PAPER_TABLES[name]
    return {
        "settings": settings, "dataset": run["dataset"], "n_train": run["n_train"], "n_test": run["n_eval"],
        "report": report,
        "paper_rows": paper["rows"],
        "dense_kb": total["dense bytes"] / 1000, "compressed_kb": total["P+Q+H bytes"] / 1000,
        "file_bytes": os.path.getsize(path), "header_bytes": info["header_bytes"],
        "file_equals_report_plus_header": os.path.getsize(path) == total["P+Q+H bytes"] + info["header_bytes"],
        "weights_read_back_identical": identical,
        "ratio_pq": total["ratio P+Q"], "ratio_pqh": total["ratio P+Q+H"],
        "accuracy": run["accuracy"], "evaluated_on": run["evaluated_on"],
        "accuracy_drop_points": 100 * (run["accuracy"]["dense"] - run["accuracy"]["compressed"]),
        "paper": {"size_kb": paper["size_kb"], "ratio": paper["ratio"], "top1_error_%": paper["top1_error_%"]},
        "seconds": {**{f"train {k}": v for k, v in run["seconds"].items()}, "pipeline wall": pipeline_seconds,
                    "report (Huffman)": report_seconds, "save": save_seconds, "load": load_seconds},
    }


def dsd_comparison(config, seeds) -> dict:
    from course_utils import dsd
    start = time.perf_counter()
    result = dsd.compare(config, seeds=seeds, verbose=False)
    result.pop("runs")
    return {"config": dataclasses.asdict(config), **result, "seconds": time.perf_counter() - start}


def full_data(cache_dir: str | None = None, nets=("lenet300100", "lenet5")) -> dict:
    """Deep Compression on the full data (MNIST 60k/10k when fetched, else Fashion-MNIST 60k/10k).

    The course's settings (PIPELINES, chosen on the 4,000 bundled digits) and, for LeNet-300-100,
    the paper's 6-bit codebooks. Merged into compression.json under "deep_compression_full_data";
    the file's other sections (the bundled-digit rows, DSD) are kept as they are.
    """
    import json
    from _common import RESULTS, machine
    from course_utils import compression as C
    from course_utils.cache import atomic_write_bytes
    path = RESULTS / "compression.json"
    section = {"machine": machine(), "load_average_at_start": os.getloadavg(),
               "timing": "fresh cache: every stage trained in this run, torch on one thread"
               if cache_dir is None else "reused cache", "runs": {}}
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as folder:
        os.environ["COURSE_CACHE_DIR"] = cache_dir or cache
        for name in nets:
            jobs = [("course settings", C.PIPELINES[name])]
            if name == "lenet300100":
                jobs.append(("paper's bits", {**C.PIPELINES[name], **C.PAPER_SETTINGS[name]}))
            for label, settings in jobs:
                r = compress(name, folder, dataset="full", settings=settings)
                section["runs"][f"{name}, {label}"] = r
                print(f"{name}, {label} on {r['dataset']} ({r['n_train']:,}/{r['n_test']:,}): ratio "
                      f"{r['ratio_pqh']:.1f}x, accuracy {r['accuracy']['dense']:.4f} -> "
                      f"{r['accuracy']['compressed']:.4f} (drop {r['accuracy_drop_points']:+.2f} points), "
                      f"{r['seconds']['pipeline wall']:.0f} s", flush=True)
                # written after every run, so a long LeNet-5 run that is stopped keeps what finished
                section["load_average_at_end"] = os.getloadavg()
                current = json.loads(path.read_text()) if path.exists() else {}
                earlier = current.get("deep_compression_full_data", {}).get("runs", {})
                # runs of nets not in this call (e.g. --nets lenet5 after lenet300100) are kept
                current["deep_compression_full_data"] = {**section, "runs": {**earlier, **section["runs"]}}
                atomic_write_bytes(path, (json.dumps(current, indent=2) + "\n").encode())
    print(f"merged into {path}")
    return section


def main(quick: bool = False, tune_first: bool = False, cache_dir: str | None = None) -> dict:
    from course_utils import dsd
    from course_utils.data import mnist
    n_train, n_test = len(mnist("train")[1]), len(mnist("test")[1])
    results = {"mode": {"quick": quick, "tune": tune_first},
               "data": {"train": n_train, "test": n_test}, "deep_compression": {}, "dsd": {},
               "timing": ("fresh cache: every stage trained in this run, torch on one thread"
                          if cache_dir is None else
                          "reused cache: training seconds as measured when each stage was first computed; "
                          "DSD wall seconds are load times"),
               "load_average_at_start": os.getloadavg()}
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as folder:
        os.environ["COURSE_CACHE_DIR"] = cache_dir or cache
        if tune_first:
            results["tuning"] = {name: tune(name) for name in ["lenet300100", "lenet5"]}
        for name in ["lenet300100", "lenet5"]:
            results["deep_compression"][name] = compress(name, folder)
        notebook = dsd.DSDConfig(model="lenet300100", dense_epochs=6, sparse_epochs=3, redense_epochs=3,
                                 sparsity=0.3, batch_size=128)
        results["dsd"]["notebook schedule"] = dsd_comparison(notebook, seeds=[0, 1, 2] if quick else [0, 1, 2, 3, 4])
        if not quick:
            longer = dsd.DSDConfig(model="lenet300100", dense_epochs=10, sparse_epochs=5, redense_epochs=5,
                                   sparsity=0.5)
            results["dsd"]["longer, 50% sparse"] = dsd_comparison(longer, seeds=[0, 1, 2, 3, 4])
    results["load_average_at_end"] = os.getloadavg()

    if tune_first:
        for name, t in results["tuning"].items():
            print(f"== tuning {name} on {t['candidates'][0]['evaluated_on']} (goal {t['goal']}x); "
                  f"chosen matches PIPELINES: {t['chosen_matches_pipelines']}")
            print_table([{"epochs": r["epochs"], "ratio": f"{r['ratio']:.1f}x",
                          "sparsity": r["settings"]["sparsity"], "bits": r["settings"]["bits"],
                          "val dense": f"{r['accuracy']['dense']:.4f}",
                          "val compressed": f"{r['accuracy']['compressed']:.4f}",
                          "drop": f"{r['drop_points']:+.2f}"} for r in t["candidates"]],
                        ["epochs", "ratio", "sparsity", "bits", "val dense", "val compressed", "drop"])
            print()
    rows = []
    for name, r in results["deep_compression"].items():
        rows.append({"net": name, "dense KB": f"{r['dense_kb']:.0f}", "compressed KB": f"{r['compressed_kb']:.1f}",
                     "ratio P+Q": f"{r['ratio_pq']:.1f}x", "ratio P+Q+H": f"{r['ratio_pqh']:.1f}x",
                     "acc dense": f"{r['accuracy']['dense']:.3f}", "acc compressed": f"{r['accuracy']['compressed']:.3f}",
                     "drop (points)": f"{r['accuracy_drop_points']:+.1f}",
                     "paper": f"{r['paper']['size_kb'][0]}->{r['paper']['size_kb'][1]} KB, {r['paper']['ratio']}x",
                     "file ok": r["file_equals_report_plus_header"] and r["weights_read_back_identical"],
                     "wall s": f"{r['seconds']['pipeline wall']:.0f}"})
    print_table(rows, list(rows[0]))
    print()
    from course_utils.compression import format_report
    for name, r in results["deep_compression"].items():
        print(f"== {name}\n{format_report(r['report'], paper=name)}\n")
    rows = [{"schedule": k, "seeds": len(v["seeds"]),
             "dense": f"{100 * v['mean']['dense']:.2f}",
             "DSD": f"{100 * v['mean']['redense']:.2f} ± {100 * v['std']['redense']:.2f}",
             "baseline": f"{100 * v['mean']['baseline']:.2f} ± {100 * v['std']['baseline']:.2f}",
             "DSD - baseline": f"{100 * v['gain_mean']:+.2f} ± {100 * v['gain_std']:.2f}",
             "wall s": f"{v['seconds']:.0f}"} for k, v in results["dsd"].items()]
    print_table(rows, list(rows[0]))
    write_results("compression", results)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="notebook schedules only, 3 DSD seeds")
    parser.add_argument("--tune", dest="tune_first", action="store_true",
                        help="first run the validation grid that chose PIPELINES")
    parser.add_argument("--cache-dir", help="reuse this checkpoint cache instead of an empty one")
    parser.add_argument("--full-data", action="store_true",
                        help="only Deep Compression on full MNIST (else full Fashion-MNIST), merged into the JSON")
    parser.add_argument("--nets", nargs="+", default=["lenet300100", "lenet5"], help="with --full-data")
    args = parser.parse_args()
    if args.full_data:
        full_data(args.cache_dir, args.nets)
    else:
        main(args.quick, args.tune_first, args.cache_dir)
