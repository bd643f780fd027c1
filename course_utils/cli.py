"""Headless commands: train a flower classifier and classify photos with it.

::

    python -m course_utils train --data-dir DIR --out MODEL.keras [--weights PATH|imagenet]
        [--image-size N] [--per-class N] [--fe-epochs N] [--ft-epochs N] [--unfreeze N]
        [--recipe source|tuned] [--ft-lr LR] [--tune-depths N ...] [--tune-lrs LR ...]
        [--tune-epochs N] [--tune-patience N] [--augment | --no-mirror] [--seed N] [--fast]
    python -m course_utils predict MODEL.keras PHOTO [PHOTO ...]
    python -m course_utils export MODEL.keras --format tflite --out MODEL.tflite

``train`` runs feature extraction then fine-tuning through the cached paths of
:mod:`course_utils.training`, prints the test accuracy and saves the model with
a JSON sidecar (``MODEL.json``: class names, image size, accuracy).
``--recipe source`` (the default) fine-tunes as the lessons do (the last ``--unfreeze``
layers at ``--ft-lr``, default the source's 1e-5); ``--recipe tuned`` runs
:func:`course_utils.tuning.search_fine_tuning` (depth x learning rate chosen on the
validation split over config's ``TUNE_RECIPE_*`` grid), prints what it chose and why, trains
the choice again on the training photos plus their mirror images, its learning rate falling
to 0 along half a cosine (``TUNE_MIRROR``, ``TUNE_MIRROR_DECAY``;
``--no-mirror`` keeps the search's run, ``--augment`` trains it with lesson 05's augmentation
instead) and saves the search in the sidecar (``tuning``); the test split is evaluated once,
at the end.
``predict`` prints one JSON object per photo per line; a photo that cannot be
read gets ``{"path": ..., "error": ...}`` and the exit code is 1 at the end.
``train`` needs at least 2 classes and 5 photos per class; when the smallest class has
fewer than 50 photos it estimates the accuracy by k-fold cross-validation on the cached
features and trains the final head on all photos (at least ``SMALL_DATA_MIN_STEPS``
updates). ``export`` writes a TensorFlow Lite file that takes raw RGB pixels 0-255.
Exit codes: 0 ok, 1 some photos failed, 2 bad input (one line on stderr), 130 Ctrl+C.
"""
import argparse
import json
import sys
import time
import warnings
from pathlib import Path

from . import config
from .errors import CourseError
from .messages import photos_word, t


def sidecar_path(model_path):
    """``flowers.keras`` -> ``flowers.json`` (class names, image size, accuracy)."""
    return Path(model_path).with_suffix(".json")


def _import_tensorflow(verbose):
    """Import TensorFlow: quietly, unless ``--verbose`` asks for its own log lines."""
    if verbose:
        import tensorflow  # noqa: F401
    else:
        from .backend import import_tensorflow

        import_tensorflow()


def _percent(value):
    return "—" if value != value else f"{100 * value:.1f}%"


def _epochs_arg(name):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = -1
        if value < 0:
            raise argparse.ArgumentTypeError(t("cli.bad_epochs", name=name, value=text))
        return value
    return parse


# ---------------------------------------------------------------- train

