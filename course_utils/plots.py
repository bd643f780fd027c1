"""Plots of the course: each function returns a matplotlib Figure (nothing is shown).

The figures are plain ``matplotlib.figure.Figure`` objects (no pyplot state), so
a notebook shows a returned figure once, tests can inspect its artists, and
widgets can turn it into PNG bytes with :func:`figure_png`.
"""
import io
import math

from .backend import import_tensorflow

import_tensorflow()
import keras
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from .errors import CourseError
from .messages import t
from .model import BLOCKS, block_of, check_depth, is_batchnorm, trainable_flags, unfreeze_flags  # noqa: F401
from .validate import int_at_least, is_int

HISTORY_KEYS = ("accuracy", "val_accuracy", "loss", "val_loss")
TRAINABLE_COLOR = "#2a9d8f"
FROZEN_COLOR = "#d9d9d9"
FROZEN_HATCH = "///"
MISTAKE_COLOR = "#c0392b"
CORRECT_COLOR = "#1e7b34"


class CourseFigure(Figure):
    """A Figure that also shows itself as PNG where no matplotlib display hook is set up."""

    def _repr_png_(self):
        """PNG bytes for IPython's rich display."""
        return figure_png(self)


def new_figure(width, height):
    """A fresh figure with constrained layout, independent of pyplot."""
    return CourseFigure(figsize=(width, height), layout="constrained")


