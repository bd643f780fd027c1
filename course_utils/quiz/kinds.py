"""Question kinds, one class each: schema, parsing, grading, describing and the input widget.

``KINDS[q["type"]](q)`` wraps one question dict. Answers are kept in a stored form that
goes into the progress file: an option index (0-based) for ``single``, a sorted list of
indices for ``multiple``, a bool, a float, an object's description for ``code`` and
``{"text": ..., "covered": [indices]}`` for ``open``. Learners number options from 1.
"""
import math

import ipywidgets as w

from ..errors import CourseError
from ..messages import t

TEXT = {"type": "string", "minLength": 1}
TEXTS = {"type": "array", "minItems": 1, "items": TEXT}


class Kind:
    """Base class: what every question kind has (id, prompt, hints, explanation)."""

    name = ""
    fields = {}
    required = ("explanation",)

    def __init__(self, q):
        """Wrap the question dict ``q`` (already validated and shuffled)."""
        self.q = q

    @classmethod
    def schema(cls):
        """The JSON schema of one question of this kind (unknown fields are errors)."""
        props = {"id": {"type": "string"}, "type": {"const": cls.name}, "prompt": TEXT,
                 "explanation": TEXT, "hints": TEXTS, **cls.fields}
        return {"type": "object", "properties": props, "additionalProperties": False,
                "required": ["id", "type", "prompt", "hints", *cls.required]}

    @classmethod
    def check_consistency(cls, q):
        """What the schema cannot say (an answer index out of range), as Polish text, or None."""
        return None

    def parse(self, value):
        """A learner's answer (widget value or code argument) in stored form; CourseError if bad."""
        if _is_empty(value):
            raise CourseError(t(f"quiz.empty_{self.name}", n=len(self.q.get("options", []))))
        return self._parse(value)

    def _parse(self, value):
        raise NotImplementedError

    def grade(self, answer):
        """True when a stored answer is right."""
        return answer == self.q["answer"]

    def describe(self, answer):
        """A stored answer as the learner sees it."""
        return str(answer)

    def right_answer(self):
        """The right answer as the learner sees it."""
        return self.describe(self.q["answer"])

    def options(self):
        """Numbered choices for the text version ([] when there are none)."""
        return self.q.get("options", [])

    def how(self):
        """One line saying how to answer in code."""
        return t(f"quiz.how_{self.name}", id=self.q["id"])

    # --- the widget's input --------------------------------------------------
    def make_input(self):
        """The native ipywidgets control for this kind."""
        raise NotImplementedError

    def read_input(self, control):
        """The answer set in the control, in stored form (CourseError if empty/bad)."""
        return self.parse(control.value)

    def write_input(self, control, answer):
        """Show a stored answer in the control (TraitError if it no longer fits)."""
        control.value = answer


def _is_empty(value):
    """True for 'no answer given': None, blank text, an empty collection."""
    if isinstance(value, str):
        return value.strip() == ""
    return value is None or (isinstance(value, (list, tuple, set)) and not value)


def _index_problem(q, answers):
    """A Polish sentence when an answer index does not point at an option, else None."""
    n = len(q["options"])
    bad = [a for a in answers if not 0 <= a < n]
    return t("quiz.schema_answer_range", answer=bad[0], n=n, last=n - 1) if bad else None


FULL = {"width": "auto"}


class Single(Kind):
    """One right option out of several (radio buttons)."""

    name = "single"
    fields = {"options": {**TEXTS, "minItems": 2}, "answer": {"type": "integer", "minimum": 0},
              "keep_order": {"type": "boolean"}}
    required = ("options", "answer", "explanation")

    @classmethod
    def check_consistency(cls, q):
        return _index_problem(q, [q["answer"]])

    def option_index(self, value):
        """A 1-based option number (or the exact option text) -> 0-based index."""
        n = len(self.q["options"])
        if isinstance(value, str):
            text = value.strip()
            for i, option in enumerate(self.q["options"]):
                if text.casefold() == option.strip().casefold():
                    return i
            value = int(text) if text.isdigit() else text
        if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= n:
            return value - 1
        raise CourseError(t("quiz.bad_option", value=value, n=n))

    def _parse(self, value):
        return self.option_index(value)

    def describe(self, answer):
        return f"{answer + 1}. {self.q['options'][answer]}"

    def make_input(self):
        return w.RadioButtons(options=[(o, i) for i, o in enumerate(self.q["options"])],
                              value=None, layout=w.Layout(**FULL))

    def read_input(self, control):
        if control.value is None:
            raise CourseError(t("quiz.empty_single", n=len(self.q["options"])))
        return control.value


class Multiple(Single):
    """Several right options: all of them and only them (checkboxes)."""

    name = "multiple"
    fields = {**Single.fields,
              "answer": {"type": "array", "minItems": 1, "uniqueItems": True,
                         "items": {"type": "integer", "minimum": 0}}}

    @classmethod
    def check_consistency(cls, q):
        return _index_problem(q, q["answer"])

    def _parse(self, value):
        items = value.replace(",", " ").split() if isinstance(value, str) else value
        items = items if isinstance(items, (list, tuple, set)) else [items]
        return sorted({self.option_index(item) for item in items})

    def grade(self, answer):
        return sorted(answer) == sorted(self.q["answer"])

    def describe(self, answer):
        return "; ".join(f"{i + 1}. {self.q['options'][i].rstrip('.')}" for i in answer)

    def make_input(self):
        return w.VBox([w.Checkbox(description=o, value=False, indent=False, layout=w.Layout(**FULL))
                       for o in self.q["options"]])

    def read_input(self, control):
        return self.parse([i + 1 for i, box in enumerate(control.children) if box.value])

    def write_input(self, control, answer):
        if any(not 0 <= i < len(control.children) for i in answer):
            raise CourseError("stored answer out of range")
        for i, box in enumerate(control.children):
            box.value = i in answer


