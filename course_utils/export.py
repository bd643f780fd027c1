"""Export a trained classifier for a phone or a web page: TensorFlow Lite with preprocessing inside.

The course's models expect photos after ``preprocess_input`` (pixels in [-1, 1]). An app
on a phone has raw RGB pixels, so :func:`with_preprocessing` puts the same scaling in
front of the model as a Keras layer (``Rescaling(1/127.5, offset=-1)``, exactly
``x / 127.5 - 1``). :func:`export_tflite` converts that model with
``tf.lite.TFLiteConverter.from_keras_model`` and writes the class names beside it
(``NAME.labels.txt``, one per line, in output order). The exported file takes
``float32`` RGB pixels 0-255 of shape ``(1, size, size, 3)`` and returns the
probability of every class. :func:`tflite_predict` runs it with the TensorFlow Lite
interpreter and :func:`compare` measures how close it is to Keras.
"""
import contextlib
import io
import os
import warnings
from pathlib import Path

from .backend import import_tensorflow

tf = import_tensorflow()
import keras
import numpy as np

from .errors import CourseError
from .messages import t
from .validate import keras_model

INPUT_NAME = "pixels"


def _input_size(model):
    keras_model(model)
    size = model.input_shape[1]
    if size is None:
        raise CourseError(t("photo.no_input_size"))
    return int(size)


def with_preprocessing(model):
    """A model that takes raw RGB pixels 0-255 and applies MobileNetV2's scaling before ``model``."""
    size = _input_size(model)
    pixels = keras.Input(shape=(size, size, 3), dtype="float32", name=INPUT_NAME)
    scaled = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="preprocess_input")(pixels)
    return keras.Model(pixels, model(scaled), name=f"{model.name}_raw_pixels")


def labels_path(path):
    """``model.tflite`` -> ``model.labels.txt`` (class names, one per line)."""
    path = Path(path)
    return path.with_name(path.stem + ".labels.txt")


@contextlib.contextmanager
def quiet():
    """Keep the converter's and the interpreter's chatter out of the lesson.

    The converter prints the whole traced signature to stdout; TensorFlow Lite's C++ code
    writes "Created TensorFlow Lite XNNPACK delegate" straight to file descriptor 2.
    """
    import sys

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            try:
                sys.__stderr__.flush()
                saved = os.dup(2)
            except (OSError, AttributeError, ValueError):
                saved = None
            if saved is None:
                yield
                return
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
                os.close(saved)
                os.close(devnull)


def tflite_bytes(model):
    """The TensorFlow Lite flatbuffer of ``with_preprocessing(model)`` (float32, no quantisation)."""
    wrapped = with_preprocessing(model)
    try:
        with quiet():
            converter = tf.lite.TFLiteConverter.from_keras_model(wrapped)
            return converter.convert()
    except Exception as exc:  # a layer TFLite cannot convert, a broken model
        raise CourseError(t("export.convert_failed", error=f"{type(exc).__name__}: {str(exc)[:200]}")) from None


def export_tflite(model, path, class_names):
    """Write ``path`` (``.tflite``) and its ``.labels.txt``; return ``(path, labels_path)``."""
    path = Path(path)
    if path.suffix != ".tflite":
        raise CourseError(t("export.bad_suffix", path=path))
    names = [str(c) for c in class_names]
    units = int(model.output_shape[-1]) if isinstance(model, keras.Model) else None
    if units is not None and units != len(names):
        raise CourseError(t("photo.classes_mismatch", units=units, n=len(names)))
    content = tflite_bytes(model)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(content)
        os.replace(tmp, path)
        labels_path(path).write_text("\n".join(names) + "\n", encoding="utf-8")
    except OSError as exc:
        raise CourseError(t("export.unwritable", path=path, error=exc)) from None
    return path, labels_path(path)


def interpreter(path_or_bytes):
    """A TensorFlow Lite interpreter for a file or flatbuffer bytes (``tf.lite.Interpreter``)."""
    with quiet():  # TF 2.21 warns that tf.lite.Interpreter moves to the ai_edge_litert package
        try:
            if isinstance(path_or_bytes, (bytes, bytearray)):
                return tf.lite.Interpreter(model_content=bytes(path_or_bytes))
            path = Path(path_or_bytes)
            if not path.is_file():
                raise CourseError(t("export.missing", path=path))
            return tf.lite.Interpreter(model_path=str(path))
        except CourseError:
            raise
        except Exception as exc:
            raise CourseError(t("export.unreadable", path=path_or_bytes if not isinstance(
                path_or_bytes, (bytes, bytearray)) else "bytes", error=type(exc).__name__)) from None


def tflite_predict(path_or_bytes, photos):
    """Probabilities from the TFLite model for ``uint8`` (or 0-255 float) photos ``(n, size, size, 3)``."""
    photos = np.asarray(photos)
    it = interpreter(path_or_bytes)
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    size = int(inp["shape"][1])
    if photos.ndim != 4 or photos.shape[1:] != (size, size, 3):
        raise CourseError(t("export.bad_photos", shape=photos.shape, size=size))
    with quiet():  # the XNNPACK delegate announces itself on the first allocation
        it.resize_tensor_input(inp["index"], (len(photos), size, size, 3))
        it.allocate_tensors()
        it.set_tensor(inp["index"], photos.astype(np.float32))
        it.invoke()
    return np.array(it.get_tensor(out["index"]))


def compare(model, path_or_bytes, photos):
    """How close TFLite is to Keras on ``photos``: ``{'n', 'max_abs_diff', 'agreement', 'keras', 'tflite'}``.

    Keras gets the photos the course's way (``preprocess_input`` then the model), TFLite
    gets the raw pixels: the comparison also checks the preprocessing inside the export.
    """
    from .training import run_on_photos

    photos = np.asarray(photos)
    keras_probs = run_on_photos(model, photos)[0]
    lite_probs = tflite_predict(path_or_bytes, photos)
    return {"n": int(len(photos)), "max_abs_diff": float(np.abs(keras_probs - lite_probs).max()),
            "agreement": float(np.mean(keras_probs.argmax(1) == lite_probs.argmax(1))),
            "keras": keras_probs, "tflite": lite_probs}


def describe_comparison(result):
    """One Polish line about the comparison."""
    from .small_data import percent

    return t("export.compare_line", n=result["n"], agreement=percent(result["agreement"]),
             diff=f"{result['max_abs_diff']:.1e}".replace(".", ","))
