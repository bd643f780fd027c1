"""Quiz questions and code checks from ``assets/quizzes/<lesson>.json``.

In a notebook cell::

    from course_utils.quiz import quiz, code_check, show_progress
    quiz("00-order")                    # widget (text version without a widget front end)
    quiz("00-order").answer(3)          # answer in code: option number 3 (as shown)
    code_check("02-frozen-base").check(base)   # also .hint() and .solution()
    show_progress()

Question types: ``single``, ``multiple``, ``truefalse``, ``numeric`` and ``code``.
Options are numbered from 1 for learners; ``answer`` in the JSON uses 0-based indices.
Learners see the options of ``single`` and ``multiple`` questions in a fixed shuffled
order (seeded by the question id), so the right answer's place in the file gives
nothing away; ``"keep_order": true`` keeps the file's order for one question.
"""
import difflib
import hashlib
import json
import math
import random
from html import escape
from pathlib import Path

import ipywidgets as w
from traitlets import TraitError

from . import progress
from .checks import run_check
from .errors import CourseError
from .messages import t
from .progress import in_ipython, reset_progress  # noqa: F401  (re-exported)

QUIZ_DIR = Path(__file__).resolve().parent.parent / "assets" / "quizzes"
TYPES = ("single", "multiple", "truefalse", "numeric", "code")


# --- question bank -----------------------------------------------------------

