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

Caches live in memory on the :class:`~course_utils.data.FlowerData` object,
one entry per (crossing tensor, split), keyed also by a fingerprint of the
weights below it, so a stale cache is never used. Feature extraction also
caches the activations at the fine-tuning boundary in the same forward pass.

The cached paths compute exactly what the full model computes (frozen
BatchNorm runs in inference mode either way), so the results match the naive
``model.fit`` loop up to the order of floating-point operations.
"""
import hashlib
import weakref
from collections import OrderedDict

from .backend import import_tensorflow

import_tensorflow()
import keras  # noqa: E402  (after the quiet TensorFlow import)
import numpy as np  # noqa: E402

from .config import get_settings  # noqa: E402
from .errors import CourseError  # noqa: E402
from .messages import t  # noqa: E402
from .model import is_batchnorm  # noqa: E402
from .recipe import compile_with, mark_course_compiled, targets, training_recipe  # noqa: E402

HEAD_LAYER = "predictions"
POOL_LAYER = "global_avg_pool"
EXTRACT_BATCH = 32

# Layers without weights that still behave differently while training: with
# one of them below the freeze boundary the cached activations would be wrong.
_TRAINING_ONLY = ("Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
                  "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization")

_STRATEGY = None
_TOP_MODELS = weakref.WeakKeyDictionary()  # learner's model -> {boundary: top model}
_EXTRACTORS = weakref.WeakKeyDictionary()  # learner's model -> {tensor ids: extractor}
_FORWARD = weakref.WeakKeyDictionary()  # any Keras model -> traced inference function
_PHOTO_FORWARD = weakref.WeakKeyDictionary()  # Keras model -> {photo dtype: traced function}


# ---------------------------------------------------------------- accelerator

def setup_accelerator(mixed_precision=True):
    """Use a GPU when there is one; on a CPU-only machine do nothing.

    Returns a ``tf.distribute`` strategy. On CPU this is the default strategy
    and nothing is changed, so the lessons run exactly as written. With GPUs,
    GPU memory grows on demand (other notebooks can share the card) and
    :func:`use_devices` switches on mixed precision and, for several GPUs,
    a ``MirroredStrategy``.

    Call it **before** building the model and build the model inside
    :func:`strategy_scope`; the training functions of this module then compile
    inside the same scope. The cached paths need no other change on a GPU.
    """
    global _STRATEGY
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        _STRATEGY = None
        return tf.distribute.get_strategy()
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # the GPU was initialised already
            pass
    return use_devices([f"/gpu:{i}" for i in range(len(gpus))], mixed_precision)


def use_devices(devices, mixed_precision=True):
    """The accelerator settings for ``devices`` (e.g. ``['/gpu:0', '/gpu:1']``); returns the strategy.

    * ``mixed_float16`` becomes the global Keras policy (when
      ``mixed_precision``), which roughly doubles throughput on tensor cores;
      the ``predictions`` layer of :func:`course_utils.model.add_head` keeps
      ``float32`` so the softmax stays numerically stable, and ``compile``
      adds loss scaling;
    * with two or more devices a ``MirroredStrategy`` over them is used; with
      one the default strategy already places everything on it.

    The tests call it with logical CPU devices, which runs the same code paths
    on a machine without a GPU.
    """
    global _STRATEGY
    import tensorflow as tf

    if mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    _STRATEGY = (tf.distribute.MirroredStrategy(list(devices)) if len(devices) > 1
                 else tf.distribute.get_strategy())
    return _STRATEGY


def strategy_scope():
    """The scope to build models in after :func:`setup_accelerator` (a no-op on CPU)."""
    import contextlib

    return _STRATEGY.scope() if _STRATEGY is not None else contextlib.nullcontext()


# ---------------------------------------------------------------- checks

def check_epochs(epochs):
    """Return ``epochs`` as an int if it is a whole number >= 1, else a one-line CourseError."""
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise CourseError(t("training.bad_epochs", value=epochs))
    return int(epochs)


def check_lr(lr):
    """Return ``lr`` as a float if it is a positive number below 10, else a one-line CourseError."""
    if (isinstance(lr, bool) or not isinstance(lr, (int, float, np.number))
            or not 0 < lr < 10):  # also rejects NaN
        raise CourseError(t("training.bad_lr", value=lr))
    return float(lr)


def _check_model(model, data):
    if not isinstance(model, keras.Model):
        raise CourseError(t("model.not_a_model", kind=type(model).__name__))
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


# ---------------------------------------------------------------- graph walking

def _nodes(model):
    """The model's own nodes, producers before consumers."""
    by_depth = model._nodes_by_depth
    return [node for depth in sorted(by_depth, reverse=True) for node in by_depth[depth]]


