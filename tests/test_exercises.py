"""Exercises, learntools style: for each one the reference solution passes, the shipped cell
(with its blanks) says "not done yet", and typical mistakes fail with their own message.

Real ImageNet weights and real photos (6 per class, 96 px); the learner's functions come from
the notebooks' exercise cells and the reference solutions from ``assets/exercises/*.json``.
"""
import ast
import json
from pathlib import Path

import numpy as np
import pytest

from course_utils import exercises, progress
from course_utils.backend import import_tensorflow
from course_utils.errors import CourseError
from course_utils.exercises import ____, exercise, load_exercises, reference_function, uses_blank

tf = import_tensorflow()
keras = tf.keras

REPO = Path(__file__).resolve().parents[1]
SIZE = 96
NOT_DONE = "✗ Jeszcze nie gotowe: w kodzie zostały luki ____"


@pytest.fixture
def data(small_photo_dir):
    from course_utils.data import load_flowers
    return load_flowers(source=small_photo_dir, image_size=SIZE, per_class=0, batch_size=8)


def namespace():
    """What a lesson has imported when its exercise cell runs."""
    from course_utils.data import preprocess
    return {"tf": tf, "np": np, "preprocess": preprocess, "____": ____}


def base(weights_path, frozen=True):
    b = keras.applications.MobileNetV2(weights=str(weights_path), include_top=False,
                                       input_shape=(SIZE, SIZE, 3))
    b.trainable = not frozen
    return b


def flowers_model(weights_path):
    from course_utils.model import build_model
    return build_model(5, SIZE, str(weights_path))


def compiled_model(weights_path, lr=1e-3):
    model, b = flowers_model(weights_path)
    model.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.Adam(lr),
                  metrics=["accuracy"])
    return model, b


def define(code, name):
    """The function ``name`` defined by ``code`` (a learner's cell or a mistake)."""
    ns = namespace()
    exec(compile(code, "<cell>", "exec"), ns)
    return ns[name]


def shipped_cells():
    """``{exercise id: source}`` of every exercise cell in the notebooks as shipped."""
    cells = {}
    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        for cell in json.loads(path.read_text("utf-8"))["cells"]:
            ex_id = cell.get("metadata", {}).get("exercise")
            if ex_id:
                cells[ex_id] = "".join(cell["source"])
    return cells


def only_function(source, name):
    """The imports and the one function definition of a cell (not its check call)."""
    tree = ast.parse(source)
    keep = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))
            or (isinstance(n, ast.FunctionDef) and n.name == name)]
    return ast.unparse(ast.Module(body=keep, type_ignores=[]))


# --- per exercise: arguments, and typical mistakes with the message they must get ------------

def args_for(ex_id, weights_path, data):
    if ex_id == "01-photo-features":
        return base(weights_path), data.x_train[0]
    if ex_id == "03-load-base":
        return str(weights_path), SIZE
    if ex_id == "03-freeze":
        return (base(weights_path, frozen=False),)
    if ex_id == "04-pooling":
        return ()
    if ex_id == "04-head":
        b = base(weights_path)
        return b, keras.layers.GlobalAveragePooling2D(name="global_avg_pool")(b.output), 5
    if ex_id == "05-compile":
        return (flowers_model(weights_path)[0],)
    if ex_id == "05-fit":
        return compiled_model(weights_path)[0], data, 1
    if ex_id == "06-unfreeze":
        return flowers_model(weights_path)[1], 20
    if ex_id == "06-recompile":
        return (compiled_model(weights_path)[0],)
    if ex_id == "07-preprocess":
        return (data.x_test,)
    if ex_id == "07-classes":
        probs = np.random.default_rng(1).dirichlet(np.ones(5), size=4).astype("float32")
        return probs, data.class_names
    if ex_id == "07-inside":
        return (flowers_model(weights_path)[0],)
    raise AssertionError(f"no arguments for {ex_id}")


