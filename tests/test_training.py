"""Cached feature extraction / fine-tuning and the freeze-depth lab's train_fn.

Tiny subsets only (8 photos per class, 96 px) with the real MobileNetV2 weights.
"""

import numpy as np
import pytest
from conftest import PHOTOS, WEIGHTS


@pytest.fixture(autouse=True)
def course_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.getbasetemp() / "course_home"
    monkeypatch.setenv("COURSE_HOME", str(home))
    monkeypatch.setenv("COURSE_WEIGHTS", str(WEIGHTS))
    monkeypatch.delenv("COURSE_FAST", raising=False)
    return home


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from course_utils.data import load_flowers

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COURSE_HOME", str(tmp_path_factory.getbasetemp() / "course_home"))
        return load_flowers(PHOTOS, image_size=96, per_class=8, seed=42)


def _build(seed=0):
    import keras

    from course_utils.model import build_model

    keras.utils.set_random_seed(seed)
    return build_model(5, 96, str(WEIGHTS))


def _full_probs(model, data, split):
    return model.predict(data.dataset(split, shuffle=False), verbose=0)


def test_boundaries_of_mobilenetv2(data):
    from course_utils import training
    from course_utils.model import unfreeze_last

    model, base = _build()
    assert model.layers[training.head_boundary(model)].name == "predictions"
    assert training.unfreeze_boundary(model, base, 20) == 134
    unfreeze_last(base, 20)
    k = training.trainable_boundary(model)
    assert model.layers[k].name == "block_15_expand"
    assert [training.producer(model, x).name for x in training.crossing_tensors(model, k)] == ["block_14_add"]
    # inside a residual block two tensors cross the boundary
    names = {training.producer(model, x).name for x in training.crossing_tensors(model, 130)}
    assert names == {"block_14_depthwise_BN", "block_13_project_BN"}


@pytest.mark.parametrize("boundary", ["head", 134, 130])
def test_cached_path_matches_full_model(data, boundary):
    from course_utils import training

    model, _ = _build()
    k = training.head_boundary(model) if boundary == "head" else boundary
    acts = training.cached_activations(model, data, k, ("val", "test"), verbose=0)
    top = training.top_model(model, k)
    for split in ("val", "test"):
        cached = training._predict_arrays(top, acts[split])
        np.testing.assert_allclose(cached, _full_probs(model, data, split), atol=1e-4)


def test_fine_tune_top_matches_full_model_after_training(data):
    from course_utils import training

    model, base = _build()
    training.fine_tune_cached(model, base, data, unfreeze=20, learning_rate=1e-3, epochs=1,
                              verbose=0)
    cached = training.predict_cached(model, data, "val")
    np.testing.assert_allclose(cached, _full_probs(model, data, "val"), atol=1e-4)
    # BatchNorm stays frozen (inference mode), the convolutions above the boundary train
    assert not model.get_layer("block_16_project_BN").trainable
    assert model.get_layer("block_16_project").trainable


def test_train_head_cached_trains_the_learners_dense(data):
    from course_utils import training

    model, base = _build()
    dense = model.get_layer("predictions")
    before = [w.copy() for w in dense.get_weights()]
    history = training.train_head_cached(model, data, epochs=8, learning_rate=1e-2, verbose=0,
                                         base=base)
    assert set(history.history) >= {"accuracy", "val_accuracy", "loss", "val_loss"}
    assert len(history.history["loss"]) == 8
    assert model.get_layer("predictions") is dense
    assert any(not np.allclose(a, b) for a, b in zip(before, dense.get_weights()))
    probs = _full_probs(model, data, "train")
    accuracy = np.mean(np.argmax(probs, axis=1) == data.y_train)
    assert accuracy > 1 / data.num_classes + 0.2
    # the learner's model is compiled and usable as usual
    loss, acc = model.evaluate(data.dataset("train", shuffle=False), verbose=0)
    assert acc == pytest.approx(accuracy, abs=1e-6)
    # the same pass cached the fine-tuning boundary, so fine-tuning needs no new pass
    cache = training.activation_cache(data)
    assert any(key[0][1] == "block_14_add" for key in cache.entries)


