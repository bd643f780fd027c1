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
        "explanation", "hints", "solution", "keep_order", "model_answer", "key_points"}
MIN_KEY_POINTS = 3


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
    if kind == "open":
        return _open_problems(q)
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


def _open_problems(q):
    """Problems of an open (recall) question: a model answer and enough key points, no answer key."""
    found = [] if _text(q.get("model_answer")) else ["open question needs a model_answer"]
    points = q.get("key_points")
    if not (isinstance(points, list) and len(points) >= MIN_KEY_POINTS and all(map(_text, points))
            and len(set(points)) == len(points)):
        found.append(f"key_points must be >= {MIN_KEY_POINTS} distinct non-empty strings")
    if "answer" in q:
        found.append("open question takes no answer (the learner ticks the key points)")
    return found


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
        for key in ("prompt",) if q.get("type") == "open" else ("prompt", "explanation"):
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
     "explanation": "e", "hints": ["h"]},
    {"id": "03-recall", "type": "open", "prompt": "p", "model_answer": "m",
     "key_points": ["k1", "k2", "k3"], "hints": ["h"]}]}


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
    (lambda d: d["questions"][3].update(key_points=["k1", "k2"]), "key_points must be"),
    (lambda d: d["questions"][3].update(key_points=["k1", "k1", "k2"]), "key_points must be"),
    (lambda d: d["questions"][3].pop("model_answer"), "needs a model_answer"),
    (lambda d: d["questions"][3].update(answer=True), "takes no answer"),
    (lambda d: d["questions"][3].update(options=["a", "b"]), "takes no options"),
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


# --- no giveaways (issue 13, point 6) -------------------------------------------------------

MAX_LONGEST_RIGHT = 0.40  # share of single-choice questions whose right option is the longest
NUM = r"(?:jedn[aąoey]\w*|dw[aie]|dwóch|trzy|trzech|czter\w*|pięć|pięciu|sześć|\d+)"
COUNT_GIVEAWAY = re.compile("|".join([
    rf"\b{NUM}\b(?:\s+\S+){{0,3}}?\s+(?:poprawn|prawidłow|prawdziw|właściw)\w*",
    rf"\b(?:poprawn|prawidłow|prawdziw|właściw)\w*(?:\s+\S+){{0,3}}?\s+{NUM}\b",
    rf"\b{NUM}\s+(?:odpowied\w*|zdani[ae]|zdań|opcj[eai]|wariant\w*)\s+"
    r"(?:są|jest|opisuj\w*|dotycz\w*|mówi\w*|pasuj\w*)",
]), re.IGNORECASE)
POSITION_WORDS = re.compile("|".join([
    r"\b(?:pierwsz|drug|trzec|czwart|piąt|ostatni|przedostatni|górn|doln)\w*"
    r"\s+(?:odpowied|opcj|wariant|możliwoś|pozycj)\w*",
    r"\b(?:odpowied|opcj|wariant)\w*\s+(?:nr\.?\s*|numer\s+)?(?:\d+|[a-e])(?![\w%])",
    r"\b(?:powyższ|poniższ)\w*\s+(?:odpowied|opcj)\w*",
    r"\b(?:odpowied|opcj)\w*\s+(?:na\s+)?(?:górze|dole|początku|końcu)\b",
]), re.IGNORECASE)


def questions_of(paths):
    """Every question of the given quiz files."""
    return [q for path in paths for q in load(path)["questions"]]


def right_is_longest(q):
    """True when the right option of a single-choice question is strictly the longest."""
    lengths = [len(o) for o in q["options"]]
    right = lengths[q["answer"]]
    return all(right > n for i, n in enumerate(lengths) if i != q["answer"])


def longest_right_share(questions):
    """``(count, total)`` of single-choice questions whose right option is strictly the longest."""
    single = [q for q in questions if q.get("type") == "single"]
    return sum(map(right_is_longest, single)), len(single)


def giveaways(questions):
    """``id: text`` for every prompt or hint that tells how many options are right."""
    return [f"{q['id']}: {m.group(0)!r}" for q in questions
            for text in [q.get("prompt", "")] + list(q.get("hints", []))
            for m in [COUNT_GIVEAWAY.search(text)] if m]


def position_refs(questions):
    """``id: words`` for explanations and hints that point at an option by its place (options are shuffled)."""
    return [f"{q['id']}: {m.group(0)!r}" for q in questions
            for text in [q.get("explanation", "")] + list(q.get("hints", []))
            for m in [POSITION_WORDS.search(text)] if m]


