"""Code checkers: a known-good object passes, a known-bad one fails, wrong kinds get one line."""
import keras
import pytest

from course_utils import checks
from course_utils.checks import run_check
from course_utils.messages import t


@pytest.fixture(autouse=True)
def private_progress(tmp_path, monkeypatch):
    """A private progress file (the checkers themselves never write it)."""
    monkeypatch.setenv("COURSE_PROGRESS_FILE", str(tmp_path / "progress.json"))


def tiny(*layers, inputs=8):
    """A small Sequential model with a known input size."""
    return keras.Sequential([keras.Input((inputs,)), *layers])


def stack():
    """Dense, BN, Dense, Dense, BN, Dense: six layers for unfreezing tests."""
    return tiny(keras.layers.Dense(4, name="d0"), keras.layers.BatchNormalization(name="bn1"),
                keras.layers.Dense(4, name="d2"), keras.layers.Dense(4, name="d3"),
                keras.layers.BatchNormalization(name="bn4"), keras.layers.Dense(4, name="d5"))


def unfreeze(model, n, bn_trainable=False):
    """Make the last n layers trainable (BN frozen unless asked)."""
    model.trainable = True
    for i, layer in enumerate(model.layers):
        layer.trainable = i >= len(model.layers) - n
        if isinstance(layer, keras.layers.BatchNormalization) and not bn_trainable:
            layer.trainable = False
    return model


def test_all_checkers_are_registered():
    assert set(checks.CHECKERS) >= {"frozen_base", "last_n_trainable", "recompiled_lr",
                                    "head_outputs", "head_params"}


@pytest.mark.parametrize("name, params", [
    ("frozen_base", {}), ("last_n_trainable", {"n": 2}), ("recompiled_lr", {"lr": 1e-5}),
    ("head_outputs", {"classes": 5}), ("head_params", {"expected": 6405})])
@pytest.mark.parametrize("obj", [[1, 2, 3], "model", None])
def test_wrong_kind_of_object_is_one_polish_line(name, params, obj):
    ok, message = run_check(name, obj, **params)
    assert ok is False
    assert message.startswith("Oczekiwano modelu Keras (keras.Model)") and type(obj).__name__ in message
    assert "\n" not in message


def test_frozen_base():
    model = tiny(keras.layers.Dense(3), keras.layers.Dense(2))
    ok, message = run_check("frozen_base", model)
    assert not ok and "base_model.trainable = False" in message
    model.trainable = False
    assert run_check("frozen_base", model)[0]
    per_layer = tiny(keras.layers.Dense(3), keras.layers.Dense(2))
    for layer in per_layer.layers:
        layer.trainable = False
    assert run_check("frozen_base", per_layer)[0]
    per_layer.layers[1].trainable = True
    ok, message = run_check("frozen_base", per_layer)
    assert not ok and per_layer.layers[1].name in message


def test_last_n_trainable_accepts_frozen_or_trainable_batchnorm():
    ok, message = run_check("last_n_trainable", unfreeze(stack(), 3), n=3)
    assert ok and message == t("check.last_n_ok", n=3, weights=2 * (4 * 4 + 4))  # "ostatnie 3 warstwy bazy (40 wag"
    assert run_check("last_n_trainable", unfreeze(stack(), 3, bn_trainable=True), n=3)[0]


@pytest.mark.parametrize("make, expected", [
    (lambda: unfreeze(stack(), 4), "Warstwa d2 (nr 2) jest trenowalna"),
    (lambda: unfreeze(stack(), 2), "Warstwa d3 (nr 3) jest zamrożona"),
    (lambda: stack(), "Warstwa d0 (nr 0) jest trenowalna"),
])
def test_last_n_trainable_rejects_wrong_depth(make, expected):
    ok, message = run_check("last_n_trainable", make(), n=3)
    assert not ok and message.startswith(expected)


def test_last_n_trainable_fails_when_nothing_in_the_base_trains():
    model = stack()
    for layer in model.layers:
        layer.trainable = False
    ok, message = run_check("last_n_trainable", model, n=3)
    assert not ok and message.startswith("W bazie nie uczy się żadna warstwa")