MISTAKES = [
    ("01-photo-features", "def photo_features(base, photo):\n"
     "    return base.predict(photo[None].astype('float32'), verbose=0)",
     "liczby są inne niż cechy zdjęcia po preprocess"),
    ("01-photo-features", "def photo_features(base, photo):\n"
     "    return base.predict(preprocess(photo), verbose=0)",
     "Twój kod zgłosił błąd ValueError"),
    ("03-load-base", "def load_base(weights, size):\n"
     "    return tf.keras.applications.MobileNetV2(weights=weights, include_top=True,\n"
     "                                             input_shape=(size, size, 3))",
     "Z include_top=True MobileNetV2 dostaje klasyfikator 1000 klas ImageNet"),
    ("03-load-base", "def load_base(weights, size):\n"
     "    return tf.keras.applications.MobileNetV2(weights=None, include_top=False,\n"
     "                                             input_shape=(size, size, 3))",
     "nie są wagami z ImageNet"),
    ("03-freeze", "def freeze(base_model):\n    base_model.trainable = True\n    return base_model",
     "Wciąż 104 warstwy są trenowalne (np. Conv1"),
    ("03-freeze", "def freeze(base_model):\n    base_model.layers[0].trainable = False",
     "nic nie zwróciła (None)"),
    ("04-pooling", "def make_pooling():\n    return tf.keras.layers.Flatten()",
     "wektor 11 520 liczb na zdjęcie zamiast 1280: Flatten"),
    ("04-pooling", "def make_pooling():\n    return tf.keras.layers.GlobalMaxPooling2D()",
     "GlobalMaxPooling2D bierze maksimum"),
    ("04-head", "def build_model(base_model, feature_vector, num_classes):\n"
     "    outputs = tf.keras.layers.Dense(num_classes, name='predictions')(feature_vector)\n"
     "    return tf.keras.Model(inputs=base_model.input, outputs=outputs)",
     "Ostatnia warstwa ma aktywację linear, a powinna mieć softmax"),
    ("04-head", "def build_model(base_model, feature_vector, num_classes):\n"
     "    x = tf.keras.layers.Flatten()(base_model.output)\n"
     "    outputs = tf.keras.layers.Dense(num_classes, activation='softmax')(x)\n"
     "    return tf.keras.Model(inputs=base_model.input, outputs=outputs)",
     "Model ma 57 605 trenowalnych parametrów, a oczekiwano 6 405"),
    ("05-compile", "def compile_model(model):\n"
     "    model.compile(loss='sparse_categorical_crossentropy', optimizer=tf.keras.optimizers.Adam(),\n"
     "                  metrics=['accuracy'])\n    return model",
     "sparse_categorical_crossentropy oczekuje numerów klas: użyj categorical_crossentropy"),
    ("05-compile", "def compile_model(model):\n"
     "    model.compile(loss='categorical_crossentropy', optimizer=tf.keras.optimizers.SGD())\n"
     "    return model",
     "Optymalizator to SGD"),
    ("05-fit", "def fit_head(model, data, epochs):\n    return model.fit(data.train, epochs=epochs)",
     "W historii nie ma val_accuracy: podaj validation_data=data.val"),
    ("05-fit", "def fit_head(model, data, epochs):\n"
     "    return model.fit(data.val, epochs=epochs, validation_data=data.val)",
     "a zbiór treningowy daje"),
    ("06-unfreeze", "def unfreeze(base_model, n):\n    return base_model",
     "W bazie nie uczy się żadna warstwa"),
    ("06-unfreeze", "def unfreeze(base_model, n):\n    base_model.trainable = True\n    return base_model",
     "Warstwa Conv1 (nr 1) jest trenowalna, a powinna być zamrożona"),
    ("06-unfreeze", "def unfreeze(base_model, n):\n"
     "    for layer in base_model.layers[-10:]:\n        layer.trainable = True\n    return base_model",
     "jest zamrożona, a należy do ostatnich 20 warstw"),
    ("06-recompile", "def recompile(model):\n"
     "    model.compile(loss='categorical_crossentropy', optimizer=tf.keras.optimizers.Adam(1e-3),\n"
     "                  metrics=['accuracy'])\n    return model",
     "Learning rate optymalizatora to 0.001, a oczekiwano 1e-05"),
    ("07-preprocess", "def prepare(images):\n    return images.astype('float32')",
     "nadal są w skali 0–255: przepuść je przez preprocess_input"),
    ("07-preprocess", "def prepare(images):\n    return images.astype('float32') / 255",
     "a preprocess_input daje x / 127.5 − 1"),
    ("07-classes", "def to_classes(predictions, class_names):\n"
     "    classes = predictions.argmax(axis=0)\n    return classes, [class_names[i] for i in classes]",
     "argmax(axis=1) wybiera klasę w każdym wierszu"),
    ("07-classes", "def to_classes(predictions, class_names):\n"
     "    classes = predictions.argmax(axis=1)\n    return classes, [class_names[0] for i in classes]",
     "Nazwy nie odpowiadają numerom klas"),
    ("07-inside", "def with_preprocessing(model):\n    return model",
     "nadal oczekuje pikseli po preprocess_input"),
    ("07-inside", "def with_preprocessing(model):\n"
     "    inputs = tf.keras.Input(shape=model.input_shape[1:])\n"
     "    x = tf.keras.layers.Rescaling(1 / 255)(inputs)\n"
     "    return tf.keras.Model(inputs, model(x))",
     "odpowiada inaczej niż oryginał po preprocess_input"),
]

BANK = load_exercises()
IDS = sorted(BANK)


