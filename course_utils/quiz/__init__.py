"""Quizzes that teach: questions from ``assets/quizzes/<lesson>.json``, hints, first-try scores.

In a notebook cell::

    from course_utils.quiz import quiz, code_check, show_progress
    quiz("00-order")                    # widget (text version without a widget front end)
    quiz("00-order").hint()             # the next hint (also the "Podpowiedź" button)
    quiz("00-order").answer(3)          # answer in code: option number 3 (as shown)
    quiz("00-order").show_answer()      # after a wrong try: the answer and the explanation
    code_check("02-frozen-base").check(base)   # also .hint() and .solution()
    show_progress()

Question kinds (one class each in ``kinds``): ``single``, ``multiple``, ``truefalse``,
``numeric``, ``code`` and ``open``. Files are checked against a schema when loaded
(``bank``). Options are numbered from 1 for learners and shown in a fixed shuffle seeded
by the question id. Every attempt is stored; the lesson's score counts the first.
"""
from .. import progress
from ..errors import CourseError
from ..messages import t
from ..progress import in_ipython, reset_progress  # noqa: F401  (re-exported)
from . import bank as _bank
from . import dashboard
from .bank import display_order, shuffled  # noqa: F401  (re-exported)
from .code import CodeCheck
from .kinds import KINDS, TYPES, kind_of  # noqa: F401  (re-exported)
from .open import OpenWidget
from .widget import QuizWidget, Result  # noqa: F401  (re-exported)

QUIZ_DIR = _bank.QUIZ_DIR
EXERCISE_DIR = dashboard.EXERCISE_DIR


def load_bank(quiz_dir=None):
    """All questions of the course as ``{id: question dict}`` (validated, options shuffled)."""
    return _bank.load_bank(quiz_dir or QUIZ_DIR)


def get_question(question_id, quiz_dir=None):
    """One question by id; an unknown id raises a CourseError with the closest match."""
    return _bank.get_question(question_id, quiz_dir or QUIZ_DIR)


def quiz(question_id):
    """Show question ``question_id`` (widget in Jupyter, text elsewhere) and return it."""
    q = get_question(question_id)
    if q["type"] == "code":
        return CodeCheck(q)
    widget = OpenWidget(q) if q["type"] == "open" else QuizWidget(q)
    if not in_ipython():
        print(widget.text())
    return widget


def code_check(question_id):
    """Return the code task ``question_id`` (use ``.check(obj)``, ``.hint()``, ``.solution()``)."""
    q = get_question(question_id)
    if q["type"] != "code":
        raise CourseError(t("quiz.not_code", id=question_id))
    return CodeCheck(q)


def progress_report(quiz_dir=None, exercise_dir=None):
    """The dashboard as a ProgressReport (``rows``, ``questions``, ``unanswered``, ``figure``)."""
    answers, events = progress.load_all()
    exercises = dashboard.load_exercises(exercise_dir or EXERCISE_DIR)
    return dashboard.build_report(load_bank(quiz_dir), answers, events, exercises)


def show_progress(quiz_dir=None, exercise_dir=None):
    """Show per lesson: first-try score, attempts, hints, answers shown, exercises solved.

    In a notebook the report is displayed (tables and chart) and nothing is returned,
    so it never shows twice; elsewhere its text is printed and the report is returned.
    """
    report = progress_report(quiz_dir, exercise_dir)
    if in_ipython():
        from IPython.display import display
        display(report)
        return None
    print(report.text)
    return report
