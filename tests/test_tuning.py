"""The fine-tuning search on real photos and weights: same start for every run, choice on validation only."""
import dataclasses
import math

import keras
import numpy as np
import pytest

from course_utils import config, training
from course_utils.data import FlowerData, load_flowers
from course_utils.errors import CourseError
from course_utils.final_runs import crop_copies, train_mirrored
from course_utils.messages import t
from course_utils.model import build_model, current_depth, unfreeze_last
from course_utils.recipe import default_loss
from course_utils.tuning import choice_key, mirrored_copies_text, search_fine_tuning

SEED = 3
DEPTHS = (20, 38)
RATES = (1e-4, 3e-4)


@pytest.fixture(scope="module")
def data(photos_dir):
    return load_flowers(photos_dir, image_size=96, per_class=16, seed=SEED)


@pytest.fixture(scope="module")
def trained(data, weights_path):
    """A model after feature extraction, and a copy of its weights (the search's start)."""
    keras.utils.set_random_seed(SEED)
    model, base = build_model(data.num_classes, 96, str(weights_path))
    training.train_head_cached(model, data, epochs=2, verbose=0, base=base)
    return model, base, [np.array(w, copy=True) for w in model.get_weights()]


@pytest.fixture(scope="module")
def searched(trained, data):
    model, base, start = trained
    model.set_weights(start)
    result = search_fine_tuning(model, base, data, DEPTHS, RATES, seed=SEED, verbose=0,
                                max_epochs=2, patience=1)
    after = [np.array(w, copy=True) for w in model.get_weights()]
    return result, after, current_depth(base)


def independent_run(model, base, data, start, depth, lr, epochs, cosine=False):
    """The plain ``fine_tune_cached`` run from the same weights (what each cell should repeat);
    ``cosine``: the model compiled with Adam(CosineDecay(lr, every update of the run))."""
    model.set_weights(start)
    keras.utils.set_random_seed(SEED)
    if cosine:
        steps = epochs * math.ceil(len(data.y_train) / data.batch_size)
        model.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(lr, steps)),
                      loss=default_loss(data), metrics=["accuracy"])
    history = training.fine_tune_cached(model, base, data, unfreeze=depth, learning_rate=None if cosine else lr,
                                        epochs=epochs, verbose=0, seed=SEED, use_compiled=cosine)
    return [float(v) for v in history.history["val_accuracy"]]


def mirrored_copy(data):
    """``data`` with the training photos followed by their mirror images, built here, not by the course."""
    return dataclasses.replace(data, x_train=np.concatenate([data.x_train, np.flip(data.x_train, axis=2)]),
                               y_train=np.tile(data.y_train, 2), names_train=data.names_train * 2)


def test_every_run_starts_from_the_same_weights(searched, trained, data):
    result, _, _ = searched
    model, base, start = trained
    assert result.depths == DEPTHS and result.learning_rates == RATES
    assert result.val_accuracy.shape == result.best_epoch.shape == result.seconds.shape == (2, 2)
    for i, depth in enumerate(DEPTHS):
        for j, lr in enumerate(RATES):
            curve = independent_run(model, base, data, start, depth, lr, int(result.epochs_run[i, j]))
            assert result.histories[(depth, lr)]["val_accuracy"] == pytest.approx(curve, abs=1e-6)
            assert result.val_accuracy[i, j] == pytest.approx(max(curve), abs=1e-6)
            assert result.best_epoch[i, j] == int(np.argmax(curve)) + 1
            assert result.seconds[i, j] > 0


def test_choice_is_the_best_validation_accuracy(searched):
    result, _, _ = searched
    n = result.n_val
    keys = {choice_key(round(result.val_accuracy[i, j] * n), d, result.best_epoch[i, j], j): (d, lr)
            for i, d in enumerate(result.depths) for j, lr in enumerate(result.learning_rates)}
    assert result.best == keys[min(keys)]
    assert result.best_val_accuracy == np.nanmax(result.val_accuracy)
    assert "Wybrano" in result.describe() and "testowy nie był używany" in result.describe()


