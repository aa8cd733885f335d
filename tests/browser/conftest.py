"""Fixtures for the browser tests: one JupyterLab server and one Chromium page for the whole session.

Chromium comes from pytest-playwright's ``browser`` fixture (so ``--headed`` and ``--slowmo`` work for
debugging), pointed at Debian's /usr/bin/chromium. Where Chromium or Playwright is missing (a student's
laptop), every browser test skips with one line saying what to install; CI installs both (.ci/run).
"""
from contextlib import contextmanager

import pytest

from browser_harness import (CHROMIUM, CHROMIUM_ARGS, VIEWPORT, WIDGETS_EXTENSION, LabServer, copy_notebooks,
                             missing_requirement)
from widget_checks import open_lab

from course_utils.cache import cache_dir
from course_utils.release import NOTEBOOKS, ROOT, notebook_paths

ARTIFACTS = ROOT / "test-artifacts" / "browser"


@pytest.fixture(autouse=True)
def isolated_cache():
    """Override tests/conftest.py's per-test cache: the kernels here re-run lectures that nbval has just
    run, and must find the models it trained in the real course cache instead of training them again."""
    yield


@pytest.fixture(scope="session")
def chromium(request):
    """The headless browser; skips the test where this machine cannot run one."""
    reason = missing_requirement(request.config)
    if reason:
        pytest.skip(f"browser tests skipped: {reason}")
    return request.getfixturevalue("browser")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    # Playwright's own browser download does not work offline; Debian's Chromium does the same job.
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def artifacts():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def course_env():
    # Pinned explicitly so that kernels share the cache of the nbval run whatever a fixture patched.
    return {"COURSE_CACHE_DIR": str(cache_dir())}


@pytest.fixture(scope="session")
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


@pytest.fixture(scope="session")
def lab_page(chromium, tmp_path_factory, served_notebooks, course_env):
    """A JupyterLab page, reused by every notebook test: JupyterLab loads once per session."""
    with lab_session(chromium, tmp_path_factory.mktemp("jupyterlab"), served_notebooks, course_env) as page:
        yield page


@pytest.fixture
def lab_page_without_widgets_extension(chromium, tmp_path, served_notebooks, course_env):
    """JupyterLab with the ipywidgets lab extension disabled in page_config.json: the negative control."""
    with lab_session(chromium, tmp_path, served_notebooks, course_env, (WIDGETS_EXTENSION,)) as page:
        yield page
