"""``train --recipe tuned`` and ``--ft-lr`` as real processes on a small photo subset."""
import json

import numpy as np
import pytest
from conftest import PHOTOS, WEIGHTS, cli_environment, run_cli

from course_utils import config, training
from course_utils.data import load_flowers
from course_utils.messages import t
from course_utils.model import build_base, load_trained
from course_utils.tuning import (
    choice_key,
    lr_text,
    mirrored_copies_text,
    mirrored_kept_text,
    mirrored_rate_text,
    percent,
)

SIZE, PER_CLASS, SEED = "96", "50", "4"  # 50 photos per class: a real validation split (not small-data mode)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    return cli_environment(tmp_path_factory.mktemp("course_home"))


@pytest.fixture(scope="module")
def tuned(env, tmp_path_factory):
    out = tmp_path_factory.mktemp("models") / "tuned.keras"
    result = run_cli(["train", "--data-dir", str(PHOTOS), "--out", str(out), "--weights", str(WEIGHTS),
                      "--image-size", SIZE, "--per-class", PER_CLASS, "--fe-epochs", "2",
                      "--recipe", "tuned", "--tune-depths", "20", "38", "--tune-lrs", "1e-4", "3e-4",
                      "--tune-epochs", "2", "--tune-patience", "1", "--seed", SEED], env)
    assert result.returncode == 0, result.stderr[-3000:]
    return out, result, json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))


def test_tuned_chooses_the_best_validation_accuracy(tuned):
    _, result, meta = tuned
    search = meta["tuning"]
    val = np.array(search["val_accuracy"])
    assert search["depths"] == [20, 38] and search["learning_rates"] == [1e-4, 3e-4]
    keys = {choice_key(round(val[i, j] * search["n_val"]), d, search["best_epoch"][i][j], j): (d, lr)
            for i, d in enumerate(search["depths"]) for j, lr in enumerate(search["learning_rates"])}
    depth, lr = keys[min(keys)]
    assert (search["best"]["depth"], search["best"]["learning_rate"]) == (depth, lr)
    assert search["best_val_accuracy"] == val.max()
    assert (meta["unfreeze"], meta["ft_learning_rate"]) == (depth, lr)
    # what it printed: every run's best validation accuracy, then the choice and why
    i, j = search["depths"].index(depth), search["learning_rates"].index(lr)
    for a, d in enumerate(search["depths"]):
        for b, rate in enumerate(search["learning_rates"]):
            line = t("tuning.run_line", depth=d, lr=lr_text(rate), acc=percent(val[a, b]),
                     epoch=search["best_epoch"][a][b], epochs=search["epochs_run"][a][b],
                     seconds="", why="")
            assert line.split(" (")[0] in result.stdout
    chosen = t("tuning.describe_best", depth=depth, lr=lr_text(lr), acc=percent(val[i, j]),
               hits=round(val[i, j] * search["n_val"]), n=search["n_val"], epoch=search["best_epoch"][i][j])
    assert chosen in result.stdout
    assert t("cli.tuned_done", depth=depth, lr=lr_text(lr), seconds=search["search_seconds"]) in result.stdout
    assert result.stdout.count("zbiorze testowym:") == 1  # the test split: once, at the end
    assert result.stdout.index(chosen) < result.stdout.index("zbiorze testowym:")
    assert "Traceback" not in result.stderr


def test_tuned_model_is_the_mirrored_run_of_the_choice(tuned):
    """By default the choice is trained again on the photos and their mirror images: the saved model
    reaches that run's best validation accuracy; its test accuracy is the one printed."""
    out, result, meta = tuned
    model, _ = load_trained(out)
    data = load_flowers(PHOTOS, image_size=int(SIZE), per_class=int(PER_CLASS), seed=int(SEED))
    final = meta["tuning"]["final"]
    assert final["mirrored"] and meta["final_run"] == "mirrored"
    assert (final["depth"], final["learning_rate"]) == (meta["unfreeze"], meta["ft_learning_rate"])
    curve = final["history"]["val_accuracy"]
    assert final["crops"] == config.TUNE_MIRROR_CROPS
    assert final["n_train"] == (2 + final["crops"]) * len(data.y_train) and meta["ft_epochs"] == final["kept_epoch"]
    assert final["keep_last"] is config.TUNE_MIRROR_KEEP_LAST
    assert final["kept_epoch"] == (len(curve) if final["keep_last"] else int(np.argmax(curve)) + 1)
    assert final["val_accuracy"] == curve[final["kept_epoch"] - 1]
    val = training.evaluate_cached(model, data, "val")
    test = training.evaluate_cached(model, data, "test")
    assert val["accuracy"] == pytest.approx(final["val_accuracy"], abs=1e-6)
    assert t("tuning.describe_mirrored", acc=percent(final["val_accuracy"]), epoch=final["kept_epoch"],
             epochs=final["epochs_run"], n=final["n_train"], seconds=f"{final['seconds']:.0f}",
             search=percent(meta["tuning"]["best_val_accuracy"]), rate=mirrored_rate_text(final),
             kept=mirrored_kept_text(final), copies=mirrored_copies_text(final)) in result.stdout
    assert final["decay"] is True and final["learning_rates"][-1] == pytest.approx(0, abs=1e-12)
    assert test["accuracy"] == pytest.approx(meta["test_accuracy"], abs=1e-6)
    assert t("cli.test_accuracy", acc=f"{100 * test['accuracy']:.1f}%", n=test["n"]) in result.stdout


