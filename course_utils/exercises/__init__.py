"""Code exercises in the lessons: blanks ``____``, ``check()``, hints and reference solutions.

::

    from course_utils.exercises import ____, exercise
    ex_base = exercise("03-load-base")        # shows the task
    def load_base(weights, size):
        return tf.keras.applications.MobileNetV2(weights=weights, include_top=____, ...)
    base_model = ex_base.check(load_base, settings.weights, S)

``check(fn, *args)`` says "not done yet" while ``fn`` still uses ``____``; otherwise it calls
``fn(*args)`` (an exception becomes one Polish line), grades what the result does (see
:mod:`course_utils.exercises.problems`), records the attempt in the progress file and returns
the learner's result when it is right, else the result of the reference solution, so the
lesson always goes on. Texts (task, hints, solution code) live in ``assets/exercises/*.json``.
"""
import ast
import difflib
import json
import types
from pathlib import Path

from .. import progress
from ..errors import CourseError
from ..messages import t
from .problems import PROBLEMS

EXERCISE_DIR = Path(__file__).resolve().parents[2] / "assets" / "exercises"
REQUIRED = ("id", "kind", "title", "prompt", "hints", "solution", "function")


class _Blank:
    """The ``____`` placeholder: a name the learner replaces with code."""

    def __repr__(self):
        return "____"


____ = _Blank()


def load_exercises(exercise_dir=None):
    """All exercises as ``{id: spec}`` (each spec gets its file's ``lesson``)."""
    folder = Path(exercise_dir or EXERCISE_DIR)
    bank = {}
    for path in sorted(folder.glob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CourseError(t("exercise.file_bad", path=path.name, error=exc)) from None
        for spec in doc.get("exercises", []):
            missing = [key for key in REQUIRED if key not in spec]
            if missing or spec.get("kind") not in PROBLEMS:
                raise CourseError(t("exercise.spec_bad", path=path.name, id=spec.get("id", "?"),
                                    fields=", ".join(missing) or f"kind={spec.get('kind')!r}"))
            bank[spec["id"]] = {**spec, "lesson": doc["lesson"]}
    return bank


def uses_blank(fn):
    """True if the code of ``fn`` (or any function, lambda or comprehension inside it) names ``____``."""
    code = getattr(fn, "__code__", None)
    stack = [code] if code is not None else []
    while stack:
        code = stack.pop()
        if "____" in code.co_names or "____" in code.co_varnames:
            return True
        stack.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    return False


def _gist(exc):
    """The first line of an exception's message, shortened to fit one line."""
    text = str(exc).strip().splitlines()
    line = text[0].strip() if text else ""
    return line if len(line) <= 160 else line[:157] + "..."


def reference_function(spec, namespace=None):
    """The reference solution's function from the spec's ``solution`` code.

    Only the imports and the function definition named ``spec["function"]`` are run, in a
    copy of ``namespace`` (the learner's globals: ``tf``, ``np`` as the lesson imported them).
    """
    tree = ast.parse(spec["solution"])
    keep = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))
            or (isinstance(node, ast.FunctionDef) and node.name == spec["function"])]
    scope = dict(namespace or {})
    scope.setdefault("__builtins__", __builtins__)
    if "tf" not in scope or "np" not in scope:  # called outside a lesson (tests, the CLI)
        from ..backend import import_tensorflow

        import_tensorflow()
        import numpy as np
        import tensorflow as tf

        scope.setdefault("tf", tf)
        scope.setdefault("np", np)
    exec(compile(ast.Module(body=keep, type_ignores=[]), f"<{spec['id']}>", "exec"), scope)
    return scope[spec["function"]]


def _describe(result):
    """A short description of a result for the progress file."""
    shape = getattr(result, "shape", None)
    name = getattr(result, "name", None)
    if isinstance(name, str):
        return f"{type(result).__name__} {name!r}"
    if shape is not None:
        return f"{type(result).__name__} {tuple(shape)}"
    return type(result).__name__


class _Task:
    """The task text, shown as Markdown in Jupyter and as plain text elsewhere."""

    def __init__(self, spec):
        self.spec = spec

    def __repr__(self):
        return t("exercise.task", id=self.spec["id"], title=self.spec["title"],
                 prompt=self.spec["prompt"])

    def _repr_markdown_(self):
        return t("exercise.task_md", id=self.spec["id"], title=self.spec["title"],
                 prompt=self.spec["prompt"])


