"""Grading a folder: bounded, sandboxed, cheat-proof, with a gradebook and safe feedback.

Most checks grade one batch of submissions of a tiny lecture written here (a few seconds each);
one test grades a real lecture end to end. Checks that need namespaces (root + unshare) skip elsewhere.
"""
import csv
import json
import os
import socket
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from course_utils import grade, release

ASSIGNMENT_CONFIG = """# ASSIGNMENT CONFIG
requirements: null
init_cell: true
export_cell: false
check_all_cell: false
run_tests: false
generate:
  pdf: false
  zips: false"""

# (name, points, all_or_nothing, solution, visible test, hidden test)
QUESTIONS = [
    ("q1_double", 2, False, "def double(x):\n    return 2 * x",
     'assert double(3) == 6, "double(3) should be 6"',
     "# HIDDEN\nassert double(-4) == -8\nassert double(0.5) == 1.0\nassert sorted([double(2), double(1)]) == [2, 4]"),
    ("q2_clip", 2, True, "def clip_negative(t):\n    return t.clamp(min=0)",
     "import torch\nassert torch.equal(clip_negative(torch.tensor([-1., 2.])), torch.tensor([0., 2.])), \"negatives become 0\"",
     "# HIDDEN\nimport numpy as np\nimport torch\nx = torch.randn(100, generator=torch.Generator().manual_seed(0))\n"
     "assert torch.equal(clip_negative(x), torch.relu(x))\nassert np.allclose(clip_negative(x).numpy(), np.maximum(x.numpy(), 0))"),
    ("q3_breaks", 1, True, "def breaks_needed(rows, cols):\n    return rows * cols - 1",
     "assert breaks_needed(3, 5) == 14",
     "# HIDDEN\nfrom course_utils import blackbox\nassert breaks_needed(4, 7) == blackbox.ChocolateBar(4, 7).break_randomly(seed=11)"),
    ("q4_squares", 1, True, "squares = [i * i for i in range(5)]",
     'assert len(squares) == 5, "five squares"',
     "# HIDDEN\nassert squares == [0, 1, 4, 9, 16]"),
    ("q5_zero_row", 2, True, "def zero_first_row(layer):\n    with torch.no_grad():\n        layer.weight[0] = 0\n\n"
                             "def make_layer():\n    return torch.nn.Linear(2, 1)",
     "import torch\n_l = torch.nn.Linear(3, 2)\nzero_first_row(_l)\nassert (_l.weight[0] == 0).all(), \"row 0 is zero\"",
     "# HIDDEN\nimport torch\n_l = torch.nn.Linear(4, 3)\n_keep = _l.weight[1:].detach().clone()\nzero_first_row(_l)\n"
     "assert (_l.weight[0] == 0).all() and torch.equal(_l.weight[1:], _keep)\n"
     "assert make_layer()(torch.ones(1, 2)).shape == (1, 1)"),
]
FULL = {q[0]: float(q[1]) for q in QUESTIONS}
MAX = sum(FULL.values())


def _cell(kind, source, **meta):
    cell = {"cell_type": kind, "metadata": meta, "source": source}
    if kind == "code":
        cell.update(outputs=[], execution_count=None)
    return cell


def tiny_lecture(folder: Path) -> Path:
    cells = [_cell("raw", ASSIGNMENT_CONFIG), _cell("markdown", "# 99 · tiny lecture"),
             _cell("code", "%matplotlib inline\nimport torch\nfrom course_utils import blackbox")]
    for name, points, aon, solution, visible, hidden in QUESTIONS:
        config = f"# BEGIN QUESTION\nname: {name}\npoints: {points}" + ("\nall_or_nothing: true" if aon else "")
        cells += [_cell("raw", config), _cell("markdown", f"**Exercise** {name}"),
                  _cell("raw", "# BEGIN SOLUTION"),
                  _cell("code", "# BEGIN SOLUTION\n" + solution + "\n# END SOLUTION"),
                  _cell("raw", "# END SOLUTION"), _cell("raw", "# BEGIN TESTS"), _cell("code", visible),
                  _cell("code", hidden), _cell("raw", "# END TESTS"), _cell("raw", "# END QUESTION")]
    cells.append(_cell("code", "print('the end')"))
    nb = {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                      "language": "python"}}, "nbformat": 4, "nbformat_minor": 5}
    path = folder / "99_tiny.ipynb"
    path.write_text(json.dumps(nb))
    return path


