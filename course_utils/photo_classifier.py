"""Lesson 07's photo classifier: classify one photo with a trained model, plot the answer, an upload widget."""
from pathlib import Path

import ipywidgets as widgets
import numpy as np

from .backend import import_tensorflow

import_tensorflow()
import keras

from .errors import CourseError
from .messages import t
from .plots import new_figure
from .validate import keras_model
from .widget_base import Widget, escape, set_png


class PhotoPrediction:
    """The answer of :func:`classify_photo`: the winning class, its probability, the ranking.

    ``label`` (class name), ``index`` (class number), ``confidence`` (probability
    of the winner), ``probabilities`` (one per class, in ``class_names`` order),
    ``ranking`` ([(class name, probability)], most likely first) and ``image``
    (the photo as the network saw it: ``uint8``, square).
    """

    def __init__(self, class_names, probabilities, image):
        self.class_names = list(class_names)
        self.probabilities = np.asarray(probabilities, dtype=np.float64)
        self.image = image
        self.index = int(self.probabilities.argmax())
        self.label = self.class_names[self.index]
        self.confidence = float(self.probabilities[self.index])
        order = np.argsort(-self.probabilities, kind="stable")
        self.ranking = [(self.class_names[i], float(self.probabilities[i])) for i in order]

    def __str__(self):
        ranking = ", ".join(f"{name} {p:.1%}" for name, p in self.ranking)
        return t("photo.result", label=self.label, confidence=self.confidence, ranking=ranking)

    def __repr__(self):
        return f"PhotoPrediction(label={self.label!r}, confidence={self.confidence:.3f})"


def check_classifier(model, class_names):
    """The model's input size; CourseError unless ``model`` is a Keras model with one output per class name."""
    keras_model(model)
    if isinstance(class_names, str) or not hasattr(class_names, "__len__"):
        raise CourseError(t("photo.bad_class_names", kind=type(class_names).__name__))
    units = int(model.output_shape[-1])
    if units != len(class_names):
        raise CourseError(t("photo.classes_mismatch", units=units, n=len(class_names)))
    size = model.input_shape[1]
    if size is None:
        raise CourseError(t("photo.no_input_size"))
    return int(size)


def classify_photo(model, class_names, path_or_bytes):
    """Classify one photo (a path, bytes or a file object) with a trained model.

    Steps, as in lesson 07: ``data.read_photo`` (decode, RGB, squash to the
    model's input size), ``preprocess_input`` (pixels to [-1, 1]), the model,
    ``argmax``. Returns a :class:`PhotoPrediction`; a file that is not a photo
    raises a one-line ``CourseError``.
    """
    from .data import preprocess, read_photo

    size = check_classifier(model, class_names)
    if isinstance(path_or_bytes, memoryview):
        path_or_bytes = path_or_bytes.tobytes()
    if isinstance(path_or_bytes, (bytes, bytearray)) and len(path_or_bytes) == 0:
        raise CourseError(t("photo.empty"))
    if isinstance(path_or_bytes, (str, Path)) and not Path(path_or_bytes).is_file():
        raise CourseError(t("photo.missing", path=path_or_bytes))
    image = read_photo(path_or_bytes, size)
    batch = preprocess(image[None])
    probabilities = keras.ops.convert_to_numpy(model(batch, training=False))[0]
    return PhotoPrediction(class_names, probabilities, image)


def plot_photo_prediction(prediction):
    """The photo as the network saw it and a bar of the probability of every class."""
    fig = new_figure(7.5, 2.8)
    photo_ax, bar_ax = fig.subplots(1, 2, width_ratios=[1, 1.6])
    photo_ax.imshow(prediction.image)
    photo_ax.axis("off")
    size = prediction.image.shape[0]
    photo_ax.set_title(t("photo.seen_as", size=size), fontsize=9)
    names = prediction.class_names
    colors = ["#2a9d8f" if i == prediction.index else "#bbbbbb" for i in range(len(names))]
    bar_ax.barh(range(len(names)), prediction.probabilities, color=colors)
    bar_ax.set_yticks(range(len(names)), names)
    bar_ax.invert_yaxis()
    bar_ax.set_xlim(0, 1)
    bar_ax.set_xlabel(t("photo.probability"))
    for i, p in enumerate(prediction.probabilities):
        bar_ax.text(min(p + 0.02, 0.85), i, f"{p:.0%}", va="center", fontsize=9)
    bar_ax.set_title(t("photo.verdict", label=prediction.label, confidence=prediction.confidence), fontsize=10)
    return fig


class PhotoClassifier(Widget):
    """Upload a photo (JPEG, PNG, ...) and see what the trained model thinks it shows."""

    def __init__(self, model, class_names, image_size=None):
        size = check_classifier(model, class_names)
        if image_size is not None and image_size != size:
            raise CourseError(t("photo.size_mismatch", model=size, size=image_size))
        self.model, self.class_names, self.image_size = model, list(class_names), size
        self.prediction = None
        self.title = widgets.HTML(f"<h3>{escape(t('photo.title'))}</h3>")
        self.upload = widgets.FileUpload(accept="image/*", multiple=False, description=t("photo.upload"))
        self.message = widgets.HTML()
        self.picture = widgets.Image(format="png", layout=widgets.Layout(display="none", max_width="620px"))
        self.result = widgets.HTML()
        self.widget = widgets.VBox([self.title, self.upload, self.message, self.result, self.picture])
        for name in ("upload", "message", "picture", "result"):
            getattr(self, name).add_class("photo-classifier-" + name)
        self.widget.add_class("photo-classifier")
        self.upload.observe(self._guarded(self._on_upload), names="value")
        self._show(t("photo.ready", size=size))

    def _on_upload(self):
        """A file arrived in the upload widget: classify the last one."""
        files = self.upload.value
        if not files:
            return
        item = files[-1]
        self.classify(item["content"], item.get("name") or t("photo.unnamed"))

    def _clear(self):
        """Forget the last answer and hide its picture."""
        self.prediction = None
        self.result.value = ""
        self.picture.value = b""
        self.picture.layout.display = "none"

    def classify(self, content, name=None):
        """Classify bytes (or a path); show the verdict or one line saying why it failed."""
        name = name or (Path(content).name if isinstance(content, (str, Path)) else t("photo.unnamed"))
        self._clear()
        try:
            prediction = classify_photo(self.model, self.class_names, content)
        except CourseError:
            self._show(t("photo.bad_file", name=name), "error")
            return None
        self.prediction = prediction
        rows = "".join(f"<li>{escape(label)}: {p:.1%}</li>" for label, p in prediction.ranking)
        self.result.value = (f'<div class="photo-classifier-verdict"><b>{escape(prediction.label)}</b> '
                             f'({prediction.confidence:.1%})</div><ol>{rows}</ol>')
        set_png(self.picture, plot_photo_prediction(prediction))
        self._show(t("photo.done", name=name, label=prediction.label, confidence=prediction.confidence), "ok")
        return prediction

    def summary(self):
        """One readable line (for nbconvert and print)."""
        if self.prediction is None:
            return t("photo.plain_empty", size=self.image_size)
        return t("photo.plain", label=self.prediction.label, confidence=self.prediction.confidence)
