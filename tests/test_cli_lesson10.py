"""The command line's lesson-10 rules as real subprocesses: minimums, small-data mode, export."""
import json
import shutil

import numpy as np
import pytest
from conftest import PHOTOS, WEIGHTS, cli_environment, run_cli

run = run_cli


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    return cli_environment(tmp_path_factory.mktemp("course_home"))


def _folder(root, counts):
    for c, n in counts.items():
        (root / c).mkdir(parents=True)
        for p in sorted((PHOTOS / c).glob("*.jpg"))[:n]:
            shutil.copy(p, root / c / p.name)
    return root


@pytest.mark.parametrize("counts, fragment", [
    ({"daisy": 6}, "co najmniej 2 klas"),
    ({"daisy": 6, "roses": 3}, "Klasa 'roses' ma 3 zdjęcia"),
])
def test_train_refuses_too_little_data(tmp_path, env, counts, fragment):
    root = _folder(tmp_path / "photos", counts)
    result = run(["train", "--data-dir", str(root), "--out", str(tmp_path / "m.keras")], env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], result.stderr
    assert not (tmp_path / "m.keras").exists()


@pytest.fixture(scope="module")
def small_model(tmp_path_factory, env):
    root = _folder(tmp_path_factory.mktemp("small") / "photos", {"daisy": 6, "tulips": 6})
    out = tmp_path_factory.mktemp("models") / "own.keras"
    result = run(["train", "--data-dir", str(root), "--out", str(out), "--weights", str(WEIGHTS),
                  "--image-size", "96", "--fe-epochs", "2", "--seed", "1"], env)
    assert result.returncode == 0, result.stderr[-3000:]
    return root, out, result


def test_small_data_mode(small_model):
    _, out, result = small_model
    meta = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert meta["class_names"] == ["daisy", "tulips"]
    assert meta["test_accuracy"] is None and meta["kfold_photos"] == 12
    low, high = meta["kfold_interval"]
    assert 0 <= low <= meta["kfold_accuracy"] <= high <= 1
    assert meta["steps"] >= 300  # the config's minimum, not 2 epochs x 1 batch
    assert "walidacji krzyżowej" in result.stdout and "wszystkich zdjęciach (12" in result.stdout


def test_export_command(small_model, env, tmp_path):
    root, out, _ = small_model
    target = tmp_path / "phone" / "own.tflite"
    result = run(["export", str(out), "--format", "tflite", "--out", str(target)], env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert target.is_file() and "96×96" in result.stdout
    assert (tmp_path / "phone" / "own.labels.txt").read_text(encoding="utf-8").split() == ["daisy", "tulips"]
    from course_utils.data import read_photo
    from course_utils.export import tflite_predict

    photos = [sorted((PHOTOS / c).glob("*.jpg"))[-1] for c in ("daisy", "tulips")]
    predicted = run(["predict", str(out), *map(str, photos)], env)
    rows = [json.loads(line) for line in predicted.stdout.splitlines()]
    lite = tflite_predict(target, np.stack([read_photo(p, 96) for p in photos]))
    for row, probs in zip(rows, lite):
        keras_probs = np.array([row["probabilities"][c] for c in ("daisy", "tulips")])
        assert np.abs(keras_probs - probs).max() < 1e-3


def test_export_bad_format_and_suffix(small_model, env, tmp_path):
    _, out, _ = small_model
    result = run(["export", str(out), "--format", "onnx", "--out", str(tmp_path / "x.tflite")], env)
    assert result.returncode == 2 and "tflite" in result.stderr
    result = run(["export", str(out), "--out", str(tmp_path / "x.bin")], env)
    assert result.returncode == 2 and ".tflite" in result.stderr


def test_enough_photos_keep_the_test_split(tmp_path, env):
    root = _folder(tmp_path / "photos", {"daisy": 50, "roses": 50})
    out = tmp_path / "m.keras"
    result = run(["train", "--data-dir", str(root), "--out", str(out), "--weights", str(WEIGHTS),
                  "--image-size", "96", "--fe-epochs", "1", "--ft-epochs", "1", "--seed", "1"], env)
    assert result.returncode == 0, result.stderr[-3000:]
    meta = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert 0 <= meta["test_accuracy"] <= 1 and "kfold_accuracy" not in meta
    assert "Dokładność na zbiorze testowym" in result.stdout
