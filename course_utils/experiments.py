"""Lesson 09's experiments: do the promises of transfer learning hold on real photos?

The heavy loops of the lesson live here as small seeded functions; the
notebook builds the models (the Keras calls the learner should see) and
passes them in. Feature extraction and fine-tuning go through the cached
paths of :mod:`course_utils.training` (one forward pass of the frozen base,
then only the trainable part runs), so the comparisons are cheap enough for
a laptop CPU.

1. :func:`train_scratch`, :func:`train_feature_extraction`,
   :func:`train_fine_tuning` -> :class:`Curve` (validation accuracy against
   epochs and wall seconds); :func:`plot_race`.
2. :func:`learning_curve` (test accuracy against photos per class, several
   seeds) -> :class:`LearningCurve`; :func:`plot_learning_curve`.
3. :func:`lr_sweep` (fine-tuning the whole base from one checkpoint with
   several learning rates, and how far ``Conv1`` moved) -> :class:`LrRun`
   list; :func:`plot_lr_sweep`, :func:`plot_filter_drift`.
   :func:`feature_check` (a head on raw vs standardised features: random
   weights give tiny features, so scale must not be mistaken for content).
4. :func:`load_digits_data`, :func:`mismatch_row` and :func:`row_from_curve`
   (from scratch vs ImageNet features with the same photos per class, on
   flowers and on 8x8 digits) -> :class:`MismatchRow`; :func:`plot_task_mismatch`.
5. :func:`summary_markdown`: the verdicts, derived from the measured numbers.

:func:`accuracy_interval` (how much one test accuracy can be trusted) also
serves lesson 06 and ``benchmarks/bench_accuracy.py``.
"""
import dataclasses
import functools
import logging
import math
import time
from dataclasses import dataclass, field

from .backend import import_tensorflow

import_tensorflow()
import keras  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from . import training  # noqa: E402
from .config import get_settings  # noqa: E402
from .errors import CourseError  # noqa: E402
from .messages import t  # noqa: E402
from .plots import new_figure  # noqa: E402

FIRST_CONV = "Conv1"
LEARNING_RATES = (1e-2, 1e-3, 1e-4, 1e-5)
COLORS = {"scratch": "#e76f51", "random": "#8d99ae", "fe": "#2a9d8f", "ft": "#264653"}


# ---------------------------------------------------------------- plan

@dataclass(frozen=True)
class Plan:
    """How big every experiment is: a small subset in fast mode, all photos at full settings."""

    fast: bool
    image_size: int
    per_class: int | None  # photos per class loaded for the lesson (None = all)
    seed: int
    race_epochs: int  # experiment 1: epochs of the from-scratch CNN and of each head
    ft_epochs: int  # experiment 1: fine-tuning epochs after feature extraction
    sizes: tuple  # experiment 2: training photos per class (None = all)
    seeds: tuple  # experiment 2 and 4: one run per seed
    curve_epochs: int  # experiment 2/4: at least this many epochs per run ...
    min_steps: int  # ... and at least this many weight updates (small subsets)
    learning_rates: tuple  # experiment 3
    lr_epochs: int
    lr_train_per_class: int
    lr_val_per_class: int
    digits_per_class: int  # experiment 4: training photos per class on both tasks
    digits_load_per_class: int | None  # experiment 4: digits loaded per class (None = all 1797)


def make_plan(settings=None):
    """The experiment sizes for the current settings (fast mode or full)."""
    s = settings or get_settings()
    if s.fast:
        return Plan(fast=True, image_size=s.image_size, per_class=40, seed=s.seed,
                    race_epochs=4, ft_epochs=2, sizes=(2, 10, None), seeds=(0, 1),
                    curve_epochs=4, min_steps=12, learning_rates=(1e-2, 1e-5),
                    lr_epochs=1, lr_train_per_class=4, lr_val_per_class=4,
                    digits_per_class=10, digits_load_per_class=30)
    return Plan(fast=False, image_size=s.image_size, per_class=s.per_class, seed=s.seed,
                race_epochs=s.fe_epochs, ft_epochs=s.ft_epochs,
                sizes=(5, 10, 25, 50, 100, None), seeds=(0, 1, 2),
                curve_epochs=6, min_steps=60, learning_rates=LEARNING_RATES,
                lr_epochs=3, lr_train_per_class=20, lr_val_per_class=10,
                digits_per_class=100, digits_load_per_class=None)


