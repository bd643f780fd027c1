"""Experiment 4, task mismatch: from scratch vs ImageNet features on flowers and on 8x8 digits."""
from dataclasses import dataclass

from ..backend import import_tensorflow

import_tensorflow()
import numpy as np

from ..config import get_settings
from ..errors import CourseError
from ..messages import t
from ..plots import new_figure
from .common import COLORS, _check_per_class, _quiet
from .less_data import learning_curve


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
    from ..data import FlowerData, split_indices

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
