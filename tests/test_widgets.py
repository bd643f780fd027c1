"""Tests of course_utils.widgets, driven without a browser (set values, click buttons)."""
import html
import re

import keras
import numpy as np
import pytest
from conftest import PHOTOS, WEIGHTS

from course_utils import freeze_lab, plots, widgets
from course_utils.errors import CourseError
from course_utils.messages import t
from course_utils.model import BLOCKS, block_of, block_start_index, build_model, count_params, freeze, unfreeze_last

HEAD = 5 * 1280 + 5  # Dense(5) on 1280 pooled features: kernel + bias


@pytest.fixture(scope="module")
def model_and_base():
    return build_model(5, 96, weights=str(WEIGHTS))


@pytest.fixture
def frozen(model_and_base):
    """The module's model with its base frozen; its weights and frozen base restored after the test."""
    model, base = model_and_base
    freeze(base)
    weights = [w.copy() for w in model.get_weights()]
    yield model_and_base
    model.set_weights(weights)
    freeze(base)


@pytest.fixture(scope="module")
def photos():
    from PIL import Image
    files = [sorted((PHOTOS / name).glob("*.jpg"))[:2] for name in ("daisy", "roses", "tulips")]
    files = [f for group in files for f in group]
    out = []
    for f in files:
        with Image.open(f) as img:
            out.append(np.asarray(img.convert("RGB").resize((96, 96))))
    return np.stack(out), np.array([0, 0, 2, 2, 4, 4])


class FakeTrain:
    """A train_fn that records its calls and returns a small history."""

    def __init__(self, lab_getter=None):
        self.calls, self.disabled_during, self.lab_getter = [], [], lab_getter

    def __call__(self, depth, lr, epochs, progress_callback):
        self.calls.append((depth, lr, epochs))
        if self.lab_getter:
            self.disabled_during.append(self.lab_getter().train_button.disabled)
        for epoch in range(1, epochs + 1):
            progress_callback(epoch, epochs)
        best = 0.5 + depth / 1000
        return {"accuracy": [0.4] * epochs, "val_accuracy": [0.3] * (epochs - 1) + [best],
                "loss": [1.0] * epochs, "val_loss": [1.1] * epochs}


@pytest.fixture
def lab(frozen):
    model, base = frozen
    box = {}
    fake = FakeTrain(lambda: box["lab"])
    box["lab"] = widgets.FreezeLab(model, base, train_fn=fake, epochs=3)
    box["lab"].fake = fake
    return box["lab"]


def text(html_value):
    """Visible text of an HTML widget value, as a browser shows it."""
    return html.unescape(re.sub(r"<[^>]+>", "", html_value))


def shows_trainable(lab, n):
    """True when the trainable-count line says ``n``."""
    return text(lab.trainable_count.value) == t("widgets.trainable_count", n=n)


def expected_trainable(base, depth):
    """Trainable parameters after unfreezing the last ``depth`` layers, counted layer by layer from Keras."""
    return HEAD + sum(int(np.prod(w.shape)) for layer in base.layers[len(base.layers) - depth:]
                      if not isinstance(layer, keras.layers.BatchNormalization) for w in layer.weights)


# --- freezing ---------------------------------------------------------------

def test_initial_state_reflects_frozen_base(lab, model_and_base):
    model, base = model_and_base
    assert lab.slider.max == len(base.layers) and lab.slider.value == 0
    assert count_params(model).trainable == HEAD and shows_trainable(lab, HEAD)
    assert lab.picture.value.tobytes().startswith(b"\x89PNG")


def test_slider_previews_without_touching_the_model(lab, model_and_base):
    model, base = model_and_base
    lab.slider.value = 30
    assert not any(layer.trainable for layer in base.layers)
    assert count_params(model).trainable == HEAD
    assert shows_trainable(lab, expected_trainable(base, 30))
    batchnorm = sum(isinstance(layer, keras.layers.BatchNormalization) for layer in base.layers[-30:])
    assert batchnorm > 0 and text(lab.batchnorm_info.value) == t("widgets.batchnorm", n=batchnorm)
    first = len(base.layers) - 30
    assert text(lab.status.value) == t("widgets.preview", n=30, word=t("widgets.layer_many"), first=first,
                                       block=block_of(base.layers[first].name))


