"""The GPU settings (mixed precision, MirroredStrategy) on logical CPU devices.

A machine with a GPU is not available to the test suite, so ``use_devices`` —
the code ``setup_accelerator`` runs when it finds GPUs — is driven with two
logical CPU devices in a fresh process: the cached feature extraction and
fine-tuning must train under ``mixed_float16`` and a two-replica
``MirroredStrategy`` and still predict what the full model predicts.
"""
import json
import subprocess
import sys

from conftest import PHOTOS, REPO, WEIGHTS


def test_cached_paths_run_under_mixed_precision_and_mirrored_strategy():
    script = REPO / "tests" / "scripts" / "accelerator_paths.py"
    done = subprocess.run([sys.executable, str(script), str(PHOTOS), str(WEIGHTS)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["policy"] == "mixed_float16"
    assert result["strategy"] == "MirroredStrategy" and result["replicas"] == 2
    assert "Mirrored" in result["variables_mirrored"]
    assert result["feature_dtype"] == "float16"  # cached activations in half precision
    assert result["output_dtype"] == "float32"  # the softmax stays in float32
    assert result["fe_epochs"] == 2 and result["ft_epochs"] == 2
    assert result["finite_losses"] and result["rows_sum_to_one"]
    assert result["max_prob_diff"] < 1e-2  # float16 rounding, same model
