"""The glossary: its shape, its display, and one term per concept in every learner-facing text.

Learner-facing text is the markdown of the notebooks, the strings and comments of their
code cells, every string of the quiz and exercise files and every Polish message. English
identifiers are never scanned: only string literals and comments of code cells are.
"""
import io
import json
import re
import string
import tokenize

import pytest
from conftest import REPO

from course_utils import glossary
from course_utils.messages import PL, number, t

REQUIRED_CONCEPTS = {
    "pretrained-model", "feature-extraction", "fine-tuning", "freezing", "head", "feature-map",
    "batch", "epoch", "learning-rate", "overfitting", "split", "batch-normalization",
    "inference", "augmentation", "accuracy", "convolution",
}


def code_strings(source):
    """The string literals and comments of a code cell (not its identifiers)."""
    kinds = {tokenize.STRING, tokenize.COMMENT}
    kinds |= {tokenize.FSTRING_MIDDLE} if hasattr(tokenize, "FSTRING_MIDDLE") else set()
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return [source]  # not valid Python (e.g. a cell magic): scan it whole
    return [tok.string for tok in tokens if tok.type in kinds]


def json_strings(node, where=""):
    """``(location, text)`` for every string value in a JSON document, located by the nearest id."""
    if isinstance(node, dict):
        where = str(node.get("id", where))
        for key, value in node.items():
            yield from json_strings(value, f"{where}" if where else key)
    elif isinstance(node, list):
        for item in node:
            yield from json_strings(item, where)
    elif isinstance(node, str):
        yield where, node


def learner_texts(root):
    """``(file, location, text)`` for every learner-facing text under ``root``."""
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        rel = path.relative_to(root).as_posix()
        for i, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
            source = "".join(cell["source"])
            texts = code_strings(source) if cell["cell_type"] == "code" else [source]
            for text in texts:
                yield rel, f"cell {i}", text
    for folder in ("quizzes", "exercises"):
        for path in sorted((root / "assets" / folder).glob("*.json")):
            rel = path.relative_to(root).as_posix()
            for where, text in json_strings(json.loads(path.read_text(encoding="utf-8"))):
                yield rel, where, text


def violations(root, messages):
    """Every banned variant in the learner-facing texts: ``file | location | term: word``."""
    found = []
    items = list(learner_texts(root))
    items += [("course_utils/messages.py", key, text) for key, text in messages.items()]
    for rel, where, text in items:
        for term_id, word in glossary.find_banned(text, source=rel):
            found.append(f"{rel} | {where} | {term_id}: {word!r}")
    return found


def test_glossary_has_every_key_concept_with_its_fields():
    terms = glossary.load_glossary()
    ids = [term["id"] for term in terms]
    assert len(ids) == len(set(ids))
    assert REQUIRED_CONCEPTS <= set(ids)
    for term in terms:
        assert term["pl"].strip() and term["en"].strip() and term["meaning"].strip(), term["id"]
        assert "\n" not in term["meaning"]
        for regex in term["banned"]:
            re.compile(regex)
            # A banned variant never bans the term the course uses for the same concept.
            assert not glossary.find_banned(term["pl"], terms=[term]), (term["id"], regex)


def test_team_decisions_are_in_the_glossary():
    by_id = {term["id"]: term for term in glossary.load_glossary()}
    expected = {  # concept: (a word the course uses, a variant it bans)
        "batch": ("paczka zdjęć", "małe partie zdjęć"),
        "accuracy": ("dokładność", "Trafność modelu"),
        "convolution": ("warstwa konwolucyjna", "w splocie"),
        "inference": ("tryb inferencji", "tryb wnioskowania"),
        "fine-tuning": ("model po fine-tuningu", "Dostrajanie bazy"),
        "learning-rate": ("learning rate", "współczynnik uczenia"),
    }
    for concept, (good, bad) in expected.items():
        term = by_id[concept]
        assert not glossary.find_banned(good, terms=[term]), concept
        assert glossary.find_banned(bad, terms=[term]), concept


def test_banned_variants_are_anchored_at_a_word_start_and_ignore_case():
    batch = [term for term in glossary.load_glossary() if term["id"] == "batch"]
    assert glossary.find_banned("PARTIE zdjęć", terms=batch) == [("batch", "PARTIE")]
    # "partie" inside another word is not the banned word
    assert glossary.find_banned("departie; apartiach", terms=batch) == []


