"""The benchmark scripts run end to end on a tiny subset and write their JSON fields.

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


def test_accuracy_benchmark_reports_every_seed_and_phase(tmp_path):
    out = tmp_path / "accuracy.json"
    done = subprocess.run(
        [sys.executable, "benchmarks/bench_accuracy.py", "--data-dir", str(PHOTOS),
         "--weights", str(WEIGHTS), "--seeds", "42", "7", "--ft-lrs", "1e-5", "1e-4",
         "--per-class", "5", "--image-size", "96", "--fe-epochs", "1", "--ft-epochs", "1",
         "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert [row["seed"] for row in result["runs"]] == [42, 7]
    phases = {"fe", "ft_lr_1e-05", "ft_lr_0.0001"}
    assert set(result["summary"]) == phases
    for phase in phases:
        tests = [row[phase]["test"] for row in result["runs"]]
        summary = result["summary"][phase]
        assert summary["min"] == min(tests) and summary["max"] == max(tests)
        assert summary["min"] <= summary["mean"] <= summary["max"]
        for row in result["runs"]:
            low, high = row[phase]["test_interval_95"]
            assert 0 <= low <= row[phase]["test"] <= high <= 1
    assert "ft_lr_1e-05: test mean" in done.stdout
