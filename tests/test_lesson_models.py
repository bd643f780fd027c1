"""Models shared between lessons: loaded when saved, trained on the fast path when not."""
import numpy as np

from course_utils import training
from course_utils.data import load_flowers
from course_utils.messages import t
from course_utils.model import count_params, lesson_model_path


def missing(lesson, name):
    return t("training.lesson_model_missing", lesson=lesson, path=lesson_model_path(name))


def test_fine_tuned_model_is_trained_once_then_loaded(small_photo_dir, capsys):
    data = load_flowers(small_photo_dir, image_size=96)
    model, base, history = training.load_or_train_ft_model(data, verbose=0)
    lines = capsys.readouterr().out.splitlines()
    # both were missing and trained: lesson 06's model starts from lesson 05's
    assert missing("06", training.FT_LESSON) in lines and missing("05", training.FE_LESSON) in lines
    assert lesson_model_path(training.FE_LESSON).is_file() and lesson_model_path(training.FT_LESSON).is_file()
    assert set(history) >= {"accuracy", "val_accuracy", "loss", "val_loss"}
    assert count_params(model).trainable == 1_201_285  # last 20 layers, BatchNorm frozen

    again, base2, history2 = training.load_or_train_ft_model(data, verbose=0)
    loaded = t("training.lesson_model_loaded", lesson="06", path=lesson_model_path(training.FT_LESSON))
    assert capsys.readouterr().out.splitlines() == [loaded]
    x = next(iter(data.dataset("test")))[0]
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
    assert history2 == {k: [float(v) for v in vals] for k, vals in history.items()}
    assert len(base2.layers) == len(base.layers) == 154


def test_saved_model_of_another_size_is_not_reused(small_photo_dir, capsys):
    training.load_or_train_fe_model(load_flowers(small_photo_dir, image_size=96), verbose=0)
    capsys.readouterr()
    model, _, _ = training.load_or_train_fe_model(load_flowers(small_photo_dir, image_size=128),
                                                  verbose=0)
    assert missing("05", training.FE_LESSON) in capsys.readouterr().out.splitlines()
    assert model.input_shape[1] == 128
