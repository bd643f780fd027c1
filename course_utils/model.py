"""MobileNetV2 base, the classification head, and freezing / unfreezing helpers."""
import math
import re
from collections import namedtuple
from pathlib import Path

from .backend import import_tensorflow

import_tensorflow()
import keras

from .config import HEAD_LAYER, IMAGE_SIZES, POOL_LAYER, get_settings
from .errors import CourseError
from .messages import t
from .validate import is_int, keras_model

ParamCounts = namedtuple("ParamCounts", "trainable non_trainable total")

BLOCKS = ["stem"] + [f"block_{i}" for i in range(1, 17)] + ["Conv_1"]
_BLOCK_RE = re.compile(r"^(block_\d+)_")


def build_base(image_size=None, weights=None):
    """Load MobileNetV2 without its top, with ImageNet weights (download or local file)."""
    settings = get_settings()
    image_size = image_size or settings.image_size
    weights = weights or settings.weights
    if image_size not in IMAGE_SIZES:
        raise CourseError(t("model.bad_image_size", size=image_size, sizes=IMAGE_SIZES))
    if weights not in ("imagenet", None) and not Path(weights).is_file():
        raise CourseError(t("model.weights_missing", path=weights))
    try:
        return keras.applications.MobileNetV2(
            input_shape=(image_size, image_size, 3), alpha=1.0,
            include_top=False, weights=weights)
    except Exception as exc:  # download failed (offline) or a broken file
        if weights == "imagenet":
            raise CourseError(t("model.download_failed", error=type(exc).__name__)) from None
        raise CourseError(t("model.weights_unreadable", path=weights, error=exc)) from None


def add_head(base, num_classes=5):
    """Add the source's head: GlobalAveragePooling2D + Dense(num_classes, softmax)."""
    features = keras.layers.GlobalAveragePooling2D(name=POOL_LAYER)(base.output)
    # float32 even under a mixed_float16 policy (GPU): a stable softmax
    outputs = keras.layers.Dense(num_classes, activation="softmax", name=HEAD_LAYER,
                                 dtype="float32")(features)
    return keras.Model(inputs=base.input, outputs=outputs, name="flowers_mobilenetv2")


def build_model(num_classes=5, image_size=None, weights=None):
    """Return ``(model, base)``: a frozen MobileNetV2 base with the new head on top."""
    base = build_base(image_size, weights)
    freeze(base)
    return add_head(base, num_classes), base


def freeze(base):
    """Freeze the whole base: no weight of it changes during training."""
    base.trainable = False
    # Keras skips ``base.trainable = False`` when the flag is already False, even after
    # single layers were unfrozen one by one (the source's loop): set every layer too.
    for layer in base.layers:
        layer.trainable = False
    return base


def check_depth(base, n):
    """Raise a one-line CourseError unless 0 <= n <= number of layers of the base."""
    if not is_int(n):
        raise CourseError(t("model.depth_not_int", value=n))
    if not 0 <= n <= len(base.layers):
        raise CourseError(t("model.depth_out_of_range", value=n, max=len(base.layers)))


def unfreeze_last(base, n, keep_batchnorm_frozen=True):
    """Make the last ``n`` layers of the base trainable; return how many are trainable.

    BatchNorm layers stay frozen by default. In Keras 3 a BatchNormalization
    layer with ``trainable=False`` runs in inference mode: it normalises with the
    mean and variance it learned on ImageNet. If it were trainable it would use
    the statistics of each small flower batch instead and overwrite its moving
    averages, which shifts every feature the layers above were trained on and
    can wipe out in one epoch what feature extraction achieved.
    """
    check_depth(base, n)
    return unfreeze_from(base, len(base.layers) - n, keep_batchnorm_frozen)


def unfreeze_from(base, start, keep_batchnorm_frozen=True):
    """Unfreeze the base from ``start`` on: a layer index, a block name or a layer name."""
    flags = unfreeze_flags(base, start, keep_batchnorm_frozen)
    base.trainable = True
    for layer, flag in zip(base.layers, flags):
        layer.trainable = flag
    return sum(flags)


def is_batchnorm(layer):
    """True for BatchNormalization layers (kept frozen when the base is unfrozen)."""
    return isinstance(layer, keras.layers.BatchNormalization)


def unfreeze_flags(base, start, keep_batchnorm_frozen=True):
    """Per layer: trainable after unfreezing from ``start`` (index or block name), without changing it."""
    if isinstance(start, str):
        start = block_start_index(base, start)
    check_depth(base, start)
    return [i >= start and not (keep_batchnorm_frozen and is_batchnorm(layer))
            for i, layer in enumerate(base.layers)]


