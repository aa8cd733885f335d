"""Every demo widget, in a real JupyterLab in a real browser: it renders, a knob moves, the output follows.

nbval runs the kernels but never looks at a page; a missing or mismatched widgets extension shows
"Loading widget..." or a raw ``VBox(...)`` to the class while every kernel-side test stays green.
Screenshots and response times land in test-artifacts/browser/.
"""
from __future__ import annotations

import json
import os
import time

import pytest

from .widget_demos import DEMOS, RESPONSE_GOAL_S, RESPONSE_LIMIT_S
from .widget_checks import LabNotebook, move_control, snapshot, wait_for_new_output

from course_utils.demo import notebooks_with_widgets

pytestmark = pytest.mark.browser


def test_every_widget_notebook_has_a_browser_check():
    assert sorted(d.notebook for d in DEMOS) == notebooks_with_widgets(), \
        "a lecture gained or lost a demo widget: add or remove its entry in DEMOS"


@pytest.mark.parametrize("demo", DEMOS, ids=[d.notebook for d in DEMOS])
def test_demo_widget_renders_and_answers(lab_runs, demo, artifacts):
    try:
        notebook, run_all_s = lab_runs.ready(demo.notebook)
        page = notebook.page
        problems = notebook.widget_problems()
        assert problems, f"{demo.notebook}: no widget output after running all cells"
        assert not any(problems), f"{demo.notebook}: widgets did not render: {problems}"

        before = snapshot(page)
        start = time.perf_counter()
        move_control(page, 0, demo.control, demo.kind, demo.option)
        after = wait_for_new_output(page, before)
        response_s = time.perf_counter() - start
        notebook.wait_idle()
        after = snapshot(page)  # the settled state, once the kernel has finished the callback
        page.locator('[data-demo-widget="0"]').screenshot(path=artifacts / f"{demo.notebook}.png")
        record = {"notebook": demo.notebook, "control": demo.control, "run_all_s_in_pairs": round(run_all_s, 2),
                  "response_s": round(response_s, 3), "goal_s": RESPONSE_GOAL_S,
                  "meets_goal": response_s < RESPONSE_GOAL_S, "limit_s": RESPONSE_LIMIT_S,
                  "load_average_1min": round(os.getloadavg()[0], 2),
                  "readouts": [before["readouts"], after["readouts"]],
                  "selects": [before["selects"], after["selects"]]}
        (artifacts / f"{demo.notebook}.json").write_text(json.dumps(record, indent=1))

        moved = (before["readouts"], before["selects"]) != (after["readouts"], after["selects"])
        assert moved, f"{demo.notebook}: the {demo.control} control did not move"
        unmet = demo.expect(before, after)
        assert not unmet, f"{demo.notebook}: after moving {demo.control}: {unmet}"
        assert response_s < RESPONSE_LIMIT_S, \
            f"{demo.notebook}: the widget took {response_s:.2f} s to answer (limit {RESPONSE_LIMIT_S} s)"
    finally:
        lab_runs.close(demo.notebook)


NEGATIVE_CONTROL = DEMOS[-1]  # the fastest lecture to run


def test_negative_control_sees_a_missing_widgets_extension(lab_page_without_widgets_extension, artifacts):
    """With the widgets lab extension disabled, the same checker must report every widget as broken."""
    page = lab_page_without_widgets_extension
    notebook = LabNotebook(page, f"{NEGATIVE_CONTROL.notebook}.ipynb").open()
    try:
        notebook.run_all()
        problems = notebook.widget_problems(settle_s=5.0)
        page.locator('[data-demo-widget="0"]').screenshot(path=artifacts / "negative_control.png")
    finally:
        notebook.close()
    assert problems, "the notebook showed no widget output at all"
    assert all(problems), f"the checker passed a widget that cannot have rendered: {problems}"
    assert any("plain-text repr" in p for p in problems[0]), problems
