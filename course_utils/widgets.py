"""Interactive widgets of the course (ipywidgets 8): FreezeLab and LayerExplorer.

``FreezeLab`` lets a learner choose how many of the last MobileNetV2 layers are
trainable, see what that means (picture, parameter counts, BatchNorm), apply it
to the real model, and train-and-compare runs.

The ``train_fn`` contract (the real one lives in ``course_utils.training``)::

    train_fn(depth, lr, epochs, progress_callback) -> history
        depth     how many of the last base layers are trainable (0..len(base.layers))
        lr        learning rate, a positive float
        epochs    number of fine-tuning epochs, a positive int
        progress_callback(done, total=None)
                  call after each epoch: ``done`` epochs finished out of ``total``
        history   dict of lists with 'accuracy', 'val_accuracy', 'loss', 'val_loss'
                  (a keras History is accepted too)

Every control catches bad input and shows one Polish line in ``message``.
"""
import html
import time

import ipywidgets as widgets
import numpy as np

from .backend import import_tensorflow

import_tensorflow()
import keras  # noqa: E402  (after the quiet TensorFlow import)

from .config import get_settings
from .errors import CourseError
from .messages import t
from .model import BLOCKS, ParamCounts, check_depth, block_of, block_start_index, count_params, unfreeze_last
from .plots import (activations, figure_png, history_dict, input_size, is_batchnorm, new_figure, plot_feature_maps,
                    plot_runs, plot_trainable_blocks, prepare_image, resolve_layer_name, to_display,
                    trainable_flags)
from .training import check_epochs, check_lr

LEARNING_RATES = (1e-3, 1e-4, 1e-5)
STAGES = {"early": BLOCKS[:6], "middle": BLOCKS[6:13], "late": BLOCKS[13:]}


def format_lr(lr):
    """A learning rate as learners write it: 1e-4, 3e-4, 0.01."""
    return np.format_float_scientific(lr, trim="-", exp_digits=1) if lr < 1e-2 else f"{lr:g}"


def layers_word(n):
    """Polish plural of 'warstwa' for ``n``."""
    if n == 1:
        return t("widgets.layer_one")
    if n % 10 in (2, 3, 4) and n % 100 not in (12, 13, 14):
        return t("widgets.layer_few")
    return t("widgets.layer_many")


