"""The benchmark scripts, run in-process on a tiny subset: their JSON, targets and summaries.

Timings are never asserted here; the checks compare what the scripts write with values
computed independently (the cached path against the naive loop and the full model, the
summary against its rows, the interval against scipy).
"""
import json
import sys

import numpy as np
import pytest
from conftest import REPO
from scipy.stats import binomtest

sys.path.insert(0, str(REPO / "benchmarks"))
import bench_accuracy  # noqa: E402
import bench_transfer  # noqa: E402

FIELDS = {"fe_speedup", "ft_speedup", "fe_test_accuracy", "ft_test_accuracy",
          "naive_fe_test_accuracy", "naive_ft_test_accuracy", "full_pipeline_seconds",
          "peak_rss_mb", "one_forward_pass_seconds", "targets"}
TINY = ["--per-class", "5", "--image-size", "96", "--fe-epochs", "1", "--ft-epochs", "1"]


def test_check_targets_computes_gaps_and_applies_each_rule():
    results = {"fe_speedup": 8.0, "ft_speedup": 2.9, "fe_test_accuracy": 0.91, "naive_fe_test_accuracy": 0.925,
               "ft_test_accuracy": 0.94, "naive_ft_test_accuracy": 0.935, "peak_rss_mb": 3e9 / 2**20,
               "full_pipeline_seconds": 179.0}
    checked = bench_transfer.check_targets(results)
    assert checked["fe_accuracy_gap_points"]["value"] == pytest.approx(1.5)
    assert checked["ft_accuracy_gap_points"]["value"] == pytest.approx(0.5)
    met = {name: target["met"] for name, target in checked.items()}
    assert met == {"fe_speedup": True, "ft_speedup": False, "fe_accuracy_gap_points": False,
                   "ft_accuracy_gap_points": True, "full_pipeline_seconds": True, "peak_rss_mb": False,
                   "fe_test_accuracy": True, "ft_test_accuracy": True}
    assert "fe_vs_one_forward_pass" not in checked  # not measured, not judged


def test_summarize_is_the_mean_minimum_and_maximum_of_the_rows():
    rows = [{"fe": {"test": 0.5}}, {"fe": {"test": 0.75}}, {"fe": {"test": 1.0}}]
    assert bench_accuracy.summarize(rows, "fe") == {"mean": 0.75, "min": 0.5, "max": 1.0}


def test_transfer_benchmark_cached_path_matches_the_naive_loop(photos_dir, weights_path, tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert bench_transfer.main(["--data-dir", str(photos_dir), "--weights", str(weights_path), *TINY,
                                "--repeats", "2", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert FIELDS <= set(result)
    assert len(result["fe_runs_seconds"]) == 2 and len(result["ft_runs_seconds"]) == 2
    assert result["n_train"] + result["n_val"] + result["n_test"] == 5 * 5  # 5 photos of each class
    # the cached path computes the same model as the naive loop: at most one photo of the
    # tiny test split may land on the other side of a near-tie
    one_photo = 1 / result["n_test"] + 1e-9
    for phase in ("fe", "ft"):
        assert abs(result[f"{phase}_test_accuracy"] - result[f"naive_{phase}_test_accuracy"]) <= one_photo
        assert abs(result[f"{phase}_test_accuracy"] - result[f"{phase}_test_accuracy_full_model"]) <= one_photo
    assert result["targets"] == bench_transfer.check_targets(result)
    assert result["fe_speedup"] == pytest.approx(result["naive_fe_seconds"] / result["fe_seconds"])
    assert "target fe_speedup" in capsys.readouterr().out


def test_accuracy_benchmark_reports_every_seed_and_phase(photos_dir, weights_path, tmp_path):
    out = tmp_path / "accuracy.json"
    result = bench_accuracy.main(["--data-dir", str(photos_dir), "--weights", str(weights_path),
                                  "--seeds", "7", "--ft-lrs", "1e-5", "1e-4", *TINY, "--out", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    assert [row["seed"] for row in result["runs"]] == [7]
    phases = {"fe", "ft_lr_1e-05", "ft_lr_0.0001"}
    assert set(result["summary"]) == phases
    for phase in phases:
        tests = [row[phase]["test"] for row in result["runs"]]
        assert result["summary"][phase] == pytest.approx(
            {"mean": np.mean(tests), "min": min(tests), "max": max(tests)})
        for row in result["runs"]:
            hits = round(row[phase]["test"] * row["n_test"])
            assert hits == pytest.approx(row[phase]["test"] * row["n_test"])  # a share of whole photos
            wilson = binomtest(hits, row["n_test"]).proportion_ci(method="wilson")
            assert row[phase]["test_interval_95"] == pytest.approx([wilson.low, wilson.high], abs=1e-3)
