"""Code tasks of the quiz bank (type ``code``): ``check(obj)``, ``hint()``, ``solution()``.

The checker named in the question (``course_utils.checks``) runs on the learner's own
object. Every check is stored as an attempt (kind "quiz"), hints and the solution as
events, so the dashboard scores code tasks like every other question: first try counts.
"""
from .. import progress
from ..checks import run_check
from ..errors import CourseError
from ..messages import t
from .history import load_history
from .kinds import kind_of


class CodeCheck:
    """A learntools-style task: ``check(obj)``, graded ``hint()``, ``solution()``."""

    def __init__(self, q):
        """Wrap one question of type ``code``."""
        self.question = q
        self.kind = kind_of(q)
        self.hints_shown = min(load_history(q["id"]).hints, len(q.get("hints") or []))

    def check(self, obj, **params):
        """Run the checker on ``obj``, print a ✓/✗ line, save progress; return True/False."""
        q = self.question
        ok, message = run_check(q["checker"], obj, **{**q.get("params", {}), **params})
        lines = [t("quiz.code_ok" if ok else "quiz.code_bad", message=message)]
        if ok:
            lines.append(t("quiz.explanation", text=q["explanation"]))
        try:
            progress.record(q["id"], q["lesson"], self.kind.parse(obj), ok, kind="quiz")
        except CourseError as exc:
            lines.append(t("quiz.progress_not_saved", error=exc))
        print("\n".join(lines))
        return ok

    def _event(self, event):
        """Store a hint/solution event; return a warning line or ''."""
        try:
            progress.record_event(self.question["id"], self.question["lesson"], event)
        except CourseError as exc:
            return "\n" + t("quiz.progress_not_saved", error=exc)
        return ""

    def hint(self):
        """Print the next hint (each call shows one more, stored as an event); return its text."""
        hints = self.question.get("hints") or []
        if not hints:
            text = t("quiz.no_hints")
        else:
            i = min(self.hints_shown, len(hints) - 1)
            fresh = self.hints_shown < len(hints)
            self.hints_shown = i + 1
            text = t("quiz.hint", i=i + 1, n=len(hints), text=hints[i])
            if self.hints_shown == len(hints):
                text += "\n" + t("quiz.hint_last")
            if fresh:
                text += self._event("hint")
        print(text)
        return text

    def solution(self):
        """Print the model solution (stored as a "solution" event); return its code."""
        code = self.question.get("solution") or ""
        if code:
            print(f"{t('quiz.solution')}\n{code}\n{t('quiz.explanation', text=self.question['explanation'])}"
                  + self._event("solution"))
        else:
            print(t("quiz.no_solution"))
        return code

    def text(self):
        """The task as readable text."""
        q = self.question
        return "\n".join([t("quiz.text_header", id=q["id"], lesson=q["lesson"]), q["prompt"],
                          self.kind.how()])

    def __repr__(self):
        """The task text, for consoles."""
        return self.text()

    def _repr_pretty_(self, p, cycle):
        """IPython shows the task text."""
        p.text(self.text())