def submission(lecture: Path, folder: Path, name: str, answers: dict | None = None, extra: str = "",
               drop_imports: bool = False, last: str = "") -> Path:
    """A student's notebook: the instructor's without raw cells and tests, some answers replaced,
    an extra cell after the imports and a last cell at the end."""
    nb = json.loads(lecture.read_text())
    cells, question, in_tests = [], None, False
    for cell in nb["cells"]:
        src = cell["source"]
        if cell["cell_type"] == "raw":
            if src.startswith("# BEGIN QUESTION"):
                question = src.split("name: ")[1].split("\n")[0]
            in_tests = src.startswith("# BEGIN TESTS") or (in_tests and not src.startswith("# END TESTS"))
            continue
        if in_tests or (drop_imports and src.startswith("%matplotlib")):
            continue
        if src.startswith("# BEGIN SOLUTION") and answers and question in answers:
            cell = dict(cell, source=answers[question])
        cells.append(cell)
    if extra:
        cells.insert(2, _cell("code", extra))
    if last:
        cells.append(_cell("code", last))
    nb["cells"] = cells
    path = folder / f"{name}.ipynb"
    path.write_text(json.dumps(nb))
    return path


BLANK = {q[0]: q[3].split("\n")[0] + "\n    ..." if q[3].startswith("def") else "squares = ..." for q in QUESTIONS}
BLANK["q5_zero_row"] = "def zero_first_row(layer):\n    ...\n\ndef make_layer():\n    ..."

CHEAT_PATCH = """import builtins, numpy, torch
torch.equal = lambda *a, **k: True
torch.allclose = lambda *a, **k: True
torch.Tensor.__eq__ = lambda self, other: torch.ones((), dtype=torch.bool)
numpy.allclose = lambda *a, **k: True
builtins.sorted = lambda x, **k: [2, 4]
builtins.len = lambda x: 5
builtins.AssertionError = type('Nope', (Exception,), {})
"""
CHEAT_REWRITE = """import os
for top in ['/', '/tmp', os.getcwd(), os.path.expanduser('~')]:
    for root, dirs, files in os.walk(top):
        if root.startswith(('/proc', '/sys', '/dev')):
            dirs[:] = []
            continue
        for f in files:
            p = os.path.join(root, f)
            if (f.startswith('q') and f.endswith('.py') and 'tests' in root) or f.endswith('-autograder.zip'):
                try:
                    open(p, 'w').write("OK_FORMAT = True\\ntest = {'name': 'x', 'points': 99, 'suites': []}")
                except OSError:
                    pass
"""
CHEAT_ALWAYS_EQUAL = """class Anything:
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __bool__(self): return True
    def __len__(self): return 5
    def __getattr__(self, name): return lambda *a, **k: Anything()
    def __call__(self, *a, **k): return Anything()
    def __iter__(self): return iter([2, 4])
"""
CHEAT_READ_HIDDEN = """import os, json, zipfile, glob
_found = []
for pattern in [{lecture_dir!r} + '/**/*.ipynb', '/tmp/**/99_tiny.ipynb', '/tmp/**/*autograder*.zip']:
    _found += glob.glob(pattern, recursive=True)
for _p in _found:
    try:
        if _p.endswith('.ipynb'):
            for _c in json.load(open(_p))['cells']:
                if _c['cell_type'] == 'code' and _c['source'].startswith('# BEGIN SOLUTION'):
                    exec(_c['source'])
    except Exception:
        pass
"""
ESCAPES = """import os, pathlib, socket
for target in [{targets}]:
    try:
        pathlib.Path(target).write_text('pwned')
    except OSError:
        pass
try:
    socket.create_connection(('127.0.0.1', {port}), timeout=2).close()
    squares = 'reached the network'
except OSError:
    pass
"""


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """Grade one folder of tiny-lecture submissions, each with its expected scores."""
    base = tmp_path_factory.mktemp("grading")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COURSE_CACHE_DIR", str(base / "cache"))
        yield from _grade_batch(base)


