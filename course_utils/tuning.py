"""The fine-tuning search: unfreeze depth x learning rate, each run from the same weights, chosen on validation.

::

    from course_utils.tuning import search_fine_tuning
    result = search_fine_tuning(model, base_model, data, depths=None, learning_rates=None,
                                seed=None, verbose=1, *, max_epochs=None, patience=None,
                                prune_after=None, prune_margin=None, augment=False, mirror=False)

The first seven arguments are the contract with lesson 06 (``tuning_plots`` draws ``result``);
the keyword-only ones default to ``config.py`` (``TUNE_MAX_EPOCHS``, ``TUNE_PATIENCE``,
``TUNE_PRUNE_AFTER``, ``TUNE_PRUNE_MARGIN``; fast mode: ``TUNE_FAST_*``). The default depths
20, 38 and 56 each start a MobileNetV2 block (15, 13, 11), so each boundary caches one small
tensor (``block_14_add`` 7x7x160, ``block_12_add`` and ``block_10_project_BN`` 14x14x96).

Every run of the grid restores the weights ``model`` had when the search was called (the
feature-extraction checkpoint), unfreezes the last ``depth`` layers of ``base_model``
(:func:`course_utils.model.unfreeze_last`: BatchNorm stays frozen, in inference mode) and
fine-tunes with Adam(``learning_rate``) on the cached activations at that depth's boundary
(:func:`course_utils.training.fine_tune_cached`), with early stopping on the validation
accuracy (``keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=...,
restore_best_weights=True)``). All depths' activations come from **one** forward pass of the
frozen base over the training and validation photos.

To keep the search affordable on a 2-core CPU, a run that is already far behind stops early:
from epoch ``TUNE_PRUNE_AFTER`` on, a run whose best validation accuracy is more than
``TUNE_PRUNE_MARGIN`` below the best validation accuracy of any earlier run stops (its cell
then holds what it reached by then, and ``result.stopped`` says ``"pruned"``). Within a depth the
higher learning rates run first, so a low-rate run, which moves slowest, meets an incumbent.
Every run is still a prefix of the plain ``fine_tune_cached`` run with the same arguments, so
each cell can be reproduced on its own.

The configuration is chosen by **validation accuracy only** (``data``'s test split is never
read here); a tie (the same number of correctly classified validation photos) goes to the
cheaper run: fewer unfrozen layers, then fewer epochs to its best epoch, then the learning
rate listed first (:func:`choice_key`). After the call
``model`` holds the chosen run's best weights and ``base_model``'s trainable flags for that
depth; it is compiled with Adam(chosen rate), so ``model.evaluate`` works. The chosen run's
weights *are* the final model: nothing is trained again.

``augment=True`` adds one more step after the search: from the same starting weights, the
chosen configuration is trained again with lesson 05's augmentation (``RandomFlip``,
``RandomRotation``, ``RandomZoom``). Augmentation changes the pixels in every epoch, so this
run cannot use the cache and goes through the whole network (``fine_tune_cached`` falls back to
``model.fit``); the search itself stays on the cache. The model then holds the augmented run's
best weights (early stopping on validation as above), described in ``result.final``.

``mirror=True`` instead trains the chosen configuration again, from the same starting weights,
on the training photos **plus their mirror images** (left to right,
:meth:`course_utils.data.FlowerData.with_mirrored_training`) for ``TUNE_MIRROR_EPOCHS`` epochs,
keeping its last epoch (``TUNE_MIRROR_KEEP_LAST``; off: the best validation epoch), with a learning
rate falling from the chosen one to 0 along half a cosine (``TUNE_MIRROR_DECAY``;
:func:`course_utils.final_runs.train_mirrored`). A flower seen in
a mirror is still the same flower, and the mirrored photos are fixed, so their activations are
computed once, like the others': this augmentation stays on the cache (one more forward pass,
over the mirror images only, then twice as many photos per epoch). ``python -m course_utils train
--recipe tuned`` does this by default (``TUNE_MIRROR``), over the smaller grid
``TUNE_RECIPE_DEPTHS`` x ``TUNE_RECIPE_LEARNING_RATES``; ``benchmarks/bench_tuned.py`` measures
it with and without on the same split seeds.

``result`` is a :class:`SearchResult`: ``depths``, ``learning_rates``, ``val_accuracy``,
``best_epoch``, ``seconds``, ``epochs_run``, ``stopped`` (arrays of shape
``(len(depths), len(learning_rates))``), ``best``, ``describe()``.
"""
import time
from dataclasses import dataclass, field

