"""The lessons executed with nbclient for tests/test_notebooks.py, in the background.

Two editions, each in its own course home and in lesson order (06 starts from 05's saved
model, 07 from 06's): ``shipped`` (the notebooks as they are in the repository, run to the end)
and ``solved`` (the teacher's edition, ``course_utils.solutions``), run up to the first code
cell after the lesson's last exercise (the cell that uses its result): the cells after it are
the shipped edition's, which runs them with the reference result, and a later solved lesson
trains what an earlier one did not save (``load_or_train_*``). Each lesson runs in a fresh
kernel, as in JupyterLab.

Why in the background: a fast-mode lesson keeps less than one CPU core busy (kernel start,
imports, building models and tracing are single-threaded), so ``Runner`` executes both
editions at once (two kernels) in a thread of its own, started by conftest's
``notebook_runs`` fixture right after the browser tests (which conftest puts first), while
the other test files run: in the same pytest process, or under ``make test`` (pytest-xdist)
in the other worker. test_notebooks.py then waits for each lesson and asserts what it
produced. The editions' homes are separate, so nothing they write can collide.
"""
import asyncio
import json
import os
import threading
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from course_utils.solutions import write_solved

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT = 900
# The environment pytest was started with, before any test changed it (monkeypatch).
START_ENV = {k: v for k, v in os.environ.items()}


def exercise_ids(path):
    cells = json.loads(path.read_text("utf-8"))["cells"]
    return [c["metadata"]["exercise"] for c in cells if c.get("metadata", {}).get("exercise")]


WITH_EXERCISES = [p for p in NOTEBOOKS if exercise_ids(p)]


def solved_end(cells):
    """How many cells the solved edition runs: through the first code cell after the last exercise."""
    last = max(i for i, c in enumerate(cells) if c.get("metadata", {}).get("exercise"))
    after = [i for i in range(last + 1, len(cells)) if cells[i]["cell_type"] == "code"]
    return (after[0] if after else last) + 1


CASES = [("shipped", p.name) for p in NOTEBOOKS] + [("solved", p.name) for p in WITH_EXERCISES]


class Edition:
    """One edition's course home, its notebooks executed in lesson order, and their run times.

    ``run_all()`` executes the edition's lessons one after the other, each in a fresh kernel
    (``Runner`` runs it in a background thread); ``result(name)`` waits for one lesson and
    returns the executed notebook, or raises what its execution raised.
    """

    def __init__(self, name, root, photos, weights, last):
        """``last``: the last lesson this run needs (its tests were selected); earlier ones run too."""
        self.name, self.root = name, root
        self.home = root / "course_home"
        self.env = {**START_ENV, "COURSE_FAST": "1", "COURSE_HOME": str(self.home),
                    "COURSE_PROGRESS_FILE": str(self.home / "progress.json"),
                    "COURSE_DATA_DIR": str(photos), "COURSE_WEIGHTS": str(weights),
                    "MPLBACKEND": "Agg", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
        lessons = NOTEBOOKS if name == "shipped" else WITH_EXERCISES
        self.lessons = [p for p in lessons if p.name <= last]
        self.done, self.seconds = {}, {}
        self.finished = {path.name: threading.Event() for path in self.lessons}

    def source(self, path):
        if self.name == "shipped":
            return path
        solved = write_solved([path], self.root / "solved")[0][0]
        nb = nbformat.read(solved, as_version=4)
        nb.cells = nb.cells[:solved_end(nb.cells)]
        nbformat.write(nb, solved)
        return solved

    async def run_all(self):
        """Every lesson of the edition in order (06 loads 05's saved model, 07 loads 06's)."""
        for path in self.lessons:
            log_path = self.root / f"kernel-{path.stem}.log"
            try:
                nb = nbformat.read(self.source(path), as_version=4)
                client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                                        resources={"metadata": {"path": str(REPO / "notebooks")}})
                start = time.perf_counter()
                # the kernel process's own output (not the cells'): a log beside the edition,
                # instead of the terminal of whichever pytest process started it
                with open(log_path, "w", encoding="utf-8") as log:
                    await client.async_execute(env=self.env, stdout=log, stderr=log)
                self.seconds[path.name] = time.perf_counter() - start
                self.done[path.name] = nb
            except Exception as exc:  # reported by that lesson's test; the next lessons still run
                exc.add_note(f"the kernel's own output: {log_path}")
                self.done[path.name] = exc
            finally:
                self.finished[path.name].set()

    def result(self, name):
        if name not in self.finished:
            pytest.fail(f"{self.name} edition: {name} is not among the lessons this run executes", pytrace=False)
        if not self.finished[name].wait(CELL_TIMEOUT * 20):
            pytest.fail(f"{self.name} edition: {name} did not finish", pytrace=False)
        outcome = self.done.get(name)
        if isinstance(outcome, Exception):
            raise outcome
        if outcome is None:
            pytest.fail(f"{self.name} edition: {name} was not executed (the run was stopped)", pytrace=False)
        return outcome

    def timing(self):
        """One line: the edition's seconds, in all and per lesson."""
        return (f"notebooks, {self.name} edition: {sum(self.seconds.values()):.0f} s ("
                + ", ".join(f"{k[:2]} {v:.0f} s" for k, v in self.seconds.items()) + ")")


def selected_lessons(items):
    """Per edition, the last lesson whose test this session runs ("" for none)."""
    last = {"shipped": "", "solved": ""}
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if getattr(getattr(item, "module", None), "__name__", None) == "test_notebooks" and "edition" in params:
            last[params["edition"]] = max(last[params["edition"]], params["name"])
    return last


class Runner:
    """Both editions at once in a background thread (an event loop of its own), two kernels."""

    def __init__(self, editions):
        self.editions = editions
        self.loop = asyncio.new_event_loop()
        self.task = self.loop.create_task(self._all())
        self.thread = threading.Thread(target=self._run, name="notebooks", daemon=True)
        self.thread.start()

    def _run(self):
        try:
            self.loop.run_until_complete(self.task)
        except BaseException:  # cancelled by stop(); each lesson's outcome is already recorded
            pass

    async def _all(self):
        await asyncio.gather(*(ed.run_all() for ed in self.editions.values()))

    def stop(self, timeout=120):
        """Cancel what is still running (its kernel is shut down) and wait for the thread."""
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.task.cancel)
            self.thread.join(timeout)
        if not self.thread.is_alive():
            self.loop.close()
