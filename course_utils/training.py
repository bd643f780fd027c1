"""Fast training for the lessons: cached features, cached activations, lab train_fn.

The frozen part of a network gives the same output for a photo in every
epoch, so the course computes it **once** and trains only what is above it:

* :func:`train_head_cached` (feature extraction): one forward pass of the
  frozen MobileNetV2 over the photos keeps the 1280-d vectors after
  ``GlobalAveragePooling2D``; the learner's own ``predictions`` Dense layer is
  then trained on them (seconds instead of minutes).
* :func:`fine_tune_cached` (fine-tuning): when the first K layers stay frozen
  and there is no augmentation, the activations of every tensor crossing the
  freeze boundary are cached (for ``unfreeze_last(base, 20)`` that is the
  output of ``block_14_add``) and only the layers above the boundary run in
  each epoch. The layers above are the **same layer objects** as in the
  learner's model, so the learner's model is what gets trained.
* :func:`make_lab_train_fn`: the ``train_fn`` of the freeze-depth lab; every
  click restores the same feature-extraction checkpoint, so runs are comparable.

The boundaries and the activation cache live in :mod:`course_utils.activations`
(re-exported here), the GPU settings in :mod:`course_utils.accelerator`, and what
each run trains with (the learner's ``compile`` or the config's defaults) in
:mod:`course_utils.recipe`. Feature extraction also caches the activations at the
fine-tuning boundary in the same forward pass.

The cached paths compute exactly what the full model computes (frozen
BatchNorm runs in inference mode either way), so the results match the naive
``model.fit`` loop up to the order of floating-point operations.
"""
from .backend import import_tensorflow

import_tensorflow()
import keras
import numpy as np

from .accelerator import setup_accelerator, strategy_scope, use_devices  # noqa: F401
from .activations import (  # noqa: F401  (re-exported: lessons, tests and benchmarks use them here)
    EXTRACT_BATCH,
    HEAD_LAYER,
    POOL_LAYER,
    ActivationCache,
    _bar,
    _bytes_per_photo,
    _fits_budget,
    _predict_arrays,
    activation_cache,
    cacheable,
    cached_activations,
    clear_cache,
    crossing_tensors,
    head_boundary,
    producer,
    run_on_photos,
    top_model,
    trainable_boundary,
    unfreeze_boundary,
)
from .config import UNFREEZE_LAST, get_settings
from .errors import CourseError
from .messages import t
from .metrics import accuracy
from .recipe import accumulating, compile_adam, compile_with, mark_course_compiled, targets, training_recipe
from .validate import int_at_least, keras_model

# ---------------------------------------------------------------- checks

def check_epochs(epochs):
    """Return ``epochs`` as an int if it is a whole number >= 1, else a one-line CourseError."""
    return int_at_least(epochs, 1, "training.bad_epochs")


def check_lr(lr):
    """Return ``lr`` as a float if it is a positive number below 10, else a one-line CourseError."""
    if (isinstance(lr, bool) or not isinstance(lr, (int, float, np.number))
            or not 0 < lr < 10):  # also rejects NaN
        raise CourseError(t("training.bad_lr", value=lr))
    return float(lr)


def check_micro_batches(micro_batches, batch_size, keep_batchnorm_frozen=True):
    """``micro_batches`` as an int >= 1 that divides ``batch_size`` (BatchNorm frozen when > 1)."""
    k = int_at_least(micro_batches, 1, "training.bad_micro_batches", batch=batch_size)
    if batch_size % k:
        raise CourseError(t("training.bad_micro_batches", value=micro_batches, batch=batch_size))
    if k > 1 and not keep_batchnorm_frozen:
        raise CourseError(t("training.micro_batches_batchnorm"))
    return k


def _check_model(model, data):
    keras_model(model)
    if not hasattr(data, "split") or not hasattr(data, "class_names"):
        raise CourseError(t("training.not_data", kind=type(data).__name__))
    try:
        head = model.get_layer(HEAD_LAYER)
    except ValueError:
        raise CourseError(t("training.no_head", name=HEAD_LAYER)) from None
    units = int(model.output_shape[-1])
    if units != data.num_classes:
        raise CourseError(t("training.classes_mismatch", units=units, classes=data.num_classes))
    size = model.input_shape[1]
    if size is not None and size != data.image_size:
        raise CourseError(t("training.size_mismatch", model=size, data=data.image_size))
    if len(data.y_train) == 0:
        raise CourseError(t("training.empty_split", name="train"))
    return head

