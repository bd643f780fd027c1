"""MobileNetV2 with the real ImageNet weights: head size, freezing, bad input."""
import keras
import numpy as np
import pytest

from course_utils import model as m
from course_utils.errors import CourseError


@pytest.fixture(scope="module")
def built_once(weights_path):
    model, base = m.build_model(num_classes=5, image_size=96, weights=str(weights_path))
    return model, base


@pytest.fixture
def built(built_once):
    """The module's model with a frozen base; frozen again afterwards, even when the test fails."""
    m.freeze(built_once[1])
    yield built_once
    m.freeze(built_once[1])


def by_hand(layers):
    """Trainable parameters of some layers, counted from their variables' shapes."""
    return sum(int(np.prod(w.shape)) for layer in layers for w in layer.trainable_weights)


def test_weights_are_the_real_imagenet_ones(built, weights_path):
    _, base = built
    random_base = keras.applications.MobileNetV2(input_shape=(96, 96, 3), include_top=False,
                                                 weights=None)
    first = base.get_layer("Conv1").get_weights()[0]
    assert first.shape == (3, 3, 3, 32)
    assert not np.allclose(first, random_base.get_layer("Conv1").get_weights()[0])
    assert base.count_params() == 2_257_984


def test_head_has_6405_trainable_parameters(built):
    model, base = built
    counts = m.count_params(model)
    assert counts.trainable == 1280 * 5 + 5 == 6405
    assert counts.non_trainable == 2_257_984
    assert model.output_shape == (None, 5)
    assert model.layers[-1].get_config()["activation"] == "softmax"


def test_unfreeze_last_20_layers_keeps_batchnorm_frozen(built):
    model, base = built
    n = m.unfreeze_last(base, 20)
    last = base.layers[-20:]
    bn = [layer for layer in last if isinstance(layer, keras.layers.BatchNormalization)]
    assert n == 20 - len(bn) == 13
    assert all(not layer.trainable for layer in base.layers[:-20])
    assert all(layer.trainable for layer in last if layer not in bn) and not any(layer.trainable for layer in bn)
    assert m.count_params(model).trainable == 1_201_285 == 6405 + by_hand(last)


def test_unfreeze_can_include_batchnorm(built):
    _, base = built
    assert m.unfreeze_last(base, 20, keep_batchnorm_frozen=False) == 20
    assert all(layer.trainable for layer in base.layers[-20:])


def test_unfreeze_by_block_name_and_index(built):
    _, base = built
    assert m.block_start_index(base, "block_15") == len(base.layers) - 20
    by_name = m.unfreeze_from(base, "block_15")
    flags_name = [layer.trainable for layer in base.layers]
    by_index = m.unfreeze_from(base, len(base.layers) - 20)
    assert by_name == by_index and flags_name == [layer.trainable for layer in base.layers]
    assert m.unfreeze_from(base, "Conv_1") == 2  # Conv_1 and out_relu; Conv_1_bn stays frozen


def test_blocks_cover_every_layer(built):
    _, base = built
    assert {m.block_of(layer.name) for layer in base.layers} == set(m.BLOCKS)


def test_depth_0_and_all_layers(built):
    model, base = built
    assert m.unfreeze_last(base, 0) == 0
    assert m.count_params(model).trainable == 6405
    m.unfreeze_last(base, len(base.layers), keep_batchnorm_frozen=False)
    moving_stats = sum(2 * layer.moving_mean.shape[0] for layer in base.layers
                       if isinstance(layer, keras.layers.BatchNormalization))
    assert m.count_params(model).non_trainable == moving_stats == 34_112


@pytest.mark.parametrize("depth", [-1, 10_000, 2.5, "20", True])
def test_bad_depth_gives_one_line_message(built, depth):
    _, base = built
    with pytest.raises(CourseError) as err:
        m.unfreeze_last(base, depth)
    assert "\n" not in str(err.value)


def test_unknown_block(built):
    with pytest.raises(CourseError, match="block_99"):
        m.unfreeze_from(built[1], "block_99")


def test_missing_weights_file(tmp_path):
    with pytest.raises(CourseError, match="COURSE_WEIGHTS"):
        m.build_base(96, weights=str(tmp_path / "nope.h5"))


