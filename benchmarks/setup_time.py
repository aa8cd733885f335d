"""Time a fresh set-up, as `make lab` / `make test` do it: a new virtualenv plus `pip install -e ".[dev]"`.

pip's cache is disabled, so every package comes from the registry (or, for torch, from the machine's
local files) as on a new machine. Budget: 3 minutes.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, write_results

BUDGET_SECONDS = 180.0


def main() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        venv = Path(tmp) / "venv"
        env = {**os.environ, "PIP_NO_CACHE_DIR": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[dev]"],
                       check=True, env=env, stderr=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
        size = sum(f.stat().st_size for f in venv.rglob("*") if f.is_file() and not f.is_symlink())
    result = {"setup_seconds": round(seconds, 1), "venv_gb": round(size / 2**30, 2),
              "budget_seconds": BUDGET_SECONDS, "within_budget": seconds <= BUDGET_SECONDS}
    print(f"fresh set-up: {result['setup_seconds']} s (budget {BUDGET_SECONDS:.0f} s), venv {result['venv_gb']} GB")
    write_results("setup_time", result)
    return result


if __name__ == "__main__":
    main()
