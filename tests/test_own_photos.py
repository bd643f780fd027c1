"""Lesson 10's photo studio on real photos: uploads saved at once, duplicates and bad files skipped by name."""
import datetime
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from course_utils.config import OWN_MAX_CLASSES
from course_utils.data import list_photos, read_photo
from course_utils.errors import CourseError
from course_utils.own_photos import PhotoStore, PhotoStudio, check_class_names, demo_folder


def _upload_item(name, content, kind="image/jpeg"):
    """One entry of ipywidgets 8's FileUpload.value, as the front end sends it."""
    return {"name": name, "type": kind, "size": len(content), "content": memoryview(content),
            "last_modified": datetime.datetime.now(datetime.timezone.utc)}


@pytest.fixture
def real_photos(photos_dir):
    """6 real photos of daisy and of roses, as bytes."""
    return {c: [(p.name, p.read_bytes()) for p in sorted((photos_dir / c).glob("*.jpg"))[:6]]
            for c in ("daisy", "roses")}


def test_upload_widget_saves_photos_at_once(real_photos, course_home):
    studio = PhotoStudio()
    for c in real_photos:
        studio.new_name.value = c
        studio.add_button.click()
    assert sorted(studio.uploads) == ["daisy", "roses"]
    for c, files in real_photos.items():
        studio.uploads[c].value = tuple(_upload_item(n, b) for n, b in files)
        assert studio.uploads[c].value == ()  # ready for the next files
    root = course_home / "own_photos"
    names, items, skipped = list_photos(root)
    assert names == ["daisy", "roses"] and skipped == []
    assert [sum(1 for _, c in items if c == i) for i in range(2)] == [6, 6]
    # the stored bytes are the uploaded bytes (EXIF kept), so decoding gives the same pixels
    stored = sorted((root / "roses").iterdir())
    uploaded = dict(real_photos["roses"])
    for path in stored:
        original = next(b for n, b in uploaded.items() if path.name.startswith(Path(n).stem))
        assert path.read_bytes() == original
    assert "6 zdjęć" in studio.message.value and "roses" in studio.message.value
    # a "restarted kernel": a new store on the same folder sees everything
    assert PhotoStore().counts() == {"daisy": 6, "roses": 6}