def test_apply_sets_trainable_flags_and_counts(lab, model_and_base):
    model, base = model_and_base
    lab.slider.value = 20
    lab.apply_button.click()
    start = len(base.layers) - 20
    for i, layer in enumerate(base.layers):
        assert layer.trainable == (i >= start and not plots.is_batchnorm(layer)), layer.name
    counts = count_params(model)
    assert counts.trainable == expected_trainable(base, 20) and shows_trainable(lab, counts.trainable)
    assert text(lab.frozen_count.value) == t("widgets.frozen_count", n=counts.non_trainable, total=counts.total,
                                             share=counts.trainable / counts.total)
    assert text(lab.message.value) == "✅ " + t("widgets.applied", n=20, word=t("widgets.layer_many"),
                                               trainable=counts.trainable)
    assert lab.infer_depth() == 20


def test_apply_zero_freezes_everything_again(lab, model_and_base):
    model, base = model_and_base
    lab.apply(40)
    assert lab.slider.value == 40
    lab.slider.value = 0
    lab.apply_button.click()
    assert not any(layer.trainable for layer in base.layers)
    assert count_params(model).trainable == HEAD and shows_trainable(lab, HEAD)


def test_block_dropdown_moves_slider_to_block_start(lab, model_and_base):
    model, base = model_and_base
    lab.block.value = "block_13"
    start = block_start_index(base, "block_13")
    assert lab.slider.value == len(base.layers) - start
    lab.apply_button.click()
    trainable = [i for i, layer in enumerate(base.layers) if layer.trainable]
    assert trainable[0] == start and base.layers[start].name == "block_13_expand"
    assert shows_trainable(lab, count_params(model).trainable)
    assert count_params(model).trainable == expected_trainable(base, len(base.layers) - start)


def test_slider_at_block_start_selects_block(lab, model_and_base):
    _, base = model_and_base
    lab.slider.value = len(base.layers) - block_start_index(base, "block_16")
    assert lab.block.value == "block_16"
    lab.slider.value += 1
    assert lab.block.value is None


def test_apply_depth_out_of_range(lab, model_and_base):
    _, base = model_and_base
    n = len(base.layers)
    for bad, message in ((n + 1, t("model.depth_out_of_range", value=n + 1, max=n)),
                         (-1, t("model.depth_out_of_range", value=-1, max=n)),
                         (2.5, t("model.depth_not_int", value=2.5))):
        with pytest.raises(CourseError) as info:
            lab.apply(bad)
        assert str(info.value) == message
    assert not any(layer.trainable for layer in base.layers)
    lab.slider.value = 10_000  # the slider itself clamps
    assert lab.slider.value == len(base.layers)


def test_without_model_every_action_explains(frozen):
    _, base = frozen
    lab = widgets.FreezeLab(None, base, train_fn=FakeTrain(), epochs=1)
    no_model = "❌ " + t("widgets.no_model")
    assert text(lab.message.value) == no_model
    assert lab.apply_button.disabled and lab.train_button.disabled
    lab.message.value = ""
    lab.slider.value = 5
    assert text(lab.message.value) == no_model
    lab.message.value = ""
    lab.apply_button.click()
    assert text(lab.message.value) == no_model
    with pytest.raises(CourseError) as info:
        lab.apply(5)
    assert str(info.value) == t("widgets.no_model")
    assert lab._repr_mimebundle_()["text/plain"] == "FreezeLab: " + t("widgets.no_model")
    assert not any(layer.trainable for layer in base.layers)


def test_wrong_objects_and_set_model(frozen):
    model, base = frozen
    lab = widgets.FreezeLab("model", base)
    assert text(lab.message.value) == "❌ " + t("model.not_a_model", kind="str")
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    lab.set_model(other, base)
    assert text(lab.message.value) == "❌ " + t("widgets.base_not_in_model")
    lab.set_model(model, base)
    assert not lab.apply_button.disabled and shows_trainable(lab, HEAD)


# --- train and compare ------------------------------------------------------

