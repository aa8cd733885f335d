"""Build student releases and autograder bundles with otter-grader, and grade offline.

    python -m course_utils.release            # every notebook in notebooks/ -> dist/<name>/
    python -m course_utils.release 00_black_box

For each lecture, ``dist/<name>/student/<name>.ipynb`` is the notebook students get (solutions and
hidden tests removed) and ``dist/<name>/autograder/<name>-autograder_*.zip`` grades it with
``otter run`` — no Docker and no network needed.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
DIST = ROOT / "dist"


def _otter_command(*args: str) -> list[str]:
    exe = Path(sys.executable).with_name("otter")
    return [str(exe) if exe.exists() else "otter", *args]


def _check(cmd: list[str], returncode: int, stdout: str, stderr: str) -> None:
    if returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed with exit code {returncode}:\n{stdout[-3000:]}\n{stderr[-3000:]}")


def _otter(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    cmd = _otter_command(*args)
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    _check(cmd, result.returncode, result.stdout, result.stderr)
    return result


def notebook_paths(names=None) -> list[Path]:
    """Lecture notebooks by name (``00_black_box``) or all of them, in lecture order."""
    paths = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if names:
        known = {p.stem: p for p in paths}
        unknown = [n for n in names if n.removesuffix(".ipynb") not in known]
        if unknown:
            raise ValueError(f"unknown notebook(s) {unknown}; expected some of {sorted(known)}")
        paths = [known[n.removesuffix(".ipynb")] for n in names]
    return paths


def assign(notebook: Path, dest: Path) -> dict:
    """Run ``otter assign``; return the paths of the student notebook, solution notebook and autograder zip."""
    notebook, dest = Path(notebook).resolve(), Path(dest).resolve()   # otter runs in the notebook's folder
    if not notebook.exists():
        raise FileNotFoundError(f"no notebook at {notebook}")
    _otter("assign", str(notebook), str(dest), cwd=notebook.parent)
    zips = sorted((dest / "autograder").glob("*-autograder_*.zip"))
    if len(zips) != 1:
        raise RuntimeError(f"expected one autograder zip in {dest / 'autograder'}; found {len(zips)}")
    return {"student": dest / "student" / notebook.name, "solution": dest / "autograder" / notebook.name,
            "autograder": zips[0]}


def grade(submission: Path, autograder: Path, output_dir: Path) -> dict:
    """Grade one notebook offline with ``otter run``; return ``{"score", "max_score", "tests"}``."""
    return grade_all([(submission, autograder, output_dir)])[0]


def grade_all(jobs, stagger_seconds: float = 3.0, timeout_seconds: float = 600.0) -> list[dict]:
    """Grade several ``(submission, autograder, output_dir)`` jobs with concurrent ``otter run`` processes.

    Grading is mostly single-threaded start-up (imports, a kernel), so two jobs on two cores take
    little longer than one. Each job starts ``stagger_seconds`` after the previous one: kernels that
    start at the same moment can pick the same free TCP port and then wait on each other for ever.
    A job still running after ``timeout_seconds`` is killed with an error rather than waited on for
    ever (nbclient can hang after a widget cell, jupyter/nbclient#312; tag those otter_ignore).
    """
    running = []
    for i, (submission, autograder, output_dir) in enumerate(jobs):
        if i:
            time.sleep(stagger_seconds)
        output_dir = Path(output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        cmd = _otter_command("run", "-a", str(autograder), "-o", str(output_dir), str(submission))
        running.append((cmd, output_dir, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                                          text=True)))
    results = []
    deadline = time.monotonic() + timeout_seconds
    for cmd, output_dir, process in running:
        try:
            stdout, stderr = process.communicate(timeout=max(deadline - time.monotonic(), 0.0))
        except subprocess.TimeoutExpired:
            for *_, other in running:
                other.kill()
            raise RuntimeError(f"{' '.join(cmd)} still running after {timeout_seconds:.0f} s; killed") from None
        _check(cmd, process.returncode, stdout, stderr)
        report = json.loads((output_dir / "results.json").read_text())
        scored = [t for t in report["tests"] if t.get("max_score") is not None]
        results.append({"score": sum(t.get("score") or 0 for t in scored),
                        "max_score": sum(t["max_score"] for t in scored), "tests": report["tests"]})
    return results


def main(argv=None) -> int:
    names = sys.argv[1:] if argv is None else argv
    for notebook in notebook_paths(names):
        out = assign(notebook, DIST / notebook.stem)
        print(f"{notebook.stem}: student {out['student'].relative_to(ROOT)}, "
              f"autograder {out['autograder'].relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
