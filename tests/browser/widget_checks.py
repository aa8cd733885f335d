"""What the browser tests look at: a notebook run in JupyterLab, its widgets' DOM, and their outputs.

The same checker serves the real test and the negative control, so the negative control proves that
this very code sees a widget that did not render.
"""
from __future__ import annotations

import time

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

# Judge one rendered widget output node; shared by JupyterLab and Voilà. A widget that the page could
# not render shows its Python repr instead, e.g. "VBox(children=(..." or "interactive(children=(...".
INSPECT_NODE_JS = r"""
(node) => {
  const output = node.querySelector('.jp-OutputArea-output') || node;  // the output, not its prompt
  const text = (output.innerText || '').trim();
  const problems = [];
  if (!node.querySelector('.jupyter-widgets')) problems.push('no widget DOM (.jupyter-widgets)');
  if (!node.querySelector('.widget-slider, .widget-dropdown, .widget-toggle-buttons, .widget-checkbox, .widget-text'))
    problems.push('no widget control');
  if (/Loading widget/.test(text)) problems.push('shows "Loading widget..."');
  if (/Error displaying widget/.test(text)) problems.push('shows "Error displaying widget"');
  if (/^\w+\((children|value|layout)=/.test(text)) problems.push('plain-text repr: ' + text.slice(0, 60));
  return problems;
}
"""

# Every output of the notebook whose model holds a demo widget (a widget view whose repr names a control:
# progress bars are left out, and a finished one may legitimately vanish), whatever the page rendered
# for it; each node gets a data-demo-widget index for the locators below.
LAB_WIDGET_NODES_JS = r"""
(path) => {
  const app = window.jupyterapp;
  const panel = Array.from(app.shell.widgets('main')).find(w => w.context && w.context.path === path);
  const control = /(Slider|Dropdown|ToggleButtons|ToggleButton|Checkbox|Select|RadioButtons|Text|Button)\(/;
  document.querySelectorAll('[data-demo-widget]').forEach((node) => node.removeAttribute('data-demo-widget'));
  const found = [];
  panel.content.widgets.forEach((cell, index) => {
    if (cell.model.type !== 'code') return;
    const outputs = cell.model.outputs;
    for (let i = 0; i < outputs.length; i++) {
      const data = outputs.get(i).data;
      if (!('%MIME%' in data) || !control.test(String(data['text/plain'] || ''))) continue;
      const child = cell.outputArea.widgets[i];
      const node = child ? child.node : null;
      if (node) node.setAttribute('data-demo-widget', String(found.length));
      found.push({cell: index, node: node});
    }
  });
  return found.length;
}
""".replace("%MIME%", WIDGET_MIME)

# In Voilà there is no notebook model and widget outputs carry no mime type: they are the top-level
# outputs holding widget controls, or showing what a failed widget shows instead.
VOILA_WIDGET_NODES_JS = r"""
() => {
  const failed = /^\w+\((children|value|layout)=|Loading widget|Error displaying widget/;
  const controls = '.widget-slider, .widget-dropdown, .widget-toggle-buttons, .widget-checkbox, .widget-text';
  const nodes = Array.from(document.querySelectorAll('.jp-OutputArea-output')).filter((node) =>
    !node.parentElement.closest('.jupyter-widgets') &&
    (node.querySelector(controls) || failed.test(node.innerText.trim())));
  nodes.forEach((node, k) => node.setAttribute('data-demo-widget', String(k)));
  return nodes.length;
}
"""

# What a viewer sees of one widget's output: its images (hashed), text and readouts.
SNAPSHOT_JS = r"""
(k) => {
  const root = document.querySelector(`[data-demo-widget="${k}"]`);
  const hash = (s) => { let h = 0; for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) | 0; return h; };
  const images = Array.from(root.querySelectorAll('img')).map(
    (img) => ({hash: hash(img.src), width: img.naturalWidth, complete: img.complete}));
  const outputs = root.querySelectorAll('.widget-output .jp-OutputArea-output, .widget-html-content');
  return {
    images: images,
    text: Array.from(outputs).map((o) => o.innerText).join('\n').replace(/\s+/g, ' ').trim(),
    readouts: Array.from(root.querySelectorAll('.widget-readout')).map((r) => r.innerText.trim()),
    selects: Array.from(root.querySelectorAll('select')).map((s) => s.value),
  };
}
"""


def inspect_widgets(page, count_js: str, arg=None, settle_s: float = 10.0) -> list[list[str]]:
    """Problems of each widget output on the page (an empty list per widget that rendered properly).

    Waits up to settle_s for every widget to finish rendering; a broken one is reported after that, or
    at once when it shows its plain-text repr (the page had no renderer for it, so it never will).
    """
    count = page.evaluate(count_js, arg) if arg is not None else page.evaluate(count_js)
    if count == 0:
        return []
    deadline = time.monotonic() + settle_s
    while True:
        problems = [page.locator(f'[data-demo-widget="{k}"]').evaluate(INSPECT_NODE_JS) for k in range(count)]
        final = all(not p or any(line.startswith("plain-text repr") for line in p) for p in problems)
        if final or time.monotonic() > deadline:
            return problems
        time.sleep(0.25)


def snapshot(page, k: int = 0) -> dict:
    return page.evaluate(SNAPSHOT_JS, k)