def load_bank(quiz_dir=None):
    """All questions of the course as ``{id: question dict}`` (with ``lesson`` and ``title``)."""
    bank = {}
    for path in sorted(Path(quiz_dir or QUIZ_DIR).glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            for q in data["questions"]:
                bank[q["id"]] = shuffled({**q, "lesson": data["lesson"], "title": data.get("title", "")})
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CourseError(t("quiz.bank_broken", path=path, error=exc)) from None
    return bank


def display_order(q):
    """Indices of ``q["options"]`` in the order learners see them: the same shuffle every time."""
    n = len(q["options"])
    if q.get("keep_order"):
        return list(range(n))
    seed = int.from_bytes(hashlib.sha256(q["id"].encode("utf-8")).digest()[:8], "big")
    return random.Random(seed).sample(range(n), n)


def shuffled(q):
    """``q`` with its options in display order and ``answer`` renumbered to match."""
    if q.get("type") not in ("single", "multiple"):
        return q
    order = display_order(q)
    place = {old: new for new, old in enumerate(order)}
    answer = (sorted(place[a] for a in q["answer"]) if q["type"] == "multiple"
              else place[q["answer"]])
    return {**q, "options": [q["options"][i] for i in order], "answer": answer}


def get_question(question_id, quiz_dir=None):
    """One question by id; an unknown id raises a CourseError with the closest match."""
    bank = load_bank(quiz_dir)
    if isinstance(question_id, str) and question_id in bank:
        return bank[question_id]
    match = difflib.get_close_matches(str(question_id), list(bank), n=1, cutoff=0.5)
    suggestion = t("quiz.did_you_mean", match=match[0]) if match else ""
    same = [qid for qid in bank if qid[:3] == str(question_id)[:3]]
    known = (t("quiz.ids_in_lesson", ids=", ".join(same)) if same else
             t("quiz.known_lessons", lessons=", ".join(sorted({q["lesson"] for q in bank.values()}))))
    raise CourseError(t("quiz.unknown_id", id=question_id, suggestion=suggestion, known=known))


# --- answers: parsing, grading, describing -----------------------------------

def _option_index(q, value):
    """A 1-based option number (or the exact option text) -> 0-based index."""
    n = len(q["options"])
    if isinstance(value, str):
        text = value.strip()
        for i, option in enumerate(q["options"]):
            if text.casefold() == option.strip().casefold():
                return i
        value = int(text) if text.isdigit() else text
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= n:
        return value - 1
    raise CourseError(t("quiz.bad_option", value=value, n=n))


def _parse_number(value):
    """A number from a number or a text like '6 405' or '0,5'."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    else:
        text = str(value).strip().replace("\u00a0", "").replace(" ", "").replace("_", "")
        try:
            number = float(text.replace(",", "."))
        except ValueError:
            raise CourseError(t("quiz.bad_number", value=value)) from None
    if not math.isfinite(number):
        raise CourseError(t("quiz.bad_number", value=value))
    return number


_TRUE = {"prawda", "tak", "true", "p", "t"}
_FALSE = {"fałsz", "falsz", "nie", "false", "f", "n"}


def _parse_bool(value):
    """True/False from a bool or a Polish/English word."""
    if isinstance(value, bool):
        return value
    word = str(value).strip().casefold()
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    raise CourseError(t("quiz.bad_truefalse", value=value))


def _is_empty(value):
    """True for 'no answer given': None, blank text, an empty collection."""
    if isinstance(value, str):
        return value.strip() == ""
    return value is None or (isinstance(value, (list, tuple, set)) and not value)


def parse_answer(q, value):
    """Turn a learner's answer into the stored form (raises CourseError on bad input)."""
    kind = q["type"]
    if _is_empty(value):
        raise CourseError(t(f"quiz.empty_{kind}", n=len(q.get("options", []))))
    if kind == "single":
        return _option_index(q, value)
    if kind == "multiple":
        items = value.replace(",", " ").split() if isinstance(value, str) else value
        items = items if isinstance(items, (list, tuple, set)) else [items]
        return sorted({_option_index(q, item) for item in items})
    if kind == "truefalse":
        return _parse_bool(value)
    return _parse_number(value)


def is_correct(q, answer):
    """Grade an answer already in stored form."""
    if q["type"] == "multiple":
        return sorted(answer) == sorted(q["answer"])
    if q["type"] == "numeric":
        return abs(answer - q["answer"]) <= q.get("tolerance", 0)
    return answer == q["answer"]


def describe(q, answer):
    """A stored answer as the learner sees it ('2. tekst opcji', 'Prawda', '6405')."""
    kind = q["type"]
    if kind == "single":
        return f"{answer + 1}. {q['options'][answer]}"
    if kind == "multiple":
        return "; ".join(f"{i + 1}. {q['options'][i].rstrip('.')}" for i in answer)
    if kind == "truefalse":
        return t("quiz.true") if answer else t("quiz.false")
    if kind == "numeric":
        return f"{answer:g}"
    return str(answer)


class Result:
    """Outcome of one answer: ``correct`` and the feedback ``text`` (✓/✗ + explanation)."""

    def __init__(self, correct, text):
        """Store the grade and its feedback."""
        self.correct = correct
        self.text = text

    def __bool__(self):
        """Truthy when the answer was correct."""
        return self.correct

    def __repr__(self):
        """The feedback text."""
        return self.text

    def _repr_pretty_(self, p, cycle):
        """IPython shows the feedback text, not an object address."""
        p.text(self.text)


def feedback(q, answer, correct):
    """The feedback text: ✓/✗ line, the learner's answer and the explanation."""
    return "\n".join([t("quiz.correct") if correct else t("quiz.wrong"),
                      t("quiz.your_answer", answer=describe(q, answer)),
                      t("quiz.explanation", text=q["explanation"])])


def submit(q, answer):
    """Grade an answer in stored form, save it, and return the Result."""
    correct = is_correct(q, answer)
    text = feedback(q, answer, correct)
    try:
        progress.record(q["id"], q["lesson"], answer, correct)
    except CourseError as exc:
        text += "\n" + t("quiz.progress_not_saved", error=exc)
    return Result(correct, text)


def _last(q):
    """The stored last answer to ``q`` if it still fits the question, else None."""
    try:
        record = progress.last_answer(q["id"])
        if record is not None:
            describe(q, record["answer"])
            if is_correct(q, record["answer"]) != record["correct"]:
                return None  # the options or the answer changed since (e.g. a new order)
        return record
    except CourseError as exc:
        progress.warn(f"❌ {exc}")
    except (IndexError, TypeError, KeyError, ValueError):  # the question changed since
        pass
    return None


# --- text version ------------------------------------------------------------

def question_text(q):
    """The question as readable text: prompt, numbered options, last answer, how to answer."""
    lines = [t("quiz.text_header", id=q["id"], lesson=q["lesson"]), q["prompt"]]
    options = q.get("options") or ([t("quiz.true"), t("quiz.false")]
                                   if q["type"] == "truefalse" else [])
    lines += [f"  {i}. {option}" for i, option in enumerate(options, 1)]
    last = _last(q)
    if last is not None:
        result = t("quiz.result_ok") if last["correct"] else t("quiz.result_bad")
        lines.append(t("quiz.last_answer", answer=describe(q, last["answer"]), result=result))
    lines.append(t(f"quiz.how_{q['type']}", id=q["id"]))
    return "\n".join(lines)


# --- widgets -----------------------------------------------------------------

def _input_widget(q):
    """The native input widget for a question type."""
    full = w.Layout(width="auto")
    if q["type"] == "single":
        return w.RadioButtons(options=[(o, i) for i, o in enumerate(q["options"])],
                              value=None, layout=full)
    if q["type"] == "truefalse":
        return w.RadioButtons(options=[(t("quiz.true"), True), (t("quiz.false"), False)],
                              value=None, layout=full)
    if q["type"] == "multiple":
        return w.VBox([w.Checkbox(description=o, value=False, indent=False, layout=full)
                       for o in q["options"]])
    return w.Text(placeholder="np. 1280", layout=w.Layout(width="16em"))


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
</style>"""


class QuizWidget(w.VBox):
    """One question: prompt, native input, a 'Sprawdź' button and a feedback area."""

    def __init__(self, q):
        """Build the widgets and show the last stored answer, if any."""
        self.question = q
        self.prompt = w.HTML(f"<b>{escape(q['prompt'])}</b>").add_class("course-quiz-prompt")
        self.input = _input_widget(q).add_class("course-quiz-input")
        self.button = w.Button(description=t("quiz.check_button"), icon="check",
                               button_style="primary").add_class("course-quiz-check")
        self.feedback = w.HTML().add_class("course-quiz-feedback")
        self.feedback_text = ""
        self.result = None
        style = w.HTML(QUIZ_CSS, layout=w.Layout(display="none"))
        super().__init__([style, self.prompt, self.input, self.button, self.feedback])
        self.add_class("course-quiz")
        self.add_class(f"course-quiz-{q['type']}")
        self.button.on_click(self._on_click)
        self._restore()

    def get_value(self):
        """The answer currently set in the widget, in stored form (CourseError if empty/bad)."""
        q = self.question
        if q["type"] == "multiple":
            value = [i for i, box in enumerate(self.input.children) if box.value]
            return parse_answer(q, [i + 1 for i in value])
        if q["type"] == "numeric":
            return parse_answer(q, self.input.value)
        if self.input.value is None:
            raise CourseError(t(f"quiz.empty_{q['type']}", n=len(q.get("options", []))))
        return self.input.value

    def set_value(self, answer):
        """Show an answer (stored form) in the input widget."""
        if self.question["type"] == "multiple":
            for i, box in enumerate(self.input.children):
                box.value = i in answer
        elif self.question["type"] == "numeric":
            self.input.value = describe(self.question, answer)
        else:
            self.input.value = answer

    def show(self, text, correct=None):
        """Put text into the feedback area (✓/✗ are in the text; colour is only extra)."""
        self.feedback_text = text
        body = "<br>".join(escape(line) for line in text.splitlines())
        self.feedback.value = f'<div role="status" aria-live="polite">{body}</div>'
        for name in ("course-quiz-correct", "course-quiz-wrong", "course-quiz-error"):
            self.feedback.remove_class(name)
        kind = "error" if correct is None else ("correct" if correct else "wrong")
        self.feedback.add_class(f"course-quiz-{kind}")

    def _on_click(self, _button=None):
        """Grade what is set in the widget; learner mistakes go to the feedback area."""
        try:
            answer = self.get_value()
        except CourseError as exc:
            self.show(f"❌ {exc}")
            return
        self.result = submit(self.question, answer)
        self.show(self.result.text, self.result.correct)

    def _restore(self):
        """Preselect the last stored answer and show its feedback."""
        last = _last(self.question)
        if last is None:
            return
        try:
            self.set_value(last["answer"])
        except TraitError:  # the stored answer no longer fits the widget
            return
        text = feedback(self.question, last["answer"], last["correct"])
        self.show(text, last["correct"])

    def answer(self, value):
        """Answer in code (option number(s), True/False or a number); return the Result."""
        if self.question["type"] == "code":
            raise CourseError(t("quiz.how_code", id=self.question["id"]))
        answer = parse_answer(self.question, value)
        self.set_value(answer)
        self.result = submit(self.question, answer)
        self.show(self.result.text, self.result.correct)
        return self.result

    def text(self):
        """The readable text version of the question."""
        return question_text(self.question)

    def __repr__(self):
        """Short form for plain consoles (the full text is printed by ``quiz``)."""
        return f"quiz({self.question['id']!r})"

    def _repr_mimebundle_(self, **kwargs):
        """Widget view plus the readable text version for front ends without widgets."""
        data = super()._repr_mimebundle_(**kwargs) or {}
        data["text/plain"] = self.text()
        return data


# --- code checks -------------------------------------------------------------

def _describe_object(obj):
    """A short description of a checked object for the progress file."""
    name = getattr(obj, "name", None)
    return f"{type(obj).__name__} {name!r}" if isinstance(name, str) else type(obj).__name__


class CodeCheck:
    """A learntools-style exercise: ``check(obj)``, graded ``hint()``, ``solution()``."""

    def __init__(self, q):
        """Wrap one question of type ``code``."""
        self.question = q
        self.hints_shown = 0

    def check(self, obj, **params):
        """Run the checker on ``obj``, print a ✓/✗ line, save progress; return True/False."""
        q = self.question
        ok, message = run_check(q["checker"], obj, **{**q.get("params", {}), **params})
        lines = [t("quiz.code_ok" if ok else "quiz.code_bad", message=message),
                 t("quiz.explanation", text=q["explanation"])]
        try:
            progress.record(q["id"], q["lesson"], _describe_object(obj), ok)
        except CourseError as exc:
            lines.append(t("quiz.progress_not_saved", error=exc))
        print("\n".join(lines))
        return ok

    def hint(self):
        """Print the next hint (each call shows one more); return its text."""
        hints = self.question.get("hints") or []
        if not hints:
            text = t("quiz.no_hints")
        else:
            i = min(self.hints_shown, len(hints) - 1)
            self.hints_shown = i + 1
            text = t("quiz.hint", i=i + 1, n=len(hints), text=hints[i])
            if self.hints_shown == len(hints):
                text += "\n" + t("quiz.hint_last")
        print(text)
        return text

    def solution(self):
        """Print the model solution; return its code."""
        code = self.question.get("solution") or ""
        print(f"{t('quiz.solution')}\n{code}" if code else t("quiz.no_solution"))
        return code

    def text(self):
        """The task as readable text."""
        return question_text(self.question)

    def __repr__(self):
        """The task text, for consoles."""
        return self.text()

    def _repr_pretty_(self, p, cycle):
        """IPython shows the task text."""
        p.text(self.text())


# --- entry points for notebooks ----------------------------------------------

def quiz(question_id):
    """Show question ``question_id`` (widget in Jupyter, text elsewhere) and return it."""
    q = get_question(question_id)
    if q["type"] == "code":
        return code_check(question_id)
    widget = QuizWidget(q)
    if not in_ipython():
        print(widget.text())
    return widget


def code_check(question_id):
    """Return the code exercise ``question_id`` (use ``.check(obj)``, ``.hint()``, ``.solution()``)."""
    q = get_question(question_id)
    if q["type"] != "code":
        raise CourseError(t("quiz.not_code", id=question_id))
    return CodeCheck(q)


def show_progress(quiz_dir=None):
    """Show per-lesson scores (table + bar chart) and unanswered questions.

    In a notebook the report is displayed (table and chart) and nothing is
    returned, so it never shows twice; elsewhere its text is printed and the
    report (``rows``, ``unanswered``, ``figure``) is returned.
    """
    report = progress.build_report(load_bank(quiz_dir), progress.last_answers())
    if in_ipython():
        from IPython.display import display
        display(report)
        return None
    print(report.text)
    return report
