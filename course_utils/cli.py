"""Headless commands: train a flower classifier and classify photos with it.

::

    python -m course_utils train --data-dir DIR --out MODEL.keras [--weights PATH|imagenet]
        [--image-size N] [--per-class N] [--fe-epochs N] [--ft-epochs N] [--unfreeze N]
        [--seed N] [--fast]
    python -m course_utils predict MODEL.keras PHOTO [PHOTO ...]

``train`` runs feature extraction then fine-tuning through the cached paths of
:mod:`course_utils.training`, prints the test accuracy and saves the model with
a JSON sidecar (``MODEL.json``: class names, image size, accuracy).
``predict`` prints one JSON object per photo per line; a photo that cannot be
read gets ``{"path": ..., "error": ...}`` and the exit code is 1 at the end.
Exit codes: 0 ok, 1 some photos failed, 2 bad input (one line on stderr), 130 Ctrl+C.
"""
import argparse
import json
import sys
import time
import warnings
from pathlib import Path

from .errors import CourseError
from .messages import t


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
    source = args.data_dir or settings.data_dir or "tfds"
    if source != "tfds":
        from .data import list_photos

        list_photos(Path(source))  # a missing or empty folder fails before TensorFlow loads

    _import_tensorflow(args.verbose)
    import keras

    from . import training
    from .data import load_flowers
    from .model import build_model, save_trained

    training.setup_accelerator()
    data = load_flowers(source, image_size=image_size, per_class=per_class or 0, seed=seed)
    print(t("cli.data", summary=data.summary()), flush=True)
    keras.utils.set_random_seed(seed)
    with training.strategy_scope():  # a MirroredStrategy when there are several GPUs
        model, base = build_model(data.num_classes, image_size, weights)
    bars = 1 if args.verbose or sys.stderr.isatty() else 0
    meta = {"preprocessing": "mobilenet_v2", "seed": seed, "fe_epochs": fe_epochs,
            "ft_epochs": ft_epochs, "unfreeze": unfreeze, "source": data.source}
    if fe_epochs:
        start = time.perf_counter()
        history = training.train_head_cached(model, data, epochs=fe_epochs, verbose=bars,
                                             base=base, cache_unfreeze=unfreeze, seed=seed)
        acc = history.history.get("val_accuracy", [float("nan")])[-1]
        print(t("cli.fe_done", acc=_percent(acc), epochs=fe_epochs,
                seconds=time.perf_counter() - start), flush=True)
    if ft_epochs and unfreeze:
        start = time.perf_counter()
        history = training.fine_tune_cached(model, base, data, unfreeze=unfreeze,
                                            learning_rate=settings.fine_tune_lr,
                                            epochs=ft_epochs, verbose=bars, seed=seed)
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

def build_parser():
    parser = argparse.ArgumentParser(prog="python -m course_utils",
                                     description="Kurs transfer learning: trening i klasyfikacja kwiatów.")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="wytrenuj klasyfikator (ekstrakcja cech + dostrajanie)")
    train.add_argument("--data-dir", help="folder flower_photos/<klasa>/*.jpg (domyślnie COURSE_DATA_DIR albo TFDS)")
    train.add_argument("--out", required=True, help="plik modelu .keras")
    train.add_argument("--weights", help="plik wag .h5 MobileNetV2 no_top albo 'imagenet'")
    train.add_argument("--image-size", type=int, help="96, 128, 160, 192 albo 224")
    train.add_argument("--per-class", type=int, help="ile zdjęć na klasę (0 = wszystkie)")
    train.add_argument("--fe-epochs", type=_epochs_arg("--fe-epochs"), help="epoki ekstrakcji cech")
    train.add_argument("--ft-epochs", type=_epochs_arg("--ft-epochs"), help="epoki dostrajania")
    train.add_argument("--unfreeze", type=int, help="ile ostatnich warstw bazy odmrozić (domyślnie 20)")
    train.add_argument("--seed", type=int)
    train.add_argument("--fast", action="store_true", help="tryb szybki: 20 zdjęć na klasę, 96 px, 3+2 epoki")
    train.add_argument("--verbose", action="store_true", help="pokaż komunikaty TensorFlow")
    train.set_defaults(func=cmd_train)

    predict = sub.add_parser("predict", help="sklasyfikuj zdjęcia (jeden obiekt JSON na wiersz)")
    predict.add_argument("model", help="plik .keras zapisany przez `train`")
    predict.add_argument("photos", nargs="+", help="zdjęcia JPEG/PNG")
    predict.add_argument("--verbose", action="store_true", help="pokaż komunikaty TensorFlow")
    predict.set_defaults(func=cmd_predict)
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