def test_model_holds_the_chosen_run(searched, trained, data):
    result, after, depth = searched
    model, base, _ = trained
    assert depth == result.best[0]  # base_model's flags as unfreeze_last(base, chosen depth) sets them
    unfreeze_last(base, depth)
    model.set_weights(after)
    val = training.evaluate_cached(model, data, "val", base=base)["accuracy"]
    assert val == pytest.approx(result.val_accuracy[result.best_index], abs=1e-6)
    # and it is what the chosen configuration's plain run reaches at its best epoch
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == pytest.approx(result.best[1])


def test_ties_go_to_the_cheaper_run(trained, data):
    """A learning rate too small to change a prediction: both runs tie, the shallower first epoch wins."""
    model, base, start = trained
    model.set_weights(start)
    result = search_fine_tuning(model, base, data, (38, 20), (1e-10,), seed=SEED, verbose=0,
                                max_epochs=2, patience=1)
    hits = np.round(result.val_accuracy * result.n_val)
    assert np.all(hits == hits[0, 0])  # a real tie
    assert result.best == (20, 1e-10)  # fewer unfrozen layers, then the first epoch
    assert result.best_epoch[result.best_index] == 1
    assert "Remis" in result.describe()


class _NoTestSplit(FlowerData):
    """The same photos, but reading the test split fails the test."""

    def __getattribute__(self, name):
        if name in ("x_test", "y_test", "names_test", "test"):
            raise AssertionError(f"the search read {name}")
        return super().__getattribute__(name)


def test_the_search_never_reads_the_test_split(searched, trained, data):
    result, _, _ = searched
    model, base, start = trained
    fields = {f.name: getattr(data, f.name) for f in dataclasses.fields(data) if f.init}
    poisoned = _NoTestSplit(**fields)
    with pytest.raises(AssertionError):
        poisoned.split("test")
    model.set_weights(start)
    again = search_fine_tuning(model, base, poisoned, DEPTHS[:1], RATES[:1], seed=SEED, verbose=0,
                               max_epochs=2, patience=1)
    assert again.val_accuracy[0, 0] == pytest.approx(result.val_accuracy[0, 0], abs=1e-6)
    assert again.best_epoch[0, 0] == result.best_epoch[0, 0]


def test_augmented_final_run(trained, data):
    model, base, start = trained
    model.set_weights(start)
    result = search_fine_tuning(model, base, data, (20,), (1e-4,), seed=SEED, verbose=0,
                                max_epochs=2, patience=1, augment=True)
    final = result.final
    assert final["augmented"] and (final["depth"], final["learning_rate"]) == (20, 1e-4)
    assert final["val_accuracy"] == max(final["history"]["val_accuracy"])
    val = training.evaluate_cached(model, data, "val", base=base)["accuracy"]
    assert val == pytest.approx(final["val_accuracy"], abs=1e-6)
    assert "augmentacją" in result.describe()


def test_mirrored_training_photos(data):
    mirrored = data.with_mirrored_training()
    n = len(data.y_train)
    assert mirrored.x_train.shape == (2 * n, *data.x_train.shape[1:])
    assert np.array_equal(mirrored.x_train[:n], data.x_train)
    assert np.array_equal(mirrored.x_train[n:], np.flip(data.x_train, axis=2))  # left to right
    assert not np.array_equal(mirrored.x_train[n:], data.x_train)
    assert np.array_equal(mirrored.y_train, np.concatenate([data.y_train, data.y_train]))
    assert len(mirrored.names_train) == 2 * n and mirrored.names_train[:n] == data.names_train
    assert mirrored.x_val is data.x_val and mirrored.x_test is data.x_test  # the same photos, the cache reused
    assert mirrored.activation_cache() is data.activation_cache()


