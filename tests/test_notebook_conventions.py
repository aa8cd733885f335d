"""House rules for the committed notebooks (README, Contributing)."""
import json
import re

import pytest

from course_utils.release import NOTEBOOKS as NOTEBOOK_DIR, notebook_paths

NOTEBOOKS = notebook_paths()


def load(path):
    return json.loads(path.read_text())


def test_notebooks_exist_and_are_numbered():
    assert NOTEBOOKS, "no notebooks found"
    for path in NOTEBOOK_DIR.glob("*.ipynb"):
        assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name), f"{path.name} is not named NN_topic.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_stored_without_outputs(path):
    for i, cell in enumerate(load(path)["cells"]):
        if cell["cell_type"] == "code":
            assert not cell["outputs"], f"{path.name} cell {i} has outputs: strip them before committing"
            assert cell["execution_count"] is None, f"{path.name} cell {i} has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_otter_format_and_final_assertions(path):
    cells = load(path)["cells"]
    assert cells[0]["cell_type"] == "raw" and "".join(cells[0]["source"]).startswith("# ASSIGNMENT CONFIG")
    questions = [c for c in cells if c["cell_type"] == "raw" and "".join(c["source"]).startswith("# BEGIN QUESTION")]
    assert len(questions) >= 2, f"{path.name} needs at least two otter exercises"
    last_code = [c for c in cells if c["cell_type"] == "code"][-1]
    assert "assert" in "".join(last_code["source"]), f"{path.name} must end by asserting its key results"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_no_downloads_in_notebooks(path):
    text = "".join("".join(c["source"]) for c in load(path)["cells"])
    for pattern in ("urlopen", "requests.get", "download=True", "wget ", "curl "):
        assert pattern not in text, f"{path.name} downloads at run time ({pattern!r}); the course is offline-first"


WIDGET_CALL = re.compile(r"\binteract(ive)?\(|\bwidgets\.|_widget\(")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_widget_cells_are_not_graded(path):
    """The autograder must not run live demos: nbclient, which otter grades with, can wait for ever
    after a widget cell (jupyter/nbclient#312; seen here once, grading 01's perplexity slider)."""
    for i, cell in enumerate(load(path)["cells"]):
        if cell["cell_type"] == "code" and WIDGET_CALL.search("".join(cell["source"])):
            assert "otter_ignore" in cell["metadata"].get("tags", []), \
                f"{path.name} cell {i} shows a widget: tag it otter_ignore so that grading skips it"


# A measured number belongs to the run that measured it: printed, or written by
# display(Markdown(f"...")). Markdown may quote a number only when the line says where it comes from
# (a paper, the lecture, a year, "reported"), or as a setting in $math$ or `code`.
MEASURED_NUMBER = re.compile(r"(?<![\w.\-/])[-−]?\d+(?:\.\d+)?\s?%|(?<![\w.\-/])\d*\.\d+(?![\w.])")
CITED = re.compile(r"paper|report|et al\.|lecture|cited|published|original|\b(19|20)\d\d\b", re.I)


def uncited_numbers(markdown: str) -> list[str]:
    text = re.sub(r"\$\$.*?\$\$", " ", markdown, flags=re.S)
    text = re.sub(r"\$[^$\n]*\$|`[^`\n]*`|\]\([^)]*\)", " ", text)
    # A table whose header or caption says where it comes from is cited as a whole.
    text = re.sub(r"(?m)(^\|.*\n?)+", lambda t: "" if CITED.search(t.group(0)) else t.group(0), text)
    return [f"{numbers} in: {line.strip()[:120]}" for line in text.splitlines()
            if (numbers := MEASURED_NUMBER.findall(line)) and not CITED.search(line)]


def test_uncited_numbers_are_found():
    assert uncited_numbers("pointing accuracy is 74.2 %, so") and uncited_numbers("KL fell to 0.93")
    assert not uncited_numbers("the paper reports 1.64% error") and not uncited_numbers("Han et al. (2016): 0.80%")
    assert not uncited_numbers("with $\\alpha = 0.5$ and `lr=1e-3`, 3 epochs, 1,000 digits")
    assert not uncited_numbers("| paper (Table 1) | error |\n| --- | --- |\n| LeNet | 1.64% |")
    assert uncited_numbers("| ours | error |\n| --- | --- |\n| LeNet | 1.64% |")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_markdown_states_no_measured_numbers(path):
    found = [f"cell {i}: {hit}" for i, cell in enumerate(load(path)["cells"]) if cell["cell_type"] == "markdown"
             for hit in uncited_numbers("".join(cell["source"]))]
    assert not found, (f"{path.name}: markdown states numbers; print them from the run, write them with "
                       "display(Markdown(f'...')), or say where they are cited from:\n" + "\n".join(found))
