"""Data loading on real photos: splits, class order, both sources, bad input."""
import warnings

import numpy as np
import pytest
from PIL import Image

from course_utils import data
from course_utils.data import CourseDataWarning, load_flowers, read_photo, split_indices
from course_utils.errors import CourseError

CLASSES = ["daisy", "dandelion", "roses", "sunflowers", "tulips"]


def test_split_is_stratified_80_10_10_and_disjoint(small_photo_dir):
    d = load_flowers(small_photo_dir, image_size=64)
    assert d.class_names == CLASSES
    assert (len(d.y_train), len(d.y_val), len(d.y_test)) == (20, 5, 5)
    for y in (d.y_train, d.y_val, d.y_test):
        assert len(set(np.bincount(y, minlength=5))) == 1  # same count for every class
    names = d.names_train + d.names_val + d.names_test
    assert len(set(names)) == len(names) == 30


def test_split_is_identical_between_runs_and_depends_on_seed(small_photo_dir, tmp_path, monkeypatch):
    a = load_flowers(small_photo_dir, image_size=64, seed=1)
    monkeypatch.setenv("COURSE_HOME", str(tmp_path / "other_home"))  # no shared cache
    b = load_flowers(small_photo_dir, image_size=64, seed=1)
    c = load_flowers(small_photo_dir, image_size=64, seed=2)
    assert a.names_test == b.names_test and np.array_equal(a.x_test, b.x_test)
    assert a.names_test != c.names_test


def test_full_photo_folder_split_sizes(photos_dir):
    labels = [c for _, c in data.list_photos(photos_dir)[1]]
    train, val, test = split_indices(labels, 5, seed=42)
    assert len(train) + len(val) + len(test) == len(labels)
    assert len(labels) == sum(1 for p in photos_dir.rglob("*") if p.suffix.lower() == ".jpg")
    assert abs(len(val) - 0.1 * len(labels)) <= 5 and abs(len(test) - 0.1 * len(labels)) <= 5
    assert not set(train) & set(val) and not set(val) & set(test)


def test_per_class_subset_and_small_size(photos_dir):
    d = load_flowers(photos_dir, image_size=96, per_class=10)
    assert d.x_train.shape == (40, 96, 96, 3) and d.x_train.dtype == np.uint8
    assert len(d.y_val) == len(d.y_test) == 5


def test_pipeline_applies_mobilenet_preprocessing_once(small_photo_dir):
    d = load_flowers(small_photo_dir, image_size=64, batch_size=8)
    images, labels = next(iter(d.dataset("test")))
    expected = d.x_test[:8].astype(np.float32) / 127.5 - 1.0
    np.testing.assert_allclose(images.numpy(), expected, atol=1e-5)
    np.testing.assert_array_equal(labels.numpy().argmax(1), d.y_test[:8])
    d.label_mode = "int"
    assert next(iter(d.dataset("test")))[1].numpy().tolist() == d.y_test[:8].tolist()


def _fake_tfds(folder):
    """A stand-in for tfds.load built from real photos, in TFDS' own class order."""
    import tensorflow as tf

    tfds_names = ["dandelion", "daisy", "tulips", "sunflowers", "roses"]
    _, items, _ = data.list_photos(folder)
    classes = sorted(tfds_names)
    images = [np.asarray(Image.open(p).convert("RGB")) for p, _ in items]
    labels = [tfds_names.index(classes[c]) for _, c in items]

    class Info:
        features = {"label": type("L", (), {"names": tfds_names})()}

    def load(name, **kwargs):
        assert name == "tf_flowers"
        ds = tf.data.Dataset.from_generator(
            lambda: zip(images, labels),
            output_signature=(tf.TensorSpec((None, None, 3), tf.uint8), tf.TensorSpec((), tf.int64)))
        return ds, Info()
    return load


def test_tfds_and_folder_give_the_same_result(small_photo_dir, monkeypatch):
    import tensorflow_datasets as tfds

    folder = load_flowers(small_photo_dir, image_size=64)
    monkeypatch.setattr(tfds, "load", _fake_tfds(small_photo_dir))
    from_tfds = load_flowers("tfds", image_size=64)
    assert from_tfds.class_names == folder.class_names == CLASSES
    for split in ("train", "val", "test"):
        x1, y1, _ = folder.split(split)
        x2, y2, _ = from_tfds.split(split)
        np.testing.assert_array_equal(y1, y2)
        np.testing.assert_array_equal(x1, x2)