def test_ft_lr_reaches_the_optimizer(env, tmp_path):
    """``--ft-lr 1e-7`` trains with 1e-7: the sidecar reads it back, and the weights moved by about that.

    Adam moves a weight by about the learning rate in each step (Kingma & Ba, section 2.1), so
    one epoch on 40 photos (2 steps) moves block_16's kernel by about 2e-7 at 1e-7; the source's
    1e-5, used if the option were lost, by about 2e-5 (measured: 2.4e-7 and 2.0e-5 at most).
    """
    out = tmp_path / "ft.keras"
    result = run_cli(["train", "--data-dir", str(PHOTOS), "--out", str(out), "--weights", str(WEIGHTS),
                      "--image-size", SIZE, "--per-class", "8", "--fe-epochs", "1", "--ft-epochs", "1",
                      "--unfreeze", "20", "--ft-lr", "1e-7", "--seed", SEED], env)
    assert result.returncode == 0, result.stderr[-3000:]
    meta = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert meta["ft_learning_rate"] == pytest.approx(1e-7)  # read back from the optimizer that trained
    model, _ = load_trained(out)
    layer = "block_16_project"
    before = build_base(int(SIZE), str(WEIGHTS)).get_layer(layer).get_weights()[0]
    moved = float(np.max(np.abs(model.get_layer(layer).get_weights()[0] - before)))
    assert 5e-8 < moved < 1e-6, moved


@pytest.mark.parametrize("extra, key, fields", [
    (["--ft-lr", "0"], "cli.bad_lr", {"option": "--ft-lr", "value": "0"}),
    (["--ft-lr=-1e-4"], "cli.bad_lr", {"option": "--ft-lr", "value": "-1e-4"}),
    (["--ft-lr", "abc"], "cli.bad_lr", {"option": "--ft-lr", "value": "abc"}),
    (["--ft-lr", "nan"], "cli.bad_lr", {"option": "--ft-lr", "value": "nan"}),
    (["--recipe", "tuned", "--ft-lr", "1e-4"], "cli.ft_lr_tuned", {}),
    (["--recipe", "tuned", "--tune-lrs", "1e-4", "0"], "cli.bad_lr", {"option": "--tune-lrs", "value": "0"}),
    (["--recipe", "tuned", "--tune-depths", "20", "x"], "cli.bad_int_option",
     {"option": "--tune-depths", "value": "x", "minimum": 1}),
    (["--recipe", "tuned", "--tune-epochs", "0"], "cli.bad_int_option",
     {"option": "--tune-epochs", "value": "0", "minimum": 1}),
    (["--tune-depths", "20"], "cli.tune_needs_tuned", {"option": "--tune-depths"}),
    (["--augment"], "cli.tune_needs_tuned", {"option": "--augment"}),
    (["--no-mirror"], "cli.tune_needs_tuned", {"option": "--no-mirror"}),
    (["--recipe", "tuned", "--augment", "--no-mirror"], "cli.augment_no_mirror", {}),
    (["--recipe", "tuned", "--fe-epochs", "0"], "tuning.untrained_head", {}),
    (["--recipe", "tuned", "--per-class", "8"], "cli.tuned_small", {"n": 8, "threshold": 50}),
])
def test_bad_values_are_one_polish_line(env, tmp_path, extra, key, fields):
    result = run_cli(["train", "--data-dir", str(PHOTOS), "--out", str(tmp_path / "m.keras"),
                      "--weights", str(WEIGHTS), "--image-size", SIZE, *extra], env)
    assert result.returncode == 2
    assert result.stderr.strip() == "❌ " + t(key, **fields)
    assert not (tmp_path / "m.keras").exists()


def test_out_of_range_depth_is_the_engine_message(env, tmp_path):
    """A depth the base does not have stops the command before any training, with the engine's message."""
    result = run_cli(["train", "--data-dir", str(PHOTOS), "--out", str(tmp_path / "m.keras"),
                      "--weights", str(WEIGHTS), "--image-size", SIZE, "--per-class", PER_CLASS,
                      "--fe-epochs", "1", "--recipe", "tuned", "--tune-depths", "500"], env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == "❌ " + t("tuning.bad_depth", value=500, max=154)
    assert "Traceback" not in result.stderr
    assert t("cli.fe_done", acc="", epochs=1, seconds=0).split(":")[0] not in result.stdout  # nothing trained



@pytest.mark.parametrize("flags, mirror, augment", [
    ([], True, False), (["--no-mirror"], False, False), (["--augment"], False, True)])
def test_final_run_options(flags, mirror, augment):
    """What --recipe tuned trains after the search: the mirrored run (default), none, or the augmented one."""
    from course_utils import cli
    from course_utils.config import get_settings

    args = cli.build_parser().parse_args(["train", "--data-dir", "d", "--out", "m.keras",
                                          "--recipe", "tuned", *flags])
    _, tune = cli._recipe_args(args, get_settings())
    assert (tune["mirror"], tune["augment"]) == (mirror, augment)


@pytest.mark.parametrize("fast", [False, True])
def test_tuned_grid_defaults(fast):
    """Full settings search the recipe's grid (not lesson 06's wider one); fast mode the fast grid."""
    from course_utils import cli, config
    from course_utils.config import get_settings

    args = cli.build_parser().parse_args(["train", "--data-dir", "d", "--out", "m.keras", "--recipe", "tuned"])
    _, tune = cli._recipe_args(args, get_settings(fast=fast))
    want = ((config.TUNE_FAST_DEPTHS, config.TUNE_FAST_LEARNING_RATES) if fast
            else ((20, 38), (1e-4, 3e-4)))
    assert (tuple(tune["depths"]), tuple(tune["learning_rates"])) == want
    assert want != (config.TUNE_DEPTHS, config.TUNE_LEARNING_RATES)
