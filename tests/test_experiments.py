"""Lesson 09's experiment loops on tiny inputs: 4 photos per class, 96 px, 1-2 epochs.

The real photos and MobileNetV2 weights are used; the from-scratch model is
a tiny CNN so each run takes a second or two.
"""
import numpy as np
import pytest


@pytest.fixture(scope="module")
def data(tmp_path_factory, photos_dir):
    from course_utils.data import load_flowers

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COURSE_HOME", str(tmp_path_factory.getbasetemp() / "course_home_09"))
        # 6 per class -> 4 train, 1 val, 1 test
        return load_flowers(photos_dir, image_size=96, per_class=6, seed=42, label_mode="int")


def tiny_cnn(num_classes=5, size=96):
    import keras

    return keras.Sequential([
        keras.Input((size, size, 3)),
        keras.layers.Conv2D(4, 3, strides=4, activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(num_classes, activation="softmax", name="predictions")])


def _accuracy(model, data, split):
    """Accuracy of ``model`` on one split, computed here from ``model.predict`` (not the course's helpers)."""
    probs = model.predict(data.dataset(split, shuffle=False), verbose=0)
    return float(np.mean(probs.argmax(axis=1) == data.split(split)[1]))


def pretrained(weights_path):
    from course_utils import experiments as ex
    from course_utils.model import build_model

    return ex.seeded(lambda: build_model(5, 96, str(weights_path)), 0)


# ---------------------------------------------------------------- pure helpers

def test_plans_cover_every_experiment():
    from course_utils import experiments as ex
    from course_utils.config import get_settings

    settings = get_settings()
    fast = ex.make_plan(settings.with_(fast=True, image_size=96))
    full = ex.make_plan(settings.with_(fast=False, image_size=224, per_class=None))
    assert full.learning_rates == (1e-2, 1e-3, 1e-4, 1e-5)
    assert full.sizes[-1] is None and fast.sizes[-1] is None  # 'all' is always measured
    assert len(full.seeds) >= 3 and len(fast.seeds) >= 2
    for plan in (fast, full):
        assert plan.digits_per_class in plan.sizes  # experiment 4 reuses experiment 2
        assert max(plan.learning_rates) == 1e-2 and min(plan.learning_rates) == 1e-5
    assert "SZYBKI" in ex.describe_plan(fast) and "wszystkie" in ex.describe_plan(full)


def test_subset_indices_have_the_right_sizes():
    from course_utils import experiments as ex

    labels = np.array([0] * 10 + [1] * 3 + [2] * 7)
    idx = ex.subset_indices(labels, 5, seed=0)
    assert np.bincount(labels[idx]).tolist() == [5, 3, 5]  # a small class gives all it has
    assert np.array_equal(idx, np.unique(idx))  # sorted, no repeats
    assert np.array_equal(idx, ex.subset_indices(labels, 5, seed=0))  # same seed, same photos
    assert not np.array_equal(idx, ex.subset_indices(labels, 5, seed=1))
    assert np.array_equal(ex.subset_indices(labels, None, seed=0), np.arange(20))
    # smaller subsets of one seed are not nested by design, but every one has its size
    for n in (1, 2, 3):
        assert np.bincount(labels[ex.subset_indices(labels, n, 3)]).tolist() == [n, n, n]


@pytest.mark.parametrize("bad", [0, -2, 2.5, True, "5"])
def test_bad_per_class_is_a_course_error(bad):
    from course_utils import experiments as ex
    from course_utils.errors import CourseError

    with pytest.raises(CourseError, match="zdjęć na klasę"):
        ex.subset_indices([0, 1], bad, seed=0)


def test_epochs_for_gives_small_subsets_enough_updates():
    from course_utils import experiments as ex

    assert ex.epochs_for(25, 32, 6, 60) == 60  # 1 step per epoch
    assert ex.epochs_for(250, 32, 6, 60) == 8  # 8 steps per epoch
    assert ex.epochs_for(2546, 32, 6, 60) == 6  # the epochs already give enough
    assert ex.epochs_for(10, 32, 3, 0) == 3


def test_accuracy_interval_is_the_wilson_interval():
    from course_utils import experiments as ex

    low, high = ex.accuracy_interval(0.0, 10)  # closed form at 0 correct: [0, z^2 / (n + z^2)]
    assert low == 0.0 and high == pytest.approx(1.96 ** 2 / (10 + 1.96 ** 2))
    low, high = ex.accuracy_interval(293 / 318, 318)  # the course's test split, FT on seed 42
    assert low == pytest.approx(0.8865, abs=5e-4) and high == pytest.approx(0.9462, abs=5e-4)
    small, large = ex.accuracy_interval(0.92, 50), ex.accuracy_interval(0.92, 500)
    assert small[0] < large[0] < 0.92 < large[1] < small[1]  # more photos, a narrower interval
    assert ex.accuracy_interval(1, 318)[1] == 1.0


@pytest.mark.parametrize("accuracy, n_photos, match", [
    (92.1, 318, "od 0 do 1"), (-0.1, 318, "od 0 do 1"), ("0.9", 318, "od 0 do 1"),
    (0.9, 0, "dodatnią liczbą"), (0.9, 31.8, "dodatnią liczbą"), (0.9, True, "dodatnią liczbą")])
def test_accuracy_interval_rejects_bad_input(accuracy, n_photos, match):
    from course_utils import experiments as ex
    from course_utils.errors import CourseError

    with pytest.raises(CourseError, match=match):
        ex.accuracy_interval(accuracy, n_photos)


def test_relative_distance():
    from course_utils import experiments as ex
    from course_utils.errors import CourseError

    w = np.arange(1.0, 9.0).reshape(2, 2, 2)
    assert ex.relative_distance(w, w.copy()) == 0.0
    assert ex.relative_distance(w, 1.1 * w) == pytest.approx(0.1)
    assert ex.relative_distance(w, -w) == pytest.approx(2.0)
    with pytest.raises(CourseError):
        ex.relative_distance(w, w[0])


def test_digit_images_are_upscaled_grey_rgb():
    from course_utils import experiments as ex

    images = np.zeros((2, 8, 8))
    images[1] = 16.0
    images[0, :, 3] = 16.0  # a vertical stroke
    out = ex.digit_images(images, 96)
    assert out.shape == (2, 96, 96, 3) and out.dtype == np.uint8
    assert (out[1] == 255).all()
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()
    column = out[0, 48, :, 0]
    assert 3 * 12 <= column.argmax() < 4 * 12 and column.max() > 200  # the stroke stays in place
    assert column[0] == 0 and column[-1] == 0


def _curve(kind, val, seconds, test, first=1):
    from course_utils.experiments import Curve

    return Curve(kind, kind, val, seconds, test, first_epoch=first)


def _results(good=True):
    from course_utils.experiments import LearningCurve, LrRun, MismatchRow

    curves = [_curve("scratch", [0.3, 0.5, 0.6], [10, 20, 30], 0.55),
              _curve("random", [0.2, 0.2, 0.2], [5, 6, 7], 0.2),
              _curve("fe", [0.7, 0.8, 0.85] if good else [0.3, 0.4, 0.5], [8, 9, 10], 0.84),
              _curve("ft", [0.86, 0.88], [14, 18], 0.87, first=4)]
    fe = np.array([[0.6, 0.7], [0.85, 0.87]]) if good else np.array([[0.2, 0.2], [0.5, 0.5]])
    curve = LearningCurve([5.0, 500.0], ["5", "wszystkie (~500)"], [0, 1],
                          {"scratch": np.array([[0.3, 0.35], [0.7, 0.72]]), "fe": fe},
                          {"scratch": 1.0, "fe": 1.0})
    kernel = np.zeros((3, 3, 3, 32))
    runs = [LrRun(1e-2, [0.2, 0.2], [3.0, 3.0], 0.5, kernel, 1.0, 0.8),
            LrRun(1e-5, [0.85, 0.86] if good else [0.1, 0.1], [0.5, 0.4], 1e-4, kernel, 1.0, 0.8)]
    rows = [MismatchRow("kwiaty", 5, 100, np.array([0.4, 0.5]), np.array([0.85, 0.86])),
            MismatchRow("cyfry", 10, 100, np.array([0.95, 0.96]),
                        np.array([0.9, 0.92]) if good else np.array([0.99, 0.99]))]
    return curves, curve, runs, rows


def test_verdicts_follow_the_numbers():
    from course_utils import experiments as ex

    good = ex.verdicts(*_results(good=True))
    # the digits are easier from scratch (95.5% vs 45%): a smaller gain there cannot
    # separate task difficulty from distance to ImageNet, so that row has no verdict
    assert [ok for _, _, ok in good] == [True, True, True, True, None]
    assert "85.0%" in good[0][1] or "60.0%" in good[0][1]  # measured numbers in the text
    assert "95.5%" in good[-1][1] and "91.0%" in good[-1][1]  # both baselines and both heads
    bad = ex.verdicts(*_results(good=False))
    # feature extraction never reaches the scratch CNN, worse with little data,
    # the high learning rate is not the worst
    assert [ok for _, _, ok in bad][:4] == [False, False, True, False]
    curves, curve, runs, rows = _results(good=False)
    rows[0].pretrained[:] = 0.3
    assert ex.verdicts(curves, curve, runs, rows)[-1][2] is False
    # comparable baselines (far task not easier from scratch): the smaller gain counts
    rows = _results()[3]
    rows[1].scratch[:], rows[1].pretrained[:] = 0.3, 0.5
    assert ex.verdicts(curves, curve, runs, rows)[-1][2] is True


def test_summary_markdown_is_a_table_of_the_measured_promises():
    from course_utils import experiments as ex
    from course_utils.config import get_settings

    text = ex.summary_markdown(*_results(), settings=get_settings().with_(fast=True))
    table = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(table) == 1 + 5
    assert text.count("✓") == 4 and "nie rozstrzyga" in text and "Tryb szybki" in text
    partial = ex.summary_markdown(curves=_results()[0], settings=get_settings().with_(fast=False))
    assert partial.count("✓") + partial.count("✗") == 2 and "Tryb szybki" not in partial


def test_plots_return_figures():
    from course_utils import experiments as ex
    from course_utils.errors import CourseError

    curves, curve, runs, rows = _results()
    fig = ex.plot_race(curves)
    epochs_ax, seconds_ax = fig.axes
    assert len(epochs_ax.lines) == 4 and len(seconds_ax.lines) == 4
    # fine-tuning continues from the last feature-extraction point
    assert list(epochs_ax.lines[3].get_xdata()) == [3, 4, 5]
    assert list(seconds_ax.lines[3].get_xdata()) == [10, 14, 18]
    assert len(ex.plot_learning_curve(curve).axes[0].collections) == 2  # two min-max bands
    assert len(ex.plot_lr_sweep(runs).axes) == 2
    assert len(ex.plot_filter_drift(runs[0].kernel, runs, n=4).axes) == 3 * 4
    assert len(ex.plot_task_mismatch(rows).axes[0].patches) == 4
    for plot in (ex.plot_race, ex.plot_lr_sweep, ex.plot_task_mismatch):
        with pytest.raises(CourseError, match="uruchom"):
            plot([])
    with pytest.raises(CourseError, match="rozmiaru|Rozmiaru"):
        ex.row_from_curve("kwiaty", curve, 7, 5)
    row = ex.row_from_curve("kwiaty", curve, 5, 5)
    assert row.scratch.tolist() == [0.3, 0.35] and row.advantage == pytest.approx(0.325)


# ---------------------------------------------------------------- on real photos

def test_subset_and_shrink_keep_photos_and_labels_together(data):
    from course_utils import experiments as ex

    small = ex.shrink(data, seed=0, train=2)
    assert np.bincount(small.y_train).tolist() == [2] * 5
    assert len(small.x_train) == len(small.names_train) == 10
    for x, name in zip(small.x_train, small.names_train):
        i = data.names_train.index(name)
        assert np.array_equal(x, data.x_train[i])
        assert small.y_train[list(small.names_train).index(name)] == data.y_train[i]
    assert len(data.y_train) == 20 and small.x_val is data.x_val  # the original is untouched
    assert ex.shrink(data, seed=0, train=2, val=1).y_val.tolist() == data.y_val.tolist()


def test_train_scratch_gives_a_repeatable_curve(data):
    from course_utils import experiments as ex

    runs = []
    for _ in range(2):
        model = ex.seeded(tiny_cnn, 7)
        runs.append((ex.train_scratch(model, data, epochs=2, seed=7), model.get_weights()))
    (a, wa), (b, wb) = runs
    assert a.kind == "scratch" and a.epochs == [1, 2] and len(a.val_accuracy) == 2
    assert 0 < a.seconds[0] < a.seconds[1]
    assert a.val_accuracy == b.val_accuracy and a.test_accuracy == b.test_accuracy
    # the last model's numbers, measured again by Keras itself
    assert b.val_accuracy[-1] == pytest.approx(model.evaluate(data.dataset("val", shuffle=False), verbose=0,
                                                              return_dict=True)["accuracy"])
    assert b.test_accuracy == pytest.approx(_accuracy(model, data, "test"))
    for x, y in zip(wa, wb):
        np.testing.assert_allclose(x, y, atol=1e-6)
    other = ex.seeded(tiny_cnn, 8)
    assert any(not np.allclose(x, y) for x, y in zip(other.get_weights(), ex.seeded(tiny_cnn, 7).get_weights()))


def test_scratch_run_on_row_numbers_equals_training_on_a_copy_of_the_subset(data):
    """scratch_accuracy takes its batches from the photo array by row number; training a copy of the
    same seeded subset through from_tensor_slices (the pipeline before) gives the same weights."""
    import keras
    import tensorflow as tf

    from course_utils import experiments as ex
    from course_utils.data import preprocess

    class Keep(keras.callbacks.Callback):
        def on_train_end(self, logs=None):
            self.weights = self.model.get_weights()

    kept = Keep()
    accuracy = ex.scratch_accuracy(tiny_cnn, data, 2, 5, epochs=2, min_steps=0, callbacks=[kept])
    idx = ex.subset_indices(data.y_train, 2, 5)
    x, y = data.x_train[idx], data.y_train[idx]  # a copy of the subset, as before
    model = ex.seeded(tiny_cnn, 5)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    train = (tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(y), seed=5, reshuffle_each_iteration=True)
             .batch(data.batch_size).map(lambda a, b: (preprocess(a), b)))
    model.fit(train, epochs=2, verbose=0, shuffle=False)
    for ours, theirs in zip(kept.weights, model.get_weights(), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)
    assert accuracy == pytest.approx(_accuracy(model, data, "test"))