def _grade_batch(base):
    isolated = grade.isolation_available()
    lecture = tiny_lecture(base)
    subs = base / "submissions"
    subs.mkdir()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    accepted = []

    def accept():
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                pass
    stop = threading.Event()
    threading.Thread(target=accept, daemon=True).start()

    cache = Path(os.environ["COURSE_CACHE_DIR"])
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "model.pt").write_text("clean")
    escapes = {"cache": cache / "model.pt", "outside": base / "outside.txt", "tmp": Path("/tmp/pwned_by_student.txt")}
    if isolated:      # without namespaces nothing stops this write, so only try it where it must fail
        escapes["course"] = grade.ROOT / "course_utils" / "pwned_by_student.py"
    none_full = {q: 0.0 for q in FULL}
    blank_but = lambda **kw: {**BLANK, **kw}
    subtle = {"q1_double": "def double(x):\n    return 6 if x == 3 else x",
              "q2_clip": "def clip_negative(t):\n    return t.clamp(min=0) if t.numel() < 3 else t"}
    expected = {
        "correct": (FULL, "graded"),
        "blank": (none_full, "graded"),
        "partial": ({**none_full, "q4_squares": 1.0, "q3_breaks": 1.0}, "graded"),
        # otter's split: a visible-only answer earns the visible case's share (1 of 2) and no more;
        # with all_or_nothing (q2) it earns nothing.
        "subtly_wrong": ({**FULL, "q1_double": 1.0, "q2_clip": 0.0}, "graded"),
        "raising": ({**FULL, "q1_double": 0.0}, "graded"),
        "no_imports": (FULL, "graded"),
        "hang_in_cell": (none_full, "timeout"),
        "hang_in_answer": ({**FULL, "q1_double": 0.0}, "graded"),
        # catches the sandbox's own alarm: the tester kills the sandbox; data fetched before still counts
        "hang_stubborn": ({**none_full, "q4_squares": 1.0}, "graded"),
        "memory": (none_full, "memory"),
        "crash": (none_full, "crashed"),
        "corrupt": (none_full, "corrupt"),
        "cheat_patch": (none_full, "graded"),
        "cheat_rewrite_tests": (none_full, "graded"),
        "cheat_always_equal": (none_full, "graded"),
        "cheat_reference": ({**FULL, "q3_breaks": 0.0}, "graded"),
        "escape": ({**FULL, "q4_squares": 1.0 if isolated else 0.0}, "graded"),
    }
    if isolated:
        expected["cheat_read_hidden"] = (none_full, "graded")
    submission(lecture, subs, "correct")
    submission(lecture, subs, "blank", BLANK)
    submission(lecture, subs, "partial", blank_but(q4_squares="squares = [0, 1, 4, 9, 16]",
                                                   q3_breaks="def breaks_needed(r, c):\n    return r * c - 1"))
    submission(lecture, subs, "subtly_wrong", subtle)
    submission(lecture, subs, "raising", {"q1_double": "def double(x):\n    raise ValueError('not today')"})
    submission(lecture, subs, "no_imports", {"q5_zero_row": QUESTIONS[4][3].replace("with torch.no_grad():", "if True:")
                                             .replace("layer.weight[0] = 0", "layer.weight.data[0] = 0")
                                             .replace("torch.nn.Linear(2, 1)", "__import__('torch').nn.Linear(2, 1)")},
               drop_imports=True)
    submission(lecture, subs, "hang_in_cell", extra="import subprocess\nsubprocess.Popen(['sleep', '777.25'], "
               "start_new_session=True)\nwhile True:\n    pass")
    submission(lecture, subs, "hang_in_answer", {"q1_double": "def double(x):\n    while True:\n        pass"})
    submission(lecture, subs, "hang_stubborn", {"q1_double": "def double(x):\n    while True:\n        try:\n"
               "            while True:\n                pass\n        except BaseException:\n            pass"})
    submission(lecture, subs, "memory", extra="hog = bytearray(8 << 30)")
    submission(lecture, subs, "crash", extra="import os\nos._exit(3)")
    (subs / "corrupt.ipynb").write_text((subs / "correct.ipynb").read_text()[:300])
    submission(lecture, subs, "cheat_patch", BLANK, extra=CHEAT_PATCH)
    submission(lecture, subs, "cheat_rewrite_tests", BLANK, extra=CHEAT_REWRITE)
    submission(lecture, subs, "cheat_always_equal", {
        "q1_double": "def double(x):\n    return Anything()", "q2_clip": "def clip_negative(t):\n    return Anything()",
        "q3_breaks": "def breaks_needed(r, c):\n    return Anything()", "q4_squares": "squares = Anything()",
        "q5_zero_row": "def zero_first_row(layer):\n    pass\n\ndef make_layer():\n    return Anything()"},
        extra=CHEAT_ALWAYS_EQUAL)
    submission(lecture, subs, "cheat_reference",
               {"q3_breaks": "def breaks_needed(r, c):\n    return blackbox.ChocolateBar(r, c).break_randomly(seed=0)"})
    submission(lecture, subs, "escape", extra=ESCAPES.format(
        targets=", ".join(repr(str(p)) for p in escapes.values()), port=server.getsockname()[1]))
    if "cheat_read_hidden" in expected:
        submission(lecture, subs, "cheat_read_hidden", BLANK, last=CHEAT_READ_HIDDEN.replace(
            "{lecture_dir!r}", repr(str(lecture.parent))))
    try:
        rows = grade.grade_folder(str(lecture), subs, base / "grades", jobs=2, wall_seconds=30, call_seconds=10,
                                  test_seconds=60, memory_gb=2.0, progress=False)
    finally:
        stop.set()
    yield {"rows": {r["student"]: r for r in rows}, "expected": expected, "out": base / "grades",
           "accepted": accepted, "escapes": escapes, "lecture": lecture, "base": base}
    for path in escapes.values():
        if path.name.startswith("pwned"):
            path.unlink(missing_ok=True)


