"""TensorFlow Lite export on real photos: raw pixels in, the same probabilities as Keras out."""
import numpy as np
import pytest

from course_utils import export, small_data
from course_utils.data import preprocess, read_photo
from course_utils.errors import CourseError
from course_utils.model import build_model
from course_utils.training import run_on_photos


@pytest.fixture(scope="module")
def trained(tmp_path_factory, photos_dir, weights_path):
    """A head trained on 2 classes x 6 real photos (96 px), exported once."""
    import shutil

    import keras

    root = tmp_path_factory.mktemp("own") / "photos"
    for c in ("daisy", "tulips"):
        (root / c).mkdir(parents=True)
        for p in sorted((photos_dir / c).glob("*.jpg"))[:6]:
            shutil.copy(p, root / c / p.name)
    data = small_data.load_all(root, image_size=96)
    keras.utils.set_random_seed(0)
    model, _ = build_model(2, 96, str(weights_path))
    small_data.train_head(model, data, epochs=2, min_steps=60, seed=0)
    out = tmp_path_factory.mktemp("export") / "own.tflite"
    path, labels = export.export_tflite(model, out, data.class_names)
    photos = np.stack([read_photo(p, 96) for c in ("daisy", "tulips")
                       for p in sorted((photos_dir / c).glob("*.jpg"))[-4:]])
    return model, data, path, labels, photos


def test_files_and_labels(trained):
    _, data, path, labels, _ = trained
    assert path.is_file() and path.stat().st_size > 1_000_000
    assert labels.read_text(encoding="utf-8").splitlines() == data.class_names


def test_tflite_equals_keras_on_real_photos(trained):
    model, _, path, _, photos = trained
    keras_probs = np.asarray(model(preprocess(photos), training=False))
    lite_probs = export.tflite_predict(path, photos)  # raw uint8 pixels, preprocessing inside
    assert lite_probs.shape == keras_probs.shape == (8, 2)
    assert np.abs(lite_probs - keras_probs).max() < 1e-3
    assert np.array_equal(lite_probs.argmax(1), keras_probs.argmax(1))
    result = export.compare(model, path, photos)
    assert result["n"] == 8 and result["agreement"] == 1.0 and result["max_abs_diff"] < 1e-3
    assert "8 zdjęciach" in export.describe_comparison(result)


def test_preprocessing_is_inside_the_export(trained):
    model, _, path, _, photos = trained
    wrapped = export.with_preprocessing(model)
    raw = photos.astype("float32")
    assert np.allclose(wrapped(raw).numpy(), run_on_photos(model, photos)[0], atol=1e-5)
    # fed already-preprocessed pixels, the export gives other answers: the scaling is in the file
    twice = export.tflite_predict(path, np.asarray(preprocess(photos)))
    assert np.abs(twice - export.tflite_predict(path, photos)).max() > 1e-2


def test_bad_input_is_one_line(trained, tmp_path):
    model, data, path, _, photos = trained
    with pytest.raises(CourseError, match=r"\.tflite"):
        export.export_tflite(model, tmp_path / "own.keras", data.class_names)
    with pytest.raises(CourseError, match="Nie ma pliku"):
        export.tflite_predict(tmp_path / "missing.tflite", photos)
    with pytest.raises(CourseError, match=r"\(liczba, 96, 96, 3\)"):
        export.tflite_predict(path, photos[:, :64, :64])
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(b"not a flatbuffer" * 10)
    with pytest.raises(CourseError, match="uszkodzony"):
        export.tflite_predict(broken, photos)
