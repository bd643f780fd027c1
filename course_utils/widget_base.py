"""Plumbing shared by the course's widgets: one message line, the error guard, PNG display, number words.

Imports neither TensorFlow nor matplotlib (the quiz widgets use ``Displayed`` too).
"""
import html

import numpy as np

from .errors import CourseError
from .messages import plural, t


def format_lr(lr):
    """A learning rate as learners write it: 1e-4, 3e-4, 0.01."""
    return np.format_float_scientific(lr, trim="-", exp_digits=1) if lr < 1e-2 else f"{lr:g}"


def layers_word(n):
    """Polish plural of 'warstwa' for ``n``."""
    return plural(n, t("widgets.layer_one"), t("widgets.layer_few"), t("widgets.layer_many"))


def one_line(text, limit=300):
    """Collapse whitespace to one line, cut at ``limit`` characters."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def escape(text):
    """Escape text for an HTML widget (quotes stay readable)."""
    return html.escape(text, quote=False)


def set_png(image, fig):
    """Show a figure in an ipywidgets.Image."""
    from .plots import figure_png

    image.value = figure_png(fig)
    image.layout.display = None


class Displayed:
    """Notebook display: the widget's view in JupyterLab, ``plain_text()`` for nbconvert and consoles.

    The view is ``self.widget``'s; an object that is an ipywidget itself (the quiz widgets)
    shows itself, through the widget class that follows this one among its bases.
    """

    def plain_text(self):
        """The readable text version (default: ``summary()``)."""
        return self.summary()

    def _repr_mimebundle_(self, **kwargs):
        import ipywidgets

        view = super() if isinstance(self, ipywidgets.Widget) else self.widget
        bundle = view._repr_mimebundle_(**kwargs) or {}
        bundle["text/plain"] = self.plain_text()
        return bundle


class Widget(Displayed):
    """Shared plumbing: one message area, error guard and notebook display."""

    def _show(self, text, kind="info"):
        """Show one line in the message area (kind: info, ok, error)."""
        icon = {"info": "ℹ️ ", "ok": "✅ ", "error": "❌ "}[kind]
        self.message.value = f'<span class="course-message-{kind}">{icon}{escape(one_line(text))}</span>'

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

    def __repr__(self):
        return self.summary()
