"""Helpers for the end-to-end browser test (tests/test_browser.py).

* ``LabServer``: a private ``jupyter lab`` on 127.0.0.1 (random port and token, private
  Jupyter/IPython dirs, fast-mode course env), its log in a file, stopped with its kernels.
* ``LabPage``: one Chromium page on that server, driven by Playwright (sync API). Widgets
  are clicked and typed into like a learner does; the JupyterLab app object
  (``--expose-app-in-browser``) is used only to run notebook commands, to read the
  notebook model (errors, execution counts) and to ask the kernel for a value.
* Every step is wrapped in ``page.step(name)``: a screenshot is saved after it, and a
  failure becomes one readable message with the browser console and the server log.
"""
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]
REPO = Path(__file__).resolve().parents[1]
QUIZ_DIR = REPO / "assets" / "quizzes"

# JupyterLab user settings for a quiet, deterministic UI: every cell in the DOM (no
# virtual scrolling), no autosave (the copied notebooks stay as they were), no news
# or update pop-ups (offline machines).
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
}


def browser_required():
    """True when COURSE_REQUIRE_BROWSER asks for the browser test to run (CI)."""
    return os.environ.get("COURSE_REQUIRE_BROWSER", "").strip().lower() not in ("", "0", "false", "no")


def require_chromium():
    """Skip (or fail when COURSE_REQUIRE_BROWSER is set) unless Debian's Chromium is installed."""
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return
    reason = (f"{CHROMIUM} not found: install Debian's Chromium (apt-get install chromium) "
              f"to run the browser test")
    if browser_required():
        pytest.fail(f"COURSE_REQUIRE_BROWSER is set but {reason}", pytrace=False)
    pytest.skip(reason)


def tail(text, lines):
    """The last ``lines`` lines of ``text``."""
    return "\n".join(text.splitlines()[-lines:])


def free_port():
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the JupyterLab server ----------------------------------------------------