def test_cache_is_invalidated_when_frozen_weights_change(data):
    from course_utils import training

    model, _ = _build()
    k = training.head_boundary(model)
    first = training.cached_activations(model, data, k, ("val",), verbose=0)["val"][0]
    again = training.cached_activations(model, data, k, ("val",), verbose=0)["val"][0]
    assert again is first  # served from the cache
    conv = model.get_layer("Conv_1")
    conv.set_weights([w * 1.5 for w in conv.get_weights()])
    changed = training.cached_activations(model, data, k, ("val",), verbose=0)["val"][0]
    assert changed is not first and not np.allclose(changed, first)


def test_extra_boundaries_are_cached_only_while_they_fit_together(data):
    from course_utils import training

    model, base = _build()
    k = training.head_boundary(model)
    extra = (training.unfreeze_boundary(model, base, 20), training.unfreeze_boundary(model, base, 60))
    per_photo = [training._bytes_per_photo(training.crossing_tensors(model, b)) for b in (k, *extra)]
    n = len(data.y_test)
    cache = training.activation_cache(data)
    saved = cache.budget_bytes
    cache.clear()
    # room for the features and either extra boundary, not for both extras at once
    cache.budget_bytes = n * (per_photo[0] + max(per_photo[1:]))
    try:
        acts = training.cached_activations(model, data, k, ("test",), extra, verbose=0)
        probs = training._predict_arrays(training.top_model(model, k), acts["test"])
        assert cache.nbytes <= cache.budget_bytes
        kept = {key[0][1] for key in cache.entries}
        assert kept == {"global_avg_pool", "block_14_add"}  # the first extra fits, the second not
        np.testing.assert_allclose(probs, _full_probs(model, data, "test"), atol=1e-4)
    finally:
        cache.budget_bytes = saved
        cache.clear()


def test_fine_tuning_beyond_the_budget_uses_the_full_pass(data):
    from course_utils import training

    model, base = _build()
    cache = training.activation_cache(data)
    saved = cache.budget_bytes
    cache.clear()
    cache.budget_bytes = 1024  # no boundary fits
    try:
        history = training.fine_tune_cached(model, base, data, unfreeze=20, epochs=1, verbose=0)
        assert len(history.history["loss"]) == 1
        assert not cache.entries  # nothing was cached: every epoch ran the whole network
    finally:
        cache.budget_bytes = saved


def test_augmentation_falls_back_to_full_pass(data):
    import keras

    from course_utils import training

    model, base = _build()
    augment = keras.layers.RandomFlip("horizontal", seed=1)
    history = training.fine_tune_cached(model, base, data, unfreeze=5, epochs=1, verbose=0,
                                        augmentation=augment)
    assert len(history.history["accuracy"]) == 1


def test_lab_train_fn_restores_checkpoint(data):
    from course_utils import training

    model, base = _build()
    training.train_head_cached(model, data, epochs=2, verbose=0, base=base)
    train_fn = training.make_lab_train_fn(model, base, data)
    snapshot = [w.copy() for w in train_fn.snapshot]
    calls = []

    first = train_fn(20, 1e-4, 2, lambda done, total: calls.append((done, total)))
    assert calls == [(1, 2), (2, 2)]
    assert set(first) == {"accuracy", "val_accuracy", "loss", "val_loss"}
    assert all(len(v) == 2 for v in first.values())
    assert any(not np.array_equal(a, b) for a, b in zip(model.get_weights(), snapshot))

    second = train_fn(20, 1e-4, 2, None)
    for key in first:
        np.testing.assert_allclose(second[key], first[key], rtol=1e-5, atol=1e-6)

    # a head-only run after a fine-tuning run starts from the snapshot: the base is untouched
    train_fn(0, 1e-3, 1, None)
    head = model.get_layer("predictions")
    for layer, weights in zip(model.layers, _per_layer(model, snapshot)):
        if layer is not head:
            for w, s in zip(layer.get_weights(), weights):
                np.testing.assert_array_equal(w, s)
    train_fn.restore()
    for w, s in zip(model.get_weights(), snapshot):
        np.testing.assert_array_equal(w, s)


