"""Import TensorFlow once, quietly, with CPU-friendly defaults."""
import os
import sys
import warnings


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
