"""Every quiz file under assets/quizzes is valid, and notebooks use every question.

Notebooks must call questions with a literal id: ``quiz("00-order")`` or
``code_check("02-frozen-base")`` (double or single quotes).
"""
import copy
import inspect
import json
import re
from pathlib import Path

import pytest

from course_utils.checks import CHECKERS
from course_utils.quiz import QUIZ_DIR, TYPES

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
QUIZ_FILES = sorted(QUIZ_DIR.glob("*.json"))
CALL_RE = re.compile(r"""\b(?:quiz|code_check)\(\s*(["'])([^"'\\]+)\1\s*\)""")
ANY_CALL_RE = re.compile(r"""(?<![\w.])(?:quiz|code_check)\(""")
LESSON_RE = re.compile(r"^\d{2}_[a-z0-9_]+$")
ID_RE = re.compile(r"^(\d{2})-[a-z0-9]+(?:-[a-z0-9]+)*$")
KEYS = {"id", "type", "prompt", "options", "answer", "tolerance", "checker", "params",
        "explanation", "hints", "solution", "keep_order"}


def _text(value):
    """True for a non-empty string."""
    return isinstance(value, str) and value.strip() != ""


def _index(value, n):
    """True for a valid 0-based option index."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < n


def _answer_problems(q):
    """Problems of the type-specific fields of one question."""
    kind, answer, options = q.get("type"), q.get("answer"), q.get("options")
    if kind in ("single", "multiple"):
        if not (isinstance(options, list) and len(options) >= 2 and all(map(_text, options))
                and len(set(options)) == len(options)):
            return ["options must be >= 2 distinct non-empty strings"]
        if kind == "single" and not _index(answer, len(options)):
            return [f"answer {answer!r} is not an option index 0..{len(options) - 1}"]
        if kind == "multiple" and not (isinstance(answer, list) and answer
                                       and all(_index(a, len(options)) for a in answer)
                                       and len(set(answer)) == len(answer)):
            return [f"answer {answer!r} must be a non-empty list of distinct option indices"]
        if "keep_order" in q and not isinstance(q["keep_order"], bool):
            return ["keep_order must be true or false"]
        return []
    if options is not None:
        return [f"type {kind} takes no options"]
    if kind == "truefalse" and not isinstance(answer, bool):
        return ["truefalse answer must be true or false"]
    if kind == "numeric":
        number = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)  # noqa: E731
        if not number(answer):
            return ["numeric answer must be a number"]
        if "tolerance" in q and not (number(q["tolerance"]) and q["tolerance"] >= 0):
            return ["tolerance must be a number >= 0"]
    if kind == "code":
        return _code_problems(q)
    return []


def _code_problems(q):
    """Problems of a code question: checker exists, params fit it, solution given."""
    if q.get("checker") not in CHECKERS:
        return [f"unknown checker {q.get('checker')!r}; known: {sorted(CHECKERS)}"]
    params = q.get("params", {})
    try:
        inspect.signature(CHECKERS[q["checker"]]).bind(None, **params)
    except TypeError as exc:
        return [f"params {params!r} do not fit checker {q['checker']}: {exc}"]
    return [] if _text(q.get("solution")) else ["code question needs a solution"]


def problems(data, filename):
    """Everything wrong with one quiz file, as a list of short English strings."""
    if not isinstance(data, dict) or not _text(data.get("lesson")):
        return ["top level must be an object with a 'lesson'"]
    lesson = data["lesson"]
    found = [] if LESSON_RE.match(lesson) else [f"lesson {lesson!r} must look like 00_start"]
    if filename != f"{lesson}.json":
        found.append(f"file must be named {lesson}.json")
    if not _text(data.get("title")):
        found.append("title missing")
    questions = data.get("questions")
    if not isinstance(questions, list) or not questions:
        return found + ["questions must be a non-empty list"]
    for q in questions:
        qid = q.get("id") if isinstance(q, dict) else None
        where = f"question {qid!r}: "
        if not isinstance(q, dict):
            found.append("every question must be an object")
            continue
        match = ID_RE.match(qid) if isinstance(qid, str) else None
        if not match or match.group(1) != lesson[:2]:
            found.append(where + f"id must look like {lesson[:2]}-some-slug")
        if q.get("type") not in TYPES:
            found.append(where + f"type must be one of {TYPES}")
        if set(q) - KEYS:
            found.append(where + f"unknown keys {sorted(set(q) - KEYS)}")
        for key in ("prompt", "explanation"):
            if not _text(q.get(key)):
                found.append(where + f"{key} missing or empty")
        hints = q.get("hints")
        if not (isinstance(hints, list) and hints and all(map(_text, hints))):
            found.append(where + "hints must be a non-empty list of strings")
        found += [where + p for p in _answer_problems(q)]
    return found


def load(path):
    """A quiz file's JSON."""
    return json.loads(path.read_text(encoding="utf-8"))


