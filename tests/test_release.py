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
    nb = json.loads(notebook_path.read_text())
    return [line.strip() for cell in nb["cells"] if cell["cell_type"] == "code"
            and "".join(cell["source"]).startswith("# HIDDEN")
            for line in "".join(cell["source"]).splitlines()[1:] if len(line.strip()) > 12]


def test_every_notebook_has_exercises():
    assert NOTEBOOKS, "no lecture notebooks found"
    for path in NOTEBOOKS:
        assert len(solution_lines(path)) >= 2, f"{path.name} has fewer than 2 solution lines"
        assert hidden_test_lines(path), f"{path.name} has no hidden tests"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_release_grades_offline(notebook, tmp_path):
    out = release.assign(notebook, tmp_path / "dist")

    student_text = out["student"].read_text()
    leaked = [line for line in solution_lines(notebook) + hidden_test_lines(notebook) if line in student_text]
    assert not leaked, f"solution or hidden-test text survives in the student notebook: {leaked[:3]}"

    # Both versions at once: the suite runs every notebook under nbval already, so grading is the
    # second and third run of each, and overlapping them keeps CI affordable.
    full, blank = release.grade_all([(out["solution"], out["autograder"], tmp_path / "instructor"),
                                     (out["student"], out["autograder"], tmp_path / "student")])
    assert full["max_score"] > 0
    assert full["score"] == full["max_score"], f"instructor version lost points: {full['tests']}"

    assert blank["max_score"] == full["max_score"]
    assert blank["score"] == 0, f"the unchanged student notebook scored {blank['score']}"


def test_grading_that_hangs_is_killed(tmp_path, monkeypatch):
    """A hung kernel (jupyter/nbclient#312) must fail the grading, not stall it for ever."""
    monkeypatch.setattr(release, "_otter_command", lambda *args: [sys.executable, "-c", "import time; time.sleep(60)"])
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="still running after 1 s"):
        release.grade_all([("s.ipynb", "a.zip", tmp_path / "a"), ("s.ipynb", "a.zip", tmp_path / "b")],
                          stagger_seconds=0.0, timeout_seconds=1.0)
    assert time.monotonic() - start < 10
