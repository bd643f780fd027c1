"""Quiz and exercise progress in one local JSON file that survives kernel restarts.

The file holds ``answers`` (every attempt at a quiz question, exercise or open
question, with its ``kind``) and ``events`` (hints and solutions shown); files
written before events existed are read as having none. Every entry is appended
under a file lock (several kernels may answer at the same time) and written
atomically (temporary file + ``os.replace``), so the file is never half-written.
A corrupt file is moved aside, never silently dropped.
"""
import json
import os
import sys
import tempfile
from datetime import datetime
from pathlib import Path

import ipywidgets as w
from filelock import FileLock, Timeout

from .config import get_settings
from .errors import CourseError
from .messages import t

VERSION = 1
LOCK_TIMEOUT_S = 30


def progress_path():
    """The progress file chosen by the settings (COURSE_PROGRESS_FILE)."""
    return Path(get_settings().progress_file)


def in_ipython():
    """True when running under IPython (a Jupyter kernel or the IPython console)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None


def warn(text):
    """Show a learner-facing warning on stderr (visible in notebooks and consoles)."""
    print(text, file=sys.stderr)


def _stamp():
    """A timestamp usable in a file name, unique enough for backups."""
    return datetime.now().strftime("%Y%m%d-%H%M%S-%f")


def _empty():
    """A fresh progress document."""
    return {"version": VERSION, "answers": [], "events": []}


def _valid(data):
    """True for a progress document this module can use."""
    events = data.get("events", []) if isinstance(data, dict) else None
    return (isinstance(data, dict) and isinstance(data.get("answers"), list)
            and all(isinstance(r, dict) and isinstance(r.get("id"), str) and "correct" in r
                    for r in data["answers"])
            and isinstance(events, list)
            and all(isinstance(e, dict) and isinstance(e.get("id"), str) and "event" in e
                    for e in events))


class _Locked:
    """Context manager: the progress file's lock, with a Polish message on timeout."""

    def __init__(self, path):
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CourseError(t("quiz.progress_write_failed", path=path, error=exc)) from None
        self.lock = FileLock(f"{path}.lock", timeout=LOCK_TIMEOUT_S)

    def __enter__(self):
        try:
            self.lock.acquire()
        except Timeout:
            raise CourseError(t("quiz.progress_locked", path=self.path,
                                seconds=LOCK_TIMEOUT_S, lock=self.lock.lock_file)) from None
        except OSError as exc:
            raise CourseError(t("quiz.progress_write_failed", path=self.path, error=exc)) from None
        return self

    def __exit__(self, *exc):
        self.lock.release()


def _move_aside(path, kind):
    """Rename ``path`` to ``<name>.<kind>-<timestamp>`` in the same folder; return it."""
    target = path.with_name(f"{path.name}.{kind}-{_stamp()}")
    os.replace(path, target)
    return target


def _read(path):
    """Read the document (call under the lock); move a corrupt file aside with a warning."""
    if not path.exists():
        return _empty()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # unreadable, not UTF-8, not JSON
        data = None
    if _valid(data):
        return data
    try:
        backup = _move_aside(path, "corrupt")
    except OSError as exc:
        raise CourseError(t("quiz.progress_unreadable", path=path, error=exc)) from None
    warn(t("quiz.progress_corrupt", path=path, backup=backup))
    return _empty()