def describe_plan(plan):
    """The plan in one Polish line (mode, size, epochs, subset sizes)."""
    sizes = ", ".join(str(s) if s else t("experiments.all_short") for s in plan.sizes)
    return t("experiments.plan", mode=t("config.mode_fast") if plan.fast else t("config.mode_full"),
             size=plan.image_size, race=plan.race_epochs, ft=plan.ft_epochs, sizes=sizes,
             seeds=len(plan.seeds), lrs=", ".join(f"{lr:g}" for lr in plan.learning_rates),
             lr_train=plan.lr_train_per_class, lr_epochs=plan.lr_epochs,
             digits=plan.digits_per_class)


def _quiet(fn):
    """Hide TensorFlow's 'retracing' warnings: building many small models is the point here."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        logger = logging.getLogger("tensorflow")
        level = logger.level
        logger.setLevel(logging.ERROR)
        try:
            return fn(*args, **kwargs)
        finally:
            logger.setLevel(level)
    return wrapper


def seeded(build_fn, seed):
    """Call ``build_fn()`` after ``keras.utils.set_random_seed(seed)``: same seed, same weights."""
    keras.utils.set_random_seed(int(seed))
    return build_fn()


# ---------------------------------------------------------------- checks

def _check_data(data):
    if not hasattr(data, "split") or not hasattr(data, "class_names"):
        raise CourseError(t("training.not_data", kind=type(data).__name__))


def _check_per_class(per_class):
    if per_class is None:
        return None
    if isinstance(per_class, bool) or not isinstance(per_class, (int, np.integer)) or per_class < 1:
        raise CourseError(t("experiments.bad_per_class", value=per_class))
    return int(per_class)


def _loss(data):
    return "sparse_categorical_crossentropy" if data.label_mode == "int" else "categorical_crossentropy"


# ---------------------------------------------------------------- 1. the race

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


def accuracy_on_test(model, data):
    """Accuracy of ``model`` on the test photos of ``data`` (plain forward pass)."""
    _check_data(data)
    x, y, _ = data.split("test")
    if len(y) == 0:
        return float("nan")
    probs = model.predict(data.dataset("test", shuffle=False), verbose=0)
    return float(np.mean(np.argmax(probs, axis=1) == np.asarray(y)))


def accuracy_interval(accuracy, n_photos, z=1.96):
    """95% Wilson interval ``(low, high)`` of an accuracy measured on ``n_photos`` photos."""
    if isinstance(n_photos, bool) or not isinstance(n_photos, (int, np.integer)) or n_photos < 1:
        raise CourseError(t("experiments.bad_n_photos", value=n_photos))
    if (isinstance(accuracy, bool) or not isinstance(accuracy, (int, float, np.floating))
            or not 0 <= accuracy <= 1):
        raise CourseError(t("experiments.bad_accuracy", value=accuracy))
    p, n, z2 = float(accuracy), int(n_photos), z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@_quiet
def train_scratch(model, data, epochs, learning_rate=1e-3, label=None, seed=None, verbose=0):
    """Train every weight of ``model`` with ``model.fit`` (from scratch); return its :class:`Curve`."""
    _check_data(data)
    epochs = training.check_epochs(epochs)
    keras.utils.set_random_seed(data.seed if seed is None else int(seed))
    model.compile(optimizer=keras.optimizers.Adam(training.check_lr(learning_rate)),
                  loss=_loss(data), metrics=["accuracy"], jit_compile=False)
    clock = _Clock()
    callbacks = [_ClockCallback(clock),
                 training.EpochProgress(epochs, label or t("experiments.scratch"), verbose)]
    history = model.fit(data.train, validation_data=data.val, epochs=epochs, verbose=0,
                        shuffle=False, callbacks=callbacks)
    return Curve(label or t("experiments.scratch"), "scratch",
                 [float(v) for v in history.history["val_accuracy"]], clock.marks,
                 accuracy_on_test(model, data))


@_quiet
def train_feature_extraction(model, base, data, epochs, learning_rate=1e-3, label=None,
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
def train_fine_tuning(model, base, data, epochs, after, unfreeze=20, learning_rate=1e-5,
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


# ---------------------------------------------------------------- 2. less data

def subset_indices(labels, per_class, seed):
    """Sorted indices of ``per_class`` items of every class, drawn with ``seed`` (None or more than a class has: all)."""
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
                  min_steps=0, learning_rate=1e-3, batch_size=32):
    """Train a fresh softmax ``Dense`` on features (seeded); its accuracy on the test features."""
    keras.utils.set_random_seed(int(seed))
    head = keras.Sequential([keras.Input((features.shape[1],)),
                             keras.layers.Dense(num_classes, activation="softmax")])
    head.compile(optimizer=keras.optimizers.Adam(learning_rate),
                 loss="sparse_categorical_crossentropy", jit_compile=False)
    head.fit(features, np.asarray(labels), batch_size=batch_size, verbose=0, shuffle=True,
             epochs=epochs_for(len(labels), batch_size, epochs, min_steps))
    probs = keras.ops.convert_to_numpy(head(test_features, training=False))
    return float(np.mean(np.argmax(probs, axis=1) == np.asarray(test_labels)))


def scratch_accuracy(build_fn, data, per_class, seed, epochs, min_steps=0, learning_rate=1e-3):
    """Build with ``seed``, train from scratch on ``per_class`` photos per class; test accuracy."""
    part = dataclasses.replace(subset(data, per_class, seed), seed=int(seed))
    model = seeded(build_fn, seed)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=_loss(part),
                  metrics=["accuracy"], jit_compile=False)
    model.fit(part.train, verbose=0, shuffle=False,
              epochs=epochs_for(len(part.y_train), part.batch_size, epochs, min_steps))
    return accuracy_on_test(model, part)


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
    fe = np.zeros((len(sizes), len(seeds)))
    for i, size in enumerate(sizes):
        for j, seed in enumerate(seeds):
            idx = subset_indices(data.y_train, size, seed)
            fe[i, j] = head_accuracy(feats["train"][idx], data.y_train[idx], feats["test"],
                                     data.y_test, data.num_classes, seed, epochs, min_steps)
    fe_seconds = time.perf_counter() - start
    start = time.perf_counter()
    scratch = np.zeros_like(fe)
    for i, size in enumerate(sizes):
        for j, seed in enumerate(seeds):
            scratch[i, j] = scratch_accuracy(build_scratch, data, size, seed, epochs, min_steps)
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


# ---------------------------------------------------------------- 3. learning rate

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
def lr_sweep(model, base, data, learning_rates, epochs, unfreeze=None, seed=None, verbose=0):
    """Fine-tune from the same checkpoint with each learning rate; record val curves and Conv1 drift.

    ``unfreeze=None`` unfreezes the whole base (BatchNorm stays frozen), so
    ``Conv1`` can move at all. The model's current weights are the
    checkpoint; they are restored (and the base frozen again) at the end.
    """
    from .model import freeze

    _check_data(data)
    unfreeze = len(base.layers) if unfreeze is None else unfreeze
    freeze(base)
    start_acc = training.evaluate_cached(model, data, "val", base=base)["accuracy"]
    reference = first_conv_kernel(base)
    train_fn = training.make_lab_train_fn(model, base, data, seed=seed, verbose=verbose)
    runs = []
    try:
        for lr in learning_rates:
            begin = time.perf_counter()
            logs = train_fn(unfreeze, float(lr), epochs)
            kernel = first_conv_kernel(base)
            runs.append(LrRun(float(lr), logs["val_accuracy"], logs["val_loss"],
                              relative_distance(reference, kernel), kernel,
                              time.perf_counter() - begin, start_acc))
    finally:
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


# ---------------------------------------------------------------- 4. task mismatch

def digit_images(images, image_size):
    """8x8 digits (values 0..16) as ``uint8`` RGB squares of ``image_size`` px (bilinear upscaling)."""
    from PIL import Image

    images = np.asarray(images, dtype=np.float64)
    grey = np.clip(np.round(images * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    out = np.empty((len(grey), image_size, image_size, 3), dtype=np.uint8)
    for i, img in enumerate(grey):
        big = np.asarray(Image.fromarray(img).resize((image_size, image_size), Image.BILINEAR))
        out[i] = big[..., None]
    return out


def load_digits_data(image_size=None, per_class=None, seed=None, batch_size=None):
    """scikit-learn's 8x8 digits as a ``FlowerData``: upscaled, grey copied to RGB, split 80/10/10."""
    from .data import FlowerData, split_indices

    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise CourseError(t("experiments.no_sklearn")) from None
    settings = get_settings()
    image_size = image_size or settings.image_size
    seed = settings.seed if seed is None else seed
    digits = load_digits()
    parts = split_indices(digits.target, 10, seed, _check_per_class(per_class),
                          settings.split_ratios)
    splits = [(digit_images(digits.images[p], image_size), digits.target[p].astype(np.int64),
               [f"sklearn:digits[{i}]" for i in p]) for p in parts]
    (xtr, ytr, ntr), (xva, yva, nva), (xte, yte, nte) = splits
    return FlowerData([str(d) for d in range(10)], xtr, ytr, xva, yva, xte, yte, ntr, nva, nte,
                      source="scikit-learn load_digits", batch_size=batch_size or settings.batch_size,
                      seed=seed, label_mode="int")


