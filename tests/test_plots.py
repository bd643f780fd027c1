"""Tests of course_utils.plots: assertions on the data drawn in the figures."""

import keras
import numpy as np
import pytest
from conftest import PHOTOS, WEIGHTS
from matplotlib.figure import Figure

from course_utils import plots
from course_utils.errors import CourseError
from course_utils.model import BLOCKS, build_base, freeze, unfreeze_last

CLASSES = ["stokrotka", "mniszek", "róża", "słonecznik", "tulipan"]


def history(n, start=0.5):
    """A fake history of ``n`` epochs with distinct values per metric."""
    return {"accuracy": [start + 0.01 * i for i in range(n)], "val_accuracy": [start + 0.02 * i for i in range(n)],
            "loss": [1.0 - 0.05 * i for i in range(n)], "val_loss": [1.2 - 0.04 * i for i in range(n)]}


@pytest.fixture(scope="module")
def base():
    return build_base(96, weights=str(WEIGHTS))


@pytest.fixture(scope="module")
def photo():
    files = sorted(PHOTOS.glob("roses/*.jpg"))
    from PIL import Image
    with Image.open(files[0]) as img:
        return np.asarray(img.convert("RGB").resize((120, 100)))


def images_of(fig):
    """All AxesImage artists of a figure, axes in order."""
    return [im for ax in fig.axes for im in ax.get_images()]


# --- learning curves --------------------------------------------------------

def test_plot_history_concatenates_and_marks_fine_tuning():
    fe, ft = history(3), history(2, start=0.8)
    fig = plots.plot_history(fe, ft)
    assert isinstance(fig, Figure)
    acc_ax, loss_ax = fig.axes[:2]
    for ax, metric in ((acc_ax, "accuracy"), (loss_ax, "loss")):
        train, val, marker = ax.lines
        assert list(train.get_xdata()) == [1, 2, 3, 4, 5]
        assert np.allclose(train.get_ydata(), fe[metric] + ft[metric])
        assert np.allclose(val.get_ydata(), fe[f"val_{metric}"] + ft[f"val_{metric}"])
        assert list(marker.get_xdata()) == [3, 3]
        assert marker.get_label() == "początek fine-tuningu"
    assert acc_ax.get_xlabel() == "Epoka"


def test_plot_history_without_fine_tuning_has_no_marker():
    fig = plots.plot_history(history(4))
    assert [len(ax.lines) for ax in fig.axes[:2]] == [2, 2]
    assert list(fig.axes[0].lines[0].get_xdata()) == [1, 2, 3, 4]


def test_plot_history_accepts_keras_history():
    h = keras.callbacks.History()
    h.history = history(2)
    fig = plots.plot_history(h, history(1))
    assert list(fig.axes[0].lines[2].get_xdata()) == [2, 2]
    assert len(fig.axes[0].lines[0].get_xdata()) == 3


@pytest.mark.parametrize("missing", ["accuracy", "val_accuracy", "loss", "val_loss"])
def test_plot_history_names_the_missing_key(missing):
    bad = history(3)
    del bad[missing]
    with pytest.raises(CourseError, match=f"'{missing}'"):
        plots.plot_history(history(2), bad)


def test_plot_history_rejects_non_history_and_empty():
    with pytest.raises(CourseError, match="list"):
        plots.plot_history([0.5, 0.6])
    with pytest.raises(CourseError, match="'accuracy'"):
        plots.plot_history({"accuracy": [], "val_accuracy": [], "loss": [], "val_loss": []})


def test_plot_runs_overlays_validation_curves_with_legend():
    runs = [("20 warstw, lr=1e-4", history(3)), ("5 warstw, lr=1e-3", history(2, 0.6)),
            ("0 warstw, lr=1e-5", history(4, 0.4))]
    fig = plots.plot_runs(runs)
    acc_ax, loss_ax = fig.axes[:2]
    assert len(acc_ax.lines) == 3 and len(loss_ax.lines) == 3
    assert [text.get_text() for text in acc_ax.get_legend().get_texts()] == [label for label, _ in runs]
    assert np.allclose(acc_ax.lines[1].get_ydata(), runs[1][1]["val_accuracy"])
    assert np.allclose(loss_ax.lines[2].get_ydata(), runs[2][1]["val_loss"])


def test_plot_runs_bad_input():
    with pytest.raises(CourseError):
        plots.plot_runs([])
    with pytest.raises(CourseError, match="nr 1"):
        plots.plot_runs([history(2)])
    with pytest.raises(CourseError, match="'val_loss'"):
        plots.plot_runs([("a", {"val_accuracy": [0.5]})])


# --- photos, predictions, confusion matrix -----------------------------------

def test_plot_samples_shows_n_photos_with_class_names(photo):
    batch = np.stack([photo] * 6)
    fig = plots.plot_samples(batch, [0, 1, 2, 3, 4, 0], CLASSES, n=4)
    shown = images_of(fig)
    assert len(shown) == 4
    assert np.allclose(shown[0].get_array(), photo / 255.0, atol=1e-6)
    titles = [ax.get_title() for ax in fig.axes if ax.get_images()]
    assert titles == CLASSES[:4]


