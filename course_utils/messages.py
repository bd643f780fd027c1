"""Every learner-facing string of the course, in Polish, in one place.

The strings are data: ``course_utils/locale/pl.json`` (keys grouped by concern, ``module.name``).
An English edition can follow as a second file with the same keys.
Use ``t(key, **fields)``.
Counted nouns take their form from :func:`plural`, also inside a message:
``{n} {n:plural:zdjęcie|zdjęcia|zdjęć}``.
"""
import json
import string
from pathlib import Path

MESSAGES_DIR = Path(__file__).resolve().parent / "locale"  # package data, installed with the code
PL = json.loads((MESSAGES_DIR / "pl.json").read_text(encoding="utf-8"))  # keys grouped by concern

MESSAGES = {"pl": PL}
LANGUAGE = "pl"


class _Formatter(string.Formatter):
    """``str.format`` plus two Polish field formats used inside messages.

    ``{n:plural:zdjęcie|zdjęcia|zdjęć}`` gives the noun form for ``n`` (:func:`plural`) and
    ``{n:num}`` writes an integer with a space between thousands (``6 405``).
    """

    def format_field(self, value, format_spec):
        if format_spec.startswith("plural:"):
            return plural(value, *format_spec[len("plural:"):].split("|"))
        if format_spec == "num":
            return number(value)
        return super().format_field(value, format_spec)


_FORMATTER = _Formatter()


def t(key, **fields):
    """Return the message for ``key`` in the course language, filled with ``fields``."""
    return _FORMATTER.format(MESSAGES[LANGUAGE][key], **fields)


def number(n):
    """An integer the Polish way, a space between thousands: ``number(1212485)`` -> '1 212 485'."""
    return f"{int(n):,}".replace(",", " ")


def percent(share, digits=1):
    """A share as Polish prose writes it: ``percent(0.921)`` -> '92,1%'."""
    return f"{100 * float(share):.{digits}f}".replace(".", ",") + "%"


def plural(n, one, few, many):
    """The Polish form of a noun for the count ``n``: 1 zdjęcie, 2 zdjęcia, 5 zdjęć, 22 zdjęcia."""
    n = abs(int(n))
    if n == 1:
        return one
    if n % 10 in (2, 3, 4) and n % 100 not in (12, 13, 14):
        return few
    return many


def count(n, one, few, many):
    """``n`` followed by its Polish noun form: ``count(3, "zdjęcie", "zdjęcia", "zdjęć")`` -> '3 zdjęcia'."""
    return f"{n} {plural(n, one, few, many)}"


def photos_word(n):
    """``n`` with the right Polish form of 'zdjęcie': '1 zdjęcie', '3 zdjęcia', '5 zdjęć'."""
    return count(n, "zdjęcie", "zdjęcia", "zdjęć")
