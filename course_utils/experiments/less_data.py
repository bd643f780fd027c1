"""Experiment 2, less data: test accuracy against photos per class (learning curves, several seeds)."""
import dataclasses
import math
import time
from dataclasses import dataclass, field

from ..backend import import_tensorflow

import_tensorflow()
import keras
import numpy as np

from .. import training
from ..config import BATCH_SIZE, HEAD_LR
from ..errors import CourseError
from ..messages import t
from ..metrics import accuracy
from ..plots import new_figure
from ..recipe import compile_adam
from .common import COLORS, _check_data, _check_per_class, _loss, _quiet, accuracy_on_test, seeded


def subset_indices(labels, per_class, seed):
    """Sorted indices of ``per_class`` items of every class, drawn with ``seed``.

    ``per_class`` None, or more than a class has: all of that class.
    """
    per_class = _check_per_class(per_class)
    labels = np.asarray(labels)
    rng = np.random.default_rng(int(seed))
    chosen = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        if per_class is not None and per_class < len(idx):
            idx = rng.choice(idx, per_class, replace=False)
        chosen.extend(idx.tolist())
    return np.array(sorted(chosen), dtype=np.int64)


def shrink(data, seed, train=None, val=None, test=None):
    """A copy of ``data`` keeping at most ``train`` / ``val`` / ``test`` photos per class (None: all)."""
    for split, per_class in (("train", train), ("val", val), ("test", test)):
        if per_class is not None:
            data = subset(data, per_class, seed, split)
    return data


def subset(data, per_class, seed, split="train"):
    """A copy of ``data`` whose ``split`` keeps ``per_class`` photos of each class (seeded draw)."""
    _check_data(data)
    x, y, names = data.split(split)
    idx = subset_indices(y, per_class, seed)
    return dataclasses.replace(data, **{f"x_{split}": x[idx], f"y_{split}": np.asarray(y)[idx],
                                        f"names_{split}": [names[i] for i in idx]})


def epochs_for(n_train, batch_size, epochs, min_steps):
    """At least ``epochs`` epochs and at least ``min_steps`` weight updates for ``n_train`` photos."""
    steps_per_epoch = max(1, math.ceil(n_train / batch_size))
    return max(int(epochs), math.ceil(min_steps / steps_per_epoch))


def pooled_features(model, data, splits=("train", "test"), verbose=0):
    """The 1280-d ``GlobalAveragePooling2D`` features of ``splits``, from the cache of ``training``."""
    _check_data(data)
    k = training.head_boundary(model)
    acts = training.cached_activations(model, data, k, tuple(splits), verbose=verbose)
    return {split: acts[split][0] for split in splits}


def head_accuracy(features, labels, test_features, test_labels, num_classes, seed, epochs,
                  min_steps=0, learning_rate=HEAD_LR, batch_size=BATCH_SIZE):
    """Train a fresh softmax ``Dense`` on features (seeded); its accuracy on the test features."""
    keras.utils.set_random_seed(int(seed))
    head = keras.Sequential([keras.Input((features.shape[1],)),
                             keras.layers.Dense(num_classes, activation="softmax")])
    compile_adam(head, learning_rate, "sparse_categorical_crossentropy", metrics=())
    head.fit(features, np.asarray(labels), batch_size=batch_size, verbose=0, shuffle=True,
             epochs=epochs_for(len(labels), batch_size, epochs, min_steps))
    probs = keras.ops.convert_to_numpy(head(test_features, training=False))
    return accuracy(probs, test_labels)


def scratch_accuracy(build_fn, data, per_class, seed, epochs, min_steps=0, learning_rate=HEAD_LR,
                     callbacks=()):
    """Build with ``seed``, train from scratch on ``per_class`` photos per class; test accuracy.

    The training batches are taken from ``data.x_train`` by row number (the seeded
    :func:`subset_indices`, shuffled with ``seed``): the same batches as a copy of those
    photos would give, without copying them.
    """
    _check_data(data)
    idx = subset_indices(data.y_train, per_class, seed)
    model = seeded(build_fn, seed)
    compile_adam(model, learning_rate, _loss(data))
    train = data.dataset("train", shuffle=True, rows=idx, seed=int(seed))
    model.fit(train, verbose=0, shuffle=False, callbacks=list(callbacks),
              epochs=epochs_for(len(idx), data.batch_size, epochs, min_steps))
    return accuracy_on_test(model, data)


class _StepBar(keras.callbacks.Callback):
    """Moves a tqdm bar by one after every optimizer step."""

    def __init__(self, bar):
        super().__init__()
        self.bar = bar

    def on_train_batch_end(self, batch, logs=None):
        self.bar.update(1)


def _curve_bars(data, sizes, seeds, epochs, min_steps, verbose):
    """Two bars (heads on cached features: runs; from scratch: optimizer steps), or ``(None, None)``."""
    if not verbose:
        return None, None
    from ..activations import _bar

    steps = 0
    for size in sizes:
        for seed in seeds:
            n = len(subset_indices(data.y_train, size, seed))
            steps += epochs_for(n, data.batch_size, epochs, min_steps) * math.ceil(n / data.batch_size)
    runs = len(sizes) * len(seeds)
    return (_bar(runs, t("experiments.bar_curve_fe", n=runs), t("experiments.unit_run"), verbose),
            _bar(steps, t("experiments.bar_curve_scratch", n=runs), t("experiments.unit_step"), verbose))


