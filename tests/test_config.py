from course_utils.config import get_settings
from course_utils.errors import CourseError
import pytest


def test_fast_mode_shrinks_everything(monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "1")
    fast = get_settings()
    monkeypatch.setenv("COURSE_FAST", "0")
    monkeypatch.delenv("CI", raising=False)
    full = get_settings()
    assert (fast.image_size, fast.per_class) == (96, 20)
    assert (full.image_size, full.per_class) == (224, None)
    assert fast.fe_epochs < full.fe_epochs and fast.ft_epochs < full.ft_epochs


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


@pytest.mark.parametrize("name,value", [("COURSE_IMAGE_SIZE", "duży"), ("COURSE_FAST", "może")])
def test_bad_variable_gives_one_line_message(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(CourseError, match=name) as err:
        get_settings()
    assert "\n" not in str(err.value)


def test_setup_report_names_sources_and_mode(monkeypatch, tmp_path):
    from course_utils.config import describe_setup

    monkeypatch.setenv("COURSE_FAST", "1")
    monkeypatch.setenv("COURSE_WEIGHTS", str(tmp_path / "missing.h5"))
    report = describe_setup()
    assert "tensorflow: 2." in report and "SZYBKI" in report
    assert "missing.h5 (BRAK" in report
    assert "flower_photos (jest" in report


@pytest.mark.parametrize("name,value", [("COURSE_PER_CLASS", "-5"), ("COURSE_CACHE_MB", "0")])
def test_out_of_range_numbers_are_refused(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(CourseError, match=f"{name}={value} musi być liczbą co najmniej"):
        get_settings()