def cmd_train(args):
    from .config import get_settings

    settings = get_settings(fast=True if args.fast else None)
    image_size = args.image_size or settings.image_size
    per_class = settings.per_class if args.per_class is None else args.per_class
    fe_epochs = settings.fe_epochs if args.fe_epochs is None else args.fe_epochs
    ft_epochs = settings.ft_epochs if args.ft_epochs is None else args.ft_epochs
    unfreeze = settings.unfreeze_last if args.unfreeze is None else args.unfreeze
    weights = args.weights or settings.weights
    seed = settings.seed if args.seed is None else args.seed
    out = Path(args.out)
    if out.suffix != ".keras":
        raise CourseError(t("cli.bad_out", path=out))
    ft_lr, tune = _recipe_args(args, settings)
    source = args.data_dir or settings.data_dir or "tfds"
    if source != "tfds":
        from .data import check_minimums, list_photos  # neither loads TensorFlow

        names, items, _ = list_photos(Path(source))  # a missing or empty folder fails before TensorFlow loads
        counts = [sum(1 for _, c in items if c == i) for i in range(len(names))]
        counts = [min(n, per_class) if per_class else n for n in counts]
        check_minimums(names, counts)
        _check_tuned_not_small(args, counts)

    _import_tensorflow(args.verbose)
    import keras

    from . import training
    from .data import load_flowers
    from .model import build_model, save_trained

    training.setup_accelerator()
    data = load_flowers(source, image_size=image_size, per_class=per_class or 0, seed=seed)
    from . import small_data

    counts = small_data.class_counts(data)
    small_data.check_minimums(data.class_names, counts)  # again: unreadable photos were skipped
    if small_data.is_small(counts):
        _check_tuned_not_small(args, counts)
        return _train_small(args, data, counts, fe_epochs, ft_epochs, unfreeze, weights, seed, out,
                            ft_lr)
    print(t("cli.data", summary=data.summary()), flush=True)
    keras.utils.set_random_seed(seed)
    with training.strategy_scope():  # a MirroredStrategy when there are several GPUs
        model, base = build_model(data.num_classes, image_size, weights)
    bars = 1 if args.verbose or sys.stderr.isatty() else 0
    meta = {"preprocessing": "mobilenet_v2", "seed": seed, "fe_epochs": fe_epochs,
            "ft_epochs": ft_epochs, "unfreeze": unfreeze, "source": data.source,
            "recipe": args.recipe}
    if args.recipe == "tuned":
        from .tuning import cache_depths, check_grid

        check_grid(base, tune["depths"], tune["learning_rates"])  # before minutes of training, not after
        cache_depths(model, base, data, tune["depths"], verbose=bars)  # one pass for FE and the search
    if fe_epochs:
        start = time.perf_counter()
        history = training.train_head_cached(model, data, epochs=fe_epochs, verbose=bars,
                                             base=base, cache_unfreeze=unfreeze, seed=seed)
        acc = history.history.get("val_accuracy", [float("nan")])[-1]
        print(t("cli.fe_done", acc=_percent(acc), epochs=fe_epochs,
                seconds=time.perf_counter() - start), flush=True)
    if args.recipe == "tuned":
        _train_tuned(model, base, data, tune, seed, meta)
    elif ft_epochs and unfreeze:
        start = time.perf_counter()
        history = training.fine_tune_cached(model, base, data, unfreeze=unfreeze,
                                            learning_rate=ft_lr,
                                            epochs=ft_epochs, verbose=bars, seed=seed)
        meta["ft_learning_rate"] = history.recipe.learning_rate  # read back from the optimizer
        acc = history.history.get("val_accuracy", [float("nan")])[-1]
        print(t("cli.ft_done", acc=_percent(acc), unfreeze=unfreeze, epochs=ft_epochs,
                seconds=time.perf_counter() - start), flush=True)
    if len(data.y_test):
        result = training.evaluate_cached(model, data, "test", base=base)
        meta["test_accuracy"] = result["accuracy"]
        print(t("cli.test_accuracy", acc=_percent(result["accuracy"]), n=result["n"]), flush=True)
    else:
        meta["test_accuracy"] = None
        print(t("cli.no_test"), flush=True)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        save_trained(model, out, data.class_names, **meta)
    except OSError as exc:
        raise CourseError(t("cli.out_unwritable", path=out, error=exc)) from None
    print(t("cli.saved", path=out, meta=sidecar_path(out)), flush=True)
    return 0


def _recipe_args(args, settings):
    """``(ft_lr, tune)``: the source recipe's learning rate and the tuned recipe's grid, checked
    (before TensorFlow loads: the grid's defaults come from config, as ``tuning.default_grid`` reads them)."""
    if args.recipe == "source":
        for name in ("tune_depths", "tune_lrs", "tune_epochs", "tune_patience"):
            if getattr(args, name) is not None:
                raise CourseError(t("cli.tune_needs_tuned", option="--" + name.replace("_", "-")))
        for flag in ("augment", "no_mirror"):
            if getattr(args, flag):
                raise CourseError(t("cli.tune_needs_tuned", option="--" + flag.replace("_", "-")))
    elif args.ft_lr is not None:
        raise CourseError(t("cli.ft_lr_tuned"))
    ft_lr = settings.fine_tune_lr if args.ft_lr is None else _lr_value(args.ft_lr, "--ft-lr")
    fast = settings.fast
    depths = config.TUNE_FAST_DEPTHS if fast else config.TUNE_RECIPE_DEPTHS
    rates = config.TUNE_FAST_LEARNING_RATES if fast else config.TUNE_RECIPE_LEARNING_RATES
    if args.tune_depths is not None:
        depths = tuple(_int_value(text, "--tune-depths", 1) for text in args.tune_depths)
    if args.tune_lrs is not None:
        rates = tuple(_lr_value(text, "--tune-lrs") for text in args.tune_lrs)
    max_epochs = config.TUNE_FAST_MAX_EPOCHS if fast else config.TUNE_MAX_EPOCHS
    patience = config.TUNE_FAST_PATIENCE if fast else config.TUNE_PATIENCE
    if args.augment and args.no_mirror:
        raise CourseError(t("cli.augment_no_mirror"))
    tune = {"depths": depths, "learning_rates": rates, "augment": args.augment,
            "mirror": config.TUNE_MIRROR and not args.augment and not args.no_mirror,
            "max_epochs": max_epochs if args.tune_epochs is None else _int_value(args.tune_epochs,
                                                                                 "--tune-epochs", 1),
            "patience": patience if args.tune_patience is None else _int_value(args.tune_patience,
                                                                               "--tune-patience", 1)}
    if args.recipe == "tuned" and args.fe_epochs == 0:
        raise CourseError(t("tuning.untrained_head"))
    return ft_lr, tune