# ---------------------------------------------------------------- progress

class EpochProgress(keras.callbacks.Callback):
    """One progress bar per training phase (a tick per epoch) and an optional hook.

    ``progress_callback(done_epochs, total_epochs)`` is called after every epoch.
    """

    def __init__(self, epochs, desc, verbose=1, progress_callback=None):
        super().__init__()
        self.epochs = epochs
        self.desc = desc
        self.verbose = verbose
        self.progress_callback = progress_callback
        self.bar = None

    def on_train_begin(self, logs=None):
        self.bar = _bar(self.epochs, self.desc, "ep", self.verbose)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.bar is not None:
            shown = {k: f"{logs[k]:.3f}" for k in ("loss", "accuracy", "val_accuracy") if k in logs}
            self.bar.set_postfix(shown, refresh=False)
            self.bar.update(1)
        if self.progress_callback is not None:
            self.progress_callback(epoch + 1, self.epochs)

    def on_train_end(self, logs=None):
        if self.bar is not None:
            self.bar.close()
            self.bar = None

# ---------------------------------------------------------------- training

def _labels(data, split):
    return np.asarray(data.split(split)[1], dtype=np.int64)


def _array_dataset(arrays, labels, batch_size, shuffle, seed, micro_batches=1):
    """Cached activations and labels in batches (shuffled as ``data.dataset`` shuffles photos).

    Batches are taken from the cached arrays by row number (:func:`course_utils.data.row_batches`):
    no copy of the activations goes into the pipeline. ``micro_batches > 1`` splits every
    batch into that many weighted slices (:func:`_split_batch`), for gradient accumulation.
    """
    from .data import row_batches

    ds = row_batches(list(arrays), labels, batch_size, shuffle, seed)
    if micro_batches > 1:
        ds = ds.map(lambda *parts: _split_batch(parts, batch_size, micro_batches)).unbatch()
        if len(arrays) > 1:
            ds = ds.map(lambda *parts: (tuple(parts[:-2]), *parts[-2:]))
    elif len(arrays) > 1:
        ds = ds.map(lambda *parts: (tuple(parts[:-1]), parts[-1]))
    return ds.prefetch(1)


def _split_batch(parts, batch_size, micro_batches):
    """One batch ``(arrays..., labels)`` as ``micro_batches`` equal slices with sample weights.

    A short last batch is padded to ``batch_size`` with copies of its first row weighted 0;
    its real rows are weighted ``batch_size / n``. With the loss averaged over each slice
    and the optimizer averaging the slices' gradients, the update equals the one for the
    whole batch (when no layer mixes the photos of a batch: BatchNormalization frozen).
    """
    import tensorflow as tf

    n = tf.shape(parts[-1])[0]
    index = tf.concat([tf.range(n), tf.zeros([batch_size - n], tf.int32)], 0)
    weights = tf.concat([tf.fill([n], batch_size / tf.cast(n, tf.float32)),
                         tf.zeros([batch_size - n], tf.float32)], 0)
    size = batch_size // micro_batches
    padded = [tf.gather(a, index) for a in parts] + [weights]
    return tuple(tf.reshape(a, [micro_batches, size, *a.shape[1:]]) for a in padded)


def _recipe(model, data, learning_rate, default_lr, use_compiled, verbose):
    """What this run trains with (:mod:`course_utils.recipe`), said in one line when verbose."""
    learning_rate = None if learning_rate is None else check_lr(learning_rate)
    with strategy_scope():
        recipe = training_recipe(model, data, learning_rate, default_lr, use_compiled)
    if verbose:
        print(recipe.describe(), flush=True)
    return recipe


def _compile_learner_model(model, recipe):
    """Leave the learner's model compiled, so ``model.evaluate(data.test)`` works.

    A model the learner compiled keeps its own compile; an uncompiled one is compiled
    with a fresh copy of the defaults this run used (and remembered as the course's).
    """
    if not getattr(model, "compiled", False) or getattr(model, "optimizer", None) is None:
        with strategy_scope():
            compile_adam(model, recipe.learning_rate, recipe.loss)
        mark_course_compiled(model)


