"""The activation cache of the fast paths: boundaries, cached activations, top models, forward passes.

The frozen part of a network gives the same output for a photo in every epoch,
so :mod:`course_utils.training` computes the activations of every tensor crossing
the freeze boundary **once** (:func:`cached_activations`) and trains a
:func:`top_model` made of the same layer objects above it. Caches live in memory
on the :class:`~course_utils.data.FlowerData` object, one entry per (crossing
tensor, split), keyed also by a fingerprint of the weights below it, so a stale
cache is never used.
"""
import hashlib
import math
import weakref
from collections import OrderedDict

from .backend import import_tensorflow

import_tensorflow()
import keras
import numpy as np

from .accelerator import strategy_scope
from .config import BATCH_SIZE, HEAD_LAYER, POOL_LAYER, get_settings
from .errors import CourseError
from .messages import t
from .model import is_batchnorm

EXTRACT_BATCH = BATCH_SIZE  # photos per forward pass while caching

# Layers without weights that still behave differently while training: with
# one of them below the freeze boundary the cached activations would be wrong.
_TRAINING_ONLY = ("Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
                  "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization")

_WIRING = weakref.WeakKeyDictionary()  # learner's model -> _Wiring
_TOP_MODELS = weakref.WeakKeyDictionary()  # learner's model -> {boundary: top model}
_EXTRACTORS = weakref.WeakKeyDictionary()  # learner's model -> {tensor ids: extractor}
_FORWARD = weakref.WeakKeyDictionary()  # any Keras model -> traced inference function
_PHOTO_FORWARD = weakref.WeakKeyDictionary()  # Keras model -> {photo dtype: traced function}


# ---------------------------------------------------------------- graph walking (public Keras APIs)

class _Wiring:
    """Which layer of a functional model produces and which consume each tensor.

    Read through ``layer.input`` / ``layer.output`` (the layer's first call, the one that
    built the model). A nested model (``x = base(inputs)``) counts as one layer whose
    own ``input`` / ``output`` belong to its inner graph: the tensors it produces are
    the ones no plain layer produces, and nothing is cached above or across it.
    """

    def __init__(self, model):
        self.nested = [i for i, layer in enumerate(model.layers) if isinstance(layer, keras.Model)]
        self.made = {}  # id(tensor) -> (layer index, output position)
        self.inputs = []  # per layer: its input tensors (None for a nested model)
        for i, layer in enumerate(model.layers):
            if i in self.nested:
                self.inputs.append(None)
                continue
            if not isinstance(layer, keras.layers.InputLayer):
                self.inputs.append(keras.tree.flatten(layer.input))
            else:
                self.inputs.append([])
            for position, tensor in enumerate(keras.tree.flatten(layer.output)):
                self.made[id(tensor)] = (i, position)
        # every input of a plain layer comes from a layer of this model (or from a nested model)
        self.readable = bool(self.nested) or all(id(x) in self.made for xs in self.inputs if xs for x in xs)

    def producer(self, tensor):
        """``(layer index, output position)`` of the layer that outputs ``tensor``; None: a nested model."""
        return self.made.get(id(tensor))


def _wiring(model):
    """The model's :class:`_Wiring`, read once per model."""
    wiring = _WIRING.get(model)
    if wiring is None:
        wiring = _WIRING[model] = _Wiring(model)
    return wiring


def _index(model):
    return {id(layer): i for i, layer in enumerate(model.layers)}


def producer(model, tensor):
    """The layer of ``model`` that outputs ``tensor`` (a nested model when no plain layer does)."""
    found = _wiring(model).producer(tensor)
    if found is not None:
        return model.layers[found[0]]
    nested = _wiring(model).nested
    return model.layers[nested[-1]] if nested else None


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
    """Tensors produced by layers ``< k`` and consumed by layers ``>= k`` (in the consumers' order)."""
    wiring = _wiring(model)
    found = {}
    for xs in wiring.inputs[k:]:
        for tensor in xs or ():
            made = wiring.producer(tensor)
            if made is None or made[0] < k:  # None: a nested model's output, and nested models lie below k
                found.setdefault(id(tensor), tensor)
    return list(found.values())


def cacheable(model, k):
    """True when the part below ``k`` can be cached: deterministic (no Dropout, no Random* layer),
    no nested model above it, and the model's wiring readable."""
    wiring = _wiring(model)
    return (wiring.readable and not any(i >= k for i in wiring.nested)
            and not any(_is_training_only(layer) for layer in model.layers[:k]))


def top_model(model, k):
    """A model from the tensors crossing boundary ``k`` to the outputs.

    Keras builds it from the intermediate tensors themselves
    (``keras.Model(inputs=crossing tensors, outputs=model.outputs)``), calling the
    **same layer objects** as ``model`` (layers ``>= k``), so training it trains the
    learner's model. Cached per (model, boundary).
    """
    per_model = _TOP_MODELS.setdefault(model, {})
    if k in per_model:
        return per_model[k]
    crossing = crossing_tensors(model, k)
    outputs = model.outputs
    with strategy_scope():  # a model made outside a MirroredStrategy cannot be trained in it
        top = keras.Model(crossing if len(crossing) > 1 else crossing[0],
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
    """The in-memory cache a FlowerData object owns (``data.activation_cache()``)."""
    return data.activation_cache()


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
    """What identifies a cached tensor: input shape, producing layer and output, weights below it."""
    made = _wiring(model).producer(tensor)
    if made is None:  # a nested model's output: keyed by that model, its weights and the position
        upto = _wiring(model).nested[-1]
        outputs = [id(x) for xs in _wiring(model).inputs if xs for x in xs if _wiring(model).producer(x) is None]
        made = (upto, outputs.index(id(tensor)))
    upto, position = made
    if upto not in fingerprints:
        fingerprints[upto] = _fingerprint(model, upto)
    return (tuple(model.input_shape[1:]), model.layers[upto].name, position, fingerprints[upto])


def _split_key(data, split, photos=None):
    x = data.split(split)[0] if photos is None else photos
    return (split, id(x), x.shape)


def _cached_prefix(data, split, items):
    """``(arrays, n)``: the cached activations of the first ``n`` photos of ``split`` for every
    item, when those photos are another array already cached (``data.prefix_of``); else ``(None, 0)``."""
    prefix = data.prefix_of(split)
    if prefix is None:
        return None, 0
    arrays = [activation_cache(data).get((key[0], _split_key(data, split, prefix))) for _, key in items]
    if any(a is None for a in arrays):
        return None, 0
    return arrays, len(prefix)


def _bytes_per_photo(tensors):
    """Bytes one photo's activations of ``tensors`` take."""
    return sum(math.prod(x.shape[1:]) * np.dtype(x.dtype).itemsize for x in tensors)


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
    known = {split: _cached_prefix(data, split, items) for split, items in todo.items()}
    total = sum(len(data.split(s)[1]) - known[s][1] for s in todo)
    bar = _bar(total, t("training.bar_features", splits="+".join(todo)), "zdj", verbose)
    try:
        for split, items in todo.items():
            extractor = _extractor(model, [x for x, _ in items])
            prefix, n = known[split]
            out = run_on_photos(extractor, data.split(split)[0][n:], bar=bar)
            if prefix is not None:
                out = [np.concatenate([a, b]) for a, b in zip(prefix, out)]
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


def _bar(total, desc, unit, verbose):
    if not verbose:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, leave=True, mininterval=0.5)
