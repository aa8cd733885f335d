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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
DIST = ROOT / "dist"


def _otter(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("otter")
    cmd = [str(exe) if exe.exists() else "otter", *args]
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed with exit code {result.returncode}:\n"
                           f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
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
    notebook, dest = Path(notebook), Path(dest)
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
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    _otter("run", "-a", str(autograder), "-o", str(output_dir), str(submission))
    results = json.loads((output_dir / "results.json").read_text())
    scored = [t for t in results["tests"] if t.get("max_score") is not None]
    return {"score": sum(t.get("score") or 0 for t in scored),
            "max_score": sum(t["max_score"] for t in scored), "tests": results["tests"]}


def main(argv=None) -> int:
    names = sys.argv[1:] if argv is None else argv
    for notebook in notebook_paths(names):
        out = assign(notebook, DIST / notebook.stem)
        print(f"{notebook.stem}: student {out['student'].relative_to(ROOT)}, "
              f"autograder {out['autograder'].relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
