"""Accuracy and its 95% interval: the one definition the lessons, the fast paths and the benchmarks share."""
import numpy as np

from .errors import CourseError
from .messages import t
from .validate import is_int


def accuracy(probs, labels):
    """Share of photos whose most probable class (``argmax`` of a row of ``probs``) is the label."""
    predicted = np.asarray(probs).argmax(axis=-1)
    labels = np.asarray(labels)
    if labels.ndim == predicted.ndim + 1:  # one-hot labels
        labels = labels.argmax(axis=-1)
    if len(predicted) != len(labels):
        raise CourseError(t("metrics.length_mismatch", predictions=len(predicted), labels=len(labels)))
    return float(np.mean(predicted == labels)) if len(labels) else float("nan")


def accuracy_interval(accuracy, n_photos, z=1.96):
    """95% Wilson interval ``(low, high)`` of an accuracy measured on ``n_photos`` photos (scipy's binomtest)."""
    from scipy.stats import binomtest, norm

    if not is_int(n_photos) or n_photos < 1:
        raise CourseError(t("experiments.bad_n_photos", value=n_photos))
    if (isinstance(accuracy, (bool, np.bool_)) or not isinstance(accuracy, (int, float, np.number))
            or not 0 <= accuracy <= 1):  # also rejects NaN
        raise CourseError(t("experiments.bad_accuracy", value=accuracy))
    hits = round(float(accuracy) * int(n_photos))
    if abs(hits - float(accuracy) * int(n_photos)) > 1e-6 * n_photos:
        raise CourseError(t("metrics.not_a_share", value=accuracy, n=n_photos))
    interval = binomtest(hits, int(n_photos)).proportion_ci(confidence_level=2 * norm.cdf(z) - 1, method="wilson")
    return float(interval.low), float(interval.high)
