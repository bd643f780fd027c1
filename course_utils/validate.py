"""Argument checks shared by the modules: whole numbers and Keras models, each with its Polish message."""
import numpy as np

from .backend import import_tensorflow

import_tensorflow()
import keras

from .errors import CourseError
from .messages import t


def is_int(value):
    """True for a whole number (a Python or NumPy int), never for a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def int_at_least(value, minimum, key, **fields):
    """``int(value)`` for an int (not a bool) >= ``minimum``; else CourseError(t(key, value=value, **fields))."""
    if not is_int(value) or value < minimum:
        raise CourseError(t(key, value=value, **fields))
    return int(value)


def keras_model(obj):
    """``obj`` when it is a keras.Model; else the one-line 'model.not_a_model' CourseError."""
    if not isinstance(obj, keras.Model):
        raise CourseError(t("model.not_a_model", kind=type(obj).__name__))
    return obj