from .backend import import_tensorflow

import_tensorflow()
import keras
import numpy as np

from . import config
from .activations import cached_activations, head_boundary, unfreeze_boundary
from .config import get_settings
from .errors import CourseError
from .final_runs import _early_stopping, _int_setting, train_augmented, train_mirrored
from .messages import percent, t
from .validate import is_int, keras_model

PATIENCE, MAX_EPOCHS, PRUNED = "patience", "max_epochs", "pruned"


@dataclass
class SearchResult:
    """What the fine-tuning search ran and what it chose (see the module docstring)."""

    depths: tuple
    learning_rates: tuple
    val_accuracy: np.ndarray  # best validation accuracy of each run
    best_epoch: np.ndarray  # 1-based epoch of that accuracy
    seconds: np.ndarray  # wall seconds of each run
    epochs_run: np.ndarray  # epochs each run trained before it stopped
    stopped: np.ndarray  # why each run stopped: "patience", "max_epochs" or "pruned"
    best: tuple  # (depth, learning_rate) chosen by validation accuracy
    n_val: int
    max_epochs: int
    patience: int
    prune_after: int
    prune_margin: float
    search_seconds: float = 0.0  # the whole search, the one forward pass included
    forward_seconds: float = 0.0  # the forward pass that cached every depth's activations
    histories: dict = field(default_factory=dict)  # (depth, lr) -> {"val_accuracy": [...], ...}
    final: dict | None = None  # augment=True / mirror=True: the chosen configuration's final run

    @property
    def best_index(self):
        """``(row, column)`` of :attr:`best` in the arrays."""
        return self.depths.index(self.best[0]), self.learning_rates.index(self.best[1])

    @property
    def best_val_accuracy(self):
        """The chosen run's best validation accuracy."""
        return float(self.val_accuracy[self.best_index])

    def hits(self, accuracy):
        """How many of the validation photos an accuracy stands for."""
        return int(round(float(accuracy) * self.n_val))

    def runner_up(self):
        """``(depth, lr, accuracy)`` of the best run other than the chosen one (None: one run)."""
        cells = [(self.val_accuracy[i, j], d, lr) for i, d in enumerate(self.depths)
                 for j, lr in enumerate(self.learning_rates) if (d, lr) != self.best]
        if not cells:
            return None
        acc, d, lr = max(cells, key=lambda c: c[0])
        return d, lr, float(acc)

    def describe(self):
        """Polish lines: what ran, what was chosen and why (validation only)."""
        runs = len(self.depths) * len(self.learning_rates)
        pruned = int(np.sum(self.stopped == PRUNED))
        lines = [t("tuning.describe_grid", runs=runs, depths=", ".join(map(str, self.depths)),
                   lrs=", ".join(lr_text(x) for x in self.learning_rates), max=self.max_epochs,
                   patience=self.patience, n=self.n_val)]
        if pruned:
            lines.append(t("tuning.describe_pruned", k=pruned, after=self.prune_after,
                           margin=_points(self.prune_margin)))
        i, j = self.best_index
        depth, lr = self.best
        acc = self.best_val_accuracy
        lines.append(t("tuning.describe_best", depth=depth, lr=lr_text(lr), acc=percent(acc),
                       hits=self.hits(acc), n=self.n_val, epoch=int(self.best_epoch[i, j])))
        other = self.runner_up()
        if other is not None:
            d, olr, oacc = other
            diff = self.hits(acc) - self.hits(oacc)
            key = "tuning.describe_tie" if diff == 0 else "tuning.describe_runner_up"
            lines.append(t(key, depth=d, lr=lr_text(olr), acc=percent(oacc), k=diff,
                           step=_points(round(1 / self.n_val, 4))))
        lines.append(t("tuning.describe_time" if self.forward_seconds else "tuning.describe_time_cached",
                       seconds=_seconds(self.search_seconds), forward=_seconds(self.forward_seconds)))
        if self.final is not None and self.final.get("mirrored"):
            f = self.final
            lines.append(t("tuning.describe_mirrored", acc=percent(f["val_accuracy"]),
                           epoch=f["kept_epoch"], epochs=f["epochs_run"], n=f["n_train"],
                           seconds=_seconds(f["seconds"]), search=percent(acc), rate=mirrored_rate_text(f),
                           kept=mirrored_kept_text(f), copies=mirrored_copies_text(f)))
        elif self.final is not None:
            f = self.final
            lines.append(t("tuning.describe_augmented", acc=percent(f["val_accuracy"]),
                           epoch=f["best_epoch"], epochs=f["epochs_run"],
                           seconds=_seconds(f["seconds"]), search=percent(acc)))
        else:
            lines.append(t("tuning.describe_final"))
        lines.append(t("tuning.describe_test"))
        return "\n".join(lines)

    def to_dict(self):
        """A JSON-ready summary (the CLI's sidecar, the benchmark's results)."""
        return {"depths": list(self.depths), "learning_rates": list(self.learning_rates),
                "val_accuracy": self.val_accuracy.tolist(), "best_epoch": self.best_epoch.tolist(),
                "seconds": self.seconds.tolist(), "epochs_run": self.epochs_run.tolist(),
                "stopped": self.stopped.tolist(), "best": {"depth": self.best[0],
                                                           "learning_rate": self.best[1]},
                "best_val_accuracy": self.best_val_accuracy, "n_val": self.n_val,
                "max_epochs": self.max_epochs, "patience": self.patience,
                "prune_after": self.prune_after, "prune_margin": self.prune_margin,
                "search_seconds": self.search_seconds, "forward_seconds": self.forward_seconds,
                "final": self.final}