def _lr_value(text, option):
    """A learning rate from the command line: a number above 0 and below 10, else one Polish line."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < 10:  # also NaN and inf
        raise CourseError(t("cli.bad_lr", option=option, value=text))
    return value


def _int_value(text, option, minimum):
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise CourseError(t("cli.bad_int_option", option=option, value=text, minimum=minimum))
    return value


def _check_tuned_not_small(args, counts):
    from .config import SMALL_DATA_PER_CLASS

    if args.recipe == "tuned" and counts and min(counts) < SMALL_DATA_PER_CLASS:
        raise CourseError(t("cli.tuned_small", n=min(counts), threshold=SMALL_DATA_PER_CLASS))


def _train_tuned(model, base, data, tune, seed, meta):
    """``--recipe tuned``: the validation search, then the choice's mirrored or augmented run (or none)."""
    from .tuning import lr_text, search_fine_tuning

    print(t("cli.tuned_start"), flush=True)
    result = search_fine_tuning(model, base, data, tune["depths"], tune["learning_rates"], seed=seed,
                                verbose=1, max_epochs=tune["max_epochs"], patience=tune["patience"],
                                augment=tune["augment"], mirror=tune["mirror"])
    depth, lr = result.best
    epochs = result.final["kept_epoch"] if result.final else int(result.best_epoch[result.best_index])
    meta.update(unfreeze=depth, ft_learning_rate=lr, ft_epochs=int(epochs), tuning=result.to_dict(),
                final_run="mirrored" if tune["mirror"] else "augmented" if tune["augment"] else "search")
    print(t("cli.tuned_done", depth=depth, lr=lr_text(lr), seconds=result.search_seconds), flush=True)
    return result


def _train_small(args, data, counts, fe_epochs, ft_epochs, unfreeze, weights, seed, out, ft_lr):
    """Few photos: k-fold estimate on cached features, then the final model on all photos."""
    import keras

    from . import small_data, training
    from .config import SMALL_DATA_PER_CLASS
    from .experiments import accuracy_interval
    from .model import build_model, save_trained

    data = small_data.merge_splits(data)
    print(t("cli.data", summary=data.summary()), flush=True)
    keras.utils.set_random_seed(seed)
    with training.strategy_scope():
        model, base = build_model(data.num_classes, data.image_size, weights)
    fe_epochs = fe_epochs or 1
    estimate = small_data.kfold_estimate(model, data, epochs=fe_epochs, seed=seed)
    print(t("own.small_mode", n=min(counts), threshold=SMALL_DATA_PER_CLASS, k=estimate.k), flush=True)
    print(estimate.describe(), flush=True)
    start = time.perf_counter()
    history = small_data.train_head(model, data, epochs=fe_epochs, seed=seed)
    print(t("own.final_done", n=photos_word(len(data.y_train)), steps=history.params["total_steps"],
            seconds=f"{time.perf_counter() - start:.1f}".replace(".", ",")), flush=True)
    if args.ft_epochs and unfreeze:
        start = time.perf_counter()
        history_ft = training.fine_tune_cached(model, base, data, unfreeze=unfreeze,
                                               learning_rate=ft_lr, epochs=ft_epochs,
                                               verbose=0, seed=seed)
        print(t("cli.ft_done", acc=_percent(float("nan")), unfreeze=unfreeze, epochs=ft_epochs,
                seconds=time.perf_counter() - start), flush=True)
        print(t("own.ft_not_estimated"), flush=True)
    else:
        ft_epochs = 0
        print(t("own.ft_skipped"), flush=True)
    low, high = accuracy_interval(estimate.accuracy, estimate.n)
    meta = {"preprocessing": "mobilenet_v2", "seed": seed, "fe_epochs": fe_epochs, "ft_epochs": ft_epochs,
            "unfreeze": unfreeze if ft_epochs else 0, "source": data.source, "test_accuracy": None,
            "kfold_accuracy": estimate.accuracy, "kfold_interval": [low, high], "kfold_k": estimate.k,
            "kfold_photos": estimate.n, "steps": history.params["total_steps"], "recipe": args.recipe}
    if ft_epochs:
        meta["ft_learning_rate"] = history_ft.recipe.learning_rate  # read back from the optimizer
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        save_trained(model, out, data.class_names, history, **meta)
    except OSError as exc:
        raise CourseError(t("cli.out_unwritable", path=out, error=exc)) from None
    print(t("cli.saved", path=out, meta=sidecar_path(out)), flush=True)
    return 0