def test_mirrored_activations_run_only_the_mirror_images(trained, data, monkeypatch):
    """The originals' cached activations are reused; the result equals a pass over all photos."""
    from course_utils import activations

    model, base, start = trained
    model.set_weights(start)
    unfreeze_last(base, 20)
    k = activations.trainable_boundary(model)
    training.cached_activations(model, data, k, ("train",), verbose=0)
    mirrored = data.with_mirrored_training()
    ran, real = [], activations.run_on_photos
    monkeypatch.setattr(activations, "run_on_photos",
                        lambda net, photos, **kw: ran.append(len(photos)) or real(net, photos, **kw))
    got = training.cached_activations(model, mirrored, k, ("train",), verbose=0)["train"]
    assert ran == [len(data.y_train)]  # the mirror images only
    fresh = dataclasses.replace(mirrored)  # a new object: its own empty cache, no reused prefix
    assert fresh.activation_cache() is not data.activation_cache() and fresh.prefix_of("train") is None
    want = training.cached_activations(model, fresh, k, ("train",), verbose=0)["train"]
    assert ran == [len(data.y_train), 2 * len(data.y_train)]
    assert len(got) == len(want) >= 1
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_mirrored_final_run(trained, data):
    """mirror=True: the choice trained again from the start weights on photos + mirror images, the
    epoch config says kept; the same run as fine_tune_cached on an independently mirrored copy."""
    model, base, start = trained
    model.set_weights(start)
    result = search_fine_tuning(model, base, data, (20,), (1e-4,), seed=SEED, verbose=0,
                                max_epochs=1, patience=1, mirror=True)
    final = result.final
    assert final["mirrored"] and (final["depth"], final["learning_rate"]) == (20, 1e-4)
    assert final["n_train"] == 2 * len(data.y_train) and final["epochs_run"] == 2  # TUNE_FAST_MIRROR_EPOCHS
    curve = final["history"]["val_accuracy"]
    assert final["keep_last"] is config.TUNE_MIRROR_KEEP_LAST
    assert final["kept_epoch"] == (2 if final["keep_last"] else int(np.argmax(curve)) + 1)
    assert final["best_epoch"] == int(np.argmax(curve)) + 1 and final["best_val_accuracy"] == max(curve)
    val = training.evaluate_cached(model, data, "val", base=base)["accuracy"]
    assert val == pytest.approx(final["val_accuracy"], abs=1e-6) == curve[final["kept_epoch"] - 1]
    flipped = mirrored_copy(data)
    assert final["decay"] is True  # config.TUNE_MIRROR_DECAY: half a cosine from 1e-4 down to 0
    assert final["learning_rates"] == pytest.approx([1e-4 * (1 + math.cos(math.pi * e / 2)) / 2 for e in (1, 2)],
                                                    rel=1e-6, abs=1e-12)
    curve = independent_run(model, base, flipped, start, 20, 1e-4, 2, cosine=True)
    assert curve == pytest.approx(final["history"]["val_accuracy"], abs=1e-6)
    assert final["crops"] == config.TUNE_MIRROR_CROPS and mirrored_copies_text(final) in result.describe()
    assert t("tuning.rate_cosine", lr="1e-4") in result.describe()
    with pytest.raises(CourseError) as err:
        search_fine_tuning(model, base, data, (20,), (1e-4,), verbose=0, augment=True, mirror=True)
    assert str(err.value) == t("tuning.augment_and_mirror")


@pytest.mark.parametrize("keep_last", [True, False])
def test_mirrored_run_keeps_the_last_or_the_best_epoch(trained, data, keep_last):
    """keep_last: the model has the weights of the run's last epoch (those of an independent run after
    its last epoch); otherwise those of its best validation epoch."""
    model, base, start = trained
    model.set_weights(start)
    final = train_mirrored(model, base, data, 20, 3e-4, epochs=3, seed=SEED, decay=False, keep_last=keep_last)
    kept = [np.array(w, copy=True) for w in model.get_weights()]
    val = training.evaluate_cached(model, data, "val", base=base)["accuracy"]
    curve = independent_run(model, base, mirrored_copy(data), start, 20, 3e-4, 3)
    last = model.get_weights()  # the independent run leaves the model after its last epoch
    assert curve == pytest.approx(final["history"]["val_accuracy"], abs=1e-6)
    best = int(np.argmax(curve)) + 1
    assert (final["keep_last"], final["kept_epoch"], final["best_epoch"]) == (keep_last, 3 if keep_last else best, best)
    assert val == pytest.approx(final["val_accuracy"], abs=1e-6) == curve[final["kept_epoch"] - 1]
    if keep_last:
        for a, b in zip(kept, last):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    else:
        assert final["val_accuracy"] == max(curve)