def test_last_n_trainable_judges_by_the_model_that_trains():
    """With the model given, what counts is model.trainable_weights (flat or nested base)."""
    base = stack()
    base.trainable = False
    for layer in base.layers[-3:]:
        layer.trainable = True
    nested = keras.Sequential([keras.Input((8,)), base, keras.layers.Dense(2)])
    flat = keras.Model(base.inputs, keras.layers.Dense(2)(base.outputs[0]))
    for model in (flat, nested):
        expected = {id(w) for layer in base.layers[-3:] for w in layer.trainable_weights}
        assert expected <= {id(w) for w in model.trainable_weights}
        assert run_check("last_n_trainable", base, n=3, model=model)[0]
    nested.trainable = False  # the whole model frozen: nothing of the base trains
    ok, message = run_check("last_n_trainable", base, n=3, model=nested)
    assert not ok and message.startswith("W bazie nie uczy się żadna warstwa")


def test_the_source_loop_verbatim_passes_on_mobilenetv2(weights_path):
    """Issue 14: base_model.trainable stays False (lesson 03), the source's loop alone unfreezes."""
    from course_utils.model import build_model
    model, base_model = build_model(5, 96, str(weights_path))
    assert base_model.trainable is False and len(model.layers) == len(base_model.layers) + 2
    fine_tune_at = len(base_model.layers) - 20
    for layer in base_model.layers[:fine_tune_at]:
        layer.trainable = False
    for layer in base_model.layers[fine_tune_at:]:
        layer.trainable = True
    trainable = sum(int(w.numpy().size) for w in model.trainable_weights)
    assert trainable == 1212485  # the count: 1,206,080 in the last 20 layers + 6,405
    for kwargs in ({}, {"model": model}):
        ok, message = run_check("last_n_trainable", base_model, n=20, **kwargs)
        assert ok, message
        assert "1 206 080 wag" in message


def test_last_n_trainable_accepts_the_course_helper_on_mobilenetv2():
    from course_utils.model import unfreeze_last
    base = keras.applications.MobileNetV2(input_shape=(96, 96, 3), include_top=False, weights=None)
    base.trainable = False
    assert not run_check("last_n_trainable", base, n=20)[0]
    unfreeze_last(base, 20)
    assert run_check("last_n_trainable", base, n=20)[0]
    assert not run_check("last_n_trainable", base, n=30)[0]


def test_recompiled_lr():
    model = tiny(keras.layers.Dense(2))
    ok, message = run_check("recompiled_lr", model, lr=1e-5)
    assert not ok and "nie jest skompilowany" in message
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    ok, message = run_check("recompiled_lr", model, lr=1e-5)
    assert not ok and "0.001" in message and "1e-05" in message
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-5), loss="mse")
    assert run_check("recompiled_lr", model, lr=1e-5)[0]
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=1.00001e-5), loss="mse")
    assert not run_check("recompiled_lr", model, lr=1e-5)[0]


def test_head_outputs():
    assert run_check("head_outputs", tiny(keras.layers.Dense(5, activation="softmax")), classes=5)[0]
    assert run_check("head_outputs", tiny(keras.layers.Dense(5), keras.layers.Softmax()), classes=5)[0]
    ok, message = run_check("head_outputs", tiny(keras.layers.Dense(4, activation="softmax")),
                            classes=5)
    assert not ok and "daje 4 wartości" in message
    ok, message = run_check("head_outputs", tiny(keras.layers.Dense(5)), classes=5)
    assert not ok and "aktywację linear" in message


def test_head_outputs_on_a_model_that_is_not_built():
    ok, message = run_check("head_outputs", keras.Sequential([keras.layers.Dense(5)]), classes=5)
    assert not ok and "nie jest jeszcze zbudowany" in message


def test_head_params():
    base = tiny(keras.layers.Dense(1280), inputs=4)
    base.trainable = False
    model = keras.Sequential([base, keras.layers.Dense(5, activation="softmax")])
    ok, message = run_check("head_params", model, expected=6405)
    assert ok and "6 405" in message
    base.trainable = True
    ok, message = run_check("head_params", model, expected=6405)
    assert not ok and f"{4 * 1280 + 1280 + 6405:,}".replace(",", " ") in message