def test_duplicates_and_bad_files_are_reported_by_name(real_photos, tmp_path):
    store = PhotoStore(tmp_path / "store")
    name, good = real_photos["daisy"][0]
    truncated = good[: len(good) // 3]
    items = [(name, good), ("copy_of_it.jpg", good), ("half.jpg", truncated),
             ("notes.jpg", "To nie jest zdjęcie, tylko tekst.\n".encode() * 20), ("empty.jpg", b"")]
    report = store.add("daisy", items)
    assert len(report.saved) == 1
    assert [f for f, _ in report.duplicates] == ["copy_of_it.jpg"]
    assert report.duplicates[0][1] == f"daisy/{report.saved[0]}"
    assert sorted(f for f, _ in report.unreadable) == ["empty.jpg", "half.jpg", "notes.jpg"]
    text = str(report)
    for f in ("copy_of_it.jpg", "half.jpg", "notes.jpg", "empty.jpg"):
        assert f in text
    assert store.counts() == {"daisy": 1}
    # the same photo into another class, after a restart, is still a duplicate
    again = PhotoStore(tmp_path / "store").add("roses", [("again.jpg", good)])
    assert again.saved == [] and again.duplicates[0][1].startswith("daisy/")


def test_png_webp_and_other_pillow_formats(real_photos, tmp_path):
    store = PhotoStore(tmp_path / "store")
    photo = Image.open(io.BytesIO(real_photos["roses"][0][1])).convert("RGB")
    encoded = {}
    for fmt in ("PNG", "WEBP", "TIFF"):
        buffer = io.BytesIO()
        photo.save(buffer, format=fmt)
        encoded[fmt] = buffer.getvalue()
    report = store.add("roses", [(f"r.{f.lower()}", b) for f, b in encoded.items()])
    suffixes = sorted(Path(n).suffix for n in report.saved)
    assert suffixes == [".png", ".png", ".webp"]  # TIFF is stored as PNG, the loaders' extensions
    for path in store.files("roses"):
        assert read_photo(path, 64).shape == (64, 64, 3)


def test_exif_orientation_is_respected(real_photos, tmp_path):
    store = PhotoStore(tmp_path / "store")
    photo = Image.open(io.BytesIO(real_photos["roses"][1][1])).convert("RGB").resize((120, 60))
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was turned: show the stored pixels rotated 90° clockwise
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", exif=exif, quality=95)
    report = store.add("roses", [("phone.jpg", buffer.getvalue())])
    saved = store.root / "roses" / report.saved[0]
    with Image.open(saved) as image:
        assert image.size == (120, 60)  # stored as uploaded ...
    upright = np.asarray(photo.transpose(Image.Transpose.ROTATE_270).resize((64, 64), Image.BILINEAR))
    decoded = read_photo(saved, 64).astype(int)  # ... and decoded upright by the course's decoder
    assert np.abs(decoded - upright).mean() < 12
    assert np.abs(decoded - np.asarray(photo.resize((64, 64), Image.BILINEAR))).mean() > 25


@pytest.mark.parametrize("names, fragment", [
    (["kubek"], "co najmniej 2 klas"),
    (["kubek", "Kubek"], "dwa razy"),
    (["kubek", "a/b"], "'a/b'"),
    (["kubek", "  "], "pusta"),
    ([f"k{i}" for i in range(OWN_MAX_CLASSES + 1)], f"najwyżej {OWN_MAX_CLASSES}"),
])
def test_class_name_rules(names, fragment):
    with pytest.raises(CourseError) as info:
        check_class_names(names)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_studio_shows_a_bad_class_name_in_one_line(tmp_path):
    studio = PhotoStudio(tmp_path / "store")
    studio.new_name.value = "../etc"
    studio.add_button.click()
    assert "course-message-error" in studio.message.value and "'../etc'" in studio.message.value
    assert studio.store.classes() == []


def test_demo_folder_uses_the_course_photos():
    from course_utils.config import DEMO_CLASSES, get_settings

    root = demo_folder(get_settings(fast=True))
    names, items, _ = list_photos(root)
    assert names == sorted(DEMO_CLASSES)
    counts = [sum(1 for _, c in items if c == i) for i in range(len(names))]
    assert len(set(counts)) == 1 and counts[0] >= 5
    for path, label in items:  # real copies of the course's photos of that class
        original = get_settings().data_dir / names[label] / path.name
        assert path.read_bytes() == original.read_bytes()


def test_choose_source_prefers_a_folder_then_the_studio_then_the_demo(real_photos, tmp_path):
    from course_utils.config import get_settings
    from course_utils.own_photos import choose_source

    settings = get_settings(fast=True)
    store = PhotoStore(tmp_path / "store")
    folder, line = choose_source(store, None, settings)
    assert folder == settings.home / "own_demo" and "przykładu" in line
    store.add("daisy", real_photos["daisy"])
    store.add("roses", real_photos["roses"][:4])  # one class short of 5: still the demo
    assert choose_source(store, None, settings)[0] == settings.home / "own_demo"
    store.add("roses", real_photos["roses"][4:])
    assert store.counts() == {"daisy": 6, "roses": 6}
    folder, line = choose_source(store, None, settings)
    assert folder == store.root and str(store.root) in line
    assert choose_source(store, tmp_path / "mine", settings)[0] == tmp_path / "mine"


def test_try_photo_classifies_an_upload_upright(real_photos, weights_path):
    """The 'try it' widget: an uploaded phone photo (EXIF-rotated) gets one probability per own class."""
    import keras

    from course_utils.model import build_model
    from course_utils.own_photos import try_photo

    keras.utils.set_random_seed(0)
    model, _ = build_model(3, 96, str(weights_path))
    widget = try_photo(model, ["kubek", "klucze", "długopis"])
    assert "96×96" in widget.message.value and "kwiat" not in widget.message.value
    photo = Image.open(io.BytesIO(real_photos["roses"][2][1])).convert("RGB").resize((160, 80))
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", exif=exif, quality=95)
    widget.upload.value = (_upload_item("telefon.jpg", buffer.getvalue()),)
    prediction = widget.prediction
    assert prediction is not None and [name for name, _ in prediction.ranking][0] == prediction.label
    assert sorted(name for name, _ in prediction.ranking) == sorted(["kubek", "klucze", "długopis"])
    assert abs(sum(p for _, p in prediction.ranking) - 1) < 1e-4
    upright = np.asarray(photo.transpose(Image.Transpose.ROTATE_270).resize((96, 96), Image.BILINEAR))
    assert np.abs(prediction.image.astype(int) - upright).mean() < 12