class LabServer:
    """``jupyter lab`` serving a copy of the notebooks from a private temporary folder."""

    def __init__(self, workdir, notebooks, env):
        """``workdir``: empty temp folder; ``notebooks``: folder to copy; ``env``: extra variables."""
        self.workdir = Path(workdir)
        self.root = self.workdir / "course" / "notebooks"
        shutil.copytree(notebooks, self.root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        if (REPO / "assets").is_dir():  # relative links such as ../assets/... keep working
            (self.root.parent / "assets").symlink_to(REPO / "assets")
        self.home = self.workdir / "course_home"
        self.progress_file = self.home / "progress.json"
        self.log_path = self.workdir / "jupyterlab.log"
        self.token = secrets.token_hex(24)
        self.env = self._environment(env)
        self.proc = None
        self.port = None
        self._log = None

    def _environment(self, extra):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("JUPYTER", "IPYTHON", "MPLBACKEND", "COURSE_"))}
        dirs = {name: self.workdir / sub for name, sub in (
            ("JUPYTER_CONFIG_DIR", "jupyter/config"), ("JUPYTER_DATA_DIR", "jupyter/data"),
            ("JUPYTER_RUNTIME_DIR", "jupyter/runtime"), ("JUPYTERLAB_SETTINGS_DIR", "jupyter/lab-settings"),
            ("JUPYTERLAB_WORKSPACES_DIR", "jupyter/workspaces"), ("IPYTHONDIR", "ipython"))}
        for path in dirs.values():
            path.mkdir(parents=True, exist_ok=True)
        for name, settings in LAB_SETTINGS.items():
            target = dirs["JUPYTERLAB_SETTINGS_DIR"] / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(settings), encoding="utf-8")
        env.update({k: str(v) for k, v in dirs.items()})
        env.update({
            "JUPYTER_TOKEN": self.token,
            "JUPYTER_PLATFORM_DIRS": "1",
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
            "PYTHONUNBUFFERED": "1",
            "COURSE_FAST": "1",
            "COURSE_HOME": str(self.home),
            "COURSE_PROGRESS_FILE": str(self.progress_file),
        })
        env.update({k: str(v) for k, v in extra.items()})
        return env

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout=120):
        """Start the server and wait until /api/status answers (retries if the port was taken)."""
        for _attempt in range(3):
            self.port = free_port()
            self._log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
                 f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
                 f"--ServerApp.root_dir={self.root}", "--ServerApp.terminals_enabled=False",
                 "--LabApp.expose_app_in_browser=True",
                 "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                 "--LabApp.extension_manager=readonly"]
                + (["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
                cwd=self.root, env=self.env, stdin=subprocess.DEVNULL, stdout=self._log,
                stderr=subprocess.STDOUT, start_new_session=True)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    self.api("GET", "/api/status", timeout=2)
                    return self
                except (OSError, urllib.error.URLError):
                    time.sleep(0.3)
            else:
                raise AssertionError(f"JupyterLab did not answer /api/status within {timeout} s\n"
                                     f"--- server log ---\n{tail(self.log(), 80)}")
            if "already in use" not in self.log():
                raise AssertionError(f"JupyterLab exited with code {self.proc.returncode}\n"
                                     f"--- server log ---\n{tail(self.log(), 80)}")
        raise AssertionError(f"JupyterLab found no free port\n{tail(self.log(), 40)}")

    def api(self, method, path, timeout=10):
        """Call the REST API with the token; return the decoded JSON (or None)."""
        request = urllib.request.Request(self.url + path, method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self):
        """End every session (and its kernel), so the next lesson starts a fresh one."""
        for session in self.api("GET", "/api/sessions"):
            self.api("DELETE", f"/api/sessions/{session['id']}", timeout=30)

    def log(self):
        """The server log so far (kernels' stderr included)."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def stop(self, timeout=15):
        """Stop the server and every kernel it started; kill whatever is left."""
        if self.proc is None:
            return
        try:
            import psutil
            family = [psutil.Process(self.proc.pid)] + psutil.Process(self.proc.pid).children(recursive=True)
        except Exception:  # psutil missing or the server is already gone
            psutil, family = None, []
        if self.proc.poll() is None:
            try:  # polite first: the server shuts its kernels down on SIGTERM
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        if psutil is not None:  # kernels run in their own sessions: kill stragglers one by one
            _gone, alive = psutil.wait_procs([p for p in family if p.is_running()], timeout=5)
            for proc in alive:
                try:
                    proc.kill()
                except psutil.Error:
                    pass
            psutil.wait_procs(alive, timeout=5)
        if self._log:
            self._log.close()
        self.proc = None


# --- the browser page ------------------------------------------------------------

_NOTEBOOK_STATE_JS = """(path) => {
  const app = window.jupyterapp;
  if (!app) return {ok: false, why: 'window.jupyterapp is missing (JupyterLab not loaded yet)'};
  const panel = app.shell.currentWidget;
  if (!panel || !panel.context || panel.context.path !== path || !panel.content || !panel.content.model)
    return {ok: false, why: 'notebook ' + path + ' is not the current tab'};
  const session = panel.sessionContext.session;
  const kernel = session && session.kernel;
  const cells = [];
  const model = panel.content.model;
  for (let i = 0; i < model.cells.length; i++) {
    const cell = model.cells.get(i);
    const outputs = cell.type === 'code' ? cell.outputs.toJSON() : [];
    cells.push({
      type: cell.type,
      source: cell.sharedModel.getSource(),
      count: cell.type === 'code' ? cell.executionCount : null,
      errors: outputs.filter(o => o.output_type === 'error')
                     .map(o => o.ename + ': ' + o.evalue + '\\n' + (o.traceback || []).join('\\n')),
    });
  }
  return {ok: true, ready: panel.sessionContext.isReady, kernel: kernel ? kernel.status : 'none',
          kernelName: kernel ? kernel.name : null, active: panel.content.activeCellIndex, cells};
}"""

_KERNEL_EXEC_JS = """async (code) => {
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  const future = kernel.requestExecute({code, silent: false, store_history: false});
  let out = '', err = '';
  future.onIOPub = (msg) => {
    const type = msg.header.msg_type;
    if (type === 'stream') { if (msg.content.name === 'stdout') out += msg.content.text; else err += msg.content.text; }
    if (type === 'error') err += msg.content.ename + ': ' + msg.content.evalue;
  };
  const reply = await future.done;
  return {status: reply.content.status, out, err};
}"""

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class StepFailed(AssertionError):
    """A step of the browser test failed (the message carries the diagnostics)."""


class LabPage:
    """One Playwright page on the private JupyterLab, with diagnostics for failures."""

    def __init__(self, browser, server, shots_dir, name):
        """Open a fresh browser context (fresh storage) and collect its console messages."""
        self.server = server
        self.shots = Path(shots_dir)
        self.shots.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.console = []
        self.n_shots = 0
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="pl-PL")
        self.context.set_default_timeout(30_000)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.console.append(f"[{m.type}] {m.text}"))
        self.page.on("pageerror", lambda e: self.console.append(f"[pageerror] {e}"))
        self.page.on("dialog", lambda d: d.accept())  # "leave page?" on reload
        self.path = None

    def close(self):
        """End the lesson's kernel (memory for the next one) and the browser context."""
        try:
            self.server.shutdown_kernels()
        except Exception:  # never hide the test's own failure
            pass
        self.context.close()

    # --- diagnostics ---------------------------------------------------------

    def screenshot(self, label):
        """Save a screenshot of the page as NN-<name>-<label>.png; return its path."""
        self.n_shots += 1
        slug = re.sub(r"[^\w.-]+", "_", label.lower()).strip("_")[:60]
        path = self.shots / f"{self.name}-{self.n_shots:02d}-{slug}.png"
        try:
            self.page.screenshot(path=str(path), timeout=10_000)
        except Exception as exc:  # a screenshot must never hide the real failure
            return f"(screenshot failed: {exc})"
        return path

    def diagnostics(self):
        """Browser console, notebook errors and server log, for a failure message."""
        parts = [f"screenshots: {self.shots}"]
        try:
            state = self.state()
            if state.get("ok"):
                errors = [f"cell {i}: {_ANSI.sub('', e)[:1500]}"
                          for i, c in enumerate(state["cells"]) for e in c["errors"]]
                parts.append(f"kernel: {state['kernel']}; errors in notebook cells:\n"
                             + ("\n".join(errors) if errors else "(none)"))
            else:
                parts.append(f"notebook state: {state.get('why')}")
        except Exception as exc:
            parts.append(f"notebook state unavailable: {exc}")
        lines = []  # repeated messages once, with a count
        for message in self.console:
            if lines and lines[-1][0] == message:
                lines[-1][1] += 1
            else:
                lines.append([message, 1])
        console = [m if n == 1 else f"{m}  (×{n})" for m, n in lines[-60:]]
        parts.append("--- browser console (last 60 messages) ---\n" + "\n".join(console))
        parts.append("--- JupyterLab server log (last 80 lines) ---\n" + tail(self.server.log(), 80))
        return "\n".join(parts)

    @contextmanager
    def step(self, name):
        """Run one step: screenshot after it; on failure a screenshot and a full report."""
        failure = None
        try:
            yield
        except Exception as exc:
            message = str(exc) if isinstance(exc, AssertionError) else f"{type(exc).__name__}: {exc}"
            failure = (f"[{self.name}] step '{name}' failed: {message}\n"
                       f"failure screenshot: {self.screenshot(f'FAILED-{name}')}\n{self.diagnostics()}")
        if failure:
            try:
                pytest.fail(failure, pytrace=False)
            except BaseException as exc:  # the report only, not "during handling of ..." chains
                exc.__suppress_context__ = True
                raise
        self.screenshot(name)

    # --- notebook --------------------------------------------------------------

    def state(self):
        return self.page.evaluate(_NOTEBOOK_STATE_JS, self.path)

    def wait_for(self, predicate, timeout, what):
        """Poll ``predicate(state)`` (state: the notebook model) until it returns a truthy value.

        Fails at once when a cell shows a Python error, so a broken lesson is reported
        with its traceback instead of as a timeout.
        """
        deadline = time.monotonic() + timeout
        state = {}
        while True:
            state = self.state()
            if state.get("ok"):
                errors = [(i, e) for i, c in enumerate(state["cells"]) for e in c["errors"]]
                if errors:
                    i, error = errors[0]
                    raise StepFailed(f"while waiting for {what}: cell {i} raised "
                                     f"{_ANSI.sub('', error)[:3000]}")
                result = predicate(state)
                if result:
                    return result
            if time.monotonic() > deadline:
                raise StepFailed(f"timed out after {timeout} s waiting for {what} "
                                 f"(kernel: {state.get('kernel')}, {state.get('why', '')})")
            time.sleep(0.5)

    def open_notebook(self, path, timeout=120):
        """Open /lab/tree/<path>?token=... and wait for an idle kernel."""
        self.path = path
        # a workspace of its own: no tabs restored from another page (no extra kernels)
        self.page.goto(f"{self.server.url}/lab/workspaces/{self.name}/tree/{path}?token={self.server.token}",
                       wait_until="domcontentloaded")
        self.wait_kernel_idle(timeout)

    def wait_kernel_idle(self, timeout=120):
        self.wait_for(lambda s: s["ready"] and s["kernel"] == "idle", timeout,
                      f"{self.path} with an idle kernel")

    def reload(self, timeout=120):
        self.page.reload(wait_until="domcontentloaded")
        self.wait_kernel_idle(timeout)

    def cell_index(self, pattern):
        """Index of the first code cell whose source matches the regex ``pattern``."""
        state = self.wait_for(lambda s: s, 30, "the notebook model")
        for i, cell in enumerate(state["cells"]):
            if cell["type"] == "code" and re.search(pattern, cell["source"]):
                return i, cell["source"]
        raise StepFailed(f"{self.path} has no code cell matching {pattern!r}")

    def cell(self, index):
        """Locator of the index-th cell (all cells are in the DOM: windowingMode none)."""
        return self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell").nth(index)

    def select_cell(self, index):
        """Click the cell's prompt like a learner (command mode, the cell becomes active)."""
        cell = self.cell(index)
        cell.scroll_into_view_if_needed()
        cell.locator(".jp-InputPrompt").first.click()
        active = self.state()["active"]
        if active != index:
            raise StepFailed(f"clicking cell {index} made cell {active} active")

    def run_up_to(self, index, selector, timeout=180):
        """Run every cell above ``index`` and then the cell itself (Shift+Enter); wait for ``selector``.

        Returns the locator of ``selector`` inside the cell's output.
        """
        self.select_cell(index)
        # stored outputs and execution counts would look like a finished run: clear them first
        self.page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
        self.wait_for(lambda s: all(c["count"] is None for c in s["cells"]), 10, "cleared outputs")
        self.page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-above')")
        self.select_cell(index)
        self.page.keyboard.press("Shift+Enter")
        target = self.cell(index).locator(".jp-OutputArea").locator(selector).first

        def done(state):
            count = state["cells"][index]["count"]
            return count is not None and state["kernel"] == "idle"

        self.wait_for(done, timeout, f"cell {index} and the cells above it to finish")
        try:
            target.wait_for(state="visible", timeout=20_000)
        except Exception:
            text = self.cell(index).locator(".jp-OutputArea").inner_text(timeout=5_000)
            first = self.state()["cells"][index]["source"].strip().splitlines()[-1]
            raise StepFailed(f"cell {index + 1} ({first!r}) ran, but its output has no visible {selector!r} "
                             f"(the widget front end did not render it); the output area shows:\n{text[:2000]}"
                             ) from None
        target.scroll_into_view_if_needed()
        return target

    def kernel_print(self, code, timeout=60):
        """Run ``code`` in the notebook's kernel (not in a cell); return what it printed."""
        result = self.page.evaluate(_KERNEL_EXEC_JS, code)
        if result["status"] != "ok":
            raise StepFailed(f"kernel could not run {code!r}: {result['err']}")
        return result["out"].strip()


def launch_chromium(playwright, workdir):
    """Debian's Chromium, headless, fresh profile, no network side traffic.

    Its config/cache folders (crash-report settings) go to ``workdir``, not to ~/.config.
    """
    env = dict(os.environ, XDG_CONFIG_HOME=str(Path(workdir) / "xdg-config"),
               XDG_CACHE_HOME=str(Path(workdir) / "xdg-cache"))
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, env=env)