def test_learning_curve_and_lr_sweep_bars_say_what_runs(data, weights_path, capsys):
    from course_utils import experiments as ex
    from course_utils.messages import t

    model, base = pretrained(weights_path)
    quiet = ex.learning_curve(tiny_cnn, model, data, sizes=[1], seeds=[0], epochs=1, min_steps=2)
    shown = ex.learning_curve(tiny_cnn, model, data, sizes=[1], seeds=[0], epochs=1, min_steps=2, verbose=1)
    for kind in ("fe", "scratch"):  # the bars change nothing
        assert shown.accuracy[kind].tolist() == quiet.accuracy[kind].tolist()
    err = capsys.readouterr().err
    assert t("experiments.bar_curve_fe", n=1) in err and t("experiments.bar_curve_scratch", n=1) in err
    # 5 photos (1 per class) fit one batch: 1 step per epoch, so 2 epochs for min_steps=2
    assert "2/2" in err.split(t("experiments.bar_curve_scratch", n=1))[-1]
    # the head only (unfreeze=0): the bar is the same for every depth, and the whole-base sweep
    # is trained in test_lr_sweep_moves_conv1_only_when_it_is_unfrozen
    ex.lr_sweep(model, base, ex.shrink(data, 0, train=1, val=1), [1e-3, 1e-5], epochs=1, unfreeze=0,
                seed=0, verbose=1)
    err = capsys.readouterr().err
    assert t("experiments.bar_lr", n=2) in err and "2/2" in err