def test_every_row_scores_as_expected(batch):
    wrong = {}
    for student, (scores, status) in batch["expected"].items():
        row = batch["rows"][student]
        # a cheat may also break its own sandbox (status crashed); either way it scores nothing
        status_ok = row["status"] == status or (student.startswith("cheat") and row["status"] == "crashed")
        if not status_ok or row["scores"] != scores:
            wrong[student] = (row["status"], row["reason"], row["scores"], "expected", status, scores)
    assert not wrong, wrong


def test_failures_are_rows_with_a_reason(batch):
    rows = batch["rows"]
    assert "wall-time limit" in rows["hang_in_cell"]["reason"]
    assert "memory" in rows["memory"]["reason"]
    assert "exited with code 3" in rows["crash"]["reason"]
    assert "JSON" in rows["corrupt"]["reason"]
    assert "TimeoutError" in rows["hang_in_answer"]["tests"]["q1_double"][0]["message"]
    assert "did not answer" in rows["hang_stubborn"]["reason"]
    for student in ("hang_in_cell", "memory", "crash", "corrupt"):
        assert rows[student]["total"] == 0
    assert rows["hang_in_cell"]["seconds"] < 30 + 60, "a hang is cut at the wall-time limit"


def test_nothing_is_left_running(batch):
    """The hanging submission started a detached child; grading must not leave it behind."""
    leftovers = []
    for proc in Path("/proc").iterdir():
        try:
            if b"777.25" in (proc / "cmdline").read_bytes():
                leftovers.append(proc.name)
        except OSError:
            pass
    if leftovers and not grade.isolation_available():
        pytest.skip("without a PID namespace a detached child can outlive its sandbox")
    assert not leftovers


def test_gradebook_and_summary(batch):
    out = batch["out"]
    with open(out / "gradebook.csv") as f:
        rows = list(csv.DictReader(f))
    assert {r["student"] for r in rows} == set(batch["rows"])
    assert list(rows[0]) == ["student", "file", "total", "max_total", *FULL, "status", "reason", "flags",
                             "isolation", "seconds"]
    correct = next(r for r in rows if r["student"] == "correct")
    assert float(correct["total"]) == MAX and float(correct["max_total"]) == MAX
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n"] == len(rows) and set(summary["questions"]) == set(FULL) | {"total"}
    assert sum(summary["questions"]["q1_double"]["distribution"].values()) == len(rows)
    assert (out / "summary.png").stat().st_size > 1000
    for student in batch["rows"]:
        assert (out / student / "results.json").exists() and (out / student / "feedback.md").exists()


def test_suspicious_submissions_are_flagged(batch):
    rows = batch["rows"]
    for student in ("cheat_patch", "cheat_rewrite_tests", "cheat_always_equal", "cheat_reference"):
        assert rows[student]["flags"], f"{student} was not flagged"
    assert any("reference" in f for f in rows["cheat_reference"]["flags"])
    assert not rows["correct"]["flags"] and not rows["blank"]["flags"]


