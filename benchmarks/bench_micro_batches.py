"""Lesson 09's learning-rate sweep in micro-batches: peak memory and time, beside whole batches.

The sweep (``experiments.lr_sweep``) fine-tunes every layer of the base (BatchNorm frozen) on a
small subset at full settings, once per learning rate. Each configuration (``--micro-batches``, default 1 and 4) runs
in its own fresh Python process (peak memory is per process): the photos at ``--size`` px,
``--train``/``--val`` photos per class as the lesson takes them, lesson 05's head trained on
cached features, then ``lr_sweep(..., micro_batches=k)`` over ``--lrs`` with ``--epochs`` each
(the lesson's full-settings plan). Reported per configuration: the process's peak RSS before and
after the sweep (``getrusage``), the sweep's wall seconds, and each run's last validation loss
(equal across configurations up to float rounding: the same updates). Prints a table and writes JSON (``--out``).
Not a test::

    .venv/bin/python benchmarks/bench_micro_batches.py              # ~5 min on 2 cores
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from course_utils import config

REPO = Path(__file__).resolve().parents[1]
SHARED_PHOTOS, SHARED_WEIGHTS = config.offline_assets(REPO)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--micro-batches", type=int, nargs="+", default=[1, config.SWEEP_MICRO_BATCHES])
    parser.add_argument("--size", type=int, default=config.IMAGE_SIZE)
    parser.add_argument("--train", type=int, default=20, help="training photos per class (lesson 09: 20)")
    parser.add_argument("--val", type=int, default=10, help="validation photos per class (lesson 09: 10)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per learning rate (lesson 09: 3)")
    parser.add_argument("--lrs", type=float, nargs="+", default=list(config.SWEEP_LEARNING_RATES))
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "micro_batches.json"))
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: run one configuration
    return parser.parse_args(argv)


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_one(args):
    """One configuration in this process; prints its JSON line."""
    import keras

    from course_utils import experiments as ex
    from course_utils import training
    from course_utils.data import load_flowers
    from course_utils.model import build_model

    data = load_flowers(per_class=args.train + 2 * args.val + 5, image_size=args.size)
    data = ex.shrink(data, config.SEED, train=args.train, val=args.val)
    keras.utils.set_random_seed(config.SEED)
    model, base = build_model(data.num_classes, args.size)
    training.train_head_cached(model, data, epochs=2, verbose=0, base=base)
    before = peak_mb()
    start = time.perf_counter()
    runs, _ = ex.lr_sweep(model, base, data, args.lrs, epochs=args.epochs, seed=0, micro_batches=args.one)
    seconds = time.perf_counter() - start
    print(json.dumps({"micro_batches": args.one, "train_photos": int(len(data.y_train)),
                      "peak_before_mb": round(before), "peak_after_mb": round(peak_mb()),
                      "seconds": round(seconds, 1), "val_loss": [r.val_loss[-1] for r in runs]}))


def main(argv=None):
    args = parse_args(argv)
    if args.one:
        return run_one(args)
    env = {**os.environ, "COURSE_DATA_DIR": os.environ.get("COURSE_DATA_DIR") or str(SHARED_PHOTOS),
           "COURSE_WEIGHTS": os.environ.get("COURSE_WEIGHTS") or str(SHARED_WEIGHTS),
           "COURSE_FAST": "0", "CI": "", "TF_CPP_MIN_LOG_LEVEL": "2"}
    rows = []
    for k in args.micro_batches:
        cmd = [sys.executable, __file__, "--one", str(k), "--size", str(args.size), "--train", str(args.train),
               "--val", str(args.val), "--epochs", str(args.epochs), "--lrs", *map(str, args.lrs)]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
        r = rows[-1]
        print(f"micro_batches {k}: peak {r['peak_before_mb']} -> {r['peak_after_mb']} MB "
              f"(+{r['peak_after_mb'] - r['peak_before_mb']}), {r['seconds']} s, last val_loss per lr "
              f"{', '.join(f'{v:.6f}' for v in r['val_loss'])}",
              flush=True)
    base = rows[0]
    for r in rows[1:]:
        print(f"micro_batches {r['micro_batches']} vs {base['micro_batches']}: peak rise "
              f"{r['peak_after_mb'] - r['peak_before_mb']} vs {base['peak_after_mb'] - base['peak_before_mb']} MB, "
              f"time x{r['seconds'] / base['seconds']:.2f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"args": vars(args), "load": os.getloadavg(), "runs": rows}, indent=1))


if __name__ == "__main__":
    main()