def _index(model):
    return {id(layer): i for i, layer in enumerate(model.layers)}


def _producer(tensor):
    return tensor._keras_history.operation


def _is_training_only(layer):
    name = type(layer).__name__
    return name in _TRAINING_ONLY or name.startswith("Random")


def trainable_boundary(model):
    """Index K in ``model.layers`` of the first layer with trainable weights.

    Layers ``< K`` are frozen, so their outputs can be cached. Weightless
    training-only layers (Dropout, ...) just below K are moved above it.
    """
    for k, layer in enumerate(model.layers):
        if layer.trainable_weights:
            return _lower_past_noise(model, k)
    raise CourseError(t("training.nothing_trainable"))


def head_boundary(model):
    """Index of the first layer whose input is the pooled 1280-d feature vector (the head)."""
    return _lower_past_noise(model, _index(model)[id(model.get_layer(HEAD_LAYER))])


def _lower_past_noise(model, k):
    while k > 0 and _is_training_only(model.layers[k - 1]) and not model.layers[k - 1].weights:
        k -= 1
    return k


def _base_length(model, base):
    if base is not None:
        return len(base.layers)
    try:
        return _index(model)[id(model.get_layer(POOL_LAYER))]
    except ValueError:
        return None


def unfreeze_boundary(model, base, n, keep_batchnorm_frozen=True):
    """The boundary K that ``model.unfreeze_last(base, n)`` would give, without unfreezing."""
    length = _base_length(model, base)
    if length is None or not n:
        return None
    layers = model.layers[max(length - n, 0):length]
    for offset, layer in enumerate(layers):
        if layer.weights and not (keep_batchnorm_frozen and is_batchnorm(layer)):
            return _lower_past_noise(model, max(length - n, 0) + offset)
    return None


def crossing_tensors(model, k):
    """Tensors produced by layers ``< k`` and consumed by layers ``>= k`` (graph order)."""
    index = _index(model)
    found = {}
    for node in _nodes(model):
        if node.is_input or index.get(id(node.operation), -1) < k:
            continue
        for tensor in node.input_tensors:
            if index[id(_producer(tensor))] < k:
                found.setdefault(id(tensor), tensor)
    return list(found.values())


def cacheable(model, k):
    """True when everything below ``k`` is deterministic (no Dropout, no Random* layer)."""
    return not any(_is_training_only(layer) for layer in model.layers[:k])


def top_model(model, k):
    """A model from the tensors crossing boundary ``k`` to the outputs.

    It re-calls the **same layer objects** as ``model`` (layers ``>= k``), so
    training it trains the learner's model. Cached per (model, boundary).
    """
    per_model = _TOP_MODELS.setdefault(model, {})
    if k in per_model:
        return per_model[k]
    index = _index(model)
    crossing = crossing_tensors(model, k)
    inputs = [keras.Input(shape=tuple(x.shape[1:]), dtype=x.dtype,
                          name=f"cached_{_producer(x).name}_{i}")
              for i, x in enumerate(crossing)]
    tensors = {id(x): new for x, new in zip(crossing, inputs)}
    for node in _nodes(model):
        if node.is_input or index[id(node.operation)] < k:
            continue
        args, kwargs = node.arguments.fill_in(tensors)
        outputs = node.operation(*args, **kwargs)
        for old, new in zip(node.outputs, keras.tree.flatten(outputs)):
            tensors[id(old)] = new
    outputs = [tensors[id(x)] for x in model.outputs]
    with strategy_scope():  # a model made outside a MirroredStrategy cannot be trained in it
        top = keras.Model(inputs if len(inputs) > 1 else inputs[0],
                          outputs if len(outputs) > 1 else outputs[0],
                          name=f"{model.name}_top_from_{k}")
    per_model[k] = top
    return top