def test_every_lesson_from_03_to_07_has_two_exercises_and_one_more_earlier():
    per_lesson = {}
    for spec in BANK.values():
        per_lesson.setdefault(spec["lesson"][:2], []).append(spec["id"])
    assert all(len(per_lesson.get(n, [])) >= 2 for n in ("03", "04", "05", "06", "07"))
    assert per_lesson.get("01") or per_lesson.get("02")
    assert len(BANK) >= 12


def test_every_exercise_has_one_shipped_cell_with_blanks_and_a_mistake_test():
    cells = shipped_cells()
    for ex_id, spec in BANK.items():
        if ex_id.startswith("10-"):
            continue
        assert ex_id in cells, f"{ex_id}: no notebook cell with metadata exercise"
        fn = define(only_function(cells[ex_id], spec["function"]), spec["function"])
        assert uses_blank(fn), f"{ex_id}: the shipped function has no ____"
        assert "____" not in spec["solution"]
        assert f".check({spec['function']}" in cells[ex_id]
        assert any(m[0] == ex_id for m in MISTAKES), f"{ex_id}: no typical mistake tested"


def run(ex_id, fn, args, capsys):
    """check() one function; return (result, printed text)."""
    ex = exercises.Exercise(BANK[ex_id])
    result = ex.check(fn, *args)
    out = capsys.readouterr().out  # without Keras's progress lines from fit
    return result, "".join(line + "\n" for line in out.splitlines() if line[:1] in "✓✗💡↪")


@pytest.mark.parametrize("ex_id", [i for i in IDS if not i.startswith("10-")])
def test_reference_passes_and_shipped_blanks_say_not_done(ex_id, weights_path, data, capsys):
    spec = BANK[ex_id]
    solution = reference_function(spec, namespace())
    result, out = run(ex_id, solution, args_for(ex_id, weights_path, data), capsys)
    assert out.startswith("✓ Dobrze!"), out
    assert result is not None
    shipped = define(only_function(shipped_cells()[ex_id], spec["function"]), spec["function"])
    reference_result, out = run(ex_id, shipped, args_for(ex_id, weights_path, data), capsys)
    first_line, hint_line, reference_line = out.strip().splitlines()
    assert first_line.startswith(NOT_DONE)
    assert hint_line.startswith("💡 Podpowiedź 1/") and spec["hints"][0] in hint_line
    assert reference_line.startswith("↪ Dalej lekcja użyje wyniku rozwiązania wzorcowego")
    assert reference_result is not None
    answers = progress.load_answers()
    assert [(a["id"], a["correct"], a.get("kind")) for a in answers] == [
        (ex_id, True, "exercise"), (ex_id, False, "exercise")]


@pytest.mark.parametrize("ex_id, code, message", MISTAKES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)])
def test_typical_mistake_fails_with_its_message(ex_id, code, message, weights_path, data, capsys):
    fn = define(code, BANK[ex_id]["function"])
    args = args_for(ex_id, weights_path, data)
    result, out = run(ex_id, fn, args, capsys)
    lines = out.strip().splitlines()
    assert lines[0].startswith("✗") and message in lines[0], out
    assert lines[1].startswith("💡 Podpowiedź 1/")
    assert lines[2].startswith("↪")
    # what comes back is the reference solution's result, which passes the check
    again, out = run(ex_id, lambda *a: result, args, capsys)
    assert out.startswith("✓ Dobrze!"), out


def test_the_source_loop_verbatim_passes_without_the_master_switch(weights_path, capsys):
    """Issue 14: the source's loop, with base_model.trainable still False, is right (flat model)."""
    model, base_model = flowers_model(weights_path)
    assert base_model.trainable is False

    def unfreeze(base_model, n):
        fine_tune_at = len(base_model.layers) - 20
        for layer in base_model.layers[:fine_tune_at]:
            layer.trainable = False
        for layer in base_model.layers[fine_tune_at:]:
            layer.trainable = True
        return base_model

    result, out = run("06-unfreeze", unfreeze, (base_model, 20), capsys)
    assert out.startswith("✓ Dobrze! Uczą się dokładnie ostatnie 20 warstw bazy"), out
    assert result is base_model and base_model.trainable is False
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    expected = sum(int(np.prod(w.shape)) for layer in base_model.layers[-20:]
                   for w in layer.trainable_weights) + 1280 * 5 + 5
    assert trainable == expected
    assert f"{expected - 6405:,}".replace(",", " ") in out


# --- the engine itself --------------------------------------------------------------------------

def test_blank_detection_looks_inside_nested_code():
    def plain():
        return 1

    def in_lambda():
        return (lambda x: x + ____)(1)

    def in_comprehension():
        return [____ for _ in range(2)]

    def in_attribute(model):
        return model.____

    assert not uses_blank(plain)
    assert uses_blank(in_lambda) and uses_blank(in_comprehension) and uses_blank(in_attribute)