def _one_line(text, limit=300):
    """Collapse whitespace to one line, cut at ``limit`` characters."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _size(weights):
    """Number of values in a list of variables."""
    return sum(int(np.prod(w.shape)) for w in weights)


def _html(text):
    """Escape text for an HTML widget (quotes stay readable)."""
    return html.escape(text, quote=False)


def _set_png(image, fig):
    """Show a figure in an ipywidgets.Image."""
    image.value = figure_png(fig)
    image.layout.display = None


class _Widget:
    """Shared plumbing: one message area, error guard and notebook display."""

    def _show(self, text, kind="info"):
        """Show one line in the message area (kind: info, ok, error)."""
        icon = {"info": "ℹ️ ", "ok": "✅ ", "error": "❌ "}[kind]
        self.message.value = f'<span class="course-message-{kind}">{icon}{_html(_one_line(text))}</span>'

    def _guarded(self, action):
        """Wrap a callback so that any error becomes one line in the message area."""
        def handler(*_args):
            try:
                action()
            except CourseError as exc:
                self._show(str(exc), "error")
            except Exception as exc:  # never leave a broken widget behind
                self._show(t("widgets.unexpected", error=f"{type(exc).__name__}: {exc}"), "error")
        return handler

    def _repr_mimebundle_(self, **kwargs):
        """Widget view in JupyterLab, a readable line in nbconvert / plain text."""
        bundle = self.widget._repr_mimebundle_(**kwargs) or {}
        bundle["text/plain"] = self.summary()
        return bundle

    def __repr__(self):
        return self.summary()


class FreezeLab(_Widget):
    """Choose how many of the last layers train, see the cost, apply it, train and compare runs."""

    def __init__(self, model, base, train_fn=None, epochs=None, learning_rates=LEARNING_RATES):
        settings = get_settings()
        self.train_fn = train_fn
        self.epochs = check_epochs(settings.ft_epochs if epochs is None else epochs)
        self.learning_rates = [check_lr(lr) for lr in learning_rates]
        default_lr = settings.fine_tune_lr if settings.fine_tune_lr in self.learning_rates else self.learning_rates[0]
        self.model = self.base = None
        self.results = []
        self.runs = []
        self._syncing = False
        self._build(default_lr)
        self.set_model(model, base)

    # --- layout -------------------------------------------------------------

    def _build(self, default_lr):
        """Create the controls and wire the callbacks."""
        self.title = widgets.HTML(f"<h3>{_html(t('widgets.freeze_title'))}</h3>")
        self.slider = widgets.IntSlider(value=0, min=0, max=0, description=t("widgets.slider"),
                                        continuous_update=False, style={"description_width": "initial"},
                                        layout=widgets.Layout(width="520px"))
        self.block = widgets.Dropdown(options=[], value=None, description=t("widgets.block"),
                                      style={"description_width": "initial"})
        self.picture = widgets.Image(format="png", layout=widgets.Layout(display="none", max_width="760px"))
        self.trainable_count = widgets.HTML()
        self.frozen_count = widgets.HTML()
        self.batchnorm_info = widgets.HTML()
        self.status = widgets.HTML()
        self.apply_button = widgets.Button(description=t("widgets.apply"), button_style="primary", icon="check")
        self.lr = widgets.Dropdown(options=[(format_lr(lr), lr) for lr in self.learning_rates], value=default_lr,
                                   description=t("widgets.lr"), style={"description_width": "initial"})
        self.train_button = widgets.Button(description=t("widgets.train"), button_style="success", icon="play")
        self.progress = widgets.IntProgress(value=0, min=0, max=self.epochs, description=t("widgets.progress"),
                                            layout=widgets.Layout(visibility="hidden"))
        self.runs_picture = widgets.Image(format="png", layout=widgets.Layout(display="none", max_width="760px"))
        self.table = widgets.HTML(_html(t("widgets.no_runs")))
        self.message = widgets.HTML()
        self._layout()
        self.slider.observe(self._guarded(self._on_slider), names="value")
        self.block.observe(self._guarded(self._on_block), names="value")
        self.apply_button.on_click(self._guarded(self.apply))
        self.train_button.on_click(self._guarded(self.train))

    def _layout(self):
        """Put the controls in one container and give each a stable CSS class."""
        self.widget = widgets.VBox([
            self.title, widgets.HBox([self.slider, self.block]), self.picture,
            widgets.VBox([self.trainable_count, self.frozen_count, self.batchnorm_info, self.status]),
            self.apply_button,
            widgets.HTML(f"<h4>{_html(t('widgets.compare_title'))}</h4>"),
            widgets.HBox([self.lr, self.train_button, self.progress]),
            self.message, self.runs_picture, self.table,
        ])
        for name in ("slider", "block", "picture", "trainable_count", "frozen_count", "batchnorm_info", "status",
                     "apply_button", "lr", "train_button", "progress", "runs_picture", "table", "message"):
            getattr(self, name).add_class("freeze-lab-" + name.replace("_button", "").replace("_", "-"))
        self.widget.add_class("freeze-lab")

    def _enable(self, enabled=True):
        """Enable or disable the controls (training needs a train_fn too)."""
        for control in (self.slider, self.block, self.apply_button, self.lr):
            control.disabled = not enabled
        self.train_button.disabled = not (enabled and self.train_fn is not None)

    # --- model --------------------------------------------------------------

    def set_model(self, model, base):
        """Attach the learner's model and its MobileNetV2 base (shows a message if they are unusable)."""
        self.model = self.base = None
        self._enable(False)
        if isinstance(base, keras.Model):  # moving the slider then explains that the model is missing
            self.slider.max = len(base.layers)
        try:
            self._check_model(model, base)
        except CourseError as exc:
            self._show(str(exc), "error")
            return
        self.model, self.base = model, base
        self._sizes = [_size(layer.weights) for layer in base.layers]
        ids = {id(layer) for layer in base.layers} | {id(base)}
        self._head = [layer for layer in model.layers if id(layer) not in ids]
        depth = self.infer_depth()
        self._syncing = True
        try:
            self.block.options = [(t("widgets.block_option", block=b, index=block_start_index(base, b)), b)
                                  for b in BLOCKS]
            self.block.value = None
            self.slider.max = len(base.layers)
            self.slider.value = depth or 0
        finally:
            self._syncing = False
        self._enable(True)
        self.message.value = ""
        if self.train_fn is None:
            self._show(t("widgets.no_train_fn"))
        self.refresh()

    def _check_model(self, model, base):
        """CourseError unless ``model`` is a Keras model that contains ``base``."""
        if model is None or base is None:
            raise CourseError(t("widgets.no_model"))
        for obj in (model, base):
            if not isinstance(obj, keras.Model):
                raise CourseError(t("model.not_a_model", kind=type(obj).__name__))
        inside = {id(layer) for layer in model.layers}
        if id(base) not in inside and id(base.layers[-1]) not in inside:
            raise CourseError(t("widgets.base_not_in_model"))

    def _require_model(self):
        """CourseError when no model is attached yet."""
        if self.model is None:
            raise CourseError(t("widgets.no_model"))

    def infer_depth(self):
        """How many of the last layers are trainable now (as unfreeze_last set them), or None."""
        now = trainable_flags(self.base)
        if not any(now):
            return 0
        matches = [d for d in range(1, len(now) + 1) if trainable_flags(self.base, d) == now]
        return matches[0] if matches else None

    def preview_counts(self, depth):
        """Trainable / frozen / total parameters the model would have after ``unfreeze_last(base, depth)``."""
        self._require_model()
        flags = trainable_flags(self.base, depth)
        head_trainable = sum(_size(layer.trainable_weights) for layer in self._head)
        head_total = sum(_size(layer.weights) for layer in self._head)
        trainable = head_trainable + sum(size for size, flag in zip(self._sizes, flags) if flag)
        total = head_total + sum(self._sizes)
        return ParamCounts(trainable, total - trainable, total)

    def batchnorm_in(self, depth):
        """Number of BatchNormalization layers among the last ``depth`` layers of the base."""
        self._require_model()
        return sum(1 for layer in self.base.layers[len(self.base.layers) - depth:] if is_batchnorm(layer))

    # --- live preview -------------------------------------------------------

    def _on_slider(self):
        """Slider moved: redraw the preview (or explain that a model is missing)."""
        if self._syncing:
            return
        self._require_model()
        self.refresh()

    def _on_block(self):
        """Block chosen: move the slider so that training starts at that block."""
        if self._syncing or self.block.value is None:
            return
        self._require_model()
        self.slider.value = len(self.base.layers) - block_start_index(self.base, self.block.value)

    def refresh(self):
        """Redraw picture, counts, BatchNorm note and status for the slider's depth."""
        self._require_model()
        depth = self.slider.value
        counts = self.preview_counts(depth)
        _set_png(self.picture, plot_trainable_blocks(self.base, depth))
        self.trainable_count.value = _html(t("widgets.trainable_count", n=counts.trainable))
        self.frozen_count.value = _html(t("widgets.frozen_count", n=counts.non_trainable, total=counts.total,
                                          share=counts.trainable / counts.total if counts.total else 0.0))
        bn = self.batchnorm_in(depth)
        self.batchnorm_info.value = _html(t("widgets.batchnorm", n=bn) if bn else t("widgets.batchnorm_none"))
        self.status.value = _html(self._status_text(depth))
        self._sync_block(depth)

    def _status_text(self, depth):
        """Whether the slider shows the model's state or only a preview."""
        if trainable_flags(self.base, depth) == trainable_flags(self.base):
            return t("widgets.status_applied", n=depth)
        if depth == 0:
            return t("widgets.preview_none")
        first = len(self.base.layers) - depth
        return t("widgets.preview", n=depth, word=layers_word(depth), first=first,
                 block=block_of(self.base.layers[first].name))

    def _sync_block(self, depth):
        """Show the block in the dropdown when the depth starts exactly at a block, else nothing."""
        start = len(self.base.layers) - depth
        starts = {block_start_index(self.base, b): b for b in BLOCKS}
        self._syncing = True
        try:
            self.block.value = starts.get(start) if depth else None
        finally:
            self._syncing = False

    # --- apply --------------------------------------------------------------

    def apply(self, depth=None):
        """Really set layer.trainable on the model (model.unfreeze_last); return count_params(model)."""
        self._require_model()
        depth = self.slider.value if depth is None else depth
        check_depth(self.base, depth)
        unfreeze_last(self.base, depth)
        counts = count_params(self.model)
        if self.slider.value != depth:
            self.slider.value = depth  # the observer redraws
        else:
            self.refresh()
        self._show(t("widgets.applied", n=depth, word=layers_word(depth), trainable=counts.trainable), "ok")
        return counts

    # --- train and compare ---------------------------------------------------

    def _progress(self, done, total=None):
        """progress_callback given to train_fn: ``done`` epochs of ``total`` finished."""
        if total:
            self.progress.max = int(total)
        self.progress.value = max(0, min(int(done), self.progress.max))

    def train(self, depth=None, lr=None):
        """Call train_fn for this depth and learning rate, then add the run to the plot and the table."""
        self._require_model()
        if self.train_fn is None:
            raise CourseError(t("widgets.no_train_fn"))
        depth = self.slider.value if depth is None else depth
        check_depth(self.base, depth)
        lr = check_lr(self.lr.value if lr is None else lr)
        params = self.preview_counts(depth).trainable
        self._enable(False)
        self.progress.max, self.progress.value = self.epochs, 0
        self.progress.layout.visibility = "visible"
        self._show(t("widgets.training", n=depth, word=layers_word(depth), lr=format_lr(lr), epochs=self.epochs))
        try:
            history, seconds = self._call_train_fn(depth, lr)
        finally:
            self._enable(True)
            self.status.value = _html(self._status_text(self.slider.value))  # train_fn may change flags
        return self._add_run(depth, lr, params, history, seconds)

    def _call_train_fn(self, depth, lr):
        """Run train_fn, time it, check its history; any error becomes one CourseError line."""
        start = time.perf_counter()
        try:
            raw = self.train_fn(depth, lr, self.epochs, self._progress)
        except CourseError:
            raise
        except Exception as exc:
            raise CourseError(t("widgets.train_failed", error=f"{type(exc).__name__}: {exc}")) from None
        seconds = time.perf_counter() - start
        try:
            history = history_dict(raw)
        except CourseError as exc:
            raise CourseError(t("widgets.bad_history", error=str(exc))) from None
        return history, seconds

    def _add_run(self, depth, lr, params, history, seconds):
        """Store a finished run, redraw the comparison plot and the table; return the row."""
        row = {"depth": depth, "lr": lr, "trainable_params": params,
               "best_val_accuracy": max(history["val_accuracy"]), "seconds": round(seconds, 2)}
        self.results.append(row)
        self.runs.append((t("widgets.run_label", n=depth, word=layers_word(depth), lr=format_lr(lr)), history))
        _set_png(self.runs_picture, plot_runs(self.runs))
        self.table.value = self.table_html()
        self.progress.value = self.progress.max
        self._show(t("widgets.trained", acc=row["best_val_accuracy"], seconds=seconds), "ok")
        return row

    def table_html(self):
        """The results as an HTML table (one row per run)."""
        heads = "".join(f"<th>{_html(t(f'widgets.col_{key}'))}</th>"
                        for key in ("depth", "lr", "params", "best", "seconds"))
        rows = "".join(
            f"<tr><td>{r['depth']}</td><td>{format_lr(r['lr'])}</td><td>{r['trainable_params']}</td>"
            f"<td>{r['best_val_accuracy']:.1%}</td><td>{r['seconds']:.1f}</td></tr>" for r in self.results)
        return f'<table class="freeze-lab-results"><thead><tr>{heads}</tr></thead><tbody>{rows}</tbody></table>'

    def summary(self):
        """One readable line (for nbconvert and print)."""
        if self.model is None:
            return "FreezeLab: " + t("widgets.no_model")
        counts = self.preview_counts(self.slider.value)
        return t("widgets.freeze_plain", n=self.slider.value, total=len(self.base.layers),
                 trainable=counts.trainable, runs=len(self.results))