_TRUE = {"prawda", "tak", "true", "p", "t"}
_FALSE = {"fałsz", "falsz", "nie", "false", "f", "n"}


class TrueFalse(Kind):
    """A statement that is true or false."""

    name = "truefalse"
    fields = {"answer": {"type": "boolean"}}
    required = ("answer", "explanation")

    def _parse(self, value):
        if isinstance(value, bool):
            return value
        word = str(value).strip().casefold()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        raise CourseError(t("quiz.bad_truefalse", value=value))

    def describe(self, answer):
        return t("quiz.true") if answer else t("quiz.false")

    def options(self):
        return [t("quiz.true"), t("quiz.false")]

    def make_input(self):
        return w.RadioButtons(options=[(t("quiz.true"), True), (t("quiz.false"), False)],
                              value=None, layout=w.Layout(**FULL))

    def read_input(self, control):
        if control.value is None:
            raise CourseError(t("quiz.empty_truefalse"))
        return control.value


class Numeric(Kind):
    """A number, right within ``tolerance``; '6 405' and '0,5' are understood."""

    name = "numeric"
    fields = {"answer": {"type": "number"}, "tolerance": {"type": "number", "minimum": 0}}
    required = ("answer", "explanation")

    def _parse(self, value):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        else:
            text = str(value).strip().replace("\u00a0", "").replace("\u202f", "")
            text = text.replace(" ", "").replace("_", "")
            try:
                number = float(text.replace(",", "."))
            except ValueError:
                raise CourseError(t("quiz.bad_number", value=value)) from None
        if not math.isfinite(number):
            raise CourseError(t("quiz.bad_number", value=value))
        return number

    def grade(self, answer):
        return abs(answer - self.q["answer"]) <= self.q.get("tolerance", 0)

    def describe(self, answer):
        return f"{answer:g}".replace(".", ",")

    def make_input(self):
        return w.Text(placeholder="np. 1280", layout=w.Layout(width="16em"))

    def write_input(self, control, answer):
        control.value = self.describe(answer)


class Code(Kind):
    """A code task checked on the learner's object by ``checks.run_check`` (see CodeCheck)."""

    name = "code"
    fields = {"checker": TEXT, "params": {"type": "object"}, "solution": {"type": "string"}}
    required = ("checker", "explanation")

    @classmethod
    def check_consistency(cls, q):
        from ..checks import CHECKERS
        if q["checker"] not in CHECKERS:
            return t("quiz.schema_checker", checker=q["checker"], known=", ".join(sorted(CHECKERS)))
        return None

    def _parse(self, value):
        name = getattr(value, "name", None)
        return f"{type(value).__name__} {name!r}" if isinstance(name, str) else type(value).__name__

    def parse(self, value):
        return self._parse(value)

    def right_answer(self):
        return self.q.get("solution", "")

    def grade(self, answer):
        raise TypeError("a code task is graded by running its checker (CodeCheck.check)")


class Open(Kind):
    """A recall question: own words first, then the model answer and its key points to tick."""

    name = "open"
    fields = {"model_answer": TEXT, "key_points": TEXTS}
    required = ("model_answer", "key_points")

    def parse(self, value):
        """``{"text": ..., "covered": [0-based indices]}`` from a dict or a text (nothing covered)."""
        if isinstance(value, str):
            value = {"text": value, "covered": []}
        if not isinstance(value, dict) or not isinstance(value.get("text"), str):
            raise CourseError(t("quiz.empty_open"))
        if not value["text"].strip():
            raise CourseError(t("quiz.empty_open"))
        n = len(self.q["key_points"])
        covered = value.get("covered") or []
        if not isinstance(covered, (list, tuple, set)) or any(
                isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < n for i in covered):
            raise CourseError(t("quiz.bad_key_points", value=covered, n=n))
        return {"text": value["text"], "covered": sorted(set(covered))}

    def covered_from_numbers(self, numbers):
        """1-based key point numbers (as shown) -> 0-based indices (CourseError if bad)."""
        n = len(self.q["key_points"])
        numbers = [numbers] if isinstance(numbers, int) else list(numbers or [])
        if any(isinstance(i, bool) or not isinstance(i, int) or not 1 <= i <= n for i in numbers):
            raise CourseError(t("quiz.bad_key_points", value=numbers, n=n))
        return sorted({i - 1 for i in numbers})

    def grade(self, answer):
        return len(set(answer["covered"])) == len(self.q["key_points"])

    def describe(self, answer):
        return answer["text"].strip()

    def right_answer(self):
        return self.q["model_answer"]

    def key_points_text(self, covered=()):
        """The key points as numbered lines, ticked ones marked ☑."""
        return [f"  {'☑' if i in covered else '☐'} {i + 1}. {p}"
                for i, p in enumerate(self.q["key_points"])]

    def make_input(self):
        return w.Textarea(placeholder=t("quiz.open_placeholder"),
                          layout=w.Layout(width="100%", height="7em"))

    def read_input(self, control):
        return self.parse(control.value)

    def write_input(self, control, answer):
        control.value = answer["text"]


KINDS = {k.name: k for k in (Single, Multiple, TrueFalse, Numeric, Code, Open)}
TYPES = tuple(KINDS)


def kind_of(q):
    """The Kind object of a question dict."""
    return KINDS[q["type"]](q)