def test_mirrored_run_with_a_constant_rate(trained, data):
    """decay=False: Adam keeps the chosen rate, the same run as a plain fine_tune_cached."""
    model, base, start = trained
    model.set_weights(start)
    final = train_mirrored(model, base, data, 20, 1e-4, epochs=2, seed=SEED, decay=False)
    assert final["decay"] is False and final["learning_rates"] == pytest.approx([1e-4, 1e-4], rel=1e-6)
    curve = independent_run(model, base, mirrored_copy(data), start, 20, 1e-4, 2)
    assert curve == pytest.approx(final["history"]["val_accuracy"], abs=1e-6)
    with pytest.raises(CourseError) as err:
        train_mirrored(model, base, data, 20, -1e-4, epochs=1)
    assert str(err.value) == t("training.bad_lr", value=-1e-4)


def test_crop_copies_of_whole_photos_are_the_photos_or_their_mirror_images(data):
    """low=1: every crop is the whole photo, so each copy is exactly the photo or its mirror image, both occur."""
    photos = data.x_train[:40]
    copies = crop_copies(photos, seed=5, low=1.0)
    assert copies.shape == photos.shape and copies.dtype == photos.dtype
    same = [np.array_equal(c, p) for c, p in zip(copies, photos)]
    mirrored = [np.array_equal(c, p[:, ::-1]) for c, p in zip(copies, photos)]
    assert all(a or b for a, b in zip(same, mirrored)) and any(same) and any(mirrored)
    assert np.array_equal(crop_copies(photos, seed=5, low=1.0), copies)


def test_crop_copies_zoom_in_and_mirror_at_random():
    """On a photo whose brightness grows from left to right, a crop spans a narrower range of values than
    the photo (it is zoomed in), each row of it runs one way (flipped or not), and both ways occur."""
    ramp = np.tile(np.linspace(0, 255, 64).round().astype("uint8")[None, :, None], (64, 1, 3))
    photos = np.stack([ramp] * 30)
    copies = crop_copies(photos, seed=1, low=0.5).astype(int)
    spans = copies[:, :, -1, 0] - copies[:, :, 0, 0]  # last minus first column, per row
    assert np.all(np.abs(spans) < 255) and np.all(np.abs(spans) >= 0.5 * 255 - 6)
    assert np.all((spans > 0) | (spans < 0)) and (spans[:, 0] > 0).any() and (spans[:, 0] < 0).any()
    assert all(np.all(np.sign(s) == np.sign(s[0])) for s in spans)  # a whole crop runs one way
    assert np.array_equal(copies[:, 0], copies[:, -1])  # no vertical flip: every row the same
    assert not np.array_equal(crop_copies(photos, seed=2, low=0.5), copies.astype("uint8"))


def test_mirrored_run_with_crop_copies(trained, data):
    """crops=1: the training photos, their mirror images and one crop of each, the same run as
    fine_tune_cached on that copy built here."""
    model, base, start = trained
    model.set_weights(start)
    final = train_mirrored(model, base, data, 20, 1e-4, epochs=1, seed=SEED, decay=False, crops=1)
    n = len(data.y_train)
    assert final["crops"] == 1 and final["n_train"] == 3 * n
    crops = crop_copies(data.x_train, SEED + 1000)
    copy = dataclasses.replace(
        data, x_train=np.concatenate([data.x_train, np.flip(data.x_train, axis=2), crops]),
        y_train=np.tile(data.y_train, 3), names_train=data.names_train * 3)
    curve = independent_run(model, base, copy, start, 20, 1e-4, 1)
    assert curve == pytest.approx(final["history"]["val_accuracy"], abs=1e-6)
    assert mirrored_copies_text(final) == t("tuning.copies_cropped", k=1)
    for bad in (-1, 1.5, True, "1"):
        with pytest.raises(CourseError) as err:
            train_mirrored(model, base, data, 20, 1e-4, epochs=1, crops=bad)
        assert str(err.value) == t("tuning.bad_crops", value=bad)