def test_feature_extraction_then_fine_tuning_continue_one_clock(data, weights_path):
    from course_utils import experiments as ex

    model, base = pretrained(weights_path)
    fe = ex.train_feature_extraction(model, base, data, epochs=2, seed=0)
    assert fe.kind == "fe" and fe.epochs == [1, 2] and fe.seconds[0] > 0
    ft = ex.train_fine_tuning(model, base, data, epochs=1, after=fe, seed=0)
    assert ft.kind == "ft" and ft.epochs == [3] and ft.seconds[0] > fe.seconds[-1]
    assert ft.test_accuracy == pytest.approx(_accuracy(model, data, "test"))
    assert ex.feature_scale(model, data) > 0
    assert ex.describe_race([fe, ft]).count("\n") == 1


def test_learning_curve_shapes_and_repeatability(data, weights_path):
    from course_utils import experiments as ex

    model, _ = pretrained(weights_path)
    kwargs = dict(sizes=[1, None], seeds=[0, 1], epochs=1, min_steps=2)
    first = ex.learning_curve(tiny_cnn, model, data, **kwargs)
    assert first.accuracy["fe"].shape == first.accuracy["scratch"].shape == (2, 2)
    assert first.sizes == [1.0, 4.0] and first.labels[0] == "1" and "wszystkie" in first.labels[1]
    hits = first.accuracy["fe"] * len(data.y_test)  # each run's accuracy is a share of the test photos
    np.testing.assert_allclose(hits, np.round(hits), atol=1e-6)
    again = ex.learning_curve(tiny_cnn, model, data, sizes=[1], seeds=[1], epochs=1, min_steps=2)
    for kind in ("fe", "scratch"):  # the same size and seed give the same result
        assert again.accuracy[kind][0, 0] == first.accuracy[kind][0, 1]
    assert len(ex.describe_learning_curve(first).splitlines()) == 2


