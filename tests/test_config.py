"""Settings from the environment, the defaults in one place, and lesson 00's setup report (no photos needed)."""
from importlib.metadata import version
from pathlib import Path

import pytest
from conftest import REPO

from course_utils import config
from course_utils.config import describe_setup, get_settings, offline_assets
from course_utils.errors import CourseError
from course_utils.messages import t


def test_fast_mode_shrinks_everything(monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "1")
    fast = get_settings()
    monkeypatch.setenv("COURSE_FAST", "0")
    monkeypatch.delenv("CI", raising=False)
    full = get_settings()
    assert (fast.image_size, fast.per_class, fast.fe_epochs, fast.ft_epochs) == (96, 20, 10, 2)
    assert (full.image_size, full.per_class, full.fe_epochs, full.ft_epochs) == (224, None, 10, 10)


def test_settings_take_the_module_defaults(monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "0")
    monkeypatch.delenv("CI", raising=False)
    s = get_settings()
    # the source's recipe: batch 32, last 20 layers, Adam 1e-3 for the head and 1e-5 for fine-tuning, seed 42
    assert (s.batch_size, s.unfreeze_last, s.head_lr, s.fine_tune_lr, s.seed) == (32, 20, 1e-3, 1e-5, 42)
    assert (s.batch_size, s.unfreeze_last, s.head_lr, s.fine_tune_lr, s.seed, s.split_ratios, s.cache_mb) == (
        config.BATCH_SIZE, config.UNFREEZE_LAST, config.HEAD_LR, config.FINE_TUNE_LR, config.SEED,
        config.SPLIT_RATIOS, config.CACHE_MB)
    assert sum(config.SPLIT_RATIOS) == pytest.approx(1.0)


def test_offline_assets_lie_in_shared_beside_the_repo(tmp_path):
    photos, weights = offline_assets(tmp_path / "repo")
    assert photos == tmp_path / "shared" / "data" / "flower_photos"
    assert weights == tmp_path / "shared" / "models" / "mobilenet_v2_1.0_224_imagenet_no_top.h5"
    assert offline_assets(REPO)[0] == (REPO.parent / "shared" / "data" / "flower_photos").resolve()


def test_offline_assets_come_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("COURSE_WEIGHTS", str(tmp_path / "w.h5"))
    s = get_settings()
    assert s.data_dir == tmp_path and s.weights == str(tmp_path / "w.h5")
    monkeypatch.delenv("COURSE_DATA_DIR")
    monkeypatch.delenv("COURSE_WEIGHTS")
    s = get_settings()
    assert s.data_dir is None and s.weights == "imagenet"
    assert s.data_source == "TFDS tf_flowers"


def test_progress_file_defaults_to_course_home(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_HOME", str(tmp_path))
    monkeypatch.delenv("COURSE_PROGRESS_FILE")
    assert get_settings().progress_file == tmp_path / "progress.json"


@pytest.mark.parametrize("name, value, key", [("COURSE_IMAGE_SIZE", "duży", "config.bad_int"),
                                              ("COURSE_FAST", "może", "config.bad_flag")])
def test_bad_variable_gives_one_line_message(monkeypatch, name, value, key):
    monkeypatch.setenv(name, value)
    with pytest.raises(CourseError) as err:
        get_settings()
    assert str(err.value) == t(key, name=name, value=value)


def test_setup_report_names_sources_and_mode(monkeypatch, tmp_path):
    photos = tmp_path / "flower_photos"
    photos.mkdir()
    monkeypatch.setenv("COURSE_FAST", "1")
    monkeypatch.setenv("COURSE_DATA_DIR", str(photos))
    monkeypatch.setenv("COURSE_WEIGHTS", str(tmp_path / "missing.h5"))
    lines = describe_setup().splitlines()
    assert f"  tensorflow: {version('tensorflow')}" in lines
    assert t("config.report_data_dir", path=photos, state=t("config.ok")) in lines
    assert t("config.report_weights_file", path=tmp_path / "missing.h5", state=t("config.missing")) in lines
    assert t("config.report_mode", mode=t("config.mode_fast"), size=96, per_class=20, fe=10, ft=2) in lines


def test_setup_report_without_offline_assets(monkeypatch):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.delenv("COURSE_WEIGHTS", raising=False)
    lines = describe_setup().splitlines()
    assert t("config.report_data_tfds") in lines and t("config.report_weights_download") in lines


@pytest.mark.parametrize("name, value, minimum", [("COURSE_PER_CLASS", "-5", 0), ("COURSE_CACHE_MB", "0", 1)])
def test_out_of_range_numbers_are_refused(monkeypatch, name, value, minimum):
    monkeypatch.setenv(name, value)
    with pytest.raises(CourseError) as err:
        get_settings()
    assert str(err.value) == t("config.too_small", name=name, value=value, minimum=minimum)


def test_config_is_imported_without_tensorflow():
    import subprocess
    import sys

    code = "import sys, course_utils.config; print('tensorflow' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(REPO))
    assert done.stdout.strip() == "False", done.stderr[-2000:]
