"""The progress dashboard of ``show_progress()``: per lesson and per answered question.

Per lesson: questions, right at first try (the score), attempts, hints asked for,
answers / solutions shown, and exercises solved out of those listed in
``assets/exercises/*.json``. Per answered question: the first try (✓/✗), attempts,
hints and whether the answer was shown. Text, HTML table and a bar chart with alt text.
"""
import json
from html import escape
from pathlib import Path

from .. import progress
from ..messages import t
from .history import History

EXERCISE_DIR = Path(__file__).resolve().parents[2] / "assets" / "exercises"


def load_exercises(exercise_dir=None):
    """``{lesson: [exercise ids]}`` from the exercise files; a missing folder gives {}."""
    folder = Path(exercise_dir or EXERCISE_DIR)
    found = {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            ids = [e["id"] for e in data["exercises"]]
            if not isinstance(data["lesson"], str) or not all(isinstance(i, str) for i in ids):
                raise TypeError("lesson and ids must be strings")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            progress.warn(t("progress.exercises_broken", path=path, error=exc))
            continue
        found.setdefault(data["lesson"], []).extend(ids)
    return found


def question_rows(bank, answers, events):
    """One row per answered question: id, lesson, first (True/False), attempts, hints, shown."""
    rows = []
    for qid in sorted(bank):
        h = History(qid, answers, events)
        if h.attempts or h.events:
            rows.append({"id": qid, "lesson": bank[qid]["lesson"], "first": h.first_correct,
                         "attempts": h.attempts, "hints": h.hints, "solutions": h.solutions})
    return rows


def lesson_rows(bank, answers, events, exercises):
    """Per-lesson counts (see the module docstring), sorted by lesson."""
    rows = {}

    def row(lesson, title=""):
        return rows.setdefault(lesson, {"lesson": lesson, "title": title, "total": 0, "answered": 0,
                                        "first_try": 0, "attempts": 0, "hints": 0, "solutions": 0,
                                        "exercises_solved": 0, "exercises_total": 0})
    for q in bank.values():
        h = History(q["id"], answers, events)
        r = row(q["lesson"], q.get("title", ""))
        r["total"] += 1
        r["answered"] += h.attempts > 0
        r["first_try"] += h.first_correct is True
        r["attempts"] += h.attempts
    solved = {a["id"] for a in answers if a.get("correct") and a.get("kind") == "exercise"}
    for lesson, ids in exercises.items():
        r = row(lesson)
        r["exercises_total"] += len(ids)
        r["exercises_solved"] += len(set(ids) & solved)
    for e in events:  # hints and solutions of quiz questions and exercises alike
        if e.get("lesson") in rows and e.get("event") in ("hint", "solution"):
            rows[e["lesson"]]["hints" if e["event"] == "hint" else "solutions"] += 1
    for r in rows.values():
        r["percent"] = round(100 * r["first_try"] / r["total"]) if r["total"] else 0
    return [rows[k] for k in sorted(rows)]


def _chart(rows):
    """Bar chart of the percent right at first try per lesson, labelled 'right/questions'."""
    from matplotlib.figure import Figure
    rows = [r for r in rows if r["total"]]
    fig = Figure(figsize=(max(4, 1.2 * len(rows) + 2), 3))
    ax = fig.add_subplot()
    bars = ax.bar([r["lesson"] for r in rows], [r["percent"] for r in rows], color="#4477aa",
                  edgecolor="black")
    ax.bar_label(bars, labels=[f"{r['first_try']}/{r['total']}" for r in rows])
    ax.set_ylim(0, 110)
    ax.set_ylabel(t("progress.chart_y"))
    ax.set_xlabel(t("progress.chart_x"))
    ax.set_title(t("progress.title"))
    ax.tick_params(axis="x", labelrotation=30)
    fig.tight_layout()
    return fig


def _yes_no(flag):
    return t("progress.yes") if flag else t("progress.no")


class ProgressReport:
    """``rows`` (lessons), ``questions`` (answered questions), ``unanswered`` ids, ``figure``, ``text``."""

    def __init__(self, rows, questions, unanswered, figure, path):
        """Store the parts of the report."""
        self.rows, self.questions, self.unanswered = rows, questions, unanswered
        self.figure, self.path = figure, path
        self.text = self._text()

    def lesson_cells(self, r):
        """One lesson row as strings."""
        ex = f"{r['exercises_solved']}/{r['exercises_total']}" if r["exercises_total"] else "—"
        score = (f"{r['first_try']}/{r['total']}", f"{r['percent']}%") if r["total"] else ("—", "—")
        return [r["lesson"], r["title"], *score, str(r["attempts"]), str(r["hints"]),
                str(r["solutions"]), ex]

    def question_cells(self, q):
        """One answered question as strings."""
        first = {True: t("progress.first_ok"), False: t("progress.first_bad"), None: "—"}[q["first"]]
        return [q["id"], first, str(q["attempts"]), str(q["hints"]), _yes_no(q["solutions"])]

    def _footer(self):
        """The unanswered list and the summary sentence."""
        first = sum(r["first_try"] for r in self.rows)
        total = sum(r["total"] for r in self.rows)
        solved = sum(r["exercises_solved"] for r in self.rows)
        exercises = sum(r["exercises_total"] for r in self.rows)
        todo = (t("quiz.progress_unanswered", ids=", ".join(self.unanswered))
                if self.unanswered else t("quiz.progress_all_answered"))
        return [todo, t("progress.summary", first=first, total=total, solved=solved,
                        exercises=exercises, path=self.path)]

    @staticmethod
    def _table(header, rows):
        """An aligned text table."""
        table = [header] + rows
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        return ["  ".join(c.ljust(wd) for c, wd in zip(row, widths)).rstrip() for row in table]

    def _text(self):
        """The report as text: lessons, answered questions, footer."""
        lines = [t("progress.title")]
        lines += self._table(t("progress.columns").split("|"), [self.lesson_cells(r) for r in self.rows])
        if self.questions:
            lines += ["", t("progress.details_title")]
            lines += self._table(t("progress.details_columns").split("|"),
                                 [self.question_cells(q) for q in self.questions])
        return "\n".join(lines + [""] + self._footer())

    @staticmethod
    def _html_table(caption, header, rows, css):
        head = "".join(f'<th scope="col">{escape(c)}</th>' for c in header)
        body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
        return (f'<table class="{css}"><caption>{escape(caption)}</caption><thead><tr>{head}</tr>'
                f"</thead><tbody>{body}</tbody></table>")

    def _html(self):
        """The report as HTML: lesson table, chart (image with alt text), question table, lists."""
        import base64
        import io
        lessons = self._html_table(t("progress.title"), t("progress.columns").split("|"),
                                   [self.lesson_cells(r) for r in self.rows], "course-progress-lessons")
        buf = io.BytesIO()
        self.figure.savefig(buf, format="png", dpi=80)
        png = base64.b64encode(buf.getvalue()).decode("ascii")
        alt = "; ".join(f"{r['lesson']}: {r['first_try']}/{r['total']}" for r in self.rows if r["total"])
        details = ""
        if self.questions:
            table = self._html_table(t("progress.details_title"), t("progress.details_columns").split("|"),
                                     [self.question_cells(q) for q in self.questions],
                                     "course-progress-questions")
            details = (f'<details class="course-progress-details"><summary>{escape(t("progress.details_title"))}'
                       f"</summary>{table}</details>")
        footer = "".join(f"<p>{escape(line)}</p>" for line in self._footer())
        return (f'<div class="course-progress">{lessons}<img src="data:image/png;base64,{png}" '
                f'alt="{escape(alt)}">{details}{footer}</div>')

    def _repr_mimebundle_(self, **kwargs):
        """Text and HTML versions of the report."""
        return {"text/plain": self.text, "text/html": self._html()}

    def __repr__(self):
        """The text version."""
        return self.text


def build_report(bank, answers, events, exercises):
    """A ProgressReport from the question bank, the stored answers and events, and the exercises."""
    rows = lesson_rows(bank, answers, events, exercises)
    questions = question_rows(bank, answers, events)
    answered = {a.get("id") for a in answers}
    unanswered = [qid for qid in sorted(bank) if qid not in answered]
    return ProgressReport(rows, questions, unanswered, _chart(rows), progress.progress_path())
