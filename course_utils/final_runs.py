"""The chosen configuration's final run after the search (:mod:`course_utils.tuning`).

:func:`train_mirrored`: trained again on the training photos plus their mirror images (and random
crops, :func:`crop_copies`), on the cache, its learning rate falling along half a cosine
(:func:`cosine_rate`), the last or the best validation epoch kept; :func:`train_augmented`: trained
again with lesson 05's augmentation (:func:`default_augmentation`), through the whole network.
"""
import math
import time

from .backend import import_tensorflow

import_tensorflow()
import keras
import numpy as np

from . import config
from .config import get_settings
from .validate import int_at_least


def _int_setting(value, default, key):
    return int_at_least(default if value is None else value, 1, key)


def _early_stopping(patience):
    return keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=patience,
                                         restore_best_weights=True)


def default_augmentation(seed=None):
    """Lesson 05's augmentation layers (config ``AUGMENT_*``), seeded."""
    seed = get_settings().seed if seed is None else int(seed)
    return keras.Sequential([
        keras.layers.RandomFlip(config.AUGMENT_FLIP, seed=seed),
        keras.layers.RandomRotation(config.AUGMENT_ROTATION, seed=seed + 1),
        keras.layers.RandomZoom(config.AUGMENT_ZOOM, seed=seed + 2),
    ], name="augmentation")


def train_augmented(model, base_model, data, depth, learning_rate, max_epochs, patience, seed):
    """Fine-tune ``model`` (from its current weights) at one configuration with lesson 05's
    augmentation and early stopping on validation; the model keeps the best epoch's weights.

    Augmentation changes the pixels every epoch, so this goes through the whole network
    (``fine_tune_cached`` falls back to ``model.fit``). Returns a dict: ``val_accuracy``,
    ``best_epoch``, ``epochs_run``, ``seconds``, ``history``.
    """
    from .training import fine_tune_cached

    start = time.perf_counter()
    keras.utils.set_random_seed(seed)
    history = fine_tune_cached(model, base_model, data, unfreeze=depth, learning_rate=learning_rate,
                               epochs=max_epochs, verbose=0, seed=seed, use_compiled=False,
                               augmentation=default_augmentation(seed),
                               callbacks=[_early_stopping(patience)])
    accs = [float(a) for a in history.history.get("val_accuracy", [])]
    k = int(np.argmax(accs))
    return {"augmented": True, "depth": int(depth), "learning_rate": float(learning_rate),
            "val_accuracy": accs[k], "best_epoch": k + 1, "kept_epoch": k + 1, "epochs_run": len(accs),
            "seconds": time.perf_counter() - start,
            "history": {key: [float(v) for v in values] for key, values in history.history.items()}}


def crop_copies(photos, seed, low=None):
    """One random square crop of every photo, its side a uniform share of [``low``, 1] of the photo's
    (config ``TUNE_CROP_LOW``), at a random place, mirrored left to right at random, resized back to
    the photo's size (bilinear): fixed photos, so their activations can be cached like the mirror images'."""
    import tensorflow as tf

    low = config.TUNE_CROP_LOW if low is None else float(low)
    rng = np.random.default_rng(seed)
    n = len(photos)
    side = rng.uniform(low, 1.0, n)
    top, left = rng.uniform(0, 1, n) * (1 - side), rng.uniform(0, 1, n) * (1 - side)
    boxes = np.stack([top, left, top + side, left + side], axis=1).astype("float32")
    flip = rng.random(n) < 0.5
    boxes[flip] = boxes[flip][:, [0, 3, 2, 1]]  # x1 > x2: crop_and_resize mirrors the crop
    out = np.empty_like(photos)
    for i in range(0, n, 256):  # in chunks: float32 copies of all photos would take 4x their memory
        rows = slice(i, min(i + 256, n))
        crops = tf.image.crop_and_resize(tf.cast(photos[rows], tf.float32), boxes[rows],
                                         tf.range(rows.stop - rows.start), photos.shape[1:3])
        out[rows] = np.clip(np.round(crops.numpy()), 0, 255).astype(photos.dtype)
    return out


def cosine_rate(learning_rate, steps):
    """A learning rate that falls from ``learning_rate`` to 0 along half a cosine over ``steps`` updates."""
    return keras.optimizers.schedules.CosineDecay(float(learning_rate), int(steps))


