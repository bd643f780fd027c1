"""The widget for open (recall) questions: own words first, then the model answer and key points.

The learner writes an answer in a text box and clicks "Pokaż wzorcową odpowiedź"; the
model answer appears with its key points as checkboxes. The learner ticks the points the
answer covered and clicks "Zapisz": stored with kind "open" as
``{"text": ..., "covered": [indices]}``, right when every key point is ticked.
In code: ``quiz(id).answer("TEKST")`` shows the model answer, and
``quiz(id).answer("TEKST", covered=[1, 3])`` saves (key points numbered from 1).
"""
from html import escape

import ipywidgets as w

from ..errors import CourseError
from ..messages import t
from .widget import QUIZ_CSS, Result, Teaching, styled_html


class OpenWidget(Teaching, w.VBox):
    """One open question: text box, hint, model answer with key-point checkboxes, save."""

    def __init__(self, q):
        """Build the widgets; a stored answer comes back with its ticked key points."""
        self._start(q)
        self.prompt = w.HTML(f"<b>{escape(q['prompt'])}</b>").add_class("course-quiz-prompt")
        self.input = self.kind.make_input().add_class("course-quiz-input")
        self.hint_button = w.Button(description=t("quiz.hint_button"), icon="lightbulb-o",
                                    tooltip=t("quiz.hint_tooltip"), layout=w.Layout(width="auto")
                                    ).add_class("course-quiz-hint-button")
        self.reveal_button = w.Button(description=t("quiz.open_show_button"), icon="eye", button_style="primary",
                                      layout=w.Layout(width="auto")).add_class("course-quiz-reveal")
        self.hint_area = w.HTML().add_class("course-quiz-hints")
        self.hint_lines = []
        self.model = w.HTML().add_class("course-quiz-model")
        self.points = [w.Checkbox(description=p, value=False, indent=False, layout=w.Layout(width="auto"))
                       .add_class("course-quiz-point") for p in q["key_points"]]
        self.save_button = w.Button(description=t("quiz.open_save_button"), icon="save",
                                    button_style="success").add_class("course-quiz-save")
        self.review = w.VBox([self.model, *self.points, self.save_button],
                             layout=w.Layout(display="none")).add_class("course-quiz-review")
        self.feedback = w.HTML().add_class("course-quiz-feedback")
        self.feedback_text = ""
        self.result = None
        style = w.HTML(QUIZ_CSS, layout=w.Layout(display="none"))
        super().__init__([style, self.prompt, self.input, w.HBox([self.reveal_button, self.hint_button]),
                          self.hint_area, self.review, self.feedback])
        self.add_class("course-quiz")
        self.add_class("course-quiz-open")
        self.hint_button.on_click(lambda _b: self.hint())
        self.reveal_button.on_click(self._on_reveal)
        self.save_button.on_click(self._on_save)
        self._restore()

    def show(self, text, correct=None):
        """Feedback: green when every key point is covered, grey otherwise, red for errors."""
        self.feedback_text = text
        kind = {True: "correct", False: "info", None: "error"}[correct]
        self.feedback.value = styled_html(text, kind) if text else ""

    def hint(self):
        """Show the next hint (stored as a "hint" event); return its text."""
        line = self.next_hint()
        self.hint_lines.append(line)
        self.hint_area.value = styled_html("\n".join(self.hint_lines), "hint")
        return line

    def reveal(self, text, covered=()):
        """Show the model answer and the key points for the learner's ``text``; return the text shown."""
        self.kind.parse(text)  # CourseError when nothing is written yet
        self.model.value = styled_html(t("quiz.open_model", text=self.question["model_answer"]), "info") + \
            f"<p>{escape(t('quiz.open_tick'))}</p>"
        self.review.layout.display = None
        self.reveal_button.disabled = True
        self.revealed = True
        lines = [t("quiz.open_model", text=self.question["model_answer"]), t("quiz.open_tick_code",
                                                                              id=self.question["id"])]
        return "\n".join(lines + self.kind.key_points_text(covered))

    def _on_reveal(self, _button=None):
        """The learner has written something: show the model answer."""
        try:
            self.reveal(self.input.value)
            self.show("")
        except CourseError as exc:
            self.show(f"❌ {exc}")

    def save(self, text, covered):
        """Store the answer with the covered key points (0-based); return the Result."""
        answer = self.kind.parse({"text": text, "covered": covered})
        correct = self.kind.grade(answer)
        warning = self._save(answer, correct, "open")
        missing = [p for i, p in enumerate(self.question["key_points"]) if i not in answer["covered"]]
        lines = [t("quiz.open_saved", covered=len(answer["covered"]), n=len(self.question["key_points"]))]
        lines.append(t("quiz.open_all") if correct else t("quiz.open_missing", points="; ".join(missing)))
        if warning:
            lines.append(warning)
        self.result = Result(correct, "\n".join(lines))
        self.show(self.result.text, correct)
        return self.result

    def _on_save(self, _button=None):
        """Save what is written and ticked."""
        try:
            self.save(self.input.value, [i for i, box in enumerate(self.points) if box.value])
        except CourseError as exc:
            self.show(f"❌ {exc}")

    def answer(self, text, covered=None):
        """In code: without ``covered`` show the model answer; with it (numbers from 1) save."""
        self.input.value = text if isinstance(text, str) else ""
        indices = self.kind.covered_from_numbers(covered) if covered is not None else []
        shown = self.reveal(text, indices)
        if covered is None:
            result = Result(None, shown)
            self.show(shown, False)
            return result
        for i, box in enumerate(self.points):
            box.value = i in indices
        result = self.save(text, indices)
        result.text = shown + "\n" + result.text
        return result

    def _restore(self):
        """Bring back the last stored answer: its text, the model answer and the ticked points."""
        self.hint_lines = [self._hint_line(i) for i in range(self.hints_shown)]  # asked for before
        if self.hint_lines:
            self.hint_area.value = styled_html("\n".join(self.hint_lines), "hint")
        last = self.history.answers[-1] if self.history.answers else None
        try:
            answer = self.kind.parse(last["answer"]) if last else None
        except (CourseError, TypeError, KeyError):
            answer = None
        if answer is None:
            return
        self.input.value = answer["text"]
        self.reveal(answer["text"])
        for i, box in enumerate(self.points):
            box.value = i in answer["covered"]
        self.show(t("quiz.open_saved", covered=len(answer["covered"]), n=len(self.points)),
                  self.kind.grade(answer))

    def text(self):
        """The readable text version of the question."""
        q = self.question
        lines = [t("quiz.text_header", id=q["id"], lesson=q["lesson"]), q["prompt"]]
        last = self.history.answers[-1] if self.history.answers else None
        if last is not None and isinstance(last.get("answer"), dict):
            lines.append(t("quiz.open_last", covered=len(last["answer"].get("covered", [])),
                           n=len(q["key_points"])))
        lines += [self.kind.how(), t("quiz.how_hint_open", id=q["id"])]
        return "\n".join(lines)

    def __repr__(self):
        """Short form for plain consoles."""
        return f"quiz({self.question['id']!r})"

