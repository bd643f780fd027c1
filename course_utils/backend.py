"""Import TensorFlow once, quietly, with CPU-friendly defaults."""
import os
import sys
import warnings


def enable_onednn(enabled=None):
    """Ask TensorFlow for its oneDNN CPU kernels on x86-64 (config ``ONEDNN_OPTS``); return whether asked.

    TensorFlow turns them on by itself only on CPUs with AVX-512 VNNI / BF16 or AMX, and reads
    ``TF_ENABLE_ONEDNN_OPTS`` once, when it loads, so this runs when ``course_utils`` is imported
    (every lesson imports it before Keras). A value already in the environment wins; once
    TensorFlow is loaded nothing changes. ``benchmarks/bench_onednn.py`` measures both settings.
    """
    import platform

    from .config import ONEDNN_OPTS

    enabled = ONEDNN_OPTS if enabled is None else enabled
    if (not enabled or "TF_ENABLE_ONEDNN_OPTS" in os.environ or "tensorflow" in sys.modules
            or platform.machine().lower() not in ("x86_64", "amd64")):
        return False
    os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1"
    return True


def import_tensorflow():
    """Import TensorFlow with its C++ start-up log lines silenced; return the module.

    TensorFlow prints several lines (oneDNN, missing CUDA drivers) straight to
    file descriptor 2 while it loads, which clutters every lesson's first cell
    and is not something a learner can act on. Errors still raise normally.
    """
    # Keras 3 warns on every fit(tf.data pipeline) because fit's default is
    # shuffle=True; the course's pipelines shuffle themselves, so it is noise.
    warnings.filterwarnings("ignore", message=r".*`shuffle=True` was passed, but will be ignored")
    if "tensorflow" in sys.modules:
        tensorflow = sys.modules["tensorflow"]
        tensorflow.get_logger().setLevel("ERROR")
        return tensorflow
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # also hides the cuInit probe error on CPU machines
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow

        tensorflow.zeros(1)  # device start-up (the CUDA probe) logs here, once
        # Python-side notices (deprecations, "tf.function retracing" after several
        # lab runs) are for TensorFlow developers, not learners.
        tensorflow.get_logger().setLevel("ERROR")
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return tensorflow