def _fit_cached(model, data, k, epochs, recipe, desc, verbose, seed,
                progress_callback, extra_boundaries=(), callbacks=(), micro_batches=1):
    splits = ("train", "val") if len(data.y_val) else ("train",)
    acts = cached_activations(model, data, k, splits, extra_boundaries, verbose)
    top = top_model(model, k)
    seed = data.seed if seed is None else seed
    train = _array_dataset(acts["train"], targets(data, _labels(data, "train")), data.batch_size,
                           True, seed, micro_batches)
    val = (_array_dataset(acts["val"], targets(data, _labels(data, "val")), data.batch_size, False,
                          seed) if "val" in acts else None)
    with strategy_scope():
        compile_with(top, accumulating(recipe, micro_batches))
        history = top.fit(train, validation_data=val, epochs=epochs, verbose=0, shuffle=False,
                          callbacks=[EpochProgress(epochs, desc, verbose, progress_callback),
                                     *callbacks])
    history.set_model(model)
    history.recipe = recipe
    _compile_learner_model(model, recipe)
    return history


def _fit_full(model, data, epochs, recipe, augmentation, verbose, seed,
              progress_callback, callbacks=()):
    """The ordinary ``model.fit`` through the whole network (augmentation, no cache)."""
    from .data import preprocess

    seed = data.seed if seed is None else seed
    if augmentation is None:
        train = data.dataset("train")
    else:
        import tensorflow as tf

        from .data import row_batches

        labels = data.split("train")[1]
        ds = row_batches([data.x_train], labels, data.batch_size, True, seed)  # no copy of the photos
        depth = data.num_classes

        def augment(images, y):
            images = augmentation(tf.cast(images, tf.float32), training=True)
            images = tf.clip_by_value(images, 0.0, 255.0)
            y = tf.one_hot(y, depth) if data.label_mode == "categorical" else y
            return preprocess(images), y

        train = ds.map(augment, num_parallel_calls=2).prefetch(1)
    val = data.val if len(data.y_val) else None
    with strategy_scope():
        compile_with(model, recipe)
        if recipe.source == "defaults":
            mark_course_compiled(model)
        history = model.fit(train, validation_data=val, epochs=epochs, verbose=0, shuffle=False,
                            callbacks=[EpochProgress(epochs, t("training.bar_full"), verbose,
                                                     progress_callback), *callbacks])
    history.recipe = recipe
    return history


def train_head_cached(model, data, epochs=None, learning_rate=None, verbose=1, *,
                      base=None, cache_unfreeze=None, seed=None, progress_callback=None,
                      use_compiled=True):
    """Feature extraction: train only the ``predictions`` layer on cached 1280-d features.

    One forward pass of the frozen base over ``data``'s in-memory photos
    (:func:`run_on_photos`) gives the pooled features of the training and validation photos;
    the learner's own ``predictions`` Dense layer is then trained on them for
    ``epochs`` epochs in batches of ``data.batch_size``, with what the learner compiled:
    the compiled optimizer's class, settings and learning rate (``learning_rate``, when
    given, replaces the rate), the compiled loss and metrics (see :mod:`course_utils.recipe`).
    A model the learner has not compiled trains with Adam(config ``head_lr``),
    cross-entropy and accuracy, and the run says so in one line (``verbose``).
    ``use_compiled=False`` always takes those defaults. The same pass also caches the
    activations at the boundary of ``unfreeze_last(base, cache_unfreeze)`` (default: the
    course's ``unfreeze_last`` setting), so the next fine-tuning starts at once.

    Returns the ``keras.callbacks.History`` with the compiled metrics and the loss per
    epoch (``accuracy``, ``val_accuracy``, ``loss``, ``val_loss`` for the usual compile);
    ``history.recipe`` is the :class:`~course_utils.recipe.Recipe` it trained with.
    """
    settings = get_settings()
    _check_model(model, data)
    epochs = check_epochs(settings.fe_epochs if epochs is None else epochs)
    recipe = _recipe(model, data, learning_rate, settings.head_lr, use_compiled, verbose)
    k = head_boundary(model)
    cache_unfreeze = settings.unfreeze_last if cache_unfreeze is None else cache_unfreeze
    extra = (unfreeze_boundary(model, base, cache_unfreeze),)
    if not cacheable(model, k):
        raise CourseError(t("training.head_not_cacheable"))
    return _fit_cached(model, data, k, epochs, recipe, t("training.bar_head"),
                       verbose, seed, progress_callback, extra)


