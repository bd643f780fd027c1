"""GPU settings for the course: memory growth, mixed precision, a MirroredStrategy (no-op on CPU).

:func:`setup_accelerator` does something only when a GPU is present;
:func:`strategy_scope` is the scope to build and compile models in afterwards.
"""
from .backend import import_tensorflow

import_tensorflow()
import keras  # noqa: E402  (after the quiet TensorFlow import)

_STRATEGY = None


def setup_accelerator(mixed_precision=True):
    """Use a GPU when there is one; on a CPU-only machine do nothing.

    Returns a ``tf.distribute`` strategy. On CPU this is the default strategy
    and nothing is changed, so the lessons run exactly as written. With GPUs,
    GPU memory grows on demand (other notebooks can share the card) and
    :func:`use_devices` switches on mixed precision and, for several GPUs,
    a ``MirroredStrategy``.

    Call it **before** building the model and build the model inside
    :func:`strategy_scope`; the training functions of this module then compile
    inside the same scope. The cached paths need no other change on a GPU.
    """
    global _STRATEGY
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        _STRATEGY = None
        return tf.distribute.get_strategy()
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # the GPU was initialised already
            pass
    return use_devices([f"/gpu:{i}" for i in range(len(gpus))], mixed_precision)


def use_devices(devices, mixed_precision=True):
    """The accelerator settings for ``devices`` (e.g. ``['/gpu:0', '/gpu:1']``); returns the strategy.

    * ``mixed_float16`` becomes the global Keras policy (when
      ``mixed_precision``), which roughly doubles throughput on tensor cores;
      the ``predictions`` layer of :func:`course_utils.model.add_head` keeps
      ``float32`` so the softmax stays numerically stable, and ``compile``
      adds loss scaling;
    * with two or more devices a ``MirroredStrategy`` over them is used; with
      one the default strategy already places everything on it.

    The tests call it with logical CPU devices, which runs the same code paths
    on a machine without a GPU.
    """
    global _STRATEGY
    import tensorflow as tf

    if mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    _STRATEGY = (tf.distribute.MirroredStrategy(list(devices)) if len(devices) > 1
                 else tf.distribute.get_strategy())
    return _STRATEGY


def strategy_scope():
    """The scope to build models in after :func:`setup_accelerator` (a no-op on CPU)."""
    import contextlib

    return _STRATEGY.scope() if _STRATEGY is not None else contextlib.nullcontext()