def test_tfds_labels_are_renumbered_by_class_name():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=30):
        raw, info = tfds.load("tf_flowers", split="train", with_info=True, as_supervised=True,
                              shuffle_files=False)
        raw_names = [info.features["label"].names[int(lab)] for _, lab in raw]
        d = load_flowers("tfds", image_size=32, per_class=0)
    assert info.features["label"].names != CLASSES  # TFDS really uses another order
    for split in ("train", "val", "test"):
        _, y, names = d.split(split)
        for label, name in zip(y, names):
            index = int(name.split("[")[1].rstrip("]"))
            assert d.class_names[label] == raw_names[index]


def test_tfds_offline_gives_one_clear_message(monkeypatch):
    import tensorflow_datasets as tfds

    def offline(*args, **kwargs):
        raise ConnectionError("no network")
    monkeypatch.setattr(tfds, "load", offline)
    with pytest.raises(CourseError, match="COURSE_DATA_DIR") as err:
        load_flowers("tfds", image_size=32)
    assert "\n" not in str(err.value)


def test_missing_folder(tmp_path):
    with pytest.raises(CourseError, match="nie istnieje"):
        load_flowers(tmp_path / "nothing_here", image_size=32)


def test_folder_without_classes(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(CourseError, match="podfolderów klas"):
        load_flowers(tmp_path, image_size=32)


def test_class_folder_without_photos(small_photo_dir):
    (small_photo_dir / "lilies").mkdir()
    (small_photo_dir / "lilies" / "readme.txt").write_text("no photos")
    with pytest.raises(CourseError, match="lilies"):
        load_flowers(small_photo_dir, image_size=32)


def test_parent_of_flower_photos_is_accepted(small_photo_dir):
    assert load_flowers(small_photo_dir.parent, image_size=32).class_names == CLASSES


def test_non_images_and_corrupt_photos_are_skipped_by_name(small_photo_dir):
    (small_photo_dir / "roses" / "notes.txt").write_text("hello")
    (small_photo_dir / "tulips" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        d = load_flowers(small_photo_dir, image_size=32)
    text = " ".join(str(w.message) for w in caught if w.category is CourseDataWarning)
    assert "roses/notes.txt" in text and "tulips/broken.jpg" in text
    names = d.names_train + d.names_val + d.names_test
    assert "tulips/broken.jpg" not in names and len(names) == 30
    for x, y, n in (d.split(s) for s in ("train", "val", "test")):
        assert len(x) == len(y) == len(n)
        assert all(d.class_names[label] == name.split("/")[0] for label, name in zip(y, n))


@pytest.mark.parametrize("mode", ["L", "RGBA", "CMYK", "P", "I;16"])
def test_odd_colour_modes_become_rgb(tmp_path, mode):
    path = tmp_path / f"odd.{'jpg' if mode in ('L', 'CMYK') else 'png'}"
    image = Image.new("RGB", (40, 30), (200, 30, 30)).convert(mode)
    image.save(path)
    array = read_photo(path, 24)
    assert array.shape == (24, 24, 3) and array.dtype == np.uint8


def test_transparent_png_is_composited_on_white(tmp_path):
    path = tmp_path / "clear.png"
    Image.new("RGBA", (10, 10), (0, 0, 0, 0)).save(path)
    assert read_photo(path, 8).min() == 255


def test_unreadable_photo_names_the_file(tmp_path):
    path = tmp_path / "daisy" / "x.jpg"
    path.parent.mkdir()
    path.write_bytes(b"garbage")
    with pytest.raises(CourseError, match="daisy/x.jpg"):
        read_photo(path, 32)


def test_decoded_photos_are_cached_on_disk(small_photo_dir, course_home):
    first = load_flowers(small_photo_dir, image_size=48)
    cached = list((course_home / "cache").glob("photos_*.npz"))
    assert len(cached) == 1
    second = load_flowers(small_photo_dir, image_size=48)
    np.testing.assert_array_equal(first.x_train, second.x_train)


@pytest.mark.parametrize("kwargs,match", [({"label_mode": "onehot"}, "label_mode"),
                                          ({"image_size": "224"}, "Rozmiar")])
def test_wrong_arguments(small_photo_dir, kwargs, match):
    with pytest.raises(CourseError, match=match):
        load_flowers(small_photo_dir, **kwargs)