@dataclass
class MismatchRow:
    """One task: test accuracy (one value per seed) from scratch and with ImageNet features."""

    task: str
    num_classes: int
    per_class: int
    scratch: np.ndarray
    pretrained: np.ndarray

    @property
    def chance(self):
        """Accuracy of guessing: 1 / number of classes."""
        return 1.0 / self.num_classes

    @property
    def advantage(self):
        """Accuracy points that ImageNet features add over the from-scratch CNN (mean over seeds)."""
        return float(self.pretrained.mean() - self.scratch.mean())


def row_from_curve(task, curve, per_class, num_classes):
    """The :class:`MismatchRow` of a size already measured by :func:`learning_curve`."""
    labels = [str(_check_per_class(per_class))]
    if labels[0] not in curve.labels:
        raise CourseError(t("experiments.size_not_measured", size=per_class,
                            sizes=", ".join(curve.labels)))
    i = curve.labels.index(labels[0])
    return MismatchRow(task, num_classes, int(per_class), curve.accuracy["scratch"][i].copy(),
                       curve.accuracy["fe"][i].copy())


@_quiet
def mismatch_row(task, data, build_scratch, fe_model, per_class, seeds, epochs, min_steps=0,
                 verbose=0):
    """From scratch vs a head on ImageNet features, ``per_class`` photos per class, one run per seed."""
    point = learning_curve(build_scratch, fe_model, data, [per_class], seeds, epochs, min_steps,
                           verbose)
    smallest = int(np.bincount(data.y_train).min())
    used = smallest if per_class is None else min(per_class, smallest)
    return MismatchRow(task, data.num_classes, used, point.accuracy["scratch"][0],
                       point.accuracy["fe"][0])


