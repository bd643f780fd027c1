"""Checkers for code exercises, registered by name (used by ``"checker"`` in quiz JSON).

A checker is ``fn(obj, **params) -> (ok, message)``; it raises ``CourseError``
when ``obj`` is the wrong kind of object. Keras is never imported here: a real
Keras model can only exist when the learner's code has imported it already.
"""
import math
import sys

from .errors import CourseError
from .messages import t

CHECKERS = {}


def register(name):
    """Decorator: make a checker available under ``name``."""
    def add(fn):
        CHECKERS[name] = fn
        return fn
    return add


def _keras():
    """The already imported keras module, or None."""
    return sys.modules.get("keras")


def _model(obj):
    """Return ``obj`` if it is a Keras model, else raise a one-line CourseError."""
    keras = _keras()
    if keras is None or not isinstance(obj, keras.Model):
        raise CourseError(t("model.not_a_model", kind=type(obj).__name__))
    return obj


def _is_batchnorm(layer):
    """True for a BatchNormalization layer."""
    return isinstance(layer, _keras().layers.BatchNormalization)


def _size(weight):
    """Number of values in one weight variable."""
    return math.prod(int(d) for d in weight.shape)


@register("frozen_base")
def frozen_base(obj):
    """Every layer of the model is frozen (or the model itself has trainable False)."""
    model = _model(obj)
    if not model.trainable:
        return True, t("check.frozen_ok")
    trainable = [layer.name for layer in model.layers if layer.trainable and layer.weights]
    if not trainable and not model.trainable_weights:
        return True, t("check.frozen_ok")
    names = ", ".join(trainable[:3]) or model.name
    return False, t("check.frozen_bad", count=len(trainable) or 1, names=names)


@register("last_n_trainable")
def last_n_trainable(obj, n, model=None):
    """Exactly the last ``n`` layers of the base train; frozen BatchNorm among them is fine.

    Judged by what actually trains, never by ``base.trainable`` alone. Without ``model``, by
    each layer's own flag (``layer.trainable_weights``): that is what ``fit`` updates in the
    flat model the source builds (``Model(inputs=base.input, ...)``). With ``model``, by
    ``model.trainable_weights`` itself. (In Keras 3 even a base nested as one layer,
    ``x = base(inputs, training=False)``, trains the layers whose flags were set to True after
    ``base.trainable = False``; setting ``base.trainable`` again resets every layer's flag.)
    Layers without weights cannot train and are skipped.
    """
    base = _model(obj)
    if model is not None:
        training = {id(w) for w in _model(model).trainable_weights}
    else:
        training = {id(w) for layer in base.layers for w in layer.trainable_weights}

    def trains(layer):
        return any(id(w) in training for w in layer.weights)

    if n > 0 and not any(trains(layer) for layer in base.layers):
        return False, t("check.base_not_trainable", n=n)
    start = len(base.layers) - n
    weights = 0
    for index, layer in enumerate(base.layers):
        if not layer.weights:
            continue
        if index < start and trains(layer):
            return False, t("check.early_trainable", name=layer.name, index=index,
                            n=n, total=len(base.layers))
        if index >= start and not trains(layer) and not _is_batchnorm(layer):
            return False, t("check.late_frozen", name=layer.name, index=index, n=n)
        if index >= start and trains(layer):
            weights += sum(_size(w) for w in layer.weights if id(w) in training)
    return True, t("check.last_n_ok", n=n, weights=weights)


@register("recompiled_lr")
def recompiled_lr(obj, lr):
    """The model is compiled and its optimizer's learning rate equals ``lr`` (rel tol 1e-6)."""
    model = _model(obj)
    if getattr(model, "optimizer", None) is None or not getattr(model, "compiled", True):
        raise CourseError(t("check.not_compiled"))
    actual = float(_keras().ops.convert_to_numpy(model.optimizer.learning_rate))
    if math.isclose(actual, lr, rel_tol=1e-6):
        return True, t("check.lr_ok", lr=actual)
    return False, t("check.lr_bad", actual=actual, expected=lr)


def _activation_name(layer):
    """Name of the activation a layer applies last ('softmax', 'linear', ...)."""
    if isinstance(layer, _keras().layers.Softmax):
        return "softmax"
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", str(activation))


@register("head_outputs")
def head_outputs(obj, classes):
    """The model outputs ``classes`` values and its last layer applies softmax."""
    model = _model(obj)
    try:
        outputs = model.outputs
    except (AttributeError, ValueError):
        outputs = None
    if not outputs or not model.layers:
        raise CourseError(t("check.not_built"))
    actual = outputs[-1].shape[-1]
    if actual != classes:
        return False, t("check.classes_bad", actual=actual, n=classes)
    activation = _activation_name(model.layers[-1])
    if activation != "softmax":
        return False, t("check.activation_bad", activation=activation, n=classes)
    return True, t("check.head_ok", n=classes)


@register("head_params")
def head_params(obj, expected):
    """The model has exactly ``expected`` trainable parameters."""
    model = _model(obj)
    actual = sum(_size(w) for w in model.trainable_weights)
    if actual == expected:
        return True, t("check.params_ok", n=actual)
    return False, t("check.params_bad", actual=actual, expected=expected)


def run_check(name, obj, **params):
    """Run checker ``name``; wrong object kinds come back as ``(False, message)``."""
    try:
        return CHECKERS[name](obj, **params)
    except CourseError as exc:
        return False, str(exc)