def wait_for_new_output(page, before: dict, k: int = 0, timeout_s: float = 30.0) -> dict:
    """Poll until the widget's images or text differ from ``before`` and every image has loaded."""
    key = _output_key(before)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        now = snapshot(page, k)
        loaded = all(img["complete"] and img["width"] > 0 for img in now["images"])
        if loaded and _output_key(now) != key:
            return now
        time.sleep(0.02)
    raise AssertionError(f"widget output did not change within {timeout_s:.0f} s of moving the control")


def _output_key(snap: dict):
    return tuple(img["hash"] for img in snap["images"]), snap["text"]


def move_control(page, k: int, label: str, kind: str, option: str | None = None) -> None:
    """Turn one knob of widget k like a person would: a slider one step right by keyboard, or pick an option."""
    root = page.locator(f'[data-demo-widget="{k}"]')
    if kind == "slider":
        handle = root.locator(f'.widget-slider:has(label.widget-label:text-is("{label}")) .noUi-handle')
        handle.focus()
        handle.press("ArrowRight")
    elif kind == "dropdown":
        root.locator(f'.widget-dropdown:has(label.widget-label:text-is("{label}")) select').select_option(option)
    else:
        raise ValueError(f"kind must be 'slider' or 'dropdown'; got {kind!r}")


class LabNotebook:
    """One notebook opened in a JupyterLab page (with the app exposed as window.jupyterapp)."""

    def __init__(self, page, path: str):
        self.page = page
        self.path = path

    def open(self) -> "LabNotebook":
        self.page.evaluate("""async (path) => {
            const panel = await window.jupyterapp.commands.execute('docmanager:open', {path, factory: 'Notebook'});
            await panel.context.ready;
            await panel.sessionContext.ready;
            window.jupyterapp.shell.activateById(panel.id);
        }""", self.path)
        return self

    def start_run_all(self) -> None:
        """Start running every cell without waiting; another notebook may run meanwhile."""
        self._started = time.perf_counter()
        self.page.evaluate("""(path) => {
            window.__runs = window.__runs || {};
            window.__runs[path] = {done: false};
            const app = window.jupyterapp;
            const panel = Array.from(app.shell.widgets('main')).find(w => w.context && w.context.path === path);
            app.commands.execute('notebook:run-all-cells', {widgetId: panel.id, activate: false}).then(
                (ok) => { window.__runs[path] = {done: true, ok: ok}; },
                (err) => { window.__runs[path] = {done: true, ok: false, error: String(err)}; });
        }""", self.path)

    def wait_run_all(self, timeout_s: float = 300.0) -> float:
        """Wait for the run to end and the kernel to be idle; return the seconds since it started."""
        self.page.wait_for_function("""(path) => {
            const panel = Array.from(window.jupyterapp.shell.widgets('main')).find(w => w.context && w.context.path === path);
            const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
            return window.__runs[path].done && kernel && kernel.status === 'idle';
        }""", arg=self.path, timeout=timeout_s * 1000, polling=200)
        seconds = time.perf_counter() - self._started
        result = self.page.evaluate("(path) => window.__runs[path]", self.path)
        errors = self.errors()
        assert result["ok"] and not errors, f"{self.path}: running all cells failed: {result} {errors}"
        return seconds

    def run_all(self, timeout_s: float = 300.0) -> float:
        self.start_run_all()
        return self.wait_run_all(timeout_s)

    def activate(self) -> None:
        """Bring the notebook's tab to the front (and wait until it is), for screenshots and keyboard."""
        self.page.evaluate("""(path) => {
            const app = window.jupyterapp;
            const panel = Array.from(app.shell.widgets('main')).find(w => w.context && w.context.path === path);
            app.shell.activateById(panel.id);
        }""", self.path)
        self.page.wait_for_function("""(path) => {
            const current = window.jupyterapp.shell.currentWidget;
            return current && current.context && current.context.path === path && current.isVisible;
        }""", arg=self.path, timeout=10_000)

    def errors(self) -> list[str]:
        return self.page.evaluate("""(path) => {
            const panel = Array.from(window.jupyterapp.shell.widgets('main')).find(w => w.context && w.context.path === path);
            const errors = [];
            panel.content.widgets.forEach((cell, index) => {
                if (cell.model.type !== 'code') return;
                for (let i = 0; i < cell.model.outputs.length; i++) {
                    const out = cell.model.outputs.get(i).toJSON();
                    if (out.output_type === 'error') errors.push(`cell ${index}: ${out.ename}: ${out.evalue}`);
                }
            });
            return errors;
        }""", self.path)

    def widget_problems(self, settle_s: float = 10.0) -> list[list[str]]:
        return inspect_widgets(self.page, LAB_WIDGET_NODES_JS, self.path, settle_s)

    def wait_idle(self, timeout_s: float = 60.0) -> None:
        self.page.wait_for_function("""(path) => {
            const panel = Array.from(window.jupyterapp.shell.widgets('main')).find(w => w.context && w.context.path === path);
            return panel.sessionContext.session.kernel.status === 'idle';
        }""", arg=self.path, timeout=timeout_s * 1000, polling=100)

    def close(self) -> None:
        """Shut the kernel down and drop the tab without saving (autosave is off, so nothing was written)."""
        self.page.evaluate("""async (path) => {
            const panel = Array.from(window.jupyterapp.shell.widgets('main')).find(w => w.context && w.context.path === path);
            if (!panel) return;
            await panel.sessionContext.shutdown();
            panel.dispose();
        }""", self.path)


def open_lab(page, url: str, timeout_s: float = 90.0) -> None:
    page.goto(url)
    page.wait_for_function("window.jupyterapp !== undefined", timeout=timeout_s * 1000)
    page.evaluate("async () => { await window.jupyterapp.restored; }")
