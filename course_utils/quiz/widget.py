"""The quiz widget for closed questions (single, multiple, true/false, numeric).

A learner can ask for hints ("Podpowiedź") before answering. A wrong answer shows ✗ and
the next hint and lets the learner try again; it does not show the explanation or the
right answer. The explanation comes with the right answer, or after "Pokaż odpowiedź"
(offered after a wrong attempt, stored as a "solution" event). Every attempt is stored;
the lesson's score counts the first one. ``answer(value)``, ``hint()`` and
``show_answer()`` do the same in code, for front ends without widgets.
"""
from html import escape

import ipywidgets as w
from traitlets import TraitError

from .. import progress
from ..errors import CourseError
from ..messages import t
from ..widget_base import Displayed
from .history import load_history
from .kinds import kind_of

GREEN, RED, GREY = "#1a7f37", "#c62828", "#555555"
GREEN_BG, RED_BG, HINT_BG = "#e8f5e9", "#fdecea", "#fff8e1"

# Long option texts wrap onto several lines: ipywidgets gives every radio/checkbox row
# a fixed height, so without this the next row would cover the wrapped option.
QUIZ_CSS = """<style>
.course-quiz .widget-radio-box label, .course-quiz .jupyter-widget-radio-box label,
.course-quiz .widget-checkbox, .course-quiz .jupyter-widget-checkbox
  {height: auto; line-height: 1.4; padding: 2px 0;}
.course-quiz .widget-radio-box label, .course-quiz .jupyter-widget-radio-box label
  {display: flex; flex-direction: row-reverse; justify-content: flex-end;
   align-items: flex-start; gap: 6px;}  /* the input comes after the text in the DOM */
.course-quiz .widget-radio-box input, .course-quiz .jupyter-widget-radio-box input
  {flex: none; margin-top: 4px;}
.course-quiz .widget-checkbox span, .course-quiz .jupyter-widget-checkbox span
  {white-space: normal; overflow: visible;}
.course-quiz .widget-html-content, .course-quiz .jupyter-widget-html-content
  {line-height: 1.45; white-space: normal;}
</style>"""

STYLES = {  # feedback colours; the ✓ / ✗ sign says the same for those who cannot see colour
    "correct": f"color: {GREEN}; background: {GREEN_BG}; border-left: 5px solid {GREEN};",
    "wrong": f"color: {RED}; background: {RED_BG}; border-left: 5px solid {RED};",
    "error": f"color: {RED}; border-left: 5px solid {RED};",
    "info": f"color: {GREY}; border-left: 5px solid {GREY};",
    "hint": f"color: #5d4037; background: {HINT_BG}; border-left: 5px solid #f9a825;",
}


def styled_html(text, kind):
    """Text as HTML lines in a coloured, screen-reader announced box."""
    body = "<br>".join(escape(line) for line in text.splitlines())
    return (f'<div role="status" aria-live="polite" class="course-quiz-box course-quiz-box-{kind}" '
            f'style="{STYLES[kind]} padding: 6px 10px; margin: 4px 0;">{body}</div>')


class Result:
    """Outcome of one answer: ``correct`` and the feedback ``text``."""

    def __init__(self, correct, text):
        """Store the grade and its feedback."""
        self.correct = correct
        self.text = text

    def __bool__(self):
        """Truthy when the answer was correct."""
        return bool(self.correct)

    def __repr__(self):
        """The feedback text."""
        return self.text

    def _repr_pretty_(self, p, cycle):
        """IPython shows the feedback text, not an object address."""
        p.text(self.text)


