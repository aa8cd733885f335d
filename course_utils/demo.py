"""Instructors' live demos: one lecture served as a Voilà dashboard, widgets and figures only, no code.

    make demo NB=03_occlusion
    python -m course_utils.demo 03_occlusion --port 8866 --no-browser

Voilà runs the whole lecture (its widgets need the state the lecture builds) and the ``lecture-demo``
template (``course_utils/share/voila/templates``) shows section headings, figures and widgets only.
Nothing is downloaded: Voilà ships its widget manager, and the notebooks are offline by design.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

from .release import notebook_paths

TEMPLATE = "lecture-demo"
TEMPLATE_ROOT = Path(__file__).resolve().parent / "share"
# A demo widget is made with ipywidgets directly (widgets.interact, ...) or by a course_utils *_widget helper.
WIDGET_CODE = re.compile(r"\bwidgets\.\w+\(|\b\w+_widget\(")


def notebooks_with_widgets() -> list[str]:
    """Names of the lectures that have a demo widget, in lecture order."""
    names = []
    for path in notebook_paths():
        cells = json.loads(path.read_text())["cells"]
        if any(c["cell_type"] == "code" and WIDGET_CODE.search("".join(c["source"])) for c in cells):
            names.append(path.stem)
    return names


def voila_command(name: str, port: int = 8866, open_browser: bool = True) -> tuple[list[str], dict]:
    """The command line and environment that serve lecture ``name`` (e.g. ``"03_occlusion"``) with Voilà."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a lecture name like '03_occlusion'; got {type(name).__name__}")
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError(f"port must be an integer in 1..65535; got {port!r}")
    path = notebook_paths([name])[0]
    if name.removesuffix(".ipynb") not in notebooks_with_widgets():
        raise ValueError(f"{path.stem} has no demo widget; lectures with demos: {notebooks_with_widgets()}")
    argv = [sys.executable, "-m", "voila", str(path), f"--template={TEMPLATE}", f"--port={port}",
            "--Voila.ip=127.0.0.1", "--theme=light"]
    if not open_browser:
        argv.append("--no-browser")
    env = os.environ.copy()
    # Voilà finds templates on the Jupyter data path; ours lives inside the package.
    env["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(TEMPLATE_ROOT), env.get("JUPYTER_PATH")) if p)
    return argv, env


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve one lecture's demo widgets and figures with Voilà.")
    parser.add_argument("notebook", help=f"one of {', '.join(notebooks_with_widgets())}")
    parser.add_argument("--port", type=int, default=8866)
    parser.add_argument("--no-browser", action="store_true", help="print the address instead of opening it")
    args = parser.parse_args(argv)
    try:
        command, env = voila_command(args.notebook, args.port, open_browser=not args.no_browser)
    except ValueError as err:
        parser.error(str(err))
    os.execve(command[0], command, env)  # Voilà takes over this process: Ctrl-C stops it directly


if __name__ == "__main__":
    main()
