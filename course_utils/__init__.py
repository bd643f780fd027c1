"""Helpers for the interactive transfer-learning course (tf_flowers + MobileNetV2).

Import what a lesson needs from the module itself; this package root stays light
(settings and the error type only). One module per concern:

Set-up and shared pieces
    ``config``         every default and knob (environment variables, fast mode, the offline assets)
    ``backend``        TensorFlow imported once, quietly; its oneDNN CPU kernels asked for on x86-64
    ``memory``         fewer malloc arenas (set on import, for scripts and the command line)
    ``accelerator``    GPU settings: memory growth, mixed precision, a MirroredStrategy (no-op on CPU)
    ``errors``         ``CourseError``, shown in a notebook as one line
    ``messages``       every learner-facing string, in Polish (``t(key, ...)``, ``plural``)
    ``validate``       argument checks shared by the modules (whole numbers, Keras models)
    ``metrics``        accuracy and its 95% Wilson interval
    ``glossary``       one Polish term per concept (lesson 00, a test enforces it)
Data, model, training
    ``data``           tf_flowers photos decoded upright into train / val / test, ``tf.data`` pipelines
    ``model``          MobileNetV2 base, the head, freezing / unfreezing, what a freeze depth means
    ``activations``    the fast paths' activation cache: freeze boundaries, top models, forward passes
    ``recipe``         what a fast path trains with: the learner's ``compile`` or the defaults
    ``training``       cached feature extraction and fine-tuning, lesson models, FreezeLab's ``train_fn``
    ``tuning``         lesson 06's search over unfreeze depth x learning rate, chosen on validation
    ``final_runs``     the search choice trained again: on mirrored photos (cached) or with augmentation
    ``augmentation``   lesson 05's with / without augmentation measurement
    ``small_data``     training on few photos: minimums, enough steps, a k-fold estimate
    ``own_photos``     lesson 10's photo studio (the learner's own classes)
    ``export``         TensorFlow Lite export with the preprocessing inside
    ``experiments``    lesson 09's experiments (package: ``common``, ``race``, ``less_data``,
                       ``learning_rate``, ``mismatch``, ``summary``)
Showing and interacting
    ``plots``          figures (each function returns a matplotlib Figure)
    ``tuning_plots``   the heat map of the fine-tuning search
    ``widgets``        the widgets in one import: ``FreezeLab``, ``LayerExplorer``, ``PhotoClassifier``
    ``freeze_lab``     FreezeLab, the freeze-depth widget (lessons 02, 06)
    ``layer_explorer`` LayerExplorer, feature maps block by block (lesson 01)
    ``photo_classifier`` lesson 07's photo classifier: ``classify_photo``, its plot, the upload widget
    ``widget_base``    plumbing shared by the widgets (message line, error guard, PNG display)
    ``quiz``           quizzes from ``assets/quizzes`` (package: one class per question kind)
    ``exercises``      code exercises with blanks, ``check()``, hints and solutions (package)
    ``checks``         checkers for code exercises, registered by name
    ``progress``       quiz and exercise progress in one local JSON file
    ``solutions``      the teacher's solved edition of the lessons
    ``cli``            ``python -m course_utils train [--recipe source|tuned] | predict | export | solutions``
"""
from .backend import enable_onednn
from .config import get_settings
from .errors import CourseError, install_notebook_handler
from .memory import limit_malloc_arenas

__all__ = ["CourseError", "get_settings"]
__version__ = "0.1.0"

install_notebook_handler()
limit_malloc_arenas()
enable_onednn()
