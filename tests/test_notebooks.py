"""Every lesson executed in fast mode with nbclient, and what it produces asserted.

Two editions, each in its own course home and in lesson order (06 starts from 05's saved
model, 07 from 06's):

- ``shipped``: the notebooks as they are in the repository, exercises unsolved. Every lesson
  must run to its end; each exercise cell says "not done yet" and the lesson goes on with the
  reference result.
- ``solved``: the teacher's edition (``course_utils.solutions``), up to the first code cell after
  the lesson's last exercise (tests/notebook_runs.py); every exercise check is ✓ and the cell
  that uses the last result runs with the learner's own.

Lessons without exercises are the same in both editions, so they run once (shipped). The
lessons execute in the background (tests/notebook_runs.py: both editions at once, each
lesson in a fresh kernel, started by conftest's ``notebook_runs`` while the other test files
run); each test here waits for its lesson and asserts what it produced. The seconds each
lesson took are printed at the end of the session.
"""
import functools
import json
import math
import re
from pathlib import Path

import pytest
from notebook_runs import CASES, REPO, WITH_EXERCISES, exercise_ids, solved_end


@functools.cache
def unseen_photos(photos_dir, per_class=40):
    """``per_class`` real photos of each class that no split of the fast run uses, decoded once.

    The fast run keeps 20 photos per class (10 validation and 10 test photos in all), too few
    to tell a trained model from chance; these other photos are chosen independently of the
    lesson's own code.
    """
    import numpy as np

    from course_utils.config import get_settings
    from course_utils.data import list_photos, load_flowers, read_photo

    fast = get_settings(fast=True)
    data = load_flowers(source=photos_dir, image_size=fast.image_size, per_class=fast.per_class)
    seen = set(data.names_train) | set(data.names_val) | set(data.names_test)
    _, items, _ = list_photos(photos_dir)
    chosen, counts = [], {}
    for path, c in items:
        if f"{path.parent.name}/{path.name}" not in seen and counts.get(c, 0) < per_class:
            chosen.append((path, c))
            counts[c] = counts.get(c, 0) + 1
    x = np.stack([read_photo(path, fast.image_size) for path, _ in chosen])
    y = np.array([c for _, c in chosen])
    return x, y


def unseen_accuracy(model_path, photos_dir):
    """Accuracy of a model a lesson saved, on the unseen photos (``unseen_photos``)."""
    from course_utils.data import preprocess
    from course_utils.model import load_trained

    x, y = unseen_photos(Path(photos_dir))
    model, _ = load_trained(model_path)
    predicted = model.predict(preprocess(x), verbose=0).argmax(axis=1)
    return float((predicted == y).mean()), len(y)


def text_of(cell):
    """Everything a code cell showed: streams, plain text and Markdown."""
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out["text"])
        for mime in ("text/plain", "text/markdown"):
            if mime in out.get("data", {}):
                parts.append(out["data"][mime])
    return "".join(parts)


def lesson_text(nb):
    return "\n".join(text_of(c) for c in nb.cells if c.cell_type == "code")


def exercise_outputs(nb):
    return {c.metadata["exercise"]: text_of(c) for c in nb.cells
            if c.cell_type == "code" and c.get("metadata", {}).get("exercise")}


def percents(pattern, text):
    return [float(v.replace(",", ".")) for v in re.findall(pattern, text)]


@pytest.mark.parametrize("edition, name", CASES, ids=[f"{e}-{n[:2]}" for e, n in CASES])
def test_lesson_runs_to_the_end_and_produces_its_results(edition, name, notebook_runs):
    ed = notebook_runs[edition]
    nb = ed.result(name)  # the edition ran the earlier lessons first (06 loads 05's saved model)
    text = lesson_text(nb)
    assert "Traceback" not in text
    outputs = exercise_outputs(nb)
    assert sorted(outputs) == sorted(exercise_ids(REPO / "notebooks" / name))
    for ex_id, out in outputs.items():
        if edition == "shipped":
            assert "✗ Jeszcze nie gotowe" in out and "↪ Dalej lekcja użyje wyniku" in out, (ex_id, out)
            assert "✓" not in out, (ex_id, out)
        else:
            assert "✓ Dobrze!" in out and "✗" not in out, (ex_id, out)
    if edition == "shipped":
        check_lesson(name[:2], text, ed)
    else:
        check_solved(name[:2], outputs)


