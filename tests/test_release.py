"""The autograding pipeline, end to end and offline: otter assign, then otter run on both versions."""
import json
import sys
import time

import pytest

from course_utils import release

NOTEBOOKS = release.notebook_paths()


@pytest.fixture(autouse=True)
def isolated_cache():
    """Override conftest's per-test cache: grading re-runs the notebooks nbval just ran, and should find
    their trained models in the course cache instead of training them again."""
    yield


def solution_lines(notebook_path):
    """Non-trivial lines between # BEGIN SOLUTION and # END SOLUTION in the instructor's code cells."""
    nb = json.loads(notebook_path.read_text())
    lines = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        inside = False
        for line in "".join(cell["source"]).splitlines():
            marker = line.strip()
            if marker == "# BEGIN SOLUTION":
                inside = True
            elif marker == "# END SOLUTION":
                inside = False
            elif (inside or marker.endswith("# SOLUTION")) and len(marker) > 12:
                lines.append(marker)
    return lines


def hidden_test_lines(notebook_path):
    """Lines only the hidden tests have (an import or a loop header a visible cell shares is no leak)."""
    nb = json.loads(notebook_path.read_text())
    sources = ["".join(cell["source"]) for cell in nb["cells"] if cell["cell_type"] == "code"]
    public = {line.strip() for src in sources if not src.startswith("# HIDDEN") for line in src.splitlines()}
    return [line.strip() for src in sources if src.startswith("# HIDDEN")
            for line in src.splitlines()[1:] if len(line.strip()) > 12 and line.strip() not in public
            and not line.strip().startswith(("import ", "from "))]


def public_lines(notebook_path):
    """Lines a student sees anyway: code outside the solutions and outside the hidden tests."""
    nb = json.loads(notebook_path.read_text())
    lines = set()
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        if cell["cell_type"] != "code" or src.startswith("# HIDDEN"):
            continue
        inside = False
        for line in src.splitlines():
            marker = line.strip()
            if marker in ("# BEGIN SOLUTION", "# END SOLUTION"):
                inside = marker == "# BEGIN SOLUTION"
            elif not inside and not marker.endswith("# SOLUTION"):
                lines.add(marker.split("  #")[0].strip())   # a trailing comment does not make it another line
    return lines


def test_every_notebook_has_exercises():
    assert NOTEBOOKS, "no lecture notebooks found"
    for path in NOTEBOOKS:
        assert len(solution_lines(path)) >= 2, f"{path.name} has fewer than 2 solution lines"
        assert hidden_test_lines(path), f"{path.name} has no hidden tests"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_release_grades_offline(notebook, tmp_path):
    out = release.assign(notebook, tmp_path / "dist")

    student_lines = {line.strip() for c in json.loads(out["student"].read_text())["cells"]
                     for line in "".join(c["source"]).splitlines()}
    public = public_lines(notebook)   # e.g. "with torch.no_grad():" in a solution and in the lecture's own code
    prose = "\n".join("".join(c["source"]) for c in json.loads(notebook.read_text())["cells"]
                      if c["cell_type"] == "markdown")   # what a prompt spells out is no leak
    leaked = [line for line in solution_lines(notebook) + hidden_test_lines(notebook)
              if line in student_lines and line.split("  #")[0].strip() not in public and line not in prose]
    assert not leaked, f"solution or hidden-test text survives in the student notebook: {leaked[:3]}"

    # Both versions at once: the suite runs every notebook under nbval already, so grading is the
    # second and third run of each, and overlapping them keeps CI affordable.
    full, blank = release.grade_all([(out["solution"], out["autograder"], tmp_path / "instructor"),
                                     (out["student"], out["autograder"], tmp_path / "student")])
    assert "error" not in full and "error" not in blank, (full.get("error"), blank.get("error"))
    assert full["max_score"] > 0
    assert full["score"] == full["max_score"], f"instructor version lost points: {full['tests']}"

    assert blank["max_score"] == full["max_score"]
    assert blank["score"] == 0, f"the unchanged student notebook scored {blank['score']}"


