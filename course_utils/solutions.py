"""The teacher's solved edition: lessons with every exercise cell replaced by its reference solution.

``python -m course_utils solutions NOTEBOOK... --out DIR`` writes a copy of each notebook to
``DIR``; cells are found by their metadata ``{"exercise": "<id>"}`` and their source becomes
the ``solution`` of that exercise in ``assets/exercises/*.json``. Everything else (the task
cells, prose, quizzes) stays as it is, outputs stay empty.
"""
import json
from pathlib import Path

from .errors import CourseError
from .exercises import load_exercises
from .messages import t


def _lines(text):
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def solve(nb, bank, name="notebook"):
    """Return ``(notebook, count)``: ``nb`` with its exercise cells solved (``nb`` is changed)."""
    count = 0
    for cell in nb.get("cells", []):
        ex_id = cell.get("metadata", {}).get("exercise")
        if not ex_id:
            continue
        if ex_id not in bank:
            raise CourseError(t("solutions.unknown_exercise", path=name, id=ex_id))
        cell["source"] = _lines(bank[ex_id]["solution"])
        cell["outputs"], cell["execution_count"] = [], None
        count += 1
    return nb, count


def write_solved(notebooks, out_dir, exercise_dir=None):
    """Write the solved copy of each notebook into ``out_dir``; return ``[(path, count)]``.

    Every notebook is read and solved before anything is written, so a bad one leaves
    ``out_dir`` untouched.
    """
    bank = load_exercises(exercise_dir)
    solved = []
    for notebook in map(Path, notebooks):
        if not notebook.is_file():
            raise CourseError(t("solutions.notebook_missing", path=notebook))
        try:
            nb = json.loads(notebook.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CourseError(t("solutions.notebook_bad", path=notebook,
                                error=str(exc).splitlines()[0])) from None
        solved.append((notebook.name, *solve(nb, bank, notebook.name)))
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CourseError(t("solutions.out_unwritable", path=out, error=exc)) from None
    written = []
    for name, nb, count in solved:
        target = out / name
        target.write_text(json.dumps(nb, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        written.append((target, count))
    return written
