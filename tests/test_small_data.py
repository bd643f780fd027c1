"""Small-data training on real photos: minimums, enough steps, the k-fold estimate checked independently."""
import math
import shutil

import numpy as np
import pytest

from course_utils import small_data
from course_utils.errors import CourseError
from course_utils.model import build_model

CLASSES = ("daisy", "roses", "sunflowers")


@pytest.fixture(scope="module")
def folder(tmp_path_factory, photos_dir):
    """10 real photos of each of three classes."""
    root = tmp_path_factory.mktemp("own") / "photos"
    for c in CLASSES:
        (root / c).mkdir(parents=True)
        for p in sorted((photos_dir / c).glob("*.jpg"))[:10]:
            shutil.copy(p, root / c / p.name)
    return root


@pytest.fixture(scope="module")
def data(folder, tmp_path_factory, weights_path):
    import os

    os.environ.setdefault("COURSE_WEIGHTS", str(weights_path))
    return small_data.load_all(folder, image_size=96)


def test_minimums_name_the_short_class():
    assert small_data.check_minimums(["a", "b"], [5, 9]) == [5, 9]
    with pytest.raises(CourseError) as info:
        small_data.check_minimums(["kubek"], [12])
    assert "co najmniej 2 klas" in str(info.value)
    with pytest.raises(CourseError) as info:
        small_data.check_minimums(["kubek", "długopis", "klucze"], {"kubek": 7, "długopis": 3, "klucze": 4})
    text = str(info.value)
    assert "'długopis' ma 3 zdjęcia" in text and "jeszcze 2 zdjęcia" in text and "'klucze' (4)" in text


def test_load_all_refuses_a_short_class(folder, tmp_path):
    root = tmp_path / "few"
    shutil.copytree(folder, root)
    for p in sorted((root / "roses").iterdir())[4:]:
        p.unlink()
    with pytest.raises(CourseError) as info:
        small_data.load_all(root, image_size=96)
    assert "'roses' ma 4 zdjęcia" in str(info.value)


def test_load_all_keeps_every_photo_for_training(data):
    assert data.class_names == sorted(CLASSES)
    assert np.bincount(data.y_train).tolist() == [10, 10, 10]
    assert len(data.y_val) == 0 and len(data.y_test) == 0
    assert small_data.is_small(small_data.class_counts(data))


def test_steps_plan_reaches_the_minimum():
    assert small_data.steps_plan(45, 32, 10, 300) == (10, 30)  # 2 steps/epoch would be only 20 updates
    assert small_data.steps_plan(2000, 32, 10, 300) == (10, 63)  # enough already: one pass per epoch
    epochs, steps = small_data.steps_plan(7, 32, 3, 100)
    assert epochs == 3 and epochs * steps >= 100


def test_stratified_folds_partition_every_class():
    labels = np.repeat([0, 1, 2], [10, 7, 12])
    folds = small_data.stratified_folds(labels, 5, seed=3)
    assert sorted(np.unique(folds)) == [0, 1, 2, 3, 4]
    for c in range(3):
        per_fold = np.bincount(folds[labels == c], minlength=5)
        assert per_fold.max() - per_fold.min() <= 1


@pytest.fixture(scope="module")
def model(data, weights_path):
    import keras

    keras.utils.set_random_seed(0)
    return build_model(3, 96, str(weights_path))[0]


def test_kfold_estimate_matches_an_independent_computation(model, data):
    result = small_data.kfold_estimate(model, data, k=5, epochs=2, min_steps=60, seed=1)
    assert result.k == 5 and result.n == 30 and result.steps >= 60
    # every photo predicted once, by a head trained on the other folds only
    assert np.allclose(result.probs.sum(axis=1), 1.0, atol=1e-4)
    expected = float(np.mean(result.probs.argmax(axis=1) == np.asarray(data.y_train)))
    assert result.accuracy == pytest.approx(expected)
    p, n, z = expected, 30, 1.96
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert result.interval == pytest.approx((max(0, centre - half), min(1, centre + half)))
    # the same folds with scikit-learn's logistic regression on the same cached features
    from sklearn.linear_model import LogisticRegression

    features = small_data.pooled_features(model, data)
    oof = np.zeros(30, dtype=int)
    for fold in range(5):
        held = result.folds == fold
        clf = LogisticRegression(max_iter=2000).fit(features[~held], data.y_train[~held])
        oof[held] = clf.predict(features[held])
    sklearn_acc = float(np.mean(oof == data.y_train))
    assert abs(result.accuracy - sklearn_acc) <= 0.15, (result.accuracy, sklearn_acc)
    assert "5-krotnej" in result.describe() and "na 30 zdjęć" in result.describe()


def test_kfold_never_sees_the_photo_it_grades(model, data):
    """Labels shuffled at random: a head memorises them, but held-out photos stay near chance."""
    import dataclasses

    rng = np.random.default_rng(7)
    shuffled = dataclasses.replace(data, y_train=rng.permutation(data.y_train))
    result = small_data.kfold_estimate(model, shuffled, k=5, epochs=2, min_steps=200, seed=1)
    assert result.accuracy < 0.6
    features = small_data.pooled_features(model, shuffled)
    import keras

    head = keras.Sequential([keras.Input((1280,)), keras.layers.Dense(3, activation="softmax")])
    small_data._fit_head(head, features, shuffled.y_train, 2, 100, 1e-3, 32, 0)
    memorised = np.mean(head(features).numpy().argmax(1) == shuffled.y_train)
    assert memorised >= 0.9


def test_train_head_converges_and_classifies_new_photos(model, data, photos_dir):
    from course_utils.data import read_photo

    history = small_data.train_head(model, data, epochs=2, min_steps=150, seed=0)
    assert history.params["total_steps"] >= 150
    assert history.history["loss"][-1] < history.history["loss"][0]
    new = [(c, p) for c in sorted(CLASSES) for p in sorted((photos_dir / c).glob("*.jpg"))[-15:]]
    photos = np.stack([read_photo(p, 96) for _, p in new])
    labels = [sorted(CLASSES).index(c) for c, _ in new]
    accuracy, _ = small_data.accuracy_on(model, photos, labels)
    assert accuracy >= 0.6  # 45 photos the model never saw; chance is 33%
