"""Experiment 3, the learning rate: a sweep of fine-tuning rates, filter drift, and the feature-scale check."""
import time
from dataclasses import dataclass, field

from ..backend import import_tensorflow

import_tensorflow()
import keras
import numpy as np
from matplotlib.ticker import MaxNLocator

from .. import training
from ..config import SWEEP_MICRO_BATCHES
from ..errors import CourseError
from ..messages import t
from ..plots import new_figure
from .common import COLORS, FIRST_CONV, _check_data, _quiet
from .less_data import head_accuracy, pooled_features


@_quiet
def feature_scale(model, data):
    """Mean absolute value of the pooled features of the training photos (from the cache)."""
    return float(np.mean(np.abs(pooled_features(model, data, ("train",))["train"])))


def standardize(train, *others):
    """Features shifted and scaled by the training split's per-feature mean and standard deviation.

    Computed in float64 (random-weight features can be ~1e-12); a feature that
    is constant on the training photos keeps scale 1. Returns float32 arrays,
    the training features first.
    """
    train = np.asarray(train, dtype=np.float64)
    mean, std = train.mean(axis=0), train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return [((np.asarray(a, dtype=np.float64) - mean) / std).astype(np.float32)
            for a in (train, *others)]


@dataclass
class FeatureCheck:
    """How useful one frozen base's pooled features are, before and after standardisation."""

    scale: float  # mean |feature| on the training photos
    raw: float  # test accuracy of a fresh head on the features as they are
    standardized: float  # the same head (same seed) on standardised features


@_quiet
def feature_check(model, data, seed, epochs, min_steps=0):
    """Test accuracy of a fresh seeded head on raw and on standardised pooled features of ``model``."""
    _check_data(data)
    feats = pooled_features(model, data, ("train", "test"))
    scale = float(np.mean(np.abs(feats["train"])))
    args = (data.num_classes, seed, epochs, min_steps)
    raw = head_accuracy(feats["train"], data.y_train, feats["test"], data.y_test, *args)
    train, test = standardize(feats["train"], feats["test"])
    return FeatureCheck(scale, raw, head_accuracy(train, data.y_train, test, data.y_test, *args))


def first_conv_kernel(base):
    """A copy of the kernel of the first convolution ``Conv1`` (3x3x3x32)."""
    try:
        layer = base.get_layer(FIRST_CONV)
    except ValueError:
        raise CourseError(t("plots.no_layer", name=FIRST_CONV)) from None
    return np.array(keras.ops.convert_to_numpy(layer.kernel), copy=True)


def relative_distance(before, after):
    """Relative L2 distance ||after - before|| / ||before||: 0 means unchanged."""
    before, after = np.asarray(before, dtype=np.float64), np.asarray(after, dtype=np.float64)
    if before.shape != after.shape:
        raise CourseError(t("experiments.shape_mismatch", a=before.shape, b=after.shape))
    return float(np.linalg.norm(after - before) / (np.linalg.norm(before) or 1.0))


@dataclass
class LrRun:
    """One fine-tuning run of the learning-rate sweep."""

    learning_rate: float
    val_accuracy: list
    val_loss: list
    distance: float  # relative L2 distance of Conv1 from the checkpoint
    kernel: np.ndarray = field(repr=False)  # Conv1 after the run
    seconds: float
    start_val_accuracy: float  # the checkpoint's validation accuracy


