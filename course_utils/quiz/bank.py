"""The question bank: quiz files loaded from ``assets/quizzes/*.json`` and checked against a schema.

A file is ``{"lesson": "00_start", "title": "...", "questions": [...]}``. Every question is
validated with jsonschema against its kind's schema (``kinds.KINDS[type].schema``); a
broken file stops with one Polish line naming the file and the question id. Options of
``single`` and ``multiple`` questions are shown in a fixed shuffle seeded by the question
id (``"keep_order": true`` keeps the file's order).
"""
import difflib
import hashlib
import json
import random
from pathlib import Path

import jsonschema

from ..errors import CourseError
from ..messages import t
from .kinds import KINDS

QUIZ_DIR = Path(__file__).resolve().parents[2] / "assets" / "quizzes"

FILE_SCHEMA = {
    "type": "object",
    "required": ["lesson", "questions"],
    "properties": {
        "lesson": {"type": "string", "pattern": r"^\d\d_\w+$"},
        "title": {"type": "string"},
        "questions": {"type": "array", "minItems": 1,
                      "items": {"type": "object", "required": ["id", "type"],
                                "properties": {"id": {"type": "string", "pattern": r"^\d\d-[\w-]+$"},
                                               "type": {"enum": sorted(KINDS)}}}},
    },
}


def _where(error):
    """The JSON path of a schema error inside one question ('options[2]', 'answer')."""
    parts = []
    for p in error.absolute_path:
        parts.append(f"[{p}]" if isinstance(p, int) else (f".{p}" if parts else str(p)))
    return "".join(parts)


def explain(error):
    """A jsonschema ValidationError in Polish, one line."""
    v, where = error.validator, _where(error)
    field = f"pole {where!r}" if where else "pytanie"
    if v == "required":
        missing = [f for f in error.validator_value if f not in error.instance]
        return t("quiz.schema_required", field=missing[0] if missing else error.validator_value)
    if v == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return t("quiz.schema_unknown", field=", ".join(extra))
    if v == "type":
        return t("quiz.schema_type", field=field, expected=error.validator_value,
                 actual=type(error.instance).__name__)
    if v == "enum":
        return t("quiz.schema_enum", field=field, value=error.instance,
                 allowed=", ".join(map(str, error.validator_value)))
    if v in ("minItems", "minLength"):
        return t("quiz.schema_short", field=field, n=error.validator_value)
    if v == "pattern":
        return t("quiz.schema_pattern", field=field, value=error.instance, pattern=error.validator_value)
    if v == "minimum":
        return t("quiz.schema_minimum", field=field, n=error.validator_value)
    if v == "uniqueItems":
        return t("quiz.schema_unique", field=field)
    return f"{field}: {error.message}"


def _first_error(validator, instance):
    """The most relevant schema error of ``instance`` or None."""
    error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
    return error


def validate_file(path, data):
    """Check one parsed quiz file; raise CourseError naming the file and the question."""
    error = _first_error(jsonschema.Draft202012Validator(FILE_SCHEMA), data)
    if error is not None:
        path_parts = list(error.absolute_path)
        qid = None
        if len(path_parts) >= 2 and path_parts[0] == "questions":
            item = data["questions"][path_parts[1]]
            qid = item.get("id") if isinstance(item, dict) else None
            qid = qid if isinstance(qid, str) else f"nr {path_parts[1] + 1}"
        if qid is None:
            raise CourseError(t("quiz.schema_file", path=path, error=explain(error)))
        raise CourseError(t("quiz.schema_bad", path=path, id=qid, error=explain(error)))
    seen = set()
    for q in data["questions"]:
        kind = KINDS[q["type"]]
        error = _first_error(jsonschema.Draft202012Validator(kind.schema()), q)
        problem = explain(error) if error is not None else kind.check_consistency(q)
        if problem is None and q["id"] in seen:
            problem = t("quiz.schema_duplicate")
        if problem:
            raise CourseError(t("quiz.schema_bad", path=path, id=q["id"], error=problem))
        seen.add(q["id"])


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


def load_bank(quiz_dir=None):
    """All questions of the course as ``{id: question dict}`` (with ``lesson`` and ``title``)."""
    bank = {}
    for path in sorted(Path(quiz_dir or QUIZ_DIR).glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CourseError(t("quiz.bank_broken", path=path, error=exc)) from None
        validate_file(path, data)
        for q in data["questions"]:
            if q["id"] in bank:
                raise CourseError(t("quiz.schema_bad", path=path, id=q["id"],
                                    error=t("quiz.schema_duplicate_other", other=bank[q["id"]]["lesson"])))
            bank[q["id"]] = shuffled({**q, "lesson": data["lesson"], "title": data.get("title", "")})
    return bank


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