def test_grading_that_hangs_is_killed(tmp_path, monkeypatch):
    """A hung kernel (jupyter/nbclient#312) gives that job an error, not a stall for ever."""
    monkeypatch.setattr(release, "_otter_command", lambda *args: [sys.executable, "-c", "import time; time.sleep(60)"])
    start = time.monotonic()
    results = release.grade_all([("s.ipynb", "a.zip", tmp_path / "a"), ("s.ipynb", "a.zip", tmp_path / "b")],
                                stagger_seconds=0.0, timeout_seconds=1.0)
    assert all("still running after 1 s" in r["error"] and r["score"] == 0 for r in results)
    assert time.monotonic() - start < 10


def fake_otter(tmp_path):
    """An ``otter run`` stand-in: a submission named bad* exits 1 without results (as a corrupt
    notebook does); others write a results.json worth 1 of 2 points after sleeping ``slow`` seconds."""
    script = tmp_path / "fake_otter.py"
    script.write_text(
        "import json, sys, time, pathlib\n"
        "args = sys.argv[1:]; out = pathlib.Path(args[args.index('-o') + 1]); sub = args[-1]\n"
        "if 'bad' in sub: sys.exit(1)\n"
        "time.sleep(float(sub.split('slow')[-1]) if 'slow' in sub else 0)\n"
        "(out / 'results.json').write_text(json.dumps({'tests': [{'name': 'q1', 'score': 1, 'max_score': 2}]}))\n")
    return lambda *args: [sys.executable, str(script), *args]


def test_one_failure_does_not_lose_the_other_results(tmp_path, monkeypatch):
    monkeypatch.setattr(release, "_otter_command", fake_otter(tmp_path))
    good, bad, other = release.grade_all([("good.ipynb", "a.zip", tmp_path / "a"), ("bad.ipynb", "a.zip", tmp_path / "b"),
                                          ("other.ipynb", "a.zip", tmp_path / "c")], stagger_seconds=0.0)
    assert good["score"] == other["score"] == 1 and good["max_score"] == 2
    assert bad["score"] == 0 and "exit code 1" in bad["error"]


def test_each_job_has_its_own_deadline_and_few_run_at_once(tmp_path, monkeypatch):
    """Jobs queue behind max_parallel; a job that starts late still gets its full time."""
    monkeypatch.setattr(release, "_otter_command", fake_otter(tmp_path))
    start = time.monotonic()
    results = release.grade_all([(f"s{i}_slow1.5", "a.zip", tmp_path / str(i)) for i in range(3)],
                                stagger_seconds=0.0, timeout_seconds=6.0, max_parallel=1)
    assert all(r["score"] == 1 for r in results), results
    assert time.monotonic() - start >= 4.5, "three 1.5 s jobs one at a time take at least 4.5 s"


def test_autograder_zip_has_what_gradescope_runs(tmp_path):
    """Gradescope unpacks the zip at /autograder/source, runs setup.sh (which builds environment.yml)
    once, then run_autograder per submission. The zip must carry otter's harness, every question's
    test file, and the course itself, installed by environment.yml."""
    import subprocess
    import zipfile
    notebook = release.NOTEBOOKS / "00_black_box.ipynb"
    out = release.assign(notebook, tmp_path / "dist")
    with zipfile.ZipFile(out["autograder"]) as archive:
        names = set(archive.namelist())
        env = archive.read("environment.yml").decode()
        archive.extractall(tmp_path / "source")
    assert {"run_autograder", "run_otter.py", "setup.sh", "otter_config.json", "environment.yml"} <= names
    from course_utils.grade import lecture_plan
    questions = set(lecture_plan(notebook)["questions"])
    assert questions and {f"tests/{q}.py" for q in questions} <= names, (questions, names)
    assert "mamba env create -f /autograder/source/environment.yml" in (tmp_path / "source" / "setup.sh").read_text()
    assert "- /autograder/source/course" in env and "otter-grader" in env
    assert {"course/pyproject.toml", "course/README.md", "course/course_utils/__init__.py",
            "course/course_utils/blackbox.py"} <= names
    assert not any(n.endswith(".ipynb") for n in names), "the zip must not carry the solution notebook"
    # the bundled course builds into an installable wheel (offline: no dependencies fetched)
    wheel = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp_path / "wheel"), str(tmp_path / "source" / "course")],
                           capture_output=True, text=True)
    assert wheel.returncode == 0, wheel.stderr[-2000:]
    assert list((tmp_path / "wheel").glob("interpreting_deep_networks-*.whl"))
