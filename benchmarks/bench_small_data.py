"""Lesson 10's targets on few photos: `train` with its defaults on 3 classes x 15 photos, several seeds.

For every seed it picks 15 photos per class (seeded) into a temporary folder, runs
``python -m course_utils train --data-dir FOLDER --out M.keras`` in this process with the
command's defaults (full settings: 224 px; small-data mode: k-fold estimate, final head on
all photos), then measures

* the accuracy of the saved model on ``--new-per-class`` other photos of the same classes
  (never seen in training), beside the k-fold estimate and its 95% interval;
* the wall seconds of the whole ``train`` call (decode, build, features, k-fold, final head,
  save; TensorFlow already imported);
* the TFLite export (``course_utils.export.export_tflite``): whether its predicted class equals
  Keras' on the training and the new photos, and the largest probability difference.

It prints one line per seed, mean / min / max, and writes JSON (``--out``, default
``benchmarks/results/small_data.json``, gitignored). Not a test: minutes of CPU time.

    .venv/bin/python benchmarks/bench_small_data.py                       # 5 seeds, ~10 min on 2 cores
    .venv/bin/python benchmarks/bench_small_data.py --seeds 42 --no-export  # one seed, no TFLite
"""
import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from course_utils import config

REPO = Path(__file__).resolve().parents[1]
SHARED_PHOTOS, SHARED_WEIGHTS = config.offline_assets(REPO)  # the offline assets beside the repo


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir",
                        default=os.environ.get("COURSE_DATA_DIR") or str(SHARED_PHOTOS))
    parser.add_argument("--weights", default=os.environ.get("COURSE_WEIGHTS") or str(SHARED_WEIGHTS))
    parser.add_argument("--classes", nargs="+", default=["daisy", "roses", "tulips"])
    parser.add_argument("--per-class", type=int, default=15)
    parser.add_argument("--new-per-class", type=int, default=45)
    parser.add_argument("--seeds", nargs="+", type=int, default=[config.SEED, 1, 2, 3, 4])
    parser.add_argument("--no-export", action="store_true")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "small_data.json"))
    return parser.parse_args(argv)


def pick(root, classes, per_class, new_per_class, seed):
    """Seeded choice: ``per_class`` training and ``new_per_class`` other photos of each class."""
    import numpy as np

    rng = np.random.default_rng(seed)
    train, new = {}, {}
    for c in classes:
        files = sorted((Path(root) / c).glob("*.jpg"))
        order = rng.permutation(len(files))
        train[c] = [files[i] for i in order[:per_class]]
        new[c] = [files[i] for i in order[per_class:per_class + new_per_class]]
    return train, new


def one_seed(args, seed, work):
    import numpy as np

    from course_utils import cli, export
    from course_utils.data import read_photo
    from course_utils.model import load_trained
    from course_utils.training import run_on_photos

    train, new = pick(args.data_dir, args.classes, args.per_class, args.new_per_class, seed)
    folder = work / f"seed_{seed}" / "photos"
    for c, files in train.items():
        (folder / c).mkdir(parents=True)
        for f in files:
            (folder / c / f.name).symlink_to(f)
    out = work / f"seed_{seed}" / "own.keras"
    log = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(log):
        code = cli.main(["train", "--data-dir", str(folder), "--out", str(out), "--weights", args.weights,
                         "--seed", str(seed)])
    seconds = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"train failed for seed {seed}:\n{log.getvalue()}")
    meta = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    model, names = load_trained(out)
    size = int(model.input_shape[1])
    new_paths = [(names.index(c), p) for c, ps in new.items() for p in ps]
    new_x = np.stack([read_photo(p, size) for _, p in new_paths])
    new_y = np.array([label for label, _ in new_paths])
    probs = run_on_photos(model, new_x)[0]
    row = {"seed": seed, "train_seconds": round(seconds, 1), "kfold_accuracy": meta["kfold_accuracy"],
           "kfold_interval": meta["kfold_interval"], "kfold_k": meta["kfold_k"], "steps": meta["steps"],
           "new_photos": int(len(new_y)), "new_accuracy": float(np.mean(probs.argmax(1) == new_y)),
           "train_log": log.getvalue().splitlines()}
    if not args.no_export:
        train_x = np.stack([read_photo(p, size) for c in args.classes for p in train[c]])
        start = time.perf_counter()
        path, _ = export.export_tflite(model, out.with_suffix(".tflite"), names)
        row["export_seconds"] = round(time.perf_counter() - start, 1)
        result = export.compare(model, path, np.concatenate([train_x, new_x]))
        row.update({"tflite_photos": result["n"], "tflite_agreement": result["agreement"],
                    "tflite_max_abs_diff": result["max_abs_diff"]})
    return row


def summary(rows, key):
    values = [r[key] for r in rows if key in r]
    return {"mean": sum(values) / len(values), "min": min(values), "max": max(values)} if values else None


def main(argv=None):
    args = parse_args(argv)
    for name in ("COURSE_FAST", "CI", "COURSE_PER_CLASS", "COURSE_IMAGE_SIZE"):
        os.environ.pop(name, None)  # the command's own defaults: full settings
    sys.path.insert(0, str(REPO))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["COURSE_HOME"] = str(work / "home")
        from course_utils.backend import import_tensorflow

        import_tensorflow()
        rows = []
        for seed in args.seeds:
            row = one_seed(args, seed, work)
            rows.append(row)
            low, high = row["kfold_interval"]
            line = (f"seed {seed:>3}: k-fold {row['kfold_accuracy']:.1%} ({low:.0%}-{high:.0%}), "
                    f"new photos {row['new_accuracy']:.1%} of {row['new_photos']}, train {row['train_seconds']} s")
            if "tflite_agreement" in row:
                line += (f", TFLite agrees {row['tflite_agreement']:.1%} of {row['tflite_photos']}"
                         f" (max diff {row['tflite_max_abs_diff']:.1e}, export {row['export_seconds']} s)")
            print(line, flush=True)
    result = {"classes": args.classes, "per_class": args.per_class, "cpu_count": os.cpu_count(), "runs": rows,
              **{k: summary(rows, k) for k in ("new_accuracy", "kfold_accuracy", "train_seconds",
                                                "tflite_agreement", "tflite_max_abs_diff")}}
    for key in ("new_accuracy", "kfold_accuracy", "train_seconds", "tflite_agreement"):
        s = result[key]
        if s:
            print(f"{key}: mean {s['mean']:.4g}, min {s['min']:.4g}, max {s['max']:.4g}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")
    print(f"JSON: {out}")
    return result


if __name__ == "__main__":
    main()