def test_train_adds_row_curve_and_table(lab, model_and_base, monkeypatch):
    _, base = model_and_base
    lab.slider.value = 20
    expected_params = expected_trainable(base, 20)
    lab.lr.value = 1e-4
    clock = iter([100.0, 102.5])  # the run starts at 100 s and ends at 102.5 s
    monkeypatch.setattr(freeze_lab, "perf_counter", lambda: next(clock))
    lab.train_button.click()
    assert lab.fake.calls == [(20, 1e-4, 3)]
    assert lab.fake.disabled_during == [True]
    assert not lab.train_button.disabled
    assert lab.progress.value == lab.progress.max == 3
    assert len(lab.results) == 1
    row = lab.results[0]
    assert row["depth"] == 20 and row["lr"] == 1e-4 and row["trainable_params"] == expected_params
    assert row["best_val_accuracy"] == pytest.approx(0.52)
    assert row["seconds"] == 2.5
    cells = re.findall(r"<td>(.*?)</td>", lab.table.value)
    assert cells == ["20", "1e-4", str(expected_params), "52.0%", "2.5"]
    assert lab.runs[0][0] == t("widgets.run_label", n=20, word=t("widgets.layer_many"), lr="1e-4")
    assert lab.runs_picture.value.tobytes().startswith(b"\x89PNG")
    assert text(lab.message.value) == "✅ " + t("widgets.trained", acc=0.52, seconds=2.5)


def test_second_run_overlays_first(lab):
    lab.slider.value = 22
    lab.lr.value = 1e-4
    lab.train_button.click()
    lab.slider.value = 5
    lab.lr.value = 1e-3
    lab.train_button.click()
    assert [r["depth"] for r in lab.results] == [22, 5]
    assert [label for label, _ in lab.runs] == [
        t("widgets.run_label", n=22, word=t("widgets.layer_few"), lr="1e-4"),
        t("widgets.run_label", n=5, word=t("widgets.layer_many"), lr="1e-3")]
    fig = plots.plot_runs(lab.runs)
    assert len(fig.axes[0].lines) == 2
    assert lab.table.value.count("<tr>") == 3  # header + 2 runs


def test_failing_train_fn_keeps_earlier_runs(lab):
    lab.train_button.click()
    assert len(lab.results) == 1

    def broken(depth, lr, epochs, progress_callback):
        progress_callback(1, epochs)
        raise RuntimeError("zabrakło pamięci\nna GPU")

    lab.train_fn = broken
    lab.train_button.click()
    assert text(lab.message.value) == "❌ " + t("widgets.train_failed", error="RuntimeError: zabrakło pamięci na GPU")
    assert len(lab.results) == 1 and lab.table.value.count("<tr>") == 2
    assert not lab.train_button.disabled


def test_history_without_metrics_is_reported(lab):
    lab.train_fn = lambda depth, lr, epochs, cb: {"accuracy": [0.5], "loss": [1.0], "val_loss": [1.0]}
    lab.train_button.click()
    assert "'val_accuracy'" in lab.message.value
    assert lab.results == []


def test_bad_learning_rate_and_epochs(lab, model_and_base):
    model, base = model_and_base
    for bad in (-1e-4, 0, "szybko", True):
        with pytest.raises(CourseError) as info:
            lab.train(lr=bad)
        assert str(info.value) == t("training.bad_lr", value=bad)
    with pytest.raises(CourseError, match="nan"):
        lab.train(lr=float("nan"))
    assert lab.results == [] and lab.fake.calls == []
    with pytest.raises(CourseError) as info:
        widgets.FreezeLab(model, base, learning_rates=(1e-3, -1))
    assert str(info.value) == t("training.bad_lr", value=-1)
    with pytest.raises(CourseError) as info:
        widgets.FreezeLab(model, base, epochs=0)
    assert str(info.value) == t("training.bad_epochs", value=0)


def test_no_train_fn_disables_training(frozen):
    model, base = frozen
    lab = widgets.FreezeLab(model, base, epochs=1)
    assert lab.train_button.disabled
    assert text(lab.message.value) == "ℹ️ " + t("widgets.no_train_fn")
    with pytest.raises(CourseError) as info:
        lab.train()
    assert str(info.value) == t("widgets.no_train_fn")