# ---------------------------------------------------------------- formatting (Polish prose)

def mirrored_rate_text(final):
    """How the mirrored run's learning rate went: falling along a cosine, or constant."""
    key = "tuning.rate_cosine" if final.get("decay") else "tuning.rate_constant"
    return t(key, lr=lr_text(final["learning_rate"]))


def mirrored_copies_text(final):
    """What the mirrored run trained on besides the photos: their mirror images (and random crops)."""
    crops = final.get("crops", 0)
    return t("tuning.copies_cropped", k=crops) if crops else t("tuning.copies_mirrored")


def mirrored_kept_text(final):
    """Which epoch's weights the mirrored run kept, in Polish."""
    if final["keep_last"]:
        return t("tuning.kept_last", best=percent(final["best_val_accuracy"]), epoch=final["best_epoch"])
    return t("tuning.kept_best")


def lr_text(lr):
    """A learning rate as code writes it: ``1e-4``, ``3e-4``, ``1e-5``."""
    return np.format_float_scientific(float(lr), trim="-", exp_digits=1)


def _points(share):
    return f"{100 * float(share):g}".replace(".", ",")


def _seconds(seconds):
    return f"{float(seconds):.0f}"


# ---------------------------------------------------------------- checks

def check_grid(base, depths, learning_rates):
    """``(depths, learning_rates)`` as tuples, checked against ``base`` (one Polish line when not)."""
    if isinstance(depths, (str, bytes)) or not hasattr(depths, "__iter__"):
        raise CourseError(t("tuning.bad_grid", name="depths", value=depths))
    if isinstance(learning_rates, (str, bytes)) or not hasattr(learning_rates, "__iter__"):
        raise CourseError(t("tuning.bad_grid", name="learning_rates", value=learning_rates))
    depths, learning_rates = tuple(depths), tuple(learning_rates)
    if not depths or not learning_rates:
        raise CourseError(t("tuning.empty_grid"))
    for d in depths:
        if not is_int(d) or not 1 <= d <= len(base.layers):
            raise CourseError(t("tuning.bad_depth", value=d, max=len(base.layers)))
    for lr in learning_rates:
        if (isinstance(lr, (bool, np.bool_)) or not isinstance(lr, (int, float, np.number))
                or not 0 < lr < 10):  # also rejects NaN
            raise CourseError(t("tuning.bad_lr", value=lr))
    depths = tuple(int(d) for d in depths)
    learning_rates = tuple(float(x) for x in learning_rates)
    if len(set(depths)) != len(depths) or len(set(learning_rates)) != len(learning_rates):
        raise CourseError(t("tuning.duplicate", depths=list(depths), lrs=list(learning_rates)))
    return depths, learning_rates


