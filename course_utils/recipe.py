"""What the course's fast training paths train with: the learner's ``compile``, or the defaults.

``train_head_cached`` and ``fine_tune_cached`` train a smaller model than the
learner's (the layers above the cached boundary), so they cannot reuse the
learner's compiled optimizer object. :func:`training_recipe` reads what the learner
compiled and rebuilds it for that smaller model:

* the optimizer: a fresh optimizer of the **same class and settings** as the
  compiled one (``type(opt).from_config(opt.get_config())``), with the compiled
  learning rate, or the ``learning_rate`` argument when one is given;
* the loss and the metrics given to ``compile`` (fresh copies from
  ``model.get_compile_config()``);
* labels in the data's own format (one-hot for ``label_mode='categorical'``,
  class numbers for ``'int'``), exactly what ``model.fit(data.train)`` would see.

A model that the learner has not compiled (or that only the course compiled
after an earlier fast path) trains with the config's defaults: Adam with
``head_lr`` / ``fine_tune_lr``, the cross-entropy that fits the labels and
``accuracy``. The recipe says in one Polish line which of the two it is.
"""
import weakref
from dataclasses import dataclass, field, replace

from .backend import import_tensorflow

import_tensorflow()
import keras
import numpy as np

from .config import HEAD_LR
from .errors import CourseError
from .messages import t

COMPILED = "compiled"
DEFAULTS = "defaults"

# learner's model -> the optimizer the course compiled it with (so it does not count as the learner's)
_COURSE_COMPILED = weakref.WeakKeyDictionary()


@dataclass
class Recipe:
    """The optimizer, loss and metrics one fast-path run trains with, and where they come from."""

    optimizer: object
    loss: object
    metrics: list = field(default_factory=list)
    source: str = DEFAULTS
    lr_from_argument: bool = False

    @property
    def learning_rate(self):
        """The optimizer's current learning rate as a float (a schedule's value at its current step)."""
        return float(keras.ops.convert_to_numpy(self.optimizer.learning_rate))

    def describe(self):
        """One Polish line: what trains the model and whether it came from ``model.compile``."""
        fields = dict(optimizer=type(self.optimizer).__name__, lr=self.learning_rate,
                      loss=_name(self.loss), metrics=", ".join(_name(m) for m in self.metrics) or "—")
        if self.source == DEFAULTS:
            return t("training.recipe_defaults", **fields)
        if self.lr_from_argument:
            return t("training.recipe_compiled_lr", **fields)
        return t("training.recipe_compiled", **fields)


def _name(obj):
    """A readable name of a loss or metric given as a string, an object or a function."""
    if isinstance(obj, str):
        return obj
    return getattr(obj, "name", None) or getattr(obj, "__name__", None) or type(obj).__name__


def learner_compiled(model):
    """True when the learner compiled ``model`` (the course's own default compile does not count)."""
    optimizer = getattr(model, "optimizer", None)
    if not getattr(model, "compiled", False) or optimizer is None:
        return False
    return _COURSE_COMPILED.get(model) is not optimizer


def mark_course_compiled(model):
    """Remember that the course, not the learner, compiled ``model`` (with the defaults)."""
    _COURSE_COMPILED[model] = model.optimizer


def default_loss(data):
    """The cross-entropy that fits the data's labels."""
    return "categorical_crossentropy" if data.label_mode == "categorical" else "sparse_categorical_crossentropy"


def clone_optimizer(optimizer, learning_rate=None):
    """A fresh, unbuilt optimizer of the same class and settings (``learning_rate`` replaces the rate)."""
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # LossScaleOptimizer (mixed precision)
    config = optimizer.get_config()
    if learning_rate is not None:
        config["learning_rate"] = float(learning_rate)
    return type(optimizer).from_config(config)


def accumulating(recipe, steps):
    """``recipe`` with a fresh copy of its optimizer that averages ``steps`` gradients per update.

    Keras' ``gradient_accumulation_steps``; ``steps == 1`` returns ``recipe`` itself. A
    loss-scaling wrapper (mixed precision) is kept around the copy.
    """
    if steps == 1:
        return recipe
    inner = getattr(recipe.optimizer, "inner_optimizer", recipe.optimizer)
    config = inner.get_config()
    config["gradient_accumulation_steps"] = int(steps)
    optimizer = type(inner).from_config(config)
    if inner is not recipe.optimizer:
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return replace(recipe, optimizer=optimizer)


def _compiled_loss_and_metrics(model):
    """Fresh copies of the loss and metrics given to ``model.compile``."""
    try:
        config = keras.saving.deserialize_keras_object(model.get_compile_config())
        loss, metrics = config.get("loss"), config.get("metrics")
    except Exception:  # a learner's own function Keras cannot rebuild: use it as it is
        loss, metrics = model.loss, None
    return loss, list(metrics or [])


def targets(data, labels):
    """Class numbers in the data's label format: one-hot rows or the numbers themselves."""
    labels = np.asarray(labels, dtype=np.int64)
    if data.label_mode == "categorical":
        return np.eye(data.num_classes, dtype=np.float32)[labels]
    return labels


def check_loss_fits_labels(loss, data):
    """A one-line CourseError when ``loss`` cannot take the data's labels (tried on a few of them)."""
    y_true = targets(data, np.asarray(data.split("train")[1][:4]))
    y_pred = np.full((len(y_true), data.num_classes), 1.0 / data.num_classes, dtype=np.float32)
    try:
        value = keras.losses.get(loss) if isinstance(loss, str) else loss
        value = np.asarray(keras.ops.convert_to_numpy(value(y_true, y_pred)))
        if not np.all(np.isfinite(value)):
            raise ValueError("not finite")
    except Exception:
        suggestion = default_loss(data)
        raise CourseError(t("training.loss_labels", loss=_name(loss) if loss is not None else None,
                            mode=data.label_mode, suggestion=suggestion)) from None


def training_recipe(model, data, learning_rate=None, default_lr=HEAD_LR, use_compiled=True):
    """The :class:`Recipe` for one fast-path run of ``model`` on ``data``.

    ``learning_rate`` (already checked) replaces the learning rate in either case;
    ``None`` keeps the compiled one, or ``default_lr`` for a model the learner has not
    compiled. ``use_compiled=False`` always takes the defaults (the freeze-depth lab).
    """
    if use_compiled and learner_compiled(model):
        optimizer = clone_optimizer(model.optimizer, learning_rate)
        loss, metrics = _compiled_loss_and_metrics(model)
        recipe = Recipe(optimizer, loss, metrics, COMPILED, learning_rate is not None)
    else:
        lr = default_lr if learning_rate is None else learning_rate
        recipe = Recipe(keras.optimizers.Adam(lr), default_loss(data), ["accuracy"], DEFAULTS)
    check_loss_fits_labels(recipe.loss, data)
    return recipe


def compile_adam(model, learning_rate, loss, metrics=("accuracy",)):
    """Compile ``model`` with Adam(``learning_rate``), ``loss`` and ``metrics`` (XLA off: on a CPU it is slower)."""
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss, metrics=list(metrics),
                  jit_compile=False)
    return model


def compile_with(model, recipe):
    """Compile ``model`` with ``recipe`` (XLA off: on a CPU it is many times slower)."""
    model.compile(optimizer=recipe.optimizer, loss=recipe.loss, metrics=recipe.metrics,
                  jit_compile=False)