def figure_png(fig, dpi=80):
    """Render a figure to PNG bytes (for ipywidgets.Image and notebooks)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


# --- learning curves --------------------------------------------------------

def history_dict(history, required=HISTORY_KEYS):
    """Return the metrics of a keras History or a dict as lists of floats, checking keys."""
    data = getattr(history, "history", history)
    if not isinstance(data, dict):
        raise CourseError(t("plots.history_not_dict", kind=type(history).__name__))
    for key in required:
        if key not in data:
            raise CourseError(t("plots.history_missing_key", name=key, keys=", ".join(map(str, data)) or "-"))
        if len(data[key]) == 0:
            raise CourseError(t("plots.history_empty", name=key))
    return {key: [float(v) for v in np.ravel(np.asarray(value, dtype=float))]
            for key, value in data.items() if key in required}


def plot_history(fe_history, ft_history=None):
    """Learning curves of feature extraction (and fine-tuning) with a marker where fine-tuning starts."""
    fe = history_dict(fe_history)
    ft = history_dict(ft_history) if ft_history is not None else None
    n_fe = len(fe["accuracy"])
    fig = new_figure(11, 4)
    axes = fig.subplots(1, 2)
    for ax, metric in zip(axes, ("accuracy", "loss")):
        for key, label, style in ((metric, t("plots.train"), "-o"), (f"val_{metric}", t("plots.val"), "--s")):
            values = fe[key] + (ft[key] if ft else [])
            ax.plot(range(1, len(values) + 1), values, style, markersize=3, label=label)
        if ft:
            ax.axvline(n_fe, color="gray", linestyle=":", label=t("plots.fine_tune_start"))
        ax.set_xlabel(t("plots.epoch"))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(t(f"plots.{metric}"))
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(t("plots.history_title_ft" if ft else "plots.history_title"))
    return fig


def _runs_list(runs):
    """Runs as [(label, {val_accuracy, val_loss})], checked."""
    if isinstance(runs, dict):
        runs = list(runs.items())
    if not runs:
        raise CourseError(t("plots.no_runs"))
    checked = []
    for i, run in enumerate(runs, start=1):
        if not isinstance(run, (tuple, list)) or len(run) != 2:
            raise CourseError(t("plots.bad_run", index=i, kind=type(run).__name__))
        checked.append((str(run[0]), history_dict(run[1], ("val_accuracy", "val_loss"))))
    return checked


def plot_runs(runs):
    """Validation accuracy and loss of several runs overlaid, with a legend (runs: [(label, history)])."""
    runs = _runs_list(runs)
    fig = new_figure(11, 4)
    axes = fig.subplots(1, 2)
    for ax, key in zip(axes, ("val_accuracy", "val_loss")):
        for label, history in runs:
            values = history[key]
            ax.plot(range(1, len(values) + 1), values, "-o", markersize=3, label=label)
        ax.set_xlabel(t("plots.epoch"))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(t(f"plots.{key}"))
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    fig.suptitle(t("plots.runs_title"))
    return fig


# --- photos and predictions -------------------------------------------------

SCALES = ("pixels", "unit", "preprocessed")
RANGE_TOLERANCE = 1e-3  # float rounding around the ends of [0, 1] and [-1, 1]


def pixel_scale(array, scale=None):
    """Which of the three ways of storing a photo ``array`` uses: 'pixels', 'unit' or 'preprocessed'.

    ``scale`` says it explicitly; without it one rule decides, over the whole array:

    1. an integer array (``uint8`` photos) holds 0-255 pixels: ``'pixels'``;
    2. a float array with a value above 1 holds 0-255 pixels too: ``'pixels'``;
    3. a float array with a value below 0 is a MobileNetV2 input in [-1, 1]
       (after ``preprocess_input``): ``'preprocessed'``;
    4. any other float array lies within [0, 1]: a photo scaled to [0, 1]
       (pixels / 255, or a PNG read by matplotlib): ``'unit'``.

    Rule 4 also catches a preprocessed photo without a single negative value (one
    brighter than mid-grey everywhere); code that holds preprocessed inputs passes
    ``scale='preprocessed'``.
    """
    if scale is not None:
        if scale not in SCALES:
            raise CourseError(t("plots.bad_scale", value=scale))
        return scale
    array = np.asarray(array)
    if array.dtype.kind in "uib" or not array.size:
        return "pixels"
    if array.max() > 1.0 + RANGE_TOLERANCE:
        return "pixels"
    if array.min() < 0.0:
        return "preprocessed"
    return "unit"


def to_display(images, scale=None):
    """Images as floats in [0, 1] for ``imshow``; ``scale`` as in :func:`pixel_scale`."""
    array = np.asarray(images)
    if array.ndim not in (3, 4) or array.shape[-1] != 3:
        raise CourseError(t("plots.bad_images", shape=array.shape))
    kind = pixel_scale(array, scale)
    array = array.astype(np.float32)
    if kind == "pixels":
        array = array / 255.0
    elif kind == "preprocessed":
        array = (array + 1.0) / 2.0
    return np.clip(array, 0.0, 1.0)


class _Pictures:
    """A batch of photos (N, H, W, 3), checked; each one becomes floats in [0, 1] only when drawn.

    Converting the whole batch at once would copy every photo as floats (lesson 00 passes all
    training photos to show 9: at 224 px that copy alone took about 2.5 GB).
    """

    def __init__(self, images):
        self.array = np.asarray(images)
        if self.array.ndim != 4 or self.array.shape[-1] != 3:
            raise CourseError(t("plots.bad_images", shape=self.array.shape))
        self.scale = pixel_scale(self.array)

    def __len__(self):
        return len(self.array)

    def __getitem__(self, i):
        return to_display(self.array[i], self.scale)


def _images(images):
    """A batch of photos (N, H, W, 3), converted for ``imshow`` one at a time."""
    return _Pictures(images)


def _labels(labels, name, count, num_classes):
    """Class numbers (ints or one-hot) as an int array of length ``count``, checked."""
    array = np.asarray(labels)
    if array.ndim == 2:  # one-hot
        array = array.argmax(axis=1)
    array = array.reshape(-1)
    try:
        array = array.astype(float)
    except (TypeError, ValueError):
        raise CourseError(t("plots.bad_label", value=array[0].item(), max=num_classes - 1)) from None
    if len(array) != count:
        raise CourseError(t("plots.length_mismatch", a_name=t("plots.images_name"), a=count, b_name=name, b=len(array)))
    for value in array:
        if not float(value).is_integer() or not 0 <= value < num_classes:
            raise CourseError(t("plots.bad_label", value=value.item(), max=num_classes - 1))
    return array.astype(int)


def _check_n(n, maximum):
    """``n`` as an int between 1 and ``maximum`` (larger values are capped)."""
    return min(int_at_least(n, 1, "plots.bad_n", max=maximum), maximum)


def _grid(fig, count, cols=None):
    """``count`` image axes without ticks, in a near-square grid."""
    cols = cols or min(count, max(1, math.ceil(math.sqrt(count))))
    rows = math.ceil(count / cols)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False).ravel())
    for ax in axes:
        ax.axis("off")
    return axes[:count]


def plot_samples(images, labels, class_names, n=9):
    """Grid of ``n`` photos with their class names."""
    pictures = _images(images)
    labels = _labels(labels, t("plots.labels_name"), len(pictures), len(class_names))
    n = _check_n(n, max(1, len(pictures)))
    cols = min(n, 5)
    fig = new_figure(2.2 * cols, 2.4 * math.ceil(n / cols))
    for ax, picture, label in zip(_grid(fig, n, cols), pictures, labels):
        ax.imshow(picture)
        ax.set_title(class_names[label], fontsize=10)
    fig.suptitle(t("plots.samples_title"))
    return fig


def _prediction_title(true, pred, prob, class_names):
    """Title and colour of one prediction: ✓ or ✗ with the true class."""
    suffix = f" ({prob:.0%})" if prob is not None else ""
    if true == pred:
        return t("plots.pred_ok", pred=class_names[pred], prob=suffix), CORRECT_COLOR
    return t("plots.pred_wrong", pred=class_names[pred], prob=suffix, true=class_names[true]), MISTAKE_COLOR


def plot_predictions(images, y_true, y_pred, class_names, probs=None, n=None):
    """Grid of photos with the predicted class; mistakes get '✗', the true class and a red frame."""
    pictures = _images(images)
    count = len(pictures)
    y_true = _labels(y_true, "y_true", count, len(class_names))
    y_pred = _labels(y_pred, "y_pred", count, len(class_names))
    confidence = _probs(probs, count, len(class_names)).max(axis=1) if probs is not None else [None] * count
    n = _check_n(n, max(1, count)) if n is not None else max(1, min(count, 25))
    cols = min(n, 5)
    fig = new_figure(2.4 * cols, 2.8 * math.ceil(n / cols))
    for i, ax in enumerate(_grid(fig, n, cols)):
        title, color = _prediction_title(y_true[i], y_pred[i], confidence[i], class_names)
        ax.imshow(pictures[i])
        ax.set_title(title, fontsize=9, color=color)
        if y_true[i] != y_pred[i]:
            ax.axis("on")
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set(color=MISTAKE_COLOR, linewidth=3)
    correct = int((y_true[:n] == y_pred[:n]).sum())
    fig.suptitle(t("plots.predictions_title", correct=correct, total=n))
    return fig


def _probs(probs, count, num_classes=None):
    """Probabilities as an (N, classes) float array, checked."""
    array = np.asarray(probs, dtype=float)
    if array.ndim != 2 or (num_classes is not None and array.shape[1] != num_classes):
        raise CourseError(t("plots.bad_probs", shape=array.shape))
    if len(array) != count:
        raise CourseError(t("plots.length_mismatch", a_name="y_true", a=count, b_name="probs", b=len(array)))
    return array


def confusion_matrix(y_true, y_pred, num_classes):
    """Counts: row = true class, column = predicted class (``sklearn.metrics.confusion_matrix``)."""
    from sklearn.metrics import confusion_matrix as counts

    y_true = np.asarray(y_true).reshape(-1)
    y_true = _labels(y_true, "y_true", len(y_true), num_classes)
    y_pred = _labels(y_pred, "y_pred", len(y_true), num_classes)
    return counts(y_true, y_pred, labels=np.arange(num_classes)).astype(int)


def plot_confusion_matrix(y_true, y_pred, class_names):
    """Confusion matrix as a heat map with the count written in every cell."""
    matrix = confusion_matrix(y_true, y_pred, len(class_names))
    size = len(class_names)
    fig = new_figure(1.3 * size + 2.5, 1.1 * size + 2)
    ax = fig.subplots()
    ax.imshow(matrix, cmap="Blues", vmin=0)
    threshold = matrix.max() / 2 if matrix.max() else 1
    for (row, col), value in np.ndenumerate(matrix):
        ax.text(col, row, str(value), ha="center", va="center",
                color="white" if value > threshold else "black", fontsize=11)
    ax.set_xticks(range(size), class_names, rotation=30, ha="right")
    ax.set_yticks(range(size), class_names)
    ax.set_xlabel(t("plots.cm_pred"))
    ax.set_ylabel(t("plots.cm_true"))
    accuracy = np.trace(matrix) / matrix.sum() if matrix.sum() else 0.0
    ax.set_title(t("plots.cm_title", acc=accuracy))
    return fig


def most_confident_mistakes(y_true, probs, k=9):
    """Indices of the ``k`` wrong predictions with the highest confidence, most confident first."""
    int_at_least(k, 0, "plots.bad_k")
    y_true = np.asarray(y_true).reshape(-1)
    probs = _probs(probs, len(y_true))
    y_true = _labels(y_true, "y_true", len(y_true), probs.shape[1])
    predicted = probs.argmax(axis=1)
    wrong = np.flatnonzero(predicted != y_true)
    order = np.argsort(-probs[wrong].max(axis=1), kind="stable")
    return wrong[order][:k]


# --- inside the network -----------------------------------------------------

def _layer(base, name):
    """The layer called ``name`` or a CourseError."""
    try:
        return base.get_layer(name)
    except ValueError:
        raise CourseError(t("plots.no_layer", name=name)) from None


def plot_first_layer_filters(base):
    """The 32 filters (3x3x3) of the first convolution 'Conv1' shown as tiny RGB images."""
    kernel = _layer(base, "Conv1").get_weights()[0]  # (3, 3, 3, 32)
    count = kernel.shape[-1]
    fig = new_figure(10, 5.2)
    for i, ax in enumerate(_grid(fig, count, cols=8)):
        weights = kernel[..., i]
        low, high = weights.min(), weights.max()
        ax.imshow((weights - low) / (high - low or 1.0), interpolation="nearest")
        ax.set_title(t("plots.filter", i=i), fontsize=8)
    fig.suptitle(t("plots.filters_title", count=count))
    return fig


def resolve_layer_name(base, name):
    """A layer name as it is, or a block name (stem, block_1..16, Conv_1) -> the block's last layer."""
    names = [layer.name for layer in base.layers]
    if name in names and name not in BLOCKS:
        return name
    if name in BLOCKS:
        members = [n for n in names if block_of(n) == name]
        if members:
            return members[-1]
    raise CourseError(t("plots.no_layer", name=name))