def _check_inputs(model, base, data):
    from .training import _check_model

    keras_model(model)
    keras_model(base)
    head = _check_model(model, data)
    inside = {id(layer) for layer in model.layers}
    if not base.layers or id(base.layers[-1]) not in inside:
        raise CourseError(t("tuning.not_the_base", model=model.name, base=base.name))
    bias = head.weights[1] if len(head.weights) > 1 else None
    if bias is not None and not np.any(keras.ops.convert_to_numpy(bias)):
        raise CourseError(t("tuning.untrained_head"))
    if len(data.y_val) == 0:
        raise CourseError(t("tuning.no_val"))


def default_grid(depths=None, learning_rates=None, fast=None):
    """``(depths, learning_rates)``: the given ones, or config's ``TUNE_*`` (fast-mode variants in fast mode)."""
    fast = get_settings().fast if fast is None else fast
    depths = (config.TUNE_FAST_DEPTHS if fast else config.TUNE_DEPTHS) if depths is None else depths
    learning_rates = ((config.TUNE_FAST_LEARNING_RATES if fast else config.TUNE_LEARNING_RATES)
                      if learning_rates is None else learning_rates)
    return depths, learning_rates


def cache_depths(model, base_model, data, depths=None, verbose=1):
    """Cache, in **one** forward pass over the training and validation photos, the activations at
    the boundary of every depth and the pooled features under the head.

    Called before feature extraction, it makes the feature extraction and the whole search
    share one pass of the frozen base (the weights below every boundary stay as they are).
    Returns the pass's wall seconds (0.0 when everything was cached already).
    """
    start = time.perf_counter()
    before = set(data.activation_cache().entries)
    depths, _ = default_grid(depths, ())
    boundaries = [unfreeze_boundary(model, base_model, d) for d in depths] + [head_boundary(model)]
    boundaries = [b for b in boundaries if b is not None]
    deepest = min(boundaries)
    splits = ("train", "val") if len(data.y_val) else ("train",)
    cached_activations(model, data, deepest, splits, [b for b in boundaries if b != deepest], verbose)
    if set(data.activation_cache().entries) <= before:
        return 0.0
    return time.perf_counter() - start


# ---------------------------------------------------------------- the search

class _Prune(keras.callbacks.Callback):
    """Stops a run from epoch ``after`` on when its best validation accuracy trails ``bar``."""

    def __init__(self, after, bar):
        super().__init__()
        self.after, self.bar = after, bar
        self.best, self.pruned = -1.0, False

    def on_epoch_end(self, epoch, logs=None):
        self.best = max(self.best, float((logs or {}).get("val_accuracy", -1.0)))
        last = epoch + 1 >= self.params.get("epochs", epoch + 2)  # nothing to save at the last epoch
        if self.bar is not None and epoch + 1 >= self.after and not last and self.best < self.bar:
            self.pruned = True
            self.model.stop_training = True


def _run_order(depths, learning_rates):
    """Shallow depths first; within a depth the higher rates first (see the module docstring)."""
    return [(i, j) for i in range(len(depths))
            for j in sorted(range(len(learning_rates)), key=lambda j: -learning_rates[j])]


def choice_key(hits, depth, best_epoch, column):
    """The order of the choice (smaller wins): more validation hits, then fewer unfrozen layers,
    then fewer epochs to the best epoch, then the learning rate listed first."""
    return (-int(hits), int(depth), int(best_epoch), int(column))


def _one_run(model, base, data, depth, lr, max_epochs, patience, seed, callbacks):
    from .training import fine_tune_cached

    keras.utils.set_random_seed(seed)
    return fine_tune_cached(model, base, data, unfreeze=depth, learning_rate=lr, epochs=max_epochs,
                            verbose=0, seed=seed, use_compiled=False,
                            callbacks=[_early_stopping(patience), *callbacks])


