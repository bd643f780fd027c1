"""Tests of course_utils.tuning_plots: the heat map of the fine-tuning search, read back from its artists.

The result is a stand-in with the attributes of course_utils.tuning.SearchResult that the map reads.
"""
import dataclasses

import numpy as np
import pytest
from matplotlib.patches import Rectangle

from course_utils.errors import CourseError
from course_utils.messages import t
from course_utils.tuning_plots import CHOSEN_GID, lr_text, percent, plot_search_heatmap


@dataclasses.dataclass
class StandIn:
    """What the heat map reads from search_fine_tuning's result (the contract's attributes)."""

    depths: tuple = (20, 40, 54)
    learning_rates: tuple = (1e-5, 1e-4, 3e-4)
    val_accuracy: np.ndarray = dataclasses.field(default_factory=lambda: np.array(
        [[0.8812, 0.9125, 0.9062], [0.8937, 0.9343, 0.9187], [0.9, 0.9312, 0.9281]]))
    best: tuple = (40, 1e-4)
    stopped: object = None


def cell_texts(ax):
    """``{(row, col): text}`` of the texts drawn at integer positions (one per cell)."""
    return {(round(txt.get_position()[1]), round(txt.get_position()[0])): txt.get_text() for txt in ax.texts}


def chosen_frames(ax):
    return [p for p in ax.patches if isinstance(p, Rectangle) and p.get_gid() == CHOSEN_GID]


def test_one_cell_per_depth_and_rate_with_its_accuracy_in_polish_notation():
    result = StandIn()
    ax = plot_search_heatmap(result).axes[0]
    texts = cell_texts(ax)
    assert len(ax.texts) == 9 and len(texts) == 9
    # written by hand from the stand-in's numbers: one decimal, decimal comma
    assert texts == {(0, 0): "88,1%", (0, 1): "91,2%", (0, 2): "90,6%",
                     (1, 0): "89,4%", (1, 1): "93,4%", (1, 2): "91,9%",
                     (2, 0): "90,0%", (2, 1): "93,1%", (2, 2): "92,8%"}
    assert [lbl.get_text() for lbl in ax.get_yticklabels()] == ["20", "40", "54"]
    assert [lbl.get_text() for lbl in ax.get_xticklabels()] == ["1e-5", "1e-4", "3e-4"]
    assert np.allclose(ax.get_images()[0].get_array(), result.val_accuracy)
    assert ax.get_xlabel() == t("tuning_plots.xlabel") and ax.get_ylabel() == t("tuning_plots.ylabel")


def test_the_chosen_cell_is_framed_and_named_in_the_title():
    result = StandIn(best=(54, 3e-4))  # not the highest cell: the plot marks what the search chose
    ax = plot_search_heatmap(result).axes[0]
    (frame,) = chosen_frames(ax)
    assert frame.get_xy() == (1.5, 1.5) and (frame.get_width(), frame.get_height()) == (1, 1)
    bold = [txt.get_text() for txt in ax.texts if txt.get_fontweight() == "bold"]
    assert bold == ["92,8%"]
    assert "54 warstwy, lr=3e-4, 92,8%" in ax.get_title()
    ax = plot_search_heatmap(StandIn(best=(20, 1e-5))).axes[0]
    assert chosen_frames(ax)[0].get_xy() == (-0.5, -0.5)
    assert "20 warstw, lr=1e-5, 88,1%" in ax.get_title()


def test_a_rectangular_grid_and_a_run_that_did_not_happen():
    acc = np.array([[0.5, np.nan], [0.75, 0.8], [0.7, 0.6], [0.65, 0.9]])
    result = StandIn(depths=(0, 20, 40, 54), learning_rates=(1e-5, 1e-4), val_accuracy=acc, best=(54, 1e-4))
    ax = plot_search_heatmap(result).axes[0]
    texts = cell_texts(ax)
    assert len(texts) == 8 and texts[(0, 1)] == "—" and texts[(3, 1)] == "90,0%" and texts[(1, 0)] == "75,0%"
    assert chosen_frames(ax)[0].get_xy() == (0.5, 2.5)