def block_of(layer_name):
    """Name of the MobileNetV2 block a layer belongs to (stem, block_1..16, Conv_1)."""
    match = _BLOCK_RE.match(layer_name)
    if match:
        return match.group(1)
    if layer_name.startswith(("Conv_1", "out_relu")):
        return "Conv_1"
    return "stem"


def block_start_index(base, name):
    """Index of the first layer of a block (or of a layer) with this name."""
    for i, layer in enumerate(base.layers):
        if layer.name == name or block_of(layer.name) == name:
            return i
    raise CourseError(t("model.unknown_block", name=name, blocks=", ".join(BLOCKS)))


def weight_count(weights):
    """Number of values in a list of variables (a layer's or a model's weights)."""
    return sum(math.prod(w.shape) for w in weights)


def count_params(model):
    """Count trainable, frozen (non-trainable) and all parameters of a model."""
    keras_model(model)
    trainable = weight_count(model.trainable_weights)
    frozen = weight_count(model.non_trainable_weights)
    return ParamCounts(trainable, frozen, trainable + frozen)


# --- what a depth means (FreezeLab's queries; nothing here changes a flag) ----------

def trainable_flags(base, depth=None):
    """Per layer of the base: trainable now, or as ``unfreeze_last(base, depth)`` would set it."""
    if depth is None:
        return [bool(base.trainable and layer.trainable) for layer in base.layers]
    check_depth(base, depth)
    return unfreeze_flags(base, len(base.layers) - depth)


def current_depth(base):
    """How many of the last layers are trainable now, as ``unfreeze_last`` sets them (None: another pattern)."""
    now = trainable_flags(base)
    if not any(now):
        return 0
    return next((d for d in range(1, len(now) + 1) if trainable_flags(base, d) == now), None)


def head_layers(model, base):
    """The layers of ``model`` that are not part of ``base`` (the head on top of it)."""
    inside = {id(layer) for layer in base.layers} | {id(base)}
    return [layer for layer in model.layers if id(layer) not in inside]


def counts_at_depth(model, base, depth):
    """ParamCounts ``model`` would have after ``unfreeze_last(base, depth)``, without changing a flag."""
    head = head_layers(model, base)
    flags = trainable_flags(base, depth)
    trainable = (sum(weight_count(layer.trainable_weights) for layer in head)
                 + sum(weight_count(layer.weights) for layer, flag in zip(base.layers, flags) if flag))
    total = sum(weight_count(layer.weights) for layer in head) + sum(weight_count(layer.weights)
                                                                      for layer in base.layers)
    return ParamCounts(trainable, total - trainable, total)


def batchnorm_in_last(base, depth):
    """Number of BatchNormalization layers among the last ``depth`` layers of the base."""
    check_depth(base, depth)
    return sum(1 for layer in base.layers[len(base.layers) - depth:] if is_batchnorm(layer))


def save_trained(model, path, class_names, history=None, **extra):
    """Save a trained model (``.keras``) with its class names, image size and history beside it.

    ``extra`` fields (e.g. the test accuracy) are stored in the same JSON sidecar.
    """
    import json

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    logs = getattr(history, "history", history) or {}
    meta = {"class_names": list(class_names), "image_size": int(model.input_shape[1]),
            "history": {k: [float(v) for v in vals] for k, vals in logs.items()}, **extra}
    path.with_suffix(".json").write_text(json.dumps(meta, ensure_ascii=False, indent=1),
                                         encoding="utf-8")
    return path


def load_trained(path):
    """Load a model saved by :func:`save_trained`; return ``(model, class_names)``."""
    import json

    path = Path(path)
    meta_path = path.with_suffix(".json")
    if not path.is_file() or not meta_path.is_file():
        raise CourseError(t("model.saved_missing", path=path))
    try:
        model = keras.models.load_model(path, compile=False)  # lessons compile anew
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        return model, meta["class_names"]
    except Exception as exc:  # a truncated or foreign file
        raise CourseError(t("model.saved_unreadable", path=path, error=type(exc).__name__)) from None


def saved_history(path):
    """The training history saved with a model by :func:`save_trained` (``{}`` if none)."""
    import json

    meta_path = Path(path).with_suffix(".json")
    try:
        return json.loads(meta_path.read_text(encoding="utf-8")).get("history", {})
    except (OSError, ValueError):
        return {}


def base_of(model):
    """The MobileNetV2 part of a course model as its own model (the same layer objects)."""
    try:
        top = model.get_layer("out_relu")
    except ValueError:
        raise CourseError(t("model.no_base", name=model.name)) from None
    return keras.Model(model.input, top.output, name="base_model")


def lesson_model_path(name):
    """Where a lesson saves its model for the next lessons (``$COURSE_HOME/models``)."""
    return get_settings().models_dir / f"{name}.keras"
