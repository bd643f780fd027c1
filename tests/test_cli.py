"""``python -m course_utils train`` / ``predict`` as real subprocesses on a tiny photo folder."""
import json
import shutil

import numpy as np
import pytest
from conftest import PHOTOS, WEIGHTS, cli_environment, run_cli
from scipy.stats import binomtest

from course_utils.messages import t

run = run_cli


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    return cli_environment(tmp_path_factory.mktemp("course_home"))


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory):
    """10 real photos per class (8 train / 1 val / 1 test), copied into tmp."""
    root = tmp_path_factory.mktemp("photos") / "flower_photos"
    for folder in sorted(p for p in PHOTOS.iterdir() if p.is_dir()):
        (root / folder.name).mkdir(parents=True)
        for photo in sorted(folder.glob("*.jpg"))[:10]:
            shutil.copy(photo, root / folder.name / photo.name)
    return root


@pytest.fixture(scope="module")
def trained(photo_dir, env, tmp_path_factory):
    out = tmp_path_factory.mktemp("models") / "flowers.keras"
    result = run(["train", "--data-dir", str(photo_dir), "--out", str(out),
                  "--weights", str(WEIGHTS), "--image-size", "96", "--per-class", "10",
                  "--fe-epochs", "1", "--ft-epochs", "1", "--seed", "1"], env)
    assert result.returncode == 0, result.stderr[-3000:]
    return out, result


def test_train_saves_model_and_sidecar(trained):
    out, result = trained
    assert out.is_file()
    meta = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert meta["class_names"] == ["daisy", "dandelion", "roses", "sunflowers", "tulips"]
    assert meta["image_size"] == 96
    # 10 photos per class: small-data mode (k-fold estimate, final model on all photos)
    assert meta["test_accuracy"] is None
    assert meta["kfold_photos"] == 50
    hits = round(meta["kfold_accuracy"] * 50)
    assert meta["kfold_accuracy"] == pytest.approx(hits / 50)  # a share of whole photos
    wilson = binomtest(hits, 50).proportion_ci(method="wilson")
    assert meta["kfold_interval"] == pytest.approx([wilson.low, wilson.high], abs=1e-3)
    assert "walidacji krzyżowej" in result.stdout
    assert "Traceback" not in result.stderr


def test_predict_good_and_bad_photos(trained, photo_dir, env, tmp_path):
    out, _ = trained
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\x00garbage, not a JPEG" * 50)
    good = [sorted((photo_dir / c).glob("*.jpg"))[0] for c in ("roses", "daisy")]
    result = run(["predict", str(out), str(good[0]), str(bad), str(good[1])], env)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert [row["path"] for row in rows] == [str(good[0]), str(bad), str(good[1])]
    assert "broken.jpg" in rows[1]["error"]
    expected = in_process_probabilities(out, good)
    for row, probs in zip((rows[0], rows[2]), expected):
        assert list(row["probabilities"]) == ["daisy", "dandelion", "roses", "sunflowers", "tulips"]
        assert list(row["probabilities"].values()) == pytest.approx(list(probs), abs=1e-4)
        assert row["class"] == max(row["probabilities"], key=row["probabilities"].get)


def in_process_probabilities(path, photos):
    """The saved model's probabilities for some photos, computed here as lesson 07 does."""
    import keras

    from course_utils.data import read_photo
    from course_utils.model import load_trained

    model, _ = load_trained(path)
    size = model.input_shape[1]
    batch = keras.applications.mobilenet_v2.preprocess_input(
        np.stack([read_photo(p, size) for p in photos]).astype("float32"))
    return model.predict(batch, verbose=0)


def test_predict_all_good_exits_zero(trained, photo_dir, env):
    out, _ = trained
    photo = sorted((photo_dir / "tulips").glob("*.jpg"))[0]
    result = run(["predict", str(out), str(photo)], env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip())["path"] == str(photo)


def test_missing_model_is_one_line_exit_2(env, tmp_path):
    result = run(["predict", str(tmp_path / "nope.keras"), "x.jpg"], env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.strip() == "❌ " + t("cli.model_missing", path=tmp_path / "nope.keras")


def test_missing_data_dir_is_one_line_exit_2(env, tmp_path):
    result = run(["train", "--data-dir", str(tmp_path / "missing"), "--out",
                  str(tmp_path / "m.keras"), "--weights", str(WEIGHTS)], env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "missing" in result.stderr