def test_a_run_stopped_for_trailing_far_behind_is_labelled():
    stopped = np.array([["patience", "max_epochs", "pruned"], ["pruned", "patience", "patience"],
                        ["patience", "patience", "max_epochs"]], dtype=object)
    fig = plot_search_heatmap(StandIn(stopped=stopped))
    texts = cell_texts(fig.axes[0])
    mark = t("tuning_plots.pruned")
    assert texts[(0, 2)] == f"90,6%\n{mark}" and texts[(1, 0)] == f"89,4%\n{mark}"
    assert sum(mark in text for text in texts.values()) == 2
    assert fig.get_supxlabel() == t("tuning_plots.pruned_note")
    assert plot_search_heatmap(StandIn()).get_supxlabel() == ""


def test_polish_numbers_and_learning_rates():
    assert [percent(v) for v in (0.9213, 0.5, 1.0, 0.0)] == ["92,1%", "50,0%", "100,0%", "0,0%"]
    assert [lr_text(v) for v in (1e-5, 1e-4, 3e-4, 2.5e-4, 1e-3)] == ["1e-5", "1e-4", "3e-4", "2.5e-4", "1e-3"]


GRID = {"depths": [20, 40, 54], "rates": "1e-5, 1e-4, 3e-4"}


@pytest.mark.parametrize("change, key, fields", [
    ({"val_accuracy": np.zeros((2, 3))}, "tuning_plots.bad_shape", {"shape": (2, 3), "rows": 3, "cols": 3}),
    ({"val_accuracy": np.full((3, 3), 93.4)}, "tuning_plots.bad_values",  # percent instead of a share
     {"value": [[93.4] * 3] * 3}),
    ({"val_accuracy": np.full((3, 3), np.nan)}, "tuning_plots.bad_values", {"value": [[np.nan] * 3] * 3}),
    ({"best": (30, 1e-4)}, "tuning_plots.bad_best", {"best": (30, 1e-4), **GRID}),
    ({"best": (40, 1e-3)}, "tuning_plots.bad_best", {"best": (40, 1e-3), **GRID}),
    ({"best": 40}, "tuning_plots.bad_best", {"best": 40, **GRID}),
    ({"depths": ()}, "tuning_plots.bad_axes", {"depths": [], "rates": [1e-5, 1e-4, 3e-4]}),
])
def test_a_malformed_result_gets_one_polish_line(change, key, fields):
    result = dataclasses.replace(StandIn(), **change)
    with pytest.raises(CourseError) as caught:
        plot_search_heatmap(result)
    assert str(caught.value) == t(key, **fields)
    assert "\n" not in str(caught.value)


def test_an_object_without_the_results_attributes():
    with pytest.raises(CourseError) as caught:
        plot_search_heatmap({"depths": (20,)})
    assert str(caught.value) == t("tuning_plots.not_a_result", kind="dict",
                                  missing="depths, learning_rates, val_accuracy, best")


def test_a_best_cell_without_a_result_is_rejected():
    acc = np.array([[0.5, np.nan]])
    with pytest.raises(CourseError, match="nie leży na siatce"):
        plot_search_heatmap(StandIn(depths=(20,), learning_rates=(1e-5, 1e-4), val_accuracy=acc, best=(20, 1e-4)))


def test_the_engines_own_result_type_is_drawn():
    from course_utils.tuning import SearchResult

    acc = np.array([[0.3, 0.4], [0.4, 0.5]])
    result = SearchResult(depths=(20, 56), learning_rates=(1e-5, 1e-4), val_accuracy=acc,
                          best_epoch=np.array([[2, 2], [1, 2]]), seconds=np.ones((2, 2)),
                          epochs_run=np.full((2, 2), 2), stopped=np.array(
                              [["max_epochs", "pruned"], ["patience", "max_epochs"]], dtype=object),
                          best=(56, 1e-4), n_val=10, max_epochs=2, patience=1, prune_after=2, prune_margin=0.03)
    ax = plot_search_heatmap(result).axes[0]
    assert cell_texts(ax) == {(0, 0): "30,0%", (0, 1): f"40,0%\n{t('tuning_plots.pruned')}",
                              (1, 0): "40,0%", (1, 1): "50,0%"}
    assert chosen_frames(ax)[0].get_xy() == (0.5, 0.5)
