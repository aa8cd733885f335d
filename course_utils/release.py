"""Build student releases and autograder bundles with otter-grader, and grade offline.

    python -m course_utils.release            # every notebook in notebooks/ -> dist/<name>/
    python -m course_utils.release 00_black_box

For each lecture, ``dist/<name>/student/<name>.ipynb`` is the notebook students get (solutions and
hidden tests removed) and ``dist/<name>/autograder/<name>-autograder_*.zip`` grades it with
``otter run`` — no Docker and no network needed.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
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
    bundle_course(zips[0])
    return {"student": dest / "student" / notebook.name, "solution": dest / "autograder" / notebook.name,
            "autograder": zips[0]}


COURSE_IN_ZIP = "course"          # unpacked by Gradescope at /autograder/source/course


def bundle_course(zip_path: Path) -> None:
    """Make the autograder zip self-sufficient: add the course package (``course/``) and have the
    grading environment ``pip install`` it, which pulls torch and the rest of its dependencies.

    otter's ``setup.sh`` builds the environment from ``environment.yml`` (Gradescope runs it once,
    with internet, when the zip is uploaded); without this the image has neither torch nor
    ``course_utils`` and every test fails with ImportError.
    """
    zip_path = Path(zip_path)
    with zipfile.ZipFile(zip_path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    env = entries["environment.yml"].decode()
    line = f"      - /autograder/source/{COURSE_IN_ZIP}"
    if line not in env:
        anchor = "  - pip:\n"
        if anchor not in env:
            raise RuntimeError("otter's environment.yml has no pip section to extend")
        env = env.replace(anchor, anchor + line + "\n", 1)
    entries["environment.yml"] = env.encode()
    for path in [ROOT / "pyproject.toml", ROOT / "README.md", *sorted((ROOT / "course_utils").rglob("*"))]:
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            entries[f"{COURSE_IN_ZIP}/{path.relative_to(ROOT).as_posix()}"] = path.read_bytes()
    tmp = zip_path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    tmp.replace(zip_path)


def grade(submission: Path, autograder: Path, output_dir: Path) -> dict:
    """Grade one notebook offline with ``otter run``; return ``{"score", "max_score", "tests"}``."""
    result = grade_all([(submission, autograder, output_dir)])[0]
    if "error" in result:
        raise RuntimeError(result["error"])
    return result


def grade_all(jobs, stagger_seconds: float = 3.0, timeout_seconds: float = 600.0,
              max_parallel: int | None = None) -> list[dict]:
    """Grade several ``(submission, autograder, output_dir)`` jobs with concurrent ``otter run`` processes.

    Grading is mostly single-threaded start-up (imports, a kernel), so at most ``max_parallel``
    (default: the cores) run at once, about 1 GB each. Starts are ``stagger_seconds`` apart: kernels
    that start at the same moment can pick the same free TCP port and then wait on each other for
    ever. Each job has its own ``timeout_seconds`` from its own start and is killed after it
    (nbclient can hang after a widget cell, jupyter/nbclient#312; tag those otter_ignore). A job that
    fails or times out gives ``{"score": 0, "max_score": None, "tests": [], "error": reason}``; the
    other jobs keep their results. For a whole class, use ``python -m course_utils.grade``.
    """
    jobs = list(jobs)
    max_parallel = max(1, max_parallel or os.cpu_count() or 1)
    results, waiting, running, last_start = [None] * len(jobs), list(range(len(jobs))), {}, None
    while waiting or running:
        now = time.monotonic()
        if waiting and len(running) < max_parallel and (last_start is None or now - last_start >= stagger_seconds):
            i = waiting.pop(0)
            submission, autograder, output_dir = jobs[i]
            Path(output_dir).mkdir(parents=True, exist_ok=True)
            cmd = _otter_command("run", "-a", str(autograder), "-o", str(output_dir), str(submission))
            running[i] = (cmd, Path(output_dir), time.monotonic(),
                          subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
            last_start = time.monotonic()
            continue
        for i, (cmd, output_dir, started, process) in list(running.items()):
            if process.poll() is None and time.monotonic() - started < timeout_seconds:
                continue
            if process.poll() is None:
                process.kill()
                process.communicate()
                results[i] = _failed(f"{' '.join(cmd)} still running after {timeout_seconds:.0f} s; killed")
            else:
                stdout, stderr = process.communicate()
                results[i] = _collect(cmd, process.returncode, stdout, stderr, output_dir)
            del running[i]
        time.sleep(0.05)
    return results


def _failed(reason: str) -> dict:
    return {"score": 0, "max_score": None, "tests": [], "error": reason}


def _collect(cmd, returncode, stdout, stderr, output_dir: Path) -> dict:
    try:
        _check(cmd, returncode, stdout, stderr)
        report = json.loads((output_dir / "results.json").read_text())
    except (RuntimeError, OSError, ValueError) as error:   # e.g. a corrupt notebook: exit 1, no results
        return _failed(str(error)[:2000])
    scored = [t for t in report["tests"] if t.get("max_score") is not None]
    return {"score": sum(t.get("score") or 0 for t in scored),
            "max_score": sum(t["max_score"] for t in scored), "tests": report["tests"]}


def main(argv=None) -> int:
    names = sys.argv[1:] if argv is None else argv
    for notebook in notebook_paths(names):
        out = assign(notebook, DIST / notebook.stem)
        print(f"{notebook.stem}: student {out['student'].relative_to(ROOT)}, "
              f"autograder {out['autograder'].relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