def search_fine_tuning(model, base_model, data, depths=None, learning_rates=None, seed=None,
                       verbose=1, *, max_epochs=None, patience=None, prune_after=None,
                       prune_margin=None, augment=False, mirror=False):
    """Search unfreeze depth x learning rate on validation; leave ``model`` with the chosen run.

    See the module docstring for what every run does, the early stop of runs far behind,
    the tie rule, ``augment`` and ``mirror``. Defaults come from ``config.py`` (``TUNE_*``, fast-mode
    variants). Returns a :class:`SearchResult`.
    """
    from .model import unfreeze_last
    from .recipe import compile_adam, default_loss, mark_course_compiled

    fast = get_settings().fast
    _check_inputs(model, base_model, data)
    depths, learning_rates = check_grid(base_model, *default_grid(depths, learning_rates))
    max_epochs = _int_setting(max_epochs, config.TUNE_FAST_MAX_EPOCHS if fast else config.TUNE_MAX_EPOCHS,
                              "tuning.bad_epochs")
    patience = _int_setting(patience, config.TUNE_FAST_PATIENCE if fast else config.TUNE_PATIENCE,
                            "tuning.bad_patience")
    prune_after = _int_setting(prune_after, config.TUNE_PRUNE_AFTER, "tuning.bad_prune_after")
    prune_margin = config.TUNE_PRUNE_MARGIN if prune_margin is None else prune_margin
    if (isinstance(prune_margin, (bool, np.bool_)) or not isinstance(prune_margin, (int, float, np.number))
            or not 0 <= prune_margin <= 1):
        raise CourseError(t("tuning.bad_margin", value=prune_margin))
    seed = data.seed if seed is None else seed
    if not is_int(seed):
        raise CourseError(t("tuning.bad_seed", value=seed))
    seed = int(seed)
    if augment and mirror:
        raise CourseError(t("tuning.augment_and_mirror"))

    start = time.perf_counter()
    snapshot = [np.array(w, copy=True) for w in model.get_weights()]
    forward_seconds = cache_depths(model, base_model, data, depths, verbose)  # train and val only

    shape = (len(depths), len(learning_rates))
    val = np.full(shape, np.nan)
    best_epoch = np.zeros(shape, dtype=int)
    seconds = np.zeros(shape)
    epochs_run = np.zeros(shape, dtype=int)
    stopped = np.full(shape, "", dtype=object)
    histories = {}
    n_val = int(len(data.y_val))
    chosen, chosen_key, chosen_weights = None, None, None
    best_so_far = None
    for i, j in _run_order(depths, learning_rates):
        depth, lr = depths[i], learning_rates[j]
        model.set_weights(snapshot)
        prune = _Prune(prune_after, None if best_so_far is None else best_so_far - prune_margin)
        run_start = time.perf_counter()
        history = _one_run(model, base_model, data, depth, lr, max_epochs, patience, seed, [prune])
        seconds[i, j] = time.perf_counter() - run_start
        accs = [float(a) for a in history.history.get("val_accuracy", [])]
        k = int(np.argmax(accs))  # the first epoch of the best accuracy, as EarlyStopping keeps it
        val[i, j], best_epoch[i, j], epochs_run[i, j] = accs[k], k + 1, len(accs)
        stopped[i, j] = PRUNED if prune.pruned else (MAX_EPOCHS if len(accs) == max_epochs
                                                     else PATIENCE)
        histories[(depth, lr)] = {key: [float(v) for v in values]
                                  for key, values in history.history.items()}
        best_so_far = accs[k] if best_so_far is None else max(best_so_far, accs[k])
        key = choice_key(round(accs[k] * n_val), depth, k + 1, j)
        if chosen_key is None or key < chosen_key:
            chosen, chosen_key = (depth, lr), key
            chosen_weights = [np.array(w, copy=True) for w in model.get_weights()]
        if verbose:
            print(t("tuning.run_line", depth=depth, lr=lr_text(lr), acc=percent(accs[k]),
                    epoch=k + 1, epochs=len(accs), seconds=_seconds(seconds[i, j]),
                    why=t(f"tuning.stopped_{stopped[i, j]}", after=prune_after,
                          margin=_points(prune_margin))), flush=True)

    final = None
    if augment:
        model.set_weights(snapshot)
        final = train_augmented(model, base_model, data, *chosen, max_epochs, patience, seed)
    elif mirror:
        model.set_weights(snapshot)
        final = train_mirrored(model, base_model, data, *chosen, None, seed)
    else:
        model.set_weights(chosen_weights)
    unfreeze_last(base_model, chosen[0])
    compile_adam(model, chosen[1], default_loss(data))
    mark_course_compiled(model)
    result = SearchResult(depths, learning_rates, val, best_epoch, seconds, epochs_run, stopped,
                          chosen, n_val, max_epochs, patience, prune_after, float(prune_margin),
                          time.perf_counter() - start, forward_seconds, histories, final)
    if verbose:
        print(result.describe(), flush=True)
    return result
