"""The readable course site: every lecture executed and rendered as static HTML that works offline.

    make html                                                     # all lectures -> build/site/index.html
    python -m course_utils.site 09_attention 10_explicit_models --out /tmp/site

Pages come from nbconvert's lab template (it ships inside the nbconvert wheel, so nothing is fetched
at build time) through the ``course-site`` template in ``course_utils/share/nbconvert/templates``,
which adds links to the index and to the previous and next lectures. Figures are embedded in the
pages; MathJax is copied into the site from the jupyter-server-mathjax package instead of coming
from a CDN. A widget needs a kernel, so each one is frozen into what it showed at its default
settings (its figure or text) with a pointer to ``make demo``. Otter directives and hidden
autograder tests are left out; solutions stay, since the notebooks are the instructor versions.
"""
from __future__ import annotations

import argparse
import html
import re
import shutil
import time
from pathlib import Path

import nbformat

from .release import ROOT, notebook_paths

SITE = ROOT / "build" / "site"
TEMPLATES = Path(__file__).resolve().parent / "share" / "nbconvert" / "templates"
TEMPLATE = "course-site"
MATHJAX_URL = "_static/mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
CONTROL_MODELS = ("SliderModel", "DropdownModel", "ToggleButtonsModel", "ToggleButtonModel", "CheckboxModel",
                  "TextModel", "SelectModel", "RadioButtonsModel", "ButtonModel")
# Scripts, styles and fonts the browser would fetch to show a page; links to papers are fine.
REMOTE_ASSET = re.compile(r"""<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*["']((?:https?:)?//[^"']+)""",
                          re.IGNORECASE)


