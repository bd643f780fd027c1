"""Test accuracy of the course's pipeline across split seeds and fine-tuning learning rates.

One test split of tf_flowers holds about 320 photos, so a single accuracy moves
by about 1.5 points (one standard error) with the luck of the split. For each
``--seeds`` value this script splits the photos with that seed, trains the head
on cached features (:func:`course_utils.training.train_head_cached`), then, from
the same head weights, fine-tunes once per ``--ft-lrs`` value
(:func:`course_utils.training.fine_tune_cached`, last ``--unfreeze`` layers).
It prints validation and test accuracy per seed, the mean, minimum and maximum
per phase, and writes JSON (``--out``). This is not a test: the full settings
take about 4 minutes a seed on 2 CPU cores. ::

    .venv/bin/python benchmarks/bench_accuracy.py                       # 5 seeds, full
    .venv/bin/python benchmarks/bench_accuracy.py --seeds 42 --per-class 20 \\
        --image-size 96 --fe-epochs 1 --ft-epochs 1                     # quick check
"""
import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from bench_transfer import DEFAULT_DATA, DEFAULT_WEIGHTS

from course_utils import config

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "accuracy.json"


def summarize(rows, phase):
    """Mean, minimum and maximum test accuracy of one phase over the seeds."""
    tests = [row[phase]["test"] for row in rows]
    return {"mean": float(np.mean(tests)), "min": min(tests), "max": max(tests)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("COURSE_DATA_DIR", DEFAULT_DATA))
    parser.add_argument("--weights", default=os.environ.get("COURSE_WEIGHTS", DEFAULT_WEIGHTS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[config.SEED, 1, 2, 3, 4])
    parser.add_argument("--ft-lrs", type=float, nargs="+", default=[config.FINE_TUNE_LR, 1e-4])
    parser.add_argument("--per-class", type=int, default=0, help="photos per class (0 = all)")
    parser.add_argument("--image-size", type=int, default=config.IMAGE_SIZE)
    parser.add_argument("--fe-epochs", type=int, default=config.FE_EPOCHS)
    parser.add_argument("--ft-epochs", type=int, default=config.FT_EPOCHS)
    parser.add_argument("--unfreeze", type=int, default=config.UNFREEZE_LAST)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    import keras

    from course_utils import training
    from course_utils.data import load_flowers
    from course_utils.experiments import accuracy_interval
    from course_utils.model import build_model

    def accuracy(model, data, split):
        probs = training.predict_cached(model, data, split)
        return float(np.mean(np.argmax(probs, axis=1) == data.split(split)[1]))

    def scores(model, data):
        test, n = accuracy(model, data, "test"), len(data.y_test)
        return {"val": accuracy(model, data, "val"), "test": test,
                "test_interval_95": list(accuracy_interval(test, n))}

    phases = ["fe"] + [f"ft_lr_{lr:g}" for lr in args.ft_lrs]
    rows = []
    for seed in args.seeds:
        start = time.perf_counter()
        data = load_flowers(args.data_dir, image_size=args.image_size,
                            per_class=args.per_class or None, seed=seed)
        keras.utils.set_random_seed(seed)
        model, base = build_model(data.num_classes, args.image_size, args.weights)
        training.train_head_cached(model, data, epochs=args.fe_epochs, verbose=0, base=base,
                                   cache_unfreeze=args.unfreeze, seed=seed)
        head_weights = model.get_weights()
        row = {"seed": seed, "n_test": len(data.y_test), "fe": scores(model, data)}
        for lr, phase in zip(args.ft_lrs, phases[1:]):
            model.set_weights(head_weights)
            keras.utils.set_random_seed(seed)
            training.fine_tune_cached(model, base, data, unfreeze=args.unfreeze, learning_rate=lr,
                                      epochs=args.ft_epochs, verbose=0, seed=seed)
            row[phase] = scores(model, data)
        row["seconds"] = time.perf_counter() - start
        rows.append(row)
        print(f"seed {seed:>4}  " + "  ".join(
            f"{p} val {row[p]['val']:.2%} test {row[p]['test']:.2%}" for p in phases)
            + f"  ({row['seconds']:.0f} s)", flush=True)

    results = {"settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
               "runs": rows, "summary": {p: summarize(rows, p) for p in phases}}
    for phase, s in results["summary"].items():
        print(f"{phase:>14}: test mean {s['mean']:.2%}, min {s['min']:.2%}, max {s['max']:.2%}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"JSON: {args.out}")
    return results


if __name__ == "__main__":
    main()
