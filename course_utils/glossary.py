"""The course glossary: one Polish term per concept, shown in lesson 00 and enforced by a test.

The terms live in ``assets/glossary.json`` (data, not code). Each term has the Polish
word the course uses (``pl``), the English term (``en``), a one-line meaning, and the
banned variants: regular expressions over Polish word stems, matched case-insensitively
at the start of a word. :func:`find_banned` finds them in any text.
"""
import json
import re
from functools import cache
from html import escape
from pathlib import Path

from .messages import t

GLOSSARY_FILE = Path(__file__).resolve().parent.parent / "assets" / "glossary.json"


@cache
def load_glossary(path=None):
    """The list of terms from ``assets/glossary.json`` (or ``path``)."""
    with open(path or GLOSSARY_FILE, encoding="utf-8") as f:
        return tuple(json.load(f)["terms"])


def banned_pattern(regex):
    """A compiled pattern for one banned variant: case-insensitive, anchored at a word start."""
    return re.compile(r"(?<!\w)(?:" + regex + ")", re.IGNORECASE)


def find_banned(text, source=None, terms=None):
    """Every banned variant in ``text`` as ``(term_id, matched_text)`` pairs, in order.

    ``source`` (a repository-relative path such as ``notebooks/00_start.ipynb``) lets a
    term's ``allowed_in`` list exempt the one place that explains a variant.
    """
    found = []
    for term in terms if terms is not None else load_glossary():
        if source is not None and source in term.get("allowed_in", ()):
            continue
        for regex in term.get("banned", ()):
            for match in banned_pattern(regex).finditer(text):
                found.append((match.start(), term["id"], match.group(0)))
    return [(term_id, word) for _, term_id, word in sorted(found)]


def _term_label(term):
    """The Polish term, with the Polish gloss where the course keeps an English word."""
    if term.get("gloss"):
        return t("glossary.with_gloss", term=term["pl"], gloss=term["gloss"])
    return term["pl"]


class Glossary:
    """The glossary as an HTML table in a notebook and as plain text elsewhere."""

    def __init__(self, terms):
        self.terms = list(terms)

    def _repr_html_(self):
        """An HTML table: Polish term, English term, meaning."""
        head = "".join(f"<th style='text-align:left'>{escape(c)}</th>"
                       for c in t("glossary.columns").split("|"))
        rows = "".join(
            "<tr>"
            f"<td><b>{escape(_term_label(term))}</b></td>"
            f"<td><i>{escape(term['en'])}</i></td>"
            f"<td style='text-align:left'>{escape(term['meaning'])}</td>"
            "</tr>"
            for term in self.terms)
        return (f"<p><b>{escape(t('glossary.title'))}</b></p>"
                f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")

    def __repr__(self):
        """Plain-text fallback: one line per term."""
        lines = [t("glossary.title")]
        lines += [t("glossary.line", term=_term_label(term), en=term["en"], meaning=term["meaning"])
                  for term in self.terms]
        return "\n".join(lines)


def show_glossary(path=None):
    """The glossary for display: ``show_glossary()`` as the last line of a notebook cell."""
    return Glossary(load_glossary(path))