def plot_task_mismatch(rows):
    """Grouped bars per task: from scratch vs ImageNet features (min–max whiskers), chance dotted."""
    if not rows:
        raise CourseError(t("experiments.no_results"))
    fig = new_figure(8, 4.3)
    ax = fig.subplots()
    x = np.arange(len(rows))
    for offset, kind, color in ((-0.2, "scratch", COLORS["scratch"]), (0.2, "pretrained", COLORS["fe"])):
        values = [getattr(r, kind) for r in rows]
        means = np.array([v.mean() for v in values])
        spread = [means - [v.min() for v in values], [v.max() for v in values] - means]
        ax.bar(x + offset, means, 0.38, yerr=spread, capsize=4, color=color,
               label=t(f"experiments.bar_{kind}", n=len(values[0])))
    for i, r in enumerate(rows):
        ax.hlines(r.chance, i - 0.42, i + 0.42, colors="black", linestyles=":")
    ax.set_xticks(x)
    ax.set_xticklabels([t("experiments.per_class_tick", task=r.task, n=r.per_class) for r in rows])
    ax.set_ylabel(t("experiments.axis_test_accuracy"))
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3, axis="y")
    fig.legend(loc="outside lower center", ncol=2, fontsize="small")
    ax.set_title(t("experiments.mismatch_title"))
    return fig


def describe_task_mismatch(rows):
    """One Polish line per task: both accuracies and the advantage of ImageNet features in points."""
    return "\n".join(t("experiments.mismatch_line", task=r.task, scratch=r.scratch.mean(),
                       pretrained=r.pretrained.mean(), gain=100 * r.advantage,
                       chance=r.chance) for r in rows)


