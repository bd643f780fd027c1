"""Lesson 05's augmentation measurement on real photos (4 per class, 96 px, 1 epoch)."""
import numpy as np
import pytest


@pytest.fixture(scope="module")
def data(tmp_path_factory, photos_dir):
    from course_utils.data import load_flowers

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COURSE_HOME", str(tmp_path_factory.getbasetemp() / "course_home_aug"))
        # 6 per class -> 4 train, 1 val, 1 test
        return load_flowers(photos_dir, image_size=96, per_class=6, seed=42)


def build(weights_path):
    from course_utils.model import build_model

    return lambda: build_model(5, 96, str(weights_path))


def test_augmentation_is_applied_to_pixels_before_preprocessing(data):
    import keras

    from course_utils.augmentation import _augmented_dataset
    from course_utils.data import preprocess

    mirror = keras.Sequential([keras.layers.Lambda(lambda x: x[:, :, ::-1, :])])
    images, labels = next(iter(_augmented_dataset(data, mirror, seed=0)))
    plain, plain_labels = next(iter(_augmented_dataset(data, None, seed=0)))
    np.testing.assert_array_equal(labels.numpy(), plain_labels.numpy())  # same seeded order
    np.testing.assert_allclose(images.numpy(), plain.numpy()[:, :, ::-1, :], atol=1e-6)
    # without augmentation the batch is the course's preprocessing of the photos, in [-1, 1]
    expected = np.sort(preprocess(data.x_train).numpy().reshape(len(data.y_train), -1).sum(axis=1))
    np.testing.assert_allclose(np.sort(plain.numpy().reshape(len(plain), -1).sum(axis=1)), expected,
                               rtol=1e-4)
    assert plain.numpy().min() >= -1 and plain.numpy().max() <= 1
    assert labels.shape == (len(data.y_train), 5)


def test_same_start_weights_give_the_same_run_without_augmentation(data, weights_path):
    from course_utils.augmentation import augmentation_comparison, describe_augmentation

    without, again = augmentation_comparison(build(weights_path), data, None, per_class=4,
                                             epochs=1, seed=3)
    assert (without.augmented, again.augmented) == (False, False)
    assert (without.train_accuracy, without.val_accuracy) == (again.train_accuracy, again.val_accuracy)
    assert 0 <= without.train_accuracy <= 1 and 0 <= without.val_accuracy <= 1
    assert without.gap == pytest.approx(without.train_accuracy - without.val_accuracy)
    assert len(describe_augmentation([without, again]).splitlines()) == 2


def test_augmented_run_is_flagged_and_measured(data, weights_path):
    import keras

    from course_utils.augmentation import augmentation_comparison
    from course_utils.errors import CourseError

    flip = keras.Sequential([keras.layers.RandomFlip("horizontal")])
    runs = augmentation_comparison(build(weights_path), data, flip, per_class=4, epochs=1, seed=3)
    assert [r.augmented for r in runs] == [False, True]
    assert all(r.seconds > 0 and 0 <= r.val_accuracy <= 1 for r in runs)
    with pytest.raises(CourseError):
        augmentation_comparison(build(weights_path), data, flip, per_class=0, epochs=1, seed=3)