class LayerExplorer(_Widget):
    """Walk one real photo through MobileNetV2 and look at the feature maps block by block."""

    def __init__(self, base, image, n=16):
        if not isinstance(base, keras.Model):
            raise CourseError(t("model.not_a_model", kind=type(base).__name__))
        photo = np.asarray(image)
        if photo.dtype != np.uint8 or photo.ndim != 3 or photo.shape[-1] != 3:
            raise CourseError(t("widgets.bad_photo", kind=str(photo.dtype), shape=photo.shape))
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise CourseError(t("plots.bad_n", value=n, max=base.layers[-1].output.shape[-1]))
        self.base, self.n = base, int(n)
        self.layers = {block: resolve_layer_name(base, block) for block in BLOCKS}
        batch = prepare_image(base, photo)
        self.maps = dict(zip(BLOCKS, activations(base, batch[0], list(self.layers.values()))))
        self._pictures = {}
        self._build(batch[0])
        self.show(BLOCKS[0])

    def _build(self, preprocessed):
        """Create the controls, give them CSS classes and wire the callback."""
        self.title = widgets.HTML(f"<h3>{_html(t('widgets.explorer_title'))}</h3>")
        self.photo = widgets.Image(value=figure_png(self._photo_figure(preprocessed)), format="png",
                                   layout=widgets.Layout(max_width="220px"))
        self.block = widgets.SelectionSlider(options=BLOCKS, value=BLOCKS[0], description=t("widgets.explorer_block"),
                                             continuous_update=False, layout=widgets.Layout(width="560px"))
        self.stage = widgets.HTML()
        self.picture = widgets.Image(format="png", layout=widgets.Layout(max_width="720px"))
        self.message = widgets.HTML()
        self.widget = widgets.VBox([self.title, widgets.HBox([self.photo, widgets.VBox([self.block, self.stage])]),
                                    self.message, self.picture])
        for name in ("photo", "block", "stage", "picture", "message"):
            getattr(self, name).add_class("layer-explorer-" + name)
        self.widget.add_class("layer-explorer")
        self.block.observe(self._guarded(lambda: self.show(self.block.value)), names="value")

    def _photo_figure(self, preprocessed):
        """The photo exactly as the network sees it (resized, preprocessing undone)."""
        fig = new_figure(2.4, 2.4)
        ax = fig.subplots()
        ax.imshow(to_display(preprocessed, scale="preprocessed"))
        ax.axis("off")
        h, w = input_size(self.base)
        ax.set_title(t("widgets.explorer_photo", h=h, w=w), fontsize=9)
        return fig

    def stage_of(self, block):
        """'early', 'middle' or 'late' for a block name."""
        return next(stage for stage, blocks in STAGES.items() if block in blocks)

    def show(self, block):
        """Show the feature maps after ``block`` (one of model.BLOCKS)."""
        if block not in BLOCKS:
            raise CourseError(t("model.unknown_block", name=block, blocks=", ".join(BLOCKS)))
        if self.block.value != block:
            self.block.value = block  # the observer calls show() again
            return
        if block not in self._pictures:
            n = min(self.n, self.maps[block].shape[-1])
            self._pictures[block] = figure_png(plot_feature_maps(self.maps[block], self.layers[block], n))
        self.picture.value = self._pictures[block]
        self.stage.value = _html(t(f"widgets.stage_{self.stage_of(block)}", block=block,
                                   layer=self.layers[block], shape="×".join(map(str, self.maps[block].shape))))
        self.message.value = ""

    def summary(self):
        """One readable line (for nbconvert and print)."""
        return t("widgets.explorer_plain", block=self.block.value, layer=self.layers[self.block.value])


