"""Experiment 1, the race: from scratch vs feature extraction vs fine-tuning, accuracy against epochs and seconds."""
import time
from dataclasses import dataclass

from ..backend import import_tensorflow

import_tensorflow()
import keras
from matplotlib.ticker import MaxNLocator

from .. import training
from ..config import FINE_TUNE_LR, HEAD_LR, UNFREEZE_LAST
from ..errors import CourseError
from ..messages import t
from ..plots import new_figure
from ..recipe import compile_adam
from .common import COLORS, _check_data, _loss, _quiet, accuracy_on_test


@dataclass
class Curve:
    """Validation accuracy of one contender after each epoch, with wall seconds since its start."""

    label: str
    kind: str  # scratch / random / fe / ft (colour and role in the summary)
    val_accuracy: list
    seconds: list  # cumulative wall seconds at the end of each epoch
    test_accuracy: float
    first_epoch: int = 1

    @property
    def epochs(self):
        """Epoch numbers of the points (fine-tuning continues the numbering)."""
        return list(range(self.first_epoch, self.first_epoch + len(self.val_accuracy)))

    @property
    def best_val(self):
        """The highest validation accuracy reached."""
        return max(self.val_accuracy)

    def seconds_to(self, accuracy):
        """Wall seconds until validation accuracy first reached ``accuracy`` (None: never)."""
        for acc, sec in zip(self.val_accuracy, self.seconds):
            if acc >= accuracy - 1e-9:
                return sec
        return None


class _Clock:
    """Records wall seconds (plus an offset) each time it is called: one mark per epoch."""

    def __init__(self, offset=0.0):
        self.offset = float(offset)
        self.start = time.perf_counter()
        self.marks = []

    def __call__(self, *args):
        self.marks.append(self.offset + time.perf_counter() - self.start)


class _ClockCallback(keras.callbacks.Callback):
    """A Keras callback that ticks a :class:`_Clock` at the end of every epoch."""

    def __init__(self, clock):
        super().__init__()
        self.clock = clock

    def on_epoch_end(self, epoch, logs=None):
        self.clock()


@_quiet
def train_scratch(model, data, epochs, learning_rate=HEAD_LR, label=None, seed=None, verbose=0):
    """Train every weight of ``model`` with ``model.fit`` (from scratch); return its :class:`Curve`."""
    _check_data(data)
    epochs = training.check_epochs(epochs)
    keras.utils.set_random_seed(data.seed if seed is None else int(seed))
    compile_adam(model, training.check_lr(learning_rate), _loss(data))
    clock = _Clock()
    callbacks = [_ClockCallback(clock),
                 training.EpochProgress(epochs, label or t("experiments.scratch"), verbose)]
    history = model.fit(data.train, validation_data=data.val, epochs=epochs, verbose=0,
                        shuffle=False, callbacks=callbacks)
    return Curve(label or t("experiments.scratch"), "scratch",
                 [float(v) for v in history.history["val_accuracy"]], clock.marks,
                 accuracy_on_test(model, data))


@_quiet
def train_feature_extraction(model, base, data, epochs, learning_rate=HEAD_LR, label=None,
                             kind="fe", seed=None, cache_unfreeze=None, verbose=0):
    """Feature extraction via ``training.train_head_cached``, timed (the forward pass included).

    ``kind="random"`` labels a base with random weights (the control run); it
    is never fine-tuned, so the fine-tuning boundary is not cached for it.
    """
    if cache_unfreeze is None and kind == "random":
        cache_unfreeze = 0
    clock = _Clock()
    history = training.train_head_cached(model, data, epochs, learning_rate, verbose, base=base,
                                         cache_unfreeze=cache_unfreeze, seed=seed,
                                         progress_callback=clock)
    accuracy = training.evaluate_cached(model, data, "test", base=base)["accuracy"]
    return Curve(label or t(f"experiments.{kind}"), kind,
                 [float(v) for v in history.history["val_accuracy"]], clock.marks, accuracy)


@_quiet
def train_fine_tuning(model, base, data, epochs, after, unfreeze=UNFREEZE_LAST, learning_rate=FINE_TUNE_LR,
                      label=None, seed=None, verbose=0):
    """Fine-tuning via ``training.fine_tune_cached``, continuing the epochs and seconds of ``after``."""
    clock = _Clock(offset=after.seconds[-1])
    history = training.fine_tune_cached(model, base, data, unfreeze, learning_rate, epochs,
                                        verbose, seed=seed, progress_callback=clock)
    accuracy = training.evaluate_cached(model, data, "test", base=base)["accuracy"]
    return Curve(label or t("experiments.ft"), "ft",
                 [float(v) for v in history.history["val_accuracy"]], clock.marks, accuracy,
                 first_epoch=after.epochs[-1] + 1)


def _curve_points(curve, curves, axis):
    """x and y of one curve; fine-tuning starts from the last point of feature extraction."""
    xs = curve.epochs if axis == "epochs" else curve.seconds
    ys = list(curve.val_accuracy)
    if curve.kind == "ft":
        before = next((c for c in curves if c.kind == "fe"), None)
        if before is not None:
            xs = [before.epochs[-1] if axis == "epochs" else before.seconds[-1]] + list(xs)
            ys = [before.val_accuracy[-1]] + ys
    return xs, ys


def plot_race(curves):
    """Validation accuracy against epochs (left) and against wall seconds (right), one line per contender."""
    if not curves:
        raise CourseError(t("experiments.no_results"))
    fig = new_figure(12, 4.3)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, axis in zip(axes, ("epochs", "seconds")):
        for curve in curves:
            xs, ys = _curve_points(curve, curves, axis)
            ax.plot(xs, ys, "-o", markersize=3, color=COLORS.get(curve.kind), label=curve.label)
        ax.set_xlabel(t(f"experiments.axis_{axis}"))
        ax.grid(alpha=0.3)
    axes[0].xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].set_ylabel(t("plots.val_accuracy"))
    axes[0].set_ylim(0, 1.02)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=4,
               fontsize="small")
    fig.suptitle(t("experiments.race_title"))
    return fig


def describe_race(curves):
    """One Polish line per contender: best validation accuracy, when it got there, test accuracy."""
    lines = []
    for c in curves:
        best = c.best_val
        lines.append(t("experiments.race_line", label=c.label, best=best, test=c.test_accuracy,
                       seconds=c.seconds_to(best), total=c.seconds[-1], epochs=len(c.seconds),
                       first=c.val_accuracy[0], first_seconds=c.seconds[0]))
    return "\n".join(lines)