def _write(path, data):
    """Write the document atomically: a temporary file in the same folder, then os.replace."""
    tmp = None
    try:
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent,
                                         prefix=f".{path.name}.", suffix=".tmp",
                                         delete=False) as f:
            tmp = f.name
            json.dump(data, f, ensure_ascii=False, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        if tmp and os.path.exists(tmp):
            os.remove(tmp)
        raise CourseError(t("quiz.progress_write_failed", path=path, error=exc)) from None


KINDS = ("quiz", "exercise", "open")
EVENTS = ("hint", "solution")


def _now():
    """The current local time with its UTC offset, to the second."""
    return datetime.now().astimezone().isoformat(timespec="seconds")


def record(item_id, lesson, answer, correct, kind="quiz"):
    """Append one answer (a quiz, an exercise check or an open question) and return it.

    ``kind`` is "quiz", "exercise" or "open"; every attempt is kept, so the
    first one (the score) and the number of attempts can be computed later.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    path = progress_path()
    entry = {"id": item_id, "lesson": lesson, "kind": kind, "answer": answer,
             "correct": bool(correct), "time": _now()}
    with _Locked(path):
        data = _read(path)
        data["answers"].append(entry)
        _write(path, data)
    return entry


def record_event(item_id, lesson, event):
    """Append one event ("hint" or "solution" shown) for a quiz question or exercise."""
    if event not in EVENTS:
        raise ValueError(f"event must be one of {EVENTS}, not {event!r}")
    path = progress_path()
    entry = {"id": item_id, "lesson": lesson, "event": event, "time": _now()}
    with _Locked(path):
        data = _read(path)
        data.setdefault("events", []).append(entry)
        _write(path, data)
    return entry


def load_events():
    """All stored hint/solution events, oldest first (files from before events: [])."""
    path = progress_path()
    with _Locked(path):
        return _read(path).get("events", [])


def load_all():
    """Answers and events in one read: ``(answers, events)``."""
    path = progress_path()
    with _Locked(path):
        data = _read(path)
    return data["answers"], data.get("events", [])


def load_answers():
    """All stored answers, oldest first."""
    path = progress_path()
    with _Locked(path):
        return _read(path)["answers"]


def last_answers():
    """The latest stored answer of every question, as ``{question_id: record}``."""
    return {r["id"]: r for r in load_answers()}


def last_answer(question_id):
    """The latest stored answer to one question, or None."""
    return last_answers().get(question_id)


def _reset():
    """Move the progress file to a ``.reset-<timestamp>`` backup; return its path or None."""
    path = progress_path()
    with _Locked(path):
        if not path.exists():
            return None
        try:
            return _move_aside(path, "reset")
        except OSError as exc:
            raise CourseError(t("quiz.progress_write_failed", path=path, error=exc)) from None


def _reset_and_report():
    """Reset and return the Polish sentence saying what happened."""
    backup = _reset()
    if backup is None:
        return t("quiz.reset_nothing", path=progress_path())
    return t("quiz.reset_done", backup=backup)


def reset_progress(confirm=False):
    """Clear all quiz progress (keeping a backup) only when confirmed.

    ``reset_progress(confirm=True)`` resets at once. Without it nothing changes:
    in IPython a confirm / cancel button pair is returned, in a plain console
    the way to confirm is printed.
    """
    if confirm:
        print(_reset_and_report())
        return None
    if in_ipython():
        return ResetPrompt()
    print(t("quiz.reset_ask_text"))
    return None


class ResetPrompt(w.VBox):
    """Confirm / cancel buttons for ``reset_progress()``; readable as text too."""

    def __init__(self):
        """Build the question, the two buttons and the message area."""
        self.message = w.HTML(t("quiz.reset_ask")).add_class("course-reset-message")
        self.yes = w.Button(description=t("quiz.reset_yes"), button_style="danger",
                            icon="trash").add_class("course-reset-yes")
        self.no = w.Button(description=t("quiz.reset_no")).add_class("course-reset-no")
        self.yes.on_click(self._confirm)
        self.no.on_click(self._cancel)
        super().__init__([self.message, w.HBox([self.yes, self.no])])
        self.add_class("course-reset")

    def _finish(self, text):
        """Show the outcome and disable both buttons."""
        self.message.value = text
        self.yes.disabled = self.no.disabled = True

    def _confirm(self, _button=None):
        """Reset after the learner confirmed."""
        try:
            self._finish(_reset_and_report())
        except CourseError as exc:
            self._finish(f"❌ {exc}")

    def _cancel(self, _button=None):
        """Leave the progress untouched."""
        self._finish(t("quiz.reset_cancelled"))

    def _repr_mimebundle_(self, **kwargs):
        """Widget view plus a text version for front ends without widgets."""
        data = super()._repr_mimebundle_(**kwargs) or {}
        data["text/plain"] = t("quiz.reset_ask_text")
        return data