# ---------------------------------------------------------------- export

def cmd_export(args):
    if args.format != "tflite":
        raise CourseError(t("export.bad_format", value=args.format))
    out = Path(args.out)
    if out.suffix != ".tflite":
        raise CourseError(t("export.bad_suffix", path=out))
    model, class_names, image_size = load_classifier(args.model, args.verbose)
    from .export import export_tflite

    path, labels = export_tflite(model, out, class_names)
    print(t("export.saved", path=path, mb=f"{path.stat().st_size / 2**20:.1f}", size=image_size,
            labels=labels), flush=True)
    return 0


# ---------------------------------------------------------------- predict

def load_classifier(model_path, verbose=False):
    """Load a model saved by ``train`` and its sidecar: ``(model, class_names, image_size)``."""
    model_path = Path(model_path)
    if not model_path.is_file():
        raise CourseError(t("cli.model_missing", path=model_path))
    if not sidecar_path(model_path).is_file():
        raise CourseError(t("cli.meta_missing", path=sidecar_path(model_path)))
    _import_tensorflow(verbose)
    from .model import load_trained

    model, class_names = load_trained(model_path)
    return model, class_names, int(model.input_shape[1])


def cmd_predict(args):
    from .data import preprocess, read_photo

    model, class_names, image_size = load_classifier(args.model, args.verbose)
    import numpy as np

    rows, good, images = [], [], []
    for name in args.photos:
        path = Path(name)
        if not path.is_file():
            rows.append({"path": name, "error": t("cli.photo_missing", path=name)})
            continue
        try:
            images.append(read_photo(path, image_size))
        except CourseError as exc:
            rows.append({"path": name, "error": str(exc)})
            continue
        rows.append(None)
        good.append((len(rows) - 1, name))
    if images:
        probs = np.asarray(model.predict_on_batch(preprocess(np.stack(images))))
        for (row, name), p in zip(good, probs):
            rows[row] = {"path": name, "class": class_names[int(np.argmax(p))],
                         "probabilities": {c: round(float(v), 6) for c, v in zip(class_names, p)}}
    for row in rows:
        print(json.dumps(row, ensure_ascii=False), flush=True)
    failed = sum(1 for row in rows if "error" in row)
    if failed:
        print(t("cli.failed_photos", n=failed, total=len(rows)), file=sys.stderr)
        return 1
    return 0


# ---------------------------------------------------------------- main

# ---------------------------------------------------------------- solutions