class _RateLog(keras.callbacks.Callback):
    """Records the optimizer's learning rate at the end of every epoch."""

    def __init__(self):
        super().__init__()
        self.rates = []

    def on_epoch_end(self, epoch, logs=None):
        self.rates.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))


def train_mirrored(model, base_model, data, depth, learning_rate, epochs=None, seed=None, decay=None,
                   keep_last=None, callbacks=(), crops=None):
    """Fine-tune ``model`` (from its current weights) at one configuration on the training photos
    plus their mirror images, on the cache; the model keeps its last or its best validation epoch.

    ``crops`` (default ``TUNE_MIRROR_CROPS``): that many more copies of the training photos, each a
    random crop (:func:`crop_copies`). ``epochs`` defaults to config's ``TUNE_MIRROR_EPOCHS`` (fast mode:
    ``TUNE_FAST_MIRROR_EPOCHS``); every epoch runs. ``keep_last`` (default ``TUNE_MIRROR_KEEP_LAST``):
    the model keeps the last epoch's weights; ``False``: ``EarlyStopping(restore_best_weights=True)``
    with that patience puts back the best validation epoch's. ``decay`` (default ``TUNE_MIRROR_DECAY``):
    the learning rate starts at ``learning_rate`` and falls to 0 along half a cosine over the run's updates
    (:func:`cosine_rate`); ``False`` keeps it constant. Returns a dict: ``mirrored``, ``crops``, ``decay``,
    ``keep_last``, ``kept_epoch`` and its ``val_accuracy``, ``best_epoch`` and its
    ``best_val_accuracy``, ``epochs_run``, ``n_train`` (photos per epoch), ``seconds``,
    ``learning_rates`` (the rate at the end of each epoch), ``history``. ``callbacks`` (Keras callbacks)
    are passed to ``fit`` as well.
    """
    from .recipe import compile_adam, default_loss, mark_course_compiled
    from .training import check_lr, fine_tune_cached

    fast = get_settings().fast
    epochs = _int_setting(epochs, config.TUNE_FAST_MIRROR_EPOCHS if fast else config.TUNE_MIRROR_EPOCHS,
                          "tuning.bad_epochs")
    learning_rate = check_lr(learning_rate)  # fine_tune_cached gets the compiled rate, so check it here
    decay = config.TUNE_MIRROR_DECAY if decay is None else bool(decay)
    keep_last = config.TUNE_MIRROR_KEEP_LAST if keep_last is None else bool(keep_last)
    seed = data.seed if seed is None else int(seed)
    start = time.perf_counter()
    crops = config.TUNE_MIRROR_CROPS if crops is None else int_at_least(crops, 0, "tuning.bad_crops")
    mirrored = data.with_training_copies({"mirrored": data.x_train[:, :, ::-1],
                                          **{f"crop {i + 1}": crop_copies(data.x_train, seed + 1000 * (i + 1))
                                             for i in range(crops)}})
    steps = epochs * math.ceil(len(mirrored.y_train) / mirrored.batch_size)
    keras.utils.set_random_seed(seed)
    # fine_tune_cached trains with what the model is compiled with: Adam with this rate or schedule
    compile_adam(model, cosine_rate(learning_rate, steps) if decay else learning_rate, default_loss(data))
    rates = _RateLog()
    history = fine_tune_cached(model, base_model, mirrored, unfreeze=depth, learning_rate=None,
                               epochs=epochs, verbose=0, seed=seed, use_compiled=True,
                               callbacks=([rates] if keep_last else [_early_stopping(epochs), rates])
                               + list(callbacks))
    compile_adam(model, learning_rate, default_loss(data))
    mark_course_compiled(model)
    accs = [float(a) for a in history.history.get("val_accuracy", [])]
    k = int(np.argmax(accs))
    kept = len(accs) - 1 if keep_last else k
    return {"mirrored": True, "crops": crops, "decay": decay, "depth": int(depth),
            "learning_rate": float(learning_rate),
            "keep_last": keep_last, "kept_epoch": kept + 1, "val_accuracy": accs[kept],
            "best_epoch": k + 1, "best_val_accuracy": accs[k], "epochs_run": len(accs),
            "n_train": int(len(mirrored.y_train)), "seconds": time.perf_counter() - start,
            "learning_rates": rates.rates,
            "history": {key: [float(v) for v in values] for key, values in history.history.items()}}
