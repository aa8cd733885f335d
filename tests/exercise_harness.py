"""Exercises as data, and a harness that runs their tests against plausible wrong answers ("mutants").

An otter exercise is the run of cells from a ``# BEGIN QUESTION`` raw cell to ``# END QUESTION``:
its prompt (the first markdown cell), its solution (code between the ``# BEGIN SOLUTION`` and
``# END SOLUTION`` raw cells) and its tests (code between ``# BEGIN TESTS`` and ``# END TESTS``;
a test whose first line is ``# HIDDEN`` is hidden from students).

A test suite that accepts a plausible wrong answer teaches nothing, so every exercise keeps at
least three mutants in ``tests/mutants/<notebook stem>.py``::

    MUTANTS = {"q1_name": [("what is wrong with it", "def f(...): ..."), ...]}

:func:`run_mutants` executes the notebook once in a Jupyter kernel (the way students and otter
run it), then, for each mutant, runs its source in place of the solution, runs the visible tests,
then the hidden ones, and restores the solution before the next mutant.
"""
from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
MUTANT_DIR = Path(__file__).resolve().parent / "mutants"

# "**Exercise 3** · difficulty 2/5 · importance 4/5 · about 10 minutes"
HEADER = re.compile(r"^\*\*Exercise (\d+)\*\* · difficulty ([1-5])/5 · importance ([1-5])/5 · about (\d+) minutes?\b")
HEADER_FORM = "**Exercise N** · difficulty D/5 · importance I/5 · about M minutes"


@dataclass
class Question:
    name: str
    prompt: str = ""
    solution_cells: list[int] = field(default_factory=list)   # notebook cell indices
    visible: list[int] = field(default_factory=list)
    hidden: list[int] = field(default_factory=list)
    last_cell: int = -1


def _marker(cell) -> str:
    return "".join(cell.source).strip() if cell.cell_type == "raw" else ""


def parse_questions(nb) -> list[Question]:
    """The notebook's exercises, in order."""
    questions, current, region = [], None, None
    for i, cell in enumerate(nb.cells):
        mark = _marker(cell)
        if mark.startswith("# BEGIN QUESTION"):
            name = re.search(r"^name:\s*(\S+)", mark, re.M)
            current, region = Question(name.group(1) if name else f"cell{i}"), None
            questions.append(current)
        elif current is None:
            continue
        elif mark.startswith("# END QUESTION"):
            current.last_cell, current = i, None
        elif mark.startswith("# BEGIN SOLUTION"):
            region = "solution"
        elif mark.startswith("# BEGIN TESTS"):
            region = "tests"
        elif mark.startswith("# END"):
            region = None
        elif cell.cell_type == "markdown" and not current.prompt and region is None:
            current.prompt = "".join(cell.source)
        elif cell.cell_type == "code" and region == "solution":
            current.solution_cells.append(i)
        elif cell.cell_type == "code" and region == "tests":
            hidden = "".join(cell.source).lstrip().startswith("# HIDDEN")
            (current.hidden if hidden else current.visible).append(i)
    return questions


def header(question: Question):
    """``(number, difficulty, importance, minutes)`` from the prompt's first line, or None."""
    m = HEADER.match(question.prompt.strip().splitlines()[0] if question.prompt.strip() else "")
    return tuple(int(g) for g in m.groups()) if m else None


def load_mutants(stem: str) -> dict | None:
    path = MUTANT_DIR / f"{stem}.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location(f"mutants_{stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.MUTANTS


@dataclass
class Verdict:
    question: str
    description: str
    visible_errors: list[tuple[str, str]]   # (exception name, message) of each failing visible test
    hidden_errors: list[tuple[str, str]]


def _error(cell) -> tuple[str, str] | None:
    for out in cell.outputs:
        if out.output_type == "error":
            return out.ename, out.evalue
    return None


def run_mutants(notebook: Path, mutants: dict, cell_timeout: int = 300) -> list[Verdict]:
    """Run every mutant of every question against its visible and hidden tests; return what failed."""
    from nbclient import NotebookClient

    nb = nbformat.read(notebook, as_version=4)
    questions = {q.name: q for q in parse_questions(nb)}
    unknown = set(mutants) - set(questions)
    if unknown:
        raise ValueError(f"{notebook.name}: mutants for unknown questions {sorted(unknown)}; "
                         f"the notebook has {sorted(questions)}")
    stop = max(q.last_cell for q in questions.values())
    client = NotebookClient(nb, timeout=cell_timeout, kernel_name="python3", allow_errors=False,
                            resources={"metadata": {"path": str(notebook.parent)}})
    verdicts = []
    with client.setup_kernel():
        for i, cell in enumerate(nb.cells[:stop + 1]):
            # Live widgets are skipped, as otter skips them when grading (jupyter/nbclient#312).
            if cell.cell_type == "code" and "otter_ignore" not in cell.metadata.get("tags", []):
                client.execute_cell(cell, i)
        client.allow_errors = True

        nb.cells.append(nbformat.v4.new_code_cell(""))   # nbclient writes outputs into nb.cells[index]
        scratch_index = len(nb.cells) - 1

        def run(source: str) -> tuple[str, str] | None:
            nb.cells[scratch_index] = scratch = nbformat.v4.new_code_cell(source)
            client.execute_cell(scratch, scratch_index, store_history=False)
            return _error(scratch)

        for name, cases in mutants.items():
            q = questions[name]
            for description, source in cases:
                setup_error = run(source)
                if setup_error:
                    raise AssertionError(f"{notebook.name} {name}: mutant {description!r} does not even "
                                         f"define itself: {setup_error}")
                visible = [e for i in q.visible if (e := run("".join(nb.cells[i].source)))]
                hidden = [e for i in q.hidden if (e := run("".join(nb.cells[i].source)))]
                verdicts.append(Verdict(name, description, visible, hidden))
                for i in q.solution_cells:   # restore the right answer for the next mutant
                    if err := run("".join(nb.cells[i].source)):
                        raise AssertionError(f"{notebook.name} {name}: the solution no longer runs: {err}")
    return verdicts
