"""The benchmark script runs end to end on a tiny subset and writes the issue's JSON fields.

Only the shape of the output is checked here: timings are never asserted in tests.
"""
import json
import subprocess
import sys

from conftest import PHOTOS, REPO, WEIGHTS

FIELDS = {"fe_speedup", "ft_speedup", "fe_test_accuracy", "ft_test_accuracy",
          "naive_fe_test_accuracy", "naive_ft_test_accuracy", "full_pipeline_seconds",
          "peak_rss_mb", "one_forward_pass_seconds", "targets"}


def test_benchmark_writes_json_with_the_required_fields(tmp_path):
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "benchmarks/bench_transfer.py", "--data-dir", str(PHOTOS),
         "--weights", str(WEIGHTS), "--per-class", "5", "--image-size", "96",
         "--fe-epochs", "1", "--ft-epochs", "1", "--repeats", "2", "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert FIELDS <= set(result)
    assert len(result["fe_runs_seconds"]) == 2 and len(result["ft_runs_seconds"]) == 2
    # the cached path computes the same model as the naive loop: at most one photo of the
    # tiny test split may land on the other side of a near-tie
    one_photo = 1 / result["n_test"] + 1e-9
    for phase in ("fe", "ft"):
        assert abs(result[f"{phase}_test_accuracy"] - result[f"naive_{phase}_test_accuracy"]) <= one_photo
        assert abs(result[f"{phase}_test_accuracy"]
                   - result[f"{phase}_test_accuracy_full_model"]) <= one_photo
    targets = result["targets"]
    assert set(targets) >= {"fe_speedup", "ft_test_accuracy", "peak_rss_mb"}
    gap = targets["fe_accuracy_gap_points"]
    assert gap["rule"] == "<= 1" and gap["met"] == (gap["value"] <= 1)
    assert "target fe_speedup" in done.stdout
