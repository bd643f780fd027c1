"""FreezeLab, the freeze-depth widget of lessons 02 and 06: choose, see the cost, apply, train and compare.

A learner chooses how many of the last MobileNetV2 layers are trainable, sees what
that means (picture, parameter counts, BatchNorm), applies it to the real model, and
trains and compares runs. The model queries live in ``course_utils.model``.

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
from time import perf_counter

import ipywidgets as widgets

from .backend import import_tensorflow

import_tensorflow()
import keras

from .config import FREEZE_LAB_LEARNING_RATES, get_settings
from .errors import CourseError
from .messages import t
from .model import (
    BLOCKS,
    batchnorm_in_last,
    block_of,
    block_start_index,
    check_depth,
    count_params,
    counts_at_depth,
    current_depth,
    trainable_flags,
    unfreeze_last,
)
from .plots import history_dict, plot_runs, plot_trainable_blocks
from .training import check_epochs, check_lr
from .validate import keras_model
from .widget_base import Widget, escape, format_lr, layers_word, set_png


class FreezeLab(Widget):
    """Choose how many of the last layers train, see the cost, apply it, train and compare runs."""

    def __init__(self, model, base, train_fn=None, epochs=None, learning_rates=FREEZE_LAB_LEARNING_RATES):
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
        self.title = widgets.HTML(f"<h3>{escape(t('widgets.freeze_title'))}</h3>")
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
        self.table = widgets.HTML(escape(t("widgets.no_runs")))
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
            widgets.HTML(f"<h4>{escape(t('widgets.compare_title'))}</h4>"),
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
        keras_model(model)
        keras_model(base)
        inside = {id(layer) for layer in model.layers}
        if id(base) not in inside and id(base.layers[-1]) not in inside:
            raise CourseError(t("widgets.base_not_in_model"))

    def _require_model(self):
        """CourseError when no model is attached yet."""
        if self.model is None:
            raise CourseError(t("widgets.no_model"))

    def infer_depth(self):
        """How many of the last layers are trainable now (as unfreeze_last set them), or None."""
        self._require_model()
        return current_depth(self.base)

    def preview_counts(self, depth):
        """Trainable / frozen / total parameters the model would have after ``unfreeze_last(base, depth)``."""
        self._require_model()
        return counts_at_depth(self.model, self.base, depth)

    def batchnorm_in(self, depth):
        """Number of BatchNormalization layers among the last ``depth`` layers of the base."""
        self._require_model()
        return batchnorm_in_last(self.base, depth)

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
        set_png(self.picture, plot_trainable_blocks(self.base, depth))
        self.trainable_count.value = escape(t("widgets.trainable_count", n=counts.trainable))
        self.frozen_count.value = escape(t("widgets.frozen_count", n=counts.non_trainable, total=counts.total,
                                           share=counts.trainable / counts.total if counts.total else 0.0))
        bn = self.batchnorm_in(depth)
        self.batchnorm_info.value = escape(t("widgets.batchnorm", n=bn) if bn else t("widgets.batchnorm_none"))
        self.status.value = escape(self._status_text(depth))
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
            self.status.value = escape(self._status_text(self.slider.value))  # train_fn may change flags
        return self._add_run(depth, lr, params, history, seconds)

    def _call_train_fn(self, depth, lr):
        """Run train_fn, time it, check its history; any error becomes one CourseError line."""
        start = perf_counter()
        try:
            raw = self.train_fn(depth, lr, self.epochs, self._progress)
        except CourseError:
            raise
        except Exception as exc:
            raise CourseError(t("widgets.train_failed", error=f"{type(exc).__name__}: {exc}")) from None
        seconds = perf_counter() - start
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
        set_png(self.runs_picture, plot_runs(self.runs))
        self.table.value = self.table_html()
        self.progress.value = self.progress.max
        self._show(t("widgets.trained", acc=row["best_val_accuracy"], seconds=seconds), "ok")
        return row

    def table_html(self):
        """The results as an HTML table (one row per run)."""
        heads = "".join(f"<th>{escape(t(f'widgets.col_{key}'))}</th>"
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