def test_plot_samples_undoes_mobilenet_preprocessing(photo):
    preprocessed = keras.applications.mobilenet_v2.preprocess_input(photo[None].astype("float32"))
    fig = plots.plot_samples(preprocessed, np.eye(5)[[2]], CLASSES, n=1)
    assert np.allclose(images_of(fig)[0].get_array(), photo / 255.0, atol=1e-5)
    assert fig.axes[0].get_title() == "róża"


def test_plot_samples_bad_input(photo):
    with pytest.raises(CourseError, match="kształt"):
        plots.plot_samples(photo, [0], CLASSES)
    with pytest.raises(CourseError, match="n=0"):
        plots.plot_samples(photo[None], [0], CLASSES, n=0)
    with pytest.raises(CourseError, match="7"):
        plots.plot_samples(photo[None], [7], CLASSES)
    with pytest.raises(CourseError, match="2"):
        plots.plot_samples(photo[None], [0, 1], CLASSES)


def test_plot_predictions_marks_mistakes_with_text(photo):
    batch = np.stack([photo] * 4)
    probs = np.array([[0.9, 0.1, 0, 0, 0], [0.2, 0.7, 0.1, 0, 0], [0.1, 0, 0.3, 0, 0.6], [0, 0, 0, 1.0, 0]])
    fig = plots.plot_predictions(batch, [0, 1, 2, 3], probs.argmax(axis=1), CLASSES, probs=probs)
    titles = [ax.get_title() for ax in fig.axes if ax.get_images()]
    assert titles[0] == "✓ stokrotka (90%)"
    assert titles[2].startswith("✗ tulipan (60%)") and "prawda: róża" in titles[2]
    assert sum(title.startswith("✗") for title in titles) == 1
    assert "3 z 4" in fig.get_suptitle()


def test_plot_predictions_bad_input(photo):
    with pytest.raises(CourseError):
        plots.plot_predictions(photo[None], [0], [0, 1], CLASSES)
    with pytest.raises(CourseError, match="kształt"):
        plots.plot_predictions(photo[None], [0], [0], CLASSES, probs=np.ones((1, 3)))


