"""benchmarks/bench_small_data.py in-process on a tiny subset: its picks, rows and summary (no timings)."""
import json
import sys

import numpy as np
import pytest
from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import bench_small_data  # noqa: E402


def test_pick_is_seeded_and_keeps_new_photos_apart(photos_dir):
    a = bench_small_data.pick(photos_dir, ["daisy", "roses"], 5, 4, seed=3)
    b = bench_small_data.pick(photos_dir, ["daisy", "roses"], 5, 4, seed=3)
    assert a == b
    train, new = a
    for c in ("daisy", "roses"):
        assert len(train[c]) == 5 and len(new[c]) == 4 and not set(train[c]) & set(new[c])
        assert all(p.parent.name == c for p in train[c] + new[c])


def test_tiny_run_writes_consistent_json(photos_dir, weights_path, tmp_path, monkeypatch):
    # the benchmark clears fast mode and moves COURSE_HOME: let monkeypatch put them back afterwards
    for name in ("COURSE_FAST", "CI", "COURSE_PER_CLASS", "COURSE_IMAGE_SIZE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COURSE_HOME", str(tmp_path / "home"))
    out = tmp_path / "small.json"
    result = bench_small_data.main(["--data-dir", str(photos_dir), "--weights", str(weights_path),
                                    "--classes", "daisy", "tulips", "--per-class", "5", "--new-per-class", "3",
                                    "--seeds", "7", "--out", str(out)])
    assert json.loads(out.read_text(encoding="utf-8"))["runs"][0]["seed"] == 7
    row = result["runs"][0]
    assert row["new_photos"] == 6 and row["kfold_k"] == 5 and row["steps"] >= 300
    assert row["new_accuracy"] * 6 == pytest.approx(round(row["new_accuracy"] * 6))  # a share of 6 photos
    low, high = row["kfold_interval"]
    assert low <= row["kfold_accuracy"] <= high
    assert row["tflite_photos"] == 16 and row["tflite_max_abs_diff"] < 1e-3
    assert result["new_accuracy"] == {"mean": row["new_accuracy"], "min": row["new_accuracy"],
                                      "max": row["new_accuracy"]}
    assert np.isclose(result["tflite_agreement"]["mean"], row["tflite_agreement"])
