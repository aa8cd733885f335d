"""Wall time and peak memory of every notebook, run top to bottom as a student runs it.

Each notebook runs twice in a fresh kernel: first with an empty checkpoint cache (a student's first
run, which trains), then again with the cache that run filled. Budget: 60 s and 4 GB per notebook.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import ROOT, print_table, write_results

BUDGET_SECONDS, BUDGET_MB = 60.0, 4096.0

# Runs in a child process so that RUSAGE_CHILDREN sees only this notebook's kernel. The notebook runs
# under nbval, as `make test` runs it: nbclient can stall after a widgets.interact cell until its
# cell timeout (jupyter/nbclient#312; seen here about 1 run in 10), nbval has not (seen here).
RUNNER = r"""
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
                       "--nbval-cell-timeout=600", sys.argv[1]], capture_output=True, text=True)
seconds = time.perf_counter() - start
if done.returncode != 0:
    sys.exit(done.stdout[-3000:] + done.stderr[-3000:])
peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # Linux: kilobytes; the largest child
print(json.dumps({"seconds": seconds, "peak_mb": peak_kb / 1024}))
"""


def run(notebook: Path, cache_dir: str) -> dict:
    env = {**__import__("os").environ, "COURSE_CACHE_DIR": cache_dir, "PYTHONUNBUFFERED": "1"}
    result = subprocess.run([sys.executable, "-c", RUNNER, str(notebook)], capture_output=True, text=True, env=env,
                            cwd=ROOT)
    if result.returncode != 0:
        raise RuntimeError(f"{notebook.name} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(names=None) -> dict:
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if names:
        notebooks = [p for p in notebooks if p.stem in names]
    rows = []
    for nb in notebooks:
        with tempfile.TemporaryDirectory() as cache_dir:
            cold = run(nb, cache_dir)
            warm = run(nb, cache_dir)
        rows.append({"notebook": nb.stem, "cold_s": round(cold["seconds"], 1), "warm_s": round(warm["seconds"], 1),
                     "peak_mb": round(max(cold["peak_mb"], warm["peak_mb"])),
                     "within_budget": cold["seconds"] <= BUDGET_SECONDS and max(cold["peak_mb"], warm["peak_mb"]) <= BUDGET_MB})
        print(rows[-1], flush=True)
    total = {"cold_s": round(sum(r["cold_s"] for r in rows), 1), "warm_s": round(sum(r["warm_s"] for r in rows), 1)}
    print_table(rows, ["notebook", "cold_s", "warm_s", "peak_mb", "within_budget"])
    print(f"total: {total['cold_s']} s cold, {total['warm_s']} s warm")
    write_results("course_runtime", {"budget": {"seconds_per_notebook": BUDGET_SECONDS, "peak_mb": BUDGET_MB},
                                     "notebooks": rows, "total": total,
                                     "note": "cold = empty checkpoint cache (first run trains); warm = second run; each is one `pytest --nbval-lax` run of the notebook (pytest start-up included)"})
    return {"notebooks": rows, "total": total}


if __name__ == "__main__":
    main(sys.argv[1:] or None)