def fine_tune_cached(model, base, data, unfreeze=UNFREEZE_LAST, learning_rate=None, epochs=None,
                     verbose=1, *, augmentation=None, keep_batchnorm_frozen=True, seed=None,
                     progress_callback=None, use_compiled=True, callbacks=(), micro_batches=1):
    """Fine-tuning: unfreeze the last ``unfreeze`` layers of ``base`` and train the top.

    Uses :func:`course_utils.model.unfreeze_last` (BatchNorm stays frozen and
    runs in inference mode). Without ``augmentation`` the activations at the
    freeze boundary come from the cache (computed once) and each epoch runs
    only the unfrozen layers and the head. With ``augmentation`` (a Keras
    layer applied to the ``uint8``-range photos before preprocessing) every
    epoch must see new pixels, so it falls back to the full ``model.fit``.
    ``unfreeze=None`` keeps the trainable flags as they are.

    It trains with what the learner compiled, as :func:`train_head_cached` does: the
    compiled optimizer (class, settings, learning rate; ``learning_rate``, when given,
    replaces the rate), loss and metrics. A model the learner has not compiled (or only
    the course compiled, after an earlier fast path) trains with Adam(config
    ``fine_tune_lr``, the source's 1e-5), cross-entropy and accuracy, and the run says so.

    ``micro_batches > 1`` (cached path, BatchNorm frozen) computes each batch's gradient in that
    many slices and lets the optimizer average them (``gradient_accumulation_steps``): the
    updates of whole batches (up to float rounding), with the memory of one slice's backward pass. The
    epoch's training loss and accuracy then weigh a short last batch as a whole one; the
    validation metrics are the same.

    ``callbacks`` (Keras callbacks, e.g. ``EarlyStopping``) are passed to ``fit``; on the
    cached path their ``self.model`` is the model of the layers above the boundary (the same
    layer objects), so ``restore_best_weights`` restores the learner's model.

    Returns the ``keras.callbacks.History`` of the run; ``history.recipe`` says what it
    trained with.
    """
    from .model import unfreeze_last

    settings = get_settings()
    _check_model(model, data)
    epochs = check_epochs(settings.ft_epochs if epochs is None else epochs)
    recipe = _recipe(model, data, learning_rate, settings.fine_tune_lr, use_compiled, verbose)
    if unfreeze is not None:
        unfreeze_last(base, unfreeze, keep_batchnorm_frozen)
    k = trainable_boundary(model)
    splits = ("train", "val") if len(data.y_val) else ("train",)
    micro_batches = check_micro_batches(micro_batches, data.batch_size, keep_batchnorm_frozen)
    if (augmentation is not None or not cacheable(model, k)
            or not _fits_budget(data, crossing_tensors(model, k), splits)):
        if micro_batches > 1:
            raise CourseError(t("training.micro_batches_cached_only"))
        return _fit_full(model, data, epochs, recipe, augmentation, verbose, seed,
                         progress_callback, callbacks)
    return _fit_cached(model, data, k, epochs, recipe, t("training.bar_finetune"),
                       verbose, seed, progress_callback, callbacks=callbacks,
                       micro_batches=micro_batches)


def predict_cached(model, data, split="test", verbose=0, *, base=None, cache_unfreeze=None):
    """Class probabilities for one split, from the cache where possible.

    Uses the current freeze boundary (or the head boundary when nothing is
    trainable); the same pass caches the fine-tuning boundary too.
    """
    _check_model(model, data)
    try:
        k = trainable_boundary(model)
    except CourseError:
        k = head_boundary(model)
    if not cacheable(model, k) or not _fits_budget(data, crossing_tensors(model, k), (split,)):
        return run_on_photos(model, data.split(split)[0])[0]
    cache_unfreeze = get_settings().unfreeze_last if cache_unfreeze is None else cache_unfreeze
    extra = (unfreeze_boundary(model, base, cache_unfreeze), head_boundary(model))
    acts = cached_activations(model, data, k, (split,), extra, verbose)[split]
    return _predict_arrays(top_model(model, k), acts)


def evaluate_cached(model, data, split="test", verbose=0, *, base=None, cache_unfreeze=None):
    """``{'accuracy', 'loss', 'n'}`` of the model on one split, via :func:`predict_cached`."""
    probs = predict_cached(model, data, split, verbose, base=base, cache_unfreeze=cache_unfreeze)
    labels = _labels(data, split)
    if len(labels) == 0:
        return {"accuracy": float("nan"), "loss": float("nan"), "n": 0}
    picked = np.clip(probs[np.arange(len(labels)), labels], 1e-7, 1.0)
    return {"accuracy": accuracy(probs, labels),
            "loss": float(-np.mean(np.log(picked))), "n": int(len(labels))}