def cmd_solutions(args):
    from .solutions import write_solved

    for path, count in write_solved(args.notebooks, args.out):
        print(t("solutions.written", path=path, n=count))
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m course_utils",
                                     description="Kurs transfer learning: trening i klasyfikacja kwiatów.")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="wytrenuj klasyfikator (ekstrakcja cech + fine-tuning)")
    train.add_argument("--data-dir", help="folder flower_photos/<klasa>/*.jpg (domyślnie COURSE_DATA_DIR albo TFDS)")
    train.add_argument("--out", required=True, help="plik modelu .keras")
    train.add_argument("--weights", help="plik wag .h5 MobileNetV2 no_top albo 'imagenet'")
    train.add_argument("--image-size", type=int, help="96, 128, 160, 192 albo 224")
    train.add_argument("--per-class", type=int, help="ile zdjęć na klasę (0 = wszystkie)")
    train.add_argument("--fe-epochs", type=_epochs_arg("--fe-epochs"), help="epoki ekstrakcji cech")
    train.add_argument("--ft-epochs", type=_epochs_arg("--ft-epochs"), help="epoki fine-tuningu")
    train.add_argument("--unfreeze", type=int,
                       help=f"ile ostatnich warstw bazy odmrozić (domyślnie {config.UNFREEZE_LAST})")
    train.add_argument("--recipe", choices=("source", "tuned"), default="source",
                       help="source: przepis źródła (ostatnie --unfreeze warstw, --ft-lr); tuned: "
                            "głębokość i learning rate wybrane na zbiorze walidacyjnym")
    train.add_argument("--ft-lr", help=f"learning rate fine-tuningu w przepisie source "
                                       f"(domyślnie {config.FINE_TUNE_LR:g})")
    train.add_argument("--tune-depths", nargs="+", help="tuned: ile ostatnich warstw odmrozić, "
                       f"kilka wartości (domyślnie {' '.join(map(str, config.TUNE_RECIPE_DEPTHS))})")
    train.add_argument("--tune-lrs", nargs="+", help="tuned: learning rate, kilka wartości (domyślnie "
                       f"{' '.join(f'{x:g}' for x in config.TUNE_RECIPE_LEARNING_RATES)})")
    train.add_argument("--tune-epochs", help=f"tuned: najwięcej epok przebiegu (domyślnie {config.TUNE_MAX_EPOCHS})")
    train.add_argument("--tune-patience", help="tuned: ile epok bez poprawy na walidacji kończy przebieg "
                       f"(domyślnie {config.TUNE_PATIENCE})")
    train.add_argument("--augment", action="store_true",
                       help="tuned: wybraną konfigurację wytrenuj jeszcze raz z augmentacją (wolniej)")
    train.add_argument("--no-mirror", action="store_true",
                       help="tuned: bez ponownego treningu wybranej konfiguracji na zdjęciach i ich lustrzanych "
                            "odbiciach (zostają wagi z przeszukiwania)")
    train.add_argument("--seed", type=int)
    train.add_argument("--fast", action="store_true",
                       help=f"tryb szybki: {config.FAST_PER_CLASS} zdjęć na klasę, {config.FAST_IMAGE_SIZE} px, "
                            f"{config.FAST_FE_EPOCHS}+{config.FAST_FT_EPOCHS} epoki")
    train.add_argument("--verbose", action="store_true", help="pokaż komunikaty TensorFlow")
    train.set_defaults(func=cmd_train)

    predict = sub.add_parser("predict", help="sklasyfikuj zdjęcia (jeden obiekt JSON na wiersz)")
    predict.add_argument("model", help="plik .keras zapisany przez `train`")
    predict.add_argument("photos", nargs="+", help="zdjęcia JPEG/PNG")
    predict.add_argument("--verbose", action="store_true", help="pokaż komunikaty TensorFlow")
    predict.set_defaults(func=cmd_predict)

    export = sub.add_parser("export",
                            help="zapisz model dla telefonu (TensorFlow Lite, przetwarzanie wstępne w środku)")
    export.add_argument("model", help="plik .keras zapisany przez `train`")
    export.add_argument("--format", default="tflite", help="format pliku: tflite")
    export.add_argument("--out", required=True, help="plik wynikowy .tflite (obok: NAZWA.labels.txt z nazwami klas)")
    export.add_argument("--verbose", action="store_true", help="pokaż komunikaty TensorFlow")
    export.set_defaults(func=cmd_export)
    solutions = sub.add_parser("solutions", help="zapisz kopie lekcji z rozwiązanymi ćwiczeniami (dla nauczyciela)")
    solutions.add_argument("notebooks", nargs="+", help="notatniki .ipynb")
    solutions.add_argument("--out", required=True, help="folder na rozwiązane kopie")
    solutions.set_defaults(func=cmd_solutions)
    return parser


def _one_line_warnings(message, category, filename, lineno, file=None, line=None):
    print(f"⚠ {message}", file=sys.stderr)


def main(argv=None):
    """Entry point of ``python -m course_utils`` and the ``course-utils`` script."""
    args = build_parser().parse_args(argv)
    warnings.showwarning = _one_line_warnings
    try:
        return args.func(args)
    except CourseError as exc:
        print(f"❌ {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(t("cli.interrupted"), file=sys.stderr)
        return 130
