"""Helpers for the interactive transfer-learning course (tf_flowers + MobileNetV2).

Each concern has its own module: ``config``, ``data``, ``model``, ``training``,
``plots``, ``widgets``, ``quiz``, ``progress`` and ``cli``. Import what a lesson
needs from the module itself; this package root stays light.
"""
from .config import get_settings
from .errors import CourseError, install_notebook_handler

__all__ = ["CourseError", "get_settings"]
__version__ = "0.1.0"

install_notebook_handler()