# ---------------------------------------------------------------- freeze-depth lab

def make_lab_train_fn(model, base, data, *, seed=None, verbose=0, micro_batches=1):
    """``train_fn(depth, lr, epochs, progress_callback) -> dict`` for the freeze-depth lab.

    The model's weights are snapshot now (the feature-extraction checkpoint)
    and restored before every run, so every click starts from the same point.
    Each run unfreezes the last ``depth`` layers (BatchNorm stays frozen),
    fine-tunes with the cached path (Adam at the lab's learning rate, cross-entropy
    and accuracy, whatever the model was compiled with, so runs compare), calls ``progress_callback(done, total)``
    after every epoch and returns ``{'accuracy', 'val_accuracy', 'loss',
    'val_loss'}`` (lists, one value per epoch). ``depth=0`` trains only the
    head. ``train_fn.snapshot`` holds the checkpoint, ``train_fn.restore()``
    puts it back. ``micro_batches`` is passed to :func:`fine_tune_cached` (less memory,
    the same updates up to float rounding).
    """
    _check_model(model, data)
    snapshot = [np.array(w, copy=True) for w in model.get_weights()]

    def restore():
        model.set_weights(snapshot)

    def train_fn(depth, lr, epochs, progress_callback=None):
        from .model import freeze

        restore()
        if depth:
            history = fine_tune_cached(model, base, data, unfreeze=depth, learning_rate=lr,
                                       epochs=epochs, verbose=verbose, seed=seed,
                                       progress_callback=progress_callback, use_compiled=False,
                                       micro_batches=micro_batches)
        else:
            freeze(base)
            history = train_head_cached(model, data, epochs=epochs, learning_rate=lr,
                                        verbose=verbose, base=base, seed=seed,
                                        progress_callback=progress_callback, use_compiled=False)
        logs = history.history
        return {key: [float(v) for v in logs.get(key, [])]
                for key in ("accuracy", "val_accuracy", "loss", "val_loss")}

    train_fn.snapshot = snapshot
    train_fn.restore = restore
    return train_fn


# ---------------------------------------------------------------- models shared between lessons

FE_LESSON = "05_feature_extraction"
FT_LESSON = "06_fine_tuned"


def _load_lesson(name, data):
    """Load a lesson's saved model if it matches the data's classes and size, else None."""
    from .model import base_of, lesson_model_path, load_trained, saved_history

    path = lesson_model_path(name)
    if not path.is_file():
        return None
    try:
        model, names = load_trained(path)
    except CourseError:
        return None
    if names != list(data.class_names) or model.input_shape[1] != data.image_size:
        return None
    print(t("training.lesson_model_loaded", lesson=name[:2], path=path))
    return model, base_of(model), saved_history(path)


def load_or_train_fe_model(data, verbose=1):
    """Lesson 05's model ``(model, base, fe_history)``: loaded, or trained now if missing."""
    from .model import build_model, lesson_model_path, save_trained

    loaded = _load_lesson(FE_LESSON, data)
    if loaded:
        return loaded
    print(t("training.lesson_model_missing", lesson="05", path=lesson_model_path(FE_LESSON)))
    model, base = build_model(data.num_classes, data.image_size)
    history = train_head_cached(model, data, verbose=verbose, base=base)
    save_trained(model, lesson_model_path(FE_LESSON), data.class_names, history)
    return model, base, history.history


def load_or_train_ft_model(data, verbose=1):
    """Lesson 06's model ``(model, base, ft_history)``: loaded, or fine-tuned now if missing."""
    from .model import lesson_model_path, save_trained

    loaded = _load_lesson(FT_LESSON, data)
    if loaded:
        return loaded
    print(t("training.lesson_model_missing", lesson="06", path=lesson_model_path(FT_LESSON)))
    model, base, _ = load_or_train_fe_model(data, verbose)
    settings = get_settings()
    history = fine_tune_cached(model, base, data, settings.unfreeze_last, settings.fine_tune_lr,
                               verbose=verbose)
    save_trained(model, lesson_model_path(FT_LESSON), data.class_names, history)
    return model, base, history.history
