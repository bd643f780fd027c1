"""The shared argument checks (course_utils.validate) and the library-backed helpers around them."""
import keras
import numpy as np
import pytest

from course_utils import plots
from course_utils.errors import CourseError
from course_utils.messages import t
from course_utils.validate import int_at_least, is_int, keras_model


@pytest.mark.parametrize("value, expected", [
    (3, True), (0, True), (-2, True), (np.int64(5), True), (np.uint8(1), True),
    (True, False), (np.bool_(True), False), (2.0, False), ("3", False), (None, False), (np.float32(1), False),
])
def test_is_int_accepts_whole_numbers_only(value, expected):
    assert is_int(value) is expected


def test_int_at_least_returns_a_python_int_or_the_given_message():
    value = int_at_least(np.int32(7), 1, "plots.bad_n", max=9)
    assert value == 7 and type(value) is int
    assert int_at_least(0, 0, "plots.bad_k") == 0
    for bad in (0, -1, True, 2.5, "4"):
        with pytest.raises(CourseError) as info:
            int_at_least(bad, 1, "plots.bad_n", max=9)
        assert str(info.value) == t("plots.bad_n", value=bad, max=9)


def test_keras_model_passes_models_through_and_names_the_wrong_type():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    assert keras_model(model) is model
    for bad, kind in (([1, 2], "list"), (None, "NoneType"), (keras.layers.Dense(2), "Dense")):
        with pytest.raises(CourseError) as info:
            keras_model(bad)
        assert str(info.value) == t("model.not_a_model", kind=kind)


def test_confusion_matrix_matches_an_independent_count():
    rng = np.random.default_rng(3)
    y_true, y_pred = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    expected = np.zeros((5, 5), dtype=int)  # class 4 never occurs: its row and column stay zero
    for true, pred in zip(y_true, y_pred):
        expected[true, pred] += 1
    matrix = plots.confusion_matrix(y_true, y_pred, 5)
    assert matrix.shape == (5, 5) and np.array_equal(matrix, expected)
    # predictions given as one row of probabilities per photo are read as their argmax
    assert np.array_equal(plots.confusion_matrix(y_true, np.eye(5)[y_pred], 5), expected)


def test_confusion_matrix_bad_labels_keep_the_course_message():
    with pytest.raises(CourseError) as info:
        plots.confusion_matrix([0, 3], [0, 1], 3)
    assert str(info.value) == t("plots.bad_label", value=3.0, max=2)
