"""Tests of lesson 07's photo classifier: classify_photo and the PhotoClassifier widget.

The widget is driven as JupyterLab drives it: the FileUpload's ``value`` is set
to the tuple of file dicts that the front end sends (real photo bytes, garbage).
"""
import datetime
import html
import io
import re

import keras
import numpy as np
import pytest
from PIL import Image

from course_utils import widgets
from course_utils.data import read_photo
from course_utils.errors import CourseError
from course_utils.messages import t
from course_utils.model import build_model

CLASSES = ["daisy", "dandelion", "roses", "sunflowers", "tulips"]


@pytest.fixture(scope="module")
def photo_files(photos_dir):
    """One real photo path per class."""
    return [sorted((photos_dir / name).glob("*.jpg"))[0] for name in CLASSES]


@pytest.fixture(scope="module")
def tiny_model():
    """A small deterministic classifier on 96 px photos (fast; real preprocessing path)."""
    inputs = keras.Input((96, 96, 3))
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    outputs = keras.layers.Dense(5, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs, outputs)
    kernel = np.arange(15, dtype="float32").reshape(3, 5) / 3.0 - 2.0
    model.get_layer("predictions").set_weights([kernel, np.linspace(-0.5, 0.5, 5).astype("float32")])
    return model


@pytest.fixture(scope="module")
def mobilenet(weights_path):
    """The course's real model (MobileNetV2 base + head) at 96 px."""
    model, _ = build_model(5, 96, weights=str(weights_path))
    return model


def expected_probs(model, source, size=96):
    """What the lesson computes by hand: read_photo -> preprocess_input -> predict."""
    image = read_photo(source, size).astype("float32")
    batch = keras.applications.mobilenet_v2.preprocess_input(image[None])
    return model.predict(batch, verbose=0)[0]


def upload_entry(name, content):
    """One file as ipywidgets 8's FileUpload stores it after a browser upload."""
    return {"name": name, "type": "image/jpeg", "size": len(content), "content": memoryview(content),
            "last_modified": datetime.datetime(2024, 5, 1, tzinfo=datetime.timezone.utc)}


def text(html_value):
    """Visible text of an HTML widget value, as a browser shows it."""
    return html.unescape(re.sub(r"<[^>]+>", "", html_value))


# --- classify_photo ---------------------------------------------------------------

def test_classify_photo_path_bytes_and_file_give_the_same_answer(tiny_model, photo_files):
    path = photo_files[2]
    expected = expected_probs(tiny_model, path)
    by_path = widgets.classify_photo(tiny_model, CLASSES, path)
    by_str = widgets.classify_photo(tiny_model, CLASSES, str(path))
    by_bytes = widgets.classify_photo(tiny_model, CLASSES, path.read_bytes())
    with open(path, "rb") as fh:
        by_file = widgets.classify_photo(tiny_model, CLASSES, fh)
    for result in (by_path, by_str, by_bytes, by_file):
        assert np.allclose(result.probabilities, expected, atol=1e-6)
        assert result.index == int(np.argmax(expected)) and result.label == CLASSES[result.index]
    assert by_path.probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    assert by_path.image.shape == (96, 96, 3) and by_path.image.dtype == np.uint8
    assert [name for name, _ in by_path.ranking][0] == by_path.label
    order = np.argsort(-expected, kind="stable")
    assert by_path.ranking == pytest.approx([(CLASSES[i], expected[i]) for i in order], abs=1e-6)
    assert by_path.confidence == pytest.approx(expected.max(), abs=1e-6)
    ranking = ", ".join(f"{CLASSES[i]} {expected[i]:.1%}" for i in order)
    assert str(by_path) == t("photo.result", label=CLASSES[order[0]], confidence=by_path.confidence,
                             ranking=ranking)


def test_classify_photo_with_the_real_model(mobilenet, photo_files):
    result = widgets.classify_photo(mobilenet, CLASSES, photo_files[0])
    expected = expected_probs(mobilenet, photo_files[0])
    assert np.allclose(result.probabilities, expected, atol=1e-5)
    assert result.label == CLASSES[int(np.argmax(expected))]
    assert result.confidence == pytest.approx(float(expected.max()), abs=1e-5)