def _per_layer(model, flat):
    out, i = [], 0
    for layer in model.layers:
        n = len(layer.weights)
        out.append(flat[i:i + n])
        i += n
    return out


def test_bad_input_is_a_course_error(data):
    from course_utils import training
    from course_utils.errors import CourseError

    model, base = _build()
    with pytest.raises(CourseError, match="epok"):
        training.train_head_cached(model, data, epochs=0, verbose=0)
    with pytest.raises(CourseError, match="Learning rate"):
        training.fine_tune_cached(model, base, data, learning_rate=-1, epochs=1, verbose=0)
    with pytest.raises(CourseError, match="FlowerData"):
        training.train_head_cached(model, object(), epochs=1, verbose=0)


def test_setup_accelerator_is_a_noop_on_cpu():
    import keras
    import tensorflow as tf

    from course_utils import training

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("machine has a GPU")
    strategy = training.setup_accelerator()
    assert strategy is tf.distribute.get_strategy()
    assert keras.mixed_precision.global_policy().name == "float32"


def test_default_learning_rates_come_from_the_config(data):
    from course_utils import training
    from course_utils.config import get_settings

    settings = get_settings()
    assert (settings.head_lr, settings.fine_tune_lr) == (1e-3, 1e-5)  # Adam's default, the source's FT
    model, base = _build()
    training.train_head_cached(model, data, epochs=1, verbose=0, base=base)
    head_top = training.top_model(model, training.head_boundary(model))
    assert float(head_top.optimizer.learning_rate) == pytest.approx(settings.head_lr)
    training.fine_tune_cached(model, base, data, epochs=1, verbose=0)
    ft_top = training.top_model(model, training.trainable_boundary(model))
    assert float(ft_top.optimizer.learning_rate) == pytest.approx(settings.fine_tune_lr)


def test_run_on_photos_matches_predict_with_a_partial_batch(data):
    from course_utils import training

    model, _ = _build()
    photos = data.split("train")[0]
    assert len(photos) % 16  # the last batch is a partial one
    probs = training.run_on_photos(model, photos, batch_size=16)[0]
    np.testing.assert_allclose(probs, _full_probs(model, data, "train"), atol=1e-4)
    empty = training.run_on_photos(model, photos[:0])[0]
    assert empty.shape == (0, data.num_classes)


# ---------------------------------------------------------------- the learner's compile

def _compiled(optimizer, loss="categorical_crossentropy", metrics=("accuracy",), seed=0):
    model, base = _build(seed)
    model.compile(optimizer=optimizer, loss=loss, metrics=list(metrics))
    return model, base


def test_head_fast_path_trains_with_the_compiled_optimizer_and_rate(data, capsys):
    import keras

    from course_utils import training

    model, base = _compiled(keras.optimizers.Adam(1e-4))
    learners_optimizer = model.optimizer
    start = [w.copy() for w in model.get_layer("predictions").get_weights()]
    history = training.train_head_cached(model, data, epochs=2, base=base)
    used = training.top_model(model, training.head_boundary(model)).optimizer
    assert used is history.recipe.optimizer and isinstance(used, keras.optimizers.Adam)
    assert float(used.learning_rate) == pytest.approx(1e-4)
    assert int(used.iterations) == 2 * int(np.ceil(len(data.y_train) / data.batch_size))  # it did the steps
    assert model.optimizer is learners_optimizer  # the learner's compile is left as it was
    assert "model.compile" in capsys.readouterr().out and history.recipe.source == "compiled"
    at_1e4 = model.get_layer("predictions").get_weights()

    slower, base2 = _compiled(keras.optimizers.Adam(1e-5))
    slower.get_layer("predictions").set_weights(start)
    training.train_head_cached(slower, data, epochs=2, base=base2, verbose=0)
    at_1e5 = slower.get_layer("predictions").get_weights()
    moved_4 = np.abs(at_1e4[0] - start[0]).mean()
    moved_5 = np.abs(at_1e5[0] - start[0]).mean()
    assert moved_4 > 5 * moved_5 > 0  # ten times the rate moves the head much further


