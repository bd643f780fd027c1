"""The course's interactive widgets in one import: FreezeLab, LayerExplorer and lesson 07's PhotoClassifier.

Each widget lives in its own module (``freeze_lab``, ``layer_explorer``,
``photo_classifier``; shared plumbing in ``widget_base``); notebooks import them
from here, e.g. ``from course_utils.widgets import FreezeLab``.
"""
from .freeze_lab import FreezeLab
from .layer_explorer import STAGES, LayerExplorer
from .photo_classifier import PhotoClassifier, PhotoPrediction, check_classifier, classify_photo, plot_photo_prediction
from .widget_base import Widget, format_lr, layers_word

__all__ = ["FreezeLab", "LayerExplorer", "PhotoClassifier", "PhotoPrediction", "STAGES", "Widget",
           "check_classifier", "classify_photo", "format_lr", "layers_word", "plot_photo_prediction"]