# --- lesson 07: classify your own photo ------------------------------------------

from pathlib import Path  # noqa: E402  (used by the lesson 07 photo classifier)


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


def _check_classifier(model, class_names):
    """CourseError unless ``model`` is a Keras model with one output per class name."""
    if not isinstance(model, keras.Model):
        raise CourseError(t("model.not_a_model", kind=type(model).__name__))
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

    size = _check_classifier(model, class_names)
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


class PhotoClassifier(_Widget):
    """Upload a photo (JPEG, PNG, ...) and see what the trained model thinks it shows."""

    def __init__(self, model, class_names, image_size=None):
        size = _check_classifier(model, class_names)
        if image_size is not None and image_size != size:
            raise CourseError(t("photo.size_mismatch", model=size, size=image_size))
        self.model, self.class_names, self.image_size = model, list(class_names), size
        self.prediction = None
        self.title = widgets.HTML(f"<h3>{_html(t('photo.title'))}</h3>")
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
        rows = "".join(f"<li>{_html(label)}: {p:.1%}</li>" for label, p in prediction.ranking)
        self.result.value = (f'<div class="photo-classifier-verdict"><b>{_html(prediction.label)}</b> '
                             f'({prediction.confidence:.1%})</div><ol>{rows}</ol>')
        _set_png(self.picture, plot_photo_prediction(prediction))
        self._show(t("photo.done", name=name, label=prediction.label, confidence=prediction.confidence), "ok")
        return prediction

    def summary(self):
        """One readable line (for nbconvert and print)."""
        if self.prediction is None:
            return t("photo.plain_empty", size=self.image_size)
        return t("photo.plain", label=self.prediction.label, confidence=self.prediction.confidence)
