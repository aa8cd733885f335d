"""Fixtures for the browser tests: one Chromium and one JupyterLab page for all of them.

They are package-scoped, so the browser and the servers stop as soon as the browser tests end: a
running Playwright holds this thread's asyncio loop, which later tests' kernels would need. Where
Chromium or Playwright is missing (a student's laptop), every browser test skips with one line saying
what to install; CI installs both (.ci/run).
"""
import json
from contextlib import contextmanager

import pytest

from .browser_harness import (CHROMIUM, CHROMIUM_ARGS, VIEWPORT, WIDGETS_EXTENSION, LabServer, copy_notebooks,
                             missing_requirement)
from .widget_checks import LabNotebook, open_lab

from course_utils.cache import cache_dir
from course_utils.release import NOTEBOOKS, ROOT, notebook_paths

ARTIFACTS = ROOT / "test-artifacts" / "browser"


@pytest.fixture(autouse=True)
def isolated_cache():
    """Override tests/conftest.py's per-test cache: the kernels here re-run lectures that nbval has just
    run, and must find the models it trained in the real course cache instead of training them again."""
    yield


@pytest.fixture(scope="package")
def chromium(request):
    """Debian's Chromium, headless unless pytest-playwright's --headed is given; skips the test where
    this machine cannot run it. (Playwright's own browser download does not work offline.)"""
    reason = missing_requirement()
    if reason:
        pytest.skip(f"browser tests skipped: {reason}")
    from playwright.sync_api import sync_playwright
    headed = request.config.getoption("--headed", default=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=not headed)
        yield browser
        browser.close()


@pytest.fixture(scope="package")
def artifacts():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="package")
def course_env():
    # Pinned explicitly so that kernels share the cache of the nbval run whatever a fixture patched.
    return {"COURSE_CACHE_DIR": str(cache_dir())}


@pytest.fixture(scope="package")
def served_notebooks(tmp_path_factory):
    names = [path.stem for path in notebook_paths()]
    return copy_notebooks(NOTEBOOKS, tmp_path_factory.mktemp("served") / "notebooks", names)


@contextmanager
def lab_session(chromium, workdir, served_notebooks, course_env, disabled_extensions=()):
    server = LabServer(workdir, served_notebooks, course_env, disabled_extensions)
    context = chromium.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        open_lab(page, server.url)
        yield page
    finally:
        context.close()
        server.stop()


class PairedRuns:
    """Runs the demo lectures two at a time in one JupyterLab page.

    Most cells leave one of the two cores idle, so two lectures run side by side in about 0.6 of the
    time they take one after the other, and the suite fits its 3-minute budget. A test turns its knob
    only once both runs have ended, so each response time is measured with no other kernel busy.
    """

    def __init__(self, page, names: list[str], width: int = 2):
        self.page, self.pending, self.width = page, list(names), width
        self.notebooks, self.outcomes = {}, {}

    def ready(self, name: str) -> tuple[LabNotebook, float]:
        """The lecture's notebook after all its cells ran, in front, and the seconds its run took."""
        if name not in self.notebooks:
            batch = [name] + [n for n in self.pending if n != name][: self.width - 1]
            self.pending = [n for n in self.pending if n not in batch]
            for n in batch:
                self.notebooks[n] = LabNotebook(self.page, f"{n}.ipynb").open()
                self.notebooks[n].start_run_all()
            for n in batch:
                try:
                    self.outcomes[n] = self.notebooks[n].wait_run_all()
                except Exception as err:  # reported by that lecture's own test
                    self.outcomes[n] = err
        notebook, outcome = self.notebooks[name], self.outcomes[name]
        if isinstance(outcome, Exception):
            raise outcome
        notebook.activate()
        return notebook, outcome

    def close(self, name: str) -> None:
        if name in self.notebooks:
            self.notebooks[name].close()


@pytest.fixture(scope="package")
def lab_page(chromium, tmp_path_factory, served_notebooks, course_env):
    """A JupyterLab page, reused by every notebook test: JupyterLab loads once per session."""
    with lab_session(chromium, tmp_path_factory.mktemp("jupyterlab"), served_notebooks, course_env) as page:
        yield page


@pytest.fixture(scope="package")
def lab_runs(request, lab_page, artifacts):
    """Paired runs of the lectures whose widget tests this session selected, in collection order; at
    the end, every lecture's timings (each test writes <lecture>.json) in one response_times.json."""
    names = [item.callspec.params["demo"].notebook for item in request.session.items
             if hasattr(item, "callspec") and "demo" in item.callspec.params and "lab_runs" in item.fixturenames]
    yield PairedRuns(lab_page, names)
    records = [json.loads((artifacts / f"{name}.json").read_text()) for name in names
               if (artifacts / f"{name}.json").exists()]
    (artifacts / "response_times.json").write_text(json.dumps(records, indent=1))


@pytest.fixture
def lab_page_without_widgets_extension(chromium, tmp_path, served_notebooks, course_env):
    """JupyterLab with the ipywidgets lab extension disabled in page_config.json: the negative control."""
    with lab_session(chromium, tmp_path, served_notebooks, course_env, (WIDGETS_EXTENSION,)) as page:
        yield page