def test_small_real_train_fn(frozen, photos):
    """A real (tiny) fine-tuning run honours the contract: keras History and progress per epoch."""
    model, base = frozen
    x, y = photos
    x = keras.applications.mobilenet_v2.preprocess_input(x.astype("float32"))

    def train_fn(depth, lr, epochs, progress_callback):
        unfreeze_last(base, depth)
        model.compile(optimizer=keras.optimizers.Adam(lr), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        report = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: progress_callback(epoch + 1, epochs))
        return model.fit(x, y, validation_data=(x, y), epochs=epochs, batch_size=6, verbose=0, callbacks=[report])

    lab = widgets.FreezeLab(model, base, train_fn=train_fn, epochs=1)
    lab.slider.value = 3
    lab.train_button.click()
    assert lab.message.value.count("❌") == 0, lab.message.value
    assert len(lab.results) == 1 and lab.results[0]["trainable_params"] == count_params(model).trainable
    # one epoch: the validation accuracy is that of the trained model on the same six photos
    predicted = model.predict(x, verbose=0).argmax(axis=1)
    assert lab.results[0]["best_val_accuracy"] == pytest.approx(np.mean(predicted == y))
    assert lab.progress.value == 1
    assert text(lab.status.value) == t("widgets.status_applied", n=3)  # train_fn unfroze 3 layers itself


# --- display and CSS hooks ----------------------------------------------------

def test_css_classes_and_display(lab):
    assert "freeze-lab" in lab.widget._dom_classes
    assert "freeze-lab-slider" in lab.slider._dom_classes
    assert "freeze-lab-trainable-count" in lab.trainable_count._dom_classes
    assert "freeze-lab-apply" in lab.apply_button._dom_classes
    assert "freeze-lab-train" in lab.train_button._dom_classes
    assert "freeze-lab-table" in lab.table._dom_classes
    assert "freeze-lab-message" in lab.message._dom_classes
    bundle = lab._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == lab.widget.model_id
    assert bundle["text/plain"] == t("widgets.freeze_plain", n=0, total=154, trainable=HEAD, runs=0)


# --- LayerExplorer ------------------------------------------------------------

@pytest.fixture(scope="module")
def explorer(model_and_base, photos):
    _, base = model_and_base
    return widgets.LayerExplorer(base, photos[0][2], n=9)


def test_layer_explorer_walks_blocks(explorer, model_and_base, photos):
    _, base = model_and_base

    def stage(kind, block):
        shape = "×".join(map(str, explorer.maps[block].shape))
        return t(f"widgets.stage_{kind}", block=block, layer=explorer.layers[block], shape=shape)

    assert explorer.block.options == tuple(BLOCKS)
    assert explorer.block.value == "stem" and text(explorer.stage.value) == stage("early", "stem")
    first = explorer.picture.value
    explorer.block.value = "block_16"
    assert explorer.picture.value != first and explorer.picture.value.tobytes().startswith(b"\x89PNG")
    assert text(explorer.stage.value) == stage("late", "block_16") and "3×3×320" in explorer.stage.value
    explorer.show("block_8")
    assert explorer.block.value == "block_8" and text(explorer.stage.value) == stage("middle", "block_8")
    assert explorer.maps["block_16"].shape == (3, 3, 320)
    direct = plots.activations(base, photos[0][2], "block_3")[0]
    assert np.allclose(explorer.maps["block_3"], direct, atol=1e-4)
    fig = plots.plot_feature_maps(explorer.maps["block_8"], explorer.layers["block_8"], explorer.n)
    assert sum(len(ax.get_images()) for ax in fig.axes) == 9
    assert explorer._repr_mimebundle_()["text/plain"] == t("widgets.explorer_plain", block="block_8",
                                                             layer=explorer.layers["block_8"])
    assert "layer-explorer" in explorer.widget._dom_classes


def test_layer_explorer_bad_input(explorer, model_and_base, photos):
    _, base = model_and_base
    with pytest.raises(CourseError, match="uint8"):
        widgets.LayerExplorer(base, photos[0][0].astype("float32"))
    with pytest.raises(CourseError, match="uint8"):
        widgets.LayerExplorer(base, photos[0][0][..., 0])
    with pytest.raises(CourseError, match="keras.Model"):
        widgets.LayerExplorer("base", photos[0][0])
    with pytest.raises(CourseError, match="block_99"):
        explorer.show("block_99")