def test_lr_sweep_moves_conv1_only_when_it_is_unfrozen(data, weights_path):
    from course_utils import experiments as ex
    from course_utils import training

    model, base = pretrained(weights_path)
    training.train_head_cached(model, data, epochs=1, verbose=0, base=base)
    checkpoint = [w.copy() for w in model.get_weights()]
    # head only: the first layer cannot move, the distance is exactly 0
    runs, reference = ex.lr_sweep(model, base, data, [1e-3], epochs=1, unfreeze=0, seed=0)
    assert runs[0].distance == 0.0
    # the whole base (BatchNorm frozen): Conv1 moves, more with a larger learning rate
    runs, reference = ex.lr_sweep(model, base, data, [1e-2], epochs=1, seed=0)
    assert [r.learning_rate for r in runs] == [1e-2] and runs[0].distance > 1e-3
    assert runs[0].kernel.shape == reference.shape == (3, 3, 3, 32)
    assert len(runs[0].val_accuracy) == 1
    # the checkpoint is back and the base frozen again
    for w, c in zip(model.get_weights(), checkpoint):
        np.testing.assert_array_equal(w, c)
    assert runs[0].start_val_accuracy == pytest.approx(_accuracy(model, data, "val"))  # the checkpoint's
    assert not base.trainable or not any(layer.trainable for layer in base.layers)
    np.testing.assert_array_equal(ex.first_conv_kernel(base), reference)


