"""Deep Compression and DSD on the course's MNIST: per-layer tables, ratios, accuracies, wall times.

By default every stage runs from an empty checkpoint cache, so the wall times are real training
times. ``--cache-dir DIR`` reuses a cache filled earlier (e.g. by the notebooks' cold runs); the
training seconds are then the ones measured when each stage was first computed, and the JSON says so.

    python benchmarks/compression.py            # both nets + DSD (notebook schedule and a longer one)
    python benchmarks/compression.py --quick    # the notebook schedules only, DSD with 3 seeds
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time

from _common import print_table, write_results


def compress(name: str, folder: str) -> dict:
    from course_utils import compression as C
    start = time.perf_counter()
    run = C.deep_compression(name, verbose=False, **C.PIPELINES[name])
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
        "settings": C.PIPELINES[name],
        "report": report,
        "paper_rows": paper["rows"],
        "dense_kb": total["dense bytes"] / 1000, "compressed_kb": total["P+Q+H bytes"] / 1000,
        "file_bytes": os.path.getsize(path), "header_bytes": info["header_bytes"],
        "file_equals_report_plus_header": os.path.getsize(path) == total["P+Q+H bytes"] + info["header_bytes"],
        "weights_read_back_identical": identical,
        "ratio_pq": total["ratio P+Q"], "ratio_pqh": total["ratio P+Q+H"],
        "accuracy": run["accuracy"],
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


def main(quick: bool = False, cache_dir: str | None = None) -> dict:
    from course_utils import dsd
    from course_utils.data import mnist
    n_train, n_test = len(mnist("train")[1]), len(mnist("test")[1])
    results = {"data": {"train": n_train, "test": n_test}, "deep_compression": {}, "dsd": {},
               "timing": ("fresh cache: every stage trained in this run" if cache_dir is None else
                          "reused cache: training seconds as measured when each stage was first computed; "
                          "DSD wall seconds are load times")}
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as folder:
        os.environ["COURSE_CACHE_DIR"] = cache_dir or cache
        for name in ["lenet300100", "lenet5"]:
            results["deep_compression"][name] = compress(name, folder)
        notebook = dsd.DSDConfig(model="lenet300100", dense_epochs=6, sparse_epochs=3, redense_epochs=3,
                                 sparsity=0.3, batch_size=128)
        results["dsd"]["notebook schedule"] = dsd_comparison(notebook, seeds=[0, 1, 2] if quick else [0, 1, 2, 3, 4])
        if not quick:
            longer = dsd.DSDConfig(model="lenet300100", dense_epochs=10, sparse_epochs=5, redense_epochs=5,
                                   sparsity=0.5)
            results["dsd"]["longer, 50% sparse"] = dsd_comparison(longer, seeds=[0, 1, 2, 3, 4])

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
    parser.add_argument("--cache-dir", help="reuse this checkpoint cache instead of an empty one")
    main(**vars(parser.parse_args()))
