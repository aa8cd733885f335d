"""Shared bits of the benchmarks: where results go, machine facts, and a plain-text table."""
from __future__ import annotations

import json
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT))

from course_utils.cache import atomic_write_bytes  # noqa: E402


def machine() -> dict:
    import torch
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "platform": platform.platform(),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            # Other jobs on a 2-core machine slow every timing; the load says how quiet it was.
            "load_average_1min": round(os.getloadavg()[0], 2)}


def write_results(name: str, results: dict) -> Path:
    path = RESULTS / f"{name}.json"
    atomic_write_bytes(path, (json.dumps({"machine": machine(), **results}, indent=2) + "\n").encode())
    print(f"wrote {path.relative_to(ROOT)}")
    return path


def print_table(rows: list[dict], columns: list[str]) -> None:
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for r in rows:
        print("  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns))