# ---------------------------------------------------------------- activation cache

class ActivationCache:
    """Least-recently-used store of activations, one entry per (tensor, split)."""

    def __init__(self, budget_bytes=None):
        """In-memory budget per FlowerData object (config ``cache_mb``); a boundary whose
        activations would not fit (one close to the input) is trained with the full pass."""
        self.budget_bytes = budget_bytes or get_settings().cache_mb * 2**20
        self.entries = OrderedDict()

    @property
    def nbytes(self):
        return sum(a.nbytes for a in self.entries.values())

    def get(self, key):
        if key in self.entries:
            self.entries.move_to_end(key)
            return self.entries[key]
        return None

    def put(self, key, array):
        self.entries[key] = array
        self.entries.move_to_end(key)
        while self.nbytes > self.budget_bytes and len(self.entries) > 1:
            self.entries.popitem(last=False)

    def clear(self):
        self.entries.clear()


def activation_cache(data):
    """The in-memory cache attached to a FlowerData object (created on first use)."""
    cache = getattr(data, "_activation_cache", None)
    if cache is None:
        cache = ActivationCache()
        data._activation_cache = cache
    return cache


def clear_cache(data):
    """Free the cached features and activations of ``data``."""
    activation_cache(data).clear()


def _fingerprint(model, upto):
    """Hash of the weights of layers ``0..upto``: changes whenever they change."""
    digest = hashlib.sha1()
    for layer in model.layers[:upto + 1]:
        for w in layer.weights:
            digest.update(np.ascontiguousarray(keras.ops.convert_to_numpy(w)).tobytes())
    return digest.hexdigest()


def _tensor_key(model, tensor, fingerprints):
    producer = _producer(tensor)
    upto = _index(model)[id(producer)]
    if upto not in fingerprints:
        fingerprints[upto] = _fingerprint(model, upto)
    history = tensor._keras_history
    return (tuple(model.input_shape[1:]), producer.name, history.node_index,
            history.tensor_index, fingerprints[upto])


def _split_key(data, split):
    x = data.split(split)[0]
    return (split, id(x), x.shape)


def _bytes_per_photo(tensors):
    return sum(int(np.prod(x.shape[1:])) * np.dtype(x.dtype).itemsize for x in tensors)


def _fits_budget(data, tensors, splits):
    n = sum(len(data.split(s)[1]) for s in splits)
    return _bytes_per_photo(tensors) * n <= activation_cache(data).budget_bytes


def cached_activations(model, data, k, splits, extra_boundaries=(), verbose=1):
    """Activations at boundary ``k`` for each split: ``{split: [array per tensor]}``.

    Missing ones are computed in **one** forward pass per split, which also
    fills the cache for ``extra_boundaries`` (e.g. the fine-tuning boundary
    during feature extraction).
    """
    cache = activation_cache(data)
    fingerprints = {}
    wanted = crossing_tensors(model, k)
    extra = [x for b in extra_boundaries if b is not None and cacheable(model, b)
             for x in crossing_tensors(model, b)]
    kept = []  # extra tensors only while all of them fit the budget together with ``wanted``
    for x in extra:
        if _fits_budget(data, wanted + kept + [x], splits):
            kept.append(x)
    extra = kept
    todo = {}
    for split in splits:
        missing = OrderedDict()
        for x in wanted + extra:
            key = (_tensor_key(model, x, fingerprints), _split_key(data, split))
            if cache.get(key) is None:
                missing.setdefault(id(x), (x, key))
        if missing:
            todo[split] = list(missing.values())
    fresh = _extract(model, data, todo, verbose) if todo else {}
    result = {}
    for split in splits:
        keys = [(_tensor_key(model, x, fingerprints), _split_key(data, split)) for x in wanted]
        result[split] = [fresh[key] if key in fresh else cache.get(key) for key in keys]
    return result


