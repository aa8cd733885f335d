"""``make html`` in a real browser: the index lists the lectures in order, every page loads offline
with its figures and typeset maths, and the links between pages work.

Executing every lecture takes minutes, so the builder is tested on two quick lectures; ``make html``
runs the same code on all of them.
"""
import subprocess
import sys

import nbformat
import pytest

from .browser_harness import VIEWPORT

from course_utils.release import ROOT, notebook_paths
from course_utils.site import lecture_title

pytestmark = pytest.mark.browser

# Two quick lectures, one with a widget to freeze. Not one with widgets.interact: nbclient now and then
# stalls after such a cell until the cell timeout (jupyter/nbclient#312: about 1 run in 10 of lecture
# 05 here), so the build also gets a short cell timeout to bound any stall.
SITE_LECTURES = ["09_attention", "10_explicit_models"]


@pytest.fixture(scope="module")
def site_index(chromium, tmp_path_factory):
    """Built by the command ``make html`` runs, in its own process: its kernels need an event loop of
    their own, which Playwright's synchronous API in this process would be holding. (Requesting
    ``chromium`` first skips the build where there is no browser to look at the site.)"""
    out = tmp_path_factory.mktemp("site")
    build = subprocess.run([sys.executable, "-m", "course_utils.site", *SITE_LECTURES, "--out", str(out),
                            "--timeout", "120"], cwd=ROOT, timeout=600, capture_output=True, text=True)
    assert build.returncode == 0, f"building the site failed:\n{build.stdout[-2000:]}\n{build.stderr[-3000:]}"
    return out / "index.html"


@pytest.fixture
def offline_page(chromium):
    """A page that may load files only; any attempt to reach the network is recorded and refused."""
    context = chromium.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.remote_requests = []

    def refuse_network(route):
        page.remote_requests.append(route.request.url)
        route.abort()

    page.route("http*://**/*", refuse_network)
    yield page
    context.close()


def test_course_site_pages_load_offline_with_figures_and_links(site_index, offline_page, artifacts):
    page = offline_page
    page.goto(site_index.as_uri())
    links = page.locator("ol.lectures a")
    titles = [lecture_title(nbformat.read(p, as_version=4), p.stem) for p in notebook_paths(SITE_LECTURES)]
    assert links.all_inner_texts() == titles, "the index does not list the lectures in lecture order"

    for k, name in enumerate(SITE_LECTURES):
        page.goto(site_index.as_uri())
        page.locator("ol.lectures a").nth(k).click()
        page.wait_for_load_state("load")
        assert page.url.endswith(f"/{name}.html")
        page.wait_for_selector(".MathJax, .MathJax_Display", timeout=30_000)  # MathJax typeset the maths
        widths = page.locator(".jp-OutputArea-output img").evaluate_all("imgs => imgs.map(i => i.naturalWidth)")
        assert widths and all(w > 0 for w in widths), f"{name}: figures missing or broken: {widths}"
        assert page.locator(".jp-RenderedHTMLCommon").count() > 0
        page.screenshot(path=artifacts / f"site_{name}.png")

        if k + 1 < len(SITE_LECTURES):
            page.locator("nav.course-nav.top a.next").click()
            assert page.url.endswith(f"/{SITE_LECTURES[k + 1]}.html"), "the next link is wrong"
            page.locator("nav.course-nav.top a.prev").click()
            assert page.url.endswith(f"/{name}.html"), "the previous link is wrong"
        page.locator("nav.course-nav.bottom a.index").click()
        assert page.url == site_index.as_uri(), "the link back to the index is wrong"

    assert not page.remote_requests, f"the site tried to reach the network: {page.remote_requests[:5]}"