@pytest.mark.parametrize("depths, rates, key, fields", [
    ((0,), (1e-4,), "tuning.bad_depth", {"value": 0, "max": 154}),
    ((155,), (1e-4,), "tuning.bad_depth", {"value": 155, "max": 154}),
    (("20",), (1e-4,), "tuning.bad_depth", {"value": "20", "max": 154}),
    ((20,), (0,), "tuning.bad_lr", {"value": 0}),
    ((20,), (-1e-4,), "tuning.bad_lr", {"value": -1e-4}),
    ((20,), ("1e-4",), "tuning.bad_lr", {"value": "1e-4"}),
    ((20,), (float("nan"),), "tuning.bad_lr", {"value": float("nan")}),
    ((), (1e-4,), "tuning.empty_grid", {}),
    ((20,), (), "tuning.empty_grid", {}),
    (20, (1e-4,), "tuning.bad_grid", {"name": "depths", "value": 20}),
    ((20,), 1e-4, "tuning.bad_grid", {"name": "learning_rates", "value": 1e-4}),
    ((20, 20), (1e-4,), "tuning.duplicate", {"depths": [20, 20], "lrs": [1e-4]}),
])
def test_bad_grid_is_one_polish_line(trained, data, depths, rates, key, fields):
    model, base, start = trained
    model.set_weights(start)
    with pytest.raises(CourseError) as err:
        search_fine_tuning(model, base, data, depths, rates, verbose=0)
    assert str(err.value) == t(key, **fields)
    assert "\n" not in str(err.value)


def test_bad_settings_and_models(trained, data, weights_path):
    model, base, start = trained
    model.set_weights(start)
    for kwargs, key, value in ((dict(max_epochs=0), "tuning.bad_epochs", 0),
                               (dict(patience=1.5), "tuning.bad_patience", 1.5),
                               (dict(seed="x"), "tuning.bad_seed", "x")):
        with pytest.raises(CourseError) as err:
            search_fine_tuning(model, base, data, (20,), (1e-4,), verbose=0, **kwargs)
        assert str(err.value) == t(key, value=value)
    fresh, fresh_base = build_model(data.num_classes, 96, str(weights_path))
    with pytest.raises(CourseError) as err:
        search_fine_tuning(fresh, fresh_base, data, (20,), (1e-4,), verbose=0)
    assert str(err.value) == t("tuning.untrained_head")
    with pytest.raises(CourseError) as err:
        search_fine_tuning(model, fresh_base, data, (20,), (1e-4,), verbose=0)
    assert str(err.value) == t("tuning.not_the_base", model=model.name, base=fresh_base.name)
    no_val = dataclasses.replace(data, x_val=data.x_val[:0], y_val=data.y_val[:0], names_val=[])
    with pytest.raises(CourseError) as err:
        search_fine_tuning(model, base, no_val, (20,), (1e-4,), verbose=0)
    assert str(err.value) == t("tuning.no_val")
    with pytest.raises(CourseError) as err:
        search_fine_tuning("model", base, data, (20,), (1e-4,), verbose=0)
    assert str(err.value) == t("model.not_a_model", kind="str")


def _bench_tuned():
    """benchmarks/bench_tuned.py as a module."""
    import sys

    from conftest import REPO

    sys.path.insert(0, str(REPO / "benchmarks"))
    import bench_tuned

    return bench_tuned