def activation_model(base, layer_names):
    """A model from the base's input to the outputs of the given layers (or blocks)."""
    if isinstance(layer_names, str):
        layer_names = [layer_names]
    outputs = [_layer(base, resolve_layer_name(base, name)).output for name in layer_names]
    return keras.Model(inputs=base.input, outputs=outputs)


def input_size(base):
    """(height, width) the base expects."""
    shape = base.inputs[0].shape
    return int(shape[1]), int(shape[2])


def prepare_image(base, image, scale=None):
    """One photo (H x W x 3) as a preprocessed batch of one at the base's input size.

    ``scale`` as in :func:`pixel_scale`: 0-255 pixels and [0, 1] photos go through
    ``preprocess_input``; a photo already in [-1, 1] is only resized.
    """
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[-1] != 3:
        raise CourseError(t("plots.bad_image", shape=array.shape))
    kind = pixel_scale(array, scale)
    batch = array[None].astype(np.float32)
    if kind == "unit":
        batch = batch * 255.0
    if batch.shape[1:3] != input_size(base):
        batch = keras.ops.convert_to_numpy(keras.ops.image.resize(batch, input_size(base)))
    if kind != "preprocessed":
        batch = keras.applications.mobilenet_v2.preprocess_input(batch)
    return batch.astype(np.float32)


