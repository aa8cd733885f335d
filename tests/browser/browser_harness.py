"""Servers and browser for the end-to-end tests: JupyterLab and Voilà on 127.0.0.1, Debian's Chromium.

Each server runs in its own process group on a free port with fresh Jupyter folders, so a test never
reads the user's settings or workspaces, and stopping it also stops every kernel it started.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
# Headless in a container: no sandbox (root), no GPU, and nothing that calls home or updates itself.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
WIDGETS_EXTENSION = "@jupyter-widgets/jupyterlab-manager"
VIEWPORT = {"width": 1280, "height": 1400}


def missing_requirement() -> str | None:
    """One line naming what this machine lacks for the browser tests, or None when they can run."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    if not CHROMIUM.exists():
        return f"no {CHROMIUM} (apt-get install chromium)"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A server process in its own process group, with its log in a file."""

    def __init__(self, argv: list[str], env: dict, url: str, log_path: Path, cwd: Path | None = None):
        self.url = url
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def wait_until_up(self, probe, timeout: float = 60.0) -> None:
        """Wait until ``probe`` (a URL that must answer 200, or a port that must accept connections) is up."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with code {self.process.returncode}:\n{self.log_tail()}")
            try:
                if isinstance(probe, int):
                    socket.create_connection(("127.0.0.1", probe), timeout=2).close()
                    return
                with urllib.request.urlopen(probe, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not answer {probe} within {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM the whole process group (server and kernels), SIGKILL whatever is left after 10 s."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
            except ProcessLookupError:
                pass
        self._log.close()


def jupyter_dirs_env(workdir: Path, disabled_extensions: tuple[str, ...] = ()) -> dict:
    """Fresh config, runtime, settings and workspace folders under workdir, as the environment variables
    that point Jupyter at them.

    Settings written there: no news pop-up, no autosave (the tests must never write outputs into a
    notebook), and every cell kept in the DOM so that the widget checks see all of them.
    """
    dirs = {name: workdir / name for name in ("config", "runtime", "settings", "workspaces", "data")}
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    settings = {
        "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
        "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
        "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    }
    for plugin, values in settings.items():
        path = dirs["settings"] / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    labconfig = dirs["config"] / "labconfig"
    labconfig.mkdir(exist_ok=True)
    (labconfig / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {name: True for name in disabled_extensions}}))
    return dict(JUPYTER_CONFIG_DIR=str(dirs["config"]), JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
                JUPYTERLAB_SETTINGS_DIR=str(dirs["settings"]), JUPYTERLAB_WORKSPACES_DIR=str(dirs["workspaces"]),
                JUPYTER_DATA_DIR=str(dirs["data"]))


def root_flags() -> list[str]:
    return ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []


class LabServer(Server):
    def __init__(self, workdir: Path, serve_dir: Path, env_overrides: dict,
                 disabled_extensions: tuple[str, ...] = ()):
        self.port = free_port()
        self.token = secrets.token_hex(16)
        env = {**os.environ, **jupyter_dirs_env(workdir, disabled_extensions), **env_overrides}
        argv = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
                f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={serve_dir}",
                "--ServerApp.terminals_enabled=False", "--LabApp.expose_app_in_browser=True", *root_flags()]
        base = f"http://127.0.0.1:{self.port}"
        super().__init__(argv, env, f"{base}/lab?token={self.token}", workdir / "jupyterlab.log")
        self.wait_until_up(f"{base}/api/status?token={self.token}")


class VoilaServer(Server):
    """``make demo`` for one lecture (course_utils.demo), on a free port with fresh Jupyter folders."""

    def __init__(self, workdir: Path, notebook: str, env_overrides: dict):
        from course_utils.demo import voila_command
        self.port = free_port()
        argv, env = voila_command(notebook, port=self.port, open_browser=False)
        env.update(jupyter_dirs_env(workdir))
        env.update(env_overrides)
        super().__init__(argv, env, f"http://127.0.0.1:{self.port}/", workdir / "voila.log")
        # Voilà runs the notebook when its page is requested, so only the port is probed here.
        self.wait_until_up(self.port)


def copy_notebooks(source: Path, target: Path, names: list[str]) -> Path:
    """Copies of the lectures to serve, so nothing a test does can write into the committed notebooks."""
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy2(source / f"{name}.ipynb", target / f"{name}.ipynb")
    return target
