"""Shared pieces of lesson 09's experiments: the plan, seeding, input checks, test accuracy and its interval."""
import functools
import logging
from dataclasses import dataclass

from ..backend import import_tensorflow

import_tensorflow()
import keras

from ..config import SWEEP_LEARNING_RATES, get_settings
from ..errors import CourseError
from ..messages import t
from ..metrics import accuracy, accuracy_interval  # noqa: F401  (re-exported)
from ..validate import int_at_least

FIRST_CONV = "Conv1"
LEARNING_RATES = SWEEP_LEARNING_RATES
COLORS = {"scratch": "#e76f51", "random": "#8d99ae", "fe": "#2a9d8f", "ft": "#264653"}


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


def _check_data(data):
    if not hasattr(data, "split") or not hasattr(data, "class_names"):
        raise CourseError(t("training.not_data", kind=type(data).__name__))


def _check_per_class(per_class):
    if per_class is None:
        return None
    return int_at_least(per_class, 1, "experiments.bad_per_class")


def _loss(data):
    return "sparse_categorical_crossentropy" if data.label_mode == "int" else "categorical_crossentropy"


def accuracy_on_test(model, data):
    """Accuracy of ``model`` on the test photos of ``data`` (plain forward pass)."""
    _check_data(data)
    x, y, _ = data.split("test")
    if len(y) == 0:
        return float("nan")
    probs = model.predict(data.dataset("test", shuffle=False), verbose=0)
    return accuracy(probs, y)


