"""LayerExplorer, lesson 01's widget: one real photo walked through MobileNetV2, feature maps block by block."""
import ipywidgets as widgets
import numpy as np

from .errors import CourseError
from .messages import t
from .model import BLOCKS
from .plots import (
    activations,
    figure_png,
    input_size,
    new_figure,
    plot_feature_maps,
    prepare_image,
    resolve_layer_name,
    to_display,
)
from .validate import int_at_least, keras_model
from .widget_base import Widget, escape

STAGES = {"early": BLOCKS[:6], "middle": BLOCKS[6:13], "late": BLOCKS[13:]}


class LayerExplorer(Widget):
    """Walk one real photo through MobileNetV2 and look at the feature maps block by block."""

    def __init__(self, base, image, n=16):
        keras_model(base)
        photo = np.asarray(image)
        if photo.dtype != np.uint8 or photo.ndim != 3 or photo.shape[-1] != 3:
            raise CourseError(t("widgets.bad_photo", kind=str(photo.dtype), shape=photo.shape))
        self.base = base
        self.n = int_at_least(n, 1, "plots.bad_n", max=base.layers[-1].output.shape[-1])
        self.layers = {block: resolve_layer_name(base, block) for block in BLOCKS}
        batch = prepare_image(base, photo)
        self.maps = dict(zip(BLOCKS, activations(base, batch[0], list(self.layers.values()))))
        self._pictures = {}
        self._build(batch[0])
        self.show(BLOCKS[0])

    def _build(self, preprocessed):
        """Create the controls, give them CSS classes and wire the callback."""
        self.title = widgets.HTML(f"<h3>{escape(t('widgets.explorer_title'))}</h3>")
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
        self.stage.value = escape(t(f"widgets.stage_{self.stage_of(block)}", block=block,
                                    layer=self.layers[block], shape="×".join(map(str, self.maps[block].shape))))
        self.message.value = ""

    def summary(self):
        """One readable line (for nbconvert and print)."""
        return t("widgets.explorer_plain", block=self.block.value, layer=self.layers[self.block.value])