class Exercise:
    """One exercise: ``check(fn, *args)``, ``hint()``, ``solution()``."""

    def __init__(self, spec):
        self.spec = spec
        self.id = spec["id"]
        self.lesson = spec["lesson"]
        self.problem = PROBLEMS[spec["kind"]](spec.get("params", {}))
        self.hints_shown = 0

    # --- the learner's calls ---------------------------------------------------
    def check(self, fn, *args, **kwargs):
        """Grade ``fn(*args, **kwargs)``; print ✓ or ✗ with the reason; return a usable result."""
        if getattr(fn, "__code__", None) is None:
            ok, message, result, answer = False, t("exercise.not_function",
                                                   kind=type(fn).__name__), None, repr(fn)[:80]
            lines = [t("exercise.bad", message=message)]
        elif uses_blank(fn):
            ok, result, answer = False, None, "____"
            lines = [t("exercise.not_done")]
        else:
            ok, message, result = self._run(fn, args, kwargs)
            answer = _describe(result)
            lines = [t("exercise.ok" if ok else "exercise.bad", message=message)]
        if not ok:
            lines.append(self._hint_text(0))
        try:
            progress.record(self.id, self.lesson, answer, ok, kind="exercise")
        except CourseError as exc:
            lines.append(t("quiz.progress_not_saved", error=exc))
        if ok:
            print("\n".join(lines))
            return result
        print("\n".join(lines))
        return self.reference(fn, *args, **kwargs)

    def hint(self):
        """Print the next hint (each call one more); return its text."""
        hints = self.spec["hints"]
        i = min(self.hints_shown, len(hints) - 1)
        self.hints_shown = i + 1
        text = self._hint_text(i)
        if self.hints_shown == len(hints):
            text += "\n" + t("exercise.hint_last")
        self._event("hint")
        print(text)
        return text

    def solution(self):
        """Print the reference solution's code; return it."""
        code = self.spec["solution"]
        self._event("solution")
        print(f"{t('exercise.solution')}\n{code}")
        return code

    # --- plumbing ---------------------------------------------------------------
    def _run(self, fn, args, kwargs):
        """Call the learner's function and grade its result: ``(ok, message, result)``."""
        self.problem.before(*args, **kwargs)
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:  # the learner's code: any error becomes one line
            message = self.problem.explain_error(exc) or t(
                "exercise.error", kind=type(exc).__name__, gist=_gist(exc))
            return False, message, None
        if result is None:
            return False, t("exercise.returned_none", function=getattr(fn, "__name__", "?")), None
        try:
            ok, message = self.problem.check_result(result, *args, **kwargs)
        except CourseError as exc:
            ok, message = False, str(exc)
        return ok, message, result

    def reference(self, fn=None, *args, **kwargs):
        """The reference solution's result for the same arguments (said in one line)."""
        namespace = getattr(fn, "__globals__", None)
        result = reference_function(self.spec, namespace)(*args, **kwargs)
        print(t("exercise.using_reference"))
        return result

    def _hint_text(self, i):
        hints = self.spec["hints"]
        return t("exercise.hint", i=i + 1, n=len(hints), text=hints[i])

    def _event(self, event):
        try:
            progress.record_event(self.id, self.lesson, event)
        except CourseError as exc:
            print(t("quiz.progress_not_saved", error=exc))

    def text(self):
        """The task as plain text."""
        return repr(_Task(self.spec))

    def __repr__(self):
        return self.text()

    def _repr_markdown_(self):
        return _Task(self.spec)._repr_markdown_()


def get_exercise(exercise_id, exercise_dir=None):
    """The spec of one exercise; an unknown id is a one-line CourseError with the closest ids."""
    bank = load_exercises(exercise_dir)
    if exercise_id not in bank:
        close = difflib.get_close_matches(str(exercise_id), list(bank), n=3)
        raise CourseError(t("exercise.unknown", id=exercise_id,
                            close=", ".join(close) or ", ".join(sorted(bank)[:3])))
    return bank[exercise_id]


def exercise(exercise_id):
    """Show exercise ``exercise_id`` and return it (``.check(fn, ...)``, ``.hint()``, ``.solution()``)."""
    ex = Exercise(get_exercise(exercise_id))
    if progress.in_ipython():
        from IPython.display import display

        display(_Task(ex.spec))
    else:
        print(ex.text())
    return ex


__all__ = ["____", "exercise", "Exercise", "load_exercises", "get_exercise", "uses_blank"]
