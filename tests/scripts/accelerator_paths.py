"""Run the GPU settings of ``training.use_devices`` on two logical CPU devices.

Started as a subprocess by ``tests/test_accelerator.py`` (logical devices must be
configured before TensorFlow initialises). Prints one JSON object.
Arguments: PHOTOS_DIR WEIGHTS_PATH.
"""
import json
import sys

import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])

import keras  # noqa: E402

from course_utils import training  # noqa: E402
from course_utils.data import load_flowers  # noqa: E402
from course_utils.model import build_model  # noqa: E402

photos, weights = sys.argv[1], sys.argv[2]
strategy = training.use_devices(["/cpu:0", "/cpu:1"], mixed_precision=True)
# 20 per class: 10 validation photos split evenly over the two replicas (Keras fails
# to build the evaluation step on a first batch that does not split evenly)
data = load_flowers(photos, image_size=96, per_class=20, seed=42)
keras.utils.set_random_seed(0)
with training.strategy_scope():
    model, base = build_model(data.num_classes, 96, weights)
fe = training.train_head_cached(model, data, epochs=2, verbose=0, base=base, cache_unfreeze=20)
ft = training.fine_tune_cached(model, base, data, unfreeze=20, epochs=2, verbose=0)
cached = training.predict_cached(model, data, "test")
full = model.predict(data.dataset("test", shuffle=False), verbose=0)
print(json.dumps({
    "policy": keras.mixed_precision.global_policy().name,
    "strategy": type(strategy).__name__,
    "replicas": strategy.num_replicas_in_sync,
    "variables_mirrored": type(model.get_layer("predictions").kernel.value).__name__,
    "feature_dtype": str(training.crossing_tensors(model, training.head_boundary(model))[0].dtype),
    "output_dtype": str(model.output.dtype),
    "fe_epochs": len(fe.history["loss"]),
    "ft_epochs": len(ft.history["loss"]),
    "finite_losses": bool(np.all(np.isfinite(fe.history["loss"] + ft.history["loss"]))),
    "max_prob_diff": float(np.max(np.abs(cached - full))),
    "rows_sum_to_one": bool(np.allclose(full.sum(axis=1), 1, atol=1e-3)),
}))
