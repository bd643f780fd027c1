"""The heat map of the fine-tuning search: validation accuracy per (unfreeze depth, learning rate).

``plot_search_heatmap(result)`` takes what :func:`course_utils.tuning.search_fine_tuning`
returns (any object with ``depths``, ``learning_rates``, ``val_accuracy`` and ``best``):
one row per depth, one column per learning rate, the validation accuracy written in every
cell the Polish way ("92,1%") and the chosen cell framed. Nothing is shown; the figure is
returned, like every plot of :mod:`course_utils.plots`. A run the search stopped early
because it trailed far behind (``result.stopped == "pruned"``) is labelled so in its cell.
"""
import math

import numpy as np
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter

from .errors import CourseError
from .messages import t
from .plots import new_figure
from .tuning import PRUNED, lr_text
from .tuning import percent as _percent
from .validate import is_int

CHOSEN_COLOR = "#d62828"
CHOSEN_GID = "chosen"
NOT_RUN = "—"


def percent(value):
    """A share in Polish notation: 0.9213 -> '92,1%' (NaN -> '—', a run that did not happen)."""
    return _percent(value) if math.isfinite(value) else NOT_RUN


def search_grid(result):
    """``(depths, learning_rates, accuracy array, (row, col) of the chosen cell)``, checked."""
    missing = [name for name in ("depths", "learning_rates", "val_accuracy", "best") if not hasattr(result, name)]
    if missing:
        raise CourseError(t("tuning_plots.not_a_result", kind=type(result).__name__, missing=", ".join(missing)))
    depths, rates = list(result.depths), [float(lr) for lr in result.learning_rates]
    if not depths or not rates or not all(is_int(d) for d in depths):
        raise CourseError(t("tuning_plots.bad_axes", depths=depths, rates=rates))
    try:
        acc = np.asarray(result.val_accuracy, dtype=float)
    except (TypeError, ValueError):
        raise CourseError(t("tuning_plots.bad_values", value=type(result.val_accuracy).__name__)) from None
    if acc.shape != (len(depths), len(rates)):
        raise CourseError(t("tuning_plots.bad_shape", shape=acc.shape, rows=len(depths), cols=len(rates)))
    finite = acc[np.isfinite(acc)]
    if finite.size == 0 or ((finite < 0) | (finite > 1)).any() or np.isinf(acc).any():
        raise CourseError(t("tuning_plots.bad_values", value=acc.round(4).tolist()))
    best = result.best
    try:
        depth, lr = best
        row, col = depths.index(depth), next(j for j, r in enumerate(rates) if math.isclose(r, float(lr)))
    except (TypeError, ValueError, StopIteration):
        raise CourseError(t("tuning_plots.bad_best", best=best, depths=depths,
                            rates=", ".join(map(lr_text, rates)))) from None
    if not math.isfinite(acc[row, col]):
        raise CourseError(t("tuning_plots.bad_best", best=best, depths=depths, rates=", ".join(map(lr_text, rates))))
    return depths, rates, acc, (row, col)


def pruned_cells(result, shape):
    """Boolean array: the runs the search stopped early for trailing far behind (``result.stopped``)."""
    stopped = getattr(result, "stopped", None)
    if stopped is None or np.shape(stopped) != shape:
        return np.zeros(shape, dtype=bool)
    return np.asarray(stopped, dtype=object) == PRUNED


def plot_search_heatmap(result):
    """Validation accuracy of every (depth, learning rate) run as a heat map, the chosen cell framed."""
    depths, rates, acc, (row, col) = search_grid(result)
    fig = new_figure(1.6 * len(rates) + 3.2, 0.8 * len(depths) + 2.2)
    ax = fig.subplots()
    finite = acc[np.isfinite(acc)]
    image = ax.imshow(np.ma.masked_invalid(acc), cmap="Greens", vmin=finite.min(), vmax=finite.max() or 1,
                      aspect="auto")
    middle = (finite.min() + finite.max()) / 2
    pruned = pruned_cells(result, acc.shape)
    for (i, j), value in np.ndenumerate(acc):
        chosen = (i, j) == (row, col)
        text = percent(value) + (f"\n{t('tuning_plots.pruned')}" if pruned[i, j] else "")
        ax.text(j, i, text, ha="center", va="center", fontsize=11,
                fontweight="bold" if chosen else "normal",
                color="white" if math.isfinite(value) and value > middle and np.ptp(finite) > 0 else "black")
    ax.add_patch(Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, edgecolor=CHOSEN_COLOR, linewidth=3,
                           gid=CHOSEN_GID))
    ax.set_xticks(range(len(rates)), [lr_text(lr) for lr in rates])
    ax.set_yticks(range(len(depths)), [str(d) for d in depths])
    ax.set_xlabel(t("tuning_plots.xlabel"))
    ax.set_ylabel(t("tuning_plots.ylabel"))
    ax.set_title(t("tuning_plots.title", depth=depths[row], lr=lr_text(rates[col]), acc=percent(acc[row, col])))
    if pruned.any():
        fig.supxlabel(t("tuning_plots.pruned_note"), fontsize="small")
    bar = fig.colorbar(image, ax=ax, label=t("tuning_plots.colorbar"))
    bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _pos: percent(value)))
    return fig
