"""Kinds of exercise: each grades what the learner's result does, never the code's text.

A kind is a :class:`Problem` subclass registered under the name that ``"kind"`` in
``assets/exercises/*.json`` uses. ``check_result(result, *args)`` gets the learner's result
and the arguments the function was called with and returns ``(ok, message)``; it raises
``CourseError`` for a result of the wrong kind. ``explain_error(exc)`` may turn a known
exception of the learner's code into a specific message.
"""
import math
import sys

import numpy as np

from .. import checks
from ..errors import CourseError
from ..messages import t

PROBLEMS = {}


def register(name):
    """Class decorator: make a problem kind available under ``name``."""
    def add(cls):
        PROBLEMS[name] = cls
        cls.kind = name
        return cls
    return add


def _keras():
    return sys.modules["keras"]


def _model(obj):
    keras = sys.modules.get("keras")
    if keras is None or not isinstance(obj, keras.Model):
        raise CourseError(t("model.not_a_model", kind=type(obj).__name__))
    return obj


def _array(obj):
    try:
        return np.asarray(obj)
    except Exception:  # noqa: BLE001 - anything that is not array-like
        raise CourseError(t("check.not_array", kind=type(obj).__name__)) from None


def _trainable_count(model):
    return sum(math.prod(int(d) for d in w.shape) for w in model.trainable_weights)


def _preprocess(images):
    """MobileNetV2's preprocessing computed here, independently of Keras: x / 127.5 - 1."""
    return np.asarray(images, dtype="float32") / 127.5 - 1.0


class Problem:
    """Base class: one kind of exercise with its parameters from the JSON file."""

    kind = None

    def __init__(self, params):
        self.params = params

    def before(self, *args, **kwargs):
        """Called just before the learner's function (e.g. to copy its inputs)."""

    def explain_error(self, exc):
        """A specific message for a known mistake that raises, or None."""
        return None

    def check_result(self, result, *args, **kwargs):
        raise NotImplementedError


@register("photo_features")
class PhotoFeatures(Problem):
    """``fn(base, photo)``: the base's feature maps of one preprocessed photo, batch of one."""

    def check_result(self, result, base, photo):
        got = _array(result)
        expected = _model(base).predict(_preprocess(np.asarray(photo)[None]), verbose=0)
        if got.shape != expected.shape:
            return False, t("check.features_shape", actual=got.shape, expected=expected.shape)
        if not np.allclose(got, expected, atol=1e-3, rtol=1e-3):
            return False, t("check.features_not_preprocessed")
        return True, t("check.features_ok", shape=got.shape)


@register("base_model")
class BaseModel(Problem):
    """``fn(weights, size)``: MobileNetV2 without its top, ImageNet weights, ``size`` px."""

    def explain_error(self, exc):
        text = str(exc)
        if "include_top" in text or "Layer count mismatch" in text:
            return t("check.top_included")
        return None

    def check_result(self, result, weights, size):
        model = _model(result)
        shape = tuple(model.output_shape)
        if len(shape) != 4:
            return False, t("check.top_present", shape=shape)
        if tuple(model.input_shape[1:]) != (size, size, 3):
            return False, t("check.input_size_bad", actual=tuple(model.input_shape[1:]),
                            size=size)
        reference = _keras().applications.MobileNetV2(weights=weights, include_top=False,
                                                      input_shape=(size, size, 3))
        first = model.get_layer("Conv1").get_weights()[0] if _has(model, "Conv1") else None
        if first is None or not np.allclose(first, reference.get_layer("Conv1").get_weights()[0]):
            return False, t("check.weights_not_imagenet")
        return True, t("check.base_ok", shape=shape)


def _has(model, name):
    return any(layer.name == name for layer in model.layers)


@register("frozen")
class Frozen(Problem):
    """``fn(base)``: the same base, with nothing left to train."""

    def check_result(self, result, base):
        return checks.frozen_base(_model(result))


@register("pooling")
class Pooling(Problem):
    """``fn()``: a layer that turns a feature map into the mean of each channel."""

    def check_result(self, result):
        keras = _keras()
        if not isinstance(result, keras.layers.Layer):
            raise CourseError(t("check.not_layer", kind=type(result).__name__))
        maps = np.random.default_rng(0).normal(size=(2, 3, 3, 1280)).astype("float32")
        got = keras.ops.convert_to_numpy(result(maps))
        if got.shape != (2, 1280):
            return False, t("check.pool_shape", size=int(np.prod(got.shape[1:])))
        if not np.allclose(got, maps.mean(axis=(1, 2)), atol=1e-5):
            return False, t("check.pool_not_mean")
        return True, t("check.pool_ok")


@register("head")
class Head(Problem):
    """``fn(base, feature_vector, num_classes)``: the whole model, base input to softmax."""

    def check_result(self, result, base, feature_vector, num_classes):
        model = _model(result)
        if tuple(model.input_shape) != tuple(base.input_shape):
            return False, t("check.head_input_bad", actual=tuple(model.input_shape),
                            expected=tuple(base.input_shape))
        ok, message = checks.head_outputs(model, classes=num_classes)
        if not ok:
            return ok, message
        channels = base.output_shape[-1]
        return checks.head_params(model, expected=channels * num_classes + num_classes)