def test_broken_weights_file(tmp_path):
    broken = tmp_path / "broken.h5"
    broken.write_bytes(b"not hdf5")
    with pytest.raises(CourseError, match="broken.h5"):
        m.build_base(96, weights=str(broken))


def test_offline_imagenet_download_says_what_to_set(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # no cached official file
    def offline(*args, **kwargs):
        raise ConnectionError("no network")
    monkeypatch.setattr(keras.utils, "get_file", offline)
    import keras.src.applications.mobilenet_v2 as impl
    monkeypatch.setattr(impl.file_utils, "get_file", offline)
    with pytest.raises(CourseError, match="COURSE_WEIGHTS=") as err:
        m.build_base(96, weights="imagenet")
    assert "\n" not in str(err.value)


def test_bad_image_size():
    with pytest.raises(CourseError, match="96"):
        m.build_base(100)


def test_count_params_rejects_non_models():
    with pytest.raises(CourseError, match="list"):
        m.count_params([1, 2])


def test_saved_model_round_trip_keeps_predictions_and_classes(built, tmp_path):
    model, _ = built
    path = m.save_trained(model, tmp_path / "m.keras", ["a", "b", "c", "d", "e"])
    loaded, names = m.load_trained(path)
    x = np.random.default_rng(0).uniform(-1, 1, (2, 96, 96, 3)).astype("float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
    assert names == ["a", "b", "c", "d", "e"]


def test_missing_or_broken_saved_model(tmp_path):
    with pytest.raises(CourseError, match="uruchom najpierw"):
        m.load_trained(tmp_path / "none.keras")
    (tmp_path / "bad.keras").write_bytes(b"zip? no")
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(CourseError, match="uszkodzony"):
        m.load_trained(tmp_path / "bad.keras")


def test_freeze_after_the_source_loop_freezes_everything(built):
    model, base = built
    base.trainable = False
    for layer in base.layers[len(base.layers) - 20:]:  # the source's loop
        layer.trainable = True
    assert m.count_params(model).trainable == 6405 + by_hand(base.layers[-20:]) > 6405
    m.freeze(base)
    assert m.count_params(model).trainable == 6405


def test_base_of_a_saved_model_shares_its_layers(built, tmp_path):
    model, _ = built
    loaded, _ = m.load_trained(m.save_trained(model, tmp_path / "m.keras", list("abcde"),
                                              history={"accuracy": [0.5, 0.75]}))
    base = m.base_of(loaded)
    assert len(base.layers) == 154 and base.layers[-1] is loaded.get_layer("out_relu")
    assert m.saved_history(tmp_path / "m.keras") == {"accuracy": [0.5, 0.75]}
    with pytest.raises(CourseError, match="out_relu"):
        m.base_of(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")]))


# --- what a depth means (FreezeLab's queries) ----------------------------------

@pytest.mark.parametrize("depth", [0, 1, 3, 20, 154])  # none starts at a BatchNorm layer
def test_counts_at_depth_predict_what_unfreezing_gives(built, depth):
    model, base = built
    preview = m.counts_at_depth(model, base, depth)
    assert not any(layer.trainable for layer in base.layers)  # a preview changes no flag
    m.unfreeze_last(base, depth)
    assert preview == m.count_params(model)
    assert preview.total == model.count_params() == 2_257_984 + 6405
    assert m.current_depth(base) == depth
    bn = [layer for layer in base.layers[len(base.layers) - depth:]
          if isinstance(layer, keras.layers.BatchNormalization)]
    assert m.batchnorm_in_last(base, depth) == len(bn)


def test_current_depth_of_a_pattern_unfreeze_last_cannot_make(built):
    _, base = built
    base.trainable = True
    for layer in base.layers:  # one early layer only
        layer.trainable = layer is base.layers[10]
    assert m.current_depth(base) is None
    m.freeze(base)
    assert m.current_depth(base) == 0


def test_head_layers_and_weight_count(built):
    model, base = built
    head = m.head_layers(model, base)
    assert [layer.name for layer in head] == ["global_avg_pool", "predictions"]
    assert m.weight_count(head[1].weights) == 6405 == by_hand(head)
    assert m.weight_count(model.weights) == model.count_params()