def lecture_title(nb, fallback: str) -> str:
    """The first level-1 heading of the notebook, e.g. '10 · Explicitly interpretable models'."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def execute_all(notebooks: dict, timeout: int, jobs: int) -> None:
    """Run every cell of each notebook (``{name: (notebook, folder)}``) in place, ``jobs`` at a time, each
    in its own folder as nbval does; widget state is kept for freezing.

    Most lecture cells keep one core busy, so two kernels side by side use a 2-core laptop fully.
    """
    import asyncio

    from nbclient import NotebookClient

    async def run_all():
        slots = asyncio.Semaphore(jobs)

        async def run(name, nb, workdir):
            async with slots:
                start = time.perf_counter()
                await NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                     resources={"metadata": {"path": str(workdir)}}).async_execute()
                print(f"executed {name} in {time.perf_counter() - start:.1f} s", flush=True)

        await asyncio.gather(*(run(name, nb, workdir) for name, (nb, workdir) in notebooks.items()))

    asyncio.run(run_all())


def _widget_outputs(model_id: str, state: dict) -> list:
    """What a widget displayed: an Output widget's outputs, an HTML widget's text, its children's.

    A row of texts (an HBox, such as a tqdm progress bar's labels) becomes one line.
    """
    model = state.get(model_id)
    if model is None:
        return []
    values = model.get("state", {})
    if model.get("model_name") == "OutputModel":
        return [nbformat.from_dict(out) for out in values.get("outputs", [])]
    if model.get("model_name") in ("HTMLModel", "LabelModel") and values.get("value"):
        return [nbformat.v4.new_output("display_data", data={"text/html": values["value"]})]
    found = []
    for child in values.get("children", []):
        found += _widget_outputs(child.removeprefix("IPY_MODEL_"), state)
    if model.get("model_name") == "HBoxModel" and found and all(set(o.get("data", {})) == {"text/html"} for o in found):
        found = [nbformat.v4.new_output("display_data", data={"text/html": " ".join(o.data["text/html"] for o in found)})]
    return found


def _has_controls(model_id: str, state: dict) -> bool:
    """Whether a widget has a knob to turn (a progress bar, say, has none)."""
    model = state.get(model_id, {})
    if model.get("model_name", "").endswith(CONTROL_MODELS):
        return True
    return any(_has_controls(child.removeprefix("IPY_MODEL_"), state)
               for child in model.get("state", {}).get("children", []))


def freeze_widgets(nb, name: str):
    """Replace each widget with what it showed at its default settings, and drop the widget state."""
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    note = nbformat.v4.new_output("display_data", data={"text/html": (
        f'<p class="course-demo-note">Interactive widget, shown at its default settings: run it in '
        f'JupyterLab, or <code>make demo NB={html.escape(name)}</code>.</p>')})
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for out in cell.outputs:
            view = out.get("data", {}).get(WIDGET_VIEW) if "data" in out else None
            if view is None:
                outputs.append(out)
                continue
            if _has_controls(view["model_id"], state):
                outputs.append(note)
            outputs += _widget_outputs(view["model_id"], state)
        cell.outputs = outputs
    nb.metadata.pop("widgets", None)
    return nb


def reader_cells(nb):
    """Drop what only the autograder reads: raw otter directives and hidden tests ('# HIDDEN' cells)."""
    nb.cells = [c for c in nb.cells if c.cell_type != "raw"
                and not (c.cell_type == "code" and c.source.startswith("# HIDDEN"))]
    return nb


def remote_assets(page: str) -> list[str]:
    """Addresses of scripts, styles or images that a page would fetch from the network."""
    return REMOTE_ASSET.findall(page)


def _exporter():
    from nbconvert import HTMLExporter
    return HTMLExporter(template_name=TEMPLATE, extra_template_basedirs=[str(TEMPLATES)],
                        mathjax_url=MATHJAX_URL, exclude_anchor_links=False)


def _copy_mathjax(out: Path) -> None:
    import jupyter_server_mathjax
    source = Path(jupyter_server_mathjax.__file__).parent / "static"
    target = out / "_static" / "mathjax"
    if not target.exists():
        shutil.copytree(source, target)


def _index_page(entries: list[dict]) -> str:
    items = "\n".join(f'    <li><a href="{e["href"]}">{html.escape(e["title"])}</a></li>' for e in entries)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8" />
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>Interpreting Deep Networks</title>
<style>
  body {{ font-family: system-ui, sans-serif; max-width: 48em; margin: 2em auto; padding: 0 1em; line-height: 1.5; }}
  li {{ margin: 0.4em 0; font-size: 1.1em; }}
</style>
</head>
<body>
<main>
  <h1>Interpreting Deep Networks</h1>
  <p>The lectures, executed, with their outputs and figures. The widgets are shown at their default
  settings; run the notebooks in JupyterLab to turn the knobs.</p>
  <ol class="lectures">
{items}
  </ol>
</main>
</body>
</html>
"""


def _check_inputs(notebooks, out, timeout) -> list[Path]:
    if isinstance(notebooks, (str, Path)) or not hasattr(notebooks, "__iter__"):
        raise TypeError(f"notebooks must be a list of notebook paths; got {type(notebooks).__name__}")
    paths = [Path(p) for p in notebooks]
    if not paths:
        raise ValueError("notebooks is empty; pass at least one lecture notebook")
    for path in paths:
        if path.suffix != ".ipynb" or not path.is_file():
            raise ValueError(f"not a notebook file: {path}")
    stems = [p.stem for p in paths]
    if len(set(stems)) != len(stems):
        raise ValueError(f"two notebooks share a name, so their pages would collide: {stems}")
    if not isinstance(out, (str, Path)):
        raise TypeError(f"out must be a folder path; got {type(out).__name__}")
    if Path(out).resolve() in {p.parent.resolve() for p in paths}:
        raise ValueError(f"out must not be the notebooks' own folder ({out}); pick a build folder")
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds per cell; got {timeout!r}")
    return paths


def build_site(notebooks, out=SITE, execute_cells: bool = True, timeout: int = 600, jobs: int = 2) -> Path:
    """Render ``notebooks`` (paths, in lecture order) into ``out``; return the path of its index.html.

    With ``execute_cells=False`` the notebooks' stored outputs are used as they are (already executed
    copies); otherwise ``jobs`` notebooks run at a time. Raises RuntimeError if a page would fetch
    anything from the network.
    """
    paths = _check_inputs(notebooks, out, timeout)
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive number of notebooks to run at once; got {jobs!r}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _copy_mathjax(out)
    exporter = _exporter()

    books = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        books.append({"path": path, "nb": nb, "href": f"{path.stem}.html", "title": lecture_title(nb, path.stem)})
    if execute_cells:
        execute_all({book["path"].stem: (book["nb"], book["path"].parent) for book in books}, timeout, jobs)

    for k, book in enumerate(books):
        nb = book["nb"]
        reader_cells(freeze_widgets(nb, book["path"].stem))
        neighbour = lambda j: {"href": books[j]["href"], "title": books[j]["title"]} if 0 <= j < len(books) else None
        resources = {"metadata": {"name": book["title"]},
                     "course_nav": {"index": "index.html", "prev": neighbour(k - 1), "next": neighbour(k + 1)}}
        page, _ = exporter.from_notebook_node(nb, resources=resources)
        remote = remote_assets(page)
        if remote:
            raise RuntimeError(f"{book['href']} would fetch {remote[:3]} from the network; the site must work offline")
        (out / book["href"]).write_text(page, encoding="utf-8")

    index = out / "index.html"
    index.write_text(_index_page(books), encoding="utf-8")
    return index


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Execute the lectures and render the static course site.")
    parser.add_argument("notebooks", nargs="*", help="lecture names (default: all, in lecture order)")
    parser.add_argument("--out", type=Path, default=SITE, help=f"site folder (default {SITE.relative_to(ROOT)})")
    parser.add_argument("--no-execute", action="store_true", help="use the notebooks' stored outputs")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks to run at once (default 2)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell (default 600)")
    args = parser.parse_args(argv)
    try:
        paths = notebook_paths(args.notebooks or None)
        start = time.perf_counter()
        index = build_site(paths, args.out, execute_cells=not args.no_execute, timeout=args.timeout, jobs=args.jobs)
    except ValueError as err:
        parser.error(str(err))
    print(f"{len(paths)} lectures in {time.perf_counter() - start:.0f} s; open {index}")


if __name__ == "__main__":
    main()