@_quiet
def lr_sweep(model, base, data, learning_rates, epochs, unfreeze=None, seed=None, verbose=0,
             micro_batches=SWEEP_MICRO_BATCHES):
    """Fine-tune from the same checkpoint with each learning rate; record val curves and Conv1 drift.

    ``unfreeze=None`` unfreezes the whole base (BatchNorm stays frozen), so
    ``Conv1`` can move at all. ``verbose`` shows one bar over all runs' epochs. The model's current weights are the
    checkpoint; they are restored (and the base frozen again) at the end. Each batch is fine-tuned
    in ``micro_batches`` slices (:func:`course_utils.training.fine_tune_cached`: the same updates,
    less memory).
    """
    from ..model import freeze

    _check_data(data)
    unfreeze = len(base.layers) if unfreeze is None else unfreeze
    freeze(base)
    start_acc = training.evaluate_cached(model, data, "val", base=base)["accuracy"]
    reference = first_conv_kernel(base)
    train_fn = training.make_lab_train_fn(model, base, data, seed=seed, verbose=0,
                                          micro_batches=micro_batches)
    epochs = training.check_epochs(epochs)
    bar = training._bar(len(learning_rates) * epochs, t("experiments.bar_lr", n=len(learning_rates)),
                        t("experiments.unit_epoch"), verbose)
    runs = []
    try:
        for done, lr in enumerate(learning_rates):
            begin = time.perf_counter()
            if bar is not None:
                bar.set_postfix_str(f"lr = {float(lr):g}", refresh=False)
            tick = (lambda finished, total=None, done=done: bar.update(done * epochs + finished - bar.n)
                    ) if bar is not None else None
            logs = train_fn(unfreeze, float(lr), epochs, tick)
            kernel = first_conv_kernel(base)
            runs.append(LrRun(float(lr), logs["val_accuracy"], logs["val_loss"],
                              relative_distance(reference, kernel), kernel,
                              time.perf_counter() - begin, start_acc))
    finally:
        if bar is not None:
            bar.close()
        train_fn.restore()
        freeze(base)
    return runs, reference


def plot_lr_sweep(runs):
    """Validation accuracy per epoch for each learning rate (left), Conv1 drift per rate (right)."""
    if not runs:
        raise CourseError(t("experiments.no_results"))
    fig = new_figure(12, 4.3)
    left, right = fig.subplots(1, 2)
    for i, run in enumerate(runs):
        ys = [run.start_val_accuracy] + list(run.val_accuracy)
        # distinct markers and dashes: collapsed runs lie on top of each other
        left.plot(range(len(ys)), ys, ("-", "--", "-.", ":")[i % 4], marker="osv^D"[i % 5],
                  markersize=5 + 2 * (len(runs) - i), label=f"lr = {run.learning_rate:g}")
    left.set_xlabel(t("experiments.axis_ft_epoch"))
    left.xaxis.set_major_locator(MaxNLocator(integer=True))
    left.set_ylabel(t("plots.val_accuracy"))
    left.set_ylim(0, 1.02)
    left.grid(alpha=0.3)
    left.legend(fontsize="small")
    names = [f"{r.learning_rate:g}" for r in runs]
    values = [max(r.distance, 1e-12) for r in runs]
    right.bar(names, values, color=COLORS["ft"])
    right.set_yscale("log")
    right.set_xlabel(t("experiments.axis_lr"))
    right.set_ylabel(t("experiments.axis_distance"))
    right.grid(alpha=0.3, axis="y")
    fig.suptitle(t("experiments.lr_title"))
    return fig


def plot_filter_drift(reference, runs, n=8):
    """The first ``n`` Conv1 filters: pretrained (top row) and after each learning rate.

    Every column uses the colour scale of its ImageNet filter, so a change in
    the weights shows as a change in colour (values outside the scale clip).
    """
    rows = [(t("experiments.pretrained_filters"), reference)]
    rows += [(f"lr = {r.learning_rate:g}", r.kernel) for r in runs]
    fig = new_figure(1.1 * n + 1.2, 1.15 * len(rows))
    axes = fig.subplots(len(rows), n, squeeze=False)
    for row, (title, kernel) in zip(axes, rows):
        for i, ax in enumerate(row):
            low, high = reference[..., i].min(), reference[..., i].max()
            w = np.clip((kernel[..., i] - low) / ((high - low) or 1.0), 0.0, 1.0)
            ax.imshow(w, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(title, rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle(t("experiments.filters_title"))
    return fig


def describe_lr_sweep(runs):
    """One Polish line per learning rate: final and best validation accuracy, Conv1 drift, time."""
    return "\n".join(t("experiments.lr_line", lr=r.learning_rate, start=r.start_val_accuracy,
                       final=r.val_accuracy[-1], best=max(r.val_accuracy), dist=r.distance,
                       seconds=r.seconds) for r in runs)
