"""Training on few photos, honestly: minimums, enough steps, a k-fold estimate, the final model on all photos.

With a few dozen photos a train / validation / test split leaves one or two photos
per class to test on, and ten epochs of two batches are twenty weight updates: too
few for the head to converge. This module therefore

* checks the minimums (:func:`check_minimums`: at least 2 classes, at least 5 photos
  per class, naming the short class), the same rules as ``python -m course_utils train``;
* loads **all** photos into the training split (:func:`load_all`), computes the
  pooled 1280-d features once (the cached path of :mod:`course_utils.training`) and
  trains the head for at least ``min_steps`` weight updates (:func:`steps_plan`);
* estimates the accuracy on new photos by stratified k-fold cross-validation on the
  cached features (:func:`kfold_estimate`): every photo is classified by a fresh head
  trained, with the same recipe, on the other folds; the accuracy comes with its 95%
  Wilson interval (:func:`course_utils.experiments.accuracy_interval`).
"""
import dataclasses
import math
import time

from .backend import import_tensorflow

tf = import_tensorflow()
import keras
import numpy as np

from . import training
from .config import (
    SMALL_DATA_FAST_MIN_STEPS,
    SMALL_DATA_FOLDS,
    SMALL_DATA_MIN_STEPS,
    SMALL_DATA_PER_CLASS,
    get_settings,
)
from .data import check_minimums  # the folder rules, shared with the command line
from .errors import CourseError
from .messages import count, percent, photos_word, t
from .metrics import accuracy
from .recipe import compile_adam
from .validate import int_at_least


def _steps(n):
    return count(n, "krok", "kroki", "kroków")


def _epochs(n):
    return count(n, "epoka", "epoki", "epok")


# ---------------------------------------------------------------- rules

def class_counts(data):
    """Photos per class over all splits of a FlowerData."""
    y = np.concatenate([data.split(s)[1] for s in ("train", "val", "test")]).astype(int)
    return np.bincount(y, minlength=data.num_classes).tolist()


def is_small(counts, threshold=SMALL_DATA_PER_CLASS):
    """True when the smallest class has fewer than ``threshold`` photos (then: k-fold, train on all)."""
    values = list(counts.values()) if isinstance(counts, dict) else list(counts)
    return min(values) < threshold


def merge_splits(data):
    """The same photos with every split in ``train`` (val and test empty), sorted by file name."""
    parts = [data.split(s) for s in ("train", "val", "test")]
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([np.asarray(p[1], dtype=np.int64) for p in parts])
    names = [n for p in parts for n in p[2]]
    order = sorted(range(len(names)), key=lambda i: (int(y[i]), names[i]))
    empty_x = np.zeros((0,) + x.shape[1:], dtype=x.dtype)
    empty_y = np.zeros((0,), dtype=np.int64)
    return dataclasses.replace(data, x_train=x[order], y_train=y[order], names_train=[names[i] for i in order],
                               x_val=empty_x, y_val=empty_y, names_val=[],
                               x_test=empty_x.copy(), y_test=empty_y.copy(), names_test=[])


def load_all(folder, image_size=None, label_mode="int", seed=None):
    """All photos of a class-per-folder tree in ``train`` (the course's loader, minimums checked)."""
    from .data import load_flowers

    data = merge_splits(load_flowers(folder, image_size=image_size, per_class=0,
                                     label_mode=label_mode, seed=seed))
    check_minimums(data.class_names, class_counts(data))
    return data


# ---------------------------------------------------------------- training to convergence

def default_min_steps(settings=None):
    """The config's minimum number of weight updates (fewer in fast mode)."""
    settings = settings or get_settings()
    return SMALL_DATA_FAST_MIN_STEPS if settings.fast else SMALL_DATA_MIN_STEPS


def steps_plan(n_photos, batch_size, epochs, min_steps):
    """``(epochs, steps_per_epoch)``: at least ``epochs`` passes and at least ``min_steps`` updates."""
    int_at_least(n_photos, 1, "own.no_photos")
    epochs = training.check_epochs(epochs)
    per_epoch = math.ceil(n_photos / batch_size)
    steps = max(epochs * per_epoch, int(min_steps))
    return epochs, math.ceil(steps / epochs)


def describe_steps(n_photos, batch_size, plain_epochs, epochs, steps_per_epoch):
    """One Polish line: how few updates plain epochs give, and what the plan trains instead."""
    plain = plain_epochs * math.ceil(n_photos / batch_size)
    return t("own.steps_line", n=photos_word(n_photos), batch=batch_size, plain_epochs=_epochs(plain_epochs),
             plain=_steps(plain), epochs=_epochs(epochs), per_epoch=_steps(steps_per_epoch),
             total=_steps(epochs * steps_per_epoch))


def repeated(features, labels, batch_size, seed):
    """An endless, reshuffled ``tf.data`` stream of (features, label) batches for ``steps_per_epoch``."""
    ds = tf.data.Dataset.from_tensor_slices((features, np.asarray(labels, dtype=np.int64)))
    ds = ds.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True).repeat()
    return ds.batch(batch_size).prefetch(1)


def pooled_features(model, data, split="train", verbose=0):
    """The 1280-d features after ``GlobalAveragePooling2D`` of one split (one pass, then cached)."""
    k = training.head_boundary(model)
    return training.cached_activations(model, data, k, (split,), verbose=verbose)[split][0]


def head_of(model):
    """The learner's head as its own model: pooled features -> ``predictions`` (the same layer object)."""
    return training.top_model(model, training.head_boundary(model))