@dataclass
class LearningCurve:
    """Test accuracy per (size, seed) of each method, sizes as photos per class."""

    sizes: list  # photos per class actually used (the mean over classes for 'all')
    labels: list  # x tick labels
    seeds: list
    accuracy: dict  # method kind -> array (len(sizes), len(seeds))
    seconds: dict  # method kind -> wall seconds of all its runs
    requested: list = field(default_factory=list)  # photos per class asked for (None = all)

    def where(self, i):
        """The size of point ``i`` for a sentence ('przy ... zdjęciach/klasę')."""
        if i < len(self.requested) and self.requested[i] is None:
            return t("experiments.all_loc", n=int(round(self.sizes[i])))
        return self.labels[i]

    def mean(self, kind):
        """Mean test accuracy over the seeds, one value per size."""
        return self.accuracy[kind].mean(axis=1)


@_quiet
def learning_curve(build_scratch, fe_model, data, sizes, seeds, epochs, min_steps=0,
                   verbose=0):
    """Test accuracy against photos per class: from scratch vs a head on cached pretrained features."""
    _check_data(data)
    sizes = [_check_per_class(s) for s in sizes]
    if not sizes or not seeds:
        raise CourseError(t("experiments.no_results"))
    counts = np.bincount(data.y_train, minlength=data.num_classes)
    used = [float(min(s, counts.min())) if s else float(counts.mean()) for s in sizes]
    labels = [str(s) if s else t("experiments.all", n=int(round(counts.mean()))) for s in sizes]
    start = time.perf_counter()
    feats = pooled_features(fe_model, data, ("train", "test"), verbose)
    fe_bar, scratch_bar = _curve_bars(data, sizes, seeds, epochs, min_steps, verbose)
    fe = np.zeros((len(sizes), len(seeds)))
    for i, size in enumerate(sizes):
        for j, seed in enumerate(seeds):
            idx = subset_indices(data.y_train, size, seed)
            fe[i, j] = head_accuracy(feats["train"][idx], data.y_train[idx], feats["test"],
                                     data.y_test, data.num_classes, seed, epochs, min_steps)
            if fe_bar is not None:
                fe_bar.set_postfix_str(t("experiments.bar_curve_at", size=labels[i], seed=seed), refresh=False)
                fe_bar.update(1)
    fe_seconds = time.perf_counter() - start
    if fe_bar is not None:
        fe_bar.close()
    start = time.perf_counter()
    scratch = np.zeros_like(fe)
    callbacks = [_StepBar(scratch_bar)] if scratch_bar is not None else []
    try:
        for i, size in enumerate(sizes):
            for j, seed in enumerate(seeds):
                if scratch_bar is not None:
                    scratch_bar.set_postfix_str(t("experiments.bar_curve_at", size=labels[i], seed=seed),
                                                refresh=False)
                scratch[i, j] = scratch_accuracy(build_scratch, data, size, seed, epochs, min_steps,
                                                 callbacks=callbacks)
    finally:
        if scratch_bar is not None:
            scratch_bar.close()
    return LearningCurve(used, labels, list(seeds), {"scratch": scratch, "fe": fe},
                         {"scratch": time.perf_counter() - start, "fe": fe_seconds}, sizes)


def plot_learning_curve(result):
    """Mean test accuracy against photos per class (log axis), min–max band over the seeds."""
    fig = new_figure(8, 4.3)
    ax = fig.subplots()
    for kind in ("scratch", "fe"):
        acc = result.accuracy[kind]
        ax.fill_between(result.sizes, acc.min(axis=1), acc.max(axis=1), color=COLORS[kind],
                        alpha=0.2, linewidth=0)
        ax.plot(result.sizes, acc.mean(axis=1), "-o", color=COLORS[kind],
                label=t(f"experiments.curve_{kind}", n=len(result.seeds)))
    ax.set_xscale("log")
    ax.set_xticks(result.sizes)
    ax.set_xticklabels(result.labels)
    ax.minorticks_off()
    ax.set_xlabel(t("experiments.axis_per_class"))
    ax.set_ylabel(t("experiments.axis_test_accuracy"))
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    fig.legend(loc="outside lower center", ncol=2, fontsize="small")
    ax.set_title(t("experiments.curve_title"))
    return fig


def describe_learning_curve(result):
    """One Polish line per size: mean (min–max) test accuracy of both methods."""
    lines = []
    for i, label in enumerate(result.labels):
        sc, fe = result.accuracy["scratch"][i], result.accuracy["fe"][i]
        lines.append(t("experiments.curve_line", size=label, fe=fe.mean(), fe_lo=fe.min(),
                       fe_hi=fe.max(), sc=sc.mean(), sc_lo=sc.min(), sc_hi=sc.max()))
    return "\n".join(lines)
