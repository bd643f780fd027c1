"""Tests of lesson 07's photo classifier: classify_photo and the PhotoClassifier widget.

The widget is driven as JupyterLab drives it: the FileUpload's ``value`` is set
to the tuple of file dicts that the front end sends (real photo bytes, garbage).
"""
import datetime
import io
import re

import keras
import numpy as np
import pytest
from PIL import Image

from course_utils import widgets
from course_utils.data import read_photo
from course_utils.errors import CourseError
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
    """Visible text of an HTML widget value."""
    return re.sub(r"<[^>]+>", "", html_value)


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
    probs = [p for _, p in by_path.ranking]
    assert probs == sorted(probs, reverse=True) and by_path.confidence == probs[0]
    assert by_path.label in str(by_path) and "%" in str(by_path)


def test_classify_photo_with_the_real_model(mobilenet, photo_files):
    result = widgets.classify_photo(mobilenet, CLASSES, photo_files[0])
    assert np.allclose(result.probabilities, expected_probs(mobilenet, photo_files[0]), atol=1e-5)
    assert result.label in CLASSES and 0.2 <= result.confidence <= 1.0


def test_classify_photo_png_with_alpha_and_grayscale(tiny_model, photo_files):
    with Image.open(photo_files[1]) as img:
        rgba = img.convert("RGBA")
        gray = img.convert("L")
    for picture in (rgba, gray):
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG")
        result = widgets.classify_photo(tiny_model, CLASSES, buffer.getvalue())
        assert result.image.shape == (96, 96, 3) and result.label in CLASSES


@pytest.mark.parametrize("bad, match", [
    (b"to nie jest zdjecie", "Nie da się odczytać zdjęcia"),
    (b"", "pusty"),
    ("/nie/ma/takiego/pliku.jpg", "Nie ma pliku"),
])
def test_classify_photo_bad_input_is_one_polish_line(tiny_model, bad, match):
    with pytest.raises(CourseError, match=match) as info:
        widgets.classify_photo(tiny_model, CLASSES, bad)
    assert "\n" not in str(info.value)


def test_classify_photo_checks_model_and_class_names(tiny_model, photo_files):
    with pytest.raises(CourseError, match="keras.Model"):
        widgets.classify_photo("model", CLASSES, photo_files[0])
    with pytest.raises(CourseError, match="5 wyjść, a podano 3 nazw"):
        widgets.classify_photo(tiny_model, CLASSES[:3], photo_files[0])
    with pytest.raises(CourseError, match="listą napisów"):
        widgets.classify_photo(tiny_model, "daisy", photo_files[0])


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
    assert message.startswith("✅") and path.name in message and label in message
    assert f"{expected.max():.1%}" in message
    result = text(classifier.result.value)
    assert all(name in result for name in CLASSES)
    assert classifier.picture.value.tobytes().startswith(b"\x89PNG")
    assert classifier.picture.layout.display is None
    assert label in classifier._repr_mimebundle_()["text/plain"]


def test_upload_of_garbage_shows_one_line_and_clears_the_result(classifier, photo_files):
    path = photo_files[0]
    classifier.upload.value = (upload_entry(path.name, path.read_bytes()),)
    assert classifier.prediction is not None
    classifier.upload.value = (upload_entry("notatki.txt", b"\x00\x01 zwykly tekst, nie obraz"),)
    message = text(classifier.message.value)
    assert message == "❌ Nie da się odczytać pliku notatki.txt jako zdjęcia: wybierz plik JPEG lub PNG."
    assert "course-message-error" in classifier.message.value
    assert classifier.prediction is None and classifier.result.value == ""
    assert classifier.picture.layout.display == "none"
    # a good photo afterwards works again
    classifier.upload.value = (upload_entry(path.name, path.read_bytes()),)
    assert text(classifier.message.value).startswith("✅") and classifier.prediction is not None


def test_upload_of_an_empty_file_and_of_nothing(classifier):
    classifier.upload.value = (upload_entry("puste.jpg", b""),)
    assert text(classifier.message.value).startswith("❌ Nie da się odczytać pliku puste.jpg")
    before = classifier.message.value
    classifier.upload.value = ()
    assert classifier.message.value == before and classifier.prediction is None


def test_classify_method_and_plain_text(classifier, photo_files):
    assert "wybierz zdjęcie" in classifier.summary() and "96×96" in classifier.summary()
    prediction = classifier.classify(photo_files[4])
    assert prediction is classifier.prediction and photo_files[4].name in classifier.message.value
    assert classifier.summary().startswith(f"PhotoClassifier: ostatnie zdjęcie to {prediction.label}")
    assert classifier.classify(b"xyz", "zly.jpg") is None and "zly.jpg" in classifier.message.value


def test_widget_rejects_wrong_arguments(tiny_model):
    with pytest.raises(CourseError, match="keras.Model"):
        widgets.PhotoClassifier(None, CLASSES)
    with pytest.raises(CourseError, match="5 wyjść"):
        widgets.PhotoClassifier(tiny_model, CLASSES + ["lilies"])
    with pytest.raises(CourseError, match="oczekuje zdjęć 96 px"):
        widgets.PhotoClassifier(tiny_model, CLASSES, image_size=224)
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