def test_classify_photo_png_with_alpha_and_grayscale(tiny_model, photo_files):
    with Image.open(photo_files[1]) as img:
        rgba = img.convert("RGBA")
        gray = img.convert("L")
    for picture in (rgba, gray):
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG")
        result = widgets.classify_photo(tiny_model, CLASSES, buffer.getvalue())
        assert result.image.shape == (96, 96, 3)
        expected = expected_probs(tiny_model, buffer.getvalue())  # read_photo makes it RGB
        assert np.allclose(result.probabilities, expected, atol=1e-6)
        assert result.label == CLASSES[int(np.argmax(expected))]


def matches(message, key):
    """True when ``message`` is ``t(key, ...)`` with some name and error filled in."""
    before, middle, after = t(key, name="\0", error="\0").split("\0")
    return message.startswith(before) and middle in message and message.endswith(after)


@pytest.mark.parametrize("bad, key, fields", [
    (b"to nie jest zdjecie", "data.bad_photo", None),  # read_photo's message (name and reason vary)
    (b"", "photo.empty", {}),
    ("/nie/ma/takiego/pliku.jpg", "photo.missing", {"path": "/nie/ma/takiego/pliku.jpg"}),
])
def test_classify_photo_bad_input_is_one_polish_line(tiny_model, bad, key, fields):
    with pytest.raises(CourseError) as info:
        widgets.classify_photo(tiny_model, CLASSES, bad)
    message = str(info.value)
    assert "\n" not in message
    assert matches(message, key) if fields is None else message == t(key, **fields)


def test_classify_photo_checks_model_and_class_names(tiny_model, photo_files):
    for model, names, message in (("model", CLASSES, t("model.not_a_model", kind="str")),
                                  (tiny_model, CLASSES[:3], t("photo.classes_mismatch", units=5, n=3)),
                                  (tiny_model, "daisy", t("photo.bad_class_names", kind="str"))):
        with pytest.raises(CourseError) as info:
            widgets.classify_photo(model, names, photo_files[0])
        assert str(info.value) == message


# --- the widget ---------------------------------------------------------------------

@pytest.fixture
def classifier(tiny_model):
    return widgets.PhotoClassifier(tiny_model, CLASSES)


def test_upload_of_a_real_photo_shows_the_prediction(classifier, tiny_model, photo_files):
    path = photo_files[3]
    classifier.upload.value = (upload_entry(path.name, path.read_bytes()),)
    expected = expected_probs(tiny_model, path)
    label = CLASSES[int(np.argmax(expected))]
    assert classifier.prediction is not None and classifier.prediction.label == label
    assert np.allclose(classifier.prediction.probabilities, expected, atol=1e-6)
    message = text(classifier.message.value)
    assert message == "✅ " + t("photo.done", name=path.name, label=label, confidence=float(expected.max()))
    items = re.findall(r"<li>(.*?)</li>", classifier.result.value)
    order = np.argsort(-expected, kind="stable")
    assert items == [f"{CLASSES[i]}: {expected[i]:.1%}" for i in order]
    assert classifier.picture.value.tobytes().startswith(b"\x89PNG")
    assert classifier.picture.layout.display is None
    assert label in classifier._repr_mimebundle_()["text/plain"]


def test_upload_of_garbage_shows_one_line_and_clears_the_result(classifier, photo_files):
    path = photo_files[0]
    classifier.upload.value = (upload_entry(path.name, path.read_bytes()),)
    assert classifier.prediction is not None
    classifier.upload.value = (upload_entry("notatki.txt", b"\x00\x01 zwykly tekst, nie obraz"),)
    message = text(classifier.message.value)
    assert message == "❌ " + t("photo.bad_file", name="notatki.txt")
    assert "course-message-error" in classifier.message.value
    assert classifier.prediction is None and classifier.result.value == ""
    assert classifier.picture.layout.display == "none"
    # a good photo afterwards works again
    classifier.upload.value = (upload_entry(path.name, path.read_bytes()),)
    assert text(classifier.message.value).startswith("✅") and classifier.prediction is not None


def test_upload_of_an_empty_file_and_of_nothing(classifier):
    classifier.upload.value = (upload_entry("puste.jpg", b""),)
    assert text(classifier.message.value) == "❌ " + t("photo.bad_file", name="puste.jpg")
    before = classifier.message.value
    classifier.upload.value = ()
    assert classifier.message.value == before and classifier.prediction is None