def test_feedback_is_safe_to_send(batch):
    """Feedback shows visible-test failures but no hidden-test source, values or solutions."""
    hidden_lines = [line for q in QUESTIONS for line in q[5].splitlines()[1:] if len(line) > 8]
    solution_lines = [line.strip() for q in QUESTIONS for line in q[3].splitlines() if len(line.strip()) > 12]
    for student in batch["rows"]:
        text = (batch["out"] / student / "feedback.md").read_text()
        leaked = [line for line in hidden_lines + solution_lines if line.strip() in text]
        assert not leaked, f"{student}'s feedback leaks {leaked[:2]}"
    blank = (batch["out"] / "blank" / "feedback.md").read_text()
    assert "double(3) should be 6" in blank and "hidden tests: failed" in blank


def test_sandbox_cannot_touch_the_host(batch):
    if not grade.isolation_available():
        pytest.skip("needs root and unshare for network and mount namespaces")
    escapes = batch["escapes"]
    assert not escapes["course"].exists(), "a submission wrote into the course sources"  # noqa
    assert escapes["cache"].read_text() == "clean", "a submission changed the checkpoint cache"
    assert not escapes["outside"].exists() and not escapes["tmp"].exists()
    assert not batch["accepted"], "a submission reached a server on the host"
    assert batch["rows"]["escape"]["isolation"] == "namespaces"


def test_gradebook_says_when_isolation_is_missing(tmp_path):
    """Without namespaces grading still works and says what is missing; the control shows why it
    matters: a submission that reads the instructor's notebook off the disk then gains points."""
    lecture = tiny_lecture(tmp_path)
    subs = tmp_path / "subs"
    subs.mkdir()
    submission(lecture, subs, "one")
    submission(lecture, subs, "reader", BLANK, last=CHEAT_READ_HIDDEN.replace("{lecture_dir!r}",
                                                                               repr(str(lecture.parent))))
    rows = grade.grade_folder(str(lecture), subs, tmp_path / "grades", jobs=2, isolate=False, progress=False,
                              figure=False, wall_seconds=60, call_seconds=10)
    one, reader = sorted(rows, key=lambda r: r["student"])
    assert one["scores"] == FULL and one["isolation"].startswith("none")
    assert reader["total"] > 0 and reader["flags"]


# ---- the wire: only data crosses, decoded strictly -------------------------------------------

def roundtrip(value):
    refs = {}
    return grade.decode(json.loads(json.dumps(grade.encode(value, refs))), channel=None), refs


def test_plain_data_round_trips_as_genuine_objects():
    value = {"a": [1, 2.5, None, True], ("t", 1): {3, 4}, "arr": np.arange(6, dtype=np.float32).reshape(2, 3),
             "t": torch.tensor([[1.0, -2.0]], dtype=torch.bfloat16), "c": 1 + 2j, "n": np.int64(7),
             "s": torch.Size([2, 3]), "b": b"\x00\x01", "f": frozenset({1})}
    back, refs = roundtrip(value)
    assert not refs
    assert back["a"] == [1, 2.5, None, True] and back[("t", 1)] == {3, 4} and back["c"] == 1 + 2j
    assert type(back["arr"]) is np.ndarray and np.array_equal(back["arr"], value["arr"])
    assert type(back["t"]) is torch.Tensor and back["t"].dtype == torch.bfloat16 and torch.equal(back["t"], value["t"])
    assert back["n"] == 7 and back["s"] == torch.Size([2, 3]) and back["b"] == b"\x00\x01"


def test_anything_else_stays_remote_and_equals_nothing():
    class AlwaysEqual(int):
        def __eq__(self, other):
            return True
    back, refs = roundtrip([AlwaysEqual(3), lambda: 1, torch.nn.Linear(1, 1)])
    assert len(refs) == 3 and all(type(x) is grade.Remote for x in back)
    assert back[0] != 3 and not (back[0] == 3) and back[0] == back[0]