def test_head_fast_path_equals_model_fit_with_the_same_compile(data):
    import keras

    from course_utils import training

    cached, base = _compiled(keras.optimizers.Adam(1e-4))
    start = cached.get_weights()
    training.train_head_cached(cached, data, epochs=2, base=base, verbose=0)
    naive, _ = _compiled(keras.optimizers.Adam(1e-4))
    naive.set_weights(start)
    naive.compile(optimizer=keras.optimizers.Adam(1e-4), loss="categorical_crossentropy",
                  metrics=["accuracy"], jit_compile=False)
    naive.fit(data.train, validation_data=data.val, epochs=2, verbose=0)
    for a, b in zip(cached.get_layer("predictions").get_weights(), naive.get_layer("predictions").get_weights()):
        np.testing.assert_allclose(a, b, atol=2e-5)


def test_fine_tune_fast_path_keeps_the_compiled_optimizer_class_and_settings(data):
    import keras

    from course_utils import training
    from course_utils.model import unfreeze_last

    model, base = _build()
    unfreeze_last(base, 20)
    top2 = keras.metrics.TopKCategoricalAccuracy(k=2, name="top2")
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
                  loss="categorical_crossentropy", metrics=["accuracy", top2])
    history = training.fine_tune_cached(model, base, data, unfreeze=None, epochs=1, verbose=0)
    used = history.recipe.optimizer
    assert used is training.top_model(model, training.trainable_boundary(model)).optimizer
    assert isinstance(used, keras.optimizers.SGD) and used.momentum == pytest.approx(0.9)
    assert float(used.learning_rate) == pytest.approx(0.01)
    assert {"top2", "val_top2", "accuracy", "val_accuracy"} <= set(history.history)
    # an explicit learning_rate replaces only the rate
    history = training.fine_tune_cached(model, base, data, unfreeze=None, learning_rate=1e-3,
                                        epochs=1, verbose=0)
    assert isinstance(history.recipe.optimizer, keras.optimizers.SGD)
    assert float(history.recipe.optimizer.learning_rate) == pytest.approx(1e-3)
    assert history.recipe.optimizer.momentum == pytest.approx(0.9)


def test_uncompiled_model_trains_with_the_defaults_and_says_so(data, capsys):
    from course_utils import training
    from course_utils.config import get_settings

    model, base = _build()
    history = training.train_head_cached(model, data, epochs=1, base=base)
    out = capsys.readouterr().out
    assert "ustawieniami domyślnymi kursu" in out and f"learning_rate={get_settings().head_lr:g}" in out
    assert history.recipe.source == "defaults"
    # the course compiled the model afterwards; that is not the learner's compile
    history = training.fine_tune_cached(model, base, data, unfreeze=20, epochs=1, verbose=0)
    assert history.recipe.source == "defaults"
    assert history.recipe.learning_rate == pytest.approx(get_settings().fine_tune_lr)


@pytest.mark.parametrize("loss", ["sparse_categorical_crossentropy", "kategoryczna"])
def test_a_loss_the_labels_cannot_take_is_one_polish_line(data, loss):
    import keras

    from course_utils import training
    from course_utils.errors import CourseError

    model, base = _compiled(keras.optimizers.Adam(1e-4), loss=loss)
    with pytest.raises(CourseError) as info:
        training.train_head_cached(model, data, epochs=1, base=base, verbose=0)
    message = str(info.value)
    assert "\n" not in message and "straty" in message and "categorical_crossentropy" in message
    with pytest.raises(CourseError):
        training.fine_tune_cached(model, base, data, epochs=1, verbose=0)


def test_int_labels_need_the_sparse_loss(data):
    import keras

    from course_utils import training
    from course_utils.errors import CourseError

    model, base = _compiled(keras.optimizers.Adam(1e-4), loss="sparse_categorical_crossentropy")
    data.label_mode = "int"
    try:
        history = training.train_head_cached(model, data, epochs=1, base=base, verbose=0)
        assert history.recipe.loss == "sparse_categorical_crossentropy"
        model.compile(optimizer="adam", loss="categorical_crossentropy")
        with pytest.raises(CourseError, match="sparse_categorical_crossentropy"):
            training.train_head_cached(model, data, epochs=1, base=base, verbose=0)
    finally:
        data.label_mode = "categorical"