def test_an_exception_is_one_line_without_traceback(capsys):
    ex = exercises.Exercise(BANK["04-pooling"])

    def make_pooling():
        raise ValueError("first line\nsecond line\nthird")

    result = ex.check(make_pooling)
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "✗ Jeszcze nie. Twój kod zgłosił błąd ValueError: first line"
    assert "Traceback" not in out
    assert isinstance(result, keras.layers.GlobalAveragePooling2D)


def test_not_a_function(capsys):
    result = exercises.Exercise(BANK["04-pooling"]).check(keras.layers.GlobalAveragePooling2D())
    out = capsys.readouterr().out
    assert "check() potrzebuje funkcji" in out.splitlines()[0]
    assert isinstance(result, keras.layers.GlobalAveragePooling2D)


def test_hints_step_by_step_and_solution_are_recorded(capsys):
    ex = exercise("06-recompile")
    shown = capsys.readouterr().out
    assert shown.startswith("✏️ Ćwiczenie 06-recompile:") and BANK["06-recompile"]["prompt"] in shown
    hints = BANK["06-recompile"]["hints"]
    texts = [ex.hint() for _ in range(len(hints) + 1)]
    assert [h.splitlines()[0] for h in texts] == [
        f"💡 Podpowiedź {i + 1}/{len(hints)}: {h}" for i, h in enumerate(hints)] + [
        f"💡 Podpowiedź {len(hints)}/{len(hints)}: {hints[-1]}"]
    assert "ostatnia podpowiedź" in texts[-1]
    code = ex.solution()
    assert code == BANK["06-recompile"]["solution"] and "1e-5" in code
    events = [(e["id"], e["event"]) for e in progress.load_events()]
    assert [e for _, e in events] == ["hint"] * (len(hints) + 1) + ["solution"]
    assert {i for i, _ in events} == {"06-recompile"}
    assert [e for _, e in events] == ["hint"] * (len(hints) + 1) + ["solution"]


def test_unknown_exercise_is_one_polish_line():
    with pytest.raises(CourseError) as err:
        exercise("03-load-bse")
    assert str(err.value) == "Nie ma ćwiczenia 03-load-bse: sprawdź pisownię (podobne: 03-load-base)."


def test_a_broken_exercise_file_names_the_file(tmp_path):
    (tmp_path / "x.json").write_text('{"lesson": "x", "exercises": [{"id": "x-1", "kind": "head"}]}')
    with pytest.raises(CourseError) as err:
        load_exercises(tmp_path)
    assert "x-1" in str(err.value) and "x.json" in str(err.value) and "prompt" in str(err.value)


# --- the teacher's solved edition -----------------------------------------------------------------

def cli(*args):
    import subprocess
    import sys
    return subprocess.run([sys.executable, "-m", "course_utils", *args], capture_output=True,
                          text=True, cwd=REPO)


def test_solved_edition_replaces_exactly_the_exercise_cells(tmp_path):
    lessons = sorted((REPO / "notebooks").glob("0[1-7]_*.ipynb"))
    done = cli("solutions", *map(str, lessons), "--out", str(tmp_path / "solved"))
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.strip().splitlines()) == len(lessons)
    solved_ids = []
    for lesson in lessons:
        shipped = json.loads(lesson.read_text("utf-8"))["cells"]
        solved = json.loads((tmp_path / "solved" / lesson.name).read_text("utf-8"))["cells"]
        assert len(solved) == len(shipped)
        for before, after in zip(shipped, solved):
            ex_id = before.get("metadata", {}).get("exercise")
            if ex_id:
                solved_ids.append(ex_id)
                assert "".join(after["source"]) == BANK[ex_id]["solution"]
                assert "____" not in "".join(after["source"]) and "____" in "".join(before["source"])
                assert after["outputs"] == [] and after["execution_count"] is None
            else:
                assert after == before
    assert sorted(solved_ids) == sorted(i for i in BANK if not i.startswith("10-"))


def test_solutions_command_errors_are_one_polish_line(tmp_path):
    missing = cli("solutions", "notebooks/99_nie_ma.ipynb", "--out", str(tmp_path))
    assert missing.returncode == 2
    assert missing.stderr.strip() == "❌ Nie ma notatnika notebooks/99_nie_ma.ipynb: podaj ścieżkę do pliku .ipynb."
    bad = tmp_path / "x.ipynb"
    bad.write_text(json.dumps({"cells": [{"cell_type": "code", "metadata": {"exercise": "03-nope"},
                                          "source": "x = ____", "outputs": [], "execution_count": None}],
                               "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    unknown = cli("solutions", str(bad), "--out", str(tmp_path / "out"))
    assert unknown.returncode == 2 and len(unknown.stderr.strip().splitlines()) == 1
    assert "03-nope" in unknown.stderr and "x.ipynb" in unknown.stderr
    assert not (tmp_path / "out").exists()
