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


# --- photos stored sideways with an EXIF orientation tag (phones) --------------

# How the stored pixels relate to the upright photo for each EXIF orientation
# (TIFF/EXIF 2.3, tag 0x0112), written with numpy, independently of Pillow:
# a viewer that honours the tag turns the stored pixels back upright.
STORED_AS = {
    2: lambda up: up[:, ::-1],                       # mirrored left-right
    3: lambda up: np.rot90(up, 2),                    # upside down
    6: lambda up: np.rot90(up, 1),                    # stored turned 90° counter-clockwise
    8: lambda up: np.rot90(up, -1),                   # stored turned 90° clockwise
}


def upright_photo(photos_dir, name="roses", index=0):
    """A real photo cropped to a multiple of 16 px, so that JPEG blocks survive a rotation."""
    path = sorted((photos_dir / name).glob("*.jpg"))[index]
    with Image.open(path) as img:
        array = np.asarray(img.convert("RGB"))
    h, w = (array.shape[0] // 16) * 16, (array.shape[1] // 16) * 16
    return np.ascontiguousarray(array[:h, :w])


def save_jpeg(array, path, orientation=None):
    """Save pixels as a high-quality JPEG, with an EXIF orientation tag if given."""
    kwargs = {"quality": 95, "subsampling": 0}
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        kwargs["exif"] = exif.tobytes()
    Image.fromarray(np.ascontiguousarray(array)).save(path, "JPEG", **kwargs)
    return path


def sideways_twins(photo, folder, orientation):
    """(upright JPEG, sideways JPEG with the tag) of the same photo."""
    up = save_jpeg(photo, folder / "upright.jpg")
    side = save_jpeg(STORED_AS[orientation](photo), folder / f"sideways_{orientation}.jpg", orientation)
    return up, side


@pytest.mark.parametrize("orientation", sorted(STORED_AS))
def test_photo_with_exif_orientation_is_decoded_upright(photos_dir, tmp_path, orientation):
    photo = upright_photo(photos_dir)
    up, side = sideways_twins(photo, tmp_path, orientation)
    with Image.open(side) as img:  # the file really is stored sideways, with the tag
        assert img.getexif()[0x0112] == orientation
        stored = np.asarray(img.convert("RGB"))
    assert stored.shape == STORED_AS[orientation](photo).shape
    upright, turned = read_photo(up, 96).astype(int), read_photo(side, 96).astype(int)
    assert np.abs(upright - turned).mean() < 1.5  # equal up to JPEG rounding
    ignored = np.asarray(Image.fromarray(stored).resize((96, 96), Image.BILINEAR)).astype(int)
    assert np.abs(upright - ignored).mean() > 10  # what decoding without the tag gives


def test_folder_with_a_sideways_photo_loads_it_upright(small_photo_dir, photos_dir):
    photo = upright_photo(photos_dir, "roses", 0)
    roses = small_photo_dir / "roses"
    for link in roses.iterdir():
        link.unlink()
    names = []
    for i in range(6):  # the same photo six times: upright or stored sideways with the tag
        orientation = (None, 6, 8, 3, 2, None)[i]
        pixels = photo if orientation is None else STORED_AS[orientation](photo)
        names.append(save_jpeg(pixels, roses / f"r{i}.jpg", orientation).name)
    d = load_flowers(small_photo_dir, image_size=64)
    rose = d.class_names.index("roses")
    x = np.concatenate([d.x_train[d.y_train == rose], d.x_val[d.y_val == rose], d.x_test[d.y_test == rose]])
    assert len(x) == 6
    for img in x:
        assert np.abs(img.astype(int) - x[0].astype(int)).mean() < 1.5


def test_cache_from_an_older_decoder_is_not_reused(small_photo_dir, course_home, monkeypatch):
    load_flowers(small_photo_dir, image_size=64)
    first = sorted((course_home / "cache").glob("photos_*.npz"))
    monkeypatch.setattr(data, "DECODE_VERSION", data.DECODE_VERSION + 1)
    load_flowers(small_photo_dir, image_size=64)
    second = sorted((course_home / "cache").glob("photos_*.npz"))
    assert len(first) == 1 and len(second) == 2


def test_summary_counts_photos_with_the_right_noun_form(small_photo_dir):
    d = load_flowers(small_photo_dir, image_size=48)
    lines = d.summary().splitlines()
    assert lines[0] == f"Źródło: {d.source}; rozmiar zdjęć: 48 px"
    assert [line.split()[:3] for line in lines[1:]] == [["train", "20", "zdjęć"], ["val", "5", "zdjęć"],
                                                        ["test", "5", "zdjęć"]]
    for class_dir in [p for p in small_photo_dir.iterdir() if p.name not in ("roses", "tulips")]:
        for link in class_dir.iterdir():
            link.unlink()
        class_dir.rmdir()
    for link in sorted((small_photo_dir / "roses").iterdir())[3:] + sorted((small_photo_dir / "tulips").iterdir())[3:]:
        link.unlink()
    d = load_flowers(small_photo_dir, image_size=48)  # 2 classes x 3 photos: 2 + 2 + 2
    assert [line.split()[:3] for line in d.summary().splitlines()[1:]] == [
        ["train", "2", "zdjęcia"], ["val", "2", "zdjęcia"], ["test", "2", "zdjęcia"]]


def test_each_photo_matches_its_name_with_and_without_bad_photos(small_photo_dir):
    for broken in (False, True):
        if broken:
            (small_photo_dir / "daisy" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CourseDataWarning)
            d = load_flowers(small_photo_dir, image_size=32)
        for split in ("train", "val", "test"):
            x, _, names = d.split(split)
            for photo, name in zip(x, names):
                np.testing.assert_array_equal(photo, read_photo(small_photo_dir / name, 32))


@pytest.mark.parametrize("source", [b"garbage", bytearray(b"garbage")])
def test_unreadable_upload_gets_a_polish_reason_without_object_addresses(source):
    from course_utils.messages import t

    with pytest.raises(CourseError) as caught:
        read_photo(source, 32)
    assert str(caught.value) == t("data.bad_photo", name="przesłany plik", error=t("data.unknown_format"))


@pytest.mark.parametrize("label_mode", ["categorical", "int"])
def test_pipeline_batches_equal_shuffling_the_photos_themselves(label_mode):
    """Row numbers shuffled with the seed give the batches tf.data gives for the photos (3 epochs),
    for all photos and for a subset of rows (compared with shuffling a copy of those photos)."""
    import tensorflow as tf

    from course_utils.data import make_dataset, preprocess

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (70, 8, 8, 3), dtype=np.uint8)
    y = rng.integers(0, 5, 70)
    labels = np.eye(5, dtype=np.float32)[y] if label_mode == "categorical" else y.astype(np.int64)
    rows = np.sort(rng.choice(70, 30, replace=False))
    for subset, batch, n_batches in ((None, 32, 3), (rows, 8, 4)):
        pick = slice(None) if subset is None else subset
        n = len(x[pick])
        direct = (tf.data.Dataset.from_tensor_slices((x[pick], labels[pick]))
                  .shuffle(n, seed=3, reshuffle_each_iteration=True).batch(batch)
                  .map(lambda a, b: (preprocess(a), b)))
        ours = make_dataset(x, y, 5, batch, shuffle=True, seed=3, label_mode=label_mode, rows=subset)
        orders = []
        for _ in range(3):
            pairs = list(zip(ours, direct, strict=True))
            assert len(pairs) == n_batches
            for (a, la), (b, lb) in pairs:
                assert a.shape[1:] == (8, 8, 3) and a.dtype == tf.float32
                np.testing.assert_array_equal(a.numpy(), b.numpy())
                np.testing.assert_array_equal(la.numpy(), lb.numpy())
            orders.append(np.concatenate([a.numpy()[:, 0, 0, 0] for (a, _), _ in pairs]))
        assert not np.array_equal(orders[0], orders[1])  # reshuffled every epoch
    unshuffled = np.concatenate([a.numpy() for a, _ in make_dataset(x, y, 5, 32, rows=rows)])
    np.testing.assert_array_equal(unshuffled, preprocess(x[rows]).numpy())


def test_first_per_class_equals_concatenating_the_splits(small_photo_dir):
    d = load_flowers(small_photo_dir, image_size=32)
    x_all = np.concatenate([d.x_train, d.x_val, d.x_test])
    y_all = np.concatenate([d.y_train, d.y_val, d.y_test])
    # 5: four training photos and one validation photo; 1000: every photo of every class
    for n in (1, 5, 1000):
        pick = np.concatenate([np.flatnonzero(y_all == c)[:n] for c in range(d.num_classes)])
        photos, labels = d.first_per_class(n)
        np.testing.assert_array_equal(photos, x_all[pick])
        np.testing.assert_array_equal(labels, y_all[pick])
    assert len(d.first_per_class(1000)[1]) == len(y_all)