def test_nested_base_caches_below_the_head_only(data):
    """x = base(inputs, training=False): the head trains on cached features; nothing is cached across the base."""
    import keras

    from course_utils import training
    from course_utils.model import build_base, freeze

    keras.utils.set_random_seed(0)
    base = freeze(build_base(96, str(WEIGHTS)))
    inputs = keras.Input((96, 96, 3))
    pooled = keras.layers.GlobalAveragePooling2D(name="global_avg_pool")(base(inputs, training=False))
    model = keras.Model(inputs, keras.layers.Dense(5, activation="softmax", name="predictions")(pooled))
    k = training.head_boundary(model)
    assert [layer.name for layer in model.layers[k:]] == ["predictions"]
    assert training.cacheable(model, k) and not training.cacheable(model, 1)
    assert [training.producer(model, x).name for x in training.crossing_tensors(model, k)] == ["global_avg_pool"]
    assert training.producer(model, training.crossing_tensors(model, 2)[0]) is base  # the nested model's output
    acts = training.cached_activations(model, data, 2, ("val",), verbose=0)
    top = training.top_model(model, 2)
    np.testing.assert_allclose(training._predict_arrays(top, acts["val"]), _full_probs(model, data, "val"), atol=1e-4)
    training.train_head_cached(model, data, epochs=1, verbose=0)
    np.testing.assert_allclose(training.predict_cached(model, data, "val"), _full_probs(model, data, "val"),
                               atol=1e-4)


def test_cached_batches_equal_shuffling_the_arrays_themselves():
    """The cached path's pipeline (row numbers, no copy) gives the batches from_tensor_slices gave."""
    import tensorflow as tf

    from course_utils import training

    rng = np.random.default_rng(1)
    a = rng.normal(size=(45, 3, 3, 4)).astype(np.float32)
    b = rng.normal(size=(45, 7)).astype(np.float32)
    labels = rng.integers(0, 5, 45)
    for arrays in ([a], [a, b]):
        x = tuple(arrays) if len(arrays) > 1 else arrays[0]
        direct = tf.data.Dataset.from_tensor_slices((x, labels)).shuffle(45, seed=4, reshuffle_each_iteration=True)
        direct = direct.batch(16)
        ours = training._array_dataset(arrays, labels, 16, True, 4)
        for _ in range(2):
            for (xa, ya), (xb, yb) in zip(ours, direct, strict=True):
                for u, v in zip(tf.nest.flatten(xa), tf.nest.flatten(xb), strict=True):
                    np.testing.assert_array_equal(u.numpy(), v.numpy())
                np.testing.assert_array_equal(ya.numpy(), yb.numpy())


def test_micro_batches_are_weighted_slices_of_the_same_batches():
    """Each batch of 16 becomes 4 slices of 4; a short last batch is padded with weight-0 rows."""
    from course_utils import training

    rng = np.random.default_rng(2)
    a = rng.normal(size=(45, 3)).astype(np.float32)  # batches of 16, 16, 13
    b = rng.normal(size=(45, 2)).astype(np.float32)
    labels = rng.integers(0, 5, 45)
    whole = list(training._array_dataset([a, b], labels, 16, True, 4))
    sliced = list(training._array_dataset([a, b], labels, 16, True, 4, micro_batches=4))
    assert len(sliced) == 4 * len(whole)
    for i, ((xs, y), n) in enumerate(zip(whole, (16, 16, 13), strict=True)):
        parts = sliced[4 * i:4 * i + 4]
        assert all(p[0][0].shape == (4, 3) and p[2].shape == (4,) for p in parts)
        w = np.concatenate([p[2].numpy() for p in parts])
        np.testing.assert_allclose(w[:n], 16 / n)
        np.testing.assert_array_equal(w[n:], 0)
        for j, (got, want) in enumerate(zip((*[np.concatenate([p[0][m].numpy() for p in parts])
                                                for m in range(2)],
                                              np.concatenate([p[1].numpy() for p in parts])),
                                             (xs[0].numpy(), xs[1].numpy(), y.numpy()))):
            np.testing.assert_array_equal(got[:n], want, err_msg=f"batch {i}, part {j}")
        # the slices' weighted means, averaged, equal the batch mean (what accumulation relies on)
        values = np.concatenate([p[0][0].numpy()[:, 0] for p in parts]) * w
        assert np.mean(values.reshape(4, 4).mean(axis=1)) == pytest.approx(xs[0].numpy()[:, 0].mean(), rel=1e-5)