class Teaching(Displayed):
    """Hints and the answer history shared by the quiz widgets (closed and open questions)."""

    def plain_text(self):
        """The readable text version for front ends without widgets."""
        return self.text()

    def _start(self, q):
        """Read what the progress file knows about ``q``."""
        self.question = q
        self.kind = kind_of(q)
        self.history = load_history(q["id"])
        self.hints_shown = min(self.history.hints, len(q.get("hints", [])))
        self.revealed = self.history.revealed

    def _hint_line(self, i):
        """'💡 Podpowiedź i/n: text'."""
        hints = self.question["hints"]
        return t("quiz.hint", i=i + 1, n=len(hints), text=hints[i])

    def next_hint(self, record=True):
        """One more hint (a "hint" event when ``record``); after the last one, the last again."""
        q, hints = self.question, self.question.get("hints") or []
        if not hints:
            return t("quiz.no_hints_quiz")
        if self.hints_shown >= len(hints):
            return self._hint_line(len(hints) - 1) if not record else t("quiz.hints_done", n=len(hints))
        i = self.hints_shown
        self.hints_shown += 1
        line = self._hint_line(i)
        if record:
            try:
                progress.record_event(q["id"], q["lesson"], "hint")
            except CourseError as exc:
                line += "\n" + t("quiz.progress_not_saved", error=exc)
        return line

    def _save(self, answer, correct, kind):
        """Store one attempt; return a warning line if it could not be saved, else ''."""
        try:
            entry = progress.record(self.question["id"], self.question["lesson"], answer, correct, kind=kind)
            self.history.answers.append(entry)
        except CourseError as exc:
            self.history.answers.append({"id": self.question["id"], "correct": bool(correct)})
            return t("quiz.progress_not_saved", error=exc)
        return ""