def _fit_head(head, features, labels, epochs, steps, learning_rate, batch_size, seed):
    compile_adam(head, learning_rate, "sparse_categorical_crossentropy")
    return head.fit(repeated(features, labels, batch_size, seed), epochs=epochs, steps_per_epoch=steps,
                    verbose=0, shuffle=False)


def train_head(model, data, epochs=None, min_steps=None, learning_rate=None, seed=None):
    """Train the model's ``predictions`` layer on the cached features of all ``train`` photos.

    At least ``epochs`` (config ``fe_epochs``) passes and at least ``min_steps`` weight
    updates (config ``SMALL_DATA_MIN_STEPS``), Adam(``learning_rate``, config ``head_lr``).
    Returns the Keras History (``loss``, ``accuracy`` per epoch, on the training photos).
    """
    settings = get_settings()
    training._check_model(model, data)
    epochs = settings.fe_epochs if epochs is None else epochs
    min_steps = default_min_steps(settings) if min_steps is None else min_steps
    lr = training.check_lr(settings.head_lr if learning_rate is None else learning_rate)
    seed = data.seed if seed is None else seed
    features = pooled_features(model, data)
    labels = np.asarray(data.y_train)
    epochs, steps = steps_plan(len(labels), data.batch_size, epochs, min_steps)
    keras.utils.set_random_seed(int(seed))
    history = _fit_head(head_of(model), features, labels, epochs, steps, lr, data.batch_size, seed)
    history.params["total_steps"] = epochs * steps
    return history


# ---------------------------------------------------------------- k-fold estimate

def stratified_folds(labels, k, seed):
    """Fold number of every photo: each class shuffled (seeded) and dealt round-robin into ``k`` folds."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    folds = np.empty(len(labels), dtype=np.int64)
    offset = 0
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        idx = idx[rng.permutation(len(idx))]
        folds[idx] = (np.arange(len(idx)) + offset) % k
        offset += len(idx)  # classes start where the last one stopped, so folds stay even
    return folds


@dataclasses.dataclass
class KFoldResult:
    """Out-of-fold predictions and the accuracy they give, with its 95% Wilson interval."""

    class_names: list
    labels: np.ndarray
    probs: np.ndarray  # every photo, predicted by the head that did not see it
    folds: np.ndarray
    k: int
    steps: int
    fold_accuracies: list
    seconds: float

    @property
    def predicted(self):
        return self.probs.argmax(axis=1)

    @property
    def n(self):
        return int(len(self.labels))

    @property
    def accuracy(self):
        return float(np.mean(self.predicted == self.labels))

    @property
    def interval(self):
        from .experiments import accuracy_interval

        return accuracy_interval(self.accuracy, self.n)

    def describe(self):
        """Two Polish lines: the estimate with its interval, and what it means."""
        low, high = self.interval
        correct = int(np.sum(self.predicted == self.labels))
        return t("own.kfold_line", k=self.k, acc=percent(self.accuracy), low=percent(low, 0),
                 high=percent(high, 0), hits=count(correct, "trafienie", "trafienia", "trafień"),
                 n=photos_word(self.n), steps=_steps(self.steps), seconds=f"{self.seconds:.1f}".replace(".", ","))


def kfold_estimate(model, data, k=None, epochs=None, min_steps=None, learning_rate=None, seed=None):
    """Stratified k-fold cross-validation of the head on the cached features of ``data.train``.

    For each fold a **fresh** ``Dense(num_classes, softmax)`` head (the same layer type and
    initialiser as the model's ``predictions``) is trained with the same recipe as
    :func:`train_head` (epochs, minimum steps, Adam learning rate, batch size) on the other
    folds, then predicts the photos of its fold. ``k`` defaults to config ``SMALL_DATA_FOLDS``,
    lowered to the size of the smallest class. The model's own weights are not changed.
    """
    settings = get_settings()
    training._check_model(model, data)
    labels = np.asarray(data.y_train, dtype=np.int64)
    counts = np.bincount(labels, minlength=data.num_classes)
    check_minimums(data.class_names, counts.tolist(), min_per_class=2)
    k = int(min(SMALL_DATA_FOLDS if k is None else k, counts.min()))
    if k < 2:
        raise CourseError(t("own.bad_k", k=k))
    epochs = settings.fe_epochs if epochs is None else epochs
    min_steps = default_min_steps(settings) if min_steps is None else min_steps
    lr = training.check_lr(settings.head_lr if learning_rate is None else learning_rate)
    seed = data.seed if seed is None else seed
    start = time.perf_counter()
    features = pooled_features(model, data)
    folds = stratified_folds(labels, k, seed)
    probs = np.zeros((len(labels), data.num_classes), dtype=np.float32)
    accuracies, steps_used = [], 0
    for fold in range(k):
        train, held = folds != fold, folds == fold
        fold_epochs, steps = steps_plan(int(train.sum()), data.batch_size, epochs, min_steps)
        keras.utils.set_random_seed(int(seed) + fold)
        head = keras.Sequential([keras.Input((features.shape[1],)),
                                 keras.layers.Dense(data.num_classes, activation="softmax")])
        _fit_head(head, features[train], labels[train], fold_epochs, steps, lr, data.batch_size, seed + fold)
        probs[held] = keras.ops.convert_to_numpy(head(features[held], training=False))
        accuracies.append(accuracy(probs[held], labels[held]))
        steps_used = fold_epochs * steps
    return KFoldResult(list(data.class_names), labels, probs, folds, k, steps_used, accuracies,
                       time.perf_counter() - start)


def accuracy_on(model, photos, labels):
    """Accuracy of a model on ``uint8`` photos (preprocessing included) and its predictions."""
    probs = training.run_on_photos(model, np.asarray(photos))[0]
    return accuracy(probs, labels), probs