def _forward(net):
    """A traced-once inference function of a Keras model (cached per model)."""
    import tensorflow as tf

    fn = _FORWARD.get(net)
    if fn is None:
        specs = [tf.TensorSpec((None,) + tuple(x.shape[1:]), x.dtype) for x in net.inputs]
        specs = specs if len(specs) > 1 else specs[0]

        def run(inputs):
            outputs = net(inputs, training=False)
            return outputs if isinstance(outputs, (list, tuple)) else [outputs]

        fn = tf.function(run, input_signature=[specs], jit_compile=False, autograph=False)
        _FORWARD[net] = fn
    return fn


def _extractor(model, tensors):
    per_model = _EXTRACTORS.setdefault(model, {})
    key = tuple(id(x) for x in tensors)
    if key not in per_model:
        with strategy_scope():
            per_model[key] = keras.Model(model.inputs, list(tensors))
    return per_model[key]


def _photo_forward(net, dtype):
    """A traced-once function: photos -> ``preprocess`` -> ``net`` in inference mode."""
    import tensorflow as tf

    from .data import preprocess

    per_net = _PHOTO_FORWARD.setdefault(net, {})
    if dtype not in per_net:
        spec = tf.TensorSpec((None,) + tuple(net.inputs[0].shape[1:]), tf.as_dtype(dtype))

        def run(photos):
            outputs = net(preprocess(photos), training=False)
            return outputs if isinstance(outputs, (list, tuple)) else [outputs]

        per_net[dtype] = tf.function(run, input_signature=[spec], jit_compile=False,
                                     autograph=False)
    return per_net[dtype]


def run_on_photos(net, photos, batch_size=EXTRACT_BATCH, bar=None):
    """``net``'s outputs (one array per output) for ``uint8`` photos, preprocessing included.

    Batches are slices of the in-memory array fed to one traced function that
    preprocesses and runs the network: no ``tf.data`` pipeline, whose worker
    threads compete with the network for a small CPU's two cores (measured:
    27 s instead of 36-45 s for the 2,865 train + val photos at 224 px).
    """
    photos = np.asarray(photos)
    run = _photo_forward(net, photos.dtype)
    n = len(photos)
    out = [np.empty((n,) + tuple(x.shape[1:]), dtype=np.dtype(x.dtype)) for x in net.outputs]
    for start in range(0, n, batch_size):
        values = run(photos[start:start + batch_size])
        for array, value in zip(out, values):
            array[start:start + batch_size] = value.numpy()
        if bar is not None:
            bar.update(min(batch_size, n - start))
    return out


def _extract(model, data, todo, verbose):
    """Run the frozen part once over the photos of each split in ``todo``; fill the cache.

    Returns ``{key: array}`` of what was computed (safe even if the cache
    budget evicts some of it right away).
    """
    cache = activation_cache(data)
    fresh = {}
    total = sum(len(data.split(s)[1]) for s in todo)
    bar = _bar(total, t("training.bar_features", splits="+".join(todo)), "zdj", verbose)
    try:
        for split, items in todo.items():
            extractor = _extractor(model, [x for x, _ in items])
            out = run_on_photos(extractor, data.split(split)[0], bar=bar)
            for (_, key), array in zip(items, out):
                fresh[key] = array
                cache.put(key, array)
    finally:
        if bar is not None:
            bar.close()
    return fresh


def _predict_arrays(net, arrays, batch_size=256):
    """Run ``net`` on in-memory arrays in batches (no ``predict`` retracing)."""
    run = _forward(net)
    n = len(arrays[0])
    parts = []
    for start in range(0, n, batch_size):
        batch = [a[start:start + batch_size] for a in arrays]
        parts.append(run(batch if len(batch) > 1 else batch[0])[0].numpy())
    return np.concatenate(parts) if parts else np.zeros((0,) + tuple(net.outputs[0].shape[1:]))