def test_classify_method_and_plain_text(classifier, tiny_model, photo_files):
    assert classifier.summary() == t("photo.plain_empty", size=96)
    prediction = classifier.classify(photo_files[4])
    assert prediction is classifier.prediction and photo_files[4].name in classifier.message.value
    assert prediction.label == CLASSES[int(np.argmax(expected_probs(tiny_model, photo_files[4])))]
    assert classifier.summary() == t("photo.plain", label=prediction.label, confidence=prediction.confidence)
    assert classifier.classify(b"xyz", "zly.jpg") is None
    assert text(classifier.message.value) == "❌ " + t("photo.bad_file", name="zly.jpg")


def test_widget_rejects_wrong_arguments(tiny_model):
    for args, kwargs, message in (((None, CLASSES), {}, t("model.not_a_model", kind="NoneType")),
                                  ((tiny_model, CLASSES + ["lilies"]), {}, t("photo.classes_mismatch", units=5, n=6)),
                                  ((tiny_model, CLASSES), {"image_size": 224}, t("photo.size_mismatch", model=96,
                                                                                 size=224))):
        with pytest.raises(CourseError) as info:
            widgets.PhotoClassifier(*args, **kwargs)
        assert str(info.value) == message
    assert widgets.PhotoClassifier(tiny_model, CLASSES, image_size=96).image_size == 96


def test_css_classes_and_display(classifier):
    assert "photo-classifier" in classifier.widget._dom_classes
    for name in ("upload", "message", "picture", "result"):
        assert f"photo-classifier-{name}" in getattr(classifier, name)._dom_classes
    assert classifier.upload.accept == "image/*" and classifier.upload.multiple is False
    bundle = classifier._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == classifier.widget.model_id


def test_photo_prediction_figure(tiny_model, photo_files):
    fig = widgets.plot_photo_prediction(widgets.classify_photo(tiny_model, CLASSES, photo_files[0]))
    photo_ax, bar_ax = fig.axes
    assert len(photo_ax.get_images()) == 1
    assert [p.get_width() for p in bar_ax.patches] == pytest.approx(
        list(widgets.classify_photo(tiny_model, CLASSES, photo_files[0]).probabilities))


# --- a phone photo stored sideways with an EXIF orientation tag --------------------

def test_sideways_photo_is_classified_like_its_upright_twin(mobilenet, photos_dir, tmp_path):
    from test_data import STORED_AS, sideways_twins, upright_photo

    ignored_gaps = []
    for name in ("daisy", "sunflowers"):
        photo = upright_photo(photos_dir, name)
        for orientation in (3, 6, 8):
            folder = tmp_path / f"{name}_{orientation}"
            folder.mkdir()
            up, side = sideways_twins(photo, folder, orientation)
            upright = widgets.classify_photo(mobilenet, CLASSES, up).probabilities
            turned = widgets.classify_photo(mobilenet, CLASSES, side.read_bytes()).probabilities
            assert np.abs(upright - turned).max() < 0.02, (name, orientation)
            # the stored pixels, as a decoder without exif_transpose would give them
            raw = folder / "raw.jpg"
            Image.fromarray(np.ascontiguousarray(STORED_AS[orientation](photo))).save(raw, quality=95,
                                                                                       subsampling=0)
            ignored_gaps.append(np.abs(widgets.classify_photo(mobilenet, CLASSES, raw).probabilities
                                       - upright).max())
    assert max(ignored_gaps) > 0.05  # the rotation does change the answer when ignored


def test_upload_of_a_sideways_photo_shows_the_upright_answer(tiny_model, photos_dir, tmp_path):
    from test_data import sideways_twins, upright_photo

    up, side = sideways_twins(upright_photo(photos_dir, "tulips"), tmp_path, 6)
    classifier = widgets.PhotoClassifier(tiny_model, CLASSES)
    classifier.upload.value = (upload_entry(side.name, side.read_bytes()),)
    assert np.abs(classifier.prediction.probabilities - expected_probs(tiny_model, up)).max() < 0.01
    assert np.abs(classifier.prediction.image.astype(int) - read_photo(up, 96).astype(int)).mean() < 1.5