def test_confusion_matrix_known_example():
    y_true = [0, 0, 1, 2, 2, 2]
    y_pred = [0, 1, 1, 2, 0, 2]
    expected = np.array([[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    assert np.array_equal(plots.confusion_matrix(y_true, y_pred, 3), expected)
    fig = plots.plot_confusion_matrix(y_true, y_pred, ["a", "b", "c"])
    ax = fig.axes[0]
    assert np.array_equal(ax.get_images()[0].get_array(), expected)
    cells = {(round(tx.get_position()[1]), round(tx.get_position()[0])): tx.get_text() for tx in ax.texts}
    assert cells == {(r, c): str(expected[r, c]) for r in range(3) for c in range(3)}
    assert "66.7%" in ax.get_title()


def test_confusion_matrix_bad_input():
    with pytest.raises(CourseError, match="3"):
        plots.confusion_matrix([0, 3], [0, 1], 3)
    with pytest.raises(CourseError, match="Długości"):
        plots.confusion_matrix([0, 1], [0], 3)


def test_most_confident_mistakes():
    y_true = [0, 1, 2, 0, 1]
    probs = np.array([[0.1, 0.9, 0], [0.1, 0.8, 0.1], [0.6, 0.2, 0.2], [0.99, 0, 0.01], [0.05, 0.0, 0.95]])
    assert list(plots.most_confident_mistakes(y_true, probs, k=5)) == [4, 0, 2]
    assert list(plots.most_confident_mistakes(y_true, probs, k=1)) == [4]
    assert list(plots.most_confident_mistakes([1, 1], [[0.1, 0.9], [0.2, 0.8]], k=3)) == []
    with pytest.raises(CourseError, match="k=-1"):
        plots.most_confident_mistakes(y_true, probs, k=-1)
    with pytest.raises(CourseError):
        plots.most_confident_mistakes(y_true, probs[:3], k=2)


# --- inside the network -----------------------------------------------------

def test_first_layer_filters_are_32_rgb_images(base):
    fig = plots.plot_first_layer_filters(base)
    shown = images_of(fig)
    assert len(shown) == 32
    kernel = base.get_layer("Conv1").get_weights()[0]
    first = kernel[..., 5]
    assert shown[5].get_array().shape == (3, 3, 3)
    assert np.allclose(shown[5].get_array(), (first - first.min()) / (first.max() - first.min()), atol=1e-6)


def test_plot_activations_shows_n_strongest_maps(base, photo):
    fig = plots.plot_activations(base, photo, "block_3", n=8)
    shown = images_of(fig)
    assert len(shown) == 8
    maps = plots.activations(base, photo, ["block_3_project_BN"])[0]
    assert maps.shape == (12, 12, 32)
    strongest = int(np.argmax(maps.mean(axis=(0, 1))))
    assert np.allclose(shown[0].get_array(), maps[..., strongest], atol=1e-5)
    assert "block_3_project_BN" in fig.get_suptitle()


def test_activation_model_and_input_handling(base, photo):
    model = plots.activation_model(base, ["Conv1", "block_16"])
    assert [tuple(out.shape[1:]) for out in model.outputs] == [(48, 48, 32), (3, 3, 320)]
    uint8_maps = plots.activations(base, photo, "Conv1")[0]
    ready = plots.prepare_image(base, photo)[0]
    assert ready.shape == (96, 96, 3) and ready.min() >= -1 and ready.max() <= 1
    assert np.allclose(plots.activations(base, ready, "Conv1")[0], uint8_maps, atol=1e-5)


def test_plot_activations_bad_input(base, photo):
    with pytest.raises(CourseError, match="'block_99'"):
        plots.plot_activations(base, photo, "block_99")
    with pytest.raises(CourseError, match="32"):
        plots.plot_activations(base, photo, "Conv1", n=64)
    with pytest.raises(CourseError, match="kształt"):
        plots.plot_activations(base, photo[..., 0], "Conv1")


def test_plot_trainable_blocks_matches_layer_flags(base):
    unfreeze_last(base, 20)
    try:
        fig = plots.plot_trainable_blocks(base)
        ax = fig.axes[0]
        trainable = [p for p in ax.patches if p.get_gid() == "trainable"]
        frozen = [p for p in ax.patches if p.get_gid() == "frozen"]
        assert len(trainable) + len(frozen) == len(base.layers)
        assert len(trainable) == sum(layer.trainable for layer in base.layers)
        assert all(p.get_hatch() for p in frozen) and not any(p.get_hatch() for p in trainable)
        assert [tick.get_text() for tick in ax.get_yticklabels()] == BLOCKS
        texts = [tx.get_text() for tx in ax.texts]
        assert texts[BLOCKS.index("Conv_1")] == "2/3 trenowalnych"
        assert texts[BLOCKS.index("stem")] == "0/9 trenowalnych"
    finally:
        freeze(base)


def test_plot_trainable_blocks_preview_does_not_change_the_base(base):
    freeze(base)
    fig = plots.plot_trainable_blocks(base, depth=len(base.layers))
    trainable = [p for p in fig.axes[0].patches if p.get_gid() == "trainable"]
    batchnorm = sum(plots.is_batchnorm(layer) for layer in base.layers)
    assert len(trainable) == len(base.layers) - batchnorm
    assert not any(layer.trainable for layer in base.layers)
    with pytest.raises(CourseError, match="155"):
        plots.plot_trainable_blocks(base, depth=155)


def test_figures_render_to_png():
    fig = plots.plot_history(history(2))
    assert fig._repr_png_().startswith(b"\x89PNG")


# --- one rule for how a photo array is scaled ------------------------------------

def test_pixel_scale_rule(photo):
    as_float = photo.astype("float32")
    preprocessed = keras.applications.mobilenet_v2.preprocess_input(as_float.copy())
    assert plots.pixel_scale(photo) == "pixels"
    assert plots.pixel_scale(as_float) == "pixels"
    assert plots.pixel_scale(as_float / 255.0) == "unit"
    assert plots.pixel_scale(preprocessed) == "preprocessed"
    assert plots.pixel_scale(as_float / 255.0, scale="preprocessed") == "preprocessed"
    with pytest.raises(CourseError, match="'pixels'.*'unit'.*'preprocessed'"):
        plots.pixel_scale(photo, scale="0-255")


def test_float_photo_in_0_1_is_shown_and_prepared_like_its_uint8_twin(base, photo):
    unit = photo.astype("float32") / 255.0
    assert unit.min() >= 0 and unit.max() <= 1
    expected = photo.astype("float64") / 255.0  # what imshow of the uint8 photo shows
    np.testing.assert_allclose(plots.to_display(unit), expected, atol=1e-6)
    np.testing.assert_allclose(plots.to_display(photo), expected, atol=1e-6)
    np.testing.assert_allclose(plots.prepare_image(base, unit), plots.prepare_image(base, photo), atol=1e-5)
    maps_unit = plots.activations(base, unit, "Conv1")[0]
    np.testing.assert_allclose(maps_unit, plots.activations(base, photo, "Conv1")[0], atol=1e-4)
    fig = plots.plot_samples(unit[None], [2], CLASSES, n=1)
    np.testing.assert_allclose(images_of(fig)[0].get_array(), expected, atol=1e-6)


def test_explicit_scale_for_a_bright_preprocessed_photo(base):
    bright = np.full((96, 96, 3), 200, dtype=np.uint8)  # brighter than mid-grey everywhere
    preprocessed = keras.applications.mobilenet_v2.preprocess_input(bright.astype("float32"))
    assert preprocessed.min() > 0  # the rule alone would read it as a [0, 1] photo
    np.testing.assert_allclose(plots.to_display(preprocessed, scale="preprocessed"), 200 / 255.0, atol=1e-6)
    np.testing.assert_allclose(plots.prepare_image(base, preprocessed, scale="preprocessed"),
                               plots.prepare_image(base, bright), atol=1e-6)