# ---------------------------------------------------------------- progress

def _bar(total, desc, unit, verbose):
    if not verbose:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, leave=True, mininterval=0.5)


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


def _array_dataset(arrays, labels, batch_size, shuffle, seed):
    """Cached activations and labels in batches (shuffled as ``data.dataset`` shuffles photos)."""
    import tensorflow as tf

    x = tuple(arrays) if len(arrays) > 1 else arrays[0]
    ds = tf.data.Dataset.from_tensor_slices((x, labels))
    if shuffle:
        ds = ds.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(1)


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
            model.compile(optimizer=keras.optimizers.Adam(recipe.learning_rate), loss=recipe.loss,
                          metrics=["accuracy"], jit_compile=False)
        mark_course_compiled(model)


def _fit_cached(model, data, k, epochs, recipe, desc, verbose, seed,
                progress_callback, extra_boundaries=()):
    splits = ("train", "val") if len(data.y_val) else ("train",)
    acts = cached_activations(model, data, k, splits, extra_boundaries, verbose)
    top = top_model(model, k)
    seed = data.seed if seed is None else seed
    train = _array_dataset(acts["train"], targets(data, _labels(data, "train")), data.batch_size,
                           True, seed)
    val = (_array_dataset(acts["val"], targets(data, _labels(data, "val")), data.batch_size, False,
                          seed) if "val" in acts else None)
    with strategy_scope():
        compile_with(top, recipe)
        history = top.fit(train, validation_data=val, epochs=epochs, verbose=0, shuffle=False,
                          callbacks=[EpochProgress(epochs, desc, verbose, progress_callback)])
    history.set_model(model)
    history.recipe = recipe
    _compile_learner_model(model, recipe)
    return history


def _fit_full(model, data, epochs, recipe, augmentation, verbose, seed,
              progress_callback):
    """The ordinary ``model.fit`` through the whole network (augmentation, no cache)."""
    from .data import preprocess

    seed = data.seed if seed is None else seed
    if augmentation is None:
        train = data.dataset("train")
    else:
        import tensorflow as tf

        labels = data.split("train")[1]
        ds = tf.data.Dataset.from_tensor_slices((data.x_train, labels))
        ds = ds.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True).batch(data.batch_size)
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
                                                     progress_callback)])
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


def fine_tune_cached(model, base, data, unfreeze=20, learning_rate=None, epochs=None,
                     verbose=1, *, augmentation=None, keep_batchnorm_frozen=True, seed=None,
                     progress_callback=None, use_compiled=True):
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
    if (augmentation is not None or not cacheable(model, k)
            or not _fits_budget(data, crossing_tensors(model, k), splits)):
        return _fit_full(model, data, epochs, recipe, augmentation, verbose, seed,
                         progress_callback)
    return _fit_cached(model, data, k, epochs, recipe, t("training.bar_finetune"),
                       verbose, seed, progress_callback)


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
    return {"accuracy": float(np.mean(np.argmax(probs, axis=1) == labels)),
            "loss": float(-np.mean(np.log(picked))), "n": int(len(labels))}


# ---------------------------------------------------------------- freeze-depth lab

def make_lab_train_fn(model, base, data, *, seed=None, verbose=0):
    """``train_fn(depth, lr, epochs, progress_callback) -> dict`` for the freeze-depth lab.

    The model's weights are snapshot now (the feature-extraction checkpoint)
    and restored before every run, so every click starts from the same point.
    Each run unfreezes the last ``depth`` layers (BatchNorm stays frozen),
    fine-tunes with the cached path (Adam at the lab's learning rate, cross-entropy
    and accuracy, whatever the model was compiled with, so runs compare), calls ``progress_callback(done, total)``
    after every epoch and returns ``{'accuracy', 'val_accuracy', 'loss',
    'val_loss'}`` (lists, one value per epoch). ``depth=0`` trains only the
    head. ``train_fn.snapshot`` holds the checkpoint, ``train_fn.restore()``
    puts it back.
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
                                       progress_callback=progress_callback, use_compiled=False)
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