def test_right_option_is_rarely_the_longest():
    count, total = longest_right_share(questions_of(QUIZ_FILES))
    assert total >= 30
    assert count / total < MAX_LONGEST_RIGHT, f"{count} of {total} right options are the longest"


def test_no_hint_or_prompt_gives_the_number_of_right_options_away():
    assert giveaways(questions_of(QUIZ_FILES)) == []


def test_no_explanation_or_hint_refers_to_option_positions():
    assert position_refs(questions_of(QUIZ_FILES)) == []


def test_lesson_08_has_an_open_question_for_each_of_p1_to_p6():
    qs = {q["id"]: q for q in load(QUIZ_DIR / "08_pytania_i_odpowiedzi.json")["questions"]}
    for n in range(1, 7):
        q = qs.get(f"08-p{n}-open")
        assert q is not None and q["type"] == "open", n
        assert len(q["key_points"]) >= MIN_KEY_POINTS and len(q["model_answer"]) > 200, n
        assert q["prompt"].startswith(f"P{n}"), n


def test_lesson_08_asks_the_open_question_before_the_closed_ones_and_the_explanation():
    cells = json.loads((NOTEBOOKS / "08_pytania_i_odpowiedzi.ipynb").read_text(encoding="utf-8"))["cells"]
    order, section = {}, None
    for cell in cells:
        source = "".join(cell["source"])
        heading = re.match(r"## P(\d) ", source) if cell["cell_type"] == "markdown" else None
        if heading:
            section = int(heading.group(1))
            order[section] = []
        elif section and cell["cell_type"] == "code":
            order[section] += [m.group(2) for m in CALL_RE.finditer(source)]
        elif section and "<details>" in source:
            order[section].append("<explanation>")
    assert sorted(order) == [1, 2, 3, 4, 5, 6]
    for n, items in order.items():
        assert items[0] == f"08-p{n}-open" and items[-1] == "<explanation>", (n, items)
        assert len(items) >= 3, (n, items)  # the open question, a closed one, the explanation


def _single(qid, options, answer):
    return {"id": qid, "type": "single", "options": options, "answer": answer}


def test_longest_right_share_counts_only_a_strictly_longest_right_option():
    qs = [_single("a", ["long right one", "short"], 0),
          _single("b", ["same", "same"[::-1]], 0),
          _single("c", ["x", "longer wrong"], 0),
          {"id": "d", "type": "multiple", "options": ["long right one", "s"], "answer": [0]}]
    assert longest_right_share(qs) == (1, 3)


@pytest.mark.parametrize("text", [
    "Trzy odpowiedzi są poprawne.", "Poprawne są dwie odpowiedzi: jedna o danych.",
    "Cztery odpowiedzi są prawidłowe", "Trzy zdania opisują fine-tuning, dwa — ekstrakcję cech.",
    "Poprawna jest tylko jedna z nich.", "2 opcje są właściwe"])
def test_count_giveaway_pattern_catches_counts(text):
    assert giveaways([{"id": "x", "prompt": "p", "hints": [text]}]) != []


@pytest.mark.parametrize("text", [
    "Zaznacz wszystkie poprawne odpowiedzi.", "Podziel bok zdjęcia przez 32.",
    "Dla 224 px: 224 / 32 = 7.", "Porównaj, co było trenowalne w lekcji 05, a co w lekcji 06."])
def test_count_giveaway_pattern_leaves_ordinary_text_alone(text):
    assert giveaways([{"id": "x", "prompt": text, "hints": [text]}]) == []


@pytest.mark.parametrize("text", [
    "Pierwsza odpowiedź jest dobra.", "Dlatego opcja 2 odpada.", "Ostatnia opcja jest fałszywa.",
    "Odpowiedź B myli pojęcia.", "Powyższe odpowiedzi mówią o danych.", "odpowiedzi nr 3 i 4"])
def test_position_pattern_catches_positions(text):
    assert position_refs([{"id": "x", "explanation": text, "hints": []}]) != []


@pytest.mark.parametrize("text", [
    "Pierwsza warstwa wykrywa krawędzie.", "Ostatnia epoka trwa tyle samo.",
    "Odpowiedź daje dopiero pomiar: 95% przedziału.", "Wybieramy klasę o największym prawdopodobieństwie."])
def test_position_pattern_leaves_ordinary_text_alone(text):
    assert position_refs([{"id": "x", "explanation": text, "hints": []}]) == []