def test_benchmark_core_on_a_tiny_subset(photos_dir, weights_path, tmp_path):
    """benchmarks/bench_tuned.py in-process: every recipe per seed, its interval, the summary, the JSON."""
    import json

    from course_utils.experiments import accuracy_interval

    bench_tuned = _bench_tuned()
    out = tmp_path / "tuned.json"
    results = bench_tuned.main(["--data-dir", str(photos_dir), "--weights", str(weights_path),
                                "--seeds", "5", "--per-class", "8", "--image-size", "96",
                                "--fe-epochs", "1", "--ft-epochs", "1", "--depths", "20",
                                "--lrs", "1e-4", "--max-epochs", "1", "--augment-epochs", "1", "--mirror-epochs", "2",
                                "--verbose", "0", "--out", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(results))
    (row,) = results["runs"]
    assert row["seed"] == 5 and row["n_test"] == 5
    for recipe in bench_tuned.RECIPES:
        entry = row[recipe]
        assert entry["interval_95"] == pytest.approx(list(accuracy_interval(entry["test"], row["n_test"])))
        assert results["summary"][recipe] == {"mean": entry["test"], "min": entry["test"],
                                              "max": entry["test"], "seeds": 1}
    search = row["tuned"]["search"]
    assert (row["tuned"]["depth"], row["tuned"]["learning_rate"]) == (20, 1e-4)
    assert row["tuned"]["val"] == search["best_val_accuracy"] == search["val_accuracy"][0][0]
    assert row["source"]["depth"] == 20 and row["source"]["learning_rate"] == 1e-5
    assert row["tuned"]["pipeline_seconds"] >= row["tuned"]["search_seconds"] > 0
    mirrored = row["mirrored"]
    assert (mirrored["depth"], mirrored["learning_rate"], mirrored["epochs_run"]) == (20, 1e-4, 2)
    assert mirrored["n_train"] == 2 * row["n_train"]
    assert mirrored["pipeline_seconds"] == pytest.approx(
        row["fe_seconds"] + row["tuned"]["search_seconds"] + mirrored["seconds"])
    table = bench_tuned.table(results["runs"], results["summary"])
    assert f"| 5 | {bench_tuned._cell(row['source'])} | {bench_tuned._cell(row['tuned'])} |" in table
    # both epoch rules measured: the kept epoch's test accuracy is the row's, each epoch's is recorded
    assert len(mirrored["test_history"]) == 2
    assert mirrored["test_history"][mirrored["kept_epoch"] - 1] == mirrored["test"]
    assert set(mirrored["halves"]) == {"last", "best_on_other_half"}
    assert f"| 5 | {mirrored['halves']['last']:.2%} |" in bench_tuned.halves_table(results["runs"])


def test_benchmark_halves_comparison():
    """The epoch rules on validation halves: the last epoch scored as it is, the best epoch chosen on the other half."""
    bench_tuned = _bench_tuned()
    labels = np.array([0, 1, 0, 1, 0, 1])
    right, wrong = np.eye(2)[labels], np.eye(2)[1 - labels]
    assert bench_tuned.halves_comparison([right, wrong], labels) == {"last": 0.0, "best_on_other_half": 1.0}
    assert bench_tuned.halves_comparison([wrong, right], labels) == {"last": 1.0, "best_on_other_half": 1.0}
    # epoch 1 right on the first half of the photos only, epoch 2 on none: whichever half chooses, it picks
    # epoch 1, which the other half scores at the share of first-half photos it holds; the mean is 1/2
    half = np.where((np.arange(6) < 3)[:, None], right, wrong)
    got = bench_tuned.halves_comparison([half, wrong], labels, rounds=200)
    assert got["last"] == 0.0 and got["best_on_other_half"] == pytest.approx(0.5)


def test_benchmark_flip_averaged_accuracy_matches_model_predict(trained, data):
    """bench_tuned's flip-averaged probabilities and accuracy: ``model.predict`` of each photo and of its
    mirror image, averaged (a planted vertical flip fails the probabilities)."""
    from course_utils.data import preprocess

    bench_tuned = _bench_tuned()
    model, base, start = trained
    model.set_weights(start)
    for split in ("val", "test"):
        photos, labels, _ = data.split(split)
        plain = model.predict(preprocess(photos), verbose=0)
        mirrored = model.predict(preprocess(photos[:, :, ::-1]), verbose=0)
        assert not np.allclose(plain, mirrored, atol=1e-3)  # the mirror image is another input
        averaged = (plain + mirrored) / 2
        assert bench_tuned.flip_averaged_probs(model, base, data, split) == pytest.approx(averaged, abs=1e-5)
        expected = float(np.mean(averaged.argmax(axis=1) == np.asarray(labels)))
        assert bench_tuned.flip_averaged_accuracy(model, base, data, split) == pytest.approx(expected)
