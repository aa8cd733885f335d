"""Exercises that teach: at least four per lecture, each with a header, each rejecting plausible wrong answers.

The mutants of each lecture are in tests/mutants/<notebook stem>.py (see tests/exercise_harness.py).
"""
import nbformat
import pytest

from course_utils.release import notebook_paths
from exercise_harness import HEADER_FORM, header, load_mutants, parse_questions, run_mutants

NOTEBOOKS = notebook_paths()


@pytest.fixture(autouse=True)
def isolated_cache():
    """Override conftest's per-test cache, as tests/test_release.py does: the mutants run in the notebooks
    nbval has just run, and should find their trained models in the course cache."""
    yield


MIN_EXERCISES = 4
MIN_MUTANTS = 3

# Lectures whose exercises have not yet been rewritten to this standard (issues 15 and 16). Each is
# a known failure, listed so that it cannot be forgotten: strict xfail turns red once it passes.
NOT_YET_TO_STANDARD = set()


def params(paths):
    return [pytest.param(p, id=p.stem, marks=pytest.mark.xfail(
        strict=True, reason="exercises not yet to the standard (issues 15/16)"))
        if p.stem in NOT_YET_TO_STANDARD else pytest.param(p, id=p.stem) for p in paths]


def questions_of(path):
    return parse_questions(nbformat.read(path, as_version=4))


@pytest.mark.parametrize("path", params(NOTEBOOKS))
def test_enough_exercises_with_headers(path):
    questions = questions_of(path)
    assert len(questions) >= MIN_EXERCISES, f"{path.name} has {len(questions)} exercises; at least {MIN_EXERCISES}"
    numbers = []
    for q in questions:
        h = header(q)
        assert h, f"{path.name} {q.name}: the prompt must start with the line '{HEADER_FORM}'"
        assert q.visible and q.hidden, f"{path.name} {q.name}: needs visible and hidden tests"
        numbers.append(h[0])
    assert numbers == list(range(1, len(questions) + 1)), f"{path.name}: exercises numbered {numbers}"


@pytest.mark.parametrize("path", params(NOTEBOOKS))
def test_visible_and_hidden_tests_reject_mutants(path):
    mutants = load_mutants(path.stem)
    assert mutants is not None, f"no tests/mutants/{path.stem}.py"
    for q in questions_of(path):
        assert len(mutants.get(q.name, [])) >= MIN_MUTANTS, \
            f"{path.name} {q.name}: {len(mutants.get(q.name, []))} mutants; at least {MIN_MUTANTS}"
    problems = []
    for v in run_mutants(path, mutants):
        if not v.visible_errors:
            problems.append(f"{v.question}: the visible tests accept the mutant that {v.description}")
        elif not any(message.strip() for _, message in v.visible_errors):
            problems.append(f"{v.question}: the visible tests reject the mutant that {v.description}, "
                            f"but only with a bare {v.visible_errors[0][0]}; say what was expected")
        if not v.hidden_errors:
            problems.append(f"{v.question}: the hidden tests accept the mutant that {v.description}")
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


def test_harness_catches_a_mutant_that_the_visible_tests_accept(tmp_path):
    cells = [nbformat.v4.new_raw_cell("# ASSIGNMENT CONFIG"),
             nbformat.v4.new_raw_cell("# BEGIN QUESTION\nname: q1_inc\npoints: 1"),
             nbformat.v4.new_markdown_cell(
                 "**Exercise 1** · difficulty 1/5 · importance 1/5 · about 2 minutes\n\nAdd one."),
             nbformat.v4.new_raw_cell("# BEGIN SOLUTION"),
             nbformat.v4.new_code_cell("def inc(x):\n    return x + 1"),
             nbformat.v4.new_raw_cell("# END SOLUTION"),
             nbformat.v4.new_raw_cell("# BEGIN TESTS"),
             nbformat.v4.new_code_cell('assert inc(1) == 2, f"inc(1) should be 2, got {inc(1)}"'),
             nbformat.v4.new_code_cell("# HIDDEN\nassert inc(-5) == -4"),
             nbformat.v4.new_raw_cell("# END TESTS"),
             nbformat.v4.new_raw_cell("# END QUESTION")]
    path = tmp_path / "99_tiny.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    (q,) = questions_of(path)
    assert header(q) == (1, 1, 1, 2) and (q.solution_cells, q.visible, q.hidden) == ([4], [7], [8])
    verdicts = run_mutants(path, {"q1_inc": [("doubles", "def inc(x):\n    return 2 * x"),
                                             ("adds two", "def inc(x):\n    return x + 2")]})
    doubles, adds_two = verdicts
    assert not doubles.visible_errors and doubles.hidden_errors          # 2*1 == 2: only hidden tests catch it
    assert adds_two.visible_errors == [("AssertionError", "inc(1) should be 2, got 3")] and adds_two.hidden_errors