# ---------------------------------------------------------------- 5. summary

def _by_kind(curves, kind):
    return next((c for c in curves if c.kind == kind), None)


def verdicts(curves, curve, runs, rows):
    """``[(promise, measured, verdict_ok)]`` for the summary table, computed from the results.

    ``verdict_ok`` is None where the measurement cannot decide (task mismatch with
    a stronger from-scratch baseline on the far task).
    """
    out = []
    scratch, fe, ft, rnd = (_by_kind(curves, k) for k in ("scratch", "fe", "ft", "random"))
    if scratch and fe:
        target = scratch.best_val
        fe_time, sc_time = fe.seconds_to(target), scratch.seconds_to(target)
        ok = fe_time is not None and fe_time < sc_time
        fe_text = (t("experiments.sum_fast_reached", seconds=fe_time) if fe_time is not None
                   else t("experiments.sum_fast_never"))
        out.append((t("experiments.promise_fast"),
                    t("experiments.sum_fast", target=target, sc=sc_time, fe=fe_text), ok))
    if curve is not None:
        fe_m, sc_m = curve.mean("fe"), curve.mean("scratch")
        catch = next((curve.where(i) for i in range(len(sc_m)) if sc_m[i] >= fe_m[0]), None)
        catch_text = (t("experiments.sum_data_catch", size=catch) if catch
                      else t("experiments.sum_data_never"))
        out.append((t("experiments.promise_data"),
                    t("experiments.sum_data", size=curve.where(0), fe=fe_m[0], sc=sc_m[0],
                      catch=catch_text), bool(fe_m[0] > sc_m[0])))
    if scratch and fe:
        best_tl = max([c for c in (fe, ft) if c], key=lambda c: c.test_accuracy)
        others = [c for c in (scratch, rnd) if c]
        best_other = max(others, key=lambda c: c.test_accuracy)
        out.append((t("experiments.promise_accuracy"),
                    t("experiments.sum_accuracy", tl=best_tl.label, tl_acc=best_tl.test_accuracy,
                      other=best_other.label, other_acc=best_other.test_accuracy),
                    best_tl.test_accuracy > best_other.test_accuracy))
    if runs:
        high, low = max(runs, key=lambda r: r.learning_rate), min(runs, key=lambda r: r.learning_rate)
        best = max(runs, key=lambda r: r.val_accuracy[-1])
        ok = high.val_accuracy[-1] < best.val_accuracy[-1] and high.distance > low.distance
        out.append((t("experiments.promise_lr"),
                    t("experiments.sum_lr", high=high.learning_rate, high_acc=high.val_accuracy[-1],
                      best=best.learning_rate, best_acc=best.val_accuracy[-1],
                      high_dist=high.distance, low=low.learning_rate, low_dist=low.distance), ok))
    if len(rows) >= 2:
        near, far = rows[0], rows[1]
        ok = near.advantage > far.advantage
        # a larger gain on the near task says nothing about distance when the far task is
        # simply easier from scratch: the two effects are mixed, so no verdict
        if ok and far.scratch.mean() > near.scratch.mean():
            ok = None
        out.append((t("experiments.promise_similar"),
                    t("experiments.sum_similar", near=near.task, near_gain=100 * near.advantage,
                      far=far.task, far_gain=100 * far.advantage,
                      near_fe=near.pretrained.mean(), far_fe=far.pretrained.mean(),
                      near_sc=near.scratch.mean(), far_sc=far.scratch.mean()), ok))
    return out


def summary_markdown(curves=(), curve=None, runs=(), rows=(), settings=None):
    """A Markdown table: each promise, what this run measured, and whether the numbers support it."""
    s = settings or get_settings()
    mode = t("config.mode_fast") if s.fast else t("config.mode_full")
    lines = [t("experiments.sum_header", mode=mode, size=s.image_size), "",
             t("experiments.sum_columns"), "|---|---|---|"]
    for promise, measured, ok in verdicts(list(curves), curve, list(runs), list(rows)):
        verdict = t("experiments.verdict_mixed" if ok is None
                    else "experiments.verdict_yes" if ok else "experiments.verdict_no")
        lines.append(f"| {promise} | {measured} | {verdict} |")
    if s.fast:
        lines += ["", t("experiments.sum_fast_caveat")]
    return "\n".join(lines)
