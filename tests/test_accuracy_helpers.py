"""Every accuracy the course prints agrees with Keras' own ``model.evaluate`` on the same photos.

The cached helpers (``predict_cached``, ``evaluate_cached``) and lesson 09's ``accuracy_on_test``
are compared with ``model.predict`` / ``model.evaluate`` run through the whole network, after a
short head training (so accuracy is far from chance and a wrong ``argmax`` would show) and again
after unfreezing the top of the base (a different cache boundary).
"""
import numpy as np
import pytest


@pytest.fixture(scope="module")
def trained(tmp_path_factory, photos_dir, weights_path):
    import keras

    from course_utils.data import load_flowers
    from course_utils.model import build_model
    from course_utils.training import train_head_cached

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COURSE_HOME", str(tmp_path_factory.mktemp("home")))
        data = load_flowers(photos_dir, image_size=96, per_class=20, seed=7)
        keras.utils.set_random_seed(0)
        model, base = build_model(5, 96, str(weights_path))
        train_head_cached(model, data, epochs=10, learning_rate=1e-3, verbose=0)
        yield model, base, data


def _keras_accuracy(model, data, split):
    """Accuracy and loss from Keras itself: compile with the metric, evaluate the full network."""
    import keras

    model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    loss, accuracy = model.evaluate(data.dataset(split, shuffle=False), verbose=0)
    return accuracy, loss


@pytest.mark.parametrize("split", ["val", "test"])
def test_evaluate_cached_matches_model_evaluate(trained, split):
    from course_utils.training import evaluate_cached, predict_cached

    model, base, data = trained
    accuracy, loss = _keras_accuracy(model, data, split)
    assert accuracy >= 0.4  # twice chance: the head learned, so argmax and argmin differ
    result = evaluate_cached(model, data, split, base=base)
    assert result["n"] == len(data.split(split)[1])
    assert result["accuracy"] == pytest.approx(accuracy, abs=1e-6)
    assert result["loss"] == pytest.approx(loss, rel=1e-3)
    full = model.predict(data.dataset(split, shuffle=False), verbose=0)
    np.testing.assert_allclose(predict_cached(model, data, split, base=base), full, atol=1e-4)


def test_accuracy_on_test_matches_model_evaluate(trained):
    from course_utils.experiments import accuracy_on_test

    model, _, data = trained
    accuracy, _ = _keras_accuracy(model, data, "test")
    assert accuracy_on_test(model, data) == pytest.approx(accuracy, abs=1e-6)


def test_evaluate_cached_after_unfreezing_matches_model_evaluate(trained):
    from course_utils.model import freeze, unfreeze_last
    from course_utils.training import evaluate_cached

    model, base, data = trained
    unfreeze_last(base, 20)
    try:
        accuracy, loss = _keras_accuracy(model, data, "test")
        result = evaluate_cached(model, data, "test", base=base)
    finally:
        freeze(base)
    assert result["accuracy"] == pytest.approx(accuracy, abs=1e-6)
    assert result["loss"] == pytest.approx(loss, rel=1e-3)
