"""What the progress file says about one item: attempts, first try, hints and solutions seen.

The first attempt is what the score counts: an item is "right at first try" when its
first stored answer is right and no solution was shown before that answer.
"""
from datetime import datetime

from .. import progress
from ..errors import CourseError


def _time(entry):
    """An entry's timestamp as a datetime (None when missing or unreadable)."""
    try:
        return datetime.fromisoformat(entry["time"])
    except (KeyError, TypeError, ValueError):
        return None


class History:
    """Stored answers and events of one item (a quiz question or an exercise)."""

    def __init__(self, item_id, answers, events):
        """Keep the entries of ``item_id`` from all ``answers`` and ``events`` (oldest first)."""
        self.id = item_id
        self.answers = [r for r in answers if r.get("id") == item_id]
        self.events = [e for e in events if e.get("id") == item_id]

    @property
    def attempts(self):
        """How many answers were stored."""
        return len(self.answers)

    @property
    def hints(self):
        """How many hints were shown on request."""
        return sum(e.get("event") == "hint" for e in self.events)

    @property
    def solutions(self):
        """How many times the answer / solution was shown."""
        return sum(e.get("event") == "solution" for e in self.events)

    @property
    def solved(self):
        """True when any stored answer is right."""
        return any(r.get("correct") for r in self.answers)

    @property
    def revealed(self):
        """True when the learner has seen the right answer (solved it or asked for it)."""
        return self.solved or self.solutions > 0

    @property
    def first_correct(self):
        """True / False for the first answer (False if a solution was shown before it); None if none."""
        if not self.answers:
            return None
        first = self.answers[0]
        if not first.get("correct"):
            return False
        start = _time(first)
        for e in self.events:
            shown = _time(e)
            if e.get("event") == "solution" and shown is not None and start is not None and shown < start:
                return False
        return True


def load_history(item_id):
    """The History of one item from the progress file (empty, with a warning, if unreadable)."""
    try:
        answers, events = progress.load_all()
    except CourseError as exc:
        progress.warn(f"❌ {exc}")
        answers, events = [], []
    return History(item_id, answers, events)