def above_chance(model_path, photos_dir):
    """The saved model beats guessing on 200 unseen photos: the 95% interval's low end > 1/5."""
    from course_utils.experiments import accuracy_interval

    accuracy, n = unseen_accuracy(model_path, photos_dir)
    low, _ = accuracy_interval(accuracy, n)
    assert low > 1 / 5, f"{model_path.name}: {accuracy:.0%} on {n} unseen photos, 95% low end {low:.0%}"


def check_solved(lesson, outputs):
    """What the solved edition's exercise cells print besides ✓ (the learner's own results)."""
    if lesson == "05":
        assert len(percents(r"dokładność walidacyjna na koniec: (\d+)%", outputs["05-fit"])) == 1
    if lesson == "06":
        assert "Uczą się dokładnie ostatnie 20 warstw bazy (1 206 080 wag" in outputs["06-unfreeze"]
        assert "learning rate 1e-05" in outputs["06-recompile"]


def check_lesson(lesson, text, ed):
    """What each lesson must produce as shipped (every exercise's result is the reference)."""
    if lesson == "01":
        assert re.search(r"Baza oddaje tablicę o kształcie: \(1, 3, 3, 1280\)", text)
    if lesson == "03":
        assert re.search(r"Po zamrożeniu .*trainable=0,", text), text
    if lesson == "04":
        assert re.search(r"trenowalne: 6[ ,\u00a0\u202f]?405 ", text), text
        assert "Wektor cech: (None, 1280)" in text
    if lesson == "05":
        assert "Learning rate Adama (domyślny): 0.001\n" in text
        assert len(percents(r"Zbiór testowy \(\d+ zdjęć\): dokładność ([\d.,]+)%", text)) == 1, text
        above_chance(ed.home / "models" / "05_feature_extraction.keras", Path(ed.env["COURSE_DATA_DIR"]))
    if lesson == "06":
        assert re.search(r"Trenowalne parametry całego modelu: 1[ ,\u00a0\u202f]?212[ ,\u00a0\u202f]?485", text), text
        above_chance(ed.home / "models" / "06_fine_tuned.keras", Path(ed.env["COURSE_DATA_DIR"]))
        # the search section: the chosen depth keeps every BatchNormalization frozen, the test split is read once
        assert re.search(r"w tym BatchNormalization: [1-9]\d*, trenowalnych z nich: 0\n", text), text
        assert len(percents(r"Test \(\d+ zdję\w+\): wybrany na walidacji ([\d,]+)%", text)) == 1, text
        # the mirrored copy: training photos doubled, validation and test unchanged, photo n is photo 0 mirrored
        counts = re.search(r"Zdjęcia treningowe: (\d+) → (\d+); walidacyjne: (\d+) → (\d+), testowe: (\d+) → (\d+)\n",
                           text)
        assert counts, text
        n_train, n_mirrored, n_val, n_val_after, n_test, n_test_after = map(int, counts.groups())
        assert (n_mirrored, n_val_after, n_test_after) == (2 * n_train, n_val, n_test), counts.group(0)
        assert f"Zdjęcie nr {n_train} to zdjęcie nr 0 odbite w poziomie: True\n" in text, text
        assert "Odbicia mają etykiety oryginałów: True\n" in text, text
        # CosineDecay(3e-4, 6) printed step by step: half a cosine from 3e-4 down to 0
        for step in range(7):
            rate = 3e-4 * (1 + math.cos(math.pi * step / 6)) / 2
            assert f"Po {step} krokach: learning rate {rate:.2e}\n" in text, text
    if lesson == "07":
        inside = percents(r"Model z preprocessingiem w środku, surowe zdjęcia: dokładność ([\d.,]+)%", text)
        outside = percents(r"Model bez niego, zdjęcia po preprocess_input: +dokładność ([\d.,]+)%", text)
        assert len(inside) == 1 and inside == outside, text


@pytest.mark.parametrize("path", WITH_EXERCISES, ids=[p.name[:2] for p in WITH_EXERCISES])
def test_solved_edition_runs_every_exercise_and_the_cell_that_uses_the_last(path):
    """The solved run stops after the first code cell that follows the last exercise, and only there."""
    cells = json.loads(path.read_text("utf-8"))["cells"]
    end = solved_end(cells)
    exercises = [i for i, c in enumerate(cells) if c.get("metadata", {}).get("exercise")]
    code_between = [i for i in range(exercises[-1] + 1, end - 1) if cells[i]["cell_type"] == "code"]
    assert exercises[-1] < end - 1 and cells[end - 1]["cell_type"] == "code" and not code_between, end
