"""Lesson 10's exercises: the reference passes, the shipped blanks say "not done", typical mistakes fail."""
import json
from pathlib import Path

import numpy as np
import pytest

from course_utils import progress, small_data
from course_utils.exercises import Exercise, load_exercises, reference_function, uses_blank

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "10_wlasny_klasyfikator.ipynb"
BANK = {k: v for k, v in load_exercises().items() if k.startswith("10-")}


def shipped_cells():
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    return {c["metadata"]["exercise"]: "".join(c["source"]) for c in cells if c["metadata"].get("exercise")}


def define(code, name):
    import tensorflow as tf

    from course_utils.exercises import ____  # noqa: F401  (the shipped cells use it)

    scope = {"tf": tf, "np": np, "____": ____}
    exec(compile(code, "<cell>", "exec"), scope)
    return scope[name]


def function_only(code, name):
    """The ``def name(...)`` block of a cell, without the check() line after it."""
    lines, out, inside = code.splitlines(), [], False
    for line in lines:
        if line.startswith(f"def {name}("):
            inside = True
        elif inside and line and not line.startswith((" ", "\t")):
            break
        if inside:
            out.append(line)
    return "\n".join(out)


@pytest.fixture(scope="module")
def model(weights_path):
    import keras

    from course_utils.model import build_model

    keras.utils.set_random_seed(0)
    return build_model(3, 96, str(weights_path))[0]


def args_for(ex_id, model):
    return (small_data.head_of(model),) if ex_id == "10-compile-head" else (model,)


MISTAKES = [
    ("10-compile-head", "def compile_head(head):\n"
     "    head.compile(optimizer=tf.keras.optimizers.Adam(1e-3), loss='categorical_crossentropy')\n"
     "    return head", "categorical_crossentropy oczekuje wektorów one-hot"),
    ("10-compile-head", "def compile_head(head):\n"
     "    head.compile(optimizer=tf.keras.optimizers.Adam(1e-5), loss='sparse_categorical_crossentropy')\n"
     "    return head", "a oczekiwano 0.001"),
    ("10-raw-pixels", "def raw_pixel_model(model):\n    return model", "nadal oczekuje pikseli po preprocess_input"),
    ("10-raw-pixels", "def raw_pixel_model(model):\n"
     "    size = model.input_shape[1]\n    pixels = tf.keras.Input(shape=(size, size, 3))\n"
     "    x = tf.keras.layers.Rescaling(1 / 255)(pixels)\n    return tf.keras.Model(pixels, model(x))",
     "odpowiada inaczej niż oryginał"),
]


def run(ex_id, fn, args, capsys):
    result = Exercise(BANK[ex_id]).check(fn, *args)
    out = capsys.readouterr().out
    return result, [line for line in out.splitlines() if line[:1] in "✓✗💡↪"]


def test_lesson_10_has_two_exercises_with_shipped_cells():
    cells = shipped_cells()
    assert sorted(BANK) == ["10-compile-head", "10-raw-pixels"] == sorted(cells)
    for ex_id, spec in BANK.items():
        fn = define(function_only(cells[ex_id], spec["function"]), spec["function"])
        assert uses_blank(fn) and "____" not in spec["solution"]
        assert f"ex_{'compile' if ex_id == '10-compile-head' else 'raw'}.check({spec['function']}" in cells[ex_id]


@pytest.mark.parametrize("ex_id", sorted(BANK))
def test_reference_passes_and_blanks_say_not_done(ex_id, model, capsys):
    spec = BANK[ex_id]
    import tensorflow as tf

    solution = reference_function(spec, {"tf": tf, "np": np})
    result, lines = run(ex_id, solution, args_for(ex_id, model), capsys)
    assert lines[0].startswith("✓ Dobrze!"), lines
    shipped = define(function_only(shipped_cells()[ex_id], spec["function"]), spec["function"])
    fallback, lines = run(ex_id, shipped, args_for(ex_id, model), capsys)
    assert lines[0].startswith("✗ Jeszcze nie gotowe") and lines[1].startswith("💡 Podpowiedź 1/")
    assert fallback is not None
    assert [(a["id"], a["correct"]) for a in progress.load_answers()] == [(ex_id, True), (ex_id, False)]


@pytest.mark.parametrize("ex_id, code, message", MISTAKES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)])
def test_typical_mistakes_fail_with_their_message(ex_id, code, message, model, capsys):
    fn = define(code, BANK[ex_id]["function"])
    result, lines = run(ex_id, fn, args_for(ex_id, model), capsys)
    assert lines[0].startswith("✗") and message in lines[0], lines
    again, lines = run(ex_id, lambda *a: result, args_for(ex_id, model), capsys)
    assert lines[0].startswith("✓ Dobrze!"), lines