# --- the course content the test checks against ----------------------------------

@contextmanager
def lab_session(work, env):
    """A private JupyterLab on a copy of notebooks/ and a headless Chromium, stopped in every case."""
    require_chromium()
    from types import SimpleNamespace

    from playwright.sync_api import sync_playwright

    server = LabServer(work, REPO / "notebooks", env)
    try:
        server.start()
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright, work)
            try:
                yield SimpleNamespace(server=server, browser=browser, shots=work / "screenshots")
            finally:
                browser.close()
    finally:
        server.stop()


def load_question(question_id, quiz_dir=QUIZ_DIR):
    """The question ``question_id`` from assets/quizzes/*.json."""
    for path in sorted(Path(quiz_dir).glob("*.json")):
        for q in json.loads(path.read_text(encoding="utf-8"))["questions"]:
            if q["id"] == question_id:
                return q
    raise AssertionError(f"question {question_id!r} is in no file of {quiz_dir}")


def lesson_questions(notebook, quiz_dir=QUIZ_DIR):
    """The question ids of the quiz file of a lesson notebook ('00_start.ipynb')."""
    path = Path(quiz_dir) / (Path(notebook).stem + ".json")
    return [q["id"] for q in json.loads(path.read_text(encoding="utf-8"))["questions"]]


def squash(text):
    """Whitespace-insensitive text (HTML line breaks vs. spaces)."""
    return " ".join(text.split())


def numbers(text):
    """All integers in a text; digit groups like '2 257 984' or '2,257,984' count as one."""
    groups = re.findall(r"\d{1,3}(?:[ \u00a0\u202f\u2009,]\d{3})+(?!\d)|\d+", text)
    return [int(re.sub(r"\D", "", g)) for g in groups]


def progress_records(path, question_id):
    """The stored answers to one question, oldest first."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StepFailed(f"progress file {path} unreadable: {exc}") from None
    return [r for r in data.get("answers", []) if r.get("id") == question_id]


def progress_events(path, item_id):
    """The stored hint/solution events of one item, oldest first."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StepFailed(f"progress file {path} unreadable: {exc}") from None
    return [e for e in data.get("events", []) if e.get("id") == item_id]