def _distance(a, b):
    """The L2 distance between two lists of weight arrays, taken as one vector."""
    return float(np.sqrt(sum(np.sum((x.astype(np.float64) - y) ** 2) for x, y in zip(a, b))))


# SGD's rate per case: the whole base at 0.05 diverged (val_loss 14 then 31, 20% accuracy), and
# rounding grew with it until the two runs' val_loss parted by 2.5e-4 (a failed run, 2 Dec 2026); at
# 1e-4 it trains (val_loss 1.04, 1.06) and the runs' val_loss agree to 4e-7, weights to 4e-5 of the move.
@pytest.mark.parametrize(("whole_base", "lr"), [(False, 0.05), (True, 1e-4)], ids=["last-20", "whole-base"])
def test_micro_batches_give_the_updates_of_whole_batches(data, whole_base, lr):
    """Fine-tuning with each batch in 4 slices ends with the weights and curves of whole batches.

    Plain SGD, compiled by the "learner": its update is the gradient times the rate, so the
    distance between the two runs measures how far the accumulated gradients are from the
    whole batches'. (Adam's first steps are about ``lr * sign(gradient)``: a weight whose
    gradient is float noise flips its step, so Adam cannot tell rounding from a wrong gradient.)
    """
    import keras

    from course_utils import training

    model, base = _build()
    training.train_head_cached(model, data, epochs=1, verbose=0, base=base)
    snapshot = [w.copy() for w in model.get_weights()]
    depth = len(base.layers) if whole_base else 20
    assert len(data.y_train) % data.batch_size  # a short last batch: the padded case is covered
    runs = []
    for k in (1, 4):
        model.set_weights(snapshot)
        model.compile(optimizer=keras.optimizers.SGD(lr), loss="categorical_crossentropy",
                      metrics=["accuracy"])
        history = training.fine_tune_cached(model, base, data, unfreeze=depth, epochs=2, verbose=0,
                                            seed=0, micro_batches=k)
        runs.append((history.history, [w.copy() for w in model.get_weights()]))
    (h1, w1), (h4, w4) = runs
    moved, apart = _distance(w1, snapshot), _distance(w4, w1)
    assert moved > 1e-3 and apart < 1e-3 * moved, (moved, apart)  # measured: 3e-7 (last 20) and
    # 4e-5 (whole base) of the distance moved; without the short batch's weights 15% and 5.8%
    np.testing.assert_allclose(h4["val_loss"], h1["val_loss"], rtol=1e-4)
    assert h4["val_accuracy"] == h1["val_accuracy"]


def test_bad_micro_batches_are_one_polish_line(data):
    import keras

    from course_utils import training
    from course_utils.errors import CourseError
    from course_utils.messages import t

    model, base = _build()
    for value in (3, 0, True, 2.0):
        with pytest.raises(CourseError) as err:
            training.fine_tune_cached(model, base, data, unfreeze=5, epochs=1, verbose=0, micro_batches=value)
        assert str(err.value) == t("training.bad_micro_batches", value=value, batch=data.batch_size)
    with pytest.raises(CourseError) as err:
        training.fine_tune_cached(model, base, data, unfreeze=5, epochs=1, verbose=0, micro_batches=4,
                                  keep_batchnorm_frozen=False)
    assert str(err.value) == t("training.micro_batches_batchnorm")
    with pytest.raises(CourseError) as err:
        training.fine_tune_cached(model, base, data, unfreeze=5, epochs=1, verbose=0, micro_batches=4,
                                  augmentation=keras.layers.RandomFlip("horizontal"))
    assert str(err.value) == t("training.micro_batches_cached_only")