def test_allowed_in_exempts_only_the_named_file():
    text = "Learning rate, czyli współczynnik uczenia"
    assert glossary.find_banned(text, source="notebooks/05_ekstrakcja_cech.ipynb")
    assert not glossary.find_banned(text, source="notebooks/00_start.ipynb")


def test_the_check_catches_a_variant_planted_in_each_kind_of_file(tmp_path):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "assets" / "quizzes").mkdir(parents=True)
    (tmp_path / "assets" / "exercises").mkdir(parents=True)
    nb = {"cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["Sieć widzi ", "partię zdjęć."]},
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
         "source": ["trafnosc_partii = 1  # dostrajanie\n", "print('tryb wnioskowania')"]},
    ]}
    (tmp_path / "notebooks" / "99_x.ipynb").write_text(json.dumps(nb, ensure_ascii=False), encoding="utf-8")
    quiz = {"questions": [{"id": "99-q", "prompt": "Co robi splot?", "explanation": "Nic."}]}
    (tmp_path / "assets" / "quizzes" / "99_x.json").write_text(json.dumps(quiz, ensure_ascii=False), encoding="utf-8")
    exercises = {"exercises": [{"id": "99-e", "hints": ["Sprawdź trafność."]}]}
    (tmp_path / "assets" / "exercises" / "99_x.json").write_text(json.dumps(exercises, ensure_ascii=False),
                                                                 encoding="utf-8")
    found = violations(tmp_path, {"x.key": "Początek dostrajania"})
    assert found == [
        "notebooks/99_x.ipynb | cell 0 | batch: 'partię'",
        "notebooks/99_x.ipynb | cell 1 | fine-tuning: 'dostrajanie'",
        "notebooks/99_x.ipynb | cell 1 | inference: 'wnioskowania'",
        "assets/quizzes/99_x.json | 99-q | convolution: 'splot'",
        "assets/exercises/99_x.json | 99-e | accuracy: 'trafność'",
        "course_utils/messages.py | x.key | fine-tuning: 'dostrajania'",
    ]  # the identifier trafnosc_partii in code is not learner text


def test_no_banned_variant_in_lessons_quizzes_exercises_or_messages():
    found = violations(REPO, PL)
    assert not found, f"{len(found)} banned variants (assets/glossary.json):\n" + "\n".join(found)


def test_show_glossary_renders_every_term_as_html_and_text():
    shown = glossary.show_glossary()
    html, text = shown._repr_html_(), repr(shown)
    for term in glossary.load_glossary():
        assert term["en"] in html and term["meaning"] in text
    assert html.count("<tr>") == len(glossary.load_glossary()) + 1
    assert "współczynnik uczenia" in text  # the one place that gives the Polish gloss


def test_every_plural_field_in_the_messages_has_three_forms():
    for key, text in PL.items():
        for _, _field, spec, _ in string.Formatter().parse(text):
            if spec and spec.startswith("plural:"):
                assert len(spec[len("plural:"):].split("|")) == 3, key


@pytest.mark.parametrize("n", [1, 3, 5, 22])
def test_counted_nouns_in_messages_agree_with_the_count(n):
    photos = {1: "1 zdjęcie", 3: "3 zdjęcia", 5: "5 zdjęć", 22: "22 zdjęcia"}[n]
    assert t("cli.test_accuracy", acc="90%", n=n).endswith(f"({photos}).")
    seeds = {1: "1 ziarno", 3: "3 ziarna", 5: "5 ziaren", 22: "22 ziarna"}[n]
    plan = t("experiments.plan", mode="x", size=96, race=1, ft=1, sizes="5, 10", seeds=n,
             lrs="1e-3", lr_train=5, lr_epochs=1, digits=5)
    assert f"× {seeds};" in plan
    epochs = {1: "po 1 epoce", 3: "po 3 epokach", 5: "po 5 epokach", 22: "po 22 epokach"}[n]
    assert epochs in t("cli.fe_done", acc="90%", epochs=n, seconds=1.0)


def test_numbers_have_a_space_between_thousands():
    assert [number(n) for n in (7, 318, 6405, 1212485)] == ["7", "318", "6 405", "1 212 485"]
