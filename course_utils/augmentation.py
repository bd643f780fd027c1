"""Lesson 05's augmentation measurement: the same head with and without data augmentation.

:func:`augmentation_comparison` trains two identically seeded models (frozen
MobileNetV2 base, new head) on a small subset with ``model.fit``, one of them
on photos passed through Keras preprocessing layers (``RandomFlip``,
``RandomRotation``, ...), and reports training and validation accuracy, so
the learner sees how much each overfits. Augmentation changes the pixels every
epoch, so the cached features of :mod:`course_utils.training` cannot be used.
"""
import time
from dataclasses import dataclass

from .backend import import_tensorflow

import_tensorflow()
import numpy as np

from . import training
from .config import HEAD_LR
from .experiments import _check_data, _loss, _quiet, seeded, subset
from .messages import t
from .recipe import compile_adam


@dataclass
class AugmentationRun:
    """One head trained on a small subset, with or without augmentation."""

    augmented: bool
    train_accuracy: float  # on the (un-augmented) training photos of the subset
    val_accuracy: float
    seconds: float

    @property
    def gap(self):
        """Training minus validation accuracy: how much the head overfits."""
        return self.train_accuracy - self.val_accuracy


def _augmented_dataset(data, augmentation, seed):
    """The training photos of ``data``, shuffled (seeded), augmented on the 0–255 pixels, preprocessed."""
    import tensorflow as tf

    from .data import preprocess

    x, y, _ = data.split("train")
    y = np.asarray(y, dtype=np.int64)
    if data.label_mode == "categorical":
        y = np.eye(data.num_classes, dtype=np.float32)[y]
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    ds = ds.shuffle(len(x), seed=int(seed), reshuffle_each_iteration=True).batch(data.batch_size)

    def prepare(images, labels):
        images = tf.cast(images, tf.float32)
        if augmentation is not None:
            images = tf.clip_by_value(augmentation(images, training=True), 0.0, 255.0)
        return preprocess(images), labels

    return ds.map(prepare).prefetch(1)


@_quiet
def augmentation_comparison(build_fn, data, augmentation, per_class, epochs, seed,
                            learning_rate=HEAD_LR):
    """Train two identically seeded models with ``model.fit`` on ``per_class`` photos per class.

    ``build_fn()`` returns ``(model, base)`` with the base frozen (the course's
    ``build_model``). Both runs start from the same weights (``seed``); the
    second sees every training photo through ``augmentation`` (Keras
    preprocessing layers applied to the 0–255 pixels). Returns two
    :class:`AugmentationRun` (without, with): accuracy on the clean training
    photos and on the validation photos of ``data``.
    """
    _check_data(data)
    epochs = training.check_epochs(epochs)
    part = subset(data, per_class, seed, "train")
    runs = []
    for aug in (None, augmentation):
        model, _ = seeded(build_fn, seed)
        compile_adam(model, training.check_lr(learning_rate), _loss(part))
        start = time.perf_counter()
        model.fit(_augmented_dataset(part, aug, seed), epochs=epochs, verbose=0)
        seconds = time.perf_counter() - start
        train_acc = model.evaluate(part.dataset("train", shuffle=False), verbose=0)[1]
        val_acc = model.evaluate(part.val, verbose=0)[1] if len(part.y_val) else float("nan")
        runs.append(AugmentationRun(aug is not None, float(train_acc), float(val_acc), seconds))
    return runs


def describe_augmentation(runs):
    """One Polish line per run: training and validation accuracy, their gap, seconds."""
    return "\n".join(t("experiments.aug_line", kind=t("experiments.aug_with" if r.augmented
                                                         else "experiments.aug_without"),
                       train=r.train_accuracy, val=r.val_accuracy, gap=100 * r.gap,
                       seconds=r.seconds) for r in runs)