def plot_feature_maps(maps, layer_name, n=16):
    """Grid of the ``n`` strongest feature maps (H x W x C array of one photo)."""
    maps = np.asarray(maps)
    if maps.ndim != 3:
        raise CourseError(t("plots.not_conv_output", name=layer_name, shape=maps.shape))
    channels = maps.shape[-1]
    n = _check_n(n, channels)
    strongest = np.argsort(-maps.mean(axis=(0, 1)), kind="stable")[:n]
    cols = math.ceil(math.sqrt(n))
    fig = new_figure(1.9 * cols + 0.5, 1.9 * math.ceil(n / cols) + 0.7)
    for ax, channel in zip(_grid(fig, n), strongest):
        ax.imshow(maps[..., channel], cmap="viridis")
        ax.set_title(t("plots.channel", c=int(channel)), fontsize=8)
    fig.suptitle(t("plots.activations_title", layer=layer_name, block=block_of(layer_name),
                   shown=n, channels=channels, h=maps.shape[0], w=maps.shape[1]))
    return fig


def activations(base, image, layer_names):
    """Feature maps (H x W x C each) of one photo at the given layers or blocks."""
    names = [layer_names] if isinstance(layer_names, str) else list(layer_names)
    outputs = activation_model(base, names)(prepare_image(base, image), training=False)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return [keras.ops.convert_to_numpy(out)[0] for out in outputs]