class QuizWidget(Teaching, w.VBox):
    """One closed question: prompt, input, 'Sprawdź' / 'Podpowiedź' / 'Pokaż odpowiedź', feedback."""

    def __init__(self, q):
        """Build the widgets and show the stored state of the question, if any."""
        self._start(q)
        self.prompt = w.HTML(f"<b>{escape(q['prompt'])}</b>").add_class("course-quiz-prompt")
        self.input = self.kind.make_input().add_class("course-quiz-input")
        self.button = w.Button(description=t("quiz.check_button"), icon="check",
                               button_style="primary").add_class("course-quiz-check")
        self.hint_button = w.Button(description=t("quiz.hint_button"), icon="lightbulb-o",
                                    tooltip=t("quiz.hint_tooltip"), layout=w.Layout(width="auto")
                                    ).add_class("course-quiz-hint-button")
        self.show_button = w.Button(description=t("quiz.show_button"), icon="eye",
                                    layout=w.Layout(display="none", width="auto")).add_class("course-quiz-show")
        self.hint_area = w.HTML().add_class("course-quiz-hints")
        self.hint_lines, self.hint_text = [], ""
        self.feedback = w.HTML().add_class("course-quiz-feedback")
        self.feedback_text = ""
        self.result = None
        style = w.HTML(QUIZ_CSS, layout=w.Layout(display="none"))
        buttons = w.HBox([self.button, self.hint_button, self.show_button])
        super().__init__([style, self.prompt, self.input, buttons, self.hint_area, self.feedback])
        self.add_class("course-quiz")
        self.add_class(f"course-quiz-{q['type']}")
        self.button.on_click(self._on_check)
        self.hint_button.on_click(lambda _b: self.hint())
        self.show_button.on_click(lambda _b: self.show_answer())
        self._restore()

    # --- display ---------------------------------------------------------------
    def show(self, text, correct=None):
        """Put text into the feedback area: green for ✓, red for ✗ / errors, grey for info."""
        self.feedback_text = text
        kind = {True: "correct", False: "wrong", None: "error", "info": "info"}[correct]
        self.feedback.value = styled_html(text, kind) if text else ""
        for name in ("course-quiz-correct", "course-quiz-wrong", "course-quiz-error", "course-quiz-info"):
            self.feedback.remove_class(name)
        if text:
            self.feedback.add_class(f"course-quiz-{kind}")

    def _show_hints(self, line=None):
        """Add ``line`` to the hint area (the hints asked for, one per line)."""
        if line:
            self.hint_lines.append(line)
        self.hint_text = "\n".join(self.hint_lines)
        self.hint_area.value = styled_html(self.hint_text, "hint") if self.hint_text else ""

    def _offer_answer(self, offer):
        """Show or hide the 'Pokaż odpowiedź' button."""
        self.show_button.layout.display = None if offer else "none"

    def get_value(self):
        """The answer currently set in the widget, in stored form (CourseError if empty/bad)."""
        return self.kind.read_input(self.input)

    def set_value(self, answer):
        """Show an answer (stored form) in the input widget."""
        self.kind.write_input(self.input, answer)

    # --- texts -----------------------------------------------------------------
    def _explained(self, head, answer):
        """The ✓/✗ line, the learner's answer, the right answer (after ✗) and the explanation."""
        kind = self.kind
        lines = [head, t("quiz.your_answer", answer=kind.describe(answer))]
        if not kind.grade(answer):
            lines.append(t("quiz.right_answer", answer=kind.right_answer()))
        lines.append(t("quiz.explanation", text=self.question["explanation"]))
        if kind.grade(answer) and self.history.first_correct is False:
            lines.append(t("quiz.not_first_try"))
        return "\n".join(lines)

    def _feedback_for(self, answer, correct, new_hint=True):
        """Feedback after an answer: with the explanation only once the answer is known."""
        if correct or self.revealed:
            return self._explained(t("quiz.correct") if correct else t("quiz.wrong"), answer)
        lines = [t("quiz.wrong"), t("quiz.your_answer", answer=self.kind.describe(answer))]
        if new_hint:
            lines.append(self.next_hint(record=False))
        return "\n".join(lines + [t("quiz.try_again", id=self.question["id"])])

    # --- actions -----------------------------------------------------------------
    def submit(self, answer):
        """Grade an answer in stored form, store it, show the feedback; return the Result."""
        correct = self.kind.grade(answer)
        warning = self._save(answer, correct, "quiz")
        text = self._feedback_for(answer, correct)
        if correct:
            self.revealed = True
        if warning:
            text += "\n" + warning
        self._offer_answer(not self.revealed)
        self.result = Result(correct, text)
        self.show(text, correct)
        return self.result

    def _on_check(self, _button=None):
        """Grade what is set in the widget; learner mistakes go to the feedback area."""
        try:
            answer = self.get_value()
        except CourseError as exc:
            self.show(f"❌ {exc}")
            return
        self.submit(answer)

    def answer(self, value):
        """Answer in code (option number(s), True/False or a number); return the Result."""
        answer = self.kind.parse(value)
        self.set_value(answer)
        return self.submit(answer)

    def hint(self):
        """Show the next hint (stored as a "hint" event); return its text."""
        line = self.next_hint()
        self._show_hints(line)
        return line

    def show_answer(self):
        """After a first attempt: the right answer and the explanation ("solution" event)."""
        q = self.question
        if not self.history.attempts:
            text = t("quiz.show_first", id=q["id"])
            self.show(text, "info")
            return text
        lines = [t("quiz.shown_answer", answer=self.kind.right_answer()),
                 t("quiz.explanation", text=q["explanation"])]
        try:
            progress.record_event(q["id"], q["lesson"], "solution")
            self.history.events.append({"id": q["id"], "event": "solution"})
        except CourseError as exc:
            lines.append(t("quiz.progress_not_saved", error=exc))
        self.revealed = True
        self._offer_answer(False)
        text = "\n".join(lines)
        self.show(text, "info")
        return text

    def _restore(self):
        """Preselect the last stored answer (if it still fits) and show where the learner is."""
        self.hint_lines = [self._hint_line(i) for i in range(self.hints_shown)]  # asked for before
        self._show_hints()
        last = self.history.answers[-1] if self.history.answers else None
        if last is None or not self._fits(last):
            return
        try:
            self.set_value(last["answer"])
        except (TraitError, CourseError):  # the stored answer no longer fits the widget
            return
        self._offer_answer(not self.revealed)
        self.show(self._feedback_for(last["answer"], last["correct"], new_hint=False), last["correct"])

    def _fits(self, record):
        """True when a stored answer still fits the question and grades the same."""
        try:
            self.kind.describe(record["answer"])
            return self.kind.grade(record["answer"]) == record["correct"]
        except (IndexError, TypeError, KeyError, ValueError, AttributeError):
            return False

    # --- text version ------------------------------------------------------------
    def text(self):
        """The readable text version of the question."""
        q, kind = self.question, self.kind
        lines = [t("quiz.text_header", id=q["id"], lesson=q["lesson"]), q["prompt"]]
        lines += [f"  {i}. {option}" for i, option in enumerate(kind.options(), 1)]
        last = self.history.answers[-1] if self.history.answers else None
        if last is not None and self._fits(last):
            result = t("quiz.result_ok") if last["correct"] else t("quiz.result_bad")
            lines.append(t("quiz.last_answer", answer=kind.describe(last["answer"]), result=result,
                           attempts=self.history.attempts))
        lines += [kind.how(), t("quiz.how_hint", id=q["id"])]
        return "\n".join(lines)

    def __repr__(self):
        """Short form for plain consoles (the full text is printed by ``quiz``)."""
        return f"quiz({self.question['id']!r})"

