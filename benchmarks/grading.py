"""Grading a class: seconds per submission, and N synthetic submissions of one lecture in one command.

    nice .venv/bin/python benchmarks/grading.py                      # 200 submissions of 10_explicit_models
    nice .venv/bin/python benchmarks/grading.py --n 20 --lecture 00_black_box

The synthetic class mixes, per question, correct answers, blanks (the release as handed out), the
plausible wrong answers of tests/mutants/<lecture>.py and answers that raise; and, per submission,
corrupt files, hangs (in a cell and in an answer), memory blow-ups, crashes and two cheats. Every row
of the gradebook is checked against the score it must get. Writes benchmarks/results/grading.json.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, write_results

from course_utils import grade, release

PATCH = ("import builtins, numpy, torch\ntorch.equal = lambda *a, **k: True\ntorch.allclose = lambda *a, **k: True\n"
         "numpy.allclose = lambda *a, **k: True\nbuiltins.abs = lambda x: 0\nbuiltins.isinstance = lambda *a: True\n")
ANYTHING = ("class Anything:\n    def __eq__(self, other): return True\n    def __ne__(self, other): return False\n"
            "    def __lt__(self, other): return True\n    def __gt__(self, other): return True\n"
            "    def __abs__(self): return 0\n    def __sub__(self, other): return Anything()\n"
            "    __rsub__ = __sub__\n    def __bool__(self): return True\n")


def answer_source(cell_source: str) -> str:
    """The instructor's answer cell as a correct student would write it (markers removed)."""
    return "\n".join(line for line in cell_source.splitlines()
                     if line.strip() not in ("# BEGIN SOLUTION", "# END SOLUTION"))