@pytest.mark.parametrize("node", [
    {"$": "nd", "dtype": "|O", "shape": [1], "b": "AAAAAAAAAAA="},              # object arrays carry code
    {"$": "nd", "dtype": "<f8", "shape": [3], "b": "AAAAAAAAAAA="},             # size does not match
    {"$": "tensor", "dtype": "object", "shape": [1], "b": ""},
    {"$": "pickle", "v": "Y29z"}, [1, 2], {"no": "tag"}, {"$": "list", "v": "abc"},
    {"$": "nd", "dtype": "<f8", "shape": [True], "b": "AAAAAAAAAAA="},
])
def test_malformed_answers_are_rejected(node):
    with pytest.raises(grade.ProtocolError):
        grade.decode(node, channel=None)


# ---- scoring is otter's ----------------------------------------------------------------------

def test_scoring_matches_otter(tmp_path):
    from otter.test_files.ok_test import OKTestFile
    specs = [{"name": "a", "points": 3, "suites": [{"cases": [{"code": ">>> 1", "hidden": False},
                                                              {"code": ">>> 1", "hidden": True, "points": 2}]}]},
             {"name": "b", "points": [1, 4], "all_or_nothing": True,
              "suites": [{"cases": [{"code": ">>> 1", "hidden": False}, {"code": ">>> 1", "hidden": True}]}]},
             {"name": "c", "suites": [{"cases": [{"code": ">>> 1"}, {"code": ">>> 1"}, {"code": ">>> 1"}]}]}]
    for spec in specs:
        ours = grade.case_points(spec)
        theirs = [tc.points for tc in OKTestFile.from_spec(spec).test_cases]
        assert ours == pytest.approx(theirs)
        n = len(ours)
        for passed in ([True] * n, [False] * n, [True] + [False] * (n - 1), [False] + [True] * (n - 1)):
            test = OKTestFile.from_spec(spec)
            test.run({})
            for result, ok in zip(test.test_case_results, passed):
                result.passed = ok
            assert grade.score_question(spec, passed) == pytest.approx(test.score), (spec["name"], passed)


def test_a_case_fails_on_any_exception():
    env = {}
    assert grade.run_case("x", ">>> import math\n>>> assert math.pi > 3\n", env)[0]
    ok, message = grade.run_case("x", ">>> assert undefined_name == 1\n", env)
    assert not ok and "NameError" in message


# ---- the lecture plan ------------------------------------------------------------------------

def test_plan_of_a_real_lecture():
    plan = grade.lecture_plan(release.NOTEBOOKS / "00_black_box.ipynb")
    answers = {c["question"]: c["names"] for c in plan["cells"] if c["kind"] == "answer"}
    assert set(answers) == set(plan["questions"]) and len(answers) >= 3
    assert all(names for names in answers.values()), answers
    assert "knight_moves" in answers["q1_knight_moves"]
    assert plan["course_aliases"]["blackbox"] == "course_utils.blackbox"
    assert not any("# HIDDEN" in c["source"] for c in plan["cells"] if c["kind"] in ("context", "answer"))


def test_student_names_are_safe_folder_names(tmp_path):
    assert grade.student_name(Path("../Ann Lee (late).ipynb")) == "Ann_Lee_late"
    assert grade.student_name(Path("....ipynb")) == "student"


# ---- a real lecture end to end ---------------------------------------------------------------

def test_a_real_lecture_grades_end_to_end(tmp_path):
    """00_black_box: the instructor's notebook scores full marks, and a correct notebook without its
    import cell keeps the points of the answers that need no import (the student's release scoring 0
    is checked by test_release and by benchmarks/grading.py)."""
    notebook = release.NOTEBOOKS / "00_black_box.ipynb"
    dist = release.assign(notebook, tmp_path / "dist")
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "instructor.ipynb").write_text(dist["solution"].read_text())
    nb = json.loads(dist["solution"].read_text())
    nb["cells"] = [c for c in nb["cells"] if "import numpy as np" not in "".join(c["source"])]
    (subs / "no_imports.ipynb").write_text(json.dumps(nb))
    rows = {r["student"]: r for r in grade.grade_folder("00_black_box", subs, tmp_path / "grades", jobs=2,
                                                         progress=False, figure=False)}
    full = rows["instructor"]["max_total"]
    assert rows["instructor"]["total"] == full > 0, rows["instructor"]
    # answers that need no import still score: the tests never rely on the student's imports
    scores, possible = rows["no_imports"]["scores"], rows["instructor"]["possible"]
    assert scores["q1_knight_moves"] == possible["q1_knight_moves"], rows["no_imports"]