def _loss_matches(model, one_hot):
    """True if the compiled loss gives -log(p of the true class) for this label format."""
    keras = _keras()
    p = np.array([[0.1, 0.6, 0.1, 0.1, 0.1], [0.7, 0.1, 0.1, 0.05, 0.05]], dtype="float32")
    labels = np.array([1, 0])
    y_true = np.eye(5, dtype="float32")[labels] if one_hot else labels
    expected = -np.log(p[np.arange(2), labels])
    try:
        loss = keras.losses.get(model.loss) if isinstance(model.loss, str) else model.loss
        value = keras.ops.convert_to_numpy(loss(y_true, p))
    except Exception:  # noqa: BLE001 - a loss that cannot take this label format
        return False
    return np.allclose(np.mean(value), expected.mean(), atol=1e-4)


def _compiled(model):
    if getattr(model, "optimizer", None) is None or getattr(model, "loss", None) is None:
        raise CourseError(t("check.not_compiled"))
    return model


def _learning_rate(model):
    return float(_keras().ops.convert_to_numpy(model.optimizer.learning_rate))


def _check_loss(model, one_hot):
    if _loss_matches(model, one_hot):
        return None
    if one_hot and _loss_matches(model, False):
        return t("check.loss_sparse_for_onehot")
    if not one_hot and _loss_matches(model, True):
        return t("check.loss_onehot_for_sparse")
    return t("check.loss_bad", loss=getattr(model.loss, "name", model.loss))


@register("compiled")
class Compiled(Problem):
    """``fn(model)``: compiled with the loss for the label format and Adam at ``lr``."""

    def check_result(self, result, model):
        model = _compiled(_model(result))
        message = _check_loss(model, self.params.get("labels", "one_hot") == "one_hot")
        if message:
            return False, message
        if not isinstance(model.optimizer, _keras().optimizers.Adam):
            return False, t("check.optimizer_bad", name=type(model.optimizer).__name__)
        lr = self.params.get("lr")
        if lr is None:
            return True, t("check.compiled_loss_ok")
        ok, message = checks.recompiled_lr(model, lr)
        if not ok:
            return ok, message
        return True, t("check.compiled_ok", lr=lr)


@register("fitted")
class Fitted(Problem):
    """``fn(model, data, epochs)``: the History of ``epochs`` epochs on the training photos."""

    def check_result(self, result, model, data, epochs):
        history = getattr(result, "history", None)
        if not isinstance(history, dict) or "loss" not in history:
            raise CourseError(t("check.not_history", kind=type(result).__name__))
        done = len(history["loss"])
        if done != epochs:
            return False, t("check.epochs_bad", actual=done, expected=epochs)
        steps = math.ceil(len(data.y_train) / data.batch_size)
        if getattr(result, "params", {}).get("steps") not in (None, steps):
            return False, t("check.fit_wrong_data", actual=result.params["steps"], expected=steps)
        if "val_accuracy" not in history:
            return False, t("check.no_validation")
        return True, t("check.fitted_ok", epochs=epochs, acc=history["val_accuracy"][-1])


@register("unfrozen")
class Unfrozen(Problem):
    """``fn(base, n)``: the same base with exactly its last ``n`` layers training."""

    def check_result(self, result, base, n):
        return checks.last_n_trainable(_model(result), n=n)


@register("recompiled")
class Recompiled(Compiled):
    """``fn(model)``: compiled again, same loss, with the fine-tuning learning rate."""


@register("preprocessed")
class Preprocessed(Problem):
    """``fn(images)``: float pixels in [-1, 1] (x / 127.5 - 1), the input left unchanged."""

    def before(self, images):
        self.original = np.array(images, copy=True)

    def check_result(self, result, images):
        got = _array(result)
        if not np.array_equal(np.asarray(images), self.original):
            return False, t("check.input_modified")
        if got.shape != self.original.shape:
            return False, t("check.shape_bad", actual=got.shape, expected=self.original.shape)
        expected = _preprocess(self.original)
        if np.allclose(got, expected, atol=1e-4):
            return True, t("check.pixels_ok", low=float(got.min()), high=float(got.max()))
        if got.max() > 2:
            return False, t("check.pixels_raw", high=float(got.max()))
        return False, t("check.pixels_bad", low=float(got.min()), high=float(got.max()))


@register("class_names")
class ClassNames(Problem):
    """``fn(predictions, class_names)``: ``(classes, names)``, one class per photo."""

    def check_result(self, result, predictions, class_names):
        if not isinstance(result, tuple) or len(result) != 2:
            raise CourseError(t("check.not_pair", kind=type(result).__name__))
        classes, names = _array(result[0]), list(result[1])
        probs = np.asarray(predictions)
        expected = probs.argmax(axis=1)
        if classes.shape != expected.shape:
            return False, t("check.argmax_shape", actual=classes.shape, photos=len(probs))
        if not np.array_equal(classes, expected):
            return False, t("check.argmax_bad")
        if names != [class_names[i] for i in expected]:
            return False, t("check.names_bad")
        return True, t("check.names_ok", n=len(names))


@register("preprocessing_model")
class PreprocessingModel(Problem):
    """``fn(model)``: a model that takes raw 0..255 pixels and answers like ``model`` on preprocessed ones."""

    def check_result(self, result, model):
        wrapped = _model(result)
        size = tuple(model.input_shape[1:])
        raw = np.random.default_rng(0).integers(0, 256, size=(4, *size)).astype("float32")
        expected = model.predict(_preprocess(raw), verbose=0)
        try:
            got = wrapped.predict(raw, verbose=0)
        except Exception as exc:  # noqa: BLE001 - a model that does not take these photos
            return False, t("check.inside_fails", kind=type(exc).__name__)
        if got.shape == expected.shape and np.allclose(got, expected, atol=1e-4):
            return True, t("check.inside_ok")
        if got.shape == expected.shape and np.allclose(got, model.predict(raw, verbose=0), atol=1e-4):
            return False, t("check.inside_missing")
        return False, t("check.inside_differs")