def notebook_calls(folder):
    """``{notebook name: [question ids]}`` for the literal quiz/code_check calls in code cells."""
    calls = {}
    for path in sorted(Path(folder).glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        source = "\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                           for c in cells if c["cell_type"] == "code")
        ids = [m.group(2) for m in CALL_RE.finditer(source)]
        dynamic = len(ANY_CALL_RE.findall(source)) - len(ids)
        calls[path.name] = ids + ["<non-literal id>"] * dynamic
    return calls


def all_ids():
    """Every question id of the course, in file order."""
    return [q["id"] for path in QUIZ_FILES for q in load(path)["questions"]]


def test_there_are_quiz_files():
    assert QUIZ_FILES and QUIZ_DIR.joinpath("00_start.json") in QUIZ_FILES


@pytest.mark.parametrize("path", QUIZ_FILES, ids=lambda p: p.name)
def test_quiz_file_is_valid(path):
    assert problems(load(path), path.name) == []


def test_question_ids_are_unique_across_the_course():
    ids = all_ids()
    assert sorted({i for i in ids if ids.count(i) > 1}) == []


def test_every_notebook_call_points_at_an_existing_question():
    known = set(all_ids())
    bad = {nb: [i for i in ids if i not in known] for nb, ids in notebook_calls(NOTEBOOKS).items()}
    assert {nb: ids for nb, ids in bad.items() if ids} == {}


def test_every_question_is_used_by_some_notebook():
    used = {i for ids in notebook_calls(NOTEBOOKS).values() for i in ids}
    unused = [i for i in all_ids() if i not in used]
    assert unused == [], f"add quiz(\"<id>\") or code_check(\"<id>\") to a notebook for: {unused}"


# --- the validator and the scanner themselves can fail -------------------------

GOOD = {"lesson": "03_fine_tuning", "title": "Fine-tuning", "questions": [
    {"id": "03-lr", "type": "numeric", "prompt": "p", "answer": 1e-5, "tolerance": 0,
     "explanation": "e", "hints": ["h"]},
    {"id": "03-unfreeze", "type": "code", "prompt": "p", "checker": "last_n_trainable",
     "params": {"n": 20}, "explanation": "e", "hints": ["h"], "solution": "unfreeze_last(base, 20)"},
    {"id": "03-pick", "type": "multiple", "prompt": "p", "options": ["a", "b"], "answer": [1],
     "explanation": "e", "hints": ["h"]}]}


def test_validator_accepts_a_good_file():
    assert problems(GOOD, "03_fine_tuning.json") == []


@pytest.mark.parametrize("change, expected", [
    (lambda d: d["questions"][0].update(id="02-lr"), "id must look like 03-"),
    (lambda d: d["questions"][0].update(type="essay"), "type must be one of"),
    (lambda d: d["questions"][0].update(explanation=" "), "explanation missing"),
    (lambda d: d["questions"][0].pop("hints"), "hints must be"),
    (lambda d: d["questions"][0].update(tolerance=-1), "tolerance"),
    (lambda d: d["questions"][1].update(checker="frozen_bse"), "unknown checker"),
    (lambda d: d["questions"][1].update(params={"depth": 20}), "do not fit checker"),
    (lambda d: d["questions"][2].update(answer=[2]), "option indices"),
    (lambda d: d["questions"][2].update(answer=[]), "option indices"),
    (lambda d: d["questions"][2].update(type="single", answer=True), "not an option index"),
    (lambda d: d["questions"][2].update(type="truefalse"), "takes no options"),
    (lambda d: d["questions"][2].update(keep_order="yes"), "keep_order must be"),
    (lambda d: d.update(lesson="fine_tuning"), "must look like 00_start"),
])
def test_validator_catches_mistakes(change, expected):
    data = copy.deepcopy(GOOD)
    change(data)
    assert any(expected in p for p in problems(data, f"{data['lesson']}.json"))


def test_scanner_finds_calls_and_non_literal_ids(tmp_path):
    cells = [{"cell_type": "code", "source": ['quiz("00-order")\n', "x = 1"]},
             {"cell_type": "markdown", "source": 'quiz("00-in-markdown")'},
             {"cell_type": "code", "source": "code_check('02-frozen-base').check(base)\nquiz(name)"}]
    (tmp_path / "00_start.ipynb").write_text(json.dumps({"cells": cells}), encoding="utf-8")
    assert notebook_calls(tmp_path) == {
        "00_start.ipynb": ["00-order", "02-frozen-base", "<non-literal id>"]}