def plot_activations(base, image, layer_name, n=16):
    """Feature maps of one photo at a chosen layer (or block): the ``n`` most active channels."""
    name = resolve_layer_name(base, layer_name)
    maps = activations(base, image, [name])[0]
    if maps.ndim != 3:
        raise CourseError(t("plots.not_conv_output", name=name, shape=maps.shape))
    if not is_int(n) or not 1 <= n <= maps.shape[-1]:
        raise CourseError(t("plots.bad_n", value=n, max=maps.shape[-1]))
    return plot_feature_maps(maps, name, n)


# --- frozen vs trainable ----------------------------------------------------

def block_summary(base, depth=None):
    """Per block (model.BLOCKS order): (block, layer flags, batchnorm flags)."""
    flags = trainable_flags(base, depth)
    rows = {block: ([], []) for block in BLOCKS}
    for layer, flag in zip(base.layers, flags):
        trainable, batchnorm = rows.setdefault(block_of(layer.name), ([], []))
        trainable.append(flag)
        batchnorm.append(is_batchnorm(layer))
    return [(block, flags, bn) for block, (flags, bn) in rows.items() if flags]


def plot_trainable_blocks(base, depth=None):
    """Layers of the base grouped by block: one cell per layer, trainable solid, frozen hatched."""
    rows = block_summary(base, depth)
    widest = max(len(flags) for _, flags, _ in rows)
    fig = new_figure(10, 0.32 * len(rows) + 1.6)
    ax = fig.subplots()
    for y, (_block, flags, _) in enumerate(rows):
        bars = ax.barh([y] * len(flags), [0.9] * len(flags), left=range(len(flags)), height=0.75,
                       color=[TRAINABLE_COLOR if f else FROZEN_COLOR for f in flags], edgecolor="#555555",
                       linewidth=0.5)
        for bar, flag in zip(bars, flags):
            bar.set_hatch(None if flag else FROZEN_HATCH)
            bar.set_gid("trainable" if flag else "frozen")
        ax.text(widest + 0.3, y, t("plots.block_state", trainable=sum(flags), total=len(flags)),
                va="center", fontsize=8)
    ax.set_yticks(range(len(rows)), [block for block, _, _ in rows], fontsize=8)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlim(-0.2, widest + 4.5)
    ax.set_xticks([])
    ax.set_xlabel(t("plots.blocks_xlabel"))
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    fig.legend(handles=[Patch(facecolor=TRAINABLE_COLOR, edgecolor="#555555", label=t("plots.blocks_trainable")),
                       Patch(facecolor=FROZEN_COLOR, edgecolor="#555555", hatch=FROZEN_HATCH,
                             label=t("plots.blocks_frozen"))],
               loc="outside lower center", ncol=2, fontsize=8)
    total = sum(len(flags) for _, flags, _ in rows)
    trainable = sum(sum(flags) for _, flags, _ in rows)
    ax.set_title(t("plots.blocks_title", trainable=trainable, total=total))
    return fig
