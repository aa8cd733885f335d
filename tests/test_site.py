"""The course-site builder without a kernel or a browser: input checks, frozen widgets, offline pages.
tests/browser/test_course_site.py builds real lectures and opens them in Chromium."""
import nbformat
import pytest

from course_utils import site
from course_utils.release import notebook_paths

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def notebook_with_widget():
    """An executed notebook as nbclient leaves it: an interact (slider + Output showing a figure), a
    progress bar, a raw otter cell and a hidden test."""
    state = {
        "box": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_slider", "IPY_MODEL_out"]}},
        "slider": {"model_name": "IntSliderModel", "state": {"value": 2}},
        "out": {"model_name": "OutputModel", "state": {"outputs": [
            {"output_type": "display_data", "data": {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"},
             "metadata": {}}]}},
        "bar": {"model_name": "HBoxModel", "state": {"children": ["IPY_MODEL_label", "IPY_MODEL_progress"]}},
        "label": {"model_name": "HTMLModel", "state": {"value": "training: 100%"}},
        "progress": {"model_name": "FloatProgressModel", "state": {"value": 1.0}},
    }
    view = lambda model_id: nbformat.v4.new_output(
        "display_data", data={WIDGET_VIEW: {"model_id": model_id, "version_major": 2}, "text/plain": "VBox(...)"})
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_raw_cell("# BEGIN QUESTION"),
                nbformat.v4.new_markdown_cell("# 99 · A test lecture"),
                nbformat.v4.new_code_cell("interact(...)", outputs=[view("box")]),
                nbformat.v4.new_code_cell("for _ in tqdm(...): pass", outputs=[view("bar")]),
                nbformat.v4.new_code_cell("# HIDDEN\nassert secret == 42")]
    nb.metadata["widgets"] = {site.WIDGET_STATE: {"state": state}}
    return nb


def test_freeze_widgets_keeps_what_they_showed():
    nb = site.reader_cells(site.freeze_widgets(notebook_with_widget(), "99_test"))
    assert "widgets" not in nb.metadata
    assert [c.cell_type for c in nb.cells] == ["markdown", "code", "code"], "raw and hidden cells must go"
    demo, bar = nb.cells[1].outputs, nb.cells[2].outputs
    assert "make demo NB=99_test" in demo[0].data["text/html"]
    assert demo[1].data["image/png"] == "iVBORw0KGgo="
    assert [o.data for o in bar] == [{"text/html": "training: 100%"}], "a progress bar is no demo"
    assert not any(WIDGET_VIEW in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def test_build_site_renders_stored_outputs_offline(tmp_path):
    source = tmp_path / "99_test.ipynb"
    nbformat.write(notebook_with_widget(), source)
    index = site.build_site([source], tmp_path / "site", execute_cells=False)
    page = (tmp_path / "site" / "99_test.html").read_text()
    assert "99 · A test lecture" in index.read_text() and 'href="99_test.html"' in index.read_text()
    assert 'href="index.html"' in page and "data:image/png;base64,iVBORw0KGgo=" in page
    assert site.remote_assets(page) == []
    assert (tmp_path / "site" / "_static" / "mathjax" / "MathJax.js").exists()
    assert "secret == 42" not in page


def test_remote_assets_finds_cdn_scripts_but_not_links_to_papers():
    page = ('<script src="https://cdn.example.org/require.js"></script><a href="https://arxiv.org/abs/1">paper</a>'
            '<link rel="stylesheet" href="//cdn.example.org/x.css"><img src="data:image/png;base64,AA">')
    assert site.remote_assets(page) == ["https://cdn.example.org/require.js", "//cdn.example.org/x.css"]


def test_build_site_checks_its_inputs(tmp_path):
    lecture = notebook_paths()[0]
    with pytest.raises(ValueError, match="empty"):
        site.build_site([], tmp_path)
    with pytest.raises(TypeError, match="list of notebook paths"):
        site.build_site(str(lecture), tmp_path)
    with pytest.raises(ValueError, match="not a notebook"):
        site.build_site([tmp_path / "missing.ipynb"], tmp_path)
    with pytest.raises(ValueError, match="share a name"):
        site.build_site([lecture, lecture], tmp_path)
    with pytest.raises(ValueError, match="own folder"):
        site.build_site([lecture], lecture.parent)
    with pytest.raises(ValueError, match="timeout"):
        site.build_site([lecture], tmp_path, timeout=0)
    with pytest.raises(ValueError, match="jobs"):
        site.build_site([lecture], tmp_path, jobs=0)