def load_mutants(lecture: str) -> dict:
    path = ROOT / "tests" / "mutants" / f"{lecture}.py"
    if not path.exists():
        return {}
    spec = importlib.util.spec_from_file_location(f"mutants_{lecture}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.MUTANTS


def synthetic_class(lecture: str, n: int, folder: Path, seed: int = 0) -> dict:
    """Write n submissions into folder; return {student: (expected scores, allowed statuses, kind)}."""
    rng = random.Random(seed)
    notebook = release.notebook_paths([lecture])[0]
    built = release.assign(notebook, folder.parent / "dist")
    plan = grade.lecture_plan(notebook)
    tests = grade.read_autograder_tests(built["autograder"])
    possible = {q: sum(grade.case_points(spec)) for q, spec in tests.items()}
    mutants = load_mutants(lecture)
    student_nb = json.loads(built["student"].read_text())
    answer_cells = [i for i, c in enumerate(student_nb["cells"])
                    if "otter_answer_cell" in c.get("metadata", {}).get("tags", [])]
    plan_answers = [c for c in plan["cells"] if c["kind"] == "answer"]
    if len(answer_cells) != len(plan_answers):
        raise RuntimeError(f"{len(answer_cells)} answer cells in the release, {len(plan_answers)} in the plan")
    first_of_question = {}
    for index, cell in zip(answer_cells, plan_answers):
        first_of_question.setdefault(cell["question"], index)

    whole = (["corrupt"] * 8 + ["hang_cell"] * 6 + ["hang_answer"] * 6 + ["memory"] * 6 + ["crash"] * 6
             + ["cheat_patch"] * 6 + ["cheat_always_equal"] * 6)
    whole = whole[:max(0, n - 10)] if n < 60 else whole
    kinds = whole + ["mixed"] * (n - len(whole))
    rng.shuffle(kinds)
    expected = {}
    for number, kind in enumerate(kinds):
        nb = json.loads(json.dumps(student_nb))
        cells = nb["cells"]
        scores = {q: 0.0 for q in possible}
        statuses = {"graded"}
        choice = {}
        for index, cell in zip(answer_cells, plan_answers):
            q = cell["question"]
            if kind == "mixed":
                pick = choice.setdefault(q, rng.choices(["correct", "blank", "mutant", "raising"], [50, 15, 25, 10])[0])
            elif kind in ("hang_answer",):
                pick = "correct"
            else:
                pick = "blank"
            if pick == "mutant" and not mutants.get(q):
                pick = "blank"
            if pick == "correct":
                cells[index]["source"] = answer_source(cell["source"])
                scores[q] = possible[q]
            elif pick == "mutant" and index == first_of_question[q]:
                cells[index]["source"] = rng.choice(mutants[q])[1]
            elif pick == "raising":
                defs = [name for name in cell["names"] if f"def {name}(" in cell["source"]]
                cells[index]["source"] = "\n".join(f"def {name}(*args, **kwargs):\n    raise ValueError('not done yet')"
                                                   for name in defs) or "raise ValueError('not done yet')"
            elif kind == "cheat_always_equal":
                cells[index]["source"] = "\n".join(f"def {name}(*args, **kwargs):\n    return Anything()"
                                                   if f"def {name}(" in cell["source"] else f"{name} = Anything()"
                                                   for name in cell["names"])
        if kind == "hang_answer":
            q, index = next(iter(first_of_question.items()))
            cell = next(c for c in plan_answers if c["question"] == q)
            name = next(nm for nm in cell["names"] if f"def {nm}(" in cell["source"])
            cells[index]["source"] += f"\n\ndef {name}(*args, **kwargs):\n    while True:\n        pass\n"
            scores[q] = 0.0
        extra = {"hang_cell": "while True:\n    pass", "memory": "hog = bytearray(64 << 30)",
                 "crash": "import os\nos._exit(1)", "cheat_patch": PATCH, "cheat_always_equal": ANYTHING}.get(kind)
        if extra:
            cells.insert(2, {"cell_type": "code", "metadata": {}, "source": extra, "outputs": [], "execution_count": None})
        statuses = {"corrupt": {"corrupt"}, "hang_cell": {"timeout"}, "memory": {"memory"}, "crash": {"crashed"},
                    "cheat_patch": {"graded", "crashed"}, "cheat_always_equal": {"graded", "crashed"}}.get(kind, statuses)
        student = f"s{number:03d}_{kind}"
        text = json.dumps(nb)
        (folder / f"{student}.ipynb").write_text(text[: len(text) // 3] if kind == "corrupt" else text)
        expected[student] = (scores, statuses, kind)
    return expected


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lecture", default="10_explicit_models")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="grading-bench-"))
    try:
        load_before = os.getloadavg()[0]
        subs = work / "submissions"
        subs.mkdir()
        expected = synthetic_class(args.lecture, args.n, subs)
        (work / "expected.json").write_text(json.dumps({k: [v[0], sorted(v[1]), v[2]] for k, v in expected.items()}))
        start = time.monotonic()
        rows = grade.grade_folder(args.lecture, subs, work / "grades", jobs=args.jobs, wall_seconds=45,
                                  call_seconds=5, test_seconds=120, memory_gb=2.0)
        wall = time.monotonic() - start
        load_after = os.getloadavg()[0]
        by_student = {r["student"]: r for r in rows}
        wrong = []
        for student, (scores, statuses, kind) in expected.items():
            row = by_student.get(student)
            if row is None or row["status"] not in statuses or row["scores"] != scores:
                wrong.append({"student": student, "kind": kind, "expected": scores, "statuses": sorted(statuses),
                              "got": row and row["scores"], "status": row and row["status"],
                              "reason": row and row["reason"]})
        cheats = [r for r in rows if "cheat" in r["student"]]
        graded = sorted(r["seconds"] for r in rows if r["status"] == "graded")
        per_submission = graded[len(graded) // 2]
        cpu = sorted(r.get("cpu_seconds", 0) for r in rows if r["status"] == "graded")
        cpu_per_submission = cpu[len(cpu) // 2]
        kinds = {}
        for _, _, kind in expected.values():
            kinds[kind] = kinds.get(kind, 0) + 1
        results = {
            "lecture": args.lecture, "isolation": rows[0]["isolation"],
            "load_average_before": round(load_before, 2),
            "class_run": {"submissions": len(rows), "jobs": args.jobs, "wall_seconds": round(wall, 1),
                          "seconds_per_submission_median_graded": per_submission,
                          "cpu_seconds_per_submission_median_graded": cpu_per_submission,
                          "cpu_seconds_total": round(sum(r.get("cpu_seconds", 0) for r in rows), 1),
                          "throughput_submissions_per_minute": round(60 * len(rows) / wall, 2),
                          "kinds": kinds, "statuses": {s: sum(r["status"] == s for r in rows) for s in grade.STATUSES},
                          "limits": {"wall_seconds": 45, "call_seconds": 5, "test_seconds": 120, "memory_gb": 2.0},
                          "rows_checked": len(expected), "rows_wrong": len(wrong), "wrong": wrong[:20],
                          "cheating_rows": len(cheats), "cheating_points": sum(r["total"] for r in cheats),
                          "stalled": len(rows) != args.n, "load_average_after": round(load_after, 2)},
            "projection_200": {
                "assumption": "grading is CPU-bound on a quiet machine and runs one thread per process, so 200 "
                              "submissions take about 200 x (median CPU seconds per submission) / cores; hangs add "
                              "their wall-time limit each. The wall seconds measured here are inflated by the "
                              "recorded load average (other jobs on the shared 2-core machine).",
                "cores_2_minutes": round(200 * cpu_per_submission / 2 / 60, 1),
                "cores_16_minutes": round(200 * cpu_per_submission / 16 / 60, 1),
                "measured_here_minutes_for_this_run": round(wall / 60, 1)},
        }
        write_results("grading", results)
        print(json.dumps(results["class_run"], indent=1)[:3000])
        return 0 if not wrong and not results["class_run"]["stalled"] else 1
    finally:
        print(f"submissions, gradebook and expected scores kept in {work}")


if __name__ == "__main__":
    sys.exit(main())
