"""course_utils.metrics: accuracy and its Wilson interval, against hand-computed values (no photos needed)."""
import math

import numpy as np
import pytest

from course_utils.errors import CourseError
from course_utils.messages import t
from course_utils.metrics import accuracy, accuracy_interval


def test_accuracy_counts_rows_whose_largest_probability_is_the_label():
    probs = np.array([[0.7, 0.2, 0.1],   # 0, right
                      [0.1, 0.3, 0.6],   # 2, wrong (label 1)
                      [0.2, 0.5, 0.3],   # 1, right
                      [0.05, 0.05, 0.9]])  # 2, right
    labels = [0, 1, 1, 2]
    assert accuracy(probs, labels) == 0.75  # 3 of 4 by hand; argmin would give 0 of 4
    assert accuracy(probs, np.eye(3)[labels]) == 0.75  # one-hot labels
    assert math.isnan(accuracy(np.zeros((0, 3)), []))


def test_accuracy_needs_one_label_per_photo():
    with pytest.raises(CourseError) as info:
        accuracy(np.eye(3), [0, 1])
    assert str(info.value) == t("metrics.length_mismatch", predictions=3, labels=2)


def wilson_by_hand(k, n, z=1.96):
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@pytest.mark.parametrize("k, n", [(0, 10), (7, 10), (293, 318), (46, 50), (318, 318)])
def test_accuracy_interval_is_the_wilson_interval(k, n):
    assert accuracy_interval(k / n, n) == pytest.approx(wilson_by_hand(k, n), abs=1e-9)


def test_accuracy_interval_edges_and_width():
    assert accuracy_interval(0.0, 10)[0] == 0.0 and accuracy_interval(1, 318)[1] == 1.0
    small, large = accuracy_interval(0.92, 50), accuracy_interval(0.92, 500)
    assert small[0] < large[0] < 0.92 < large[1] < small[1]  # more photos, a narrower interval


@pytest.mark.parametrize("value, n, key", [
    (92.1, 318, "experiments.bad_accuracy"), (-0.1, 318, "experiments.bad_accuracy"),
    ("0.9", 318, "experiments.bad_accuracy"), (float("nan"), 318, "experiments.bad_accuracy"),
    (0.9, 0, "experiments.bad_n_photos"), (0.9, 31.8, "experiments.bad_n_photos"),
    (0.9, True, "experiments.bad_n_photos")])
def test_accuracy_interval_rejects_bad_input(value, n, key):
    with pytest.raises(CourseError) as info:
        accuracy_interval(value, n)
    assert str(info.value) == t(key, value=value if key == "experiments.bad_accuracy" else n)


def test_an_accuracy_that_is_no_share_of_the_photos_is_refused():
    with pytest.raises(CourseError) as info:
        accuracy_interval(0.5, 7)  # 3.5 of 7 photos
    assert str(info.value) == t("metrics.not_a_share", value=0.5, n=7)