def test_digits_task_against_flowers(weights_path, tmp_path):
    from course_utils import experiments as ex

    digits = ex.load_digits_data(image_size=96, per_class=10, seed=0)
    assert digits.class_names == [str(d) for d in range(10)]
    assert digits.x_train.shape == (80, 96, 96, 3) and digits.x_train.dtype == np.uint8
    assert np.bincount(digits.y_train).tolist() == [8] * 10 and len(digits.y_test) == 10
    assert digits.label_mode == "int" and digits.x_train.max() > 200
    model, _ = pretrained(weights_path)
    row = ex.mismatch_row("cyfry", digits, lambda: tiny_cnn(10), model, 2, [0], epochs=1)
    assert row.per_class == 2 and row.num_classes == 10 and row.chance == pytest.approx(0.1)
    assert row.scratch.shape == row.pretrained.shape == (1,)
    assert "cyfry" in ex.describe_task_mismatch([row])


# ---------------------------------------------------------------- feature scale vs content

def test_standardize_uses_the_training_statistics():
    from course_utils import experiments as ex

    rng = np.random.default_rng(0)
    train = rng.normal(3.0, 2.0, (50, 4)).astype(np.float32)
    train[:, 3] = 7.0  # constant on the training photos
    other = rng.normal(0.0, 1.0, (10, 4)).astype(np.float32)
    s_train, s_other = ex.standardize(train, other)
    np.testing.assert_allclose(s_train[:, :3].mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(s_train[:, :3].std(axis=0), 1, atol=1e-5)
    assert np.isfinite(s_train).all() and (s_train[:, 3] == 0).all()
    by_hand = (other[:, 0] - train[:, 0].mean()) / train[:, 0].std()
    np.testing.assert_allclose(s_other[:, 0], by_hand, rtol=1e-4)
    np.testing.assert_allclose(s_other[:, 3], other[:, 3] - 7.0, rtol=1e-5)
    # a pure change of scale (random-weight features ~1e-12) changes nothing after it
    tiny_train, tiny_other = ex.standardize(train * 1e-12, other * 1e-12)
    np.testing.assert_allclose(tiny_other[:, :3], s_other[:, :3], rtol=1e-3, atol=1e-4)


def test_tiny_features_look_useless_until_standardised():
    from course_utils import experiments as ex

    rng = np.random.default_rng(1)
    centres = rng.normal(0, 1, (4, 16))
    labels = np.repeat(np.arange(4), 30)
    feats = (centres[labels] + rng.normal(0, 0.3, (120, 16))) * 1e-12
    test_labels = np.repeat(np.arange(4), 10)
    test = (centres[test_labels] + rng.normal(0, 0.3, (40, 16))) * 1e-12
    raw = ex.head_accuracy(feats, labels, test, test_labels, 4, seed=0, epochs=50, learning_rate=1e-2)
    train_s, test_s = ex.standardize(feats, test)
    scaled = ex.head_accuracy(train_s, labels, test_s, test_labels, 4, seed=0, epochs=50,
                              learning_rate=1e-2)
    assert raw <= 0.5 < 0.9 <= scaled


def test_feature_check_matches_its_parts(data, weights_path):
    from course_utils import experiments as ex

    model, _ = pretrained(weights_path)
    check = ex.feature_check(model, data, seed=3, epochs=2)
    assert check.scale == pytest.approx(ex.feature_scale(model, data))
    feats = ex.pooled_features(model, data, ("train", "test"))
    raw = ex.head_accuracy(feats["train"], data.y_train, feats["test"], data.y_test, 5, 3, 2)
    train, test = ex.standardize(feats["train"], feats["test"])
    std = ex.head_accuracy(train, data.y_train, test, data.y_test, 5, 3, 2)
    assert (check.raw, check.standardized) == (raw, std)
